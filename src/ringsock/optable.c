/* The server's option table, its setters and the defaults; usage.c prints it. */

#include "optable.h"
#include "opts_relay.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ringsock/util/parse.h"
#include "ringsock/net/addr.h"
#include "ringsock/core/loop.h"

static int bad_value(char *err, size_t errlen, const char *what, const char *val, int e)
{
    snprintf(err, errlen, "invalid value for %s: '%s'%s", what, val,
             e == -ERANGE ? " (out of range)" : "");
    return -EINVAL;
}

static void store(const struct rs_optdef *d, void *target, uint64_t v)
{
    char *p = (char *)target + d->off;
    if (d->width == sizeof(uint64_t)) {
        memcpy(p, &v, sizeof(v));
    } else {
        uint32_t v32 = (uint32_t)v; /* ints and unsigneds alike: every bound is under 2^31 */
        memcpy(p, &v32, sizeof(v32));
    }
}

/* A number or size (k, m, g) in [min, max]. */
static int set_number(const struct rs_optdef *d, void *target, const char *val, const char *what,
                      char *err, size_t errlen)
{
    uint64_t v;
    int e = rs_parse_size(val, d->min, d->max, &v);
    if (e < 0)
        return bad_value(err, errlen, what, val, e);
    store(d, target, v);
    return 0;
}

/* A duration (30s, 500ms) of at least min, or 0 for off. */
static int set_timeout(const struct rs_optdef *d, void *target, const char *val, const char *what,
                       char *err, size_t errlen)
{
    uint64_t v;
    int e = rs_parse_duration(val, &v);
    if (e < 0)
        return bad_value(err, errlen, what, val, e);
    if (v > 0 && v < d->min) /* under the minimum is a mistake, not a timeout */
        return bad_value(err, errlen, what, val, -ERANGE);
    store(d, target, v);
    return 0;
}

/* A duration of at least min. */
static int set_interval(const struct rs_optdef *d, void *target, const char *val, const char *what,
                        char *err, size_t errlen)
{
    uint64_t v;
    int e = rs_parse_duration(val, &v);
    if (e < 0)
        return bad_value(err, errlen, what, val, e);
    if (v < d->min)
        return bad_value(err, errlen, what, val, -ERANGE);
    store(d, target, v);
    return 0;
}

/* A string kept in a char array of width bytes. */
static int set_string(const struct rs_optdef *d, void *target, const char *val, const char *what,
                      char *err, size_t errlen)
{
    size_t n = strlen(val);
    if (n == 0 || n >= d->width) {
        snprintf(err, errlen, "invalid value for %s: '%.40s%s' (1 to %zu characters)", what, val,
                 n > 40 ? "..." : "", d->width - 1);
        return -EINVAL;
    }
    memcpy((char *)target + d->off, val, n + 1);
    return 0;
}

/* One more address in the listener's TCP (or UDP) list. */
static int add_addr(struct rs_addr *list, unsigned *n, const char *val, const char *what,
                    const char *toomany, char *err, size_t errlen)
{
    if (*n >= RS_MAX_ADDRS) {
        snprintf(err, errlen, "too many %s addresses (at most %d)", toomany, RS_MAX_ADDRS);
        return -EINVAL;
    }
    if (rs_addr_parse(val, &list[*n]) < 0) {
        snprintf(err, errlen, "invalid %s address '%s' (want 1.2.3.4:PORT, [::1]:PORT or :PORT)",
                 what, val);
        return -EINVAL;
    }
    (*n)++;
    return 0;
}

static int set_tcp(const struct rs_optdef *d, void *target, const char *val, const char *what,
                   char *err, size_t errlen)
{
    (void)d;
    struct rs_listener_opts *l = target;
    return add_addr(l->tcp, &l->ntcp, val, what, what[0] == '-' ? "--tcp/--http" : "tcp", err,
                    errlen);
}

static int set_udp(const struct rs_optdef *d, void *target, const char *val, const char *what,
                   char *err, size_t errlen)
{
    (void)d;
    struct rs_listener_opts *l = target;
    return add_addr(l->udp, &l->nudp, val, what, what, err, errlen);
}

static int set_body(const struct rs_optdef *d, void *target, const char *val, const char *what,
                    char *err, size_t errlen)
{
    (void)d;
    struct rs_listener_opts *l = target;
    if (rs_unescape_body(val, l->body, sizeof(l->body), &l->body_len) < 0) {
        snprintf(err, errlen, "%s is longer than %zu bytes (use %s)", what, sizeof(l->body),
                 what[0] == '-' ? "--body-file" : "body-file");
        return -EINVAL;
    }
    return 0;
}

static int set_deny_ports(const struct rs_optdef *d, void *target, const char *val,
                          const char *what, char *err, size_t errlen)
{
    (void)d;
    struct rs_listener_opts *l = target;
    int e = rs_parse_port_list(val, l->udp_deny, &l->udp_deny_count);
    if (e < 0) {
        snprintf(err, errlen,
                 "invalid %s '%s'%s (want ports and ranges: 53,123,40000-40010, or none)", what,
                 val, e == -ERANGE ? " (a port over 65535)" : "");
        return -EINVAL;
    }
    return 0;
}

static int set_backend(const struct rs_optdef *d, void *target, const char *val, const char *what,
                       char *err, size_t errlen)
{
    (void)d;
    struct rs_server_opts *o = target;
    if (rs_backend_parse(val, &o->backend) < 0) {
        snprintf(err, errlen, "invalid %s '%s' (want auto, io_uring or epoll)", what, val);
        return -EINVAL;
    }
    return 0;
}

/* A duration (5s, 500ms) between min and max. */
static int set_duration(const struct rs_optdef *d, void *target, const char *val, const char *what,
                        char *err, size_t errlen)
{
    uint64_t v;
    int e = rs_parse_duration(val, &v);
    if (e < 0)
        return bad_value(err, errlen, what, val, e);
    if (v < d->min || v > d->max)
        return bad_value(err, errlen, what, val, -ERANGE);
    store(d, target, v);
    return 0;
}

/* A duration kept in milliseconds, at most max nanoseconds. */
static int set_duration_ms(const struct rs_optdef *d, void *target, const char *val,
                           const char *what, char *err, size_t errlen)
{
    uint64_t v;
    int e = rs_parse_duration(val, &v);
    if (e < 0)
        return bad_value(err, errlen, what, val, e);
    if (v < d->min || v > d->max)
        return bad_value(err, errlen, what, val, -ERANGE);
    store(d, target, v / 1000000);
    return 0;
}

static int set_admin(const struct rs_optdef *d, void *target, const char *val, const char *what,
                     char *err, size_t errlen)
{
    (void)d;
    struct rs_server_opts *o = target;
    if (rs_addr_parse(val, &o->admin) < 0) {
        snprintf(err, errlen, "invalid %s address '%s' (want 127.0.0.1:PORT, [::1]:PORT or :PORT)",
                 what, val);
        return -EINVAL;
    }
    o->has_admin = true;
    return 0;
}

/* --idle-timeout: the services' idle and send timeout, and the relay's session idle timeout. */
static int set_idle(const struct rs_optdef *d, void *target, const char *val, const char *what,
                    char *err, size_t errlen)
{
    struct rs_listener_opts *l = target;
    int e = set_timeout(d, target, val, what, err, errlen);
    if (e == 0)
        l->relay.idle_timeout_ns = l->idle_timeout_ns;
    return e;
}

/* A relay option: opts_relay.c parses it by name into the listener's relay configuration. A
 * flag (no value on the command line) is a yes or no in a config file. */
static int set_relay(const struct rs_optdef *d, void *target, const char *val, const char *what,
                     char *err, size_t errlen)
{
    struct rs_listener_opts *l = target;
    if (!d->arg && val) {
        if (!strcmp(val, "no") || !strcmp(val, "false") || !strcmp(val, "off") ||
            !strcmp(val, "0")) {
            l->relay.accept_proxy = false;
            return 0;
        }
        if (strcmp(val, "yes") && strcmp(val, "true") && strcmp(val, "on") && strcmp(val, "1")) {
            snprintf(err, errlen, "invalid value for %s: '%s' (want yes or no)", what, val);
            return -EINVAL;
        }
        val = NULL;
    }
    return rs__relay_opt(d->name, val, &l->relay, err, errlen) < 0 ? -EINVAL : 0;
}

#define GLOBAL(field)                                                                              \
    .scope = RS_OPT_GLOBAL, .off = offsetof(struct rs_server_opts, field),                         \
    .width = sizeof(((struct rs_server_opts *)0)->field)
#define LISTENER(field)                                                                            \
    .scope = RS_OPT_LISTENER, .off = offsetof(struct rs_listener_opts, field),                     \
    .width = sizeof(((struct rs_listener_opts *)0)->field)
#define RELAY      .scope = RS_OPT_LISTENER, .services = "relay", .set = set_relay
#define MS_PER_DAY 86400000
#define NS_PER_MS  1000000ull

/* clang-format off */
/* In the order --help and the key reference show them, listener options first. */
const struct rs_optdef rs_optdefs[] = {
    /* Per listener. */
    {.name = "tcp", .arg = "ADDR:PORT", LISTENER(tcp), .repeat = true, .set = set_tcp,
     .help = "listen on TCP: 1.2.3.4:7000, [::1]:7000, :7000 (any IPv4 address); port 0 picks a "
             "free port. Without --tcp, --udp or --http, the service's own address (echo: TCP "
             "and UDP 127.0.0.1:7000; http: 127.0.0.1:8080; sockperf: 127.0.0.1:11111)"},
    {.name = "udp", .arg = "ADDR:PORT", LISTENER(udp), .services = "udp", .repeat = true,
     .set = set_udp,
     .help = "serve UDP, same address forms; a multicast group (239.1.2.3:7001, "
             "[ff02::1:2]:7001) is joined on join-iface and served by one worker, replies "
             "unicast"},
    {.name = "body", .arg = "TEXT", LISTENER(body), .services = "http", .def = "hello\\n",
     .set = set_body,
     .help = "HTTP response body (\\n, \\r, \\t escapes)"},
    {.name = "body-file", .arg = "FILE", LISTENER(body_file), .services = "http", .set = set_string,
     .help = "HTTP response body read from FILE at start"},
    {.name = "max-bytes", .arg = "SIZE", LISTENER(max_bytes), .services = "http", .def = "1m",
     .set = set_number, .min = 0, .max = 1ull << 30,
     .help = "largest N for /bytes/N"},
    {.name = "max-body", .arg = "SIZE", LISTENER(max_body), .services = "http", .def = "1m",
     .set = set_number, .min = 0, .max = 1ull << 40,
     .help = "larger request bodies get 413"},
    {.name = "header-timeout", .arg = "MS", LISTENER(header_timeout_ms), .services = "http",
     .def = "10000", .set = set_number, .min = 1, .max = MS_PER_DAY,
     .help = "a request head not finished by then gets 408"},
    {.name = "keepalive-timeout", .arg = "MS", LISTENER(keepalive_timeout_ms), .services = "http",
     .def = "60000", .set = set_number, .min = 1, .max = MS_PER_DAY,
     .help = "idle HTTP connections are closed after"},
    {.name = "join-iface", .arg = "IF", LISTENER(join_iface), .services = "udp", .set = set_string,
     .help = "interface for multicast UDP groups (e.g. lo, eth0)"},
    {.name = "udp-batch", .arg = "N", LISTENER(udp_batch), .services = "udp", .def = "32",
     .set = set_number, .min = 1, .max = 1024,
     .help = "datagrams per recvmmsg/sendmmsg"},
    {.name = "udp-buf", .arg = "SIZE", LISTENER(udp_buf), .services = "udp",
     .def = "64k: any UDP datagram", .set = set_number, .min = 1, .max = 65536,
     .help = "largest datagram echoed; larger ones are counted as truncated and dropped"},
    {.name = "udp-queue", .arg = "N", LISTENER(udp_queue), .services = "echo discard sockperf",
     .def = "256",
     .set = set_number, .min = 0, .max = 1 << 20,
     .help = "replies per socket waiting for the kernel to take them; past it datagrams are "
             "dropped and counted"},
    {.name = "udp-rcvbuf", .arg = "SIZE", LISTENER(udp_rcvbuf), .services = "udp", .def = "4m",
     .set = set_number, .min = 1, .max = 1 << 30,
     .help = "SO_RCVBUF of UDP sockets"},
    {.name = "udp-sndbuf", .arg = "SIZE", LISTENER(udp_sndbuf), .services = "udp",
     .def = "the kernel's", .set = set_number, .min = 1, .max = 1 << 30,
     .help = "SO_SNDBUF of UDP sockets"},
    {.name = "udp-deny-ports", .arg = "LIST", LISTENER(udp_deny), .services = "echo sockperf",
     .def = "0,7,13,17,19,37,53,111,123,137,161,389,1900,5353,11211", .set = set_deny_ports,
     .help = "answer no datagram from these source ports (reflection, echo loops): "
             "53,123,40000-40010, or none. Counted as dgram_denied"},
    {.name = "udp-rate-per-source", .arg = "N", LISTENER(udp_rate), .services = "echo sockperf",
     .def = "no limit", .set = set_number, .min = 1, .max = 100000000,
     .help = "answer each source address at most N times a second, bursts of N (a token bucket "
             "per address in a table of 16384 per worker, the stalest evicted); the rest are "
             "counted as dgram_rate_limited"},
    {.name = "max-msg", .arg = "SIZE", LISTENER(max_msg), .services = "sockperf", .def = "64k",
     .set = set_number, .min = 14, .max = 16 << 20,
     .help = "longest sockperf message (14..16m); a longer one closes its TCP connection, a "
             "datagram is dropped"},
    {.name = "idle-timeout", .arg = "T", LISTENER(idle_timeout_ns),
     .services = "echo discard sockperf relay", .def = "300s", .set = set_idle, .min = NS_PER_MS,
     .max = UINT64_MAX,
     .help = "close a TCP connection that moved no byte either way for T (30s, 500ms; 0 = "
             "never); one owing bytes its peer took none of for T is reset (send timeout). "
             "Counted: idle_timeouts, send_timeouts (sockperf_ prefixed for sockperf). relay: "
             "a session with no byte either way (default 10m)"},

    /* The relay (docs/relay.md). */
    {.name = "upstream", .arg = "SPEC", RELAY, .repeat = true,
     .help = "a server to relay to (repeatable, at least one): ADDR[,weight=N][,backup][,down]"
             "[,max-conns=N], ADDR as 1.2.3.4:PORT or [::1]:PORT"},
    {.name = "balance", .arg = "NAME", RELAY, .def = "rr",
     .help = "rr (smooth weighted round robin), least-conn, random2, hash-src or chash-src "
             "(client address)"},
    {.name = "connect-timeout", .arg = "T", RELAY, .def = "5s",
     .help = "per upstream connect; on refusal, timeout or unreachable the next untried "
             "upstream, the client's bytes kept meanwhile; never once a byte went upstream"},
    {.name = "connect-tries", .arg = "N", RELAY, .def = "3",
     .help = "distinct upstreams tried per client"},
    {.name = "connect-budget", .arg = "T", RELAY, .def = "10s",
     .help = "time for all tries; past it, or with no usable upstream, the client is closed at "
             "once"},
    {.name = "max-fails", .arg = "N", RELAY, .def = "1",
     .help = "failed connects within --fail-timeout that take an upstream out for "
             "--fail-timeout (0 = never)"},
    {.name = "fail-timeout", .arg = "T", RELAY, .def = "10s",
     .help = "the window of --max-fails, and how long an upstream stays out"},
    {.name = "health", .arg = "tcp", RELAY, .def = "none",
     .help = "active health checks: each worker connects to each upstream every "
             "--health-interval; --health-fall failures in a row take it out until "
             "--health-rise successes"},
    {.name = "health-interval", .arg = "T", RELAY, .def = "2s",
     .help = "time between the checks of one upstream"},
    {.name = "health-timeout", .arg = "T", RELAY, .def = "1s",
     .help = "a check not connected (and answered, with --health-expect) within T fails"},
    {.name = "health-rise", .arg = "N", RELAY, .def = "2",
     .help = "passed checks in a row that bring a dead upstream back"},
    {.name = "health-fall", .arg = "N", RELAY, .def = "3",
     .help = "failed checks in a row that make an upstream dead"},
    {.name = "health-send", .arg = "TEXT", RELAY,
     .help = "bytes a check sends once connected (\\n, \\r, \\t escapes; up to 256 bytes)"},
    {.name = "health-expect", .arg = "TEXT", RELAY,
     .help = "the answer must start with TEXT (escapes as --health-send); without it a check "
             "passes once connected"},
    {.name = "window", .arg = "SIZE", RELAY, .def = "256k", .min = 4096, .max = 1 << 30,
     .help = "bytes queued towards either side of a session before the other is no longer read"},
    {.name = "fin-timeout", .arg = "T", RELAY, .def = "30s",
     .help = "close a half-closed session after T (0 = never)"},
    {.name = "max-duration", .arg = "T", RELAY, .def = "0",
     .help = "close any session after T (0 = never)"},
    {.name = "send-proxy", .arg = "v1|v2", RELAY,
     .help = "start each upstream connection with a PROXY protocol header"},
    {.name = "accept-proxy", RELAY,
     .help = "read a PROXY header (v1 or v2) from each client first; invalid or late "
             "(--proxy-timeout): closed, counted. In a config file: accept-proxy = yes"},
    {.name = "proxy-timeout", .arg = "T", RELAY, .def = "5s",
     .help = "time a client has to send its PROXY header"},
    {.name = "udp-idle-timeout", .arg = "T", RELAY, .def = "60s",
     .help = "end a UDP session with no datagram either way for T (0 = never)"},
    {.name = "udp-max-sessions", .arg = "N", RELAY, .def = "65536",
     .help = "UDP sessions per worker; past it new clients' datagrams are dropped, counted "
             "(relay_udp_overflow)"},
    {.name = "udp-responses", .arg = "N|any", RELAY, .def = "any",
     .help = "end a UDP session once N answers per client datagram came (0: once sent; as "
             "nginx's proxy_responses)"},
    {.name = "udp-requests", .arg = "N", RELAY, .def = "0",
     .help = "a client's datagrams after every N start a new UDP session, a new upstream socket "
             "(0 = never)"},

    /* The whole process. */
    {.name = "threads", .arg = "N", GLOBAL(threads), .def = "one per CPU", .set = set_number,
     .min = 1, .max = 1024,
     .help = "worker threads, each with its own loop and SO_REUSEPORT sockets"},
    {.name = "backend", .arg = "B", GLOBAL(backend), .def = "auto", .set = set_backend,
     .help = "auto, io_uring or epoll"},
    {.name = "backlog", .arg = "N", GLOBAL(backlog), .def = "net.core.somaxconn", .set = set_number,
     .min = 1, .max = 1 << 20,
     .help = "listen backlog per worker socket (the kernel's maximum unless given)"},
    {.name = "write-queue", .arg = "SIZE", GLOBAL(loop.write_queue), .def = "256k",
     .set = set_number, .min = 1, .max = 1ull << 30,
     .help = "bytes queued per connection before reading from it pauses (backpressure)"},
    {.name = "buf-size", .arg = "SIZE", GLOBAL(loop.buf_size), .def = "16k", .set = set_number,
     .min = 64, .max = 1 << 20,
     .help = "receive buffer size"},
    {.name = "buf-count", .arg = "N", GLOBAL(loop.buf_count), .def = "512", .set = set_number,
     .min = 1, .max = 32768,
     .help = "io_uring provided receive buffers per worker"},
    {.name = "sndbuf", .arg = "SIZE", GLOBAL(loop.sndbuf), .def = "the kernel's", .set = set_number,
     .min = 1, .max = 1 << 30,
     .help = "SO_SNDBUF for accepted sockets"},
    {.name = "rcvbuf", .arg = "SIZE", GLOBAL(loop.rcvbuf), .def = "the kernel's", .set = set_number,
     .min = 1, .max = 1 << 30,
     .help = "SO_RCVBUF for accepted sockets"},
    {.name = "max-conns", .arg = "N", GLOBAL(loop.max_conns), .def = "100000", .set = set_number,
     .min = 1, .max = 1 << 23,
     .help = "connections per worker; more are refused"},
    {.name = "max-conns-per-ip", .arg = "N", GLOBAL(loop.max_conns_per_ip), .def = "any",
     .set = set_number, .min = 1, .max = 1 << 23,
     .help = "TCP connections open per source address, over all listeners; past it a new one "
             "is reset at once and counted (conns_refused_per_ip). Each address is then served "
             "by one worker (SO_REUSEPORT steering)"},
    {.name = "shutdown-timeout", .arg = "MS", GLOBAL(shutdown_ms), .def = "2000", .set = set_number,
     .min = 0, .max = 3600000,
     .help = "on SIGINT/SIGTERM, time given to connections to finish before they are closed"},
    {.name = "drain-delay", .arg = "T", GLOBAL(drain_delay_ns), .def = "0", .set = set_duration,
     .min = 0, .max = 3600000 * NS_PER_MS,
     .help = "on SIGTERM, first tell systemd STOPPING=1, turn /readyz to 503 and keep accepting "
             "for T (5s, 500ms; at most 1h) so load balancers see the server go and stop sending "
             "it new connections; then the listeners close and --shutdown-timeout starts"},
    {.name = "drain-timeout", .arg = "T", GLOBAL(drain_timeout_ms), .def = "30s",
     .set = set_duration_ms, .min = 0, .max = 86400000 * NS_PER_MS,
     .help = "on SIGHUP (reload), how long the old process keeps serving its open connections, "
             "until their peers close them, once the new process accepts; then the rest are "
             "closed"},
    {.name = "pid-file", .arg = "FILE", GLOBAL(pid_file), .set = set_string,
     .help = "write the server's pid to FILE once it listens (whole: temporary file, then "
             "rename); removed at exit"},
    {.name = "access-log", .arg = "FILE", GLOBAL(access_log), .set = set_string,
     .help = "one JSON line per finished connection (time, listener, client, upstream, bytes "
             "each way, duration, close reason) appended to FILE, or - for stdout; buffered per "
             "worker and written by a thread of its own, never blocking a worker (a full buffer "
             "drops the line, counted as access_log_dropped); SIGUSR1 reopens FILE "
             "(docs/operations.md)"},
    {.name = "admin", .arg = "ADDR:PORT", .scope = RS_OPT_GLOBAL, .set = set_admin,
     .help = "serve /metrics (Prometheus text format, from every counter), /healthz, /readyz "
             "(503 once draining) and /version on ADDR:PORT, on a thread of its own; keep it on "
             "loopback or a management network (docs/metrics.md)"},
    {.name = "stats", .arg = "T", GLOBAL(stats_ns), .def = "none", .set = set_interval,
     .min = 10 * NS_PER_MS, .max = UINT64_MAX,
     .help = "every T seconds (2, 0.5, 500ms; at least 10ms) print one line per worker and one "
             "for all of them, 'ringsock: stats t=S w=N|all key=value ...': open connections; "
             "accepts in the interval and per second; msgs/s, where a message is a TCP receive "
             "that delivered data or a datagram received; bytes/s in and out (TCP and UDP); "
             "batch, events per loop turn (io_uring CQEs per reap, epoll events per wait); "
             "backpressure pauses and ENOBUFS receives in the interval; with UDP, datagrams per "
             "recvmmsg/sendmmsg batch; with HTTP, requests/s"},

    /* The command line only. */
    {.name = "http", .arg = "ADDR:PORT", .scope = RS_OPT_CMDLINE, .repeat = true, .set = set_tcp,
     .action = RS_ACT_HTTP,
     .help = "an HTTP/1.1 listener beside the service's, with the same options: GET/HEAD/POST "
             "answer --body, /bytes/N answers N bytes, /healthz answers ok; keep-alive and "
             "pipelining"},
    {.name = "config", .arg = "FILE", .scope = RS_OPT_CMDLINE, .action = RS_ACT_CONFIG,
     .help = "run the listeners FILE describes (INI: [global], [listener NAME]; see "
             "--help-config); no other option goes with it but --check"},
    {.name = "check", .alias = 't', .scope = RS_OPT_CMDLINE, .action = RS_ACT_CHECK,
     .help = "with --config: validate the file (syntax, keys, values, addresses that cannot be "
             "bound, conflicts), print FILE:LINE: message for each error and exit 1, or 'FILE: "
             "ok, N listeners' and exit 0"},
    {.name = "help-config", .scope = RS_OPT_CMDLINE, .action = RS_ACT_HELP_CONFIG,
     .help = "print the config file's key reference"},
    {.name = "counters", .scope = RS_OPT_CMDLINE, .action = RS_ACT_COUNTERS,
     .help = "list the counters of the totals, worker and --stats lines: block, name, counter "
             "or gauge, meaning"},
    {.name = "help", .scope = RS_OPT_CMDLINE, .action = RS_ACT_HELP, .help = "print this help"},
    {.name = "version", .scope = RS_OPT_CMDLINE, .action = RS_ACT_VERSION,
     .help = "print the version and the allocator"},
};
/* clang-format on */

const unsigned rs_noptdefs = sizeof(rs_optdefs) / sizeof(rs_optdefs[0]);

const struct rs_optdef *rs_optdef_find(const char *name)
{
    for (unsigned i = 0; i < rs_noptdefs; i++)
        if (strcmp(rs_optdefs[i].name, name) == 0)
            return &rs_optdefs[i];
    return NULL;
}

bool rs_optdef_applies(const struct rs_optdef *d, unsigned svc)
{
    const char *p = d->services;
    if (!p)
        return true;
    const struct rs_service *s = rs_services[svc];
    size_t len = strlen(s->name);
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n == 3 && memcmp(p, "udp", 3) == 0 ? s->udp_mode != RS_UDP_NONE
                                               : n == len && memcmp(p, s->name, n) == 0)
            return true;
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

void rs_optdef_services(const struct rs_optdef *d, char *buf, size_t cap)
{
    unsigned names[RS_MAX_SERVICES], n = 0;
    for (unsigned i = 0; i < rs_nservices; i++)
        if (rs_optdef_applies(d, i))
            names[n++] = i;
    size_t k = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n && k < cap; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(buf + k, cap - k, "%s%s", sep, rs_services[names[i]]->name);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

static unsigned cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

void rs_server_opts_default(struct rs_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->service = RS_SVC_ECHO;
    o->threads = cpu_count();
    o->backend = RS_BACKEND_AUTO;
    o->backlog = 0; /* the kernel's maximum */
    o->shutdown_ms = 2000;
    o->drain_timeout_ms = 30000;
    rs_loop_config_default(&o->loop);
}

void rs_listener_default(struct rs_listener_opts *l, unsigned svc)
{
    memset(l, 0, sizeof(*l));
    l->service = svc;
    l->udp_batch = 32;
    l->udp_buf = 65536;
    l->udp_queue = 256;
    l->udp_rcvbuf = 4 << 20;
    rs_parse_port_list(RS_UDP_DENY_DEFAULT, l->udp_deny, &l->udp_deny_count);
    memcpy(l->body, "hello\n", 6);
    l->body_len = 6;
    l->max_bytes = 1 << 20;
    l->max_body = 1 << 20;
    l->header_timeout_ms = 10000;
    l->keepalive_timeout_ms = 60000;
    l->max_msg = 65536;
    l->idle_timeout_ns = 300ull * 1000000000;
    rs_relay_conf_default(&l->relay);
}
