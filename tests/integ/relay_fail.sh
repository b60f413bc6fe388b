#!/usr/bin/env bash
# relay_fail.sh BACKEND: upstream failures and balancing. A refused first upstream: the client
# is served by the next one (refusals and retries counted, no client lost); every upstream
# dead: the client is closed at once (3 of 5 within 100 ms, each within 1 s), counted as
# no_upstream; round robin over two upstreams: 30 clients in turn, 15 reach each (seen end to
# end from the upstream's id line); a blackholed first upstream (its accept queue full, so SYNs
# are dropped): --connect-timeout 300ms passes, counted, and the next upstream serves the
# client (round trip 0.29..2 s); --balance hash-src: 10 clients from 127.0.0.1 all reach one
# upstream.
# shellcheck source=relay_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/relay_lib.sh"
backend_setup "${1:-}"

dead=$(dead_port)
dead2=$(dead_port)
echo_upstream_start
start_server relay --threads 1 --upstream "127.0.0.1:$dead" --upstream "127.0.0.1:$ECHO_PORT" \
    "${BACKEND_ARGS[@]}"
run_client stream --count 10 --bytes 65536 --timeout 30 "$HOST" "$PORT" ||
    fail "clients were lost behind a refused upstream"
stop_server
refused=$(total_field relay_connect_refused)
((refused >= 1)) || fail "no refused connect was counted"
expect_total relay_retries "$refused"
expect_total relay_connect_ok 10
expect_total relay_no_upstream 0

start_server relay --threads 1 --upstream "127.0.0.1:$dead" --upstream "127.0.0.1:$dead2" \
    "${BACKEND_ARGS[@]}"
# Each within a second, and most within 100 ms: the bound is the relay's (no timer is waited
# for), the slack is for a 2-core machine running sanitizer builds beside other tests.
fast=0
for i in 1 2 3 4 5; do
    peer_client closed 1000 || fail "client $i was not closed within 1 s with no upstream"
    [[ $PEER_LINE =~ closed\ after\ ([0-9]+) ]] || fail "no time in: $PEER_LINE"
    ((BASH_REMATCH[1] < 100)) && fast=$((fast + 1))
done
((fast >= 3)) || fail "only $fast of 5 clients were closed within 100 ms with no upstream"
stop_server
expect_total relay_no_upstream 5
expect_total relay_connect_ok 0

peer_start id A
a=$PEER_PORT
peer_start id B
b=$PEER_PORT
start_server relay --threads 1 --upstream "127.0.0.1:$a" --upstream "127.0.0.1:$b" \
    "${BACKEND_ARGS[@]}"
peer_client ids 30 || fail "round robin clients"
[[ $PEER_LINE == "ids A=15 B=15" ]] || fail "round robin: $PEER_LINE, expected A=15 B=15"
stop_server
expect_total relay_connect_ok 30

start_server relay --threads 1 --upstream "127.0.0.1:$a" --upstream "127.0.0.1:$b" \
    --balance hash-src "${BACKEND_ARGS[@]}"
peer_client ids 10 || fail "hash-src clients"
[[ $PEER_LINE == "ids A=10" || $PEER_LINE == "ids B=10" ]] ||
    fail "hash-src: $PEER_LINE, expected all 10 on one upstream"
stop_server

peer_start blackhole
start_server relay --threads 1 --upstream "127.0.0.1:$PEER_PORT" \
    --upstream "127.0.0.1:$ECHO_PORT" --connect-timeout 300ms "${BACKEND_ARGS[@]}"
peer_client timed 0.29 2 || fail "blackholed upstream: connect timeout and the next upstream"
stop_server
expect_total relay_connect_timeout 1
expect_total relay_retries 1
expect_total relay_connect_ok 1
pass
