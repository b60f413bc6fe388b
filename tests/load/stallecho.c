/* stallecho: a deliberately faulty TCP echo server, the test double for ringload's tests.
 * Listens on 127.0.0.1 port 0 and prints "stallecho: port N". Echoes every byte, except:
 *   --corrupt-at OFFSET   flips the byte at stream offset OFFSET of the first connection;
 *   --stall-after S --stall-for D   S seconds after the first connection, stops reading and
 *                         writing every connection for D seconds, then carries on.
 * Single-threaded, poll(); stops by itself after --lifetime seconds (default 60). */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define BUF_SIZE  65536

struct client {
    int fd;
    unsigned char buf[BUF_SIZE];
    size_t have, sent;
    unsigned long long offset; /* stream bytes read so far */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long long corrupt_at = -1;
    double stall_after = -1, stall_for = 0, lifetime = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--corrupt-at") == 0)
            corrupt_at = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--stall-after") == 0)
            stall_after = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--stall-for") == 0)
            stall_for = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--lifetime") == 0)
            lifetime = atof(argv[i + 1]);
        else {
            fprintf(stderr, "stallecho: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 128) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
        perror("stallecho");
        return 1;
    }
    printf("stallecho: port %d\n", ntohs(sin.sin_port));
    fflush(stdout);

    static struct client cl[MAX_CONNS];
    int n = 0, first_conn = 1;
    double start = now_s(), first = -1;
    while (now_s() - start < lifetime) {
        double t = now_s();
        if (first >= 0 && stall_after >= 0 && t >= first + stall_after &&
            t < first + stall_after + stall_for) {
            usleep(1000); /* stalled: nothing is read or written */
            continue;
        }
        struct pollfd pf[MAX_CONNS + 1];
        pf[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int i = 0; i < n; i++)
            pf[i + 1] = (struct pollfd){.fd = cl[i].fd,
                                        .events = cl[i].have > cl[i].sent ? POLLOUT : POLLIN};
        if (poll(pf, (nfds_t)n + 1, 10) < 0 && errno != EINTR)
            return 1;
        if (pf[0].revents & POLLIN) {
            int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
            if (fd >= 0 && n < MAX_CONNS) {
                memset(&cl[n], 0, sizeof(cl[n]));
                cl[n++].fd = fd;
                if (first < 0)
                    first = now_s();
            } else if (fd >= 0) {
                close(fd);
            }
        }
        for (int i = 0; i < n; i++) {
            struct client *c = &cl[i];
            if (c->have > c->sent) {
                ssize_t w = send(c->fd, c->buf + c->sent, c->have - c->sent, MSG_NOSIGNAL);
                if (w > 0)
                    c->sent += (size_t)w;
                if (c->sent == c->have)
                    c->have = c->sent = 0;
                continue;
            }
            ssize_t r = recv(c->fd, c->buf, BUF_SIZE, 0);
            if (r > 0) {
                if (i == 0 && first_conn && corrupt_at >= 0 &&
                    (unsigned long long)corrupt_at >= c->offset &&
                    (unsigned long long)corrupt_at < c->offset + (size_t)r)
                    c->buf[corrupt_at - (long long)c->offset] ^= 0xff;
                c->offset += (unsigned long long)r;
                c->have = (size_t)r;
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(c->fd);
                if (i == 0)
                    first_conn = 0;
                cl[i] = cl[--n];
                i--;
            }
        }
    }
    return 0;
}
