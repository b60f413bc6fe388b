#!/usr/bin/env bash
# ringload_start_at.sh: --start-at against an echo server that notes when the first byte
# arrives. Connections open before the instant and nothing is sent before it (closed loop and
# -R); the JSON's window starts at it. A connection not open at the instant (the server
# listens only after it) makes the run exit 1 and say so, with its report. An instant more
# than 1 s past is refused (exit 2); a signal before the instant measures nothing (exit 1).
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

command -v python3 >/dev/null || skip "needs python3"

# firstbyte.py PORTFILE OUTFILE [wait]: a threaded echo server on 127.0.0.1 (port in
# PORTFILE) that listens at once, or with "wait" from the Unix time written (later) into
# OUTFILE.listen_at, writes the Unix time
# of its first accepted connection and of its first received byte to OUTFILE, and ends after
# 60 s at most.
cat >"$TEST_TMP/firstbyte.py" <<'EOF'
import socket, sys, threading, time
portfile, outfile = sys.argv[1], sys.argv[2]
wait = len(sys.argv) > 3
lock = threading.Lock()
first = {}
def note(key):
    with lock:
        if key not in first:
            first[key] = time.time()
            with open(outfile, "w") as f:
                f.write(" ".join("%s=%.6f" % kv for kv in sorted(first.items())) + "\n")
def serve(c):
    note("accept")
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                return
            note("byte")
            c.sendall(d)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(portfile + ".tmp", portfile)
listen_at, limit = 0, time.time() + 60
while wait and time.time() < limit:
    try:
        with open(outfile + ".listen_at") as f:
            listen_at = float(f.read())
        break
    except (OSError, ValueError):
        time.sleep(0.01)
while time.time() < listen_at:
    time.sleep(0.001)
s.listen(128)
s.settimeout(1)
end = time.time() + 60
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF

# fb_start [wait]: starts firstbyte.py; sets FB_PID, FB_PORT, FB_OUT.
fb_start() {
    local i
    FB_OUT=$TEST_TMP/fb.$RANDOM
    python3 "$TEST_TMP/firstbyte.py" "$FB_OUT.port" "$FB_OUT" "$@" &
    FB_PID=$!
    track_pid "$FB_PID"
    for ((i = 0; i < 100; i++)); do
        [[ -s $FB_OUT.port ]] && break
        sleep 0.05
    done
    FB_PORT=$(cat "$FB_OUT.port") || fail "firstbyte.py did not start"
}

fb_stop() {
    kill -TERM "$FB_PID" 2>/dev/null || true
    wait_pid "$FB_PID" 5 || true
}

# fb_time KEY: the Unix time firstbyte.py noted for KEY (accept or byte).
fb_time() {
    sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$FB_OUT"
}

now_plus() {
    date +%s.%N | awk -v d="$1" '{ printf "%.3f", $1 + d }'
}

# Closed loop and -R: connected before the instant, nothing sent before it.
for mode in closed rate; do
    rate=()
    [[ $mode == rate ]] && rate=(-R 2000)
    fb_start
    at=$(now_plus 1.5)
    ringload_run "$mode" -c 4 -d 500ms "${rate[@]}" --start-at "$at" --json "$TEST_TMP/$mode.json" \
        "tcp://127.0.0.1:$FB_PORT"
    ((LOAD_RC == 0)) || fail "$mode: exit $LOAD_RC"
    accept=$(fb_time accept)
    byte=$(fb_time byte)
    log "$mode: start at $at, first connection $accept, first byte $byte"
    jq -e -n "$accept < $at" >/dev/null || fail "$mode: not connected before the start"
    # The server's clock is the same wall clock; 1 ms for the conversions and the wake-up.
    jq -e -n "$byte >= $at - 0.001" >/dev/null ||
        fail "$mode: a byte came $(jq -n "$at - $byte")s before --start-at"
    j=$TEST_TMP/$mode.json
    jq -e --argjson at "$at" '(.start_at_unix - $at | fabs) < 1e-6 and
        .window.start_unix == .start_at_unix and .start_real_unix >= .start_at_unix and
        .not_open_at_start == 0 and .messages > 0 and .settings.mode == "'$mode'"' "$j" \
        >/dev/null || fail "$mode: JSON $(jq -c '[.start_at_unix, .start_real_unix, .window, .not_open_at_start, .messages, .settings.mode]' "$j")"
    fb_stop
done

# A server that listens only 0.5 s after the instant: the connections open late, the run goes
# on, then exits 1 saying how many were not open.
fb_start wait
at=$(now_plus 1)
jq -n "$at + 0.5" >"$FB_OUT.listen_at.tmp"
mv "$FB_OUT.listen_at.tmp" "$FB_OUT.listen_at"
ringload_run late -c 3 -d 1s --start-at "$at" --json "$TEST_TMP/late.json" "tcp://127.0.0.1:$FB_PORT"
((LOAD_RC == 1)) || fail "late: exit $LOAD_RC, want 1"
grep -q "3 connections were not open at the --start-at instant" "$TEST_TMP/late.err" ||
    fail "late: not said: $(cat "$TEST_TMP/late.err")"
jq -e '.not_open_at_start == 3 and .messages > 0' "$TEST_TMP/late.json" >/dev/null ||
    fail "late: JSON $(jq -c '[.not_open_at_start, .messages]' "$TEST_TMP/late.json")"
fb_stop

# Past by more than 1 s: refused at once, one line.
ringload_run past -c 1 --start-at "$(now_plus -5)" tcp://127.0.0.1:9
((LOAD_RC == 2)) && (($(wc -l <"$TEST_TMP/past.err") == 1)) &&
    grep -q "in the past" "$TEST_TMP/past.err" || fail "past: exit $LOAD_RC $(cat "$TEST_TMP/past.err")"

# SIGINT before the instant: nothing measured, exit 1, said.
fb_start
"$RINGLOAD" --no-progress -c 2 -d 1s --start-at +5s "tcp://127.0.0.1:$FB_PORT" \
    >"$TEST_TMP/int.out" 2>"$TEST_TMP/int.err" &
pid=$!
track_pid "$pid"
sleep 1
kill -INT "$pid"
rc=0
wait_pid "$pid" 10 || rc=$?
((rc == 1)) && grep -q "interrupted before --start-at: nothing was measured" "$TEST_TMP/int.err" ||
    fail "interrupted before the start: exit $rc $(cat "$TEST_TMP/int.err")"
[[ -s $FB_OUT ]] && [[ -n $(fb_time byte) ]] && fail "interrupted before the start, yet bytes were sent"
fb_stop
pass
