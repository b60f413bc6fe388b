/* pumpcheck BACKEND: a two-sided service on the loop API (what the relay will be), on real
 * sockets over loopback. Connection A (from client X, which writes a pseudo-random stream as
 * fast as it can) is pumped into connection B (to client Y, which reads nothing for a while).
 * The service stops reading A whenever B is full (rs_conn_full) and starts it again on B's
 * on_drain. Checks: A was stopped and resumed; what A delivered after a stop and B's queue
 * stayed within the bounds loop.h gives (the cap, plus what the kernel had already handed over
 * when A stopped: nothing with epoll, one receive with one-shot io_uring, one batch of provided
 * buffers with multishot); on_drain never ran inside rs_conn_send; every byte arrived at Y, in
 * order; both closed without error. The loop also holds more listeners
 * than the old limit of 64. BACKEND is io_uring, io_uring-oneshot or epoll; exit 77 when the
 * kernel has no io_uring. */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringsock/core/loop.h"
#include "ringsock/net/addr.h"
#include "ringsock/net/net.h"

#define TOTAL      (16u << 20)  /* bytes X sends */
#define CAP        (64u << 10)  /* write-queue cap */
#define SNDBUF     (128u << 10) /* SO_SNDBUF of the loop's sockets: above two loopback segments */
#define BUF_SIZE   16384u
#define BUF_COUNT  64u
#define LISTENERS  70     /* more than the old RS_MAX_LISTENERS */
#define SINK_SLEEP 300000 /* us Y waits before reading */

static struct pump {
    struct rs_loop *loop;
    struct rs_conn *a, *b;
    bool a_waiting;       /* A arrived before B: stopped until B exists */
    bool a_stopped;       /* stopped because B is full */
    bool in_send;         /* inside rs_conn_send(B): on_drain must not run */
    size_t max_queued;    /* the most B ever held */
    size_t stopped_bytes; /* bytes A delivered since its last stop */
    size_t max_stopped;   /* the most A delivered while stopped, in one stop */
    unsigned stops, drains, reentrant;
    uint64_t pumped;
    int a_err, b_err, failures;
    _Atomic bool a_accepted; /* read by the main thread: Y connects only after A is in */
} g = {.a_err = 1, .b_err = 1};

static void fail(const char *what)
{
    fprintf(stderr, "pumpcheck: FAIL: %s\n", what);
    g.failures++;
}

/* The stream X writes and Y checks: xorshift64, 8 bytes per step. */
struct gen {
    uint64_t s;
    unsigned char buf[8];
    unsigned pos;
};

static unsigned char gen_next(struct gen *gn)
{
    if (gn->pos == 8) {
        gn->s ^= gn->s << 13;
        gn->s ^= gn->s >> 7;
        gn->s ^= gn->s << 17;
        memcpy(gn->buf, &gn->s, 8);
        gn->pos = 0;
    }
    return gn->buf[gn->pos++];
}

static void a_data(struct rs_conn *c, const void *data, size_t len)
{
    (void)c;
    if (!g.b) {
        fail("data from A with no B");
        return;
    }
    if (g.a_stopped)
        g.stopped_bytes += len; /* received before the stop took effect */
    g.in_send = true;
    int err = rs_conn_send(g.b, data, len);
    g.in_send = false;
    if (err < 0) {
        fail("rs_conn_send to B");
        return;
    }
    g.pumped += len;
    size_t q = rs_conn_queued(g.b);
    if (q > g.max_queued)
        g.max_queued = q;
    if (rs_conn_full(g.b) && !g.a_stopped) {
        g.a_stopped = true;
        g.stopped_bytes = 0;
        g.stops++;
        rs_conn_read_stop(g.a);
    }
}

static void a_eof(struct rs_conn *c)
{
    if (g.b)
        rs_conn_close_after_flush(g.b); /* Y gets everything, then EOF */
    rs_conn_close_after_flush(c);
}

static void a_close(struct rs_conn *c, int err)
{
    (void)c;
    g.a_err = err;
    g.a = NULL;
}

static void b_data(struct rs_conn *c, const void *data, size_t len)
{
    (void)c;
    (void)data;
    (void)len;
    fail("Y sent data");
}

static void b_eof(struct rs_conn *c)
{
    (void)c; /* Y shuts down only after reading everything */
}

static void b_drain(struct rs_conn *c)
{
    (void)c;
    if (g.in_send)
        g.reentrant++;
    g.drains++;
    if (g.a_stopped && g.a) {
        if (g.stopped_bytes > g.max_stopped)
            g.max_stopped = g.stopped_bytes;
        g.a_stopped = false;
        rs_conn_read_start(g.a);
    }
}

static void b_close(struct rs_conn *c, int err)
{
    (void)c;
    g.b_err = err;
    g.b = NULL;
    if (g.a)
        rs_conn_close(g.a); /* nothing to pump into any more */
    rs_loop_request_stop(g.loop, 2000);
}

static const struct rs_conn_ops a_ops = {.on_data = a_data, .on_eof = a_eof, .on_close = a_close};
static const struct rs_conn_ops b_ops = {
    .on_data = b_data, .on_eof = b_eof, .on_close = b_close, .on_drain = b_drain};

static void accept_a(struct rs_conn *c, void *arg)
{
    (void)arg;
    if (g.a) {
        rs_conn_close(c);
        return;
    }
    g.a = c;
    rs_conn_set_ops(c, &a_ops, NULL);
    atomic_store(&g.a_accepted, true);
    if (!g.b) {
        g.a_waiting = true;
        rs_conn_read_stop(c); /* before its first receive is even armed */
    }
}

static void accept_b(struct rs_conn *c, void *arg)
{
    (void)arg;
    if (g.b) {
        rs_conn_close(c);
        return;
    }
    g.b = c;
    rs_conn_set_ops(c, &b_ops, NULL);
    if (g.a_waiting && g.a) {
        g.a_waiting = false;
        rs_conn_read_start(g.a);
    }
}

static void accept_other(struct rs_conn *c, void *arg)
{
    (void)arg;
    rs_conn_close(c);
    fail("a connection on a spare listener");
}

static int connect_to(int port)
{
    struct rs_addr a;
    char s[32];
    snprintf(s, sizeof(s), "127.0.0.1:%d", port);
    if (rs_addr_parse(s, &a) < 0)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)&a.ss, a.len) < 0) {
        perror("pumpcheck: connect");
        exit(1);
    }
    return fd;
}

struct client {
    int port;
    _Atomic uint64_t bytes;
    _Atomic int ok;
};

/* X: writes TOTAL bytes of the stream, then FIN, then waits for A to close. */
static void *run_x(void *arg)
{
    struct client *cl = arg;
    int fd = connect_to(cl->port);
    struct gen gn = {.s = 0x9e3779b97f4a7c15ull, .pos = 8};
    unsigned char buf[65536];
    uint64_t sent = 0;
    while (sent < TOTAL) {
        size_t n = TOTAL - sent < sizeof(buf) ? TOTAL - sent : sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = gen_next(&gn);
        for (size_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
            if (w < 0) {
                perror("pumpcheck: X send");
                close(fd);
                return NULL;
            }
            off += (size_t)w;
        }
        sent += n;
        atomic_store(&cl->bytes, sent);
    }
    shutdown(fd, SHUT_WR);
    char b;
    while (recv(fd, &b, 1, 0) > 0)
        ;
    close(fd);
    atomic_store(&cl->ok, 1);
    return NULL;
}

/* Y: reads nothing for a while (B fills, A stops), then everything, checking each byte. */
static void *run_y(void *arg)
{
    struct client *cl = arg;
    int fd = connect_to(cl->port);
    usleep(SINK_SLEEP);
    struct gen gn = {.s = 0x9e3779b97f4a7c15ull, .pos = 8};
    unsigned char buf[65536];
    uint64_t got = 0;
    int ok = 1;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n && ok; i++)
            if (buf[i] != gen_next(&gn)) {
                fprintf(stderr, "pumpcheck: Y: byte %llu differs\n",
                        (unsigned long long)(got + (uint64_t)i));
                ok = 0;
            }
        got += (uint64_t)n;
    }
    close(fd);
    atomic_store(&cl->bytes, got);
    atomic_store(&cl->ok, ok && got == TOTAL);
    return NULL;
}

/* Starts X, and Y once A is in, so A waits stopped for B (the loop runs on the main thread:
 * a loop is used by the thread that made it, as io_uring's SINGLE_ISSUER wants). */
static void *run_clients(void *arg)
{
    struct client *cl = arg; /* X, then Y */
    pthread_t tx, ty;
    pthread_create(&tx, NULL, run_x, &cl[0]);
    for (int i = 0; i < 5000 && !atomic_load(&g.a_accepted); i++)
        usleep(1000);
    pthread_create(&ty, NULL, run_y, &cl[1]);
    pthread_join(tx, NULL);
    pthread_join(ty, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    struct rs_loop_config cfg;
    static struct rs_stats st;
    char why[256] = "";
    int err;

    if (argc != 2) {
        fprintf(stderr, "usage: pumpcheck io_uring|io_uring-oneshot|epoll\n");
        return 2;
    }
    rs_loop_config_default(&cfg);
    const char *be = argv[1];
    if (strcmp(be, "io_uring-oneshot") == 0) {
        cfg.uring_no_multishot = true;
        be = "io_uring";
    }
    enum rs_backend_kind want;
    if (rs_backend_parse(be, &want) < 0 || want == RS_BACKEND_AUTO) {
        fprintf(stderr, "pumpcheck: unknown backend %s\n", argv[1]);
        return 2;
    }
    int kind = rs_backend_choose(want, why, sizeof(why));
    if (kind < 0) {
        printf("pumpcheck: SKIP: %s unavailable: %s\n", argv[1], why[0] ? why : strerror(-kind));
        return 77;
    }
    cfg.backend = (enum rs_backend_kind)kind;
    cfg.write_queue = CAP;
    cfg.buf_size = BUF_SIZE;
    cfg.buf_count = BUF_COUNT;
    cfg.sndbuf = SNDBUF; /* smaller buffers stall loopback TCP (64K segments dropped, RTO) */
    alarm(60);

    g.loop = rs_loop_new(&cfg, &st, &err);
    if (!g.loop) {
        fprintf(stderr, "pumpcheck: rs_loop_new: %s\n", strerror(-err));
        return 1;
    }
    struct rs_addr any;
    rs_addr_parse("127.0.0.1:0", &any);
    int port_a = 0, port_b = 0;
    for (int i = 0; i < LISTENERS; i++) {
        int fd = rs_net_listen_tcp(&any, 16);
        struct rs_addr bound;
        if (fd < 0 || rs_net_local_addr(fd, &bound) < 0) {
            fprintf(stderr, "pumpcheck: listen: %s\n", strerror(fd < 0 ? -fd : errno));
            return 1;
        }
        rs_accept_fn fn = i == 0 ? accept_a : i == LISTENERS - 1 ? accept_b : accept_other;
        if ((err = rs_loop_listen(g.loop, fd, fn, NULL)) < 0) {
            fprintf(stderr, "pumpcheck: rs_loop_listen #%d: %s\n", i + 1, strerror(-err));
            return 1;
        }
        if (i == 0)
            port_a = rs_addr_port(&bound);
        if (i == LISTENERS - 1)
            port_b = rs_addr_port(&bound);
    }

    struct client cl[2] = {{.port = port_a}, {.port = port_b}};
    struct client *x = &cl[0], *y = &cl[1];
    pthread_t tc;
    pthread_create(&tc, NULL, run_clients, cl);
    err = rs_loop_run(g.loop);
    pthread_join(tc, NULL);
    rs_loop_free(g.loop);

    /* What may arrive after a stop (see rs_conn_read_stop): nothing with epoll, the receive in
     * flight with one-shot io_uring, and with multishot what the completions of the batch
     * being handled carry: at most the provided buffers, which go back to the kernel only
     * after the batch. */
    size_t slack = cfg.backend == RS_BACKEND_EPOLL ? 0
                   : cfg.uring_no_multishot        ? BUF_SIZE
                                                   : BUF_COUNT * BUF_SIZE;
    if (g.a_stopped && g.stopped_bytes > g.max_stopped)
        g.max_stopped = g.stopped_bytes; /* a last stop that no drain ended */
    printf("pumpcheck %s: %llu bytes pumped, %u stops, %u drains, B held at most %zu (cap %u), "
           "A delivered at most %zu while stopped; Y got %llu\n",
           argv[1], (unsigned long long)g.pumped, g.stops, g.drains, g.max_queued, CAP,
           g.max_stopped, (unsigned long long)atomic_load(&y->bytes));
    if (err < 0)
        fail("rs_loop_run");
    if (!atomic_load(&y->ok))
        fail("Y did not get every byte in order");
    if (!atomic_load(&x->ok))
        fail("X did not finish");
    if (g.pumped != TOTAL)
        fail("not every byte was pumped");
    if (g.stops == 0 || g.drains == 0)
        fail("A was never stopped and resumed: Y's pause did not fill B");
    if (g.reentrant)
        fail("on_drain ran inside rs_conn_send");
    if (g.max_queued > CAP + BUF_SIZE + slack) /* + the receive that crossed the cap */
        fail("B's queue went past the cap by more than what was already received");
    if (g.max_stopped > slack)
        fail("A delivered too much after rs_conn_read_stop");
    if (g.a_err != 0 || g.b_err != 0)
        fail("a connection closed with an error");
    return g.failures ? 1 : 0;
}
