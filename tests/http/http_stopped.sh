#!/usr/bin/env bash
# http_stopped.sh BACKEND: a deadline is judged on what has arrived, not on when the server got
# round to looking. A head that arrived in time while the server process was stopped (SIGSTOP,
# as a debugger, a cgroup freeze or a starved VM does) is answered once it runs again, not
# given a 408: the wait that the stop interrupted must not go straight to the timers.
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"
backend_setup "${1:-}"

start_http "${BACKEND_ARGS[@]}" --threads 1 --header-timeout 2000 --keepalive-timeout 1000

# The head comes in two pieces 0.5 s apart, both well within the 2 s header timeout; the server
# is stopped from 0.2 s to 3.2 s, past the deadline.
"$HTTPRAW" --gap 500 --timeout 10 "$HPORT" 'GET / HTTP/1.1\r\nHo\pst: t\r\n\r\n' \
    >"$TEST_TMP/raw.out" 2>"$TEST_TMP/raw.err" &
raw_pid=$!
track_pid "$raw_pid"
sleep 0.2
kill -STOP "$SERVER_PID"
sleep 3
kill -CONT "$SERVER_PID"
wait "$raw_pid" || true
cat "$TEST_TMP/raw.out"
st=$(status_of "$TEST_TMP/raw.out")
[[ $st == 200 ]] || fail "a head that arrived in time got '$st' after the server was stopped"
stop_server
expect_total http_timeouts 1 # the idle keep-alive close after the answer, no 408
pass
