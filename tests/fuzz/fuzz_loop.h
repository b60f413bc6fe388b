#ifndef RINGSOCK_FUZZ_LOOP_H
#define RINGSOCK_FUZZ_LOOP_H

/* What the loop-level fuzz targets (fuzz_http_conn.c, fuzz_dgram.c) share: aborting checks,
 * an fd leak probe, the epoll loop they run, and the worker's counters read as plain numbers.
 * Everything that knows the counters' layout is here, in one place. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

#include "ringsock/core/loop.h"
#include "ringsock/util/stats.h"

/* Aborts (libFuzzer keeps the input) with a line saying which check failed, written where
 * the sanitizers report, which stays open under -close_fd_mask=2. */
#define FZ_REQUIRE(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(__FILE__, __LINE__, #cond);                                                    \
    } while (0)

static inline void fz_fail(const char *file, int line, const char *what)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s:%d: check failed: %s", file, line, what);
    __sanitizer_report_error_summary(msg);
    abort();
}

/* The lowest free descriptor: the same before and after an iteration, or an fd leaked. */
static inline int fz_lowest_free_fd(void)
{
    int fd = dup(2);
    FZ_REQUIRE(fd >= 0);
    close(fd);
    return fd;
}

/* An epoll loop (io_uring under a fuzzer is slow and its timing is not reproducible) with a few
 * connections and the given read size, read budget and write queue. */
static inline struct rs_loop *fz_loop_new(struct rs_stats *st, uint32_t buf_size,
                                          uint32_t read_budget, size_t write_queue)
{
    struct rs_loop_config cfg;
    int err;
    rs_loop_config_default(&cfg);
    cfg.backend = RS_BACKEND_EPOLL;
    cfg.max_conns = 4;
    cfg.buf_size = buf_size;
    cfg.read_budget = read_budget;
    if (write_queue)
        cfg.write_queue = write_queue;
    struct rs_loop *l = rs_loop_new(&cfg, st, &err);
    FZ_REQUIRE(l != NULL);
    return l;
}

/* The worker's counters as plain numbers, read between loop turns. */
struct fz_totals {
#define FZ_TOTALS_DECL(name) uint64_t name;
    RS_STATS_FIELDS(FZ_TOTALS_DECL)
#undef FZ_TOTALS_DECL
};

static inline void fz_totals_read(const struct rs_stats *st, struct fz_totals *t)
{
#define FZ_TOTALS_READ(name) t->name = atomic_load_explicit(&st->name, memory_order_relaxed);
    RS_STATS_FIELDS(FZ_TOTALS_READ)
#undef FZ_TOTALS_READ
}

/* Requires that no total went backwards from a to b, and sets d to what each grew by. */
static inline void fz_totals_delta(const struct fz_totals *a, const struct fz_totals *b,
                                   struct fz_totals *d)
{
#define FZ_TOTALS_DELTA(name)                                                                      \
    FZ_REQUIRE(b->name >= a->name);                                                                \
    d->name = b->name - a->name;
    RS_STATS_FIELDS(FZ_TOTALS_DELTA)
#undef FZ_TOTALS_DELTA
}

/* One counter as it is now, without a whole snapshot. */
#define FZ_TOTAL(st, name) atomic_load_explicit(&(st)->name, memory_order_relaxed)

#endif
