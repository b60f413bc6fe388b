#ifndef RINGSOCK_SERVER_H
#define RINGSOCK_SERVER_H

#include "opts.h"

/* Runs the server until SIGINT/SIGTERM. Returns the process exit code. */
int rs_server_run(const struct rs_server_opts *o);

#endif
