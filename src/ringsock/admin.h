#ifndef RINGSOCK_ADMIN_H
#define RINGSOCK_ADMIN_H

/* The admin endpoint (--admin ADDR:PORT): one thread of its own, never a worker, answering
 * HTTP/1.1 GET on
 *   /metrics  the counter registry in Prometheus text format (ringsock/util/prom.h), read
 *             from the workers' counters with relaxed loads at each scrape
 *   /healthz  200 while the process runs
 *   /readyz   200 while the server accepts; 503 while it starts and once it drains
 *   /version  the version line of --version
 * and 404 elsewhere. It is bounded whatever its clients do: at most RS_ADMIN_MAX_CONNS
 * connections at once (more wait in the listen backlog), a request head of at most
 * RS_ADMIN_MAX_REQUEST bytes (431), RS_ADMIN_TIMEOUT_MS from accept to the answer sent, GET
 * only (405), one request per connection (Connection: close). */

#include "ringsock/net/addr.h"
#include "ringsock/util/counters.h"
#include "ringsock/util/counters_labelled.h"

#define RS_ADMIN_MAX_CONNS   8
#define RS_ADMIN_MAX_REQUEST 8192
#define RS_ADMIN_TIMEOUT_MS  5000

struct rs_admin_config {
    struct rs_addr addr;
    /* The registry /metrics shows (its active blocks), and each block's service label (by
     * index, NULL entries for none); both outlive the endpoint. */
    const struct rs_counter_set *counters;
    const char *const *block_service;
    /* Labelled sets (per-upstream counters), written after the registry; they outlive the
     * endpoint too. */
    const struct rs_counter_lset *const *item_sets;
    unsigned nitem_sets;
};

struct rs_admin;

/* Binds cfg->addr (no SO_REUSEPORT: one admin socket per address) and starts the thread, which
 * inherits the caller's signal mask (block SIGINT/SIGTERM first). /readyz answers 503 until
 * rs_admin_set_ready. Returns NULL with *err set (-errno). */
struct rs_admin *rs_admin_start(const struct rs_admin_config *cfg, int *err);

/* The address bound (port 0 resolved). */
const struct rs_addr *rs_admin_addr(const struct rs_admin *a);

/* Thread-safe: /readyz answers 200 from now on (every worker accepts). */
void rs_admin_set_ready(struct rs_admin *a);
/* Thread-safe: /readyz answers 503 from now on; the server calls it when it starts draining
 * (first SIGINT/SIGTERM). /metrics and /healthz keep answering until rs_admin_stop. */
void rs_admin_set_draining(struct rs_admin *a);

/* Stops the thread and closes its sockets; NULL is a no-op. Call before freeing the counters. */
void rs_admin_stop(struct rs_admin *a);

#endif
