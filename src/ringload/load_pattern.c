/* The reproducible byte pattern ringload sends (TCP echo, UDP payloads, --idle's echo check):
 * byte off of message seq on connection or flow id, so an echo is checked as it arrives however
 * the kernel splits it, without keeping what was sent. */

#include "load.h"

void load_pattern_fill(uint32_t id, uint64_t seq, uint64_t off, unsigned char *buf, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint64_t pos = off + i;
        uint64_t w = load_pattern_word(id, seq, pos / 8);
        unsigned b = (unsigned)(pos % 8);
        for (; b < 8 && i < len; b++, i++)
            buf[i] = (unsigned char)(w >> (8 * b));
    }
}

size_t load_pattern_check(uint32_t id, uint64_t seq, uint64_t off, const unsigned char *buf,
                          size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint64_t pos = off + i;
        uint64_t w = load_pattern_word(id, seq, pos / 8);
        unsigned b = (unsigned)(pos % 8);
        for (; b < 8 && i < len; b++, i++)
            if (buf[i] != (unsigned char)(w >> (8 * b)))
                return i;
    }
    return len;
}
