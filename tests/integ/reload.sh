#!/usr/bin/env bash
# reload.sh BACKEND: reloads and a binary upgrade under load lose nothing (docs/operations.md,
# "Reload and upgrade"). In a private network namespace (its own ListenOverflows/ListenDrops
# counters and net.ipv4.tcp_migrate_req), an echo server on 127.0.0.1:7000 (TCP and UDP) is
# reloaded RELOADS times with SIGHUP, its thread count alternating 2 and 1 (the new process's
# arguments come from RINGSOCK_TEST_RELOAD_ARGS), once after its binary file was replaced by a
# different one, while clients (reloadcheck.py) run: short connections (connect, 64 bytes
# echoed, close) from SHORT processes, STREAMS long sessions checked byte for byte, UDP flows.
# Passes when they saw 0 refused, 0 reset, 0 wrong or lost bytes, no connect of 1 s or more,
# no datagram lost or wrong, the kernel's ListenOverflows and ListenDrops unchanged, the pid
# file naming each new process and the upgraded one running the new file.
# Then the negative control: the same clients against naive restarts (SIGTERM, then a new server
# bound afresh, no handover) must see errors, so the check is known to catch what it is for.
# The script re-runs itself under `unshare -n`; skips (77) if it cannot.
set -euo pipefail

if [[ ${RS_RELOAD_NETNS:-} != inside ]]; then
    if ! unshare -n true 2>/dev/null; then
        echo "SKIP: reload${1:+ [$1]}: cannot create a network namespace (unshare -n failed)"
        exit 77
    fi
    exec env RS_RELOAD_NETNS=inside unshare -n -- bash "${BASH_SOURCE[0]}" "$@"
fi

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
ip link set lo up

RELOADS=${RELOADS:-20}
SHORT=4
STREAMS=2
FLOWS=2
CHECK=$(dirname "${BASH_SOURCE[0]}")/reloadcheck.py
BIN=$TEST_TMP/bin/ringsock
ARGS=$TEST_TMP/args
PIDFILE=$TEST_TMP/ringsock.pid
OUT=$TEST_TMP/server.out
mkdir -p "$TEST_TMP/bin"
cp "$RINGSOCK" "$BIN"

# server_args THREADS: the server's arguments, one per line (the format of the args file).
server_args() {
    printf '%s\n' echo --tcp 127.0.0.1:7000 --udp 127.0.0.1:7000 --threads "$1" \
        --pid-file "$PIDFILE" --drain-timeout 5s --shutdown-timeout 2000 "${BACKEND_ARGS[@]}"
}

# netstat_sum: ListenOverflows + ListenDrops of this namespace (TcpExt in /proc/net/netstat).
netstat_sum() {
    awk '/^TcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) n[$i] = i; h = 1 } else
        print $n["ListenOverflows"] + $n["ListenDrops"] }' /proc/net/netstat
}

gone() {
    ! proc_alive "$1"
}

pidfile_pid() {
    cat "$PIDFILE" 2>/dev/null || true
}

# start_first: the first server, from the args file; waits for its pid file.
start_first() {
    rm -f "$PIDFILE"
    mapfile -t argv <"$ARGS"
    RINGSOCK_TEST_RELOAD_ARGS=$ARGS "$BIN" "${argv[@]}" >>"$OUT" 2>&1 &
    track_pid $!
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s $PIDFILE ]] && return 0
        sleep 0.05
    done
    fail "the server did not write its pid file"
}

# clients SECS TAG: starts every client for SECS; their lines go to $TEST_TMP/TAG.*.
CLIENT_PIDS=()
clients() {
    local i
    CLIENT_PIDS=()
    for ((i = 0; i < SHORT; i++)); do
        python3 "$CHECK" short 127.0.0.1 7000 "$1" >"$TEST_TMP/$2.short.$i" &
        CLIENT_PIDS+=($!)
    done
    for ((i = 0; i < STREAMS; i++)); do
        python3 "$CHECK" stream 127.0.0.1 7000 "$1" >"$TEST_TMP/$2.stream.$i" &
        CLIENT_PIDS+=($!)
    done
    for ((i = 0; i < FLOWS; i++)); do
        python3 "$CHECK" udp 127.0.0.1 7000 "$1" >"$TEST_TMP/$2.udp.$i" &
        CLIENT_PIDS+=($!)
    done
    for i in "${CLIENT_PIDS[@]}"; do track_pid "$i"; done
}

clients_wait() {
    local pid
    for pid in "${CLIENT_PIDS[@]}"; do
        wait_pid "$pid" 30 || fail "a client did not finish"
    done
}

# sum TAG KEY: KEY summed over every client line of TAG.
sum() {
    cat "$TEST_TMP/$1".* | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { s += $2 } END { print s + 0 }'
}

# errors TAG: every count that must be 0.
errors() {
    local k n=0
    for k in refused reset timeout wrong lost slow other; do
        n=$((n + $(sum "$1" "$k")))
    done
    echo "$n"
}

report() {
    echo "$1: short conns $(sum "$1" conns), stream sessions $(sum "$1" sessions)" \
        "($(sum "$1" bytes) bytes), datagrams $(sum "$1" answered)/$(sum "$1" sent);" \
        "refused $(sum "$1" refused) reset $(sum "$1" reset) timeout $(sum "$1" timeout)" \
        "wrong $(sum "$1" wrong) lost $(sum "$1" lost) slow $(sum "$1" slow)" \
        "other $(sum "$1" other); slowest connect $(cat "$TEST_TMP/$1".* | tr ' ' '\n' |
            awk -F= '$1 == "connect_max_ms" && $2 > m { m = $2 } END { print m + 0 }') ms"
}

# --- reloads under load ---
server_args 2 >"$ARGS"
start_first
before=$(netstat_sum)
UPGRADE_AT=$((RELOADS / 2))
clients $((RELOADS + 3)) run
sleep 1
pid=$(pidfile_pid)
for ((r = 1; r <= RELOADS; r++)); do
    server_args $((r % 2 ? 1 : 2)) >"$ARGS"
    if ((r == UPGRADE_AT)); then
        # A different file (the same program with bytes appended), put in place by rename as
        # a package manager does: the reload must run it.
        cp "$RINGSOCK" "$BIN.new"
        printf 'ringsock-reload-test-upgrade-%s\n' "$$" >>"$BIN.new"
        mv "$BIN.new" "$BIN"
    fi
    kill -HUP "$pid"
    new=""
    for ((i = 0; i < 100; i++)); do
        new=$(pidfile_pid)
        [[ -n $new && $new != "$pid" ]] && break
        sleep 0.05
    done
    [[ -n $new && $new != "$pid" ]] || fail "reload $r: the pid file still names $pid"
    track_pid "$new"
    if ((r == UPGRADE_AT)); then
        grep -q "ringsock-reload-test-upgrade-$$" "/proc/$new/exe" ||
            fail "reload $r: process $new does not run the replaced binary"
        log "reload $r: process $new runs the replaced binary ($(readlink "/proc/$new/exe"))"
    fi
    pid=$new
    sleep 0.9
done
clients_wait
after=$(netstat_sum)
report run
# Every old process ends its drain once its clients are gone, with its totals.
wait_until 10 bash -c "[[ \$(grep -c '^ringsock: totals ' '$OUT') -ge $RELOADS ]]" ||
    fail "only $(grep -c '^ringsock: totals ' "$OUT") of $RELOADS old processes exited"
if grep -E "Sanitizer|runtime error" "$OUT" >&2; then
    fail "a sanitizer report in the server's output"
fi
n_ok=$(grep -c "reload: new process .* serves" "$OUT" || true)
if grep -q "reload failed\|reload refused" "$OUT"; then
    grep "reload failed\|reload refused" "$OUT" >&2
    fail "a reload failed"
fi
((n_ok == RELOADS)) || fail "$n_ok reloads completed, not $RELOADS"
(($(errors run) == 0)) || fail "clients saw errors across $RELOADS reloads: $(report run)"
(($(sum run conns) > 100)) || fail "too few short connections: $(report run)"
(($(sum run sessions) > 10)) || fail "too few stream sessions: $(report run)"
((after == before)) || fail "ListenOverflows+ListenDrops went from $before to $after"
log "$RELOADS reloads (threads 2/1, one binary upgrade): $(report run);" \
    "ListenOverflows+ListenDrops $before -> $after"

# --- negative control: naive restarts (stop, then bind afresh, no handover) ---
kill -TERM "$pid"
wait_until 10 gone "$pid" || fail "the last server did not stop"
server_args 2 >"$ARGS"
start_first
clients 6 naive
sleep 1
for ((r = 0; r < 3; r++)); do
    pid=$(pidfile_pid)
    kill -TERM "$pid"
    wait_until 10 gone "$pid" || fail "naive restart: the server did not stop"
    start_first
    sleep 0.8
done
clients_wait
report naive
(($(errors naive) > 0)) || fail "negative control: naive restarts went unnoticed: $(report naive)"
log "negative control caught the naive restarts: $(report naive)"
pid=$(pidfile_pid)
kill -TERM "$pid"
wait_until 10 gone "$pid" || fail "the server did not stop"
pass
