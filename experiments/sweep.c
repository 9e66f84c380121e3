/* experiments/sweep.c: [sweep] parsing, grid/zip expansion, canonical text and run ids.
 * The syntax and the id are specified in experiments/xb_sweep.h. */
#include "experiments/xb_sweep.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_mem.h"

enum { MAX_RANGE = 1000000 };

static void axis_clear(xb_sweep_axis *a)
{
    for (size_t i = 0; i < a->n; i++) xb_free(a->values[i]);
    xb_free(a->values);
    xb_free(a->name); xb_free(a->section); xb_free(a->key); xb_free(a->origin);
}

void xb_sweep_free(xb_sweep *s)
{
    if (!s) return;
    for (size_t a = 0; a < s->naxes; a++) axis_clear(&s->axis[a]);
    xb_free(s->axis);
    xb_free(s->group_len);
    xb_config_free(s->base);
    xb_free(s);
}

/* Copy of [b, e) with blanks trimmed. */
static char *trimmed(const char *b, const char *e)
{
    while (b < e && isspace((unsigned char)*b)) b++;
    while (e > b && isspace((unsigned char)e[-1])) e--;
    char *s = xb_malloc((size_t)(e - b) + 1);
    if (s) { memcpy(s, b, (size_t)(e - b)); s[e - b] = '\0'; }
    return s;
}

static xb_status add_value(xb_sweep_axis *a, char *v, size_t *cap)
{
    if (!v) return XB_ENOMEM;
    if (a->n == *cap) {
        const size_t nc = *cap ? 2 * *cap : 8;
        char **nv = xb_realloc(a->values, nc * sizeof *nv);
        if (!nv) { xb_free(v); return XB_ENOMEM; }
        a->values = nv;
        *cap = nc;
    }
    a->values[a->n++] = v;
    return XB_OK;
}

static char *fmt_real(double x)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.12g", x == 0 ? 0.0 : x);     /* no "-0" */
    return xb_strdup(buf);
}

static int looks_like_range(const char *t)
{
    if (strchr(t, ',') || strchr(t, '|') || !strstr(t, "..")) return 0;
    return isdigit((unsigned char)t[0]) || t[0] == '+' || t[0] == '-' ||
           (t[0] == '.' && isdigit((unsigned char)t[1]));
}

/* Values of a range A..B [log|lin N]; on a bad spec, a reason in why. */
static xb_status parse_range(const char *t, xb_sweep_axis *a, char *why, size_t wl)
{
    size_t cap = 0;
    char *end;
    errno = 0;
    const double A = strtod(t, &end);
    if (end > t && end[-1] == '.' && end[0] == '.') end--;     /* "1..5": strtod ate "1." */
    if (end == t || end[0] != '.' || end[1] != '.') goto bad;
    const char *bt = end + 2;
    const double B = strtod(bt, &end);
    if (end == bt || errno == ERANGE || !isfinite(A) || !isfinite(B)) goto bad;
    while (isspace((unsigned char)*end)) end++;
    if (*end == '\0') {                                         /* integers A..B */
        char *e1, *e2;
        const long long ia = strtoll(t, &e1, 10), ib = strtoll(bt, &e2, 10);
        while (isspace((unsigned char)*e1)) e1++;
        while (isspace((unsigned char)*e2)) e2++;
        if (e1[0] != '.' || e1[1] != '.' || *e2 != '\0') {
            snprintf(why, wl, "A..B needs integers (write A..B lin N for real values)");
            return XB_EINVAL;
        }
        if (ia > ib) {
            snprintf(why, wl, "is an empty range (%lld > %lld)", ia, ib);
            return XB_EINVAL;
        }
        if (ib - ia >= MAX_RANGE) {
            snprintf(why, wl, "has more than %d values", MAX_RANGE);
            return XB_EINVAL;
        }
        for (long long v = ia; v <= ib; v++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", v);
            if (add_value(a, xb_strdup(buf), &cap)) return XB_ENOMEM;
        }
        return XB_OK;
    }
    const int lg = !strncmp(end, "log", 3), ln = !strncmp(end, "lin", 3);
    if (!lg && !ln) goto bad;
    char *e3;
    const long n = strtol(end + 3, &e3, 10);
    while (isspace((unsigned char)*e3)) e3++;
    if (e3 == end + 3 || *e3 != '\0' || !isspace((unsigned char)end[3])) goto bad;
    if (n < 2 || n > MAX_RANGE) {
        snprintf(why, wl, "needs a count N in [2, %d], not %ld", MAX_RANGE, n);
        return XB_EINVAL;
    }
    if (A == B) {
        snprintf(why, wl, "is an empty range (both ends are %g)", A);
        return XB_EINVAL;
    }
    if (lg && !(A > 0 && B > 0)) {
        snprintf(why, wl, "is a log range with an end <= 0 (both ends must be > 0)");
        return XB_EINVAL;
    }
    const double la = lg ? log10(A) : A, lb = lg ? log10(B) : B;
    for (long k = 0; k < n; k++) {          /* ends exact; inner points rounded by %.12g */
        const double u = la + (lb - la) * (double)k / (double)(n - 1);
        const double v = k == 0 ? A : k == n - 1 ? B : lg ? pow(10.0, u) : u;
        if (add_value(a, fmt_real(v), &cap)) return XB_ENOMEM;
    }
    return XB_OK;
bad:
    snprintf(why, wl, "is not a valid range (expected A..B, A..B log N or A..B lin N)");
    return XB_EINVAL;
}

static xb_status parse_values(const char *t, xb_sweep_axis *a, char *why, size_t wl)
{
    if (looks_like_range(t)) return parse_range(t, a, why, wl);
    size_t cap = 0;
    const char *p = t;
    const char sep = strchr(t, '|') ? '|' : ',';     /* '|' lists values that hold commas */
    for (;;) {
        const char *c = strchr(p, sep);
        const char *e = c ? c : p + strlen(p);
        char *v = trimmed(p, e);
        if (v && !*v) {
            xb_free(v);
            snprintf(why, wl, "%s", a->n == 0 && !c ? "is an empty list" : "has an empty item");
            return XB_EINVAL;
        }
        if (add_value(a, v, &cap)) return XB_ENOMEM;
        if (!c) break;
        p = c + 1;
    }
    return XB_OK;
}

static int is_zip(const char *key) { return !strcmp(key, "zip") || !strncmp(key, "zip.", 4); }

static xb_status fail_at(xb_err *err, xb_status code, const xb_cfg_entry *e, const char *msg)
{
    char where[300];
    xb_config_where(e, where, sizeof where);
    return xb_fail(err, code, "%s[sweep] %s = '%s' %s", where, e->key, e->value, msg);
}

static ptrdiff_t axis_index(const xb_sweep *s, const char *name)
{
    for (size_t a = 0; a < s->naxes; a++)
        if (!strcmp(s->axis[a].name, name)) return (ptrdiff_t)a;
    return -1;
}

/* Group the axes: zip entries first tag their members, then groups are numbered in
 * the order of their first axis. */
static xb_status make_groups(xb_sweep *s, const xb_config *c, xb_err *err)
{
    size_t *zip = xb_calloc(s->naxes ? s->naxes : 1, sizeof *zip);   /* 0: none, else z+1 */
    s->group_len = xb_calloc(s->naxes ? s->naxes : 1, sizeof *s->group_len);
    if (!zip || !s->group_len) { xb_free(zip); return xb_fail(err, XB_ENOMEM, "sweep: out of memory"); }
    size_t nzip = 0;
    xb_status st = XB_OK;
    for (size_t i = 0; i < c->n && st == XB_OK; i++) {
        const xb_cfg_entry *e = &c->e[i];
        if (strcmp(e->section, "sweep") || !is_zip(e->key)) continue;
        nzip++;
        ptrdiff_t first = -1;
        const char *p = e->value;
        for (int more = 1; more && st == XB_OK;) {
            const char *cm = strchr(p, ',');
            char *name = trimmed(p, cm ? cm : p + strlen(p));
            more = cm != NULL;
            p = cm ? cm + 1 : p;
            if (!name) { st = xb_fail(err, XB_ENOMEM, "sweep: out of memory"); break; }
            char why[200];
            const ptrdiff_t a = *name ? axis_index(s, name) : -2;
            if (a == -2) st = fail_at(err, XB_EINVAL, e, "has an empty item");
            else if (a < 0 && xb_config_find(c, "sweep", name)) {
                /* a swept key fixed by --set: it no longer varies */
            } else if (a < 0) {
                snprintf(why, sizeof why, "names '%s', which is not a swept key", name);
                st = fail_at(err, XB_EINVAL, e, why);
            } else if (zip[a]) {
                snprintf(why, sizeof why, "names '%s', which is already in another zip group", name);
                st = fail_at(err, XB_EINVAL, e, why);
            } else if (first >= 0 && s->axis[a].n != s->axis[first].n) {
                snprintf(why, sizeof why, "zips keys of unequal length: %s has %zu values, %s has %zu",
                         s->axis[first].name, s->axis[first].n, name, s->axis[a].n);
                st = fail_at(err, XB_EINVAL, e, why);
            } else {
                zip[a] = nzip;
                if (first < 0) first = a;
            }
            xb_free(name);
        }
    }
    if (st == XB_OK) {
        for (size_t a = 0; a < s->naxes; a++) s->axis[a].group = (size_t)-1;
        for (size_t a = 0; a < s->naxes; a++) {
            if (s->axis[a].group != (size_t)-1) continue;
            const size_t g = s->ngroups++;
            s->group_len[g] = s->axis[a].n;
            for (size_t b = a; b < s->naxes; b++)
                if (b == a || (zip[a] && zip[b] == zip[a])) s->axis[b].group = g;
        }
        s->nruns = 1;
        for (size_t g = 0; g < s->ngroups && st == XB_OK; g++) {
            if (s->group_len[g] > XB_SWEEP_MAX_RUNS / s->nruns)
                st = xb_fail(err, XB_ERANGE, "[sweep] expands to more than %d runs",
                             XB_SWEEP_MAX_RUNS);
            else s->nruns *= s->group_len[g];
        }
    }
    xb_free(zip);
    return st;
}

/* Two runs of one group with the same values would be one run twice (same config, same
 * id). A lone axis must not repeat a value; a zip group may repeat a value in one key as
 * long as no two of its rows are equal in every key (a "one change at a time" design:
 * zip = a, b with a = 0, 0.2, 0 and b = 1, 1, 2). */
static xb_status check_repeats(const xb_sweep *s, const xb_config *c, xb_err *err)
{
    for (size_t g = 0; g < s->ngroups; g++)
        for (size_t u = 0; u < s->group_len[g]; u++)
            for (size_t v = u + 1; v < s->group_len[g]; v++) {
                size_t first = s->naxes, members = 0;
                int same = 1;
                for (size_t a = 0; a < s->naxes && same; a++) {
                    if (s->axis[a].group != g) continue;
                    if (first == s->naxes) first = a;
                    members++;
                    same = !strcmp(s->axis[a].values[u], s->axis[a].values[v]);
                }
                if (!same || first == s->naxes) continue;
                const xb_sweep_axis *x = &s->axis[first];
                char why[200];
                if (members == 1) snprintf(why, sizeof why, "gives the value '%s' twice", x->values[u]);
                else snprintf(why, sizeof why, "and the keys zipped with it repeat row %zu as row %zu "
                              "(the same run twice)", u + 1, v + 1);
                const xb_cfg_entry *e = xb_config_find(c, "sweep", x->name);
                return e ? fail_at(err, XB_EINVAL, e, why)
                         : xb_fail(err, XB_EINVAL, "[sweep] %s %s", x->name, why);
            }
    return XB_OK;
}

xb_status xb_sweep_alloc(xb_sweep **out, const xb_config *c, xb_sweep_key_check check,
                         xb_err *err)
{
    *out = NULL;
    xb_sweep *s = xb_calloc(1, sizeof *s);
    if (!s || !(s->base = xb_config_copy(c))) {
        xb_sweep_free(s);
        return xb_fail(err, XB_ENOMEM, "sweep: out of memory");
    }
    xb_config_drop_section(s->base, "sweep");
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) n += !strcmp(c->e[i].section, "sweep");
    s->axis = xb_calloc(n ? n : 1, sizeof *s->axis);
    if (!s->axis) { xb_sweep_free(s); return xb_fail(err, XB_ENOMEM, "sweep: out of memory"); }
    xb_status st = XB_OK;
    for (size_t i = 0; i < c->n && st == XB_OK; i++) {
        const xb_cfg_entry *e = &c->e[i];
        if (strcmp(e->section, "sweep") || is_zip(e->key)) continue;
        const char *dot = strchr(e->key, '.');
        if (!dot || dot == e->key || !dot[1]) {
            st = fail_at(err, XB_EINVAL, e, "is not a sweep key (write section.key = values, "
                         "or zip = key1, key2)");
            break;
        }
        if (!strncmp(e->key, "sweep.", 6)) {
            st = fail_at(err, XB_EINVAL, e, "cannot sweep the [sweep] section itself");
            break;
        }
        xb_sweep_axis *a = &s->axis[s->naxes];
        a->name = xb_strdup(e->key);
        a->section = trimmed(e->key, dot);
        a->key = trimmed(dot + 1, dot + strlen(dot));
        a->origin = xb_strdup(e->origin);
        a->line = e->line;
        s->naxes++;
        if (!a->name || !a->section || !a->key || !a->origin) {
            st = xb_fail(err, XB_ENOMEM, "sweep: out of memory");
            break;
        }
        /* a later source (--set section.key=v after the file) fixes the key */
        const xb_cfg_entry *fixed = xb_config_find(c, a->section, a->key);
        if (fixed && fixed->source > e->source) {
            axis_clear(a);
            memset(a, 0, sizeof *a);
            s->naxes--;
            continue;
        }
        char why[200];
        if (check && (st = check(a->section, a->key, s->base, err)) != XB_OK) {
            char where[300];
            xb_config_where(e, where, sizeof where);
            st = xb_err_prefix(err, "%s[sweep] ", where);
            break;
        }
        st = parse_values(e->value, a, why, sizeof why);
        if (st == XB_ENOMEM) st = xb_fail(err, st, "sweep: out of memory");
        else if (st != XB_OK) st = fail_at(err, st, e, why);
    }
    if (st == XB_OK) st = make_groups(s, c, err);
    if (st == XB_OK) st = check_repeats(s, c, err);
    if (st != XB_OK) { xb_sweep_free(s); return st; }
    *out = s;
    return XB_OK;
}

void xb_sweep_choice(const xb_sweep *s, size_t k, size_t *choice)
{
    size_t cg[s->ngroups ? s->ngroups : 1];
    for (size_t g = s->ngroups; g-- > 0;) {      /* the last group varies fastest */
        cg[g] = k % s->group_len[g];
        k /= s->group_len[g];
    }
    for (size_t a = 0; a < s->naxes; a++) choice[a] = cg[s->axis[a].group];
}

xb_status xb_sweep_run_config(const xb_sweep *s, size_t k, xb_config **out, xb_err *err)
{
    *out = NULL;
    size_t choice[s->naxes ? s->naxes : 1];
    xb_sweep_choice(s, k, choice);
    xb_config *r = xb_config_copy(s->base);
    if (!r) return xb_fail(err, XB_ENOMEM, "sweep: out of memory");
    for (size_t a = 0; a < s->naxes; a++) {
        const xb_sweep_axis *x = &s->axis[a];
        if (xb_config_put(r, x->section, x->key, x->values[choice[a]], x->origin, err)) {
            xb_config_free(r);
            return XB_ENOMEM;
        }
        xb_cfg_entry *e = (xb_cfg_entry *)xb_config_find(r, x->section, x->key);
        e->line = x->line;                          /* errors point at the [sweep] line */
    }
    *out = r;
    return XB_OK;
}

static int cmp_entry(const void *pa, const void *pb)
{
    const xb_cfg_entry *a = *(const xb_cfg_entry *const *)pa, *b = *(const xb_cfg_entry *const *)pb;
    const int c = strcmp(a->section, b->section);
    return c ? c : strcmp(a->key, b->key);
}

char *xb_sweep_canonical(const xb_config *c)
{
    const xb_cfg_entry **v = xb_malloc((c->n ? c->n : 1) * sizeof *v);
    if (!v) return NULL;
    size_t len = 1;
    for (size_t i = 0; i < c->n; i++) {
        v[i] = &c->e[i];
        len += 2 * strlen(c->e[i].section) + strlen(c->e[i].key) + strlen(c->e[i].value) + 8;
    }
    qsort(v, c->n, sizeof *v, cmp_entry);
    char *out = xb_malloc(len), *p = out;
    if (out) {
        *p = '\0';
        for (size_t i = 0; i < c->n; i++) {
            if (i == 0 || strcmp(v[i]->section, v[i - 1]->section))
                p += sprintf(p, "[%s]\n", v[i]->section);
            p += sprintf(p, "%s = %s\n", v[i]->key, v[i]->value);
        }
    }
    xb_free(v);
    return out;
}

uint64_t xb_sweep_fnv1a(const char *text)
{
    uint64_t h = 0xcbf29ce484222325u;                   /* FNV-1a 64: offset basis, prime */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3u;
    }
    return h;
}

xb_status xb_sweep_run_id(const xb_config *run, char *id, xb_err *err)
{
    char *t = xb_sweep_canonical(run);
    if (!t) return xb_fail(err, XB_ENOMEM, "sweep: out of memory");
    snprintf(id, XB_RUN_ID_LEN + 1, "%016" PRIx64, xb_sweep_fnv1a(t));
    xb_free(t);
    return XB_OK;
}

xb_status xb_sweep_parse_shard(const char *text, unsigned *i, unsigned *n, xb_err *err)
{
    char *e1, *e2;
    errno = 0;
    const unsigned long a = strtoul(text, &e1, 10);
    const unsigned long b = *e1 == '/' ? strtoul(e1 + 1, &e2, 10) : 0;
    if (!isdigit((unsigned char)text[0]) || *e1 != '/' || !isdigit((unsigned char)e1[1]) ||
        *e2 != '\0' || errno || b == 0 || a >= b || b > 1000000)
        return xb_fail(err, XB_EINVAL, "--shard '%s': expected i/N with 0 <= i < N", text);
    *i = (unsigned)a;
    *n = (unsigned)b;
    return XB_OK;
}
