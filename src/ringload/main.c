/* ringload: the load generator's command line and threads. The options pick a protocol from
 * one table (struct load_proto); each thread runs its own loop (the server's backends) over its
 * share of the connections, driven by the protocol's run (the client base, load_client.c, or
 * --idle's phases, load_idle.c) from a periodic tick, and the protocol's report prints the
 * progress line, the summary and decides the exit status. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "load.h"
#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "ringsock/net/net.h"

static _Atomic unsigned threads_done;
/* SIGINT or SIGTERM: the first ends the measured window at once (as wrk's Ctrl-C does), the
 * answers still outstanding are awaited and the run is reported; a second one ends ringload. */
static volatile sig_atomic_t got_signal;
static _Atomic uint64_t interrupt_ns;       /* when the main thread saw it; 0: not interrupted */
static struct load_idle_shared idle_shared; /* every thread points at it; --idle uses it */

/* The protocols, each with what drives it and what reports it; the first that matches the
 * options runs. */
static const struct load_proto *const protos[] = {
    &load_idle_proto, &load_tcp_proto, &load_http_proto, &load_udp_proto, &load_udp_send_proto,
};

static const struct load_proto *proto_find(const struct rs_load_opts *o)
{
    for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
        if (protos[i]->matches(o))
            return protos[i];
    return NULL;
}

static void on_signal(int sig)
{
    if (got_signal) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    got_signal = sig;
}

static void tick(struct rs_timer *tm, void *arg)
{
    struct load_thread *t = arg;
    (void)tm;
    uint64_t stop = atomic_load_explicit(&interrupt_ns, memory_order_relaxed);
    if (stop && !t->stop_ns) {
        t->stop_ns = stop;
        if (stop < t->t_end)
            t->t_end = stop; /* before t_measure (in the warm-up): nothing is measured */
    }
    if (t->proto->run->tick(t, rs_now_ns()))
        rs_loop_request_stop(t->loop, 0);
    else
        rs_loop_timer_arm(t->loop, &t->tick, t->proto->run->tick_ms(t));
}

static void *thread_main(void *arg)
{
    struct load_thread *t = arg;
    const struct rs_load_opts *o = t->o;
    const struct load_run *run = t->proto->run;
    struct rs_loop_config cfg;
    char name[16];
    int err;

    snprintf(name, sizeof(name), "ringload-w%u", t->id);
    pthread_setname_np(pthread_self(), name);
    rs_loop_config_default(&cfg);
    cfg.backend = o->backend;
    cfg.id = t->id;
    cfg.max_conns = t->nconns + 16;
    size_t inflight = (size_t)o->depth * o->size;
    cfg.write_queue = inflight * 2 > cfg.write_queue ? inflight * 2 : cfg.write_queue;
    t->rl_verify = (struct rs_ratelimit)RS_RATELIMIT_INIT(1000);
    t->loop = rs_loop_new(&cfg, &t->stats, &err);
    if (!t->loop)
        goto out_err;
    size_t scratch = o->size * t->proto->scratch_msgs;
    t->scratch = rs_malloc((scratch < 65536 ? 65536 : scratch) + 1);
    if (!t->scratch) {
        err = -ENOMEM;
        goto out_err;
    }
    /* Room for the three timers below (start_timer, send_timer and tick), so arming them never
     * fails. */
    err = rs_loop_timer_reserve(t->loop, 3);
    if (err < 0)
        goto out_err;
    t->sending = true;
    err = run->start(t);
    if (err < 0)
        goto out_err;
    rs_timer_init(&t->tick, tick, t);
    rs_loop_timer_arm(t->loop, &t->tick, run->tick_ms(t));
    err = rs_loop_run(t->loop);
    if (err < 0)
        goto out_err;
    goto out;

out_err:
    t->err = err;
out:
    run->free(t); /* UDP counts what never came back while freeing its window */
    rs_loop_free(t->loop);
    t->loop = NULL;
    rs_free(t->scratch);
    t->scratch = NULL;
    atomic_fetch_add(&threads_done, 1);
    return NULL;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* File descriptors a run needs besides its connections: stdio, per-thread rings, eventfds,
 * epoll instances, the JSON file, and some room. */
static unsigned fd_need(const struct rs_load_opts *o)
{
    return o->conns + 64 + 8 * o->threads;
}

/* Raises the RLIMIT_NOFILE soft limit to the hard one when the run needs more than the soft
 * limit. Returns 0, or -EMFILE with a one-line reason in err if even the hard limit is too low
 * (the hard limit is the administrator's, so it is never raised here). */
static int fd_limit_raise(const struct rs_load_opts *o, char *err, size_t errlen)
{
    struct rlimit rl;
    uint64_t limit;
    unsigned need = fd_need(o);
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
        return 0;
    int e = rs_fd_limit_raise(&limit);
    if (e == 0 && limit >= need)
        return 0;
    if (e < 0)
        snprintf(err, errlen,
                 "-c %u needs about %u file descriptors; cannot raise RLIMIT_NOFILE "
                 "from %llu: %s",
                 o->conns, need, (unsigned long long)rl.rlim_cur, strerror(-e));
    else
        snprintf(err, errlen,
                 "-c %u needs about %u file descriptors, more than the hard limit "
                 "(RLIMIT_NOFILE %llu): raise it first, e.g. ulimit -n %u (as root), or "
                 "prlimit --nofile=%u --pid $$",
                 o->conns, need, (unsigned long long)limit, need, need);
    return -EMFILE;
}

/* Checks that every --source address can be bound on this machine, so a typo fails now with
 * its address named instead of as thousands of failed connects. Returns 0 or -errno. */
static int sources_check(const struct rs_load_opts *o, char *err, size_t errlen)
{
    for (unsigned i = 0; i < o->nsources; i++) {
        char a[RS_ADDR_STRLEN];
        int fd = socket(o->sources[i].ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int e = fd < 0 ? -errno : rs_net_bind_source(fd, &o->sources[i]);
        if (fd >= 0)
            close(fd);
        if (e < 0) {
            rs_addr_format_ip(&o->sources[i], a, sizeof(a));
            snprintf(err, errlen, "--source %s: cannot bind: %s%s", a, strerror(-e),
                     e == -EADDRNOTAVAIL ? " (not an address of this machine)" : "");
            return e;
        }
    }
    return 0;
}

/* --start-at may lie this far in the past when the run begins (the shards' launchers are not
 * perfectly together); the schedule still starts at it. */
#define START_AT_PAST_NS 1000000000ull

/* The wall clock (CLOCK_REALTIME) in ns. */
static uint64_t unix_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Reads the wall clock and rs_now_ns (CLOCK_MONOTONIC) at one instant, as nearly as can be:
 * the reading with the shortest monotonic gap around it of a few. */
static void clocks_now(uint64_t *unix_ns, uint64_t *mono_ns)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t a = rs_now_ns(), u = unix_now_ns(), b = rs_now_ns();
        if (b - a < best) {
            best = b - a;
            *unix_ns = u;
            *mono_ns = a + (b - a) / 2;
        }
    }
}

/* Where the run starts, on both clocks: now, or --start-at's instant converted once to the
 * monotonic clock, which the loops' timers use. Returns 0, or -EINVAL with a reason in err when
 * the instant is more than START_AT_PAST_NS past (or absurdly far ahead). */
static int start_instant(const struct rs_load_opts *o, uint64_t *t0, uint64_t *t0_unix, char *err,
                         size_t errlen)
{
    uint64_t unix_now = 0, mono_now = 0;
    clocks_now(&unix_now, &mono_now);
    if (!o->start_at) {
        *t0 = mono_now;
        *t0_unix = unix_now;
        return 0;
    }
    uint64_t at = o->start_at_relative ? unix_now + o->start_at_ns : o->start_at_ns;
    if (at + START_AT_PAST_NS < unix_now) {
        snprintf(err, errlen, "--start-at %.3f is %.3fs in the past", (double)at / 1e9,
                 (double)(unix_now - at) / 1e9);
        return -EINVAL;
    }
    if (at > unix_now + 86400ull * 1000000000ull) {
        snprintf(err, errlen, "--start-at %.3f is more than a day ahead", (double)at / 1e9);
        return -EINVAL;
    }
    *t0 = at >= unix_now ? mono_now + (at - unix_now) : mono_now - (unix_now - at);
    *t0_unix = at;
    return 0;
}

/* --run-id's default: 16 random hex digits. */
static void run_id_make(char *buf, size_t n)
{
    uint64_t r;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = rs_now_ns() ^ ((uint64_t)getpid() << 32);
    snprintf(buf, n, "%016llx", (unsigned long long)r);
}

/* Runs what the options ask for: checks the machine can, starts the threads, waits for them
 * and reports. Returns the exit status. */
static int run(struct rs_load_opts *o)
{
    char err[300], why[256];
    static char run_id[32];

    if (!o->run_id) {
        run_id_make(run_id, sizeof(run_id));
        o->run_id = run_id;
    }
    if (fd_limit_raise(o, err, sizeof(err)) < 0 || sources_check(o, err, sizeof(err)) < 0) {
        rs_log_error("%s", err);
        return 2;
    }
    int kind = rs_backend_choose(o->backend, why, sizeof(why));
    if (kind < 0) {
        rs_log_error("--backend io_uring: %s", why[0] ? why : strerror(-kind));
        return 1;
    }
    o->backend = (enum rs_backend_kind)kind;
    if (why[0] && o->progress != 0)
        rs_log_info("using epoll: %s", why);
    bool progress = o->progress == 1 || (o->progress == -1 && isatty(STDERR_FILENO));
    const struct load_proto *proto = proto_find(o);
    if (!proto) {
        rs_log_error("%s: no protocol runs this", o->url); /* the parser lets none through */
        return 2;
    }
    const struct load_report_ops *report = proto->report;

    struct load_thread *ts = rs_aligned_alloc(64, sizeof(*ts) * o->threads);
    if (!ts) {
        rs_log_error("out of memory");
        return 1;
    }
    memset(ts, 0, sizeof(*ts) * o->threads);
    int rc = 1;
    uint64_t t0, t0_unix;
    if (start_instant(o, &t0, &t0_unix, err, sizeof(err)) < 0) {
        rs_log_error("%s", err);
        rs_free(ts);
        return 2;
    }
    if (o->start_at && o->progress != 0) {
        char shard[48] = "";
        int64_t in = (int64_t)(t0 - rs_now_ns());
        if (o->shard_count)
            snprintf(shard, sizeof(shard), ", shard %u/%u", o->shard_index, o->shard_count);
        rs_log_info("run %s%s: connecting; sending starts at %.3f (in %.3fs)", o->run_id, shard,
                    (double)t0_unix / 1e9, (double)in / 1e9);
    }
    unsigned first = 0;
    for (unsigned i = 0; i < o->threads; i++) {
        struct load_thread *t = &ts[i];
        t->o = o;
        t->proto = proto;
        t->id = i;
        t->nconns = o->conns / o->threads + (i < o->conns % o->threads);
        t->first_conn = o->conn_base + first; /* global: --shard's connections are numbered on */
        first += t->nconns;
        t->conn_rate = o->rate > 0 ? o->rate_total / o->conns_total : 0;
        t->t0 = t0;
        t->t0_unix = t0_unix;
        t->started = !o->start_at;
        t->started_ns = o->start_at ? 0 : t0;
        t->t_measure = t0 + o->warmup_ns;
        t->t_end = t->t_measure + o->duration_ns;
        t->idle.shared = &idle_shared;
        if (rs_hist_init(&t->hist, RS_HIST_DEFAULT_MAX) < 0) {
            rs_log_error("out of memory");
            goto out_free_threads;
        }
    }
    idle_shared.threads = o->threads;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    /* The workers never take the signals: the main thread's handler sets a flag it polls. */
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old_mask);
    unsigned started = 0;
    for (; started < o->threads; started++) {
        /* pthread_create returns its error; errno is not set. */
        int e = pthread_create(&ts[started].tid, NULL, thread_main, &ts[started]);
        if (e != 0) {
            rs_log_error("cannot start thread %u of %u: %s", started, o->threads, strerror(e));
            /* --idle: the started threads must not wait for the others to open. */
            idle_shared.threads = started;
            if (started > 0 && atomic_load(&idle_shared.opened) >= started)
                atomic_store(&idle_shared.hold_start_ns, rs_now_ns());
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    uint64_t last = 0;
    uint64_t next_progress = t0 + 1000000000ull;
    bool announced = false;
    while (atomic_load(&threads_done) < started) {
        usleep(20000);
        uint64_t now = rs_now_ns();
        if (got_signal && atomic_load(&interrupt_ns) == 0) {
            atomic_store(&interrupt_ns, now);
            rs_log_info("interrupted by SIG%s %.1fs %s: waiting for outstanding answers "
                        "(again to quit at once)",
                        got_signal == SIGINT ? "INT" : "TERM",
                        now >= t0 ? (double)(now - t0) / 1e9 : (double)(t0 - now) / 1e9,
                        now >= t0 ? "after the start" : "before the start");
        }
        if (report->announce && !announced)
            announced = report->announce(ts, started, o);
        if (progress && now >= next_progress && now >= t0) {
            report->progress(ts, started, (double)(now - t0) / 1e9, o, &last);
            next_progress += 1000000000ull;
        }
    }
    rc = started == o->threads ? 0 : 1;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ts[i].tid, NULL);
        if (ts[i].err < 0) {
            rs_log_error("thread %u: %s", i, strerror(-ts[i].err));
            rc = 1;
        }
    }
    getrusage(RUSAGE_SELF, &ru1);
    double user = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
    double sys = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
    double seconds = (double)o->duration_ns / 1e9;
    uint64_t stop = atomic_load(&interrupt_ns);
    if (rc == 0 && stop && !o->idle) {
        uint64_t measure = t0 + o->warmup_ns;
        if (stop <= measure) {
            rs_log_error("interrupted %s: nothing was measured",
                         stop < t0 ? "before --start-at" : "during the warm-up");
            rc = 1;
        } else if (stop - measure < o->duration_ns) {
            seconds = (double)(stop - measure) / 1e9;
        }
    }
    if (rc == 0) {
        int e = report->summary(o, ts, started, seconds, user, sys,
                                rs_backend_name((enum rs_backend_kind)kind));
        if (e < 0) {
            rs_log_error("cannot write %s: %s", o->json_path, strerror(-e));
            rc = 1;
        }
        /* The exit status tells scripts whether what came back was right. */
        if (report->failed(o, ts, started))
            rc = 1;
    }
out_free_threads:
    for (unsigned i = 0; i < o->threads; i++) {
        rs_hist_fini(&ts[i].hist);
        rs_hist_fini(&ts[i].hist_connect);
        rs_hist_fini(&ts[i].hist_ttfb);
    }
    rs_free(ts);
    return rc;
}

int main(int argc, char **argv)
{
    struct rs_load_opts o;
    char err[300];

    rs_log_set_prog("ringload");
    if (argc >= 2 && strcmp(argv[1], "merge") == 0)
        return load_merge(argc - 2, argv + 2);
    int r = rs_load_opts_parse(argc, argv, &o, err, sizeof(err));
    if (r < 0) {
        rs_log_error("%s", err);
        return 2;
    }
    if (r == RS_LOAD_HELP) {
        fputs(rs_load_usage(), stdout);
        return 0;
    }
    if (r == RS_LOAD_VERSION) {
        printf("ringload %s (allocator %s)\n", RS_VERSION, rs_alloc_name());
        return 0;
    }
    if (rs_load_opts_read_body(&o, err, sizeof(err)) < 0) {
        rs_log_error("%s", err);
        return 2;
    }
    /* Installed whatever the inherited disposition: a background job's ignored SIGINT too, so
     * that a script can end a run early and still get its report. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = run(&o);
    rs_load_opts_free(&o);
    return rc;
}
