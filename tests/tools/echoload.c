/* echoload: a small closed-loop TCP echo load client, the stand-in for ringload until it lands.
 * Each connection sends one message of --size bytes, waits for all of it to come back, checks
 * every byte, records the round trip, and sends the next. Threads each run their own epoll loop
 * over their share of the connections. Prints msgs/s, MB/s, latency percentiles, verification
 * errors and its own CPU time. Exit 0 on success, 1 on any error or mismatch, 2 on usage. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LAT_BUCKETS 64 * 16 /* log2 major x 16 linear minor buckets of nanoseconds */

struct conn {
    int fd;
    uint32_t idx;
    uint64_t seq; /* message number, seeds its content */
    size_t sent, recvd;
    uint64_t t_send;
    unsigned char *out;
};

struct thread {
    pthread_t tid;
    unsigned id;
    unsigned nconns;
    struct conn *conns;
    uint64_t msgs, bytes, errors, verify_errors;
    uint64_t lat[LAT_BUCKETS];
    int rc;
};

static struct sockaddr_storage g_addr;
static socklen_t g_addrlen;
static size_t g_size = 64;
static double g_duration = 5.0;
static uint64_t g_deadline_ns;
static _Atomic unsigned g_ready;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned lat_bucket(uint64_t ns)
{
    if (ns < 16)
        return (unsigned)ns;
    unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
    unsigned minor = (unsigned)(ns >> (msb - 4)) & 15u;
    unsigned b = (msb - 3) * 16 + minor;
    return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

static uint64_t lat_value(unsigned b)
{
    if (b < 16)
        return b;
    unsigned msb = b / 16 + 3, minor = b % 16;
    return ((16ull + minor) << (msb - 4)) + (1ull << (msb - 4)) / 2;
}

static unsigned char pattern(uint32_t conn, uint64_t seq, size_t i)
{
    uint64_t x = ((uint64_t)conn << 40) ^ (seq << 12) ^ i;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (unsigned char)x;
}

static void fill(struct conn *c)
{
    for (size_t i = 0; i < g_size; i++)
        c->out[i] = pattern(c->idx, c->seq, i);
}

static int send_some(struct thread *t, struct conn *c)
{
    while (c->sent < g_size) {
        ssize_t n = send(c->fd, c->out + c->sent, g_size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                return 0;
            t->errors++;
            return -1;
        }
        c->sent += (size_t)n;
    }
    return 0;
}

static int recv_some(struct thread *t, struct conn *c)
{
    unsigned char buf[65536];
    for (;;) {
        size_t want = g_size - c->recvd;
        if (want > sizeof(buf))
            want = sizeof(buf);
        if (want == 0)
            want = 1; /* bytes beyond a message are an error, detect them */
        ssize_t n = recv(c->fd, buf, want, 0);
        if (n < 0)
            return errno == EAGAIN ? 0 : (t->errors++, -1);
        if (n == 0) {
            t->errors++;
            return -1;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (c->recvd + (size_t)i >= g_size ||
                buf[i] != pattern(c->idx, c->seq, c->recvd + (size_t)i)) {
                if (t->verify_errors++ < 5)
                    fprintf(stderr, "echoload: mismatch on connection %u message %llu offset %zu\n",
                            c->idx, (unsigned long long)c->seq, c->recvd + (size_t)i);
                return -1;
            }
        }
        c->recvd += (size_t)n;
        if (c->recvd == g_size) {
            uint64_t now = now_ns();
            t->lat[lat_bucket(now - c->t_send)]++;
            t->msgs++;
            t->bytes += g_size;
            if (now >= g_deadline_ns)
                return 1; /* done: stop this connection */
            c->seq++;
            c->sent = c->recvd = 0;
            fill(c);
            c->t_send = now;
            if (send_some(t, c) < 0)
                return -1;
        }
    }
}

static _Atomic bool g_go;

static void *thread_main(void *p)
{
    struct thread *t = p;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    unsigned live = 0;
    for (unsigned i = 0; i < t->nconns; i++)
        t->conns[i].fd = -1;
    if (ep < 0) {
        t->rc = 1;
        atomic_fetch_add(&g_ready, 1);
        return NULL;
    }
    for (unsigned i = 0; i < t->nconns; i++) {
        struct conn *c = &t->conns[i];
        int one = 1;
        c->fd = socket(g_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&g_addr, g_addrlen) < 0) {
            fprintf(stderr, "echoload: connect: %s\n", strerror(errno));
            t->rc = 1;
            break;
        }
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        c->out = malloc(g_size);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
        if (!c->out || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
            t->rc = 1;
            break;
        }
        live++;
    }
    atomic_fetch_add(&g_ready, 1);
    while (!atomic_load(&g_go))
        usleep(1000);
    if (t->rc)
        goto out;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct conn *c = &t->conns[i];
        fill(c);
        c->t_send = now_ns();
        send_some(t, c);
    }
    struct epoll_event evs[256];
    while (live > 0 && now_ns() < g_deadline_ns + 2000000000ull) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            int r = 0;
            if (evs[i].events & EPOLLOUT)
                r = send_some(t, c);
            if (r == 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                r = recv_some(t, c);
            if (r != 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                live--;
                if (r < 0)
                    t->rc = 1;
            }
        }
    }
    if (live > 0) {
        fprintf(stderr, "echoload: %u connections still waiting for an echo at the end\n", live);
        t->errors += live;
        t->rc = 1;
    }
out:
    for (unsigned i = 0; i < t->nconns; i++) {
        if (t->conns[i].fd >= 0)
            close(t->conns[i].fd);
        free(t->conns[i].out);
    }
    close(ep);
    return NULL;
}

static int parse_target(const char *host, const char *port)
{
    memset(&g_addr, 0, sizeof(g_addr));
    struct sockaddr_in *sin = (struct sockaddr_in *)&g_addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&g_addr;
    int p = atoi(port);
    if (p <= 0 || p > 65535)
        return -1;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)p);
        g_addrlen = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)p);
        g_addrlen = sizeof(*sin6);
        return 0;
    }
    return -1;
}

static uint64_t percentile(const uint64_t *lat, uint64_t total, double q)
{
    uint64_t want = (uint64_t)(q * (double)total + 0.5), seen = 0;
    if (want == 0)
        want = 1;
    for (unsigned b = 0; b < LAT_BUCKETS; b++) {
        seen += lat[b];
        if (seen >= want)
            return lat_value(b);
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: echoload [-c CONNS] [-t THREADS] [-d SECONDS] [-s BYTES] HOST PORT\n"
               "Closed-loop TCP echo load: each connection keeps one message in flight and\n"
               "verifies every echoed byte. Defaults: -c 100 -t 1 -d 5 -s 64.\n");
}

int main(int argc, char **argv)
{
    unsigned nconns = 100, nthreads = 1;
    int opt;
    while ((opt = getopt(argc, argv, "c:t:d:s:h")) != -1) {
        switch (opt) {
        case 'c':
            nconns = (unsigned)atoi(optarg);
            break;
        case 't':
            nthreads = (unsigned)atoi(optarg);
            break;
        case 'd':
            g_duration = atof(optarg);
            break;
        case 's':
            g_size = (size_t)atol(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 2 != argc || nconns == 0 || nthreads == 0 || nthreads > nconns || g_size == 0 ||
        g_size > (64u << 20) || g_duration <= 0 || g_duration > 3600 ||
        parse_target(argv[optind], argv[optind + 1]) < 0) {
        usage(stderr);
        return 2;
    }
    struct thread *ts = calloc(nthreads, sizeof(*ts));
    struct conn *conns = calloc(nconns, sizeof(*conns));
    if (!ts || !conns)
        return 1;
    for (unsigned i = 0; i < nconns; i++)
        conns[i].idx = i;
    unsigned at = 0;
    for (unsigned i = 0; i < nthreads; i++) {
        ts[i].id = i;
        ts[i].nconns = nconns / nthreads + (i < nconns % nthreads);
        ts[i].conns = conns + at;
        at += ts[i].nconns;
        pthread_create(&ts[i].tid, NULL, thread_main, &ts[i]);
    }
    while (atomic_load(&g_ready) < nthreads)
        usleep(1000);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t t0 = now_ns();
    g_deadline_ns = t0 + (uint64_t)(g_duration * 1e9);
    atomic_store(&g_go, true);

    uint64_t msgs = 0, bytes = 0, errors = 0, verr = 0, lat[LAT_BUCKETS] = {0};
    int rc = 0;
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_join(ts[i].tid, NULL);
        msgs += ts[i].msgs;
        bytes += ts[i].bytes;
        errors += ts[i].errors;
        verr += ts[i].verify_errors;
        for (unsigned b = 0; b < LAT_BUCKETS; b++)
            lat[b] += ts[i].lat[b];
        rc |= ts[i].rc;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    if (secs > g_duration)
        secs = g_duration; /* messages are counted up to the deadline */
    getrusage(RUSAGE_SELF, &ru1);
    double ucpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                  (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6;
    double scpu = (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                  (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    printf("echoload: %u connections, %u thread%s, %zu-byte messages, %.1f s\n", nconns, nthreads,
           nthreads == 1 ? "" : "s", g_size, secs);
    printf("  %.0f msg/s, %.2f MB/s each way, %llu messages verified\n", (double)msgs / secs,
           (double)bytes / secs / 1e6, (unsigned long long)msgs);
    if (msgs)
        printf("  latency p50 %.1f us, p99 %.1f us, p99.9 %.1f us\n",
               (double)percentile(lat, msgs, 0.50) / 1e3, (double)percentile(lat, msgs, 0.99) / 1e3,
               (double)percentile(lat, msgs, 0.999) / 1e3);
    printf("  errors %llu, verify mismatches %llu; client cpu user %.2f s sys %.2f s\n",
           (unsigned long long)errors, (unsigned long long)verr, ucpu, scpu);
    free(conns);
    free(ts);
    return rc || errors || verr ? 1 : 0;
}
