/* The server's command line, read through the option table (optable.c): global options, and
 * listener options for the one listener the flags describe (plus an http listener for the
 * --http addresses, with the same options). */

#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "optable.h"
#include "ringsock/net/net.h"

#define OPT_BASE 256 /* getopt_long's value for rs_optdefs[i] is OPT_BASE + i */
#define MAX_OPTS 128 /* at least rs_noptdefs + 1 */

/* "echo, discard, http or sockperf": the services' names. */
static void service_names(char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < rs_nservices && n < cap; i++) {
        const char *sep = i == 0 ? "" : i + 1 == rs_nservices ? " or " : ", ";
        int k = snprintf(buf + n, cap - n, "%s%s", sep, rs_services[i]->name);
        if (k < 0)
            break;
        n += (size_t)k;
    }
}

/* getopt_long's tables, from the option table. */
static void getopt_tables(struct option *longs, char *shorts, size_t shorts_cap)
{
    size_t ns = 0;
    shorts[ns++] = ':';
    for (unsigned i = 0; i < rs_noptdefs; i++) {
        const struct rs_optdef *d = &rs_optdefs[i];
        longs[i] = (struct option){d->name, d->arg ? required_argument : no_argument, NULL,
                                   (int)(OPT_BASE + i)};
        if (d->alias && ns + 2 < shorts_cap) {
            shorts[ns++] = d->alias;
            if (d->arg)
                shorts[ns++] = ':';
        }
    }
    longs[rs_noptdefs] = (struct option){NULL, 0, NULL, 0};
    shorts[ns] = '\0';
}

static const struct rs_optdef *by_alias(int c)
{
    for (unsigned i = 0; i < rs_noptdefs; i++)
        if (rs_optdefs[i].alias && rs_optdefs[i].alias == c)
            return &rs_optdefs[i];
    return NULL;
}

/* The listeners the flags describe: the service's (main, unless it has no address) and an
 * http one for the --http addresses (http), which takes the same listener options. */
static void flags_listeners(struct rs_server_opts *o)
{
    struct rs_listener_opts *main_l = &o->lst[0], *http = &o->lst[1];
    unsigned n = 0;
    snprintf(main_l->name, sizeof(main_l->name), "%s", rs_services[o->service]->name);
    if (main_l->ntcp || main_l->nudp)
        n++;
    if (http->ntcp) {
        struct rs_addr tcp[RS_MAX_ADDRS];
        unsigned ntcp = http->ntcp;
        memcpy(tcp, http->tcp, sizeof(tcp));
        struct rs_listener_opts *dst = &o->lst[n];
        if (dst != main_l)
            *dst = *main_l;
        memcpy(dst->tcp, tcp, sizeof(tcp));
        dst->ntcp = ntcp;
        dst->nudp = 0;
        dst->service = (unsigned)rs_service_index("http");
        snprintf(dst->name, sizeof(dst->name), "http");
        n++;
    }
    o->nlisteners = n;
}

int rs_server_opts_parse(int argc, char **argv, struct rs_server_opts *o, char *err, size_t errlen)
{
    static struct option longs[MAX_OPTS];
    char shorts[32];
    const struct rs_optdef *other = NULL; /* an option given with --config */
    bool check = false;
    const struct rs_optdef *relay_opt = NULL; /* a relay-only option given */
    int svc;

    rs_server_opts_default(o);
    struct rs_listener_opts *main_l = &o->lst[0], *http = &o->lst[1];
    rs_listener_default(main_l, RS_SVC_ECHO);
    rs_listener_default(http, RS_SVC_HTTP);
    err[0] = '\0';
    if (rs_noptdefs + 1 > sizeof(longs) / sizeof(longs[0])) {
        snprintf(err, errlen, "internal: option table larger than getopt's");
        return -EINVAL;
    }
    getopt_tables(longs, shorts, sizeof(shorts));

    opterr = 0;
    optind = 0; /* full re-initialisation, so the parser can run more than once */
    for (;;) {
        int lidx = 0;
        int opt = getopt_long(argc, argv, shorts, longs, &lidx);
        if (opt == -1)
            break;
        const struct rs_optdef *d = NULL;
        if (opt >= OPT_BASE && opt < OPT_BASE + (int)rs_noptdefs)
            d = &rs_optdefs[opt - OPT_BASE];
        else if (opt != ':' && opt != '?')
            d = by_alias(opt);
        if (!d) {
            if (opt == ':')
                snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
            else
                snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
            return -EINVAL;
        }
        char what[64];
        snprintf(what, sizeof(what), "--%s", d->name);
        switch (d->action) {
        case RS_ACT_HELP:
            return RS_OPTS_HELP;
        case RS_ACT_HELP_CONFIG:
            return RS_OPTS_HELP_CONFIG;
        case RS_ACT_VERSION:
            return RS_OPTS_VERSION;
        case RS_ACT_COUNTERS:
            return RS_OPTS_COUNTERS;
        case RS_ACT_CONFIG:
            o->config = optarg;
            continue;
        case RS_ACT_CHECK:
            check = true;
            continue;
        case RS_ACT_HTTP:
            if (rs_service_index("http") < 0) {
                snprintf(err, errlen, "--http: this ringsock has no http service");
                return -EINVAL;
            }
            if (d->set(d, http, optarg, what, err, errlen) < 0)
                return -EINVAL;
            break;
        case RS_ACT_NONE:
            if (d->set(d, d->scope == RS_OPT_GLOBAL ? (void *)o : (void *)main_l, optarg, what, err,
                       errlen) < 0)
                return -EINVAL;
            if (!relay_opt && d->services && strcmp(d->services, "relay") == 0)
                relay_opt = d;
            break;
        }
        if (!other)
            other = d;
    }
    /* --config: the file is the whole configuration, as with nginx -c; only --check goes
     * with it, so what runs is what --check validated. */
    if (o->config) {
        if (other || optind < argc) {
            snprintf(err, errlen,
                     "--config takes no other option than --check (the file is the whole "
                     "configuration): '%s%s'",
                     other ? "--" : "", other ? other->name : argv[optind]);
            return -EINVAL;
        }
        o->from_config = true;
        return check ? RS_OPTS_CHECK : RS_OPTS_CONFIG;
    }
    if (check) {
        snprintf(err, errlen, "--check needs --config FILE");
        return -EINVAL;
    }
    /* GNU getopt moved the operands to the end: at most one, the service. */
    if (optind < argc) {
        const char *arg = argv[optind];
        svc = rs_service_index(arg);
        if (svc < 0) {
            char names[256];
            service_names(names, sizeof(names));
            snprintf(err, errlen, "unknown service '%s' (want %s)", arg, names);
            return -EINVAL;
        }
        o->service = (unsigned)svc;
        if (optind + 1 < argc) {
            snprintf(err, errlen, "unexpected argument '%s'", argv[optind + 1]);
            return -EINVAL;
        }
    }
    const struct rs_service *s = rs_services[o->service];
    main_l->service = o->service;
    if ((int)o->service == rs_service_index("relay")) {
        if (rs_relay_conf_check(&main_l->relay, err, errlen) < 0)
            return -EINVAL;
    } else if (relay_opt) {
        snprintf(err, errlen, "--%s and the other relay options are for 'ringsock relay'",
                 relay_opt->name);
        return -EINVAL;
    }
    if (main_l->nudp && s->udp_mode == RS_UDP_NONE) {
        snprintf(err, errlen, "the %s service has no UDP side", s->name);
        return -EINVAL;
    }
    if (main_l->ntcp == 0 && main_l->nudp == 0 && http->ntcp == 0) {
        rs_addr_parse(s->listen, &main_l->tcp[0]);
        main_l->ntcp = 1;
        if (s->udp_mode != RS_UDP_NONE) {
            rs_addr_parse(s->listen, &main_l->udp[0]);
            main_l->nudp = 1;
        }
    }
    for (unsigned i = 0; i < main_l->nudp; i++) {
        if (rs_addr_is_multicast(&main_l->udp[i]) && !main_l->join_iface[0]) {
            snprintf(err, errlen, "--udp multicast group needs --join-iface IFNAME");
            return -EINVAL;
        }
    }
    flags_listeners(o);
    return RS_OPTS_RUN;
}
