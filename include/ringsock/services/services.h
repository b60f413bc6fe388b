#ifndef RINGSOCK_SERVICES_H
#define RINGSOCK_SERVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "ringsock/proto/http_parse.h"
#include "ringsock/core/loop.h"

/* Accept callbacks: each sets the connection's service. */
void rs_echo_accept(struct rs_conn *c, void *arg);
void rs_discard_accept(struct rs_conn *c, void *arg);

/* HTTP/1.1 responder; the configuration is shared read-only by every worker. */
struct rs_http_config {
    const char *body; /* fixed response body */
    size_t body_len;
    size_t max_bytes;  /* cap for /bytes/N */
    uint64_t max_body; /* larger request bodies get 413 */
    uint64_t header_timeout_ms;
    uint64_t keepalive_timeout_ms;
    struct rs_http_limits limits;
};

struct http_worker;
struct rs_stats;
/* Per-worker responder state (Date header, timeouts, connection pool). NULL on no memory. */
struct http_worker *rs_http_worker_new(struct rs_loop *l, const struct rs_http_config *cfg,
                                       struct rs_stats *stats);
void rs_http_worker_free(struct http_worker *w);
/* Accept callback; arg is the worker's struct http_worker. */
void rs_http_accept(struct rs_conn *c, void *arg);

/* sockperf responder over TCP (sockperf_service.c): answers the messages of sockperf's
 * clients (pp, ul, tp) as `sockperf sr --tcp` does. */
struct sockperf_worker;
/* Per-worker state (message buffers, connection pool). NULL on no memory. max_msg caps a
 * message's length: a longer one closes its connection. */
struct sockperf_worker *rs_sockperf_worker_new(uint32_t max_msg, struct rs_stats *stats);
void rs_sockperf_worker_free(struct sockperf_worker *w);
/* Accept callback; arg is the worker's struct sockperf_worker. */
void rs_sockperf_accept(struct rs_conn *c, void *arg);

/* What a UDP socket does with each datagram. */
enum rs_udp_mode {
    RS_UDP_ECHO,     /* send it back */
    RS_UDP_DISCARD,  /* count it */
    RS_UDP_SOCKPERF, /* answer it as `sockperf sr` would, if it asks for an answer */
};

/* Batched datagram echo (or discard, or sockperf) on one non-blocking UDP socket of one worker. */
struct rs_udp_config {
    uint32_t batch;    /* datagrams per recvmmsg/sendmmsg */
    uint32_t buf_size; /* bytes per datagram slot; larger datagrams are counted as truncated */
    uint32_t queue;    /* replies that may wait for writability; past it, drops */
    uint32_t budget;   /* datagrams read per turn before yielding */
    uint32_t max_msg;  /* RS_UDP_SOCKPERF: longest message answered */
    enum rs_udp_mode mode;
};

struct rs_udp_sock;
struct rs_stats;

/* Starts serving fd on loop l (which takes ownership of fd). Returns NULL with *err set. */
struct rs_udp_sock *rs_udp_echo_new(struct rs_loop *l, int fd, const struct rs_udp_config *cfg,
                                    struct rs_stats *stats, int *err);
/* Frees the state; call once the loop has stopped. */
void rs_udp_echo_free(struct rs_udp_sock *u);

#endif
