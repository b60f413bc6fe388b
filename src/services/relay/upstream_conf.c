/* The relay's configuration: defaults, --upstream and --balance parsing, and the whole-config
 * check (include/ringsock/services/relay.h). Pure: no sockets, no loop. */

#include "ringsock/services/relay.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000ull

#define MAX_WEIGHT      1000
#define MAX_CONNS_LIMIT 10000000u

void rs_relay_conf_default(struct rs_relay_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->balance = RS_BAL_RR;
    c->connect_timeout_ns = 5 * NS_PER_S;
    c->connect_tries = 3;
    c->connect_budget_ns = 10 * NS_PER_S;
    c->max_fails = 1;
    c->fail_timeout_ns = 10 * NS_PER_S;
    c->health = RS_HEALTH_NONE;
    c->health_interval_ns = 2 * NS_PER_S;
    c->health_timeout_ns = 1 * NS_PER_S;
    c->health_rise = 2;
    c->health_fall = 3;
    c->window = 256 * 1024;
    c->idle_timeout_ns = 600 * NS_PER_S;
    c->fin_timeout_ns = 30 * NS_PER_S;
    c->max_duration_ns = 0;
    c->send_proxy = 0;
    c->accept_proxy = false;
    c->proxy_timeout_ns = 5 * NS_PER_S;
    c->udp_idle_timeout_ns = 60 * NS_PER_S;
    c->udp_max_sessions = 65536;
    c->udp_responses = 0;
    c->udp_responses_any = true;
    c->udp_requests = 0;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Parses the n bytes at s as a decimal number in [lo, hi]. Returns 0 or -EINVAL. */
static int parse_num(const char *s, size_t n, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (n == 0 || n > 10)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[k] - '0');
    }
    if (v < lo || v > hi)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static bool addr_unspecified(const struct rs_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
    return memcmp(&s6->sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0;
}

/* Why rs_addr_parse refused the address s: the likeliest mistake first. */
static const char *addr_reason(const char *s)
{
    const char *first = strchr(s, ':');
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close && close[1] == '\0')
            return "missing port ([IPv6]:PORT)";
        return "expected [IPv6]:PORT";
    }
    if (!first)
        return "missing port (IPv4:PORT or [IPv6]:PORT)";
    if (strchr(first + 1, ':'))
        return "an IPv6 address goes in brackets: [::1]:7000";
    if (first[1] == '\0')
        return "missing port (IPv4:PORT or [IPv6]:PORT)";
    return "expected a numeric IPv4:PORT or [IPv6]:PORT (names are not resolved), port 1..65535";
}

int rs_upstream_parse(const char *spec, struct rs_upstream_conf *out, char *err, size_t errlen)
{
    if (!spec || !*spec)
        return fail(err, errlen,
                    "bad upstream '': empty (ADDR[,weight=N][,backup][,down]"
                    "[,max-conns=N])");
    struct rs_upstream_conf u;
    memset(&u, 0, sizeof(u));
    u.weight = 1;

    const char *comma = strchr(spec, ',');
    size_t alen = comma ? (size_t)(comma - spec) : strlen(spec);
    if (alen == 0)
        return fail(err, errlen, "bad upstream '%s': missing address", spec);
    if (alen >= sizeof(u.name))
        return fail(err, errlen, "bad upstream '%.*s...': address too long", 40, spec);
    memcpy(u.name, spec, alen);
    u.name[alen] = '\0';
    if (rs_addr_parse(u.name, &u.addr) < 0)
        return fail(err, errlen, "bad upstream '%s': %s", spec, addr_reason(u.name));
    if (rs_addr_port(&u.addr) == 0)
        return fail(err, errlen, "bad upstream '%s': port 0", spec);
    if (addr_unspecified(&u.addr))
        return fail(err, errlen, "bad upstream '%s': unspecified address (0.0.0.0 or ::)", spec);

    bool seen_weight = false, seen_backup = false, seen_down = false, seen_max = false;
    const char *p = comma;
    while (p) {
        const char *tok = p + 1;
        const char *next = strchr(tok, ',');
        size_t n = next ? (size_t)(next - tok) : strlen(tok);
        bool *seen;
        const char *what;
        if (n == 0)
            return fail(err, errlen, "bad upstream '%s': empty flag (stray comma)", spec);
        if (n >= 7 && memcmp(tok, "weight=", 7) == 0) {
            seen = &seen_weight;
            what = "weight";
            if (parse_num(tok + 7, n - 7, 1, MAX_WEIGHT, &u.weight) < 0)
                return fail(err, errlen, "bad upstream '%s': weight must be 1..%d", spec,
                            MAX_WEIGHT);
        } else if (n >= 10 && memcmp(tok, "max-conns=", 10) == 0) {
            seen = &seen_max;
            what = "max-conns";
            if (parse_num(tok + 10, n - 10, 0, MAX_CONNS_LIMIT, &u.max_conns) < 0)
                return fail(err, errlen, "bad upstream '%s': max-conns must be 0..%u", spec,
                            MAX_CONNS_LIMIT);
        } else if (n == 6 && memcmp(tok, "backup", 6) == 0) {
            seen = &seen_backup;
            what = "backup";
            u.backup = true;
        } else if (n == 4 && memcmp(tok, "down", 4) == 0) {
            seen = &seen_down;
            what = "down";
            u.down = true;
        } else {
            return fail(err, errlen,
                        "bad upstream '%s': unknown flag '%.*s' (weight=N, backup, down, "
                        "max-conns=N)",
                        spec, (int)(n > 40 ? 40 : n), tok);
        }
        if (*seen)
            return fail(err, errlen, "bad upstream '%s': %s given twice", spec, what);
        *seen = true;
        p = next;
    }
    *out = u;
    return 0;
}

static const char *const balance_names[] = {
    [RS_BAL_RR] = "rr",
    [RS_BAL_LEAST_CONN] = "least-conn",
    [RS_BAL_RANDOM2] = "random2",
    [RS_BAL_HASH_SRC] = "hash-src",
    [RS_BAL_CHASH_SRC] = "chash-src",
};

#define NBALANCE (sizeof(balance_names) / sizeof(balance_names[0]))

int rs_balance_parse(const char *s, enum rs_balance *out)
{
    if (!s)
        return -EINVAL;
    for (size_t b = 0; b < NBALANCE; b++) {
        if (strcmp(s, balance_names[b]) == 0) {
            *out = (enum rs_balance)b;
            return 0;
        }
    }
    return -EINVAL;
}

const char *rs_balance_name(enum rs_balance b)
{
    return (unsigned)b < NBALANCE ? balance_names[b] : "?";
}

static bool addr_equal(const struct rs_addr *a, const struct rs_addr *b)
{
    if (a->ss.ss_family != b->ss.ss_family || rs_addr_port(a) != rs_addr_port(b))
        return false;
    if (a->ss.ss_family == AF_INET)
        return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
                  &((const struct sockaddr_in6 *)&b->ss)->sin6_addr, 16) == 0;
}

int rs_relay_conf_check(const struct rs_relay_conf *c, char *err, size_t errlen)
{
    if (c->nup == 0)
        return fail(err, errlen, "relay: no upstream (give at least one --upstream ADDR)");
    if (c->nup > RS_RELAY_MAX_UPSTREAMS)
        return fail(err, errlen, "relay: %u upstreams, at most %d", c->nup, RS_RELAY_MAX_UPSTREAMS);
    unsigned live = 0;
    for (unsigned i = 0; i < c->nup; i++) {
        const struct rs_upstream_conf *u = &c->up[i];
        int fam = u->addr.ss.ss_family;
        if (fam != AF_INET && fam != AF_INET6)
            return fail(err, errlen, "relay: upstream %u has no address", i);
        if (u->weight < 1 || u->weight > MAX_WEIGHT)
            return fail(err, errlen, "relay: upstream '%s': weight must be 1..%d", u->name,
                        MAX_WEIGHT);
        for (unsigned j = 0; j < i; j++)
            if (addr_equal(&c->up[j].addr, &u->addr))
                return fail(err, errlen, "relay: upstream '%s' given twice (as '%s' too)", u->name,
                            c->up[j].name);
        live += !u->down;
    }
    if (live == 0)
        return fail(err, errlen, "relay: every upstream is marked down");
    if ((unsigned)c->balance >= NBALANCE)
        return fail(err, errlen, "relay: unknown balance %d", (int)c->balance);
    if (c->connect_timeout_ns == 0)
        return fail(err, errlen, "relay: --connect-timeout must be more than 0");
    if (c->connect_tries < 1 || c->connect_tries > RS_RELAY_MAX_UPSTREAMS)
        return fail(err, errlen, "relay: --connect-tries must be 1..%d", RS_RELAY_MAX_UPSTREAMS);
    if (c->connect_budget_ns == 0)
        return fail(err, errlen, "relay: --connect-budget must be more than 0");
    if (c->max_fails > 0 && c->fail_timeout_ns == 0)
        return fail(err, errlen, "relay: --fail-timeout must be more than 0 with --max-fails");
    if (c->health == RS_HEALTH_TCP) {
        if (c->health_interval_ns == 0 || c->health_timeout_ns == 0)
            return fail(err, errlen,
                        "relay: --health-interval and --health-timeout must be more than 0");
        if (c->health_timeout_ns > c->health_interval_ns)
            return fail(err, errlen,
                        "relay: --health-timeout must not be longer than --health-interval");
        if (c->health_rise < 1 || c->health_fall < 1)
            return fail(err, errlen, "relay: --health-rise and --health-fall must be at least 1");
    } else if (c->health_send_len || c->health_expect_len) {
        return fail(err, errlen, "relay: --health-send and --health-expect need --health tcp");
    }
    if (c->health_send_len > sizeof(c->health_send) ||
        c->health_expect_len > sizeof(c->health_expect))
        return fail(err, errlen, "relay: health check strings too long");
    if (c->window == 0)
        return fail(err, errlen, "relay: --window must be more than 0");
    if (c->send_proxy > 2)
        return fail(err, errlen, "relay: --send-proxy must be v1 or v2");
    if (c->accept_proxy && c->proxy_timeout_ns == 0)
        return fail(err, errlen, "relay: the PROXY header timeout must be more than 0");
    if (c->udp_max_sessions == 0)
        return fail(err, errlen, "relay: --udp-max-sessions must be at least 1");
    return 0;
}
