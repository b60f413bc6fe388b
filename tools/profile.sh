#!/bin/bash
# Profiles ringsock under a bench scenario with `perf record -g` and writes what a person reads:
# a perf report, a summary (user vs kernel share, ringsock's own share, top symbols), folded
# stacks and a flame graph. See tools/README.md.
#
# Usage: tools/profile.sh SCENARIO [options]
#   SCENARIO: tcp-echo  ringsock echo, ringload tcp:// -c 100, 64-byte messages
#             udp-echo  ringsock echo --udp, ringload udp:// -c 16 --depth 16, 64-byte datagrams
#             http      ringsock http, ringload http:// -c 100 (or wrk -t1 -c100 with --load wrk)
# Exit status: 0 done, 1 failed, 2 bad usage, 77 perf cannot record on this machine (why is
# printed), the test suite's skip code.
set -euo pipefail

TOOLS=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$TOOLS")

usage() {
    cat <<'EOF'
usage: tools/profile.sh tcp-echo|udp-echo|http [options]
  --seconds N          seconds recorded (default 10); the load runs 2 s longer
  --backend B          server backend: io_uring, epoll or auto (default io_uring)
  --threads N          server worker threads (default 1)
  --generator          also record the load generator (perf-generator.data, ...-generator.*)
  --load ringload|wrk  http only: the load generator (default ringload)
  --depth N            messages in flight per connection (default: tcp 1, udp 16, http 1)
  --call-graph fp|dwarf  stack walking: frame pointers (default, -g) or DWARF (heavier; also
                       walks through libraries built without frame pointers, e.g. liburing)
  --out DIR            output directory (default profile-results/SCENARIO-DATE/)
  --build DIR          ringsock build (default build/release, built by `make release` if missing)
EOF
}

die() { echo "profile: $*" >&2; exit 1; }
bad_usage() { echo "profile: $*" >&2; usage >&2; exit 2; }

SCENARIO=
SECS=10
BACKEND=io_uring
THREADS=1
GENERATOR=0
LOAD=ringload
DEPTH=
CALLGRAPH=fp
OUT=
BUILD=
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) SECS=${2:-}; shift ;;
    --backend) BACKEND=${2:-}; shift ;;
    --threads) THREADS=${2:-}; shift ;;
    --generator) GENERATOR=1 ;;
    --load) LOAD=${2:-}; shift ;;
    --depth) DEPTH=${2:-}; shift ;;
    --call-graph) CALLGRAPH=${2:-}; shift ;;
    --out) OUT=${2:-}; shift ;;
    --build) BUILD=${2:-}; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) bad_usage "unknown option $1" ;;
    *) [ -z "$SCENARIO" ] || bad_usage "one scenario only"; SCENARIO=$1 ;;
    esac
    shift
done
case $SCENARIO in
tcp-echo | udp-echo | http) ;;
'') bad_usage "which scenario?" ;;
*) bad_usage "unknown scenario '$SCENARIO'" ;;
esac
[[ $SECS =~ ^[1-9][0-9]*$ ]] || bad_usage "--seconds wants a whole number >= 1"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || bad_usage "--threads wants a number >= 1"
[[ -z $DEPTH || $DEPTH =~ ^[1-9][0-9]*$ ]] || bad_usage "--depth wants a number >= 1"
case $BACKEND in io_uring | epoll | auto) ;; *) bad_usage "--backend io_uring|epoll|auto" ;; esac
case $LOAD in ringload | wrk) ;; *) bad_usage "--load ringload|wrk" ;; esac
[ "$LOAD" = ringload ] || [ "$SCENARIO" = http ] || bad_usage "--load wrk is for http only"
[ "$LOAD" = ringload ] || [ -z "$DEPTH" ] || bad_usage "--depth is for ringload (wrk sends one request at a time)"
case $CALLGRAPH in fp | dwarf) ;; *) bad_usage "--call-graph fp|dwarf" ;; esac

# ---- tools and build -----------------------------------------------------------------------
command -v perf >/dev/null || die "perf is missing: apt-get install linux-perf"
[ -x /usr/bin/python3 ] || die "python3 is missing: apt-get install python3"
[ "$LOAD" = ringload ] || command -v wrk >/dev/null || die "wrk is missing: apt-get install wrk"
if [ -z "$BUILD" ]; then
    BUILD=$ROOT/build/release
    if [ ! -x "$BUILD/ringsock" ] || [ ! -x "$BUILD/ringload" ]; then
        echo "profile: no release build; running make release"
        make -C "$ROOT" release >/dev/null
    fi
fi
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build directory $BUILD"
RINGSOCK=$BUILD/ringsock
RINGLOAD=$BUILD/ringload
[ -x "$RINGSOCK" ] && [ -x "$RINGLOAD" ] || die "no ringsock/ringload in $BUILD (make release)"

if [ -z "$OUT" ]; then
    OUT=$ROOT/profile-results/$SCENARIO-$(date +%Y%m%d-%H%M%S)
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringsock-profile.XXXXXX")

SERVER_PID=
GEN_PID=
PERF_PIDS=()
cleanup() {
    local p
    for p in "${PERF_PIDS[@]}" $GEN_PID $SERVER_PID; do
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- what perf can do here -----------------------------------------------------------------
NOTES=()
if perf stat -x, -e cycles true 2>&1 >/dev/null | grep -q '^[0-9]'; then
    EVENT=cycles
    NOTES+=("event: cycles (hardware PMU present)")
else
    EVENT=cpu-clock
    NOTES+=("event: cpu-clock (no hardware PMU here: perf stat -e cycles says <not supported>;\
 samples are timer ticks while on CPU, so shares are of on-CPU time)")
fi
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 2)
kptr=$(cat /proc/sys/kernel/kptr_restrict 2>/dev/null || echo 0)
if [ "$(id -u)" -ne 0 ] && [ "$paranoid" -gt 1 ]; then
    EVENT=$EVENT:u
    NOTES+=("kernel.perf_event_paranoid=$paranoid and not root: user space only, no kernel\
 samples (as root: sysctl kernel.perf_event_paranoid=1, or run this as root)")
fi
if { [ "$(id -u)" -ne 0 ] && [ "$kptr" -ge 1 ]; } || [ "$kptr" -ge 2 ]; then
    NOTES+=("kernel.kptr_restrict=$kptr: kernel symbols show as [unknown]\
 (as root: sysctl kernel.kptr_restrict=0)")
fi
if [ "$CALLGRAPH" = dwarf ]; then
    CG=(--call-graph dwarf -F 999)
else
    CG=(-g)
fi
if ! perf record -e "$EVENT" "${CG[@]}" -o "$TMP/probe.data" -- true >"$TMP/probe.log" 2>&1; then
    echo "profile: perf cannot record here: $(grep -v '^$' "$TMP/probe.log" | head -n 1)"
    exit 77
fi

# ---- pinning, as in bench/: server on the first CPUs, load on the rest ----------------------
ncpu=$(nproc)
SRV_PIN=()
GEN_PIN=()
if [ "$ncpu" -ge 2 ]; then
    k=$((THREADS < ncpu - 1 ? THREADS : ncpu - 1))
    cpus() { if [ "$1" = "$2" ]; then echo "$1"; else echo "$1-$2"; fi; }
    SRV_PIN=(taskset -c "$(cpus 0 $((k - 1)))")
    GEN_PIN=(taskset -c "$(cpus "$k" $((ncpu - 1)))")
fi

# ---- server --------------------------------------------------------------------------------
case $SCENARIO in
tcp-echo) SRV_ARGS=(echo --tcp 127.0.0.1:0) SCHEME=tcp ;;
udp-echo) SRV_ARGS=(echo --udp 127.0.0.1:0) SCHEME=udp ;;
http) SRV_ARGS=(http --tcp 127.0.0.1:0 --body 'hello\n') SCHEME=http ;;
esac
SRV_ARGS+=(--threads "$THREADS" --backend "$BACKEND")
"${SRV_PIN[@]}" "$RINGSOCK" "${SRV_ARGS[@]}" >"$OUT/server.out" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
    grep -q 'listening on' "$OUT/server.out" && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
done
ADDR=$(grep -m1 -oE "$SCHEME://127\.0\.0\.1:[0-9]+" "$OUT/server.out") ||
    die "server did not start: $(tail -n 3 "$OUT/server.out")"
echo "profile: $(grep -m1 'listening on' "$OUT/server.out")"

# ---- load ----------------------------------------------------------------------------------
LOAD_SECS=$((SECS + 2))
case $SCENARIO in
tcp-echo) GEN_ARGS=(-c 100 -s 64 --depth "${DEPTH:-1}" "$ADDR") ;;
udp-echo) GEN_ARGS=(-c 16 -s 64 --depth "${DEPTH:-16}" "$ADDR") ;;
http) GEN_ARGS=(-c 100 --depth "${DEPTH:-1}" "$ADDR/") ;;
esac
if [ "$LOAD" = wrk ]; then
    GEN_CMD=(wrk -t1 -c100 -d"${LOAD_SECS}s" "$ADDR/")
    GEN_PROGRAM=wrk
else
    GEN_CMD=("$RINGLOAD" --no-progress -d "${LOAD_SECS}s" "${GEN_ARGS[@]}")
    GEN_PROGRAM=ringload
fi
"${GEN_PIN[@]}" timeout -s INT $((LOAD_SECS + 20)) "${GEN_CMD[@]}" >"$OUT/load.txt" 2>&1 &
GEN_PID=$!
sleep 1 # connections up and the loop warm before recording starts
kill -0 "$GEN_PID" 2>/dev/null || die "load generator stopped early: $(tail -n 3 "$OUT/load.txt")"
# timeout runs the generator as its child: record the generator itself, not timeout.
GEN_REAL=$(pgrep -P "$GEN_PID" | head -n 1 || true)
[ -n "$GEN_REAL" ] || GEN_REAL=$GEN_PID

# ---- record --------------------------------------------------------------------------------
rm -f "$OUT"/perf.data "$OUT"/perf.data.old "$OUT"/perf-generator.data "$OUT"/perf-generator.data.old
PERF_CMD="perf record -e $EVENT ${CG[*]} -p PID -o perf.data -- sleep $SECS"
echo "profile: recording ringsock (pid $SERVER_PID) for $SECS s: $PERF_CMD"
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
timeout -s INT $((SECS + 30)) perf record -e "$EVENT" "${CG[@]}" -p "$SERVER_PID" \
    -o "$OUT/perf.data" -- sleep "$SECS" >"$OUT/perf-record.log" 2>&1 &
PERF_PIDS+=($!)
if [ "$GENERATOR" = 1 ]; then
    timeout -s INT $((SECS + 30)) perf record -e "$EVENT" "${CG[@]}" -p "$GEN_REAL" \
        -o "$OUT/perf-generator.data" -- sleep "$SECS" >"$OUT/perf-record-generator.log" 2>&1 &
    PERF_PIDS+=($!)
fi
rc=0
for p in "${PERF_PIDS[@]}"; do wait "$p" || rc=$?; done
PERF_PIDS=()
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$SERVER_PID/stat")
[ "$rc" -eq 0 ] || die "perf record failed ($rc): $(tail -n 3 "$OUT/perf-record.log")"

wait "$GEN_PID" || echo "profile: the load generator exited with status $? (see load.txt)"
GEN_PID=
kill -TERM "$SERVER_PID"
for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
kill -KILL "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

# ---- analyse -------------------------------------------------------------------------------
hz=$(getconf CLK_TCK)
SRV_CPU=$(awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v h="$hz" \
    'BEGIN { t = u + s; printf "user %.2f s, system %.2f s (kernel %.1f%%)", u/h, s/h, t ? 100*s/t : 0 }')
RATE=$(grep -m1 -E '^(Messages|Requests)/sec' "$OUT/load.txt" || echo "(no rate line in load.txt)")
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')

# tidy_report [N]: perf report's table without its tips and empty comment lines, and with at
# most N rows when N is given.
tidy_report() {
    grep -v -E '^# (To display|\(Tip)|^#$' | awk -v n="${1:-0}" '
        /^ +[0-9.]+%/ && !/^ +[0-9.]+% +\|/ { rows++ }
        n == 0 || rows <= n { print }' | cat -s
}

# analyse DATA SUFFIX PROGRAM TITLE: report, folded stacks, flame graph and summary section.
analyse() {
    local data=$1 sfx=$2 program=$3 title=$4 event samples
    event=$(perf evlist -i "$data" 2>/dev/null | head -n 1)
    {
        echo "# $title"
        echo "# $(basename "$data"): event $event, self samples (--no-children)"
        echo
        echo "## by thread and shared object"
        perf report -i "$data" --stdio -n --no-children --sort comm,dso -g none 2>/dev/null |
            tidy_report || true
        echo
        echo "## top 40 symbols, by thread, shared object and symbol"
        perf report -i "$data" --stdio -n --no-children --sort comm,dso,sym -g none \
            2>/dev/null | tidy_report 40 || true
        echo
        echo "## the program's own code ($program) by symbol"
        perf report -i "$data" --stdio -n --no-children --dsos "$program" --sort sym -g none \
            2>/dev/null | tidy_report 25 || true
        echo
        echo "## who calls the hottest symbols (>= 2%), callee first"
        perf report -i "$data" --stdio --no-children --sort dso,sym -g caller,0.5,callee \
            --percent-limit 2 2>/dev/null | tidy_report || true
    } >"$OUT/report$sfx.txt"
    perf script -i "$data" 2>/dev/null |
        "$TOOLS/perf_fold.py" >"$OUT/stacks$sfx.folded" 2>"$TMP/fold.log" ||
        die "no samples in $data"
    perf report -i "$data" --stdio -n --no-children --sort dso,sym -g none -t $'\t' \
        2>/dev/null >"$TMP/table$sfx"
    samples=$(awk '{ s += $NF } END { print s + 0 }' "$OUT/stacks$sfx.folded")
    "$TOOLS/flamegraph.py" --title "$title" \
        --subtitle "$event, $samples samples over $SECS s; commit $COMMIT, kernel $(uname -r)" \
        "$OUT/stacks$sfx.folded" >"$OUT/flame$sfx.svg"
    "$TOOLS/perf_summary.py" --program "$program" --folded "$OUT/stacks$sfx.folded" \
        "$TMP/table$sfx" >"$TMP/summary$sfx" || SUMMARY_FAILED=1
}

SUMMARY_FAILED=0
TITLE="ringsock ${SRV_ARGS[0]}, $SCENARIO load ($BACKEND, $THREADS thread$([ "$THREADS" = 1 ] || echo s))"
analyse "$OUT/perf.data" "" ringsock "$TITLE"
if [ "$GENERATOR" = 1 ]; then
    analyse "$OUT/perf-generator.data" -generator "$GEN_PROGRAM" "$GEN_PROGRAM, $SCENARIO load"
fi

{
    echo "ringsock profile: $SCENARIO, backend $BACKEND, $THREADS server thread(s), $SECS s recorded"
    echo "$(date -Iseconds), commit $COMMIT, kernel $(uname -r), $ncpu CPUs," \
        "pinning server ${SRV_PIN[*]:-none}, generator ${GEN_PIN[*]:-none}"
    echo "server:    ${SRV_PIN[*]} $RINGSOCK $(printf '%q ' "${SRV_ARGS[@]}" | sed 's/ $//')"
    echo "generator: ${GEN_PIN[*]} $(printf '%q ' "${GEN_CMD[@]}" | sed 's/ $//')"
    echo "perf:      $PERF_CMD (server pid; call graph: $CALLGRAPH)"
    for n in "${NOTES[@]}"; do echo "$n"; done
    echo "load over its whole run ($LOAD_SECS s, recording inside it): $RATE"
    echo "server CPU while recorded (/proc): $SRV_CPU"
    echo
    echo "== server (ringsock): shares of its samples =="
    cat "$TMP/summary"
    if [ "$GENERATOR" = 1 ]; then
        echo
        echo "== generator ($GEN_PROGRAM): shares of its samples =="
        cat "$TMP/summary-generator"
    fi
} >"$OUT/summary.txt"

echo
sed -n '/^== server/,$p' "$OUT/summary.txt" | sed '/^by shared object/,/^$/d'
echo "profile: wrote $OUT/{summary.txt,report.txt,stacks.folded,flame.svg,perf.data}"
echo "profile: perf report -i $OUT/perf.data   # to browse it"
[ "$SUMMARY_FAILED" = 0 ] || die "the folded stacks do not add up to perf's sample count"
