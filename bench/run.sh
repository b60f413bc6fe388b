#!/bin/bash
# bench/run.sh: side-by-side benchmarks of ringsock and ringload against the programs people
# use today, on this machine, in one run (sides alternate within each round).
#
# Usage: bench/run.sh SCENARIO|all [--quick] [--rounds N] [--seconds S] [--build DIR]
#                     [--out DIR] [--no-install] [--no-pin]
#   SCENARIO: tcp-echo, udp-echo, http, connections, relay (bench/scenarios/*.sh)
#   --quick     a smoke run (~1 minute a scenario): fewer cases, 1-second runs, 3 rounds
#   --rounds N  rounds (default 3, at least 1); --seconds S: seconds per measured run
#   --build DIR a release build to use (default build/release, built with `make release`)
#   --out DIR   where results go (default bench/results)
# Writes OUT/<scenario>-<date>.csv (every run, with the description atop as "# " lines),
# OUT/<scenario>-<date>-latency.csv (percentile spectra), .md (means and ratios) and .png
# (throughput against connections, HDR percentile plot), and prints the Markdown.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
SCENARIOS=(tcp-echo udp-echo http connections relay)

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

WHAT= QUICK=0 ROUNDS= SECS= BUILD= RESULTS=$BENCH_DIR/results INSTALL=1 PIN=1
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --seconds) SECS=${2:?}; shift ;;
    --build) BUILD=${2:?}; shift ;;
    --out) RESULTS=${2:?}; shift ;;
    --no-install) INSTALL=0 ;;
    --no-pin) PIN=0 ;;
    -h | --help) usage ;;
    -*) echo "bench/run.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$WHAT" ] || usage; WHAT=$1 ;;
    esac
    shift
done
[ -n "$WHAT" ] || usage
if [ "$WHAT" = all ]; then
    LIST=("${SCENARIOS[@]}")
elif [ -f "$BENCH_DIR/scenarios/$WHAT.sh" ]; then
    LIST=("$WHAT")
else
    echo "bench/run.sh: no scenario '$WHAT' (have: ${SCENARIOS[*]} all)" >&2
    exit 2
fi
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-$( ((QUICK)) && echo 1 || echo 3)}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --rounds wants a positive count" >&2; exit 2; }
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --seconds wants whole seconds" >&2; exit 2; }

# Peers and tools each scenario needs: command -> Debian package.
declare -A PKG=([socat]=socat [sockperf]=sockperf [iperf3]=iperf3 [nginx]=nginx-light
    [h2o]=h2o [wrk]=wrk [gnuplot]=gnuplot-nox [python3]=python3 [jq]=jq [ss]=iproute2
    [taskset]=util-linux [setsid]=util-linux [pgrep]=procps [prlimit]=util-linux [haproxy]=haproxy)
declare -A NEEDS=([tcp-echo]="socat sockperf" [udp-echo]="sockperf iperf3"
    [http]="nginx h2o wrk" [connections]="nginx prlimit" [relay]="haproxy nginx socat")
need=(gnuplot python3 jq ss taskset setsid pgrep)
for s in "${LIST[@]}"; do read -ra more <<<"${NEEDS[$s]:-}"; need+=("${more[@]}"); done
missing=()
for c in "${need[@]}"; do command -v "$c" >/dev/null || missing+=("${PKG[$c]}"); done
# relay's nginx loads the stream module, a package of its own.
if [[ " ${LIST[*]} " == *" relay "* ]] && [ ! -f /usr/lib/nginx/modules/ngx_stream_module.so ]; then
    missing+=(libnginx-mod-stream)
fi
if [ ${#missing[@]} -gt 0 ]; then
    read -ra missing < <(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
    if ((INSTALL)) && [ "$(id -u)" = 0 ]; then
        echo "bench: installing ${missing[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
    else
        echo "bench: missing peers: run  apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

if [ -z "$BUILD" ]; then
    BUILD=$ROOT/build/release
    make -C "$ROOT" release >/dev/null
fi
for b in ringsock ringload; do
    [ -x "$BUILD/$b" ] || { echo "bench: no $BUILD/$b (make release, or --build DIR)" >&2; exit 1; }
done

SRV_CPU=() GEN_CPU=()
if ((PIN)) && [ "$(nproc)" -ge 2 ]; then SRV_CPU=(taskset -c 0); GEN_CPU=(taskset -c 1); fi
mkdir -p "$RESULTS"
STAMP=$(date +%Y-%m-%d-%H%M)
((QUICK)) && STAMP=$STAMP-quick
WORK=$(mktemp -d /tmp/ringsock-bench.XXXXXX)
source "$BENCH_DIR/lib.sh"
trap 'set +e; bench_stop_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
set -E
trap 'echo "bench: failed (exit $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

flags=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
cflags=$(grep -E '^CMAKE_C_FLAGS(_RELWITHDEBINFO|_RELEASE|_DEBUG)?:' "$BUILD/CMakeCache.txt" 2>/dev/null |
    grep -i "${flags:-RelWithDebInfo}\|^CMAKE_C_FLAGS:" | sed 's/^[^=]*=//' | tr '\n' ' ' || true)
for SCENARIO in "${LIST[@]}"; do
    BASE=$RESULTS/$SCENARIO-$STAMP
    CSV=$WORK/results.csv LAT=$WORK/latency.csv
    rm -f "$CSV" "$LAT" "$WORK/meta"
    bench_meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
    bench_meta commit "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    bench_meta kernel "$(uname -r)"
    bench_meta cpu "$(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    bench_meta pinning "server ${SRV_CPU[*]:-none}, generator ${GEN_CPU[*]:-none}"
    bench_meta build "$BUILD ($flags: $cflags)"
    bench_meta load "before the run: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
    bench_meta runs "$ROUNDS rounds x ${SECS}s$( ((QUICK)) && echo ', --quick')"
    bench_meta command "bench/run.sh $SCENARIO$( ((QUICK)) && echo ' --quick')$([ "$ROUNDS" != 3 ] && echo " --rounds $ROUNDS")$([ "$SECS" != "$( ((QUICK)) && echo 1 || echo 3)" ] && echo " --seconds $SECS")"
    LAT_CASE=
    source "$BENCH_DIR/scenarios/$SCENARIO.sh"
    echo "bench: $SCENARIO ($ROUNDS rounds x ${SECS}s)" >&2
    "scenario_${SCENARIO//-/_}"
    bench_stop_all
    { cat "$WORK/meta"; cat "$CSV"; } >"$BASE.csv"
    [ -f "$LAT" ] && cp "$LAT" "$BASE-latency.csv"
    bench_py report "$BASE.csv" "$LAT" "$BASE.md" "$BASE.png" --lat-case "$LAT_CASE" \
        --title "$SCENARIO, $(date -u +%Y-%m-%d), $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    cat "$BASE.md"
    echo
    echo "bench: wrote $BASE.{csv,md,png}" >&2
done
