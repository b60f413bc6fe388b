#include "ringsock/net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s)
{
    if (*s == '\0' || strlen(s) > 5)
        return -EINVAL;
    int port = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        port = port * 10 + (*p - '0');
    }
    return port > 65535 ? -EINVAL : port;
}

int rs_addr_parse(const char *s, struct rs_addr *out)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port_s;
    struct rs_addr a;
    memset(&a, 0, sizeof(a));

    if (!s)
        return -EINVAL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        size_t hl = (size_t)(close - s - 1);
        if (hl == 0 || hl >= sizeof(host))
            return -EINVAL;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        port_s = close + 2;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            return -EINVAL;
        sin6->sin6_family = AF_INET6;
        a.len = sizeof(*sin6);
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return -EINVAL; /* bare IPv6 without brackets is ambiguous */
        size_t hl = (size_t)(colon - s);
        if (hl >= sizeof(host))
            return -EINVAL;
        memcpy(host, s, hl);
        host[hl] = '\0';
        port_s = colon + 1;
        struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
        if (hl == 0)
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return -EINVAL;
        sin->sin_family = AF_INET;
        a.len = sizeof(*sin);
    }
    int port = parse_port(port_s);
    if (port < 0)
        return port;
    rs_addr_set_port(&a, port);
    *out = a;
    return 0;
}

const char *rs_addr_format(const struct rs_addr *a, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(buf, size, "[%s]:%d", host, ntohs(sin6->sin6_port));
    } else if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%d", host, ntohs(sin->sin_port));
    } else {
        snprintf(buf, size, "(unknown family %d)", a->ss.ss_family);
    }
    return buf;
}

const char *rs_addr_format_ip(const struct rs_addr *a, char *buf, size_t size)
{
    const void *src = a->ss.ss_family == AF_INET6
                          ? (const void *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr
                          : (const void *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
    if (!inet_ntop(a->ss.ss_family, src, buf, (socklen_t)size))
        snprintf(buf, size, "(unknown family %d)", a->ss.ss_family);
    return buf;
}

int rs_addr_port(const struct rs_addr *a)
{
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

void rs_addr_set_port(struct rs_addr *a, int port)
{
    if (a->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
}
