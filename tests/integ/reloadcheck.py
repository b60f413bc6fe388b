#!/usr/bin/env python3
"""reloadcheck.py: clients that must see nothing of the reloads happening under them, run by
reload.sh. Each mode runs for SECS seconds (every wait bounded) and prints one line of counts,
`key=value ...`; reload.sh adds them up and judges.

  short HOST PORT SECS    connect, 64 random bytes echoed and compared, close; again and again.
                          Counts conns, refused, reset, timeout, wrong (bytes differ), lost
                          (EOF before the echo), slow (connect took 1 s or more: a dropped SYN
                          is retransmitted after 1 s) and connect_max_ms
  stream HOST PORT SECS   sessions of 1.5 s on one connection each: a reproducible
                          pseudo-random byte stream sent in 1-4 KiB writes, its echo compared
                          byte for byte, then a half-close and every byte back before EOF.
                          Counts sessions, bytes, refused, reset, timeout, wrong, lost, slow
  httpkeep HOST PORT PIDFILE  an HTTP/1.1 keep-alive connection answered once, then SIGHUP
                          to the pid in PIDFILE; once PIDFILE names the new process, the same
                          connection's next request is answered (by the old process) with
                          Connection: close and then EOF, and a new connection is answered.
                          Exit 1 with one line when not
  udp HOST PORT SECS      one datagram at a time (flow, sequence number, random payload), its
                          echo awaited 1 s. Counts sent, answered, lost (no answer in 1 s),
                          wrong (an answer that is not the datagram sent)
"""

import os
import random
import socket
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Counts(dict):
    def add(self, k, n=1):
        self[k] = self.get(k, 0) + n

    def line(self):
        return " ".join("%s=%d" % kv for kv in sorted(self.items()))


def classify(c, e):
    if isinstance(e, ConnectionRefusedError):
        c.add("refused")
    elif isinstance(e, (ConnectionResetError, BrokenPipeError)):
        c.add("reset")
    elif isinstance(e, socket.timeout):
        c.add("timeout")
    else:
        c.add("other")
        print("reloadcheck: %r" % (e,), file=sys.stderr)


def connect(c, host, port):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(5)
    t0 = time.monotonic()
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    ms = (time.monotonic() - t0) * 1000
    if ms >= 1000:
        c.add("slow")
    c["connect_max_ms"] = max(c.get("connect_max_ms", 0), int(ms))
    return s


def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            break
        out += b
    return bytes(out)


def short(host, port, secs):
    c = Counts(conns=0, refused=0, reset=0, timeout=0, wrong=0, lost=0, slow=0)
    end = time.monotonic() + secs
    rnd = random.Random(os.getpid())
    while time.monotonic() < end:
        msg = rnd.randbytes(64)
        try:
            s = connect(c, host, port)
        except OSError as e:
            classify(c, e)
            continue
        try:
            s.sendall(msg)
            got = recv_exact(s, 64)
            if len(got) < 64:
                c.add("lost")
            elif got != msg:
                c.add("wrong")
            else:
                c.add("conns")
        except OSError as e:
            classify(c, e)
        finally:
            s.close()
    return c


def stream(host, port, secs):
    c = Counts(sessions=0, bytes=0, refused=0, reset=0, timeout=0, wrong=0, lost=0, slow=0)
    end = time.monotonic() + secs
    seed = os.getpid()
    while time.monotonic() < end:
        seed += 1
        tx = random.Random(seed)
        try:
            s = connect(c, host, port)
        except OSError as e:
            classify(c, e)
            continue
        ok = True
        try:
            stop = time.monotonic() + 1.5
            sent = 0
            while time.monotonic() < stop:
                chunk = tx.randbytes(tx.randint(1024, 4096))
                s.sendall(chunk)
                sent += len(chunk)
                got = recv_exact(s, len(chunk))
                if got != chunk:
                    ok = False
                    c.add("wrong" if len(got) == len(chunk) else "lost")
                    break
            if ok:
                s.shutdown(socket.SHUT_WR)
                if s.recv(1) != b"":
                    c.add("wrong")
                else:
                    c.add("sessions")
                    c.add("bytes", sent)
        except OSError as e:
            classify(c, e)
        finally:
            s.close()
    return c


def udp(host, port, secs):
    c = Counts(sent=0, answered=0, lost=0, wrong=0)
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.connect((host, port))
    end = time.monotonic() + secs
    rnd = random.Random(os.getpid())
    flow = os.getpid() & 0xFFFF
    seq = 0
    while time.monotonic() < end:
        seq += 1
        msg = b"%05d %08d " % (flow, seq) + rnd.randbytes(48)
        s.send(msg)
        c.add("sent")
        deadline = time.monotonic() + 1.0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                c.add("lost")
                break
            s.settimeout(left)
            try:
                got = s.recv(2048)
            except socket.timeout:
                continue
            except ConnectionRefusedError:
                c.add("refused")
                break
            if got == msg:
                c.add("answered")
                break
            if got[:15] != msg[:15]:
                continue  # a late answer to an earlier datagram (counted lost then)
            c.add("wrong")
            break
        time.sleep(0.002)
    return c


def http_get(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            return None, b""
        buf += b
    head, _, body = buf.partition(b"\r\n\r\n")
    n = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")][0][15:])
    while len(body) < n:
        b = s.recv(4096)
        if not b:
            return None, b""
        body += b
    return head, body[n:]


def httpkeep(host, port, pidfile):
    def die(msg):
        print("reloadcheck: FAIL: httpkeep: " + msg, file=sys.stderr)
        sys.exit(1)

    old = int(open(pidfile).read())
    s = socket.create_connection((host, port), timeout=5)
    head, _ = http_get(s)
    if head is None or b"Connection: close" in head:
        die("the first answer is missing or closes the connection")
    os.kill(old, 1)
    end = time.monotonic() + 10
    while int(open(pidfile).read() or 0) == old:
        if time.monotonic() > end:
            die("the pid file still names %d" % old)
        time.sleep(0.05)
    time.sleep(0.2)
    head, _ = http_get(s)
    if head is None:
        die("the old process did not answer the keep-alive connection's request")
    if b"Connection: close" not in head:
        die("the old process's answer while draining does not say Connection: close")
    if s.recv(1) != b"":
        die("the old process did not close the connection after its answer")
    s2 = socket.create_connection((host, port), timeout=5)
    if http_get(s2)[0] is None:
        die("a new connection was not answered")
    print("httpkeep: ok")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "httpkeep":
        httpkeep(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    if len(sys.argv) != 5 or sys.argv[1] not in ("short", "stream", "udp"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mode, host, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    c = {"short": short, "stream": stream, "udp": udp}[mode](host, port, secs)
    print("%s %s" % (mode, c.line()))


if __name__ == "__main__":
    main()
