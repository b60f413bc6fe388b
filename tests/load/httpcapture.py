#!/usr/bin/env python3
"""A tiny HTTP/1.1 server for ringload's tests that keeps the requests it receives, byte for byte.

    httpcapture.py OUT [--lifetime SECONDS]

Listens on 127.0.0.1 (port chosen by the kernel, printed as "httpcapture: port N"), reads each
request (head up to the blank line, then Content-Length bytes of body), writes the first one to
OUT, and answers "200 OK" with a 2-byte body (keep-alive, unless the request says
Connection: close). After every request OUT.count holds "requests N differing M": M counts
requests whose bytes differ from the first one's (the first differing one is kept in
OUT.differing). Exits after --lifetime seconds (default 60) so a failed test leaves nothing.
"""

import os
import socketserver
import sys
import threading

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
ANSWER_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class Capture:
    def __init__(self, out):
        self.out = out
        self.lock = threading.Lock()
        self.first = None
        self.requests = 0
        self.differing = 0

    def add(self, req):
        with self.lock:
            self.requests += 1
            if self.first is None:
                self.first = req
                write_file(self.out, req)
            elif req != self.first:
                self.differing += 1
                if self.differing == 1:
                    write_file(self.out + ".differing", req)
            write_file(self.out + ".count",
                       b"requests %d differing %d\n" % (self.requests, self.differing))


def write_file(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
            end = buf.index(b"\r\n\r\n") + 4
            head = buf[:end]
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            while len(buf) < end + length:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    return
                buf += chunk
            self.server.capture.add(buf[:end + length])
            buf = buf[end + length:]
            sock.sendall(ANSWER_CLOSE if close else ANSWER)
            if close:
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    args = sys.argv[1:]
    lifetime = 60.0
    if "--lifetime" in args:
        i = args.index("--lifetime")
        lifetime = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.capture = Capture(args[0])
    timer = threading.Timer(lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    print("httpcapture: port %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
