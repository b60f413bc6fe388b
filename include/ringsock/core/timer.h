#ifndef RINGSOCK_TIMER_H
#define RINGSOCK_TIMER_H

#include <stdbool.h>
#include <stdint.h>

/* One-shot timers owned by one loop (one thread). A loop holds few timers (accept back-off,
 * shutdown deadline, stats), so they sit in a list sorted by due time. */
struct rs_timer;
typedef void (*rs_timer_fn)(struct rs_timer *t, void *arg);

struct rs_timer {
    struct rs_timer *prev, *next;
    uint64_t due_ns;
    rs_timer_fn fn;
    void *arg;
    bool armed;
};

struct rs_timer_list {
    struct rs_timer *head;
};

void rs_timer_init(struct rs_timer *t, rs_timer_fn fn, void *arg);
/* Arms (or re-arms) t to fire at due_ns on the monotonic clock. */
void rs_timer_arm(struct rs_timer_list *tl, struct rs_timer *t, uint64_t due_ns);
void rs_timer_disarm(struct rs_timer_list *tl, struct rs_timer *t);
/* Milliseconds until the first timer is due (0 if overdue), or -1 if none is armed. */
int rs_timer_next_ms(const struct rs_timer_list *tl, uint64_t now_ns);
/* Nanoseconds until the first timer is due (0 if overdue), or -1 if none is armed. */
int64_t rs_timer_next_ns(const struct rs_timer_list *tl, uint64_t now_ns);
/* Runs every timer due at now_ns; a callback may arm or disarm timers. Returns how many ran. */
unsigned rs_timer_run(struct rs_timer_list *tl, uint64_t now_ns);

#endif
