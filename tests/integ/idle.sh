#!/usr/bin/env bash
# idle.sh BACKEND: --idle-timeout closes echo, discard and sockperf connections that moved no
# byte either way for the duration (not before, not long after), leaves busy ones alone, resets
# a peer that stopped reading while it is owed bytes (counted as a send timeout), and 100 such
# peers at once (fds back to the baseline), and 0 turns it off; the releases are counted by
# reason (conns_closed_*), adding up to conns_closed.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
command -v python3 >/dev/null || skip "python3 is not installed"
CONNCHECK=(python3 "$(dirname "${BASH_SOURCE[0]}")/conncheck.py")

check() {
    local out="$TEST_TMP/check.$RANDOM.out" err="$TEST_TMP/check.$RANDOM.err" rc=0
    run_bounded 30 "$out" "$err" "${CONNCHECK[@]}" "$@" || rc=$?
    cat "$out"
    ((rc == 0)) || fail "conncheck $*: $(cat "$err")"
}

start_server echo "${BACKEND_ARGS[@]}" --threads 1 --idle-timeout 1s --write-queue 64k \
    --sndbuf 16k --rcvbuf 16k
base_fds=$(server_fd_count)
check idle "$HOST" "$PORT" 0.9 2.0
check busy "$HOST" "$PORT" 3 0.2
check noread "$HOST" "$PORT" 0.3 2.2
# Many stuck peers at once: each is reset, none pins its queue.
check noread_many "$HOST" "$PORT" 100 3
fds_at_baseline() {
    (($(server_fd_count) <= base_fds))
}
wait_until 3 fds_at_baseline ||
    fail "server fd count is $(server_fd_count) after the timeouts, baseline $base_fds"
stop_server
expect_total idle_timeouts 1
expect_total send_timeouts 101
accepted=$(total_field conns_accepted)
closed=$(total_field conns_closed)
((accepted == 103 && closed == 103)) ||
    fail "conns_accepted=$accepted conns_closed=$closed, want 103"
# The releases by reason: the idle one, the 101 send timeouts, the busy one ended by its peer's
# FIN; they add up to conns_closed.
expect_total conns_closed_idle 1
expect_total conns_closed_send_timeout 101
expect_total conns_closed_peer 1
sum=0
for r in peer reset error server idle send_timeout stopping limit; do
    sum=$((sum + $(total_field "conns_closed_$r")))
done
((sum == closed)) || fail "the conns_closed_* add up to $sum, conns_closed=$closed"

# 0 = off: 3 s of silence and the connection still echoes.
start_server echo "${BACKEND_ARGS[@]}" --threads 1 --idle-timeout 0
check quiet "$HOST" "$PORT" 3
stop_server
expect_total idle_timeouts 0

# discard and sockperf (TCP) time out the same way.
for svc in discard sockperf; do
    start_server "$svc" "${BACKEND_ARGS[@]}" --threads 1 --idle-timeout 1s
    check silent "$HOST" "$PORT" 0.9 2.0
    stop_server
    expect_total "$([[ $svc == sockperf ]] && echo sockperf_)idle_timeouts" 1
done
pass
