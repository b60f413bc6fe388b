/*
 * dgramcheck: UDP integration-test client for ringsock.
 *
 * Sub-commands:
 *   flows  N unconnected sockets, one flow each, send numbered datagrams at a paced total rate
 *          and verify every echo (header with flow, sequence, length and checksum; payload a
 *          pure function of seed, flow and sequence). Datagrams shorter than the header are
 *          still sent when the random size says so: their content is a pure function of seed,
 *          flow and sequence too, and an echo of one is matched by exact content against the
 *          flow's FIFO of outstanding short datagrams (so a duplicated short datagram of an
 *          identical content, e.g. two zero-length ones, cannot be told from a later one).
 *   sizes  one datagram per listed size, each echo compared byte for byte; sizes listed in
 *          --expect-none must not come back (and are sent once, never retried).
 *   flood  sockets blast datagrams as fast as possible for a bounded time while a probe socket
 *          sends one checked datagram per interval and measures its round trips.
 *
 * Replies are accepted from any address whose port is the server's (a multicast group is
 * answered from a unicast address), so sockets are never connected. Only libc is used.
 *
 * Exit status: 0 success, 1 verification failure, 2 usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DC_EXIT_OK    0
#define DC_EXIT_FAIL  1
#define DC_EXIT_USAGE 2

#define DC_MAGIC       0x52534447U /* "RSDG" */
#define DC_HDR_LEN     32U         /* magic, flow, seq, sent_ns, len, csum */
#define DC_MAX_DGRAM   65535U      /* receive slots are one byte larger, to see truncation */
#define DC_RECV_BATCH  64U
#define DC_SEND_BURST  256U  /* flows: datagrams sent per loop turn at most */
#define DC_SMALL_RING  4096U /* flows: outstanding short datagrams remembered per flow */
#define DC_MAX_SIZES   64U
#define DC_MAX_SOCKETS 256U
#define DC_SOCK_BUF    (4 << 20) /* SO_RCVBUF/SO_SNDBUF asked for (forced if allowed) */
#define DC_FLOOD_BATCH 32U
#define DC_PROBE_LEN   24U
#define DC_PROBE_MAGIC 0x50524f42U /* "PROB" */
#define DC_REPORTS     5U          /* failure lines printed per kind */
#define DC_CMSG_ROOM   CMSG_SPACE(sizeof(uint32_t))

enum dc_cmd { DC_CMD_FLOWS, DC_CMD_SIZES, DC_CMD_FLOOD };

struct dc_opts {
    enum dc_cmd cmd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct sockaddr_storage bind_addr;
    socklen_t bind_len; /* 0: no --bind */
    uint32_t flows;     /* flows: sockets */
    uint32_t sockets;   /* flood: flooding sockets */
    uint32_t senders;   /* flood: sender threads */
    uint64_t count;     /* flows: datagrams per flow */
    double rate;        /* flows: datagrams per second, all flows together */
    uint32_t min_size;
    uint32_t max_size;
    double drain; /* seconds to wait for echoes after the last send */
    double max_loss;
    double late; /* flows: an echo slower than this is counted late */
    bool expect_discard;
    double timeout; /* flows, flood: overall deadline; sizes: wait per attempt */
    uint64_t seed;
    uint32_t sizes[DC_MAX_SIZES];
    unsigned nsizes;
    uint32_t none[DC_MAX_SIZES];
    unsigned nnone;
    unsigned retries;
    double seconds; /* flood: how long to blast */
    double probe_interval;
    double min_probe_ratio;
};

/* ---- reporting, time, randomness ------------------------------------------------------ */

static unsigned dc_fail_lines;

__attribute__((format(printf, 1, 2))) static void dc_fail(const char *fmt, ...)
{
    if (++dc_fail_lines > DC_REPORTS * 4)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("dgramcheck: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double dc_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t dc_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A 64-bit finaliser (splitmix64 constants): a bijection that spreads every input bit. */
static uint64_t dc_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The key naming the content of one datagram. */
static uint64_t dc_key(uint64_t seed, uint64_t a, uint64_t b)
{
    return dc_mix(seed ^ dc_mix(a * 0x100000001b3ULL ^ dc_mix(b + 0x51ed27U)));
}

/* Fills buf with the len bytes named by key. */
static void dc_fill(uint64_t key, unsigned char *buf, size_t len)
{
    uint64_t word = 0;

    for (size_t i = 0; i < len; i++) {
        if ((i & 7) == 0)
            word = dc_mix(key + i);
        buf[i] = (unsigned char)(word >> ((i & 7) * 8));
    }
}

static uint64_t dc_rand(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    return dc_mix(*state);
}

/* A uniform value in [lo, hi]. */
static uint32_t dc_rand_range(uint64_t *state, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)(dc_rand(state) % ((uint64_t)hi - lo + 1));
}

/* FNV-1a, 32 bits, continued from h. */
static uint32_t dc_fnv(uint32_t h, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619U;
    }
    return h;
}

static void dc_put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static void dc_put64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

static uint32_t dc_get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t dc_get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* ---- sockets -------------------------------------------------------------------------- */

static uint16_t dc_addr_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* Parses an IPv4 or IPv6 literal (brackets and a %IFNAME scope allowed) and a port.
 * Returns 0 or -EINVAL. */
static int dc_addr_parse(const char *host, const char *port, struct sockaddr_storage *ss,
                         socklen_t *len)
{
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 4];
    char *end;
    unsigned long p = 0;

    if (port) {
        errno = 0;
        p = strtoul(port, &end, 10);
        if (errno || end == port || *end || p > 65535)
            return -EINVAL;
    }
    size_t n = strlen(host);
    if (n >= sizeof(buf))
        return -EINVAL;
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
    } else {
        memcpy(buf, host, n + 1);
    }
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)p);
        *len = sizeof(*sin);
        return 0;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    char *scope = strchr(buf, '%');
    if (scope) {
        *scope++ = '\0';
        sin6->sin6_scope_id = if_nametoindex(scope);
        if (!sin6->sin6_scope_id)
            return -EINVAL;
    }
    if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
        return -EINVAL;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)p);
    *len = sizeof(*sin6);
    return 0;
}

/* Parses --bind: ADDR, ADDR:PORT or [ADDR]:PORT (ADDR an IPv4 or IPv6 literal; an IPv6 one
 * with a port in brackets). No port (or 0): the kernel picks one. Returns 0 or -EINVAL. */
static int dc_bind_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 4];
    const char *colon = strrchr(s, ':');
    size_t n;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (close[1] != '\0' && close[1] != ':'))
            return -EINVAL;
        if (close[1] == '\0')
            return dc_addr_parse(s, NULL, ss, len);
        n = (size_t)(close + 1 - s);
        colon = close + 1;
    } else if (colon && strchr(s, ':') == colon) {
        n = (size_t)(colon - s); /* one colon: IPv4:PORT */
    } else {
        return dc_addr_parse(s, NULL, ss, len); /* a bare IPv4 or IPv6 literal */
    }
    if (n >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, n);
    host[n] = '\0';
    return dc_addr_parse(host, colon + 1, ss, len);
}

/* Sets a socket buffer size, forcing past the sysctl limit when privileged. */
static void dc_sock_buf(int fd, int opt, int force_opt, int size)
{
    if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) == 0)
        return;
    (void)setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

/* Returns a non-blocking UDP socket of the server's family, bound to --bind if given, with big
 * buffers and SO_RXQ_OVFL; or -errno. */
static int dc_sock_open(const struct dc_opts *o)
{
    int one = 1;
    int fd = socket(o->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    dc_sock_buf(fd, SO_RCVBUF, SO_RCVBUFFORCE, DC_SOCK_BUF);
    dc_sock_buf(fd, SO_SNDBUF, SO_SNDBUFFORCE, DC_SOCK_BUF);
    (void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
    if (o->bind_len && bind(fd, (const struct sockaddr *)&o->bind_addr, o->bind_len) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

/* Batch receive state shared by the sub-commands: DC_RECV_BATCH slots of DC_MAX_DGRAM + 1. */
struct dc_rx {
    unsigned char *bufs;
    struct mmsghdr mm[DC_RECV_BATCH];
    struct iovec iov[DC_RECV_BATCH];
    struct sockaddr_storage from[DC_RECV_BATCH];
    unsigned char cbuf[DC_RECV_BATCH][DC_CMSG_ROOM];
    uint32_t ovfl; /* latest SO_RXQ_OVFL value seen (the socket's cumulative count) */
};

static struct dc_rx *dc_rx_new(void)
{
    struct dc_rx *rx = calloc(1, sizeof(*rx));

    if (!rx)
        return NULL;
    rx->bufs = malloc((size_t)DC_RECV_BATCH * (DC_MAX_DGRAM + 1));
    if (!rx->bufs) {
        free(rx);
        return NULL;
    }
    return rx;
}

static void dc_rx_free(struct dc_rx *rx)
{
    if (rx)
        free(rx->bufs);
    free(rx);
}

static unsigned char *dc_rx_buf(struct dc_rx *rx, unsigned i)
{
    return rx->bufs + (size_t)i * (DC_MAX_DGRAM + 1);
}

/* One recvmmsg into rx; returns datagrams read (0 when none is waiting) or -errno. */
static int dc_rx_batch(struct dc_rx *rx, int fd)
{
    for (unsigned i = 0; i < DC_RECV_BATCH; i++) {
        rx->iov[i] = (struct iovec){.iov_base = dc_rx_buf(rx, i), .iov_len = DC_MAX_DGRAM + 1};
        rx->mm[i].msg_hdr = (struct msghdr){.msg_name = &rx->from[i],
                                            .msg_namelen = sizeof(rx->from[i]),
                                            .msg_iov = &rx->iov[i],
                                            .msg_iovlen = 1,
                                            .msg_control = rx->cbuf[i],
                                            .msg_controllen = DC_CMSG_ROOM};
    }
    int n = recvmmsg(fd, rx->mm, DC_RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        struct msghdr *mh = &rx->mm[i].msg_hdr;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL)
                memcpy(&rx->ovfl, CMSG_DATA(cm), sizeof(rx->ovfl));
        }
    }
    return n;
}

/* True if datagram i of the last batch came from the server's port and was not truncated. */
static bool dc_rx_from_server(const struct dc_rx *rx, unsigned i, const struct dc_opts *o)
{
    const struct msghdr *mh = &rx->mm[i].msg_hdr;

    if (mh->msg_flags & MSG_TRUNC)
        return false;
    return rx->from[i].ss_family == o->addr.ss_family &&
           dc_addr_port(&rx->from[i]) == dc_addr_port(&o->addr);
}

/* Sleeps until one of fds is readable or seconds pass; fills pfd; returns ppoll's result. */
static int dc_wait_in(const int *fds, unsigned nfds, double seconds, struct pollfd *pfd)
{
    if (seconds < 0)
        seconds = 0;
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    for (unsigned i = 0; i < nfds; i++)
        pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    int n = ppoll(pfd, nfds, &ts, NULL);
    return n < 0 && errno == EINTR ? 0 : n;
}

/* ---- flows ---------------------------------------------------------------------------- */

struct dc_small {
    uint64_t seq;
    double sent_at;
    uint32_t len;
    bool done;
};

struct dc_flow {
    int fd;
    uint32_t id;
    uint64_t rng;
    uint64_t next_seq;   /* datagrams sent */
    uint64_t max_seen;   /* one past the highest sequence echoed */
    unsigned char *seen; /* bitmap over sequences */
    struct dc_small *small;
    uint32_t small_head, small_len;
    uint64_t received, dup, corrupt, reordered, late, small_evicted;
    uint32_t ovfl;
};

struct dc_flows {
    const struct dc_opts *o;
    struct dc_flow *f;
    unsigned char *txbuf;
    uint64_t sent, sent_bytes, send_errors;
};

static bool dc_seen_test_set(struct dc_flow *f, uint64_t seq)
{
    unsigned char bit = (unsigned char)(1U << (seq & 7));
    bool was = f->seen[seq >> 3] & bit;

    f->seen[seq >> 3] |= bit;
    return was;
}

/* Builds datagram seq of flow f into buf; returns its length. */
static uint32_t dc_flow_build(const struct dc_opts *o, struct dc_flow *f, uint64_t seq,
                              unsigned char *buf)
{
    uint32_t len = dc_rand_range(&f->rng, o->min_size, o->max_size);
    uint64_t key = dc_key(o->seed, f->id, seq);

    if (len < DC_HDR_LEN) {
        dc_fill(key, buf, len);
        return len;
    }
    dc_put32(buf, DC_MAGIC);
    dc_put32(buf + 4, f->id);
    dc_put64(buf + 8, seq);
    dc_put64(buf + 16, dc_now_ns());
    dc_put32(buf + 24, len);
    dc_fill(key, buf + DC_HDR_LEN, len - DC_HDR_LEN);
    uint32_t h = dc_fnv(2166136261U, buf, 28);
    dc_put32(buf + 28, dc_fnv(h, buf + DC_HDR_LEN, len - DC_HDR_LEN));
    return len;
}

/* Remembers a short datagram just sent; the oldest is forgotten (and stays lost) if full. */
static void dc_small_push(struct dc_flow *f, uint64_t seq, uint32_t len)
{
    if (f->small_len == DC_SMALL_RING) {
        f->small_head = (f->small_head + 1) % DC_SMALL_RING;
        f->small_len--;
        f->small_evicted++;
    }
    f->small[(f->small_head + f->small_len) % DC_SMALL_RING] =
        (struct dc_small){.seq = seq, .sent_at = dc_now(), .len = len};
    f->small_len++;
}

/* Matches a short echo against the oldest outstanding short datagram of the same content;
 * returns false if none matches. */
static bool dc_small_match(const struct dc_opts *o, struct dc_flow *f, const unsigned char *p,
                           uint32_t len)
{
    unsigned char want[DC_HDR_LEN];

    for (uint32_t i = 0; i < f->small_len; i++) {
        struct dc_small *s = &f->small[(f->small_head + i) % DC_SMALL_RING];
        if (s->done || s->len != len)
            continue;
        dc_fill(dc_key(o->seed, f->id, s->seq), want, len);
        if (memcmp(want, p, len) != 0)
            continue;
        s->done = true;
        f->received++;
        (void)dc_seen_test_set(f, s->seq);
        if (dc_now() - s->sent_at > o->late)
            f->late++;
        while (f->small_len && f->small[f->small_head].done) {
            f->small_head = (f->small_head + 1) % DC_SMALL_RING;
            f->small_len--;
        }
        return true;
    }
    return false;
}

/* Verifies one echo that arrived on flow f. */
static void dc_flow_check(struct dc_flows *fl, struct dc_flow *f, const unsigned char *p,
                          uint32_t len)
{
    const struct dc_opts *o = fl->o;

    if (len < DC_HDR_LEN) {
        if (!dc_small_match(o, f, p, len)) {
            f->corrupt++;
            dc_fail("flow %" PRIu32 ": %" PRIu32 "-byte echo matches no datagram sent", f->id, len);
        }
        return;
    }
    uint32_t flow = dc_get32(p + 4), hlen = dc_get32(p + 24);
    uint64_t seq = dc_get64(p + 8);
    uint32_t h = dc_fnv(dc_fnv(2166136261U, p, 28), p + DC_HDR_LEN, len - DC_HDR_LEN);
    if (dc_get32(p) != DC_MAGIC || flow != f->id || hlen != len || seq >= f->next_seq ||
        h != dc_get32(p + 28)) {
        f->corrupt++;
        dc_fail("flow %" PRIu32 ": bad %" PRIu32 "-byte echo (magic %08" PRIx32 " flow %" PRIu32
                " seq %" PRIu64 " len %" PRIu32 ")",
                f->id, len, dc_get32(p), flow, seq, hlen);
        return;
    }
    unsigned char *want = fl->txbuf;
    dc_fill(dc_key(o->seed, f->id, seq), want, len - DC_HDR_LEN);
    if (memcmp(want, p + DC_HDR_LEN, len - DC_HDR_LEN) != 0) {
        f->corrupt++;
        dc_fail("flow %" PRIu32 " seq %" PRIu64 ": payload differs", f->id, seq);
        return;
    }
    if (dc_seen_test_set(f, seq)) {
        f->dup++;
        dc_fail("flow %" PRIu32 " seq %" PRIu64 ": echoed twice", f->id, seq);
        return;
    }
    f->received++;
    if (seq + 1 < f->max_seen)
        f->reordered++;
    else
        f->max_seen = seq + 1;
    if ((double)(dc_now_ns() - dc_get64(p + 16)) / 1e9 > o->late)
        f->late++;
}

/* Reads everything waiting on flow f. Returns datagrams read or -errno. */
static int dc_flow_drain(struct dc_flows *fl, struct dc_flow *f, struct dc_rx *rx)
{
    int total = 0, n;

    do {
        n = dc_rx_batch(rx, f->fd);
        if (n < 0)
            return n;
        for (int i = 0; i < n; i++) {
            uint32_t len = rx->mm[i].msg_len;
            if (!dc_rx_from_server(rx, (unsigned)i, fl->o)) {
                f->corrupt++;
                dc_fail("flow %" PRIu32 ": %" PRIu32 "-byte datagram not from the server port "
                        "or truncated",
                        f->id, len);
                continue;
            }
            if (fl->o->expect_discard) {
                f->received++;
                continue;
            }
            dc_flow_check(fl, f, dc_rx_buf(rx, (unsigned)i), len);
        }
        total += n;
        f->ovfl = rx->ovfl;
    } while (n == (int)DC_RECV_BATCH);
    return total;
}

/* Sends due datagrams, round robin over the flows; returns false on a hard send error. */
static bool dc_flows_send(struct dc_flows *fl, uint64_t due)
{
    const struct dc_opts *o = fl->o;
    unsigned burst = 0;

    while (fl->sent < due && burst++ < DC_SEND_BURST) {
        struct dc_flow *f = &fl->f[fl->sent % o->flows];
        uint64_t rng = f->rng;
        uint32_t len = dc_flow_build(o, f, f->next_seq, fl->txbuf);
        ssize_t n = sendto(f->fd, fl->txbuf, len, MSG_DONTWAIT, (const struct sockaddr *)&o->addr,
                           o->addrlen);
        if (n < 0) {
            f->rng = rng; /* the same datagram again next turn */
            if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
                return true;
            /* Anything else (EPERM from a firewall, ...) is counted and retried until the
             * deadline, so a persistent error ends the run as a timeout. */
            fl->send_errors++;
            dc_fail("flow %" PRIu32 ": sendto: %s", f->id, strerror(errno));
            return errno != EMSGSIZE && errno != EINVAL && errno != EAFNOSUPPORT;
        }
        if (len < DC_HDR_LEN && !o->expect_discard)
            dc_small_push(f, f->next_seq, len);
        f->next_seq++;
        fl->sent++;
        fl->sent_bytes += len;
    }
    return true;
}

static int dc_cmd_flows(const struct dc_opts *o)
{
    struct dc_flows fl = {.o = o};
    struct pollfd pfd[DC_MAX_SOCKETS];
    int fds[DC_MAX_SOCKETS];
    int rc = DC_EXIT_FAIL;
    uint64_t total = o->count * o->flows;
    struct dc_rx *rx = dc_rx_new();

    fl.f = calloc(o->flows, sizeof(*fl.f));
    fl.txbuf = malloc(DC_MAX_DGRAM + 1);
    if (!rx || !fl.f || !fl.txbuf) {
        fprintf(stderr, "dgramcheck: out of memory\n");
        goto out_free;
    }
    for (uint32_t i = 0; i < o->flows; i++) {
        struct dc_flow *f = &fl.f[i];
        f->fd = -1;
        f->id = i;
        f->rng = dc_mix(o->seed ^ (0xf10dULL << 32 | i));
        f->seen = calloc((size_t)(o->count / 8 + 1), 1);
        f->small = calloc(DC_SMALL_RING, sizeof(*f->small));
        if (!f->seen || !f->small) {
            fprintf(stderr, "dgramcheck: out of memory\n");
            goto out_free;
        }
        f->fd = dc_sock_open(o);
        if (f->fd < 0) {
            fprintf(stderr, "dgramcheck: socket: %s\n", strerror(-f->fd));
            goto out_free;
        }
        fds[i] = f->fd;
    }

    double t0 = dc_now(), deadline = t0 + o->timeout, last_send = t0;
    bool timed_out = false;
    for (;;) {
        double now = dc_now();
        uint64_t received = 0;
        for (uint32_t i = 0; i < o->flows; i++)
            received += fl.f[i].received;
        if (fl.sent == total &&
            (now - last_send >= o->drain || (!o->expect_discard && received >= total)))
            break;
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        double wait = 0.05;
        if (fl.sent < total) {
            double d = (now - t0) * o->rate;
            uint64_t due = d >= (double)total ? total : (uint64_t)d + 1;
            if (!dc_flows_send(&fl, due))
                goto out_free;
            if (fl.sent == total)
                last_send = dc_now();
            wait = fl.sent < due ? 0.0005 : (double)(fl.sent + 1) / o->rate - (now - t0);
            if (wait < 0.001 && fl.sent >= due)
                wait = 0.001;
        } else if (last_send + o->drain - now < wait) {
            wait = last_send + o->drain - now;
        }
        int n = dc_wait_in(fds, o->flows, wait, pfd);
        if (n < 0) {
            fprintf(stderr, "dgramcheck: ppoll: %s\n", strerror(errno));
            goto out_free;
        }
        for (uint32_t i = 0; n > 0 && i < o->flows; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLERR)))
                continue;
            int r = dc_flow_drain(&fl, &fl.f[i], rx);
            if (r < 0) {
                fprintf(stderr, "dgramcheck: recvmmsg: %s\n", strerror(-r));
                goto out_free;
            }
        }
    }

    uint64_t received = 0, dup = 0, corrupt = 0, reordered = 0, late = 0, ovfl = 0;
    for (uint32_t i = 0; i < o->flows; i++) {
        received += fl.f[i].received;
        dup += fl.f[i].dup;
        corrupt += fl.f[i].corrupt;
        reordered += fl.f[i].reordered;
        late += fl.f[i].late;
        ovfl += fl.f[i].ovfl;
    }
    uint64_t lost = o->expect_discard ? 0 : fl.sent - (received < fl.sent ? received : fl.sent);
    double loss = fl.sent ? (double)lost / (double)fl.sent : 0.0;
    printf("flows: sent=%" PRIu64 " received=%" PRIu64 " lost=%" PRIu64 " dup=%" PRIu64
           " corrupt=%" PRIu64 " reordered=%" PRIu64 " loss=%.6f late=%" PRIu64
           " client_drops=%" PRIu64 " send_errors=%" PRIu64 " bytes_sent=%" PRIu64
           " seconds=%.2f\n",
           fl.sent, received, lost, dup, corrupt, reordered, loss, late, ovfl, fl.send_errors,
           fl.sent_bytes, dc_now() - t0);
    rc = DC_EXIT_OK;
    if (timed_out && fl.sent < total) {
        dc_fail("timed out after %.1f s with %" PRIu64 " of %" PRIu64 " sent", o->timeout, fl.sent,
                total);
        rc = DC_EXIT_FAIL;
    }
    if (corrupt || dup) {
        dc_fail("%" PRIu64 " corrupt and %" PRIu64 " duplicated echoes", corrupt, dup);
        rc = DC_EXIT_FAIL;
    }
    if (o->expect_discard && received) {
        dc_fail("%" PRIu64 " datagrams came back from a discard server", received);
        rc = DC_EXIT_FAIL;
    }
    if (!o->expect_discard && loss > o->max_loss) {
        dc_fail("loss %.6f above --max-loss %.6f", loss, o->max_loss);
        rc = DC_EXIT_FAIL;
    }

out_free:
    for (uint32_t i = 0; fl.f && i < o->flows; i++) {
        if (fl.f[i].fd >= 0)
            close(fl.f[i].fd);
        free(fl.f[i].seen);
        free(fl.f[i].small);
    }
    free(fl.f);
    free(fl.txbuf);
    dc_rx_free(rx);
    return rc;
}

/* ---- sizes ---------------------------------------------------------------------------- */

enum dc_size_state { DC_SIZE_NONE, DC_SIZE_OK, DC_SIZE_BAD, DC_SIZE_SENDERR };

static const char *const dc_size_names[] = {[DC_SIZE_NONE] = "none",
                                            [DC_SIZE_OK] = "ok",
                                            [DC_SIZE_BAD] = "bad",
                                            [DC_SIZE_SENDERR] = "send-error"};

static bool dc_size_expect_none(const struct dc_opts *o, uint32_t size)
{
    for (unsigned i = 0; i < o->nnone; i++) {
        if (o->none[i] == size)
            return true;
    }
    return false;
}

/* Classifies one echo against the sizes sent so far (indexes < upto); returns its index or -1
 * if it matches none of them. */
static int dc_sizes_match(const struct dc_opts *o, unsigned upto, const unsigned char *p,
                          uint32_t len, unsigned char *want)
{
    for (unsigned i = 0; i < upto; i++) {
        if (o->sizes[i] != len)
            continue;
        dc_fill(dc_key(o->seed, 0x512eULL, i), want, len);
        if (memcmp(want, p, len) == 0)
            return (int)i;
    }
    return -1;
}

static int dc_cmd_sizes(const struct dc_opts *o)
{
    enum dc_size_state st[DC_MAX_SIZES];
    unsigned char *buf = malloc(DC_MAX_DGRAM + 1), *want = malloc(DC_MAX_DGRAM + 1);
    struct dc_rx *rx = dc_rx_new();
    struct pollfd pfd;
    int rc = DC_EXIT_FAIL, fd = -1;
    unsigned stray = 0;

    if (!buf || !want || !rx) {
        fprintf(stderr, "dgramcheck: out of memory\n");
        goto out_free;
    }
    fd = dc_sock_open(o);
    if (fd < 0) {
        fprintf(stderr, "dgramcheck: socket: %s\n", strerror(-fd));
        goto out_free;
    }
    for (unsigned i = 0; i < o->nsizes; i++)
        st[i] = DC_SIZE_NONE;
    /* Index nsizes is a last wait, sending nothing, for late echoes of sizes not expected. */
    for (unsigned i = 0; i <= o->nsizes; i++) {
        bool last = i == o->nsizes;
        bool none = !last && dc_size_expect_none(o, o->sizes[i]);
        unsigned tries = last ? 1 : none ? 1 : o->retries + 1;
        for (unsigned t = 0; t < tries && (last || st[i] == DC_SIZE_NONE); t++) {
            if (!last) {
                dc_fill(dc_key(o->seed, 0x512eULL, i), buf, o->sizes[i]);
                if (sendto(fd, buf, o->sizes[i], 0, (const struct sockaddr *)&o->addr, o->addrlen) <
                    0) {
                    dc_fail("size %" PRIu32 ": sendto: %s", o->sizes[i], strerror(errno));
                    st[i] = DC_SIZE_SENDERR;
                    break;
                }
            }
            double end = dc_now() + (last ? o->timeout / 4 : o->timeout);
            for (double now = dc_now(); now < end; now = dc_now()) {
                if (!last && st[i] != DC_SIZE_NONE && !none)
                    break;
                int n = dc_wait_in(&fd, 1, end - now, &pfd);
                if (n <= 0)
                    continue;
                while ((n = dc_rx_batch(rx, fd)) > 0) {
                    for (int j = 0; j < n; j++) {
                        uint32_t len = rx->mm[j].msg_len;
                        int m = dc_rx_from_server(rx, (unsigned)j, o)
                                    ? dc_sizes_match(o, last ? i : i + 1,
                                                     dc_rx_buf(rx, (unsigned)j), len, want)
                                    : -1;
                        if (m < 0) {
                            stray++;
                            dc_fail("a %" PRIu32 "-byte datagram matching no size sent", len);
                            if (!last && len == o->sizes[i])
                                st[i] = DC_SIZE_BAD;
                            continue;
                        }
                        if (st[m] == DC_SIZE_NONE)
                            st[m] = DC_SIZE_OK;
                    }
                }
                if (n < 0) {
                    fprintf(stderr, "dgramcheck: recvmmsg: %s\n", strerror(-n));
                    goto out_free;
                }
            }
        }
    }

    rc = stray ? DC_EXIT_FAIL : DC_EXIT_OK;
    printf("sizes:");
    for (unsigned i = 0; i < o->nsizes; i++) {
        bool none = dc_size_expect_none(o, o->sizes[i]);
        printf(" %" PRIu32 "=%s", o->sizes[i], dc_size_names[st[i]]);
        if (none ? st[i] != DC_SIZE_NONE : st[i] != DC_SIZE_OK)
            rc = DC_EXIT_FAIL;
    }
    printf("\n");
    for (unsigned i = 0; i < o->nsizes; i++) {
        bool none = dc_size_expect_none(o, o->sizes[i]);
        if (none && st[i] != DC_SIZE_NONE)
            dc_fail("size %" PRIu32 " came back (%s) but was expected not to", o->sizes[i],
                    dc_size_names[st[i]]);
        else if (!none && st[i] != DC_SIZE_OK)
            dc_fail("size %" PRIu32 " did not come back whole (%s)", o->sizes[i],
                    dc_size_names[st[i]]);
    }

out_free:
    if (fd >= 0)
        close(fd);
    dc_rx_free(rx);
    free(buf);
    free(want);
    return rc;
}

/* ---- flood ---------------------------------------------------------------------------- */

struct dc_flood {
    const struct dc_opts *o;
    int *fds;
    _Atomic bool stop_send;
    _Atomic bool stop_drain;
    _Atomic uint64_t sent;
    _Atomic uint64_t echoed;
    _Atomic uint64_t send_errors;
    _Atomic int err; /* first hard error, -errno */
};

struct dc_sender {
    struct dc_flood *fl;
    unsigned idx;
    pthread_t tid;
};

/* Sender thread: sendmmsg batches round robin over its share of the flooding sockets. */
static void *dc_flood_send_main(void *arg)
{
    struct dc_sender *s = arg;
    struct dc_flood *fl = s->fl;
    const struct dc_opts *o = fl->o;
    unsigned char *buf = calloc(1, o->max_size ? o->max_size : 1);
    struct mmsghdr mm[DC_FLOOD_BATCH];
    struct iovec iov[DC_FLOOD_BATCH];
    uint64_t rng = dc_mix(o->seed ^ (0xb1a57ULL << 20) ^ s->idx), sent = 0;

    if (!buf) {
        atomic_store(&fl->err, -ENOMEM);
        return NULL;
    }
    dc_fill(dc_key(o->seed, 0xf100dULL, s->idx), buf, o->max_size);
    while (!atomic_load_explicit(&fl->stop_send, memory_order_relaxed)) {
        for (unsigned k = s->idx; k < o->sockets; k += o->senders) {
            for (unsigned i = 0; i < DC_FLOOD_BATCH; i++) {
                iov[i] = (struct iovec){.iov_base = buf,
                                        .iov_len = dc_rand_range(&rng, o->min_size, o->max_size)};
                mm[i].msg_hdr = (struct msghdr){.msg_name = (void *)&o->addr,
                                                .msg_namelen = o->addrlen,
                                                .msg_iov = &iov[i],
                                                .msg_iovlen = 1};
            }
            int n = sendmmsg(fl->fds[k], mm, DC_FLOOD_BATCH, MSG_DONTWAIT);
            if (n > 0) {
                sent += (unsigned)n;
                continue;
            }
            if (errno == EAGAIN || errno == ENOBUFS) {
                struct pollfd pfd = {.fd = fl->fds[k], .events = POLLOUT};
                (void)poll(&pfd, 1, 1);
            } else if (errno != EINTR) {
                atomic_fetch_add(&fl->send_errors, 1);
            }
        }
    }
    atomic_fetch_add(&fl->sent, sent);
    free(buf);
    return NULL;
}

/* Drain thread: reads and counts the echoes to the flooding sockets until told to stop. */
static void *dc_flood_drain_main(void *arg)
{
    struct dc_flood *fl = arg;
    const struct dc_opts *o = fl->o;
    struct pollfd pfd[DC_MAX_SOCKETS];
    struct dc_rx *rx = dc_rx_new();
    uint64_t echoed = 0;

    if (!rx) {
        atomic_store(&fl->err, -ENOMEM);
        return NULL;
    }
    while (!atomic_load_explicit(&fl->stop_drain, memory_order_relaxed)) {
        int n = dc_wait_in(fl->fds, o->sockets, 0.05, pfd);
        for (unsigned k = 0; n > 0 && k < o->sockets; k++) {
            if (!(pfd[k].revents & POLLIN))
                continue;
            int r;
            while ((r = dc_rx_batch(rx, fl->fds[k])) > 0)
                echoed += (unsigned)r;
        }
    }
    atomic_fetch_add(&fl->echoed, echoed);
    dc_rx_free(rx);
    return NULL;
}

struct dc_probe {
    uint64_t nsent;
    uint64_t answered;
    double max_rtt;
    double *sent_at; /* per probe; 0 once answered */
    uint64_t cap;
    uint64_t bad;
};

/* Reads probe answers waiting on fd. */
static void dc_probe_read(const struct dc_opts *o, struct dc_probe *pr, int fd, struct dc_rx *rx)
{
    int n;

    while ((n = dc_rx_batch(rx, fd)) > 0) {
        double now = dc_now();
        for (int j = 0; j < n; j++) {
            const unsigned char *p = dc_rx_buf(rx, (unsigned)j);
            uint64_t seq = dc_get64(p + 4);
            unsigned char want[DC_PROBE_LEN];
            if (rx->mm[j].msg_len != DC_PROBE_LEN || !dc_rx_from_server(rx, (unsigned)j, o) ||
                dc_get32(p) != DC_PROBE_MAGIC || seq >= pr->nsent) {
                pr->bad++;
                continue;
            }
            dc_fill(dc_key(o->seed, 0x9806eULL, seq), want, DC_PROBE_LEN - 12);
            if (memcmp(want, p + 12, DC_PROBE_LEN - 12) != 0) {
                pr->bad++;
                continue;
            }
            if (pr->sent_at[seq] == 0)
                continue; /* a duplicate: the probe is about responsiveness, not counting */
            double rtt = now - pr->sent_at[seq];
            if (rtt > pr->max_rtt)
                pr->max_rtt = rtt;
            pr->sent_at[seq] = 0;
            pr->answered++;
        }
    }
}

static int dc_cmd_flood(const struct dc_opts *o)
{
    struct dc_flood fl = {.o = o};
    struct dc_sender snd[DC_MAX_SOCKETS];
    struct dc_probe pr = {0};
    struct dc_rx *rx = dc_rx_new();
    pthread_t drain_tid;
    unsigned started = 0;
    bool drain_started = false;
    int rc = DC_EXIT_FAIL, probe_fd = -1;

    pr.cap = (uint64_t)((o->seconds + o->drain) / o->probe_interval) + 16;
    pr.sent_at = calloc(pr.cap, sizeof(*pr.sent_at));
    fl.fds = calloc(o->sockets, sizeof(*fl.fds));
    if (!rx || !pr.sent_at || !fl.fds) {
        fprintf(stderr, "dgramcheck: out of memory\n");
        goto out_free;
    }
    for (unsigned k = 0; k < o->sockets; k++)
        fl.fds[k] = -1;
    for (unsigned k = 0; k < o->sockets; k++) {
        fl.fds[k] = dc_sock_open(o);
        if (fl.fds[k] < 0) {
            fprintf(stderr, "dgramcheck: socket: %s\n", strerror(-fl.fds[k]));
            goto out_free;
        }
    }
    probe_fd = dc_sock_open(o);
    if (probe_fd < 0) {
        fprintf(stderr, "dgramcheck: socket: %s\n", strerror(-probe_fd));
        goto out_free;
    }
    if (pthread_create(&drain_tid, NULL, dc_flood_drain_main, &fl) != 0) {
        fprintf(stderr, "dgramcheck: cannot start a thread\n");
        goto out_free;
    }
    drain_started = true;
    for (; started < o->senders; started++) {
        snd[started] = (struct dc_sender){.fl = &fl, .idx = started};
        if (pthread_create(&snd[started].tid, NULL, dc_flood_send_main, &snd[started]) != 0) {
            fprintf(stderr, "dgramcheck: cannot start a thread\n");
            goto out_stop;
        }
    }

    /* The probe: one datagram per interval while flooding, then a drain for late answers. */
    double t0 = dc_now(), flood_end = t0 + o->seconds, end = flood_end + o->drain;
    struct pollfd pfd;
    for (double now = t0; now < end; now = dc_now()) {
        if (now < flood_end && pr.nsent < pr.cap &&
            now >= t0 + (double)pr.nsent * o->probe_interval) {
            unsigned char p[DC_PROBE_LEN];
            dc_put32(p, DC_PROBE_MAGIC);
            dc_put64(p + 4, pr.nsent);
            dc_fill(dc_key(o->seed, 0x9806eULL, pr.nsent), p + 12, DC_PROBE_LEN - 12);
            pr.sent_at[pr.nsent] = dc_now();
            if (sendto(probe_fd, p, sizeof(p), 0, (const struct sockaddr *)&o->addr, o->addrlen) <
                0) {
                /* A probe the local kernel refuses is not sent: do not count it. */
                pr.sent_at[pr.nsent] = 0;
                if (errno != EAGAIN && errno != ENOBUFS)
                    dc_fail("probe sendto: %s", strerror(errno));
            } else {
                pr.nsent++;
            }
        }
        if (now >= flood_end)
            atomic_store(&fl.stop_send, true);
        if (pr.answered == pr.nsent && now >= flood_end)
            break; /* every probe answered: no need to wait the drain out */
        double next = now < flood_end ? t0 + (double)pr.nsent * o->probe_interval : end;
        if (dc_wait_in(&probe_fd, 1, next - now, &pfd) > 0)
            dc_probe_read(o, &pr, probe_fd, rx);
    }
    /* Let the flooding sockets' echoes settle a little before counting them. */
    atomic_store(&fl.stop_send, true);
    for (unsigned i = 0; i < started; i++)
        pthread_join(snd[i].tid, NULL);
    started = 0;
    struct timespec settle = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
    nanosleep(&settle, NULL);
    atomic_store(&fl.stop_drain, true);
    pthread_join(drain_tid, NULL);
    drain_started = false;

    double ratio = pr.nsent ? (double)pr.answered / (double)pr.nsent : 0.0;
    printf("flood: sent=%" PRIu64 " echoed=%" PRIu64 " probes=%" PRIu64 " answered=%" PRIu64
           " max_rtt_ms=%.1f ratio=%.3f send_errors=%" PRIu64 " bad_probes=%" PRIu64 "\n",
           atomic_load(&fl.sent), atomic_load(&fl.echoed), pr.nsent, pr.answered,
           pr.max_rtt * 1000.0, ratio, atomic_load(&fl.send_errors), pr.bad);
    rc = DC_EXIT_OK;
    if (atomic_load(&fl.err)) {
        dc_fail("flood thread: %s", strerror(-atomic_load(&fl.err)));
        rc = DC_EXIT_FAIL;
    }
    if (ratio < o->min_probe_ratio) {
        dc_fail("%" PRIu64 " of %" PRIu64 " probes answered, below --min-probe-ratio %.3f",
                pr.answered, pr.nsent, o->min_probe_ratio);
        rc = DC_EXIT_FAIL;
    }
    if (pr.bad) {
        dc_fail("%" PRIu64 " malformed probe answers", pr.bad);
        rc = DC_EXIT_FAIL;
    }

out_stop:
    atomic_store(&fl.stop_send, true);
    atomic_store(&fl.stop_drain, true);
    for (unsigned i = 0; i < started; i++)
        pthread_join(snd[i].tid, NULL);
    if (drain_started)
        pthread_join(drain_tid, NULL);
out_free:
    if (probe_fd >= 0)
        close(probe_fd);
    for (unsigned k = 0; fl.fds && k < o->sockets; k++) {
        if (fl.fds[k] >= 0)
            close(fl.fds[k]);
    }
    free(fl.fds);
    free(pr.sent_at);
    dc_rx_free(rx);
    return rc;
}

/* ---- command line --------------------------------------------------------------------- */

static void dc_usage(FILE *out)
{
    fputs("usage: dgramcheck flows|sizes|flood [options] HOST PORT\n"
          "common:  --timeout S  --seed N  --bind ADDR[:PORT] ([ADDR]:PORT for IPv6; with a\n"
          "         port: sizes, or flows --flows 1)\n"
          "flows:   --flows N (8)  --count N per flow (100000)  --rate DGRAMS/S (40000)\n"
          "         --min-size B (0)  --max-size B (1400)  --drain S (1)  --max-loss R (0.001)\n"
          "         --late S (0.5)  --expect-discard  --timeout S overall (60)\n"
          "sizes:   --sizes B,B,...  --expect-none B,B,...  --retries N (2)\n"
          "         --timeout S per attempt (1)\n"
          "flood:   --sockets N (4)  --senders N threads (1)  --seconds S (3)\n"
          "         --min-size B (64)  --max-size B (1400)  --probe-interval S (0.01)\n"
          "         --min-probe-ratio R (0.5)  --drain S (1)\n"
          "HOST is an IPv4 or IPv6 literal ([::1] and fe80::1%lo accepted).\n",
          out);
}

static bool dc_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;

    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool dc_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v;

    if (!dc_parse_u64(s, lo, hi, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool dc_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;

    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* Parses "a,b,c" into list; false on a bad number or too many. */
static bool dc_parse_list(const char *s, uint32_t *list, unsigned *n)
{
    char buf[1024], *save = NULL;

    if (strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    *n = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == DC_MAX_SIZES || !dc_parse_u32(tok, 0, DC_MAX_DGRAM, &list[*n]))
            return false;
        (*n)++;
    }
    return *n > 0;
}

enum {
    DC_OPT_FLOWS = 256,
    DC_OPT_COUNT,
    DC_OPT_RATE,
    DC_OPT_MIN_SIZE,
    DC_OPT_MAX_SIZE,
    DC_OPT_DRAIN,
    DC_OPT_MAX_LOSS,
    DC_OPT_LATE,
    DC_OPT_EXPECT_DISCARD,
    DC_OPT_TIMEOUT,
    DC_OPT_SEED,
    DC_OPT_BIND,
    DC_OPT_SIZES,
    DC_OPT_EXPECT_NONE,
    DC_OPT_RETRIES,
    DC_OPT_SOCKETS,
    DC_OPT_SENDERS,
    DC_OPT_SECONDS,
    DC_OPT_PROBE_INTERVAL,
    DC_OPT_MIN_PROBE_RATIO,
    DC_OPT_HELP,
};

static const struct option dc_long_opts[] = {
    {"flows", required_argument, NULL, DC_OPT_FLOWS},
    {"count", required_argument, NULL, DC_OPT_COUNT},
    {"rate", required_argument, NULL, DC_OPT_RATE},
    {"min-size", required_argument, NULL, DC_OPT_MIN_SIZE},
    {"max-size", required_argument, NULL, DC_OPT_MAX_SIZE},
    {"drain", required_argument, NULL, DC_OPT_DRAIN},
    {"max-loss", required_argument, NULL, DC_OPT_MAX_LOSS},
    {"late", required_argument, NULL, DC_OPT_LATE},
    {"expect-discard", no_argument, NULL, DC_OPT_EXPECT_DISCARD},
    {"timeout", required_argument, NULL, DC_OPT_TIMEOUT},
    {"seed", required_argument, NULL, DC_OPT_SEED},
    {"bind", required_argument, NULL, DC_OPT_BIND},
    {"sizes", required_argument, NULL, DC_OPT_SIZES},
    {"expect-none", required_argument, NULL, DC_OPT_EXPECT_NONE},
    {"retries", required_argument, NULL, DC_OPT_RETRIES},
    {"sockets", required_argument, NULL, DC_OPT_SOCKETS},
    {"senders", required_argument, NULL, DC_OPT_SENDERS},
    {"seconds", required_argument, NULL, DC_OPT_SECONDS},
    {"probe-interval", required_argument, NULL, DC_OPT_PROBE_INTERVAL},
    {"min-probe-ratio", required_argument, NULL, DC_OPT_MIN_PROBE_RATIO},
    {"help", no_argument, NULL, DC_OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Fills o from argv; returns 0, or DC_EXIT_USAGE after printing why. */
static int dc_parse_args(int argc, char **argv, struct dc_opts *o)
{
    const char *bind_host = NULL;
    double timeout = -1, drain = -1;
    uint32_t min_size = UINT32_MAX, max_size = UINT32_MAX;
    bool ok = true;
    int c;

    if (argc < 2) {
        dc_usage(stderr);
        return DC_EXIT_USAGE;
    }
    if (strcmp(argv[1], "flows") == 0) {
        o->cmd = DC_CMD_FLOWS;
    } else if (strcmp(argv[1], "sizes") == 0) {
        o->cmd = DC_CMD_SIZES;
    } else if (strcmp(argv[1], "flood") == 0) {
        o->cmd = DC_CMD_FLOOD;
    } else if (strcmp(argv[1], "--help") == 0) {
        dc_usage(stdout);
        exit(DC_EXIT_OK);
    } else {
        fprintf(stderr, "dgramcheck: unknown sub-command '%s'\n", argv[1]);
        dc_usage(stderr);
        return DC_EXIT_USAGE;
    }
    *o = (struct dc_opts){.cmd = o->cmd,
                          .flows = 8,
                          .sockets = 4,
                          .senders = 1,
                          .count = 100000,
                          .rate = 40000,
                          .max_loss = 0.001,
                          .late = 0.5,
                          .seed = 1,
                          .retries = 2,
                          .seconds = 3,
                          .probe_interval = 0.01,
                          .min_probe_ratio = 0.5};
    argc--;
    argv++;
    optind = 1;
    while (ok && (c = getopt_long(argc, argv, "", dc_long_opts, NULL)) != -1) {
        switch (c) {
        case DC_OPT_FLOWS:
            ok = dc_parse_u32(optarg, 1, DC_MAX_SOCKETS, &o->flows);
            break;
        case DC_OPT_COUNT:
            ok = dc_parse_u64(optarg, 1, 1ULL << 32, &o->count);
            break;
        case DC_OPT_RATE:
            ok = dc_parse_double(optarg, 1, 1e8, &o->rate);
            break;
        case DC_OPT_MIN_SIZE:
            ok = dc_parse_u32(optarg, 0, DC_MAX_DGRAM, &min_size);
            break;
        case DC_OPT_MAX_SIZE:
            ok = dc_parse_u32(optarg, 0, DC_MAX_DGRAM, &max_size);
            break;
        case DC_OPT_DRAIN:
            ok = dc_parse_double(optarg, 0, 600, &drain);
            break;
        case DC_OPT_MAX_LOSS:
            ok = dc_parse_double(optarg, 0, 1, &o->max_loss);
            break;
        case DC_OPT_LATE:
            ok = dc_parse_double(optarg, 0, 600, &o->late);
            break;
        case DC_OPT_EXPECT_DISCARD:
            o->expect_discard = true;
            break;
        case DC_OPT_TIMEOUT:
            ok = dc_parse_double(optarg, 0.001, 3600, &timeout);
            break;
        case DC_OPT_SEED:
            ok = dc_parse_u64(optarg, 0, UINT64_MAX, &o->seed);
            break;
        case DC_OPT_BIND:
            bind_host = optarg;
            break;
        case DC_OPT_SIZES:
            ok = dc_parse_list(optarg, o->sizes, &o->nsizes);
            break;
        case DC_OPT_EXPECT_NONE:
            ok = dc_parse_list(optarg, o->none, &o->nnone);
            break;
        case DC_OPT_RETRIES:
            ok = dc_parse_u32(optarg, 0, 100, &o->retries);
            break;
        case DC_OPT_SOCKETS:
            ok = dc_parse_u32(optarg, 1, DC_MAX_SOCKETS, &o->sockets);
            break;
        case DC_OPT_SENDERS:
            ok = dc_parse_u32(optarg, 1, DC_MAX_SOCKETS, &o->senders);
            break;
        case DC_OPT_SECONDS:
            ok = dc_parse_double(optarg, 0.01, 600, &o->seconds);
            break;
        case DC_OPT_PROBE_INTERVAL:
            ok = dc_parse_double(optarg, 0.001, 10, &o->probe_interval);
            break;
        case DC_OPT_MIN_PROBE_RATIO:
            ok = dc_parse_double(optarg, 0, 1, &o->min_probe_ratio);
            break;
        case DC_OPT_HELP:
            dc_usage(stdout);
            exit(DC_EXIT_OK);
        default:
            dc_usage(stderr);
            return DC_EXIT_USAGE;
        }
        if (!ok)
            fprintf(stderr, "dgramcheck: bad value '%s' for option %s\n", optarg, argv[optind - 1]);
    }
    if (!ok)
        return DC_EXIT_USAGE;
    if (argc - optind != 2) {
        fprintf(stderr, "dgramcheck: want HOST PORT after the options\n");
        dc_usage(stderr);
        return DC_EXIT_USAGE;
    }
    if (dc_addr_parse(argv[optind], argv[optind + 1], &o->addr, &o->addrlen) < 0 ||
        dc_addr_port(&o->addr) == 0) {
        fprintf(stderr, "dgramcheck: bad address %s port %s\n", argv[optind], argv[optind + 1]);
        return DC_EXIT_USAGE;
    }
    if (bind_host) {
        if (dc_bind_parse(bind_host, &o->bind_addr, &o->bind_len) < 0 ||
            o->bind_addr.ss_family != o->addr.ss_family) {
            fprintf(stderr, "dgramcheck: bad --bind address '%s'\n", bind_host);
            return DC_EXIT_USAGE;
        }
        /* One socket may hold a fixed source port: flows with one flow, or sizes. */
        if (dc_addr_port(&o->bind_addr) != 0 &&
            (o->cmd == DC_CMD_FLOOD || (o->cmd == DC_CMD_FLOWS && o->flows != 1))) {
            fprintf(stderr, "dgramcheck: --bind with a port wants sizes or flows --flows 1\n");
            return DC_EXIT_USAGE;
        }
    }
    bool flood = o->cmd == DC_CMD_FLOOD;
    o->min_size = min_size != UINT32_MAX ? min_size : flood ? 64 : 0;
    o->max_size = max_size != UINT32_MAX ? max_size : 1400;
    o->timeout = timeout > 0 ? timeout : o->cmd == DC_CMD_SIZES ? 1 : 60;
    o->drain = drain >= 0 ? drain : 1;
    if (o->min_size > o->max_size || (flood && o->max_size == 0)) {
        fprintf(stderr, "dgramcheck: want 0 <= --min-size <= --max-size\n");
        return DC_EXIT_USAGE;
    }
    if (o->cmd == DC_CMD_SIZES && o->nsizes == 0) {
        fprintf(stderr, "dgramcheck: sizes wants --sizes\n");
        return DC_EXIT_USAGE;
    }
    if (flood && o->senders > o->sockets)
        o->senders = o->sockets;
    return 0;
}

int main(int argc, char **argv)
{
    struct dc_opts o = {0};
    int rc = dc_parse_args(argc, argv, &o);

    if (rc)
        return rc;
    setvbuf(stdout, NULL, _IOLBF, 0);
    switch (o.cmd) {
    case DC_CMD_FLOWS:
        return dc_cmd_flows(&o);
    case DC_CMD_SIZES:
        return dc_cmd_sizes(&o);
    case DC_CMD_FLOOD:
        return dc_cmd_flood(&o);
    }
    return DC_EXIT_USAGE;
}
