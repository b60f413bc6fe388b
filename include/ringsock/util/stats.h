#ifndef RINGSOCK_STATS_H
#define RINGSOCK_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

/* Per-worker counters. Each has one writer (its worker); a reporter reads them from another
 * thread with relaxed loads, so a plain load+store (no locked instruction) is enough.
 * recvs: TCP receives that delivered data (reads, recv completions). loop_batches: loop turns
 * that reaped at least one event; loop_events: the CQEs (io_uring) or epoll events they held. */
#define RS_STATS_FIELDS(X)                                                                         \
    X(conns_accepted)                                                                              \
    X(conns_closed)                                                                                \
    X(bytes_in)                                                                                    \
    X(bytes_out)                                                                                   \
    X(recvs)                                                                                       \
    X(errors)                                                                                      \
    X(resets)                                                                                      \
    X(enobufs)                                                                                     \
    X(short_sends)                                                                                 \
    X(backpressure)                                                                                \
    X(accept_backoffs)                                                                             \
    X(conns_refused)                                                                               \
    X(stale_completions)                                                                           \
    X(loop_batches)                                                                                \
    X(loop_events)                                                                                 \
    X(dgrams_in)                                                                                   \
    X(dgrams_out)                                                                                  \
    X(dgram_bytes_in)                                                                              \
    X(dgram_bytes_out)                                                                             \
    X(dgram_batches_in)                                                                            \
    X(dgram_batches_out)                                                                           \
    X(dgram_truncated)                                                                             \
    X(dgram_dropped)                                                                               \
    X(dgram_kernel_drops)                                                                          \
    X(dgram_send_errors)                                                                           \
    X(http_requests)                                                                               \
    X(http_errors)                                                                                 \
    X(http_timeouts)                                                                               \
    X(http_2xx)                                                                                    \
    X(http_4xx)                                                                                    \
    X(http_5xx)                                                                                    \
    X(http_err_400)                                                                                \
    X(http_err_405)                                                                                \
    X(http_err_413)                                                                                \
    X(http_err_414)                                                                                \
    X(http_err_431)                                                                                \
    X(http_err_501)                                                                                \
    X(http_err_505)                                                                                \
    X(sockperf_replies)                                                                            \
    X(sockperf_unanswered)                                                                         \
    X(sockperf_malformed)

struct rs_stats {
#define RS_STATS_DECL(name) _Atomic uint64_t name;
    RS_STATS_FIELDS(RS_STATS_DECL)
#undef RS_STATS_DECL
} __attribute__((aligned(64)));

#define RS_STAT_ADD(st, field, n)                                                                  \
    atomic_store_explicit(&(st)->field,                                                            \
                          atomic_load_explicit(&(st)->field, memory_order_relaxed) + (n),          \
                          memory_order_relaxed)
#define RS_STAT_INC(st, field) RS_STAT_ADD(st, field, 1)

/* Adds src into dst (reporter side; dst is private to the caller). */
void rs_stats_sum(struct rs_stats *dst, const struct rs_stats *src);
/* Prints "name=value" pairs separated by spaces, no newline. */
void rs_stats_print(FILE *f, const struct rs_stats *st);

#endif
