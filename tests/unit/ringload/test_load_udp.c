/* ringload's UDP echo client (load_udp.c): what a send does with each outcome of sendmmsg. The
 * test defines sendmmsg itself (a definition in the executable comes before libc's), so a
 * partial send, EAGAIN or a hard error happen on demand, on a real socket and loop. A partial
 * send returns a count and sets no errno, and loses the error that stopped it (sendmmsg(2)):
 * the rest is sent again at once, and what that call says counts. Only -1 sets errno: EAGAIN
 * waits for writability, another error (a refusal reported late, as ICMP errors are) is counted
 * in err_write once and the datagram it stopped is tried once more. */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "load_client.h"
#include "../check.h"
#include "ringsock/util/alloc.h"

/* load_udp.c's protocol entries name the report; this test prints none. */
const struct load_report_ops load_report_ops;

#define ALL UINT32_MAX

static struct {
    uint32_t take;  /* messages the next calls take (ALL: every one); 0 fails with fail_errno */
    int fail_errno; /* errno of a failing call */
    int then;       /* errno of the call after one that took some (0: none, it takes again) */
    int pending;    /* set from then by a call that took some */
    int stale;      /* errno left behind by a call that takes some */
    unsigned calls;
    uint64_t taken;
} fake;

int sendmmsg(int fd, struct mmsghdr *msgs, unsigned int vlen, int flags)
{
    (void)fd;
    (void)msgs;
    (void)flags;
    fake.calls++;
    if (fake.pending) {
        errno = fake.pending;
        fake.pending = 0;
        return -1;
    }
    if (fake.take == 0) {
        errno = fake.fail_errno;
        return -1;
    }
    unsigned n = vlen < fake.take ? vlen : fake.take;
    for (unsigned i = 0; i < n; i++)
        msgs[i].msg_len = (unsigned)msgs[i].msg_hdr.msg_iov[0].iov_len;
    fake.taken += n;
    if (n < vlen)
        fake.pending = fake.then;
    errno = fake.stale; /* what a caller must not read after a count */
    return (int)n;
}

static struct load_thread thread __attribute__((aligned(64)));
static struct rs_load_opts opts;

/* One UDP echo client with --depth 8 on an epoll loop. Returns it, or NULL. */
static struct load_client *setup(void)
{
    struct load_thread *t = &thread;
    struct rs_loop_config cfg;
    char err[300];
    int e;
    char *argv[] = {"ringload", "--depth", "8", "udp://127.0.0.1:9", NULL};
    memset(t, 0, sizeof(*t));
    memset(&fake, 0, sizeof(fake));
    if (rs_load_opts_parse(4, argv, &opts, err, sizeof(err)) != RS_LOAD_RUN)
        return NULL;
    t->o = &opts;
    t->proto = &load_udp_proto;
    t->nconns = 1;
    t->t0 = t->t_measure = rs_now_ns();
    t->t_end = t->t0 + 60000000000ull;
    t->sending = true;
    t->started = true; /* no --start-at */
    t->rl_verify = (struct rs_ratelimit)RS_RATELIMIT_INIT(1000);
    rs_loop_config_default(&cfg);
    cfg.backend = RS_BACKEND_EPOLL;
    t->loop = rs_loop_new(&cfg, &t->stats, &e);
    t->scratch = rs_malloc(64 * opts.size);
    if (!t->loop || !t->scratch || rs_hist_init(&t->hist, RS_HIST_DEFAULT_MAX) < 0 ||
        rs_loop_timer_reserve(t->loop, 2) < 0 || t->proto->run->start(t) < 0)
        return NULL;
    return t->clients;
}

static void stop(struct rs_timer *tm, void *arg)
{
    (void)tm;
    rs_loop_request_stop(arg, 0);
}

/* Runs the loop for 50 ms: a client that asked for writability is called and sends again. */
static void run_loop(void)
{
    struct rs_timer tm;
    rs_timer_init(&tm, stop, thread.loop);
    CHECK_EQ(rs_loop_timer_arm(thread.loop, &tm, 50), 0);
    CHECK_EQ(rs_loop_run(thread.loop), 0);
}

static void teardown(void)
{
    struct load_thread *t = &thread;
    t->proto->run->free(t);
    rs_hist_fini(&t->hist);
    rs_loop_free(t->loop);
    rs_free(t->scratch);
}

/* sendmmsg takes 2 of 8 and leaves a stale errno (stale), and the next call finds the socket
 * full: no error; the rest goes out once the socket is writable. */
static void partial(int stale)
{
    struct load_client *cl = setup();
    CHECK(cl != NULL);
    if (!cl)
        return;
    fake.take = 2;
    fake.stale = stale;
    fake.then = EAGAIN;
    load_client_pump(cl, rs_now_ns());
    CHECK_EQ(LOAD_GET(&thread, udp_sent), 2);
    CHECK_EQ(LOAD_GET(&thread, err_write), 0);
    fake.take = ALL;
    fake.stale = 0;
    run_loop();
    CHECK_EQ(LOAD_GET(&thread, udp_sent), 8); /* the other 6, resent */
    CHECK_EQ(LOAD_GET(&thread, err_write), 0);
    CHECK_EQ(fake.taken, 8);
    teardown();
}

/* sendmmsg takes 2 of 8 and loses the error that stopped it, which the next call returns:
 * counted once, and the other 6 go at once. */
static void partial_lost(int e)
{
    struct load_client *cl = setup();
    CHECK(cl != NULL);
    if (!cl)
        return;
    fake.take = 2;
    fake.then = e;
    load_client_pump(cl, rs_now_ns());
    /* 2, the error, then 2 + 2 + 2 with the error after each */
    CHECK_EQ(LOAD_GET(&thread, udp_sent), 8);
    CHECK_EQ(LOAD_GET(&thread, err_write), 3);
    CHECK_EQ(fake.taken, 8);
    teardown();
}

/* sendmmsg fails with e: EAGAIN and ENOBUFS wait for writability, others are write errors. */
static void failed(int e, bool retried)
{
    struct load_client *cl = setup();
    CHECK(cl != NULL);
    if (!cl)
        return;
    fake.take = 0;
    fake.fail_errno = e;
    load_client_pump(cl, rs_now_ns());
    CHECK_EQ(LOAD_GET(&thread, udp_sent), 0);
    CHECK_EQ(LOAD_GET(&thread, err_write), retried ? 0 : 1);
    fake.take = ALL;
    run_loop();
    CHECK_EQ(LOAD_GET(&thread, udp_sent), retried ? 8 : 0);
    teardown();
}

int main(void)
{
    partial(EBADF);
    partial(ECONNREFUSED);
    partial(0);
    partial_lost(ECONNREFUSED);
    failed(EAGAIN, true);
    failed(ENOBUFS, true);
    failed(ECONNREFUSED, false);
    return check_done("test_load_udp");
}
