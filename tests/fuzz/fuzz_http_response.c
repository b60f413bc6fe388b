/* libFuzzer target for rs_http_parse_response and the chunked decoder: checks the head's
 * invariants and prefix agreement, then decodes what follows the head (or the whole input when
 * there is no head) as a chunked body at once, in two pieces, byte by byte and run by run, and
 * requires the same outcome each way. Any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringsock/proto/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 64

static void require(bool ok)
{
    if (!ok)
        abort();
}

static bool is_code(int r)
{
    return r == RS_HTTP_INCOMPLETE || r == RS_HTTP_BAD || r == RS_HTTP_TOO_LARGE ||
           r == RS_HTTP_VERSION;
}

static bool within(const char *p, size_t n, const char *lo, const char *hi)
{
    return p >= lo && p <= hi && n <= (size_t)(hi - p);
}

static bool same(const struct rs_http_response *a, const struct rs_http_response *b)
{
    if (a->minor != b->minor || a->status != b->status || a->reason != b->reason ||
        a->reason_len != b->reason_len || a->nheaders != b->nheaders ||
        a->content_length != b->content_length || a->chunked != b->chunked ||
        a->keep_alive != b->keep_alive)
        return false;
    for (size_t i = 0; i < a->nheaders; i++)
        if (memcmp(&a->headers[i], &b->headers[i], sizeof(a->headers[i])) != 0)
            return false;
    return true;
}

static int head(const char *buf, size_t size, const struct rs_http_limits *lim, size_t cut)
{
    static struct rs_http_header h1[MAX_HEADERS], h2[MAX_HEADERS];
    struct rs_http_response a, b;
    int r = rs_http_parse_response(buf, size, 0, lim, &a, h1);
    require(is_code(r) || (r > 0 && (size_t)r <= size && (size_t)r <= lim->max_head));
    if (r > 0) {
        const char *end = buf + r;
        require(a.status >= 100 && a.status <= 599 && (a.minor == 0 || a.minor == 1));
        require(within(a.reason, a.reason_len, buf, end));
        require(a.headers == h1 && a.nheaders <= lim->max_headers);
        require(a.content_length >= -1 && a.content_length <= RS_HTTP_MAX_CONTENT_LENGTH);
        require(!(a.chunked && a.content_length >= 0));
        for (size_t i = 0; i < a.nheaders; i++) {
            require(within(a.headers[i].name, a.headers[i].name_len, buf, end));
            require(within(a.headers[i].value, a.headers[i].value_len, buf, end));
            require(a.headers[i].name_len > 0);
        }
    }
    int rp = rs_http_parse_response(buf, cut, 0, lim, &b, h2);
    require(rp == RS_HTTP_INCOMPLETE || rp == r);
    if (r > 0 && cut >= (size_t)r)
        require(rp == r);
    if (rp > 0)
        require(same(&a, &b));
    if (rp == RS_HTTP_INCOMPLETE) {
        int rh = rs_http_parse_response(buf, size, cut, lim, &b, h2);
        if (r > 0)
            require(rh == r && same(&a, &b));
        else
            require(rh == r || (rh == RS_HTTP_INCOMPLETE && size < lim->max_head));
    }
    return r;
}

struct outcome {
    int64_t consumed; /* or the error */
    uint64_t data;
    bool done;
};

/* Feeds buf in pieces of at most step bytes (the first piece is first bytes long). */
static struct outcome feed(const char *buf, size_t n, size_t first, size_t step)
{
    struct rs_http_chunked c;
    rs_http_chunked_init(&c);
    struct outcome o = {0, 0, false};
    size_t off = 0;
    bool first_piece = true;
    while (off < n && !c.done) {
        size_t want = first_piece ? first : step;
        first_piece = false;
        size_t k = n - off < want ? n - off : want;
        uint64_t d = UINT64_MAX;
        int64_t r = rs_http_chunked_feed(&c, buf + off, k, &d);
        if (r < 0) {
            require(r == RS_HTTP_BAD || r == RS_HTTP_TOO_LARGE);
            o.consumed = r;
            return o;
        }
        require((size_t)r <= k && ((size_t)r == k || c.done) && d <= (uint64_t)r);
        o.data += d;
        off += (size_t)r;
    }
    if (c.done) { /* a finished decoder takes nothing more */
        uint64_t d = 1;
        require(rs_http_chunked_feed(&c, buf, n, &d) == 0 && d == 0);
    }
    o.consumed = (int64_t)off;
    o.done = c.done;
    return o;
}

static bool same_outcome(struct outcome a, struct outcome b)
{
    if (a.consumed < 0 || b.consumed < 0)
        return a.consumed == b.consumed;
    return a.consumed == b.consumed && a.data == b.data && a.done == b.done;
}

static void body(const char *buf, size_t n, size_t cut)
{
    struct outcome all = feed(buf, n, n, n);
    require(same_outcome(all, feed(buf, n, cut, n)));
    if (n <= 512)
        require(same_outcome(all, feed(buf, n, 1, 1)));
    require(same_outcome(all, feed(buf, n, cut ? cut : 1, 7)));

    /* Run by run: the runs lie inside what was consumed and add up to the data count. */
    struct rs_http_chunked c;
    rs_http_chunked_init(&c);
    size_t off = 0;
    uint64_t data = 0;
    int64_t r = 0;
    while (off < n && !c.done) {
        const char *p;
        size_t len;
        r = rs_http_chunked_next(&c, buf + off, n - off, &p, &len);
        if (r < 0)
            break;
        require(r > 0);
        if (len)
            require(p >= buf + off && within(p, len, buf + off, buf + off + r));
        data += len;
        off += (size_t)r;
    }
    if (all.consumed < 0)
        require(r == all.consumed);
    else
        require((int64_t)off == all.consumed && data == all.data && c.done == all.done);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    size_t seed = size ? (size_t)data[size - 1] * 131u + data[size / 2] : 0;
    size_t cut = size ? seed % (size + 1) : 0;

    struct rs_http_limits lim = RS_HTTP_LIMITS_DEFAULT;
    int r = head(buf, size, &lim, cut);
    lim.max_head = 8 + seed % 200;
    lim.max_headers = seed % 5;
    head(buf, size, &lim, cut);

    size_t off = r > 0 ? (size_t)r : 0;
    size_t n = size - off;
    body(buf + off, n, n ? cut % (n + 1) : 0);
    free(buf);
    return 0;
}
