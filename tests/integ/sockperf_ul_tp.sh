#!/usr/bin/env bash
# sockperf_ul_tp.sh BACKEND: sockperf's under-load client with --reply-every 10 asks for an
# answer on every 10th message (sequence numbers 10, 20, ...) and gets exactly those; its
# throughput client asks for none and gets none. UDP and TCP, -t 2 each (ul over UDP beside tp
# over TCP, then the other way round), at rates the server takes without a drop. The server's
# counts must match the clients' exactly: answered = floor(sent / 10) for ul, and every other
# message counted as not answered; ul must receive those answers but the last few in flight
# (at most 2 + 1%).
# shellcheck source=sockperf_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/sockperf_lib.sh"
backend_setup "${1:-}"
need_sockperf

EVERY=10
start_sockperf_server "${BACKEND_ARGS[@]}" --threads 2
answered=0     # messages that asked for an answer, all clients
unanswered=0   # messages that did not
udp_sent=0     # datagrams sent
udp_answered=0 # datagrams that asked for an answer
for round in 0 1; do
    SP_PIDS=()
    SP_OUTS=()
    if ((round == 0)); then
        ul=(-i 127.0.0.1 -p "$UDP_PORT")
        tp=(--tcp -i 127.0.0.1 -p "$PORT")
    else
        ul=(--tcp -i 127.0.0.1 -p "$PORT")
        tp=(-i 127.0.0.1 -p "$UDP_PORT")
    fi
    sockperf_start ul "${ul[@]}" -t 2 -m 64 --mps 5000 --reply-every "$EVERY"
    sockperf_start tp "${tp[@]}" -t 2 -m 64 --mps 20000

    sockperf_wait 0 30
    sent=$(sp_total SentMessages)
    received=$(sp_total ReceivedMessages)
    asked=$((sent / EVERY))
    log "ul ${ul[0]}: sent $sent, $asked asked for an answer, received $received"
    sp_expect_clean
    ((asked >= 100)) || fail "ul: only $sent messages in 2 s"
    # The last answers may still be on their way when the run ends: with the machine busy
    # (two clients, two workers, two cores) an answer can take longer than the 2 ms between
    # two messages that ask. The server's count below is exact.
    slack=$((2 + asked / 100))
    ((received <= asked && asked - received <= slack)) ||
        fail "ul: $received answers for $asked messages that asked for one (of $sent)"
    answered=$((answered + asked))
    unanswered=$((unanswered + sent - asked))
    if [[ ${ul[0]} != --tcp ]]; then
        udp_sent=$((udp_sent + sent))
        udp_answered=$((udp_answered + asked))
    fi

    sockperf_wait 1 30
    sent=$(sp_tp_sent)
    log "tp ${tp[0]}: sent $sent"
    ((sent >= 1000)) || fail "tp: only $sent messages in 2 s"
    unanswered=$((unanswered + sent))
    [[ ${tp[0]} == --tcp ]] || udp_sent=$((udp_sent + sent))
done
stop_server
expect_total sockperf_replies "$answered"
expect_total sockperf_unanswered "$unanswered"
expect_total sockperf_malformed 0
expect_total dgram_kernel_drops 0
expect_total dgram_dropped 0
expect_total dgrams_in "$udp_sent"
expect_total dgrams_out "$udp_answered"
pass
