#include "ringsock/core/timer.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "ringsock/util/alloc.h"

/* Layout: a 4-ary heap, the children of slot i at 4i+1..4i+4 and its parent at (i-1)/4. A
 * 4-ary heap is half as deep as a binary one, and with 16-byte slots the four children fill one
 * 64-byte cache line: the array is 64-byte aligned and ent points 3 slots into it, so slot
 * 4i+1 always starts a line. A sift then touches one line per level. */
#define HEAP_PAD      3u
#define HEAP_MIN_CAP  64u
#define HEAP_MAX_CAP  (1u << 28) /* keeps 4i+4 within 32 bits */
#define HEAP_CHILDREN 4u

_Static_assert(sizeof(void *) != 8 || sizeof(struct rs_timer_entry) * HEAP_CHILDREN == 64,
               "four heap slots fill one cache line");

void rs_timer_init(struct rs_timer *t, rs_timer_fn fn, void *arg)
{
    memset(t, 0, sizeof(*t));
    t->fn = fn;
    t->arg = arg;
}

/* Strict order: due time, then arm order (seq is unique, so no two entries tie). */
static inline bool ent_before(const struct rs_timer_entry *a, const struct rs_timer_entry *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->t->seq < b->t->seq);
}

static inline void heap_put(struct rs_timer_heap *h, uint32_t i, struct rs_timer_entry e)
{
    h->ent[i] = e;
    e.t->idx = i;
}

/* Places e at the hole i or above it. */
static void sift_up(struct rs_timer_heap *h, uint32_t i, struct rs_timer_entry e)
{
    while (i > 0) {
        uint32_t p = (i - 1) / HEAP_CHILDREN;
        if (!ent_before(&e, &h->ent[p]))
            break;
        heap_put(h, i, h->ent[p]);
        i = p;
    }
    heap_put(h, i, e);
}

/* Places e at the hole i or below it. */
static void sift_down(struct rs_timer_heap *h, uint32_t i, struct rs_timer_entry e)
{
    for (;;) {
        uint32_t c = HEAP_CHILDREN * i + 1;
        if (c >= h->len)
            break;
        uint32_t end = h->len - c > HEAP_CHILDREN ? c + HEAP_CHILDREN : h->len;
        uint32_t m = c;
        for (uint32_t k = c + 1; k < end; k++)
            if (ent_before(&h->ent[k], &h->ent[m]))
                m = k;
        if (!ent_before(&h->ent[m], &e))
            break;
        heap_put(h, i, h->ent[m]);
        i = m;
    }
    heap_put(h, i, e);
}

/* Puts e at hole i, moving it up or down as its due time requires. */
static void sift(struct rs_timer_heap *h, uint32_t i, struct rs_timer_entry e)
{
    if (i > 0 && ent_before(&e, &h->ent[(i - 1) / HEAP_CHILDREN]))
        sift_up(h, i, e);
    else
        sift_down(h, i, e);
}

/* Takes the entry at i out of the heap. */
static void heap_remove(struct rs_timer_heap *h, uint32_t i)
{
    h->len--;
    if (i < h->len)
        sift(h, i, h->ent[h->len]);
}

/* Doubles the array until it holds need slots. Returns 0 or -ENOMEM. */
static int heap_grow(struct rs_timer_heap *h, uint64_t need)
{
    uint64_t cap = h->cap ? h->cap : HEAP_MIN_CAP;
    while (cap < need)
        cap *= 2;
    if (cap > HEAP_MAX_CAP)
        return -ENOMEM;
    struct rs_timer_entry *base = rs_aligned_alloc(64, (cap + HEAP_PAD) * sizeof(*base));
    if (!base)
        return -ENOMEM;
    if (h->ent) {
        memcpy(base + HEAP_PAD, h->ent, h->len * sizeof(*base));
        rs_free(h->ent - HEAP_PAD);
    }
    h->ent = base + HEAP_PAD;
    h->cap = (uint32_t)cap;
    return 0;
}

int rs_timer_arm(struct rs_timer_heap *h, struct rs_timer *t, uint64_t due_ns)
{
    struct rs_timer_entry e = {.due_ns = due_ns, .t = t};
    if (t->armed) {
        t->due_ns = due_ns;
        t->seq = h->seq++;
        sift(h, t->idx, e);
        return 0;
    }
    if (h->len == h->cap) {
        int err = heap_grow(h, (uint64_t)h->len + 1);
        if (err < 0)
            return err;
    }
    t->due_ns = due_ns;
    t->seq = h->seq++;
    t->armed = true;
    sift_up(h, h->len++, e);
    return 0;
}

void rs_timer_disarm(struct rs_timer_heap *h, struct rs_timer *t)
{
    if (!t->armed)
        return;
    heap_remove(h, t->idx);
    t->armed = false;
}

int rs_timer_next_ms(const struct rs_timer_heap *h, uint64_t now_ns)
{
    if (h->len == 0)
        return -1;
    if (h->ent[0].due_ns <= now_ns)
        return 0;
    uint64_t ms = (h->ent[0].due_ns - now_ns + 999999) / 1000000;
    return ms > 3600000 ? 3600000 : (int)ms;
}

int64_t rs_timer_next_ns(const struct rs_timer_heap *h, uint64_t now_ns)
{
    if (h->len == 0)
        return -1;
    if (h->ent[0].due_ns <= now_ns)
        return 0;
    uint64_t ns = h->ent[0].due_ns - now_ns;
    return ns > 3600000000000ull ? 3600000000000ll : (int64_t)ns;
}

unsigned rs_timer_run(struct rs_timer_heap *h, uint64_t now_ns)
{
    unsigned ran = 0;
    while (h->len > 0 && h->ent[0].due_ns <= now_ns) {
        struct rs_timer *t = h->ent[0].t;
        heap_remove(h, 0);
        t->armed = false;
        t->fn(t, t->arg);
        ran++;
    }
    return ran;
}

int rs_timer_heap_reserve(struct rs_timer_heap *h, uint32_t n)
{
    uint64_t need = (uint64_t)h->reserved + n;
    if (need > h->cap) {
        int err = heap_grow(h, need);
        if (err < 0)
            return err;
    }
    h->reserved = (uint32_t)need;
    return 0;
}

void rs_timer_heap_unreserve(struct rs_timer_heap *h, uint32_t n)
{
    h->reserved = n < h->reserved ? h->reserved - n : 0;
}

void rs_timer_heap_fini(struct rs_timer_heap *h)
{
    if (h->ent)
        rs_free(h->ent - HEAP_PAD);
    memset(h, 0, sizeof(*h));
}
