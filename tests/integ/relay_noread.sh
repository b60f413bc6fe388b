#!/usr/bin/env bash
# relay_noread.sh BACKEND: a client sends 50 MiB through the relay to an echo upstream without
# reading. The relay must stop reading the upstream while the client's queue is full (and the
# client while the upstream's is), so its memory stays bounded; once the client reads, every
# byte comes back in order. Pauses are counted both ways.
# shellcheck source=relay_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/relay_lib.sh"
backend_setup "${1:-}"

# Two 256 KiB queues plus receive buffers are what the relay may hold; 32 MiB of growth leaves
# room for allocator slack and is well under the 50 MiB an unbounded relay would hold.
RSS_GROWTH_MAX_KB=$((32 * 1024))
BYTES=$((50 * MIB))

echo_upstream_start
start_server relay --threads 1 --upstream "127.0.0.1:$ECHO_PORT" "${BACKEND_ARGS[@]}"
sleep 0.2
base_rss=$(server_rss_kb)
go="$TEST_TMP/go"
out="$TEST_TMP/noread.out"
client_start "$out" noread --bytes "$BYTES" --stall 2 --go-file "$go" --timeout 100 \
    "$HOST" "$PORT"
have_stall_line() {
    grep -q '^noread: ' "$out"
}
wait_until 60 have_stall_line || fail "client printed no stall line within 60 s"
line=$(grep -m 1 '^noread: ' "$out")
[[ $line =~ ^noread:\ stalled\ after\ ([0-9]+)\ bytes ]] || fail "no stall: $line"
rss=$(server_rss_kb)
growth=$((rss - base_rss))
log "stalled after ${BASH_REMATCH[1]} bytes; relay RSS ${base_rss} -> ${rss} KiB (+${growth} KiB)"
touch "$go"
rc=0
wait_pid "$CLIENT_PID" 100 || rc=$?
cat "$out"
((rc == 0)) || fail "noread client failed (status $rc)"
((growth < RSS_GROWTH_MAX_KB)) ||
    fail "relay RSS grew by $growth KiB at the stall, bound $RSS_GROWTH_MAX_KB KiB"
stop_server
expect_total relay_bytes_c2u "$BYTES"
expect_total relay_bytes_u2c "$BYTES"
(($(total_field relay_pauses_u2c) >= 1)) || fail "no pause of the upstream was counted"
(($(total_field relay_pauses_c2u) >= 1)) || fail "no pause of the client was counted"
pass
