#include "../check.h"
#include "ringsock/core/timer.h"

static int order[8];
static int nfired;

static void fire(struct rs_timer *t, void *arg)
{
    (void)t;
    order[nfired++] = (int)(long)arg;
}

static struct rs_timer_list *rearm_list;
static struct rs_timer *rearm_other;

static void fire_and_arm(struct rs_timer *t, void *arg)
{
    fire(t, arg);
    rs_timer_arm(rearm_list, rearm_other, 0); /* due at once: runs in the same pass */
}

int main(void)
{
    struct rs_timer_list tl = {0};
    struct rs_timer a, b, c, d;
    rs_timer_init(&a, fire, (void *)1L);
    rs_timer_init(&b, fire, (void *)2L);
    rs_timer_init(&c, fire, (void *)3L);
    rs_timer_init(&d, fire, (void *)4L);

    CHECK_EQ(rs_timer_next_ms(&tl, 0), -1);
    rs_timer_arm(&tl, &b, 2000000000ull);
    rs_timer_arm(&tl, &a, 1000000000ull);
    rs_timer_arm(&tl, &c, 3000000000ull);
    CHECK_EQ(rs_timer_next_ms(&tl, 0), 1000);
    CHECK_EQ(rs_timer_next_ms(&tl, 999500000ull), 1); /* rounds up, never 0 early */
    CHECK_EQ(rs_timer_next_ms(&tl, 5000000000ull), 0);

    rs_timer_disarm(&tl, &b);
    CHECK(!b.armed);
    rs_timer_disarm(&tl, &b);            /* twice is harmless */
    rs_timer_arm(&tl, &c, 500000000ull); /* re-arming moves it */

    CHECK_EQ(rs_timer_run(&tl, 600000000ull), 1);
    CHECK_EQ(order[0], 3);
    CHECK_EQ(rs_timer_run(&tl, 600000000ull), 0);
    CHECK_EQ(rs_timer_run(&tl, 9000000000ull), 1);
    CHECK_EQ(order[1], 1);
    CHECK_EQ(rs_timer_next_ms(&tl, 0), -1);

    /* A callback may arm another timer. */
    rearm_list = &tl;
    rearm_other = &d;
    rs_timer_init(&a, fire_and_arm, (void *)1L);
    rs_timer_arm(&tl, &a, 10);
    CHECK_EQ(rs_timer_run(&tl, 10), 2);
    CHECK_EQ(order[2], 1);
    CHECK_EQ(order[3], 4);
    CHECK(tl.head == NULL);
    return check_done("test_timer");
}
