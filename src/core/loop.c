#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop_internal.h"
#include "conn_limit.h"
#include "ringsock/util/alloc.h"
#include "ringsock/util/probes.h"

void rs_loop_config_default(struct rs_loop_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->backend = RS_BACKEND_URING;
    cfg->buf_count = 512;
    cfg->buf_size = 16384;
    cfg->write_queue = 256 * 1024;
    cfg->max_conns = 100000;
    cfg->read_budget = 16;
}

const char *rs_backend_name(enum rs_backend_kind kind)
{
    switch (kind) {
    case RS_BACKEND_URING:
        return "io_uring";
    case RS_BACKEND_EPOLL:
        return "epoll";
    case RS_BACKEND_AUTO:
        break;
    }
    return "auto";
}

int rs_backend_parse(const char *s, enum rs_backend_kind *out)
{
    if (strcmp(s, "auto") == 0)
        *out = RS_BACKEND_AUTO;
    else if (strcmp(s, "io_uring") == 0 || strcmp(s, "uring") == 0)
        *out = RS_BACKEND_URING;
    else if (strcmp(s, "epoll") == 0)
        *out = RS_BACKEND_EPOLL;
    else
        return -EINVAL;
    return 0;
}

const char *rs_backend_features(const struct rs_loop *l)
{
    return l->be->features ? l->be->features(l) : "";
}

static void grace_expired(struct rs_timer *t, void *arg)
{
    struct rs_loop *l = arg;
    (void)t;
    l->aborting = true;
}

struct rs_loop *rs_loop_new(const struct rs_loop_config *cfg, struct rs_stats *stats, int *err)
{
    return rs__loop_new_with_backend(
        cfg, stats, cfg->backend == RS_BACKEND_EPOLL ? &rs__epoll_backend : &rs__uring_backend,
        err);
}

struct rs_loop *rs__loop_new_with_backend(const struct rs_loop_config *cfg, struct rs_stats *stats,
                                          const struct rs_backend_ops *be, int *err)
{
    struct rs_loop *l = rs_calloc(1, sizeof(*l));
    if (!l) {
        *err = -ENOMEM;
        return NULL;
    }
    l->cfg = *cfg;
    l->stats = stats;
    l->be = be;
    l->rl_accept = (struct rs_ratelimit)RS_RATELIMIT_INIT(1000);
    l->rl_conn = (struct rs_ratelimit)RS_RATELIMIT_INIT(1000);
    /* 16 KiB chunks, header included: whole pages, so the cap can count them exactly. */
    rs_chunk_cache_init(&l->chunks, LOOP_CHUNK_BYTES - sizeof(struct rs_chunk), 64);
    l->wq_limit = rs__wq_cap(l, cfg->write_queue, &l->wq_span);
    rs_timer_init(&l->grace_timer, grace_expired, l);
    /* Room for the stop deadline; listeners reserve their back-off timer's in rs_loop_listen. */
    if (rs_timer_heap_reserve(&l->timers, 1) < 0) {
        *err = -ENOMEM;
        goto out_free_loop;
    }
    l->max_slabs = (cfg->max_conns + RS_SLAB_CONNS - 1) / RS_SLAB_CONNS;
    if (l->max_slabs * RS_SLAB_CONNS > RS_IDX_MAX) {
        *err = -EINVAL;
        goto out_free_loop;
    }
    l->slabs = rs_calloc(l->max_slabs ? l->max_slabs : 1, sizeof(*l->slabs));
    if (!l->slabs) {
        *err = -ENOMEM;
        goto out_free_loop;
    }
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0) {
        *err = -errno;
        goto out_free_slabs;
    }
    *err = l->be->init(l);
    if (*err < 0)
        goto out_close_wake;
    return l;

out_close_wake:
    close(l->wake_fd);
out_free_slabs:
    rs_free(l->slabs);
out_free_loop:
    rs_timer_heap_fini(&l->timers);
    rs_free(l);
    return NULL;
}

unsigned rs_loop_id(const struct rs_loop *l)
{
    return l->cfg.id;
}

void rs_loop_free(struct rs_loop *l)
{
    if (!l)
        return;
    if (l->bad_transitions)
        rs_log_error("worker %u: %llu illegal connection state changes were refused (a bug)",
                     l->cfg.id, (unsigned long long)l->bad_transitions);
    l->be->fini(l);
    rs__conn_limit_free(l->conn_limit);
    for (uint32_t i = 0; i < l->nlisteners; i++) {
        struct rs_listener *ls = l->listeners[i];
        if (!ls->released && ls->fd >= 0)
            close(ls->fd);
        rs_free(ls);
    }
    for (uint32_t i = 0; i < l->npollers; i++) {
        struct rs_poller *p = l->pollers[i];
        if (!p->released && p->fd >= 0)
            close(p->fd);
        rs_free(p);
    }
    rs_free(l->listeners);
    rs_free(l->pollers);
    for (uint32_t i = 0; i < l->nslabs; i++) {
        for (uint32_t j = 0; j < RS_SLAB_CONNS; j++) {
            struct rs_conn *c = &l->slabs[i][j];
            if (c->state != RS_CONN_FREE) {
                rs_outq_clear(&c->outq, &l->chunks);
                if (c->fd >= 0)
                    close(c->fd);
            }
        }
        rs_free(l->slabs[i]);
    }
    rs_free(l->slabs);
    rs_chunk_cache_fini(&l->chunks);
    rs_timer_heap_fini(&l->timers);
    close(l->wake_fd);
    rs_free(l);
}

int rs_loop_timer_arm(struct rs_loop *l, struct rs_timer *t, uint64_t delay_ms)
{
    return rs_timer_arm(&l->timers, t, rs_now_ns() + delay_ms * 1000000ull);
}

int rs_loop_timer_arm_at(struct rs_loop *l, struct rs_timer *t, uint64_t due_ns)
{
    return rs_timer_arm(&l->timers, t, due_ns);
}

int rs_loop_timer_reserve(struct rs_loop *l, uint32_t n)
{
    return rs_timer_heap_reserve(&l->timers, n);
}

void rs_loop_timer_unreserve(struct rs_loop *l, uint32_t n)
{
    rs_timer_heap_unreserve(&l->timers, n);
}

void rs_loop_timer_disarm(struct rs_loop *l, struct rs_timer *t)
{
    rs_timer_disarm(&l->timers, t);
}

void rs_loop_wake(struct rs_loop *l)
{
    uint64_t one = 1;
    ssize_t n = write(l->wake_fd, &one, sizeof(one));
    (void)n; /* EAGAIN: the counter is already non-zero, a wake-up is pending anyway */
}

static void loop_request(struct rs_loop *l, unsigned grace_ms, bool drain)
{
    atomic_store_explicit(&l->grace_ms, grace_ms, memory_order_relaxed);
    atomic_store_explicit(&l->drain_requested, drain, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->stop_seq, 1, memory_order_relaxed);
    atomic_store_explicit(&l->stop_requested, true, memory_order_release);
    rs_loop_wake(l);
}

void rs_loop_request_stop(struct rs_loop *l, unsigned grace_ms)
{
    loop_request(l, grace_ms, false);
}

void rs_loop_request_drain(struct rs_loop *l, unsigned timeout_ms)
{
    loop_request(l, timeout_ms, true);
}

bool rs_loop_draining(const struct rs_loop *l)
{
    return l->draining;
}

bool rs_loop_stopping(const struct rs_loop *l)
{
    return l->stopping;
}

/* Asks every open connection to close once it owes nothing. */
static void loop_close_all_after_flush(struct rs_loop *l)
{
    for (uint32_t i = 0; i < l->nslabs; i++)
        for (uint32_t j = 0; j < RS_SLAB_CONNS; j++) {
            struct rs_conn *c = &l->slabs[i][j];
            if (c->state != RS_CONN_FREE) {
                if (c->state < RS_CONN_FLUSH_CLOSE)
                    rs_conn_set_close_reason(c, RS_CLOSE_STOPPING);
                rs_conn_close_after_flush(c);
            }
        }
}

/* A request made while already stopping: a stop after a drain closes what owes nothing now;
 * either way the new (usually shorter) deadline replaces the old one. */
static void loop_restop(struct rs_loop *l)
{
    if (l->draining && !atomic_load_explicit(&l->drain_requested, memory_order_relaxed)) {
        l->draining = false;
        loop_close_all_after_flush(l);
    }
    rs_loop_timer_arm(l, &l->grace_timer, atomic_load_explicit(&l->grace_ms, memory_order_relaxed));
}

/* Stop: no more accepts; connections close once they owe nothing (a drain: once their peer or
 * their service closes them), the rest at the deadline. */
static void loop_begin_stop(struct rs_loop *l)
{
    l->stopping = true;
    l->draining = atomic_load_explicit(&l->drain_requested, memory_order_relaxed);
    for (uint32_t i = 0; i < l->nlisteners; i++) {
        struct rs_listener *ls = l->listeners[i];
        ls->closing = true;
        rs_timer_disarm(&l->timers, &ls->backoff);
        l->be->listen_stop(ls);
        if (!ls->armed && ls->inflight == 0)
            rs__listener_release(ls);
    }
    for (uint32_t i = 0; i < l->npollers; i++) {
        struct rs_poller *p = l->pollers[i];
        p->closing = true;
        if (p->on_stop)
            p->on_stop(p->on_stop_arg);
        l->be->poll_stop(p);
        if (!p->in_armed && !p->out_armed && p->inflight == 0)
            rs__poller_release(p);
    }
    if (!l->draining)
        loop_close_all_after_flush(l);
    rs_loop_timer_arm(l, &l->grace_timer, atomic_load_explicit(&l->grace_ms, memory_order_relaxed));
}

static void loop_abort_all(struct rs_loop *l)
{
    for (uint32_t i = 0; i < l->nslabs; i++)
        for (uint32_t j = 0; j < RS_SLAB_CONNS; j++) {
            struct rs_conn *c = &l->slabs[i][j];
            if (c->state != RS_CONN_FREE) {
                rs_conn_set_close_reason(c, RS_CLOSE_STOPPING);
                rs_conn_close(c);
            }
        }
}

static bool loop_done(const struct rs_loop *l)
{
    if (!l->stopping || l->nconns > 0)
        return false;
    for (uint32_t i = 0; i < l->nlisteners; i++)
        if (!l->listeners[i]->released)
            return false;
    for (uint32_t i = 0; i < l->npollers; i++)
        if (!l->pollers[i]->released)
            return false;
    return true;
}

/* Runs the pollers that stopped at their budget last turn. */
static void loop_run_again(struct rs_loop *l)
{
    struct rs_poller *list = l->again;
    l->again = NULL;
    while (list) {
        struct rs_poller *p = list;
        list = p->again_next;
        p->again = false;
        rs__poller_fire(p, RS_POLL_IN);
    }
}

int rs_loop_run(struct rs_loop *l)
{
    for (;;) {
        if (atomic_load_explicit(&l->stop_requested, memory_order_acquire)) {
            unsigned seq = atomic_load_explicit(&l->stop_seq, memory_order_relaxed);
            if (!l->stopping || seq != l->stop_seen) {
                if (!l->stopping)
                    loop_begin_stop(l);
                else
                    loop_restop(l);
                l->stop_seen = seq;
                rs__loop_end_turn(l);
            }
        }
        if (l->aborting) {
            loop_abort_all(l);
            rs__loop_end_turn(l);
        }
        /* Checked right before waiting: the last release may have happened just above, and
         * nothing (epoll) would wake the wait below. */
        if (loop_done(l))
            return 0;
        int64_t timeout = l->again ? 0 : rs_timer_next_ns(&l->timers, rs_now_ns());
        int n = l->be->wait(l, timeout);
        if (n < 0 && n != -EINTR && n != -ETIME && n != -EAGAIN && n != -EBUSY)
            return n;
        /* Interrupted (a signal, or SIGSTOP and SIGCONT) before handling anything: what arrived
         * meanwhile is handled before the timers that came due, so that no deadline is judged
         * on input that is already here (a head that came in time gets no 408). */
        if (n == -EINTR) {
            int m = l->be->wait(l, 0);
            if (m < 0 && m != -EINTR && m != -ETIME && m != -EAGAIN && m != -EBUSY)
                return m;
            n = m;
        }
        /* One reap: CQEs (io_uring) or epoll events handled this turn; 0 after a timeout. */
        RS_PROBE2(loop_reap, l->cfg.id, n > 0 ? n : 0);
        if (n > 0) {
            RS_STAT_INC(l->stats, loop_batches);
            RS_STAT_ADD(l->stats, loop_events, (uint64_t)n);
        }
        rs_timer_run(&l->timers, rs_now_ns());
        loop_run_again(l);
        rs__loop_end_turn(l);
    }
}
