#ifndef RINGSOCK_ACCESS_LOG_H
#define RINGSOCK_ACCESS_LOG_H

/* --access-log: one JSON line per finished connection or UDP session (docs/operations.md).
 * Each worker formats its lines into its own ring (util/spsc.h) and never waits: a full ring
 * drops the line and counts it (access_log_dropped). One logging thread drains every ring at
 * least every 100 ms and writes with write(2); SIGUSR1 (the main thread calls
 * rs_access_log_reopen) makes it reopen the file; closing flushes everything. */

#include <stddef.h>
#include <stdint.h>

#include "ringsock/core/loop.h"
#include "ringsock/util/counters.h"

/* Per-worker counters: lines buffered, lines dropped because the worker's ring was full. */
extern const struct rs_counter_block rs_access_log_counter_block;

/* How the lines name a listener: its address and service; name is empty until listeners have
 * names. */
struct rs_access_log_listener {
    char addr[64];
    const char *service;
    const char *name;
};

struct rs_access_log;

/* Opens path ("-": stdout) with O_APPEND|O_CLOEXEC, mode 0640, and sets up a ring of
 * ring_bytes for each of nworkers workers, whose counters are their rs_access_log_counter_block
 * in ctrs. tcp[] describes the TCP listeners in the order each worker listens on them; udp_service
 * names the service of UDP sessions. Returns NULL with *err (-errno) on failure. */
struct rs_access_log *rs_access_log_open(const char *path, unsigned nworkers, size_t ring_bytes,
                                         const struct rs_access_log_listener *tcp, unsigned ntcp,
                                         const char *udp_service, struct rs_counter_set *ctrs,
                                         int *err);
/* Starts the logging thread. Returns 0 or -errno. */
int rs_access_log_start(struct rs_access_log *al);
/* Any thread (the one handling SIGUSR1): the logging thread reopens the file soon. */
void rs_access_log_reopen(struct rs_access_log *al);
/* Once the workers are done: stops the thread, writes what is buffered, closes, frees. */
void rs_access_log_close(struct rs_access_log *al);

/* The loop hook (rs_loop_config.conn_end) of worker i, and its argument. */
void rs_access_log_conn_end(const struct rs_conn_end *e, void *arg);
void *rs_access_log_worker(struct rs_access_log *al, unsigned i);

#endif
