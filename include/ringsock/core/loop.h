#ifndef RINGSOCK_LOOP_H
#define RINGSOCK_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringsock/core/stats.h"
#include "ringsock/core/timer.h"

/* The event loop: completion-based ("accept on this listener", "here are bytes received",
 * "send these bytes", "close"), one per worker thread, with an io_uring or an epoll backend
 * chosen at run time. Services see only this header. Every function here must be called from
 * the loop's own thread, except rs_loop_wake() and rs_loop_request_stop(). */

struct rs_loop;
struct rs_conn;
struct rs_listener;

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
    uint32_t read_budget;         /* epoll: reads per connection per loop turn */
    int sndbuf, rcvbuf;           /* SO_SNDBUF/SO_RCVBUF for accepted sockets, 0 = default */
    bool uring_no_multishot;      /* one-shot accept and recv even where multishot works */
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

/* Callbacks a service sets on a connection. Data passed to on_data belongs to the loop and is
 * valid only during the call: copy it (rs_conn_send copies). None is called re-entrantly from
 * inside rs_conn_send or rs_conn_close. */
struct rs_conn_ops {
    void (*on_data)(struct rs_conn *c, const void *data, size_t len);
    /* The peer finished sending (FIN). The service decides when to close. */
    void (*on_eof)(struct rs_conn *c);
    /* The connection is about to be released (err is 0 or -errno); optional. */
    void (*on_close)(struct rs_conn *c, int err);
    /* rs_loop_connect finished: err is 0, or -errno and the connection is then closed. */
    void (*on_connect)(struct rs_conn *c, int err);
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
struct rs_loop *rs_poller_loop(const struct rs_poller *p);

struct rs_addr;
/* Opens a TCP connection to addr (kernel >= 5.5 for io_uring connect), from the source address
 * src when it is not NULL (see rs_net_bind_source). ops->on_connect reports the outcome on a
 * later turn; bytes sent before that are queued. Returns the connection, or NULL with *err set
 * (no socket, connection limit, src cannot be bound). */
struct rs_conn *rs_loop_connect(struct rs_loop *l, const struct rs_addr *addr,
                                const struct rs_addr *src, const struct rs_conn_ops *ops,
                                void *udata, int *err);

/* Queues bytes for sending (copied). Sends happen in order, after the current callback.
 * Returns 0, -EPIPE if the connection is closing, or -ENOMEM (the connection is then closed). */
int rs_conn_send(struct rs_conn *c, const void *data, size_t len);
/* Closes once every queued byte has been sent (graceful); the peer then sees EOF. */
void rs_conn_close_after_flush(struct rs_conn *c);
/* Sends FIN once every queued byte has been sent, and goes on receiving: for a lingering close
 * (an error answer must not be lost to a reset because the peer was still sending). The
 * service closes later, on EOF or a timeout of its own. */
void rs_conn_shutdown_after_flush(struct rs_conn *c);
/* Closes now, dropping whatever is queued. */
void rs_conn_close(struct rs_conn *c);

void rs_conn_set_ops(struct rs_conn *c, const struct rs_conn_ops *ops, void *udata);
void *rs_conn_udata(const struct rs_conn *c);
size_t rs_conn_queued(const struct rs_conn *c);
struct rs_loop *rs_conn_loop(const struct rs_conn *c);

#endif
