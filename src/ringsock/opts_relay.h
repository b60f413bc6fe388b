#ifndef RINGSOCK_OPTS_RELAY_H
#define RINGSOCK_OPTS_RELAY_H

#include <stddef.h>

#include "ringsock/services/relay.h"

/* Applies the relay option --name (val: its value, NULL for a flag) to c. Returns 0, -EINVAL
 * with a one-line reason in err, or -ENOENT when name is not a relay option. */
int rs__relay_opt(const char *name, const char *val, struct rs_relay_conf *c, char *err,
                  size_t errlen);

#endif
