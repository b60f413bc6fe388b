#!/usr/bin/env bash
# ringload_shard_netns.sh: a sharded run across "hosts" made of network namespaces. A server
# namespace and three generator namespaces, each with a veth pair into a bridge in a namespace
# of its own (private 10.x addresses, nothing in the test's own namespace); `ringsock echo` in
# the server's, one `ringload --shard I/3` in each generator's, all given one --start-at. The
# merge must hold the sum of the shards' messages, a combined rate within 1% of -R and a start
# skew under 10 ms; each shard must have opened its share of the connections before the start.
# Skips (77) where namespaces, veth or bridges cannot be made (not root, no CAP_NET_ADMIN).
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

RATE=3000
CONNS=30
DURATION=3
SHARDS=3

((EUID == 0)) || skip "needs root for network namespaces"
command -v ip >/dev/null || skip "needs ip (iproute2)"

# Unique names per run (a parallel or crashed run leaves its own), at most 15 characters.
tag=$(printf 'rs%04x%04x' $(($$ & 0xffff)) $((RANDOM & 0xffff)))
NS_BR=${tag}b
NS_SRV=${tag}s
NS_GEN=("${tag}g0" "${tag}g1" "${tag}g2")
NS_MADE=()

ns_cleanup() {
    local ns pid
    # What runs inside goes first (by pid), so the namespaces go away with their deletion.
    for pid in "${LIB_PIDS[@]}" $SERVER_PID; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for ns in "${NS_MADE[@]}"; do
        ip netns delete "$ns" 2>/dev/null || true
    done
}
# Then lib.sh's clean-up, with the script's exit status.
ns_exit() {
    local rc=$?
    ns_cleanup
    (exit "$rc")
    lib_cleanup
}
trap ns_exit EXIT

ns_add() {
    ip netns add "$1" 2>"$TEST_TMP/ns.err" || skip "cannot make a network namespace: $(cat "$TEST_TMP/ns.err")"
    NS_MADE+=("$1")
    ip -n "$1" link set lo up
}

ns_add "$NS_BR"
ip -n "$NS_BR" link add br0 type bridge 2>"$TEST_TMP/ns.err" ||
    skip "cannot make a bridge: $(cat "$TEST_TMP/ns.err")"
ip -n "$NS_BR" link set br0 up
# host NS ADDR: a namespace whose eth0 (ADDR/24) is a veth pair's end, the other in the bridge.
host() {
    local ns=$1 addr=$2 port=p${#NS_MADE[@]}
    ns_add "$ns"
    ip -n "$ns" link add eth0 type veth peer name "$port" netns "$NS_BR" 2>"$TEST_TMP/ns.err" ||
        skip "cannot make a veth pair: $(cat "$TEST_TMP/ns.err")"
    ip -n "$NS_BR" link set "$port" master br0 up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
}
host "$NS_SRV" 10.231.0.1
for i in 0 1 2; do
    host "${NS_GEN[$i]}" "10.231.0.$((11 + i))"
done

# shellcheck disable=SC2034  # read by start_server (lib.sh)
SERVER_PREFIX=(ip netns exec "$NS_SRV")
start_server echo --tcp 10.231.0.1:0
url="tcp://10.231.0.1:$PORT"
# tcp_reach NS: a TCP connection from NS to the server opens (bounded).
tcp_reach() {
    timeout 2 ip netns exec "$1" bash -c "exec 3<>/dev/tcp/10.231.0.1/$PORT" 2>/dev/null
}
for i in 0 1 2; do
    wait_until 5 tcp_reach "${NS_GEN[$i]}" || fail "generator $i cannot reach the server"
done

# sharded_run N: the three shards, launched 0.3 s apart, with one start instant 3 s ahead (on
# this loaded machine a shard took over 2 s to launch and connect),
# then the merge into $TEST_TMP/m$N.json; checks everything but the skew, sets SKEW (ms).
sharded_run() {
    local n=$1 i start m sum conns msgs rate err_pct pids=()
    start=$(date +%s.%N | awk '{ printf "%.3f", $1 + 3 }')
    for i in 0 1 2; do
        ip netns exec "${NS_GEN[$i]}" "$RINGLOAD" --no-progress -c "$CONNS" -R "$RATE" \
            -d "${DURATION}s" --shard "$i/$SHARDS" --start-at "$start" --run-id "netns$n" \
            --json "$TEST_TMP/s$i.json" "$url" >"$TEST_TMP/s$i.out" 2>"$TEST_TMP/s$i.err" &
        pids+=($!)
        track_pid "${pids[$i]}"
        sleep 0.3 # launched apart, as by ssh: the start must not follow the launch
    done
    for i in 0 1 2; do
        wait_pid "${pids[$i]}" $((DURATION + 20)) ||
            fail "shard $i failed: $(cat "$TEST_TMP/s$i.out" "$TEST_TMP/s$i.err")"
        cat "$TEST_TMP/s$i.out"
    done
    m=$TEST_TMP/m$n.json
    "$RINGLOAD" merge --json "$m" "$TEST_TMP"/s{0,1,2}.json >"$TEST_TMP/m.out" \
        2>"$TEST_TMP/m.err" || fail "merge failed: $(cat "$TEST_TMP/m.err")"
    cat "$TEST_TMP/m.out"
    [[ -s $TEST_TMP/m.err ]] && fail "merge warned: $(cat "$TEST_TMP/m.err")"
    sum=$(jq -s 'map(.messages) | add' "$TEST_TMP"/s{0,1,2}.json)
    conns=$(jq -s 'map(.connections) | add' "$TEST_TMP"/s{0,1,2}.json)
    msgs=$(jnum "$m" .messages)
    rate=$(jnum "$m" .msgs_per_sec)
    SKEW=$(jnum "$m" .merge.start_skew_ms)
    err_pct=$(jq -n "($rate - $RATE) / $RATE * 100 | . * 1000 | round / 1000")
    log "run $n merged: $msgs messages (shards: $sum), $rate/s (error $err_pct%)," \
        "start skew $SKEW ms, saturated $(jq .saturated "$m")"
    for i in 0 1 2; do
        jq -e --argjson i "$i" --arg id "netns$n" '.shard.index == $i and
            .not_open_at_start == 0 and .run_id == $id and .start_at_unix != null' \
            "$TEST_TMP/s$i.json" >/dev/null ||
            fail "shard $i: $(jq -c '[.shard, .not_open_at_start, .run_id, .start_at_unix]' "$TEST_TMP/s$i.json")"
    done
    ((msgs == sum)) || fail "merged messages $msgs != the shards' sum $sum"
    ((conns == CONNS)) || fail "the shards opened $conns connections, not $CONNS"
    jq -e -n "($rate - $RATE) | fabs <= $RATE * 0.01" >/dev/null ||
        fail "combined rate $rate is not within 1% of $RATE"
    jq -e --arg id "netns$n" '.merge.shards == [0, 1, 2] and .run_id == $id' "$m" >/dev/null ||
        fail "merge did not record the shards: $(jq -c '[.merge, .run_id]' "$m")"
}

# The skew is the shards' real starts (each one's timer firing, on one clock here), so it
# includes this machine's scheduling delay: on a loaded shared machine one shard may now and
# then be scheduled 10 ms late. Up to three sharded runs, so that only a skew every time (a
# wrong instant, a coarse timer, a start tied to the launch) fails; each run's other checks
# must pass every time.
skews=()
for n in 1 2 3; do
    sharded_run "$n"
    skews+=("$SKEW")
    jq -e -n "$SKEW < 10" >/dev/null && break
done
jq -e -n "$SKEW < 10" >/dev/null || fail "start skew not under 10 ms in 3 runs: ${skews[*]} ms"
log "start skews (ms): ${skews[*]}"

# The recipe, tools/ringload-dist.sh, with the namespaces as its hosts ('ip netns exec' for ssh).
DIST=$(dirname "${BASH_SOURCE[0]}")/../../tools/ringload-dist.sh
rc=0
run_bounded 60 "$TEST_TMP/dist.out" "$TEST_TMP/dist.err" bash "$DIST" --delay 3 \
    --hosts "${NS_GEN[0]},${NS_GEN[1]},${NS_GEN[2]}" --ssh "ip netns exec" --run-id dist \
    --out "$TEST_TMP/dist" --ringload "$RINGLOAD" --merge "$RINGLOAD" \
    -- -c "$CONNS" -R "$RATE" -d 2s "$url" || rc=$?
cat "$TEST_TMP/dist.out" "$TEST_TMP/dist.err"
((rc == 0)) || fail "ringload-dist.sh over the namespaces exited $rc"
jq -e --argjson r "$RATE" '.merge.shards == [0, 1, 2] and .run_id == "dist" and
    ((.msgs_per_sec - $r) | fabs) <= $r * 0.01' "$TEST_TMP/dist/all.json" >/dev/null ||
    fail "ringload-dist.sh's merge: $(jq -c '[.merge, .run_id, .msgs_per_sec]' "$TEST_TMP/dist/all.json")"
stop_server
pass
