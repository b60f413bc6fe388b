/* systemd's notify protocol: one AF_UNIX datagram per notification (see sdnotify.h). */

#include "sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SD_MSG_MAX 4096

int rs_sd_open(struct rs_sd *sd, const char *notify_socket)
{
    memset(sd, 0, sizeof(*sd));
    sd->fd = -1;
    if (!notify_socket || !notify_socket[0])
        return 0;
    size_t len = strlen(notify_socket);
    if (notify_socket[0] != '/' && notify_socket[0] != '@')
        return strncmp(notify_socket, "vsock:", 6) == 0 ? -EAFNOSUPPORT : -EINVAL;
    if (len > sizeof(sd->addr.sun_path) - (notify_socket[0] == '/') || len < 2)
        return -EINVAL;
    sd->addr.sun_family = AF_UNIX;
    memcpy(sd->addr.sun_path, notify_socket, len);
    if (notify_socket[0] == '@') {
        sd->addr.sun_path[0] = '\0'; /* abstract: the name is exactly len bytes, no NUL */
        sd->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        sd->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    sd->fd = fd;
    return 0;
}

void rs_sd_close(struct rs_sd *sd)
{
    if (sd->fd >= 0)
        close(sd->fd);
    sd->fd = -1;
}

bool rs_sd_enabled(const struct rs_sd *sd)
{
    return sd->fd >= 0;
}

int rs_sd_send(struct rs_sd *sd, const char *msg)
{
    if (sd->fd < 0)
        return 0;
    size_t len = strlen(msg);
    ssize_t n =
        sendto(sd->fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&sd->addr, sd->addrlen);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EMSGSIZE;
}

int rs_sd_sendf(struct rs_sd *sd, const char *fmt, ...)
{
    char buf[SD_MSG_MAX];
    if (sd->fd < 0)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -ENOBUFS;
    return rs_sd_send(sd, buf);
}

/* STATUS= is one line: a newline in status would start another assignment. */
static int send_with_status(struct rs_sd *sd, const char *what, const char *status)
{
    if (!status)
        return rs_sd_send(sd, what);
    if (strchr(status, '\n'))
        return -EINVAL;
    return rs_sd_sendf(sd, "%s\nSTATUS=%s", what, status);
}

int rs_sd_ready(struct rs_sd *sd, const char *status)
{
    return send_with_status(sd, "READY=1", status);
}

int rs_sd_stopping(struct rs_sd *sd, const char *status)
{
    return send_with_status(sd, "STOPPING=1", status);
}

int rs_sd_reloading(struct rs_sd *sd, uint64_t monotonic_usec)
{
    return rs_sd_sendf(sd, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)monotonic_usec);
}

int rs_sd_mainpid(struct rs_sd *sd, pid_t pid)
{
    if (pid <= 0)
        return -EINVAL;
    return rs_sd_sendf(sd, "MAINPID=%ld", (long)pid);
}

int rs_sd_status(struct rs_sd *sd, const char *status)
{
    if (strchr(status, '\n'))
        return -EINVAL;
    return rs_sd_sendf(sd, "STATUS=%s", status);
}

int rs_sd_watchdog(struct rs_sd *sd)
{
    return rs_sd_send(sd, "WATCHDOG=1");
}

/* A decimal number with nothing after it, or -1. */
static long long parse_ull(const char *s)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > (unsigned long long)INT64_MAX)
        return -1;
    return (long long)v;
}

uint64_t rs_sd_watchdog_usec(const char *usec, const char *pid, pid_t self)
{
    long long u = parse_ull(usec);
    if (u <= 0)
        return 0;
    if (pid && pid[0]) {
        long long p = parse_ull(pid);
        if (p <= 0 || p != (long long)self)
            return 0;
    }
    return (uint64_t)u;
}

uint64_t rs_sd_monotonic_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
