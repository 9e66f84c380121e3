/* plots/xb_plot.c: the plot kinds of `xbemu plot`. Each kind reads its inputs as one
 * table set, reduces rows to points (last epoch of each run, mean +- sd over seeds) and
 * hands series to xb_figure. Column roles are described in xb_plot.h. */
#include <cjson/cJSON.h>
#include <gsl/gsl_fit.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/xb_mem.h"
#include "plots/xb_plot.h"

enum { KEYLEN = 384, VALLEN = 96, MAXCOLS = 128, TRACES = 5 };

const char *const xb_plot_kind_names[XB_PLOT_NKINDS] = {
    "energy-accuracy", "pulse-response", "learning", "heatmap", "sweep", "scaling",
    "energy-breakdown",
};

int xb_plot_kind_find(const char *name)
{
    for (int k = 0; k < XB_PLOT_NKINDS; k++)
        if (!strcmp(name, xb_plot_kind_names[k])) return k;
    return -1;
}

/* ---- Pareto front ----------------------------------------------------------------- */

typedef struct pp { double e, a; size_t i; } pp;

static int cmp_pp(const void *p, const void *q)
{
    const pp *a = p, *b = q;
    if (a->e != b->e) return a->e < b->e ? -1 : 1;        /* cheaper first, */
    if (a->a != b->a) return a->a > b->a ? -1 : 1;        /* then more accurate, */
    return a->i < b->i ? -1 : a->i > b->i;                /* then input order */
}

xb_status xb_pareto(const double *energy, const double *acc, size_t n, size_t *idx,
                    size_t *nfront, xb_err *err)
{
    *nfront = 0;
    for (size_t i = 0; i < n; i++)
        if (isnan(energy[i]) || isnan(acc[i]))
            return xb_fail(err, XB_EINVAL, "Pareto front: point %zu is NaN", i + 1);
    if (!n) return XB_OK;
    pp *p = xb_malloc(n * sizeof *p);
    if (!p) return xb_fail(err, XB_ENOMEM, "Pareto front of %zu points: out of memory", n);
    for (size_t i = 0; i < n; i++) p[i] = (pp){ energy[i], acc[i], i };
    qsort(p, n, sizeof *p, cmp_pp);
    /* Sweeping by energy, a point is on the front iff it beats the best accuracy seen so
     * far, or repeats the front point that holds it exactly. */
    double best_a = -INFINITY, best_e = NAN;
    for (size_t k = 0; k < n; k++) {
        if (p[k].a > best_a) { best_a = p[k].a; best_e = p[k].e; idx[(*nfront)++] = p[k].i; }
        else if (p[k].a == best_a && p[k].e == best_e) idx[(*nfront)++] = p[k].i;
    }
    xb_free(p);
    return XB_OK;
}

/* ---- column names ----------------------------------------------------------------- */

static int ends_with(const char *s, const char *suf)
{
    const size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static const char *const unit_suffix[][2] = {
    { "_J", "J" }, { "_s", "s" }, { "_S", "S" }, { "_W", "W" }, { "_A", "A" }, { "_V", "V" },
    { "_ms", "ms" }, { "_us", "µs" }, { "_ns", "ns" }, { "_Hz", "Hz" },
};
enum { NUNITS = sizeof unit_suffix / sizeof *unit_suffix };

static const char *unit_of(const char *col)
{
    for (int i = 0; i < NUNITS; i++)
        if (ends_with(col, unit_suffix[i][0]) && strlen(col) > strlen(unit_suffix[i][0]))
            return unit_suffix[i][1];
    return NULL;
}

static int is_measure(const char *name)
{
    static const char *const words[] = { "accuracy", "energy", "loss", "time", "wall", "gflops",
                                         "ratio", "conductance" };   /* not "rate": learning_rate */
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strstr(name, words[i])) return 1;
    if (!strncmp(name, "samples", 7) || !strcmp(name, "step")) return 1;   /* progress counters */
    if (!strncmp(name, "n_", 2)) return 1;                 /* operation counts (n_read, n_adc) */
    if (!strcmp(name, "run_id") || !strcmp(name, "status") || !strcmp(name, "error"))
        return 1;                          /* a sweep's per-run identifiers, not factors */
    return unit_of(name) != NULL;
}

void xb_plot_pretty_label(const char *col, char *buf, size_t len)
{
    const char *unit = unit_of(col);
    const size_t n = strlen(col) - (unit ? strlen(strrchr(col, '_')) : 0);
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(n < 255 ? n : 255), col);
    for (char *p = name; *p; p++) if (*p == '_') *p = ' ';
    static const char *const known[][2] = {
        { "adc bits", "ADC bits" }, { "dac bits", "DAC bits" }, { "pulse", "pulse number" },
        { "ber", "bit error rate" }, { "bl", "bit-stream length BL" },
        { "task", "after training task" }, { "eval task", "evaluated task" },
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(name, known[i][0])) snprintf(name, sizeof name, "%s", known[i][1]);
    if (unit) snprintf(buf, len, "%s (%s)", name, unit);
    else snprintf(buf, len, "%s", name);
}

/* ---- the inputs as one table set -------------------------------------------------- */

typedef struct tset { xb_csv **t; size_t n; } tset;

static void tset_free(tset *ts)
{
    for (size_t i = 0; i < ts->n; i++) xb_csv_free(ts->t[i]);
    xb_free(ts->t);
    ts->t = NULL; ts->n = 0;
}

static xb_status tset_read(tset *ts, const char *const *paths, size_t n, int jsonl, xb_err *err)
{
    ts->n = 0;
    if (!(ts->t = xb_calloc(n ? n : 1, sizeof *ts->t))) return xb_fail(err, XB_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const xb_csv_opts o = XB_CSV_OPTS_DEFAULT;
        const xb_status st = jsonl ? xb_plot_read_jsonl(paths[i], &ts->t[i], err)
                                   : xb_csv_read(paths[i], &o, &ts->t[i], err);
        if (st) { tset_free(ts); return st; }
        ts->n = i + 1;
    }
    return XB_OK;
}

/* "file": the input's name as a column, when asked for (--color file), so runs that
 * results.csv does not tell apart (a key missing from its columns) stay apart. The name
 * is the file's without directory and extension, or its directory's for results.csv. */
static void short_name(const char *path, char *buf, size_t len)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/'), *base = slash ? slash + 1 : tmp, *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = '\0';
    if (!strcmp(base, "results") && slash && slash != tmp) {
        *slash = '\0';
        char *up = strrchr(tmp, '/');
        base = up ? up + 1 : tmp;
    }
    snprintf(buf, len, "%.200s", base);
}

static xb_status tset_add_file_column(tset *ts, xb_err *err)
{
    for (size_t i = 0; i < ts->n; i++) {
        xb_csv *t = ts->t[i];
        if (xb_csv_col(t, "file") >= 0) continue;
        char name[256];
        short_name(t->name, name, sizeof name);
        char **head = xb_malloc((t->ncols + 1) * sizeof *head);
        char **cellv = xb_calloc(t->nrows * (t->ncols + 1), sizeof *cellv);
        char *fh = xb_strdup("file");
        int fail = !head || !cellv || !fh;
        for (size_t r = 0; r < t->nrows && !fail; r++)
            fail = !(cellv[r * (t->ncols + 1) + t->ncols] = xb_strdup(name));
        if (fail) {
            for (size_t r = 0; cellv && r < t->nrows; r++) xb_free(cellv[r * (t->ncols + 1) + t->ncols]);
            xb_free(head); xb_free(cellv); xb_free(fh);
            return xb_fail(err, XB_ENOMEM, "out of memory");
        }
        memcpy(head, t->head, t->ncols * sizeof *head);
        head[t->ncols] = fh;
        for (size_t r = 0; r < t->nrows; r++)
            memcpy(cellv + r * (t->ncols + 1), t->cell + r * t->ncols, t->ncols * sizeof *cellv);
        xb_free(t->head); xb_free(t->cell);
        t->head = head; t->cell = cellv; t->ncols++;
    }
    return XB_OK;
}

static int same_value(const char *a, const char *b)       /* "10" matches "10.0" */
{
    char *ea, *eb;
    const double x = strtod(a, &ea), y = strtod(b, &eb);
    if (ea != a && !*ea && eb != b && !*eb) return x == y;
    return !strcmp(a, b);
}

static xb_status need_col(const tset *ts, const char *name, const char *role, xb_err *err);

/* --where col=value,...: drop the other rows (their cells are freed here). */
static xb_status tset_where(tset *ts, const char *where, xb_err *err)
{
    enum { MAXW = 8 };
    char buf[512], *name[MAXW], *val[MAXW];
    size_t nw = 0;
    snprintf(buf, sizeof buf, "%s", where);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || nw == MAXW)
            return xb_fail(err, XB_EINVAL, "--where '%s': expected up to %d COL=VALUE, separated by commas",
                           where, MAXW);
        *eq = '\0';
        name[nw] = tok; val[nw] = eq + 1; nw++;
    }
    for (size_t k = 0; k < nw; k++) {
        const xb_status st = need_col(ts, name[k], "--where", err);
        if (st) return st;
    }
    size_t kept = 0;
    for (size_t i = 0; i < ts->n; i++) {
        xb_csv *t = ts->t[i];
        size_t w = 0;
        for (size_t r = 0; r < t->nrows; r++) {
            int match = 1;
            for (size_t k = 0; k < nw && match; k++)
                match = same_value(xb_csv_cell(t, r, (size_t)xb_csv_col(t, name[k])), val[k]);
            char **row = t->cell + r * t->ncols;
            if (!match) { for (size_t c = 0; c < t->ncols; c++) xb_free(row[c]); continue; }
            if (w != r) memmove(t->cell + w * t->ncols, row, t->ncols * sizeof *row);
            t->line[w++] = t->line[r];
        }
        t->nrows = w;
        kept += w;
    }
    if (!kept) return xb_fail(err, XB_EINVAL, "--where '%s': no row matches", where);
    return XB_OK;
}

static xb_status need_col(const tset *ts, const char *name, const char *role, xb_err *err)
{
    for (size_t i = 0; i < ts->n; i++) {
        const xb_csv *t = ts->t[i];
        if (xb_csv_col(t, name) >= 0) continue;
        char list[300] = "";
        size_t o = 0;
        for (size_t c = 0; c < t->ncols && o < sizeof list - 40; c++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", c ? ", " : "", t->head[c]);
        return xb_fail(err, XB_EINVAL, "%s: no column '%s' for %s (columns: %s)", t->name, name,
                       role, t->has_header ? list : "none: the file has no header line");
    }
    return XB_OK;
}

static int has_col(const tset *ts, const char *name)
{
    for (size_t i = 0; i < ts->n; i++) if (xb_csv_col(ts->t[i], name) < 0) return 0;
    return ts->n > 0;
}

static const char *cell(const tset *ts, size_t t, size_t r, const char *name)
{
    const int c = xb_csv_col(ts->t[t], name);
    return c < 0 ? "" : xb_csv_cell(ts->t[t], r, (size_t)c);
}

static xb_status num(const tset *ts, size_t t, size_t r, const char *name, double *v, xb_err *err)
{
    return xb_csv_number(ts->t[t], r, (size_t)xb_csv_col(ts->t[t], name), v, err);
}

/* A value on a log axis must be positive: say where it is not, and how to get out. */
static xb_status check_log(const tset *ts, size_t t, size_t r, const char *name, double v,
                           const char *axis, xb_err *err)
{
    if (v > 0) return XB_OK;
    return xb_fail(err, XB_ERANGE, "%s:%d: %s = %g is not positive, but the %s axis is "
                   "logarithmic (use --lin%s for a linear axis)", ts->t[t]->name, ts->t[t]->line[r],
                   name, v, axis, axis);
}

/* Config columns whose value is not the same in every row (union over inputs). */
typedef struct cols { const char *name[MAXCOLS]; size_t n; } cols;

/* A sweep's results.csv names its seed axis `run.seed`: it is the seed (replicates
 * averaged over, never a series), wherever a list names "seed". */
static int in_list(const char *s, const char *const *list)
{
    const int seed_axis = !strcmp(s, "run.seed");
    for (; *list; list++) if (!strcmp(s, *list) || (seed_axis && !strcmp(*list, "seed"))) return 1;
    return 0;
}

/* Column b repeats column a: equal a-values go with equal b-values and unequal with
 * unequal, over every row (a zip partner of the colour axis, or `device.d2d` next to the
 * run's own `d2d`). Such a column says nothing the colour does not. */
static int same_partition(const tset *ts, const char *a, const char *b)
{
    size_t n = 0;
    for (size_t t = 0; t < ts->n; t++) n += ts->t[t]->nrows;
    const char **va = xb_malloc((n ? n : 1) * sizeof *va), **vb = xb_malloc((n ? n : 1) * sizeof *vb);
    int same = va && vb;
    size_t i = 0;
    for (size_t t = 0; t < ts->n && same; t++)
        for (size_t r = 0; r < ts->t[t]->nrows; r++, i++) {
            va[i] = cell(ts, t, r, a);
            vb[i] = cell(ts, t, r, b);
        }
    for (i = 0; i < n && same; i++) {       /* first row with the same a-value, and b-value */
        size_t fa = 0, fb = 0;
        while (strcmp(va[fa], va[i])) fa++;
        while (strcmp(vb[fb], vb[i])) fb++;
        same = fa == fb;
    }
    xb_free(va); xb_free(vb);
    return same;
}

static void varying_config(const tset *ts, const char *const *skip, cols *out)
{
    out->n = 0;
    for (size_t i = 0; i < ts->n; i++)
        for (size_t c = 0; c < ts->t[i]->ncols; c++) {
            const char *name = ts->t[i]->head[c];
            if (is_measure(name) || in_list(name, skip)) continue;
            int dup = 0;
            for (size_t k = 0; k < out->n; k++) dup |= !strcmp(out->name[k], name);
            if (dup || out->n == MAXCOLS) continue;
            const char *first = NULL;
            int varies = 0;
            for (size_t t = 0; t < ts->n && !varies; t++)
                for (size_t r = 0; r < ts->t[t]->nrows && !varies; r++) {
                    const char *v = cell(ts, t, r, name);
                    if (!first) first = v;
                    else varies = strcmp(first, v) != 0;
                }
            if (varies) out->name[out->n++] = name;
        }
}

/* "name=value, name=value" over the columns not in skip. */
static void make_key(const tset *ts, size_t t, size_t r, const cols *c, const char *const *skip,
                     char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < c->n && o < len; k++) {
        if (in_list(c->name[k], skip)) continue;
        o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", o ? ", " : "", c->name[k],
                              cell(ts, t, r, c->name[k]));
    }
}

/* ---- rows -> points --------------------------------------------------------------- */

typedef struct obs {
    size_t t, r, ord, n;                /* a row it came from; first appearance; count */
    double x, y, sd;
    char key[KEYLEN];
} obs;

typedef struct olist { obs *o; size_t n; } olist;

static int cmp_key_ord(const void *p, const void *q)
{
    const obs *a = *(obs *const *)p, *b = *(obs *const *)q;
    const int c = strcmp(a->key, b->key);
    return c ? c : (a->ord > b->ord) - (a->ord < b->ord);
}

static int cmp_ord(const void *p, const void *q)
{
    const obs *a = p, *b = q;
    return (a->ord > b->ord) - (a->ord < b->ord);
}

/* Merge observations with equal keys: mean x, mean y, sample sd of y, count; groups keep
 * the order in which their first row appeared. */
static xb_status average_by_key(olist *L, xb_err *err)
{
    for (size_t i = 0; i < L->n; i++) L->o[i].ord = i;
    obs **ix = xb_malloc((L->n ? L->n : 1) * sizeof *ix);
    obs *out = xb_malloc((L->n ? L->n : 1) * sizeof *out);
    if (!ix || !out) { xb_free(ix); xb_free(out); return xb_fail(err, XB_ENOMEM, "out of memory"); }
    for (size_t i = 0; i < L->n; i++) ix[i] = &L->o[i];
    qsort(ix, L->n, sizeof *ix, cmp_key_ord);
    size_t m = 0;
    for (size_t a = 0, b; a < L->n; a = b) {
        double mx = 0, my = 0, m2 = 0;
        for (b = a; b < L->n && !strcmp(ix[b]->key, ix[a]->key); b++) {   /* Welford */
            const double k = (double)(b - a + 1), dy = ix[b]->y - my;
            mx += (ix[b]->x - mx) / k;
            my += dy / k;
            m2 += dy * (ix[b]->y - my);
        }
        out[m] = *ix[a];
        out[m].x = mx; out[m].y = my; out[m].n = b - a;
        out[m].sd = b - a > 1 ? sqrt(m2 / (double)(b - a - 1)) : 0.0;
        m++;
    }
    qsort(out, m, sizeof *out, cmp_ord);
    xb_free(ix); xb_free(L->o);
    L->o = out; L->n = m;
    return XB_OK;
}

/* Rows kept (unless all_epochs): each run's last evaluation point. A run is every config
 * column but epoch, task and eval_task (seed included). Its last point is the row with the
 * most progress: samples_seen (or samples) where present, since epochs restart with each
 * task in a task sequence; else the last row in file order (rows are appended as the run
 * goes); every row of the run at that point (task, epoch, samples) is kept, one per
 * eval_task. per_task: the last point of each training task of a run instead. Without
 * epoch or samples columns every row is kept. */
static const char *progress_column(const tset *ts)
{
    return has_col(ts, "samples_seen") ? "samples_seen" : has_col(ts, "samples") ? "samples" : NULL;
}

static xb_status keep_last_epoch(const tset *ts, const cols *cfg, int all, int per_task, char **keep,
                                 xb_err *err)
{
    size_t total = 0;
    for (size_t t = 0; t < ts->n; t++) total += ts->t[t]->nrows;
    const size_t nz = total ? total : 1;
    *keep = xb_malloc(nz);
    if (!*keep) return xb_fail(err, XB_ENOMEM, "out of memory");
    memset(*keep, 1, nz);
    const char *prog = progress_column(ts);
    if (all || (!has_col(ts, "epoch") && !prog)) return XB_OK;
    static const char *const skip_run[] = { "epoch", "task", "eval_task", NULL };
    static const char *const skip_task[] = { "epoch", "eval_task", NULL };
    const char *const *skip = per_task ? skip_task : skip_run;
    obs *o = xb_malloc(nz * sizeof *o);
    obs **ix = xb_malloc(nz * sizeof *ix);
    char (*point)[2 * VALLEN] = xb_malloc(nz * sizeof *point);
    xb_status st = o && ix && point ? XB_OK : xb_fail(err, XB_ENOMEM, "out of memory");
    size_t i = 0;
    for (size_t t = 0; t < ts->n && !st; t++)
        for (size_t r = 0; r < ts->t[t]->nrows && !st; r++, i++) {
            o[i] = (obs){ .t = t, .r = r, .ord = i, .x = (double)i };
            make_key(ts, t, r, cfg, skip, o[i].key, KEYLEN);
            if (prog) st = num(ts, t, r, prog, &o[i].x, err);
            snprintf(point[i], sizeof point[i], "%.60s|%.60s|%.60s", cell(ts, t, r, "task"),
                     cell(ts, t, r, "epoch"), prog ? cell(ts, t, r, prog) : "");
            ix[i] = &o[i];
        }
    if (!st) {
        qsort(ix, total, sizeof *ix, cmp_key_ord);
        for (size_t a = 0, b; a < total; a = b) {
            size_t last = a;               /* most progress; among equals, the latest row */
            for (b = a; b < total && !strcmp(ix[b]->key, ix[a]->key); b++)
                if (ix[b]->x >= ix[last]->x) last = b;
            for (size_t k = a; k < b; k++)
                (*keep)[ix[k]->ord] = !strcmp(point[ix[k]->ord], point[ix[last]->ord]);
        }
    }
    xb_free(o); xb_free(ix); xb_free(point);
    if (st) { xb_free(*keep); *keep = NULL; }
    return st;
}

/* ---- series ----------------------------------------------------------------------- */

static int all_numeric(char (*v)[VALLEN], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *end;
        strtod(v[i], &end);
        if (end == v[i] || *end) return 0;
    }
    return 1;
}

static int cmp_num_str(const void *p, const void *q)
{
    const double a = strtod(p, NULL), b = strtod(q, NULL);
    return (a > b) - (a < b);
}

/* Distinct values in order of appearance, or numeric order if all are numbers. */
typedef struct levels { char (*v)[VALLEN]; size_t n; } levels;

static xb_status levels_add(levels *L, const char *s, xb_err *err)
{
    for (size_t i = 0; i < L->n; i++) if (!strncmp(L->v[i], s, VALLEN - 1)) return XB_OK;
    char (*p)[VALLEN] = xb_realloc(L->v, (L->n + 1) * sizeof *p);
    if (!p) return xb_fail(err, XB_ENOMEM, "out of memory");
    L->v = p;
    snprintf(L->v[L->n++], VALLEN, "%s", s);
    return XB_OK;
}

static void levels_sort(levels *L)
{
    if (L->n > 1 && all_numeric(L->v, L->n)) qsort(L->v, L->n, VALLEN, cmp_num_str);
}

static size_t levels_find(const levels *L, const char *s)
{
    for (size_t i = 0; i < L->n; i++) if (!strncmp(L->v[i], s, VALLEN - 1)) return i;
    return 0;
}

typedef struct ctx {
    const xb_plot_opts *o;
    tset ts;
    xb_figure *fig;
    char *report;
    size_t rlen, rcap;
} ctx;

static xb_status report(ctx *c, xb_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static xb_status report(ctx *c, xb_err *err, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    const int k = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const size_t n = k < 0 ? 0 : (size_t)k < sizeof line ? (size_t)k : sizeof line - 1;
    if (c->rlen + n + 1 > c->rcap) {
        const size_t cap = 2 * (c->rcap + n + 1);
        char *p = xb_realloc(c->report, cap);
        if (!p) return xb_fail(err, XB_ENOMEM, "out of memory");
        c->report = p; c->rcap = cap;
    }
    memcpy(c->report + c->rlen, line, n + 1);
    c->rlen += n;
    return XB_OK;
}

typedef struct point { double x, y, sd; size_t n; } point;

static int cmp_point_x(const void *p, const void *q)
{
    const point *a = p, *b = q;
    return (a->x > b->x) - (a->x < b->x);
}

typedef enum { DRAW_MARKERS, DRAW_LINES, DRAW_BANDS } draw_mode;

/* Markers-only plots show the colour factor as colour and shape (greyscale-safe) and the
 * second factor as marker size, small to large in level order (ordinal, e.g. ADC bits). */
static double marker_size_of(size_t level, size_t nlevels)
{
    return nlevels > 1 ? 10.0 + 10.0 * (double)level / (double)(nlevels - 1) : 13.0;
}

/* Series from aggregated points: colour and marker by the colour column's value, dash
 * (or marker size, for markers-only plots) by the other varying columns. sval[i] and rest[i]
 * name point i's series. */
static xb_status add_series(ctx *c, const obs *o, size_t n, char (*cval)[VALLEN],
                            char (*rest)[KEYLEN], const char *colorcol, draw_mode mode,
                            const char *const *suffix, xb_err *err)
{
    xb_figure *fig = c->fig;
    levels C = { 0 }, R = { 0 };
    xb_status st = XB_OK;
    for (size_t i = 0; i < n && !st; i++) st = levels_add(&C, cval[i], err);
    for (size_t i = 0; i < n && !st; i++) st = levels_add(&R, rest[i], err);
    point *pts = st ? NULL : xb_malloc((n ? n : 1) * sizeof *pts);
    double *xs = pts ? xb_malloc((n ? n : 1) * 5 * sizeof *xs) : NULL;
    if (!st && !xs) st = xb_fail(err, XB_ENOMEM, "out of memory");
    if (!st) { levels_sort(&C); levels_sort(&R); }
    const int numeric_c = C.n && all_numeric(C.v, C.n);
    /* Two factors with several levels each: colour entries and dash (or marker) entries in
     * the legend instead of one entry per combination. */
    const int factor = colorcol && C.n > 1 && R.n > 1 && C.n * R.n > C.n + R.n;
    for (size_t ci = 0; ci < C.n && !st; ci++)
        for (size_t ri = 0; ri < R.n && !st; ri++) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (!strcmp(cval[i], C.v[ci]) && !strcmp(rest[i], R.v[ri]))
                    pts[m++] = (point){ o[i].x, o[i].y, o[i].sd, o[i].n };
            if (!m) continue;
            qsort(pts, m, sizeof *pts, cmp_point_x);
            double *x = xs, *y = xs + m, *e = xs + 2 * m, *lo = xs + 3 * m, *hi = xs + 4 * m;
            int any_sd = 0;
            for (size_t k = 0; k < m; k++) {
                x[k] = pts[k].x; y[k] = pts[k].y;
                e[k] = pts[k].n > 1 ? pts[k].sd : NAN;
                lo[k] = y[k] - (pts[k].n > 1 ? pts[k].sd : 0);
                hi[k] = y[k] + (pts[k].n > 1 ? pts[k].sd : 0);
                any_sd |= pts[k].n > 1;
            }
            char label[KEYLEN + 2 * VALLEN];
            const char *sfx = suffix ? suffix[ci * R.n + ri] : "";
            if (colorcol && R.v[ri][0])
                snprintf(label, sizeof label, numeric_c ? "%s=%s, %s%s" : "%.0s%s, %s%s", colorcol,
                         C.v[ci], R.v[ri], sfx ? sfx : "");
            else if (colorcol)
                snprintf(label, sizeof label, numeric_c ? "%s=%s%s" : "%.0s%s%s", colorcol, C.v[ci],
                         sfx ? sfx : "");
            else snprintf(label, sizeof label, "%s%s", R.v[ri][0] ? R.v[ri] : "all runs", sfx ? sfx : "");
            xb_style s = xb_style_default(ci, ri, mode != DRAW_MARKERS);
            if (mode == DRAW_MARKERS && R.n > 1) s.marker_size = marker_size_of(ri, R.n);
            s.no_legend = factor;
            if (c->o->table && !c->rlen) st = report(c, err, "# series\tx\ty (mean)\tsd\tn\n");
            for (size_t k = 0; k < m && c->o->table && !st; k++)
                st = report(c, err, "%s\t%.6g\t%.6g\t%.6g\t%zu\n", label, x[k], y[k], pts[k].sd, pts[k].n);
            if (mode == DRAW_BANDS && any_sd) {
                xb_style b = s;
                b.no_legend = 1;
                st = xb_figure_band(fig, NULL, x, lo, hi, m, &b, err);
            }
            if (!st) st = xb_figure_series(fig, label, x, y, mode == DRAW_BANDS ? NULL : e, m, &s, NULL, err);
        }
    for (size_t k = 0; factor && k < C.n + R.n && !st; k++) {   /* legend-only entries */
        char label[KEYLEN + VALLEN];
        xb_style s;
        if (k < C.n) {
            s = xb_style_default(k, 0, mode != DRAW_MARKERS);
            snprintf(label, sizeof label, numeric_c ? "%s=%s" : "%.0s%s", colorcol, C.v[k]);
        } else {
            s = xb_style_default(k - C.n, k - C.n, mode != DRAW_MARKERS);
            s.color = (xb_rgb){ 0.4, 0.4, 0.4 };
            if (mode != DRAW_MARKERS) s.marker = XB_MARK_NONE;
            else { s.marker = XB_MARK_CIRCLE; s.marker_size = marker_size_of(k - C.n, R.n); }
            snprintf(label, sizeof label, "%s", R.v[k - C.n]);
        }
        st = xb_figure_series(fig, label, NULL, NULL, NULL, 0, &s, NULL, err);
    }
    xb_free(pts); xb_free(xs); xb_free(C.v); xb_free(R.v);
    return st;
}

/* ---- the kinds -------------------------------------------------------------------- */

static int flag(int v, int def) { return v < 0 ? def : v; }

/* "device=ftj, adc_bits=8" -> "ftj, adc_bits=8": names are kept only for numbers. */
static void compact_key(const char *key, char *buf, size_t len)
{
    char tmp[KEYLEN];
    snprintf(tmp, sizeof tmp, "%s", key);
    size_t o = 0;
    buf[0] = '\0';
    for (char *part = tmp, *next; part && o < len; part = next) {
        next = strstr(part, ", ");
        if (next) { *next = '\0'; next += 2; }
        const char *eq = strchr(part, '='), *v = eq ? eq + 1 : part;
        char *end;
        strtod(v, &end);
        const int numeric = end != v && !*end;
        o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", numeric ? part : v);
    }
}

static xb_status set_axes(ctx *c, const char *xcol, const char *ycol, int logx, int logy,
                          const char *title, xb_err *err)
{
    const xb_plot_opts *o = c->o;
    char lx[256], ly[256];
    xb_plot_pretty_label(xcol, lx, sizeof lx);
    xb_plot_pretty_label(ycol, ly, sizeof ly);
    xb_status st = xb_figure_label(c->fig, XB_AXIS_X, o->xlabel ? o->xlabel : lx, err);
    if (!st) st = xb_figure_label(c->fig, XB_AXIS_Y, o->ylabel ? o->ylabel : ly, err);
    if (!st) st = xb_figure_title(c->fig, o->title ? o->title : title, err);
    if (!st && logx) st = xb_figure_scale(c->fig, XB_AXIS_X, XB_SCALE_LOG10, err);
    if (!st && logy) st = xb_figure_scale(c->fig, XB_AXIS_Y, XB_SCALE_LOG10, err);
    return st;
}

/* The colour column: given, or the first varying config column (not seed). */
static const char *color_column(const ctx *c, const cols *cfg, const char *const *skip, xb_err *err,
                                xb_status *st)
{
    if (c->o->color) {
        *st = need_col(&c->ts, c->o->color, "--color", err);
        return c->o->color;
    }
    for (size_t k = 0; k < cfg->n; k++) if (!in_list(cfg->name[k], skip)) return cfg->name[k];
    return NULL;
}

/* Rows -> observations (x, y per row), keys built by the caller's column lists. */
static xb_status collect(ctx *c, const char *xcol, const char *ycol, int logx, int logy,
                         const char *keep, olist *L, xb_err *err)
{
    size_t total = 0;
    for (size_t t = 0; t < c->ts.n; t++) total += c->ts.t[t]->nrows;
    L->n = 0;
    if (!(L->o = xb_malloc((total ? total : 1) * sizeof *L->o))) return xb_fail(err, XB_ENOMEM, "out of memory");
    size_t i = 0;
    for (size_t t = 0; t < c->ts.n; t++)
        for (size_t r = 0; r < c->ts.t[t]->nrows; r++, i++) {
            if (keep && !keep[i]) continue;
            obs *p = &L->o[L->n];
            *p = (obs){ .t = t, .r = r, .n = 1 };
            xb_status st = num(&c->ts, t, r, xcol, &p->x, err);
            if (!st) st = num(&c->ts, t, r, ycol, &p->y, err);
            if (!st && logx) st = check_log(&c->ts, t, r, xcol, p->x, "x", err);
            if (!st && logy) st = check_log(&c->ts, t, r, ycol, p->y, "y", err);
            if (st) { xb_free(L->o); L->o = NULL; return st; }
            L->n++;
        }
    return XB_OK;
}

/* Colour value and "rest" key of each point, from its representative row. */
static xb_status labels_of(ctx *c, const olist *L, const cols *cfg, const char *colorcol,
                           const char *const *skip, char (**cval)[VALLEN], char (**rest)[KEYLEN],
                           xb_err *err)
{
    *cval = xb_malloc((L->n ? L->n : 1) * sizeof **cval);
    *rest = xb_malloc((L->n ? L->n : 1) * sizeof **rest);
    if (!*cval || !*rest) {
        xb_free(*cval); xb_free(*rest);
        *cval = NULL; *rest = NULL;
        return xb_fail(err, XB_ENOMEM, "out of memory");
    }
    const char *sk[24];
    size_t k = 0;
    for (; skip[k] && k < 14; k++) sk[k] = skip[k];
    sk[k++] = colorcol ? colorcol : "";
    sk[k] = NULL;
    for (size_t j = 0; colorcol && j < cfg->n && k < 23; j++)   /* columns repeating the colour */
        if (!in_list(cfg->name[j], sk) && same_partition(&c->ts, colorcol, cfg->name[j])) {
            sk[k++] = cfg->name[j];
            sk[k] = NULL;
        }
    for (size_t i = 0; i < L->n; i++) {
        snprintf((*cval)[i], VALLEN, "%s", colorcol ? cell(&c->ts, L->o[i].t, L->o[i].r, colorcol) : "");
        make_key(&c->ts, L->o[i].t, L->o[i].r, cfg, sk, (*rest)[i], KEYLEN);
    }
    return XB_OK;
}

static xb_status kind_energy_accuracy(ctx *c, xb_err *err)
{
    const xb_plot_opts *o = c->o;
    const char *xcol = o->x ? o->x : "energy_per_sample_J", *ycol = o->y ? o->y : "accuracy";
    const int logx = flag(o->logx, 1), logy = flag(o->logy, 0);
    xb_status st = need_col(&c->ts, xcol, "the x axis (energy)", err);
    if (!st) st = need_col(&c->ts, ycol, "the y axis (accuracy)", err);
    if (!st) st = set_axes(c, xcol, ycol, logx, logy, "Accuracy vs. energy", err);
    if (st) return st;
    cols cfg;
    const char *const none[] = { xcol, ycol, NULL };
    varying_config(&c->ts, none, &cfg);
    static const char *const not_color[] = { "seed", "epoch", "eval_task", "task", NULL };
    const char *colorcol = color_column(c, &cfg, not_color, err, &st);
    if (st) return st;
    char *keep = NULL;
    olist L = { 0 };
    char (*cval)[VALLEN] = NULL;
    char (*rest)[KEYLEN] = NULL;
    size_t *front = NULL;
    double *fe = NULL;
    st = keep_last_epoch(&c->ts, &cfg, o->all_epochs, 0, &keep, err);
    if (!st) st = collect(c, xcol, ycol, logx, logy, keep, &L, err);
    static const char *const run_skip[] = { "epoch", "task", "eval_task", NULL };
    static const char *const grp_skip[] = { "epoch", "task", "eval_task", "seed", NULL };
    if (!st) {                    /* one point per run: the mean over evaluation tasks */
        for (size_t i = 0; i < L.n; i++)
            make_key(&c->ts, L.o[i].t, L.o[i].r, &cfg, o->all_epochs ? run_skip + 1 : run_skip, L.o[i].key, KEYLEN);
        st = average_by_key(&L, err);
    }
    if (!st) {                    /* then mean +- sd over seeds */
        for (size_t i = 0; i < L.n; i++) {
            make_key(&c->ts, L.o[i].t, L.o[i].r, &cfg, o->all_epochs ? grp_skip + 1 : grp_skip, L.o[i].key, KEYLEN);
            L.o[i].n = 1;
        }
        st = average_by_key(&L, err);
    }
    if (!st) st = labels_of(c, &L, &cfg, colorcol, o->all_epochs ? grp_skip + 1 : grp_skip, &cval, &rest, err);
    if (!st) st = add_series(c, L.o, L.n, cval, rest, colorcol, DRAW_MARKERS, NULL, err);
    if (!st && L.n) {
        front = xb_malloc(L.n * sizeof *front);
        fe = xb_malloc(L.n * 4 * sizeof *fe);
        if (!front || !fe) st = xb_fail(err, XB_ENOMEM, "out of memory");
    }
    size_t nf = 0;
    if (!st && L.n) {
        double *e = fe, *a = fe + L.n, *px = fe + 2 * L.n, *py = fe + 3 * L.n;
        for (size_t i = 0; i < L.n; i++) { e[i] = L.o[i].x; a[i] = L.o[i].y; }
        st = xb_pareto(e, a, L.n, front, &nf, err);
        for (size_t k = 0; k < nf && !st; k++) { px[k] = e[front[k]]; py[k] = a[front[k]]; }
        const xb_style s = { .color = { 0, 0, 0 }, .marker = XB_MARK_RING, .line = XB_LINE_DASH,
                             .mode = XB_LINE_STEPS, .line_width = 1.8, .marker_size = 27 };
        if (!st) st = xb_figure_series(c->fig, "Pareto front", px, py, NULL, nf, &s, NULL, err);
        if (!st) st = report(c, err, "# Pareto front (max %s, min %s): %zu of %zu points\n", ycol, xcol, nf, L.n);
        for (size_t k = 0; k < nf && !st; k++) {
            const obs *p = &L.o[front[k]];
            char key[KEYLEN];
            make_key(&c->ts, p->t, p->r, &cfg, o->all_epochs ? grp_skip + 1 : grp_skip, key, KEYLEN);
            st = report(c, err, "%s=%.4g\t%s=%.4f\tsd=%.4f\tn=%zu\t%s\n", xcol, p->x, ycol, p->y, p->sd,
                        p->n, key[0] ? key : "(one configuration)");
            if (!st && o->label_front && key[0]) {   /* up and left of the ring, where no
                                                        point can be (it would dominate) */
                char lab[KEYLEN];
                compact_key(key, lab, sizeof lab);
                st = xb_figure_text(c->fig, p->x, p->y, -14, -8, lab, 1, 1, err);
            }
        }
    }
    xb_free(keep); xb_free(L.o); xb_free(cval); xb_free(rest); xb_free(front); xb_free(fe);
    return st;
}

/* sweep and learning: y against x, one series per (colour value, other varying columns),
 * mean +- sd over seeds at each x. */
static xb_status kind_grouped(ctx *c, int learning, xb_err *err)
{
    const xb_plot_opts *o = c->o;
    if (!learning && (!o->x || !o->y))
        return xb_fail(err, XB_EINVAL, "sweep needs --x COL and --y COL");
    const char *xcol = o->x, *ycol = o->y ? o->y : "accuracy";
    if (!xcol) {          /* epochs restart with each task of a sequence: use samples then */
        cols tv;
        const char *const only[] = { NULL };
        varying_config(&c->ts, only, &tv);
        int task_varies = 0;
        for (size_t k = 0; k < tv.n; k++) task_varies |= !strcmp(tv.name[k], "task");
        xcol = task_varies && progress_column(&c->ts) ? progress_column(&c->ts) : "epoch";
    }
    const int logx = flag(o->logx, 0), logy = flag(o->logy, 0);
    xb_status st = need_col(&c->ts, xcol, "the x axis", err);
    if (!st) st = need_col(&c->ts, ycol, "the y axis", err);
    if (!st) st = set_axes(c, xcol, ycol, logx, logy,
                           learning ? "Accuracy during training" : NULL, err);
    if (st) return st;
    cols cfg;
    const char *const none[] = { xcol, ycol, NULL };
    varying_config(&c->ts, none, &cfg);
    const int filter = !learning && strcmp(xcol, "epoch") && strcmp(ycol, "epoch");
    const char *colorcol = NULL;
    if (learning && !o->color && has_col(&c->ts, "eval_task")) colorcol = "eval_task";
    else {
        static const char *const not_color[] = { "seed", "epoch", "task", NULL };
        colorcol = color_column(c, &cfg, not_color, err, &st);
        if (st) return st;
    }
    char *keep = NULL;
    olist L = { 0 };
    char (*cval)[VALLEN] = NULL;
    char (*rest)[KEYLEN] = NULL;
    st = keep_last_epoch(&c->ts, &cfg, !filter || o->all_epochs, 0, &keep, err);
    if (!st) st = collect(c, xcol, ycol, logx, logy, keep, &L, err);
    /* a series is every varying column but seed and x (and epoch when only each run's
     * last epoch is kept; task in learning, where it changes along the x axis) */
    const char *const skip_l[] = { "seed", "task", "epoch", xcol, NULL };
    const char *const skip_f[] = { "seed", "epoch", xcol, NULL };
    const char *const skip_a[] = { "seed", xcol, NULL };
    const char *const *skip = learning ? skip_l : filter && !o->all_epochs ? skip_f : skip_a;
    if (!st) {
        for (size_t i = 0; i < L.n; i++) {
            char k[KEYLEN];
            make_key(&c->ts, L.o[i].t, L.o[i].r, &cfg, skip, k, KEYLEN);
            snprintf(L.o[i].key, KEYLEN, "%.300s|x=%.17g", k, L.o[i].x);
        }
        st = average_by_key(&L, err);
    }
    if (!st) st = labels_of(c, &L, &cfg, colorcol, skip, &cval, &rest, err);
    if (!st) st = add_series(c, L.o, L.n, cval, rest, colorcol, learning ? DRAW_BANDS : DRAW_LINES, NULL, err);
    /* Continual learning: a dotted line where the training task changes. */
    if (!st && learning && has_col(&c->ts, "task")) {
        levels T = { 0 };
        double first[64];
        for (size_t i = 0; i < L.n && !st; i++) {
            const char *v = cell(&c->ts, L.o[i].t, L.o[i].r, "task");
            const size_t before = T.n;
            st = levels_add(&T, v, err);
            const size_t k = levels_find(&T, v);
            if (!st && k < 64) first[k] = T.n > before ? L.o[i].x : fmin(first[k], L.o[i].x);
        }
        for (size_t k = 0; k < T.n && k < 64 && !st; k++) {
            char lab[2 * VALLEN + 16];
            const char *w = all_numeric(T.v, T.n) ? "task " : "train ";   /* "task 2", "train fmnist" */
            if (k == 1) snprintf(lab, sizeof lab, "%s%s|%s%s", w, T.v[0], w, T.v[1]);
            else snprintf(lab, sizeof lab, "%s%s", w, T.v[k]);
            st = k ? xb_figure_vline(c->fig, first[k] - 0.5, lab, err) : XB_OK;
        }
        xb_free(T.v);
    }
    xb_free(keep); xb_free(L.o); xb_free(cval); xb_free(rest);
    return st;
}

/* SI prefix for a column in a base unit: values become 1..1000. */
static double si_scale(double maxabs, const char **prefix)
{
    static const char *const p[] = { "", "m", "µ", "n", "p", "f" };
    int k = 0;
    while (k < 5 && maxabs > 0 && maxabs * pow(1000.0, k) < 1.0) k++;
    *prefix = p[k];
    return pow(1000.0, k);
}

static void basename_noext(const char *path, char *buf, size_t len)
{
    const char *b = strrchr(path, '/');
    snprintf(buf, len, "%s", b ? b + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = '\0';
}

static const char *polarity_name(const char *pol)
{
    const double v = strtod(pol, NULL);
    if (v > 0 || !strcmp(pol, "up") || !strcmp(pol, "+")) return "up pulses";
    if (v < 0 || !strcmp(pol, "down") || !strcmp(pol, "-")) return "down pulses";
    return pol;
}

static xb_status kind_pulse_response(ctx *c, xb_err *err)
{
    const xb_plot_opts *o = c->o;
    const char *xcol = o->x ? o->x : "pulse", *ycol = o->y ? o->y : "conductance_S";
    const int logx = flag(o->logx, 0), logy = flag(o->logy, 0);
    xb_status st = need_col(&c->ts, xcol, "the x axis (pulse index)", err);
    if (!st) st = need_col(&c->ts, ycol, "the y axis (conductance)", err);
    tset meas = { 0 };
    const char *mx = o->mx ? o->mx : xcol, *my = o->my ? o->my : ycol;
    if (!st && o->measured) {
        st = tset_read(&meas, &o->measured, 1, 0, err);
        if (!st) st = need_col(&meas, mx, "the measured pulse index (--mx)", err);
        if (!st) st = need_col(&meas, my, "the measured conductance (--my)", err);
    }
    if (st) { tset_free(&meas); return st; }
    double maxabs = 0;                           /* one SI prefix for every curve */
    for (size_t t = 0; t < c->ts.n && !st; t++)
        for (size_t r = 0; r < c->ts.t[t]->nrows && !st; r++) {
            double v;
            st = num(&c->ts, t, r, ycol, &v, err);
            maxabs = fmax(maxabs, fabs(v));
        }
    const char *unit = unit_of(ycol), *prefix = "";
    const double scale = unit && !logy && maxabs < 0.1 ? si_scale(maxabs, &prefix) : 1.0;
    char ylabel[256], base[256];
    xb_plot_pretty_label(ycol, base, sizeof base);
    if (unit && scale != 1.0) {
        snprintf(ylabel, sizeof ylabel, "%s", base);
        char *br = strrchr(ylabel, '(');
        if (br) snprintf(br, sizeof ylabel - (size_t)(br - ylabel), "(%s%s)", prefix, unit);
    } else snprintf(ylabel, sizeof ylabel, "%s", base);
    xb_plot_opts o2 = *o;
    if (!o2.ylabel) o2.ylabel = ylabel;
    c->o = &o2;
    if (!st) st = set_axes(c, xcol, ycol, logx, logy, "Pulse response", err);
    c->o = o;
    for (size_t t = 0; t < c->ts.n && !st; t++) {
        const xb_csv *tb = c->ts.t[t];
        tset one = { (xb_csv **)&c->ts.t[t], 1 };
        const int has_dev = xb_csv_col(tb, "device") >= 0;
        olist L = { xb_malloc((tb->nrows ? tb->nrows : 1) * sizeof *L.o), 0 };
        if (!L.o) { st = xb_fail(err, XB_ENOMEM, "out of memory"); break; }
        levels D = { 0 };
        for (size_t r = 0; r < tb->nrows && !st; r++) {
            obs *p = &L.o[L.n++];
            *p = (obs){ .t = t, .r = r, .n = 1 };
            st = num(&one, 0, r, xcol, &p->x, err);
            if (!st) st = num(&one, 0, r, ycol, &p->y, err);
            if (!st && logx) st = check_log(&one, 0, r, xcol, p->x, "x", err);
            if (!st && logy) st = check_log(&one, 0, r, ycol, p->y, "y", err);
            p->y *= scale;
            if (!st && has_dev) st = levels_add(&D, cell(&one, 0, r, "device"), err);
        }
        char name[128];
        basename_noext(tb->name, name, sizeof name);
        const xb_rgb col = xb_palette(t);
        /* a few single devices, faint, under the band */
        for (size_t d = 0; d < D.n && d < TRACES && !st; d++) {
            double *x = xb_malloc(L.n * 2 * sizeof *x);
            if (!x) { st = xb_fail(err, XB_ENOMEM, "out of memory"); break; }
            size_t m = 0;
            for (size_t i = 0; i < L.n; i++)
                if (!strncmp(cell(&one, 0, L.o[i].r, "device"), D.v[d], VALLEN - 1)) {
                    x[m] = L.o[i].x;
                    x[L.n + m] = L.o[i].y;
                    m++;
                }
            const xb_style s = { .color = col, .line = XB_LINE_SOLID, .line_width = 1.0, .alpha = 0.35,
                                 .no_legend = 1 };
            st = xb_figure_series(c->fig, NULL, x, x + L.n, NULL, m, &s, NULL, err);
            xb_free(x);
        }
        /* polarity changes of the first device's train: dotted lines */
        if (!st && xb_csv_col(tb, "polarity") >= 0) {
            const char *prev = NULL;
            for (size_t i = 0; i < L.n && !st && t == 0; i++) {
                if (has_dev && D.n && strncmp(cell(&one, 0, L.o[i].r, "device"), D.v[0], VALLEN - 1)) continue;
                const char *pol = cell(&one, 0, L.o[i].r, "polarity");
                char *end;
                if (strtod(pol, &end) == 0 && end != pol && !*end) continue;   /* 0: no pulse */
                if (prev && strcmp(prev, pol)) {
                    char lab[2 * VALLEN + 2];
                    snprintf(lab, sizeof lab, "%s|%s", polarity_name(prev), polarity_name(pol));
                    st = xb_figure_vline(c->fig, L.o[i].x - 0.5, lab, err);
                }
                prev = pol;
            }
        }
        for (size_t i = 0; i < L.n && !st; i++) snprintf(L.o[i].key, KEYLEN, "%.17g", L.o[i].x);
        if (!st) st = average_by_key(&L, err);
        if (!st) {
            double *v = xb_malloc((L.n ? L.n : 1) * 4 * sizeof *v);
            if (!v) st = xb_fail(err, XB_ENOMEM, "out of memory");
            point *pts = v ? xb_malloc((L.n ? L.n : 1) * sizeof *pts) : NULL;
            if (v && !pts) st = xb_fail(err, XB_ENOMEM, "out of memory");
            if (!st) {
                for (size_t i = 0; i < L.n; i++) pts[i] = (point){ L.o[i].x, L.o[i].y, L.o[i].sd, L.o[i].n };
                qsort(pts, L.n, sizeof *pts, cmp_point_x);
                for (size_t i = 0; i < L.n; i++) {
                    v[i] = pts[i].x; v[L.n + i] = pts[i].y;
                    v[2 * L.n + i] = pts[i].y - pts[i].sd; v[3 * L.n + i] = pts[i].y + pts[i].sd;
                }
                if (o->table && !c->rlen) st = report(c, err, "# file\t%s\t%s (mean)\tsd\tn\n", xcol, ycol);
                for (size_t i = 0; i < L.n && o->table && !st; i++)    /* in the file's unit */
                    st = report(c, err, "%s\t%.6g\t%.6g\t%.6g\t%zu\n", tb->name, pts[i].x,
                                pts[i].y / scale, pts[i].sd / scale, pts[i].n);
                char lab[256], blab[256];
                const char *sep = c->ts.n > 1 ? ": " : "";   /* one file: no name needed */
                if (c->ts.n == 1) name[0] = '\0';
                snprintf(lab, sizeof lab, "%s%smean of %zu devices", name, sep, D.n ? D.n : (size_t)1);
                snprintf(blab, sizeof blab, "%s%s± 1 sd over devices", name, sep);
                const xb_style b = { .color = col, .alpha = 0.25 };
                const xb_style s = { .color = col, .line = XB_LINE_SOLID, .line_width = 3.0 };
                if (!st && D.n > 1) st = xb_figure_band(c->fig, blab, v, v + 2 * L.n, v + 3 * L.n, L.n, &b, err);
                if (!st) st = xb_figure_series(c->fig, lab, v, v + L.n, NULL, L.n, &s, NULL, err);
            }
            xb_free(pts); xb_free(v);
        }
        xb_free(L.o); xb_free(D.v);
    }
    if (!st && o->measured) {
        const xb_csv *tb = meas.t[0];
        double *v = xb_malloc((tb->nrows ? tb->nrows : 1) * 2 * sizeof *v);
        if (!v) st = xb_fail(err, XB_ENOMEM, "out of memory");
        for (size_t r = 0; r < tb->nrows && !st; r++) {
            st = num(&meas, 0, r, mx, &v[r], err);
            if (!st) st = num(&meas, 0, r, my, &v[tb->nrows + r], err);
            if (!st && logx) st = check_log(&meas, 0, r, mx, v[r], "x", err);
            if (!st && logy) st = check_log(&meas, 0, r, my, v[tb->nrows + r], "y", err);
            v[tb->nrows + r] *= scale;
        }
        const xb_style s = { .color = { 0, 0, 0 }, .marker = XB_MARK_RING, .marker_size = 9 };
        if (!st) st = xb_figure_series(c->fig, "measured", v, v + tb->nrows, NULL, tb->nrows, &s, NULL, err);
        xb_free(v);
    }
    tset_free(&meas);
    return st;
}

static xb_status kind_heatmap(ctx *c, xb_err *err)
{
    const xb_plot_opts *o = c->o;
    xb_status st = XB_OK;
    if (flag(o->logx, 0) || flag(o->logy, 0))
        return xb_fail(err, XB_EINVAL, "heatmap: log axes are not supported (cells are categories)");
    if (!o->z) {                                     /* a matrix: rows x cols of numbers */
        if (c->ts.n != 1) return xb_fail(err, XB_EINVAL, "heatmap of a matrix takes one input file");
        const xb_csv *t = c->ts.t[0];
        double *z = xb_malloc(t->nrows * t->ncols * sizeof *z);
        if (!z) return xb_fail(err, XB_ENOMEM, "out of memory");
        for (size_t r = 0; r < t->nrows && !st; r++)
            for (size_t k = 0; k < t->ncols && !st; k++)
                st = xb_csv_number(t, r, k, &z[r * t->ncols + k], err);
        if (!st) st = xb_figure_label(c->fig, XB_AXIS_X, o->xlabel ? o->xlabel : "column", err);
        if (!st) st = xb_figure_label(c->fig, XB_AXIS_Y, o->ylabel ? o->ylabel : "row", err);
        if (!st) st = xb_figure_title(c->fig, o->title, err);
        xb_figure_flip_y(c->fig);
        const int small = t->nrows <= 16 && t->ncols <= 16;
        if (!st) st = xb_figure_heatmap(c->fig, z, t->nrows, t->ncols, 0, (double)t->ncols, 0, (double)t->nrows,
                                        o->zlabel ? o->zlabel : "value", small, err);
        for (int a = 0; a < 2 && !st && small; a++) {     /* small maps: ticks at cell centres */
            const size_t n = a ? t->nrows : t->ncols;
            double v[16];
            char lab[16][24];
            const char *lp[16];
            for (size_t i = 0; i < n; i++) {
                v[i] = i + 0.5;
                snprintf(lab[i], sizeof lab[i], "%zu", i);
                lp[i] = lab[i];
            }
            st = xb_figure_ticks(c->fig, a ? XB_AXIS_Y : XB_AXIS_X, v, lp, n, err);
        }
        xb_free(z);
        return st;
    }
    if (!o->x || !o->y) return xb_fail(err, XB_EINVAL, "heatmap of a sweep needs --x COL --y COL --z COL");
    st = need_col(&c->ts, o->x, "the x axis", err);
    if (!st) st = need_col(&c->ts, o->y, "the y axis", err);
    if (!st) st = need_col(&c->ts, o->z, "the colour (--z)", err);
    if (st) return st;
    cols cfg;
    const char *const none[] = { o->z, NULL };
    varying_config(&c->ts, none, &cfg);
    char *keep = NULL;
    levels X = { 0 }, Y = { 0 };
    double *sum = NULL, *cnt = NULL;
    /* With task on an axis (the accuracy matrix of continual learning: accuracy on each
     * eval_task after each training task) the last point is taken per task. */
    const int per_task = !strcmp(o->x, "task") || !strcmp(o->y, "task");
    st = keep_last_epoch(&c->ts, &cfg, o->all_epochs || !strcmp(o->x, "epoch") || !strcmp(o->y, "epoch"),
                         per_task, &keep, err);
    size_t i = 0;
    for (size_t t = 0; t < c->ts.n && !st; t++)
        for (size_t r = 0; r < c->ts.t[t]->nrows && !st; r++, i++)
            if (keep[i]) {
                st = levels_add(&X, cell(&c->ts, t, r, o->x), err);
                if (!st) st = levels_add(&Y, cell(&c->ts, t, r, o->y), err);
            }
    if (!st) { levels_sort(&X); levels_sort(&Y); }
    if (!st && (X.n > XB_TICKS_MAX || Y.n > XB_TICKS_MAX))
        st = xb_fail(err, XB_ERANGE, "heatmap: %zu x %zu distinct values; at most %d per axis", X.n, Y.n,
                     XB_TICKS_MAX);
    if (!st) {
        sum = xb_calloc(X.n * Y.n, sizeof *sum);
        cnt = xb_calloc(X.n * Y.n, sizeof *cnt);
        if (!sum || !cnt) st = xb_fail(err, XB_ENOMEM, "out of memory");
    }
    i = 0;
    for (size_t t = 0; t < c->ts.n && !st; t++)
        for (size_t r = 0; r < c->ts.t[t]->nrows && !st; r++, i++) {
            if (!keep[i]) continue;
            double z;
            st = num(&c->ts, t, r, o->z, &z, err);
            const size_t k = levels_find(&Y, cell(&c->ts, t, r, o->y)) * X.n +
                             levels_find(&X, cell(&c->ts, t, r, o->x));
            if (!st) { sum[k] += z; cnt[k] += 1; }
        }
    if (!st) {
        for (size_t k = 0; k < X.n * Y.n; k++) sum[k] = cnt[k] > 0 ? sum[k] / cnt[k] : NAN;
        if (o->table) st = report(c, err, "# %s\t%s\t%s (mean)\tn\n", o->x, o->y, o->z);
        for (size_t k = 0; k < X.n * Y.n && o->table && !st; k++)
            if (cnt[k] > 0) st = report(c, err, "%s\t%s\t%.6g\t%.0f\n", X.v[k % X.n], Y.v[k / X.n], sum[k], cnt[k]);
        char lz[256];
        xb_plot_pretty_label(o->z, lz, sizeof lz);
        if (!st) st = set_axes(c, o->x, o->y, 0, 0, NULL, err);
        if (!strcmp(o->y, "task")) xb_figure_flip_y(c->fig);    /* first task on top, as a matrix */
        if (!st) st = xb_figure_heatmap(c->fig, sum, Y.n, X.n, 0, (double)X.n, 0, (double)Y.n,
                                        o->zlabel ? o->zlabel : lz, X.n <= 16 && Y.n <= 16, err);
        double v[XB_TICKS_MAX];
        const char *lp[XB_TICKS_MAX];
        for (size_t k = 0; k < X.n && !st; k++) { v[k] = k + 0.5; lp[k] = X.v[k]; }
        if (!st) st = xb_figure_ticks(c->fig, XB_AXIS_X, v, lp, X.n, err);
        for (size_t k = 0; k < Y.n && !st; k++) { v[k] = k + 0.5; lp[k] = Y.v[k]; }
        if (!st) st = xb_figure_ticks(c->fig, XB_AXIS_Y, v, lp, Y.n, err);
    }
    xb_free(keep); xb_free(X.v); xb_free(Y.v); xb_free(sum); xb_free(cnt);
    return st;
}

/* Energy ledger parts: e_*_J or energy_*_J columns, not totals or per-sample sums. */
static int is_energy_part(const char *name)
{
    if (!ends_with(name, "_J") || (strncmp(name, "e_", 2) && strncmp(name, "energy_", 7))) return 0;
    return !strstr(name, "total") && !strstr(name, "per_sample");
}

typedef struct part { const char *col; double mean_share; size_t k; } part;

static int cmp_part(const void *p, const void *q)
{
    const part *a = p, *b = q;
    return (a->mean_share < b->mean_share) - (a->mean_share > b->mean_share);   /* largest first */
}

/* Where the energy goes: for each configuration (last point of its runs, mean over seeds
 * and evaluation rows) the share of each ledger part, as stacked horizontal bars. The six
 * largest parts (by mean share) get colours, the rest is "other"; parts that are zero
 * everywhere are left out. */
static xb_status kind_energy_breakdown(ctx *c, xb_err *err)
{
    enum { NPART = 64, SHOWN = 6 };
    const xb_plot_opts *o = c->o;
    const xb_csv *t0 = c->ts.t[0];
    part parts[NPART];
    size_t np = 0;
    for (size_t k = 0; k < t0->ncols && np < NPART; k++)
        if (is_energy_part(t0->head[k]) && has_col(&c->ts, t0->head[k])) {
            parts[np] = (part){ t0->head[k], 0, np };
            np++;
        }
    if (!np)
        return xb_fail(err, XB_EINVAL, "%s: no energy ledger columns (e_*_J or energy_*_J, not totals)",
                       t0->name);
    cols cfg;
    const char *const none[] = { NULL };
    varying_config(&c->ts, none, &cfg);
    static const char *const skip[] = { "seed", "epoch", "task", "eval_task", NULL };
    char *keep = NULL;
    olist L = { 0 };
    double *mean = NULL;                 /* np x G */
    size_t G = 0, total = 0;
    for (size_t t = 0; t < c->ts.n; t++) total += c->ts.t[t]->nrows;
    xb_status st = keep_last_epoch(&c->ts, &cfg, o->all_epochs, 0, &keep, err);
    for (size_t k = 0; k < np && !st; k++) {
        olist Lk = { xb_malloc((total ? total : 1) * sizeof *Lk.o), 0 };
        if (!Lk.o) { st = xb_fail(err, XB_ENOMEM, "out of memory"); break; }
        size_t i = 0;
        for (size_t t = 0; t < c->ts.n && !st; t++)
            for (size_t r = 0; r < c->ts.t[t]->nrows && !st; r++, i++) {
                if (!keep[i]) continue;
                obs *q = &Lk.o[Lk.n++];
                *q = (obs){ .t = t, .r = r, .n = 1 };
                make_key(&c->ts, t, r, &cfg, skip, q->key, KEYLEN);
                st = num(&c->ts, t, r, parts[k].col, &q->y, err);
                if (!st && q->y < 0)
                    st = xb_fail(err, XB_ERANGE, "%s:%d: %s = %g is negative", c->ts.t[t]->name,
                                 c->ts.t[t]->line[r], parts[k].col, q->y);
            }
        if (!st) st = average_by_key(&Lk, err);     /* same rows, so the same group order */
        if (!st && k == 0) {
            G = Lk.n;
            mean = xb_calloc(np * G, sizeof *mean);
            if (!mean) st = xb_fail(err, XB_ENOMEM, "out of memory");
            else { L = Lk; Lk.o = NULL; }
        }
        for (size_t g = 0; g < G && !st; g++) mean[k * G + g] = (k == 0 ? L.o : Lk.o)[g].y;
        xb_free(Lk.o);
    }
    for (size_t g = 0; g < G && !st; g++) {          /* shares, in percent */
        double sum = 0;
        for (size_t k = 0; k < np; k++) sum += mean[k * G + g];
        for (size_t k = 0; k < np; k++) {
            mean[k * G + g] = sum > 0 ? 100.0 * mean[k * G + g] / sum : 0;
            parts[k].mean_share += mean[k * G + g] / (double)G;
        }
    }
    if (!st && o->table) st = report(c, err, "# configuration\tpart\tshare (%%)\n");
    for (size_t g = 0; g < G && o->table && !st; g++)
        for (size_t k = 0; k < np && !st; k++)
            st = report(c, err, "%s\t%s\t%.4g\n", L.o[g].key[0] ? L.o[g].key : "all runs", parts[k].col,
                        mean[k * G + g]);
    if (!st) {
        qsort(parts, np, sizeof *parts, cmp_part);
        st = xb_figure_title(c->fig, o->title ? o->title : "Where the energy goes", err);
        if (!st) st = xb_figure_label(c->fig, XB_AXIS_X, o->xlabel ? o->xlabel : "share of the energy (%)", err);
        if (!st) st = xb_figure_label(c->fig, XB_AXIS_Y, o->ylabel, err);
        if (!st) st = xb_figure_range(c->fig, XB_AXIS_X, 0, 100, err);
        if (!st) st = xb_figure_range(c->fig, XB_AXIS_Y, -0.6, (double)G - 0.4, err);
        xb_figure_flip_y(c->fig);
    }
    double *v = st ? NULL : xb_malloc((G ? G : 1) * 4 * sizeof *v);
    if (!st && !v) st = xb_fail(err, XB_ENOMEM, "out of memory");
    if (!st && G > XB_TICKS_MAX) st = xb_fail(err, XB_ERANGE, "%zu configurations: at most %d", G, XB_TICKS_MAX);
    if (!st) {
        double *y = v, *cum = v + G, *x0 = v + 2 * G, *x1 = v + 3 * G;
        char labs[XB_TICKS_MAX][VALLEN];
        const char *lp[XB_TICKS_MAX];
        for (size_t g = 0; g < G; g++) {
            y[g] = (double)g; cum[g] = 0;
            char full[KEYLEN];
            compact_key(L.o[g].key, full, sizeof full);
            snprintf(labs[g], VALLEN, "%.90s", full[0] ? full : "all runs");
            lp[g] = labs[g];
        }
        st = xb_figure_ticks(c->fig, XB_AXIS_Y, y, lp, G, err);
        for (size_t j = 0; j <= SHOWN && j < np && !st; j++) {       /* SHOWN parts, then "other" */
            const int other = j == SHOWN;
            double any = 0;
            for (size_t g = 0; g < G; g++) {
                double share = 0;
                for (size_t k = other ? SHOWN : j; k < (other ? np : j + 1); k++) share += mean[parts[k].k * G + g];
                x0[g] = cum[g]; x1[g] = cum[g] + share; cum[g] = x1[g];
                any += share;
            }
            if (!(any > 0)) continue;
            char name[128];
            size_t nother = 0;
            for (size_t k = SHOWN; k < np; k++) nother += parts[k].mean_share > 0;
            if (other) snprintf(name, sizeof name, "other (%zu parts)", nother);
            else {
                const char *col = parts[j].col + (strncmp(parts[j].col, "e_", 2) ? 7 : 2);
                snprintf(name, sizeof name, "%.*s", (int)(strlen(col) - 2), col);   /* drop _J */
            }
            xb_style sty = { .color = other ? (xb_rgb){ 0.6, 0.6, 0.6 } : xb_palette(j) };
            st = xb_figure_hbars(c->fig, name, y, x0, x1, G, 0.7, &sty, err);
        }
    }
    xb_free(v); xb_free(keep); xb_free(L.o); xb_free(mean);
    return st;
}

/* "256x785x1" -> 256*785*1; 0 if not of that form. */
static double shape_size(const char *s)
{
    double p = 1;
    int k = 0;
    for (const char *q = s; *q;) {
        char *end;
        const double v = strtod(q, &end);
        if (end == q || !(v > 0)) return 0;
        p *= v; k++;
        q = end;
        if (*q == 'x' || *q == 'X') q++;
        else if (*q) return 0;
    }
    return k ? p : 0;
}

static xb_status kind_scaling(ctx *c, xb_err *err)
{
    const xb_plot_opts *o = c->o;
    const char *xcol = o->x ? o->x : has_col(&c->ts, "size") ? "size" : "shape";
    xb_status st = need_col(&c->ts, xcol, "the x axis (size; or --x COL)", err);
    if (st) return st;
    enum { MAXY = 8 };
    char ybuf[256];                    /* --y a,b: one series per field (ours vs reference) */
    const char *yf[MAXY];
    size_t ny = 0;
    if (o->y) {
        snprintf(ybuf, sizeof ybuf, "%s", o->y);
        char *save = NULL;
        for (char *tok = strtok_r(ybuf, ",", &save); tok && ny < MAXY; tok = strtok_r(NULL, ",", &save))
            yf[ny++] = tok;
    } else {                           /* the first time-like field */
        const xb_csv *t = c->ts.t[0];
        for (size_t k = 0; k < t->ncols && !ny; k++) {
            const char *u = unit_of(t->head[k]);
            if (strstr(t->head[k], "time") || (u && (!strcmp(u, "s") || !strcmp(u, "ms") ||
                                                     !strcmp(u, "µs") || !strcmp(u, "ns"))))
                yf[ny++] = t->head[k];
        }
        if (!ny) return xb_fail(err, XB_EINVAL, "%s: no time field (name with 'time' or ending in _s, _ms, "
                                "_us, _ns); choose one with --y", t->name);
    }
    if (!ny) return xb_fail(err, XB_EINVAL, "--y '%s' names no field", o->y);
    const char *ycol = yf[0];
    for (size_t q = 0; q < ny && !st; q++) st = need_col(&c->ts, yf[q], "the y axis (time or rate)", err);
    char ylab[256] = "";
    if (!st && ny > 1 && !o->ylabel)
        for (size_t q = 0, n = 0; q < ny; q++) {
            char one[128];
            xb_plot_pretty_label(yf[q], one, sizeof one);
            n += (size_t)snprintf(ylab + n, sizeof ylab - (n < sizeof ylab ? n : sizeof ylab), "%s%s",
                                  q ? ", " : "", one);
            if (n >= sizeof ylab) break;
        }
    xb_plot_opts o2 = *o;
    if (ylab[0]) o2.ylabel = ylab;
    c->o = &o2;
    if (!st) st = set_axes(c, xcol, ycol, flag(o->logx, 1), flag(o->logy, 1), "Scaling with size", err);
    c->o = o;
    if (!st && !strcmp(xcol, "shape") && !o->xlabel)
        st = xb_figure_label(c->fig, XB_AXIS_X, "size (product of the shape's dimensions)", err);
    if (st) return st;
    cols cfg;
    const char *none[MAXY + 4] = { xcol, "shape", "size" };
    for (size_t q = 0; q < ny; q++) none[3 + q] = yf[q];
    none[3 + ny] = NULL;
    varying_config(&c->ts, none, &cfg);
    const char *colorcol = o->color ? o->color : has_col(&c->ts, "bench") ? "bench" : NULL;
    if (o->color) st = need_col(&c->ts, o->color, "--color", err);
    const int logx = flag(o->logx, 1), logy = flag(o->logy, 1);
    olist L = { 0 };
    size_t total = 0;
    for (size_t t = 0; t < c->ts.n; t++) total += c->ts.t[t]->nrows;
    if (!st && !(L.o = xb_malloc((total ? total : 1) * ny * sizeof *L.o)))
        st = xb_fail(err, XB_ENOMEM, "out of memory");
    const char *const skip[] = { "seed", "repeat", "run", NULL };
    for (size_t q = 0; q < ny && !st; q++)
        for (size_t t = 0; t < c->ts.n && !st; t++)
            for (size_t r = 0; r < c->ts.t[t]->nrows && !st; r++) {
                obs *p = &L.o[L.n];
                *p = (obs){ .t = t, .r = r, .n = 1 };
                const char *sx = cell(&c->ts, t, r, xcol);
                if (!sx[0]) continue;                    /* lines of another benchmark */
                if (!strcmp(xcol, "shape")) {
                    p->x = shape_size(sx);
                    if (!(p->x > 0))
                        st = xb_fail(err, XB_EINVAL, "%s:%d: shape '%s' is not of the form AxBxC",
                                     c->ts.t[t]->name, c->ts.t[t]->line[r], sx);
                } else st = num(&c->ts, t, r, xcol, &p->x, err);
                if (!st && !cell(&c->ts, t, r, yf[q])[0]) continue;
                if (!st) st = num(&c->ts, t, r, yf[q], &p->y, err);
                if (!st && logx) st = check_log(&c->ts, t, r, xcol, p->x, "x", err);
                if (!st && logy) st = check_log(&c->ts, t, r, yf[q], p->y, "y", err);
                char k[KEYLEN];
                make_key(&c->ts, t, r, &cfg, skip, k, KEYLEN);
                snprintf(p->key, KEYLEN, "%.300s|y=%zu|x=%.17g", k, q, p->x);
                L.n++;
            }
    if (!st && !L.n) st = xb_fail(err, XB_EINVAL, "%s: no line has both '%s' and '%s'", c->ts.t[0]->name, xcol, ycol);
    char (*cval)[VALLEN] = NULL;
    char (*rest)[KEYLEN] = NULL;
    if (!st) st = average_by_key(&L, err);
    if (!st) st = labels_of(c, &L, &cfg, colorcol, skip, &cval, &rest, err);
    for (size_t i = 0; i < L.n && !st && ny > 1; i++) {   /* the field joins the series name */
        const char *yq = strstr(L.o[i].key, "|y=");
        const size_t q = yq ? strtoul(yq + 3, NULL, 10) : 0;
        char tmp[KEYLEN];
        snprintf(tmp, sizeof tmp, "%.300s%s%s", rest[i], rest[i][0] ? ", " : "", yf[q < ny ? q : 0]);
        snprintf(rest[i], KEYLEN, "%s", tmp);
    }
    /* The slope of log y against log x (GSL least squares) goes into each label: cost
     * that grows as rows x cols has slope 1 against their product. */
    levels C = { 0 }, R = { 0 };
    char (*sfx)[48] = NULL;
    const char **sp = NULL;
    for (size_t i = 0; i < L.n && !st; i++) st = levels_add(&C, cval[i], err);
    for (size_t i = 0; i < L.n && !st; i++) st = levels_add(&R, rest[i], err);
    if (!st) {
        levels_sort(&C); levels_sort(&R);
        sfx = xb_calloc(C.n * R.n, sizeof *sfx);
        sp = xb_calloc(C.n * R.n, sizeof *sp);
        if (!sfx || !sp) st = xb_fail(err, XB_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < C.n * R.n && !st; k++) {
        double lx[256], ly[256];
        size_t m = 0;
        for (size_t i = 0; i < L.n && m < 256; i++)
            if (!strcmp(cval[i], C.v[k / R.n]) && !strcmp(rest[i], R.v[k % R.n])) {
                lx[m] = log10(L.o[i].x); ly[m] = log10(L.o[i].y); m++;
            }
        double c0, c1, v00, v01, v11, ss;
        if (logx && logy && m >= 2 &&
            !gsl_fit_linear(lx, 1, ly, 1, m, &c0, &c1, &v00, &v01, &v11, &ss) && isfinite(c1))
        {
            snprintf(sfx[k], sizeof sfx[k], " (slope %.2f)", c1);
            const char *rv = R.v[k % R.n];
            st = report(c, err, "slope %.3f\t%s%s%s\t(log10 %s vs log10 %s, %zu sizes)\n", c1,
                        C.v[k / R.n], rv[0] && C.v[k / R.n][0] ? ", " : "", rv, ny > 1 ? "y" : ycol,
                        strcmp(xcol, "shape") ? xcol : "size", m);
        }
        sp[k] = sfx[k];
    }
    if (!st) st = add_series(c, L.o, L.n, cval, rest, colorcol, DRAW_LINES, sp, err);
    xb_free(L.o); xb_free(cval); xb_free(rest); xb_free(C.v); xb_free(R.v); xb_free(sfx); xb_free(sp);
    return st;
}

/* ---- entry points ----------------------------------------------------------------- */

void xb_plot_clear(xb_plot *p)
{
    xb_figure_free(p->fig);
    xb_free(p->report);
    p->fig = NULL; p->report = NULL;
}

xb_status xb_plot_make(const xb_plot_opts *o, const char *const *inputs, size_t ninputs,
                       xb_plot *out, xb_err *err)
{
    if (!ninputs) return xb_fail(err, XB_EINVAL, "%s: no input file", xb_plot_kind_names[o->kind]);
    ctx c = { .o = o };
    xb_status st = tset_read(&c.ts, inputs, ninputs, o->kind == XB_PLOT_SCALING, err);
    if (!st && o->where) st = tset_where(&c.ts, o->where, err);
    const char *const asked[] = { o->x, o->y, o->z, o->color };
    for (int k = 0; k < 4 && !st; k++)
        if (asked[k] && !strcmp(asked[k], "file")) { st = tset_add_file_column(&c.ts, err); break; }
    if (!st) st = xb_figure_alloc(&c.fig, o->width ? o->width : 960, o->height ? o->height : 640, err);
    if (!st && o->text_scale) st = xb_figure_text_scale(c.fig, o->text_scale, err);
    if (!st) switch (o->kind) {
        case XB_PLOT_ENERGY_ACCURACY: st = kind_energy_accuracy(&c, err); break;
        case XB_PLOT_PULSE_RESPONSE: st = kind_pulse_response(&c, err); break;
        case XB_PLOT_LEARNING: st = kind_grouped(&c, 1, err); break;
        case XB_PLOT_SWEEP: st = kind_grouped(&c, 0, err); break;
        case XB_PLOT_HEATMAP: st = kind_heatmap(&c, err); break;
        case XB_PLOT_SCALING: st = kind_scaling(&c, err); break;
        case XB_PLOT_ENERGY_BREAKDOWN: st = kind_energy_breakdown(&c, err); break;
        default: st = xb_fail(err, XB_EINVAL, "unknown plot kind %d", (int)o->kind);
        }
    tset_free(&c.ts);
    if (st) { xb_figure_free(c.fig); xb_free(c.report); return st; }
    out->fig = c.fig;
    out->report = c.report;
    return XB_OK;
}

xb_status xb_plot_write(const xb_plot_opts *o, const char *const *inputs, size_t ninputs,
                        const char *out_png, const char *command, const char *config_hash,
                        char **report, xb_err *err)
{
    if (report) *report = NULL;
    const char *dot = strrchr(out_png, '.');
    const int png = dot && !strcmp(dot, ".png"), vec = dot && (!strcmp(dot, ".pdf") || !strcmp(dot, ".svg"));
    if (!png && !vec)
        return xb_fail(err, XB_EINVAL, "output '%s': the name must end in .png, .pdf or .svg", out_png);
    xb_plot p = { 0 };
    char hash[32];
    xb_status st = xb_plot_make(o, inputs, ninputs, &p, err);
    if (!st && !config_hash) {             /* crc32 of the inputs and the measured file */
        const char **all = xb_malloc((ninputs + 1) * sizeof *all);
        if (!all) st = xb_fail(err, XB_ENOMEM, "out of memory");
        else {
            memcpy(all, inputs, ninputs * sizeof *all);
            if (o->measured) all[ninputs] = o->measured;
            st = xb_plot_hash_files(all, ninputs + (o->measured != NULL), hash, sizeof hash, err);
            config_hash = hash;
            xb_free(all);
        }
    }
    size_t len = 1;
    for (size_t i = 0; i < ninputs; i++) len += strlen(inputs[i]) + 2;
    if (o->measured) len += strlen(o->measured) + 2;
    char *src = st ? NULL : xb_malloc(len);
    if (!st && !src) st = xb_fail(err, XB_ENOMEM, "out of memory");
    if (!st) {
        size_t n = 0;
        for (size_t i = 0; i < ninputs; i++) n += (size_t)snprintf(src + n, len - n, "%s%s", i ? ", " : "", inputs[i]);
        if (o->measured) snprintf(src + n, len - n, ", %s", o->measured);
        const xb_png_meta meta = { .command = command, .config_hash = config_hash, .source = src };
        st = png ? xb_figure_write_png(p.fig, out_png, &meta, err)
                 : xb_figure_write_vector(p.fig, out_png, &meta, err);
    }
    if (!st && report) { *report = p.report; p.report = NULL; }
    xb_free(src);
    xb_plot_clear(&p);
    return st;
}

/* ---- JSON lines and hashes -------------------------------------------------------- */

xb_status xb_plot_read_jsonl(const char *path, xb_csv **out, xb_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return xb_fail(err, XB_EIO, "cannot open %s", path);
    xb_csv *t = xb_calloc(1, sizeof *t);
    xb_status st = t && (t->name = xb_strdup(path)) ? XB_OK : xb_fail(err, XB_ENOMEM, "%s: out of memory", path);
    char **rows = NULL;                    /* row-major cells, MAXCOLS per row while reading */
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    int lineno = 0;
    ssize_t len;
    if (!st && !(t->head = xb_calloc(MAXCOLS, sizeof *t->head)))
        st = xb_fail(err, XB_ENOMEM, "%s: out of memory", path);
    while (!st && (len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        const char *p = line + strspn(line, " \t\r\n");
        if (!*p || *p == '#') continue;
        cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
        if (!j || !cJSON_IsObject(j)) {
            cJSON_Delete(j);
            st = xb_fail(err, XB_EINVAL, "%s:%d: not a JSON object", path, lineno);
            break;
        }
        if (t->nrows == cap) {
            const size_t nc = cap ? 2 * cap : 16;
            char **r = xb_realloc(rows, nc * MAXCOLS * sizeof *r);
            int *ln = xb_realloc(t->line, nc * sizeof *ln);
            if (r) rows = r;
            if (ln) t->line = ln;
            if (!r || !ln) { cJSON_Delete(j); st = xb_fail(err, XB_ENOMEM, "%s: out of memory", path); break; }
            memset(rows + cap * MAXCOLS, 0, (nc - cap) * MAXCOLS * sizeof *rows);
            cap = nc;
        }
        const size_t row = t->nrows++;
        t->line[row] = lineno;
        for (cJSON *it = j->child; it && !st; it = it->next) {
            char buf[64];
            const char *v;
            if (cJSON_IsString(it)) v = it->valuestring;
            else if (cJSON_IsNumber(it)) { snprintf(buf, sizeof buf, "%.17g", it->valuedouble); v = buf; }
            else if (cJSON_IsBool(it)) v = cJSON_IsTrue(it) ? "true" : "false";
            else if (cJSON_IsNull(it)) v = "";
            else {
                st = xb_fail(err, XB_EINVAL, "%s:%d: field '%s' is not a number or string", path, lineno,
                             it->string);
                break;
            }
            size_t k = 0;
            while (k < t->ncols && strcmp(t->head[k], it->string)) k++;
            if (k == t->ncols) {
                if (k == MAXCOLS) {
                    st = xb_fail(err, XB_ERANGE, "%s:%d: more than %d fields", path, lineno, MAXCOLS);
                    break;
                }
                if (!(t->head[k] = xb_strdup(it->string))) {
                    st = xb_fail(err, XB_ENOMEM, "%s: out of memory", path);
                    break;
                }
                t->ncols++;
            }
            xb_free(rows[row * MAXCOLS + k]);
            if (!(rows[row * MAXCOLS + k] = xb_strdup(v))) st = xb_fail(err, XB_ENOMEM, "%s: out of memory", path);
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    if (!st && t->nrows == 0) st = xb_fail(err, XB_EINVAL, "%s: empty (no JSON lines)", path);
    if (!st && !(t->cell = xb_calloc(t->nrows * t->ncols, sizeof *t->cell)))
        st = xb_fail(err, XB_ENOMEM, "%s: out of memory", path);
    for (size_t r = 0; !st && r < t->nrows; r++)
        for (size_t k = 0; k < t->ncols && !st; k++) {
            char *v = rows[r * MAXCOLS + k];
            t->cell[r * t->ncols + k] = v ? v : xb_strdup("");
            rows[r * MAXCOLS + k] = NULL;
            if (!t->cell[r * t->ncols + k]) st = xb_fail(err, XB_ENOMEM, "%s: out of memory", path);
        }
    for (size_t i = 0; i < cap * MAXCOLS; i++) xb_free(rows[i]);
    xb_free(rows);
    if (st) {
        if (t && !t->cell) t->nrows = 0;       /* xb_csv_free walks nrows * ncols cells */
        xb_csv_free(t);
        return st;
    }
    t->delim = ',';
    t->has_header = 1;
    *out = t;
    return XB_OK;
}

xb_status xb_plot_hash_files(const char *const *paths, size_t n, char *buf, size_t len, xb_err *err)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char chunk[65536];
    for (size_t i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "rb");
        if (!f) return xb_fail(err, XB_EIO, "cannot open %s", paths[i]);
        size_t k;
        while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) crc = crc32(crc, chunk, (uInt)k);
        const int bad = ferror(f);
        fclose(f);
        if (bad) return xb_fail(err, XB_EIO, "cannot read %s", paths[i]);
    }
    snprintf(buf, len, "crc32:%08lx", (unsigned long)crc);
    return XB_OK;
}
