#!/usr/bin/env bash
# relay_stream.sh BACKEND: through the relay to a ringsock echo upstream, 200 connections x 3 MiB
# in random writes of 1 B..256 KiB with every echoed byte checked, then half-close with 0 B to
# 8 MiB (all of the echo still arrives after the client's FIN); the relay's counters account for
# exactly that traffic. Then 20 x 1 MiB over IPv6 ([::1] to an upstream on [::1]).
# shellcheck source=relay_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/relay_lib.sh"
backend_setup "${1:-}"

CONNS=200
BYTES=$((3 * MIB))
SIZES=(0 1 65536 $((8 * MIB)))

echo_upstream_start
start_server relay --threads 2 --upstream "127.0.0.1:$ECHO_PORT" "${BACKEND_ARGS[@]}"
run_client stream --count "$CONNS" --bytes "$BYTES" --max-write 256K --timeout 100 \
    "$HOST" "$PORT" || fail "stream through the relay failed"
total=$((CONNS * BYTES))
for k in "${SIZES[@]}"; do
    run_client halfclose --bytes "$k" --timeout 30 "$HOST" "$PORT" ||
        fail "half-close with $k bytes through the relay failed"
    total=$((total + k))
done
stop_server
n=$((CONNS + ${#SIZES[@]}))
expect_total relay_accepted "$n"
expect_total relay_connect_ok "$n"
expect_total relay_bytes_c2u "$total"
expect_total relay_bytes_u2c "$total"
expect_total relay_half_closes_c2u "$n"
expect_total relay_no_upstream 0
expect_total relay_resets_client 0
expect_total relay_resets_upstream 0
expect_total relay_active 0

if ! python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    log "no IPv6 loopback here: IPv6 part skipped"
    pass
fi
echo_upstream_start "[::1]:0"
start_server relay --threads 1 --tcp "[::1]:0" --upstream "[::1]:$ECHO_PORT" "${BACKEND_ARGS[@]}"
run_client stream --count 20 --bytes "$MIB" --timeout 60 "$HOST" "$PORT" ||
    fail "IPv6 stream through the relay failed"
stop_server
expect_total relay_bytes_u2c $((20 * MIB))
pass
