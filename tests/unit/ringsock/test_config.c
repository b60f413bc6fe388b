/* The option table and what it drives: the command line and the config file set the same
 * fields from the same values, the file's errors carry their lines, --help shows every option. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "config.h"
#include "optable.h"
#include "opts.h"

static struct rs_server_opts a, b;

/* Loads text as a config file; the messages go to *msgs (caller frees). */
static int load(const char *text, struct rs_server_opts *o, char **msgs)
{
    size_t len;
    FILE *f = open_memstream(msgs, &len);
    memset(o, 0, sizeof(*o));
    int n = rs_config_load_string("t.conf", text, o, false, f);
    fclose(f);
    return n;
}

static int cli(struct rs_server_opts *o, int argc, const char **argv, char *err)
{
    return rs_server_opts_parse(argc, (char **)argv, o, err, 256);
}

/* A value the option takes, from what its value looks like; NULL: not known here. */
static const char *sample(const struct rs_optdef *d, char *buf, size_t cap)
{
    const char *k = d->arg;
    if (!strcmp(k, "N") || !strcmp(k, "SIZE") || !strcmp(k, "MS")) {
        snprintf(buf, cap, "%llu", (unsigned long long)(d->min > 0 ? d->min + 1 : 3));
        return buf;
    }
    if (!strcmp(k, "T"))
        return "1500ms";
    if (!strcmp(k, "ADDR:PORT"))
        return "127.0.0.1:9";
    if (!strcmp(k, "TEXT"))
        return "a\\tb";
    if (!strcmp(k, "FILE"))
        return "/dev/null";
    if (!strcmp(k, "IF"))
        return "lo";
    if (!strcmp(k, "LIST"))
        return "53,40000-40010";
    if (!strcmp(k, "B"))
        return "epoll";
    return NULL;
}

/* Clears what differs between a listener from flags and one from a file by nature. */
static void listener_strip(struct rs_listener_opts *l)
{
    memset(l->name, 0, sizeof(l->name));
    l->line = 0;
    l->has_service = false;
    memset(l->tcp_line, 0, sizeof(l->tcp_line));
    memset(l->udp_line, 0, sizeof(l->udp_line));
}

/* Every global and listener option with a value this test knows how to write: the flag and the
 * key set exactly the same fields. */
static void test_flags_equal_keys(void)
{
    char err[256], val[64], text[512], flag[80], *msgs;
    unsigned compared = 0;
    for (unsigned i = 0; i < rs_noptdefs; i++) {
        const struct rs_optdef *d = &rs_optdefs[i];
        const char *v = d->scope == RS_OPT_CMDLINE || !d->arg ? NULL : sample(d, val, sizeof(val));
        if (!v)
            continue;
        unsigned svc = 0;
        while (svc < rs_nservices && !rs_optdef_applies(d, svc))
            svc++;
        CHECK(svc < rs_nservices);
        if (svc == rs_nservices)
            continue;
        snprintf(flag, sizeof(flag), "--%s", d->name);
        /* A relay needs an upstream besides the option under test. */
        bool relay = !strcmp(rs_services[svc]->name, "relay") && strcmp(d->name, "upstream");
        /* ... and health-send and health-expect need --health tcp. */
        bool health = relay && !strncmp(d->name, "health-", 7);
        const char *argv[] = {
            "ringsock", rs_services[svc]->name, "--tcp",       "127.0.0.1:5", flag,
            v,          "--upstream",           "127.0.0.1:9", "--health",    "tcp"};
        int r = cli(&a, health ? 10 : relay ? 8 : 6, argv, err);
        if (r != RS_OPTS_RUN) {
            fprintf(stderr, "%s %s: %s\n", flag, v, err);
            check_failures++;
            continue;
        }
        snprintf(text, sizeof(text),
                 "[global]\n%s%s%s\n[listener x]\nservice = %s\ntcp = 127.0.0.1:5\n%s%s%s\n%s",
                 d->scope == RS_OPT_GLOBAL ? d->name : "", d->scope == RS_OPT_GLOBAL ? " = " : "",
                 d->scope == RS_OPT_GLOBAL ? v : "", rs_services[svc]->name,
                 d->scope == RS_OPT_LISTENER ? d->name : "",
                 d->scope == RS_OPT_LISTENER ? " = " : "", d->scope == RS_OPT_LISTENER ? v : "",
                 health  ? "upstream = 127.0.0.1:9\nhealth = tcp\n"
                 : relay ? "upstream = 127.0.0.1:9\n"
                         : "");
        int n = load(text, &b, &msgs);
        if (n != 0) {
            fprintf(stderr, "%s = %s: %s", d->name, v, msgs);
            check_failures++;
        }
        free(msgs);
        CHECK_EQ(a.nlisteners, 1);
        CHECK_EQ(b.nlisteners, 1);
        listener_strip(&a.lst[0]);
        listener_strip(&b.lst[0]);
        if (memcmp(&a.lst[0], &b.lst[0], sizeof(a.lst[0])) != 0 || a.threads != b.threads ||
            a.backend != b.backend || a.backlog != b.backlog || a.shutdown_ms != b.shutdown_ms ||
            a.stats_ns != b.stats_ns || memcmp(&a.loop, &b.loop, sizeof(a.loop)) != 0) {
            fprintf(stderr, "%s %s: the flag and the key set different fields\n", flag, v);
            check_failures++;
        }
        compared++;
    }
    CHECK(compared >= 25);
}

/* The table itself: unique names, a help each, listener options that apply somewhere. */
static void test_table(void)
{
    for (unsigned i = 0; i < rs_noptdefs; i++) {
        const struct rs_optdef *d = &rs_optdefs[i];
        CHECK(d->help && d->help[0]);
        CHECK(rs_optdef_find(d->name) == d);
        CHECK((d->scope == RS_OPT_CMDLINE) == (d->action != RS_ACT_NONE) ||
              d->action == RS_ACT_HTTP);
        if (d->action == RS_ACT_NONE || d->action == RS_ACT_HTTP)
            CHECK(d->set && (d->arg || d->scope == RS_OPT_LISTENER)); /* a flag: yes/no in a file */
    }
    CHECK(rs_optdef_find("service") == NULL); /* a key of the file only */
    /* Every option is in --help. */
    char *help;
    size_t len;
    FILE *f = open_memstream(&help, &len);
    rs_server_usage(f);
    fclose(f);
    for (unsigned i = 0; i < rs_noptdefs; i++) {
        char flag[80];
        snprintf(flag, sizeof(flag), "  --%s", rs_optdefs[i].name);
        CHECK(strstr(help, flag) != NULL);
    }
    free(help);
}

static void test_file(void)
{
    char *msgs;
    /* Every kind of value, a repeated key, comments, two listeners of one service with their
     * own settings. */
    const char *good = "# a comment\n"
                       "; another\n"
                       "[global]\n"
                       "threads = 3\n"
                       "backend = epoll\n"
                       "stats = 500ms\n"
                       "write-queue = 64k\n"
                       "\n"
                       "[listener e]\n"
                       "service = echo\n"
                       "tcp = 127.0.0.1:0\n"
                       "tcp = [::1]:0\n"
                       "udp = 127.0.0.1:0\n"
                       "idle-timeout = 0\n"
                       "udp-deny-ports = none\n"
                       "join-iface = lo\n"
                       "[listener w1]\n"
                       "service = http\n"
                       "tcp = 127.0.0.1:0\n"
                       "body = one\\n   ; an inline comment\n"
                       "[listener w2]\n"
                       "service = http\n"
                       "tcp = 127.0.0.1:0\n"
                       "body = two\n"
                       "max-bytes = 2k\n";
    CHECK_EQ(load(good, &a, &msgs), 0);
    CHECK(msgs[0] == '\0');
    free(msgs);
    CHECK_EQ(a.threads, 3);
    CHECK_EQ(a.backend, RS_BACKEND_EPOLL);
    CHECK_EQ(a.stats_ns, 500000000ull);
    CHECK_EQ(a.loop.write_queue, 65536);
    CHECK_EQ(a.nlisteners, 3);
    CHECK(strcmp(a.lst[0].name, "e") == 0);
    CHECK_EQ(a.lst[0].service, RS_SVC_ECHO);
    CHECK_EQ(a.lst[0].ntcp, 2);
    CHECK_EQ(a.lst[0].tcp_line[1], 12);
    CHECK_EQ(a.lst[0].tcp[1].ss.ss_family, AF_INET6);
    CHECK_EQ(a.lst[0].nudp, 1);
    CHECK_EQ(a.lst[0].udp_line[0], 13);
    CHECK_EQ(a.lst[0].idle_timeout_ns, 0);
    CHECK_EQ(a.lst[0].udp_deny_count, 0);
    CHECK(strcmp(a.lst[0].join_iface, "lo") == 0);
    CHECK_EQ(a.lst[1].service, RS_SVC_HTTP);
    CHECK_EQ(a.lst[1].body_len, 4);
    CHECK(memcmp(a.lst[1].body, "one\n", 4) == 0);
    CHECK_EQ(a.lst[1].max_bytes, 1 << 20);
    CHECK_EQ(a.lst[2].body_len, 3);
    CHECK(memcmp(a.lst[2].body, "two", 3) == 0);
    CHECK_EQ(a.lst[2].max_bytes, 2048);
    CHECK_EQ(a.lst[2].line, 21);

    /* Every error, with its line, in line order, parsing on past each. */
    const char *bad = "threads = 2\n"           /* 1 */
                      "[global]\n"              /* 2 */
                      "threads = x\n"           /* 3 */
                      "threads = 4\n"           /* 4 */
                      "frob = 1\n"              /* 5 */
                      "body = x\n"              /* 6 */
                      "[listener a]\n"          /* 7 */
                      "service = http\n"        /* 8 */
                      "tcp = 127.0.0.1:7000\n"  /* 9 */
                      "idle-timeout = 5s\n"     /* 10 */
                      "threads = 1\n"           /* 11 */
                      "no equals sign\n"        /* 12 */
                      "[listener b]\n"          /* 13 */
                      "udp = 127.0.0.1:7000\n"  /* 14 */
                      "tcp = 127.0.0.1:7000\n"  /* 15 */
                      "[listener a]\n"          /* 16 */
                      "[other]\n"               /* 17 */
                      "x = 1\n"                 /* 18 */
                      "[listener c]\n"          /* 19 */
                      "service = echo\n"        /* 20 */
                      "service = http\n"        /* 21 */
                      "tcp = 1.2.3.4\n"         /* 22 */
                      "max-conns = 5\n"         /* 23 */
                      "[listener d\n"           /* 24 */
                      "[listener e]\n"          /* 25 */
                      "service = gopher\n"      /* 26 */
                      "udp = 239.1.2.3:7001\n"; /* 27 */
    const char *want = "t.conf:1: 'threads' outside a section (put it under [global] or "
                       "[listener NAME])\n"
                       "t.conf:3: invalid value for threads: 'x'\n"
                       "t.conf:4: 'threads' given twice (first on line 3)\n"
                       "t.conf:5: unknown key 'frob' in [global]\n"
                       "t.conf:6: 'body' belongs in a [listener NAME] section, not [global]\n"
                       "t.conf:10: 'idle-timeout' does not apply to service http (only to echo, "
                       "discard, sockperf or relay)\n"
                       "t.conf:11: 'threads' belongs in [global], not a listener\n"
                       "t.conf:12: syntax error: want 'key = value', '[section]' or a comment\n"
                       "t.conf:13: listener b has no 'service =' line\n"
                       "t.conf:15: tcp 127.0.0.1:7000 clashes with listener a's tcp on line 9\n"
                       "t.conf:16: [listener a] given twice (first on line 7)\n"
                       "t.conf:17: unknown section [other] (want [global] or [listener NAME])\n"
                       "t.conf:19: listener c has no 'tcp =' or 'udp =' address\n"
                       "t.conf:21: service given twice (first on line 20)\n"
                       "t.conf:22: invalid tcp address '1.2.3.4' (want 1.2.3.4:PORT, [::1]:PORT "
                       "or :PORT)\n"
                       "t.conf:23: 'max-conns' belongs in [global], not a listener\n"
                       "t.conf:24: syntax error: '[' without ']'\n"
                       "t.conf:26: unknown service 'gopher' (want echo, discard, http, sockperf "
                       "or relay)\n"
                       "t.conf:27: a multicast group needs 'join-iface ='\n";
    int n = load(bad, &a, &msgs);
    CHECK_EQ(n, 19);
    if (strcmp(msgs, want) != 0) {
        fprintf(stderr, "errors differ; got:\n%s", msgs);
        check_failures++;
    }
    free(msgs);

    /* A UTF-8 byte order mark before the first line; CRLF line ends. */
    CHECK_EQ(load("\xEF\xBB\xBF[listener x]\r\nservice = echo\r\ntcp = :0\r\n", &a, &msgs), 0);
    CHECK_EQ(a.nlisteners, 1);
    CHECK_EQ(a.lst[0].ntcp, 1);
    free(msgs);

    /* Nothing to serve; a line too long for libinih. */
    CHECK_EQ(load("[global]\nthreads = 1\n", &a, &msgs), 1);
    CHECK(strcmp(msgs, "t.conf:2: no [listener NAME] section: nothing to serve\n") == 0);
    free(msgs);
    char longer[400];
    snprintf(longer, sizeof(longer), "[listener x]\nservice = http\ntcp = :0\nbody = %0300d\n", 0);
    CHECK_EQ(load(longer, &a, &msgs), 1);
    CHECK(strcmp(msgs, "t.conf:4: line longer than 198 characters\n") == 0);
    free(msgs);
}

static void test_cli(void)
{
    char err[256];
    /* --config goes alone, or with --check / -t. */
    const char *c1[] = {"ringsock", "--config", "f.conf"};
    CHECK_EQ(cli(&a, 3, c1, err), RS_OPTS_CONFIG);
    CHECK(a.config && strcmp(a.config, "f.conf") == 0);
    CHECK_EQ(a.nlisteners, 0);
    const char *c2[] = {"ringsock", "--config", "f.conf", "--check"};
    CHECK_EQ(cli(&a, 4, c2, err), RS_OPTS_CHECK);
    const char *c3[] = {"ringsock", "-t", "--config", "f.conf"};
    CHECK_EQ(cli(&a, 4, c3, err), RS_OPTS_CHECK);
    const char *c4[] = {"ringsock", "--config", "f.conf", "--threads", "2"};
    CHECK_EQ(cli(&a, 5, c4, err), -EINVAL);
    CHECK(strstr(err, "--threads") != NULL);
    const char *c5[] = {"ringsock", "echo", "--config", "f.conf"};
    CHECK_EQ(cli(&a, 4, c5, err), -EINVAL);
    CHECK(strstr(err, "'echo'") != NULL);
    const char *c6[] = {"ringsock", "--check"};
    CHECK_EQ(cli(&a, 2, c6, err), -EINVAL);
    CHECK(strstr(err, "--config") != NULL);
    const char *c7[] = {"ringsock", "--help-config"};
    CHECK_EQ(cli(&a, 2, c7, err), RS_OPTS_HELP_CONFIG);

    /* Flags: --http makes an http listener with the same listener options. */
    const char *h1[] = {"ringsock", "--tcp",  "127.0.0.1:1", "--http", "127.0.0.1:2", "--body",
                        "x",        "--http", "127.0.0.1:3", "--udp",  "127.0.0.1:4"};
    CHECK_EQ(cli(&a, 11, h1, err), RS_OPTS_RUN);
    CHECK_EQ(a.nlisteners, 2);
    CHECK_EQ(a.lst[0].service, RS_SVC_ECHO);
    CHECK_EQ(a.lst[0].ntcp, 1);
    CHECK_EQ(a.lst[0].nudp, 1);
    CHECK_EQ(a.lst[1].service, RS_SVC_HTTP);
    CHECK_EQ(a.lst[1].ntcp, 2);
    CHECK_EQ(rs_addr_port(&a.lst[1].tcp[1]), 3);
    CHECK_EQ(a.lst[1].nudp, 0);
    CHECK_EQ(a.lst[1].body_len, 1);
    /* --http alone: the service's own default address is not added. */
    const char *h2[] = {"ringsock", "echo", "--http", "127.0.0.1:2"};
    CHECK_EQ(cli(&a, 4, h2, err), RS_OPTS_RUN);
    CHECK_EQ(a.nlisteners, 1);
    CHECK_EQ(a.lst[0].service, RS_SVC_HTTP);
    CHECK_EQ(a.service, RS_SVC_ECHO);
    /* The command line still takes a key for another service (as it always has). */
    const char *h3[] = {"ringsock", "echo", "--body", "x"};
    CHECK_EQ(cli(&a, 4, h3, err), RS_OPTS_RUN);
}

int main(void)
{
    test_table();
    test_flags_equal_keys();
    test_file();
    test_cli();
    return check_done("test_config");
}
