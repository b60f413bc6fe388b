#!/bin/bash
# The main job on the embedded default (what `make run` does): `ringsock echo` on loopback
# (127.0.0.1:7000, or a free port if 7000 is taken), a 5-second closed-loop load run of 100
# connections with 64-byte messages, every echoed byte verified, then SIGTERM and the totals.
set -euo pipefail
BUILD=${1:-build/release}
RINGSOCK=$BUILD/ringsock
LOAD=$BUILD/tests/tools/echoload
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
        start --tcp 127.0.0.1:0 || { cat "$OUT/server.err" >&2; exit 1; }
    else
        cat "$OUT/server.err" >&2
        exit 1
    fi
fi
cat "$OUT/server.out"
PORT=$(grep -oE 'tcp://127\.0\.0\.1:[0-9]+' "$OUT/server.out" | head -1 | sed 's/.*://')
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
rc=0
"$LOAD" -c 100 -t 1 -d 5 -s 64 127.0.0.1 "$PORT" || rc=$?
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
hz=$(getconf CLK_TCK)
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$hz" \
    'BEGIN { printf "  server cpu user %.2f s sys %.2f s\n", u / hz, s / hz }'
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || rc=$?
SERVER_PID=
grep totals "$OUT/server.out" || true
exit $rc
