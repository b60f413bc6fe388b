#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "../check.h"
#include "ringsock/net/addr.h"

static void roundtrip(const char *in, const char *want)
{
    struct rs_addr a;
    char buf[RS_ADDR_STRLEN];
    int err = rs_addr_parse(in, &a);
    CHECK_EQ(err, 0);
    if (err == 0) {
        rs_addr_format(&a, buf, sizeof(buf));
        if (strcmp(buf, want) != 0) {
            fprintf(stderr, "format(%s) = %s, want %s\n", in, buf, want);
            check_failures++;
        }
    }
}

static void rejects(const char *in)
{
    struct rs_addr a;
    memset(&a, 0x5a, sizeof(a));
    int err = rs_addr_parse(in, &a);
    if (err != -EINVAL) {
        fprintf(stderr, "parse(%s) = %d, want -EINVAL\n", in ? in : "(null)", err);
        check_failures++;
    }
    CHECK(((unsigned char *)&a)[0] == 0x5a); /* nothing written on failure */
}

int main(void)
{
    roundtrip("127.0.0.1:7000", "127.0.0.1:7000");
    roundtrip(":80", "0.0.0.0:80");
    roundtrip("0.0.0.0:0", "0.0.0.0:0");
    roundtrip("[::1]:7000", "[::1]:7000");
    roundtrip("[::]:65535", "[::]:65535");
    roundtrip("[fe80::1:2]:1", "[fe80::1:2]:1");

    struct rs_addr a;
    CHECK_EQ(rs_addr_parse("[::1]:8080", &a), 0);
    CHECK_EQ(a.ss.ss_family, AF_INET6);
    CHECK_EQ(a.len, sizeof(struct sockaddr_in6));
    CHECK_EQ(rs_addr_port(&a), 8080);
    rs_addr_set_port(&a, 9);
    CHECK_EQ(rs_addr_port(&a), 9);
    CHECK_EQ(rs_addr_parse("10.1.2.3:443", &a), 0);
    CHECK_EQ(a.ss.ss_family, AF_INET);
    CHECK_EQ(a.len, sizeof(struct sockaddr_in));

    rejects(NULL);
    rejects("");
    rejects("127.0.0.1");
    rejects("127.0.0.1:");
    rejects("127.0.0.1:65536");
    rejects("127.0.0.1:99999");
    rejects("127.0.0.1:-1");
    rejects("127.0.0.1:80x");
    rejects("127.0.0.1:000080"); /* more than five digits */
    rejects("256.0.0.1:80");
    rejects("::1:80"); /* bare IPv6 is ambiguous */
    rejects("[::1]80");
    rejects("[::1]:");
    rejects("[]:80");
    rejects("[1.2.3.4]:80");
    rejects("localhost:80"); /* addresses are literal: no resolver on the start-up path */
    return check_done("test_addr");
}
