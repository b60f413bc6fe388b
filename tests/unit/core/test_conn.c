/* conn.c against a fake backend: the test plays the kernel. The fake's operations only record
 * what the core asked for (a receive armed, a send of the queue, cancels); the test completes
 * them by hand through the entry points a real backend calls (rs__conn_lookup, deliver, sent,
 * connected, maybe_release) and checks the lifecycle: nothing released while an operation is
 * in flight, a close inside on_data deferred, stale completions dropped, the flushes before a
 * close or a shutdown, illegal transitions refused, read stop/start against backpressure,
 * on_drain, listeners and pollers past the old limit of 64, and what a connection accepted
 * while the loop stops or drains becomes. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../check.h"
#include "../../../src/core/loop_internal.h"

#define CAP 1000 /* write-queue cap: low water at 500 */

/* --- the fake backend: records, and keeps the flags a real one keeps --- */

static struct fake {
    int conn_start, conn_connect, conn_flush, read_pause, read_resume, conn_close;
    int cancel_recv, cancel_send, cancel_connect;
    int listen_start, poll_arm;
    unsigned char wire[8192]; /* what sends took from the queue, in order */
    size_t wire_len;
} fk;

static int fake_init(struct rs_loop *l)
{
    l->be_data = &fk;
    return 0;
}

static void fake_fini(struct rs_loop *l)
{
    (void)l;
}

static int fake_listen_start(struct rs_listener *ls)
{
    fk.listen_start++;
    ls->armed = true;
    return 0;
}

static void fake_listen_stop(struct rs_listener *ls)
{
    ls->armed = false;
}

/* A receive, armed as io_uring arms one: not twice, not closing, not while reading is off. */
static void fake_arm_recv(struct rs_conn *c)
{
    if (c->recv_armed || rs__conn_closing(c) || c->read_off || c->eof)
        return;
    c->recv_armed = true;
    c->inflight++;
}

static void fake_conn_start(struct rs_conn *c)
{
    fk.conn_start++;
    fake_arm_recv(c);
}

static void fake_conn_connect(struct rs_conn *c)
{
    fk.conn_connect++;
    c->inflight++;
}

/* One send in flight at a time, of the whole queue. */
static void fake_conn_flush(struct rs_conn *c)
{
    fk.conn_flush++;
    if (c->send_busy || rs__conn_closing(c) || c->connect_busy || c->outq.bytes == 0)
        return;
    c->send_len = c->outq.bytes;
    c->send_busy = true;
    c->inflight++;
}

static void fake_read_pause(struct rs_conn *c)
{
    fk.read_pause++; /* a multishot receive would be cancelled; the test completes it or not */
    (void)c;
}

static void fake_read_resume(struct rs_conn *c)
{
    fk.read_resume++;
    fake_arm_recv(c);
}

static void fake_conn_close(struct rs_conn *c)
{
    fk.conn_close++;
    if (c->state == RS_CONN_CLOSING) {
        fk.cancel_recv += c->recv_armed;
        fk.cancel_send += c->send_busy;
        fk.cancel_connect += c->connect_busy && c->inflight > 0;
        rs__conn_set_state(c, RS_CONN_CANCELLING);
    }
    rs__conn_maybe_release(c);
}

static int fake_poll_arm(struct rs_poller *p)
{
    fk.poll_arm++;
    p->in_armed = true;
    return 0;
}

static void fake_poll_stop(struct rs_poller *p)
{
    p->in_armed = false;
}

static int fake_wait(struct rs_loop *l, int64_t timeout_ns)
{
    (void)l;
    (void)timeout_ns;
    return 0;
}

static const struct rs_backend_ops fake_backend = {
    .name = "fake",
    .init = fake_init,
    .fini = fake_fini,
    .listen_start = fake_listen_start,
    .listen_stop = fake_listen_stop,
    .conn_start = fake_conn_start,
    .conn_connect = fake_conn_connect,
    .conn_flush = fake_conn_flush,
    .conn_read_pause = fake_read_pause,
    .conn_read_resume = fake_read_resume,
    .conn_close = fake_conn_close,
    .poll_arm = fake_poll_arm,
    .poll_stop = fake_poll_stop,
    .wait = fake_wait,
};

/* --- the kernel: completions by hand, handled as uring_io.c handles them --- */

static uint64_t ud_of(enum rs_op op, const struct rs_conn *c)
{
    return rs__ud_make(op, c->idx, c->gen);
}

/* A receive completes with res bytes (0: FIN, <0: -errno); !more ends it. False if stale. */
static bool kernel_recv(struct rs_loop *l, uint64_t ud, const void *data, int res, bool more)
{
    struct rs_conn *c = rs__conn_lookup(l, ud);
    if (!c)
        return false;
    if (!more) {
        c->recv_armed = false;
        c->inflight--;
    }
    if (res > 0)
        rs__conn_deliver(c, data, (size_t)res);
    else if (res == 0)
        rs__conn_eof(c);
    else if (res != -ECANCELED)
        rs__conn_fail(c, res);
    if (rs__conn_closing(c)) {
        rs__conn_maybe_release(c);
        return true;
    }
    if (!c->recv_armed)
        fake_arm_recv(c);
    return true;
}

/* The send in flight completes: res bytes taken from the queue head, or -errno. */
static bool kernel_send(struct rs_loop *l, uint64_t ud, int res)
{
    struct rs_conn *c = rs__conn_lookup(l, ud);
    if (!c)
        return false;
    c->send_busy = false;
    c->inflight--;
    if (res > 0) {
        struct iovec iov[8];
        size_t total, left = (size_t)res;
        unsigned n = rs_outq_iov(&c->outq, iov, 8, &total);
        for (unsigned i = 0; i < n && left > 0; i++) {
            size_t k = left < iov[i].iov_len ? left : iov[i].iov_len;
            if (fk.wire_len + k <= sizeof(fk.wire))
                memcpy(fk.wire + fk.wire_len, iov[i].iov_base, k);
            fk.wire_len += k;
            left -= k;
        }
        rs__conn_sent(c, (size_t)res);
    } else if (res < 0 && res != -ECANCELED) {
        rs__conn_fail(c, res);
    }
    rs__conn_want_flush(c);
    rs__conn_maybe_release(c);
    return true;
}

static bool kernel_connect(struct rs_loop *l, uint64_t ud, int res)
{
    struct rs_conn *c = rs__conn_lookup(l, ud);
    if (!c)
        return false;
    c->inflight--;
    rs__conn_connected(c, res);
    rs__conn_maybe_release(c);
    return true;
}

/* --- the service: counts callbacks and checks none runs inside a call the test makes --- */

static struct svc {
    bool in_call; /* the test is inside an rs_conn_* call */
    int data, eof, close, connect, drain;
    int close_err, connect_err;
    size_t data_bytes;
    bool echo;          /* on_data sends back what came */
    bool close_in_data; /* on_data closes its connection */
    int drain_refills;  /* on_drain sends CAP bytes this many more times */
    struct rs_conn *accepted;
} sv;

/* Runs a call the way a service would outside any callback, flagging re-entrant callbacks. */
#define CALL(expr)                                                                                 \
    do {                                                                                           \
        sv.in_call = true;                                                                         \
        expr;                                                                                      \
        sv.in_call = false;                                                                        \
    } while (0)

static void svc_data(struct rs_conn *c, const void *data, size_t len)
{
    CHECK(!sv.in_call);
    CHECK(!rs__conn_closing(c));
    sv.data++;
    sv.data_bytes += len;
    if (sv.echo)
        CALL(CHECK_EQ(rs_conn_send(c, data, len), 0));
    if (sv.close_in_data) {
        int closes = fk.conn_close, closed = sv.close;
        CALL(rs_conn_close(c));
        /* Deferred: marked, nothing cancelled or released inside the callback. */
        CHECK_EQ(c->state, RS_CONN_CLOSING);
        CHECK_EQ(fk.conn_close, closes);
        CHECK_EQ(sv.close, closed);
        CHECK(c->recv_armed);
        int r;
        CALL(r = rs_conn_send(c, "x", 1));
        CHECK_EQ(r, -EPIPE);
    }
}

static void svc_eof(struct rs_conn *c)
{
    CHECK(!sv.in_call);
    (void)c;
    sv.eof++;
}

static void svc_close(struct rs_conn *c, int err)
{
    CHECK(!sv.in_call);
    CHECK_EQ(c->state, RS_CONN_CANCELLING);
    CHECK_EQ(c->inflight, 0);
    sv.close++;
    sv.close_err = err;
}

static void svc_connect(struct rs_conn *c, int err)
{
    CHECK(!sv.in_call);
    (void)c;
    sv.connect++;
    sv.connect_err = err;
}

static void svc_drain(struct rs_conn *c)
{
    static const char fill[CAP];
    CHECK(!sv.in_call);
    CHECK(!rs_conn_full(c));
    CHECK(rs_conn_queued(c) <= CAP / 2);
    sv.drain++;
    if (sv.drain_refills > 0) {
        sv.drain_refills--;
        CALL(CHECK_EQ(rs_conn_send(c, fill, sizeof(fill)), 0));
    }
}

static const struct rs_conn_ops svc_ops = {
    .on_data = svc_data,
    .on_eof = svc_eof,
    .on_close = svc_close,
    .on_connect = svc_connect,
    .on_drain = svc_drain,
};

static void svc_accept(struct rs_conn *c, void *arg)
{
    (void)arg;
    rs_conn_set_ops(c, &svc_ops, NULL);
    sv.accepted = c;
}

/* An accepted connection over a socketpair; *peer is the other end (non-blocking). */
static struct rs_conn *accept_one(struct rs_listener *ls, int *peer)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        abort();
    fcntl(sp[1], F_SETFL, O_NONBLOCK);
    *peer = sp[1];
    sv.accepted = NULL;
    int starts = fk.conn_start;
    rs__loop_accepted(ls, sp[0]);
    CHECK(sv.accepted != NULL);
    CHECK_EQ(fk.conn_start, starts + 1);
    CHECK_EQ(sv.accepted->state, RS_CONN_OPEN);
    CHECK(sv.accepted->recv_armed);
    return sv.accepted;
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* Closes c (nothing in flight but its receive) and completes the cancel: released. */
static void close_now(struct rs_loop *l, struct rs_conn *c)
{
    int closed = sv.close;
    uint64_t rud = ud_of(RS_OP_RECV, c);
    bool recv = c->recv_armed;
    CALL(rs_conn_close(c));
    rs__loop_end_turn(l);
    if (recv)
        kernel_recv(l, rud, NULL, -ECANCELED, false);
    CHECK_EQ(sv.close, closed + 1);
}

/* A close with a receive and a send in flight waits for both before anything is released. */
static void test_release_waits(struct rs_loop *l, struct rs_listener *ls)
{
    int peer, peer2;
    struct rs_conn *c = accept_one(ls, &peer);
    uint64_t rud = ud_of(RS_OP_RECV, c), sud = ud_of(RS_OP_SEND, c);
    int fd = c->fd;
    uint32_t idx = c->idx, nconns = l->nconns;

    CALL(CHECK_EQ(rs_conn_send(c, "abc", 3), 0));
    rs__loop_end_turn(l);
    CHECK(c->send_busy);
    CHECK_EQ(c->inflight, 2);

    int closes = fk.conn_close, cr = fk.cancel_recv, cs = fk.cancel_send;
    CALL(rs_conn_close(c));
    CHECK_EQ(c->state, RS_CONN_CLOSING);
    CHECK_EQ(fk.conn_close, closes); /* at the end of the turn, not inside the call */
    rs__loop_end_turn(l);
    CHECK_EQ(fk.conn_close, closes + 1);
    CHECK_EQ(c->state, RS_CONN_CANCELLING);
    CHECK_EQ(fk.cancel_recv, cr + 1);
    CHECK_EQ(fk.cancel_send, cs + 1);
    CHECK_EQ(sv.close, 0);
    CHECK(fd_open(fd));
    CHECK_EQ(l->nconns, nconns);

    /* The slot is not reused while it waits. */
    struct rs_conn *d = accept_one(ls, &peer2);
    CHECK(d->idx != idx);

    CHECK(kernel_send(l, sud, -ECANCELED));
    CHECK_EQ(sv.close, 0); /* the receive is still in flight */
    CHECK(fd_open(fd));
    CHECK_EQ(c->state, RS_CONN_CANCELLING);

    CHECK(kernel_recv(l, rud, NULL, -ECANCELED, false));
    CHECK_EQ(sv.close, 1);
    CHECK_EQ(sv.close_err, 0);
    CHECK(!fd_open(fd));
    CHECK_EQ(c->state, RS_CONN_FREE);
    CHECK_EQ(l->nconns, nconns); /* c out, d in */
    CHECK_EQ(fk.wire_len, 0);    /* the cancelled send took nothing */

    /* On a backend list (io_uring's retry list, epoll's pending list): held until off it. */
    uint64_t drud = ud_of(RS_OP_RECV, d);
    d->on_pending = true;
    CALL(rs_conn_close(d));
    rs__loop_end_turn(l);
    CHECK(kernel_recv(l, drud, NULL, -ECANCELED, false));
    CHECK_EQ(d->inflight, 0);
    CHECK_EQ(sv.close, 1);
    CHECK_EQ(d->state, RS_CONN_CANCELLING);
    d->on_pending = false;
    rs__conn_maybe_release(d);
    CHECK_EQ(sv.close, 2);
    CHECK_EQ(d->state, RS_CONN_FREE);
    close(peer);
    close(peer2);
    sv.close = 0;
}

/* rs_conn_close inside on_data: deferred past the callback, then the receive is cancelled. */
static void test_close_in_on_data(struct rs_loop *l, struct rs_listener *ls)
{
    int peer;
    struct rs_conn *c = accept_one(ls, &peer);
    uint64_t rud = ud_of(RS_OP_RECV, c);
    int closes = fk.conn_close, cr = fk.cancel_recv, data = sv.data;

    sv.close_in_data = true;
    CHECK(kernel_recv(l, rud, "hello", 5, true));
    sv.close_in_data = false;
    CHECK_EQ(sv.data, data + 1);
    CHECK_EQ(c->state, RS_CONN_CLOSING);
    CHECK_EQ(fk.conn_close, closes);

    /* Multishot goes on until the cancel lands: those bytes reach no callback. */
    CHECK(kernel_recv(l, rud, "more", 4, true));
    CHECK_EQ(sv.data, data + 1);

    rs__loop_end_turn(l);
    CHECK_EQ(fk.conn_close, closes + 1);
    CHECK_EQ(fk.cancel_recv, cr + 1);
    CHECK_EQ(c->state, RS_CONN_CANCELLING);
    CHECK_EQ(sv.close, 0);
    CHECK(kernel_recv(l, rud, NULL, -ECANCELED, false));
    CHECK_EQ(sv.close, 1);
    CHECK_EQ(c->state, RS_CONN_FREE);
    close(peer);
    sv.close = 0;
}

/* A completion for a released slot is dropped and counted, also once the slot is reused. */
static void test_stale(struct rs_loop *l, struct rs_listener *ls, struct rs_stats *st)
{
    int peer, peer2;
    struct rs_conn *c = accept_one(ls, &peer);
    uint64_t rud = ud_of(RS_OP_RECV, c), sud = ud_of(RS_OP_SEND, c);
    uint32_t idx = c->idx, gen = c->gen;
    close_now(l, c);

    uint64_t stale = atomic_load(&st->stale_completions);
    int data = sv.data;
    CHECK(!kernel_recv(l, rud, "late", 4, true));
    CHECK(!kernel_send(l, sud, 3));
    CHECK_EQ(atomic_load(&st->stale_completions), stale + 2);

    struct rs_conn *d = accept_one(ls, &peer2); /* the free list gives the same slot back */
    CHECK_EQ(d->idx, idx);
    CHECK_EQ(d->gen, gen + 1);
    CHECK(!kernel_recv(l, rud, "late", 4, true));
    CHECK_EQ(sv.data, data);
    CHECK_EQ(atomic_load(&st->stale_completions), stale + 3);
    CHECK(kernel_recv(l, ud_of(RS_OP_RECV, d), "new", 3, true));
    CHECK_EQ(sv.data, data + 1);
    close_now(l, d);
    close(peer);
    close(peer2);
    sv.close = 0;
}

/* close_after_flush sends everything queued, short sends included, then closes. */
static void test_close_after_flush(struct rs_loop *l, struct rs_listener *ls)
{
    int peer;
    struct rs_conn *c = accept_one(ls, &peer);
    uint64_t rud = ud_of(RS_OP_RECV, c), sud = ud_of(RS_OP_SEND, c);
    int r;

    fk.wire_len = 0;
    CALL(CHECK_EQ(rs_conn_send(c, "hello ", 6), 0));
    CALL(CHECK_EQ(rs_conn_send(c, "world", 5), 0));
    CALL(rs_conn_close_after_flush(c));
    CHECK_EQ(c->state, RS_CONN_FLUSH_CLOSE);
    CALL(r = rs_conn_send(c, "!", 1));
    CHECK_EQ(r, -EPIPE);

    rs__loop_end_turn(l);
    CHECK(c->send_busy);
    CHECK_EQ(c->send_len, 11);
    CHECK(kernel_send(l, sud, 3)); /* short */
    CHECK_EQ(c->state, RS_CONN_FLUSH_CLOSE);
    rs__loop_end_turn(l);
    CHECK_EQ(c->send_len, 8);
    CHECK(kernel_send(l, sud, 8));
    CHECK_EQ(c->state, RS_CONN_CLOSING);
    CHECK_EQ(sv.close, 0);
    rs__loop_end_turn(l);
    CHECK_EQ(c->state, RS_CONN_CANCELLING);
    CHECK(kernel_recv(l, rud, NULL, -ECANCELED, false));
    CHECK_EQ(sv.close, 1);
    CHECK_EQ(sv.close_err, 0);
    CHECK_EQ(fk.wire_len, 11);
    CHECK(memcmp(fk.wire, "hello world", 11) == 0);

    /* Nothing queued: closing at once. */
    struct rs_conn *d = accept_one(ls, &r);
    CALL(rs_conn_close_after_flush(d));
    CHECK_EQ(d->state, RS_CONN_CLOSING);
    close_now(l, d); /* a second close changes nothing */
    close(r);
    close(peer);
    sv.close = 0;
}

/* shutdown_after_flush: the queue, then FIN (the peer reads EOF), and reading goes on. */
static void test_shutdown_after_flush(struct rs_loop *l, struct rs_listener *ls)
{
    int peer, r;
    char b;
    struct rs_conn *c = accept_one(ls, &peer);
    uint64_t rud = ud_of(RS_OP_RECV, c), sud = ud_of(RS_OP_SEND, c);

    CALL(CHECK_EQ(rs_conn_send(c, "bye", 3), 0));
    CALL(rs_conn_shutdown_after_flush(c));
    CHECK_EQ(c->state, RS_CONN_FLUSH_SHUT);
    CALL(r = rs_conn_send(c, "!", 1));
    CHECK_EQ(r, -EPIPE);
    CHECK_EQ(recv(peer, &b, 1, MSG_DONTWAIT), -1); /* no FIN before the queue is sent */
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, 3));
    CHECK_EQ(c->state, RS_CONN_SHUT);
    CHECK_EQ(recv(peer, &b, 1, MSG_DONTWAIT), 0);

    int data = sv.data, eofs = sv.eof;
    CHECK(kernel_recv(l, rud, "x", 1, true));
    CHECK_EQ(sv.data, data + 1);
    CHECK(kernel_recv(l, rud, NULL, 0, false));
    CHECK_EQ(sv.eof, eofs + 1);
    CHECK(!c->recv_armed);
    CALL(rs_conn_close_after_flush(c));
    CHECK_EQ(c->state, RS_CONN_CLOSING);
    rs__loop_end_turn(l); /* nothing in flight: released at once */
    CHECK_EQ(sv.close, 1);
    close(peer);
    sv.close = 0;
}

/* --- the conn_end hook (the access log): reasons, bytes, who is reported --- */

static struct {
    int calls;
    struct rs_conn_end last;
    void *arg;
} ends;

static void end_hook(const struct rs_conn_end *e, void *arg)
{
    ends.calls++;
    ends.last = *e;
    ends.arg = arg;
}

/* Ends an accepted connection the way `how` says and returns the reason reported. */
enum end_how { END_PEER_FIN, END_RESET, END_PIPE, END_ERROR, END_SERVER, END_IDLE, END_SHUT };
static enum rs_close_reason end_one(struct rs_loop *l, struct rs_listener *ls, enum end_how how)
{
    int peer;
    struct rs_conn *c = accept_one(ls, &peer);
    uint64_t rud = ud_of(RS_OP_RECV, c), sud = ud_of(RS_OP_SEND, c);
    int calls = ends.calls;
    CHECK(kernel_recv(l, rud, "abc", 3, true));
    switch (how) {
    case END_PEER_FIN:
        CHECK(kernel_recv(l, rud, NULL, 0, false));
        close_now(l, c);
        break;
    case END_RESET:
    case END_PIPE:
    case END_ERROR:
        CHECK(kernel_recv(l, rud, NULL,
                          how == END_RESET  ? -ECONNRESET
                          : how == END_PIPE ? -EPIPE
                                            : -ETIMEDOUT,
                          false));
        rs__loop_end_turn(l);
        break;
    case END_SERVER:
        close_now(l, c);
        break;
    case END_IDLE:
        CALL(rs_conn_set_close_reason(c, RS_CLOSE_IDLE_TIMEOUT));
        CALL(rs_conn_set_close_reason(c, RS_CLOSE_LIMIT)); /* the first reason wins */
        CHECK(kernel_recv(l, rud, NULL, 0, true));         /* a FIN after it changes nothing */
        close_now(l, c);
        break;
    case END_SHUT: /* we end first (FIN), the peer answers with its FIN: our close */
        CALL(CHECK_EQ(rs_conn_send(c, "bye", 3), 0));
        CALL(rs_conn_shutdown_after_flush(c));
        rs__loop_end_turn(l);
        CHECK(kernel_send(l, sud, 3));
        CHECK(kernel_recv(l, rud, NULL, 0, false));
        close_now(l, c);
        break;
    }
    close(peer);
    CHECK_EQ(ends.calls, calls + 1);
    CHECK_EQ(ends.last.bytes_in, 3);
    CHECK_EQ(ends.last.bytes_out, how == END_SHUT ? 3 : 0);
    CHECK_EQ(ends.last.listener, 0);
    CHECK(!ends.last.udp);
    CHECK(ends.last.client == NULL); /* a socketpair's peer is no IP address */
    CHECK(ends.last.end_ns >= ends.last.start_ns && ends.last.start_ns > 0);
    CHECK(ends.arg == &ends);
    sv.close = 0;
    return ends.last.reason;
}

static void test_conn_end(struct rs_loop *l, struct rs_listener *ls)
{
    l->cfg.conn_end = end_hook;
    l->cfg.conn_end_arg = &ends;
    CHECK_EQ(end_one(l, ls, END_PEER_FIN), RS_CLOSE_PEER);
    CHECK_EQ(ends.last.err, 0);
    CHECK_EQ(end_one(l, ls, END_RESET), RS_CLOSE_RESET);
    CHECK_EQ(ends.last.err, -ECONNRESET);
    CHECK_EQ(end_one(l, ls, END_PIPE), RS_CLOSE_RESET);
    CHECK_EQ(ends.last.err, -EPIPE);
    CHECK_EQ(end_one(l, ls, END_ERROR), RS_CLOSE_ERROR);
    CHECK_EQ(ends.last.err, -ETIMEDOUT);
    CHECK_EQ(end_one(l, ls, END_SERVER), RS_CLOSE_SERVER);
    CHECK_EQ(end_one(l, ls, END_IDLE), RS_CLOSE_IDLE_TIMEOUT);
    CHECK_EQ(end_one(l, ls, END_SHUT), RS_CLOSE_SERVER);
    CHECK(strcmp(rs_close_reason_name(RS_CLOSE_PEER), "peer_closed") == 0);
    CHECK(strcmp(rs_close_reason_name(RS_CLOSE_STOPPING), "server_stopping") == 0);
    CHECK(strcmp(rs_close_reason_name(RS_CLOSE_NREASONS), "") == 0);

    /* A UDP session reported by a service: passed through with the worker's number. */
    struct rs_conn_end e = {.udp = true, .bytes_in = 7, .reason = RS_CLOSE_IDLE_TIMEOUT};
    int calls = ends.calls;
    rs_loop_session_end(l, &e);
    CHECK_EQ(ends.calls, calls + 1);
    CHECK(ends.last.udp);
    CHECK_EQ(ends.last.bytes_in, 7);
    CHECK_EQ(ends.last.worker, l->cfg.id);

    /* Off: nothing is reported, not even a session. */
    l->cfg.conn_end = NULL;
    int peer;
    struct rs_conn *c = accept_one(ls, &peer);
    CHECK_EQ(c->start_ns, 0);
    close_now(l, c);
    close(peer);
    rs_loop_session_end(l, &e);
    CHECK_EQ(ends.calls, calls + 1);
    sv.close = 0;
}

/* The lifecycle as loop_internal.h draws it: every other change is refused. */
static void test_transitions(struct rs_loop *l, struct rs_listener *ls)
{
    static const struct {
        enum rs_conn_state from, to;
    } legal[] = {
        {RS_CONN_FREE, RS_CONN_CONNECTING},        {RS_CONN_FREE, RS_CONN_OPEN},
        {RS_CONN_CONNECTING, RS_CONN_OPEN},        {RS_CONN_CONNECTING, RS_CONN_FLUSH_SHUT},
        {RS_CONN_CONNECTING, RS_CONN_FLUSH_CLOSE}, {RS_CONN_CONNECTING, RS_CONN_CLOSING},
        {RS_CONN_OPEN, RS_CONN_FLUSH_SHUT},        {RS_CONN_OPEN, RS_CONN_FLUSH_CLOSE},
        {RS_CONN_OPEN, RS_CONN_CLOSING},           {RS_CONN_FLUSH_SHUT, RS_CONN_SHUT},
        {RS_CONN_FLUSH_SHUT, RS_CONN_FLUSH_CLOSE}, {RS_CONN_FLUSH_SHUT, RS_CONN_CLOSING},
        {RS_CONN_SHUT, RS_CONN_FLUSH_CLOSE},       {RS_CONN_SHUT, RS_CONN_CLOSING},
        {RS_CONN_FLUSH_CLOSE, RS_CONN_CLOSING},    {RS_CONN_CLOSING, RS_CONN_CANCELLING},
        {RS_CONN_CANCELLING, RS_CONN_FREE},
    };
    int peer, refused = 0;
    struct rs_conn *c = accept_one(ls, &peer);
    uint64_t bad = l->bad_transitions;

    fprintf(stderr, "test_conn: the first illegal state change logged below is deliberate\n");
    for (int from = 0; from < RS_CONN_NSTATES; from++) {
        for (int to = 0; to <= RS_CONN_NSTATES; to++) {
            bool ok = false;
            for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
                ok |= legal[i].from == (enum rs_conn_state)from &&
                      legal[i].to == (enum rs_conn_state)to;
            c->state = (uint8_t)from;
            int r = rs__conn_set_state(c, (enum rs_conn_state)to);
            if (ok) {
                CHECK_EQ(r, 0);
                CHECK_EQ(c->state, to);
            } else {
                if (r != -EINVAL || c->state != from)
                    fprintf(stderr, "%s -> %s not refused\n",
                            rs__conn_state_name((enum rs_conn_state)from),
                            rs__conn_state_name((enum rs_conn_state)to));
                CHECK_EQ(r, -EINVAL);
                CHECK_EQ(c->state, from);
                refused++;
            }
            CHECK_EQ(rs__conn_state_allowed((enum rs_conn_state)from, (enum rs_conn_state)to), ok);
        }
    }
    CHECK_EQ(refused, RS_CONN_NSTATES * (RS_CONN_NSTATES + 1) - 17);
    CHECK_EQ(l->bad_transitions, bad + (uint64_t)refused);

    /* The API never asks for an illegal change: calls that no longer apply do nothing. */
    bad = l->bad_transitions;
    c->state = RS_CONN_SHUT;
    CALL(rs_conn_shutdown_after_flush(c));
    CHECK_EQ(c->state, RS_CONN_SHUT);
    c->state = RS_CONN_FLUSH_CLOSE;
    CALL(rs_conn_shutdown_after_flush(c));
    CALL(rs_conn_close_after_flush(c));
    CHECK_EQ(c->state, RS_CONN_FLUSH_CLOSE);
    c->state = RS_CONN_OPEN;
    uint64_t rud = ud_of(RS_OP_RECV, c);
    int pauses = fk.read_pause;
    for (int round = 0; round < 2; round++) { /* CLOSING, then CANCELLING */
        CALL(rs_conn_close(c));
        CALL(rs_conn_close_after_flush(c));
        CALL(rs_conn_shutdown_after_flush(c));
        CALL(rs_conn_read_stop(c));
        CALL(rs_conn_read_start(c));
        CALL(CHECK_EQ(rs_conn_send(c, "x", 1), -EPIPE));
        CHECK_EQ(c->state, round == 0 ? RS_CONN_CLOSING : RS_CONN_CANCELLING);
        rs__loop_end_turn(l);
    }
    CHECK_EQ(fk.read_pause, pauses);
    CHECK(kernel_recv(l, rud, NULL, -ECANCELED, false));
    CHECK_EQ(c->state, RS_CONN_FREE);
    CHECK_EQ(sv.close, 1);
    CHECK_EQ(l->bad_transitions, bad);
    close(peer);
    sv.close = 0;
}

/* The service's stop and the loop's backpressure are independent: the backend hears only the
 * changes of "reading or not", and reading resumes when neither stops it. */
static void test_read_stop_start(struct rs_loop *l, struct rs_listener *ls)
{
    static char big[1200];
    int peer;
    struct rs_conn *c = accept_one(ls, &peer);
    uint64_t rud = ud_of(RS_OP_RECV, c), sud = ud_of(RS_OP_SEND, c);
    int p = fk.read_pause, r = fk.read_resume;

    CALL(rs_conn_read_stop(c));
    CHECK_EQ(fk.read_pause, p + 1);
    CALL(rs_conn_read_stop(c));
    CHECK_EQ(fk.read_pause, p + 1);
    CALL(rs_conn_read_start(c));
    CHECK_EQ(fk.read_resume, r + 1);
    CALL(rs_conn_read_start(c));
    CHECK_EQ(fk.read_resume, r + 1);
    CHECK_EQ(c->read_off, 0);

    /* Backpressure first, then the service. */
    sv.echo = true;
    CHECK(kernel_recv(l, rud, big, sizeof(big), true));
    CHECK_EQ(c->read_off, RS_READ_OFF_QUEUE);
    CHECK_EQ(fk.read_pause, p + 2);
    CALL(rs_conn_read_stop(c));
    CHECK_EQ(fk.read_pause, p + 2);
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, 700)); /* 500 left: low water */
    CHECK_EQ(c->read_off, RS_READ_OFF_SERVICE);
    CHECK_EQ(fk.read_resume, r + 1); /* the service still stops it */
    CALL(rs_conn_read_start(c));
    CHECK_EQ(fk.read_resume, r + 2);
    CHECK_EQ(c->read_off, 0);
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, 500));

    /* The service first, then backpressure (bytes received before the stop took effect). */
    CALL(rs_conn_read_stop(c));
    CHECK_EQ(fk.read_pause, p + 3);
    CHECK(kernel_recv(l, rud, big, sizeof(big), true));
    CHECK_EQ(c->read_off, RS_READ_OFF_QUEUE | RS_READ_OFF_SERVICE);
    CHECK_EQ(fk.read_pause, p + 3);
    CALL(rs_conn_read_start(c));
    CHECK_EQ(fk.read_resume, r + 2); /* the queue still stops it */
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, 1200));
    CHECK_EQ(fk.read_resume, r + 3);
    CHECK_EQ(c->read_off, 0);
    sv.echo = false;

    /* Stopped while closing: nothing. */
    CALL(rs_conn_close(c));
    CALL(rs_conn_read_stop(c));
    CHECK_EQ(fk.read_pause, p + 3);
    rs__loop_end_turn(l);
    CHECK(kernel_recv(l, rud, NULL, -ECANCELED, false));
    CHECK_EQ(sv.close, 1);
    close(peer);
    sv.close = 0;
}

/* rs_conn_read_cross: a full queue of c's own neither stops reading c nor sizes its reads
 * (marking c cross lifts a stop already in place), while on_drain still follows c's queue. */
static void test_read_cross(struct rs_loop *l, struct rs_listener *ls)
{
    static char big[1200];
    int peer;
    struct rs_conn *c = accept_one(ls, &peer);
    uint64_t rud = ud_of(RS_OP_RECV, c), sud = ud_of(RS_OP_SEND, c);
    int r = fk.read_resume;

    sv.echo = true;
    CHECK(kernel_recv(l, rud, big, sizeof(big), true));
    CHECK_EQ(c->read_off, RS_READ_OFF_QUEUE); /* not cross yet: the loop's backpressure */
    CALL(rs_conn_read_cross(c));
    CHECK_EQ(c->read_off, 0);
    CHECK_EQ(fk.read_resume, r + 1);
    CHECK_EQ(rs__conn_read_room(c), l->wq_limit); /* the queue is full, reads are not held */
    CHECK(kernel_recv(l, rud, big, sizeof(big), true));
    CHECK_EQ(c->read_off, 0);
    CHECK(rs_conn_full(c));
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, 2400));
    sv.echo = false;

    CALL(rs_conn_close(c));
    rs__loop_end_turn(l);
    CHECK(kernel_recv(l, rud, NULL, -ECANCELED, false));
    CHECK_EQ(sv.close, 1);
    close(peer);
    sv.close = 0;
}

/* on_drain: armed when the queue reaches the cap, called once at half, never inside a send. */
static void test_on_drain(struct rs_loop *l, struct rs_listener *ls)
{
    static const char buf[CAP];
    int peer;
    struct rs_conn *c = accept_one(ls, &peer);
    uint64_t sud = ud_of(RS_OP_SEND, c);

    sv.drain = 0;
    CHECK_EQ(rs_conn_room(c), CAP); /* a cap under two chunks counts bytes */
    CALL(CHECK_EQ(rs_conn_send(c, buf, 600), 0));
    CHECK(!rs_conn_full(c));
    CHECK_EQ(rs_conn_room(c), CAP - 600);
    CALL(CHECK_EQ(rs_conn_send(c, buf, 500), 0));
    CHECK(rs_conn_full(c));
    CHECK_EQ(rs_conn_room(c), 0);
    CHECK_EQ(sv.drain, 0);
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, 500)); /* 600 left: above low water */
    CHECK_EQ(sv.drain, 0);
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, 100)); /* 500 left */
    CHECK_EQ(sv.drain, 1);
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, 500));
    CHECK_EQ(sv.drain, 1); /* once per time the cap was reached */

    /* Never full: no on_drain. */
    CALL(CHECK_EQ(rs_conn_send(c, buf, 400), 0));
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, 400));
    CHECK_EQ(sv.drain, 1);

    /* Refilled from on_drain: armed again, called again. */
    sv.drain_refills = 1;
    CALL(CHECK_EQ(rs_conn_send(c, buf, CAP), 0));
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, CAP));
    CHECK_EQ(sv.drain, 2);
    CHECK(rs_conn_full(c));
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, CAP));
    CHECK_EQ(sv.drain, 3);
    CHECK_EQ(rs_conn_queued(c), 0);

    /* Closing: no on_drain. */
    CALL(CHECK_EQ(rs_conn_send(c, buf, CAP), 0));
    rs__loop_end_turn(l);
    CALL(rs_conn_close(c));
    rs__loop_end_turn(l);
    CHECK(kernel_send(l, sud, CAP));
    CHECK_EQ(sv.drain, 3);
    CHECK_EQ(sv.close, 0);
    CHECK(kernel_recv(l, ud_of(RS_OP_RECV, c), NULL, -ECANCELED, false));
    CHECK_EQ(sv.close, 1);
    close(peer);
    sv.close = 0;
}

/* rs_loop_connect: what is asked for while connecting waits for the connect. */
static void test_connect(struct rs_loop *l)
{
    struct rs_addr a;
    int err = 0, r;
    CHECK_EQ(rs_addr_parse("127.0.0.1:9", &a), 0);

    /* A shutdown asked for while connecting, nothing queued: done by the connect. */
    struct rs_conn *c = rs_loop_connect(l, &a, NULL, &svc_ops, NULL, &err);
    CHECK(c != NULL);
    CHECK_EQ(c->state, RS_CONN_CONNECTING);
    CHECK(c->connect_busy);
    CALL(rs_conn_read_stop(c)); /* no receive yet: the backend hears nothing */
    CHECK_EQ(c->read_off, RS_READ_OFF_SERVICE);
    int pauses = fk.read_pause, starts = fk.conn_start;
    CALL(rs_conn_shutdown_after_flush(c));
    CHECK_EQ(c->state, RS_CONN_FLUSH_SHUT);
    CALL(r = rs_conn_send(c, "x", 1));
    CHECK_EQ(r, -EPIPE);
    CHECK(kernel_connect(l, ud_of(RS_OP_CONNECT, c), 0));
    CHECK_EQ(sv.connect, 1);
    CHECK_EQ(sv.connect_err, 0);
    CHECK_EQ(c->state, RS_CONN_SHUT);
    CHECK_EQ(fk.conn_start, starts + 1);
    CHECK(!c->recv_armed); /* reading is stopped */
    CHECK_EQ(fk.read_pause, pauses);
    CALL(rs_conn_read_start(c));
    CHECK(c->recv_armed);
    close_now(l, c);

    /* Sends queued while connecting, then close_after_flush: sent once connected. */
    fk.wire_len = 0;
    c = rs_loop_connect(l, &a, NULL, &svc_ops, NULL, &err);
    CHECK(c != NULL);
    CALL(CHECK_EQ(rs_conn_send(c, "ab", 2), 0));
    rs__loop_end_turn(l);
    CHECK(!c->send_busy);
    CALL(rs_conn_close_after_flush(c));
    CHECK_EQ(c->state, RS_CONN_FLUSH_CLOSE);
    CHECK(kernel_connect(l, ud_of(RS_OP_CONNECT, c), 0));
    CHECK_EQ(c->state, RS_CONN_FLUSH_CLOSE);
    rs__loop_end_turn(l);
    CHECK(c->send_busy);
    uint64_t rud = ud_of(RS_OP_RECV, c);
    CHECK(kernel_send(l, ud_of(RS_OP_SEND, c), 2));
    CHECK_EQ(c->state, RS_CONN_CLOSING);
    rs__loop_end_turn(l);
    CHECK(kernel_recv(l, rud, NULL, -ECANCELED, false));
    CHECK_EQ(sv.close, 2);
    CHECK_EQ(fk.wire_len, 2);
    CHECK(memcmp(fk.wire, "ab", 2) == 0);

    /* A failed connect: on_connect with the error, then closed. */
    c = rs_loop_connect(l, &a, NULL, &svc_ops, NULL, &err);
    CHECK(kernel_connect(l, ud_of(RS_OP_CONNECT, c), -ECONNREFUSED));
    CHECK_EQ(sv.connect_err, -ECONNREFUSED);
    CHECK_EQ(c->state, RS_CONN_CLOSING);
    rs__loop_end_turn(l);
    CHECK_EQ(sv.close, 3);
    CHECK_EQ(sv.close_err, -ECONNREFUSED);

    /* Closed while the connect is in flight: cancelled, released when it completes. */
    int cc = fk.cancel_connect, connects = sv.connect;
    c = rs_loop_connect(l, &a, NULL, &svc_ops, NULL, &err);
    uint64_t cud = ud_of(RS_OP_CONNECT, c);
    CALL(rs_conn_close(c));
    rs__loop_end_turn(l);
    CHECK_EQ(fk.cancel_connect, cc + 1);
    CHECK_EQ(c->state, RS_CONN_CANCELLING);
    CHECK_EQ(sv.close, 3);
    CHECK(kernel_connect(l, cud, -ECANCELED));
    CHECK_EQ(sv.close, 4);
    CHECK_EQ(sv.connect, connects); /* no on_connect once closing */
    sv.close = 0;
}

static void poll_fn(struct rs_poller *p, unsigned events, void *arg)
{
    (void)p;
    (void)events;
    (void)arg;
}

/* More listeners and pollers than the old fixed arrays held, each found by its index. */
static void test_many(struct rs_loop *l)
{
    enum { N = 200 };
    static int lfds[N], pfds[N];
    uint32_t base = l->nlisteners;
    for (int i = 0; i < N; i++) {
        lfds[i] = eventfd(0, EFD_CLOEXEC);
        CHECK_EQ(rs_loop_listen(l, lfds[i], svc_accept, NULL), 0);
    }
    CHECK_EQ(l->nlisteners, base + N);
    for (int i = 0; i < N; i++) {
        struct rs_listener *ls = rs__listener_lookup(l, base + (uint32_t)i, 0);
        CHECK(ls != NULL && ls->fd == lfds[i] && ls->armed);
    }
    CHECK(rs__listener_lookup(l, base + N, 0) == NULL);
    for (int i = 0; i < N; i++) {
        struct rs_poller *p = NULL;
        pfds[i] = eventfd(0, EFD_CLOEXEC);
        CHECK_EQ(rs_loop_poll(l, pfds[i], poll_fn, NULL, &p), 0);
        CHECK(p != NULL && p->idx == (uint32_t)i);
    }
    for (int i = 0; i < N; i++) {
        struct rs_poller *p = rs__poller_lookup(l, (uint32_t)i, 0);
        CHECK(p != NULL && p->fd == pfds[i] && p->in_armed);
    }
    CHECK(rs__poller_lookup(l, N, 0) == NULL);
    CHECK_EQ(fk.poll_arm, N);
}

/* A connection the kernel accepted as the listener stopped (an io_uring accept completing
 * before its cancel): a drain serves it (no one else will read that queue: closing it would
 * lose a client a reload promised to keep), a stop closes it. */
static void test_accept_while_stopping(struct rs_loop *l, struct rs_listener *ls)
{
    int peer, sp[2];
    l->stopping = true;
    l->draining = true;
    CHECK(rs_loop_draining(l));
    struct rs_conn *c = accept_one(ls, &peer);
    if (c)
        close_now(l, c);
    close(peer);

    l->draining = false;
    CHECK(!rs_loop_draining(l));
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        abort();
    sv.accepted = NULL;
    uint32_t nconns = l->nconns;
    rs__loop_accepted(ls, sp[0]);
    CHECK(sv.accepted == NULL);
    CHECK_EQ(l->nconns, nconns);
    CHECK(!fd_open(sp[0]));
    close(sp[1]);
    l->stopping = false;
}

int main(void)
{
    struct rs_loop_config cfg;
    static struct rs_stats st;
    int err = 0;

    rs_loop_config_default(&cfg);
    cfg.write_queue = CAP;
    struct rs_loop *l = rs__loop_new_with_backend(&cfg, &st, &fake_backend, &err);
    if (!l) {
        fprintf(stderr, "rs__loop_new_with_backend: %s\n", strerror(-err));
        return 1;
    }
    int lfd = eventfd(0, EFD_CLOEXEC);
    CHECK_EQ(rs_loop_listen(l, lfd, svc_accept, NULL), 0);
    struct rs_listener *ls = rs__listener_lookup(l, 0, 0);
    CHECK(ls != NULL);
    if (!ls)
        return check_done("test_conn");

    test_release_waits(l, ls);
    test_close_in_on_data(l, ls);
    test_stale(l, ls, &st);
    test_close_after_flush(l, ls);
    test_shutdown_after_flush(l, ls);
    uint64_t bad = l->bad_transitions;
    test_transitions(l, ls);
    uint64_t refused = l->bad_transitions - bad;
    test_read_stop_start(l, ls);
    test_read_cross(l, ls);
    test_on_drain(l, ls);
    test_connect(l);
    test_many(l);
    test_conn_end(l, ls);
    test_accept_while_stopping(l, ls);

    CHECK_EQ(l->nconns, 0);
    CHECK_EQ(l->bad_transitions, refused); /* only the deliberate ones */
    /* Two connects never opened (refused, cancelled) are closed but were not accepted. */
    CHECK_EQ(atomic_load(&st.conns_closed), atomic_load(&st.conns_accepted) + 2);
    l->bad_transitions = 0; /* the deliberate ones, checked above: no error at rs_loop_free */
    rs_loop_free(l);
    return check_done("test_conn");
}
