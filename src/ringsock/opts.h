#ifndef RINGSOCK_OPTS_H
#define RINGSOCK_OPTS_H

/* The server's configuration: global settings and listeners, filled from the command line
 * (opts.c) or from a config file (config.c), both through the one option table (optable.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ringsock/util/parse.h"
#include "ringsock/core/loop.h"
#include "ringsock/net/addr.h"
#include "ringsock/services/services.h"

#define RS_MAX_ADDRS     16 /* TCP, and UDP, addresses per listener */
#define RS_MAX_LISTENERS 16 /* [listener] sections of a config file */

/* Source ports whose datagrams are not answered unless --udp-deny-ports says otherwise:
 * services that answer datagrams themselves, so an answer to them could start a loop or be
 * reflected (echo, daytime, qotd, chargen, time, DNS, portmap, NTP, NetBIOS, SNMP, CLDAP, SSDP,
 * mDNS, memcached), and port 0, which no real sender has. */
#define RS_UDP_DENY_DEFAULT "0,7,13,17,19,37,53,111,123,137,161,389,1900,5353,11211"

/* Entries of each worker's --udp-rate-per-source table (32 bytes each). */
#define RS_UDP_RATE_ENTRIES 16384

/* The services this program serves (service_table.c): a new service is one more entry. */
#define RS_MAX_SERVICES 16
extern const struct rs_service *const rs_services[];
extern const unsigned rs_nservices;
/* Index in rs_services of the service called name, or -ENOENT. */
int rs_service_index(const char *name);
/* The server's counter registry for nworkers workers (0: descriptors only): the loop's block,
 * the datagram layer's, then each service's in table order; what the totals, --counters,
 * --stats and /metrics walk. NULL on no memory. */
struct rs_counter_set *rs_server_counters_new(unsigned nworkers);

/* Places of the built-in services in the service table (rs_services), which is what names and
 * describes them; a service added later needs no constant here. */
enum rs_service_kind {
    RS_SVC_ECHO,
    RS_SVC_DISCARD,
    RS_SVC_HTTP,
    RS_SVC_SOCKPERF,
};

/* One listener: a service, its addresses and its own settings. From flags, the service named
 * by the first argument (and one http listener for the --http addresses); from a file, one per
 * [listener NAME] section. */
struct rs_listener_opts {
    char name[64];
    unsigned service; /* index in rs_services */
    unsigned line;    /* config file: line of its [listener] header; 0 from flags */
    bool has_service; /* config file: service = was given */
    struct rs_addr tcp[RS_MAX_ADDRS];
    unsigned tcp_line[RS_MAX_ADDRS]; /* config file: line of each address */
    unsigned ntcp;
    struct rs_addr udp[RS_MAX_ADDRS];
    unsigned udp_line[RS_MAX_ADDRS];
    unsigned nudp;
    char body[4096]; /* --body, escapes (\n \r \t \\) decoded */
    size_t body_len;
    char body_file[1024]; /* --body-file, read at start; "" = none */
    uint64_t max_bytes;   /* cap for /bytes/N */
    uint64_t max_body;    /* larger request bodies get 413 */
    uint64_t header_timeout_ms;
    uint64_t keepalive_timeout_ms;
    uint32_t udp_batch; /* datagrams per recvmmsg/sendmmsg */
    uint32_t udp_buf;   /* bytes per datagram buffer */
    uint32_t udp_queue; /* replies per socket that may wait for writability */
    int udp_rcvbuf, udp_sndbuf;
    char join_iface[64];                  /* interface for multicast --udp groups; "" = none */
    uint64_t udp_deny[RS_PORT_SET_WORDS]; /* source ports echo and sockperf never answer */
    unsigned udp_deny_count;              /* ports in udp_deny; 0: --udp-deny-ports none */
    uint32_t udp_rate;                    /* replies per second per source address; 0: off */
    uint32_t max_msg;           /* sockperf: longest message; a longer one closes its connection */
    uint64_t idle_timeout_ns;   /* echo, discard, sockperf TCP: idle and send timeout, 0 = off */
    struct rs_relay_conf relay; /* relay: upstreams, balancing, timeouts (relay.h, opts_relay.c) */
};

struct rs_server_opts {
    unsigned service; /* flags: the first argument (default echo), named on the listening line */
    unsigned threads;
    enum rs_backend_kind backend;
    int backlog; /* listen backlog; 0: the kernel's maximum (net.core.somaxconn) */
    unsigned shutdown_ms;
    uint64_t drain_delay_ns; /* --drain-delay: accept on after SIGTERM for this long, then close */
    unsigned drain_timeout_ms; /* --drain-timeout: a reload's old process serves on this long */
    char pid_file[1024];       /* --pid-file: written once listening, removed at exit; "" = none */
    char access_log[1024];     /* --access-log FILE, "-": stdout; "": off */
    uint64_t stats_ns;         /* --stats: interval of the live per-worker lines, 0 = none */
    struct rs_addr admin;      /* --admin: the admin endpoint's address (admin.h) */
    bool has_admin;
    struct rs_loop_config loop;
    const char *config; /* --config FILE, or NULL: the flags describe the listeners */
    bool from_config;   /* the listeners come from the file (one listening line each) */
    unsigned nlisteners;
    struct rs_listener_opts lst[RS_MAX_LISTENERS];
};

enum rs_opts_result {
    RS_OPTS_RUN = 0,
    RS_OPTS_HELP = 1,
    RS_OPTS_VERSION = 2,
    RS_OPTS_COUNTERS = 3,    /* --counters: list them */
    RS_OPTS_CHECK = 4,       /* --config FILE --check: validate the file only */
    RS_OPTS_CONFIG = 5,      /* --config FILE: read it, then run */
    RS_OPTS_HELP_CONFIG = 6, /* --help-config: the config file's key reference */
};

/* Parses the server's command line. Returns an enum rs_opts_result, or -EINVAL with a one-line
 * reason in err. Defaults: echo; when neither --tcp, --udp nor --http is given, the service's
 * own address (echo: TCP and UDP 127.0.0.1:7000; sockperf: 127.0.0.1:11111, sockperf's default
 * port; http: TCP 127.0.0.1:8080); one thread per CPU, backend auto. With --config FILE (and
 * at most --check) it returns RS_OPTS_CONFIG or RS_OPTS_CHECK with o->config set and no
 * listener: the file holds the whole configuration. o is large: give it static storage. */
int rs_server_opts_parse(int argc, char **argv, struct rs_server_opts *o, char *err, size_t errlen);

/* Prints the usage text (generated from the option table). */
void rs_server_usage(FILE *f);

#endif
