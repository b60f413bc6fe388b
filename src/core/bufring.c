#include "ringsock/core/bufring.h"

#include <errno.h>

uint32_t rs_bufring_entries(uint32_t n)
{
    uint32_t e = 1;
    if (n > 32768)
        n = 32768;
    while (e < n)
        e <<= 1;
    return e;
}

int rs_bufring_init(struct rs_bufring *br, char *base, uint32_t count, uint32_t size)
{
    if (!base || count == 0 || (count & (count - 1)) != 0 || count > 32768 || size == 0)
        return -EINVAL;
    br->base = base;
    br->count = count;
    br->size = size;
    return 0;
}

char *rs_bufring_addr(const struct rs_bufring *br, uint32_t bid)
{
    if (bid >= br->count)
        return NULL;
    return br->base + (size_t)bid * br->size;
}

bool rs_bufring_valid(const struct rs_bufring *br, uint32_t bid, size_t len)
{
    return bid < br->count && len <= br->size;
}
