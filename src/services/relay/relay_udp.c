/* The relay's UDP data path. A session per (client address, listening socket), in a bounded
 * per-worker hash table (--udp-max-sessions; past it a new client's datagrams are dropped and
 * counted), each with its own connected upstream socket chosen by the balancer (relay.h) from
 * the client's address. Datagrams are read and written in batches both ways: recvmmsg on the
 * listening socket, one sendmmsg per run of datagrams for the same session on its upstream
 * socket; recvmmsg on an upstream socket, sendmmsg of its answers to the client from the
 * listening socket. Zero-length datagrams pass both ways. Nothing is queued: a datagram the
 * kernel will not take now (EAGAIN) is dropped and counted, as the network would.
 *
 * The upstream sockets are not the loop's pollers (a poller lives as long as its loop): they
 * sit in one epoll instance of the worker's own, and that instance's fd is the poller, so the
 * loop reports "some upstream socket is readable" and its events name the sessions (index and
 * generation, so an event for a session ended earlier in the same batch is ignored). This works
 * on both backends: io_uring polls the epoll fd as any other.
 *
 * A session ends when it was silent both ways for --udp-idle-timeout (sessions sit on a list in
 * the order of their last datagram, one timer for the oldest: O(1) per datagram and per expiry),
 * when --udp-responses N answers per request have come (nginx's proxy_responses: N x requests;
 * 0 ends it once its datagrams are sent), on an error from its upstream socket (ICMP port
 * unreachable is ECONNREFUSED: a failure for passive health, the datagram not resent), or when
 * the loop stops (its pollers end: rs_poller_set_on_stop). --udp-requests N unbinds a session
 * from its client after N datagrams: the next one starts a new session, a new upstream socket;
 * the old one lives on until its answers came or it idles out. Each end is reported to the
 * access log (rs_loop_session_end). */

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "ringsock/net/net.h"
#include "relay_internal.h"

#define SLAB        256u /* sessions allocated at a time */
#define NIL         UINT32_MAX
#define MAX_SOCKS   64u /* listening datagram sockets per worker */
#define BATCH_MAX   1024u
#define RECV_ROUNDS 8u /* recvmmsg batches per listening socket per turn */

enum end_why { END_IDLE, END_RESPONSES, END_ERROR, END_STOPPING };

struct udp_sock {
    struct relay_udp *ru;
    struct rs_poller *p;
    int fd;
    struct rs_addr local;
};

struct udp_sess {
    uint32_t idx, gen;
    uint32_t hnext;      /* hash chain */
    uint32_t prev, next; /* idle list (oldest last datagram first), or the free list (next) */
    uint32_t hash;
    struct udp_sock *ls;
    int fd; /* connected upstream socket; -1: free */
    int up_idx;
    bool bound; /* in the hash: its client's next datagram comes here */
    bool answered;
    uint32_t requests;
    uint64_t owed; /* answers still expected (--udp-responses N) */
    uint64_t start_ns, last_ns;
    uint64_t bytes_in, bytes_out;
    struct rs_addr client;
};

struct relay_udp {
    struct relay_worker *w;
    struct rs_loop *loop;
    const struct rs_relay_conf *conf;
    int epfd;
    struct rs_poller *ep; /* the poller of epfd */
    struct udp_sock *socks[MAX_SOCKS];
    unsigned nsocks;
    struct udp_sess **slabs;
    uint32_t nslabs, nalloc; /* slabs, sessions in them */
    uint32_t free;           /* free list head */
    uint32_t *buckets;
    uint32_t mask;
    uint32_t lru_head, lru_tail;
    uint64_t active;
    struct rs_timer idle_timer;
    bool timer_reserved;
    bool stopped;
    uint32_t batch, buf_size, budget;
    char *bufs;
    struct mmsghdr *mm;
    struct iovec *iov;
    struct rs_addr *from; /* client addresses of a listening socket's batch */
    struct udp_sess **of; /* the session of each datagram of that batch (NULL: dropped) */
    struct epoll_event *events;
};

static struct udp_sess *sess_at(struct relay_udp *ru, uint32_t i)
{
    return &ru->slabs[i / SLAB][i % SLAB];
}

/* ---- client addresses: hashing and comparing (IPv4 and IPv6; port and scope count) ---- */

static uint32_t addr_hash(const struct udp_sock *ls, const struct rs_addr *a)
{
    uint64_t h = 1469598103934665603ull ^ (uintptr_t)ls;
    const unsigned char *p;
    size_t n;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
        p = (const unsigned char *)&in->sin_addr;
        n = 4;
        h = (h ^ in->sin_port) * 1099511628211ull;
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
        p = (const unsigned char *)&in6->sin6_addr;
        n = 16;
        h = (h ^ in6->sin6_port ^ ((uint64_t)in6->sin6_scope_id << 16)) * 1099511628211ull;
    }
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

static bool addr_eq(const struct rs_addr *a, const struct rs_addr *b)
{
    if (a->ss.ss_family != b->ss.ss_family)
        return false;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&a->ss;
        const struct sockaddr_in *y = (const struct sockaddr_in *)&b->ss;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->ss;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->ss;
    return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
           !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

/* ---- the table, the idle list, the free list ---- */

static void hash_remove(struct relay_udp *ru, struct udp_sess *s)
{
    uint32_t *pp = &ru->buckets[s->hash & ru->mask];
    while (*pp != NIL) {
        if (*pp == s->idx) {
            *pp = s->hnext;
            break;
        }
        pp = &sess_at(ru, *pp)->hnext;
    }
    s->bound = false;
}

static struct udp_sess *hash_find(struct relay_udp *ru, const struct udp_sock *ls,
                                  const struct rs_addr *a, uint32_t h)
{
    for (uint32_t i = ru->buckets[h & ru->mask]; i != NIL;) {
        struct udp_sess *s = sess_at(ru, i);
        if (s->hash == h && s->ls == ls && addr_eq(&s->client, a))
            return s;
        i = s->hnext;
    }
    return NULL;
}

static void lru_unlink(struct relay_udp *ru, struct udp_sess *s)
{
    if (s->prev != NIL)
        sess_at(ru, s->prev)->next = s->next;
    else
        ru->lru_head = s->next;
    if (s->next != NIL)
        sess_at(ru, s->next)->prev = s->prev;
    else
        ru->lru_tail = s->prev;
    s->prev = s->next = NIL;
}

static void lru_append(struct relay_udp *ru, struct udp_sess *s)
{
    s->next = NIL;
    s->prev = ru->lru_tail;
    if (ru->lru_tail != NIL)
        sess_at(ru, ru->lru_tail)->next = s->idx;
    else
        ru->lru_head = s->idx;
    ru->lru_tail = s->idx;
}

/* A datagram moved for s at now: it becomes the youngest of the idle list. */
static void sess_touch(struct relay_udp *ru, struct udp_sess *s, uint64_t now)
{
    s->last_ns = now;
    if (ru->lru_tail != s->idx) {
        lru_unlink(ru, s);
        lru_append(ru, s);
    }
}

/* Arms the idle timer for the oldest session (none: disarmed). */
static void idle_arm(struct relay_udp *ru)
{
    if (ru->lru_head == NIL || !ru->conf->udp_idle_timeout_ns) {
        rs_loop_timer_disarm(ru->loop, &ru->idle_timer);
        return;
    }
    rs_loop_timer_arm_at(ru->loop, &ru->idle_timer,
                         sess_at(ru, ru->lru_head)->last_ns + ru->conf->udp_idle_timeout_ns);
}

/* A free session slot, from the free list or a new slab; NULL at the limit or out of memory. */
static struct udp_sess *sess_alloc(struct relay_udp *ru)
{
    if (ru->free == NIL) {
        if (ru->nalloc >= ru->conf->udp_max_sessions)
            return NULL;
        uint32_t n = ru->nslabs;
        struct udp_sess *slab = rs_calloc(SLAB, sizeof(*slab));
        if (!slab)
            return NULL;
        ru->slabs[n] = slab;
        ru->nslabs = n + 1;
        for (uint32_t i = SLAB; i-- > 0;) {
            slab[i] = (struct udp_sess){.idx = n * SLAB + i, .fd = -1, .next = ru->free};
            ru->free = n * SLAB + i;
        }
        ru->nalloc += SLAB;
    }
    struct udp_sess *s = sess_at(ru, ru->free);
    ru->free = s->next;
    return s;
}

/* Ends s: its socket closed, its upstream's count given back, counted and logged. */
static void sess_end(struct relay_udp *ru, struct udp_sess *s, enum end_why why, int err)
{
    struct relay_worker *w = ru->w;
    if (s->fd < 0)
        return;
    uint64_t now = rs_now_ns();
    if (s->bound)
        hash_remove(ru, s);
    lru_unlink(ru, s);
    close(s->fd); /* also leaves the epoll set */
    s->fd = -1;
    rs_upstream_conn_end(w->ups, (unsigned)s->up_idx);
    up_note(w, s->up_idx);
    static const enum rs_close_reason reasons[] = {
        [END_IDLE] = RS_CLOSE_IDLE_TIMEOUT,
        [END_RESPONSES] = RS_CLOSE_SERVER,
        [END_ERROR] = RS_CLOSE_ERROR,
        [END_STOPPING] = RS_CLOSE_STOPPING,
    };
    switch (why) {
    case END_IDLE:
        RS_STAT_INC(w->ctr, relay_udp_closed_idle);
        break;
    case END_RESPONSES:
        RS_STAT_INC(w->ctr, relay_udp_closed_responses);
        break;
    case END_ERROR:
        RS_STAT_INC(w->ctr, relay_udp_closed_error);
        break;
    case END_STOPPING:
        RS_STAT_INC(w->ctr, relay_udp_closed_stopping);
        break;
    }
    struct rs_conn_end e = {
        .udp = true,
        .local = &s->ls->local,
        .client = &s->client,
        .upstream = &rs_upstream_conf_at(w->ups, (unsigned)s->up_idx)->addr,
        .bytes_in = s->bytes_in,
        .bytes_out = s->bytes_out,
        .start_ns = s->start_ns,
        .end_ns = now,
        .reason = reasons[why],
        .err = err,
    };
    rs_loop_session_end(ru->loop, &e);
    s->gen++;
    s->next = ru->free;
    ru->free = s->idx;
    ru->active--;
    RS_STAT_SET(w->ctr, relay_udp_active, ru->active);
}

static void idle_fired(struct rs_timer *t, void *arg)
{
    (void)t;
    struct relay_udp *ru = arg;
    uint64_t now = rs_now_ns();
    while (ru->lru_head != NIL) {
        struct udp_sess *s = sess_at(ru, ru->lru_head);
        if (s->last_ns + ru->conf->udp_idle_timeout_ns > now)
            break;
        sess_end(ru, s, END_IDLE, 0);
    }
    idle_arm(ru);
}

/* A new session for the client a on listening socket ls, bound to it. NULL (counted) at the
 * session limit, with no usable upstream, or when its socket cannot be made. */
static struct udp_sess *sess_new(struct relay_udp *ru, struct udp_sock *ls, const struct rs_addr *a,
                                 uint32_t h, uint64_t now)
{
    struct relay_worker *w = ru->w;
    if (ru->active >= ru->conf->udp_max_sessions) {
        RS_STAT_INC(w->ctr, relay_udp_overflow);
        return NULL;
    }
    int i = rs_upstream_pick(w->ups, a, 0, now);
    if (i < 0) {
        RS_STAT_INC(w->ctr, relay_no_upstream);
        RS_STAT_INC(w->ctr, relay_udp_drops);
        return NULL;
    }
    const struct rs_addr *up = &rs_upstream_conf_at(w->ups, (unsigned)i)->addr;
    struct udp_sess *s = sess_alloc(ru);
    if (!s) {
        RS_STAT_INC(w->ctr, relay_udp_drops);
        return NULL;
    }
    int fd = socket(up->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto out_free;
    /* A UDP connect only sets the peer: it fails at once or not at all (ENETUNREACH, ...). */
    if (connect(fd, (const struct sockaddr *)&up->ss, up->len) < 0) {
        rs_upstream_fail(w->ups, (unsigned)i, now);
        if (w->up[i])
            RS_STAT_INC(w->up[i], relay_upstream_connect_fails);
        up_note(w, i);
        goto out_close_fd;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)s->gen << 32 | s->idx};
    if (epoll_ctl(ru->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        goto out_close_fd;
    s->fd = fd;
    s->ls = ls;
    s->up_idx = i;
    s->client = *a;
    s->hash = h;
    s->bound = true;
    s->answered = false;
    s->requests = 0;
    s->owed = 0;
    s->start_ns = s->last_ns = now;
    s->bytes_in = s->bytes_out = 0;
    s->hnext = ru->buckets[h & ru->mask];
    ru->buckets[h & ru->mask] = s->idx;
    bool was_empty = ru->lru_head == NIL;
    lru_append(ru, s);
    if (was_empty)
        idle_arm(ru);
    rs_upstream_conn_begin(w->ups, (unsigned)i);
    if (w->up[i])
        RS_STAT_INC(w->up[i], relay_upstream_conns);
    up_note(w, i);
    ru->active++;
    RS_STAT_INC(w->ctr, relay_udp_sessions);
    RS_STAT_SET(w->ctr, relay_udp_active, ru->active);
    return s;

out_close_fd:
    close(fd);
out_free:
    RS_STAT_INC(w->ctr, relay_udp_drops);
    s->next = ru->free;
    ru->free = s->idx;
    return NULL;
}

/* ---- client to upstream ---- */

/* Sends datagrams [j, j + k) of the batch in ru->mm to s's upstream. */
static void send_up(struct relay_udp *ru, struct udp_sess *s, unsigned j, unsigned k)
{
    struct relay_worker *w = ru->w;
    while (k > 0) {
        int n = sendmmsg(s->fd, ru->mm + j, k, MSG_DONTWAIT);
        if (n < 0) {
            int err = -errno;
            if (err == -EINTR)
                continue;
            if (err == -ECONNREFUSED || err == -EHOSTUNREACH || err == -ENETUNREACH) {
                /* ICMP about an earlier datagram: the upstream is not there. */
                RS_STAT_ADD(w->ctr, relay_udp_drops, k);
                rs_upstream_fail(w->ups, (unsigned)s->up_idx, rs_now_ns());
                if (w->up[s->up_idx])
                    RS_STAT_INC(w->up[s->up_idx], relay_upstream_connect_fails);
                up_note(w, s->up_idx);
                sess_end(ru, s, END_ERROR, err);
                return;
            }
            /* EAGAIN (socket buffer full), ENOBUFS, EPERM: the first is dropped, counted. */
            RS_STAT_INC(w->ctr, relay_udp_drops);
            if (err == -EAGAIN) {
                RS_STAT_ADD(w->ctr, relay_udp_drops, k - 1);
                return;
            }
            j++;
            k--;
            continue;
        }
        for (int m = 0; m < n; m++) {
            s->bytes_in += ru->mm[j + m].msg_len;
            RS_STAT_ADD(w->ctr, relay_udp_bytes_c2u, ru->mm[j + m].msg_len);
        }
        RS_STAT_ADD(w->ctr, relay_udp_dgrams_c2u, (uint64_t)n);
        j += (unsigned)n;
        k -= (unsigned)n;
    }
}

/* Points the worker's batch of ru->batch receive slots at its buffers, with room for each
 * sender's address when names (the listening socket: clients are told apart by it). */
static void batch_prepare(struct relay_udp *ru, bool names)
{
    for (unsigned j = 0; j < ru->batch; j++) {
        ru->iov[j] = (struct iovec){.iov_base = ru->bufs + (size_t)j * ru->buf_size,
                                    .iov_len = ru->buf_size};
        ru->mm[j].msg_hdr = (struct msghdr){.msg_name = names ? &ru->from[j].ss : NULL,
                                            .msg_namelen = names ? sizeof(ru->from[j].ss) : 0,
                                            .msg_iov = &ru->iov[j],
                                            .msg_iovlen = 1};
    }
}

/* One recvmmsg batch from listening socket ls, relayed. Returns datagrams read, or -errno. */
static int client_batch(struct relay_udp *ru, struct udp_sock *ls)
{
    struct relay_worker *w = ru->w;
    const struct rs_relay_conf *cf = ru->conf;
    unsigned k = ru->batch;
    batch_prepare(ru, true);
    int n = recvmmsg(ls->fd, ru->mm, k, MSG_DONTWAIT, NULL);
    if (n < 0)
        return -errno;
    uint64_t now = rs_now_ns();
    /* Every datagram's session first (creating, binding and unbinding as --udp-requests says),
     * then one sendmmsg per run of datagrams of one session. */
    for (int j = 0; j < n; j++) {
        struct msghdr *mh = &ru->mm[j].msg_hdr;
        ru->of[j] = NULL;
        if (mh->msg_flags & MSG_TRUNC) {
            RS_STAT_INC(w->ctr, relay_udp_drops);
            continue;
        }
        ru->from[j].len = mh->msg_namelen;
        uint32_t h = addr_hash(ls, &ru->from[j]);
        struct udp_sess *s = hash_find(ru, ls, &ru->from[j], h);
        if (!s)
            s = sess_new(ru, ls, &ru->from[j], h, now);
        if (!s)
            continue;
        ru->of[j] = s;
        s->requests++;
        if (!cf->udp_responses_any)
            s->owed += cf->udp_responses;
        if (cf->udp_requests && s->requests >= cf->udp_requests)
            hash_remove(ru, s); /* its client's next datagram starts a new session */
        sess_touch(ru, s, now);
    }
    for (int j = 0; j < n; j++) {
        ru->iov[j].iov_len = ru->mm[j].msg_len;
        ru->mm[j].msg_hdr.msg_name = NULL;
        ru->mm[j].msg_hdr.msg_namelen = 0;
    }
    for (int j = 0; j < n;) {
        struct udp_sess *s = ru->of[j];
        int e = j + 1;
        while (e < n && ru->of[e] == s)
            e++;
        if (s && s->fd >= 0)
            send_up(ru, s, (unsigned)j, (unsigned)(e - j));
        else if (s)
            RS_STAT_ADD(w->ctr, relay_udp_drops, (uint64_t)(e - j));
        j = e;
    }
    /* --udp-responses 0: a session whose datagrams are sent owes nothing and ends. */
    if (!cf->udp_responses_any && cf->udp_responses == 0)
        for (int j = 0; j < n; j++)
            if (ru->of[j] && ru->of[j]->fd >= 0)
                sess_end(ru, ru->of[j], END_RESPONSES, 0);
    return n;
}

static void client_ready(struct rs_poller *p, unsigned events, void *arg)
{
    struct udp_sock *ls = arg;
    struct relay_udp *ru = ls->ru;
    if (!(events & RS_POLL_IN))
        return;
    for (unsigned r = 0; r < RECV_ROUNDS; r++) {
        int n = client_batch(ru, ls);
        if (n == -EINTR)
            continue;
        if (n < 0 || (unsigned)n < ru->batch)
            return; /* drained (or an error the next readiness retries) */
    }
    rs_poller_again(p); /* more may be waiting: next turn, after the rest of the loop */
}

/* ---- upstream to client ---- */

/* Reads one batch from s's upstream socket and sends it on to the client. Returns true when
 * the socket may hold more. */
static bool upstream_batch(struct relay_udp *ru, struct udp_sess *s)
{
    struct relay_worker *w = ru->w;
    const struct rs_relay_conf *cf = ru->conf;
    unsigned k = ru->batch;
    batch_prepare(ru, false);
    int n = recvmmsg(s->fd, ru->mm, k, MSG_DONTWAIT, NULL);
    if (n < 0) {
        int err = -errno;
        if (err == -EAGAIN || err == -EINTR)
            return err == -EINTR;
        /* ECONNREFUSED: ICMP port unreachable for a datagram we sent; the rest alike. */
        rs_upstream_fail(w->ups, (unsigned)s->up_idx, rs_now_ns());
        if (w->up[s->up_idx])
            RS_STAT_INC(w->up[s->up_idx], relay_upstream_connect_fails);
        up_note(w, s->up_idx);
        sess_end(ru, s, END_ERROR, err);
        return false;
    }
    uint64_t now = rs_now_ns();
    if (n > 0 && !s->answered) {
        s->answered = true;
        rs_upstream_ok(w->ups, (unsigned)s->up_idx, now);
        up_note(w, s->up_idx);
    }
    unsigned out = 0;
    for (int j = 0; j < n; j++) {
        if (ru->mm[j].msg_hdr.msg_flags & MSG_TRUNC) {
            RS_STAT_INC(w->ctr, relay_udp_drops);
            continue;
        }
        if (!cf->udp_responses_any) {
            if (s->owed == 0) {
                RS_STAT_INC(w->ctr, relay_udp_drops); /* more answers than asked for */
                continue;
            }
            s->owed--;
        }
        ru->iov[out] =
            (struct iovec){.iov_base = ru->iov[j].iov_base, .iov_len = ru->mm[j].msg_len};
        ru->mm[out].msg_hdr = (struct msghdr){.msg_name = &s->client.ss,
                                              .msg_namelen = s->client.len,
                                              .msg_iov = &ru->iov[out],
                                              .msg_iovlen = 1};
        out++;
    }
    sess_touch(ru, s, now);
    unsigned sent = 0;
    while (sent < out) {
        int m = sendmmsg(s->ls->fd, ru->mm + sent, out - sent, MSG_DONTWAIT);
        if (m < 0) {
            if (errno == EINTR)
                continue;
            /* The client's side pushes back or refuses: drop, as the network would. */
            RS_STAT_INC(w->ctr, relay_udp_drops);
            if (errno == EAGAIN) {
                RS_STAT_ADD(w->ctr, relay_udp_drops, out - sent - 1);
                break;
            }
            sent++;
            continue;
        }
        for (int j = 0; j < m; j++) {
            s->bytes_out += ru->mm[sent + (unsigned)j].msg_len;
            RS_STAT_ADD(w->ctr, relay_udp_bytes_u2c, ru->mm[sent + (unsigned)j].msg_len);
        }
        RS_STAT_ADD(w->ctr, relay_udp_dgrams_u2c, (uint64_t)m);
        sent += (unsigned)m;
    }
    if (!cf->udp_responses_any && s->owed == 0 && n > 0) {
        sess_end(ru, s, END_RESPONSES, 0);
        return false;
    }
    return (unsigned)n == k;
}

static void upstream_ready(struct rs_poller *p, unsigned events, void *arg)
{
    struct relay_udp *ru = arg;
    if (!(events & RS_POLL_IN))
        return;
    int n = epoll_wait(ru->epfd, ru->events, (int)ru->batch, 0);
    if (n <= 0)
        return;
    bool more = (unsigned)n == ru->batch;
    for (int e = 0; e < n; e++) {
        uint64_t v = ru->events[e].data.u64;
        uint32_t idx = (uint32_t)v, gen = (uint32_t)(v >> 32);
        if (idx >= ru->nalloc)
            continue;
        struct udp_sess *s = sess_at(ru, idx);
        if (s->gen != gen || s->fd < 0)
            continue; /* ended earlier in this batch */
        more |= upstream_batch(ru, s);
    }
    if (more)
        rs_poller_again(p);
}

/* ---- set-up and the end ---- */

/* The loop stops (or drains): its pollers end, the listening sockets with them, so every
 * session ends now. Once per worker, whichever poller is stopped first. */
static void relay_udp_stop(void *arg)
{
    struct relay_udp *ru = arg;
    if (ru->stopped)
        return;
    ru->stopped = true;
    while (ru->lru_head != NIL)
        sess_end(ru, sess_at(ru, ru->lru_head), END_STOPPING, 0);
    rs_loop_timer_disarm(ru->loop, &ru->idle_timer);
    if (ru->timer_reserved)
        rs_loop_timer_unreserve(ru->loop, 1);
    ru->timer_reserved = false;
}

/* The worker's UDP side, made at its first listening datagram socket. */
static int relay_udp_init(struct relay_worker *w, struct rs_loop *l,
                          const struct rs_udp_config *cfg)
{
    struct relay_udp *ru = rs_calloc(1, sizeof(*ru));
    if (!ru)
        return -ENOMEM;
    w->udp = ru;
    ru->w = w;
    ru->loop = l;
    ru->conf = w->conf;
    ru->epfd = -1;
    ru->free = NIL;
    ru->lru_head = ru->lru_tail = NIL;
    ru->batch = cfg->batch ? cfg->batch : 32;
    if (ru->batch > BATCH_MAX)
        ru->batch = BATCH_MAX;
    ru->buf_size = cfg->buf_size;
    /* Buckets: a power of two near the session limit (at most 2^20: chains grow past it). */
    uint32_t nb = 64;
    while (nb < ru->conf->udp_max_sessions && nb < (1u << 20))
        nb <<= 1;
    ru->mask = nb - 1;
    ru->buckets = rs_malloc(nb * sizeof(*ru->buckets));
    ru->slabs = rs_calloc((ru->conf->udp_max_sessions + SLAB - 1) / SLAB, sizeof(*ru->slabs));
    ru->bufs = rs_malloc((size_t)ru->batch * ru->buf_size);
    ru->mm = rs_calloc(ru->batch, sizeof(*ru->mm));
    ru->iov = rs_calloc(ru->batch, sizeof(*ru->iov));
    ru->from = rs_calloc(ru->batch, sizeof(*ru->from));
    ru->of = rs_calloc(ru->batch, sizeof(*ru->of));
    ru->events = rs_calloc(ru->batch, sizeof(*ru->events));
    if (!ru->buckets || !ru->slabs || !ru->bufs || !ru->mm || !ru->iov || !ru->from || !ru->of ||
        !ru->events)
        return -ENOMEM; /* freed by worker_free */
    memset(ru->buckets, 0xff, nb * sizeof(*ru->buckets));
    rs_timer_init(&ru->idle_timer, idle_fired, ru);
    int err = rs_loop_timer_reserve(l, 1);
    if (err < 0)
        return err;
    ru->timer_reserved = true;
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        return -errno;
    err = rs_loop_poll(l, fd, upstream_ready, ru, &ru->ep);
    if (err < 0) {
        close(fd);
        return err;
    }
    ru->epfd = fd; /* the loop's from here: closed when its poller ends */
    rs_poller_set_on_stop(ru->ep, relay_udp_stop, ru);
    return 0;
}

int rs__relay_udp_open(void *state, struct rs_loop *l, int fd, const struct rs_udp_config *cfg)
{
    struct relay_worker *w = state;
    int err;
    if (!w->udp && (err = relay_udp_init(w, l, cfg)) < 0)
        goto out_close_fd;
    struct relay_udp *ru = w->udp;
    if (ru->nsocks == MAX_SOCKS) {
        err = -ENOSPC;
        goto out_close_fd;
    }
    struct udp_sock *ls = rs_calloc(1, sizeof(*ls));
    if (!ls) {
        err = -ENOMEM;
        goto out_close_fd;
    }
    ls->ru = ru;
    ls->fd = fd;
    if (rs_net_local_addr(fd, &ls->local) < 0)
        memset(&ls->local, 0, sizeof(ls->local));
    err = rs_loop_poll(l, fd, client_ready, ls, &ls->p);
    if (err < 0) {
        rs_free(ls);
        goto out_close_fd;
    }
    rs_poller_set_on_stop(ls->p, relay_udp_stop, ru);
    ru->socks[ru->nsocks++] = ls;
    return 0;

out_close_fd:
    close(fd);
    return err;
}

void rs__relay_udp_free(struct relay_worker *w)
{
    struct relay_udp *ru = w->udp;
    if (!ru)
        return;
    /* The loop is gone: sessions still open (it never ran its stop) just close. */
    for (uint32_t i = 0; i < ru->nalloc; i++) {
        struct udp_sess *s = sess_at(ru, i);
        if (s->fd >= 0) {
            close(s->fd);
            rs_upstream_conn_end(w->ups, (unsigned)s->up_idx);
            up_note(w, s->up_idx);
        }
    }
    for (uint32_t i = 0; i < ru->nslabs; i++)
        rs_free(ru->slabs[i]);
    rs_free(ru->slabs);
    for (unsigned i = 0; i < ru->nsocks; i++)
        rs_free(ru->socks[i]);
    rs_free(ru->events);
    rs_free(ru->of);
    rs_free(ru->from);
    rs_free(ru->iov);
    rs_free(ru->mm);
    rs_free(ru->bufs);
    rs_free(ru->buckets);
    rs_free(ru);
    w->udp = NULL;
}
