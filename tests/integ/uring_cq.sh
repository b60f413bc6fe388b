#!/usr/bin/env bash
# uring_cq.sh BACKEND (io_uring variants only): an 8-entry SQ and a 16-entry CQ
# (RINGSOCK_TEST_URING_SQ/CQ) under 2000 connections streaming at once, on one worker. The SQ
# fills in every batch (SQEs are submitted early or wait for the next turn) and the CQ overflows
# (the kernel parks completions in its overflow list, IORING_SQ_CQ_OVERFLOW). Checks: every
# byte echoed in order, the run bounded in time (no hang, no lost completion leaving a
# connection waiting), the overflows counted (cq_overflows > 0 in the totals).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
[[ $BACKEND == io_uring* ]] || { echo "usage: $0 io_uring|io_uring-oneshot" >&2; exit 2; }

CONNS=2000
BYTES=$((32 * 1024))
# Client and server each hold a descriptor per connection, plus a few.
need=$((CONNS + 64))
(($(ulimit -n) >= need)) || ulimit -n "$need" 2>/dev/null ||
    skip "needs $need descriptors per process (ulimit -n is $(ulimit -n), hard $(ulimit -Hn))"

export RINGSOCK_TEST_URING_SQ=8 RINGSOCK_TEST_URING_CQ=16
start_server echo "${BACKEND_ARGS[@]}" --threads 1
unset RINGSOCK_TEST_URING_SQ RINGSOCK_TEST_URING_CQ
run_client stream --count "$CONNS" --bytes "$BYTES" --max-write 8K --timeout 60 \
    "$HOST" "$PORT" || fail "stream check with an 8/16-entry ring failed (or timed out)"
stop_server
expect_total bytes_in $((CONNS * BYTES))
expect_total bytes_out $((CONNS * BYTES))
expect_total conns_accepted "$CONNS"
overflows=$(total_field cq_overflows)
busy=$(total_field cq_busy)
log "cq_overflows=$overflows cq_busy=$busy"
((overflows > 0)) || fail "a 16-entry CQ under $CONNS connections never overflowed (cq_overflows=0)"
pass
