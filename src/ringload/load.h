#ifndef RINGSOCK_LOAD_H
#define RINGSOCK_LOAD_H

/* ringload's per-thread state, shared by its protocols and its reports, and the table entry
 * that describes a protocol (struct load_proto). */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ringsock/util/hist.h"
#include "load_opts.h"
#include "ringsock/util/log.h"
#include "ringsock/core/loop.h"
#include "ringsock/core/stats.h"

#define LOAD_FIELDS(X)                                                                             \
    X(msgs)      /* messages answered and recorded (inside the measured window) */                 \
    X(msgs_all)  /* messages answered, warm-up and drain included */                               \
    X(bytes_out) /* payload bytes sent */                                                          \
    X(bytes_in)  /* payload bytes received */                                                      \
    X(connects)  /* connections opened */                                                          \
    X(err_connect)                                                                                 \
    X(err_read)                                                                                    \
    X(err_write)                                                                                   \
    X(err_timeout)                                                                                 \
    X(err_verify)                                                                                  \
    X(udp_sent)                                                                                    \
    X(udp_recv)                                                                                    \
    X(udp_lost)                                                                                    \
    X(udp_dup)                                                                                     \
    X(udp_corrupt)                                                                                 \
    X(udp_late)                                                                                    \
    X(http_2xx)                                                                                    \
    X(http_3xx)                                                                                    \
    X(http_4xx)                                                                                    \
    X(http_5xx)                                                                                    \
    X(sched_behind)     /* sends over 1 ms late with room to send: the generator fell behind */    \
    X(sched_blocked)    /* sends due while the connection had --depth outstanding: server slow */  \
    X(p99_ns)           /* published about once a second for the progress line */                  \
    X(peer_closed)      /* --idle: established connections the peer closed before the check */     \
    X(check_ok)         /* --idle: connections that answered the liveness check */                 \
    X(check_unanswered) /* ... that did not answer within --timeout */                             \
    X(check_closed)     /* ... that the peer closed (or reset) instead of answering */             \
    X(check_wrong)      /* ... that answered with other bytes */

struct load_counters {
#define LOAD_DECL(name) _Atomic uint64_t name;
    LOAD_FIELDS(LOAD_DECL)
#undef LOAD_DECL
} __attribute__((aligned(64)));

#define LOAD_ADD(t, field, n) RS_STAT_ADD(&(t)->cnt, field, n)
#define LOAD_INC(t, field)    RS_STAT_ADD(&(t)->cnt, field, 1)
#define LOAD_GET(t, field)    atomic_load_explicit(&(t)->cnt.field, memory_order_relaxed)

#define LOAD_MAX_SECONDS 3600

struct load_sched_entry {
    uint64_t due;
    uint32_t idx;
};

struct load_sched {
    struct load_sched_entry *e;
    uint32_t n, cap;
};

int load_sched_init(struct load_sched *s, uint32_t cap);
void load_sched_fini(struct load_sched *s);
/* Adds client idx, due at `due`. Returns 0 or -ENOSPC. */
int load_sched_push(struct load_sched *s, uint64_t due, uint32_t idx);
/* Takes the earliest entry if it is due at now. */
bool load_sched_pop_due(struct load_sched *s, uint64_t now, uint32_t *idx);
/* Due time of the earliest entry, UINT64_MAX if none. */
uint64_t load_sched_next(const struct load_sched *s);

/* --idle: connect failures are counted per errno below this (others at 0). */
#define LOAD_ERRNO_MAX 160

/* --idle: what the threads share so the hold starts once every one has opened its share. */
struct load_idle_shared {
    _Atomic unsigned opened;        /* threads done opening (established or failed, each one) */
    _Atomic uint64_t hold_start_ns; /* 0 until the last thread is done opening */
    _Atomic unsigned threads;
};

enum load_idle_phase {
    LOAD_IDLE_OPEN,  /* connecting, paced by --connect-rate and --max-connecting */
    LOAD_IDLE_WAIT,  /* this thread is done; others are still opening */
    LOAD_IDLE_HOLD,  /* everything is open: nothing is sent for --duration */
    LOAD_IDLE_CHECK, /* each held connection is checked, up to --timeout */
    LOAD_IDLE_DONE,
};

struct load_idle {
    struct load_idle_shared *shared;
    enum load_idle_phase phase;
    bool counted;            /* counted in shared->opened */
    unsigned started;        /* connects started (clients are opened in index order) */
    unsigned connecting;     /* connects in flight */
    unsigned scan;           /* connect timeouts: clients before this one are not connecting */
    unsigned held;           /* established and not lost (nor being checked) */
    unsigned checking;       /* checks outstanding */
    unsigned max_connecting; /* this thread's share of --max-connecting */
    double rate;             /* this thread's share of --connect-rate, 0 = no limit */
    uint64_t t_first;        /* first connect started */
    uint64_t t_last;         /* last connection established */
    uint64_t hold_start, hold_end, check_start, check_end;
    uint32_t failures[LOAD_ERRNO_MAX]; /* failed connects by errno */
};

struct load_proto;

struct load_thread {
    struct rs_stats stats;    /* the loop's counters (first: 64-byte aligned) */
    struct load_counters cnt; /* read by the progress reporter */
    const struct rs_load_opts *o;
    const struct load_proto *proto; /* what this run speaks */
    unsigned id;
    unsigned first_conn; /* global index of this thread's first connection */
    unsigned nconns;
    double conn_rate; /* messages/s per connection in rate mode */
    struct rs_loop *loop;
    struct rs_hist hist;
    struct rs_hist hist_connect; /* http: connect time */
    struct rs_hist hist_ttfb;    /* http: request sent to first byte of its answer */
    char *request;               /* http: the request, built once */
    size_t request_len;
    pthread_t tid;
    uint64_t t0;         /* run start: sending (and the warm-up) begins; --start-at's instant */
    uint64_t t0_unix;    /* t0 on the wall clock (ns): exactly --start-at's when given */
    bool started;        /* sending has begun: at once, or when start_timer fired at t0 */
    uint64_t started_ns; /* when it began (rs_now_ns), 0 before */
    unsigned not_open_at_start;  /* --start-at: clients not connected when it came */
    struct rs_timer start_timer; /* --start-at: fires at t0 */
    uint64_t t_measure;          /* measured window [t_measure, t_end) by intended send time */
    uint64_t t_end;              /* moved to the interrupt's time by SIGINT or SIGTERM (main.c) */
    uint64_t stop_ns;            /* when SIGINT or SIGTERM came, or 0; the thread's own copy */
    bool sending;                /* false once t_end passed */
    bool finishing;              /* closing down */
    struct rs_timer tick;
    struct load_sched sched; /* rate mode: clients by next send time */
    struct rs_timer send_timer;
    void *clients; /* nconns clients of proto->client_size bytes (--idle: its own) */
    char *scratch; /* proto->scratch_msgs messages, for generating what is sent */
    struct rs_ratelimit rl_verify;
    uint64_t last_sample_ns, last_sample_msgs;
    uint32_t nsamples; /* per-second message counts, for the thread stats */
    uint64_t samples[LOAD_MAX_SECONDS];
    struct load_idle idle;
    int err; /* set when the thread could not run */
};

static inline bool load_in_window(const struct load_thread *t, uint64_t intended)
{
    return intended >= t->t_measure && intended < t->t_end;
}

/* Byte offset off of message seq on connection/flow id: reproducible, 8 bytes per hash. */
static inline uint64_t load_pattern_word(uint32_t id, uint64_t seq, uint64_t word)
{
    uint64_t x = ((uint64_t)id << 40) ^ (seq * 0x9e3779b97f4a7c15ull) ^ word;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* The --source address of connection id (round-robin), or NULL when none was given. */
static inline const struct rs_addr *load_source(const struct rs_load_opts *o, uint32_t id)
{
    return o->nsources ? &o->sources[id % o->nsources] : NULL;
}

/* Fills buf with bytes [off, off+len) of message seq of id. */
void load_pattern_fill(uint32_t id, uint64_t seq, uint64_t off, unsigned char *buf, size_t len);
/* Returns the index of the first byte of buf that differs from the pattern, or len. */
size_t load_pattern_check(uint32_t id, uint64_t seq, uint64_t off, const unsigned char *buf,
                          size_t len);

/* How a thread is driven: by the client base (load_client.c) in load runs, or by --idle's own
 * phases (load_idle.c). */
struct load_run {
    /* Sets up this thread's clients on its loop, before it runs. Returns 0 or -errno; free is
     * called either way. */
    int (*start)(struct load_thread *t);
    /* The periodic tick. Returns true when the thread is done: its loop then stops. */
    bool (*tick)(struct load_thread *t, uint64_t now);
    /* Milliseconds until the next tick. */
    uint64_t (*tick_ms)(const struct load_thread *t);
    /* Counts what is left (UDP: what never came back) and frees; the loop still exists. */
    void (*free)(struct load_thread *t);
};

/* How the main thread tells a run's results: load runs (load_report.c), --idle
 * (load_idle_report.c). */
struct load_report_ops {
    /* The --progress line, once a second; *state is the caller's, 0 at first. */
    void (*progress)(struct load_thread *ts, unsigned n, double elapsed,
                     const struct rs_load_opts *o, uint64_t *state);
    /* Says once on stderr that the run reached the phase scripts wait for; returns true once it
     * has (optional). */
    bool (*announce)(struct load_thread *ts, unsigned n, const struct rs_load_opts *o);
    /* Prints the summary of the n (>= 1) threads that ran, and writes JSON when asked. Returns
     * 0 or -errno. */
    int (*summary)(const struct rs_load_opts *o, struct load_thread *ts, unsigned n, double seconds,
                   double cpu_user, double cpu_sys, const char *backend);
    /* True if what the run saw makes it fail (exit status 1). */
    bool (*failed)(const struct rs_load_opts *o, struct load_thread *ts, unsigned n);
};

extern const struct load_report_ops load_report_ops, load_idle_report_ops;

struct load_client_ops;
struct load_stream_ops;

/* A protocol ringload speaks: an entry of ringload_main.c's table. */
struct load_proto {
    const char *name;                              /* the summary's and the JSON's "proto" */
    bool (*matches)(const struct rs_load_opts *o); /* this entry runs o */
    unsigned scratch_msgs; /* t->scratch holds this many messages (and at least 64 KiB) */
    const struct load_run *run;
    const struct load_report_ops *report;
    /* For the client base (load_client.h); NULL for --idle, which drives its own. */
    const struct load_client_ops *client;
    size_t client_size;                         /* a client: a struct starting with load_client */
    const struct load_stream_ops *stream;       /* stream protocols: what a connection carries */
    int (*thread_start)(struct load_thread *t); /* the protocol's per-thread set-up (optional) */
    void (*thread_free)(struct load_thread *t);
};

extern const struct load_proto load_tcp_proto, load_http_proto, load_udp_proto, load_udp_send_proto,
    load_idle_proto;

/* Builds the HTTP request (t->request) from the options, once per thread. Returns 0 or
 * -ENOMEM. */
int load_http_build_request(struct load_thread *t);

/* `ringload merge [options] A.json B.json ...`: combines runs; returns the exit code. */
int load_merge(int argc, char **argv);

/* `ringload merge`'s command line. */
struct load_merge_args {
    const char *json_out; /* --json OUT, or NULL */
    bool latency;         /* the percentile table (--no-latency: off) */
    bool force;           /* merge runs whose settings differ */
    char **files;         /* nfiles (>= 1) result files (owned: load_merge_args_free) */
    int nfiles;
};

#define LOAD_MERGE_HELP 1
/* Parses argv (after "merge"). Returns 0; LOAD_MERGE_HELP after printing the usage for --help;
 * or -EINVAL after saying why on stderr (an unknown option, no file). */
int load_merge_args_parse(int argc, char **argv, struct load_merge_args *a);
void load_merge_args_free(struct load_merge_args *a);

/* Report parts both summaries are built from (load_report_parts.c). */
#define LOAD_NPCTS 7
extern const double load_pcts[LOAD_NPCTS]; /* the percentiles shown: 50 .. 100 */
struct json_t;
void load_fmt_ns(char *buf, size_t n, double ns);       /* "12.34us" */
double load_within_stdev(const struct rs_hist *h);      /* % of values within one stdev, as wrk */
struct json_t *load_hist_json(const struct rs_hist *h); /* the full histogram */
/* The exact sums of a histogram's values and squares, which load_hist_json writes as decimal
 * strings ("sum", "sumsq"): 0, or -EINVAL when absent (older files) or malformed. */
int load_hist_sums_get(struct json_t *hist, rs_hist_u128 *sum, rs_hist_u128 *sumsq);
struct json_t *load_latency_json(const struct rs_hist *h); /* mean, stdev, percentiles in us */
struct json_t *load_curve_json(const struct rs_hist *h);   /* HdrHistogram's percentile ticks */
/* A number from a run's JSON at path "key" or "a.key"; 0 when absent or of another type. */
uint64_t load_jget_u64(struct json_t *o, const char *path);
/* Adds a --json histogram's "buckets" ([index, count] pairs) into h. Returns 0, or -EINVAL with
 * "PATH: bad histogram bucket N" in err. */
int load_hist_add_buckets(struct rs_hist *h, struct json_t *buckets, const char *path, char *err,
                          size_t errlen);
double load_jget_num(struct json_t *o, const char *path);

/* Merges --idle runs' JSON; returns the exit code. */
int load_idle_merge(const struct load_merge_args *a);

/* Folds one parsed result into a merge's summary; returns 0, or -EINVAL with err set. */
typedef int (*load_merge_fn)(void *summary, struct json_t *root, const char *path, char *err,
                             size_t errlen);
/* The loop both merges share: reads each of a's files, folding it in with fn. Returns the number
 * of files merged, or -1 after saying on stderr which file could not be read or merged. */
int load_merge_files(const struct load_merge_args *a, load_merge_fn fn, void *summary);

#endif
