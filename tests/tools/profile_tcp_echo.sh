#!/bin/bash
# tools/profile.sh end to end on a tiny budget: tcp-echo recorded for 1 s against the built
# binaries, then the outputs a person opens are checked: perf.data, report.txt, summary.txt with
# the shares, folded stacks holding a ringsock function (from src/core/loop.c) and a kernel frame and
# adding up to perf's sample count, and a well-formed SVG with a frame per sample path.
# Environment: RINGSOCK (the server binary; ringload sits beside it). Exit 0 pass, 1 fail,
# 77 skip (no perf, or perf cannot record on this machine: profile.sh says why).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ -x ${RINGSOCK:-} ]] || { echo "FAIL: RINGSOCK must name the ringsock binary"; exit 1; }
BUILD=$(dirname "$RINGSOCK")
command -v perf >/dev/null || { echo "SKIP: perf is not installed (apt-get install linux-perf)"; exit 77; }
OUT=$(mktemp -d "${TMPDIR:-/tmp}/ringsock-profile-test.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
fail() { echo "FAIL: profile: $*"; exit 1; }

timeout -s INT 60 "$ROOT/tools/profile.sh" tcp-echo --seconds 1 --build "$BUILD" --out "$OUT" \
    >"$OUT/profile.log" 2>&1
rc=$?
cat "$OUT/profile.log"
[[ $rc == 77 ]] && { echo "SKIP: $(grep -m1 'cannot record' "$OUT/profile.log")"; exit 77; }
[[ $rc == 0 ]] || fail "tools/profile.sh exited with $rc"

for f in perf.data report.txt summary.txt stacks.folded flame.svg load.txt server.out; do
    [[ -s $OUT/$f ]] || fail "$f is missing or empty"
done
# ringsock's own frames: rs_loop_run is src/core/loop.c's loop, on every worker's stack.
grep -qE '(^|;)rs_loop_run(;| )' "$OUT/stacks.folded" || fail "no rs_loop_run frame in stacks.folded"
grep -qE '_\[k\](;| )' "$OUT/stacks.folded" || fail "no kernel frame in stacks.folded"
grep -q '^ringsock-w0' "$OUT/stacks.folded" || fail "no stack rooted at the worker thread ringsock-w0"
folded=$(awk '{ s += $NF } END { print s + 0 }' "$OUT/stacks.folded")
perf_total=$(perf report -i "$OUT/perf.data" --stdio -n --no-children --sort dso -g none 2>/dev/null |
    awk '/^ +[0-9.]+%/ { s += $2 } END { print s + 0 }')
((folded > 0 && folded == perf_total)) || fail "folded stacks hold $folded samples, perf $perf_total"
grep -qE "^check: folded stacks hold $folded samples = perf report's $folded$" "$OUT/summary.txt" ||
    fail "summary.txt lacks the check line"
grep -qE '^user vs kernel: user [0-9.]+%, kernel [0-9.]+%$' "$OUT/summary.txt" ||
    fail "summary.txt lacks the user vs kernel share"
grep -qE '^what bounds it: ringsock \(own code\) [0-9.]+%, kernel [0-9.]+%, libc [0-9.]+%, other [0-9.]+%$' \
    "$OUT/summary.txt" || fail "summary.txt lacks the own/kernel/libc shares"
grep -qE '^event: (cpu-clock|cycles)' "$OUT/summary.txt" || fail "summary.txt does not name the event"
grep -q '^top 15 symbols' "$OUT/summary.txt" || fail "summary.txt lacks the top symbols"
grep -qE '^ +[0-9.]+% +[0-9]+ +ringsock-w0 +ringsock ' "$OUT/report.txt" ||
    fail "report.txt does not show ringsock's own code by thread and dso"
python3 - "$OUT/flame.svg" "$folded" <<'PY' || fail "flame.svg is not a well-formed flame graph"
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
svg = ET.parse(sys.argv[1]).getroot()
titles = [t.text for t in svg.iter(ns + "title")]
assert svg.tag == ns + "svg", svg.tag
assert any(t.startswith("ringsock-w0 ") for t in titles), "no root frame for the worker"
assert any(t.startswith("rs_loop_run (program)") for t in titles), "no rs_loop_run frame"
assert any("(kernel)" in t for t in titles), "no kernel frame"
total = sum(int(t.split(": ")[1].split(" ")[0]) for t in titles if "(thread)" in t)
assert total == int(sys.argv[2]), f"root frames hold {total} samples, folded {sys.argv[2]}"
PY
echo "PASS: profile (folded $folded samples = perf's)"
