/* libFuzzer target for rs_proxy_read (the PROXY protocol reader of --accept-proxy). Reads every
 * prefix of the input, each from a buffer of exactly its length (so ASan catches a read past
 * the bytes received), and checks:
 *  - a result is -EINVAL, 0 (more needed) or a length within the prefix and the version's cap;
 *  - the verdict, once given, never changes as more bytes arrive (a header's length, or
 *    -EINVAL), and a prefix of a header never gets one;
 *  - "more needed" is never said past the longest header (107 bytes for v1, RS_PROXY_V2_MAX);
 *  - nothing is written unless a header is read, and then either local or two addresses of one
 *    family with the right length;
 *  - those addresses written back by rs_proxy_write (v1 for TCP, v2 for TCP and UDP) read back
 *    the same.
 * Any violation aborts. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringsock/services/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PREFIX 512

static void require(bool ok)
{
    if (!ok)
        abort();
}

static bool addr_ok(const struct rs_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return a->len == sizeof(struct sockaddr_in);
    if (a->ss.ss_family == AF_INET6)
        return a->len == sizeof(struct sockaddr_in6);
    return false;
}

static bool addr_same(const struct rs_addr *a, const struct rs_addr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* Reads data[0, n) from a buffer of exactly n bytes. */
static int read_exact(const uint8_t *data, size_t n, struct rs_addr *src, struct rs_addr *dst,
                      bool *local)
{
    char *buf = malloc(n ? n : 1);
    require(buf != NULL);
    memcpy(buf, data, n);
    int r = rs_proxy_read(buf, n, src, dst, local);
    free(buf);
    return r;
}

static void round_trip(const struct rs_addr *src, const struct rs_addr *dst)
{
    for (unsigned v = 1; v <= 2; v++) {
        for (int stream = 0; stream <= 1; stream++) {
            char buf[RS_PROXY_V2_MAX];
            int n = rs_proxy_write(v, stream, src, dst, buf, sizeof(buf));
            if (v == 1 && !stream) {
                require(n == -EINVAL);
                continue;
            }
            require(n > 0 && (size_t)n <= (v == 1 ? RS_PROXY_V1_MAX : RS_PROXY_V2_MAX));
            struct rs_addr s, d;
            bool local = true;
            require(read_exact((const uint8_t *)buf, (size_t)n, &s, &d, &local) == n);
            require(!local && addr_same(&s, src) && addr_same(&d, dst));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = size < MAX_PREFIX ? size : MAX_PREFIX;
    int verdict = 0;
    for (size_t k = 0; k <= n; k++) {
        struct rs_addr src, dst;
        memset(&src, 0xa5, sizeof(src));
        memset(&dst, 0xa5, sizeof(dst));
        bool local = false;
        int r = read_exact(data, k, &src, &dst, &local);
        require(r == -EINVAL || r >= 0);
        require(r <= (int)k);
        if (verdict != 0) {
            require(r == verdict);
            continue;
        }
        if (r == 0) {
            require(!local && ((unsigned char *)&src)[0] == 0xa5 &&
                    ((unsigned char *)&dst)[0] == 0xa5);
            bool v1 = k > 0 && data[0] == 'P';
            require(k < (v1 ? 107u : (size_t)RS_PROXY_V2_MAX));
            continue;
        }
        verdict = r;
        if (r < 0) {
            require(!local && ((unsigned char *)&src)[0] == 0xa5);
            continue;
        }
        require((size_t)r == k); /* a header is read as soon as its last byte arrives */
        require(r <= (data[0] == 'P' ? RS_PROXY_V1_MAX : RS_PROXY_V2_MAX));
        if (local) {
            require(((unsigned char *)&src)[0] == 0xa5 && ((unsigned char *)&dst)[0] == 0xa5);
        } else {
            require(addr_ok(&src) && addr_ok(&dst) && src.ss.ss_family == dst.ss.ss_family);
            round_trip(&src, &dst);
        }
    }
    return 0;
}
