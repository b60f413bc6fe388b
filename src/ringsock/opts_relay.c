/* The relay's options (ringsock relay): one function the option parser calls with each
 * option's name and value, filling struct rs_relay_conf through the parsers of relay.h. */

#include "opts_relay.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ringsock/util/parse.h"

static int bad(char *err, size_t errlen, const char *name, const char *val, int e)
{
    snprintf(err, errlen, "invalid value for --%s: '%s'%s", name, val ? val : "",
             e == -ERANGE ? " (out of range)" : "");
    return -EINVAL;
}

/* A duration of at least a millisecond (0 only where zero_ok: off). */
static int duration(const char *name, const char *val, bool zero_ok, uint64_t *out, char *err,
                    size_t errlen)
{
    uint64_t v;
    int e = rs_parse_duration(val, &v);
    if (e < 0)
        return bad(err, errlen, name, val, e);
    if ((v == 0 && !zero_ok) || (v > 0 && v < 1000000))
        return bad(err, errlen, name, val, -ERANGE);
    *out = v;
    return 0;
}

int rs__relay_opt(const char *name, const char *val, struct rs_relay_conf *c, char *err,
                  size_t errlen)
{
    uint64_t v;
    int e;
    if (!strcmp(name, "upstream")) {
        if (c->nup >= RS_RELAY_MAX_UPSTREAMS) {
            snprintf(err, errlen, "too many --upstream (at most %d)", RS_RELAY_MAX_UPSTREAMS);
            return -EINVAL;
        }
        if (rs_upstream_parse(val, &c->up[c->nup], err, errlen) < 0)
            return -EINVAL;
        c->nup++;
    } else if (!strcmp(name, "balance")) {
        if (rs_balance_parse(val, &c->balance) < 0) {
            snprintf(err, errlen,
                     "invalid --balance '%s' (want rr, least-conn, random2, hash-src or "
                     "chash-src)",
                     val);
            return -EINVAL;
        }
    } else if (!strcmp(name, "connect-timeout")) {
        return duration(name, val, false, &c->connect_timeout_ns, err, errlen);
    } else if (!strcmp(name, "connect-budget")) {
        return duration(name, val, false, &c->connect_budget_ns, err, errlen);
    } else if (!strcmp(name, "fail-timeout")) {
        return duration(name, val, false, &c->fail_timeout_ns, err, errlen);
    } else if (!strcmp(name, "fin-timeout")) {
        return duration(name, val, true, &c->fin_timeout_ns, err, errlen);
    } else if (!strcmp(name, "max-duration")) {
        return duration(name, val, true, &c->max_duration_ns, err, errlen);
    } else if (!strcmp(name, "proxy-timeout")) {
        return duration(name, val, false, &c->proxy_timeout_ns, err, errlen);
    } else if (!strcmp(name, "connect-tries")) {
        if ((e = rs_parse_size(val, 1, RS_RELAY_MAX_UPSTREAMS, &v)) < 0)
            return bad(err, errlen, name, val, e);
        c->connect_tries = (unsigned)v;
    } else if (!strcmp(name, "max-fails")) {
        if ((e = rs_parse_size(val, 0, 1000000, &v)) < 0)
            return bad(err, errlen, name, val, e);
        c->max_fails = (unsigned)v;
    } else if (!strcmp(name, "window")) {
        if ((e = rs_parse_size(val, 4096, 1ull << 30, &v)) < 0)
            return bad(err, errlen, name, val, e);
        c->window = v;
    } else if (!strcmp(name, "send-proxy")) {
        if (!strcmp(val, "v1") || !strcmp(val, "1"))
            c->send_proxy = 1;
        else if (!strcmp(val, "v2") || !strcmp(val, "2"))
            c->send_proxy = 2;
        else {
            snprintf(err, errlen, "invalid --send-proxy '%s' (want v1 or v2)", val);
            return -EINVAL;
        }
    } else if (!strcmp(name, "udp-idle-timeout")) {
        return duration(name, val, true, &c->udp_idle_timeout_ns, err, errlen);
    } else if (!strcmp(name, "udp-max-sessions")) {
        if ((e = rs_parse_size(val, 1, 1u << 24, &v)) < 0)
            return bad(err, errlen, name, val, e);
        c->udp_max_sessions = (uint32_t)v;
    } else if (!strcmp(name, "udp-responses")) {
        if (!strcmp(val, "any")) {
            c->udp_responses_any = true;
            c->udp_responses = 0;
            return 0;
        }
        if ((e = rs_parse_size(val, 0, 1000000, &v)) < 0)
            return bad(err, errlen, name, val, e);
        c->udp_responses_any = false;
        c->udp_responses = (uint32_t)v;
    } else if (!strcmp(name, "udp-requests")) {
        if ((e = rs_parse_size(val, 0, 1000000000, &v)) < 0)
            return bad(err, errlen, name, val, e);
        c->udp_requests = (uint32_t)v;
    } else if (!strcmp(name, "health")) {
        if (!strcmp(val, "tcp"))
            c->health = RS_HEALTH_TCP;
        else if (!strcmp(val, "none") || !strcmp(val, "off"))
            c->health = RS_HEALTH_NONE;
        else {
            snprintf(err, errlen, "invalid --health '%s' (want tcp or none)", val);
            return -EINVAL;
        }
    } else if (!strcmp(name, "health-interval")) {
        return duration(name, val, false, &c->health_interval_ns, err, errlen);
    } else if (!strcmp(name, "health-timeout")) {
        return duration(name, val, false, &c->health_timeout_ns, err, errlen);
    } else if (!strcmp(name, "health-rise") || !strcmp(name, "health-fall")) {
        if ((e = rs_parse_size(val, 1, 1000, &v)) < 0)
            return bad(err, errlen, name, val, e);
        *(!strcmp(name, "health-rise") ? &c->health_rise : &c->health_fall) = (unsigned)v;
    } else if (!strcmp(name, "health-send")) {
        if (rs_unescape_body(val, c->health_send, sizeof(c->health_send), &c->health_send_len) < 0)
            return bad(err, errlen, name, val, -ERANGE);
    } else if (!strcmp(name, "health-expect")) {
        if (rs_unescape_body(val, c->health_expect, sizeof(c->health_expect),
                             &c->health_expect_len) < 0)
            return bad(err, errlen, name, val, -ERANGE);
    } else if (!strcmp(name, "accept-proxy")) {
        c->accept_proxy = true;
    } else {
        return -ENOENT;
    }
    return 0;
}
