/* The server: binds every listener once per worker (SO_REUSEPORT), starts one thread per worker
 * with its own loop, reports where it listens, waits for SIGINT/SIGTERM, stops the workers
 * within the shutdown deadline and prints the totals. */

#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "ringsock/net/net.h"
#include "ringsock/services/services.h"
#include "stats_live.h"

struct worker {
    struct rs_stats stats; /* first: 64-byte aligned, written only by this worker */
    pthread_t tid;
    unsigned id;
    const struct rs_server_opts *opts;
    struct rs_loop_config cfg;
    struct rs_loop *loop;
    int fds[RS_MAX_ADDRS];
    int ufds[RS_MAX_ADDRS];
    struct rs_udp_sock *udp[RS_MAX_ADDRS];
    const struct rs_http_config *http_cfg;
    struct http_worker *http;
    struct sockperf_worker *sockperf;
    int init_err;
    int run_err;
    _Atomic bool done;
} __attribute__((aligned(64)));

struct startup {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned reported;
};

struct worker_arg {
    struct worker *w;
    struct startup *st;
};

static void startup_report(struct startup *st)
{
    pthread_mutex_lock(&st->mu);
    st->reported++;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void *worker_main(void *p)
{
    struct worker_arg *wa = p;
    struct worker *w = wa->w;
    struct startup *st = wa->st;
    const struct rs_server_opts *o = w->opts;
    char name[16];
    int err;

    snprintf(name, sizeof(name), "ringsock-w%u", w->id);
    pthread_setname_np(pthread_self(), name);

    /* The ring is created here: a SINGLE_ISSUER ring belongs to the thread that made it. */
    w->loop = rs_loop_new(&w->cfg, &w->stats, &err);
    if (!w->loop) {
        w->init_err = err;
        goto out_report;
    }
    rs_accept_fn fn = rs_echo_accept;
    void *fn_arg = NULL;
    if (o->service == RS_SVC_DISCARD) {
        fn = rs_discard_accept;
    } else if (o->service == RS_SVC_SOCKPERF) {
        w->sockperf = rs_sockperf_worker_new(o->max_msg, &w->stats);
        if (!w->sockperf) {
            w->init_err = -ENOMEM;
            goto out_report;
        }
        fn = rs_sockperf_accept;
        fn_arg = w->sockperf;
    }
    for (unsigned i = 0; i < o->ntcp && !w->http; i++) {
        if (!o->tcp_http[i])
            continue;
        w->http = rs_http_worker_new(w->loop, w->http_cfg, &w->stats);
        if (!w->http) {
            w->init_err = -ENOMEM;
            goto out_report;
        }
    }
    for (unsigned i = 0; i < o->ntcp; i++) {
        if (o->tcp_http[i])
            err = rs_loop_listen(w->loop, w->fds[i], rs_http_accept, w->http);
        else
            err = rs_loop_listen(w->loop, w->fds[i], fn, fn_arg);
        if (err < 0) {
            w->init_err = err;
            goto out_report;
        }
        w->fds[i] = -1; /* the loop owns it now */
    }
    struct rs_udp_config ucfg = {
        .batch = o->udp_batch,
        .buf_size = o->udp_buf,
        .queue = o->udp_queue,
        .budget = o->udp_batch * 8,
        .max_msg = o->max_msg,
        .mode = o->service == RS_SVC_DISCARD    ? RS_UDP_DISCARD
                : o->service == RS_SVC_SOCKPERF ? RS_UDP_SOCKPERF
                                                : RS_UDP_ECHO,
    };
    for (unsigned i = 0; i < o->nudp; i++) {
        if (w->ufds[i] < 0)
            continue; /* a multicast group is served by worker 0 only */
        w->udp[i] = rs_udp_echo_new(w->loop, w->ufds[i], &ucfg, &w->stats, &err);
        if (!w->udp[i]) {
            w->init_err = err;
            goto out_report;
        }
        w->ufds[i] = -1;
    }
out_report:
    startup_report(st);
    if (w->init_err == 0)
        w->run_err = rs_loop_run(w->loop);
    atomic_store_explicit(&w->done, true, memory_order_release);
    return NULL;
}

/* Binds each address once per worker; port 0 is resolved by the first bind and reused. */
static int bind_all(const struct rs_server_opts *o, struct worker *ws, struct rs_addr *bound)
{
    char buf[RS_ADDR_STRLEN];
    for (unsigned a = 0; a < o->ntcp; a++) {
        struct rs_addr addr = o->tcp[a];
        for (unsigned i = 0; i < o->threads; i++) {
            int fd = rs_net_listen_tcp(&addr, o->backlog);
            if (fd < 0) {
                rs_log_error("cannot listen on tcp://%s: %s",
                             rs_addr_format(&addr, buf, sizeof(buf)), strerror(-fd));
                return fd;
            }
            ws[i].fds[a] = fd;
            if (i == 0) {
                int err = rs_net_local_addr(fd, &addr);
                if (err < 0) {
                    rs_log_error("getsockname: %s", strerror(-err));
                    return err;
                }
                bound[a] = addr;
            }
        }
    }
    for (unsigned a = 0; a < o->nudp; a++) {
        struct rs_addr addr = o->udp[a];
        /* Every socket bound to a group gets its own copy of each datagram, so a group is
         * served by one worker, or each datagram would be answered once per worker. */
        unsigned n = rs_addr_is_multicast(&addr) ? 1 : o->threads;
        for (unsigned i = 0; i < n; i++) {
            const char *what;
            int fd = rs_net_bind_udp(&addr, o->udp_rcvbuf, o->udp_sndbuf, o->join_iface, &what);
            if (fd < 0) {
                rs_log_error("cannot listen on udp://%s: %s: %s",
                             rs_addr_format(&addr, buf, sizeof(buf)), what, strerror(-fd));
                return fd;
            }
            ws[i].ufds[a] = fd;
            if (i == 0) {
                struct rs_addr local;
                int err = rs_net_local_addr(fd, &local);
                if (err < 0) {
                    rs_log_error("getsockname: %s", strerror(-err));
                    return err;
                }
                rs_addr_set_port(&addr, rs_addr_port(&local));
                bound[RS_MAX_ADDRS + a] = addr;
            }
        }
    }
    return 0;
}

static void print_listening(const struct rs_server_opts *o, const struct rs_addr *bound,
                            enum rs_backend_kind kind, const char *features, const char *why,
                            uint64_t fd_limit)
{
    char buf[RS_ADDR_STRLEN];
    static const char *const names[] = {"echo", "discard", "http", "sockperf"};
    printf("ringsock: %s listening on", names[o->service]);
    for (unsigned a = 0; a < o->ntcp; a++)
        printf(" %s://%s", o->tcp_http[a] ? "http" : "tcp",
               rs_addr_format(&bound[a], buf, sizeof(buf)));
    for (unsigned a = 0; a < o->nudp; a++)
        printf(" udp://%s%s%s", rs_addr_format(&bound[RS_MAX_ADDRS + a], buf, sizeof(buf)),
               rs_addr_is_multicast(&o->udp[a]) ? "%" : "",
               rs_addr_is_multicast(&o->udp[a]) ? o->join_iface : "");
    printf(" (%u thread%s, backend %s: %s; fd limit %llu)\n", o->threads,
           o->threads == 1 ? "" : "s", rs_backend_name(kind), why[0] ? why : features,
           (unsigned long long)fd_limit);
    fflush(stdout);
}

/* Says, once at start, when the descriptor limit caps connections below --max-conns: past it
 * accepting backs off on EMFILE, which looks like a slow server unless it is said. */
static void fd_limit_warn(const struct rs_server_opts *o, uint64_t limit)
{
    uint64_t want = (uint64_t)o->loop.max_conns * o->threads + 64 + 16ull * o->threads;
    if (limit >= want)
        return;
    rs_log_warn("file descriptor limit %llu is below --max-conns %u x %u workers: past about %llu "
                "connections, accepting backs off until descriptors are free (raise the hard "
                "limit: ulimit -Hn, systemd LimitNOFILE=)",
                (unsigned long long)limit, o->loop.max_conns, o->threads,
                (unsigned long long)(limit > 64 + 16ull * o->threads
                                         ? limit - 64 - 16ull * o->threads
                                         : 0));
}

/* Reads a whole file (at most 64 MiB). Returns 0 or -errno. */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= (64u << 20)) {
                err = -EFBIG;
                break;
            }
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = rs_malloc(ncap);
            if (!nb) {
                err = -ENOMEM;
                break;
            }
            if (n)
                memcpy(nb, buf, n);
            rs_free(buf);
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f))
                err = -EIO;
            break;
        }
    }
    fclose(f);
    if (err < 0) {
        rs_free(buf);
        return err;
    }
    *out = buf;
    *len = n;
    return 0;
}

static uint64_t counter(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* Starts the --stats view, if asked for. NULL when not asked for or memory is short (then
 * the server runs without it, and says so). */
static struct rs_stats_live *live_start(const struct rs_server_opts *o, struct worker *ws,
                                        const struct rs_stats **ptrs)
{
    if (!o->stats_ns)
        return NULL;
    bool http = false;
    for (unsigned a = 0; a < o->ntcp; a++)
        http = http || o->tcp_http[a];
    for (unsigned i = 0; i < o->threads; i++)
        ptrs[i] = &ws[i].stats;
    struct rs_stats_live *sl = rs_stats_live_new(
        ptrs, o->threads, (o->nudp ? RS_LIVE_UDP : 0) | (http ? RS_LIVE_HTTP : 0), rs_now_ns());
    if (!sl)
        rs_log_warn("--stats: out of memory; running without it");
    return sl;
}

/* One line per worker at exit, so an uneven spread over workers shows. */
static void print_worker(unsigned id, const struct rs_stats *st, bool udp, bool sockperf)
{
    printf("ringsock: worker %u: conns %" PRIu64 ", bytes in %" PRIu64 " out %" PRIu64, id,
           counter(&st->conns_accepted), counter(&st->bytes_in), counter(&st->bytes_out));
    if (counter(&st->http_requests) || counter(&st->http_errors))
        printf("; http requests %" PRIu64 ", errors %" PRIu64 ", timeouts %" PRIu64,
               counter(&st->http_requests), counter(&st->http_errors), counter(&st->http_timeouts));
    if (sockperf)
        printf("; sockperf messages answered %" PRIu64 ", not answered %" PRIu64
               ", malformed %" PRIu64,
               counter(&st->sockperf_replies), counter(&st->sockperf_unanswered),
               counter(&st->sockperf_malformed));
    if (udp) {
        uint64_t in = counter(&st->dgrams_in), b = counter(&st->dgram_batches_in);
        uint64_t out = counter(&st->dgrams_out), bo = counter(&st->dgram_batches_out);
        printf("; datagrams in %" PRIu64 " (%" PRIu64 " batches, mean %.1f) out %" PRIu64
               " (%" PRIu64 " batches, mean %.1f), truncated %" PRIu64 ", dropped %" PRIu64
               ", kernel drops %" PRIu64,
               in, b, b ? (double)in / (double)b : 0.0, out, bo,
               bo ? (double)out / (double)bo : 0.0, counter(&st->dgram_truncated),
               counter(&st->dgram_dropped), counter(&st->dgram_kernel_drops));
    }
    printf("\n");
}

static bool all_done(struct worker *ws, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!atomic_load_explicit(&ws[i].done, memory_order_acquire))
            return false;
    return true;
}

int rs_server_run(const struct rs_server_opts *o)
{
    char why[256];
    int rc = 1;
    unsigned started = 0;
    struct rs_addr bound[2 * RS_MAX_ADDRS]; /* TCP, then UDP */
    struct startup st = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

    struct rs_http_config http_cfg = {
        .body = o->body,
        .body_len = o->body_len,
        .max_bytes = o->max_bytes,
        .max_body = o->max_body,
        .header_timeout_ms = o->header_timeout_ms,
        .keepalive_timeout_ms = o->keepalive_timeout_ms,
    };
    rs_http_limits_default(&http_cfg.limits);
    char *body_file = NULL;
    if (o->body_file) {
        int err = read_file(o->body_file, &body_file, &http_cfg.body_len);
        if (err < 0) {
            rs_log_error("cannot read --body-file %s: %s", o->body_file, strerror(-err));
            return 1;
        }
        http_cfg.body = body_file;
    }

    int kind = rs_backend_choose(o->backend, why, sizeof(why));
    if (kind < 0) {
        rs_log_error("--backend io_uring: %s", why[0] ? why : strerror(-kind));
        rs_free(body_file);
        return 1;
    }
    /* Each connection is a descriptor: take what the hard limit allows before binding. */
    uint64_t fd_limit = 0;
    int fd_err = rs_fd_limit_raise(&fd_limit);

    struct worker *ws = rs_aligned_alloc(64, sizeof(*ws) * o->threads);
    struct worker_arg *args = rs_calloc(o->threads, sizeof(*args));
    const struct rs_stats **stats_ptrs = rs_calloc(o->threads, sizeof(*stats_ptrs));
    struct rs_stats_live *live = NULL;
    if (!ws || !args || !stats_ptrs) {
        rs_log_error("out of memory");
        goto out_free;
    }
    memset(ws, 0, sizeof(*ws) * o->threads);
    for (unsigned i = 0; i < o->threads; i++) {
        ws[i].id = i;
        ws[i].opts = o;
        ws[i].cfg = o->loop;
        ws[i].cfg.backend = (enum rs_backend_kind)kind;
        ws[i].cfg.id = i;
        ws[i].http_cfg = &http_cfg;
        for (unsigned a = 0; a < RS_MAX_ADDRS; a++)
            ws[i].fds[a] = ws[i].ufds[a] = -1;
        args[i].w = &ws[i];
        args[i].st = &st;
    }
    if (bind_all(o, ws, bound) < 0)
        goto out_close_fds;

    /* Workers inherit a mask without SIGINT/SIGTERM: only this thread takes them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (; started < o->threads; started++) {
        int err = pthread_create(&ws[started].tid, NULL, worker_main, &args[started]);
        if (err) {
            rs_log_error("cannot start worker thread: %s", strerror(err));
            break;
        }
    }
    pthread_mutex_lock(&st.mu);
    while (st.reported < started)
        pthread_cond_wait(&st.cv, &st.mu);
    pthread_mutex_unlock(&st.mu);

    bool ok = started == o->threads;
    for (unsigned i = 0; i < started; i++) {
        if (ws[i].init_err < 0) {
            rs_log_error("worker %u: cannot start %s loop: %s", i,
                         rs_backend_name(ws[i].cfg.backend), strerror(-ws[i].init_err));
            ok = false;
            break;
        }
    }
    if (ok) {
        if (fd_err < 0)
            rs_log_warn("cannot raise the file descriptor limit: %s", strerror(-fd_err));
        fd_limit_warn(o, fd_limit);
        print_listening(o, bound, (enum rs_backend_kind)kind, rs_backend_features(ws[0].loop), why,
                        fd_limit);
        live = live_start(o, ws, stats_ptrs);
        uint64_t next_stats = rs_now_ns() + o->stats_ns;
        /* Wait for the first signal; a second one cuts the grace period short. In between,
         * print the --stats lines when they are due. */
        unsigned signals = 0;
        while (!all_done(ws, started)) {
            uint64_t wait_ns = 100 * 1000000;
            if (live) {
                uint64_t now = rs_now_ns();
                if (now >= next_stats) {
                    rs_stats_live_print(live, stdout, now);
                    next_stats += o->stats_ns;
                    if (next_stats <= now) /* fell behind (stopped process): skip, no burst */
                        next_stats = now + o->stats_ns;
                }
                if (next_stats - now < wait_ns)
                    wait_ns = next_stats - now;
            }
            struct timespec ts = {.tv_sec = (time_t)(wait_ns / 1000000000),
                                  .tv_nsec = (long)(wait_ns % 1000000000)};
            if (sigtimedwait(&sigs, NULL, &ts) < 0)
                continue;
            signals++;
            for (unsigned i = 0; i < started; i++)
                if (ws[i].loop)
                    rs_loop_request_stop(ws[i].loop, signals == 1 ? o->shutdown_ms : 0);
        }
    } else {
        for (unsigned i = 0; i < started; i++)
            if (ws[i].loop)
                rs_loop_request_stop(ws[i].loop, 0);
    }

    struct rs_stats total;
    memset(&total, 0, sizeof(total));
    rc = ok ? 0 : 1;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        if (ws[i].run_err < 0) {
            rs_log_error("worker %u: loop failed: %s", i, strerror(-ws[i].run_err));
            rc = 1;
        }
        rs_stats_sum(&total, &ws[i].stats);
        rs_loop_free(ws[i].loop);
        rs_http_worker_free(ws[i].http);
        rs_sockperf_worker_free(ws[i].sockperf);
        for (unsigned a = 0; a < RS_MAX_ADDRS; a++)
            rs_udp_echo_free(ws[i].udp[a]);
    }
    if (ok) {
        for (unsigned i = 0; i < started; i++)
            print_worker(i, &ws[i].stats, o->nudp > 0, o->service == RS_SVC_SOCKPERF);
        printf("ringsock: totals ");
        rs_stats_print(stdout, &total);
        printf("\n");
        fflush(stdout);
    }

out_close_fds:
    for (unsigned i = 0; i < o->threads; i++)
        for (unsigned a = 0; a < RS_MAX_ADDRS; a++) {
            if (ws[i].fds[a] >= 0)
                close(ws[i].fds[a]);
            if (ws[i].ufds[a] >= 0)
                close(ws[i].ufds[a]);
        }
out_free:
    rs_stats_live_free(live);
    rs_free(stats_ptrs);
    rs_free(args);
    rs_free(ws);
    rs_free(body_file);
    return rc;
}
