/* `ringload merge`: combines the --json results of load runs made at the same time (the shards
 * of one run, or runs on several machines) into one summary: counts add up, histograms add
 * bucket by bucket with their exact extremes and sums, the rate is taken over the common window,
 * and runs whose settings differ are refused unless --force (docs/ringload.md, "Sharded
 * runs"). --idle results go to load_idle_merge. */

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "load.h"
#include "load_summary.h"

/* A run's settings that must agree for a merge to mean one run: from "settings", or for older
 * files the top-level keys. */
struct merge_settings {
    const char *url, *mode;
    uint64_t size, depth;
};

static void merge_settings_get(json_t *root, struct merge_settings *m)
{
    json_t *set = json_object_get(root, "settings");
    if (json_is_object(set)) {
        m->url = json_string_value(json_object_get(set, "url"));
        m->mode = json_string_value(json_object_get(set, "mode"));
        m->size = load_jget_u64(set, "size");
        m->depth = load_jget_u64(set, "depth");
    } else {
        m->url = json_string_value(json_object_get(root, "url"));
        m->mode = load_jget_num(root, "rate") > 0 ? "rate" : "closed";
        m->size = load_jget_u64(root, "size");
        m->depth = load_jget_u64(root, "depth");
    }
    m->url = m->url ? m->url : "";
    m->mode = m->mode ? m->mode : "";
}

/* True (with the reason in err) if root's settings differ from the first run's (kept in
 * s->first) and --force was not given; with --force the difference is a warning. */
static bool merge_settings_differ(struct load_summary *s, json_t *root, const char *path, char *err,
                                  size_t errlen)
{
    struct merge_settings a, b;
    char what[700];
    merge_settings_get(s->first, &a);
    merge_settings_get(root, &b);
    if (strcmp(a.url, b.url) != 0)
        snprintf(what, sizeof(what), "URL %s, not %s", b.url, a.url);
    else if (a.size != b.size)
        snprintf(what, sizeof(what), "--size %llu, not %llu", (unsigned long long)b.size,
                 (unsigned long long)a.size);
    else if (a.depth != b.depth)
        snprintf(what, sizeof(what), "--depth %llu, not %llu", (unsigned long long)b.depth,
                 (unsigned long long)a.depth);
    else if (strcmp(a.mode, b.mode) != 0)
        snprintf(what, sizeof(what), "mode %s, not %s", b.mode, a.mode);
    else
        return false;
    if (s->force) {
        fprintf(stderr, "ringload: merge: warning: %s: %s (merged: --force)\n", path, what);
        s->forced = true;
        return false;
    }
    snprintf(err, errlen, "%s: %s: not the same run (--force merges it anyway)", path, what);
    return true;
}

/* Folds root's times into s: the common window and the real starts. */
static void merge_times(struct load_summary *s, json_t *root)
{
    json_t *w = json_object_get(root, "window");
    double ws = load_jget_num(w, "start_unix"), we = load_jget_num(w, "end_unix");
    double st = load_jget_num(root, "start_unix"), real = load_jget_num(root, "start_real_unix");
    if (!json_is_object(w) || !(we > ws) || !(real > 0)) {
        s->no_times = true;
        return;
    }
    s->win_start = fmin(s->win_start, ws);
    s->win_end = fmax(s->win_end, we);
    s->start = fmin(s->start, st);
    s->start_real = fmin(s->start_real, real);
    s->start_real_max = fmax(s->start_real_max, real);
}

/* Adds one run's JSON into s. Returns 0 or -EINVAL with a reason in err. */
static int merge_one(struct load_summary *s, json_t *root, const char *path, char *err,
                     size_t errlen)
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
    if (s->runs > 0 && merge_settings_differ(s, root, path, err, errlen))
        return -EINVAL;
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
        s->first = json_incref(root);
        json_t *set = json_object_get(root, "settings");
        s->rate_total = set ? load_jget_num(set, "rate") : 0;
        s->conns_total = (unsigned)load_jget_u64(set, "connections");
        const char *id = json_string_value(json_object_get(root, "run_id"));
        snprintf(s->run_id, sizeof(s->run_id), "%s", id ? id : "");
        s->shard_index = -1;
        s->shards = json_array();
        s->start_real = s->start = s->win_start = INFINITY;
        s->win_end = s->start_real_max = 0;
    } else if (strcmp(proto, s->proto) != 0 || s->h.max_value != max_value ||
               s->h.sub_bits != sub_bits) {
        snprintf(err, errlen, "%s: a %s run or a different histogram layout; cannot merge", path,
                 proto);
        return -EINVAL;
    }
    if (load_hist_add_buckets(&s->h, buckets, path, err, errlen) < 0)
        return -EINVAL;
    s->h.overflow += load_jget_u64(root, "histogram.overflow");
    rs_hist_u128 sum, sumsq;
    if (load_hist_sums_get(hj, &sum, &sumsq) == 0) {
        s->sum += sum;
        s->sumsq += sumsq;
    } else {
        s->sums_missing = true;
    }
    uint64_t mn = load_jget_u64(root, "histogram.min"), mx = load_jget_u64(root, "histogram.max");
    if (load_jget_u64(root, "histogram.total") > 0) {
        s->exact_min = mn < s->exact_min ? mn : s->exact_min; /* applied at the end */
        s->exact_max = mx > s->exact_max ? mx : s->exact_max;
    }
    merge_times(s, root);
    json_t *shard = json_object_get(root, "shard");
    if (json_is_object(shard)) {
        json_t *idx = json_object_get(shard, "index");
        size_t k;
        json_t *v;
        json_array_foreach(s->shards, k, v) if (json_integer_value(v) == json_integer_value(idx))
            s->shards_dup++;
        json_array_append(s->shards, idx);
        int count = (int)load_jget_u64(shard, "count");
        if (s->shard_count == 0)
            s->shard_count = count;
        else if (s->shard_count != count)
            s->shard_count = -1; /* mixed: warned about at the end */
    }
    const char *id = json_string_value(json_object_get(root, "run_id"));
    if (s->runs > 0 && s->run_id[0] && (!id || strcmp(id, s->run_id) != 0)) {
        fprintf(stderr, "ringload: merge: warning: %s is run %s, not %s\n", path,
                id ? id : "(none)", s->run_id);
        s->run_id[0] = '\0';
    }
    s->saturated = s->saturated || json_is_true(json_object_get(root, "saturated")) ||
                   (load_jget_num(root, "rate") > 0 && load_jget_u64(root, "schedule.behind") > 0);
    s->not_open_at_start += load_jget_u64(root, "not_open_at_start");
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

/* True if the first result file is an --idle run. */
static bool load_merge_first_is_idle(const struct load_merge_args *a)
{
    json_t *root = json_load_file(a->files[0], 0, NULL);
    const char *mode = json_string_value(json_object_get(root, "mode"));
    bool idle = mode && strcmp(mode, "idle") == 0;
    json_decref(root);
    return idle;
}

static int merge_one_fn(void *s, json_t *root, const char *path, char *err, size_t errlen)
{
    return merge_one(s, root, path, err, errlen);
}

/* After the last file: the rate over the common window, and what the shards say. */
static void merge_finish(struct load_summary *s)
{
    if (!s->no_times && s->win_end > s->win_start) {
        double w = s->win_end - s->win_start;
        s->duration = w;
        s->msgs_per_sec = (double)s->msgs / w;
        s->bytes_in_per_sec = (double)s->bytes_in / w;
    } else {
        s->no_times = true;
        s->win_start = s->win_end = s->start = s->start_real = s->start_real_max = 0;
    }
    size_t nsh = json_array_size(s->shards);
    if (s->shard_count < 0 || (nsh > 0 && nsh != (size_t)s->runs))
        fprintf(stderr, "ringload: merge: warning: the files are not the shards of one run "
                        "(their shard counts differ, or some have none)\n");
    else if (s->shards_dup)
        fprintf(stderr, "ringload: merge: warning: %u shard%s merged twice\n", s->shards_dup,
                s->shards_dup == 1 ? "" : "s");
    else if (nsh > 0 && nsh != (size_t)s->shard_count)
        fprintf(stderr, "ringload: merge: warning: %zu of %d shards merged\n", nsh, s->shard_count);
    s->shard_count = 0;     /* a merge is not a shard */
    if (s->rate_total == 0) /* older files: no settings */
        s->rate_total = s->rate;
    if (s->conns_total == 0)
        s->conns_total = (unsigned)s->conns;
}

int load_merge(int argc, char **argv)
{
    struct load_summary s;
    struct load_merge_args a;
    int rc = 1;

    memset(&s, 0, sizeof(s));
    int r = load_merge_args_parse(argc, argv, &a);
    if (r != 0)
        return r == LOAD_MERGE_HELP ? 0 : 2;
    if (load_merge_first_is_idle(&a)) {
        rc = load_idle_merge(&a);
        goto out;
    }
    s.force = a.force;
    if (load_merge_files(&a, merge_one_fn, &s) < 0)
        goto out;
    merge_finish(&s);
    if (s.h.total > 0 && rs_hist_set_minmax(&s.h, s.exact_min, s.exact_max) < 0) {
        fprintf(stderr, "ringload: merge: min/max do not match the histograms\n");
        goto out;
    }
    if (!s.sums_missing) { /* the exact mean and deviation, not the buckets' midpoints' */
        s.h.sum = s.sum;
        s.h.sumsq = s.sumsq;
    }
    load_summary_print(&s, a.latency);
    rc = 0;
    int e = a.json_out ? load_summary_write_json(&s, a.json_out) : 0;
    if (e < 0) {
        fprintf(stderr, "ringload: merge: cannot write %s: %s\n", a.json_out, strerror(-e));
        rc = 1;
    }
out:
    json_decref(s.first);
    json_decref(s.shards);
    rs_hist_fini(&s.h);
    load_merge_args_free(&a);
    return rc;
}
