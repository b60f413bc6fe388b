#!/usr/bin/env bash
# admin.sh BACKEND: the admin endpoint (--admin 127.0.0.1:0, port reported on stdout).
#  - /healthz 200, /readyz 200, /version the --version line, 404 elsewhere;
#  - 37 echo connections: the scrape's ringsock_connections_accepted_total (summed over the
#    workers) is 37, closed 37, open 0, bytes 37 x 64 each way; ringsock_build_info carries
#    the version; Content-Type is the 0.0.4 text format; `promtool check metrics` passes on
#    it and on scrapes taken under ringload; every family is listed in docs/metrics.md;
#  - refused requests (oversized head 431, POST/HEAD/DELETE 405, not HTTP 400, bad version
#    505), a full house of silent and slowloris connections (given up after the timeout, the
#    next client served then), and the endpoint still answers;
#  - SIGTERM with a connection that owes bytes and an 8 s grace: /readyz turns 503 while
#    /healthz and /metrics still answer; once that connection ends, the server exits 0.
# Environment: RINGLOAD (default: next to RINGSOCK); promtool (Debian's prometheus package).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

backend_setup "${1:-}"
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOC="$DIR/../../docs/metrics.md"
CHECK="$DIR/admincheck.py"
RINGLOAD=${RINGLOAD:-$(dirname "$RINGSOCK")/ringload}
[[ -x $RINGLOAD ]] || fail "RINGLOAD must name ringload (tried $RINGLOAD)"
command -v curl >/dev/null || fail "curl is needed (tools/install-deps.sh)"
command -v promtool >/dev/null ||
    fail "promtool is needed (Debian package prometheus; tools/install-deps.sh)"
CONNS=37

start_server echo "${BACKEND_ARGS[@]}" --threads 2 --shutdown-timeout 8000 \
    --admin 127.0.0.1:0
admin_line=$(grep -m 1 '^ringsock: admin on ' "$SERVER_OUT") ||
    fail "no 'ringsock: admin on' line before the listening line"
[[ $admin_line =~ http://127\.0\.0\.1:([0-9]+) ]] || fail "no admin address in: $admin_line"
ADMIN_PORT=${BASH_REMATCH[1]}
log "$admin_line"

# get PATH: fetches the admin endpoint's PATH; sets CODE, CTYPE and BODY (a file).
BODY="$TEST_TMP/body"
get() {
    local out
    out=$(curl -s -o "$BODY" -w '%{http_code} %{content_type}' --max-time 10 \
        "http://127.0.0.1:$ADMIN_PORT$1") || fail "curl $1 failed: $out"
    CODE=${out%% *}
    CTYPE=${out#* }
}

expect_get() {
    get "$1"
    [[ $CODE == "$2" ]] || fail "GET $1 answered $CODE, want $2: $(head -c 200 "$BODY")"
}

# metric NAME: the sum over every series of NAME in the last /metrics body.
metric() {
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF; found = 1 }
        END { if (!found) exit 1; printf "%d\n", s }' "$BODY" || fail "no $1 in the scrape"
}

# scrape: GET /metrics, which must pass promtool's check.
scrape() {
    expect_get /metrics 200
    [[ $CTYPE == "text/plain; version=0.0.4"* ]] || fail "/metrics Content-Type: $CTYPE"
    local lint
    lint=$(promtool check metrics <"$BODY" 2>&1) || fail "promtool check metrics: $lint"
}

expect_get /healthz 200
[[ $(cat "$BODY") == ok ]] || fail "/healthz said: $(cat "$BODY")"
expect_get /readyz 200
expect_get /version 200
[[ $(cat "$BODY") == "$("$RINGSOCK" --version)" ]] || fail "/version said: $(cat "$BODY")"
expect_get /nothing-here 404

python3 "$CHECK" conns "$HOST" "$PORT" "$CONNS" || fail "the echo connections failed"
closed_all() {
    get /metrics
    [[ $CODE == 200 && $(metric ringsock_connections_closed_total) == "$CONNS" ]]
}
wait_until 5 closed_all || fail "ringsock_connections_closed_total did not reach $CONNS"
scrape
cp "$BODY" "$TEST_TMP/scrape.txt"
accepted=$(metric ringsock_connections_accepted_total)
log "scrape: accepted=$accepted closed=$(metric ringsock_connections_closed_total)" \
    "open=$(metric ringsock_connections_open) $(grep -c '' "$BODY") lines"
[[ $accepted == "$CONNS" ]] || fail "ringsock_connections_accepted_total is $accepted, made $CONNS"
[[ $(metric ringsock_connections_open) == 0 ]] || fail "ringsock_connections_open is not 0"
[[ $(metric ringsock_received_bytes_total) == $((CONNS * 64)) ]] ||
    fail "ringsock_received_bytes_total is $(metric ringsock_received_bytes_total)"
[[ $(metric ringsock_sent_bytes_total) == $((CONNS * 64)) ]] ||
    fail "ringsock_sent_bytes_total is $(metric ringsock_sent_bytes_total)"
[[ $(grep -c '^ringsock_connections_accepted_total{worker="[01]"} ' "$BODY") == 2 ]] ||
    fail "not one accepted series per worker: $(grep accepted_total "$BODY")"
version=$("$RINGSOCK" --version | awk '{ print $2 }')
grep -qx "ringsock_build_info{version=\"$version\"} 1" "$BODY" ||
    fail "no ringsock_build_info{version=\"$version\"} 1"
grep -q '^ringsock_idle_timeouts_total{service="echo",worker="0"} 0$' "$BODY" ||
    fail "the echo service's counters lack service=\"echo\""

# Every family of the scrape is in the generated list of docs/metrics.md, with its type.
while read -r _ _ name type; do
    grep -qF "| \`$name\` | $type |" "$DOC" || fail "$name ($type) is not in docs/metrics.md"
done < <(grep '^# TYPE ' "$TEST_TMP/scrape.txt")

# Scrapes under load pass the check too, and a counter never goes back.
load_out="$TEST_TMP/ringload.out"
"$RINGLOAD" "tcp://$HOST:$PORT" -c 20 -d 3s -s 64 >"$load_out" 2>"$TEST_TMP/ringload.err" &
load_pid=$!
track_pid "$load_pid"
prev=0
for ((i = 0; i < 6; i++)); do
    sleep 0.4
    scrape
    now=$(metric ringsock_received_bytes_total)
    ((now >= prev)) || fail "ringsock_received_bytes_total went back: $prev then $now"
    prev=$now
done
rc=0
wait_pid "$load_pid" 30 || rc=$?
((rc == 0)) || fail "ringload failed (status $rc): $(tail -n 3 "$TEST_TMP/ringload.err")"
((prev > CONNS * 64)) || fail "the scrapes under load saw no traffic"
log "6 scrapes under load pass promtool; received bytes reached $prev"

python3 "$CHECK" bad 127.0.0.1 "$ADMIN_PORT" || fail "the endpoint mishandled a bad request"
python3 "$CHECK" slow 127.0.0.1 "$ADMIN_PORT" 8 3 || fail "held connections"
expect_get /healthz 200
scrape

# Drain: a connection that owes bytes holds the workers for the grace period.
hold_file="$TEST_TMP/held"
python3 "$CHECK" hold "$HOST" "$PORT" "$hold_file" &
hold_pid=$!
track_pid "$hold_pid"
wait_until 40 test -s "$hold_file" || fail "the holding client did not fill its connection"
log "holding client: $(cat "$hold_file")"
kill -TERM "$SERVER_PID"
readyz_503() {
    CODE=$(curl -s -o "$BODY" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$ADMIN_PORT/readyz")
    [[ $CODE == 503 ]]
}
wait_until 3 readyz_503 || fail "/readyz answered ${CODE:-nothing}, not 503, after SIGTERM"
proc_alive "$SERVER_PID" || fail "the server exited before its grace period: nothing drained"
[[ $(cat "$BODY") == draining ]] || fail "/readyz said: $(cat "$BODY")"
expect_get /healthz 200
scrape
[[ $(metric ringsock_connections_open) -ge 1 ]] || fail "no connection open while draining"
log "draining: /readyz 503, /healthz 200, /metrics passes with $(metric \
    ringsock_connections_open) connection(s) open"
# The holding client goes away: the last connection ends and the server exits.
kill -KILL "$hold_pid" 2>/dev/null || true
wait "$hold_pid" 2>/dev/null || true
untrack_pid "$hold_pid"
for ((i = 0; i < 400; i++)); do
    proc_alive "$SERVER_PID" || break
    sleep 0.05
done
proc_alive "$SERVER_PID" && fail "the server still runs 20 s after SIGTERM with an 8 s grace"
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=""
((rc == 0)) || fail "server exited with status $rc after SIGTERM"
grep -q '^ringsock: totals ' "$SERVER_OUT" || fail "no totals line"
curl -s --max-time 2 "http://127.0.0.1:$ADMIN_PORT/healthz" >/dev/null &&
    fail "the admin port still answers after the server exited"

# The relay's per-upstream series: a relay (2 workers, --admin) in front of a ringsock echo
# and a port that refuses, with active health checks. 10 echo sessions through it: the echo
# upstream's connections_total and connect-time histogram count 10 (summed over workers), its
# health checks pass; the refusing one fails its checks and shows state 2 (dead) on both
# workers; the scrape passes promtool and its families are in docs/metrics.md.
up_out="$TEST_TMP/echo_up.out"
"$RINGSOCK" echo --tcp 127.0.0.1:0 --threads 1 "${BACKEND_ARGS[@]}" >"$up_out" 2>&1 &
track_pid $!
wait_until 5 grep -q 'listening on' "$up_out" || fail "echo upstream did not start"
echo_up=$(grep -m 1 -oE 'tcp://[^ ]*:[0-9]+' "$up_out" | sed 's|tcp://||')
dead_up=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_server relay "${BACKEND_ARGS[@]}" --threads 2 --admin 127.0.0.1:0 --upstream "$echo_up" \
    --upstream "$dead_up" --health tcp --health-interval 200ms --health-timeout 100ms
[[ $(grep -m 1 '^ringsock: admin on ' "$SERVER_OUT") =~ http://127\.0\.0\.1:([0-9]+) ]] ||
    fail "no admin address for the relay"
ADMIN_PORT=${BASH_REMATCH[1]}
python3 "$CHECK" conns "$HOST" "$PORT" 10 || fail "the sessions through the relay failed"
# up_metric NAME UPSTREAM: the sum of NAME's series for that upstream in the last scrape.
up_metric() {
    awk -v n="$1" -v u="upstream=\"$2\"" 'index($1, n "{") == 1 && index($1, u) { s += $NF }
        END { printf "%d\n", s }' "$BODY"
}
dead_on_both() {
    scrape
    [[ $(up_metric ringsock_relay_upstream_state "$dead_up") == 4 ]]
}
wait_until 5 dead_on_both || fail "the refusing upstream is not dead (state 2) on both workers"
cp "$BODY" "$TEST_TMP/relay_scrape.txt"
got=$(up_metric ringsock_relay_upstream_connections_total "$echo_up")
[[ $got == 10 ]] || fail "relay_upstream_connections_total for the echo upstream: $got, want 10"
got=$(up_metric ringsock_relay_upstream_connect_seconds_count "$echo_up")
[[ $got == 10 ]] || fail "connect-time histogram count for the echo upstream: $got, want 10"
grep -qF "ringsock_relay_upstream_connect_seconds_bucket{service=\"relay\",upstream=\"$echo_up\",le=\"+Inf\"} 10" \
    "$BODY" || fail "no +Inf bucket of 10 for the echo upstream"
(($(up_metric ringsock_relay_upstream_health_ok_total "$echo_up") >= 2)) ||
    fail "the echo upstream passed no health checks"
(($(up_metric ringsock_relay_upstream_health_fail_total "$dead_up") >= 6)) ||
    fail "the refusing upstream failed fewer than 3 checks per worker"
[[ $(up_metric ringsock_relay_upstream_state "$echo_up") == 0 ]] ||
    fail "the echo upstream is not up (state 0) on both workers"
[[ $(up_metric ringsock_relay_upstream_active "$echo_up") == 0 ]] ||
    fail "the echo upstream still counts active sessions"
while read -r _ _ name type; do
    grep -qF "| \`$name\` | $type |" "$DOC" || fail "$name ($type) is not in docs/metrics.md"
done < <(grep '^# TYPE ' "$TEST_TMP/relay_scrape.txt")
log "relay scrape: $(grep -c '^ringsock_relay_upstream' "$BODY") per-upstream lines pass promtool"
stop_server
pass
