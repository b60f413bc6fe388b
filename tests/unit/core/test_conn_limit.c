/* The per-address connection table (conn_limit.c): the limit, release, a full table, and a
 * random walk against a plain model in a table small enough for every chain to collide. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "../../../src/core/conn_limit.h"

static void key_n(unsigned n, unsigned char key[16])
{
    memset(key, 0, 16);
    key[10] = key[11] = 0xff;
    key[12] = 10;
    key[15] = (unsigned char)n;
    key[14] = (unsigned char)(n >> 8);
}

static void test_limit(void)
{
    struct rs_conn_limit *t = rs__conn_limit_new(3, 16);
    unsigned char a[16], b[16];
    uint32_t s[5];
    CHECK(t != NULL);
    key_n(1, a);
    key_n(2, b);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(rs__conn_limit_take_key(t, a, &s[i]), 0);
    CHECK_EQ(rs__conn_limit_take_key(t, a, &s[3]), -EDQUOT);
    CHECK_EQ(s[3], 0);
    CHECK_EQ(rs__conn_limit_take_key(t, b, &s[4]), 0); /* another address is not affected */
    rs__conn_limit_put(t, s[1]);
    CHECK_EQ(rs__conn_limit_take_key(t, a, &s[1]), 0); /* closing one lets one in */
    CHECK_EQ(rs__conn_limit_take_key(t, a, &s[3]), -EDQUOT);
    rs__conn_limit_free(t);
}

/* 8 nodes, 8 buckets, 20 addresses, 3 per address: random takes and puts, checked against a
 * model; ENOSPC exactly when 8 addresses are open and a ninth comes. */
static void test_random(void)
{
    enum { NODES = 8, KEYS = 20, LIMIT = 3, MAXOPEN = 64 };
    struct rs_conn_limit *t = rs__conn_limit_new(LIMIT, NODES);
    unsigned count[KEYS] = {0};
    struct {
        unsigned key;
        uint32_t slot;
    } open[MAXOPEN];
    unsigned nopen = 0;
    srand(7);
    for (int step = 0; step < 100000; step++) {
        if (nopen > 0 && (nopen == MAXOPEN || rand() % 2)) {
            unsigned i = (unsigned)rand() % nopen;
            rs__conn_limit_put(t, open[i].slot);
            count[open[i].key]--;
            open[i] = open[--nopen];
            continue;
        }
        unsigned k = (unsigned)rand() % KEYS, distinct = 0;
        for (unsigned i = 0; i < KEYS; i++)
            distinct += count[i] > 0;
        unsigned char key[16];
        uint32_t slot;
        key_n(k, key);
        int r = rs__conn_limit_take_key(t, key, &slot);
        int want = count[k] >= LIMIT ? -EDQUOT : count[k] == 0 && distinct == NODES ? -ENOSPC : 0;
        CHECK_EQ(r, want);
        if (r != want)
            break;
        if (r == 0) {
            CHECK(slot != 0);
            count[k]++;
            open[nopen].key = k;
            open[nopen++].slot = slot;
        }
    }
    while (nopen > 0)
        rs__conn_limit_put(t, open[--nopen].slot);
    /* Every node is free again: NODES new addresses fit. */
    for (unsigned i = 0; i < NODES; i++) {
        unsigned char key[16];
        uint32_t slot;
        key_n(100 + i, key);
        CHECK_EQ(rs__conn_limit_take_key(t, key, &slot), 0);
    }
    rs__conn_limit_free(t);
}

int main(void)
{
    test_limit();
    test_random();
    return check_done("test_conn_limit");
}
