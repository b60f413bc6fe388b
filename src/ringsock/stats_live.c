/* --stats: per-worker rates, printed by the main thread from readings of the workers' counters.
 * The columns are the ones the active counter blocks declare, in the order they declare them;
 * blocks declaring the same column add their terms to it. A rate is the difference of two
 * readings over the time between them; a mean is the difference of its numerators over the
 * difference of its denominators in the same interval. */

#include "stats_live.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "ringsock/util/alloc.h"

#define LIVE_MAX_COLS  32
#define LIVE_MAX_TERMS 4 /* blocks that may add to one column */

struct term {
    unsigned plus, minus; /* slots in a reading */
    bool has_minus;
    bool gauge; /* plus is a gauge: its DELTA is its value */
};

struct col {
    const char *name;
    enum rs_live_show show;
    unsigned decimals;
    unsigned nterms;
    struct term terms[LIVE_MAX_TERMS];
};

struct rs_stats_live {
    const struct rs_counter_set *set;
    unsigned n;      /* workers */
    unsigned nslots; /* counters in a reading */
    unsigned ncols;
    struct col cols[LIVE_MAX_COLS];
    uint64_t start_ns, last_ns;
    uint64_t *last; /* n + 1 readings: each worker's, then their sum */
    uint64_t *now;  /* 2 readings: a worker's now, and the sum being made */
};

static struct col *col_find(struct rs_stats_live *sl, const char *name)
{
    for (unsigned i = 0; i < sl->ncols; i++)
        if (strcmp(sl->cols[i].name, name) == 0)
            return &sl->cols[i];
    return NULL;
}

/* Adds the columns of the active blocks. Returns 0, or -E2BIG past the limits. */
static int cols_build(struct rs_stats_live *sl)
{
    const struct rs_counter_set *s = sl->set;
    for (unsigned b = 0; b < rs_counter_set_nblocks(s); b++) {
        const struct rs_counter_block *blk = rs_counter_set_block_at(s, b);
        unsigned base = rs_counter_set_slot(s, b);
        if (!rs_counter_set_is_active(s, b))
            continue;
        for (unsigned i = 0; i < blk->nlive; i++) {
            const struct rs_live_col *lc = &blk->live[i];
            struct col *c = col_find(sl, lc->name);
            if (!c) {
                if (sl->ncols == LIVE_MAX_COLS)
                    return -E2BIG;
                c = &sl->cols[sl->ncols++];
                *c = (struct col){.name = lc->name, .show = lc->show, .decimals = lc->decimals};
            }
            if (c->nterms == LIVE_MAX_TERMS)
                return -E2BIG;
            c->terms[c->nterms++] = (struct term){
                .plus = base + (unsigned)lc->plus,
                .minus = lc->minus >= 0 ? base + (unsigned)lc->minus : 0,
                .has_minus = lc->minus >= 0,
                .gauge = blk->desc[lc->plus].kind == RS_KIND_GAUGE,
            };
        }
    }
    return 0;
}

struct rs_stats_live *rs_stats_live_new(const struct rs_counter_set *set, uint64_t now_ns)
{
    struct rs_stats_live *sl = rs_calloc(1, sizeof(*sl));
    if (!sl)
        return NULL;
    sl->set = set;
    sl->n = rs_counter_set_workers(set);
    sl->nslots = rs_counter_set_nslots(set);
    if (cols_build(sl) < 0)
        goto out_free;
    /* (+ 1: a set without counters still gets buffers) */
    sl->last = rs_calloc(((size_t)sl->n + 1) * sl->nslots + 1, sizeof(*sl->last));
    sl->now = rs_calloc(2 * (size_t)sl->nslots + 1, sizeof(*sl->now));
    if (!sl->last || !sl->now)
        goto out_free;
    sl->start_ns = sl->last_ns = now_ns;
    uint64_t *sum = sl->last + (size_t)sl->n * sl->nslots;
    for (unsigned w = 0; w < sl->n; w++) {
        uint64_t *r = sl->last + (size_t)w * sl->nslots;
        rs_counter_set_read(set, w, r);
        for (unsigned k = 0; k < sl->nslots; k++)
            sum[k] += r[k];
    }
    return sl;

out_free:
    rs_stats_live_free(sl);
    return NULL;
}

void rs_stats_live_free(struct rs_stats_live *sl)
{
    if (!sl)
        return;
    rs_free(sl->now);
    rs_free(sl->last);
    rs_free(sl);
}

/* Prints " name=value" for column c between two readings dt seconds apart. */
static void print_col(FILE *f, const struct col *c, const uint64_t *now, const uint64_t *then,
                      double dt)
{
    uint64_t a = 0, b = 0; /* plus and minus, levels or increases */
    for (unsigned i = 0; i < c->nterms; i++) {
        const struct term *t = &c->terms[i];
        bool level = c->show == RS_LIVE_LEVEL || (c->show == RS_LIVE_DELTA && t->gauge);
        a += level ? now[t->plus] : now[t->plus] - then[t->plus];
        if (t->has_minus)
            b += level ? now[t->minus] : now[t->minus] - then[t->minus];
    }
    switch (c->show) {
    case RS_LIVE_LEVEL:
        fprintf(f, " %s=%" PRIu64, c->name, a > b ? a - b : 0);
        break;
    case RS_LIVE_DELTA:
        fprintf(f, " %s=%" PRIu64, c->name, a);
        break;
    case RS_LIVE_RATE:
        fprintf(f, " %s=%.*f", c->name, (int)c->decimals, (double)a / dt);
        break;
    case RS_LIVE_MEAN:
        fprintf(f, " %s=%.*f", c->name, (int)c->decimals, b ? (double)a / (double)b : 0.0);
        break;
    }
}

static void print_line(const struct rs_stats_live *sl, FILE *f, double t, double dt,
                       const char *who, const uint64_t *now, const uint64_t *then)
{
    fprintf(f, "ringsock: stats t=%.1f w=%s", t, who);
    for (unsigned i = 0; i < sl->ncols; i++)
        print_col(f, &sl->cols[i], now, then, dt);
    fputc('\n', f);
}

void rs_stats_live_print(struct rs_stats_live *sl, FILE *f, uint64_t now_ns)
{
    double dt = (double)(now_ns - sl->last_ns) / 1e9;
    double t = (double)(now_ns - sl->start_ns) / 1e9;
    uint64_t *r = sl->now, *sum = sl->now + sl->nslots;
    uint64_t *last_sum = sl->last + (size_t)sl->n * sl->nslots;
    char who[16];

    if (dt <= 0)
        dt = 1e-9;
    memset(sum, 0, sl->nslots * sizeof(*sum));
    for (unsigned w = 0; w < sl->n; w++) {
        uint64_t *last = sl->last + (size_t)w * sl->nslots;
        rs_counter_set_read(sl->set, w, r);
        snprintf(who, sizeof(who), "%u", w);
        print_line(sl, f, t, dt, who, r, last);
        memcpy(last, r, sl->nslots * sizeof(*r));
        for (unsigned k = 0; k < sl->nslots; k++)
            sum[k] += r[k];
    }
    print_line(sl, f, t, dt, "all", sum, last_sum);
    memcpy(last_sum, sum, sl->nslots * sizeof(*sum));
    sl->last_ns = now_ns;
    fflush(f);
}
