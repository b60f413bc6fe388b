/* sockperf's 14-byte message header: reading it, deciding whether it is answered, and turning
 * a message into its reply. The layout is described in ringsock/sockperf_msg.h. */

#include "ringsock/proto/sockperf_msg.h"

static uint32_t load_be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint32_t rs_sockperf_msg_len(const void *p)
{
    return load_be32((const unsigned char *)p + 10);
}

uint16_t rs_sockperf_flags(const void *p)
{
    const unsigned char *b = (const unsigned char *)p + 8;
    return (uint16_t)(b[0] << 8 | b[1]);
}

uint64_t rs_sockperf_seq(const void *p)
{
    const unsigned char *b = p;
    return (uint64_t)load_be32(b) << 32 | load_be32(b + 4);
}

bool rs_sockperf_wants_reply(uint16_t flags)
{
    const unsigned want = RS_SOCKPERF_CLIENT | RS_SOCKPERF_PONG;
    return (flags & (want | RS_SOCKPERF_WARMUP)) == want;
}

void rs_sockperf_make_reply(void *p)
{
    /* The client flag is the low bit of the flags' second (low-order) byte. */
    unsigned char *b = (unsigned char *)p + 9;
    *b = (unsigned char)(*b & ~RS_SOCKPERF_CLIENT);
}

bool rs_sockperf_len_ok(uint32_t len, uint32_t max_msg)
{
    return len >= RS_SOCKPERF_HDR_LEN && len <= max_msg;
}
