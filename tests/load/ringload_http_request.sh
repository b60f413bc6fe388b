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
    # (not ringload_run: its log line would hold every argument, 64 KiB of headers)
    LOAD_RC=0
    log "$name: ringload with ${#args[@]} arguments of $(printf '%s' "${args[@]}" | wc -c) bytes"
    run_bounded 60 "$TEST_TMP/$name.out" "$TEST_TMP/$name.err" "$RINGLOAD" --no-progress -c 1 \
        -d 1s --json "$TEST_TMP/$name.json" "${args[@]}" || LOAD_RC=$?
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
# shellcheck disable=SC2317  # (called by check_run)
expect_get() {
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n' "$path" "$CAP_PORT"
}
check_run get expect_get "http://127.0.0.1:PORT$path"

# 2. POST: the same path, 64 headers of 1 KiB each (-H, in order) and a 1 MiB binary body
# (NULs, CRs and LFs included) from --body-file: a body that large cannot be one command-line
# argument (MAX_ARG_STRLEN is 128 KiB).
headers=()
hargs=()
for ((i = 0; i < 64; i++)); do
    h=$(printf 'X-Load-%02d: ' "$i")
    while ((${#h} < 1024)); do
        h+="value-$i-abcdefghijklmnopqrstuvwxyz;"
    done
    headers+=("${h:0:1024}")
    hargs+=(-H "${h:0:1024}")
done
python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 131 + (i >> 9)) & 255 for i in range(1 << 20)))' \
    >"$TEST_TMP/body.bin"
# shellcheck disable=SC2317  # (called by check_run)
expect_post() {
    printf 'POST %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n' "$path" "$CAP_PORT"
    printf '%s\r\n' "${headers[@]}"
    printf 'Content-Length: %s\r\n\r\n' "$(wc -c <"$TEST_TMP/body.bin")"
    cat "$TEST_TMP/body.bin"
}
check_run post expect_post "${hargs[@]}" --body-file "$TEST_TMP/body.bin" "http://127.0.0.1:PORT$path"

# 3. PUT with a 100 KiB --body given on the command line, --no-keepalive: Connection: close
# comes after Content-Length, and each request has a connection of its own.
body=$(head -c 102400 /dev/zero | tr '\0' 'b')
# shellcheck disable=SC2317  # (called by check_run)
expect_put() {
    printf 'PUT /put?q=1 HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAccept: */*\r\nX-Two: 2\r\n' "$CAP_PORT"
    printf 'Content-Length: %s\r\nConnection: close\r\n\r\n%s' "${#body}" "$body"
}
check_run put expect_put --method PUT -H 'Accept: */*' -H 'X-Two: 2' --body "$body" \
    --no-keepalive "http://127.0.0.1:PORT/put?q=1"

pass
