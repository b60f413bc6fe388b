/* The counter registry: blocks declared by their owners, per-worker storage for them, and the
 * printers that walk their descriptors. */

#include "ringsock/util/counters.h"

#include <inttypes.h>
#include <string.h>

#include "ringsock/util/alloc.h"

struct rs_counter_set {
    unsigned nworkers;
    unsigned nblocks;
    unsigned nslots;
    size_t stride; /* bytes of one worker's storage, a multiple of 64 */
    unsigned char *storage;
    struct {
        const struct rs_counter_block *b;
        size_t offset; /* in a worker's storage */
        unsigned slot; /* first counter in a reading */
        bool active;
    } blocks[RS_COUNTER_MAX_BLOCKS];
};

static size_t round64(size_t n)
{
    return (n + 63) / 64 * 64;
}

static int find(const struct rs_counter_set *s, const struct rs_counter_block *b)
{
    for (unsigned i = 0; i < s->nblocks; i++)
        if (s->blocks[i].b == b)
            return (int)i;
    return -1;
}

struct rs_counter_set *rs_counter_set_new(const struct rs_counter_block *const *blocks, unsigned n,
                                          unsigned nworkers)
{
    struct rs_counter_set *s = rs_calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->nworkers = nworkers;
    for (unsigned i = 0; i < n; i++) {
        if (find(s, blocks[i]) >= 0)
            continue;
        if (s->nblocks == RS_COUNTER_MAX_BLOCKS)
            goto out_free;
        s->blocks[s->nblocks].b = blocks[i];
        s->blocks[s->nblocks].offset = s->stride;
        s->blocks[s->nblocks].slot = s->nslots;
        s->nblocks++;
        s->stride += round64(blocks[i]->size);
        s->nslots += blocks[i]->n;
    }
    if (nworkers && s->stride) {
        s->storage = rs_aligned_alloc(64, s->stride * nworkers);
        if (!s->storage)
            goto out_free;
        memset(s->storage, 0, s->stride * nworkers);
    }
    return s;

out_free:
    rs_free(s);
    return NULL;
}

void rs_counter_set_free(struct rs_counter_set *s)
{
    if (!s)
        return;
    rs_free(s->storage);
    rs_free(s);
}

static _Atomic uint64_t *storage_of(const struct rs_counter_set *s, unsigned worker, unsigned i)
{
    return (_Atomic uint64_t *)(s->storage + s->stride * worker + s->blocks[i].offset);
}

_Atomic uint64_t *rs_counter_set_block(const struct rs_counter_set *s, unsigned worker,
                                       const struct rs_counter_block *b)
{
    int i = find(s, b);
    if (i < 0 || worker >= s->nworkers)
        return NULL;
    return storage_of(s, worker, (unsigned)i);
}

void rs_counter_set_activate(struct rs_counter_set *s, const struct rs_counter_block *b)
{
    int i = find(s, b);
    if (i >= 0)
        s->blocks[i].active = true;
}

unsigned rs_counter_set_workers(const struct rs_counter_set *s)
{
    return s->nworkers;
}

unsigned rs_counter_set_nblocks(const struct rs_counter_set *s)
{
    return s->nblocks;
}

const struct rs_counter_block *rs_counter_set_block_at(const struct rs_counter_set *s, unsigned i)
{
    return s->blocks[i].b;
}

bool rs_counter_set_is_active(const struct rs_counter_set *s, unsigned i)
{
    return s->blocks[i].active;
}

unsigned rs_counter_set_nslots(const struct rs_counter_set *s)
{
    return s->nslots;
}

unsigned rs_counter_set_slot(const struct rs_counter_set *s, unsigned i)
{
    return s->blocks[i].slot;
}

static uint64_t value(const struct rs_counter_set *s, unsigned worker, unsigned i, unsigned idx)
{
    return atomic_load_explicit(&storage_of(s, worker, i)[idx], memory_order_relaxed);
}

/* The workers' values of a counter together: their sum, or the largest for RS_CTR_MAX. */
static uint64_t total(const struct rs_counter_set *s, unsigned i, unsigned idx)
{
    bool max = s->blocks[i].b->desc[idx].flags & RS_CTR_MAX;
    uint64_t v = 0;
    for (unsigned w = 0; w < s->nworkers; w++) {
        uint64_t x = value(s, w, i, idx);
        v = max ? (x > v ? x : v) : v + x;
    }
    return v;
}

void rs_counter_set_read(const struct rs_counter_set *s, unsigned worker, uint64_t *out)
{
    for (unsigned i = 0; i < s->nblocks; i++) {
        const _Atomic uint64_t *v = storage_of(s, worker, i);
        uint64_t *o = out + s->blocks[i].slot;
        for (unsigned k = s->blocks[i].b->n; k-- > 0;)
            o[k] = atomic_load_explicit(&v[k], memory_order_relaxed);
    }
}

void rs_counter_set_print_totals(const struct rs_counter_set *s, FILE *f)
{
    const char *sep = "";
    for (unsigned i = 0; i < s->nblocks; i++) {
        const struct rs_counter_block *b = s->blocks[i].b;
        for (unsigned k = 0; k < b->n; k++) {
            fprintf(f, "%s%s=%" PRIu64, sep, b->desc[k].name, total(s, i, k));
            sep = " ";
        }
    }
}

void rs_counter_set_print_worker(const struct rs_counter_set *s, unsigned worker, FILE *f)
{
    const char *sep = "";
    for (unsigned i = 0; i < s->nblocks; i++) {
        const struct rs_counter_block *b = s->blocks[i].b;
        if (!s->blocks[i].active)
            continue;
        for (unsigned k = 0; k < b->n; k++) {
            if (!(b->desc[k].flags & RS_CTR_WORKER))
                continue;
            fprintf(f, "%s%s=%" PRIu64, sep, b->desc[k].name, value(s, worker, i, k));
            sep = " ";
        }
    }
}

void rs_counter_set_list(const struct rs_counter_set *s, FILE *f)
{
    for (unsigned i = 0; i < s->nblocks; i++) {
        const struct rs_counter_block *b = s->blocks[i].b;
        for (unsigned k = 0; k < b->n; k++)
            fprintf(f, "%s %s %s %s\n", b->name, b->desc[k].name,
                    b->desc[k].kind == RS_KIND_GAUGE ? "gauge" : "counter", b->desc[k].help);
    }
}
