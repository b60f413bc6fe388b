#!/usr/bin/env bash
# ringload_nginx.sh BACKEND: ringload's HTTP mode against Debian's nginx serving a fixed
# response: the request count agrees with nginx's own access log, status classes are counted
# (404s), pipelining works, and Connection: close (keepalive_requests) is handled by
# reconnecting without errors.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"
BACKEND=${1:-io_uring}
command -v nginx >/dev/null || fail "nginx is needed (tools/install-deps.sh installs nginx-light)"

# A free port: let ringsock pick one, then stop it.
start_server echo
NPORT=$PORT
stop_server
mkdir -p "$TEST_TMP/ngx"
# One process (no master/worker pair): the pid the harness kills is all of nginx, so no
# orphaned worker outlives the test.
cat >"$TEST_TMP/ngx/nginx.conf" <<NGX
master_process off;
daemon off;
error_log $TEST_TMP/ngx/error.log;
pid $TEST_TMP/ngx/nginx.pid;
events { worker_connections 1024; }
http {
    access_log $TEST_TMP/ngx/access.log;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NPORT;
        location = / { return 200 "hello\n"; }
        location = /short { keepalive_requests 10; return 200 "short\n"; }
    }
}
NGX
nginx -c "$TEST_TMP/ngx/nginx.conf" -p "$TEST_TMP/ngx" >"$TEST_TMP/ngx/out" 2>&1 &
NGX_PID=$!
track_pid "$NGX_PID"
wait_until 5 test -s "$TEST_TMP/ngx/nginx.pid" || fail "nginx did not start: $(cat "$TEST_TMP/ngx/error.log")"
U=http://127.0.0.1:$NPORT
logged() { wc -l <"$TEST_TMP/ngx/access.log"; }
sum_status() { jq '.http["2xx"] + .http["3xx"] + .http["4xx"] + .http["5xx"]' "$1"; }

# Keep-alive, closed loop: every request accounted for on both sides.
before=$(logged)
ringload_run ka --backend "$BACKEND" "$U/" -c 8 -d 2s --json "$TEST_TMP/ka.json"
((LOAD_RC == 0)) || fail "ringload exited $LOAD_RC"
sleep 0.3
n=$(($(logged) - before))
got=$(sum_status "$TEST_TMP/ka.json")
((n == got)) || fail "nginx logged $n requests, ringload counted $got answers"
(($(jq '.http["2xx"]' "$TEST_TMP/ka.json") == got && got > 1000)) || fail "not all 2xx: $got"
(($(jq '.errors | add' "$TEST_TMP/ka.json") == 0)) || fail "errors: $(jq -c .errors "$TEST_TMP/ka.json")"

# Pipelining: 8 requests in flight per connection.
before=$(logged)
ringload_run pipe --backend "$BACKEND" "$U/" -c 4 -d 2s --depth 8 --json "$TEST_TMP/pipe.json"
((LOAD_RC == 0)) || fail "ringload --depth 8 exited $LOAD_RC"
sleep 0.3
n=$(($(logged) - before))
got=$(sum_status "$TEST_TMP/pipe.json")
((n == got)) || fail "pipelined: nginx logged $n, ringload counted $got"
(($(jq '.errors | add' "$TEST_TMP/pipe.json") == 0)) || fail "pipelined errors"

# Status classes: 404s are counted as 4xx (and reported, not a failure).
ringload_run nf --backend "$BACKEND" "$U/missing" -c 2 -d 1s --json "$TEST_TMP/nf.json"
(($(jq '.http["4xx"]' "$TEST_TMP/nf.json") > 0 && $(jq '.http["2xx"]' "$TEST_TMP/nf.json") == 0)) ||
    fail "404s: $(jq -c .http "$TEST_TMP/nf.json")"
grep -q 'Non-2xx or 3xx responses' "$TEST_TMP/nf.out" || fail "non-2xx not reported"

# Connection: close after every 10th request: ringload reconnects, no errors.
ringload_run short --backend "$BACKEND" "$U/short" -c 4 -d 2s --json "$TEST_TMP/short.json"
((LOAD_RC == 0)) || fail "ringload against keepalive_requests 10 exited $LOAD_RC"
got=$(sum_status "$TEST_TMP/short.json")
conns=$(jq .connects "$TEST_TMP/short.json")
((conns * 10 >= got && got > 100)) || fail "$got answers over $conns connections: no reconnects?"
(($(jq '.errors | add' "$TEST_TMP/short.json") == 0)) || fail "errors: $(jq -c .errors "$TEST_TMP/short.json")"
kill -TERM "$NGX_PID"
wait_pid "$NGX_PID" 5 || fail "nginx did not stop on SIGTERM"
pass
