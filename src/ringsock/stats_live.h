#ifndef RINGSOCK_STATS_LIVE_H
#define RINGSOCK_STATS_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ringsock/util/stats.h"

/* The live view of --stats: every interval, one line per worker and one for all of them, with
 * rates over the time since the previous lines. It runs in the main thread and only reads the
 * workers' counters (relaxed loads); it keeps the previous readings itself. */
struct rs_stats_live;

/* Which optional fields the lines carry. */
#define RS_LIVE_UDP  1u /* datagrams per recvmmsg/sendmmsg batch */
#define RS_LIVE_HTTP 2u /* HTTP requests per second */

/* Takes the first readings of n workers' counters (workers[i] stays valid until freed) at
 * now_ns. Returns NULL when memory is short. */
struct rs_stats_live *rs_stats_live_new(const struct rs_stats *const *workers, unsigned n,
                                        unsigned flags, uint64_t now_ns);
void rs_stats_live_free(struct rs_stats_live *sl);

/* Prints, for each worker and then for all, "ringsock: stats t=SECONDS w=N|all key=value..."
 * with the rates since the last call (or since new), and flushes f. */
void rs_stats_live_print(struct rs_stats_live *sl, FILE *f, uint64_t now_ns);

#endif
