#!/usr/bin/env bash
# reset.sh BACKEND: 3000 connections (200 at a time) abort mid-stream with RST; the server
# must close every one (fd count back to its baseline within 5 s) and still serve afterwards.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

start_server echo "${BACKEND_ARGS[@]}"
base_fds=$(server_fd_count)
log "baseline fd count $base_fds"
run_client reset --count 3000 --parallel 200 --timeout 60 "$HOST" "$PORT" ||
    fail "reset run failed (a connect failed or echoed data was wrong)"

fds_at_baseline() {
    (($(server_fd_count) <= base_fds))
}
wait_until 5 fds_at_baseline ||
    fail "server fd count is $(server_fd_count) 5 s after the resets, baseline $base_fds"

run_client stream --count 10 --bytes "$MIB" --timeout 30 "$HOST" "$PORT" ||
    fail "server no longer serves after the resets"
stop_server
accepted=$(total_field conns_accepted)
closed=$(total_field conns_closed)
((accepted == 3010)) || fail "conns_accepted=$accepted, expected 3010"
((closed == accepted)) || fail "conns_closed=$closed but conns_accepted=$accepted"
pass
