# connections: hold 10k, 50k and 100k idle TCP connections and report the server's resident
# memory per connection and the time to open them all, ringsock (echo, io_uring and epoll)
# beside nginx (`return 200`), one worker per server process. ringload --idle opens them (at
# most 1024 connects in flight per process) from 8 source addresses (127.0.0.1-127.0.0.8, past
# one address's ephemeral port range), holds them, then checks every one is still served (an
# echo for ringsock, an HTTP request for nginx).
#
# A process needs a descriptor per connection. Where the fd hard limit can be raised (root with
# CAP_SYS_RESOURCE), one server process and one ringload hold them all (prlimit). Where it
# cannot (containers, and this project's CI machines: hard limit 20000, no CAP_SYS_RESOURCE),
# the connections are split over K = ceil(N / per-process capacity) server processes sharing
# the port (SO_REUSEPORT; nginx `listen ... reuseport`) and K ringload processes, the same K for
# every side; RSS is summed over the server processes, before and while holding.
# Each run starts fresh servers, so memory kept from an earlier, larger run hides nothing. The
# kernel slab figure is machine-wide (both ends' sockets plus the server's kernel-side state)
# and only indicative on a busy machine.

scenario_connections() {
    local counts=(10000 50000 100000) hold=1s
    ((QUICK)) && counts=(1000 5000) hold=1s
    local max=${counts[-1]} want
    want=$((max + 4096))
    if prlimit --nofile="$want:$want" true 2>/dev/null; then
        LIM=(prlimit --nofile="$want:$want" --)
        CONN_CAP=$max
    else
        local hard
        hard=$(ulimit -Hn)
        [ "$hard" = unlimited ] && hard=1048576
        LIM=(prlimit --nofile="$hard:$hard" --)
        CONN_CAP=$((hard - 4000))
        ((CONN_CAP >= 1000)) || { echo "bench: fd hard limit $hard is too low" >&2; return 1; }
    fi
    # BENCH_CONN_CAP (a test's knob) forces the split at a smaller count.
    CONN_CAP=${BENCH_CONN_CAP:-$CONN_CAP}
    local k_max=$(((max + CONN_CAP - 1) / CONN_CAP))
    bench_meta peers "$(bench_version nginx)"
    bench_meta generator "$("$BUILD/ringload" --version 2>&1 | head -1) --idle -t1 --source 127.0.0.1-127.0.0.8 (max-connecting 1024 per process), hold $hold"
    bench_meta processes "at most $CONN_CAP connections per process (fd limit $(ulimit -Hn)$( ((k_max > 1)) && echo ', cannot be raised here')): $k_max server and $k_max ringload processes at ${max}"
    bench_meta sysctl "somaxconn $(cat /proc/sys/net/core/somaxconn), tcp_max_syn_backlog $(cat /proc/sys/net/ipv4/tcp_max_syn_backlog), ip_local_port_range $(tr '\t' - </proc/sys/net/ipv4/ip_local_port_range)"

    local r n side
    for r in $(seq "$ROUNDS"); do
        for n in "${counts[@]}"; do
            for side in ringsock-io_uring ringsock-epoll nginx; do
                conn_hold_run "$side" "$r" "$n" "$hold"
            done
        done
    done
}

# conn_servers_start SIDE K: K fresh server processes on one port; sets CONN_PIDS, CONN_URL,
# CONN_CHECK.
conn_servers_start() {
    local side=$1 k=$2 i p=0 maxc=$((CONN_CAP + 4000))
    CONN_PIDS=()
    BENCH_WRAP=("${LIM[@]}")
    for i in $(seq "$k"); do
        case $side in
        ringsock-*)
            bench_start_ringsock "$side-$i" echo --tcp "127.0.0.1:$p" --threads 1 \
                --backend "${side#ringsock-}" --max-conns "$maxc"
            p=$RS_TCP_PORT CONN_CHECK=echo
            ;;
        nginx)
            if ((i == 1)); then
                p=$(bench_freeport tcp)
                bench_nginx_conf "$p" "$maxc" "${LIM[1]#--nofile=*:}"
            fi
            bench_start "nginx-$i" nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" \
                -g "pid $WORK/nginx/nginx-$i.pid;"
            bench_wait_listen "$p" tcp "$BENCH_PID"
            CONN_CHECK=http
            ;;
        esac
        CONN_PIDS+=("$BENCH_PID")
    done
    BENCH_WRAP=()
    CONN_URL="tcp://127.0.0.1:$p"
    [ "$CONN_CHECK" = http ] && CONN_URL="http://127.0.0.1:$p/"
    return 0
}

# conn_sum FUNC: FUNC's numbers summed over CONN_PIDS (column-wise).
conn_sum() {
    local pid
    for pid in "${CONN_PIDS[@]}"; do "$1" "$pid"; done |
        awk '{for (i = 1; i <= NF; i++) s[i] += $i} END {for (i = 1; i <= NF; i++) printf "%s ", s[i]; print ""}'
}

# conn_hold_run SIDE ROUND COUNT HOLD: one --idle run against fresh servers; their RSS and the
# kernel's slab memory are read before the connects and while every connection is held.
conn_hold_run() {
    local side=$1 r=$2 n=$3 hold=$4 k i rss0 rss1= slab0 slab1 u0 s0 u1 s1
    k=$(((n + CONN_CAP - 1) / CONN_CAP))
    conn_servers_start "$side" "$k"
    sleep 0.3
    read -r rss0 < <(conn_sum bench_rss_kib)
    slab0=$(awk '/^Slab:/ {print $2}' /proc/meminfo)
    read -r u0 s0 < <(conn_sum bench_cpu)
    local gpids=() jsons=()
    rm -f "$WORK"/idle.*
    for i in $(seq 0 $((k - 1))); do
        "${GEN_CPU[@]}" "${LIM[@]}" "$BUILD/ringload" --no-progress --idle -t 1 \
            -c $((n / k + (i < n % k))) -d "$hold" --source 127.0.0.1-127.0.0.8 \
            --idle-check "$CONN_CHECK" --timeout 10s --json "$WORK/idle.$i.json" "$CONN_URL" \
            >"$WORK/idle.$i.out" 2>"$WORK/idle.$i.err" &
        gpids+=($!)
        jsons+=("$WORK/idle.$i.json")
    done
    for _ in $(seq 1200); do
        if (($(awk '/holding/ {n++} END {print n + 0}' "$WORK"/idle.*.err) == k)); then
            read -r rss1 < <(conn_sum bench_rss_kib)
            slab1=$(awk '/^Slab:/ {print $2}' /proc/meminfo)
            break
        fi
        local alive=0 g
        for g in "${gpids[@]}"; do kill -0 "$g" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.05
    done
    local rc=0 g
    for g in "${gpids[@]}"; do wait "$g" || rc=$?; done
    read -r u1 s1 < <(conn_sum bench_cpu)
    for g in "${CONN_PIDS[@]}"; do bench_stop "$g"; done
    if ((rc != 0)) || [ -z "$rss1" ]; then
        echo "bench: ringload --idle -c $n against $side failed (exit $rc):" >&2
        cat "$WORK"/idle.*.out "$WORK"/idle.*.err >&2
        return 1
    fi
    if ((k > 1)); then
        "$BUILD/ringload" merge --json "$WORK/idle.json" "${jsons[@]}" >/dev/null
    else
        cp "${jsons[0]}" "$WORK/idle.json"
    fi
    local est open rate bad
    read -r est open rate bad < <(jq -r '.idle | "\(.established) \(.open_s) \(.connects_per_sec) \(.failed + .closed_by_peer + (.check.failed // 0))"' "$WORK/idle.json")
    bench_row case="c$n" "round=$r" "side=$side" "server=$side" generator=ringload-idle \
        "conns=$n" "throughput=$(printf '%.0f' "$rate")" unit=conn/s "open_s=$open" \
        "rss_kib=$rss1" "rss_per_conn_b=$(((rss1 - rss0) * 1024 / est))" \
        "kmem_per_conn_b=$(((slab1 - slab0) * 1024 / est))" "errors=$bad" \
        "srv_user_s=$(awk -v a="$u0" -v b="$u1" 'BEGIN{printf "%.3f", b - a}')" \
        "srv_sys_s=$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.3f", b - a}')"
}
