# udp-echo: datagram servers and generators, one server worker/process on the server CPU.
#   echo:     the same ringload load (N sockets x depth 16, 64-byte datagrams, every echo
#             verified) against ringsock-io_uring, ringsock-epoll (recvmmsg/sendmmsg batches)
#             and udp-ref-echo, the classic one-datagram-at-a-time recvfrom/sendto loop
#             (bench/udp_ref_echo.c), at 1, 16 and 64 sockets;
#   pingpong: one socket, one datagram in flight: ringload -> ringsock beside sockperf's own
#             UDP ping-pong (`sockperf pp --full-rtt` -> `sockperf sr`), and sockperf's client
#             against both servers (`ringsock sockperf` answers it as `sockperf sr` does);
#   send:     the generators' send rate, 64-byte datagrams from one socket into a sink:
#             ringload --send-only (sendmmsg) and --gso (UDP_SEGMENT) and sockperf tp into
#             ringsock discard, iperf3 -u -b 0 into its own server.

scenario_udp_echo() {
    LAT_CASE=pingpong # the case the percentile plot shows
    # No warm-up: a side's CPU is read over the whole run, so the work must be too.
    local socks=(1 16 64)
    ((QUICK)) && socks=(16)
    bench_meta peers "$(bench_version sockperf); $(bench_version iperf3); udp-ref-echo (bench/udp_ref_echo.c, cc -O2)"
    bench_meta generator "$("$BUILD/ringload" --version 2>&1 | head -1), 1 thread, 64-byte datagrams, verified; no warm-up"
    cc -O2 -o "$WORK/udp_ref_echo" "$BENCH_DIR/udp_ref_echo.c"

    local -A pid port
    bench_start_ringsock rs-uring echo --udp 127.0.0.1:0 --threads 1 --backend io_uring
    pid[ringsock-io_uring]=$BENCH_PID port[ringsock-io_uring]=$RS_UDP_PORT
    bench_start_ringsock rs-epoll echo --udp 127.0.0.1:0 --threads 1 --backend epoll
    pid[ringsock-epoll]=$BENCH_PID port[ringsock-epoll]=$RS_UDP_PORT
    local p
    p=$(bench_freeport udp)
    bench_start udp-ref "$WORK/udp_ref_echo" "$p"
    bench_wait_listen "$p" udp "$BENCH_PID"
    pid[udp-ref-echo]=$BENCH_PID port[udp-ref-echo]=$p
    p=$(bench_freeport udp)
    bench_start sockperf sockperf sr -i 127.0.0.1 -p "$p"
    bench_wait_listen "$p" udp "$BENCH_PID"
    pid[sockperf]=$BENCH_PID port[sockperf]=$p
    bench_start_ringsock rs-sockperf sockperf --udp 127.0.0.1:0 --threads 1
    pid[ringsock-sockperf]=$BENCH_PID port[ringsock-sockperf]=$RS_UDP_PORT
    bench_start_ringsock sink discard --udp 127.0.0.1:0 --threads 1
    pid[sink]=$BENCH_PID port[sink]=$RS_UDP_PORT

    local r c side
    for r in $(seq "$ROUNDS"); do
        for c in "${socks[@]}"; do
            for side in ringsock-io_uring ringsock-epoll udp-ref-echo; do
                bench_echo_run udp "$side" "${pid[$side]}" "${port[$side]}" "$r" "s$c-d16" \
                    -c "$c" --depth 16
            done
        done
        bench_pingpong udp "$r"
        udp_send_run "$r" "${pid[sink]}" "${port[sink]}"
    done
}


# udp_send_run ROUND SINK-PID SINK-PORT: each generator's send rate (datagrams/s it reports
# sent) and its CPU. The sink's CPU is not the point here.
udp_send_run() {
    local r=$1 spid=$2 sport=$3 gen rate
    local blank=(p50_us= p90_us= p99_us= p999_us= max_us=)
    for gen in ringload ringload-gso; do
        local extra=()
        [ $gen = ringload-gso ] && extra=(--gso)
        bench_measure "$spid" "$WORK/rl.out" "$BUILD/ringload" --no-progress --send-only \
            "${extra[@]}" -c 1 -s 64 -d "${SECS}s" --json "$WORK/rl.json" "udp://127.0.0.1:$sport"
        ((GEN_RC == 0)) || { cat "$WORK/rl.out" >&2; return 1; }
        rate=$(jq '.udp.sent / .duration_s | floor' "$WORK/rl.json")
        bench_row_ringload "$WORK/rl.json" case=send "round=$r" "side=$gen" server=sink \
            "generator=$gen" "throughput=$rate" unit=dgram/s errors=0 "${blank[@]}"
    done
    bench_measure "$spid" "$WORK/tp.out" sockperf tp -i 127.0.0.1 -p "$sport" -m 64 -t "$SECS"
    rate=$(grep -oE 'Message Rate is [0-9]+' "$WORK/tp.out" | awk '{print $4}' || true)
    [ -n "$rate" ] || { cat "$WORK/tp.out" >&2; return 1; }
    bench_row case=send "round=$r" side=sockperf-tp server=sink generator=sockperf-tp conns=1 \
        size=64 "throughput=$rate" unit=dgram/s errors=0 "srv_user_s=$SRV_USER" \
        "srv_sys_s=$SRV_SYS" "gen_user_s=$GEN_USER" "gen_sys_s=$GEN_SYS"
    local ip
    ip=$(bench_freeport tcp)
    bench_start iperf3-s iperf3 -s -1 -p "$ip"
    local ipid=$BENCH_PID
    bench_wait_listen "$ip" tcp "$ipid"
    bench_measure "$ipid" "$WORK/ip.json" iperf3 -c 127.0.0.1 -p "$ip" -u -b 0 -l 64 \
        -t "$SECS" -J
    rate=$(jq '.end.sum.packets / .end.sum.seconds | floor' "$WORK/ip.json" 2>/dev/null || true)
    bench_stop "$ipid"
    [ -n "$rate" ] && [ "$rate" != null ] || { cat "$WORK/ip.json" >&2; return 1; }
    bench_row case=send "round=$r" side=iperf3 server=sink generator=iperf3 conns=1 size=64 \
        "throughput=$rate" unit=dgram/s errors=0 "gen_user_s=$GEN_USER" "gen_sys_s=$GEN_SYS"
}
