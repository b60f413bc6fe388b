#!/bin/bash
# Runs one ringload load test from several generator hosts at once: picks a start instant,
# starts one shard per host over ssh (--shard I/N, one --start-at, one --run-id), collects the
# shards' JSON and merges it with `ringload merge`. See docs/ringload.md, "Sharded runs".
#
# Usage: tools/ringload-dist.sh --hosts gen0,gen1,gen2 [options] -- RINGLOAD_ARGS...
# RINGLOAD_ARGS are the whole run's (-c and -R are totals), without --shard, --start-at,
# --run-id or --json, which this script adds.
# Exit status: 0 every shard and the merge succeeded; 1 a shard or the merge failed (each
# shard's output is kept in the output directory); 2 bad usage.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: tools/ringload-dist.sh --hosts H1,H2,... [options] -- RINGLOAD_ARGS...
  --hosts LIST     generator hosts, comma-separated: shard I runs on the I-th
  --delay SECONDS  start sending this long after launch (default 10): time for ssh to reach
                   every host and for every shard to connect
  --out DIR        where s0.json .. and the merged all.json go (default ringload-RUNID/)
  --run-id ID      the run's id (default: the date and a random number)
  --ssh CMD        how to run a command on a host; the host, then the command are appended
                   (default: ssh -o BatchMode=yes). E.g. 'ip netns exec' for namespaces
  --ringload PATH  ringload on the hosts (default: ringload)
  --merge PATH     ringload here, for the merge (default: ringload)
  -h, --help
The hosts' clocks must agree (NTP/chrony); the merge reports the start skew it saw.
EOF
}

hosts=""
delay=10
out=""
run_id=""
ssh_cmd="ssh -o BatchMode=yes"
remote_ringload=ringload
merge_ringload=ringload
while (($# > 0)); do
    case $1 in
    --hosts) hosts=${2:?}; shift 2 ;;
    --delay) delay=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --run-id) run_id=${2:?}; shift 2 ;;
    --ssh) ssh_cmd=${2:?}; shift 2 ;;
    --ringload) remote_ringload=${2:?}; shift 2 ;;
    --merge) merge_ringload=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) echo "ringload-dist: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
(($# > 0)) || { echo "ringload-dist: no ringload arguments after -- (see --help)" >&2; exit 2; }
[[ -n $hosts ]] || { echo "ringload-dist: --hosts is required (see --help)" >&2; exit 2; }
[[ $delay =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "ringload-dist: bad --delay '$delay'" >&2; exit 2; }
for a in "$@"; do
    case $a in
    --shard* | --start-at* | --run-id* | --json*)
        echo "ringload-dist: $a is set by this script" >&2
        exit 2
        ;;
    esac
done
IFS=, read -r -a host_list <<<"$hosts"
n=${#host_list[@]}
[[ -n $run_id ]] || run_id=$(date -u +%Y%m%dT%H%M%SZ)-$RANDOM
out=${out:-ringload-$run_id}
mkdir -p "$out"
read -r -a ssh_words <<<"$ssh_cmd"

# One instant for every shard, --delay from now, in Unix seconds with milliseconds.
start=$(date +%s.%N | awk -v d="$delay" '{ printf "%.3f", $1 + d }')
echo "ringload-dist: run $run_id on $n hosts, sending starts at $start; results in $out/"

# The script each host runs (sh, read from stdin, so that ssh and exec-style runners alike
# pass it untouched): the JSON goes to a temporary file there, then to our stdout; the summary
# to our stderr; the exit status is ringload's.
quoted=$(printf ' %q' "$@")
pids=()
for ((i = 0; i < n; i++)); do
    script="f=\$(mktemp) || exit 1
$(printf '%q' "$remote_ringload") --no-progress$quoted --shard $i/$n --start-at $start \\
    --run-id $(printf '%q' "$run_id") --json \"\$f\" >&2
rc=\$?
cat \"\$f\"
rm -f \"\$f\"
exit \$rc"
    "${ssh_words[@]}" "${host_list[$i]}" sh -s >"$out/s$i.json" 2>"$out/s$i.out" <<<"$script" &
    pids+=($!)
done
failed=0
for ((i = 0; i < n; i++)); do
    rc=0
    wait "${pids[$i]}" || rc=$?
    if ((rc != 0)); then
        echo "ringload-dist: shard $i on ${host_list[$i]} failed (exit $rc): see $out/s$i.out" >&2
        tail -n 3 "$out/s$i.out" | sed 's/^/  /' >&2
        failed=1
    fi
done
files=()
for ((i = 0; i < n; i++)); do
    [[ -s $out/s$i.json ]] && files+=("$out/s$i.json")
done
if ((${#files[@]} == 0)); then
    echo "ringload-dist: no shard wrote its results" >&2
    exit 1
fi
"$merge_ringload" merge --json "$out/all.json" "${files[@]}" | tee "$out/all.out" || failed=1
exit "$failed"
