#!/usr/bin/env bash
# relay_udp.sh BACKEND: the relay's UDP side (docs/relay.md), clients and upstreams from
# udppeer.py. Echo through the relay to a ringsock echo --udp: 8 sessions x 500 datagrams of 0 to
# 1400 bytes, every answer byte-exact and in order, each counted both ways, and a 0-byte
# datagram both ways; the same over IPv6 (4 x 200); --udp-responses 2 (an upstream answering 3 times: 2 come, the session
# ends), 0 (no answer, sessions end once sent), any (all 3); --udp-requests 1 and 2 (a new
# upstream source port for every datagram, every second one) and unlimited (one port);
# --udp-max-sessions 3 (a fourth client gets nothing, counted as overflow); --udp-idle-timeout
# 300ms (sessions end idle, counted; one with a datagram every 100 ms lives on); a dead upstream (ICMP port unreachable ends the session,
# counted as an error and a failure: the next 4 sessions all go to the live upstream); round
# robin over two upstreams (5/5); SIGTERM with 4 sessions open (prompt exit, each ended,
# one access-log line each).
# shellcheck source=relay_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/relay_lib.sh"
backend_setup "${1:-}"

UDPPEER="$(dirname "${BASH_SOURCE[0]}")/udppeer.py"
UPORT=""

# upeer_start MODE [ARG]: a udppeer.py upstream; sets UPORT.
upeer_start() {
    local out="$TEST_TMP/upeer.$RANDOM.out"
    python3 "$UDPPEER" serve "$@" >"$out" 2>&1 &
    track_pid $!
    wait_until 5 grep -q '^port ' "$out" || fail "udppeer serve $* did not start"
    UPORT=$(awk '/^port / { print $2; exit }' "$out")
}

# uclient CHECK ARGS...: udppeer.py client CHECK against the relay's UDP port, bounded at 90 s;
# sets ULINE to its last line.
uclient() {
    local check=$1 out="$TEST_TMP/uc.$RANDOM.out" err="$TEST_TMP/uc.$RANDOM.err" rc=0
    shift
    run_bounded 90 "$out" "$err" python3 "$UDPPEER" client "$check" "$UDP_HOST" "$UDP_PORT" \
        "$@" || rc=$?
    cat "$out"
    cat "$err" >&2
    ULINE=$(tail -n 1 "$out")
    return "$rc"
}

# The upstream: a one-thread ringsock echo over UDP on the test's backend.
out="$TEST_TMP/echo_up.out"
"$RINGSOCK" echo --udp 127.0.0.1:0 --tcp 127.0.0.1:0 --threads 1 "${BACKEND_ARGS[@]}" >"$out" 2>&1 &
track_pid $!
wait_until 5 grep -q 'listening on' "$out" || fail "echo upstream did not start"
echo_udp=$(grep -m 1 -oE 'udp://[^ ]*:[0-9]+' "$out" | sed 's/.*://')

start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$echo_udp" \
    "${BACKEND_ARGS[@]}"
uclient echo 8 500 || fail "echo through the relay"
[[ $ULINE =~ ^echo\ sent=4000\ received=4000\ bytes=([0-9]+)$ ]] || fail "echo: $ULINE"
echo_bytes=${BASH_REMATCH[1]}
uclient zero || fail "a 0-byte datagram both ways"
stop_server
expect_total relay_udp_sessions 9
expect_total relay_udp_dgrams_c2u 4001
expect_total relay_udp_dgrams_u2c 4001
expect_total relay_udp_drops 0
expect_total relay_udp_overflow 0
expect_total relay_udp_closed_stopping 9
expect_total relay_udp_active 0
c2u=$(total_field relay_udp_bytes_c2u)
u2c=$(total_field relay_udp_bytes_u2c)
((c2u == echo_bytes && u2c == echo_bytes)) ||
    fail "bytes c2u=$c2u u2c=$u2c, the client sent $echo_bytes"

# The same over IPv6, where the host has ::1.
if python3 -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' \
    2>/dev/null; then
    out="$TEST_TMP/echo_up6.out"
    "$RINGSOCK" echo --udp '[::1]:0' --tcp 127.0.0.1:0 --threads 1 "${BACKEND_ARGS[@]}" >"$out" 2>&1 &
    track_pid $!
    wait_until 5 grep -q 'listening on' "$out" || fail "IPv6 echo upstream did not start"
    echo6=$(grep -m 1 -oE 'udp://\[::1\]:[0-9]+' "$out" | sed 's/.*://')
    start_udp_server relay --threads 1 --udp '[::1]:0' --upstream "[::1]:$echo6" \
        "${BACKEND_ARGS[@]}"
    uclient echo 4 200 || fail "echo through the relay over IPv6"
    [[ $ULINE =~ ^echo\ sent=800\ received=800\  ]] || fail "IPv6 echo: $ULINE"
    stop_server
    expect_total relay_udp_sessions 4
    expect_total relay_udp_dgrams_u2c 800
else
    log "no IPv6 loopback: the IPv6 case is skipped"
fi

# --udp-responses: an upstream that answers every datagram three times.
upeer_start times 3
three=$UPORT
start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$three" \
    --udp-responses 2 "${BACKEND_ARGS[@]}"
uclient count 1 1.0 || fail "responses 2"
[[ $ULINE == "count replies=2" ]] || fail "responses 2: $ULINE, expected 2 answers"
uclient count 1 1.0 || fail "responses 2, again"
[[ $ULINE == "count replies=2" ]] || fail "responses 2 again: $ULINE"
stop_server
expect_total relay_udp_sessions 2
expect_total relay_udp_closed_responses 2
expect_total relay_udp_closed_stopping 0

start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$three" \
    --udp-responses 0 "${BACKEND_ARGS[@]}"
uclient count 3 1.0 || fail "responses 0"
[[ $ULINE == "count replies=0" ]] || fail "responses 0: $ULINE, expected no answer"
stop_server
expect_total relay_udp_dgrams_c2u 3
sessions=$(total_field relay_udp_sessions)
((sessions >= 1)) || fail "responses 0: no session"
expect_total relay_udp_closed_responses "$sessions"
expect_total relay_udp_active 0

start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$three" \
    --udp-responses any "${BACKEND_ARGS[@]}"
uclient count 1 1.0 || fail "responses any"
[[ $ULINE == "count replies=3" ]] || fail "responses any: $ULINE, expected 3 answers"
stop_server
expect_total relay_udp_closed_responses 0
expect_total relay_udp_closed_stopping 1

# --udp-requests: the upstream reports the source port each datagram came from.
upeer_start port
portpeer=$UPORT
start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$UPORT" \
    --udp-requests 1 "${BACKEND_ARGS[@]}"
uclient ports 4 || fail "requests 1"
read -r _ p1 p2 p3 p4 <<<"$ULINE"
[[ -n $p4 && $p1 != "$p2" && $p2 != "$p3" && $p3 != "$p4" && $p1 != "$p3" ]] ||
    fail "requests 1: $ULINE, expected 4 distinct ports"
stop_server
expect_total relay_udp_sessions 4

start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$UPORT" \
    --udp-requests 2 "${BACKEND_ARGS[@]}"
uclient ports 4 || fail "requests 2"
read -r _ p1 p2 p3 p4 <<<"$ULINE"
[[ -n $p4 && $p1 == "$p2" && $p3 == "$p4" && $p1 != "$p3" ]] ||
    fail "requests 2: $ULINE, expected two ports, each twice"
stop_server
expect_total relay_udp_sessions 2

start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$UPORT" \
    "${BACKEND_ARGS[@]}"
uclient ports 4 || fail "requests unlimited"
read -r _ p1 p2 p3 p4 <<<"$ULINE"
[[ -n $p4 && $p1 == "$p2" && $p2 == "$p3" && $p3 == "$p4" ]] ||
    fail "requests unlimited: $ULINE, expected one port"
stop_server
expect_total relay_udp_sessions 1

# --udp-max-sessions 3: three clients hold sessions (60 s idle timeout), a fourth gets nothing.
upeer_start id A
a=$UPORT
start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$a" \
    --udp-max-sessions 3 "${BACKEND_ARGS[@]}"
uclient ids 3 || fail "three sessions under the limit"
uclient silent 0.5 || fail "a fourth client past --udp-max-sessions 3 was answered"
stop_server
expect_total relay_udp_sessions 3
expect_total relay_udp_overflow 1
expect_total relay_udp_closed_stopping 3

# --udp-idle-timeout 300ms: two sessions end idle.
start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$a" \
    --udp-idle-timeout 300ms "${BACKEND_ARGS[@]}"
uclient ids 2 || fail "idle: two sessions"
sleep 1
stop_server
expect_total relay_udp_sessions 2
expect_total relay_udp_closed_idle 2
expect_total relay_udp_closed_stopping 0

# ... while a session with a datagram every 100 ms lives on (one upstream port), then idles out.
start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$portpeer" \
    --udp-idle-timeout 300ms "${BACKEND_ARGS[@]}"
uclient ports 10 0.1 || fail "idle: a busy session"
read -r -a busy <<<"$ULINE"
for p in "${busy[@]:2}"; do
    [[ $p == "${busy[1]}" ]] || fail "idle: a session with traffic every 100 ms ended: $ULINE"
done
sleep 1
stop_server
expect_total relay_udp_sessions 1
expect_total relay_udp_closed_idle 1

# Round robin over two upstreams, a session each.
upeer_start id B
b=$UPORT
start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$a" \
    --upstream "127.0.0.1:$b" --admin 127.0.0.1:0 "${BACKEND_ARGS[@]}"
uclient ids 10 || fail "round robin"
[[ $ULINE == "ids A=5 B=5" ]] || fail "round robin: $ULINE, expected A=5 B=5"
# The sessions are in each upstream's series of /metrics, as TCP connections are.
admin_url=$(grep -oE 'admin on http://127\.0\.0\.1:[0-9]+' "$SERVER_OUT" | sed 's/admin on //')
for p in "$a" "$b"; do
    n=$(curl -s --max-time 3 "$admin_url/metrics" |
        awk -v u="upstream=\"127.0.0.1:$p\"" '/^ringsock_relay_upstream_connections_total/ && index($0, u) { s += $2 } END { print s + 0 }')
    ((n == 5)) || fail "upstream 127.0.0.1:$p: $n sessions in /metrics, want 5"
done
stop_server

# A dead upstream: its ICMP port unreachable ends the session and counts a failure (--max-fails
# 1), so the next sessions all go to the live one.
dead=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$dead" \
    --upstream "127.0.0.1:$b" "${BACKEND_ARGS[@]}"
uclient count 1 0.5 || fail "dead upstream, first client"
first=$ULINE
uclient count 1 0.5 || fail "dead upstream, second client"
[[ "$first $ULINE" == "count replies=0 count replies=1" ||
    "$first $ULINE" == "count replies=1 count replies=0" ]] ||
    fail "dead upstream: '$first' and '$ULINE', expected one answered of two"
uclient ids 4 || fail "after the dead upstream's ICMP, sessions still went to it"
[[ $ULINE == "ids B=4" ]] || fail "after ICMP: $ULINE, expected B=4"
stop_server
expect_total relay_udp_closed_error 1
expect_total relay_udp_sessions 6
expect_total relay_udp_closed_stopping 5

# SIGTERM with 4 sessions open: the relay exits at once, each session ended and logged.
log_file="$TEST_TMP/access.log"
start_udp_server relay --threads 1 --udp 127.0.0.1:0 --upstream "127.0.0.1:$a" \
    --access-log "$log_file" "${BACKEND_ARGS[@]}"
fifo="$TEST_TMP/hold"
mkfifo "$fifo"
python3 "$UDPPEER" client open "$UDP_HOST" "$UDP_PORT" 4 <"$fifo" >"$TEST_TMP/open.out" 2>&1 &
holder=$!
track_pid "$holder"
exec 7>"$fifo"
wait_until 10 grep -q '^open 4' "$TEST_TMP/open.out" || fail "4 sessions did not open"
stop_server
exec 7>&-
expect_total relay_udp_sessions 4
expect_total relay_udp_closed_stopping 4
expect_total relay_udp_active 0
lines=$(grep -c '"udp"' "$log_file" || true)
((lines == 4)) || fail "access log: $lines udp lines, expected 4: $(cat "$log_file")"
grep -q 'server_stopping' "$log_file" || fail "access log: no server_stopping reason"
pass
