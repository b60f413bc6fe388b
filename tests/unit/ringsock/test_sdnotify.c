/* The notify protocol (sdnotify.c) against a receiver made here, on a path and on an abstract
 * name, and the pid file (pidfile.c). */

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../check.h"
#include "pidfile.h"
#include "sdnotify.h"

/* A datagram receiver bound to name ("/path" or "@abstract"); -1 on failure. */
static int receiver(const char *name)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(a.sun_path, name, len);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    if (name[0] == '@') {
        a.sun_path[0] = '\0';
        alen--;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, alen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Checks that the next datagram on fd is exactly want. */
static void expect_msg(int fd, const char *want)
{
    char buf[4200];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    CHECK(n >= 0);
    if (n < 0)
        return;
    buf[n] = '\0';
    if (strcmp(buf, want) != 0) {
        fprintf(stderr, "got '%s', want '%s'\n", buf, want);
        CHECK(!"message differs");
    }
}

static void expect_none(int fd)
{
    char buf[64];
    CHECK(recv(fd, buf, sizeof(buf), 0) < 0 && errno == EAGAIN);
}

static void test_messages(const char *name)
{
    int rx = receiver(name);
    CHECK(rx >= 0);
    if (rx < 0)
        return;
    struct rs_sd sd;
    CHECK_EQ(rs_sd_open(&sd, name), 0);
    CHECK(rs_sd_enabled(&sd));
    CHECK_EQ(rs_sd_ready(&sd, "listening on tcp://127.0.0.1:7000"), 0);
    expect_msg(rx, "READY=1\nSTATUS=listening on tcp://127.0.0.1:7000");
    CHECK_EQ(rs_sd_ready(&sd, NULL), 0);
    expect_msg(rx, "READY=1");
    CHECK_EQ(rs_sd_stopping(&sd, "draining"), 0);
    expect_msg(rx, "STOPPING=1\nSTATUS=draining");
    CHECK_EQ(rs_sd_reloading(&sd, 123456789012ull), 0);
    expect_msg(rx, "RELOADING=1\nMONOTONIC_USEC=123456789012");
    CHECK_EQ(rs_sd_mainpid(&sd, 4242), 0);
    expect_msg(rx, "MAINPID=4242");
    CHECK_EQ(rs_sd_mainpid(&sd, 0), -EINVAL);
    CHECK_EQ(rs_sd_watchdog(&sd), 0);
    expect_msg(rx, "WATCHDOG=1");
    CHECK_EQ(rs_sd_status(&sd, "2 workers"), 0);
    expect_msg(rx, "STATUS=2 workers");
    /* A newline would smuggle in another assignment (READY=1 here): refused, nothing sent. */
    CHECK_EQ(rs_sd_status(&sd, "x\nREADY=1"), -EINVAL);
    CHECK_EQ(rs_sd_ready(&sd, "x\nREADY=1"), -EINVAL);
    expect_none(rx);
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ(rs_sd_status(&sd, big), -ENOBUFS);
    expect_none(rx);
    rs_sd_close(&sd);
    CHECK(!rs_sd_enabled(&sd));
    close(rx);
}

static void test_open(void)
{
    struct rs_sd sd;
    /* Not under systemd: everything is a no-op that succeeds. */
    CHECK_EQ(rs_sd_open(&sd, NULL), 0);
    CHECK(!rs_sd_enabled(&sd));
    CHECK_EQ(rs_sd_ready(&sd, "x"), 0);
    CHECK_EQ(rs_sd_watchdog(&sd), 0);
    CHECK_EQ(rs_sd_open(&sd, ""), 0);
    CHECK(!rs_sd_enabled(&sd));
    CHECK_EQ(rs_sd_open(&sd, "relative/path"), -EINVAL);
    CHECK(!rs_sd_enabled(&sd));
    CHECK_EQ(rs_sd_open(&sd, "@"), -EINVAL);
    CHECK_EQ(rs_sd_open(&sd, "vsock:2:1234"), -EAFNOSUPPORT);
    char longp[200];
    memset(longp, 'x', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    CHECK_EQ(rs_sd_open(&sd, longp), -EINVAL);
    /* Nobody listening: the error is returned, not fatal. */
    CHECK_EQ(rs_sd_open(&sd, "/nonexistent-dir/notify"), 0);
    CHECK_EQ(rs_sd_watchdog(&sd), -ENOENT);
    rs_sd_close(&sd);
}

static void test_watchdog_usec(void)
{
    CHECK_EQ(rs_sd_watchdog_usec(NULL, NULL, 10), 0);
    CHECK_EQ(rs_sd_watchdog_usec("3000000", NULL, 10), 3000000);
    CHECK_EQ(rs_sd_watchdog_usec("3000000", "", 10), 3000000);
    CHECK_EQ(rs_sd_watchdog_usec("3000000", "10", 10), 3000000);
    CHECK_EQ(rs_sd_watchdog_usec("3000000", "11", 10), 0); /* meant for another process */
    CHECK_EQ(rs_sd_watchdog_usec("3000000", "x", 10), 0);
    CHECK_EQ(rs_sd_watchdog_usec("0", NULL, 10), 0);
    CHECK_EQ(rs_sd_watchdog_usec("-5", NULL, 10), 0);
    CHECK_EQ(rs_sd_watchdog_usec("12s", NULL, 10), 0);
    CHECK(rs_sd_monotonic_usec() > 0);
}

static void test_pidfile(const char *dir)
{
    char path[256], buf[64];
    snprintf(path, sizeof(path), "%s/ringsock.pid", dir);
    CHECK_EQ(rs_pidfile_write(path, 4242), 0);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    CHECK_EQ(n, 5);
    CHECK(n == 5 && memcmp(buf, "4242\n", 5) == 0);
    /* Overwritten whole by a successor; the predecessor then leaves it alone. */
    CHECK_EQ(rs_pidfile_write(path, 4343), 0);
    CHECK_EQ(rs_pidfile_remove(path, 4242), -ESRCH);
    CHECK_EQ(access(path, F_OK), 0);
    CHECK_EQ(rs_pidfile_remove(path, 4343), 0);
    CHECK(access(path, F_OK) < 0 && errno == ENOENT);
    CHECK_EQ(rs_pidfile_remove(path, 4343), -ENOENT);
    /* A directory that does not exist: an error, and no temporary file left behind. */
    snprintf(path, sizeof(path), "%s/missing/ringsock.pid", dir);
    CHECK_EQ(rs_pidfile_write(path, 1), -ENOENT);
    /* Nothing but what the test made is left in dir. */
    snprintf(path, sizeof(path), "%s/ringsock.pid.4242.tmp", dir);
    CHECK(access(path, F_OK) < 0);
}

int main(void)
{
    char dir[] = "/tmp/rs-sdnotify-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[128], abstract[64];
    snprintf(path, sizeof(path), "%s/notify", dir);
    snprintf(abstract, sizeof(abstract), "@rs-sdnotify-test-%ld", (long)getpid());
    test_messages(path);
    test_messages(abstract);
    test_open();
    test_watchdog_usec();
    test_pidfile(dir);
    unlink(path);
    if (rmdir(dir) < 0) {
        perror("rmdir (something was left in the test directory)");
        check_failures++;
    }
    return check_done("test_sdnotify");
}
