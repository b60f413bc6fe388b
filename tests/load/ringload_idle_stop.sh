#!/usr/bin/env bash
# ringload_idle_stop.sh BACKEND: a server holding 15000 idle connections on one worker stops
# on SIGTERM within 3 s, and the generator sees every connection closed by the peer and ends
# its hold early. On io_uring each close cancels the connection's multishot receive; cancelling
# by fd made that quadratic (a cancel by fd walks every armed poll): 9 s for 18000.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"
backend_setup "${1:-}"
N=15000
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] || ((hard >= N + 500)) || skip "hard RLIMIT_NOFILE $hard < $((N + 500))"

start_server echo "${BACKEND_ARGS[@]}" --threads 1
base=$(server_fd_count)
log "ringload --idle -c $N"
"$RINGLOAD" --no-progress --idle --backend "${BACKEND%-oneshot}" "tcp://127.0.0.1:$PORT" -c $N \
    -t 2 -d 60s --idle-check none --source 127.0.0.1-127.0.0.2 --json "$TEST_TMP/stop.json" \
    >"$TEST_TMP/stop.out" 2>"$TEST_TMP/stop.err" &
pid=$!
track_pid "$pid"
holding() { grep -q "^ringload: holding $N connections" "$TEST_TMP/stop.err"; }
wait_until 60 holding || fail "not all $N connections open: $(cat "$TEST_TMP/stop.err")"
(($(server_fd_count) - base == N)) || fail "server holds $(($(server_fd_count) - base)), want $N"

t0=$(date +%s%N)
stop_server
ms=$((($(date +%s%N) - t0) / 1000000))
log "server stopped in $ms ms with $N idle connections"
((ms < 3000)) || fail "stopping with $N idle connections took $ms ms"
expect_total conns_closed $N

rc=0
wait_pid "$pid" 20 || rc=$?
cat "$TEST_TMP/stop.out"
((rc == 1)) || fail "ringload exited $rc after the server closed everything, want 1"
(($(jnum "$TEST_TMP/stop.json" .idle.closed_by_peer) == N)) ||
    fail "closed by peer: $(jq -c .idle "$TEST_TMP/stop.json")"
pass
