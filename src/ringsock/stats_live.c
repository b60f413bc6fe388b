/* --stats: per-worker rates, printed by the main thread from readings of the workers' counters.
 * A rate is the difference of two readings over the time between them; a mean batch size is
 * the difference of events over the difference of batches in the same interval. */

#include "stats_live.h"

#include <inttypes.h>

#include "ringsock/util/alloc.h"

/* What one line needs from one worker's counters (or from all of them, summed). */
struct reading {
    uint64_t accepted, closed;
    uint64_t msgs; /* TCP receives that delivered data, plus datagrams received */
    uint64_t bytes_in, bytes_out;
    uint64_t batches, events; /* loop turns that reaped events, and how many */
    uint64_t backpressure, enobufs;
    uint64_t udp_in, udp_batches_in, udp_out, udp_batches_out;
    uint64_t http_requests;
};

struct rs_stats_live {
    const struct rs_stats *const *workers;
    unsigned n;
    unsigned flags;
    uint64_t start_ns, last_ns;
    struct reading *last; /* n readings, then their sum */
};

static uint64_t load(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void reading_take(struct reading *r, const struct rs_stats *st)
{
    /* Closed before accepted: a connection is counted accepted before it can be closed, so the
     * difference (open connections) does not go below zero. */
    r->closed = load(&st->conns_closed);
    r->accepted = load(&st->conns_accepted);
    r->udp_in = load(&st->dgrams_in);
    r->msgs = load(&st->recvs) + r->udp_in;
    r->bytes_in = load(&st->bytes_in) + load(&st->dgram_bytes_in);
    r->bytes_out = load(&st->bytes_out) + load(&st->dgram_bytes_out);
    r->batches = load(&st->loop_batches);
    r->events = load(&st->loop_events);
    r->backpressure = load(&st->backpressure);
    r->enobufs = load(&st->enobufs);
    r->udp_batches_in = load(&st->dgram_batches_in);
    r->udp_out = load(&st->dgrams_out);
    r->udp_batches_out = load(&st->dgram_batches_out);
    r->http_requests = load(&st->http_requests);
}

static void reading_add(struct reading *sum, const struct reading *r)
{
    sum->accepted += r->accepted;
    sum->closed += r->closed;
    sum->msgs += r->msgs;
    sum->bytes_in += r->bytes_in;
    sum->bytes_out += r->bytes_out;
    sum->batches += r->batches;
    sum->events += r->events;
    sum->backpressure += r->backpressure;
    sum->enobufs += r->enobufs;
    sum->udp_in += r->udp_in;
    sum->udp_batches_in += r->udp_batches_in;
    sum->udp_out += r->udp_out;
    sum->udp_batches_out += r->udp_batches_out;
    sum->http_requests += r->http_requests;
}

struct rs_stats_live *rs_stats_live_new(const struct rs_stats *const *workers, unsigned n,
                                        unsigned flags, uint64_t now_ns)
{
    struct rs_stats_live *sl = rs_calloc(1, sizeof(*sl));
    if (!sl)
        return NULL;
    sl->last = rs_calloc((size_t)n + 1, sizeof(*sl->last));
    if (!sl->last) {
        rs_free(sl);
        return NULL;
    }
    sl->workers = workers;
    sl->n = n;
    sl->flags = flags;
    sl->start_ns = sl->last_ns = now_ns;
    for (unsigned i = 0; i < n; i++) {
        reading_take(&sl->last[i], workers[i]);
        reading_add(&sl->last[n], &sl->last[i]);
    }
    return sl;
}

void rs_stats_live_free(struct rs_stats_live *sl)
{
    if (!sl)
        return;
    rs_free(sl->last);
    rs_free(sl);
}

static double mean(uint64_t total, uint64_t count)
{
    return count ? (double)total / (double)count : 0.0;
}

static void print_line(const struct rs_stats_live *sl, FILE *f, double t, double dt,
                       const char *who, const struct reading *now, const struct reading *then)
{
    uint64_t open = now->accepted > now->closed ? now->accepted - now->closed : 0;
    fprintf(f,
            "ringsock: stats t=%.1f w=%s open=%" PRIu64 " accepts=%" PRIu64
            " accepts_per_s=%.1f msgs_per_s=%.1f in_bytes_per_s=%.0f out_bytes_per_s=%.0f"
            " batch=%.2f backpressure=%" PRIu64 " enobufs=%" PRIu64,
            t, who, open, now->accepted - then->accepted,
            (double)(now->accepted - then->accepted) / dt, (double)(now->msgs - then->msgs) / dt,
            (double)(now->bytes_in - then->bytes_in) / dt,
            (double)(now->bytes_out - then->bytes_out) / dt,
            mean(now->events - then->events, now->batches - then->batches),
            now->backpressure - then->backpressure, now->enobufs - then->enobufs);
    if (sl->flags & RS_LIVE_UDP)
        fprintf(f, " udp_batch_in=%.2f udp_batch_out=%.2f",
                mean(now->udp_in - then->udp_in, now->udp_batches_in - then->udp_batches_in),
                mean(now->udp_out - then->udp_out, now->udp_batches_out - then->udp_batches_out));
    if (sl->flags & RS_LIVE_HTTP)
        fprintf(f, " reqs_per_s=%.1f", (double)(now->http_requests - then->http_requests) / dt);
    fputc('\n', f);
}

void rs_stats_live_print(struct rs_stats_live *sl, FILE *f, uint64_t now_ns)
{
    double dt = (double)(now_ns - sl->last_ns) / 1e9;
    double t = (double)(now_ns - sl->start_ns) / 1e9;
    struct reading sum = {0};
    char who[16];

    if (dt <= 0)
        dt = 1e-9;
    for (unsigned i = 0; i < sl->n; i++) {
        struct reading r;
        reading_take(&r, sl->workers[i]);
        snprintf(who, sizeof(who), "%u", i);
        print_line(sl, f, t, dt, who, &r, &sl->last[i]);
        sl->last[i] = r;
        reading_add(&sum, &r);
    }
    print_line(sl, f, t, dt, "all", &sum, &sl->last[sl->n]);
    sl->last[sl->n] = sum;
    sl->last_ns = now_ns;
    fflush(f);
}
