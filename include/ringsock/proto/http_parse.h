#ifndef RINGSOCK_HTTP_PARSE_H
#define RINGSOCK_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* HTTP/1.1 message heads (RFC 9110/9112) and chunked bodies.
 *
 * The head parsers allocate nothing, keep no state between calls and read each byte a bounded
 * number of times. Every pointer they return points into the caller's buffer and stays valid
 * as long as those bytes do. A head that arrives in pieces is parsed by calling again from the
 * start of the head with more bytes (picohttpparser style): any split gives the same result as
 * one piece. Success returns the head's length, so a pipelined message starts right after it.
 *
 * Strictness (the codes are the negative values of enum rs_http_result):
 *   - Line endings: CRLF, or a bare LF (accepted as RFC 9112 section 2.2 allows, as nginx does);
 *     a CR not followed by LF is BAD anywhere. Empty lines before a request line are skipped and
 *     counted in the head length (RFC 9112 section 2.2); before a status line they are BAD.
 *   - Request line: method is a token; exactly one SP between parts; target is 1..max_target
 *     bytes of visible ASCII (0x21..0x7e; longer: URI_TOO_LONG), in origin-form ("/..."),
 *     absolute-form ("http://" or "https://", any case, non-empty authority without '@'),
 *     authority-form ("host:port") only and always for CONNECT, "*" only for OPTIONS; else BAD.
 *     Version exactly "HTTP/1.0" or "HTTP/1.1"; any other "HTTP/d.d" is VERSION, anything else
 *     (lower case, "HTTP/1", "HTTP/1.10", trailing SP) is BAD.
 *   - Status line: "HTTP/1.x" SP 3DIGIT in 100..599, then SP and a reason (possibly empty;
 *     HTAB, SP, VCHAR, obs-text) or the line end directly.
 *   - Header lines: name is a non-empty token followed at once by ':' (whitespace before the
 *     colon is BAD); a line starting with SP/HTAB (obs-fold) is BAD; the value has OWS trimmed
 *     on both sides and any CTL but HTAB (NUL, bare CR, DEL...) is BAD; bytes 0x80..0xff pass.
 *   - Limits: a head longer than max_head or with more than max_headers header lines is
 *     TOO_LARGE, reported only once certain; a shorter incomplete head is INCOMPLETE.
 *   - Content-Length: 1*DIGIT, leading zeros allowed (decimal), at most 2^62; a comma list or
 *     repeated headers are accepted only if every value is numerically equal; empty, signed,
 *     non-digit or larger values are BAD.
 *   - Transfer-Encoding (all such headers form one list of tokens; parameters are BAD, and so
 *     is a list with no coding): "chunked" more than once is BAD. Requests: chunked last means
 *     chunked framing (earlier codings are left to the caller), chunked not last is BAD, no
 *     chunked is NOT_IMPLEMENTED, together with Content-Length is BAD, in HTTP/1.0 is BAD.
 *     Responses: chunked last wins over any Content-Length (content_length is then -1 and
 *     keep_alive false, RFC 9112 section 6.3); without chunked last the body runs until close
 *     (content_length -1, chunked false, keep_alive false); in HTTP/1.0 it is BAD.
 *   - Host (requests): none in HTTP/1.1 or more than one is BAD; its value may be empty, else
 *     only reg-name/IP-literal/port characters (no '@', '/', SP...) are allowed.
 *   - Connection: comma-separated tokens, case-insensitive. HTTP/1.1 keeps alive unless "close"
 *     is listed; HTTP/1.0 only if "keep-alive" is listed and "close" is not.
 *   - Expect: "100-continue" (any case) in an HTTP/1.1 request sets expect_continue.
 * Semantic errors (Content-Length, Transfer-Encoding, Host) are reported when the head is
 * complete; syntax and limit errors as soon as the bytes that cause them are present. */

/* Results of the parsers: a head length (> 0), a consumed count (>= 0), or one of these. */
enum rs_http_result {
    RS_HTTP_INCOMPLETE = -1,        /* need more bytes */
    RS_HTTP_BAD = -400,             /* malformed: answer 400 and close */
    RS_HTTP_URI_TOO_LONG = -414,    /* request target longer than max_target */
    RS_HTTP_TOO_LARGE = -431,       /* head over max_head, too many headers, chunk line/trailer */
    RS_HTTP_NOT_IMPLEMENTED = -501, /* request Transfer-Encoding whose last coding isn't chunked */
    RS_HTTP_VERSION = -505,         /* HTTP/d.d other than 1.0 and 1.1 */
};

#define RS_HTTP_MAX_HEAD_DEFAULT    16384
#define RS_HTTP_MAX_TARGET_DEFAULT  8192
#define RS_HTTP_MAX_HEADERS_DEFAULT 64
#define RS_HTTP_MAX_CONTENT_LENGTH  (INT64_C(1) << 62) /* also the largest chunk size */
#define RS_HTTP_CHUNK_LINE_MAX      4096               /* size line with extensions, bytes */
#define RS_HTTP_CHUNK_TRAILER_MAX   16384              /* trailer section, bytes */

/* max_head is clamped to INT_MAX; max_target applies to requests only. */
struct rs_http_limits {
    size_t max_head;    /* bytes, including the empty line that ends the head */
    size_t max_target;  /* bytes of request target */
    size_t max_headers; /* header lines; the hdrs array must hold this many */
};

#define RS_HTTP_LIMITS_DEFAULT                                                                     \
    {                                                                                              \
        RS_HTTP_MAX_HEAD_DEFAULT, RS_HTTP_MAX_TARGET_DEFAULT, RS_HTTP_MAX_HEADERS_DEFAULT          \
    }

/* One header line; name and value point into the parsed buffer, the value with OWS trimmed. */
struct rs_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct rs_http_request {
    const char *method; /* case-sensitive token, e.g. "GET" */
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor;                      /* HTTP/1.<minor>: 0 or 1 */
    struct rs_http_header *headers; /* the hdrs array passed in, in received order */
    size_t nheaders;
    int64_t content_length; /* -1 if absent */
    bool chunked;           /* Transfer-Encoding ends in chunked */
    bool keep_alive;        /* from the version and Connection */
    bool expect_continue;   /* Expect: 100-continue, HTTP/1.1 only */
    const char *host;       /* Host value, NULL if absent */
    size_t host_len;
};

/* No body follows a response to HEAD or a 1xx, 204 or 304 response whatever its headers say:
 * that is the caller's decision. With neither chunked nor content_length >= 0, the body runs
 * until the connection closes (keep_alive is then false). */
struct rs_http_response {
    int minor; /* HTTP/1.<minor>: 0 or 1 */
    int status;
    const char *reason; /* may be empty; not trimmed */
    size_t reason_len;
    struct rs_http_header *headers;
    size_t nheaders;
    int64_t content_length; /* -1 if absent or overridden by chunked */
    bool chunked;
    bool keep_alive;
};

/* Sets the default limits (16 KiB head, 8 KiB target, 64 headers). */
void rs_http_limits_default(struct rs_http_limits *lim);

/* The reason phrase of status ("Not Found"), or "Error" for one ringsock never sends. */
const char *rs_http_reason(int status);

/* Parses the request head at buf[0..len). lim NULL means the defaults; hdrs holds
 * lim->max_headers entries (NULL if 0). last_len is 0, or the len of the previous call on the
 * same head if it returned INCOMPLETE: the parser then returns INCOMPLETE cheaply until the
 * head can have ended (errors in the new bytes are then reported once the head ends or fills
 * max_head). Returns the head length (> 0) or a negative enum rs_http_result; *req is only
 * meaningful on success. */
int rs_http_parse_request(const char *buf, size_t len, size_t last_len,
                          const struct rs_http_limits *lim, struct rs_http_request *req,
                          struct rs_http_header *hdrs);

/* Parses a response head the same way (max_target unused). Returns its length (> 0) or a
 * negative enum rs_http_result; *resp is only meaningful on success. */
int rs_http_parse_response(const char *buf, size_t len, size_t last_len,
                           const struct rs_http_limits *lim, struct rs_http_response *resp,
                           struct rs_http_header *hdrs);

/* Returns the first header named name (case-insensitive), or NULL. */
const struct rs_http_header *rs_http_header_find(const struct rs_http_header *hdrs, size_t n,
                                                 const char *name, size_t name_len);

/* True if the comma-separated list value contains token (case-insensitive, OWS ignored), e.g.
 * "keep-alive" in a Connection value or "websocket" in Upgrade. */
bool rs_http_token_list_has(const char *value, size_t value_len, const char *token,
                            size_t token_len);

/* Incremental decoder of a chunked body (RFC 9112 section 7.1): size lines in hex (at most 16
 * digits and 2^62), extensions (CTLs but HTAB are BAD; whitespace only before ';'), data,
 * CRLF, then trailer lines (token ':' value) and the final empty line. Bare LF is accepted like
 * in heads; a bare CR is BAD. Holds no pointers: feed it any split of the body. */
struct rs_http_chunked {
    uint64_t remaining; /* data left in the current chunk; the size while reading it */
    uint32_t line_len;  /* bytes of the current size line, or of the trailer section */
    uint8_t state;
    uint8_t ndigits;
    bool done; /* the last chunk and trailers have been consumed */
};

/* Prepares c for a new body. */
void rs_http_chunked_init(struct rs_http_chunked *c);

/* Consumes up to len bytes of chunked body; *body_bytes receives how many of them were data.
 * Returns the bytes consumed, fewer than len only once c->done (the rest belongs to the next
 * message; 0 if already done), or RS_HTTP_BAD on malformed input, RS_HTTP_TOO_LARGE over
 * RS_HTTP_CHUNK_LINE_MAX or RS_HTTP_CHUNK_TRAILER_MAX. */
int64_t rs_http_chunked_feed(struct rs_http_chunked *c, const char *buf, size_t len,
                             uint64_t *body_bytes);

/* Like feed, but stops right after the first run of data bytes, which it points *data at
 * (*data_len 0 if none). Call again with the rest to get the next run. */
int64_t rs_http_chunked_next(struct rs_http_chunked *c, const char *buf, size_t len,
                             const char **data, size_t *data_len);

#endif
