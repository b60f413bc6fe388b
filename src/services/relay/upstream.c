/* One worker's upstream set: the balancers (smooth weighted round robin, least connections,
 * two random choices, source hash, consistent-hash ring), connection accounting, and passive
 * and active health (include/ringsock/services/relay.h). Pure: no sockets, no loop, no clock
 * of its own (the caller passes now_ns), nothing shared between workers. */

#include "ringsock/services/relay.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ringsock/util/alloc.h"

/* Ketama-style ring: this many points per unit of weight, with the whole ring capped so that a
 * worker's ring stays within 512 KiB (8 bytes a point). Past the cap the points are shared out
 * in proportion to the weights. */
#define CHASH_POINTS_PER_WEIGHT 160
#define CHASH_MAX_POINTS        65536
/* hash-src: rehashes tried when the chosen upstream is unusable, before walking the list. */
#define HASH_REHASHES 20

struct up_state {
    uint32_t active;        /* connections begun and not ended */
    uint32_t fails;         /* passive failures in the current window */
    int64_t current;        /* smooth weighted round robin's running weight */
    uint64_t fail_start_ns; /* when the current failure window began */
    uint64_t out_until_ns;  /* with out: the end of the fail timeout */
    uint32_t rise, fall;    /* active checks passed / failed in a row */
    bool out;               /* marked out by passive failures (until an ok) */
    bool trial;             /* out, and one trial connection is under way */
    bool dead;              /* failed active health checks */
};

struct rs_upstreams {
    const struct rs_relay_conf *conf;
    unsigned n;
    bool lone;    /* exactly one upstream not configured down: never marked out */
    uint64_t rng; /* splitmix64 state (random2) */
    uint64_t primary_set, backup_set; /* configured members of each group (down included) */
    /* Each group (0 primaries, 1 backups, down ones included) in index order, with the running
     * total of its weights (hash-src's weighted list) and its whole weight. */
    uint8_t group_idx[2][RS_RELAY_MAX_UPSTREAMS];
    uint32_t group_cum[2][RS_RELAY_MAX_UPSTREAMS];
    unsigned group_n[2];
    uint32_t group_weight[2];
    /* chash-src: sorted points (hash with the upstream's index in the low byte), the primaries'
     * ring in [0, ring_n[0]) and the backups' after it. */
    uint64_t *ring;
    size_t ring_n[2];
    struct up_state st[RS_RELAY_MAX_UPSTREAMS];
};

/* ---- hashing ---- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t splitmix_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    return mix64(*s);
}

static uint64_t hash_bytes(const unsigned char *p, size_t n, uint64_t h)
{
    for (size_t k = 0; k < n; k++)
        h = (h ^ p[k]) * 0x100000001b3ull; /* FNV-1a, then a full mix below */
    return mix64(h);
}

/* The client's IP alone (no port), an IPv4-mapped IPv6 address hashed as the IPv4 one, so a
 * client keeps its upstream whichever listener it came in on. The same in every worker and
 * every run: no seed. */
static uint64_t client_hash(const struct rs_addr *a)
{
    const uint64_t basis = 0xcbf29ce484222325ull;
    if (!a)
        return mix64(basis);
    if (a->ss.ss_family == AF_INET6) {
        const struct in6_addr *x = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(x))
            return hash_bytes(x->s6_addr + 12, 4, basis);
        return hash_bytes(x->s6_addr, 16, basis);
    }
    if (a->ss.ss_family == AF_INET)
        return hash_bytes((const unsigned char *)&((const struct sockaddr_in *)&a->ss)->sin_addr, 4,
                          basis);
    return mix64(basis);
}

/* An upstream's identity on the ring: its address and port, so its points do not depend on
 * its index or on how the address was written. */
static uint64_t upstream_hash(const struct rs_addr *a)
{
    unsigned char key[18];
    size_t n;
    uint16_t port = (uint16_t)rs_addr_port(a);
    if (a->ss.ss_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, 16);
        n = 16;
    } else {
        memcpy(key, &((const struct sockaddr_in *)&a->ss)->sin_addr, 4);
        n = 4;
    }
    key[n++] = (unsigned char)(port >> 8);
    key[n++] = (unsigned char)port;
    return hash_bytes(key, n, 0x84222325cbf29ce4ull);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* How many ring points upstream i gets in a group of the given total weight: 160 a unit of
 * weight, or, when the group would pass half the cap, its share of that half (at least 1). */
static size_t ring_points(const struct rs_relay_conf *c, unsigned i, uint32_t group_weight)
{
    uint64_t w = c->up[i].weight;
    if ((uint64_t)group_weight * CHASH_POINTS_PER_WEIGHT <= CHASH_MAX_POINTS / 2)
        return (size_t)(w * CHASH_POINTS_PER_WEIGHT);
    uint64_t pts = w * (CHASH_MAX_POINTS / 2) / group_weight;
    return pts ? (size_t)pts : 1;
}

/* Fills dst with the sorted ring of the members of a group; returns its point count. */
static size_t ring_build(const struct rs_relay_conf *c, uint64_t members, uint32_t weight,
                         uint64_t *dst)
{
    size_t n = 0;
    for (uint64_t rest = members; rest; rest &= rest - 1) {
        unsigned i = (unsigned)__builtin_ctzll(rest);
        size_t pts = ring_points(c, i, weight);
        uint64_t s = upstream_hash(&c->up[i].addr);
        for (size_t k = 0; k < pts; k++)
            dst[n++] = (splitmix_next(&s) & ~0xffull) | i;
    }
    qsort(dst, n, sizeof(*dst), cmp_u64);
    return n;
}

struct rs_upstreams *rs_upstreams_new(const struct rs_relay_conf *conf, uint64_t seed)
{
    if (!conf || conf->nup == 0 || conf->nup > RS_RELAY_MAX_UPSTREAMS)
        return NULL;
    struct rs_upstreams *u = rs_calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->conf = conf;
    u->n = conf->nup;
    u->rng = seed;
    unsigned live = 0;
    for (unsigned i = 0; i < u->n; i++) {
        const struct rs_upstream_conf *c = &conf->up[i];
        int g = c->backup;
        *(g ? &u->backup_set : &u->primary_set) |= 1ull << i;
        u->group_weight[g] += c->weight;
        u->group_idx[g][u->group_n[g]] = (uint8_t)i;
        u->group_cum[g][u->group_n[g]++] = u->group_weight[g];
        live += !c->down;
    }
    u->lone = live == 1;
    if (conf->balance == RS_BAL_CHASH_SRC) {
        size_t total = 0;
        for (unsigned i = 0; i < u->n; i++)
            total += ring_points(conf, i, u->group_weight[conf->up[i].backup]);
        u->ring = rs_malloc(total * sizeof(*u->ring));
        if (!u->ring) {
            rs_free(u);
            return NULL;
        }
        u->ring_n[0] = ring_build(conf, u->primary_set, u->group_weight[0], u->ring);
        u->ring_n[1] = ring_build(conf, u->backup_set, u->group_weight[1], u->ring + u->ring_n[0]);
    }
    return u;
}

void rs_upstreams_free(struct rs_upstreams *u)
{
    if (!u)
        return;
    rs_free(u->ring);
    rs_free(u);
}

/* ---- usability ---- */

/* Whether upstream i may take a new connection at now_ns, health and limits considered. */
static bool usable(const struct rs_upstreams *u, unsigned i, uint64_t now_ns)
{
    const struct rs_upstream_conf *c = &u->conf->up[i];
    const struct up_state *s = &u->st[i];
    if (c->down)
        return false;
    if (c->max_conns && s->active >= c->max_conns)
        return false;
    if (u->lone)
        return true;
    if (s->dead)
        return false;
    if (s->out && (now_ns < s->out_until_ns || s->trial))
        return false;
    return true;
}

/* The usable members of set not in tried. */
static uint64_t usable_mask(const struct rs_upstreams *u, uint64_t set, uint64_t tried,
                            uint64_t now_ns)
{
    uint64_t m = 0;
    for (uint64_t rest = set & ~tried; rest; rest &= rest - 1) {
        unsigned i = (unsigned)__builtin_ctzll(rest);
        if (usable(u, i, now_ns))
            m |= 1ull << i;
    }
    return m;
}

/* ---- balancers, each over a non-empty mask of usable upstreams ---- */

/* nginx's smooth weighted round robin: every candidate's running weight grows by its weight,
 * the largest is chosen and loses the candidates' total. Over a cycle each is chosen in
 * proportion to its weight, spread out rather than in runs. */
static unsigned pick_swrr(struct rs_upstreams *u, uint64_t mask)
{
    int64_t total = 0;
    int best = -1;
    for (uint64_t rest = mask; rest; rest &= rest - 1) {
        unsigned i = (unsigned)__builtin_ctzll(rest);
        struct up_state *s = &u->st[i];
        s->current += u->conf->up[i].weight;
        total += u->conf->up[i].weight;
        if (best < 0 || s->current > u->st[best].current)
            best = (int)i;
    }
    u->st[best].current -= total;
    return (unsigned)best;
}

/* a / wa < b / wb, without division. */
static int load_cmp(uint32_t a, uint32_t wa, uint32_t b, uint32_t wb)
{
    uint64_t x = (uint64_t)a * wb, y = (uint64_t)b * wa;
    return x < y ? -1 : x > y;
}

/* Fewest active connections per unit of weight; ties by smooth weighted round robin. */
static unsigned pick_least_conn(struct rs_upstreams *u, uint64_t mask)
{
    uint64_t ties = 0;
    int best = -1;
    for (uint64_t rest = mask; rest; rest &= rest - 1) {
        unsigned i = (unsigned)__builtin_ctzll(rest);
        int c = best < 0 ? -1
                         : load_cmp(u->st[i].active, u->conf->up[i].weight, u->st[best].active,
                                    u->conf->up[best].weight);
        if (c < 0) {
            best = (int)i;
            ties = 1ull << i;
        } else if (c == 0) {
            ties |= 1ull << i;
        }
    }
    return ties & (ties - 1) ? pick_swrr(u, ties) : (unsigned)best;
}

/* One member of mask chosen at random in proportion to its weight. */
static unsigned pick_weighted(struct rs_upstreams *u, uint64_t mask)
{
    uint64_t total = 0;
    for (uint64_t rest = mask; rest; rest &= rest - 1)
        total += u->conf->up[__builtin_ctzll(rest)].weight;
    uint64_t r = splitmix_next(&u->rng) % total;
    for (uint64_t rest = mask;; rest &= rest - 1) {
        unsigned i = (unsigned)__builtin_ctzll(rest);
        if (r < u->conf->up[i].weight)
            return i;
        r -= u->conf->up[i].weight;
    }
}

/* Power of two choices: two different upstreams drawn by weight, the less loaded one wins
 * (the first drawn on a tie). */
static unsigned pick_random2(struct rs_upstreams *u, uint64_t mask)
{
    unsigned a = pick_weighted(u, mask);
    uint64_t others = mask & ~(1ull << a);
    if (!others)
        return a;
    unsigned b = pick_weighted(u, others);
    return load_cmp(u->st[b].active, u->conf->up[b].weight, u->st[a].active,
                    u->conf->up[a].weight) < 0
               ? b
               : a;
}

/* The member of group g whose weighted slot holds h: a binary search of the running weights. */
static unsigned hash_slot(const struct rs_upstreams *u, int g, uint64_t h)
{
    uint32_t x = (uint32_t)(h % u->group_weight[g]);
    unsigned lo = 0, hi = u->group_n[g]; /* the first member with cum > x */
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (u->group_cum[g][mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return u->group_idx[g][lo];
}

/* hash-src: the client's slot in the group's weighted list, over every member (down ones
 * too, so one going out moves only its own clients); when that one is unusable, rehash a few
 * times, then walk on from it to the next usable index. Deterministic for a given state. */
static unsigned pick_hash(const struct rs_upstreams *u, uint64_t mask, int g, uint64_t h)
{
    unsigned i = hash_slot(u, g, h);
    for (unsigned k = 0; k < HASH_REHASHES && !(mask >> i & 1); k++) {
        h = mix64(h + k + 1);
        i = hash_slot(u, g, h);
    }
    if (mask >> i & 1)
        return i;
    uint64_t above = mask & ~((2ull << i) - 1); /* usable ones after i, else wrap */
    return (unsigned)__builtin_ctzll(above ? above : mask);
}

/* chash-src: the first point at or after the client's hash on the group's ring, walking on
 * past points of unusable upstreams. */
static unsigned pick_chash(const struct rs_upstreams *u, uint64_t mask, int g, uint64_t h)
{
    const uint64_t *ring = u->ring + (g ? u->ring_n[0] : 0);
    size_t n = u->ring_n[g];
    uint64_t key = h & ~0xffull;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ring[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = 0; k < n; k++) {
        unsigned i = (unsigned)(ring[(lo + k) % n] & 0xff);
        if (mask >> i & 1)
            return i;
    }
    return (unsigned)__builtin_ctzll(mask); /* not reached: every member has points */
}

int rs_upstream_pick(struct rs_upstreams *u, const struct rs_addr *client, uint64_t tried,
                     uint64_t now_ns)
{
    int g = 0;
    uint64_t mask = usable_mask(u, u->primary_set, tried, now_ns);
    if (!mask) {
        g = 1;
        mask = usable_mask(u, u->backup_set, tried, now_ns);
        if (!mask)
            return -1;
    }
    switch (u->conf->balance) {
    case RS_BAL_LEAST_CONN:
        return (int)pick_least_conn(u, mask);
    case RS_BAL_RANDOM2:
        return (int)pick_random2(u, mask);
    case RS_BAL_HASH_SRC:
        return (int)pick_hash(u, mask, g, client_hash(client));
    case RS_BAL_CHASH_SRC:
        return (int)pick_chash(u, mask, g, client_hash(client));
    case RS_BAL_RR:
    default:
        return (int)pick_swrr(u, mask);
    }
}

/* ---- accounting and health ---- */

void rs_upstream_conn_begin(struct rs_upstreams *u, unsigned i)
{
    if (i >= u->n)
        return;
    struct up_state *s = &u->st[i];
    s->active++;
    /* Out and yet picked: this is the one trial after the fail timeout. */
    if (s->out && !u->lone)
        s->trial = true;
}

void rs_upstream_conn_end(struct rs_upstreams *u, unsigned i)
{
    if (i >= u->n)
        return;
    struct up_state *s = &u->st[i];
    if (s->active)
        s->active--;
    /* A trial that ended with neither ok nor fail (the client left first) proves nothing:
     * let another connection try. */
    s->trial = false;
}

void rs_upstream_fail(struct rs_upstreams *u, unsigned i, uint64_t now_ns)
{
    if (i >= u->n)
        return;
    const struct rs_relay_conf *c = u->conf;
    struct up_state *s = &u->st[i];
    if (c->max_fails == 0 || u->lone)
        return;
    if (s->out) {
        if (s->trial) { /* the trial failed: out for another fail timeout */
            s->trial = false;
            s->out_until_ns = now_ns + c->fail_timeout_ns;
        }
        return; /* else a connection begun before it went out */
    }
    if (s->fails == 0 || now_ns - s->fail_start_ns >= c->fail_timeout_ns) {
        s->fails = 0;
        s->fail_start_ns = now_ns;
    }
    if (++s->fails >= c->max_fails) {
        s->out = true;
        s->trial = false;
        s->out_until_ns = now_ns + c->fail_timeout_ns;
    }
}

void rs_upstream_ok(struct rs_upstreams *u, unsigned i, uint64_t now_ns)
{
    (void)now_ns;
    if (i >= u->n)
        return;
    struct up_state *s = &u->st[i];
    s->fails = 0;
    s->out = false;
    s->trial = false;
}

void rs_upstream_health(struct rs_upstreams *u, unsigned i, bool ok)
{
    if (i >= u->n)
        return;
    const struct rs_relay_conf *c = u->conf;
    struct up_state *s = &u->st[i];
    if (ok) {
        s->fall = 0;
        if (s->dead && ++s->rise >= c->health_rise) {
            s->dead = false;
            s->rise = 0;
        }
    } else {
        s->rise = 0;
        if (!s->dead && ++s->fall >= c->health_fall) {
            s->dead = true;
            s->fall = 0;
        }
    }
}

enum rs_upstream_state rs_upstream_state(const struct rs_upstreams *u, unsigned i, uint64_t now_ns)
{
    (void)now_ns;
    if (i >= u->n || u->conf->up[i].down)
        return RS_UP_DOWN;
    if (u->st[i].dead)
        return RS_UP_DEAD;
    if (u->st[i].out)
        return RS_UP_OUT;
    return RS_UP_UP;
}

uint32_t rs_upstream_active(const struct rs_upstreams *u, unsigned i)
{
    return i < u->n ? u->st[i].active : 0;
}

unsigned rs_upstream_count(const struct rs_upstreams *u)
{
    return u->n;
}

const struct rs_upstream_conf *rs_upstream_conf_at(const struct rs_upstreams *u, unsigned i)
{
    return i < u->n ? &u->conf->up[i] : NULL;
}
