#ifndef RINGSOCK_SERVICES_IDLE_H
#define RINGSOCK_SERVICES_IDLE_H

/* The idle and send timeouts of a byte-stream connection (echo, discard, sockperf over TCP),
 * private to the services layer. A connection that moved no byte either way (received, or
 * taken by the kernel) for the timeout is closed (FIN) and counted as idle. One that owes its
 * peer bytes and whose peer took none of them for the timeout is reset (RST, so the kernel
 * drops what it holds for it at once) and counted as a send timeout, whether or not the peer
 * still sends: a peer that stopped reading cannot pin memory.
 *
 * One timer per connection, armed at accept and moved only when it fires (as http.c does):
 * receiving only notes the time (rs__idle_rx), send progress is the loop's own timestamp
 * (rs_conn_sent_ns), and a timer that fires before the moved deadline re-arms for the rest. So
 * a busy connection costs one timer run per timeout period, and the hot path no heap work. */

#include <stdatomic.h>
#include <stdint.h>

#include "ringsock/core/loop.h"
#include "ringsock/util/log.h"

/* What the connections of one worker and service share; owned by the service's worker. */
struct rs_idle_ctx {
    struct rs_loop *loop;
    uint64_t timeout_ns;        /* > 0: rs__idle_start is not called when it is off */
    _Atomic uint64_t *ctr_idle; /* the service's idle-timeout counter */
    _Atomic uint64_t *ctr_send; /* the service's send-timeout counter */
};

struct rs_idle {
    struct rs_timer timer;
    const struct rs_idle_ctx *x;
    struct rs_conn *c;
    uint64_t rx_ns; /* last bytes received (or the accept) */
    uint64_t q_ns;  /* when the queue last went from empty to holding bytes */
};

/* Starts timing c (call from the accept callback). Returns 0, or -ENOMEM if the loop had no
 * room for one more timer (close the connection then). */
int rs__idle_start(struct rs_idle *d, const struct rs_idle_ctx *x, struct rs_conn *c);
/* Stops timing (from on_close): disarms and gives the timer's room back. */
void rs__idle_stop(struct rs_idle *d);

/* Bytes were received on d's connection: call before queueing what answers them. */
static inline void rs__idle_rx(struct rs_idle *d)
{
    uint64_t now = rs_now_ns();
    d->rx_ns = now;
    if (rs_conn_queued(d->c) == 0)
        d->q_ns = now;
}

#endif
