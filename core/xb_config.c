#include "core/xb_config.h"

#include <ini.h>
#include <stdio.h>
#include <string.h>

#include "core/xb_mem.h"

/* inih's line buffer (INI_MAX_LINE, compiled into Debian's libinih: 200) */
#ifndef INI_MAX_LINE
#define XB_INI_MAX_LINE 200
#else
#define XB_INI_MAX_LINE INI_MAX_LINE
#endif

xb_config *xb_config_alloc(void) { return xb_calloc(1, sizeof(xb_config)); }

static void entry_free(xb_cfg_entry *e)
{
    xb_free(e->section); xb_free(e->key); xb_free(e->value); xb_free(e->origin);
}

void xb_config_free(xb_config *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) entry_free(&c->e[i]);
    xb_free(c->e);
    xb_free(c);
}

static ptrdiff_t find_index(const xb_config *c, const char *section, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].section, section) && !strcmp(c->e[i].key, key)) return (ptrdiff_t)i;
    return -1;
}

const xb_cfg_entry *xb_config_find(const xb_config *c, const char *section, const char *key)
{
    const ptrdiff_t i = find_index(c, section, key);
    return i < 0 ? NULL : &c->e[i];
}

const char *xb_config_str(const xb_config *c, const char *section, const char *key,
                          const char *def)
{
    const xb_cfg_entry *e = xb_config_find(c, section, key);
    return e ? e->value : def;
}

int xb_config_has_section(const xb_config *c, const char *section)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].section, section)) return 1;
    return 0;
}

char *xb_config_where(const xb_cfg_entry *e, char *buf, size_t len)
{
    if (e->line > 0) snprintf(buf, len, "%s:%d: ", e->origin, e->line);
    else snprintf(buf, len, "%s: ", e->origin);
    return buf;
}

/* Set or replace; a repeat within the same source is an error. */
static xb_status put(xb_config *c, const char *section, const char *key, const char *value,
                     const char *origin, int line, int source, xb_err *err)
{
    const ptrdiff_t i = find_index(c, section, key);
    if (i >= 0 && c->e[i].source == source && line > 0)
        return xb_fail(err, XB_EINVAL, "%s:%d: [%s] %s is set twice (first at line %d)",
                       origin, line, section, key, c->e[i].line);
    char *v = xb_strdup(value), *o = xb_strdup(origin);
    if (!v || !o) {
        xb_free(v); xb_free(o);
        return xb_fail(err, XB_ENOMEM, "config: out of memory");
    }
    if (i >= 0) {
        xb_cfg_entry *e = &c->e[i];
        xb_free(e->value); xb_free(e->origin);
        e->value = v; e->origin = o; e->line = line; e->source = source;
        return XB_OK;
    }
    if (c->n == c->cap) {
        const size_t cap = c->cap ? 2 * c->cap : 32;
        xb_cfg_entry *ne = xb_realloc(c->e, cap * sizeof *ne);
        if (!ne) { xb_free(v); xb_free(o); return xb_fail(err, XB_ENOMEM, "config: out of memory"); }
        c->e = ne;
        c->cap = cap;
    }
    xb_cfg_entry *e = &c->e[c->n];
    e->section = xb_strdup(section);
    e->key = xb_strdup(key);
    if (!e->section || !e->key) {
        xb_free(e->section); xb_free(e->key); xb_free(v); xb_free(o);
        return xb_fail(err, XB_ENOMEM, "config: out of memory");
    }
    e->value = v; e->origin = o; e->line = line; e->source = source;
    c->n++;
    return XB_OK;
}

xb_status xb_config_put(xb_config *c, const char *section, const char *key, const char *value,
                        const char *origin, xb_err *err)
{
    return put(c, section, key, value, origin, 0, -1, err);
}

void xb_config_drop_section(xb_config *c, const char *section)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!strcmp(c->e[i].section, section)) entry_free(&c->e[i]);
        else c->e[k++] = c->e[i];
    }
    c->n = k;
}

xb_config *xb_config_copy(const xb_config *c)
{
    xb_config *d = xb_config_alloc();
    if (!d) return NULL;
    for (size_t i = 0; i < c->n; i++) {
        const xb_cfg_entry *e = &c->e[i];
        if (put(d, e->section, e->key, e->value, e->origin, 0, -1, NULL) != XB_OK) {
            xb_config_free(d);
            return NULL;
        }
        d->e[d->n - 1].line = e->line;
        d->e[d->n - 1].source = e->source;
    }
    d->nsources = c->nsources;
    return d;
}

/* ---- parsing with inih: a reader that counts lines gives the handler its line ---- */
typedef struct parse_ctx {
    xb_config *c;
    const char *origin;
    int source, line;
    xb_err err;            /* first handler error */
    int failed, failed_line;
    int overlong;          /* line number of a line longer than inih's buffer */
    FILE *f;               /* file source */
    const char *text;      /* string source */
} parse_ctx;

static char *read_line(char *buf, int size, void *stream)
{
    parse_ctx *p = stream;
    char *r = NULL;
    if (p->f) {
        r = fgets(buf, size, p->f);
    } else if (p->text && *p->text) {
        int k = 0;
        while (k < size - 1 && p->text[k] && p->text[k] != '\n') k++;
        if (k < size - 1 && p->text[k] == '\n') k++;
        memcpy(buf, p->text, (size_t)k);
        buf[k] = '\0';
        p->text += k;
        r = buf;
    }
    if (r) {
        const size_t len = strlen(r);
        p->line++;
        if (len == (size_t)size - 1 && r[len - 1] != '\n' && !(p->f && feof(p->f))) {
            p->overlong = p->line;         /* inih would split it: stop here instead */
            return NULL;
        }
    }
    return r;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *p = user;
    if (p->failed) return 0;
    if (!name) return 1;           /* a bare section header (INI_CALL_HANDLER_ON_NEW_SECTION) */
    if (!*section) {
        p->failed = 1;
        p->failed_line = p->line;
        xb_fail(&p->err, XB_EINVAL, "%s:%d: '%s' is outside any [section]", p->origin, p->line,
                name);
        return 0;
    }
    if (!*name) {
        p->failed = 1;
        p->failed_line = p->line;
        xb_fail(&p->err, XB_EINVAL, "%s:%d: [%s] empty key", p->origin, p->line, section);
        return 0;
    }
    if (put(p->c, section, name, value ? value : "", p->origin, p->line, p->source, &p->err)) {
        p->failed = 1;
        p->failed_line = p->line;
        return 0;
    }
    return 1;
}

static xb_status parse(xb_config *c, parse_ctx *p, xb_err *err)
{
    xb_config *backup = xb_config_copy(c);
    if (!backup) return xb_fail(err, XB_ENOMEM, "config: out of memory");
    p->c = c;
    p->source = c->nsources++;
    const int rc = ini_parse_stream(read_line, p, handler, p);
    xb_status st = XB_OK;
    if (rc > 0 && (!p->failed || rc < p->failed_line)) {
        st = xb_fail(err, XB_EINVAL, "%s:%d: syntax error (expected [section], key = value, "
                     "or a comment starting with ; or #)", p->origin, rc);
    } else if (p->failed) {
        st = xb_fail(err, p->err.code, "%s", p->err.msg);
    } else if (p->overlong) {
        st = xb_fail(err, XB_EINVAL, "%s:%d: line longer than %d characters", p->origin,
                     p->overlong, XB_INI_MAX_LINE - 2);
    } else if (rc == -2) {
        st = xb_fail(err, XB_ENOMEM, "%s: out of memory while parsing", p->origin);
    } else if (rc != 0) {
        st = xb_fail(err, XB_EIO, "%s: cannot read", p->origin);
    }
    if (st != XB_OK) {             /* restore what the config held before the call */
        for (size_t i = 0; i < c->n; i++) entry_free(&c->e[i]);
        xb_free(c->e);
        *c = *backup;
        c->nsources++;
        xb_free(backup);
        return st;
    }
    xb_config_free(backup);
    return XB_OK;
}

xb_status xb_config_load(xb_config *c, const char *path, xb_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) return xb_fail(err, XB_EIO, "%s: cannot open config file", path);
    parse_ctx p = { .origin = path, .f = f };
    const xb_status st = parse(c, &p, err);
    if (st == XB_OK && ferror(f)) {
        fclose(f);
        return xb_fail(err, XB_EIO, "%s: read error", path);
    }
    fclose(f);
    return st;
}

xb_status xb_config_load_string(xb_config *c, const char *text, const char *name, xb_err *err)
{
    parse_ctx p = { .origin = name, .text = text };
    return parse(c, &p, err);
}

xb_status xb_config_set(xb_config *c, const char *a, xb_err *err)
{
    const char *eq = strchr(a, '=');
    const char *dot = strchr(a, '.');
    if (!eq || !dot || dot > eq || dot == a || dot + 1 == eq)
        return xb_fail(err, XB_EINVAL, "--set: '%s' is not of the form section.key=value", a);
    char section[128], key[128];
    const size_t ls = (size_t)(dot - a), lk = (size_t)(eq - dot - 1);
    if (ls >= sizeof section || lk >= sizeof key)
        return xb_fail(err, XB_EINVAL, "--set: '%s': name too long", a);
    memcpy(section, a, ls);
    section[ls] = '\0';
    memcpy(key, dot + 1, lk);
    key[lk] = '\0';
    /* trim spaces around names and value */
    char *k = key;
    while (*k == ' ') k++;
    for (size_t n = strlen(k); n && k[n - 1] == ' '; n--) k[n - 1] = '\0';
    const char *v = eq + 1;
    while (*v == ' ') v++;
    return put(c, section, k, v, "--set", 0, c->nsources++, err);
}

xb_status xb_config_params(const xb_config *c, const char *section, const xb_param_spec *s,
                           size_t n, double *out, xb_err *err)
{
    xb_param_defaults(s, n, out);
    for (size_t i = 0; i < c->n; i++) {
        const xb_cfg_entry *e = &c->e[i];
        if (strcmp(e->section, section)) continue;
        const ptrdiff_t k = xb_param_index(s, n, e->key);
        if (k < 0) continue;
        const xb_status st = xb_param_parse(&s[k], e->value, &out[k], err);
        if (st != XB_OK) {
            char where[300];
            return xb_err_prefix(err, "%s[%s] ", xb_config_where(e, where, sizeof where),
                                 section);
        }
    }
    return XB_OK;
}

xb_status xb_config_check_keys(const xb_config *c, const char *section,
                               const xb_param_spec *const *tabs, const size_t *ns,
                               size_t ntabs, const char *const *extra, xb_err *err)
{
    for (size_t i = 0; i < c->n; i++) {
        const xb_cfg_entry *e = &c->e[i];
        if (strcmp(e->section, section)) continue;
        int ok = 0;
        for (size_t t = 0; t < ntabs && !ok; t++) ok = xb_param_index(tabs[t], ns[t], e->key) >= 0;
        for (size_t x = 0; extra && extra[x] && !ok; x++) ok = !strcmp(extra[x], e->key);
        if (ok) continue;
        const char *best = NULL;
        size_t bd = (size_t)-1;
        for (size_t t = 0; t < ntabs; t++) {
            const char *s = xb_param_suggest(tabs[t], ns[t], e->key);
            if (s && xb_edit_distance(s, e->key) < bd) { bd = xb_edit_distance(s, e->key); best = s; }
        }
        for (size_t x = 0; extra && extra[x]; x++)
            if (xb_edit_distance(extra[x], e->key) < bd && xb_edit_distance(extra[x], e->key) <= 2) {
                bd = xb_edit_distance(extra[x], e->key);
                best = extra[x];
            }
        char where[300];
        xb_config_where(e, where, sizeof where);
        if (best)
            return xb_fail(err, XB_EINVAL, "%s[%s] unknown key '%s' (did you mean '%s'?)", where,
                           section, e->key, best);
        return xb_fail(err, XB_EINVAL, "%s[%s] unknown key '%s' (see `xbemu config show`)",
                       where, section, e->key);
    }
    return XB_OK;
}

xb_status xb_config_check_sections(const xb_config *c, const char *const *known, xb_err *err)
{
    for (size_t i = 0; i < c->n; i++) {
        int ok = 0;
        const char *best = NULL;
        size_t bd = 3;
        for (size_t k = 0; known[k] && !ok; k++) {
            ok = !strcmp(known[k], c->e[i].section);
            const size_t d = xb_edit_distance(known[k], c->e[i].section);
            if (d < bd) { bd = d; best = known[k]; }
        }
        if (ok) continue;
        char where[300];
        xb_config_where(&c->e[i], where, sizeof where);
        if (best)
            return xb_fail(err, XB_EINVAL, "%sunknown section [%s] (did you mean [%s]?)", where,
                           c->e[i].section, best);
        return xb_fail(err, XB_EINVAL, "%sunknown section [%s]", where, c->e[i].section);
    }
    return XB_OK;
}

char *xb_config_to_ini(const xb_config *c)
{
    size_t cap = 256;
    for (size_t i = 0; i < c->n; i++)
        cap += strlen(c->e[i].section) + strlen(c->e[i].key) + strlen(c->e[i].value) + 16;
    char *out = xb_malloc(cap), *p = out;
    if (!out) return NULL;
    *p = '\0';
    for (size_t i = 0; i < c->n; i++) {
        const char *sec = c->e[i].section;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(c->e[j].section, sec);
        if (seen) continue;
        p += sprintf(p, "%s[%s]\n", p == out ? "" : "\n", sec);
        for (size_t j = i; j < c->n; j++)
            if (!strcmp(c->e[j].section, sec))
                p += sprintf(p, "%s = %s\n", c->e[j].key, c->e[j].value);
    }
    return out;
}
