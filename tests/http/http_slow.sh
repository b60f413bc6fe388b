#!/usr/bin/env bash
# http_slow.sh BACKEND: slowhttptest's slowloris (headers trickled) and slow-read (a client that
# reads its answers at a crawl) runs, short and bounded. While they run a normal client still
# gets answers quickly; the slow connections are closed by the timeouts; memory stays bounded.
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"
backend_setup "${1:-}"
command -v slowhttptest >/dev/null || fail "slowhttptest is needed (tools/install-deps.sh)"

start_http "${BACKEND_ARGS[@]}" --header-timeout 2000 --keepalive-timeout 3000
base=$(server_rss_kb)

probe() { # a normal client during the attack: answered within 1 s, 5 times
    local i
    for i in 1 2 3 4 5; do
        [[ $(curl -sS -m 1 "http://127.0.0.1:$HPORT/healthz") == ok ]] ||
            fail "a normal client was not answered within 1 s during $1"
        sleep 0.5
    done
}

# Slowloris: 300 connections sending a header line every 1 s, for 6 s.
slowhttptest -H -c 300 -r 300 -i 1 -s 8192 -l 6 -t GET -u "http://127.0.0.1:$HPORT/" \
    -o "$TEST_TMP/loris" >"$TEST_TMP/loris.out" 2>&1 &
sp=$!
track_pid "$sp"
sleep 1
probe slowloris
wait_pid "$sp" 30 || true
grep -aE 'closed|connected|pending' "$TEST_TMP/loris.out" | tail -n 4

# Slow read: 100 connections pipelining /bytes/200000 and reading 32 bytes every 2 s.
slowhttptest -X -c 100 -r 100 -l 6 -w 512 -y 1024 -n 2 -z 32 -k 3 \
    -u "http://127.0.0.1:$HPORT/bytes/200000" -o "$TEST_TMP/read" >"$TEST_TMP/read.out" 2>&1 &
sp=$!
track_pid "$sp"
sleep 1
probe "slow read"
rss=$(server_rss_kb)
wait_pid "$sp" 30 || true
log "RSS ${base} -> ${rss} KiB during the slow-read run"
# Each slow reader holds at most the write-queue cap (256 KiB) plus one answer in the server.
((rss - base < 100 * 1024)) || fail "RSS grew by $((rss - base)) KiB under slow readers"
sleep 4 # everything slow is past a timeout now
fds=$(server_fd_count)
((fds < 40)) || fail "$fds fds still open after the slow clients should have been timed out"
stop_server
(($(total_field http_timeouts) > 0)) || fail "no connection was timed out"
pass
