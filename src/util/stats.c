#include "ringsock/util/stats.h"

#include <inttypes.h>

void rs_stats_sum(struct rs_stats *dst, const struct rs_stats *src)
{
#define RS_STATS_SUM(name)                                                                         \
    RS_STAT_ADD(dst, name, atomic_load_explicit(&src->name, memory_order_relaxed));
    RS_STATS_FIELDS(RS_STATS_SUM)
#undef RS_STATS_SUM
}

void rs_stats_print(FILE *f, const struct rs_stats *st)
{
    const char *sep = "";
#define RS_STATS_PRINT(name)                                                                       \
    fprintf(f, "%s%s=%" PRIu64, sep, #name,                                                        \
            atomic_load_explicit(&st->name, memory_order_relaxed));                                \
    sep = " ";
    RS_STATS_FIELDS(RS_STATS_PRINT)
#undef RS_STATS_PRINT
}
