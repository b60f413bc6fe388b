/* sockperf responder over TCP: answers sockperf's clients (pp, ul and tp with --tcp) as
 * `sockperf sr --tcp` does (the wire format is in ringsock/sockperf_msg.h). The length field
 * frames the stream. Whole messages are answered straight out of the receive data; only a
 * message split across reads is reassembled, in a buffer of its size class from a per-worker
 * cache, given back once the message is complete: an idle connection holds no buffer, a busy
 * one at most --max-msg bytes. Replies go out in order through rs_conn_send; while the write
 * queue is at its cap (a peer that pipelines messages and does not read), the service stops
 * answering, keeps the rest of the read, stops reading, and goes on when the queue drains
 * (on_drain): what a peer's messages queue is bounded by the cap plus one message. A length
 * outside 14..--max-msg closes the connection once what is owed has been sent, counted as malformed
 * and logged at most once a second; a message cut short by EOF is counted the same way. Over UDP
 * (the datagram layer calls sockperf_dgram) one datagram must be one whole message; it is answered
 * in place. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "ringsock/proto/sockperf_msg.h"
#include "ringsock/services/services.h"
#include "idle.h"

#define SP_MIN_SHIFT   6          /* smallest buffer class: 64 bytes */
#define SP_CLASSES     19         /* 64 B .. 16 MiB, the largest --max-msg */
#define SP_CACHE_BYTES (1u << 20) /* free buffers kept per class (at least one) */

/* Messages over TCP and UDP alike. */
#define SOCKPERF_COUNTERS(X)                                                                       \
    X(sockperf_replies, COUNTER, RS_CTR_WORKER, "sockperf messages answered")                      \
    X(sockperf_unanswered, COUNTER, RS_CTR_WORKER, "sockperf messages that asked for no answer")   \
    X(sockperf_malformed, COUNTER, RS_CTR_WORKER,                                                  \
      "malformed sockperf messages (bad length, cut short); TCP: connection closed")               \
    X(sockperf_idle_timeouts, COUNTER, RS_CTR_WORKER,                                              \
      "sockperf TCP connections closed after --idle-timeout without a byte either way")            \
    X(sockperf_send_timeouts, COUNTER, RS_CTR_WORKER,                                              \
      "sockperf TCP connections reset after --idle-timeout owing answers the peer did not take")

RS_COUNTER_STRUCT(sockperf_counters, SOCKPERF_COUNTERS);
static const struct rs_counter_desc sockperf_desc[] = {SOCKPERF_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct sockperf_counters, sockperf_desc);
static const struct rs_counter_block sockperf_block =
    RS_COUNTER_BLOCK("sockperf", struct sockperf_counters, sockperf_desc, NULL, 0);

struct sp_conn {
    struct rs_idle idle; /* used when --idle-timeout is on */
    struct rs_conn *c;
    struct sockperf_worker *w;
    unsigned char hdr[RS_SOCKPERF_HDR_LEN]; /* a header split across reads */
    char *buf;     /* a message split across reads, header included; NULL when none */
    uint32_t have; /* bytes of the split message so far; 0 when there is none */
    uint32_t mlen; /* its length, once its header is complete */
    unsigned cls;  /* buf's size class */
    bool done;     /* refused: the rest of the input is ignored */
    bool stopped;  /* reading stopped: the queue is full and kept[] waits */
    bool peer_eof; /* the peer's FIN came while kept[] waited */
    char *kept;    /* input that came while the queue was full, NULL when none */
    size_t kept_len, kept_cap;
    struct sp_conn *next; /* free list */
};

struct sockperf_worker {
    struct sockperf_counters *stats;
    struct rs_idle_ctx idle; /* timeout_ns 0: off */
    uint32_t max_msg;
    struct rs_ratelimit rl;       /* TCP protocol errors */
    struct rs_ratelimit rl_dgram; /* malformed datagrams */
    struct sp_conn *free_conns;
    void *free_bufs[SP_CLASSES]; /* a free buffer's first bytes point to the next one */
    uint32_t nfree[SP_CLASSES];
};

static size_t class_size(unsigned k)
{
    return (size_t)1 << (SP_MIN_SHIFT + k);
}

static unsigned size_class(uint32_t n)
{
    unsigned k = 0;
    while (class_size(k) < n)
        k++;
    return k;
}

/* A buffer of class k, from the cache if it has one. NULL on no memory. */
static char *buf_get(struct sockperf_worker *w, unsigned k)
{
    void *b = w->free_bufs[k];
    if (!b)
        return rs_malloc(class_size(k));
    memcpy(&w->free_bufs[k], b, sizeof(void *));
    w->nfree[k]--;
    return b;
}

static void buf_put(struct sockperf_worker *w, unsigned k, char *b)
{
    if (w->nfree[k] > 0 && (w->nfree[k] + 1) * class_size(k) > SP_CACHE_BYTES) {
        rs_free(b);
        return;
    }
    memcpy(b, &w->free_bufs[k], sizeof(void *));
    w->free_bufs[k] = b;
    w->nfree[k]++;
}

/* Forgets a split message, giving its buffer back. */
static void drop_split(struct sp_conn *sc)
{
    if (sc->buf)
        buf_put(sc->w, sc->cls, sc->buf);
    sc->buf = NULL;
    sc->have = 0;
}

/* Answers the whole message at p (read-only: it may be the loop's) if it asks for an answer. */
static void answer(struct sp_conn *sc, const char *p, uint32_t mlen)
{
    struct sockperf_counters *st = sc->w->stats;
    unsigned char h[RS_SOCKPERF_HDR_LEN];

    if (!rs_sockperf_wants_reply(rs_sockperf_flags(p))) {
        RS_STAT_INC(st, sockperf_unanswered);
        return;
    }
    memcpy(h, p, sizeof(h));
    rs_sockperf_make_reply(h);
    /* On -ENOMEM the loop has closed the connection, and later sends return -EPIPE. */
    if (rs_conn_send(sc->c, h, sizeof(h)) < 0 ||
        rs_conn_send(sc->c, p + sizeof(h), mlen - sizeof(h)) < 0)
        return;
    RS_STAT_INC(st, sockperf_replies);
}

/* A protocol error: counted, logged (rate-limited), and the connection closes once the replies
 * owed for the messages before it have been sent. */
static void refuse(struct sp_conn *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(struct sp_conn *sc, const char *fmt, ...)
{
    struct sockperf_worker *w = sc->w;
    uint64_t hidden;

    RS_STAT_INC(w->stats, sockperf_malformed);
    if (rs_ratelimit_ok(&w->rl, &hidden)) {
        char what[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        rs_log_warn("sockperf: %s; connection closed (%llu similar hidden)", what,
                    (unsigned long long)hidden);
    }
    sc->done = true;
    drop_split(sc);
    rs_conn_close_after_flush(sc->c);
}

/* Checks a header's length field; refuses the connection if it is out of bounds. */
static bool check_len(struct sp_conn *sc, uint32_t mlen)
{
    if (rs_sockperf_len_ok(mlen, sc->w->max_msg))
        return true;
    if (mlen < RS_SOCKPERF_HDR_LEN)
        refuse(sc, "length field %u is shorter than the %d-byte header", mlen, RS_SOCKPERF_HDR_LEN);
    else
        refuse(sc, "length field %u is over --max-msg %u", mlen, sc->w->max_msg);
    return false;
}

/* Adds bytes at p to the message split across reads (starting one if there is none), and
 * answers it once complete. Returns the bytes used: all of them, or up to the message's end. */
static size_t feed_split(struct sp_conn *sc, const char *p, size_t len)
{
    size_t used = 0, k;

    if (sc->have < RS_SOCKPERF_HDR_LEN) {
        k = RS_SOCKPERF_HDR_LEN - sc->have;
        if (k > len)
            k = len;
        memcpy(sc->hdr + sc->have, p, k);
        sc->have += (uint32_t)k;
        used = k;
        if (sc->have < RS_SOCKPERF_HDR_LEN)
            return used;
        uint32_t mlen = rs_sockperf_msg_len(sc->hdr);
        if (!check_len(sc, mlen))
            return len;
        if (mlen == RS_SOCKPERF_HDR_LEN) {
            sc->have = 0;
            answer(sc, (const char *)sc->hdr, mlen);
            return used;
        }
        sc->mlen = mlen;
        sc->cls = size_class(mlen);
        sc->buf = buf_get(sc->w, sc->cls);
        if (!sc->buf) {
            sc->have = 0;
            sc->done = true;
            rs_conn_close(sc->c);
            return len;
        }
        memcpy(sc->buf, sc->hdr, RS_SOCKPERF_HDR_LEN);
    }
    k = sc->mlen - sc->have;
    if (k > len - used)
        k = len - used;
    memcpy(sc->buf + sc->have, p + used, k);
    sc->have += (uint32_t)k;
    used += k;
    if (sc->have == sc->mlen) {
        answer(sc, sc->buf, sc->mlen);
        drop_split(sc);
    }
    return used;
}

/* Answers the messages at p until the write queue is full; returns the bytes used (all of
 * them once the connection is refused). */
static size_t sp_feed(struct sp_conn *sc, const char *p, size_t len)
{
    size_t off = 0;
    while (off < len && !sc->done && !rs_conn_full(sc->c)) {
        if (sc->have == 0 && len - off >= RS_SOCKPERF_HDR_LEN) {
            /* Zero copy: a whole message in the receive data is answered from there. */
            uint32_t mlen = rs_sockperf_msg_len(p + off);
            if (!check_len(sc, mlen))
                return len;
            if (len - off >= mlen) {
                answer(sc, p + off, mlen);
                off += mlen;
                continue;
            }
        }
        off += feed_split(sc, p + off, len - off);
    }
    return sc->done ? len : off;
}

/* Keeps len bytes at p after kept[], growing it. False if memory ran out (closed then). */
static bool sp_keep(struct sp_conn *sc, const char *p, size_t len)
{
    size_t need = sc->kept_len + len;
    if (need > sc->kept_cap) {
        char *k = rs_malloc(need);
        if (!k) {
            sc->done = true;
            rs_conn_close(sc->c);
            return false;
        }
        if (sc->kept_len)
            memcpy(k, sc->kept, sc->kept_len);
        rs_free(sc->kept);
        sc->kept = k;
        sc->kept_cap = need;
    }
    memcpy(sc->kept + sc->kept_len, p, len);
    sc->kept_len += len;
    return true;
}

static void sp_drop_kept(struct sp_conn *sc)
{
    rs_free(sc->kept);
    sc->kept = NULL;
    sc->kept_len = sc->kept_cap = 0;
}

static void sp_eof(struct sp_conn *sc)
{
    if (sc->have > 0 && !sc->done)
        refuse(sc, "the peer closed inside a message (%u of its %s%u bytes received)", sc->have,
               sc->have < RS_SOCKPERF_HDR_LEN ? "header's " : "",
               sc->have < RS_SOCKPERF_HDR_LEN ? RS_SOCKPERF_HDR_LEN : sc->mlen);
    else
        rs_conn_close_after_flush(sc->c);
}

static void sp_on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct sp_conn *sc = rs_conn_udata(c);
    const char *p = data;

    if (sc->w->idle.timeout_ns)
        rs__idle_rx(&sc->idle);
    if (sc->done)
        return;
    if (!sc->stopped) {
        size_t used = sp_feed(sc, p, len);
        if (used == len)
            return;
        p += used;
        len -= used;
    }
    /* The queue is full: keep the rest (and what io_uring hands over after the stop) for
     * on_drain. */
    if (sp_keep(sc, p, len) && !sc->stopped) {
        sc->stopped = true;
        rs_conn_read_stop(c);
    }
}

/* The queue fell to half after reaching its cap: answer what was kept, then read again. */
static void sp_on_drain(struct rs_conn *c)
{
    struct sp_conn *sc = rs_conn_udata(c);
    if (sc->done || !sc->stopped)
        return;
    size_t used = sp_feed(sc, sc->kept, sc->kept_len);
    if (sc->done)
        return;
    sc->kept_len -= used;
    if (sc->kept_len > 0) {
        memmove(sc->kept, sc->kept + used, sc->kept_len);
        return; /* full again: on_drain follows */
    }
    sp_drop_kept(sc);
    sc->stopped = false;
    rs_conn_read_start(c);
    if (sc->peer_eof)
        sp_eof(sc);
}

static void sp_on_eof(struct rs_conn *c)
{
    struct sp_conn *sc = rs_conn_udata(c);
    if (sc->stopped && !sc->done)
        sc->peer_eof = true; /* after what was kept is answered */
    else
        sp_eof(sc);
}

static void sp_on_close(struct rs_conn *c, int err)
{
    struct sp_conn *sc = rs_conn_udata(c);
    struct sockperf_worker *w = sc->w;
    (void)err;
    if (w->idle.timeout_ns)
        rs__idle_stop(&sc->idle);
    drop_split(sc);
    sp_drop_kept(sc);
    memset(sc, 0, sizeof(*sc));
    sc->next = w->free_conns;
    w->free_conns = sc;
}

static const struct rs_conn_ops sp_ops = {
    .on_data = sp_on_data,
    .on_eof = sp_on_eof,
    .on_close = sp_on_close,
    .on_drain = sp_on_drain,
};

static void sp_accept(struct rs_conn *c, void *arg)
{
    struct sockperf_worker *w = arg;
    struct sp_conn *sc = w->free_conns;
    if (sc) {
        w->free_conns = sc->next;
        sc->next = NULL;
    } else {
        sc = rs_calloc(1, sizeof(*sc));
        if (!sc) {
            rs_conn_close(c);
            return;
        }
    }
    sc->c = c;
    sc->w = w;
    if (w->idle.timeout_ns && rs__idle_start(&sc->idle, &w->idle, c) < 0) {
        sc->next = w->free_conns;
        w->free_conns = sc;
        rs_conn_close(c);
        return;
    }
    rs_conn_set_ops(c, &sp_ops, sc);
}

/* Answers a datagram that is one whole sockperf message asking for an answer: in place, its
 * client flag cleared. The others are counted and not answered. */
static bool sockperf_dgram(void *arg, char *buf, uint32_t len)
{
    struct sockperf_worker *w = arg;
    uint64_t hidden;

    uint32_t mlen = len >= RS_SOCKPERF_HDR_LEN ? rs_sockperf_msg_len(buf) : 0;
    if (mlen != len || !rs_sockperf_len_ok(mlen, w->max_msg)) {
        RS_STAT_INC(w->stats, sockperf_malformed);
        if (rs_ratelimit_ok(&w->rl_dgram, &hidden))
            rs_log_warn("sockperf: a datagram of %u bytes is not a sockperf message (length field "
                        "%u, --max-msg %u); dropped (%llu similar hidden)",
                        len, mlen, w->max_msg, (unsigned long long)hidden);
        return false;
    }
    if (!rs_sockperf_wants_reply(rs_sockperf_flags(buf))) {
        RS_STAT_INC(w->stats, sockperf_unanswered);
        return false;
    }
    rs_sockperf_make_reply(buf);
    RS_STAT_INC(w->stats, sockperf_replies);
    return true;
}

static int sp_worker_new(const struct rs_service_ctx *ctx, void **state)
{
    struct sockperf_worker *w = rs_calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->stats = (struct sockperf_counters *)ctx->counters;
    w->max_msg = ctx->conf->max_msg;
    w->idle = (struct rs_idle_ctx){
        .loop = ctx->loop,
        .timeout_ns = ctx->conf->idle_timeout_ns,
        .ctr_idle = &w->stats->sockperf_idle_timeouts,
        .ctr_send = &w->stats->sockperf_send_timeouts,
    };
    w->rl = (struct rs_ratelimit)RS_RATELIMIT_INIT(1000);
    w->rl_dgram = (struct rs_ratelimit)RS_RATELIMIT_INIT(1000);
    *state = w;
    return 0;
}

static void sp_worker_free(void *state)
{
    struct sockperf_worker *w = state;
    if (!w)
        return;
    while (w->free_conns) {
        struct sp_conn *sc = w->free_conns;
        w->free_conns = sc->next;
        rs_free(sc);
    }
    for (unsigned k = 0; k < SP_CLASSES; k++)
        while (w->free_bufs[k]) {
            void *b = w->free_bufs[k];
            memcpy(&w->free_bufs[k], b, sizeof(void *));
            rs_free(b);
        }
    rs_free(w);
}

const struct rs_service rs_sockperf_service = {
    .name = "sockperf",
    .help = "answer sockperf's clients (sockperf pp|ul|tp, with or without\n"
            "--tcp) as `sockperf sr` does; default TCP and UDP on\n"
            "127.0.0.1:11111, sockperf's default port",
    .listen = "127.0.0.1:11111",
    .counters = &sockperf_block,
    .worker_new = sp_worker_new,
    .worker_free = sp_worker_free,
    .accept = sp_accept,
    .udp_mode = RS_UDP_HANDLER,
    .dgram = sockperf_dgram,
};
