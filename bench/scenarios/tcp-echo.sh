# tcp-echo: echo servers under the same ringload load (64-byte messages, every echoed byte
# verified), one server worker/process on the server CPU:
#   ringsock-io_uring, ringsock-epoll (1 worker each) and socat (a process per connection,
#   `socat TCP-LISTEN:...,fork PIPE`), at 1, 100 and 1000 connections, depth 1 and 16;
#   then ping-pong latency of one connection: ringload -> ringsock beside sockperf's own
#   TCP ping-pong (`sockperf pp --tcp --full-rtt` -> `sockperf sr --tcp`).

scenario_tcp_echo() {
    local conns=(1 100 1000) depths=(1 16) warm=0.5s
    if ((QUICK)); then conns=(1 100); depths=(1); warm=0.2s; fi
    bench_meta peers "$(bench_version socat); $(bench_version sockperf)"
    bench_meta generator "ringload $("$BUILD/ringload" --version 2>&1 | head -1), 1 thread, 64-byte messages, verified; warm-up $warm"

    local -A pid port
    bench_start_ringsock rs-uring echo --tcp 127.0.0.1:0 --threads 1 --backend io_uring
    pid[ringsock-io_uring]=$BENCH_PID port[ringsock-io_uring]=$RS_TCP_PORT
    bench_start_ringsock rs-epoll echo --tcp 127.0.0.1:0 --threads 1 --backend epoll
    pid[ringsock-epoll]=$BENCH_PID port[ringsock-epoll]=$RS_TCP_PORT
    local p
    p=$(bench_freeport tcp)
    bench_start socat socat "TCP4-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork,backlog=4096" PIPE
    bench_wait_listen "$p" tcp "$BENCH_PID"
    pid[socat]=$BENCH_PID port[socat]=$p
    p=$(bench_freeport tcp)
    bench_start sockperf sockperf sr --tcp -i 127.0.0.1 -p "$p"
    bench_wait_listen "$p" tcp "$BENCH_PID"
    pid[sockperf]=$BENCH_PID port[sockperf]=$p

    local r c d side
    for r in $(seq "$ROUNDS"); do
        for c in "${conns[@]}"; do
            for d in "${depths[@]}"; do
                for side in ringsock-io_uring ringsock-epoll socat; do
                    tcp_echo_run "$side" "${pid[$side]}" "${port[$side]}" "$r" "c$c-d$d" \
                        -c "$c" --depth "$d" --warmup "$warm"
                done
            done
        done
        # Ping-pong: one connection, one message in flight.
        for side in ringsock-io_uring ringsock-epoll; do
            tcp_echo_run "$side" "${pid[$side]}" "${port[$side]}" "$r" pingpong -c 1 --depth 1 \
                --warmup "$warm"
        done
        bench_measure "${pid[sockperf]}" "$WORK/sp.out" sockperf pp --tcp -i 127.0.0.1 \
            -p "${port[sockperf]}" -t "$SECS" -m 64 --full-rtt
        ((GEN_RC == 0)) || { cat "$WORK/sp.out" >&2; return 1; }
        bench_py sockperf "$CSV" "$LAT" "$WORK/sp.out" "scenario=$SCENARIO" "seconds=$SECS" \
            case=pingpong "round=$r" side=sockperf server=sockperf-sr generator=sockperf-pp \
            conns=1 depth=1 size=64 "srv_user_s=$SRV_USER" "srv_sys_s=$SRV_SYS" \
            "gen_user_s=$GEN_USER" "gen_sys_s=$GEN_SYS"
    done
}

# tcp_echo_run SIDE PID PORT ROUND CASE RINGLOAD-ARGS...: one ringload run against a server.
tcp_echo_run() {
    local side=$1 spid=$2 sport=$3 round=$4 case=$5
    shift 5
    bench_measure "$spid" "$WORK/rl.out" "$BUILD/ringload" --no-progress -t 1 -s 64 \
        -d "${SECS}s" --json "$WORK/rl.json" "$@" "tcp://127.0.0.1:$sport"
    ((GEN_RC == 0)) || { echo "bench: ringload against $side failed:" >&2; cat "$WORK/rl.out" >&2; return 1; }
    bench_row_ringload "$WORK/rl.json" "case=$case" "round=$round" "side=$side" "server=$side" \
        generator=ringload
}
