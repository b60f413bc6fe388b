#ifndef RINGSOCK_ADDR_H
#define RINGSOCK_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* A socket address: IPv4 or IPv6, with port. */
struct rs_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

#define RS_ADDR_STRLEN 64

/* Parses "1.2.3.4:80", "[::1]:80", ":80" (any IPv4 address) or "[::]:80".
 * Returns 0, or -EINVAL with nothing written on a malformed address or port. */
int rs_addr_parse(const char *s, struct rs_addr *out);

/* Writes "1.2.3.4:80" or "[::1]:80" into buf (at least RS_ADDR_STRLEN bytes). Returns buf. */
const char *rs_addr_format(const struct rs_addr *a, char *buf, size_t size);

/* Writes the address alone, "1.2.3.4" or "::1", into buf (RS_ADDR_STRLEN bytes). Returns buf. */
const char *rs_addr_format_ip(const struct rs_addr *a, char *buf, size_t size);

int rs_addr_port(const struct rs_addr *a);
void rs_addr_set_port(struct rs_addr *a, int port);

#endif
