#!/usr/bin/env bash
# relay_edges.sh BACKEND: the session's ends, with relaypeer.py upstreams: a server that speaks
# first (its banner reaches a client that has sent nothing); an upstream that writes 100 KiB and
# closes (the client gets exactly those bytes, then EOF); a client that sends 1 MiB and FIN and
# then gets the upstream's reply written after that FIN; an upstream that writes and shuts its
# write side, after which the client's 1 MiB still reaches it in full; and --idle-timeout
# (through an echo upstream: closed between 0.9 and 3 s after the last byte, counted); an
# upstream that writes 64 KiB and resets: the client gets the 64 KiB, then a reset; an
# upstream's FIN the client never answers: --fin-timeout 1s closes the session, counted;
# --max-duration 1s closes a silent session, counted; both sides sent FIN but the upstream
# never reads the client's last 512 KiB: --fin-timeout 1s still ends the session (the relay
# lets go of its descriptors); SIGTERM with a session open: the relay closes it after
# --shutdown-timeout and exits cleanly with its totals.
# shellcheck source=relay_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/relay_lib.sh"
backend_setup "${1:-}"

relay_to() {
    start_server relay --threads 1 --upstream "127.0.0.1:$1" "${@:2}" "${BACKEND_ARGS[@]}"
}

peer_start banner "hello from upstream"
relay_to "$PEER_PORT"
peer_client banner "hello from upstream" || fail "the upstream's banner did not arrive"
stop_server

peer_start closeafter 102400
relay_to "$PEER_PORT"
peer_client closeafter 102400 || fail "upstream close after writing"
stop_server
expect_total relay_half_closes_u2c 1
expect_total relay_bytes_u2c 102400

peer_start replyafterfin
relay_to "$PEER_PORT"
peer_client replyafterfin $((1 * MIB)) || fail "the reply after the client's FIN was lost"
stop_server
expect_total relay_half_closes_c2u 1
expect_total relay_bytes_c2u $((1 * MIB))

peer_start upfin 4096
upfin_out=$PEER_OUT
relay_to "$PEER_PORT"
peer_client upfin 4096 $((1 * MIB)) || fail "client to upstream after the upstream's FIN"
have_recv() {
    grep -q '^recv ' "$upfin_out"
}
wait_until 5 have_recv || fail "the upstream never saw the client's FIN"
got=$(awk '/^recv / { print $2; exit }' "$upfin_out")
((got == 1 * MIB)) || fail "the upstream got $got bytes after its FIN, expected $((1 * MIB))"
stop_server
expect_total relay_half_closes_u2c 1
expect_total relay_half_closes_c2u 1

echo_upstream_start
relay_to "$ECHO_PORT" --idle-timeout 1s
run_bounded 30 "$TEST_TMP/idle.out" "$TEST_TMP/idle.err" python3 "$CONNCHECK" idle "$HOST" \
    "$PORT" 0.9 3 || { cat "$TEST_TMP/idle.err" >&2; fail "idle timeout"; }
stop_server
expect_total relay_idle_closes 1

peer_start rstafter 65536
relay_to "$PEER_PORT"
peer_client rstafter 65536 || fail "the upstream's reset was not passed on after its bytes"
stop_server
expect_total relay_resets_upstream 1

peer_start closeafter 10
relay_to "$PEER_PORT" --fin-timeout 1s
peer_client linger 2.5 || fail "linger client"
stop_server
expect_total relay_fin_timeouts 1

relay_to "$ECHO_PORT" --max-duration 1s
peer_client closed 3000 || fail "--max-duration 1s did not close a silent session"
stop_server
expect_total relay_max_duration_closes 1

peer_start finnoread 10
relay_to "$PEER_PORT" --fin-timeout 1s --window 1m --sndbuf 4k
base_fds=$(server_fd_count)
peer_client sendfin 524288 5 || fail "a session closing towards a stuck upstream outlived --fin-timeout"
fds_at_baseline() {
    (($(server_fd_count) <= base_fds))
}
wait_until 3 fds_at_baseline || fail "relay fds $(server_fd_count) > $base_fds after --fin-timeout"
stop_server
expect_total relay_fin_timeouts 1

relay_to "$ECHO_PORT" --shutdown-timeout 500
hold_out="$TEST_TMP/hold.out"
base_fds=$(server_fd_count)
python3 "$RELAYPEER" client closed "$HOST" "$PORT" 10000 >"$hold_out" 2>&1 &
hold=$!
track_pid "$hold"
# The session is open once the relay holds the client's and the upstream's descriptors (a
# fixed sleep lost the race to a slow python start on a loaded machine).
session_open() {
    (($(server_fd_count) >= base_fds + 2))
}
wait_until 10 session_open || fail "the relay did not open the session"
stop_server
rc=0
wait_pid "$hold" 15 || rc=$?
cat "$hold_out"
((rc == 0)) || fail "the session open at SIGTERM was not closed"
expect_total relay_accepted 1
expect_total relay_active 0
pass
