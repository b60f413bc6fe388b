#!/usr/bin/env bash
# ringload_shard_hist.sh: the merged histogram of a sharded run equals the histogram of one
# unsharded run fed the same latencies. The test hook RINGSOCK_TEST_LOAD_LATENCIES=FILE makes a
# run report FILE's values as its latencies (shard I of N: the values at positions I mod N), so
# three shards and one unsharded run get the same values; the shards' JSON goes through
# `ringload merge`, and the merge must match the unsharded run bucket by bucket, with the same
# total, overflow, min, max, sums, mean, deviation and percentiles.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

# 30000 values spread log-uniformly over 1 ns .. 100 s, plus the edges: 0, values in the exact
# range (below 2048), and some above the histogram's 1 h limit (counted as overflow).
awk 'BEGIN {
    srand(15);
    for (i = 0; i < 30000; i++) printf "%.0f\n", exp(rand() * log(1e11));
    split("0 1 2047 2048 3600000000000 3600000000001 9000000000000", edge, " ");
    for (i = 1; i <= 7; i++) print edge[i];
}' >"$TEST_TMP/lat.txt"
nvals=$(wc -l <"$TEST_TMP/lat.txt")

start_server echo
url="tcp://127.0.0.1:$PORT"
export RINGSOCK_TEST_LOAD_LATENCIES=$TEST_TMP/lat.txt
for i in 0 1 2; do
    ringload_run "s$i" -c 3 -d 300ms --shard "$i/3" --run-id hist --json "$TEST_TMP/s$i.json" "$url"
    ((LOAD_RC == 0)) || fail "shard $i failed ($LOAD_RC)"
done
ringload_run one -c 3 -d 300ms --run-id hist --json "$TEST_TMP/one.json" "$url"
((LOAD_RC == 0)) || fail "the unsharded run failed ($LOAD_RC)"
unset RINGSOCK_TEST_LOAD_LATENCIES

"$RINGLOAD" merge --json "$TEST_TMP/m.json" "$TEST_TMP"/s{0,1,2}.json >"$TEST_TMP/m.out" \
    2>"$TEST_TMP/m.err" || fail "merge failed: $(cat "$TEST_TMP/m.err")"
[[ -s $TEST_TMP/m.err ]] && fail "merge warned: $(cat "$TEST_TMP/m.err")"
one=$TEST_TMP/one.json
m=$TEST_TMP/m.json
[[ $(jq .histogram.total "$one") == "$nvals" ]] || fail "the hook did not feed $nvals values"
for i in 0 1 2; do
    t=$(jq .histogram.total "$TEST_TMP/s$i.json")
    ((t >= nvals / 3 && t <= nvals / 3 + 1)) || fail "shard $i got $t of $nvals values"
done
for f in .histogram.buckets .histogram.total .histogram.overflow .histogram.min .histogram.max \
    .histogram.sum .histogram.sumsq .latency .percentile_curve; do
    [[ $(jq -cS "$f" "$m") == "$(jq -cS "$f" "$one")" ]] ||
        fail "merged $f differs from the unsharded run's: $(jq -cS "$f" "$m" | head -c 300) vs $(jq -cS "$f" "$one" | head -c 300)"
done
jq -e '.histogram.overflow == 2 and (.histogram.buckets | length) > 1000' "$one" >/dev/null ||
    fail "the values did not cover the histogram: $(jq -c '[.histogram.overflow, (.histogram.buckets | length)]' "$one")"
jq -e '.merge.shards == [0, 1, 2] and .run_id == "hist"' "$m" >/dev/null ||
    fail "merge did not record the shards: $(jq -c '[.merge, .run_id]' "$m")"
log "$(jq -c '{total: .histogram.total, buckets: (.histogram.buckets | length), p99: .latency.percentiles_us["99"]}' "$m")"
stop_server
pass
