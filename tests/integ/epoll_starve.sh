#!/usr/bin/env bash
# epoll_starve.sh: the epoll backend's pending work (reads stopped at their budget, resumed
# reads, failed connects, deferred releases) runs on the next loop turn, not only when epoll_wait
# came back with fewer events than its array holds. With RINGSOCK_TEST_EPOLL_EVENTS=4 the array
# comes back full on nearly every turn while 400 ping-pong connections are always busy; one
# firehose connection beside them (writing as fast as the server reads, every echoed byte
# checked by starvecheck) stops at its read budget each turn and goes on the pending list. One
# worker, so all of it meets on one loop.
#
# Judged in loop turns, not milliseconds (on a shared machine a stall in ms is scheduler noise
# as much as the server's): the exit totals must show that the array came back full at least
# 500 times (loop_full_turns; the condition the old code starved under) and that nothing waited
# on the pending list more than 2 turns (pending_wait_max: 1 is the next turn). The old code
# (5b25601 reverted) showed pending_wait_max of 385..2863 under this load. Takes no argument.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STARVECHECK=${STARVECHECK_BIN:-$(dirname "$STREAMCHECK")/starvecheck}
[[ -x $STARVECHECK ]] || fail "starvecheck not found (tried $STARVECHECK)"
BACKEND=epoll
MIN_FULL_TURNS=500
MAX_WAIT_TURNS=2

export RINGSOCK_TEST_EPOLL_EVENTS=4
start_server echo --backend epoll --threads 1 --tcp 127.0.0.1:0
unset RINGSOCK_TEST_EPOLL_EVENTS
out="$TEST_TMP/starve.out"
rc=0
log "starvecheck --conns 400 --seconds 3 $HOST $PORT"
run_bounded 50 "$out" "$out.err" "$STARVECHECK" --conns 400 --seconds 3 "$HOST" "$PORT" || rc=$?
cat "$out"
cat "$out.err" >&2
((rc == 0)) || fail "starvecheck failed (status $rc): $(tail -n 1 "$out.err")"
stop_server
full=$(total_field loop_full_turns)
turns=$(total_field loop_batches)
wait_max=$(total_field pending_wait_max)
log "loop_full_turns=$full of loop_batches=$turns, pending_wait_max=$wait_max"
((full >= MIN_FULL_TURNS)) ||
    fail "the event array came back full only $full times (need $MIN_FULL_TURNS): no starving load"
((wait_max >= 1)) || fail "nothing went on the pending list: the firehose never hit its budget"
((wait_max <= MAX_WAIT_TURNS)) ||
    fail "pending work waited $wait_max loop turns (limit $MAX_WAIT_TURNS): it starved"
pass
