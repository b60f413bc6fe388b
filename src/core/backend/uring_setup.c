/* The io_uring backend's set-up: each worker's ring, created on the worker's thread with the
 * setup flags and features the probe found (uring_probe.c), its CQ sized from the load, and its
 * provided buffer ring (uring_bufring.c). */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "uring.h"

/* The CQ entries a worker's ring asks for: between two reaps each connection may complete a
 * receive for good (ENOBUFS, FIN, an error, a cancel) and a send, and data completions are
 * bounded by the buffers, which come back only when reaped; plus listeners, pollers and the
 * wake-up. Rounded up to a power of two, at least twice the SQ (liburing's default ratio), at
 * most UR_CQ_MAX: past that a burst overflows, and the kernel keeps what overflowed (NODROP). */
static unsigned ur_cq_entries(const struct rs_loop_config *cfg, unsigned sq)
{
    uint64_t want = (uint64_t)cfg->max_conns * UR_CQ_PER_CONN + cfg->buf_count + UR_CQ_EXTRA;
    unsigned cq = 2 * sq;
    while (cq < want && cq < UR_CQ_MAX)
        cq *= 2;
    return cq;
}

int rs__ur_init(struct rs_loop *l)
{
    const struct ur_probe *p = rs__ur_probe();
    struct io_uring_params params;
    struct ur *u;
    int err;

    if (p->err < 0)
        return p->err;
    u = rs_calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    unsigned sq = p->test_sq ? p->test_sq : UR_SQ_ENTRIES;
    err = rs__ur_ring_create(&u->ring, sq, p->test_cq ? p->test_cq : ur_cq_entries(&l->cfg, sq),
                             p->setup_flags, &params);
    if (err < 0)
        goto out_free;
    u->sq_entries = params.sq_entries;
    u->cq_entries = params.cq_entries;
    u->stats = l->stats;
    u->rl_dropped = (struct rs_ratelimit)RS_RATELIMIT_INIT(1000);
    err = rs__ur_bufring_setup(u, l->cfg.buf_count, l->cfg.buf_size);
    if (err < 0)
        goto out_exit_ring;

    u->id = l->cfg.id;
    bool no_ms = l->cfg.uring_no_multishot;
    u->ms_accept = !no_ms && rs__ur_has(p, UR_MS_ACCEPT);
    u->ms_recv = !no_ms && rs__ur_has(p, UR_MS_RECV);
    u->ms_recv_limit = u->ms_recv && rs__ur_has(p, UR_MS_RECV_LIMIT);
    snprintf(u->features, sizeof(u->features),
             "%s accept, %s recv, buffer ring %ux%u, sq %u, cq %u%s%s%s%s",
             u->ms_accept ? "multishot" : "one-shot", u->ms_recv ? "multishot" : "one-shot",
             u->br.count, l->cfg.buf_size, u->sq_entries, u->cq_entries,
             (params.flags & IORING_SETUP_SINGLE_ISSUER) ? ", single issuer" : "",
             (params.flags & IORING_SETUP_DEFER_TASKRUN) ? ", defer taskrun" : "",
             (params.flags & IORING_SETUP_COOP_TASKRUN) ? ", coop taskrun" : "",
             u->ms_recv_limit ? ", recv byte limit" : "");
    l->be_data = u;
    return 0;

out_exit_ring:
    io_uring_queue_exit(&u->ring);
out_free:
    rs_free(u);
    return err;
}

void rs__ur_fini(struct rs_loop *l)
{
    struct ur *u = l->be_data;
    if (!u)
        return;
    io_uring_queue_exit(&u->ring); /* cancels anything left in flight */
    for (uint32_t i = 0; i < l->nslabs; i++)
        for (uint32_t j = 0; j < RS_SLAB_CONNS; j++)
            rs_free(l->slabs[i][j].send_state); /* sends the ring never completed */
    while (u->sm_free) {
        struct ur_sendmsg *sm = u->sm_free;
        u->sm_free = sm->next;
        rs_free(sm);
    }
    rs__ur_bufring_free(u);
    rs_free(u);
    l->be_data = NULL;
}

const char *rs__ur_features(const struct rs_loop *l)
{
    return ((const struct ur *)l->be_data)->features;
}

/* Counts what an io_uring_enter that failed with err (-errno) says about the CQ. -EBUSY: the CQ
 * overflowed and the kernel could not flush it (before 5.19 it then took no SQE either; they
 * stay queued): reaping makes room, then the turn flushes and submits again. -EBADR: the kernel
 * dropped completions (no memory for its overflow list): counted and said, the loop goes on. */
void rs__ur_enter_error(struct ur *u, int err)
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
