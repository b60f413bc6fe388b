/* The server: binds every listener once per worker (SO_REUSEPORT), starts one thread per worker
 * with its own loop and the services it serves (from the service table), reports where it
 * listens, waits for SIGINT/SIGTERM, stops the workers within the shutdown deadline and prints
 * the totals from the counter registry. */

#include "server.h"

#include <errno.h>
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
#include "ringsock/core/stats.h"
#include "ringsock/services/services.h"
#include "stats_live.h"

/* What every worker reads, set before they start. */
struct server {
    const struct rs_server_opts *opts;
    const struct rs_service_conf *conf;
    struct rs_counter_set *counters;
    bool used[RS_MAX_SERVICES]; /* the service, and those of --http listeners */
};

struct worker {
    pthread_t tid;
    unsigned id;
    const struct server *srv;
    struct rs_loop_config cfg;
    struct rs_loop *loop;
    struct rs_stats *stats;     /* the loop's counters, in the registry's storage */
    void *svc[RS_MAX_SERVICES]; /* each used service's state on this worker */
    int fds[RS_MAX_ADDRS];
    int ufds[RS_MAX_ADDRS];
    struct rs_udp_sock *udp[RS_MAX_ADDRS];
    struct rs_rate_table *udp_rate; /* --udp-rate-per-source, shared by this worker's sockets */
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

/* Sets up each used service on this worker, then its TCP listeners and datagram sockets. */
static int worker_serve(struct worker *w)
{
    const struct server *srv = w->srv;
    const struct rs_server_opts *o = srv->opts;
    int err;

    for (unsigned i = 0; i < rs_nservices; i++) {
        const struct rs_service *s = rs_services[i];
        if (!srv->used[i] || !s->worker_new)
            continue;
        struct rs_service_ctx ctx = {
            .loop = w->loop,
            .counters =
                s->counters ? rs_counter_set_block(srv->counters, w->id, s->counters) : NULL,
            .conf = srv->conf,
        };
        err = s->worker_new(&ctx, &w->svc[i]);
        if (err < 0)
            return err;
    }
    for (unsigned a = 0; a < o->ntcp; a++) {
        unsigned i = o->tcp_service[a];
        err = rs_loop_listen(w->loop, w->fds[a], rs_services[i]->accept, w->svc[i]);
        if (err < 0)
            return err;
        w->fds[a] = -1; /* the loop owns it now */
    }
    const struct rs_service *s = rs_services[o->service];
    struct rs_udp_config ucfg = {
        .batch = o->udp_batch,
        .buf_size = o->udp_buf,
        .queue = o->udp_queue,
        .budget = o->udp_batch * 8,
        .mode = s->udp_mode,
        .dgram = s->dgram,
        .dgram_arg = w->svc[o->service],
        .deny_ports = o->udp_deny_count ? o->udp_deny : NULL,
    };
    if (o->nudp && o->udp_rate && s->udp_mode != RS_UDP_DISCARD) {
        w->udp_rate = rs_rate_table_new(o->udp_rate, RS_UDP_RATE_ENTRIES);
        if (!w->udp_rate)
            return -ENOMEM;
        ucfg.rate = w->udp_rate;
    }
    _Atomic uint64_t *dgram = rs_counter_set_block(srv->counters, w->id, &rs_dgram_counter_block);
    for (unsigned a = 0; a < o->nudp; a++) {
        if (w->ufds[a] < 0)
            continue; /* a multicast group is served by worker 0 only */
        w->udp[a] = rs_udp_echo_new(w->loop, w->ufds[a], &ucfg, dgram, w->stats, &err);
        if (!w->udp[a])
            return err;
        w->ufds[a] = -1;
    }
    return 0;
}

static void *worker_main(void *p)
{
    struct worker_arg *wa = p;
    struct worker *w = wa->w;
    char name[16];
    int err;

    snprintf(name, sizeof(name), "ringsock-w%u", w->id);
    pthread_setname_np(pthread_self(), name);

    /* The ring is created here: a SINGLE_ISSUER ring belongs to the thread that made it. */
    w->loop = rs_loop_new(&w->cfg, w->stats, &err);
    if (!w->loop)
        w->init_err = err;
    else
        w->init_err = worker_serve(w);
    startup_report(wa->st);
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

/* --max-conns-per-ip: each worker counts the connections it accepts, so every source address
 * must reach one worker. Steers each TCP listener's SO_REUSEPORT group by source address (the
 * sockets joined it in worker order, in bind_all). Without steering (kernel < 4.5) the limit
 * holds per worker, which is said. */
static void steer_all(const struct rs_server_opts *o, struct worker *ws)
{
    for (unsigned a = 0; a < o->ntcp; a++) {
        int err = rs_net_reuseport_steer(ws[0].fds[a], o->threads);
        if (err < 0) {
            rs_log_warn("--max-conns-per-ip: cannot steer source addresses to workers (%s); "
                        "the limit applies per worker, up to %u x %u per address",
                        strerror(-err), o->loop.max_conns_per_ip, o->threads);
            return;
        }
    }
}

static void print_listening(const struct rs_server_opts *o, const struct rs_addr *bound,
                            enum rs_backend_kind kind, const char *features, const char *why,
                            uint64_t fd_limit)
{
    char buf[RS_ADDR_STRLEN];
    printf("ringsock: %s listening on", rs_services[o->service]->name);
    for (unsigned a = 0; a < o->ntcp; a++) {
        const char *scheme = rs_services[o->tcp_service[a]]->scheme;
        printf(" %s://%s", scheme ? scheme : "tcp", rs_addr_format(&bound[a], buf, sizeof(buf)));
    }
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

/* The counter registry of a run with nworkers workers (0: descriptors only): the loop's block,
 * the datagram layer's, then each service's in table order. NULL on no memory. */
static struct rs_counter_set *counters_new(unsigned nworkers)
{
    const struct rs_counter_block *blocks[2 + RS_MAX_SERVICES];
    unsigned n = 0;
    blocks[n++] = &rs_loop_counter_block;
    blocks[n++] = &rs_dgram_counter_block;
    for (unsigned i = 0; i < rs_nservices; i++)
        if (rs_services[i]->counters)
            blocks[n++] = rs_services[i]->counters;
    return rs_counter_set_new(blocks, n, nworkers);
}

int rs_server_list_counters(FILE *f)
{
    struct rs_counter_set *set = counters_new(0);
    if (!set) {
        rs_log_error("out of memory");
        return 1;
    }
    rs_counter_set_list(set, f);
    rs_counter_set_free(set);
    return 0;
}

/* Starts the --stats view, if asked for. NULL when not asked for or memory is short (then
 * the server runs without it, and says so). */
static struct rs_stats_live *live_start(const struct rs_server_opts *o,
                                        const struct rs_counter_set *set)
{
    if (!o->stats_ns)
        return NULL;
    struct rs_stats_live *sl = rs_stats_live_new(set, rs_now_ns());
    if (!sl)
        rs_log_warn("--stats: out of memory; running without it");
    return sl;
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

    struct rs_service_conf conf = {
        .http =
            {
                .body = o->body,
                .body_len = o->body_len,
                .max_bytes = o->max_bytes,
                .max_body = o->max_body,
                .header_timeout_ms = o->header_timeout_ms,
                .keepalive_timeout_ms = o->keepalive_timeout_ms,
            },
        .max_msg = o->max_msg,
        .idle_timeout_ns = o->idle_timeout_ns,
        .relay = o->relay,
    };
    rs_http_limits_default(&conf.http.limits);
    char *body_file = NULL;
    if (o->body_file) {
        int err = read_file(o->body_file, &body_file, &conf.http.body_len);
        if (err < 0) {
            rs_log_error("cannot read --body-file %s: %s", o->body_file, strerror(-err));
            return 1;
        }
        conf.http.body = body_file;
    }
    struct server srv = {.opts = o, .conf = &conf};
    srv.used[o->service] = true;
    for (unsigned a = 0; a < o->ntcp; a++)
        srv.used[o->tcp_service[a]] = true;

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
    struct rs_stats_live *live = NULL;
    srv.counters = counters_new(o->threads);
    if (!ws || !args || !srv.counters) {
        rs_log_error("out of memory");
        goto out_free;
    }
    /* Active blocks: shown on the worker lines and in --stats. */
    rs_counter_set_activate(srv.counters, &rs_loop_counter_block);
    if (o->nudp)
        rs_counter_set_activate(srv.counters, &rs_dgram_counter_block);
    for (unsigned i = 0; i < rs_nservices; i++)
        if (srv.used[i] && rs_services[i]->counters)
            rs_counter_set_activate(srv.counters, rs_services[i]->counters);
    memset(ws, 0, sizeof(*ws) * o->threads);
    for (unsigned i = 0; i < o->threads; i++) {
        ws[i].id = i;
        ws[i].srv = &srv;
        ws[i].cfg = o->loop;
        ws[i].cfg.backend = (enum rs_backend_kind)kind;
        ws[i].cfg.id = i;
        ws[i].stats =
            (struct rs_stats *)rs_counter_set_block(srv.counters, i, &rs_loop_counter_block);
        for (unsigned a = 0; a < RS_MAX_ADDRS; a++)
            ws[i].fds[a] = ws[i].ufds[a] = -1;
        args[i].w = &ws[i];
        args[i].st = &st;
    }
    if (bind_all(o, ws, bound) < 0)
        goto out_close_fds;
    if (o->loop.max_conns_per_ip && o->threads > 1)
        steer_all(o, ws);

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
        live = live_start(o, srv.counters);
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

    rc = ok ? 0 : 1;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        if (ws[i].run_err < 0) {
            rs_log_error("worker %u: loop failed: %s", i, strerror(-ws[i].run_err));
            rc = 1;
        }
        rs_loop_free(ws[i].loop);
        for (unsigned k = 0; k < rs_nservices; k++)
            if (ws[i].svc[k])
                rs_services[k]->worker_free(ws[i].svc[k]);
        for (unsigned a = 0; a < RS_MAX_ADDRS; a++)
            rs_udp_echo_free(ws[i].udp[a]);
        rs_rate_table_free(ws[i].udp_rate);
    }
    if (ok) {
        /* One line per worker, so an uneven spread over workers shows, then the totals. */
        for (unsigned i = 0; i < started; i++) {
            printf("ringsock: worker %u: ", i);
            rs_counter_set_print_worker(srv.counters, i, stdout);
            printf("\n");
        }
        printf("ringsock: totals ");
        rs_counter_set_print_totals(srv.counters, stdout);
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
    rs_counter_set_free(srv.counters);
    rs_free(args);
    rs_free(ws);
    rs_free(body_file);
    return rc;
}
