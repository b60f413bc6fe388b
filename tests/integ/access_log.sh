#!/usr/bin/env bash
# access_log.sh BACKEND: --access-log. (1) Echo connections ending with the client's FIN, the
# client's RST and the idle timeout, three HTTP ones (closed by the client, by the server after
# 'Connection: close', and after a 413 for a body over --max-body), one that stops reading (send
# timeout) and three still open at SIGTERM: after the stop the file holds exactly one valid JSON
# line (jq) per connection, with its client, bytes each way, reason and error, the listener's
# address and service. (2) logrotate: the file is moved, SIGUSR1, more connections: the new lines
# are in the new file, the earlier ones in the moved one, none lost or doubled. (3) '--access-log
# -' writes the lines to stdout. (4) A connection refused by --max-conns-per-ip has a line (reason
# limit). (5) A flood of short connections into a 1 KiB buffer (RINGSOCK_TEST_ACCESS_LOG_RING):
# lines are dropped and counted, lines written + dropped = connections, and the server still
# echoes.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
command -v python3 >/dev/null || skip "python3 is not installed"
command -v jq >/dev/null || skip "jq is not installed"
CLIENT=(python3 "$(dirname "${BASH_SOURCE[0]}")/accesslogclient.py")

# client NAME ARGS...: runs the client (bounded), failing with its output if it fails.
client() {
    local name=$1 rc=0
    shift
    run_bounded 30 "$TEST_TMP/$name.out" "$TEST_TMP/$name.err" "${CLIENT[@]}" "$@" || rc=$?
    cat "$TEST_TMP/$name.out" "$TEST_TMP/$name.err"
    ((rc == 0)) || fail "accesslogclient $1 failed ($rc)"
}

# lines FILE: the number of lines in FILE (0 if it does not exist).
lines() {
    if [[ -e $1 ]]; then wc -l <"$1"; else echo 0; fi
}

# has_lines FILE N: FILE has N lines or more.
has_lines() {
    (($(lines "$1") >= $2))
}

# fields FILE OUT: every line of FILE must be a JSON object with the fields and formats the
# access log promises; writes client, bytes_in, bytes_out, reason, error, service, proto (TSV).
fields() {
    local file=$1 out=$2 bad
    jq -R -r 'fromjson | [.client, (.bytes_in|tostring), (.bytes_out|tostring), .reason,
        .error, .service, .proto] | @tsv' "$file" >"$out" ||
        fail "$file: a line is not valid JSON: $(head -c 2000 "$file")"
    bad=$(jq -R -c 'fromjson
        | select((.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$") | not)
        or (.duration | type != "number") or .duration < 0 or .upstream != ""
        or .listener_name != "" or (.listener | test("^127\\.0\\.0\\.1:[0-9]+$") | not)
        or (.client | test("^127\\.0\\.0\\.1:[0-9]+$") | not)
        or (.reason == "idle_timeout" and .duration < 0.9))' "$file")
    [[ -z $bad ]] || fail "$file: lines with a bad field: $bad"
}

# threads_block_signals: every thread but the main one (the workers, the logging thread)
# blocks SIGINT, SIGTERM and SIGUSR1, so those reach the main thread's sigtimedwait; one that
# did not would be killed by SIGTERM (its default action) instead of draining.
threads_block_signals() {
    local task comm blk want=$(((1 << (2 - 1)) | (1 << (15 - 1)) | (1 << (10 - 1)))) n=0
    for task in /proc/"$SERVER_PID"/task/*; do
        [[ ${task##*/} == "$SERVER_PID" ]] && continue
        comm=$(cat "$task/comm")
        blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "$task/status")
        ((((16#$blk) & want) == want)) ||
            fail "thread $comm does not block SIGINT/SIGTERM/SIGUSR1 (SigBlk $blk)"
        n=$((n + 1))
    done
    ((n >= 3)) || fail "$n threads besides the main one, want 2 workers and the logging thread"
}

# (1) Known connections, every way of ending.
LOG="$TEST_TMP/access.log"
EXPECT="$TEST_TMP/expect"
: >"$EXPECT"
start_server echo "${BACKEND_ARGS[@]}" --threads 2 --idle-timeout 1s --tcp 127.0.0.1:0 \
    --http 127.0.0.1:0 --access-log "$LOG"
[[ -e $LOG ]] || fail "$LOG not created"
threads_block_signals
[[ $(stat -c %a "$LOG") == 640 ]] || fail "$LOG has mode $(stat -c %a "$LOG"), want 640"
[[ $SERVER_LINE =~ http://127\.0\.0\.1:([0-9]+) ]] || fail "no http:// address in: $SERVER_LINE"
HTTP_PORT=${BASH_REMATCH[1]}
client conns conns "$HOST" "$PORT" 12 "$EXPECT"
client http http 127.0.0.1 "$HTTP_PORT" "$EXPECT"
client noread noread "$HOST" "$PORT" "$EXPECT"
client stopping stopping "$HOST" "$PORT" "$SERVER_PID" 3 "$EXPECT"
rc=0
wait_pid "$SERVER_PID" 10 || rc=$?
SERVER_PID=""
((rc == 0)) || fail "server exited with status $rc after SIGTERM"
TOTALS=$(grep -m 1 '^ringsock: totals ' "$SERVER_OUT") || fail "no totals line"
log "$TOTALS"
n=$(lines "$LOG")
((n == 19)) || fail "$n lines in the access log, want 19: $(cat "$LOG")"
fields "$LOG" "$TEST_TMP/fields"
client check check "$TEST_TMP/fields" "$EXPECT"
(($(total_field access_log_lines) == 19)) || fail "access_log_lines is not 19"
(($(total_field access_log_dropped) == 0)) || fail "access_log_dropped is not 0"
# The HTTP lines name the HTTP listener, the echo ones the echo listener.
want="127.0.0.1:$HTTP_PORT http"
got=$(jq -R -r 'fromjson | select(.service == "http") | "\(.listener) \(.service)"' "$LOG" |
    sort -u)
[[ $got == "$want" ]] || fail "http lines name '$got', want '$want'"
log "(1) 19 connections, 19 lines, each as expected"

# (2) logrotate: mv, SIGUSR1, more connections.
LOG="$TEST_TMP/rotate.log"
start_server echo "${BACKEND_ARGS[@]}" --threads 2 --access-log "$LOG"
client flood1 flood "$HOST" "$PORT" 50
wait_until 5 has_lines "$LOG" 50 || fail "$(lines "$LOG") lines of 50 written in 5 s"
mv "$LOG" "$LOG.1"
kill -USR1 "$SERVER_PID"
wait_until 5 test -e "$LOG" || fail "SIGUSR1 did not reopen $LOG"
client flood2 flood "$HOST" "$PORT" 50
stop_server
n1=$(lines "$LOG.1") n2=$(lines "$LOG")
((n1 == 50 && n2 == 50)) ||
    fail "$n1 lines in the moved file and $n2 in the new one, want 50 and 50"
fields "$LOG.1" "$TEST_TMP/f1"
fields "$LOG" "$TEST_TMP/f2"
clients=$(cut -f 1 "$TEST_TMP/f1" "$TEST_TMP/f2" | sort -u | wc -l)
((clients == 100)) || fail "$clients distinct clients in 100 lines"
(($(total_field access_log_lines) == 100)) || fail "access_log_lines is not 100"
log "(2) rotation: 50 lines in the moved file, 50 in the new one, 100 clients"

# (3) --access-log - : the lines on stdout.
EXPECT="$TEST_TMP/expect3"
: >"$EXPECT"
start_server echo "${BACKEND_ARGS[@]}" --threads 1 --idle-timeout 1s --access-log -
client conns3 conns "$HOST" "$PORT" 6 "$EXPECT"
stop_server
grep '^{' "$SERVER_OUT" >"$TEST_TMP/stdout.log" || true
n=$(lines "$TEST_TMP/stdout.log")
((n == 6)) || fail "$n lines on stdout, want 6: $(cat "$SERVER_OUT")"
fields "$TEST_TMP/stdout.log" "$TEST_TMP/f3"
client check3 check "$TEST_TMP/f3" "$EXPECT"
log "(3) stdout: 6 lines as expected"

# (4) A connection refused by --max-conns-per-ip: a line with reason limit.
EXPECT="$TEST_TMP/expect5"
: >"$EXPECT"
LOG="$TEST_TMP/limit.log"
start_server echo "${BACKEND_ARGS[@]}" --threads 1 --max-conns-per-ip 1 --access-log "$LOG"
client limit limit "$HOST" "$PORT" "$EXPECT"
stop_server
(($(total_field conns_refused_per_ip) == 1)) || fail "conns_refused_per_ip is not 1"
n=$(lines "$LOG")
((n == 2)) || fail "$n lines, want 2: $(cat "$LOG")"
fields "$LOG" "$TEST_TMP/f5"
client check5 check "$TEST_TMP/f5" "$EXPECT"
log "(4) --max-conns-per-ip: the refused connection's line says limit"

# (5) A flood into a tiny buffer: dropped lines are counted, never waited for.
LOG="$TEST_TMP/flood.log"
export RINGSOCK_TEST_ACCESS_LOG_RING=1024
start_server echo "${BACKEND_ARGS[@]}" --threads 1 --access-log "$LOG"
unset RINGSOCK_TEST_ACCESS_LOG_RING
client flood4 flood "$HOST" "$PORT" 3000
EXPECT="$TEST_TMP/expect4"
: >"$EXPECT"
client conns4 conns "$HOST" "$PORT" 1 "$EXPECT" # still serving, byte for byte
stop_server
written=$(lines "$LOG")
buffered=$(total_field access_log_lines)
dropped=$(total_field access_log_dropped)
accepted=$(total_field conns_accepted)
fields "$LOG" "$TEST_TMP/f4"
((accepted == 3001)) || fail "conns_accepted=$accepted, want 3001"
((written == buffered)) || fail "$written lines written, access_log_lines=$buffered"
((written + dropped == accepted)) ||
    fail "$written lines written + $dropped dropped != $accepted connections"
((dropped > 0)) || fail "nothing dropped with a 1 KiB buffer"
log "(5) flood: $accepted connections, $written lines written, $dropped dropped"

# A file that cannot be opened: one clear line, exit 1, before listening.
rc=0
run_bounded 5 "$TEST_TMP/bad.out" "$TEST_TMP/bad.err" "$RINGSOCK" echo --tcp 127.0.0.1:0 \
    --access-log "$TEST_TMP/no/such/dir/access.log" || rc=$?
((rc == 1)) || fail "an unopenable --access-log exited $rc, want 1"
grep -q "cannot open --access-log .*No such file or directory" "$TEST_TMP/bad.err" ||
    fail "no clear error: $(cat "$TEST_TMP/bad.err")"
pass
