#ifndef RINGSOCK_COUNTERS_H
#define RINGSOCK_COUNTERS_H

/* Counters by owner. Whoever counts (the loop, the datagram layer, a service) declares its
 * counters once, as an X-macro list, and from that list gets a struct of _Atomic uint64_t (the
 * names its code increments) and a block of descriptors (what every printer walks: the exit
 * totals, the per-worker lines, --stats, later /metrics). No printer lists counter names.
 *
 * Each counter has one writer, its worker's thread; readers on other threads use relaxed loads,
 * so an increment is a plain load and store at a fixed offset, no locked instruction and no
 * lookup at run time. A worker's storage for a block is an array of _Atomic uint64_t in
 * descriptor order, 64-byte aligned, which the owner reads through its struct.
 *
 * Declaring a block (X(name, kind, flags, help), kind COUNTER or GAUGE):
 *
 *     #define HTTP_COUNTERS(X)                                                         \
 *         X(http_requests, COUNTER, RS_CTR_WORKER, "requests answered")               \
 *         X(http_errors, COUNTER, 0, "requests answered with an error")
 *     RS_COUNTER_STRUCT(http_counters, HTTP_COUNTERS);
 *     static const struct rs_counter_desc http_desc[] = {HTTP_COUNTERS(RS_COUNTER_DESC)};
 *     RS_COUNTER_CHECK(struct http_counters, http_desc);
 *     const struct rs_counter_block http_block = RS_COUNTER_BLOCK("http", struct http_counters,
 *                                                                 http_desc, NULL, 0);
 *     ...
 *     RS_STAT_INC(w->ctr, http_requests);
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum rs_counter_kind {
    RS_KIND_COUNTER, /* only grows: an interval shows its increase */
    RS_KIND_GAUGE,   /* goes up and down: an interval shows its value */
};

/* Descriptor flags. */
#define RS_CTR_WORKER 1u /* shown on each worker's line at exit (when its block is active) */
#define RS_CTR_MAX                                                                                 \
    2u /* a gauge that only rises (a high-water mark): the totals show the                         \
          largest worker's value, not the sum */

#define RS_CTR_PROCESS                                                                             \
    4u /* one value for the whole process, kept in worker 0's storage by one writer (the main      \
          thread): /metrics shows it without a worker label */

struct rs_counter_desc {
    const char *name; /* as users see it: key of the totals line, later the metric's name */
    const char *help; /* one line: what it counts */
    enum rs_counter_kind kind;
    unsigned flags;
};

/* How a column of the --stats lines shows its counters over an interval. */
enum rs_live_show {
    RS_LIVE_LEVEL, /* value now: plus minus minus, never below 0 (open connections) */
    RS_LIVE_DELTA, /* plus's increase over the interval (a gauge: its value now) */
    RS_LIVE_RATE,  /* plus's increase per second */
    RS_LIVE_MEAN,  /* plus's increase over minus's increase (events per batch) */
};

/* A column of the --stats lines. Blocks that declare a column of the same name share it: its
 * terms add up (messages are TCP receives plus datagrams), and it sits where it was first
 * declared, with that declaration's show and decimals. */
struct rs_live_col {
    const char *name;
    enum rs_live_show show;
    unsigned decimals; /* RATE and MEAN */
    int plus;          /* index of a counter in the block */
    int minus;         /* LEVEL: subtracted; MEAN: the denominator; otherwise -1 */
};

/* A block of counters, declared by its owner (static storage). */
struct rs_counter_block {
    const char *name; /* the owner: "loop", "dgram", "http", ... */
    const struct rs_counter_desc *desc;
    unsigned n;
    size_t size; /* bytes of one worker's block: sizeof its struct, a multiple of 64 */
    const struct rs_live_col *live;
    unsigned nlive;
};

#define RS__COUNTER_FIELD(name, kind, flags, help) _Atomic uint64_t name;
#define RS_COUNTER_DESC(name, kind, flags, help)   {#name, help, RS_KIND_##kind, flags},

/* struct tag: one _Atomic uint64_t per counter of LIST, in order; 64-byte aligned and padded. */
#define RS_COUNTER_STRUCT(tag, LIST)                                                               \
    struct tag {                                                                                   \
        LIST(RS__COUNTER_FIELD)                                                                    \
    } __attribute__((aligned(64)))

/* Index of a counter in its block, for rs_live_col. */
#define RS_COUNTER_INDEX(type, field) ((int)(offsetof(type, field) / sizeof(_Atomic uint64_t)))

#define RS_COUNTER_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The block of a struct made by RS_COUNTER_STRUCT and its descriptors (an array made with
 * RS_COUNTER_DESC from the same list); live may be NULL with nlive 0. */
#define RS_COUNTER_BLOCK(bname, type, descs, cols, ncols)                                          \
    {                                                                                              \
        .name = (bname), .desc = (descs), .n = RS_COUNTER_NELEM(descs), .size = sizeof(type),      \
        .live = (cols), .nlive = (ncols),                                                          \
    }

/* The struct holds exactly its descriptors' counters, in order (every member has the same type,
 * so there is no padding between them; only the tail is padded to 64 bytes). */
#define RS_COUNTER_CHECK(type, descs)                                                              \
    _Static_assert(sizeof(type) ==                                                                 \
                       (RS_COUNTER_NELEM(descs) * sizeof(_Atomic uint64_t) + 63) / 64 * 64,        \
                   #type " and its descriptors differ")

_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t), "a counter is 8 bytes");

/* Increments by the one writer: relaxed load and store, no read-modify-write. */
#define RS_STAT_ADD(st, field, n)                                                                  \
    atomic_store_explicit(&(st)->field,                                                            \
                          atomic_load_explicit(&(st)->field, memory_order_relaxed) + (n),          \
                          memory_order_relaxed)
#define RS_STAT_INC(st, field) RS_STAT_ADD(st, field, 1)
/* Gauges: the writer stores the value. */
#define RS_STAT_SET(st, field, v) atomic_store_explicit(&(st)->field, (v), memory_order_relaxed)
/* RS_CTR_MAX gauges: the writer raises the value to v if v is larger. */
#define RS_STAT_MAX(st, field, v)                                                                  \
    do {                                                                                           \
        uint64_t rs__v = (v);                                                                      \
        if (rs__v > atomic_load_explicit(&(st)->field, memory_order_relaxed))                      \
            RS_STAT_SET(st, field, rs__v);                                                         \
    } while (0)

/* A counter set: the blocks a program counts with, in the order it prints them, and every
 * worker's storage for them. Blocks are registered at creation; storage is zeroed. */
struct rs_counter_set;

#define RS_COUNTER_MAX_BLOCKS 16

/* Makes a set of the n blocks (a block listed twice is kept once, where it first appears) for
 * nworkers workers (0: descriptors only, no storage). NULL when memory is short or there are
 * more than RS_COUNTER_MAX_BLOCKS blocks. */
struct rs_counter_set *rs_counter_set_new(const struct rs_counter_block *const *blocks, unsigned n,
                                          unsigned nworkers);
void rs_counter_set_free(struct rs_counter_set *s);

/* A worker's storage for block b (cast it to the owner's struct), NULL if b is not in s. */
_Atomic uint64_t *rs_counter_set_block(const struct rs_counter_set *s, unsigned worker,
                                       const struct rs_counter_block *b);

/* Marks b active: used by this run, so its columns appear in --stats and its RS_CTR_WORKER
 * counters on the worker lines. Every block is in the totals, active or not. */
void rs_counter_set_activate(struct rs_counter_set *s, const struct rs_counter_block *b);

unsigned rs_counter_set_workers(const struct rs_counter_set *s);
unsigned rs_counter_set_nblocks(const struct rs_counter_set *s);
const struct rs_counter_block *rs_counter_set_block_at(const struct rs_counter_set *s, unsigned i);
bool rs_counter_set_is_active(const struct rs_counter_set *s, unsigned i);
/* Counters of every block together (the length of a reading). */
unsigned rs_counter_set_nslots(const struct rs_counter_set *s);
/* Where block i's counters start in a reading. */
unsigned rs_counter_set_slot(const struct rs_counter_set *s, unsigned i);

/* Reads every counter of a worker into out[rs_counter_set_nslots()]. Each block is read from
 * its last counter to its first, so a counter declared after one it never exceeds (closed
 * after accepted) is read first and their difference does not go below zero. */
void rs_counter_set_read(const struct rs_counter_set *s, unsigned worker, uint64_t *out);

/* Prints "name=value" pairs separated by spaces, no newline: every counter of every block,
 * summed over workers, or their largest value for RS_CTR_MAX (the exit totals). */
void rs_counter_set_print_totals(const struct rs_counter_set *s, FILE *f);
/* The same for one worker: its RS_CTR_WORKER counters of the active blocks. */
void rs_counter_set_print_worker(const struct rs_counter_set *s, unsigned worker, FILE *f);

/* Lists every counter, one a line: "block name counter|gauge help". */
void rs_counter_set_list(const struct rs_counter_set *s, FILE *f);

#endif
