/* The single-producer single-consumer byte ring (spsc.h). */

#include <errno.h>
#include <string.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/spsc.h"

int rs_spsc_init(struct rs_spsc *r, size_t cap)
{
    size_t n = 64;
    while (n < cap)
        n *= 2;
    memset(r, 0, sizeof(*r));
    r->buf = rs_malloc(n);
    if (!r->buf)
        return -ENOMEM;
    r->cap = n;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}

void rs_spsc_fini(struct rs_spsc *r)
{
    rs_free(r->buf);
    r->buf = NULL;
}

bool rs_spsc_push(struct rs_spsc *r, const void *data, size_t len)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (len > r->cap)
        return false;
    if (head + len - r->tail_seen > r->cap) {
        /* Acquire: the consumer's reads of the bytes it gave back happened before. */
        r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head + len - r->tail_seen > r->cap)
            return false;
    }
    size_t off = (size_t)(head & (r->cap - 1)), first = r->cap - off;
    if (first > len)
        first = len;
    memcpy(r->buf + off, data, first);
    memcpy(r->buf, (const char *)data + first, len - first);
    atomic_store_explicit(&r->head, head + len, memory_order_release);
    return true;
}

size_t rs_spsc_peek(struct rs_spsc *r, const char **p1, size_t *n1, const char **p2, size_t *n2)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t n = (size_t)(head - tail), off = (size_t)(tail & (r->cap - 1));
    *p1 = r->buf + off;
    *n1 = n < r->cap - off ? n : r->cap - off;
    *p2 = r->buf;
    *n2 = n - *n1;
    return n;
}

void rs_spsc_consume(struct rs_spsc *r, size_t n)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
}
