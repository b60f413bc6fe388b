#ifndef RINGSOCK_SERVER_H
#define RINGSOCK_SERVER_H

#include <stdbool.h>
#include <stdio.h>

#include "opts.h"

/* Runs the server until SIGINT/SIGTERM. Returns the process exit code. */
int rs_server_run(const struct rs_server_opts *o);

/* True once the server is draining (first SIGTERM/SIGINT): it still accepts during
 * --drain-delay but wants no new traffic (readiness checks answer "not ready"). Thread-safe. */
bool rs_server_draining(void);

/* --counters: lists every counter the server keeps (block, name, kind, meaning). Returns the
 * process exit code. */
int rs_server_list_counters(FILE *f);

#endif
