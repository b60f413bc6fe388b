/* ringload's client base: the constant-rate schedule, driven through a fake protocol whose
 * room and sends the test sets. Each send's intended time comes from the schedule however late
 * it goes out (coordinated omission corrected); sched_behind counts sends over 1 ms late with
 * room to send; sched_blocked counts each send held back by a full --depth once. */

#include <string.h>

#include "load_client.h"
#include "../check.h"
#include "ringsock/util/alloc.h"

#define MS 1000000ull
#define T0 (1000 * MS)

struct fake {
    struct load_client cl;
    uint64_t room;          /* what room() says */
    uint64_t take;          /* most a send() takes */
    uint64_t intended[256]; /* of every message sent, by seq */
};

static int fake_open(struct load_client *cl)
{
    cl->ready = true;
    return 0;
}

static void fake_fini(struct load_client *cl)
{
    (void)cl;
}

static bool fake_check(struct load_client *cl, uint64_t now)
{
    (void)cl;
    (void)now;
    return true;
}

static uint64_t fake_room(const struct load_client *cl)
{
    return ((const struct fake *)cl)->room;
}

static uint64_t fake_send(struct load_client *cl, uint64_t k, uint64_t first, uint64_t step,
                          uint64_t now)
{
    struct fake *f = (struct fake *)cl;
    uint64_t n = k < f->take ? k : f->take;
    (void)now;
    CHECK(k <= f->room);
    for (uint64_t i = 0; i < n; i++)
        f->intended[cl->next_seq++ % 256] = first + i * step;
    f->room -= n;
    return n;
}

static uint64_t fake_outstanding(const struct load_client *cl)
{
    (void)cl;
    return 0;
}

static const struct load_client_ops fake_ops = {
    .open = fake_open,
    .fini = fake_fini,
    .check = fake_check,
    .room = fake_room,
    .send = fake_send,
    .outstanding = fake_outstanding,
};

static const struct load_proto fake_proto = {
    .name = "fake",
    .run = &load_client_run,
    .client = &fake_ops,
    .client_size = sizeof(struct fake),
};

static struct load_thread thread;

/* One client on one thread, at rate msgs/s (0: closed loop). Returns it, or NULL. */
static struct fake *setup(struct rs_load_opts *o, double rate)
{
    struct load_thread *t = &thread;
    struct rs_loop_config cfg;
    int err;
    memset(o, 0, sizeof(*o));
    memset(t, 0, sizeof(*t));
    o->rate = rate;
    o->conns = 1;
    o->conns_total = 1;
    o->depth = 4;
    t->o = o;
    t->proto = &fake_proto;
    t->nconns = 1;
    t->conn_rate = rate;
    t->t0 = T0;
    t->t_measure = T0;
    t->t_end = T0 + 10000 * MS;
    t->sending = true;
    t->started = true;
    rs_loop_config_default(&cfg);
    cfg.backend = RS_BACKEND_EPOLL;
    t->loop = rs_loop_new(&cfg, &t->stats, &err);
    if (!t->loop || rs_hist_init(&t->hist, RS_HIST_DEFAULT_MAX) < 0 || t->proto->run->start(t) < 0)
        return NULL;
    struct fake *f = t->clients;
    f->take = UINT64_MAX;
    return f;
}

static void teardown(void)
{
    struct load_thread *t = &thread;
    rs_loop_timer_disarm(t->loop, &t->send_timer);
    t->proto->run->free(t);
    rs_hist_fini(&t->hist);
    rs_loop_free(t->loop);
}

static void closed_loop(void)
{
    struct rs_load_opts o;
    struct fake *f = setup(&o, 0);
    CHECK(f != NULL);
    if (!f)
        return;
    f->room = 3;
    load_client_pump(&f->cl, T0 + 5);
    CHECK_EQ(f->cl.next_seq, 3); /* the room filled, each intended now */
    CHECK_EQ(f->intended[2], T0 + 5);
    thread.sending = false;
    f->room = 3;
    load_client_pump(&f->cl, T0 + 6);
    CHECK_EQ(f->cl.next_seq, 3); /* nothing once the window is over */
    teardown();
}

static void constant_rate(void)
{
    struct rs_load_opts o;
    struct fake *f = setup(&o, 1000); /* one send per ms, the first due at T0 */
    CHECK(f != NULL);
    if (!f)
        return;
    struct load_thread *t = &thread;
    CHECK(f->cl.scheduled); /* ready at once: waits in the heap for its first send */

    /* 3.5 ms in: four sends due, intended T0 .. T0+3ms; three of them over 1 ms late. */
    f->room = 10;
    load_client_pump(&f->cl, T0 + 3 * MS + MS / 2);
    CHECK_EQ(f->cl.next_seq, 4);
    CHECK_EQ(f->intended[0], T0);
    CHECK_EQ(f->intended[3], T0 + 3 * MS);
    CHECK_EQ(LOAD_GET(t, sched_behind), 3);
    CHECK_EQ(f->cl.next_due, T0 + 4 * MS);

    /* --depth full when T0+4ms is due: held back, counted once however often it is tried. */
    f->room = 0;
    load_client_pump(&f->cl, T0 + 6 * MS);
    load_client_pump(&f->cl, T0 + 7 * MS);
    CHECK_EQ(f->cl.next_seq, 4);
    CHECK_EQ(LOAD_GET(t, sched_blocked), 1);

    /* An answer makes room for one: it goes, timed from its intended T0+4ms (not behind, the
     * server held it), and the next one due is held back in turn. */
    f->room = 1;
    load_client_pump(&f->cl, T0 + 7 * MS + MS / 5);
    CHECK_EQ(f->cl.next_seq, 5);
    CHECK_EQ(f->intended[4], T0 + 4 * MS);
    CHECK_EQ(LOAD_GET(t, sched_blocked), 2);
    CHECK_EQ(LOAD_GET(t, sched_behind), 3);

    /* Room again: catches up on T0+5..7ms, none counted behind, then waits for T0+8ms. */
    f->room = 10;
    load_client_pump(&f->cl, T0 + 7 * MS + MS / 2);
    CHECK_EQ(f->cl.next_seq, 8);
    CHECK_EQ(f->intended[7], T0 + 7 * MS);
    CHECK_EQ(LOAD_GET(t, sched_behind), 3);
    CHECK(f->cl.scheduled);
    CHECK(!f->cl.was_blocked);

    /* Not connected when T0+8ms is due: held back, but not a full --depth. */
    f->cl.ready = false;
    load_client_pump(&f->cl, T0 + 9 * MS + MS / 2);
    CHECK_EQ(f->cl.next_seq, 8);
    CHECK_EQ(LOAD_GET(t, sched_blocked), 2);
    /* A new connection does not owe what it missed. */
    f->cl.ready = true;
    load_client_skip_missed(&f->cl, T0 + 9 * MS + MS / 2);
    load_client_pump(&f->cl, T0 + 9 * MS + MS / 2);
    CHECK_EQ(f->cl.next_seq, 9);
    CHECK_EQ(f->intended[8], T0 + 9 * MS + MS / 2);
    CHECK_EQ(LOAD_GET(t, sched_behind), 3);

    /* A send that takes fewer (a full socket): the schedule moves on by what went. */
    f->take = 1;
    load_client_pump(&f->cl, T0 + 12 * MS + MS / 2);
    CHECK_EQ(f->cl.next_seq, 10);
    CHECK_EQ(f->cl.next_due, T0 + 11 * MS + MS / 2);
    teardown();
}

static void record(void)
{
    struct rs_load_opts o;
    struct fake *f = setup(&o, 0);
    CHECK(f != NULL);
    if (!f)
        return;
    struct load_thread *t = &thread;
    load_client_record(t, T0 - 1, T0 + 5); /* warm-up: counted, not measured */
    load_client_record(t, T0 + 1, T0 + 5);
    CHECK_EQ(LOAD_GET(t, msgs_all), 2);
    CHECK_EQ(LOAD_GET(t, msgs), 1);
    CHECK_EQ(t->hist.total, 1);
    CHECK_EQ(t->hist.max, 4);
    teardown();
}

/* --shard: three shards of -c 10 -R 1000 (10 ms per connection), each with its own share of
 * the global connection numbers, started at one t0: their first sends together fall on every
 * millisecond from t0, one each, as one unsharded run's would. */
static void shard_schedule(void)
{
    unsigned seen[10] = {0};
    for (unsigned shard = 0; shard < 3; shard++) {
        struct rs_load_opts o;
        struct load_thread *t = &thread;
        struct rs_loop_config cfg;
        int err;
        memset(&o, 0, sizeof(o));
        memset(t, 0, sizeof(*t));
        o.conns_total = 10;
        o.rate_total = 1000;
        o.shard_index = shard;
        o.shard_count = 3;
        rs_load_shard_split(10, shard, 3, &o.conn_base, &o.conns);
        o.rate = o.rate_total * o.conns / o.conns_total;
        o.depth = 4;
        t->o = &o;
        t->proto = &fake_proto;
        t->nconns = o.conns;
        t->first_conn = o.conn_base;
        t->conn_rate = o.rate_total / o.conns_total;
        t->t0 = T0;
        t->t_measure = T0;
        t->t_end = T0 + 10000 * MS;
        t->sending = true;
        t->started = false; /* --start-at: nothing goes out before t0 */
        rs_loop_config_default(&cfg);
        cfg.backend = RS_BACKEND_EPOLL;
        t->loop = rs_loop_new(&cfg, &t->stats, &err);
        CHECK(t->loop != NULL);
        if (!t->loop)
            return;
        CHECK_EQ(rs_hist_init(&t->hist, RS_HIST_DEFAULT_MAX), 0);
        CHECK_EQ(t->proto->run->start(t), 0);
        CHECK(t->start_timer.armed);
        CHECK(t->start_timer.due_ns <= T0 && t->start_timer.due_ns >= T0 - 10 * MS);
        struct fake *f = t->clients;
        for (unsigned i = 0; i < t->nconns; i++) {
            f[i].take = UINT64_MAX;
            f[i].room = 4;
            CHECK(!f[i].cl.scheduled);
            load_client_pump(&f[i].cl, T0 + 50 * MS); /* connected, but before the start */
            CHECK_EQ(f[i].cl.next_seq, 0);
            uint64_t due = f[i].cl.next_due;
            CHECK(due >= T0 && (due - T0) % MS == 0 && due < T0 + 10 * MS);
            if (due >= T0 && due < T0 + 10 * MS)
                seen[(due - T0) / MS]++;
            CHECK_EQ(f[i].cl.id, o.conn_base + i);
        }
        rs_loop_timer_disarm(t->loop, &t->start_timer);
        t->proto->run->free(t);
        rs_hist_fini(&t->hist);
        rs_loop_free(t->loop);
    }
    for (unsigned k = 0; k < 10; k++)
        CHECK_EQ(seen[k], 1);
}

/* Rate mode, a thread that did not run over the end of the window (a stall, a busy machine):
 * the sends intended before the end are still owed, and go out late, timed from their intended
 * times, when it runs again; none intended at or after the end. Before, the tick that saw the
 * window over ended sending first, and those messages were never sent nor counted: a sharded
 * run came out short of -R. */
static void window_end_owed(void)
{
    struct rs_load_opts o;
    struct fake *f = setup(&o, 1000); /* one send per ms, the first due at T0 */
    CHECK(f != NULL);
    if (!f)
        return;
    struct load_thread *t = &thread;
    t->t_end = T0 + 10 * MS;
    f->room = 100;
    load_client_pump(&f->cl, T0 + 3 * MS + MS / 2); /* T0 .. T0+3ms */
    CHECK_EQ(f->cl.next_seq, 4);
    /* Stalled from 3.5 ms to 25 ms: the tick comes first (then, nothing being outstanding with
     * this fake, the run is done). */
    t->proto->run->tick(t, T0 + 25 * MS);
    CHECK_EQ(f->cl.next_seq, 10); /* T0+4ms .. T0+9ms went out, late */
    CHECK_EQ(f->intended[9], T0 + 9 * MS);
    load_client_pump(&f->cl, T0 + 30 * MS);
    CHECK_EQ(f->cl.next_seq, 10); /* nothing intended at or after the end */
    teardown();
}

int main(void)
{
    closed_loop();
    constant_rate();
    record();
    shard_schedule();
    window_end_owed();
    return check_done("test_load_client");
}
