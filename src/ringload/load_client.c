/* ringload's client base (see load_client.h): each client's send schedule, the thread's send
 * heap and timer for constant-rate mode, and the thread's tick (warm-up, the measured window,
 * then draining what is outstanding up to --timeout). Protocols plug in through
 * struct load_client_ops; nothing here knows which one runs. */

#include <errno.h>

#include "load_client.h"
#include "ringsock/util/alloc.h"

/* A pump sends at most this many batches, so a client with no limit of its own (UDP
 * --send-only) cannot hold the loop. */
#define LOAD_PUMP_ROUNDS 8
/* A send more than this late, with room to send, means the generator fell behind. */
#define LOAD_BEHIND_NS 1000000
/* --start-at: the thread wakes this much before the instant and spins to it, so the start does
 * not wait for a wake-up to be scheduled (shards on several machines start within ~0.1 ms). */
#define LOAD_START_EARLY_NS 2000000

static struct load_client *client_at(const struct load_thread *t, uint32_t idx)
{
    return (struct load_client *)((char *)t->clients + (size_t)idx * t->proto->client_size);
}

/* Rate mode: (re)arms the send timer for the earliest scheduled send. */
static void sched_arm(struct load_thread *t)
{
    uint64_t next = load_sched_next(&t->sched);
    if (next == UINT64_MAX || t->finishing) {
        rs_loop_timer_disarm(t->loop, &t->send_timer);
        return;
    }
    if (!t->send_timer.armed || t->send_timer.due_ns != next)
        rs_loop_timer_arm_at(t->loop, &t->send_timer, next);
}

/* Rate mode: true while cl's next send was intended inside the run (before t_end): it is owed,
 * however late the thread gets to it (after a stall past the end of the window too). */
static bool owes(const struct load_client *cl)
{
    return !cl->t->finishing && cl->next_due < cl->t->t_end;
}

/* Rate mode: a client whose next send lies ahead waits in the heap; one held back (--depth
 * full, or not connected) is not there, and an answer or a connect pumps it again. */
static void reschedule(struct load_client *cl, uint64_t now)
{
    struct load_thread *t = cl->t;
    if (t->o->rate == 0 || cl->scheduled || !cl->ready || !owes(cl) || !t->started ||
        cl->next_due <= now)
        return;
    if (load_sched_push(&t->sched, cl->next_due, cl->id - t->first_conn) == 0) {
        cl->scheduled = true;
        sched_arm(t);
    }
}

/* Closed loop: fills the room the client has. */
static void send_closed_loop(struct load_client *cl, uint64_t now)
{
    const struct load_client_ops *ops = cl->t->proto->client;
    for (int round = 0; round < LOAD_PUMP_ROUNDS && cl->t->sending && cl->ready; round++) {
        uint64_t k = ops->room(cl);
        if (k == 0 || ops->send(cl, k, now, 0, now) < k)
            return;
    }
}

/* Rate mode: sends what is due (intended before the end of the run), each message intended at
 * its place in the schedule, however late it goes out. A send due while the client cannot send is
 * held back: its latency keeps running from its intended time, so a stall shows in full. It is
 * counted in sched_blocked (once per send) when the client is connected and its --depth is full:
 * the server is slow. */
static void send_due_now(struct load_client *cl, uint64_t now)
{
    struct load_thread *t = cl->t;
    const struct load_client_ops *ops = t->proto->client;
    uint64_t gap = (uint64_t)(1e9 / t->conn_rate);

    for (int round = 0; round < LOAD_PUMP_ROUNDS; round++) {
        if (!owes(cl) || cl->next_due > now) {
            cl->was_blocked = false; /* caught up */
            return;
        }
        uint64_t room = cl->ready ? ops->room(cl) : 0;
        if (room == 0) {
            if (cl->ready && !cl->held) {
                LOAD_INC(t, sched_blocked);
                cl->held = true;
            }
            cl->was_blocked = true;
            return;
        }
        uint64_t late = now - cl->next_due;
        uint64_t k = gap ? late / gap + 1 : room;                            /* sends due by now */
        uint64_t owed = gap ? (t->t_end - cl->next_due + gap - 1) / gap : k; /* before the end */
        k = k < owed ? k : owed;
        k = k < room ? k : room;
        /* Over 1 ms late with room to send, and not catching up after being held back. */
        if (!cl->was_blocked && late > LOAD_BEHIND_NS) {
            uint64_t behind = gap ? (late - LOAD_BEHIND_NS + gap - 1) / gap : k;
            LOAD_ADD(t, sched_behind, behind < k ? behind : k);
        }
        uint64_t n = ops->send(cl, k, cl->next_due, gap, now);
        if (n > 0) {
            cl->next_due += n * gap;
            cl->held = false;
        }
        if (n < k)
            return;
    }
}

void load_client_pump(struct load_client *cl, uint64_t now)
{
    if (!cl->t->started)
        return; /* --start-at: nothing goes out before it, connected or not */
    if (cl->t->o->rate == 0)
        send_closed_loop(cl, now);
    else
        send_due_now(cl, now);
    reschedule(cl, now);
}

void load_client_skip_missed(struct load_client *cl, uint64_t now)
{
    if (cl->t->o->rate > 0 && cl->next_due < now) {
        cl->next_due = now;
        cl->held = false;
    }
}

void load_client_record(struct load_thread *t, uint64_t intended, uint64_t now)
{
    if (load_in_window(t, intended)) {
        rs_hist_record(&t->hist, now > intended ? now - intended : 0);
        LOAD_INC(t, msgs);
    }
    LOAD_INC(t, msgs_all);
}

/* The send timer: pumps every client whose next send is due. */
static void send_timer_fired(struct rs_timer *tm, void *arg)
{
    struct load_thread *t = arg;
    uint64_t now = rs_now_ns();
    uint32_t idx;
    (void)tm;
    while (load_sched_pop_due(&t->sched, now, &idx)) {
        struct load_client *cl = client_at(t, idx);
        cl->scheduled = false;
        load_client_pump(cl, now);
    }
    sched_arm(t);
}

/* Per-second message counts for the thread stats, and p99 for the progress line. */
static void publish_sample(struct load_thread *t, uint64_t now)
{
    uint64_t msgs = LOAD_GET(t, msgs);
    if (t->last_sample_ns == 0) {
        t->last_sample_ns = t->t_measure;
        t->last_sample_msgs = 0;
    }
    while (now >= t->last_sample_ns + 1000000000ull && now <= t->t_end + 1000000000ull) {
        if (t->nsamples < LOAD_MAX_SECONDS && t->last_sample_ns + 1000000000ull <= t->t_end)
            t->samples[t->nsamples++] = msgs - t->last_sample_msgs;
        t->last_sample_msgs = msgs;
        t->last_sample_ns += 1000000000ull;
        atomic_store_explicit(&t->cnt.p99_ns, rs_hist_percentile(&t->hist, 99),
                              memory_order_relaxed);
    }
}

/* --start-at's instant: sending begins. The clients not connected by now are counted (the run
 * fails for them, main.c); the others are pumped: closed loop fills --depth, rate mode sends
 * what is due and schedules the rest. */
static void start_timer_fired(struct rs_timer *tm, void *arg)
{
    struct load_thread *t = arg;
    uint64_t now = rs_now_ns();
    (void)tm;
    if (t->started || !t->sending)
        return;         /* interrupted before the start */
    while (now < t->t0) /* at most LOAD_START_EARLY_NS */
        now = rs_now_ns();
    t->started = true;
    t->started_ns = now;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct load_client *cl = client_at(t, i);
        if (!cl->ready)
            t->not_open_at_start++;
        load_client_pump(cl, now);
    }
}

/* Sets up the thread's clients and opens them. Returns 0 or -errno. */
static int client_start(struct load_thread *t)
{
    const struct load_proto *p = t->proto;
    int err;

    rs_timer_init(&t->send_timer, send_timer_fired, t);
    rs_timer_init(&t->start_timer, start_timer_fired, t);
    t->clients = rs_calloc(t->nconns, p->client_size);
    if (!t->clients)
        return -ENOMEM;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct load_client *cl = client_at(t, i);
        cl->t = t;
        cl->id = t->first_conn + i;
        /* Spread the clients' schedules over one period so sends do not come in bursts: by
         * global number over the run's connections, so the shards of a run (--shard) that
         * share t0 (--start-at) interleave into one evenly spaced schedule. */
        if (t->o->rate > 0)
            cl->next_due = t->t0 + (uint64_t)(1e9 / t->conn_rate * cl->id / t->o->conns_total);
    }
    if (t->o->rate > 0 && load_sched_init(&t->sched, t->nconns) < 0)
        return -ENOMEM;
    if (p->thread_start) {
        err = p->thread_start(t);
        if (err < 0)
            return err;
    }
    for (unsigned i = 0; i < t->nconns; i++) {
        struct load_client *cl = client_at(t, i);
        err = p->client->open(cl);
        if (err < 0)
            return err;
        if (t->started)
            reschedule(cl, 0); /* a client ready at once (UDP) waits for its first send */
    }
    if (!t->started)
        rs_loop_timer_arm_at(t->loop, &t->start_timer,
                             t->t0 > LOAD_START_EARLY_NS ? t->t0 - LOAD_START_EARLY_NS : 0);
    return 0;
}

/* The tick: times out and reopens, sends what the timer did not, and ends the run once the
 * window is over and everything is answered, or --timeout later. Returns true when done. */
static bool client_tick(struct load_thread *t, uint64_t now)
{
    const struct load_client_ops *ops = t->proto->client;
    bool idle = true;

    if (t->sending && now >= t->t_end)
        t->sending = false;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct load_client *cl = client_at(t, i);
        if (!ops->check(cl, now))
            continue;
        load_client_pump(cl, now);
        if (ops->outstanding(cl) > 0)
            idle = false;
    }
    if (now >= t->t_measure)
        publish_sample(t, now);
    if (t->sending || (!idle && now < t->t_end + t->o->timeout_ns))
        return false;
    t->finishing = true;
    for (unsigned i = 0; ops->stop && i < t->nconns; i++)
        ops->stop(client_at(t, i));
    return true;
}

static uint64_t client_tick_ms(const struct load_thread *t)
{
    (void)t;
    return 10;
}

/* Counts what the clients leave unanswered and frees them. */
static void client_free(struct load_thread *t)
{
    const struct load_proto *p = t->proto;
    if (t->clients) {
        for (unsigned i = 0; i < t->nconns; i++)
            p->client->fini(client_at(t, i));
        rs_free(t->clients);
        t->clients = NULL;
    }
    if (t->start_timer.armed)
        rs_loop_timer_disarm(t->loop, &t->start_timer);
    load_sched_fini(&t->sched);
    if (p->thread_free)
        p->thread_free(t);
}

const struct load_run load_client_run = {
    .start = client_start,
    .tick = client_tick,
    .tick_ms = client_tick_ms,
    .free = client_free,
};
