/* libFuzzer target for the datagram service (src/services/dgram.c, rs_udp_echo_new) on the
 * epoll loop: a non-blocking UDP socket on 127.0.0.1 (or an AF_UNIX datagram socket, bit 3
 * below) served in echo, discard or sockperf mode, and a client socket connected to it that
 * sends datagrams cut from the input and reads every reply.
 *
 * Input: byte 0 picks the set-up:
 *   bits 0-1  mode: 0 echo, 1 discard, 2 sockperf, 3 echo
 *   bit 2     64-byte datagram slots: longer datagrams are truncated, counted, never answered
 *   bit 3     AF_UNIX datagram sockets instead of UDP, 8 KiB slots (unless bit 2), a 1-reply
 *             queue and the server's send buffer at its minimum. Over loopback UDP a sent
 *             datagram leaves the sender's buffer at once, so replies never wait; here they
 *             stay charged to it until the client reads them: replies wait for writability
 *             (EAGAIN), the ring fills and what is read meanwhile is dropped, and replies larger
 *             than the send buffer fail (EMSGSIZE, a send error)
 *   bit 4     a budget of one datagram per turn (the service yields and runs again next turn)
 *   bits 5-7  datagrams per recvmmsg/sendmmsg batch, minus 1
 * then datagrams, each a 2-byte big-endian header and its bytes: the header's top bit starts a
 * new group, the other 15 bits are the length (cut to what is left of the input). A group (at
 * most 32 datagrams and 32 KiB, so no socket buffer overflows) is sent in one turn, once the
 * server has read every datagram sent before it. The loop runs one turn per client callback.
 *
 * Checks (any failure aborts): every reply matches a request, in order, with the same length
 * (never longer): in echo mode the same bytes; in sockperf mode the request is one whole
 * message (length field = datagram length, 14..max_msg bytes) asking for a reply (client and
 * pong flags, not warm-up; decoded here, not by the parser under test), and the reply is the
 * same bytes with the client flag cleared; discard mode never replies. Every datagram sent is
 * read by the server and then answered or counted (truncated, dropped, send error, malformed,
 * unanswered) within a bounded number of turns; the worker's totals never go backwards and
 * agree with the client's datagram and byte counts; without drops, exactly the requests that
 * ask for one get a reply. No descriptor leaks; LeakSanitizer checks memory after each input.
 * RS_FUZZ_VERBOSE=1 prints the counts for each input run. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_loop.h"
#include "ringsock/core/loop.h"
#include "ringsock/services/services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_DGRAMS      128 /* more costs time, not paths: batches <= 8, ring <= 24 */
#define FZ_GROUP_DGRAMS    32
#define FZ_GROUP_BYTES     32768
#define FZ_MAX_TURNS       4000
#define FZ_UDP_MAX         65507
#define FZ_MAX_MSG         512 /* sockperf: longer messages are malformed */
#define FZ_SOCKPERF_HDR    14
#define FZ_SOCKPERF_CLIENT 0x1u
#define FZ_SOCKPERF_PONG   0x2u
#define FZ_SOCKPERF_WARMUP 0x4u

/* What the datagram socket does: the datagram side of the echo, discard or sockperf service. */
enum fz_mode { FZ_ECHO, FZ_DISCARD, FZ_SOCKPERF };
static enum fz_mode fz_mode;

/* The services' counters: the loop's, the datagram socket's and sockperf's own. */
static struct fz_counters *counters(void)
{
    return fz_counters_get(&rs_sockperf_service);
}

/* The service under test: its construction and teardown, in one place. sockperf answers
 * through its handler, which needs its per-worker state (*state, freed by service_free). */
static struct rs_udp_sock *service_new(struct rs_loop *l, int fd, struct rs_udp_config *cfg,
                                       void **state)
{
    static struct rs_service_conf conf = {.max_msg = FZ_MAX_MSG};
    struct fz_counters *c = counters();
    int err;
    *state = NULL;
    cfg->mode = fz_mode == FZ_DISCARD ? RS_UDP_DISCARD : RS_UDP_ECHO;
    if (fz_mode == FZ_SOCKPERF) {
        struct rs_service_ctx ctx = {.loop = l, .counters = c->service, .conf = &conf};
        FZ_REQUIRE(rs_sockperf_service.worker_new(&ctx, state) == 0);
        cfg->mode = rs_sockperf_service.udp_mode;
        cfg->dgram = rs_sockperf_service.dgram;
        cfg->dgram_arg = *state;
    }
    struct rs_udp_sock *u = rs_udp_echo_new(l, fd, cfg, c->dgram, c->loop, &err);
    FZ_REQUIRE(u != NULL);
    return u;
}

static void service_free(struct rs_udp_sock *u, void *state)
{
    rs_udp_echo_free(u);
    if (state)
        rs_sockperf_service.worker_free(state);
}

struct dgram {
    const uint8_t *p;
    size_t len;
    bool group; /* starts a group */
};

/* What the service should do with one request, decided from the input alone. */
enum fate { FATE_TRUNCATED, FATE_MALFORMED, FATE_UNANSWERED, FATE_REPLY };

struct client {
    struct rs_loop *loop;
    const struct fz_counters *st;
    struct rs_udp_config cfg;
    struct dgram *dg;
    size_t ndg;
    size_t nsent, cursor; /* datagrams sent; the first one a reply may still match */
    size_t nreplies;
    uint64_t bytes_read, in0;
    unsigned turns;
    bool stopped;
};

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static enum fate fate_of(const struct rs_udp_config *cfg, const struct dgram *d)
{
    if (d->len > cfg->buf_size)
        return FATE_TRUNCATED;
    if (fz_mode == FZ_DISCARD)
        return FATE_UNANSWERED;
    if (fz_mode == FZ_ECHO)
        return FATE_REPLY;
    if (d->len < FZ_SOCKPERF_HDR || be32(d->p + 10) != d->len || d->len > FZ_MAX_MSG)
        return FATE_MALFORMED;
    unsigned flags = (unsigned)d->p[8] << 8 | d->p[9];
    if ((flags & (FZ_SOCKPERF_CLIENT | FZ_SOCKPERF_PONG | FZ_SOCKPERF_WARMUP)) !=
        (FZ_SOCKPERF_CLIENT | FZ_SOCKPERF_PONG))
        return FATE_UNANSWERED;
    return FATE_REPLY;
}

/* Whether r is the reply the service gives to request d. */
static bool reply_of(const struct client *cl, const struct dgram *d, const uint8_t *r, size_t n)
{
    if (n != d->len || fate_of(&cl->cfg, d) != FATE_REPLY)
        return false;
    if (fz_mode == FZ_ECHO)
        return memcmp(r, d->p, n) == 0;
    /* sockperf: the same bytes but the client flag (low bit of byte 9), which is cleared. */
    return memcmp(r, d->p, 9) == 0 && r[9] == (d->p[9] & ~FZ_SOCKPERF_CLIENT) &&
           memcmp(r + 10, d->p + 10, n - 10) == 0;
}

/* Matches one reply to the earliest request sent that it can answer; the ones passed over were
 * not answered (dropped, or not to be answered). */
static void client_match(struct client *cl, const uint8_t *r, size_t n)
{
    FZ_REQUIRE(fz_mode != FZ_DISCARD);
    FZ_REQUIRE(n <= cl->cfg.buf_size);
    while (cl->cursor < cl->nsent && !reply_of(cl, &cl->dg[cl->cursor], r, n))
        cl->cursor++;
    FZ_REQUIRE(cl->cursor < cl->nsent); /* a reply to no request, or out of order */
    cl->cursor++;
    cl->nreplies++;
    cl->bytes_read += n;
}

static void client_read(struct client *cl, int fd)
{
    static uint8_t buf[FZ_UDP_MAX + 1];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            FZ_REQUIRE(errno == EAGAIN);
            return;
        }
        FZ_REQUIRE((size_t)n <= FZ_UDP_MAX);
        client_match(cl, buf, (size_t)n);
    }
}

/* Sends the next group once the server has read everything sent so far. */
static void client_send(struct client *cl, int fd)
{
    if (FZ_TOTAL(cl->st, dgrams_in) - cl->in0 != cl->nsent)
        return;
    size_t first = cl->nsent, bytes = 0;
    while (cl->nsent < cl->ndg) {
        const struct dgram *d = &cl->dg[cl->nsent];
        if (cl->nsent > first &&
            (d->group || cl->nsent - first >= FZ_GROUP_DGRAMS || bytes + d->len > FZ_GROUP_BYTES))
            return;
        ssize_t n = send(fd, d->p, d->len, MSG_DONTWAIT);
        if (n < 0) {
            FZ_REQUIRE(errno == EAGAIN || errno == EINTR);
            return;
        }
        FZ_REQUIRE((size_t)n == d->len);
        bytes += d->len;
        cl->nsent++;
    }
}

/* Every datagram sent has been read by the server and answered or counted, and every answer
 * has come. */
static bool client_settled(const struct client *cl, const struct fz_totals *d)
{
    uint64_t unanswered = d->dgram_dropped + d->dgram_truncated + d->dgram_send_errors;
    if (fz_mode == FZ_SOCKPERF)
        unanswered += d->sockperf_malformed + d->sockperf_unanswered;
    if (fz_mode == FZ_DISCARD)
        return d->dgrams_in == cl->nsent;
    return d->dgrams_in == cl->nsent && d->dgrams_out + unanswered == cl->nsent &&
           cl->nreplies == d->dgrams_out;
}

static struct fz_totals before, now, delta;

/* Runs once per loop turn (it asks for the next turn each time), and on readability. */
static void client_ready(struct rs_poller *p, unsigned events, void *arg)
{
    struct client *cl = arg;
    int fd = rs_poller_fd(p);
    (void)events;

    if (cl->stopped)
        return;
    client_read(cl, fd);
    if (cl->nsent < cl->ndg)
        client_send(cl, fd);
    fz_totals_read(cl->st, &now);
    fz_totals_delta(&before, &now, &delta);
    if ((cl->nsent == cl->ndg && client_settled(cl, &delta)) || ++cl->turns > FZ_MAX_TURNS) {
        cl->stopped = true;
        rs_loop_request_stop(cl->loop, 0);
        return;
    }
    rs_poller_again(p);
}

/* A datagram socket bound to 127.0.0.1 (port 0: the kernel picks), or with unix set, an
 * AF_UNIX one on an autobound abstract name; its address in *sa, *len. */
static int dgram_socket(bool unix_, struct sockaddr_storage *sa, socklen_t *len)
{
    int fd = socket(unix_ ? AF_UNIX : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FZ_REQUIRE(fd >= 0);
    memset(sa, 0, sizeof(*sa));
    if (unix_) {
        sa->ss_family = AF_UNIX;
        FZ_REQUIRE(bind(fd, (struct sockaddr *)sa, sizeof(sa_family_t)) == 0);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        FZ_REQUIRE(bind(fd, (struct sockaddr *)in, sizeof(*in)) == 0);
    }
    *len = sizeof(*sa);
    FZ_REQUIRE(getsockname(fd, (struct sockaddr *)sa, len) == 0);
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_counters *st = counters();
    static struct dgram dg[FZ_MAX_DGRAMS];
    static struct fz_totals after, d;
    if (size == 0)
        return 0;
    const uint8_t setup = data[0];
    struct rs_udp_config cfg = {
        .batch = 1u + (setup >> 5),
        .buf_size = setup & 4   ? 64
                    : setup & 8 ? 8192
                                : 2048,
        .queue = setup & 8 ? 1 : 16,
    };
    fz_mode = (setup & 3) == 1 ? FZ_DISCARD : (setup & 3) == 2 ? FZ_SOCKPERF : FZ_ECHO;
    cfg.budget = setup & 16 ? 1 : 4 * cfg.batch;

    size_t ndg = 0, off = 1;
    while (off + 2 <= size && ndg < FZ_MAX_DGRAMS) {
        size_t len = (size_t)(data[off] & 0x7f) << 8 | data[off + 1];
        bool group = data[off] & 0x80;
        off += 2;
        if (len > size - off)
            len = size - off;
        dg[ndg++] = (struct dgram){.p = data + off, .len = len, .group = group};
        off += len;
    }

    int fd0 = fz_lowest_free_fd();
    struct rs_loop *l = fz_loop_new(st->loop, 16384, 16, 0);
    struct sockaddr_storage ssa, csa;
    socklen_t slen, clen;
    int one = 1, small = 1; /* the kernel raises a send buffer to its minimum */
    int sfd = dgram_socket(setup & 8, &ssa, &slen);
    FZ_REQUIRE(setsockopt(sfd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) == 0);
    if (setup & 8)
        FZ_REQUIRE(setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0);
    int cfd = dgram_socket(setup & 8, &csa, &clen);
    FZ_REQUIRE(connect(cfd, (struct sockaddr *)&ssa, slen) == 0);
    void *state;
    struct rs_udp_sock *u = service_new(l, sfd, &cfg, &state);

    struct client cl = {.loop = l, .st = st, .cfg = cfg, .dg = dg, .ndg = ndg};
    struct rs_poller *p;
    FZ_REQUIRE(rs_loop_poll(l, cfd, client_ready, &cl, &p) == 0);
    rs_poller_again(p); /* the first turn runs the client without waiting */

    fz_totals_read(st, &before);
    cl.in0 = before.dgrams_in;
    FZ_REQUIRE(rs_loop_run(l) == 0);
    fz_totals_read(st, &after);
    service_free(u, state);
    rs_loop_free(l);

    fz_totals_delta(&before, &after, &d);
    uint64_t fates[4] = {0};
    uint64_t bytes_in = 0;
    for (size_t i = 0; i < cl.nsent; i++) {
        fates[fate_of(&cfg, &dg[i])]++;
        bytes_in += dg[i].len < cfg.buf_size ? dg[i].len : cfg.buf_size;
    }
    if (getenv("RS_FUZZ_VERBOSE"))
        fprintf(stderr,
                "%s mode %d batch %u slot %u queue %u budget %u: %zu datagrams, %zu sent in %u "
                "turns, %zu replies; server in %llu out %llu truncated %llu dropped %llu "
                "send errors %llu malformed %llu unanswered %llu kernel drops %llu\n",
                setup & 8 ? "unix" : "udp", (int)fz_mode, cfg.batch, cfg.buf_size, cfg.queue,
                cfg.budget, ndg, cl.nsent, cl.turns, cl.nreplies, (unsigned long long)d.dgrams_in,
                (unsigned long long)d.dgrams_out, (unsigned long long)d.dgram_truncated,
                (unsigned long long)d.dgram_dropped, (unsigned long long)d.dgram_send_errors,
                (unsigned long long)d.sockperf_malformed, (unsigned long long)d.sockperf_unanswered,
                (unsigned long long)d.dgram_kernel_drops);
    FZ_REQUIRE(cl.nsent == ndg && cl.turns <= FZ_MAX_TURNS);
    FZ_REQUIRE(d.dgram_kernel_drops == 0);
    FZ_REQUIRE(client_settled(&cl, &d));
    FZ_REQUIRE(d.dgram_bytes_in == bytes_in && d.dgram_bytes_out == cl.bytes_read);
    if (fz_mode == FZ_DISCARD)
        FZ_REQUIRE(cl.nreplies == 0 && d.dgrams_out == 0);
    if (d.dgram_dropped == 0 && d.dgram_send_errors == 0) {
        /* Nothing lost to a full ring: exactly what asks for an answer got one. */
        FZ_REQUIRE(cl.nreplies == fates[FATE_REPLY]);
        FZ_REQUIRE(d.dgram_truncated == fates[FATE_TRUNCATED]);
        if (fz_mode == FZ_SOCKPERF)
            FZ_REQUIRE(d.sockperf_malformed == fates[FATE_MALFORMED] &&
                       d.sockperf_unanswered == fates[FATE_UNANSWERED] &&
                       d.sockperf_replies == fates[FATE_REPLY]);
    }
    FZ_REQUIRE(fz_lowest_free_fd() == fd0);
    return 0;
}
