#!/usr/bin/env bash
# ringload_interrupt.sh: Ctrl-C (SIGINT) or SIGTERM ends a run early the way wrk's does: the
# measured window closes at the signal, every outstanding answer is still awaited and verified,
# and the summary and JSON report what was measured, over the time actually measured (not the
# -d asked for), exit 0. A signal during the warm-up measures nothing: exit 1, saying so. A
# second signal ends ringload at once.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

BACKEND=${1:-io_uring}
start_server echo --backend "$BACKEND"

# interrupt NAME SIG AFTER ARGS...: runs ringload ARGS in the background, sends SIG after AFTER
# seconds; output in $TEST_TMP/NAME.{out,err}; sets LOAD_RC and ELAPSED (seconds, from start to
# exit).
interrupt() {
    local name=$1 sig=$2 after=$3 pid t0 i
    shift 3
    log "ringload $* (SIG$sig after ${after}s)"
    t0=$(date +%s.%N)
    "$RINGLOAD" --no-progress --backend "$BACKEND" "$@" >"$TEST_TMP/$name.out" \
        2>"$TEST_TMP/$name.err" &
    pid=$!
    track_pid "$pid"
    sleep "$after"
    kill "-$sig" "$pid"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && fail "$name: ringload still running 10 s after SIG$sig"
    LOAD_RC=0
    wait "$pid" || LOAD_RC=$?
    ELAPSED=$(echo "$(date +%s.%N) - $t0" | bc)
    cat "$TEST_TMP/$name.out"
    head -n 5 "$TEST_TMP/$name.err"
}

for sig in INT TERM; do
    j=$TEST_TMP/$sig.json
    interrupt "$sig" "$sig" 2 -c 20 -t 2 -d 60s --json "$j" "tcp://127.0.0.1:$PORT"
    ((LOAD_RC == 0)) || fail "SIG$sig: exit $LOAD_RC, want 0"
    (($(echo "$ELAPSED < 8" | bc))) || fail "SIG$sig: ringload took ${ELAPSED}s to stop"
    grep -qE '^(Requests|Messages)/sec:' "$TEST_TMP/$sig.out" || fail "SIG$sig: no summary"
    # The header says how long was measured (about 2 s), not the 60 s asked for.
    grep -qE '^Running [12](\.[0-9]+)?s test' "$TEST_TMP/$sig.out" ||
        fail "SIG$sig: header '$(head -n 1 "$TEST_TMP/$sig.out")'"
    grep -qi 'interrupted' "$TEST_TMP/$sig.err" "$TEST_TMP/$sig.out" ||
        fail "SIG$sig: the report does not say the run was interrupted"
    d=$(jnum "$j" .duration_s)
    # The window ran about 2 s (minus start-up), not the 60 s asked for.
    (($(echo "$d > 0.5 && $d < 4" | bc))) || fail "SIG$sig: duration_s $d, want about 2"
    msgs=$(jnum "$j" .messages)
    ((msgs > 100)) || fail "SIG$sig: $msgs messages"
    (($(jnum "$j" .errors.verify) == 0)) || fail "SIG$sig: verify errors"
    (($(jnum "$j" '.errors.timeout + .errors.read + .errors.write') == 0)) ||
        fail "SIG$sig: errors $(jq -c .errors "$j")"
    (($(jnum "$j" .histogram.total) == msgs)) || fail "SIG$sig: histogram total differs"
    log "SIG$sig: stopped after ${ELAPSED}s, duration_s $d, $msgs messages"
done

# Constant rate: the schedule stops at the signal too.
interrupt rate INT 2 -c 10 -R 2000 -d 60s --json "$TEST_TMP/rate.json" "tcp://127.0.0.1:$PORT"
((LOAD_RC == 0)) || fail "rate: exit $LOAD_RC"
msgs=$(jnum "$TEST_TMP/rate.json" .messages)
# About 2 s x 2000/s; well below 60 s x 2000/s.
((msgs > 1000 && msgs < 8000)) || fail "rate: $msgs messages, want about 4000"

# During the warm-up nothing is measured: status 1, said on stderr.
interrupt warm INT 1 -c 4 --warmup 30s -d 10s "tcp://127.0.0.1:$PORT"
((LOAD_RC == 1)) || fail "warm-up: exit $LOAD_RC, want 1"
grep -qi 'interrupted during the warm-up' "$TEST_TMP/warm.err" || fail "warm-up: not said"

# --idle: the hold ends at the signal, then the check runs as usual.
interrupt idle INT 2 --idle -c 50 -d 60s --json "$TEST_TMP/idle.json" "tcp://127.0.0.1:$PORT"
((LOAD_RC == 0)) || fail "idle: exit $LOAD_RC, want 0"
(($(echo "$ELAPSED < 8" | bc))) || fail "idle: ringload took ${ELAPSED}s to stop"
hold=$(jnum "$TEST_TMP/idle.json" .idle.hold_s)
(($(echo "$hold > 0.5 && $hold < 4" | bc))) || fail "idle: held ${hold}s, want about 2"

# A second signal ends ringload at once, even while answers are still awaited: here the server
# is stopped (SIGSTOP), so none come back.
log "ringload against a stopped server: SIGINT twice"
"$RINGLOAD" --no-progress --backend "$BACKEND" -c 4 -d 60s --timeout 60s \
    "tcp://127.0.0.1:$PORT" >"$TEST_TMP/twice.out" 2>"$TEST_TMP/twice.err" &
pid=$!
track_pid "$pid"
sleep 1
kill -STOP "$SERVER_PID"
kill -INT "$pid"
sleep 1
kill -0 "$pid" 2>/dev/null || fail "twice: ended after one signal with answers outstanding"
kill -INT "$pid"
for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "twice: still running 5 s after the second SIGINT"
rc=0
wait "$pid" || rc=$?
((rc == 130)) || fail "twice: exit $rc, want 130 (killed by SIGINT)"
kill -CONT "$SERVER_PID"

stop_server
pass
