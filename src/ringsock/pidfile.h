#ifndef RINGSOCK_PIDFILE_H
#define RINGSOCK_PIDFILE_H

#include <sys/types.h>

/* --pid-file: the pid of the process that is accepting, as "PID\n". Written whole or not at all
 * (a temporary file beside it, then rename), so a reader never sees a half-written pid. Returns
 * 0 or -errno; the temporary file is removed on failure. */
int rs_pidfile_write(const char *path, pid_t pid);

/* Removes path if it still holds pid (a successor may have written its own since). Returns 0,
 * -ESRCH when it holds another pid (left alone), or -errno. */
int rs_pidfile_remove(const char *path, pid_t pid);

#endif
