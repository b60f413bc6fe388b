/* ringload's UDP echo client. Each socket is one flow, connected to the target and driven by a
 * loop poller. A datagram carries a 24-byte header (magic, flow, sequence, length, checksum of
 * the header and payload) and a payload reproducible from (flow, sequence). Outstanding
 * datagrams sit in a window of slots; one unanswered for --timeout is counted lost, and if it
 * comes back later it is counted late instead. Answers are checked: wrong length, checksum or
 * payload is corrupt; a second answer is a duplicate. Sends and receives are batched. */

#include <errno.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#include "load.h"
#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"

#define UDP_MAGIC 0x52534c44u /* "RSLD" */
#define UDP_HDR   24
#define UDP_BATCH 32

enum slot_state { SLOT_FREE, SLOT_PENDING, SLOT_LOST };

struct udp_slot {
    uint64_t seq;
    uint64_t intended, sent;
    uint8_t state;
};

struct udp_client {
    struct load_thread *t;
    struct rs_poller *p;
    uint32_t flow;
    uint64_t next_seq;
    uint64_t outstanding;
    uint64_t next_due;
    uint32_t nslots;
    struct udp_slot *win;
    unsigned char *rbuf; /* UDP_BATCH receive buffers of size bytes */
    bool scheduled;      /* rate mode: in the thread's send heap */
    bool was_blocked;    /* fell behind because answers were outstanding, not caught up */
};

static void udp_reschedule(struct udp_client *u, uint64_t now)
{
    struct load_thread *t = u->t;
    if (t->o->rate == 0 || u->scheduled || !t->sending || u->next_due <= now)
        return;
    struct udp_client *us = t->clients;
    if (load_sched_push(&t->sched, u->next_due, (uint32_t)(u - us)) == 0) {
        u->scheduled = true;
        load_sched_arm(t);
    }
}

static uint32_t fnv1a(const unsigned char *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Builds datagram seq of the flow into buf (size bytes). */
static void build(struct udp_client *u, uint64_t seq, unsigned char *buf, size_t size)
{
    put32(buf, UDP_MAGIC);
    put32(buf + 4, u->flow);
    memcpy(buf + 8, &seq, 8);
    put32(buf + 16, (uint32_t)size);
    load_pattern_fill(u->flow, seq, 0, buf + UDP_HDR, size - UDP_HDR);
    uint32_t h = fnv1a(buf, 20, 2166136261u);
    put32(buf + 20, fnv1a(buf + UDP_HDR, size - UDP_HDR, h));
}

static bool slot_free(const struct udp_client *u)
{
    return u->win[u->next_seq % u->nslots].state != SLOT_PENDING;
}

static bool may_send(const struct udp_client *u)
{
    return u->t->sending && u->outstanding < u->t->o->depth && slot_free(u);
}

/* Sends what is allowed now (closed loop: fill the depth; rate mode: what is due), batched. */
/* --gso: a batch of equal-size datagrams goes to the kernel as one buffer with UDP_SEGMENT
 * (kernel >= 4.18), one syscall and one trip through the stack for up to 64 datagrams. Returns
 * the datagrams sent, or -errno. */
static int send_gso(int fd, char *buf, unsigned k, size_t size)
{
    char ctl[CMSG_SPACE(sizeof(uint16_t))];
    struct iovec iov = {.iov_base = buf, .iov_len = (size_t)k * size};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    uint16_t seg = (uint16_t)size;
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(seg));
    memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
    if (sendmsg(fd, &mh, MSG_DONTWAIT) < 0)
        return -errno;
    return (int)k;
}

/* --send-only: datagrams go out as fast as the socket takes them (or at -R), nothing is
 * expected back; what is measured is the send rate. Up to 8 batches per wake-up. */
static void udp_blast(struct udp_client *u, uint64_t now)
{
    struct load_thread *t = u->t;
    size_t size = t->o->size;
    struct mmsghdr mm[64];
    struct iovec iov[64];
    double gap = t->o->rate > 0 ? 1e9 / t->conn_rate : 0;

    /* One GSO buffer holds at most 64 datagrams and 65507 bytes. */
    unsigned batch = UDP_BATCH;
    if (t->o->gso) {
        batch = (unsigned)(65000 / size);
        batch = batch > 64 ? 64 : batch < 1 ? 1 : batch;
    }
    for (int round = 0; round < 8 && t->sending; round++) {
        unsigned k = 0;
        for (; k < batch; k++) {
            if (t->o->rate > 0) {
                if (u->next_due > now)
                    break;
                u->next_due += (uint64_t)gap;
            }
            unsigned char *buf = (unsigned char *)t->scratch + (size_t)k * size;
            build(u, u->next_seq + k, buf, size);
            iov[k] = (struct iovec){.iov_base = buf, .iov_len = size};
            mm[k].msg_hdr = (struct msghdr){.msg_iov = &iov[k], .msg_iovlen = 1};
        }
        if (k == 0)
            return;
        int n = t->o->gso ? send_gso(rs_poller_fd(u->p), t->scratch, k, size)
                          : sendmmsg(rs_poller_fd(u->p), mm, k, MSG_DONTWAIT);
        if (n < 0)
            n = 0;
        u->next_seq += (unsigned)n;
        LOAD_ADD(t, udp_sent, (uint64_t)n);
        LOAD_ADD(t, bytes_out, (uint64_t)n * size);
        if (load_in_window(t, now)) {
            LOAD_ADD(t, msgs, (uint64_t)n);
            LOAD_ADD(t, msgs_all, (uint64_t)n);
        }
        if ((unsigned)n < k) {
            if (t->o->rate > 0)
                u->next_due -= (uint64_t)gap * (k - (unsigned)n);
            break; /* the socket is full: wait for writability */
        }
    }
    if (t->o->rate == 0 && t->sending)
        rs_poller_want_out(u->p, true);
}

static void udp_pump(struct udp_client *u, uint64_t now)
{
    struct load_thread *t = u->t;
    if (t->o->send_only) {
        udp_blast(u, now);
        return;
    }
    size_t size = t->o->size;
    struct mmsghdr mm[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    uint64_t intended[UDP_BATCH];
    double gap = t->o->rate > 0 ? 1e9 / t->conn_rate : 0;

    for (;;) {
        unsigned k = 0;
        while (k < UDP_BATCH) {
            uint64_t when = now;
            if (t->o->rate > 0) {
                if (!t->sending || u->next_due > now)
                    break;
                if (!may_send(u)) {
                    LOAD_INC(t, sched_blocked);
                    u->was_blocked = true;
                    break;
                }
                if (now - u->next_due > 1000000 && !u->was_blocked)
                    LOAD_INC(t, sched_behind);
                when = u->next_due;
                u->next_due += (uint64_t)gap;
            } else if (!may_send(u)) {
                break;
            }
            uint64_t seq = u->next_seq;
            unsigned char *buf = (unsigned char *)t->scratch + (size_t)k * size;
            build(u, seq, buf, size);
            iov[k] = (struct iovec){.iov_base = buf, .iov_len = size};
            mm[k].msg_hdr = (struct msghdr){.msg_iov = &iov[k], .msg_iovlen = 1};
            intended[k] = when;
            /* Reserve the slot now so may_send sees it. */
            struct udp_slot *s = &u->win[seq % u->nslots];
            if (s->state == SLOT_LOST)
                LOAD_INC(t, udp_lost); /* the old occupant never came back */
            s->seq = seq;
            s->state = SLOT_PENDING;
            s->intended = when;
            s->sent = now;
            u->outstanding++;
            k++;
            u->next_seq++;
            if (!slot_free(u))
                break;
        }
        if (k == 0) {
            if (t->o->rate > 0 && u->next_due > now)
                u->was_blocked = false; /* caught up */
            return;
        }
        int n = sendmmsg(rs_poller_fd(u->p), mm, k, MSG_DONTWAIT);
        if (n < 0)
            n = 0;
        if ((unsigned)n < k) {
            /* Not taken: give the slots back and resend on writability (or count an error). */
            int err = errno;
            for (unsigned j = (unsigned)n; j < k; j++) {
                uint64_t seq = u->next_seq - k + j;
                u->win[seq % u->nslots].state = SLOT_FREE;
                u->outstanding--;
            }
            u->next_seq -= k - (unsigned)n;
            if (t->o->rate > 0)
                u->next_due = intended[n];
            if (err == EAGAIN || err == ENOBUFS) {
                rs_poller_want_out(u->p, true);
            } else {
                LOAD_INC(t, err_write); /* ICMP errors are transient: keep going */
            }
            LOAD_ADD(t, udp_sent, (uint64_t)n);
            LOAD_ADD(t, bytes_out, (uint64_t)n * size);
            return;
        }
        LOAD_ADD(t, udp_sent, (uint64_t)n);
        LOAD_ADD(t, bytes_out, (uint64_t)n * size);
    }
}

static void udp_answer(struct udp_client *u, const unsigned char *b, size_t len, uint64_t now)
{
    struct load_thread *t = u->t;
    size_t size = t->o->size;
    uint64_t hidden, seq;

    LOAD_ADD(t, bytes_in, len);
    if (len < UDP_HDR || get32(b) != UDP_MAGIC || get32(b + 4) != u->flow) {
        LOAD_INC(t, udp_corrupt);
        return;
    }
    memcpy(&seq, b + 8, 8);
    struct udp_slot *s = &u->win[seq % u->nslots];
    bool known = s->seq == seq && s->state != SLOT_FREE;
    bool ok = len == size && get32(b + 16) == size && seq < u->next_seq;
    if (ok) {
        uint32_t h = fnv1a(b, 20, 2166136261u);
        ok = get32(b + 20) == fnv1a(b + UDP_HDR, len - UDP_HDR, h);
    }
    if (ok && t->o->verify)
        ok = load_pattern_check(u->flow, seq, 0, b + UDP_HDR, len - UDP_HDR) == len - UDP_HDR;
    if (!ok) {
        LOAD_INC(t, udp_corrupt);
        if (rs_ratelimit_ok(&t->rl_verify, &hidden))
            rs_log_error("verify: flow %u: corrupt answer to datagram %llu (%zu bytes)", u->flow,
                         (unsigned long long)seq, len);
        return;
    }
    if (!known) {
        /* Answered before (duplicate), or so late its slot was reused. */
        if (seq + u->nslots < u->next_seq)
            LOAD_INC(t, udp_late);
        else
            LOAD_INC(t, udp_dup);
        return;
    }
    if (s->state == SLOT_LOST) {
        LOAD_INC(t, udp_late); /* lost at the timeout, came back after it */
        s->state = SLOT_FREE;
        return;
    }
    s->state = SLOT_FREE;
    s->seq = UINT64_MAX; /* a second answer is a duplicate */
    u->outstanding--;
    LOAD_INC(t, udp_recv);
    LOAD_INC(t, msgs_all);
    if (load_in_window(t, s->intended)) {
        rs_hist_record(&t->hist, now > s->intended ? now - s->intended : 0);
        LOAD_INC(t, msgs);
    }
}

static void udp_ready(struct rs_poller *p, unsigned events, void *arg)
{
    struct udp_client *u = arg;
    size_t size = u->t->o->size;
    struct mmsghdr mm[UDP_BATCH];
    struct iovec iov[UDP_BATCH];

    if (u->t->o->send_only) {
        /* Answers, if any, are read and dropped; only the send rate counts. */
        char sink[2048];
        while (recv(rs_poller_fd(p), sink, sizeof(sink), MSG_DONTWAIT) > 0)
            ;
        udp_blast(u, rs_now_ns());
        return;
    }
    if (events & RS_POLL_OUT)
        rs_poller_want_out(p, false);
    for (int round = 0; round < 8 && (events & RS_POLL_IN); round++) {
        for (unsigned j = 0; j < UDP_BATCH; j++) {
            /* One byte more than expected, so a longer answer shows as truncated. */
            iov[j] =
                (struct iovec){.iov_base = u->rbuf + (size_t)j * (size + 1), .iov_len = size + 1};
            mm[j].msg_hdr = (struct msghdr){.msg_iov = &iov[j], .msg_iovlen = 1};
        }
        int n = recvmmsg(rs_poller_fd(p), mm, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
                LOAD_INC(u->t, err_read);
            break;
        }
        uint64_t now = rs_now_ns();
        for (int j = 0; j < n; j++) {
            size_t len = mm[j].msg_len;
            if (mm[j].msg_hdr.msg_flags & MSG_TRUNC)
                len = size + 1;
            udp_answer(u, iov[j].iov_base, len, now);
        }
        if (n < UDP_BATCH)
            break;
        if (round == 7)
            rs_poller_again(p);
    }
    uint64_t now = rs_now_ns();
    udp_pump(u, now);
    udp_reschedule(u, now);
}

void load_udp_fire(struct load_thread *t, uint64_t now)
{
    struct udp_client *us = t->clients;
    uint32_t idx;
    while (load_sched_pop_due(&t->sched, now, &idx)) {
        struct udp_client *u = &us[idx];
        u->scheduled = false;
        udp_pump(u, now);
        udp_reschedule(u, now);
    }
}

int load_udp_start(struct load_thread *t)
{
    const struct rs_load_opts *o = t->o;
    struct udp_client *us = rs_calloc(t->nconns, sizeof(*us));
    if (!us)
        return -ENOMEM;
    t->clients = us;
    if (o->rate > 0 && load_sched_init(&t->sched, t->nconns) < 0)
        return -ENOMEM;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct udp_client *u = &us[i];
        u->t = t;
        u->flow = t->first_conn + i;
        u->nslots = o->depth * 4;
        u->win = rs_calloc(u->nslots, sizeof(*u->win));
        u->rbuf = rs_malloc((size_t)UDP_BATCH * (o->size + 1));
        if (!u->win || !u->rbuf)
            return -ENOMEM;
        int fd = socket(o->target.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        int big = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        if (connect(fd, (const struct sockaddr *)&o->target.ss, o->target.len) < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        int err = rs_loop_poll(t->loop, fd, udp_ready, u, &u->p);
        if (err < 0) {
            close(fd);
            return err;
        }
        LOAD_INC(t, connects);
        if (o->rate > 0) {
            u->next_due = t->t0 + (uint64_t)(1e9 / t->conn_rate * u->flow / o->conns);
            udp_reschedule(u, 0);
        }
    }
    return 0;
}

bool load_udp_tick(struct load_thread *t, uint64_t now)
{
    struct udp_client *us = t->clients;
    bool all_done = true;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct udp_client *u = &us[i];
        /* Time out what was not answered: counted lost (late if it still comes). */
        if (u->outstanding > 0) {
            for (uint32_t k = 0; k < u->nslots; k++) {
                struct udp_slot *s = &u->win[k];
                if (s->state == SLOT_PENDING && now - s->sent > t->o->timeout_ns) {
                    s->state = SLOT_LOST;
                    u->outstanding--;
                }
            }
        }
        if (!t->finishing) {
            udp_pump(u, now);
            udp_reschedule(u, now);
        }
        if (u->outstanding > 0)
            all_done = false;
        if (t->o->send_only && !t->sending)
            rs_poller_want_out(u->p, false);
    }
    return all_done;
}

void load_udp_free(struct load_thread *t)
{
    struct udp_client *us = t->clients;
    if (!us)
        return;
    for (unsigned i = 0; i < t->nconns; i++) {
        struct udp_client *u = &us[i];
        /* What is still marked lost never came back. */
        for (uint32_t k = 0; u->win && !t->o->send_only && k < u->nslots; k++)
            if (u->win[k].state == SLOT_LOST || u->win[k].state == SLOT_PENDING)
                LOAD_INC(t, udp_lost);
        rs_free(u->win);
        rs_free(u->rbuf);
    }
    rs_free(us);
    t->clients = NULL;
    load_sched_fini(&t->sched);
}
