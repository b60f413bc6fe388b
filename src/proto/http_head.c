#include "ringsock/proto/http_parse.h"

#include "http_chars.h"

#include <limits.h>
#include <string.h>

/* True if a[0..n) equals lowercase literal b[0..n), ignoring ASCII case in a. */
static bool ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != (unsigned char)b[i])
            return false;
    return true;
}

/* Eight bytes at a time for the long runs (targets, values); the byte loops decide. */
#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t load8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

/* Nonzero if some byte of x is below n (n <= 128); exact as a yes/no answer. */
static inline uint64_t has_less(uint64_t x, uint64_t n)
{
    return (x - ONES * n) & ~x & HIGHS;
}

/* Returns the first byte at or after p that cannot be part of a request target, or end. */
static const char *scan_target(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t x = load8(p);
        if (has_less(x, 0x21) | has_less(x ^ (ONES * 0x7f), 1) | (x & HIGHS))
            break;
        p += 8;
    }
    while (p < end && is_class(*p, C_TARGET))
        p++;
    return p;
}

/* Returns the first byte at or after p that cannot be part of a field value, or end. */
static const char *scan_value(const char *p, const char *end)
{
    for (;;) {
        while (end - p >= 8) {
            uint64_t x = load8(p);
            if (has_less(x, 0x20) | has_less(x ^ (ONES * 0x7f), 1))
                break;
            p += 8;
        }
        if (p == end || !is_class(*p, C_VALUE))
            return p;
        p++;
    }
}

/* Consumes the line ending at *pp, which points at CR or LF. Returns 1, 0 if the bytes end
 * before it does, or RS_HTTP_BAD for a CR not followed by LF. */
static int eat_eol(const char **pp, const char *end)
{
    const char *p = *pp;
    if (*p == '\r') {
        if (++p == end)
            return 0;
        if (*p != '\n')
            return RS_HTTP_BAD;
    }
    *pp = p + 1;
    return 1;
}

/* Parses "HTTP/" DIGIT "." DIGIT at *pp. Returns 1 with the digits, 0 if the bytes end first,
 * or RS_HTTP_BAD. */
static int parse_version(const char **pp, const char *end, int *major, int *minor)
{
    static const char pat[] = "HTTP/0.0";
    const char *p = *pp;
    for (size_t i = 0; i < sizeof(pat) - 1; i++, p++) {
        if (p == end)
            return 0;
        bool ok = pat[i] == '0' ? is_digit(*p) : *p == pat[i];
        if (!ok)
            return RS_HTTP_BAD;
    }
    *major = p[-3] - '0';
    *minor = p[-1] - '0';
    *pp = p;
    return 1;
}

/* Splits a comma-separated list: returns the next non-empty element of [*pp, end) with OWS
 * trimmed and its length in *n, advancing *pp past it; NULL when none is left. */
static const char *next_element(const char **pp, const char *end, size_t *n)
{
    const char *p = *pp;
    while (p < end && (*p == ',' || is_ows(*p)))
        p++;
    if (p == end) {
        *pp = p;
        return NULL;
    }
    const char *s = p;
    while (p < end && *p != ',')
        p++;
    const char *e = p;
    while (e > s && is_ows(e[-1]))
        e--;
    *pp = p;
    *n = (size_t)(e - s);
    return s;
}

static bool all_class(const char *s, size_t n, unsigned cls)
{
    for (size_t i = 0; i < n; i++)
        if (!is_class(s[i], cls))
            return false;
    return true;
}

/* What the framing and connection headers said, gathered while the head is parsed. */
struct fields {
    int err;                /* first semantic error, 0 if none */
    int64_t content_length; /* -1 if absent */
    unsigned hosts;
    const char *host;
    size_t host_len;
    bool te_seen;
    unsigned te_codings;
    unsigned chunked_count;
    bool last_chunked;
    bool conn_close;
    bool conn_keep_alive;
    bool expect_continue;
};

static void fail(struct fields *f, int code)
{
    if (!f->err)
        f->err = code;
}

/* Content-Length: 1*DIGIT, or a list of equal such values. */
static void on_content_length(struct fields *f, const char *v, size_t n)
{
    const char *p = v, *end = v + n;
    for (;;) {
        uint64_t x = 0;
        const char *s = p;
        for (; p < end && is_digit(*p); p++) {
            unsigned d = (unsigned)(*p - '0');
            if (x > ((uint64_t)RS_HTTP_MAX_CONTENT_LENGTH - d) / 10) {
                fail(f, RS_HTTP_BAD);
                return;
            }
            x = x * 10 + d;
        }
        if (p == s || (f->content_length >= 0 && (uint64_t)f->content_length != x)) {
            fail(f, RS_HTTP_BAD);
            return;
        }
        f->content_length = (int64_t)x;
        while (p < end && is_ows(*p))
            p++;
        if (p == end)
            return;
        if (*p++ != ',') {
            fail(f, RS_HTTP_BAD);
            return;
        }
        while (p < end && is_ows(*p))
            p++;
    }
}

static void on_transfer_encoding(struct fields *f, const char *v, size_t n)
{
    const char *p = v, *end = v + n, *e;
    size_t len;
    f->te_seen = true;
    while ((e = next_element(&p, end, &len)) != NULL) {
        if (!all_class(e, len, C_TOKEN)) {
            fail(f, RS_HTTP_BAD); /* parameters or junk */
            return;
        }
        f->te_codings++;
        f->last_chunked = len == 7 && ieq(e, "chunked", 7);
        f->chunked_count += f->last_chunked;
    }
}

static void on_connection(struct fields *f, const char *v, size_t n)
{
    const char *p = v, *end = v + n, *e;
    size_t len;
    while ((e = next_element(&p, end, &len)) != NULL) {
        if (len == 5 && ieq(e, "close", 5))
            f->conn_close = true;
        else if (len == 10 && ieq(e, "keep-alive", 10))
            f->conn_keep_alive = true;
    }
}

/* Interprets the header fields that shape framing and the connection. */
static void on_header(struct fields *f, bool request, const char *name, size_t name_len,
                      const char *v, size_t n)
{
    switch (name_len) {
    case 4:
        if (request && ieq(name, "host", 4)) {
            if (++f->hosts > 1 || !all_class(v, n, C_HOST))
                fail(f, RS_HTTP_BAD);
            f->host = v;
            f->host_len = n;
        }
        break;
    case 6:
        if (request && ieq(name, "expect", 6) && n == 12 && ieq(v, "100-continue", 12))
            f->expect_continue = true;
        break;
    case 10:
        if (ieq(name, "connection", 10))
            on_connection(f, v, n);
        break;
    case 14:
        if (ieq(name, "content-length", 14))
            on_content_length(f, v, n);
        break;
    case 17:
        if (ieq(name, "transfer-encoding", 17))
            on_transfer_encoding(f, v, n);
        break;
    default:
        break;
    }
}

/* Parses header lines from *pp through the empty line ending the head. Returns 1 with *pp past
 * the head, 0 if the bytes end first, or a negative code. */
static int parse_headers(const char **pp, const char *end, struct rs_http_header *hdrs,
                         size_t max_headers, size_t *nheaders, struct fields *f, bool request)
{
    const char *p = *pp;
    size_t n = 0;
    for (;;) {
        if (p == end)
            return 0;
        if (*p == '\r' || *p == '\n') {
            int r = eat_eol(&p, end);
            if (r <= 0)
                return r;
            break;
        }
        if (n == max_headers)
            return RS_HTTP_TOO_LARGE;
        const char *name = p;
        while (p < end && is_class(*p, C_TOKEN))
            p++;
        if (p == end)
            return 0;
        if (*p != ':' || p == name)
            return RS_HTTP_BAD; /* obs-fold, empty name, space before ':', CTL... */
        size_t name_len = (size_t)(p - name);
        p++;
        while (p < end && is_ows(*p))
            p++;
        const char *value = p;
        p = scan_value(p, end);
        if (p == end)
            return 0;
        if (*p != '\r' && *p != '\n')
            return RS_HTTP_BAD;
        const char *ve = p;
        while (ve > value && is_ows(ve[-1]))
            ve--;
        int r = eat_eol(&p, end);
        if (r <= 0)
            return r;
        hdrs[n] = (struct rs_http_header){name, name_len, value, (size_t)(ve - value)};
        n++;
        on_header(f, request, name, name_len, value, (size_t)(ve - value));
    }
    *pp = p;
    *nheaders = n;
    return 1;
}

/* CONNECT's authority-form: host ":" port, nothing else. */
static bool authority_form_ok(const char *t, size_t n)
{
    size_t colon = n;
    while (colon > 0 && t[colon - 1] != ':')
        colon--;
    if (colon < 2 || colon == n || n - colon > 5)
        return false; /* no ':', empty host, empty or long port */
    for (size_t i = colon; i < n; i++)
        if (!is_digit(t[i]))
            return false;
    return all_class(t, colon - 1, C_HOST);
}

/* absolute-form with an http or https scheme and a non-empty authority without userinfo. */
static bool absolute_form_ok(const char *t, size_t n)
{
    size_t i;
    if (n > 7 && ieq(t, "http://", 7))
        i = 7;
    else if (n > 8 && ieq(t, "https://", 8))
        i = 8;
    else
        return false;
    size_t start = i;
    for (; i < n && t[i] != '/' && t[i] != '?' && t[i] != '#'; i++)
        if (t[i] == '@')
            return false;
    return i > start;
}

static bool target_ok(const char *m, size_t mlen, const char *t, size_t tlen)
{
    if (mlen == 7 && memcmp(m, "CONNECT", 7) == 0)
        return authority_form_ok(t, tlen);
    if (t[0] == '/')
        return true;
    if (tlen == 1 && t[0] == '*')
        return mlen == 7 && memcmp(m, "OPTIONS", 7) == 0;
    return absolute_form_ok(t, tlen);
}

/* True if buf[0..len) has a line end followed by an empty line that ends at or after last_len:
 * until then a head that was incomplete at last_len bytes is still incomplete. */
static bool may_hold_head_end(const char *buf, size_t len, size_t last_len)
{
    size_t i = last_len > 2 ? last_len - 2 : 0;
    while (i < len) {
        const char *lf = memchr(buf + i, '\n', len - i);
        if (!lf)
            return false;
        i = (size_t)(lf - buf) + 1;
        if (i < len && (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')))
            return true;
    }
    return false;
}

void rs_http_limits_default(struct rs_http_limits *lim)
{
    *lim = (struct rs_http_limits)RS_HTTP_LIMITS_DEFAULT;
}

/* Scanning stops at max_head bytes; running out there means the head is too large. */
static size_t head_cap(const struct rs_http_limits *lim)
{
    return lim->max_head < INT_MAX ? lim->max_head : INT_MAX;
}

int rs_http_parse_request(const char *buf, size_t len, size_t last_len,
                          const struct rs_http_limits *lim, struct rs_http_request *req,
                          struct rs_http_header *hdrs)
{
    static const struct rs_http_limits defaults = RS_HTTP_LIMITS_DEFAULT;
    if (!lim)
        lim = &defaults;
    size_t cap = head_cap(lim);
    bool capped = len >= cap;
    if (last_len && last_len <= len && !capped && !may_hold_head_end(buf, len, last_len))
        return RS_HTTP_INCOMPLETE;
    const char *p = buf, *end = buf + (capped ? cap : len);
    int r;

    while (p < end && (*p == '\r' || *p == '\n')) /* empty lines before the request line */
        if ((r = eat_eol(&p, end)) <= 0)
            goto out_stop;

    const char *method = p;
    while (p < end && is_class(*p, C_TOKEN))
        p++;
    if (p == end)
        goto out_starved;
    if (*p != ' ' || p == method)
        return RS_HTTP_BAD;
    size_t method_len = (size_t)(p - method);

    const char *target = ++p;
    p = scan_target(p, end);
    size_t target_len = (size_t)(p - target);
    if (target_len > lim->max_target)
        return RS_HTTP_URI_TOO_LONG;
    if (p == end)
        goto out_starved;
    if (*p != ' ' || target_len == 0 || !target_ok(method, method_len, target, target_len))
        return RS_HTTP_BAD;
    p++;

    int major, minor;
    if ((r = parse_version(&p, end, &major, &minor)) <= 0)
        goto out_stop;
    if (p == end)
        goto out_starved;
    if (*p != '\r' && *p != '\n')
        return RS_HTTP_BAD;
    if ((r = eat_eol(&p, end)) <= 0)
        goto out_stop;
    if (major != 1 || minor > 1)
        return RS_HTTP_VERSION;

    struct fields f = {.content_length = -1};
    size_t nheaders = 0;
    if ((r = parse_headers(&p, end, hdrs, lim->max_headers, &nheaders, &f, true)) <= 0)
        goto out_stop;

    if (f.err)
        return f.err;
    if (minor == 1 && f.hosts == 0)
        return RS_HTTP_BAD;
    if (f.te_seen) {
        if (minor == 0 || f.content_length >= 0 || f.te_codings == 0 || f.chunked_count > 1)
            return RS_HTTP_BAD;
        if (!f.last_chunked)
            return f.chunked_count ? RS_HTTP_BAD : RS_HTTP_NOT_IMPLEMENTED;
    }

    *req = (struct rs_http_request){
        .method = method,
        .method_len = method_len,
        .target = target,
        .target_len = target_len,
        .minor = minor,
        .headers = hdrs,
        .nheaders = nheaders,
        .content_length = f.content_length,
        .chunked = f.te_seen,
        .keep_alive = minor == 1 ? !f.conn_close : f.conn_keep_alive && !f.conn_close,
        .expect_continue = minor == 1 && f.expect_continue,
        .host = f.host,
        .host_len = f.host_len,
    };
    return (int)(p - buf);

out_stop: /* r is 0 (out of bytes) or an error */
    if (r < 0)
        return r;
out_starved:
    return capped ? RS_HTTP_TOO_LARGE : RS_HTTP_INCOMPLETE;
}

int rs_http_parse_response(const char *buf, size_t len, size_t last_len,
                           const struct rs_http_limits *lim, struct rs_http_response *resp,
                           struct rs_http_header *hdrs)
{
    static const struct rs_http_limits defaults = RS_HTTP_LIMITS_DEFAULT;
    if (!lim)
        lim = &defaults;
    size_t cap = head_cap(lim);
    bool capped = len >= cap;
    if (last_len && last_len <= len && !capped && !may_hold_head_end(buf, len, last_len))
        return RS_HTTP_INCOMPLETE;
    const char *p = buf, *end = buf + (capped ? cap : len);
    int r, major, minor;

    if ((r = parse_version(&p, end, &major, &minor)) <= 0)
        goto out_stop;
    if (p == end)
        goto out_starved;
    if (*p != ' ')
        return RS_HTTP_BAD;
    if (major != 1 || minor > 1)
        return RS_HTTP_VERSION;
    p++;

    int status = 0;
    for (int i = 0; i < 3; i++, p++) {
        if (p == end)
            goto out_starved;
        if (!is_digit(*p))
            return RS_HTTP_BAD;
        status = status * 10 + (*p - '0');
    }
    if (p == end)
        goto out_starved;
    if (status < 100 || status > 599)
        return RS_HTTP_BAD;
    const char *reason = p;
    if (*p == ' ') {
        reason = ++p;
        p = scan_value(p, end);
        if (p == end)
            goto out_starved;
    }
    if (*p != '\r' && *p != '\n')
        return RS_HTTP_BAD;
    size_t reason_len = (size_t)(p - reason);
    if ((r = eat_eol(&p, end)) <= 0)
        goto out_stop;

    struct fields f = {.content_length = -1};
    size_t nheaders = 0;
    if ((r = parse_headers(&p, end, hdrs, lim->max_headers, &nheaders, &f, false)) <= 0)
        goto out_stop;

    if (f.err)
        return f.err;
    bool keep_alive = minor == 1 ? !f.conn_close : f.conn_keep_alive && !f.conn_close;
    bool chunked = false;
    if (f.te_seen) {
        if (minor == 0 || f.te_codings == 0 || f.chunked_count > 1)
            return RS_HTTP_BAD;
        chunked = f.last_chunked;
        if (!chunked || f.content_length >= 0)
            keep_alive = false; /* read until close, or suspicious framing */
        f.content_length = -1;
    }

    *resp = (struct rs_http_response){
        .minor = minor,
        .status = status,
        .reason = reason,
        .reason_len = reason_len,
        .headers = hdrs,
        .nheaders = nheaders,
        .content_length = f.content_length,
        .chunked = chunked,
        .keep_alive = keep_alive,
    };
    return (int)(p - buf);

out_stop:
    if (r < 0)
        return r;
out_starved:
    return capped ? RS_HTTP_TOO_LARGE : RS_HTTP_INCOMPLETE;
}

const struct rs_http_header *rs_http_header_find(const struct rs_http_header *hdrs, size_t n,
                                                 const char *name, size_t name_len)
{
    for (size_t i = 0; i < n; i++) {
        if (hdrs[i].name_len != name_len)
            continue;
        size_t j = 0;
        while (j < name_len && lower(hdrs[i].name[j]) == lower(name[j]))
            j++;
        if (j == name_len)
            return &hdrs[i];
    }
    return NULL;
}

bool rs_http_token_list_has(const char *value, size_t value_len, const char *token,
                            size_t token_len)
{
    const char *p = value, *end = value + value_len, *e;
    size_t n;
    while ((e = next_element(&p, end, &n)) != NULL) {
        if (n != token_len)
            continue;
        size_t j = 0;
        while (j < n && lower(e[j]) == lower(token[j]))
            j++;
        if (j == n)
            return true;
    }
    return false;
}
