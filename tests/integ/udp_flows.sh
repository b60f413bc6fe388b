#!/usr/bin/env bash
# udp_flows.sh BACKEND: 8 flows x 100000 datagrams of 0..1400 bytes at a steady 40000/s in all
# over 127.0.0.1, every echo verified by dgramcheck (0 corrupt, 0 duplicated, loss <= 0.1%);
# then the server's datagram totals must account for what the client saw.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup

FLOWS=8
COUNT=100000
RATE=40000 # 20 s of sending; the ASan server keeps up with it on 2 cores
MAX_LOSS=0.001

start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp 127.0.0.1:0
rc=0
run_dgram 80 flows --flows "$FLOWS" --count "$COUNT" --rate "$RATE" --min-size 0 --max-size 1400 \
    --max-loss "$MAX_LOSS" --timeout 60 "$UDP_HOST" "$UDP_PORT" || rc=$?
((rc == 0)) || fail "flows check failed (status $rc): $DGRAM_LINE"
sent=$(dgram_field sent)
received=$(dgram_field received)
log "loss $(dgram_field loss) ($(dgram_field lost) of $sent lost), reordered" \
    "$(dgram_field reordered), late $(dgram_field late), client drops $(dgram_field client_drops)"
((sent == FLOWS * COUNT)) || fail "client sent $sent datagrams, expected $((FLOWS * COUNT))"

stop_server
udp_check_totals "$sent" "$received"
expect_total dgram_truncated 0
expect_total dgram_send_errors 0
pass
