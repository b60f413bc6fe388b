/* Idle and send timeouts of byte-stream connections: see idle.h. */

#include "idle.h"

#include <errno.h>

/* The time at which d's connection times out, and whether it then owes its peer bytes (a
 * send timeout) or not (idle). Owing, only send progress counts, from when the queue last
 * started to fill; otherwise the last byte either way. Each base only moves forward, and
 * owing gives the earlier deadline of the two, so a due time computed later is never before
 * one the timer was armed for: the timer fires early, never late. */
static uint64_t idle_due(const struct rs_idle *d, bool *owed)
{
    uint64_t tx = rs_conn_sent_ns(d->c);
    uint64_t base = (*owed = rs_conn_queued(d->c) > 0) ? d->q_ns : d->rx_ns;
    return (tx > base ? tx : base) + d->x->timeout_ns;
}

static void idle_fired(struct rs_timer *t, void *arg)
{
    struct rs_idle *d = arg;
    const struct rs_idle_ctx *x = d->x;
    bool owed;
    uint64_t due = idle_due(d, &owed);
    if (rs_now_ns() < due) {
        rs_loop_timer_arm_at(x->loop, t, due); /* room reserved at start */
        return;
    }
    if (owed) {
        atomic_store_explicit(x->ctr_send,
                              atomic_load_explicit(x->ctr_send, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        rs_conn_set_close_reason(d->c, RS_CLOSE_SEND_TIMEOUT);
        rs_conn_reset(d->c);
    } else {
        atomic_store_explicit(x->ctr_idle,
                              atomic_load_explicit(x->ctr_idle, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        rs_conn_set_close_reason(d->c, RS_CLOSE_IDLE_TIMEOUT);
        rs_conn_close(d->c);
    }
}

int rs__idle_start(struct rs_idle *d, const struct rs_idle_ctx *x, struct rs_conn *c)
{
    if (rs_loop_timer_reserve(x->loop, 1) < 0)
        return -ENOMEM;
    d->x = x;
    d->c = c;
    d->rx_ns = d->q_ns = rs_now_ns();
    rs_timer_init(&d->timer, idle_fired, d);
    rs_loop_timer_arm_at(x->loop, &d->timer, d->rx_ns + x->timeout_ns);
    return 0;
}

void rs__idle_stop(struct rs_idle *d)
{
    rs_loop_timer_disarm(d->x->loop, &d->timer);
    rs_loop_timer_unreserve(d->x->loop, 1);
}
