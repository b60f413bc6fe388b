/* Datagram echo, discard and service handler, batched: recvmmsg fills a ring of datagram
 * slots at its tail and sendmmsg sends the replies from its head, each to its sender. A
 * service's handler (sockperf's) answers in place: it decides per datagram whether it goes back,
 * rewritten or not; the others are skipped. Replies the
 * kernel cannot take yet (EAGAIN) wait in the ring for writability; the ring holds at most queue +
 * batch datagrams, and while it is full what arrives is read and dropped, counted, never blocked
 * on. A datagram larger than a slot (MSG_TRUNC) is counted and never echoed in part. Against
 * reflection (a spoofed source aims the answers at a third party; two echo services answer each
 * other forever, CERT CA-1996-01), a datagram from a denied source port (one bit test) and one
 * from an address over its reply budget (a token bucket per address in the worker's fixed
 * table, only when configured) are counted and not answered. A reply is the request's own
 * slot, rewritten in place at most: it is never longer than the request. Each turn
 * reads at most `budget` datagrams, then yields so other work on the worker runs. Kernel drops on
 * the socket come from SO_RXQ_OVFL (kernel >= 2.6.33). */

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "ringsock/util/parse.h"
#include "ringsock/util/probes.h"
#include "ringsock/core/stats.h"
#include "ringsock/services/services.h"

/* batches_in/out: recvmmsg/sendmmsg calls that moved datagrams. */
#define DGRAM_COUNTERS(X)                                                                          \
    X(dgrams_in, COUNTER, RS_CTR_WORKER, "datagrams received")                                     \
    X(dgrams_out, COUNTER, RS_CTR_WORKER, "datagrams sent")                                        \
    X(dgram_bytes_in, COUNTER, 0, "datagram bytes received")                                       \
    X(dgram_bytes_out, COUNTER, 0, "datagram bytes sent")                                          \
    X(dgram_batches_in, COUNTER, RS_CTR_WORKER, "recvmmsg calls that received datagrams")          \
    X(dgram_batches_out, COUNTER, RS_CTR_WORKER, "sendmmsg calls that sent datagrams")             \
    X(dgram_truncated, COUNTER, RS_CTR_WORKER, "datagrams larger than --udp-buf, not answered")    \
    X(dgram_dropped, COUNTER, RS_CTR_WORKER, "datagrams dropped while the reply queue was full")   \
    X(dgram_kernel_drops, COUNTER, RS_CTR_WORKER,                                                  \
      "datagrams the kernel dropped on a full receive buffer (SO_RXQ_OVFL)")                       \
    X(dgram_send_errors, COUNTER, 0, "replies the kernel refused to send, dropped")                \
    X(dgram_denied, COUNTER, RS_CTR_WORKER,                                                        \
      "datagrams not answered: source port in --udp-deny-ports")                                   \
    X(dgram_rate_limited, COUNTER, RS_CTR_WORKER,                                                  \
      "datagrams not answered: source address over --udp-rate-per-source")

RS_COUNTER_STRUCT(dgram_counters, DGRAM_COUNTERS);
static const struct rs_counter_desc dgram_desc[] = {DGRAM_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct dgram_counters, dgram_desc);

#define IDX(field) RS_COUNTER_INDEX(struct dgram_counters, field)

/* Datagrams join the loop's messages and bytes; their batch sizes are columns of their own. */
static const struct rs_live_col dgram_live[] = {
    {"msgs_per_s", RS_LIVE_RATE, 1, IDX(dgrams_in), -1},
    {"in_bytes_per_s", RS_LIVE_RATE, 0, IDX(dgram_bytes_in), -1},
    {"out_bytes_per_s", RS_LIVE_RATE, 0, IDX(dgram_bytes_out), -1},
    {"udp_batch_in", RS_LIVE_MEAN, 2, IDX(dgrams_in), IDX(dgram_batches_in)},
    {"udp_batch_out", RS_LIVE_MEAN, 2, IDX(dgrams_out), IDX(dgram_batches_out)},
};

const struct rs_counter_block rs_dgram_counter_block = RS_COUNTER_BLOCK(
    "dgram", struct dgram_counters, dgram_desc, dgram_live, RS_COUNTER_NELEM(dgram_live));

#define CMSG_ROOM CMSG_SPACE(sizeof(uint32_t))

struct udp_slot {
    struct sockaddr_storage addr;
    socklen_t alen;
    uint32_t len;
    bool valid; /* false: truncated, skipped when sending */
};

struct rs_udp_sock {
    struct rs_poller *p;
    struct dgram_counters *stats;
    struct rs_stats *loop_stats; /* failed receives count as the loop's errors */
    unsigned worker;             /* for probes */
    struct rs_udp_config cfg;
    char *bufs; /* nslots * buf_size */
    struct udp_slot *slots;
    uint32_t nslots;
    uint64_t head, tail; /* replies waiting: [head, tail) */
    struct mmsghdr *mm;  /* batch */
    struct iovec *iov;   /* batch */
    char *cbuf;          /* batch * CMSG_ROOM */
    char *scratch;       /* buf_size: where datagrams read only to be dropped go */
    uint32_t last_ovfl;
    bool have_ovfl;
    struct rs_ratelimit rl;
};

static struct udp_slot *slot_at(struct rs_udp_sock *u, uint64_t i)
{
    return &u->slots[i % u->nslots];
}

static char *slot_buf(struct rs_udp_sock *u, uint64_t i)
{
    return u->bufs + (size_t)(i % u->nslots) * u->cfg.buf_size;
}

static void note_overflow(struct rs_udp_sock *u, struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SO_RXQ_OVFL)
            continue;
        uint32_t v;
        memcpy(&v, CMSG_DATA(cm), sizeof(v));
        /* The counter is cumulative per socket (and wraps). */
        if (u->have_ovfl && v != u->last_ovfl)
            RS_STAT_ADD(u->stats, dgram_kernel_drops, (uint32_t)(v - u->last_ovfl));
        else if (!u->have_ovfl && v)
            RS_STAT_ADD(u->stats, dgram_kernel_drops, v);
        u->last_ovfl = v;
        u->have_ovfl = true;
    }
}

/* Sends queued replies until the ring is empty or the kernel pushes back. */
static void udp_flush(struct rs_udp_sock *u)
{
    int fd = rs_poller_fd(u->p);
    uint64_t hidden;

    while (u->head != u->tail) {
        uint64_t pos[1024];
        unsigned k = 0;
        uint64_t i = u->head;
        for (; i != u->tail && k < u->cfg.batch; i++) {
            struct udp_slot *s = slot_at(u, i);
            if (!s->valid)
                continue;
            u->iov[k] = (struct iovec){.iov_base = slot_buf(u, i), .iov_len = s->len};
            u->mm[k].msg_hdr = (struct msghdr){.msg_name = &s->addr,
                                               .msg_namelen = s->alen,
                                               .msg_iov = &u->iov[k],
                                               .msg_iovlen = 1};
            pos[k++] = i;
        }
        if (k == 0) {
            u->head = i; /* only skipped (truncated) slots */
            continue;
        }
        int n = sendmmsg(fd, u->mm, k, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                rs_poller_want_out(u->p, true);
                return;
            }
            /* The first datagram failed (ENOBUFS, ECONNREFUSED from an earlier ICMP, EPERM from
             * a firewall, ...): drop and count it, go on with the rest. */
            int err = errno;
            RS_STAT_INC(u->stats, dgram_send_errors);
            if (rs_ratelimit_ok(&u->rl, &hidden))
                rs_log_warn("udp send: %s; datagram dropped (%llu similar hidden)", strerror(err),
                            (unsigned long long)hidden);
            u->head = pos[0] + 1;
            continue;
        }
        uint64_t bytes = 0;
        for (int j = 0; j < n; j++)
            bytes += u->mm[j].msg_len;
        RS_PROBE3(udp_send, u->worker, fd, n);
        RS_STAT_INC(u->stats, dgram_batches_out);
        RS_STAT_ADD(u->stats, dgrams_out, (uint64_t)n);
        RS_STAT_ADD(u->stats, dgram_bytes_out, bytes);
        u->head = (unsigned)n == k ? i : pos[n];
    }
    u->head = u->tail = 0;
    rs_poller_want_out(u->p, false);
}

/* Decides whether a whole (not truncated) datagram is answered; a service's handler may make
 * it the reply in place. */
static bool udp_answer(struct rs_udp_sock *u, char *buf, uint32_t len)
{
    switch (u->cfg.mode) {
    case RS_UDP_ECHO:
        return true;
    case RS_UDP_HANDLER:
        return u->cfg.dgram(u->cfg.dgram_arg, buf, len);
    case RS_UDP_NONE:
    case RS_UDP_DISCARD:
    case RS_UDP_SERVICE:
        break;
    }
    return false;
}

/* The source port of an IPv4 or IPv6 address of alen bytes; false for other families (AF_UNIX in
 * tests, whose unnamed senders leave no address at all). */
static bool addr_port(const struct sockaddr_storage *ss, socklen_t alen, uint16_t *port)
{
    if (ss->ss_family == AF_INET && alen >= sizeof(struct sockaddr_in))
        *port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
    else if (ss->ss_family == AF_INET6 && alen >= sizeof(struct sockaddr_in6))
        *port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    else
        return false;
    return true;
}

/* The rate table's key for an IPv4 or IPv6 address: IPv4 as ::ffff:a.b.c.d, so a source has
 * one key whichever socket family it came in on. False for other families. */
static bool addr_key(const struct sockaddr_storage *ss, socklen_t alen, uint64_t key[2])
{
    unsigned char a[16];
    if (ss->ss_family == AF_INET6 && alen >= sizeof(struct sockaddr_in6)) {
        memcpy(a, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    } else if (ss->ss_family == AF_INET && alen >= sizeof(struct sockaddr_in)) {
        memset(a, 0, 10);
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else {
        return false;
    }
    memcpy(key, a, 16);
    return true;
}

/* Decides whether the whole datagram in slot s (buf, s->len) is answered: not from a denied
 * port, within its source's budget, and wanted by the mode (the handler may rewrite it in
 * place); counts what the defences refuse. now is taken once per batch, when rate is on. */
static bool udp_decide(struct rs_udp_sock *u, const struct udp_slot *s, char *buf, uint64_t now)
{
    uint16_t port;
    uint64_t key[2];

    if (u->cfg.mode == RS_UDP_DISCARD || u->cfg.mode == RS_UDP_NONE)
        return false;
    if (u->cfg.deny_ports && addr_port(&s->addr, s->alen, &port) &&
        rs_port_set_has(u->cfg.deny_ports, port)) {
        RS_STAT_INC(u->stats, dgram_denied);
        return false;
    }
    if (!u->cfg.rate || !addr_key(&s->addr, s->alen, key))
        return udp_answer(u, buf, s->len);
    struct rs_rate_entry *e = rs_rate_table_get(u->cfg.rate, key, now);
    if (!rs_rate_entry_ok(u->cfg.rate, e, now)) {
        RS_STAT_INC(u->stats, dgram_rate_limited);
        return false;
    }
    /* A token is spent only on an answer: a message the handler leaves unanswered costs none. */
    if (!udp_answer(u, buf, s->len))
        return false;
    rs_rate_entry_take(u->cfg.rate, e, now);
    return true;
}

/* Reads into scratch and drops: the reply ring is full. Returns datagrams read, or -errno. */
static int udp_drop_batch(struct rs_udp_sock *u, int fd, unsigned k)
{
    for (unsigned j = 0; j < k; j++) {
        /* Never into a slot: a slot may hold a reply still waiting to be sent. */
        u->iov[j] = (struct iovec){.iov_base = u->scratch, .iov_len = u->cfg.buf_size};
        u->mm[j].msg_hdr = (struct msghdr){.msg_iov = &u->iov[j], .msg_iovlen = 1};
    }
    int n = recvmmsg(fd, u->mm, k, MSG_DONTWAIT, NULL);
    if (n < 0)
        return -errno;
    RS_PROBE3(udp_recv, u->worker, fd, n);
    RS_STAT_INC(u->stats, dgram_batches_in);
    RS_STAT_ADD(u->stats, dgrams_in, (uint64_t)n);
    RS_STAT_ADD(u->stats, dgram_dropped, (uint64_t)n);
    for (int j = 0; j < n; j++)
        RS_STAT_ADD(u->stats, dgram_bytes_in, u->mm[j].msg_len);
    return n;
}

static void udp_on_ready(struct rs_poller *p, unsigned events, void *arg)
{
    struct rs_udp_sock *u = arg;
    int fd = rs_poller_fd(p);
    uint32_t budget = u->cfg.budget;

    if (events & RS_POLL_OUT)
        udp_flush(u);
    if (!(events & RS_POLL_IN))
        return;
    while (budget > 0) {
        unsigned k = u->cfg.batch;
        if (k > budget)
            k = budget;
        if (u->nslots - (u->tail - u->head) < k)
            udp_flush(u); /* make room by sending before anything is dropped */
        uint64_t room = u->nslots - (u->tail - u->head);
        if (room == 0) {
            int n = udp_drop_batch(u, fd, k);
            if (n == -EINTR)
                continue;
            if (n <= 0)
                break;
            budget -= (uint32_t)n;
            if ((unsigned)n < k)
                break;
            continue;
        }
        if (k > room)
            k = (unsigned)room;
        for (unsigned j = 0; j < k; j++) {
            struct udp_slot *s = slot_at(u, u->tail + j);
            u->iov[j] =
                (struct iovec){.iov_base = slot_buf(u, u->tail + j), .iov_len = u->cfg.buf_size};
            u->mm[j].msg_hdr = (struct msghdr){.msg_name = &s->addr,
                                               .msg_namelen = sizeof(s->addr),
                                               .msg_iov = &u->iov[j],
                                               .msg_iovlen = 1,
                                               .msg_control = u->cbuf + j * CMSG_ROOM,
                                               .msg_controllen = CMSG_ROOM};
        }
        int n = recvmmsg(fd, u->mm, k, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                RS_STAT_INC(u->loop_stats, errors);
            break;
        }
        RS_PROBE3(udp_recv, u->worker, fd, n);
        RS_STAT_INC(u->stats, dgram_batches_in);
        RS_STAT_ADD(u->stats, dgrams_in, (uint64_t)n);
        uint64_t now = u->cfg.rate ? rs_now_ns() : 0;
        for (int j = 0; j < n; j++) {
            struct msghdr *mh = &u->mm[j].msg_hdr;
            struct udp_slot *s = slot_at(u, u->tail + (unsigned)j);
            RS_STAT_ADD(u->stats, dgram_bytes_in, u->mm[j].msg_len);
            note_overflow(u, mh);
            s->alen = mh->msg_namelen;
            s->len = u->mm[j].msg_len;
            if (mh->msg_flags & MSG_TRUNC) {
                RS_STAT_INC(u->stats, dgram_truncated);
                s->valid = false;
            } else {
                s->valid = udp_decide(u, s, slot_buf(u, u->tail + (unsigned)j), now);
            }
        }
        u->tail += (unsigned)n;
        budget -= (uint32_t)n;
        if (u->cfg.mode == RS_UDP_DISCARD)
            u->head = u->tail;
        udp_flush(u); /* each batch received is a batch sent */
        if ((unsigned)n < k)
            break; /* drained */
    }
    if (budget == 0)
        rs_poller_again(p); /* more may be waiting: next turn, after the rest of the loop */
}

struct rs_udp_sock *rs_udp_echo_new(struct rs_loop *l, int fd, const struct rs_udp_config *cfg,
                                    _Atomic uint64_t *counters, struct rs_stats *loop_stats,
                                    int *err)
{
    struct rs_udp_sock *u = rs_calloc(1, sizeof(*u));
    if (!u) {
        *err = -ENOMEM;
        return NULL;
    }
    u->cfg = *cfg;
    if (u->cfg.batch > 1024)
        u->cfg.batch = 1024;
    u->stats = (struct dgram_counters *)counters;
    u->loop_stats = loop_stats;
    u->worker = rs_loop_id(l);
    u->rl = (struct rs_ratelimit)RS_RATELIMIT_INIT(1000);
    u->nslots = u->cfg.queue + u->cfg.batch;
    u->bufs = rs_malloc((size_t)u->nslots * u->cfg.buf_size);
    u->slots = rs_calloc(u->nslots, sizeof(*u->slots));
    u->mm = rs_calloc(u->cfg.batch, sizeof(*u->mm));
    u->iov = rs_calloc(u->cfg.batch, sizeof(*u->iov));
    u->cbuf = rs_calloc(u->cfg.batch, CMSG_ROOM);
    u->scratch = rs_malloc(u->cfg.buf_size);
    if (!u->bufs || !u->slots || !u->mm || !u->iov || !u->cbuf || !u->scratch) {
        *err = -ENOMEM;
        goto out_free;
    }
    *err = rs_loop_poll(l, fd, udp_on_ready, u, &u->p);
    if (*err < 0)
        goto out_free;
    return u;

out_free:
    rs_udp_echo_free(u);
    return NULL;
}

void rs_udp_echo_free(struct rs_udp_sock *u)
{
    if (!u)
        return;
    rs_free(u->scratch);
    rs_free(u->cbuf);
    rs_free(u->iov);
    rs_free(u->mm);
    rs_free(u->slots);
    rs_free(u->bufs);
    rs_free(u);
}
