#include "ringsock/core/timer.h"

#include <stddef.h>

void rs_timer_init(struct rs_timer *t, rs_timer_fn fn, void *arg)
{
    t->prev = t->next = NULL;
    t->due_ns = 0;
    t->fn = fn;
    t->arg = arg;
    t->armed = false;
}

void rs_timer_disarm(struct rs_timer_list *tl, struct rs_timer *t)
{
    if (!t->armed)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        tl->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->armed = false;
}

void rs_timer_arm(struct rs_timer_list *tl, struct rs_timer *t, uint64_t due_ns)
{
    rs_timer_disarm(tl, t);
    t->due_ns = due_ns;
    struct rs_timer *prev = NULL, *cur = tl->head;
    while (cur && cur->due_ns <= due_ns) {
        prev = cur;
        cur = cur->next;
    }
    t->prev = prev;
    t->next = cur;
    if (prev)
        prev->next = t;
    else
        tl->head = t;
    if (cur)
        cur->prev = t;
    t->armed = true;
}

int rs_timer_next_ms(const struct rs_timer_list *tl, uint64_t now_ns)
{
    if (!tl->head)
        return -1;
    if (tl->head->due_ns <= now_ns)
        return 0;
    uint64_t ms = (tl->head->due_ns - now_ns + 999999) / 1000000;
    return ms > 3600000 ? 3600000 : (int)ms;
}

int64_t rs_timer_next_ns(const struct rs_timer_list *tl, uint64_t now_ns)
{
    if (!tl->head)
        return -1;
    if (tl->head->due_ns <= now_ns)
        return 0;
    uint64_t ns = tl->head->due_ns - now_ns;
    return ns > 3600000000000ull ? 3600000000000ll : (int64_t)ns;
}

unsigned rs_timer_run(struct rs_timer_list *tl, uint64_t now_ns)
{
    unsigned ran = 0;
    while (tl->head && tl->head->due_ns <= now_ns) {
        struct rs_timer *t = tl->head;
        rs_timer_disarm(tl, t);
        t->fn(t, t->arg);
        ran++;
    }
    return ran;
}
