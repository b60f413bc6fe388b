#!/usr/bin/env bash
# ringload_merge.sh: two ringload runs at the same time against one server, then `ringload
# merge`: counts and rates add up, the merged histogram holds every sample, its extremes are
# the runs' extremes, and merging a single run reproduces that run's percentiles exactly.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

start_server echo --threads 2
"$RINGLOAD" --no-progress -c 4 -d 2s --json "$TEST_TMP/a.json" "tcp://127.0.0.1:$PORT" \
    >"$TEST_TMP/a.out" 2>&1 &
a=$!
track_pid "$a"
"$RINGLOAD" --no-progress -c 6 -d 2s -s 200 --json "$TEST_TMP/b.json" "tcp://127.0.0.1:$PORT" \
    >"$TEST_TMP/b.out" 2>&1 &
b=$!
track_pid "$b"
wait_pid "$a" 30 || fail "run A failed: $(cat "$TEST_TMP/a.out")"
wait_pid "$b" 30 || fail "run B failed: $(cat "$TEST_TMP/b.out")"

"$RINGLOAD" merge --json "$TEST_TMP/m.json" "$TEST_TMP/a.json" "$TEST_TMP/b.json" \
    >"$TEST_TMP/m.out" || fail "merge failed"
cat "$TEST_TMP/m.out"
m=$TEST_TMP/m.json
A=$TEST_TMP/a.json
B=$TEST_TMP/b.json
sum() { jq -n --slurpfile a "$A" --slurpfile b "$B" "\$a[0]$1 + \$b[0]$1"; }
for f in .messages .bytes_in .histogram.total .connections; do
    [[ $(jq "$f" "$m") == "$(sum "$f")" ]] || fail "merged $f $(jq "$f" "$m") != $(sum "$f")"
done
[[ $(jq '.runs' "$m") == 2 ]] || fail "runs != 2"
# Rates of simultaneous runs add (within rounding).
jq -e -n --slurpfile m "$m" --slurpfile a "$A" --slurpfile b "$B" \
    '($m[0].msgs_per_sec - $a[0].msgs_per_sec - $b[0].msgs_per_sec) | fabs < 1' >/dev/null ||
    fail "msgs_per_sec does not add up"
max=$(jq -n --slurpfile a "$A" --slurpfile b "$B" '[$a[0].histogram.max, $b[0].histogram.max] | max')
min=$(jq -n --slurpfile a "$A" --slurpfile b "$B" '[$a[0].histogram.min, $b[0].histogram.min] | min')
[[ $(jq .histogram.max "$m") == "$max" ]] || fail "merged max is not the larger max"
[[ $(jq .histogram.min "$m") == "$min" ]] || fail "merged min is not the smaller min"
# p50 of the merge lies between the two runs' p50s.
jq -e -n --slurpfile m "$m" --slurpfile a "$A" --slurpfile b "$B" \
    '$m[0].latency.percentiles_us["50"] >= ([$a[0].latency.percentiles_us["50"], $b[0].latency.percentiles_us["50"]] | min) and
     $m[0].latency.percentiles_us["50"] <= ([$a[0].latency.percentiles_us["50"], $b[0].latency.percentiles_us["50"]] | max)' \
    >/dev/null || fail "merged p50 outside the runs' p50s"

# One run merged alone: the same percentiles and buckets, exactly.
"$RINGLOAD" merge --json "$TEST_TMP/one.json" "$A" >/dev/null || fail "merge of one run failed"
for f in '.latency.percentiles_us' '.histogram.buckets' '.messages'; do
    [[ $(jq -c "$f" "$TEST_TMP/one.json") == "$(jq -c "$f" "$A")" ]] || fail "merge of one run changed $f"
done

# Bad input: one line, non-zero.
echo '{"tool":"other"}' >"$TEST_TMP/bad.json"
rc=0
"$RINGLOAD" merge "$TEST_TMP/bad.json" 2>"$TEST_TMP/e" || rc=$?
((rc != 0)) && (($(wc -l <"$TEST_TMP/e") == 1)) || fail "bad merge input: rc=$rc $(cat "$TEST_TMP/e")"
stop_server
pass
