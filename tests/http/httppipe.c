/* httppipe: pipelining pressure on the HTTP responder. Opens --conns connections to
 * 127.0.0.1:PORT; on each, writes --requests pipelined requests (all at once, as far as the
 * socket takes them) and reads nothing for --stall seconds, sampling the server's RSS
 * (VmRSS of --pid) every 100 ms; then reads the answers on every connection at once and checks
 * each, in order, byte for byte: status, Content-Length and body.
 *
 *   httppipe [options] PORT
 *     --conns N        connections (default 1)
 *     --requests N     requests per connection (default 1)
 *     --size N         every request is GET /bytes/N (default 1048576)
 *     --mix N          instead, a mix cycling GET /bytes/k (k in 0..N), GET /, POST / with a
 *                      Content-Length body, HEAD /bytes/k, GET /healthz
 *     --body STR       the server's fixed body (--body), for GET / and POST / (default "hi\n")
 *     --close-last     the last request asks Connection: close: EOF must follow its answer
 *     --partial        after the requests, an unfinished head: a 408 must follow the answers
 *     --shut           half-close after the requests: EOF must follow the last answer
 *     --expect-cut     the server must end every connection (EOF or reset) before all its
 *                      answers came (a keep-alive timeout while nothing is read); the answers
 *                      that did come are still checked
 *     --read N         answers read per connection before closing it (default: all)
 *     --read-all N     but the first N connections read all of theirs (default 1)
 *     --stall S        seconds without reading (default 3)
 *     --pid PID        the server, whose RSS is sampled during the stall
 *     --rss-max-kb KB  fail if the RSS grew by more than KB during the stall (needs --pid)
 *     --timeout S      bound on the read phase (default 60)
 *
 * The body of /bytes/N is N bytes of 'x'. Prints one summary line; exit 0 on success, 1 on a
 * failed check, 2 on a usage error. */

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

#define RBUF 65536

enum kind { K_BYTES, K_FIXED, K_HEALTHZ, K_HEAD, K_408 };

struct expect {
    enum kind kind;
    uint64_t len; /* Content-Length */
    bool closes;
};

struct conn {
    int fd;
    char *req;
    size_t req_len, req_off;
    struct expect *exp;
    unsigned nexp, got, want;
    bool eof_due; /* the last expected answer closes: EOF follows it */
    bool done, shut;
    char buf[RBUF];
    size_t blen;
    bool in_body;
    uint64_t body_pos;
};

static const char *g_body = "hi\n";
static bool g_shut, g_expect_cut;
static unsigned g_cut;
static size_t g_body_len = 3;
static uint64_t g_bytes_read, g_answers;

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("httppipe: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

/* Appends printf output to the growing buffer *b (length *len, capacity *cap). */
static void add(char **b, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(char **b, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*b + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0)
            die(2, "vsnprintf");
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        *cap = *cap * 2 + (size_t)n;
        *b = realloc(*b, *cap);
        if (!*b)
            die(2, "out of memory");
    }
}

/* Builds connection ci's requests and what each must be answered with. */
static void build(struct conn *c, unsigned ci, unsigned nreq, uint64_t size, long mix,
                  bool close_last, bool partial)
{
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    c->exp = calloc(nreq + 1, sizeof(*c->exp));
    if (!b || !c->exp)
        die(2, "out of memory");
    for (unsigned i = 0; i < nreq; i++) {
        const char *conn_hdr = close_last && i + 1 == nreq ? "Connection: close\r\n" : "";
        struct expect *e = &c->exp[i];
        e->closes = close_last && i + 1 == nreq;
        unsigned k = mix < 0 ? 0 : i % 5;
        uint64_t n =
            mix < 0 ? size : ((uint64_t)i * 7919u + (uint64_t)ci * 104729u) % (uint64_t)(mix + 1);
        switch (k) {
        case 0:
            add(&b, &len, &cap, "GET /bytes/%llu HTTP/1.1\r\nHost: t\r\n%s\r\n",
                (unsigned long long)n, conn_hdr);
            *e = (struct expect){K_BYTES, n, e->closes};
            break;
        case 1:
            add(&b, &len, &cap, "GET / HTTP/1.1\r\nHost: t\r\n%s\r\n", conn_hdr);
            *e = (struct expect){K_FIXED, g_body_len, e->closes};
            break;
        case 2: {
            unsigned blen = i % 97;
            add(&b, &len, &cap, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %u\r\n%s\r\n", blen,
                conn_hdr);
            for (unsigned j = 0; j < blen; j++)
                add(&b, &len, &cap, "%c", 'a' + (char)(j % 26));
            *e = (struct expect){K_FIXED, g_body_len, e->closes};
            break;
        }
        case 3:
            add(&b, &len, &cap, "HEAD /bytes/%llu HTTP/1.1\r\nHost: t\r\n%s\r\n",
                (unsigned long long)n, conn_hdr);
            *e = (struct expect){K_HEAD, n, e->closes};
            break;
        default:
            add(&b, &len, &cap, "GET /healthz HTTP/1.1\r\nHost: t\r\n%s\r\n", conn_hdr);
            *e = (struct expect){K_HEALTHZ, 3, e->closes};
            break;
        }
    }
    c->nexp = nreq;
    if (partial) {
        add(&b, &len, &cap, "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ");
        c->exp[c->nexp++] = (struct expect){K_408, 0, true};
    }
    c->req = b;
    c->req_len = len;
    c->eof_due = g_shut || (c->nexp > 0 && c->exp[c->nexp - 1].closes);
}

/* Writes what the socket takes of c's requests. */
static void write_some(struct conn *c, unsigned ci)
{
    while (c->req_off < c->req_len) {
        ssize_t n = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            die(1, "conn %u: send: %s", ci, strerror(errno));
        }
        c->req_off += (size_t)n;
    }
    if (g_shut && !c->shut) {
        shutdown(c->fd, SHUT_WR);
        c->shut = true;
    }
}

static const char *kind_name(enum kind k)
{
    static const char *names[] = {"GET /bytes", "GET /", "GET /healthz", "HEAD /bytes", "408"};
    return names[k];
}

/* Parses and checks the answers in c's buffer; returns false once c needs no more reading. */
static bool consume(struct conn *c, unsigned ci)
{
    size_t off = 0;
    while (off < c->blen && !c->done) {
        if (c->got >= c->nexp)
            die(1, "conn %u: %zu bytes after the last answer: %.40s", ci, c->blen - off,
                c->buf + off);
        const struct expect *e = &c->exp[c->got];
        if (!c->in_body) {
            char *p = c->buf + off;
            size_t left = c->blen - off;
            char *end = memmem(p, left, "\r\n\r\n", 4);
            if (!end) {
                if (left == RBUF)
                    die(1, "conn %u: answer %u: head longer than %d bytes", ci, c->got, RBUF);
                break;
            }
            size_t hlen = (size_t)(end - p) + 4;
            int status = -1;
            if (sscanf(p, "HTTP/1.1 %d ", &status) != 1)
                die(1, "conn %u: answer %u (%s): no status line: %.40s", ci, c->got,
                    kind_name(e->kind), p);
            int want_status = e->kind == K_408 ? 408 : 200;
            if (status != want_status)
                die(1, "conn %u: answer %u (%s): status %d, want %d", ci, c->got,
                    kind_name(e->kind), status, want_status);
            char *cl = memmem(p, hlen, "\r\nContent-Length: ", 18);
            if (!cl)
                die(1, "conn %u: answer %u: no Content-Length", ci, c->got);
            unsigned long long clen = strtoull(cl + 18, NULL, 10);
            if (e->kind != K_408 && clen != e->len)
                die(1, "conn %u: answer %u (%s): Content-Length %llu, want %llu", ci, c->got,
                    kind_name(e->kind), clen, (unsigned long long)e->len);
            bool says_close = memmem(p, hlen, "\r\nConnection: close\r\n", 21) != NULL;
            if (says_close != e->closes)
                die(1, "conn %u: answer %u (%s): Connection: close %s", ci, c->got,
                    kind_name(e->kind), says_close ? "unexpected" : "missing");
            off += hlen;
            c->in_body = true;
            c->body_pos = 0;
            if (e->kind == K_408)
                c->exp[c->got].len = clen;
        }
        uint64_t blen = e->kind == K_HEAD ? 0 : c->exp[c->got].len;
        size_t k = c->blen - off;
        if (k > blen - c->body_pos)
            k = (size_t)(blen - c->body_pos);
        const char *b = c->buf + off;
        static char xs[RBUF];
        if (!xs[0])
            memset(xs, 'x', sizeof(xs));
        /* /bytes bodies: compared in one go (k <= RBUF); byte by byte only to say where. */
        bool fast = e->kind == K_BYTES && memcmp(b, xs, k) == 0;
        for (size_t j = 0; !fast && j < k; j++) {
            uint64_t at = c->body_pos + j;
            char want = e->kind == K_BYTES     ? 'x'
                        : e->kind == K_FIXED   ? g_body[at]
                        : e->kind == K_HEALTHZ ? "ok\n"[at]
                                               : b[j];
            if (b[j] != want)
                die(1, "conn %u: answer %u (%s): body byte %llu is 0x%02x, want 0x%02x", ci, c->got,
                    kind_name(e->kind), (unsigned long long)at, (unsigned char)b[j],
                    (unsigned char)want);
        }
        c->body_pos += k;
        off += k;
        if (c->body_pos < blen)
            break;
        c->in_body = false;
        c->got++;
        g_answers++;
        if (c->got == c->want && !(c->got == c->nexp && c->eof_due))
            c->done = true;
    }
    memmove(c->buf, c->buf + off, c->blen - off);
    c->blen -= off;
    return !c->done;
}

/* Reads what c has; returns false once c needs no more reading. */
static bool read_some(struct conn *c, unsigned ci)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->blen, RBUF - c->blen, 0);
        if (g_expect_cut && (n == 0 || (n < 0 && errno == ECONNRESET))) {
            if (c->got == c->nexp)
                die(1, "conn %u: all %u answers came, and no cut", ci, c->nexp);
            g_cut++;
            c->done = true;
            return false;
        }
        if (n == 0) {
            if (c->got == c->nexp && c->eof_due && c->blen == 0 && !c->in_body) {
                c->done = true;
                return false;
            }
            die(1, "conn %u: EOF after %u of %u answers (%zu bytes pending)", ci, c->got, c->want,
                c->blen);
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return true;
            die(1, "conn %u: recv after %u of %u answers: %s", ci, c->got, c->want,
                strerror(errno));
        }
        g_bytes_read += (uint64_t)n;
        c->blen += (size_t)n;
        if (!consume(c, ci))
            return false;
    }
}

int main(int argc, char **argv)
{
    unsigned nconns = 1, nreq = 1, read_n = 0, read_all = 1;
    uint64_t size = 1048576;
    long mix = -1, rss_max = -1;
    int pid = 0;
    bool close_last = false, partial = false;
    double stall = 3, timeout = 60;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(a, "--conns") && has)
            nconns = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--requests") && has)
            nreq = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--size") && has)
            size = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--mix") && has)
            mix = atol(argv[++i]);
        else if (!strcmp(a, "--body") && has)
            g_body = argv[++i];
        else if (!strcmp(a, "--close-last"))
            close_last = true;
        else if (!strcmp(a, "--partial"))
            partial = true;
        else if (!strcmp(a, "--shut"))
            g_shut = true;
        else if (!strcmp(a, "--expect-cut"))
            g_expect_cut = true;
        else if (!strcmp(a, "--read") && has)
            read_n = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--read-all") && has)
            read_all = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--stall") && has)
            stall = atof(argv[++i]);
        else if (!strcmp(a, "--pid") && has)
            pid = atoi(argv[++i]);
        else if (!strcmp(a, "--rss-max-kb") && has)
            rss_max = atol(argv[++i]);
        else if (!strcmp(a, "--timeout") && has)
            timeout = atof(argv[++i]);
        else
            die(2, "unknown option %s (see the top of httppipe.c)", a);
    }
    if (i + 1 != argc || nconns == 0 || nreq == 0 || (rss_max >= 0 && pid <= 0))
        die(2, "usage: httppipe [options] PORT (see the top of httppipe.c)");
    g_body_len = strlen(g_body);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)atoi(argv[i])),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    struct conn *cs = calloc(nconns, sizeof(*cs));
    struct pollfd *pf = calloc(nconns, sizeof(*pf));
    if (!cs || !pf)
        die(2, "out of memory");
    for (unsigned ci = 0; ci < nconns; ci++) {
        struct conn *c = &cs[ci];
        build(c, ci, nreq, size, mix, close_last, partial);
        c->want = ci < read_all || read_n == 0 || read_n > c->nexp ? c->nexp : read_n;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (c->fd < 0)
            die(1, "socket: %s", strerror(errno));
        if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS)
            die(1, "connect: %s", strerror(errno));
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    usleep(200000); /* the connections are accepted before the base sample */
    long base = pid > 0 ? rss_kb(pid) : 0, peak = base;

    /* The stall: write, never read, sample the RSS. */
    double t0 = now_s();
    while (now_s() - t0 < stall) {
        unsigned nw = 0;
        for (unsigned ci = 0; ci < nconns; ci++)
            if (cs[ci].req_off < cs[ci].req_len)
                pf[nw++] = (struct pollfd){.fd = cs[ci].fd, .events = POLLOUT};
        if (nw > 0)
            poll(pf, nw, 100);
        else
            usleep(100000);
        for (unsigned ci = 0; ci < nconns; ci++)
            write_some(&cs[ci], ci);
        if (pid > 0) {
            long r = rss_kb(pid);
            if (r < 0)
                die(1, "server pid %d: no VmRSS (gone?)", pid);
            if (r > peak)
                peak = r;
        }
    }
    size_t unsent = 0;
    for (unsigned ci = 0; ci < nconns; ci++)
        unsent += cs[ci].req_len - cs[ci].req_off;
    if (pid > 0)
        printf("httppipe: stall %.1f s: server RSS %ld -> peak %ld KiB (+%ld KiB); %zu request "
               "bytes not yet taken\n",
               stall, base, peak, peak - base, unsent);
    else
        printf("httppipe: stall %.1f s: %zu request bytes not yet taken\n", stall, unsent);
    fflush(stdout);
    if (rss_max >= 0 && peak - base > rss_max)
        die(1, "server RSS grew by %ld KiB during the stall, bound %ld KiB", peak - base, rss_max);

    /* Read every connection at once (writing what is left), each answer checked. */
    unsigned open = nconns;
    double deadline = now_s() + timeout;
    while (open > 0) {
        if (now_s() > deadline)
            die(1, "read phase: %u connections unfinished after %.0f s", open, timeout);
        unsigned np = 0;
        for (unsigned ci = 0; ci < nconns; ci++) {
            if (cs[ci].done)
                continue;
            short ev = POLLIN;
            if (cs[ci].req_off < cs[ci].req_len)
                ev |= POLLOUT;
            pf[np++] = (struct pollfd){.fd = cs[ci].fd, .events = ev};
        }
        if (poll(pf, np, 1000) < 0 && errno != EINTR)
            die(1, "poll: %s", strerror(errno));
        for (unsigned ci = 0; ci < nconns; ci++) {
            struct conn *c = &cs[ci];
            if (c->done)
                continue;
            write_some(c, ci);
            if (!read_some(c, ci)) {
                close(c->fd);
                open--;
            }
        }
    }
    printf("httppipe: ok: %u connections (%u cut short by the server), %llu answers checked, "
           "%llu bytes read\n",
           nconns, g_cut, (unsigned long long)g_answers, (unsigned long long)g_bytes_read);
    for (unsigned ci = 0; ci < nconns; ci++) {
        free(cs[ci].req);
        free(cs[ci].exp);
    }
    free(cs);
    free(pf);
    return 0;
}
