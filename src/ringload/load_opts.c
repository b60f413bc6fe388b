#include "load_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/parse.h"

const char *rs_load_usage(void)
{
    return "usage: ringload [options] URL\n"
           "       URL: tcp://HOST:PORT (echo round trips), udp://HOST:PORT (datagram echo),\n"
           "            http://HOST[:PORT]/PATH (HTTP/1.1 requests, keep-alive)\n"
           "\n"
           "  -t, --threads N        threads, each with its own loop (default 1)\n"
           "  -c, --connections N    connections (UDP: sockets) in total (default 10)\n"
           "  -d, --duration T       measured time: 10s, 1m, 500ms (default 10s)\n"
           "  -R, --rate N           constant rate, messages/s in total; latency is measured\n"
           "                         from each message's intended send time (no coordinated\n"
           "                         omission). Default: closed loop\n"
           "  -s, --size N           message bytes (default 64; UDP at least 24)\n"
           "      --depth N          messages outstanding per connection (default 1)\n"
           "      --timeout T        a message unanswered for T is an error (UDP: lost)\n"
           "                         (default 2s)\n"
           "      --warmup T         run T before measuring (default 0)\n"
           "      --latency          print the latency percentile table\n"
           "      --json FILE        write the results and the full histogram as JSON\n"
           "      --backend B        auto, io_uring or epoll (default auto)\n"
           "      --no-verify        do not check echoed bytes (to measure the cost)\n"
           "      --send-only        UDP: send as fast as possible (or at -R), expect no\n"
           "                         answers: measures the send rate (e.g. into a discard)\n"
           "      --gso              with --send-only: batches go out as one UDP_SEGMENT buffer\n"
           "  -H, --header 'N: v'    HTTP header to add (repeatable)\n"
           "      --method M         HTTP method (default GET, or POST with a body)\n"
           "      --body TEXT        HTTP request body\n"
           "      --body-file FILE   HTTP request body read from FILE: any bytes, up to 64 MiB\n"
           "                         (one command-line argument holds at most 128 KiB)\n"
           "      --no-keepalive     HTTP: one connection per request (Connection: close)\n"
           "      --depth applies to HTTP too: requests pipelined per connection\n"
           "      --source LIST      local addresses to connect from, used in turn by each\n"
           "                         connection: 127.0.0.2,127.0.0.3 or 127.0.0.1-127.0.0.8\n"
           "                         (repeatable; alias --source-ip). Each address has its\n"
           "                         own ephemeral port range (IP_BIND_ADDRESS_NO_PORT), so N\n"
           "                         addresses hold about N x 28k connections to one port\n"
           "      --shard I/N        run shard I (0..N-1) of N: -c and -R are the whole\n"
           "                         run's; this one opens its share of the connections\n"
           "                         (an even split) and sends its share of the rate on the\n"
           "                         run's one schedule, so N shards together send as one\n"
           "      --start-at TIME    open the connections, then start sending at TIME: Unix\n"
           "                         time (1767225600.25) or +DURATION from now (+5s). Shards\n"
           "                         given one TIME start together; exit status 1 if a\n"
           "                         connection was not open by then\n"
           "      --run-id ID        the run's name in --json (default: a random one); give\n"
           "                         every shard the same\n"
           "\n"
           "      --idle             tcp:// and http://: open -c connections, send nothing and\n"
           "                         hold them for -d once all are open, check they are alive,\n"
           "                         close them. Reports connects established and failed (by\n"
           "                         errno), time to open them all, connect rate and connect\n"
           "                         time, connections the peer closed, the check's outcome\n"
           "      --idle-check C     echo (send -s bytes, expect them back within --timeout;\n"
           "                         default for tcp://), http (send the request, expect an\n"
           "                         HTTP/1.x answer; default for http://) or none\n"
           "      --connect-rate N   --idle: at most N connects started per second in total\n"
           "                         (k and m suffixes: 5k; default: no limit)\n"
           "      --max-connecting N --idle: at most N connects in flight at once, in total\n"
           "                         (default 1024), so the peer's SYN and accept queues\n"
           "                         (listen backlog, net.core.somaxconn) do not overflow\n"
           "      --connect-timeout T  --idle: a connect not done by then fails (default 5s)\n"
           "\n"
           "      --progress, --no-progress  one line per second on stderr (default: when\n"
           "                         stderr is a terminal)\n"
           "  -h, --help, -v, --version\n"
           "\n"
           "       ringload merge [--json OUT] [--force] A.json B.json ...\n"
           "  combines --json results of runs made at the same time (shards, or runs on\n"
           "  several machines): counts add up, latency histograms merge exactly, and the rate\n"
           "  is the messages over the common window (see ringload merge --help).\n";
}

const char *rs_load_merge_usage(void)
{
    return "usage: ringload merge [--json OUT] [--force] [--no-latency] A.json B.json ...\n"
           "  Combines the --json results of runs made at the same time: the shards of one\n"
           "  run (--shard), or runs on several machines. Counts add up and latency\n"
           "  histograms merge bucket by bucket, exactly. When every file records its\n"
           "  measured window, the rate is all messages over the common window, from the\n"
           "  earliest window start to the latest window end; otherwise (older files) the\n"
           "  runs' rates add up. Also reported: the start skew (latest real start minus\n"
           "  the earliest) and whether any run fell behind its schedule (saturated).\n"
           "\n"
           "  --json OUT     write the merged result as JSON\n"
           "  --force        merge runs whose URL, --size, --depth or mode (closed loop or\n"
           "                 -R) differ; without it they are refused (exit status 1)\n"
           "  --no-latency   leave the percentile table out of the summary\n"
           "  -h, --help\n"
           "  --idle results merge with --idle results only.\n";
}

enum {
    LO_DEPTH = 256,
    LO_TIMEOUT,
    LO_WARMUP,
    LO_LATENCY,
    LO_JSON,
    LO_BACKEND,
    LO_NO_VERIFY,
    LO_PROGRESS,
    LO_NO_PROGRESS,
    LO_METHOD,
    LO_BODY,
    LO_BODY_FILE,
    LO_NO_KEEPALIVE,
    LO_SEND_ONLY,
    LO_GSO,
    LO_SOURCE,
    LO_IDLE,
    LO_IDLE_CHECK,
    LO_CONNECT_RATE,
    LO_MAX_CONNECTING,
    LO_CONNECT_TIMEOUT,
    LO_SHARD,
    LO_START_AT,
    LO_RUN_ID,
};

static const struct option load_long_opts[] = {
    {"threads", required_argument, NULL, 't'},
    {"connections", required_argument, NULL, 'c'},
    {"duration", required_argument, NULL, 'd'},
    {"rate", required_argument, NULL, 'R'},
    {"size", required_argument, NULL, 's'},
    {"depth", required_argument, NULL, LO_DEPTH},
    {"timeout", required_argument, NULL, LO_TIMEOUT},
    {"warmup", required_argument, NULL, LO_WARMUP},
    {"latency", no_argument, NULL, LO_LATENCY},
    {"json", required_argument, NULL, LO_JSON},
    {"backend", required_argument, NULL, LO_BACKEND},
    {"no-verify", no_argument, NULL, LO_NO_VERIFY},
    {"progress", no_argument, NULL, LO_PROGRESS},
    {"no-progress", no_argument, NULL, LO_NO_PROGRESS},
    {"header", required_argument, NULL, 'H'},
    {"method", required_argument, NULL, LO_METHOD},
    {"body", required_argument, NULL, LO_BODY},
    {"body-file", required_argument, NULL, LO_BODY_FILE},
    {"no-keepalive", no_argument, NULL, LO_NO_KEEPALIVE},
    {"send-only", no_argument, NULL, LO_SEND_ONLY},
    {"gso", no_argument, NULL, LO_GSO},
    {"source", required_argument, NULL, LO_SOURCE},
    {"source-ip", required_argument, NULL, LO_SOURCE},
    {"idle", no_argument, NULL, LO_IDLE},
    {"idle-check", required_argument, NULL, LO_IDLE_CHECK},
    {"connect-rate", required_argument, NULL, LO_CONNECT_RATE},
    {"max-connecting", required_argument, NULL, LO_MAX_CONNECTING},
    {"connect-timeout", required_argument, NULL, LO_CONNECT_TIMEOUT},
    {"shard", required_argument, NULL, LO_SHARD},
    {"start-at", required_argument, NULL, LO_START_AT},
    {"run-id", required_argument, NULL, LO_RUN_ID},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

static int bad(char *err, size_t errlen, const char *flag, const char *val)
{
    snprintf(err, errlen, "invalid value for %s: '%s'", flag, val);
    return -EINVAL;
}

void rs_load_shard_split(unsigned total, unsigned index, unsigned count, unsigned *first,
                         unsigned *n)
{
    unsigned base = total / count, extra = total % count;
    *n = base + (index < extra);
    *first = index * base + (index < extra ? index : extra);
}

/* Parses "I/N" with 0 <= I < N <= 100000. Returns 0 or -EINVAL. */
static int parse_shard(const char *s, unsigned *index, unsigned *count)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    unsigned long i = strtoul(s, &end, 10);
    if (errno || *end != '/' || end[1] < '0' || end[1] > '9')
        return -EINVAL;
    unsigned long n = strtoul(end + 1, &end, 10);
    if (errno || *end != '\0' || n == 0 || n > 100000 || i >= n)
        return -EINVAL;
    *index = (unsigned)i;
    *count = (unsigned)n;
    return 0;
}

/* Parses --start-at: "+DURATION" (relative), or Unix seconds with up to 9 decimals. Returns 0
 * or -EINVAL. */
static int parse_start_at(const char *s, struct rs_load_opts *o)
{
    if (*s == '+') {
        o->start_at_relative = true;
        return rs_parse_duration(s + 1, &o->start_at_ns) < 0 ? -EINVAL : 0;
    }
    uint64_t sec = 0, frac = 0, scale = 1000000000ull;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        sec = sec * 10 + (uint64_t)(*p - '0');
        if (sec > 4000000000ull) /* past 2096: a typo */
            return -EINVAL;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (scale == 1)
                return -EINVAL; /* finer than a nanosecond */
            scale /= 10;
            frac += (uint64_t)(*p - '0') * scale;
        }
    }
    if (*p != '\0')
        return -EINVAL;
    o->start_at_relative = false;
    o->start_at_ns = sec * 1000000000ull + frac;
    return 0;
}

/* A run id: 1..64 of [A-Za-z0-9._-], so it goes into file names and JSON as it is. */
static bool run_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int rs_load_opts_parse(int argc, char **argv, struct rs_load_opts *o, char *err, size_t errlen)
{
    uint64_t v;
    bool idle_opts = false; /* an option that only --idle takes was given */
    memset(o, 0, sizeof(*o));
    o->threads = 1;
    o->conns = 10;
    o->depth = 1;
    o->duration_ns = 10000000000ull;
    o->timeout_ns = 2000000000ull;
    o->size = 64;
    o->verify = true;
    o->progress = -1;
    o->backend = RS_BACKEND_AUTO;
    o->max_connecting = 1024;
    o->connect_timeout_ns = 5000000000ull;
    err[0] = '\0';

    opterr = 0;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":t:c:d:R:s:H:hv", load_long_opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            if (rs_parse_size(optarg, 1, 1024, &v) < 0)
                return bad(err, errlen, "--threads", optarg);
            o->threads = (unsigned)v;
            break;
        case 'c':
            if (rs_parse_size(optarg, 1, 1000000, &v) < 0)
                return bad(err, errlen, "--connections", optarg);
            o->conns = (unsigned)v;
            break;
        case 'd':
            if (rs_parse_duration(optarg, &o->duration_ns) < 0 || o->duration_ns == 0)
                return bad(err, errlen, "--duration", optarg);
            break;
        case 'R': {
            char *end;
            errno = 0;
            double r = strtod(optarg, &end);
            if (errno || *end != '\0' || !(r > 0) || r > 1e9)
                return bad(err, errlen, "--rate", optarg);
            o->rate = r;
            break;
        }
        case 's':
            if (rs_parse_size(optarg, 0, 64u << 20, &v) < 0)
                return bad(err, errlen, "--size", optarg);
            o->size = (size_t)v;
            break;
        case LO_DEPTH:
            if (rs_parse_size(optarg, 1, 4096, &v) < 0)
                return bad(err, errlen, "--depth", optarg);
            o->depth = (unsigned)v;
            break;
        case LO_TIMEOUT:
            if (rs_parse_duration(optarg, &o->timeout_ns) < 0 || o->timeout_ns == 0)
                return bad(err, errlen, "--timeout", optarg);
            break;
        case LO_WARMUP:
            if (rs_parse_duration(optarg, &o->warmup_ns) < 0)
                return bad(err, errlen, "--warmup", optarg);
            break;
        case LO_LATENCY:
            o->latency = true;
            break;
        case LO_JSON:
            o->json_path = optarg;
            break;
        case LO_BACKEND:
            if (rs_backend_parse(optarg, &o->backend) < 0)
                return bad(err, errlen, "--backend", optarg);
            break;
        case LO_NO_VERIFY:
            o->verify = false;
            break;
        case LO_PROGRESS:
            o->progress = 1;
            break;
        case LO_NO_PROGRESS:
            o->progress = 0;
            break;
        case 'H':
            if (o->nheaders >= RS_LOAD_MAX_HEADERS) {
                snprintf(err, errlen, "too many -H headers (at most %d)", RS_LOAD_MAX_HEADERS);
                return -EINVAL;
            }
            if (strpbrk(optarg, "\r\n")) {
                snprintf(err, errlen, "invalid -H: a header is one line, without CR or LF");
                return -EINVAL;
            }
            if (!strchr(optarg, ':'))
                return bad(err, errlen, "-H (want 'Name: value')", optarg);
            o->headers[o->nheaders++] = optarg;
            break;
        case LO_METHOD:
            if (!*optarg || strpbrk(optarg, " \t\r\n") || strlen(optarg) > 32)
                return bad(err, errlen, "--method", optarg);
            o->method = optarg;
            break;
        case LO_BODY:
            o->body = optarg;
            o->body_len = strlen(optarg);
            break;
        case LO_BODY_FILE:
            o->body_file = optarg;
            break;
        case LO_NO_KEEPALIVE:
            o->no_keepalive = true;
            break;
        case LO_SEND_ONLY:
            o->send_only = true;
            break;
        case LO_GSO:
            o->gso = true;
            break;
        case LO_SOURCE:
            if (rs_parse_sources(optarg, o->sources, RS_LOAD_MAX_SOURCES, &o->nsources, err,
                                 errlen) < 0)
                return -EINVAL;
            break;
        case LO_IDLE:
            o->idle = true;
            break;
        case LO_IDLE_CHECK:
            if (strcmp(optarg, "echo") == 0)
                o->idle_check = RS_IDLE_CHECK_ECHO;
            else if (strcmp(optarg, "http") == 0)
                o->idle_check = RS_IDLE_CHECK_HTTP;
            else if (strcmp(optarg, "none") == 0)
                o->idle_check = RS_IDLE_CHECK_NONE;
            else
                return bad(err, errlen, "--idle-check (want echo, http or none)", optarg);
            idle_opts = true;
            break;
        case LO_CONNECT_RATE:
            if (rs_parse_rate(optarg, &o->connect_rate) < 0)
                return bad(err, errlen, "--connect-rate", optarg);
            idle_opts = true;
            break;
        case LO_MAX_CONNECTING:
            if (rs_parse_size(optarg, 1, 1000000, &v) < 0)
                return bad(err, errlen, "--max-connecting", optarg);
            o->max_connecting = (unsigned)v;
            idle_opts = true;
            break;
        case LO_CONNECT_TIMEOUT:
            if (rs_parse_duration(optarg, &o->connect_timeout_ns) < 0 || o->connect_timeout_ns == 0)
                return bad(err, errlen, "--connect-timeout", optarg);
            idle_opts = true;
            break;
        case LO_SHARD:
            if (parse_shard(optarg, &o->shard_index, &o->shard_count) < 0)
                return bad(err, errlen, "--shard (want I/N, 0 <= I < N)", optarg);
            break;
        case LO_START_AT:
            if (parse_start_at(optarg, o) < 0)
                return bad(err, errlen, "--start-at (want Unix seconds or +DURATION)", optarg);
            o->start_at = true;
            break;
        case LO_RUN_ID:
            if (!run_id_ok(optarg))
                return bad(err, errlen, "--run-id (want 1..64 of A-Z a-z 0-9 . _ -)", optarg);
            o->run_id = optarg;
            break;
        case 'h':
            return RS_LOAD_HELP;
        case 'v':
            return RS_LOAD_VERSION;
        case ':':
            snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
            return -EINVAL;
        default:
            snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind >= argc) {
        snprintf(err, errlen, "no URL given (e.g. tcp://127.0.0.1:7000; see --help)");
        return -EINVAL;
    }
    if (optind + 1 < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind + 1]);
        return -EINVAL;
    }
    if (rs_parse_load_url(argv[optind], o, err, errlen) < 0)
        return -EINVAL;
    if (o->body && o->body_file) {
        snprintf(err, errlen, "--body and --body-file do not go together");
        return -EINVAL;
    }
    if (o->proto == RS_LOAD_HTTP) {
        if (!o->method)
            o->method = o->body || o->body_file ? "POST" : "GET";
        o->head_only = strcmp(o->method, "HEAD") == 0;
        int port = rs_addr_port(&o->target);
        bool v6 = strchr(o->host, ':') != NULL;
        snprintf(o->host_header, sizeof(o->host_header), "%s%s%s%s%.0d", v6 ? "[" : "", o->host,
                 v6 ? "]" : "", port == 80 ? "" : ":", port == 80 ? 0 : port);
    } else if (o->nheaders || o->method || o->body || o->body_file || o->no_keepalive) {
        snprintf(err, errlen,
                 "-H, --method, --body, --body-file and --no-keepalive are for http:// only");
        return -EINVAL;
    }
    /* -c and -R are the run's; this process keeps its shard's share. */
    o->conns_total = o->conns;
    o->rate_total = o->rate;
    if (o->shard_count) {
        if (o->idle) {
            snprintf(err, errlen, "--shard and --start-at are for load runs, not --idle");
            return -EINVAL;
        }
        if (o->conns < o->shard_count) {
            snprintf(err, errlen, "--shard %u/%u: -c %u gives some shard no connection",
                     o->shard_index, o->shard_count, o->conns);
            return -EINVAL;
        }
        rs_load_shard_split(o->conns_total, o->shard_index, o->shard_count, &o->conn_base,
                            &o->conns);
        o->rate = o->rate_total * o->conns / o->conns_total;
    }
    if (o->start_at && o->idle) {
        snprintf(err, errlen, "--shard and --start-at are for load runs, not --idle");
        return -EINVAL;
    }
    if (o->threads > o->conns) {
        if (o->shard_count)
            snprintf(err, errlen, "more threads (%u) than this shard's connections (%u of %u)",
                     o->threads, o->conns, o->conns_total);
        else
            snprintf(err, errlen, "more threads (%u) than connections (%u)", o->threads, o->conns);
        return -EINVAL;
    }
    if (o->proto == RS_LOAD_TCP && o->size == 0) {
        snprintf(err, errlen, "--size must be at least 1 for tcp://");
        return -EINVAL;
    }
    if (o->gso && !o->send_only) {
        snprintf(err, errlen, "--gso goes with --send-only (udp://)");
        return -EINVAL;
    }
    if (o->send_only && o->proto != RS_LOAD_UDP) {
        snprintf(err, errlen, "--send-only is for udp:// only");
        return -EINVAL;
    }
    if (o->proto == RS_LOAD_UDP && (o->size < 24 || o->size > 65507)) {
        snprintf(err, errlen, "--size for udp:// must be 24..65507 (a 24-byte header is checked)");
        return -EINVAL;
    }
    if (o->nsources && o->proto == RS_LOAD_UDP) {
        snprintf(err, errlen, "--source is for tcp:// and http://");
        return -EINVAL;
    }
    for (unsigned i = 0; i < o->nsources; i++) {
        if (o->sources[i].ss.ss_family != o->target.ss.ss_family) {
            char a[RS_ADDR_STRLEN];
            bool v6 = o->target.ss.ss_family == AF_INET6;
            snprintf(err, errlen, "--source %s is %s but the target %s is %s",
                     rs_addr_format_ip(&o->sources[i], a, sizeof(a)), v6 ? "IPv4" : "IPv6", o->host,
                     v6 ? "IPv6" : "IPv4");
            return -EINVAL;
        }
    }
    if (!o->idle) {
        if (idle_opts) {
            snprintf(err, errlen,
                     "--idle-check, --connect-rate, --max-connecting and "
                     "--connect-timeout go with --idle");
            return -EINVAL;
        }
        return RS_LOAD_RUN;
    }
    if (o->proto == RS_LOAD_UDP) {
        snprintf(err, errlen, "--idle is for tcp:// and http://");
        return -EINVAL;
    }
    if (o->rate > 0 || o->depth > 1 || o->warmup_ns || o->no_keepalive || !o->verify) {
        snprintf(err, errlen,
                 "-R, --depth, --warmup, --no-keepalive and --no-verify do not apply "
                 "to --idle");
        return -EINVAL;
    }
    if (o->idle_check == RS_IDLE_CHECK_AUTO)
        o->idle_check = o->proto == RS_LOAD_HTTP ? RS_IDLE_CHECK_HTTP : RS_IDLE_CHECK_ECHO;
    if (o->idle_check == RS_IDLE_CHECK_HTTP && o->proto != RS_LOAD_HTTP) {
        snprintf(err, errlen, "--idle-check http needs an http:// URL");
        return -EINVAL;
    }
    return RS_LOAD_RUN;
}

/* Reads all of fd into a buffer of at most max bytes. Returns 0 with *out and *len set, or
 * -errno (-EFBIG past max). */
static int read_all(int fd, size_t max, char **out, size_t *len)
{
    struct stat st;
    size_t cap = 64 * 1024, n = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > max)
            return -EFBIG;
        cap = (size_t)st.st_size + 1; /* one more, to see the end in the first pass */
    }
    char *buf = rs_malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (n == cap) { /* a pipe, or a file that grew: twice the room, up to max + 1 */
            size_t ncap = cap > max / 2 ? max + 1 : cap * 2;
            char *nbuf = ncap > cap ? rs_malloc(ncap) : NULL;
            if (!nbuf) {
                rs_free(buf);
                return ncap > cap ? -ENOMEM : -EFBIG;
            }
            memcpy(nbuf, buf, n);
            rs_free(buf);
            buf = nbuf;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = -errno;
            rs_free(buf);
            return err;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            rs_free(buf);
            return -EFBIG;
        }
    }
    *out = buf;
    *len = n;
    return 0;
}

int rs_load_opts_read_body(struct rs_load_opts *o, char *err, size_t errlen)
{
    if (!o->body_file)
        return 0;
    int e;
    int fd = open(o->body_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        e = -errno;
    } else {
        e = read_all(fd, RS_LOAD_MAX_BODY, &o->body_buf, &o->body_len);
        close(fd);
    }
    if (e == -EFBIG) {
        snprintf(err, errlen, "--body-file %s: larger than %u MiB", o->body_file,
                 RS_LOAD_MAX_BODY >> 20);
        return e;
    }
    if (e < 0) {
        snprintf(err, errlen, "cannot read --body-file %s: %s", o->body_file, strerror(-e));
        return e;
    }
    o->body = o->body_buf;
    return 0;
}

void rs_load_opts_free(struct rs_load_opts *o)
{
    rs_free(o->body_buf);
    o->body_buf = NULL;
    o->body = NULL;
    o->body_len = 0;
}
