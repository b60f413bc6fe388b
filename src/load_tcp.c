/* ringload's TCP echo client. Each connection keeps up to --depth messages outstanding; the echo
 * comes back in order, so the byte stream is checked against the pattern of message seq at
 * offset off as it arrives, however the kernel splits it. A message's latency runs from its
 * intended send time (the schedule in rate mode, the actual send in closed loop) to its last
 * byte. A connection that fails or times out is counted and reopened on the next tick. */

#include <errno.h>
#include <string.h>

#include "load.h"
#include "ringsock/alloc.h"
#include "ringsock/log.h"

struct tcp_client {
    struct load_thread *t;
    struct rs_conn *c;
    uint32_t id;
    bool connected;
    uint64_t next_seq; /* next message to send */
    uint64_t done_seq; /* messages fully echoed */
    uint64_t rx_off;   /* bytes of message done_seq received */
    uint64_t stream_off;
    uint64_t *intended; /* per outstanding message (ring of depth): latency start */
    uint64_t *sent;     /* actual send time: timeouts */
    uint64_t next_due;  /* rate mode: intended time of next_seq */
    bool bad;           /* message done_seq had a mismatch */
    bool scheduled;     /* rate mode: in the thread's send heap */
    bool was_blocked;   /* rate mode: fell behind because of the server, not caught up yet */
};

static void tcp_open(struct tcp_client *cl);

static bool may_send(const struct tcp_client *cl)
{
    return cl->connected && cl->t->sending && cl->next_seq - cl->done_seq < cl->t->o->depth;
}

static void send_msg(struct tcp_client *cl, uint64_t intended, uint64_t now)
{
    struct load_thread *t = cl->t;
    size_t size = t->o->size;
    uint64_t seq = cl->next_seq;
    load_pattern_fill(cl->id, seq, 0, (unsigned char *)t->scratch, size);
    if (rs_conn_send(cl->c, t->scratch, size) < 0) {
        LOAD_INC(t, err_write);
        return;
    }
    cl->intended[seq % t->o->depth] = intended;
    cl->sent[seq % t->o->depth] = now;
    cl->next_seq++;
    LOAD_ADD(t, bytes_out, size);
}

/* Sends what the mode allows now: closed loop fills the depth; rate mode sends what is due. */
static void pump(struct tcp_client *cl, uint64_t now)
{
    struct load_thread *t = cl->t;
    if (t->o->rate == 0) {
        while (may_send(cl))
            send_msg(cl, now, now);
        return;
    }
    double gap = 1e9 / t->conn_rate;
    while (cl->t->sending && cl->next_due <= now) {
        if (!may_send(cl)) {
            if (cl->connected)
                LOAD_INC(t, sched_blocked);
            cl->was_blocked = true;
            return; /* latency keeps running from next_due: a stall shows */
        }
        /* Over 1 ms late with room to send, and not catching up after a server stall. */
        if (now - cl->next_due > 1000000 && !cl->was_blocked)
            LOAD_INC(t, sched_behind);
        send_msg(cl, cl->next_due, now);
        cl->next_due += (uint64_t)gap;
    }
    cl->was_blocked = false; /* caught up */
}

/* Rate mode: a client whose next send is in the future waits in the heap; one blocked at its
 * depth (or not connected) is parked, and an answer or a connect puts it back. */
static void reschedule(struct tcp_client *cl, uint64_t now)
{
    struct load_thread *t = cl->t;
    if (t->o->rate == 0 || cl->scheduled || !cl->connected || !t->sending || cl->next_due <= now)
        return;
    struct tcp_client *cls = t->clients;
    if (load_sched_push(&t->sched, cl->next_due, (uint32_t)(cl - cls)) == 0) {
        cl->scheduled = true;
        load_sched_arm(t);
    }
}

void load_tcp_fire(struct load_thread *t, uint64_t now)
{
    struct tcp_client *cls = t->clients;
    uint32_t idx;
    while (load_sched_pop_due(&t->sched, now, &idx)) {
        struct tcp_client *cl = &cls[idx];
        cl->scheduled = false;
        if (!cl->c)
            continue;
        pump(cl, now);
        reschedule(cl, now);
    }
}

static void on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct tcp_client *cl = rs_conn_udata(c);
    struct load_thread *t = cl->t;
    const unsigned char *p = data;
    size_t size = t->o->size;
    uint64_t now = rs_now_ns();
    uint64_t hidden;

    LOAD_ADD(t, bytes_in, len);
    while (len > 0) {
        if (cl->done_seq == cl->next_seq) {
            LOAD_INC(t, err_verify);
            if (rs_ratelimit_ok(&t->rl_verify, &hidden))
                rs_log_error("connection %u: %zu bytes echoed beyond what was sent, at offset "
                             "%llu",
                             cl->id, len, (unsigned long long)cl->stream_off);
            rs_conn_close(c);
            return;
        }
        size_t take = size - cl->rx_off < len ? size - cl->rx_off : len;
        if (t->o->verify) {
            size_t at = load_pattern_check(cl->id, cl->done_seq, cl->rx_off, p, take);
            if (at < take && !cl->bad) {
                cl->bad = true;
                LOAD_INC(t, err_verify);
                if (rs_ratelimit_ok(&t->rl_verify, &hidden))
                    rs_log_error(
                        "verify: connection %u, stream offset %llu (message %llu, "
                        "byte %llu): got 0x%02x, expected 0x%02x",
                        cl->id, (unsigned long long)(cl->stream_off + at),
                        (unsigned long long)cl->done_seq, (unsigned long long)(cl->rx_off + at),
                        p[at],
                        (unsigned)(load_pattern_word(cl->id, cl->done_seq, (cl->rx_off + at) / 8) >>
                                   (8 * ((cl->rx_off + at) % 8))) &
                            0xff);
            }
        }
        cl->rx_off += take;
        cl->stream_off += take;
        p += take;
        len -= take;
        if (cl->rx_off == size) {
            uint64_t intended = cl->intended[cl->done_seq % t->o->depth];
            if (load_in_window(t, intended)) {
                rs_hist_record(&t->hist, now > intended ? now - intended : 0);
                LOAD_INC(t, msgs);
            }
            LOAD_INC(t, msgs_all);
            cl->done_seq++;
            cl->rx_off = 0;
            cl->bad = false;
        }
    }
    pump(cl, now);
    reschedule(cl, now);
}

static void on_eof(struct rs_conn *c)
{
    struct tcp_client *cl = rs_conn_udata(c);
    if (!cl->t->finishing)
        LOAD_INC(cl->t, err_read);
    rs_conn_close(c);
}

static void on_close(struct rs_conn *c, int err)
{
    struct tcp_client *cl = rs_conn_udata(c);
    if (err < 0 && err != -ECANCELED && cl->connected && !cl->t->finishing)
        LOAD_INC(cl->t, err_read);
    cl->c = NULL;
    cl->connected = false;
}

static void on_connect(struct rs_conn *c, int err)
{
    struct tcp_client *cl = rs_conn_udata(c);
    if (err < 0) {
        LOAD_INC(cl->t, err_connect);
        return; /* the loop closes it; the tick reopens */
    }
    LOAD_INC(cl->t, connects);
    cl->connected = true;
    uint64_t now = rs_now_ns();
    if (cl->t->o->rate > 0 && cl->next_due < now)
        cl->next_due = now; /* a new connection does not owe the schedule it missed */
    pump(cl, now);
    reschedule(cl, now);
}

static const struct rs_conn_ops tcp_ops = {
    .on_data = on_data,
    .on_eof = on_eof,
    .on_close = on_close,
    .on_connect = on_connect,
};

static void tcp_open(struct tcp_client *cl)
{
    int err;
    cl->next_seq = cl->done_seq = cl->rx_off = cl->stream_off = 0;
    cl->bad = false;
    cl->c = rs_loop_connect(cl->t->loop, &cl->t->o->target, load_source(cl->t->o, cl->id), &tcp_ops,
                            cl, &err);
    if (!cl->c)
        LOAD_INC(cl->t, err_connect);
}

int load_tcp_start(struct load_thread *t)
{
    unsigned depth = t->o->depth;
    struct tcp_client *cls = rs_calloc(t->nconns, sizeof(*cls));
    if (!cls)
        return -ENOMEM;
    t->clients = cls;
    if (t->o->rate > 0 && load_sched_init(&t->sched, t->nconns) < 0)
        return -ENOMEM;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct tcp_client *cl = &cls[i];
        cl->t = t;
        cl->id = t->first_conn + i;
        cl->intended = rs_calloc(depth, sizeof(uint64_t));
        cl->sent = rs_calloc(depth, sizeof(uint64_t));
        if (!cl->intended || !cl->sent)
            return -ENOMEM;
        /* Spread each connection's schedule over one period so sends do not come in bursts. */
        if (t->o->rate > 0)
            cl->next_due = t->t0 + (uint64_t)(1e9 / t->conn_rate * cl->id / t->o->conns);
        tcp_open(cl);
    }
    return 0;
}

bool load_tcp_tick(struct load_thread *t, uint64_t now)
{
    struct tcp_client *cls = t->clients;
    bool all_done = true;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct tcp_client *cl = &cls[i];
        if (t->finishing) {
            if (cl->c)
                rs_conn_close(cl->c);
            continue;
        }
        if (!cl->c) {
            if (t->sending)
                tcp_open(cl);
            continue;
        }
        if (cl->connected && cl->done_seq < cl->next_seq &&
            now - cl->sent[cl->done_seq % t->o->depth] > t->o->timeout_ns) {
            LOAD_INC(t, err_timeout);
            cl->connected = false;
            rs_conn_close(cl->c); /* a byte stream cannot skip a message: start afresh */
            continue;
        }
        pump(cl, now);
        reschedule(cl, now);
        if (cl->done_seq < cl->next_seq)
            all_done = false;
    }
    return all_done;
}

void load_tcp_free(struct load_thread *t)
{
    struct tcp_client *cls = t->clients;
    if (!cls)
        return;
    for (unsigned i = 0; i < t->nconns; i++) {
        rs_free(cls[i].intended);
        rs_free(cls[i].sent);
    }
    rs_free(cls);
    t->clients = NULL;
    load_sched_fini(&t->sched);
}
