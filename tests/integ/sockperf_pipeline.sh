#!/usr/bin/env bash
# sockperf_pipeline.sh BACKEND: 30 TCP connections each pipeline 1000 ping-pong messages (up
# to 16 KiB, ~8 MiB a connection) and read nothing for 3 s. The server answers no more than
# its --write-queue (256k) holds per connection, so its RSS grows by at most 30 x 256 KiB +
# 16 MiB (receive buffers, allocator slack); then every connection reads and gets every
# answer, exact and in order, and the server closes after the client's FIN. Then the same
# with messages larger than a 4 KiB write queue.
# shellcheck source=sockperf_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/sockperf_lib.sh"
backend_setup "${1:-}"

# RSS is the measure. ASan keeps freed blocks in a quarantine of up to 256 MiB, which the
# queue's chunks churning through fill while the live heap stays flat (+72 MiB seen on epoll):
# as stress.soak does, a 1 MiB quarantine under ASan.
if grep -qa __asan_init "$RINGSOCK"; then
    SERVER_PREFIX=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1")
fi

CONNS=30
WQ_KB=256
start_server sockperf "${BACKEND_ARGS[@]}" --tcp 127.0.0.1:0 --write-queue ${WQ_KB}k
run_spcheck 120 tcp-noread "$HOST" "$PORT" --conns $CONNS --count 1000 --max-size 16384 \
    --stall 3 --pid "$SERVER_PID" --rss-max-kb $((CONNS * WQ_KB + 16 * 1024)) --timeout 90 ||
    fail "sockperfcheck tcp-noread: ${SPC_LINE}"
answered=$(spc_field answered)
bytes=$(spc_field bytes_received)
stop_server
expect_total sockperf_replies "$answered"
expect_total bytes_out "$bytes"
expect_total errors 0

# Messages larger than a 4 KiB write queue: a reassembled message's answer fills the queue in
# the middle of a read, so the rest of that read is kept, reading stops and on_drain answers
# what was kept before reading again.
start_server sockperf "${BACKEND_ARGS[@]}" --tcp 127.0.0.1:0 --write-queue 4k
run_spcheck 120 tcp-noread "$HOST" "$PORT" --conns 10 --count 300 --max-size 16384 --stall 1 \
    --timeout 90 || fail "sockperfcheck tcp-noread (4k queue): ${SPC_LINE}"
answered=$(spc_field answered)
stop_server
expect_total sockperf_replies "$answered"
expect_total errors 0
pass
