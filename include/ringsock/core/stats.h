#ifndef RINGSOCK_STATS_H
#define RINGSOCK_STATS_H

#include "ringsock/util/counters.h"

/* The loop's counters, one block per worker (see ringsock/counters.h). conns_closed_*: each
 * released connection counted once by why it ended (rs_close_reason, as the access log says
 * it), so they add up to conns_closed. recvs: TCP receives
 * that delivered data (reads, recv completions). loop_batches: loop turns that reaped at least
 * one event; loop_events: the CQEs (io_uring) or epoll events they held. pending_wait_max is a
 * high-water mark: work put off to a later turn runs on the next one, so it stays at 1 however
 * full the event array comes back (see loop_full_turns); more means that work starved. */
#define RS_LOOP_COUNTERS(X)                                                                        \
    X(conns_accepted, COUNTER, RS_CTR_WORKER, "TCP connections accepted, or made by connecting")   \
    X(conns_closed, COUNTER, 0, "TCP connections released")                                        \
    X(conns_closed_peer, COUNTER, 0, "connections released after the peer's FIN")                  \
    X(conns_closed_reset, COUNTER, 0, "connections released after a reset (ECONNRESET, EPIPE)")    \
    X(conns_closed_error, COUNTER, 0, "connections released after another error")                  \
    X(conns_closed_server, COUNTER, 0,                                                             \
      "connections the service ended (an answer that ends it, bad input)")                         \
    X(conns_closed_idle, COUNTER, 0, "connections closed by the service's idle timeout")           \
    X(conns_closed_send_timeout, COUNTER, 0,                                                       \
      "connections closed because the peer stopped reading what was owed")                         \
    X(conns_closed_stopping, COUNTER, 0, "connections closed because the server stopped")          \
    X(conns_closed_limit, COUNTER, 0, "connections closed by a limit (size, rate)")                \
    X(bytes_in, COUNTER, RS_CTR_WORKER, "TCP bytes received")                                      \
    X(bytes_out, COUNTER, RS_CTR_WORKER, "TCP bytes sent")                                         \
    X(recvs, COUNTER, 0, "TCP receives that delivered data")                                       \
    X(errors, COUNTER, 0,                                                                          \
      "connections failed other than by a reset, failed connects and datagram receives")           \
    X(resets, COUNTER, 0, "connections ended by a reset (ECONNRESET, EPIPE)")                      \
    X(enobufs, COUNTER, 0, "io_uring receives that found the buffer ring empty (ENOBUFS)")         \
    X(recv_rearms, COUNTER, 0,                                                                     \
      "io_uring receives armed again after one ended (one-shot, ENOBUFS) or found no SQE")         \
    X(recv_deferred, COUNTER, 0,                                                                   \
      "io_uring re-arms put off a turn until buffers come back (one per connection per turn)")     \
    X(cq_overflows, COUNTER, 0,                                                                    \
      "io_uring CQ found overflowed: completions the kernel kept aside, then reaped in order")     \
    X(cq_busy, COUNTER, 0, "io_uring submits or waits refused (EBUSY) until the CQ was reaped")    \
    X(cq_dropped, COUNTER, 0, "io_uring completions the kernel lost (no memory for its overflow)") \
    X(short_sends, COUNTER, 0, "sends the kernel took only part of")                               \
    X(backpressure, COUNTER, 0, "reading paused because the write queue was full")                 \
    X(accept_backoffs, COUNTER, 0, "accepting paused after running out of descriptors or memory")  \
    X(conns_refused, COUNTER, 0, "connections refused past --max-conns")                           \
    X(conns_refused_per_ip, COUNTER, 0,                                                            \
      "connections reset at accept: their source address had --max-conns-per-ip open")             \
    X(stale_completions, COUNTER, 0, "completions for a connection no longer there, dropped")      \
    X(loop_batches, COUNTER, 0, "loop turns that reaped events")                                   \
    X(loop_events, COUNTER, 0, "events (CQEs or epoll events) those turns reaped")                 \
    X(loop_full_turns, COUNTER, 0,                                                                 \
      "epoll turns whose event array came back full: more was ready than one turn takes")          \
    X(pending_wait_max, GAUGE, RS_CTR_MAX,                                                         \
      "epoll: most loop turns a read stopped at its budget or resumed, a failed connect or a "     \
      "deferred release waited to run")

/* struct rs_stats: the loop's block (l->stats->field); 64-byte aligned. */
RS_COUNTER_STRUCT(rs_stats, RS_LOOP_COUNTERS);

extern const struct rs_counter_block rs_loop_counter_block;

#endif
