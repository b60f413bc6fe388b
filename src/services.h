#ifndef RINGSOCK_SERVICES_H
#define RINGSOCK_SERVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "ringsock/loop.h"

/* Accept callbacks: each sets the connection's service. */
void rs_echo_accept(struct rs_conn *c, void *arg);
void rs_discard_accept(struct rs_conn *c, void *arg);

/* Batched datagram echo (or discard) on one non-blocking UDP socket of one worker. */
struct rs_udp_config {
    uint32_t batch;    /* datagrams per recvmmsg/sendmmsg */
    uint32_t buf_size; /* bytes per datagram slot; larger datagrams are counted as truncated */
    uint32_t queue;    /* replies that may wait for writability; past it, drops */
    uint32_t budget;   /* datagrams read per turn before yielding */
    bool discard;
};

struct rs_udp_sock;
struct rs_stats;

/* Starts serving fd on loop l (which takes ownership of fd). Returns NULL with *err set. */
struct rs_udp_sock *rs_udp_echo_new(struct rs_loop *l, int fd, const struct rs_udp_config *cfg,
                                    struct rs_stats *stats, int *err);
/* Frees the state; call once the loop has stopped. */
void rs_udp_echo_free(struct rs_udp_sock *u);

#endif
