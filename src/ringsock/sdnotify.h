#ifndef RINGSOCK_SDNOTIFY_H
#define RINGSOCK_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* systemd's notify protocol (sd_notify(3)) written out, without libsystemd: each state change
 * is one datagram of newline-separated VAR=value lines sent to the AF_UNIX socket that
 * $NOTIFY_SOCKET names (a path, or "@name" for an abstract socket). Without $NOTIFY_SOCKET
 * (not started by systemd as Type=notify) every call does nothing and returns 0.
 *
 * The socket is opened once at start (rs_sd_open) and is close-on-exec; the variable is left in
 * the environment so that a re-executed binary (reload) can notify too. */
struct rs_sd {
    int fd; /* -1: notifications are off */
    struct sockaddr_un addr;
    socklen_t addrlen;
};

/* Opens the notify socket named by notify_socket (the value of $NOTIFY_SOCKET; NULL or "" is
 * off). Returns 0 (sd->fd is -1 when off), or -EINVAL for a name that is neither an absolute
 * path nor @abstract or is too long, -EAFNOSUPPORT for another kind (vsock:), or -errno from
 * socket(); sd is then off. */
int rs_sd_open(struct rs_sd *sd, const char *notify_socket);
void rs_sd_close(struct rs_sd *sd);
bool rs_sd_enabled(const struct rs_sd *sd);

/* Sends msg (VAR=value lines) in one datagram. Returns 0, or -errno (-EAGAIN when the
 * receiver's queue is full: a notification is never worth blocking for). */
int rs_sd_send(struct rs_sd *sd, const char *msg);
/* printf-style rs_sd_send; -ENOBUFS if the message would exceed 4 KiB. */
int rs_sd_sendf(struct rs_sd *sd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* READY=1: the service is up (every listener accepts). status, if not NULL, goes along as
 * STATUS=. */
int rs_sd_ready(struct rs_sd *sd, const char *status);
/* STOPPING=1: shutting down (draining); status as above. */
int rs_sd_stopping(struct rs_sd *sd, const char *status);
/* RELOADING=1 with MONOTONIC_USEC= (systemd 253's Type=notify-reload needs both): a reload
 * started at monotonic_usec (rs_sd_monotonic_usec()); READY=1 tells that it ended. */
int rs_sd_reloading(struct rs_sd *sd, uint64_t monotonic_usec);
/* MAINPID=pid: the process systemd should now watch (a re-executed successor). */
int rs_sd_mainpid(struct rs_sd *sd, pid_t pid);
/* STATUS=status: one line shown by systemctl status. */
int rs_sd_status(struct rs_sd *sd, const char *status);
/* WATCHDOG=1: still alive. */
int rs_sd_watchdog(struct rs_sd *sd);

/* The watchdog interval in microseconds from the values of $WATCHDOG_USEC and $WATCHDOG_PID
 * (either may be NULL): 0 when there is none, it does not parse, or WATCHDOG_PID names another
 * process than self. Pings are due at least every interval; send them every half of it. */
uint64_t rs_sd_watchdog_usec(const char *usec, const char *pid, pid_t self);

/* CLOCK_MONOTONIC in microseconds, the clock MONOTONIC_USEC is on. */
uint64_t rs_sd_monotonic_usec(void);

#endif
