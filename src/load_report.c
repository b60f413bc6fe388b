/* ringload's summary, in wrk's familiar shape, and its JSON (jansson): everything in the
 * summary plus the full histogram, in a form another run can merge. */

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "load.h"

static void fmt_ns(char *buf, size_t n, double ns)
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

static void fmt_count(char *buf, size_t n, double v)
{
    if (v < 1e3)
        snprintf(buf, n, "%.2f", v);
    else if (v < 1e6)
        snprintf(buf, n, "%.2fk", v / 1e3);
    else
        snprintf(buf, n, "%.2fM", v / 1e6);
}

static void fmt_bytes(char *buf, size_t n, double v)
{
    if (v < 1024)
        snprintf(buf, n, "%.0fB", v);
    else if (v < 1048576)
        snprintf(buf, n, "%.2fKB", v / 1024);
    else if (v < 1073741824)
        snprintf(buf, n, "%.2fMB", v / 1048576);
    else
        snprintf(buf, n, "%.2fGB", v / 1073741824);
}

struct totals {
#define LOAD_DECL(name) uint64_t name;
    LOAD_FIELDS(LOAD_DECL)
#undef LOAD_DECL
};

static void sum_counters(struct totals *tt, struct load_thread *ts, unsigned n)
{
    memset(tt, 0, sizeof(*tt));
    for (unsigned i = 0; i < n; i++) {
#define LOAD_SUM(name) tt->name += LOAD_GET(&ts[i], name);
        LOAD_FIELDS(LOAD_SUM)
#undef LOAD_SUM
    }
}

static const double pcts[] = {50, 75, 90, 99, 99.9, 99.99, 100};

/* Share of values within one standard deviation of the mean, as wrk prints it. */
static double within_stdev(const struct rs_hist *h)
{
    double mean = rs_hist_mean(h), sd = rs_hist_stddev(h);
    if (h->total == 0)
        return 0;
    double lo = mean - sd, hi = mean + sd;
    double below_hi = rs_hist_cdf(h, hi < 0 ? 0 : (uint64_t)hi);
    double below_lo = lo <= 0 ? 0 : rs_hist_cdf(h, (uint64_t)lo);
    return 100.0 * (below_hi - below_lo);
}

static json_t *hist_json(const struct rs_hist *h)
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

static int write_json(const struct rs_load_opts *o, const struct totals *tt,
                      const struct rs_hist *h, double seconds, double cpu_user, double cpu_sys,
                      const char *backend)
{
    json_t *lat = json_object();
    json_object_set_new(lat, "mean_us", json_real(rs_hist_mean(h) / 1e3));
    json_object_set_new(lat, "stdev_us", json_real(rs_hist_stddev(h) / 1e3));
    json_object_set_new(lat, "min_us", json_real((h->total ? (double)h->min : 0) / 1e3));
    json_object_set_new(lat, "max_us", json_real((double)h->max / 1e3));
    json_t *pj = json_object();
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
        char key[16];
        snprintf(key, sizeof(key), "%g", pcts[i]);
        json_object_set_new(pj, key, json_real((double)rs_hist_percentile(h, pcts[i]) / 1e3));
    }
    json_object_set_new(lat, "percentiles_us", pj);

    json_t *err = json_pack("{s:I,s:I,s:I,s:I,s:I}", "connect", (json_int_t)tt->err_connect, "read",
                            (json_int_t)tt->err_read, "write", (json_int_t)tt->err_write, "timeout",
                            (json_int_t)tt->err_timeout, "verify", (json_int_t)tt->err_verify);
    json_t *root = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:I,s:f,s:f,s:b,s:f,s:I,s:I,s:I,s:f,s:f,s:o,s:o}", "tool",
        "ringload", "version", RS_VERSION, "url", o->url, "proto",
        o->proto == RS_LOAD_UDP ? "udp" : "tcp", "backend", backend, "threads", (int)o->threads,
        "connections", (int)o->conns, "depth", (int)o->depth, "size", (json_int_t)o->size, "rate",
        o->rate, "duration_s", seconds, "verify", o->verify, "timeout_s",
        (double)o->timeout_ns / 1e9, "messages", (json_int_t)tt->msgs, "bytes_in",
        (json_int_t)tt->bytes_in, "bytes_out", (json_int_t)tt->bytes_out, "msgs_per_sec",
        seconds > 0 ? (double)tt->msgs / seconds : 0.0, "bytes_in_per_sec",
        seconds > 0 ? (double)tt->bytes_in / seconds : 0.0, "latency", lat, "errors", err);
    json_object_set_new(root, "cpu", json_pack("{s:f,s:f}", "user_s", cpu_user, "sys_s", cpu_sys));
    json_object_set_new(root, "schedule",
                        json_pack("{s:I,s:I}", "behind", (json_int_t)tt->sched_behind, "blocked",
                                  (json_int_t)tt->sched_blocked));
    if (o->proto == RS_LOAD_UDP)
        json_object_set_new(
            root, "udp",
            json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "sent", (json_int_t)tt->udp_sent, "received",
                      (json_int_t)tt->udp_recv, "lost", (json_int_t)tt->udp_lost, "duplicated",
                      (json_int_t)tt->udp_dup, "corrupt", (json_int_t)tt->udp_corrupt, "late",
                      (json_int_t)tt->udp_late));
    json_object_set_new(root, "histogram", hist_json(h));
    int rc = json_dump_file(root, o->json_path, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(root);
    return rc == 0 ? 0 : -EIO;
}

int load_report(const struct rs_load_opts *o, struct load_thread *ts, unsigned n, double seconds,
                double cpu_user, double cpu_sys, const char *backend)
{
    struct totals tt;
    struct rs_hist h;
    char a[32], b[32], c[32];

    if (rs_hist_init(&h, RS_HIST_DEFAULT_MAX) < 0)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++)
        rs_hist_merge(&h, &ts[i].hist);
    sum_counters(&tt, ts, n);

    printf("Running %.0fs test @ %s (backend %s)\n", seconds, o->url, backend);
    printf("  %u thread%s and %u %s, %zu-byte messages, depth %u, %s", o->threads,
           o->threads == 1 ? "" : "s", o->conns,
           o->proto == RS_LOAD_UDP ? "sockets" : "connections", o->size, o->depth,
           o->rate > 0 ? "constant rate" : "closed loop");
    if (o->rate > 0)
        printf(" %.0f/s", o->rate);
    printf("%s\n", o->verify ? "" : ", not verified");

    /* Per-thread messages/s over one-second samples. */
    double s_sum = 0, s_sq = 0, s_max = 0;
    uint64_t s_n = 0;
    for (unsigned i = 0; i < n; i++)
        for (uint32_t k = 0; k < ts[i].nsamples; k++) {
            double v = (double)ts[i].samples[k];
            s_sum += v;
            s_sq += v * v;
            s_max = v > s_max ? v : s_max;
            s_n++;
        }
    double s_mean = s_n ? s_sum / (double)s_n : 0;
    double s_sd = s_n > 1 ? sqrt(fmax(0, s_sq / (double)s_n - s_mean * s_mean)) : 0;

    printf("  Thread Stats   Avg      Stdev     Max   +/- Stdev\n");
    fmt_ns(a, sizeof(a), rs_hist_mean(&h));
    fmt_ns(b, sizeof(b), rs_hist_stddev(&h));
    fmt_ns(c, sizeof(c), (double)h.max);
    printf("    Latency   %8s  %8s  %8s  %7.2f%%\n", a, b, c, within_stdev(&h));
    fmt_count(a, sizeof(a), s_mean);
    fmt_count(b, sizeof(b), s_sd);
    fmt_count(c, sizeof(c), s_max);
    printf("    Msg/Sec   %8s  %8s  %8s\n", a, b, c);
    if (o->latency) {
        printf("  Latency Distribution%s\n",
               o->rate > 0 ? " (from intended send times: coordinated omission corrected)" : "");
        for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
            fmt_ns(a, sizeof(a), (double)rs_hist_percentile(&h, pcts[i]));
            printf("  %7g%%  %10s\n", pcts[i], a);
        }
    }
    fmt_bytes(a, sizeof(a), (double)tt.bytes_in);
    printf("  %" PRIu64 " messages in %.2fs, %s read\n", tt.msgs, seconds, a);
    if (o->proto == RS_LOAD_UDP)
        printf("  Datagrams: sent %" PRIu64 ", received %" PRIu64 ", lost %" PRIu64
               ", duplicated %" PRIu64 ", corrupt %" PRIu64 ", late %" PRIu64 "\n",
               tt.udp_sent, tt.udp_recv, tt.udp_lost, tt.udp_dup, tt.udp_corrupt, tt.udp_late);
    uint64_t errs = tt.err_connect + tt.err_read + tt.err_write + tt.err_timeout + tt.err_verify;
    if (errs)
        printf("  Errors: connect %" PRIu64 ", read %" PRIu64 ", write %" PRIu64
               ", timeout %" PRIu64 ", verify %" PRIu64 "\n",
               tt.err_connect, tt.err_read, tt.err_write, tt.err_timeout, tt.err_verify);
    if (o->rate > 0 && tt.sched_behind)
        printf("  Schedule: %" PRIu64 " sends went out more than 1 ms late with room to send: "
               "the generator could not keep the rate\n",
               tt.sched_behind);
    fmt_count(a, sizeof(a), seconds > 0 ? (double)tt.msgs / seconds : 0);
    printf("Messages/sec: %10.2f\n", seconds > 0 ? (double)tt.msgs / seconds : 0);
    fmt_bytes(b, sizeof(b), seconds > 0 ? (double)tt.bytes_in / seconds : 0);
    printf("Transfer/sec: %10s\n", b);
    printf("Generator CPU: user %.2fs, system %.2fs\n", cpu_user, cpu_sys);
    fflush(stdout);

    int rc = 0;
    if (o->json_path)
        rc = write_json(o, &tt, &h, seconds, cpu_user, cpu_sys, backend);
    rs_hist_fini(&h);
    return rc;
}
