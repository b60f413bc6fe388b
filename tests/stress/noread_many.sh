#!/usr/bin/env bash
# noread_many.sh BACKEND: 1000 echo peers send without reading. The server must stop reading
# each one once its write queue is full: RSS growth at most 1000 x --write-queue + 16 MiB.
# Then the peers read, and each gets its whole stream back byte-exact, followed by EOF.
# shellcheck source=../integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integ/lib.sh"
backend_setup "${1:-}"

CONNS=1000
WQ_KB=64
BYTES=$((2 * MIB))
RSS_GROWTH_MAX_KB=$((CONNS * WQ_KB + 16 * 1024))

# Small socket buffers on both sides keep the kernel's share (not RSS, but memory all the same)
# near the server's: the data has to pile up in the server's queues to be seen at all.
start_server echo --write-queue ${WQ_KB}k --sndbuf 64k --rcvbuf 64k "${BACKEND_ARGS[@]}"
sleep 0.2
base_rss=$(server_rss_kb)
go="$TEST_TMP/go"
out="$TEST_TMP/noread.out"
client_start "$out" noread --count $CONNS --bytes $BYTES --sndbuf 64k --rcvbuf 64k --stall 2 \
    --go-file "$go" --timeout 120 "$HOST" "$PORT"

have_stall_line() {
    grep -q '^noread: ' "$out"
}
wait_until 90 have_stall_line || fail "client printed no stall line within 90 s"
line=$(grep -m 1 '^noread: ' "$out")
[[ $line =~ ^noread:\ stalled\ after\ ([0-9]+)\ bytes ]] || fail "no stall: $line"
stalled=${BASH_REMATCH[1]}
rss=$(server_rss_kb)
growth=$((rss - base_rss))
log "stalled after $stalled bytes; server RSS ${base_rss} -> ${rss} KiB (+${growth} KiB," \
    "bound $RSS_GROWTH_MAX_KB KiB)"
touch "$go"

rc=0
wait_pid "$CLIENT_PID" 120 || rc=$?
cat "$out"
((rc == 0)) || fail "noread client failed (status $rc)"
((growth <= RSS_GROWTH_MAX_KB)) ||
    fail "server RSS grew by $growth KiB at the stall, bound $RSS_GROWTH_MAX_KB KiB"
((stalled < CONNS * BYTES)) || fail "the server never pushed back"
stop_server
expect_total bytes_in $((CONNS * BYTES))
expect_total bytes_out $((CONNS * BYTES))
(($(total_field backpressure) >= CONNS)) ||
    fail "backpressure=$(total_field backpressure), expected at least one pause per peer"
pass
