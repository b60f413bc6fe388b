#!/usr/bin/env bash
# valgrind.sh: memcheck over a short run of the epoll backend (valgrind does not model
# io_uring) serving TCP echo, UDP echo and HTTP at once, with a malformed request and a reset
# among them: 0 errors, and no block definitely lost at exit.
# shellcheck source=../integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integ/lib.sh"
command -v valgrind >/dev/null || skip "valgrind is not installed"
dgram_setup

vg_log="$TEST_TMP/valgrind.log"
# jemalloc is the allocator of release builds: the synonym makes memcheck track it as malloc.
SERVER_PREFIX=(valgrind --quiet --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite --soname-synonyms='somalloc=*jemalloc*'
    --log-file="$vg_log")
start_server echo --backend epoll --threads 2 --tcp 127.0.0.1:0 --udp 127.0.0.1:0 \
    --http 127.0.0.1:0 --shutdown-timeout 500
udp_ports
[[ $SERVER_LINE =~ http://127\.0\.0\.1:([0-9]+) ]] || fail "no http:// listener in: $SERVER_LINE"
http_port=${BASH_REMATCH[1]}

run_client stream --count 20 --bytes 256k --timeout 60 "$HOST" "$PORT" || fail "stream run failed"
run_client reset --count 50 --parallel 10 --bytes 64k --min-bytes 1 --timeout 60 "$HOST" "$PORT" ||
    fail "reset run failed"
run_dgram 60 flows --flows 2 --count 2000 --rate 2000 --min-size 0 --max-size 1400 \
    --max-loss 0.01 --timeout 30 "$UDP_HOST" "$UDP_PORT" || fail "datagram run failed"
body=$(curl -sS --max-time 10 "http://127.0.0.1:$http_port/bytes/100000" | wc -c)
((body == 100000)) || fail "/bytes/100000 returned $body bytes"
curl -sS --max-time 10 "http://127.0.0.1:$http_port/" "http://127.0.0.1:$http_port/healthz" \
    >/dev/null || fail "keep-alive requests failed"
status=$(printf 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n' |
    timeout 10 socat -t 5 - "TCP:127.0.0.1:$http_port" | head -n 1)
[[ $status == "HTTP/1.1 400"* ]] || fail "conflicting lengths answered '$status', expected 400"

# Under valgrind the server runs ~20x slower: give it time to stop (stop_server waits 5 s).
kill -TERM "$SERVER_PID"
rc=0
wait_pid "$SERVER_PID" 60 || rc=$?
SERVER_PID=""
log "server exited with status $rc"
cat "$vg_log"
((rc != 99)) || fail "valgrind found errors (above)"
((rc == 0)) || fail "server exited with status $rc"
grep -q '^ringsock: totals ' "$SERVER_OUT" || fail "no totals line"
pass
