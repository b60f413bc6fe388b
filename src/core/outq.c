#include "ringsock/core/outq.h"

#include <errno.h>
#include <string.h>

#include "ringsock/util/alloc.h"

#define OUTQ_PAGE 4096u

void rs_chunk_cache_init(struct rs_chunk_cache *cc, uint32_t chunk_size, uint32_t max_free)
{
    memset(cc, 0, sizeof(*cc));
    cc->chunk_size = chunk_size;
    cc->max_free = max_free;
}

void rs_chunk_cache_fini(struct rs_chunk_cache *cc)
{
    while (cc->free) {
        struct rs_chunk *ch = cc->free;
        cc->free = ch->next;
        rs_free(ch);
        cc->allocated--;
    }
    cc->nfree = 0;
}

static struct rs_chunk *chunk_get(struct rs_chunk_cache *cc)
{
    struct rs_chunk *ch = cc->free;
    if (ch) {
        cc->free = ch->next;
        cc->nfree--;
    } else {
        size_t n = rs_chunk_cache_chunk_bytes(cc);
        ch = n % OUTQ_PAGE == 0 ? rs_aligned_alloc(OUTQ_PAGE, n) : rs_malloc(n);
        if (!ch)
            return NULL;
        cc->allocated++;
    }
    ch->next = NULL;
    ch->start = ch->end = 0;
    return ch;
}

static void chunk_put(struct rs_chunk_cache *cc, struct rs_chunk *ch)
{
    if (cc->nfree >= cc->max_free) {
        rs_free(ch);
        cc->allocated--;
        return;
    }
    ch->next = cc->free;
    cc->free = ch;
    cc->nfree++;
}

int rs_outq_append(struct rs_outq *q, struct rs_chunk_cache *cc, const void *p, size_t n)
{
    const char *src = p;
    struct rs_chunk *first_new = NULL, *last_new = NULL;
    size_t room = q->tail ? cc->chunk_size - q->tail->end : 0;
    size_t in_tail = n < room ? n : room;

    /* Allocate every chunk needed before touching the queue, so failure appends nothing. */
    for (size_t left = n - in_tail; left > 0;) {
        struct rs_chunk *ch = chunk_get(cc);
        if (!ch)
            goto out_free_new;
        size_t take = left < cc->chunk_size ? left : cc->chunk_size;
        ch->end = (uint32_t)take;
        left -= take;
        if (last_new)
            last_new->next = ch;
        else
            first_new = ch;
        last_new = ch;
    }
    if (in_tail) {
        memcpy(q->tail->data + q->tail->end, src, in_tail);
        q->tail->end += (uint32_t)in_tail;
        src += in_tail;
    }
    for (struct rs_chunk *ch = first_new; ch; ch = ch->next) {
        memcpy(ch->data, src, ch->end);
        src += ch->end;
    }
    if (first_new) {
        if (q->tail)
            q->tail->next = first_new;
        else
            q->head = first_new;
        q->tail = last_new;
    }
    q->bytes += n;
    return 0;

out_free_new:
    while (first_new) {
        struct rs_chunk *next = first_new->next;
        chunk_put(cc, first_new);
        first_new = next;
    }
    return -ENOMEM;
}

unsigned rs_outq_iov(const struct rs_outq *q, struct iovec *iov, unsigned max, size_t *total)
{
    unsigned n = 0;
    size_t sum = 0;
    for (struct rs_chunk *ch = q->head; ch && n < max; ch = ch->next) {
        if (ch->end == ch->start)
            continue;
        iov[n].iov_base = ch->data + ch->start;
        iov[n].iov_len = ch->end - ch->start;
        sum += iov[n].iov_len;
        n++;
    }
    *total = sum;
    return n;
}

void rs_outq_consume(struct rs_outq *q, struct rs_chunk_cache *cc, size_t n)
{
    q->bytes -= n;
    while (n > 0 && q->head) {
        struct rs_chunk *ch = q->head;
        size_t avail = ch->end - ch->start;
        size_t take = n < avail ? n : avail;
        ch->start += (uint32_t)take;
        n -= take;
        if (ch->start == ch->end) {
            q->head = ch->next;
            if (!q->head)
                q->tail = NULL;
            chunk_put(cc, ch);
        }
    }
}

void rs_outq_clear(struct rs_outq *q, struct rs_chunk_cache *cc)
{
    while (q->head) {
        struct rs_chunk *ch = q->head;
        q->head = ch->next;
        chunk_put(cc, ch);
    }
    q->tail = NULL;
    q->bytes = 0;
}
