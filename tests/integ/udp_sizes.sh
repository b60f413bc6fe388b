#!/usr/bin/env bash
# udp_sizes.sh BACKEND: datagrams of 0, 1, 1472, 9000, 65000 and 65507 bytes (the largest over
# IPv4) come back whole with the default --udp-buf (64k); then, on a fresh server with
# --udp-buf 2048, 0, 1, 1472 and 2048 bytes come back whole while 2049, 9000 and 65000 are not
# echoed at all and are counted as dgram_truncated (exactly 3: sizes expected to be dropped
# are sent once, never retried).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup

WHOLE=0,1,1472,9000,65000,65507

start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp 127.0.0.1:0
run_dgram 30 sizes --sizes "$WHOLE" --timeout 1 --retries 2 "$UDP_HOST" "$UDP_PORT" ||
    fail "default buffer: not every size came back whole: $DGRAM_LINE"
stop_server
expect_total dgram_truncated 0
expect_total dgram_dropped 0
# Loopback does not lose these, but a retry would add to both counts: require at least one each.
din=$(total_field dgrams_in)
((din >= 6)) || fail "dgrams_in=$din, expected at least 6"
expect_total dgrams_out "$din"

start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp 127.0.0.1:0 --udp-buf 2048
run_dgram 30 sizes --sizes 0,1,1472,2048,2049,9000,65000 --expect-none 2049,9000,65000 \
    --timeout 1 --retries 2 "$UDP_HOST" "$UDP_PORT" ||
    fail "--udp-buf 2048: wrong sizes came back: $DGRAM_LINE"
stop_server
expect_total dgram_truncated 3
expect_total dgram_dropped 0
din=$(total_field dgrams_in)
((din >= 7)) || fail "dgrams_in=$din, expected at least 7"
expect_total dgrams_out $((din - 3))
pass
