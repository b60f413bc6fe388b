#!/usr/bin/env bash
# http_timeouts.sh BACKEND: each connection's limit is kept on its own timer, moved lazily, so
# check the moves: a keep-alive connection busy past --keepalive-timeout stays open and is
# closed once idle that long; a partial head after an idle spell gets its 408 after
# --header-timeout, not at the (longer) keep-alive limit; a head finished after a pause longer
# than the (shorter) keep-alive limit is answered, and that limit then counts from its last
# byte; a lingering close that the peer never ends is closed after the linger time (2 s).
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"
backend_setup "${1:-}"

REQ='GET / HTTP/1.1\r\nHost: t\r\n\r\n'

# elapsed_ms: the time from the end of sending to the server's close, from httpraw --elapsed.
elapsed_ms() {
    grep -oE 'elapsed_ms=[0-9]+' "$TEST_TMP/raw.err" | cut -d= -f2
}

# within WHAT MIN MAX: the last raw run ended with a close between MIN and MAX ms after sending.
within() {
    ((RAW_RC == 0)) || fail "$1: the connection was not closed ($RAW_RC): $(cat "$TEST_TMP/raw.err")"
    local ms
    ms=$(elapsed_ms)
    [[ -n $ms ]] || fail "$1: no elapsed time: $(cat "$TEST_TMP/raw.err")"
    log "$1: closed ${ms} ms after the last bytes"
    ((ms >= $2 && ms <= $3)) || fail "$1: closed after ${ms} ms, want ${2}..${3}"
}

answers() { # how many answers with status $1 the last raw run got
    grep -c "^HTTP/1.1 $1 " "$TEST_TMP/raw.out" || true
}

# Keep-alive shorter than the header timeout.
start_http "${BACKEND_ARGS[@]}" --header-timeout 10000 --keepalive-timeout 1000

# Five requests 400 ms apart (1.6 s, past the 1 s limit), then idle: all answered, then closed.
raw --elapsed --gap 400 --timeout 6 "$REQ\\p$REQ\\p$REQ\\p$REQ\\p$REQ" >/dev/null
(($(answers 200) == 5)) || fail "a busy keep-alive connection got $(answers 200) answers of 5"
within "busy, then idle keep-alive" 900 2500

# A head finished after a 1.3 s pause (the header timeout applies meanwhile, not the keep-alive
# one), then idle: answered, and closed 1 s after its last byte, no 408.
raw --elapsed --gap 1300 --timeout 6 'GET / HTTP/1.1\r\nHo\pst: t\r\n\r\n' >/dev/null
(($(answers 200) == 1)) || fail "a head finished after a pause was not answered"
(($(answers 408) == 0)) || fail "a head finished in time got a 408"
within "head finished, then idle" 900 2500
stop_server
expect_total http_timeouts 2

# Header timeout shorter than the keep-alive one.
start_http "${BACKEND_ARGS[@]}" --header-timeout 1000 --keepalive-timeout 10000

# An answered request, 500 ms idle, then a partial head: 408 one second after the head began.
raw --elapsed --gap 500 --timeout 8 "$REQ\\pGET / HTTP/1.1\\r\\nHost: t\\r\\nX-Slow: " >/dev/null
(($(answers 200) == 1)) || fail "the first request was not answered"
(($(answers 408) == 1)) || fail "a partial head after an idle spell got no 408"
within "partial head after idle" 900 2500

# A bad request, and a peer that goes on sending and never closes: 400, FIN, then the server
# reads and drops for the linger time and closes for good.
raw --elapsed --hold --timeout 8 'GET  / HTTP/1.1\r\nHost: t\r\n\r\n' >/dev/null
[[ $(status_of "$TEST_TMP/raw.out") == 400 ]] || fail "bad request: $(head -n 1 "$TEST_TMP/raw.out")"
within "lingering close held open by the peer" 1800 3600
stop_server
expect_total http_timeouts 1
pass
