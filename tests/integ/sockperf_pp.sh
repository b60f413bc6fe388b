#!/usr/bin/env bash
# sockperf_pp.sh BACKEND: sockperf's own ping-pong client gets every answer from ringsock
# sockperf, over UDP and TCP, with 64- and 1400-byte messages (-t 2 each; a UDP and a TCP run
# at a time). sockperf must see no dropped, duplicated or out-of-order answer and receive all
# it sent but at most the one message in flight when its timer ends the run; the server must
# have answered every message it was sent (all ask for an answer in ping-pong).
# shellcheck source=sockperf_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/sockperf_lib.sh"
backend_setup "${1:-}"
need_sockperf

start_sockperf_server "${BACKEND_ARGS[@]}" --threads 2
sent_all=0
received_all=0
for size in 64 1400; do
    SP_PIDS=()
    SP_OUTS=()
    sockperf_start pp -i 127.0.0.1 -p "$UDP_PORT" -t 2 -m "$size"
    sockperf_start pp --tcp -i 127.0.0.1 -p "$PORT" -t 2 -m "$size"
    for i in 0 1; do
        what=$([[ $i == 0 ]] && echo UDP || echo TCP)
        sockperf_wait "$i" 30
        sent=$(sp_total SentMessages)
        received=$(sp_total ReceivedMessages)
        log "$what -m $size: sent $sent, received $received"
        sp_expect_clean
        ((received >= 100)) || fail "$what -m $size: only $received answers in 2 s"
        ((received <= sent && sent - received <= 1)) ||
            fail "$what -m $size: sent $sent but received $received (at most 1 may be in flight)"
        sent_all=$((sent_all + sent))
        received_all=$((received_all + received))
    done
done
stop_server
replies=$(total_field sockperf_replies)
log "server answered $replies; clients sent $sent_all, received $received_all"
((replies >= received_all && replies <= sent_all)) ||
    fail "server answered $replies messages, clients received $received_all of $sent_all"
expect_total sockperf_unanswered 0
expect_total sockperf_malformed 0
expect_total dgram_kernel_drops 0
expect_total errors 0
pass
