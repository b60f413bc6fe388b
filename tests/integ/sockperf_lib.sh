# shellcheck shell=bash
# sockperf_lib.sh: helpers for the sockperf responder's tests (ringsock sockperf against
# sockperf's own clients, and against sockperfcheck) on top of lib.sh.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOCKPERFCHECK=${SOCKPERFCHECK:-$(dirname "$STREAMCHECK")/sockperfcheck}
[[ -x $SOCKPERFCHECK ]] || fail "SOCKPERFCHECK must name sockperfcheck (tried $SOCKPERFCHECK)"

# need_sockperf: skips the test (77) unless sockperf's client is installed.
need_sockperf() {
    command -v sockperf >/dev/null ||
        skip "sockperf is not installed (Debian package sockperf; tools/install-deps.sh)"
}

# start_sockperf_server ARGS...: ringsock sockperf on TCP and UDP 127.0.0.1, ports chosen by
# the kernel; sets PORT (TCP) and UDP_PORT.
start_sockperf_server() {
    start_udp_server sockperf --tcp 127.0.0.1:0 --udp 127.0.0.1:0 "$@"
    [[ $SERVER_LINE == "ringsock: sockperf listening on"* ]] ||
        fail "not the sockperf service: $SERVER_LINE"
}

SP_PIDS=()  # sockperf clients started by sockperf_start, in order
SP_OUTS=()  # their output files

# sockperf_start ARGS...: starts `sockperf ARGS` in the background (stdout and stderr to one
# file); appends to SP_PIDS and SP_OUTS.
sockperf_start() {
    local out="$TEST_TMP/sockperf.${#SP_OUTS[@]}.out"
    log "sockperf $*"
    sockperf "$@" >"$out" 2>&1 &
    track_pid "$!"
    SP_PIDS+=("$!")
    SP_OUTS+=("$out")
}

# sockperf_wait I SECONDS: waits for the I-th client of sockperf_start, bounded; shows its
# summary lines (colour codes removed) and fails unless it exited 0. Sets SP_OUT to its output.
sockperf_wait() {
    local i=$1 limit=$2 rc=0
    wait_pid "${SP_PIDS[$i]}" "$limit" || rc=$?
    SP_OUT=$(sed 's/\x1b\[[0-9;]*m//g' "${SP_OUTS[$i]}")
    grep -E 'Total Run|Valid Duration|dropped messages|Summary|percentile 50|Total of|ERROR' \
        <<<"$SP_OUT" || true
    ((rc == 0)) || fail "sockperf client $i exited with status $rc: $(tail -n 3 "${SP_OUTS[$i]}")"
}

# sp_total NAME: NAME=N from sockperf's "[Total Run]" line (SentMessages, ReceivedMessages).
sp_total() {
    local line
    line=$(grep -m 1 '\[Total Run\]' <<<"$SP_OUT") || fail "no [Total Run] line from sockperf"
    [[ $line =~ $1=([0-9]+) ]] || fail "no $1= in: $line"
    echo "${BASH_REMATCH[1]}"
}

# sp_expect_clean: sockperf's own accounting shows no dropped, duplicated or out-of-order
# answers.
sp_expect_clean() {
    local line
    line=$(grep -m 1 'dropped messages' <<<"$SP_OUT") || fail "no dropped-messages line"
    [[ $line =~ dropped\ messages\ =\ 0\;.*duplicated\ messages\ =\ 0\;.*out-of-order\ messages\ =\ 0 ]] ||
        fail "sockperf saw answers lost, duplicated or out of order: $line"
}

# sp_tp_sent: the message count of a `sockperf tp` run ("Total of N messages sent").
sp_tp_sent() {
    [[ $SP_OUT =~ Total\ of\ ([0-9]+)\ messages\ sent ]] || fail "no 'Total of N messages sent'"
    echo "${BASH_REMATCH[1]}"
}

SPC_LINE=""  # the summary line of the last sockperfcheck run

# run_spcheck SECONDS ARGS...: runs sockperfcheck ARGS bounded; shows its output, sets
# SPC_LINE to its last stdout line and returns its status (124 if it had to be killed).
run_spcheck() {
    local limit=$1 out="$TEST_TMP/spc.$RANDOM.out" rc=0
    shift
    log "sockperfcheck $*"
    run_bounded "$limit" "$out" "$out.err" "$SOCKPERFCHECK" "$@" || rc=$?
    cat "$out"
    cat "$out.err" >&2
    SPC_LINE=$(tail -n 1 "$out")
    return "$rc"
}

# spc_field NAME: a value from SPC_LINE.
spc_field() {
    [[ $SPC_LINE =~ (^|[[:space:]])$1=([0-9]+) ]] || fail "no $1= in: $SPC_LINE"
    echo "${BASH_REMATCH[2]}"
}
