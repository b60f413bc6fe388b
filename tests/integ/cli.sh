#!/usr/bin/env bash
# cli.sh: command-line behaviour: --help, --version, bad flags, unusable addresses (one line
# on stderr, non-zero exit, never hanging) and a clean stop on SIGINT. Takes no argument.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset RINGSOCK_TEST_URING_FAIL RINGSOCK_TEST_URING_NO_MULTISHOT

OUT="$TEST_TMP/cli.out"
ERR="$TEST_TMP/cli.err"

# run ARGS...: runs ringsock with ARGS, bounded at 5 s; sets RC.
run() {
    RC=0
    run_bounded 5 "$OUT" "$ERR" "$RINGSOCK" "$@" || RC=$?
    ((RC != 124)) || fail "ringsock $* still ran after 5 s"
}

# expect_error WHAT ARGS...: ringsock ARGS must exit non-zero with exactly one stderr line.
expect_error() {
    local what=$1 lines
    shift
    run "$@"
    ((RC != 0)) || fail "$what: ringsock $* exited 0"
    lines=$(wc -l <"$ERR")
    ((lines == 1)) || fail "$what: expected one line on stderr, got $lines: $(cat "$ERR")"
    grep -q '^ringsock: ' "$ERR" || fail "$what: stderr does not start 'ringsock: ': $(cat "$ERR")"
    log "$what: exit $RC: $(cat "$ERR")"
}

for flag in --help --version; do
    run "$flag"
    ((RC == 0)) || fail "ringsock $flag exited $RC"
    [[ -s $OUT ]] || fail "ringsock $flag printed nothing on stdout"
    log "$flag: exit 0, $(wc -l <"$OUT") lines"
done

expect_error "unknown flag" echo --no-such-flag --tcp 127.0.0.1:0
expect_error "unknown command" no-such-command --tcp 127.0.0.1:0
expect_error "missing flag value" echo --tcp
expect_error "--check without --config" --check
expect_error "-t without --config" echo -t
expect_error "--config with a service" echo --config /dev/null

# 192.0.2.1 (TEST-NET-1) is on no interface here: bind fails, nothing is sent.
expect_error "address not on this machine" echo --tcp 192.0.2.1:7000
grep -q '192\.0\.2\.1' "$ERR" || fail "the error does not name 192.0.2.1: $(cat "$ERR")"
run echo --tcp 127.0.0.1:99999
((RC != 0)) || fail "port 99999 was accepted"
log "port 99999: exit $RC: $(head -n 1 "$ERR")"

# Background jobs of a non-interactive shell start with SIGINT ignored; job control gives the
# server a process group of its own and the default SIGINT disposition, as at a terminal.
set -m
start_server echo
set +m
run_client stream --count 5 --bytes 64K --timeout 30 "$HOST" "$PORT" || fail "no echo"
stop_server INT
expect_total conns_accepted 5
pass
