#!/usr/bin/env bash
# probes.sh BACKEND: the USDT probes. (a) Every probe documented in docs/tracing.md's probe table
# is in the ringsock binary (readelf -n), and every probe in the binary is documented. (b) With
# bpftrace attached to one server (root and uprobes needed, else exit 77): a known number of
# TCP connections (stream and one noread client, which forces backpressure) and UDP datagrams;
# the probes must agree exactly with the server's totals line: accepts and closes with
# conns_accepted/conns_closed, the close probe's byte arguments with bytes_in/bytes_out,
# loop_reap with loop_batches/loop_events, backpressure_on with backpressure, udp_recv/udp_send
# with dgrams_in/dgrams_out; loop_submit fires on io_uring only.
#
# Environment: RS_EXPECT_PROBES=1 (set by CMake when built with sys/sdt.h) makes a binary
# without probes a failure instead of a skip.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
dgram_setup

README="$(dirname "${BASH_SOURCE[0]}")/../../docs/tracing.md"
THREADS=2
CONNS=40

# ---- (a) the binary carries every documented probe --------------------------------------------
command -v readelf >/dev/null || skip "readelf (binutils) is not installed"
# shellcheck disable=SC2016  # backquotes: the Markdown table's, not a command
mapfile -t documented < <(sed -nE 's/^\| `([a-z_]+)` \|.*/\1/p' "$README")
((${#documented[@]} >= 9)) || fail "found ${#documented[@]} probes in docs/tracing.md's table"
mapfile -t present < <(readelf -n "$RINGSOCK" |
    awk '/Provider: ringsock/ { p = 1; next } p && /Name:/ { print $2; p = 0 }' | sort -u)
if ((${#present[@]} == 0)); then
    [[ ${RS_EXPECT_PROBES:-0} == 1 ]] && fail "no ringsock USDT probes in $RINGSOCK"
    skip "ringsock was built without USDT probes (no sys/sdt.h, or -DRS_PROBES=OFF)"
fi
# Membership without a pipe: under pipefail, `printf | grep -q` fails when grep exits at its
# match before printf has written everything (SIGPIPE), which a busy machine makes happen.
for p in "${documented[@]}"; do
    grep -qx "$p" <<<"$(printf '%s\n' "${present[@]}")" ||
        fail "documented probe '$p' is not in $RINGSOCK"
done
for p in "${present[@]}"; do
    grep -qx "$p" <<<"$(printf '%s\n' "${documented[@]}")" ||
        fail "probe '$p' is not in docs/tracing.md"
done
log "all ${#documented[@]} documented probes present: ${present[*]}"

# ---- (b) the probes fire, as often as the counters say ----------------------------------------
command -v bpftrace >/dev/null || skip "bpftrace is not installed (probes listed only)"
(($(id -u) == 0)) || skip "bpftrace needs root to attach uprobes (probes listed only)"
[[ -e /sys/bus/event_source/devices/uprobe || -e /sys/kernel/tracing/uprobe_events ]] ||
    skip "the kernel has no uprobes (CONFIG_UPROBE_EVENTS)"

start_udp_server echo "${BACKEND_ARGS[@]}" --threads "$THREADS" --udp 127.0.0.1:0 \
    --write-queue 64k --sndbuf 16k
bin=$(readlink -f "$RINGSOCK")
bt_script="$TEST_TMP/probes.bt"
cat >"$bt_script" <<EOF
BEGIN { printf("READY\n"); }
usdt:$bin:ringsock:accept { @accepts = count(); @accepts_w[arg0] = count(); }
usdt:$bin:ringsock:close { @closes = count(); @close_in = sum(arg3); @close_out = sum(arg4); }
usdt:$bin:ringsock:loop_reap /arg1 > 0/ { @reaps = count(); @reaped = sum(arg1); }
usdt:$bin:ringsock:loop_submit /arg1 > 0/ { @submits = count(); }
usdt:$bin:ringsock:backpressure_on { @bp_on = count(); }
usdt:$bin:ringsock:backpressure_off { @bp_off = count(); }
usdt:$bin:ringsock:udp_recv { @udp_in = sum(arg2); }
usdt:$bin:ringsock:udp_send { @udp_out = sum(arg2); }
EOF
bt_out="$TEST_TMP/bpftrace.out"
bt_err="$TEST_TMP/bpftrace.err"
# -p: only this server, not the ringsock processes of tests running in parallel.
bpftrace -p "$SERVER_PID" "$bt_script" >"$bt_out" 2>"$bt_err" &
bt_pid=$!
track_pid "$bt_pid"

bt_ready() {
    grep -q '^READY' "$bt_out" && return 0
    proc_alive "$bt_pid" && return 1
    # bpftrace gave up: the kernel or the sandbox does not let it attach.
    local why
    why=$(grep -v -e RLIMIT_MEMLOCK -e '^Attaching' "$bt_err" | head -n 3 | tr '\n' ' ')
    skip "bpftrace cannot attach here: ${why:-exited without a reason}"
}
wait_until 60 bt_ready || fail "bpftrace did not attach within 60 s"
log "bpftrace attached (pid $bt_pid)"

run_client stream --count "$CONNS" --bytes 64k --timeout 60 "$HOST" "$PORT" ||
    fail "stream check failed"

# One client that does not read: the server must pause reading from it (backpressure_on), and
# resume once it reads again (backpressure_off).
go="$TEST_TMP/go"
out="$TEST_TMP/noread.out"
client_start "$out" noread --bytes 8m --sndbuf 16k --rcvbuf 16k --stall 0.5 --go-file "$go" \
    --timeout 60 "$HOST" "$PORT"
have_stall_line() {
    grep -q '^noread: ' "$out"
}
wait_until 30 have_stall_line || fail "noread client printed no stall line within 30 s"
touch "$go"
rc=0
wait_pid "$CLIENT_PID" 60 || rc=$?
cat "$out"
((rc == 0)) || fail "noread client failed (status $rc)"

run_dgram 30 flows --flows 4 --count 1000 --rate 20000 --timeout 20 "$UDP_HOST" "$UDP_PORT" ||
    fail "datagram flows failed: $DGRAM_LINE"

stop_server
kill -INT "$bt_pid"
rc=0
wait_pid "$bt_pid" 30 || rc=$?
((rc == 0)) || fail "bpftrace exited with status $rc: $(head -n 5 "$bt_err")"
cat "$bt_out"

# bt_value NAME: a scalar map from bpftrace's output at exit, 0 if it never fired.
bt_value() {
    local v
    v=$(sed -nE "s/^@$1: ([0-9]+)$/\1/p" "$bt_out")
    echo "${v:-0}"
}
# expect_probe NAME VALUE WHAT: fails unless the map NAME equals VALUE.
expect_probe() {
    local got
    got=$(bt_value "$1")
    [[ $got == "$2" ]] || fail "probe map @$1=$got, expected $2 ($3)"
}

accepted=$(total_field conns_accepted)
((accepted == CONNS + 1)) || fail "conns_accepted=$accepted, expected $((CONNS + 1))"
expect_probe accepts "$accepted" "conns_accepted"
expect_probe closes "$(total_field conns_closed)" "conns_closed"
expect_probe close_in "$(total_field bytes_in)" "close probe's bytes_in summed vs bytes_in"
expect_probe close_out "$(total_field bytes_out)" "close probe's bytes_out summed vs bytes_out"
expect_probe reaps "$(total_field loop_batches)" "loop_batches"
expect_probe reaped "$(total_field loop_events)" "loop_events"
expect_probe bp_on "$(total_field backpressure)" "backpressure"
expect_probe udp_in "$(total_field dgrams_in)" "dgrams_in"
expect_probe udp_out "$(total_field dgrams_out)" "dgrams_out"
(($(bt_value reaps) > 0)) || fail "loop_reap never fired"
bp_on=$(bt_value bp_on) bp_off=$(bt_value bp_off)
((bp_on >= 1)) || fail "a client that does not read caused no backpressure_on"
((bp_off >= 1 && bp_off <= bp_on)) || fail "backpressure_off=$bp_off, on=$bp_on"
(($(bt_value udp_in) > 0)) || fail "udp_recv never fired"
if [[ $BACKEND == io_uring* ]]; then
    (($(bt_value submits) > 0)) || fail "loop_submit never fired on io_uring"
else
    expect_probe submits 0 "loop_submit is io_uring's"
fi
# Per worker: ids are 0..THREADS-1 and add up to every connection.
sum=0
while read -r w n; do
    ((w < THREADS)) || fail "accept probe from worker $w, only $THREADS run"
    sum=$((sum + n))
done < <(sed -nE 's/^@accepts_w\[([0-9]+)\]: ([0-9]+)$/\1 \2/p' "$bt_out")
((sum == accepted)) || fail "per-worker accepts add up to $sum, expected $accepted"
pass
