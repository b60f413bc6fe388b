/*
 * sockperfcheck: integration-test client for ringsock's sockperf responder. It speaks
 * sockperf's message format (a 14-byte big-endian header: sequence u64, flags u16, whole
 * length u32; then the payload) and checks every answer byte for byte: an answer is the
 * message with flag 0x1 cleared, and only messages flagged 0x1|0x2 without 0x4 get one.
 *
 *   sockperfcheck tcp HOST PORT [--count N] [--max-size N] [--write 1|random|whole|msg]
 *                 [--pace-us N] [--seed N] [--timeout S]
 *       N messages of random sizes (14..max-size) and flags (most ask for an answer; some are
 *       client-only, warm-up or not from a client), written 1 byte at a time, in random-sized
 *       writes (so headers and payloads split anywhere), as large as the socket takes
 *       (coalesced) or one message a write; --pace-us waits between writes. Every answer must
 *       come back exact and in order; after our FIN the server must close.
 *   sockperfcheck tcp-bad HOST PORT --kind K [--count N] [--max-msg N] [--timeout S]
 *       N good messages, then one protocol error K: short-len (length field 5), huge-len
 *       (0xfffffff0), over-max (--max-msg + 1), eof-header (FIN inside a header) or
 *       eof-payload (FIN inside a payload). The N answers must come back exact, then EOF.
 *   sockperfcheck tcp-noread HOST PORT [--conns N] [--count N] [--max-size N] [--stall S]
 *                 [--pid PID] [--rss-max-kb KB] [--seed N] [--timeout S]
 *       --conns connections each pipeline N messages asking for an answer (random sizes up to
 *       max-size) and read nothing for --stall seconds (default 3), writing what their sockets
 *       take, while the server's RSS (VmRSS of --pid) is sampled every 100 ms: it may grow by
 *       at most --rss-max-kb. Then all read (and write the rest): every answer exact and in
 *       order, then FIN and the server's close.
 *   sockperfcheck udp-bad HOST PORT [--max-msg N] [--timeout S]
 *       Malformed datagrams (empty, shorter than a header, length field not the datagram's
 *       length, longer than --max-msg), messages that ask for no answer, and messages that
 *       do, interleaved: exactly the last kind must come back, exact, once each.
 *
 * The last stdout line holds key=value counts: sent, answered, unanswered, malformed,
 * received. Only libc is used. Exit status: 0 success, 1 verification failure, 2 usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR 14

struct opts {
    const char *mode;
    struct sockaddr_storage addr;
    socklen_t alen;
    unsigned count;
    unsigned max_size;
    const char *write;
    unsigned pace_us;
    uint64_t seed;
    double timeout;
    const char *kind;
    unsigned max_msg;
    size_t *ends; /* --write msg: where each message ends in the output */
    unsigned conns;
    double stall;
    int pid;
    long rss_max_kb;
};

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sockperfcheck: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(code);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return n ? rng_next(s) % n : 0;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

/* Writes a message (header, then payload from the generator) of len bytes at p, or only its
 * header's first min(len, HDR) bytes if len < HDR; the length field says field_len. */
static void msg_put(unsigned char *p, uint64_t seq, uint16_t flags, uint32_t field_len, size_t len,
                    uint64_t *rng)
{
    unsigned char h[HDR];
    put_be(h, seq, 8);
    put_be(h + 8, flags, 2);
    put_be(h + 10, field_len, 4);
    memcpy(p, h, len < HDR ? len : HDR);
    for (size_t i = HDR; i < len; i++)
        p[i] = (unsigned char)rng_next(rng);
}

static bool wants_answer(uint16_t flags)
{
    return (flags & 0x7) == 0x3;
}

/* A growing byte buffer. */
struct bytes {
    unsigned char *p;
    size_t len, cap;
};

static unsigned char *bytes_add(struct bytes *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            die(1, "out of memory");
        b->cap = cap;
    }
    unsigned char *at = b->p + b->len;
    b->len += n;
    return at;
}

/* Appends a message to out and, if it asks for one, its answer to want. */
static void add_msg(struct bytes *out, struct bytes *want, uint64_t seq, uint16_t flags,
                    uint32_t len, uint64_t *rng, unsigned *answered, unsigned *unanswered)
{
    unsigned char *m = bytes_add(out, len);
    msg_put(m, seq, flags, len, len, rng);
    if (!wants_answer(flags)) {
        (*unanswered)++;
        return;
    }
    unsigned char *a = bytes_add(want, len);
    memcpy(a, m, len);
    a[9] &= (unsigned char)~1u;
    (*answered)++;
}

static int tcp_connect(const struct opts *o)
{
    int fd = socket(o->addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        die(1, "socket: %s", strerror(errno));
    if (connect(fd, (const struct sockaddr *)&o->addr, o->alen) < 0)
        die(1, "connect: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Sends out (in writes shaped by o->write, paced by o->pace_us) while reading; the bytes read
 * must be exactly want. With fin, shuts down writing once everything is sent. Afterwards
 * the server must close (EOF or reset) within the timeout. Returns 0 or 1. */
static int tcp_exchange(const struct opts *o, int fd, const struct bytes *out,
                        const struct bytes *want, bool fin, uint64_t *rng, size_t *received)
{
    size_t sent = 0, got = 0;
    double deadline = now_s() + o->timeout, next_write = 0;
    bool shut = false;
    static unsigned char buf[1 << 16];

    for (;;) {
        double now = now_s();
        if (now > deadline) {
            fprintf(stderr,
                    "sockperfcheck: timeout: sent %zu of %zu bytes, received %zu of %zu answer "
                    "bytes, no close from the server\n",
                    sent, out->len, got, want->len);
            return 1;
        }
        if (sent == out->len && fin && !shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        bool can_write = sent < out->len && now >= next_write;
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (can_write ? POLLOUT : 0)};
        int wait_ms = 50;
        if (sent < out->len && !can_write)
            wait_ms = (int)((next_write - now) * 1000) + 1;
        if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
            die(1, "poll: %s", strerror(errno));
        if (pfd.revents & POLLOUT) {
            size_t n = out->len - sent;
            if (strcmp(o->write, "1") == 0)
                n = 1;
            else if (strcmp(o->write, "random") == 0 && n > 1)
                n = 1 + (size_t)rng_below(rng, n < 2ull * o->max_size ? n : 2ull * o->max_size);
            else if (strcmp(o->write, "msg") == 0)
                for (size_t i = 0;; i++)
                    if (o->ends[i] > sent) {
                        n = o->ends[i] - sent;
                        break;
                    }
            ssize_t w = send(fd, out->p + sent, n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "sockperfcheck: send: %s after %zu bytes\n", strerror(errno), sent);
                return 1;
            }
            if (w > 0)
                sent += (size_t)w;
            if (o->pace_us)
                next_write = now_s() + o->pace_us / 1e6;
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0) {
                *received = got;
                if (got != want->len) {
                    fprintf(stderr, "sockperfcheck: server %s after %zu of %zu answer bytes\n",
                            r == 0 ? "closed" : strerror(errno), got, want->len);
                    return 1;
                }
                if (sent < out->len && !fin) {
                    fprintf(stderr, "sockperfcheck: server closed with %zu bytes unsent\n",
                            out->len - sent);
                    return 1;
                }
                return 0;
            }
            if (got + (size_t)r > want->len) {
                fprintf(stderr, "sockperfcheck: %zu bytes more than the %zu answer bytes due\n",
                        got + (size_t)r - want->len, want->len);
                return 1;
            }
            if (memcmp(buf, want->p + got, (size_t)r) != 0) {
                size_t i = 0;
                while (buf[i] == want->p[got + i])
                    i++;
                fprintf(stderr,
                        "sockperfcheck: answer byte %zu is 0x%02x, expected 0x%02x (answers "
                        "must be the messages, flag 0x1 cleared, in order)\n",
                        got + i, buf[i], want->p[got + i]);
                return 1;
            }
            got += (size_t)r;
        }
    }
}

static int tcp_main(struct opts *o)
{
    struct bytes out = {0}, want = {0};
    uint64_t rng = o->seed | 1;
    unsigned answered = 0, unanswered = 0;
    /* Most messages ask for an answer, as sockperf's pp and ul clients do; the rest must be
     * passed over without breaking the framing of what follows. */
    static const uint16_t flags[] = {0x3, 0x3, 0x3, 0x3, 0x3, 0x1, 0x1, 0x7, 0x2, 0x0, 0x8003};

    o->ends = calloc(o->count + 1, sizeof(*o->ends));
    if (!o->ends)
        die(1, "out of memory");

    for (unsigned i = 0; i < o->count; i++) {
        uint16_t f = flags[rng_below(&rng, sizeof(flags) / sizeof(flags[0]))];
        /* Mostly small, some up to max-size, some header-only. */
        uint32_t len =
            HDR + (uint32_t)rng_below(&rng, rng_below(&rng, 4) == 0 ? o->max_size - HDR + 1
                                                                    : (o->max_size - HDR) / 16 + 1);
        add_msg(&out, &want, i + 1, f, len, &rng, &answered, &unanswered);
        o->ends[i] = out.len;
    }
    int fd = tcp_connect(o);
    size_t received = 0;
    int rc = tcp_exchange(o, fd, &out, &want, true, &rng, &received);
    close(fd);
    printf("sent=%u answered=%u unanswered=%u malformed=0 bytes_sent=%zu bytes_received=%zu "
           "result=%s\n",
           o->count, answered, unanswered, out.len, received, rc ? "FAIL" : "ok");
    free(out.p);
    free(want.p);
    free(o->ends);
    return rc;
}

static int tcp_bad_main(const struct opts *o)
{
    struct bytes out = {0}, want = {0};
    uint64_t rng = o->seed | 1;
    unsigned answered = 0, unanswered = 0;
    bool fin = false;

    for (unsigned i = 0; i < o->count; i++)
        add_msg(&out, &want, i + 1, 0x3, HDR + (uint32_t)rng_below(&rng, 200), &rng, &answered,
                &unanswered);
    uint64_t seq = o->count + 1;
    unsigned char *p;
    if (strcmp(o->kind, "short-len") == 0) {
        p = bytes_add(&out, HDR + 20);
        msg_put(p, seq, 0x3, 5, HDR + 20, &rng);
    } else if (strcmp(o->kind, "huge-len") == 0) {
        p = bytes_add(&out, HDR + 20);
        msg_put(p, seq, 0x3, 0xfffffff0u, HDR + 20, &rng);
    } else if (strcmp(o->kind, "over-max") == 0) {
        p = bytes_add(&out, HDR);
        msg_put(p, seq, 0x3, o->max_msg + 1, HDR, &rng);
    } else if (strcmp(o->kind, "eof-header") == 0) {
        p = bytes_add(&out, 10);
        msg_put(p, seq, 0x3, 64, 10, &rng);
        fin = true;
    } else if (strcmp(o->kind, "eof-payload") == 0) {
        p = bytes_add(&out, 40);
        msg_put(p, seq, 0x3, 100, 40, &rng);
        fin = true;
    } else {
        die(2, "unknown --kind '%s'", o->kind);
    }
    /* Everything in one write, so the server reads the error with what precedes it and closes
     * with nothing unread (a FIN, not a reset that could destroy the answers on their way). */
    struct opts whole = *o;
    whole.write = "whole";
    whole.pace_us = 0;
    int fd = tcp_connect(o);
    size_t received = 0;
    int rc = tcp_exchange(&whole, fd, &out, &want, fin, &rng, &received);
    close(fd);
    printf("sent=%u answered=%u unanswered=0 malformed=1 bytes_received=%zu result=%s\n",
           o->count + 1, answered, received, rc ? "FAIL" : "ok");
    free(out.p);
    free(want.p);
    return rc;
}

static long rss_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* One pipelining connection of tcp-noread. */
struct piper {
    int fd;
    struct bytes out, want;
    size_t sent, got;
    bool shut, done;
};

/* Writes what p's socket takes; shuts down writing once all is sent if fin. */
static void piper_write(struct piper *p, bool fin, unsigned i)
{
    while (p->sent < p->out.len) {
        ssize_t w =
            send(p->fd, p->out.p + p->sent, p->out.len - p->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            die(1, "conn %u: send: %s after %zu bytes", i, strerror(errno), p->sent);
        }
        p->sent += (size_t)w;
    }
    if (fin && !p->shut) {
        shutdown(p->fd, SHUT_WR);
        p->shut = true;
    }
}

/* Reads what p has, checking it; done once the server closed after every answer. */
static void piper_read(struct piper *p, unsigned i)
{
    static unsigned char buf[1 << 16];
    for (;;) {
        ssize_t r = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            if (p->got != p->want.len || !p->shut)
                die(1, "conn %u: server %s after %zu of %zu answer bytes (%zu of %zu sent)", i,
                    r == 0 ? "closed" : strerror(errno), p->got, p->want.len, p->sent, p->out.len);
            p->done = true;
            return;
        }
        if (p->got + (size_t)r > p->want.len)
            die(1, "conn %u: %zu bytes more than the answers due", i,
                p->got + (size_t)r - p->want.len);
        if (memcmp(buf, p->want.p + p->got, (size_t)r) != 0) {
            size_t k = 0;
            while (buf[k] == p->want.p[p->got + k])
                k++;
            die(1, "conn %u: answer byte %zu is 0x%02x, expected 0x%02x", i, p->got + k, buf[k],
                p->want.p[p->got + k]);
        }
        p->got += (size_t)r;
    }
}

static int tcp_noread_main(const struct opts *o)
{
    uint64_t rng = o->seed | 1;
    unsigned answered = 0, unanswered = 0;
    struct piper *ps = calloc(o->conns, sizeof(*ps));
    struct pollfd *pf = calloc(o->conns, sizeof(*pf));
    if (!ps || !pf)
        die(1, "out of memory");
    for (unsigned i = 0; i < o->conns; i++) {
        for (unsigned m = 0; m < o->count; m++)
            add_msg(&ps[i].out, &ps[i].want, m + 1, 0x3,
                    HDR + (uint32_t)rng_below(&rng, o->max_size - HDR + 1), &rng, &answered,
                    &unanswered);
        ps[i].fd = tcp_connect(o);
    }
    usleep(200000); /* accepted before the first sample */
    long base = o->pid ? rss_kb(o->pid) : 0, peak = base;
    double t0 = now_s();
    while (now_s() - t0 < o->stall) {
        for (unsigned i = 0; i < o->conns; i++)
            piper_write(&ps[i], false, i);
        usleep(100000);
        if (o->pid) {
            long r = rss_kb(o->pid);
            if (r < 0)
                die(1, "server pid %d: no VmRSS (gone?)", o->pid);
            peak = r > peak ? r : peak;
        }
    }
    size_t sent = 0, total = 0;
    for (unsigned i = 0; i < o->conns; i++) {
        sent += ps[i].sent;
        total += ps[i].out.len;
    }
    if (o->pid)
        printf("stall: server RSS %ld -> peak %ld KiB (+%ld KiB); %zu of %zu bytes taken\n", base,
               peak, peak - base, sent, total);
    else
        printf("stall: %zu of %zu bytes taken\n", sent, total);
    fflush(stdout);
    if (o->rss_max_kb >= 0 && peak - base > o->rss_max_kb)
        die(1, "server RSS grew by %ld KiB while nothing was read, bound %ld KiB", peak - base,
            o->rss_max_kb);
    unsigned open = o->conns;
    double deadline = now_s() + o->timeout;
    while (open > 0) {
        if (now_s() > deadline)
            die(1, "%u connections unfinished after %.0f s", open, o->timeout);
        unsigned n = 0;
        for (unsigned i = 0; i < o->conns; i++)
            if (!ps[i].done)
                pf[n++] = (struct pollfd){
                    .fd = ps[i].fd,
                    .events = (short)(POLLIN | (ps[i].sent < ps[i].out.len ? POLLOUT : 0))};
        if (poll(pf, n, 100) < 0 && errno != EINTR)
            die(1, "poll: %s", strerror(errno));
        for (unsigned i = 0; i < o->conns; i++) {
            if (ps[i].done)
                continue;
            piper_write(&ps[i], true, i);
            piper_read(&ps[i], i);
            if (ps[i].done) {
                close(ps[i].fd);
                open--;
            }
        }
    }
    size_t received = 0;
    for (unsigned i = 0; i < o->conns; i++) {
        received += ps[i].got;
        free(ps[i].out.p);
        free(ps[i].want.p);
    }
    printf("sent=%u answered=%u unanswered=%u malformed=0 bytes_sent=%zu bytes_received=%zu "
           "result=ok\n",
           o->conns * o->count, answered, unanswered, total, received);
    free(ps);
    free(pf);
    return 0;
}

struct dgram {
    unsigned char b[2048];
    size_t len;
    bool answer;
    bool seen;
};

static int udp_bad_main(const struct opts *o)
{
    static struct dgram d[64];
    unsigned n = 0, answered = 0, unanswered = 0, malformed = 0, received = 0;
    uint64_t rng = o->seed | 1, seq = 1;

#define MSG(flags, field, size)                                                                    \
    do {                                                                                           \
        msg_put(d[n].b, seq++, (flags), (field), (size), &rng);                                    \
        d[n].len = (size);                                                                         \
        n++;                                                                                       \
    } while (0)
    for (int round = 0; round < 2; round++) {
        MSG(0x3, 0, 0);        /* empty */
        MSG(0x3, 64, 64);      /* answered */
        MSG(0x3, 13, 1);       /* one byte */
        MSG(0x1, 64, 64);      /* client only: no answer */
        MSG(0x3, 13, 13);      /* shorter than a header */
        MSG(0x3, 14, 14);      /* header only: answered */
        MSG(0x3, 20, 64);      /* length field short of the datagram */
        MSG(0x7, 200, 200);    /* warm-up: no answer */
        MSG(0x3, 100, 64);     /* length field past the datagram */
        MSG(0x8003, 200, 200); /* answered, high bit kept */
        MSG(0x3, 0, 64);       /* length field 0 */
        MSG(0x2, 64, 64);      /* not from a client: no answer */
        MSG(0x3, 0xffffffffu, 64);
        MSG(0x3, 1000, 1000); /* answered */
        MSG(0x0, 64, 64);     /* no answer */
        if (o->max_msg && o->max_msg < sizeof(d[0].b))
            MSG(0x3, o->max_msg + 1, o->max_msg + 1); /* over --max-msg */
    }
#undef MSG
    for (unsigned i = 0; i < n; i++) {
        uint32_t field = d[i].len >= HDR ? (uint32_t)d[i].b[10] << 24 | (uint32_t)d[i].b[11] << 16 |
                                               (uint32_t)d[i].b[12] << 8 | d[i].b[13]
                                         : 0;
        uint16_t flags = d[i].len >= HDR ? (uint16_t)(d[i].b[8] << 8 | d[i].b[9]) : 0;
        bool ok = d[i].len >= HDR && field == d[i].len && (!o->max_msg || field <= o->max_msg);
        d[i].answer = ok && wants_answer(flags);
        if (!ok)
            malformed++;
        else if (d[i].answer)
            answered++;
        else
            unanswered++;
    }

    int fd = socket(o->addr.ss_family, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)&o->addr, o->alen) < 0)
        die(1, "udp socket: %s", strerror(errno));
    for (unsigned i = 0; i < n; i++) {
        if (send(fd, d[i].b, d[i].len, 0) != (ssize_t)d[i].len)
            die(1, "send: %s", strerror(errno));
        usleep(1000);
    }
    int rc = 0;
    double deadline = now_s() + o->timeout;
    for (;;) {
        /* Wait for the answers due, then a little longer for any that should not come. */
        double left = received < answered ? deadline - now_s() : 0.3;
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0) {
            if (received < answered)
                continue;
            break;
        }
        unsigned char buf[4096];
        ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r < 0)
            continue;
        received++;
        unsigned i = 0;
        for (; i < n; i++)
            if (d[i].answer && !d[i].seen && (size_t)r == d[i].len && r >= HDR &&
                memcmp(buf, d[i].b, 9) == 0 && buf[9] == (d[i].b[9] & ~1u) &&
                memcmp(buf + 10, d[i].b + 10, (size_t)r - 10) == 0)
                break;
        if (i == n) {
            fprintf(stderr,
                    "sockperfcheck: unexpected datagram of %zd bytes (not one answer due)\n", r);
            rc = 1;
            continue;
        }
        d[i].seen = true;
    }
    for (unsigned i = 0; i < n; i++)
        if (d[i].answer && !d[i].seen) {
            fprintf(stderr, "sockperfcheck: no answer to datagram %u (%zu bytes)\n", i, d[i].len);
            rc = 1;
        }
    close(fd);
    printf("sent=%u answered=%u unanswered=%u malformed=%u received=%u result=%s\n", n, answered,
           unanswered, malformed, received, rc ? "FAIL" : "ok");
    return rc;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: sockperfcheck tcp|tcp-bad|tcp-noread|udp-bad HOST PORT [--count N]\n"
            "       [--max-size N] [--conns N] [--stall S] [--pid PID] [--rss-max-kb KB]\n"
            "       [--write 1|random|whole|msg] [--pace-us N] [--seed N] [--timeout S]\n"
            "       [--kind short-len|huge-len|over-max|eof-header|eof-payload] [--max-msg N]\n");
    exit(2);
}

static unsigned long parse_num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end)
        die(2, "bad %s '%s'", what, s);
    return v;
}

int main(int argc, char **argv)
{
    struct opts o = {.count = 1000,
                     .max_size = 1500,
                     .write = "random",
                     .seed = 1,
                     .timeout = 30,
                     .kind = "",
                     .max_msg = 0,
                     .conns = 1,
                     .stall = 3,
                     .rss_max_kb = -1};
    if (argc < 4)
        usage();
    o.mode = argv[1];
    struct sockaddr_in *a4 = (struct sockaddr_in *)&o.addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&o.addr;
    unsigned long port = parse_num(argv[3], "port");
    if (port > 65535)
        die(2, "bad port '%s'", argv[3]);
    if (inet_pton(AF_INET, argv[2], &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        o.alen = sizeof(*a4);
    } else if (inet_pton(AF_INET6, argv[2], &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        o.alen = sizeof(*a6);
    } else {
        die(2, "bad address '%s' (want a literal IPv4 or IPv6 address)", argv[2]);
    }
    for (int i = 4; i < argc; i++) {
        const char *f = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(f, "--count") == 0)
            o.count = (unsigned)parse_num(v, f);
        else if (strcmp(f, "--max-size") == 0)
            o.max_size = (unsigned)parse_num(v, f);
        else if (strcmp(f, "--write") == 0)
            o.write = v;
        else if (strcmp(f, "--pace-us") == 0)
            o.pace_us = (unsigned)parse_num(v, f);
        else if (strcmp(f, "--seed") == 0)
            o.seed = parse_num(v, f);
        else if (strcmp(f, "--timeout") == 0)
            o.timeout = (double)parse_num(v, f);
        else if (strcmp(f, "--kind") == 0)
            o.kind = v;
        else if (strcmp(f, "--max-msg") == 0)
            o.max_msg = (unsigned)parse_num(v, f);
        else if (strcmp(f, "--conns") == 0)
            o.conns = (unsigned)parse_num(v, f);
        else if (strcmp(f, "--stall") == 0)
            o.stall = (double)parse_num(v, f);
        else if (strcmp(f, "--pid") == 0)
            o.pid = (int)parse_num(v, f);
        else if (strcmp(f, "--rss-max-kb") == 0)
            o.rss_max_kb = (long)parse_num(v, f);
        else
            usage();
    }
    if (o.max_size < HDR || o.max_size > (1u << 24))
        die(2, "--max-size must be 14..16m");
    if (strcmp(o.write, "1") && strcmp(o.write, "random") && strcmp(o.write, "whole") &&
        strcmp(o.write, "msg"))
        die(2, "--write must be 1, random, whole or msg");
    if (strcmp(o.mode, "tcp") == 0)
        return tcp_main(&o);
    if (strcmp(o.mode, "tcp-bad") == 0) {
        if (strcmp(o.kind, "over-max") == 0 && !o.max_msg)
            die(2, "--kind over-max needs --max-msg");
        return tcp_bad_main(&o);
    }
    if (strcmp(o.mode, "tcp-noread") == 0)
        return tcp_noread_main(&o);
    if (strcmp(o.mode, "udp-bad") == 0)
        return udp_bad_main(&o);
    usage();
}
