#ifndef RINGSOCK_SPSC_H
#define RINGSOCK_SPSC_H

/* A byte ring with one producer thread and one consumer thread, lock-free: the producer
 * appends whole records (all or nothing, never waiting), the consumer takes what is there.
 * The two indexes are the only shared state: head (bytes ever written, stored by the producer
 * with release) and tail (bytes ever taken, stored by the consumer with release). The bytes
 * between tail and head are the consumer's, the rest the producer's. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rs_spsc {
    _Atomic uint64_t head __attribute__((aligned(64))); /* producer's */
    _Atomic uint64_t tail __attribute__((aligned(64))); /* consumer's */
    uint64_t tail_seen; /* producer: the last tail it read (saves a cache miss) */
    size_t cap;         /* a power of two */
    char *buf;
};

/* Sets up a ring of cap bytes (rounded up to a power of two, at least 64). Returns 0 or
 * -ENOMEM. */
int rs_spsc_init(struct rs_spsc *r, size_t cap);
void rs_spsc_fini(struct rs_spsc *r);

/* Producer: appends len bytes if they all fit, else nothing. Returns true if appended. */
bool rs_spsc_push(struct rs_spsc *r, const void *data, size_t len);

/* Consumer: the bytes waiting, as up to two spans (the second is the ring's start after a
 * wrap; n2 is 0 otherwise). Returns n1 + n2. Valid until rs_spsc_consume. */
size_t rs_spsc_peek(struct rs_spsc *r, const char **p1, size_t *n1, const char **p2, size_t *n2);
/* Consumer: gives n bytes (at most what rs_spsc_peek returned) back to the producer. */
void rs_spsc_consume(struct rs_spsc *r, size_t n);

#endif
