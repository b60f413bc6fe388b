#include "ringsock/util/hist.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ringsock/util/alloc.h"

/* Invariant used to keep reset, merge and scans short: every bucket outside
 * [index(min), index(max)] is zero (and min > max while the histogram is empty). */

int rs_hist_init_layout(struct rs_hist *h, uint64_t max_value, uint32_t sub_bits)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
    if (max_value == 0 || max_value > RS_HIST_VALUE_LIMIT || sub_bits == 0 ||
        sub_bits > RS_HIST_SUB_BITS_MAX)
        return -EINVAL;
    uint32_t nbuckets = rs__hist_index(sub_bits, max_value) + 1;
    h->counts = rs_calloc(nbuckets, sizeof(*h->counts));
    if (!h->counts)
        return -ENOMEM;
    h->sub_bits = sub_bits;
    h->nbuckets = nbuckets;
    h->max_value = max_value;
    return 0;
}

int rs_hist_init(struct rs_hist *h, uint64_t max_value)
{
    return rs_hist_init_layout(h, max_value, RS_HIST_SUB_BITS);
}

void rs_hist_fini(struct rs_hist *h)
{
    rs_free(h->counts);
    h->counts = NULL;
    h->nbuckets = 0;
}

void rs_hist_reset(struct rs_hist *h)
{
    if (h->total) {
        uint32_t lo = rs_hist_bucket_index(h, h->min);
        uint32_t hi = rs_hist_bucket_index(h, h->max);
        memset(&h->counts[lo], 0, (size_t)(hi - lo + 1) * sizeof(*h->counts));
    }
    h->total = 0;
    h->overflow = 0;
    h->min = UINT64_MAX;
    h->max = 0;
    h->sum = 0;
    h->sumsq = 0;
}

void rs_hist_record_n(struct rs_hist *h, uint64_t value, uint64_t n)
{
    if (n == 0)
        return;
    if (value > h->max_value) {
        value = h->max_value;
        h->overflow += n;
    }
    h->counts[rs__hist_index(h->sub_bits, value)] += n;
    h->total += n;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->sum += (rs_hist_u128)value * n;
    h->sumsq += (rs_hist_u128)value * value * n;
}

int rs_hist_merge(struct rs_hist *dst, const struct rs_hist *src)
{
    if (dst->sub_bits != src->sub_bits || dst->max_value != src->max_value)
        return -EINVAL;
    if (src->total == 0)
        return 0;
    uint32_t lo = rs_hist_bucket_index(src, src->min);
    uint32_t hi = rs_hist_bucket_index(src, src->max);
    for (uint32_t i = lo; i <= hi; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->overflow += src->overflow;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->sum += src->sum;
    dst->sumsq += src->sumsq;
    return 0;
}

uint64_t rs_hist_bucket_low(const struct rs_hist *h, uint32_t idx)
{
    if (idx >= h->nbuckets)
        return 0;
    uint32_t octave = idx >> h->sub_bits;
    uint32_t shift = octave ? octave - 1 : 0;
    return (uint64_t)(idx - (shift << h->sub_bits)) << shift;
}

uint64_t rs_hist_bucket_high(const struct rs_hist *h, uint32_t idx)
{
    if (idx >= h->nbuckets)
        return 0;
    uint32_t octave = idx >> h->sub_bits;
    uint32_t shift = octave ? octave - 1 : 0;
    return rs_hist_bucket_low(h, idx) + ((1ull << shift) - 1);
}

uint64_t rs_hist_percentile(const struct rs_hist *h, double pct)
{
    if (h->total == 0)
        return 0;
    if (!(pct > 0.0)) /* also NaN */
        return h->min;
    if (pct >= 100.0)
        return h->max;

    long double x = (long double)pct / 100.0L * (long double)h->total;
    x -= x * 1e-14L; /* 99.9 is slightly above 99.9 as a double; don't round that up */
    long double r = ceill(x);
    uint64_t rank = r < 1.0L ? 1 : (r >= (long double)h->total ? h->total : (uint64_t)r);

    uint32_t lo = rs_hist_bucket_index(h, h->min);
    uint32_t hi = rs_hist_bucket_index(h, h->max);
    uint64_t seen = 0;
    for (uint32_t i = lo; i <= hi; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = rs_hist_bucket_high(h, i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

double rs_hist_mean(const struct rs_hist *h)
{
    if (h->total == 0)
        return 0.0;
    return (double)((long double)h->sum / (long double)h->total);
}

double rs_hist_stddev(const struct rs_hist *h)
{
    if (h->total == 0)
        return 0.0;
    long double n = (long double)h->total;
    long double mean = (long double)h->sum / n;
    long double var = (long double)h->sumsq / n - mean * mean;
    return var > 0.0L ? (double)sqrtl(var) : 0.0;
}

double rs_hist_cdf(const struct rs_hist *h, uint64_t v)
{
    if (h->total == 0)
        return 0.0;
    uint32_t lo = rs_hist_bucket_index(h, h->min);
    uint32_t hi = rs_hist_bucket_index(h, h->max);
    uint32_t end = rs_hist_bucket_index(h, v);
    if (end < lo)
        return 0.0;
    if (end >= hi)
        return 1.0;
    uint64_t seen = 0;
    for (uint32_t i = lo; i <= end; i++)
        seen += h->counts[i];
    return (double)seen / (double)h->total;
}

uint32_t rs_hist_next_nonzero(const struct rs_hist *h, uint32_t from)
{
    if (h->total == 0)
        return h->nbuckets;
    uint32_t lo = rs_hist_bucket_index(h, h->min);
    uint32_t hi = rs_hist_bucket_index(h, h->max);
    for (uint32_t i = from > lo ? from : lo; i <= hi; i++) {
        if (h->counts[i])
            return i;
    }
    return h->nbuckets;
}

int rs_hist_add_bucket(struct rs_hist *h, uint32_t idx, uint64_t n)
{
    if (idx >= h->nbuckets)
        return -EINVAL;
    if (n == 0)
        return 0;
    uint64_t low = rs_hist_bucket_low(h, idx);
    uint64_t high = rs_hist_bucket_high(h, idx);
    if (high > h->max_value)
        high = h->max_value;
    uint64_t mid = low + (high - low) / 2;

    h->counts[idx] += n;
    h->total += n;
    if (low < h->min)
        h->min = low;
    if (high > h->max)
        h->max = high;
    h->sum += (rs_hist_u128)mid * n;
    h->sumsq += (rs_hist_u128)mid * mid * n;
    return 0;
}

int rs_hist_set_minmax(struct rs_hist *h, uint64_t min, uint64_t max)
{
    if (h->total == 0 || min > max || max > h->max_value)
        return -EINVAL;
    if (rs_hist_bucket_index(h, min) != rs_hist_bucket_index(h, h->min) ||
        rs_hist_bucket_index(h, max) != rs_hist_bucket_index(h, h->max))
        return -EINVAL;
    h->min = min;
    h->max = max;
    return 0;
}
