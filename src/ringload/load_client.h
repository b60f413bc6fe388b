#ifndef RINGSOCK_LOAD_CLIENT_H
#define RINGSOCK_LOAD_CLIENT_H

/* ringload's client base: what every load protocol does the same way, written once.
 *
 * A client is one connection (TCP echo, HTTP) or one socket (UDP flow) with its own send
 * schedule. The base (load_client.c) decides when each client sends and how many messages:
 * closed loop keeps --depth outstanding; constant rate (-R) sends each message at its intended
 * time, from a heap of clients by next send time, and measures latency from that time, so a
 * stall shows in full (coordinated omission corrected). It drives the thread's tick: warm-up,
 * the measured window, then draining up to --timeout.
 *
 * What differs goes through tables: struct load_client_ops says how a kind of client sends,
 * times out and closes. The stream part (load_stream.c) is that table for connections, and asks
 * its protocol (struct load_stream_ops: TCP echo, HTTP) what to send and what answers mean; UDP
 * (load_udp.c) has its own. Calls go downward only: protocols call the stream part, the stream
 * part and UDP call the base, and the base calls back only through the tables. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "load.h"

struct rs_conn;

/* The part of every client the base reads and writes. A protocol's client struct starts with it
 * (struct load_proto.client_size gives the whole struct's size). */
struct load_client {
    struct load_thread *t;
    uint32_t id;       /* connection number (UDP: flow), unique across the run's threads */
    bool ready;        /* may send now: connected (UDP: always) */
    bool scheduled;    /* rate mode: in the thread's send heap */
    bool was_blocked;  /* rate mode: held back by answers outstanding, not caught up since */
    bool held;         /* rate mode: the send due at next_due is counted in sched_blocked */
    uint64_t next_seq; /* the next message to send */
    uint64_t next_due; /* rate mode: intended send time of next_seq */
};

/* How the base drives one kind of client. */
struct load_client_ops {
    /* Sets cl up (once; t, id and next_due are set) and opens it. Returns 0 or -errno; fini is
     * called either way. */
    int (*open)(struct load_client *cl);
    /* Counts what cl leaves unanswered and frees what it holds. */
    void (*fini)(struct load_client *cl);
    /* The tick's look at cl: times out what went unanswered, reopens what closed. Returns true
     * if cl is live: the tick then pumps it and waits for what it has outstanding. */
    bool (*check)(struct load_client *cl, uint64_t now);
    /* How many messages cl may send now, at most; 0 when the answers it awaits fill its
     * --depth. Asked only of a ready client while the run is sending. */
    uint64_t (*room)(const struct load_client *cl);
    /* Sends k (>= 1) messages from next_seq on, the i-th intended at first + i * step, and
     * advances next_seq past those that went. Returns how many went; fewer than k means no more
     * for now (the connection failed, or the socket is full). */
    uint64_t (*send)(struct load_client *cl, uint64_t k, uint64_t first, uint64_t step,
                     uint64_t now);
    /* Messages sent and neither answered nor given up on. */
    uint64_t (*outstanding)(const struct load_client *cl);
    /* The run is over: close (optional). */
    void (*stop)(struct load_client *cl);
};

/* The thread driver of load runs (start, tick, free), for struct load_proto.run. */
extern const struct load_run load_client_run;

/* Sends what cl may send now: closed loop fills the room; rate mode sends what is due, each
 * message timed from its intended send time. Then, if its next send lies ahead, cl waits in the
 * thread's send heap. Called after anything that may let cl send: an answer, a connect. */
void load_client_pump(struct load_client *cl, uint64_t now);
/* Rate mode: the sends cl missed before now are dropped from its schedule (a new connection does
 * not owe what was due while there was none). */
void load_client_skip_missed(struct load_client *cl, uint64_t now);
/* An answer to a message intended at `intended` came at now: counted, and its latency recorded
 * when it was intended inside the measured window. */
void load_client_record(struct load_thread *t, uint64_t intended, uint64_t now);

/* --- the stream part: one connection per client (load_stream.c) --- */

enum load_stream_state {
    LOAD_STREAM_CLOSED,     /* no connection: the tick opens one */
    LOAD_STREAM_CONNECTING, /* connect in flight */
    LOAD_STREAM_OPEN,       /* connected: sends */
    LOAD_STREAM_CLOSING,    /* closed by either side or failed; released soon */
};

struct load_stream {
    struct load_client cl;
    struct rs_conn *c;
    enum load_stream_state state;
    bool reopen;        /* closing after a normal end: open the next connection at once */
    uint64_t done_seq;  /* messages fully answered */
    uint64_t *intended; /* per outstanding message (ring of --depth): latency start */
    uint64_t *sent;     /* per outstanding message: actual send time (timeouts, first byte) */
    uint64_t connect_ns;
};

/* What a stream protocol (TCP echo, HTTP) tells the stream part. */
struct load_stream_ops {
    /* A new connection is being opened: forget where the last one was. */
    void (*reset)(struct load_stream *s);
    /* The bytes of message seq, valid until the next call. */
    const void *(*request)(struct load_stream *s, uint64_t seq, size_t *len);
    /* Bytes received: checks them, calls load_stream_answered for each whole answer. Returns 0,
     * or -1 if it closed the connection (nothing more is read, nothing sent). */
    int (*consume)(struct load_stream *s, const unsigned char *p, size_t len, uint64_t now);
    /* The peer finished sending: counts what that means. The connection is closed after,
     * to reopen at the next tick, unless this closed it already (load_stream_close). */
    void (*eof)(struct load_stream *s);
    /* Frees what the protocol's part of the client holds (optional). */
    void (*fini)(struct load_stream *s);
};

/* struct load_client_ops for connections: struct load_proto.client of stream protocols. */
extern const struct load_client_ops load_stream_client;
/* The answer to message done_seq is complete: latency recorded, done_seq advanced. */
void load_stream_answered(struct load_stream *s, uint64_t now);
/* Closes s's connection now (idempotent). reopen: it ended normally (the server closes after an
 * answer, or --no-keepalive), so the next one opens at once; else at the next tick. */
void load_stream_close(struct load_stream *s, bool reopen);

#endif
