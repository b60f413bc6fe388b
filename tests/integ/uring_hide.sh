#!/usr/bin/env bash
# uring_hide.sh: the io_uring backend's fallbacks, each reached by hiding one probed feature
# with RINGSOCK_TEST_URING_HIDE, as a kernel lacking it would. Without multishot recv or accept
# the one-shot path is used, the listening line says so, and echo is byte-exact; without
# DEFER_TASKRUN or SINGLE_ISSUER the ring is made without them; without provided buffer rings or
# a needed opcode, --backend auto falls back to epoll saying why (and still echoes) and
# --backend io_uring refuses in one line; a feature only recorded changes nothing; an unknown
# name is refused. Takes no backend argument.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset RINGSOCK_TEST_URING_FAIL RINGSOCK_TEST_URING_NO_MULTISHOT RINGSOCK_TEST_URING_HIDE

if io_uring_disabled; then
    skip "io_uring is disabled here (/proc/sys/kernel/io_uring_disabled =" \
        "$(cat /proc/sys/kernel/io_uring_disabled))"
fi

CONNS=8
FEATURES=""

# features: sets FEATURES to what the listening line says of io_uring ("multishot accept, ...").
features() {
    [[ $SERVER_LINE =~ backend\ io_uring:\ ([^\;]*)\; ]] ||
        fail "${RINGSOCK_TEST_URING_HIDE:-nothing} hidden: not on io_uring: $SERVER_LINE"
    FEATURES=${BASH_REMATCH[1]}
}

# echo_check WHAT: CONNS connections echoed byte-exact through the running server, every one
# accepted (one-shot accept re-arms between them), then the server stopped.
echo_check() {
    run_client stream --count "$CONNS" --bytes 256K --max-write 64K --timeout 30 \
        "$HOST" "$PORT" || fail "$1: echo is not byte-exact"
    stop_server
    expect_total conns_accepted "$CONNS"
    expect_total bytes_out $((CONNS * 256 * 1024))
}

# expect_features HIDE WANT: with HIDE hidden, io_uring is chosen by auto, its features read
# WANT, and it echoes.
expect_features() {
    export RINGSOCK_TEST_URING_HIDE=$1
    start_server echo --backend auto
    features
    [[ $FEATURES == "$2" ]] || fail "$1 hidden: features '$FEATURES', expected '$2'"
    echo_check "$1 hidden"
    unset RINGSOCK_TEST_URING_HIDE
}

# expect_fallback HIDE REASON: with HIDE hidden, auto falls back to epoll with a reason that
# contains REASON and names the switch, and echoes; --backend io_uring exits non-zero within
# 5 s with one line on stderr giving the same reason.
expect_fallback() {
    local out="$TEST_TMP/refuse.$1.out" err="$TEST_TMP/refuse.$1.err" rc=0 lines reason
    export RINGSOCK_TEST_URING_HIDE=$1
    start_server echo --backend auto
    [[ $SERVER_LINE =~ backend\ epoll:\ *([^\;]*)\; ]] ||
        fail "$1 hidden: auto does not say 'backend epoll: REASON': $SERVER_LINE"
    reason=${BASH_REMATCH[1]}
    [[ $reason == *"$2"* ]] || fail "$1 hidden: fallback reason '$reason' lacks '$2'"
    [[ $reason == *RINGSOCK_TEST_URING_HIDE* ]] ||
        fail "$1 hidden: fallback reason '$reason' does not name the test switch"
    echo_check "$1 hidden, epoll"

    run_bounded 5 "$out" "$err" "$RINGSOCK" echo --backend io_uring --tcp 127.0.0.1:0 || rc=$?
    ((rc != 124)) || fail "$1 hidden: --backend io_uring still ran after 5 s"
    ((rc != 0)) || fail "$1 hidden: --backend io_uring exited 0"
    lines=$(wc -l <"$err")
    ((lines == 1)) || fail "$1 hidden: expected one line on stderr, got $lines: $(cat "$err")"
    grep -qF "$2" "$err" || fail "$1 hidden: --backend io_uring refusal lacks '$2': $(cat "$err")"
    log "$1 hidden, --backend io_uring: exit $rc: $(cat "$err")"
    unset RINGSOCK_TEST_URING_HIDE
}

# What this kernel offers, nothing hidden.
start_server echo --backend auto
if [[ $SERVER_LINE == *"backend epoll"* ]] && [[ $SERVER_LINE =~ $URING_REFUSED_RE ]]; then
    skip "the kernel refuses io_uring: $SERVER_LINE"
fi
features
BASE=$FEATURES
[[ $BASE =~ ^(multishot|one-shot)\ accept,\ (multishot|one-shot)\ recv,\ buffer\ ring\ [0-9]+x[0-9]+ ]] ||
    fail "features line has an unexpected shape: '$BASE'"
echo_check "nothing hidden"

# Multishot accept (5.19) and recv (6.0): the one-shot paths (a one-shot recv needs no byte
# limit, so the line no longer names it).
ONE_RECV=${BASE/multishot recv/one-shot recv}
ONE_RECV=${ONE_RECV/, recv byte limit/}
ONE_ACCEPT=${BASE/multishot accept/one-shot accept}
ONE_BOTH=${ONE_RECV/multishot accept/one-shot accept}
expect_features multishot_recv "$ONE_RECV"
expect_features multishot_accept "$ONE_ACCEPT"
expect_features multishot_recv,multishot_accept "$ONE_BOTH"
# The byte limit of multishot recv (6.17): multishot stays, the line no longer names the limit.
expect_features multishot_recv_limit "${BASE/, recv byte limit/}"
export RINGSOCK_TEST_URING_NO_MULTISHOT=1 # the older switch, now the same thing
start_server echo --backend io_uring
features
[[ $FEATURES == "$ONE_BOTH" ]] ||
    fail "RINGSOCK_TEST_URING_NO_MULTISHOT=1: features '$FEATURES', expected '$ONE_BOTH'"
echo_check "RINGSOCK_TEST_URING_NO_MULTISHOT=1"
unset RINGSOCK_TEST_URING_NO_MULTISHOT

# DEFER_TASKRUN (6.1): COOP_TASKRUN (5.19) instead, still single issuer where the kernel has it.
if [[ $BASE == *"defer taskrun"* ]]; then
    expect_features defer_taskrun "${BASE/defer taskrun/coop taskrun}"
else
    expect_features defer_taskrun "$BASE"
fi
# SINGLE_ISSUER (6.0), which DEFER_TASKRUN needs: neither.
export RINGSOCK_TEST_URING_HIDE=single_issuer
start_server echo --backend auto
features
[[ $FEATURES != *"single issuer"* && $FEATURES != *"defer taskrun"* ]] ||
    fail "single_issuer hidden: features still '$FEATURES'"
echo_check "single_issuer hidden"
unset RINGSOCK_TEST_URING_HIDE

# A feature only recorded (RECVMSG, for the datagram path): nothing changes.
expect_features recvmsg "$BASE"

# Needed ones: provided buffer rings (5.19), an opcode, IORING_FEAT_NODROP (5.5).
expect_fallback buf_ring "provided buffer rings"
expect_fallback sendmsg "the sendmsg operation"
expect_fallback nodrop "IORING_FEAT_NODROP"

# A name the backend does not know is refused, not silently ignored.
out="$TEST_TMP/bogus.out"
err="$TEST_TMP/bogus.err"
rc=0
run_bounded 5 "$out" "$err" env RINGSOCK_TEST_URING_HIDE=multishot_recv,no_such_thing \
    "$RINGSOCK" echo --backend io_uring --tcp 127.0.0.1:0 || rc=$?
((rc != 0 && rc != 124)) || fail "an unknown hidden name: --backend io_uring exit $rc"
grep -q "no_such_thing" "$err" || fail "the refusal does not name the unknown feature: $(cat "$err")"
log "unknown name: exit $rc: $(cat "$err")"
pass
