#!/usr/bin/env bash
# http_smuggle.sh BACKEND: a table of malformed and request-smuggling cases in the style of
# nginx's and HAProxy's regression tests. Each gets its status and the connection is closed,
# and a request pipelined right after the rejected one is never answered (nothing after a
# rejected request is ever parsed as a request).
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"
backend_setup "${1:-}"

start_http "${BACKEND_ARGS[@]}"
NEXT='GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n'
H='Host: a\r\n'
cases=(
    # status | request head (the pipelined NEXT request is appended)
    "400|GET / HTTP/1.1\r\nHost : a\r\n\r\n"
    "400|GET / HTTP/1.1\r\n${H}X-A\t: b\r\n\r\n"
    "400|GET / HTTP/1.1\r\n${H} folded: x\r\n\r\n"
    "400|GET / HTTP/1.1\r\n\tHost: a\r\n\r\n"
    "400|GET / HTTP/1.1\r\n\r\n"
    "400|GET / HTTP/1.1\r\n${H}Host: b\r\n\r\n"
    "400|GET / HTTP/1.1\r\nHost: a b\r\n\r\n"
    "400|GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Content-Length: 5, 6\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Content-Length: 1x\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Content-Length: 0x10\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Content-Length: \r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
    "400|POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Transfer-Encoding: \"chunked\"\r\n\r\n"
    "501|POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n"
    "501|POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n"
    "400|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n"
    "400|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"
    "400|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
    "400|GET / HTTP/1.1\r\n${H}X-Nul: a\x00b\r\n\r\n"
    "400|GET / HTTP/1.1\r\n${H}X-Cr: a\rb\r\n\r\n"
    "400|GET / HTTP/1.1\r\n${H}X-Ctl: a\x01b\r\n\r\n"
    "400|GET / HTTP/1.1\r\n${H}: novalue\r\n\r\n"
    "400|GET / HTTP/1.1\r\n${H}No-Colon\r\n\r\n"
    "400|GET / HTTP/1.1\r\nHo st: a\r\n\r\n"
    "400|GET / HTTP/1.1\rHost: a\r\n\r\n"
    "400|G@T / HTTP/1.1\r\n${H}\r\n"
    "400|GET  / HTTP/1.1\r\n${H}\r\n"
    "400|GET /a b HTTP/1.1\r\n${H}\r\n"
    "400|GET / HTTP/1.1 x\r\n${H}\r\n"
    "400|GET x HTTP/1.1\r\n${H}\r\n"
    "400|GET / http/1.1\r\n${H}\r\n"
    "400|GET / HTTP/1.10\r\n${H}\r\n"
    "400|GET /\r\n\r\n"
    "400|\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"
    "505|GET / HTTP/2.0\r\n${H}\r\n"
    "505|GET / HTTP/3.0\r\n${H}\r\n"
    "405|DELETE / HTTP/1.1\r\n${H}\r\n"
    "405|PUT / HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n"
    "405|BREW / HTTP/1.1\r\n${H}\r\n"
    "405|OPTIONS * HTTP/1.1\r\n${H}\r\n"
    "413|POST / HTTP/1.1\r\n${H}Content-Length: 2000000\r\n\r\n"
)
n=0
for c in "${cases[@]}"; do
    want=${c%%|*}
    req=${c#*|}
    raw --shut --timeout 4 "$req$NEXT" >/dev/null
    got=$(status_of "$TEST_TMP/raw.out")
    [[ $got == "$want" ]] || fail "case $n $(printf %q "$req"): status '$got', want $want"
    ((RAW_RC == 0)) || fail "case $n: connection not closed after $want ($RAW_RC)"
    answers=$(grep -ao 'HTTP/1\.1 [0-9][0-9][0-9]' "$TEST_TMP/raw.out" | wc -l)
    ((answers == 1)) || fail "case $n $(printf %q "$req"): $answers answers: the request after it was answered"
    [[ $want != 405 ]] || grep -qa '^Allow: GET, HEAD, POST' "$TEST_TMP/raw.out" ||
        fail "case $n: 405 without Allow"
    n=$((n + 1))
done
log "$n malformed or refused requests, each answered with its status, nothing after it answered"
((n >= 40)) || fail "the table has only $n cases"

# A chunked body over --max-body is refused with 413 too (the answer waits for the body).
head -c 1500000 /dev/zero | tr '\0' a >"$TEST_TMP/post"
c=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
    --data-binary @"$TEST_TMP/post" "http://127.0.0.1:$HPORT/") || true
[[ $c == 413 ]] || fail "chunked body of 1.5 MB: $c, want 413"
c=$(curl -sS -o /dev/null -w '%{http_code}' --data-binary @"$TEST_TMP/post" \
    "http://127.0.0.1:$HPORT/") || true
[[ $c == 413 ]] || fail "Content-Length body of 1.5 MB: $c, want 413"
[[ $(curl -sS "http://127.0.0.1:$HPORT/healthz") == ok ]] || fail "not serving after the table"
stop_server
(($(total_field http_err_400) >= 35)) || fail "400s not counted by kind"
(($(total_field http_err_405) == 4)) || fail "405s not counted"
pass
