#!/usr/bin/env bash
# ringload_cli.sh: --help/--version, one clear line and a non-zero exit for bad input, and
# connection errors counted against a port nothing listens on.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

grep -q 'usage: ringload' <<<"$("$RINGLOAD" --help)" || fail "--help"
grep -q '^ringload ' <<<"$("$RINGLOAD" --version)" || fail "--version"
for bad in "ftp://127.0.0.1:1" "tcp://127.0.0.1" "tcp://127.0.0.1:70000" "-c 0 tcp://127.0.0.1:1" \
    "--bogus tcp://127.0.0.1:1" "-d 1x tcp://127.0.0.1:1" "-s 8 udp://127.0.0.1:1"; do
    rc=0
    # shellcheck disable=SC2086
    "$RINGLOAD" $bad >"$TEST_TMP/o" 2>"$TEST_TMP/e" || rc=$?
    ((rc == 2)) || fail "'$bad': exit $rc, want 2"
    (($(wc -l <"$TEST_TMP/e") == 1)) || fail "'$bad': want one line, got: $(cat "$TEST_TMP/e")"
done

# --source and --idle: bad addresses and ranges, a family that does not match the target, an
# address of no interface here (TEST-NET-1), options that need --idle, and a connection count
# the hard fd limit cannot hold: exit 2 with one line that names the problem.
# expect_bad PATTERN ARGS...: ringload ARGS (after the words in BAD_PREFIX) exits 2 with one
# stderr line matching PATTERN.
BAD_PREFIX=()
expect_bad() {
    local pat=$1 rc=0
    shift
    "${BAD_PREFIX[@]}" "$RINGLOAD" "$@" >"$TEST_TMP/o" 2>"$TEST_TMP/e" || rc=$?
    ((rc == 2)) || fail "'$*': exit $rc, want 2 ($(cat "$TEST_TMP/e"))"
    (($(wc -l <"$TEST_TMP/e") == 1)) || fail "'$*': want one line, got: $(cat "$TEST_TMP/e")"
    grep -qE -- "$pat" "$TEST_TMP/e" || fail "'$*': '$(cat "$TEST_TMP/e")' does not match '$pat'"
    log "$*: $(cat "$TEST_TMP/e")"
}
expect_bad "invalid --source '127.0.0.x'" --source 127.0.0.x tcp://127.0.0.1:1
expect_bad "range" --source 127.0.0.9-127.0.0.1 tcp://127.0.0.1:1
expect_bad "::1 is IPv6 but the target 127.0.0.1 is IPv4" --source ::1 tcp://127.0.0.1:1
expect_bad "127.0.0.1 is IPv4 but the target ::1 is IPv6" --source 127.0.0.1 'tcp://[::1]:1'
expect_bad "192.0.2.1: cannot bind.*not an address of this machine" --source 192.0.2.1 \
    tcp://127.0.0.1:1
expect_bad "for tcp:// and http://" --source 127.0.0.1 udp://127.0.0.1:1
expect_bad "go with --idle" --connect-rate 100 tcp://127.0.0.1:1
expect_bad "is for tcp:// and http://" --idle udp://127.0.0.1:1
expect_bad "--idle-check http needs an http:// URL" --idle --idle-check http tcp://127.0.0.1:1
expect_bad "cannot read --body-file $TEST_TMP/none: No such file or directory" \
    --body-file "$TEST_TMP/none" http://127.0.0.1:1/
expect_bad "do not go together" --body x --body-file "$TEST_TMP/none" http://127.0.0.1:1/
if command -v prlimit >/dev/null; then
    BAD_PREFIX=(prlimit --nofile=300:300 --)
    expect_bad "-c 1000 needs about [0-9]+ file descriptors.*hard limit.*ulimit -n" \
        --idle -c 1000 tcp://127.0.0.1:1
    BAD_PREFIX=()
    # Under the hard limit, a low soft limit is raised: 1000 connections fit in 1024:2000.
    start_server echo
    rc=0
    prlimit --nofile=64:2000 -- "$RINGLOAD" --no-progress --idle -c 1000 -d 100ms \
        "tcp://127.0.0.1:$PORT" >"$TEST_TMP/raised.out" 2>&1 || rc=$?
    ((rc == 0)) || fail "-c 1000 under a soft limit of 64 (hard 2000): exit $rc: $(cat "$TEST_TMP/raised.out")"
    stop_server
    expect_total conns_accepted 1000
fi

# Live progress: quiet when stderr is not a terminal, one line a second when asked.
start_server echo
"$RINGLOAD" -c 2 -d 2500ms "tcp://127.0.0.1:$PORT" >/dev/null 2>"$TEST_TMP/quiet.err" ||
    fail "ringload run failed"
[[ ! -s $TEST_TMP/quiet.err ]] || fail "progress printed to a non-terminal: $(cat "$TEST_TMP/quiet.err")"
"$RINGLOAD" --progress -c 2 -d 2500ms "tcp://127.0.0.1:$PORT" >/dev/null 2>"$TEST_TMP/prog.err" ||
    fail "ringload --progress run failed"
lines=$(grep -c 'msg/s.*errors 0.*p99' "$TEST_TMP/prog.err" || true)
((lines >= 2)) || fail "--progress printed $lines lines in 2.5 s: $(cat "$TEST_TMP/prog.err")"

# A --json file that cannot be written: exit 1, and the line says why (not a generic I/O error),
# for a load run, an --idle run and a merge.
nodir=$TEST_TMP/no-such-dir/r.json
for args in "-c 1" "--idle -c 1"; do
    rc=0
    # shellcheck disable=SC2086
    "$RINGLOAD" --no-progress $args -d 200ms --json "$nodir" "tcp://127.0.0.1:$PORT" \
        >"$TEST_TMP/nojson.out" 2>"$TEST_TMP/nojson.err" || rc=$?
    ((rc == 1)) || fail "'$args --json $nodir': exit $rc, want 1: $(cat "$TEST_TMP/nojson.err")"
    grep -qx "ringload: cannot write $nodir: No such file or directory" "$TEST_TMP/nojson.err" ||
        fail "'$args --json $nodir' said: $(cat "$TEST_TMP/nojson.err")"
    # shellcheck disable=SC2086
    "$RINGLOAD" --no-progress $args -d 200ms --json "$TEST_TMP/ok.json" "tcp://127.0.0.1:$PORT" \
        >/dev/null || fail "'$args' run failed"
    rc=0
    "$RINGLOAD" merge --json "$nodir" "$TEST_TMP/ok.json" >/dev/null 2>"$TEST_TMP/nojson.err" ||
        rc=$?
    ((rc == 1)) || fail "merge of '$args' into $nodir: exit $rc, want 1"
    grep -qx "ringload: merge: cannot write $nodir: No such file or directory" \
        "$TEST_TMP/nojson.err" || fail "merge of '$args' into $nodir said: $(cat "$TEST_TMP/nojson.err")"
done
stop_server

# A port with no listener: bind one, close it, and use its number.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo 1)
ringload_run refused "tcp://127.0.0.1:$port" -c 2 -d 1s --json "$TEST_TMP/r.json"
((LOAD_RC != 0)) || fail "ringload exited 0 with nothing to talk to"
(($(jnum "$TEST_TMP/r.json" .errors.connect) > 0)) || fail "connect errors not counted"
pass
