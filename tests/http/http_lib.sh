# shellcheck shell=bash
# Helpers for the HTTP responder's tests on top of tests/integ/lib.sh.
# shellcheck source=../integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integ/lib.sh"

command -v curl >/dev/null || fail "curl is needed (tools/install-deps.sh installs it)"

# start_http ARGS...: ringsock echo with one --http listener beside a --tcp one; sets HPORT.
start_http() {
    start_server echo --tcp 127.0.0.1:0 --http 127.0.0.1:0 "$@"
    HPORT=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' <<<"$SERVER_LINE" | sed 's/.*://')
    [[ -n $HPORT ]] || fail "no http:// listener in: $SERVER_LINE"
}

[[ -n ${HTTPRAW:-} && -x ${HTTPRAW:-} ]] || fail "HTTPRAW must name the httpraw client"

# raw [httpraw options] DATA: sends DATA (\r \n \xHH escapes) on a new connection and prints
# what comes back until the server closes (RAW_RC 0) or the timeout (RAW_RC 124).
raw() {
    RAW_RC=0
    "$HTTPRAW" "${@:1:$#-1}" "$HPORT" "${!#}" >"$TEST_TMP/raw.out" 2>"$TEST_TMP/raw.err" ||
        RAW_RC=$?
    cat "$TEST_TMP/raw.out"
}

# status_of FILE: the status code of the first response in FILE.
status_of() {
    head -n 1 "$1" | tr -d '\r' | awk '{print $2}'
}
