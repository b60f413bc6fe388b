#!/usr/bin/env python3
"""The drain on SIGTERM, timed from the signal this script sends itself:

    drainclient.py HOST PORT PID DRAIN_SECONDS

Before the signal, connection A echoes. Then SIGTERM to PID at t0. Until t0 + 0.9 x DRAIN, new
connections are made every 100 ms (one started later than 0.95 x DRAIN on a slow machine is not
made) and each must be accepted and echo (the server still accepts
while it drains), and A must keep echoing. After t0 + DRAIN, new connections must be refused
(the listeners closed) within 2 s, and A must end with a clean EOF (FIN, not RST) once the
listeners are closed, having echoed every byte. Prints what it saw; exits 0 or 1."""

import os
import signal
import socket
import sys
import time


def echo(sock, payload):
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        d = sock.recv(65536)
        if not d:
            raise EOFError("EOF after %d of %d echoed bytes" % (len(got), len(payload)))
        got += d
    if got != payload:
        raise ValueError("echo differs")


def main():
    host, port, pid, drain = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    a = socket.create_connection((host, port), timeout=5)
    echo(a, b"before the signal\n")
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    served = 0
    last = 0.0
    for i in range(1, int(drain * 10)):
        target = t0 + 0.1 * i
        time.sleep(max(0.0, target - time.monotonic()))
        start = time.monotonic() - t0
        if start >= 0.95 * drain:
            break  # this machine is slow: too late to expect an accept
        try:
            b = socket.create_connection((host, port), timeout=2)
            echo(b, b"during the drain %d\n" % i)
            b.close()
            served += 1
            last = start
        except Exception as e:  # noqa: BLE001 - report whatever went wrong
            print("FAIL: connection %d, made %.2f s after SIGTERM: %r" % (i, start, e))
            return 1
        echo(a, b"A during the drain %d\n" % i)
    print("drainclient: %d new connections served during the %.1f s drain, the last made "
          "%.2f s after SIGTERM; A echoing" % (served, drain, last))
    if served < 3 or last < 0.7 * drain:
        print("FAIL: too few connections tried during the drain to tell (machine too slow?)")
        return 1
    time.sleep(max(0.0, t0 + drain - time.monotonic()))
    refused_at = None
    while time.monotonic() < t0 + drain + 2:
        try:
            c = socket.create_connection((host, port), timeout=1)
            c.close()  # accepted just before the close, or still listening: try again
        except ConnectionRefusedError:
            refused_at = time.monotonic() - t0
            break
        except OSError:
            pass
        time.sleep(0.05)
    if refused_at is None:
        print("FAIL: new connections still accepted %.1f s after SIGTERM" % (drain + 2))
        return 1
    print("drainclient: new connections refused %.2f s after SIGTERM" % refused_at)
    a.settimeout(5)
    try:
        d = a.recv(100)
    except ConnectionResetError:
        print("FAIL: A was reset, not closed")
        return 1
    if d:
        print("FAIL: A got unexpected bytes %r" % d)
        return 1
    print("drainclient: A closed cleanly %.2f s after SIGTERM" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
