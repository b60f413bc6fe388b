#!/usr/bin/env bash
# config.sh BACKEND: ringsock --config FILE. One process runs an echo listener (TCP and UDP) and
# two http listeners with different bodies and limits, each serving what its section says;
# --check (and -t) accepts a valid file with one line and exit 0, and reports each kind of
# error as FILE:LINE: message, all of them, exit 1; without --check a bad file is refused the
# same way before anything is bound; dist/ringsock.conf passes --check.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup
command -v curl >/dev/null || skip "curl is not installed"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT="$TEST_TMP/check.out"
ERR="$TEST_TMP/check.err"

# The backend first, with flags: an io_uring the kernel refuses is a skip, as elsewhere.
start_server echo "${BACKEND_ARGS[@]}"
stop_server

# check FILE: runs ringsock --config FILE --check bounded at 10 s; sets RC.
check() {
    RC=0
    run_bounded 10 "$OUT" "$ERR" "$RINGSOCK" --config "$1" --check || RC=$?
    ((RC != 124)) || fail "ringsock --config $1 --check still ran after 10 s"
}

# expect_errors FILE: --check on FILE exits 1, prints nothing on stdout and exactly the lines
# of stdin on stderr.
expect_errors() {
    local file=$1 want
    want=$(cat)
    check "$file"
    ((RC == 1)) || fail "--check $file exited $RC, expected 1: $(cat "$ERR")"
    [[ ! -s $OUT ]] || fail "--check $file printed on stdout: $(cat "$OUT")"
    if [[ $(cat "$ERR") != "$want" ]]; then
        diff <(echo "$want") "$ERR" >&2 || true
        fail "--check $file: the errors differ from the expected ones (diff above)"
    fi
    log "--check $(basename "$file"): exit 1, $(wc -l <"$ERR") error line(s) as expected"
}

# --- A valid file: three listeners, two of one service with their own settings. -------------
GOOD="$TEST_TMP/good.conf"
cat >"$GOOD" <<CONF
# three listeners in one process
[global]
threads = 2
backend = ${BACKEND_ARGS[1]}
shutdown-timeout = 1000

[listener echo]
service = echo
tcp = 127.0.0.1:0
udp = 127.0.0.1:0

[listener one]
service = http
tcp = 127.0.0.1:0
body = first body\n

[listener two]
service = http
tcp = 127.0.0.1:0
body = the second listener's body\n   ; a comment after the value
max-bytes = 100
CONF

check "$GOOD"
((RC == 0)) || fail "--check on a valid file exited $RC: $(cat "$ERR")"
[[ ! -s $ERR ]] || fail "--check on a valid file printed on stderr: $(cat "$ERR")"
[[ $(cat "$OUT") == "$GOOD: ok, 3 listeners" ]] || fail "--check printed: $(cat "$OUT")"
RC=0
run_bounded 10 "$OUT" "$ERR" "$RINGSOCK" -t --config "$GOOD" || RC=$?
((RC == 0)) && [[ $(cat "$OUT") == "$GOOD: ok, 3 listeners" ]] || fail "-t: exit $RC, $(cat "$OUT")"
log "--check and -t: $(cat "$OUT")"

start_server --config "$GOOD"
# One listening line per listener: "ringsock: listener NAME: SERVICE listening on ...".
# listener_port NAME SCHEME: the port of the listener's first SCHEME address.
listener_port() {
    local line
    line=$(grep -m 1 "^ringsock: listener $1: " "$SERVER_OUT") || fail "no listening line for $1"
    [[ $line =~ $2://127\.0\.0\.1:([0-9]+) ]] || fail "no $2 address in: $line"
    echo "${BASH_REMATCH[1]}"
}
grep -q '^ringsock: listener echo: echo listening on tcp://.* udp://.*(2 threads, backend' \
    "$SERVER_OUT" || fail "echo's listening line: $(cat "$SERVER_OUT")"
ECHO_TCP=$(listener_port echo tcp)
ECHO_UDP=$(listener_port echo udp)
ONE=$(listener_port one http)
TWO=$(listener_port two http)
log "echo tcp $ECHO_TCP udp $ECHO_UDP, http one $ONE, http two $TWO"

run_client stream --count 4 --bytes 64K --timeout 30 127.0.0.1 "$ECHO_TCP" || fail "TCP echo"
run_dgram 30 flows --flows 2 --count 200 --rate 2000 --min-size 1 --max-size 1200 --drain 0.5 \
    --timeout 20 127.0.0.1 "$ECHO_UDP" || fail "UDP echo: $DGRAM_LINE"

# http_get PORT PATH: prints "CODE BODY".
http_get() {
    local body code
    body=$(curl -sS --max-time 5 -o - -w '\n%{http_code}' "http://127.0.0.1:$1$2") ||
        fail "curl http://127.0.0.1:$1$2 failed"
    code=${body##*$'\n'}
    printf '%s %s' "$code" "${body%$'\n'*}"
}
got=$(http_get "$ONE" /)
[[ $got == "200 first body" ]] || fail "listener one answered '$got'"
got=$(http_get "$TWO" /)
[[ $got == "200 the second listener's body" ]] || fail "listener two answered '$got'"
# Each listener's own max-bytes: 200 bytes are within one's default and over two's 100.
got=$(http_get "$ONE" /bytes/200)
[[ $got == "200 $(printf 'x%.0s' {1..200})" ]] || fail "one's /bytes/200: '${got:0:40}...'"
got=$(http_get "$TWO" /bytes/200)
[[ $got == 400* ]] || fail "two's /bytes/200 (over its max-bytes 100) answered '${got:0:40}'"
got=$(http_get "$TWO" /bytes/100)
[[ ${got:0:4} == "200 " && ${#got} == 104 ]] || fail "two's /bytes/100: '${got:0:40}'"
log "http one and two answer their own bodies and limits"

# --- Addresses in use by another process (this server) cannot be bound: errors. -------------
BUSY="$TEST_TMP/busy.conf"
cat >"$BUSY" <<CONF
[listener a]
service = echo
tcp = 127.0.0.1:$ECHO_TCP
udp = 127.0.0.1:$ECHO_UDP
[listener b]
service = discard
tcp = 192.0.2.1:7000
CONF
expect_errors "$BUSY" <<EOF
$BUSY:3: cannot bind tcp 127.0.0.1:$ECHO_TCP: Address already in use
$BUSY:4: cannot bind udp 127.0.0.1:$ECHO_UDP: Address already in use
$BUSY:7: cannot bind tcp 192.0.2.1:7000: Cannot assign requested address
EOF

stop_server
expect_total http_requests 5
expect_total conns_accepted 9

# --- Each kind of error, all of them, in line order. ---------------------------------------
BAD="$TEST_TMP/bad.conf"
cat >"$BAD" <<'CONF'
threads = 2
[global]
threads = many
threads = 4
frobnicate = yes
body = misplaced
[listener web]
service = http
tcp = 127.0.0.1:1
idle-timeout = 5s
this line has no equals sign
[listener other]
tcp = 127.0.0.1:1
[listener web]
[upstream x]
[listener e]
service = echo
udp = 239.1.2.3:7001
tcp = 127.0.0.1
[listener g]
service = gopher
tcp = 127.0.0.1:2
CONF
expect_errors "$BAD" <<EOF
$BAD:1: 'threads' outside a section (put it under [global] or [listener NAME])
$BAD:3: invalid value for threads: 'many'
$BAD:4: 'threads' given twice (first on line 3)
$BAD:5: unknown key 'frobnicate' in [global]
$BAD:6: 'body' belongs in a [listener NAME] section, not [global]
$BAD:10: 'idle-timeout' does not apply to service http (only to echo, discard, sockperf or relay)
$BAD:11: syntax error: want 'key = value', '[section]' or a comment
$BAD:12: listener other has no 'service =' line
$BAD:13: tcp 127.0.0.1:1 clashes with listener web's tcp on line 9
$BAD:14: [listener web] given twice (first on line 7)
$BAD:15: unknown section [upstream x] (want [global] or [listener NAME])
$BAD:18: a multicast group needs 'join-iface ='
$BAD:19: invalid tcp address '127.0.0.1' (want 1.2.3.4:PORT, [::1]:PORT or :PORT)
$BAD:21: unknown service 'gopher' (want echo, discard, http, sockperf or relay)
EOF

cp "$ERR" "$TEST_TMP/bad.check.err"

# A listener with nothing to listen on; a file with no listener; a file that is not there.
EMPTY="$TEST_TMP/empty.conf"
printf '[global]\nthreads = 1\n[listener quiet]\nservice = discard\n' >"$EMPTY"
expect_errors "$EMPTY" <<EOF
$EMPTY:3: listener quiet has no 'tcp =' or 'udp =' address
EOF
NONE="$TEST_TMP/none.conf"
printf '# nothing\n[global]\nthreads = 1\n' >"$NONE"
expect_errors "$NONE" <<EOF
$NONE:3: no [listener NAME] section: nothing to serve
EOF
expect_errors "$TEST_TMP/missing.conf" <<EOF
$TEST_TMP/missing.conf: cannot open: No such file or directory
EOF

# Without --check, a bad file prints the same errors and nothing is bound.
RC=0
run_bounded 10 "$OUT" "$ERR" "$RINGSOCK" --config "$BAD" || RC=$?
((RC == 1)) || fail "ringsock --config BAD exited $RC, expected 1"
! grep -q 'listening on' "$OUT" || fail "a bad file was served: $(cat "$OUT")"
cmp -s "$ERR" "$TEST_TMP/bad.check.err" || fail "running a bad file printed other errors than --check: $(cat "$ERR")"
log "running a bad file: exit 1, the same $(wc -l <"$ERR") errors as --check, nothing bound"

# --config is the whole configuration: another flag beside it is a usage error.
RC=0
run_bounded 10 "$OUT" "$ERR" "$RINGSOCK" --config "$GOOD" --threads 2 || RC=$?
((RC == 2)) && (($(wc -l <"$ERR") == 1)) && grep -q -- '--threads' "$ERR" ||
    fail "--config with --threads: exit $RC: $(cat "$ERR")"

# Running a valid file whose address cannot be bound: one line naming the file, line and
# listener, exit 1.
AWAY="$TEST_TMP/away.conf"
printf '[global]\nbackend = %s\n[listener far]\nservice = echo\ntcp = 192.0.2.1:7000\n' \
    "${BACKEND_ARGS[1]}" >"$AWAY"
RC=0
run_bounded 10 "$OUT" "$ERR" "$RINGSOCK" --config "$AWAY" || RC=$?
((RC == 1)) || fail "running $AWAY exited $RC, expected 1"
grep -v 'warning' "$ERR" >"$ERR.1" || true
[[ $(cat "$ERR.1") == "ringsock: $AWAY:5: listener far: cannot listen on tcp://192.0.2.1:7000: Cannot assign requested address" ]] ||
    fail "running $AWAY: $(cat "$ERR")"
log "an address not on this machine at run time: $(cat "$ERR.1")"

# --- The example file. Its fixed ports may be taken by something else on this machine: then
# only 'in use' errors are acceptable, and the same file on port 0 must pass. ---------------
DIST="$SRC/dist/ringsock.conf"
check "$DIST"
if ((RC != 0)); then
    ! grep -v 'Address already in use$' "$ERR" | grep -q . || fail "dist/ringsock.conf: $(cat "$ERR")"
    sed -E 's/^((tcp|udp) = .*):[0-9]+$/\1:0/' "$DIST" >"$TEST_TMP/dist0.conf"
    check "$TEST_TMP/dist0.conf"
    ((RC == 0)) || fail "dist/ringsock.conf on port 0: $(cat "$ERR")"
fi
log "dist/ringsock.conf: $(cat "$OUT")"
pass
