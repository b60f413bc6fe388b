/* The PROXY protocol header, versions 1 (text) and 2 (binary), as HAProxy's
 * doc/proxy-protocol.txt defines them: written towards upstreams (--send-proxy) and read from
 * clients (--accept-proxy). Pure and allocation-free; the reader works on whatever prefix has
 * arrived and says whether it needs more. */

#include "ringsock/services/relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const unsigned char v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                         0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

#define V1_LINE_MAX     107 /* the longest line the spec allows, CRLF included */
#define V2_HEAD         16
#define V2_CMD_LOCAL    0x0
#define V2_CMD_PROXY    0x1
#define V2_FAM_INET     0x1
#define V2_FAM_INET6    0x2
#define V2_FAM_UNIX     0x3
#define V2_PROTO_STREAM 0x1
#define V2_PROTO_DGRAM  0x2
#define V2_TLV_CRC32C   0x03

/* ---- writing ---- */

static int write_v1(const struct rs_addr *src, const struct rs_addr *dst, char *buf, size_t cap)
{
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    int fam = src->ss.ss_family;
    const void *sa, *da;
    if (fam == AF_INET) {
        sa = &((const struct sockaddr_in *)&src->ss)->sin_addr;
        da = &((const struct sockaddr_in *)&dst->ss)->sin_addr;
    } else {
        sa = &((const struct sockaddr_in6 *)&src->ss)->sin6_addr;
        da = &((const struct sockaddr_in6 *)&dst->ss)->sin6_addr;
    }
    if (!inet_ntop(fam, sa, s, sizeof(s)) || !inet_ntop(fam, da, d, sizeof(d)))
        return -EINVAL;
    char line[RS_PROXY_V1_MAX + 1];
    int n = snprintf(line, sizeof(line), "PROXY %s %s %s %d %d\r\n",
                     fam == AF_INET ? "TCP4" : "TCP6", s, d, rs_addr_port(src), rs_addr_port(dst));
    if (n < 0 || (size_t)n >= sizeof(line))
        return -EINVAL;
    if ((size_t)n > cap)
        return -ENOSPC;
    memcpy(buf, line, (size_t)n);
    return n;
}

static void put_port(unsigned char *p, int port)
{
    p[0] = (unsigned char)(port >> 8);
    p[1] = (unsigned char)port;
}

static int write_v2(bool stream, const struct rs_addr *src, const struct rs_addr *dst, char *buf,
                    size_t cap)
{
    bool v6 = src->ss.ss_family == AF_INET6;
    size_t alen = v6 ? 36 : 12, n = V2_HEAD + alen;
    if (n > cap)
        return -ENOSPC;
    unsigned char *p = (unsigned char *)buf;
    memcpy(p, v2_sig, sizeof(v2_sig));
    p[12] = 0x20 | V2_CMD_PROXY;
    p[13] = (unsigned char)((v6 ? V2_FAM_INET6 : V2_FAM_INET) << 4 |
                            (stream ? V2_PROTO_STREAM : V2_PROTO_DGRAM));
    p[14] = 0;
    p[15] = (unsigned char)alen;
    unsigned char *a = p + V2_HEAD;
    if (v6) {
        memcpy(a, &((const struct sockaddr_in6 *)&src->ss)->sin6_addr, 16);
        memcpy(a + 16, &((const struct sockaddr_in6 *)&dst->ss)->sin6_addr, 16);
        a += 32;
    } else { /* s_addr is already in network order */
        memcpy(a, &((const struct sockaddr_in *)&src->ss)->sin_addr, 4);
        memcpy(a + 4, &((const struct sockaddr_in *)&dst->ss)->sin_addr, 4);
        a += 8;
    }
    put_port(a, rs_addr_port(src));
    put_port(a + 2, rs_addr_port(dst));
    return (int)n;
}

int rs_proxy_write(unsigned version, bool stream, const struct rs_addr *src,
                   const struct rs_addr *dst, char *buf, size_t cap)
{
    if (!src || !dst || !buf)
        return -EINVAL;
    int fam = src->ss.ss_family;
    if ((fam != AF_INET && fam != AF_INET6) || dst->ss.ss_family != fam)
        return -EINVAL;
    if (version == 1)
        return stream ? write_v1(src, dst, buf, cap) : -EINVAL;
    if (version == 2)
        return write_v2(stream, src, dst, buf, cap);
    return -EINVAL;
}

/* ---- reading ---- */

/* A cursor over a v1 line: [p, end) is what can be parsed; partial says that end is where the
 * bytes received so far stop (no CRLF yet) rather than the CRLF. Each step returns 1 (done), 0
 * (ran out of bytes while still valid: wait for more) or -1 (invalid). */
struct cur {
    const char *p, *end;
    bool partial;
};

static int lit(struct cur *c, const char *s)
{
    size_t n = strlen(s), have = (size_t)(c->end - c->p);
    size_t k = have < n ? have : n;
    if (memcmp(c->p, s, k) != 0)
        return -1;
    if (k < n)
        return c->partial ? 0 : -1;
    c->p += n;
    return 1;
}

/* A token of up to max characters of the class is_ok, ending at a space or at the end: copied
 * NUL-terminated into out. */
static int token(struct cur *c, bool (*is_ok)(char), size_t max, char *out)
{
    size_t n = 0;
    while (c->p + n < c->end && is_ok(c->p[n])) {
        if (++n > max)
            return -1;
    }
    if (c->p + n == c->end && c->partial)
        return 0;
    if (n == 0)
        return -1;
    memcpy(out, c->p, n);
    out[n] = '\0';
    c->p += n;
    return 1;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_ip4(char ch)
{
    return is_digit(ch) || ch == '.';
}

static bool is_ip6(char ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || ch == ':' ||
           ch == '.';
}

static bool is_upper_alnum(char ch)
{
    return is_digit(ch) || (ch >= 'A' && ch <= 'Z');
}

/* A port: 0..65535 in decimal, no leading zero. */
static int port_value(const char *s)
{
    if (s[0] == '0' && s[1] != '\0')
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++)
        v = v * 10 + (*p - '0');
    return v > 65535 ? -1 : (int)v;
}

static void set_addr(struct rs_addr *a, int fam, const void *ip, int port)
{
    memset(a, 0, sizeof(*a));
    if (fam == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&a->ss;
        s->sin_family = AF_INET;
        memcpy(&s->sin_addr, ip, 4);
        s->sin_port = htons((uint16_t)port);
        a->len = sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->ss;
        s->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, ip, 16);
        s->sin6_port = htons((uint16_t)port);
        a->len = sizeof(*s);
    }
}

/* Whether the n bytes at p are the start of word. */
static bool starts(const char *p, size_t n, const char *word)
{
    return n <= strlen(word) && memcmp(p, word, n) == 0;
}

/* Parses "PROXY TCP4|TCP6 src dst sport dport" or "PROXY UNKNOWN[ anything]" over c. */
static int v1_parse(struct cur *c, struct rs_addr *src, struct rs_addr *dst, bool *local)
{
    char proto[8], ip[2][INET6_ADDRSTRLEN + 1], port[2][6];
    unsigned char bin[2][16];
    int r;
    if ((r = lit(c, "PROXY ")) <= 0)
        return r;
    if ((r = token(c, is_upper_alnum, 7, proto)) <= 0) {
        /* still arriving: only the start of a protocol name may wait */
        size_t n = (size_t)(c->end - c->p);
        if (r == 0 &&
            (starts(c->p, n, "TCP4") || starts(c->p, n, "TCP6") || starts(c->p, n, "UNKNOWN")))
            return 0;
        return -1;
    }
    if (strcmp(proto, "UNKNOWN") == 0) {
        /* The rest of the line is ignored, but must be a line: printable US-ASCII. */
        if (c->p < c->end && *c->p != ' ')
            return -1;
        for (; c->p < c->end; c->p++)
            if (*c->p < 0x20 || *c->p > 0x7e)
                return -1;
        if (c->partial)
            return 0;
        *local = true;
        return 1;
    }
    int fam;
    size_t iplen;
    bool (*cls)(char);
    if (strcmp(proto, "TCP4") == 0) {
        fam = AF_INET, iplen = 15, cls = is_ip4;
    } else if (strcmp(proto, "TCP6") == 0) {
        fam = AF_INET6, iplen = 45, cls = is_ip6;
    } else {
        return -1;
    }
    for (int k = 0; k < 2; k++) {
        if ((r = lit(c, " ")) <= 0 || (r = token(c, cls, iplen, ip[k])) <= 0)
            return r;
        if (inet_pton(fam, ip[k], bin[k]) != 1)
            return -1;
    }
    int pv[2];
    for (int k = 0; k < 2; k++) {
        if ((r = lit(c, " ")) <= 0 || (r = token(c, is_digit, 5, port[k])) <= 0)
            return r;
        if ((pv[k] = port_value(port[k])) < 0)
            return -1;
    }
    if (c->p != c->end)
        return -1;
    if (c->partial)
        return 0;
    set_addr(src, fam, bin[0], pv[0]);
    set_addr(dst, fam, bin[1], pv[1]);
    *local = false;
    return 1;
}

static int read_v1(const char *buf, size_t len, struct rs_addr *src, struct rs_addr *dst,
                   bool *local)
{
    size_t lim = len < V1_LINE_MAX ? len : V1_LINE_MAX;
    const char *crlf = NULL;
    for (size_t k = 0; k + 1 < lim; k++) {
        if (buf[k] == '\r' && buf[k + 1] == '\n') {
            crlf = buf + k;
            break;
        }
    }
    struct cur c = {buf, crlf ? crlf : buf + len, !crlf};
    if (!crlf) {
        if (len >= V1_LINE_MAX)
            return -EINVAL;
        if (len && buf[len - 1] == '\r') /* maybe the CR of the CRLF */
            c.end--;
    }
    struct rs_addr s, d;
    bool loc = false;
    int r = v1_parse(&c, &s, &d, &loc);
    if (r < 0)
        return -EINVAL;
    if (r == 0)
        return 0;
    if (loc) {
        *local = true;
    } else {
        *src = s;
        *dst = d;
        *local = false;
    }
    return (int)(crlf - buf) + 2;
}

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), as RFC 4960 appendix B computes it. */
static uint32_t crc32c(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    for (size_t k = 0; k < n; k++) {
        crc ^= p[k];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* Walks the TLVs in [p, p+n): each whole, and a CRC32C one, if any, must match the header h of
 * total length hlen. Returns 0 or -1. */
static int v2_tlvs(const unsigned char *h, size_t hlen, size_t off)
{
    while (off < hlen) {
        if (hlen - off < 3)
            return -1;
        size_t vlen = (size_t)h[off + 1] << 8 | h[off + 2];
        if (hlen - off - 3 < vlen)
            return -1;
        if (h[off] == V2_TLV_CRC32C) {
            if (vlen != 4)
                return -1;
            unsigned char copy[RS_PROXY_V2_MAX];
            memcpy(copy, h, hlen);
            memset(copy + off + 3, 0, 4);
            uint32_t want = (uint32_t)h[off + 3] << 24 | (uint32_t)h[off + 4] << 16 |
                            (uint32_t)h[off + 5] << 8 | h[off + 6];
            if (crc32c(0, copy, hlen) != want)
                return -1;
        }
        off += 3 + vlen;
    }
    return 0;
}

static int read_v2(const unsigned char *p, size_t len, struct rs_addr *src, struct rs_addr *dst,
                   bool *local)
{
    size_t k = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
    if (memcmp(p, v2_sig, k) != 0)
        return -EINVAL;
    if (len > 12 && ((p[12] >> 4) != 2 || (p[12] & 0xf) > V2_CMD_PROXY))
        return -EINVAL;
    if (len > 13 && ((p[13] >> 4) > V2_FAM_UNIX || (p[13] & 0xf) > V2_PROTO_DGRAM))
        return -EINVAL;
    if (len < V2_HEAD)
        return 0;
    size_t alen = (size_t)p[14] << 8 | p[15], hlen = V2_HEAD + alen;
    if (hlen > RS_PROXY_V2_MAX)
        return -EINVAL;
    unsigned cmd = p[12] & 0xf, fam = p[13] >> 4, proto = p[13] & 0xf;
    bool inet = proto != 0 && (fam == V2_FAM_INET || fam == V2_FAM_INET6);
    size_t need = !inet ? 0 : fam == V2_FAM_INET ? 12 : 36;
    if (cmd == V2_CMD_PROXY && alen < need)
        return -EINVAL; /* too short for the addresses it announces */
    if (len < hlen)
        return 0;
    if (cmd == V2_CMD_LOCAL || !inet) {
        /* LOCAL, or a family or protocol this relay does not carry (unspecified, UNIX): the
         * real endpoints stand, the block is skipped. */
        *local = true;
        return (int)hlen;
    }
    if (v2_tlvs(p, hlen, V2_HEAD + need) < 0)
        return -EINVAL;
    const unsigned char *a = p + V2_HEAD;
    int af = fam == V2_FAM_INET ? AF_INET : AF_INET6;
    size_t ipn = af == AF_INET ? 4 : 16;
    const unsigned char *ports = a + 2 * ipn;
    set_addr(src, af, a, ports[0] << 8 | ports[1]);
    set_addr(dst, af, a + ipn, ports[2] << 8 | ports[3]);
    *local = false;
    return (int)hlen;
}

int rs_proxy_read(const char *buf, size_t len, struct rs_addr *src, struct rs_addr *dst,
                  bool *local)
{
    if (len == 0)
        return 0;
    if (buf[0] == 'P')
        return read_v1(buf, len, src, dst, local);
    if (buf[0] == '\r')
        return read_v2((const unsigned char *)buf, len, src, dst, local);
    return -EINVAL;
}
