/* ringload's target and source addresses: the URL (tcp://, udp://, http://) and the --source
 * list or range, parsed into addresses (part of the command line, load_opts.c). */

#include "load_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringsock/util/parse.h"

int rs_parse_load_url(const char *s, struct rs_load_opts *o, char *err, size_t errlen)
{
    const char *rest;
    int default_port = 0;
    if (strncmp(s, "tcp://", 6) == 0) {
        o->proto = RS_LOAD_TCP;
        rest = s + 6;
    } else if (strncmp(s, "udp://", 6) == 0) {
        o->proto = RS_LOAD_UDP;
        rest = s + 6;
    } else if (strncmp(s, "http://", 7) == 0) {
        o->proto = RS_LOAD_HTTP;
        rest = s + 7;
        default_port = 80;
    } else {
        snprintf(err, errlen, "unsupported URL '%s' (want tcp://, udp:// or http://)", s);
        return -EINVAL;
    }
    const char *slash = strchr(rest, '/');
    size_t hplen = slash ? (size_t)(slash - rest) : strlen(rest);
    char hp[300];
    if (hplen == 0 || hplen >= sizeof(hp)) {
        snprintf(err, errlen, "URL '%s' has no host", s);
        return -EINVAL;
    }
    memcpy(hp, rest, hplen);
    hp[hplen] = '\0';
    if (slash && o->proto != RS_LOAD_HTTP && strcmp(slash, "/") != 0) {
        snprintf(err, errlen, "URL '%s': a path only makes sense for http://", s);
        return -EINVAL;
    }
    if (slash && strpbrk(slash, " \t\r\n")) {
        snprintf(err, errlen,
                 "URL: the path may not hold spaces or line breaks (encode them: %%20)");
        return -EINVAL;
    }
    o->path = slash ? slash : "/";

    /* Split host and port: [v6]:port, host:port, or host alone (http only). */
    char *host = hp, *port = NULL;
    if (hp[0] == '[') {
        char *close = strchr(hp, ']');
        if (!close || (close[1] != ':' && close[1] != '\0')) {
            snprintf(err, errlen, "URL '%s': malformed [IPv6] host", s);
            return -EINVAL;
        }
        *close = '\0';
        host = hp + 1;
        port = close[1] == ':' ? close + 2 : NULL;
    } else {
        char *colon = strrchr(hp, ':');
        if (colon) {
            *colon = '\0';
            port = colon + 1;
        }
    }
    uint64_t pv = 0;
    if (port) {
        if (rs_parse_size(port, 1, 65535, &pv) < 0 || strchr(port, 'k') || strchr(port, 'K') ||
            strchr(port, 'm') || strchr(port, 'M') || strchr(port, 'g') || strchr(port, 'G')) {
            snprintf(err, errlen, "URL '%s': bad port '%s'", s, port);
            return -EINVAL;
        }
    } else if (default_port) {
        pv = (uint64_t)default_port;
    } else {
        snprintf(err, errlen, "URL '%s' needs a port", s);
        return -EINVAL;
    }
    if (*host == '\0') {
        snprintf(err, errlen, "URL '%s' has no host", s);
        return -EINVAL;
    }
    snprintf(o->host, sizeof(o->host), "%s", host);

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = o->proto == RS_LOAD_UDP ? SOCK_DGRAM : SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(err, errlen, "URL '%s': cannot resolve '%s': %s", s, host, gai_strerror(gai));
        return -EINVAL;
    }
    memset(&o->target, 0, sizeof(o->target));
    memcpy(&o->target.ss, ai->ai_addr, ai->ai_addrlen);
    o->target.len = ai->ai_addrlen;
    freeaddrinfo(ai);
    rs_addr_set_port(&o->target, (int)pv);
    o->url = s;
    return 0;
}

/* One address literal, IPv4 or IPv6 (brackets optional), port 0. */
static int parse_ip(const char *s, size_t len, struct rs_addr *out)
{
    char buf[INET6_ADDRSTRLEN + 2];
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(buf) - 1)
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        out->len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        out->len = sizeof(*sin6);
    } else {
        return -EINVAL;
    }
    return 0;
}

/* The address bytes of a (network order, so memcmp orders them). */
static unsigned char *ip_bytes(struct rs_addr *a, size_t *len)
{
    if (a->ss.ss_family == AF_INET6) {
        *len = 16;
        return ((struct sockaddr_in6 *)&a->ss)->sin6_addr.s6_addr;
    }
    *len = 4;
    return (unsigned char *)&((struct sockaddr_in *)&a->ss)->sin_addr.s_addr;
}

int rs_parse_sources(const char *s, struct rs_addr *out, unsigned cap, unsigned *n, char *err,
                     size_t errlen)
{
    const char *p = s;
    if (!*s) {
        snprintf(err, errlen, "--source needs an address");
        return -EINVAL;
    }
    for (;;) {
        size_t len = strcspn(p, ",");
        const char *dash = memchr(p, '-', len);
        struct rs_addr first, last;
        size_t flen = dash ? (size_t)(dash - p) : len;
        if (parse_ip(p, flen, &first) < 0 ||
            (dash && parse_ip(dash + 1, len - flen - 1, &last) < 0)) {
            snprintf(err, errlen,
                     "invalid --source '%.*s' (want addresses like 127.0.0.2 or ::1, or a range "
                     "127.0.0.1-127.0.0.8, comma-separated)",
                     (int)len, p);
            return -EINVAL;
        }
        if (!dash)
            last = first;
        size_t blen, llen;
        unsigned char *fb = ip_bytes(&first, &blen), *lb = ip_bytes(&last, &llen);
        if (first.ss.ss_family != last.ss.ss_family || memcmp(fb, lb, blen) > 0) {
            snprintf(err, errlen, "invalid --source range '%.*s' (want FIRST-LAST, one family)",
                     (int)len, p);
            return -EINVAL;
        }
        for (;;) {
            if (*n >= cap) {
                snprintf(err, errlen, "too many --source addresses (at most %u)", cap);
                return -EINVAL;
            }
            out[(*n)++] = first;
            if (memcmp(fb, lb, blen) == 0)
                break;
            for (size_t i = blen; i-- > 0;) /* the next address, with carry */
                if (++fb[i] != 0)
                    break;
        }
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}
