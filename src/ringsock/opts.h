#ifndef RINGSOCK_OPTS_H
#define RINGSOCK_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "ringsock/net/addr.h"
#include "ringsock/core/loop.h"

#define RS_MAX_ADDRS 16

enum rs_service_kind {
    RS_SVC_ECHO,
    RS_SVC_DISCARD,
    RS_SVC_HTTP,
    RS_SVC_SOCKPERF,
};

struct rs_server_opts {
    enum rs_service_kind service;
    struct rs_addr tcp[RS_MAX_ADDRS];
    bool tcp_http[RS_MAX_ADDRS]; /* given with --http: served by the HTTP responder */
    unsigned ntcp;
    char body[4096]; /* --body, escapes (\n \r \t \\) decoded */
    size_t body_len;
    const char *body_file; /* --body-file, read at start */
    uint64_t max_bytes;    /* cap for /bytes/N */
    uint64_t max_body;     /* larger request bodies get 413 */
    uint64_t header_timeout_ms;
    uint64_t keepalive_timeout_ms;
    struct rs_addr udp[RS_MAX_ADDRS];
    unsigned nudp;
    uint32_t udp_batch; /* datagrams per recvmmsg/sendmmsg */
    uint32_t udp_buf;   /* bytes per datagram buffer */
    uint32_t udp_queue; /* replies per socket that may wait for writability */
    int udp_rcvbuf, udp_sndbuf;
    const char *join_iface; /* interface for multicast --udp groups */
    uint32_t max_msg;       /* sockperf: longest message; a longer one closes its connection */
    unsigned threads;
    enum rs_backend_kind backend;
    int backlog; /* listen backlog; 0: the kernel's maximum (net.core.somaxconn) */
    unsigned shutdown_ms;
    uint64_t stats_ns; /* --stats: interval of the live per-worker lines, 0 = none */
    struct rs_loop_config loop;
};

enum rs_opts_result {
    RS_OPTS_RUN = 0,
    RS_OPTS_HELP = 1,
    RS_OPTS_VERSION = 2,
};

/* Parses the server's command line. Returns RS_OPTS_RUN, RS_OPTS_HELP or RS_OPTS_VERSION, or
 * -EINVAL with a one-line reason in err. Defaults: echo on TCP and UDP 127.0.0.1:7000 (when
 * neither --tcp nor --udp is given; sockperf: 127.0.0.1:11111, sockperf's own default port),
 * one thread per CPU, backend auto. */
int rs_server_opts_parse(int argc, char **argv, struct rs_server_opts *o, char *err, size_t errlen);

/* The usage text. */
const char *rs_server_usage(void);

#endif
