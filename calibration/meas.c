/* calibration/meas.c: readers of measured device data (xb_meas.h). Layouts of the data
 * sets in shared/data are described in shared/data/README.md; everything is converted
 * to SI here so that the fitters never see a unit. */
#include "calibration/xb_meas.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xb_csv.h"
#include "core/xb_idx.h"
#include "core/xb_mem.h"

enum { MAX_BYTES = 1 << 28 };

const char *xb_meas_kind_name(xb_meas_kind k)
{
    switch (k) {
    case XB_MEAS_RAMPS: return "pulse ramps";
    case XB_MEAS_STEPS: return "per-pulse steps vs G";
    case XB_MEAS_PSW: return "switching probability";
    case XB_MEAS_RELAX: return "relaxation";
    }
    return "?";
}

void xb_meas_free(xb_measurement *m)
{
    if (!m) return;
    for (size_t r = 0; r < m->nramps; r++) { xb_free(m->ramp[r].g); xb_free(m->ramp[r].pulse); }
    xb_free(m->ramp);
    double *arr[] = { m->g, m->dg, m->sd, m->width, m->cur, m->p, m->t, m->g0, m->tnom, m->temp };
    for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) xb_free(arr[i]);
    xb_free(m->dir);
    xb_free(m);
}

/* ---- numbers with file:line:column ---------------------------------------------- */

static xb_status cell_num(const xb_csv *t, size_t r, size_t c, double *v, xb_err *err)
{
    const char *s = xb_csv_cell(t, r, c);
    char *end;
    errno = 0;
    const double x = strtod(s, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (!*s)
        return xb_fail(err, XB_EINVAL, "%s:%d:%zu: column '%s' is empty (expected a number)",
                       t->name, t->line[r], c + 1, t->head[c]);
    if (end == s || *end || (errno == ERANGE && fabs(x) > 1) || !isfinite(x))
        return xb_fail(err, XB_EINVAL, "%s:%d:%zu: column '%s': '%.40s' is not a finite number",
                       t->name, t->line[r], c + 1, t->head[c], s);
    *v = x;
    return XB_OK;
}

/* ---- column roles and units ----------------------------------------------------- */

enum { R_PULSE, R_COND, R_CURR, R_RES, R_RAMP, R_DIR, R_WIDTH, R_VOLT, R_PROB, R_TIME,
       R_G0, R_TNOM, NROLES };
static const char *const role_name[NROLES] = { "pulse", "conductance", "current", "resistance",
    "ramp", "dir", "width", "voltage", "probability", "time", "g0", "tnom" };
static const char *const role_unit[NROLES] = { "", "S", "A", "ohm", "", "", "s", "V", "1", "s",
                                               "S", "s" };

typedef struct unit_def { const char *base, *name; double f; } unit_def;
static const unit_def units[] = {
    { "S", "S", 1 }, { "S", "mS", 1e-3 }, { "S", "uS", 1e-6 }, { "S", "nS", 1e-9 },
    { "A", "A", 1 }, { "A", "mA", 1e-3 }, { "A", "uA", 1e-6 }, { "A", "nA", 1e-9 },
    { "ohm", "ohm", 1 }, { "ohm", "kohm", 1e3 }, { "ohm", "Mohm", 1e6 },
    { "s", "s", 1 }, { "s", "ms", 1e-3 }, { "s", "us", 1e-6 }, { "s", "ns", 1e-9 },
    { "s", "ps", 1e-12 }, { "s", "min", 60 }, { "s", "h", 3600 },
    { "V", "V", 1 }, { "V", "mV", 1e-3 }, { "1", "1", 1 }, { "1", "%", 0.01 },
};

typedef struct colmap { int col[NROLES]; double scale[NROLES]; } colmap;

static int find_role(const char *s, size_t n)
{
    for (int k = 0; k < NROLES; k++)
        if (strlen(role_name[k]) == n && !strncasecmp(s, role_name[k], n)) return k;
    return -1;
}

static xb_status parse_units(const char *spec, colmap *m, xb_err *err)
{
    for (int k = 0; k < NROLES; k++) m->scale[k] = 1;
    if (!spec || !*spec) return XB_OK;
    const char *p = spec;
    while (*p) {
        const char *e = strchr(p, ','), *q = strchr(p, '=');
        if (!e) e = p + strlen(p);
        if (!q || q > e)
            return xb_fail(err, XB_EINVAL, "--units '%s': expected role=unit, e.g. conductance=mS",
                           spec);
        const int k = find_role(p, (size_t)(q - p));
        if (k < 0)
            return xb_fail(err, XB_EINVAL, "--units: unknown quantity '%.*s' (one of conductance, "
                           "current, resistance, width, voltage, probability, time, g0, tnom)",
                           (int)(q - p), p);
        const size_t un = (size_t)(e - q - 1);
        int ok = 0;
        for (size_t u = 0; u < sizeof units / sizeof *units; u++)
            if (!strcmp(units[u].base, role_unit[k]) && strlen(units[u].name) == un &&
                !strncmp(units[u].name, q + 1, un)) { m->scale[k] = units[u].f; ok = 1; }
        if (!ok) {
            char allowed[160] = "";
            for (size_t u = 0; u < sizeof units / sizeof *units; u++)
                if (!strcmp(units[u].base, role_unit[k])) {
                    strncat(allowed, units[u].name, sizeof allowed - strlen(allowed) - 2);
                    strncat(allowed, " ", sizeof allowed - strlen(allowed) - 1);
                }
            return xb_fail(err, XB_EINVAL, "--units: '%.*s' is not a unit of %s (allowed: %s)",
                           (int)un, q + 1, role_name[k], allowed);
        }
        p = *e ? e + 1 : e;
    }
    if (m->scale[R_G0] == 1) m->scale[R_G0] = m->scale[R_COND];
    return XB_OK;
}

static xb_status parse_columns(const char *spec, const xb_csv *t, colmap *m, xb_err *err)
{
    for (int k = 0; k < NROLES; k++) m->col[k] = -1;
    if (!spec || !*spec) return XB_OK;
    const char *p = spec;
    while (*p) {
        const char *e = strchr(p, ','), *q = strchr(p, '=');
        if (!e) e = p + strlen(p);
        if (!q || q > e)
            return xb_fail(err, XB_EINVAL, "--columns '%s': expected role=column, e.g. "
                           "pulse=0,conductance=2", spec);
        const int k = find_role(p, (size_t)(q - p));
        if (k < 0)
            return xb_fail(err, XB_EINVAL, "--columns: unknown role '%.*s' (one of pulse, "
                           "conductance, current, resistance, ramp, dir, width, voltage, "
                           "probability, time, g0, tnom)", (int)(q - p), p);
        char val[128];
        snprintf(val, sizeof val, "%.*s", (int)(e - q - 1), q + 1);
        char *end;
        errno = 0;
        const long c = strtol(val, &end, 10);
        if (*val && !*end && errno == 0) {
            if (c < 0 || (size_t)c >= t->ncols)
                return xb_fail(err, XB_EINVAL, "--columns %s=%ld: %s has %zu columns (0..%zu, "
                               "delimiter '%s')", role_name[k], c, t->name, t->ncols, t->ncols - 1,
                               t->delim == '\t' ? "TAB" : t->delim == ' ' ? "blank" :
                               t->delim == ';' ? ";" : ",");
            m->col[k] = (int)c;
        } else {
            const int c2 = xb_csv_col(t, val);
            if (c2 < 0)
                return xb_fail(err, XB_EINVAL, "--columns %s=%s: %s has no column named '%s'%s",
                               role_name[k], val, t->name, val,
                               t->has_header ? "" : " (the file has no header line)");
            m->col[k] = c2;
        }
        p = *e ? e + 1 : e;
    }
    return XB_OK;
}

/* Column c of every row into a new array, times `scale`. */
static xb_status column(const xb_csv *t, int c, double scale, double **out, xb_err *err)
{
    *out = xb_malloc(t->nrows * sizeof **out);
    if (!*out) return xb_fail(err, XB_ENOMEM, "%s: out of memory", t->name);
    for (size_t r = 0; r < t->nrows; r++) {
        const xb_status st = cell_num(t, r, (size_t)c, &(*out)[r], err);
        if (st) { xb_free(*out); *out = NULL; return st; }
        (*out)[r] *= scale;
    }
    return XB_OK;
}

static xb_measurement *meas_new(xb_meas_kind kind, const char *name)
{
    xb_measurement *m = xb_calloc(1, sizeof *m);
    if (m) { m->kind = kind; snprintf(m->name, sizeof m->name, "%s", name); }
    return m;
}

static xb_status add_ramp(xb_measurement *m, int dir, const double *g, const double *pulse,
                          size_t n, int line, xb_err *err)
{
    xb_ramp *nr = xb_realloc(m->ramp, (m->nramps + 1) * sizeof *nr);
    if (!nr) return xb_fail(err, XB_ENOMEM, "%s: out of memory", m->name);
    m->ramp = nr;
    xb_ramp *r = &m->ramp[m->nramps];
    r->pulse = NULL;
    r->g = xb_malloc(n * sizeof *g);
    if (!r->g) return xb_fail(err, XB_ENOMEM, "%s: out of memory", m->name);
    memcpy(r->g, g, n * sizeof *g);
    if (pulse) {
        r->pulse = xb_malloc(n * sizeof *pulse);
        if (!r->pulse) { xb_free(r->g); return xb_fail(err, XB_ENOMEM, "%s: out of memory", m->name); }
        memcpy(r->pulse, pulse, n * sizeof *pulse);
    }
    r->n = n;
    r->line = line;
    r->device = 0;
    r->dir = dir ? dir : (g[n - 1] >= g[0] ? 1 : -1);   /* net change when not given */
    m->nramps++;
    return XB_OK;
}

static xb_status check_positive(const char *name, int line, size_t col, const char *what,
                                double v, xb_err *err)
{
    if (v > 0) return XB_OK;
    return xb_fail(err, XB_ERANGE, "%s:%d:%zu: %s = %g must be positive", name, line, col, what,
                   v);
}

/* ---- taox: one column per ramp, padded with empty fields --------------------------- */

static xb_status read_taox(const xb_csv *t, const xb_meas_opts *o, xb_measurement *m,
                           xb_err *err)
{
    double *g = xb_malloc(t->nrows * sizeof *g);
    if (!g) return xb_fail(err, XB_ENOMEM, "%s: out of memory", t->name);
    xb_status st = XB_OK;
    for (size_t c = 0; c < t->ncols && !st; c++) {
        size_t n = 0;
        while (n < t->nrows && xb_csv_cell(t, n, c)[0]) {
            if ((st = cell_num(t, n, c, &g[n], err))) break;
            if ((st = check_positive(t->name, t->line[n], c + 1, "read current", g[n], err))) break;
            g[n] /= o->v_read;
            n++;
        }
        if (st) break;
        for (size_t r = n; r < t->nrows; r++)        /* nothing may follow the padding */
            if (xb_csv_cell(t, r, c)[0]) {
                st = xb_fail(err, XB_EINVAL, "%s:%d:%zu: value after the end of ramp '%s' "
                             "(its first empty field is on line %d)", t->name, t->line[r], c + 1,
                             t->head[c], t->line[n]);
                break;
            }
        if (st) break;
        if (n < 2) {
            st = xb_fail(err, XB_EINVAL, "%s:%d:%zu: ramp '%s' has %zu reads; a ramp needs at "
                         "least 2", t->name, t->line[0], c + 1, t->head[c], n);
            break;
        }
        st = add_ramp(m, 0, g, NULL, n, (int)c + 1, err);
    }
    xb_free(g);
    return st;
}

/* ---- generic ramps: rows in order; a new ramp where ramp/dir change or pulse restarts */

static xb_status read_csv_ramps(const xb_csv *t, const colmap *cm0, const xb_meas_opts *o,
                                xb_measurement *m, xb_err *err)
{
    colmap c = *cm0;
    const colmap *cm = &c;
    int gc = cm->col[R_COND], src = R_COND;
    if (gc < 0 && cm->col[R_CURR] >= 0) { gc = cm->col[R_CURR]; src = R_CURR; }
    if (gc < 0 && cm->col[R_RES] >= 0) { gc = cm->col[R_RES]; src = R_RES; }
    if (gc < 0) {                               /* default: last column is G */
        gc = (int)t->ncols - 1;
        if (t->ncols == 2 && c.col[R_PULSE] < 0) c.col[R_PULSE] = 0;   /* pulse, G */
    }
    if (src == R_CURR && !(o->v_read > 0))
        return xb_fail(err, XB_EINVAL, "%s: a current column needs --v-read (V) to give G", t->name);
    double *g = xb_malloc(t->nrows * sizeof *g), *pu = xb_malloc(t->nrows * sizeof *pu);
    if (!g || !pu) { xb_free(g); xb_free(pu); return xb_fail(err, XB_ENOMEM, "%s: out of memory", t->name); }
    const int have_pulse = cm->col[R_PULSE] >= 0;
    xb_status st = XB_OK;
    double prev_pulse = -INFINITY, prev_ramp = NAN;
    int prev_dir = 0, dir = 0;
    size_t n = 0;
    int line0 = 0;
    for (size_t r = 0; r < t->nrows && !st; r++) {
        double v, pulse = (double)r, ramp = 0, d = 0;
        if ((st = cell_num(t, r, (size_t)gc, &v, err))) break;
        v *= cm->scale[src];
        if ((st = check_positive(t->name, t->line[r], (size_t)gc + 1, role_name[src], v, err))) break;
        if (src == R_CURR) v /= o->v_read;
        if (src == R_RES) v = 1 / v;
        if (cm->col[R_PULSE] >= 0 && (st = cell_num(t, r, (size_t)cm->col[R_PULSE], &pulse, err))) break;
        if (cm->col[R_RAMP] >= 0 && (st = cell_num(t, r, (size_t)cm->col[R_RAMP], &ramp, err))) break;
        if (cm->col[R_DIR] >= 0) {
            if ((st = cell_num(t, r, (size_t)cm->col[R_DIR], &d, err))) break;
            if (d == 0) {
                st = xb_fail(err, XB_EINVAL, "%s:%d:%d: dir = 0; use +1 (potentiation) or -1 "
                             "(depression)", t->name, t->line[r], cm->col[R_DIR] + 1);
                break;
            }
        }
        const int di = d > 0 ? 1 : d < 0 ? -1 : 0;
        const int boundary = n > 0 && (pulse <= prev_pulse || (cm->col[R_RAMP] >= 0 && ramp != prev_ramp) ||
                                       di != prev_dir);
        if (boundary) {
            if (n < 2) {
                st = xb_fail(err, XB_EINVAL, "%s:%d: ramp has %zu read; a ramp needs at least 2",
                             t->name, line0, n);
                break;
            }
            st = add_ramp(m, dir, g, have_pulse ? pu : NULL, n, line0, err);
            n = 0;
        }
        if (n == 0) { line0 = t->line[r]; dir = di; }
        pu[n] = pulse;
        g[n++] = v;
        prev_pulse = pulse; prev_ramp = ramp; prev_dir = di;
    }
    if (!st) {
        if (n < 2) st = xb_fail(err, XB_EINVAL, "%s:%d: ramp has %zu read; a ramp needs at "
                                "least 2", t->name, line0, n);
        else st = add_ramp(m, dir, g, have_pulse ? pu : NULL, n, line0, err);
    }
    xb_free(g);
    xb_free(pu);
    return st;
}

/* ---- switching probability ----------------------------------------------------------- */

static xb_status read_psw(const xb_csv *t, const colmap *cm, const xb_meas_opts *o,
                          int mtj_layout, xb_measurement *m, xb_err *err)
{
    colmap c = *cm;
    if (mtj_layout || (c.col[R_WIDTH] < 0 && c.col[R_VOLT] < 0 && c.col[R_CURR] < 0)) {
        if (t->ncols < 2)
            return xb_fail(err, XB_EINVAL, "%s:%d: %zu column; switching data need 2 (pulse "
                           "width or amplitude, probability)", t->name, t->line[0], t->ncols);
        double x0;                                  /* seconds if tiny, else volts */
        xb_status st = cell_num(t, 0, 0, &x0, err);
        if (st) return st;
        c.col[x0 * c.scale[R_WIDTH] < 1e-3 ? R_WIDTH : R_VOLT] = 0;
        if (c.col[R_PROB] < 0) c.col[R_PROB] = 1;
    }
    if (c.col[R_PROB] < 0)
        return xb_fail(err, XB_EINVAL, "%s: no probability column (give --columns probability=N)",
                       t->name);
    if (t->nrows < 3)
        return xb_fail(err, XB_EINVAL, "%s: %zu data point%s; a switching curve needs at least 3",
                       t->name, t->nrows, t->nrows == 1 ? "" : "s");
    xb_status st;
    m->n = t->nrows;
    if ((st = column(t, c.col[R_PROB], c.scale[R_PROB], &m->p, err))) return st;
    for (size_t r = 0; r < t->nrows; r++)
        if (!(m->p[r] >= 0 && m->p[r] <= 1))
            return xb_fail(err, XB_ERANGE, "%s:%d:%d: probability %g is outside [0, 1]", t->name,
                           t->line[r], c.col[R_PROB] + 1, m->p[r]);
    m->width = xb_malloc(t->nrows * sizeof *m->width);
    m->cur = xb_malloc(t->nrows * sizeof *m->cur);
    if (!m->width || !m->cur) return xb_fail(err, XB_ENOMEM, "%s: out of memory", t->name);
    for (size_t r = 0; r < t->nrows; r++) {
        m->width[r] = o->t_pulse;
        m->cur[r] = o->v_pulse > 0 ? o->v_pulse / o->r_p : NAN;
    }
    if (c.col[R_WIDTH] >= 0) {
        double *w;
        if ((st = column(t, c.col[R_WIDTH], c.scale[R_WIDTH], &w, err))) return st;
        memcpy(m->width, w, t->nrows * sizeof *w);
        xb_free(w);
    }
    if (c.col[R_VOLT] >= 0 || c.col[R_CURR] >= 0) {
        const int k = c.col[R_CURR] >= 0 ? R_CURR : R_VOLT;
        double *a;
        if ((st = column(t, c.col[k], c.scale[k], &a, err))) return st;
        for (size_t r = 0; r < t->nrows; r++) m->cur[r] = k == R_CURR ? fabs(a[r]) : fabs(a[r]) / o->r_p;
        xb_free(a);
    }
    for (size_t r = 0; r < t->nrows; r++)
        if (!(m->width[r] > 0))
            return xb_fail(err, XB_ERANGE, "%s:%d: pulse width %g s must be positive", t->name,
                           t->line[r], m->width[r]);
    return XB_OK;
}

/* ---- relaxation ----------------------------------------------------------------------- */

static xb_status read_relax(const xb_csv *t, const colmap *cm, int relax_layout,
                            xb_measurement *m, xb_err *err)
{
    colmap c = *cm;
    if (relax_layout) {
        if (t->ncols != 7)
            return xb_fail(err, XB_EINVAL, "%s:%d: %zu columns; the relaxation layout has 7 "
                           "(addr, time, r, g, gi, range, timept)", t->name, t->line[0], t->ncols);
        c.col[R_TIME] = 1; c.col[R_COND] = 3; c.col[R_G0] = 4; c.col[R_TNOM] = 6;
    }
    if (c.col[R_TIME] < 0 || c.col[R_COND] < 0 || c.col[R_G0] < 0)
        return xb_fail(err, XB_EINVAL, "%s: relaxation data need --columns time=..,"
                       "conductance=..,g0=.. (tnom optional)", t->name);
    if (t->nrows < 3)
        return xb_fail(err, XB_EINVAL, "%s: %zu data rows; relaxation needs at least 3", t->name,
                       t->nrows);
    xb_status st;
    m->n = t->nrows;
    if ((st = column(t, c.col[R_TIME], c.scale[R_TIME], &m->t, err)) ||
        (st = column(t, c.col[R_COND], c.scale[R_COND], &m->g, err)) ||
        (st = column(t, c.col[R_G0], c.scale[R_G0], &m->g0, err)))
        return st;
    if (c.col[R_TNOM] >= 0) { if ((st = column(t, c.col[R_TNOM], c.scale[R_TNOM], &m->tnom, err))) return st; }
    else {
        m->tnom = xb_malloc(m->n * sizeof *m->tnom);
        if (!m->tnom) return xb_fail(err, XB_ENOMEM, "%s: out of memory", t->name);
        memcpy(m->tnom, m->t, m->n * sizeof *m->t);
    }
    for (size_t r = 0; r < m->n; r++)
        if (!(m->t[r] >= 0) || !(m->tnom[r] >= 0))
            return xb_fail(err, XB_ERANGE, "%s:%d:%d: time %g s is negative", t->name, t->line[r],
                           c.col[R_TIME] + 1, m->t[r]);
    return XB_OK;
}

/* ---- bake: before/after pairs per cell and temperature -------------------------------- */

static int bake_cmp(const void *a, const void *b)   /* by temp, addr, time (qsort: serial use) */
{
    const double *x = a, *y = b;
    for (int k = 0; k < 3; k++) if (x[k] != y[k]) return x[k] < y[k] ? -1 : 1;
    return 0;
}

static xb_status read_bake(const xb_csv *t, xb_measurement *m, xb_err *err)
{
    if (t->ncols != 5)
        return xb_fail(err, XB_EINVAL, "%s:%d: %zu columns; the bake layout has 5 (addr, time, r, "
                       "g, temp)", t->name, t->line[0], t->ncols);
    double *row = xb_malloc(t->nrows * 5 * sizeof *row);       /* temp, addr, time, g, line */
    if (!row) return xb_fail(err, XB_ENOMEM, "%s: out of memory", t->name);
    xb_status st = XB_OK;
    for (size_t r = 0; r < t->nrows && !st; r++) {
        double v[5];
        for (size_t c = 0; c < 5 && !st; c++) st = cell_num(t, r, c, &v[c], err);
        if (!st) st = check_positive(t->name, t->line[r], 4, "g", v[3], err);
        if (!st && !(v[1] >= 0)) st = xb_fail(err, XB_ERANGE, "%s:%d:2: time %g s is negative", t->name, t->line[r], v[1]);
        double *o = row + 5 * r;
        o[0] = v[4]; o[1] = v[0]; o[2] = v[1]; o[3] = v[3]; o[4] = t->line[r];
    }
    if (!st) qsort(row, t->nrows, 5 * sizeof *row, bake_cmp);
    size_t n = 0;
    for (size_t r = 0; !st && r + 1 < t->nrows; r++)
        if (row[5 * r] == row[5 * r + 5] && row[5 * r + 1] == row[5 * r + 6]) n++;
    if (!st && n < 3)
        st = xb_fail(err, XB_EINVAL, "%s: %zu before/after pairs (same addr and temperature); a bake "
                     "fit needs at least 3", t->name, n);
    if (!st) {
        m->n = n;
        m->t = xb_malloc(n * sizeof(double)); m->g = xb_malloc(n * sizeof(double));
        m->g0 = xb_malloc(n * sizeof(double)); m->tnom = xb_malloc(n * sizeof(double));
        m->temp = xb_malloc(n * sizeof(double));
        if (!m->t || !m->g || !m->g0 || !m->tnom || !m->temp) st = xb_fail(err, XB_ENOMEM, "out of memory");
    }
    for (size_t r = 0, k = 0; !st && r + 1 < t->nrows; r++) {
        const double *a = row + 5 * r, *b = a + 5;
        if (a[0] != b[0] || a[1] != b[1]) continue;
        m->t[k] = m->tnom[k] = b[2] - a[2];
        m->g[k] = b[3]; m->g0[k] = a[3]; m->temp[k] = a[0] + 273.15;
        k++;
    }
    xb_free(row);
    return st;
}

/* ---- lut: CrossSim dG table -> mean and sd of the step per G bin ----------------------- */

static xb_status read_lut(const char *text, size_t len, const char *name, xb_measurement *m,
                          xb_err *err)
{
    const char *nl = memchr(text, '\n', len);         /* line 1 is a description */
    if (!nl) return xb_fail(err, XB_EINVAL, "%s:1: expected the description line of a dG table", name);
    xb_csv_opts co = XB_CSV_OPTS_DEFAULT;
    co.delim = ','; co.header = 0; co.comment = 0;
    xb_csv *t = NULL;
    xb_status st = xb_csv_parse(nl + 1, len - (size_t)(nl + 1 - text), name, &co, &t, err);
    if (st) return st;
    /* The parser counts lines from line 2 of the file. */
    for (size_t r = 0; r < t->nrows; r++) t->line[r] += 1;
    if (t->nrows < 4 || t->ncols < 2) {
        st = xb_fail(err, XB_EINVAL, "%s: a dG table needs a G-bin line, a CDF line and at least "
                     "2 quantile rows (got %zu lines of %zu fields)", name, t->nrows, t->ncols);
        goto done;
    }
    const size_t nb = t->ncols, nq = t->nrows - 2;
    m->n = nb;
    m->g = xb_calloc(nb, sizeof *m->g); m->dg = xb_calloc(nb, sizeof *m->dg);
    m->sd = xb_calloc(nb, sizeof *m->sd); m->dir = xb_calloc(nb, sizeof *m->dir);
    double *cdf = xb_malloc(nq * sizeof *cdf);
    if (!m->g || !m->dg || !m->sd || !m->dir || !cdf) {
        xb_free(cdf);
        st = xb_fail(err, XB_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t q = 0; q < nq && !st; q++) st = cell_num(t, 1, q < t->ncols ? q : 0, &cdf[q], err);
    if (!st && nq != t->ncols)
        st = xb_fail(err, XB_EINVAL, "%s:%d: %zu CDF points but %zu quantile rows", name,
                     t->line[1], t->ncols, nq);
    double total = 0;
    /* mean = integral of the quantile function over u (trapezoids in the CDF points) */
    for (size_t j = 0; j < nb && !st; j++) {
        if ((st = cell_num(t, 0, j, &m->g[j], err))) break;
        double s1 = 0, s2 = 0, prevq = 0, prevu = 0;
        for (size_t q = 0; q < nq; q++) {
            double v;
            if ((st = cell_num(t, q + 2, j, &v, err))) break;
            if (q > 0) {
                const double du = cdf[q] - prevu;
                s1 += 0.5 * (v + prevq) * du;
                s2 += 0.5 * (v * v + prevq * prevq) * du;
            }
            prevq = v; prevu = cdf[q];
        }
        const double span = cdf[nq - 1] - cdf[0];
        if (!st && !(span > 0)) st = xb_fail(err, XB_EINVAL, "%s:%d: CDF points do not increase",
                                             name, t->line[1]);
        if (st) break;
        m->dg[j] = s1 / span;
        m->sd[j] = sqrt(fmax(s2 / span - m->dg[j] * m->dg[j], 0));
        total += m->dg[j];
    }
    for (size_t j = 0; j < nb && !st; j++) m->dir[j] = total >= 0 ? 1 : -1;
    xb_free(cdf);
done:
    xb_csv_free(t);
    return st;
}

/* ---- entry points ------------------------------------------------------------------------ */

/* ---- pulses: the tidy CSV of `xbemu devices pulse` ----------------------------------
 * device,pulse,polarity,conductance_S[,energy_J], rows in any device order (the tool
 * interleaves devices). Per device, in pulse order: a ramp is a run of pulses of one
 * polarity, starting at the read before its first pulse; polarity 0 rows (update
 * calls with no pulse) end a ramp. Ramps record their device (1-based). */

typedef struct prow { double dev, pulse, pol, g; int line; } prow;

static int prow_cmp(const void *a, const void *b)
{
    const prow *x = a, *y = b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->pulse != y->pulse) return x->pulse < y->pulse ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static xb_status read_pulses(const xb_csv *t, xb_measurement *m, xb_err *err)
{
    static const char *const need[4] = { "device", "pulse", "polarity", "conductance_S" };
    int col[4];
    for (int k = 0; k < 4; k++)
        if ((col[k] = xb_csv_col(t, need[k])) < 0)
            return xb_fail(err, XB_EINVAL, "%s:1: the pulses layout needs the columns device, "
                           "pulse, polarity, conductance_S (as `xbemu devices pulse` writes); "
                           "'%s' is missing", t->name, need[k]);
    if (t->nrows < 2)
        return xb_fail(err, XB_EINVAL, "%s: %zu data rows; a ramp needs at least 2", t->name, t->nrows);
    prow *r = xb_malloc(t->nrows * sizeof *r);
    double *g = xb_malloc(t->nrows * sizeof *g), *pl = xb_malloc(t->nrows * sizeof *pl);
    xb_status st = XB_OK;
    if (!r || !g || !pl) { st = xb_fail(err, XB_ENOMEM, "%s: out of memory", t->name); goto done; }
    for (size_t i = 0; i < t->nrows && !st; i++) {
        double v[4];
        for (int k = 0; k < 4 && !st; k++) st = cell_num(t, i, (size_t)col[k], &v[k], err);
        if (st) break;
        if (v[0] < 0 || v[0] != floor(v[0]) || v[0] > 1e9 || v[1] < 0 || v[1] != floor(v[1]))
            st = xb_fail(err, XB_EINVAL, "%s:%d: device and pulse must be integers >= 0 (got %g, %g)",
                         t->name, t->line[i], v[0], v[1]);
        else if (v[2] != 0 && v[2] != 1 && v[2] != -1)
            st = xb_fail(err, XB_EINVAL, "%s:%d:%d: polarity %g: expected -1, 0 or 1", t->name,
                         t->line[i], col[2] + 1, v[2]);
        else st = check_positive(t->name, t->line[i], (size_t)col[3] + 1, "conductance", v[3], err);
        r[i] = (prow){ v[0], v[1], v[2], v[3], t->line[i] };
    }
    if (st) goto done;
    qsort(r, t->nrows, sizeof *r, prow_cmp);
    for (size_t i = 0; i < t->nrows && !st; ) {
        size_t e = i;
        while (e < t->nrows && r[e].dev == r[i].dev) e++;
        for (size_t a = i + 1; a < e; a++)
            if (r[a].pulse == r[a - 1].pulse)
                { st = xb_fail(err, XB_EINVAL, "%s:%d: device %.0f has pulse %.0f twice (also line %d)",
                               t->name, r[a].line, r[a].dev, r[a].pulse, r[a - 1].line); break; }
        /* runs of equal nonzero polarity; row a-1 is the read before pulse row a */
        size_t a = i + 1;
        while (a < e && !st) {
            if (r[a].pol == 0) { a++; continue; }
            size_t b = a;
            while (b < e && r[b].pol == r[a].pol) b++;
            size_t n = 0;
            for (size_t q = a - 1; q < b; q++) { g[n] = r[q].g; pl[n] = r[q].pulse; n++; }
            st = add_ramp(m, (int)r[a].pol, g, pl, n, r[a - 1].line, err);
            if (!st) m->ramp[m->nramps - 1].device = (int)r[i].dev + 1;
            a = b;
        }
        i = e;
    }
    if (!st && m->nramps == 0)
        st = xb_fail(err, XB_EINVAL, "%s: no pulses (every polarity is 0)", t->name);
done:
    xb_free(r); xb_free(g); xb_free(pl);
    return st;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

xb_status xb_meas_parse(const char *text, size_t len, const char *name, xb_meas_kind kind,
                        const xb_meas_opts *o, xb_measurement **out, xb_err *err)
{
    const xb_meas_opts opts = o ? *o : XB_MEAS_OPTS_DEFAULT;
    *out = NULL;
    const char *fmt = opts.format;
    if (!fmt || !*fmt) {                /* guess from the file name, else generic */
        const char *b = base_name(name);
        fmt = strstr(b, "dG_") ? "lut" : strstr(b, "relaxdata") ? "relax" : strstr(b, "bake") ? "bake"
            : (strstr(b, "fig1") && strstr(b, "LR")) ? "mtj"
            : (len > 3 && !strncmp(text, "rmp", 3)) ? "taox"
            : (len > 22 && !strncmp(text, "device,pulse,polarity,", 22)) ? "pulses" : "csv";
    }
    const int is_pulses = !strcmp(fmt, "pulses");
    const int is_lut = !strcmp(fmt, "lut"), is_taox = !strcmp(fmt, "taox") || is_pulses,
              is_mtj = !strcmp(fmt, "mtj"), is_bake = !strcmp(fmt, "bake"),
              is_relax = !strcmp(fmt, "relax") || is_bake;
    if (!is_lut && !is_taox && !is_mtj && !is_relax && strcmp(fmt, "csv"))
        return xb_fail(err, XB_EINVAL, "--format '%s': one of csv, taox, lut, mtj, relax, bake, pulses", fmt);
    const xb_meas_kind want = is_lut ? XB_MEAS_STEPS : is_taox ? XB_MEAS_RAMPS
                            : is_mtj ? XB_MEAS_PSW : is_relax ? XB_MEAS_RELAX : kind;
    const int compatible = want == kind || (kind == XB_MEAS_RAMPS && want == XB_MEAS_STEPS);
    if (!compatible)
        return xb_fail(err, XB_EINVAL, "%s: format '%s' holds %s, but this model needs %s", name,
                       fmt, xb_meas_kind_name(want), xb_meas_kind_name(kind));
    if ((is_taox || kind == XB_MEAS_RAMPS) && !(opts.v_read > 0))
        return xb_fail(err, XB_ERANGE, "--v-read = %g V must be positive", opts.v_read);
    if (kind == XB_MEAS_PSW && !(opts.r_p > 0 && opts.t_pulse > 0))
        return xb_fail(err, XB_ERANGE, "--r-p and --t-pulse must be positive");
    xb_measurement *m = meas_new(want, name);
    if (!m) return xb_fail(err, XB_ENOMEM, "%s: out of memory", name);
    xb_status st = XB_OK;
    xb_csv *t = NULL;
    if (is_lut) {
        st = read_lut(text, len, name, m, err);
    } else {
        xb_csv_opts co = XB_CSV_OPTS_DEFAULT;
        if (is_taox) { co.delim = ','; co.header = 1; co.ragged = !is_pulses; }
        if (is_mtj || is_relax) { co.delim = '\t'; co.header = 0; }
        colmap cm;
        if (!(st = xb_csv_parse(text, len, name, &co, &t, err)) &&
            !(st = parse_units(opts.units, &cm, err)) &&
            !(st = parse_columns(opts.columns, t, &cm, err))) {
            if (is_pulses) st = read_pulses(t, m, err);
            else if (is_taox) st = read_taox(t, &opts, m, err);
            else if (is_bake) st = read_bake(t, m, err);
            else if (want == XB_MEAS_RAMPS) st = read_csv_ramps(t, &cm, &opts, m, err);
            else if (want == XB_MEAS_PSW) st = read_psw(t, &cm, &opts, is_mtj, m, err);
            else st = read_relax(t, &cm, is_relax, m, err);
        }
    }
    xb_csv_free(t);
    if (st) { xb_meas_free(m); return st; }
    *out = m;
    return XB_OK;
}

/* All of standard input (`--data -`), up to MAX_BYTES. */
static xb_status read_stdin(uint8_t **out, size_t *len, xb_err *err)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = xb_malloc(cap);
    if (!b) return xb_fail(err, XB_ENOMEM, "stdin: out of memory");
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_BYTES) { xb_free(b); return xb_fail(err, XB_EINVAL, "stdin: more than %d bytes", MAX_BYTES); }
            uint8_t *nb = xb_realloc(b, cap * 2);
            if (!nb) { xb_free(b); return xb_fail(err, XB_ENOMEM, "stdin: out of memory"); }
            b = nb; cap *= 2;
        }
        const size_t got = fread(b + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) break;
    }
    if (ferror(stdin)) { xb_free(b); return xb_fail(err, XB_EIO, "stdin: read error"); }
    *out = b; *len = n;
    return XB_OK;
}

xb_status xb_meas_read(const char *path, xb_meas_kind kind, const xb_meas_opts *o,
                       xb_measurement **out, xb_err *err)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    xb_status st = strcmp(path, "-") ? xb_read_file_gz(path, MAX_BYTES, &buf, &len, err)
                                     : read_stdin(&buf, &len, err);
    if (st) return st;
    if (len == 0) { xb_free(buf); return xb_fail(err, XB_EINVAL, "%s: empty file", path); }
    st = xb_meas_parse((const char *)buf, len, strcmp(path, "-") ? path : "stdin", kind, o, out, err);
    xb_free(buf);
    return st;
}

static xb_status cat(double **a, size_t na, const double *b, size_t nb, xb_err *err)
{
    if (!*a && !b) return XB_OK;
    double *n = xb_realloc(*a, (na + nb) * sizeof *n);
    if (!n) return xb_fail(err, XB_ENOMEM, "out of memory");
    if (nb) memcpy(n + na, b, nb * sizeof *n);
    *a = n;
    return XB_OK;
}

xb_status xb_meas_append(xb_measurement *m, xb_measurement *more, xb_err *err)
{
    xb_status st = XB_OK;
    if (m->kind != more->kind) {
        st = xb_fail(err, XB_EINVAL, "%s holds %s but %s holds %s: cannot fit them together",
                     m->name, xb_meas_kind_name(m->kind), more->name, xb_meas_kind_name(more->kind));
        goto done;
    }
    if (more->nramps) {
        xb_ramp *r = xb_realloc(m->ramp, (m->nramps + more->nramps) * sizeof *r);
        if (!r) { st = xb_fail(err, XB_ENOMEM, "out of memory"); goto done; }
        m->ramp = r;
        memcpy(m->ramp + m->nramps, more->ramp, more->nramps * sizeof *r);
        m->nramps += more->nramps;
        more->nramps = 0;
    }
    if (more->n) {
        if (!m->temp != !more->temp) {
            st = xb_fail(err, XB_EINVAL, "%s and %s: cannot fit bake and relaxation data together",
                         m->name, more->name);
            goto done;
        }
        double **dst[] = { &m->g, &m->dg, &m->sd, &m->width, &m->cur, &m->p, &m->t, &m->g0, &m->tnom, &m->temp };
        double *src[] = { more->g, more->dg, more->sd, more->width, more->cur, more->p, more->t,
                          more->g0, more->tnom, more->temp };
        for (size_t i = 0; i < sizeof dst / sizeof *dst && !st; i++)
            st = cat(dst[i], m->n, src[i], src[i] ? more->n : 0, err);
        if (!st && more->dir) {
            int *d = xb_realloc(m->dir, (m->n + more->n) * sizeof *d);
            if (!d) st = xb_fail(err, XB_ENOMEM, "out of memory");
            else { memcpy(d + m->n, more->dir, more->n * sizeof *d); m->dir = d; }
        }
        if (!st) m->n += more->n;
    }
    if (!st) {
        const size_t l = strlen(m->name);
        snprintf(m->name + l, sizeof m->name - l, " + %s", more->name);
    }
done:
    xb_meas_free(more);
    return st;
}
