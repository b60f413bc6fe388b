/* The server: binds every listener once per worker (SO_REUSEPORT), starts one thread per worker
 * with its own loop and the services it serves (from the service table), reports where it
 * listens (stdout, --pid-file, systemd's READY=1), waits for SIGINT/SIGTERM, drains (STOPPING=1,
 * --drain-delay), stops the workers within the shutdown deadline and prints the totals from the
 * counter registry. Under a systemd watchdog it pings only while every worker's loop turns. */

#include "server.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "ringsock/net/net.h"
#include "ringsock/core/stats.h"
#include "ringsock/services/services.h"
#include "pidfile.h"
#include "reload.h"
#include "sdnotify.h"
#include "stats_live.h"

/* Set once draining starts (first SIGTERM/SIGINT); read by rs_server_draining(). */
static _Atomic bool server_draining;

/* What every worker reads, set before they start. */
struct server {
    const struct rs_server_opts *opts;
    const struct rs_service_conf *conf;
    struct rs_counter_set *counters;
    bool used[RS_MAX_SERVICES]; /* the service, and those of --http listeners */
    uint64_t heartbeat_ms;      /* each worker's heartbeat tick; 0: no heartbeat (no watchdog) */
    /* RINGSOCK_TEST_WEDGE=W:AFTER:FOR (tests only): worker W's loop sleeps FOR, AFTER the start,
     * inside its heartbeat, as a wedged worker would; wedge_for_ns 0: off. */
    unsigned wedge_worker;
    uint64_t wedge_at_ns, wedge_for_ns;
};

#define RS_MAX_XUDP 16 /* a worker's datagram sockets taken over from dropped workers */

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
    int hand_fds[RS_MAX_ADDRS];  /* fds[] and ufds[] numbers, for a reload's handover: the */
    int hand_ufds[RS_MAX_ADDRS]; /* loop owns and closes them only once it stops (-1: none) */
    /* Datagram sockets of workers a reload dropped (a smaller thread count), served here: UDP
     * has no tcp_migrate_req, closing one would lose what is queued on it. */
    struct extra_udp {
        int fd;          /* owned until worker_serve hands it to the loop */
        int hand_fd;     /* its number, for the next handover */
        unsigned addr;   /* index in o->udp */
        unsigned worker; /* the worker it was made for: its name in a handover */
        struct rs_udp_sock *udp;
    } xudp[RS_MAX_XUDP];
    unsigned nxudp;
    struct rs_udp_sock *udp[RS_MAX_ADDRS];
    struct rs_rate_table *udp_rate; /* --udp-rate-per-source, shared by this worker's sockets */
    int init_err;
    int run_err;
    _Atomic bool done;
    struct rs_timer heartbeat_timer;
    _Atomic uint64_t heartbeat; /* loop turns that ran the heartbeat timer; the watchdog reads it */
    uint64_t heartbeat_seen;    /* main thread: heartbeat at the last watchdog check */
    bool wedged;                /* worker: the test wedge happened */
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

/* The heartbeat: proves to the watchdog (main thread) that this worker's loop still turns. */
static void heartbeat_tick(struct rs_timer *t, void *arg)
{
    struct worker *w = arg;
    const struct server *srv = w->srv;
    atomic_fetch_add_explicit(&w->heartbeat, 1, memory_order_relaxed);
    if (srv->wedge_for_ns && w->id == srv->wedge_worker && !w->wedged &&
        rs_now_ns() >= srv->wedge_at_ns) {
        w->wedged = true;
        struct timespec ts = {.tv_sec = (time_t)(srv->wedge_for_ns / 1000000000),
                              .tv_nsec = (long)(srv->wedge_for_ns % 1000000000)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    rs_loop_timer_arm(w->loop, t, srv->heartbeat_ms);
}

/* Sets up each used service on this worker, then its TCP listeners and datagram sockets, and
 * the heartbeat timer if a watchdog reads it. */
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
    for (unsigned k = 0; k < w->nxudp; k++) {
        struct extra_udp *x = &w->xudp[k];
        x->udp = rs_udp_echo_new(w->loop, x->fd, &ucfg, dgram, w->stats, &err);
        if (!x->udp)
            return err;
        x->fd = -1;
    }
    if (srv->heartbeat_ms) {
        err = rs_loop_timer_reserve(w->loop, 1);
        if (err < 0)
            return err;
        rs_timer_init(&w->heartbeat_timer, heartbeat_tick, w);
        rs_loop_timer_arm(w->loop, &w->heartbeat_timer, srv->heartbeat_ms);
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
            int fd = rs_reload_take(RS_FD_TCP, &addr, i);
            if (fd >= 0) {
                /* An inherited listener takes this run's backlog. */
                if (listen(fd, o->backlog > 0 ? o->backlog : INT_MAX) < 0)
                    rs_log_warn("cannot set the backlog of an inherited listener: %s",
                                strerror(errno));
            } else {
                fd = rs_net_listen_tcp(&addr, o->backlog);
            }
            if (fd < 0) {
                rs_log_error("cannot listen on tcp://%s: %s",
                             rs_addr_format(&addr, buf, sizeof(buf)), strerror(-fd));
                return fd;
            }
            ws[i].fds[a] = ws[i].hand_fds[a] = fd;
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
            int fd = rs_reload_take(RS_FD_UDP, &addr, i);
            if (fd < 0)
                fd = rs_net_bind_udp(&addr, o->udp_rcvbuf, o->udp_sndbuf, o->join_iface, &what);
            if (fd < 0) {
                rs_log_error("cannot listen on udp://%s: %s: %s",
                             rs_addr_format(&addr, buf, sizeof(buf)), what, strerror(-fd));
                return fd;
            }
            ws[i].ufds[a] = ws[i].hand_ufds[a] = fd;
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
        /* Sockets of workers a reload dropped: served by the others, round robin. */
        for (unsigned i = n; !rs_addr_is_multicast(&addr); i++) {
            struct worker *w = &ws[i % o->threads];
            if (w->nxudp == RS_MAX_XUDP)
                break;
            int fd = rs_reload_take(RS_FD_UDP, &addr, i);
            if (fd < 0)
                break;
            w->xudp[w->nxudp++] =
                (struct extra_udp){.fd = fd, .hand_fd = fd, .addr = a, .worker = i};
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

bool rs_server_draining(void)
{
    return atomic_load_explicit(&server_draining, memory_order_relaxed);
}

/* What the main thread does while the workers run: signals, the drain, the watchdog. */
struct supervisor {
    const struct rs_server_opts *o;
    struct worker *ws;
    unsigned n;
    struct rs_sd *sd;
    uint64_t watchdog_ns;        /* check (and ping) interval: half of WATCHDOG_USEC; 0: none */
    const struct rs_addr *bound; /* TCP, then UDP from RS_MAX_ADDRS: what each listener got */
    bool handed_over;            /* a reload's new process serves: this one drains */
};

static void stop_all(struct supervisor *sv, unsigned grace_ms)
{
    for (unsigned i = 0; i < sv->n; i++)
        if (sv->ws[i].loop)
            rs_loop_request_stop(sv->ws[i].loop, grace_ms);
}

/* The first SIGTERM/SIGINT: the server says it is going (systemd STOPPING=1, /readyz 503 through
 * rs_server_draining()) while it still accepts, for --drain-delay. */
static void drain_begin(struct supervisor *sv)
{
    char status[128];
    atomic_store_explicit(&server_draining, true, memory_order_relaxed);
    snprintf(status, sizeof(status), "draining: accepting for %llu ms more, then %u ms to finish",
             (unsigned long long)(sv->o->drain_delay_ns / 1000000), sv->o->shutdown_ms);
    int err = rs_sd_stopping(sv->sd, status);
    if (err < 0)
        rs_log_warn("cannot notify systemd (STOPPING=1): %s", strerror(-err));
}

/* SIGHUP: starts a new process with every listening socket, named by protocol, address and
 * worker (reload.c). Refused while a reload is in flight or once this process drains. */
static void reload_begin(struct supervisor *sv, bool stopping)
{
    const struct rs_server_opts *o = sv->o;
    if (rs_reload_poll_pending()) {
        rs_log_warn("reload refused: a reload is already in flight");
        return;
    }
    if (stopping || sv->handed_over) {
        rs_log_warn("reload refused: this process is %s",
                    sv->handed_over ? "draining after a reload" : "stopping");
        return;
    }
    struct rs_reload_sock *socks =
        rs_calloc((2 * RS_MAX_ADDRS + RS_MAX_XUDP) * sv->n, sizeof(*socks));
    if (!socks) {
        rs_log_error("reload failed: out of memory");
        return;
    }
    unsigned n = 0;
    for (unsigned i = 0; i < sv->n; i++)
        for (unsigned a = 0; a < 2 * RS_MAX_ADDRS; a++) {
            bool tcp = a < RS_MAX_ADDRS;
            unsigned k = tcp ? a : a - RS_MAX_ADDRS;
            int fd = tcp ? sv->ws[i].hand_fds[k] : sv->ws[i].hand_ufds[k];
            if (k >= (tcp ? o->ntcp : o->nudp) || fd < 0)
                continue;
            socks[n].fd = fd;
            rs_fdname_format(tcp ? RS_FD_TCP : RS_FD_UDP, &sv->bound[a], i, socks[n].name,
                             sizeof(socks[n].name));
            n++;
        }
    for (unsigned i = 0; i < sv->n; i++)
        for (unsigned k = 0; k < sv->ws[i].nxudp; k++) {
            const struct extra_udp *x = &sv->ws[i].xudp[k];
            socks[n].fd = x->hand_fd;
            rs_fdname_format(RS_FD_UDP, &sv->bound[RS_MAX_ADDRS + x->addr], x->worker,
                             socks[n].name, sizeof(socks[n].name));
            n++;
        }
    int err = rs_sd_reloading(sv->sd, rs_sd_monotonic_usec());
    if (err < 0)
        rs_log_warn("cannot notify systemd (RELOADING=1): %s", strerror(-err));
    err = rs_reload_start(socks, n, RS_RELOAD_READY_MS);
    rs_free(socks);
    if (err < 0)
        rs_log_error("reload failed: cannot start the new process: %s", strerror(-err));
    else
        rs_log_info("reload: started a new process with %u listening sockets", n);
    if (err < 0)
        rs_sd_ready(sv->sd, "reload failed");
}

/* Looks at the reload in flight: once the new process serves, systemd learns its pid and this
 * process stops accepting and drains; if it failed, this one serves on. */
static void reload_check(struct supervisor *sv)
{
    char why[320];
    pid_t child = 0;
    enum rs_reload_state st = rs_reload_poll(why, sizeof(why), &child);
    if (st == RS_RELOAD_FAILED) {
        rs_log_error("reload failed: %s; this process serves on", why);
        int err = rs_sd_ready(sv->sd, "reload failed; serving with the old configuration");
        if (err < 0)
            rs_log_warn("cannot notify systemd (READY=1): %s", strerror(-err));
    } else if (st == RS_RELOAD_READY) {
        rs_log_info("reload: new process %d serves; this one drains its connections for %u ms",
                    (int)child, sv->o->drain_timeout_ms);
        int err = rs_sd_sendf(sv->sd, "MAINPID=%d\nREADY=1\nSTATUS=reloaded", (int)child);
        if (err < 0)
            rs_log_warn("cannot notify systemd (MAINPID, READY=1): %s", strerror(-err));
        sv->handed_over = true;
        atomic_store_explicit(&server_draining, true, memory_order_relaxed);
        for (unsigned i = 0; i < sv->n; i++)
            if (sv->ws[i].loop)
                rs_loop_request_drain(sv->ws[i].loop, sv->o->drain_timeout_ms);
    }
}

/* True when every worker still running moved its heartbeat since the last call. */
static bool heartbeats_moved(struct supervisor *sv)
{
    bool all = true;
    for (unsigned i = 0; i < sv->n; i++) {
        struct worker *w = &sv->ws[i];
        if (atomic_load_explicit(&w->done, memory_order_acquire))
            continue;
        uint64_t hb = atomic_load_explicit(&w->heartbeat, memory_order_relaxed);
        if (hb == w->heartbeat_seen)
            all = false;
        w->heartbeat_seen = hb;
    }
    return all;
}

/* Waits for the workers to finish: the first signal starts the drain (listeners close after
 * --drain-delay, connections get --shutdown-timeout), a second one cuts both short. In between,
 * prints the --stats lines and pings the watchdog when they are due. */
static void supervise(struct supervisor *sv, sigset_t *sigs, struct rs_stats_live *live)
{
    const struct rs_server_opts *o = sv->o;
    uint64_t now = rs_now_ns();
    uint64_t next_stats = now + o->stats_ns;
    uint64_t next_watchdog = now + sv->watchdog_ns;
    uint64_t drain_end = 0; /* while draining before the listeners close: when they do */
    unsigned signals = 0;
    bool warned = false;
    while (!all_done(sv->ws, sv->n)) {
        uint64_t wait_ns = 100 * 1000000;
        now = rs_now_ns();
        if (live) {
            if (now >= next_stats) {
                rs_stats_live_print(live, stdout, now);
                next_stats += o->stats_ns;
                if (next_stats <= now) /* fell behind (stopped process): skip, no burst */
                    next_stats = now + o->stats_ns;
            }
            if (next_stats - now < wait_ns)
                wait_ns = next_stats - now;
        }
        if (sv->watchdog_ns && !sv->handed_over) { /* no longer the main pid: silent */
            if (now >= next_watchdog) {
                int err = heartbeats_moved(sv) ? rs_sd_watchdog(sv->sd) : 0;
                if (err < 0 && !warned) {
                    rs_log_warn("cannot notify systemd (WATCHDOG=1): %s", strerror(-err));
                    warned = true;
                }
                next_watchdog = now + sv->watchdog_ns;
            }
            if (next_watchdog - now < wait_ns)
                wait_ns = next_watchdog - now;
        }
        if (drain_end) {
            if (now >= drain_end) {
                stop_all(sv, o->shutdown_ms);
                drain_end = 0;
            } else if (drain_end - now < wait_ns) {
                wait_ns = drain_end - now;
            }
        }
        bool reloading = false;
        if (rs_reload_poll_pending()) {
            reload_check(sv);
            reloading = rs_reload_poll_pending();
            if (reloading && wait_ns > 10 * 1000000)
                wait_ns = 10 * 1000000; /* the handover waits at most this for the old side */
        }
        struct timespec ts = {.tv_sec = (time_t)(wait_ns / 1000000000),
                              .tv_nsec = (long)(wait_ns % 1000000000)};
        int sig = sigtimedwait(sigs, NULL, &ts);
        if (sig < 0)
            continue;
        if (sig == SIGHUP) {
            reload_begin(sv, signals > 0);
            continue;
        }
        if (reloading) {
            rs_log_warn("reload abandoned: stopping");
            rs_reload_abort();
        }
        if (sv->handed_over && signals == 0)
            signals = 1; /* already draining: a signal cuts the drain short */
        if (++signals == 1) {
            drain_begin(sv);
            if (o->drain_delay_ns)
                drain_end = rs_now_ns() + o->drain_delay_ns;
            else
                stop_all(sv, o->shutdown_ms);
        } else {
            drain_end = 0;
            stop_all(sv, 0);
        }
    }
}

/* RINGSOCK_TEST_WEDGE=W:AFTER:FOR (docs/testing.md). Returns 0, or -EINVAL. */
static int wedge_parse(const char *v, struct server *srv)
{
    char buf[64];
    if (strlen(v) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, v);
    char *after = strchr(buf, ':');
    char *dur = after ? strchr(after + 1, ':') : NULL;
    if (!dur)
        return -EINVAL;
    *after++ = '\0';
    *dur++ = '\0';
    uint64_t w, at;
    if (rs_parse_size(buf, 0, 1023, &w) < 0 || rs_parse_duration(after, &at) < 0 ||
        rs_parse_duration(dur, &srv->wedge_for_ns) < 0 || srv->wedge_for_ns == 0)
        return -EINVAL;
    srv->wedge_worker = (unsigned)w;
    srv->wedge_at_ns = rs_now_ns() + at;
    return 0;
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

    /* systemd: notify socket and watchdog. The heartbeat ticks 4 times per watchdog interval
     * (at most once a second); the watchdog is checked and pinged twice per interval. */
    struct rs_sd sd;
    int sd_err = rs_sd_open(&sd, getenv("NOTIFY_SOCKET"));
    if (sd_err < 0)
        rs_log_warn("NOTIFY_SOCKET: %s; not notifying systemd", strerror(-sd_err));
    uint64_t wd_usec = rs_sd_enabled(&sd) ? rs_sd_watchdog_usec(getenv("WATCHDOG_USEC"),
                                                                getenv("WATCHDOG_PID"), getpid())
                                          : 0;
    if (wd_usec > 86400ull * 1000000) /* a day: pinging twice a day is the same as never */
        wd_usec = 86400ull * 1000000;
    if (wd_usec) {
        srv.heartbeat_ms = wd_usec / 4000;
        srv.heartbeat_ms = srv.heartbeat_ms < 1      ? 1
                           : srv.heartbeat_ms > 1000 ? 1000
                                                     : srv.heartbeat_ms;
    }
    const char *wedge = getenv("RINGSOCK_TEST_WEDGE");
    if (wedge && wedge[0]) {
        if (wedge_parse(wedge, &srv) < 0) {
            rs_log_error("RINGSOCK_TEST_WEDGE='%s': want WORKER:AFTER:FOR (1:2s:3s)", wedge);
            rs_sd_close(&sd);
            rs_free(body_file);
            return 1;
        }
        if (!srv.heartbeat_ms)
            srv.heartbeat_ms = 100;
    }

    int kind = rs_backend_choose(o->backend, why, sizeof(why));
    if (kind < 0) {
        rs_log_error("--backend io_uring: %s", why[0] ? why : strerror(-kind));
        rs_sd_close(&sd);
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
            ws[i].fds[a] = ws[i].ufds[a] = ws[i].hand_fds[a] = ws[i].hand_ufds[a] = -1;
        args[i].w = &ws[i];
        args[i].st = &st;
    }
    if (bind_all(o, ws, bound) < 0)
        goto out_close_fds;
    rs_reload_close_unclaimed();
    if (o->loop.max_conns_per_ip && o->threads > 1)
        steer_all(o, ws);

    /* Workers inherit a mask without SIGINT/SIGTERM: only this thread takes them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
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
    bool pid_written = false;
    if (ok && o->pid_file) {
        int err = rs_pidfile_write(o->pid_file, getpid());
        if (err < 0) {
            rs_log_error("cannot write --pid-file %s: %s", o->pid_file, strerror(-err));
            ok = false;
        }
        pid_written = err == 0;
    }
    if (ok) {
        if (fd_err < 0)
            rs_log_warn("cannot raise the file descriptor limit: %s", strerror(-fd_err));
        fd_limit_warn(o, fd_limit);
        print_listening(o, bound, (enum rs_backend_kind)kind, rs_backend_features(ws[0].loop), why,
                        fd_limit);
        char status[128];
        snprintf(status, sizeof(status), "%s: listening, %u worker%s, backend %s",
                 rs_services[o->service]->name, o->threads, o->threads == 1 ? "" : "s",
                 rs_backend_name((enum rs_backend_kind)kind));
        /* Started by a reload: the old process, still systemd's main pid, says READY=1 with
         * this one's pid once told. */
        int err = rs_reload_is_child() ? 0 : rs_sd_ready(&sd, status);
        if (err < 0)
            rs_log_warn("cannot notify systemd (READY=1): %s", strerror(-err));
        rs_reload_notify_ready();
        live = live_start(o, srv.counters);
        struct supervisor sv = {.o = o,
                                .ws = ws,
                                .n = started,
                                .sd = &sd,
                                .watchdog_ns = wd_usec * 1000 / 2,
                                .bound = bound};
        supervise(&sv, &sigs, live);
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
        for (unsigned k = 0; k < ws[i].nxudp; k++)
            rs_udp_echo_free(ws[i].xudp[k].udp);
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
    if (pid_written) {
        int err = rs_pidfile_remove(o->pid_file, getpid());
        if (err < 0 && err != -ESRCH)
            rs_log_warn("cannot remove --pid-file %s: %s", o->pid_file, strerror(-err));
    }

out_close_fds:
    for (unsigned i = 0; i < o->threads; i++)
        for (unsigned a = 0; a < RS_MAX_ADDRS; a++) {
            if (ws[i].fds[a] >= 0)
                close(ws[i].fds[a]);
            if (ws[i].ufds[a] >= 0)
                close(ws[i].ufds[a]);
        }
    for (unsigned i = 0; i < o->threads; i++)
        for (unsigned k = 0; k < ws[i].nxudp; k++)
            if (ws[i].xudp[k].fd >= 0)
                close(ws[i].xudp[k].fd);
out_free:
    rs_stats_live_free(live);
    rs_counter_set_free(srv.counters);
    rs_free(args);
    rs_free(ws);
    rs_free(body_file);
    rs_sd_close(&sd);
    return rc;
}
