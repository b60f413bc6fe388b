/* Per-key token buckets in a fixed, set-associative table (see ratetable.h). */

#include "ringsock/util/ratetable.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ringsock/util/alloc.h"

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

struct rs_rate_table *rs_rate_table_new(uint32_t rate, uint32_t entries)
{
    struct rs_rate_table *t = rs_calloc(1, sizeof(*t));
    if (!t || rate == 0)
        goto out_free;
    uint32_t nsets = 1;
    while ((uint64_t)nsets * RS_RATE_WAYS < entries && nsets < (1u << 24))
        nsets <<= 1;
    t->e = rs_calloc((size_t)nsets * RS_RATE_WAYS, sizeof(*t->e));
    if (!t->e)
        goto out_free;
    t->set_mask = nsets - 1;
    t->interval_ns = 1000000000ull / rate;
    if (t->interval_ns == 0)
        t->interval_ns = 1;
    t->burst_ns = (uint64_t)rate * t->interval_ns;
    /* A key the senders cannot guess; the clock is the fallback when getrandom fails. */
    if (getrandom(t->seed, sizeof(t->seed), GRND_NONBLOCK) != (ssize_t)sizeof(t->seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t->seed[0] = mix64((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)t);
        t->seed[1] = mix64((uint64_t)ts.tv_sec + t->seed[0]);
    }
    return t;

out_free:
    rs_rate_table_free(t);
    return NULL;
}

void rs_rate_table_free(struct rs_rate_table *t)
{
    if (!t)
        return;
    rs_free(t->e);
    rs_free(t);
}

struct rs_rate_entry *rs_rate_table_get(struct rs_rate_table *t, const uint64_t key[2],
                                        uint64_t now_ns)
{
    uint64_t h = mix64(key[0] ^ t->seed[0]) ^ mix64(key[1] ^ t->seed[1]);
    struct rs_rate_entry *set = &t->e[(size_t)(h & t->set_mask) * RS_RATE_WAYS];
    struct rs_rate_entry *victim = &set[0];
    for (unsigned i = 0; i < RS_RATE_WAYS; i++) {
        struct rs_rate_entry *e = &set[i];
        if (e->tat != 0 && e->key[0] == key[0] && e->key[1] == key[1])
            return e;
        if (e->tat < victim->tat)
            victim = e; /* the fullest bucket (an unused one first) */
    }
    victim->key[0] = key[0];
    victim->key[1] = key[1];
    victim->tat = now_ns; /* a full bucket */
    return victim;
}
