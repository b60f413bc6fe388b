# http: HTTP/1.1 keep-alive servers answering GET / with a 6-byte body, one worker each on the
# server CPU: ringsock http, nginx (`return 200`, access_log off) and h2o (an mruby handler
# returning the same body), each driven in turn by wrk (1 thread, --latency) and ringload
# (1 thread) at 10, 100 and 1000 connections, and by ringload with 16 pipelined requests per
# connection at 100. The generator comparison (ringload vs wrk, requests per generator
# CPU-second) comes from the same runs against nginx.

scenario_http() {
    LAT_CASE=c100-ringload # the case the percentile plot shows
    # No warm-up for ringload either: wrk has none, and the generators are compared.
    local conns=(10 100 1000)
    ((QUICK)) && conns=(100)
    bench_meta peers "$(bench_version nginx); $(bench_version h2o); $(bench_version wrk)"
    bench_meta generator "wrk -t1 --latency; $("$BUILD/ringload" --version 2>&1 | head -1) -t1; no warm-up"

    local -A pid port
    bench_start_ringsock ringsock http --tcp 127.0.0.1:0 --threads 1 --body 'hello\n'
    pid[ringsock]=$BENCH_PID port[ringsock]=$RS_HTTP_PORT
    local p
    p=$(bench_freeport tcp)
    bench_nginx_conf "$p" 8192 16384
    bench_start nginx nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -g "pid nginx.pid;"
    bench_wait_listen "$p" tcp "$BENCH_PID"
    pid[nginx]=$BENCH_PID port[nginx]=$p
    p=$(bench_freeport tcp)
    cat >"$WORK/h2o.conf" <<H2O
listen:
  host: 127.0.0.1
  port: $p
num-threads: 1
max-connections: 8192
access-log: /dev/null
hosts:
  default:
    paths:
      /:
        mruby.handler: |
          Proc.new do |env|
            [200, {"content-type" => "text/plain"}, ["hello\\n"]]
          end
H2O
    bench_start h2o h2o -c "$WORK/h2o.conf"
    bench_wait_listen "$p" tcp "$BENCH_PID"
    pid[h2o]=$BENCH_PID port[h2o]=$p

    local r c side gen
    for r in $(seq "$ROUNDS"); do
        for c in "${conns[@]}"; do
            for gen in wrk ringload; do
                for side in ringsock nginx h2o; do
                    http_run "$side" "${pid[$side]}" "${port[$side]}" "$r" "c$c-$gen" "$gen" \
                        "$c" 1
                done
            done
        done
        for side in ringsock nginx h2o; do
            http_run "$side" "${pid[$side]}" "${port[$side]}" "$r" c100-ringload-depth16 \
                ringload 100 16
        done
    done
}

# http_run SIDE PID PORT ROUND CASE GENERATOR CONNS DEPTH
http_run() {
    local side=$1 spid=$2 sport=$3 round=$4 case=$5 gen=$6 c=$7 d=$8
    local url="http://127.0.0.1:$sport/"
    if [ "$gen" = wrk ]; then
        # wrk has no warm-up: the measured window includes its connects, as users see it.
        bench_measure "$spid" "$WORK/wrk.out" wrk -t1 -c"$c" -d"${SECS}s" --latency "$url"
        ((GEN_RC == 0)) || { cat "$WORK/wrk.out" >&2; return 1; }
        bench_py wrk "$CSV" "$WORK/wrk.out" "scenario=$SCENARIO" "seconds=$SECS" "case=$case" \
            "round=$round" "side=$side" "server=$side" generator=wrk "conns=$c" depth=1 \
            "srv_user_s=$SRV_USER" "srv_sys_s=$SRV_SYS" "gen_user_s=$GEN_USER" \
            "gen_sys_s=$GEN_SYS"
    else
        bench_measure "$spid" "$WORK/rl.out" "$BUILD/ringload" --no-progress -t 1 -c "$c" \
            --depth "$d" -d "${SECS}s" --json "$WORK/rl.json" "$url"
        ((GEN_RC == 0)) || { echo "bench: ringload against $side failed:" >&2; cat "$WORK/rl.out" >&2; return 1; }
        bench_row_ringload "$WORK/rl.json" "case=$case" "round=$round" "side=$side" \
            "server=$side" generator=ringload
    fi
}
