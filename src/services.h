#ifndef RINGSOCK_SERVICES_H
#define RINGSOCK_SERVICES_H

#include "ringsock/loop.h"

/* Accept callbacks: each sets the connection's service. */
void rs_echo_accept(struct rs_conn *c, void *arg);
void rs_discard_accept(struct rs_conn *c, void *arg);

#endif
