# tcp-echo: echo servers under the same ringload load (64-byte messages, every echoed byte
# verified), one server worker/process on the server CPU:
#   ringsock-io_uring, ringsock-epoll (1 worker each) and socat (a process per connection,
#   `socat TCP-LISTEN:...,fork PIPE`), at 1, 100 and 1000 connections, depth 1, and 16 at
#   100 and 1000;
#   then ping-pong latency of one connection: ringload -> ringsock beside sockperf's own
#   TCP ping-pong (`sockperf pp --tcp --full-rtt` -> `sockperf sr --tcp`); and sockperf's own
#   client against both servers (`ringsock sockperf` answers it as `sockperf sr` does).

scenario_tcp_echo() {
    LAT_CASE=c100-d1 # the case the percentile plot shows
    # No warm-up: a side's CPU is read over the whole run, so the work must be too.
    local conns=(1 100 1000) depths=(1 16)
    ((QUICK)) && conns=(1 100) depths=(1)
    bench_meta peers "$(bench_version socat); $(bench_version sockperf)"
    bench_meta generator "$("$BUILD/ringload" --version 2>&1 | head -1), 1 thread, 64-byte messages, verified; no warm-up"

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
    bench_start_ringsock rs-sockperf sockperf --tcp 127.0.0.1:0 --threads 1
    pid[ringsock-sockperf]=$BENCH_PID port[ringsock-sockperf]=$RS_TCP_PORT

    local r c d side
    for r in $(seq "$ROUNDS"); do
        for c in "${conns[@]}"; do
            for d in "${depths[@]}"; do
                ((c == 1 && d > 1)) && continue # one connection pipelined: c100-d16 covers it
                for side in ringsock-io_uring ringsock-epoll socat; do
                    bench_echo_run tcp "$side" "${pid[$side]}" "${port[$side]}" "$r" "c$c-d$d" \
                        -c "$c" --depth "$d"
                done
            done
        done
        bench_pingpong tcp "$r"
    done
}

