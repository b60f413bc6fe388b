#ifndef RINGSOCK_BUFRING_H
#define RINGSOCK_BUFRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bookkeeping for a ring of provided receive buffers: one contiguous block of count buffers of
 * size bytes, buffer id = index. The kernel picks a buffer per receive; the owner hands it back
 * once the bytes have been consumed. This part is pure (no io_uring calls) so it can be tested
 * alone; the io_uring backend pairs it with the registered ring. */
struct rs_bufring {
    char *base;
    uint32_t count; /* power of two */
    uint32_t size;  /* bytes per buffer */
};

/* Rounds n up to a power of two within [1, 32768] (the kernel's limit for a buffer ring). */
uint32_t rs_bufring_entries(uint32_t n);

/* Sets up the bookkeeping for an already allocated block. count must be a power of two. */
int rs_bufring_init(struct rs_bufring *br, char *base, uint32_t count, uint32_t size);

/* Address of buffer bid, or NULL if bid is out of range. */
char *rs_bufring_addr(const struct rs_bufring *br, uint32_t bid);

/* True if bid/len describe bytes that lie inside buffer bid. */
bool rs_bufring_valid(const struct rs_bufring *br, uint32_t bid, size_t len);

#endif
