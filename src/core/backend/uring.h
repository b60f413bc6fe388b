#ifndef RINGSOCK_CORE_URING_H
#define RINGSOCK_CORE_URING_H

/* What the io_uring backend's files share: probing (uring_probe.c), each worker's ring
 * (uring_setup.c), the provided buffer ring (uring_bufring.c), connections (uring_conn.c) and the
 * loop (uring_io.c). Private to the backend. */

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "../loop_internal.h"
#include "ringsock/core/bufring.h"
#include "ringsock/util/probes.h"

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif

#ifndef IORING_SETUP_CLAMP
#define IORING_SETUP_CLAMP (1U << 4)
#endif

#define UR_SQ_ENTRIES 1024
/* The CQ: room for what may complete between two reaps (see ur_cq_entries in uring_setup.c),
 * asked of the kernel with IORING_SETUP_CLAMP, which cuts it to its own limit (65536,
 * IORING_MAX_CQ_ENTRIES, since 5.5); what does not fit overflows and is handled (uring_io.c). */
#define UR_CQ_PER_CONN  2
#define UR_CQ_EXTRA     64
#define UR_CQ_MAX       65536
#define UR_REAP_BATCH   64 /* CQEs copied out of the ring at a time */
#define UR_FLUSH_ROUNDS 8  /* overflow flushes per loop turn; the rest waits for the next */
#define UR_STARVED_MIN  4  /* starved receives re-armed per turn even if no buffer came back */
#define UR_BGID         0
#define UR_SENDMSG_KEEP 256

/* The msghdr and iovecs of a sendmsg in flight: the kernel may read them until it completes,
 * so they must outlive the call, but only sends with several chunks queued need them. They come
 * from a per-worker pool instead of sitting in every connection, idle ones included (184 of a
 * connection's 312 bytes). */
struct ur_sendmsg {
    struct msghdr msg;
    struct iovec iov[RS_SEND_IOV];
    struct ur_sendmsg *next; /* pool free list */
};

struct ur {
    struct io_uring ring;
    struct io_uring_buf_ring *brr; /* shared with the kernel */
    size_t brr_len;
    struct rs_bufring br;
    uint32_t br_mask;
    uint32_t br_added;     /* buffers handed back since the last advance */
    uint32_t br_returned;  /* buffers handed back this loop turn */
    unsigned cq_lost_seen; /* the kernel's count of dropped CQEs, as last counted */
    struct rs_ratelimit rl_dropped;
    unsigned id; /* the worker's, for probes */
    struct rs_stats *stats;
    unsigned sq_entries, cq_entries; /* as the kernel made them */
    bool ms_accept, ms_recv;
    bool ms_recv_limit; /* multishot receives take a byte limit (rs__ur_prep_recv_limit) */
    bool wake_armed;
    struct rs_conn *retry; /* connections that need an SQE they could not get */
    /* Connections whose receive ended for want of buffers (ENOBUFS), oldest first: re-armed
     * a few per turn as buffers come back, not all at once (uring_io.c, ur_run_starved). */
    struct rs_conn *starved_head, *starved_tail;
    uint32_t nstarved;
    struct ur_sendmsg *sm_free; /* at most UR_SENDMSG_KEEP kept for reuse */
    uint32_t sm_nfree;
    bool listen_retry;
    bool poll_retry;
    char features[160];
};

/* What this kernel's io_uring offers, as uring_probe.c probed it (see the comment there). */
enum ur_feat {
    UR_OP_ACCEPT, /* opcodes the backend needs */
    UR_OP_RECV,
    UR_OP_SEND,
    UR_OP_SENDMSG,
    UR_OP_CONNECT,
    UR_OP_ASYNC_CANCEL,
    UR_OP_POLL_ADD,
    UR_OP_RECVMSG, /* opcodes recorded for the datagram path */
    UR_OP_SEND_ZC,
    UR_OP_SENDMSG_ZC,
    UR_SINGLE_ISSUER, /* setup flags rings are created with */
    UR_DEFER_TASKRUN,
    UR_COOP_TASKRUN,
    UR_NODROP, /* the ring's IORING_FEAT_ bits */
    UR_FAST_POLL,
    UR_EXT_ARG,
    UR_BUF_RING, /* tried on a ring */
    UR_MS_ACCEPT,
    UR_MS_RECV,
    UR_MS_RECV_LIMIT,
    UR_FEAT_COUNT
};

struct ur_probe {
    int err;              /* 0, or -errno when io_uring cannot serve here; why[] says why */
    uint32_t have;        /* 1u << enum ur_feat for each feature found (and not hidden) */
    unsigned setup_flags; /* the IORING_SETUP_ flags every ring is created with */
    unsigned test_sq;     /* RINGSOCK_TEST_URING_SQ and _CQ: ring sizes forced, or 0 */
    unsigned test_cq;
    char why[160];
};

/* uring_probe.c: the probe, run once per process (by whichever thread asks first). Never NULL. */
const struct ur_probe *rs__ur_probe(void);
/* Creates a ring with the most preferred set of optional setup flags, within `allowed`, that
 * the kernel accepts (it fails an unknown flag with EINVAL). Returns 0 or -errno; *p says what
 * the ring was set up with (flags, features). */
int rs__ur_ring_create(struct io_uring *ring, unsigned sq, unsigned cq, unsigned allowed,
                       struct io_uring_params *p);

static inline bool rs__ur_has(const struct ur_probe *p, enum ur_feat f)
{
    return p->have & (1u << f);
}

/* Gives a multishot receive (IORING_RECV_MULTISHOT) a total byte limit, kernel >= 6.17: once it
 * has received that many bytes (the last receive may take a whole buffer past it) it ends, its
 * last CQE without IORING_CQE_F_MORE. The field is sqe->optlen in newer headers; liburing 2.3
 * names the same union member file_index. Older kernels fail a non-zero one with EINVAL. */
static inline void rs__ur_prep_recv_limit(struct io_uring_sqe *sqe, uint32_t limit)
{
    sqe->file_index = limit;
}

/* uring_setup.c: a worker's ring with the features probed, and its buffer ring; 0 or -errno. */
int rs__ur_init(struct rs_loop *l);
void rs__ur_fini(struct rs_loop *l);
const char *rs__ur_features(const struct rs_loop *l);

/* uring_bufring.c: registers l->cfg.buf_count buffers of l->cfg.buf_size bytes as group
 * UR_BGID and hands them all to the kernel. Returns 0 or -errno (nothing left registered). */
int rs__ur_bufring_setup(struct ur *u, uint32_t count, uint32_t size);
/* Unregisters (when the ring is still open) and frees the buffer ring. */
void rs__ur_bufring_free(struct ur *u);
/* Registers a ring of `entries` provided buffers with no buffers in it yet (what liburing 2.4's
 * io_uring_setup_buf_ring does). Returns the ring, or NULL with *err set. */
struct io_uring_buf_ring *rs__ur_bufring_register(struct io_uring *ring, uint32_t entries,
                                                  size_t *len_out, int *err);

/* Gives buffer bid back to the kernel; it becomes visible at the next rs__ur_buf_commit. */
static inline void rs__ur_buf_recycle(struct ur *u, uint32_t bid)
{
    io_uring_buf_ring_add(u->brr, rs_bufring_addr(&u->br, bid), u->br.size, (unsigned short)bid,
                          (int)u->br_mask, (int)u->br_added);
    u->br_added++;
}

/* Publishes the buffers recycled since the last call (once per batch of completions). */
static inline void rs__ur_buf_commit(struct ur *u)
{
    if (u->br_added) {
        io_uring_buf_ring_advance(u->brr, (int)u->br_added);
        u->br_added = 0;
    }
}

/* uring_setup.c: an io_uring_enter that failed with err (-errno): counted (EBUSY, EBADR). */
void rs__ur_enter_error(struct ur *u, int err);

/* An SQE, submitting what is queued if the SQ is full. NULL means try again after the batch. */
static inline struct io_uring_sqe *rs__ur_sqe(struct ur *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        int n = io_uring_submit(&u->ring);
        RS_PROBE2(loop_submit, u->id, n);
        if (n < 0)
            rs__ur_enter_error(u, n);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

/* Puts c on the list of connections to retry after the batch (an SQE was missing, or a
 * receive ended and is re-armed once this batch's buffers are back). */
static inline void rs__ur_retry_add(struct ur *u, struct rs_conn *c)
{
    if (c->on_pending)
        return;
    c->on_pending = true;
    c->pend_next = u->retry;
    u->retry = c;
}

/* uring_conn.c: connections. The backend operations (see struct rs_backend_ops), and the
 * completions of receives, sends and connects, dispatched by uring_io.c. */
void rs__ur_arm_recv(struct rs_conn *c);
void rs__ur_cancel_recv(struct rs_conn *c);
void rs__ur_conn_start(struct rs_conn *c);
void rs__ur_conn_connect(struct rs_conn *c);
void rs__ur_conn_flush(struct rs_conn *c);
void rs__ur_conn_read_pause(struct rs_conn *c);
void rs__ur_conn_read_resume(struct rs_conn *c);
void rs__ur_conn_close(struct rs_conn *c);
void rs__ur_on_connect(struct rs_loop *l, struct io_uring_cqe *cqe);
void rs__ur_on_recv(struct rs_loop *l, struct ur *u, struct io_uring_cqe *cqe);
void rs__ur_on_send(struct rs_loop *l, struct ur *u, struct io_uring_cqe *cqe);
/* The starved list (receives that ended with ENOBUFS), re-armed as buffers come back. */
void rs__ur_starved_add(struct ur *u, struct rs_conn *c);
void rs__ur_starved_remove(struct ur *u, struct rs_conn *c);

#endif
