#!/usr/bin/env bash
# relay_slowup.sh BACKEND: the other direction of relay_noread: a client sends 50 MiB and FIN
# to an upstream that reads nothing for 3 s. The relay must stop reading the client while the
# upstream's queue is full (RSS bounded, pauses counted), then deliver all 50 MiB in order,
# and the FIN after them.
# shellcheck source=relay_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/relay_lib.sh"
backend_setup "${1:-}"

RSS_GROWTH_MAX_KB=$((32 * 1024))
BYTES=$((50 * MIB))

peer_start slowsink 3
sink_out=$PEER_OUT
start_server relay --threads 1 --upstream "127.0.0.1:$PEER_PORT" "${BACKEND_ARGS[@]}"
sleep 0.2
base_rss=$(server_rss_kb)
out="$TEST_TMP/send.out"
python3 "$RELAYPEER" client send "$HOST" "$PORT" "$BYTES" >"$out" 2>&1 &
client=$!
track_pid "$client"
sleep 2
rss=$(server_rss_kb)
growth=$((rss - base_rss))
log "relay RSS while the upstream does not read: ${base_rss} -> ${rss} KiB (+${growth} KiB)"
rc=0
wait_pid "$client" 120 || rc=$?
cat "$out"
((rc == 0)) || fail "client failed (status $rc)"
have_recv() {
    grep -q '^recv ' "$sink_out"
}
wait_until 10 have_recv || fail "the upstream never saw the end of the stream"
line=$(grep -m 1 '^recv ' "$sink_out")
[[ $line == "recv $BYTES ok" ]] || fail "upstream: $line, expected recv $BYTES ok"
((growth < RSS_GROWTH_MAX_KB)) ||
    fail "relay RSS grew by $growth KiB while the upstream did not read, bound $RSS_GROWTH_MAX_KB"
stop_server
expect_total relay_bytes_c2u "$BYTES"
expect_total relay_half_closes_c2u 1
(($(total_field relay_pauses_c2u) >= 1)) || fail "no pause of the client was counted"
pass
