#ifndef RINGSOCK_NET_H
#define RINGSOCK_NET_H

#include "ringsock/addr.h"

/* Opens a non-blocking TCP listening socket with SO_REUSEADDR and SO_REUSEPORT on addr.
 * Returns the fd or -errno. */
int rs_net_listen_tcp(const struct rs_addr *addr, int backlog);

/* Reads back the bound address (to learn the port chosen for port 0). Returns 0 or -errno. */
int rs_net_local_addr(int fd, struct rs_addr *out);

/* Applies SO_SNDBUF / SO_RCVBUF when non-zero. Returns 0 or -errno. */
int rs_net_set_bufs(int fd, int sndbuf, int rcvbuf);

/* Sets TCP_NODELAY (echo and request/response traffic must not wait for Nagle). */
int rs_net_set_nodelay(int fd);

#endif
