/* steercheck: rs_net_reuseport_steer on real sockets. For TCP and UDP, IPv4 (sources
 * 127.0.0.1..127.0.0.NADDR, several connections or datagrams each from fresh ports) and IPv6
 * (::1), a reuseport group of NSOCK sockets on loopback with the program attached: every
 * connection or datagram must reach the socket rs_net_steer_index names for its source address.
 * Prints how many each socket got (the spread). With --no-steer, nothing is attached and it
 * prints the kernel's own spread and how many addresses it split over several sockets.
 * Exit 0 pass, 1 fail, 77 if the kernel lacks SO_ATTACH_REUSEPORT_CBPF. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ringsock/net/net.h"

#define NSOCK 3
#define NADDR 64
#define PER   4

static bool steer = true;

static void die(const char *what)
{
    fprintf(stderr, "steercheck: FAIL: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void sa_make(struct rs_addr *a, int family, const char *ip, int port)
{
    memset(a, 0, sizeof(*a));
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&a->ss;
        s->sin_family = AF_INET;
        s->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, ip, &s->sin_addr);
        a->len = sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, ip, &s->sin6_addr);
        a->len = sizeof(*s);
    }
}

/* The 16-byte key of an address (IPv4 mapped). */
static void key_of(const struct rs_addr *a, unsigned char key[16])
{
    if (a->ss.ss_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, 16);
        return;
    }
    memset(key, 0, 10);
    key[10] = key[11] = 0xff;
    memcpy(key + 12, &((const struct sockaddr_in *)&a->ss)->sin_addr, 4);
}

/* Which of the group's sockets has something waiting (after up to 2 s), or -1. */
static int which(const int *fds, bool tcp)
{
    struct pollfd p[NSOCK];
    for (int i = 0; i < NSOCK; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    if (poll(p, NSOCK, 2000) <= 0)
        return -1;
    for (int i = 0; i < NSOCK; i++) {
        if (!(p[i].revents & POLLIN))
            continue;
        if (tcp) {
            int c = accept(fds[i], NULL, NULL);
            if (c < 0)
                die("accept");
            close(c);
        } else {
            char b[16];
            if (recv(fds[i], b, sizeof(b), 0) < 0)
                die("recv");
        }
        return i;
    }
    return -1;
}

/* One protocol and family: returns the number of misrouted packets (0 = pass). */
static int run(bool tcp, int family)
{
    int fds[NSOCK], port = 0, bad = 0, count[NSOCK] = {0}, split = 0;
    const char *lo = family == AF_INET ? "127.0.0.1" : "::1";
    unsigned naddr = family == AF_INET ? NADDR : 1;
    for (int i = 0; i < NSOCK; i++) {
        struct rs_addr a;
        sa_make(&a, family, lo, port);
        if (tcp) {
            fds[i] = rs_net_listen_tcp(&a, 128);
        } else {
            const char *what;
            fds[i] = rs_net_bind_udp(&a, 0, 0, NULL, &what);
        }
        if (fds[i] < 0) {
            if (family == AF_INET6 && i == 0)
                return 0; /* no IPv6 loopback here */
            errno = -fds[i];
            die("bind");
        }
        struct rs_addr b;
        rs_net_local_addr(fds[i], &b);
        port = rs_addr_port(&b);
    }
    if (steer) {
        int err = rs_net_reuseport_steer(fds[0], NSOCK);
        if (err == -ENOPROTOOPT || err == -EINVAL) {
            printf("SKIP: SO_ATTACH_REUSEPORT_CBPF: %s\n", strerror(-err));
            exit(77);
        }
        if (err < 0) {
            errno = -err;
            die("rs_net_reuseport_steer");
        }
    }
    for (unsigned n = 0; n < naddr; n++) {
        char ip[64];
        if (family == AF_INET)
            snprintf(ip, sizeof(ip), "127.0.0.%u", n + 1);
        else
            snprintf(ip, sizeof(ip), "::1");
        struct rs_addr src, dst;
        unsigned char key[16];
        sa_make(&src, family, ip, 0);
        sa_make(&dst, family, lo, port);
        key_of(&src, key);
        int want = (int)rs_net_steer_index(key, NSOCK), first = -1;
        bool was_split = false;
        for (int k = 0; k < PER; k++) {
            int c = socket(family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
            if (c < 0 || bind(c, (struct sockaddr *)&src.ss, src.len) < 0)
                die("client socket");
            if (tcp) {
                if (connect(c, (struct sockaddr *)&dst.ss, dst.len) < 0)
                    die("connect");
            } else if (sendto(c, "x", 1, 0, (struct sockaddr *)&dst.ss, dst.len) != 1) {
                die("sendto");
            }
            int got = which(fds, tcp);
            close(c);
            if (got < 0) {
                fprintf(stderr, "steercheck: FAIL: nothing arrived from %s\n", ip);
                exit(1);
            }
            count[got]++;
            if (first < 0)
                first = got;
            was_split |= got != first;
            if (steer && got != want) {
                fprintf(stderr, "steercheck: %s %s from %s reached socket %d, want %d\n",
                        tcp ? "tcp" : "udp", family == AF_INET ? "ipv4" : "ipv6", ip, got, want);
                bad++;
            }
        }
        split += was_split;
    }
    printf("%s %s %s: %u addresses x %d: per socket", steer ? "steered" : "kernel",
           tcp ? "tcp" : "udp", family == AF_INET ? "ipv4" : "ipv6", naddr, PER);
    for (int i = 0; i < NSOCK; i++)
        printf(" %d", count[i]);
    printf("; addresses split over sockets: %d\n", split);
    for (int i = 0; i < NSOCK; i++)
        close(fds[i]);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--no-steer") == 0)
        steer = false;
    int bad = run(true, AF_INET) + run(false, AF_INET) + run(true, AF_INET6) + run(false, AF_INET6);
    if (bad) {
        fprintf(stderr, "steercheck: FAIL: %d misrouted\n", bad);
        return 1;
    }
    printf("PASS: steercheck\n");
    return 0;
}
