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
#include "admin.h"
#include "access_log.h"
#include "pidfile.h"
#include "reload.h"
#include "sdnotify.h"
#include "stats_live.h"

/* Set once draining starts (first SIGTERM/SIGINT); read by rs_server_draining(). */
static _Atomic bool server_draining;

/* What every worker reads, set before they start. */
struct server {
    const struct rs_server_opts *opts;
    struct rs_service_conf conf[RS_MAX_LISTENERS]; /* each listener's service configuration */
    char *body_file[RS_MAX_LISTENERS];             /* each listener's body-file, read at start */
    struct rs_counter_set *counters;
    /* Each listener's labelled set of its service's item counters (NULL: none), and the
     * non-NULL ones packed for /metrics. */
    struct rs_counter_lset *items[RS_MAX_LISTENERS];
    const struct rs_counter_lset *item_sets[RS_MAX_LISTENERS];
    unsigned nitem_sets;
    bool used[RS_MAX_SERVICES]; /* the services some listener serves */
    uint64_t heartbeat_ms;      /* each worker's heartbeat tick; 0: no heartbeat (no watchdog) */
    /* RINGSOCK_TEST_WEDGE=W:AFTER:FOR (tests only): worker W's loop sleeps FOR, AFTER the start,
     * inside its heartbeat, as a wedged worker would; wedge_for_ns 0: off. */
    unsigned wedge_worker;
    uint64_t wedge_at_ns, wedge_for_ns;
};

#define RS_MAX_XUDP 16 /* a listener's datagram sockets taken over from dropped workers */

/* One worker's part of one listener. */
struct worker_listener {
    void *svc; /* the service's state for this listener on this worker */
    int fds[RS_MAX_ADDRS];
    int ufds[RS_MAX_ADDRS];
    int hand_fds[RS_MAX_ADDRS];  /* fds[] and ufds[] numbers, for a reload's handover: the */
    int hand_ufds[RS_MAX_ADDRS]; /* loop owns and closes them only once it stops (-1: none) */
    /* Datagram sockets of workers a reload dropped (a smaller thread count), served here: UDP
     * has no tcp_migrate_req, closing one would lose what is queued on it. */
    struct extra_udp {
        int fd;          /* owned until worker_serve_listener hands it to the loop */
        int hand_fd;     /* its number, for the next handover */
        unsigned addr;   /* index in the listener's udp addresses */
        unsigned worker; /* the worker it was made for: its name in a handover */
        struct rs_udp_sock *udp;
    } xudp[RS_MAX_XUDP];
    unsigned nxudp;
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
            .worker = w->id,
            .items = srv->items[li],
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
        if (s->udp_open) {
            /* The service serves it (the relay); it owns the fd from here, failing or not. */
            int fd = wl->ufds[a];
            wl->ufds[a] = -1;
            err = s->udp_open(wl->svc, w->loop, fd, &ucfg);
            if (err < 0)
                return err;
            continue;
        }
        wl->udp[a] = rs_udp_echo_new(w->loop, wl->ufds[a], &ucfg, dgram, w->stats, &err);
        if (!wl->udp[a])
            return err;
        wl->ufds[a] = -1;
    }
    for (unsigned k = 0; k < wl->nxudp; k++) {
        struct extra_udp *x = &wl->xudp[k];
        if (s->udp_open) {
            int fd = x->fd;
            x->fd = -1;
            err = s->udp_open(wl->svc, w->loop, fd, &ucfg);
            if (err < 0)
                return err;
            continue;
        }
        x->udp = rs_udp_echo_new(w->loop, x->fd, &ucfg, dgram, w->stats, &err);
        if (!x->udp)
            return err;
        x->fd = -1;
    }
    return 0;
}

/* Sets up every listener on this worker. */
static int worker_serve(struct worker *w)
{
    const struct server *srv = w->srv;
    int err;
    for (unsigned li = 0; li < srv->opts->nlisteners; li++) {
        err = worker_serve_listener(w, li);
        if (err < 0)
            return err;
    }
    /* The heartbeat timer, if a watchdog reads it. */
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
                rs_log_error("%scannot listen on tcp://%s: %s",
                             where(o, lo, lo->tcp_line[a], who, sizeof(who)),
                             rs_addr_format(&addr, buf, sizeof(buf)), strerror(-fd));
                return fd;
            }
            ws[i].lst[li].fds[a] = ws[i].lst[li].hand_fds[a] = fd;
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
            int fd = rs_reload_take(RS_FD_UDP, &addr, i);
            if (fd < 0)
                fd = rs_net_bind_udp(&addr, lo->udp_rcvbuf, lo->udp_sndbuf,
                                     lo->join_iface[0] ? lo->join_iface : NULL, &what);
            if (fd < 0) {
                rs_log_error("%scannot listen on udp://%s: %s: %s",
                             where(o, lo, lo->udp_line[a], who, sizeof(who)),
                             rs_addr_format(&addr, buf, sizeof(buf)), what, strerror(-fd));
                return fd;
            }
            ws[i].lst[li].ufds[a] = ws[i].lst[li].hand_ufds[a] = fd;
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
            struct worker_listener *wl = &ws[i % o->threads].lst[li];
            if (wl->nxudp == RS_MAX_XUDP)
                break;
            int fd = rs_reload_take(RS_FD_UDP, &addr, i);
            if (fd < 0)
                break;
            wl->xudp[wl->nxudp++] =
                (struct extra_udp){.fd = fd, .hand_fd = fd, .addr = a, .worker = i};
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

int rs_server_list_counters(FILE *f)
{
    struct rs_counter_set *set = rs_server_counters_new(0);
    if (!set) {
        rs_log_error("out of memory");
        return 1;
    }
    rs_counter_set_list(set, f);
    rs_counter_set_free(set);
    return 0;
}

/* The service label of each block of the registry, for /metrics: a service's block is labelled
 * with the service this run serves it for (echo and discard share one), the datagram layer's
 * with the service answering datagrams; the loop's counts for every service of its worker and
 * gets none. */
static void block_services(const struct server *srv, const char *out[RS_COUNTER_MAX_BLOCKS])
{
    for (unsigned i = 0; i < rs_counter_set_nblocks(srv->counters); i++) {
        const struct rs_counter_block *b = rs_counter_set_block_at(srv->counters, i);
        out[i] = NULL;
        if (b == &rs_dgram_counter_block)
            out[i] = rs_services[srv->opts->service]->name;
        for (unsigned k = 0; k < rs_nservices && !out[i]; k++)
            if (srv->used[k] && rs_services[k]->counters == b)
                out[i] = rs_services[k]->name;
    }
}

/* The labelled item counters of each listener whose service keeps some (the relay's
 * per-upstream counters). Returns 0 or -ENOMEM. */
static int items_new(struct server *srv)
{
    const struct rs_server_opts *o = srv->opts;
    for (unsigned li = 0; li < o->nlisteners; li++) {
        const struct rs_service *s = rs_services[o->lst[li].service];
        if (!s->item_counters || !s->item_names)
            continue;
        const char *names[RS_RELAY_MAX_UPSTREAMS];
        unsigned n = s->item_names(&srv->conf[li], names, RS_RELAY_MAX_UPSTREAMS);
        srv->items[li] = rs_counter_lset_new(s->item_counters, s->name, names, n, o->threads);
        if (!srv->items[li])
            return -ENOMEM;
        srv->item_sets[srv->nitem_sets++] = srv->items[li];
    }
    return 0;
}

/* Starts the admin endpoint, if asked for, and says where. Returns 0 or -errno (said). */
static int admin_start(const struct server *srv, const char *labels[RS_COUNTER_MAX_BLOCKS],
                       struct rs_admin **out)
{
    const struct rs_server_opts *o = srv->opts;
    char buf[RS_ADDR_STRLEN];
    int err;
    *out = NULL;
    if (!o->has_admin)
        return 0;
    block_services(srv, labels);
    struct rs_admin_config cfg = {.addr = o->admin,
                                  .counters = srv->counters,
                                  .block_service = labels,
                                  .item_sets = srv->item_sets,
                                  .nitem_sets = srv->nitem_sets};
    *out = rs_admin_start(&cfg, &err);
    if (!*out) {
        rs_log_error("cannot serve --admin %s: %s", rs_addr_format(&o->admin, buf, sizeof(buf)),
                     strerror(-err));
        return err;
    }
    /* Before the listening line, so whoever waits for that line finds this one too. */
    printf("ringsock: admin on http://%s (/metrics /healthz /readyz /version)\n",
           rs_addr_format(rs_admin_addr(*out), buf, sizeof(buf)));
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
    struct rs_admin *admin;           /* --admin, or NULL: /readyz turns 503 when draining starts */
    struct rs_access_log *access_log; /* NULL: none */
    uint64_t watchdog_ns;            /* check (and ping) interval: half of WATCHDOG_USEC; 0: none */
    const struct bound *bound;       /* what each listener's addresses got */
    struct rs_counter_set *counters; /* the reload block is written here */
    bool handed_over;                /* a reload's new process serves: this one drains */
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
    if (sv->admin)
        rs_admin_set_draining(sv->admin);
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
    struct rs_reload_sock *socks = rs_calloc(
        (size_t)(2 * RS_MAX_ADDRS + RS_MAX_XUDP) * RS_MAX_LISTENERS * sv->n, sizeof(*socks));
    if (!socks) {
        rs_log_error("reload failed: out of memory");
        return;
    }
    unsigned n = 0;
    for (unsigned li = 0; li < o->nlisteners; li++) {
        const struct rs_listener_opts *lo = &o->lst[li];
        const struct rs_addr *bound = sv->bound->addr[li];
        for (unsigned i = 0; i < sv->n; i++) {
            const struct worker_listener *wl = &sv->ws[i].lst[li];
            for (unsigned a = 0; a < 2 * RS_MAX_ADDRS; a++) {
                bool tcp = a < RS_MAX_ADDRS;
                unsigned k = tcp ? a : a - RS_MAX_ADDRS;
                int fd = tcp ? wl->hand_fds[k] : wl->hand_ufds[k];
                if (k >= (tcp ? lo->ntcp : lo->nudp) || fd < 0)
                    continue;
                socks[n].fd = fd;
                rs_fdname_format(tcp ? RS_FD_TCP : RS_FD_UDP, &bound[a], i, socks[n].name,
                                 sizeof(socks[n].name));
                n++;
            }
            for (unsigned k = 0; k < wl->nxudp; k++) {
                const struct extra_udp *x = &wl->xudp[k];
                socks[n].fd = x->hand_fd;
                rs_fdname_format(RS_FD_UDP, &bound[RS_MAX_ADDRS + x->addr], x->worker,
                                 socks[n].name, sizeof(socks[n].name));
                n++;
            }
        }
    }
    int err = rs_sd_reloading(sv->sd, rs_sd_monotonic_usec());
    if (err < 0)
        rs_log_warn("cannot notify systemd (RELOADING=1): %s", strerror(-err));
    err = rs_reload_start(socks, n, RS_RELOAD_READY_MS);
    rs_reload_counts_store(rs_counter_set_block(sv->counters, 0, &rs_reload_counter_block));
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
    rs_reload_counts_store(rs_counter_set_block(sv->counters, 0, &rs_reload_counter_block));
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
        if (sv->admin)
            rs_admin_set_draining(sv->admin);
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

/* Waits for the workers to finish: the first SIGTERM/SIGINT starts the drain (listeners close after
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
        if (sig == SIGUSR1) { /* logrotate's postrotate */
            if (sv->access_log)
                rs_access_log_reopen(sv->access_log);
            continue;
        }
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

/* --access-log: opens the file, starts the logging thread and sets each worker's hook. Each
 * worker's buffer is 4 MiB (RINGSOCK_TEST_ACCESS_LOG_RING=BYTES, for tests: a tiny one drops).
 * NULL after saying why. */
static struct rs_access_log *access_log_start(const struct rs_server_opts *o, struct server *srv,
                                              struct worker *ws, const struct bound *bound)
{
    struct rs_access_log_listener tcp[RS_MAX_LISTENERS * RS_MAX_ADDRS];
    unsigned ntcp = 0;
    uint64_t ring = 4u << 20;
    const char *test_ring = getenv("RINGSOCK_TEST_ACCESS_LOG_RING");
    int err;

    if (test_ring && test_ring[0] && rs_parse_size(test_ring, 64, 1ull << 30, &ring) < 0) {
        rs_log_error("RINGSOCK_TEST_ACCESS_LOG_RING='%s': want a size, 64 to 1g", test_ring);
        return NULL;
    }
    /* In the order each worker's loop numbers its TCP listeners (worker_serve_listener). */
    for (unsigned li = 0; li < o->nlisteners; li++) {
        const struct rs_listener_opts *lo = &o->lst[li];
        for (unsigned a = 0; a < lo->ntcp; a++, ntcp++) {
            rs_addr_format(&bound->addr[li][a], tcp[ntcp].addr, sizeof(tcp[ntcp].addr));
            tcp[ntcp].service = rs_services[lo->service]->name;
            tcp[ntcp].name = o->from_config ? lo->name : NULL;
        }
    }
    struct rs_access_log *al =
        rs_access_log_open(o->access_log, o->threads, ring, tcp, ntcp,
                           rs_services[o->service]->name, srv->counters, &err);
    if (!al) {
        rs_log_error("cannot open --access-log %s: %s", o->access_log, strerror(-err));
        return NULL;
    }
    if ((err = rs_access_log_start(al)) < 0) {
        rs_log_error("cannot start the access log's thread: %s", strerror(-err));
        rs_access_log_close(al);
        return NULL;
    }
    rs_counter_set_activate(srv->counters, &rs_access_log_counter_block);
    for (unsigned i = 0; i < o->threads; i++) {
        ws[i].cfg.conn_end = rs_access_log_conn_end;
        ws[i].cfg.conn_end_arg = rs_access_log_worker(al, i);
    }
    return al;
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
    bool any_udp = false;
    struct startup st = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct server *srv = rs_calloc(1, sizeof(*srv));
    struct bound *bound = rs_calloc(1, sizeof(*bound));
    struct worker *ws = NULL;
    struct worker_arg *args = NULL;
    struct rs_stats_live *live = NULL;
    struct rs_admin *admin = NULL;
    const char *admin_labels[RS_COUNTER_MAX_BLOCKS];
    struct rs_sd sd = {.fd = -1};
    struct rs_access_log *al = NULL;
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
            .relay = lo->relay,
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

    /* systemd: notify socket and watchdog. The heartbeat ticks 4 times per watchdog interval
     * (at most once a second); the watchdog is checked and pinged twice per interval. */
    int sd_err = rs_sd_open(&sd, getenv("NOTIFY_SOCKET"));
    if (sd_err < 0)
        rs_log_warn("NOTIFY_SOCKET: %s; not notifying systemd", strerror(-sd_err));
    uint64_t wd_usec = rs_sd_enabled(&sd) ? rs_sd_watchdog_usec(getenv("WATCHDOG_USEC"),
                                                                getenv("WATCHDOG_PID"), getpid())
                                          : 0;
    if (wd_usec > 86400ull * 1000000) /* a day: pinging twice a day is the same as never */
        wd_usec = 86400ull * 1000000;
    if (wd_usec) {
        srv->heartbeat_ms = wd_usec / 4000;
        srv->heartbeat_ms = srv->heartbeat_ms < 1      ? 1
                            : srv->heartbeat_ms > 1000 ? 1000
                                                       : srv->heartbeat_ms;
    }
    const char *wedge = getenv("RINGSOCK_TEST_WEDGE");
    if (wedge && wedge[0]) {
        if (wedge_parse(wedge, srv) < 0) {
            rs_log_error("RINGSOCK_TEST_WEDGE='%s': want WORKER:AFTER:FOR (1:2s:3s)", wedge);
            goto out_free;
        }
        if (!srv->heartbeat_ms)
            srv->heartbeat_ms = 100;
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
    srv->counters = rs_server_counters_new(o->threads);
    if (!ws || !args || !srv->counters) {
        rs_log_error("out of memory");
        goto out_free;
    }
    /* Active blocks: shown on the worker lines and in --stats. */
    rs_counter_set_activate(srv->counters, &rs_loop_counter_block);
    rs_counter_set_activate(srv->counters, &rs_reload_counter_block); /* any run may reload */
    if (any_udp)
        rs_counter_set_activate(srv->counters, &rs_dgram_counter_block);
    for (unsigned i = 0; i < rs_nservices; i++)
        if (srv->used[i] && rs_services[i]->counters)
            rs_counter_set_activate(srv->counters, rs_services[i]->counters);
    if (items_new(srv) < 0) {
        rs_log_error("out of memory");
        goto out_free;
    }
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
                ws[i].lst[li].fds[a] = ws[i].lst[li].ufds[a] = ws[i].lst[li].hand_fds[a] =
                    ws[i].lst[li].hand_ufds[a] = -1;
        args[i].w = &ws[i];
        args[i].st = &st;
    }
    if (bind_all(o, ws, bound) < 0)
        goto out_close_fds;
    rs_reload_close_unclaimed();
    if (o->loop.max_conns_per_ip && o->threads > 1)
        steer_all(o, ws);
    if (o->access_log[0] && !(al = access_log_start(o, srv, ws, bound)))
        goto out_close_fds;

    /* Workers inherit a mask without SIGINT/SIGTERM/SIGUSR1: only this thread takes them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (admin_start(srv, admin_labels, &admin) < 0)
        goto out_close_fds;

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
    if (ok && o->pid_file[0]) {
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
        if (o->from_config)
            snprintf(status, sizeof(status), "%u listener%s, %u worker%s, backend %s",
                     o->nlisteners, o->nlisteners == 1 ? "" : "s", o->threads,
                     o->threads == 1 ? "" : "s", rs_backend_name((enum rs_backend_kind)kind));
        else
            snprintf(status, sizeof(status), "%s: listening, %u worker%s, backend %s",
                     rs_services[o->service]->name, o->threads, o->threads == 1 ? "" : "s",
                     rs_backend_name((enum rs_backend_kind)kind));
        /* Started by a reload: the old process, still systemd's main pid, says READY=1 with
         * this one's pid once told. */
        int err = rs_reload_is_child() ? 0 : rs_sd_ready(&sd, status);
        if (err < 0)
            rs_log_warn("cannot notify systemd (READY=1): %s", strerror(-err));
        rs_reload_notify_ready();
        if (admin)
            rs_admin_set_ready(admin);
        live = live_start(o, srv->counters);
        struct supervisor sv = {.o = o,
                                .ws = ws,
                                .n = started,
                                .sd = &sd,
                                .admin = admin,
                                .access_log = al,
                                .watchdog_ns = wd_usec * 1000 / 2,
                                .bound = bound,
                                .counters = srv->counters};
        rs_reload_counts_store(rs_counter_set_block(srv->counters, 0, &rs_reload_counter_block));
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
        for (unsigned li = 0; li < o->nlisteners; li++) {
            struct worker_listener *wl = &ws[i].lst[li];
            if (wl->svc)
                rs_services[o->lst[li].service]->worker_free(wl->svc);
            for (unsigned a = 0; a < RS_MAX_ADDRS; a++)
                rs_udp_echo_free(wl->udp[a]);
            for (unsigned k = 0; k < wl->nxudp; k++)
                rs_udp_echo_free(wl->xudp[k].udp);
            rs_rate_table_free(wl->udp_rate);
        }
    }
    rs_admin_stop(admin); /* it reads the counters: stopped before they are freed */
    admin = NULL;
    rs_access_log_close(al); /* every line is written before the totals */
    al = NULL;
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
    if (pid_written) {
        int err = rs_pidfile_remove(o->pid_file, getpid());
        if (err < 0 && err != -ESRCH)
            rs_log_warn("cannot remove --pid-file %s: %s", o->pid_file, strerror(-err));
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
    for (unsigned i = 0; i < o->threads; i++)
        for (unsigned li = 0; li < RS_MAX_LISTENERS; li++)
            for (unsigned k = 0; k < ws[i].lst[li].nxudp; k++)
                if (ws[i].lst[li].xudp[k].fd >= 0)
                    close(ws[i].lst[li].xudp[k].fd);
out_free:
    rs_admin_stop(admin);
    rs_access_log_close(al);
    rs_stats_live_free(live);
    if (srv) {
        rs_counter_set_free(srv->counters);
        for (unsigned li = 0; li < RS_MAX_LISTENERS; li++) {
            rs_free(srv->body_file[li]);
            rs_counter_lset_free(srv->items[li]);
        }
    }
    rs_free(args);
    rs_free(ws);
    rs_free(bound);
    rs_free(srv);
    rs_sd_close(&sd);
    return rc;
}
