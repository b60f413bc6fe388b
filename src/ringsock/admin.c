/* The admin endpoint: a poll loop on its own thread over one listening socket, an eventfd that
 * stops it and at most RS_ADMIN_MAX_CONNS connections, each reading one request head, sending
 * one answer and closing. Low traffic by design; what matters is that no client can make it
 * hold more than a few buffers or keep a connection past its deadline, and that it never
 * touches a worker: /metrics reads the workers' counters with relaxed loads. */

#include "admin.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "ringsock/util/prom.h"
#include "ringsock/proto/http_parse.h"
#include "ringsock/net/net.h"

#define ADMIN_LINGER_MS       1000 /* after the answer, input is read and dropped this long at most */
#define ADMIN_MAX_HEADERS     32
#define ADMIN_BACKLOG         16
#define ADMIN_ACCEPT_PAUSE_MS 100

enum admin_state {
    ADMIN_STARTING,
    ADMIN_READY,
    ADMIN_DRAINING,
};

enum conn_state {
    CONN_FREE,
    CONN_READING,
    CONN_WRITING,
    CONN_LINGERING, /* answer sent, write side shut: reading until EOF so no RST eats it */
};

struct admin_conn {
    int fd;
    enum conn_state state;
    uint64_t deadline_ns;
    size_t in_len, last_len;
    char in[RS_ADMIN_MAX_REQUEST];
    char head[256];
    size_t head_len;
    char *body; /* malloc'd (a memory stream) or NULL; body_static otherwise */
    const char *body_static;
    size_t body_len;
    size_t sent; /* of head, then body */
};

struct rs_admin {
    struct rs_admin_config cfg;
    struct rs_addr bound;
    int lfd, wake_fd;
    pthread_t tid;
    _Atomic int state; /* enum admin_state */
    _Atomic bool stop;
    uint64_t accept_pause_until; /* after accept failed (EMFILE...): not polled until then */
    char version[128];
    struct admin_conn conns[RS_ADMIN_MAX_CONNS];
};

static void conn_close(struct admin_conn *c)
{
    close(c->fd);
    c->fd = -1;
    free(c->body); /* open_memstream's buffer: libc's (or jemalloc's) malloc */
    c->body = NULL;
    c->state = CONN_FREE;
}

/* Sets c's answer: status, content type, a body (static text, or a malloc'd buffer c takes). */
static void answer(struct admin_conn *c, int status, const char *type, const char *body_static,
                   char *body, size_t body_len)
{
    c->body_static = body_static;
    c->body = body;
    c->body_len = body_static ? strlen(body_static) : body_len;
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     status, rs_http_reason(status), type, c->body_len,
                     status == 405 ? "Allow: GET\r\n" : "");
    c->head_len = n > 0 && (size_t)n < sizeof(c->head) ? (size_t)n : 0;
    c->sent = 0;
    c->state = CONN_WRITING;
}

static void answer_text(struct admin_conn *c, int status, const char *text)
{
    answer(c, status, "text/plain; charset=utf-8", text, NULL, 0);
}

static void answer_metrics(struct rs_admin *a, struct admin_conn *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        answer_text(c, 500, "out of memory\n");
        return;
    }
    struct rs_prom_opts po = {
        .prefix = "ringsock_",
        .block_service = a->cfg.block_service,
        .active_only = true,
    };
    int err = rs_prom_write_counters(f, a->cfg.counters, &po);
    if (err == 0 && a->cfg.nitem_sets)
        err = rs_prom_write_labelled(f, a->cfg.item_sets, a->cfg.nitem_sets, &po);
    if (err == 0)
        err = rs_prom_write_info(f, "ringsock_build_info",
                                 "the version of ringsock running, as its label (always 1)",
                                 "version", RS_VERSION);
    if (fclose(f) != 0 && err == 0)
        err = -EIO;
    if (err < 0) {
        free(buf);
        answer_text(c, 500, "cannot write the metrics\n");
        return;
    }
    answer(c, 200, RS_PROM_CONTENT_TYPE, NULL, buf, len);
}

static bool path_is(const struct rs_http_request *req, const char *path)
{
    const char *q = memchr(req->target, '?', req->target_len);
    size_t n = q ? (size_t)(q - req->target) : req->target_len;
    return strlen(path) == n && memcmp(req->target, path, n) == 0;
}

static void route(struct rs_admin *a, struct admin_conn *c, const struct rs_http_request *req)
{
    if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0) {
        answer_text(c, 405, "only GET\n");
        return;
    }
    if (path_is(req, "/metrics")) {
        answer_metrics(a, c);
    } else if (path_is(req, "/healthz")) {
        answer_text(c, 200, "ok\n");
    } else if (path_is(req, "/readyz")) {
        int st = atomic_load_explicit(&a->state, memory_order_relaxed);
        answer_text(c, st == ADMIN_READY ? 200 : 503,
                    st == ADMIN_READY      ? "ready\n"
                    : st == ADMIN_STARTING ? "starting\n"
                                           : "draining\n");
    } else if (path_is(req, "/version")) {
        answer_text(c, 200, a->version);
    } else {
        answer_text(c, 404, "not found: try /metrics, /healthz, /readyz or /version\n");
    }
}

/* Parses what c has read so far; answers once the head is complete or wrong. */
static void conn_parse(struct rs_admin *a, struct admin_conn *c)
{
    struct rs_http_limits lim = {
        .max_head = sizeof(c->in),
        .max_target = 1024,
        .max_headers = ADMIN_MAX_HEADERS,
    };
    struct rs_http_header hdrs[ADMIN_MAX_HEADERS];
    struct rs_http_request req;
    int r = rs_http_parse_request(c->in, c->in_len, c->last_len, &lim, &req, hdrs);
    if (r == RS_HTTP_INCOMPLETE) {
        c->last_len = c->in_len;
        if (c->in_len == sizeof(c->in)) /* the parser says so itself; never wait on a full buffer */
            answer_text(c, 431, "request head too large\n");
        return;
    }
    if (r > 0) {
        route(a, c, &req);
        return;
    }
    int status = -r;
    answer_text(c, status,
                status == 431   ? "request head too large\n"
                : status == 414 ? "request target too long\n"
                                : "bad request\n");
}

static void conn_read(struct rs_admin *a, struct admin_conn *c)
{
    for (;;) {
        if (c->state == CONN_LINGERING) {
            char drop[4096];
            ssize_t n = read(c->fd, drop, sizeof(drop));
            if (n > 0)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            conn_close(c); /* EOF or an error: done */
            return;
        }
        ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* EOF before a whole head, or an error: nobody to answer */
            conn_close(c);
            return;
        }
        c->in_len += (size_t)n;
        conn_parse(a, c);
        if (c->state != CONN_READING)
            return;
    }
}

static void conn_write(struct admin_conn *c, uint64_t now)
{
    while (c->sent < c->head_len + c->body_len) {
        struct iovec iov[2];
        int niov = 0;
        const char *body = c->body ? c->body : c->body_static;
        if (c->sent < c->head_len)
            iov[niov++] = (struct iovec){c->head + c->sent, c->head_len - c->sent};
        size_t boff = c->sent > c->head_len ? c->sent - c->head_len : 0;
        if (c->body_len > boff)
            iov[niov++] = (struct iovec){(char *)body + boff, c->body_len - boff};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)niov};
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            conn_close(c);
            return;
        }
        c->sent += (size_t)n;
    }
    free(c->body);
    c->body = NULL;
    /* The answer is whole: FIN, then read what the client still sends until it closes, so
     * closing with unread input does not reset the connection before the answer is read. */
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGERING;
    uint64_t linger = now + ADMIN_LINGER_MS * 1000000ull;
    if (linger < c->deadline_ns)
        c->deadline_ns = linger;
}

static void accept_some(struct rs_admin *a, uint64_t now)
{
    for (unsigned i = 0; i < RS_ADMIN_MAX_CONNS; i++) {
        struct admin_conn *c = &a->conns[i];
        if (c->state != CONN_FREE)
            continue;
        int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* Out of descriptors or memory, the listening socket stays readable: polling it
             * again at once would spin, so it rests a while. */
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                a->accept_pause_until = now + ADMIN_ACCEPT_PAUSE_MS * 1000000ull;
            return;
        }
        c->fd = fd;
        c->state = CONN_READING;
        c->deadline_ns = now + RS_ADMIN_TIMEOUT_MS * 1000000ull;
        c->in_len = c->last_len = 0;
        c->body = NULL;
        c->sent = 0;
    }
}

static unsigned nconns(const struct rs_admin *a)
{
    unsigned n = 0;
    for (unsigned i = 0; i < RS_ADMIN_MAX_CONNS; i++)
        n += a->conns[i].state != CONN_FREE;
    return n;
}

static void *admin_main(void *p)
{
    struct rs_admin *a = p;
    struct pollfd pfd[2 + RS_ADMIN_MAX_CONNS];
    pthread_setname_np(pthread_self(), "ringsock-admin");

    while (!atomic_load_explicit(&a->stop, memory_order_acquire)) {
        uint64_t now = rs_now_ns();
        int timeout = -1;
        pfd[0] = (struct pollfd){.fd = a->wake_fd, .events = POLLIN};
        /* Full (or resting after a failed accept): the listening socket is left alone and new
         * clients wait in its backlog. */
        bool paused = a->accept_pause_until > now;
        pfd[1] = (struct pollfd){.fd = nconns(a) < RS_ADMIN_MAX_CONNS && !paused ? a->lfd : -1,
                                 .events = POLLIN};
        if (paused)
            timeout = (int)((a->accept_pause_until - now + 999999) / 1000000);
        for (unsigned i = 0; i < RS_ADMIN_MAX_CONNS; i++) {
            struct admin_conn *c = &a->conns[i];
            pfd[2 + i] = (struct pollfd){.fd = -1};
            if (c->state == CONN_FREE)
                continue;
            pfd[2 + i].fd = c->fd;
            pfd[2 + i].events = c->state == CONN_WRITING ? POLLOUT : POLLIN;
            uint64_t left_ms = c->deadline_ns > now ? (c->deadline_ns - now + 999999) / 1000000 : 0;
            if (timeout < 0 || left_ms < (uint64_t)timeout)
                timeout = (int)left_ms;
        }
        int n = poll(pfd, 2 + RS_ADMIN_MAX_CONNS, timeout);
        if (n < 0 && errno != EINTR) {
            rs_log_warn("admin: poll: %s; the admin endpoint stops", strerror(errno));
            break;
        }
        now = rs_now_ns();
        for (unsigned i = 0; n > 0 && i < RS_ADMIN_MAX_CONNS; i++) {
            struct admin_conn *c = &a->conns[i];
            short re = pfd[2 + i].revents;
            if (c->state == CONN_FREE || pfd[2 + i].fd != c->fd || !re)
                continue;
            if (c->state != CONN_WRITING)
                conn_read(a, c);
            if (c->state == CONN_WRITING) /* answered now or before: send what fits */
                conn_write(c, now);
        }
        for (unsigned i = 0; i < RS_ADMIN_MAX_CONNS; i++)
            if (a->conns[i].state != CONN_FREE && a->conns[i].deadline_ns <= now)
                conn_close(&a->conns[i]); /* too slow to send or to read: given up */
        if (n > 0 && (pfd[1].revents & POLLIN))
            accept_some(a, now);
    }
    return NULL;
}

/* A non-blocking listening socket on addr, without SO_REUSEPORT. Returns the fd or -errno. */
static int admin_listen(const struct rs_addr *addr)
{
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    int err = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
        listen(fd, ADMIN_BACKLOG) < 0)
        err = -errno;
    if (err < 0) {
        close(fd);
        return err;
    }
    return fd;
}

struct rs_admin *rs_admin_start(const struct rs_admin_config *cfg, int *err)
{
    struct rs_admin *a = rs_calloc(1, sizeof(*a));
    if (!a) {
        *err = -ENOMEM;
        return NULL;
    }
    a->cfg = *cfg;
    for (unsigned i = 0; i < RS_ADMIN_MAX_CONNS; i++)
        a->conns[i].fd = -1;
    atomic_init(&a->state, ADMIN_STARTING);
    atomic_init(&a->stop, false);
    snprintf(a->version, sizeof(a->version), "ringsock %s (allocator %s)\n", RS_VERSION,
             rs_alloc_name());
    a->lfd = admin_listen(&cfg->addr);
    if (a->lfd < 0) {
        *err = a->lfd;
        goto out_free;
    }
    *err = rs_net_local_addr(a->lfd, &a->bound);
    if (*err < 0)
        goto out_close_lfd;
    a->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (a->wake_fd < 0) {
        *err = -errno;
        goto out_close_lfd;
    }
    int e = pthread_create(&a->tid, NULL, admin_main, a);
    if (e) {
        *err = -e;
        goto out_close_wake;
    }
    return a;

out_close_wake:
    close(a->wake_fd);
out_close_lfd:
    close(a->lfd);
out_free:
    rs_free(a);
    return NULL;
}

const struct rs_addr *rs_admin_addr(const struct rs_admin *a)
{
    return &a->bound;
}

void rs_admin_set_ready(struct rs_admin *a)
{
    atomic_store_explicit(&a->state, ADMIN_READY, memory_order_relaxed);
}

void rs_admin_set_draining(struct rs_admin *a)
{
    atomic_store_explicit(&a->state, ADMIN_DRAINING, memory_order_relaxed);
}

void rs_admin_stop(struct rs_admin *a)
{
    if (!a)
        return;
    atomic_store_explicit(&a->stop, true, memory_order_release);
    uint64_t one = 1;
    while (write(a->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    pthread_join(a->tid, NULL);
    for (unsigned i = 0; i < RS_ADMIN_MAX_CONNS; i++)
        if (a->conns[i].state != CONN_FREE)
            conn_close(&a->conns[i]);
    close(a->wake_fd);
    close(a->lfd);
    rs_free(a);
}
