#ifndef RINGSOCK_COUNTERS_LABELLED_H
#define RINGSOCK_COUNTERS_LABELLED_H

/* Labelled blocks: counters kept once per item of a set known only from the configuration (the
 * relay's upstreams), each item named by a label value (upstream="10.0.0.2:80"). The owner
 * declares the block once (descriptors as for counters.h, plus at most one histogram); the
 * server makes a labelled set of it per listener, with one storage row per item and worker,
 * and the prom formatter exports each item's series with the label.
 *
 * As in counters.h, each row has one writer (its worker's thread), which adds with relaxed load
 * and store; readers (the admin thread, the exit totals) use relaxed loads. A row is the
 * block's counters in descriptor order, then the histogram's buckets (one per bound, then
 * +Inf; not cumulative: the reader adds them up), then the sum of the recorded values. */

#include <stdatomic.h>
#include <stdint.h>

#include "ringsock/util/counters.h"

/* A histogram with fixed buckets, exported as a Prometheus histogram. */
struct rs_counter_hist {
    const char *name;       /* as a counter's name: "relay_upstream_connect_seconds" */
    const char *help;       /* one line */
    const uint64_t *bounds; /* upper bounds (inclusive), ascending, in recorded units */
    unsigned nbounds;       /* at most RS_COUNTER_HIST_MAX_BOUNDS */
    double scale;           /* exported value = recorded value * scale (ns to seconds: 1e-9) */
};

#define RS_COUNTER_HIST_MAX_BOUNDS 32

struct rs_counter_lblock {
    const char *name;  /* the owner: "relay_upstream" */
    const char *label; /* the label's name: "upstream" */
    const struct rs_counter_desc *desc;
    unsigned n;
    const struct rs_counter_hist *hist; /* NULL: none */
};

struct rs_counter_lset;

/* A labelled set of block b for nitems items named values[i] (copied) over nworkers workers,
 * zeroed; service is the service label of its series (static, or NULL). NULL when memory is
 * short or b's histogram has too many bounds. */
struct rs_counter_lset *rs_counter_lset_new(const struct rs_counter_lblock *b, const char *service,
                                            const char *const *values, unsigned nitems,
                                            unsigned nworkers);
void rs_counter_lset_free(struct rs_counter_lset *s);

/* Worker w's row of item i (NULL out of range): index it by counter, or pass it to
 * rs_counter_lset_record. */
_Atomic uint64_t *rs_counter_lset_row(const struct rs_counter_lset *s, unsigned worker,
                                      unsigned item);
/* Records v in the histogram of a row (by its one writer). */
void rs_counter_lset_record(const struct rs_counter_lset *s, _Atomic uint64_t *row, uint64_t v);

const struct rs_counter_lblock *rs_counter_lset_block(const struct rs_counter_lset *s);
const char *rs_counter_lset_service(const struct rs_counter_lset *s);
unsigned rs_counter_lset_items(const struct rs_counter_lset *s);
unsigned rs_counter_lset_workers(const struct rs_counter_lset *s);
const char *rs_counter_lset_value(const struct rs_counter_lset *s, unsigned item);
/* Counter k of item i on worker w (relaxed load); k past the block's counters reads the
 * histogram's buckets, then its sum. */
uint64_t rs_counter_lset_get(const struct rs_counter_lset *s, unsigned worker, unsigned item,
                             unsigned k);

#endif
