/* A binary min-heap of (due time, client index): which client's next send is due first, for
 * constant-rate mode, so the loop's timer can fire exactly then (O(log n) per send). */

#include <errno.h>

#include "load.h"
#include "ringsock/util/alloc.h"

int load_sched_init(struct load_sched *s, uint32_t cap)
{
    s->n = 0;
    s->cap = cap;
    s->e = rs_calloc(cap ? cap : 1, sizeof(*s->e));
    return s->e ? 0 : -ENOMEM;
}

void load_sched_fini(struct load_sched *s)
{
    rs_free(s->e);
    s->e = NULL;
    s->n = s->cap = 0;
}

int load_sched_push(struct load_sched *s, uint64_t due, uint32_t idx)
{
    if (s->n == s->cap)
        return -ENOSPC;
    uint32_t i = s->n++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (s->e[parent].due <= due)
            break;
        s->e[i] = s->e[parent];
        i = parent;
    }
    s->e[i].due = due;
    s->e[i].idx = idx;
    return 0;
}

bool load_sched_pop_due(struct load_sched *s, uint64_t now, uint32_t *idx)
{
    if (s->n == 0 || s->e[0].due > now)
        return false;
    *idx = s->e[0].idx;
    struct load_sched_entry last = s->e[--s->n];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t mdue = last.due;
        if (l < s->n && s->e[l].due < mdue) {
            m = l;
            mdue = s->e[l].due;
        }
        if (r < s->n && s->e[r].due < mdue)
            m = r;
        if (m == i)
            break;
        s->e[i] = s->e[m];
        i = m;
    }
    if (s->n > 0)
        s->e[i] = last;
    return true;
}

uint64_t load_sched_next(const struct load_sched *s)
{
    return s->n ? s->e[0].due : UINT64_MAX;
}
