/* The io_uring backend's probe: what this kernel's io_uring can do, asked of io_uring itself
 * once per process, and the choice between io_uring and epoll. Each worker's ring is made in
 * uring_setup.c with what was found here.
 *
 * What is probed, and how. Never the kernel version: backports make that number lie, and a
 * policy (seccomp, kernel.io_uring_disabled) may refuse what the version promises. The first
 * kernel with each feature is given for reference.
 *
 *   ring creation     io_uring_queue_init_params on a small ring (io_uring: 5.1). EPERM means
 *                     kernel.io_uring_disabled or seccomp, ENOSYS a kernel without io_uring.
 *   setup flags       tried in order of preference, an unknown flag failing with EINVAL:
 *                     SINGLE_ISSUER (6.0) with DEFER_TASKRUN (6.1), SINGLE_ISSUER with
 *                     COOP_TASKRUN (5.19), COOP_TASKRUN alone, none; SUBMIT_ALL (5.18),
 *                     CQSIZE (5.5) and CLAMP (5.6) always. Workers create their rings with the
 * flags the probe's ring was accepted with, each on its own thread (SINGLE_ISSUER binds a ring to
 * the thread that creates it). opcodes           io_uring_get_probe_ring (5.6). Needed: ACCEPT
 * (5.5), RECV and SEND (5.6), SENDMSG (5.3), CONNECT (5.5), ASYNC_CANCEL (5.5), POLL_ADD (5.1;
 * multishot poll 5.13). Recorded for the datagram path: RECVMSG (5.3), SEND_ZC (6.0), SENDMSG_ZC
 * (6.1). ring features     io_uring_params.features after setup. Needed: NODROP (5.5: completions
 *                     are kept, not lost, when the CQ overflows). Recorded: FAST_POLL (5.7),
 *                     EXT_ARG (5.11).
 *   buffer ring       IORING_REGISTER_PBUF_RING (5.19) on the probe's ring. Needed.
 *   multishot accept  (5.19) tried: a listener on 127.0.0.1 port 0 (an abstract AF_UNIX one
 *                     where loopback is down), one connect, an accept with
 *                     IORING_ACCEPT_MULTISHOT; it works if the CQE brings the connection with
 *                     IORING_CQE_F_MORE set. Older kernels fail the SQE with EINVAL. Without it
 *                     accept is one-shot, re-armed after each connection.
 *   multishot recv    (6.0) tried on that connection: a recv with IORING_RECV_MULTISHOT and
 *                     buffer select, one byte written from the other end; it works if the CQE
 *                     brings the byte with IORING_CQE_F_MORE set. Without it recv is one-shot
 *                     (still into the buffer ring), re-armed after each completion.
 *   recv byte limit   (6.17) tried on that connection once multishot recv works: a multishot
 *                     recv given a total limit of one byte (sqe->optlen), one more byte written;
 *                     it works if the CQE brings the byte without IORING_CQE_F_MORE (the limit
 *                     ended it). Older kernels fail the SQE with EINVAL. The write-queue cap
 *                     uses it (uring_conn.c, rs__ur_arm_recv); without it a multishot recv is armed
 *                     only while the queue is empty, and one-shot receives are used otherwise.
 *
 * Without a needed feature, --backend auto falls back to epoll and says which one is missing;
 * --backend io_uring refuses to start, saying the same. The trials cost a dozen system calls at
 * start; each completion waited for is bounded at a second. A trial that cannot run (no socket,
 * EMFILE) is warned about once and leaves accept and recv one-shot.
 *
 * Test switches, read once with the probe:
 *   RINGSOCK_TEST_URING_FAIL=EPERM|ENOSYS|ENOMEM  ring creation fails as a kernel would.
 *   RINGSOCK_TEST_URING_HIDE=NAME[,NAME...]       the probe reports these features missing, as a
 *       kernel lacking them would; NAME is one of feat_info[]'s: multishot_recv,
 *       multishot_recv_limit, multishot_accept, buf_ring, defer_taskrun, single_issuer,
 *       coop_taskrun, nodrop, an
 *       opcode (accept, recv, send, sendmsg, connect, async_cancel, poll_add, recvmsg, send_zc,
 *       sendmsg_zc), fast_poll, ext_arg. An unknown NAME makes io_uring unavailable, saying so.
 *   RINGSOCK_TEST_URING_NO_MULTISHOT=1            is HIDE=multishot_accept,multishot_recv.
 *   RINGSOCK_TEST_URING_SQ=N, RINGSOCK_TEST_URING_CQ=N  every worker's ring gets N SQ (1 to
 *       32768) or CQ (1 to 65536, not below the SQ) entries instead of the sizes chosen from
 *       the configuration, so tests can make the SQ fill and the CQ overflow. The kernel rounds
 *       N up to a power of two. A value out of range makes io_uring unavailable, saying so. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "uring.h"

#define SETUP_OPTIONAL                                                                             \
    (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN)
#define TRIAL_BUFS     8
#define TRIAL_BUF_SIZE 64
#define HIDE_NOTE      "hidden by RINGSOCK_TEST_URING_HIDE"

enum { TRIAL_ACCEPT = 1, TRIAL_RECV, TRIAL_RECV_LIMIT, TRIAL_CANCEL };

static const struct feat_info {
    const char *name;   /* for RINGSOCK_TEST_URING_HIDE */
    const char *what;   /* for "kernel lacks WHAT" */
    const char *kernel; /* the first kernel with it */
    int op;             /* IORING_OP_, or -1 */
    unsigned bit;       /* IORING_SETUP_ or IORING_FEAT_ bit, or 0 */
    bool needed;        /* without it io_uring is not used */
} feat_info[UR_FEAT_COUNT] = {
    [UR_OP_ACCEPT] = {"accept", "the accept operation", "5.5", IORING_OP_ACCEPT, 0, true},
    [UR_OP_RECV] = {"recv", "the recv operation", "5.6", IORING_OP_RECV, 0, true},
    [UR_OP_SEND] = {"send", "the send operation", "5.6", IORING_OP_SEND, 0, true},
    [UR_OP_SENDMSG] = {"sendmsg", "the sendmsg operation", "5.3", IORING_OP_SENDMSG, 0, true},
    [UR_OP_CONNECT] = {"connect", "the connect operation", "5.5", IORING_OP_CONNECT, 0, true},
    [UR_OP_ASYNC_CANCEL] = {"async_cancel", "the cancel operation", "5.5", IORING_OP_ASYNC_CANCEL,
                            0, true},
    [UR_OP_POLL_ADD] = {"poll_add", "the poll operation", "5.1", IORING_OP_POLL_ADD, 0, true},
    [UR_OP_RECVMSG] = {"recvmsg", "the recvmsg operation", "5.3", IORING_OP_RECVMSG, 0, false},
    [UR_OP_SEND_ZC] = {"send_zc", "the send_zc operation", "6.0", IORING_OP_SEND_ZC, 0, false},
    [UR_OP_SENDMSG_ZC] = {"sendmsg_zc", "the sendmsg_zc operation", "6.1", IORING_OP_SENDMSG_ZC, 0,
                          false},
    [UR_SINGLE_ISSUER] = {"single_issuer", "IORING_SETUP_SINGLE_ISSUER", "6.0", -1,
                          IORING_SETUP_SINGLE_ISSUER, false},
    [UR_DEFER_TASKRUN] = {"defer_taskrun", "IORING_SETUP_DEFER_TASKRUN", "6.1", -1,
                          IORING_SETUP_DEFER_TASKRUN, false},
    [UR_COOP_TASKRUN] = {"coop_taskrun", "IORING_SETUP_COOP_TASKRUN", "5.19", -1,
                         IORING_SETUP_COOP_TASKRUN, false},
    [UR_NODROP] = {"nodrop", "IORING_FEAT_NODROP", "5.5", -1, IORING_FEAT_NODROP, true},
    [UR_FAST_POLL] = {"fast_poll", "IORING_FEAT_FAST_POLL", "5.7", -1, IORING_FEAT_FAST_POLL,
                      false},
    [UR_EXT_ARG] = {"ext_arg", "IORING_FEAT_EXT_ARG", "5.11", -1, IORING_FEAT_EXT_ARG, false},
    [UR_BUF_RING] = {"buf_ring", "provided buffer rings", "5.19", -1, 0, true},
    [UR_MS_ACCEPT] = {"multishot_accept", "multishot accept", "5.19", -1, 0, false},
    [UR_MS_RECV] = {"multishot_recv", "multishot recv", "6.0", -1, 0, false},
    [UR_MS_RECV_LIMIT] = {"multishot_recv_limit", "a byte limit on multishot recv", "6.17", -1, 0,
                          false},
};

static struct ur_probe probe;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

/* RINGSOCK_TEST_URING_FAIL=EPERM|ENOSYS|ENOMEM makes ring creation fail as a kernel would,
 * so tests can check the fallback to epoll and what is said about it. */
static int uring_test_fail(void)
{
    const char *v = getenv("RINGSOCK_TEST_URING_FAIL");
    if (!v || !*v)
        return 0;
    if (strcmp(v, "EPERM") == 0)
        return -EPERM;
    if (strcmp(v, "ENOSYS") == 0)
        return -ENOSYS;
    if (strcmp(v, "ENOMEM") == 0)
        return -ENOMEM;
    return -EINVAL;
}

/* Reads RINGSOCK_TEST_URING_HIDE and _NO_MULTISHOT into *hidden (1u << enum ur_feat). Returns 0,
 * or -EINVAL with why[] set if a name is unknown: a typo must not pass for a hidden feature. */
static int uring_test_hidden(uint32_t *hidden, char *why, size_t whylen)
{
    const char *v = getenv("RINGSOCK_TEST_URING_HIDE");
    const char *ms = getenv("RINGSOCK_TEST_URING_NO_MULTISHOT");

    *hidden = 0;
    if (ms && strcmp(ms, "1") == 0)
        *hidden |= 1u << UR_MS_ACCEPT | 1u << UR_MS_RECV;
    while (v && *v) {
        size_t n = strcspn(v, ",");
        size_t f = 0;
        while (f < UR_FEAT_COUNT &&
               !(strlen(feat_info[f].name) == n && strncmp(feat_info[f].name, v, n) == 0))
            f++;
        if (f < UR_FEAT_COUNT) {
            *hidden |= 1u << f;
        } else if (n > 0) {
            snprintf(why, whylen,
                     "io_uring unavailable: RINGSOCK_TEST_URING_HIDE names no known feature: "
                     "'%.*s'",
                     (int)n, v);
            return -EINVAL;
        }
        v += n;
        if (*v == ',')
            v++;
    }
    return 0;
}

/* Reads RINGSOCK_TEST_URING_SQ and _CQ into p->test_sq and p->test_cq (0: not set). Returns 0, or
 * -EINVAL with why[] set for a value that is not a number in range. */
static int uring_test_sizes(struct ur_probe *p)
{
    static const struct {
        const char *name;
        unsigned long max;
    } vars[2] = {{"RINGSOCK_TEST_URING_SQ", 32768}, {"RINGSOCK_TEST_URING_CQ", 65536}};
    unsigned *out[2] = {&p->test_sq, &p->test_cq};

    for (int i = 0; i < 2; i++) {
        const char *v = getenv(vars[i].name);
        char *end;
        unsigned long n;
        if (!v || !*v)
            continue;
        errno = 0;
        n = strtoul(v, &end, 10);
        if (errno || *end || n < 1 || n > vars[i].max) {
            snprintf(p->why, sizeof(p->why),
                     "io_uring unavailable: %s must be 1 to %lu, not '%.40s'", vars[i].name,
                     vars[i].max, v);
            return -EINVAL;
        }
        *out[i] = (unsigned)n;
    }
    if (p->test_cq && p->test_cq < (p->test_sq ? p->test_sq : UR_SQ_ENTRIES)) {
        snprintf(p->why, sizeof(p->why),
                 "io_uring unavailable: RINGSOCK_TEST_URING_CQ=%u is below the SQ's %u entries",
                 p->test_cq, p->test_sq ? p->test_sq : UR_SQ_ENTRIES);
        return -EINVAL;
    }
    return 0;
}

int rs__ur_ring_create(struct io_uring *ring, unsigned sq, unsigned cq, unsigned allowed,
                       struct io_uring_params *p)
{
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int err = uring_test_fail();
    if (err < 0)
        return err;
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        if (tries[i] & ~allowed)
            continue;
        memset(p, 0, sizeof(*p));
        p->flags = tries[i] | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
        p->cq_entries = cq;
        err = io_uring_queue_init_params(sq, ring, p);
        if (err == 0)
            return 0;
        if (err != -EINVAL)
            return err;
    }
    return err;
}

/* Says why ring creation failed (err, -errno) in why[]. */
static void creation_failed(int err, char *why, size_t whylen)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    int disabled = 0;
    if (f) {
        if (fscanf(f, "%d", &disabled) != 1)
            disabled = 0;
        fclose(f);
    }
    if (disabled && err == -EPERM)
        snprintf(why, whylen, "io_uring unavailable: kernel.io_uring_disabled=%d", disabled);
    else if (err == -ENOSYS)
        snprintf(why, whylen, "io_uring unavailable: kernel without io_uring (ENOSYS)");
    else if (err == -EPERM)
        snprintf(why, whylen,
                 "io_uring unavailable: ring creation refused (EPERM: seccomp or policy)");
    else
        snprintf(why, whylen, "io_uring unavailable: ring creation failed: %s", strerror(-err));
}

/* The opcodes of feat_info[] the ring supports, as 1u << enum ur_feat. */
static uint32_t probe_ops(struct io_uring *ring)
{
    struct io_uring_probe *pr = io_uring_get_probe_ring(ring); /* NULL before 5.6 */
    uint32_t have = 0;
    if (!pr)
        return 0;
    for (unsigned f = 0; f < UR_FEAT_COUNT; f++)
        if (feat_info[f].op >= 0 && io_uring_opcode_supported(pr, feat_info[f].op))
            have |= 1u << f;
    io_uring_free_probe(pr);
    return have;
}

/* A listening socket with one connection pending, made from *cfd_out (non-blocking): on
 * 127.0.0.1 port 0 for AF_INET, on an autobound abstract name for AF_UNIX. Returns 0 or -errno,
 * with nothing left open. */
static int trial_pair(int family, int *lfd_out, int *cfd_out)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_un un;
    } a;
    socklen_t len = family == AF_INET ? sizeof(a.in) : sizeof(sa_family_t);
    int lfd, cfd, err;

    memset(&a, 0, sizeof(a));
    a.sa.sa_family = (sa_family_t)family;
    if (family == AF_INET)
        a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        return -errno;
    if (bind(lfd, &a.sa, len) < 0 || listen(lfd, 4) < 0)
        goto out_close_lfd;
    len = sizeof(a);
    if (getsockname(lfd, &a.sa, &len) < 0)
        goto out_close_lfd;
    cfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (cfd < 0)
        goto out_close_lfd;
    if (connect(cfd, &a.sa, len) < 0) {
        struct pollfd pfd = {.fd = cfd, .events = POLLOUT};
        socklen_t elen = sizeof(err);
        if (errno != EINPROGRESS)
            goto out_close_cfd;
        if (poll(&pfd, 1, 1000) != 1) {
            errno = ETIMEDOUT;
            goto out_close_cfd;
        }
        if (getsockopt(cfd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            goto out_close_cfd;
        if (err != 0) {
            errno = err;
            goto out_close_cfd;
        }
    }
    *lfd_out = lfd;
    *cfd_out = cfd;
    return 0;

out_close_cfd:
    err = -errno;
    close(cfd);
    close(lfd);
    return err;
out_close_lfd:
    err = -errno;
    close(lfd);
    return err;
}

/* Submits what is queued, then waits up to a second for the completion with user data ud,
 * dropping others (closing any descriptor a stray accept brings). Returns 0 with *res and *flags
 * set, or -errno (-ETIME). */
static int trial_wait(struct io_uring *ring, uint64_t ud, int *res, unsigned *flags)
{
    struct __kernel_timespec ts = {.tv_sec = 1};
    struct io_uring_cqe *cqe;
    int err = io_uring_submit(ring);
    if (err < 0)
        return err;
    for (;;) {
        err = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
        if (err == -EINTR)
            continue;
        if (err < 0)
            return err;
        uint64_t got = cqe->user_data;
        *res = cqe->res;
        *flags = cqe->flags;
        io_uring_cqe_seen(ring, cqe);
        if (got == ud)
            return 0;
        if (got == TRIAL_ACCEPT && *res >= 0)
            close(*res);
    }
}

/* Cancels the multishot operation ud, armed on the ring, and waits (bounded) for its last
 * completion, so the kernel is done with it before the ring and sockets go. */
static void trial_cancel(struct io_uring *ring, uint64_t ud)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    unsigned flags = IORING_CQE_F_MORE;
    int res;
    if (!sqe)
        return; /* the ring's exit cancels it */
    io_uring_prep_cancel64(sqe, ud, 0);
    io_uring_sqe_set_data64(sqe, TRIAL_CANCEL);
    while (flags & IORING_CQE_F_MORE) {
        if (trial_wait(ring, ud, &res, &flags) < 0)
            return;
        if (ud == TRIAL_ACCEPT && res >= 0)
            close(res);
    }
}

/* Tries the byte limit of a multishot recv on the accepted socket afd, whose peer is cfd: a
 * limit of one byte, one byte written, must end the receive (see the top of the file). Returns
 * true if it did; false if the kernel refused the limit (EINVAL) or the trial could not run,
 * and then the limit is not used. */
static bool trial_recv_limit(struct io_uring *ring, int afd, int cfd)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    unsigned flags = 0;
    int res = 0;
    bool ok;

    if (!sqe)
        return false;
    io_uring_prep_recv_multishot(sqe, afd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = UR_BGID;
    rs__ur_prep_recv_limit(sqe, 1);
    io_uring_sqe_set_data64(sqe, TRIAL_RECV_LIMIT);
    if (io_uring_submit(ring) < 0)
        return false;
    if (write(cfd, "y", 1) != 1 || trial_wait(ring, TRIAL_RECV_LIMIT, &res, &flags) < 0) {
        trial_cancel(ring, TRIAL_RECV_LIMIT); /* armed, or failed: either way it is over */
        return false;
    }
    ok = res == 1 && (flags & IORING_CQE_F_BUFFER) && !(flags & IORING_CQE_F_MORE);
    if (flags & IORING_CQE_F_MORE)
        trial_cancel(ring, TRIAL_RECV_LIMIT); /* the limit was ignored: still armed */
    return ok;
}

/* Tries multishot accept, multishot recv and its byte limit for real (see the top of the file),
 * adding UR_MS_ACCEPT, UR_MS_RECV and UR_MS_RECV_LIMIT to *have where they work. The ring has group
 * UR_BGID registered at brr, with TRIAL_BUFS entries and no buffers yet. Returns 0, or -errno if
 * the trial itself could not run (no socket, no connection). */
static int trial_multishot(struct io_uring *ring, struct io_uring_buf_ring *brr, uint32_t *have)
{
    /* Static: should a path not foreseen leave a receive armed, it writes to nothing freed. */
    static char bufs[TRIAL_BUFS][TRIAL_BUF_SIZE];
    bool accept_armed = false, recv_armed = false;
    struct io_uring_sqe *sqe;
    unsigned flags;
    int lfd, cfd, afd = -1, res, err;

    for (int i = 0; i < TRIAL_BUFS; i++)
        io_uring_buf_ring_add(brr, bufs[i], TRIAL_BUF_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(TRIAL_BUFS), i);
    io_uring_buf_ring_advance(brr, TRIAL_BUFS);

    err = trial_pair(AF_INET, &lfd, &cfd);
    if (err < 0)
        err = trial_pair(AF_UNIX, &lfd, &cfd); /* loopback down (a fresh network namespace) */
    if (err < 0)
        return err;

    /* Multishot accept (5.19). The listener stays blocking, as the server's are. */
    sqe = io_uring_get_sqe(ring);
    if (!sqe) {
        err = -EBUSY;
        goto out_close;
    }
    io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, TRIAL_ACCEPT);
    accept_armed = true; /* until a completion says otherwise */
    err = trial_wait(ring, TRIAL_ACCEPT, &res, &flags);
    if (err < 0)
        goto out_cancel;
    accept_armed = flags & IORING_CQE_F_MORE;
    if (res >= 0) {
        afd = res;
        if (accept_armed)
            *have |= 1u << UR_MS_ACCEPT;
    } else if (res != -EINVAL) {
        err = res; /* not the kernel's answer to the flag (EMFILE...): no verdict */
        goto out_cancel;
    } else {
        /* EINVAL: no multishot accept (before 5.19). The connection is still pending: take
         * it by hand, without blocking should it be gone. */
        int fl = fcntl(lfd, F_GETFL);
        if (fl >= 0)
            fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
        afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (afd < 0) {
            err = -errno;
            goto out_cancel;
        }
    }

    /* Multishot recv (6.0), armed before the byte is written: the kernel's poll path, as the
     * server uses it. The accepted socket is blocking, as the server's are. */
    sqe = io_uring_get_sqe(ring);
    if (!sqe) {
        err = -EBUSY;
        goto out_cancel;
    }
    io_uring_prep_recv_multishot(sqe, afd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = UR_BGID;
    io_uring_sqe_set_data64(sqe, TRIAL_RECV);
    err = io_uring_submit(ring);
    if (err < 0)
        goto out_cancel;
    recv_armed = true; /* until a completion says otherwise */
    if (write(cfd, "x", 1) != 1) {
        err = -errno;
        goto out_cancel;
    }
    err = trial_wait(ring, TRIAL_RECV, &res, &flags);
    if (err < 0)
        goto out_cancel;
    recv_armed = flags & IORING_CQE_F_MORE;
    if (res == 1 && recv_armed && (flags & IORING_CQE_F_BUFFER))
        *have |= 1u << UR_MS_RECV;
    err = res < 0 && res != -EINVAL ? res : 0; /* EINVAL: no multishot recv (before 6.0) */
    if (err < 0 || !(*have & (1u << UR_MS_RECV)))
        goto out_cancel;

    /* Its byte limit (6.17), once the first receive is gone (the byte must not be its). */
    trial_cancel(ring, TRIAL_RECV);
    recv_armed = false;
    if (trial_recv_limit(ring, afd, cfd))
        *have |= 1u << UR_MS_RECV_LIMIT;

out_cancel:
    if (accept_armed)
        trial_cancel(ring, TRIAL_ACCEPT);
    if (recv_armed)
        trial_cancel(ring, TRIAL_RECV);
out_close:
    if (afd >= 0)
        close(afd);
    close(cfd);
    close(lfd);
    return err;
}

/* Probes the kernel's io_uring into `probe` (see the top of the file). Runs once. */
static void probe_run(void)
{
    struct ur_probe *p = &probe;
    struct io_uring ring;
    struct io_uring_params params;
    uint32_t hidden, have = 0;
    unsigned allowed = SETUP_OPTIONAL;
    int err, br_err = 0;

    err = uring_test_hidden(&hidden, p->why, sizeof(p->why));
    if (err < 0)
        goto out_fail;
    err = uring_test_sizes(p);
    if (err < 0)
        goto out_fail;
    for (unsigned f = UR_SINGLE_ISSUER; f <= UR_COOP_TASKRUN; f++)
        if (hidden & (1u << f))
            allowed &= ~feat_info[f].bit;
    err = rs__ur_ring_create(&ring, 8, 16, allowed, &params);
    if (err < 0) {
        creation_failed(err, p->why, sizeof(p->why));
        goto out_fail;
    }
    p->setup_flags = params.flags & SETUP_OPTIONAL;
    for (unsigned f = UR_SINGLE_ISSUER; f <= UR_COOP_TASKRUN; f++)
        if (params.flags & feat_info[f].bit)
            have |= 1u << f;
    for (unsigned f = UR_NODROP; f <= UR_EXT_ARG; f++)
        if (params.features & feat_info[f].bit)
            have |= 1u << f;
    have |= probe_ops(&ring);

    size_t br_len;
    struct io_uring_buf_ring *brr = rs__ur_bufring_register(&ring, TRIAL_BUFS, &br_len, &br_err);
    if (brr) {
        have |= 1u << UR_BUF_RING;
        if ((have & (1u << UR_OP_ACCEPT)) && (have & (1u << UR_OP_RECV))) {
            err = trial_multishot(&ring, brr, &have);
            if (err < 0)
                rs_log_warn("io_uring: cannot try multishot accept and recv (%s): using one-shot",
                            strerror(-err));
        }
        io_uring_unregister_buf_ring(&ring, UR_BGID);
        munmap(brr, br_len);
    }
    io_uring_queue_exit(&ring);

    p->have = have & ~hidden;
    for (unsigned f = 0; f < UR_FEAT_COUNT; f++) {
        if (!feat_info[f].needed || rs__ur_has(p, f))
            continue;
        const char *detail = "";
        if (hidden & (1u << f))
            detail = HIDE_NOTE;
        else if (f == UR_BUF_RING)
            detail = strerror(-br_err);
        snprintf(p->why, sizeof(p->why), "io_uring unavailable: kernel lacks %s (%s)%s%s",
                 feat_info[f].what, feat_info[f].kernel, *detail ? ": " : "", detail);
        p->err = -EOPNOTSUPP;
        break;
    }
    return;

out_fail:
    p->err = err;
}

const struct ur_probe *rs__ur_probe(void)
{
    pthread_once(&probe_once, probe_run);
    return &probe;
}

int rs_backend_choose(enum rs_backend_kind want, char *why, size_t whylen)
{
    why[0] = '\0';
    if (want == RS_BACKEND_EPOLL)
        return RS_BACKEND_EPOLL;
    const struct ur_probe *p = rs__ur_probe();
    if (p->err < 0) {
        snprintf(why, whylen, "%s", p->why);
        return want == RS_BACKEND_URING ? p->err : RS_BACKEND_EPOLL;
    }
    return RS_BACKEND_URING;
}
