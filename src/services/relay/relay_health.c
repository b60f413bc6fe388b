/* The relay's active health checks and per-upstream counters (relay_health.h). A check is one
 * connection: connect, send --health-send, read until the answer's first bytes match
 * --health-expect (or just connect when there is none), close; any failure, a mismatch, an EOF
 * or --health-timeout from the start fails it. One timer per upstream: the check's deadline
 * while it runs, the next start (the previous start plus --health-interval) once its
 * connection is gone. */

#include "relay_health.h"

#include <errno.h>
#include <string.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "ringsock/services/services.h"

static const struct rs_counter_desc up_desc[] = {RELAY_UP_COUNTERS(RS_COUNTER_DESC)};
/* Connect times: 100us..10s, about three buckets a decade. */
static const uint64_t connect_bounds_ns[] = {
    100000,   250000,    500000,    1000000,   2500000,    5000000,    10000000,   25000000,
    50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
static const struct rs_counter_hist connect_hist = {
    .name = "relay_upstream_connect_seconds",
    .help = "relay: time from connect to connected, per upstream (successful connects)",
    .bounds = connect_bounds_ns,
    .nbounds = RS_COUNTER_NELEM(connect_bounds_ns),
    .scale = 1e-9,
};
const struct rs_counter_lblock rs__relay_up_block = {
    .name = "relay_upstream",
    .label = "upstream",
    .desc = up_desc,
    .n = RS_COUNTER_NELEM(up_desc),
    .hist = &connect_hist,
};

unsigned rs__relay_up_names(const struct rs_service_conf *conf, const char **names, unsigned max)
{
    unsigned n = conf->relay.nup < max ? conf->relay.nup : max;
    for (unsigned i = 0; i < n; i++)
        names[i] = conf->relay.up[i].name;
    return n;
}

void rs__relay_up_publish(struct relay_up_counters *row, const struct rs_upstreams *u, unsigned i)
{
    if (!row)
        return;
    RS_STAT_SET(row, relay_upstream_state, (uint64_t)rs_upstream_state(u, i, 0));
    RS_STAT_SET(row, relay_upstream_active, rs_upstream_active(u, i));
}

/* ---- checks ---- */

struct hcheck {
    struct relay_health *h;
    unsigned idx;
    struct rs_timer timer;
    struct rs_conn *c; /* the check's connection until its on_close, or NULL */
    uint64_t start_ns; /* when the current (or last) check began */
    size_t matched;    /* bytes of --health-expect seen so far */
    bool done;         /* the current check's outcome was given */
};

struct relay_health {
    struct rs_loop *loop;
    const struct rs_relay_conf *conf;
    rs_relay_health_fn fn;
    void *arg;
    unsigned n;
    struct hcheck chk[RS_RELAY_MAX_UPSTREAMS];
};

/* Gives the current check's outcome once; closes its connection (the next check is armed
 * from its on_close). */
static void check_finish(struct hcheck *k, bool ok)
{
    if (k->done)
        return;
    k->done = true;
    k->h->fn(k->h->arg, k->idx, ok);
    if (k->c)
        rs_conn_close(k->c);
}

/* Arms the next check: interval after the last start (at once if that has passed). */
static void check_schedule(struct hcheck *k)
{
    struct relay_health *h = k->h;
    if (rs_loop_stopping(h->loop))
        return;
    rs_loop_timer_arm_at(h->loop, &k->timer, k->start_ns + h->conf->health_interval_ns);
}

static void hc_on_connect(struct rs_conn *c, int err)
{
    struct hcheck *k = rs_conn_udata(c);
    const struct rs_relay_conf *cf = k->h->conf;
    if (err < 0) {
        check_finish(k, false);
        return;
    }
    if (cf->health_send_len && rs_conn_send(c, cf->health_send, cf->health_send_len) < 0) {
        check_finish(k, false);
        return;
    }
    if (cf->health_expect_len == 0)
        check_finish(k, true);
}

static void hc_on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct hcheck *k = rs_conn_udata(c);
    const struct rs_relay_conf *cf = k->h->conf;
    if (k->done)
        return;
    size_t want = cf->health_expect_len - k->matched;
    size_t n = len < want ? len : want;
    if (memcmp(cf->health_expect + k->matched, data, n) != 0) {
        check_finish(k, false);
        return;
    }
    k->matched += n;
    if (k->matched == cf->health_expect_len)
        check_finish(k, true);
}

static void hc_on_eof(struct rs_conn *c)
{
    check_finish(rs_conn_udata(c), false);
}

static void hc_on_close(struct rs_conn *c, int err)
{
    struct hcheck *k = rs_conn_udata(c);
    (void)err;
    k->c = NULL;
    check_finish(k, false); /* closed before an outcome: a failure */
    check_schedule(k);
}

static const struct rs_conn_ops hc_ops = {
    .on_data = hc_on_data,
    .on_eof = hc_on_eof,
    .on_close = hc_on_close,
    .on_connect = hc_on_connect,
};

static void check_fired(struct rs_timer *t, void *arg)
{
    struct hcheck *k = arg;
    struct relay_health *h = k->h;
    (void)t;
    if (k->c) { /* the check's deadline */
        check_finish(k, false);
        return;
    }
    if (rs_loop_stopping(h->loop))
        return;
    int err = 0;
    k->start_ns = rs_now_ns();
    k->done = false;
    k->matched = 0;
    k->c = rs_loop_connect(h->loop, &h->conf->up[k->idx].addr, NULL, &hc_ops, k, &err);
    if (!k->c) {
        /* No socket or no room on this worker: not the upstream's fault, no outcome. */
        if (err != -ENOSPC && err != -EMFILE && err != -ENFILE && err != -ENOMEM && err != -ENOBUFS)
            check_finish(k, false);
        k->done = true;
        check_schedule(k);
        return;
    }
    rs_loop_timer_arm_at(h->loop, &k->timer, k->start_ns + h->conf->health_timeout_ns);
}

struct relay_health *rs__relay_health_new(struct rs_loop *loop, const struct rs_relay_conf *conf,
                                          rs_relay_health_fn fn, void *arg, int *err)
{
    struct relay_health *h = rs_calloc(1, sizeof(*h));
    if (!h) {
        *err = -ENOMEM;
        return NULL;
    }
    h->loop = loop;
    h->conf = conf;
    h->fn = fn;
    h->arg = arg;
    h->n = conf->nup;
    if (rs_loop_timer_reserve(loop, h->n) < 0) {
        rs_free(h);
        *err = -ENOMEM;
        return NULL;
    }
    uint64_t now = rs_now_ns();
    for (unsigned i = 0; i < h->n; i++) {
        struct hcheck *k = &h->chk[i];
        k->h = h;
        k->idx = i;
        k->done = true;
        rs_timer_init(&k->timer, check_fired, k);
        if (!conf->up[i].down)
            rs_loop_timer_arm_at(loop, &k->timer, now);
    }
    return h;
}

void rs__relay_health_free(struct relay_health *h)
{
    rs_free(h); /* the loop, its timers and connections are gone */
}
