# relay: layer-4 TCP relays between the same ringload load and the same upstream, an echo server
# (`ringsock echo`, 1 worker) on the server CPU, the relay beside it on the same CPU, one
# worker/thread each:
#   ringsock-relay (`ringsock relay`, io_uring), haproxy (`mode tcp`, `nbthread 1`),
#   nginx-stream (`stream { proxy_pass }`, 1 worker) and socat (`TCP-LISTEN:...,fork TCP:...`,
#   a process per connection); and "direct", ringload straight to the upstream, the baseline.
# Cases: 100 connections x 64-byte messages at depth 1 and 16 (every echoed byte verified), and
# streaming: 8 connections x 64 KiB messages at depth 4, in Gbit/s (payload, one way).
# The "server" CPU of a row is the relay's process tree (socat's per-connection children
# included); the upstream's is in up_user_s/up_sys_s, so CPU 0's load is srv + up.

relay_haproxy_conf() { # PORT UPSTREAM_PORT
    mkdir -p "$WORK/haproxy"
    cat >"$WORK/haproxy/haproxy.cfg" <<HAP
global
    nbthread 1
    maxconn 8000
defaults
    mode tcp
    maxconn 8000
    timeout connect 5s
    timeout client 10m
    timeout server 10m
frontend relay
    bind 127.0.0.1:$1
    default_backend up
backend up
    server echo 127.0.0.1:$2
HAP
}

relay_nginx_conf() { # PORT UPSTREAM_PORT
    mkdir -p "$WORK/nginx-stream"
    cat >"$WORK/nginx-stream/nginx.conf" <<NGX
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
master_process off;
daemon off;
error_log $WORK/nginx-stream/error.log;
worker_rlimit_nofile 16384;
events { worker_connections 8000; }
stream {
    server {
        listen 127.0.0.1:$1 reuseport backlog=4096;
        proxy_pass 127.0.0.1:$2;
        proxy_connect_timeout 5s;
        proxy_timeout 10m;
    }
}
NGX
}

# relay_run SIDE ROUND CASE RINGLOAD-ARGS...: one verified ringload run through SIDE (a relay, or
# "direct" to the upstream); the relay's CPU as the server's, the upstream's beside it. Streaming
# cases (size 65536) are reported in Gbit/s of payload one way.
relay_run() {
    local side=$1 round=$2 case=$3 u0 s0 u1 s1 extra=() server=$1
    shift 3
    read -r u0 s0 < <(bench_cpu "$UP_PID")
    bench_measure "${pid[$side]}" "$WORK/rl.out" "$BUILD/ringload" --no-progress -t 1 \
        -d "${SECS}s" --json "$WORK/rl.json" "$@" "tcp://127.0.0.1:${port[$side]}"
    read -r u1 s1 < <(bench_cpu "$UP_PID")
    ((GEN_RC == 0)) || { echo "bench: ringload through $side failed:" >&2; cat "$WORK/rl.out" >&2; return 1; }
    if [ "$side" = direct ]; then
        server=ringsock-echo # the upstream is the server: no relay CPU to compare
    else
        extra+=("up_user_s=$(awk -v a="$u0" -v b="$u1" 'BEGIN{printf "%.3f", b - a}')"
            "up_sys_s=$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.3f", b - a}')")
    fi
    if [[ $case == stream* ]]; then
        extra+=("throughput=$(jq '.msgs_per_sec * .size * 8 / 1e9 | . * 1000 | round / 1000' \
            "$WORK/rl.json")" unit=Gbit/s)
    fi
    bench_row_ringload "$WORK/rl.json" "case=$case" "round=$round" "side=$side" \
        "server=$server" generator=ringload "${extra[@]}"
}

scenario_relay() {
    LAT_CASE=c100-d1
    local sides=(direct ringsock-relay haproxy nginx-stream socat)
    bench_meta peers "$(haproxy -v 2>&1 | head -1 | cut -d' ' -f1-3); $(bench_version nginx) stream module; $(bench_version socat)"
    bench_meta generator "$("$BUILD/ringload" --version 2>&1 | head -1), 1 thread, verified; no warm-up"
    bench_meta upstream "ringsock echo --threads 1 (io_uring) on the server CPU, shared with the relay"

    local -A pid port
    bench_start_ringsock upstream echo --tcp 127.0.0.1:0 --threads 1 --backend io_uring
    UP_PID=$BENCH_PID
    local up=$RS_TCP_PORT p
    pid[direct]=$UP_PID port[direct]=$up
    bench_start_ringsock rs-relay relay --tcp 127.0.0.1:0 --upstream "127.0.0.1:$up" --threads 1 \
        --backend io_uring
    pid[ringsock-relay]=$BENCH_PID port[ringsock-relay]=$RS_TCP_PORT
    p=$(bench_freeport tcp)
    relay_haproxy_conf "$p" "$up"
    bench_start haproxy haproxy -db -f "$WORK/haproxy/haproxy.cfg"
    bench_wait_listen "$p" tcp "$BENCH_PID"
    pid[haproxy]=$BENCH_PID port[haproxy]=$p
    p=$(bench_freeport tcp)
    relay_nginx_conf "$p" "$up"
    bench_start nginx-stream nginx -c "$WORK/nginx-stream/nginx.conf" -p "$WORK/nginx-stream" \
        -g "pid nginx.pid;"
    bench_wait_listen "$p" tcp "$BENCH_PID"
    pid[nginx-stream]=$BENCH_PID port[nginx-stream]=$p
    p=$(bench_freeport tcp)
    bench_start socat socat "TCP4-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork,backlog=4096" \
        "TCP4:127.0.0.1:$up"
    bench_wait_listen "$p" tcp "$BENCH_PID"
    pid[socat]=$BENCH_PID port[socat]=$p

    local r side
    for r in $(seq "$ROUNDS"); do
        for side in "${sides[@]}"; do
            relay_run "$side" "$r" c100-d1 -c 100 --depth 1 -s 64
        done
        if ! ((QUICK)); then
            for side in "${sides[@]}"; do
                relay_run "$side" "$r" c100-d16 -c 100 --depth 16 -s 64
            done
        fi
        for side in "${sides[@]}"; do
            relay_run "$side" "$r" stream-c8-d4 -c 8 --depth 4 -s 65536
        done
    done
}
