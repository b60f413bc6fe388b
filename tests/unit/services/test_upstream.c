/* The relay's upstream set, alone: --upstream and --balance parsing, the config check, each
 * balancer's choices, backups, max-conns, tried upstreams, and passive and active health. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "../check.h"
#include "ringsock/services/relay.h"

#define S 1000000000ull

/* ---- parsing ---- */

static void parses(const char *spec, const char *name, uint32_t weight, uint32_t max_conns,
                   bool backup, bool down)
{
    struct rs_upstream_conf u;
    char err[160] = "";
    int r = rs_upstream_parse(spec, &u, err, sizeof(err));
    if (r != 0) {
        fprintf(stderr, "parse(%s) = %d (%s), want 0\n", spec, r, err);
        check_failures++;
        return;
    }
    CHECK(strcmp(u.name, name) == 0);
    CHECK_EQ(u.weight, weight);
    CHECK_EQ(u.max_conns, max_conns);
    CHECK_EQ(u.backup, backup);
    CHECK_EQ(u.down, down);
    char buf[RS_ADDR_STRLEN];
    rs_addr_format(&u.addr, buf, sizeof(buf));
    CHECK(strcmp(buf, name) == 0);
}

/* spec is refused with -EINVAL, a one-line error naming it and containing why, and out
 * untouched. */
static void rejects(const char *spec, const char *why)
{
    struct rs_upstream_conf u;
    memset(&u, 0x5a, sizeof(u));
    char err[200] = "";
    int r = rs_upstream_parse(spec, &u, err, sizeof(err));
    if (r != -EINVAL || !strstr(err, why) || strchr(err, '\n') ||
        strncmp(err, "bad upstream '", 14) != 0) {
        fprintf(stderr, "parse(%s) = %d '%s', want -EINVAL with '%s'\n", spec, r, err, why);
        check_failures++;
    }
    CHECK(((unsigned char *)&u)[0] == 0x5a);
}

static void test_parse(void)
{
    parses("10.0.0.2:80", "10.0.0.2:80", 1, 0, false, false);
    parses("10.0.0.3:80,weight=2", "10.0.0.3:80", 2, 0, false, false);
    parses("[::1]:7000,backup", "[::1]:7000", 1, 0, true, false);
    parses("[2001:db8::5]:53,down,weight=1000,max-conns=7", "[2001:db8::5]:53", 1000, 7, false,
           true);
    parses("127.0.0.1:9,max-conns=0,backup,down", "127.0.0.1:9", 1, 0, true, true);

    rejects("", "empty");
    rejects("10.0.0.2", "missing port");
    rejects("10.0.0.2:", "missing port");
    rejects("[::1]", "missing port");
    rejects("::1:80", "brackets");
    rejects("example.com:80", "numeric");
    rejects("10.0.0.2:65536", "numeric");
    rejects("10.0.0.2:0", "port 0");
    rejects("0.0.0.0:80", "unspecified");
    rejects(":80", "unspecified");
    rejects("[::]:80", "unspecified");
    rejects(",weight=2", "missing address");
    rejects("10.0.0.2:80,weight=0", "weight must be 1..1000");
    rejects("10.0.0.2:80,weight=1001", "weight must be 1..1000");
    rejects("10.0.0.2:80,weight=", "weight must be 1..1000");
    rejects("10.0.0.2:80,max-conns=", "max-conns must be 0..");
    rejects("10.0.0.2:80,weight=2x", "weight must be");
    rejects("10.0.0.2:80,weight=-1", "weight must be");
    rejects("10.0.0.2:80,weight=99999999999", "weight must be");
    rejects("10.0.0.2:80,max-conns=x", "max-conns must be");
    rejects("10.0.0.2:80,weight=2,weight=3", "weight given twice");
    rejects("10.0.0.2:80,backup,backup", "backup given twice");
    rejects("10.0.0.2:80,down,down", "down given twice");
    rejects("10.0.0.2:80,max-conns=1,max-conns=2", "max-conns given twice");
    rejects("10.0.0.2:80,", "empty flag");
    rejects("10.0.0.2:80,,backup", "empty flag");
    rejects("10.0.0.2:80,Backup", "unknown flag 'Backup'");
    rejects("10.0.0.2:80,backupx", "unknown flag 'backupx'");
    rejects("10.0.0.2:80,slow-start=10", "unknown flag 'slow-start=10'");

    static const char *names[] = {"rr", "least-conn", "random2", "hash-src", "chash-src"};
    for (unsigned b = 0; b < 5; b++) {
        enum rs_balance out = (enum rs_balance)99;
        CHECK_EQ(rs_balance_parse(names[b], &out), 0);
        CHECK_EQ(out, b);
        CHECK(strcmp(rs_balance_name(out), names[b]) == 0);
    }
    enum rs_balance out = RS_BAL_RR;
    CHECK_EQ(rs_balance_parse("roundrobin", &out), -EINVAL);
    CHECK_EQ(rs_balance_parse("", &out), -EINVAL);
    CHECK_EQ(rs_balance_parse("RR", &out), -EINVAL);
    CHECK_EQ(out, RS_BAL_RR);
}

/* A configuration with these upstreams (each must parse) and balancer. */
static void conf_make(struct rs_relay_conf *c, enum rs_balance b, const char *const *specs)
{
    rs_relay_conf_default(c);
    c->balance = b;
    for (; *specs; specs++) {
        char err[160];
        int r = rs_upstream_parse(*specs, &c->up[c->nup++], err, sizeof(err));
        if (r) {
            fprintf(stderr, "%s\n", err);
            check_failures++;
        }
    }
}

static void check_fails(const struct rs_relay_conf *c, const char *why)
{
    char err[200] = "";
    int r = rs_relay_conf_check(c, err, sizeof(err));
    if (r != -EINVAL || !strstr(err, why)) {
        fprintf(stderr, "check = %d '%s', want -EINVAL with '%s'\n", r, err, why);
        check_failures++;
    }
}

static void test_conf_check(void)
{
    struct rs_relay_conf c;
    rs_relay_conf_default(&c);
    CHECK_EQ(c.balance, RS_BAL_RR);
    CHECK_EQ(c.connect_timeout_ns, 5 * S);
    CHECK_EQ(c.connect_tries, 3);
    CHECK_EQ(c.connect_budget_ns, 10 * S);
    CHECK_EQ(c.max_fails, 1);
    CHECK_EQ(c.fail_timeout_ns, 10 * S);
    CHECK_EQ(c.health, RS_HEALTH_NONE);
    CHECK_EQ(c.health_interval_ns, 2 * S);
    CHECK_EQ(c.health_timeout_ns, 1 * S);
    CHECK_EQ(c.health_rise, 2);
    CHECK_EQ(c.health_fall, 3);
    CHECK_EQ(c.window, 256 * 1024);
    CHECK_EQ(c.idle_timeout_ns, 600 * S);
    CHECK_EQ(c.fin_timeout_ns, 30 * S);
    CHECK_EQ(c.max_duration_ns, 0);
    CHECK_EQ(c.send_proxy, 0);
    CHECK_EQ(c.proxy_timeout_ns, 5 * S);
    CHECK_EQ(c.udp_idle_timeout_ns, 60 * S);
    CHECK_EQ(c.udp_max_sessions, 65536);
    CHECK(c.udp_responses_any);
    CHECK_EQ(c.udp_requests, 0);
    check_fails(&c, "no upstream");

    conf_make(&c, RS_BAL_RR, (const char *[]){"10.0.0.2:80", "[::1]:7000,backup", NULL});
    char err[200] = "";
    CHECK_EQ(rs_relay_conf_check(&c, err, sizeof(err)), 0);

    conf_make(&c, RS_BAL_RR, (const char *[]){"10.0.0.2:80,down", "[::1]:7000,down", NULL});
    check_fails(&c, "every upstream is marked down");
    conf_make(&c, RS_BAL_RR, (const char *[]){"10.0.0.2:80", "10.0.0.2:80,backup", NULL});
    check_fails(&c, "given twice");
    conf_make(&c, RS_BAL_RR, (const char *[]){"[::1]:80", "[0::1]:80", NULL});
    check_fails(&c, "given twice");
    conf_make(&c, RS_BAL_RR, (const char *[]){"10.0.0.2:80", "10.0.0.2:81", NULL});
    CHECK_EQ(rs_relay_conf_check(&c, err, sizeof(err)), 0);
    c.connect_tries = 0;
    check_fails(&c, "--connect-tries");
    c.connect_tries = 3;
    c.send_proxy = 3;
    check_fails(&c, "--send-proxy");
    c.send_proxy = 2;
    c.health = RS_HEALTH_TCP;
    c.health_timeout_ns = 3 * S;
    check_fails(&c, "--health-timeout");
    c.health_timeout_ns = 1 * S;
    c.health_rise = 0;
    check_fails(&c, "--health-rise");
    c.health_rise = 2;
    CHECK_EQ(rs_relay_conf_check(&c, err, sizeof(err)), 0);
    c.health = RS_HEALTH_NONE;
    c.health_send_len = 4;
    check_fails(&c, "need --health tcp");
}

/* ---- balancing ---- */

static struct rs_addr client4(uint32_t ip, int port)
{
    struct rs_addr a;
    memset(&a, 0, sizeof(a));
    struct sockaddr_in *s = (struct sockaddr_in *)&a.ss;
    s->sin_family = AF_INET;
    s->sin_addr.s_addr = htonl(ip);
    s->sin_port = htons((uint16_t)port);
    a.len = sizeof(*s);
    return a;
}

static void test_rr(void)
{
    struct rs_relay_conf c;
    struct rs_addr cl = client4(0x7f000001, 1000);

    conf_make(&c, RS_BAL_RR,
              (const char *[]){"10.0.0.1:80,weight=10", "10.0.0.2:80,weight=20", NULL});
    struct rs_upstreams *u = rs_upstreams_new(&c, 1);
    CHECK(u != NULL);
    CHECK_EQ(rs_upstream_count(u), 2);
    CHECK(rs_upstream_conf_at(u, 1) == &c.up[1]);
    CHECK(rs_upstream_conf_at(u, 2) == NULL);
    unsigned n[2] = {0, 0};
    int run = 0, longest = 0, prev = -1;
    for (int k = 0; k < 30; k++) {
        int i = rs_upstream_pick(u, &cl, 0, 0);
        CHECK(i == 0 || i == 1);
        if (i < 0)
            break;
        n[i]++;
        run = i == prev ? run + 1 : 1;
        longest = run > longest ? run : longest;
        prev = i;
    }
    CHECK_EQ(n[0], 10);
    CHECK_EQ(n[1], 20);
    CHECK(longest <= 2); /* smooth: 2:1 is interleaved, never three in a row */
    rs_upstreams_free(u);

    conf_make(&c, RS_BAL_RR, (const char *[]){"10.0.0.1:80", "10.0.0.2:80", NULL});
    u = rs_upstreams_new(&c, 1);
    n[0] = n[1] = 0;
    prev = -1;
    for (int k = 0; k < 30; k++) {
        int i = rs_upstream_pick(u, &cl, 0, 0);
        CHECK(i != prev); /* alternates */
        if (i < 0)
            break;
        n[i]++;
        prev = i;
    }
    CHECK_EQ(n[0], 15);
    CHECK_EQ(n[1], 15);
    rs_upstreams_free(u);

    /* nginx's documented sequence for weights 5, 1, 1: a a b a c a a. */
    conf_make(&c, RS_BAL_RR,
              (const char *[]){"10.0.0.1:80,weight=5", "10.0.0.2:80", "10.0.0.3:80", NULL});
    u = rs_upstreams_new(&c, 1);
    static const int want[] = {0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0};
    for (unsigned k = 0; k < sizeof(want) / sizeof(want[0]); k++)
        CHECK_EQ(rs_upstream_pick(u, &cl, 0, 0), want[k]);
    rs_upstreams_free(u);
}

/* Backups, down, tried and max-conns: what pick may return. */
static void test_pick_rules(void)
{
    struct rs_relay_conf c;
    struct rs_addr cl = client4(0x7f000001, 1000);
    conf_make(&c, RS_BAL_RR,
              (const char *[]){"10.0.0.1:80,max-conns=2", "10.0.0.2:80,down",
                               "10.0.0.3:80,weight=3", "[::1]:80,backup", "[::2]:80,backup", NULL});
    struct rs_upstreams *u = rs_upstreams_new(&c, 1);
    CHECK(u != NULL);
    for (int k = 0; k < 40; k++) {
        int i = rs_upstream_pick(u, &cl, 0, 0);
        CHECK(i == 0 || i == 2); /* never down, never a backup while a primary is usable */
    }
    CHECK_EQ(rs_upstream_state(u, 1, 0), RS_UP_DOWN);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 2, 0), 0);
    /* tried primaries count as unusable: backups, in turn */
    int b1 = rs_upstream_pick(u, &cl, 1ull << 0 | 1ull << 2, 0);
    int b2 = rs_upstream_pick(u, &cl, 1ull << 0 | 1ull << 2, 0);
    CHECK((b1 == 3 && b2 == 4) || (b1 == 4 && b2 == 3));
    CHECK_EQ(rs_upstream_pick(u, &cl, 0x1f, 0), -1);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 0 | 1ull << 2 | 1ull << 3, 0), 4);

    /* max-conns: upstream 0 full at 2 */
    rs_upstream_conn_begin(u, 0);
    rs_upstream_conn_begin(u, 0);
    CHECK_EQ(rs_upstream_active(u, 0), 2);
    for (int k = 0; k < 10; k++)
        CHECK_EQ(rs_upstream_pick(u, &cl, 0, 0), 2);
    /* both primaries unusable (0 full, 2 tried): a backup */
    int b = rs_upstream_pick(u, &cl, 1ull << 2, 0);
    CHECK(b == 3 || b == 4);
    rs_upstream_conn_end(u, 0);
    CHECK_EQ(rs_upstream_active(u, 0), 1);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 2, 0), 0);
    rs_upstream_conn_end(u, 0);
    rs_upstream_conn_end(u, 0); /* one too many: stays at 0 */
    CHECK_EQ(rs_upstream_active(u, 0), 0);
    rs_upstreams_free(u);
}

static void test_passive_health(void)
{
    struct rs_relay_conf c;
    struct rs_addr cl = client4(0x7f000001, 1000);
    conf_make(&c, RS_BAL_RR,
              (const char *[]){"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80,backup", NULL});
    c.max_fails = 2;
    c.fail_timeout_ns = 10 * S;
    struct rs_upstreams *u = rs_upstreams_new(&c, 1);
    uint64_t t = 100 * S;

    /* two failures 10 s or more apart do not add up */
    rs_upstream_fail(u, 0, t);
    rs_upstream_fail(u, 0, t + 10 * S);
    CHECK_EQ(rs_upstream_state(u, 0, t + 10 * S), RS_UP_UP);
    /* an ok clears the count */
    rs_upstream_ok(u, 0, t + 11 * S);
    rs_upstream_fail(u, 0, t + 12 * S);
    CHECK_EQ(rs_upstream_state(u, 0, t + 12 * S), RS_UP_UP);
    /* the second within the window: out for 10 s */
    t += 15 * S;
    rs_upstream_fail(u, 0, t);
    CHECK_EQ(rs_upstream_state(u, 0, t), RS_UP_OUT);
    for (int k = 0; k < 6; k++)
        CHECK_EQ(rs_upstream_pick(u, &cl, 0, t + 9 * S), 1);
    /* primary 1 tried: the backup, not the one marked out */
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 1, t + 9 * S), 2);

    /* after the fail timeout: one trial connection; while it runs the others skip it */
    uint64_t t2 = t + 10 * S;
    int got0 = 0;
    for (int k = 0; k < 4; k++)
        got0 += rs_upstream_pick(u, &cl, 0, t2) == 0;
    CHECK(got0 >= 1);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 1, t2), 0);
    rs_upstream_conn_begin(u, 0);
    for (int k = 0; k < 6; k++)
        CHECK_EQ(rs_upstream_pick(u, &cl, 0, t2), 1);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 1, t2), 2);
    /* the trial fails: out for another fail timeout */
    rs_upstream_fail(u, 0, t2 + S);
    rs_upstream_conn_end(u, 0);
    CHECK_EQ(rs_upstream_state(u, 0, t2 + S), RS_UP_OUT);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 1, t2 + 10 * S), 2);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 1, t2 + 11 * S), 0);
    /* a trial that ends without a verdict lets another try */
    rs_upstream_conn_begin(u, 0);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 1, t2 + 11 * S), 2);
    rs_upstream_conn_end(u, 0);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 1, t2 + 11 * S), 0);
    /* this trial succeeds: usable again at once */
    rs_upstream_conn_begin(u, 0);
    rs_upstream_ok(u, 0, t2 + 12 * S);
    CHECK_EQ(rs_upstream_state(u, 0, t2 + 12 * S), RS_UP_UP);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 1, t2 + 12 * S), 0);
    rs_upstream_conn_end(u, 0);
    rs_upstreams_free(u);

    /* max_fails 0: never out */
    c.max_fails = 0;
    u = rs_upstreams_new(&c, 1);
    for (int k = 0; k < 10; k++)
        rs_upstream_fail(u, 0, t);
    CHECK_EQ(rs_upstream_state(u, 0, t), RS_UP_UP);
    rs_upstreams_free(u);

    /* a lone upstream (the others down) is never marked out */
    conf_make(&c, RS_BAL_RR, (const char *[]){"10.0.0.1:80", "10.0.0.2:80,down", NULL});
    u = rs_upstreams_new(&c, 1);
    for (int k = 0; k < 10; k++)
        rs_upstream_fail(u, 0, t);
    CHECK_EQ(rs_upstream_state(u, 0, t), RS_UP_UP);
    CHECK_EQ(rs_upstream_pick(u, &cl, 0, t), 0);
    for (int k = 0; k < 3; k++)
        rs_upstream_health(u, 0, false);
    CHECK_EQ(rs_upstream_state(u, 0, t), RS_UP_DEAD);
    CHECK_EQ(rs_upstream_pick(u, &cl, 0, t), 0);  /* still used: nothing else exists */
    CHECK_EQ(rs_upstream_pick(u, &cl, 1, t), -1); /* but not twice for one client */
    rs_upstreams_free(u);

    /* nup == 1: the same */
    conf_make(&c, RS_BAL_LEAST_CONN, (const char *[]){"[::1]:80", NULL});
    u = rs_upstreams_new(&c, 1);
    rs_upstream_fail(u, 0, t);
    CHECK_EQ(rs_upstream_state(u, 0, t), RS_UP_UP);
    CHECK_EQ(rs_upstream_pick(u, &cl, 0, t), 0);
    rs_upstreams_free(u);

    /* one primary with a backup is not alone: it goes out and the backup takes over */
    conf_make(&c, RS_BAL_RR, (const char *[]){"10.0.0.1:80", "10.0.0.2:80,backup", NULL});
    u = rs_upstreams_new(&c, 1);
    CHECK_EQ(rs_upstream_pick(u, &cl, 0, t), 0);
    rs_upstream_fail(u, 0, t);
    CHECK_EQ(rs_upstream_state(u, 0, t), RS_UP_OUT);
    CHECK_EQ(rs_upstream_pick(u, &cl, 0, t), 1);
    rs_upstreams_free(u);

    /* no upstreams: no set */
    conf_make(&c, RS_BAL_RR, (const char *[]){NULL});
    CHECK(rs_upstreams_new(&c, 1) == NULL);
}

static void test_active_health(void)
{
    struct rs_relay_conf c;
    struct rs_addr cl = client4(0x7f000001, 1000);
    conf_make(&c, RS_BAL_RR, (const char *[]){"10.0.0.1:80", "10.0.0.2:80", NULL});
    c.health = RS_HEALTH_TCP; /* fall 3, rise 2 */
    struct rs_upstreams *u = rs_upstreams_new(&c, 1);
    rs_upstream_health(u, 0, false);
    rs_upstream_health(u, 0, false);
    rs_upstream_health(u, 0, true); /* breaks the run */
    rs_upstream_health(u, 0, false);
    rs_upstream_health(u, 0, false);
    CHECK_EQ(rs_upstream_state(u, 0, 0), RS_UP_UP);
    rs_upstream_health(u, 0, false);
    CHECK_EQ(rs_upstream_state(u, 0, 0), RS_UP_DEAD);
    for (int k = 0; k < 6; k++)
        CHECK_EQ(rs_upstream_pick(u, &cl, 0, 0), 1);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 1, 0), -1);
    rs_upstream_health(u, 0, true);
    rs_upstream_health(u, 0, false); /* breaks the rise */
    rs_upstream_health(u, 0, true);
    CHECK_EQ(rs_upstream_state(u, 0, 0), RS_UP_DEAD);
    rs_upstream_health(u, 0, true);
    CHECK_EQ(rs_upstream_state(u, 0, 0), RS_UP_UP);
    CHECK_EQ(rs_upstream_pick(u, &cl, 1ull << 1, 0), 0);
    rs_upstreams_free(u);
}

static void test_least_conn(void)
{
    struct rs_relay_conf c;
    struct rs_addr cl = client4(0x7f000001, 1000);
    conf_make(&c, RS_BAL_LEAST_CONN,
              (const char *[]){"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80,weight=2", NULL});
    struct rs_upstreams *u = rs_upstreams_new(&c, 1);
    /* Open connections one after another, each to the pick: loads stay in proportion to the
     * weights (1:1:2). */
    for (int k = 0; k < 40; k++) {
        int i = rs_upstream_pick(u, &cl, 0, 0);
        CHECK(i >= 0);
        if (i >= 0)
            rs_upstream_conn_begin(u, (unsigned)i);
    }
    CHECK_EQ(rs_upstream_active(u, 0), 10);
    CHECK_EQ(rs_upstream_active(u, 1), 10);
    CHECK_EQ(rs_upstream_active(u, 2), 20);
    /* upstream 1 loses five: it gets the next five */
    for (int k = 0; k < 5; k++)
        rs_upstream_conn_end(u, 1);
    for (int k = 0; k < 5; k++) {
        int i = rs_upstream_pick(u, &cl, 0, 0);
        CHECK_EQ(i, 1);
        rs_upstream_conn_begin(u, 1);
    }
    /* ties are shared out round robin, not all to the first */
    unsigned n[3] = {0, 0, 0};
    for (int k = 0; k < 40; k++) {
        int i = rs_upstream_pick(u, &cl, 0, 0);
        if (i >= 0)
            n[i]++;
    }
    CHECK_EQ(n[0], 10);
    CHECK_EQ(n[1], 10);
    CHECK_EQ(n[2], 20);
    rs_upstreams_free(u);
}

static void test_random2(void)
{
    struct rs_relay_conf c;
    struct rs_addr cl = client4(0x7f000001, 1000);
    conf_make(&c, RS_BAL_RANDOM2,
              (const char *[]){"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", NULL});
    struct rs_upstreams *u = rs_upstreams_new(&c, 42), *v = rs_upstreams_new(&c, 42);
    /* the same seed gives the same choices */
    bool same = true;
    for (int k = 0; k < 100; k++)
        same &= rs_upstream_pick(u, &cl, 0, 0) == rs_upstream_pick(v, &cl, 0, 0);
    CHECK(same);
    rs_upstreams_free(v);
    /* upstream 3 loaded: two choices never land on the most loaded when others are empty
     * (the two drawn differ, so one of them is emptier) */
    for (int k = 0; k < 5; k++)
        rs_upstream_conn_begin(u, 3);
    for (int k = 0; k < 200; k++)
        CHECK(rs_upstream_pick(u, &cl, 0, 0) != 3);
    /* connections kept open: the load stays level (each within 2 of the mean) */
    for (int k = 0; k < 395; k++) {
        int i = rs_upstream_pick(u, &cl, 0, 0);
        if (i >= 0)
            rs_upstream_conn_begin(u, (unsigned)i);
    }
    for (unsigned i = 0; i < 4; i++) {
        uint32_t a = rs_upstream_active(u, i);
        CHECK(a >= 98 && a <= 102);
    }
    rs_upstreams_free(u);

    /* without load, choices follow the weights: 1:3 over 4000 picks */
    conf_make(&c, RS_BAL_RANDOM2, (const char *[]){"10.0.0.1:80", "10.0.0.2:80,weight=3", NULL});
    u = rs_upstreams_new(&c, 7);
    unsigned n1 = 0;
    for (int k = 0; k < 4000; k++)
        n1 += rs_upstream_pick(u, &cl, 0, 0) == 1;
    /* both drawn: first by weight, second the other one; a tie keeps the first: P(1) = 3/4 */
    CHECK(n1 > 2800 && n1 < 3200);
    rs_upstreams_free(u);
}

/* Which upstream each of n clients (10.x.y.z) gets. */
static void map_clients(struct rs_upstreams *u, int *out, unsigned n, uint64_t now)
{
    for (unsigned k = 0; k < n; k++) {
        struct rs_addr a = client4(0x0a000000 + k * 7919, 1000 + (int)k);
        out[k] = rs_upstream_pick(u, &a, 0, now);
    }
}

#define NCLIENTS 10000

static void test_hash_src(void)
{
    static int before[NCLIENTS], after[NCLIENTS];
    struct rs_relay_conf c;
    conf_make(&c, RS_BAL_HASH_SRC,
              (const char *[]){"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80,weight=2", NULL});
    struct rs_upstreams *u = rs_upstreams_new(&c, 1), *v = rs_upstreams_new(&c, 99);
    map_clients(u, before, NCLIENTS, 0);
    map_clients(v, after, NCLIENTS, 0);
    unsigned n[3] = {0, 0, 0}, differ = 0;
    for (unsigned k = 0; k < NCLIENTS; k++) {
        differ += before[k] != after[k]; /* same in every worker, whatever its seed */
        if (before[k] >= 0)
            n[before[k]]++;
    }
    CHECK_EQ(differ, 0);
    CHECK(n[0] > 2200 && n[0] < 2800);
    CHECK(n[1] > 2200 && n[1] < 2800);
    CHECK(n[2] > 4600 && n[2] < 5400);
    /* the port does not matter; an IPv4-mapped IPv6 client is the IPv4 one */
    struct rs_addr a = client4(0x0a0b0c0d, 1), b = client4(0x0a0b0c0d, 2), m;
    memset(&m, 0, sizeof(m));
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&m.ss;
    s6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:10.11.12.13", &s6->sin6_addr);
    m.len = sizeof(*s6);
    int ia = rs_upstream_pick(u, &a, 0, 0);
    CHECK_EQ(rs_upstream_pick(u, &b, 0, 0), ia);
    CHECK_EQ(rs_upstream_pick(u, &m, 0, 0), ia);
    /* one goes out: only its clients move, and they spread over the others */
    rs_upstream_fail(u, 2, 0);
    map_clients(u, after, NCLIENTS, 1);
    unsigned moved = 0, to[3] = {0, 0, 0};
    for (unsigned k = 0; k < NCLIENTS; k++) {
        CHECK(after[k] >= 0 && after[k] != 2);
        if (after[k] != before[k]) {
            CHECK_EQ(before[k], 2);
            moved++;
            to[after[k]]++;
        }
    }
    CHECK_EQ(moved, n[2]);
    CHECK(to[0] > moved / 4 && to[1] > moved / 4);
    /* back after a successful trial: everyone where they were */
    rs_upstream_ok(u, 2, 20 * S);
    map_clients(u, after, NCLIENTS, 20 * S);
    CHECK(memcmp(before, after, sizeof(before)) == 0);
    rs_upstreams_free(u);
    rs_upstreams_free(v);
}

/* Counts the clients that moved from a to b, and whether every one moved to dest. */
static unsigned moved_to(const int *a, const int *b, int dest, bool *all_to_dest)
{
    unsigned moved = 0;
    *all_to_dest = true;
    for (unsigned k = 0; k < NCLIENTS; k++) {
        if (a[k] != b[k]) {
            moved++;
            *all_to_dest &= b[k] == dest;
        }
    }
    return moved;
}

static void test_chash_src(void)
{
    static int four[NCLIENTS], five[NCLIENTS], out[NCLIENTS];
    struct rs_relay_conf c4, c5;
    const char *specs[] = {"10.0.0.1:80", "10.0.0.2:80", "[2001:db8::3]:80",
                           "10.0.0.4:80", "10.0.0.5:80", NULL};
    conf_make(&c5, RS_BAL_CHASH_SRC, specs);
    c4 = c5;
    c4.nup = 4;
    struct rs_upstreams *u4 = rs_upstreams_new(&c4, 1), *u5 = rs_upstreams_new(&c5, 2);
    CHECK(u4 && u5);
    map_clients(u4, four, NCLIENTS, 0);
    map_clients(u5, five, NCLIENTS, 0);
    unsigned n[4] = {0, 0, 0, 0};
    for (unsigned k = 0; k < NCLIENTS; k++)
        if (four[k] >= 0 && four[k] < 4)
            n[four[k]]++;
    for (unsigned i = 0; i < 4; i++)
        CHECK(n[i] > NCLIENTS * 15 / 100 && n[i] < NCLIENTS * 35 / 100);
    /* adding a fifth moves about a fifth of the clients, all to the new one */
    bool all_new;
    unsigned moved = moved_to(four, five, 4, &all_new);
    fprintf(stderr, "chash-src: 4 -> 5 upstreams moved %u of %u clients\n", moved, NCLIENTS);
    CHECK(moved >= NCLIENTS * 12 / 100 && moved <= NCLIENTS * 28 / 100);
    CHECK(all_new);
    /* the same client from another port stays */
    struct rs_addr a = client4(0x0a000000 + 5 * 7919, 4242);
    CHECK_EQ(rs_upstream_pick(u5, &a, 0, 0), five[5]);
    /* one going out moves only its own clients; they come back after */
    rs_upstream_fail(u5, 1, 0);
    map_clients(u5, out, NCLIENTS, 1);
    unsigned from1 = 0;
    for (unsigned k = 0; k < NCLIENTS; k++) {
        CHECK(out[k] != 1);
        if (out[k] != five[k]) {
            CHECK_EQ(five[k], 1);
            from1++;
        }
    }
    unsigned had1 = 0;
    for (unsigned k = 0; k < NCLIENTS; k++)
        had1 += five[k] == 1;
    CHECK_EQ(from1, had1);
    rs_upstream_ok(u5, 1, 2);
    map_clients(u5, out, NCLIENTS, 2);
    CHECK(memcmp(out, five, sizeof(out)) == 0);
    rs_upstreams_free(u4);
    rs_upstreams_free(u5);

    /* a configuration with big weights stays within the cap and still follows the weights */
    struct rs_relay_conf cw;
    conf_make(&cw, RS_BAL_CHASH_SRC,
              (const char *[]){"10.0.0.1:80,weight=1000", "10.0.0.2:80,weight=500",
                               "10.0.0.3:80,weight=500", NULL});
    struct rs_upstreams *w = rs_upstreams_new(&cw, 1);
    map_clients(w, out, NCLIENTS, 0);
    unsigned n0 = 0;
    for (unsigned k = 0; k < NCLIENTS; k++)
        n0 += out[k] == 0;
    CHECK(n0 > NCLIENTS * 40 / 100 && n0 < NCLIENTS * 60 / 100);
    rs_upstreams_free(w);
}

/* ---- every balancer against a model of what may be picked ---- */

/* The rules of relay.h restated: passive failures, trials, active rise/fall, limits. */
struct model {
    const struct rs_relay_conf *c;
    bool lone;
    struct {
        uint32_t active, fails, rise, fall;
        uint64_t fail_start, out_until;
        bool out, trial, dead;
    } s[RS_RELAY_MAX_UPSTREAMS];
};

static bool model_usable(const struct model *m, unsigned i, uint64_t tried, uint64_t now)
{
    const struct rs_upstream_conf *uc = &m->c->up[i];
    if (uc->down || (tried >> i & 1) || (uc->max_conns && m->s[i].active >= uc->max_conns))
        return false;
    if (m->lone)
        return true;
    return !m->s[i].dead && !(m->s[i].out && (now < m->s[i].out_until || m->s[i].trial));
}

static enum rs_upstream_state model_state(const struct model *m, unsigned i)
{
    return m->c->up[i].down ? RS_UP_DOWN
           : m->s[i].dead   ? RS_UP_DEAD
           : m->s[i].out    ? RS_UP_OUT
                            : RS_UP_UP;
}

static void model_fail(struct model *m, unsigned i, uint64_t now)
{
    uint64_t ft = m->c->fail_timeout_ns;
    if (m->c->max_fails == 0 || m->lone)
        return;
    if (m->s[i].out) {
        if (m->s[i].trial) {
            m->s[i].trial = false;
            m->s[i].out_until = now + ft;
        }
        return;
    }
    if (m->s[i].fails == 0 || now - m->s[i].fail_start >= ft) {
        m->s[i].fails = 0;
        m->s[i].fail_start = now;
    }
    if (++m->s[i].fails >= m->c->max_fails) {
        m->s[i].out = true;
        m->s[i].out_until = now + ft;
    }
}

static void model_health(struct model *m, unsigned i, bool ok)
{
    if (ok) {
        m->s[i].fall = 0;
        if (m->s[i].dead && ++m->s[i].rise >= m->c->health_rise) {
            m->s[i].dead = false;
            m->s[i].rise = 0;
        }
    } else {
        m->s[i].rise = 0;
        if (!m->s[i].dead && ++m->s[i].fall >= m->c->health_fall) {
            m->s[i].dead = true;
            m->s[i].fall = 0;
        }
    }
}

static uint64_t rnd_state = 0x1234567;

static uint32_t rnd(uint32_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (uint32_t)(rnd_state % n);
}

/* Random picks, connections, failures, successes and health checks over time, on the upstream
 * set and on the model side by side: the states agree at every step, and every pick is one the
 * rules allow (never down, tried, full, dead, out before its time or while its trial runs; a
 * backup only when no primary is usable) and -1 only when none is. */
static void test_model(enum rs_balance b, const char *const *specs)
{
    struct rs_relay_conf c;
    conf_make(&c, b, specs);
    c.max_fails = 2;
    c.fail_timeout_ns = 5 * S;
    c.health_rise = 2;
    c.health_fall = 2;
    struct rs_upstreams *u = rs_upstreams_new(&c, 3);
    CHECK(u != NULL);
    if (!u)
        return;
    struct model m = {.c = &c};
    unsigned live = 0;
    for (unsigned i = 0; i < c.nup; i++)
        live += !c.up[i].down;
    m.lone = live == 1;
    uint64_t now = 1000 * S;
    unsigned bad = 0, picks = 0, none = 0, backups = 0, trials = 0;
    for (int step = 0; step < 30000 && bad < 5; step++) {
        now += rnd(400) * (S / 1000);
        unsigned i = rnd(c.nup);
        switch (rnd(8)) {
        case 0:
        case 1: { /* a connection: pick (sometimes with one tried), check, maybe begin */
            uint64_t tried = rnd(4) == 0 ? 1ull << rnd(c.nup) : 0;
            struct rs_addr cl = client4(0x0a000000 + rnd(1000), 1);
            int r = rs_upstream_pick(u, &cl, tried, now);
            bool any = false, prim = false;
            for (unsigned k = 0; k < c.nup; k++) {
                bool ok = model_usable(&m, k, tried, now);
                any |= ok;
                prim |= ok && !c.up[k].backup;
            }
            picks++;
            none += r < 0;
            backups += r >= 0 && c.up[r].backup;
            bool good =
                r < 0 ? !any
                      : model_usable(&m, (unsigned)r, tried, now) && (!c.up[r].backup || !prim);
            if (!good) {
                fprintf(stderr, "%s step %d: picked %d (usable: any %d, primary %d)\n",
                        rs_balance_name(b), step, r, any, prim);
                bad++;
            }
            if (r >= 0 && rnd(3)) {
                rs_upstream_conn_begin(u, (unsigned)r);
                m.s[r].active++;
                if (m.s[r].out && !m.lone) {
                    m.s[r].trial = true;
                    trials++;
                }
            }
            break;
        }
        case 2:
            if (m.s[i].active) {
                rs_upstream_conn_end(u, i);
                m.s[i].active--;
                m.s[i].trial = false;
            }
            break;
        case 3:
        case 4:
            rs_upstream_fail(u, i, now);
            model_fail(&m, i, now);
            break;
        case 5:
            rs_upstream_ok(u, i, now);
            m.s[i].fails = 0;
            m.s[i].out = m.s[i].trial = false;
            break;
        default: {
            bool ok = rnd(3) != 0;
            rs_upstream_health(u, i, ok);
            model_health(&m, i, ok);
            break;
        }
        }
        if (rs_upstream_state(u, i, now) != model_state(&m, i) ||
            rs_upstream_active(u, i) != m.s[i].active) {
            fprintf(stderr, "%s step %d: upstream %u state %d active %u, model %d %u\n",
                    rs_balance_name(b), step, i, rs_upstream_state(u, i, now),
                    rs_upstream_active(u, i), model_state(&m, i), m.s[i].active);
            bad++;
        }
    }
    CHECK_EQ(bad, 0);
    /* the interesting cases were reached */
    CHECK(none > 0 && none < picks);
    CHECK(m.lone || (backups > 0 && trials > 0));
    rs_upstreams_free(u);
}

int main(void)
{
    static const char *const mixed[] = {"10.0.0.1:80,weight=3",
                                        "10.0.0.2:80,max-conns=3",
                                        "10.0.0.3:80,down",
                                        "[::1]:80",
                                        "10.0.0.5:80,weight=2,max-conns=5",
                                        "10.0.0.6:80,backup",
                                        "[::2]:80,backup,weight=4",
                                        NULL};
    static const char *const lone[] = {"10.0.0.1:80,max-conns=4", "10.0.0.2:80,down", NULL};
    for (int b = RS_BAL_RR; b <= RS_BAL_CHASH_SRC; b++) {
        test_model((enum rs_balance)b, mixed);
        test_model((enum rs_balance)b, lone);
    }
    test_parse();
    test_conf_check();
    test_rr();
    test_pick_rules();
    test_passive_health();
    test_active_health();
    test_least_conn();
    test_random2();
    test_hash_src();
    test_chash_src();
    return check_done("test_upstream");
}
