#!/usr/bin/env bash
# halfclose.sh BACKEND: after the client shuts down its write side, the server must echo
# everything it received and then close: K = 0, 1, 64 KiB and 8 MiB.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

SIZES=(0 1 65536 $((8 * MIB)))

start_server echo "${BACKEND_ARGS[@]}"
total=0
for k in "${SIZES[@]}"; do
    run_client halfclose --bytes "$k" --timeout 30 "$HOST" "$PORT" ||
        fail "half-close with $k bytes failed"
    total=$((total + k))
done
stop_server
expect_total bytes_in "$total"
expect_total bytes_out "$total"
expect_total conns_accepted "${#SIZES[@]}"
pass
