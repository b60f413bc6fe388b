/* --pid-file: written atomically, removed only by the process it names. */

#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rs_pidfile_write(const char *path, pid_t pid)
{
    char tmp[PATH_MAX], buf[32];
    int n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)pid);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -ENAMETOOLONG;
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    int err = 0;
    ssize_t w = write(fd, buf, (size_t)len);
    if (w < 0)
        err = -errno;
    else if (w != len)
        err = -EIO;
    if (close(fd) < 0 && err == 0)
        err = -errno;
    if (err == 0 && rename(tmp, path) < 0)
        err = -errno;
    if (err < 0)
        unlink(tmp);
    return err;
}

int rs_pidfile_remove(const char *path, pid_t pid)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int err = n < 0 ? -errno : 0;
    close(fd);
    if (err < 0)
        return err;
    buf[n] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    if (end == buf || (*end != '\n' && *end != '\0') || v != (long)pid)
        return -ESRCH;
    if (unlink(path) < 0)
        return -errno;
    return 0;
}
