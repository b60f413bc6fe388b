/* The access log's worker side and file handling (ringsock/access_log.c), without the thread's
 * timing: lines go to the file through the ring, a full ring drops and counts, the file is
 * created 0640 and appended to, a reopen after a rename writes to the new file, and closing
 * writes what is buffered. */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "access_log.h"
#include "ringsock/net/addr.h"
#include "ringsock/util/counters.h"

static char dir[] = "/tmp/test_access_log.XXXXXX";

static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int n = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        n += !needle || strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static uint64_t ctr(struct rs_counter_set *set, const char *name)
{
    _Atomic uint64_t *b = rs_counter_set_block(set, 0, &rs_access_log_counter_block);
    for (unsigned i = 0; i < rs_access_log_counter_block.n; i++)
        if (strcmp(rs_access_log_counter_block.desc[i].name, name) == 0)
            return atomic_load(&b[i]);
    CHECK(!"no such counter");
    return 0;
}

/* Waits (at most 3 s) until path has n lines. */
static bool wait_lines(const char *path, int n)
{
    for (int i = 0; i < 300; i++) {
        if (count_lines(path, NULL) >= n)
            return true;
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    return false;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    char path[256], moved[256];
    snprintf(path, sizeof(path), "%s/access.log", dir);
    snprintf(moved, sizeof(moved), "%s/access.log.1", dir);

    const struct rs_counter_block *blocks[] = {&rs_access_log_counter_block};
    struct rs_counter_set *set = rs_counter_set_new(blocks, 1, 1);
    struct rs_access_log_listener tcp[1] = {{.addr = "127.0.0.1:7000", .service = "echo"}};
    int err = 0;
    mode_t old_mask = umask(022);
    /* 256 bytes: the ring holds no more than one line (a line is about 250 bytes). */
    struct rs_access_log *al = rs_access_log_open(path, 1, 256, tcp, 1, "echo", set, &err);
    umask(old_mask);
    CHECK(al != NULL);
    if (!al)
        return check_done("test_access_log");
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0640);

    struct rs_addr client = {.len = sizeof(struct sockaddr_in)};
    struct sockaddr_in *sin = (struct sockaddr_in *)&client.ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(40000);
    inet_pton(AF_INET, "127.0.0.2", &sin->sin_addr);
    struct rs_conn_end e = {.listener = 0,
                            .client = &client,
                            .bytes_in = 5,
                            .bytes_out = 6,
                            .start_ns = 1000000000,
                            .end_ns = 1250000000,
                            .reason = RS_CLOSE_RESET,
                            .err = -ECONNRESET};
    void *w = rs_access_log_worker(al, 0);

    /* Thread not started: the ring fills after one line; the rest are dropped and counted. */
    for (int i = 0; i < 5; i++)
        rs_access_log_conn_end(&e, w);
    CHECK_EQ(ctr(set, "access_log_lines"), 1);
    CHECK_EQ(ctr(set, "access_log_dropped"), 4);

    /* Started: the buffered line is written within the drain period, and more follow. */
    CHECK_EQ(rs_access_log_start(al), 0);
    CHECK(wait_lines(path, 1));
    rs_access_log_conn_end(&e, w);
    CHECK(wait_lines(path, 2));
    CHECK_EQ(count_lines(path, "\"client\":\"127.0.0.2:40000\""), 2);
    CHECK_EQ(count_lines(path, "\"reason\":\"reset\",\"error\":\"ECONNRESET\""), 2);
    CHECK_EQ(count_lines(path, "\"bytes_in\":5,\"bytes_out\":6,\"duration\":0.250,"), 2);
    CHECK_EQ(count_lines(path, "\"listener\":\"127.0.0.1:7000\""), 2);

    /* Rotation: renamed, reopened; the next line goes to a new file at path. */
    CHECK_EQ(rename(path, moved), 0);
    rs_access_log_reopen(al);
    for (int i = 0; i < 300 && access(path, F_OK) != 0; i++)
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    CHECK_EQ(access(path, F_OK), 0);
    e.reason = RS_CLOSE_IDLE_TIMEOUT;
    e.err = 0;
    rs_access_log_conn_end(&e, w);
    /* Closing writes it even if the thread has not drained yet. */
    rs_access_log_close(al);
    CHECK_EQ(count_lines(moved, NULL), 2);
    CHECK_EQ(count_lines(path, NULL), 1);
    CHECK_EQ(count_lines(path, "\"reason\":\"idle_timeout\",\"error\":\"\""), 1);

    /* Appending: a second open keeps what is there. */
    al = rs_access_log_open(path, 1, 4096, tcp, 1, "echo", set, &err);
    CHECK(al != NULL);
    rs_access_log_conn_end(&e, rs_access_log_worker(al, 0));
    rs_access_log_close(al); /* never started: closing drains it itself */
    CHECK_EQ(count_lines(path, NULL), 2);

    /* A directory that does not exist: NULL and the error. */
    snprintf(moved, sizeof(moved), "%s/no/such", dir);
    CHECK(rs_access_log_open(moved, 1, 4096, tcp, 1, "echo", set, &err) == NULL);
    CHECK_EQ(err, -ENOENT);

    rs_counter_set_free(set);
    unlink(path);
    snprintf(moved, sizeof(moved), "%s/access.log.1", dir);
    unlink(moved);
    rmdir(dir);
    return check_done("test_access_log");
}
