/* The Prometheus formatter: names by rule, exact exposition text for a small registry (HELP and
 * TYPE from the descriptors, one series per worker, service labels, a level gauge), escaping
 * of label values and help text, active blocks only, a set without workers; labelled blocks
 * (per-item series, the same item in two sets added up, a gauge by its largest value, a
 * histogram with cumulative inclusive buckets and its sum scaled). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ringsock/util/counters.h"
#include "ringsock/util/prom.h"

#define L_COUNTERS(X)                                                                              \
    X(conns_accepted, COUNTER, 0, "connections accepted")                                          \
    X(conns_closed, COUNTER, 0, "connections closed")                                              \
    X(bytes_in, COUNTER, 0, "bytes with a \\ and\na newline")                                      \
    X(queue_len, GAUGE, 0, "replies waiting")

RS_COUNTER_STRUCT(l_counters, L_COUNTERS);
static const struct rs_counter_desc l_desc[] = {L_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct l_counters, l_desc);
#define L_IDX(f) RS_COUNTER_INDEX(struct l_counters, f)
static const struct rs_live_col l_live[] = {
    {"open", RS_LIVE_LEVEL, 0, L_IDX(conns_accepted), L_IDX(conns_closed)},
    {"accepts_per_s", RS_LIVE_RATE, 1, L_IDX(conns_accepted), -1},
};
static const struct rs_counter_block l_block =
    RS_COUNTER_BLOCK("l", struct l_counters, l_desc, l_live, RS_COUNTER_NELEM(l_live));

#define S_COUNTERS(X)                                                                              \
    X(dgram_bytes_out, COUNTER, 0, "datagram bytes sent")                                          \
    X(svc_requests, COUNTER, 0, "requests \"quoted\"")

RS_COUNTER_STRUCT(s_counters, S_COUNTERS);
static const struct rs_counter_desc s_desc[] = {S_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct s_counters, s_desc);
static const struct rs_counter_block s_block =
    RS_COUNTER_BLOCK("s", struct s_counters, s_desc, NULL, 0);

/* A second block with a level column of the same gauge name: it adds up into it. */
#define T_COUNTERS(X)                                                                              \
    X(conns_made, COUNTER, 0, "connections made")                                                  \
    X(conns_gone, COUNTER, 0, "connections gone")

RS_COUNTER_STRUCT(t_counters, T_COUNTERS);
static const struct rs_counter_desc t_desc[] = {T_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct t_counters, t_desc);
static const struct rs_live_col t_live[] = {
    {"open", RS_LIVE_LEVEL, 0, RS_COUNTER_INDEX(struct t_counters, conns_made),
     RS_COUNTER_INDEX(struct t_counters, conns_gone)},
};
static const struct rs_counter_block t_block =
    RS_COUNTER_BLOCK("t", struct t_counters, t_desc, t_live, RS_COUNTER_NELEM(t_live));

/* A process-wide block (RS_CTR_PROCESS): worker 0 holds the one value. */
#define P_COUNTERS(X) X(reloads, COUNTER, RS_CTR_PROCESS, "reloads done")
RS_COUNTER_STRUCT(p_counters, P_COUNTERS);
static const struct rs_counter_desc p_desc[] = {P_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct p_counters, p_desc);
static const struct rs_counter_block p_block =
    RS_COUNTER_BLOCK("p", struct p_counters, p_desc, NULL, 0);

static void check_name(const char *counter, enum rs_counter_kind kind, const char *want)
{
    char out[RS_PROM_NAME_MAX];
    CHECK_EQ(rs_prom_name("ringsock_", counter, kind, out, sizeof(out)), 0);
    if (strcmp(out, want) != 0) {
        fprintf(stderr, "name of %s: got '%s', want '%s'\n", counter, out, want);
        check_failures++;
    }
}

/* Runs the formatter into a string (freed by the caller); *err gets its result. */
static char *format(const struct rs_counter_set *s, const struct rs_prom_opts *o, int *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    *err = rs_prom_write_counters(f, s, o);
    fclose(f);
    return buf;
}

static void check_text(const char *got, const char *want)
{
    if (!got || strcmp(got, want) != 0) {
        fprintf(stderr, "got:\n%s\nwant:\n%s\n", got ? got : "(null)", want);
        check_failures++;
    }
}

/* A labelled block: two sets (listeners) naming item "a" both, two workers, a histogram. */
#define U_COUNTERS(X)                                                                              \
    X(up_state, GAUGE, RS_CTR_MAX, "state")                                                        \
    X(up_conns, COUNTER, 0, "connects")

RS_COUNTER_STRUCT(u_counters, U_COUNTERS);
static const struct rs_counter_desc u_desc[] = {U_COUNTERS(RS_COUNTER_DESC)};
static const uint64_t u_bounds[] = {1000, 10000, 100000};
static const struct rs_counter_hist u_hist = {"up_connect_seconds", "connect time", u_bounds, 3,
                                              1e-6};
static const struct rs_counter_lblock u_block = {"up", "upstream", u_desc, 2, &u_hist};

static void check_labelled(void)
{
    const char *names1[] = {"a", "b\"q"};
    const char *names2[] = {"a"};
    struct rs_counter_lset *s1 = rs_counter_lset_new(&u_block, "relay", names1, 2, 2);
    struct rs_counter_lset *s2 = rs_counter_lset_new(&u_block, "relay", names2, 1, 2);
    CHECK(s1 && s2);
    if (!s1 || !s2)
        goto out;
    CHECK(rs_counter_lset_row(s1, 2, 0) == NULL);
    CHECK(rs_counter_lset_row(s1, 0, 2) == NULL);
    struct u_counters *a0 = (struct u_counters *)rs_counter_lset_row(s1, 0, 0);
    struct u_counters *a1 = (struct u_counters *)rs_counter_lset_row(s1, 1, 0);
    struct u_counters *b0 = (struct u_counters *)rs_counter_lset_row(s1, 0, 1);
    struct u_counters *c0 = (struct u_counters *)rs_counter_lset_row(s2, 0, 0);
    RS_STAT_ADD(a0, up_conns, 3);
    RS_STAT_ADD(a1, up_conns, 4);
    RS_STAT_ADD(c0, up_conns, 10); /* the same "a" in the second set: adds up */
    RS_STAT_SET(a0, up_state, 1);
    RS_STAT_SET(c0, up_state, 2); /* the largest */
    RS_STAT_SET(b0, up_state, 3);
    rs_counter_lset_record(s1, (_Atomic uint64_t *)a0, 1000);   /* le 1000: inclusive */
    rs_counter_lset_record(s1, (_Atomic uint64_t *)a1, 5000);   /* le 10000 */
    rs_counter_lset_record(s2, (_Atomic uint64_t *)c0, 999999); /* +Inf */
    const struct rs_counter_lset *sets[] = {s1, s2};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (!f)
        goto out;
    struct rs_prom_opts o = {.prefix = "ringsock_"};
    CHECK_EQ(rs_prom_write_labelled(f, sets, 2, &o), 0);
    fclose(f);
    check_text(
        buf,
        "# HELP ringsock_up_state state\n"
        "# TYPE ringsock_up_state gauge\n"
        "ringsock_up_state{service=\"relay\",upstream=\"a\",worker=\"0\"} 2\n"
        "ringsock_up_state{service=\"relay\",upstream=\"a\",worker=\"1\"} 0\n"
        "ringsock_up_state{service=\"relay\",upstream=\"b\\\"q\",worker=\"0\"} 3\n"
        "ringsock_up_state{service=\"relay\",upstream=\"b\\\"q\",worker=\"1\"} 0\n"
        "# HELP ringsock_up_connections_total connects\n"
        "# TYPE ringsock_up_connections_total counter\n"
        "ringsock_up_connections_total{service=\"relay\",upstream=\"a\",worker=\"0\"} 13\n"
        "ringsock_up_connections_total{service=\"relay\",upstream=\"a\",worker=\"1\"} 4\n"
        "ringsock_up_connections_total{service=\"relay\",upstream=\"b\\\"q\",worker=\"0\"} 0\n"
        "ringsock_up_connections_total{service=\"relay\",upstream=\"b\\\"q\",worker=\"1\"} 0\n"
        "# HELP ringsock_up_connect_seconds connect time\n"
        "# TYPE ringsock_up_connect_seconds histogram\n"
        "ringsock_up_connect_seconds_bucket{service=\"relay\",upstream=\"a\",le=\"0.001\"} 1\n"
        "ringsock_up_connect_seconds_bucket{service=\"relay\",upstream=\"a\",le=\"0.01\"} 2\n"
        "ringsock_up_connect_seconds_bucket{service=\"relay\",upstream=\"a\",le=\"0.1\"} 2\n"
        "ringsock_up_connect_seconds_bucket{service=\"relay\",upstream=\"a\",le=\"+Inf\"} 3\n"
        "ringsock_up_connect_seconds_sum{service=\"relay\",upstream=\"a\"} 1.005999000\n"
        "ringsock_up_connect_seconds_count{service=\"relay\",upstream=\"a\"} 3\n"
        "ringsock_up_connect_seconds_bucket{service=\"relay\",upstream=\"b\\\"q\",le=\"0.001\"} 0\n"
        "ringsock_up_connect_seconds_bucket{service=\"relay\",upstream=\"b\\\"q\",le=\"0.01\"} 0\n"
        "ringsock_up_connect_seconds_bucket{service=\"relay\",upstream=\"b\\\"q\",le=\"0.1\"} 0\n"
        "ringsock_up_connect_seconds_bucket{service=\"relay\",upstream=\"b\\\"q\",le=\"+Inf\"} 0\n"
        "ringsock_up_connect_seconds_sum{service=\"relay\",upstream=\"b\\\"q\"} 0.000000000\n"
        "ringsock_up_connect_seconds_count{service=\"relay\",upstream=\"b\\\"q\"} 0\n");
    free(buf);
out:
    rs_counter_lset_free(s1);
    rs_counter_lset_free(s2);
}

int main(void)
{
    check_labelled();
    /* The naming rule. */
    check_name("conns_accepted", RS_KIND_COUNTER, "ringsock_connections_accepted_total");
    check_name("bytes_in", RS_KIND_COUNTER, "ringsock_received_bytes_total");
    check_name("bytes_out", RS_KIND_COUNTER, "ringsock_sent_bytes_total");
    check_name("dgrams_in", RS_KIND_COUNTER, "ringsock_datagrams_received_total");
    check_name("dgram_bytes_out", RS_KIND_COUNTER, "ringsock_datagram_sent_bytes_total");
    check_name("http_2xx", RS_KIND_COUNTER, "ringsock_http_2xx_total");
    check_name("queue_bytes", RS_KIND_GAUGE, "ringsock_queue_bytes");
    check_name("wait_seconds_max", RS_KIND_GAUGE, "ringsock_wait_max_seconds");
    check_name("inbound", RS_KIND_COUNTER, "ringsock_inbound_total"); /* whole words only */
    char small[16];
    CHECK_EQ(rs_prom_name("ringsock_", "conns_accepted", RS_KIND_COUNTER, small, sizeof(small)),
             -ENAMETOOLONG);
    CHECK_EQ(small[0], '\0');

    const struct rs_counter_block *blocks[] = {&l_block, &s_block, &t_block};
    struct rs_counter_set *s = rs_counter_set_new(blocks, 3, 2);
    CHECK(s != NULL);
    if (!s)
        return check_done("test_prom");
    struct l_counters *l[2];
    struct s_counters *sv[2];
    struct t_counters *t[2];
    for (unsigned w = 0; w < 2; w++) {
        l[w] = (struct l_counters *)rs_counter_set_block(s, w, &l_block);
        sv[w] = (struct s_counters *)rs_counter_set_block(s, w, &s_block);
        t[w] = (struct t_counters *)rs_counter_set_block(s, w, &t_block);
    }
    RS_STAT_ADD(l[0], conns_accepted, 37);
    RS_STAT_ADD(l[0], conns_closed, 30);
    RS_STAT_ADD(l[1], conns_accepted, 5);
    RS_STAT_ADD(l[1], conns_closed, 5);
    RS_STAT_ADD(l[0], bytes_in, 18446744073709551615ull); /* the largest value, whole */
    RS_STAT_SET(l[1], queue_len, 9);
    RS_STAT_ADD(sv[1], svc_requests, 3);
    RS_STAT_ADD(t[0], conns_made, 4);
    RS_STAT_ADD(t[0], conns_gone, 1);

    /* Only l and s active: t is neither written nor added into the gauge. The service label
     * escapes \, " and a newline. */
    rs_counter_set_activate(s, &l_block);
    rs_counter_set_activate(s, &s_block);
    const char *services[] = {NULL, "we\\ird \"svc\"\nname", "t"};
    struct rs_prom_opts o = {.prefix = "ringsock_", .block_service = services, .active_only = true};
    int err = -1;
    char *text = format(s, &o, &err);
    CHECK_EQ(err, 0);
    check_text(text,
               "# HELP ringsock_connections_accepted_total connections accepted\n"
               "# TYPE ringsock_connections_accepted_total counter\n"
               "ringsock_connections_accepted_total{worker=\"0\"} 37\n"
               "ringsock_connections_accepted_total{worker=\"1\"} 5\n"
               "# HELP ringsock_connections_closed_total connections closed\n"
               "# TYPE ringsock_connections_closed_total counter\n"
               "ringsock_connections_closed_total{worker=\"0\"} 30\n"
               "ringsock_connections_closed_total{worker=\"1\"} 5\n"
               "# HELP ringsock_received_bytes_total bytes with a \\\\ and\\na newline\n"
               "# TYPE ringsock_received_bytes_total counter\n"
               "ringsock_received_bytes_total{worker=\"0\"} 18446744073709551615\n"
               "ringsock_received_bytes_total{worker=\"1\"} 0\n"
               "# HELP ringsock_queue_len replies waiting\n"
               "# TYPE ringsock_queue_len gauge\n"
               "ringsock_queue_len{worker=\"0\"} 0\n"
               "ringsock_queue_len{worker=\"1\"} 9\n"
               "# HELP ringsock_datagram_sent_bytes_total datagram bytes sent\n"
               "# TYPE ringsock_datagram_sent_bytes_total counter\n"
               "ringsock_datagram_sent_bytes_total{service=\"we\\\\ird \\\"svc\\\"\\nname\","
               "worker=\"0\"} 0\n"
               "ringsock_datagram_sent_bytes_total{service=\"we\\\\ird \\\"svc\\\"\\nname\","
               "worker=\"1\"} 0\n"
               "# HELP ringsock_svc_requests_total requests \"quoted\"\n"
               "# TYPE ringsock_svc_requests_total counter\n"
               "ringsock_svc_requests_total{service=\"we\\\\ird \\\"svc\\\"\\nname\","
               "worker=\"0\"} 0\n"
               "ringsock_svc_requests_total{service=\"we\\\\ird \\\"svc\\\"\\nname\","
               "worker=\"1\"} 3\n"
               "# HELP ringsock_connections_open open now: conns_accepted minus conns_closed\n"
               "# TYPE ringsock_connections_open gauge\n"
               "ringsock_connections_open{worker=\"0\"} 7\n"
               "ringsock_connections_open{worker=\"1\"} 0\n");
    free(text);

    /* Every block: t's counters appear, and its level column adds into the same gauge. A level
     * that would go below zero is 0. */
    RS_STAT_ADD(t[1], conns_gone, 2);
    o.active_only = false;
    o.block_service = NULL;
    text = format(s, &o, &err);
    CHECK_EQ(err, 0);
    CHECK(text && strstr(text, "ringsock_connections_made_total{worker=\"0\"} 4\n"));
    CHECK(text && strstr(text, "ringsock_connections_open{worker=\"0\"} 10\n"
                               "ringsock_connections_open{worker=\"1\"} 0\n"));
    CHECK(text && strstr(text, "ringsock_svc_requests_total{worker=\"1\"} 3\n"));
    /* One family per gauge name, however many blocks add into it. */
    const char *p = text ? strstr(text, "# TYPE ringsock_connections_open gauge") : NULL;
    CHECK(p && !strstr(p + 1, "# TYPE ringsock_connections_open gauge"));
    free(text);

    /* A set without workers: the list of metrics, HELP and TYPE alone. */
    struct rs_counter_set *list = rs_counter_set_new(blocks, 1, 0);
    CHECK(list != NULL);
    if (list) {
        text = format(list, &o, &err);
        CHECK_EQ(err, 0);
        check_text(text, "# HELP ringsock_connections_accepted_total connections accepted\n"
                         "# TYPE ringsock_connections_accepted_total counter\n"
                         "# HELP ringsock_connections_closed_total connections closed\n"
                         "# TYPE ringsock_connections_closed_total counter\n"
                         "# HELP ringsock_received_bytes_total bytes with a \\\\ and\\na newline\n"
                         "# TYPE ringsock_received_bytes_total counter\n"
                         "# HELP ringsock_queue_len replies waiting\n"
                         "# TYPE ringsock_queue_len gauge\n"
                         "# HELP ringsock_connections_open open now: conns_accepted minus "
                         "conns_closed\n"
                         "# TYPE ringsock_connections_open gauge\n");
        free(text);
        rs_counter_set_free(list);
    }

    /* The info metric, its label value escaped. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ(rs_prom_write_info(f, "ringsock_build_info", "version\\build", "version",
                                    "0.1.0 \"x\""),
                 0);
        fclose(f);
        check_text(buf, "# HELP ringsock_build_info version\\\\build\n"
                        "# TYPE ringsock_build_info gauge\n"
                        "ringsock_build_info{version=\"0.1.0 \\\"x\\\"\"} 1\n");
        free(buf);
    }

    rs_counter_set_free(s);

    /* A process-wide counter: one sample, no worker label, whatever the worker count. */
    const struct rs_counter_block *pb[] = {&p_block};
    struct rs_counter_set *ps = rs_counter_set_new(pb, 1, 3);
    CHECK(ps != NULL);
    if (ps) {
        struct p_counters *pc = (struct p_counters *)rs_counter_set_block(ps, 0, &p_block);
        atomic_store(&pc->reloads, 4);
        int perr = -1;
        struct rs_prom_opts po = {.prefix = "ringsock_"};
        char *ptext = format(ps, &po, &perr);
        CHECK_EQ(perr, 0);
        check_text(ptext, "# HELP ringsock_reloads_total reloads done\n"
                          "# TYPE ringsock_reloads_total counter\n"
                          "ringsock_reloads_total 4\n");
        free(ptext);
        rs_counter_set_free(ps);
    }
    return check_done("test_prom");
}
