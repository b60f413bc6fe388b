/* httpraw: a raw HTTP test client. Sends DATA (C escapes \r \n \t \\ \xHH decoded) to
 * 127.0.0.1:PORT, optionally one byte per write (--bytewise MS between bytes), pausing --gap MS
 * (default 500) at each \p in DATA, optionally half-closes after sending (--shut), then prints
 * what comes back until the server closes or --timeout seconds pass. Exit 0 if the server
 * closed, 124 on timeout, 1 on error (ECONNRESET included: a reset that destroys an answer is
 * exactly what the tests look for). --hold: after the server's FIN, keep the socket open and
 * send a byte every 100 ms until the server has closed it for good (the send fails), for a
 * lingering close. --elapsed: print "elapsed_ms=N" on stderr at the close, N counted from the
 * end of sending. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAUSES 64

/* Decodes s into out; the offsets of \p marks go to pauses[] (*npauses of them). */
static size_t unescape(const char *s, char *out, size_t *pauses, int *npauses)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s != '\\' || !s[1]) {
            out[n++] = *s;
            continue;
        }
        s++;
        switch (*s) {
        case 'r':
            out[n++] = '\r';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'p':
            if (*npauses < MAX_PAUSES)
                pauses[(*npauses)++] = n;
            break;
        case 'x': {
            char hex[3] = {s[1], s[1] ? s[2] : 0, 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            s += 2;
            break;
        }
        default:
            out[n++] = *s;
        }
    }
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int bytewise_ms = -1, shut = 0, gap_ms = 500, hold = 0, elapsed = 0;
    double timeout = 5;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--bytewise") == 0 && i + 1 < argc)
            bytewise_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--shut") == 0)
            shut = 1;
        else if (strcmp(argv[i], "--gap") == 0 && i + 1 < argc)
            gap_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--hold") == 0)
            hold = 1;
        else if (strcmp(argv[i], "--elapsed") == 0)
            elapsed = 1;
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = atof(argv[++i]);
        else
            break;
    }
    if (i + 2 != argc) {
        fprintf(stderr, "usage: httpraw [--bytewise MS] [--gap MS] [--shut] [--hold] [--elapsed] "
                        "[--timeout S] PORT DATA\n");
        return 2;
    }
    char *data = malloc(strlen(argv[i + 1]) + 1);
    size_t pauses[MAX_PAUSES + 1];
    int npauses = 0;
    size_t len = unescape(argv[i + 1], data, pauses, &npauses);
    pauses[npauses] = len; /* the end of the last piece */
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)atoi(argv[i])),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        perror("httpraw: connect");
        free(data);
        return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    size_t start = 0;
    int sent_all = 1;
    for (int piece = 0; piece <= npauses && sent_all; piece++) {
        if (piece > 0)
            usleep((useconds_t)gap_ms * 1000);
        size_t end = pauses[piece];
        if (bytewise_ms >= 0) {
            for (size_t k = start; k < end; k++) {
                if (send(fd, data + k, 1, MSG_NOSIGNAL) != 1) {
                    sent_all = 0; /* the server may answer and close early: read what it said */
                    break;
                }
                usleep((useconds_t)bytewise_ms * 1000);
            }
        } else if (end > start && send(fd, data + start, end - start, MSG_NOSIGNAL) < 0) {
            sent_all = 0;
        }
        start = end;
    }
    free(data);
    if (shut)
        shutdown(fd, SHUT_WR);
    double sent_at = now_s();
    double deadline = sent_at + timeout;
    char buf[65536];
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            return 124;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(left * 1000) + 1) == 0)
            return 124;
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 && hold) {
            /* FIN: the answer is whole. Go on sending until the close makes a send fail. */
            while (now_s() < deadline) {
                if (send(fd, "x", 1, MSG_NOSIGNAL) < 0)
                    break;
                usleep(100000);
            }
            if (now_s() >= deadline)
                return 124;
        }
        if (r == 0) {
            if (elapsed)
                fprintf(stderr, "elapsed_ms=%d\n", (int)((now_s() - sent_at) * 1000));
            return 0;
        }
        if (r < 0) {
            fprintf(stderr, "httpraw: %s\n", strerror(errno));
            return 1;
        }
        fwrite(buf, 1, (size_t)r, stdout);
        fflush(stdout);
    }
}
