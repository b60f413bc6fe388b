#include <errno.h>
#include <stdlib.h>

#include "../check.h"
#include "ringsock/core/bufring.h"

int main(void)
{
    CHECK_EQ(rs_bufring_entries(0), 1);
    CHECK_EQ(rs_bufring_entries(1), 1);
    CHECK_EQ(rs_bufring_entries(3), 4);
    CHECK_EQ(rs_bufring_entries(512), 512);
    CHECK_EQ(rs_bufring_entries(513), 1024);
    CHECK_EQ(rs_bufring_entries(1u << 20), 32768); /* the kernel's maximum */

    struct rs_bufring br;
    char *base = malloc(8 * 100);
    CHECK_EQ(rs_bufring_init(&br, base, 6, 100), -EINVAL); /* not a power of two */
    CHECK_EQ(rs_bufring_init(&br, base, 8, 0), -EINVAL);
    CHECK_EQ(rs_bufring_init(&br, NULL, 8, 100), -EINVAL);
    CHECK_EQ(rs_bufring_init(&br, base, 8, 100), 0);

    /* Buffer ids map to disjoint slices of the block, in order. */
    for (uint32_t bid = 0; bid < 8; bid++)
        CHECK(rs_bufring_addr(&br, bid) == base + bid * 100);
    CHECK(rs_bufring_addr(&br, 8) == NULL);
    CHECK(rs_bufring_valid(&br, 7, 100));
    CHECK(rs_bufring_valid(&br, 0, 0));
    CHECK(!rs_bufring_valid(&br, 7, 101)); /* a length past the buffer is never trusted */
    CHECK(!rs_bufring_valid(&br, 8, 1));
    CHECK(!rs_bufring_valid(&br, 65535, 1));
    free(base);
    return check_done("test_bufring");
}
