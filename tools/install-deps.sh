#!/bin/bash
# Installs the Debian packages ringsock needs, if any are missing.
#   tools/install-deps.sh [build|test]
#   build (default, `make run` and `make release`): what building and running need.
#   test (`make test`): the same plus the tools the tests run against the server.
# Benchmark peers (socat, sockperf, iperf3, nginx, h2o, gnuplot, ...) are bench/run.sh's own.
# As root it runs apt-get; otherwise it prints the one apt-get line needed and fails.
set -euo pipefail
BUILD_PKGS=(build-essential cmake pkg-config liburing-dev libjemalloc-dev libjansson-dev
            libinih-dev systemtap-sdt-dev)
TEST_PKGS=(python3 jq curl wrk slowhttptest nginx-light bc clang libclang-rt-14-dev
           linux-perf util-linux procps iproute2 valgrind socat sockperf gnuplot-nox bpftrace
           systemd man-db
           prometheus)  # promtool and a Prometheus server for the admin endpoint tests
case ${1:-build} in
build) PKGS=("${BUILD_PKGS[@]}") ;;
test) PKGS=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
*) echo "usage: tools/install-deps.sh [build|test]" >&2; exit 2 ;;
esac
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "ringsock: missing packages; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "ringsock: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
