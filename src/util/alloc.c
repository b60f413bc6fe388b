#include "ringsock/util/alloc.h"

#include <stdlib.h>

/* jemalloc, when linked, replaces malloc itself (Debian builds it without a prefix), so the
 * switch lives in the build; this file is the one place to change if that ever differs. */

void *rs_malloc(size_t n)
{
    return malloc(n);
}

void *rs_calloc(size_t count, size_t n)
{
    return calloc(count, n);
}

void *rs_aligned_alloc(size_t align, size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, align, n) != 0)
        return NULL;
    return p;
}

void rs_free(void *p)
{
    free(p);
}

const char *rs_alloc_name(void)
{
#ifdef RS_HAVE_JEMALLOC
    return "jemalloc";
#else
    return "libc";
#endif
}
