/* The relay's TCP data path: each accepted client gets an upstream chosen by the balancer
 * (relay.h), connected with a timeout and retried on the next untried upstream while no byte
 * has gone upstream; then bytes are pumped both ways with cross-connection backpressure (the
 * client is not read while the upstream's queue is full, and the other way round, resumed on
 * the full side's on_drain), a FIN is passed on as a shutdown of the other side's write half
 * once its queue is sent, and a reset as a reset. One session per client, from a per-worker
 * free list, with one timer for whichever deadline comes first (PROXY header, connect, idle,
 * FIN, max duration, the flush before a passed-on reset).
 *
 * Each of a session's connections has the window (--window) as its write-queue cap
 * (rs_conn_set_write_queue): rs_conn_full and on_drain are the loop's own, so what a session
 * holds is bounded by two queues plus what a stopped read still delivers (loop.h). */

#include <errno.h>
#include <string.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "ringsock/services/relay.h"
#include "ringsock/services/services.h"
#include "relay_internal.h"

static const struct rs_counter_desc relay_desc[] = {RELAY_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct relay_counters, relay_desc);
static const struct rs_counter_block relay_block =
    RS_COUNTER_BLOCK("relay", struct relay_counters, relay_desc, NULL, 0);

#define RESET_POLL_NS 5000000ull /* how often a passed-on reset checks the queue has gone */

struct relay_sess {
    struct relay_worker *w;
    struct rs_conn *cli, *up; /* NULL once their on_close ran (or up abandoned) */
    struct rs_timer timer;
    uint64_t start_ns, attempt_ns, last_ns, fin_ns, reset_ns;
    uint64_t tried; /* bit per upstream index tried */
    int up_idx;     /* the upstream of up, -1 = none */
    unsigned tries;
    /* Client bytes received before the upstream is connected (or the PROXY header). */
    char *pend;
    size_t pend_len, pend_cap;
    struct rs_addr client, local; /* when needed: hashing, PROXY */
    bool have_addrs;
    bool proxy_wait; /* --accept-proxy: the header is not whole yet */
    bool connected;  /* up's connect succeeded */
    bool cli_eof, up_eof;
    bool cli_paused, up_paused;   /* reading stopped because the other side is full */
    bool cli_closing, up_closing; /* we closed it (or it failed): no more sends */
    bool reset_cli, reset_up;     /* a passed-on reset waits for this side's queue */
    struct relay_sess *next;      /* free list */
};

static void sess_arm(struct relay_sess *s);
static void sess_connect(struct relay_sess *s);

static void sess_free_maybe(struct relay_sess *s)
{
    if (s->cli || s->up)
        return;
    struct relay_worker *w = s->w;
    rs_loop_timer_disarm(w->loop, &s->timer);
    rs_loop_timer_unreserve(w->loop, 1);
    rs_free(s->pend);
    s->pend = NULL;
    w->active--;
    RS_STAT_SET(w->ctr, relay_active, w->active);
    s->next = w->free;
    w->free = s;
}

/* ---- the upstream connection ---- */

static void orphan_close(struct rs_conn *c, int err)
{
    (void)c;
    (void)err;
}

static const struct rs_conn_ops orphan_ops = {.on_close = orphan_close};

/* Lets go of s->up (a failed or abandoned connect, or the end of the session's upstream):
 * its on_close no longer concerns s. */
static void up_forget(struct relay_sess *s, bool close)
{
    if (!s->up)
        return;
    rs_conn_set_ops(s->up, &orphan_ops, NULL);
    if (close)
        rs_conn_close(s->up);
    s->up = NULL;
    if (s->up_idx >= 0)
        rs_upstream_conn_end(s->w->ups, (unsigned)s->up_idx);
    up_note(s->w, s->up_idx);
    s->up_idx = -1;
}

/* Closes conn c of s: with a reset when bytes are still owed to a peer that is not taking
 * them, or when asked; else a plain close. */
static void conn_end(struct rs_conn *c, bool reset)
{
    if (reset || rs_conn_queued(c) > 0)
        rs_conn_reset(c);
    else
        rs_conn_close(c);
}

/* Ends the whole session now (timeouts): also a side already closing after its flush, whose
 * peer may never take the rest (a close already under way makes this a no-op). */
static void sess_abort(struct relay_sess *s, bool reset)
{
    if (s->cli) {
        s->cli_closing = true;
        conn_end(s->cli, reset);
    }
    if (s->up && !s->connected) {
        up_forget(s, true);
    } else if (s->up) {
        s->up_closing = true;
        conn_end(s->up, reset);
    }
}

/* No upstream can be tried (none usable, tries or budget spent): the client goes, counted. */
static void sess_no_upstream(struct relay_sess *s)
{
    RS_STAT_INC(s->w->ctr, relay_no_upstream);
    up_forget(s, true);
    if (s->cli && !s->cli_closing) {
        s->cli_closing = true;
        rs_conn_close(s->cli);
    }
}

/* A connect failed (err) or timed out (-ETIMEDOUT): count it, mark the upstream and try the
 * next one. */
static void connect_failed(struct relay_sess *s, int err)
{
    struct relay_worker *w = s->w;
    uint64_t now = rs_now_ns();
    if (err == -ECONNREFUSED)
        RS_STAT_INC(w->ctr, relay_connect_refused);
    else if (err == -ETIMEDOUT)
        RS_STAT_INC(w->ctr, relay_connect_timeout);
    else
        RS_STAT_INC(w->ctr, relay_connect_error);
    if (s->up_idx >= 0 && (err == -ECONNREFUSED || err == -ETIMEDOUT || err == -ENETUNREACH ||
                           err == -EHOSTUNREACH || err == -ECONNRESET)) {
        rs_upstream_fail(w->ups, (unsigned)s->up_idx, now);
        if (w->up[s->up_idx])
            RS_STAT_INC(w->up[s->up_idx], relay_upstream_connect_fails);
    }
    up_forget(s, true);
    if (!s->cli || s->cli_closing)
        return;
    if (s->tries >= w->conf->connect_tries || now >= s->start_ns + w->conf->connect_budget_ns) {
        sess_no_upstream(s);
        return;
    }
    RS_STAT_INC(w->ctr, relay_retries);
    sess_connect(s);
}

/* Sends buf to c (a side of s); false when c is gone (the send failed: the loop closes it). */
static bool relay_send(struct rs_conn *c, const void *buf, size_t len)
{
    return len == 0 || rs_conn_send(c, buf, len) == 0;
}

/* After a send to dst: stop reading src while dst is full. */
static void relay_backpressure(struct relay_sess *s, bool to_up)
{
    struct rs_conn *dst = to_up ? s->up : s->cli;
    struct rs_conn *src = to_up ? s->cli : s->up;
    bool *paused = to_up ? &s->cli_paused : &s->up_paused;
    if (*paused || !src || !rs_conn_full(dst))
        return;
    *paused = true;
    rs_conn_read_stop(src);
    if (to_up)
        RS_STAT_INC(s->w->ctr, relay_pauses_c2u);
    else
        RS_STAT_INC(s->w->ctr, relay_pauses_u2c);
}

/* Both sides sent FIN: close each once its queue is sent. */
static void sess_both_eof(struct relay_sess *s)
{
    if (s->cli && !s->cli_closing) {
        s->cli_closing = true;
        rs_conn_close_after_flush(s->cli);
    }
    if (s->up && !s->up_closing) {
        s->up_closing = true;
        rs_conn_close_after_flush(s->up);
    }
}

static void up_on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct relay_sess *s = rs_conn_udata(c);
    (void)c;
    RS_STAT_ADD(s->w->ctr, relay_bytes_u2c, len);
    s->last_ns = rs_now_ns();
    if (!s->cli || s->cli_closing || s->reset_cli)
        return; /* nowhere to go: the session is ending */
    if (!relay_send(s->cli, data, len))
        return;
    relay_backpressure(s, false);
}

static void up_on_eof(struct rs_conn *c)
{
    struct relay_sess *s = rs_conn_udata(c);
    (void)c;
    s->up_eof = true;
    if (s->cli && !s->cli_closing) {
        RS_STAT_INC(s->w->ctr, relay_half_closes_u2c);
        rs_conn_shutdown_after_flush(s->cli);
    }
    if (s->cli_eof) {
        sess_both_eof(s);
    } else {
        s->fin_ns = rs_now_ns();
        sess_arm(s);
    }
}

/* The client is to be reset: at once if nothing is owed to it, else once its queue has gone
 * (polled by the timer, bounded by --fin-timeout). */
static void pass_reset(struct relay_sess *s, bool to_cli)
{
    struct rs_conn *c = to_cli ? s->cli : s->up;
    bool *closing = to_cli ? &s->cli_closing : &s->up_closing;
    if (!c || *closing)
        return;
    if (rs_conn_queued(c) == 0) {
        *closing = true;
        rs_conn_reset(c);
        return;
    }
    rs_conn_read_stop(c); /* what it sends has nowhere to go */
    if (to_cli)
        s->reset_cli = true;
    else
        s->reset_up = true;
    s->reset_ns = rs_now_ns();
    sess_arm(s);
}

static void up_on_close(struct rs_conn *c, int err)
{
    struct relay_sess *s = rs_conn_udata(c);
    (void)c;
    bool ours = s->up_closing;
    s->up = NULL;
    if (s->up_idx >= 0)
        rs_upstream_conn_end(s->w->ups, (unsigned)s->up_idx);
    up_note(s->w, s->up_idx);
    s->up_idx = -1;
    if (!ours && err < 0) {
        RS_STAT_INC(s->w->ctr, relay_resets_upstream);
        pass_reset(s, true);
    } else if (s->cli && !s->cli_closing) {
        s->cli_closing = true;
        rs_conn_close_after_flush(s->cli);
    }
    sess_free_maybe(s);
}

static void up_on_drain(struct rs_conn *c)
{
    struct relay_sess *s = rs_conn_udata(c);
    (void)c;
    if (s->cli_paused && s->cli && !s->reset_cli) {
        s->cli_paused = false;
        rs_conn_read_start(s->cli);
    }
}

static void up_on_connect(struct rs_conn *c, int err);

static const struct rs_conn_ops up_ops = {
    .on_data = up_on_data,
    .on_eof = up_on_eof,
    .on_close = up_on_close,
    .on_connect = up_on_connect,
    .on_drain = up_on_drain,
};

static void up_on_connect(struct rs_conn *c, int err)
{
    struct relay_sess *s = rs_conn_udata(c);
    struct relay_worker *w = s->w;
    if (err < 0) {
        connect_failed(s, err);
        return;
    }
    RS_STAT_INC(w->ctr, relay_connect_ok);
    uint64_t now = rs_now_ns();
    rs_upstream_ok(w->ups, (unsigned)s->up_idx, now);
    up_note(w, s->up_idx);
    if (w->up[s->up_idx])
        rs_counter_lset_record(w->items, (_Atomic uint64_t *)w->up[s->up_idx], now - s->attempt_ns);
    s->connected = true;
    s->last_ns = rs_now_ns();
    if (w->conf->send_proxy && s->have_addrs) {
        char hdr[RS_PROXY_V2_MAX];
        int n = rs_proxy_write(w->conf->send_proxy, true, &s->client, &s->local, hdr, sizeof(hdr));
        if (n > 0 && !relay_send(c, hdr, (size_t)n))
            return;
    }
    if (!relay_send(c, s->pend, s->pend_len))
        return;
    rs_free(s->pend);
    s->pend = NULL;
    s->pend_len = s->pend_cap = 0;
    if (s->cli_eof) {
        RS_STAT_INC(w->ctr, relay_half_closes_c2u);
        rs_conn_shutdown_after_flush(c);
    }
    if (s->cli_paused && s->cli) {
        s->cli_paused = false;
        rs_conn_read_start(s->cli);
    }
    relay_backpressure(s, true);
    sess_arm(s);
}

/* Picks an untried upstream and starts connecting to it; no upstream left: closes the client. */
static void sess_connect(struct relay_sess *s)
{
    struct relay_worker *w = s->w;
    uint64_t now = rs_now_ns();
    for (;;) {
        int i = rs_upstream_pick(w->ups, &s->client, s->tried, now);
        if (i < 0) {
            sess_no_upstream(s);
            return;
        }
        s->tried |= 1ull << (unsigned)i;
        s->tries++;
        int err;
        struct rs_conn *c = rs_loop_connect(
            w->loop, &rs_upstream_conf_at(w->ups, (unsigned)i)->addr, NULL, &up_ops, s, &err);
        if (c) {
            rs_conn_read_cross(c);
            rs_conn_set_write_queue(c, w->conf->window);
            rs_upstream_conn_begin(w->ups, (unsigned)i);
            if (w->up[i])
                RS_STAT_INC(w->up[i], relay_upstream_conns);
            up_note(w, i);
            s->up = c;
            s->up_idx = i;
            s->attempt_ns = now;
            sess_arm(s);
            return;
        }
        /* No socket or no room on this worker: local, so not the upstream's fault. */
        RS_STAT_INC(w->ctr, relay_connect_error);
        if (err == -ENOSPC || err == -EMFILE || err == -ENFILE || err == -ENOMEM ||
            s->tries >= w->conf->connect_tries) {
            sess_no_upstream(s);
            return;
        }
        RS_STAT_INC(w->ctr, relay_retries);
    }
}

/* ---- the client connection ---- */

/* Keeps client bytes until the upstream is connected; reading stops past the window. */
static void pend_add(struct relay_sess *s, const void *data, size_t len)
{
    if (s->pend_len + len > s->pend_cap) {
        size_t cap = s->pend_cap ? s->pend_cap : 4096;
        while (cap < s->pend_len + len)
            cap *= 2;
        char *p = rs_malloc(cap);
        if (!p) {
            sess_abort(s, true);
            return;
        }
        if (s->pend_len)
            memcpy(p, s->pend, s->pend_len);
        rs_free(s->pend);
        s->pend = p;
        s->pend_cap = cap;
    }
    memcpy(s->pend + s->pend_len, data, len);
    s->pend_len += len;
    if (s->pend_len >= s->w->conf->window && !s->cli_paused) {
        s->cli_paused = true;
        rs_conn_read_stop(s->cli);
    }
}

/* --accept-proxy: gathers the header; once whole, the session goes on with the rest. */
static void proxy_data(struct relay_sess *s, const void *data, size_t len)
{
    struct relay_worker *w = s->w;
    pend_add(s, data, len);
    if (!s->cli || s->cli_closing)
        return;
    struct rs_addr src, dst;
    bool local = false;
    int n = rs_proxy_read(s->pend, s->pend_len, &src, &dst, &local);
    if (n == 0 && s->pend_len < RS_PROXY_V2_MAX)
        return;
    if (n <= 0) {
        RS_STAT_INC(w->ctr, relay_proxy_invalid);
        s->cli_closing = true;
        rs_conn_close(s->cli);
        return;
    }
    if (!local) {
        s->client = src;
        s->local = dst;
        s->have_addrs = true;
    }
    s->pend_len -= (size_t)n;
    memmove(s->pend, s->pend + n, s->pend_len);
    s->proxy_wait = false;
    sess_connect(s);
}

static void cli_on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct relay_sess *s = rs_conn_udata(c);
    (void)c;
    RS_STAT_ADD(s->w->ctr, relay_bytes_c2u, len);
    s->last_ns = rs_now_ns();
    if (s->cli_closing)
        return;
    if (s->proxy_wait) {
        proxy_data(s, data, len);
        return;
    }
    if (!s->connected) {
        if (s->up)
            pend_add(s, data, len);
        return;
    }
    if (!s->up || s->up_closing || s->reset_up)
        return;
    if (!relay_send(s->up, data, len))
        return;
    relay_backpressure(s, true);
}

static void cli_on_eof(struct rs_conn *c)
{
    struct relay_sess *s = rs_conn_udata(c);
    (void)c;
    s->cli_eof = true;
    if (s->proxy_wait || (!s->up && !s->connected)) {
        /* No header or no upstream yet: nothing will come of this client. */
        s->cli_closing = true;
        rs_conn_close(s->cli);
        return;
    }
    if (s->connected && s->up && !s->up_closing) {
        RS_STAT_INC(s->w->ctr, relay_half_closes_c2u);
        rs_conn_shutdown_after_flush(s->up);
    } /* connecting: on_connect passes it on after the kept bytes */
    if (s->up_eof) {
        sess_both_eof(s);
    } else {
        s->fin_ns = rs_now_ns();
        sess_arm(s);
    }
}

static void cli_on_close(struct rs_conn *c, int err)
{
    struct relay_sess *s = rs_conn_udata(c);
    (void)c;
    bool ours = s->cli_closing;
    s->cli = NULL;
    if (!s->connected) {
        up_forget(s, true); /* a connect under way is abandoned */
    } else if (!ours && err < 0) {
        RS_STAT_INC(s->w->ctr, relay_resets_client);
        pass_reset(s, false);
    } else if (s->up && !s->up_closing) {
        s->up_closing = true;
        rs_conn_close_after_flush(s->up);
    }
    sess_free_maybe(s);
}

static void cli_on_drain(struct rs_conn *c)
{
    struct relay_sess *s = rs_conn_udata(c);
    (void)c;
    if (s->up_paused && s->up && !s->reset_up) {
        s->up_paused = false;
        rs_conn_read_start(s->up);
    }
}

static const struct rs_conn_ops cli_ops = {
    .on_data = cli_on_data,
    .on_eof = cli_on_eof,
    .on_close = cli_on_close,
    .on_drain = cli_on_drain,
};

/* ---- the session's one timer ---- */

static uint64_t min_due(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The earliest deadline of s now, and which it is. */
enum sess_deadline { DL_NONE, DL_PROXY, DL_CONNECT, DL_IDLE, DL_FIN, DL_MAX, DL_RESET };

static uint64_t sess_due(const struct relay_sess *s, enum sess_deadline *what)
{
    const struct rs_relay_conf *cf = s->w->conf;
    uint64_t due = UINT64_MAX;
    *what = DL_NONE;
#define CONSIDER(t, k)                                                                             \
    do {                                                                                           \
        uint64_t t_ = (t);                                                                         \
        if (t_ < due) {                                                                            \
            due = t_;                                                                              \
            *what = (k);                                                                           \
        }                                                                                          \
    } while (0)
    if (s->reset_cli || s->reset_up) {
        CONSIDER(s->reset_ns + cf->fin_timeout_ns, DL_RESET);
        return min_due(due, rs_now_ns() + RESET_POLL_NS);
    }
    if (s->proxy_wait)
        CONSIDER(s->start_ns + cf->proxy_timeout_ns, DL_PROXY);
    else if (!s->connected && s->up)
        CONSIDER(
            min_due(s->attempt_ns + cf->connect_timeout_ns, s->start_ns + cf->connect_budget_ns),
            DL_CONNECT);
    if (cf->idle_timeout_ns)
        CONSIDER(s->last_ns + cf->idle_timeout_ns, DL_IDLE);
    if ((s->cli_eof || s->up_eof) && cf->fin_timeout_ns)
        CONSIDER(s->fin_ns + cf->fin_timeout_ns, DL_FIN);
    if (cf->max_duration_ns)
        CONSIDER(s->start_ns + cf->max_duration_ns, DL_MAX);
#undef CONSIDER
    return due;
}

static void sess_arm(struct relay_sess *s)
{
    enum sess_deadline what;
    uint64_t due = sess_due(s, &what);
    if (due == UINT64_MAX)
        rs_loop_timer_disarm(s->w->loop, &s->timer);
    else
        rs_loop_timer_arm_at(s->w->loop, &s->timer, due); /* room reserved at accept */
}

static void sess_fired(struct rs_timer *t, void *arg)
{
    struct relay_sess *s = arg;
    struct relay_worker *w = s->w;
    (void)t;
    enum sess_deadline what;
    uint64_t now = rs_now_ns();
    if (s->reset_cli || s->reset_up) {
        bool late = now >= s->reset_ns + w->conf->fin_timeout_ns;
        if (s->reset_cli && s->cli && (late || rs_conn_queued(s->cli) == 0)) {
            s->reset_cli = false;
            s->cli_closing = true;
            rs_conn_reset(s->cli);
        }
        if (s->reset_up && s->up && (late || rs_conn_queued(s->up) == 0)) {
            s->reset_up = false;
            s->up_closing = true;
            rs_conn_reset(s->up);
        }
        if ((s->reset_cli && s->cli) || (s->reset_up && s->up))
            sess_arm(s);
        return;
    }
    uint64_t due = sess_due(s, &what);
    if (now < due) {
        if (due != UINT64_MAX)
            rs_loop_timer_arm_at(w->loop, &s->timer, due);
        return;
    }
    switch (what) {
    case DL_PROXY:
        RS_STAT_INC(w->ctr, relay_proxy_timeouts);
        sess_abort(s, false);
        break;
    case DL_CONNECT:
        connect_failed(s, -ETIMEDOUT);
        break;
    case DL_IDLE:
        RS_STAT_INC(w->ctr, relay_idle_closes);
        sess_abort(s, false);
        break;
    case DL_FIN:
        RS_STAT_INC(w->ctr, relay_fin_timeouts);
        sess_abort(s, false);
        break;
    case DL_MAX:
        RS_STAT_INC(w->ctr, relay_max_duration_closes);
        sess_abort(s, false);
        break;
    case DL_RESET:
    case DL_NONE:
        break;
    }
}

/* ---- the service ---- */

static bool needs_addrs(const struct rs_relay_conf *cf)
{
    return cf->send_proxy || cf->balance == RS_BAL_HASH_SRC || cf->balance == RS_BAL_CHASH_SRC;
}

static void relay_accept(struct rs_conn *c, void *arg)
{
    struct relay_worker *w = arg;
    RS_STAT_INC(w->ctr, relay_accepted);
    struct relay_sess *s = w->free;
    if (s) {
        w->free = s->next;
    } else {
        s = rs_malloc(sizeof(*s));
        if (!s) {
            rs_conn_close(c);
            return;
        }
    }
    if (rs_loop_timer_reserve(w->loop, 1) < 0) {
        s->next = w->free;
        w->free = s;
        rs_conn_close(c);
        return;
    }
    memset(s, 0, sizeof(*s));
    s->w = w;
    s->cli = c;
    s->up_idx = -1;
    s->start_ns = s->last_ns = rs_now_ns();
    rs_timer_init(&s->timer, sess_fired, s);
    w->active++;
    RS_STAT_SET(w->ctr, relay_active, w->active);
    rs_conn_set_ops(c, &cli_ops, s);
    rs_conn_read_cross(c);
    rs_conn_set_write_queue(c, w->conf->window);
    if (needs_addrs(w->conf)) /* with --accept-proxy, unless its header says otherwise */
        s->have_addrs = rs_conn_addrs(c, &s->client, &s->local) == 0;
    if (w->conf->accept_proxy) {
        s->proxy_wait = true;
        sess_arm(s);
        return;
    }
    sess_connect(s);
}

/* An active health check's outcome for upstream i. */
static void health_result(void *arg, unsigned i, bool ok)
{
    struct relay_worker *w = arg;
    rs_upstream_health(w->ups, i, ok);
    if (ok)
        RS_STAT_INC(w->ctr, relay_health_ok);
    else
        RS_STAT_INC(w->ctr, relay_health_fail);
    if (w->up[i]) {
        if (ok)
            RS_STAT_INC(w->up[i], relay_upstream_health_ok);
        else
            RS_STAT_INC(w->up[i], relay_upstream_health_fail);
    }
    up_note(w, (int)i);
}

static int relay_worker_new(const struct rs_service_ctx *ctx, void **state)
{
    struct relay_worker *w = rs_calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->loop = ctx->loop;
    w->conf = &ctx->conf->relay;
    w->ctr = (struct relay_counters *)ctx->counters;
    w->ups = rs_upstreams_new(w->conf, rs_now_ns() ^ ((uint64_t)rs_loop_id(ctx->loop) << 32));
    if (!w->ups) {
        rs_free(w);
        return -ENOMEM;
    }
    w->items = ctx->items;
    for (unsigned i = 0; i < w->conf->nup; i++) {
        w->up[i] = (struct relay_up_counters *)rs_counter_lset_row(ctx->items, ctx->worker, i);
        up_note(w, (int)i);
    }
    if (w->conf->health == RS_HEALTH_TCP) {
        int err = 0;
        w->health = rs__relay_health_new(w->loop, w->conf, health_result, w, &err);
        if (!w->health) {
            rs_upstreams_free(w->ups);
            rs_free(w);
            return err;
        }
    }
    *state = w;
    return 0;
}

static void relay_worker_free(void *state)
{
    struct relay_worker *w = state;
    if (!w)
        return;
    while (w->free) {
        struct relay_sess *s = w->free;
        w->free = s->next;
        rs_free(s);
    }
    rs__relay_udp_free(w);
    rs__relay_health_free(w->health);
    rs_upstreams_free(w->ups);
    rs_free(w);
}

const struct rs_service rs_relay_service = {
    .name = "relay",
    .help = "pass TCP connections and UDP sessions on to --upstream servers\n"
            "(layer-4 proxy); default TCP and UDP on 127.0.0.1:9000",
    .listen = "127.0.0.1:9000",
    .counters = &relay_block,
    .item_counters = &rs__relay_up_block,
    .item_names = rs__relay_up_names,
    .worker_new = relay_worker_new,
    .worker_free = relay_worker_free,
    .accept = relay_accept,
    .udp_mode = RS_UDP_SERVICE,
    .udp_open = rs__relay_udp_open,
};
