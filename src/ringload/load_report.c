/* ringload's summary, in wrk's familiar shape, and its JSON (jansson): everything in the
 * summary plus the full histogram, in a form `ringload merge` combines across runs (this is how
 * a user who outgrows one machine runs the generator on several and adds the results up). */

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "load.h"

/* Everything a report shows, from one run's threads or from several runs' JSON. */
struct summary {
    char url[512];
    const char *proto, *backend;
    int threads, conns, depth;
    json_int_t size;
    double rate, duration, timeout;
    bool verify;
    int runs; /* >1 for a merge */
#define LOAD_DECL(name) uint64_t name;
    LOAD_FIELDS(LOAD_DECL)
#undef LOAD_DECL
    double msgs_per_sec, bytes_in_per_sec;
    double cpu_user, cpu_sys;
    double s_mean, s_sd, s_max; /* per-thread messages/s over one-second samples */
    uint64_t s_n;
    uint64_t exact_min, exact_max; /* merge: the runs' own extremes (buckets only bound them) */
    struct rs_hist h;
    bool have_http_times;
    double connect_mean, connect_p99, ttfb_mean, ttfb_p50, ttfb_p99; /* ns */
};

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

static void print_summary(const struct summary *s, bool latency)
{
    const struct rs_hist *h = &s->h;
    char a[32], b[32], c[32];

    if (s->runs > 1)
        printf("Merged %d runs @ %s, %.0fs each\n", s->runs, s->url, s->duration);
    else
        printf("Running %.0fs test @ %s (backend %s)\n", s->duration, s->url, s->backend);
    bool http = strcmp(s->proto, "http") == 0;
    if (http)
        printf("  %d thread%s and %d connections, %d request%s outstanding per connection, %s",
               s->threads, s->threads == 1 ? "" : "s", s->conns, s->depth,
               s->depth == 1 ? "" : "s (pipelined)", s->rate > 0 ? "constant rate" : "closed loop");
    else
        printf("  %d thread%s and %d %s, %lld-byte messages, depth %d, %s", s->threads,
               s->threads == 1 ? "" : "s", s->conns,
               strcmp(s->proto, "udp") == 0 ? "sockets" : "connections", (long long)s->size,
               s->depth, s->rate > 0 ? "constant rate" : "closed loop");
    if (s->rate > 0)
        printf(" %.0f/s", s->rate);
    printf("%s%s\n", s->verify || http ? "" : ", not verified", s->runs > 1 ? " (in total)" : "");
    printf("  Thread Stats   Avg      Stdev     Max   +/- Stdev\n");
    load_fmt_ns(a, sizeof(a), rs_hist_mean(h));
    load_fmt_ns(b, sizeof(b), rs_hist_stddev(h));
    load_fmt_ns(c, sizeof(c), (double)h->max);
    printf("    Latency   %8s  %8s  %8s  %7.2f%%\n", a, b, c, load_within_stdev(h));
    fmt_count(a, sizeof(a), s->s_mean);
    fmt_count(b, sizeof(b), s->s_sd);
    fmt_count(c, sizeof(c), s->s_max);
    printf("    %s   %8s  %8s  %8s\n", http ? "Req/Sec" : "Msg/Sec", a, b, c);
    if (latency) {
        printf("  Latency Distribution%s\n",
               s->rate > 0 ? " (from intended send times: coordinated omission corrected)" : "");
        for (size_t i = 0; i < LOAD_NPCTS; i++) {
            load_fmt_ns(a, sizeof(a), (double)rs_hist_percentile(h, load_pcts[i]));
            printf("  %7g%%  %10s\n", load_pcts[i], a);
        }
    }
    fmt_bytes(a, sizeof(a), (double)s->bytes_in);
    printf("  %" PRIu64 " %s in %.2fs, %s read\n", s->msgs, http ? "requests" : "messages",
           s->duration, a);
    if (strcmp(s->proto, "http") == 0) {
        printf("  Status: 2xx %" PRIu64 ", 3xx %" PRIu64 ", 4xx %" PRIu64 ", 5xx %" PRIu64 "\n",
               s->http_2xx, s->http_3xx, s->http_4xx, s->http_5xx);
        if (s->have_http_times) {
            load_fmt_ns(a, sizeof(a), s->connect_mean);
            load_fmt_ns(b, sizeof(b), s->connect_p99);
            printf("  Connect: mean %s, p99 %s (%" PRIu64 " connections)", a, b, s->connects);
            load_fmt_ns(a, sizeof(a), s->ttfb_mean);
            load_fmt_ns(b, sizeof(b), s->ttfb_p50);
            load_fmt_ns(c, sizeof(c), s->ttfb_p99);
            printf("; time to first byte: mean %s, p50 %s, p99 %s\n", a, b, c);
        }
        if (s->http_3xx + s->http_4xx + s->http_5xx)
            printf("  Non-2xx or 3xx responses: %" PRIu64 "\n", s->http_4xx + s->http_5xx);
    }
    if (strcmp(s->proto, "udp") == 0)
        printf("  Datagrams: sent %" PRIu64 ", received %" PRIu64 ", lost %" PRIu64
               ", duplicated %" PRIu64 ", corrupt %" PRIu64 ", late %" PRIu64 "\n",
               s->udp_sent, s->udp_recv, s->udp_lost, s->udp_dup, s->udp_corrupt, s->udp_late);
    if (s->err_connect + s->err_read + s->err_write + s->err_timeout + s->err_verify)
        printf("  Errors: connect %" PRIu64 ", read %" PRIu64 ", write %" PRIu64
               ", timeout %" PRIu64 ", verify %" PRIu64 "\n",
               s->err_connect, s->err_read, s->err_write, s->err_timeout, s->err_verify);
    if (s->rate > 0 && s->sched_behind)
        printf("  Schedule: %" PRIu64 " sends went out more than 1 ms late with room to send: "
               "the generator could not keep the rate\n",
               s->sched_behind);
    printf("%s/sec: %10.2f\n", strcmp(s->proto, "http") == 0 ? "Requests" : "Messages",
           s->msgs_per_sec);
    fmt_bytes(b, sizeof(b), s->bytes_in_per_sec);
    printf("Transfer/sec: %10s\n", b);
    printf("Generator CPU: user %.2fs, system %.2fs\n", s->cpu_user, s->cpu_sys);
    fflush(stdout);
}

static int write_json(const struct summary *s, const char *path)
{
    const struct rs_hist *h = &s->h;
    json_t *lat = load_latency_json(h);
    json_t *err = json_pack("{s:I,s:I,s:I,s:I,s:I}", "connect", (json_int_t)s->err_connect, "read",
                            (json_int_t)s->err_read, "write", (json_int_t)s->err_write, "timeout",
                            (json_int_t)s->err_timeout, "verify", (json_int_t)s->err_verify);
    json_t *root = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:I,s:f,s:f,s:b,s:f,s:i,s:I,s:I,s:I,s:f,s:f,s:o,s:o}",
        "tool", "ringload", "version", RS_VERSION, "url", s->url, "proto", s->proto, "backend",
        s->backend, "threads", s->threads, "connections", s->conns, "depth", s->depth, "size",
        s->size, "rate", s->rate, "duration_s", s->duration, "verify", s->verify, "timeout_s",
        s->timeout, "runs", s->runs, "messages", (json_int_t)s->msgs, "bytes_in",
        (json_int_t)s->bytes_in, "bytes_out", (json_int_t)s->bytes_out, "msgs_per_sec",
        s->msgs_per_sec, "bytes_in_per_sec", s->bytes_in_per_sec, "latency", lat, "errors", err);
    json_object_set_new(root, "cpu",
                        json_pack("{s:f,s:f}", "user_s", s->cpu_user, "sys_s", s->cpu_sys));
    json_object_set_new(root, "thread_msgs_per_sec",
                        json_pack("{s:f,s:f,s:f,s:I}", "mean", s->s_mean, "stdev", s->s_sd, "max",
                                  s->s_max, "samples", (json_int_t)s->s_n));
    json_object_set_new(root, "schedule",
                        json_pack("{s:I,s:I}", "behind", (json_int_t)s->sched_behind, "blocked",
                                  (json_int_t)s->sched_blocked));
    json_object_set_new(root, "udp",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "sent", (json_int_t)s->udp_sent,
                                  "received", (json_int_t)s->udp_recv, "lost",
                                  (json_int_t)s->udp_lost, "duplicated", (json_int_t)s->udp_dup,
                                  "corrupt", (json_int_t)s->udp_corrupt, "late",
                                  (json_int_t)s->udp_late));
    json_t *http = json_pack("{s:I,s:I,s:I,s:I}", "2xx", (json_int_t)s->http_2xx, "3xx",
                             (json_int_t)s->http_3xx, "4xx", (json_int_t)s->http_4xx, "5xx",
                             (json_int_t)s->http_5xx);
    if (s->have_http_times)
        json_object_set_new(http, "times_us",
                            json_pack("{s:f,s:f,s:f,s:f,s:f}", "connect_mean",
                                      s->connect_mean / 1e3, "connect_p99", s->connect_p99 / 1e3,
                                      "ttfb_mean", s->ttfb_mean / 1e3, "ttfb_p50",
                                      s->ttfb_p50 / 1e3, "ttfb_p99", s->ttfb_p99 / 1e3));
    json_object_set_new(root, "http", http);
    json_object_set_new(root, "connects", json_integer((json_int_t)s->connects));
    json_object_set_new(root, "mode", json_string("load"));
    json_object_set_new(root, "percentile_curve", load_curve_json(h));
    json_object_set_new(root, "histogram", load_hist_json(h));
    errno = 0;
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_SORT_KEYS);
    int e = rc == 0 ? 0 : errno ? -errno : -EIO; /* fopen's or a write's reason, before free */
    json_decref(root);
    return e;
}

/* Prints the summary of the n threads that ran (and writes JSON when asked). Returns 0 or
 * -errno. */
static int report_summary(const struct rs_load_opts *o, struct load_thread *ts, unsigned n,
                          double seconds, double cpu_user, double cpu_sys, const char *backend)
{
    struct summary s;
    memset(&s, 0, sizeof(s));
    if (rs_hist_init(&s.h, RS_HIST_DEFAULT_MAX) < 0)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        rs_hist_merge(&s.h, &ts[i].hist);
#define LOAD_SUM(name) s.name += LOAD_GET(&ts[i], name);
        LOAD_FIELDS(LOAD_SUM)
#undef LOAD_SUM
    }
    snprintf(s.url, sizeof(s.url), "%s", o->url);
    s.proto = ts[0].proto->name;
    if (o->proto == RS_LOAD_HTTP) {
        struct rs_hist hc = {0}, ht = {0}; /* fini'd below even if their init never ran */
        if (rs_hist_init(&hc, RS_HIST_DEFAULT_MAX) == 0 &&
            rs_hist_init(&ht, RS_HIST_DEFAULT_MAX) == 0) {
            for (unsigned i = 0; i < n; i++) {
                if (ts[i].hist_connect.counts)
                    rs_hist_merge(&hc, &ts[i].hist_connect);
                if (ts[i].hist_ttfb.counts)
                    rs_hist_merge(&ht, &ts[i].hist_ttfb);
            }
            s.have_http_times = true;
            s.connect_mean = rs_hist_mean(&hc);
            s.connect_p99 = (double)rs_hist_percentile(&hc, 99);
            s.ttfb_mean = rs_hist_mean(&ht);
            s.ttfb_p50 = (double)rs_hist_percentile(&ht, 50);
            s.ttfb_p99 = (double)rs_hist_percentile(&ht, 99);
        }
        rs_hist_fini(&hc);
        rs_hist_fini(&ht);
    }
    s.backend = backend;
    s.threads = (int)o->threads;
    s.conns = (int)o->conns;
    s.depth = (int)o->depth;
    s.size = (json_int_t)o->size;
    s.rate = o->rate;
    s.duration = seconds;
    s.timeout = (double)o->timeout_ns / 1e9;
    s.verify = o->verify;
    s.runs = 1;
    s.msgs_per_sec = seconds > 0 ? (double)s.msgs / seconds : 0;
    s.bytes_in_per_sec = seconds > 0 ? (double)s.bytes_in / seconds : 0;
    s.cpu_user = cpu_user;
    s.cpu_sys = cpu_sys;
    double sum = 0, sq = 0;
    for (unsigned i = 0; i < n; i++)
        for (uint32_t k = 0; k < ts[i].nsamples; k++) {
            double v = (double)ts[i].samples[k];
            sum += v;
            sq += v * v;
            s.s_max = v > s.s_max ? v : s.s_max;
            s.s_n++;
        }
    s.s_mean = s.s_n ? sum / (double)s.s_n : 0;
    s.s_sd = s.s_n > 1 ? sqrt(fmax(0, sq / (double)s.s_n - s.s_mean * s.s_mean)) : 0;

    print_summary(&s, o->latency);
    int rc = o->json_path ? write_json(&s, o->json_path) : 0;
    rs_hist_fini(&s.h);
    return rc;
}

/* The live line: messages a second, errors so far, the worst thread's p99. */
static void report_progress(struct load_thread *ts, unsigned n, double elapsed,
                            const struct rs_load_opts *o, uint64_t *last)
{
    uint64_t msgs = 0, errs = 0, p99 = 0;
    (void)o;
    for (unsigned i = 0; i < n; i++) {
        msgs += LOAD_GET(&ts[i], msgs_all);
        errs += LOAD_GET(&ts[i], err_connect) + LOAD_GET(&ts[i], err_read) +
                LOAD_GET(&ts[i], err_write) + LOAD_GET(&ts[i], err_timeout) +
                LOAD_GET(&ts[i], err_verify) + LOAD_GET(&ts[i], udp_corrupt);
        uint64_t p = LOAD_GET(&ts[i], p99_ns);
        p99 = p > p99 ? p : p99;
    }
    fprintf(stderr, "  %5.0fs  %10.0f msg/s  errors %llu  p99 %.3f ms\n", elapsed,
            (double)(msgs - *last), (unsigned long long)errs, (double)p99 / 1e6);
    *last = msgs;
}

/* The exit status tells scripts whether what came back was right: a load run fails if any
 * answer was wrong, or none came. HTTP: like wrk, non-2xx answers are reported, not a failure
 * of the run. */
static bool report_failed(const struct rs_load_opts *o, struct load_thread *ts, unsigned n)
{
    uint64_t bad = 0, msgs = 0;
    (void)o;
    for (unsigned i = 0; i < n; i++) {
        bad += LOAD_GET(&ts[i], err_verify) + LOAD_GET(&ts[i], udp_corrupt);
        msgs += LOAD_GET(&ts[i], msgs_all);
    }
    return bad || msgs == 0;
}

const struct load_report_ops load_report_ops = {
    .progress = report_progress,
    .summary = report_summary,
    .failed = report_failed,
};

/* --- merge --- */

/* Adds one run's JSON into s. Returns 0 or -EINVAL with a reason in err. */
static int merge_one(struct summary *s, json_t *root, const char *path, char *err, size_t errlen)
{
    json_t *hj = json_object_get(root, "histogram");
    json_t *buckets = hj ? json_object_get(hj, "buckets") : NULL;
    const char *tool = json_string_value(json_object_get(root, "tool"));
    const char *proto = json_string_value(json_object_get(root, "proto"));
    const char *mode = json_string_value(json_object_get(root, "mode"));
    if (!tool || strcmp(tool, "ringload") != 0 || !proto || !json_is_array(buckets)) {
        snprintf(err, errlen, "%s: not a ringload --json result", path);
        return -EINVAL;
    }
    if (mode && strcmp(mode, "idle") == 0) {
        snprintf(err, errlen, "%s: an --idle run cannot be merged with load runs", path);
        return -EINVAL;
    }
    uint64_t max_value = load_jget_u64(root, "histogram.max_value");
    uint32_t sub_bits = (uint32_t)load_jget_u64(root, "histogram.sub_bits");
    if (s->runs == 0) {
        if (rs_hist_init_layout(&s->h, max_value, sub_bits) < 0) {
            snprintf(err, errlen, "%s: bad histogram layout", path);
            return -EINVAL;
        }
        snprintf(s->url, sizeof(s->url), "%s", json_string_value(json_object_get(root, "url")));
        s->proto = strcmp(proto, "udp") == 0 ? "udp" : strcmp(proto, "http") == 0 ? "http" : "tcp";
        s->backend = "merged";
        s->size = (json_int_t)load_jget_u64(root, "size");
        s->depth = (int)load_jget_u64(root, "depth");
        s->verify = json_is_true(json_object_get(root, "verify"));
        s->duration = load_jget_num(root, "duration_s");
        s->timeout = load_jget_num(root, "timeout_s");
        s->exact_min = UINT64_MAX;
    } else if (strcmp(proto, s->proto) != 0 || s->h.max_value != max_value ||
               s->h.sub_bits != sub_bits) {
        snprintf(err, errlen, "%s: a %s run or a different histogram layout; cannot merge", path,
                 proto);
        return -EINVAL;
    }
    size_t i;
    json_t *b;
    json_array_foreach(buckets, i, b)
    {
        json_int_t idx = json_integer_value(json_array_get(b, 0));
        json_int_t cnt = json_integer_value(json_array_get(b, 1));
        if (idx < 0 || cnt < 0 || rs_hist_add_bucket(&s->h, (uint32_t)idx, (uint64_t)cnt) < 0) {
            snprintf(err, errlen, "%s: bad histogram bucket %zu", path, i);
            return -EINVAL;
        }
    }
    s->h.overflow += load_jget_u64(root, "histogram.overflow");
    uint64_t mn = load_jget_u64(root, "histogram.min"), mx = load_jget_u64(root, "histogram.max");
    if (load_jget_u64(root, "histogram.total") > 0) {
        s->exact_min = mn < s->exact_min ? mn : s->exact_min; /* applied at the end */
        s->exact_max = mx > s->exact_max ? mx : s->exact_max;
    }
    s->runs++;
    s->threads += (int)load_jget_u64(root, "threads");
    s->conns += (int)load_jget_u64(root, "connections");
    s->rate += load_jget_num(root, "rate");
    double d = load_jget_num(root, "duration_s");
    s->duration = d > s->duration ? d : s->duration;
    s->msgs += load_jget_u64(root, "messages");
    s->bytes_in += load_jget_u64(root, "bytes_in");
    s->bytes_out += load_jget_u64(root, "bytes_out");
    /* Runs on several machines at once: their rates add up. */
    s->msgs_per_sec += load_jget_num(root, "msgs_per_sec");
    s->bytes_in_per_sec += load_jget_num(root, "bytes_in_per_sec");
    s->cpu_user += load_jget_num(root, "cpu.user_s");
    s->cpu_sys += load_jget_num(root, "cpu.sys_s");
    s->err_connect += load_jget_u64(root, "errors.connect");
    s->err_read += load_jget_u64(root, "errors.read");
    s->err_write += load_jget_u64(root, "errors.write");
    s->err_timeout += load_jget_u64(root, "errors.timeout");
    s->err_verify += load_jget_u64(root, "errors.verify");
    s->udp_sent += load_jget_u64(root, "udp.sent");
    s->udp_recv += load_jget_u64(root, "udp.received");
    s->udp_lost += load_jget_u64(root, "udp.lost");
    s->udp_dup += load_jget_u64(root, "udp.duplicated");
    s->udp_corrupt += load_jget_u64(root, "udp.corrupt");
    s->udp_late += load_jget_u64(root, "udp.late");
    s->http_2xx += load_jget_u64(root, "http.2xx");
    s->http_3xx += load_jget_u64(root, "http.3xx");
    s->http_4xx += load_jget_u64(root, "http.4xx");
    s->http_5xx += load_jget_u64(root, "http.5xx");
    s->connects += load_jget_u64(root, "connects");
    s->sched_behind += load_jget_u64(root, "schedule.behind");
    s->sched_blocked += load_jget_u64(root, "schedule.blocked");
    /* Per-thread sample statistics: pooled mean and variance. */
    uint64_t n = load_jget_u64(root, "thread_msgs_per_sec.samples");
    double m = load_jget_num(root, "thread_msgs_per_sec.mean");
    double sd = load_jget_num(root, "thread_msgs_per_sec.stdev");
    double mxs = load_jget_num(root, "thread_msgs_per_sec.max");
    if (n > 0) {
        double tot = (double)(s->s_n + n);
        double mean = (s->s_mean * (double)s->s_n + m * (double)n) / tot;
        double ex2 = ((s->s_sd * s->s_sd + s->s_mean * s->s_mean) * (double)s->s_n +
                      (sd * sd + m * m) * (double)n) /
                     tot;
        s->s_mean = mean;
        s->s_sd = sqrt(fmax(0, ex2 - mean * mean));
        s->s_n += n;
        s->s_max = mxs > s->s_max ? mxs : s->s_max;
    }
    return 0;
}

/* True if the first result file named in argv is an --idle run. */
static bool load_merge_first_is_idle(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            i++;
            continue;
        }
        if (argv[i][0] == '-')
            continue;
        json_t *root = json_load_file(argv[i], 0, NULL);
        const char *mode = json_string_value(json_object_get(root, "mode"));
        bool idle = mode && strcmp(mode, "idle") == 0;
        json_decref(root);
        return idle;
    }
    return false;
}

static int merge_one_fn(void *s, json_t *root, const char *path, char *err, size_t errlen)
{
    return merge_one(s, root, path, err, errlen);
}

int load_merge(int argc, char **argv)
{
    struct summary s;
    const char *json_out = NULL;
    bool latency = true;
    int rc = 1;

    memset(&s, 0, sizeof(s));
    if (load_merge_first_is_idle(argc, argv))
        return load_idle_merge(argc, argv);
    int nfiles = load_merge_files(argc, argv, merge_one_fn, &s, &json_out, &latency);
    if (nfiles < 0)
        goto out;
    if (nfiles == 0) {
        fprintf(stderr, "ringload: merge: usage: ringload merge [--json OUT] A.json B.json ...\n");
        rc = 2;
        goto out;
    }
    if (s.h.total > 0 && rs_hist_set_minmax(&s.h, s.exact_min, s.exact_max) < 0) {
        fprintf(stderr, "ringload: merge: min/max do not match the histograms\n");
        goto out;
    }
    print_summary(&s, latency);
    rc = 0;
    int e = json_out ? write_json(&s, json_out) : 0;
    if (e < 0) {
        fprintf(stderr, "ringload: merge: cannot write %s: %s\n", json_out, strerror(-e));
        rc = 1;
    }
out:
    rs_hist_fini(&s.h);
    return rc;
}
