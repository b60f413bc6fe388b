/* Reload and binary upgrade: the handover of listening sockets to a new process (reload.h).
 *
 * Old process                               New process (fork + exec of argv[0], same argv)
 *   SIGHUP: RELOADING=1, fork, exec  ---->   adopts the sockets that match (same protocol,
 *     sockets at fd 3.., readiness pipe        address, worker), opens what is missing, closes
 *     last; LISTEN_FDS/FDNAMES/PID             the rest, starts its workers, writes the pid
 *   keeps accepting and serving               file
 *   "ready" on the pipe  <---------------   writes "ready"
 *   MAINPID=new, READY=1; stops accepting
 *   and drains (--drain-timeout)
 *
 * A socket both hold is one socket: the old process closing its descriptor leaves it open,
 * with its accept queue, in the new one, so nothing queued is lost. Only a socket the new
 * process did not take (a smaller thread count) really closes, when the old one closes it;
 * tcp_migrate_req moves its queue to the others. If the new process exits, says it failed or
 * is not ready in time, the old one reaps it and goes on serving. */

#include "reload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"

extern char **environ;

#define MIGRATE_SYSCTL "/proc/sys/net/ipv4/tcp_migrate_req"

/* Reloads done and failed over the service's life, carried from process to process in
 * RINGSOCK_RELOADS=DONE:FAILED (the new process of a reload counts that reload as done). */
static uint64_t gen_done, gen_failed;

#define RELOAD_COUNTERS(X)                                                                         \
    X(reloads, COUNTER, RS_CTR_PROCESS,                                                            \
      "reloads done over the service's life: a new process took the listeners over")               \
    X(reload_failures, COUNTER, RS_CTR_PROCESS,                                                    \
      "reloads that failed over the service's life (the old process served on)")
RS_COUNTER_STRUCT(reload_counters, RELOAD_COUNTERS);
static const struct rs_counter_desc reload_desc[] = {RELOAD_COUNTERS(RS_COUNTER_DESC)};
RS_COUNTER_CHECK(struct reload_counters, reload_desc);
const struct rs_counter_block rs_reload_counter_block =
    RS_COUNTER_BLOCK("reload", struct reload_counters, reload_desc, NULL, 0);

static struct {
    /* how to execute this program again */
    char exe[PATH_MAX];
    char **argv;
    int argc;
    /* new process: what was handed over */
    struct rs_inherited in[RS_INHERIT_MAX];
    unsigned nin;
    int ready_fd;
    /* old process: the reload in flight */
    enum rs_reload_state state;
    pid_t child;
    int pipe_fd;
    uint64_t deadline_ns;
    unsigned timeout_ms;
    char msg[256];
    size_t msg_len;
} rl = {.ready_fd = -1, .pipe_fd = -1};

/* argv[0] as an absolute path, links not followed (a link switched to a new version is an
 * upgrade too); searched in PATH when it has no '/'. */
static int exe_resolve(const char *argv0)
{
    if (strchr(argv0, '/')) {
        if (argv0[0] == '/') {
            if (strlen(argv0) >= sizeof(rl.exe))
                return -ENAMETOOLONG;
            strcpy(rl.exe, argv0);
            return 0;
        }
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return -errno;
        int n = snprintf(rl.exe, sizeof(rl.exe), "%s/%s", cwd, argv0);
        return n < 0 || (size_t)n >= sizeof(rl.exe) ? -ENAMETOOLONG : 0;
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        int n = snprintf(rl.exe, sizeof(rl.exe), "%.*s/%s", (int)len, path, argv0);
        if (n > 0 && (size_t)n < sizeof(rl.exe) && rl.exe[0] == '/' && access(rl.exe, X_OK) == 0)
            return 0;
        path = colon ? colon + 1 : NULL;
    }
    rl.exe[0] = '\0';
    return -ENOENT;
}

int rs_reload_init(int argc, char **argv)
{
    rl.argc = argc;
    rl.argv = argv;
    int err = exe_resolve(argv[0]);
    if (err < 0)
        rs_log_warn("cannot find this program's path (%s): %s; SIGHUP will not reload", argv[0],
                    strerror(-err));
    int n = rs_inherited_parse(getenv("LISTEN_PID"), getpid(), getenv("LISTEN_FDS"),
                               getenv("LISTEN_FDNAMES"), rl.in, RS_INHERIT_MAX);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    const char *gen = getenv("RINGSOCK_RELOADS");
    unsigned long long done, failed;
    if (gen && sscanf(gen, "%llu:%llu", &done, &failed) == 2) {
        gen_done = done;
        gen_failed = failed;
    }
    unsetenv("RINGSOCK_RELOADS");
    if (n < 0) {
        rs_log_warn("LISTEN_FDS/LISTEN_PID malformed; inheriting no sockets");
        return n;
    }
    rl.nin = (unsigned)n;
    for (unsigned i = 0; i < rl.nin; i++) {
        fcntl(rl.in[i].fd, F_SETFD, FD_CLOEXEC);
        if (rl.in[i].ready)
            rl.ready_fd = rl.in[i].fd;
    }
    return err;
}

int rs_reload_take(enum rs_fd_proto proto, const struct rs_addr *want, unsigned worker)
{
    int i = rs_inherited_match(rl.in, rl.nin, proto, want, worker);
    return i < 0 ? -1 : rl.in[i].fd;
}

/* Sets net.ipv4.tcp_migrate_req=1 unless it is set. Returns 0 or -errno. */
static int migrate_req_enable(void)
{
    char v = '0';
    int fd = open(MIGRATE_SYSCTL, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fd = open(MIGRATE_SYSCTL, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read(fd, &v, 1) == 1 && v == '1') {
            close(fd);
            return 0;
        }
        int err = fd < 0 ? -errno : -EACCES;
        if (fd >= 0)
            close(fd);
        return err;
    }
    int err = 0;
    if (read(fd, &v, 1) != 1)
        err = -EIO;
    else if (v != '1' && pwrite(fd, "1\n", 2, 0) != 2)
        err = -errno;
    else if (v != '1')
        rs_log_info("reload: set net.ipv4.tcp_migrate_req=1, so that connections queued on "
                    "the listeners it drops move to the others");
    close(fd);
    return err;
}

void rs_reload_close_unclaimed(void)
{
    unsigned tcp = 0;
    for (unsigned i = 0; i < rl.nin; i++) {
        struct rs_inherited *in = &rl.in[i];
        if (in->claimed || in->ready)
            continue;
        if (in->sock && in->proto == RS_FD_TCP)
            tcp++;
        close(in->fd);
        in->claimed = true;
    }
    if (tcp) {
        int err = migrate_req_enable();
        if (err < 0)
            rs_log_warn("reload: cannot set net.ipv4.tcp_migrate_req=1 (%s): connections queued "
                        "on the %u TCP listener%s not taken over may be reset",
                        strerror(-err), tcp, tcp == 1 ? "" : "s");
    }
}

bool rs_reload_is_child(void)
{
    return rl.ready_fd >= 0;
}

static void notify(const char *msg)
{
    if (rl.ready_fd < 0)
        return;
    size_t len = strlen(msg);
    ssize_t n = write(rl.ready_fd, msg, len);
    (void)n; /* the old process gone: nothing to tell */
    close(rl.ready_fd);
    rl.ready_fd = -1;
}

void rs_reload_notify_ready(void)
{
    notify("ready\n");
}

void rs_reload_notify_failed(const char *why)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "failed: %s\n", why);
    notify(buf);
}

/* RINGSOCK_TEST_RELOAD_ARGS=FILE (tests only): the new process's arguments, one per line,
 * instead of this one's (argv[0] stays). Returns a NULL-terminated array (one allocation) or
 * NULL. */
static char **test_args(const char *file)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return NULL;
    char text[4096];
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    size_t lines = 2;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    char **v = rs_malloc(lines * sizeof(*v) + len + 1);
    if (!v)
        return NULL;
    char *s = (char *)(v + lines);
    memcpy(s, text, len + 1);
    unsigned n = 0;
    v[n++] = rl.argv[0];
    for (char *save, *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        v[n++] = line;
    v[n] = NULL;
    return v;
}

/* Writes pid in decimal into buf (12 bytes); async-signal-safe. */
static void pid_write(char *buf, pid_t pid)
{
    char tmp[12];
    int n = 0;
    unsigned long v = (unsigned long)pid;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < 11);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
}

/* The child, between fork and exec: only async-signal-safe calls. Moves fds[] to 3.. (through
 * copies above that range, so no move overwrites a descriptor still to move), closes every
 * other descriptor above 2, fills in the pids and executes. */
static void child_exec(const int *fds, unsigned n, char **argv, char **envp, char *listen_pid,
                       char *watchdog_pid)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int high[RS_INHERIT_MAX + 1];
    for (unsigned i = 0; i < n; i++) {
        high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + (int)n);
        if (high[i] < 0)
            _exit(126);
    }
    for (unsigned i = 0; i < n; i++)
        if (dup2(high[i], 3 + (int)i) < 0)
            _exit(126);
    close_range(3 + n, ~0u, 0);
    pid_t self = getpid();
    pid_write(listen_pid, self);
    if (watchdog_pid)
        pid_write(watchdog_pid, self);
    execve(rl.exe, argv, envp);
    static const char msg[] = "failed: cannot execute the program's file\n";
    ssize_t w = write(3 + (int)n - 1, msg, sizeof(msg) - 1);
    (void)w;
    _exit(127);
}

int rs_reload_start(const struct rs_reload_sock *socks, unsigned n, unsigned timeout_ms)
{
    if (rl.state == RS_RELOAD_PENDING)
        return -EBUSY;
    int err = -ENOENT;
    char **argv = rl.argv;
    char **targv = NULL;
    char **envp = NULL;
    char *names = NULL;
    int *fds = NULL;
    if (!rl.exe[0])
        goto out_free;
    err = -E2BIG;
    if (n + 1 > RS_INHERIT_MAX)
        goto out_free;
    const char *targs = getenv("RINGSOCK_TEST_RELOAD_ARGS");
    if (targs && targs[0]) {
        err = -EINVAL;
        targv = test_args(targs);
        if (!targv)
            goto out_free;
        argv = targv;
    }
    /* LISTEN_FDNAMES: the sockets' names and the pipe's, ':'-separated. */
    size_t names_len = sizeof("LISTEN_FDNAMES=") + sizeof(RS_FDNAME_READY);
    for (unsigned i = 0; i < n; i++)
        names_len += strlen(socks[i].name) + 1;
    unsigned nenv = 0;
    for (char **e = environ; *e; e++)
        nenv++;
    err = -ENOMEM;
    envp = rs_calloc(nenv + 5, sizeof(*envp));
    names = rs_malloc(names_len);
    fds = rs_calloc(n + 1, sizeof(*fds));
    char listen_pid[32] = "LISTEN_PID=", listen_fds[32], watchdog_pid[32] = "WATCHDOG_PID=";
    char reloads[64];
    bool watchdog = false;
    if (!envp || !names || !fds)
        goto out_free;
    unsigned k = 0;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "LISTEN_", 7) == 0 || strncmp(*e, "RINGSOCK_RELOADS=", 17) == 0)
            continue;
        if (strncmp(*e, "WATCHDOG_PID=", 13) == 0) {
            watchdog = true;
            envp[k++] = watchdog_pid;
            continue;
        }
        envp[k++] = *e;
    }
    char *p = names + sprintf(names, "LISTEN_FDNAMES=");
    for (unsigned i = 0; i < n; i++) {
        p += sprintf(p, "%s:", socks[i].name);
        fds[i] = socks[i].fd;
    }
    strcpy(p, RS_FDNAME_READY);
    snprintf(listen_fds, sizeof(listen_fds), "LISTEN_FDS=%u", n + 1);
    snprintf(reloads, sizeof(reloads), "RINGSOCK_RELOADS=%llu:%llu",
             (unsigned long long)gen_done + 1, (unsigned long long)gen_failed);
    envp[k++] = reloads;
    envp[k++] = listen_pid;
    envp[k++] = listen_fds;
    envp[k++] = names;
    envp[k] = NULL;

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        err = -errno;
        goto out_free;
    }
    fds[n] = pfd[1];
    pid_t pid = fork();
    if (pid < 0) {
        err = -errno;
        close(pfd[0]);
        close(pfd[1]);
        goto out_free;
    }
    if (pid == 0)
        child_exec(fds, n + 1, argv, envp, listen_pid + 11, watchdog ? watchdog_pid + 13 : NULL);
    close(pfd[1]);
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    rl.pipe_fd = pfd[0];
    rl.child = pid;
    rl.state = RS_RELOAD_PENDING;
    rl.timeout_ms = timeout_ms;
    rl.deadline_ns = rs_now_ns() + (uint64_t)timeout_ms * 1000000;
    rl.msg_len = 0;
    rl.msg[0] = '\0';
    err = 0;

out_free:
    if (err < 0)
        gen_failed++;
    rs_free(fds);
    rs_free(names);
    rs_free(envp);
    rs_free(targv);
    return err;
}

static void reload_end(void)
{
    if (rl.pipe_fd >= 0)
        close(rl.pipe_fd);
    rl.pipe_fd = -1;
    rl.state = RS_RELOAD_IDLE;
}

/* Reads what the new process wrote on the pipe. True at end of file. */
static bool pipe_read(void)
{
    for (;;) {
        if (rl.msg_len + 1 >= sizeof(rl.msg))
            return false;
        ssize_t r = read(rl.pipe_fd, rl.msg + rl.msg_len, sizeof(rl.msg) - 1 - rl.msg_len);
        if (r > 0) {
            rl.msg_len += (size_t)r;
            rl.msg[rl.msg_len] = '\0';
            continue;
        }
        return r == 0;
    }
}

enum rs_reload_state rs_reload_poll(char *why, size_t whylen, pid_t *child)
{
    if (rl.state != RS_RELOAD_PENDING)
        return rl.state;
    *child = rl.child;
    bool eof = pipe_read();
    if (strncmp(rl.msg, "ready\n", 6) == 0) {
        snprintf(why, whylen, "new process %d serves", (int)rl.child);
        reload_end();
        return RS_RELOAD_READY;
    }
    int status;
    pid_t w = waitpid(rl.child, &status, WNOHANG);
    if (w == rl.child) {
        pipe_read();
        char *nl = strchr(rl.msg, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(rl.msg, "failed: ", 8) == 0)
            snprintf(why, whylen, "%s", rl.msg + 8);
        else if (WIFEXITED(status))
            snprintf(why, whylen, "new process %d exited with status %d", (int)rl.child,
                     WEXITSTATUS(status));
        else
            snprintf(why, whylen, "new process %d killed by signal %d", (int)rl.child,
                     WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        gen_failed++;
        reload_end();
        return RS_RELOAD_FAILED;
    }
    (void)eof; /* closed but not yet exited: it is reaped on a later poll or at the deadline */
    if (rs_now_ns() >= rl.deadline_ns) {
        kill(rl.child, SIGKILL);
        while (waitpid(rl.child, &status, 0) < 0 && errno == EINTR)
            ;
        snprintf(why, whylen, "new process %d not ready within %u ms; killed", (int)rl.child,
                 rl.timeout_ms);
        gen_failed++;
        reload_end();
        return RS_RELOAD_FAILED;
    }
    return RS_RELOAD_PENDING;
}

bool rs_reload_poll_pending(void)
{
    return rl.state == RS_RELOAD_PENDING;
}

void rs_reload_abort(void)
{
    if (rl.state != RS_RELOAD_PENDING)
        return;
    int status;
    kill(rl.child, SIGKILL);
    while (waitpid(rl.child, &status, 0) < 0 && errno == EINTR)
        ;
    reload_end();
}

void rs_reload_counts_store(_Atomic uint64_t *block)
{
    struct reload_counters *c = (struct reload_counters *)block;
    atomic_store_explicit(&c->reloads, gen_done, memory_order_relaxed);
    atomic_store_explicit(&c->reload_failures, gen_failed, memory_order_relaxed);
}
