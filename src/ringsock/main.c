/* ringsock: the server's command line. */

#include <stdio.h>

#include "ringsock/util/alloc.h"
#include "ringsock/util/log.h"
#include "opts.h"
#include "server.h"

int main(int argc, char **argv)
{
    struct rs_server_opts o;
    char err[256];

    rs_log_set_prog("ringsock");
    /* Line-buffered even into a pipe or file: the listening line and --stats lines are read
     * while the server runs. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    int r = rs_server_opts_parse(argc, argv, &o, err, sizeof(err));
    if (r < 0) {
        rs_log_error("%s", err);
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
    return rs_server_run(&o);
}
