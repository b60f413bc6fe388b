/* epoll backend: the completion API on readiness. Connections are edge-triggered; a readable
 * connection is read until EAGAIN, at most read_budget times per turn, and put on a pending
 * list if it had more, so one busy peer cannot starve the rest. Queued output is written until
 * EAGAIN, then waits for EPOLLOUT. Listeners are level-triggered. */

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../loop_internal.h"
#include "ringsock/util/alloc.h"

#define EP_EVENTS        256
#define EP_ACCEPT_BUDGET 64
#define EP_WRITE_BUDGET  (4u << 20) /* bytes per connection per flush */

struct ep {
    int epfd;
    char *rbuf; /* one receive buffer per worker: idle connections hold none */
    struct rs_conn *pending;
    uint32_t turn; /* epoll_wait calls that returned, wrapping: waits are differences */
    int nevents;   /* events asked of epoll_wait: EP_EVENTS, fewer in tests */
    struct epoll_event events[EP_EVENTS];
};

/* RINGSOCK_TEST_EPOLL_EVENTS=N (1..EP_EVENTS) shrinks the event array, so a test can make it
 * come back full under a modest load; the default is the whole array. */
static int ep_nevents(void)
{
    const char *v = getenv("RINGSOCK_TEST_EPOLL_EVENTS");
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || n < 1 || n > EP_EVENTS)
        return EP_EVENTS;
    return (int)n;
}

static int ep_init(struct rs_loop *l)
{
    struct ep *ep = rs_calloc(1, sizeof(*ep));
    if (!ep)
        return -ENOMEM;
    ep->nevents = ep_nevents();
    ep->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ep->epfd < 0) {
        int err = -errno;
        rs_free(ep);
        return err;
    }
    int err = -ENOMEM;
    ep->rbuf = rs_malloc(l->cfg.buf_size);
    if (!ep->rbuf)
        goto out_close_epfd;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = rs__ud_make(RS_OP_WAKE, 0, 0)};
    if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev) < 0) {
        err = -errno; /* before rs_free and close, which may change errno */
        goto out_free_rbuf;
    }
    l->be_data = ep;
    return 0;

out_free_rbuf:
    rs_free(ep->rbuf);
out_close_epfd:
    close(ep->epfd);
    rs_free(ep);
    return err;
}

static void ep_fini(struct rs_loop *l)
{
    struct ep *ep = l->be_data;
    if (!ep)
        return;
    close(ep->epfd);
    rs_free(ep->rbuf);
    rs_free(ep);
    l->be_data = NULL;
}

static int ep_listen_start(struct rs_listener *ls)
{
    struct ep *ep = ls->loop->be_data;
    if (ls->armed)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN,
                             .data.u64 = rs__ud_make(RS_OP_ACCEPT, ls->idx, ls->gen)};
    if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, ls->fd, &ev) < 0)
        return -errno;
    ls->armed = true;
    return 0;
}

static void ep_listen_stop(struct rs_listener *ls)
{
    struct ep *ep = ls->loop->be_data;
    if (!ls->armed)
        return;
    epoll_ctl(ep->epfd, EPOLL_CTL_DEL, ls->fd, NULL);
    ls->armed = false;
}

static void ep_accept(struct rs_listener *ls)
{
    for (int i = 0; i < EP_ACCEPT_BUDGET && ls->armed; i++) {
        int fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN)
                return;
            if (!rs__listener_error(ls, -errno))
                return;
            continue;
        }
        rs__listener_ok(ls);
        rs__loop_accepted(ls, fd);
    }
}

static void pend_add(struct ep *ep, struct rs_conn *c)
{
    if (c->on_pending)
        return;
    c->on_pending = true;
    c->pend_turn = ep->turn;
    c->pend_next = ep->pending;
    ep->pending = c;
}

static void ep_conn_start(struct rs_conn *c)
{
    struct ep *ep = c->loop->be_data;
    if (c->registered)
        return; /* connected by rs_loop_connect: already in the set */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = rs__ud_make(RS_OP_CONN, c->idx, c->gen)};
    if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        rs__conn_fail(c, -errno);
        return;
    }
    c->registered = true;
    /* Data may have arrived before registration; the first edge reports it anyway. */
}

static void ep_conn_connect(struct rs_conn *c)
{
    struct ep *ep = c->loop->be_data;
    int err = 0;
    if (connect(c->fd, (const struct sockaddr *)&c->peer->ss, c->peer->len) < 0 &&
        errno != EINPROGRESS)
        err = -errno;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = rs__ud_make(RS_OP_CONN, c->idx, c->gen)};
    if (err == 0 && epoll_ctl(ep->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        err = -errno;
    c->registered = err == 0;
    if (err < 0) {
        /* Reported on the next turn, never from inside rs_loop_connect. */
        c->close_err = err;
        c->readable = false;
        pend_add(ep, c);
    }
    /* Otherwise the first EPOLLOUT (or EPOLLERR) edge tells how it went. */
}

/* Reads up to the budget, each read at most the room left under c's write-queue cap (so the
 * cap holds to the byte for a service that answers what it reads). Returns with c->readable
 * still set if there may be more. */
static void ep_read(struct rs_conn *c)
{
    struct rs_loop *l = c->loop;
    struct ep *ep = l->be_data;
    for (uint32_t i = 0; i < l->cfg.read_budget; i++) {
        if (rs__conn_closing(c) || c->read_off || c->eof)
            return;
        size_t room = rs__conn_read_room(c);
        if (room == 0)
            return; /* backpressure is on now: resumed with readable set */
        ssize_t n = recv(c->fd, ep->rbuf, room < l->cfg.buf_size ? room : l->cfg.buf_size, 0);
        if (n > 0) {
            rs__conn_deliver(c, ep->rbuf, (size_t)n);
            continue;
        }
        if (n == 0) {
            c->readable = false;
            rs__conn_eof(c);
            return;
        }
        if (errno == EAGAIN) {
            c->readable = false;
            return;
        }
        if (errno == EINTR)
            continue;
        rs__conn_fail(c, -errno);
        return;
    }
    pend_add(ep, c); /* budget used up: continue next turn */
}

static void ep_conn_flush(struct rs_conn *c)
{
    struct iovec iov[RS_SEND_IOV];
    size_t total, written = 0;

    while (!rs__conn_closing(c) && !c->connect_busy && c->outq.bytes > 0 &&
           written < EP_WRITE_BUDGET) {
        unsigned n = rs_outq_iov(&c->outq, iov, RS_SEND_IOV, &total);
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return; /* EPOLLOUT (edge-triggered) tells us when to go on */
            rs__conn_fail(c, -errno);
            return;
        }
        written += (size_t)w;
        rs__conn_sent(c, (size_t)w);
        if ((size_t)w < total) {
            /* The send buffer is full: EPOLLOUT (edge) says when to go on, no EAGAIN call. */
            RS_STAT_INC(c->loop->stats, short_sends);
            return;
        }
    }
    /* Stopped at the budget with the socket still writable: no edge will come, so ask. */
    if (written >= EP_WRITE_BUDGET)
        rs__conn_want_flush(c);
}

static void ep_conn_read_pause(struct rs_conn *c)
{
    /* Nothing to do: ep_read stops at read_off and the edge is remembered in readable. */
    (void)c;
}

static void ep_conn_read_resume(struct rs_conn *c)
{
    /* The kernel will not report the edge again for data already waiting: read it now. */
    c->readable = true;
    pend_add(c->loop->be_data, c);
}

static void ep_conn_close(struct rs_conn *c)
{
    /* Nothing is ever in flight on epoll; close() removes the fd from the set. A connection
     * still on the pending list is released when that list is walked, so the list stays whole. */
    if (c->state == RS_CONN_CLOSING)
        rs__conn_set_state(c, RS_CONN_CANCELLING);
    rs__conn_maybe_release(c);
}

/* Pollers are level-triggered: a socket left readable at the budget is reported again. */
static int ep_poll_arm(struct rs_poller *p)
{
    struct ep *ep = p->loop->be_data;
    if (p->closing)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN | (p->want_out ? EPOLLOUT : 0),
                             .data.u64 = rs__ud_make(RS_OP_POLL_IN, p->idx, p->gen)};
    if (epoll_ctl(ep->epfd, p->in_armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, p->fd, &ev) < 0)
        return -errno;
    p->in_armed = true;
    p->out_armed = p->want_out;
    return 0;
}

static void ep_poll_stop(struct rs_poller *p)
{
    struct ep *ep = p->loop->be_data;
    if (p->in_armed)
        epoll_ctl(ep->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    p->in_armed = p->out_armed = false;
}

static void ep_conn_event(struct rs_conn *c, uint32_t events)
{
    if (c->connect_busy) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        rs__conn_connected(c, -soerr);
        if (rs__conn_closing(c))
            return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (c->readable)
        ep_read(c);
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && !rs__conn_closing(c) && c->outq.bytes > 0)
        ep_conn_flush(c);
}

/* Runs the work listed on earlier turns: budget-capped and resumed reads, deferred releases,
 * connects that failed at once. Keeps the longest wait, in turns, in pending_wait_max. */
static void ep_run_pending(struct rs_loop *l, struct ep *ep, struct rs_conn *list)
{
    while (list) {
        struct rs_conn *c = list;
        list = c->pend_next;
        c->on_pending = false;
        RS_STAT_MAX(l->stats, pending_wait_max, (uint32_t)(ep->turn - c->pend_turn));
        if (rs__conn_closing(c)) {
            rs__conn_maybe_release(c); /* held back while listed */
            continue;
        }
        if (c->connect_busy) {
            if (c->close_err) /* connect() failed at once: reported here, a turn later */
                rs__conn_connected(c, c->close_err);
            continue;
        }
        if (c->readable)
            ep_read(c);
    }
}

/* epoll_pwait2 (kernel >= 5.11) waits with ns resolution; older kernels round up to ms. */
static int ep_epoll_wait(struct ep *ep, int64_t timeout_ns)
{
    static _Atomic bool no_pwait2;
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = timeout_ns / 1000000000,
                              .tv_nsec = timeout_ns % 1000000000};
        int n = epoll_pwait2(ep->epfd, ep->events, ep->nevents, timeout_ns < 0 ? NULL : &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
    }
    int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
    return epoll_wait(ep->epfd, ep->events, ep->nevents, ms);
}

static int ep_wait(struct rs_loop *l, int64_t timeout_ns)
{
    struct ep *ep = l->be_data;
    if (ep->pending)
        timeout_ns = 0;
    int n = ep_epoll_wait(ep, timeout_ns);
    if (n < 0)
        return -errno; /* -EINTR: the loop looks again, without waiting, before its timers */
    ep->turn++;        /* a turn: the pending list below runs; an interrupted wait is none */
    if (n == ep->nevents)
        RS_STAT_INC(l->stats, loop_full_turns);
    /* What earlier turns left runs every turn, after this turn's events, even when the event
     * array came back full; what this turn adds waits for the next, after flushing. */
    struct rs_conn *pending = ep->pending;
    ep->pending = NULL;
    for (int i = 0; i < n; i++) {
        uint64_t ud = ep->events[i].data.u64;
        uint32_t events = ep->events[i].events;
        switch (rs__ud_op(ud)) {
        case RS_OP_WAKE: {
            uint64_t v;
            ssize_t r = read(l->wake_fd, &v, sizeof(v));
            (void)r;
            break;
        }
        case RS_OP_ACCEPT: {
            struct rs_listener *ls = rs__listener_lookup(l, rs__ud_idx(ud), rs__ud_gen(ud));
            if (ls && ls->armed)
                ep_accept(ls);
            break;
        }
        case RS_OP_POLL_IN: {
            struct rs_poller *p = rs__poller_lookup(l, rs__ud_idx(ud), rs__ud_gen(ud));
            unsigned pe = 0;
            if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                pe |= RS_POLL_IN;
            if (events & EPOLLOUT)
                pe |= RS_POLL_OUT;
            if (p)
                rs__poller_fire(p, pe);
            break;
        }
        case RS_OP_CONN: {
            struct rs_conn *c = rs__conn_lookup(l, ud);
            if (c && !rs__conn_closing(c))
                ep_conn_event(c, events);
            break;
        }
        default:
            break;
        }
    }
    ep_run_pending(l, ep, pending);
    if (!l->stopping)
        return n; /* listeners and pollers close only when the loop stops */
    /* Stopped listeners hold nothing in epoll: release them here. */
    for (uint32_t i = 0; i < l->nlisteners; i++) {
        struct rs_listener *ls = l->listeners[i];
        if (ls->closing && !ls->released && !ls->armed)
            rs__listener_release(ls);
    }
    for (uint32_t i = 0; i < l->npollers; i++) {
        struct rs_poller *p = l->pollers[i];
        if (p->closing && !p->released && !p->in_armed)
            rs__poller_release(p);
    }
    return n;
}

static const char *ep_features(const struct rs_loop *l)
{
    (void)l;
    return "edge-triggered";
}

const struct rs_backend_ops rs__epoll_backend = {
    .name = "epoll",
    .init = ep_init,
    .fini = ep_fini,
    .listen_start = ep_listen_start,
    .listen_stop = ep_listen_stop,
    .conn_start = ep_conn_start,
    .conn_connect = ep_conn_connect,
    .conn_flush = ep_conn_flush,
    .conn_read_pause = ep_conn_read_pause,
    .conn_read_resume = ep_conn_read_resume,
    .conn_close = ep_conn_close,
    .poll_arm = ep_poll_arm,
    .poll_stop = ep_poll_stop,
    .wait = ep_wait,
    .features = ep_features,
};
