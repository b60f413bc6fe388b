#!/bin/bash
# unit_verify.sh SOURCE_DIR RINGSOCK: dist/ringsock.service passes `systemd-analyze verify`
# with no warning, once its ExecStart names this build's binary (verify checks that the
# binary exists). The man page it names is checked by install.sh, not here (--man=no).
# Exit 77 only when systemd-analyze is not installed.
set -euo pipefail
src=$1 bin=$2
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/local/bin/ringsock|$bin|g" "$src/dist/ringsock.service" >"$tmp/ringsock.service"
grep -q "^ExecStart=$bin " "$tmp/ringsock.service" || { echo "FAIL: ExecStart not substituted"; exit 1; }
rc=0
systemd-analyze verify --man=no "$tmp/ringsock.service" >"$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
# Unknown keys and bad values are only warnings ("..., ignoring."): they fail here too.
if ((rc != 0)) || [ -s "$tmp/out" ]; then
    echo "FAIL: systemd-analyze verify: status $rc, output above"
    exit 1
fi
for key in Type=notify WatchdogSec= LimitNOFILE= DynamicUser=yes \
    CapabilityBoundingSet=CAP_NET_BIND_SERVICE ProtectSystem=strict NoNewPrivileges=yes \
    RestrictAddressFamilies= ExecStartPre=; do
    grep -q "^$key" "$tmp/ringsock.service" || { echo "FAIL: no $key in the unit"; exit 1; }
done
echo "PASS: dist/ringsock.service verifies"
