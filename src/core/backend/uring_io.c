/* io_uring backend, the loop: reaping completions and dispatching them, retries after each
 * batch, listeners and pollers (connections are in uring_conn.c). Kernel >= 5.19 for provided
 * buffer rings and multishot accept, >= 6.0 for multishot recv, >= 6.1 for DEFER_TASKRUN; each is
 * probed and falls back where missing. Accept is multishot; receive is multishot into one provided
 * buffer ring per worker, so idle connections hold no receive buffer; one send is in flight per
 * connection, and a short send is resubmitted from the queue head, so bytes go out in order.
 * Completions are reaped in
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
    struct io_uring_sqe *sqe = rs__ur_sqe(u);
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
    struct io_uring_sqe *sqe = rs__ur_sqe(u);
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

/* --- pollers: multishot POLLIN (kernel >= 5.13), one-shot POLLOUT while wanted --- */

static int ur_poll_arm(struct rs_poller *p)
{
    struct ur *u = p->loop->be_data;
    if (p->closing)
        return 0;
    if (!p->in_armed) {
        struct io_uring_sqe *sqe = rs__ur_sqe(u);
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
        struct io_uring_sqe *sqe = rs__ur_sqe(u);
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
        struct io_uring_sqe *sqe = rs__ur_sqe(u);
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
    struct io_uring_sqe *sqe = rs__ur_sqe(u);
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
        rs__ur_starved_remove(u, c);
        if (c->recv_armed || c->read_off || c->eof || rs__conn_closing(c))
            continue; /* armed meanwhile (reading resumed), or no longer reading */
        rs__ur_arm_recv(c);
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
                rs__ur_conn_close(c);
            continue;
        }
        if (c->connect_busy) {
            if (c->inflight == 0)
                rs__ur_conn_connect(c); /* no SQE was free the first time */
            continue;
        }
        if (c->read_off && c->recv_armed)
            rs__ur_cancel_recv(c);
        if (!c->on_starved) { /* a starved one waits for its turn there */
            bool was_armed = c->recv_armed;
            rs__ur_arm_recv(c);
            if (!was_armed && c->recv_armed)
                RS_STAT_INC(l->stats, recv_rearms);
        }
        rs__ur_conn_flush(c);
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
        rs__ur_on_recv(l, u, cqe);
        break;
    case RS_OP_SEND:
        rs__ur_on_send(l, u, cqe);
        break;
    case RS_OP_ACCEPT:
        ur_on_accept(l, cqe);
        break;
    case RS_OP_CONNECT:
        rs__ur_on_connect(l, cqe);
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
        rs__ur_enter_error(u, ret);
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
            rs__ur_enter_error(u, ret);
        n += ur_reap(l, u);
    }
    ur_run_retry(l, u);
    /* Interrupted before anything was reaped (a signal, SIGSTOP and SIGCONT): completions may
     * be waiting as task work that only an enter runs; the loop enters again, without waiting,
     * before its timers. */
    if (n == 0 && ret == -EINTR)
        return -EINTR;
    return (int)n;
}

const struct rs_backend_ops rs__uring_backend = {
    .name = "io_uring",
    .init = rs__ur_init,
    .fini = rs__ur_fini,
    .listen_start = ur_listen_start,
    .listen_stop = ur_listen_stop,
    .conn_start = rs__ur_conn_start,
    .conn_connect = rs__ur_conn_connect,
    .conn_flush = rs__ur_conn_flush,
    .conn_read_pause = rs__ur_conn_read_pause,
    .conn_read_resume = rs__ur_conn_read_resume,
    .conn_close = rs__ur_conn_close,
    .poll_arm = ur_poll_arm,
    .poll_stop = ur_poll_stop,
    .wait = ur_wait,
    .features = rs__ur_features,
};
