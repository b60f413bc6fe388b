#ifndef RINGSOCK_CONFIG_H
#define RINGSOCK_CONFIG_H

/* The config file (INI, read with libinih): [global] holds global options, each
 * [listener NAME] a service = and that service's options; keys are the option table's long
 * names (optable.c), a repeatable option is a repeated key. */

#include <stdbool.h>
#include <stdio.h>

#include "opts.h"

/* Reads the config file path into o (defaults first, o->config and o->from_config kept) and
 * validates it: syntax, unknown sections and keys, values, a listener without service or
 * address, keys that do not apply to the listener's service, a body-file that cannot be read,
 * two listeners on one address and protocol; with bind_check also every address that cannot
 * be bound now. Prints every error, in line order, as "FILE:LINE: message" on errf. Returns
 * the number of errors (0: o is ready to run), or -errno when the file cannot be read (said
 * on errf). */
int rs_config_load(const char *path, struct rs_server_opts *o, bool bind_check, FILE *errf);

/* The same from text in memory, shown as name in the messages (tests). */
int rs_config_load_string(const char *name, const char *text, struct rs_server_opts *o,
                          bool bind_check, FILE *errf);

#endif
