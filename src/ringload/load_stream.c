/* ringload's stream part of the client base: one connection per client, for TCP echo and HTTP.
 * Each connection keeps up to --depth messages outstanding (--no-keepalive: one per
 * connection); answers come back in order, so message done_seq is the next one answered. A
 * message's latency runs from its intended send time to the end of its answer. A connection
 * that fails or times out is counted and reopened on the next tick; one that ended normally
 * (the server closes after an answer) is reopened at once. What goes over the connection and
 * what the answers mean is the protocol's (struct load_stream_ops). */

#include <errno.h>

#include "load_client.h"
#include "ringsock/util/alloc.h"

static void stream_open(struct load_stream *s);

static const struct load_stream_ops *stream_ops(const struct load_stream *s)
{
    return s->cl.t->proto->stream;
}

void load_stream_answered(struct load_stream *s, uint64_t now)
{
    struct load_thread *t = s->cl.t;
    load_client_record(t, s->intended[s->done_seq % t->o->depth], now);
    s->done_seq++;
}

void load_stream_close(struct load_stream *s, bool reopen)
{
    if (s->state != LOAD_STREAM_CONNECTING && s->state != LOAD_STREAM_OPEN)
        return;
    s->state = LOAD_STREAM_CLOSING;
    s->reopen = reopen;
    s->cl.ready = false;
    rs_conn_close(s->c);
}

static void on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct load_stream *s = rs_conn_udata(c);
    uint64_t now = rs_now_ns();
    LOAD_ADD(s->cl.t, bytes_in, len);
    if (stream_ops(s)->consume(s, data, len, now) < 0)
        return;
    load_client_pump(&s->cl, now);
}

static void on_eof(struct rs_conn *c)
{
    struct load_stream *s = rs_conn_udata(c);
    stream_ops(s)->eof(s);
    load_stream_close(s, false);
}

static void on_close(struct rs_conn *c, int err)
{
    struct load_stream *s = rs_conn_udata(c);
    struct load_thread *t = s->cl.t;
    if (err < 0 && err != -ECANCELED && s->state == LOAD_STREAM_OPEN && !t->finishing)
        LOAD_INC(t, err_read);
    bool reopen = s->reopen;
    s->c = NULL;
    s->state = LOAD_STREAM_CLOSED;
    s->cl.ready = false;
    if (reopen && t->sending && !t->finishing)
        stream_open(s);
}

static void on_connect(struct rs_conn *c, int err)
{
    struct load_stream *s = rs_conn_udata(c);
    struct load_thread *t = s->cl.t;
    uint64_t now = rs_now_ns();
    if (err < 0) {
        LOAD_INC(t, err_connect);
        return; /* the loop closes it; the tick reopens */
    }
    LOAD_INC(t, connects);
    if (t->hist_connect.counts) /* set up by protocols that report connect times */
        rs_hist_record(&t->hist_connect, now - s->connect_ns);
    s->state = LOAD_STREAM_OPEN;
    s->cl.ready = true;
    /* --no-keepalive: connecting is part of every request, so the schedule is kept. */
    if (!t->o->no_keepalive)
        load_client_skip_missed(&s->cl, now);
    load_client_pump(&s->cl, now);
}

static const struct rs_conn_ops stream_conn_ops = {
    .on_data = on_data,
    .on_eof = on_eof,
    .on_close = on_close,
    .on_connect = on_connect,
};

static void stream_open(struct load_stream *s)
{
    struct load_thread *t = s->cl.t;
    int err;
    s->cl.next_seq = s->done_seq = 0;
    s->cl.ready = false;
    s->reopen = false;
    stream_ops(s)->reset(s);
    s->connect_ns = rs_now_ns();
    s->state = LOAD_STREAM_CONNECTING;
    s->c = rs_loop_connect(t->loop, &t->o->target, load_source(t->o, s->cl.id), &stream_conn_ops, s,
                           &err);
    if (!s->c) {
        s->state = LOAD_STREAM_CLOSED;
        LOAD_INC(t, err_connect);
    }
}

static int stream_client_open(struct load_client *cl)
{
    struct load_stream *s = (struct load_stream *)cl;
    unsigned depth = cl->t->o->depth;
    s->intended = rs_calloc(depth, sizeof(uint64_t));
    s->sent = rs_calloc(depth, sizeof(uint64_t));
    if (!s->intended || !s->sent)
        return -ENOMEM;
    stream_open(s);
    return 0;
}

static void stream_client_fini(struct load_client *cl)
{
    struct load_stream *s = (struct load_stream *)cl;
    if (stream_ops(s)->fini)
        stream_ops(s)->fini(s);
    rs_free(s->intended);
    rs_free(s->sent);
    s->intended = s->sent = NULL;
}

static bool stream_check(struct load_client *cl, uint64_t now)
{
    struct load_stream *s = (struct load_stream *)cl;
    struct load_thread *t = cl->t;
    if (s->state == LOAD_STREAM_CLOSED) {
        if (t->sending)
            stream_open(s);
        return false;
    }
    if (s->state != LOAD_STREAM_OPEN)
        return false;
    if (s->done_seq < cl->next_seq && now - s->sent[s->done_seq % t->o->depth] > t->o->timeout_ns) {
        LOAD_INC(t, err_timeout);
        load_stream_close(s, false); /* a byte stream cannot skip a message: start afresh */
        return false;
    }
    return true;
}

static uint64_t stream_room(const struct load_client *cl)
{
    const struct load_stream *s = (const struct load_stream *)cl;
    uint64_t out = cl->next_seq - s->done_seq;
    if (cl->t->o->no_keepalive)
        return cl->next_seq == 0 ? 1 : 0; /* one request per connection */
    return out < cl->t->o->depth ? cl->t->o->depth - out : 0;
}

static uint64_t stream_send(struct load_client *cl, uint64_t k, uint64_t first, uint64_t step,
                            uint64_t now)
{
    struct load_stream *s = (struct load_stream *)cl;
    struct load_thread *t = cl->t;
    for (uint64_t i = 0; i < k; i++) {
        size_t len;
        const void *msg = stream_ops(s)->request(s, cl->next_seq, &len);
        if (rs_conn_send(s->c, msg, len) < 0) {
            LOAD_INC(t, err_write);
            load_stream_close(s, false); /* it is closing already */
            return i;
        }
        s->intended[cl->next_seq % t->o->depth] = first + i * step;
        s->sent[cl->next_seq % t->o->depth] = now;
        cl->next_seq++;
        LOAD_ADD(t, bytes_out, len);
    }
    return k;
}

static uint64_t stream_outstanding(const struct load_client *cl)
{
    return cl->next_seq - ((const struct load_stream *)cl)->done_seq;
}

static void stream_stop(struct load_client *cl)
{
    struct load_stream *s = (struct load_stream *)cl;
    if (s->c)
        rs_conn_close(s->c);
}

const struct load_client_ops load_stream_client = {
    .open = stream_client_open,
    .fini = stream_client_fini,
    .check = stream_check,
    .room = stream_room,
    .send = stream_send,
    .outstanding = stream_outstanding,
    .stop = stream_stop,
};
