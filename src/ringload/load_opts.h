#ifndef RINGSOCK_LOAD_OPTS_H
#define RINGSOCK_LOAD_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringsock/net/addr.h"
#include "ringsock/core/loop.h"

enum rs_load_proto {
    RS_LOAD_TCP,  /* tcp://HOST:PORT: echo round trips over a byte stream */
    RS_LOAD_UDP,  /* udp://HOST:PORT: datagram echo */
    RS_LOAD_HTTP, /* http://HOST:PORT/path */
};

#define RS_LOAD_MAX_SOURCES 256
#define RS_LOAD_MAX_HEADERS 256         /* -H; each of any length (the request is built to fit) */
#define RS_LOAD_MAX_BODY    (64u << 20) /* --body-file */

/* --idle: what each held connection does at the end to show it is still alive. */
enum rs_idle_check {
    RS_IDLE_CHECK_AUTO, /* echo for tcp://, http for http:// (resolved by the parser) */
    RS_IDLE_CHECK_ECHO, /* send --size pattern bytes, expect them back */
    RS_IDLE_CHECK_HTTP, /* send the request, expect an answer starting "HTTP/1." */
    RS_IDLE_CHECK_NONE, /* nothing: for peers that neither echo nor speak HTTP */
};

struct rs_load_opts {
    enum rs_load_proto proto;
    struct rs_addr target;
    const char *url; /* the URL argument, as given */
    char host[300];
    const char *path; /* in url: from the slash after the host on, or "/" */
    unsigned threads;
    unsigned conns;
    unsigned depth; /* messages outstanding per connection */
    uint64_t duration_ns;
    uint64_t warmup_ns;  /* run before measuring, not recorded */
    uint64_t timeout_ns; /* a message not answered by then is an error (UDP: lost) */
    double rate;         /* total messages per second; 0 = closed loop */
    size_t size;         /* message (datagram) bytes */
    bool latency;        /* print the percentile table */
    bool verify;         /* check every echoed byte */
    int progress;        /* -1: when stderr is a terminal, 0 off, 1 on */
    const char *json_path;
    enum rs_backend_kind backend;
    /* http:// */
    const char *method; /* GET, or POST with a body */
    const char *headers[RS_LOAD_MAX_HEADERS];
    unsigned nheaders;
    const char *body; /* --body, or --body-file's bytes once read */
    size_t body_len;
    const char *body_file; /* --body-file, read by rs_load_opts_read_body */
    char *body_buf;        /* --body-file's bytes (owned: rs_load_opts_free) */
    bool no_keepalive;     /* one connection per request */
    bool send_only;        /* udp: measure the send rate, expect no answers */
    bool gso;              /* udp --send-only: batches as one UDP_SEGMENT buffer */
    bool head_only;        /* HEAD: answers have no body */
    char host_header[320];
    /* --idle: open --connections, send nothing for --duration, check, close */
    bool idle;
    enum rs_idle_check idle_check;
    double connect_rate;         /* connects per second in total; 0 = as fast as allowed */
    unsigned max_connecting;     /* connects in flight at once, in total */
    uint64_t connect_timeout_ns; /* a connect not done by then fails with ETIMEDOUT */
    /* --source: local addresses, used round-robin by connection (tcp:// and http://) */
    struct rs_addr sources[RS_LOAD_MAX_SOURCES];
    unsigned nsources;
    /* --shard I/N: this process runs shard I of a run of N. -c and -R are the run's totals;
     * rs_load_opts_parse leaves conns and rate as this shard's share. */
    unsigned shard_index, shard_count; /* shard_count 0: no --shard */
    unsigned conns_total;              /* -c as given: connections of the whole run */
    unsigned conn_base;                /* global number of this shard's first connection */
    double rate_total;                 /* -R as given: messages/s of the whole run */
    /* --start-at: connect first, start sending at this instant (wall clock) */
    bool start_at;
    bool start_at_relative; /* +DURATION: start_at_ns is a delay from when the run begins */
    uint64_t start_at_ns;   /* Unix time in ns, or the delay */
    const char *run_id;     /* --run-id, or NULL: the program makes one up */
};

enum rs_load_opts_result {
    RS_LOAD_RUN = 0,
    RS_LOAD_HELP = 1,
    RS_LOAD_VERSION = 2,
};

/* Parses tcp://, udp:// and http:// URLs; the host is an IPv4 literal, [IPv6] or a name
 * resolved once here. Fills proto, target, host, url and path ("/" by default); url and path
 * point into s, which must outlive o. Returns 0 or -EINVAL with a one-line reason in err. */
int rs_parse_load_url(const char *s, struct rs_load_opts *o, char *err, size_t errlen);

/* Parses a --source value: comma-separated IPv4 or IPv6 addresses (brackets optional) and
 * ranges FIRST-LAST of one family (127.0.0.1-127.0.0.8), appended to out[*n] (port 0), at most
 * cap in all. Returns 0 or -EINVAL with a one-line reason in err. */
int rs_parse_sources(const char *s, struct rs_addr *out, unsigned cap, unsigned *n, char *err,
                     size_t errlen);

/* Parses ringload's command line; -EINVAL with a one-line reason in err. o points into argv,
 * which must outlive it. Nothing is read or allocated: see rs_load_opts_read_body. */
int rs_load_opts_parse(int argc, char **argv, struct rs_load_opts *o, char *err, size_t errlen);

/* Reads --body-file, if one was given, into o->body (at most RS_LOAD_MAX_BODY bytes, any bytes).
 * Returns 0, or -errno (-EFBIG when too large) with a one-line reason naming the file in err. */
int rs_load_opts_read_body(struct rs_load_opts *o, char *err, size_t errlen);

/* Frees what rs_load_opts_read_body allocated. */
void rs_load_opts_free(struct rs_load_opts *o);

const char *rs_load_usage(void);
/* `ringload merge --help`. */
const char *rs_load_merge_usage(void);

/* Shard index of count of a run with total connections: an even split, the first total % count
 * shards one more. Sets the global number of the shard's first connection and how many it has.
 * Needs count >= 1 and index < count. */
void rs_load_shard_split(unsigned total, unsigned index, unsigned count, unsigned *first,
                         unsigned *n);

#endif
