#ifndef RINGSOCK_LOOP_INTERNAL_H
#define RINGSOCK_LOOP_INTERNAL_H

/* What the loop core and the backends share; services never include this. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "ringsock/net/addr.h"
#include "ringsock/util/log.h"
#include "ringsock/core/loop.h"
#include "ringsock/core/outq.h"
#include "ringsock/core/timer.h"

#define RS_SEND_IOV   8
#define RS_SLAB_CONNS 256u

/* Operation kinds carried in a completion's user data, with an index and a generation:
 * [op:8][index:24][generation:32]. A completion whose generation no longer matches the
 * connection in that slot is stale (the slot was reused) and is dropped. */
enum rs_op {
    RS_OP_NONE = 0,
    RS_OP_WAKE,
    RS_OP_ACCEPT,
    RS_OP_RECV,
    RS_OP_SEND,
    RS_OP_CANCEL,
    RS_OP_CONN,     /* epoll: readiness on a connection */
    RS_OP_POLL_IN,  /* readiness of a poller's fd */
    RS_OP_POLL_OUT, /* writability of a poller's fd */
    RS_OP_CONNECT,
};

#define RS_IDX_MAX ((1u << 24) - 1)

static inline uint64_t rs__ud_make(enum rs_op op, uint32_t idx, uint32_t gen)
{
    return ((uint64_t)op << 56) | ((uint64_t)(idx & RS_IDX_MAX) << 32) | gen;
}
static inline enum rs_op rs__ud_op(uint64_t ud)
{
    return (enum rs_op)(ud >> 56);
}
static inline uint32_t rs__ud_idx(uint64_t ud)
{
    return (uint32_t)(ud >> 32) & RS_IDX_MAX;
}
static inline uint32_t rs__ud_gen(uint64_t ud)
{
    return (uint32_t)ud;
}

struct rs_listener {
    struct rs_loop *loop;
    int fd;
    uint32_t idx;
    rs_accept_fn fn;
    void *arg;
    bool armed;   /* an accept is registered (multishot, one-shot, or in epoll) */
    bool paused;  /* backing off after EMFILE/ENFILE */
    bool closing; /* stop: release once nothing is in flight */
    bool released;
    uint16_t inflight;
    uint32_t gen;
    uint32_t backoff_ms;
    struct rs_timer backoff;
};

struct rs_poller {
    struct rs_loop *loop;
    int fd;
    uint32_t idx;
    uint32_t gen;
    rs_poll_fn fn;
    void *arg;
    bool in_armed;  /* readability watch registered (multishot poll / epoll) */
    bool out_armed; /* writability watch registered */
    bool want_out;
    bool again; /* on the loop's run-again list */
    bool closing;
    bool released;
    uint16_t inflight;
    struct rs_poller *again_next;
    void (*on_stop)(void *arg); /* rs_poller_set_on_stop */
    void *on_stop_arg;
};

/* Connection lifecycle: c->state, changed only by rs__conn_set_state (conn.c), which refuses a
 * change its table does not list. The states order the connection's output side, so the hot
 * path asks one question with one compare ("closing?" is state >= CLOSING, "may send?" is
 * state <= OPEN).
 *
 *   FREE -accepted-> OPEN
 *   FREE -rs_loop_connect-> CONNECTING -connected-> OPEN
 *   CONNECTING, OPEN -rs_conn_shutdown_after_flush-> FLUSH_SHUT
 *   FLUSH_SHUT -queue empty, no send or connect in flight: shutdown(SHUT_WR)-> SHUT
 *   CONNECTING, OPEN, FLUSH_SHUT, SHUT -rs_conn_close_after_flush-> FLUSH_CLOSE
 *   FLUSH_CLOSE -queue empty, no send in flight-> CLOSING (a connect is abandoned)
 *   CONNECTING .. FLUSH_CLOSE -rs_conn_close, an error, a failed connect-> CLOSING
 *   CLOSING -end of turn: the backend cancels what is in flight-> CANCELLING
 *   CANCELLING -nothing in flight, on no list: on_close-> FREE (generation + 1)
 *
 *     FREE -connect-> CONNECTING -connected-> OPEN <-accepted- FREE
 *                        |   \               /  |
 *                        |    +-> FLUSH_SHUT <+   |    rs_conn_shutdown_after_flush
 *                        |          |      \      |
 *                        |          v       \     |
 *                        |         SHUT      \    |
 *                        |          |         v   v
 *                        +----------+-----> FLUSH_CLOSE    rs_conn_close_after_flush
 *                                                |
 *     each state above -rs_conn_close, error-> CLOSING -end of turn-> CANCELLING
 *                                                                        |
 *     FREE <------------ nothing in flight, on no list: on_close -------+
 *
 * A connect still under way in FLUSH_SHUT or FLUSH_CLOSE is connect_busy: the flush waits for
 * it. No callback but on_close runs from CLOSING on; on_close runs in CANCELLING. */
enum rs_conn_state {
    RS_CONN_FREE = 0,    /* on the free list (or just taken from it) */
    RS_CONN_CONNECTING,  /* rs_loop_connect under way; sends are queued */
    RS_CONN_OPEN,        /* reading and sending */
    RS_CONN_FLUSH_SHUT,  /* sending what is queued, then FIN; sends refused; still reading */
    RS_CONN_SHUT,        /* FIN sent; still reading; the service closes later */
    RS_CONN_FLUSH_CLOSE, /* sending what is queued, then closing; sends refused */
    RS_CONN_CLOSING,     /* close asked for: on the close list until the end of the turn */
    RS_CONN_CANCELLING,  /* the backend cancelled what is in flight; released when none is */
    RS_CONN_NSTATES,
};

/* Why reading is off (c->read_off): each reason has its bit, reading runs when none is set. */
#define RS_READ_OFF_QUEUE   1u /* the loop's backpressure: the queue reached the cap */
#define RS_READ_OFF_SERVICE 2u /* rs_conn_read_stop */

struct rs_conn {
    struct rs_loop *loop;
    const struct rs_conn_ops *ops;
    void *udata;
    int fd;
    uint32_t idx;
    uint32_t gen;
    uint16_t inflight; /* io_uring operations not yet completed for good */
    uint8_t state;     /* enum rs_conn_state */
    /* The facts below are not lifecycle: each holds, or not, in several states at once, so a
     * state per combination would multiply the table without adding a rule. */
    uint8_t read_off; /* RS_READ_OFF_*: orthogonal, any state that reads may be paused */
    bool eof;         /* the peer sent FIN: its input side, independent of our output side,
                         which the states describe (a FIN may come in any of them) */
    bool drain_armed; /* the queue reached the cap: on_drain when it falls to half; a fact
                         about the queue, which may fill in CONNECTING and OPEN alike */
    bool cross;       /* rs_conn_read_cross: reads are not held to this queue's room */
    bool wq_span;     /* the cap counts memory of whole chunks, not bytes (wq_cap) */
    /* Operations in flight: a closing connection waits for them, whatever its state. */
    bool recv_armed;   /* a receive is in flight (io_uring) */
    bool recv_ms;      /* ... and it is multishot (io_uring) */
    bool send_busy;    /* a send is in flight (io_uring) */
    bool connect_busy; /* a connect is under way: rs__conn_connected not called yet */
    bool recv_cancel;  /* a cancel for the receive is in flight (io_uring) */
    bool op_cancel;    /* a cancel for the send or connect is in flight (io_uring) */
    /* List membership: the lists are singly linked, so a listed connection is not released. */
    bool on_dirty;   /* on the loop's flush/close list */
    bool on_pending; /* on the backend's retry/read list */
    bool on_starved; /* io_uring: on the list of receives waiting for buffers (ENOBUFS) */
    /* epoll's view of the fd. */
    bool readable;     /* data may be waiting (edge seen, not drained) */
    bool registered;   /* the fd is in the epoll set */
    bool shut_first;   /* we sent FIN before the peer did (rs_conn_shutdown_after_flush) */
    uint8_t close_why; /* enum rs_close_reason: rs_conn_set_close_reason, stop */
    uint16_t listener; /* the listener's index (accepted connections) */
    int close_err;
    struct rs_addr *peer; /* target of a connect in progress (owned) */
    struct rs_outq outq;
    struct rs_conn *next;                        /* free list */
    struct rs_conn *dirty_next;                  /* flush/close list */
    struct rs_conn *pend_next;                   /* backend retry list */
    struct rs_conn *starved_next, *starved_prev; /* io_uring's starved list */
    size_t send_len;                             /* bytes handed to the in-flight send */
    size_t wq_limit; /* this connection's write-queue cap: the loop's, or rs_conn_set_write_queue */
    uint64_t bytes_in; /* received and sent over the connection's life: probes */
    uint64_t bytes_out;
    void *send_state; /* io_uring: the in-flight sendmsg's msghdr and iovecs */

    uint64_t sent_ns;    /* when the kernel last took bytes (rs_now_ns), 0 = never */
    uint32_t limit_slot; /* its address in the loop's conn_limit table, 0 = none */
    uint32_t pend_turn;  /* epoll: the loop turn it was put on the pending list */
    /* The access log's (only with cfg.conn_end): peer address and accept time. */
    const struct rs_addr *upstream;
    uint64_t start_ns;
    struct sockaddr_in6 client; /* AF_INET or AF_INET6 (a sockaddr_in fits), 0: unknown */
};

/* Closing or cancelling: no callback but on_close, nothing new submitted. */
static inline bool rs__conn_closing(const struct rs_conn *c)
{
    return c->state >= RS_CONN_CLOSING;
}

struct rs_backend_ops {
    const char *name;
    int (*init)(struct rs_loop *l);
    void (*fini)(struct rs_loop *l);
    /* Start (or resume) accepting; returns 0 or -errno. */
    int (*listen_start)(struct rs_listener *ls);
    /* Stop accepting; ls->armed drops once the backend no longer accepts. */
    void (*listen_stop)(struct rs_listener *ls);
    /* A new connection: begin receiving. */
    void (*conn_start)(struct rs_conn *c);
    /* Start connecting c->fd to c->peer; report with rs__conn_connected. */
    void (*conn_connect)(struct rs_conn *c);
    /* Queued output exists: send it if no send is in flight. */
    void (*conn_flush)(struct rs_conn *c);
    void (*conn_read_pause)(struct rs_conn *c);
    void (*conn_read_resume)(struct rs_conn *c);
    /* Stop every operation; call rs__conn_release once none is in flight. */
    void (*conn_close)(struct rs_conn *c);
    /* Poller: (re)arm the readability watch, and the writability one while want_out. */
    int (*poll_arm)(struct rs_poller *p);
    /* Poller: stop watching; released (fd closed) by the core once nothing is in flight. */
    void (*poll_stop)(struct rs_poller *p);
    /* Wait up to timeout_ns (-1: forever) for events and dispatch them. Returns how many it
     * dispatched (CQEs or epoll events, 0 after a timeout), or -errno. */
    int (*wait)(struct rs_loop *l, int64_t timeout_ns);
    const char *(*features)(const struct rs_loop *l);
};

extern const struct rs_backend_ops rs__uring_backend;
extern const struct rs_backend_ops rs__epoll_backend;

/* rs_loop_new with the backend given: the seam the unit tests plug a fake backend into (one
 * that records calls and lets the test complete operations by hand). Internal. */
struct rs_loop *rs__loop_new_with_backend(const struct rs_loop_config *cfg, struct rs_stats *stats,
                                          const struct rs_backend_ops *be, int *err);

struct rs_loop {
    const struct rs_backend_ops *be;
    void *be_data;
    struct rs_loop_config cfg;
    struct rs_stats *stats;
    struct rs_chunk_cache chunks;
    /* The write-queue cap in the queue's terms (conn.c): with room for two chunks or more, the
     * memory of whole chunks (wq_span: a queue counts as its rs_outq_span, limited to the data
     * of the chunks the cap holds); below that, bytes owed (wq_limit is the cap). */
    size_t wq_limit; /* a new connection's cap (rs__wq_cap of cfg.write_queue) */
    bool wq_span;
    struct rs_conn **slabs;
    uint32_t nslabs, max_slabs;
    struct rs_conn *free_list;
    uint32_t nconns;                /* in use, closing ones included */
    struct rs_listener **listeners; /* by index, grown by doubling (listener.c) */
    uint32_t nlisteners, listeners_cap;
    struct rs_conn *dirty;      /* connections with output to flush */
    struct rs_poller **pollers; /* by index, grown by doubling (poller.c) */
    uint32_t npollers, pollers_cap;
    struct rs_poller *again; /* pollers that stopped at their budget */
    struct rs_timer_heap timers;
    int wake_fd; /* eventfd */
    _Atomic bool stop_requested;
    _Atomic unsigned grace_ms;
    _Atomic bool drain_requested; /* the stop asked for is a drain (rs_loop_request_drain) */
    _Atomic unsigned stop_seq;    /* requests made; a later one may cut a drain short */
    unsigned stop_seen;           /* stop_seq when the loop last acted on a request */
    bool stopping;
    bool draining; /* stopping, but connections are left to finish until the grace ends */
    bool aborting;
    struct rs_timer grace_timer;
    struct rs_ratelimit rl_accept;
    struct rs_ratelimit rl_conn;
    uint64_t bad_transitions; /* refused by rs__conn_set_state: bugs, logged once */

    struct rs_conn_limit *conn_limit; /* --max-conns-per-ip, NULL when off (conn_limit.c) */
};

/* Core entry points for the backends (conn.c, loop.c). */
/* The connection a completion's user data names, or NULL if its slot was released since (the
 * completion is stale: counted, to be dropped). */
struct rs_conn *rs__conn_lookup(struct rs_loop *l, uint64_t ud);
/* Moves c to state `to` if the lifecycle allows it (see enum rs_conn_state). Returns 0, or
 * -EINVAL with the state unchanged: a bug in the caller, logged once and counted. */
int rs__conn_set_state(struct rs_conn *c, enum rs_conn_state to);
/* True if the lifecycle allows from -> to. */
bool rs__conn_state_allowed(enum rs_conn_state from, enum rs_conn_state to);
const char *rs__conn_state_name(enum rs_conn_state s);
struct rs_listener *rs__listener_lookup(struct rs_loop *l, uint32_t idx, uint32_t gen);
/* A socket was accepted on ls: wraps it in a connection and hands it to the service. */
void rs__loop_accepted(struct rs_listener *ls, int fd);
/* Accepting failed with err (-errno): back off on fd exhaustion, go on for transient ones.
 * Returns true if the backend should keep accepting now. */
bool rs__listener_error(struct rs_listener *ls, int err);
/* A successful accept resets the back-off. */
void rs__listener_ok(struct rs_listener *ls);
/* The backend no longer holds anything for ls after a stop: close and free it. */
void rs__listener_release(struct rs_listener *ls);
struct rs_poller *rs__poller_lookup(struct rs_loop *l, uint32_t idx, uint32_t gen);
/* Readiness (RS_POLL_IN/OUT) reported for p: runs its callback. */
void rs__poller_fire(struct rs_poller *p, unsigned events);
/* The backend holds nothing for a stopped poller any more: close its fd. */
void rs__poller_release(struct rs_poller *p);
/* Bytes arrived: hands them to the service and applies backpressure. */
void rs__conn_deliver(struct rs_conn *c, const void *data, size_t len);
/* How many bytes the backend may read for c now: the room under the write-queue cap
 * (rs_conn_room), so that a read cannot take the queue past the cap. At 0 the loop's
 * backpressure is on (reading resumes once the queue drains to half): read nothing. */
size_t rs__conn_read_room(struct rs_conn *c);
#define LOOP_CHUNK_BYTES 16384u /* memory per output queue chunk */
/* The write-queue cap of bytes in the queue's terms: the memory of whole chunks when bytes
 * holds two or more (*span set), else bytes owed. */
size_t rs__wq_cap(const struct rs_loop *l, size_t bytes, bool *span);
void rs__conn_eof(struct rs_conn *c);
/* A connect finished (0 or -errno): tells the service, then starts receiving or closes. */
void rs__conn_connected(struct rs_conn *c, int err);
/* The kernel took n bytes from the head of the queue. The rest is not re-queued here. */
void rs__conn_sent(struct rs_conn *c, size_t n);
/* Queued bytes remain after a send completed: flush again at the end of the turn. */
void rs__conn_want_flush(struct rs_conn *c);
/* The connection failed (-errno): counted and closed. */
void rs__conn_fail(struct rs_conn *c, int err);
/* Releases c (on_close, close the fd, recycle the slot) if it is CANCELLING, nothing is in
 * flight and it is on no list; otherwise does nothing. Backends call it after each completion
 * of a closing connection. */
void rs__conn_maybe_release(struct rs_conn *c);
/* Flush lists and pending closes; called by the core after each dispatch. */
void rs__loop_end_turn(struct rs_loop *l);

#endif
