/* The parts ringload's two summaries are built from (load_report.c for load runs,
 * load_idle_report.c for --idle): durations as wrk prints them, histogram statistics and their
 * JSON, and the loop that reads the result files a merge combines. */

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "load.h"

void load_fmt_ns(char *buf, size_t n, double ns)
{
    if (ns < 1e3)
        snprintf(buf, n, "%.0fns", ns);
    else if (ns < 1e6)
        snprintf(buf, n, "%.2fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, n, "%.2fms", ns / 1e6);
    else
        snprintf(buf, n, "%.2fs", ns / 1e9);
}

const double load_pcts[LOAD_NPCTS] = {50, 75, 90, 99, 99.9, 99.99, 100};

/* Share of values within one standard deviation of the mean, as wrk prints it. */
double load_within_stdev(const struct rs_hist *h)
{
    double mean = rs_hist_mean(h), sd = rs_hist_stddev(h);
    if (h->total == 0)
        return 0;
    double lo = mean - sd, hi = mean + sd;
    double below_hi = rs_hist_cdf(h, hi < 0 ? 0 : (uint64_t)hi);
    double below_lo = lo <= 0 ? 0 : rs_hist_cdf(h, (uint64_t)lo);
    return 100.0 * (below_hi - below_lo);
}

json_t *load_hist_json(const struct rs_hist *h)
{
    json_t *buckets = json_array();
    for (uint32_t i = rs_hist_next_nonzero(h, 0); i < h->nbuckets;
         i = rs_hist_next_nonzero(h, i + 1))
        json_array_append_new(buckets, json_pack("[I,I]", (json_int_t)i, (json_int_t)h->counts[i]));
    return json_pack("{s:s,s:I,s:i,s:I,s:I,s:I,s:I,s:o}", "unit", "ns", "max_value",
                     (json_int_t)h->max_value, "sub_bits", (int)h->sub_bits, "total",
                     (json_int_t)h->total, "overflow", (json_int_t)h->overflow, "min",
                     (json_int_t)(h->total ? h->min : 0), "max", (json_int_t)h->max, "buckets",
                     buckets);
}

json_t *load_latency_json(const struct rs_hist *h)
{
    json_t *pj = json_object();
    for (size_t i = 0; i < LOAD_NPCTS; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%g", load_pcts[i]);
        json_object_set_new(pj, key, json_real((double)rs_hist_percentile(h, load_pcts[i]) / 1e3));
    }
    return json_pack("{s:f,s:f,s:f,s:f,s:o}", "mean_us", rs_hist_mean(h) / 1e3, "stdev_us",
                     rs_hist_stddev(h) / 1e3, "min_us", (h->total ? (double)h->min : 0) / 1e3,
                     "max_us", (double)h->max / 1e3, "percentiles_us", pj);
}

/* The percentile spectrum HdrHistogram prints: percentiles that halve the distance to 100% in
 * five steps per halving (0, 12.9, 24.2, ... 50, ... 99, 99.9 ...), up to where one value is
 * left, then 100. Each point is [percentile, latency in us]; a percentile plot draws these with
 * x = 1 / (1 - p/100) on a log axis. */
json_t *load_curve_json(const struct rs_hist *h)
{
    json_t *curve = json_array();
    if (h->total == 0)
        return curve;
    for (unsigned i = 0;; i++) {
        double rest = exp2(-(double)i / 5.0); /* 1 - p/100 */
        if (rest * (double)h->total < 1.0 || i > 200)
            break;
        double p = 100.0 * (1.0 - rest);
        json_array_append_new(curve, json_pack("[f,f]", p, (double)rs_hist_percentile(h, p) / 1e3));
    }
    json_array_append_new(curve,
                          json_pack("[f,f]", 100.0, (double)rs_hist_percentile(h, 100) / 1e3));
    return curve;
}

int load_merge_files(int argc, char **argv, load_merge_fn fn, void *summary, const char **json_out,
                     bool *latency)
{
    char err[600];
    int nfiles = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            *json_out = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--no-latency") == 0) {
            *latency = false;
            continue;
        }
        json_error_t jerr;
        json_t *root = json_load_file(argv[i], 0, &jerr);
        if (!root) {
            fprintf(stderr, "ringload: merge: %s: %s (line %d)\n", argv[i], jerr.text, jerr.line);
            return -1;
        }
        int e = fn(summary, root, argv[i], err, sizeof(err));
        json_decref(root);
        if (e < 0) {
            fprintf(stderr, "ringload: merge: %s\n", err);
            return -1;
        }
        nfiles++;
    }
    return nfiles;
}

/* The value at path "key" or "a.key" in o, or NULL. */
static json_t *jget(json_t *o, const char *path)
{
    char key[64];
    const char *dot = strchr(path, '.');
    if (dot) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        o = json_object_get(o, key);
        path = dot + 1;
    }
    return o ? json_object_get(o, path) : NULL;
}

uint64_t load_jget_u64(json_t *o, const char *path)
{
    json_t *v = jget(o, path);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

double load_jget_num(json_t *o, const char *path)
{
    json_t *v = jget(o, path);
    return json_is_number(v) ? json_number_value(v) : 0;
}
