#ifndef RINGSOCK_OUTQ_H
#define RINGSOCK_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Bytes a connection owes its peer, as a list of fixed-size chunks. Chunks come from a
 * per-thread cache, so steady-state appends allocate nothing, and an idle connection holds no
 * chunk. Bytes already handed to the kernel in a send stay where they are until consumed:
 * appending never moves them, so a send in flight may point into the queue. */
struct rs_chunk {
    struct rs_chunk *next;
    uint32_t start; /* first unsent byte */
    uint32_t end;   /* one past the last queued byte */
    char data[];
};

struct rs_chunk_cache {
    struct rs_chunk *free;
    uint32_t nfree;
    uint32_t max_free;   /* chunks kept for reuse; more are returned to the allocator */
    uint32_t chunk_size; /* bytes of data per chunk */
    uint64_t allocated;  /* chunks live (queued or cached), for memory accounting */
};

struct rs_outq {
    struct rs_chunk *head;
    struct rs_chunk *tail;
    size_t bytes;
};

/* chunk_size: data bytes per chunk. Where a chunk's header and data fill whole pages, chunks are
 * page-aligned: jemalloc gives a large allocation that is not one a page of padding (its
 * cache-oblivious offset), so a 16 KiB chunk would hold 20 KiB of memory. */
void rs_chunk_cache_init(struct rs_chunk_cache *cc, uint32_t chunk_size, uint32_t max_free);
void rs_chunk_cache_fini(struct rs_chunk_cache *cc);

/* Appends n bytes. Returns 0, or -ENOMEM with nothing appended. */
int rs_outq_append(struct rs_outq *q, struct rs_chunk_cache *cc, const void *p, size_t n);

/* Fills up to max iovecs with the queued bytes in order; returns the count, *total the bytes. */
unsigned rs_outq_iov(const struct rs_outq *q, struct iovec *iov, unsigned max, size_t *total);

/* Drops the first n bytes (n <= q->bytes), returning emptied chunks to the cache. */
void rs_outq_consume(struct rs_outq *q, struct rs_chunk_cache *cc, size_t n);

/* Drops everything. */
void rs_outq_clear(struct rs_outq *q, struct rs_chunk_cache *cc);

/* Memory one chunk takes: its header and chunk_size bytes of data. */
static inline size_t rs_chunk_cache_chunk_bytes(const struct rs_chunk_cache *cc)
{
    return sizeof(struct rs_chunk) + cc->chunk_size;
}

/* Bytes q's chunks hold from the start of the first one: what is owed, plus what of the first
 * chunk was sent already (a chunk is given back only once all of it was sent). Filled up to n
 * chunks' data, the queue holds n whole chunks. */
static inline size_t rs_outq_span(const struct rs_outq *q)
{
    return q->bytes + (q->head ? q->head->start : 0);
}

#endif
