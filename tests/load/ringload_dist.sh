#!/usr/bin/env bash
# ringload_dist.sh: tools/ringload-dist.sh, with a stand-in for ssh that runs each host's
# command here (the hosts are names only): three shards against one echo server, their JSON
# collected and merged (every shard, one run id, the sum of their messages, exit 0); a host
# that cannot be reached makes it exit 1 naming the shard, the others still merged; bad usage
# exits 2.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

DIST=$(dirname "${BASH_SOURCE[0]}")/../../tools/ringload-dist.sh
# fakessh HOST CMD...: runs CMD here; host "down" cannot be reached (as ssh: exit 255).
cat >"$TEST_TMP/fakessh" <<'EOS'
#!/bin/sh
host=$1
shift
[ "$host" = down ] && { echo "ssh: connect to host down: No route to host" >&2; exit 255; }
exec "$@"
EOS
chmod +x "$TEST_TMP/fakessh"

start_server echo
url="tcp://127.0.0.1:$PORT"
rc=0
run_bounded 60 "$TEST_TMP/dist.out" "$TEST_TMP/dist.err" bash "$DIST" --hosts a,b,c --delay 2 \
    --out "$TEST_TMP/run" --run-id d1 --ssh "$TEST_TMP/fakessh" --ringload "$RINGLOAD" \
    --merge "$RINGLOAD" -- -c 6 -R 600 -d 1s "$url" || rc=$?
cat "$TEST_TMP/dist.out" "$TEST_TMP/dist.err"
((rc == 0)) || fail "ringload-dist.sh exited $rc"
m=$TEST_TMP/run/all.json
jq -e '.merge.shards == [0, 1, 2] and .run_id == "d1" and .connections == 6' "$m" >/dev/null ||
    fail "merged: $(jq -c '[.merge, .run_id, .connections]' "$m")"
sum=$(jq -s 'map(.messages) | add' "$TEST_TMP"/run/s{0,1,2}.json)
[[ $(jq .messages "$m") == "$sum" ]] || fail "merged messages $(jq .messages "$m") != $sum"
grep -q "Shard 1/3 of run d1" "$TEST_TMP/run/s1.out" || fail "shard 1's summary not kept"

# One host down: exit 1 naming it; the others are merged.
rc=0
run_bounded 60 "$TEST_TMP/down.out" "$TEST_TMP/down.err" bash "$DIST" --hosts a,down --delay 2 \
    --out "$TEST_TMP/run2" --ssh "$TEST_TMP/fakessh" --ringload "$RINGLOAD" --merge "$RINGLOAD" \
    -- -c 2 -d 500ms "$url" || rc=$?
((rc == 1)) && grep -q "shard 1 on down failed (exit 255)" "$TEST_TMP/down.err" ||
    fail "host down: exit $rc $(cat "$TEST_TMP/down.err")"
jq -e '.merge == null and .runs == 1' "$TEST_TMP/run2/all.json" >/dev/null ||
    fail "host down: the other shard was not merged"

# Bad usage: exit 2.
for args in "--hosts a" "--hosts a -- --shard 0/2 $url" "--bogus -- $url" "-- $url"; do
    rc=0
    # shellcheck disable=SC2086  # the words are the arguments
    bash "$DIST" $args >/dev/null 2>&1 || rc=$?
    ((rc == 2)) || fail "ringload-dist.sh $args: exit $rc, want 2"
done
bash "$DIST" --help | grep -q '^usage: tools/ringload-dist.sh' || fail "--help"
stop_server
pass
