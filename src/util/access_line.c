/* The access log's line format (access_line.h). */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ringsock/util/access_line.h"

struct out {
    char *p, *end;
    bool ok;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (!o->ok || (size_t)(o->end - o->p) < n) {
        o->ok = false;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_json(struct out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(o, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if (*c == '"' || *c == '\\') {
            char e[2] = {'\\', (char)*c};
            put(o, e, 2);
        } else if (*c == '\n') {
            put(o, "\\n", 2);
        } else if (*c == '\t') {
            put(o, "\\t", 2);
        } else if (*c == '\r') {
            put(o, "\\r", 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
            put(o, e, 6);
        } else {
            put(o, (const char *)c, 1);
        }
    }
    put(o, "\"", 1);
}

static void put_u64(struct out *o, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    put(o, b, (size_t)n);
}

char *rs_access_time_format(int64_t ms, char *buf, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        s--;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

size_t rs_access_line_format(char *buf, size_t size, const struct rs_access_rec *r)
{
    struct out o = {.p = buf, .end = buf + size, .ok = true};
    char t[32], d[32];
    put_str(&o, "{\"time\":\"");
    put_str(&o, rs_access_time_format(r->time_ms, t, sizeof(t)));
    put_str(&o, "\",\"listener\":");
    put_json(&o, r->listener);
    put_str(&o, ",\"listener_name\":");
    put_json(&o, r->listener_name);
    put_str(&o, ",\"proto\":");
    put_json(&o, r->proto);
    put_str(&o, ",\"service\":");
    put_json(&o, r->service);
    put_str(&o, ",\"client\":");
    put_json(&o, r->client);
    put_str(&o, ",\"upstream\":");
    put_json(&o, r->upstream);
    put_str(&o, ",\"bytes_in\":");
    put_u64(&o, r->bytes_in);
    put_str(&o, ",\"bytes_out\":");
    put_u64(&o, r->bytes_out);
    /* Seconds with ms precision, rounded to the nearest ms. */
    uint64_t ms = (r->duration_ns + 500000) / 1000000;
    int n = snprintf(d, sizeof(d), ",\"duration\":%llu.%03u", (unsigned long long)(ms / 1000),
                     (unsigned)(ms % 1000));
    put(&o, d, (size_t)n);
    put_str(&o, ",\"reason\":");
    put_json(&o, r->reason);
    put_str(&o, ",\"error\":");
    put_json(&o, r->error);
    put_str(&o, "}\n");
    return o.ok ? (size_t)(o.p - buf) : 0;
}
