/* Names of handed-over sockets and their matching (fdname.c): the LISTEN_FDNAMES a reload
 * writes must read back, and the new process must take exactly the sockets that fit. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "fdname.h"

static struct rs_addr addr(const char *s)
{
    struct rs_addr a;
    CHECK(rs_addr_parse(s, &a) == 0);
    return a;
}

static void test_format_parse(void)
{
    char buf[RS_FDNAME_MAX], back[RS_ADDR_STRLEN];
    struct rs_addr a = addr("127.0.0.1:7000"), b;
    enum rs_fd_proto proto;
    unsigned w;
    CHECK(rs_fdname_format(RS_FD_TCP, &a, 0, buf, sizeof(buf)) == 0);
    CHECK(strcmp(buf, "tcp/127.0.0.1/7000/w0") == 0);
    CHECK(strchr(buf, ':') == NULL); /* LISTEN_FDNAMES separates names with ':' */
    CHECK(rs_fdname_parse(buf, &proto, &b, &w) == 0);
    CHECK(proto == RS_FD_TCP && w == 0);
    CHECK(strcmp(rs_addr_format(&b, back, sizeof(back)), "127.0.0.1:7000") == 0);

    a = addr("[::1]:53");
    CHECK(rs_fdname_format(RS_FD_UDP, &a, 13, buf, sizeof(buf)) == 0);
    CHECK(strcmp(buf, "udp/[//1]/53/w13") == 0);
    CHECK(rs_fdname_parse(buf, &proto, &b, &w) == 0);
    CHECK(proto == RS_FD_UDP && w == 13);
    CHECK(strcmp(rs_addr_format(&b, back, sizeof(back)), "[::1]:53") == 0);

    CHECK(rs_fdname_format(RS_FD_TCP, &a, 0, buf, 8) == -ENOSPC);
    const char *bad[] = {"",
                         "tcp",
                         "sctp/1.2.3.4/5/w0",
                         "tcp/1.2.3.4/5",
                         "tcp/1.2.3.4/5/x0",
                         "tcp/1.2.3.4/5/w",
                         "tcp/1.2.3.4/5/w1x",
                         "tcp/1.2.3.4/99999/w0",
                         "tcp/[//1/5/w0",
                         RS_FDNAME_READY};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(rs_fdname_parse(bad[i], &proto, &b, &w) == -EINVAL);
}

static void test_inherited_parse(void)
{
    struct rs_inherited in[8];
    pid_t me = getpid();
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)me);
    /* Meant for another process, or not there: nothing. */
    CHECK(rs_inherited_parse("1", me, "3", "a:b:c", in, 8) == 0);
    CHECK(rs_inherited_parse(NULL, me, "3", "a:b:c", in, 8) == 0);
    CHECK(rs_inherited_parse(pid, me, NULL, NULL, in, 8) == 0);
    /* Malformed or too many. */
    CHECK(rs_inherited_parse("x", me, "3", NULL, in, 8) == -EINVAL);
    CHECK(rs_inherited_parse(pid, me, "3x", NULL, in, 8) == -EINVAL);
    CHECK(rs_inherited_parse(pid, me, "9", NULL, in, 8) == -EINVAL);

    int n = rs_inherited_parse(
        pid, me, "4", "tcp/127.0.0.1/7000/w0:udp/127.0.0.1/7000/w1:other:" RS_FDNAME_READY, in, 8);
    CHECK(n == 4);
    CHECK(in[0].fd == 3 && in[0].sock && in[0].proto == RS_FD_TCP && in[0].worker == 0);
    CHECK(in[1].fd == 4 && in[1].sock && in[1].proto == RS_FD_UDP && in[1].worker == 1);
    CHECK(in[2].fd == 5 && !in[2].sock && !in[2].ready); /* unknown: closed, never adopted */
    CHECK(in[3].fd == 6 && !in[3].sock && in[3].ready);
    /* Fewer names than descriptors: the unnamed ones are neither. */
    CHECK(rs_inherited_parse(pid, me, "2", "tcp/127.0.0.1/7000/w0", in, 8) == 2);
    CHECK(in[0].sock && !in[1].sock && !in[1].ready);
}

static void test_match(void)
{
    struct rs_inherited in[8];
    pid_t me = getpid();
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)me);
    int n = rs_inherited_parse(pid, me, "5",
                               "tcp/127.0.0.1/7000/w0:tcp/127.0.0.1/7000/w1:udp/127.0.0.1/7000/w0:"
                               "tcp/[//1]/8000/w0:tcp/127.0.0.2/9000/w0",
                               in, 8);
    CHECK(n == 5);
    struct rs_addr a7000 = addr("127.0.0.1:7000");
    /* Protocol, address and worker must all fit; each socket is taken once. */
    CHECK(rs_inherited_match(in, 5, RS_FD_TCP, &a7000, 2) == -ENOENT);
    CHECK(rs_inherited_match(in, 5, RS_FD_TCP, &a7000, 1) == 1);
    CHECK(rs_inherited_match(in, 5, RS_FD_TCP, &a7000, 1) == -ENOENT);
    CHECK(rs_inherited_match(in, 5, RS_FD_UDP, &a7000, 0) == 2);
    struct rs_addr other_port = addr("127.0.0.1:7001");
    CHECK(rs_inherited_match(in, 5, RS_FD_TCP, &other_port, 0) == -ENOENT);
    struct rs_addr v6 = addr("[::1]:8000"), v4any = addr("0.0.0.0:8000");
    CHECK(rs_inherited_match(in, 5, RS_FD_TCP, &v4any, 0) == -ENOENT);
    CHECK(rs_inherited_match(in, 5, RS_FD_TCP, &v6, 0) == 3);
    /* Port 0: the same IP on any port (the new process keeps the port it was given). */
    struct rs_addr any_port = addr("127.0.0.2:0");
    CHECK(rs_inherited_match(in, 5, RS_FD_TCP, &any_port, 0) == 4);
    CHECK(rs_inherited_match(in, 5, RS_FD_TCP, &a7000, 0) == 0);
    CHECK(rs_inherited_match(in, 5, RS_FD_TCP, &a7000, 0) == -ENOENT);
}

int main(void)
{
    test_format_parse();
    test_inherited_parse();
    test_match();
    return check_done("fdname");
}
