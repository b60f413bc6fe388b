#!/usr/bin/env bash
# relay_proxy.sh BACKEND: the PROXY protocol. --send-proxy v1 and v2: the upstream's first bytes
# are exactly the header for this client's address and port and the relay's listener, then the
# stream. --accept-proxy with --send-proxy v1: the client's own header's addresses are passed
# on; an invalid header (an HTTP request) closes the client, counted; a client that sends
# nothing is closed after --proxy-timeout, counted.
# shellcheck source=relay_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/relay_lib.sh"
backend_setup "${1:-}"

peer_start proxyecho
up=$PEER_PORT
for v in v1 v2; do
    start_server relay --threads 1 --upstream "127.0.0.1:$up" --send-proxy "$v" \
        "${BACKEND_ARGS[@]}"
    peer_client proxy "$v" || fail "--send-proxy $v: wrong header"
    stop_server
done

start_server relay --threads 1 --upstream "127.0.0.1:$up" --accept-proxy --send-proxy v1 \
    --proxy-timeout 500ms "${BACKEND_ARGS[@]}"
peer_client sendproxy "PROXY TCP4 10.1.2.3 127.0.0.1 5555 6666" ||
    fail "--accept-proxy: the client's addresses were not passed on"
peer_client closed 2000 || fail "an invalid PROXY header did not close the client"
python3 - "$HOST" "$PORT" <<'PY' || fail "an invalid header was not closed"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
s.settimeout(5)
try:
    data = s.recv(100)
except ConnectionResetError:
    data = b""
sys.exit(1 if data else 0)
PY
stop_server
expect_total relay_proxy_invalid 1
expect_total relay_proxy_timeouts 1
expect_total relay_connect_ok 1
pass
