#!/usr/bin/env bash
# ringload_http_request.sh: the server sees exactly the HTTP request asked for, however large:
# the request line with a 1000-byte path, the Host header, the -H headers in order, then
# Content-Length, Connection: close (--no-keepalive), the blank line and the body, byte for byte.
# A capture server (httpcapture.py) keeps the first request and compares every later one with it.
# Under AddressSanitizer this also checks that building the request stays inside its buffer.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

command -v python3 >/dev/null || skip "python3 is needed for the capture server"
CAPTURE=$(dirname "${BASH_SOURCE[0]}")/httpcapture.py

# start_capture NAME: starts the capture server writing $TEST_TMP/NAME.req; sets CAP_PID, CAP_PORT.
start_capture() {
    local out="$TEST_TMP/$1.capture.out" i
    python3 "$CAPTURE" --lifetime 60 "$TEST_TMP/$1.req" >"$out" 2>&1 &
    CAP_PID=$!
    track_pid "$CAP_PID"
    for ((i = 0; i < 100; i++)); do
        grep -q '^httpcapture: port' "$out" && break
        sleep 0.05
    done
    CAP_PORT=$(sed -n 's/^httpcapture: port //p' "$out")
    [[ -n $CAP_PORT ]] || fail "capture server did not start: $(cat "$out")"
}

stop_capture() {
    kill -TERM "$CAP_PID" 2>/dev/null || true
    wait_pid "$CAP_PID" 5 || true
}

# check_run NAME EXPECT ARGS...: runs ringload ARGS against a fresh capture server (the URL is
# ARGS' last word, with PORT replaced by the server's port) and compares the request it captured
# with what the function EXPECT writes on stdout (it reads the port from CAP_PORT).
check_run() {
    local name=$1 expect=$2 args=("${@:3}") n
    start_capture "$name"
    args[-1]=${args[-1]/PORT/$CAP_PORT}
    "$expect" >"$TEST_TMP/$name.want"
    ringload_run "$name" -c 1 -d 1s --json "$TEST_TMP/$name.json" "${args[@]}"
    stop_capture
    ((LOAD_RC == 0)) || fail "$name: ringload exited $LOAD_RC: $(head -n 20 "$TEST_TMP/$name.err")"
    [[ -s $TEST_TMP/$name.req ]] || fail "$name: the server received no whole request"
    cmp "$TEST_TMP/$name.want" "$TEST_TMP/$name.req" ||
        fail "$name: the request differs from the one asked for (want $(wc -c <"$TEST_TMP/$name.want") bytes, got $(wc -c <"$TEST_TMP/$name.req"))"
    read -r _ n _ differing <"$TEST_TMP/$name.req.count"
    ((n >= 1 && differing == 0)) ||
        fail "$name: $differing of $n requests differ from the first: $(head -c 300 "$TEST_TMP/$name.req.differing")"
    for e in connect read write timeout verify; do
        [[ $(jnum "$TEST_TMP/$name.json" ".errors.$e") == 0 ]] ||
            fail "$name: errors.$e = $(jq ".errors.$e" "$TEST_TMP/$name.json")"
    done
    (($(jnum "$TEST_TMP/$name.json" '.http."2xx"') >= 1)) || fail "$name: no 2xx answer counted"
    log "$name: $n requests of $(wc -c <"$TEST_TMP/$name.req") bytes, each as asked"
}

# A 1000-byte path (after the leading slash), with characters a URL path may hold.
path=/
while ((${#path} < 1001)); do
    path+="seg-0123456789_abc.def~%41/"
done
path=${path:0:1001}

# 1. GET: the request line and Host only.
expect_get() {
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n' "$path" "$CAP_PORT"
}
check_run get expect_get "http://127.0.0.1:PORT$path"

pass
