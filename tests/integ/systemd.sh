#!/usr/bin/env bash
# systemd.sh: the notify protocol against a NOTIFY_SOCKET this test makes (notifyrecv.py), and
# --pid-file. READY=1 comes once the server listens; WATCHDOG=1 comes every half WATCHDOG_USEC
# while every worker's loop turns, stops while worker 1 is wedged (RINGSOCK_TEST_WEDGE) and
# comes back after; none when WATCHDOG_PID names another process; STOPPING=1 on SIGTERM. The
# pid file holds the pid while the server runs and is gone after.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed"
RECV=(python3 "$(dirname "${BASH_SOURCE[0]}")/notifyrecv.py")

# recv_start NAME: starts the receiver on NAME, writing $TEST_TMP/notify.N; sets NOTIFY_OUT.
recv_start() {
    NOTIFY_OUT="$TEST_TMP/notify.$RANDOM"
    "${RECV[@]}" "$1" "$NOTIFY_OUT" 60 &
    RECV_PID=$!
    track_pid "$RECV_PID"
    wait_until 5 grep -q bound "$NOTIFY_OUT" 2>/dev/null || fail "notify receiver did not start"
}
recv_stop() {
    kill -TERM "$RECV_PID" 2>/dev/null || true
    wait_pid "$RECV_PID" 5 || true
}
# got MSG: the receiver saw a datagram starting with MSG.
got() {
    grep -q "^[0-9.]* $1" "$NOTIFY_OUT"
}
# pings FROM TO: WATCHDOG=1 datagrams received between FROM and TO seconds after READY=1.
pings() {
    awk -v a="$1" -v b="$2" '$2 ~ /^READY=1/ && !t0 { t0 = $1 }
        t0 && $2 == "WATCHDOG=1" && $1 - t0 >= a && $1 - t0 < b { n++ }
        END { print n + 0 }' "$NOTIFY_OUT"
}

pidfile="$TEST_TMP/run/ringsock.pid"
mkdir -p "$TEST_TMP/run"
sock="$TEST_TMP/notify.sock"
recv_start "$sock"
# A 400 ms watchdog: checked every 200 ms, each worker's heartbeat every 100 ms. Worker 1 is
# wedged from 2 s to 6 s after the start (the windows below leave a second for a slow start).
SERVER_PREFIX=(env NOTIFY_SOCKET="$sock" WATCHDOG_USEC=400000 RINGSOCK_TEST_WEDGE=1:2s:4s)
start_server echo --threads 2 --pid-file "$pidfile"
wait_until 5 got READY=1 || fail "no READY=1: $(cat "$NOTIFY_OUT")"
log "$(grep -m 1 READY=1 "$NOTIFY_OUT")"
# READY=1 says the server serves: a connection made right after it is echoed.
python3 - "$HOST" "$PORT" <<'PY' || fail "no echo right after READY=1"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
s.sendall(b"ready\n")
assert s.recv(16) == b"ready\n"
PY
[[ $(cat "$pidfile") == "$SERVER_PID" ]] || fail "pid file holds '$(cat "$pidfile")', want $SERVER_PID"
[[ ! -e $pidfile.$SERVER_PID.tmp ]] || fail "temporary pid file left behind"
sleep 8.5
stop_server
wait_until 2 got STOPPING=1 || fail "no STOPPING=1 after SIGTERM: $(tail -n 3 "$NOTIFY_OUT")"
[[ ! -e $pidfile ]] || fail "pid file still there after exit"
recv_stop
before=$(pings 0.2 1.8) during=$(pings 2.8 5) after=$(pings 6.8 8.3)
log "WATCHDOG=1 pings: $before in 0.2..1.8 s, $during in 2.8..5 s (worker 1 wedged), $after in 6.8..8.3 s"
((before >= 3)) || fail "only $before watchdog pings before the wedge"
((during == 0)) || fail "$during watchdog pings while worker 1 was wedged"
((after >= 2)) || fail "only $after watchdog pings after the wedge"
# READY=1 is the first notification.
first=$(awk 'NR > 1 { print $2; exit }' "$NOTIFY_OUT")
[[ $first == READY=1* ]] || fail "first notification is '$first', want READY=1"

# WATCHDOG_PID names another process: the watchdog is not ours, no pings. An abstract socket.
recv_start "@ringsock-test-$$"
SERVER_PREFIX=(env NOTIFY_SOCKET="@ringsock-test-$$" WATCHDOG_USEC=200000 WATCHDOG_PID=1)
start_server echo --threads 1
wait_until 5 got READY=1 || fail "no READY=1 on an abstract socket: $(cat "$NOTIFY_OUT")"
sleep 1
stop_server
wait_until 2 got STOPPING=1 || fail "no STOPPING=1 on an abstract socket"
recv_stop
! grep -q WATCHDOG "$NOTIFY_OUT" || fail "watchdog pings though WATCHDOG_PID is another process"

# A pid file that cannot be written: the server says so and exits 1.
SERVER_PREFIX=()
rc=0
"$RINGSOCK" echo --tcp 127.0.0.1:0 --threads 1 --pid-file "$TEST_TMP/missing/x.pid" \
    >"$TEST_TMP/bad.out" 2>"$TEST_TMP/bad.err" &
bad=$!
track_pid "$bad"
wait_pid "$bad" 5 || rc=$?
((rc == 1)) || fail "exit status $rc with an unwritable --pid-file, want 1"
grep -q 'cannot write --pid-file' "$TEST_TMP/bad.err" || fail "no error line: $(cat "$TEST_TMP/bad.err")"
pass
