#!/usr/bin/env python3
"""A stand-in for systemd's notify socket: receives datagrams on NAME (a path, or @abstract) and
appends one line per datagram to OUT, "MONOTONIC_SECONDS VAR=value|VAR=value", flushed at once.

    notifyrecv.py NAME OUT SECONDS

Exits after SECONDS (a bound: the test kills it sooner by pid)."""

import socket
import sys
import time


def main():
    name, out, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name[1:] if name.startswith("@") else name)
    s.settimeout(0.1)
    end = time.monotonic() + limit
    with open(out, "w", buffering=1) as f:
        f.write("%.3f bound\n" % time.monotonic())
        while time.monotonic() < end:
            try:
                d = s.recv(65536)
            except socket.timeout:
                continue
            f.write("%.3f %s\n" % (time.monotonic(), d.decode(errors="replace").replace("\n", "|")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
