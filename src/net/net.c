#include "ringsock/net/net.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif
#ifndef ETH_P_IPV6
#define ETH_P_IPV6 0x86DD
#endif

#define STEER_MUL  0x9E3779B1u /* 2^32 / golden ratio: spreads neighbouring addresses */
#define STEER_FOLD 0x01000193u /* folds IPv6's four words into one */

int rs_net_listen_tcp(const struct rs_addr *addr, int backlog)
{
    int one = 1;
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto out_close_fd;
    /* [::] serves IPv6 only; use a second --tcp for IPv4, as nginx does with ipv6only=on. */
    if (addr->ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto out_close_fd;
    if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0)
        goto out_close_fd;
    /* listen() cuts a larger backlog down to net.core.somaxconn (kernel >= 5.4 allows more
     * than 65535), so "as large as allowed" is the largest int. */
    if (listen(fd, backlog > 0 ? backlog : INT_MAX) < 0)
        goto out_close_fd;
    return fd;

out_close_fd : {
    int err = -errno;
    close(fd);
    return err;
}
}

int rs_net_bind_probe(const struct rs_addr *addr, bool udp)
{
    int one = 1, err = 0;
    int fd = socket(addr->ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if ((!udp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
        (addr->ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
        bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0)
        err = -errno;
    close(fd);
    return err;
}

int rs_net_local_addr(int fd, struct rs_addr *out)
{
    out->len = sizeof(out->ss);
    if (getsockname(fd, (struct sockaddr *)&out->ss, &out->len) < 0)
        return -errno;
    return 0;
}

int rs_net_set_bufs(int fd, int sndbuf, int rcvbuf)
{
    if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
        return -errno;
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
        return -errno;
    return 0;
}

int rs_net_bind_source(int fd, const struct rs_addr *src)
{
    int one = 1;
    struct rs_addr a = *src;
    rs_addr_set_port(&a, 0);
    /* Without it, bind() picks a port for the source address alone and 28k connections
     * exhaust the range whatever the destination. Old kernels: plain bind, fewer ports. */
    if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0 &&
        errno != ENOPROTOOPT)
        return -errno;
    if (bind(fd, (const struct sockaddr *)&a.ss, a.len) < 0)
        return -errno;
    return 0;
}

int rs_fd_limit_raise(uint64_t *limit)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    *limit = rl.rlim_cur;
    if (rl.rlim_cur == rl.rlim_max)
        return 0;
    /* An unlimited hard limit still stops at fs.nr_open, and asking for more is EPERM. */
    rlim_t want = rl.rlim_max;
    if (want == RLIM_INFINITY) {
        unsigned long long nr_open = 1048576;
        FILE *f = fopen("/proc/sys/fs/nr_open", "r");
        if (f) {
            if (fscanf(f, "%llu", &nr_open) != 1)
                nr_open = 1048576;
            fclose(f);
        }
        want = (rlim_t)nr_open;
    }
    if (want <= rl.rlim_cur)
        return 0;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    *limit = want;
    return 0;
}

/* The program's hash, in C (32-bit arithmetic, as classic BPF's). */
static uint32_t steer_mix(uint32_t h)
{
    h *= STEER_MUL;
    return h ^ (h >> 16);
}

unsigned rs_net_steer_index(const unsigned char addr[16], unsigned nsocks)
{
    uint32_t w[4];
    for (int i = 0; i < 4; i++)
        w[i] = (uint32_t)addr[4 * i] << 24 | (uint32_t)addr[4 * i + 1] << 16 |
               (uint32_t)addr[4 * i + 2] << 8 | addr[4 * i + 3];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint32_t h;
    if (memcmp(addr, mapped, 12) == 0) {
        h = w[3]; /* IPv4: the packet is IPv4 (a dual-stack socket sees it so too) */
    } else {
        h = w[0];
        for (int i = 1; i < 4; i++)
            h = h * STEER_FOLD + w[i];
    }
    return steer_mix(h) % nsocks;
}

int rs_net_reuseport_steer(int fd, unsigned nsocks)
{
    if (nsocks == 0)
        return -EINVAL;
    /* The program runs on the packet (a TCP SYN or a UDP datagram) with its data pulled past
     * the transport header, so the source address is loaded relative to the network header
     * (SKF_NET_OFF): IPv4 saddr at 12, IPv6 saddr at 8..23. Loads give host byte order. A
     * load that fails ends the program with 0: the first socket. */
    struct sock_filter prog[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL)),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 2, 0),
        /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_NET_OFF + 12)),
        /* 3 */ BPF_STMT(BPF_JMP | BPF_JA, 13),
        /* 4: IPv6, h = ((w0 * F + w1) * F + w2) * F + w3 */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_NET_OFF + 8)),
        BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, STEER_FOLD),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_NET_OFF + 12)),
        BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, STEER_FOLD),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_NET_OFF + 16)),
        BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, STEER_FOLD),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_NET_OFF + 20)),
        BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
        /* 17: A = h; mix, then % nsocks */
        BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, STEER_MUL),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
        BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, nsocks),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog fprog = {.len = sizeof(prog) / sizeof(prog[0]), .filter = prog};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof(fprog)) < 0)
        return -errno;
    return 0;
}

int rs_net_set_nodelay(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        return -errno;
    return 0;
}

bool rs_addr_is_multicast(const struct rs_addr *a)
{
    if (a->ss.ss_family == AF_INET6)
        return IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
    if (a->ss.ss_family == AF_INET)
        return IN_MULTICAST(ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr));
    return false;
}

/* Joins the group a on interface iface (IPv4: kernel >= 2.2 ip_mreqn; IPv6: IPV6_JOIN_GROUP). */
static int join_group(int fd, const struct rs_addr *a, const char *iface)
{
    unsigned ifindex = iface ? if_nametoindex(iface) : 0;
    if (!iface || !ifindex)
        return iface ? -ENODEV : -EINVAL;
    if (a->ss.ss_family == AF_INET6) {
        struct ipv6_mreq mr;
        memset(&mr, 0, sizeof(mr));
        mr.ipv6mr_multiaddr = ((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
        mr.ipv6mr_interface = ifindex;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof(mr)) < 0)
            return -errno;
        return 0;
    }
    struct ip_mreqn mr;
    memset(&mr, 0, sizeof(mr));
    mr.imr_multiaddr = ((const struct sockaddr_in *)&a->ss)->sin_addr;
    mr.imr_ifindex = (int)ifindex;
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
        return -errno;
    return 0;
}

int rs_net_bind_udp(const struct rs_addr *addr, int rcvbuf, int sndbuf, const char *iface,
                    const char **what)
{
    int one = 1, err;
    int fd = socket(addr->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    *what = "socket";
    if (fd < 0)
        return -errno;
    *what = "setsockopt";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) < 0)
        goto out_close_fd;
    if (addr->ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto out_close_fd;
    *what = "buffer size";
    if ((err = rs_net_set_bufs(fd, sndbuf, rcvbuf)) < 0) {
        close(fd);
        return err;
    }
    *what = "bind";
    struct rs_addr b = *addr;
    if (b.ss.ss_family == AF_INET6 && rs_addr_is_multicast(&b) && iface) {
        /* A link-local group (ff02::/16) is bound on the joining interface (its scope). */
        ((struct sockaddr_in6 *)&b.ss)->sin6_scope_id = if_nametoindex(iface);
    }
    if (bind(fd, (const struct sockaddr *)&b.ss, b.len) < 0)
        goto out_close_fd;
    if (rs_addr_is_multicast(addr)) {
        *what = "join multicast group";
        if ((err = join_group(fd, addr, iface)) < 0) {
            close(fd);
            return err;
        }
    }
    return fd;

out_close_fd:
    err = -errno;
    close(fd);
    return err;
}
