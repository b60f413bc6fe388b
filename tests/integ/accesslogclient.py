#!/usr/bin/env python3
"""Connections whose access-log lines are known in advance (tests/integ/access_log.sh).

    accesslogclient.py conns HOST PORT COUNT EXPECT   echo connections ending in turn with the
        client's FIN, the client's RST and the server's idle timeout (--idle-timeout 1s)
    accesslogclient.py http HOST PORT EXPECT          a keep-alive exchange closed by the client,
        one with 'Connection: close', closed by the server, and a body over --max-body (413)
    accesslogclient.py stopping HOST PORT PID COUNT EXPECT   COUNT open connections, then
        SIGTERM to PID: each must end with the server's FIN
    accesslogclient.py noread HOST PORT EXPECT        sends without reading until the server's
        send timeout (--idle-timeout) resets it
    accesslogclient.py flood HOST PORT COUNT          COUNT short connections, 64 at a time
    accesslogclient.py limit HOST PORT EXPECT         under --max-conns-per-ip 1: one connection
        held open while a second is refused (reset at once), then the first closed
    accesslogclient.py check LINES EXPECT             LINES (tab-separated, from jq) must hold
        exactly one line per expected connection, with its bytes, reason and error

Each expectation is a line 'PORT BYTES_IN BYTES_OUT REASON ERRORS SERVICE', ERRORS a
comma-separated list of the accepted error names ('-': none), a byte count '*' for any. Exits 0, or 1 saying why."""

import os
import select
import signal
import socket
import struct
import sys
import time


def port_of(sock):
    return sock.getsockname()[1]


def read_exactly(sock, n):
    got = b""
    while len(got) < n:
        d = sock.recv(65536)
        if not d:
            raise EOFError("EOF after %d of %d bytes" % (len(got), n))
        got += d
    return got


def echo(sock, payload):
    sock.sendall(payload)
    if read_exactly(sock, len(payload)) != payload:
        raise ValueError("echo differs")


def wait_eof(sock, timeout):
    sock.settimeout(timeout)
    if sock.recv(1) != b"":
        raise ValueError("bytes where EOF was expected")


def conns(host, port, count, out):
    idle = []
    with open(out, "a") as f:
        for i in range(count):
            n = 1 + i * 37
            s = socket.create_connection((host, port), timeout=5)
            echo(s, bytes((i + k) & 0xFF for k in range(n)))
            kind = i % 3
            if kind == 0:  # the client's FIN, then the server closes after it
                f.write("%d %d %d peer_closed - echo\n" % (port_of(s), n, n))
                s.shutdown(socket.SHUT_WR)
                wait_eof(s, 5)
                s.close()
            elif kind == 1:  # the client's RST
                f.write("%d %d %d reset ECONNRESET,EPIPE echo\n" % (port_of(s), n, n))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            else:  # silent: the server's idle timeout closes it
                f.write("%d %d %d idle_timeout - echo\n" % (port_of(s), n, n))
                idle.append(s)
    for s in idle:
        wait_eof(s, 5)
        s.close()
    print("accesslogclient: %d connections" % count)


def noread(host, port, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, port))
    s.setblocking(False)
    chunk = b"x" * 65536
    sent = 0
    last = time.monotonic()
    # Send without reading until nothing more is taken for 0.3 s: the server stopped reading.
    while time.monotonic() - last < 0.3:
        try:
            sent += s.send(chunk)
            last = time.monotonic()
        except BlockingIOError:
            select.select([], [s], [], 0.05)
        if sent > (512 << 20):
            raise ValueError("the server read 512 MiB we did not read: no backpressure?")
    p = select.poll()
    p.register(s, select.POLLERR | select.POLLHUP | select.POLLRDHUP)
    if not p.poll(5000):
        raise ValueError("still open 5 s after the server stopped reading")
    with open(out, "a") as f:  # the bytes depend on the buffers: any
        f.write("%d * * send_timeout - echo\n" % port_of(s))
    s.close()
    print("accesslogclient: sent %d bytes without reading, then the server reset" % sent)


def http_exchange(s, req):
    s.sendall(req)
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            raise EOFError("EOF in the response head")
        head += d
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return len(head) + len(read_exactly(s, length))


def http(host, port, out):
    req = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    with open(out, "a") as f:
        s = socket.create_connection((host, port), timeout=5)
        got = http_exchange(s, req) + http_exchange(s, req)
        f.write("%d %d %d peer_closed - http\n" % (port_of(s), 2 * len(req), got))
        s.shutdown(socket.SHUT_WR)
        wait_eof(s, 5)
        s.close()
        close_req = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        s = socket.create_connection((host, port), timeout=5)
        got = http_exchange(s, close_req)
        f.write("%d %d %d server_closed - http\n" % (port_of(s), len(close_req), got))
        wait_eof(s, 5)
        s.close()
        big = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n"
        s = socket.create_connection((host, port), timeout=5)
        got = http_exchange(s, big)  # 413, then the server's lingering close
        f.write("%d %d %d limit - http\n" % (port_of(s), len(big), got))
        wait_eof(s, 5)
        s.close()
    print("accesslogclient: 3 http connections")


def stopping(host, port, pid, count, out):
    socks = []
    with open(out, "a") as f:
        for i in range(count):
            s = socket.create_connection((host, port), timeout=5)
            echo(s, b"x" * (i + 1))
            f.write("%d %d %d server_stopping - echo\n" % (port_of(s), i + 1, i + 1))
            socks.append(s)
    os.kill(pid, signal.SIGTERM)
    for s in socks:
        wait_eof(s, 5)
        s.close()
    print("accesslogclient: %d connections closed by the stop" % count)


def flood(host, port, count):
    made = 0
    while made < count:
        batch = []
        for _ in range(min(64, count - made)):
            batch.append(socket.create_connection((host, port), timeout=5))
        for s in batch:
            s.close()
        made += len(batch)
    print("accesslogclient: %d connections" % made)


def limit(host, port, out):
    with open(out, "a") as f:
        a = socket.create_connection((host, port), timeout=5)
        echo(a, b"first")
        b = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        b.settimeout(5)
        b.bind((host, 0))  # its port is known even if the reset beats connect's return
        try:
            b.connect((host, port))
            if b.recv(1) != b"":
                raise ValueError("the second connection was served")
        except ConnectionResetError:
            pass
        f.write("%d 0 0 limit - echo\n" % port_of(b))
        b.close()
        f.write("%d 5 5 peer_closed - echo\n" % port_of(a))
        a.shutdown(socket.SHUT_WR)
        wait_eof(a, 5)
        a.close()
    print("accesslogclient: one connection served, one refused")


def check(lines_path, expect_path):
    want = {}
    with open(expect_path) as f:
        for line in f:
            port, bin_, bout, reason, errors, service = line.split()
            want[port] = (bin_, bout, reason, errors.split(","), service)
    seen = set()
    bad = 0
    with open(lines_path) as f:
        for line in f:
            client, bin_, bout, reason, error, service, proto = line.rstrip("\n").split("\t")
            port = client.rsplit(":", 1)[1]
            if port not in want:
                print("unexpected line for %s: %s" % (client, line.strip()))
                bad += 1
                continue
            if port in seen:
                print("second line for %s" % client)
                bad += 1
            seen.add(port)
            w = want[port]
            err_ok = error in w[3] if w[3] != ["-"] else error == ""
            bytes_ok = w[0] in ("*", bin_) and w[1] in ("*", bout)
            if (reason, service, proto) != (w[2], w[4], "tcp") or not bytes_ok or not err_ok:
                print("%s: got in=%s out=%s reason=%s error=%s service=%s proto=%s, want %s"
                      % (client, bin_, bout, reason, error, service, proto, w))
                bad += 1
    for port in want:
        if port not in seen:
            print("no line for client port %s (want %s)" % (port, want[port]))
            bad += 1
    print("accesslogclient: %d lines checked, %d expected, %d wrong" % (len(seen), len(want), bad))
    return 1 if bad else 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "conns":
        conns(args[0], int(args[1]), int(args[2]), args[3])
    elif cmd == "http":
        http(args[0], int(args[1]), args[2])
    elif cmd == "stopping":
        stopping(args[0], int(args[1]), int(args[2]), int(args[3]), args[4])
    elif cmd == "noread":
        noread(args[0], int(args[1]), args[2])
    elif cmd == "limit":
        limit(args[0], int(args[1]), args[2])
    elif cmd == "flood":
        flood(args[0], int(args[1]), int(args[2]))
    elif cmd == "check":
        return check(args[0], args[1])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
