/* HTTP/1.1 responder: a fixed body (--body, --body-file), N bytes for /bytes/N (up to
 * --max-bytes), "ok" on /healthz, HEAD without a body, always Content-Length, a Date header
 * refreshed once a second per worker, and Server: ringsock/VERSION. Keep-alive by default for
 * HTTP/1.1, close for HTTP/1.0 unless it asks; pipelined requests are answered in order, many
 * per read and many responses per send, but only while the write queue has room: at the cap
 * parsing stops, the rest of the read is kept and reading stops until on_drain, and a /bytes/N
 * (or large fixed) body is produced as the queue drains, the next request parsed only once it
 * is whole. So pipelined requests queue no more than --write-queue (plus one head). Requests
 * are parsed straight out of the receive data; only a head split across reads, or input that
 * waits for room, is kept, and an idle connection holds no buffer. Bad input gets
 * 400/414/431/501/505 and the connection is closed; a head not finished within
 * --header-timeout of the server reading it gets 408; a connection that moved no byte either
 * way for --keepalive-timeout is closed (reset if its peer took none of what it is owed).
 * Request bodies (Content-Length or chunked) are read and discarded.
 * Each connection has one timer for whichever limit applies to it now; receiving bytes only
 * notes the time, and a timer that fires before the moved limit is re-armed for the rest. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ringsock/util/alloc.h"
#include "ringsock/proto/http_parse.h"
#include "ringsock/util/log.h"
#include "ringsock/services/services.h"

#define HTTP_FILL        65536
#define HTTP_CACHED_BODY 4096 /* fixed bodies up to this size are kept in prebuilt answers */
#define HTTP_LINGER_NS   2000000000ull /* how long a lingering close reads before closing */

/* http_err_*: error answers by status (each also in http_errors and its class). */
#define HTTP_COUNTERS(X)                                                                           \
    X(http_requests, COUNTER, RS_CTR_WORKER,                                                       \
      "requests parsed (answered, or refused with 405/413)")                                       \
    X(http_errors, COUNTER, RS_CTR_WORKER, "error answers, each followed by a lingering close")    \
    X(http_timeouts, COUNTER, RS_CTR_WORKER,                                                       \
      "connections timed out: a head past --header-timeout (408), idle past --keepalive-timeout")  \
    X(http_2xx, COUNTER, 0, "answers with a 2xx status")                                           \
    X(http_4xx, COUNTER, 0, "answers with a 4xx status")                                           \
    X(http_5xx, COUNTER, 0, "answers with a 5xx status")                                           \
    X(http_err_400, COUNTER, 0, "400: malformed request")                                          \
    X(http_err_405, COUNTER, 0, "405: method other than GET, HEAD, POST")                          \
    X(http_err_413, COUNTER, 0, "413: request body over --max-body")                               \
    X(http_err_414, COUNTER, 0, "414: request target too long")                                    \
    X(http_err_431, COUNTER, 0, "431: request head or header too large")                           \
    X(http_err_501, COUNTER, 0, "501: Transfer-Encoding not ending in chunked")                    \
    X(http_err_505, COUNTER, 0, "505: HTTP version other than 1.0 and 1.1")

RS_COUNTER_STRUCT(http_counters, HTTP_COUNTERS);
static const struct rs_counter_desc http_desc[] = {HTTP_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct http_counters, http_desc);
static const struct rs_live_col http_live[] = {
    {"reqs_per_s", RS_LIVE_RATE, 1, RS_COUNTER_INDEX(struct http_counters, http_requests), -1},
};
static const struct rs_counter_block http_block = RS_COUNTER_BLOCK(
    "http", struct http_counters, http_desc, http_live, RS_COUNTER_NELEM(http_live));

struct http_conn {
    struct rs_conn *c;
    struct http_worker *w;
    char *in; /* input kept for later (a partial head, or the rest of a read that came while
               * answers could not be queued), NULL when there is none */
    size_t in_len, in_cap;
    size_t last_len; /* parser hint: bytes of in already scanned */
    /* The body being produced (a /bytes answer, or a fixed body too large to prebuild): sent
     * as the queue has room, continued on on_drain; the next request waits for it. */
    const char *gen_body; /* NULL: /bytes, the worker's fill */
    uint64_t gen_left, gen_off;
    bool gen_close;     /* the answer closes: linger once its body is queued */
    bool stopped;       /* reading stopped by the service, until the queue drains */
    bool peer_eof;      /* the peer's FIN came while input or a body waited */
    uint64_t body_left; /* Content-Length bytes of a request body still to skip */
    bool in_chunked;    /* skipping a chunked request body */
    bool closing;       /* answered with an error or Connection: close: ignore the rest */
    struct rs_http_chunked chunked;
    uint64_t last_ns;       /* last bytes received */
    uint64_t head_ns;       /* when the pending partial head started, 0 if none */
    uint64_t linger_ns;     /* lingering close started: input is read and dropped until EOF */
    uint64_t body_seen;     /* bytes of the current request body so far */
    struct answer *pending; /* decided at the head, sent once the body has been read */
    struct answer {
        int status;
        const char *body;
        size_t len;
        bool head_only, repeat_fill, keep_alive, http10;
    } ans;
    struct rs_timer timer;  /* the header, keep-alive or linger limit (conn_deadline) */
    struct http_conn *next; /* free list */
};

struct http_worker {
    const struct rs_http_config *cfg;
    struct rs_loop *loop;
    struct http_counters *stats;
    char date[64]; /* "Date: ...\r\n" */
    size_t date_len;
    time_t date_sec;
    /* The answer to the fixed body, prebuilt once a second (with the Date) for HTTP/1.1
     * keep-alive, HTTP/1.0 keep-alive and close, so the common case is one copy, no printf. */
    struct {
        char buf[512 + HTTP_CACHED_BODY];
        size_t head_len, len;
    } fixed[3];
    bool fixed_ok;
    struct rs_timer tick; /* the Date, once a second */
    struct http_conn *free;
    char fill[HTTP_FILL];
};

static void produce(struct http_conn *hc);
static void linger(struct http_conn *hc);

/* Writes an answer's head into buf (at least 512 bytes); returns its length. */
static size_t format_head(const struct http_worker *w, char *buf, size_t cap, int status,
                          bool keep_alive, bool http10, size_t len)
{
    int n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\nServer: ringsock/" RS_VERSION "\r\n%.*sContent-Type: "
                     "text/plain\r\nContent-Length: %zu\r\n%s%s\r\n",
                     status, rs_http_reason(status), (int)w->date_len, w->date, len,
                     status == 405 ? "Allow: GET, HEAD, POST\r\n" : "",
                     !keep_alive ? "Connection: close\r\n"
                     : http10    ? "Connection: keep-alive\r\n"
                                 : "");
    return n < 0 ? 0 : (size_t)n;
}

/* Index into fixed[] for a connection's answer style. */
static int fixed_variant(bool keep_alive, bool http10)
{
    return !keep_alive ? 2 : http10 ? 1 : 0;
}

static void build_fixed(struct http_worker *w)
{
    const struct rs_http_config *cfg = w->cfg;
    w->fixed_ok = cfg->body_len <= HTTP_CACHED_BODY;
    if (!w->fixed_ok)
        return;
    for (int v = 0; v < 3; v++) {
        size_t h = format_head(w, w->fixed[v].buf, 512, 200, v != 2, v == 1, cfg->body_len);
        memcpy(w->fixed[v].buf + h, cfg->body, cfg->body_len);
        w->fixed[v].head_len = h;
        w->fixed[v].len = h + cfg->body_len;
    }
}

static void update_date(struct http_worker *w)
{
    time_t now = time(NULL);
    struct tm tm;
    if (now == w->date_sec)
        return;
    w->date_sec = now;
    gmtime_r(&now, &tm);
    w->date_len = strftime(w->date, sizeof(w->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    build_fixed(w);
}

/* Queues one response: head, then len bytes of body (unless head_only). */
static void respond(struct http_conn *hc, int status, bool keep_alive, bool http10,
                    const char *body, size_t len, bool head_only, bool repeat_fill)
{
    struct http_worker *w = hc->w;
    if (status == 200 && body == w->cfg->body && !repeat_fill && w->fixed_ok) {
        const int v = fixed_variant(keep_alive, http10);
        rs_conn_send(hc->c, w->fixed[v].buf, head_only ? w->fixed[v].head_len : w->fixed[v].len);
        return;
    }
    char head[512];
    size_t n = format_head(w, head, sizeof(head), status, keep_alive, http10, len);
    if (rs_conn_send(hc->c, head, n) < 0)
        return;
    if (head_only)
        return;
    if (!repeat_fill && body != w->cfg->body) {
        rs_conn_send(hc->c, body, len); /* short: an error, /healthz, the /bytes 400 */
        return;
    }
    hc->gen_body = repeat_fill ? NULL : body;
    hc->gen_left = len;
    hc->gen_off = 0;
    produce(hc);
}

/* Queues as much of the body being produced as the write-queue cap has room for; the rest
 * follows on on_drain. Once it is all queued, the lingering close it waited for, if any. */
static void produce(struct http_conn *hc)
{
    while (hc->gen_left > 0) {
        size_t room = rs_conn_room(hc->c);
        if (room == 0)
            return; /* full: on_drain follows */
        size_t k = hc->gen_left < room ? (size_t)hc->gen_left : room;
        const char *src = hc->gen_body ? hc->gen_body + hc->gen_off : hc->w->fill;
        if (!hc->gen_body && k > HTTP_FILL)
            k = HTTP_FILL;
        if (rs_conn_send(hc->c, src, k) < 0) {
            hc->gen_left = 0; /* closed (no memory): nothing more goes out */
            return;
        }
        hc->gen_left -= k;
        hc->gen_off += k;
    }
    if (hc->gen_close) {
        hc->gen_close = false;
        linger(hc);
    }
}

/* The time at which the limit that applies now runs out: the linger time once lingering, else
 * the header timeout while a head is partial (and the server is reading), else the keep-alive
 * timeout counted from the last bytes either way: received, or taken by the peer's kernel
 * (while the server waits for the peer to take its answers, that is the only progress). False
 * once closing without lingering: nothing is left to time. */
static bool conn_deadline(const struct http_conn *hc, uint64_t *due)
{
    const struct rs_http_config *cfg = hc->w->cfg;
    if (hc->linger_ns) {
        *due = hc->linger_ns + HTTP_LINGER_NS;
    } else if (hc->closing) {
        return false;
    } else if (hc->head_ns) {
        *due = hc->head_ns + cfg->header_timeout_ms * 1000000ull;
    } else {
        uint64_t sent = rs_conn_sent_ns(hc->c);
        *due = (hc->last_ns > sent ? hc->last_ns : sent) + cfg->keepalive_timeout_ms * 1000000ull;
    }
    return true;
}

/* True while the next request must wait: its predecessor's body is still being produced, or
 * the write queue is at its cap. */
static bool blocked(const struct http_conn *hc)
{
    return hc->gen_left > 0 || rs_conn_full(hc->c);
}

/* Makes the timer fire no later than the deadline. A deadline that moved later (more bytes,
 * another request) leaves the heap alone: the timer fires early and re-arms for the rest. */
static void timer_sync(struct http_conn *hc)
{
    uint64_t due;
    if (conn_deadline(hc, &due) && (!hc->timer.armed || due < hc->timer.due_ns))
        rs_loop_timer_arm_at(hc->w->loop, &hc->timer, due); /* room reserved at accept */
}

/* The last answer is queued: send it, then FIN, then read and drop what the peer still sends
 * until it closes or the linger time passes (nginx's lingering close). Closing at once would
 * turn the peer's unread request bytes into a reset that destroys the answer on its side. */
static void linger(struct http_conn *hc)
{
    hc->closing = true;
    hc->linger_ns = rs_now_ns();
    if (hc->stopped) { /* a lingering close reads (and drops) until the peer's FIN */
        hc->stopped = false;
        rs_conn_read_start(hc->c);
    }
    rs_conn_shutdown_after_flush(hc->c);
    if (hc->peer_eof) /* the FIN came while the answer was produced: nothing more to read */
        rs_conn_close_after_flush(hc->c);
    timer_sync(hc);
}

/* An error answer, then a lingering close; the rest of the input is ignored. */
static void respond_error(struct http_conn *hc, int status)
{
    char body[96];
    int n = snprintf(body, sizeof(body), "%d %s\n", status, rs_http_reason(status));
    RS_STAT_INC(hc->w->stats, http_errors);
    if (status < 500)
        RS_STAT_INC(hc->w->stats, http_4xx);
    else
        RS_STAT_INC(hc->w->stats, http_5xx);
    if (status == 413 || status == 431)
        rs_conn_set_close_reason(hc->c, RS_CLOSE_LIMIT); /* for the access log */
    respond(hc, status, false, false, body, (size_t)n, false, false);
    linger(hc);
}

static bool method_is(const struct rs_http_request *r, const char *m)
{
    size_t n = strlen(m);
    return r->method_len == n && memcmp(r->method, m, n) == 0;
}

static bool target_is(const struct rs_http_request *r, const char *path, size_t *qlen)
{
    size_t n = strlen(path);
    if (r->target_len < n || memcmp(r->target, path, n) != 0)
        return false;
    *qlen = r->target_len - n;
    return *qlen == 0 || r->target[n] == '?';
}

/* Sends a decided answer, then closes (lingering) if the connection does not go on. */
static void send_answer(struct http_conn *hc, const struct answer *a)
{
    struct http_counters *st = hc->w->stats;
    if (a->status < 300)
        RS_STAT_INC(st, http_2xx);
    else if (a->status < 500)
        RS_STAT_INC(st, http_4xx);
    else
        RS_STAT_INC(st, http_5xx);
    respond(hc, a->status, a->keep_alive, a->http10, a->body, a->len, a->head_only, a->repeat_fill);
    if (!a->keep_alive) {
        if (hc->gen_left > 0)
            hc->gen_close = true; /* once the body is queued (produce) */
        else
            linger(hc);
    }
}

/* Decides the answer to one parsed request (sent now, or after its body). Returns false if
 * the request was refused (an error answer is on its way and the connection closes). */
static bool decide(struct http_conn *hc, const struct rs_http_request *r, struct answer *a)
{
    const struct rs_http_config *cfg = hc->w->cfg;
    size_t q;

    RS_STAT_INC(hc->w->stats, http_requests);
    memset(a, 0, sizeof(*a));
    /* A reload's old process: the answer ends the connection, so the client's next request
     * goes to the new process (as nginx's old workers do). */
    a->keep_alive = r->keep_alive && !rs_loop_draining(rs_conn_loop(hc->c));
    a->http10 = r->minor == 0;
    a->head_only = method_is(r, "HEAD");
    if (!a->head_only && !method_is(r, "GET") && !method_is(r, "POST")) {
        RS_STAT_INC(hc->w->stats, http_err_405);
        respond_error(hc, 405);
        return false;
    }
    if (r->content_length > 0 && (uint64_t)r->content_length > cfg->max_body) {
        RS_STAT_INC(hc->w->stats, http_err_413);
        respond_error(hc, 413);
        return false;
    }
    a->status = 200;
    if (target_is(r, "/healthz", &q)) {
        a->body = "ok\n";
        a->len = 3;
    } else if (r->target_len > 7 && memcmp(r->target, "/bytes/", 7) == 0) {
        uint64_t n = 0;
        size_t i = 7;
        for (;
             i < r->target_len && r->target[i] >= '0' && r->target[i] <= '9' && n <= cfg->max_bytes;
             i++)
            n = n * 10 + (uint64_t)(r->target[i] - '0');
        if (i == 7 || (i < r->target_len && r->target[i] != '?') || n > cfg->max_bytes) {
            a->status = 400; /* answered, but the connection goes on */
            a->body = "/bytes/N takes 0..--max-bytes\n";
            a->len = strlen(a->body);
        } else {
            a->len = n;
            a->repeat_fill = true;
        }
    } else {
        a->body = cfg->body;
        a->len = cfg->body_len;
    }
    return true;
}

/* The request body has been read: its answer goes out. */
static void body_done(struct http_conn *hc)
{
    if (hc->pending) {
        hc->pending = NULL;
        send_answer(hc, &hc->ans);
    }
}

static void count_parse_error(struct http_counters *st, int status)
{
    switch (status) {
    case 414:
        RS_STAT_INC(st, http_err_414);
        break;
    case 431:
        RS_STAT_INC(st, http_err_431);
        break;
    case 501:
        RS_STAT_INC(st, http_err_501);
        break;
    case 505:
        RS_STAT_INC(st, http_err_505);
        break;
    default:
        RS_STAT_INC(st, http_err_400);
        break;
    }
}

/* Skips request body bytes at p; returns how many were used. */
static size_t skip_body(struct http_conn *hc, const char *p, size_t len)
{
    if (hc->body_left > 0) {
        size_t k = len < hc->body_left ? len : (size_t)hc->body_left;
        hc->body_left -= k;
        if (hc->body_left == 0)
            body_done(hc);
        return k;
    }
    if (hc->in_chunked) {
        uint64_t data;
        int64_t used = rs_http_chunked_feed(&hc->chunked, p, len, &data);
        if (used < 0) {
            int status = used == RS_HTTP_TOO_LARGE ? 431 : 400;
            hc->pending = NULL;
            count_parse_error(hc->w->stats, status); /* counted as what is sent */
            respond_error(hc, status);
            return len;
        }
        hc->body_seen += data;
        if (hc->body_seen > hc->w->cfg->max_body) {
            hc->pending = NULL;
            RS_STAT_INC(hc->w->stats, http_err_413);
            respond_error(hc, 413);
            return len;
        }
        if (hc->chunked.done) {
            hc->in_chunked = false;
            body_done(hc);
        }
        return (size_t)used;
    }
    return 0;
}

/* Parses and answers what it can at p, stopping while blocked (the next request waits for
 * room); returns the bytes used (the rest is a partial head, or waits for room). */
static size_t process(struct http_conn *hc, const char *p, size_t len, size_t last_len)
{
    const struct rs_http_config *cfg = hc->w->cfg;
    /* The parser fills at most limits.max_headers entries: the default, fixed in the config. */
    struct rs_http_header hdrs[RS_HTTP_MAX_HEADERS_DEFAULT];
    _Static_assert(RS_HTTP_MAX_HEADERS_DEFAULT == 64, "hdrs must hold limits.max_headers");
    size_t off = 0;

    while (off < len && !hc->closing && !blocked(hc)) {
        if (hc->body_left || hc->in_chunked) {
            off += skip_body(hc, p + off, len - off);
            last_len = 0;
            continue;
        }
        struct rs_http_request r;
        int n = rs_http_parse_request(p + off, len - off, last_len, &cfg->limits, &r, hdrs);
        if (n == RS_HTTP_INCOMPLETE)
            break;
        last_len = 0;
        if (n < 0) {
            count_parse_error(hc->w->stats, -n);
            respond_error(hc, -n);
            return len;
        }
        off += (size_t)n;
        if (!decide(hc, &r, &hc->ans))
            return len; /* refused: nothing after it is ever answered */
        if (r.content_length <= 0 && !r.chunked) {
            send_answer(hc, &hc->ans);
            continue;
        }
        /* A body follows: the answer waits until it has been read (and found within
         * --max-body); 100-continue first if the client waits for it. */
        if (r.expect_continue) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            rs_conn_send(hc->c, cont, sizeof(cont) - 1);
        }
        hc->pending = &hc->ans;
        hc->body_seen = 0;
        if (r.content_length > 0) {
            hc->body_left = (uint64_t)r.content_length;
        } else {
            hc->in_chunked = true;
            rs_http_chunked_init(&hc->chunked);
        }
    }
    return off;
}

/* Keeps len bytes at p after what hc->in holds, growing it (at least max_head). False if
 * memory ran out: the connection is then closed. */
static bool keep_input(struct http_conn *hc, const char *p, size_t len)
{
    size_t need = hc->in_len + len;
    if (need > hc->in_cap) {
        size_t cap = need > hc->w->cfg->limits.max_head ? need : hc->w->cfg->limits.max_head;
        char *in = rs_malloc(cap);
        if (!in) {
            hc->closing = true;
            rs_conn_close(hc->c);
            return false;
        }
        if (hc->in_len)
            memcpy(in, hc->in, hc->in_len);
        rs_free(hc->in);
        hc->in = in;
        hc->in_cap = cap;
    }
    memcpy(hc->in + hc->in_len, p, len);
    hc->in_len += len;
    return true;
}

static void drop_input(struct http_conn *hc)
{
    rs_free(hc->in); /* an idle connection holds no buffer */
    hc->in = NULL;
    hc->in_len = hc->in_cap = 0;
    hc->last_len = 0;
}

/* Parses what hc->in holds, as far as it goes: up to a partial head, or until blocked. */
static void parse_kept(struct http_conn *hc, uint64_t now)
{
    if (hc->in_len == 0 || hc->closing || blocked(hc))
        return;
    size_t used = process(hc, hc->in, hc->in_len, hc->last_len);
    if (hc->closing)
        return;
    hc->in_len -= used;
    if (hc->in_len == 0) {
        drop_input(hc);
        return;
    }
    if (used)
        memmove(hc->in, hc->in + used, hc->in_len);
    if (blocked(hc)) {
        hc->last_len = 0; /* the rest starts a request: nothing of it is scanned */
        return;
    }
    if (hc->in_len >= hc->w->cfg->limits.max_head) {
        RS_STAT_INC(hc->w->stats, http_err_431);
        respond_error(hc, 431);
        return;
    }
    hc->last_len = hc->in_len; /* scanned, found incomplete: the next parse starts there */
    if (used || !hc->head_ns)
        hc->head_ns = now; /* a new head started (or the server reads it again) */
}

/* After input was handled or the queue drained: while blocked, stop reading (the header
 * timeout does not run: the server, not the peer, is the one waiting); else read again, time a
 * partial head, and close once the peer's FIN has come and nothing is left to parse. */
static void settle(struct http_conn *hc, uint64_t now)
{
    if (hc->closing)
        return;
    if (blocked(hc)) {
        hc->head_ns = 0;
        if (!hc->stopped) {
            hc->stopped = true;
            rs_conn_read_stop(hc->c);
        }
    } else {
        if (hc->stopped) {
            hc->stopped = false;
            rs_conn_read_start(hc->c);
        }
        if (hc->in_len == 0)
            hc->head_ns = 0;
        else if (!hc->head_ns)
            hc->head_ns = now;
        if (hc->peer_eof) {
            hc->peer_eof = false;
            rs_conn_close_after_flush(hc->c);
        }
    }
    timer_sync(hc);
}

static void http_on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct http_conn *hc = rs_conn_udata(c);
    const char *p = data;
    uint64_t now = rs_now_ns();

    hc->last_ns = now;
    if (hc->closing)
        return;
    if (hc->in_len == 0 && !hc->stopped && !blocked(hc)) {
        /* Zero copy: parse the loop's buffer; keep only what is left (a partial head, or
         * requests that wait for room). */
        size_t used = process(hc, p, len, 0);
        p += used;
        len -= used;
        if (len > 0 && !hc->closing) {
            if (!blocked(hc) && len >= hc->w->cfg->limits.max_head) {
                RS_STAT_INC(hc->w->stats, http_err_431);
                respond_error(hc, 431);
            } else if (keep_input(hc, p, len)) {
                hc->last_len = blocked(hc) ? 0 : len;
                hc->head_ns = blocked(hc) ? 0 : now;
            }
        }
    } else if (keep_input(hc, p, len)) {
        /* A head continues, or bytes came after reading stopped (io_uring hands over what
         * it already received): parse on from what is kept. */
        parse_kept(hc, now);
    }
    settle(hc, now);
}

/* The queue fell to half after reaching the cap: go on with the body being produced, then
 * with the requests that waited, then read again. */
static void http_on_drain(struct rs_conn *c)
{
    struct http_conn *hc = rs_conn_udata(c);
    uint64_t now = rs_now_ns();
    if (hc->closing)
        return;
    produce(hc);
    parse_kept(hc, now);
    settle(hc, now);
}

/* The connection's timer: re-arms if the limit moved on, else applies it. */
static void http_conn_timeout(struct rs_timer *t, void *arg)
{
    struct http_conn *hc = arg;
    struct http_worker *w = hc->w;
    uint64_t due;
    if (!conn_deadline(hc, &due))
        return;
    if (rs_now_ns() < due) {
        rs_loop_timer_arm_at(w->loop, t, due);
        return;
    }
    if (hc->linger_ns) {
        rs_conn_close(hc->c);
        return;
    }
    RS_STAT_INC(w->stats, http_timeouts);
    rs_conn_set_close_reason(hc->c, RS_CLOSE_IDLE_TIMEOUT);
    if (hc->head_ns) {
        respond_error(hc, 408); /* lingers, which arms the linger limit */
    } else {
        hc->closing = true;
        if (rs_conn_queued(hc->c) > 0)
            rs_conn_reset(hc->c); /* the peer took nothing: the kernel drops what it holds */
        else
            rs_conn_close(hc->c); /* idle between requests: nothing is owed */
    }
}

static void http_on_eof(struct rs_conn *c)
{
    struct http_conn *hc = rs_conn_udata(c);
    /* Requests kept or a body being produced are answered first (settle closes then). */
    if (!hc->closing && (hc->stopped || hc->gen_left > 0 || blocked(hc))) {
        hc->peer_eof = true;
        return;
    }
    /* Whether lingering or not, what is owed is sent before the close (the peer's FIN may
     * come in the same read as its last request). */
    rs_conn_close_after_flush(c);
}

static void http_on_close(struct rs_conn *c, int err)
{
    struct http_conn *hc = rs_conn_udata(c);
    (void)err;
    struct http_worker *w = hc->w;
    rs_loop_timer_disarm(w->loop, &hc->timer);
    rs_loop_timer_unreserve(w->loop, 1);
    rs_free(hc->in);
    memset(hc, 0, sizeof(*hc));
    hc->w = w;
    hc->next = w->free;
    w->free = hc;
}

static const struct rs_conn_ops http_ops = {
    .on_data = http_on_data,
    .on_eof = http_on_eof,
    .on_close = http_on_close,
    .on_drain = http_on_drain,
};

static void http_accept(struct rs_conn *c, void *arg)
{
    struct http_worker *w = arg;
    struct http_conn *hc = w->free;
    if (hc) {
        w->free = hc->next;
        hc->next = NULL;
    } else {
        hc = rs_calloc(1, sizeof(*hc));
        if (!hc) {
            rs_conn_close(c);
            return;
        }
    }
    /* Room for this connection's timer, so that arming it never fails later. */
    if (rs_loop_timer_reserve(w->loop, 1) < 0) {
        hc->next = w->free;
        w->free = hc;
        rs_conn_close(c);
        return;
    }
    hc->w = w;
    hc->c = c;
    hc->last_ns = rs_now_ns();
    rs_timer_init(&hc->timer, http_conn_timeout, hc);
    timer_sync(hc); /* the keep-alive limit: a silent connection is idle */
    rs_conn_set_ops(c, &http_ops, hc);
}

/* Once a second: the Date header (the timeouts are each connection's own timer). */
static void http_tick(struct rs_timer *t, void *arg)
{
    struct http_worker *w = arg;
    update_date(w);
    rs_loop_timer_arm(w->loop, t, 1000); /* room reserved in http_worker_new */
}

static int http_worker_new(const struct rs_service_ctx *ctx, void **state)
{
    struct http_worker *w = rs_calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->cfg = &ctx->conf->http;
    w->loop = ctx->loop;
    w->stats = (struct http_counters *)ctx->counters;
    memset(w->fill, 'x', sizeof(w->fill));
    update_date(w);
    if (rs_loop_timer_reserve(w->loop, 1) < 0) {
        rs_free(w);
        return -ENOMEM;
    }
    rs_timer_init(&w->tick, http_tick, w);
    rs_loop_timer_arm(w->loop, &w->tick, 1000);
    *state = w;
    return 0;
}

static void http_worker_free(void *state)
{
    struct http_worker *w = state;
    if (!w)
        return;
    while (w->free) {
        struct http_conn *hc = w->free;
        w->free = hc->next;
        rs_free(hc);
    }
    rs_free(w);
}

const struct rs_service rs_http_service = {
    .name = "http",
    .help = "HTTP/1.1 responder on the --tcp listeners",
    .listen = "127.0.0.1:8080",
    .scheme = "http",
    .counters = &http_block,
    .worker_new = http_worker_new,
    .worker_free = http_worker_free,
    .accept = http_accept,
};
