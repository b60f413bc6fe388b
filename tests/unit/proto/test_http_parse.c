#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../check.h"
#include "ringsock/proto/http_parse.h"

/* A string literal with its length, so inputs may hold NUL bytes. */
#define S(lit) lit, sizeof(lit) - 1

static struct rs_http_header hdrs[RS_HTTP_MAX_HEADERS_DEFAULT];

/* Copies s into a buffer of exactly n bytes (so ASan sees any overread) and parses it. */
static int parse_req_n(const char *s, size_t n, const struct rs_http_limits *lim,
                       struct rs_http_request *r)
{
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    int ret = rs_http_parse_request(b, n, 0, lim, r, hdrs);
    if (ret > 0) { /* rebase pointers onto s, which outlives b */
        r->method = s + (r->method - b);
        r->target = s + (r->target - b);
        if (r->host)
            r->host = s + (r->host - b);
        for (size_t i = 0; i < r->nheaders; i++) {
            hdrs[i].name = s + (hdrs[i].name - b);
            hdrs[i].value = s + (hdrs[i].value - b);
        }
    }
    free(b);
    return ret;
}

static int req_code(const char *s, size_t n)
{
    struct rs_http_request r;
    return parse_req_n(s, n, NULL, &r);
}

static int resp_code(const char *s, size_t n, struct rs_http_response *r)
{
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    int ret = rs_http_parse_response(b, n, 0, NULL, r, hdrs);
    if (ret > 0) {
        r->reason = s + (r->reason - b);
        for (size_t i = 0; i < r->nheaders; i++) {
            hdrs[i].name = s + (hdrs[i].name - b);
            hdrs[i].value = s + (hdrs[i].value - b);
        }
    }
    free(b);
    return ret;
}

static bool span_is(const char *p, size_t n, const char *lit)
{
    return p && n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static void test_simple_get(void)
{
    static const char s[] = "GET /index.html?x=1 HTTP/1.1\r\n"
                            "Host: example.com\r\n"
                            "User-Agent: test\r\n"
                            "Accept: */*\r\n"
                            "\r\n";
    struct rs_http_request r;
    CHECK_EQ(parse_req_n(S(s), NULL, &r), sizeof(s) - 1);
    CHECK(span_is(r.method, r.method_len, "GET"));
    CHECK(span_is(r.target, r.target_len, "/index.html?x=1"));
    CHECK_EQ(r.minor, 1);
    CHECK_EQ(r.nheaders, 3);
    CHECK(span_is(r.headers[0].name, r.headers[0].name_len, "Host"));
    CHECK(span_is(r.headers[0].value, r.headers[0].value_len, "example.com"));
    CHECK(span_is(r.headers[2].name, r.headers[2].name_len, "Accept"));
    CHECK(span_is(r.headers[2].value, r.headers[2].value_len, "*/*"));
    CHECK(span_is(r.host, r.host_len, "example.com"));
    CHECK_EQ(r.content_length, -1);
    CHECK(!r.chunked);
    CHECK(r.keep_alive);
    CHECK(!r.expect_continue);

    const struct rs_http_header *h = rs_http_header_find(r.headers, r.nheaders, S("user-AGENT"));
    CHECK(h && span_is(h->value, h->value_len, "test"));
    CHECK(rs_http_header_find(r.headers, r.nheaders, S("Cookie")) == NULL);
}

static void test_many_headers(void)
{
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "POST /upload HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < 63; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-Header-%d:  v%d \t\r\n", i, i);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
    struct rs_http_request r;
    CHECK_EQ(parse_req_n(buf, n, NULL, &r), n);
    CHECK_EQ(r.nheaders, 64);
    CHECK(span_is(r.headers[63].name, r.headers[63].name_len, "X-Header-62"));
    CHECK(span_is(r.headers[63].value, r.headers[63].value_len, "v62"));

    /* One more header than the limit: TOO_LARGE as soon as its first byte is there. */
    n -= 2;
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-One-Too-Many: 1\r\n\r\n");
    CHECK_EQ(req_code(buf, n), RS_HTTP_TOO_LARGE);
    size_t cut = (size_t)(strstr(buf, "X-One-Too-Many") - buf);
    CHECK_EQ(req_code(buf, cut), RS_HTTP_INCOMPLETE);
    CHECK_EQ(req_code(buf, cut + 1), RS_HTTP_TOO_LARGE);

    struct rs_http_limits lim = {4096, 1024, 2};
    CHECK_EQ(parse_req_n(S("GET / HTTP/1.1\r\nHost: a\r\nB: c\r\n\r\n"), &lim, &r), 33);
    CHECK_EQ(parse_req_n(S("GET / HTTP/1.1\r\nHost: a\r\nB: c\r\nD: e\r\n\r\n"), &lim, &r),
             RS_HTTP_TOO_LARGE);
    lim.max_headers = 0;
    CHECK_EQ(parse_req_n(S("GET / HTTP/1.0\r\n\r\n"), &lim, &r), 18);
    CHECK_EQ(parse_req_n(S("GET / HTTP/1.0\r\nA: b\r\n\r\n"), &lim, &r), RS_HTTP_TOO_LARGE);
}

static bool same_req(const struct rs_http_request *a, const char *ba,
                     const struct rs_http_request *b, const char *bb)
{
    if (a->method - ba != b->method - bb || a->method_len != b->method_len ||
        a->target - ba != b->target - bb || a->target_len != b->target_len ||
        a->minor != b->minor || a->nheaders != b->nheaders ||
        a->content_length != b->content_length || a->chunked != b->chunked ||
        a->keep_alive != b->keep_alive || a->expect_continue != b->expect_continue ||
        (a->host == NULL) != (b->host == NULL) || a->host_len != b->host_len ||
        (a->host && a->host - ba != b->host - bb))
        return false;
    for (size_t i = 0; i < a->nheaders; i++)
        if (a->headers[i].name - ba != b->headers[i].name - bb ||
            a->headers[i].name_len != b->headers[i].name_len ||
            a->headers[i].value - ba != b->headers[i].value - bb ||
            a->headers[i].value_len != b->headers[i].value_len)
            return false;
    return true;
}

static const char *const valid_requests[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /wrk HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive\r\n\r\n",
    "POST /p?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\nX-Empty:\r\n\r\n",
    "GET http://example.com/a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    "\r\n\nOPTIONS * HTTP/1.1\nHost: [::1]:80\n\n",
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX: a\tb \xff\r\n\r\n",
    /* pipelined: the second request starts at the first's head length */
    "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n",
};

/* Every prefix of a valid head is INCOMPLETE (also through the last_len hint, growing one byte
 * at a time); from the full head on, the result is identical. */
static void split_request(const char *s, size_t total)
{
    static struct rs_http_header h2[RS_HTTP_MAX_HEADERS_DEFAULT];
    struct rs_http_request full, part;
    int head = rs_http_parse_request(s, total, 0, NULL, &full, hdrs);
    CHECK(head > 0);
    if (head <= 0)
        return;
    char *b = malloc(total);
    size_t last = 0;
    for (size_t k = 0; k <= total; k++) {
        memcpy(b, s, k);
        char *c = malloc(k ? k : 1); /* exact size: ASan catches overreads */
        memcpy(c, s, k);
        int r1 = rs_http_parse_request(c, k, 0, NULL, &part, h2);
        if (k < (size_t)head) {
            CHECK_EQ(r1, RS_HTTP_INCOMPLETE);
        } else {
            CHECK_EQ(r1, head);
            CHECK(r1 == head && same_req(&full, s, &part, c));
        }
        int r2 = rs_http_parse_request(c, k, last, NULL, &part, h2);
        CHECK_EQ(r2, r1);
        if (r2 == RS_HTTP_INCOMPLETE)
            last = k;
        free(c);
    }
    free(b);
    if ((size_t)head < total)
        split_request(s + head, total - (size_t)head);
}

static void test_split_points(void)
{
    for (size_t i = 0; i < sizeof(valid_requests) / sizeof(valid_requests[0]); i++)
        split_request(valid_requests[i], strlen(valid_requests[i]));

    struct rs_http_request r;
    const char *p = valid_requests[7];
    size_t n = strlen(p);
    int h1 = rs_http_parse_request(p, n, 0, NULL, &r, hdrs);
    CHECK_EQ(h1, 28);
    CHECK(span_is(r.target, r.target_len, "/1"));
    int h2 = rs_http_parse_request(p + h1, n - (size_t)h1, 0, NULL, &r, hdrs);
    CHECK_EQ(h1 + h2, n);
    CHECK(span_is(r.target, r.target_len, "/2"));
    CHECK(span_is(r.host, r.host_len, "b"));
}

static void test_request_line(void)
{
    CHECK_EQ(req_code(S("G@T / HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S(" GET / HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET  / HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET /  HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1 \r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET /\tx HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET /\r\n\r\n")), RS_HTTP_BAD); /* HTTP/0.9 */
    CHECK_EQ(req_code(S("GET\r\n\r\n")), RS_HTTP_BAD);
    /* Bare CR anywhere in the head; bare LF is a line ending. */
    CHECK_EQ(req_code(S("GET / HTTP/1.1\rHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\n\r\r")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\nHost: a\n\n")), 24);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\n\r\n")), 26);
    CHECK_EQ(req_code(S("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")), 31);
    CHECK_EQ(req_code(S("\r\n\r\n")), RS_HTTP_INCOMPLETE);

    /* Target forms. */
    CHECK_EQ(req_code(S("get / HTTP/1.1\r\nHost: a\r\n\r\n")), 27); /* a token; unknown */
    CHECK_EQ(req_code(S("GET a HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET * HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")), 31);
    CHECK_EQ(req_code(S("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("CONNECT a.b:443 HTTP/1.1\r\nHost: a.b:443\r\n\r\n")), 43);
    CHECK_EQ(req_code(S("CONNECT [::1]:443 HTTP/1.1\r\nHost: a\r\n\r\n")), 39);
    CHECK_EQ(req_code(S("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("CONNECT a.b HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("CONNECT :443 HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("CONNECT a.b: HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("CONNECT a.b:443/x HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("CONNECT u@a.b:443 HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("CONNECT a:123456 HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET a.b:443 HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET http://a.b/x HTTP/1.1\r\nHost: a\r\n\r\n")), 38);
    CHECK_EQ(req_code(S("GET HTTPS://A.B HTTP/1.1\r\nHost: a\r\n\r\n")), 37);
    CHECK_EQ(req_code(S("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET http:// HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);

    /* Versions. */
    CHECK_EQ(req_code(S("GET / HTTP/1.0\r\n\r\n")), 18);
    CHECK_EQ(req_code(S("GET / HTTP/2.0\r\nHost: a\r\n\r\n")), RS_HTTP_VERSION);
    CHECK_EQ(req_code(S("GET / HTTP/0.9\r\n\r\n")), RS_HTTP_VERSION);
    CHECK_EQ(req_code(S("GET / HTTP/1.2\r\nHost: a\r\n\r\n")), RS_HTTP_VERSION);
    CHECK_EQ(req_code(S("GET / HTTP/1.2\r\n")), RS_HTTP_VERSION); /* known before the end */
    CHECK_EQ(req_code(S("GET / HTTP/1.2")), RS_HTTP_INCOMPLETE);
    CHECK_EQ(req_code(S("GET / http/1.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.10\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/11.1\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/2\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTX")), RS_HTTP_BAD); /* known before the end */

    /* Target length. */
    struct rs_http_limits lim = {4096, 10, 8};
    struct rs_http_request r;
    CHECK_EQ(parse_req_n(S("GET /123456789 HTTP/1.0\r\n\r\n"), &lim, &r), 27);
    CHECK_EQ(parse_req_n(S("GET /1234567890 HTTP/1.0\r\n\r\n"), &lim, &r), RS_HTTP_URI_TOO_LONG);
    CHECK_EQ(parse_req_n(S("GET /1234567890"), &lim, &r), RS_HTTP_URI_TOO_LONG);
    CHECK_EQ(parse_req_n(S("GET /123456789"), &lim, &r), RS_HTTP_INCOMPLETE);
}

static void test_header_syntax(void)
{
    struct rs_http_request r;
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost : a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nX Y: b\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nX\x01: b\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\n Host: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b[0m\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nX: abcdefghijk\x01\r\n\r\n")), RS_HTTP_BAD);

    /* OWS trimmed on both sides, inner HTAB and obs-text kept, empty values allowed. */
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\nX: \t a\tb \xff \t\r\nE:\r\nF: \r\n\r\n";
    CHECK_EQ(parse_req_n(S(s), NULL, &r), sizeof(s) - 1);
    CHECK(span_is(r.headers[1].value, r.headers[1].value_len, "a\tb \xff"));
    CHECK_EQ(r.headers[2].value_len, 0);
    CHECK_EQ(r.headers[3].value_len, 0);
    CHECK(r.headers[3].value >= s && r.headers[3].value <= s + sizeof(s));
}

static int64_t req_cl(const char *s, size_t n, int *ret)
{
    struct rs_http_request r;
    *ret = parse_req_n(s, n, NULL, &r);
    return *ret > 0 ? r.content_length : -2;
}

static void test_content_length(void)
{
    int ret;
    CHECK_EQ(req_cl(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"), &ret), 10);
    CHECK_EQ(req_cl(S("POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n"), &ret), 0);
    CHECK_EQ(req_cl(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n"), &ret), 7);
    CHECK_EQ(req_cl(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000000000000000"
                      "000000000042\r\n\r\n"),
                    &ret),
             42);
    CHECK_EQ(req_cl(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n"),
                    &ret),
             RS_HTTP_MAX_CONTENT_LENGTH);
    CHECK_EQ(req_cl(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387905\r\n\r\n"),
                    &ret),
             -2);
    CHECK_EQ(ret, RS_HTTP_BAD);
    CHECK_EQ(req_cl(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551621\r\n\r\n"),
                    &ret),
             -2);
    CHECK_EQ(ret, RS_HTTP_BAD);
    CHECK_EQ(req_cl(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"), &ret), 5);
    CHECK_EQ(req_cl(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,05\r\n\r\n"), &ret), 5);
    CHECK_EQ(
        req_cl(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
               &ret),
        5);

    static const char *const bad[] = {
        "", "+5", "-5", "5 5", "5a", "0x5", "5,", ",5", "5, 6", "5,,5", "1e3", "\xff", "5;",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[128];
        int n = snprintf(buf, sizeof(buf),
                         "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n", bad[i]);
        CHECK_EQ(req_code(buf, (size_t)n), RS_HTTP_BAD);
    }
    CHECK_EQ(
        req_code(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")),
        RS_HTTP_BAD);
    /* Semantic errors wait for the end of the head. */
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n")),
             RS_HTTP_INCOMPLETE);
}

static void test_transfer_encoding(void)
{
    struct rs_http_request r;
    CHECK_EQ(parse_req_n(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
                         NULL, &r),
             56);
    CHECK(r.chunked);
    CHECK_EQ(r.content_length, -1);
    CHECK(parse_req_n(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n"), NULL,
                      &r) > 0 &&
          r.chunked);
    CHECK(parse_req_n(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,  chunked\r\n\r\n"),
                      NULL, &r) > 0 &&
          r.chunked);
    CHECK(parse_req_n(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"),
                      NULL, &r) > 0 &&
          r.chunked);
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n")),
             RS_HTTP_NOT_IMPLEMENTED);
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n")),
             RS_HTTP_NOT_IMPLEMENTED);
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")),
             RS_HTTP_BAD);
    CHECK_EQ(
        req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")),
        RS_HTTP_BAD);
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n")),
             RS_HTTP_BAD);
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n")),
             RS_HTTP_BAD);
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n")),
             RS_HTTP_BAD);
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\n\r\n")),
             RS_HTTP_BAD);
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                        "Content-Length: 5\r\n\r\n")),
             RS_HTTP_BAD);
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                        "Transfer-Encoding: gzip\r\n\r\n")),
             RS_HTTP_BAD);
    CHECK_EQ(req_code(S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")), RS_HTTP_BAD);
    /* "Transfer-Encoding " with a space before the colon is a syntax error, not ignored. */
    CHECK_EQ(req_code(S("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n")),
             RS_HTTP_BAD);
}

static void test_host(void)
{
    struct rs_http_request r;
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nX: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(parse_req_n(S("GET / HTTP/1.0\r\n\r\n"), NULL, &r), 18);
    CHECK(r.host == NULL && r.host_len == 0);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a b\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n")), RS_HTTP_BAD);
    CHECK_EQ(req_code(S("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n")), RS_HTTP_BAD);
    CHECK(parse_req_n(S("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), NULL, &r) > 0 &&
          span_is(r.host, r.host_len, "[::1]:8080"));
    CHECK(parse_req_n(S("GET / HTTP/1.1\r\nHost:\r\n\r\n"), NULL, &r) > 0 && r.host &&
          r.host_len == 0);
}

static bool ka(const char *s, size_t n)
{
    struct rs_http_request r;
    int ret = parse_req_n(s, n, NULL, &r);
    CHECK(ret > 0);
    return ret > 0 && r.keep_alive;
}

static void test_keep_alive(void)
{
    CHECK(ka(S("GET / HTTP/1.1\r\nHost: a\r\n\r\n")));
    CHECK(!ka(S("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")));
    CHECK(!ka(S("GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n")));
    CHECK(!ka(S("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade ,close\r\n\r\n")));
    CHECK(
        !ka(S("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")));
    CHECK(ka(S("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")));
    CHECK(ka(S("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, xclose\r\n\r\n")));
    CHECK(!ka(S("GET / HTTP/1.0\r\n\r\n")));
    CHECK(ka(S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")));
    CHECK(ka(S("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")));
    CHECK(ka(S("GET / HTTP/1.0\r\nConnection: foo,\t keep-alive ,\r\n\r\n")));
    CHECK(!ka(S("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")));
    CHECK(!ka(S("GET / HTTP/1.0\r\nConnection: keep-alive-x\r\n\r\n")));
    CHECK(!ka(S("GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n")));

    struct rs_http_request r;
    CHECK(parse_req_n(S("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n"), NULL, &r) >
              0 &&
          r.expect_continue);
    CHECK(parse_req_n(S("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), NULL, &r) > 0 &&
          !r.expect_continue);
    CHECK(parse_req_n(S("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"), NULL, &r) > 0 &&
          !r.expect_continue);

    CHECK(rs_http_token_list_has(S("Upgrade, keep-alive"), S("upgrade")));
    CHECK(rs_http_token_list_has(S(" a ,\tWebSocket\t"), S("websocket")));
    CHECK(!rs_http_token_list_has(S("websockets"), S("websocket")));
    CHECK(!rs_http_token_list_has(S(""), S("a")));
    CHECK(!rs_http_token_list_has(S(", ,"), S("a")));
}

static void test_limits(void)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"; /* 27 bytes */
    struct rs_http_request r;
    struct rs_http_limits lim = {27, 100, 8};
    CHECK_EQ(parse_req_n(S(s), &lim, &r), 27);
    lim.max_head = 26;
    CHECK_EQ(parse_req_n(S(s), &lim, &r), RS_HTTP_TOO_LARGE);
    CHECK_EQ(parse_req_n(s, 26, &lim, &r), RS_HTTP_TOO_LARGE); /* certain: 26 bytes, no end */
    CHECK_EQ(parse_req_n(s, 25, &lim, &r), RS_HTTP_INCOMPLETE);
    lim.max_head = 27;
    /* More bytes than the limit, but the head ends within it: the rest is the next message. */
    CHECK_EQ(parse_req_n(S("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n"), &lim, &r), 27);
    /* A head ending on its CR at the limit still needs the LF past it. */
    lim.max_head = 26;
    CHECK_EQ(parse_req_n(S("GET / HTTP/1.1\r\nHost: a\r\n\r\nX"), &lim, &r), RS_HTTP_TOO_LARGE);

    /* The defaults: a 16 KiB head is fine, one byte more is not. */
    char *big = malloc(RS_HTTP_MAX_HEAD_DEFAULT + 64);
    size_t n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    size_t fill = RS_HTTP_MAX_HEAD_DEFAULT - n - 4;
    memset(big + n, 'x', fill);
    memcpy(big + n + fill, "\r\n\r\n", 4);
    CHECK_EQ(parse_req_n(big, RS_HTTP_MAX_HEAD_DEFAULT, NULL, &r), RS_HTTP_MAX_HEAD_DEFAULT);
    CHECK_EQ(r.headers[1].value_len, fill);
    memmove(big + n + 1, big + n, fill + 4);
    CHECK_EQ(parse_req_n(big, RS_HTTP_MAX_HEAD_DEFAULT + 1, NULL, &r), RS_HTTP_TOO_LARGE);
    CHECK_EQ(parse_req_n(big, RS_HTTP_MAX_HEAD_DEFAULT - 1, NULL, &r), RS_HTTP_INCOMPLETE);
    free(big);

    /* Endless empty lines before a request are bounded by max_head too. */
    lim.max_head = 64;
    char crlf[200];
    for (size_t i = 0; i < sizeof(crlf); i += 2)
        memcpy(crlf + i, "\r\n", 2);
    CHECK_EQ(parse_req_n(crlf, sizeof(crlf), &lim, &r), RS_HTTP_TOO_LARGE);
}

/* Puts each prefix of s against a PROT_NONE page and parses it: any overread faults. */
static void test_guard_page(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *map =
        mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    if (map == MAP_FAILED)
        return;
    CHECK_EQ(mprotect(map + page, (size_t)page, PROT_NONE), 0);
    static const char *const inputs[] = {
        "GET /wrk HTTP/1.1\r\nHost: localhost:8080\r\nConnection: keep-alive\r\n\r\n",
        "GET / HTTP/1.1\nHost: a\nX: abcdefghijklmnopqrstuvwxyz \t\n\n",
        "CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        "HTTP/1.1 404\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
    };
    struct rs_http_request rq;
    struct rs_http_response rs;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        size_t n = strlen(inputs[i]);
        for (size_t k = 0; k <= n; k++) {
            char *b = map + page - k;
            memcpy(b, inputs[i], k);
            int ret = rs_http_parse_request(b, k, 0, NULL, &rq, hdrs);
            CHECK(ret <= (int)k);
            ret = rs_http_parse_request(b, k, k / 2, NULL, &rq, hdrs);
            CHECK(ret <= (int)k);
            ret = rs_http_parse_response(b, k, 0, NULL, &rs, hdrs);
            CHECK(ret <= (int)k);
            struct rs_http_chunked c;
            rs_http_chunked_init(&c);
            uint64_t body;
            CHECK(rs_http_chunked_feed(&c, b, k, &body) <= (int64_t)k);
        }
        /* ... and the chunked body on its own. */
        const char *body = strstr(inputs[i], "\r\n\r\n");
        if (!body)
            continue;
        size_t bn = strlen(body + 4);
        for (size_t k = 0; k <= bn; k++) {
            char *b = map + page - k;
            memcpy(b, body + 4, k);
            struct rs_http_chunked c;
            rs_http_chunked_init(&c);
            uint64_t nb;
            CHECK(rs_http_chunked_feed(&c, b, k, &nb) <= (int64_t)k);
        }
    }
    munmap(map, (size_t)page * 2);
}

static void test_responses(void)
{
    struct rs_http_response r;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
    CHECK_EQ(resp_code(S(ok), &r), sizeof(ok) - 6);
    CHECK_EQ(r.minor, 1);
    CHECK_EQ(r.status, 200);
    CHECK(span_is(r.reason, r.reason_len, "OK"));
    CHECK_EQ(r.nheaders, 2);
    CHECK_EQ(r.content_length, 5);
    CHECK(!r.chunked && r.keep_alive);

    CHECK(resp_code(S("HTTP/1.1 204 No Content\r\n\r\n"), &r) > 0 && r.status == 204 &&
          span_is(r.reason, r.reason_len, "No Content") && r.content_length == -1);
    CHECK(resp_code(S("HTTP/1.1 200 \r\n\r\n"), &r) == 17 && r.reason_len == 0);
    CHECK(resp_code(S("HTTP/1.1 200\r\n\r\n"), &r) == 16 && r.reason_len == 0);
    CHECK(resp_code(S("HTTP/1.1 100 Continue\n\n"), &r) == 23 && r.status == 100);
    CHECK(resp_code(S("HTTP/1.1 599 x\ty \xff\r\n\r\n"), &r) > 0 && r.status == 599 &&
          span_is(r.reason, r.reason_len, "x\ty \xff"));
    CHECK(resp_code(S("HTTP/1.0 200 OK\r\n\r\n"), &r) > 0 && !r.keep_alive && r.minor == 0);
    CHECK(resp_code(S("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"), &r) > 0 &&
          r.keep_alive);
    CHECK(resp_code(S("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"), &r) > 0 && !r.keep_alive);

    CHECK_EQ(resp_code(S("HTTP/1.1 099 X\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 600 X\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 20 X\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 2000 X\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 2x0 X\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1  200 X\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 200 O\x01K\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 200 OK\r\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/2 200 OK\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/2.0 200 OK\r\n\r\n"), &r), RS_HTTP_VERSION);
    CHECK_EQ(resp_code(S("ICY 200 OK\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 200 OK\r\nX : y\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), &r),
             RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), &r), RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"), &r), RS_HTTP_INCOMPLETE);
    CHECK_EQ(resp_code(S("HTTP/1.1 200 OK\r\n"), &r), RS_HTTP_INCOMPLETE);

    /* Framing. */
    CHECK(resp_code(S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), &r) > 0 &&
          r.chunked && r.content_length == -1 && r.keep_alive);
    CHECK(resp_code(S("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n"),
                    &r) > 0 &&
          r.chunked && r.content_length == -1 && !r.keep_alive);
    CHECK(resp_code(S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), &r) > 0 &&
          !r.chunked && r.content_length == -1 && !r.keep_alive);
    CHECK(resp_code(S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), &r) > 0 &&
          !r.chunked && !r.keep_alive);
    CHECK_EQ(resp_code(S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), &r),
             RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), &r),
             RS_HTTP_BAD);
    CHECK_EQ(resp_code(S("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n"), &r), RS_HTTP_BAD);

    /* Every split of a pipelined pair of responses. */
    static const char two[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                              "HTTP/1.1 304 Not Modified\nETag: \"x\"\n\n";
    struct rs_http_response full, part;
    static struct rs_http_header h2[RS_HTTP_MAX_HEADERS_DEFAULT];
    for (size_t off = 0; off < sizeof(two) - 1;) {
        const char *s = two + off;
        size_t n = sizeof(two) - 1 - off;
        int head = rs_http_parse_response(s, n, 0, NULL, &full, hdrs);
        CHECK(head > 0);
        if (head <= 0)
            break;
        size_t last = 0;
        for (size_t k = 0; k <= n; k++) {
            char *c = malloc(k ? k : 1);
            memcpy(c, s, k);
            int r1 = rs_http_parse_response(c, k, 0, NULL, &part, h2);
            int r2 = rs_http_parse_response(c, k, last, NULL, &part, h2);
            CHECK_EQ(r1, k < (size_t)head ? RS_HTTP_INCOMPLETE : head);
            CHECK_EQ(r2, r1);
            if (r1 == head)
                CHECK(part.status == full.status && part.reason - c == full.reason - s &&
                      part.reason_len == full.reason_len && part.nheaders == full.nheaders &&
                      part.content_length == full.content_length &&
                      part.keep_alive == full.keep_alive);
            if (r2 == RS_HTTP_INCOMPLETE)
                last = k;
            free(c);
        }
        off += (size_t)head;
    }
}

/* Feeds body in pieces of `step` bytes (0: all at once); returns consumed, or a negative code. */
static int64_t feed_steps(const char *body, size_t n, size_t step, uint64_t *data, bool *done)
{
    struct rs_http_chunked c;
    rs_http_chunked_init(&c);
    size_t off = 0;
    *data = 0;
    if (step == 0)
        step = n ? n : 1;
    while (off < n && !c.done) {
        size_t k = n - off < step ? n - off : step;
        uint64_t d;
        int64_t r = rs_http_chunked_feed(&c, body + off, k, &d);
        if (r < 0)
            return r;
        if ((size_t)r > k || ((size_t)r < k && !c.done))
            return -1000;
        *data += d;
        off += (size_t)r;
    }
    *done = c.done;
    return (int64_t)off;
}

static int64_t chunk_code(const char *body, size_t n)
{
    uint64_t d;
    bool done;
    return feed_steps(body, n, 0, &d, &done);
}

static void test_chunked(void)
{
    static const char body[] = "5\r\nhello\r\n"
                               "6;ext=1;q=\"a b\"\r\n world\r\n"
                               "A \t; x\r\n0123456789\r\n"
                               "0\r\nTrailer-A: x\r\nB: \t\r\n\r\n"
                               "HTTP/1.1 200 OK\r\n";
    size_t blen = sizeof(body) - 1 - strlen("HTTP/1.1 200 OK\r\n");
    uint64_t d;
    bool done;
    for (size_t step = 0; step <= 8; step++) {
        CHECK_EQ(feed_steps(body, sizeof(body) - 1, step, &d, &done), blen);
        CHECK_EQ(d, 21);
        CHECK(done);
    }
    /* Every two-piece split gives the same. */
    for (size_t k = 0; k <= sizeof(body) - 1; k++) {
        struct rs_http_chunked c;
        rs_http_chunked_init(&c);
        uint64_t d1 = 0, d2 = 0;
        int64_t r1 = rs_http_chunked_feed(&c, body, k, &d1);
        int64_t r2 = 0;
        if (!c.done)
            r2 = rs_http_chunked_feed(&c, body + k, sizeof(body) - 1 - k, &d2);
        CHECK_EQ(r1 + r2, blen);
        CHECK_EQ(d1 + d2, 21);
        CHECK(c.done);
        uint64_t d3 = 7;
        CHECK_EQ(rs_http_chunked_feed(&c, body, 3, &d3), 0); /* done: nothing more */
        CHECK_EQ(d3, 0);
    }
    /* The data itself, run by run. */
    {
        struct rs_http_chunked c;
        rs_http_chunked_init(&c);
        char out[64];
        size_t got = 0, off = 0;
        while (!c.done && off < sizeof(body) - 1) {
            const char *p;
            size_t n;
            int64_t r = rs_http_chunked_next(&c, body + off, sizeof(body) - 1 - off, &p, &n);
            CHECK(r > 0);
            if (r <= 0)
                break;
            if (n) {
                CHECK(p >= body + off && p + n <= body + off + r);
                memcpy(out + got, p, n);
                got += n;
            }
            off += (size_t)r;
        }
        CHECK_EQ(off, blen);
        CHECK(got == 21 && memcmp(out, "hello world0123456789", 21) == 0);
    }

    /* Bare LF line endings; upper-case hex; no trailers. */
    CHECK_EQ(feed_steps(S("5\nhello\nA\r\n0123456789\n0\n\n"), 1, &d, &done), 25);
    CHECK(d == 15 && done);
    CHECK_EQ(feed_steps(S("1F\r\n0123456789012345678901234567890\r\n0\r\n\r\n"), 0, &d, &done), 42);
    CHECK_EQ(d, 31);

    /* Incomplete bodies consume everything and are not done. */
    CHECK_EQ(feed_steps(S("5\r\nhel"), 0, &d, &done), 6);
    CHECK(!done && d == 3);
    CHECK_EQ(feed_steps(S("0\r\nX: y\r\n"), 0, &d, &done), 9);
    CHECK(!done);

    /* Sizes: 16 hex digits and 2^62 at most. */
    CHECK_EQ(feed_steps(S("4000000000000000\r\nab"), 0, &d, &done), 20);
    CHECK(!done && d == 2);
    CHECK_EQ(feed_steps(S("0000000000000002\r\nab\r\n0\r\n\r\n"), 0, &d, &done), 27);
    CHECK_EQ(chunk_code(S("4000000000000001\r\n")), RS_HTTP_BAD);
    CHECK_EQ(chunk_code(S("FFFFFFFFFFFFFFFF\r\n")), RS_HTTP_BAD);
    CHECK_EQ(chunk_code(S("10000000000000000\r\n")), RS_HTTP_BAD);
    CHECK_EQ(chunk_code(S("00000000000000002\r\n")), RS_HTTP_BAD); /* 17 digits */

    static const char *const bad[] = {
        "g\r\n",
        "\r\n",
        " 5\r\nhello\r\n0\r\n\r\n",
        "5 \r\nhello\r\n",
        "-5\r\n",
        "0x5\r\n",
        "5\rhello\r\n",
        "5\r\nhelloX",
        "5\r\nhello\rX",
        "5\r\nhello\r\r",
        "5;a\x01\r\n",
        "5;a\rb\r\n",
        "5;\x7f\r\n",
        "5 x\r\n",
        "+5\r\n",
        "0\r\n x: y\r\n\r\n",
        "0\r\nX y: z\r\n",
        "0\r\n: z\r\n",
        "0\r\nX: a\x01b\r\n",
        "0\r\nX: a\rb\r\n",
        "0\r\nX\r\n",
        "0\r\n\r\r",
        "0\r\nX: y\r\r",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = strlen(bad[i]);
        int64_t r = chunk_code(bad[i], n);
        if (r != RS_HTTP_BAD)
            fprintf(stderr, "chunked bad[%zu] -> %lld\n", i, (long long)r);
        CHECK_EQ(r, RS_HTTP_BAD);
        CHECK_EQ(feed_steps(bad[i], n, 1, &d, &done), RS_HTTP_BAD);
    }
    /* Extensions with whitespace before ';' are fine. */
    CHECK_EQ(feed_steps(S("5 ;a=b\r\nhello\r\n0;last\r\n\r\n"), 0, &d, &done), 25);
    CHECK(done && d == 5);

    /* Over-long size lines and trailer sections. */
    char *big = malloc(RS_HTTP_CHUNK_TRAILER_MAX + 64);
    memcpy(big, "5;", 2);
    memset(big + 2, 'a', RS_HTTP_CHUNK_LINE_MAX);
    CHECK_EQ(chunk_code(big, RS_HTTP_CHUNK_LINE_MAX + 2), RS_HTTP_TOO_LARGE);
    memcpy(big + RS_HTTP_CHUNK_LINE_MAX - 2, "\r\n", 2); /* exactly the limit */
    CHECK_EQ(chunk_code(big, RS_HTTP_CHUNK_LINE_MAX), RS_HTTP_CHUNK_LINE_MAX);
    memcpy(big, "0\r\nX: ", 6);
    memset(big + 6, 'v', RS_HTTP_CHUNK_TRAILER_MAX);
    CHECK_EQ(chunk_code(big, RS_HTTP_CHUNK_TRAILER_MAX + 6), RS_HTTP_TOO_LARGE);
    free(big);
}

int main(void)
{
    test_simple_get();
    test_many_headers();
    test_split_points();
    test_request_line();
    test_header_syntax();
    test_content_length();
    test_transfer_encoding();
    test_host();
    test_keep_alive();
    test_limits();
    test_guard_page();
    test_responses();
    test_chunked();
    return check_done("test_http_parse");
}
