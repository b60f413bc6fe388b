#!/usr/bin/env bash
# discard.sh BACKEND: the discard service reads everything, sends nothing, closes on EOF.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

CONNS=20
BYTES=$MIB

start_server discard "${BACKEND_ARGS[@]}"
run_client stream --expect-discard --count "$CONNS" --bytes "$BYTES" --timeout 60 \
    "$HOST" "$PORT" || fail "discard check failed"
stop_server
expect_total bytes_in $((CONNS * BYTES))
expect_total bytes_out 0
expect_total conns_accepted "$CONNS"
pass
