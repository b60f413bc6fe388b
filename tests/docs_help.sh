#!/bin/bash
# docs/server.md and docs/ringload.md quote each program's --help as their option reference,
# and docs/config.md the config file's key reference (ringsock --help-config): fails when an
# option changes and the docs were not brought along.
# usage: docs_help.sh SOURCE_DIR BUILD_DIR
set -u
src=$1 build=$2 fail=0
for pair in ringsock:docs/server.md ringload:docs/ringload.md; do
    prog=${pair%%:*} doc=$src/${pair#*:}
    want=$("$build/$prog" --help 2>&1)
    have=$(awk '/--help` prints this:/ {f=1; next} f && /^```$/ {if (in_block) exit; in_block=1; next} in_block' "$doc")
    if [ "$want" != "$have" ]; then
        echo "$doc: the quoted '$prog --help' differs from the program's:"
        diff <(echo "$have") <(echo "$want") | head -20
        fail=1
    fi
done
want=$("$build/ringsock" --help-config 2>&1)
have=$(awk '/^<!-- ringsock --help-config: end -->$/ {f=0} f; /^<!-- ringsock --help-config: begin -->$/ {f=1}' "$src/docs/config.md")
if [ "$want" != "$have" ]; then
    echo "$src/docs/config.md: the key reference differs from 'ringsock --help-config':"
    diff <(echo "$have") <(echo "$want") | head -20
    fail=1
fi
[ $fail = 0 ] && echo "docs_help: the option references match --help and --help-config"
exit $fail
