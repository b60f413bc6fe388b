/*
 * starvecheck: one firehose beside many busy ping-pong connections, against an echo server.
 *
 *   starvecheck [--conns N] [--seconds S] [--max-gap-ms MS] [--msg B] HOST PORT
 *
 * One thread keeps N connections (default 400) always busy: each keeps D (1) B-byte messages
 * (32) in flight, sending the next as soon as an echo is whole, so the server always has ready
 * sockets. The main thread runs the firehose: one connection that writes a pseudo-random stream as
 * fast as the server takes it and reads its echo, checking every byte. Once every ping-pong
 * connection has had an answer, the firehose's progress is watched for S seconds (default 3): the
 * ping-pong connections must keep being answered, and the longest time without a new echoed byte
 * is reported (with --max-gap-ms, it must stay under MS). An epoll server whose deferred reads
 * wait for a short event array stalls the firehose; on a machine shared with other work the gap
 * is scheduler noise as much as the server's, so epoll_starve.sh judges the server by its
 * pending_wait_max counter (in loop turns) instead and sets no gap limit.
 *
 * Prints one line, "starve: firehose_bytes=N max_gap_ms=G rounds=R", and exits 0 on success, 1
 * on a failed check, 2 on a usage or set-up error. Only libc and its threads are used.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SC_MAX_CONNS 4096
#define SC_MAX_MSG   4096
#define SC_CHUNK     (64 * 1024)

struct sc_opts {
    struct sockaddr_in addr;
    unsigned conns;
    double seconds;
    double max_gap_ms; /* 0: no limit, the gap is only reported */
    unsigned msg;
    unsigned depth; /* ping-pong messages in flight per connection */
};

struct sc_pp {
    int fd;
    unsigned got; /* bytes of the current echo */
};

static _Atomic bool sc_stop;
static _Atomic unsigned sc_answered; /* ping-pong connections answered at least once */
static _Atomic uint64_t sc_rounds;
static _Atomic int sc_pp_err; /* errno of a failed ping-pong connection, or 0 */

static double sc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Byte i of the firehose stream. */
static unsigned char sc_byte(uint64_t i)
{
    uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return (unsigned char)(x >> ((i & 7) * 8));
}

static int sc_connect(const struct sc_opts *o)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void *sc_pingpong_main(void *arg)
{
    const struct sc_opts *o = arg;
    struct sc_pp *pp = calloc(o->conns, sizeof(*pp));
    struct epoll_event ev[256];
    char msg[SC_MAX_MSG], buf[SC_MAX_MSG];
    bool *answered = calloc(o->conns, sizeof(*answered));
    int ep = epoll_create1(EPOLL_CLOEXEC);

    memset(msg, 'p', sizeof(msg));
    if (!pp || !answered || ep < 0) {
        atomic_store(&sc_pp_err, ENOMEM);
        goto out;
    }
    for (unsigned i = 0; i < o->conns; i++)
        pp[i].fd = -1;
    for (unsigned i = 0; i < o->conns; i++) {
        int fd = sc_connect(o);
        if (fd < 0) {
            atomic_store(&sc_pp_err, -fd);
            goto out;
        }
        pp[i].fd = fd;
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0 ||
            send(fd, msg, o->msg * o->depth, 0) != (ssize_t)(o->msg * o->depth)) {
            atomic_store(&sc_pp_err, errno);
            goto out;
        }
    }
    while (!atomic_load_explicit(&sc_stop, memory_order_relaxed)) {
        int n = epoll_wait(ep, ev, 256, 50);
        for (int k = 0; k < n; k++) {
            struct sc_pp *c = &pp[ev[k].data.u32];
            ssize_t r = recv(c->fd, buf, o->msg - c->got, MSG_DONTWAIT);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                atomic_store(&sc_pp_err, r == 0 ? ECONNRESET : errno);
                goto out;
            }
            c->got += (unsigned)r;
            if (c->got < o->msg)
                continue;
            c->got = 0;
            if (!answered[ev[k].data.u32]) {
                answered[ev[k].data.u32] = true;
                atomic_fetch_add(&sc_answered, 1);
            }
            atomic_fetch_add_explicit(&sc_rounds, 1, memory_order_relaxed);
            if (send(c->fd, msg, o->msg, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)o->msg) {
                atomic_store(&sc_pp_err, errno);
                goto out;
            }
        }
    }
out:
    for (unsigned i = 0; pp && i < o->conns; i++)
        if (pp[i].fd >= 0)
            close(pp[i].fd);
    if (ep >= 0)
        close(ep);
    free(pp);
    free(answered);
    return NULL;
}

static void sc_usage(FILE *f)
{
    fputs("usage: starvecheck [--conns N] [--depth D] [--seconds S] [--max-gap-ms MS] [--msg B] "
          "HOST PORT\n",
          f);
}

static int sc_parse(int argc, char **argv, struct sc_opts *o)
{
    *o = (struct sc_opts){.conns = 400, .seconds = 3, .max_gap_ms = 0, .msg = 32, .depth = 1};
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        char *end;
        double v = strtod(argv[i + 1], &end);
        if (*end || v <= 0)
            return -1;
        if (strcmp(argv[i], "--conns") == 0 && v <= SC_MAX_CONNS)
            o->conns = (unsigned)v;
        else if (strcmp(argv[i], "--seconds") == 0 && v <= 600)
            o->seconds = v;
        else if (strcmp(argv[i], "--max-gap-ms") == 0)
            o->max_gap_ms = v;
        else if (strcmp(argv[i], "--msg") == 0 && v <= SC_MAX_MSG / 16)
            o->msg = (unsigned)v;
        else if (strcmp(argv[i], "--depth") == 0 && v <= 16)
            o->depth = (unsigned)v;
        else
            return -1;
    }
    if (argc - i != 2)
        return -1;
    o->addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[i], &o->addr.sin_addr) != 1)
        return -1;
    long port = strtol(argv[i + 1], NULL, 10);
    if (port <= 0 || port > 65535)
        return -1;
    o->addr.sin_port = htons((uint16_t)port);
    return 0;
}

int main(int argc, char **argv)
{
    struct sc_opts o;
    pthread_t tid;
    static unsigned char out[SC_CHUNK], in[SC_CHUNK];

    if (sc_parse(argc, argv, &o) < 0) {
        sc_usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fd = sc_connect(&o);
    if (fd < 0) {
        fprintf(stderr, "starvecheck: connect: %s\n", strerror(-fd));
        return 2;
    }
    if (pthread_create(&tid, NULL, sc_pingpong_main, &o) != 0) {
        fprintf(stderr, "starvecheck: cannot start a thread\n");
        return 2;
    }

    uint64_t sent = 0, recvd = 0;
    double t0 = sc_now(), start = 0, end = 0, last = 0, max_gap = 0;
    int rc = 0;
    for (;;) {
        double now = sc_now();
        int pp_err = atomic_load(&sc_pp_err);
        if (pp_err) {
            fprintf(stderr, "starvecheck: ping-pong connection: %s\n", strerror(pp_err));
            rc = 2;
            break;
        }
        if (start == 0 && atomic_load(&sc_answered) == o.conns && recvd > 0) {
            start = last = now; /* every connection busy: the watch begins */
            end = start + o.seconds;
        }
        if (start == 0 && now - t0 > 30) {
            fprintf(stderr, "starvecheck: set-up took over 30 s (%u of %u answered)\n",
                    atomic_load(&sc_answered), o.conns);
            rc = 2;
            break;
        }
        if (start != 0 && now >= end) {
            if (now - last > max_gap)
                max_gap = now - last;
            break;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT};
        if (poll(&pfd, 1, 10) < 0 && errno != EINTR) {
            rc = 2;
            break;
        }
        if (pfd.revents & POLLOUT) {
            for (size_t i = 0; i < sizeof(out); i++)
                out[i] = sc_byte(sent + i);
            ssize_t w = send(fd, out, sizeof(out), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0)
                sent += (uint64_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "starvecheck: firehose send: %s\n", strerror(errno));
                rc = 2;
                break;
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, in, sizeof(in), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "starvecheck: firehose closed: %s\n", r ? strerror(errno) : "EOF");
                rc = 2;
                break;
            }
            if (r > 0) {
                for (ssize_t i = 0; i < r; i++) {
                    if (in[i] != sc_byte(recvd + (uint64_t)i)) {
                        fprintf(stderr, "starvecheck: firehose byte %" PRIu64 " differs\n",
                                recvd + (uint64_t)i);
                        rc = 1;
                        goto out;
                    }
                }
                recvd += (uint64_t)r;
                now = sc_now();
                if (start != 0 && now - last > max_gap)
                    max_gap = now - last;
                last = now;
            }
        }
    }
out:;
    uint64_t rounds0 = atomic_load(&sc_rounds);
    atomic_store(&sc_stop, true);
    pthread_join(tid, NULL);
    close(fd);
    printf("starve: firehose_bytes=%" PRIu64 " max_gap_ms=%.1f rounds=%" PRIu64 "\n", recvd,
           max_gap * 1000, rounds0);
    if (rc == 0 && o.max_gap_ms > 0 && max_gap * 1000 > o.max_gap_ms) {
        fprintf(stderr,
                "starvecheck: FAIL: the firehose made no progress for %.1f ms (limit %.0f)\n",
                max_gap * 1000, o.max_gap_ms);
        rc = 1;
    }
    if (rc == 0 && rounds0 < o.conns) {
        fprintf(stderr, "starvecheck: FAIL: only %" PRIu64 " ping-pong rounds\n", rounds0);
        rc = 1;
    }
    return rc;
}
