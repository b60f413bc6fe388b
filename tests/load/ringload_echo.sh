#!/usr/bin/env bash
# ringload_echo.sh BACKEND: ringload against ringsock echo over TCP and UDP, generator and
# server on the same backend: every echoed byte verified with 0 errors; UDP accounts for every
# datagram (0 corrupt, 0 duplicated, 0 lost on loopback at closed loop); constant rate holds.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"
backend_setup "${1:-}"
LB=(--backend "${BACKEND%-oneshot}")

start_server echo "${BACKEND_ARGS[@]}" --udp 127.0.0.1:0
UPORT=$(grep -oE 'udp://127\.0\.0\.1:[0-9]+' <<<"$SERVER_LINE" | sed 's/.*://')

ringload_run tcp "${LB[@]}" "tcp://127.0.0.1:$PORT" -c 20 -t 2 -d 2s --depth 4 -s 1000 \
    --json "$TEST_TMP/tcp.json"
((LOAD_RC == 0)) || fail "ringload tcp exited $LOAD_RC"
j=$TEST_TMP/tcp.json
(($(jnum "$j" .errors.verify) == 0)) || fail "verify errors over TCP"
(($(jnum "$j" '.errors.connect + .errors.read + .errors.write + .errors.timeout') == 0)) ||
    fail "TCP errors: $(jq -c .errors "$j")"
msgs=$(jnum "$j" .messages)
((msgs > 1000)) || fail "only $msgs TCP messages in 2 s"
(($(jnum "$j" .histogram.total) == msgs)) || fail "histogram total differs from messages"
# The percentile spectrum for plots: starts at p0 = min, rises, ends at p100 = max, and agrees
# with the fixed percentiles.
jq -e '.percentile_curve as $c | ($c | length) > 20 and $c[0][0] == 0 and $c[-1][0] == 100
    and ([range(1; $c | length) | $c[.][0] > $c[. - 1][0] and $c[.][1] >= $c[. - 1][1]] | all)
    and ($c[-1][1] == .latency.max_us)
    and ([$c[] | select(.[0] == 50)][0][1] == .latency.percentiles_us["50"])' "$j" >/dev/null ||
    fail "percentile_curve malformed: $(jq -c '.percentile_curve[0:3], .percentile_curve[-2:]' "$j")"

ringload_run udp "${LB[@]}" "udp://127.0.0.1:$UPORT" -c 8 -d 2s --depth 8 -s 512 \
    --json "$TEST_TMP/udp.json"
((LOAD_RC == 0)) || fail "ringload udp exited $LOAD_RC"
j=$TEST_TMP/udp.json
(($(jnum "$j" '.udp.corrupt + .udp.duplicated') == 0)) || fail "UDP: $(jq -c .udp "$j")"
(($(jnum "$j" .udp.lost) == 0)) || fail "UDP datagrams lost on loopback: $(jq -c .udp "$j")"
(($(jnum "$j" '.udp.sent - .udp.received') == 0)) || fail "UDP: $(jq -c .udp "$j")"
(($(jnum "$j" .messages) > 1000)) || fail "too few UDP messages"

# Constant rate: 2000/s for 2 s is kept within 5%, latency measured from intended times.
ringload_run rate "${LB[@]}" "tcp://127.0.0.1:$PORT" -c 10 -d 2s -R 2000 \
    --json "$TEST_TMP/rate.json"
((LOAD_RC == 0)) || fail "ringload -R exited $LOAD_RC"
rate=$(jnum "$TEST_TMP/rate.json" '.msgs_per_sec | floor')
((rate >= 1900 && rate <= 2100)) || fail "asked for 2000/s, measured $rate/s"

stop_server
(($(total_field dgrams_in) == $(total_field dgrams_out))) || fail "server dgrams in != out"
pass
