#!/usr/bin/env bash
# stream_ipv6.sh BACKEND: the stream check over [::1] with 20 connections x 3 MiB.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

CONNS=20
BYTES=$((3 * MIB))

if [[ $(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 1) != 0 ]] ||
    ! grep -qE '^0{31}1 .* lo$' /proc/net/if_inet6 2>/dev/null; then
    skip "::1 cannot be bound here: IPv6 is disabled or ::1 is not configured on lo"
fi

start_server echo "${BACKEND_ARGS[@]}" --tcp '[::1]:0'
[[ $HOST == ::1 ]] || fail "listening line names $HOST, expected [::1]"
run_client stream --count "$CONNS" --bytes "$BYTES" --timeout 60 "$HOST" "$PORT" ||
    fail "stream check over ::1 failed"
stop_server
expect_total bytes_in $((CONNS * BYTES))
expect_total bytes_out $((CONNS * BYTES))
expect_total conns_accepted "$CONNS"
pass
