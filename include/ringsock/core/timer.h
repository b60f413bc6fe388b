#ifndef RINGSOCK_TIMER_H
#define RINGSOCK_TIMER_H

#include <stdbool.h>
#include <stdint.h>

/* One-shot timers owned by one loop (one thread), kept in an array-backed 4-ary min-heap: a
 * loop may hold one timer per connection (HTTP timeouts), so arming, re-arming and disarming
 * are O(log n) and finding the next due one is O(1). Each timer knows its place in the heap,
 * so it is cancelled by handle. Timers due at the same time fire in the order they were armed.
 *
 * Memory: the heap's array grows by doubling and never shrinks, so in steady state nothing is
 * allocated. Room is claimed ahead with rs_timer_heap_reserve() where failing is already
 * handled (set-up, accept), so that arming itself never allocates: arming fails (-ENOMEM)
 * only when more timers are armed than were reserved for and the array could not grow. */
struct rs_timer;
typedef void (*rs_timer_fn)(struct rs_timer *t, void *arg);

struct rs_timer {
    uint64_t due_ns; /* when it fires, on the monotonic clock; meaningful while armed */
    uint64_t seq;    /* arm order: breaks ties between equal due times */
    rs_timer_fn fn;
    void *arg;
    uint32_t idx; /* position in the heap while armed */
    bool armed;
};

/* A heap slot: the due time is copied in so that sifting compares without chasing pointers. */
struct rs_timer_entry {
    uint64_t due_ns;
    struct rs_timer *t;
};

/* Zero-initialized, it is an empty heap that allocates on first use. */
struct rs_timer_heap {
    struct rs_timer_entry *ent; /* ent[0] is the earliest; see timer.c for the layout */
    uint32_t len;               /* armed timers */
    uint32_t cap;               /* slots allocated */
    uint32_t reserved;          /* slots promised by rs_timer_heap_reserve() */
    uint64_t seq;               /* arms so far */
};

void rs_timer_init(struct rs_timer *t, rs_timer_fn fn, void *arg);
/* Arms t to fire at due_ns on the monotonic clock; an armed t is moved (never fails then).
 * Returns 0, or -ENOMEM if t was not armed and the heap was full and could not grow (t stays
 * disarmed). */
int rs_timer_arm(struct rs_timer_heap *h, struct rs_timer *t, uint64_t due_ns);
/* Cancels t; harmless if t is not armed. */
void rs_timer_disarm(struct rs_timer_heap *h, struct rs_timer *t);
/* Milliseconds until the first timer is due (0 if overdue), or -1 if none is armed. */
int rs_timer_next_ms(const struct rs_timer_heap *h, uint64_t now_ns);
/* Nanoseconds until the first timer is due (0 if overdue), or -1 if none is armed. */
int64_t rs_timer_next_ns(const struct rs_timer_heap *h, uint64_t now_ns);
/* Runs every timer due at now_ns, earliest first; each is disarmed before its callback runs.
 * A callback may arm or disarm any timer, itself included; one armed for a time <= now_ns runs
 * in this same pass (so a callback must not keep re-arming itself for now_ns). Returns how
 * many ran. */
unsigned rs_timer_run(struct rs_timer_heap *h, uint64_t now_ns);
/* Sets aside room for n more armed timers, growing the array now if needed. Returns 0 or
 * -ENOMEM (nothing is reserved then). */
int rs_timer_heap_reserve(struct rs_timer_heap *h, uint32_t n);
/* Gives back n reserved slots (the array keeps its size). */
void rs_timer_heap_unreserve(struct rs_timer_heap *h, uint32_t n);
/* Frees the array; armed timers are forgotten (their memory is the owners'). */
void rs_timer_heap_fini(struct rs_timer_heap *h);

#endif
