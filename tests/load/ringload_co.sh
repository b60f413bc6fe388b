#!/usr/bin/env bash
# ringload_co.sh: coordinated omission. A server stalls for 1 s in the middle of a 4 s run.
# At constant rate, latency runs from each message's intended send time, so the stall fills
# the tail: p99 must be hundreds of ms. In closed loop each connection waits only once, so the
# stall shows in the max but not in p99. Both are asserted.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

start_stallecho --stall-after 1.5 --stall-for 1
ringload_run open --backend epoll "tcp://127.0.0.1:$STALL_PORT" -c 10 -d 4s -R 1000 \
    --timeout 5s --json "$TEST_TMP/open.json"
((LOAD_RC == 0)) || fail "ringload -R exited $LOAD_RC"
p99=$(jnum "$TEST_TMP/open.json" '.latency.percentiles_us["99"] | floor')
log "constant rate: p99 ${p99} us"
((p99 >= 300000)) || fail "constant rate p99 is ${p99} us: the 1 s stall is hidden"
stop_stallecho

start_stallecho --stall-after 1.5 --stall-for 1
ringload_run closed --backend epoll "tcp://127.0.0.1:$STALL_PORT" -c 10 -d 4s \
    --timeout 5s --json "$TEST_TMP/closed.json"
((LOAD_RC == 0)) || fail "ringload closed loop exited $LOAD_RC"
p99=$(jnum "$TEST_TMP/closed.json" '.latency.percentiles_us["99"] | floor')
max=$(jnum "$TEST_TMP/closed.json" '.latency.max_us | floor')
log "closed loop: p99 ${p99} us, max ${max} us"
((max >= 800000)) || fail "closed loop max is ${max} us: the stall is missing"
((p99 < 100000)) || fail "closed loop p99 is ${p99} us: expected the stall only in the max"
stop_stallecho
pass
