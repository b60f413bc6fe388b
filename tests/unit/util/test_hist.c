#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ringsock/util/hist.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: deterministic, good enough for test data. */
static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1). */
static double rng_unit(void)
{
    return (double)(rng_next() >> 11) * 0x1.0p-53;
}

/* Log-uniform in [1, max]. */
static uint64_t rng_log_uniform(uint64_t max)
{
    uint64_t v = (uint64_t)exp(rng_unit() * log((double)max));
    return v < 1 ? 1 : (v > max ? max : v);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* True if got is the bucket-equivalent report of want: want <= got <= want * (1 + 1/1024). */
static int within_resolution(uint64_t got, uint64_t want)
{
    return got >= want && got - want <= want / 1024;
}

static int same_hist(const struct rs_hist *a, const struct rs_hist *b)
{
    return a->sub_bits == b->sub_bits && a->nbuckets == b->nbuckets &&
           a->max_value == b->max_value && a->total == b->total && a->overflow == b->overflow &&
           a->min == b->min && a->max == b->max && a->sum == b->sum && a->sumsq == b->sumsq &&
           memcmp(a->counts, b->counts, a->nbuckets * sizeof(*a->counts)) == 0;
}

static const double pcts[] = {0, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999, 100};
#define NPCTS (sizeof(pcts) / sizeof(pcts[0]))

static void test_init(void)
{
    struct rs_hist h;
    CHECK_EQ(rs_hist_init(&h, 0), -EINVAL);
    rs_hist_fini(&h); /* safe after a failed init */
    CHECK_EQ(rs_hist_init(&h, RS_HIST_VALUE_LIMIT + 1), -EINVAL);
    CHECK_EQ(rs_hist_init_layout(&h, 1000, 0), -EINVAL);
    CHECK_EQ(rs_hist_init_layout(&h, 1000, RS_HIST_SUB_BITS_MAX + 1), -EINVAL);

    CHECK_EQ(rs_hist_init(&h, RS_HIST_DEFAULT_MAX), 0);
    CHECK_EQ(h.sub_bits, 10);
    /* 3.6e12 has msb 41: shift 31, sub-bucket 3.6e12 >> 31 = 1676. */
    CHECK_EQ(h.nbuckets, 31 * 1024 + 1676 + 1);
    CHECK(h.nbuckets * sizeof(uint64_t) <= 280 * 1024);
    CHECK_EQ(rs_hist_bucket_index(&h, RS_HIST_DEFAULT_MAX), h.nbuckets - 1);
    CHECK(rs_hist_bucket_high(&h, h.nbuckets - 1) >= RS_HIST_DEFAULT_MAX);
    CHECK_EQ(h.total, 0);
    rs_hist_fini(&h);
    rs_hist_fini(&h); /* twice is fine */

    CHECK_EQ(rs_hist_init(&h, 1), 0); /* tiny layouts work: buckets 0 and 1 */
    CHECK_EQ(h.nbuckets, 2);
    rs_hist_fini(&h);
}

static void test_small_exact(void)
{
    struct rs_hist h;
    CHECK_EQ(rs_hist_init(&h, RS_HIST_DEFAULT_MAX), 0);
    for (uint64_t v = 0; v < 2048; v++) {
        uint32_t idx = rs_hist_bucket_index(&h, v);
        CHECK_EQ(idx, v);
        CHECK_EQ(rs_hist_bucket_low(&h, idx), v);
        CHECK_EQ(rs_hist_bucket_high(&h, idx), v);
    }
    /* Values 1..1000: every percentile is exact, including the awkward p99.9 rank. */
    for (uint64_t v = 1; v <= 1000; v++)
        rs_hist_record(&h, v);
    CHECK_EQ(rs_hist_percentile(&h, 50), 500);
    CHECK_EQ(rs_hist_percentile(&h, 99), 990);
    CHECK_EQ(rs_hist_percentile(&h, 99.9), 999);
    CHECK_EQ(rs_hist_percentile(&h, 0.1), 1);
    CHECK_EQ(rs_hist_percentile(&h, 0.05), 1);
    CHECK_EQ(rs_hist_percentile(&h, 0.15), 2);
    CHECK_EQ(rs_hist_percentile(&h, 0), 1);
    CHECK_EQ(rs_hist_percentile(&h, 100), 1000);
    CHECK_EQ(rs_hist_percentile(&h, -5), 1);
    CHECK_EQ(rs_hist_percentile(&h, 250), 1000);
    CHECK_EQ(rs_hist_percentile(&h, NAN), 1);
    CHECK(rs_hist_mean(&h) == 500.5);
    CHECK(fabs(rs_hist_stddev(&h) - sqrt((1000.0 * 1000.0 - 1) / 12)) < 1e-9);
    CHECK(rs_hist_cdf(&h, 0) == 0.0);
    CHECK(rs_hist_cdf(&h, 500) == 0.5);
    CHECK(rs_hist_cdf(&h, 1000) == 1.0);
    CHECK(rs_hist_cdf(&h, UINT64_MAX) == 1.0);

    /* Value 0 is allowed. */
    rs_hist_reset(&h);
    rs_hist_record(&h, 0);
    CHECK_EQ(h.counts[0], 1);
    CHECK_EQ(rs_hist_percentile(&h, 50), 0);
    CHECK_EQ(rs_hist_percentile(&h, 100), 0);
    rs_hist_fini(&h);
}

/* Every bucket: bounds contiguous and increasing, index(low) = index(high) = idx, width within
 * 1/2^sub_bits of low. */
static void check_layout(uint64_t max_value, uint32_t sub_bits)
{
    struct rs_hist h;
    CHECK_EQ(rs_hist_init_layout(&h, max_value, sub_bits), 0);
    uint64_t next = 0;
    int bad = 0;
    for (uint32_t idx = 0; idx < h.nbuckets && bad < 5; idx++) {
        uint64_t lo = rs_hist_bucket_low(&h, idx), hi = rs_hist_bucket_high(&h, idx);
        int ok = lo == next && hi >= lo && rs__hist_index(sub_bits, lo) == idx &&
                 rs__hist_index(sub_bits, hi) == idx && (hi - lo) <= (lo >> sub_bits);
        if (idx + 1 < h.nbuckets)
            ok = ok && rs_hist_bucket_index(&h, hi) == idx;
        if (!ok) {
            fprintf(stderr, "layout(%llu, %u): bucket %u = [%llu, %llu], expected low %llu\n",
                    (unsigned long long)max_value, sub_bits, idx, (unsigned long long)lo,
                    (unsigned long long)hi, (unsigned long long)next);
            check_failures++;
            bad++;
        }
        next = hi + 1;
    }
    CHECK(rs_hist_bucket_low(&h, h.nbuckets - 1) <= max_value);
    CHECK(rs_hist_bucket_high(&h, h.nbuckets - 1) >= max_value);
    CHECK_EQ(rs_hist_bucket_low(&h, h.nbuckets), 0); /* out of range */
    CHECK_EQ(rs_hist_bucket_high(&h, h.nbuckets), 0);
    rs_hist_fini(&h);
}

static void test_layout(void)
{
    check_layout(RS_HIST_DEFAULT_MAX, RS_HIST_SUB_BITS);
    check_layout(RS_HIST_VALUE_LIMIT, RS_HIST_SUB_BITS);
    check_layout(1000000, RS_HIST_SUB_BITS);
    check_layout(RS_HIST_DEFAULT_MAX, 1);
    check_layout(RS_HIST_DEFAULT_MAX, 7);
    check_layout(RS_HIST_DEFAULT_MAX, 14);
    check_layout(1, RS_HIST_SUB_BITS);
}

/* 1e6 log-uniform values from 1 ns to 1 h: each lands in a bucket whose reported value is within
 * 1/1024 above it, and a single-value histogram reports it back. */
static void test_relative_error(void)
{
    struct rs_hist h, ref;
    CHECK_EQ(rs_hist_init(&h, RS_HIST_DEFAULT_MAX), 0);
    CHECK_EQ(rs_hist_init(&ref, RS_HIST_DEFAULT_MAX), 0);
    rs_hist_record(&ref, RS_HIST_DEFAULT_MAX); /* so percentiles aren't capped by max */
    int bad = 0;
    for (int i = 0; i < 1000000 && bad < 5; i++) {
        uint64_t v = rng_log_uniform(RS_HIST_DEFAULT_MAX);
        uint32_t idx = rs_hist_bucket_index(&h, v);
        uint64_t lo = rs_hist_bucket_low(&h, idx), hi = rs_hist_bucket_high(&h, idx);
        rs_hist_reset(&h);
        rs_hist_record(&h, v);
        int ok = lo <= v && v <= hi && (hi - lo) * 1024 <= v && h.counts[idx] == 1 &&
                 rs_hist_percentile(&h, 50) == v && rs_hist_percentile(&h, 0) == v &&
                 rs_hist_percentile(&h, 100) == v;
        if (i % 100 == 0) {
            /* Next to a larger value, p50 is the bucket's highest equivalent value. */
            rs_hist_record(&ref, v);
            uint64_t p = rs_hist_percentile(&ref, 50);
            uint64_t want = hi < RS_HIST_DEFAULT_MAX ? hi : RS_HIST_DEFAULT_MAX;
            ok = ok && p == want && within_resolution(p, v);
            rs_hist_reset(&ref);
            rs_hist_record(&ref, RS_HIST_DEFAULT_MAX);
        }
        if (!ok) {
            fprintf(stderr, "value %llu: bucket %u [%llu, %llu]\n", (unsigned long long)v, idx,
                    (unsigned long long)lo, (unsigned long long)hi);
            check_failures++;
            bad++;
        }
    }
    rs_hist_fini(&ref);
    rs_hist_fini(&h);
}

static void test_uniform(void)
{
    struct rs_hist h;
    CHECK_EQ(rs_hist_init(&h, RS_HIST_DEFAULT_MAX), 0);
    for (uint64_t us = 1; us <= 100000; us++)
        rs_hist_record(&h, us * 1000);
    CHECK_EQ(h.total, 100000);
    CHECK_EQ(rs_hist_percentile(&h, 0), 1000);
    CHECK_EQ(rs_hist_percentile(&h, 100), 100000000);
    CHECK(within_resolution(rs_hist_percentile(&h, 50), 50000000));
    CHECK(within_resolution(rs_hist_percentile(&h, 90), 90000000));
    CHECK(within_resolution(rs_hist_percentile(&h, 99), 99000000));
    CHECK(within_resolution(rs_hist_percentile(&h, 99.9), 99900000));
    CHECK(within_resolution(rs_hist_percentile(&h, 99.99), 99990000));
    CHECK(within_resolution(rs_hist_percentile(&h, 1), 1000000));
    CHECK(rs_hist_mean(&h) == 50000500.0);
    double sd = 1000.0 * sqrt((1e10 - 1) / 12);
    CHECK(fabs(rs_hist_stddev(&h) - sd) < sd * 1e-12);
    CHECK(fabs(rs_hist_cdf(&h, 25000000) - 0.25) < 0.001);
    rs_hist_fini(&h);
}

/* Random heavy-tailed data against exact order statistics of the sorted values. */
static void test_against_sorted(void)
{
    enum { N = 1000000 };
    uint64_t *vals = malloc(N * sizeof(*vals));
    CHECK(vals != NULL);
    if (!vals)
        return;
    struct rs_hist h;
    CHECK_EQ(rs_hist_init(&h, RS_HIST_DEFAULT_MAX), 0);
    long double sum = 0;
    for (int i = 0; i < N; i++) {
        /* Exponential body around 50 us with a log-uniform tail up to 10 s. */
        double u = rng_unit();
        uint64_t v =
            i % 50 ? (uint64_t)(-log(1.0 - u) * 50000.0) + 1000 : rng_log_uniform(10000000000ull);
        vals[i] = v;
        sum += v;
        rs_hist_record(&h, v);
    }
    qsort(vals, N, sizeof(*vals), cmp_u64);
    for (size_t k = 1; k + 1 < NPCTS; k++) {
        size_t rank = (size_t)ceil(pcts[k] / 100.0 * N - 1e-6);
        uint64_t want = vals[rank - 1], got = rs_hist_percentile(&h, pcts[k]);
        if (!within_resolution(got, want)) {
            fprintf(stderr, "p%g: got %llu, exact %llu\n", pcts[k], (unsigned long long)got,
                    (unsigned long long)want);
            check_failures++;
        }
    }
    CHECK_EQ(rs_hist_percentile(&h, 0), vals[0]);
    CHECK_EQ(rs_hist_percentile(&h, 100), vals[N - 1]);
    CHECK(fabsl(rs_hist_mean(&h) - sum / N) < 1e-6);
    rs_hist_fini(&h);
    free(vals);
}

static void test_overflow(void)
{
    struct rs_hist h;
    CHECK_EQ(rs_hist_init(&h, 1000000), 0);
    rs_hist_record(&h, 5);
    rs_hist_record(&h, 1000000); /* the maximum itself is not an overflow */
    CHECK_EQ(h.overflow, 0);
    rs_hist_record(&h, 1000001);
    rs_hist_record(&h, UINT64_MAX);
    rs_hist_record_n(&h, 7000000, 3);
    CHECK_EQ(h.overflow, 5);
    CHECK_EQ(h.total, 7);
    CHECK_EQ(h.max, 1000000);
    CHECK_EQ(h.counts[h.nbuckets - 1], 6);
    CHECK_EQ(rs_hist_bucket_index(&h, UINT64_MAX), h.nbuckets - 1);
    CHECK_EQ(rs_hist_percentile(&h, 100), 1000000);
    CHECK_EQ(rs_hist_percentile(&h, 99), 1000000); /* capped at max, not the bucket's top */
    CHECK_EQ(rs_hist_percentile(&h, 0), 5);
    CHECK(rs_hist_mean(&h) == (5.0 + 6 * 1000000.0) / 7);
    rs_hist_fini(&h);

    /* At the largest accepted maximum the sums still fit. */
    CHECK_EQ(rs_hist_init(&h, RS_HIST_VALUE_LIMIT), 0);
    rs_hist_record_n(&h, UINT64_MAX, 1000);
    CHECK_EQ(h.overflow, 1000);
    CHECK(rs_hist_mean(&h) == (double)RS_HIST_VALUE_LIMIT);
    CHECK(rs_hist_stddev(&h) == 0.0);
    CHECK_EQ(rs_hist_percentile(&h, 50), RS_HIST_VALUE_LIMIT);
    rs_hist_fini(&h);
}

static void test_record_n(void)
{
    struct rs_hist a, b;
    CHECK_EQ(rs_hist_init(&a, RS_HIST_DEFAULT_MAX), 0);
    CHECK_EQ(rs_hist_init(&b, RS_HIST_DEFAULT_MAX), 0);
    rs_hist_record_n(&a, 123456, 0); /* no-op, leaves min/max alone */
    CHECK_EQ(a.total, 0);
    CHECK(same_hist(&a, &b));
    for (int i = 0; i < 200; i++) {
        uint64_t v = rng_log_uniform(RS_HIST_DEFAULT_MAX), n = rng_next() % 7;
        rs_hist_record_n(&a, v, n);
        for (uint64_t j = 0; j < n; j++)
            rs_hist_record(&b, v);
    }
    CHECK(a.total > 0);
    CHECK(same_hist(&a, &b));
    CHECK(rs_hist_stddev(&a) == rs_hist_stddev(&b));
    rs_hist_fini(&a);
    rs_hist_fini(&b);
}

static void test_merge(void)
{
    enum { THREADS = 4 };
    struct rs_hist all, merged, part[THREADS];
    CHECK_EQ(rs_hist_init(&all, 10000000000ull), 0);
    CHECK_EQ(rs_hist_init(&merged, 10000000000ull), 0);
    for (int t = 0; t < THREADS; t++)
        CHECK_EQ(rs_hist_init(&part[t], 10000000000ull), 0);
    for (int i = 0; i < 300000; i++) {
        /* Thread t sees its own range, so min and max come from different parts. */
        int t = (int)(rng_next() % THREADS);
        uint64_t v = rng_log_uniform(1000000ull << (5 * t)) + (uint64_t)t * 100;
        if (i % 1000 == 0)
            v = 20000000000ull; /* overflows */
        rs_hist_record(&all, v);
        rs_hist_record(&part[t], v);
    }
    /* An empty source changes nothing; merging into an empty destination copies. */
    struct rs_hist empty;
    CHECK_EQ(rs_hist_init(&empty, 10000000000ull), 0);
    CHECK_EQ(rs_hist_merge(&part[0], &empty), 0);
    CHECK_EQ(rs_hist_merge(&merged, &empty), 0);
    CHECK_EQ(merged.total, 0);
    for (int t = 0; t < THREADS; t++)
        CHECK_EQ(rs_hist_merge(&merged, &part[t]), 0);
    CHECK(same_hist(&merged, &all));
    CHECK_EQ(merged.total, 300000);
    CHECK(merged.overflow > 0);
    for (size_t k = 0; k < NPCTS; k++)
        CHECK_EQ(rs_hist_percentile(&merged, pcts[k]), rs_hist_percentile(&all, pcts[k]));
    CHECK(rs_hist_mean(&merged) == rs_hist_mean(&all));
    CHECK(rs_hist_stddev(&merged) == rs_hist_stddev(&all));

    /* Merge is associative: (p0 + p1) + p2 equals p0 + (p1 + p2), so runs can be combined in
     * any grouping (ringload merge of merges). */
    struct rs_hist left, right, tail;
    CHECK_EQ(rs_hist_init(&left, 10000000000ull), 0);
    CHECK_EQ(rs_hist_init(&right, 10000000000ull), 0);
    CHECK_EQ(rs_hist_init(&tail, 10000000000ull), 0);
    CHECK_EQ(rs_hist_merge(&left, &part[0]), 0);
    CHECK_EQ(rs_hist_merge(&left, &part[1]), 0);
    CHECK_EQ(rs_hist_merge(&left, &part[2]), 0);
    CHECK_EQ(rs_hist_merge(&tail, &part[1]), 0);
    CHECK_EQ(rs_hist_merge(&tail, &part[2]), 0);
    CHECK_EQ(rs_hist_merge(&right, &part[0]), 0);
    CHECK_EQ(rs_hist_merge(&right, &tail), 0);
    CHECK(same_hist(&left, &right));
    CHECK(left.total > 0 && left.total < 300000);
    rs_hist_fini(&left);
    rs_hist_fini(&right);
    rs_hist_fini(&tail);

    /* Different layouts are refused and leave the destination alone. */
    struct rs_hist other;
    CHECK_EQ(rs_hist_init(&other, RS_HIST_DEFAULT_MAX), 0);
    rs_hist_record(&other, 42);
    CHECK_EQ(rs_hist_merge(&merged, &other), -EINVAL);
    rs_hist_fini(&other);
    CHECK_EQ(rs_hist_init_layout(&other, 10000000000ull, 12), 0);
    rs_hist_record(&other, 42);
    CHECK_EQ(rs_hist_merge(&merged, &other), -EINVAL);
    CHECK(same_hist(&merged, &all));
    rs_hist_fini(&other);

    rs_hist_fini(&empty);
    for (int t = 0; t < THREADS; t++)
        rs_hist_fini(&part[t]);
    rs_hist_fini(&merged);
    rs_hist_fini(&all);
}

/* Export the non-empty buckets of one histogram, import them into a fresh one. */
static void test_add_bucket(void)
{
    struct rs_hist src, dst;
    CHECK_EQ(rs_hist_init(&src, RS_HIST_DEFAULT_MAX), 0);
    for (int i = 0; i < 100000; i++)
        rs_hist_record(&src, rng_log_uniform(100000000000ull));
    rs_hist_record(&src, 0); /* an exact bucket at the bottom */

    CHECK_EQ(rs_hist_init_layout(&dst, src.max_value, src.sub_bits), 0);
    uint32_t nonzero = 0;
    for (uint32_t i = rs_hist_next_nonzero(&src, 0); i < src.nbuckets;
         i = rs_hist_next_nonzero(&src, i + 1)) {
        CHECK(src.counts[i] != 0);
        CHECK_EQ(rs_hist_add_bucket(&dst, i, src.counts[i]), 0);
        nonzero++;
    }
    uint32_t expect = 0;
    for (uint32_t i = 0; i < src.nbuckets; i++)
        expect += src.counts[i] != 0;
    CHECK_EQ(nonzero, expect);
    CHECK_EQ(memcmp(dst.counts, src.counts, src.nbuckets * sizeof(*src.counts)), 0);
    CHECK_EQ(dst.total, src.total);
    CHECK_EQ(dst.min, 0);
    /* From buckets alone, min/max are bucket bounds: p0/p100 are bucket-equivalent. */
    CHECK_EQ(dst.min, rs_hist_bucket_low(&dst, rs_hist_bucket_index(&dst, src.min)));
    CHECK_EQ(dst.max, rs_hist_bucket_high(&dst, rs_hist_bucket_index(&dst, src.max)));
    CHECK(within_resolution(rs_hist_percentile(&dst, 100), src.max));
    for (size_t k = 1; k + 1 < NPCTS; k++)
        CHECK(within_resolution(rs_hist_percentile(&dst, pcts[k]),
                                rs_hist_percentile(&src, pcts[k])));
    /* Mean and stddev come from bucket midpoints: within the bucket resolution. */
    CHECK(fabs(rs_hist_mean(&dst) - rs_hist_mean(&src)) <= rs_hist_mean(&src) / 16384);
    CHECK(fabs(rs_hist_stddev(&dst) - rs_hist_stddev(&src)) <= rs_hist_stddev(&src) / 1024);

    /* With the exported min/max restored, every percentile matches exactly. */
    CHECK_EQ(rs_hist_set_minmax(&dst, src.min, src.max * 2), -EINVAL); /* other bucket */
    CHECK_EQ(rs_hist_set_minmax(&dst, 1, src.max), -EINVAL);
    CHECK_EQ(rs_hist_set_minmax(&dst, src.max, src.min), -EINVAL);
    CHECK_EQ(rs_hist_set_minmax(&dst, src.min, src.max), 0);
    for (size_t k = 0; k < NPCTS; k++)
        CHECK_EQ(rs_hist_percentile(&dst, pcts[k]), rs_hist_percentile(&src, pcts[k]));

    /* Bad index, zero count. */
    CHECK_EQ(rs_hist_add_bucket(&dst, dst.nbuckets, 1), -EINVAL);
    CHECK_EQ(rs_hist_add_bucket(&dst, UINT32_MAX, 1), -EINVAL);
    uint64_t total = dst.total;
    CHECK_EQ(rs_hist_add_bucket(&dst, 0, 0), 0);
    CHECK_EQ(dst.total, total);
    CHECK_EQ(dst.min, src.min);

    /* The top bucket's bound is capped at max_value. */
    rs_hist_reset(&dst);
    CHECK_EQ(rs_hist_add_bucket(&dst, dst.nbuckets - 1, 2), 0);
    CHECK_EQ(dst.max, RS_HIST_DEFAULT_MAX);
    CHECK_EQ(rs_hist_percentile(&dst, 100), RS_HIST_DEFAULT_MAX);
    CHECK(rs_hist_mean(&dst) <= (double)RS_HIST_DEFAULT_MAX);
    CHECK_EQ(rs_hist_set_minmax(&dst, RS_HIST_DEFAULT_MAX, RS_HIST_DEFAULT_MAX + 1), -EINVAL);

    rs_hist_fini(&dst);
    rs_hist_fini(&src);
}

static void test_empty_and_reset(void)
{
    struct rs_hist h, e;
    CHECK_EQ(rs_hist_init(&h, RS_HIST_DEFAULT_MAX), 0);
    CHECK_EQ(rs_hist_init(&e, RS_HIST_DEFAULT_MAX), 0);
    for (size_t k = 0; k < NPCTS; k++)
        CHECK_EQ(rs_hist_percentile(&h, pcts[k]), 0);
    CHECK(rs_hist_mean(&h) == 0.0);
    CHECK(rs_hist_stddev(&h) == 0.0);
    CHECK(rs_hist_cdf(&h, 1000) == 0.0);
    CHECK_EQ(rs_hist_next_nonzero(&h, 0), h.nbuckets);
    CHECK_EQ(rs_hist_set_minmax(&h, 1, 2), -EINVAL);
    CHECK_EQ(rs_hist_merge(&h, &e), 0);
    rs_hist_reset(&h);
    CHECK(same_hist(&h, &e));

    /* Reset after use returns to the empty state and the histogram records again. */
    for (int i = 0; i < 10000; i++)
        rs_hist_record(&h, rng_log_uniform(RS_HIST_DEFAULT_MAX));
    rs_hist_record(&h, UINT64_MAX);
    rs_hist_reset(&h);
    CHECK(same_hist(&h, &e));
    rs_hist_record(&h, 777);
    CHECK_EQ(rs_hist_percentile(&h, 50), 777);
    CHECK_EQ(h.total, 1);
    rs_hist_fini(&e);
    rs_hist_fini(&h);
}

int main(void)
{
    test_init();
    test_small_exact();
    test_layout();
    test_relative_error();
    test_uniform();
    test_against_sorted();
    test_overflow();
    test_record_n();
    test_merge();
    test_add_bucket();
    test_empty_and_reset();
    return check_done("test_hist");
}
