/* Labelled blocks: per-item counter rows (include/ringsock/util/counters_labelled.h). */

#include "ringsock/util/counters_labelled.h"

#include <string.h>

#include "ringsock/util/alloc.h"

struct rs_counter_lset {
    const struct rs_counter_lblock *b;
    const char *service;
    unsigned nitems, nworkers;
    unsigned nslots; /* counters of a row: the block's, the buckets, the sum */
    size_t stride;   /* bytes of a row, a multiple of 64 */
    char **values;
    unsigned char *storage;
};

struct rs_counter_lset *rs_counter_lset_new(const struct rs_counter_lblock *b, const char *service,
                                            const char *const *values, unsigned nitems,
                                            unsigned nworkers)
{
    if (b->hist && b->hist->nbounds > RS_COUNTER_HIST_MAX_BOUNDS)
        return NULL;
    struct rs_counter_lset *s = rs_calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->b = b;
    s->service = service;
    s->nitems = nitems;
    s->nworkers = nworkers;
    s->nslots = b->n + (b->hist ? b->hist->nbounds + 2 : 0);
    s->stride = (s->nslots * sizeof(uint64_t) + 63) / 64 * 64;
    s->values = rs_calloc(nitems ? nitems : 1, sizeof(*s->values));
    if (!s->values)
        goto out_free;
    for (unsigned i = 0; i < nitems; i++) {
        size_t n = strlen(values[i]) + 1;
        s->values[i] = rs_malloc(n);
        if (!s->values[i])
            goto out_free;
        memcpy(s->values[i], values[i], n);
    }
    size_t bytes = s->stride * nitems * nworkers;
    if (bytes) {
        s->storage = rs_aligned_alloc(64, bytes);
        if (!s->storage)
            goto out_free;
        memset(s->storage, 0, bytes);
    }
    return s;

out_free:
    rs_counter_lset_free(s);
    return NULL;
}

void rs_counter_lset_free(struct rs_counter_lset *s)
{
    if (!s)
        return;
    for (unsigned i = 0; s->values && i < s->nitems; i++)
        rs_free(s->values[i]);
    rs_free(s->values);
    rs_free(s->storage);
    rs_free(s);
}

_Atomic uint64_t *rs_counter_lset_row(const struct rs_counter_lset *s, unsigned worker,
                                      unsigned item)
{
    if (!s || worker >= s->nworkers || item >= s->nitems)
        return NULL;
    return (_Atomic uint64_t *)(s->storage + s->stride * ((size_t)worker * s->nitems + item));
}

static void add(_Atomic uint64_t *p, uint64_t v)
{
    atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

void rs_counter_lset_record(const struct rs_counter_lset *s, _Atomic uint64_t *row, uint64_t v)
{
    const struct rs_counter_hist *h = s->b->hist;
    if (!h || !row)
        return;
    unsigned lo = 0, hi = h->nbounds; /* the first bound >= v, or nbounds: +Inf */
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (h->bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    add(&row[s->b->n + lo], 1);
    add(&row[s->b->n + h->nbounds + 1], v);
}

const struct rs_counter_lblock *rs_counter_lset_block(const struct rs_counter_lset *s)
{
    return s->b;
}

const char *rs_counter_lset_service(const struct rs_counter_lset *s)
{
    return s->service;
}

unsigned rs_counter_lset_items(const struct rs_counter_lset *s)
{
    return s->nitems;
}

unsigned rs_counter_lset_workers(const struct rs_counter_lset *s)
{
    return s->nworkers;
}

const char *rs_counter_lset_value(const struct rs_counter_lset *s, unsigned item)
{
    return item < s->nitems ? s->values[item] : NULL;
}

uint64_t rs_counter_lset_get(const struct rs_counter_lset *s, unsigned worker, unsigned item,
                             unsigned k)
{
    _Atomic uint64_t *row = rs_counter_lset_row(s, worker, item);
    if (!row || k >= s->nslots)
        return 0;
    return atomic_load_explicit(&row[k], memory_order_relaxed);
}
