/*
 * streamcheck: integration-test client for ringsock.
 *
 * A single-threaded TCP client that multiplexes non-blocking sockets with poll(). Every byte
 * it sends comes from a pseudo-random stream that is a pure function of (seed, connection
 * index, offset), so the reader regenerates what it expects instead of remembering what it
 * sent. Only libc is used; it talks to any echo or discard server on a literal address.
 *
 * Exit status: 0 success, 1 verification failure, 2 usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SC_EXIT_OK    0
#define SC_EXIT_FAIL  1
#define SC_EXIT_USAGE 2

#define SC_KIB               1024ULL
#define SC_MIB               (1024ULL * 1024ULL)
#define SC_READ_MAX          (256U * 1024U) /* largest single recv() */
#define SC_REPORTS_PER_KIND  5              /* failure lines printed per kind */
#define SC_IO_BATCH          8              /* syscalls per socket per poll turn */
#define SC_POLL_SLICE_MS     50             /* poll() never sleeps longer, so timers stay honest */
#define SC_RESET_STALL_S     0.2 /* reset: abort a connection whose send stalls this long */
#define SC_CONNECT_TIMEOUT_S 5.0 /* hold: time allowed for all connects to settle */
#define SC_HOLD_MSG_LEN      16

enum sc_mode { SC_MODE_STREAM, SC_MODE_HALFCLOSE, SC_MODE_RESET, SC_MODE_NOREAD, SC_MODE_HOLD };

#define SC_M(m) (1U << (m))
#define SC_M_ALL                                                                                   \
    (SC_M(SC_MODE_STREAM) | SC_M(SC_MODE_HALFCLOSE) | SC_M(SC_MODE_RESET) | SC_M(SC_MODE_NOREAD) | \
     SC_M(SC_MODE_HOLD))
#define SC_M_DATA (SC_M_ALL & ~SC_M(SC_MODE_HOLD))

static const char *const sc_mode_names[] = {
    [SC_MODE_STREAM] = "stream", [SC_MODE_HALFCLOSE] = "halfclose", [SC_MODE_RESET] = "reset",
    [SC_MODE_NOREAD] = "noread", [SC_MODE_HOLD] = "hold",
};

struct sc_opts {
    enum sc_mode mode;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint64_t count;     /* connections in total */
    uint64_t parallel;  /* connections open at once */
    uint64_t bytes;     /* bytes per connection (reset: the largest amount) */
    uint64_t min_bytes; /* reset: the smallest amount */
    uint64_t max_write; /* largest single send() */
    uint64_t seed;
    uint64_t min_echoed; /* hold: fewer echoed connections is a failure */
    int sndbuf;          /* 0 leaves the kernel default */
    int rcvbuf;
    bool discard;        /* expect the server to send nothing back */
    bool mix;            /* reset: a third each abort, close or finish gracefully */
    double timeout;      /* overall deadline, excluding a requested pause */
    double stall;        /* noread: seconds without send progress that count as stalled */
    double pause;        /* noread: seconds to wait at the stall point */
    double hold;         /* hold: seconds to keep connections idle */
    double echo_timeout; /* hold: per-connection deadline for the echo round trip */
    const char *go_file; /* noread, hold: stop waiting once this path exists */
};

/* ---- failure reporting ------------------------------------------------------------------ */

enum sc_fail_kind {
    SC_FAIL_CONNECT,
    SC_FAIL_MISMATCH,
    SC_FAIL_EXTRA,
    SC_FAIL_SHORT,
    SC_FAIL_SEND,
    SC_FAIL_RECV,
    SC_FAIL_TIMEOUT,
    SC_FAIL_UNEXPECTED,
    SC_FAIL_NOSTALL,
    SC_FAIL_ECHO,
    SC_FAIL_SYSTEM,
    SC_FAIL_KINDS
};

static const char *const sc_fail_names[SC_FAIL_KINDS] = {
    [SC_FAIL_CONNECT] = "connect",  [SC_FAIL_MISMATCH] = "mismatch",
    [SC_FAIL_EXTRA] = "extra",      [SC_FAIL_SHORT] = "short",
    [SC_FAIL_SEND] = "send",        [SC_FAIL_RECV] = "recv",
    [SC_FAIL_TIMEOUT] = "timeout",  [SC_FAIL_UNEXPECTED] = "unexpected-data",
    [SC_FAIL_NOSTALL] = "no-stall", [SC_FAIL_ECHO] = "echo",
    [SC_FAIL_SYSTEM] = "system",
};

/* Failure counts of the one run this process performs. */
static uint64_t sc_fail_counts[SC_FAIL_KINDS];

__attribute__((format(printf, 2, 3))) static void sc_fail(enum sc_fail_kind kind, const char *fmt,
                                                          ...)
{
    uint64_t n = ++sc_fail_counts[kind];

    if (n > SC_REPORTS_PER_KIND)
        return;
    fprintf(stderr, "streamcheck: FAIL %s: ", sc_fail_names[kind]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (n == SC_REPORTS_PER_KIND)
        fprintf(stderr, " (further %s failures not shown)", sc_fail_names[kind]);
    fputc('\n', stderr);
}

static uint64_t sc_fail_total(void)
{
    uint64_t total = 0;

    for (int k = 0; k < SC_FAIL_KINDS; k++)
        total += sc_fail_counts[k];
    return total;
}

/* Prints the one-line failure tally; returns the exit status for the run. */
static int sc_fail_summary(enum sc_mode mode)
{
    if (sc_fail_total() == 0)
        return SC_EXIT_OK;
    fprintf(stderr, "streamcheck: %s FAILED:", sc_mode_names[mode]);
    for (int k = 0; k < SC_FAIL_KINDS; k++) {
        if (sc_fail_counts[k])
            fprintf(stderr, " %s=%" PRIu64, sc_fail_names[k], sc_fail_counts[k]);
    }
    fputc('\n', stderr);
    return SC_EXIT_FAIL;
}

/* ---- time, randomness and the reproducible byte stream ---------------------------------- */

static double sc_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64 finaliser: a bijective 64-bit mix. */
static uint64_t sc_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t sc_stream_key(uint64_t seed, uint64_t idx)
{
    return sc_mix64(seed ^ sc_mix64(idx ^ 0x6a09e667f3bcc908ULL));
}

/* Writes bytes [off, off + len) of the stream named by key into buf. */
static void sc_stream_fill(uint64_t key, uint64_t off, unsigned char *buf, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint64_t pos = off + i;
        uint64_t word = sc_mix64(key ^ ((pos >> 3) * 0xd1342543de82ef95ULL));
        for (unsigned shift = (unsigned)(pos & 7) * 8; shift < 64 && i < len; shift += 8)
            buf[i++] = (unsigned char)(word >> shift);
    }
}

/* xorshift64*: drives write sizes and per-connection choices, never the payload. */
static uint64_t sc_rng_next(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t sc_rng_below(uint64_t *state, uint64_t n)
{
    return n ? sc_rng_next(state) % n : 0;
}

/* A size in [1, max], log-uniform in magnitude so single bytes and full-size writes both occur. */
static uint64_t sc_rng_size(uint64_t *state, uint64_t max)
{
    if (max <= 1)
        return 1;
    unsigned bits = 63U - (unsigned)__builtin_clzll(max);
    unsigned k = (unsigned)sc_rng_below(state, bits + 1ULL);
    uint64_t hi = k >= bits ? max : 1ULL << k;
    return 1 + sc_rng_below(state, hi);
}

/* ---- sockets ----------------------------------------------------------------------------- */

/* Opens a non-blocking socket and starts connecting; *fd_out is set on 0 or -EINPROGRESS. */
static int sc_socket_connect(const struct sc_opts *o, int *fd_out)
{
    int err;
    int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    if (o->sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf, sizeof(o->sndbuf)))
        goto out_close_fd;
    if (o->rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof(o->rcvbuf)))
        goto out_close_fd;
    if (connect(fd, (const struct sockaddr *)&o->addr, o->addrlen) == 0) {
        *fd_out = fd;
        return 0;
    }
    if (errno == EINPROGRESS) {
        *fd_out = fd;
        return -EINPROGRESS;
    }
out_close_fd:
    err = -errno;
    close(fd);
    return err;
}

/* Returns the pending error of a socket whose non-blocking connect finished: 0 or -errno. */
static int sc_socket_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
        return -errno;
    return -err;
}

/* Closes so that the kernel sends RST instead of FIN, discarding unsent data. */
static void sc_socket_abort(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

static bool sc_path_exists(const char *path)
{
    struct stat st;

    return path && stat(path, &st) == 0;
}

/* Sleeps until go_file exists or max_s seconds pass; returns the seconds waited. */
static double sc_wait_go(const char *go_file, double max_s)
{
    double start = sc_now();

    while (!sc_path_exists(go_file)) {
        double left = start + max_s - sc_now();
        if (left <= 0)
            break;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
        if (left < 0.05)
            ts.tv_nsec = (long)(left * 1e9);
        nanosleep(&ts, NULL);
    }
    return sc_now() - start;
}

/* ---- the data engine: stream, halfclose, reset and noread -------------------------------- */

enum sc_conn_state { SC_CONN_FREE, SC_CONN_CONNECTING, SC_CONN_OPEN };

/* How a reset-mode connection ends: RST (SO_LINGER {1,0}), a plain close() at a random point
 * (FIN, or RST from the kernel if echoed bytes were left unread), or gracefully as in stream
 * mode (shut the write side, read the whole echo, expect EOF). */
enum sc_conn_end { SC_END_ABORT, SC_END_CLOSE, SC_END_GRACEFUL };

struct sc_conn {
    int fd;
    enum sc_conn_state state;
    enum sc_conn_end end;
    uint64_t idx;
    uint64_t key;    /* names this connection's byte stream */
    uint64_t rng;    /* write sizes and reset choices */
    uint64_t target; /* bytes to send in total */
    uint64_t sent;
    uint64_t chunk_start; /* the current write covers [chunk_start, chunk_end) */
    uint64_t chunk_end;
    uint64_t recvd;
    uint64_t read_limit;  /* stop reading after this many bytes */
    double last_send;     /* time of the last send progress */
    double last_progress; /* time of the last send or receive progress */
    bool reading;         /* this connection reads at all */
    bool wr_shut;
    unsigned char *chunk; /* holds the current write until the kernel took all of it */
};

struct sc_engine {
    const struct sc_opts *o;
    struct sc_conn *slots;
    struct pollfd *pfds;
    size_t *pfd_slot;
    unsigned char *rbuf; /* received bytes */
    unsigned char *xbuf; /* expected bytes */
    uint64_t next_idx;
    uint64_t active;
    uint64_t finished;
    uint64_t connected;
    uint64_t aborted;     /* reset: connections closed with RST */
    uint64_t closed;      /* reset --mix: connections closed with close() at a random point */
    uint64_t graceful;    /* reset --mix: connections that got their whole echo and EOF */
    uint64_t peer_closed; /* reset: connections the server closed or reset first */
    uint64_t total_sent;
    uint64_t total_recvd;
    uint64_t stalled_at; /* noread: bytes sent when the stall was seen */
    double deadline;
    bool reading_enabled; /* false during noread's first phase */
};

static void sc_conn_release(struct sc_engine *e, struct sc_conn *c, bool abort_rst)
{
    if (abort_rst)
        sc_socket_abort(c->fd);
    else
        close(c->fd);
    free(c->chunk);
    c->chunk = NULL;
    c->fd = -1;
    c->state = SC_CONN_FREE;
    e->active--;
    e->finished++;
}

/* A reset-mode connection that ends early on purpose (not one finishing gracefully): errors and
 * EOF are expected of it, not failures. */
static bool sc_conn_abortive(const struct sc_engine *e, const struct sc_conn *c)
{
    return e->o->mode == SC_MODE_RESET && c->end != SC_END_GRACEFUL;
}

/* Starts connection number e->next_idx in slot c; failures are reported and counted done. */
static void sc_conn_start(struct sc_engine *e, struct sc_conn *c)
{
    const struct sc_opts *o = e->o;
    uint64_t idx = e->next_idx++;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->idx = idx;
    c->key = sc_stream_key(o->seed, idx);
    c->rng = sc_mix64(c->key ^ 0x3c6ef372fe94f82bULL) | 1;
    c->target = o->bytes;
    c->read_limit = UINT64_MAX;
    c->reading = true;
    if (o->mode == SC_MODE_RESET) {
        /* Amount in [min_bytes, bytes], log-uniform; read all, part or none of the echo. */
        c->target = o->min_bytes - 1 + sc_rng_size(&c->rng, o->bytes - o->min_bytes + 1);
        c->end = o->mix ? (enum sc_conn_end)sc_rng_below(&c->rng, 3) : SC_END_ABORT;
        switch (c->end == SC_END_GRACEFUL ? 2 : sc_rng_below(&c->rng, 3)) {
        case 0:
            c->reading = false;
            break;
        case 1:
            c->read_limit = sc_rng_below(&c->rng, c->target + 1);
            break;
        default:
            c->read_limit = c->target;
            break;
        }
        if (c->end == SC_END_GRACEFUL)
            c->read_limit = UINT64_MAX; /* on to the EOF that follows the whole echo */
    }

    int err = sc_socket_connect(o, &c->fd);
    if (err && err != -EINPROGRESS) {
        sc_fail(SC_FAIL_CONNECT, "conn %" PRIu64 ": %s", idx, strerror(-err));
        e->finished++;
        return;
    }
    c->state = err ? SC_CONN_CONNECTING : SC_CONN_OPEN;
    c->last_send = sc_now();
    c->last_progress = c->last_send;
    e->active++;
    if (!err)
        e->connected++;
}

/* Sends until the kernel pushes back; returns 0 or -errno (the connection has failed). */
static int sc_conn_send(struct sc_engine *e, struct sc_conn *c)
{
    const struct sc_opts *o = e->o;

    for (int i = 0; i < SC_IO_BATCH; i++) {
        if (c->sent == c->target) {
            if (!sc_conn_abortive(e, c) && !c->wr_shut) {
                if (shutdown(c->fd, SHUT_WR)) {
                    int err = -errno;
                    sc_fail(SC_FAIL_SEND, "conn %" PRIu64 ": shutdown: %s", c->idx, strerror(-err));
                    return err;
                }
                c->wr_shut = true;
            }
            return 0;
        }
        if (c->sent == c->chunk_end) {
            uint64_t len = sc_rng_size(&c->rng, o->max_write);
            if (len > c->target - c->sent)
                len = c->target - c->sent;
            if (!c->chunk) {
                c->chunk = malloc(o->max_write);
                if (!c->chunk) {
                    sc_fail(SC_FAIL_SYSTEM, "out of memory");
                    return -ENOMEM;
                }
            }
            c->chunk_start = c->sent;
            c->chunk_end = c->sent + len;
            sc_stream_fill(c->key, c->chunk_start, c->chunk, (size_t)len);
        }
        size_t off = (size_t)(c->sent - c->chunk_start);
        ssize_t n = send(c->fd, c->chunk + off, (size_t)(c->chunk_end - c->sent), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            int err = -errno;
            if (sc_conn_abortive(e, c))
                return err;
            sc_fail(SC_FAIL_SEND, "conn %" PRIu64 ": %s after %" PRIu64 " of %" PRIu64 " bytes",
                    c->idx, strerror(-err), c->sent, c->target);
            return err;
        }
        c->sent += (uint64_t)n;
        e->total_sent += (uint64_t)n;
        c->last_send = sc_now();
        c->last_progress = c->last_send;
    }
    return 0;
}

/* Checks received bytes against the stream; returns 0 or -EBADMSG. */
static int sc_conn_verify(struct sc_engine *e, struct sc_conn *c, size_t n)
{
    if (e->o->discard) {
        sc_fail(SC_FAIL_UNEXPECTED,
                "conn %" PRIu64 ": %zu bytes received at offset %" PRIu64 " from a discard server",
                c->idx, n, c->recvd);
        return -EBADMSG;
    }
    if (c->recvd + n > c->sent) {
        sc_fail(SC_FAIL_EXTRA,
                "conn %" PRIu64 ": echo reached offset %" PRIu64 " but only %" PRIu64
                " bytes were sent",
                c->idx, c->recvd + n, c->sent);
        return -EBADMSG;
    }
    sc_stream_fill(c->key, c->recvd, e->xbuf, n);
    if (memcmp(e->rbuf, e->xbuf, n) == 0)
        return 0;
    size_t at = 0;
    while (e->rbuf[at] == e->xbuf[at])
        at++;
    sc_fail(SC_FAIL_MISMATCH,
            "conn %" PRIu64 ": byte offset %" PRIu64 ": got 0x%02x, expected 0x%02x", c->idx,
            c->recvd + at, e->rbuf[at], e->xbuf[at]);
    return -EBADMSG;
}

/*
 * Reads until the kernel has nothing more. Returns 0 while the connection goes on, 1 when it
 * ended as expected (EOF after the full echo), or -errno when it failed.
 */
static int sc_conn_recv(struct sc_engine *e, struct sc_conn *c)
{
    const struct sc_opts *o = e->o;

    for (int i = 0; i < SC_IO_BATCH; i++) {
        uint64_t want = sc_rng_size(&c->rng, SC_READ_MAX);
        if (c->read_limit - c->recvd < want)
            want = c->read_limit - c->recvd;
        if (want == 0)
            return 0;
        ssize_t n = recv(c->fd, e->rbuf, (size_t)want, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            int err = -errno;
            if (sc_conn_abortive(e, c))
                return err;
            sc_fail(SC_FAIL_RECV,
                    "conn %" PRIu64 ": %s after %" PRIu64 " bytes echoed (%" PRIu64 " sent)",
                    c->idx, strerror(-err), c->recvd, c->sent);
            return err;
        }
        if (n == 0) {
            uint64_t expect = o->discard ? 0 : c->target;
            if (sc_conn_abortive(e, c))
                return -ECONNRESET;
            if (!c->wr_shut || c->recvd != expect) {
                sc_fail(SC_FAIL_SHORT,
                        "conn %" PRIu64 ": EOF after %" PRIu64 " of %" PRIu64 " bytes (%" PRIu64
                        " sent)",
                        c->idx, c->recvd, expect, c->sent);
                return -EPIPE;
            }
            return 1;
        }
        int err = sc_conn_verify(e, c, (size_t)n);
        if (err)
            return err;
        c->recvd += (uint64_t)n;
        e->total_recvd += (uint64_t)n;
        c->last_progress = sc_now();
    }
    return 0;
}

static bool sc_conn_wants_send(const struct sc_engine *e, const struct sc_conn *c)
{
    return c->sent < c->target || (!sc_conn_abortive(e, c) && !c->wr_shut);
}

static bool sc_conn_wants_recv(const struct sc_engine *e, const struct sc_conn *c)
{
    return e->reading_enabled && c->reading && c->recvd < c->read_limit;
}

/* Handles poll results for one connection. */
static void sc_conn_event(struct sc_engine *e, struct sc_conn *c, short revents)
{
    const bool reset_mode = sc_conn_abortive(e, c);

    if (c->state == SC_CONN_CONNECTING) {
        int err = sc_socket_error(c->fd);
        if (err) {
            sc_fail(SC_FAIL_CONNECT, "conn %" PRIu64 ": %s", c->idx, strerror(-err));
            sc_conn_release(e, c, false);
            return;
        }
        c->state = SC_CONN_OPEN;
        c->last_send = sc_now();
        c->last_progress = c->last_send;
        e->connected++;
    }

    int rc = 0;
    if (sc_conn_wants_recv(e, c) && (revents & (POLLIN | POLLERR | POLLHUP)))
        rc = sc_conn_recv(e, c);
    if (rc == 0 && sc_conn_wants_send(e, c) && (revents & (POLLOUT | POLLERR | POLLHUP)))
        rc = sc_conn_send(e, c);
    if (rc == 0 && !sc_conn_wants_recv(e, c) && !sc_conn_wants_send(e, c) &&
        (revents & (POLLERR | POLLHUP)) && !reset_mode && e->reading_enabled) {
        sc_fail(SC_FAIL_RECV, "conn %" PRIu64 ": hang-up: %s", c->idx,
                strerror(-sc_socket_error(c->fd)));
        rc = -EPIPE;
    }

    if (reset_mode) {
        if (rc < 0) {
            e->peer_closed++;
            sc_conn_release(e, c, false);
        } else if (c->sent == c->target && !sc_conn_wants_recv(e, c)) {
            if (c->end == SC_END_ABORT)
                e->aborted++;
            else
                e->closed++;
            sc_conn_release(e, c, c->end == SC_END_ABORT);
        }
        return;
    }
    if (rc == 1 && c->end == SC_END_GRACEFUL)
        e->graceful++;
    if (rc != 0)
        sc_conn_release(e, c, false);
}

/* Per-connection timers: reset aborts connections that stopped making progress. */
static void sc_engine_timers(struct sc_engine *e, double now)
{
    if (e->o->mode != SC_MODE_RESET)
        return;
    for (uint64_t s = 0; s < e->o->parallel; s++) {
        struct sc_conn *c = &e->slots[s];
        if (c->state == SC_CONN_OPEN && sc_conn_abortive(e, c) &&
            now - c->last_progress >= SC_RESET_STALL_S) {
            e->aborted++;
            sc_conn_release(e, c, true);
        }
    }
}

/* noread: ends the no-read phase once every connection's sending stalls (or everything went
 * out); the stall point is the bytes sent by all of them. */
static void sc_engine_noread_check(struct sc_engine *e, double now)
{
    uint64_t sent = 0, done = 0;

    if (e->reading_enabled)
        return;
    for (uint64_t s = 0; s < e->o->parallel; s++) {
        const struct sc_conn *c = &e->slots[s];
        if (c->state != SC_CONN_OPEN)
            return; /* still connecting */
        if (c->sent == c->target)
            done++;
        else if (now - c->last_send < e->o->stall)
            return;
        sent += c->sent;
    }
    e->stalled_at = sent;
    if (done == e->o->parallel) {
        printf("noread: never stalled, all %" PRIu64 " bytes sent\n", sent);
        sc_fail(SC_FAIL_NOSTALL,
                "sent all %" PRIu64 " bytes without the server "
                "pushing back",
                sent);
    } else {
        printf("noread: stalled after %" PRIu64 " bytes sent\n", sent);
    }
    fflush(stdout);
    double max_wait = e->o->pause;
    if (max_wait <= 0 && e->o->go_file)
        max_wait = e->deadline - now;
    e->deadline += sc_wait_go(e->o->go_file, max_wait);
    e->reading_enabled = true;
    for (uint64_t s = 0; s < e->o->parallel; s++)
        e->slots[s].last_send = sc_now();
}

static void sc_engine_timeout(struct sc_engine *e)
{
    for (uint64_t s = 0; s < e->o->parallel; s++) {
        struct sc_conn *c = &e->slots[s];
        if (c->state == SC_CONN_FREE)
            continue;
        sc_fail(SC_FAIL_TIMEOUT,
                "conn %" PRIu64 ": %s, sent %" PRIu64 " of %" PRIu64 ", echoed %" PRIu64 "%s",
                c->idx, c->state == SC_CONN_CONNECTING ? "still connecting" : "open", c->sent,
                c->target, c->recvd, c->wr_shut ? ", write side shut" : "");
        sc_conn_release(e, c, sc_conn_abortive(e, c));
    }
    if (e->next_idx < e->o->count)
        sc_fail(SC_FAIL_TIMEOUT, "%" PRIu64 " connections never started",
                e->o->count - e->next_idx);
}

/* Runs one of the data sub-commands to completion or deadline; returns 0 or -errno. */
static int sc_engine_run(struct sc_engine *e)
{
    const struct sc_opts *o = e->o;
    double start = sc_now();

    e->deadline = start + o->timeout;
    e->reading_enabled = o->mode != SC_MODE_NOREAD;
    while (e->finished < o->count) {
        for (uint64_t s = 0; s < o->parallel && e->next_idx < o->count; s++) {
            if (e->slots[s].state == SC_CONN_FREE)
                sc_conn_start(e, &e->slots[s]);
        }
        double now = sc_now();
        if (o->mode == SC_MODE_NOREAD)
            sc_engine_noread_check(e, now);
        sc_engine_timers(e, now);
        if (now >= e->deadline) {
            sc_fail(SC_FAIL_TIMEOUT, "deadline of %.1f s passed", o->timeout);
            sc_engine_timeout(e);
            break;
        }

        nfds_t nfds = 0;
        for (uint64_t s = 0; s < o->parallel; s++) {
            struct sc_conn *c = &e->slots[s];
            if (c->state == SC_CONN_FREE)
                continue;
            short events = 0;
            if (c->state == SC_CONN_CONNECTING || sc_conn_wants_send(e, c))
                events |= POLLOUT;
            if (c->state == SC_CONN_OPEN && sc_conn_wants_recv(e, c))
                events |= POLLIN;
            e->pfds[nfds] = (struct pollfd){.fd = c->fd, .events = events};
            e->pfd_slot[nfds++] = (size_t)s;
        }
        if (nfds == 0)
            continue;
        double left_ms = (e->deadline - now) * 1000.0;
        int wait_ms = left_ms < SC_POLL_SLICE_MS ? (int)left_ms + 1 : SC_POLL_SLICE_MS;
        int n = poll(e->pfds, nfds, wait_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = -errno;
            sc_fail(SC_FAIL_SYSTEM, "poll: %s", strerror(-err));
            return err;
        }
        for (nfds_t i = 0; i < nfds && n > 0; i++) {
            if (!e->pfds[i].revents)
                continue;
            n--;
            sc_conn_event(e, &e->slots[e->pfd_slot[i]], e->pfds[i].revents);
        }
    }
    return 0;
}

static int sc_data_main(const struct sc_opts *o)
{
    struct sc_engine e = {.o = o};
    int rc = SC_EXIT_FAIL;
    bool oom = true;

    e.slots = calloc(o->parallel, sizeof(*e.slots));
    if (!e.slots)
        goto out_no_memory;
    e.pfds = calloc(o->parallel, sizeof(*e.pfds));
    if (!e.pfds)
        goto out_free_slots;
    e.pfd_slot = calloc(o->parallel, sizeof(*e.pfd_slot));
    if (!e.pfd_slot)
        goto out_free_pfds;
    e.rbuf = malloc(SC_READ_MAX);
    if (!e.rbuf)
        goto out_free_pfd_slot;
    e.xbuf = malloc(SC_READ_MAX);
    if (!e.xbuf)
        goto out_free_rbuf;
    oom = false;

    double start = sc_now();
    sc_engine_run(&e);
    double secs = sc_now() - start;
    for (uint64_t s = 0; s < o->parallel; s++) {
        if (e.slots[s].state != SC_CONN_FREE)
            sc_conn_release(&e, &e.slots[s], false);
    }

    rc = sc_fail_summary(o->mode);
    if (rc == SC_EXIT_OK) {
        switch (o->mode) {
        case SC_MODE_RESET:
            printf("reset: ok conns=%" PRIu64 " connected=%" PRIu64 " aborted=%" PRIu64
                   " closed=%" PRIu64 " graceful=%" PRIu64 " peer_closed=%" PRIu64
                   " bytes_sent=%" PRIu64 " bytes_echoed=%" PRIu64 " seconds=%.3f\n",
                   o->count, e.connected, e.aborted, e.closed, e.graceful, e.peer_closed,
                   e.total_sent, e.total_recvd, secs);
            break;
        case SC_MODE_NOREAD:
            printf("noread: ok bytes=%" PRIu64 " echoed=%" PRIu64 " stalled_at=%" PRIu64
                   " seconds=%.3f\n",
                   e.total_sent, e.total_recvd, e.stalled_at, secs);
            break;
        default:
            printf("%s: ok conns=%" PRIu64 " bytes_sent=%" PRIu64 " bytes_echoed=%" PRIu64
                   " seconds=%.3f\n",
                   sc_mode_names[o->mode], o->count, e.total_sent, e.total_recvd, secs);
            break;
        }
    }
    free(e.xbuf);
out_free_rbuf:
    free(e.rbuf);
out_free_pfd_slot:
    free(e.pfd_slot);
out_free_pfds:
    free(e.pfds);
out_free_slots:
    free(e.slots);
    if (oom)
        fprintf(stderr, "streamcheck: out of memory\n");
    return rc;
out_no_memory:
    fprintf(stderr, "streamcheck: out of memory\n");
    return SC_EXIT_FAIL;
}

/* ---- hold: idle connections, then one echo round trip each ------------------------------- */

struct sc_hold_conn {
    int fd;
    bool connected;
    bool finished;
    size_t got;
    double deadline;
    char msg[SC_HOLD_MSG_LEN];
    char buf[SC_HOLD_MSG_LEN];
};

struct sc_hold_tally {
    uint64_t connected, echoed, closed, timed_out;
};

/* Opens every connection and waits (bounded) for the handshakes to settle. */
static void sc_hold_connect(const struct sc_opts *o, struct sc_hold_conn *hc, struct pollfd *pfds,
                            struct sc_hold_tally *t)
{
    double deadline =
        sc_now() + (o->timeout < SC_CONNECT_TIMEOUT_S ? o->timeout : SC_CONNECT_TIMEOUT_S);
    uint64_t pending = 0;

    for (uint64_t i = 0; i < o->count; i++) {
        int err = sc_socket_connect(o, &hc[i].fd);
        if (err == 0) {
            hc[i].connected = true;
            t->connected++;
        } else if (err == -EINPROGRESS) {
            pending++;
        } else {
            hc[i].fd = -1;
            sc_fail(SC_FAIL_CONNECT, "conn %" PRIu64 ": %s", i, strerror(-err));
        }
    }
    while (pending > 0 && sc_now() < deadline) {
        nfds_t nfds = 0;
        for (uint64_t i = 0; i < o->count; i++) {
            if (hc[i].fd >= 0 && !hc[i].connected)
                pfds[nfds++] = (struct pollfd){.fd = hc[i].fd, .events = POLLOUT};
        }
        if (poll(pfds, nfds, SC_POLL_SLICE_MS) <= 0)
            continue;
        nfds = 0;
        for (uint64_t i = 0; i < o->count; i++) {
            if (hc[i].fd < 0 || hc[i].connected)
                continue;
            short rev = pfds[nfds++].revents;
            if (!rev)
                continue;
            pending--;
            int err = sc_socket_error(hc[i].fd);
            if (err) {
                sc_fail(SC_FAIL_CONNECT, "conn %" PRIu64 ": %s", i, strerror(-err));
                close(hc[i].fd);
                hc[i].fd = -1;
            } else {
                hc[i].connected = true;
                t->connected++;
            }
        }
    }
}

/* Sends each connected socket a distinct message and waits for its echo until its deadline. */
static void sc_hold_echo(const struct sc_opts *o, struct sc_hold_conn *hc, struct pollfd *pfds,
                         struct sc_hold_tally *t)
{
    uint64_t pending = 0;
    double last_deadline = 0;

    for (uint64_t i = 0; i < o->count; i++) {
        if (!hc[i].connected)
            continue;
        snprintf(hc[i].msg, sizeof(hc[i].msg), "hold %09" PRIu64 "\n", (uint64_t)(i % 1000000000U));
        ssize_t n = send(hc[i].fd, hc[i].msg, SC_HOLD_MSG_LEN, MSG_NOSIGNAL);
        if (n != SC_HOLD_MSG_LEN) {
            /* The server reset or closed it while held: not an echo, not a timeout. */
            hc[i].finished = true;
            t->closed++;
            continue;
        }
        hc[i].deadline = sc_now() + o->echo_timeout;
        last_deadline = hc[i].deadline;
        pending++;
    }
    while (pending > 0 && sc_now() < last_deadline) {
        nfds_t nfds = 0;
        double now = sc_now();
        for (uint64_t i = 0; i < o->count; i++) {
            if (!hc[i].connected || hc[i].finished)
                continue;
            if (now >= hc[i].deadline) {
                hc[i].finished = true;
                t->timed_out++;
                pending--;
                continue;
            }
            pfds[nfds++] = (struct pollfd){.fd = hc[i].fd, .events = POLLIN};
        }
        if (nfds == 0 || poll(pfds, nfds, SC_POLL_SLICE_MS) <= 0)
            continue;
        nfds = 0;
        for (uint64_t i = 0; i < o->count; i++) {
            struct sc_hold_conn *h = &hc[i];
            if (!h->connected || h->finished)
                continue;
            if (!pfds[nfds++].revents)
                continue;
            ssize_t n = recv(h->fd, h->buf + h->got, SC_HOLD_MSG_LEN - h->got, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n <= 0) {
                h->finished = true;
                t->closed++;
                pending--;
                continue;
            }
            h->got += (size_t)n;
            if (h->got < SC_HOLD_MSG_LEN)
                continue;
            h->finished = true;
            pending--;
            if (memcmp(h->buf, h->msg, SC_HOLD_MSG_LEN) == 0)
                t->echoed++;
            else
                sc_fail(SC_FAIL_MISMATCH, "conn %" PRIu64 ": echo differs from what was sent", i);
        }
    }
    for (uint64_t i = 0; i < o->count; i++) {
        if (hc[i].connected && !hc[i].finished) {
            hc[i].finished = true;
            t->timed_out++;
        }
    }
}

static int sc_hold_main(const struct sc_opts *o)
{
    struct sc_hold_tally t = {0};
    struct sc_hold_conn *hc = calloc(o->count, sizeof(*hc));
    struct pollfd *pfds = calloc(o->count, sizeof(*pfds));

    if (!hc || !pfds) {
        fprintf(stderr, "streamcheck: out of memory\n");
        free(pfds);
        free(hc);
        return SC_EXIT_FAIL;
    }
    double start = sc_now();
    sc_hold_connect(o, hc, pfds, &t);
    printf("hold: connected=%" PRIu64 " holding\n", t.connected);
    fflush(stdout);
    sc_wait_go(o->go_file, o->hold);
    sc_hold_echo(o, hc, pfds, &t);
    printf("hold: connected=%" PRIu64 " echoed=%" PRIu64 " closed=%" PRIu64 " timed_out=%" PRIu64
           " seconds=%.3f\n",
           t.connected, t.echoed, t.closed, t.timed_out, sc_now() - start);
    fflush(stdout);
    for (uint64_t i = 0; i < o->count; i++) {
        if (hc[i].fd >= 0)
            close(hc[i].fd);
    }
    free(pfds);
    free(hc);
    if (t.echoed < o->min_echoed)
        sc_fail(SC_FAIL_ECHO, "%" PRIu64 " connections echoed, at least %" PRIu64 " required",
                t.echoed, o->min_echoed);
    return sc_fail_summary(o->mode);
}

/* ---- command line ------------------------------------------------------------------------ */

static void sc_usage(FILE *f)
{
    fputs("usage: streamcheck COMMAND [OPTIONS] HOST PORT\n"
          "\n"
          "Test client for TCP echo and discard servers. HOST is an IPv4 or IPv6 literal\n"
          "(brackets optional). Payload bytes are a reproducible function of (seed, connection\n"
          "index, offset); every echoed byte is checked. SIZE takes k/K, m/M, g/G suffixes\n"
          "(binary). Exit status: 0 ok, 1 verification failure, 2 usage error.\n"
          "\n"
          "Commands:\n"
          "  stream     open --count connections at once; each sends --bytes in random-sized\n"
          "             writes (1 byte .. --max-write) while reading the echo, then shuts down\n"
          "             its write side and expects exactly --bytes back followed by EOF\n"
          "             (with --expect-discard: EOF and nothing back)\n"
          "  halfclose  one connection: send exactly --bytes (0 allowed), shut down the write\n"
          "             side, expect exactly those bytes back, then EOF\n"
          "  reset      --count connections, --parallel at a time; each sends a log-uniform\n"
          "             random amount in [--min-bytes, --bytes], reads all, part or none of\n"
          "             the echo, then closes with SO_LINGER {1,0} so the kernel sends RST.\n"
          "             Succeeds if every connect succeeded and every byte read was right.\n"
          "             With --mix a third each end that way, with a plain close() at a\n"
          "             random point, or gracefully (full echo and EOF, checked)\n"
          "  noread     --count connections (default 1) each send --bytes without reading\n"
          "             until none has made send progress for --stall seconds; prints\n"
          "             'noread: stalled after N bytes sent' (N: all connections),\n"
          "             waits for --go-file or --pause, then sends the rest while reading and\n"
          "             verifies the whole echo and EOF\n"
          "  hold       open --count connections and send nothing; prints\n"
          "             'hold: connected=N holding' once connects settle (at most 5 s;\n"
          "             a connection the server has not accepted yet still counts), then\n"
          "             waits --hold seconds or until --go-file exists; then each connection\n"
          "             sends 16 bytes and waits --echo-timeout for them to come back; prints\n"
          "             'hold: connected=N echoed=M closed=C timed_out=T seconds=S' where\n"
          "             closed = the server closed or reset it, timed_out = no echo in time\n"
          "             (typically: never accepted). Fails if echoed < --min-echoed\n"
          "\n"
          "Options (command in brackets where limited):\n"
          "  --count N          connections [stream 200, reset 3000, hold 100, noread 1]\n"
          "  --parallel N       connections open at once [stream = count, reset 200]\n"
          "  --bytes SIZE       bytes per connection [stream 1M, halfclose 64K, noread 64M,\n"
          "                     reset: largest amount 1M]\n"
          "  --min-bytes SIZE   reset: smallest amount per connection [4K]\n"
          "  --mix              reset: also plain closes and graceful ends (see reset)\n"
          "  --max-write SIZE   largest single send() [256K]\n"
          "  --sndbuf SIZE      set SO_SNDBUF on client sockets (forces partial I/O)\n"
          "  --rcvbuf SIZE      set SO_RCVBUF on client sockets\n"
          "  --seed N           payload and write-size seed [1]\n"
          "  --timeout SECONDS  overall deadline; exceeding it is a failure [60, noread 120]\n"
          "  --expect-echo      the server echoes everything (default)\n"
          "  --expect-discard   the server sends nothing back [stream, halfclose]\n"
          "  --stall SECONDS    noread: no send progress for this long counts as stalled [2]\n"
          "  --pause SECONDS    noread: wait this long at the stall point [0]\n"
          "  --go-file PATH     noread, hold: stop waiting as soon as PATH exists\n"
          "  --hold SECONDS     hold: longest time to keep connections idle [10]\n"
          "  --echo-timeout S   hold: per-connection echo deadline [2]\n"
          "  --min-echoed N     hold: fewest echoed connections that count as success [1]\n"
          "  -h, --help         show this help\n",
          f);
}

enum sc_opt_kind { SC_OPT_U64, SC_OPT_SIZE, SC_OPT_SECS, SC_OPT_PATH, SC_OPT_FLAG };

struct sc_opt_def {
    const char *name;
    enum sc_opt_kind kind;
    unsigned modes;
    size_t offset;
    bool value; /* SC_OPT_FLAG: the value stored */
};

#define SC_OFF(field) offsetof(struct sc_opts, field)

static const struct sc_opt_def sc_opt_defs[] = {
    {"--count", SC_OPT_U64,
     SC_M(SC_MODE_STREAM) | SC_M(SC_MODE_RESET) | SC_M(SC_MODE_HOLD) | SC_M(SC_MODE_NOREAD),
     SC_OFF(count), false},
    {"--parallel", SC_OPT_U64, SC_M(SC_MODE_STREAM) | SC_M(SC_MODE_RESET), SC_OFF(parallel), false},
    {"--bytes", SC_OPT_SIZE, SC_M_DATA, SC_OFF(bytes), false},
    {"--min-bytes", SC_OPT_SIZE, SC_M(SC_MODE_RESET), SC_OFF(min_bytes), false},
    {"--mix", SC_OPT_FLAG, SC_M(SC_MODE_RESET), SC_OFF(mix), true},
    {"--max-write", SC_OPT_SIZE, SC_M_DATA, SC_OFF(max_write), false},
    {"--sndbuf", SC_OPT_SIZE, SC_M_ALL, SC_OFF(sndbuf), false},
    {"--rcvbuf", SC_OPT_SIZE, SC_M_ALL, SC_OFF(rcvbuf), false},
    {"--seed", SC_OPT_U64, SC_M_DATA, SC_OFF(seed), false},
    {"--timeout", SC_OPT_SECS, SC_M_ALL, SC_OFF(timeout), false},
    {"--expect-echo", SC_OPT_FLAG, SC_M(SC_MODE_STREAM) | SC_M(SC_MODE_HALFCLOSE), SC_OFF(discard),
     false},
    {"--expect-discard", SC_OPT_FLAG, SC_M(SC_MODE_STREAM) | SC_M(SC_MODE_HALFCLOSE),
     SC_OFF(discard), true},
    {"--stall", SC_OPT_SECS, SC_M(SC_MODE_NOREAD), SC_OFF(stall), false},
    {"--pause", SC_OPT_SECS, SC_M(SC_MODE_NOREAD), SC_OFF(pause), false},
    {"--go-file", SC_OPT_PATH, SC_M(SC_MODE_NOREAD) | SC_M(SC_MODE_HOLD), SC_OFF(go_file), false},
    {"--hold", SC_OPT_SECS, SC_M(SC_MODE_HOLD), SC_OFF(hold), false},
    {"--echo-timeout", SC_OPT_SECS, SC_M(SC_MODE_HOLD), SC_OFF(echo_timeout), false},
    {"--min-echoed", SC_OPT_U64, SC_M(SC_MODE_HOLD), SC_OFF(min_echoed), false},
};

/* Parses a decimal count with an optional binary suffix; returns 0 or -EINVAL/-ERANGE. */
static int sc_parse_u64(const char *s, bool suffixes, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return errno == ERANGE ? -ERANGE : -EINVAL;
    unsigned shift = 0;
    if (suffixes && *end) {
        switch (*end) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            return -EINVAL;
        }
        end++;
    }
    if (*end)
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -ERANGE;
    *out = (uint64_t)v << shift;
    return 0;
}

static int sc_parse_secs(const char *s, double *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0 || v > 86400.0)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Fills o->addr from an IPv4 or IPv6 literal (brackets allowed) and a port. */
static int sc_parse_addr(const char *host, const char *port_s, struct sc_opts *o)
{
    char buf[INET6_ADDRSTRLEN + 2];
    uint64_t port;
    size_t len = strlen(host);

    if (sc_parse_u64(port_s, false, &port) || port == 0 || port > 65535)
        return -EINVAL;
    if (len >= sizeof(buf))
        return -EINVAL;
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
    } else {
        memcpy(buf, host, len + 1);
    }
    memset(&o->addr, 0, sizeof(o->addr));
    struct sockaddr_in *sin = (struct sockaddr_in *)&o->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&o->addr;
    if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        o->addrlen = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        o->addrlen = sizeof(*sin6);
        return 0;
    }
    return -EINVAL;
}

static void sc_opts_defaults(struct sc_opts *o)
{
    o->count = 200;
    o->bytes = SC_MIB;
    o->min_bytes = 4 * SC_KIB;
    o->max_write = 256 * SC_KIB;
    o->seed = 1;
    o->timeout = 60;
    o->stall = 2;
    o->hold = 10;
    o->echo_timeout = 2;
    o->min_echoed = 1;
    switch (o->mode) {
    case SC_MODE_HALFCLOSE:
        o->count = 1;
        o->bytes = 64 * SC_KIB;
        break;
    case SC_MODE_RESET:
        o->count = 3000;
        o->parallel = 200;
        break;
    case SC_MODE_NOREAD:
        o->count = 1;
        o->bytes = 64 * SC_MIB;
        o->timeout = 120;
        break;
    case SC_MODE_HOLD:
        o->count = 100;
        break;
    case SC_MODE_STREAM:
        break;
    }
}

__attribute__((format(printf, 1, 2))) static int sc_usage_error(const char *fmt, ...)
{
    fputs("streamcheck: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see streamcheck --help)\n", stderr);
    return -EINVAL;
}

/* Stores one option value; returns 0 or -EINVAL after printing why. */
static int sc_opt_store(const struct sc_opt_def *d, const char *val, struct sc_opts *o)
{
    char *field = (char *)o + d->offset;
    uint64_t u;

    switch (d->kind) {
    case SC_OPT_FLAG:
        *(bool *)field = d->value;
        return 0;
    case SC_OPT_PATH:
        if (!val || !*val)
            return sc_usage_error("%s needs a path", d->name);
        *(const char **)field = val;
        return 0;
    case SC_OPT_SECS:
        if (sc_parse_secs(val, (double *)field))
            return sc_usage_error("%s needs seconds (0..86400), got '%s'", d->name, val ? val : "");
        return 0;
    case SC_OPT_U64:
    case SC_OPT_SIZE:
        if (sc_parse_u64(val, d->kind == SC_OPT_SIZE, &u))
            return sc_usage_error("%s needs a %s, got '%s'", d->name,
                                  d->kind == SC_OPT_SIZE ? "size" : "number", val ? val : "");
        if (d->offset == SC_OFF(sndbuf) || d->offset == SC_OFF(rcvbuf)) {
            if (u > INT_MAX)
                return sc_usage_error("%s is too large", d->name);
            *(int *)field = (int)u;
        } else {
            *(uint64_t *)field = u;
        }
        return 0;
    }
    return -EINVAL;
}

/* Parses argv into o; returns 0, 1 for --help, or -EINVAL (already reported). */
static int sc_opts_parse(int argc, char **argv, struct sc_opts *o)
{
    const char *pos[2];
    int npos = 0;
    bool have_parallel = false;

    if (argc < 2)
        return sc_usage_error("missing command");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
        return 1;
    int m;
    for (m = 0; m <= SC_MODE_HOLD; m++) {
        if (!strcmp(argv[1], sc_mode_names[m]))
            break;
    }
    if (m > SC_MODE_HOLD)
        return sc_usage_error("unknown command '%s'", argv[1]);
    o->mode = (enum sc_mode)m;
    sc_opts_defaults(o);

    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help"))
            return 1;
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (npos == 2)
                return sc_usage_error("unexpected argument '%s'", arg);
            pos[npos++] = arg;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const struct sc_opt_def *d = NULL;
        for (size_t k = 0; k < sizeof(sc_opt_defs) / sizeof(sc_opt_defs[0]); k++) {
            if (strlen(sc_opt_defs[k].name) == name_len &&
                !strncmp(sc_opt_defs[k].name, arg, name_len)) {
                d = &sc_opt_defs[k];
                break;
            }
        }
        if (!d)
            return sc_usage_error("unknown option '%.*s'", (int)name_len, arg);
        if (!(d->modes & SC_M(o->mode)))
            return sc_usage_error("%s does not apply to %s", d->name, sc_mode_names[o->mode]);
        const char *val = NULL;
        if (d->kind == SC_OPT_FLAG) {
            if (eq)
                return sc_usage_error("%s takes no value", d->name);
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return sc_usage_error("%s needs a value", d->name);
        }
        if (sc_opt_store(d, val, o))
            return -EINVAL;
        if (d->offset == SC_OFF(parallel))
            have_parallel = true;
    }

    if (npos != 2)
        return sc_usage_error("expected HOST PORT");
    if (sc_parse_addr(pos[0], pos[1], o))
        return sc_usage_error("bad address '%s' port '%s' (need an IP literal and 1..65535)",
                              pos[0], pos[1]);
    if (o->count == 0)
        return sc_usage_error("--count must be at least 1");
    if (!have_parallel && o->mode != SC_MODE_RESET)
        o->parallel = o->count;
    if (o->parallel == 0 || o->parallel > o->count)
        o->parallel = o->count;
    if (o->max_write == 0 || o->max_write > SIZE_MAX / 2)
        return sc_usage_error("--max-write must be at least 1");
    if (o->mode == SC_MODE_RESET && (o->min_bytes == 0 || o->min_bytes > o->bytes))
        return sc_usage_error("reset needs 1 <= --min-bytes <= --bytes");
    if (o->mode == SC_MODE_NOREAD && o->bytes == 0)
        return sc_usage_error("noread needs --bytes of at least 1");
    if (o->timeout <= 0)
        return sc_usage_error("--timeout must be positive");
    return 0;
}

int main(int argc, char **argv)
{
    struct sc_opts o = {0};

    signal(SIGPIPE, SIG_IGN);
    int rc = sc_opts_parse(argc, argv, &o);
    if (rc == 1) {
        sc_usage(stdout);
        return SC_EXIT_OK;
    }
    if (rc < 0)
        return SC_EXIT_USAGE;
    if (o.mode == SC_MODE_HOLD)
        return sc_hold_main(&o);
    return sc_data_main(&o);
}
