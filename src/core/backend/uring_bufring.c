/* The io_uring backend's provided buffer ring (kernel >= 5.19): one ring of receive buffers
 * per worker, shared by every connection's multishot receive, so idle connections hold none. */

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "ringsock/util/alloc.h"
#include "uring.h"

struct io_uring_buf_ring *rs__ur_bufring_register(struct io_uring *ring, uint32_t entries,
                                                  size_t *len_out, int *err)
{
    size_t len = entries * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (unsigned long)mem;
    reg.ring_entries = entries;
    reg.bgid = UR_BGID;
    *err = io_uring_register_buf_ring(ring, &reg, 0);
    if (*err < 0) {
        munmap(mem, len);
        return NULL;
    }
    io_uring_buf_ring_init(mem);
    *len_out = len;
    return mem;
}

int rs__ur_bufring_setup(struct ur *u, uint32_t count, uint32_t size)
{
    int err;
    uint32_t entries = rs_bufring_entries(count);
    char *bufs = rs_aligned_alloc(4096, (size_t)entries * size);
    if (!bufs)
        return -ENOMEM;
    /* Resident from the start: the kernel takes the buffers in ring order, so any traffic soon
     * touches all of them. Memory the worker holds whatever its load shows at start, and what
     * grows under load is only what connections hold (each bounded by --write-queue). */
    memset(bufs, 0, (size_t)entries * size);
    rs_bufring_init(&u->br, bufs, entries, size);
    u->brr = rs__ur_bufring_register(&u->ring, entries, &u->brr_len, &err);
    if (!u->brr)
        goto out_free_bufs;
    u->br_mask = (uint32_t)io_uring_buf_ring_mask(entries);
    for (uint32_t i = 0; i < entries; i++)
        io_uring_buf_ring_add(u->brr, rs_bufring_addr(&u->br, i), u->br.size, (unsigned short)i,
                              (int)u->br_mask, (int)i);
    io_uring_buf_ring_advance(u->brr, (int)entries);
    return 0;

out_free_bufs:
    rs_free(bufs);
    u->br.base = NULL;
    return err;
}

void rs__ur_bufring_free(struct ur *u)
{
    if (u->brr)
        munmap(u->brr, u->brr_len);
    rs_free(u->br.base);
    u->brr = NULL;
    u->br.base = NULL;
}
