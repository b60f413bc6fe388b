#!/bin/bash
# tools/man.sh PROGRAM SUMMARY: a man page (roff, on stdout) made from PROGRAM's --help and
# --version, so the page and the program cannot disagree. `make install` uses it.
set -euo pipefail
prog=$1 summary=$2
name=$(basename "$prog")
version=$("$prog" --version | head -n 1)
help=$("$prog" --help)
upper=$(tr '[:lower:]' '[:upper:]' <<<"$name")
# roff: a backslash is \e; a line starting with . or ' would be a request, so \& goes first.
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/" -e 's/^-/\\-/'; }
cat <<ROFF
.TH $upper 1 "" "$version" "User Commands"
.SH NAME
$name \\- $summary
.SH SYNOPSIS
.nf
$(head -n 1 <<<"$help" | sed 's/^usage: //' | esc)
.fi
.SH OPTIONS
.nf
$(tail -n +2 <<<"$help" | esc)
.fi
.SH SEE ALSO
ringsock(1), ringload(1), systemd.service(5); docs/ in the source tree.
ROFF
