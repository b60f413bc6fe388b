#ifndef RINGSOCK_NET_H
#define RINGSOCK_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "ringsock/net/addr.h"

/* Opens a non-blocking TCP listening socket with SO_REUSEADDR and SO_REUSEPORT on addr, with
 * the given backlog (0: as large as the kernel allows, net.core.somaxconn). Returns the fd or
 * -errno. */
int rs_net_listen_tcp(const struct rs_addr *addr, int backlog);

/* Opens a non-blocking UDP socket bound to addr with SO_REUSEPORT (one per worker spreads
 * flows), SO_RXQ_OVFL (kernel drop counts) and the given buffer sizes (0 = kernel default).
 * A multicast addr joins that group on interface iface (required). Returns the fd or -errno;
 * *what names the step that failed. */
int rs_net_bind_udp(const struct rs_addr *addr, int rcvbuf, int sndbuf, const char *iface,
                    const char **what);

/* True for an IPv4 or IPv6 multicast address. */
bool rs_addr_is_multicast(const struct rs_addr *a);

/* Reads back the bound address (to learn the port chosen for port 0). Returns 0 or -errno. */
int rs_net_local_addr(int fd, struct rs_addr *out);

/* Applies SO_SNDBUF / SO_RCVBUF when non-zero. Returns 0 or -errno. */
int rs_net_set_bufs(int fd, int sndbuf, int rcvbuf);

/* Binds an unconnected socket to the source address src (its port is ignored) with
 * IP_BIND_ADDRESS_NO_PORT (kernel >= 4.2), so the port is picked at connect() for the whole
 * 4-tuple: each source address gets the full ephemeral range per destination. Returns 0 or
 * -errno (-EADDRNOTAVAIL: src is not an address of this machine). */
int rs_net_bind_source(int fd, const struct rs_addr *src);

/* Raises this process's RLIMIT_NOFILE soft limit to its hard limit (capped at fs.nr_open),
 * since every connection is a descriptor and soft limits are often 1024. Sets *limit to the
 * soft limit now in force. Returns 0 or -errno (the limit is then unchanged). */
int rs_fd_limit_raise(uint64_t *limit);

/* Sets TCP_NODELAY (echo and request/response traffic must not wait for Nagle). */
int rs_net_set_nodelay(int fd);

#endif
