#!/bin/bash
# The main job on the embedded default (what `make run` does): `ringsock echo` on loopback
# (TCP and UDP on 127.0.0.1:7000, or free ports if 7000 is taken), then ringload: 5 s of 100 TCP
# connections with 64-byte messages and 3 s of 8 UDP sockets, every echoed byte verified, then
# SIGTERM and the server's totals.
set -euo pipefail
BUILD=${1:-build/release}
RINGSOCK=$BUILD/ringsock
LOAD=$BUILD/ringload
OUT=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null || true
    rm -rf "$OUT"
}
trap cleanup EXIT

start() {
    "$RINGSOCK" echo "$@" >"$OUT/server.out" 2>"$OUT/server.err" &
    SERVER_PID=$!
    for _ in $(seq 50); do
        grep -q 'listening on' "$OUT/server.out" 2>/dev/null && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    return 1
}

if ! start; then
    if grep -q 'in use' "$OUT/server.err"; then
        echo "demo: 127.0.0.1:7000 is in use; using a free port instead"
        start --tcp 127.0.0.1:0 --udp 127.0.0.1:0 || { cat "$OUT/server.err" >&2; exit 1; }
    else
        cat "$OUT/server.err" >&2
        exit 1
    fi
fi
cat "$OUT/server.out"
PORT=$(grep -oE 'tcp://127\.0\.0\.1:[0-9]+' "$OUT/server.out" | head -1 | sed 's/.*://')
UPORT=$(grep -oE 'udp://127\.0\.0\.1:[0-9]+' "$OUT/server.out" | head -1 | sed 's/.*://')
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
rc=0
echo
"$LOAD" -c 100 -d 5s -s 64 --latency "tcp://127.0.0.1:$PORT" || rc=$?
echo
"$LOAD" -c 8 --depth 8 -d 3s -s 64 "udp://127.0.0.1:$UPORT" || rc=$?
echo
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
hz=$(getconf CLK_TCK)
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$hz" \
    'BEGIN { printf "  server cpu user %.2f s sys %.2f s\n", u / hz, s / hz }'
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || rc=$?
SERVER_PID=
grep totals "$OUT/server.out" || true
exit $rc
