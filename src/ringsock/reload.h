#ifndef RINGSOCK_RELOAD_H
#define RINGSOCK_RELOAD_H

/* Reload and binary upgrade (SIGHUP). The old process forks and executes its binary again (the
 * file at its argv[0] now: a replaced binary is an upgrade) with the same arguments, handing
 * it its listening sockets and a readiness pipe through LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID.
 * The new process adopts the sockets that match its configuration (rs_reload_take), closes
 * the rest, and once it serves writes "ready" on the pipe; the old one then drains. Everything
 * here runs on the main thread. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fdname.h"
#include "ringsock/util/counters.h"

/* At start, before anything opens descriptors: remembers how to execute this program again
 * (argv[0] made absolute, without following links) and takes the descriptors a reload handed
 * over, clearing LISTEN_* from the environment. Returns 0, or -errno (malformed LISTEN_*: they
 * are then ignored, which is said). */
int rs_reload_init(int argc, char **argv);

/* New process: the inherited socket for proto, address and worker, or -1; it is the caller's
 * then. A port 0 in want takes the inherited socket's port. */
int rs_reload_take(enum rs_fd_proto proto, const struct rs_addr *want, unsigned worker);
/* New process: closes the inherited sockets no one took. When TCP listeners are among them,
 * sets net.ipv4.tcp_migrate_req=1 (if it can; else warns) so that connections queued on them
 * move to the listeners that stay when the last copy closes, instead of being reset. */
void rs_reload_close_unclaimed(void);
/* True in a process started by a reload (it has a readiness pipe). */
bool rs_reload_is_child(void);
/* New process: tells the old one it serves ("ready"), or why it will not ("failed: why"). */
void rs_reload_notify_ready(void);
void rs_reload_notify_failed(const char *why);

/* One socket to hand over. */
struct rs_reload_sock {
    int fd;
    char name[RS_FDNAME_MAX];
};

enum rs_reload_state {
    RS_RELOAD_IDLE,
    RS_RELOAD_PENDING, /* the new process runs, not ready yet */
    RS_RELOAD_READY,   /* the new process serves */
    RS_RELOAD_FAILED,  /* it exited, failed or timed out, and was reaped */
};

/* How long the old process waits for the new one to say it is ready. */
#define RS_RELOAD_READY_MS 10000

/* Old process: true while a reload is in flight. */
bool rs_reload_poll_pending(void);
/* Old process: starts the new one with socks (and the readiness pipe). Returns 0, -EBUSY when
 * a reload is already in flight, or -errno. */
int rs_reload_start(const struct rs_reload_sock *socks, unsigned n, unsigned timeout_ms);
/* Old process: looks, without waiting, at how the reload goes. READY and FAILED are reported
 * once (the state then goes back to IDLE); why[] says why it failed, or the new pid. */
enum rs_reload_state rs_reload_poll(char *why, size_t whylen, pid_t *child);
/* Old process: ends a reload in flight (kills and reaps the new process). */
void rs_reload_abort(void);

/* Reloads done (handed over to a new process that served) and failed over the service's
 * life, this process included, carried from process to process: the block's counters. */
extern const struct rs_counter_block rs_reload_counter_block;
/* Stores them into block (worker 0's storage of rs_reload_counter_block; the main thread is its
 * one writer). */
void rs_reload_counts_store(_Atomic uint64_t *block);

#endif
