/* The reference a batching UDP echo server is measured against: one thread, one datagram at a
 * time, blocking recvfrom then sendto. Bench-only (built by bench/udp-echo.sh).
 * usage: udp_ref_echo PORT   (binds 127.0.0.1:PORT; PORT 0 picks one and prints it) */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    sin.sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 0));
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int big = 4 << 20;
    socklen_t len = sizeof(sin);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        perror("udp_ref_echo");
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: recvfrom returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("udp_ref_echo: port %d\n", ntohs(sin.sin_port));
    fflush(stdout);
    static char buf[65536];
    unsigned long long n = 0;
    while (!stop) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (r < 0)
            continue;
        if (sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, fl) >= 0)
            n++;
    }
    printf("udp_ref_echo: echoed %llu\n", n);
    return 0;
}
