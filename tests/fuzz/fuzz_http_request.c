/* libFuzzer target for rs_http_parse_request: parses the input with the default limits and
 * with small ones derived from it, checks the result's invariants, and that a prefix (and the
 * last_len hint) agree with parsing the whole. Any violation aborts. */
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
           r == RS_HTTP_URI_TOO_LONG || r == RS_HTTP_NOT_IMPLEMENTED || r == RS_HTTP_VERSION;
}

/* True if [p, p+n) lies inside [lo, hi). */
static bool within(const char *p, size_t n, const char *lo, const char *hi)
{
    return p >= lo && p <= hi && n <= (size_t)(hi - p);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void check_success(const char *buf, int r, const struct rs_http_limits *lim,
                          const struct rs_http_request *q, const struct rs_http_header *hdrs)
{
    const char *end = buf + r;
    require(within(q->method, q->method_len, buf, end) && q->method_len > 0);
    require(within(q->target, q->target_len, buf, end) && q->target_len > 0);
    require(q->target_len <= lim->max_target);
    require(q->minor == 0 || q->minor == 1);
    require(q->headers == hdrs && q->nheaders <= lim->max_headers);
    require(q->content_length >= -1 && q->content_length <= RS_HTTP_MAX_CONTENT_LENGTH);
    require(!(q->chunked && q->content_length >= 0));
    require(!q->expect_continue || q->minor == 1);
    require(q->minor == 0 || q->host != NULL);
    bool host_seen = q->host == NULL;
    for (size_t i = 0; i < q->nheaders; i++) {
        const struct rs_http_header *h = &q->headers[i];
        require(within(h->name, h->name_len, buf, end) && h->name_len > 0);
        require(within(h->value, h->value_len, buf, end));
        require(h->name + h->name_len < h->value || (h->value_len == 0));
        for (size_t j = 0; j < h->name_len; j++)
            require(h->name[j] > ' ' && h->name[j] != ':' && h->name[j] < 0x7f);
        for (size_t j = 0; j < h->value_len; j++)
            require(h->value[j] != '\r' && h->value[j] != '\n' && h->value[j] != '\0');
        if (h->value_len)
            require(!is_ows(h->value[0]) && !is_ows(h->value[h->value_len - 1]));
        if (h->value == q->host && h->value_len == q->host_len)
            host_seen = true;
    }
    require(host_seen);
    require(buf[r - 1] == '\n');
}

static bool same(const struct rs_http_request *a, const struct rs_http_request *b)
{
    if (a->method != b->method || a->method_len != b->method_len || a->target != b->target ||
        a->target_len != b->target_len || a->minor != b->minor || a->nheaders != b->nheaders ||
        a->content_length != b->content_length || a->chunked != b->chunked ||
        a->keep_alive != b->keep_alive || a->expect_continue != b->expect_continue ||
        a->host != b->host || a->host_len != b->host_len)
        return false;
    for (size_t i = 0; i < a->nheaders; i++)
        if (memcmp(&a->headers[i], &b->headers[i], sizeof(a->headers[i])) != 0)
            return false;
    return true;
}

static void run(const char *buf, size_t size, const struct rs_http_limits *lim, size_t cut)
{
    static struct rs_http_header h1[MAX_HEADERS], h2[MAX_HEADERS];
    struct rs_http_request a, b;
    int r = rs_http_parse_request(buf, size, 0, lim, &a, h1);
    require(is_code(r) || (r > 0 && (size_t)r <= size && (size_t)r <= lim->max_head));
    if (r > 0)
        check_success(buf, r, lim, &a, h1);
    if (r == RS_HTTP_INCOMPLETE)
        require(size < lim->max_head);

    /* A prefix is INCOMPLETE or gives the same answer. */
    int rp = rs_http_parse_request(buf, cut, 0, lim, &b, h2);
    require(rp == RS_HTTP_INCOMPLETE || rp == r);
    if (r > 0 && cut >= (size_t)r)
        require(rp == r);
    if (rp > 0)
        require(same(&a, &b));

    /* Resuming with the hint finds the same head; errors may be postponed. */
    if (rp == RS_HTTP_INCOMPLETE) {
        int rh = rs_http_parse_request(buf, size, cut, lim, &b, h2);
        if (r > 0)
            require(rh == r && same(&a, &b));
        else
            require(rh == r || (rh == RS_HTTP_INCOMPLETE && size < lim->max_head));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: ASan flags any read past the end. */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    size_t seed = size ? (size_t)data[size - 1] * 131u + data[size / 2] : 0;
    size_t cut = size ? seed % (size + 1) : 0;

    struct rs_http_limits lim = RS_HTTP_LIMITS_DEFAULT;
    run(buf, size, &lim, cut);

    lim.max_head = 8 + seed % 200;
    lim.max_target = 1 + seed % 23;
    lim.max_headers = seed % 5;
    run(buf, size, &lim, cut);

    /* Every prefix of short inputs. */
    if (size <= 64) {
        lim = (struct rs_http_limits)RS_HTTP_LIMITS_DEFAULT;
        for (size_t k = 0; k <= size; k++)
            run(buf, size, &lim, k);
    }
    free(buf);
    return 0;
}
