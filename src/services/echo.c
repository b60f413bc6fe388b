/* echo (every byte back, in order; after the peer's FIN, what is owed, then close) and discard
 * (read and drop; close after the peer's FIN). With --idle-timeout (idle.h) each connection
 * has a small state from a per-worker free list holding its timer; without, none. */

#include <errno.h>
#include <string.h>

#include "ringsock/util/alloc.h"
#include "ringsock/services/services.h"
#include "idle.h"

/* Shared by echo and discard (a block listed twice is registered once). */
#define STREAM_COUNTERS(X)                                                                         \
    X(idle_timeouts, COUNTER, RS_CTR_WORKER,                                                       \
      "echo/discard connections closed after --idle-timeout without a byte either way")            \
    X(send_timeouts, COUNTER, RS_CTR_WORKER,                                                       \
      "echo connections reset after --idle-timeout owing bytes the peer did not take")

RS_COUNTER_STRUCT(stream_counters, STREAM_COUNTERS);
static const struct rs_counter_desc stream_desc[] = {STREAM_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct stream_counters, stream_desc);
static const struct rs_counter_block stream_block =
    RS_COUNTER_BLOCK("stream", struct stream_counters, stream_desc, NULL, 0);

struct echo_conn {
    struct rs_idle idle;
    struct echo_worker *w;
    struct echo_conn *next; /* free list */
};

struct echo_worker {
    struct rs_idle_ctx idle; /* timeout_ns 0: no per-connection state at all */
    struct echo_conn *free;
};

static void echo_on_data(struct rs_conn *c, const void *data, size_t len)
{
    /* On -ENOMEM the loop has already closed the connection; nothing else to do. */
    rs_conn_send(c, data, len);
}

static void echo_on_eof(struct rs_conn *c)
{
    rs_conn_close_after_flush(c);
}

static const struct rs_conn_ops echo_ops = {
    .on_data = echo_on_data,
    .on_eof = echo_on_eof,
};

static void discard_on_data(struct rs_conn *c, const void *data, size_t len)
{
    (void)c;
    (void)data;
    (void)len;
}

static void discard_on_eof(struct rs_conn *c)
{
    rs_conn_close(c);
}

static const struct rs_conn_ops discard_ops = {
    .on_data = discard_on_data,
    .on_eof = discard_on_eof,
};

/* The same two with the idle timer. */
static void echo_timed_on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct echo_conn *ec = rs_conn_udata(c);
    rs__idle_rx(&ec->idle);
    rs_conn_send(c, data, len);
}

static void discard_timed_on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct echo_conn *ec = rs_conn_udata(c);
    (void)data;
    (void)len;
    rs__idle_rx(&ec->idle);
}

static void timed_on_close(struct rs_conn *c, int err)
{
    struct echo_conn *ec = rs_conn_udata(c);
    struct echo_worker *w = ec->w;
    (void)err;
    rs__idle_stop(&ec->idle);
    ec->next = w->free;
    w->free = ec;
}

static const struct rs_conn_ops echo_timed_ops = {
    .on_data = echo_timed_on_data,
    .on_eof = echo_on_eof,
    .on_close = timed_on_close,
};

static const struct rs_conn_ops discard_timed_ops = {
    .on_data = discard_timed_on_data,
    .on_eof = discard_on_eof,
    .on_close = timed_on_close,
};

/* Sets c up with its timer (timed ops), or the plain ops when the timeout is off. */
static void stream_accept(struct rs_conn *c, struct echo_worker *w, const struct rs_conn_ops *plain,
                          const struct rs_conn_ops *timed)
{
    if (!w->idle.timeout_ns) {
        rs_conn_set_ops(c, plain, NULL);
        return;
    }
    struct echo_conn *ec = w->free;
    if (ec) {
        w->free = ec->next;
    } else {
        ec = rs_calloc(1, sizeof(*ec));
        if (!ec) {
            rs_conn_close(c);
            return;
        }
    }
    ec->w = w;
    ec->next = NULL;
    if (rs__idle_start(&ec->idle, &w->idle, c) < 0) {
        ec->next = w->free;
        w->free = ec;
        rs_conn_close(c);
        return;
    }
    rs_conn_set_ops(c, timed, ec);
}

static void echo_accept(struct rs_conn *c, void *arg)
{
    stream_accept(c, arg, &echo_ops, &echo_timed_ops);
}

static void discard_accept(struct rs_conn *c, void *arg)
{
    stream_accept(c, arg, &discard_ops, &discard_timed_ops);
}

static int stream_worker_new(const struct rs_service_ctx *ctx, void **state)
{
    struct echo_worker *w = rs_calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    struct stream_counters *st = (struct stream_counters *)ctx->counters;
    w->idle = (struct rs_idle_ctx){
        .loop = ctx->loop,
        .timeout_ns = ctx->conf->idle_timeout_ns,
        .ctr_idle = &st->idle_timeouts,
        .ctr_send = &st->send_timeouts,
    };
    *state = w;
    return 0;
}

static void stream_worker_free(void *state)
{
    struct echo_worker *w = state;
    if (!w)
        return;
    while (w->free) {
        struct echo_conn *ec = w->free;
        w->free = ec->next;
        rs_free(ec);
    }
    rs_free(w);
}

const struct rs_service rs_echo_service = {
    .name = "echo",
    .help = "send every byte back, in order",
    .listen = "127.0.0.1:7000",
    .counters = &stream_block,
    .worker_new = stream_worker_new,
    .worker_free = stream_worker_free,
    .accept = echo_accept,
    .udp_mode = RS_UDP_ECHO,
};

const struct rs_service rs_discard_service = {
    .name = "discard",
    .help = "read and drop",
    .listen = "127.0.0.1:7000",
    .counters = &stream_block,
    .worker_new = stream_worker_new,
    .worker_free = stream_worker_free,
    .accept = discard_accept,
    .udp_mode = RS_UDP_DISCARD,
};
