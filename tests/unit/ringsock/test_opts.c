#include <errno.h>
#include <string.h>

#include "../check.h"
#include "opts.h"
#include "ringsock/util/parse.h"

static int parse(struct rs_server_opts *o, char *err, int argc, const char **argv)
{
    return rs_server_opts_parse(argc, (char **)argv, o, err, 256);
}

int main(void)
{
    uint64_t v;
    CHECK_EQ(rs_parse_size("0", 0, 10, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(rs_parse_size("64k", 0, UINT64_MAX, &v), 0);
    CHECK_EQ(v, 65536);
    CHECK_EQ(rs_parse_size("3M", 0, UINT64_MAX, &v), 0);
    CHECK_EQ(v, 3 << 20);
    CHECK_EQ(rs_parse_size("2GiB", 0, UINT64_MAX, &v), 0);
    CHECK_EQ(v, 2ull << 30);
    CHECK_EQ(rs_parse_size("1kb", 0, UINT64_MAX, &v), 0);
    CHECK_EQ(v, 1024);
    CHECK_EQ(rs_parse_size("", 0, 10, &v), -EINVAL);
    CHECK_EQ(rs_parse_size("-1", 0, 10, &v), -EINVAL);
    CHECK_EQ(rs_parse_size("12x", 0, 100, &v), -EINVAL);
    CHECK_EQ(rs_parse_size("1kk", 0, UINT64_MAX, &v), -EINVAL);
    CHECK_EQ(rs_parse_size("11", 0, 10, &v), -ERANGE);
    CHECK_EQ(rs_parse_size("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
    CHECK_EQ(rs_parse_size("17179869184g", 0, UINT64_MAX, &v), -ERANGE);

    static struct rs_server_opts o;
    char err[256];

    /* Embedded default: echo on 127.0.0.1:7000, backend auto. */
    const char *a0[] = {"ringsock", "echo"};
    CHECK_EQ(parse(&o, err, 2, a0), RS_OPTS_RUN);
    CHECK_EQ(o.service, RS_SVC_ECHO);
    CHECK_EQ(o.lst[0].ntcp, 1);
    CHECK_EQ(rs_addr_port(&o.lst[0].tcp[0]), 7000);
    CHECK_EQ(o.backend, RS_BACKEND_AUTO);
    CHECK(o.threads >= 1);
    CHECK_EQ(o.loop.write_queue, 256 * 1024);
    CHECK_EQ(o.drain_delay_ns, 0);
    CHECK(o.pid_file[0] == '\0');

    /* --drain-delay and --pid-file (systemd): a duration, at most an hour; a file name. */
    const char *ad[] = {"ringsock", "--drain-delay", "1.5s", "--pid-file", "/run/rs.pid"};
    CHECK_EQ(parse(&o, err, 5, ad), RS_OPTS_RUN);
    CHECK_EQ(o.drain_delay_ns, 1500000000ull);
    CHECK(strcmp(o.pid_file, "/run/rs.pid") == 0);
    const char *ad2[] = {"ringsock", "--drain-delay", "2h"};
    CHECK_EQ(parse(&o, err, 3, ad2), -EINVAL);
    const char *ad3[] = {"ringsock", "--drain-delay", "soon"};
    CHECK_EQ(parse(&o, err, 3, ad3), -EINVAL);
    const char *ad4[] = {"ringsock", "--pid-file", ""};
    CHECK_EQ(parse(&o, err, 3, ad4), -EINVAL);
    CHECK(!o.has_admin); /* no admin endpoint unless asked for */

    /* --admin: an address like a listener's, port 0 allowed; a bad one is refused by name. */
    const char *adm[] = {"ringsock", "--admin", "[::1]:0"};
    CHECK_EQ(parse(&o, err, 3, adm), RS_OPTS_RUN);
    CHECK(o.has_admin);
    CHECK_EQ(o.admin.ss.ss_family, AF_INET6);
    CHECK_EQ(rs_addr_port(&o.admin), 0);
    const char *ad_bad[] = {"ringsock", "--admin", "localhost"};
    CHECK_EQ(parse(&o, err, 3, ad_bad), -EINVAL);
    CHECK(strstr(err, "--admin") != NULL);

    const char *a1[] = {
        "ringsock",    "--threads", "3",         "discard", "--tcp",         ":9000",
        "--tcp",       "[::1]:0",   "--backend", "epoll",   "--write-queue", "1m",
        "--buf-count", "4",         "--sndbuf",  "4k"};
    CHECK_EQ(parse(&o, err, 16, a1), RS_OPTS_RUN);
    CHECK_EQ(o.service, RS_SVC_DISCARD);
    CHECK_EQ(o.threads, 3);
    CHECK_EQ(o.lst[0].ntcp, 2);
    CHECK_EQ(rs_addr_port(&o.lst[0].tcp[0]), 9000);
    CHECK_EQ(o.lst[0].tcp[1].ss.ss_family, AF_INET6);
    CHECK_EQ(o.backend, RS_BACKEND_EPOLL);
    CHECK_EQ(o.loop.write_queue, 1 << 20);
    CHECK_EQ(o.loop.buf_count, 4);
    CHECK_EQ(o.loop.sndbuf, 4096);

    /* With no listener given, TCP and UDP on 127.0.0.1:7000 together. */
    CHECK_EQ(o.lst[0].nudp, 0); /* a1 gave --tcp only: no UDP */
    CHECK_EQ(parse(&o, err, 2, a0), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].nudp, 1);
    CHECK_EQ(rs_addr_port(&o.lst[0].udp[0]), 7000);
    CHECK_EQ(o.lst[0].udp_buf, 65536);

    const char *u1[] = {
        "ringsock", "echo",        "--udp", "[::1]:0",   "--udp", "239.1.2.3:5", "--join-iface",
        "lo",       "--udp-batch", "64",    "--udp-buf", "2k",    "--udp-queue", "0"};
    CHECK_EQ(parse(&o, err, 14, u1), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].ntcp, 0); /* --udp only: no TCP */
    CHECK_EQ(o.lst[0].nudp, 2);
    CHECK_EQ(o.lst[0].udp[0].ss.ss_family, AF_INET6);
    CHECK(strcmp(o.lst[0].join_iface, "lo") == 0);
    CHECK_EQ(o.lst[0].udp_batch, 64);
    CHECK_EQ(o.lst[0].udp_buf, 2048);
    CHECK_EQ(o.lst[0].udp_queue, 0);

    /* A multicast group without an interface to join it on is refused. */
    const char *u2[] = {"ringsock", "--udp", "239.1.2.3:5"};
    CHECK_EQ(parse(&o, err, 3, u2), -EINVAL);
    CHECK(strstr(err, "--join-iface") != NULL);
    const char *u3[] = {"ringsock", "--udp-buf", "70000"};
    CHECK_EQ(parse(&o, err, 3, u3), -EINVAL);
    const char *u4[] = {"ringsock", "--udp-batch", "0"};
    CHECK_EQ(parse(&o, err, 3, u4), -EINVAL);

    /* --stats: seconds, fractions and units; off by default. */
    CHECK_EQ(parse(&o, err, 2, a0), RS_OPTS_RUN);
    CHECK_EQ(o.stats_ns, 0);
    const char *s1[] = {"ringsock", "--stats", "2"};
    CHECK_EQ(parse(&o, err, 3, s1), RS_OPTS_RUN);
    CHECK_EQ(o.stats_ns, 2000000000ull);
    const char *s2[] = {"ringsock", "echo", "--stats", "0.5"};
    CHECK_EQ(parse(&o, err, 4, s2), RS_OPTS_RUN);
    CHECK_EQ(o.stats_ns, 500000000ull);
    const char *s3[] = {"ringsock", "--stats", "10ms"};
    CHECK_EQ(parse(&o, err, 3, s3), RS_OPTS_RUN);
    CHECK_EQ(o.stats_ns, 10000000ull);
    const char *s4[] = {"ringsock", "--stats", "0"};
    CHECK_EQ(parse(&o, err, 3, s4), -EINVAL);
    CHECK(strstr(err, "--stats") != NULL && strstr(err, "out of range") != NULL);

    /* sockperf: sockperf's default port for TCP and UDP; --max-msg within 14..16m. */
    const char *p1[] = {"ringsock", "sockperf"};
    CHECK_EQ(parse(&o, err, 2, p1), RS_OPTS_RUN);
    CHECK_EQ(o.service, RS_SVC_SOCKPERF);
    CHECK_EQ(o.lst[0].ntcp, 1);
    CHECK_EQ(o.lst[0].nudp, 1);
    CHECK_EQ(rs_addr_port(&o.lst[0].tcp[0]), 11111);
    CHECK_EQ(rs_addr_port(&o.lst[0].udp[0]), 11111);
    CHECK_EQ(o.lst[0].max_msg, 65536);
    const char *p2[] = {"ringsock", "sockperf", "--udp", "127.0.0.1:0", "--max-msg", "1m"};
    CHECK_EQ(parse(&o, err, 6, p2), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].ntcp, 0);
    CHECK_EQ(o.lst[0].max_msg, 1 << 20);
    const char *p3[] = {"ringsock", "sockperf", "--max-msg", "13"};
    CHECK_EQ(parse(&o, err, 4, p3), -EINVAL);
    CHECK(strstr(err, "--max-msg") != NULL);
    const char *p4[] = {"ringsock", "sockperf", "--max-msg", "17m"};
    CHECK_EQ(parse(&o, err, 4, p4), -EINVAL);

    /* --idle-timeout: 300 s by default, 0 turns it off, under a millisecond is refused;
     * --max-conns-per-ip: off by default, at least 1. */
    const char *i1[] = {"ringsock", "echo"};
    CHECK_EQ(parse(&o, err, 2, i1), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].idle_timeout_ns, 300000000000ull);
    CHECK_EQ(o.loop.max_conns_per_ip, 0);
    const char *i2[] = {"ringsock", "echo", "--idle-timeout", "0", "--max-conns-per-ip", "5"};
    CHECK_EQ(parse(&o, err, 6, i2), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].idle_timeout_ns, 0);
    CHECK_EQ(o.loop.max_conns_per_ip, 5);
    const char *i3[] = {"ringsock", "echo", "--idle-timeout", "1500ms"};
    CHECK_EQ(parse(&o, err, 4, i3), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].idle_timeout_ns, 1500000000ull);
    const char *i4[] = {"ringsock", "echo", "--idle-timeout", "500us"};
    CHECK_EQ(parse(&o, err, 4, i4), -EINVAL);
    CHECK(strstr(err, "--idle-timeout") != NULL);
    const char *i5[] = {"ringsock", "echo", "--idle-timeout", "soon"};
    CHECK_EQ(parse(&o, err, 4, i5), -EINVAL);
    const char *i6[] = {"ringsock", "echo", "--max-conns-per-ip", "0"};
    CHECK_EQ(parse(&o, err, 4, i6), -EINVAL);
    CHECK(strstr(err, "--max-conns-per-ip") != NULL);
    /* UDP reflection defences: the default deny list, a list that replaces it, none, a rate. */
    CHECK_EQ(parse(&o, err, 2, a0), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].udp_deny_count, 15);
    CHECK(rs_port_set_has(o.lst[0].udp_deny, 0) && rs_port_set_has(o.lst[0].udp_deny, 53));
    CHECK(rs_port_set_has(o.lst[0].udp_deny, 11211) && !rs_port_set_has(o.lst[0].udp_deny, 7000));
    CHECK_EQ(o.lst[0].udp_rate, 0);
    const char *d1[] = {"ringsock", "--udp-deny-ports", "40000-40010,9", "--udp-rate-per-source",
                        "100"};
    CHECK_EQ(parse(&o, err, 5, d1), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].udp_deny_count, 12);
    CHECK(!rs_port_set_has(o.lst[0].udp_deny, 53) && rs_port_set_has(o.lst[0].udp_deny, 40010));
    CHECK_EQ(o.lst[0].udp_rate, 100);
    const char *d2[] = {"ringsock", "--udp-deny-ports", "none"};
    CHECK_EQ(parse(&o, err, 3, d2), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].udp_deny_count, 0);
    CHECK(!rs_port_set_has(o.lst[0].udp_deny, 53));
    const char *d3[] = {"ringsock", "--udp-deny-ports", "70000"};
    CHECK_EQ(parse(&o, err, 3, d3), -EINVAL);
    CHECK(strstr(err, "--udp-deny-ports") != NULL);
    const char *d4[] = {"ringsock", "--udp-rate-per-source", "0"};
    CHECK_EQ(parse(&o, err, 3, d4), -EINVAL);
    CHECK(strstr(err, "--udp-rate-per-source") != NULL);

    const char *a2[] = {"ringsock", "--help"};
    CHECK_EQ(parse(&o, err, 2, a2), RS_OPTS_HELP);
    const char *a3[] = {"ringsock", "echo", "--version"};
    CHECK_EQ(parse(&o, err, 3, a3), RS_OPTS_VERSION);

    /* Each bad input is refused with a one-line reason that names it. */
    const char *bad[][3] = {
        {"ringsock", "--bogus", NULL},    {"ringsock", "--threads", "0"},
        {"ringsock", "--threads", "x"},   {"ringsock", "--backend", "kqueue"},
        {"ringsock", "--tcp", "1.2.3.4"}, {"ringsock", "frobnicate", NULL},
        {"ringsock", "--buf-size", "12"}, {"ringsock", "--tcp", NULL},
        {"ringsock", "--stats", "0"},     {"ringsock", "--stats", "-1"},
        {"ringsock", "--stats", "x"},     {"ringsock", "--stats", "5ms"},
        {"ringsock", "--stats", "1q"},    {"ringsock", "--stats", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int argc = bad[i][2] ? 3 : 2;
        if (!bad[i][2] && strcmp(bad[i][1], "--tcp") == 0)
            argc = 2;
        err[0] = '\0';
        int r = parse(&o, err, argc, bad[i]);
        if (r != -EINVAL || err[0] == '\0' || strchr(err, '\n')) {
            fprintf(stderr, "bad case %zu (%s): r=%d err='%s'\n", i, bad[i][1], r, err);
            check_failures++;
        }
    }
    /* The relay: no default upstream; its options are its own; --window is its queue cap;
     * --idle-timeout is 10 minutes unless given. */
    const char *r1[] = {"ringsock", "relay"};
    CHECK_EQ(parse(&o, err, 2, r1), -EINVAL);
    CHECK(strstr(err, "upstream") != NULL);
    const char *r2[] = {"ringsock", "echo", "--upstream", "127.0.0.1:80"};
    CHECK_EQ(parse(&o, err, 4, r2), -EINVAL);
    CHECK(strstr(err, "relay") != NULL);
    const char *r3[] = {"ringsock",          "relay",    "--upstream", "127.0.0.1:80", "--upstream",
                        "[::1]:81,weight=2", "--window", "64k",        "--send-proxy", "v2",
                        "--accept-proxy"};
    CHECK_EQ(parse(&o, err, 11, r3), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].relay.nup, 2);
    CHECK_EQ(o.lst[0].relay.up[1].weight, 2);
    CHECK_EQ(o.lst[0].relay.window, 65536);
    CHECK_EQ(o.lst[0].relay.send_proxy, 2);
    CHECK(o.lst[0].relay.accept_proxy);
    CHECK_EQ(o.lst[0].relay.idle_timeout_ns, 600ull * 1000000000);
    CHECK_EQ(rs_addr_port(&o.lst[0].tcp[0]), 9000);
    const char *r4[] = {"ringsock",          "relay", "--upstream",    "127.0.0.1:80",
                        "--idle-timeout",    "2s",    "--fin-timeout", "0",
                        "--connect-timeout", "250ms"};
    CHECK_EQ(parse(&o, err, 10, r4), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].relay.idle_timeout_ns, 2000000000ull);
    CHECK_EQ(o.lst[0].relay.fin_timeout_ns, 0);
    CHECK_EQ(o.lst[0].relay.connect_timeout_ns, 250000000ull);
    /* Active health: escapes decoded, defaults, and the combinations the check refuses. */
    const char *r5[] = {"ringsock",          "relay",  "--upstream",       "127.0.0.1:80",
                        "--health",          "tcp",    "--health-send",    "PING\\r\\n",
                        "--health-expect",   "+OK\\t", "--health-fall",    "5",
                        "--health-interval", "500ms",  "--health-timeout", "400ms"};
    CHECK_EQ(parse(&o, err, 16, r5), RS_OPTS_RUN);
    CHECK_EQ(o.lst[0].relay.health, RS_HEALTH_TCP);
    CHECK_EQ(o.lst[0].relay.health_send_len, 6);
    CHECK(memcmp(o.lst[0].relay.health_send, "PING\r\n", 6) == 0);
    CHECK_EQ(o.lst[0].relay.health_expect_len, 4);
    CHECK(memcmp(o.lst[0].relay.health_expect, "+OK\t", 4) == 0);
    CHECK_EQ(o.lst[0].relay.health_fall, 5);
    CHECK_EQ(o.lst[0].relay.health_rise, 2);
    CHECK_EQ(o.lst[0].relay.health_interval_ns, 500000000ull);
    CHECK_EQ(o.lst[0].relay.health_timeout_ns, 400000000ull);
    const char *r6[] = {"ringsock", "relay", "--upstream", "127.0.0.1:80", "--health-expect", "x"};
    CHECK_EQ(parse(&o, err, 6, r6), -EINVAL); /* without --health tcp */
    CHECK(strstr(err, "--health tcp") != NULL);
    const char *r7[] = {"ringsock", "relay", "--upstream",        "127.0.0.1:80",
                        "--health", "tcp",   "--health-interval", "100ms"};
    CHECK_EQ(parse(&o, err, 8, r7), -EINVAL); /* the 1s timeout is longer than the interval */
    CHECK(strstr(err, "--health-timeout") != NULL);
    const char *rbad[][2] = {
        {"--upstream", "nowhere"},  {"--balance", "fastest"}, {"--send-proxy", "v3"},
        {"--connect-timeout", "0"}, {"--window", "1"},        {"--connect-tries", "0"},
        {"--health", "http"},       {"--health-rise", "0"},   {"--health-interval", "0"}};
    for (size_t i = 0; i < sizeof(rbad) / sizeof(rbad[0]); i++) {
        const char *rv[] = {"ringsock",     "relay",    "--upstream",
                            "127.0.0.1:80", rbad[i][0], rbad[i][1]};
        err[0] = '\0';
        int r = parse(&o, err, 6, rv);
        if (r != -EINVAL || err[0] == '\0' || strchr(err, '\n')) {
            fprintf(stderr, "relay bad case %s %s: r=%d err='%s'\n", rbad[i][0], rbad[i][1], r,
                    err);
            check_failures++;
        }
    }
    const char *a4[] = {"ringsock", "echo", "extra"};
    CHECK_EQ(parse(&o, err, 3, a4), -EINVAL);
    CHECK(strstr(err, "extra") != NULL);
    return check_done("test_opts");
}
