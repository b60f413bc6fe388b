/* libFuzzer target for the HTTP service on a real connection: the epoll loop, the HTTP worker
 * (rs_http_service: its worker set-up and accept callback), and a client on the other end
 * of an AF_UNIX stream socket that writes the input in pieces, then its FIN, and reads
 * everything the server sends. The connection is accepted by the loop from an AF_UNIX listener
 * (the loop API has no call that adopts a connected fd; this is the real accept path, with no
 * TCP handshake or TIME_WAIT per input).
 *
 * Input: byte 0 picks the set-up:
 *   bits 0-3  number of cut points (0..15), one byte each after byte 0: the length of that
 *             piece minus 1; the rest of the input is what the client sends, the last piece
 *             running to its end
 *   bit 4     the server reads 64 bytes at a time, 2 reads per turn (heads split across reads)
 *   bit 5     a 1 KiB write queue (the server stops reading while answers wait)
 *   bit 6     small limits (256-byte heads, 32-byte targets, 4 headers, 64-byte bodies) and a
 *             5000-byte fixed body (too large for the prebuilt answers)
 *   bit 7     the client never sends FIN: the loop's stop ends the connection
 * A piece is written only once the server has read all of the previous one, so each reaches
 * the service in reads of its own. The loop runs one turn per client callback (the client's
 * poller asks to run again every turn), never waiting on a timer.
 *
 * Checks (any failure aborts): the server's output is a sequence of whole responses, each
 * "HTTP/1.1 " and a 3-digit status that the project's response parser accepts, with a
 * Content-Length and a body of that length (none for 100 and HEAD answers) that is one this
 * server sends; error statuses close; nothing follows a "Connection: close" answer; without
 * bit 7 the server closes (FIN) within a bounded number of turns; the worker's totals never go
 * backwards and agree with the client: one connection accepted and closed, bytes in = bytes
 * written, bytes out = bytes read, 2xx+4xx+5xx = final responses read; no descriptor leaks,
 * and LeakSanitizer checks memory after each input. RS_FUZZ_VERBOSE=1 prints what the server
 * sent for each input run. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_loop.h"
#include "ringsock/core/loop.h"
#include "ringsock/proto/http_parse.h"
#include "ringsock/services/services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_PIECES  16
#define FZ_MAX_TURNS   4000
#define FZ_QUIET_TURNS 3
#define FZ_MAX_BYTES   4096 /* /bytes/N cap */
#define FZ_OUT_MAX     (64u << 20)

static const char small_body[] = "fuzz body\n";
static char big_body[5000];

/* The service under test: its construction and teardown, in one place. conf must outlive the
 * worker (it keeps a pointer to the HTTP part). */
static void *service_new(struct rs_loop *l, const struct rs_service_conf *conf,
                         struct fz_counters *c)
{
    struct rs_service_ctx ctx = {.loop = l, .counters = c->service, .conf = conf};
    void *w = NULL;
    FZ_REQUIRE(rs_http_service.worker_new(&ctx, &w) == 0);
    return w;
}

static void service_free(void *w)
{
    rs_http_service.worker_free(w);
}

struct client {
    struct rs_loop *loop;
    const struct fz_counters *st;
    const uint8_t *data; /* what to send */
    size_t len;
    size_t ends[FZ_MAX_PIECES]; /* end offset of each piece */
    unsigned npieces, piece;
    size_t sent;
    bool keep_open; /* never shut down */
    bool shut;      /* FIN sent */
    bool eof;       /* the server's FIN read */
    bool reset;     /* ECONNRESET read */
    bool stopped;   /* the loop was asked to stop */
    unsigned turns, quiet;
    uint64_t closed0; /* conns_closed before the input */
    char *out;        /* everything the server sent (kept across inputs) */
    size_t out_len, out_cap;
};

static char *out_buf;
static size_t out_buf_cap;

/* Reads whatever the server sent. Returns true if any byte came. */
static bool client_read(struct client *cl, int fd)
{
    bool got = false;
    for (;;) {
        if (cl->out_cap - cl->out_len < 65536) {
            size_t cap = cl->out_cap ? cl->out_cap * 2 : 1u << 20;
            FZ_REQUIRE(cap <= FZ_OUT_MAX);
            char *p = realloc(cl->out, cap);
            FZ_REQUIRE(p != NULL);
            cl->out = p;
            cl->out_cap = cap;
        }
        ssize_t n = recv(fd, cl->out + cl->out_len, cl->out_cap - cl->out_len, MSG_DONTWAIT);
        if (n > 0) {
            FZ_REQUIRE(!cl->eof); /* nothing after the server's FIN */
            cl->out_len += (size_t)n;
            got = true;
            continue;
        }
        if (n == 0) {
            cl->eof = true;
            return got;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return got;
        FZ_REQUIRE(errno == ECONNRESET);
        cl->reset = true;
        return got;
    }
}

/* Bytes written that the server has not read yet (SIOCOUTQ on an AF_UNIX socket). */
static bool client_unread(int fd)
{
    int n = 0;
    FZ_REQUIRE(ioctl(fd, TIOCOUTQ, &n) == 0);
    return n > 0;
}

static void client_write(struct client *cl, int fd)
{
    size_t end = cl->ends[cl->piece];
    ssize_t n = send(fd, cl->data + cl->sent, end - cl->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
        FZ_REQUIRE(errno == EAGAIN || errno == EINTR);
        return;
    }
    cl->sent += (size_t)n;
    if (cl->sent == end)
        cl->piece++;
}

static void client_stop(struct client *cl)
{
    cl->stopped = true;
    rs_loop_request_stop(cl->loop, 0);
}

/* Runs once per loop turn (it asks for the next turn each time), and on readability. */
static void client_ready(struct rs_poller *p, unsigned events, void *arg)
{
    struct client *cl = arg;
    int fd = rs_poller_fd(p);
    (void)events;

    if (cl->stopped)
        return;
    cl->quiet = client_read(cl, fd) ? 0 : cl->quiet + 1;
    FZ_REQUIRE(++cl->turns <= FZ_MAX_TURNS); /* else the server stopped reading or closing */
    bool unread = client_unread(fd);
    if (unread || cl->sent < cl->len)
        cl->quiet = 0; /* quiet counts turns since the server read the last byte too */
    if (cl->sent < cl->len) {
        if (!unread)
            client_write(cl, fd);
    } else if (!cl->keep_open) {
        if (!cl->shut) {
            FZ_REQUIRE(shutdown(fd, SHUT_WR) == 0);
            cl->shut = true;
        } else if (FZ_TOTAL(cl->st, conns_closed) != cl->closed0) {
            /* Closed in an earlier turn, after flushing: the read above had the rest. */
            FZ_REQUIRE(cl->eof);
            client_stop(cl);
            return;
        }
    } else if (!unread && cl->quiet >= FZ_QUIET_TURNS) {
        /* The server read everything, and what it answered (queued in the turn it read,
         * flushed at the end of that turn) has come. */
        client_stop(cl);
        return;
    }
    rs_poller_again(p);
}

/* An AF_UNIX listener on an autobound abstract name, and a client connected to it. */
static void unix_connect(int *lfd, int *cfd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len = sizeof(sa);
    *lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FZ_REQUIRE(*lfd >= 0);
    FZ_REQUIRE(bind(*lfd, (struct sockaddr *)&sa, sizeof(sa_family_t)) == 0);
    FZ_REQUIRE(listen(*lfd, 4) == 0);
    FZ_REQUIRE(getsockname(*lfd, (struct sockaddr *)&sa, &len) == 0);
    *cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FZ_REQUIRE(*cfd >= 0);
    FZ_REQUIRE(connect(*cfd, (struct sockaddr *)&sa, len) == 0);
}

static bool starts(const char *p, size_t left, const char *s)
{
    size_t n = strlen(s);
    return left >= n && memcmp(p, s, n) == 0;
}

/* A 200 body is the fixed body, "ok\n" (/healthz) or N bytes of 'x' (/bytes/N). */
static bool body_known(const struct rs_http_config *cfg, const char *b, size_t n)
{
    if ((n == cfg->body_len && memcmp(b, cfg->body, n) == 0) || (n == 3 && !memcmp(b, "ok\n", 3)))
        return true;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 'x')
            return false;
    return n <= FZ_MAX_BYTES;
}

/* Walks the server's output; returns the number of final (non-1xx) responses. */
static uint64_t check_responses(const struct rs_http_config *cfg, const char *p, size_t len)
{
    static struct rs_http_header hdrs[RS_HTTP_MAX_HEADERS_DEFAULT];
    static const char bytes_400[] = "/bytes/N takes 0..--max-bytes\n";
    const char *end = p + len;
    uint64_t finals = 0;
    bool closed = false;

    while (p < end) {
        size_t left = (size_t)(end - p);
        FZ_REQUIRE(!closed); /* nothing after an answer that closes */
        FZ_REQUIRE(starts(p, left, "HTTP/1.1 ") && left >= 13);
        FZ_REQUIRE(p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' && p[11] >= '0' &&
                   p[11] <= '9' && p[12] == ' ');
        int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        struct rs_http_response r;
        int hl = rs_http_parse_response(p, left, 0, NULL, &r, hdrs);
        FZ_REQUIRE(hl > 0 && r.status == status && r.minor == 1);
        p += hl;
        left -= (size_t)hl;
        if (status == 100) {
            FZ_REQUIRE(r.nheaders == 0);
            continue;
        }
        FZ_REQUIRE(!r.chunked && r.content_length >= 0);
        FZ_REQUIRE(status == 200 || status == 400 || status == 405 || status == 408 ||
                   status == 413 || status == 414 || status == 431 || status == 501 ||
                   status == 505);
        size_t blen = (size_t)r.content_length;
        /* A HEAD answer has no body: what follows is the next answer or nothing. No body
         * this server sends starts with "HTTP/1.1 ". */
        bool head = blen > 0 && (left == 0 || starts(p, left, "HTTP/1.1 "));
        if (!head) {
            FZ_REQUIRE(left >= blen);
            if (status == 200)
                FZ_REQUIRE(body_known(cfg, p, blen));
            else if (r.keep_alive) /* the one error answered without closing */
                FZ_REQUIRE(status == 400 && blen == sizeof(bytes_400) - 1 &&
                           memcmp(p, bytes_400, blen) == 0);
            p += blen;
        }
        if (status != 200 && status != 400)
            FZ_REQUIRE(!r.keep_alive);
        closed = !r.keep_alive;
        finals++;
    }
    return finals;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rs_service_conf conf;
    static struct fz_totals before, after, d;
    struct fz_counters *st = fz_counters_get(&rs_http_service);
    if (size == 0)
        return 0;
    const uint8_t setup = data[0];
    unsigned ncuts = setup & 15;
    data++;
    size--;
    if (size < ncuts)
        return 0;
    const uint8_t *cuts = data;
    data += ncuts;
    size -= ncuts;

    int fd0 = fz_lowest_free_fd();
    struct rs_http_config cfg = {
        .body = small_body,
        .body_len = sizeof(small_body) - 1,
        .max_bytes = FZ_MAX_BYTES,
        .max_body = 1u << 20,
        .header_timeout_ms = 60000,
        .keepalive_timeout_ms = 60000,
        .limits = RS_HTTP_LIMITS_DEFAULT,
    };
    if (setup & 64) {
        memset(big_body, 'b', sizeof(big_body));
        cfg.body = big_body;
        cfg.body_len = sizeof(big_body);
        cfg.max_body = 64;
        cfg.limits = (struct rs_http_limits){.max_head = 256, .max_target = 32, .max_headers = 4};
    }
    conf.http = cfg;
    struct rs_loop *l =
        fz_loop_new(st->loop, setup & 16 ? 64 : 16384, setup & 16 ? 2 : 16, setup & 32 ? 1024 : 0);
    void *w = service_new(l, &conf, st);

    struct client cl = {
        .loop = l,
        .st = st,
        .data = data,
        .len = size,
        .keep_open = setup & 128,
        .out = out_buf,
        .out_cap = out_buf_cap,
    };
    size_t off = 0;
    for (unsigned i = 0; i < ncuts && off < size; i++) {
        off += (size_t)cuts[i] + 1;
        cl.ends[cl.npieces++] = off < size ? off : size;
    }
    if (off < size)
        cl.ends[cl.npieces++] = size;

    int lfd, cfd;
    struct rs_poller *p;
    unix_connect(&lfd, &cfd);
    FZ_REQUIRE(rs_loop_listen(l, lfd, rs_http_service.accept, w) == 0);
    FZ_REQUIRE(rs_loop_poll(l, cfd, client_ready, &cl, &p) == 0);
    rs_poller_again(p); /* the first turn runs the client without waiting */

    fz_totals_read(st, &before);
    cl.closed0 = before.conns_closed;
    FZ_REQUIRE(rs_loop_run(l) == 0);
    fz_totals_read(st, &after);
    service_free(w);
    rs_loop_free(l);
    out_buf = cl.out;
    out_buf_cap = cl.out_cap;

    fz_totals_delta(&before, &after, &d);
    if (getenv("RS_FUZZ_VERBOSE"))
        fprintf(stderr,
                "%u pieces, %u turns%s: client wrote %zu, read %zu%s; server read %llu, wrote "
                "%llu:\n%.*s\n",
                cl.npieces, cl.turns, cl.keep_open ? " (no FIN)" : "", cl.sent, cl.out_len,
                cl.eof ? " and FIN" : "", (unsigned long long)d.bytes_in,
                (unsigned long long)d.bytes_out, (int)cl.out_len, cl.out);
    FZ_REQUIRE(d.conns_accepted == 1 && d.conns_closed == 1);
    FZ_REQUIRE(cl.sent == cl.len && d.bytes_in == cl.sent);
    FZ_REQUIRE(d.bytes_out == cl.out_len);
    FZ_REQUIRE(cl.keep_open || !cl.reset);
    uint64_t finals = check_responses(&cfg, cl.out, cl.out_len);
    FZ_REQUIRE(d.http_2xx + d.http_4xx + d.http_5xx == finals);
    FZ_REQUIRE(fz_lowest_free_fd() == fd0);
    return 0;
}
