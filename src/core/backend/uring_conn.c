/* io_uring backend, connections: receives into the provided buffer ring within the write-queue
 * cap, one send (or sendmsg) in flight at a time with short sends resubmitted from the queue
 * head, connects, and closes that cancel each operation by its user data. The loop, listeners
 * and pollers are in uring_io.c. */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/probes.h"
#include "uring.h"

/* The starved list: connections whose receive ended with ENOBUFS. Re-arming them all at the
 * next turn, as any other ended receive is, would cost an SQE each per turn, most failing
 * again while the ring is dry: O(connections) per turn for nothing. Instead each turn re-arms
 * the oldest few, as many as buffers came back (ur_run_starved). Doubly linked, so a close
 * takes a connection off at once and its release waits for nothing. */
void rs__ur_starved_add(struct ur *u, struct rs_conn *c)
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

void rs__ur_starved_remove(struct ur *u, struct rs_conn *c)
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

/* Arms c's receive so that what it delivers cannot take c's queue past the write-queue cap:
 * room is what the queue may still take (rs__conn_read_room), and a receive takes at most one
 * provided buffer. With the kernel's byte limit, multishot ends after room - buf_size + 1 bytes
 * or more, so its last buffer still fits; where room is less than a buffer, a one-shot receive
 * asks for room bytes. Without the limit, multishot is armed only while the queue is empty
 * (echo's fast path) and rs__ur_on_recv cancels it once the queue passes half the cap; one-shot
 * receives of at most room bytes are used while the queue holds anything. */
void rs__ur_arm_recv(struct rs_conn *c)
{
    struct ur *u = c->loop->be_data;
    if (c->recv_armed || rs__conn_closing(c) || c->read_off || c->eof)
        return;
    size_t room = rs__conn_read_room(c);
    if (room == 0)
        return; /* backpressure is on now: resumed at half the cap */
    struct io_uring_sqe *sqe = rs__ur_sqe(u);
    if (!sqe) {
        rs__ur_retry_add(u, c);
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

void rs__ur_conn_start(struct rs_conn *c)
{
    rs__ur_arm_recv(c);
}

void rs__ur_conn_connect(struct rs_conn *c)
{
    struct ur *u = c->loop->be_data;
    struct io_uring_sqe *sqe = rs__ur_sqe(u);
    if (!sqe) {
        rs__ur_retry_add(u, c);
        return;
    }
    io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&c->peer->ss, c->peer->len);
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_CONNECT, c->idx, c->gen));
    c->inflight++;
}

void rs__ur_on_connect(struct rs_loop *l, struct io_uring_cqe *cqe)
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

void rs__ur_conn_flush(struct rs_conn *c)
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
    struct io_uring_sqe *sqe = rs__ur_sqe(u);
    if (!sqe) {
        ur_sendmsg_put(u, sm);
        rs__ur_retry_add(u, c);
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

void rs__ur_cancel_recv(struct rs_conn *c)
{
    struct ur *u = c->loop->be_data;
    if (!c->recv_armed || c->recv_cancel)
        return;
    struct io_uring_sqe *sqe = rs__ur_sqe(u);
    if (!sqe) {
        rs__ur_retry_add(u, c);
        return;
    }
    io_uring_prep_cancel64(sqe, rs__ud_make(RS_OP_RECV, c->idx, c->gen), 0);
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_CANCEL, c->idx, c->gen));
    c->recv_cancel = true;
}

void rs__ur_conn_read_pause(struct rs_conn *c)
{
    /* A one-shot receive simply is not re-armed; a multishot one must be cancelled. What it
     * delivers before the cancel lands is queued: within the cap where it was armed with the
     * kernel's byte limit, else past it by at most that. */
    if (c->recv_ms)
        rs__ur_cancel_recv(c);
}

void rs__ur_conn_read_resume(struct rs_conn *c)
{
    rs__ur_arm_recv(c); /* if the cancelled receive is still in flight, its last CQE re-arms */
}

/* Asks for one operation of c to be cancelled, by its user data. Returns false if no SQE. */
static bool ur_cancel_op(struct ur *u, struct rs_conn *c, enum rs_op op)
{
    struct io_uring_sqe *sqe = rs__ur_sqe(u);
    if (!sqe)
        return false;
    io_uring_prep_cancel64(sqe, rs__ud_make(op, c->idx, c->gen), 0);
    io_uring_sqe_set_data64(sqe, rs__ud_make(RS_OP_CANCEL, c->idx, c->gen));
    return true;
}

/* Cancels what is in flight, each operation by its user data: the kernel finds those in a hash.
 * A cancel by fd (IORING_ASYNC_CANCEL_FD) walks every poll the ring has armed, one per idle
 * connection with multishot receive, so closing n connections cost O(n^2): 9 s for 18k. */
void rs__ur_conn_close(struct rs_conn *c)
{
    struct ur *u = c->loop->be_data;
    rs__ur_starved_remove(u, c);
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
    rs__ur_retry_add(u, c); /* the rest of the cancels go out after the batch */
}

void rs__ur_on_recv(struct rs_loop *l, struct ur *u, struct io_uring_cqe *cqe)
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
             * one-shot receives of at most the room left take over (rs__ur_arm_recv). */
            if (c->recv_ms && !u->ms_recv_limit && !c->recv_cancel &&
                rs_conn_room(c) <= c->wq_limit / 2)
                rs__ur_cancel_recv(c);
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
            rs__ur_starved_add(u, c);
        else
            rs__ur_retry_add(u, c);
    }
}

void rs__ur_on_send(struct rs_loop *l, struct ur *u, struct io_uring_cqe *cqe)
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
