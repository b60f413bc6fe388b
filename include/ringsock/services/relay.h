#ifndef RINGSOCK_SERVICES_RELAY_H
#define RINGSOCK_SERVICES_RELAY_H

/* The relay (layer-4 proxy): its configuration, the upstream set and balancer, and the PROXY
 * protocol header. The upstream set and balancer (src/services/relay/upstream.c) and the PROXY
 * protocol code (src/services/relay/proxy_proto.c) are pure: no loop, no sockets, unit-tested
 * alone. The TCP and UDP data paths (src/services/relay/relay_tcp.c, relay_udp.c) use them.
 *
 * Sharing: struct rs_relay_conf is filled from the command line (or config file) and read-only
 * once workers start. Each worker owns its struct rs_upstreams (active counts, passive and
 * active health, round-robin position): nothing in it is shared between workers, so health and
 * per-upstream max-conns are per worker, as in nginx without a shared zone. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringsock/net/addr.h"

#define RS_RELAY_MAX_UPSTREAMS 64
#define RS_UPSTREAM_NAMELEN    80

enum rs_balance {
    RS_BAL_RR,         /* smooth weighted round robin (nginx's), the default */
    RS_BAL_LEAST_CONN, /* fewest active / weight; ties broken round robin */
    RS_BAL_RANDOM2,    /* two random choices weighted, the one with fewer active / weight */
    RS_BAL_HASH_SRC,   /* hash of the client IP (no port) modulo the weighted list */
    RS_BAL_CHASH_SRC,  /* consistent hash ring of the client IP: adding one of N moves ~1/N */
};

/* One --upstream ADDR[,weight=N][,backup][,down][,max-conns=N]. */
struct rs_upstream_conf {
    struct rs_addr addr;
    char name[RS_UPSTREAM_NAMELEN]; /* ADDR as written: the label in logs and metrics */
    uint32_t weight;                /* 1..1000, default 1 */
    uint32_t max_conns;             /* per worker; 0 = no limit */
    bool backup;                    /* used only when no primary is usable */
    bool down;                      /* never used (kept so that its index stays stable) */
};

enum rs_health_kind { RS_HEALTH_NONE, RS_HEALTH_TCP };

struct rs_relay_conf {
    struct rs_upstream_conf up[RS_RELAY_MAX_UPSTREAMS];
    unsigned nup;
    enum rs_balance balance;
    /* connecting */
    uint64_t connect_timeout_ns; /* --connect-timeout, 5s */
    unsigned connect_tries;      /* --connect-tries, 3 distinct upstreams */
    uint64_t connect_budget_ns;  /* --connect-budget, 10s for all tries */
    /* passive health */
    unsigned max_fails;       /* --max-fails, 1; 0 = never mark out */
    uint64_t fail_timeout_ns; /* --fail-timeout, 10s */
    /* active health */
    enum rs_health_kind health;  /* --health tcp */
    uint64_t health_interval_ns; /* 2s */
    uint64_t health_timeout_ns;  /* 1s */
    unsigned health_rise;        /* 2 */
    unsigned health_fall;        /* 3 */
    char health_send[256];       /* --health-send, escapes decoded; "" = connect only */
    size_t health_send_len;
    char health_expect[256]; /* --health-expect: the answer must start with it; "" = none */
    size_t health_expect_len;
    /* data */
    size_t window;             /* --window: per direction, bytes queued before reading stops */
    uint64_t idle_timeout_ns;  /* --idle-timeout for relay, 10m; 0 = off */
    uint64_t fin_timeout_ns;   /* --fin-timeout, 30s: a half-closed session's bound */
    uint64_t max_duration_ns;  /* --max-duration, 0 = off */
    unsigned send_proxy;       /* --send-proxy: 0 (off), 1 or 2 */
    bool accept_proxy;         /* --accept-proxy */
    uint64_t proxy_timeout_ns; /* header timeout with --accept-proxy, 5s */
    /* UDP */
    uint64_t udp_idle_timeout_ns; /* --udp-idle-timeout, 60s */
    uint32_t udp_max_sessions;    /* --udp-max-sessions per worker, 65536 */
    uint32_t udp_responses;       /* --udp-responses N; 0 with udp_responses_any false = 0 */
    bool udp_responses_any;       /* --udp-responses any (the default) */
    uint32_t udp_requests;        /* --udp-requests N, 0 = unlimited */
};

/* Fills the defaults above (no upstreams). */
void rs_relay_conf_default(struct rs_relay_conf *c);

/* Parses one --upstream spec into out. Returns 0, or -EINVAL with a one-line reason in err
 * ("bad upstream 'x': ..."). */
int rs_upstream_parse(const char *spec, struct rs_upstream_conf *out, char *err, size_t errlen);

/* Parses --balance NAME. Returns 0 or -EINVAL. */
int rs_balance_parse(const char *s, enum rs_balance *out);
const char *rs_balance_name(enum rs_balance b);

/* Checks the whole configuration once parsed (at least one upstream, not all down, ...).
 * Returns 0, or -EINVAL with a reason in err. */
int rs_relay_conf_check(const struct rs_relay_conf *c, char *err, size_t errlen);

/* ---- one worker's upstream set ---- */

struct rs_upstreams;

/* State of one upstream as this worker sees it. */
enum rs_upstream_state {
    RS_UP_UP,   /* usable */
    RS_UP_OUT,  /* marked out by passive failures until its fail timeout ends */
    RS_UP_DEAD, /* failed active health checks (fall) until they pass again (rise) */
    RS_UP_DOWN, /* configured down */
};

/* A new upstream set for one worker over conf (which must outlive it); seed drives random2.
 * Returns NULL on allocation failure. */
struct rs_upstreams *rs_upstreams_new(const struct rs_relay_conf *conf, uint64_t seed);
void rs_upstreams_free(struct rs_upstreams *u);

/* Chooses an upstream for a connection (or UDP session) from client (its IP is what the hash
 * balancers use), skipping the indexes whose bit is set in tried, those not usable at now_ns,
 * and those at their max_conns. Backups are chosen only when no primary is usable (tried ones
 * count as unusable). An upstream marked out whose fail timeout has passed may be chosen again
 * for one trial connection. A lone upstream (the only one not configured down, backups
 * counted) is never skipped for health. Returns its index, or -1 when none is usable. Does
 * not count the connection: call rs_upstream_conn_begin once a connect starts. */
int rs_upstream_pick(struct rs_upstreams *u, const struct rs_addr *client, uint64_t tried,
                     uint64_t now_ns);

/* Connection accounting (active counts for least-conn, random2 and max-conns). */
void rs_upstream_conn_begin(struct rs_upstreams *u, unsigned i);
void rs_upstream_conn_end(struct rs_upstreams *u, unsigned i);

/* Passive health: a connect refused, timed out or unreachable (fail), or one that succeeded
 * (ok: clears the failure count and ends a trial). max_fails failures within fail_timeout mark
 * it out for fail_timeout. */
void rs_upstream_fail(struct rs_upstreams *u, unsigned i, uint64_t now_ns);
void rs_upstream_ok(struct rs_upstreams *u, unsigned i, uint64_t now_ns);

/* Active health: the result of one check; rise successes in a row make a dead upstream usable,
 * fall failures in a row make it dead. */
void rs_upstream_health(struct rs_upstreams *u, unsigned i, bool ok);

enum rs_upstream_state rs_upstream_state(const struct rs_upstreams *u, unsigned i, uint64_t now_ns);
uint32_t rs_upstream_active(const struct rs_upstreams *u, unsigned i);
unsigned rs_upstream_count(const struct rs_upstreams *u);
const struct rs_upstream_conf *rs_upstream_conf_at(const struct rs_upstreams *u, unsigned i);

/* ---- PROXY protocol (haproxy.org/download/2.9/doc/proxy-protocol.txt) ---- */

#define RS_PROXY_V1_MAX 108 /* the longest v1 line (107 bytes with CRLF) and a NUL */
#define RS_PROXY_V2_MAX 232 /* longest v2 header we accept (16 + 216 bytes of TLVs) */

/* Writes the header for a connection from src to dst (the listener's address) over TCP
 * (stream true) or UDP into buf. v1: "PROXY TCP4 ..." (UDP has no v1 form: -EINVAL); v2: the
 * binary header, command PROXY, family and protocol bytes from the addresses. Returns its
 * length, or -EINVAL (mixed families, version not 1 or 2) or -ENOSPC. */
int rs_proxy_write(unsigned version, bool stream, const struct rs_addr *src,
                   const struct rs_addr *dst, char *buf, size_t cap);

/* Reads a PROXY header (v1 or v2) from the start of buf[0, len). Returns the header's length
 * with *src and *dst set (for v1 "UNKNOWN", v2 LOCAL, and v2 PROXY with an unspecified or
 * UNIX family: *local set true and the addresses left alone), 0 when more bytes are needed
 * (never past 107 bytes for v1 or RS_PROXY_V2_MAX for v2), or -EINVAL when it is not a valid
 * header. */
int rs_proxy_read(const char *buf, size_t len, struct rs_addr *src, struct rs_addr *dst,
                  bool *local);

#endif
