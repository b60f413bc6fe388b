#ifndef RINGSOCK_FDNAME_H
#define RINGSOCK_FDNAME_H

/* Names of the sockets a reload hands to the new process, and matching them against what the
 * new process is configured to listen on. Pure: no sockets, no environment. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ringsock/net/addr.h"

enum rs_fd_proto {
    RS_FD_TCP,
    RS_FD_UDP,
};

#define RS_FDNAME_MAX 96
/* LISTEN_FDNAMES name of the readiness pipe a reload hands over with the sockets. */
#define RS_FDNAME_READY "ringsock-ready"
/* Most descriptors a reload hands over (LISTEN_FDS). */
#define RS_INHERIT_MAX 1024

/* Writes "tcp/127.0.0.1/7000/w0": protocol, address and worker, each ':' of the address
 * written '/' since LISTEN_FDNAMES separates names with ':' ("udp/[//1]/7000/w3" for
 * [::1]:7000). Returns 0, or -ENOSPC if buf is too small. */
int rs_fdname_format(enum rs_fd_proto proto, const struct rs_addr *a, unsigned worker, char *buf,
                     size_t size);
/* Reads a name written by rs_fdname_format. Returns 0, or -EINVAL for any other name. */
int rs_fdname_parse(const char *name, enum rs_fd_proto *proto, struct rs_addr *a, unsigned *worker);

/* One descriptor received through LISTEN_FDS. */
struct rs_inherited {
    int fd;
    bool sock;    /* its name parsed as a socket's */
    bool ready;   /* the readiness pipe */
    bool claimed; /* taken by rs_inherited_match */
    enum rs_fd_proto proto;
    struct rs_addr addr;
    unsigned worker;
};

/* Reads the sd_listen_fds(3) convention: LISTEN_PID must be self, LISTEN_FDS descriptors from
 * 3, named by LISTEN_FDNAMES (':'-separated; unnamed or unknown names are kept, neither socket
 * nor pipe, so that they are closed). Any of the three NULL: none. Returns how many were put in
 * list (at most cap), or -EINVAL when the variables are malformed. */
int rs_inherited_parse(const char *pid, pid_t self, const char *nfds, const char *names,
                       struct rs_inherited *list, unsigned cap);

/* Claims and returns the index of the unclaimed socket in list for proto, address want and
 * worker; a port 0 in want matches any port of the same IP (the new process keeps the port the
 * old one was given). -ENOENT when none matches. */
int rs_inherited_match(struct rs_inherited *list, unsigned n, enum rs_fd_proto proto,
                       const struct rs_addr *want, unsigned worker);

#endif
