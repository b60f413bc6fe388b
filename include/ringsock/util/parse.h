#ifndef RINGSOCK_UTIL_PARSE_H
#define RINGSOCK_UTIL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parsers for the values of command-line flags (and, next, the config file): sizes, durations,
 * rates and escaped strings, in one place for every program. */

/* Parses a size with an optional binary suffix (k, m, g; "64k" = 65536) into [min, max].
 * Returns 0 or -EINVAL (malformed) / -ERANGE (out of bounds). */
int rs_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Decodes \n, \r, \t and \\ (any other \x is x) into out. Returns 0 or -E2BIG. */
int rs_unescape_body(const char *s, char *out, size_t cap, size_t *len);

/* Parses "10s", "1m", "500ms", "250us", "2h" or a plain number of seconds into nanoseconds.
 * Returns 0, -EINVAL (malformed) or -ERANGE (more than a day). */
int rs_parse_duration(const char *s, uint64_t *ns);

/* Parses a rate: a positive number with an optional k (1000) or m (1e6) suffix. Returns 0 or
 * -EINVAL. */
int rs_parse_rate(const char *s, double *out);

/* A set of UDP/TCP ports: a 65536-bit bitmap, one test per lookup. */
#define RS_PORT_SET_WORDS (65536 / 64)

static inline bool rs_port_set_has(const uint64_t *set, uint16_t port)
{
    return (set[port >> 6] >> (port & 63)) & 1;
}

/* Parses "53,123,40000-40010" (ports 0..65535, ranges inclusive) or "none" (the empty set) into
 * set, and the number of ports in it into count. Returns 0, -EINVAL (malformed, a range
 * backwards, empty) or -ERANGE (a port over 65535). */
int rs_parse_port_list(const char *s, uint64_t set[RS_PORT_SET_WORDS], unsigned *count);

#endif
