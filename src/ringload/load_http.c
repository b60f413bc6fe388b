/* ringload's HTTP/1.1 client. Each connection keeps up to --depth requests outstanding
 * (pipelined when more than one), answers are parsed with the server's parser: Content-Length,
 * chunked, or until close; status classes are counted as wrk reports them. A response with
 * Connection: close (or --no-keepalive, one connection per request) ends the connection and a
 * new one is opened at once; requests pipelined behind it are counted as read errors. Latency
 * runs from the intended send time to the last byte; connect time and time to first byte are
 * kept in their own histograms. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "load.h"
#include "ringsock/util/alloc.h"
#include "ringsock/proto/http_parse.h"
#include "ringsock/util/log.h"

enum { ST_HEAD, ST_BODY_LEN, ST_BODY_CHUNKED, ST_BODY_EOF };

struct http_client {
    struct load_thread *t;
    struct rs_conn *c;
    uint32_t id;
    bool connected;
    bool scheduled, was_blocked;
    uint64_t next_seq, done_seq;
    uint64_t *intended, *sent;
    uint64_t next_due;
    uint64_t connect_ns;
    char *in; /* a response head split across reads (at most RS_HTTP_MAX_HEAD_DEFAULT) */
    size_t in_len, last_len;
    int state;
    bool first_byte; /* the current response's first byte has been seen */
    bool keep_alive; /* the current response lets the connection go on */
    uint64_t body_left;
    struct rs_http_chunked ch;
};

static void http_open(struct http_client *cl);

static bool may_send(const struct http_client *cl)
{
    return cl->connected && cl->t->sending && cl->next_seq - cl->done_seq < cl->t->o->depth &&
           !(cl->t->o->no_keepalive && cl->next_seq > cl->done_seq);
}

static void send_req(struct http_client *cl, uint64_t intended, uint64_t now)
{
    struct load_thread *t = cl->t;
    if (rs_conn_send(cl->c, t->request, t->request_len) < 0) {
        LOAD_INC(t, err_write);
        return;
    }
    cl->intended[cl->next_seq % t->o->depth] = intended;
    cl->sent[cl->next_seq % t->o->depth] = now;
    cl->next_seq++;
    LOAD_ADD(t, bytes_out, t->request_len);
    if (t->o->no_keepalive)
        cl->connected = false; /* one request per connection */
}

static void pump(struct http_client *cl, uint64_t now)
{
    struct load_thread *t = cl->t;
    if (t->o->rate == 0) {
        while (may_send(cl))
            send_req(cl, now, now);
        return;
    }
    double gap = 1e9 / t->conn_rate;
    while (t->sending && cl->next_due <= now) {
        if (!may_send(cl)) {
            if (cl->c)
                LOAD_INC(t, sched_blocked);
            cl->was_blocked = true;
            return;
        }
        if (now - cl->next_due > 1000000 && !cl->was_blocked)
            LOAD_INC(t, sched_behind);
        send_req(cl, cl->next_due, now);
        cl->next_due += (uint64_t)gap;
    }
    cl->was_blocked = false;
}

static void reschedule(struct http_client *cl, uint64_t now)
{
    struct load_thread *t = cl->t;
    if (t->o->rate == 0 || cl->scheduled || !t->sending || cl->next_due <= now)
        return;
    struct http_client *cls = t->clients;
    if (load_sched_push(&t->sched, cl->next_due, (uint32_t)(cl - cls)) == 0) {
        cl->scheduled = true;
        load_sched_arm(t);
    }
}

void load_http_fire(struct load_thread *t, uint64_t now)
{
    struct http_client *cls = t->clients;
    uint32_t idx;
    while (load_sched_pop_due(&t->sched, now, &idx)) {
        struct http_client *cl = &cls[idx];
        cl->scheduled = false;
        if (cl->c)
            pump(cl, now);
        reschedule(cl, now);
    }
}

/* A whole response has arrived. Returns false if the connection ends here. */
static bool complete(struct http_client *cl, uint64_t now)
{
    struct load_thread *t = cl->t;
    uint64_t intended = cl->intended[cl->done_seq % t->o->depth];
    if (load_in_window(t, intended)) {
        rs_hist_record(&t->hist, now > intended ? now - intended : 0);
        LOAD_INC(t, msgs);
    }
    LOAD_INC(t, msgs_all);
    cl->done_seq++;
    cl->state = ST_HEAD;
    cl->first_byte = false;
    if (!cl->keep_alive) {
        /* Requests pipelined behind this answer will never be answered on this connection. */
        if (cl->next_seq > cl->done_seq && !t->finishing)
            LOAD_ADD(t, err_read, cl->next_seq - cl->done_seq);
        cl->connected = false;
        rs_conn_close(cl->c);
        return false;
    }
    return true;
}

/* Parses a response head at p. Returns bytes used, 0 if incomplete, -1 on a broken answer. */
static long head(struct http_client *cl, const char *p, size_t len, size_t last_len, uint64_t now)
{
    struct load_thread *t = cl->t;
    struct rs_http_header hdrs[RS_HTTP_MAX_HEADERS_DEFAULT];
    struct rs_http_response r;
    int n = rs_http_parse_response(p, len, last_len, NULL, &r, hdrs);
    if (n == RS_HTTP_INCOMPLETE)
        return 0;
    if (n < 0)
        return -1;
    if (r.status < 200) {
        return n; /* 100 Continue and friends: the real answer follows */
    }
    if (r.status < 300)
        LOAD_INC(t, http_2xx);
    else if (r.status < 400)
        LOAD_INC(t, http_3xx);
    else if (r.status < 500)
        LOAD_INC(t, http_4xx);
    else
        LOAD_INC(t, http_5xx);
    cl->keep_alive = r.keep_alive && !t->o->no_keepalive;
    bool no_body = t->o->head_only || r.status == 204 || r.status == 304;
    if (no_body || (!r.chunked && r.content_length == 0)) {
        cl->state = ST_HEAD;
        return complete(cl, now) ? n : -2;
    }
    if (r.chunked) {
        cl->state = ST_BODY_CHUNKED;
        rs_http_chunked_init(&cl->ch);
    } else if (r.content_length > 0) {
        cl->state = ST_BODY_LEN;
        cl->body_left = (uint64_t)r.content_length;
    } else {
        cl->state = ST_BODY_EOF;
        cl->keep_alive = false;
    }
    return n;
}

/* Consumes body bytes; returns bytes used, -1 on a broken body, -2 if the connection ended. */
static long body(struct http_client *cl, const char *p, size_t len, uint64_t now)
{
    if (cl->state == ST_BODY_EOF)
        return (long)len;
    if (cl->state == ST_BODY_LEN) {
        size_t k = len < cl->body_left ? len : (size_t)cl->body_left;
        cl->body_left -= k;
        if (cl->body_left == 0 && !complete(cl, now))
            return -2;
        return (long)k;
    }
    uint64_t data;
    int64_t used = rs_http_chunked_feed(&cl->ch, p, len, &data);
    if (used < 0)
        return -1;
    if (cl->ch.done && !complete(cl, now))
        return -2;
    return (long)used;
}

static void broken(struct http_client *cl, const char *what)
{
    uint64_t hidden;
    LOAD_INC(cl->t, err_read);
    if (rs_ratelimit_ok(&cl->t->rl_verify, &hidden))
        rs_log_error("connection %u: %s", cl->id, what);
    cl->connected = false;
    rs_conn_close(cl->c);
}

static void on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct http_client *cl = rs_conn_udata(c);
    struct load_thread *t = cl->t;
    const char *p = data;
    uint64_t now = rs_now_ns();

    LOAD_ADD(t, bytes_in, len);
    while (len > 0) {
        if (cl->done_seq == cl->next_seq && cl->state == ST_HEAD) {
            broken(cl, "bytes received with no request outstanding");
            return;
        }
        if (cl->state == ST_HEAD && !cl->first_byte) {
            cl->first_byte = true;
            rs_hist_record(&t->hist_ttfb, now - cl->sent[cl->done_seq % t->o->depth]);
        }
        long used;
        if (cl->state != ST_HEAD) {
            used = body(cl, p, len, now);
        } else if (cl->in_len == 0) {
            used = head(cl, p, len, 0, now);
            if (used == 0) { /* keep the partial head */
                if (len >= RS_HTTP_MAX_HEAD_DEFAULT) {
                    broken(cl, "response head too large");
                    return;
                }
                if (!cl->in)
                    cl->in = rs_malloc(RS_HTTP_MAX_HEAD_DEFAULT);
                if (!cl->in) {
                    broken(cl, "out of memory");
                    return;
                }
                memcpy(cl->in, p, len);
                cl->in_len = cl->last_len = len;
                used = (long)len;
            }
        } else {
            size_t room = RS_HTTP_MAX_HEAD_DEFAULT - cl->in_len;
            size_t k = len < room ? len : room;
            memcpy(cl->in + cl->in_len, p, k);
            size_t prev = cl->in_len;
            cl->in_len += k;
            long n = head(cl, cl->in, cl->in_len, cl->last_len, now);
            if (n == 0) {
                if (cl->in_len == RS_HTTP_MAX_HEAD_DEFAULT) {
                    broken(cl, "response head too large");
                    return;
                }
                cl->last_len = cl->in_len;
                used = (long)k;
            } else if (n > 0) {
                used = n - (long)prev; /* the head ended inside the new bytes */
                cl->in_len = cl->last_len = 0;
            } else {
                used = n;
            }
        }
        if (used == -2)
            return; /* the connection ended after a complete answer */
        if (used < 0) {
            broken(cl, "malformed HTTP response");
            return;
        }
        p += used;
        len -= (size_t)used;
    }
    pump(cl, now);
    reschedule(cl, now);
}

static void on_eof(struct rs_conn *c)
{
    struct http_client *cl = rs_conn_udata(c);
    if (cl->state == ST_BODY_EOF) {
        cl->keep_alive = false;
        complete(cl, rs_now_ns());
        return;
    }
    if (!cl->t->finishing && cl->next_seq > cl->done_seq)
        LOAD_ADD(cl->t, err_read, cl->next_seq - cl->done_seq);
    rs_conn_close(c);
}

static void on_close(struct rs_conn *c, int err)
{
    struct http_client *cl = rs_conn_udata(c);
    struct load_thread *t = cl->t;
    (void)err;
    cl->c = NULL;
    cl->connected = false;
    /* A connection the server (or --no-keepalive) ended: open the next one at once. */
    if (t->sending && !t->finishing)
        http_open(cl);
}

static void on_connect(struct rs_conn *c, int err)
{
    struct http_client *cl = rs_conn_udata(c);
    struct load_thread *t = cl->t;
    uint64_t now = rs_now_ns();
    if (err < 0) {
        LOAD_INC(t, err_connect);
        return;
    }
    LOAD_INC(t, connects);
    rs_hist_record(&t->hist_connect, now - cl->connect_ns);
    cl->connected = true;
    if (t->o->rate > 0 && cl->next_due < now && !t->o->no_keepalive)
        cl->next_due = now;
    pump(cl, now);
    reschedule(cl, now);
}

static const struct rs_conn_ops http_ops = {
    .on_data = on_data,
    .on_eof = on_eof,
    .on_close = on_close,
    .on_connect = on_connect,
};

static void http_open(struct http_client *cl)
{
    int err;
    cl->next_seq = cl->done_seq = 0;
    cl->in_len = cl->last_len = 0;
    cl->state = ST_HEAD;
    cl->first_byte = false;
    cl->connect_ns = rs_now_ns();
    cl->c = rs_loop_connect(cl->t->loop, &cl->t->o->target, load_source(cl->t->o, cl->id),
                            &http_ops, cl, &err);
    if (!cl->c)
        LOAD_INC(cl->t, err_connect);
}

int load_http_build_request(struct load_thread *t)
{
    const struct rs_load_opts *o = t->o;
    /* One request, built once and sent as it is. */
    size_t cap = 1024 + o->nheaders * 300 + o->body_len;
    t->request = rs_malloc(cap);
    if (!t->request)
        return -ENOMEM;
    int n = snprintf(t->request, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", o->method, o->path,
                     o->host_header);
    for (unsigned i = 0; i < o->nheaders; i++)
        n += snprintf(t->request + n, cap - (size_t)n, "%s\r\n", o->headers[i]);
    if (o->body_len || strcmp(o->method, "POST") == 0)
        n += snprintf(t->request + n, cap - (size_t)n, "Content-Length: %zu\r\n", o->body_len);
    if (o->no_keepalive)
        n += snprintf(t->request + n, cap - (size_t)n, "Connection: close\r\n");
    n += snprintf(t->request + n, cap - (size_t)n, "\r\n");
    if (o->body_len)
        memcpy(t->request + n, o->body, o->body_len);
    t->request_len = (size_t)n + o->body_len;
    return 0;
}

int load_http_start(struct load_thread *t)
{
    const struct rs_load_opts *o = t->o;
    struct http_client *cls = rs_calloc(t->nconns, sizeof(*cls));
    if (!cls)
        return -ENOMEM;
    t->clients = cls;
    if (o->rate > 0 && load_sched_init(&t->sched, t->nconns) < 0)
        return -ENOMEM;
    if (rs_hist_init(&t->hist_connect, RS_HIST_DEFAULT_MAX) < 0 ||
        rs_hist_init(&t->hist_ttfb, RS_HIST_DEFAULT_MAX) < 0)
        return -ENOMEM;
    if (load_http_build_request(t) < 0)
        return -ENOMEM;

    for (unsigned i = 0; i < t->nconns; i++) {
        struct http_client *cl = &cls[i];
        cl->t = t;
        cl->id = t->first_conn + i;
        cl->intended = rs_calloc(o->depth, sizeof(uint64_t));
        cl->sent = rs_calloc(o->depth, sizeof(uint64_t));
        if (!cl->intended || !cl->sent)
            return -ENOMEM;
        if (o->rate > 0)
            cl->next_due = t->t0 + (uint64_t)(1e9 / t->conn_rate * cl->id / o->conns);
        http_open(cl);
    }
    return 0;
}

bool load_http_tick(struct load_thread *t, uint64_t now)
{
    struct http_client *cls = t->clients;
    bool all_done = true;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct http_client *cl = &cls[i];
        if (t->finishing) {
            if (cl->c)
                rs_conn_close(cl->c);
            continue;
        }
        if (!cl->c) {
            if (t->sending)
                http_open(cl);
            continue;
        }
        if (cl->done_seq < cl->next_seq &&
            now - cl->sent[cl->done_seq % t->o->depth] > t->o->timeout_ns) {
            LOAD_INC(t, err_timeout);
            cl->connected = false;
            rs_conn_close(cl->c);
            continue;
        }
        pump(cl, now);
        reschedule(cl, now);
        if (cl->done_seq < cl->next_seq)
            all_done = false;
    }
    return all_done;
}

void load_http_free(struct load_thread *t)
{
    struct http_client *cls = t->clients;
    if (cls) {
        for (unsigned i = 0; i < t->nconns; i++) {
            rs_free(cls[i].intended);
            rs_free(cls[i].sent);
            rs_free(cls[i].in);
        }
        rs_free(cls);
        t->clients = NULL;
    }
    load_sched_fini(&t->sched);
    rs_free(t->request);
    t->request = NULL;
}
