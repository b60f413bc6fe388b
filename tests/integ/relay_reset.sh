#!/usr/bin/env bash
# relay_reset.sh BACKEND: 1000 clients (100 at a time) of the relay end mid-stream with a reset,
# a plain close or gracefully, behind them a ringsock echo. The relay must close both sides of
# every session (its fd count back to baseline within 5 s, no session left), count the resets,
# and still relay afterwards.
# shellcheck source=relay_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/relay_lib.sh"
backend_setup "${1:-}"

echo_upstream_start
start_server relay --threads 1 --upstream "127.0.0.1:$ECHO_PORT" "${BACKEND_ARGS[@]}"
base_fds=$(server_fd_count)
run_client reset --count 1000 --parallel 100 --timeout 60 "$HOST" "$PORT" ||
    fail "reset run through the relay failed"
fds_at_baseline() {
    (($(server_fd_count) <= base_fds))
}
wait_until 5 fds_at_baseline ||
    fail "relay fd count is $(server_fd_count) 5 s after the resets, baseline $base_fds"
run_client stream --count 10 --bytes "$MIB" --timeout 30 "$HOST" "$PORT" ||
    fail "the relay no longer relays after the resets"
stop_server
expect_total relay_accepted 1010
# A client that resets before its upstream is connected abandons the connect: not every
# session reaches connect_ok, the last 10 (streams) do.
ok=$(total_field relay_connect_ok)
((ok >= 10 && ok <= 1010)) || fail "relay_connect_ok=$ok, expected 10..1010"
expect_total relay_active 0
(($(total_field relay_resets_client) >= 1)) || fail "no client reset was counted"
pass
