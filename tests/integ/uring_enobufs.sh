#!/usr/bin/env bash
# uring_enobufs.sh BACKEND (io_uring variants only): a 4-buffer receive ring under 1000
# connections streaming at once, on one worker. The ring runs dry all the time: each receive
# that finds it empty ends with ENOBUFS and must be armed again. Checks: every byte echoed in
# order, and the receive SQEs a loop turn issues stay bounded, not O(connections).
#
# The bound. Receives are re-armed (recv_rearms) after a one-shot receive delivered data (at
# most one per buffer the turn gave back: <= 4) and for connections that ran out of buffers
# (at most as many as buffers came back that turn, and at least a floor of 4 so that nothing
# waits for ever: <= 4). So a turn that reaped events re-arms at most ~8 receives; the test
# allows 16 on average (recv_rearms / loop_batches). Re-arming every starved connection each
# turn, as a naive loop does, costs hundreds per turn here.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
[[ $BACKEND == io_uring* ]] || { echo "usage: $0 io_uring|io_uring-oneshot" >&2; exit 2; }

CONNS=1000
BYTES=$((64 * 1024))
MAX_PER_TURN=16
need=$((CONNS + 64))
(($(ulimit -n) >= need)) || ulimit -n "$need" 2>/dev/null ||
    skip "needs $need descriptors per process (ulimit -n is $(ulimit -n), hard $(ulimit -Hn))"

start_server echo "${BACKEND_ARGS[@]}" --threads 1 --buf-count 4 --buf-size 4096
run_client stream --count "$CONNS" --bytes "$BYTES" --timeout 90 "$HOST" "$PORT" ||
    fail "stream check with a 4-buffer ring failed (or timed out)"
stop_server
expect_total bytes_in $((CONNS * BYTES))
expect_total bytes_out $((CONNS * BYTES))
expect_total conns_accepted "$CONNS"
enobufs=$(total_field enobufs)
rearms=$(total_field recv_rearms)
turns=$(total_field loop_batches)
log "enobufs=$enobufs recv_rearms=$rearms loop_batches=$turns" \
    "rearms/turn=$(awk -v a="$rearms" -v b="$turns" 'BEGIN { printf "%.2f", a / (b ? b : 1) }')"
((enobufs > 0)) || fail "a 4-buffer ring under $CONNS connections never ran out (enobufs=0)"
((turns > 0)) || fail "no loop turns counted"
((rearms <= MAX_PER_TURN * turns)) ||
    fail "$rearms receive re-arms in $turns turns: more than $MAX_PER_TURN per turn"
pass
