#!/usr/bin/env bash
# udp_smallqueue.sh BACKEND: a tiny reply ring (--udp-batch 4 --udp-queue 8) under a steady
# 40000/s from 8 flows. Regression test: the server once read a whole turn's budget before
# sending (so a small ring overflowed and dropped) and read dropped datagrams into slot 0,
# overwriting a reply still waiting there (corrupt echoes, possibly to another client). Each
# batch must be sent as it is received, and a drop must never touch a queued reply.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup

FLOWS=8
COUNT=10000
RATE=40000

start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp 127.0.0.1:0 --udp-batch 4 \
    --udp-queue 8
rc=0
run_dgram 60 flows --flows "$FLOWS" --count "$COUNT" --rate "$RATE" --min-size 0 --max-size 1400 \
    --max-loss 0.001 --timeout 40 "$UDP_HOST" "$UDP_PORT" || rc=$?
((rc == 0)) || fail "flows check failed (status $rc): $DGRAM_LINE"
log "$DGRAM_LINE"
(($(dgram_field corrupt) == 0)) || fail "corrupt echoes: $DGRAM_LINE"
stop_server
udp_check_totals "$(dgram_field sent)" "$(dgram_field received)"
pass
