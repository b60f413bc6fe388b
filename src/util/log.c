#include "ringsock/util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "ringsock";

void rs_log_set_prog(const char *prog)
{
    log_prog = prog;
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
    char buf[1024];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    if (n < 0)
        return;
    /* One write per line so lines from several threads do not interleave. */
    if (level)
        fprintf(stderr, "%s: %s: %s\n", log_prog, level, buf);
    else
        fprintf(stderr, "%s: %s\n", log_prog, buf);
}

/* The last error line, for a reload's new process to tell the old one why it failed. Errors
 * are rare and rate-limited by their callers: a lock costs nothing here. */
static pthread_mutex_t last_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_error[256];

void rs_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(NULL, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    pthread_mutex_lock(&last_mu);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    pthread_mutex_unlock(&last_mu);
    va_end(ap);
}

void rs_log_last_error(char *buf, size_t size)
{
    pthread_mutex_lock(&last_mu);
    snprintf(buf, size, "%s", last_error);
    pthread_mutex_unlock(&last_mu);
}

void rs_log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("warning", fmt, ap);
    va_end(ap);
}

void rs_log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(NULL, fmt, ap);
    va_end(ap);
}

uint64_t rs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool rs_ratelimit_ok(struct rs_ratelimit *rl, uint64_t *suppressed)
{
    uint64_t now = rs_now_ns();
    if (rl->last_ns != 0 && now - rl->last_ns < rl->interval_ns) {
        rl->suppressed++;
        return false;
    }
    rl->last_ns = now;
    if (suppressed)
        *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}
