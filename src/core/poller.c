/* Readiness watches for sockets a service batches itself (datagrams): the part that is the
 * same for every backend. */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "loop_internal.h"
#include "ringsock/util/alloc.h"

/* Makes room for one more poller in l->pollers, doubling the array (pointers: the pollers
 * themselves never move). Returns 0, -ENOSPC past what a completion's index holds, or -ENOMEM. */
static int pollers_reserve(struct rs_loop *l)
{
    if (l->npollers < l->pollers_cap)
        return 0;
    if (l->pollers_cap > RS_IDX_MAX / 2)
        return -ENOSPC;
    uint32_t cap = l->pollers_cap ? l->pollers_cap * 2 : 8;
    struct rs_poller **a = rs_calloc(cap, sizeof(*a));
    if (!a)
        return -ENOMEM;
    if (l->npollers)
        memcpy(a, l->pollers, l->npollers * sizeof(*a));
    rs_free(l->pollers);
    l->pollers = a;
    l->pollers_cap = cap;
    return 0;
}

int rs_loop_poll(struct rs_loop *l, int fd, rs_poll_fn fn, void *arg, struct rs_poller **out)
{
    int err = pollers_reserve(l);
    if (err < 0)
        return err;
    struct rs_poller *p = rs_calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->loop = l;
    p->fd = fd;
    p->idx = l->npollers;
    p->fn = fn;
    p->arg = arg;
    l->pollers[l->npollers++] = p;
    err = l->be->poll_arm(p);
    if (err < 0) {
        l->pollers[--l->npollers] = NULL;
        rs_free(p);
        return err;
    }
    if (out)
        *out = p;
    return 0;
}

struct rs_poller *rs__poller_lookup(struct rs_loop *l, uint32_t idx, uint32_t gen)
{
    if (idx >= l->npollers)
        return NULL;
    struct rs_poller *p = l->pollers[idx];
    return p->gen == gen && !p->released ? p : NULL;
}

void rs__poller_fire(struct rs_poller *p, unsigned events)
{
    if (p->closing || p->released)
        return;
    if ((events & RS_POLL_OUT) && !p->want_out)
        events &= ~RS_POLL_OUT;
    if (events)
        p->fn(p, events, p->arg);
}

void rs_poller_want_out(struct rs_poller *p, bool on)
{
    if (p->want_out == on || p->closing)
        return;
    p->want_out = on;
    p->loop->be->poll_arm(p);
}

void rs_poller_again(struct rs_poller *p)
{
    struct rs_loop *l = p->loop;
    if (p->again || p->closing)
        return;
    p->again = true;
    p->again_next = l->again;
    l->again = p;
}

int rs_poller_fd(const struct rs_poller *p)
{
    return p->fd;
}

void rs_poller_set_on_stop(struct rs_poller *p, void (*fn)(void *arg), void *arg)
{
    p->on_stop = fn;
    p->on_stop_arg = arg;
}

struct rs_loop *rs_poller_loop(const struct rs_poller *p)
{
    return p->loop;
}

void rs__poller_release(struct rs_poller *p)
{
    if (p->released)
        return;
    p->released = true;
    p->gen++;
    close(p->fd);
    p->fd = -1;
}
