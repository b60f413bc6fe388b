#include <stdlib.h>

#include "../check.h"
#include "ringsock/core/timer.h"

static int order[8];
static int nfired;

static void fire(struct rs_timer *t, void *arg)
{
    (void)t;
    order[nfired++] = (int)(long)arg;
}

static struct rs_timer_heap *rearm_heap;
static struct rs_timer *rearm_other;

static void fire_and_arm(struct rs_timer *t, void *arg)
{
    fire(t, arg);
    rs_timer_arm(rearm_heap, rearm_other, 0); /* due at once: runs in the same pass */
}

/* The original list's contract, unchanged. */
static void test_basics(void)
{
    struct rs_timer_heap th = {0};
    struct rs_timer a, b, c, d;
    nfired = 0;
    rs_timer_init(&a, fire, (void *)1L);
    rs_timer_init(&b, fire, (void *)2L);
    rs_timer_init(&c, fire, (void *)3L);
    rs_timer_init(&d, fire, (void *)4L);

    CHECK_EQ(rs_timer_next_ms(&th, 0), -1);
    CHECK_EQ(rs_timer_next_ns(&th, 0), -1);
    CHECK_EQ(rs_timer_arm(&th, &b, 2000000000ull), 0);
    CHECK_EQ(rs_timer_arm(&th, &a, 1000000000ull), 0);
    CHECK_EQ(rs_timer_arm(&th, &c, 3000000000ull), 0);
    CHECK_EQ(rs_timer_next_ms(&th, 0), 1000);
    CHECK_EQ(rs_timer_next_ms(&th, 999500000ull), 1); /* rounds up, never 0 early */
    CHECK_EQ(rs_timer_next_ms(&th, 5000000000ull), 0);
    CHECK_EQ(rs_timer_next_ns(&th, 999500000ull), 500000);

    rs_timer_disarm(&th, &b);
    CHECK(!b.armed);
    rs_timer_disarm(&th, &b);            /* twice is harmless */
    rs_timer_arm(&th, &c, 500000000ull); /* re-arming moves it */

    CHECK_EQ(rs_timer_run(&th, 600000000ull), 1);
    CHECK_EQ(order[0], 3);
    CHECK_EQ(rs_timer_run(&th, 600000000ull), 0);
    CHECK_EQ(rs_timer_run(&th, 9000000000ull), 1);
    CHECK_EQ(order[1], 1);
    CHECK_EQ(rs_timer_next_ms(&th, 0), -1);

    /* A callback may arm another timer. */
    rearm_heap = &th;
    rearm_other = &d;
    rs_timer_init(&a, fire_and_arm, (void *)1L);
    rs_timer_arm(&th, &a, 10);
    CHECK_EQ(rs_timer_run(&th, 10), 2);
    CHECK_EQ(order[2], 1);
    CHECK_EQ(order[3], 4);
    CHECK_EQ(th.len, 0);
    rs_timer_heap_fini(&th);
}

/* Disarming a timer that is not armed (never, no more, or already fired) changes nothing. */
static void test_disarm_unarmed(void)
{
    struct rs_timer_heap th = {0};
    struct rs_timer a, b, never;
    nfired = 0;
    rs_timer_init(&a, fire, (void *)1L);
    rs_timer_init(&b, fire, (void *)2L);
    rs_timer_init(&never, fire, (void *)3L);
    rs_timer_disarm(&th, &never); /* on an empty heap that never allocated */
    CHECK_EQ(th.len, 0);
    rs_timer_arm(&th, &a, 100);
    rs_timer_arm(&th, &b, 200);
    rs_timer_disarm(&th, &never);
    CHECK_EQ(th.len, 2);
    CHECK_EQ(rs_timer_run(&th, 100), 1);
    rs_timer_disarm(&th, &a); /* already fired */
    CHECK_EQ(th.len, 1);
    CHECK(b.armed);
    CHECK_EQ(rs_timer_run(&th, 1000), 1);
    CHECK_EQ(order[1], 2);
    rs_timer_heap_fini(&th);
}

/* Equal due times fire in arm order; re-arming for the same time moves a timer to the back. */
static void test_ties(void)
{
    struct rs_timer_heap th = {0};
    struct rs_timer t[5];
    nfired = 0;
    for (long i = 0; i < 5; i++) {
        rs_timer_init(&t[i], fire, (void *)i);
        rs_timer_arm(&th, &t[i], 42);
    }
    rs_timer_arm(&th, &t[1], 42);
    CHECK_EQ(rs_timer_run(&th, 42), 5);
    static const int want[] = {0, 2, 3, 4, 1};
    for (int i = 0; i < 5; i++)
        CHECK_EQ(order[i], want[i]);
    rs_timer_heap_fini(&th);
}

/* Callbacks that arm and disarm other timers, and themselves, while rs_timer_run runs. */
static struct rs_timer_heap *cb_heap;
static struct rs_timer cb_t[8];
static int cb_log[16], cb_n;

static void cb_fire(struct rs_timer *t, void *arg)
{
    int id = (int)(long)arg;
    (void)t;
    cb_log[cb_n++] = id;
    switch (id) {
    case 0: /* cancels 1 (due in this pass) and moves 2 out of it */
        rs_timer_disarm(cb_heap, &cb_t[1]);
        rs_timer_arm(cb_heap, &cb_t[2], 500);
        break;
    case 3: /* first time: arms 4 for now (runs in this pass) and 5 for later; re-arms itself
             * for later */
        if (cb_n > 2)
            break;
        rs_timer_arm(cb_heap, &cb_t[4], 10);
        rs_timer_arm(cb_heap, &cb_t[5], 300);
        rs_timer_arm(cb_heap, &cb_t[3], 400);
        break;
    case 4: /* disarms itself (not armed any more: harmless) and pulls 6 into this pass */
        rs_timer_disarm(cb_heap, &cb_t[4]);
        rs_timer_arm(cb_heap, &cb_t[6], 20);
        break;
    default:
        break;
    }
}

static void test_callbacks(void)
{
    struct rs_timer_heap th = {0};
    cb_heap = &th;
    cb_n = 0;
    for (long i = 0; i < 8; i++)
        rs_timer_init(&cb_t[i], cb_fire, (void *)i);
    rs_timer_arm(&th, &cb_t[0], 10);
    rs_timer_arm(&th, &cb_t[1], 20);
    rs_timer_arm(&th, &cb_t[2], 30);
    rs_timer_arm(&th, &cb_t[3], 40);
    rs_timer_arm(&th, &cb_t[6], 1000);
    rs_timer_arm(&th, &cb_t[7], 50);
    CHECK_EQ(rs_timer_run(&th, 100), 5);
    static const int want1[] = {0, 3, 4, 6, 7};
    for (int i = 0; i < 5; i++)
        CHECK_EQ(cb_log[i], want1[i]);
    CHECK(!cb_t[1].armed);
    CHECK(cb_t[2].armed && cb_t[3].armed && cb_t[5].armed);
    CHECK_EQ(rs_timer_next_ns(&th, 100), 200); /* 5, at 300 */
    CHECK_EQ(rs_timer_run(&th, 1000), 3);
    static const int want2[] = {5, 3, 2};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cb_log[5 + i], want2[i]);
    CHECK_EQ(th.len, 0);
    rs_timer_heap_fini(&th);
}

/* Reserved room is allocated up front: arming that many never grows the array. */
static void test_reserve(void)
{
    struct rs_timer_heap th = {0};
    static struct rs_timer t[1000];
    CHECK_EQ(rs_timer_heap_reserve(&th, 1000), 0);
    CHECK(th.cap >= 1000);
    uint32_t cap = th.cap;
    const struct rs_timer_entry *ent = th.ent;
    for (unsigned i = 0; i < 1000; i++) {
        rs_timer_init(&t[i], fire, NULL);
        CHECK_EQ(rs_timer_arm(&th, &t[i], 1000 - i), 0);
    }
    CHECK(th.cap == cap && th.ent == ent);
    CHECK_EQ(((uintptr_t)&th.ent[1]) % 64, 0); /* the children of the root share a line */
    rs_timer_heap_unreserve(&th, 1000);
    CHECK_EQ(th.reserved, 0);
    CHECK_EQ(th.cap, cap);   /* the array is kept */
    rs_timer_heap_fini(&th); /* armed timers are forgotten, not touched */
    CHECK_EQ(th.len, 0);
    CHECK(th.ent == NULL);
}

/* 1M timers with random due times (many equal), a random half cancelled by handle, a random
 * eighth re-armed (moved up or down): exactly the others fire, each once, in due order and
 * arm order among equals, run in steps of increasing time. */
#define BIG_N (1u << 20)

struct big_timer {
    struct rs_timer t;
    uint64_t armed_seq; /* our own arm counter, to check the order of ties */
    bool cancelled;
    unsigned fired;
};

static struct {
    uint64_t last_due, last_seq, now;
    unsigned fired, bad_order, bad_due, bad_cancel;
} big;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static void big_fire(struct rs_timer *t, void *arg)
{
    struct big_timer *b = arg;
    if (t->due_ns < big.last_due || (t->due_ns == big.last_due && b->armed_seq < big.last_seq))
        big.bad_order++;
    if (t->due_ns > big.now)
        big.bad_due++;
    if (b->cancelled)
        big.bad_cancel++;
    big.last_due = t->due_ns;
    big.last_seq = b->armed_seq;
    b->fired++;
    big.fired++;
}

static void test_million(void)
{
    struct rs_timer_heap th = {0};
    struct big_timer *bt = calloc(BIG_N, sizeof(*bt));
    const uint64_t span = BIG_N / 4; /* due times in [1, span]: about 4 timers share each */
    uint64_t seq = 0;
    CHECK(bt != NULL);
    if (!bt)
        return;
    for (uint32_t i = 0; i < BIG_N; i++) {
        rs_timer_init(&bt[i].t, big_fire, &bt[i]);
        bt[i].armed_seq = seq++;
        CHECK_EQ(rs_timer_arm(&th, &bt[i].t, 1 + rnd() % span), 0);
    }
    CHECK_EQ(th.len, BIG_N);
    uint32_t cancelled = 0;
    for (uint32_t i = 0; i < BIG_N; i++) {
        if (rnd() & 1) {
            rs_timer_disarm(&th, &bt[i].t);
            bt[i].cancelled = true;
            cancelled++;
        }
    }
    CHECK_EQ(th.len, BIG_N - cancelled);
    for (uint32_t k = 0; k < BIG_N / 8; k++) {
        struct big_timer *b = &bt[rnd() % BIG_N];
        if (b->cancelled)
            continue;
        b->armed_seq = seq++;
        CHECK_EQ(rs_timer_arm(&th, &b->t, 1 + rnd() % span), 0);
    }
    CHECK_EQ(th.len, BIG_N - cancelled);
    /* Cancelling again, now that the heap has moved around, is still harmless. */
    for (uint32_t i = 0; i < 1000; i++)
        if (bt[i].cancelled)
            rs_timer_disarm(&th, &bt[i].t);
    CHECK_EQ(th.len, BIG_N - cancelled);

    const uint64_t step = span / 16 + 1;
    for (big.now = 0; th.len > 0; big.now += step) {
        unsigned before = big.fired;
        unsigned ran = rs_timer_run(&th, big.now);
        CHECK_EQ(ran, big.fired - before);
        int64_t next = rs_timer_next_ns(&th, big.now);
        CHECK(next != 0); /* nothing due was left behind */
    }
    CHECK_EQ(big.fired, BIG_N - cancelled);
    CHECK_EQ(big.bad_order, 0);
    CHECK_EQ(big.bad_due, 0);
    CHECK_EQ(big.bad_cancel, 0);
    unsigned wrong = 0;
    for (uint32_t i = 0; i < BIG_N; i++)
        wrong += bt[i].fired != (bt[i].cancelled ? 0u : 1u);
    CHECK_EQ(wrong, 0);
    rs_timer_heap_fini(&th);
    free(bt);
}

int main(void)
{
    test_basics();
    test_disarm_unarmed();
    test_ties();
    test_callbacks();
    test_reserve();
    test_million();
    return check_done("test_timer");
}
