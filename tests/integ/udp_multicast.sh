#!/usr/bin/env bash
# udp_multicast.sh BACKEND: multicast groups served in a private network namespace. IPv4: group
# 239.1.2.3 joined on lo (routed via lo); IPv6: group ff05::1:3 joined on a veth interface
# created in the namespace (the kernel turns an IPv6 route via lo into a reject route, so lo
# cannot carry IPv6 multicast; the veth's own multicast loopback delivers the group traffic).
# 4 flows x 5000 datagrams are sent to each group and every unicast reply must come back exactly
# once (no loss, no duplicate: the server binds one socket per group), and the server must have
# read each datagram exactly once.
#
# The script re-runs itself under `unshare -n` (exec keeps its pid, so the harness's trap still
# kills by pid everything it starts) and refuses to touch any interface unless it runs in a
# network namespace other than the one it started in; the namespace and its interfaces vanish
# when the script exits. Skips (77) if a network namespace cannot be created.
set -euo pipefail

if [[ ${RS_UDP_NETNS:-} != inside ]]; then
    if ! unshare -n true 2>/dev/null; then
        echo "SKIP: udp_multicast${1:+ [$1]}: cannot create a network namespace" \
            "(unshare -n failed: needs root or unprivileged user namespaces)"
        exit 77
    fi
    host_ns=$(readlink /proc/self/ns/net)
    exec env RS_UDP_NETNS=inside RS_UDP_HOST_NETNS="$host_ns" \
        unshare -n -- bash "${BASH_SOURCE[0]}" "$@"
fi

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup

FLOWS=4
COUNT=5000
RATE=20000
GROUP4=239.1.2.3
GROUP6=ff05::1:3
GROUP6_LINK=ff02::1:3 # link-local scope: see mcast_try_link_local
IF6=rsmc0
STRICT_LINK_LOCAL=${STRICT_LINK_LOCAL:-1} # 1: a link-local group the server refuses fails

[[ $(readlink /proc/self/ns/net) != "${RS_UDP_HOST_NETNS:-}" ]] ||
    fail "not inside a private network namespace; refusing to change interfaces or routes"

# mcast_run GROUP IFACE CLIENT_HOST: serves GROUP (bracketed if IPv6) joined on IFACE, sends the
# flows to CLIENT_HOST and checks every reply came back once and the server read each datagram
# once.
mcast_run() {
    local group=$1 iface=$2 client_host=$3 rc=0 sent
    start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp "$group:0" --join-iface "$iface"
    [[ $SERVER_LINE == *"udp://$group:$UDP_PORT%$iface"* ]] ||
        fail "listening line does not show udp://$group:PORT%$iface: $SERVER_LINE"
    run_dgram 30 flows --flows "$FLOWS" --count "$COUNT" --rate "$RATE" --min-size 0 \
        --max-size 1400 --max-loss 0 --timeout 20 "$client_host" "$UDP_PORT" || rc=$?
    ((rc == 0)) || fail "flows to $group on $iface failed (status $rc): $DGRAM_LINE"
    sent=$(dgram_field sent)
    ((sent == FLOWS * COUNT)) || fail "client sent $sent datagrams, expected $((FLOWS * COUNT))"
    (($(dgram_field received) == sent)) || fail "not every datagram came back: $DGRAM_LINE"
    stop_server
    expect_total dgrams_in "$sent"
    expect_total dgrams_out "$sent"
    expect_total dgram_kernel_drops 0
    log "group $group on $iface: $sent datagrams, each read and answered once"
}

# mcast_try_link_local: a link-local group (ff02::/16) needs the interface as its bind scope.
# If the server refuses to start with one, that is reported (a failure with
# STRICT_LINK_LOCAL=1); if it starts, the group is tested like the others.
mcast_try_link_local() {
    local out="$TEST_TMP/linklocal.out" err="$TEST_TMP/linklocal.err" rc=0
    run_bounded 2 "$out" "$err" "$RINGSOCK" echo "${BACKEND_ARGS[@]}" --threads 2 \
        --tcp 127.0.0.1:0 --udp "[$GROUP6_LINK]:0" --join-iface "$IF6" || rc=$?
    if ((rc == 124)); then
        mcast_run "[$GROUP6_LINK]" "$IF6" "$GROUP6_LINK%$IF6"
        return
    fi
    local why
    why="server exited with status $rc: $(head -n 1 "$err")"
    ((STRICT_LINK_LOCAL)) && fail "--udp [$GROUP6_LINK]:0 --join-iface $IF6: $why"
    echo "WARN: $LIB_NAME [$BACKEND]: server refuses link-local group" \
        "--udp [$GROUP6_LINK]:0 --join-iface $IF6 ($why); not tested" >&2
}

ip link set lo up
ip link set lo multicast on
ip route add 239.0.0.0/8 dev lo
mcast_run "$GROUP4" lo "$GROUP4"

if [[ ! -d /proc/sys/net/ipv6 ]]; then
    log "IPv6 is not available here: IPv6 group not tested"
elif ! ip link add "$IF6" type veth peer name "${IF6}p" 2>"$TEST_TMP/veth.err"; then
    log "cannot create a veth interface ($(head -n 1 "$TEST_TMP/veth.err")):" \
        "IPv6 group not tested"
else
    ip link set "$IF6" multicast on
    ip link set "$IF6" up
    ip -6 addr add fd00:5eed::1/64 dev "$IF6" nodad
    mcast_run "[$GROUP6]" "$IF6" "$GROUP6"
    mcast_try_link_local
fi
pass
