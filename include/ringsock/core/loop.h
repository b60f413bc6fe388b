#ifndef RINGSOCK_LOOP_H
#define RINGSOCK_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringsock/core/stats.h"
#include "ringsock/core/timer.h"

/* The event loop: completion-based ("accept on this listener", "here are bytes received",
 * "send these bytes", "close", "stop/start reading", "the queue drained"), one per worker
 * thread, with an io_uring or an epoll backend chosen at run time. Services see only this
 * header.
 *
 * Threads: every function here must be called from the loop's own thread, except
 * rs_loop_wake() and rs_loop_request_stop(); create the loop on that thread too (an io_uring
 * ring set up for a single issuer refuses submissions from any other).
 *
 * Re-entrancy: callbacks (accept, on_data, on_eof, on_drain, on_connect, on_close, timers,
 * pollers) run only from inside rs_loop_run, never from inside a call the service makes:
 * rs_conn_send, rs_conn_close*, rs_conn_shutdown_after_flush, rs_conn_read_stop/start,
 * rs_loop_connect, rs_loop_listen, rs_loop_poll, rs_poller_* and the timer calls return before
 * anything they cause is reported. So a callback may call any of them, on its own connection
 * or on any other of the same loop, including rs_conn_close on the one it runs for; only
 * rs_loop_run and rs_loop_free are not for callbacks.
 *
 * A connection's life: it is the service's from the accept callback (or rs_loop_connect)
 * until on_close returns. Closing (rs_conn_close, rs_conn_close_after_flush once the queue is
 * sent, an error, a failed connect, the loop stopping) is never immediate: the loop marks the
 * connection, cancels what is in flight at the end of the turn, and calls on_close once nothing
 * is, always on a later step than the call that closed it. From the close on, no callback but
 * on_close runs for it, rs_conn_send returns -EPIPE and the other calls do nothing; after
 * on_close returns the pointer is dead (its slot is reused), so a service that keeps pointers
 * to connections (a relay's peer) must set on_close and forget them there. */

struct rs_loop;
struct rs_conn;
struct rs_listener;
struct rs_addr;

/* Why a connection (or a UDP session) ended, as the access log says it. */
enum rs_close_reason {
    RS_CLOSE_UNSET = 0,    /* decided at release: reset, error, peer_closed or server_closed */
    RS_CLOSE_PEER,         /* the peer sent FIN, then the connection closed */
    RS_CLOSE_RESET,        /* the peer reset it (ECONNRESET, EPIPE) */
    RS_CLOSE_ERROR,        /* another error (the end's err says which) */
    RS_CLOSE_SERVER,       /* the service closed it (an answer that ends it, bad input) */
    RS_CLOSE_IDLE_TIMEOUT, /* nothing came (or was owed) for the service's idle timeout */
    RS_CLOSE_SEND_TIMEOUT, /* the peer stopped reading what was owed */
    RS_CLOSE_STOPPING,     /* the server stopped (drained, or aborted at the deadline) */
    RS_CLOSE_LIMIT,        /* refused or closed by a limit (connections, per address, size) */
    RS_CLOSE_NREASONS,
};

/* "peer_closed", "reset", "error", "server_closed", "idle_timeout", "send_timeout",
 * "server_stopping", "limit" ("" for UNSET). */
const char *rs_close_reason_name(enum rs_close_reason r);

/* A finished connection or UDP session, reported to the loop's conn_end hook. Pointers are
 * valid during the call only. */
struct rs_conn_end {
    unsigned worker;                /* cfg.id */
    int listener;                   /* TCP: which rs_loop_listen of this loop (0, 1, ...) */
    bool udp;                       /* a UDP session (rs_loop_session_end) */
    const struct rs_addr *local;    /* UDP: the socket's address; TCP: NULL */
    const struct rs_addr *client;   /* NULL if unknown */
    const struct rs_addr *upstream; /* a relay's upstream (rs_conn_set_upstream), or NULL */
    uint64_t bytes_in;              /* from the client */
    uint64_t bytes_out;             /* to the client */
    uint64_t start_ns, end_ns;      /* rs_now_ns clock */
    enum rs_close_reason reason;
    int err; /* 0 or -errno */
};
typedef void (*rs_conn_end_fn)(const struct rs_conn_end *e, void *arg);

enum rs_backend_kind {
    RS_BACKEND_AUTO,
    RS_BACKEND_URING,
    RS_BACKEND_EPOLL,
};

struct rs_loop_config {
    enum rs_backend_kind backend; /* URING or EPOLL (AUTO is resolved by rs_backend_choose) */
    unsigned id;                  /* worker number, the first argument of every probe */
    uint32_t buf_count;           /* io_uring provided receive buffers (power of two) */
    uint32_t buf_size;            /* bytes per receive buffer (also epoll's read size) */
    size_t write_queue;           /* per-connection cap on queued output: backpressure */
    uint32_t max_conns;           /* connections per loop; past it new ones are refused */
    uint32_t max_conns_per_ip;    /* accepted connections open per source address, 0 = any;
                                   * past it new ones are reset at once */
    uint32_t read_budget;         /* epoll: reads per connection per loop turn */
    int sndbuf, rcvbuf;           /* SO_SNDBUF/SO_RCVBUF for accepted sockets, 0 = default */
    bool uring_no_multishot;      /* one-shot accept and recv even where multishot works */
    /* Called on the loop's thread for every accepted connection when it is released (before
     * on_close), for each one refused by a limit, and by rs_loop_session_end; NULL: off (then
     * it costs one branch per close). With it on, accepting also records the peer's address
     * and the time. */
    rs_conn_end_fn conn_end;
    void *conn_end_arg;
};

/* Fills cfg with defaults. */
void rs_loop_config_default(struct rs_loop_config *cfg);

/* Resolves AUTO (and checks URING) against this kernel. Returns the backend to use, or -errno
 * if the one asked for is unavailable; why[] says why io_uring was not chosen, if it was not. */
int rs_backend_choose(enum rs_backend_kind want, char *why, size_t whylen);
/* Parses auto, io_uring (or uring) or epoll. Returns 0 or -EINVAL. */
int rs_backend_parse(const char *s, enum rs_backend_kind *out);
const char *rs_backend_name(enum rs_backend_kind kind);
/* Describes the io_uring features in use ("multishot accept, multishot recv, buffer ring"). */
const char *rs_backend_features(const struct rs_loop *l);

/* Callbacks a service sets on a connection (see the rules above: none runs from inside a call
 * the service makes, and none but on_close after a close). */
struct rs_conn_ops {
    /* Bytes received, in order. They belong to the loop (a receive buffer it reuses) and are
     * valid only during the call: copy what must outlive it (rs_conn_send copies). Also called
     * for bytes already received when rs_conn_read_stop ran (see there). */
    void (*on_data)(struct rs_conn *c, const void *data, size_t len);
    /* The peer finished sending (FIN); called once, no on_data after it. The service decides
     * when to close (sending may go on). */
    void (*on_eof)(struct rs_conn *c);
    /* The connection is being released (err is 0 or -errno: why it closed); optional. Called
     * exactly once for every connection handed to the service, whoever closed it. c is valid
     * until it returns, but only rs_conn_udata and rs_conn_loop still mean anything. */
    void (*on_close)(struct rs_conn *c, int err);
    /* rs_loop_connect finished: err is 0, or -errno and the connection is then closed. */
    void (*on_connect)(struct rs_conn *c, int err);
    /* The queue, which had reached the cap (rs_conn_full was true), fell to half the cap or
     * less: the service may produce for c again (and resume reading the connection that feeds
     * it). Called once per time the cap was reached, after sends completed, never from inside
     * rs_conn_send, and not once c is closing. Half, not empty, so the socket still has bytes to
     * send while the producer refills it. Optional. */
    void (*on_drain)(struct rs_conn *c);
};

/* Called for each accepted connection: set its ops (and user data). */
typedef void (*rs_accept_fn)(struct rs_conn *c, void *arg);

struct rs_loop *rs_loop_new(const struct rs_loop_config *cfg, struct rs_stats *stats, int *err);
/* Frees the loop; every connection must be closed (rs_loop_run has returned). */
void rs_loop_free(struct rs_loop *l);
/* The worker number given in the config (cfg.id). */
unsigned rs_loop_id(const struct rs_loop *l);

/* Starts accepting on a listening socket (the loop takes ownership of fd). Returns 0/-errno. */
int rs_loop_listen(struct rs_loop *l, int fd, rs_accept_fn fn, void *arg);

/* Runs until a stop was requested and every connection is gone. Returns 0 or -errno. */
int rs_loop_run(struct rs_loop *l);

/* Thread-safe: asks the loop to stop accepting, let connections finish for grace_ms, then
 * abort the rest. */
void rs_loop_request_stop(struct rs_loop *l, unsigned grace_ms);
/* Thread-safe: asks the loop to stop accepting (its listeners and pollers close) and leave
 * its connections open until their peer or service closes them, for timeout_ms, then abort the
 * rest (a reload's drain: sessions finish, as nginx's and HAProxy's old processes let them). A
 * later rs_loop_request_stop or _drain replaces the deadline (a stop also closes, once they
 * owe nothing, the connections still open). */
void rs_loop_request_drain(struct rs_loop *l, unsigned timeout_ms);
/* True once the loop drains (rs_loop_request_drain acted on): a service ends connections that
 * would otherwise go on (HTTP keep-alive) at their next natural end. */
bool rs_loop_draining(const struct rs_loop *l);
/* True once the loop stops or drains (either request acted on): a service starts nothing new
 * of its own (the relay's health checks), so the loop can finish. */
bool rs_loop_stopping(const struct rs_loop *l);
/* Thread-safe: interrupts a loop waiting for events. */
void rs_loop_wake(struct rs_loop *l);

/* Timers (see timer.h): one-shot, O(log n) to arm, move or cancel, run by the loop when due.
 * Arms t delay_ms from now; re-arming an armed t moves it. Returns 0, or -ENOMEM only if t was
 * not armed and more timers are armed than were reserved with rs_loop_timer_reserve (each
 * loop reserves for its own); a timer whose room was reserved always arms. */
int rs_loop_timer_arm(struct rs_loop *l, struct rs_timer *t, uint64_t delay_ms);
/* Arms t for an absolute time on the monotonic clock (rs_now_ns), with ns resolution. */
int rs_loop_timer_arm_at(struct rs_loop *l, struct rs_timer *t, uint64_t due_ns);
/* Cancels t; harmless if it is not armed. */
void rs_loop_timer_disarm(struct rs_loop *l, struct rs_timer *t);
/* Sets aside room for n more armed timers (done where failing is handled: set-up, accept), so
 * that arming them never allocates or fails. Returns 0 or -ENOMEM. */
int rs_loop_timer_reserve(struct rs_loop *l, uint32_t n);
/* Gives back what rs_loop_timer_reserve set aside (when the timer's owner goes away). */
void rs_loop_timer_unreserve(struct rs_loop *l, uint32_t n);

/* Readiness watch for sockets the service reads and writes itself (datagrams, batched with
 * recvmmsg/sendmmsg). The callback must read until EAGAIN, or stop at its budget and call
 * rs_poller_again() so it runs again next turn without waiting; writability is reported only
 * while asked for. The fd must be non-blocking; the loop closes it when the poller ends. */
#define RS_POLL_IN  1u
#define RS_POLL_OUT 4u
struct rs_poller;
typedef void (*rs_poll_fn)(struct rs_poller *p, unsigned events, void *arg);

/* Starts watching fd for readability (the loop takes ownership of fd). Returns 0 or -errno. */
int rs_loop_poll(struct rs_loop *l, int fd, rs_poll_fn fn, void *arg, struct rs_poller **out);
void rs_poller_want_out(struct rs_poller *p, bool on);
void rs_poller_again(struct rs_poller *p);
int rs_poller_fd(const struct rs_poller *p);
/* Asks for fn(arg) once, when the loop stops or drains and so ends its pollers, before p's fd
 * is closed: a service that keeps state tied to p (the relay's UDP sessions, which need the
 * listening socket to answer) ends it there. fn runs inside rs_loop_run, by the rules above. */
void rs_poller_set_on_stop(struct rs_poller *p, void (*fn)(void *arg), void *arg);
struct rs_loop *rs_poller_loop(const struct rs_poller *p);

/* Opens a TCP connection to addr (kernel >= 5.5 for io_uring connect), from the source address
 * src when it is not NULL (see rs_net_bind_source). ops->on_connect reports the outcome on a
 * later turn; bytes sent before that are queued. Returns the connection, or NULL with *err set
 * (no socket, connection limit, src cannot be bound). */
struct rs_conn *rs_loop_connect(struct rs_loop *l, const struct rs_addr *addr,
                                const struct rs_addr *src, const struct rs_conn_ops *ops,
                                void *udata, int *err);

/* Queues bytes for sending (copied: data is the caller's again on return). Sends happen in
 * order, after the current callback. The queue is not capped here: a service that produces
 * more than it receives checks rs_conn_full and waits for on_drain. Returns 0, -EPIPE once a
 * shutdown or close was asked for, or -ENOMEM (the connection is then closed). */
int rs_conn_send(struct rs_conn *c, const void *data, size_t len);
/* True while c's queue is at the write-queue cap (cfg.write_queue): stop producing for c;
 * on_drain(c) follows when it falls to half (unless c closes first). The cap bounds the queue's
 * memory: from 32 KiB up it counts the 16 KiB chunks the queue holds, whole (what is owed, plus
 * the part of the first chunk already sent, plus the free end of the last), so a full queue
 * owes a little less than the cap; below 32 KiB it counts the bytes owed. */
bool rs_conn_full(const struct rs_conn *c);
/* Bytes that may still be queued on c before it is full (0 when it is): what a producer that
 * paces itself (a generated body, on each on_drain) adds at most. Reads are held to it too: a
 * read from c never takes c's own queue past the cap (see rs_conn_read_stop). */
size_t rs_conn_room(const struct rs_conn *c);
/* Closes once every queued byte has been sent (graceful); the peer then sees EOF. With nothing
 * queued it closes now (a connect under way is abandoned). Further sends return -EPIPE. */
void rs_conn_close_after_flush(struct rs_conn *c);
/* Sends FIN once every queued byte has been sent (and a connect under way has finished), and
 * goes on receiving: for a lingering close (an error answer must not be lost to a reset
 * because the peer was still sending). The service closes later, on EOF or a timeout of its
 * own. Further sends return -EPIPE. */
void rs_conn_shutdown_after_flush(struct rs_conn *c);
/* Closes, dropping whatever is queued; on_close follows later (see the rules above). */
void rs_conn_close(struct rs_conn *c);
/* Closes as rs_conn_close does, but with a reset (SO_LINGER 0) instead of a FIN: the kernel
 * drops the bytes it still holds for the peer at once instead of keeping an orphan socket
 * retrying them (for a peer that stopped reading). */
void rs_conn_reset(struct rs_conn *c);

/* Stops reading c: the service's own flow control (a relay stops reading A while B is full).
 * Independent of the loop's backpressure on c's own queue: reading runs again only when
 * neither stops it. Bytes the kernel already handed over still come through on_data: with
 * epoll none, with one-shot io_uring the receive in flight, with multishot io_uring what the
 * completions of the batch being handled carry (at most the worker's provided buffers,
 * buf_count x buf_size); after that nothing until rs_conn_read_start. Whatever the backend,
 * every read from c is held to the room under c's own write-queue cap when it is asked for
 * (rs_conn_room): a one-shot receive or an epoll read asks for at most that, a multishot
 * receive carries the kernel's byte limit (6.17) so that it ends within it; so bytes after a
 * stop never take c's own queue past its cap, only where the kernel lacks the limit may a
 * multishot batch go past it (then multishot is armed only while c's queue is empty and
 * cancelled once it is half full). A FIN is not read either while stopped. Nothing once c is
 * closing. */
void rs_conn_read_stop(struct rs_conn *c);
/* Declares that what c receives is not answered on c but sent elsewhere (a relay): reads from
 * c are no longer held to the room in c's own queue, nor stopped while it is full (that would
 * deadlock a relay whose two peers both wait for it to read), and are sized as if the queue
 * were empty. The service then bounds what it takes with rs_conn_read_stop while the queue it
 * feeds is full, and on_drain of c still comes when c's own queue falls to half. */
void rs_conn_read_cross(struct rs_conn *c);
/* Gives c a write-queue cap of its own (the loop's --write-queue otherwise): what rs_conn_full,
 * rs_conn_room, on_drain and the read sizes go by, for a service whose connections need
 * another bound (the relay's --window). Call it before queueing anything. */
void rs_conn_set_write_queue(struct rs_conn *c, size_t bytes);
/* Undoes rs_conn_read_stop (nothing if reading was not stopped by the service); data that
 * waited in the kernel is read on a later step, never from inside this call. */
void rs_conn_read_start(struct rs_conn *c);

/* Says why c is being closed, for the access log; call it before rs_conn_close (or _reset,
 * _close_after_flush). The first reason given wins; without one the loop decides from what
 * happened (see enum rs_close_reason). */
void rs_conn_set_close_reason(struct rs_conn *c, enum rs_close_reason why);
/* The upstream c is relayed to, for the access log; up must stay valid until c's on_close
 * returns (NULL: none). */
void rs_conn_set_upstream(struct rs_conn *c, const struct rs_addr *up);
/* Reports a finished UDP session (a relay's, say) to the loop's conn_end hook, if one is set:
 * e->udp, e->local and e->client set by the caller, e->worker filled in here. */
void rs_loop_session_end(struct rs_loop *l, struct rs_conn_end *e);

void rs_conn_set_ops(struct rs_conn *c, const struct rs_conn_ops *ops, void *udata);
void *rs_conn_udata(const struct rs_conn *c);
size_t rs_conn_queued(const struct rs_conn *c);
/* When the kernel last took bytes of c's queue (rs_now_ns clock), 0 if it never did: send
 * progress, for a service's send timeout. */
uint64_t rs_conn_sent_ns(const struct rs_conn *c);
/* The addresses of c's socket: the peer's and this end's (for an accepted connection, the
 * listener's address), either may be NULL. Returns 0 or -errno (-ENOTCONN once the peer is
 * gone). A system call each: for services that need them (a relay's PROXY header, hashing
 * on the client's address), not for every connection. */
int rs_conn_addrs(const struct rs_conn *c, struct rs_addr *peer, struct rs_addr *local);
struct rs_loop *rs_conn_loop(const struct rs_conn *c);

#endif
