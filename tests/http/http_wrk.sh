#!/usr/bin/env bash
# http_wrk.sh BACKEND: wrk for 5 s, as users run it, gets only 2xx answers, no socket errors, and the
# server's request count matches wrk's.
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"
backend_setup "${1:-}"
command -v wrk >/dev/null || fail "wrk is needed (tools/install-deps.sh installs it)"

start_http "${BACKEND_ARGS[@]}"
wrk -t1 -c20 -d5s "http://127.0.0.1:$HPORT/" >"$TEST_TMP/wrk.out" 2>&1 || fail "wrk failed"
cat "$TEST_TMP/wrk.out"
grep -q 'Non-2xx' "$TEST_TMP/wrk.out" && fail "non-2xx answers"
grep -q 'Socket errors' "$TEST_TMP/wrk.out" && fail "socket errors"
n=$(awk '/requests in/ {print $1}' "$TEST_TMP/wrk.out")
((n > 1000)) || fail "only $n requests"
stop_server
got=$(total_field http_requests)
# wrk counts completed responses; requests still in flight at its deadline may be answered too.
((got >= n && got <= n + 20)) || fail "server answered $got requests, wrk counted $n"
pass
