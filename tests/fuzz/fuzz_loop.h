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

#include <string.h>

#include "ringsock/core/loop.h"
#include "ringsock/core/stats.h"
#include "ringsock/services/services.h"
#include "ringsock/util/counters.h"

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

/* The counters of one worker, as the server keeps them: the loop's block, the datagram block
 * and the service's own, in a counter set made once per process (the totals are compared as
 * differences, so they need not start at zero). */
struct fz_counters {
    struct rs_counter_set *set;
    struct rs_stats *loop;     /* the loop's block, for rs_loop_new */
    _Atomic uint64_t *dgram;   /* rs_dgram_counter_block's storage */
    _Atomic uint64_t *service; /* the service's block (NULL if it has none) */
};

static inline struct fz_counters *fz_counters_get(const struct rs_service *svc)
{
    static struct fz_counters c;
    if (!c.set) {
        const struct rs_counter_block *blocks[] = {&rs_loop_counter_block, &rs_dgram_counter_block,
                                                   svc->counters};
        c.set = rs_counter_set_new(blocks, svc->counters ? 3 : 2, 1);
        FZ_REQUIRE(c.set != NULL);
        c.loop = (struct rs_stats *)rs_counter_set_block(c.set, 0, &rs_loop_counter_block);
        c.dgram = rs_counter_set_block(c.set, 0, &rs_dgram_counter_block);
        c.service = svc->counters ? rs_counter_set_block(c.set, 0, svc->counters) : NULL;
    }
    return &c;
}

/* The counters the targets check, by the names the totals line gives them. */
#define FZ_FIELDS(X)                                                                               \
    X(conns_accepted)                                                                              \
    X(conns_closed)                                                                                \
    X(bytes_in)                                                                                    \
    X(bytes_out)                                                                                   \
    X(dgrams_in)                                                                                   \
    X(dgrams_out)                                                                                  \
    X(dgram_bytes_in)                                                                              \
    X(dgram_bytes_out)                                                                             \
    X(dgram_truncated)                                                                             \
    X(dgram_dropped)                                                                               \
    X(dgram_send_errors)                                                                           \
    X(dgram_kernel_drops)                                                                          \
    X(http_2xx)                                                                                    \
    X(http_4xx)                                                                                    \
    X(http_5xx)                                                                                    \
    X(sockperf_replies)                                                                            \
    X(sockperf_unanswered)                                                                         \
    X(sockperf_malformed)

/* The worker's counters as plain numbers, read between loop turns; a name the set lacks (the
 * http ones in the datagram target) reads 0. */
struct fz_totals {
#define FZ_TOTALS_DECL(name) uint64_t name;
    FZ_FIELDS(FZ_TOTALS_DECL)
#undef FZ_TOTALS_DECL
};

/* Where counter name sits in a reading of set s, or -1. */
static inline int fz_slot(const struct rs_counter_set *s, const char *name)
{
    for (unsigned b = 0; b < rs_counter_set_nblocks(s); b++) {
        const struct rs_counter_block *blk = rs_counter_set_block_at(s, b);
        for (unsigned i = 0; i < blk->n; i++)
            if (strcmp(blk->desc[i].name, name) == 0)
                return (int)(rs_counter_set_slot(s, b) + i);
    }
    return -1;
}

static inline void fz_totals_read(const struct fz_counters *c, struct fz_totals *t)
{
    uint64_t v[512];
    FZ_REQUIRE(rs_counter_set_nslots(c->set) <= 512);
    rs_counter_set_read(c->set, 0, v);
#define FZ_TOTALS_READ(name)                                                                       \
    {                                                                                              \
        int k = fz_slot(c->set, #name);                                                            \
        t->name = k < 0 ? 0 : v[k];                                                                \
    }
    FZ_FIELDS(FZ_TOTALS_READ)
#undef FZ_TOTALS_READ
}

/* Requires that no total went backwards from a to b, and sets d to what each grew by. */
static inline void fz_totals_delta(const struct fz_totals *a, const struct fz_totals *b,
                                   struct fz_totals *d)
{
#define FZ_TOTALS_DELTA(name)                                                                      \
    FZ_REQUIRE(b->name >= a->name);                                                                \
    d->name = b->name - a->name;
    FZ_FIELDS(FZ_TOTALS_DELTA)
#undef FZ_TOTALS_DELTA
}

/* One counter as it is now, without a whole snapshot. */
static inline uint64_t fz_total(const struct fz_counters *c, const char *name)
{
    uint64_t v[512];
    FZ_REQUIRE(rs_counter_set_nslots(c->set) <= 512);
    rs_counter_set_read(c->set, 0, v);
    int k = fz_slot(c->set, name);
    return k < 0 ? 0 : v[k];
}
#define FZ_TOTAL(c, name) fz_total(c, #name)

#endif
