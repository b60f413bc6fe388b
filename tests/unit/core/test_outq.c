#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ringsock/core/outq.h"

/* Drains q the way a socket with short writes would, returning the bytes in order. */
static size_t drain(struct rs_outq *q, struct rs_chunk_cache *cc, unsigned char *out, size_t cap,
                    unsigned max_iov, unsigned seed)
{
    size_t got = 0;
    struct iovec iov[8];
    while (q->bytes > 0) {
        size_t total;
        unsigned n = rs_outq_iov(q, iov, max_iov, &total);
        CHECK(n >= 1 && total > 0);
        seed = seed * 1103515245u + 12345u;
        size_t take = 1 + (seed >> 8) % total; /* a short "send" */
        size_t left = take;
        for (unsigned i = 0; i < n && left > 0; i++) {
            size_t k = left < iov[i].iov_len ? left : iov[i].iov_len;
            if (got + k > cap)
                return (size_t)-1;
            memcpy(out + got, iov[i].iov_base, k);
            got += k;
            left -= k;
        }
        rs_outq_consume(q, cc, take);
    }
    return got;
}

int main(void)
{
    struct rs_chunk_cache cc;
    struct rs_outq q = {0};
    rs_chunk_cache_init(&cc, 100, 4);

    enum { N = 20000 };
    unsigned char *src = malloc(N), *dst = malloc(N);
    for (size_t i = 0; i < N; i++)
        src[i] = (unsigned char)(i * 31 + (i >> 7));

    /* Appends of every size, interleaved with partial drains, keep the bytes in order. */
    size_t put = 0, got = 0;
    unsigned seed = 7;
    while (put < N) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 8) % 777;
        if (n > N - put)
            n = N - put;
        CHECK_EQ(rs_outq_append(&q, &cc, src + put, n), 0);
        put += n;
        CHECK_EQ(q.bytes, put - got);
        if ((seed >> 4) & 1) {
            size_t d = drain(&q, &cc, dst + got, N - got, 1 + (seed % 8), seed);
            got += d;
        }
    }
    got += drain(&q, &cc, dst + got, N - got, 8, 99);
    CHECK_EQ(got, N);
    CHECK(memcmp(src, dst, N) == 0);
    CHECK(q.head == NULL && q.tail == NULL && q.bytes == 0); /* idle: holds no chunk */
    CHECK(cc.nfree <= cc.max_free);
    CHECK_EQ(cc.allocated, cc.nfree);

    /* A send in flight keeps pointing at the same bytes while more is appended. */
    CHECK_EQ(rs_outq_append(&q, &cc, "hello", 5), 0);
    struct iovec iov[2];
    size_t total;
    CHECK_EQ(rs_outq_iov(&q, iov, 2, &total), 1);
    const char *inflight = iov[0].iov_base;
    CHECK_EQ(rs_outq_append(&q, &cc, src, 500), 0);
    CHECK(memcmp(inflight, "hello", 5) == 0);
    CHECK_EQ(q.bytes, 505);
    rs_outq_consume(&q, &cc, 5);
    CHECK_EQ(rs_outq_iov(&q, iov, 2, &total), 2);
    CHECK_EQ(total, 195); /* the rest of the first chunk (95) and all of the second (100) */
    CHECK_EQ(iov[0].iov_len, 95);
    CHECK(memcmp(iov[0].iov_base, src, 95) == 0);
    CHECK(memcmp(iov[1].iov_base, src + 95, 100) == 0);
    /* The span counts the sent head of the first chunk too: the memory the chunks hold. */
    CHECK_EQ(rs_outq_span(&q), 505);
    rs_outq_consume(&q, &cc, 95); /* the first chunk is given back: its sent part goes */
    CHECK_EQ(rs_outq_span(&q), 405);
    CHECK_EQ(rs_chunk_cache_chunk_bytes(&cc), sizeof(struct rs_chunk) + 100);
    rs_outq_clear(&q, &cc);
    CHECK_EQ(rs_outq_span(&q), 0);
    CHECK_EQ(q.bytes, 0);
    CHECK(q.head == NULL);

    /* A zero-length append is a no-op. */
    CHECK_EQ(rs_outq_append(&q, &cc, src, 0), 0);
    CHECK(q.head == NULL);

    rs_chunk_cache_fini(&cc);
    CHECK_EQ(cc.allocated, 0);
    free(src);
    free(dst);
    return check_done("test_outq");
}
