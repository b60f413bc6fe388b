#ifndef RINGSOCK_HIST_H
#define RINGSOCK_HIST_H

#include <stdint.h>

/* Log-linear ("HDR") latency histogram, values in nanoseconds.
 *
 * Layout, for S = sub_bits (default 10) and H = 2^S:
 *   - values 0 .. 2H-1 each have their own bucket (index = value, exact);
 *   - above that, each power-of-two range [2^m, 2^(m+1)) is cut into H equal sub-buckets of
 *     width 2^(m-S), so a bucket is never wider than 1/H of its lowest value. With S = 10 that
 *     is a relative error <= 1/1024, i.e. 3 significant decimal digits (like HdrHistogram with
 *     3 digits, whose sub-bucket count is 2048 = 2H).
 *   - index(v) = s * H + (v >> s) with s = max(0, msb(v) - S); the ranges join without gaps.
 * Values above max_value are recorded as max_value (top bucket) and counted in overflow; min,
 * max and the sums see the clamped value too, so percentiles never exceed max_value.
 *
 * Memory: nbuckets * 8 bytes of counts, allocated once by init (calloc, so untouched pages stay
 * virtual). Default max (1 h = 3.6e12 ns) at S = 10: 33421 buckets = 261 KiB.
 *
 * One histogram per thread: record is O(1), allocates nothing, takes no lock and is not
 * thread-safe. Merge the per-thread histograms once their writers have stopped.
 *
 * Mean and standard deviation come from exact 128-bit sums of the recorded values and of their
 * squares, so they survive merge unchanged. Buckets imported with rs_hist_add_bucket contribute
 * their midpoint instead (error within the bucket width). The sums cannot overflow before
 * 2^32 values all at RS_HIST_VALUE_LIMIT, or 2^44 values at 1 h. */

#define RS_HIST_SUB_BITS     10               /* default: 1024 sub-buckets per octave */
#define RS_HIST_DEFAULT_MAX  3600000000000ull /* 1 hour in ns */
#define RS_HIST_VALUE_LIMIT  (1ull << 48)     /* largest max_value accepted (~78 hours) */
#define RS_HIST_SUB_BITS_MAX 16               /* 2^-16 relative error; 17 MiB at the limit */

__extension__ typedef unsigned __int128 rs_hist_u128;

struct rs_hist {
    /* Layout (read-only after init; what a serializer needs to rebuild the histogram). */
    uint32_t sub_bits;  /* S: 2^S linear sub-buckets per power-of-two range */
    uint32_t nbuckets;  /* rs_hist_bucket_index(max_value) + 1 */
    uint64_t max_value; /* larger values are clamped to it */
    uint64_t *counts;   /* nbuckets counters */
    /* Summary. min is UINT64_MAX and max is 0 while total is 0: prefer rs_hist_percentile(h, 0)
     * and (h, 100), which return 0 for an empty histogram. */
    uint64_t total;
    uint64_t overflow; /* values recorded above max_value (also included in total) */
    uint64_t min, max;
    rs_hist_u128 sum;   /* sum of values */
    rs_hist_u128 sumsq; /* sum of squared values */
} __attribute__((aligned(64)));

/* Sets up h for values up to max_value with the default precision (RS_HIST_SUB_BITS).
 * Returns 0, -EINVAL if max_value is 0 or above RS_HIST_VALUE_LIMIT, or -ENOMEM. */
int rs_hist_init(struct rs_hist *h, uint64_t max_value);
/* Same with an explicit sub_bits in [1, RS_HIST_SUB_BITS_MAX] (relative error 2^-sub_bits), for
 * rebuilding a serialized histogram with its own layout. Returns 0, -EINVAL or -ENOMEM. */
int rs_hist_init_layout(struct rs_hist *h, uint64_t max_value, uint32_t sub_bits);
/* Frees the counts. Safe after a failed init and when called twice. */
void rs_hist_fini(struct rs_hist *h);
/* Forgets every value, keeping the layout and the memory. */
void rs_hist_reset(struct rs_hist *h);

/* Bucket of v for layout S, without clamping (internal, used by the inline recorder). */
static inline uint32_t rs__hist_index(uint32_t sub_bits, uint64_t v)
{
    /* OR-ing in 2^S makes msb >= S, so values below 2^(S+1) get shift 0 (exact buckets). */
    uint32_t msb = 63u - (uint32_t)__builtin_clzll(v | (1ull << sub_bits));
    uint32_t shift = msb - sub_bits;
    return (shift << sub_bits) + (uint32_t)(v >> shift);
}

/* Bucket index of value (values above max_value map to the top bucket, nbuckets - 1). */
static inline uint32_t rs_hist_bucket_index(const struct rs_hist *h, uint64_t value)
{
    return rs__hist_index(h->sub_bits, value > h->max_value ? h->max_value : value);
}

/* Records one value: O(1), no allocation, no lock. */
static inline void rs_hist_record(struct rs_hist *h, uint64_t value)
{
    if (__builtin_expect(value > h->max_value, 0)) {
        value = h->max_value;
        h->overflow++;
    }
    h->counts[rs__hist_index(h->sub_bits, value)]++;
    h->total++;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->sum += value;
    h->sumsq += (rs_hist_u128)value * value;
}

/* Records value n times (n = 0 does nothing). */
void rs_hist_record_n(struct rs_hist *h, uint64_t value, uint64_t n);

/* Adds src's values into dst. Returns 0, or -EINVAL (dst unchanged) if the layouts (sub_bits,
 * max_value) differ. The result equals recording both streams into one histogram. */
int rs_hist_merge(struct rs_hist *dst, const struct rs_hist *src);

/* Value at percentile pct: pct <= 0 (or NaN) gives min, pct >= 100 gives max; otherwise the
 * highest value equivalent to the bucket holding rank ceil(pct / 100 * total), capped at max
 * (so p99.99 never reports more than p100). 0 if the histogram is empty. The rank ignores a
 * 1e-14 relative excess so that, e.g., p99.9 of 1000 values is rank 999 despite rounding. */
uint64_t rs_hist_percentile(const struct rs_hist *h, double pct);
/* Mean of the values, 0 if empty. */
double rs_hist_mean(const struct rs_hist *h);
/* Population standard deviation of the values, 0 if empty. Needs libm. */
double rs_hist_stddev(const struct rs_hist *h);
/* Fraction of values whose bucket is at or below v's bucket (values <= v, up to bucket
 * resolution), in [0, 1]; 0 if empty. For CDF / percentile plots. */
double rs_hist_cdf(const struct rs_hist *h, uint64_t v);

/* Lowest value in bucket idx; 0 if idx >= nbuckets. */
uint64_t rs_hist_bucket_low(const struct rs_hist *h, uint32_t idx);
/* Highest value equivalent to bucket idx (may exceed max_value for the top bucket); 0 if
 * idx >= nbuckets. */
uint64_t rs_hist_bucket_high(const struct rs_hist *h, uint32_t idx);
/* First bucket at or after from with a non-zero count, or nbuckets if none. Iterate with
 * for (i = rs_hist_next_nonzero(h, 0); i < h->nbuckets; i = rs_hist_next_nonzero(h, i + 1)). */
uint32_t rs_hist_next_nonzero(const struct rs_hist *h, uint32_t from);

/* Adds n values to bucket idx (importing a serialized histogram). Keeps total consistent,
 * widens min/max to the bucket bounds (max capped at max_value) and adds n times the bucket
 * midpoint to the sums. Returns 0, or -EINVAL if idx >= nbuckets. n = 0 does nothing. */
int rs_hist_add_bucket(struct rs_hist *h, uint32_t idx, uint64_t n);
/* Restores the exact min and max after an import (add_bucket only knows bucket bounds).
 * Returns 0, or -EINVAL (h unchanged) if h is empty, min > max, or min/max do not lie in the
 * lowest/highest non-empty bucket. The overflow count is a plain field the importer sets. */
int rs_hist_set_minmax(struct rs_hist *h, uint64_t min, uint64_t max);

#endif
