/* ringload's TCP echo protocol, on the stream part of the client base (load_stream.c). Message
 * seq of connection id is --size bytes of the pattern (load_pattern.c); the echo comes back in
 * order, so the byte stream is checked against the pattern of message done_seq at offset rx_off
 * as it arrives, however the kernel splits it. A peer that closes is an error. */

#include "load_client.h"
#include "ringsock/util/log.h"

struct tcp_client {
    struct load_stream s;
    uint64_t rx_off;     /* bytes of message done_seq received */
    uint64_t stream_off; /* bytes received on this connection */
    bool bad;            /* message done_seq had a mismatch */
};

static void tcp_reset(struct load_stream *s)
{
    struct tcp_client *cl = (struct tcp_client *)s;
    cl->rx_off = cl->stream_off = 0;
    cl->bad = false;
}

static const void *tcp_request(struct load_stream *s, uint64_t seq, size_t *len)
{
    struct load_thread *t = s->cl.t;
    *len = t->o->size;
    load_pattern_fill(s->cl.id, seq, 0, (unsigned char *)t->scratch, *len);
    return t->scratch;
}

/* Checks received bytes against the pattern: the first wrong byte of a message is counted and
 * named (rate-limited). */
static void tcp_verify(struct tcp_client *cl, const unsigned char *p, size_t take)
{
    struct load_thread *t = cl->s.cl.t;
    uint32_t id = cl->s.cl.id;
    uint64_t seq = cl->s.done_seq, hidden;
    size_t at = load_pattern_check(id, seq, cl->rx_off, p, take);
    if (at == take || cl->bad)
        return;
    cl->bad = true;
    LOAD_INC(t, err_verify);
    if (rs_ratelimit_ok(&t->rl_verify, &hidden))
        rs_log_error("verify: connection %u, stream offset %llu (message %llu, byte %llu): got "
                     "0x%02x, expected 0x%02x",
                     id, (unsigned long long)(cl->stream_off + at), (unsigned long long)seq,
                     (unsigned long long)(cl->rx_off + at), p[at],
                     (unsigned)(load_pattern_word(id, seq, (cl->rx_off + at) / 8) >>
                                (8 * ((cl->rx_off + at) % 8))) &
                         0xff);
}

static int tcp_consume(struct load_stream *s, const unsigned char *p, size_t len, uint64_t now)
{
    struct tcp_client *cl = (struct tcp_client *)s;
    struct load_thread *t = s->cl.t;
    size_t size = t->o->size;
    uint64_t hidden;

    while (len > 0) {
        if (s->done_seq == s->cl.next_seq) {
            LOAD_INC(t, err_verify);
            if (rs_ratelimit_ok(&t->rl_verify, &hidden))
                rs_log_error("connection %u: %zu bytes echoed beyond what was sent, at offset "
                             "%llu",
                             s->cl.id, len, (unsigned long long)cl->stream_off);
            load_stream_close(s, false);
            return -1;
        }
        size_t take = size - cl->rx_off < len ? size - cl->rx_off : len;
        if (t->o->verify)
            tcp_verify(cl, p, take);
        cl->rx_off += take;
        cl->stream_off += take;
        p += take;
        len -= take;
        if (cl->rx_off == size) {
            load_stream_answered(s, now);
            cl->rx_off = 0;
            cl->bad = false;
        }
    }
    return 0;
}

static void tcp_eof(struct load_stream *s)
{
    if (!s->cl.t->finishing)
        LOAD_INC(s->cl.t, err_read); /* an echo server does not close first */
}

static bool tcp_matches(const struct rs_load_opts *o)
{
    return !o->idle && o->proto == RS_LOAD_TCP;
}

static const struct load_stream_ops tcp_stream = {
    .reset = tcp_reset,
    .request = tcp_request,
    .consume = tcp_consume,
    .eof = tcp_eof,
};

const struct load_proto load_tcp_proto = {
    .name = "tcp",
    .matches = tcp_matches,
    .scratch_msgs = 1,
    .run = &load_client_run,
    .report = &load_report_ops,
    .client = &load_stream_client,
    .client_size = sizeof(struct tcp_client),
    .stream = &tcp_stream,
};
