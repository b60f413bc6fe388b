#!/usr/bin/env bash
# bench_quick.sh: `bench/run.sh tcp-echo --quick` on a tiny budget (2 rounds of 1 s) writes the
# CSV, latency CSV, Markdown and PNG with every side and case measured, no errors, CPU times,
# ratios, and leaves no server behind. Proves the scripts work; measures nothing.
set -uo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
: "${BUILD_DIR:?}" "${BENCH_RUN:?}"
for c in socat sockperf gnuplot python3 taskset; do
    command -v $c >/dev/null || { echo "SKIP: $c not installed (tools/install-deps.sh)"; exit 77; }
done
OUT=$(mktemp -d /tmp/bench-quick.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

bash "$BENCH_RUN" tcp-echo --quick --rounds 2 --seconds 1 --no-install --build "$BUILD_DIR" \
    --out "$OUT" >"$OUT/stdout" 2>"$OUT/stderr"
rc=$?
((rc == 0)) || { cat "$OUT/stderr" >&2; fail "bench/run.sh exited $rc"; }

# Every server it started is gone.
for pid in $(grep -oE 'started [^ ]+ \(pid [0-9]+\)' "$OUT/stderr" | grep -oE '[0-9]+\)$' | tr -d ')'); do
    kill -0 "$pid" 2>/dev/null && fail "server pid $pid still running after bench/run.sh"
done
(($(grep -c 'started ' "$OUT/stderr") >= 4)) || fail "expected 4 servers started: $(cat "$OUT/stderr")"

shopt -s nullglob
csv=("$OUT"/tcp-echo-*-quick.csv)
lat=("$OUT"/tcp-echo-*-quick-latency.csv)
md=("$OUT"/tcp-echo-*-quick.md)
png=("$OUT"/tcp-echo-*-quick.png)
((${#csv[@]} == 1 && ${#lat[@]} == 1 && ${#md[@]} == 1 && ${#png[@]} == 1)) ||
    fail "expected one csv, latency csv, md, png: $(ls "$OUT")"
[ "$(head -c 4 "${png[0]}" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "not a PNG"
(($(stat -c %s "${png[0]}") > 10000)) || fail "PNG suspiciously small"

python3 - "${csv[0]}" "${lat[0]}" <<'PY' || fail "CSV content"
import csv, sys
text = open(sys.argv[1]).read().splitlines()
meta = {l[2:].split(":")[0] for l in text if l.startswith("# ")}
need = {"date", "commit", "kernel", "cpu", "pinning", "build", "peers", "runs", "command"}
assert need <= meta, f"description lacks {need - meta}"
rows = list(csv.DictReader(l for l in text if not l.startswith("#")))
def ok(r):
    assert float(r["throughput"]) > 0, r
    assert int(r["errors"]) == 0, r
    assert float(r["srv_user_s"]) + float(r["srv_sys_s"]) > 0, r
    assert float(r["gen_user_s"]) + float(r["gen_sys_s"]) > 0, r
    assert 0 < float(r["p50_us"]) <= float(r["p99_us"]) <= float(r["max_us"]), r
for case in ("c1-d1", "c100-d1"):
    for side in ("ringsock-io_uring", "ringsock-epoll", "socat"):
        got = [r for r in rows if r["case"] == case and r["side"] == side]
        assert sorted(r["round"] for r in got) == ["1", "2"], (case, side, got)
        for r in got:
            ok(r)
            assert r["conns"] == case[1:].split("-")[0], r
pp = {r["side"] for r in rows if r["case"] == "pingpong"}
assert pp == {"ringsock-io_uring", "ringsock-epoll", "sockperf"}, pp
for r in rows:
    if r["case"] == "pingpong":
        ok(r)
lat = list(csv.DictReader(open(sys.argv[2])))
assert {r["side"] for r in lat if r["case"] == "pingpong"} == pp
PY
grep -q '^## Ratios' "${md[0]}" || fail "no ratios in the Markdown"
grep -qE '^\| c100-d1 \| ringsock-io_uring \| socat \| [0-9.]+x \| [0-9.]+x \(server\)' "${md[0]}" ||
    fail "no io_uring/socat ratio row: $(cat "${md[0]}")"
grep -qE '^\| pingpong \| ringsock-io_uring \| sockperf \| [0-9.]+x' "${md[0]}" || fail "no ping-pong ratio"
cmp -s "${md[0]}" <(sed -n '/^# tcp-echo/,$p' "$OUT/stdout" | head -n "$(wc -l <"${md[0]}")") ||
    fail "stdout does not show the Markdown written"
echo "PASS"
