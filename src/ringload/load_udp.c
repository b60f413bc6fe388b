/* ringload's UDP clients, on the client base (load_client.c), which schedules their sends.
 * Each socket is one flow, connected to the target and driven by a loop poller. A datagram carries
 * a 24-byte header (magic, flow, sequence, length, checksum of the header and payload) and a
 * payload reproducible from (flow, sequence). Outstanding datagrams sit in a window of slots; one
 * unanswered for --timeout is counted lost, and if it comes back later it is counted late instead.
 * Answers are checked: wrong length, checksum or payload is corrupt; a second answer is a
 * duplicate. Sends and receives are batched.
 * --send-only is a protocol entry of its own: the same datagrams, nothing awaited. */

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

#include "load_client.h"
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
    struct load_client cl; /* cl.id is the flow */
    struct rs_poller *p;
    uint64_t outstanding;
    uint32_t nslots;
    struct udp_slot *win;
    unsigned char *rbuf; /* UDP_BATCH receive buffers of size + 1 bytes */
};

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
static void build(const struct udp_client *u, uint64_t seq, unsigned char *buf, size_t size)
{
    uint32_t flow = u->cl.id;
    put32(buf, UDP_MAGIC);
    put32(buf + 4, flow);
    memcpy(buf + 8, &seq, 8);
    put32(buf + 16, (uint32_t)size);
    load_pattern_fill(flow, seq, 0, buf + UDP_HDR, size - UDP_HDR);
    uint32_t h = fnv1a(buf, 20, 2166136261u);
    put32(buf + 20, fnv1a(buf + UDP_HDR, size - UDP_HDR, h));
}

/* Builds datagrams next_seq .. next_seq + k - 1 into the thread's scratch, each with its
 * iovec and message header for sendmmsg. */
static void build_batch(const struct udp_client *u, uint64_t k, struct mmsghdr *mm,
                        struct iovec *iov)
{
    struct load_thread *t = u->cl.t;
    size_t size = t->o->size;
    for (uint64_t i = 0; i < k; i++) {
        unsigned char *buf = (unsigned char *)t->scratch + i * size;
        build(u, u->cl.next_seq + i, buf, size);
        iov[i] = (struct iovec){.iov_base = buf, .iov_len = size};
        mm[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
}

/* Sets up u's socket, connected to the target and watched by a poller calling ready. Returns
 * 0 or -errno. */
static int udp_socket_open(struct udp_client *u, rs_poll_fn ready)
{
    struct load_thread *t = u->cl.t;
    const struct rs_load_opts *o = t->o;
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
    int err = rs_loop_poll(t->loop, fd, ready, u, &u->p);
    if (err < 0) {
        close(fd);
        return err;
    }
    LOAD_INC(t, connects);
    u->cl.ready = true;
    return 0;
}

static bool send_full(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

/* Sends mm[0, k) in order until the socket is full or a datagram is refused, counting in
 * *refused the errors the kernel reports. Such an error (the ECONNREFUSED an ICMP port
 * unreachable leaves on a connected socket) is about an earlier datagram, reported by the next
 * send, which it stops; a sendmmsg stopped part-way returns its count and loses the error
 * (sendmmsg(2)). So the rest is sent again at once: once to learn the error, once more to send
 * the datagram it stopped. Returns how many went; *err is 0 (all went), EAGAIN or ENOBUFS
 * (full: wait for writability), or the error that refused mm[return] twice in a row (counted
 * once). */
static unsigned send_batch(int fd, struct mmsghdr *mm, unsigned k, uint64_t *refused, int *err)
{
    unsigned sent = 0;
    bool again = false;
    *err = 0;
    while (sent < k) {
        int n = sendmmsg(fd, mm + sent, k - sent, MSG_DONTWAIT);
        if (n > 0) {
            sent += (unsigned)n;
            again = false;
            continue;
        }
        int e = n < 0 ? errno : EAGAIN;
        if (e == EINTR)
            continue;
        if (send_full(e)) {
            *err = e;
            break;
        }
        if (again) { /* the same datagram refused again: counted once */
            *err = e;
            break;
        }
        (*refused)++;
        again = true;
    }
    return sent;
}

/* --- echo: every datagram answered, checked and accounted for --- */

/* As many datagrams as may go now: --depth outstanding at most, one batch, and only into
 * window slots that no longer await an answer. */
static uint64_t echo_room(const struct load_client *cl)
{
    const struct udp_client *u = (const struct udp_client *)cl;
    uint64_t depth = cl->t->o->depth, k = 0;
    uint64_t max = u->outstanding < depth ? depth - u->outstanding : 0;
    max = max < UDP_BATCH ? max : UDP_BATCH;
    while (k < max && u->win[(cl->next_seq + k) % u->nslots].state != SLOT_PENDING)
        k++;
    return k;
}

static uint64_t echo_send(struct load_client *cl, uint64_t k, uint64_t first, uint64_t step,
                          uint64_t now)
{
    struct udp_client *u = (struct udp_client *)cl;
    struct load_thread *t = cl->t;
    size_t size = t->o->size;
    struct mmsghdr mm[UDP_BATCH];
    struct iovec iov[UDP_BATCH];

    build_batch(u, k, mm, iov);
    for (uint64_t i = 0; i < k; i++) {
        struct udp_slot *s = &u->win[(cl->next_seq + i) % u->nslots];
        if (s->state == SLOT_LOST)
            LOAD_INC(t, udp_lost); /* the old occupant never came back */
        s->seq = cl->next_seq + i;
        s->state = SLOT_PENDING;
        s->intended = first + i * step;
        s->sent = now;
    }
    int err;
    uint64_t refused = 0;
    unsigned n = send_batch(rs_poller_fd(u->p), mm, (unsigned)k, &refused, &err);
    bool failed = err != 0 && !send_full(err);
    /* Refusals are counted (ICMP errors are transient: keep going). */
    LOAD_ADD(t, err_write, refused);
    if (n < k) {
        /* Not taken: give the slots back; resend on writability, or, refused, go on with the
         * schedule (the turn is used). */
        for (uint64_t j = n; j < k; j++)
            u->win[(cl->next_seq + j) % u->nslots].state = SLOT_FREE;
        if (!failed)
            rs_poller_want_out(u->p, true);
    }
    cl->next_seq += (uint64_t)n;
    u->outstanding += (uint64_t)n;
    LOAD_ADD(t, udp_sent, (uint64_t)n);
    LOAD_ADD(t, bytes_out, (uint64_t)n * size);
    /* At a constant rate a refused send used its turn: the schedule goes on (it would otherwise
     * wait for a writability that is already there, or for the next tick). A closed loop tries
     * again at the next tick or answer. */
    return failed && t->o->rate > 0 ? k : (uint64_t)n;
}

static void echo_answer(struct udp_client *u, const unsigned char *b, size_t len, uint64_t now)
{
    struct load_thread *t = u->cl.t;
    size_t size = t->o->size;
    uint32_t flow = u->cl.id;
    uint64_t hidden, seq;

    LOAD_ADD(t, bytes_in, len);
    if (len < UDP_HDR || get32(b) != UDP_MAGIC || get32(b + 4) != flow) {
        LOAD_INC(t, udp_corrupt);
        return;
    }
    memcpy(&seq, b + 8, 8);
    struct udp_slot *s = &u->win[seq % u->nslots];
    bool known = s->seq == seq && s->state != SLOT_FREE;
    bool ok = len == size && get32(b + 16) == size && seq < u->cl.next_seq;
    if (ok) {
        uint32_t h = fnv1a(b, 20, 2166136261u);
        ok = get32(b + 20) == fnv1a(b + UDP_HDR, len - UDP_HDR, h);
    }
    if (ok && t->o->verify)
        ok = load_pattern_check(flow, seq, 0, b + UDP_HDR, len - UDP_HDR) == len - UDP_HDR;
    if (!ok) {
        LOAD_INC(t, udp_corrupt);
        if (rs_ratelimit_ok(&t->rl_verify, &hidden))
            rs_log_error("verify: flow %u: corrupt answer to datagram %llu (%zu bytes)", flow,
                         (unsigned long long)seq, len);
        return;
    }
    if (!known) {
        /* Answered before (duplicate), or so late its slot was reused. */
        if (seq + u->nslots < u->cl.next_seq)
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
    load_client_record(t, s->intended, now);
}

static void echo_ready(struct rs_poller *p, unsigned events, void *arg)
{
    struct udp_client *u = arg;
    size_t size = u->cl.t->o->size;
    struct mmsghdr mm[UDP_BATCH];
    struct iovec iov[UDP_BATCH];

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
                LOAD_INC(u->cl.t, err_read);
            break;
        }
        uint64_t now = rs_now_ns();
        for (int j = 0; j < n; j++) {
            size_t len = mm[j].msg_len;
            if (mm[j].msg_hdr.msg_flags & MSG_TRUNC)
                len = size + 1;
            echo_answer(u, iov[j].iov_base, len, now);
        }
        if (n < UDP_BATCH)
            break;
        if (round == 7)
            rs_poller_again(p);
    }
    load_client_pump(&u->cl, rs_now_ns());
}

static int echo_open(struct load_client *cl)
{
    struct udp_client *u = (struct udp_client *)cl;
    const struct rs_load_opts *o = cl->t->o;
    u->nslots = o->depth * 4;
    u->win = rs_calloc(u->nslots, sizeof(*u->win));
    u->rbuf = rs_malloc((size_t)UDP_BATCH * (o->size + 1));
    if (!u->win || !u->rbuf)
        return -ENOMEM;
    return udp_socket_open(u, echo_ready);
}

/* Counts what never came back (still marked lost or pending) and frees. */
static void echo_fini(struct load_client *cl)
{
    struct udp_client *u = (struct udp_client *)cl;
    for (uint32_t k = 0; u->win && k < u->nslots; k++)
        if (u->win[k].state == SLOT_LOST || u->win[k].state == SLOT_PENDING)
            LOAD_INC(cl->t, udp_lost);
    rs_free(u->win);
    rs_free(u->rbuf);
    u->win = NULL;
    u->rbuf = NULL;
}

/* Times out what was not answered: counted lost (late if it still comes). */
static bool echo_check(struct load_client *cl, uint64_t now)
{
    struct udp_client *u = (struct udp_client *)cl;
    for (uint32_t k = 0; u->outstanding > 0 && k < u->nslots; k++) {
        struct udp_slot *s = &u->win[k];
        if (s->state == SLOT_PENDING && now - s->sent > cl->t->o->timeout_ns) {
            s->state = SLOT_LOST;
            u->outstanding--;
        }
    }
    return true;
}

static uint64_t echo_outstanding(const struct load_client *cl)
{
    return ((const struct udp_client *)cl)->outstanding;
}

/* --- --send-only: datagrams go out as fast as the socket takes them (or at -R), nothing is
 * expected back; what is measured is the send rate --- */

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

/* One batch: nothing is outstanding. A GSO buffer holds at most 64 datagrams and 65507
 * bytes. */
static uint64_t blast_room(const struct load_client *cl)
{
    const struct rs_load_opts *o = cl->t->o;
    if (!o->gso)
        return UDP_BATCH;
    uint64_t batch = 65000 / o->size;
    return batch > 64 ? 64 : batch < 1 ? 1 : batch;
}

static uint64_t blast_send(struct load_client *cl, uint64_t k, uint64_t first, uint64_t step,
                           uint64_t now)
{
    struct udp_client *u = (struct udp_client *)cl;
    struct load_thread *t = cl->t;
    size_t size = t->o->size;
    struct mmsghdr mm[64];
    struct iovec iov[64];
    (void)first;
    (void)step;

    build_batch(u, k, mm, iov);
    /* A full socket waits for writability (or the next due send). A refused datagram (or GSO
     * batch) is counted and skipped, and the run goes on with the rest. */
    uint64_t n = 0, done = 0;
    int err = 0;
    if (t->o->gso) {
        int r = send_gso(rs_poller_fd(u->p), t->scratch, (unsigned)k, size);
        n = done = r > 0 ? (uint64_t)r : 0;
        if (r < 0 && !send_full(-r)) {
            LOAD_INC(t, err_write);
            done = k;
        }
    } else {
        uint64_t refused = 0;
        while (done < k) {
            unsigned sent =
                send_batch(rs_poller_fd(u->p), mm + done, (unsigned)(k - done), &refused, &err);
            n += sent;
            done += sent;
            if (err == 0 || send_full(err))
                break;
            done++; /* refused twice: skipped */
        }
        LOAD_ADD(t, err_write, refused);
    }
    cl->next_seq += n;
    LOAD_ADD(t, udp_sent, n);
    LOAD_ADD(t, bytes_out, n * size);
    if (load_in_window(t, now)) {
        LOAD_ADD(t, msgs, n);
        LOAD_ADD(t, msgs_all, n);
    }
    /* A refused datagram used its turn: the schedule goes on past it (it would otherwise wait
     * for a writability that is already there, or for the next tick). */
    return done;
}

static void blast_ready(struct rs_poller *p, unsigned events, void *arg)
{
    struct udp_client *u = arg;
    char sink[2048];
    (void)events;
    /* Answers, if any, are read and dropped; only the send rate counts. A pending socket error
     * (ECONNREFUSED from an ICMP port unreachable) is returned, and cleared, by this receive
     * rather than by the next send: it is a write error all the same. */
    for (;;) {
        ssize_t r = recv(rs_poller_fd(p), sink, sizeof(sink), MSG_DONTWAIT);
        if (r >= 0 || errno == EINTR)
            continue;
        if (errno == EAGAIN)
            break;
        LOAD_INC(u->cl.t, err_write); /* returned once, then cleared: read on */
    }
    load_client_pump(&u->cl, rs_now_ns());
}

static int blast_open(struct load_client *cl)
{
    return udp_socket_open((struct udp_client *)cl, blast_ready);
}

static void blast_fini(struct load_client *cl)
{
    (void)cl; /* the loop closes the socket */
}

/* Closed loop sends whenever the socket is writable, while the run is sending. */
static bool blast_check(struct load_client *cl, uint64_t now)
{
    struct udp_client *u = (struct udp_client *)cl;
    (void)now;
    rs_poller_want_out(u->p, cl->t->o->rate == 0 && cl->t->sending && cl->t->started);
    return true;
}

static uint64_t blast_outstanding(const struct load_client *cl)
{
    (void)cl;
    return 0;
}

static bool udp_matches(const struct rs_load_opts *o)
{
    return o->proto == RS_LOAD_UDP && !o->send_only;
}

static bool udp_send_matches(const struct rs_load_opts *o)
{
    return o->proto == RS_LOAD_UDP && o->send_only;
}

static const struct load_client_ops echo_client = {
    .open = echo_open,
    .fini = echo_fini,
    .check = echo_check,
    .room = echo_room,
    .send = echo_send,
    .outstanding = echo_outstanding,
};

static const struct load_client_ops blast_client = {
    .open = blast_open,
    .fini = blast_fini,
    .check = blast_check,
    .room = blast_room,
    .send = blast_send,
    .outstanding = blast_outstanding,
};

/* One batch of up to 64 datagrams (GSO included) is built in the thread's scratch. */
const struct load_proto load_udp_proto = {
    .name = "udp",
    .matches = udp_matches,
    .scratch_msgs = 64,
    .run = &load_client_run,
    .report = &load_report_ops,
    .client = &echo_client,
    .client_size = sizeof(struct udp_client),
};

const struct load_proto load_udp_send_proto = {
    .name = "udp",
    .matches = udp_send_matches,
    .scratch_msgs = 64,
    .run = &load_client_run,
    .report = &load_report_ops,
    .client = &blast_client,
    .client_size = sizeof(struct udp_client),
};
