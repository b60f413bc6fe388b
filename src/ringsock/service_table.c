/* The services ringsock serves, by the name its first argument gives. A new service is one
 * more entry here (after the built-in ones, whose places opts.h names). */

#include <errno.h>
#include <string.h>

#include "opts.h"
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
