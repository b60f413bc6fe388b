#!/bin/bash
# The generator's own efficiency, side by side in one run, sink pinned to CPU 0 and generators
# to CPU 1 (alternating):
#  1. HTTP: wrk (1 thread) vs ringload (1 thread), 100 keep-alive connections, against the same
#     nginx (1 worker, return 200): requests/s and requests per generator CPU-second.
#  2. UDP send rate, 64-byte datagrams, one socket: ringload --send-only (with and without
#     --gso, UDP_SEGMENT) into ringsock discard,
#     sockperf tp into ringsock discard, iperf3 -u -b 0 into its own server: datagrams/s
#     reported by each sender and datagrams per generator CPU-second (perf stat task-clock).
# Usage: bench/generators.sh [BUILD_DIR] [ROUNDS] [SECONDS]
set -euo pipefail
BUILD=${1:-build/release}
ROUNDS=${2:-3}
SECS=${3:-5}
for t in wrk nginx sockperf iperf3 perf jq; do
    command -v $t >/dev/null || { echo "missing $t (apt-get install wrk nginx-light sockperf iperf3 linux-perf jq)" >&2; exit 1; }
done
OUT=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$OUT"' EXIT
SRV=(); CLI=()
if [ "$(nproc)" -ge 2 ]; then SRV=(taskset -c 0); CLI=(taskset -c 1); fi

cpu_of() { awk -F, '/task-clock/ {printf "%.2f", $1/1000}' "$1"; } # perf stat -x, output, ms

"${SRV[@]}" "$BUILD/ringsock" discard --udp 127.0.0.1:0 --threads 1 >"$OUT/sink" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q listening "$OUT/sink" && break; sleep 0.1; done
UPORT=$(grep -oE 'udp://127\.0\.0\.1:[0-9]+' "$OUT/sink" | sed 's/.*://')
NPORT=$(( (UPORT % 20000) + 30000 ))
IPORT=$(( NPORT + 1 ))
cat >"$OUT/nginx.conf" <<NGX
worker_processes 1;
daemon off;
error_log $OUT/error.log;
pid $OUT/nginx.pid;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000;
       server { listen 127.0.0.1:$NPORT; location / { return 200 "hello\n"; } } }
NGX
"${SRV[@]}" nginx -c "$OUT/nginx.conf" -p "$OUT" &
PIDS+=($!)
sleep 0.5

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), kernel $(uname -r), $(nproc) CPUs," \
     "pinning ${SRV[*]:-none}/${CLI[*]:-none}, ${SECS}s x ${ROUNDS} rounds"
echo "$(nginx -v 2>&1); $(wrk -v 2>&1 | head -1 | cut -c1-30); $(sockperf --version | head -1); $(iperf3 --version | head -1)"
echo
echo "| round | test | generator | rate/s | generator CPU s | per generator CPU-s |"
echo "|---|---|---|---|---|---|"
declare -A per
for r in $(seq "$ROUNDS"); do
    "${CLI[@]}" perf stat -e task-clock -x, -o "$OUT/p" wrk -t1 -c100 -d"${SECS}s" \
        "http://127.0.0.1:$NPORT/" >"$OUT/wrk" 2>&1
    rate=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$OUT/wrk"); c=$(cpu_of "$OUT/p")
    p=$(awk -v a="$rate" -v c="$c" -v d="$SECS" 'BEGIN{printf "%.0f", a*d/c}')
    echo "| $r | http | wrk | $rate | $c | $p |"; per[wrk]=$(awk -v a="${per[wrk]:-0}" -v b="$p" 'BEGIN{print a+b}')
    "${CLI[@]}" perf stat -e task-clock -x, -o "$OUT/p" "$BUILD/ringload" --no-progress -c 100 \
        -d "${SECS}s" --json "$OUT/rl.json" "http://127.0.0.1:$NPORT/" >/dev/null
    rate=$(jq '.msgs_per_sec | floor' "$OUT/rl.json"); c=$(cpu_of "$OUT/p")
    p=$(awk -v a="$rate" -v c="$c" -v d="$SECS" 'BEGIN{printf "%.0f", a*d/c}')
    echo "| $r | http | ringload | $rate | $c | $p |"; per[rl_http]=$(awk -v a="${per[rl_http]:-0}" -v b="$p" 'BEGIN{print a+b}')

    "${CLI[@]}" perf stat -e task-clock -x, -o "$OUT/p" "$BUILD/ringload" --no-progress --send-only \
        -c 1 -s 64 -d "${SECS}s" --json "$OUT/ru.json" "udp://127.0.0.1:$UPORT" >/dev/null
    rate=$(jq '.udp.sent / .duration_s | floor' "$OUT/ru.json"); c=$(cpu_of "$OUT/p")
    p=$(awk -v a="$rate" -v c="$c" -v d="$SECS" 'BEGIN{printf "%.0f", a*d/c}')
    echo "| $r | udp send | ringload | $rate | $c | $p |"; per[rl_udp]=$(awk -v a="${per[rl_udp]:-0}" -v b="$p" 'BEGIN{print a+b}')
    "${CLI[@]}" perf stat -e task-clock -x, -o "$OUT/p" "$BUILD/ringload" --no-progress --send-only \
        --gso -c 1 -s 64 -d "${SECS}s" --json "$OUT/ru.json" "udp://127.0.0.1:$UPORT" >/dev/null
    rate=$(jq '.udp.sent / .duration_s | floor' "$OUT/ru.json"); c=$(cpu_of "$OUT/p")
    p=$(awk -v a="$rate" -v c="$c" -v d="$SECS" 'BEGIN{printf "%.0f", a*d/c}')
    echo "| $r | udp send | ringload --gso | $rate | $c | $p |"; per[rl_gso]=$(awk -v a="${per[rl_gso]:-0}" -v b="$p" 'BEGIN{print a+b}')
    "${CLI[@]}" perf stat -e task-clock -x, -o "$OUT/p" sockperf tp -i 127.0.0.1 -p "$UPORT" -m 64 \
        -t "$SECS" >"$OUT/sp" 2>&1 || true
    rate=$(grep -oE 'Message Rate is [0-9]+' "$OUT/sp" | awk '{print $4}'); c=$(cpu_of "$OUT/p")
    p=$(awk -v a="${rate:-0}" -v c="$c" -v d="$SECS" 'BEGIN{printf "%.0f", a*d/c}')
    echo "| $r | udp send | sockperf tp | ${rate:-?} | $c | $p |"; per[sp]=$(awk -v a="${per[sp]:-0}" -v b="$p" 'BEGIN{print a+b}')
    "${SRV[@]}" iperf3 -s -1 -p "$IPORT" >/dev/null 2>&1 &
    ip=$!
    sleep 0.3
    "${CLI[@]}" perf stat -e task-clock -x, -o "$OUT/p" iperf3 -c 127.0.0.1 -p "$IPORT" -u -b 0 \
        -l 64 -t "$SECS" -J >"$OUT/ip.json" 2>/dev/null || true
    wait $ip 2>/dev/null || true
    rate=$(jq '.end.sum.packets / .end.sum.seconds | floor' "$OUT/ip.json" 2>/dev/null || echo 0)
    c=$(cpu_of "$OUT/p")
    p=$(awk -v a="${rate:-0}" -v c="$c" -v d="$SECS" 'BEGIN{printf "%.0f", a*d/c}')
    echo "| $r | udp send | iperf3 -u | ${rate:-?} | $c | $p |"; per[ip]=$(awk -v a="${per[ip]:-0}" -v b="$p" 'BEGIN{print a+b}')
done
echo
awk -v a="${per[rl_http]}" -v b="${per[wrk]}" 'BEGIN{printf "http: ringload/wrk requests per generator CPU-second %.2f\n", a/b}'
awk -v a="${per[rl_udp]}" -v b="${per[sp]}" -v c="${per[ip]}" \
    'BEGIN{printf "udp send: ringload/sockperf %.2f, ringload/iperf3 %.2f (datagrams per generator CPU-second)\n", a/b, (c>0?a/c:0)}'
awk -v a="${per[rl_gso]}" -v b="${per[sp]}" -v c="${per[ip]}" \
    'BEGIN{printf "udp send with --gso: ringload/sockperf %.2f, ringload/iperf3 %.2f\n", a/b, (c>0?a/c:0)}'
