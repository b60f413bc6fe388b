#include "opts.h"

#include "ringsock/util/parse.h"
#include "ringsock/net/net.h"
#include "ringsock/services/services.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAIN_SERVICE UINT_MAX /* a --tcp listener, before the service is known */

static unsigned cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* Prints each service's name and help, continuation lines indented under the first. */
static void usage_services(FILE *f)
{
    for (unsigned i = 0; i < rs_nservices; i++) {
        const char *h = rs_services[i]->help;
        size_t n = strcspn(h, "\n");
        fprintf(f, "  %-20s %.*s%s\n", rs_services[i]->name, (int)n, h,
                i == RS_SVC_ECHO ? " (default)" : "");
        while (h[n] == '\n') {
            h += n + 1;
            n = strcspn(h, "\n");
            fprintf(f, "%23s%.*s\n", "", (int)n, h);
        }
    }
}

/* The options part of the usage text. */
static const char *usage_options(void)
{
    return "\n"
           "options:\n"
           "  --tcp ADDR:PORT      listen on TCP (repeatable): 1.2.3.4:7000, [::1]:7000,\n"
           "                       :7000 (any IPv4 address); port 0 picks a free port.\n"
           "                       Default: TCP and UDP on 127.0.0.1:7000\n"
           "  --http ADDR:PORT     an HTTP/1.1 listener beside the service's (repeatable):\n"
           "                       GET/HEAD/POST answer --body, /bytes/N answers N bytes,\n"
           "                       /healthz answers ok; keep-alive and pipelining\n"
           "  --body TEXT          HTTP response body (\\n, \\r, \\t escapes; default hello\\n)\n"
           "  --body-file FILE     HTTP response body read from FILE at start\n"
           "  --max-bytes SIZE     largest N for /bytes/N (default 1m)\n"
           "  --max-body SIZE      larger request bodies get 413 (default 1m)\n"
           "  --header-timeout MS  a request head not finished by then gets 408 (default 10000)\n"
           "  --keepalive-timeout MS  idle HTTP connections are closed after (default 60000)\n"
           "  --udp ADDR:PORT      serve UDP (repeatable), same address forms; a multicast\n"
           "                       group (239.1.2.3:7001, [ff02::1:2]:7001) is joined on\n"
           "                       --join-iface and served by one worker, replies unicast\n"
           "  --join-iface IF      interface for multicast --udp groups (e.g. lo, eth0)\n"
           "  --udp-batch N        datagrams per recvmmsg/sendmmsg (default 32)\n"
           "  --udp-buf SIZE       largest datagram echoed; larger ones are counted as\n"
           "                       truncated and dropped (default 64k: any UDP datagram)\n"
           "  --udp-queue N        replies per socket waiting for the kernel to take them;\n"
           "                       past it datagrams are dropped and counted (default 256)\n"
           "  --udp-rcvbuf SIZE    SO_RCVBUF of UDP sockets (default 4m)\n"
           "  --udp-sndbuf SIZE    SO_SNDBUF of UDP sockets (default: kernel's)\n"
           "  --udp-deny-ports LIST  echo and sockperf answer no datagram from these source\n"
           "                       ports (reflection, echo loops): 53,123,40000-40010 or\n"
           "                       none; replaces the default 0,7,13,17,19,37,53,111,123,\n"
           "                       137,161,389,1900,5353,11211. Counted as dgram_denied\n"
           "  --udp-rate-per-source N  answer each source address at most N times a second,\n"
           "                       bursts of N (a token bucket per address in a table of\n"
           "                       16384 per worker, the stalest evicted); the rest are\n"
           "                       counted as dgram_rate_limited (default: no limit)\n"
           "  --max-msg SIZE       sockperf: longest message (14..16m, default 64k); a longer\n"
           "                       one closes its TCP connection, a datagram is dropped\n"
           "  --idle-timeout T     echo, discard, sockperf TCP: close a connection that moved\n"
           "                       no byte either way for T (30s, 500ms; 0 = never; default\n"
           "                       300s); one owing bytes its peer took none of for T is\n"
           "                       reset (send timeout). Counted: idle_timeouts,\n"
           "                       send_timeouts (sockperf_ prefixed for sockperf)\n"
           "  --threads N          worker threads, each with its own loop and SO_REUSEPORT\n"
           "                       sockets (default: one per CPU)\n"
           "  --backend B          auto, io_uring or epoll (default auto)\n"
           "  --backlog N          listen backlog per worker socket (default: the kernel's\n"
           "                       maximum, net.core.somaxconn)\n"
           "  --write-queue SIZE   bytes queued per connection before reading from it pauses\n"
           "                       (backpressure; default 256k)\n"
           "  --buf-size SIZE      receive buffer size (default 16k)\n"
           "  --buf-count N        io_uring provided receive buffers per worker (default 512)\n"
           "  --sndbuf SIZE        SO_SNDBUF for accepted sockets (default: kernel's)\n"
           "  --rcvbuf SIZE        SO_RCVBUF for accepted sockets (default: kernel's)\n"
           "  --max-conns N        connections per worker; more are refused (default 100000)\n"
           "  --max-conns-per-ip N  TCP connections open per source address, over all\n"
           "                       listeners (default: any); past it a new one is reset at\n"
           "                       once and counted (conns_refused_per_ip). Each address is\n"
           "                       then served by one worker (SO_REUSEPORT steering)\n"
           "  --shutdown-timeout MS  on SIGINT/SIGTERM, time given to connections to finish\n"
           "                       before they are closed (default 2000)\n"
           "  --drain-delay T      on SIGTERM, first tell systemd STOPPING=1 and keep\n"
           "                       accepting for T (5s, 500ms; default 0) so load balancers\n"
           "                       see the server go and stop sending it new connections;\n"
           "                       then the listeners close and --shutdown-timeout starts\n"
           "  --drain-timeout T    on SIGHUP (reload), how long the old process keeps serving\n"
           "                       its open connections, until their peers close them, once\n"
           "                       the new process accepts (default 30s); then the rest are\n"
           "                       closed\n"
           "  --pid-file FILE      write the server's pid to FILE once it listens (whole:\n"
           "                       temporary file, then rename); removed at exit\n"
           "  --stats T            every T seconds (2, 0.5, 500ms; at least 10ms) print one\n"
           "                       line per worker and one for all of them, 'ringsock: stats\n"
           "                       t=S w=N|all key=value ...': open connections; accepts in\n"
           "                       the interval and per second; msgs/s, where a message is a\n"
           "                       TCP receive that delivered data or a datagram received;\n"
           "                       bytes/s in and out (TCP and UDP); batch, events per loop\n"
           "                       turn (io_uring CQEs per reap, epoll events per wait);\n"
           "                       backpressure pauses and ENOBUFS receives in the interval;\n"
           "                       with UDP, datagrams per recvmmsg/sendmmsg batch; with\n"
           "                       HTTP, requests/s\n"
           "  --counters           list the counters of the totals, worker and --stats lines:\n"
           "                       block, name, counter or gauge, meaning\n"
           "  --help, --version\n"
           "\n"
           "SIZE takes k, m or g (binary). SIGINT/SIGTERM stop the server and print totals.\n";
}

void rs_server_usage(FILE *f)
{
    fputs("usage: ringsock SERVICE [options]\n"
          "\n"
          "services:\n",
          f);
    usage_services(f);
    fputs(usage_options(), f);
}

enum {
    OPT_TCP = 256,
    OPT_THREADS,
    OPT_BACKEND,
    OPT_BACKLOG,
    OPT_WRITE_QUEUE,
    OPT_BUF_SIZE,
    OPT_BUF_COUNT,
    OPT_SNDBUF,
    OPT_RCVBUF,
    OPT_MAX_CONNS,
    OPT_MAX_CONNS_PER_IP,
    OPT_SHUTDOWN,
    OPT_DRAIN_DELAY,
    OPT_DRAIN_TIMEOUT,
    OPT_PID_FILE,
    OPT_UDP,
    OPT_JOIN_IFACE,
    OPT_UDP_BATCH,
    OPT_UDP_BUF,
    OPT_UDP_QUEUE,
    OPT_UDP_RCVBUF,
    OPT_UDP_SNDBUF,
    OPT_UDP_DENY_PORTS,
    OPT_UDP_RATE,
    OPT_HTTP,
    OPT_BODY,
    OPT_BODY_FILE,
    OPT_MAX_BYTES,
    OPT_HEADER_TIMEOUT,
    OPT_MAX_BODY,
    OPT_KEEPALIVE_TIMEOUT,
    OPT_STATS,
    OPT_MAX_MSG,
    OPT_IDLE_TIMEOUT,
    OPT_COUNTERS,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option long_opts[] = {
    {"tcp", required_argument, NULL, OPT_TCP},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"backlog", required_argument, NULL, OPT_BACKLOG},
    {"write-queue", required_argument, NULL, OPT_WRITE_QUEUE},
    {"buf-size", required_argument, NULL, OPT_BUF_SIZE},
    {"buf-count", required_argument, NULL, OPT_BUF_COUNT},
    {"sndbuf", required_argument, NULL, OPT_SNDBUF},
    {"rcvbuf", required_argument, NULL, OPT_RCVBUF},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"max-conns-per-ip", required_argument, NULL, OPT_MAX_CONNS_PER_IP},
    {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN},
    {"drain-delay", required_argument, NULL, OPT_DRAIN_DELAY},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"udp", required_argument, NULL, OPT_UDP},
    {"join-iface", required_argument, NULL, OPT_JOIN_IFACE},
    {"udp-batch", required_argument, NULL, OPT_UDP_BATCH},
    {"udp-buf", required_argument, NULL, OPT_UDP_BUF},
    {"udp-queue", required_argument, NULL, OPT_UDP_QUEUE},
    {"udp-rcvbuf", required_argument, NULL, OPT_UDP_RCVBUF},
    {"udp-sndbuf", required_argument, NULL, OPT_UDP_SNDBUF},
    {"udp-deny-ports", required_argument, NULL, OPT_UDP_DENY_PORTS},
    {"udp-rate-per-source", required_argument, NULL, OPT_UDP_RATE},
    {"http", required_argument, NULL, OPT_HTTP},
    {"body", required_argument, NULL, OPT_BODY},
    {"body-file", required_argument, NULL, OPT_BODY_FILE},
    {"max-bytes", required_argument, NULL, OPT_MAX_BYTES},
    {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"keepalive-timeout", required_argument, NULL, OPT_KEEPALIVE_TIMEOUT},
    {"stats", required_argument, NULL, OPT_STATS},
    {"max-msg", required_argument, NULL, OPT_MAX_MSG},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"counters", no_argument, NULL, OPT_COUNTERS},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

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

static int bad_value(char *err, size_t errlen, const char *flag, const char *val, int e)
{
    snprintf(err, errlen, "invalid value for --%s: '%s'%s", flag, val,
             e == -ERANGE ? " (out of range)" : "");
    return -EINVAL;
}

int rs_server_opts_parse(int argc, char **argv, struct rs_server_opts *o, char *err, size_t errlen)
{
    uint64_t v;
    int e, svc;

    memset(o, 0, sizeof(*o));
    o->service = RS_SVC_ECHO;
    o->threads = cpu_count();
    o->backend = RS_BACKEND_AUTO;
    o->backlog = 0; /* the kernel's maximum */
    o->shutdown_ms = 2000;
    o->drain_timeout_ms = 30000;
    o->udp_batch = 32;
    o->udp_buf = 65536;
    o->udp_queue = 256;
    o->udp_rcvbuf = 4 << 20;
    rs_parse_port_list(RS_UDP_DENY_DEFAULT, o->udp_deny, &o->udp_deny_count);
    memcpy(o->body, "hello\n", 6);
    o->body_len = 6;
    o->max_bytes = 1 << 20;
    o->max_body = 1 << 20;
    o->header_timeout_ms = 10000;
    o->keepalive_timeout_ms = 60000;
    o->max_msg = 65536;
    o->idle_timeout_ns = 300ull * 1000000000;
    rs_loop_config_default(&o->loop);
    err[0] = '\0';

    opterr = 0;
    optind = 0; /* full re-initialisation, so the parser can run more than once */
    for (;;) {
        int lidx = 0;
        int opt = getopt_long(argc, argv, ":", long_opts, &lidx);
        if (opt == -1)
            break;
        const char *name =
            opt >= OPT_TCP && opt <= OPT_VERSION ? long_opts[opt - OPT_TCP].name : "";
        switch (opt) {
        case OPT_TCP:
        case OPT_HTTP:
            svc = opt == OPT_HTTP ? rs_service_index("http") : 0;
            if (svc < 0) {
                snprintf(err, errlen, "--http: this ringsock has no http service");
                return -EINVAL;
            }
            if (o->ntcp >= RS_MAX_ADDRS) {
                snprintf(err, errlen, "too many --tcp/--http addresses (at most %d)", RS_MAX_ADDRS);
                return -EINVAL;
            }
            if (rs_addr_parse(optarg, &o->tcp[o->ntcp]) < 0) {
                snprintf(err, errlen,
                         "invalid --%s address '%s' (want 1.2.3.4:PORT, [::1]:PORT or :PORT)", name,
                         optarg);
                return -EINVAL;
            }
            o->tcp_service[o->ntcp++] = opt == OPT_HTTP ? (unsigned)svc : MAIN_SERVICE;
            break;
        case OPT_BODY:
            if (rs_unescape_body(optarg, o->body, sizeof(o->body), &o->body_len) < 0) {
                snprintf(err, errlen, "--body is longer than %zu bytes (use --body-file)",
                         sizeof(o->body));
                return -EINVAL;
            }
            break;
        case OPT_BODY_FILE:
            o->body_file = optarg;
            break;
        case OPT_MAX_BYTES:
            if ((e = rs_parse_size(optarg, 0, 1ull << 30, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->max_bytes = v;
            break;
        case OPT_MAX_BODY:
            if ((e = rs_parse_size(optarg, 0, 1ull << 40, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->max_body = v;
            break;
        case OPT_HEADER_TIMEOUT:
        case OPT_KEEPALIVE_TIMEOUT:
            if ((e = rs_parse_size(optarg, 1, 86400000, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            if (opt == OPT_HEADER_TIMEOUT)
                o->header_timeout_ms = v;
            else
                o->keepalive_timeout_ms = v;
            break;
        case OPT_MAX_MSG:
            if ((e = rs_parse_size(optarg, 14, 16 << 20, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->max_msg = (uint32_t)v;
            break;
        case OPT_IDLE_TIMEOUT:
            if ((e = rs_parse_duration(optarg, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            if (v > 0 && v < 1000000) /* under a millisecond is a mistake, not a timeout */
                return bad_value(err, errlen, name, optarg, -ERANGE);
            o->idle_timeout_ns = v;
            break;
        case OPT_UDP:
            if (o->nudp >= RS_MAX_ADDRS) {
                snprintf(err, errlen, "too many --udp addresses (at most %d)", RS_MAX_ADDRS);
                return -EINVAL;
            }
            if (rs_addr_parse(optarg, &o->udp[o->nudp]) < 0) {
                snprintf(err, errlen,
                         "invalid --udp address '%s' (want 1.2.3.4:PORT, [::1]:PORT or :PORT)",
                         optarg);
                return -EINVAL;
            }
            o->nudp++;
            break;
        case OPT_JOIN_IFACE:
            o->join_iface = optarg;
            break;
        case OPT_UDP_BATCH:
            if ((e = rs_parse_size(optarg, 1, 1024, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->udp_batch = (uint32_t)v;
            break;
        case OPT_UDP_BUF:
            if ((e = rs_parse_size(optarg, 1, 65536, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->udp_buf = (uint32_t)v;
            break;
        case OPT_UDP_QUEUE:
            if ((e = rs_parse_size(optarg, 0, 1 << 20, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->udp_queue = (uint32_t)v;
            break;
        case OPT_UDP_RCVBUF:
        case OPT_UDP_SNDBUF:
            if ((e = rs_parse_size(optarg, 1, 1 << 30, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            if (opt == OPT_UDP_RCVBUF)
                o->udp_rcvbuf = (int)v;
            else
                o->udp_sndbuf = (int)v;
            break;
        case OPT_UDP_DENY_PORTS:
            if ((e = rs_parse_port_list(optarg, o->udp_deny, &o->udp_deny_count)) < 0) {
                snprintf(err, errlen,
                         "invalid --udp-deny-ports '%s'%s (want ports and ranges: "
                         "53,123,40000-40010, or none)",
                         optarg, e == -ERANGE ? " (a port over 65535)" : "");
                return -EINVAL;
            }
            break;
        case OPT_UDP_RATE:
            if ((e = rs_parse_size(optarg, 1, 100000000, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->udp_rate = (uint32_t)v;
            break;
        case OPT_THREADS:
            if ((e = rs_parse_size(optarg, 1, 1024, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->threads = (unsigned)v;
            break;
        case OPT_BACKEND:
            if (rs_backend_parse(optarg, &o->backend) < 0) {
                snprintf(err, errlen, "invalid --backend '%s' (want auto, io_uring or epoll)",
                         optarg);
                return -EINVAL;
            }
            break;
        case OPT_BACKLOG:
            if ((e = rs_parse_size(optarg, 1, 1 << 20, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->backlog = (int)v;
            break;
        case OPT_WRITE_QUEUE:
            if ((e = rs_parse_size(optarg, 1, 1ull << 30, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->loop.write_queue = v;
            break;
        case OPT_BUF_SIZE:
            if ((e = rs_parse_size(optarg, 64, 1 << 20, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->loop.buf_size = (uint32_t)v;
            break;
        case OPT_BUF_COUNT:
            if ((e = rs_parse_size(optarg, 1, 32768, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->loop.buf_count = (uint32_t)v;
            break;
        case OPT_SNDBUF:
        case OPT_RCVBUF:
            if ((e = rs_parse_size(optarg, 1, 1 << 30, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            if (opt == OPT_SNDBUF)
                o->loop.sndbuf = (int)v;
            else
                o->loop.rcvbuf = (int)v;
            break;
        case OPT_MAX_CONNS:
            if ((e = rs_parse_size(optarg, 1, 1 << 23, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->loop.max_conns = (uint32_t)v;
            break;
        case OPT_MAX_CONNS_PER_IP:
            if ((e = rs_parse_size(optarg, 1, 1 << 23, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->loop.max_conns_per_ip = (uint32_t)v;
            break;
        case OPT_SHUTDOWN:
            if ((e = rs_parse_size(optarg, 0, 3600000, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            o->shutdown_ms = (unsigned)v;
            break;
        case OPT_DRAIN_DELAY:
            if ((e = rs_parse_duration(optarg, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            if (v > 3600ull * 1000000000) /* an hour: longer is a mistake */
                return bad_value(err, errlen, name, optarg, -ERANGE);
            o->drain_delay_ns = v;
            break;
        case OPT_DRAIN_TIMEOUT:
            if ((e = rs_parse_duration(optarg, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            if (v > 24ull * 3600 * 1000000000) /* a day: longer is a mistake */
                return bad_value(err, errlen, name, optarg, -ERANGE);
            o->drain_timeout_ms = (unsigned)(v / 1000000);
            break;
        case OPT_PID_FILE:
            if (!optarg[0])
                return bad_value(err, errlen, name, optarg, -EINVAL);
            o->pid_file = optarg;
            break;
        case OPT_STATS:
            if ((e = rs_parse_duration(optarg, &v)) < 0)
                return bad_value(err, errlen, name, optarg, e);
            if (v < 10000000)
                return bad_value(err, errlen, name, optarg, -ERANGE);
            o->stats_ns = v;
            break;
        case OPT_COUNTERS:
            return RS_OPTS_COUNTERS;
        case OPT_HELP:
            return RS_OPTS_HELP;
        case OPT_VERSION:
            return RS_OPTS_VERSION;
        case ':':
            snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
            return -EINVAL;
        default:
            snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
            return -EINVAL;
        }
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
    for (unsigned i = 0; i < o->ntcp; i++)
        if (o->tcp_service[i] == MAIN_SERVICE)
            o->tcp_service[i] = o->service;
    if (o->nudp && s->udp_mode == RS_UDP_NONE) {
        snprintf(err, errlen, "the %s service has no UDP side", s->name);
        return -EINVAL;
    }
    if (o->ntcp == 0 && o->nudp == 0) {
        rs_addr_parse(s->listen, &o->tcp[0]);
        o->tcp_service[0] = o->service;
        o->ntcp = 1;
        if (s->udp_mode != RS_UDP_NONE) {
            rs_addr_parse(s->listen, &o->udp[0]);
            o->nudp = 1;
        }
    }
    for (unsigned i = 0; i < o->nudp; i++) {
        if (rs_addr_is_multicast(&o->udp[i]) && !o->join_iface) {
            snprintf(err, errlen, "--udp multicast group needs --join-iface IFNAME");
            return -EINVAL;
        }
    }
    return RS_OPTS_RUN;
}
