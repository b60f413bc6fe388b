#!/usr/bin/env bash
# http_pipeline.sh BACKEND: pipelined requests cannot make the server queue more than
# --write-queue per connection, and are still all answered, in order, byte for byte.
#  1. 50 connections each write 400 pipelined GET /bytes/1048576 and read nothing for 3 s: the
#     server's RSS may grow by at most 50 x 256 KiB (the write queues) + 16 MiB (receive
#     buffers, allocator slack) instead of queueing the 400 MiB each is owed. Then every
#     connection reads: the first reads all 400 answers (400 MiB), the 49 others their first
#     4 (196 MiB) and close, so the run moves ~600 MiB, not the 20 GB all answers would be.
#  2. 20 connections each pipeline 400 mixed requests (GET /bytes/k for k up to 20000, GET /,
#     POST / with a body, HEAD, /healthz; the last with Connection: close) against a 4 KiB
#     write queue and 4 KiB send buffer, reading nothing for 1 s, then read everything: every
#     answer exact and in order, then the server's FIN.
#  3. --header-timeout 1000, --write-queue 4k, --sndbuf 4k: 8 pipelined 1 MiB answers and an
#     unfinished head, read only after 2.5 s. The server itself stopped reading meanwhile, so
#     the head's time has not begun: all 8 answers come whole, then the 408 for the head.
#     (Timed from its arrival, the 408 came at 1 s and its lingering close cut the answers
#     still owed 2 s later: the small send buffer keeps them owed that long.)
#  4-6: below.
# shellcheck source=http_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"
backend_setup "${1:-}"

# RSS is the measure. ASan keeps freed blocks in a quarantine of up to 256 MiB, which the
# queue's chunks churning through fill while the live heap stays flat (+72 MiB seen on epoll):
# as stress.soak does, a 1 MiB quarantine under ASan.
if grep -qa __asan_init "$RINGSOCK"; then
    SERVER_PREFIX=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1")
fi

HTTPPIPE=${HTTPPIPE:-$(dirname "$HTTPRAW")/httppipe}
[[ -x $HTTPPIPE ]] || fail "HTTPPIPE must name the httppipe client (tried $HTTPPIPE)"
BODY=$'hi\n'

# pipe ARGS...: runs httppipe against HPORT, bounded, and fails unless it passes.
pipe() {
    local rc=0
    log "httppipe $*"
    run_bounded 120 "$TEST_TMP/pipe.out" "$TEST_TMP/pipe.err" "$HTTPPIPE" "$@" "$HPORT" || rc=$?
    cat "$TEST_TMP/pipe.out"
    cat "$TEST_TMP/pipe.err" >&2
    ((rc == 0)) || fail "httppipe $* exited with status $rc"
}

WQ_KB=256
start_http "${BACKEND_ARGS[@]}" --write-queue ${WQ_KB}k --body 'hi\n'
pipe --conns 50 --requests 400 --size 1048576 --stall 3 --pid "$SERVER_PID" \
    --rss-max-kb $((50 * WQ_KB + 16 * 1024)) --read 4 --read-all 1 --timeout 90
stop_server

start_http "${BACKEND_ARGS[@]}" --write-queue 4k --sndbuf 4k --body 'hi\n'
pipe --conns 20 --requests 400 --mix 20000 --body "$BODY" --close-last --stall 1 --read-all 20 \
    --timeout 90
stop_server
expect_total http_requests $((20 * 400))

start_http "${BACKEND_ARGS[@]}" --header-timeout 1000 --keepalive-timeout 10000 --write-queue 4k \
    --sndbuf 4k --body 'hi\n'
pipe --conns 4 --requests 8 --size 1048576 --partial --stall 2.5 --read-all 4 --timeout 30
stop_server
expect_total http_timeouts 4

# 4. The client's FIN comes while its requests wait (4 KiB write queue): every answer first,
#    then the server closes.
start_http "${BACKEND_ARGS[@]}" --write-queue 4k --body 'hi\n'
pipe --conns 10 --requests 50 --mix 100000 --body "$BODY" --shut --stall 1 --read-all 10 \
    --timeout 30
stop_server
expect_total http_requests $((10 * 50))

# 5. --keepalive-timeout 1000 and nothing read for 2.5 s: a peer that takes none of the answers
#    it is owed for the keep-alive time is cut off (reset), counted as a timeout.
start_http "${BACKEND_ARGS[@]}" --keepalive-timeout 1000 --header-timeout 10000 --body 'hi\n'
pipe --conns 4 --requests 8 --size 1048576 --stall 2.5 --read-all 4 --expect-cut --timeout 30
stop_server
expect_total http_timeouts 4

# 6. A --body-file too large to prebuild (100000 bytes) is produced as the queue drains too:
#    mixed pipelined requests, every GET / and POST / answered with the whole file, in order.
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "%c", 97 + (i * 7) % 26 }' >"$TEST_TMP/big"
start_http "${BACKEND_ARGS[@]}" --write-queue 4k --body-file "$TEST_TMP/big"
pipe --conns 10 --requests 100 --mix 30000 --body "$(cat "$TEST_TMP/big")" --close-last \
    --stall 1 --read-all 10 --timeout 30
# And a Connection: close answer whose body is produced: the lingering close waits for it.
pipe --conns 2 --requests 3 --size 300000 --close-last --stall 1 --read-all 2 --timeout 30
stop_server
pass
