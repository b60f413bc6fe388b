#!/usr/bin/env bash
# http_bad.sh BACKEND: bad input gets the right status and the connection is closed, the
# server keeps serving everyone else, and slow or idle clients are timed out: malformed lines,
# smuggling vectors, oversized heads and URIs, unknown versions and codings, a request split
# into 1-byte writes, 300 slowloris connections (bounded memory, others still served), the
# header timeout (408) and the keep-alive timeout.
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"
backend_setup "${1:-}"

start_http "${BACKEND_ARGS[@]}" --header-timeout 1000 --keepalive-timeout 1500

check() { # want data: the answer arrives whole (no reset), then the connection is closed
    raw --timeout 4 "$2" >/dev/null
    local got
    got=$(status_of "$TEST_TMP/raw.out")
    [[ $got == "$1" ]] || fail "$(printf %q "$2"): status '$got', want $1"
    ((RAW_RC == 0)) || fail "$(printf %q "$2"): connection not closed after $1 ($RAW_RC)"
}
# The same, sent in pieces so the server answers while the client is still sending: the
# answer must survive (lingering close, no reset).
raw --bytewise 1 --timeout 5 'GET  / HTTP/1.1\r\nHost: a\r\nX-More: stuff the client is still sending\r\n\r\n' >/dev/null
[[ $(status_of "$TEST_TMP/raw.out") == 400 ]] ||
    fail "400 lost while the client was still sending: $(cat "$TEST_TMP/raw.err")"
check 400 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'
check 400 'GET / HTTP/1.1\r\nHost: a\r\n folded: x\r\n\r\n'
check 400 'GET / HTTP/1.1\r\n\r\n'
check 400 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'
check 400 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'
check 400 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'
check 400 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n'
check 400 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n'
check 400 'GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n'
check 505 'GET / HTTP/2.0\r\nHost: a\r\n\r\n'
check 501 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n'
check 414 "GET /$(head -c 9000 /dev/zero | tr '\0' a) HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n"
big=""
for i in $(seq 1 400); do big+="X-Filler-$i: $(head -c 40 /dev/zero | tr '\0' b)\\r\\n"; done
check 431 "GET / HTTP/1.1\\r\\nHost: a\\r\\n$big\\r\\n"

# Header timeout: a head left unfinished gets 408 and a close.
raw --timeout 4 'GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ' >/dev/null
out=$(cat "$TEST_TMP/raw.out")
((RAW_RC == 0)) || fail "an unfinished head was not timed out"
[[ $(status_of "$TEST_TMP/raw.out") == 408 ]] || fail "unfinished head: $(head -n 1 "$TEST_TMP/raw.out")"
# Keep-alive timeout: an idle connection is closed.
raw --timeout 5 'GET / HTTP/1.1\r\nHost: t\r\n\r\n' >/dev/null
out=$(cat "$TEST_TMP/raw.out")
((RAW_RC == 0)) || fail "an idle keep-alive connection was not closed"

# 300 slowloris connections each holding a partial head: memory bounded, others served.
base=$(server_rss_kb)
pids=()
for i in $(seq 1 300); do
    bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "GET / HTTP/1.1\r\nHost: t\r\nX-A: %s" "$1" >&3;
        sleep 3' "$HPORT" "$(head -c 8000 /dev/zero | tr '\0' s)" 2>/dev/null &
    pids+=($!)
    track_pid "$!"
done
sleep 0.7
t0=$(date +%s%N)
[[ $(curl -sS -m 2 "http://127.0.0.1:$HPORT/healthz") == ok ]] || fail "not served during slowloris"
ms=$((($(date +%s%N) - t0) / 1000000))
rss=$(server_rss_kb)
log "slowloris: 300 partial heads held, RSS ${base} -> ${rss} KiB, a request took ${ms} ms"
((rss - base < 32768)) || fail "RSS grew by $((rss - base)) KiB with 300 partial heads"
for p in "${pids[@]}"; do wait_pid "$p" 10 || true; done

stop_server
(($(total_field http_timeouts) >= 300)) || fail "slowloris heads were not timed out"
pass
