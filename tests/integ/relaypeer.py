#!/usr/bin/env python3
"""relaypeer.py: the upstreams and clients of the relay tests (relay_edges.sh, relay_fail.sh).
Every wait is bounded; a failed check exits 1 with one line on stderr.

  serve MODE [ARG]   listens on 127.0.0.1:0, prints "port N", serves each connection in a thread:
      banner TEXT    writes TEXT at once (the server speaks first), then echoes until EOF
      closeafter N   writes N pattern bytes, then closes
      rstafter N     writes N pattern bytes, waits 0.3 s, then resets (RST)
      slowsink SECS  reads nothing for SECS, then everything until EOF, checking the pattern;
                     prints "recv N ok" or "recv N bad", then closes
      finnoread N    writes N pattern bytes and shuts its write side, then never reads (a
                     4 KiB receive buffer) for 60 s
      replyafterfin  reads until EOF, then writes "got N\\n" and closes
      upfin N        writes N pattern bytes and shuts its write side, then reads until EOF and
                     prints "recv M" (flushed)
      id NAME        writes "NAME\\n", then echoes until EOF
      proxyecho      reads a PROXY header (v1 line or v2 binary), writes it back as hex and
                     "\\n", then echoes until EOF
      blackhole      never accepts, its backlog kept full: SYNs to it are dropped
      health NAME FILE   a health-checked id server: a connection that sends "PING\\r\\n"
                     within 0.3 s is a check, answered "PONG NAME\\r\\n" while FILE exists
                     and never answered (held until EOF) while it does not; any other
                     connection is a client, served as by id NAME
    With RELAYPEER_PORT set, serve listens on that port instead of a free one.
  client CHECK HOST PORT [ARGS]
      banner TEXT    reads TEXT before sending anything, then one echoed round trip
      closeafter N   reads exactly the N pattern bytes, then EOF
      rstafter N     reads exactly the N pattern bytes, then must see a reset (not EOF)
      send N         sends N pattern bytes and FIN, then reads until EOF (expects nothing)
      linger SECS    reads until EOF without closing, then stays SECS before closing
      sendfin N MAX  reads until EOF, sends N bytes and FIN; the relay must then close within
                     MAX seconds (EOF or reset)
      replyafterfin N  sends N bytes, shuts its write side, reads "got N\\n" then EOF
      upfin N M      reads exactly the N pattern bytes then EOF, then sends M bytes and shuts its
                     write side; the relay must then close within 5 s
      ids COUNT      COUNT connections one after another, each reading its upstream's id line;
                     prints "ids NAME=K ..."
      leastconn      opens 4 connections and keeps them, reading each one's id line; closes
                     those to the second one's upstream, waits 0.5 s, opens 2 more; prints
                     "first N1 N2 N3 N4 then NAME=K ..."
      proxy V        the header the upstream got must be the v1 line or v2 bytes for this
                     client's address and port and the relay's
      sendproxy LINE  sends the v1 LINE (CRLF added) and "hello"; the upstream (proxyecho
                     behind --accept-proxy --send-proxy v1) must have got LINE, then "hello"
      timed MIN MAX  one echoed round trip, which must take between MIN and MAX seconds
      closed MAXMS   connects; the relay must close (EOF or reset) within MAXMS ms; prints
                     "closed after X ms"
"""

import os
import socket
import struct
import sys
import threading
import time


def die(msg):
    print("relaypeer: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


CYCLE = bytes((i * 7 + 3) % 251 for i in range(251))


def pattern(n, off=0):
    """n bytes of the test pattern (a 251-byte cycle) from offset off."""
    off %= 251
    reps = (off + n) // 251 + 1
    return (CYCLE * reps)[off:off + n]


def read_all(s, limit=30.0):
    s.settimeout(limit)
    out = bytearray()
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            die("no EOF within %.0f s (got %d bytes)" % (limit, len(out)))
        if not b:
            return bytes(out)
        out += b


def read_exact(s, n, limit=10.0):
    s.settimeout(limit)
    out = bytearray()
    while len(out) < n:
        try:
            b = s.recv(n - len(out))
        except socket.timeout:
            die("only %d of %d bytes within %.0f s" % (len(out), n, limit))
        if not b:
            die("EOF after %d of %d bytes" % (len(out), n))
        out += b
    return bytes(out)


def echo_until_eof(c):
    while True:
        b = c.recv(65536)
        if not b:
            return
        c.sendall(b)


def handle(c, mode, arg):
    try:
        if mode == "banner":
            c.sendall(arg.encode())
            echo_until_eof(c)
        elif mode == "closeafter":
            c.sendall(pattern(int(arg)))
        elif mode == "rstafter":
            c.sendall(pattern(int(arg)))
            time.sleep(0.3)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "slowsink":
            time.sleep(float(arg))
            n, ok = 0, True
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                if ok and b != pattern(len(b), n):
                    ok = False
                n += len(b)
            print("recv %d %s" % (n, "ok" if ok else "bad"), flush=True)
        elif mode == "finnoread":
            c.sendall(pattern(int(arg)))
            c.shutdown(socket.SHUT_WR)
            time.sleep(60)
        elif mode == "replyafterfin":
            n = 0
            while True:
                b = c.recv(65536)
                if not b:
                    break
                n += len(b)
            c.sendall(b"got %d\n" % n)
        elif mode == "upfin":
            c.sendall(pattern(int(arg)))
            c.shutdown(socket.SHUT_WR)
            n = 0
            while True:
                b = c.recv(65536)
                if not b:
                    break
                n += len(b)
            print("recv %d" % n, flush=True)
        elif mode == "proxyecho":
            hdr = read_exact(c, 16)
            if hdr.startswith(b"PROXY "):
                while not hdr.endswith(b"\r\n"):
                    hdr += read_exact(c, 1)
            else:
                hdr += read_exact(c, int.from_bytes(hdr[14:16], "big"))
            c.sendall(hdr.hex().encode() + b"\n")
            echo_until_eof(c)
        elif mode == "id":
            c.sendall(arg.encode() + b"\n")
            echo_until_eof(c)
        elif mode == "health":
            name, flag = arg
            c.settimeout(0.3)
            try:
                first = c.recv(64)
            except socket.timeout:
                first = b""
            c.settimeout(None)
            if first.startswith(b"PING\r\n"):
                if os.path.exists(flag):
                    c.sendall(b"PONG " + name.encode() + b"\r\n")
                while c.recv(64):
                    pass
            else:
                c.sendall(name.encode() + b"\n" + first)
                echo_until_eof(c)
    except OSError:
        pass
    finally:
        c.close()


def serve(mode, arg):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(os.environ.get("RELAYPEER_PORT", "0"))))
    if mode == "blackhole":
        ls.listen(0)
        held = []
        for _ in range(4):  # fill the accept queue: later SYNs are dropped
            h = socket.socket()
            h.setblocking(False)
            try:
                h.connect(ls.getsockname())
            except BlockingIOError:
                pass
            held.append(h)
        time.sleep(0.5)
        print("port %d" % ls.getsockname()[1], flush=True)
        time.sleep(3600)
    if mode == "finnoread":
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.listen(128)
    print("port %d" % ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c, mode, arg), daemon=True).start()


def connect(host, port):
    return socket.create_connection((host, port), timeout=5)


def read_line(s, limit=5.0):
    s.settimeout(limit)
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            die("EOF before a whole line (%r)" % line)
        line += b
    return line


def client(check, host, port, args):
    if check == "proxy":
        s = connect(host, port)
        cport = s.getsockname()[1]
        got = bytes.fromhex(read_line(s).strip().decode())
        if args[0] == "v1":
            want = b"PROXY TCP4 127.0.0.1 %s %d %d\r\n" % (host.encode(), cport, port)
        else:
            want = bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
                          0x21, 0x11, 0x00, 12])
            want += socket.inet_aton("127.0.0.1") + socket.inet_aton(host)
            want += cport.to_bytes(2, "big") + port.to_bytes(2, "big")
        if got != want:
            die("upstream got header %r, expected %r" % (got, want))
        s.sendall(b"ping")
        if read_exact(s, 4) != b"ping":
            die("no echo after the header")
    elif check == "sendproxy":
        line = args[0].encode() + b"\r\n"
        s = connect(host, port)
        s.sendall(line + b"hello")
        got = bytes.fromhex(read_line(s).strip().decode())
        if got != line:
            die("upstream got header %r, expected %r" % (got, line))
        if read_exact(s, 5) != b"hello":
            die("the bytes after the client's header did not follow")
    elif check == "timed":
        t0 = time.monotonic()
        s = connect(host, port)
        s.sendall(b"ping")
        if read_exact(s, 4) != b"ping":
            die("no echo")
        secs = time.monotonic() - t0
        print("round trip %.3f s" % secs)
        if not float(args[0]) <= secs <= float(args[1]):
            die("round trip took %.3f s, expected %s..%s" % (secs, args[0], args[1]))
    elif check == "banner":
        text = args[0].encode()
        s = connect(host, port)
        got = read_exact(s, len(text))
        if got != text:
            die("banner %r, expected %r" % (got, text))
        s.sendall(b"ping")
        if read_exact(s, 4) != b"ping":
            die("no echo after the banner")
        s.close()
    elif check == "closeafter":
        n = int(args[0])
        s = connect(host, port)
        got = read_all(s)
        if got != pattern(n):
            die("got %d bytes, expected the %d pattern bytes" % (len(got), n))
    elif check == "rstafter":
        n = int(args[0])
        s = connect(host, port)
        got = read_exact(s, n)
        if got != pattern(n):
            die("the %d bytes before the reset differ" % n)
        s.settimeout(5)
        try:
            b = s.recv(1)
            die("EOF or data (%r) where a reset was expected" % b)
        except ConnectionResetError:
            pass
    elif check == "sendfin":
        s = connect(host, port)
        read_all(s)
        s.sendall(pattern(int(args[0])))
        s.shutdown(socket.SHUT_WR)
        try:
            read_all(s, float(args[1]))
        except ConnectionResetError:
            pass
    elif check == "send":
        n = int(args[0])
        s = connect(host, port)
        s.settimeout(120)
        off = 0
        while off < n:
            k = min(1 << 20, n - off)
            s.sendall(pattern(k, off))
            off += k
        s.shutdown(socket.SHUT_WR)
        rest = read_all(s, 60)
        if rest:
            die("%d unexpected bytes back" % len(rest))
    elif check == "linger":
        s = connect(host, port)
        read_all(s)
        time.sleep(float(args[0]))
        s.close()
    elif check == "replyafterfin":
        n = int(args[0])
        s = connect(host, port)
        s.sendall(pattern(n))
        s.shutdown(socket.SHUT_WR)
        got = read_all(s)
        if got != b"got %d\n" % n:
            die("reply after FIN %r, expected %r" % (got[:64], b"got %d\n" % n))
    elif check == "upfin":
        n, m = int(args[0]), int(args[1])
        s = connect(host, port)
        got = read_all(s)
        if got != pattern(n):
            die("got %d bytes before EOF, expected the %d pattern bytes" % (len(got), n))
        s.sendall(pattern(m))  # the other direction still flows after the upstream's FIN
        s.shutdown(socket.SHUT_WR)
        rest = read_all(s, 5.0)
        if rest:
            die("%d bytes after EOF" % len(rest))
    elif check == "ids":
        counts = {}
        for _ in range(int(args[0])):
            s = connect(host, port)
            s.settimeout(5)
            line = b""
            while not line.endswith(b"\n"):
                b = s.recv(64)
                if not b:
                    die("EOF before the id line")
                line += b
            name = line.strip().decode()
            counts[name] = counts.get(name, 0) + 1
            s.close()
        print("ids " + " ".join("%s=%d" % kv for kv in sorted(counts.items())))
    elif check == "leastconn":
        held = [connect(host, port) for _ in range(4)]
        names = [read_line(h).strip().decode() for h in held]
        for h, n in zip(held, names):
            if n == names[1]:
                h.close()
        time.sleep(0.5)
        more = [connect(host, port) for _ in range(2)]
        counts = {}
        for h in more:
            n = read_line(h).strip().decode()
            counts[n] = counts.get(n, 0) + 1
        print("first " + " ".join(names) + " then " +
              " ".join("%s=%d" % kv for kv in sorted(counts.items())))
    elif check == "closed":
        limit = float(args[0]) / 1000.0
        t0 = time.monotonic()
        s = connect(host, port)
        s.settimeout(limit + 2)
        try:
            b = s.recv(1)
            if b:
                die("got data, expected a close")
        except ConnectionResetError:
            pass
        except socket.timeout:
            die("not closed within %.0f ms" % ((limit + 2) * 1000))
        ms = (time.monotonic() - t0) * 1000
        print("closed after %.1f ms" % ms)
        if ms > limit * 1000:
            die("closed after %.1f ms, limit %.0f ms" % (ms, limit * 1000))
    else:
        die("unknown check " + check)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        arg = sys.argv[3:] if sys.argv[2] == "health" else (
            sys.argv[3] if len(sys.argv) > 3 else "")
        serve(sys.argv[2], arg)
    elif len(sys.argv) >= 5 and sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
