#!/usr/bin/env bash
# ringload_send.sh BACKEND: the UDP send-rate mode. ringload --send-only (plain sendmmsg and
# --gso UDP_SEGMENT batches) into ringsock discard: every datagram sent is accounted for at the
# server (received or counted as a kernel drop), and -R holds the asked rate.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"
backend_setup "${1:-}"
LB=(--backend "${BACKEND%-oneshot}")

total=0
start_server discard "${BACKEND_ARGS[@]}" --threads 1 --udp 127.0.0.1:0 --udp-rcvbuf 16m
UPORT=$(grep -oE 'udp://127\.0\.0\.1:[0-9]+' <<<"$SERVER_LINE" | sed 's/.*://')
for g in "" --gso; do
    # shellcheck disable=SC2086
    ringload_run "send$g" "${LB[@]}" --send-only $g -c 2 -s 100 -d 1s --json "$TEST_TMP/s.json" \
        "udp://127.0.0.1:$UPORT"
    ((LOAD_RC == 0)) || fail "ringload --send-only $g exited $LOAD_RC"
    sent=$(jq .udp.sent "$TEST_TMP/s.json")
    ((sent > 10000)) || fail "only $sent datagrams sent in 1 s ($g)"
    total=$((total + sent))
    # shellcheck disable=SC2086
    ringload_run "rate$g" "${LB[@]}" --send-only $g -c 2 -s 100 -R 20000 -d 1s \
        --json "$TEST_TMP/r.json" "udp://127.0.0.1:$UPORT"
    rate=$(jq '.msgs_per_sec | floor' "$TEST_TMP/r.json")
    ((rate >= 19000 && rate <= 21000)) || fail "asked for 20000/s ($g), measured $rate/s"
    total=$((total + $(jq .udp.sent "$TEST_TMP/r.json")))
done
# A port nobody listens on: the kernel's ICMP port unreachable comes back as ECONNREFUSED from
# the next send, which --send-only counts as write errors (and reports) instead of dropping.
dead=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for g in "" --gso; do
    # shellcheck disable=SC2086
    ringload_run "dead$g" "${LB[@]}" --send-only $g -c 1 -s 100 -R 1000 -d 1s \
        --json "$TEST_TMP/d.json" "udp://127.0.0.1:$dead"
    werr=$(jq .errors.write "$TEST_TMP/d.json")
    ((werr > 0)) || fail "--send-only $g to a closed port: no write errors counted ($(jq -c .errors "$TEST_TMP/d.json"))"
    grep -qiE 'write[^0-9]*[1-9]' "$TEST_TMP/dead$g.out" || fail "--send-only $g: write errors not in the summary"
done

sleep 0.5
stop_server
got=$(($(total_field dgrams_in) + $(total_field dgram_kernel_drops)))
((got == total)) || fail "sent $total datagrams, server saw $got (received + kernel drops)"
expect_total dgram_bytes_in $(($(total_field dgrams_in) * 100))
pass
