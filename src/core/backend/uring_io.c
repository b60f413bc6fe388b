/* io_uring backend, the data path (kernel >= 5.19 for provided buffer rings and multishot accept,
 * >= 6.0 for multishot recv, >= 6.1 for DEFER_TASKRUN; each is probed and falls back where
 * missing). Accept is multishot; receive is multishot into one provided buffer ring per worker, so
 * idle connections hold no receive buffer; one send is in flight per connection, and a short send
 * is resubmitted from the queue head, so bytes go out in order. Completions are reaped in
 * batches. A CQE without IORING_CQE_F_MORE and a full submission queue are normal events: the
 * operation is re-armed after the batch. ENOBUFS (ring empty) is one too: that receive waits on
 * the starved list, re-armed as buffers come back. A CQ overflow (IORING_SQ_CQ_OVERFLOW) and
 * -EBUSY are reaped and flushed in order within the turn (ur_wait). */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/probes.h"
#include "uring.h"

/* Counts what an io_uring_enter that failed with err (-errno) says about the CQ. -EBUSY: the CQ
 * overflowed and the kernel could not flush it (before 5.19 it then took no SQE either; they
 * stay queued): reaping makes room, then the turn flushes and submits again. -EBADR: the kernel
 * dropped completions (no memory for its overflow list): counted and said, the loop goes on. */
static void ur_enter_error(struct ur *u, int err)
{
    if (err == -EBUSY) {
        RS_STAT_INC(u->stats, cq_busy);
    } else if (err == -EBADR) {
        unsigned lost = IO_URING_READ_ONCE(*u->ring.cq.koverflow);
        RS_STAT_ADD(u->stats, cq_dropped, lost - u->cq_lost_seen);
        u->cq_lost_seen = lost;
        uint64_t hidden;
        if (rs_ratelimit_ok(&u->rl_dropped, &hidden))
            rs_log_error("worker %u: io_uring dropped %u completions so far (out of memory for "
                         "its overflow list): their operations may never finish",
                         u->id, lost);
    }
}

/* An SQE, submitting what is queued if the SQ is full. NULL means try again after the batch. */
static struct io_uring_sqe *ur_sqe(struct ur *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        int n = io_uring_submit(&u->ring);
        RS_PROBE2(loop_submit, u->id, n);
        if (n < 0)
            ur_enter_error(u, n);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static void retry_add(struct ur *u, struct rs_conn *c)
{
    if (c->on_pending)
        return;
    c->on_pending = true;
    c->pend_next = u->retry;
    u->retry = c;
}

/* The starved list: connections whose receive ended with ENOBUFS. Re-arming them all at the
 * next turn, as any other ended receive is, would cost an SQE each per turn, most failing
 * again while the ring is dry: O(connections) per turn for nothing. Instead each turn re-arms
 * the oldest few, as many as buffers came back (ur_run_starved). Doubly linked, so a close
 * takes a connection off at once and its release waits for nothing. */
static void starved_add(struct ur *u, struct rs_conn *c)
{
    if (c->on_starved)
        return;
    c->on_starved = true;
    u->nstarved++;
    c->starved_next = NULL;
    c->starved_prev = u->starved_tail;
    if (u->starved_tail)
        u->starved_tail->starved_next = c;
    else
        u->starved_head = c;
    u->starved_tail = c;
}

static void starved_remove(struct ur *u, struct rs_conn *c)
{
    if (!c->on_starved)
        return;
    if (c->starved_prev)
        c->starved_prev->starved_next = c->starved_next;
    else
        u->starved_head = c->starved_next;
    if (c->starved_next)
        c->starved_next->starved_prev = c->starved_prev;
    else
        u->starved_tail = c->starved_prev;
    c->starved_next = c->starved_prev = NULL;
    c->on_starved = false;
    u->nstarved--;
}

/* --- listeners --- */

static int ur_listen_start(struct rs_listener *ls)
{
    struct ur *u = ls->loop->be_data;
    if (ls->armed || ls->closing)
        return 0;
    /* io_uring waits for readiness itself; a blocking fd keeps accept from returning EAGAIN. */
    int fl = fcntl(ls->fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        fcntl(ls->fd, F_SETFL, fl & ~O_NONBLOCK);
    struct io_uring_sqe *sqe = ur_sqe(u);
    if (!sqe) {
        u->listen_retry = true;
        return 0;
    }
    if (u->ms_accept)
        io_uring_prep_multishot_accept(sqe, ls->fd, NULL, NULL, SOCK_CLOEXEC);
    else
        io_uring_prep_accept(sqe, ls->fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_ACCEPT, ls->idx, ls->gen));
    ls->armed = true;
    ls->inflight++;
    return 0;
}

static void ur_listen_stop(struct rs_listener *ls)
{
    struct ur *u = ls->loop->be_data;
    if (!ls->armed)
        return;
    struct io_uring_sqe *sqe = ur_sqe(u);
    if (!sqe) {
        u->listen_retry = true;
        return;
    }
    io_uring_prep_cancel64(sqe, rs__ud_make(RS_OP_ACCEPT, ls->idx, ls->gen), 0);
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_CANCEL, 0, 0));
}

static void ur_on_accept(struct rs_loop *l, struct io_uring_cqe *cqe)
{
    struct rs_listener *ls =
        rs__listener_lookup(l, rs__ud_idx(cqe->user_data), rs__ud_gen(cqe->user_data));
    if (!ls) {
        if (cqe->res >= 0)
            close(cqe->res);
        RS_STAT_INC(l->stats, stale_completions);
        return;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        ls->armed = false;
        ls->inflight--;
    }
    if (cqe->res >= 0) {
        rs__listener_ok(ls);
        rs__loop_accepted(ls, cqe->res);
    } else if (cqe->res != -ECANCELED) {
        rs__listener_error(ls, cqe->res);
    }
    if (ls->closing) {
        if (!ls->armed && ls->inflight == 0)
            rs__listener_release(ls);
        else if (ls->armed)
            ur_listen_stop(ls);
        return;
    }
    if (!ls->armed && !ls->paused)
        ur_listen_start(ls);
}

/* --- connections --- */

/* Arms c's receive so that what it delivers cannot take c's queue past the write-queue cap:
 * room is what the queue may still take (rs__conn_read_room), and a receive takes at most one
 * provided buffer. With the kernel's byte limit, multishot ends after room - buf_size + 1 bytes
 * or more, so its last buffer still fits; where room is less than a buffer, a one-shot receive
 * asks for room bytes. Without the limit, multishot is armed only while the queue is empty
 * (echo's fast path) and ur_on_recv cancels it once the queue passes half the cap; one-shot
 * receives of at most room bytes are used while the queue holds anything. */
static void ur_arm_recv(struct rs_conn *c)
{
    struct ur *u = c->loop->be_data;
    if (c->recv_armed || rs__conn_closing(c) || c->read_off || c->eof)
        return;
    size_t room = rs__conn_read_room(c);
    if (room == 0)
        return; /* backpressure is on now: resumed at half the cap */
    struct io_uring_sqe *sqe = ur_sqe(u);
    if (!sqe) {
        retry_add(u, c);
        return;
    }
    bool ms = u->ms_recv && (u->ms_recv_limit ? room >= u->br.size : c->outq.bytes == 0);
    if (ms) {
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
        if (u->ms_recv_limit) {
            size_t limit = room - u->br.size + 1;
            rs__ur_prep_recv_limit(sqe, limit < INT32_MAX ? (uint32_t)limit : INT32_MAX);
        }
    } else {
        io_uring_prep_recv(sqe, c->fd, NULL, room < u->br.size ? (unsigned)room : u->br.size, 0);
    }
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = UR_BGID;
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_RECV, c->idx, c->gen));
    c->recv_armed = true;
    c->recv_ms = ms;
    c->recv_cancel = false;
    c->inflight++;
}

static void ur_conn_start(struct rs_conn *c)
{
    ur_arm_recv(c);
}

static void ur_conn_connect(struct rs_conn *c)
{
    struct ur *u = c->loop->be_data;
    struct io_uring_sqe *sqe = ur_sqe(u);
    if (!sqe) {
        retry_add(u, c);
        return;
    }
    io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&c->peer->ss, c->peer->len);
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_CONNECT, c->idx, c->gen));
    c->inflight++;
}

static void ur_on_connect(struct rs_loop *l, struct io_uring_cqe *cqe)
{
    struct rs_conn *c = rs__conn_lookup(l, cqe->user_data);
    if (!c)
        return;
    c->inflight--;
    rs__conn_connected(c, cqe->res);
    if (rs__conn_closing(c))
        rs__conn_maybe_release(c);
}

static struct ur_sendmsg *ur_sendmsg_get(struct ur *u)
{
    struct ur_sendmsg *sm = u->sm_free;
    if (!sm)
        return rs_malloc(sizeof(*sm));
    u->sm_free = sm->next;
    u->sm_nfree--;
    return sm;
}

static void ur_sendmsg_put(struct ur *u, struct ur_sendmsg *sm)
{
    if (!sm)
        return;
    if (u->sm_nfree >= UR_SENDMSG_KEEP) {
        rs_free(sm); /* a burst of many senders is over: give the memory back */
        return;
    }
    sm->next = u->sm_free;
    u->sm_free = sm;
    u->sm_nfree++;
}

static void ur_conn_flush(struct rs_conn *c)
{
    struct ur *u = c->loop->be_data;
    struct iovec iov[RS_SEND_IOV];
    struct ur_sendmsg *sm = NULL;
    size_t total;
    if (c->send_busy || rs__conn_closing(c) || c->connect_busy || c->outq.bytes == 0)
        return;
    unsigned n = rs_outq_iov(&c->outq, iov, RS_SEND_IOV, &total);
    if (n > 1 && !(sm = ur_sendmsg_get(u))) {
        n = 1; /* no memory for a sendmsg: the first chunk alone, the rest after it */
        total = iov[0].iov_len;
    }
    struct io_uring_sqe *sqe = ur_sqe(u);
    if (!sqe) {
        ur_sendmsg_put(u, sm);
        retry_add(u, c);
        return;
    }
    if (n == 1) {
        io_uring_prep_send(sqe, c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    } else {
        memcpy(sm->iov, iov, n * sizeof(iov[0]));
        memset(&sm->msg, 0, sizeof(sm->msg));
        sm->msg.msg_iov = sm->iov;
        sm->msg.msg_iovlen = n;
        io_uring_prep_sendmsg(sqe, c->fd, &sm->msg, MSG_NOSIGNAL);
        c->send_state = sm;
    }
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_SEND, c->idx, c->gen));
    c->send_len = total;
    c->send_busy = true;
    c->inflight++;
}

static void ur_cancel_recv(struct rs_conn *c)
{
    struct ur *u = c->loop->be_data;
    if (!c->recv_armed || c->recv_cancel)
        return;
    struct io_uring_sqe *sqe = ur_sqe(u);
    if (!sqe) {
        retry_add(u, c);
        return;
    }
    io_uring_prep_cancel64(sqe, rs__ud_make(RS_OP_RECV, c->idx, c->gen), 0);
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_CANCEL, c->idx, c->gen));
    c->recv_cancel = true;
}

static void ur_conn_read_pause(struct rs_conn *c)
{
    /* A one-shot receive simply is not re-armed; a multishot one must be cancelled. What it
     * delivers before the cancel lands is queued: within the cap where it was armed with the
     * kernel's byte limit, else past it by at most that. */
    if (c->recv_ms)
        ur_cancel_recv(c);
}

static void ur_conn_read_resume(struct rs_conn *c)
{
    ur_arm_recv(c); /* if the cancelled receive is still in flight, its last CQE re-arms */
}

/* Asks for one operation of c to be cancelled, by its user data. Returns false if no SQE. */
static bool ur_cancel_op(struct ur *u, struct rs_conn *c, enum rs_op op)
{
    struct io_uring_sqe *sqe = ur_sqe(u);
    if (!sqe)
        return false;
    io_uring_prep_cancel64(sqe, rs__ud_make(op, c->idx, c->gen), 0);
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_CANCEL, c->idx, c->gen));
    return true;
}

/* Cancels what is in flight, each operation by its user data: the kernel finds those in a hash.
 * A cancel by fd (IORING_ASYNC_CANCEL_FD) walks every poll the ring has armed, one per idle
 * connection with multishot receive, so closing n connections cost O(n^2): 9 s for 18k. */
static void ur_conn_close(struct rs_conn *c)
{
    struct ur *u = c->loop->be_data;
    starved_remove(u, c);
    if (c->state == RS_CONN_CLOSING) {
        if (c->recv_armed && !c->recv_cancel) {
            if (!ur_cancel_op(u, c, RS_OP_RECV))
                goto out_retry;
            c->recv_cancel = true;
        }
        /* A connect and a send are never in flight together (no flush while connecting); a
         * connect under way with nothing in flight still waits for an SQE (retry list). */
        bool other = c->send_busy || (c->connect_busy && c->inflight > 0);
        if (other && !c->op_cancel) {
            if (!ur_cancel_op(u, c, c->send_busy ? RS_OP_SEND : RS_OP_CONNECT))
                goto out_retry;
            c->op_cancel = true;
        }
        rs__conn_set_state(c, RS_CONN_CANCELLING);
    }
    rs__conn_maybe_release(c);
    return;

out_retry:
    retry_add(u, c); /* the rest of the cancels go out after the batch */
}

static void ur_on_recv(struct rs_loop *l, struct ur *u, struct io_uring_cqe *cqe)
{
    bool has_buf = cqe->flags & IORING_CQE_F_BUFFER;
    uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    struct rs_conn *c = rs__conn_lookup(l, cqe->user_data);

    if (!c) {
        if (has_buf)
            rs__ur_buf_recycle(u, bid);
        return;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        c->recv_armed = false;
        c->recv_ms = false;
        c->recv_cancel = false;
        c->inflight--;
    }
    if (cqe->res > 0) {
        if (has_buf && rs_bufring_valid(&u->br, bid, (size_t)cqe->res)) {
            rs__conn_deliver(c, rs_bufring_addr(&u->br, bid), (size_t)cqe->res);
            rs__ur_buf_recycle(u, bid);
            /* A multishot receive without the kernel's limit stops once the queue is half full:
             * one-shot receives of at most the room left take over (ur_arm_recv). */
            if (c->recv_ms && !u->ms_recv_limit && !c->recv_cancel &&
                rs_conn_room(c) <= c->loop->wq_limit / 2)
                ur_cancel_recv(c);
        } else {
            rs__conn_fail(c, -EIO); /* cannot happen with buffer select; never echo garbage */
        }
    } else {
        if (has_buf)
            rs__ur_buf_recycle(u, bid);
        if (cqe->res == 0)
            rs__conn_eof(c);
        else if (cqe->res == -ENOBUFS)
            RS_STAT_INC(l->stats, enobufs);
        else if (cqe->res != -ECANCELED && cqe->res != -EINTR && cqe->res != -EAGAIN)
            rs__conn_fail(c, cqe->res);
    }
    if (rs__conn_closing(c)) {
        rs__conn_maybe_release(c);
        return;
    }
    /* Re-arm after the batch, once this batch's buffers are back in the ring; after ENOBUFS,
     * once buffers come back (the starved list). */
    if (!c->recv_armed && !c->read_off && !c->eof) {
        if (cqe->res == -ENOBUFS)
            starved_add(u, c);
        else
            retry_add(u, c);
    }
}

static void ur_on_send(struct rs_loop *l, struct ur *u, struct io_uring_cqe *cqe)
{
    struct rs_conn *c = rs__conn_lookup(l, cqe->user_data);
    if (!c)
        return;
    ur_sendmsg_put(u, c->send_state);
    c->send_state = NULL;
    c->send_busy = false;
    c->inflight--;
    if (cqe->res >= 0) {
        if ((size_t)cqe->res < c->send_len)
            RS_STAT_INC(l->stats, short_sends);
        rs__conn_sent(c, (size_t)cqe->res);
    } else if (cqe->res != -EAGAIN && cqe->res != -EINTR && cqe->res != -ECANCELED) {
        rs__conn_fail(c, cqe->res);
    }
    /* The rest of a short send, and whatever was queued while it was in flight (its flush
     * found a send busy), goes out next: one send in flight, in order. */
    rs__conn_want_flush(c);
    if (rs__conn_closing(c))
        rs__conn_maybe_release(c);
}

/* --- pollers: multishot POLLIN (kernel >= 5.13), one-shot POLLOUT while wanted --- */

static int ur_poll_arm(struct rs_poller *p)
{
    struct ur *u = p->loop->be_data;
    if (p->closing)
        return 0;
    if (!p->in_armed) {
        struct io_uring_sqe *sqe = ur_sqe(u);
        if (!sqe) {
            u->poll_retry = true;
            return 0;
        }
        io_uring_prep_poll_multishot(sqe, p->fd, POLLIN);
        io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_POLL_IN, p->idx, p->gen));
        p->in_armed = true;
        p->inflight++;
    }
    if (p->want_out && !p->out_armed) {
        struct io_uring_sqe *sqe = ur_sqe(u);
        if (!sqe) {
            u->poll_retry = true;
            return 0;
        }
        io_uring_prep_poll_add(sqe, p->fd, POLLOUT);
        io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_POLL_OUT, p->idx, p->gen));
        p->out_armed = true;
        p->inflight++;
    }
    /* A POLLOUT watch no longer wanted fires once and is ignored. */
    return 0;
}

static void ur_poll_stop(struct rs_poller *p)
{
    struct ur *u = p->loop->be_data;
    static const enum rs_op ops[] = {RS_OP_POLL_IN, RS_OP_POLL_OUT};
    for (int i = 0; i < 2; i++) {
        if (!(i == 0 ? p->in_armed : p->out_armed))
            continue;
        struct io_uring_sqe *sqe = ur_sqe(u);
        if (!sqe) {
            u->poll_retry = true;
            return;
        }
        io_uring_prep_cancel64(sqe, rs__ud_make(ops[i], p->idx, p->gen), 0);
        io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_CANCEL, 0, 0));
    }
}

static void ur_on_poll(struct rs_loop *l, struct ur *u, struct io_uring_cqe *cqe, bool out)
{
    struct rs_poller *p =
        rs__poller_lookup(l, rs__ud_idx(cqe->user_data), rs__ud_gen(cqe->user_data));
    if (!p) {
        RS_STAT_INC(l->stats, stale_completions);
        return;
    }
    if (out || !(cqe->flags & IORING_CQE_F_MORE)) {
        if (out)
            p->out_armed = false;
        else
            p->in_armed = false;
        p->inflight--;
    }
    if (cqe->res > 0) {
        unsigned ev = 0;
        if (cqe->res & (POLLIN | POLLERR | POLLHUP))
            ev |= out ? 0 : RS_POLL_IN;
        if (out && (cqe->res & (POLLOUT | POLLERR | POLLHUP)))
            ev |= RS_POLL_OUT;
        rs__poller_fire(p, ev);
    }
    if (p->closing) {
        if (!p->in_armed && !p->out_armed && p->inflight == 0)
            rs__poller_release(p);
        else
            u->poll_retry = true; /* cancel what is still armed */
        return;
    }
    if (!p->in_armed || (p->want_out && !p->out_armed))
        u->poll_retry = true;
}

static void ur_arm_wake(struct rs_loop *l, struct ur *u)
{
    if (u->wake_armed)
        return;
    struct io_uring_sqe *sqe = ur_sqe(u);
    if (!sqe)
        return; /* retried after the next batch */
    io_uring_prep_poll_multishot(sqe, l->wake_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_WAKE, 0, 0));
    u->wake_armed = true;
}

/* Re-arms the oldest starved receives: as many as buffers came back this turn, each of which
 * the kernel can fill at once (a starved connection has data waiting), and at least
 * UR_STARVED_MIN, so that a turn in which none came back (the ring full again, nothing in
 * flight to return one) still moves on. Each one re-armed either takes buffers or ends with
 * ENOBUFS again at once, back at the tail: a completion either way, so waiting never hangs.
 * The SQEs a turn spends here are bounded by the buffer ring, not by the connections. */
static void ur_run_starved(struct rs_loop *l, struct ur *u)
{
    uint32_t budget = u->br_returned > UR_STARVED_MIN ? u->br_returned : UR_STARVED_MIN;

    while (budget > 0 && u->starved_head) {
        struct rs_conn *c = u->starved_head;
        starved_remove(u, c);
        if (c->recv_armed || c->read_off || c->eof || rs__conn_closing(c))
            continue; /* armed meanwhile (reading resumed), or no longer reading */
        ur_arm_recv(c);
        if (c->recv_armed)
            RS_STAT_INC(l->stats, recv_rearms);
        budget--;
    }
    if (u->nstarved)
        RS_STAT_ADD(l->stats, recv_deferred, u->nstarved);
}

static void ur_run_retry(struct rs_loop *l, struct ur *u)
{
    struct rs_conn *list = u->retry;
    u->retry = NULL;
    while (list) {
        struct rs_conn *c = list;
        list = c->pend_next;
        c->on_pending = false;
        if (rs__conn_closing(c)) {
            /* Its release was held back while listed, or its cancels found no SQE; one still
             * on the close list is reached by it this turn. */
            if (c->state == RS_CONN_CANCELLING)
                rs__conn_maybe_release(c);
            else if (!c->on_dirty)
                ur_conn_close(c);
            continue;
        }
        if (c->connect_busy) {
            if (c->inflight == 0)
                ur_conn_connect(c); /* no SQE was free the first time */
            continue;
        }
        if (c->read_off && c->recv_armed)
            ur_cancel_recv(c);
        if (!c->on_starved) { /* a starved one waits for its turn there */
            bool was_armed = c->recv_armed;
            ur_arm_recv(c);
            if (!was_armed && c->recv_armed)
                RS_STAT_INC(l->stats, recv_rearms);
        }
        ur_conn_flush(c);
    }
    ur_run_starved(l, u);
    if (u->listen_retry) {
        u->listen_retry = false;
        for (uint32_t i = 0; i < l->nlisteners; i++) {
            struct rs_listener *ls = l->listeners[i];
            if (ls->released)
                continue;
            if (ls->closing || ls->paused)
                ur_listen_stop(ls);
            else
                ur_listen_start(ls);
        }
    }
    if (u->poll_retry) {
        u->poll_retry = false;
        for (uint32_t i = 0; i < l->npollers; i++) {
            struct rs_poller *p = l->pollers[i];
            if (p->released)
                continue;
            if (p->closing)
                ur_poll_stop(p);
            else
                ur_poll_arm(p);
        }
    }
    ur_arm_wake(l, u);
}

static void ur_dispatch(struct rs_loop *l, struct ur *u, struct io_uring_cqe *cqe)
{
    switch (rs__ud_op(cqe->user_data)) {
    case RS_OP_RECV:
        ur_on_recv(l, u, cqe);
        break;
    case RS_OP_SEND:
        ur_on_send(l, u, cqe);
        break;
    case RS_OP_ACCEPT:
        ur_on_accept(l, cqe);
        break;
    case RS_OP_CONNECT:
        ur_on_connect(l, cqe);
        break;
    case RS_OP_POLL_IN:
        ur_on_poll(l, u, cqe, false);
        break;
    case RS_OP_POLL_OUT:
        ur_on_poll(l, u, cqe, true);
        break;
    case RS_OP_WAKE: {
        uint64_t v;
        ssize_t r = read(l->wake_fd, &v, sizeof(v));
        (void)r;
        if (!(cqe->flags & IORING_CQE_F_MORE))
            u->wake_armed = false;
        break;
    }
    default: /* cancel results: the cancelled operation reports for itself */
        break;
    }
}

/* Handles the completions the CQ holds, in order, at most one CQ's worth (the rest stays for
 * the next turn, which then does not wait). Each batch is copied out and the CQ advanced before
 * it is handled, so what handling it completes at once (an SQ-full submit) finds room in the CQ
 * rather than overflowing. Buffers go back to the kernel after each batch. Returns how many. */
static unsigned ur_reap(struct rs_loop *l, struct ur *u)
{
    struct io_uring_cqe batch[UR_REAP_BATCH];
    unsigned total = 0;

    while (total < u->cq_entries) {
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&u->ring, head, cqe)
        {
            batch[n++] = *cqe;
            if (n == UR_REAP_BATCH)
                break;
        }
        if (n == 0)
            break;
        io_uring_cq_advance(&u->ring, n);
        for (unsigned i = 0; i < n; i++)
            ur_dispatch(l, u, &batch[i]);
        u->br_returned += u->br_added;
        rs__ur_buf_commit(u);
        total += n;
    }
    return total;
}

static int ur_wait(struct rs_loop *l, int64_t timeout_ns)
{
    struct ur *u = l->be_data;
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts, *tsp = NULL;
    unsigned n;

    ur_arm_wake(l, u);
    if (u->retry || io_uring_cq_has_overflow(&u->ring))
        timeout_ns = 0;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    /* What this turn queued; read before the submit, one load from the SQ ring. */
    RS_PROBE2(loop_submit, u->id, io_uring_sq_ready(&u->ring));
    int ret = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, tsp, NULL);
    if (ret == -EBUSY || ret == -EBADR)
        ur_enter_error(u, ret);
    else if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN)
        return ret;

    u->br_returned = 0;
    n = ur_reap(l, u);
    /* Completions the CQ had no room for wait in the kernel's overflow list (NODROP), in order,
     * and new ones queue behind them: with the CQ reaped, a GETEVENTS enter moves them in. A
     * bounded number of rounds per turn; a next turn that finds the flag still set does not
     * wait. */
    for (unsigned round = 0; round < UR_FLUSH_ROUNDS && io_uring_cq_has_overflow(&u->ring);
         round++) {
        RS_STAT_INC(l->stats, cq_overflows);
        ret = io_uring_get_events(&u->ring);
        if (ret < 0)
            ur_enter_error(u, ret);
        n += ur_reap(l, u);
    }
    ur_run_retry(l, u);
    return (int)n;
}

const struct rs_backend_ops rs__uring_backend = {
    .name = "io_uring",
    .init = rs__ur_init,
    .fini = rs__ur_fini,
    .listen_start = ur_listen_start,
    .listen_stop = ur_listen_stop,
    .conn_start = ur_conn_start,
    .conn_connect = ur_conn_connect,
    .conn_flush = ur_conn_flush,
    .conn_read_pause = ur_conn_read_pause,
    .conn_read_resume = ur_conn_read_resume,
    .conn_close = ur_conn_close,
    .poll_arm = ur_poll_arm,
    .poll_stop = ur_poll_stop,
    .wait = ur_wait,
    .features = rs__ur_features,
};
