#!/usr/bin/env bash
# fdlimit.sh BACKEND: under RLIMIT_NOFILE=64 with one thread, 150 held connections exhaust the
# server's descriptors. It must back off accept instead of spinning, keep echoing on the
# connections it has, and accept again once descriptors are free.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

command -v prlimit >/dev/null || skip "prlimit (util-linux) is not installed"
HOLD=150
CPU_MAX_PERCENT=20

SERVER_PREFIX=(prlimit --nofile=64:64 --)
start_server echo "${BACKEND_ARGS[@]}" --threads 1
SERVER_PREFIX=()
base_fds=$(server_fd_count)
log "baseline fd count $base_fds (limit 64)"

go="$TEST_TMP/go"
out="$TEST_TMP/hold.out"
client_start "$out" hold --count "$HOLD" --go-file "$go" --hold 60 --echo-timeout 3 \
    --min-echoed 1 --timeout 10 "$HOST" "$PORT"
holding() {
    grep -q '^hold: .*holding' "$out"
}
wait_until 15 holding || fail "hold client did not finish connecting within 15 s"
sleep 0.5
held_fds=$(server_fd_count)
accepted=$((held_fds - base_fds))
log "server fd count while held: $held_fds (about $accepted connections accepted)"

hz=$(getconf CLK_TCK)
t0=$(server_cpu_ticks)
sleep 2
t1=$(server_cpu_ticks)
used=$((t1 - t0))
limit=$((hz * 2 * CPU_MAX_PERCENT / 100))
log "server CPU over 2 s at the fd limit: $used ticks (limit $limit at $hz Hz)"
((used < limit)) || fail "server used $used ticks in 2 s at the fd limit: spinning on accept?"

touch "$go"
rc=0
wait_pid "$CLIENT_PID" 20 || rc=$?
cat "$out"
((rc == 0)) || fail "hold client failed (status $rc)"
line=$(grep '^hold: .*echoed=' "$out") || fail "no hold result line"
[[ $line =~ connected=([0-9]+)\ echoed=([0-9]+) ]] || fail "cannot parse: $line"
connected=${BASH_REMATCH[1]}
echoed=${BASH_REMATCH[2]}
((connected == HOLD)) || fail "only $connected of $HOLD connections completed the handshake"
((echoed >= accepted)) ||
    fail "$echoed connections echoed, but the server held about $accepted of them"

fds_at_baseline() {
    (($(server_fd_count) <= base_fds))
}
wait_until 5 fds_at_baseline ||
    fail "server fd count is $(server_fd_count) 5 s after release, baseline $base_fds"
run_client stream --count 10 --bytes 256K --timeout 30 "$HOST" "$PORT" ||
    fail "server does not serve new connections after the fd limit was lifted"
stop_server
backoffs=$(total_field accept_backoffs)
((backoffs > 0)) || fail "accept_backoffs=0 although accept must have hit EMFILE"
pass
