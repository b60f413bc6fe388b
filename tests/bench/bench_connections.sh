#!/usr/bin/env bash
# bench_connections.sh: `bench/run.sh connections --quick` on one round, with the per-process
# capacity forced down to 2000 so that 5000 connections are split over 3 server and 3 ringload
# processes (the path taken where the fd hard limit cannot be raised). Every side holds every
# connection, memory per connection is measured, and nothing is left running.
set -uo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
: "${BUILD_DIR:?}" "${BENCH_RUN:?}"
for c in nginx gnuplot python3 taskset prlimit; do
    command -v $c >/dev/null || { echo "SKIP: $c not installed (tools/install-deps.sh)"; exit 77; }
done
OUT=$(mktemp -d /tmp/bench-conns.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

BENCH_CONN_CAP=2000 bash "$BENCH_RUN" connections --quick --rounds 1 --no-install \
    --build "$BUILD_DIR" --out "$OUT" >"$OUT/stdout" 2>"$OUT/stderr"
rc=$?
((rc == 0)) || { cat "$OUT/stderr" >&2; fail "bench/run.sh exited $rc"; }
for pid in $(grep -oE 'started [^ ]+ \(pid [0-9]+\)' "$OUT/stderr" | grep -oE '[0-9]+\)$' | tr -d ')'); do
    kill -0 "$pid" 2>/dev/null && fail "server pid $pid still running after bench/run.sh"
done
# 1000 connections: one process per side; 5000: three. 3 sides.
(($(grep -c 'started ' "$OUT/stderr") == 3 * (1 + 3))) ||
    fail "expected 12 server processes: $(grep started "$OUT/stderr")"
shopt -s nullglob
csv=("$OUT"/connections-*-quick.csv)
png=("$OUT"/connections-*-quick.png)
md=("$OUT"/connections-*-quick.md)
((${#csv[@]} == 1 && ${#png[@]} == 1 && ${#md[@]} == 1)) || fail "outputs: $(ls "$OUT")"
[ "$(head -c 4 "${png[0]}" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "not a PNG"
python3 - "${csv[0]}" <<'PY' || fail "CSV content"
import csv, sys
text = open(sys.argv[1]).read().splitlines()
assert any(l.startswith("# processes: at most 2000 connections per process") for l in text), text[:14]
rows = list(csv.DictReader(l for l in text if not l.startswith("#")))
got = sorted((r["side"], r["conns"]) for r in rows)
want = sorted((s, n) for s in ("ringsock-io_uring", "ringsock-epoll", "nginx") for n in ("1000", "5000"))
assert got == want, got
for r in rows:
    assert int(r["errors"]) == 0, r
    assert float(r["open_s"]) > 0 and float(r["throughput"]) > 0, r
    # Idle connections cost memory: some, and not absurdly much (bounded per connection).
    assert 0 < int(r["rss_per_conn_b"]) < 64 * 1024, r
PY
grep -qE '^\| c5000 \| ringsock-io_uring \| nginx \| [0-9.]+x' "${md[0]}" || fail "no ratio row"
echo PASS
