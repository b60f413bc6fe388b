#!/usr/bin/env bash
# noread.sh BACKEND: a client sends 64 MiB without reading. The server must stop reading once
# its per-connection write queue is full instead of buffering the stream in memory; then,
# once the client reads again, the whole 64 MiB must come back byte-exact.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

# Bounds. The server may hold the 256 KiB write-queue cap plus its receive buffers for this one
# connection; 32 MiB of RSS growth leaves room for allocator slack and per-thread caches and
# is still half of the 64 MiB an unbounded queue would hold. Kernel socket buffers on both
# ends (tcp_wmem/tcp_rmem maxima) are not RSS but do absorb data before the stall, so the
# amount sent at the stall only has to be clearly short of everything: below 48 MiB.
RSS_GROWTH_MAX_KB=$((32 * 1024))
STALL_MAX_BYTES=$((48 * MIB))
BYTES=$((64 * MIB))

start_server echo "${BACKEND_ARGS[@]}"
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
stalled=${BASH_REMATCH[1]}
rss=$(server_rss_kb)
growth=$((rss - base_rss))
log "stalled after $stalled bytes; server RSS ${base_rss} -> ${rss} KiB (+${growth} KiB)"
touch "$go"

rc=0
wait_pid "$CLIENT_PID" 100 || rc=$?
cat "$out"
((rc == 0)) || fail "noread client failed (status $rc)"
((growth < RSS_GROWTH_MAX_KB)) ||
    fail "server RSS grew by $growth KiB at the stall, bound $RSS_GROWTH_MAX_KB KiB"
((stalled < STALL_MAX_BYTES)) ||
    fail "server accepted $stalled bytes before pushing back, bound $STALL_MAX_BYTES"
stop_server
expect_total bytes_in "$BYTES"
expect_total bytes_out "$BYTES"
pass
