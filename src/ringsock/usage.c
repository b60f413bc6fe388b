/* --help and the config file's key reference, generated from the option table. */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "optable.h"
#include "opts.h"

/* Prints text word-wrapped to width columns, the first line starting at column col (already
 * printed), the others indented by indent. */
static void print_wrapped(FILE *f, const char *text, unsigned col, unsigned indent, unsigned width)
{
    const char *p = text;
    bool first = true;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (!first && col + 1 + n > width) {
            fprintf(f, "\n%*s", (int)indent, "");
            col = indent;
            first = true;
        }
        fprintf(f, "%s%.*s", first ? "" : " ", (int)n, p);
        col += (unsigned)n + (first ? 0 : 1);
        first = false;
        p += n;
        p += strspn(p, " ");
    }
    fputc('\n', f);
}

/* One option's lines in --help: "  --name ARG" in a 20-column field, then its help and
 * default wrapped under column 23. */
static void usage_option(FILE *f, const struct rs_optdef *d)
{
    char label[64], text[1024];
    snprintf(label, sizeof(label), "--%s%s%s%s%c", d->name, d->arg ? " " : "", d->arg ? d->arg : "",
             d->alias ? ", -" : "", d->alias ? d->alias : ' ');
    size_t ln = strlen(label);
    while (ln > 0 && label[ln - 1] == ' ')
        label[--ln] = '\0';
    char svcs[256] = "";
    if (d->scope == RS_OPT_LISTENER && d->services)
        rs_optdef_services(d, svcs, sizeof(svcs));
    /* "help (SERVICES; default DEF; repeatable)", each part there when it applies. */
    const char *parts[3] = {svcs[0] ? svcs : NULL, d->def, d->repeat ? "repeatable" : NULL};
    size_t n = (size_t)snprintf(text, sizeof(text), "%s", d->help);
    bool open = false;
    for (unsigned k = 0; k < 3 && n < sizeof(text); k++) {
        if (!parts[k])
            continue;
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s%s", open ? "; " : " (",
                              k == 1 ? "default " : "", parts[k]);
        open = true;
    }
    if (open && n < sizeof(text))
        snprintf(text + n, sizeof(text) - n, ")");
    unsigned col;
    if (ln < 20) { /* at least two spaces between the label and the text */
        fprintf(f, "  %-20s ", label);
        col = 23;
    } else {
        fprintf(f, "  %s  ", label);
        col = 2 + (unsigned)ln + 2;
    }
    print_wrapped(f, text, col, 23, 92);
}

/* Prints each service's name and help, continuation lines indented under the first. */
static void usage_services(FILE *f)
{
    for (unsigned i = 0; i < rs_nservices; i++) {
        const char *h = rs_services[i]->help;
        size_t n = strcspn(h, "\n");
        fprintf(f, "  %-20s %.*s%s\n", rs_services[i]->name, (int)n, h,
                i == RS_SVC_ECHO ? " (default)" : "");
        while (h[n] == '\n') {
            h += n + 1;
            n = strcspn(h, "\n");
            fprintf(f, "%23s%.*s\n", "", (int)n, h);
        }
    }
}

void rs_server_usage(FILE *f)
{
    static const char *const heads[] = {
        [RS_OPT_LISTENER] = "listener options (with --config, keys of a [listener NAME]):",
        [RS_OPT_GLOBAL] = "global options (with --config, keys of [global]):",
        [RS_OPT_CMDLINE] = "other options:",
    };
    static const enum rs_opt_scope order[] = {RS_OPT_LISTENER, RS_OPT_GLOBAL, RS_OPT_CMDLINE};

    fputs("usage: ringsock SERVICE [options]\n"
          "       ringsock --config FILE [--check]\n"
          "\n"
          "services:\n",
          f);
    usage_services(f);
    for (unsigned k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        fprintf(f, "\n%s\n", heads[order[k]]);
        for (unsigned i = 0; i < rs_noptdefs; i++)
            if (rs_optdefs[i].scope == order[k])
                usage_option(f, &rs_optdefs[i]);
    }
    fputs("\nSIZE takes k, m or g (binary). SIGINT/SIGTERM stop the server and print totals.\n", f);
}

void rs_optdefs_reference(FILE *f)
{
    char svcs[256];
    fputs("### [global]\n\n", f);
    for (int pass = 0; pass < 2; pass++) {
        enum rs_opt_scope scope = pass == 0 ? RS_OPT_GLOBAL : RS_OPT_LISTENER;
        if (pass == 1)
            fputs("\n### [listener NAME]\n\n"
                  "- `service = NAME`: what the listener serves, one of the services above; "
                  "required\n",
                  f);
        for (unsigned i = 0; i < rs_noptdefs; i++) {
            const struct rs_optdef *d = &rs_optdefs[i];
            if (d->scope != scope)
                continue;
            fprintf(f, "- `%s = %s`", d->name, d->arg);
            if (scope == RS_OPT_LISTENER && d->services) {
                rs_optdef_services(d, svcs, sizeof(svcs));
                fprintf(f, " (%s)", svcs);
            }
            fprintf(f, ": %s", d->help);
            if (d->def)
                fprintf(f, ". Default: %s", d->def);
            if (d->repeat)
                fputs(". Repeatable: one key per value", f);
            fputs("\n", f);
        }
    }
}
