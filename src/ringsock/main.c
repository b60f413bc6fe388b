/* ringsock: the server's command line. */

#include <stdio.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "opts.h"
#include "reload.h"
#include "server.h"

int main(int argc, char **argv)
{
    struct rs_server_opts o;
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
    if (r == RS_OPTS_HELP) {
        rs_server_usage(stdout);
        return 0;
    }
    if (r == RS_OPTS_COUNTERS)
        return rs_server_list_counters(stdout);
    if (r == RS_OPTS_VERSION) {
        printf("ringsock %s (allocator %s)\n", RS_VERSION, rs_alloc_name());
        return 0;
    }
    r = rs_server_run(&o);
    if (r != 0) { /* a reload's new process that could not start says why */
        rs_log_last_error(err, sizeof(err));
        rs_reload_notify_failed(err[0] ? err : "the new process could not start");
    }
    return r;
}
