#ifndef RINGSOCK_OPTABLE_H
#define RINGSOCK_OPTABLE_H

/* The option table: every option of the server once, with what it takes, where it applies
 * (global, per listener, command line only), its default and help, and how it is set. The
 * command-line parser (opts.c), the config file reader (config.c), --help and --help-config all
 * read it, so they cannot drift. A new option is one entry in optable.c:
 *
 *   {.name = "window", .arg = "SIZE", LISTENER(window), .services = "relay", .def = "256k",
 *    .set = set_number, .min = 1, .max = 1 << 30, .help = "..."},
 *
 * with its field in struct rs_listener_opts (LISTENER) or struct rs_server_opts (GLOBAL) and,
 * for a value the generic setters (number, duration, string) do not parse, a setter of its
 * own. A service's listener options reach its workers through the struct rs_service_conf that
 * server.c fills per listener. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "opts.h"

enum rs_opt_scope {
    RS_OPT_GLOBAL,   /* the whole process: a flag, or a key of [global] */
    RS_OPT_LISTENER, /* one listener: a flag (the listener(s) the flags describe), or a key of
                      * [listener NAME] */
    RS_OPT_CMDLINE,  /* the command line only */
};

/* What a command-line-only option asks for. */
enum rs_opt_action {
    RS_ACT_NONE,
    RS_ACT_HELP,
    RS_ACT_HELP_CONFIG,
    RS_ACT_VERSION,
    RS_ACT_COUNTERS,
    RS_ACT_CONFIG,
    RS_ACT_CHECK,
    RS_ACT_HTTP, /* an http listener beside the service's */
};

struct rs_optdef;

/* Sets the option from its value val into target (a struct rs_server_opts for global options,
 * a struct rs_listener_opts for listener ones). what is how the user spelled it ("--threads" or
 * "threads"), for the message. Returns 0, or -EINVAL with a one-line reason in err. */
typedef int (*rs_opt_set_fn)(const struct rs_optdef *d, void *target, const char *val,
                             const char *what, char *err, size_t errlen);

struct rs_optdef {
    const char *name; /* --name on the command line, name = in the config file */
    char alias;       /* a short flag (-t), or 0 */
    const char *arg;  /* what the value looks like (ADDR:PORT, N, SIZE); NULL: takes none */
    enum rs_opt_scope scope;
    /* Listener options: the services it applies to, space-separated names, or "udp" for every
     * service with a datagram side; NULL: all. A key for another service is an error in a
     * config file (the command line, which has always taken them, ignores it). */
    const char *services;
    bool repeat;       /* may be given more than once, each adding a value */
    const char *def;   /* the default as shown; NULL: none shown */
    const char *help;  /* one paragraph, wrapped by the printers */
    rs_opt_set_fn set; /* NULL for a command-line action */
    enum rs_opt_action action;
    size_t off, width; /* the field set, in the struct target is */
    uint64_t min, max; /* bounds of a number (durations: nanoseconds) */
};

extern const struct rs_optdef rs_optdefs[];
extern const unsigned rs_noptdefs;

/* The entry called name (a long name without dashes), or NULL. */
const struct rs_optdef *rs_optdef_find(const char *name);

/* Whether the listener option d applies to service svc (an index in rs_services). */
bool rs_optdef_applies(const struct rs_optdef *d, unsigned svc);

/* "echo, discard or sockperf": the services d applies to, into buf. */
void rs_optdef_services(const struct rs_optdef *d, char *buf, size_t cap);

/* Fills o with the global defaults and no listener. */
void rs_server_opts_default(struct rs_server_opts *o);

/* Fills l with the defaults of every listener option, for service svc, and no address. */
void rs_listener_default(struct rs_listener_opts *l, unsigned svc);

/* Prints the config file's key reference (Markdown), generated from the table (usage.c). */
void rs_optdefs_reference(FILE *f);

#endif
