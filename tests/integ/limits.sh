#!/usr/bin/env bash
# limits.sh: the server takes the file descriptors the hard limit allows (soft raised to hard),
# says the limit it got on its listening line, warns once when that caps connections below
# --max-conns, and listens with the kernel's largest backlog unless --backlog says otherwise.
# Takes no argument.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset RINGSOCK_TEST_URING_FAIL RINGSOCK_TEST_URING_NO_MULTISHOT
command -v prlimit >/dev/null || skip "prlimit (util-linux) is not installed"
command -v ss >/dev/null || skip "ss (iproute2) is not installed"

hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
((hard >= 3000)) || skip "hard RLIMIT_NOFILE $hard is below the 3000 this test uses"

# soft_limit: the server's soft RLIMIT_NOFILE, from /proc.
soft_limit() {
    awk '/^Max open files/ { print $4 }' "/proc/$SERVER_PID/limits"
}
# backlogs: the Send-Q (the backlog) of each of the server's listening sockets, one a line.
backlogs() {
    ss -Hltn "sport = :$PORT" | awk '{ print $3 }'
}

# Started with a soft limit of 256: raised to the hard 3000; 2 x 100000 connections cannot fit.
SERVER_PREFIX=(prlimit --nofile=256:3000 --)
start_server echo --threads 2
SERVER_PREFIX=()
[[ $(soft_limit) == 3000 ]] || fail "soft limit is $(soft_limit), want the hard 3000"
[[ $SERVER_LINE == *"fd limit 3000)"* ]] || fail "listening line lacks 'fd limit 3000': $SERVER_LINE"
grep -q 'warning: file descriptor limit 3000 is below --max-conns 100000 x 2' "$SERVER_ERR" ||
    fail "no fd limit warning: $(cat "$SERVER_ERR")"
somaxconn=$(cat /proc/sys/net/core/somaxconn)
mapfile -t bl < <(backlogs)
((${#bl[@]} == 2)) || fail "want 2 listening sockets (one per worker), ss shows ${#bl[@]}"
for b in "${bl[@]}"; do
    ((b == somaxconn)) || fail "default backlog is $b, want net.core.somaxconn $somaxconn"
done
log "soft limit raised 256 -> 3000, backlog ${bl[*]} (somaxconn $somaxconn)"
stop_server

# Room for every connection: no warning. --backlog is used as given.
SERVER_PREFIX=(prlimit --nofile=3000:3000 --)
start_server echo --threads 2 --max-conns 1000 --backlog 100
SERVER_PREFIX=()
[[ ! -s $SERVER_ERR ]] || fail "unexpected stderr: $(cat "$SERVER_ERR")"
mapfile -t bl < <(backlogs)
for b in "${bl[@]}"; do
    ((b == 100)) || fail "--backlog 100 gave $b"
done
run_client stream --count 5 --bytes 64K --timeout 30 "$HOST" "$PORT" || fail "no echo"
stop_server
pass
