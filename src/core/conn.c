#include <errno.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "loop_internal.h"
#include "conn_limit.h"
#include "ringsock/util/alloc.h"
#include "ringsock/net/net.h"
#include "ringsock/util/probes.h"

/* Connection lifetime, send queue and backpressure: the part of the loop that is the same for
 * every backend. A connection is never freed inside one of its callbacks: closing marks it and
 * queues it; the backend cancels what is in flight and the core releases it once nothing is.
 * The lifecycle (enum rs_conn_state, loop_internal.h) changes only in rs__conn_set_state. */

#define TO(s) (1u << (s))
/* Legal changes of state: bit `to` set in conn_next[from]. */
static const uint16_t conn_next[RS_CONN_NSTATES] = {
    [RS_CONN_FREE] = TO(RS_CONN_CONNECTING) | TO(RS_CONN_OPEN),
    [RS_CONN_CONNECTING] =
        TO(RS_CONN_OPEN) | TO(RS_CONN_FLUSH_SHUT) | TO(RS_CONN_FLUSH_CLOSE) | TO(RS_CONN_CLOSING),
    [RS_CONN_OPEN] = TO(RS_CONN_FLUSH_SHUT) | TO(RS_CONN_FLUSH_CLOSE) | TO(RS_CONN_CLOSING),
    [RS_CONN_FLUSH_SHUT] = TO(RS_CONN_SHUT) | TO(RS_CONN_FLUSH_CLOSE) | TO(RS_CONN_CLOSING),
    [RS_CONN_SHUT] = TO(RS_CONN_FLUSH_CLOSE) | TO(RS_CONN_CLOSING),
    [RS_CONN_FLUSH_CLOSE] = TO(RS_CONN_CLOSING),
    [RS_CONN_CLOSING] = TO(RS_CONN_CANCELLING),
    [RS_CONN_CANCELLING] = TO(RS_CONN_FREE),
};
#undef TO

static const char *const conn_state_names[RS_CONN_NSTATES] = {
    [RS_CONN_FREE] = "FREE",       [RS_CONN_CONNECTING] = "CONNECTING",
    [RS_CONN_OPEN] = "OPEN",       [RS_CONN_FLUSH_SHUT] = "FLUSH_SHUT",
    [RS_CONN_SHUT] = "SHUT",       [RS_CONN_FLUSH_CLOSE] = "FLUSH_CLOSE",
    [RS_CONN_CLOSING] = "CLOSING", [RS_CONN_CANCELLING] = "CANCELLING",
};

const char *rs__conn_state_name(enum rs_conn_state s)
{
    return (unsigned)s < RS_CONN_NSTATES ? conn_state_names[s] : "?";
}

bool rs__conn_state_allowed(enum rs_conn_state from, enum rs_conn_state to)
{
    return (unsigned)from < RS_CONN_NSTATES && (unsigned)to < RS_CONN_NSTATES &&
           (conn_next[from] & (1u << to));
}

int rs__conn_set_state(struct rs_conn *c, enum rs_conn_state to)
{
    struct rs_loop *l = c->loop;
    if (!rs__conn_state_allowed((enum rs_conn_state)c->state, to)) {
        if (l->bad_transitions++ == 0)
            rs_log_error("worker %u: connection %u: illegal state change %s -> %s refused (a "
                         "bug; later ones are only counted)",
                         l->cfg.id, c->idx, rs__conn_state_name((enum rs_conn_state)c->state),
                         rs__conn_state_name(to));
        return -EINVAL;
    }
    c->state = (uint8_t)to;
    return 0;
}

struct rs_conn *rs__conn_lookup(struct rs_loop *l, uint64_t ud)
{
    uint32_t idx = rs__ud_idx(ud), slab = idx / RS_SLAB_CONNS;
    if (slab < l->nslabs) {
        struct rs_conn *c = &l->slabs[slab][idx % RS_SLAB_CONNS];
        if (c->gen == rs__ud_gen(ud) && c->state != RS_CONN_FREE)
            return c;
    }
    RS_STAT_INC(l->stats, stale_completions);
    return NULL;
}

/* Takes a connection from the free list, growing the pool by a slab when it is empty; it stays
 * FREE until the caller sets it up. Returns NULL at the configured maximum or when memory is
 * short. */
static struct rs_conn *conn_alloc(struct rs_loop *l)
{
    if (l->nconns >= l->cfg.max_conns)
        return NULL;
    if (!l->free_list) {
        if (l->nslabs >= l->max_slabs)
            return NULL;
        struct rs_conn *slab = rs_calloc(RS_SLAB_CONNS, sizeof(*slab));
        if (!slab)
            return NULL;
        for (uint32_t i = RS_SLAB_CONNS; i-- > 0;) {
            slab[i].idx = l->nslabs * RS_SLAB_CONNS + i;
            slab[i].fd = -1;
            slab[i].loop = l;
            slab[i].next = l->free_list;
            l->free_list = &slab[i];
        }
        l->slabs[l->nslabs++] = slab;
    }
    struct rs_conn *c = l->free_list;
    l->free_list = c->next;
    uint32_t idx = c->idx, gen = c->gen;
    memset(c, 0, sizeof(*c));
    c->loop = l;
    c->idx = idx;
    c->gen = gen;
    c->fd = -1;
    c->wq_limit = l->wq_limit;
    c->wq_span = l->wq_span;
    l->nconns++;
    return c;
}

size_t rs__wq_cap(const struct rs_loop *l, size_t bytes, bool *span)
{
    /* With room for two chunks or more, the memory of whole chunks (16 KiB pages, header
     * included); below that, bytes owed. */
    size_t whole = bytes / LOOP_CHUNK_BYTES;
    *span = whole >= 2;
    return *span ? whole * l->chunks.chunk_size : bytes;
}

void rs_conn_set_write_queue(struct rs_conn *c, size_t bytes)
{
    c->wq_limit = rs__wq_cap(c->loop, bytes, &c->wq_span);
}

static void default_on_data(struct rs_conn *c, const void *data, size_t len)
{
    (void)c;
    (void)data;
    (void)len;
}

static void default_on_eof(struct rs_conn *c)
{
    rs_conn_close_after_flush(c);
}

static const struct rs_conn_ops default_ops = {
    .on_data = default_on_data,
    .on_eof = default_on_eof,
};

static const char *const close_reason_names[RS_CLOSE_NREASONS] = {
    [RS_CLOSE_UNSET] = "",
    [RS_CLOSE_PEER] = "peer_closed",
    [RS_CLOSE_RESET] = "reset",
    [RS_CLOSE_ERROR] = "error",
    [RS_CLOSE_SERVER] = "server_closed",
    [RS_CLOSE_IDLE_TIMEOUT] = "idle_timeout",
    [RS_CLOSE_SEND_TIMEOUT] = "send_timeout",
    [RS_CLOSE_STOPPING] = "server_stopping",
    [RS_CLOSE_LIMIT] = "limit",
};

const char *rs_close_reason_name(enum rs_close_reason r)
{
    return (unsigned)r < RS_CLOSE_NREASONS ? close_reason_names[r] : "";
}

void rs_conn_set_close_reason(struct rs_conn *c, enum rs_close_reason why)
{
    if (c->close_why == RS_CLOSE_UNSET && !rs__conn_closing(c))
        c->close_why = (uint8_t)why;
}

void rs_conn_set_upstream(struct rs_conn *c, const struct rs_addr *up)
{
    c->upstream = up;
}

void rs_loop_session_end(struct rs_loop *l, struct rs_conn_end *e)
{
    if (!l->cfg.conn_end)
        return;
    e->worker = l->cfg.id;
    l->cfg.conn_end(e, l->cfg.conn_end_arg);
}

/* The peer's address, as struct rs_addr; false if it was not recorded. */
static bool conn_end_addr(const struct sockaddr_in6 *sa, struct rs_addr *out)
{
    if (sa->sin6_family != AF_INET && sa->sin6_family != AF_INET6)
        return false;
    memset(out, 0, sizeof(*out));
    out->len = sa->sin6_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(*sa);
    memcpy(&out->ss, sa, out->len);
    return true;
}

/* Records what the access log needs of an accepted socket: its peer and the time (hook on). */
static void conn_end_start(struct sockaddr_in6 *client, uint64_t *start_ns, int fd)
{
    socklen_t len = sizeof(*client);
    memset(client, 0, sizeof(*client));
    if (getpeername(fd, (struct sockaddr *)client, &len) < 0)
        client->sin6_family = AF_UNSPEC;
    *start_ns = rs_now_ns();
}

/* A connection refused at accept by a limit: reported (reason limit), never served. */
static void conn_end_refused(struct rs_listener *ls, int fd)
{
    struct rs_loop *l = ls->loop;
    struct sockaddr_in6 sa;
    struct rs_addr client;
    struct rs_conn_end e = {
        .worker = l->cfg.id, .listener = (int)ls->idx, .reason = RS_CLOSE_LIMIT};
    conn_end_start(&sa, &e.start_ns, fd);
    e.end_ns = e.start_ns;
    e.client = conn_end_addr(&sa, &client) ? &client : NULL;
    l->cfg.conn_end(&e, l->cfg.conn_end_arg);
}

/* Why c ended: the reason given, else what happened to it. */
static enum rs_close_reason conn_end_reason(const struct rs_conn *c)
{
    enum rs_close_reason why = (enum rs_close_reason)c->close_why;
    if (why == RS_CLOSE_UNSET)
        why = c->close_err == -ECONNRESET || c->close_err == -EPIPE ? RS_CLOSE_RESET
              : c->close_err                                        ? RS_CLOSE_ERROR
              : c->eof && !c->shut_first                            ? RS_CLOSE_PEER
                                                                    : RS_CLOSE_SERVER;
    return why;
}

/* Counts c's release by its reason (stats.h: the conns_closed_* add up to conns_closed). */
static void conn_count_end(struct rs_conn *c)
{
    struct rs_stats *st = c->loop->stats;
    RS_STAT_INC(st, conns_closed);
    switch (conn_end_reason(c)) {
    case RS_CLOSE_PEER:
        RS_STAT_INC(st, conns_closed_peer);
        break;
    case RS_CLOSE_RESET:
        RS_STAT_INC(st, conns_closed_reset);
        break;
    case RS_CLOSE_ERROR:
        RS_STAT_INC(st, conns_closed_error);
        break;
    case RS_CLOSE_IDLE_TIMEOUT:
        RS_STAT_INC(st, conns_closed_idle);
        break;
    case RS_CLOSE_SEND_TIMEOUT:
        RS_STAT_INC(st, conns_closed_send_timeout);
        break;
    case RS_CLOSE_STOPPING:
        RS_STAT_INC(st, conns_closed_stopping);
        break;
    case RS_CLOSE_LIMIT:
        RS_STAT_INC(st, conns_closed_limit);
        break;
    default:
        RS_STAT_INC(st, conns_closed_server);
        break;
    }
}

/* Reports c's end to the hook. */
static void conn_end_report(struct rs_conn *c)
{
    struct rs_loop *l = c->loop;
    struct rs_addr client;
    enum rs_close_reason why = conn_end_reason(c);
    struct rs_conn_end e = {
        .worker = l->cfg.id,
        .listener = c->listener,
        .client = conn_end_addr(&c->client, &client) ? &client : NULL,
        .upstream = c->upstream,
        .bytes_in = c->bytes_in,
        .bytes_out = c->bytes_out,
        .start_ns = c->start_ns,
        .end_ns = rs_now_ns(),
        .reason = why,
        .err = c->close_err,
    };
    l->cfg.conn_end(&e, l->cfg.conn_end_arg);
}

void rs__loop_accepted(struct rs_listener *ls, int fd)
{
    struct rs_loop *l = ls->loop;
    uint64_t hidden;

    /* Accepted as the listener stopped (an io_uring accept that completed before its cancel):
     * a drain serves it, as it was accepted from a queue no one else will read; a stop closes. */
    if (l->stopping && !l->draining) {
        close(fd);
        return;
    }
    uint32_t slot = 0;
    if (l->conn_limit && rs__conn_limit_take(l->conn_limit, fd, &slot) == -EDQUOT) {
        /* Reset, not FIN: the peer learns it was refused (an echo server's FIN before any
         * answer reads as a clean end), the same whether or not it already sent bytes (a
         * close with unread input resets anyway), and no TIME_WAIT is left on our side. */
        static const struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
        RS_STAT_INC(l->stats, conns_refused_per_ip);
        if (l->cfg.conn_end)
            conn_end_refused(ls, fd);
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
        close(fd);
        return;
    }
    struct rs_conn *c = conn_alloc(l);
    if (!c) {
        if (slot)
            rs__conn_limit_put(l->conn_limit, slot);
        RS_STAT_INC(l->stats, conns_refused);
        if (rs_ratelimit_ok(&l->rl_conn, &hidden))
            rs_log_warn("connection limit reached (%u per worker), refusing (%llu more hidden)",
                        l->cfg.max_conns, (unsigned long long)hidden);
        if (l->cfg.conn_end)
            conn_end_refused(ls, fd);
        close(fd);
        return;
    }
    RS_STAT_INC(l->stats, conns_accepted);
    RS_PROBE2(accept, l->cfg.id, fd);
    c->fd = fd;
    c->limit_slot = slot;
    c->listener = (uint16_t)ls->idx;
    if (l->cfg.conn_end)
        conn_end_start(&c->client, &c->start_ns, fd);
    rs_net_set_nodelay(fd);
    rs_net_set_bufs(fd, l->cfg.sndbuf, l->cfg.rcvbuf);
    c->ops = &default_ops;
    rs__conn_set_state(c, RS_CONN_OPEN);
    ls->fn(c, ls->arg);
    if (rs__conn_closing(c))
        return;
    l->be->conn_start(c);
}

static void mark_dirty(struct rs_conn *c);
static void conn_recycle(struct rs_conn *c);
static void conn_flushed(struct rs_conn *c);

struct rs_conn *rs_loop_connect(struct rs_loop *l, const struct rs_addr *addr,
                                const struct rs_addr *src, const struct rs_conn_ops *ops,
                                void *udata, int *err)
{
    /* io_uring waits for the connect itself; epoll needs a non-blocking socket. */
    int type =
        SOCK_STREAM | SOCK_CLOEXEC | (l->cfg.backend == RS_BACKEND_EPOLL ? SOCK_NONBLOCK : 0);
    struct rs_conn *c = conn_alloc(l);
    if (!c) {
        *err = -ENOSPC;
        return NULL;
    }
    c->peer = rs_malloc(sizeof(*c->peer));
    if (!c->peer) {
        *err = -ENOMEM;
        goto out_free_conn;
    }
    *c->peer = *addr;
    c->fd = socket(addr->ss.ss_family, type, 0);
    if (c->fd < 0) {
        *err = -errno;
        goto out_free_conn;
    }
    if (src && (*err = rs_net_bind_source(c->fd, src)) < 0)
        goto out_free_conn;
    rs_net_set_nodelay(c->fd);
    rs_net_set_bufs(c->fd, l->cfg.sndbuf, l->cfg.rcvbuf);
    c->ops = ops;
    c->udata = udata;
    rs__conn_set_state(c, RS_CONN_CONNECTING);
    c->connect_busy = true;
    l->be->conn_connect(c);
    return c;

out_free_conn:
    conn_recycle(c); /* still FREE, never opened: not counted as closed, no callbacks */
    return NULL;
}

void rs__conn_connected(struct rs_conn *c, int err)
{
    struct rs_loop *l = c->loop;
    c->connect_busy = false;
    rs_free(c->peer);
    c->peer = NULL;
    if (rs__conn_closing(c))
        return;
    RS_PROBE3(connect, l->cfg.id, c->fd, err);
    if (err == 0) {
        RS_STAT_INC(l->stats, conns_accepted);
        if (c->state == RS_CONN_CONNECTING)
            rs__conn_set_state(c, RS_CONN_OPEN); /* FLUSH_SHUT/FLUSH_CLOSE stay: they flush now */
    }
    if (c->ops->on_connect)
        c->ops->on_connect(c, err);
    if (err < 0) {
        c->close_err = err;
        RS_STAT_INC(l->stats, errors);
        rs_conn_close(c);
        return;
    }
    if (rs__conn_closing(c))
        return;
    l->be->conn_start(c);
    if (rs__conn_closing(c))
        return;
    if (c->outq.bytes > 0)
        mark_dirty(c);
    else
        conn_flushed(c); /* a shutdown or close asked for while connecting, nothing queued */
}

void rs_conn_set_ops(struct rs_conn *c, const struct rs_conn_ops *ops, void *udata)
{
    c->ops = ops;
    c->udata = udata;
}

void *rs_conn_udata(const struct rs_conn *c)
{
    return c->udata;
}

size_t rs_conn_queued(const struct rs_conn *c)
{
    return c->outq.bytes;
}

/* c's queue as the cap counts it: its span over whole chunks, or its bytes (c->wq_span). */
static inline size_t conn_queue_size(const struct rs_conn *c)
{
    return c->wq_span ? rs_outq_span(&c->outq) : c->outq.bytes;
}

size_t rs_conn_room(const struct rs_conn *c)
{
    size_t used = conn_queue_size(c), limit = c->wq_limit;
    return used < limit ? limit - used : 0;
}

struct rs_loop *rs_conn_loop(const struct rs_conn *c)
{
    return c->loop;
}

uint64_t rs_conn_sent_ns(const struct rs_conn *c)
{
    return c->sent_ns;
}

int rs_conn_addrs(const struct rs_conn *c, struct rs_addr *peer, struct rs_addr *local)
{
    if (peer) {
        memset(peer, 0, sizeof(*peer));
        socklen_t len = sizeof(peer->ss);
        if (getpeername(c->fd, (struct sockaddr *)&peer->ss, &len) < 0)
            return -errno;
        peer->len = len;
    }
    if (local)
        return rs_net_local_addr(c->fd, local);
    return 0;
}

static void mark_dirty(struct rs_conn *c)
{
    if (c->on_dirty)
        return;
    c->on_dirty = true;
    c->dirty_next = c->loop->dirty;
    c->loop->dirty = c;
}

int rs_conn_send(struct rs_conn *c, const void *data, size_t len)
{
    if (c->state > RS_CONN_OPEN)
        return -EPIPE; /* flushing for a shutdown or close, or closing */
    if (len == 0)
        return 0;
    int err = rs_outq_append(&c->outq, &c->loop->chunks, data, len);
    if (err < 0) {
        rs__conn_fail(c, err);
        return err;
    }
    c->drain_armed |= rs_conn_full(c); /* on_drain once it falls to half */
    mark_dirty(c);
    return 0;
}

void rs_conn_close(struct rs_conn *c)
{
    if (rs__conn_closing(c) || rs__conn_set_state(c, RS_CONN_CLOSING) < 0)
        return;
    /* The close list reuses the dirty link: a closing connection is never flushed. */
    if (!c->on_dirty) {
        c->on_dirty = true;
        c->dirty_next = c->loop->dirty;
        c->loop->dirty = c;
    }
}

/* The queue is empty and no send is in flight: a shutdown or close that waited for it now. */
static void conn_flushed(struct rs_conn *c)
{
    if (c->state == RS_CONN_FLUSH_CLOSE) {
        rs_conn_close(c);
    } else if (c->state == RS_CONN_FLUSH_SHUT) {
        c->shut_first = !c->eof; /* we ended first: the peer's FIN answers ours */
        shutdown(c->fd, SHUT_WR);
        rs__conn_set_state(c, RS_CONN_SHUT);
    }
}

void rs_conn_close_after_flush(struct rs_conn *c)
{
    if (c->state >= RS_CONN_FLUSH_CLOSE || rs__conn_set_state(c, RS_CONN_FLUSH_CLOSE) < 0)
        return;
    /* Nothing to send: close now, also while connecting (the connect is cancelled). */
    if (c->outq.bytes == 0 && !c->send_busy)
        rs_conn_close(c);
}

void rs_conn_shutdown_after_flush(struct rs_conn *c)
{
    if (c->state >= RS_CONN_FLUSH_SHUT || rs__conn_set_state(c, RS_CONN_FLUSH_SHUT) < 0)
        return;
    /* While connecting, rs__conn_connected shuts down once the connect is done. */
    if (c->outq.bytes == 0 && !c->send_busy && !c->connect_busy)
        conn_flushed(c);
}

void rs_conn_reset(struct rs_conn *c)
{
    static const struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
    if (rs__conn_closing(c))
        return;
    /* Set now, applied by the close(2) at release: no FIN, no orphan holding the unsent bytes. */
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
    rs_conn_close(c);
}

void rs__conn_fail(struct rs_conn *c, int err)
{
    struct rs_loop *l = c->loop;
    if (rs__conn_closing(c))
        return;
    if (err == -ECONNRESET || err == -EPIPE)
        RS_STAT_INC(l->stats, resets);
    else
        RS_STAT_INC(l->stats, errors);
    c->close_err = err;
    rs_conn_close(c);
}

/* Reading is off for `why` too: the backend stops if nothing stopped it before. A connect
 * under way has no receive yet; rs__conn_connected starts one only if reading is on. */
static void conn_read_off(struct rs_conn *c, uint8_t why)
{
    bool was_on = c->read_off == 0;
    c->read_off |= why;
    if (was_on && !c->connect_busy)
        c->loop->be->conn_read_pause(c);
}

/* `why` (which was set) no longer stops reading: the backend resumes if nothing else does. */
static void conn_read_on(struct rs_conn *c, uint8_t why)
{
    c->read_off &= (uint8_t)~why;
    if (c->read_off == 0 && !c->connect_busy)
        c->loop->be->conn_read_resume(c);
}

void rs_conn_read_stop(struct rs_conn *c)
{
    if (rs__conn_closing(c) || (c->read_off & RS_READ_OFF_SERVICE))
        return;
    conn_read_off(c, RS_READ_OFF_SERVICE);
}

void rs_conn_read_start(struct rs_conn *c)
{
    if (rs__conn_closing(c) || !(c->read_off & RS_READ_OFF_SERVICE))
        return;
    conn_read_on(c, RS_READ_OFF_SERVICE);
}

bool rs_conn_full(const struct rs_conn *c)
{
    return conn_queue_size(c) >= c->wq_limit;
}

/* c's queue is full: the loop's backpressure stops reading c until it drains to half. */
static void conn_backpressure(struct rs_conn *c)
{
    struct rs_loop *l = c->loop;
    if (rs__conn_closing(c) || (c->read_off & RS_READ_OFF_QUEUE))
        return;
    RS_STAT_INC(l->stats, backpressure);
    RS_PROBE3(backpressure_on, l->cfg.id, c->fd, c->outq.bytes);
    conn_read_off(c, RS_READ_OFF_QUEUE);
}

void rs_conn_read_cross(struct rs_conn *c)
{
    c->cross = true;
    if (c->read_off & RS_READ_OFF_QUEUE)
        conn_read_on(c, RS_READ_OFF_QUEUE);
}

size_t rs__conn_read_room(struct rs_conn *c)
{
    if (c->cross)
        return c->wq_limit; /* a read's size; the service bounds the total */
    size_t room = rs_conn_room(c);
    if (room == 0)
        conn_backpressure(c); /* filled by a send outside on_data (a timer, on_drain) */
    return room;
}

void rs__conn_deliver(struct rs_conn *c, const void *data, size_t len)
{
    struct rs_loop *l = c->loop;
    RS_STAT_ADD(l->stats, bytes_in, len);
    RS_STAT_INC(l->stats, recvs);
    c->bytes_in += len;
    if (rs__conn_closing(c))
        return;
    c->ops->on_data(c, data, len);
    if (!c->cross && rs_conn_full(c))
        conn_backpressure(c);
}

void rs__conn_eof(struct rs_conn *c)
{
    if (c->eof)
        return;
    c->eof = true;
    if (rs__conn_closing(c))
        return;
    c->ops->on_eof(c);
}

/* The queue fell to the low-water mark: the loop's backpressure ends, on_drain if armed. */
static void conn_low_water(struct rs_conn *c)
{
    if (c->read_off & RS_READ_OFF_QUEUE) {
        RS_PROBE3(backpressure_off, c->loop->cfg.id, c->fd, c->outq.bytes);
        conn_read_on(c, RS_READ_OFF_QUEUE);
    }
    if (c->drain_armed) {
        c->drain_armed = false; /* before the call: a send in it may arm it again */
        if (c->ops->on_drain)
            c->ops->on_drain(c);
    }
}

void rs__conn_sent(struct rs_conn *c, size_t n)
{
    struct rs_loop *l = c->loop;
    RS_STAT_ADD(l->stats, bytes_out, n);
    c->bytes_out += n;
    c->sent_ns = rs_now_ns(); /* send progress, for services' send timeouts */
    rs_outq_consume(&c->outq, &l->chunks, n);
    if (rs__conn_closing(c))
        return;
    /* Low water at half the cap, so a slow reader does not toggle reading every send. One
     * branch on the hot path, as before on_drain: both waiters are tested at once (bitwise). */
    if (((c->read_off & RS_READ_OFF_QUEUE) | c->drain_armed) &&
        conn_queue_size(c) <= c->wq_limit / 2) {
        conn_low_water(c);
        if (rs__conn_closing(c))
            return;
    }
    /* What is left is the backend's to send: epoll's flush goes on until EAGAIN, io_uring asks
     * for another flush when its send completes (rs__conn_want_flush). */
    if (c->outq.bytes == 0 && !c->send_busy)
        conn_flushed(c);
}

void rs__conn_want_flush(struct rs_conn *c)
{
    if (!rs__conn_closing(c) && c->outq.bytes > 0)
        mark_dirty(c);
}

void rs__conn_maybe_release(struct rs_conn *c)
{
    if (c->state != RS_CONN_CANCELLING || c->inflight > 0 || c->on_pending || c->on_dirty)
        return;
    /* Accepted connections only (an outgoing one, a relay's upstream side, is in its client's
     * line); before on_close, while the service's upstream address is still valid. */
    if (c->loop->cfg.conn_end && c->start_ns)
        conn_end_report(c);
    if (c->ops && c->ops->on_close)
        c->ops->on_close(c, c->close_err);
    conn_count_end(c);
    RS_PROBE5(close, c->loop->cfg.id, c->fd, c->close_err, c->bytes_in, c->bytes_out);
    conn_recycle(c);
}

static void conn_recycle(struct rs_conn *c)
{
    struct rs_loop *l = c->loop;
    rs_outq_clear(&c->outq, &l->chunks);
    rs_free(c->peer);
    c->peer = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->limit_slot) {
        rs__conn_limit_put(l->conn_limit, c->limit_slot);
        c->limit_slot = 0;
    }
    if (c->state != RS_CONN_FREE) /* a failed rs_loop_connect never left FREE */
        rs__conn_set_state(c, RS_CONN_FREE);
    c->gen++;
    c->next = l->free_list;
    l->free_list = c;
    l->nconns--;
}

void rs__loop_end_turn(struct rs_loop *l)
{
    /* Flushing can fail and close, and a release runs on_close, which may send on or close
     * other connections: go on until the list stays empty. */
    while (l->dirty) {
        struct rs_conn *list = l->dirty;
        l->dirty = NULL;
        while (list) {
            struct rs_conn *c = list;
            list = c->dirty_next;
            c->on_dirty = false;
            c->dirty_next = NULL;
            if (rs__conn_closing(c))
                l->be->conn_close(c);
            else if (c->outq.bytes > 0)
                l->be->conn_flush(c);
        }
    }
}
