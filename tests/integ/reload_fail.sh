#!/usr/bin/env bash
# reload_fail.sh BACKEND: what a reload does when it cannot or must not happen, and the old
# process's drain (docs/operations.md, "Reload and upgrade"). An echo server with one idle
# connection open:
#  - a new process with a bad option, then one that cannot bind its address: each time
#    "reload failed: <reason>" is logged, the failed process is reaped (no zombie), the pid file
#    and the server are unchanged and it still serves, the idle connection included;
#  - a new process that never gets ready (it blocks reading a FIFO for --body-file): a second
#    SIGHUP meanwhile is refused, and after 10 s it is killed and "reload failed: ... not ready"
#    logged;
#  - a good reload: the pid file names the new process, new connections reach it, while the old
#    process keeps serving the idle connection it has (drain: not closed because it owes
#    nothing), refuses a SIGHUP, and exits as soon as that connection is closed;
#  - systemd, through a notify socket made here, hears RELOADING=1 for each reload, READY=1
#    after each failed one, and MAINPID=<new>, READY=1 after the good one;
#  - HTTP: a keep-alive connection's next request after the reload is answered by the old
#    process with Connection: close, then closed; new connections reach the new process.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

ARGS=$TEST_TMP/args
PIDFILE=$TEST_TMP/ringsock.pid
export RINGSOCK_TEST_RELOAD_ARGS=$ARGS

# echo_on FD WORD: WORD echoed on the connection open as FD, within 2 s.
echo_on() {
    local line
    echo "$2" >&"$1" || return 1
    read -r -t 2 line <&"$1" || return 1
    [[ $line == "$2" ]]
}

# new_conn WORD: a new connection echoes WORD.
new_conn() {
    local rc=0
    exec 6<>"/dev/tcp/127.0.0.1/$PORT" || return 1
    echo_on 6 "$1" || rc=1
    exec 6>&-
    return "$rc"
}

# log_waits PATTERN: the server's stderr gets a line matching PATTERN within 15 s.
log_waits() {
    wait_until 15 grep -q -- "$1" "$SERVER_ERR" || fail "no '$1' in the server's log"
}

# zombies PID: how many children of PID are exited and not reaped.
zombies() {
    local f st state ppid n=0
    for f in /proc/[0-9]*/stat; do
        st=$(cat "$f" 2>/dev/null) || continue
        read -r state ppid _ <<<"${st##*) }"
        [[ $state == Z && $ppid == "$1" ]] && n=$((n + 1))
    done
    echo "$n"
}

# systemd's side: a notify socket made here (notifyrecv.py, as integ.systemd does).
NLOG=$TEST_TMP/notify.log
python3 "$(dirname "${BASH_SOURCE[0]}")/notifyrecv.py" "$TEST_TMP/notify.sock" "$NLOG" 60 &
track_pid $!
wait_until 5 grep -q bound "$NLOG" || fail "the notify receiver did not start"
export NOTIFY_SOCKET=$TEST_TMP/notify.sock

start_server echo --tcp 127.0.0.1:0 --udp 127.0.0.1:0 --threads 2 --pid-file "$PIDFILE" \
    --drain-timeout 20s "${BACKEND_ARGS[@]}"
old=$SERVER_PID
[[ $(cat "$PIDFILE") == "$old" ]] || fail "the pid file does not name the server"
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
echo_on 5 idle-1 || fail "the idle connection does not echo"

# 1. a bad option: the new process says why, the old one reaps it and serves on.
printf '%s\n' echo --tcp "127.0.0.1:$PORT" --threads 2 --bogus-option >"$ARGS"
kill -HUP "$old"
log_waits "reload failed: unknown option .--bogus-option"
log "$(grep 'reload failed' "$SERVER_ERR" | tail -n 1)"
sleep 0.2
(($(zombies "$old") == 0)) || fail "the failed new process was not reaped"
[[ $(cat "$PIDFILE") == "$old" ]] || fail "a failed reload changed the pid file"
new_conn after-bad-option || fail "no new connection served after a failed reload"
echo_on 5 idle-2 || fail "the idle connection was lost by a failed reload"

# 2. an address the new process cannot bind.
printf '%s\n' echo --tcp "127.0.0.1:$PORT" --tcp 192.0.2.1:7 --threads 2 >"$ARGS"
kill -HUP "$old"
wait_until 15 bash -c "[[ \$(grep -c 'reload failed' '$SERVER_ERR') == 2 ]]" ||
    fail "no second 'reload failed'"
log "$(grep 'reload failed' "$SERVER_ERR" | tail -n 1)"
grep -q "reload failed: cannot listen on tcp://192.0.2.1:7" "$SERVER_ERR" ||
    fail "the bind error is not the reason given"
sleep 0.2
(($(zombies "$old") == 0)) || fail "the failed new process was not reaped"
new_conn after-bind-failure || fail "no new connection served after a failed reload"

# 3. a new process that never gets ready: a second SIGHUP is refused; it is killed after 10 s.
mkfifo "$TEST_TMP/fifo"
printf '%s\n' http --tcp "127.0.0.1:$PORT" --body-file "$TEST_TMP/fifo" >"$ARGS"
kill -HUP "$old"
log_waits "reload: started a new process"
sleep 0.5
kill -HUP "$old"
log_waits "reload refused: a reload is already in flight"
log_waits "reload failed: new process [0-9]* not ready within 10000 ms"
log "$(grep 'reload failed' "$SERVER_ERR" | tail -n 1)"
sleep 0.2
(($(zombies "$old") == 0)) || fail "the killed new process was not reaped"
[[ $(cat "$PIDFILE") == "$old" ]] || fail "a failed reload changed the pid file"
echo_on 5 idle-3 || fail "the idle connection was lost by a failed reload"

# 4. a good reload: the old process drains, serving the idle connection until it is closed.
printf '%s\n' echo --tcp "127.0.0.1:$PORT" --threads 1 --pid-file "$PIDFILE" \
    "${BACKEND_ARGS[@]}" >"$ARGS"
kill -HUP "$old"
log_waits "reload: new process [0-9]* serves"
new=$(cat "$PIDFILE")
if [[ $new == "$old" ]] || ! proc_alive "$new"; then
    fail "the pid file does not name a new process"
fi
track_pid "$new"
new_conn to-new || fail "no new connection served after the reload"
sleep 1
echo_on 5 idle-4 || fail "the old process did not keep serving its idle connection"
proc_alive "$old" || fail "the old process exited with a connection open"
kill -HUP "$old"
log_waits "reload refused: this process is draining"
exec 5>&-
wait_until 3 bash -c "! grep -q . /proc/$old/stat 2>/dev/null || grep -q ') Z' /proc/$old/stat" ||
    fail "the old process did not exit once its last connection closed"
wait "$old" || fail "the old process exited with status $?"
SERVER_PID=""
grep -q '^ringsock: totals ' "$SERVER_OUT" || fail "the old process printed no totals"
# What systemd heard: READY=1 at start; per failed reload RELOADING=1 (with the time), then
# READY=1 again; for the good one RELOADING=1, then MAINPID=new and READY=1 from the old
# process (the new one sends no READY=1 of its own: it is not the main pid yet).
heard=$(awk '$2 != "bound" { print $2 }' "$NLOG" | sed -E 's/\|STATUS=[^|]*//; s/=[0-9]{6,}/=T/')
want="READY=1
RELOADING=1|MONOTONIC_USEC=T
READY=1
RELOADING=1|MONOTONIC_USEC=T
READY=1
RELOADING=1|MONOTONIC_USEC=T
READY=1
RELOADING=1|MONOTONIC_USEC=T
MAINPID=$new|READY=1"
[[ $heard == "$want" ]] || fail "systemd was told:
$heard
expected:
$want"
unset NOTIFY_SOCKET
log "old process $old exited once its last connection closed; new process $new serves"
kill -TERM "$new"
wait_until 5 bash -c "! kill -0 $new 2>/dev/null" || fail "the new process did not stop"

# 5. HTTP keep-alive: the old process ends a kept-alive connection after its next answer.
printf '%s\n' http --tcp "127.0.0.1:$PORT" --pid-file "$PIDFILE" "${BACKEND_ARGS[@]}" >"$ARGS"
"$RINGSOCK" http --tcp "127.0.0.1:$PORT" --pid-file "$PIDFILE" "${BACKEND_ARGS[@]}" \
    >>"$TEST_TMP/http.out" 2>&1 &
track_pid $!
wait_until 5 grep -q "listening on" "$TEST_TMP/http.out" || fail "the HTTP server did not start"
python3 "$(dirname "${BASH_SOURCE[0]}")/reloadcheck.py" httpkeep 127.0.0.1 "$PORT" "$PIDFILE" ||
    fail "HTTP keep-alive across a reload"
http_new=$(cat "$PIDFILE")
track_pid "$http_new"
kill -TERM "$http_new"
wait_until 5 bash -c "! kill -0 $http_new 2>/dev/null" || fail "the HTTP server did not stop"
pass
