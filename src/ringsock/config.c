/* The config file reader: libinih splits lines into sections, keys and values; the option
 * table sets each value; this file knows which line each came from, so that every error is
 * reported as FILE:LINE, and checks what only the whole file can tell. */

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optable.h"
#include "ringsock/util/alloc.h"
#include "ringsock/net/net.h"

#define MAX_ERRORS 100
#define MAX_LINE   4096 /* longest line read; inih is given one at a time */
#define MAX_KEYS   128  /* at least rs_noptdefs */
#define SEC_NONE   (-1) /* before the first section */
#define SEC_BAD    (-2) /* in an unknown section: its keys are not looked at */
#define SEC_GLOBAL RS_MAX_LISTENERS

struct cfg_error {
    unsigned line;
    char msg[240];
};

struct cfg {
    const char *name; /* the file as named in messages */
    struct rs_server_opts *o;
    FILE *in;         /* the file, or NULL: text */
    const char *text; /* the text, read from pos */
    size_t pos;
    unsigned line; /* line last handed to inih */
    int section;   /* a listener's index, SEC_GLOBAL, SEC_NONE or SEC_BAD */
    unsigned global_line;
    unsigned service_line[RS_MAX_LISTENERS];
    /* Line where each key was first given, per section (0: not given). */
    unsigned seen[RS_MAX_LISTENERS + 1][MAX_KEYS];
    struct cfg_error errors[MAX_ERRORS];
    unsigned nerrors, lost; /* errors kept, errors past MAX_ERRORS */
    char buf[MAX_LINE + 2];
};

static void cfg_error(struct cfg *c, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cfg_error(struct cfg *c, unsigned line, const char *fmt, ...)
{
    if (c->nerrors == MAX_ERRORS) {
        c->lost++;
        return;
    }
    struct cfg_error *e = &c->errors[c->nerrors++];
    va_list ap;
    va_start(ap, fmt);
    e->line = line;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

/* Reads the next line into c->buf (without its newline). Returns false at the end. */
static bool next_line(struct cfg *c, bool *too_long)
{
    size_t n = 0;
    int ch;
    bool any = false;
    *too_long = false;
    for (;;) {
        if (c->in) {
            ch = getc(c->in);
        } else {
            ch = c->text[c->pos] ? (unsigned char)c->text[c->pos] : EOF;
            if (ch != EOF)
                c->pos++;
        }
        if (ch == EOF)
            break;
        any = true;
        if (ch == '\n')
            break;
        if (n < MAX_LINE)
            c->buf[n++] = (char)ch;
        else
            *too_long = true;
    }
    c->buf[n] = '\0';
    if (any)
        c->line++;
    return any;
}

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

/* A section header: [global] or [listener NAME]. */
static void section_start(struct cfg *c, const char *head)
{
    char sec[MAX_LINE];
    size_t n = strcspn(head, "]");
    memcpy(sec, head, n);
    sec[n] = '\0';
    char *p = sec;
    while (isspace((unsigned char)*p))
        p++;
    char *end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1]))
        *--end = '\0';

    c->section = SEC_BAD;
    if (strcmp(p, "global") == 0) {
        if (c->global_line) {
            cfg_error(c, c->line, "[global] given twice (first on line %u)", c->global_line);
            return;
        }
        c->global_line = c->line;
        c->section = SEC_GLOBAL;
        return;
    }
    if (strncmp(p, "listener", 8) != 0 || !(p[8] == '\0' || isspace((unsigned char)p[8]))) {
        cfg_error(c, c->line, "unknown section [%s] (want [global] or [listener NAME])", p);
        return;
    }
    p += 8;
    while (isspace((unsigned char)*p))
        p++;
    struct rs_server_opts *o = c->o;
    if (!name_ok(p) || strlen(p) >= sizeof(o->lst[0].name)) {
        cfg_error(c, c->line,
                  "[listener%s%s]: a listener needs a name of letters, digits, '-', '_' or '.'",
                  *p ? " " : "", p);
        return;
    }
    for (unsigned i = 0; i < o->nlisteners; i++) {
        if (strcmp(o->lst[i].name, p) == 0) {
            cfg_error(c, c->line, "[listener %s] given twice (first on line %u)", p,
                      o->lst[i].line);
            return;
        }
    }
    if (o->nlisteners == RS_MAX_LISTENERS) {
        cfg_error(c, c->line, "too many listeners (at most %d)", RS_MAX_LISTENERS);
        return;
    }
    struct rs_listener_opts *l = &o->lst[o->nlisteners];
    rs_listener_default(l, 0);
    snprintf(l->name, sizeof(l->name), "%s", p);
    l->line = c->line;
    c->section = (int)o->nlisteners++;
}

/* inih's reader: hands over one line at a time, so c->line is the line of whatever inih's
 * handler is called for next. A line inih would reject, or a section header, is dealt with
 * here, so that every error is reported with its line and parsing goes on. */
static char *cfg_reader(char *str, int num, void *stream)
{
    struct cfg *c = stream;
    bool too_long;
    if (!next_line(c, &too_long))
        return NULL;
    const char *p = c->buf;
    if (c->line == 1 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* a UTF-8 byte order mark */
    while (isspace((unsigned char)*p))
        p++;
    size_t len = strlen(p);
    while (len > 0 && isspace((unsigned char)p[len - 1]))
        len--;
    bool comment = len == 0 || *p == '#' || *p == ';';
    if (!comment && (too_long || len + 2 > (size_t)num)) {
        cfg_error(c, c->line, "line longer than %d characters", num - 2);
        comment = true;
    } else if (!comment && *p == '[') {
        if (!memchr(p, ']', len)) {
            cfg_error(c, c->line, "syntax error: '[' without ']'");
            comment = true;
        } else {
            section_start(c, p + 1);
        }
    } else if (!comment && strcspn(p, "=:") >= len) {
        cfg_error(c, c->line, "syntax error: want 'key = value', '[section]' or a comment");
        comment = true;
    } else if (!comment && (*p == '=' || *p == ':')) {
        cfg_error(c, c->line, "syntax error: a value without a key");
        comment = true;
    }
    if (comment) { /* inih sees a comment: nothing to report twice */
        snprintf(str, (size_t)num, "#\n");
        return str;
    }
    /* Without leading blanks: inih would take an indented line for the continuation of the
     * previous value. */
    snprintf(str, (size_t)num, "%.*s\n", (int)len, p);
    return str;
}

/* service = NAME in a listener. */
static void set_service(struct cfg *c, struct rs_listener_opts *l, const char *value)
{
    unsigned i = (unsigned)c->section;
    if (c->service_line[i]) {
        cfg_error(c, c->line, "service given twice (first on line %u)", c->service_line[i]);
        return;
    }
    c->service_line[i] = c->line;
    int svc = rs_service_index(value);
    if (svc < 0) {
        char names[256];
        size_t n = 0;
        names[0] = '\0';
        for (unsigned k = 0; k < rs_nservices && n < sizeof(names); k++) {
            int w = snprintf(names + n, sizeof(names) - n, "%s%s",
                             k == 0                  ? ""
                             : k + 1 == rs_nservices ? " or "
                                                     : ", ",
                             rs_services[k]->name);
            if (w < 0)
                break;
            n += (size_t)w;
        }
        cfg_error(c, c->line, "unknown service '%s' (want %s)", value, names);
        return;
    }
    l->service = (unsigned)svc;
    l->has_service = true;
}

static int cfg_handler(void *user, const char *section, const char *key, const char *value)
{
    (void)section; /* c->section, set by the reader, says which */
    struct cfg *c = user;
    char err[200];
    if (c->section == SEC_BAD)
        return 1;
    if (c->section == SEC_NONE) {
        cfg_error(c, c->line, "'%s' outside a section (put it under [global] or [listener NAME])",
                  key);
        return 1;
    }
    bool global = c->section == SEC_GLOBAL;
    struct rs_listener_opts *l = global ? NULL : &c->o->lst[c->section];
    if (!global && strcmp(key, "service") == 0) {
        set_service(c, l, value);
        return 1;
    }
    const struct rs_optdef *d = rs_optdef_find(key);
    if (!d || d->scope == RS_OPT_CMDLINE) {
        cfg_error(c, c->line, "unknown key '%s' in %s", key,
                  global ? "[global]" : "a [listener] section");
        return 1;
    }
    if (d->scope == RS_OPT_LISTENER && global) {
        cfg_error(c, c->line, "'%s' belongs in a [listener NAME] section, not [global]", key);
        return 1;
    }
    if (d->scope == RS_OPT_GLOBAL && !global) {
        cfg_error(c, c->line, "'%s' belongs in [global], not a listener", key);
        return 1;
    }
    unsigned *seen = &c->seen[global ? RS_MAX_LISTENERS : (unsigned)c->section][d - rs_optdefs];
    if (*seen && !d->repeat) {
        cfg_error(c, c->line, "'%s' given twice (first on line %u)", key, *seen);
        return 1;
    }
    if (!*seen)
        *seen = c->line;
    if (d->set(d, global ? (void *)c->o : (void *)l, value, key, err, sizeof(err)) < 0) {
        cfg_error(c, c->line, "%s", err);
        return 1;
    }
    if (l && d == rs_optdef_find("tcp"))
        l->tcp_line[l->ntcp - 1] = c->line;
    if (l && d == rs_optdef_find("udp"))
        l->udp_line[l->nudp - 1] = c->line;
    return 1;
}

/* Whether a and b, of one protocol, would take the same port: the same address, or a wildcard
 * of the same family beside any address of it ([::] is IPv6 only, as bound). Port 0 never
 * clashes: each bind picks its own. */
static bool addr_clash(const struct rs_addr *a, const struct rs_addr *b)
{
    if (a->ss.ss_family != b->ss.ss_family || rs_addr_port(a) == 0 ||
        rs_addr_port(a) != rs_addr_port(b))
        return false;
    if (a->ss.ss_family == AF_INET) {
        in_addr_t x = ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr;
        in_addr_t y = ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
        return x == y || x == INADDR_ANY || y == INADDR_ANY;
    }
    const struct in6_addr *x = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
    const struct in6_addr *y = &((const struct sockaddr_in6 *)&b->ss)->sin6_addr;
    return memcmp(x, y, sizeof(*x)) == 0 || IN6_IS_ADDR_UNSPECIFIED(x) ||
           IN6_IS_ADDR_UNSPECIFIED(y);
}

/* Two addresses of one protocol, anywhere in the file, that would take the same port. */
static void check_clashes(struct cfg *c, bool udp)
{
    const struct rs_server_opts *o = c->o;
    char buf[RS_ADDR_STRLEN];
    for (unsigned i = 0; i < o->nlisteners; i++) {
        const struct rs_listener_opts *l = &o->lst[i];
        unsigned n = udp ? l->nudp : l->ntcp;
        for (unsigned a = 0; a < n; a++) {
            const struct rs_addr *x = udp ? &l->udp[a] : &l->tcp[a];
            bool found = false;
            /* Against every address before this one: each clash is reported once, at the
             * later line. */
            for (unsigned j = 0; j <= i && !found; j++) {
                const struct rs_listener_opts *m = &o->lst[j];
                unsigned mn = j == i ? a : udp ? m->nudp : m->ntcp;
                for (unsigned b = 0; b < mn && !found; b++) {
                    const struct rs_addr *y = udp ? &m->udp[b] : &m->tcp[b];
                    if (!addr_clash(x, y))
                        continue;
                    cfg_error(c, udp ? l->udp_line[a] : l->tcp_line[a],
                              "%s %s clashes with listener %s's %s on line %u", udp ? "udp" : "tcp",
                              rs_addr_format(x, buf, sizeof(buf)), m->name, udp ? "udp" : "tcp",
                              udp ? m->udp_line[b] : m->tcp_line[b]);
                    found = true;
                }
            }
        }
    }
}

/* Binds each address once, without SO_REUSEPORT, and closes it. */
static void check_binds(struct cfg *c)
{
    const struct rs_server_opts *o = c->o;
    char buf[RS_ADDR_STRLEN];
    for (unsigned i = 0; i < o->nlisteners; i++) {
        const struct rs_listener_opts *l = &o->lst[i];
        for (unsigned a = 0; a < l->ntcp; a++) {
            int err = rs_net_bind_probe(&l->tcp[a], false);
            if (err < 0)
                cfg_error(c, l->tcp_line[a], "cannot bind tcp %s: %s",
                          rs_addr_format(&l->tcp[a], buf, sizeof(buf)), strerror(-err));
        }
        for (unsigned a = 0; a < l->nudp; a++) {
            if (rs_addr_is_multicast(&l->udp[a]))
                continue; /* a group is joined, not owned */
            int err = rs_net_bind_probe(&l->udp[a], true);
            if (err < 0)
                cfg_error(c, l->udp_line[a], "cannot bind udp %s: %s",
                          rs_addr_format(&l->udp[a], buf, sizeof(buf)), strerror(-err));
        }
    }
}

/* What only the whole file tells: each listener's service, addresses and keys. */
static void check_listeners(struct cfg *c, bool bind_check)
{
    struct rs_server_opts *o = c->o;
    char svcs[256];
    if (o->nlisteners == 0)
        cfg_error(c, c->line ? c->line : 1, "no [listener NAME] section: nothing to serve");
    for (unsigned i = 0; i < o->nlisteners; i++) {
        struct rs_listener_opts *l = &o->lst[i];
        if (!l->has_service) {
            if (!c->service_line[i]) /* a bad service = was said already */
                cfg_error(c, l->line, "listener %s has no 'service =' line", l->name);
        } else {
            for (unsigned k = 0; k < rs_noptdefs; k++) {
                const struct rs_optdef *d = &rs_optdefs[k];
                if (!c->seen[i][k] || rs_optdef_applies(d, l->service))
                    continue;
                rs_optdef_services(d, svcs, sizeof(svcs));
                cfg_error(c, c->seen[i][k], "'%s' does not apply to service %s (only to %s)",
                          d->name, rs_services[l->service]->name, svcs);
            }
        }
        if (l->ntcp == 0 && l->nudp == 0)
            cfg_error(c, l->line, "listener %s has no 'tcp =' or 'udp =' address", l->name);
        char why[256];
        if (l->has_service && (int)l->service == rs_service_index("relay") &&
            rs_relay_conf_check(&l->relay, why, sizeof(why)) < 0)
            cfg_error(c, l->line, "listener %s: %s", l->name, why);
        for (unsigned a = 0; a < l->nudp; a++)
            if (rs_addr_is_multicast(&l->udp[a]) && !l->join_iface[0])
                cfg_error(c, l->udp_line[a], "a multicast group needs 'join-iface ='");
        unsigned bf = (unsigned)(rs_optdef_find("body-file") - rs_optdefs);
        if (l->body_file[0] && c->seen[i][bf]) {
            int fd = open(l->body_file, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                cfg_error(c, c->seen[i][bf], "cannot read body-file %s: %s", l->body_file,
                          strerror(errno));
            else
                close(fd);
        }
    }
    check_clashes(c, false);
    check_clashes(c, true);
    /* Binding is tried once the file is otherwise valid: what it would bind is known then. */
    if (bind_check && c->nerrors == 0)
        check_binds(c);
}

static int cmp_error(const void *a, const void *b)
{
    const struct cfg_error *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: the order found */
}

static int load(struct cfg *c, bool bind_check, FILE *errf)
{
    struct rs_server_opts *o = c->o;
    const char *config = o->config;
    bool from_config = o->from_config;
    rs_server_opts_default(o);
    o->config = config;
    o->from_config = from_config;
    c->section = SEC_NONE;
    if (rs_noptdefs > MAX_KEYS) { /* the table outgrew c->seen: raise MAX_KEYS */
        fprintf(errf, "%s: internal error: %u options, room for %d\n", c->name, rs_noptdefs,
                MAX_KEYS);
        return 1;
    }

    int r = ini_parse_stream(cfg_reader, c, cfg_handler, c);
    if (r == -2)
        cfg_error(c, c->line, "out of memory");
    else if (r > 0 && c->nerrors == 0)
        cfg_error(c, (unsigned)r, "syntax error");
    check_listeners(c, bind_check);

    /* Stable sort by line: qsort is not stable, so ties compare by position. */
    struct cfg_error *sorted = rs_calloc(c->nerrors ? c->nerrors : 1, sizeof(*sorted));
    if (sorted) {
        memcpy(sorted, c->errors, c->nerrors * sizeof(*sorted));
        qsort(sorted, c->nerrors, sizeof(*sorted), cmp_error);
    }
    for (unsigned i = 0; i < c->nerrors; i++) {
        const struct cfg_error *e = sorted ? &sorted[i] : &c->errors[i];
        fprintf(errf, "%s:%u: %s\n", c->name, e->line, e->msg);
    }
    rs_free(sorted);
    if (c->lost)
        fprintf(errf, "%s: %u more errors\n", c->name, c->lost);
    return (int)(c->nerrors + c->lost);
}

int rs_config_load(const char *path, struct rs_server_opts *o, bool bind_check, FILE *errf)
{
    struct cfg *c = rs_calloc(1, sizeof(*c));
    if (!c) {
        fprintf(errf, "%s: out of memory\n", path);
        return -ENOMEM;
    }
    c->name = path;
    c->o = o;
    c->in = fopen(path, "r");
    if (!c->in) {
        int err = -errno;
        fprintf(errf, "%s: cannot open: %s\n", path, strerror(-err));
        rs_free(c);
        return err;
    }
    int r = load(c, bind_check, errf);
    if (ferror(c->in)) {
        fprintf(errf, "%s: read error\n", path);
        r = -EIO;
    }
    fclose(c->in);
    rs_free(c);
    return r;
}

int rs_config_load_string(const char *name, const char *text, struct rs_server_opts *o,
                          bool bind_check, FILE *errf)
{
    struct cfg *c = rs_calloc(1, sizeof(*c));
    if (!c) {
        fprintf(errf, "%s: out of memory\n", name);
        return -ENOMEM;
    }
    c->name = name;
    c->o = o;
    c->text = text;
    int r = load(c, bind_check, errf);
    rs_free(c);
    return r;
}
