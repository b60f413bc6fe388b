#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"
#include "../check.h"
#include "load_opts.h"
#include "ringsock/util/parse.h"

static int parse(struct rs_load_opts *o, char *err, int argc, const char **argv)
{
    return rs_load_opts_parse(argc, (char **)argv, o, err, 300);
}

static void sched_order(void)
{
    /* The heap hands back entries in due order, only once due, ties in any order. */
    struct load_sched s;
    CHECK_EQ(load_sched_init(&s, 64), 0);
    uint64_t dues[64];
    unsigned seed = 11;
    for (uint32_t i = 0; i < 64; i++) {
        seed = seed * 1103515245u + 12345u;
        dues[i] = 1000 + (seed >> 16) % 500;
        CHECK_EQ(load_sched_push(&s, dues[i], i), 0);
    }
    CHECK_EQ(load_sched_push(&s, 1, 99), -ENOSPC);
    uint32_t idx;
    CHECK(!load_sched_pop_due(&s, 999, &idx));
    uint64_t last = 0;
    unsigned n = 0;
    while (load_sched_pop_due(&s, 2000, &idx)) {
        CHECK(idx < 64);
        CHECK(dues[idx] >= last);
        last = dues[idx];
        n++;
    }
    CHECK_EQ(n, 64);
    CHECK_EQ(load_sched_next(&s), UINT64_MAX);
    load_sched_fini(&s);
}

static void sources(void)
{
    struct rs_addr a[8];
    unsigned n = 0;
    char err[300], buf[RS_ADDR_STRLEN];

    /* A list and a range, appended in order, port 0. */
    CHECK_EQ(rs_parse_sources("127.0.0.9,127.0.0.1-127.0.0.3", a, 8, &n, err, sizeof(err)), 0);
    CHECK_EQ(n, 4);
    CHECK(strcmp(rs_addr_format(&a[0], buf, sizeof(buf)), "127.0.0.9:0") == 0);
    CHECK(strcmp(rs_addr_format(&a[1], buf, sizeof(buf)), "127.0.0.1:0") == 0);
    CHECK(strcmp(rs_addr_format(&a[3], buf, sizeof(buf)), "127.0.0.3:0") == 0);
    /* Repeated --source adds; a range carries over octets. */
    CHECK_EQ(rs_parse_sources("10.0.0.255-10.0.1.0", a, 8, &n, err, sizeof(err)), 0);
    CHECK_EQ(n, 6);
    CHECK(strcmp(rs_addr_format_ip(&a[5], buf, sizeof(buf)), "10.0.1.0") == 0);
    /* IPv6, brackets optional, ranges carry across bytes too. */
    n = 0;
    CHECK_EQ(rs_parse_sources("[::1],fd00::ff-fd00::101", a, 8, &n, err, sizeof(err)), 0);
    CHECK_EQ(n, 4);
    CHECK_EQ(a[0].ss.ss_family, AF_INET6);
    CHECK(strcmp(rs_addr_format_ip(&a[0], buf, sizeof(buf)), "::1") == 0);
    CHECK(strcmp(rs_addr_format_ip(&a[2], buf, sizeof(buf)), "fd00::100") == 0);
    CHECK(strcmp(rs_addr_format_ip(&a[3], buf, sizeof(buf)), "fd00::101") == 0);
    /* The cap, reversed and mixed ranges, garbage, empty items: one line each. */
    const char *bad[] = {"127.0.0.1-127.0.0.9",
                         "127.0.0.5-127.0.0.1",
                         "127.0.0.1-::1",
                         "localhost",
                         "127.0.0.1:80",
                         "",
                         "127.0.0.1,",
                         ",127.0.0.1",
                         "1.2.3.4-",
                         "300.0.0.1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 0;
        err[0] = '\0';
        int r = rs_parse_sources(bad[i], a, 8, &n, err, sizeof(err));
        if (r != -EINVAL || err[0] == '\0' || strchr(err, '\n')) {
            fprintf(stderr, "bad source '%s': r=%d err='%s'\n", bad[i], r, err);
            check_failures++;
        }
    }

    double r;
    CHECK_EQ(rs_parse_rate("5000", &r), 0);
    CHECK(r == 5000);
    CHECK_EQ(rs_parse_rate("2.5k", &r), 0);
    CHECK(r == 2500);
    CHECK_EQ(rs_parse_rate("1m", &r), 0);
    CHECK(r == 1e6);
    CHECK_EQ(rs_parse_rate("100/s", &r), 0);
    CHECK_EQ(rs_parse_rate("0", &r), -EINVAL);
    CHECK_EQ(rs_parse_rate("-5", &r), -EINVAL);
    CHECK_EQ(rs_parse_rate("5x", &r), -EINVAL);
}

static void idle_opts(void)
{
    struct rs_load_opts o;
    char err[300];

    /* Defaults: echo check for tcp://, 1024 connects in flight, 5 s connect timeout. */
    const char *a1[] = {"ringload",
                        "--idle",
                        "-c",
                        "3000",
                        "-t",
                        "2",
                        "--source",
                        "127.0.0.1-127.0.0.2",
                        "tcp://127.0.0.1:7000"};
    CHECK_EQ(parse(&o, err, 9, a1), RS_LOAD_RUN);
    CHECK(o.idle);
    CHECK_EQ(o.idle_check, RS_IDLE_CHECK_ECHO);
    CHECK_EQ(o.max_connecting, 1024);
    CHECK_EQ(o.connect_timeout_ns, 5000000000ull);
    CHECK(o.connect_rate == 0);
    CHECK_EQ(o.nsources, 2);
    CHECK(load_source(&o, 0) == &o.sources[0]);
    CHECK(load_source(&o, 3) == &o.sources[1]);

    const char *a2[] = {"ringload",         "--idle", "--connect-rate",    "20k",
                        "--max-connecting", "64",     "--connect-timeout", "1s",
                        "--source-ip",      "::1",    "http://[::1]:8080/"};
    CHECK_EQ(parse(&o, err, 11, a2), RS_LOAD_RUN);
    CHECK_EQ(o.idle_check, RS_IDLE_CHECK_HTTP); /* http:// checks with a request */
    CHECK(o.connect_rate == 20000);
    CHECK_EQ(o.max_connecting, 64);
    CHECK_EQ(o.connect_timeout_ns, 1000000000ull);
    CHECK_EQ(o.nsources, 1);

    const char *a3[] = {"ringload", "--idle", "--idle-check", "none", "http://127.0.0.1:80/"};
    CHECK_EQ(parse(&o, err, 5, a3), RS_LOAD_RUN);
    CHECK_EQ(o.idle_check, RS_IDLE_CHECK_NONE);
    CHECK(load_source(&o, 5) == NULL);

    /* Without --idle, --source still works for tcp:// and http://. */
    const char *a4[] = {"ringload", "--source", "127.0.0.2", "http://127.0.0.1:80/"};
    CHECK_EQ(parse(&o, err, 4, a4), RS_LOAD_RUN);
    CHECK(!o.idle);

    /* Each of these is refused with one line. */
    const char *bad[][6] = {
        {"ringload", "--idle", "udp://127.0.0.1:9", NULL},
        {"ringload", "--idle", "-R", "100", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--idle", "--depth", "4", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--idle", "--idle-check", "http", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--idle", "--idle-check", "ping", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--connect-rate", "100", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--max-connecting", "10", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--idle", "--max-connecting", "0", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--idle", "--connect-rate", "0", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--idle", "--connect-timeout", "0", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--source", "::1", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--source", "127.0.0.1", "tcp://[::1]:9", NULL},
        {"ringload", "--source", "127.0.0.1", "udp://127.0.0.1:9", NULL},
        {"ringload", "--source", "127.0.0.x", "tcp://127.0.0.1:9", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int argc = 0;
        while (argc < 6 && bad[i][argc])
            argc++;
        err[0] = '\0';
        int r = parse(&o, err, argc, bad[i]);
        if (r != -EINVAL || err[0] == '\0' || strchr(err, '\n')) {
            fprintf(stderr, "bad idle case %zu: r=%d err='%s'\n", i, r, err);
            check_failures++;
        }
    }
}

/* What an HTTP request is built from reaches the builder whole: a long path is not cut, and -H
 * takes many long headers. */
static void http_opts(void)
{
    static char url[3100], hdr[300][1100];
    static const char *argv[600];
    struct rs_load_opts o;
    char err[300];

    /* A 3000-byte path, kept whole; the URL too. */
    size_t n = (size_t)snprintf(url, sizeof(url), "http://127.0.0.1:8080/");
    for (; n < 22 + 3000; n++)
        url[n] = (char)('a' + n % 26);
    url[n] = '\0';
    const char *a1[] = {"ringload", url};
    CHECK_EQ(parse(&o, err, 2, a1), RS_LOAD_RUN);
    CHECK_EQ(strlen(o.path), 3001);
    CHECK(strcmp(o.path, url + 21) == 0);
    CHECK(strcmp(o.url, url) == 0);
    const char *a2[] = {"ringload", "http://127.0.0.1"};
    CHECK_EQ(parse(&o, err, 2, a2), RS_LOAD_RUN);
    CHECK(strcmp(o.path, "/") == 0);

    /* 64 headers of 1 KiB, in order; up to RS_LOAD_MAX_HEADERS of them. */
    for (int i = 0; i < 300; i++) {
        int k = snprintf(hdr[i], sizeof(hdr[i]), "X-H%03d: ", i);
        memset(hdr[i] + k, 'v', 1024 - (size_t)k);
        hdr[i][1024] = '\0';
    }
    int argc = 0;
    argv[argc++] = "ringload";
    for (int i = 0; i < 64; i++) {
        argv[argc++] = "-H";
        argv[argc++] = hdr[i];
    }
    argv[argc++] = "http://127.0.0.1:8080/";
    CHECK_EQ(parse(&o, err, argc, argv), RS_LOAD_RUN);
    CHECK_EQ(o.nheaders, 64);
    CHECK(o.nheaders == 64 && o.headers[0] == hdr[0] && o.headers[63] == hdr[63]);
    argc = 1;
    for (int i = 0; i < RS_LOAD_MAX_HEADERS; i++) {
        argv[argc++] = "-H";
        argv[argc++] = hdr[i];
    }
    argv[argc++] = "http://127.0.0.1:8080/";
    CHECK_EQ(parse(&o, err, argc, argv), RS_LOAD_RUN);
    CHECK_EQ(o.nheaders, RS_LOAD_MAX_HEADERS);
    /* One more is refused, with one line. */
    argv[argc - 1] = "-H";
    argv[argc++] = hdr[RS_LOAD_MAX_HEADERS];
    argv[argc++] = "http://127.0.0.1:8080/";
    err[0] = '\0';
    CHECK_EQ(parse(&o, err, argc, argv), -EINVAL);
    CHECK(err[0] != '\0' && !strchr(err, '\n'));
    CHECK(strstr(err, "-H") != NULL);

    const char *bad[][4] = {
        {"ringload", "-H", "no colon", "http://127.0.0.1/"},
        {"ringload", "-H", "X: a\r\nY: b", "http://127.0.0.1/"},
        {"ringload", "-H", "X: 1", "tcp://127.0.0.1:9"},
        {"ringload", "-H", "X: 1", "http://127.0.0.1/a b"},
        {"ringload", "-H", "X: 1", "http://127.0.0.1/a\r\nY: 2"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int r = parse(&o, err, 4, bad[i]);
        if (r != -EINVAL || err[0] == '\0' || strchr(err, '\n')) {
            fprintf(stderr, "bad http case %zu: r=%d err='%s'\n", i, r, err);
            check_failures++;
        }
    }
}

/* --body-file: parsed as a name, read whole (any bytes) by rs_load_opts_read_body, refused with
 * one line naming the file when it cannot be read or is too large. */
static void body_file(void)
{
    struct rs_load_opts o;
    char err[300], path[64], fdpath[64];
    unsigned char bytes[3000];

    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)(i * 131 + (i >> 8)); /* NULs, CRs and LFs among them */
    snprintf(path, sizeof(path), "/tmp/test_load_opts.XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, bytes, sizeof(bytes)), (long long)sizeof(bytes));
    close(fd);

    const char *a1[] = {"ringload", "--body-file", path, "http://127.0.0.1/"};
    CHECK_EQ(parse(&o, err, 4, a1), RS_LOAD_RUN);
    CHECK(strcmp(o.method, "POST") == 0);
    CHECK(o.body == NULL && o.body_len == 0); /* not read yet */
    CHECK_EQ(rs_load_opts_read_body(&o, err, sizeof(err)), 0);
    CHECK_EQ(o.body_len, sizeof(bytes));
    CHECK(o.body && memcmp(o.body, bytes, sizeof(bytes)) == 0);
    rs_load_opts_free(&o);
    CHECK(o.body == NULL && o.body_len == 0);

    /* An empty file is an empty body; a pipe is read to its end. */
    CHECK_EQ(truncate(path, 0), 0);
    CHECK_EQ(parse(&o, err, 4, a1), RS_LOAD_RUN);
    CHECK_EQ(rs_load_opts_read_body(&o, err, sizeof(err)), 0);
    CHECK_EQ(o.body_len, 0);
    rs_load_opts_free(&o);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(write(p[1], bytes, 1000), 1000);
    close(p[1]);
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", p[0]);
    const char *a2[] = {"ringload", "--body-file", fdpath, "http://127.0.0.1/"};
    CHECK_EQ(parse(&o, err, 4, a2), RS_LOAD_RUN);
    CHECK_EQ(rs_load_opts_read_body(&o, err, sizeof(err)), 0);
    CHECK_EQ(o.body_len, 1000);
    CHECK(o.body && memcmp(o.body, bytes, 1000) == 0);
    rs_load_opts_free(&o);
    close(p[0]);

    /* Too large: a (sparse) file one byte over, and an endless device. */
    CHECK_EQ(truncate(path, (off_t)RS_LOAD_MAX_BODY + 1), 0);
    CHECK_EQ(parse(&o, err, 4, a1), RS_LOAD_RUN);
    CHECK_EQ(rs_load_opts_read_body(&o, err, sizeof(err)), -EFBIG);
    CHECK(strstr(err, path) != NULL && !strchr(err, '\n'));
    CHECK(o.body == NULL);
    rs_load_opts_free(&o);
    const char *a3[] = {"ringload", "--body-file", "/dev/zero", "http://127.0.0.1/"};
    CHECK_EQ(parse(&o, err, 4, a3), RS_LOAD_RUN);
    CHECK_EQ(rs_load_opts_read_body(&o, err, sizeof(err)), -EFBIG);
    rs_load_opts_free(&o);
    unlink(path);

    /* Missing: the file and the reason in one line. */
    CHECK_EQ(parse(&o, err, 4, a1), RS_LOAD_RUN);
    CHECK_EQ(rs_load_opts_read_body(&o, err, sizeof(err)), -ENOENT);
    CHECK(strstr(err, path) != NULL && strstr(err, strerror(ENOENT)) != NULL);
    rs_load_opts_free(&o);

    /* Without --body-file there is nothing to read. */
    const char *a4[] = {"ringload", "--body", "x", "http://127.0.0.1/"};
    CHECK_EQ(parse(&o, err, 4, a4), RS_LOAD_RUN);
    CHECK_EQ(rs_load_opts_read_body(&o, err, sizeof(err)), 0);
    CHECK(o.body_len == 1 && strcmp(o.body, "x") == 0);

    const char *bad[][6] = {
        {"ringload", "--body", "x", "--body-file", "f", "http://127.0.0.1/"},
        {"ringload", "--body-file", "f", "tcp://127.0.0.1:9", NULL},
        {"ringload", "--body-file", "f", "udp://127.0.0.1:9", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int argc = 0;
        while (argc < 6 && bad[i][argc])
            argc++;
        err[0] = '\0';
        int r = parse(&o, err, argc, bad[i]);
        if (r != -EINVAL || err[0] == '\0' || strchr(err, '\n')) {
            fprintf(stderr, "bad body case %zu: r=%d err='%s'\n", i, r, err);
            check_failures++;
        }
    }
}

/* --shard I/N: -c and -R are the run's totals; shard I keeps an even split of the connections
 * (the first c % N shards one more), numbered globally, and the matching share of the rate. */
static void shard_opts(void)
{
    struct rs_load_opts o;
    char err[300];
    static const unsigned want_n[3] = {4, 3, 3}, want_base[3] = {0, 4, 7};
    for (unsigned i = 0; i < 3; i++) {
        char shard[16];
        snprintf(shard, sizeof(shard), "%u/3", i);
        const char *a[] = {"ringload", "-c",      "10",  "-R",
                           "3000",     "--shard", shard, "tcp://127.0.0.1:7000"};
        CHECK_EQ(parse(&o, err, 8, a), RS_LOAD_RUN);
        CHECK_EQ(o.shard_index, i);
        CHECK_EQ(o.shard_count, 3);
        CHECK_EQ(o.conns, want_n[i]);
        CHECK_EQ(o.conn_base, want_base[i]);
        CHECK_EQ(o.conns_total, 10);
        CHECK(o.rate_total == 3000);
        CHECK(o.rate > 300.0 * want_n[i] - 1e-9 && o.rate < 300.0 * want_n[i] + 1e-9);
    }
    /* Every split covers the run's connections once, in order, the sizes one apart at most. */
    for (unsigned c = 1; c <= 40; c++)
        for (unsigned n = 1; n <= c; n++) {
            unsigned next = 0, lo = ~0u, hi = 0;
            for (unsigned i = 0; i < n; i++) {
                unsigned first, k;
                rs_load_shard_split(c, i, n, &first, &k);
                CHECK_EQ(first, next);
                next = first + k;
                lo = k < lo ? k : lo;
                hi = k > hi ? k : hi;
            }
            CHECK_EQ(next, c);
            CHECK(hi - lo <= 1 && lo >= 1);
        }
    /* Without --shard: the whole run. */
    const char *a0[] = {"ringload", "-c", "10", "-R", "3000", "tcp://127.0.0.1:7000"};
    CHECK_EQ(parse(&o, err, 6, a0), RS_LOAD_RUN);
    CHECK_EQ(o.shard_count, 0);
    CHECK_EQ(o.conns, 10);
    CHECK_EQ(o.conn_base, 0);
    CHECK(o.rate == 3000);
    /* --start-at: Unix seconds to the ns, or +DURATION; --run-id. */
    const char *a1[] = {"ringload", "--start-at", "1767225600.25",
                        "--run-id", "r-1.x_2",    "tcp://127.0.0.1:7000"};
    CHECK_EQ(parse(&o, err, 6, a1), RS_LOAD_RUN);
    CHECK(o.start_at && !o.start_at_relative);
    CHECK_EQ(o.start_at_ns, 1767225600250000000ull);
    CHECK(strcmp(o.run_id, "r-1.x_2") == 0);
    const char *a2[] = {"ringload", "--start-at", "+1500ms", "tcp://127.0.0.1:7000"};
    CHECK_EQ(parse(&o, err, 4, a2), RS_LOAD_RUN);
    CHECK(o.start_at && o.start_at_relative);
    CHECK_EQ(o.start_at_ns, 1500000000ull);
    /* Refused, each with one line. */
    static const char *const bad[][8] = {
        {"--shard", "3/3"},
        {"--shard", "1/0"},
        {"--shard", "a/3"},
        {"--shard", "1/3x"},
        {"--shard", "-1/3"},
        {"--shard", "1"},
        {"-c", "2", "--shard", "0/3"},
        {"--shard", "0/2", "--idle"},
        {"--start-at", "+5s", "--idle"},
        {"--start-at", "soon"},
        {"--start-at", "1.2.3"},
        {"--start-at", "+"},
        {"--start-at", "1767225600.1234567890"},
        {"--run-id", "a b"},
        {"--run-id", ""},
        {"-t", "2", "-c", "5", "--shard", "2/3"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[12] = {"ringload"};
        int argc = 1;
        for (int k = 0; k < 8 && bad[i][k]; k++)
            argv[argc++] = bad[i][k];
        argv[argc++] = "tcp://127.0.0.1:7000";
        err[0] = '\0';
        int r = parse(&o, err, argc, argv);
        if (r != -EINVAL || err[0] == '\0' || strchr(err, '\n')) {
            fprintf(stderr, "bad shard case %zu: r=%d err='%s'\n", i, r, err);
            check_failures++;
        }
    }
}

int main(void)
{
    uint64_t ns;
    CHECK_EQ(rs_parse_duration("10s", &ns), 0);
    CHECK_EQ(ns, 10000000000ull);
    CHECK_EQ(rs_parse_duration("1m", &ns), 0);
    CHECK_EQ(ns, 60000000000ull);
    CHECK_EQ(rs_parse_duration("500ms", &ns), 0);
    CHECK_EQ(ns, 500000000ull);
    CHECK_EQ(rs_parse_duration("250us", &ns), 0);
    CHECK_EQ(ns, 250000ull);
    CHECK_EQ(rs_parse_duration("1.5", &ns), 0);
    CHECK_EQ(ns, 1500000000ull);
    CHECK_EQ(rs_parse_duration("2h", &ns), 0);
    CHECK_EQ(rs_parse_duration("", &ns), -EINVAL);
    CHECK_EQ(rs_parse_duration("-1s", &ns), -EINVAL);
    CHECK_EQ(rs_parse_duration("10x", &ns), -EINVAL);
    CHECK_EQ(rs_parse_duration("2d", &ns), -EINVAL);
    CHECK_EQ(rs_parse_duration("25h", &ns), -ERANGE);

    struct rs_load_opts o;
    char err[300];
    const char *a1[] = {"ringload",
                        "-t",
                        "2",
                        "-c",
                        "100",
                        "-d",
                        "3s",
                        "-R",
                        "5000",
                        "-s",
                        "128",
                        "--depth",
                        "4",
                        "--latency",
                        "--json",
                        "x.json",
                        "tcp://127.0.0.1:7000"};
    CHECK_EQ(parse(&o, err, 17, a1), RS_LOAD_RUN);
    CHECK_EQ(o.proto, RS_LOAD_TCP);
    CHECK_EQ(o.threads, 2);
    CHECK_EQ(o.conns, 100);
    CHECK_EQ(o.duration_ns, 3000000000ull);
    CHECK(o.rate == 5000);
    CHECK_EQ(o.size, 128);
    CHECK_EQ(o.depth, 4);
    CHECK(o.latency && o.verify);
    CHECK(strcmp(o.json_path, "x.json") == 0);
    CHECK_EQ(o.target.ss.ss_family, AF_INET);
    CHECK_EQ(rs_addr_port(&o.target), 7000);

    const char *a2[] = {"ringload", "--no-verify", "udp://[::1]:9"};
    CHECK_EQ(parse(&o, err, 3, a2), RS_LOAD_RUN);
    CHECK_EQ(o.proto, RS_LOAD_UDP);
    CHECK_EQ(o.target.ss.ss_family, AF_INET6);
    CHECK(!o.verify);
    CHECK_EQ(o.rate, 0); /* closed loop by default */

    /* Bad input: one line naming the problem. */
    const char *bad[][3] = {
        {"ringload", "ftp://1.2.3.4:1", NULL},
        {"ringload", "tcp://127.0.0.1", NULL},
        {"ringload", "tcp://127.0.0.1:0", NULL},
        {"ringload", "tcp://:80", NULL},
        {"ringload", "tcp://[::1:80", NULL},
        {"ringload", "tcp://1.2.3.4:80/x", NULL},
        {"ringload", "-c", "0"},
        {"ringload", "--depth", "0"},
        {"ringload", "--bogus", NULL},
        {"ringload", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int argc = bad[i][2] ? 3 : bad[i][1] ? 2 : 1;
        err[0] = '\0';
        int r = parse(&o, err, argc, bad[i]);
        if (r != -EINVAL || err[0] == '\0' || strchr(err, '\n')) {
            fprintf(stderr, "bad case %zu: r=%d err='%s'\n", i, r, err);
            check_failures++;
        }
    }
    const char *a3[] = {"ringload", "-s", "8", "udp://127.0.0.1:9"};
    CHECK_EQ(parse(&o, err, 4, a3), -EINVAL); /* below the 24-byte header */
    const char *a4[] = {"ringload", "-t", "4", "-c", "2", "tcp://127.0.0.1:9"};
    CHECK_EQ(parse(&o, err, 6, a4), -EINVAL);
    const char *a5[] = {"ringload", "--help"};
    CHECK_EQ(parse(&o, err, 2, a5), RS_LOAD_HELP);

    sched_order();
    sources();
    idle_opts();
    http_opts();
    body_file();
    shard_opts();
    return check_done("test_load_opts");
}
