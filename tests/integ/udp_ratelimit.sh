#!/usr/bin/env bash
# udp_ratelimit.sh BACKEND: --udp-rate-per-source 100 caps the replies to each source address
# at 100 a second with a burst of 100. One worker (so both sources share its table):
# 127.0.0.1 sends 4000 datagrams at 2000/s (2 s) while 127.0.0.2 sends 100 at 50/s, below its
# own limit. The first must get the burst plus 100/s over its sending time: between
# 100 + 0.95 x 200 = 290 and 100 + 100 x its whole run time (sending plus the 0.5 s drain,
# about 350); the second, not starved by the first, gets every answer. Then the same first
# flow from ::1. The server counts every datagram it did not answer as dgram_rate_limited;
# answers are never longer than requests (dgramcheck compares each echo byte for byte).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup

RATE=100
COUNT=4000
SEND_RATE=2000

# dgram_bg OUT ARGS...: dgramcheck ARGS in the background, stdout to OUT; sets BG_PID.
dgram_bg() {
    local out=$1
    shift
    log "dgramcheck $*"
    "$DGRAMCHECK" "$@" >"$out" 2>"$out.err" &
    BG_PID=$!
    track_pid "$BG_PID"
}

# dgram_bg_wait PID OUT WHAT: waits (bounded), sets DGRAM_LINE; fails if dgramcheck failed.
dgram_bg_wait() {
    local rc=0
    wait_pid "$1" 40 || rc=$?
    cat "$2"
    cat "$2.err" >&2
    DGRAM_LINE=$(tail -n 1 "$2")
    ((rc == 0)) || fail "$3: dgramcheck failed (status $rc): $DGRAM_LINE"
}

# check_capped WHAT: the last flow got the burst plus RATE/s over its sending time.
check_capped() {
    local got secs hi lo
    got=$(dgram_field received)
    secs=$(dgram_field seconds)
    lo=$((RATE + RATE * COUNT * 95 / (SEND_RATE * 100)))
    hi=$(awk -v r="$RATE" -v s="$secs" 'BEGIN { printf "%d", r + r * s + 2 }')
    log "$1: $got answers of $(dgram_field sent) in ${secs} s (want $lo..$hi)"
    ((got >= lo && got <= hi)) || fail "$1: $got answers, want $lo..$hi"
    CAPPED=$got
}

# check_totals RECEIVED: no answer is longer than its request, in total; each datagram read was
# answered or refused, and the server sent no fewer answers than came back.
check_totals() {
    local din dout limited
    din=$(total_field dgrams_in)
    dout=$(total_field dgrams_out)
    limited=$(total_field dgram_rate_limited)
    (($(total_field dgram_bytes_out) <= $(total_field dgram_bytes_in))) ||
        fail "dgram_bytes_out > dgram_bytes_in"
    ((dout + limited + $(total_field dgram_dropped) + $(total_field dgram_send_errors) == din)) ||
        fail "dgrams_out $dout + rate_limited $limited + dropped + send errors != dgrams_in $din"
    ((dout >= $1)) || fail "server sent $dout answers, clients received $1"
    ((limited > 0)) || fail "nothing was counted as dgram_rate_limited"
}

start_udp_server echo "${BACKEND_ARGS[@]}" --threads 1 --udp 127.0.0.1:0 \
    --udp-rate-per-source "$RATE"
heavy_out="$TEST_TMP/heavy.out"
light_out="$TEST_TMP/light.out"
dgram_bg "$heavy_out" flows --bind 127.0.0.1 --flows 1 --count "$COUNT" --rate "$SEND_RATE" \
    --min-size 0 --max-size 200 --max-loss 1 --drain 0.5 --timeout 30 "$UDP_HOST" "$UDP_PORT"
heavy=$BG_PID
dgram_bg "$light_out" flows --bind 127.0.0.2 --flows 1 --count 100 --rate 50 --min-size 32 \
    --max-size 200 --max-loss 0 --drain 0.5 --timeout 30 "$UDP_HOST" "$UDP_PORT"
light=$BG_PID
dgram_bg_wait "$heavy" "$heavy_out" "127.0.0.1 at $SEND_RATE/s"
check_capped "127.0.0.1 at $SEND_RATE/s"
received=$CAPPED
dgram_bg_wait "$light" "$light_out" "127.0.0.2 at 50/s beside it (every answer wanted)"
received=$((received + $(dgram_field received)))
stop_server
check_totals "$received"

if [[ $(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 1) == 0 ]] &&
    grep -qE '^0{31}1 .* lo$' /proc/net/if_inet6 2>/dev/null; then
    start_udp_server echo "${BACKEND_ARGS[@]}" --threads 1 --udp '[::1]:0' \
        --udp-rate-per-source "$RATE"
    run_dgram 40 flows --bind ::1 --flows 1 --count "$COUNT" --rate "$SEND_RATE" --min-size 0 \
        --max-size 200 --max-loss 1 --drain 0.5 --timeout 30 "$UDP_HOST" "$UDP_PORT" ||
        fail "::1 at $SEND_RATE/s: dgramcheck failed: $DGRAM_LINE"
    check_capped "::1 at $SEND_RATE/s"
    stop_server
    check_totals "$CAPPED"
else
    log "::1 is not configured: the IPv6 part is not run"
fi
pass
