/* ringsock: the server's command line, or its config file. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "config.h"
#include "optable.h"
#include "opts.h"
#include "reload.h"
#include "server.h"

int main(int argc, char **argv)
{
    static struct rs_server_opts o; /* large: listeners with their bodies */
    char err[256];

    rs_log_set_prog("ringsock");
    /* Line-buffered even into a pipe or file: the listening line and --stats lines are read
     * while the server runs. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* First: the sockets and pipe a reload handed over are fds 3.. (reload.c). */
    rs_reload_init(argc, argv);
    int r = rs_server_opts_parse(argc, argv, &o, err, sizeof(err));
    if (r < 0) {
        rs_log_error("%s", err);
        rs_reload_notify_failed(err);
        return 2;
    }
    switch (r) {
    case RS_OPTS_HELP:
        rs_server_usage(stdout);
        return 0;
    case RS_OPTS_HELP_CONFIG:
        rs_optdefs_reference(stdout);
        return 0;
    case RS_OPTS_COUNTERS:
        return rs_server_list_counters(stdout);
    case RS_OPTS_VERSION:
        printf("ringsock %s (allocator %s)\n", RS_VERSION, rs_alloc_name());
        return 0;
    case RS_OPTS_CHECK:
    case RS_OPTS_CONFIG: {
        /* Every error, FILE:LINE: message, before anything is bound; a reload's new process
         * hands the first to the old one, which logs "reload failed: FILE:LINE: ...". */
        char *msgs = NULL;
        size_t mlen = 0;
        FILE *ef = open_memstream(&msgs, &mlen);
        int n = rs_config_load(o.config, &o, r == RS_OPTS_CHECK, ef ? ef : stderr);
        if (ef) {
            fclose(ef);
            fputs(msgs, stderr);
        }
        if (n != 0) {
            size_t first = msgs ? strcspn(msgs, "\n") : 0;
            bool more = first && msgs[first] && msgs[first + 1]; /* a second line */
            if (first)
                snprintf(err, sizeof(err), "%.*s%s", (int)first, msgs,
                         more ? " (and more: see its log)" : "");
            rs_reload_notify_failed(first ? err : "the config file is not valid");
            free(msgs);
            return 1;
        }
        free(msgs);
        if (r == RS_OPTS_CHECK) {
            printf("%s: ok, %u listener%s\n", o.config, o.nlisteners, o.nlisteners == 1 ? "" : "s");
            return 0;
        }
        break;
    }
    default:
        break;
    }
    r = rs_server_run(&o);
    if (r != 0) { /* a reload's new process that could not start says why */
        rs_log_last_error(err, sizeof(err));
        rs_reload_notify_failed(err[0] ? err : "the new process could not start");
    }
    return r;
}
