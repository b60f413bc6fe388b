#!/usr/bin/env bash
# reload_config.sh BACKEND: a reload re-reads the config file. An http listener from a file
# answers its body; the file is broken and SIGHUP sent: "reload failed: FILE:LINE: ..." names
# the line, and the old process serves on, unchanged; the file is mended with another body and
# SIGHUP sent: the new process (named by the pid file) answers the new body on the same port
# (a listener's port 0 keeps the port the running process has). The admin endpoint of each
# process counts the reloads over the service's life: 1 failed, then 1 done and 1 failed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"
command -v curl >/dev/null || fail "curl is needed (tools/install-deps.sh installs it)"

CONF=$TEST_TMP/ringsock.conf
PIDFILE=$TEST_TMP/ringsock.pid
backend=${BACKEND_ARGS[1]:-auto}

# write_conf BODY [EXTRA_GLOBAL_LINE]
write_conf() {
    cat >"$CONF" <<CONF
[global]
threads = 2
backend = $backend
pid-file = $PIDFILE
drain-timeout = 5s
${2:-}
admin = 127.0.0.1:0

[listener e]
service = echo
tcp = 127.0.0.1:0

[listener web]
service = http
tcp = 127.0.0.1:0
body = $1
CONF
}

# metric NAME: its value in the last admin endpoint's /metrics (the newest process's).
metric() {
    local url
    url=$(grep -oE 'admin on http://127\.0\.0\.1:[0-9]+' "$SERVER_OUT" | tail -n 1 | sed 's/admin on //')
    curl -s --max-time 3 "$url/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# body_is WANT: a new connection gets WANT as the body of GET /.
body_is() {
    local got
    got=$(curl -s --max-time 3 "http://127.0.0.1:$HPORT/") || return 1
    [[ $got == "$1" ]]
}

write_conf first
start_server --config "$CONF"
HPORT=$(grep -oE 'http listening on http://127\.0\.0\.1:[0-9]+' "$SERVER_OUT" | head -n 1 | sed 's/.*://')
[[ -n $HPORT ]] || fail "no http listener in: $(cat "$SERVER_OUT")"

old=$SERVER_PID
body_is first || fail "the listener does not answer its body"

# A broken file: the new process refuses it, naming the line; the old one serves on.
write_conf second "stats = soon"
kill -HUP "$old"
wait_until 15 grep -q 'reload failed' "$SERVER_ERR" || fail "no 'reload failed' logged"
log "$(grep 'reload failed' "$SERVER_ERR" | tail -n 1)"
grep -qE "reload failed: .*ringsock\.conf:6: invalid value for stats" "$SERVER_ERR" ||
    fail "the reason does not name the file and line: $(grep 'reload failed' "$SERVER_ERR")"
[[ $(cat "$PIDFILE") == "$old" ]] || fail "a failed reload changed the pid file"
body_is first || fail "the old process stopped serving after a failed reload"
[[ $(metric ringsock_reload_failures_total) == 1 ]] ||
    fail "reload failures: $(metric ringsock_reload_failures_total), want 1"
[[ $(metric ringsock_reloads_total) == 0 ]] || fail "reloads: $(metric ringsock_reloads_total)"

# The mended file: the new process answers the new body on the same port.
write_conf second
kill -HUP "$old"
wait_until 15 grep -q 'reload: new process [0-9]* serves' "$SERVER_ERR" ||
    fail "the reload did not complete: $(tail -n 3 "$SERVER_ERR")"
new=$(cat "$PIDFILE")
[[ $new != "$old" ]] || fail "the pid file does not name a new process"
track_pid "$new"
body_is second || fail "the new process does not answer the new body"
wait_until 5 bash -c "[[ \$(grep -c 'admin on' '$SERVER_OUT') == 2 ]]" ||
    fail "the new process printed no admin address"
[[ $(metric ringsock_reloads_total) == 1 && $(metric ringsock_reload_failures_total) == 1 ]] ||
    fail "the new process counts $(metric ringsock_reloads_total) reloads and $(metric ringsock_reload_failures_total) failures, want 1 and 1"
# The old process drained (nothing open) and exited with its totals.
wait_until 10 bash -c "! kill -0 $old 2>/dev/null" || fail "the old process did not exit"
wait "$old" || fail "the old process exited with status $?"
SERVER_PID=""
grep -q '^ringsock: totals ' "$SERVER_OUT" || fail "the old process printed no totals"
kill -TERM "$new"
wait_until 10 bash -c "! kill -0 $new 2>/dev/null" || fail "the new process did not stop"
pass
