#!/usr/bin/env bash
# drain.sh BACKEND: --drain-delay. On SIGTERM the server keeps accepting for the delay (a new
# connection every 100 ms is served, an open one keeps echoing), then closes its listeners (new
# connections refused), closes the open connection cleanly and exits 0 with its totals.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
command -v python3 >/dev/null || skip "python3 is not installed"
DRAINCLIENT=(python3 "$(dirname "${BASH_SOURCE[0]}")/drainclient.py")

# wait_exit: the server was signalled by the client; it must exit 0 with totals within 5 s.
wait_exit() {
    local rc=0
    wait_pid "$SERVER_PID" 5 || rc=$?
    SERVER_PID=""
    ((rc == 0)) || fail "server exited with status $rc after SIGTERM"
    TOTALS=$(grep -m 1 '^ringsock: totals ' "$SERVER_OUT") || fail "no totals line on stdout"
    log "$TOTALS"
}

start_server echo "${BACKEND_ARGS[@]}" --threads 2 --drain-delay 1s --shutdown-timeout 3000
out="$TEST_TMP/drain.out"
rc=0
run_bounded 20 "$out" "$out.err" "${DRAINCLIENT[@]}" "$HOST" "$PORT" "$SERVER_PID" 1 || rc=$?
cat "$out" "$out.err"
((rc == 0)) || fail "drainclient failed"
wait_exit
served=$(sed -n 's/^drainclient: \([0-9]*\) new connections served.*/\1/p' "$out")
accepted=$(total_field conns_accepted)
# A, the connections made during the drain, and those of the refusal probe that slipped in.
((accepted >= served + 1)) || fail "conns_accepted=$accepted, want at least $((served + 1))"

pass
