#!/usr/bin/env bash
# tiny.sh BACKEND: a 4 x 512 B provided-buffer ring (forces ENOBUFS on io_uring), a 4 KiB
# SO_SNDBUF on the server (forces short sends) and on the clients (forces partial writes);
# 50 x 1 MiB byte-exact.
#
# The clients' SO_RCVBUF is 64 KiB, not 4 KiB: with a 4 KiB receive buffer under loopback's
# 64 KiB MSS, Linux TCP itself sometimes collapses the advertised window below the sender's
# silly-window threshold and the echo crawls at one ~2 KB persist probe per 200 ms (seen with
# both backends, 1 run in 15: 1 MiB would then take minutes). 64 KiB never did in 60 runs.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
backend_setup "${1:-}"

CONNS=50
BYTES=$MIB

start_server echo "${BACKEND_ARGS[@]}" --buf-count 4 --buf-size 512 --sndbuf 4096
run_client stream --count "$CONNS" --bytes "$BYTES" --sndbuf 4096 --rcvbuf 64K --timeout 60 \
    "$HOST" "$PORT" || fail "stream check with tiny buffers failed"
stop_server
expect_total bytes_in $((CONNS * BYTES))
expect_total bytes_out $((CONNS * BYTES))
expect_total conns_accepted "$CONNS"
if [[ $BACKEND == io_uring ]]; then
    enobufs=$(total_field enobufs)
    ((enobufs > 0)) || fail "a 4-buffer ring under 50 connections never ran out (enobufs=0)"
fi
pass
