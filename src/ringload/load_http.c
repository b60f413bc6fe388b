/* ringload's HTTP/1.1 protocol, on the stream part of the client base (load_stream.c). Each
 * connection keeps up to --depth requests outstanding (pipelined when more than one); answers
 * are parsed with the server's parser: Content-Length, chunked, or until close; status classes
 * are counted as wrk reports them. A response with Connection: close (or --no-keepalive, one
 * connection per request) ends the connection and a new one is opened at once; requests
 * pipelined behind it are counted as read errors. Latency runs from the intended send time to
 * the last byte; connect time and time to first byte are kept in their own histograms. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "load_client.h"
#include "ringsock/util/alloc.h"
#include "ringsock/proto/http_parse.h"
#include "ringsock/util/log.h"

enum { ST_HEAD, ST_BODY_LEN, ST_BODY_CHUNKED, ST_BODY_EOF };

struct http_client {
    struct load_stream s;
    char *in; /* a response head split across reads (at most RS_HTTP_MAX_HEAD_DEFAULT) */
    size_t in_len, last_len;
    int state;
    bool first_byte; /* the current response's first byte has been seen */
    bool keep_alive; /* the current response lets the connection go on */
    uint64_t body_left;
    struct rs_http_chunked ch;
};

static void http_reset(struct load_stream *s)
{
    struct http_client *cl = (struct http_client *)s;
    cl->in_len = cl->last_len = 0;
    cl->state = ST_HEAD;
    cl->first_byte = false;
}

static const void *http_request(struct load_stream *s, uint64_t seq, size_t *len)
{
    (void)seq;
    *len = s->cl.t->request_len;
    return s->cl.t->request;
}

/* A whole response has arrived. Returns false if the connection ends here. */
static bool complete(struct http_client *cl, uint64_t now)
{
    struct load_stream *s = &cl->s;
    struct load_thread *t = s->cl.t;
    load_stream_answered(s, now);
    cl->state = ST_HEAD;
    cl->first_byte = false;
    if (!cl->keep_alive) {
        /* Requests pipelined behind this answer will never be answered on this connection. */
        if (s->cl.next_seq > s->done_seq && !t->finishing)
            LOAD_ADD(t, err_read, s->cl.next_seq - s->done_seq);
        load_stream_close(s, true);
        return false;
    }
    return true;
}

/* Parses a response head at p. Returns bytes used, 0 if incomplete, -1 on a broken answer. */
static long head(struct http_client *cl, const char *p, size_t len, size_t last_len, uint64_t now)
{
    struct load_thread *t = cl->s.cl.t;
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
    struct load_thread *t = cl->s.cl.t;
    uint64_t hidden;
    LOAD_INC(t, err_read);
    if (rs_ratelimit_ok(&t->rl_verify, &hidden))
        rs_log_error("connection %u: %s", cl->s.cl.id, what);
    load_stream_close(&cl->s, false);
}

static int http_consume(struct load_stream *s, const unsigned char *data, size_t len, uint64_t now)
{
    struct http_client *cl = (struct http_client *)s;
    struct load_thread *t = s->cl.t;
    const char *p = (const char *)data;

    while (len > 0) {
        if (s->done_seq == s->cl.next_seq && cl->state == ST_HEAD) {
            broken(cl, "bytes received with no request outstanding");
            return -1;
        }
        if (cl->state == ST_HEAD && !cl->first_byte) {
            cl->first_byte = true;
            rs_hist_record(&t->hist_ttfb, now - s->sent[s->done_seq % t->o->depth]);
        }
        long used;
        if (cl->state != ST_HEAD) {
            used = body(cl, p, len, now);
        } else if (cl->in_len == 0) {
            used = head(cl, p, len, 0, now);
            if (used == 0) { /* keep the partial head */
                if (len >= RS_HTTP_MAX_HEAD_DEFAULT) {
                    broken(cl, "response head too large");
                    return -1;
                }
                if (!cl->in)
                    cl->in = rs_malloc(RS_HTTP_MAX_HEAD_DEFAULT);
                if (!cl->in) {
                    broken(cl, "out of memory");
                    return -1;
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
                    return -1;
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
            return -1; /* the connection ended after a complete answer */
        if (used < 0) {
            broken(cl, "malformed HTTP response");
            return -1;
        }
        p += used;
        len -= (size_t)used;
    }
    return 0;
}

static void http_eof(struct load_stream *s)
{
    struct http_client *cl = (struct http_client *)s;
    uint64_t lost = s->cl.next_seq - s->done_seq;
    if (cl->state == ST_BODY_EOF) {
        cl->keep_alive = false;
        complete(cl, rs_now_ns()); /* the body ran to the close */
        return;
    }
    if (!s->cl.t->finishing && lost > 0)
        LOAD_ADD(s->cl.t, err_read, lost);
    /* An idle connection the server let go is a normal end; requests lost are not. */
    load_stream_close(s, lost == 0);
}

static void http_fini(struct load_stream *s)
{
    struct http_client *cl = (struct http_client *)s;
    rs_free(cl->in);
    cl->in = NULL;
}

/* Where the request is written: a first pass with buf NULL only measures it, a second one into
 * a buffer of exactly that length writes it, so the two cannot disagree. */
struct req_writer {
    char *buf;
    size_t len;
};

static void req_put(struct req_writer *w, const void *p, size_t n)
{
    if (w->buf)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void req_puts(struct req_writer *w, const char *s)
{
    req_put(w, s, strlen(s));
}

/* The request line, the headers in order (Host, -H, Content-Length, Connection) and the body. */
static void req_write(struct req_writer *w, const struct rs_load_opts *o)
{
    req_puts(w, o->method);
    req_puts(w, " ");
    req_puts(w, o->path);
    req_puts(w, " HTTP/1.1\r\nHost: ");
    req_puts(w, o->host_header);
    req_puts(w, "\r\n");
    for (unsigned i = 0; i < o->nheaders; i++) {
        req_puts(w, o->headers[i]);
        req_puts(w, "\r\n");
    }
    if (o->body_len || strcmp(o->method, "POST") == 0) {
        char num[24];
        snprintf(num, sizeof(num), "%zu", o->body_len); /* at most 20 digits */
        req_puts(w, "Content-Length: ");
        req_puts(w, num);
        req_puts(w, "\r\n");
    }
    if (o->no_keepalive)
        req_puts(w, "Connection: close\r\n");
    req_puts(w, "\r\n");
    if (o->body_len)
        req_put(w, o->body, o->body_len);
}

int load_http_build_request(struct load_thread *t)
{
    /* One request, built once and sent as it is. */
    struct req_writer w = {.buf = NULL, .len = 0};
    req_write(&w, t->o);
    size_t len = w.len;
    t->request = rs_malloc(len);
    if (!t->request)
        return -ENOMEM;
    w = (struct req_writer){.buf = t->request, .len = 0};
    req_write(&w, t->o);
    t->request_len = w.len; /* == len: the same writes */
    return 0;
}

/* HTTP's per-thread set-up: the request, and the connect and first-byte histograms. */
static int http_thread_start(struct load_thread *t)
{
    if (rs_hist_init(&t->hist_connect, RS_HIST_DEFAULT_MAX) < 0 ||
        rs_hist_init(&t->hist_ttfb, RS_HIST_DEFAULT_MAX) < 0)
        return -ENOMEM;
    return load_http_build_request(t);
}

static void http_thread_free(struct load_thread *t)
{
    rs_free(t->request);
    t->request = NULL;
}

static bool http_matches(const struct rs_load_opts *o)
{
    return !o->idle && o->proto == RS_LOAD_HTTP;
}

static const struct load_stream_ops http_stream = {
    .reset = http_reset,
    .request = http_request,
    .consume = http_consume,
    .eof = http_eof,
    .fini = http_fini,
};

const struct load_proto load_http_proto = {
    .name = "http",
    .matches = http_matches,
    .scratch_msgs = 1,
    .run = &load_client_run,
    .report = &load_report_ops,
    .client = &load_stream_client,
    .client_size = sizeof(struct http_client),
    .stream = &http_stream,
    .thread_start = http_thread_start,
    .thread_free = http_thread_free,
};
