#ifndef RINGSOCK_LOAD_SUMMARY_H
#define RINGSOCK_LOAD_SUMMARY_H

/* What a load run's report shows, from one run's threads (load_report.c) or from several
 * runs' JSON (load_merge.c), and the two ways it is shown. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "load.h"

/* Everything a report shows, from one run's threads or from several runs' JSON. */
struct load_summary {
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
    json_t *first;                 /* merge: the first run's JSON (its settings) */
    rs_hist_u128 sum, sumsq;       /* merge: the runs' exact sums ... */
    bool sums_missing;             /* ... unless a file lacks them (mean from midpoints) */
    struct rs_hist h;
    bool have_http_times;
    double connect_mean, connect_p99, ttfb_mean, ttfb_p50, ttfb_p99; /* ns */
    /* What an exact merge needs (all times Unix seconds, 0 when not recorded). */
    char run_id[72]; /* "" when unknown, or merged runs named differently */
    int shard_index; /* -1: not a shard (or merged) */
    int shard_count;
    unsigned conn_base, conns_total; /* --shard: first global connection, -c of the run */
    double rate_total;               /* -R of the run (settings.rate) */
    double start_at;                 /* --start-at's instant */
    double start, start_real;        /* sending due to begin (t0), and began (latest thread) */
    double win_start, win_end;       /* the measured window, by intended send time */
    bool saturated;                  /* fell behind its schedule (rate mode) */
    uint64_t not_open_at_start;      /* --start-at: connections not open at the instant */
    /* merge */
    bool force;            /* --force: settings may differ */
    bool forced;           /* ... and did */
    bool no_times;         /* a file without window or start times */
    double start_real_max; /* the latest real start */
    json_t *shards;        /* shard indices merged */
    unsigned shards_dup;   /* indices seen twice */
};

/* Prints the summary in wrk's shape (the percentile table when latency). */
void load_summary_print(const struct load_summary *s, bool latency);
/* Writes s as JSON to path. Returns 0 or -errno. */
int load_summary_write_json(const struct load_summary *s, const char *path);

#endif
