#!/usr/bin/env bash
# relay_balance.sh BACKEND: balancing and health end to end through the relay, one worker, with
# relaypeer.py upstreams that name themselves. Weights 10/20: 30 clients split 10/20 exactly.
# A backup serves only while the primary is out: its port refuses at first (the backup serves
# every client), then listens, and after --fail-timeout the primary serves them all again.
# Recovery: a refused upstream stays out for --fail-timeout, then takes clients again.
# least-conn: with 4 long-lived sessions, 2 on each upstream, the 2 on one upstream end; the
# next 2 clients both go to it (round robin would split them). Active health: an upstream that
# accepts but does not answer --health-send with --health-expect is dead after --health-fall
# checks and no client reaches it; once it answers, --health-rise checks bring it back. The
# per-upstream health counters are checked in the totals.
# shellcheck source=relay_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/relay_lib.sh"
backend_setup "${1:-}"

# Weights 10/20 over 30 clients.
peer_start id A
a=$PEER_PORT
peer_start id B
b=$PEER_PORT
start_server relay --threads 1 --upstream "127.0.0.1:$a,weight=10" \
    --upstream "127.0.0.1:$b,weight=20" "${BACKEND_ARGS[@]}"
peer_client ids 30 || fail "weighted clients"
[[ $PEER_LINE == "ids A=10 B=20" ]] || fail "weights 10/20: $PEER_LINE, expected A=10 B=20"
stop_server

# least-conn with long-lived sessions.
start_server relay --threads 1 --upstream "127.0.0.1:$a" --upstream "127.0.0.1:$b" \
    --balance least-conn "${BACKEND_ARGS[@]}"
peer_client leastconn || fail "least-conn clients"
[[ $PEER_LINE =~ ^first\ [AB]\ ([AB])\ [AB]\ [AB]\ then\ (.*)$ ]] ||
    fail "least-conn: cannot parse: $PEER_LINE"
[[ ${BASH_REMATCH[2]} == "${BASH_REMATCH[1]}=2" ]] ||
    fail "least-conn: $PEER_LINE; the 2 new clients should both go to ${BASH_REMATCH[1]}"
stop_server

# A backup, used only while the primary is out.
p=$(dead_port)
start_server relay --threads 1 --upstream "127.0.0.1:$p" --upstream "127.0.0.1:$b,backup" \
    --fail-timeout 4s "${BACKEND_ARGS[@]}"
t0=$(date +%s%N)
peer_client ids 5 || fail "clients with the primary refusing"
[[ $PEER_LINE == "ids B=5" ]] || fail "primary refusing: $PEER_LINE, expected ids B=5"
RELAYPEER_PORT=$p peer_start id A
peer_client ids 3 || fail "clients within the fail timeout"
# Within the 4 s the refusal took the primary out for (a loaded machine may take longer).
if (($(date +%s%N) - t0 < 3500000000)); then
    [[ $PEER_LINE == "ids B=3" ]] || fail "primary out: $PEER_LINE, expected ids B=3"
else
    log "too slow to check the backup within the fail timeout: $PEER_LINE"
fi
while (($(date +%s%N) - t0 < 4300000000)); do sleep 0.1; done
peer_client ids 5 || fail "clients after the fail timeout"
[[ $PEER_LINE == "ids A=5" ]] || fail "primary back: $PEER_LINE, expected ids A=5"
stop_server
expect_total relay_connect_refused 1

# Recovery after the fail timeout, round robin.
p=$(dead_port)
start_server relay --threads 1 --upstream "127.0.0.1:$p" --upstream "127.0.0.1:$b" \
    --fail-timeout 2s "${BACKEND_ARGS[@]}"
peer_client ids 6 || fail "clients with one upstream refusing"
[[ $PEER_LINE == "ids B=6" ]] || fail "one refusing: $PEER_LINE, expected ids B=6"
RELAYPEER_PORT=$p peer_start id C
sleep 2.2
peer_client ids 10 || fail "clients after the fail timeout"
if ! [[ $PEER_LINE =~ ^ids\ B=([0-9]+)\ C=([0-9]+)$ ]] || ((BASH_REMATCH[2] < 4)); then
    fail "recovery: $PEER_LINE, expected C back in the rotation (C >= 4 of 10)"
fi
stop_server
expect_total relay_connect_refused 1

# Active health: D accepts checks but answers them only while $flag exists; E always answers.
flag="$TEST_TMP/d.answers"
touch "$TEST_TMP/e.answers"
peer_start health E "$TEST_TMP/e.answers"
e=$PEER_PORT
peer_start health D "$flag"
d=$PEER_PORT
start_server relay --threads 1 --upstream "127.0.0.1:$e" --upstream "127.0.0.1:$d" \
    --health tcp --health-interval 300ms --health-timeout 200ms --health-fall 2 \
    --health-rise 2 --health-send 'PING\r\n' --health-expect 'PONG' "${BACKEND_ARGS[@]}"
# Fall: 2 failed checks, 0.3 s apart, each 0.2 s: dead within about 1 s; wait 1.5 s.
sleep 1.5
peer_client ids 10 || fail "clients with D dead"
[[ $PEER_LINE == "ids E=10" ]] || fail "D failed its checks yet: $PEER_LINE, expected ids E=10"
touch "$flag"
sleep 1.5
peer_client ids 10 || fail "clients with D answering"
if ! [[ $PEER_LINE =~ ^ids\ D=([0-9]+)\ E=([0-9]+)$ ]] || ((BASH_REMATCH[1] < 4)); then
    fail "D passed its checks yet: $PEER_LINE, expected D back (D >= 4 of 10)"
fi
stop_server
ok=$(total_field relay_health_ok)
bad=$(total_field relay_health_fail)
((ok >= 4 && bad >= 2)) || fail "health checks counted: ok=$ok fail=$bad (want >= 4 and >= 2)"
pass
