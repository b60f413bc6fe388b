/* Listening sockets: accepting through the backend, and the back-off that pauses a worker's
 * accepting when the process runs out of fds or memory (EMFILE, ENFILE, ENOMEM). */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "loop_internal.h"
#include "conn_limit.h"
#include "ringsock/util/alloc.h"

#define RS_BACKOFF_MIN_MS 10
#define RS_BACKOFF_MAX_MS 1000

static void backoff_expired(struct rs_timer *t, void *arg)
{
    struct rs_listener *ls = arg;
    (void)t;
    if (ls->closing)
        return;
    ls->paused = false;
    int err = ls->loop->be->listen_start(ls);
    if (err < 0)
        rs__listener_error(ls, err);
}

/* Makes room for one more listener in l->listeners, doubling the array (pointers: the listeners
 * themselves never move). Returns 0, -ENOSPC past what a completion's index holds, or -ENOMEM. */
static int listeners_reserve(struct rs_loop *l)
{
    if (l->nlisteners < l->listeners_cap)
        return 0;
    if (l->listeners_cap > RS_IDX_MAX / 2)
        return -ENOSPC;
    uint32_t cap = l->listeners_cap ? l->listeners_cap * 2 : 8;
    struct rs_listener **a = rs_calloc(cap, sizeof(*a));
    if (!a)
        return -ENOMEM;
    if (l->nlisteners)
        memcpy(a, l->listeners, l->nlisteners * sizeof(*a));
    rs_free(l->listeners);
    l->listeners = a;
    l->listeners_cap = cap;
    return 0;
}

int rs_loop_listen(struct rs_loop *l, int fd, rs_accept_fn fn, void *arg)
{
    int err = listeners_reserve(l);
    if (err < 0)
        return err;
    /* The per-address table, once, before anything is accepted: accepting never allocates. */
    if (l->cfg.max_conns_per_ip && !l->conn_limit) {
        l->conn_limit = rs__conn_limit_new(l->cfg.max_conns_per_ip, l->cfg.max_conns);
        if (!l->conn_limit)
            return -ENOMEM;
    }
    struct rs_listener *ls = rs_calloc(1, sizeof(*ls));
    if (!ls)
        return -ENOMEM;
    /* The back-off timer's room, so that pausing on EMFILE never fails to arm it. */
    if (rs_timer_heap_reserve(&l->timers, 1) < 0) {
        rs_free(ls);
        return -ENOMEM;
    }
    ls->loop = l;
    ls->fd = fd;
    ls->idx = l->nlisteners;
    ls->fn = fn;
    ls->arg = arg;
    ls->backoff_ms = RS_BACKOFF_MIN_MS;
    rs_timer_init(&ls->backoff, backoff_expired, ls);
    l->listeners[l->nlisteners++] = ls;
    err = l->be->listen_start(ls);
    if (err < 0) {
        l->listeners[--l->nlisteners] = NULL;
        rs_timer_heap_unreserve(&l->timers, 1);
        rs_free(ls);
    }
    return err;
}

struct rs_listener *rs__listener_lookup(struct rs_loop *l, uint32_t idx, uint32_t gen)
{
    if (idx >= l->nlisteners)
        return NULL;
    struct rs_listener *ls = l->listeners[idx];
    return ls->gen == gen && !ls->released ? ls : NULL;
}

void rs__listener_ok(struct rs_listener *ls)
{
    ls->backoff_ms = RS_BACKOFF_MIN_MS;
}

bool rs__listener_error(struct rs_listener *ls, int err)
{
    struct rs_loop *l = ls->loop;
    uint64_t hidden;

    switch (err) {
    case -EAGAIN:
    case -EINTR:
    case -ECONNABORTED:
    case -EPROTO:
    case -EPERM: /* firewall rejected this one */
        return !ls->closing;
    default:
        break;
    }
    /* Out of fds or memory (or something unknown): pause this worker's accepting with a
     * growing back-off instead of spinning; existing connections keep being served. */
    RS_STAT_INC(l->stats, accept_backoffs);
    if (rs_ratelimit_ok(&l->rl_accept, &hidden))
        rs_log_warn("accept: %s; pausing accepts for %u ms (%llu similar warnings hidden)",
                    strerror(-err), ls->backoff_ms, (unsigned long long)hidden);
    if (ls->closing)
        return false;
    ls->paused = true;
    l->be->listen_stop(ls);
    rs_timer_arm(&l->timers, &ls->backoff, rs_now_ns() + ls->backoff_ms * 1000000ull);
    ls->backoff_ms =
        ls->backoff_ms * 2 > RS_BACKOFF_MAX_MS ? RS_BACKOFF_MAX_MS : ls->backoff_ms * 2;
    return false;
}

void rs__listener_release(struct rs_listener *ls)
{
    if (ls->released)
        return;
    ls->released = true;
    ls->gen++;
    rs_timer_disarm(&ls->loop->timers, &ls->backoff);
    close(ls->fd);
    ls->fd = -1;
}
