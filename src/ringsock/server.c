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
    struct rs_service_conf conf[RS_MAX_LISTENERS]; /* each listener's service configuration */
    char *body_file[RS_MAX_LISTENERS];             /* each listener's body-file, read at start */
    struct rs_counter_set *counters;
    bool used[RS_MAX_SERVICES]; /* the services some listener serves */
};

/* One worker's part of one listener. */
struct worker_listener {
    void *svc; /* the service's state for this listener on this worker */
    int fds[RS_MAX_ADDRS];
    int ufds[RS_MAX_ADDRS];
    struct rs_udp_sock *udp[RS_MAX_ADDRS];
    struct rs_rate_table *udp_rate; /* udp-rate-per-source, shared by its sockets */
};

struct worker {
    pthread_t tid;
    unsigned id;
    const struct server *srv;
    struct rs_loop_config cfg;
    struct rs_loop *loop;
    struct rs_stats *stats; /* the loop's counters, in the registry's storage */
    struct worker_listener lst[RS_MAX_LISTENERS];
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

/* Sets up one listener on this worker: its service's state (its own, with the listener's
 * configuration), its TCP listeners and its datagram sockets. */
static int worker_serve_listener(struct worker *w, unsigned li)
{
    const struct server *srv = w->srv;
    const struct rs_listener_opts *lo = &srv->opts->lst[li];
    struct worker_listener *wl = &w->lst[li];
    const struct rs_service *s = rs_services[lo->service];
    int err;

    if (s->worker_new) {
        struct rs_service_ctx ctx = {
            .loop = w->loop,
            .counters =
                s->counters ? rs_counter_set_block(srv->counters, w->id, s->counters) : NULL,
            .conf = &srv->conf[li],
        };
        err = s->worker_new(&ctx, &wl->svc);
        if (err < 0)
            return err;
    }
    for (unsigned a = 0; a < lo->ntcp; a++) {
        err = rs_loop_listen(w->loop, wl->fds[a], s->accept, wl->svc);
        if (err < 0)
            return err;
        wl->fds[a] = -1; /* the loop owns it now */
    }
    if (!lo->nudp)
        return 0;
    struct rs_udp_config ucfg = {
        .batch = lo->udp_batch,
        .buf_size = lo->udp_buf,
        .queue = lo->udp_queue,
        .budget = lo->udp_batch * 8,
        .mode = s->udp_mode,
        .dgram = s->dgram,
        .dgram_arg = wl->svc,
        .deny_ports = lo->udp_deny_count ? lo->udp_deny : NULL,
    };
    if (lo->udp_rate && s->udp_mode != RS_UDP_DISCARD) {
        wl->udp_rate = rs_rate_table_new(lo->udp_rate, RS_UDP_RATE_ENTRIES);
        if (!wl->udp_rate)
            return -ENOMEM;
        ucfg.rate = wl->udp_rate;
    }
    _Atomic uint64_t *dgram = rs_counter_set_block(srv->counters, w->id, &rs_dgram_counter_block);
    for (unsigned a = 0; a < lo->nudp; a++) {
        if (wl->ufds[a] < 0)
            continue; /* a multicast group is served by worker 0 only */
        wl->udp[a] = rs_udp_echo_new(w->loop, wl->ufds[a], &ucfg, dgram, w->stats, &err);
        if (!wl->udp[a])
            return err;
        wl->ufds[a] = -1;
    }
    return 0;
}

/* Sets up every listener on this worker. */
static int worker_serve(struct worker *w)
{
    for (unsigned li = 0; li < w->srv->opts->nlisteners; li++) {
        int err = worker_serve_listener(w, li);
        if (err < 0)
            return err;
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

/* Where each listener's sockets are bound: TCP, then UDP, with the ports port 0 picked. */
struct bound {
    struct rs_addr addr[RS_MAX_LISTENERS][2 * RS_MAX_ADDRS];
};

/* "FILE:LINE: listener NAME: " for an address of a listener from a config file, else "". */
static const char *where(const struct rs_server_opts *o, const struct rs_listener_opts *lo,
                         unsigned line, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (o->from_config)
        snprintf(buf, cap, "%s:%u: listener %s: ", o->config, line, lo->name);
    return buf;
}

/* Binds each address of listener li once per worker; port 0 is resolved by the first bind and
 * reused. */
static int bind_listener(const struct rs_server_opts *o, unsigned li, struct worker *ws,
                         struct rs_addr *bound)
{
    char buf[RS_ADDR_STRLEN], who[1200];
    const struct rs_listener_opts *lo = &o->lst[li];
    for (unsigned a = 0; a < lo->ntcp; a++) {
        struct rs_addr addr = lo->tcp[a];
        for (unsigned i = 0; i < o->threads; i++) {
            int fd = rs_net_listen_tcp(&addr, o->backlog);
            if (fd < 0) {
                rs_log_error("%scannot listen on tcp://%s: %s",
                             where(o, lo, lo->tcp_line[a], who, sizeof(who)),
                             rs_addr_format(&addr, buf, sizeof(buf)), strerror(-fd));
                return fd;
            }
            ws[i].lst[li].fds[a] = fd;
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
    for (unsigned a = 0; a < lo->nudp; a++) {
        struct rs_addr addr = lo->udp[a];
        /* Every socket bound to a group gets its own copy of each datagram, so a group is
         * served by one worker, or each datagram would be answered once per worker. */
        unsigned n = rs_addr_is_multicast(&addr) ? 1 : o->threads;
        for (unsigned i = 0; i < n; i++) {
            const char *what;
            int fd = rs_net_bind_udp(&addr, lo->udp_rcvbuf, lo->udp_sndbuf,
                                     lo->join_iface[0] ? lo->join_iface : NULL, &what);
            if (fd < 0) {
                rs_log_error("%scannot listen on udp://%s: %s: %s",
                             where(o, lo, lo->udp_line[a], who, sizeof(who)),
                             rs_addr_format(&addr, buf, sizeof(buf)), what, strerror(-fd));
                return fd;
            }
            ws[i].lst[li].ufds[a] = fd;
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

static int bind_all(const struct rs_server_opts *o, struct worker *ws, struct bound *bound)
{
    for (unsigned li = 0; li < o->nlisteners; li++) {
        int err = bind_listener(o, li, ws, bound->addr[li]);
        if (err < 0)
            return err;
    }
    return 0;
}

/* --max-conns-per-ip: each worker counts the connections it accepts, so every source address
 * must reach one worker. Steers each TCP listener's SO_REUSEPORT group by source address (the
 * sockets joined it in worker order, in bind_all). Without steering (kernel < 4.5) the limit
 * holds per worker, which is said. */
static void steer_all(const struct rs_server_opts *o, struct worker *ws)
{
    for (unsigned li = 0; li < o->nlisteners; li++) {
        for (unsigned a = 0; a < o->lst[li].ntcp; a++) {
            int err = rs_net_reuseport_steer(ws[0].lst[li].fds[a], o->threads);
            if (err < 0) {
                rs_log_warn("--max-conns-per-ip: cannot steer source addresses to workers (%s); "
                            "the limit applies per worker, up to %u x %u per address",
                            strerror(-err), o->loop.max_conns_per_ip, o->threads);
                return;
            }
        }
    }
}

/* " tcp://1.2.3.4:7000 ..." for listeners [from, to): TCP addresses, then UDP ones. */
static void print_addrs(const struct rs_server_opts *o, unsigned from, unsigned to,
                        const struct bound *bound)
{
    char buf[RS_ADDR_STRLEN];
    for (unsigned li = from; li < to; li++) {
        const struct rs_listener_opts *lo = &o->lst[li];
        const char *scheme = rs_services[lo->service]->scheme;
        for (unsigned a = 0; a < lo->ntcp; a++)
            printf(" %s://%s", scheme ? scheme : "tcp",
                   rs_addr_format(&bound->addr[li][a], buf, sizeof(buf)));
    }
    for (unsigned li = from; li < to; li++) {
        const struct rs_listener_opts *lo = &o->lst[li];
        for (unsigned a = 0; a < lo->nudp; a++) {
            bool mc = rs_addr_is_multicast(&lo->udp[a]);
            printf(" udp://%s%s%s",
                   rs_addr_format(&bound->addr[li][RS_MAX_ADDRS + a], buf, sizeof(buf)),
                   mc ? "%" : "", mc ? lo->join_iface : "");
        }
    }
}

/* From flags, one line: "ringsock: SERVICE listening on ADDRS (threads, backend...)"; from a
 * config file, that line for each listener, with "listener NAME: " before the service. */
static void print_listening(const struct rs_server_opts *o, const struct bound *bound,
                            enum rs_backend_kind kind, const char *features, const char *why,
                            uint64_t fd_limit)
{
    unsigned lines = o->from_config ? o->nlisteners : 1;
    for (unsigned k = 0; k < lines; k++) {
        if (o->from_config) {
            printf("ringsock: listener %s: %s listening on", o->lst[k].name,
                   rs_services[o->lst[k].service]->name);
            print_addrs(o, k, k + 1, bound);
        } else {
            printf("ringsock: %s listening on", rs_services[o->service]->name);
            print_addrs(o, 0, o->nlisteners, bound);
        }
        printf(" (%u thread%s, backend %s: %s; fd limit %llu)\n", o->threads,
               o->threads == 1 ? "" : "s", rs_backend_name(kind), why[0] ? why : features,
               (unsigned long long)fd_limit);
    }
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
    bool any_udp = false;
    struct startup st = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct server *srv = rs_calloc(1, sizeof(*srv));
    struct bound *bound = rs_calloc(1, sizeof(*bound));
    struct worker *ws = NULL;
    struct worker_arg *args = NULL;
    struct rs_stats_live *live = NULL;
    if (!srv || !bound) {
        rs_log_error("out of memory");
        goto out_free;
    }
    srv->opts = o;
    for (unsigned li = 0; li < o->nlisteners; li++) {
        const struct rs_listener_opts *lo = &o->lst[li];
        struct rs_service_conf *conf = &srv->conf[li];
        *conf = (struct rs_service_conf){
            .http =
                {
                    .body = lo->body,
                    .body_len = lo->body_len,
                    .max_bytes = lo->max_bytes,
                    .max_body = lo->max_body,
                    .header_timeout_ms = lo->header_timeout_ms,
                    .keepalive_timeout_ms = lo->keepalive_timeout_ms,
                },
            .max_msg = lo->max_msg,
            .idle_timeout_ns = lo->idle_timeout_ns,
        };
        rs_http_limits_default(&conf->http.limits);
        if (lo->body_file[0]) {
            int err = read_file(lo->body_file, &srv->body_file[li], &conf->http.body_len);
            if (err < 0) {
                rs_log_error("cannot read --body-file %s: %s", lo->body_file, strerror(-err));
                goto out_free;
            }
            conf->http.body = srv->body_file[li];
        }
        srv->used[lo->service] = true;
        any_udp |= lo->nudp > 0;
    }

    int kind = rs_backend_choose(o->backend, why, sizeof(why));
    if (kind < 0) {
        rs_log_error("--backend io_uring: %s", why[0] ? why : strerror(-kind));
        goto out_free;
    }
    /* Each connection is a descriptor: take what the hard limit allows before binding. */
    uint64_t fd_limit = 0;
    int fd_err = rs_fd_limit_raise(&fd_limit);

    ws = rs_aligned_alloc(64, sizeof(*ws) * o->threads);
    args = rs_calloc(o->threads, sizeof(*args));
    srv->counters = counters_new(o->threads);
    if (!ws || !args || !srv->counters) {
        rs_log_error("out of memory");
        goto out_free;
    }
    /* Active blocks: shown on the worker lines and in --stats. */
    rs_counter_set_activate(srv->counters, &rs_loop_counter_block);
    if (any_udp)
        rs_counter_set_activate(srv->counters, &rs_dgram_counter_block);
    for (unsigned i = 0; i < rs_nservices; i++)
        if (srv->used[i] && rs_services[i]->counters)
            rs_counter_set_activate(srv->counters, rs_services[i]->counters);
    memset(ws, 0, sizeof(*ws) * o->threads);
    for (unsigned i = 0; i < o->threads; i++) {
        ws[i].id = i;
        ws[i].srv = srv;
        ws[i].cfg = o->loop;
        ws[i].cfg.backend = (enum rs_backend_kind)kind;
        ws[i].cfg.id = i;
        ws[i].stats =
            (struct rs_stats *)rs_counter_set_block(srv->counters, i, &rs_loop_counter_block);
        for (unsigned li = 0; li < RS_MAX_LISTENERS; li++)
            for (unsigned a = 0; a < RS_MAX_ADDRS; a++)
                ws[i].lst[li].fds[a] = ws[i].lst[li].ufds[a] = -1;
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
        live = live_start(o, srv->counters);
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
        for (unsigned li = 0; li < o->nlisteners; li++) {
            struct worker_listener *wl = &ws[i].lst[li];
            if (wl->svc)
                rs_services[o->lst[li].service]->worker_free(wl->svc);
            for (unsigned a = 0; a < RS_MAX_ADDRS; a++)
                rs_udp_echo_free(wl->udp[a]);
            rs_rate_table_free(wl->udp_rate);
        }
    }
    if (ok) {
        /* One line per worker, so an uneven spread over workers shows, then the totals. */
        for (unsigned i = 0; i < started; i++) {
            printf("ringsock: worker %u: ", i);
            rs_counter_set_print_worker(srv->counters, i, stdout);
            printf("\n");
        }
        printf("ringsock: totals ");
        rs_counter_set_print_totals(srv->counters, stdout);
        printf("\n");
        fflush(stdout);
    }

out_close_fds:
    for (unsigned i = 0; i < o->threads; i++)
        for (unsigned li = 0; li < RS_MAX_LISTENERS; li++)
            for (unsigned a = 0; a < RS_MAX_ADDRS; a++) {
                if (ws[i].lst[li].fds[a] >= 0)
                    close(ws[i].lst[li].fds[a]);
                if (ws[i].lst[li].ufds[a] >= 0)
                    close(ws[i].lst[li].ufds[a]);
            }
out_free:
    rs_stats_live_free(live);
    if (srv) {
        rs_counter_set_free(srv->counters);
        for (unsigned li = 0; li < RS_MAX_LISTENERS; li++)
            rs_free(srv->body_file[li]);
    }
    rs_free(args);
    rs_free(ws);
    rs_free(bound);
    rs_free(srv);
    return rc;
}
