/* The services ringsock serves, by the name its first argument gives. A new service is one
 * more entry here (after the built-in ones, whose places opts.h names). */

#include <errno.h>
#include <string.h>

#include "access_log.h"
#include "opts.h"
#include "reload.h"
#include "ringsock/core/stats.h"
#include "ringsock/services/services.h"

const struct rs_service *const rs_services[] = {
    [RS_SVC_ECHO] = &rs_echo_service,
    [RS_SVC_DISCARD] = &rs_discard_service,
    [RS_SVC_HTTP] = &rs_http_service,
    [RS_SVC_SOCKPERF] = &rs_sockperf_service,
    &rs_relay_service,
};

_Static_assert(sizeof(rs_services) / sizeof(rs_services[0]) <= RS_MAX_SERVICES,
               "raise RS_MAX_SERVICES");

const unsigned rs_nservices = sizeof(rs_services) / sizeof(rs_services[0]);

int rs_service_index(const char *name)
{
    for (unsigned i = 0; i < rs_nservices; i++)
        if (strcmp(rs_services[i]->name, name) == 0)
            return (int)i;
    return -ENOENT;
}

struct rs_counter_set *rs_server_counters_new(unsigned nworkers)
{
    const struct rs_counter_block *blocks[4 + RS_MAX_SERVICES];
    unsigned n = 0;
    blocks[n++] = &rs_loop_counter_block;
    blocks[n++] = &rs_dgram_counter_block;
    for (unsigned i = 0; i < rs_nservices; i++)
        if (rs_services[i]->counters)
            blocks[n++] = rs_services[i]->counters;
    blocks[n++] = &rs_access_log_counter_block;
    blocks[n++] = &rs_reload_counter_block;
    return rs_counter_set_new(blocks, n, nworkers);
}
