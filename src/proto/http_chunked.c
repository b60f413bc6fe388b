/* Incremental decoder of chunked bodies (RFC 9112 section 7.1). */

#include "ringsock/proto/http_parse.h"

#include "http_chars.h"

/* Chunked decoder states. */
enum {
    CH_SIZE,          /* hex digits of the chunk size */
    CH_SIZE_WS,       /* whitespace after the size: only ';' may follow */
    CH_EXT,           /* chunk extensions, up to the line end */
    CH_SIZE_LF,       /* LF after the size line's CR */
    CH_DATA,          /* chunk data */
    CH_DATA_CR,       /* CRLF after the data */
    CH_DATA_LF,       /* LF after the data's CR */
    CH_TRAILER,       /* start of a trailer line, or the final empty line */
    CH_TRAILER_NAME,  /* trailer field name */
    CH_TRAILER_VALUE, /* trailer field value */
    CH_TRAILER_LF,    /* LF after a trailer line's CR */
    CH_END_LF,        /* LF of the final empty line */
    CH_DONE,
};

void rs_http_chunked_init(struct rs_http_chunked *c)
{
    *c = (struct rs_http_chunked){.state = CH_SIZE};
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    unsigned char l = lower(ch);
    if (l >= 'a' && l <= 'f')
        return l - 'a' + 10;
    return -1;
}

/* After a size line: data follows, or the trailer section for the last chunk. */
static void chunk_size_done(struct rs_http_chunked *c)
{
    c->state = c->remaining ? CH_DATA : CH_TRAILER;
    c->line_len = 0;
}

static void chunk_next_size(struct rs_http_chunked *c)
{
    c->state = CH_SIZE;
    c->remaining = 0;
    c->ndigits = 0;
    c->line_len = 0;
}

/* Runs the decoder over buf[0..len); with one_run it stops after the first run of data.
 * Returns bytes consumed or a negative code; *data and *ndata describe the data seen (the
 * first run's start, and the total count). */
static int64_t chunked_run(struct rs_http_chunked *c, const char *buf, size_t len, bool one_run,
                           const char **data, uint64_t *ndata)
{
    size_t i = 0;
    *data = NULL;
    *ndata = 0;
    while (i < len && c->state != CH_DONE) {
        if (c->state == CH_DATA) {
            size_t take = len - i;
            if (take > c->remaining)
                take = (size_t)c->remaining;
            if (!*data)
                *data = buf + i;
            *ndata += take;
            i += take;
            c->remaining -= take;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            if (one_run)
                break;
            continue;
        }
        char ch = buf[i++];
        if (c->state <= CH_SIZE_LF && ++c->line_len > RS_HTTP_CHUNK_LINE_MAX)
            return RS_HTTP_TOO_LARGE;
        if (c->state >= CH_TRAILER && ++c->line_len > RS_HTTP_CHUNK_TRAILER_MAX)
            return RS_HTTP_TOO_LARGE;
        switch (c->state) {
        case CH_SIZE: {
            int d = hex_value(ch);
            if (d >= 0) {
                if (++c->ndigits > 16 ||
                    c->remaining > ((uint64_t)RS_HTTP_MAX_CONTENT_LENGTH - (unsigned)d) >> 4)
                    return RS_HTTP_BAD;
                c->remaining = c->remaining << 4 | (unsigned)d;
            } else if (c->ndigits == 0) {
                return RS_HTTP_BAD;
            } else if (ch == ';') {
                c->state = CH_EXT;
            } else if (is_ows(ch)) {
                c->state = CH_SIZE_WS;
            } else if (ch == '\r') {
                c->state = CH_SIZE_LF;
            } else if (ch == '\n') {
                chunk_size_done(c);
            } else {
                return RS_HTTP_BAD;
            }
            break;
        }
        case CH_SIZE_WS:
            if (ch == ';')
                c->state = CH_EXT;
            else if (!is_ows(ch))
                return RS_HTTP_BAD;
            break;
        case CH_EXT:
            if (ch == '\r')
                c->state = CH_SIZE_LF;
            else if (ch == '\n')
                chunk_size_done(c);
            else if (!is_class(ch, C_VALUE))
                return RS_HTTP_BAD;
            break;
        case CH_SIZE_LF:
            if (ch != '\n')
                return RS_HTTP_BAD;
            chunk_size_done(c);
            break;
        case CH_DATA_CR:
            if (ch == '\r')
                c->state = CH_DATA_LF;
            else if (ch == '\n')
                chunk_next_size(c);
            else
                return RS_HTTP_BAD;
            break;
        case CH_DATA_LF:
            if (ch != '\n')
                return RS_HTTP_BAD;
            chunk_next_size(c);
            break;
        case CH_TRAILER:
            if (ch == '\r')
                c->state = CH_END_LF;
            else if (ch == '\n')
                c->state = CH_DONE;
            else if (is_class(ch, C_TOKEN))
                c->state = CH_TRAILER_NAME;
            else
                return RS_HTTP_BAD; /* obs-fold, empty name, CTL */
            break;
        case CH_TRAILER_NAME:
            if (ch == ':')
                c->state = CH_TRAILER_VALUE;
            else if (!is_class(ch, C_TOKEN))
                return RS_HTTP_BAD;
            break;
        case CH_TRAILER_VALUE:
            if (ch == '\r')
                c->state = CH_TRAILER_LF;
            else if (ch == '\n')
                c->state = CH_TRAILER;
            else if (!is_class(ch, C_VALUE))
                return RS_HTTP_BAD;
            break;
        case CH_TRAILER_LF:
            if (ch != '\n')
                return RS_HTTP_BAD;
            c->state = CH_TRAILER;
            break;
        case CH_END_LF:
            if (ch != '\n')
                return RS_HTTP_BAD;
            c->state = CH_DONE;
            break;
        default:
            return RS_HTTP_BAD;
        }
    }
    c->done = c->state == CH_DONE;
    return (int64_t)i;
}

int64_t rs_http_chunked_feed(struct rs_http_chunked *c, const char *buf, size_t len,
                             uint64_t *body_bytes)
{
    const char *data;
    return chunked_run(c, buf, len, false, &data, body_bytes);
}

int64_t rs_http_chunked_next(struct rs_http_chunked *c, const char *buf, size_t len,
                             const char **data, size_t *data_len)
{
    uint64_t n;
    int64_t r = chunked_run(c, buf, len, true, data, &n);
    *data_len = (size_t)n;
    return r;
}
