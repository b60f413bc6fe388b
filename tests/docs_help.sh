#!/bin/bash
# docs/server.md and docs/ringload.md quote each program's --help as their option reference:
# fails when an option changes and the docs were not brought along.
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
[ $fail = 0 ] && echo "docs_help: both option references match --help"
exit $fail
