#!/bin/bash
# install.sh SOURCE_DIR BUILD_DIR: `make install` of this build (INSTALL_FROM, so nothing is
# rebuilt) into a staging DESTDIR puts the programs, the unit, the man pages and the example
# config where they belong, and the installed binary runs; a second install keeps an edited
# config. Then an install with PREFIX in a temporary directory: its unit passes
# `systemd-analyze verify` as installed, man page included.
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

make -s -C "$src" install INSTALL_FROM="$build" DESTDIR="$tmp/stage" PREFIX=/usr >"$tmp/log" ||
    { cat "$tmp/log"; fail "make install"; }
cat "$tmp/log"
s=$tmp/stage
for f in usr/bin/ringsock usr/bin/ringload usr/lib/systemd/system/ringsock.service \
    usr/share/man/man1/ringsock.1 usr/share/man/man1/ringload.1 \
    usr/share/doc/ringsock/ringsock.conf.example etc/ringsock/ringsock.conf; do
    [ -s "$s/$f" ] || fail "$f not installed"
done
for b in ringsock ringload; do [ -x "$s/usr/bin/$b" ] || fail "$b not executable"; done
"$s/usr/bin/ringsock" --version | grep -q '^ringsock [0-9]' || fail "installed ringsock --version"
"$s/usr/bin/ringload" --version | grep -q '^ringload [0-9]' || fail "installed ringload --version"
grep -q '^ExecStart=/usr/bin/ringsock --config /etc/ringsock/ringsock.conf$' \
    "$s/usr/lib/systemd/system/ringsock.service" || fail "unit paths not substituted"
! grep -q "^[^#].*/usr/local" "$s/usr/lib/systemd/system/ringsock.service" || fail "/usr/local left in unit"
if command -v man >/dev/null; then
    MANWIDTH=100 man -l "$s/usr/share/man/man1/ringsock.1" 2>&1 >"$tmp/man.txt" | tee "$tmp/man.err"
    [ -s "$tmp/man.err" ] && fail "man reports problems in ringsock.1"
    grep -q -- '--drain-delay' "$tmp/man.txt" || fail "ringsock.1 lacks the options"
fi
# An edited config survives a second install.
echo "# edited" >>"$s/etc/ringsock/ringsock.conf"
make -s -C "$src" install INSTALL_FROM="$build" DESTDIR="$tmp/stage" PREFIX=/usr >/dev/null
grep -q '^# edited' "$s/etc/ringsock/ringsock.conf" || fail "a second install replaced the config"

if command -v systemd-analyze >/dev/null; then
    p=$tmp/prefix
    make -s -C "$src" install INSTALL_FROM="$build" PREFIX="$p" SYSCONFDIR="$tmp/etc" >/dev/null
    MANPATH=$p/share/man systemd-analyze verify "$p/lib/systemd/system/ringsock.service" \
        >"$tmp/verify" 2>&1 || { cat "$tmp/verify"; fail "installed unit does not verify"; }
    [ -s "$tmp/verify" ] && { cat "$tmp/verify"; fail "systemd-analyze verify warns"; }
fi
echo "PASS: make install"
