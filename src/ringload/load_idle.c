/* ringload --idle: holds many idle TCP connections. Each thread opens its share in index
 * order, at most --max-connecting (its share) in flight and --connect-rate (its share) per
 * second, and gives a connect --connect-timeout before counting it failed with ETIMEDOUT. Once
 * every thread is done opening, nothing is sent for --duration; a connection the peer closes
 * meanwhile is counted. Then each held connection is checked (an echo of --size pattern bytes,
 * or an HTTP request answered with "HTTP/1."), within --timeout, so a peer that silently
 * dropped connections is caught; then all are closed. Connect time (connect started to
 * established) goes into the thread's connect histogram. */

#include <errno.h>
#include <string.h>

#include "load.h"
#include "ringsock/util/alloc.h"

enum idle_state {
    IC_NEW,        /* not started */
    IC_CONNECTING, /* connect in flight */
    IC_OPEN,       /* established, held */
    IC_CHECKING,   /* check sent, answer awaited */
    IC_DONE,       /* failed, lost, or checked: nothing more to count */
};

struct idle_client {
    struct load_thread *t;
    struct rs_conn *c;
    uint64_t start_ns; /* connect started */
    uint32_t id;
    uint32_t got; /* check bytes received and matched */
    uint8_t state;
};

#define HTTP_PREFIX     "HTTP/1."
#define HTTP_PREFIX_LEN 7

static void idle_open_more(struct load_thread *t, uint64_t now);

static void idle_count_failure(struct load_thread *t, int err)
{
    unsigned e = err < 0 ? (unsigned)-err : (unsigned)err;
    t->idle.failures[e < LOAD_ERRNO_MAX ? e : 0]++;
    LOAD_INC(t, err_connect);
}

/* A connect that did not make it: counted once, by errno. */
static void idle_connect_failed(struct idle_client *cl, int err)
{
    struct load_thread *t = cl->t;
    cl->state = IC_DONE;
    t->idle.connecting--;
    idle_count_failure(t, err);
}

static void idle_check_done(struct idle_client *cl)
{
    cl->state = IC_DONE;
    cl->t->idle.checking--;
}

/* The connection ended without our asking: the peer closed or reset it. */
static void idle_lost(struct idle_client *cl)
{
    struct load_thread *t = cl->t;
    if (t->finishing)
        return;
    if (cl->state == IC_OPEN) {
        LOAD_INC(t, peer_closed);
        cl->state = IC_DONE;
        t->idle.held--;
    } else if (cl->state == IC_CHECKING) {
        LOAD_INC(t, check_closed);
        idle_check_done(cl);
    }
}

static void on_connect(struct rs_conn *c, int err)
{
    struct idle_client *cl = rs_conn_udata(c);
    struct load_thread *t = cl->t;
    uint64_t now = rs_now_ns();
    if (err < 0) {
        idle_connect_failed(cl, err); /* the loop closes it */
    } else {
        cl->state = IC_OPEN;
        t->idle.connecting--;
        t->idle.held++;
        t->idle.t_last = now;
        LOAD_INC(t, connects);
        rs_hist_record(&t->hist_connect, now - cl->start_ns);
    }
    idle_open_more(t, now); /* keep --max-connecting in flight */
}

static void on_data(struct rs_conn *c, const void *data, size_t len)
{
    struct idle_client *cl = rs_conn_udata(c);
    struct load_thread *t = cl->t;
    const struct rs_load_opts *o = t->o;
    LOAD_ADD(t, bytes_in, len);
    if (cl->state != IC_CHECKING)
        return; /* unasked-for bytes while held (a banner, an error): in bytes_in only */
    size_t want = o->idle_check == RS_IDLE_CHECK_HTTP ? HTTP_PREFIX_LEN : o->size;
    size_t take = want - cl->got < len ? want - cl->got : len;
    bool ok = o->idle_check == RS_IDLE_CHECK_HTTP
                  ? memcmp(data, HTTP_PREFIX + cl->got, take) == 0
                  : load_pattern_check(cl->id, 0, cl->got, data, take) == take;
    if (!ok || (cl->got + take == want && len > take && o->idle_check == RS_IDLE_CHECK_ECHO)) {
        LOAD_INC(t, check_wrong); /* other bytes, or more than was sent */
        idle_check_done(cl);
        return;
    }
    cl->got += (uint32_t)take;
    if (cl->got == want) {
        LOAD_INC(t, check_ok);
        LOAD_INC(t, msgs_all);
        idle_check_done(cl);
    }
}

static void on_eof(struct rs_conn *c)
{
    idle_lost(rs_conn_udata(c));
    rs_conn_close(c);
}

static void on_close(struct rs_conn *c, int err)
{
    struct idle_client *cl = rs_conn_udata(c);
    (void)err;
    idle_lost(cl); /* a reset (no EOF first); nothing if already counted */
    cl->c = NULL;
}

static const struct rs_conn_ops idle_ops = {
    .on_data = on_data,
    .on_eof = on_eof,
    .on_close = on_close,
    .on_connect = on_connect,
};

static void idle_open(struct idle_client *cl, uint64_t now)
{
    struct load_thread *t = cl->t;
    int err = 0;
    cl->state = IC_CONNECTING;
    cl->start_ns = rs_now_ns(); /* not the batch's now: the batch itself takes a while */
    t->idle.connecting++;
    if (t->idle.started == 1)
        t->idle.t_first = now;
    cl->c = rs_loop_connect(t->loop, &t->o->target, load_source(t->o, cl->id), &idle_ops, cl, &err);
    if (!cl->c)
        idle_connect_failed(cl, err); /* no socket, or the source address cannot be bound */
}

/* Starts connects while the in-flight cap and the rate allow. */
static void idle_open_more(struct load_thread *t, uint64_t now)
{
    struct idle_client *cls = t->clients;
    struct load_idle *id = &t->idle;
    while (id->phase == LOAD_IDLE_OPEN && id->started < t->nconns &&
           id->connecting < id->max_connecting) {
        /* The first connect goes at once, the k-th k/rate seconds after it. */
        if (id->rate > 0 && id->started > 0 &&
            (double)(now - id->t_first) * id->rate < (double)id->started * 1e9)
            break;
        struct idle_client *cl = &cls[id->started++];
        idle_open(cl, now);
    }
}

static int idle_start(struct load_thread *t)
{
    const struct rs_load_opts *o = t->o;
    unsigned n = o->threads;
    struct idle_client *cls = rs_calloc(t->nconns, sizeof(*cls));
    if (!cls)
        return -ENOMEM;
    t->clients = cls;
    if (rs_hist_init(&t->hist_connect, RS_HIST_DEFAULT_MAX) < 0)
        return -ENOMEM;
    if (o->idle_check == RS_IDLE_CHECK_HTTP && load_http_build_request(t) < 0)
        return -ENOMEM;
    /* Shares of the totals; the remainder goes to the first threads, as connections do. */
    t->idle.max_connecting = o->max_connecting / n + (t->id < o->max_connecting % n);
    if (t->idle.max_connecting == 0)
        t->idle.max_connecting = 1;
    t->idle.rate = o->connect_rate / n;
    t->idle.phase = LOAD_IDLE_OPEN;
    for (unsigned i = 0; i < t->nconns; i++) {
        cls[i].t = t;
        cls[i].id = t->first_conn + i;
    }
    idle_open_more(t, rs_now_ns());
    return 0;
}

/* Counts this thread as done opening; the last one starts everyone's hold. */
static void idle_opened(struct load_thread *t, uint64_t now)
{
    struct load_idle_shared *sh = t->idle.shared;
    if (t->idle.counted)
        return;
    t->idle.counted = true;
    if (atomic_fetch_add(&sh->opened, 1) + 1 == sh->threads)
        atomic_store(&sh->hold_start_ns, now);
}

/* Connects past --connect-timeout fail with ETIMEDOUT. They were started in index order with
 * one timeout, so the scan stops at the first one still in time. */
static void idle_expire_connects(struct load_thread *t, uint64_t now)
{
    struct idle_client *cls = t->clients;
    struct load_idle *id = &t->idle;
    for (; id->scan < id->started; id->scan++) {
        struct idle_client *cl = &cls[id->scan];
        if (cl->state != IC_CONNECTING)
            continue;
        if (now < cl->start_ns || now - cl->start_ns < t->o->connect_timeout_ns)
            break;
        idle_connect_failed(cl, -ETIMEDOUT);
        if (cl->c)
            rs_conn_close(cl->c);
    }
}

/* Sends each held connection its check. */
static void idle_check_start(struct load_thread *t)
{
    struct idle_client *cls = t->clients;
    const struct rs_load_opts *o = t->o;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct idle_client *cl = &cls[i];
        if (cl->state != IC_OPEN || !cl->c)
            continue;
        const void *msg = t->request;
        size_t len = t->request_len;
        if (o->idle_check == RS_IDLE_CHECK_ECHO) {
            load_pattern_fill(cl->id, 0, 0, (unsigned char *)t->scratch, o->size);
            msg = t->scratch;
            len = o->size;
        }
        cl->state = IC_CHECKING;
        t->idle.held--;
        cl->got = 0;
        t->idle.checking++;
        if (rs_conn_send(cl->c, msg, len) < 0) {
            LOAD_INC(t, err_write);
            LOAD_INC(t, check_closed);
            idle_check_done(cl);
            continue;
        }
        LOAD_ADD(t, bytes_out, len);
    }
}

static bool idle_tick(struct load_thread *t, uint64_t now)
{
    struct load_idle *id = &t->idle;
    switch (id->phase) {
    case LOAD_IDLE_OPEN:
        idle_expire_connects(t, now);
        idle_open_more(t, now);
        if (id->started < t->nconns || id->connecting > 0)
            return false;
        id->phase = LOAD_IDLE_WAIT;
        idle_opened(t, now);
        /* fall through */
    case LOAD_IDLE_WAIT: {
        uint64_t start = atomic_load(&id->shared->hold_start_ns);
        if (start == 0)
            return false;
        id->hold_start = start;
        id->hold_end = start + t->o->duration_ns;
        id->phase = LOAD_IDLE_HOLD;
    }
        /* fall through */
    case LOAD_IDLE_HOLD:
        if (t->stop_ns && t->stop_ns < id->hold_end)
            id->hold_end = t->stop_ns > id->hold_start ? t->stop_ns : id->hold_start;
        if (now < id->hold_end && id->held > 0)
            return false; /* with nothing left to hold, the hold is over */
        id->phase = LOAD_IDLE_CHECK;
        id->check_start = now;
        if (t->o->idle_check != RS_IDLE_CHECK_NONE)
            idle_check_start(t);
        /* fall through */
    case LOAD_IDLE_CHECK:
        if (id->checking > 0 && now - id->check_start < t->o->timeout_ns)
            return false;
        LOAD_ADD(t, check_unanswered, id->checking);
        id->checking = 0;
        id->check_end = now;
        id->phase = LOAD_IDLE_DONE;
        /* fall through */
    case LOAD_IDLE_DONE:
        break;
    }
    /* Closed by us from here on: nothing more is counted. */
    t->finishing = true;
    struct idle_client *cls = t->clients;
    for (unsigned i = 0; i < t->nconns; i++)
        if (cls[i].c)
            rs_conn_close(cls[i].c);
    return true;
}

static uint64_t idle_tick_ms(const struct load_thread *t)
{
    /* Opening is paced from the tick: a fine one keeps --connect-rate smooth. */
    return t->idle.phase == LOAD_IDLE_OPEN ? 1 : 10;
}

static void idle_free(struct load_thread *t)
{
    /* A thread that could not run must not keep the others waiting for it. */
    if (t->idle.shared)
        idle_opened(t, rs_now_ns());
    rs_free(t->clients);
    t->clients = NULL;
    rs_free(t->request);
    t->request = NULL;
}

static bool idle_matches(const struct rs_load_opts *o)
{
    return o->idle;
}

static const struct load_run idle_run = {
    .start = idle_start,
    .tick = idle_tick,
    .tick_ms = idle_tick_ms,
    .free = idle_free,
};

/* --idle over tcp:// or http://: its own phases, not the client base. */
const struct load_proto load_idle_proto = {
    .name = "idle",
    .matches = idle_matches,
    .scratch_msgs = 1,
    .run = &idle_run,
    .report = &load_idle_report_ops,
};
