#ifndef RINGSOCK_LOG_H
#define RINGSOCK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Log lines go to stderr, one line each, prefixed with the program name. */
void rs_log_set_prog(const char *prog);
void rs_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Copies the last line rs_log_error wrote ("" if none) into buf. */
void rs_log_last_error(char *buf, size_t size);
void rs_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rs_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Rate limit for warnings on hot paths: at most one line per interval, counting what it hid.
 * Owned by one thread (per worker), so it needs no atomics. */
struct rs_ratelimit {
    uint64_t interval_ns;
    uint64_t last_ns;
    uint64_t suppressed;
};

#define RS_RATELIMIT_INIT(ms)                                                                      \
    {                                                                                              \
        .interval_ns = (uint64_t)(ms)*1000000ull                                                   \
    }

/* Returns true if a line may be printed now; *suppressed receives how many were hidden. */
bool rs_ratelimit_ok(struct rs_ratelimit *rl, uint64_t *suppressed);

/* Monotonic clock in nanoseconds. */
uint64_t rs_now_ns(void);

#endif
