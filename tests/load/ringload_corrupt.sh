#!/usr/bin/env bash
# ringload_corrupt.sh BACKEND: a server that flips one byte at stream offset 100000 of its
# first connection is caught: ringload exits non-zero and names the connection and offset.
source "$(dirname "${BASH_SOURCE[0]}")/load_lib.sh"
BACKEND=${1:-io_uring}
OFFSET=100000

start_stallecho --corrupt-at "$OFFSET"
ringload_run corrupt --backend "$BACKEND" "tcp://127.0.0.1:$STALL_PORT" -c 1 -d 1s -s 1000 \
    --json "$TEST_TMP/c.json"
((LOAD_RC != 0)) || fail "ringload exited 0 although a byte was corrupted"
grep -q "verify: connection 0, stream offset $OFFSET " "$TEST_TMP/corrupt.err" ||
    fail "no report naming connection 0, offset $OFFSET: $(cat "$TEST_TMP/corrupt.err")"
(($(jnum "$TEST_TMP/c.json" .errors.verify) == 1)) || fail "want exactly 1 verify error"
stop_stallecho
pass
