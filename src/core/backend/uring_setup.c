/* The io_uring backend's set-up: ring creation with the best flags this kernel accepts, the
 * choice between io_uring and epoll, and the features probed for each ring. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "ringsock/util/alloc.h"
#include "uring.h"

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

static int kernel_at_least(int major, int minor)
{
    struct utsname u;
    int ma = 0, mi = 0;
    if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
        return 0;
    return ma > major || (ma == major && mi >= minor);
}

/* Creates a ring, dropping setup flags this kernel does not know. */
static int ring_create(struct io_uring *ring, unsigned sq, unsigned cq, unsigned *flags_out)
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
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = tries[i] | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
        p.cq_entries = cq;
        err = io_uring_queue_init_params(sq, ring, &p);
        if (err == 0) {
            *flags_out = p.flags;
            return 0;
        }
        if (err != -EINVAL)
            return err;
    }
    return err;
}

int rs_backend_choose(enum rs_backend_kind want, char *why, size_t whylen)
{
    struct io_uring ring;
    unsigned flags;
    int err;

    why[0] = '\0';
    if (want == RS_BACKEND_EPOLL)
        return RS_BACKEND_EPOLL;
    err = ring_create(&ring, 8, 16, &flags);
    if (err < 0) {
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
        return want == RS_BACKEND_URING ? err : RS_BACKEND_EPOLL;
    }
    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
    static const struct {
        int op;
        const char *name;
    } need[] = {
        {IORING_OP_ACCEPT, "accept"},   {IORING_OP_RECV, "recv"},
        {IORING_OP_SEND, "send"},       {IORING_OP_SENDMSG, "sendmsg"},
        {IORING_OP_CONNECT, "connect"}, {IORING_OP_ASYNC_CANCEL, "cancel"},
        {IORING_OP_POLL_ADD, "poll"},
    };
    err = 0;
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (!probe || !io_uring_opcode_supported(probe, need[i].op)) {
            snprintf(why, whylen, "io_uring unavailable: kernel lacks the %s operation",
                     need[i].name);
            err = -EOPNOTSUPP;
            break;
        }
    }
    if (probe)
        io_uring_free_probe(probe);
    if (err == 0) {
        size_t len;
        struct io_uring_buf_ring *brr = rs__ur_bufring_register(&ring, 8, &len, &err);
        if (brr) {
            io_uring_unregister_buf_ring(&ring, UR_BGID);
            munmap(brr, len);
        } else {
            snprintf(why, whylen,
                     "io_uring unavailable: no provided buffer rings (kernel < 5.19?): %s",
                     strerror(-err));
        }
    }
    io_uring_queue_exit(&ring);
    if (err < 0)
        return want == RS_BACKEND_URING ? err : RS_BACKEND_EPOLL;
    return RS_BACKEND_URING;
}

int rs__ur_init(struct rs_loop *l)
{
    struct ur *u = rs_calloc(1, sizeof(*u));
    unsigned flags = 0;
    int err;
    if (!u)
        return -ENOMEM;
    err = ring_create(&u->ring, UR_SQ_ENTRIES, UR_CQ_ENTRIES, &flags);
    if (err < 0)
        goto out_free;
    err = rs__ur_bufring_setup(u, l->cfg.buf_count, l->cfg.buf_size);
    if (err < 0)
        goto out_exit_ring;

    u->id = l->cfg.id;
    bool no_ms = l->cfg.uring_no_multishot;
    u->ms_accept = !no_ms && kernel_at_least(5, 19);
    u->ms_recv = !no_ms && kernel_at_least(6, 0);
    snprintf(u->features, sizeof(u->features), "%s accept, %s recv, buffer ring %ux%u%s%s",
             u->ms_accept ? "multishot" : "one-shot", u->ms_recv ? "multishot" : "one-shot",
             u->br.count, l->cfg.buf_size,
             (flags & IORING_SETUP_SINGLE_ISSUER) ? ", single issuer" : "",
             (flags & IORING_SETUP_DEFER_TASKRUN) ? ", defer taskrun" : "");
    l->be_data = u;
    return 0;

out_exit_ring:
    io_uring_queue_exit(&u->ring);
out_free:
    rs_free(u);
    return err;
}

void rs__ur_fini(struct rs_loop *l)
{
    struct ur *u = l->be_data;
    if (!u)
        return;
    io_uring_queue_exit(&u->ring); /* cancels anything left in flight */
    for (uint32_t i = 0; i < l->nslabs; i++)
        for (uint32_t j = 0; j < RS_SLAB_CONNS; j++)
            rs_free(l->slabs[i][j].send_state); /* sends the ring never completed */
    while (u->sm_free) {
        struct ur_sendmsg *sm = u->sm_free;
        u->sm_free = sm->next;
        rs_free(sm);
    }
    rs__ur_bufring_free(u);
    rs_free(u);
    l->be_data = NULL;
}

const char *rs__ur_features(const struct rs_loop *l)
{
    return ((const struct ur *)l->be_data)->features;
}
