#!/usr/bin/env bash
# backend.sh: backend selection. With io_uring made to fail (RINGSOCK_TEST_URING_FAIL),
# --backend io_uring must refuse to start with one clear line, and --backend auto must fall
# back to epoll and say why; without it, auto must pick io_uring. Takes no backend argument.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset RINGSOCK_TEST_URING_FAIL RINGSOCK_TEST_URING_NO_MULTISHOT RINGSOCK_TEST_URING_HIDE

# check_refusal ERRNO: a forced io_uring failure makes --backend io_uring exit non-zero in 5 s.
check_refusal() {
    local out="$TEST_TMP/refuse.$1.out" err="$TEST_TMP/refuse.$1.err" rc=0 lines
    run_bounded 5 "$out" "$err" env RINGSOCK_TEST_URING_FAIL="$1" \
        "$RINGSOCK" echo --backend io_uring --tcp 127.0.0.1:0 || rc=$?
    ((rc != 124)) || fail "RINGSOCK_TEST_URING_FAIL=$1 --backend io_uring still ran after 5 s"
    ((rc != 0)) || fail "RINGSOCK_TEST_URING_FAIL=$1 --backend io_uring exited 0"
    lines=$(wc -l <"$err")
    ((lines == 1)) || fail "expected one line on stderr, got $lines: $(cat "$err")"
    grep -q 'io_uring' "$err" || fail "stderr does not mention io_uring: $(cat "$err")"
    log "forced $1: exit $rc: $(cat "$err")"
}
check_refusal EPERM
check_refusal ENOSYS

export RINGSOCK_TEST_URING_FAIL=EPERM
start_server echo --backend auto
[[ $SERVER_LINE =~ backend\ epoll:\ *([^\)]*) ]] ||
    fail "auto with io_uring failing does not say 'backend epoll: REASON': $SERVER_LINE"
reason=${BASH_REMATCH[1]}
[[ $reason == *io_uring* ]] || fail "fallback reason does not mention io_uring: '$reason'"
run_client stream --count 5 --bytes 256K --timeout 30 "$HOST" "$PORT" ||
    fail "the epoll fallback does not echo"
stop_server
unset RINGSOCK_TEST_URING_FAIL

if io_uring_disabled; then
    skip "io_uring is disabled here (/proc/sys/kernel/io_uring_disabled =" \
        "$(cat /proc/sys/kernel/io_uring_disabled)), so auto cannot be expected to pick it"
fi
start_server echo --backend auto
if [[ $SERVER_LINE == *"backend epoll"* ]] &&
    [[ $SERVER_LINE =~ (not permitted|not implemented|EPERM|ENOSYS) ]]; then
    skip "the kernel refuses io_uring: $SERVER_LINE"
fi
[[ $SERVER_LINE == *"backend io_uring"* ]] ||
    fail "auto did not pick io_uring although it is enabled: $SERVER_LINE"
run_client stream --count 5 --bytes 256K --timeout 30 "$HOST" "$PORT" ||
    fail "auto-selected io_uring does not echo"
stop_server
pass
