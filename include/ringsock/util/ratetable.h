#ifndef RINGSOCK_UTIL_RATETABLE_H
#define RINGSOCK_UTIL_RATETABLE_H

#include <stdbool.h>
#include <stdint.h>

/* A token bucket per key (a 16-byte address) in a fixed-size table: `rate` events a second with
 * a burst of `rate`. The table is allocated once and never grows; a lookup is O(1) (one set of
 * RS_RATE_WAYS entries, chosen by a keyed hash with a random key per table, so a sender cannot
 * aim many addresses at one set); a key not in its set replaces the set's entry whose bucket is
 * fullest, which loses nothing when that bucket is full already (a full bucket and a fresh
 * entry are the same). Each bucket is kept as GCRA's theoretical arrival time: one u64. Owned by
 * one thread. */

#define RS_RATE_WAYS 4

struct rs_rate_entry {
    uint64_t key[2];
    uint64_t tat; /* theoretical arrival time, ns; 0: unused */
};

struct rs_rate_table {
    struct rs_rate_entry *e; /* nsets * RS_RATE_WAYS */
    uint32_t set_mask;       /* nsets - 1 */
    uint64_t interval_ns;    /* 1 s / rate */
    uint64_t burst_ns;       /* rate * interval_ns: how far tat may run ahead of now */
    uint64_t seed[2];
};

/* A table of at least `entries` entries (rounded up to a power of two, at least RS_RATE_WAYS)
 * for `rate` (> 0) events a second per key. NULL on no memory. */
struct rs_rate_table *rs_rate_table_new(uint32_t rate, uint32_t entries);
void rs_rate_table_free(struct rs_rate_table *t);

/* The entry of key at now_ns (monotonic, > 0): found, or made with a full bucket. Valid until
 * the next call on t. */
struct rs_rate_entry *rs_rate_table_get(struct rs_rate_table *t, const uint64_t key[2],
                                        uint64_t now_ns);

/* True if e's bucket holds a token at now_ns. */
static inline bool rs_rate_entry_ok(const struct rs_rate_table *t, const struct rs_rate_entry *e,
                                    uint64_t now_ns)
{
    uint64_t base = e->tat > now_ns ? e->tat : now_ns;
    return base + t->interval_ns - now_ns <= t->burst_ns;
}

/* Takes one token from e's bucket (rs_rate_entry_ok said there is one). */
static inline void rs_rate_entry_take(const struct rs_rate_table *t, struct rs_rate_entry *e,
                                      uint64_t now_ns)
{
    e->tat = (e->tat > now_ns ? e->tat : now_ns) + t->interval_ns;
}

#endif
