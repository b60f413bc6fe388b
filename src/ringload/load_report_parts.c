/* The parts ringload's two summaries are built from (load_report.c for load runs,
 * load_idle_report.c for --idle): durations as wrk prints them, histogram statistics and their
 * JSON, and the loop that reads the result files a merge combines. */

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "load.h"
#include "ringsock/util/alloc.h"

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

/* v in decimal: JSON numbers stop at 2^63 (jansson) or 2^53 (most readers). */
static json_t *u128_json(rs_hist_u128 v)
{
    char buf[48], *p = buf + sizeof(buf) - 1;
    *p = '\0';
    do {
        *--p = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    return json_string(p);
}

int load_hist_sums_get(json_t *hist, rs_hist_u128 *sum, rs_hist_u128 *sumsq)
{
    const char *in[2] = {json_string_value(json_object_get(hist, "sum")),
                         json_string_value(json_object_get(hist, "sumsq"))};
    rs_hist_u128 out[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (!in[k] || !*in[k] || strlen(in[k]) > 39)
            return -EINVAL;
        for (const char *p = in[k]; *p; p++) {
            if (*p < '0' || *p > '9')
                return -EINVAL;
            out[k] = out[k] * 10 + (rs_hist_u128)(*p - '0');
        }
    }
    *sum = out[0];
    *sumsq = out[1];
    return 0;
}

json_t *load_hist_json(const struct rs_hist *h)
{
    json_t *buckets = json_array();
    for (uint32_t i = rs_hist_next_nonzero(h, 0); i < h->nbuckets;
         i = rs_hist_next_nonzero(h, i + 1))
        json_array_append_new(buckets, json_pack("[I,I]", (json_int_t)i, (json_int_t)h->counts[i]));
    return json_pack("{s:s,s:I,s:i,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "unit", "ns", "max_value",
                     (json_int_t)h->max_value, "sub_bits", (int)h->sub_bits, "total",
                     (json_int_t)h->total, "overflow", (json_int_t)h->overflow, "min",
                     (json_int_t)(h->total ? h->min : 0), "max", (json_int_t)h->max, "sum",
                     u128_json(h->sum), "sumsq", u128_json(h->sumsq), "buckets", buckets);
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

int load_merge_args_parse(int argc, char **argv, struct load_merge_args *a)
{
    memset(a, 0, sizeof(*a));
    a->latency = true;
    a->files = rs_calloc((size_t)argc + 1, sizeof(*a->files));
    if (!a->files) {
        fprintf(stderr, "ringload: merge: out of memory\n");
        return -ENOMEM;
    }
    bool opts = true;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (opts && arg[0] == '-' && arg[1] != '\0') {
            if (strcmp(arg, "--") == 0) {
                opts = false;
            } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
                fputs(rs_load_merge_usage(), stdout);
                load_merge_args_free(a);
                return LOAD_MERGE_HELP;
            } else if (strcmp(arg, "--json") == 0 && i + 1 < argc) {
                a->json_out = argv[++i];
            } else if (strncmp(arg, "--json=", 7) == 0) {
                a->json_out = arg + 7;
            } else if (strcmp(arg, "--no-latency") == 0) {
                a->latency = false;
            } else if (strcmp(arg, "--force") == 0) {
                a->force = true;
            } else {
                fprintf(stderr, "ringload: merge: %s '%s' (see ringload merge --help)\n",
                        strcmp(arg, "--json") == 0 ? "option needs a value:" : "unknown option",
                        arg);
                load_merge_args_free(a);
                return -EINVAL;
            }
            continue;
        }
        a->files[a->nfiles++] = argv[i];
    }
    if (a->nfiles == 0) {
        fprintf(stderr, "ringload: merge: no file given (see ringload merge --help)\n");
        load_merge_args_free(a);
        return -EINVAL;
    }
    return 0;
}

void load_merge_args_free(struct load_merge_args *a)
{
    rs_free(a->files);
    a->files = NULL;
    a->nfiles = 0;
}

int load_merge_files(const struct load_merge_args *a, load_merge_fn fn, void *summary)
{
    char err[1200];
    for (int i = 0; i < a->nfiles; i++) {
        json_error_t jerr;
        json_t *root = json_load_file(a->files[i], 0, &jerr);
        if (!root) {
            fprintf(stderr, "ringload: merge: %s: %s (line %d)\n", a->files[i], jerr.text,
                    jerr.line);
            return -1;
        }
        int e = fn(summary, root, a->files[i], err, sizeof(err));
        json_decref(root);
        if (e < 0) {
            fprintf(stderr, "ringload: merge: %s\n", err);
            return -1;
        }
    }
    return a->nfiles;
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

int load_hist_add_buckets(struct rs_hist *h, json_t *buckets, const char *path, char *err,
                          size_t errlen)
{
    size_t i;
    json_t *b;
    json_array_foreach(buckets, i, b)
    {
        json_int_t idx = json_integer_value(json_array_get(b, 0));
        json_int_t cnt = json_integer_value(json_array_get(b, 1));
        if (idx < 0 || cnt < 0 || rs_hist_add_bucket(h, (uint32_t)idx, (uint64_t)cnt) < 0) {
            snprintf(err, errlen, "%s: bad histogram bucket %zu", path, i);
            return -EINVAL;
        }
    }
    return 0;
}
