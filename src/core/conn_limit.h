#ifndef RINGSOCK_CONN_LIMIT_H
#define RINGSOCK_CONN_LIMIT_H

/* Open accepted connections per source address, one table per loop (conn_limit.c). Internal to
 * the core. */

#include <stdint.h>

struct rs_conn_limit;

/* A table for at most max_conns open connections, limit per address. NULL on no memory. */
struct rs_conn_limit *rs__conn_limit_new(uint32_t limit, uint32_t max_conns);
void rs__conn_limit_free(struct rs_conn_limit *t);
/* Counts the accepted socket fd against its peer's address. Returns 0 with *slot set (0 when
 * the socket has no IP address: not counted), -EDQUOT when the address is at the limit, or
 * another -errno (the peer is gone: ENOTCONN). O(1) expected, allocates nothing. */
int rs__conn_limit_take(struct rs_conn_limit *t, int fd, uint32_t *slot);
/* The same for an address given as 16 bytes (IPv4 as ::ffff:a.b.c.d); -ENOSPC when every
 * node is in use (more addresses than max_conns). */
int rs__conn_limit_take_key(struct rs_conn_limit *t, const unsigned char key[16], uint32_t *slot);
/* The connection counted in slot (non-zero) closed. */
void rs__conn_limit_put(struct rs_conn_limit *t, uint32_t slot);

#endif
