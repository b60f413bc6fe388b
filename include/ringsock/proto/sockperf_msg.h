#ifndef RINGSOCK_SOCKPERF_MSG_H
#define RINGSOCK_SOCKPERF_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* sockperf's message header, as sockperf 3.7's client and server put it on the wire (observed
 * with tcpdump and strace, and by probing `sockperf sr` with crafted messages; the unit test
 * holds a captured exchange and the probed flags). Every message, UDP or TCP, starts with
 * 14 bytes in network byte order:
 *
 *   bytes 0..7    sequence number (u64), counted by the client from 1
 *   bytes 8..9    flags (u16): 0x1 sent by a client, 0x2 the client wants this one answered,
 *                 0x4 warm-up (never answered); other bits are carried unchanged
 *   bytes 10..13  length of the whole message, header included (u32)
 *
 * followed by length - 14 bytes of payload. The server answers a message whose flags hold 0x1
 * and 0x2 but not 0x4 with the same bytes, flag 0x1 cleared, and never answers the others:
 * ping-pong (pp) asks on every message, under-load (ul) on one in --reply-every, throughput
 * (tp) on none. Over TCP the length field is the only framing. */

#define RS_SOCKPERF_HDR_LEN 14
#define RS_SOCKPERF_CLIENT  0x1u
#define RS_SOCKPERF_PONG    0x2u
#define RS_SOCKPERF_WARMUP  0x4u

/* The length field of the header at p (RS_SOCKPERF_HDR_LEN readable bytes). */
uint32_t rs_sockperf_msg_len(const void *p);
/* The flags of the header at p. */
uint16_t rs_sockperf_flags(const void *p);
/* The sequence number of the header at p. */
uint64_t rs_sockperf_seq(const void *p);

/* Whether sockperf's server answers a message with these flags. */
bool rs_sockperf_wants_reply(uint16_t flags);

/* Turns the message at p into its reply, in place: clears the client flag. */
void rs_sockperf_make_reply(void *p);

/* Whether len is a length a message may have: a whole header and at most max_msg bytes. */
bool rs_sockperf_len_ok(uint32_t len, uint32_t max_msg);

#endif
