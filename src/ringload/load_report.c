/* ringload's summary, in wrk's familiar shape, and its JSON (jansson): everything in the
 * summary plus the full histogram, in a form `ringload merge` combines across runs (this is how
 * a user who outgrows one machine runs the generator on several and adds the results up:
 * load_merge.c). */

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "load_summary.h"

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

void load_summary_print(const struct load_summary *s, bool latency)
{
    const struct rs_hist *h = &s->h;
    char a[32], b[32], c[32];

    /* 10s and more whole, as wrk prints them; shorter ones (-d 500ms, a run cut short by
     * Ctrl-C) to three figures, not as 0s. */
    char dur[32];
    snprintf(dur, sizeof(dur), s->duration >= 10 ? "%.0f" : "%.3g", s->duration);
    if (s->runs > 1)
        printf("Merged %d runs%s%s @ %s, %ss\n", s->runs, s->run_id[0] ? " of run " : "", s->run_id,
               s->url, dur);
    else
        printf("Running %ss test @ %s (backend %s)\n", dur, s->url, s->backend);
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
    if (s->shard_count > 0)
        printf("  Shard %d/%d of run %s: connections %u..%u of %u, %.6g/s of %.6g/s\n",
               s->shard_index, s->shard_count, s->run_id, s->conn_base,
               s->conn_base + (unsigned)s->conns - 1, s->conns_total, s->rate, s->rate_total);
    if (s->runs == 1 && s->start_at > 0)
        printf("  Started %.3fms after --start-at %.3f\n", (s->start_real - s->start_at) * 1e3,
               s->start_at);
    if (s->not_open_at_start)
        printf("  Start: %" PRIu64 " connection%s not open at the --start-at instant\n",
               s->not_open_at_start, s->not_open_at_start == 1 ? " was" : "s were");
    if (s->runs > 1) {
        printf("  Runs' windows %s", s->no_times ? "not all recorded: rates added up" : "");
        if (!s->no_times)
            printf("from %.3f to %.3f (%.3fs); start skew %.3fms", s->win_start, s->win_end,
                   s->win_end - s->win_start, (s->start_real_max - s->start_real) * 1e3);
        printf("%s\n", s->saturated ? "; a run fell behind its schedule (saturated)" : "");
    }
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

int load_summary_write_json(const struct load_summary *s, const char *path)
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
    json_object_set_new(root, "settings",
                        json_pack("{s:s,s:s,s:I,s:i,s:s,s:f,s:I,s:f}", "url", s->url, "proto",
                                  s->proto, "size", s->size, "depth", s->depth, "mode",
                                  s->rate_total > 0 ? "rate" : "closed", "rate", s->rate_total,
                                  "connections", (json_int_t)s->conns_total, "duration_s",
                                  s->duration));
    json_object_set_new(root, "run_id", s->run_id[0] ? json_string(s->run_id) : json_null());
    json_object_set_new(root, "shard",
                        s->shard_count > 0 ? json_pack("{s:i,s:i,s:I,s:I}", "index", s->shard_index,
                                                       "count", s->shard_count, "first_connection",
                                                       (json_int_t)s->conn_base, "connections",
                                                       (json_int_t)s->conns)
                                           : json_null());
    json_object_set_new(root, "saturated", json_boolean(s->saturated));
    if (s->win_end > 0) {
        json_object_set_new(root, "start_at_unix",
                            s->start_at > 0 ? json_real(s->start_at) : json_null());
        json_object_set_new(root, "start_unix", json_real(s->start));
        json_object_set_new(root, "start_real_unix", json_real(s->start_real));
        json_object_set_new(
            root, "window",
            json_pack("{s:f,s:f}", "start_unix", s->win_start, "end_unix", s->win_end));
    }
    json_object_set_new(root, "not_open_at_start", json_integer((json_int_t)s->not_open_at_start));
    if (s->runs > 1)
        json_object_set_new(
            root, "merge",
            json_pack("{s:i,s:o,s:o,s:s,s:b}", "runs", s->runs, "shards",
                      s->shards ? json_incref(s->shards) : json_array(), "start_skew_ms",
                      s->no_times ? json_null()
                                  : json_real((s->start_real_max - s->start_real) * 1e3),
                      "rate_over", s->no_times ? "sum of the runs' rates" : "common window",
                      "forced", s->forced));
    errno = 0;
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_SORT_KEYS);
    int e = rc == 0 ? 0 : errno ? -errno : -EIO; /* fopen's or a write's reason, before free */
    json_decref(root);
    return e;
}

/* Test hook (docs/testing.md): RINGSOCK_TEST_LOAD_LATENCIES=FILE replaces what the run
 * measured in h with FILE's values (ns, whitespace-separated); with --shard I/N, only the values
 * whose position is I modulo N. A test can then merge the shards' JSON and compare it with one
 * unsharded run fed every value. Returns 0 or -errno. */
static int test_latencies(const struct rs_load_opts *o, struct rs_hist *h)
{
    const char *path = getenv("RINGSOCK_TEST_LOAD_LATENCIES");
    if (!path || !*path)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    unsigned long long v;
    uint64_t i = 0;
    rs_hist_reset(h);
    while (fscanf(f, "%llu", &v) == 1) {
        if (o->shard_count == 0 || i % o->shard_count == o->shard_index)
            rs_hist_record(h, v);
        i++;
    }
    int e = ferror(f) || !feof(f) ? -EINVAL : 0;
    fclose(f);
    return e;
}

/* Prints the summary of the n threads that ran (and writes JSON when asked). Returns 0 or
 * -errno. */
static int report_summary(const struct rs_load_opts *o, struct load_thread *ts, unsigned n,
                          double seconds, double cpu_user, double cpu_sys, const char *backend)
{
    struct load_summary s;
    memset(&s, 0, sizeof(s));
    if (rs_hist_init(&s.h, RS_HIST_DEFAULT_MAX) < 0)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        rs_hist_merge(&s.h, &ts[i].hist);
#define LOAD_SUM(name) s.name += LOAD_GET(&ts[i], name);
        LOAD_FIELDS(LOAD_SUM)
#undef LOAD_SUM
    }
    int te = test_latencies(o, &s.h);
    if (te < 0) {
        rs_hist_fini(&s.h);
        return te;
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
    snprintf(s.run_id, sizeof(s.run_id), "%s", o->run_id ? o->run_id : "");
    s.shard_index = o->shard_count ? (int)o->shard_index : -1;
    s.shard_count = (int)o->shard_count;
    s.conn_base = o->conn_base;
    s.conns_total = o->conns_total;
    s.rate_total = o->rate_total;
    s.saturated = o->rate > 0 && s.sched_behind > 0;
    /* Times on the wall clock: t0 is t0_unix exactly; the rest are offsets from it. */
    uint64_t t0 = ts[0].t0, started = 0;
    for (unsigned i = 0; i < n; i++) {
        started = ts[i].started_ns > started ? ts[i].started_ns : started;
        s.not_open_at_start += ts[i].not_open_at_start;
    }
    s.start = (double)ts[0].t0_unix / 1e9;
    s.start_at = o->start_at ? s.start : 0;
    s.start_real = started ? s.start + ((double)started - (double)t0) / 1e9 : s.start;
    s.start_real_max = s.start_real;
    s.win_start = s.start + (double)o->warmup_ns / 1e9;
    s.win_end = s.win_start + seconds;
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

    load_summary_print(&s, o->latency);
    int rc = o->json_path ? load_summary_write_json(&s, o->json_path) : 0;
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
    for (unsigned i = 0; i < n; i++)
        bad += ts[i].not_open_at_start;
    if (bad) {
        rs_log_error("%llu connection%s not open at the --start-at instant",
                     (unsigned long long)bad, bad == 1 ? " was" : "s were");
        return true;
    }
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
