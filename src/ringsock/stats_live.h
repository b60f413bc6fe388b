#ifndef RINGSOCK_STATS_LIVE_H
#define RINGSOCK_STATS_LIVE_H

#include <stdint.h>
#include <stdio.h>

#include "ringsock/util/counters.h"

/* The live view of --stats: every interval, one line per worker and one for all of them, with
 * the columns the active blocks of a counter set declare (rates over the time since the
 * previous lines, values now). It runs in the main thread and only reads the workers' counters
 * (relaxed loads); it keeps the previous readings itself. */
struct rs_stats_live;

/* Takes the first readings of every worker of set (which stays valid until freed) at now_ns.
 * Returns NULL when memory is short or the active blocks declare too many columns. */
struct rs_stats_live *rs_stats_live_new(const struct rs_counter_set *set, uint64_t now_ns);
void rs_stats_live_free(struct rs_stats_live *sl);

/* Prints, for each worker and then for all, "ringsock: stats t=SECONDS w=N|all key=value..."
 * with the rates since the last call (or since new), and flushes f. */
void rs_stats_live_print(struct rs_stats_live *sl, FILE *f, uint64_t now_ns);

#endif
