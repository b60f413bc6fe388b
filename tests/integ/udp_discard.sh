#!/usr/bin/env bash
# udp_discard.sh BACKEND: the discard service reads every datagram and sends nothing back. The
# rate is low enough that the kernel drops nothing, so the server must count exactly what was
# sent, datagrams and bytes.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup

FLOWS=4
COUNT=5000
RATE=10000

start_udp_server discard "${BACKEND_ARGS[@]}" --threads 2 --udp 127.0.0.1:0
run_dgram 40 flows --expect-discard --flows "$FLOWS" --count "$COUNT" --rate "$RATE" \
    --min-size 0 --max-size 1400 --drain 0.5 --timeout 30 "$UDP_HOST" "$UDP_PORT" ||
    fail "discard check failed: $DGRAM_LINE"
sent=$(dgram_field sent)
((sent == FLOWS * COUNT)) || fail "client sent $sent datagrams, expected $((FLOWS * COUNT))"
stop_server
expect_total dgram_kernel_drops 0
expect_total dgrams_in "$sent"
expect_total dgram_bytes_in "$(dgram_field bytes_sent)"
expect_total dgrams_out 0
expect_total dgram_bytes_out 0
expect_total dgram_dropped 0
pass
