#!/bin/bash
# Installs the Debian packages ringsock needs to build and test, if any are missing.
# As root it runs apt-get; otherwise it prints the one apt-get line needed and fails.
set -euo pipefail
PKGS=(build-essential cmake pkg-config liburing-dev libjemalloc-dev libjansson-dev libinih-dev jq curl wrk slowhttptest nginx-light bc clang libclang-rt-14-dev
      python3 linux-perf
      util-linux procps
      iproute2 valgrind
      socat sockperf gnuplot-nox python3
      systemtap-sdt-dev bpftrace)
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
