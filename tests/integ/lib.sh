# shellcheck shell=bash disable=SC2034  # (globals here are read by the sourcing scripts)
# lib.sh: helpers for the ringsock integration tests. Source it; do not run it.
#
# Environment: RINGSOCK (the server binary) and STREAMCHECK (the test client), both required.
# Every process started here is recorded by pid and killed by pid when the script exits, and
# every wait is bounded. Temporary files live in one mktemp directory, removed at exit unless
# KEEP_TMP=1. Exit status: 0 pass, 1 fail, 77 skip.

set -euo pipefail

LIB_NAME=$(basename "$0" .sh)
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringsock-integ-${LIB_NAME}.XXXXXX")
SERVER_PID=""
SERVER_OUT=""
SERVER_ERR=""
SERVER_LINE=""
SERVER_RUNS=0
SERVER_PREFIX=()   # command words put before the server, e.g. (prlimit --nofile=64:64 --)
BACKEND=""
BACKEND_ARGS=()    # server flags for the backend chosen by backend_setup
HOST=""            # first listening address (no brackets) and port, from the listening line
PORT=""
HOSTS=()
PORTS=()
TOTALS=""          # the server's totals line, set by stop_server
LIB_PIDS=()        # other processes to kill at exit

lib_cleanup() {
    local rc=$? pid
    trap - EXIT
    if [[ -n $SERVER_PID ]]; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    for pid in "${LIB_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        echo "lib: kept $TEST_TMP" >&2
    else
        rm -rf -- "$TEST_TMP"
    fi
    exit "$rc"
}
trap lib_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

log() {
    echo "== $LIB_NAME${BACKEND:+ [$BACKEND]}: $*"
}

# fail MSG: report, show the tail of the server's output, exit 1.
fail() {
    echo "FAIL: $LIB_NAME${BACKEND:+ [$BACKEND]}: $*" >&2
    local f i
    # Ask a still-running server for its totals line: it helps to tell where bytes stopped.
    if [[ -n $SERVER_PID ]] && proc_alive "$SERVER_PID"; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for ((i = 0; i < 60; i++)); do
            proc_alive "$SERVER_PID" || break
            sleep 0.05
        done
    fi
    for f in "$SERVER_OUT" "$SERVER_ERR"; do
        if [[ -n $f && -s $f ]]; then
            echo "--- tail of $(basename "$f")" >&2
            tail -n 20 "$f" >&2
        fi
    done
    exit 1
}

# skip MSG: the machine cannot run this test; exit 77.
skip() {
    echo "SKIP: $LIB_NAME${BACKEND:+ [$BACKEND]}: $*"
    exit 77
}

pass() {
    echo "PASS: $LIB_NAME${BACKEND:+ [$BACKEND]}"
    exit 0
}

[[ -n ${RINGSOCK:-} && -x ${RINGSOCK:-} ]] || fail "RINGSOCK must name the ringsock binary"
[[ -n ${STREAMCHECK:-} && -x ${STREAMCHECK:-} ]] || fail "STREAMCHECK must name streamcheck"

# proc_alive PID: true while PID exists and is not a zombie.
proc_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

track_pid() {
    LIB_PIDS+=("$1")
}

untrack_pid() {
    local keep=() pid
    for pid in "${LIB_PIDS[@]}"; do
        [[ $pid == "$1" ]] || keep+=("$pid")
    done
    LIB_PIDS=("${keep[@]}")
}

# wait_until SECONDS CMD...: polls CMD every 50 ms; 0 once it succeeds, 1 after SECONDS.
wait_until() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    "$@"
}

# wait_pid PID SECONDS: reaps a tracked child; returns its status, or 124 after killing it.
wait_pid() {
    local pid=$1 limit=$2 i rc=0
    for ((i = 0; i < limit * 20; i++)); do
        proc_alive "$pid" || break
        sleep 0.05
    done
    if proc_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        untrack_pid "$pid"
        return 124
    fi
    wait "$pid" || rc=$?
    untrack_pid "$pid"
    return "$rc"
}

# run_bounded SECONDS OUT ERR CMD...: runs CMD with output to files; returns its status, or
# 124 if it had to be killed after SECONDS.
run_bounded() {
    local limit=$1 out=$2 err=$3 pid
    shift 3
    "$@" >"$out" 2>"$err" &
    pid=$!
    track_pid "$pid"
    wait_pid "$pid" "$limit"
}

# client_start OUT ARGS...: starts streamcheck in the background, stdout to OUT; sets CLIENT_PID.
client_start() {
    local out=$1
    shift
    "$STREAMCHECK" "$@" >"$out" &
    CLIENT_PID=$!
    track_pid "$CLIENT_PID"
}

# run_client ARGS...: runs streamcheck to completion (bounded at 150 s); returns its status.
run_client() {
    local out="$TEST_TMP/client.$RANDOM.out" rc=0
    client_start "$out" "$@"
    wait_pid "$CLIENT_PID" 150 || rc=$?
    cat "$out"
    return "$rc"
}

io_uring_disabled() {
    local v
    v=$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null) || return 1
    [[ $v != 0 ]]
}

# backend_setup NAME: maps io_uring | io_uring-oneshot | epoll to BACKEND_ARGS and environment.
backend_setup() {
    BACKEND=${1:-}
    unset RINGSOCK_TEST_URING_FAIL RINGSOCK_TEST_URING_NO_MULTISHOT RINGSOCK_TEST_URING_HIDE
    case $BACKEND in
    io_uring)
        BACKEND_ARGS=(--backend io_uring)
        ;;
    io_uring-oneshot)
        BACKEND_ARGS=(--backend io_uring)
        export RINGSOCK_TEST_URING_NO_MULTISHOT=1
        ;;
    epoll)
        BACKEND_ARGS=(--backend epoll)
        ;;
    *)
        echo "usage: $0 io_uring|io_uring-oneshot|epoll" >&2
        exit 2
        ;;
    esac
    if [[ $BACKEND == io_uring* ]] && io_uring_disabled; then
        skip "io_uring is disabled here (/proc/sys/kernel/io_uring_disabled =" \
            "$(cat /proc/sys/kernel/io_uring_disabled))"
    fi
}

URING_REFUSED_RE='io_uring.*(not permitted|not implemented|EPERM|ENOSYS)'

# start_server ARGS...: starts $RINGSOCK ARGS (plus --tcp 127.0.0.1:0 unless ARGS has --tcp),
# waits up to 5 s for its listening line and sets SERVER_PID, SERVER_LINE, HOSTS, PORTS, HOST
# and PORT. An io_uring backend the kernel refuses is a skip, not a failure.
start_server() {
    local args=("$@") a has_tcp=0 i rc=0 addr addrs
    for a in "${args[@]}"; do
        [[ $a == --tcp || $a == --tcp=* || $a == --config ]] && has_tcp=1
    done
    ((has_tcp)) || args+=(--tcp 127.0.0.1:0)
    [[ -z $SERVER_PID ]] || fail "start_server: a server is already running"
    SERVER_RUNS=$((SERVER_RUNS + 1))
    SERVER_OUT="$TEST_TMP/server.$SERVER_RUNS.out"
    SERVER_ERR="$TEST_TMP/server.$SERVER_RUNS.err"
    log "start: ${SERVER_PREFIX[*]} ringsock ${args[*]}"
    "${SERVER_PREFIX[@]}" "$RINGSOCK" "${args[@]}" >"$SERVER_OUT" 2>"$SERVER_ERR" &
    SERVER_PID=$!
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$SERVER_OUT" && break
        if ! proc_alive "$SERVER_PID"; then
            wait "$SERVER_PID" || rc=$?
            SERVER_PID=""
            if [[ " ${args[*]} " == *" --backend io_uring "* ]] &&
                [[ -z ${RINGSOCK_TEST_URING_FAIL:-} ]] &&
                grep -qiE "$URING_REFUSED_RE" "$SERVER_ERR"; then
                skip "the kernel refuses io_uring: $(head -n 1 "$SERVER_ERR")"
            fi
            fail "server exited with status $rc before listening"
        fi
        sleep 0.05
    done
    SERVER_LINE=$(grep -m 1 'listening on' "$SERVER_OUT") ||
        fail "no listening line within 5 s"
    HOSTS=()
    PORTS=()
    mapfile -t addrs < <(grep -oE 'tcp://(\[[^]]*\]|[0-9.]+):[0-9]+' <<<"$SERVER_LINE")
    for addr in "${addrs[@]}"; do
        [[ $addr =~ ^tcp://\[?([^]]*[^]])\]?:([0-9]+)$ ]] || fail "cannot parse '$addr'"
        HOSTS+=("${BASH_REMATCH[1]}")
        PORTS+=("${BASH_REMATCH[2]}")
    done
    ((${#PORTS[@]} > 0)) || fail "no tcp://ADDR:PORT in: $SERVER_LINE"
    HOST=${HOSTS[0]}
    PORT=${PORTS[0]}
    log "$SERVER_LINE"
}

# stop_server [SIGNAL]: signals the server (TERM by default), waits up to 5 s; fails if it had
# to be killed, exited non-zero or printed no totals line. Sets TOTALS.
stop_server() {
    local sig=${1:-TERM} i rc=0 pid=$SERVER_PID
    [[ -n $pid ]] || fail "stop_server: no server running"
    kill "-$sig" "$pid" || fail "cannot signal server pid $pid"
    for ((i = 0; i < 100; i++)); do
        proc_alive "$pid" || break
        sleep 0.05
    done
    if proc_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        SERVER_PID=""
        fail "server still running 5 s after SIG$sig; killed it"
    fi
    wait "$pid" || rc=$?
    SERVER_PID=""
    ((rc == 0)) || fail "server exited with status $rc after SIG$sig"
    TOTALS=$(grep -m 1 '^ringsock: totals ' "$SERVER_OUT") || fail "no totals line on stdout"
    log "$TOTALS"
}

server_fd_count() {
    local fds
    fds=$(ls -1 "/proc/$SERVER_PID/fd" 2>/dev/null) || fail "cannot list server fds"
    wc -l <<<"$fds"
}

server_rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"
}

# server_cpu_ticks: user + system clock ticks of the whole server process (all threads).
server_cpu_ticks() {
    local stat f
    stat=$(cat "/proc/$SERVER_PID/stat") || fail "cannot read server stat"
    read -ra f <<<"${stat##*) }"
    echo $((f[11] + f[12]))
}

# total_field NAME: a value from the totals line of the last stop_server.
total_field() {
    [[ $TOTALS =~ (^|[[:space:]])$1=([0-9]+) ]] || fail "no $1= in totals line: $TOTALS"
    echo "${BASH_REMATCH[2]}"
}

# expect_total NAME VALUE: fails unless the totals field equals VALUE.
expect_total() {
    local got
    got=$(total_field "$1")
    [[ $got == "$2" ]] || fail "totals $1=$got, expected $2"
}

MIB=$((1024 * 1024))

# ---- UDP helpers (used by the udp_*.sh scripts) --------------------------------------------

UDP_HOST=""        # first UDP address (no brackets) and port, from the listening line
UDP_PORT=""
UDP_HOSTS=()
UDP_PORTS=()
DGRAM_LINE=""      # the summary line of the last run_dgram

# dgram_setup: finds dgramcheck (DGRAMCHECK, or next to STREAMCHECK); fails if it is missing.
dgram_setup() {
    DGRAMCHECK=${DGRAMCHECK:-$(dirname "$STREAMCHECK")/dgramcheck}
    [[ -x $DGRAMCHECK ]] || fail "DGRAMCHECK must name dgramcheck (tried $DGRAMCHECK)"
}

# udp_ports: sets UDP_HOSTS, UDP_PORTS, UDP_HOST and UDP_PORT from the listening line of the
# running server (udp://1.2.3.4:N, udp://[::1]:N, udp://239.1.2.3:N%lo).
udp_ports() {
    local addrs addr
    UDP_HOSTS=()
    UDP_PORTS=()
    mapfile -t addrs < <(grep -oE 'udp://(\[[^]]*\]|[0-9.]+):[0-9]+' <<<"$SERVER_LINE")
    for addr in "${addrs[@]}"; do
        [[ $addr =~ ^udp://\[?([^]]*[^]])\]?:([0-9]+)$ ]] || fail "cannot parse '$addr'"
        UDP_HOSTS+=("${BASH_REMATCH[1]}")
        UDP_PORTS+=("${BASH_REMATCH[2]}")
    done
    ((${#UDP_PORTS[@]} > 0)) || fail "no udp://ADDR:PORT in: $SERVER_LINE"
    UDP_HOST=${UDP_HOSTS[0]}
    UDP_PORT=${UDP_PORTS[0]}
}

# start_udp_server ARGS...: start_server ARGS (which adds --tcp 127.0.0.1:0, so the listening
# line parses as before), then udp_ports.
start_udp_server() {
    start_server "$@"
    udp_ports
}

# run_dgram SECONDS ARGS...: runs dgramcheck ARGS bounded at SECONDS, shows its output and sets
# DGRAM_LINE to its last stdout line; returns its status (124 if it had to be killed).
run_dgram() {
    local limit=$1 out="$TEST_TMP/dgram.$RANDOM.out" err="$TEST_TMP/dgram.$RANDOM.err" rc=0
    shift
    log "dgramcheck $*"
    run_bounded "$limit" "$out" "$err" "$DGRAMCHECK" "$@" || rc=$?
    cat "$out"
    cat "$err" >&2
    DGRAM_LINE=$(tail -n 1 "$out")
    return "$rc"
}

# dgram_field NAME: a value from DGRAM_LINE (the last run_dgram's summary).
dgram_field() {
    [[ $DGRAM_LINE =~ (^|[[:space:]])$1=([0-9.]+) ]] || fail "no $1= in: $DGRAM_LINE"
    echo "${BASH_REMATCH[2]}"
}

# udp_check_totals SENT RECEIVED: after stop_server, checks an echo server's datagram totals
# against a client that sent SENT datagrams (and nobody else) and got RECEIVED echoes back:
# every datagram read is either echoed, dropped, truncated, a send error or refused (denied
# source port, source over its rate), the server read no more than was sent and echoed no fewer
# than came back.
udp_check_totals() {
    local sent=$1 received=$2 din dout dropped trunc serr kdrops refused
    din=$(total_field dgrams_in)
    dout=$(total_field dgrams_out)
    dropped=$(total_field dgram_dropped)
    trunc=$(total_field dgram_truncated)
    serr=$(total_field dgram_send_errors)
    kdrops=$(total_field dgram_kernel_drops)
    refused=$(($(total_field dgram_denied) + $(total_field dgram_rate_limited)))
    log "server: dgrams_in=$din dgrams_out=$dout dropped=$dropped truncated=$trunc" \
        "send_errors=$serr kernel_drops=$kdrops; client: sent=$sent received=$received"
    ((din + kdrops <= sent)) || fail "server read $din (+$kdrops kernel drops) > $sent sent"
    ((din >= received)) || fail "server read $din datagrams, client received $received"
    ((dout <= din)) || fail "server sent $dout datagrams but read only $din"
    ((dout >= received)) || fail "server sent $dout datagrams, client received $received"
    ((dout + dropped + trunc + serr + refused == din)) ||
        fail "dgrams_out $dout + dropped $dropped + truncated $trunc + send_errors $serr" \
            "+ refused $refused != dgrams_in $din"
    (($(total_field dgram_bytes_out) <= $(total_field dgram_bytes_in))) ||
        fail "dgram_bytes_out > dgram_bytes_in"
}
