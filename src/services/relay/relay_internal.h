#ifndef RINGSOCK_RELAY_INTERNAL_H
#define RINGSOCK_RELAY_INTERNAL_H

/* What the relay's TCP side (relay_tcp.c) and UDP side (relay_udp.c) share: the counter block
 * "relay" and the per-worker state. Internal to src/services/relay. */

#include <stdint.h>

#include "ringsock/util/counters.h"
#include "ringsock/core/loop.h"
#include "ringsock/services/relay.h"
#include "ringsock/services/services.h"
#include "relay_health.h"

#define RELAY_COUNTERS(X)                                                                          \
    X(relay_accepted, COUNTER, RS_CTR_WORKER, "relay: client connections accepted")                \
    X(relay_active, GAUGE, RS_CTR_WORKER, "relay: sessions open (client or upstream side)")        \
    X(relay_connect_ok, COUNTER, RS_CTR_WORKER, "relay: upstream connects that succeeded")         \
    X(relay_connect_refused, COUNTER, 0, "relay: upstream connects refused")                       \
    X(relay_connect_timeout, COUNTER, 0, "relay: upstream connects past --connect-timeout")        \
    X(relay_connect_error, COUNTER, 0,                                                             \
      "relay: upstream connects that failed otherwise (unreachable, no socket)")                   \
    X(relay_retries, COUNTER, 0, "relay: connects to a further upstream after a failed one")       \
    X(relay_no_upstream, COUNTER, RS_CTR_WORKER,                                                   \
      "relay: clients closed because no upstream could be connected")                              \
    X(relay_resets_client, COUNTER, 0, "relay: sessions the client ended with a reset or error")   \
    X(relay_resets_upstream, COUNTER, 0,                                                           \
      "relay: sessions the upstream ended with a reset or error")                                  \
    X(relay_idle_closes, COUNTER, 0, "relay: sessions closed after --idle-timeout")                \
    X(relay_fin_timeouts, COUNTER, 0, "relay: half-closed sessions closed after --fin-timeout")    \
    X(relay_max_duration_closes, COUNTER, 0, "relay: sessions closed at --max-duration")           \
    X(relay_half_closes_c2u, COUNTER, 0, "relay: client FINs passed on to the upstream")           \
    X(relay_half_closes_u2c, COUNTER, 0, "relay: upstream FINs passed on to the client")           \
    X(relay_pauses_c2u, COUNTER, 0,                                                                \
      "relay: times reading the client stopped because the upstream's queue was full")             \
    X(relay_pauses_u2c, COUNTER, 0,                                                                \
      "relay: times reading the upstream stopped because the client's queue was full")             \
    X(relay_bytes_c2u, COUNTER, 0, "relay: bytes received from clients (for upstreams)")           \
    X(relay_bytes_u2c, COUNTER, 0, "relay: bytes received from upstreams (for clients)")           \
    X(relay_proxy_invalid, COUNTER, 0, "relay: clients closed for an invalid PROXY header")        \
    X(relay_proxy_timeouts, COUNTER, 0,                                                            \
      "relay: clients closed for no whole PROXY header within --proxy-timeout")                    \
    X(relay_udp_sessions, COUNTER, RS_CTR_WORKER, "relay: UDP sessions created")                   \
    X(relay_udp_active, GAUGE, RS_CTR_WORKER, "relay: UDP sessions open")                          \
    X(relay_udp_closed_idle, COUNTER, 0, "relay: UDP sessions ended after --udp-idle-timeout")     \
    X(relay_udp_closed_responses, COUNTER, 0,                                                      \
      "relay: UDP sessions ended once their --udp-responses answers came")                         \
    X(relay_udp_closed_error, COUNTER, 0,                                                          \
      "relay: UDP sessions ended by an upstream error (ICMP port unreachable: refused)")           \
    X(relay_udp_closed_stopping, COUNTER, 0, "relay: UDP sessions ended by the server stopping")   \
    X(relay_udp_overflow, COUNTER, RS_CTR_WORKER,                                                  \
      "relay: datagrams of new clients dropped: --udp-max-sessions sessions open")                 \
    X(relay_udp_dgrams_c2u, COUNTER, RS_CTR_WORKER, "relay: datagrams from clients sent upstream") \
    X(relay_udp_dgrams_u2c, COUNTER, RS_CTR_WORKER, "relay: datagrams from upstreams sent back")   \
    X(relay_udp_bytes_c2u, COUNTER, 0, "relay: UDP bytes from clients sent upstream")              \
    X(relay_udp_bytes_u2c, COUNTER, 0, "relay: UDP bytes from upstreams sent back")                \
    X(relay_udp_drops, COUNTER, RS_CTR_WORKER,                                                     \
      "relay: datagrams dropped otherwise (no upstream, truncated, send refused)")                 \
    X(relay_health_ok, COUNTER, 0, "relay: active health checks passed (all upstreams)")           \
    X(relay_health_fail, COUNTER, 0, "relay: active health checks failed (all upstreams)")

RS_COUNTER_STRUCT(relay_counters, RELAY_COUNTERS);

struct relay_sess;
struct relay_udp;

/* One worker's relay: its upstream view, TCP sessions and UDP side (NULL until udp_open). */
struct relay_worker {
    struct rs_loop *loop;
    const struct rs_relay_conf *conf;
    struct relay_counters *ctr;
    struct rs_upstreams *ups;
    struct relay_sess *free;
    uint64_t active;
    struct relay_udp *udp;               /* the UDP side, from the first udp_open */
    const struct rs_counter_lset *items; /* per-upstream counters, or NULL */
    struct relay_health *health;         /* --health tcp, or NULL */
    struct relay_up_counters *up[RS_RELAY_MAX_UPSTREAMS]; /* per-upstream rows, or NULL */
};

/* After anything that changes upstream i's state or count: its row shows them. */
static inline void up_note(struct relay_worker *w, int i)
{
    if (i >= 0)
        rs__relay_up_publish(w->up[i], w->ups, (unsigned)i);
}

/* RS_UDP_SERVICE hook: serves one listening datagram socket (relay_udp.c). */
int rs__relay_udp_open(void *state, struct rs_loop *l, int fd, const struct rs_udp_config *cfg);
/* Ends every UDP session and frees the UDP side (worker_free). */
void rs__relay_udp_free(struct relay_worker *w);

#endif
