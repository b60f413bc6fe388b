#!/usr/bin/env bash
# sockperf_malformed.sh BACKEND: protocol errors on one worker while a well-behaved client
# (one message every 5 ms, about 2 s) keeps being answered exactly. Over TCP each bad client sends 5 good
# messages, then a length field of 5, of 0xfffffff0, of --max-msg + 1, or a FIN inside a header
# or a payload: it must get its 5 answers and then a close. Over UDP, malformed datagrams
# (empty, shorter than a header, a length field that is not the datagram's, over --max-msg)
# are interleaved with good ones: only the good ones that ask get answers. Each error is
# counted, the warnings are rate-limited, and the server answers normally afterwards.
# shellcheck source=sockperf_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/sockperf_lib.sh"
backend_setup "${1:-}"

MAX_MSG=1500
start_sockperf_server "${BACKEND_ARGS[@]}" --threads 1 --max-msg "$MAX_MSG"

good_out="$TEST_TMP/good.out"
"$SOCKPERFCHECK" tcp "$HOST" "$PORT" --count 400 --max-size 1000 --write msg --pace-us 5000 \
    --timeout 30 >"$good_out" &
good_pid=$!
track_pid "$good_pid"

answered=0
unanswered=0
malformed=0
start=$EPOCHREALTIME
for kind in short-len huge-len over-max eof-header eof-payload; do
    run_spcheck 20 tcp-bad "$HOST" "$PORT" --kind "$kind" --count 5 --max-msg "$MAX_MSG" \
        --timeout 10 || fail "tcp-bad --kind $kind: $SPC_LINE"
    answered=$((answered + $(spc_field answered)))
    malformed=$((malformed + 1))
done
tcp_s=$(bc <<<"$EPOCHREALTIME - $start")
proc_alive "$good_pid" || fail "the well-behaved client was done before the bad ones"
run_spcheck 20 udp-bad "$UDP_HOST" "$UDP_PORT" --max-msg "$MAX_MSG" --timeout 10 ||
    fail "udp-bad: $SPC_LINE"
udp_answered=$(spc_field answered)
answered=$((answered + udp_answered))
unanswered=$((unanswered + $(spc_field unanswered)))
malformed=$((malformed + $(spc_field malformed)))

rc=0
wait_pid "$good_pid" 40 || rc=$?
cat "$good_out"
((rc == 0)) || fail "the well-behaved client failed beside the bad ones (status $rc)"
SPC_LINE=$(tail -n 1 "$good_out")
answered=$((answered + $(spc_field answered)))
unanswered=$((unanswered + $(spc_field unanswered)))

# Still answering after all that.
run_spcheck 20 tcp "$HOST" "$PORT" --count 100 --max-size 1000 --timeout 10 ||
    fail "no exact answers after the protocol errors: $SPC_LINE"
answered=$((answered + $(spc_field answered)))
unanswered=$((unanswered + $(spc_field unanswered)))

stop_server
expect_total sockperf_replies "$answered"
expect_total sockperf_unanswered "$unanswered"
expect_total sockperf_malformed "$malformed"
expect_total dgrams_out "$udp_answered"
# One worker logs at most one TCP protocol error a second (each line counts those it hid).
lines=$(grep -c 'sockperf: .*connection closed' "$SERVER_ERR" || true)
limit=$(bc <<<"$tcp_s / 1 + 2")
log "TCP protocol errors: 5 in $tcp_s s, $lines warning line(s)"
((lines >= 1 && lines <= limit)) || fail "$lines warning lines for 5 errors in $tcp_s s"
pass
