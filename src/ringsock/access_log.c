/* --access-log: per-worker rings, one logging thread, reopen on SIGUSR1 (access_log.h). */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "ringsock/net/addr.h"
#include "ringsock/util/access_line.h"
#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "ringsock/util/spsc.h"

#define ACCESS_LOG_COUNTERS(X)                                                                     \
    X(access_log_lines, COUNTER, 0, "access-log lines buffered for the logging thread")            \
    X(access_log_dropped, COUNTER, 0, "access-log lines dropped: the worker's buffer was full")
RS_COUNTER_STRUCT(access_log_counters, ACCESS_LOG_COUNTERS);
static const struct rs_counter_desc access_log_desc[] = {ACCESS_LOG_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct access_log_counters, access_log_desc);
const struct rs_counter_block rs_access_log_counter_block =
    RS_COUNTER_BLOCK("access_log", struct access_log_counters, access_log_desc, NULL, 0);

#define DRAIN_MS 100
#define LINE_MAX 1024

struct al_worker {
    struct rs_spsc ring; /* the worker produces, the logging thread consumes */
    struct rs_access_log *al;
    struct access_log_counters *ctr;
} __attribute__((aligned(64)));

struct rs_access_log {
    char *path; /* NULL: stdout */
    int fd;
    int wake_fd; /* eventfd: stop or reopen asked for */
    unsigned n;
    struct al_worker *w;
    struct rs_access_log_listener tcp[256]; /* every TCP listener of every [listener] */
    unsigned ntcp;
    const char *udp_service;
    pthread_t tid;
    bool started;
    _Atomic bool stop;
    _Atomic bool reopen;
    bool write_failed; /* logging thread: a write error was reported */
};

static int open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    return fd < 0 ? -errno : fd;
}

struct rs_access_log *rs_access_log_open(const char *path, unsigned nworkers, size_t ring_bytes,
                                         const struct rs_access_log_listener *tcp, unsigned ntcp,
                                         const char *udp_service, struct rs_counter_set *ctrs,
                                         int *err)
{
    struct rs_access_log *al = rs_calloc(1, sizeof(*al));
    if (!al) {
        *err = -ENOMEM;
        return NULL;
    }
    al->fd = al->wake_fd = -1;
    if (ntcp > sizeof(al->tcp) / sizeof(al->tcp[0])) {
        *err = -E2BIG;
        goto out_free;
    }
    memcpy(al->tcp, tcp, ntcp * sizeof(*tcp));
    al->ntcp = ntcp;
    al->udp_service = udp_service;
    if (strcmp(path, "-") == 0) {
        al->fd = STDOUT_FILENO;
    } else {
        al->path = rs_malloc(strlen(path) + 1);
        if (!al->path) {
            *err = -ENOMEM;
            goto out_free;
        }
        strcpy(al->path, path);
        if ((al->fd = open_file(path)) < 0) {
            *err = al->fd;
            goto out_free;
        }
    }
    al->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (al->wake_fd < 0) {
        *err = -errno;
        goto out_close;
    }
    al->w = rs_aligned_alloc(64, nworkers * sizeof(*al->w));
    if (!al->w) {
        *err = -ENOMEM;
        goto out_close;
    }
    memset(al->w, 0, nworkers * sizeof(*al->w));
    for (; al->n < nworkers; al->n++) {
        struct al_worker *w = &al->w[al->n];
        if ((*err = rs_spsc_init(&w->ring, ring_bytes)) < 0)
            goto out_rings;
        w->al = al;
        w->ctr = (struct access_log_counters *)rs_counter_set_block(ctrs, al->n,
                                                                    &rs_access_log_counter_block);
    }
    return al;

out_rings:
    for (unsigned i = 0; i < al->n; i++)
        rs_spsc_fini(&al->w[i].ring);
    rs_free(al->w);
out_close:
    if (al->wake_fd >= 0)
        close(al->wake_fd);
    if (al->path && al->fd >= 0)
        close(al->fd);
out_free:
    rs_free(al->path);
    rs_free(al);
    return NULL;
}

/* Writes all of iov (short writes resumed); false on an error, which is reported once. */
static bool write_all(struct rs_access_log *al, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t n = writev(al->fd, iov, cnt);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (!al->write_failed)
                rs_log_warn("access log: cannot write: %s (lines are lost until a reopen)",
                            strerror(errno));
            al->write_failed = true;
            return false;
        }
        while (cnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return true;
}

/* Writes what every worker's ring holds (whole lines only: workers push whole lines). */
static void drain_all(struct rs_access_log *al)
{
    for (unsigned i = 0; i < al->n; i++) {
        struct rs_spsc *r = &al->w[i].ring;
        const char *p1, *p2;
        size_t n1, n2;
        size_t n = rs_spsc_peek(r, &p1, &n1, &p2, &n2);
        if (n == 0)
            continue;
        struct iovec iov[2] = {{(void *)p1, n1}, {(void *)p2, n2}};
        write_all(al, iov, n2 ? 2 : 1);
        rs_spsc_consume(r, n);
    }
}

static void reopen_file(struct rs_access_log *al)
{
    if (!al->path)
        return; /* stdout: nothing to reopen */
    int fd = open_file(al->path);
    if (fd < 0) {
        rs_log_warn("access log: cannot reopen %s: %s; writing on to the old file", al->path,
                    strerror(-fd));
        return;
    }
    close(al->fd);
    al->fd = fd;
    al->write_failed = false;
}

static void *log_main(void *arg)
{
    struct rs_access_log *al = arg;
    pthread_setname_np(pthread_self(), "ringsock-log");
    for (;;) {
        struct pollfd pfd = {.fd = al->wake_fd, .events = POLLIN};
        poll(&pfd, 1, DRAIN_MS);
        uint64_t v;
        if (read(al->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
            rs_log_warn("access log: eventfd: %s", strerror(errno));
        bool stop = atomic_load_explicit(&al->stop, memory_order_acquire);
        /* Lines buffered before the reopen go to the old file, the rest to the new one. */
        drain_all(al);
        if (atomic_exchange_explicit(&al->reopen, false, memory_order_acq_rel))
            reopen_file(al);
        if (stop)
            break;
    }
    drain_all(al); /* the workers are done: this is everything */
    return NULL;
}

int rs_access_log_start(struct rs_access_log *al)
{
    /* The thread takes no signals: SIGTERM or SIGUSR1 delivered to it would kill the process
     * instead of reaching the main thread's sigtimedwait. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int err = pthread_create(&al->tid, NULL, log_main, al);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err)
        return -err;
    al->started = true;
    return 0;
}

static void wake(struct rs_access_log *al)
{
    uint64_t one = 1;
    if (write(al->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        rs_log_warn("access log: eventfd: %s", strerror(errno));
}

void rs_access_log_reopen(struct rs_access_log *al)
{
    atomic_store_explicit(&al->reopen, true, memory_order_release);
    wake(al);
}

void rs_access_log_close(struct rs_access_log *al)
{
    if (!al)
        return;
    if (al->started) {
        atomic_store_explicit(&al->stop, true, memory_order_release);
        wake(al);
        pthread_join(al->tid, NULL);
    } else {
        drain_all(al);
    }
    for (unsigned i = 0; i < al->n; i++)
        rs_spsc_fini(&al->w[i].ring);
    rs_free(al->w);
    close(al->wake_fd);
    if (al->path)
        close(al->fd);
    rs_free(al->path);
    rs_free(al);
}

void *rs_access_log_worker(struct rs_access_log *al, unsigned i)
{
    return &al->w[i];
}

static int64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The worker's side: formats the line into its ring, or counts it dropped. Never waits. */
void rs_access_log_conn_end(const struct rs_conn_end *e, void *arg)
{
    struct al_worker *w = arg;
    const struct rs_access_log *al = w->al;
    char line[LINE_MAX], laddr[RS_ADDR_STRLEN], client[RS_ADDR_STRLEN], up[RS_ADDR_STRLEN];
    struct rs_access_rec r = {
        .time_ms = realtime_ms(),
        .proto = e->udp ? "udp" : "tcp",
        .bytes_in = e->bytes_in,
        .bytes_out = e->bytes_out,
        .duration_ns = e->end_ns > e->start_ns ? e->end_ns - e->start_ns : 0,
        .reason = rs_close_reason_name(e->reason),
        .error = e->err ? strerrorname_np(-e->err) : NULL,
        .client = e->client ? rs_addr_format(e->client, client, sizeof(client)) : NULL,
        .upstream = e->upstream ? rs_addr_format(e->upstream, up, sizeof(up)) : NULL,
    };
    if (e->udp) {
        r.listener = e->local ? rs_addr_format(e->local, laddr, sizeof(laddr)) : NULL;
        r.service = al->udp_service;
    } else if (e->listener >= 0 && (unsigned)e->listener < al->ntcp) {
        r.listener = al->tcp[e->listener].addr;
        r.listener_name = al->tcp[e->listener].name;
        r.service = al->tcp[e->listener].service;
    }
    size_t n = rs_access_line_format(line, sizeof(line), &r);
    if (n > 0 && rs_spsc_push(&w->ring, line, n))
        RS_STAT_INC(w->ctr, access_log_lines);
    else
        RS_STAT_INC(w->ctr, access_log_dropped);
}
