#!/usr/bin/env bash
# sockperf_frames.sh BACKEND: TCP framing of the sockperf responder. sockperfcheck sends
# messages of random sizes and flags in 1-byte writes, random-sized writes (headers and
# payloads split anywhere) and writes as large as the socket takes (many messages coalesced),
# and checks that exactly the answers due come back, byte for byte, in order. Then again
# against a server reading 64 bytes at a time into 4 receive buffers (io_uring: ENOBUFS), with
# a 4 KiB SO_SNDBUF and a 4 KiB write queue, so nearly every message is reassembled across
# reads and answers meet short sends and backpressure. (Not a 4 KiB SO_RCVBUF: see tiny.sh,
# Linux then sometimes crawls at one persist probe per 200 ms.) The server's counters must
# match the client's.
# shellcheck source=sockperf_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/sockperf_lib.sh"
backend_setup "${1:-}"

# check_runs RUN...: each RUN is "WRITE COUNT MAX_SIZE"; runs sockperfcheck tcp for each
# against the running server, then stops it and compares the totals.
check_runs() {
    local run write count max answered=0 unanswered=0 bytes=0 seed=1
    for run in "$@"; do
        read -r write count max <<<"$run"
        seed=$((seed + 1))
        run_spcheck 60 tcp "$HOST" "$PORT" --write "$write" --count "$count" --max-size "$max" \
            --seed "$seed" --timeout 50 || fail "sockperfcheck tcp --write $write: $SPC_LINE"
        answered=$((answered + $(spc_field answered)))
        unanswered=$((unanswered + $(spc_field unanswered)))
        bytes=$((bytes + $(spc_field bytes_received)))
    done
    stop_server
    expect_total sockperf_replies "$answered"
    expect_total sockperf_unanswered "$unanswered"
    expect_total sockperf_malformed 0
    expect_total bytes_out "$bytes"
    expect_total errors 0
}

start_server sockperf "${BACKEND_ARGS[@]}" --threads 2 --tcp 127.0.0.1:0
check_runs "1 300 300" "random 3000 1500" "whole 3000 1500" "random 200 65536"

start_server sockperf "${BACKEND_ARGS[@]}" --threads 1 --tcp 127.0.0.1:0 --buf-size 64 \
    --buf-count 4 --sndbuf 4k --write-queue 4k
check_runs "1 100 300" "random 1000 1500" "whole 1000 1500" "random 100 65536"
(($(total_field backpressure) > 0)) || fail "a 4 KiB write queue never pushed back"
if [[ $BACKEND == io_uring ]]; then
    (($(total_field enobufs) > 0)) || fail "a 4-buffer ring never ran out (enobufs=0)"
fi
pass
