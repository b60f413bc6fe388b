#include "ringsock/util/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int rs_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    unsigned shift = 0;
    switch (*p) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        return -EINVAL;
    }
    if (shift) {
        p++;
        if (*p == 'i')
            p++;
        if (*p == 'b' || *p == 'B')
            p++;
        if (*p != '\0')
            return -EINVAL;
        if (v > (UINT64_MAX >> shift))
            return -ERANGE;
        v <<= shift;
    }
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int rs_unescape_body(const char *s, char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    for (; *s; s++) {
        char ch = *s;
        if (ch == '\\' && s[1]) {
            s++;
            ch = *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s == 't' ? '\t' : *s;
        }
        if (n == cap)
            return -E2BIG;
        out[n++] = ch;
    }
    *len = n;
    return 0;
}

int rs_parse_duration(const char *s, uint64_t *ns)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -EINVAL;
    double mult;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1e9;
    else if (strcmp(end, "ms") == 0)
        mult = 1e6;
    else if (strcmp(end, "us") == 0)
        mult = 1e3;
    else if (strcmp(end, "ns") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mult = 60e9;
    else if (strcmp(end, "h") == 0)
        mult = 3600e9;
    else
        return -EINVAL;
    double r = v * mult;
    if (r > 86400e9)
        return -ERANGE;
    *ns = (uint64_t)llround(r);
    return 0;
}

int rs_parse_rate(const char *s, double *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    double r = strtod(s, &end);
    if (errno || end == s || !isfinite(r))
        return -EINVAL;
    if (strcmp(end, "k") == 0 || strcmp(end, "K") == 0)
        r *= 1e3;
    else if (strcmp(end, "m") == 0 || strcmp(end, "M") == 0)
        r *= 1e6;
    else if (strcmp(end, "/s") != 0 && *end != '\0')
        return -EINVAL;
    if (!(r > 0) || r > 1e9)
        return -EINVAL;
    *out = r;
    return 0;
}

/* A port number at *p (decimal, 0..65535); advances *p past it. */
static int parse_port(const char **p, uint32_t *port)
{
    uint32_t v = 0;
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (uint32_t)(*s - '0');
        if (v > 65535)
            return -ERANGE;
    }
    *p = s;
    *port = v;
    return 0;
}

int rs_parse_port_list(const char *s, uint64_t set[RS_PORT_SET_WORDS], unsigned *count)
{
    memset(set, 0, RS_PORT_SET_WORDS * sizeof(uint64_t));
    *count = 0;
    if (!s || !*s)
        return -EINVAL;
    if (strcmp(s, "none") == 0)
        return 0;
    for (const char *p = s;; p++) {
        uint32_t lo, hi;
        int err = parse_port(&p, &lo);
        if (err < 0)
            return err;
        hi = lo;
        if (*p == '-') {
            p++;
            if ((err = parse_port(&p, &hi)) < 0)
                return err;
            if (hi < lo)
                return -EINVAL;
        }
        for (uint32_t port = lo; port <= hi; port++) {
            if (!rs_port_set_has(set, (uint16_t)port))
                (*count)++;
            set[port >> 6] |= 1ull << (port & 63);
        }
        if (*p == '\0')
            return 0;
        if (*p != ',')
            return -EINVAL;
    }
}
