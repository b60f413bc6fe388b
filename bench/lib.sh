# bench/lib.sh: what every scenario shares. Sourced by bench/run.sh, which sets BUILD, WORK (a
# scratch directory), CSV, LAT (the percentile-spectrum CSV), SECS, ROUNDS, QUICK (0/1),
# SRV_CPU and GEN_CPU (taskset prefixes, empty on one CPU).
#
# Servers run pinned to SRV_CPU in their own process group (stopped by group, so peers that fork
# per connection, like socat, leave nothing behind); generators run pinned to GEN_CPU. CPU time:
# a server's from /proc (itself, its threads, its live descendants and its reaped children), a
# generator's from the shell's `times` for the child it ran.

BENCH_PIDS=()

bench_py() { python3 "$BENCH_DIR/benchlib.py" "$@"; }

# bench_freeport tcp|udp: a port the kernel gave to a bind on 127.0.0.1 port 0 (then released),
# for peers that cannot report a port of their own.
bench_freeport() { bench_py freeport "$1"; }

# bench_wait_listen PORT tcp|udp [PID]: waits up to 10 s until something listens on the port.
bench_wait_listen() {
    local port=$1 proto=$2 pid=${3:-} flag=-Hltn
    [ "$proto" = udp ] && flag=-Hlun
    for _ in $(seq 100); do
        [ -n "$(ss $flag "sport = :$port" 2>/dev/null)" ] && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "bench: nothing listens on $proto port $port" >&2
    return 1
}

# bench_start NAME CMD...: starts a server pinned to SRV_CPU in its own process group, output to
# $WORK/NAME.log; sets BENCH_PID. BENCH_WRAP (an array, e.g. a prlimit command) goes in front.
BENCH_WRAP=()
bench_start() {
    local name=$1
    shift
    "${SRV_CPU[@]}" setsid "${BENCH_WRAP[@]}" "$@" >"$WORK/$name.log" 2>&1 &
    BENCH_PID=$!
    BENCH_PIDS+=("$BENCH_PID")
    echo "bench: started $name (pid $BENCH_PID)" >&2
}

# bench_start_ringsock NAME ARGS...: starts ringsock (1 worker unless ARGS say otherwise) and
# reads its ports from its listening line into RS_TCP_PORT, RS_UDP_PORT, RS_HTTP_PORT.
bench_start_ringsock() {
    local name=$1 line=
    shift
    bench_start "$name" "$BUILD/ringsock" "$@"
    for _ in $(seq 100); do
        line=$(grep -m1 'listening' "$WORK/$name.log" 2>/dev/null) && break
        kill -0 "$BENCH_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$line" ] || { echo "bench: ringsock did not start: $(cat "$WORK/$name.log")" >&2; return 1; }
    RS_TCP_PORT=$(bench_port_of tcp "$line")
    RS_UDP_PORT=$(bench_port_of udp "$line")
    RS_HTTP_PORT=$(bench_port_of http "$line")
}

# bench_port_of SCHEME LINE: the port of the first SCHEME://ADDR:PORT in LINE, or nothing.
bench_port_of() {
    local re="$1://[0-9.]+:([0-9]+)"
    [[ $2 =~ $re ]] && echo "${BASH_REMATCH[1]}"
    return 0
}

# bench_stop PID: SIGTERM to its process group, SIGKILL after 5 s; waits for it.
bench_stop() {
    local pid=$1
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${BENCH_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    BENCH_PIDS=("${keep[@]}")
    return 0
}

bench_stop_all() {
    local p
    for p in "${BENCH_PIDS[@]}"; do bench_stop "$p"; done
}

# bench_cpu PID: "user sys" seconds used so far by the server PID and its process tree.
bench_cpu() { bench_py cpu "$1"; }

# bench_settle PID BEFORE: waits (at most 5 s) until the server has no child processes left but
# those it had before the run (BEFORE: their pids, sorted, one per line; h2o keeps a helper), so
# the CPU of children that served the run is in its reaped-children time.
bench_settle() {
    for _ in $(seq 50); do
        [ -z "$(comm -23 <(pgrep -P "$1" | sort) <(printf '%s' "$2"))" ] && return 0
        sleep 0.1
    done
}

# bench_rss_kib PID: resident set of the server and its descendants, in KiB.
bench_rss_kib() { bench_py rss "$1"; }

# bench_gen OUTFILE CMD...: runs a generator pinned to GEN_CPU, output to OUTFILE. Sets GEN_RC
# and GEN_USER / GEN_SYS (seconds of CPU the generator used).
bench_gen() {
    local out=$1
    shift
    (
        set +e
        "${GEN_CPU[@]}" "$@" >"$out" 2>&1
        echo $? >"$WORK/gen.rc"
        times >"$WORK/gen.times"
    )
    GEN_RC=$(cat "$WORK/gen.rc")
    read -r GEN_USER GEN_SYS < <(sed -n 2p "$WORK/gen.times" |
        awk '{for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); printf "%.3f ", a[1] * 60 + a[2] } print ""}')
}

# bench_measure PID OUTFILE CMD...: bench_gen with the server's CPU read around it. Sets GEN_*
# and SRV_USER / SRV_SYS.
bench_measure() {
    local pid=$1 u0 s0 u1 s1 kids
    shift
    kids=$(pgrep -P "$pid" | sort || true)
    [ -n "$kids" ] && kids+=$'\n'
    read -r u0 s0 < <(bench_cpu "$pid")
    bench_gen "$@"
    bench_settle "$pid" "$kids"
    read -r u1 s1 < <(bench_cpu "$pid")
    SRV_USER=$(awk -v a="$u0" -v b="$u1" 'BEGIN{printf "%.3f", b - a}')
    SRV_SYS=$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.3f", b - a}')
}

# bench_row key=value...: appends one measurement to the results CSV (columns: see benchlib.py).
bench_row() { bench_py row "$CSV" "scenario=$SCENARIO" "seconds=$SECS" "$@"; }

# bench_row_ringload JSON key=value...: a row from a ringload --json result (throughput,
# latency percentiles, errors) plus the server/generator CPU of the last bench_measure; the
# percentile spectrum goes to the latency CSV.
bench_row_ringload() {
    local json=$1
    shift
    bench_py ringload "$CSV" "$LAT" "$json" "scenario=$SCENARIO" "seconds=$SECS" \
        "srv_user_s=$SRV_USER" "srv_sys_s=$SRV_SYS" "gen_user_s=$GEN_USER" \
        "gen_sys_s=$GEN_SYS" "$@"
}

# bench_version CMD: the first line a peer prints of its version.
bench_version() (
    set +e +o pipefail
    case $1 in
    nginx) nginx -v 2>&1 | head -1 ;;
    wrk) wrk -v 2>&1 | head -1 | cut -d' ' -f1-2 ;;
    h2o) h2o --version 2>&1 | head -1 ;;
    socat) socat -V 2>&1 | grep -m1 'socat version' | cut -d' ' -f1-3 ;;
    sockperf) sockperf --version 2>&1 | grep -m1 -oE 'sockperf[^ ]* version [^ ]+|version #[^ ]+' ;;
    iperf3) iperf3 --version 2>&1 | head -1 | cut -d' ' -f1-2 ;;
    *) echo "$1" ;;
    esac
    exit 0
)

# bench_meta KEY VALUE: a line of the run's description (written as "# key: value" atop the CSV).
bench_meta() { printf '# %s: %s\n' "$1" "$2" >>"$WORK/meta"; }

# bench_sockperf_pp PID PORT ROUND CASE SIDE SERVER [--tcp]: sockperf pp (64 bytes, round-trip
# times) against a server that answers sockperf; one row, and its percentiles as a spectrum.
bench_sockperf_pp() {
    local spid=$1 sport=$2 round=$3 case=$4 side=$5 server=$6
    shift 6
    bench_measure "$spid" "$WORK/sp.out" sockperf pp "$@" -i 127.0.0.1 -p "$sport" -t "$SECS" \
        -m 64 --full-rtt
    ((GEN_RC == 0)) || { echo "bench: sockperf pp against $side failed:" >&2; cat "$WORK/sp.out" >&2; return 1; }
    bench_py sockperf "$CSV" "$LAT" "$WORK/sp.out" "scenario=$SCENARIO" "seconds=$SECS" \
        "case=$case" "round=$round" "side=$side" "server=$server" generator=sockperf-pp \
        conns=1 depth=1 size=64 "srv_user_s=$SRV_USER" "srv_sys_s=$SRV_SYS" \
        "gen_user_s=$GEN_USER" "gen_sys_s=$GEN_SYS"
}

# bench_echo_run PROTO SIDE PID PORT ROUND CASE RINGLOAD-ARGS...: one verified ringload echo run
# (64-byte messages, one thread) against a server on 127.0.0.1:PORT, PROTO tcp or udp; one row.
bench_echo_run() {
    local proto=$1 side=$2 spid=$3 sport=$4 round=$5 case=$6 unit=msg/s
    shift 6
    [ "$proto" = udp ] && unit=dgram/s
    bench_measure "$spid" "$WORK/rl.out" "$BUILD/ringload" --no-progress -t 1 -s 64 \
        -d "${SECS}s" --json "$WORK/rl.json" "$@" "$proto://127.0.0.1:$sport"
    ((GEN_RC == 0)) || { echo "bench: ringload against $side failed:" >&2; cat "$WORK/rl.out" >&2; return 1; }
    bench_row_ringload "$WORK/rl.json" "case=$case" "round=$round" "side=$side" "server=$side" \
        generator=ringload "unit=$unit"
}

# bench_nginx_conf PORT WORKER_CONNECTIONS NOFILE: writes $WORK/nginx/nginx.conf, the nginx every
# scenario compares with: one process (no master, so it is stopped by pid), one worker, no
# access log, keep-alive without a request limit or a short timeout, `return 200 "hello\n"` on
# 127.0.0.1:PORT with SO_REUSEPORT (several may share the port) and a deep backlog. Start it
# with -p $WORK/nginx -g "pid FILE;".
bench_nginx_conf() {
    mkdir -p "$WORK/nginx"
    cat >"$WORK/nginx/nginx.conf" <<NGX
worker_processes 1;
master_process off;
daemon off;
error_log $WORK/nginx/error.log;
worker_rlimit_nofile $3;
events { worker_connections $2; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    server {
        listen 127.0.0.1:$1 reuseport backlog=65535;
        location / { return 200 "hello\n"; }
    }
}
NGX
}

# bench_pingpong PROTO ROUND: the echo scenarios' ping-pong cases, one message in flight on one
# connection or socket: ringload against ringsock on both backends beside sockperf pp against
# sockperf sr, and sockperf pp against ringsock sockperf and sockperf sr (one client, two
# servers). Reads the caller's pid and port arrays for ringsock-io_uring, ringsock-epoll,
# sockperf and ringsock-sockperf.
bench_pingpong() {
    local proto=$1 r=$2 side flag=()
    [ "$proto" = tcp ] && flag=(--tcp)
    for side in ringsock-io_uring ringsock-epoll; do
        bench_echo_run "$proto" "$side" "${pid[$side]}" "${port[$side]}" "$r" pingpong -c 1 \
            --depth 1
    done
    bench_sockperf_pp "${pid[sockperf]}" "${port[sockperf]}" "$r" pingpong sockperf sockperf-sr \
        "${flag[@]}"
    for side in ringsock-sockperf sockperf; do
        bench_sockperf_pp "${pid[$side]}" "${port[$side]}" "$r" pingpong-sockperf-client \
            "$side" "${side/#sockperf/sockperf-sr}" "${flag[@]}"
    done
}
