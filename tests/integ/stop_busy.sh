#!/usr/bin/env bash
# stop_busy.sh BACKEND: SIGTERM while a connection is stalled under backpressure (its peer
# reads nothing, the server's write queue is full). The server must still exit 0 with a totals
# line within 5 s (its default --shutdown-timeout is 2 s), dropping the stuck connection.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

start_server echo "${BACKEND_ARGS[@]}"
go="$TEST_TMP/go"
out="$TEST_TMP/noread.out"
client_start "$out" noread --bytes 64M --stall 1 --go-file "$go" --timeout 60 "$HOST" "$PORT"
stalled() {
    grep -q '^noread: stalled' "$out"
}
wait_until 30 stalled || fail "the client never stalled: $(cat "$out")"
log "$(head -n 1 "$out")"
stop_server
touch "$go"
wait_pid "$CLIENT_PID" 10 || true
pass
