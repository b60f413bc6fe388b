/* The counter registry in the Prometheus text exposition format (0.0.4): names by rule from the
 * descriptors, one series per worker, read with relaxed loads. */

#include "ringsock/util/prom.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <string.h>

#include "ringsock/util/alloc.h"

/* Abbreviations of the registry's names, spelled out in metric names (whole words only). */
static const char *const spelled[][2] = {
    {"conns", "connections"}, {"dgrams", "datagrams"}, {"dgram", "datagram"},
    {"in", "received"},       {"out", "sent"},
};

/* Base units: the word moves to the end of the name, before _total. */
static const char *const units[] = {"bytes", "seconds"};

/* The word w (n bytes), spelled out. Sets *wn to its length. */
static const char *spell(const char *w, size_t n, size_t *wn)
{
    for (size_t i = 0; i < RS_COUNTER_NELEM(spelled); i++) {
        if (strlen(spelled[i][0]) == n && memcmp(spelled[i][0], w, n) == 0) {
            *wn = strlen(spelled[i][1]);
            return spelled[i][1];
        }
    }
    *wn = n;
    return w;
}

static bool is_unit(const char *w, size_t n)
{
    for (size_t i = 0; i < RS_COUNTER_NELEM(units); i++)
        if (strlen(units[i]) == n && memcmp(units[i], w, n) == 0)
            return true;
    return false;
}

/* Appends s[0, n) to out at *len; false if it does not fit (with the NUL). */
static bool put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > cap)
        return false;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return true;
}

/* Appends the words of name spelled out, the first unit word (if any) moved to the end. With
 * first_only, only the first word. */
static bool put_words(char *out, size_t cap, size_t *len, const char *name, bool first_only)
{
    const char *unit = NULL;
    size_t unit_n = 0;
    bool sep = false;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "_");
        if (!first_only && !unit && is_unit(p, n) && p[n] != '\0') {
            unit = p;
            unit_n = n;
        } else {
            size_t wn;
            const char *w = spell(p, n, &wn);
            if ((sep && !put(out, cap, len, "_", 1)) || !put(out, cap, len, w, wn))
                return false;
            sep = true;
            if (first_only)
                return true;
        }
        p += n;
        if (*p == '_')
            p++;
    }
    if (unit && ((sep && !put(out, cap, len, "_", 1)) || !put(out, cap, len, unit, unit_n)))
        return false;
    return true;
}

int rs_prom_name(const char *prefix, const char *counter, enum rs_counter_kind kind, char *out,
                 size_t cap)
{
    size_t len = 0;
    if (cap)
        out[0] = '\0';
    if (!put(out, cap, &len, prefix, strlen(prefix)) ||
        !put_words(out, cap, &len, counter, false) ||
        (kind == RS_KIND_COUNTER && !put(out, cap, &len, "_total", 6))) {
        if (cap)
            out[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

/* The gauge name of a level column: prefix, the plus counter's first word, the column. */
static int level_name(const char *prefix, const struct rs_counter_block *b,
                      const struct rs_live_col *col, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    if (!put(out, cap, &len, prefix, strlen(prefix)) ||
        !put_words(out, cap, &len, b->desc[col->plus].name, true) || !put(out, cap, &len, "_", 1) ||
        !put(out, cap, &len, col->name, strlen(col->name))) {
        out[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

void rs_prom_put_label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '"')
            fputs("\\\"", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

void rs_prom_put_help(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void put_family(FILE *f, const char *name, const char *help, const char *type)
{
    fprintf(f, "# HELP %s ", name);
    rs_prom_put_help(f, help);
    fprintf(f, "\n# TYPE %s %s\n", name, type);
}

#define NO_WORKER UINT_MAX /* a process-wide counter (RS_CTR_PROCESS): no worker label */

static void put_sample(FILE *f, const char *name, const char *service, unsigned worker, uint64_t v)
{
    if (!service && worker == NO_WORKER) {
        fprintf(f, "%s %" PRIu64 "\n", name, v);
        return;
    }
    fprintf(f, "%s{", name);
    if (service) {
        fputs("service=\"", f);
        rs_prom_put_label_value(f, service);
        fputs(worker == NO_WORKER ? "\"" : "\",", f);
    }
    if (worker != NO_WORKER)
        fprintf(f, "worker=\"%u\"", worker);
    fprintf(f, "} %" PRIu64 "\n", v);
}

struct walk {
    FILE *f;
    const struct rs_counter_set *s;
    const struct rs_prom_opts *o;
    const uint64_t *vals; /* the workers' readings, nslots each */
    unsigned nworkers, nslots;
};

static bool shown(const struct walk *wk, unsigned i)
{
    return !wk->o->active_only || rs_counter_set_is_active(wk->s, i);
}

static const char *service_of(const struct walk *wk, unsigned i)
{
    return wk->o->block_service ? wk->o->block_service[i] : NULL;
}

static int write_block_counters(const struct walk *wk, unsigned i)
{
    const struct rs_counter_block *b = rs_counter_set_block_at(wk->s, i);
    unsigned slot = rs_counter_set_slot(wk->s, i);
    char name[RS_PROM_NAME_MAX];
    for (unsigned k = 0; k < b->n; k++) {
        const struct rs_counter_desc *d = &b->desc[k];
        if (rs_prom_name(wk->o->prefix, d->name, d->kind, name, sizeof(name)) < 0)
            return -ENAMETOOLONG;
        put_family(wk->f, name, d->help, d->kind == RS_KIND_GAUGE ? "gauge" : "counter");
        if (d->flags & RS_CTR_PROCESS) {
            if (wk->nworkers > 0)
                put_sample(wk->f, name, service_of(wk, i), NO_WORKER, wk->vals[slot + k]);
            continue;
        }
        for (unsigned w = 0; w < wk->nworkers; w++)
            put_sample(wk->f, name, service_of(wk, i), w,
                       wk->vals[(size_t)w * wk->nslots + slot + k]);
    }
    return 0;
}

/* The gauge of level column c of block i, added up over every later shown block with a level
 * column of the same gauge name; skipped if an earlier one had that name (already written). */
static int write_level(const struct walk *wk, unsigned i, unsigned c)
{
    const struct rs_counter_block *b = rs_counter_set_block_at(wk->s, i);
    char name[RS_PROM_NAME_MAX], other[RS_PROM_NAME_MAX], help[256];
    if (level_name(wk->o->prefix, b, &b->live[c], name, sizeof(name)) < 0)
        return -ENAMETOOLONG;
    unsigned nblocks = rs_counter_set_nblocks(wk->s);
    for (unsigned j = 0; j <= i; j++) {
        const struct rs_counter_block *bj = rs_counter_set_block_at(wk->s, j);
        if (!shown(wk, j))
            continue;
        for (unsigned k = 0; k < bj->nlive && (j < i || k < c); k++)
            if (bj->live[k].show == RS_LIVE_LEVEL &&
                level_name(wk->o->prefix, bj, &bj->live[k], other, sizeof(other)) == 0 &&
                strcmp(name, other) == 0)
                return 0;
    }
    const struct rs_live_col *col = &b->live[c];
    snprintf(help, sizeof(help), "%s now: %s minus %s", col->name, b->desc[col->plus].name,
             b->desc[col->minus].name);
    put_family(wk->f, name, help, "gauge");
    for (unsigned w = 0; w < wk->nworkers; w++) {
        const uint64_t *v = wk->vals + (size_t)w * wk->nslots;
        uint64_t sum = 0;
        for (unsigned j = i; j < nblocks; j++) {
            const struct rs_counter_block *bj = rs_counter_set_block_at(wk->s, j);
            if (!shown(wk, j))
                continue;
            unsigned slot = rs_counter_set_slot(wk->s, j);
            for (unsigned k = j == i ? c : 0; k < bj->nlive; k++) {
                const struct rs_live_col *lc = &bj->live[k];
                if (lc->show != RS_LIVE_LEVEL ||
                    level_name(wk->o->prefix, bj, lc, other, sizeof(other)) < 0 ||
                    strcmp(name, other) != 0)
                    continue;
                uint64_t plus = v[slot + (unsigned)lc->plus], minus = v[slot + (unsigned)lc->minus];
                sum += plus > minus ? plus - minus : 0;
            }
        }
        put_sample(wk->f, name, service_of(wk, i), w, sum);
    }
    return 0;
}

int rs_prom_write_counters(FILE *f, const struct rs_counter_set *s, const struct rs_prom_opts *o)
{
    struct walk wk = {
        .f = f,
        .s = s,
        .o = o,
        .nworkers = rs_counter_set_workers(s),
        .nslots = rs_counter_set_nslots(s),
    };
    uint64_t *vals = NULL;
    int err = 0;
    /* Every worker is read once, before anything is written: the families of one scrape come
     * from one reading, and a level (read after the counter it is never above) stays >= 0. */
    if (wk.nworkers && wk.nslots) {
        vals = rs_calloc((size_t)wk.nworkers * wk.nslots, sizeof(*vals));
        if (!vals)
            return -ENOMEM;
        for (unsigned w = 0; w < wk.nworkers; w++)
            rs_counter_set_read(s, w, vals + (size_t)w * wk.nslots);
    }
    wk.vals = vals;
    unsigned nblocks = rs_counter_set_nblocks(s);
    for (unsigned i = 0; i < nblocks && err == 0; i++)
        if (shown(&wk, i))
            err = write_block_counters(&wk, i);
    for (unsigned i = 0; i < nblocks && err == 0; i++) {
        const struct rs_counter_block *b = rs_counter_set_block_at(s, i);
        if (!shown(&wk, i))
            continue;
        for (unsigned c = 0; c < b->nlive && err == 0; c++)
            if (b->live[c].show == RS_LIVE_LEVEL)
                err = write_level(&wk, i, c);
    }
    rs_free(vals);
    if (err == 0 && ferror(f))
        err = -EIO;
    return err;
}

/* ---- labelled sets ---- */

/* Whether item i of set j is the first of its value among the sets of its block (its series
 * are written there). */
static bool first_of_value(const struct rs_counter_lset *const *sets, unsigned j, unsigned i)
{
    const struct rs_counter_lblock *b = rs_counter_lset_block(sets[j]);
    const char *v = rs_counter_lset_value(sets[j], i);
    for (unsigned jj = 0; jj <= j; jj++) {
        if (rs_counter_lset_block(sets[jj]) != b)
            continue;
        unsigned end = jj == j ? i : rs_counter_lset_items(sets[jj]);
        for (unsigned ii = 0; ii < end; ii++)
            if (strcmp(rs_counter_lset_value(sets[jj], ii), v) == 0)
                return false;
    }
    return true;
}

/* Slot k of every item named v in the sets of block b, on worker w (w < 0: all workers):
 * their sum, or the largest with max. */
static uint64_t value_of(const struct rs_counter_lset *const *sets, unsigned n,
                         const struct rs_counter_lblock *b, const char *v, int w, unsigned k,
                         bool max)
{
    uint64_t t = 0;
    for (unsigned j = 0; j < n; j++) {
        if (rs_counter_lset_block(sets[j]) != b)
            continue;
        unsigned nw = rs_counter_lset_workers(sets[j]);
        unsigned lo = w < 0 ? 0 : (unsigned)w, hi = w < 0 ? nw : (unsigned)w + 1;
        if (hi > nw)
            hi = nw;
        for (unsigned i = 0; i < rs_counter_lset_items(sets[j]); i++) {
            if (strcmp(rs_counter_lset_value(sets[j], i), v) != 0)
                continue;
            for (unsigned ww = lo; ww < hi; ww++) {
                uint64_t x = rs_counter_lset_get(sets[j], ww, i, k);
                t = max ? (x > t ? x : t) : t + x;
            }
        }
    }
    return t;
}

static void put_labels(FILE *f, const char *service, const char *label, const char *value)
{
    if (service) {
        fputs("service=\"", f);
        rs_prom_put_label_value(f, service);
        fputs("\",", f);
    }
    fprintf(f, "%s=\"", label);
    rs_prom_put_label_value(f, value);
    fputc('"', f);
}

/* Every sample of one family (slot k, or the histogram with k = UINT_MAX) of block b. */
static void write_lfamily(FILE *f, const struct rs_counter_lset *const *sets, unsigned n,
                          const struct rs_counter_lblock *b, const char *name, unsigned k)
{
    const struct rs_counter_hist *h = b->hist;
    for (unsigned j = 0; j < n; j++) {
        if (rs_counter_lset_block(sets[j]) != b)
            continue;
        const char *svc = rs_counter_lset_service(sets[j]);
        unsigned nw = rs_counter_lset_workers(sets[j]);
        for (unsigned i = 0; nw && i < rs_counter_lset_items(sets[j]); i++) {
            if (!first_of_value(sets, j, i))
                continue;
            const char *v = rs_counter_lset_value(sets[j], i);
            if (k < b->n) {
                bool max = b->desc[k].flags & RS_CTR_MAX;
                for (unsigned w = 0; w < nw; w++) {
                    fprintf(f, "%s{", name);
                    put_labels(f, svc, b->label, v);
                    fprintf(f, ",worker=\"%u\"} %" PRIu64 "\n", w,
                            value_of(sets, n, b, v, (int)w, k, max));
                }
                continue;
            }
            uint64_t cum = 0;
            for (unsigned q = 0; q <= h->nbounds; q++) {
                cum += value_of(sets, n, b, v, -1, b->n + q, false);
                fprintf(f, "%s_bucket{", name);
                put_labels(f, svc, b->label, v);
                if (q < h->nbounds)
                    fprintf(f, ",le=\"%.9g\"} %" PRIu64 "\n", (double)h->bounds[q] * h->scale, cum);
                else
                    fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
            }
            fprintf(f, "%s_sum{", name);
            put_labels(f, svc, b->label, v);
            fprintf(f, "} %.9f\n",
                    (double)value_of(sets, n, b, v, -1, b->n + h->nbounds + 1, false) * h->scale);
            fprintf(f, "%s_count{", name);
            put_labels(f, svc, b->label, v);
            fprintf(f, "} %" PRIu64 "\n", cum);
        }
    }
}

int rs_prom_write_labelled(FILE *f, const struct rs_counter_lset *const *sets, unsigned n,
                           const struct rs_prom_opts *o)
{
    char name[RS_PROM_NAME_MAX];
    for (unsigned j = 0; j < n; j++) {
        const struct rs_counter_lblock *b = rs_counter_lset_block(sets[j]);
        bool seen = false;
        for (unsigned jj = 0; jj < j && !seen; jj++)
            seen = rs_counter_lset_block(sets[jj]) == b;
        if (seen)
            continue; /* written with the first set of its block */
        for (unsigned k = 0; k < b->n; k++) {
            const struct rs_counter_desc *d = &b->desc[k];
            if (rs_prom_name(o->prefix, d->name, d->kind, name, sizeof(name)) < 0)
                return -ENAMETOOLONG;
            put_family(f, name, d->help, d->kind == RS_KIND_GAUGE ? "gauge" : "counter");
            write_lfamily(f, sets, n, b, name, k);
        }
        if (b->hist) {
            /* A histogram's name keeps its words as written, unit last: no _total. */
            if (rs_prom_name(o->prefix, b->hist->name, RS_KIND_GAUGE, name, sizeof(name)) < 0)
                return -ENAMETOOLONG;
            put_family(f, name, b->hist->help, "histogram");
            write_lfamily(f, sets, n, b, name, UINT32_MAX);
        }
    }
    return ferror(f) ? -EIO : 0;
}

int rs_prom_write_info(FILE *f, const char *name, const char *help, const char *label,
                       const char *value)
{
    put_family(f, name, help, "gauge");
    fprintf(f, "%s{%s=\"", name, label);
    rs_prom_put_label_value(f, value);
    fputs("\"} 1\n", f);
    return ferror(f) ? -EIO : 0;
}
