# shellcheck shell=bash
# Helpers for ringload's tests on top of tests/integ/lib.sh.
# shellcheck source=../integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integ/lib.sh"

[[ -n ${RINGLOAD:-} && -x ${RINGLOAD:-} ]] || fail "RINGLOAD must name the ringload binary"
command -v jq >/dev/null || fail "jq is needed (tools/install-deps.sh installs it)"

# start_stallecho ARGS...: starts the faulty echo server; sets STALL_PID and STALL_PORT.
start_stallecho() {
    local out="$TEST_TMP/stallecho.$RANDOM.out" i
    [[ -n ${STALLECHO:-} && -x ${STALLECHO:-} ]] || fail "STALLECHO must name stallecho"
    "$STALLECHO" --lifetime 60 "$@" >"$out" 2>&1 &
    STALL_PID=$!
    track_pid "$STALL_PID"
    for ((i = 0; i < 100; i++)); do
        grep -q '^stallecho: port' "$out" && break
        sleep 0.05
    done
    STALL_PORT=$(sed -n 's/^stallecho: port //p' "$out")
    [[ -n $STALL_PORT ]] || fail "stallecho did not start: $(cat "$out")"
}

stop_stallecho() {
    kill -TERM "$STALL_PID" 2>/dev/null || true
    wait_pid "$STALL_PID" 5 || true
}

# ringload_run NAME ARGS...: runs ringload (bounded), output in $TEST_TMP/NAME.{out,err};
# sets LOAD_RC.
ringload_run() {
    local name=$1
    shift
    LOAD_RC=0
    log "ringload $*"
    run_bounded 60 "$TEST_TMP/$name.out" "$TEST_TMP/$name.err" "$RINGLOAD" --no-progress "$@" ||
        LOAD_RC=$?
    cat "$TEST_TMP/$name.out"
    [[ -s $TEST_TMP/$name.err ]] && head -n 5 "$TEST_TMP/$name.err"
    return 0
}

# jnum FILE FILTER: a number from a JSON file.
jnum() {
    jq -e "$2" "$1" 2>/dev/null || fail "no $2 in $1"
}
