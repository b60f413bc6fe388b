/* Names of handed-over sockets and their matching (fdname.h). */

#include "fdname.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rs_fdname_format(enum rs_fd_proto proto, const struct rs_addr *a, unsigned worker, char *buf,
                     size_t size)
{
    char addr[RS_ADDR_STRLEN];
    rs_addr_format(a, addr, sizeof(addr));
    for (char *p = addr; *p; p++)
        if (*p == ':')
            *p = '/';
    int n = snprintf(buf, size, "%s/%s/w%u", proto == RS_FD_TCP ? "tcp" : "udp", addr, worker);
    return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

int rs_fdname_parse(const char *name, enum rs_fd_proto *proto, struct rs_addr *a, unsigned *worker)
{
    char buf[RS_FDNAME_MAX];
    size_t len = strlen(name);
    if (len >= sizeof(buf) || len < 4)
        return -EINVAL;
    if (memcmp(name, "tcp/", 4) == 0)
        *proto = RS_FD_TCP;
    else if (memcmp(name, "udp/", 4) == 0)
        *proto = RS_FD_UDP;
    else
        return -EINVAL;
    memcpy(buf, name + 4, len - 3);
    char *w = strrchr(buf, '/');
    if (!w || w[1] != 'w' || w[2] < '0' || w[2] > '9')
        return -EINVAL;
    *w = '\0';
    char *end;
    unsigned long v = strtoul(w + 2, &end, 10);
    if (*end || v > 65535)
        return -EINVAL;
    for (char *p = buf; *p; p++)
        if (*p == '/')
            *p = ':';
    if (rs_addr_parse(buf, a) < 0)
        return -EINVAL;
    *worker = (unsigned)v;
    return 0;
}

/* Reads a decimal number that is all of s. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || !*s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int rs_inherited_parse(const char *pid, pid_t self, const char *nfds, const char *names,
                       struct rs_inherited *list, unsigned cap)
{
    unsigned long p, n;
    if (!pid || !nfds)
        return 0;
    if (parse_uint(pid, 0x7fffffff, &p) < 0 || parse_uint(nfds, RS_INHERIT_MAX, &n) < 0)
        return -EINVAL;
    if ((pid_t)p != self)
        return 0; /* meant for another process (a parent's, leaked into our environment) */
    if (n > cap)
        return -EINVAL;
    const char *name = names ? names : "";
    for (unsigned i = 0; i < n; i++) {
        const char *colon = strchr(name, ':');
        size_t len = colon ? (size_t)(colon - name) : strlen(name);
        char buf[RS_FDNAME_MAX];
        struct rs_inherited *in = &list[i];
        memset(in, 0, sizeof(*in));
        in->fd = 3 + (int)i;
        if (len < sizeof(buf)) {
            memcpy(buf, name, len);
            buf[len] = '\0';
            in->ready = strcmp(buf, RS_FDNAME_READY) == 0;
            in->sock = !in->ready && rs_fdname_parse(buf, &in->proto, &in->addr, &in->worker) == 0;
        }
        name += len;
        if (*name == ':')
            name++;
    }
    return (int)n;
}

/* Same family and IP; same port unless want's is 0. */
static bool addr_matches(const struct rs_addr *have, const struct rs_addr *want)
{
    if (have->ss.ss_family != want->ss.ss_family)
        return false;
    int wport = rs_addr_port(want);
    if (wport != 0 && wport != rs_addr_port(have))
        return false;
    if (want->ss.ss_family == AF_INET)
        return ((const struct sockaddr_in *)&have->ss)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)&want->ss)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)&have->ss)->sin6_addr,
                  &((const struct sockaddr_in6 *)&want->ss)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
}

int rs_inherited_match(struct rs_inherited *list, unsigned n, enum rs_fd_proto proto,
                       const struct rs_addr *want, unsigned worker)
{
    for (unsigned i = 0; i < n; i++) {
        struct rs_inherited *in = &list[i];
        if (in->sock && !in->claimed && in->proto == proto && in->worker == worker &&
            addr_matches(&in->addr, want)) {
            in->claimed = true;
            return (int)i;
        }
    }
    return -ENOENT;
}
