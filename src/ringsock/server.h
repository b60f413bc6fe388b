#ifndef RINGSOCK_SERVER_H
#define RINGSOCK_SERVER_H

#include <stdio.h>

#include "opts.h"

/* Runs the server until SIGINT/SIGTERM. Returns the process exit code. */
int rs_server_run(const struct rs_server_opts *o);

/* --counters: lists every counter the server keeps (block, name, kind, meaning). Returns the
 * process exit code. */
int rs_server_list_counters(FILE *f);

#endif
