/* The per-source token buckets (util/ratetable.c) and the port-set parser (util/parse.c). */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "ringsock/util/parse.h"
#include "ringsock/util/ratetable.h"
#include "../check.h"

#define SEC 1000000000ull

/* Takes tokens for key at now while there are; returns how many. */
static unsigned drain(struct rs_rate_table *t, const uint64_t key[2], uint64_t now, unsigned max)
{
    unsigned n = 0;
    while (n < max) {
        struct rs_rate_entry *e = rs_rate_table_get(t, key, now);
        if (!rs_rate_entry_ok(t, e, now))
            break;
        rs_rate_entry_take(t, e, now);
        n++;
    }
    return n;
}

static void test_bucket(void)
{
    struct rs_rate_table *t = rs_rate_table_new(100, 64);
    uint64_t a[2] = {1, 2}, b[2] = {3, 4};
    uint64_t now = 5 * SEC;

    CHECK(t != NULL);
    CHECK_EQ(drain(t, a, now, 1000), 100);           /* a burst of the rate */
    CHECK_EQ(drain(t, a, now, 1000), 0);             /* then nothing at the same instant */
    CHECK_EQ(drain(t, b, now, 1000), 100);           /* another key has its own bucket */
    CHECK_EQ(drain(t, a, now + SEC / 10, 1000), 10); /* 100/s refills 10 in 100 ms */
    /* 2 s at 2000 tries a second: the burst, then 100/s. */
    unsigned got = 0;
    uint64_t t0 = 100 * SEC;
    uint64_t c[2] = {7, 7};
    for (unsigned i = 0; i < 4000; i++) {
        uint64_t at = t0 + (uint64_t)i * (SEC / 2000);
        struct rs_rate_entry *e = rs_rate_table_get(t, c, at);
        if (rs_rate_entry_ok(t, e, at)) {
            rs_rate_entry_take(t, e, at);
            got++;
        }
    }
    CHECK(got >= 299 && got <= 301);
    /* A long idle time refills to the burst, no more. */
    CHECK_EQ(drain(t, a, now + 1000 * SEC, 1000), 100);
    rs_rate_table_free(t);
}

static void test_eviction(void)
{
    /* 4 entries: one set. Five keys in turn: the fullest bucket makes room, the table never
     * grows, and a key evicted with a full bucket loses nothing. */
    struct rs_rate_table *t = rs_rate_table_new(10, 1);
    uint64_t now = SEC;

    CHECK(t != NULL);
    CHECK_EQ(t->set_mask, 0);
    for (uint64_t k = 0; k < 5; k++) {
        uint64_t key[2] = {k, 0};
        CHECK_EQ(drain(t, key, now, 100), 10);
    }
    uint64_t first[2] = {0, 0};
    /* Key 0 was evicted with an empty bucket: it comes back full (state lost only when every
     * entry of the set is in debt). */
    CHECK_EQ(drain(t, first, now, 100), 10);
    /* After a second every bucket is full again: nothing is lost by evicting any. */
    for (uint64_t k = 0; k < 100; k++) {
        uint64_t key[2] = {k, 1};
        CHECK_EQ(drain(t, key, now + 10 * SEC + k, 1), 1);
    }
    rs_rate_table_free(t);
    CHECK(rs_rate_table_new(0, 16) == NULL);
}

static void test_ports(void)
{
    uint64_t *set = calloc(RS_PORT_SET_WORDS, sizeof(uint64_t));
    unsigned n;

    CHECK_EQ(rs_parse_port_list("0,7,53,65535", set, &n), 0);
    CHECK_EQ(n, 4);
    CHECK(rs_port_set_has(set, 0) && rs_port_set_has(set, 7) && rs_port_set_has(set, 53));
    CHECK(rs_port_set_has(set, 65535) && !rs_port_set_has(set, 54) && !rs_port_set_has(set, 8));
    CHECK_EQ(rs_parse_port_list("40000-40010,40005,1", set, &n), 0);
    CHECK_EQ(n, 12);
    CHECK(rs_port_set_has(set, 40000) && rs_port_set_has(set, 40010) && rs_port_set_has(set, 1));
    CHECK(!rs_port_set_has(set, 39999) && !rs_port_set_has(set, 40011) &&
          !rs_port_set_has(set, 53));
    CHECK_EQ(rs_parse_port_list("0-65535", set, &n), 0);
    CHECK_EQ(n, 65536);
    CHECK_EQ(rs_parse_port_list("none", set, &n), 0);
    CHECK_EQ(n, 0);
    CHECK(!rs_port_set_has(set, 53));
    CHECK_EQ(rs_parse_port_list("65536", set, &n), -ERANGE);
    CHECK_EQ(rs_parse_port_list("10-5", set, &n), -EINVAL);
    CHECK_EQ(rs_parse_port_list("", set, &n), -EINVAL);
    CHECK_EQ(rs_parse_port_list("53,", set, &n), -EINVAL);
    CHECK_EQ(rs_parse_port_list(",53", set, &n), -EINVAL);
    CHECK_EQ(rs_parse_port_list("5 3", set, &n), -EINVAL);
    CHECK_EQ(rs_parse_port_list("53-", set, &n), -EINVAL);
    CHECK_EQ(rs_parse_port_list("-53", set, &n), -EINVAL);
    CHECK_EQ(rs_parse_port_list("NONE", set, &n), -EINVAL);
    free(set);
}

int main(void)
{
    test_bucket();
    test_eviction();
    test_ports();
    return check_done("test_ratetable");
}
