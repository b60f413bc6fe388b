#!/usr/bin/env bash
# udp_ipv6.sh BACKEND: the flows check over [::1], 4 flows x 20000 datagrams of 0..1400 bytes,
# and the server's totals must account for them.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup

FLOWS=4
COUNT=20000
RATE=40000

if [[ $(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 1) != 0 ]] ||
    ! grep -qE '^0{31}1 .* lo$' /proc/net/if_inet6 2>/dev/null; then
    skip "::1 cannot be bound here: IPv6 is disabled or ::1 is not configured on lo"
fi

start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp '[::1]:0'
[[ $UDP_HOST == ::1 ]] || fail "listening line names udp host $UDP_HOST, expected [::1]"
rc=0
run_dgram 60 flows --flows "$FLOWS" --count "$COUNT" --rate "$RATE" --min-size 0 --max-size 1400 \
    --timeout 40 "$UDP_HOST" "$UDP_PORT" || rc=$?
((rc == 0)) || fail "flows check over ::1 failed (status $rc): $DGRAM_LINE"
sent=$(dgram_field sent)
received=$(dgram_field received)
log "loss $(dgram_field loss) ($(dgram_field lost) of $sent lost)"
((sent == FLOWS * COUNT)) || fail "client sent $sent datagrams, expected $((FLOWS * COUNT))"
stop_server
udp_check_totals "$sent" "$received"
expect_total dgram_truncated 0
pass
