#!/usr/bin/env bash
# ringload_cli.sh: --help/--version, one clear line and a non-zero exit for bad input, and
# connection errors counted against a port nothing listens on.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

"$RINGLOAD" --help | grep -q 'usage: ringload' || fail "--help"
"$RINGLOAD" --version | grep -q '^ringload ' || fail "--version"
for bad in "ftp://127.0.0.1:1" "tcp://127.0.0.1" "tcp://127.0.0.1:70000" "-c 0 tcp://127.0.0.1:1" \
    "--bogus tcp://127.0.0.1:1" "-d 1x tcp://127.0.0.1:1" "-s 8 udp://127.0.0.1:1"; do
    rc=0
    # shellcheck disable=SC2086
    "$RINGLOAD" $bad >"$TEST_TMP/o" 2>"$TEST_TMP/e" || rc=$?
    ((rc == 2)) || fail "'$bad': exit $rc, want 2"
    (($(wc -l <"$TEST_TMP/e") == 1)) || fail "'$bad': want one line, got: $(cat "$TEST_TMP/e")"
done

# Live progress: quiet when stderr is not a terminal, one line a second when asked.
start_server echo
"$RINGLOAD" -c 2 -d 2500ms "tcp://127.0.0.1:$PORT" >/dev/null 2>"$TEST_TMP/quiet.err" ||
    fail "ringload run failed"
[[ ! -s $TEST_TMP/quiet.err ]] || fail "progress printed to a non-terminal: $(cat "$TEST_TMP/quiet.err")"
"$RINGLOAD" --progress -c 2 -d 2500ms "tcp://127.0.0.1:$PORT" >/dev/null 2>"$TEST_TMP/prog.err" ||
    fail "ringload --progress run failed"
lines=$(grep -c 'msg/s.*errors 0.*p99' "$TEST_TMP/prog.err" || true)
((lines >= 2)) || fail "--progress printed $lines lines in 2.5 s: $(cat "$TEST_TMP/prog.err")"
stop_server

# A port with no listener: bind one, close it, and use its number.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo 1)
ringload_run refused "tcp://127.0.0.1:$port" -c 2 -d 1s --json "$TEST_TMP/r.json"
((LOAD_RC != 0)) || fail "ringload exited 0 with nothing to talk to"
(($(jnum "$TEST_TMP/r.json" .errors.connect) > 0)) || fail "connect errors not counted"
pass
