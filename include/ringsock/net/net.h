#ifndef RINGSOCK_NET_H
#define RINGSOCK_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "ringsock/net/addr.h"

/* Opens a non-blocking TCP listening socket with SO_REUSEADDR and SO_REUSEPORT on addr, with
 * the given backlog (0: as large as the kernel allows, net.core.somaxconn). Returns the fd or
 * -errno. */
int rs_net_listen_tcp(const struct rs_addr *addr, int backlog);

/* Whether addr can be bound now, by a socket without SO_REUSEPORT, closed at once: an address
 * not on this machine or taken by another process fails (TCP sets SO_REUSEADDR, so a port in
 * TIME_WAIT does not). udp: a datagram socket, else a stream one. Returns 0 or -errno. */
int rs_net_bind_probe(const struct rs_addr *addr, bool udp);

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

/* Steers each source address to one socket of fd's SO_REUSEPORT group: attaches a classic BPF
 * program (SO_ATTACH_REUSEPORT_CBPF, kernel >= 4.5) that picks socket hash(source address) %
 * nsocks, where a socket's index is the order it joined the group (listen() for TCP, bind()
 * for UDP). Every connection (or datagram) from one address then lands on the same socket, so
 * per-address state kept by its owner alone is exact. Works for TCP and UDP groups of either
 * family (the address is read at its offset from the network header). Returns 0 or -errno
 * (-ENOPROTOOPT: the kernel lacks it). */
int rs_net_reuseport_steer(int fd, unsigned nsocks);

/* The socket index rs_net_reuseport_steer's program picks for an address (16 bytes, IPv4 as
 * ::ffff:a.b.c.d, as sockaddr_in6 holds it), for tests and for reporting. */
unsigned rs_net_steer_index(const unsigned char addr[16], unsigned nsocks);

/* Sets TCP_NODELAY (echo and request/response traffic must not wait for Nagle). */
int rs_net_set_nodelay(int fd);

#endif
