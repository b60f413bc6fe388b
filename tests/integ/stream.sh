#!/usr/bin/env bash
# stream.sh BACKEND: 200 connections x 3 MiB in random writes of 1 B..256 KiB, every echoed
# byte verified, then the server's totals must account for exactly that traffic.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

CONNS=200
BYTES=$((3 * MIB))

start_server echo "${BACKEND_ARGS[@]}"
run_client stream --count "$CONNS" --bytes "$BYTES" --max-write 256K --timeout 90 \
    "$HOST" "$PORT" || fail "stream check failed"
stop_server
expect_total bytes_in $((CONNS * BYTES))
expect_total bytes_out $((CONNS * BYTES))
expect_total conns_accepted "$CONNS"
expect_total conns_closed "$CONNS"
pass
