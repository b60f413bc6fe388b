#!/usr/bin/env python3
"""conncheck.py: connection-level checks of the idle timeout and the per-address limit, run by
idle.sh and connlimit.sh. Every wait is bounded. Exit 0 when the check holds, 1 (with one line
on stderr) when it does not.

  idle HOST PORT MIN MAX       one round trip, then silence: the server must close between MIN
                               and MAX seconds after the last byte
  silent HOST PORT MIN MAX     connects and sends nothing: closed between MIN and MAX seconds
  busy HOST PORT SECS PERIOD   a byte every PERIOD seconds for SECS, each echoed: never closed
  quiet HOST PORT SECS         one round trip, SECS of silence, another round trip: still open
  noread HOST PORT MIN MAX     sends without reading until the server stops taking bytes; the
                               server must close between MIN and MAX seconds after the last
                               byte it took (prints "closed after S s")
  noread_many HOST PORT N MAX  N peers at once send without reading until the server stops
                               taking bytes; every one must be closed within MAX seconds
  limits HOST PORT LIMIT SRC...  per source address SRC in turn (all held open together):
                               20 connections with a round trip on each, exactly LIMIT served
                               and the rest refused with a reset; then one served is closed and
                               a new one from that address is served, the next refused. Prints
                               "refused N": every refusal seen, for the server's counter
"""

import os
import select
import socket
import sys
import time


def die(msg):
    print("conncheck: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def connect(host, port, src=None, rcvbuf=0):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if src:
        s.bind((src, 0))
    s.settimeout(5)
    s.connect((host, port))
    return s


def round_trip(s, payload=b"ping"):
    """Sends payload and reads it back. True if echoed, False if the server refused."""
    try:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            b = s.recv(len(payload) - len(got))
            if not b:
                return False
            got += b
    except (ConnectionResetError, BrokenPipeError):
        return False
    except socket.timeout:
        die("no answer within 5 s")
    if got != payload:
        die("echo differs: %r" % got)
    return True


def wait_closed(s, limit):
    """Seconds until the server closes s (FIN or reset), reading what arrives; dies at limit."""
    start = time.monotonic()
    s.setblocking(False)
    while True:
        left = limit - (time.monotonic() - start)
        if left <= 0:
            die("still open after %.1f s" % limit)
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        try:
            if not s.recv(65536):
                return time.monotonic() - start
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        except BlockingIOError:
            pass


def cmd_idle(host, port, lo, hi):
    s = connect(host, port)
    if not round_trip(s):
        die("not served")
    t = wait_closed(s, hi + 3)
    print("closed after %.2f s" % t)
    if t < lo or t > hi:
        die("closed after %.2f s, want %.1f..%.1f" % (t, lo, hi))


def cmd_silent(host, port, lo, hi):
    s = connect(host, port)
    t = wait_closed(s, hi + 3)
    print("closed after %.2f s" % t)
    if t < lo or t > hi:
        die("closed after %.2f s, want %.1f..%.1f" % (t, lo, hi))


def cmd_busy(host, port, secs, period):
    s = connect(host, port)
    end = time.monotonic() + secs
    n = 0
    while time.monotonic() < end:
        if not round_trip(s, b"b"):
            die("closed after %d round trips (%.1f s) while busy" % (n, n * period))
        n += 1
        time.sleep(period)
    print("%d round trips over %.1f s" % (n, secs))


def cmd_quiet(host, port, secs):
    s = connect(host, port)
    if not round_trip(s):
        die("not served")
    time.sleep(secs)
    if not round_trip(s, b"again"):
        die("closed within %.1f s of silence" % secs)
    print("open after %.1f s of silence" % secs)


def cmd_noread(host, port, lo, hi):
    s = connect(host, port, rcvbuf=4096)
    s.setblocking(False)
    chunk = b"x" * 65536
    sent = 0
    last = time.monotonic()
    # Fill until nothing more has been taken for 0.3 s: the server stopped reading.
    while time.monotonic() - last < 0.3:
        try:
            n = s.send(chunk)
            sent += n
            last = time.monotonic()
        except BlockingIOError:
            select.select([], [s], [], 0.05)
        except (ConnectionResetError, BrokenPipeError):
            die("reset while filling (%d bytes sent)" % sent)
        if sent > (512 << 20):
            die("the server kept reading 512 MiB without our reading: no backpressure?")
    # Now wait for the reset or FIN without reading: poll reports it as an error or hang-up.
    p = select.poll()
    p.register(s, select.POLLERR | select.POLLHUP | select.POLLRDHUP)
    deadline = last + hi + 3
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            die("still open %.1f s after the server stopped reading" % (hi + 3))
        if p.poll(left * 1000):
            break
    t = time.monotonic() - last
    print("sent %d bytes; closed after %.2f s" % (sent, t))
    if t < lo or t > hi:
        die("closed %.2f s after the last byte taken, want %.1f..%.1f" % (t, lo, hi))


def cmd_noread_many(host, port, n, hi):
    socks = [connect(host, port, rcvbuf=4096) for _ in range(n)]
    chunk = b"x" * 65536
    for s in socks:
        s.setblocking(False)
    # Fill each until it stalls. One may be reset while others still fill: the server times
    # out its own send progress, which stops long before our kernel stops taking our bytes.
    last = {s: time.monotonic() for s in socks}
    filling = set(socks)
    closed = 0
    while filling and time.monotonic() - max(last[s] for s in filling) < 0.3:
        for s in list(filling):
            try:
                s.send(chunk)
                last[s] = time.monotonic()
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                filling.discard(s)
                closed += 1
        time.sleep(0.01)
    p = select.poll()
    for s in filling:
        p.register(s, select.POLLERR | select.POLLHUP | select.POLLRDHUP)
    end = max(last.values()) + hi
    while closed < n:
        left = end - time.monotonic()
        if left <= 0:
            die("%d of %d peers still open %.1f s after the server stopped reading"
                % (n - closed, n, hi))
        for fd, _ in p.poll(left * 1000):
            closed += 1
            p.unregister(fd)
    print("%d peers closed within %.2f s" % (n, time.monotonic() - max(last.values())))


def attempt(host, port, src):
    """A connection from src and a round trip: (socket, True) if served, (None, False) if it
    was refused with a reset. Dies on a refusal by FIN: refusals must be resets."""
    try:
        s = connect(host, port, src=src)
    except ConnectionResetError:
        return None, False  # the reset came before connect() returned
    try:
        s.sendall(b"ping")
        got = b""
        while len(got) < 4:
            b = s.recv(4 - len(got))
            if not b:
                die("refused from %s with a FIN, want a reset" % src)
            got += b
    except (ConnectionResetError, BrokenPipeError):
        s.close()
        return None, False
    except socket.timeout:
        die("no answer within 5 s")
    if got != b"ping":
        die("echo differs: %r" % got)
    return s, True


def cmd_limits(host, port, limit, srcs):
    held = {}
    refused = 0
    for src in srcs:
        served = []
        for _ in range(20):
            s, ok = attempt(host, port, src)
            if ok:
                served.append(s)
            else:
                refused += 1
        if len(served) != limit:
            die("from %s: %d of 20 served, want %d" % (src, len(served), limit))
        held[src] = served
    # Every held connection is still served (the limit closes nothing it let in).
    for src, served in held.items():
        for s in served:
            if not round_trip(s, b"still"):
                die("a served connection from %s was closed" % src)
    # Closing one lets one more in (once the server has seen the close), and only one.
    src = srcs[0]
    held[src].pop().close()
    deadline = time.monotonic() + 3
    while True:
        s, ok = attempt(host, port, src)
        if ok:
            held[src].append(s)
            break
        refused += 1
        if time.monotonic() > deadline:
            die("from %s: still refused 3 s after one of its connections closed" % src)
        time.sleep(0.05)
    s, ok = attempt(host, port, src)
    if ok:
        die("from %s: %d connections served, over the limit %d" % (src, limit + 1, limit))
    refused += 1
    print("refused %d" % refused)


def main():
    a = sys.argv[1:]
    if len(a) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mode, host, port = a[0], a[1], int(a[2])
    if mode == "idle":
        cmd_idle(host, port, float(a[3]), float(a[4]))
    elif mode == "silent":
        cmd_silent(host, port, float(a[3]), float(a[4]))
    elif mode == "busy":
        cmd_busy(host, port, float(a[3]), float(a[4]))
    elif mode == "quiet":
        cmd_quiet(host, port, float(a[3]))
    elif mode == "noread":
        cmd_noread(host, port, float(a[3]), float(a[4]))
    elif mode == "noread_many":
        cmd_noread_many(host, port, int(a[3]), float(a[4]))
    elif mode == "limits":
        cmd_limits(host, port, int(a[3]), a[4:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
