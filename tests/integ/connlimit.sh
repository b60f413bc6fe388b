#!/usr/bin/env bash
# connlimit.sh BACKEND: --max-conns-per-ip 5 with 2 workers: 20 connections from 127.0.0.2,
# exactly 5 served (each source address is steered to one worker, so the limit is exact) and
# the rest reset and counted; 5 more from 127.0.0.3; closing one lets one in; the same over
# IPv6 from ::1. Without the option, nothing is refused.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
command -v python3 >/dev/null || skip "python3 is not installed"
CONNCHECK=(python3 "$(dirname "${BASH_SOURCE[0]}")/conncheck.py")

# check ARGS...: runs conncheck; prints its output; fails on its failure.
check() {
    local out="$TEST_TMP/check.$RANDOM.out" err="$TEST_TMP/check.$RANDOM.err" rc=0
    run_bounded 60 "$out" "$err" "${CONNCHECK[@]}" "$@" || rc=$?
    cat "$out"
    ((rc == 0)) || fail "conncheck $*: $(cat "$err")"
    REFUSED=$(awk '/^refused / { print $2 }' "$out")
}

ipv6=1
python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null ||
    ipv6=0

args=(echo "${BACKEND_ARGS[@]}" --threads 2 --max-conns-per-ip 5 --tcp 127.0.0.1:0)
((ipv6)) && args+=(--tcp '[::1]:0')
start_server "${args[@]}"
base_fds=$(server_fd_count)
check limits "${HOSTS[0]}" "${PORTS[0]}" 5 127.0.0.2 127.0.0.3
refused=$REFUSED
if ((ipv6)); then
    check limits "${HOSTS[1]}" "${PORTS[1]}" 5 ::1
    refused=$((refused + REFUSED))
else
    log "no IPv6 loopback here: IPv6 part skipped"
fi
fds_at_baseline() {
    (($(server_fd_count) <= base_fds))
}
wait_until 5 fds_at_baseline ||
    fail "server fd count is $(server_fd_count) after the clients left, baseline $base_fds"
stop_server
expect_total conns_refused_per_ip "$refused"
# The steering was attached (else the limit would hold per worker, and the server says so).
! grep -q 'cannot steer' "$SERVER_ERR" || fail "steering failed: $(cat "$SERVER_ERR")"

# Off by default: 20 from one address all served.
start_server echo "${BACKEND_ARGS[@]}" --threads 2
out="$TEST_TMP/off.out"
run_bounded 60 "$out" "$TEST_TMP/off.err" "${CONNCHECK[@]}" limits "$HOST" "$PORT" 20 127.0.0.2 &&
    fail "without --max-conns-per-ip a connection was refused: $(cat "$out")"
grep -q 'over the limit 20' "$TEST_TMP/off.err" || fail "off: $(cat "$TEST_TMP/off.err")"
stop_server
expect_total conns_refused_per_ip 0
pass
