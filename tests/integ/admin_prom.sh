#!/usr/bin/env bash
# admin_prom.sh: a real Prometheus server scrapes the admin endpoint. ringsock echo (2 workers,
# --admin 127.0.0.1:0) takes 37 echo connections; a Prometheus started here on loopback (its
# config generated, scraping the admin port every second, storage in the test's temporary
# directory, killed by pid at the end) must report the target up and, through its query API,
# sum(ringsock_connections_accepted_total) = 37 from one series per worker, and
# ringsock_build_info with the version. Skipped (77) only if the prometheus binary is absent
# (Debian package prometheus). Takes no argument.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROMETHEUS=${PROMETHEUS:-$(command -v prometheus || true)}
[[ -n $PROMETHEUS && -x $PROMETHEUS ]] || skip "no prometheus binary (Debian package prometheus)"
command -v curl >/dev/null || fail "curl is needed (tools/install-deps.sh)"
command -v jq >/dev/null || fail "jq is needed (tools/install-deps.sh)"
CONNS=37

start_server echo --threads 2 --admin 127.0.0.1:0
[[ $(grep -m 1 '^ringsock: admin on ' "$SERVER_OUT") =~ http://127\.0\.0\.1:([0-9]+) ]] ||
    fail "no admin address on stdout"
ADMIN_PORT=${BASH_REMATCH[1]}
python3 "$DIR/admincheck.py" conns "$HOST" "$PORT" "$CONNS" || fail "the echo connections failed"

# A port for Prometheus' own web listener: one the kernel just handed out and took back.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cat >"$TEST_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ringsock
    static_configs:
      - targets: ['127.0.0.1:$ADMIN_PORT']
EOF
promtool check config "$TEST_TMP/prometheus.yml" >/dev/null ||
    fail "promtool rejects the generated config"

PROM_PID=""
PROM_PORT=""
# start_prometheus: starts it on a free port; true once /-/ready answers (within 30 s).
start_prometheus() {
    local i
    PROM_PORT=$(free_port)
    mkdir -p "$TEST_TMP/tsdb"
    "$PROMETHEUS" --config.file="$TEST_TMP/prometheus.yml" \
        --storage.tsdb.path="$TEST_TMP/tsdb" --web.listen-address="127.0.0.1:$PROM_PORT" \
        --log.level=warn >"$TEST_TMP/prometheus.out" 2>&1 &
    PROM_PID=$!
    track_pid "$PROM_PID"
    for ((i = 0; i < 600; i++)); do
        proc_alive "$PROM_PID" || return 1
        curl -sf --max-time 2 "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# The port may have been taken in between: one more try.
if ! start_prometheus; then
    kill -KILL "$PROM_PID" 2>/dev/null || true
    wait_pid "$PROM_PID" 5 || true
    start_prometheus || fail "prometheus did not start: $(tail -n 5 "$TEST_TMP/prometheus.out")"
fi
log "prometheus $("$PROMETHEUS" --version 2>&1 | head -n 1 | awk '{ print $3 }') on" \
    "127.0.0.1:$PROM_PORT scraping 127.0.0.1:$ADMIN_PORT"

# query EXPR: the query API's answer (JSON) for EXPR now.
query() {
    curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
        --data-urlencode "query=$1"
}

# value EXPR: the value of the first (only) result of EXPR, "" if none yet.
value() {
    query "$1" | jq -r 'if .status == "success" and (.data.result | length) > 0
        then .data.result[0].value[1] else "" end'
}

got=""
for ((i = 0; i < 60; i++)); do
    got=$(value 'sum(ringsock_connections_accepted_total)')
    [[ $got == "$CONNS" ]] && break
    sleep 0.5
done
[[ $got == "$CONNS" ]] ||
    fail "Prometheus says sum(ringsock_connections_accepted_total) = '${got}', made $CONNS;" \
        "targets: $(curl -s "http://127.0.0.1:$PROM_PORT/api/v1/targets" | head -c 600)"
[[ $(value 'up{job="ringsock"}') == 1 ]] || fail "Prometheus says the target is not up"
series=$(query 'ringsock_connections_accepted_total' | jq '.data.result | length')
[[ $series == 2 ]] || fail "ringsock_connections_accepted_total: $series series for 2 workers"
version=$("$RINGSOCK" --version | awk '{ print $2 }')
[[ $(value "ringsock_build_info{version=\"$version\"}") == 1 ]] ||
    fail "Prometheus has no ringsock_build_info{version=\"$version\"}"
log "Prometheus: sum(ringsock_connections_accepted_total) = $got over $series series, target up"

kill -TERM "$PROM_PID"
wait_pid "$PROM_PID" 10 || true
stop_server
expect_total conns_accepted "$CONNS"
pass
