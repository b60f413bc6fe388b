/* The single-producer single-consumer byte ring (util/spsc.c): all-or-nothing pushes, a full
 * ring refusing, wrap-around in two spans, and a producer and a consumer thread moving a
 * checked sequence of records through a small ring (run under ThreadSanitizer too). */

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "ringsock/util/spsc.h"
#include "../check.h"

/* Takes everything waiting into out (at most size). Returns the bytes taken. */
static size_t take(struct rs_spsc *r, char *out, size_t size)
{
    const char *p1, *p2;
    size_t n1, n2;
    size_t n = rs_spsc_peek(r, &p1, &n1, &p2, &n2);
    CHECK(n <= size);
    if (n > size)
        return 0;
    memcpy(out, p1, n1);
    memcpy(out + n1, p2, n2);
    rs_spsc_consume(r, n);
    return n;
}

static void test_basic(void)
{
    struct rs_spsc r;
    char out[256];
    CHECK_EQ(rs_spsc_init(&r, 50), 0);
    CHECK_EQ(r.cap, 64); /* rounded up to a power of two, at least 64 */
    CHECK(rs_spsc_push(&r, "0123456789012345678901234567890123456789", 40));
    CHECK(!rs_spsc_push(&r, "abcdefghijklmnopqrstuvwxyz", 26)); /* 66 > 64: refused whole */
    CHECK(rs_spsc_push(&r, "abcdefghijklmnopqrstuvwx", 24));    /* exactly full */
    CHECK(!rs_spsc_push(&r, "y", 1));
    CHECK(!rs_spsc_push(&r, out, 65)); /* larger than the ring: never fits */
    CHECK_EQ(take(&r, out, sizeof(out)), 64);
    CHECK(memcmp(out, "0123456789012345678901234567890123456789abcdefghijklmnopqrstuvwx", 64) == 0);
    /* Now head and tail are at 64: a 40-byte push, a take, then a push that wraps. */
    CHECK(rs_spsc_push(&r, "0123456789012345678901234567890123456789", 40));
    CHECK_EQ(take(&r, out, sizeof(out)), 40);
    CHECK(rs_spsc_push(&r, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij", 36)); /* 104..140: wraps */
    const char *p1, *p2;
    size_t n1, n2;
    CHECK_EQ(rs_spsc_peek(&r, &p1, &n1, &p2, &n2), 36);
    CHECK_EQ(n1, 24); /* 104 % 64 = 40: 24 bytes to the end, 12 from the start */
    CHECK_EQ(n2, 12);
    CHECK(memcmp(p1, "ABCDEFGHIJKLMNOPQRSTUVWX", 24) == 0);
    CHECK(memcmp(p2, "YZabcdefghij", 12) == 0);
    rs_spsc_consume(&r, 10); /* partial consume, then the rest */
    CHECK_EQ(take(&r, out, sizeof(out)), 26);
    CHECK(memcmp(out, "KLMNOPQRSTUVWXYZabcdefghij", 26) == 0);
    CHECK_EQ(rs_spsc_peek(&r, &p1, &n1, &p2, &n2), 0);
    rs_spsc_fini(&r);
}

#define RECORDS 200000u

struct shared {
    struct rs_spsc r;
    _Atomic bool done;
    unsigned pushed, dropped; /* producer's own */
};

/* Records of 5..20 bytes: a 4-byte sequence number, then (seq + i) & 0xff, length from seq. */
static size_t record(uint32_t seq, unsigned char *b)
{
    size_t len = 5 + seq % 16;
    memcpy(b, &seq, 4);
    for (size_t i = 4; i < len; i++)
        b[i] = (unsigned char)(seq + i);
    return len;
}

static void *producer(void *arg)
{
    struct shared *s = arg;
    unsigned char b[32];
    for (uint32_t seq = 0; seq < RECORDS; seq++) {
        size_t len = record(seq, b);
        if (rs_spsc_push(&s->r, b, len))
            s->pushed++;
        else
            s->dropped++;
    }
    atomic_store_explicit(&s->done, true, memory_order_release);
    return NULL;
}

static void test_threads(void)
{
    struct shared s = {.pushed = 0};
    CHECK_EQ(rs_spsc_init(&s.r, 256), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, producer, &s), 0);
    /* The consumer parses records as they come: every one whole, in order, sequence rising. */
    unsigned char acc[512];
    size_t have = 0;
    unsigned got = 0, bad = 0;
    int64_t last = -1;
    for (;;) {
        bool done = atomic_load_explicit(&s.done, memory_order_acquire);
        have += take(&s.r, (char *)acc + have, sizeof(acc) - have);
        size_t off = 0;
        while (have - off >= 5) {
            uint32_t seq;
            memcpy(&seq, acc + off, 4);
            unsigned char want[32];
            size_t len = record(seq, want);
            if (have - off < len)
                break;
            if (memcmp(acc + off, want, len) != 0 || (int64_t)seq <= last)
                bad++;
            last = seq;
            got++;
            off += len;
        }
        memmove(acc, acc + off, have - off);
        have -= off;
        if (done && rs_spsc_peek(&s.r, &(const char *){0}, &(size_t){0}, &(const char *){0},
                                 &(size_t){0}) == 0)
            break;
    }
    pthread_join(t, NULL);
    CHECK_EQ(have, 0);
    CHECK_EQ(bad, 0);
    CHECK_EQ(got, s.pushed);
    CHECK_EQ(s.pushed + s.dropped, RECORDS);
    rs_spsc_fini(&s.r);
}

int main(void)
{
    test_basic();
    test_threads();
    return check_done("test_spsc");
}
