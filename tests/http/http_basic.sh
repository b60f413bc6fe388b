#!/usr/bin/env bash
# http_basic.sh BACKEND: the responder's features as curl and a raw socket see them: fixed
# body, HEAD, /bytes/N, /healthz, 405, Date and Server, keep-alive (1.1 default, 1.0 on
# request), Connection: close, 200 pipelined requests answered in order, request bodies
# (Content-Length and chunked, with Expect: 100-continue) skipped, --body-file.
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"
backend_setup "${1:-}"

printf 'from a file\n' >"$TEST_TMP/body.txt"
start_http "${BACKEND_ARGS[@]}" --body 'hi\n'
U=http://127.0.0.1:$HPORT

curl -sS -D "$TEST_TMP/h" -o "$TEST_TMP/b" "$U/" || fail "curl /"
[[ $(status_of "$TEST_TMP/h") == 200 ]] || fail "GET / status $(status_of "$TEST_TMP/h")"
[[ $(cat "$TEST_TMP/b") == hi ]] || fail "GET / body '$(cat "$TEST_TMP/b")'"
grep -qi '^content-length: 3' "$TEST_TMP/h" || fail "no Content-Length: 3"
grep -qi '^server: ringsock/' "$TEST_TMP/h" || fail "no Server header"
grep -qiE '^date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT' "$TEST_TMP/h" ||
    fail "no well-formed Date header"

curl -sS -I "$U/" -o "$TEST_TMP/h" || fail "curl -I"
grep -qi '^content-length: 3' "$TEST_TMP/h" || fail "HEAD lacks Content-Length"
raw --timeout 3 'HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >/dev/null
[[ $(tail -c 4 "$TEST_TMP/raw.out" | od -An -tx1 | tr -d ' \n') == 0d0a0d0a ]] ||
    fail "HEAD sent a body: $(od -c "$TEST_TMP/raw.out" | tail -n 3)"

n=$(curl -sS "$U/bytes/100000" | wc -c)
((n == 100000)) || fail "/bytes/100000 gave $n bytes"
[[ $(curl -sS -o /dev/null -w '%{http_code}' "$U/bytes/2000000") == 400 ]] ||
    fail "/bytes over --max-bytes is not 400"
[[ $(curl -sS "$U/healthz") == ok ]] || fail "/healthz"
[[ $(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$U/") == 405 ]] || fail "DELETE not 405"

# Keep-alive: curl reuses one connection for several URLs.
c=$(curl -sS -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' "$U/" "$U/healthz" \
    "$U/bytes/10" | paste -sd+ | bc)
((c == 1)) || fail "HTTP/1.1 keep-alive used $c connections for 3 requests"

# HTTP/1.0: closes by default; keeps the connection when asked.
raw --shut --timeout 3 'GET / HTTP/1.0\r\n\r\n' >/dev/null
out=$(cat "$TEST_TMP/raw.out")
((RAW_RC == 0)) || fail "HTTP/1.0 without keep-alive was not closed"
[[ $out == *"Connection: close"* ]] || fail "HTTP/1.0 answer lacks Connection: close"
raw --timeout 1 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' >/dev/null
out=$(cat "$TEST_TMP/raw.out")
((RAW_RC == 124)) || fail "HTTP/1.0 keep-alive connection was closed"
[[ $out == *"Connection: keep-alive"* ]] || fail "HTTP/1.0 keep-alive answer lacks the header"

# 200 pipelined requests in one write, answered in order, then Connection: close.
req=""
for i in $(seq 1 200); do req+="GET /bytes/$i HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n"; done
req+='GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
raw --shut --timeout 5 "$req" >/dev/null
((RAW_RC == 0)) || fail "pipelined run: no close after Connection: close"
lens=$(grep -a -i '^content-length:' "$TEST_TMP/raw.out" | tr -d '\r' | awk '{print $2}' |
    head -n 200 | paste -sd, -)
[[ $lens == "$(seq -s, 1 200)" ]] || fail "pipelined answers out of order: ${lens:0:80}..."
(($(grep -ao 'HTTP/1.1 200 OK' "$TEST_TMP/raw.out" | wc -l) == 201)) || fail "not 201 answers"

# Request bodies are skipped, and the connection goes on.
head -c 300000 /dev/zero | tr '\0' 'a' >"$TEST_TMP/post"
c=$(curl -sS -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
    --data-binary @"$TEST_TMP/post" "$U/" "$U/healthz" | tr '\n' ' ')
[[ $c == "200 1 200 0 " ]] || fail "POST with a 300 KB body then GET: $c"
c=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
    --data-binary @"$TEST_TMP/post" "$U/")
[[ $c == 200 ]] || fail "chunked POST: $c"
raw --shut --timeout 3 'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >/dev/null
out=$(cat "$TEST_TMP/raw.out")
[[ $out == *$'\r\n\r\nok' ]] || fail "request after a chunked body not answered: $(printf %q "$out")"

# A request in 1-byte writes parses as one.
raw --bytewise 2 --shut --timeout 5 'GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >/dev/null
out=$(cat "$TEST_TMP/raw.out")
[[ $out == *$'\r\n\r\nok' ]] || fail "request sent byte by byte: $(printf %q "$out")"

# 100 pipelined requests in one write, and the same stream in 1-byte writes: same answers.
req=""
for i in $(seq 1 100); do req+="GET /bytes/$((i % 7)) HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n"; done
req+='GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
raw --shut --timeout 5 "$req" >/dev/null
grep -av '^Date:' "$TEST_TMP/raw.out" >"$TEST_TMP/whole"
raw --bytewise 0 --shut --timeout 20 "$req" >/dev/null
grep -av '^Date:' "$TEST_TMP/raw.out" >"$TEST_TMP/bytes"
(($(grep -ao 'HTTP/1.1 200 OK' "$TEST_TMP/whole" | wc -l) == 101)) || fail "not 101 answers"
cmp -s "$TEST_TMP/whole" "$TEST_TMP/bytes" || fail "1-byte writes answered differently"

stop_server
start_http "${BACKEND_ARGS[@]}" --body-file "$TEST_TMP/body.txt"
U=http://127.0.0.1:$HPORT
[[ $(curl -sS "$U/") == "from a file" ]] || fail "--body-file"
stop_server
pass
