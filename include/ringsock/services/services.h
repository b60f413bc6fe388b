#ifndef RINGSOCK_SERVICES_H
#define RINGSOCK_SERVICES_H

/* Services: what a worker does with the connections and datagrams its loop hands it. Each
 * service describes itself in a struct rs_service (name, help, handlers, counters); the server
 * program lists them in its table (src/ringsock/service_table.c) and knows nothing else of them.
 * Services see the loop and the counter registry, never the server program. */

#include <stdbool.h>
#include <stdint.h>

#include "ringsock/util/counters.h"
#include "ringsock/util/counters_labelled.h"
#include "ringsock/util/ratetable.h"
#include "ringsock/proto/http_parse.h"
#include "ringsock/core/loop.h"
#include "ringsock/services/relay.h"

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

/* The services' configuration, from the command line; read-only once the workers start. */
struct rs_service_conf {
    struct rs_http_config http;
    uint32_t max_msg; /* sockperf: longest message; a longer one closes its connection */
    /* echo, discard, sockperf over TCP: a connection that moved no byte either way for this
     * long is closed, one owing bytes its peer took none of for this long is reset; 0 = off */
    uint64_t idle_timeout_ns;
    struct rs_relay_conf relay; /* the relay: upstreams, balancing, timeouts (relay.h) */
};

/* What a datagram socket does with each whole datagram. */
enum rs_udp_mode {
    RS_UDP_NONE,    /* the service has no datagram side */
    RS_UDP_ECHO,    /* send it back */
    RS_UDP_DISCARD, /* count it */
    RS_UDP_HANDLER, /* ask the service's rs_dgram_fn */
    RS_UDP_SERVICE, /* the service serves the socket itself (its udp_open) */
};

/* Decides whether the datagram buf[0, len) is answered; it may rewrite buf in place into the
 * answer, of the same length. arg is the service's per-worker state. */
typedef bool (*rs_dgram_fn)(void *arg, char *buf, uint32_t len);

/* What a service's per-worker set-up is given; valid during the call. */
struct rs_service_ctx {
    struct rs_loop *loop;
    _Atomic uint64_t *counters; /* this worker's storage of the service's counter block */
    const struct rs_service_conf *conf;
    unsigned worker; /* this worker's number (0..threads-1) */
    /* The listener's labelled set of the service's item_counters (NULL: none); the worker's
     * rows are rs_counter_lset_row(items, worker, i). */
    const struct rs_counter_lset *items;
};

struct rs_udp_config;

struct rs_service {
    const char *name; /* the first argument of ringsock */
    /* Its lines under "services:" in --help: continuation lines start with '\n' and are
     * indented by the printer. */
    const char *help;
    const char *listen; /* default address when no --tcp or --udp is given (TCP, and UDP when
                         * it has a datagram side) */
    const char *scheme; /* its TCP listeners on the listening line; NULL: "tcp" */
    const struct rs_counter_block *counters; /* NULL: counts nothing of its own */
    /* Counters kept per item of a listener's configuration (the relay's upstreams), exported
     * with a label (NULL: none); item_names gives the items' label values for a listener
     * (at most max of them; returns how many). */
    const struct rs_counter_lblock *item_counters;
    unsigned (*item_names)(const struct rs_service_conf *conf, const char **names, unsigned max);
    /* Per-worker state (NULL: none): 0 with *state set, or -errno. Called on the worker's
     * thread before its loop runs; worker_free runs after the loop has been freed. */
    int (*worker_new)(const struct rs_service_ctx *ctx, void **state);
    void (*worker_free)(void *state);
    rs_accept_fn accept; /* arg: the worker's state */
    enum rs_udp_mode udp_mode;
    rs_dgram_fn dgram; /* RS_UDP_HANDLER; arg: the worker's state */
    /* RS_UDP_SERVICE: serves one datagram socket of a listener itself, for a service whose
     * datagrams do not go back where they came from (the relay: sessions, upstream sockets).
     * Called on the worker's thread after worker_new, once per datagram socket, instead of the
     * server's batched echo; it takes ownership of fd, also when it fails (closed then). cfg
     * (batch, buf_size, deny_ports, ...) is valid during the call. Returns 0 or -errno; what it
     * made is the worker state's, freed by worker_free. */
    int (*udp_open)(void *state, struct rs_loop *l, int fd, const struct rs_udp_config *cfg);
};

extern const struct rs_service rs_echo_service;
extern const struct rs_service rs_discard_service;
extern const struct rs_service rs_http_service;
extern const struct rs_service rs_sockperf_service;
extern const struct rs_service rs_relay_service;

/* Batched datagram echo (or discard, or a service's handler) on one non-blocking UDP socket of
 * one worker; its counters are the block rs_dgram_counter_block. */
struct rs_udp_config {
    uint32_t batch;    /* datagrams per recvmmsg/sendmmsg */
    uint32_t buf_size; /* bytes per datagram slot; larger datagrams are counted as truncated */
    uint32_t queue;    /* replies that may wait for writability; past it, drops */
    uint32_t budget;   /* datagrams read per turn before yielding */
    enum rs_udp_mode mode;
    rs_dgram_fn dgram; /* RS_UDP_HANDLER */
    void *dgram_arg;
    /* Reflection defences, for echo and handler modes (a discard socket answers nothing):
     * deny_ports, a 65536-bit set (RS_PORT_SET_WORDS words, ringsock/util/parse.h) read-only
     * and outliving the socket, or NULL: datagrams from an IPv4 or IPv6 source port in it are
     * counted and not answered. rate: this worker's per-source-address reply budget, owned by
     * the worker (shared by its sockets, same thread), or NULL: none. */
    const uint64_t *deny_ports;
    struct rs_rate_table *rate;
};

extern const struct rs_counter_block rs_dgram_counter_block;

struct rs_udp_sock;

/* Starts serving fd on loop l (which takes ownership of fd), counting into counters (this
 * worker's rs_dgram_counter_block) and failed receives into the loop's errors. Returns NULL
 * with *err set. */
struct rs_udp_sock *rs_udp_echo_new(struct rs_loop *l, int fd, const struct rs_udp_config *cfg,
                                    _Atomic uint64_t *counters, struct rs_stats *loop_stats,
                                    int *err);
/* Frees the state; call once the loop has stopped. */
void rs_udp_echo_free(struct rs_udp_sock *u);

#endif
