#ifndef RINGSOCK_RELAY_HEALTH_H
#define RINGSOCK_RELAY_HEALTH_H

/* Inside the relay: its per-upstream counters (a labelled block, upstream="ADDR") and the
 * active health checks (--health tcp). Each worker checks every upstream itself and keeps the
 * results in its own struct rs_upstreams: nothing is shared between workers, so with
 * --threads N each upstream sees N checks per --health-interval. */

#include <stdbool.h>
#include <stdint.h>

#include "ringsock/util/counters_labelled.h"
#include "ringsock/core/loop.h"
#include "ringsock/services/relay.h"

struct rs_service_conf;

#define RELAY_UP_COUNTERS(X)                                                                       \
    X(relay_upstream_state, GAUGE, RS_CTR_MAX,                                                     \
      "relay: the upstream as this worker sees it: 0 up, 1 out (failed connects, for "             \
      "--fail-timeout), 2 dead (failed health checks), 3 down (configured)")                       \
    X(relay_upstream_active, GAUGE, 0, "relay: sessions connecting or connected to the upstream")  \
    X(relay_upstream_conns, COUNTER, 0, "relay: connects to the upstream begun")                   \
    X(relay_upstream_connect_fails, COUNTER, 0,                                                    \
      "relay: connects to the upstream refused, timed out or unreachable")                         \
    X(relay_upstream_health_ok, COUNTER, 0, "relay: active health checks the upstream passed")     \
    X(relay_upstream_health_fail, COUNTER, 0, "relay: active health checks the upstream failed")

RS_COUNTER_STRUCT(relay_up_counters, RELAY_UP_COUNTERS);

/* The block (with the connect-time histogram, 100us..10s) and the relay's item_names. */
extern const struct rs_counter_lblock rs__relay_up_block;
unsigned rs__relay_up_names(const struct rs_service_conf *conf, const char **names, unsigned max);

/* Stores upstream i's state and active count (as u sees them) in its row; NULL row: none. */
void rs__relay_up_publish(struct relay_up_counters *row, const struct rs_upstreams *u, unsigned i);

/* Each check's outcome for upstream i: the caller records it (rs_upstream_health). */
typedef void (*rs_relay_health_fn)(void *arg, unsigned i, bool ok);

struct relay_health;

/* Starts checking every upstream of conf not configured down, each at once and then every
 * health_interval_ns, on loop (the caller's worker, before it runs); conf->health must be
 * RS_HEALTH_TCP. Returns NULL with *err set (-ENOMEM). Checks stop once the loop stops. */
struct relay_health *rs__relay_health_new(struct rs_loop *loop, const struct rs_relay_conf *conf,
                                          rs_relay_health_fn fn, void *arg, int *err);
/* Frees it, after the loop has been freed (every check's connection gone). */
void rs__relay_health_free(struct relay_health *h);

#endif
