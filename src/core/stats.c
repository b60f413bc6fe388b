/* The loop's counter block: its descriptors and its columns of the --stats lines. */

#include "ringsock/core/stats.h"

static const struct rs_counter_desc loop_desc[] = {RS_LOOP_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct rs_stats, loop_desc);

#define IDX(field) RS_COUNTER_INDEX(struct rs_stats, field)

static const struct rs_live_col loop_live[] = {
    {"open", RS_LIVE_LEVEL, 0, IDX(conns_accepted), IDX(conns_closed)},
    {"accepts", RS_LIVE_DELTA, 0, IDX(conns_accepted), -1},
    {"accepts_per_s", RS_LIVE_RATE, 1, IDX(conns_accepted), -1},
    {"msgs_per_s", RS_LIVE_RATE, 1, IDX(recvs), -1},
    {"in_bytes_per_s", RS_LIVE_RATE, 0, IDX(bytes_in), -1},
    {"out_bytes_per_s", RS_LIVE_RATE, 0, IDX(bytes_out), -1},
    {"batch", RS_LIVE_MEAN, 2, IDX(loop_events), IDX(loop_batches)},
    {"backpressure", RS_LIVE_DELTA, 0, IDX(backpressure), -1},
    {"enobufs", RS_LIVE_DELTA, 0, IDX(enobufs), -1},
};

const struct rs_counter_block rs_loop_counter_block =
    RS_COUNTER_BLOCK("loop", struct rs_stats, loop_desc, loop_live, RS_COUNTER_NELEM(loop_live));
