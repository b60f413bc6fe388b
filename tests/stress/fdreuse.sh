#!/usr/bin/env bash
# fdreuse.sh BACKEND: 100k short connections, 64 at a time, each ending with RST, a plain
# close() or gracefully at a random point, every echoed byte checked against the stream of its
# own connection. Numbers for fds and connection slots are reused all the time, so a late
# completion of a closed connection delivered to its fd's next owner shows up as a mismatch.
# Then: every connection closed, fd count back to its baseline, the server still serving.
# shellcheck source=../integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integ/lib.sh"
backend_setup "${1:-}"

count=${FDREUSE_COUNT:-100000}
start_server echo "${BACKEND_ARGS[@]}"
base_fds=$(server_fd_count)
log "baseline fd count $base_fds; $count connections, 64 at a time"
out=$TEST_TMP/churn.out
run_client reset --mix --count "$count" --parallel 64 --bytes 64k --min-bytes 1 --timeout 140 \
    "$HOST" "$PORT" | tee "$out" || fail "churn run failed (a connect failed or a byte was wrong)"
read -r graceful < <(sed -nE 's/.* graceful=([0-9]+) .*/\1/p' "$out")
((graceful > count / 4)) || fail "only $graceful graceful connections of $count"

fds_at_baseline() {
    (($(server_fd_count) <= base_fds))
}
wait_until 10 fds_at_baseline ||
    fail "server fd count is $(server_fd_count) 10 s after the run, baseline $base_fds"
run_client stream --count 10 --bytes "$MIB" --timeout 30 "$HOST" "$PORT" ||
    fail "server no longer serves after the churn"
stop_server
expect_total conns_accepted $((count + 10))
expect_total conns_closed $((count + 10))
pass
