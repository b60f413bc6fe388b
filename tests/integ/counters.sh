#!/usr/bin/env bash
# counters.sh: the exit totals list exactly the registered counters. `ringsock --counters` lists
# them (block, name, counter or gauge, meaning), each name once. Then each service runs briefly
# (2 workers): its totals line carries every listed name once, in the listed order, and nothing
# else; each worker line carries only listed names. `ringsock http` answers one request first,
# and its totals and worker lines show it in the http block's counters. Takes no argument.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$TEST_TMP/counters.out"
rc=0
run_bounded 5 "$OUT" "$TEST_TMP/counters.err" "$RINGSOCK" --counters || rc=$?
((rc == 0)) || fail "ringsock --counters exited $rc: $(cat "$TEST_TMP/counters.err")"

declare -A block_of
names=()
while read -r block name kind help; do
    [[ $kind == counter || $kind == gauge ]] || fail "$name: kind '$kind'"
    [[ -n $help ]] || fail "$name: no meaning given"
    [[ -z ${block_of[$name]:-} ]] || fail "$name listed twice"
    block_of[$name]=$block
    names+=("$name")
done <"$OUT"
http_names=()
for name in "${names[@]}"; do
    [[ ${block_of[$name]} == http ]] && http_names+=("$name")
done
((${#http_names[@]} > 0)) || fail "no http counters listed: $(cat "$OUT")"
log "${#names[@]} counters listed, ${#http_names[@]} of them http's"

# keys LINE: the keys of LINE's key=value pairs, one a line.
keys() {
    grep -oE '(^| )[a-z0-9_]+=' <<<"$1" | tr -d ' ='
}

# run_service SERVICE ARGS...: starts ringsock SERVICE ARGS --threads 2 and waits for its
# listening line; sets SERVER_PID, SERVER_OUT, SERVER_LINE and PORT (its first listener).
run_service() {
    local i
    SERVER_RUNS=$((SERVER_RUNS + 1))
    SERVER_OUT="$TEST_TMP/server.$SERVER_RUNS.out"
    SERVER_ERR="$TEST_TMP/server.$SERVER_RUNS.err"
    "$RINGSOCK" "$@" --threads 2 >"$SERVER_OUT" 2>"$SERVER_ERR" &
    SERVER_PID=$!
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$SERVER_OUT" && break
        proc_alive "$SERVER_PID" || fail "ringsock $* exited before listening"
        sleep 0.05
    done
    SERVER_LINE=$(grep -m 1 'listening on' "$SERVER_OUT") || fail "no listening line within 5 s"
    [[ $SERVER_LINE =~ ://127\.0\.0\.1:([0-9]+) ]] || fail "no port in: $SERVER_LINE"
    PORT=${BASH_REMATCH[1]}
    log "$SERVER_LINE"
}

for svc in echo discard http sockperf; do
    args=(--tcp 127.0.0.1:0)
    [[ $svc == http ]] || args+=(--udp 127.0.0.1:0)
    run_service "$svc" "${args[@]}"
    if [[ $svc == http ]]; then
        exec 3<>"/dev/tcp/127.0.0.1/$PORT"
        printf 'GET / HTTP/1.0\r\n\r\n' >&3
        answer=$(timeout 5 cat <&3) || fail "no answer from the http service"
        exec 3<&-
        [[ $answer == "HTTP/1.1 200 "* ]] || fail "http answered: $answer"
    fi
    stop_server
    [[ $(keys "${TOTALS#ringsock: totals }") == "$(printf '%s\n' "${names[@]}")" ]] ||
        fail "$svc: the totals are not exactly the listed counters in order: $TOTALS"
    mapfile -t workers < <(grep '^ringsock: worker [0-9]*: ' "$SERVER_OUT")
    ((${#workers[@]} == 2)) || fail "$svc: ${#workers[@]} worker lines for 2 workers"
    for line in "${workers[@]}"; do
        for key in $(keys "${line#ringsock: worker *: }"); do
            [[ -n ${block_of[$key]:-} ]] || fail "$svc: worker line key $key is not listed: $line"
        done
    done
    if [[ $svc == http ]]; then
        for name in "${http_names[@]}"; do
            [[ $(grep -oE "(^| )$name=" <<<"$TOTALS" | wc -l) == 1 ]] ||
                fail "http: $name is not in the totals once: $TOTALS"
        done
        expect_total http_requests 1
        expect_total http_2xx 1
        expect_total conns_accepted 1
        [[ $(printf '%s\n' "${workers[@]}" | grep -c ' http_requests=') == 2 ]] ||
            fail "http: the worker lines do not show http_requests: ${workers[*]}"
    fi
done
pass
