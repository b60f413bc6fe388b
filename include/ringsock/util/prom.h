#ifndef RINGSOCK_PROM_H
#define RINGSOCK_PROM_H

/* The counter registry in the Prometheus text exposition format, version 0.0.4 (what a
 * Prometheus server scrapes, with Content-Type RS_PROM_CONTENT_TYPE). Pure: it writes into a
 * FILE (a memory stream for a scrape) and reads the workers' counters with relaxed loads, so a
 * scrape costs the workers nothing.
 *
 * Names come from the registry by one rule (rs_prom_name), never from a list:
 *   1. the prefix (ringsock_), then the counter's name with its words (split at '_') spelled
 *      out: conns -> connections, dgrams -> datagrams, dgram -> datagram, in -> received,
 *      out -> sent;
 *   2. a unit word (bytes, seconds) moves to the end: bytes_in -> received_bytes;
 *   3. a COUNTER gets _total; a GAUGE nothing.
 *   conns_accepted -> ringsock_connections_accepted_total, dgram_bytes_out ->
 *   ringsock_datagram_sent_bytes_total, http_2xx -> ringsock_http_2xx_total.
 * A --stats column shown as a level (RS_LIVE_LEVEL: plus minus minus, the loop's open =
 * conns_accepted - conns_closed) is a gauge named by its plus counter's first word, spelled
 * out, and the column's name: ringsock_connections_open. Blocks whose level columns give the
 * same gauge name add up into it, as their --stats column does.
 *
 * Every sample carries worker="N" (one series per worker; sum them for the whole server) and,
 * for a block given one, service="NAME". */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ringsock/util/counters.h"
#include "ringsock/util/counters_labelled.h"

#define RS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Longest metric name rs_prom_name writes, with its NUL. */
#define RS_PROM_NAME_MAX 128

/* Writes the metric name of a counter (rule above) into out. Returns 0, or -ENAMETOOLONG if it
 * needs more than cap bytes (out is then an empty string). */
int rs_prom_name(const char *prefix, const char *counter, enum rs_counter_kind kind, char *out,
                 size_t cap);

struct rs_prom_opts {
    const char *prefix; /* put before every name: "ringsock_" */
    /* The service label of each block, by its index in the set (rs_counter_set_block_at);
     * NULL, or a NULL entry: no service label. */
    const char *const *block_service;
    bool active_only; /* only the blocks marked active (those this run uses) */
};

/* Writes every counter of s (of its active blocks with active_only) and the gauges of the
 * level columns: for each, "# HELP" (the descriptor's help), "# TYPE", then one sample per
 * worker. A set without workers gives the HELP and TYPE lines alone (a list of the metrics).
 * Returns 0, -ENOMEM, or -EIO if writing to f failed. */
int rs_prom_write_counters(FILE *f, const struct rs_counter_set *s, const struct rs_prom_opts *o);

/* Writes the labelled sets (counters_labelled.h), the sets of one block together: each
 * counter's family (named as above) with a sample per item and worker, labelled
 * {service="S",LABEL="VALUE",worker="N"}; items of the same value in several sets (two relay
 * listeners naming one upstream) add up into one series (RS_CTR_MAX: the largest). Then the
 * block's histogram, summed over workers, as a Prometheus histogram: NAME_bucket{...,le="B"}
 * cumulative (bounds and sum scaled), NAME_sum, NAME_count. Sets without workers give the HELP
 * and TYPE lines alone. Returns 0, -ENAMETOOLONG or -EIO. */
int rs_prom_write_labelled(FILE *f, const struct rs_counter_lset *const *sets, unsigned n,
                           const struct rs_prom_opts *o);

/* Writes a gauge family of one sample, value 1, with one label: an "info" metric such as
 * ringsock_build_info{version="0.1.0"} 1. Returns 0 or -EIO. */
int rs_prom_write_info(FILE *f, const char *name, const char *help, const char *label,
                       const char *value);

/* Writes s as a label value (\, " and newline escaped) or as help text (\ and newline). */
void rs_prom_put_label_value(FILE *f, const char *s);
void rs_prom_put_help(FILE *f, const char *s);

#endif
