#ifndef RINGSOCK_ALLOC_H
#define RINGSOCK_ALLOC_H

#include <stddef.h>

/* All allocation goes through here, so the allocator (jemalloc, or libc in sanitizer builds) is
 * a build switch. Constructors return NULL on failure; rs_free(NULL) is a no-op. */
void *rs_malloc(size_t n);
void *rs_calloc(size_t count, size_t n);
void *rs_aligned_alloc(size_t align, size_t n);
void rs_free(void *p);
/* Name of the allocator linked in ("jemalloc" or "libc"). */
const char *rs_alloc_name(void);

#endif
