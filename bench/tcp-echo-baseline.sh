#!/bin/bash
# Baseline TCP echo throughput of each backend, side by side in one run (A B A B ...):
# 100 connections of 64-byte messages, closed loop, one message in flight per connection.
# Server and load client are pinned to different CPUs when there are at least two.
# Usage: bench/tcp-echo-baseline.sh [BUILD_DIR] [ROUNDS] [SECONDS]
# Prints a Markdown table (msg/s and server user/system CPU seconds per backend) and the
# io_uring/epoll ratio. The full side-by-side benchmarks against peers live with issue 6.
set -euo pipefail
BUILD=${1:-build/release}
ROUNDS=${2:-3}
SECS=${3:-5}
RINGSOCK=$BUILD/ringsock
LOAD=$BUILD/ringload
[ -x "$RINGSOCK" ] && [ -x "$LOAD" ] || { echo "build first: make release" >&2; exit 1; }
OUT=$(mktemp -d)
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null; rm -rf "$OUT"' EXIT
SRV_CPU=()
CLI_CPU=()
if [ "$(nproc)" -ge 2 ]; then SRV_CPU=(taskset -c 0); CLI_CPU=(taskset -c 1); fi
hz=$(getconf CLK_TCK)

run_one() { # backend -> "msgs user sys"
    "${SRV_CPU[@]}" "$RINGSOCK" echo --tcp 127.0.0.1:0 --threads 1 --backend "$1" \
        >"$OUT/srv.out" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 50); do grep -q listening "$OUT/srv.out" && break; sleep 0.1; done
    port=$(grep -oE '127\.0\.0\.1:[0-9]+' "$OUT/srv.out" | head -1 | cut -d: -f2)
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
    "${CLI_CPU[@]}" "$LOAD" --no-progress -c 100 -d "${SECS}s" -s 64 --backend io_uring \
        --json "$OUT/load.json" "tcp://127.0.0.1:$port" >"$OUT/load.out"
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; SERVER_PID=
    rate=$(jq '.msgs_per_sec | floor' "$OUT/load.json")
    echo "$rate $(awk -v t=$((u1 - u0)) -v h="$hz" 'BEGIN{printf "%.2f", t/h}') \
$(awk -v t=$((s1 - s0)) -v h="$hz" 'BEGIN{printf "%.2f", t/h}')"
}

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), kernel $(uname -r)," \
     "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), " \
     "pinning ${SRV_CPU[*]:-none}/${CLI_CPU[*]:-none}, ${SECS}s x ${ROUNDS} rounds"
echo
echo "| round | backend | msg/s | server user s | server sys s |"
echo "|---|---|---|---|---|"
declare -A sum
for r in $(seq "$ROUNDS"); do
    for be in io_uring epoll; do
        read -r rate u s < <(run_one "$be")
        echo "| $r | $be | $rate | $u | $s |"
        sum[$be]=$(awk -v a="${sum[$be]:-0}" -v b="$rate" 'BEGIN{print a+b}')
    done
done
echo
awk -v a="${sum[io_uring]}" -v b="${sum[epoll]}" -v n="$ROUNDS" \
    'BEGIN{printf "mean msg/s: io_uring %.0f, epoll %.0f; ratio io_uring/epoll %.2f\n", a/n, b/n, a/b}'
