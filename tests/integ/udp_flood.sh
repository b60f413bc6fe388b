#!/usr/bin/env bash
# udp_flood.sh BACKEND: 4 sockets blast 64..1400-byte datagrams as fast as one client thread can
# send them for 3 s while a probe socket sends one checked datagram every 10 ms. The server must
# stay responsive (at least half the probes answered), its RSS must grow by less than
# RSS_BOUND_MIB, the totals must show the overload as counted drops (dgram_kernel_drops +
# dgram_dropped > 0), and it must exit 0 on SIGTERM.
#
# Load: one sender thread offers about 1 to 1.5 times what a worker echoes; the server's
# --udp-rcvbuf is cut to 256k so that any excess overflows the socket within milliseconds and
# is counted. More sender threads would not test more: the probe shares a full receive queue
# with the flood on its worker, the kernel then admits it only when the server has just made
# room, and at twice the capacity about half the probes are dropped before the server sees them.
#
# RSS bound: each worker's UDP socket owns one reply ring of (--udp-queue 256 + --udp-batch 32)
# slots of --udp-buf 64 KiB = 18 MiB, allocated at start-up but resident only once touched;
# with --threads 2 that is 36 MiB if every byte of every slot were written (it cannot be here:
# the datagrams are at most 1400 bytes, so about one page per slot is touched, ~2.3 MiB in all).
# 64 MiB leaves room for allocator and sanitizer overhead while still catching a per-datagram
# leak (the flood pushes millions of datagrams, so even 16 bytes each would exceed it).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup

SOCKETS=4
SECONDS_FLOOD=3
MIN_PROBE_RATIO=0.5
RSS_BOUND_MIB=64

start_udp_server echo "${BACKEND_ARGS[@]}" --threads 2 --udp 127.0.0.1:0 --udp-rcvbuf 256k
rss_before=$(server_rss_kb)

out="$TEST_TMP/flood.out"
err="$TEST_TMP/flood.err"
log "dgramcheck flood --sockets $SOCKETS --seconds $SECONDS_FLOOD (probe every 10 ms)"
"$DGRAMCHECK" flood --sockets "$SOCKETS" --seconds "$SECONDS_FLOOD" --min-size 64 \
    --max-size 1400 --probe-interval 0.01 --min-probe-ratio "$MIN_PROBE_RATIO" --drain 1 \
    "$UDP_HOST" "$UDP_PORT" >"$out" 2>"$err" &
flood_pid=$!
track_pid "$flood_pid"
# Sample the server's RSS every 100 ms while the flood runs (bounded: 60 samples); keep the peak.
rss_peak=$rss_before
for ((i = 0; i < 60; i++)); do
    proc_alive "$flood_pid" || break
    proc_alive "$SERVER_PID" || fail "the server died during the flood"
    rss=$(server_rss_kb)
    ((rss > rss_peak)) && rss_peak=$rss
    sleep 0.1
done
rc=0
wait_pid "$flood_pid" 30 || rc=$?
cat "$out"
cat "$err" >&2
DGRAM_LINE=$(tail -n 1 "$out")
((rc == 0)) || fail "flood check failed (status $rc): $DGRAM_LINE"
rss_end=$(server_rss_kb)
((rss_end > rss_peak)) && rss_peak=$rss_end
growth=$((rss_peak - rss_before))
log "probes answered $(dgram_field answered) of $(dgram_field probes)" \
    "(ratio $(dgram_field ratio)), worst round trip $(dgram_field max_rtt_ms) ms;" \
    "flood sent $(dgram_field sent), echoed $(dgram_field echoed)"
log "server RSS ${rss_before} KiB before, peak ${rss_peak} KiB: grew ${growth} KiB" \
    "(bound $((RSS_BOUND_MIB * 1024)) KiB)"
((growth < RSS_BOUND_MIB * 1024)) ||
    fail "server RSS grew by $growth KiB during the flood (bound $RSS_BOUND_MIB MiB)"

stop_server
kdrops=$(total_field dgram_kernel_drops)
dropped=$(total_field dgram_dropped)
log "drops counted: dgram_kernel_drops=$kdrops dgram_dropped=$dropped"
((kdrops + dropped > 0)) || fail "the flood caused no counted drops (server kept up?)"
udp_check_totals "$(($(dgram_field sent) + $(dgram_field probes)))" \
    "$(($(dgram_field echoed) + $(dgram_field answered)))"
pass
