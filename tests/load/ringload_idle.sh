#!/usr/bin/env bash
# ringload_idle.sh BACKEND: ringload --idle against ringsock, both on BACKEND. 3000 idle
# connections from two source addresses are all established and held (the server holds one
# descriptor each, split evenly over the sources), pass the echo liveness check, and match the
# server's totals; --connect-rate paces the opening. A peer that never answers (discard) and
# one that closes idle connections (http with a short keep-alive timeout) fail the run and are
# counted as such.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"
backend_setup "${1:-}"
LB=(--backend "${BACKEND%-oneshot}")
N=3000
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] || ((hard >= N + 500)) || skip "hard RLIMIT_NOFILE $hard < $((N + 500))"
command -v ss >/dev/null || skip "ss (iproute2) is not installed"

# idle_start NAME ARGS...: ringload --idle in the background; sets IDLE_PID.
idle_start() {
    local name=$1
    shift
    log "ringload --idle $*"
    "$RINGLOAD" --no-progress --idle "${LB[@]}" "$@" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" &
    IDLE_PID=$!
    track_pid "$IDLE_PID"
}
# idle_wait NAME: waits (bounded) for the ringload started by idle_start; sets LOAD_RC.
idle_wait() {
    LOAD_RC=0
    wait_pid "$IDLE_PID" 60 || LOAD_RC=$?
    cat "$TEST_TMP/$1.out"
    [[ -s $TEST_TMP/$1.err ]] && head -n 5 "$TEST_TMP/$1.err"
    ((LOAD_RC != 124)) || fail "ringload --idle ($1) still ran after 60 s"
}

start_server echo "${BACKEND_ARGS[@]}" --threads 2
base=$(server_fd_count)
idle_start hold "tcp://127.0.0.1:$PORT" -c $N -t 2 -d 3s --source 127.0.0.1,127.0.0.2 \
    --latency --json "$TEST_TMP/hold.json"
holding() { grep -q "^ringload: holding $N connections" "$TEST_TMP/hold.err"; }
wait_until 30 holding || fail "no 'holding $N connections' line: $(cat "$TEST_TMP/hold.err")"
fds=$(server_fd_count)
((fds - base == N)) || fail "server holds $((fds - base)) connections, want $N"
for src in 127.0.0.1 127.0.0.2; do
    n=$(ss -Htn state established "( dport = :$PORT and src $src )" | wc -l)
    ((n == N / 2)) || fail "$n connections from $src, want $((N / 2))"
done
idle_wait hold
((LOAD_RC == 0)) || fail "ringload --idle exited $LOAD_RC"
j=$TEST_TMP/hold.json
[[ $(jq -r .mode "$j") == idle ]] || fail "mode is not idle"
(($(jnum "$j" .idle.established) == N && $(jnum "$j" .idle.failed) == 0)) ||
    fail "established/failed: $(jq -c '.idle | {established, failed, failures}' "$j")"
(($(jnum "$j" .idle.closed_by_peer) == 0)) || fail "the server closed idle connections"
(($(jnum "$j" .idle.check.ok) == N && $(jnum "$j" .idle.check.failed) == 0)) ||
    fail "liveness check: $(jq -c .idle.check "$j")"
(($(jnum "$j" .histogram.total) == N)) || fail "connect histogram holds $(jq .histogram.total "$j")"
jq -e '.idle.open_s > 0 and .idle.connects_per_sec > 0 and .idle.hold_s >= 3' "$j" >/dev/null ||
    fail "open/hold times: $(jq -c '.idle | {open_s, connects_per_sec, hold_s}' "$j")"
grep -q 'Connect Time Distribution' "$TEST_TMP/hold.out" || fail "--latency table missing"
# A load run's keys too, for tools that read those: connect times, connects/s, no errors.
jq -e '(.errors | add) == 0 and .msgs_per_sec == .idle.connects_per_sec
    and (.percentile_curve | length) > 10 and .latency.max_us > 0 and .latency_of == "connect"' \
    "$j" >/dev/null || fail "load-run keys: $(jq -c '{errors, msgs_per_sec, latency}' "$j")"

# Paced: 400 connects at 2000/s take about 0.2 s, not a burst.
idle_start rate "tcp://127.0.0.1:$PORT" -c 400 -d 100ms --connect-rate 2000 --max-connecting 8 \
    --json "$TEST_TMP/rate.json"
idle_wait rate
((LOAD_RC == 0)) || fail "paced ringload --idle exited $LOAD_RC"
jq -e '.idle.open_s > 0.18 and .idle.open_s < 2' "$TEST_TMP/rate.json" >/dev/null ||
    fail "400 connects at 2000/s opened in $(jq .idle.open_s "$TEST_TMP/rate.json") s"
# merge adds --idle runs up (runs from several processes or machines), and keeps them apart
# from load runs.
"$RINGLOAD" merge --json "$TEST_TMP/merged.json" "$j" "$TEST_TMP/rate.json" >"$TEST_TMP/merged.out" ||
    fail "merge of two --idle runs failed"
jq -e ".idle.established == $((N + 400)) and .idle.check.ok == $((N + 400))
    and .histogram.total == $((N + 400)) and .runs == 2 and .idle.failed == 0" \
    "$TEST_TMP/merged.json" >/dev/null || fail "merged: $(jq -c .idle "$TEST_TMP/merged.json")"
# --source works for load runs too: the echo connection comes from 127.0.0.3.
"$RINGLOAD" --no-progress "${LB[@]}" "tcp://127.0.0.1:$PORT" -c 1 -d 1s --source 127.0.0.3 \
    --json "$TEST_TMP/load.json" >"$TEST_TMP/load.out" 2>&1 &
lpid=$!
track_pid "$lpid"
from3() { [[ -n $(ss -Htn state established "( dport = :$PORT and src 127.0.0.3 )") ]]; }
wait_until 5 from3 || fail "no connection from --source 127.0.0.3 during a load run"
wait_pid "$lpid" 20 || fail "ringload load run with --source failed: $(cat "$TEST_TMP/load.out")"
rc=0
"$RINGLOAD" merge "$j" "$TEST_TMP/load.json" >/dev/null 2>"$TEST_TMP/mix.err" || rc=$?
((rc != 0)) || fail "merging an --idle run with a load run succeeded"
rc=0
"$RINGLOAD" merge "$TEST_TMP/load.json" "$j" >/dev/null 2>"$TEST_TMP/mix.err" || rc=$?
((rc != 0)) || fail "merging a load run with an --idle run succeeded"
stop_server
expect_total conns_accepted $((N + 401))
expect_total conns_closed $((N + 401))
expect_total bytes_in $(((N + 400) * 64 + $(jnum "$TEST_TMP/load.json" .bytes_out)))
expect_total errors 0

# A peer that holds connections but never answers fails the check: every one unanswered.
start_server discard "${BACKEND_ARGS[@]}"
idle_start discard "tcp://127.0.0.1:$PORT" -c 200 -d 200ms --timeout 500ms \
    --json "$TEST_TMP/discard.json"
idle_wait discard
((LOAD_RC == 1)) || fail "against discard: exit $LOAD_RC, want 1"
(($(jnum "$TEST_TMP/discard.json" .idle.check.unanswered) == 200)) ||
    fail "discard: $(jq -c .idle.check "$TEST_TMP/discard.json")"
stop_server

# A peer that closes idle connections: counted as closed by the peer, the run fails, and the
# hold ends once nothing is left to hold (long before -d 30s).
# http_port: the port of the running server's http:// listener.
http_port() {
    grep -oE 'http://127\.0\.0\.1:[0-9]+' <<<"$SERVER_LINE" | sed 's/.*://'
}
start_server echo "${BACKEND_ARGS[@]}" --http 127.0.0.1:0 --keepalive-timeout 300
idle_start http "http://127.0.0.1:$(http_port)/" -c 200 -d 30s --json "$TEST_TMP/http.json"
idle_wait http
((LOAD_RC == 1)) || fail "against a closing peer: exit $LOAD_RC, want 1"
(($(jnum "$TEST_TMP/http.json" .idle.closed_by_peer) == 200)) ||
    fail "closed by peer: $(jq -c .idle "$TEST_TMP/http.json")"
jq -e '.idle.hold_s < 10' "$TEST_TMP/http.json" >/dev/null || fail "the hold went on for nothing"
stop_server

# The same server answers the HTTP check while connections stay open.
start_server echo "${BACKEND_ARGS[@]}" --http 127.0.0.1:0
idle_start http2 "http://127.0.0.1:$(http_port)/" -c 200 -d 200ms --json "$TEST_TMP/http2.json"
idle_wait http2
((LOAD_RC == 0)) || fail "http check: exit $LOAD_RC"
(($(jnum "$TEST_TMP/http2.json" .idle.check.ok) == 200)) || fail "http check failed"
stop_server
pass
