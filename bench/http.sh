#!/bin/bash
# HTTP side by side in one run (A B A B ...): ringsock http (1 worker) vs nginx (1 worker,
# `return 200`, access_log off), each pinned to CPU 0, driven by wrk (1 thread, keep-alive,
# 100 connections) and by ringload with 16 pipelined requests per connection (100 connections),
# each pinned to CPU 1. Reports requests/s, the server's user/system CPU seconds, requests per
# server CPU-second, and the ratios.
# Usage: bench/http.sh [BUILD_DIR] [ROUNDS] [SECONDS]
set -euo pipefail
BUILD=${1:-build/release}
ROUNDS=${2:-3}
SECS=${3:-5}
RINGSOCK=$BUILD/ringsock
command -v wrk >/dev/null && command -v nginx >/dev/null ||
    { echo "install the peers: apt-get install wrk nginx-light" >&2; exit 1; }
OUT=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$OUT"' EXIT
SRV=(); CLI=()
if [ "$(nproc)" -ge 2 ]; then SRV=(taskset -c 0); CLI=(taskset -c 1); fi
hz=$(getconf CLK_TCK)

"${SRV[@]}" "$RINGSOCK" http --tcp 127.0.0.1:0 --threads 1 --body 'hello\n' >"$OUT/rs" 2>&1 &
PIDS+=($!)
RS_PID=$!
for _ in $(seq 50); do grep -q listening "$OUT/rs" && break; sleep 0.1; done
RS_PORT=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$OUT/rs" | sed 's/.*://')
NGX_PORT=$(( (RS_PORT % 20000) + 30000 ))
cat >"$OUT/nginx.conf" <<NGX
worker_processes 1;
daemon off;
error_log $OUT/error.log;
pid $OUT/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$NGX_PORT;
        location / { return 200 "hello\n"; }
    }
}
NGX
"${SRV[@]}" nginx -c "$OUT/nginx.conf" -p "$OUT" &
PIDS+=($!)
sleep 0.5
NGX_PID=$(pgrep -f "nginx: worker" -n)

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), kernel $(uname -r), $(nproc) CPUs," \
     "pinning ${SRV[*]:-none}/${CLI[*]:-none}, ${SECS}s x ${ROUNDS} rounds, $(nginx -v 2>&1), $(wrk -v 2>&1 | head -1)"
echo
echo "| round | load | server | requests/s | server user s | server sys s | requests per server CPU-s |"
echo "|---|---|---|---|---|---|---|"
declare -A rps per
for r in $(seq "$ROUNDS"); do
    for load in wrk pipelined; do
        for s in ringsock nginx; do
            if [ $s = ringsock ]; then pid=$RS_PID port=$RS_PORT; else pid=$NGX_PID port=$NGX_PORT; fi
            read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
            if [ $load = wrk ]; then
                "${CLI[@]}" wrk -t1 -c100 -d"${SECS}s" "http://127.0.0.1:$port/" >"$OUT/wrk" 2>&1
                grep -q 'Non-2xx\|Socket errors' "$OUT/wrk" && { cat "$OUT/wrk" >&2; exit 1; }
                rate=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$OUT/wrk")
            else
                "${CLI[@]}" "$BUILD/ringload" --no-progress -c 100 --depth 16 -d "${SECS}s" \
                    --json "$OUT/rl.json" "http://127.0.0.1:$port/" >/dev/null
                rate=$(jq '.msgs_per_sec | floor' "$OUT/rl.json")
            fi
            read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
            line=$(awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v h="$hz" -v r="$rate" -v d="$SECS" \
                'BEGIN{c=(u+s)/h; printf "%.2f | %.2f | %.0f", u/h, s/h, r*d/c}')
            echo "| $r | $load | $s | $rate | $line |"
            rps[$load$s]=$(awk -v a="${rps[$load$s]:-0}" -v b="$rate" 'BEGIN{print a+b}')
            per[$load$s]=$(awk -v a="${per[$load$s]:-0}" -v b="${line##* }" 'BEGIN{print a+b}')
        done
    done
done
echo
for load in wrk pipelined; do
    awk -v l=$load -v a="${rps[${load}ringsock]}" -v b="${rps[${load}nginx]}" \
        -v c="${per[${load}ringsock]}" -v d="${per[${load}nginx]}" \
        'BEGIN{printf "%s: ringsock/nginx requests/s %.2f, requests per server CPU-second %.2f\n", l, a/b, c/d}'
done
