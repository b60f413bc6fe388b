/* echo (every byte back, in order; after the peer's FIN, what is owed, then close) and discard
 * (read and drop; close after the peer's FIN). */

#include "ringsock/services/services.h"

static void echo_on_data(struct rs_conn *c, const void *data, size_t len)
{
    /* On -ENOMEM the loop has already closed the connection; nothing else to do. */
    rs_conn_send(c, data, len);
}

static void echo_on_eof(struct rs_conn *c)
{
    rs_conn_close_after_flush(c);
}

static const struct rs_conn_ops echo_ops = {
    .on_data = echo_on_data,
    .on_eof = echo_on_eof,
};

static void echo_accept(struct rs_conn *c, void *arg)
{
    (void)arg;
    rs_conn_set_ops(c, &echo_ops, NULL);
}

static void discard_on_data(struct rs_conn *c, const void *data, size_t len)
{
    (void)c;
    (void)data;
    (void)len;
}

static void discard_on_eof(struct rs_conn *c)
{
    rs_conn_close(c);
}

static const struct rs_conn_ops discard_ops = {
    .on_data = discard_on_data,
    .on_eof = discard_on_eof,
};

static void discard_accept(struct rs_conn *c, void *arg)
{
    (void)arg;
    rs_conn_set_ops(c, &discard_ops, NULL);
}

const struct rs_service rs_echo_service = {
    .name = "echo",
    .help = "send every byte back, in order",
    .listen = "127.0.0.1:7000",
    .accept = echo_accept,
    .udp_mode = RS_UDP_ECHO,
};

const struct rs_service rs_discard_service = {
    .name = "discard",
    .help = "read and drop",
    .listen = "127.0.0.1:7000",
    .accept = discard_accept,
    .udp_mode = RS_UDP_DISCARD,
};
