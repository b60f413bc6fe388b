#!/usr/bin/env python3
"""admincheck.py: the client side of admin.sh, the admin endpoint's test. Every wait is
bounded. Exit 0 when the check holds, 1 (with one line on stderr) when it does not.

  conns HOST PORT N            N echo connections one after another: connect, 64 bytes each
                               way (compared), close
  bad HOST ADMINPORT           requests the endpoint must refuse, each on its own connection,
                               with the status it must answer: an oversized head (431), POST,
                               HEAD and DELETE (405), bytes that are not HTTP (400), a bad
                               version (505), an unknown path (404); then a good GET still works
  slow HOST ADMINPORT MAX MIN_WAIT  holds MAX connections that send nothing and one that sends
                               a header line a second (slowloris), then asks for /healthz on
                               one more: it must be answered only once the held ones are given
                               up (not before MIN_WAIT s), and the held ones must be closed by
                               the server (EOF or reset), all within 20 s
  hold HOST PORT FILE          connects to the echo port, sends without reading until the
                               server stops taking bytes, writes "held" to FILE and sleeps
                               (it is killed by pid): a connection that owes bytes, so the
                               server drains for its whole grace period
"""

import os
import socket
import sys
import time


def die(msg):
    print("admincheck: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def connect(host, port, timeout=5.0):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def read_all(s, limit=1 << 20):
    """Reads until EOF (or a reset after some bytes); returns the bytes."""
    out = b""
    while len(out) < limit:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        out += b
    return out


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.1") or not parts[1].isdigit():
        return None
    return int(parts[1])


def ask(host, port, raw):
    s = connect(host, port)
    try:
        s.sendall(raw)
        return read_all(s)
    finally:
        s.close()


def cmd_conns(host, port, n):
    for i in range(n):
        s = connect(host, port)
        msg = bytes((i + k) % 256 for k in range(64))
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            b = s.recv(len(msg) - len(got))
            if not b:
                die("connection %d: EOF after %d of 64 echoed bytes" % (i, len(got)))
            got += b
        if got != msg:
            die("connection %d: echoed bytes differ" % i)
        s.close()
    print("conns: %d connections, 64 bytes echoed on each" % n)


def cmd_bad(host, port):
    cases = [
        ("oversized head", b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000
         + b"\r\n\r\n", 431),
        ("POST", b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 405),
        ("HEAD", b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ("DELETE", b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage", 400),
        ("no version", b"GET /metrics\r\n\r\n", 400),
        ("bad version", b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("unknown path", b"GET /admin HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    ]
    for name, raw, want in cases:
        try:
            resp = ask(host, port, raw)
        except (ConnectionResetError, BrokenPipeError) as e:
            die("%s: %s before an answer" % (name, e))
        got = status_of(resp)
        if got != want:
            die("%s: answered %r, want %d" % (name, resp[:60], want))
        print("bad: %s -> %d" % (name, got))
    resp = ask(host, port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    if status_of(resp) != 200 or not resp.endswith(b"\r\n\r\nok\n"):
        die("/healthz after the bad requests answered %r" % resp[:80])
    print("bad: /healthz still answers 200")


def cmd_slow(host, port, nmax, min_wait):
    held = [connect(host, port, timeout=20.0) for _ in range(nmax - 1)]
    slow = connect(host, port, timeout=20.0)
    held.append(slow)
    t0 = time.monotonic()
    slow.sendall(b"GET /metrics HTTP/1.1\r\n")
    probe = connect(host, port, timeout=20.0)
    probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    # Keep the slowloris going until the probe is answered (or 20 s pass).
    probe.setblocking(False)
    resp = b""
    slow_open = True
    while time.monotonic() - t0 < 20:
        if slow_open:
            try:
                slow.sendall(b"X-Slow: 1\r\n")
            except OSError:
                slow_open = False  # the server gave up on it: fine
        try:
            b = probe.recv(4096)
            if not b:
                break
            resp += b
        except BlockingIOError:
            pass
        time.sleep(0.5 if not resp else 0.05)
    waited = time.monotonic() - t0
    if status_of(resp) != 200:
        die("/healthz behind %d held connections answered %r after %.1f s"
            % (nmax, resp[:60], waited))
    if waited < min_wait:
        die("/healthz answered after %.1f s while %d connections were held: the cap of %d "
            "did not hold" % (waited, nmax, nmax))
    for i, s in enumerate(held):
        s.settimeout(max(1.0, 20 - (time.monotonic() - t0)))
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    break
        except ConnectionResetError:
            pass
        except socket.timeout:
            die("held connection %d still open after %.1f s" % (i, time.monotonic() - t0))
        s.close()
    probe.close()
    print("slow: /healthz answered after %.1f s, once the %d held connections were closed"
          % (waited, nmax))


def cmd_hold(host, port, path):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect((host, port))
    s.setblocking(False)
    chunk = b"x" * 65536
    last = time.monotonic()
    sent = 0
    t0 = last
    while time.monotonic() - last < 1.0 and time.monotonic() - t0 < 30:
        try:
            sent += s.send(chunk)
            last = time.monotonic()
        except BlockingIOError:
            time.sleep(0.01)
    with open(path + ".tmp", "w") as f:
        f.write("held %d\n" % sent)
    os.rename(path + ".tmp", path)
    time.sleep(120)


def main():
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "conns":
        cmd_conns(a[1], int(a[2]), int(a[3]))
    elif len(a) == 3 and a[0] == "bad":
        cmd_bad(a[1], int(a[2]))
    elif len(a) == 5 and a[0] == "slow":
        cmd_slow(a[1], int(a[2]), int(a[3]), float(a[4]))
    elif len(a) == 4 and a[0] == "hold":
        cmd_hold(a[1], int(a[2]), a[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
