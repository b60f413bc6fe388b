#!/usr/bin/env bash
# stats.sh BACKEND: ringsock --stats. Bad intervals are refused (exit 2, one line). With
# --stats 1 --threads 2 under a 3 s ringload run (20000 messages/s: traffic, not a CPU hog that
# would disturb tests running beside it) plus a streamcheck run: a block of lines (one
# per worker and w=all) about once a second, as many blocks as seconds ran (within one), the
# per-worker accepts over all blocks adding up to the connections made, rates above zero
# during the load, and zero (with no connection open) once it is over.
#
# Environment: RINGLOAD (the load generator; default: next to RINGSOCK).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

RINGLOAD=${RINGLOAD:-$(dirname "$RINGSOCK")/ringload}
[[ -x $RINGLOAD ]] || fail "RINGLOAD must name ringload (tried $RINGLOAD)"
THREADS=2
LOAD_CONNS=20
STREAM_CONNS=10

for bad in 0 -1 abc 5ms; do
    rc=0
    run_bounded 5 "$TEST_TMP/bad.out" "$TEST_TMP/bad.err" "$RINGSOCK" echo --tcp 127.0.0.1:0 \
        --stats "$bad" || rc=$?
    ((rc == 2)) || fail "--stats $bad: exit $rc, expected 2"
    if (($(wc -l <"$TEST_TMP/bad.err") != 1)) || ! grep -q -- '--stats' "$TEST_TMP/bad.err"; then
        fail "--stats $bad: expected one error line naming --stats: $(cat "$TEST_TMP/bad.err")"
    fi
done
log "--stats 0, -1, abc, 5ms refused: $(cat "$TEST_TMP/bad.err")"

now_s() {
    date +%s.%N
}

started=$(now_s)
start_server echo "${BACKEND_ARGS[@]}" --threads "$THREADS" --stats 1
load_out="$TEST_TMP/ringload.out"
rc=0
run_bounded 30 "$load_out" "$TEST_TMP/ringload.err" "$RINGLOAD" "tcp://$HOST:$PORT" \
    -c "$LOAD_CONNS" -d 3s -R 20000 || rc=$?
((rc == 0)) || fail "ringload failed (status $rc): $(tail -n 3 "$TEST_TMP/ringload.err")"
run_client stream --count "$STREAM_CONNS" --bytes 256k --timeout 30 "$HOST" "$PORT" ||
    fail "stream check failed"
blocks_at_end=$(grep -c '^ringsock: stats .* w=all ' "$SERVER_OUT" || true)

# Then idle: wait for a block that starts after the load and shows nothing moving.
idle_block() {
    local n
    n=$(grep -c '^ringsock: stats .* w=all ' "$SERVER_OUT" || true)
    ((n >= blocks_at_end + 2))
}
wait_until 10 idle_block || fail "no stats lines for 10 s after the load"
stop_server
ran=$(echo "$(now_s) - $started" | bc)

mapfile -t lines < <(grep '^ringsock: stats ' "$SERVER_OUT")
mapfile -t totals < <(grep '^ringsock: stats .* w=all ' "$SERVER_OUT")
nblocks=${#totals[@]}
log "${#lines[@]} stats lines, $nblocks blocks in ${ran} s; last: ${totals[-1]}"
printf '%s\n' "${totals[@]}"

# field LINE NAME: the value of NAME= in LINE.
field() {
    [[ $1 =~ (^|[[:space:]])$2=([^[:space:]]+) ]] || fail "no $2= in: $1"
    echo "${BASH_REMATCH[2]}"
}
positive() {
    [[ $1 =~ [1-9] ]]
}

# About once a second: as many blocks as whole seconds ran, within one, and a block is always
# THREADS worker lines then w=all.
secs=${ran%.*}
((nblocks >= secs - 1 && nblocks <= secs + 1)) || fail "$nblocks blocks in $ran s"
((${#lines[@]} == nblocks * (THREADS + 1))) ||
    fail "${#lines[@]} lines for $nblocks blocks of $((THREADS + 1))"
for ((i = 0; i < ${#lines[@]}; i++)); do
    w=$(field "${lines[i]}" w)
    want=$((i % (THREADS + 1)))
    ((want < THREADS)) || want=all
    [[ $w == "$want" ]] || fail "line $i is w=$w, expected w=$want: ${lines[i]}"
done
prev=""
for line in "${totals[@]}"; do
    t=$(field "$line" t)
    if [[ -n $prev ]]; then
        gap=$(echo "$t - $prev" | bc)
        (($(echo "$gap >= 0.5 && $gap <= 2.0" | bc) == 1)) ||
            fail "blocks at t=$prev and t=$t: not about a second apart"
    fi
    prev=$t
done

# Every connection is accepted once: per-worker accepts over all blocks add up to them all,
# and so do the w=all lines.
workers_sum=0
all_sum=0
for line in "${lines[@]}"; do
    n=$(field "$line" accepts)
    if [[ $(field "$line" w) == all ]]; then
        all_sum=$((all_sum + n))
    else
        workers_sum=$((workers_sum + n))
    fi
done
conns=$((LOAD_CONNS + STREAM_CONNS))
((workers_sum == conns)) || fail "per-worker accepts add up to $workers_sum, made $conns"
((all_sum == conns)) || fail "w=all accepts add up to $all_sum, made $conns"
expect_total conns_accepted "$conns"

# During the load: messages, bytes and batches moved in at least two blocks, and a block that
# falls wholly inside the load shows about the rate ringload sent (one 64-byte message per
# receive at this rate; the bounds leave room for a generator catching up).
busy=0
at_rate=0
for line in "${totals[@]}"; do
    if positive "$(field "$line" msgs_per_s)" && positive "$(field "$line" in_bytes_per_s)" &&
        positive "$(field "$line" out_bytes_per_s)" && positive "$(field "$line" batch)"; then
        busy=$((busy + 1))
    fi
    rate=$(field "$line" msgs_per_s)
    rate=${rate%.*}
    ((rate >= 10000 && rate <= 30000)) && at_rate=$((at_rate + 1))
done
((busy >= 2)) || fail "only $busy blocks show traffic during a 3 s load"
((at_rate >= 1)) || fail "no block shows about the 20000 msgs/s ringload sent"

# Once it is over: nothing moves and nothing is open, on every worker.
for ((i = ${#lines[@]} - THREADS - 1; i < ${#lines[@]}; i++)); do
    line=${lines[i]}
    for f in accepts accepts_per_s msgs_per_s in_bytes_per_s out_bytes_per_s open; do
        ! positive "$(field "$line" "$f")" || fail "after the load, $f is not zero: $line"
    done
done
pass
