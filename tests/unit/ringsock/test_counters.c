/* The counter registry: per-worker storage, sums over workers, counters and gauges, and the
 * printers (totals, worker lines, the listing, --stats) walking every descriptor. */

#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ringsock/util/counters.h"
#include "stats_live.h"

#define A_COUNTERS(X)                                                                              \
    X(a_reqs, COUNTER, RS_CTR_WORKER, "requests")                                                  \
    X(a_open, GAUGE, RS_CTR_WORKER, "connections open")                                            \
    X(a_bytes, COUNTER, 0, "bytes")                                                                \
    X(a_turns, COUNTER, 0, "turns")

RS_COUNTER_STRUCT(a_counters, A_COUNTERS);
static const struct rs_counter_desc a_desc[] = {A_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct a_counters, a_desc);
#define A_IDX(f) RS_COUNTER_INDEX(struct a_counters, f)
static const struct rs_live_col a_live[] = {
    {"reqs", RS_LIVE_DELTA, 0, A_IDX(a_reqs), -1},
    {"open", RS_LIVE_DELTA, 0, A_IDX(a_open), -1},
    {"msgs_per_s", RS_LIVE_RATE, 1, A_IDX(a_reqs), -1},
    {"per_turn", RS_LIVE_MEAN, 2, A_IDX(a_bytes), A_IDX(a_turns)},
    {"left", RS_LIVE_LEVEL, 0, A_IDX(a_bytes), A_IDX(a_reqs)},
};
static const struct rs_counter_block a_block =
    RS_COUNTER_BLOCK("a", struct a_counters, a_desc, a_live, RS_COUNTER_NELEM(a_live));

/* A second owner: adds to a's msgs_per_s and has a column of its own. */
#define B_COUNTERS(X)                                                                              \
    X(b_dgrams, COUNTER, RS_CTR_WORKER, "datagrams")                                               \
    X(b_drops, COUNTER, 0, "drops")                                                                \
    X(b_peak, GAUGE, RS_CTR_MAX, "longest wait")

RS_COUNTER_STRUCT(b_counters, B_COUNTERS);
static const struct rs_counter_desc b_desc[] = {B_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct b_counters, b_desc);
static const struct rs_live_col b_live[] = {
    {"msgs_per_s", RS_LIVE_RATE, 1, RS_COUNTER_INDEX(struct b_counters, b_dgrams), -1},
    {"drops", RS_LIVE_DELTA, 0, RS_COUNTER_INDEX(struct b_counters, b_drops), -1},
};
static const struct rs_counter_block b_block =
    RS_COUNTER_BLOCK("b", struct b_counters, b_desc, b_live, RS_COUNTER_NELEM(b_live));

/* Closes a memory stream; returns what was printed into it (*buf, freed by the caller). */
static char *contents(FILE *f, char **buf)
{
    fclose(f);
    return *buf;
}

/* Copies the span of text up to the first of stop (or its end) into out. */
static const char *span(const char *text, const char *stop, char *out, size_t cap)
{
    size_t k = text ? strcspn(text, stop) : 0;
    if (k >= cap)
        k = cap - 1;
    if (k)
        memcpy(out, text, k);
    out[k] = '\0';
    return out;
}

/* How many times name=... appears as a key in line. */
static int key_count(const char *line, const char *name)
{
    int n = 0;
    size_t len = strlen(name);
    for (const char *p = line; (p = strstr(p, name)) != NULL; p += len)
        if ((p == line || p[-1] == ' ') && p[len] == '=')
            n++;
    return n;
}

/* Line n (from 0) of text, without its newline; "" past the end. */
static const char *nth_line(const char *text, unsigned n, char *out, size_t cap)
{
    for (; n > 0 && text; n--) {
        text = strchr(text, '\n');
        if (text)
            text++;
    }
    return span(text, "\n", out, cap);
}

/* The value of key in line, as printed; "" if absent. */
static const char *field(const char *line, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), " %s=", key);
    const char *p = strstr(line, pat);
    return span(p ? p + strlen(pat) : NULL, " \n", out, cap);
}

int main(void)
{
    /* b is listed twice: kept once, where it first appears. */
    const struct rs_counter_block *blocks[] = {&a_block, &b_block, &b_block};
    struct rs_counter_set *s = rs_counter_set_new(blocks, 3, 3);
    CHECK(s != NULL);
    if (!s)
        return check_done("test_counters");
    CHECK_EQ(rs_counter_set_nblocks(s), 2);
    CHECK_EQ(rs_counter_set_nslots(s), 7);
    CHECK_EQ(rs_counter_set_slot(s, 1), 4);
    CHECK_EQ(rs_counter_set_workers(s), 3);

    /* Each worker's blocks: 64-byte aligned, apart, zeroed. */
    struct a_counters *a[3];
    struct b_counters *b[3];
    for (unsigned w = 0; w < 3; w++) {
        a[w] = (struct a_counters *)rs_counter_set_block(s, w, &a_block);
        b[w] = (struct b_counters *)rs_counter_set_block(s, w, &b_block);
        CHECK(a[w] && b[w]);
        CHECK_EQ((uintptr_t)a[w] % 64, 0);
        CHECK_EQ((uintptr_t)b[w] % 64, 0);
        CHECK((char *)b[w] >= (char *)a[w] + sizeof(struct a_counters));
        CHECK(w == 0 || (char *)a[w] >= (char *)b[w - 1] + sizeof(struct b_counters));
        CHECK_EQ(atomic_load(&a[w]->a_reqs), 0);
    }
    static const struct rs_counter_block other = {.name = "other"};
    CHECK(rs_counter_set_block(s, 0, &other) == NULL);
    CHECK(rs_counter_set_block(s, 3, &a_block) == NULL);

    /* Each worker counts into its own storage. */
    for (unsigned w = 0; w < 3; w++) {
        for (unsigned k = 0; k <= w; k++)
            RS_STAT_INC(a[w], a_reqs);
        RS_STAT_ADD(a[w], a_bytes, 100 * (w + 1));
        RS_STAT_SET(a[w], a_open, 10 + w);
        RS_STAT_ADD(b[w], b_dgrams, 1000);
        RS_STAT_MAX(b[w], b_peak, 10 + w);
    }
    RS_STAT_MAX(b[2], b_peak, 3); /* a high-water mark does not go down */
    RS_STAT_SET(a[1], a_open, 5); /* a gauge goes down too */
    uint64_t r[7];
    rs_counter_set_read(s, 1, r);
    CHECK_EQ(r[0], 2);
    CHECK_EQ(r[1], 5);
    CHECK_EQ(r[2], 200);
    CHECK_EQ(r[4], 1000);
    rs_counter_set_read(s, 2, r);
    CHECK_EQ(r[0], 3);
    CHECK_EQ(r[1], 12);
    CHECK_EQ(r[6], 12);

    /* Totals: every descriptor of every block once, in order, summed over workers, counters
     * and gauges alike, except a high-water mark (RS_CTR_MAX): the largest worker's. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    rs_counter_set_print_totals(s, f);
    char *line = contents(f, &buf);
    CHECK(strcmp(line, "a_reqs=6 a_open=27 a_bytes=600 a_turns=0 b_dgrams=3000 b_drops=0 "
                       "b_peak=12") == 0);
    for (unsigned i = 0; i < RS_COUNTER_NELEM(a_desc); i++)
        CHECK_EQ(key_count(line, a_desc[i].name), 1);
    for (unsigned i = 0; i < RS_COUNTER_NELEM(b_desc); i++)
        CHECK_EQ(key_count(line, b_desc[i].name), 1);
    free(buf);

    /* A worker's line: the RS_CTR_WORKER counters of the active blocks only. */
    f = open_memstream(&buf, &len);
    rs_counter_set_print_worker(s, 1, f);
    line = contents(f, &buf);
    CHECK(strcmp(line, "") == 0); /* nothing active yet */
    free(buf);
    rs_counter_set_activate(s, &a_block);
    f = open_memstream(&buf, &len);
    rs_counter_set_print_worker(s, 1, f);
    line = contents(f, &buf);
    CHECK(strcmp(line, "a_reqs=2 a_open=5") == 0);
    free(buf);

    /* The listing: one line per descriptor, with its kind and help. */
    f = open_memstream(&buf, &len);
    rs_counter_set_list(s, f);
    line = contents(f, &buf);
    CHECK(strcmp(line, "a a_reqs counter requests\n"
                       "a a_open gauge connections open\n"
                       "a a_bytes counter bytes\n"
                       "a a_turns counter turns\n"
                       "b b_dgrams counter datagrams\n"
                       "b b_drops counter drops\n"
                       "b b_peak gauge longest wait\n") == 0);
    free(buf);

    /* --stats with only a active: its columns, in order; over one second a counter shows its
     * increase, a gauge its value, a rate per second, a mean, a level. */
    struct rs_stats_live *sl = rs_stats_live_new(s, 1000000000ull);
    CHECK(sl != NULL);
    RS_STAT_ADD(a[0], a_reqs, 4);
    RS_STAT_SET(a[0], a_open, 7);
    RS_STAT_ADD(a[0], a_bytes, 30);
    RS_STAT_ADD(a[0], a_turns, 4);
    RS_STAT_ADD(b[0], b_dgrams, 50);
    f = open_memstream(&buf, &len);
    rs_stats_live_print(sl, f, 3000000000ull);
    line = contents(f, &buf);
    char l[256], v[32];
    CHECK(strcmp(nth_line(line, 0, l, sizeof(l)), "ringsock: stats t=2.0 w=0 reqs=4 open=7 "
                                                  "msgs_per_s=2.0 per_turn=7.50 left=125") == 0);
    CHECK(strcmp(nth_line(line, 1, l, sizeof(l)), "ringsock: stats t=2.0 w=1 reqs=0 open=5 "
                                                  "msgs_per_s=0.0 per_turn=0.00 left=198") == 0);
    CHECK(strcmp(nth_line(line, 3, l, sizeof(l)), "ringsock: stats t=2.0 w=all reqs=4 open=24 "
                                                  "msgs_per_s=2.0 per_turn=7.50 left=620") == 0);
    CHECK(strcmp(nth_line(line, 4, l, sizeof(l)), "") == 0);
    CHECK(strstr(line, "drops=") == NULL); /* b is not active */
    free(buf);
    rs_stats_live_free(sl);

    /* b active: its datagrams join a's messages, its own column follows a's. */
    rs_counter_set_activate(s, &b_block);
    sl = rs_stats_live_new(s, 0);
    CHECK(sl != NULL);
    RS_STAT_ADD(a[2], a_reqs, 10);
    RS_STAT_ADD(b[2], b_dgrams, 30);
    RS_STAT_ADD(b[2], b_drops, 2);
    f = open_memstream(&buf, &len);
    rs_stats_live_print(sl, f, 2000000000ull);
    line = contents(f, &buf);
    CHECK(strcmp(nth_line(line, 2, l, sizeof(l)), "ringsock: stats t=2.0 w=2 reqs=10 open=12 "
                                                  "msgs_per_s=20.0 per_turn=0.00 left=287 "
                                                  "drops=2") == 0);
    nth_line(line, 3, l, sizeof(l));
    CHECK(strcmp(field(l, "w", v, sizeof(v)), "all") == 0);
    CHECK(strcmp(field(l, "msgs_per_s", v, sizeof(v)), "20.0") == 0);
    CHECK(strcmp(field(l, "drops", v, sizeof(v)), "2") == 0);
    free(buf);
    rs_stats_live_free(sl);

    /* Past RS_COUNTER_MAX_BLOCKS distinct blocks, no set. */
    struct rs_counter_block many[RS_COUNTER_MAX_BLOCKS + 1];
    const struct rs_counter_block *pm[RS_COUNTER_MAX_BLOCKS + 1];
    for (unsigned i = 0; i <= RS_COUNTER_MAX_BLOCKS; i++) {
        many[i] = a_block;
        pm[i] = &many[i];
    }
    struct rs_counter_set *s2 = rs_counter_set_new(pm, RS_COUNTER_MAX_BLOCKS, 1);
    CHECK(s2 != NULL);
    rs_counter_set_free(s2);
    CHECK(rs_counter_set_new(pm, RS_COUNTER_MAX_BLOCKS + 1, 1) == NULL);

    rs_counter_set_free(s);
    return check_done("test_counters");
}
