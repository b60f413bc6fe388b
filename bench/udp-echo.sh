#!/bin/bash
# UDP echo, side by side in one run (A B C A B C ...), server pinned to CPU 0 and load to CPU 1:
#  1. ringload (16 sockets x depth 16, 64-byte datagrams, every echo verified) against
#     ringsock echo (1 thread, io_uring, recvmmsg/sendmmsg batches) and against udp_ref_echo,
#     a one-datagram-at-a-time recvfrom/sendto server;
# Reports datagrams/s echoed, the server's user/system CPU seconds and the generator's, and the
# ratios (per wall second and per server CPU-second). sockperf is not in it: its client only
# accepts replies whose header the server rewrote, and its server answers only its own
# protocol, so neither can be driven by the same load as a plain echo server.
# Usage: bench/udp-echo.sh [BUILD_DIR] [ROUNDS] [SECONDS]
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
cc -O2 -o "$OUT/udp_ref_echo" "$(dirname "$0")/udp_ref_echo.c"
SRV=(); CLI=()
if [ "$(nproc)" -ge 2 ]; then SRV=(taskset -c 0); CLI=(taskset -c 1); fi
hz=$(getconf CLK_TCK)

free_port() { # a UDP port nothing uses now: let a ringsock bind port 0, read it, stop it
    "$RINGSOCK" echo --udp 127.0.0.1:0 --threads 1 >"$OUT/fp" 2>&1 & local p=$!
    for _ in $(seq 50); do grep -q listening "$OUT/fp" && break; sleep 0.05; done
    grep -oE 'udp://127\.0\.0\.1:[0-9]+' "$OUT/fp" | sed 's/.*://'
    kill -TERM $p; wait $p || true
}

start_server() { # kind port
    case $1 in
    ringsock) "${SRV[@]}" "$RINGSOCK" echo --udp "127.0.0.1:$2" --threads 1 --backend io_uring \
                  >"$OUT/srv" 2>&1 & ;;
    ref) "${SRV[@]}" "$OUT/udp_ref_echo" "$2" >"$OUT/srv" 2>&1 & ;;
    esac
    SERVER_PID=$!
    sleep 0.5
    read -r U0 S0 < <(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
}

stop_server() { # -> "user sys" seconds
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
    awk -v u=$((u1 - U0)) -v s=$((s1 - S0)) -v h="$hz" 'BEGIN{printf "%.2f %.2f", u/h, s/h}'
}

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), kernel $(uname -r), $(nproc) CPUs," \
     "pinning ${SRV[*]:-none}/${CLI[*]:-none}, ${SECS}s x ${ROUNDS} rounds"
echo
echo "| round | server | datagrams/s | server user s | server sys s | ringload user s | ringload sys s |"
echo "|---|---|---|---|---|---|---|"
declare -A sum cpu_sum
for r in $(seq "$ROUNDS"); do
    for srv in ringsock ref; do
        port=$(free_port)
        start_server $srv "$port"
        "${CLI[@]}" "$LOAD" --no-progress -c 16 --depth 16 -s 64 -d "${SECS}s" --json "$OUT/l.json" \
            "udp://127.0.0.1:$port" >/dev/null || true
        cpu=$(stop_server)
        rate=$(jq '.udp.received / .duration_s | floor' "$OUT/l.json")
        lcpu=$(jq -r '"\(.cpu.user_s*100|floor/100) \(.cpu.sys_s*100|floor/100)"' "$OUT/l.json")
        echo "| $r | $srv | $rate | ${cpu% *} | ${cpu#* } | ${lcpu% *} | ${lcpu#* } |"
        sum[rl_$srv]=$(awk -v a="${sum[rl_$srv]:-0}" -v b="$rate" 'BEGIN{print a+b}')
        cpu_sum[$srv]=$(awk -v a="${cpu_sum[$srv]:-0}" -v u="${cpu% *}" -v s="${cpu#* }" \
            -v d="$SECS" 'BEGIN{print a+(u+s)/d}')
    done
done
echo
awk -v a="${sum[rl_ringsock]}" -v b="${sum[rl_ref]}" -v n="$ROUNDS" \
    'BEGIN{printf "ringload load: ringsock %.0f/s, one-at-a-time %.0f/s: ratio %.2f\n", a/n, b/n, a/b}'
awk -v a="${cpu_sum[ringsock]}" -v b="${cpu_sum[ref]}" -v x="${sum[rl_ringsock]}" -v y="${sum[rl_ref]}" \
    'BEGIN{printf "per server CPU-second: ringsock %.0f, one-at-a-time %.0f: ratio %.2f\n", x/a, y/b, (x/a)/(y/b)}'
