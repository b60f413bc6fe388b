/* docs_metrics: prints the metric list of docs/metrics.md from the server's counter registry,
 * through the same formatter /metrics uses (a registry without workers gives each family's HELP
 * and TYPE lines alone): one table per block, then ringsock_build_info. tests/docs_metrics.sh
 * compares it with the doc (and --write puts it there). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "ringsock/services/services.h"
#include "ringsock/util/prom.h"

static const struct rs_prom_opts prom = {.prefix = "ringsock_"};

/* Turns the HELP and TYPE lines of an exposition into table rows: | `name` | type | help |. */
static void rows(const char *text)
{
    const char *help = NULL;
    size_t help_len = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        if (strncmp(p, "# HELP ", 7) == 0) {
            const char *sp = memchr(p + 7, ' ', n - 7);
            help = sp ? sp + 1 : p + n;
            help_len = (size_t)(p + n - help);
        } else if (strncmp(p, "# TYPE ", 7) == 0) {
            const char *sp = memchr(p + 7, ' ', n - 7);
            if (sp) {
                printf("| `%.*s` | %.*s | ", (int)(sp - p - 7), p + 7, (int)(p + n - sp - 1),
                       sp + 1);
                for (size_t i = 0; help && i < help_len; i++) {
                    if (help[i] == '|')
                        fputs("\\|", stdout);
                    else
                        putchar(help[i]);
                }
                puts(" |");
            }
        }
        p += n;
        if (*p == '\n')
            p++;
    }
}

/* Runs write(f, arg) into a memory stream and prints its rows. Returns 0 or 1. */
static int table(int (*write)(FILE *, const void *), const void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return 1;
    int err = write(f, arg);
    fclose(f);
    if (err == 0) {
        puts("| metric | type | meaning |\n|---|---|---|");
        rows(buf);
    }
    free(buf);
    return err == 0 ? 0 : 1;
}

static int write_block(FILE *f, const void *arg)
{
    const struct rs_counter_block *b = arg;
    struct rs_counter_set *one = rs_counter_set_new(&b, 1, 0);
    if (!one)
        return -1;
    int err = rs_prom_write_counters(f, one, &prom);
    rs_counter_set_free(one);
    return err;
}

/* The per-upstream series of the relay (a labelled block), HELP and TYPE alone. */
static int write_lblock(FILE *f, const void *arg)
{
    const struct rs_counter_lblock *b = arg;
    struct rs_counter_lset *one = rs_counter_lset_new(b, NULL, NULL, 0, 0);
    if (!one)
        return -1;
    const struct rs_counter_lset *sets[] = {one};
    int err = rs_prom_write_labelled(f, sets, 1, &prom);
    rs_counter_lset_free(one);
    return err;
}

static int write_info(FILE *f, const void *arg)
{
    (void)arg;
    return rs_prom_write_info(f, "ringsock_build_info",
                              "the version of ringsock running, as its label (always 1)", "version",
                              RS_VERSION);
}

int main(void)
{
    struct rs_counter_set *all = rs_server_counters_new(0);
    int rc = 0;
    if (!all) {
        fprintf(stderr, "docs_metrics: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < rs_counter_set_nblocks(all); i++) {
        const struct rs_counter_block *b = rs_counter_set_block_at(all, i);
        printf("%sBlock `%s`:\n\n", i ? "\n" : "", b->name);
        rc |= table(write_block, b);
    }
    for (unsigned i = 0; i < rs_nservices; i++) {
        const struct rs_counter_lblock *lb = rs_services[i]->item_counters;
        if (!lb)
            continue;
        printf("\nPer `%s` (block `%s`, label `%s`):\n\n", lb->label, lb->name, lb->label);
        rc |= table(write_lblock, lb);
    }
    printf("\nThe build:\n\n");
    rc |= table(write_info, NULL);
    rs_counter_set_free(all);
    return rc;
}
