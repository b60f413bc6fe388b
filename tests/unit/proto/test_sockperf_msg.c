#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "ringsock/proto/sockperf_msg.h"

/* The first message of `sockperf pp -m 20` and `sockperf sr`'s answer, as tcpdump showed them
 * (sequence 1, flags 0x0003 then 0x0002, length 20, six bytes of payload). */
static const unsigned char ping[20] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03,
                                       0x00, 0x00, 0x00, 0x14, 0xb7, 0x31, 0x58, 0xa3, 0x5a, 0x25};
static const unsigned char pong[20] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02,
                                       0x00, 0x00, 0x00, 0x14, 0xb7, 0x31, 0x58, 0xa3, 0x5a, 0x25};

int main(void)
{
    /* Read from a buffer of exactly the header's size, so ASan sees any overread. */
    unsigned char *h = malloc(RS_SOCKPERF_HDR_LEN);
    memcpy(h, ping, RS_SOCKPERF_HDR_LEN);
    CHECK_EQ(rs_sockperf_seq(h), 1);
    CHECK_EQ(rs_sockperf_flags(h), 3);
    CHECK_EQ(rs_sockperf_msg_len(h), 20);
    free(h);

    /* Big-endian in every field. */
    const unsigned char big[RS_SOCKPERF_HDR_LEN] = {0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32,
                                                    0x10, 0x80, 0x03, 0x00, 0x01, 0x00, 0x00};
    CHECK(rs_sockperf_seq(big) == 0xfedcba9876543210ull);
    CHECK_EQ(rs_sockperf_flags(big), 0x8003);
    CHECK_EQ(rs_sockperf_msg_len(big), 65536);

    /* The reply is the message with the client flag cleared, nothing else. */
    unsigned char m[20];
    memcpy(m, ping, sizeof(m));
    rs_sockperf_make_reply(m);
    CHECK(memcmp(m, pong, sizeof(m)) == 0);
    unsigned char hi[RS_SOCKPERF_HDR_LEN];
    memcpy(hi, big, sizeof(hi));
    rs_sockperf_make_reply(hi);
    CHECK_EQ(rs_sockperf_flags(hi), 0x8002);
    CHECK(memcmp(hi, big, 9) == 0 && memcmp(hi + 10, big + 10, 4) == 0);

    /* Which flags sockperf sr (3.7) answers, probed one message each over UDP and TCP: client
     * and pong-request set, warm-up clear; other bits do not matter. */
    static const struct {
        uint16_t flags;
        bool answered;
    } cases[] = {
        {0x0000, false}, {0x0001, false}, {0x0002, false}, {0x0003, true},  {0x0004, false},
        {0x0005, false}, {0x0006, false}, {0x0007, false}, {0x0008, false}, {0x000b, true},
        {0x0013, true},  {0x0023, true},  {0x0043, true},  {0x0083, true},  {0x8003, true},
        {0xfffe, false}, {0xffff, false}, {0xfffb, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (rs_sockperf_wants_reply(cases[i].flags) != cases[i].answered) {
            fprintf(stderr, "flags 0x%04x: expected %s\n", cases[i].flags,
                    cases[i].answered ? "an answer" : "no answer");
            check_failures++;
        }
    }

    CHECK(!rs_sockperf_len_ok(0, 65536));
    CHECK(!rs_sockperf_len_ok(13, 65536));
    CHECK(rs_sockperf_len_ok(14, 65536));
    CHECK(rs_sockperf_len_ok(65536, 65536));
    CHECK(!rs_sockperf_len_ok(65537, 65536));
    CHECK(!rs_sockperf_len_ok(UINT32_MAX, 65536));
    return check_done("test_sockperf_msg");
}
