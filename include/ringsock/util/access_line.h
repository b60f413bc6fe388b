#ifndef RINGSOCK_ACCESS_LINE_H
#define RINGSOCK_ACCESS_LINE_H

/* One access-log line: a finished connection or UDP session as one JSON object on one line
 * (docs/operations.md, "Access log"). Pure: no clock, no I/O. */

#include <stddef.h>
#include <stdint.h>

struct rs_access_rec {
    int64_t time_ms;           /* close time: ms since the Unix epoch (UTC) */
    const char *listener;      /* its address, "127.0.0.1:7000" */
    const char *listener_name; /* a configured name, NULL: none yet ("") */
    const char *proto;         /* "tcp" or "udp" */
    const char *service;       /* "echo", "http", ... */
    const char *client;        /* "127.0.0.1:51234", NULL: unknown ("") */
    const char *upstream;      /* a relay's upstream, NULL: none ("") */
    uint64_t bytes_in;         /* from the client */
    uint64_t bytes_out;        /* to the client */
    uint64_t duration_ns;
    const char *reason; /* "peer_closed", "reset", "idle_timeout", ... */
    const char *error;  /* errno name ("ECONNRESET"), NULL: none ("") */
};

/* Writes rec as one JSON line ending in '\n' into buf (no NUL). Strings are escaped (quote,
 * backslash, control characters as \uXXXX; other bytes as they are). Returns the length, or 0
 * if it does not fit in size. */
size_t rs_access_line_format(char *buf, size_t size, const struct rs_access_rec *rec);

/* Formats ms since the epoch as RFC 3339 UTC with milliseconds, "2026-11-29T20:31:02.123Z"
 * (24 characters and a NUL: buf of at least 25). Returns buf. */
char *rs_access_time_format(int64_t ms, char *buf, size_t size);

#endif
