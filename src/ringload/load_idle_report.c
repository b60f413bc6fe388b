/* ringload --idle's summary and JSON: connections requested, established and failed (by
 * errno), the time from the first connect to the last connection established and the connect
 * rate it makes, connect time percentiles (the run's histogram), how many the peer closed while
 * they were held and how the liveness check went. `ringload merge` adds up --idle runs made at
 * the same time from several machines. */

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "load.h"

struct idle_summary {
    char url[512];
    const char *backend, *check;
    int runs, threads;
    uint64_t requested, established, failed, peer_closed;
    uint64_t check_ok, check_unanswered, check_closed, check_wrong;
    uint64_t bytes_in, bytes_out;
    uint64_t failures[LOAD_ERRNO_MAX];
    uint64_t max_connecting;
    json_int_t size;
    double open_s, connects_per_sec, connect_rate, connect_timeout_s, hold_s, duration_s;
    double timeout_s, cpu_user, cpu_sys;
    json_t *sources; /* array of address strings (owned) */
    struct rs_hist h;
    uint64_t exact_min, exact_max; /* merge: the runs' own extremes */
};

static const char *check_name(enum rs_idle_check c)
{
    return c == RS_IDLE_CHECK_ECHO ? "echo" : c == RS_IDLE_CHECK_HTTP ? "http" : "none";
}

static uint64_t check_failed(const struct idle_summary *s)
{
    return s->check_unanswered + s->check_closed + s->check_wrong;
}

static const char *errno_name(unsigned e, char *buf, size_t n)
{
    const char *name = e ? strerrorname_np((int)e) : NULL;
    if (name)
        return name;
    snprintf(buf, n, e ? "E%u" : "other", e);
    return buf;
}

static void print_idle(const struct idle_summary *s, bool latency)
{
    const struct rs_hist *h = &s->h;
    char a[32], b[32], c[32];
    size_t nsrc = json_array_size(s->sources);

    if (s->runs > 1)
        printf("Merged %d --idle runs @ %s, held %.0fs\n", s->runs, s->url, s->duration_s);
    else
        printf("Holding idle connections @ %s for %.0fs (backend %s)\n", s->url, s->duration_s,
               s->backend);
    printf("  %d thread%s", s->threads, s->threads == 1 ? "" : "s");
    if (nsrc)
        printf(", %zu source address%s", nsrc, nsrc == 1 ? "" : "es");
    printf(", at most %" PRIu64 " connecting", s->max_connecting);
    if (s->connect_rate > 0)
        printf(", at most %.0f connects/s", s->connect_rate);
    printf(", connect timeout %gs%s\n", s->connect_timeout_s, s->runs > 1 ? " (in total)" : "");
    printf("  Connections: %" PRIu64 " requested, %" PRIu64 " established, %" PRIu64 " failed\n",
           s->requested, s->established, s->failed);
    if (s->failed) {
        printf("  Connect errors:");
        const char *sep = " ";
        for (unsigned e = 0; e < LOAD_ERRNO_MAX; e++) {
            if (!s->failures[e])
                continue;
            printf("%s%" PRIu64 " %s (%s)", sep, s->failures[e], errno_name(e, a, sizeof(a)),
                   e ? strerror((int)e) : "unknown");
            sep = ", ";
        }
        printf("\n");
    }
    printf("  Opened in %.3fs (first connect to last established): %.0f connects/s\n", s->open_s,
           s->connects_per_sec);
    printf("  Connect Time   Avg      Stdev     Max   +/- Stdev\n");
    load_fmt_ns(a, sizeof(a), rs_hist_mean(h));
    load_fmt_ns(b, sizeof(b), rs_hist_stddev(h));
    load_fmt_ns(c, sizeof(c), (double)h->max);
    printf("               %8s  %8s  %8s  %7.2f%%\n", a, b, c, load_within_stdev(h));
    if (latency) {
        printf("  Connect Time Distribution\n");
        for (size_t i = 0; i < LOAD_NPCTS; i++) {
            load_fmt_ns(a, sizeof(a), (double)rs_hist_percentile(h, load_pcts[i]));
            printf("  %7g%%  %10s\n", load_pcts[i], a);
        }
    }
    printf("  Held %.2fs: %" PRIu64 " closed by the peer, %" PRIu64 " still open\n", s->hold_s,
           s->peer_closed, s->established - s->peer_closed);
    if (strcmp(s->check, "none") == 0)
        printf("  Check: none\n");
    else
        printf("  Check (%s, %gs timeout): %" PRIu64 " alive, %" PRIu64 " failed (%" PRIu64
               " unanswered, %" PRIu64 " closed, %" PRIu64 " wrong answers)\n",
               s->check, s->timeout_s, s->check_ok, check_failed(s), s->check_unanswered,
               s->check_closed, s->check_wrong);
    printf("Generator CPU: user %.2fs, system %.2fs\n", s->cpu_user, s->cpu_sys);
    fflush(stdout);
}

static int write_idle_json(const struct idle_summary *s, const char *path)
{
    char buf[32];
    json_t *fail = json_object();
    for (unsigned e = 0; e < LOAD_ERRNO_MAX; e++)
        if (s->failures[e])
            json_object_set_new(fail, errno_name(e, buf, sizeof(buf)),
                                json_pack("{s:I,s:i,s:s}", "count", (json_int_t)s->failures[e],
                                          "errno", (int)e, "message",
                                          e ? strerror((int)e) : "unknown"));
    json_t *check = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "kind", s->check, "ok",
                              (json_int_t)s->check_ok, "failed", (json_int_t)check_failed(s),
                              "unanswered", (json_int_t)s->check_unanswered, "closed",
                              (json_int_t)s->check_closed, "wrong", (json_int_t)s->check_wrong);
    json_t *idle = json_pack(
        "{s:I,s:I,s:I,s:o,s:f,s:f,s:f,s:I,s:f,s:f,s:I,s:I,s:o,s:O}", "requested",
        (json_int_t)s->requested, "established", (json_int_t)s->established, "failed",
        (json_int_t)s->failed, "failures", fail, "open_s", s->open_s, "connects_per_sec",
        s->connects_per_sec, "connect_rate_limit", s->connect_rate, "max_connecting",
        (json_int_t)s->max_connecting, "connect_timeout_s", s->connect_timeout_s, "hold_s",
        s->hold_s, "closed_by_peer", (json_int_t)s->peer_closed, "held",
        (json_int_t)(s->established - s->peer_closed), "check", check, "sources", s->sources);
    json_t *root =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:f,s:f,s:i,s:I,s:I,s:I,s:s,s:o,s:o,s:o}",
                  "tool", "ringload", "version", RS_VERSION, "mode", "idle", "url", s->url, "proto",
                  strncmp(s->url, "http", 4) == 0 ? "http" : "tcp", "backend", s->backend,
                  "threads", s->threads, "connections", (json_int_t)s->requested, "size", s->size,
                  "duration_s", s->duration_s, "timeout_s", s->timeout_s, "runs", s->runs,
                  "connects", (json_int_t)s->established, "bytes_in", (json_int_t)s->bytes_in,
                  "bytes_out", (json_int_t)s->bytes_out, "latency_of", "connect", "latency",
                  load_latency_json(&s->h), "histogram", load_hist_json(&s->h), "idle", idle);
    json_object_set_new(root, "cpu",
                        json_pack("{s:f,s:f}", "user_s", s->cpu_user, "sys_s", s->cpu_sys));
    /* The load runs' keys, so tools that read those read these too: the rate is of connects,
     * the latency and its curve are connect times, and every failure is an error. */
    json_object_set_new(root, "errors",
                        json_pack("{s:I,s:I,s:I,s:I,s:I}", "connect", (json_int_t)s->failed, "read",
                                  (json_int_t)(s->peer_closed + s->check_closed), "write",
                                  (json_int_t)0, "timeout", (json_int_t)s->check_unanswered,
                                  "verify", (json_int_t)s->check_wrong));
    json_object_set_new(root, "msgs_per_sec", json_real(s->connects_per_sec));
    json_object_set_new(root, "depth", json_integer(1));
    json_object_set_new(root, "percentile_curve", load_curve_json(&s->h));
    json_object_set_new(root, "udp",
                        json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "sent", 0, "received", 0, "lost", 0,
                                  "duplicated", 0, "corrupt", 0, "late", 0));
    json_object_set_new(root, "http",
                        json_pack("{s:i,s:i,s:i,s:i}", "2xx", 0, "3xx", 0, "4xx", 0, "5xx", 0));
    errno = 0;
    int rc = root ? json_dump_file(root, path, JSON_INDENT(1) | JSON_SORT_KEYS) : -1;
    int e = rc == 0 ? 0 : errno ? -errno : -EIO; /* fopen's or a write's reason, before free */
    json_decref(root);
    return e;
}

/* Prints --idle's summary of the n threads that ran (and writes JSON when asked). Returns 0
 * or -errno. */
static int idle_summary(const struct rs_load_opts *o, struct load_thread *ts, unsigned n,
                        double seconds, double cpu_user, double cpu_sys, const char *backend)
{
    struct idle_summary s;
    char buf[RS_ADDR_STRLEN];
    uint64_t first = UINT64_MAX, last = 0, hold_ns = 0;

    (void)seconds; /* the hold is measured: hold_s */
    memset(&s, 0, sizeof(s));
    if (rs_hist_init(&s.h, RS_HIST_DEFAULT_MAX) < 0)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        const struct load_thread *t = &ts[i];
        const struct load_idle *id = &t->idle;
        if (t->hist_connect.counts)
            rs_hist_merge(&s.h, &t->hist_connect);
        s.established += LOAD_GET(t, connects);
        s.failed += LOAD_GET(t, err_connect);
        s.peer_closed += LOAD_GET(t, peer_closed);
        s.check_ok += LOAD_GET(t, check_ok);
        s.check_unanswered += LOAD_GET(t, check_unanswered);
        s.check_closed += LOAD_GET(t, check_closed);
        s.check_wrong += LOAD_GET(t, check_wrong);
        s.bytes_in += LOAD_GET(t, bytes_in);
        s.bytes_out += LOAD_GET(t, bytes_out);
        for (unsigned e = 0; e < LOAD_ERRNO_MAX; e++)
            s.failures[e] += id->failures[e];
        if (id->started && id->t_first < first)
            first = id->t_first;
        if (id->t_last > last)
            last = id->t_last;
        if (id->check_start > id->hold_start && id->check_start - id->hold_start > hold_ns)
            hold_ns = id->check_start - id->hold_start;
    }
    snprintf(s.url, sizeof(s.url), "%s", o->url);
    s.backend = backend;
    s.check = check_name(o->idle_check);
    s.runs = 1;
    s.threads = (int)o->threads;
    s.requested = o->conns;
    s.max_connecting = o->max_connecting;
    s.size = (json_int_t)o->size;
    s.connect_rate = o->connect_rate;
    s.connect_timeout_s = (double)o->connect_timeout_ns / 1e9;
    s.duration_s = (double)o->duration_ns / 1e9;
    s.timeout_s = (double)o->timeout_ns / 1e9;
    s.open_s = s.established && last > first ? (double)(last - first) / 1e9 : 0;
    s.connects_per_sec = s.open_s > 0 ? (double)s.established / s.open_s : 0;
    s.hold_s = (double)hold_ns / 1e9;
    s.cpu_user = cpu_user;
    s.cpu_sys = cpu_sys;
    s.sources = json_array();
    for (unsigned i = 0; i < o->nsources; i++)
        json_array_append_new(s.sources,
                              json_string(rs_addr_format_ip(&o->sources[i], buf, sizeof(buf))));

    print_idle(&s, o->latency);
    int rc = o->json_path ? write_idle_json(&s, o->json_path) : 0;
    json_decref(s.sources);
    rs_hist_fini(&s.h);
    return rc;
}

/* The live line: connections established, failed and lost so far. */
static void idle_progress(struct load_thread *ts, unsigned n, double elapsed,
                          const struct rs_load_opts *o, uint64_t *state)
{
    uint64_t est = 0, failed = 0, closed = 0;
    (void)state;
    for (unsigned i = 0; i < n; i++) {
        est += LOAD_GET(&ts[i], connects);
        failed += LOAD_GET(&ts[i], err_connect);
        closed += LOAD_GET(&ts[i], peer_closed) + LOAD_GET(&ts[i], check_closed);
    }
    fprintf(stderr, "  %5.0fs  established %llu/%u  failed %llu  closed by peer %llu\n", elapsed,
            (unsigned long long)est, o->conns, (unsigned long long)failed,
            (unsigned long long)closed);
}

/* Says once, on stderr, that every connection is open and the hold has begun (a script
 * measuring the peer while the connections are held waits for this line). Returns true once
 * said. */
static bool idle_announce(struct load_thread *ts, unsigned n, const struct rs_load_opts *o)
{
    uint64_t est = 0, failed = 0;
    if (n == 0 || atomic_load(&ts[0].idle.shared->hold_start_ns) == 0)
        return false;
    for (unsigned i = 0; i < n; i++) {
        est += LOAD_GET(&ts[i], connects);
        failed += LOAD_GET(&ts[i], err_connect);
    }
    rs_log_info("holding %llu connections for %.0fs (%llu of %u failed to connect)",
                (unsigned long long)est, (double)o->duration_ns / 1e9, (unsigned long long)failed,
                o->conns);
    return true;
}

/* Every connection established, held and alive at the check, or the run fails. */
static bool idle_failed(const struct rs_load_opts *o, struct load_thread *ts, unsigned n)
{
    uint64_t est = 0, lost = 0, ok = 0;
    for (unsigned i = 0; i < n; i++) {
        est += LOAD_GET(&ts[i], connects);
        lost += LOAD_GET(&ts[i], peer_closed) + LOAD_GET(&ts[i], check_unanswered) +
                LOAD_GET(&ts[i], check_closed) + LOAD_GET(&ts[i], check_wrong);
        ok += LOAD_GET(&ts[i], check_ok);
    }
    return est < o->conns || lost > 0 || (o->idle_check != RS_IDLE_CHECK_NONE && ok < est);
}

const struct load_report_ops load_idle_report_ops = {
    .progress = idle_progress,
    .announce = idle_announce,
    .summary = idle_summary,
    .failed = idle_failed,
};

/* --- merge --- */

/* Adds one --idle run's JSON into s. Returns 0 or -EINVAL with a reason in err. */
static int idle_merge_one(struct idle_summary *s, json_t *root, const char *path, char *err,
                          size_t errlen)
{
    json_t *idle = json_object_get(root, "idle");
    json_t *hj = json_object_get(root, "histogram");
    json_t *check = json_object_get(idle, "check");
    json_t *buckets = json_object_get(hj, "buckets");
    const char *mode = json_string_value(json_object_get(root, "mode"));
    if (!mode || strcmp(mode, "idle") != 0 || !json_is_object(idle) || !json_is_array(buckets)) {
        snprintf(err, errlen, "%s: not a ringload --idle result (load runs merge apart)", path);
        return -EINVAL;
    }
    uint64_t max_value = load_jget_u64(hj, "max_value");
    uint32_t sub_bits = (uint32_t)load_jget_u64(hj, "sub_bits");
    if (s->runs == 0) {
        if (rs_hist_init_layout(&s->h, max_value, sub_bits) < 0) {
            snprintf(err, errlen, "%s: bad histogram layout", path);
            return -EINVAL;
        }
        snprintf(s->url, sizeof(s->url), "%s", json_string_value(json_object_get(root, "url")));
        const char *k = json_string_value(json_object_get(check, "kind"));
        s->check = k && strcmp(k, "echo") == 0   ? "echo"
                   : k && strcmp(k, "http") == 0 ? "http"
                                                 : "none";
        s->backend = "merged";
        s->size = (json_int_t)load_jget_u64(root, "size");
        s->duration_s = load_jget_num(root, "duration_s");
        s->timeout_s = load_jget_num(root, "timeout_s");
        s->connect_timeout_s = load_jget_num(idle, "connect_timeout_s");
        s->hold_s = load_jget_num(idle, "hold_s");
        s->exact_min = UINT64_MAX;
        s->sources = json_array();
    } else if (s->h.max_value != max_value || s->h.sub_bits != sub_bits) {
        snprintf(err, errlen, "%s: a different histogram layout; cannot merge", path);
        return -EINVAL;
    } else {
        const char *k = json_string_value(json_object_get(check, "kind"));
        if (!k || strcmp(k, s->check) != 0)
            s->check = "mixed"; /* the counts still add up */
    }
    if (load_hist_add_buckets(&s->h, buckets, path, err, errlen) < 0)
        return -EINVAL;
    s->h.overflow += load_jget_u64(hj, "overflow");
    if (load_jget_u64(hj, "total") > 0) {
        uint64_t mn = load_jget_u64(hj, "min"), mx = load_jget_u64(hj, "max");
        s->exact_min = mn < s->exact_min ? mn : s->exact_min;
        s->exact_max = mx > s->exact_max ? mx : s->exact_max;
    }
    s->runs++;
    s->threads += (int)load_jget_u64(root, "threads");
    s->requested += load_jget_u64(idle, "requested");
    s->established += load_jget_u64(idle, "established");
    s->failed += load_jget_u64(idle, "failed");
    s->peer_closed += load_jget_u64(idle, "closed_by_peer");
    s->check_ok += load_jget_u64(check, "ok");
    s->check_unanswered += load_jget_u64(check, "unanswered");
    s->check_closed += load_jget_u64(check, "closed");
    s->check_wrong += load_jget_u64(check, "wrong");
    s->bytes_in += load_jget_u64(root, "bytes_in");
    s->bytes_out += load_jget_u64(root, "bytes_out");
    s->max_connecting += load_jget_u64(idle, "max_connecting");
    s->connect_rate += load_jget_num(idle, "connect_rate_limit");
    /* Runs at the same time: the slowest one opened last; their rates add up. */
    double open = load_jget_num(idle, "open_s");
    s->open_s = open > s->open_s ? open : s->open_s;
    s->connects_per_sec += load_jget_num(idle, "connects_per_sec");
    double hold = load_jget_num(idle, "hold_s");
    s->hold_s = hold < s->hold_s ? hold : s->hold_s;
    s->cpu_user += load_jget_num(json_object_get(root, "cpu"), "user_s");
    s->cpu_sys += load_jget_num(json_object_get(root, "cpu"), "sys_s");
    const char *key;
    json_t *f;
    json_object_foreach(json_object_get(idle, "failures"), key, f)
    {
        uint64_t e = load_jget_u64(f, "errno");
        s->failures[e < LOAD_ERRNO_MAX ? e : 0] += load_jget_u64(f, "count");
    }
    json_array_extend(s->sources, json_object_get(idle, "sources"));
    return 0;
}

static int idle_merge_one_fn(void *s, json_t *root, const char *path, char *err, size_t errlen)
{
    return idle_merge_one(s, root, path, err, errlen);
}

int load_idle_merge(const struct load_merge_args *a)
{
    struct idle_summary s;
    const char *json_out = a->json_out;
    bool latency = a->latency;
    int rc = 1;

    memset(&s, 0, sizeof(s));
    if (load_merge_files(a, idle_merge_one_fn, &s) < 0)
        goto out;
    if (s.h.total > 0 && rs_hist_set_minmax(&s.h, s.exact_min, s.exact_max) < 0) {
        fprintf(stderr, "ringload: merge: min/max do not match the histograms\n");
        goto out;
    }
    print_idle(&s, latency);
    rc = 0;
    int e = json_out ? write_idle_json(&s, json_out) : 0;
    if (e < 0) {
        fprintf(stderr, "ringload: merge: cannot write %s: %s\n", json_out, strerror(-e));
        rc = 1;
    }
out:
    json_decref(s.sources);
    rs_hist_fini(&s.h);
    return rc;
}
