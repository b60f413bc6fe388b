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
