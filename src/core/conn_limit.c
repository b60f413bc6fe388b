/* Connections per source address (--max-conns-per-ip), per worker: a chained hash table of the
 * addresses with open accepted connections and their counts, allocated once when the first
 * listener starts and never again. Exact across workers only because each source address is
 * steered to one worker (rs_net_reuseport_steer); this table sees only its worker's. */

#include "conn_limit.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "ringsock/util/alloc.h"

#define NIL UINT32_MAX

/* An address with open connections. IPv4 is kept IPv4-mapped (::ffff:a.b.c.d), so a peer
 * counts once whether it came in on an IPv4 or a dual-stack IPv6 listener. */
struct node {
    unsigned char key[16];
    uint32_t count;
    uint32_t next; /* in its bucket's chain, or on the free list */
};

struct rs_conn_limit {
    uint32_t limit;
    uint32_t mask; /* buckets - 1 */
    uint64_t seed[2];
    uint32_t *bucket; /* first node of each chain, or NIL */
    struct node *node;
    uint32_t free; /* first free node */
};

struct rs_conn_limit *rs__conn_limit_new(uint32_t limit, uint32_t max_conns)
{
    /* One node per open connection at most; at least as many buckets as nodes (load <= 1). */
    uint32_t nb = 1;
    while (nb < max_conns)
        nb <<= 1;
    struct rs_conn_limit *t = rs_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->limit = limit;
    t->mask = nb - 1;
    t->bucket = rs_malloc((size_t)nb * sizeof(*t->bucket));
    t->node = rs_malloc((size_t)max_conns * sizeof(*t->node));
    if (!t->bucket || !t->node) {
        rs__conn_limit_free(t);
        return NULL;
    }
    memset(t->bucket, 0xff, (size_t)nb * sizeof(*t->bucket));
    for (uint32_t i = 0; i < max_conns; i++)
        t->node[i].next = i + 1 < max_conns ? i + 1 : NIL;
    t->free = 0;
    /* A random seed: a peer cannot pick addresses that all land in one chain. */
    if (getrandom(t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed)) {
        t->seed[0] = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
        t->seed[1] = (uint64_t)(uintptr_t)t->node * 0xbf58476d1ce4e5b9ull;
    }
    return t;
}

void rs__conn_limit_free(struct rs_conn_limit *t)
{
    if (!t)
        return;
    rs_free(t->bucket);
    rs_free(t->node);
    rs_free(t);
}

static uint32_t hash(const struct rs_conn_limit *t, const unsigned char key[16])
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    uint64_t h = (a ^ t->seed[0]) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    h = (h ^ b ^ t->seed[1]) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return (uint32_t)h & t->mask;
}

/* The address of a connected socket as a 16-byte key. Returns 0 or -errno. */
static int peer_key(int fd, unsigned char key[16])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    } else if (ss.ss_family == AF_INET) {
        memset(key, 0, 10);
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
    } else {
        return -EAFNOSUPPORT; /* AF_UNIX and the like: no address to limit */
    }
    return 0;
}

int rs__conn_limit_take(struct rs_conn_limit *t, int fd, uint32_t *slot)
{
    unsigned char key[16] = {0};
    *slot = 0;
    int err = peer_key(fd, key);
    if (err == -EAFNOSUPPORT)
        return 0;
    if (err < 0)
        return err; /* ENOTCONN: reset before we got to it */
    return rs__conn_limit_take_key(t, key, slot);
}

int rs__conn_limit_take_key(struct rs_conn_limit *t, const unsigned char key[16], uint32_t *slot)
{
    *slot = 0;
    uint32_t b = hash(t, key), i;
    for (i = t->bucket[b]; i != NIL; i = t->node[i].next)
        if (memcmp(t->node[i].key, key, 16) == 0)
            break;
    if (i == NIL) {
        i = t->free;
        if (i == NIL) /* more open connections than max_conns: the loop refuses those first */
            return -ENOSPC;
        t->free = t->node[i].next;
        memcpy(t->node[i].key, key, 16);
        t->node[i].count = 0;
        t->node[i].next = t->bucket[b];
        t->bucket[b] = i;
    }
    if (t->node[i].count >= t->limit)
        return -EDQUOT;
    t->node[i].count++;
    *slot = i + 1;
    return 0;
}

void rs__conn_limit_put(struct rs_conn_limit *t, uint32_t slot)
{
    uint32_t i = slot - 1;
    if (--t->node[i].count > 0)
        return;
    uint32_t *link = &t->bucket[hash(t, t->node[i].key)];
    while (*link != i)
        link = &t->node[*link].next;
    *link = t->node[i].next;
    t->node[i].next = t->free;
    t->free = i;
}
