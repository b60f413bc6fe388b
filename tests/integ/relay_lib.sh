# shellcheck shell=bash disable=SC2034  # (globals here are read by the sourcing scripts)
# relay_lib.sh: helpers for the relay tests, on top of lib.sh (source this instead). The relay is
# lib.sh's server (start_server relay ..., totals from stop_server); its upstreams are a ringsock
# echo (echo_upstream_start) or relaypeer.py servers (peer_start), tracked and killed by pid.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RELAYPEER="$(dirname "${BASH_SOURCE[0]}")/relaypeer.py"
CONNCHECK="$(dirname "${BASH_SOURCE[0]}")/conncheck.py"
PEER_PORT=""
PEER_OUT=""
ECHO_PORT=""

command -v python3 >/dev/null || skip "python3 is not installed"

# peer_start MODE [ARG]: a relaypeer.py upstream; sets PEER_PORT and PEER_OUT (its stdout).
peer_start() {
    PEER_OUT="$TEST_TMP/peer.$RANDOM.out"
    python3 "$RELAYPEER" serve "$@" >"$PEER_OUT" 2>&1 &
    track_pid $!
    wait_until 5 grep -q '^port ' "$PEER_OUT" || fail "relaypeer serve $* did not start"
    PEER_PORT=$(awk '/^port / { print $2; exit }' "$PEER_OUT")
}

# echo_upstream_start [ADDR]: a one-thread ringsock echo on the test's backend, on ADDR
# (default 127.0.0.1:0); sets ECHO_PORT.
echo_upstream_start() {
    local out="$TEST_TMP/echo_up.$RANDOM.out"
    "$RINGSOCK" echo --tcp "${1:-127.0.0.1:0}" --threads 1 "${BACKEND_ARGS[@]}" >"$out" 2>&1 &
    track_pid $!
    wait_until 5 grep -q 'listening on' "$out" || fail "echo upstream did not start"
    ECHO_PORT=$(grep -m 1 -oE 'tcp://[^ ]*:[0-9]+' "$out" | sed 's/.*://')
}

# dead_port: a loopback port nothing listens on (bound without listening, then released).
dead_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# peer_client CHECK ARGS...: relaypeer.py client CHECK against the relay, bounded at 60 s.
peer_client() {
    local check=$1 out="$TEST_TMP/pc.$RANDOM.out" err="$TEST_TMP/pc.$RANDOM.err" rc=0
    shift
    run_bounded 60 "$out" "$err" python3 "$RELAYPEER" client "$check" "$HOST" "$PORT" "$@" ||
        rc=$?
    cat "$out"
    cat "$err" >&2
    PEER_LINE=$(tail -n 1 "$out")
    return "$rc"
}
