#!/usr/bin/env bash
# http_errcount.sh BACKEND: each error answer is counted under the status actually sent. Bad
# requests of every kind the head parser and the chunked decoder refuse (an oversized header
# section, an oversized chunk size line and an oversized trailer section, both 431; malformed
# heads and chunks, 400; 414, 501, 505, 413) are sent, the status of each answer is tallied,
# and the totals' http_err_NNN must equal the tallies, and http_errors their sum.
# shellcheck source=http_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"
backend_setup "${1:-}"

start_http "${BACKEND_ARGS[@]}" --max-body 1000

declare -A seen=()
expect() { # want data: the answer's status is want; tallied by the status seen
    raw --timeout 4 "$2" >/dev/null
    local got
    got=$(status_of "$TEST_TMP/raw.out")
    [[ $got == "$1" ]] || fail "$(printf %.80q "$2")...: status '$got', want $1"
    seen[$got]=$((${seen[$got]:-0} + 1))
}

fill() { head -c "$1" /dev/zero | tr '\0' "$2"; }
post='POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
big=""
for i in $(seq 1 400); do big+="X-Filler-$i: $(fill 40 b)\\r\\n"; done

expect 431 "GET / HTTP/1.1\\r\\nHost: a\\r\\n$big\\r\\n"
expect 431 "${post}5;ext=$(fill 5000 e)\\r\\nhello\\r\\n0\\r\\n\\r\\n"
expect 431 "${post}5\\r\\nhello\\r\\n0\\r\\nX-Trailer: $(fill 20000 t)\\r\\n\\r\\n"
expect 400 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'
expect 400 "${post}zz\\r\\nhello\\r\\n0\\r\\n\\r\\n"
expect 400 "${post}5\\r\\nhelloXX0\\r\\n\\r\\n"
expect 414 "GET /$(fill 9000 a) HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n"
expect 501 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n'
expect 505 'GET / HTTP/2.0\r\nHost: a\r\n\r\n'
expect 413 "${post}800\\r\\n$(fill 2048 x)\\r\\n0\\r\\n\\r\\n"

stop_server
sum=0
for code in 400 413 414 431 501 505; do
    expect_total "http_err_$code" "${seen[$code]:-0}"
    sum=$((sum + ${seen[$code]:-0}))
done
expect_total http_errors "$sum"
pass
