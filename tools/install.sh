#!/bin/bash
# tools/install.sh BUILD_DIR DESTDIR PREFIX SYSCONFDIR: what `make install` does.
#   PREFIX/bin/ringsock, PREFIX/bin/ringload
#   PREFIX/lib/systemd/system/ringsock.service (its paths made PREFIX's and SYSCONFDIR's)
#   PREFIX/share/man/man1/ringsock.1, ringload.1 (from --help, tools/man.sh)
#   PREFIX/share/doc/ringsock/ringsock.conf.example, and SYSCONFDIR/ringsock/ringsock.conf
#   from it when there is none yet (an existing configuration is never replaced)
# each under DESTDIR (empty: the live system). Prints each file it writes.
set -euo pipefail
build=$1 dest=$2 prefix=$3 sysconf=$4
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for b in ringsock ringload; do
    [ -x "$build/$b" ] || { echo "install: no $build/$b (make release)" >&2; exit 1; }
done
put() { # put MODE FILE TARGET
    install -D -m "$1" "$2" "$dest$3"
    echo "  $dest$3"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "ringsock: installing into ${dest:-/}"
put 755 "$build/ringsock" "$prefix/bin/ringsock"
put 755 "$build/ringload" "$prefix/bin/ringload"
sed -e "s|/usr/local/bin/|$prefix/bin/|g" -e "s|/etc/ringsock/|$sysconf/ringsock/|g" \
    "$src/dist/ringsock.service" >"$tmp/ringsock.service"
put 644 "$tmp/ringsock.service" "$prefix/lib/systemd/system/ringsock.service"
"$src/tools/man.sh" "$build/ringsock" "TCP/UDP echo, discard, HTTP and sockperf server" \
    >"$tmp/ringsock.1"
"$src/tools/man.sh" "$build/ringload" "load generator for TCP, UDP and HTTP" >"$tmp/ringload.1"
put 644 "$tmp/ringsock.1" "$prefix/share/man/man1/ringsock.1"
put 644 "$tmp/ringload.1" "$prefix/share/man/man1/ringload.1"
put 644 "$src/dist/ringsock.conf" "$prefix/share/doc/ringsock/ringsock.conf.example"
if [ -e "$dest$sysconf/ringsock/ringsock.conf" ]; then
    echo "  $dest$sysconf/ringsock/ringsock.conf exists; left as it is"
else
    put 644 "$src/dist/ringsock.conf" "$sysconf/ringsock/ringsock.conf"
fi
