#!/usr/bin/env bash
# ringload_merge.sh: two ringload runs at the same time against one server, then `ringload
# merge`: counts add up, the rate is the messages over the common window, the merged histogram
# holds every sample, its extremes are the runs' extremes, and merging a single run reproduces
# that run's percentiles exactly. Runs whose URL, size, depth or mode differ are refused unless
# --force; merge's own command line (--help, a bad option, no file).
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

start_server echo --threads 2
"$RINGLOAD" --no-progress -c 4 -d 2s --json "$TEST_TMP/a.json" "tcp://127.0.0.1:$PORT" \
    >"$TEST_TMP/a.out" 2>&1 &
a=$!
track_pid "$a"
"$RINGLOAD" --no-progress -c 6 -d 2s --json "$TEST_TMP/b.json" "tcp://127.0.0.1:$PORT" \
    >"$TEST_TMP/b.out" 2>&1 &
b=$!
track_pid "$b"
wait_pid "$a" 30 || fail "run A failed: $(cat "$TEST_TMP/a.out")"
wait_pid "$b" 30 || fail "run B failed: $(cat "$TEST_TMP/b.out")"

"$RINGLOAD" merge --json "$TEST_TMP/m.json" "$TEST_TMP/a.json" "$TEST_TMP/b.json" \
    >"$TEST_TMP/m.out" 2>"$TEST_TMP/m.err" || fail "merge failed: $(cat "$TEST_TMP/m.err")"
cat "$TEST_TMP/m.out" "$TEST_TMP/m.err"
# Each run made up its own run id: the merge says they differ, and names none.
grep -q "warning: .* is run .*, not " "$TEST_TMP/m.err" || fail "no warning about different run ids"
[[ $(jq -r .run_id "$TEST_TMP/m.json") == null ]] || fail "merged run_id of different runs"
m=$TEST_TMP/m.json
A=$TEST_TMP/a.json
B=$TEST_TMP/b.json
sum() { jq -n --slurpfile a "$A" --slurpfile b "$B" "\$a[0]$1 + \$b[0]$1"; }
for f in .messages .bytes_in .histogram.total .connections; do
    [[ $(jq "$f" "$m") == "$(sum "$f")" ]] || fail "merged $f $(jq "$f" "$m") != $(sum "$f")"
done
[[ $(jq '.runs' "$m") == 2 ]] || fail "runs != 2"
# The rate is all messages over the common window: from the earliest start of a measured
# window to the latest end; duration_s is that window.
jq -e -n --slurpfile m "$m" --slurpfile a "$A" --slurpfile b "$B" '
    ([$a[0].window.start_unix, $b[0].window.start_unix] | min) as $s |
    ([$a[0].window.end_unix, $b[0].window.end_unix] | max) as $e |
    ($m[0].window.start_unix == $s) and ($m[0].window.end_unix == $e) and
    (($m[0].duration_s - ($e - $s)) | fabs < 1e-6) and
    (($m[0].msgs_per_sec - $m[0].messages / ($e - $s)) | fabs < 0.01) and
    ($m[0].merge.rate_over == "common window") and ($m[0].merge.runs == 2)' >/dev/null ||
    fail "merged rate is not the messages over the common window: $(jq -c '[.msgs_per_sec, .messages, .duration_s, .window]' "$m")"
# Runs without times (older files) fall back to adding their rates.
jq 'del(.window)' "$A" >"$TEST_TMP/a_old.json"
"$RINGLOAD" merge --json "$TEST_TMP/old.json" "$TEST_TMP/a_old.json" "$B" >/dev/null 2>&1 ||
    fail "merge of a file without times failed"
jq -e -n --slurpfile m "$TEST_TMP/old.json" --slurpfile a "$A" --slurpfile b "$B" \
    '($m[0].msgs_per_sec - $a[0].msgs_per_sec - $b[0].msgs_per_sec) | fabs < 1' >/dev/null ||
    fail "msgs_per_sec of runs without times does not add up"
jq -e '.saturated == false and .merge.start_skew_ms >= 0' "$m" >/dev/null ||
    fail "merged saturated/start_skew_ms: $(jq -c '[.saturated, .merge]' "$m")"
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

# Runs of other settings are refused (exit 1, one line naming the file and the setting), from
# "settings" or, in older files, the top-level keys; --force merges them with a warning.
refuse() {
    local what=$1 filter=$2 rc=0
    jq "$filter" "$A" >"$TEST_TMP/x.json"
    "$RINGLOAD" merge "$A" "$TEST_TMP/x.json" >/dev/null 2>"$TEST_TMP/e" || rc=$?
    ((rc == 1)) && (($(wc -l <"$TEST_TMP/e") == 1)) && grep -q "x.json: $what" "$TEST_TMP/e" ||
        fail "merge of a run with another $what: rc=$rc $(cat "$TEST_TMP/e")"
    rc=0
    "$RINGLOAD" merge --force --json "$TEST_TMP/f.json" "$A" "$TEST_TMP/x.json" >/dev/null \
        2>"$TEST_TMP/e" || rc=$?
    ((rc == 0)) && grep -q "warning: .*x.json: $what" "$TEST_TMP/e" &&
        jq -e '.merge.forced == true' "$TEST_TMP/f.json" >/dev/null ||
        fail "merge --force of a run with another $what: rc=$rc $(cat "$TEST_TMP/e")"
}
refuse "URL" '.settings.url = "tcp://127.0.0.9:1"'
refuse "--size" '.settings.size = 200'
refuse "--depth" '.settings.depth = 4'
refuse "mode" '.settings.mode = "rate"'
refuse "--size" 'del(.settings) | .size = 200'
refuse "mode" 'del(.settings) | .rate = 1000'
# The same settings merge without a warning about them.
"$RINGLOAD" merge "$A" "$A" >/dev/null 2>"$TEST_TMP/e" || fail "merge of a run with itself"
grep -q "not the same run\|--force" "$TEST_TMP/e" && fail "warned about equal settings"

# merge's command line: --help (exit 0, usage on stdout), a bad option or no file (exit 2,
# one line), a missing --json value.
"$RINGLOAD" merge --help >"$TEST_TMP/h" 2>&1 || fail "merge --help failed"
grep -q '^usage: ringload merge' "$TEST_TMP/h" || fail "merge --help: $(head -n 3 "$TEST_TMP/h")"
for args in "--bogus $A" "" "--json" "-x $A"; do
    rc=0
    # shellcheck disable=SC2086  # the words are the arguments
    "$RINGLOAD" merge $args >/dev/null 2>"$TEST_TMP/e" || rc=$?
    ((rc == 2)) && (($(wc -l <"$TEST_TMP/e") == 1)) ||
        fail "merge $args: rc=$rc $(cat "$TEST_TMP/e")"
done

# Bad input: one line, non-zero.
echo '{"tool":"other"}' >"$TEST_TMP/bad.json"
rc=0
"$RINGLOAD" merge "$TEST_TMP/bad.json" 2>"$TEST_TMP/e" || rc=$?
((rc != 0)) && (($(wc -l <"$TEST_TMP/e") == 1)) || fail "bad merge input: rc=$rc $(cat "$TEST_TMP/e")"
stop_server
pass
