#!/usr/bin/env bash
# udp_deny.sh BACKEND: UDP echo and sockperf answer no datagram whose source port is in the
# deny list (reflection and echo loops, CERT CA-1996-01). With the default list, datagrams
# from a denied port (53, or another listed one that is free, bound as root) get no answer and
# are counted as dgram_denied, while the same sizes from a kernel-chosen port come back whole;
# sockperf over UDP the same, a well-formed message that asks for an answer included;
# --udp-deny-ports none answers the denied port; --udp-deny-ports 40000-40010 denies a port of
# that range and answers 53; over IPv6 too. No answer is ever longer than its request:
# dgramcheck compares every echo byte for byte and the totals must have dgram_bytes_out <=
# dgram_bytes_in.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup

((EUID == 0)) || skip "binding a source port under 1024 needs root"

SIZES=0,1,100,1400
NSIZES=4
# Listed by default, and tried in turn until one can be bound here.
DENIED_CANDIDATES=(53 7 13 17 19 37 111 123 137 161 389 1900 5353 11211)

# sizes_from HOST PORT BINDHOST BINDPORT (none|all): sends SIZES from BINDHOST:BINDPORT; none:
# no answer may come back, all: each comes back whole. Returns 3 if the port cannot be bound.
sizes_from() {
    local host=$1 port=$2 bhost=$3 bport=$4 want=$5 bind rc try args=()
    if [[ $bhost == *:* ]]; then bind="[$bhost]:$bport"; else bind="$bhost:$bport"; fi
    [[ $want == none ]] && args=(--expect-none "$SIZES")
    # The previous check's socket on the same port can outlive its process by a few ms (seen
    # with ss: bound, no owner): try the bind again before calling the port taken.
    for try in 1 2 3 4 5; do
        rc=0
        run_dgram 20 sizes --bind "$bind" --sizes "$SIZES" "${args[@]}" --timeout 0.5 \
            --retries 2 "$host" "$port" 2>"$TEST_TMP/sizes.err" || rc=$?
        grep -q 'Address already in use' "$TEST_TMP/sizes.err" || break
        ((try < 5)) || return 3
        sleep 0.2
    done
    cat "$TEST_TMP/sizes.err" >&2
    return "$rc"
}

# pick_port HOST PORT BINDHOST (none|all) CANDIDATES...: sizes_from the first candidate port
# that can be bound; sets PICKED. Fails if the check fails or no candidate can be bound.
pick_port() {
    local host=$1 port=$2 bhost=$3 want=$4 p rc
    shift 4
    for p in "$@"; do
        rc=0
        sizes_from "$host" "$port" "$bhost" "$p" "$want" || rc=$?
        ((rc == 3)) && continue
        ((rc == 0)) || fail "from $bhost:$p: want $want answered, got: $DGRAM_LINE"
        PICKED=$p
        return 0
    done
    fail "none of the ports $* can be bound on $bhost"
}

# check_bytes: no answer is longer than its request, in total.
check_bytes() {
    local bin bout
    bin=$(total_field dgram_bytes_in)
    bout=$(total_field dgram_bytes_out)
    ((bout <= bin)) || fail "dgram_bytes_out $bout > dgram_bytes_in $bin"
}

# 1. The default list: a denied port gets nothing, a kernel-chosen one gets every size.
start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp 127.0.0.1:0
pick_port "$UDP_HOST" "$UDP_PORT" 127.0.0.1 none "${DENIED_CANDIDATES[@]}"
DENIED=$PICKED
log "denied source port $DENIED"
sizes_from "$UDP_HOST" "$UDP_PORT" 127.0.0.1 0 all ||
    fail "from a kernel-chosen port: not every size came back whole: $DGRAM_LINE"
stop_server
expect_total dgram_denied "$NSIZES"
din=$(total_field dgrams_in)
((din >= 2 * NSIZES)) || fail "dgrams_in=$din, expected at least $((2 * NSIZES))"
expect_total dgrams_out $((din - NSIZES))
check_bytes

# 2. sockperf over UDP: a message that asks for an answer, from the denied port and from a
# kernel-chosen one; only the second is answered.
if command -v python3 >/dev/null; then
    start_udp_server sockperf "${BACKEND_ARGS[@]}" --threads 1 --udp 127.0.0.1:0
    sp_send() { # BINDPORT: prints how many of 3 messages were answered (exactly)
        python3 - "$UDP_HOST" "$UDP_PORT" "$1" <<'EOF'
import socket, struct, sys
host, port, bport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", bport))
s.settimeout(0.5)
answered = 0
for seq in range(3):
    body = bytes(range(50))
    msg = struct.pack(">QHI", seq, 0x3, 14 + len(body)) + body
    s.sendto(msg, (host, port))
    try:
        data, src = s.recvfrom(70000)
    except socket.timeout:
        continue
    want = struct.pack(">QHI", seq, 0x2, 14 + len(body)) + body
    if src[1] != port or data != want:
        print("bad answer", data.hex(), file=sys.stderr)
        sys.exit(1)
    answered += 1
print(answered)
EOF
    }
    got=$(sp_send "$DENIED") || fail "sockperf from port $DENIED: client failed"
    ((got == 0)) || fail "sockperf: $got messages from denied port $DENIED were answered"
    got=$(sp_send 0) || fail "sockperf from a kernel-chosen port: client failed"
    ((got == 3)) || fail "sockperf: $got of 3 messages from an allowed port answered"
    stop_server
    expect_total dgram_denied 3
    expect_total sockperf_replies 3
    expect_total dgrams_out 3
    check_bytes
else
    log "python3 missing: the sockperf part is not run"
fi

# 3. --udp-deny-ports none answers the port the default list denies.
start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp 127.0.0.1:0 --udp-deny-ports none
sizes_from "$UDP_HOST" "$UDP_PORT" 127.0.0.1 "$DENIED" all ||
    fail "--udp-deny-ports none: port $DENIED not answered: $DGRAM_LINE"
stop_server
expect_total dgram_denied 0

# 4. A range replaces the default list: a port in it is denied, 53 (or the one used) is not.
start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp 127.0.0.1:0 \
    --udp-deny-ports 40000-40010
pick_port "$UDP_HOST" "$UDP_PORT" 127.0.0.1 none $(seq 40000 40010)
log "denied source port $PICKED of 40000-40010"
sizes_from "$UDP_HOST" "$UDP_PORT" 127.0.0.1 "$DENIED" all ||
    fail "--udp-deny-ports 40000-40010: port $DENIED not answered: $DGRAM_LINE"
stop_server
expect_total dgram_denied "$NSIZES"
check_bytes

# 5. IPv6 sources.
if [[ $(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 1) == 0 ]] &&
    grep -qE '^0{31}1 .* lo$' /proc/net/if_inet6 2>/dev/null; then
    start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp '[::1]:0'
    pick_port "$UDP_HOST" "$UDP_PORT" ::1 none "${DENIED_CANDIDATES[@]}"
    sizes_from "$UDP_HOST" "$UDP_PORT" ::1 0 all ||
        fail "IPv6, a kernel-chosen port: not every size came back whole: $DGRAM_LINE"
    stop_server
    expect_total dgram_denied "$NSIZES"
    check_bytes
else
    log "::1 is not configured: the IPv6 part is not run"
fi
pass
