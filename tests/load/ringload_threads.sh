#!/usr/bin/env bash
# ringload_threads.sh: a thread that cannot be started is reported with the error
# pthread_create returned (it does not set errno), and the run ends with status 1 and frees what
# it allocated (AddressSanitizer's leak check in the sanitizer build), whether no thread started
# or some did (those run their course; --idle ones do not wait for the missing ones).
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"

# run_as NAME PREFIX... :: ARGS...: runs PREFIX $RINGLOAD --no-progress --backend epoll ARGS
# (bounded), output in $TEST_TMP/NAME.{out,err}; sets LOAD_RC.
run_as() {
    local name=$1 prefix=()
    shift
    while [[ $1 != :: ]]; do
        prefix+=("$1")
        shift
    done
    shift
    LOAD_RC=0
    log "${prefix[*]} ringload $*"
    run_bounded 60 "$TEST_TMP/$name.out" "$TEST_TMP/$name.err" "${prefix[@]}" "$RINGLOAD" \
        --no-progress --backend epoll "$@" || LOAD_RC=$?
    cat "$TEST_TMP/$name.err"
}

# expect_thread_failure NAME PATTERN: ringload (run NAME) exited 1 after saying PATTERN on
# stderr, with no sanitizer report.
expect_thread_failure() {
    local name=$1 pat=$2
    ((LOAD_RC == 1)) || fail "$name: exit $LOAD_RC, want 1: $(cat "$TEST_TMP/$name.err")"
    grep -qE -- "$pat" "$TEST_TMP/$name.err" ||
        fail "$name: '$(cat "$TEST_TMP/$name.err")' does not match '$pat'"
    if grep -qE 'ERROR: AddressSanitizer|detected memory leaks|runtime error' "$TEST_TMP/$name.err"; then
        fail "$name: sanitizer report: $(cat "$TEST_TMP/$name.err")"
    fi
}

start_server echo

# No thread starts: a stack limit of 16 TiB makes every thread stack too large to map (with the
# kernel's default overcommit heuristic). glibc's pthread_create then returns EAGAIN while errno
# holds mmap's ENOMEM: the report must name the former.
run_as stack prlimit --stack=$((1 << 44)) -- :: -c 1 -d 200ms "tcp://127.0.0.1:$PORT"
if ((LOAD_RC == 0)); then
    log "a 16 TiB thread stack was mapped here (vm.overcommit_memory=$(cat /proc/sys/vm/overcommit_memory)): stack case not run"
else
    expect_thread_failure stack "^ringload: cannot start thread 0 of 1: Resource temporarily unavailable$"
fi

# Some threads start, the next does not: RLIMIT_NPROC (ignored for root, so as nobody, who then
# runs nothing else) lets the main thread and one more exist. The started thread finishes its
# run; with --idle it must not wait for the thread that never came.
if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null && ! pgrep -u 65534 >/dev/null; then
    nproc_run() {
        local name=$1
        shift
        run_as "$name" setpriv --reuid=65534 --regid=65534 --clear-groups prlimit --nproc=2 \
            -- :: -t 2 -c 2 "$@" "tcp://127.0.0.1:$PORT"
    }
    nproc_run nproc -d 300ms
    expect_thread_failure nproc "^ringload: cannot start thread 1 of 2: Resource temporarily unavailable$"
    nproc_run nproc_idle --idle -d 300ms
    expect_thread_failure nproc_idle "^ringload: cannot start thread 1 of 2: Resource temporarily unavailable$"
else
    log "not root, no setpriv, or uid 65534 runs something: RLIMIT_NPROC case not run"
fi
stop_server
pass
