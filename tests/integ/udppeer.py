#!/usr/bin/env python3
"""udppeer.py: the UDP upstreams and clients of relay_udp.sh. Every wait is bounded; a failed
check exits 1 with one line on stderr. Loopback only; clients over IPv6 when HOST is (::1).

  serve MODE [ARG]   binds 127.0.0.1:0, prints "port N", answers each datagram:
      port           with "port=P", P the sender's source port
      times N        with N copies of the datagram
      id NAME        with NAME
  client CHECK HOST PORT [ARGS]
      echo SOCKS N   SOCKS sockets (one session each) send N datagrams each, sizes 0..1400 and
                     contents from a fixed seed, 16 outstanding per socket; every answer must be
                     the datagram it answers, in order; prints "echo sent=S received=R bytes=B"
      count N WAIT   one socket sends N datagrams of "q<i>", then counts answers for WAIT s;
                     prints "count replies=R"
      ports N [GAP]  one socket, N round trips one after another (GAP s apart) to a "port"
                     upstream; prints "ports P1 P2 ..." (the relay's upstream source port of each)
      ids N          N sockets, one round trip each, to "id" upstreams; prints "ids A=K B=K"
      zero           one socket: a 0-byte datagram must come back as a 0-byte datagram
      open N         N sockets each send one datagram and get its answer, then stay open
                     until stdin closes or 60 s; prints "open N" once all answered
      silent WAIT    one socket sends one datagram; no answer may come within WAIT s
"""
import random
import select
import socket
import sys
import time


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def serve(mode, arg):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print("port %d" % s.getsockname()[1], flush=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], 1.0)
        if not r:
            continue
        data, addr = s.recvfrom(70000)
        if mode == "port":
            s.sendto(b"port=%d" % addr[1], addr)
        elif mode == "times":
            for _ in range(int(arg)):
                s.sendto(data, addr)
        elif mode == "id":
            s.sendto(arg.encode(), addr)


FAMILY = socket.AF_INET  # the client's: AF_INET6 when HOST is an IPv6 address


def sock(timeout=3.0):
    s = socket.socket(FAMILY, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    return s


def rtt(s, dst, payload):
    s.sendto(payload, dst)
    try:
        data, _ = s.recvfrom(70000)
    except socket.timeout:
        die("no answer to a %d-byte datagram within %.1f s" % (len(payload), s.gettimeout()))
    return data


def check_echo(dst, nsocks, n):
    rng = random.Random(12)
    socks = [sock() for _ in range(nsocks)]
    want = [[] for _ in socks]
    sent = [0] * nsocks
    recv = 0
    nbytes = 0
    total = nsocks * n
    deadline = time.monotonic() + 60
    while recv < total:
        if time.monotonic() > deadline:
            die("echo: %d of %d answers within 60 s" % (recv, total))
        for i, s in enumerate(socks):
            while sent[i] < n and len(want[i]) < 16:
                size = rng.choice([0, 1, rng.randrange(0, 1401)])
                data = bytes(rng.getrandbits(8) for _ in range(size))
                s.sendto(data, dst)
                want[i].append(data)
                sent[i] += 1
                nbytes += size
        r, _, _ = select.select(socks, [], [], 3.0)
        if not r:
            die("echo: no answer within 3 s (%d of %d so far)" % (recv, total))
        for s in r:
            i = socks.index(s)
            data, _ = s.recvfrom(70000)
            if not want[i] or data != want[i][0]:
                die("echo: socket %d got a wrong answer (%d bytes)" % (i, len(data)))
            want[i].pop(0)
            recv += 1
    print("echo sent=%d received=%d bytes=%d" % (sum(sent), recv, nbytes))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
        return
    if len(sys.argv) < 5 or sys.argv[1] != "client":
        die(__doc__)
    check, dst, args = sys.argv[2], (sys.argv[3], int(sys.argv[4])), sys.argv[5:]
    global FAMILY
    if ":" in dst[0]:
        FAMILY = socket.AF_INET6
    if check == "echo":
        check_echo(dst, int(args[0]), int(args[1]))
    elif check == "count":
        s = sock()
        for i in range(int(args[0])):
            s.sendto(b"q%d" % i, dst)
        got = 0
        end = time.monotonic() + float(args[1])
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if r:
                s.recvfrom(70000)
                got += 1
        print("count replies=%d" % got)
    elif check == "ports":
        s = sock()
        gap = float(args[1]) if len(args) > 1 else 0.0
        ports = []
        for i in range(int(args[0])):
            if i and gap:
                time.sleep(gap)
            ports.append(rtt(s, dst, b"p%d" % i).decode())
        print("ports " + " ".join(p.split("=")[1] for p in ports))
    elif check == "ids":
        seen = {}
        for i in range(int(args[0])):
            s = sock()
            name = rtt(s, dst, b"i%d" % i).decode()
            seen[name] = seen.get(name, 0) + 1
            s.close()
        print("ids " + " ".join("%s=%d" % kv for kv in sorted(seen.items())))
    elif check == "zero":
        s = sock()
        data = rtt(s, dst, b"")
        if data != b"":
            die("zero: a %d-byte answer to a 0-byte datagram" % len(data))
        print("zero ok")
    elif check == "open":
        socks = [sock() for _ in range(int(args[0]))]
        for i, s in enumerate(socks):
            rtt(s, dst, b"o%d" % i)
        print("open %d" % len(socks), flush=True)
        select.select([sys.stdin], [], [], 60)
    elif check == "silent":
        s = sock(float(args[0]))
        s.sendto(b"anyone?", dst)
        try:
            data, _ = s.recvfrom(70000)
            die("silent: an answer came (%d bytes)" % len(data))
        except socket.timeout:
            pass
        print("silent ok")
    else:
        die("unknown check " + check)


if __name__ == "__main__":
    main()
