/* plots/xb_figure.c: figures drawn with cairo (image surface, toy text API with
 * DejaVu Sans) and written with libpng. The header has the design note.
 *
 * Sizes are given at a 960x640 reference and multiplied by f->s, the ratio of the actual
 * size to it, so a larger figure is the same drawing at a higher resolution. Text at the
 * reference size is 20-24 px: about 8-9 pt when 960 px is printed as a 3.5-inch column. */
#include <cairo.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>
#include <float.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "core/xb_mem.h"
#include "plots/xb_figure.h"

#define FONT "DejaVu Sans"
#define XB_PI 3.14159265358979323846
enum { REF_W = 960, REF_H = 640, MAX_DIM = 8192 };
#define REF_DPI 150.0           /* 960 px = 6.4 in: text 10-12 pt, as matplotlib's defaults */

typedef enum { IT_SERIES, IT_BAND, IT_TEXT, IT_VLINE, IT_HBARS } item_kind;
typedef struct item {
    item_kind kind;
    char *label;
    size_t n;
    double *x, *y, *e, *lo;     /* series: x, y, yerr (or NULL); band: x, hi (y), lo */
    xb_style st;
    int ha, va;
    double dx, dy;              /* text: offset in pixels at the reference size */
    double bh;                  /* horizontal bars: from lo to x at height y, bh tall */
} item;

typedef struct axis {
    xb_scale scale;
    char *label;
    int fixed, custom;
    double lo, hi;
    xb_ticks ticks;
} axis;

struct xb_figure {
    int w, h;
    double s, ts;               /* size scale (w, h vs 960 x 640); extra text scale */
    char *title;
    axis ax[2];
    int flip_y;
    item *items;
    size_t nitems, cap;
    double *z;                  /* heatmap, rows x cols; NULL if none */
    size_t zr, zc;
    double zx0, zx1, zy0, zy1, zlo, zhi;
    char *zlabel;
    int zannot;
    xb_ticks zt;
    cairo_surface_t *surf;
    xb_map map[2];
    double box[4];
};

/* ---- pure parts: mapping, ticks, ranges, colours ---------------------------------- */

double xb_map_apply(const xb_map *m, double v)
{
    if (m->scale == XB_SCALE_LOG10) {
        if (!(v > 0)) return NAN;
        const double t = (log10(v) - log10(m->d0)) / (log10(m->d1) - log10(m->d0));
        return m->p0 + t * (m->p1 - m->p0);
    }
    return m->p0 + (v - m->d0) / (m->d1 - m->d0) * (m->p1 - m->p0);
}

static double nice_step(double span, int target)
{
    const double raw = span / (target > 1 ? target : 1);
    const double p = pow(10.0, floor(log10(raw)));
    const double f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* A number as a tick label: `dec` decimals, "-0" printed as "0". */
static void fmt_fixed(char *buf, double v, int dec)
{
    snprintf(buf, XB_TICK_LABEL, "%.*f", dec, v);
    if (!strcmp(buf, "-0") || (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1)))
        memmove(buf, buf + 1, strlen(buf));
}

void xb_ticks_linear(double lo, double hi, int target, xb_ticks *t)
{
    memset(t, 0, sizeof *t);
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi)) return;
    const double step = nice_step(hi - lo, target);
    const double big = fmax(fabs(lo), fabs(hi));
    const int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    const int sci = big >= 1e6 || big < 1e-3;      /* a common factor 10^exp10 */
    t->exp10 = sci ? (int)floor(log10(big)) : 0;
    const double scale = pow(10.0, -t->exp10), ms = step * scale;
    const int mdec = ms >= 1 ? 0 : (int)ceil(-log10(ms) - 1e-9);
    const double eps = step * 1e-9;
    for (double k = ceil((lo - eps) / step); t->n < XB_TICKS_MAX; k++) {
        const double v = k * step;
        if (v > hi + eps) break;
        t->v[t->n] = fabs(v) < eps ? 0.0 : v;
        fmt_fixed(t->label[t->n], sci ? t->v[t->n] * scale : t->v[t->n], sci ? mdec : dec);
        t->n++;
    }
}

void xb_ticks_log(double lo, double hi, xb_ticks *t)
{
    memset(t, 0, sizeof *t);
    if (!(lo > 0) || !(hi > lo) || !isfinite(hi)) return;
    const double eps = 1e-9;
    const int k0 = (int)ceil(log10(lo) - eps), k1 = (int)floor(log10(hi) + eps);
    if (k1 - k0 + 1 >= 2) {
        const int every = (k1 - k0) / 8 + 1;        /* at most ~9 labelled decades */
        for (int k = k0; k <= k1 && t->n < XB_TICKS_MAX; k++) {
            if ((k - k0) % every) { if (t->nminor < XB_TICKS_MAX) t->minor[t->nminor++] = pow(10, k); continue; }
            t->v[t->n] = pow(10, k);
            snprintf(t->label[t->n], XB_TICK_LABEL, "10^%d", k);
            t->n++;
        }
        const int few = k1 - k0 + 1 <= 2;     /* about one decade: label 2 and 5 times too */
        if (every == 1)
            for (int k = k0 - 1; k <= k1; k++)
                for (int m = 2; m <= 9 && t->nminor < XB_TICKS_MAX; m++) {
                    const double v = m * pow(10, k);
                    if (v < lo * (1 - eps) || v > hi * (1 + eps)) continue;
                    if (few && (m == 2 || m == 5) && t->n < XB_TICKS_MAX) {
                        t->v[t->n] = v;
                        snprintf(t->label[t->n], XB_TICK_LABEL, "%d\xc3\x97" "10^%d", m, k);   /* × */
                        t->n++;
                    } else t->minor[t->nminor++] = v;
                }
        for (size_t i = 1; i < t->n; i++)      /* into increasing order (insertion sort) */
            for (size_t j = i; j > 0 && t->v[j] < t->v[j - 1]; j--) {
                const double v = t->v[j];
                char l[XB_TICK_LABEL];
                memcpy(l, t->label[j], XB_TICK_LABEL);
                t->v[j] = t->v[j - 1]; memcpy(t->label[j], t->label[j - 1], XB_TICK_LABEL);
                t->v[j - 1] = v; memcpy(t->label[j - 1], l, XB_TICK_LABEL);
            }
        return;
    }
    static const int mant[] = { 1, 2, 5 };          /* less than two decades: 1-2-5 labels */
    for (int k = k0 - 1; k <= k1 + 1; k++)
        for (int m = 0; m < 3 && t->n < XB_TICKS_MAX; m++) {
            const double v = mant[m] * pow(10, k);
            if (v < lo * (1 - eps) || v > hi * (1 + eps)) continue;
            t->v[t->n] = v;
            snprintf(t->label[t->n], XB_TICK_LABEL, "%g", v);
            t->n++;
        }
}

void xb_range_nice(xb_scale s, double *lo, double *hi)
{
    if (s == XB_SCALE_LOG10) {
        double a = log10(*lo), b = log10(*hi);
        if (!(b > a)) { a -= 0.5; b += 0.5; }
        const double pad = 0.02 * (b - a);           /* keeps markers off the frame */
        *lo = pow(10, floor(a - pad));
        *hi = pow(10, ceil(b + pad));
        return;
    }
    double a = *lo, b = *hi;
    if (!(b > a)) {
        const double d = a != 0 ? 0.1 * fabs(a) : 1.0;
        a -= d; b += d;
    }
    const double pad = 0.05 * (b - a);              /* margins as matplotlib: no snapping */
    *lo = a - pad;
    *hi = b + pad;
}

/* Okabe & Ito, "Color Universal Design" (2008): blue, vermillion, bluish green, orange,
 * reddish purple, sky blue, black. Yellow is left out: it vanishes on white. */
static const unsigned char okabe_ito[XB_PALETTE_N][3] = {
    { 0, 114, 178 }, { 213, 94, 0 }, { 0, 158, 115 }, { 230, 159, 0 },
    { 204, 121, 167 }, { 86, 180, 233 }, { 0, 0, 0 },
};

xb_rgb xb_palette(size_t i)
{
    const unsigned char *c = okabe_ito[i % XB_PALETTE_N];
    return (xb_rgb){ c[0] / 255.0, c[1] / 255.0, c[2] / 255.0 };
}

xb_style xb_style_default(size_t k, size_t dash_k, int with_line)
{
    static const xb_marker marks[] = { XB_MARK_CIRCLE, XB_MARK_SQUARE, XB_MARK_TRIANGLE,
                                       XB_MARK_DIAMOND, XB_MARK_TRIANGLE_DOWN, XB_MARK_CROSS,
                                       XB_MARK_PLUS };
    static const xb_line dashes[] = { XB_LINE_SOLID, XB_LINE_DASH, XB_LINE_DOT, XB_LINE_DASHDOT };
    return (xb_style){ .color = xb_palette(k), .marker = marks[k % 7],
                       .line = with_line ? dashes[dash_k % 4] : XB_LINE_NONE };
}

/* Viridis (van der Walt & Smith, matplotlib 2.0) sampled at 10 even steps; linear
 * interpolation between them keeps lightness monotone, which is what greyscale needs. */
static const unsigned char viridis10[10][3] = {
    { 0x44, 0x01, 0x54 }, { 0x48, 0x28, 0x78 }, { 0x3e, 0x4a, 0x89 }, { 0x31, 0x68, 0x8e },
    { 0x26, 0x82, 0x8e }, { 0x1f, 0x9e, 0x89 }, { 0x35, 0xb7, 0x79 }, { 0x6d, 0xcd, 0x59 },
    { 0xb4, 0xde, 0x2c }, { 0xfd, 0xe7, 0x25 },
};

xb_rgb xb_colormap(double t)
{
    t = isnan(t) ? 0 : fmin(fmax(t, 0.0), 1.0) * 9;
    const int i = t >= 9 ? 8 : (int)t;
    const double u = t - i;
    const unsigned char *a = viridis10[i], *b = viridis10[i + 1];
    return (xb_rgb){ ((1 - u) * a[0] + u * b[0]) / 255, ((1 - u) * a[1] + u * b[1]) / 255,
                     ((1 - u) * a[2] + u * b[2]) / 255 };
}

/* ---- building a figure ------------------------------------------------------------ */

static void clear_render(xb_figure *f)
{
    if (f->surf) cairo_surface_destroy(f->surf);
    f->surf = NULL;
}

static void free_item(item *it)
{
    xb_free(it->label); xb_free(it->x); xb_free(it->y); xb_free(it->e); xb_free(it->lo);
}

void xb_figure_free(xb_figure *f)
{
    if (!f) return;
    clear_render(f);
    for (size_t i = 0; i < f->nitems; i++) free_item(&f->items[i]);
    xb_free(f->items); xb_free(f->title); xb_free(f->ax[0].label); xb_free(f->ax[1].label);
    xb_free(f->z); xb_free(f->zlabel); xb_free(f);
}

xb_status xb_figure_alloc(xb_figure **out, int width, int height, xb_err *err)
{
    *out = NULL;
    if (width < 200 || height < 150 || width > MAX_DIM || height > MAX_DIM)
        return xb_fail(err, XB_ERANGE, "figure size %dx%d px is outside [200, %d] x [150, %d] px",
                       width, height, MAX_DIM, MAX_DIM);
    xb_figure *f = xb_calloc(1, sizeof *f);
    if (!f) return xb_fail(err, XB_ENOMEM, "figure: out of memory");
    f->w = width; f->h = height;
    f->s = fmin((double)width / REF_W, (double)height / REF_H);
    f->ts = 1.0;
    *out = f;
    return XB_OK;
}

static xb_status set_text(char **dst, const char *s, xb_err *err)
{
    char *c = NULL;
    if (s && *s && !(c = xb_strdup(s))) return xb_fail(err, XB_ENOMEM, "figure text: out of memory");
    xb_free(*dst);
    *dst = c;
    return XB_OK;
}

xb_status xb_figure_title(xb_figure *f, const char *t, xb_err *err) { return set_text(&f->title, t, err); }

xb_status xb_figure_label(xb_figure *f, xb_axis_id a, const char *l, xb_err *err)
{
    return set_text(&f->ax[a].label, l, err);
}

static const char *axis_name(xb_axis_id a) { return a == XB_AXIS_X ? "x" : "y"; }

static xb_status check_log_values(const xb_figure *f, const char *what, const double *v, size_t n,
                                  xb_axis_id a, xb_err *err)
{
    if (f->ax[a].scale != XB_SCALE_LOG10 || !v) return XB_OK;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] > 0) && !isnan(v[i]))
            return xb_fail(err, XB_ERANGE, "%s: %s = %g at point %zu is not positive, but the %s axis "
                           "is logarithmic", what, axis_name(a), v[i], i + 1, axis_name(a));
    return XB_OK;
}

xb_status xb_figure_scale(xb_figure *f, xb_axis_id a, xb_scale s, xb_err *err)
{
    f->ax[a].scale = s;
    for (size_t i = 0; i < f->nitems; i++) {           /* items added before the switch */
        const item *it = &f->items[i];
        const char *what = it->label ? it->label : "series";
        xb_status st = check_log_values(f, what, a == XB_AXIS_X ? it->x : it->y, it->n, a, err);
        if (!st && a == XB_AXIS_Y && it->kind == IT_BAND) st = check_log_values(f, what, it->lo, it->n, a, err);
        if (st) { f->ax[a].scale = XB_SCALE_LINEAR; return st; }
    }
    if (s == XB_SCALE_LOG10 && f->ax[a].fixed && !(f->ax[a].lo > 0)) {
        f->ax[a].scale = XB_SCALE_LINEAR;
        return xb_fail(err, XB_ERANGE, "%s range starts at %g, but a log axis needs positive values",
                       axis_name(a), f->ax[a].lo);
    }
    return XB_OK;
}

xb_status xb_figure_range(xb_figure *f, xb_axis_id a, double lo, double hi, xb_err *err)
{
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi))
        return xb_fail(err, XB_ERANGE, "%s range [%g, %g] is empty", axis_name(a), lo, hi);
    if (f->ax[a].scale == XB_SCALE_LOG10 && !(lo > 0))
        return xb_fail(err, XB_ERANGE, "%s range [%g, %g]: a log axis needs positive values",
                       axis_name(a), lo, hi);
    f->ax[a].fixed = 1; f->ax[a].lo = lo; f->ax[a].hi = hi;
    return XB_OK;
}

xb_status xb_figure_ticks(xb_figure *f, xb_axis_id a, const double *v, const char *const *labels,
                          size_t n, xb_err *err)
{
    if (n > XB_TICKS_MAX)
        return xb_fail(err, XB_ERANGE, "%zu %s ticks: at most %d", n, axis_name(a), XB_TICKS_MAX);
    xb_ticks *t = &f->ax[a].ticks;
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        t->v[i] = v[i];
        snprintf(t->label[i], XB_TICK_LABEL, "%s", labels[i]);
    }
    t->n = n;
    f->ax[a].custom = 1;
    return XB_OK;
}

void xb_figure_flip_y(xb_figure *f) { f->flip_y = 1; }

xb_status xb_figure_text_scale(xb_figure *f, double k, xb_err *err)
{
    if (!(k >= 0.5 && k <= 3))
        return xb_fail(err, XB_ERANGE, "text scale %g is outside [0.5, 3]", k);
    f->ts = k;
    clear_render(f);
    return XB_OK;
}

static xb_status push_item(xb_figure *f, item *it, xb_err *err)
{
    if (f->nitems == f->cap) {
        const size_t cap = f->cap ? 2 * f->cap : 8;
        item *p = xb_realloc(f->items, cap * sizeof *p);
        if (!p) { free_item(it); return xb_fail(err, XB_ENOMEM, "figure: out of memory"); }
        f->items = p; f->cap = cap;
    }
    f->items[f->nitems++] = *it;
    clear_render(f);
    return XB_OK;
}

static double *dup_array(const double *v, size_t n, int *fail)
{
    if (!v || !n) return NULL;
    double *c = xb_malloc(n * sizeof *c);
    if (!c) { *fail = 1; return NULL; }
    memcpy(c, v, n * sizeof *c);
    return c;
}

static xb_status add_xy(xb_figure *f, item_kind kind, const char *label, const double *x,
                        const double *y, const double *e, const double *lo, size_t n,
                        const xb_style *s, xb_err *err)
{
    const char *what = label && *label ? label : "series";
    xb_status st = check_log_values(f, what, x, n, XB_AXIS_X, err);
    if (!st) st = check_log_values(f, what, y, n, XB_AXIS_Y, err);
    if (!st) st = check_log_values(f, what, lo, n, XB_AXIS_Y, err);
    if (!st && e && f->ax[XB_AXIS_Y].scale == XB_SCALE_LOG10)   /* error bars must stay > 0 */
        for (size_t i = 0; i < n && !st; i++)
            if (!(y[i] - e[i] > 0) && e[i] > 0 && !isnan(y[i]))
                st = xb_fail(err, XB_ERANGE, "%s: error bar %g - %g at point %zu reaches below 0 on "
                             "the logarithmic y axis", what, y[i], e[i], i + 1);
    if (st) return st;
    item it = { .kind = kind, .n = n, .st = *s };
    int fail = 0;
    if (label && *label && !(it.label = xb_strdup(label))) fail = 1;
    it.x = dup_array(x, n, &fail);
    it.y = dup_array(y, n, &fail);
    it.e = dup_array(e, n, &fail);
    it.lo = dup_array(lo, n, &fail);
    if (fail) { free_item(&it); return xb_fail(err, XB_ENOMEM, "figure: out of memory"); }
    return push_item(f, &it, err);
}

xb_status xb_figure_series(xb_figure *f, const char *label, const double *x, const double *y,
                           const double *yerr, size_t n, const xb_style *s, size_t *idx,
                           xb_err *err)
{
    const xb_status st = add_xy(f, IT_SERIES, label, x, y, yerr, NULL, n, s, err);
    if (!st && idx) *idx = f->nitems - 1;
    return st;
}

xb_status xb_figure_band(xb_figure *f, const char *label, const double *x, const double *lo,
                         const double *hi, size_t n, const xb_style *s, xb_err *err)
{
    return add_xy(f, IT_BAND, label, x, hi, NULL, lo, n, s, err);
}

xb_status xb_figure_hbars(xb_figure *f, const char *label, const double *y, const double *x0,
                          const double *x1, size_t n, double height, const xb_style *s, xb_err *err)
{
    const char *what = label && *label ? label : "bars";
    xb_status st = check_log_values(f, what, x0, n, XB_AXIS_X, err);
    if (!st) st = check_log_values(f, what, x1, n, XB_AXIS_X, err);
    if (st) return st;
    if (!(height > 0)) return xb_fail(err, XB_ERANGE, "%s: bar height %g is not positive", what, height);
    item it = { .kind = IT_HBARS, .n = n, .st = *s, .bh = height };
    int fail = 0;
    if (label && *label && !(it.label = xb_strdup(label))) fail = 1;
    it.x = dup_array(x1, n, &fail);
    it.y = dup_array(y, n, &fail);
    it.lo = dup_array(x0, n, &fail);
    if (fail) { free_item(&it); return xb_fail(err, XB_ENOMEM, "figure: out of memory"); }
    return push_item(f, &it, err);
}

xb_status xb_figure_text(xb_figure *f, double x, double y, double dx, double dy, const char *text,
                         int ha, int va, xb_err *err)
{
    const xb_style s = { .color = { 0, 0, 0 } };
    xb_status st = add_xy(f, IT_TEXT, text, &x, &y, NULL, NULL, 1, &s, err);
    if (!st) {
        item *it = &f->items[f->nitems - 1];
        it->ha = ha; it->va = va; it->dx = dx; it->dy = dy;
    }
    return st;
}

xb_status xb_figure_vline(xb_figure *f, double x, const char *label, xb_err *err)
{
    const xb_style s = { .color = { 0.45, 0.45, 0.45 }, .line = XB_LINE_DOT, .no_legend = 1 };
    const double y = NAN;
    return add_xy(f, IT_VLINE, label, &x, &y, NULL, NULL, 1, &s, err);
}

xb_status xb_figure_heatmap(xb_figure *f, const double *z, size_t rows, size_t cols, double x0,
                            double x1, double y0, double y1, const char *zlabel, int annotate,
                            xb_err *err)
{
    if (!rows || !cols || rows > MAX_DIM || cols > MAX_DIM)
        return xb_fail(err, XB_ERANGE, "heatmap %zux%zu: rows and columns must be in [1, %d]",
                       rows, cols, MAX_DIM);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < rows * cols; i++)
        if (isfinite(z[i])) { lo = fmin(lo, z[i]); hi = fmax(hi, z[i]); }
    if (!(hi >= lo)) return xb_fail(err, XB_ERANGE, "heatmap %zux%zu has no finite value", rows, cols);
    int fail = 0;
    double *c = dup_array(z, rows * cols, &fail);
    if (fail) return xb_fail(err, XB_ENOMEM, "heatmap %zux%zu: out of memory", rows, cols);
    const xb_status st = set_text(&f->zlabel, zlabel, err);
    if (st) { xb_free(c); return st; }
    xb_free(f->z);
    f->z = c; f->zr = rows; f->zc = cols; f->zannot = annotate;
    f->zx0 = x0; f->zx1 = x1; f->zy0 = y0; f->zy1 = y1;
    if (hi == lo) { lo -= 0.5; hi += 0.5; }
    f->zlo = lo; f->zhi = hi;
    clear_render(f);
    return XB_OK;
}

/* ---- text ------------------------------------------------------------------------- */

/* Tick labels use a real minus sign; "a^b" draws b raised and smaller. */
static void typeset(const char *s, char *base, char *sup, size_t len)
{
    const char *caret = strchr(s, '^');
    const size_t nb = caret ? (size_t)(caret - s) : strlen(s);
    snprintf(base, len, "%.*s", (int)nb, s);
    snprintf(sup, len, "%s", caret ? caret + 1 : "");
}

static void minus_sign(const char *in, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 4 < len; p++) {
        if (*p == '-') { memcpy(out + o, "\xe2\x88\x92", 3); o += 3; }   /* U+2212 */
        else out[o++] = *p;
    }
    out[o] = '\0';
}

typedef struct tbox { double w, asc, desc; } tbox;

static tbox text_box(cairo_t *cr, const char *s, double size, int numeric)
{
    char base[128], sup[128], tmp[128];
    typeset(s, base, sup, sizeof base);
    cairo_font_extents_t fe;
    cairo_text_extents_t te;
    cairo_set_font_size(cr, size);
    cairo_font_extents(cr, &fe);
    if (numeric) { minus_sign(base, tmp, sizeof tmp); snprintf(base, sizeof base, "%s", tmp); }
    cairo_text_extents(cr, base, &te);
    tbox b = { te.x_advance, fe.ascent * 0.8, fe.descent * 0.6 };
    if (sup[0]) {
        minus_sign(sup, tmp, sizeof tmp);
        cairo_set_font_size(cr, 0.7 * size);
        cairo_text_extents(cr, tmp, &te);
        b.w += te.x_advance + 0.05 * size;
        b.asc += 0.4 * size;
        cairo_set_font_size(cr, size);
    }
    return b;
}

/* Draw s with its box anchored at (x, y): ha -1/0/1 = left/centre/right, va -1/0/1 =
 * top/middle/bottom of the box. */
static void draw_text(cairo_t *cr, const char *s, double x, double y, int ha, int va,
                      double size, int numeric)
{
    char base[128], sup[128], tmp[128];
    const tbox b = text_box(cr, s, size, numeric);
    typeset(s, base, sup, sizeof base);
    if (numeric) { minus_sign(base, tmp, sizeof tmp); snprintf(base, sizeof base, "%s", tmp); }
    const double x0 = x - (ha + 1) * 0.5 * b.w;
    const double yb = va < 0 ? y + b.asc : va > 0 ? y - b.desc : y + 0.5 * (b.asc - b.desc);
    cairo_text_extents_t te;
    cairo_set_font_size(cr, size);
    cairo_move_to(cr, x0, yb);
    cairo_show_text(cr, base);
    if (sup[0]) {
        cairo_text_extents(cr, base, &te);
        minus_sign(sup, tmp, sizeof tmp);
        cairo_set_font_size(cr, 0.7 * size);
        cairo_move_to(cr, x0 + te.x_advance + 0.05 * size, yb - 0.4 * size);
        cairo_show_text(cr, tmp);
        cairo_set_font_size(cr, size);
    }
}

/* ---- rendering -------------------------------------------------------------------- */

static void set_rgb(cairo_t *cr, xb_rgb c, double alpha)
{
    cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha > 0 ? alpha : 1.0);
}

static void set_dash(cairo_t *cr, xb_line l, double lw)
{
    const double dash[] = { 4 * lw, 2.5 * lw }, dot[] = { 0.01, 2 * lw },
                 dashdot[] = { 4 * lw, 2 * lw, 0.01, 2 * lw };
    cairo_set_line_cap(cr, l == XB_LINE_DOT || l == XB_LINE_DASHDOT ? CAIRO_LINE_CAP_ROUND
                                                                   : CAIRO_LINE_CAP_BUTT);
    switch (l) {
    case XB_LINE_DASH: cairo_set_dash(cr, dash, 2, 0); break;
    case XB_LINE_DOT: cairo_set_dash(cr, dot, 2, 0); break;
    case XB_LINE_DASHDOT: cairo_set_dash(cr, dashdot, 4, 0); break;
    default: cairo_set_dash(cr, NULL, 0, 0);
    }
}

static double line_width(const xb_figure *f, const xb_style *s)
{
    return (s->line_width > 0 ? s->line_width : 2.5) * f->s;
}

static double marker_size(const xb_figure *f, const xb_style *s)
{
    return (s->marker_size > 0 ? s->marker_size : 13) * f->s;
}

static void draw_marker(cairo_t *cr, xb_marker m, double x, double y, double d, xb_rgb c,
                        double alpha, double s)
{
    const double r = 0.5 * d;
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_new_path(cr);
    switch (m) {
    case XB_MARK_NONE: return;
    case XB_MARK_CIRCLE: case XB_MARK_RING: cairo_arc(cr, x, y, r, 0, 2 * XB_PI); break;
    case XB_MARK_SQUARE: cairo_rectangle(cr, x - 0.85 * r, y - 0.85 * r, 1.7 * r, 1.7 * r); break;
    case XB_MARK_TRIANGLE:
        cairo_move_to(cr, x, y - 1.15 * r); cairo_line_to(cr, x + r, y + 0.6 * r);
        cairo_line_to(cr, x - r, y + 0.6 * r); cairo_close_path(cr); break;
    case XB_MARK_TRIANGLE_DOWN:
        cairo_move_to(cr, x, y + 1.15 * r); cairo_line_to(cr, x + r, y - 0.6 * r);
        cairo_line_to(cr, x - r, y - 0.6 * r); cairo_close_path(cr); break;
    case XB_MARK_DIAMOND:
        cairo_move_to(cr, x, y - 1.2 * r); cairo_line_to(cr, x + 0.9 * r, y);
        cairo_line_to(cr, x, y + 1.2 * r); cairo_line_to(cr, x - 0.9 * r, y); cairo_close_path(cr); break;
    case XB_MARK_CROSS:
        cairo_move_to(cr, x - r, y - r); cairo_line_to(cr, x + r, y + r);
        cairo_move_to(cr, x - r, y + r); cairo_line_to(cr, x + r, y - r); break;
    case XB_MARK_PLUS:
        cairo_move_to(cr, x - r, y); cairo_line_to(cr, x + r, y);
        cairo_move_to(cr, x, y - r); cairo_line_to(cr, x, y + r); break;
    }
    set_rgb(cr, c, alpha);
    if (m == XB_MARK_CROSS || m == XB_MARK_PLUS || m == XB_MARK_RING) {
        cairo_set_line_width(cr, (m == XB_MARK_RING ? 2.5 : 3.0) * s);
        cairo_stroke(cr);
        return;
    }
    cairo_fill_preserve(cr);             /* a thin white rim separates overlapping markers */
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_set_line_width(cr, 1.0 * s);
    cairo_stroke(cr);
}

/* Data range of one axis over every item (and the heatmap). */
static void data_range(const xb_figure *f, xb_axis_id a, double *lo, double *hi)
{
    *lo = INFINITY; *hi = -INFINITY;
    const int logax = f->ax[a].scale == XB_SCALE_LOG10;
    for (size_t i = 0; i < f->nitems; i++) {
        const item *it = &f->items[i];
        if (it->kind == IT_TEXT) continue;
        if (it->kind == IT_VLINE && a == XB_AXIS_Y) continue;
        for (size_t k = 0; k < it->n && it->kind == IT_HBARS; k++) {
            const double v[2] = { a == XB_AXIS_X ? it->x[k] : it->y[k] - 0.5 * it->bh,
                                  a == XB_AXIS_X ? it->lo[k] : it->y[k] + 0.5 * it->bh };
            for (int j = 0; j < 2; j++)
                if (isfinite(v[j]) && (!logax || v[j] > 0)) { *lo = fmin(*lo, v[j]); *hi = fmax(*hi, v[j]); }
        }
        if (it->kind == IT_HBARS) continue;
        for (size_t k = 0; k < it->n; k++) {
            double v[3] = { a == XB_AXIS_X ? it->x[k] : it->y[k], NAN, NAN };
            if (a == XB_AXIS_Y && it->e && isfinite(it->e[k])) {
                v[1] = it->y[k] - it->e[k];
                v[2] = it->y[k] + it->e[k];
            }
            if (a == XB_AXIS_Y && it->lo) v[1] = it->lo[k];
            for (int j = 0; j < 3; j++)
                if (isfinite(v[j]) && (!logax || v[j] > 0)) { *lo = fmin(*lo, v[j]); *hi = fmax(*hi, v[j]); }
        }
    }
    if (f->z) {
        const double p = a == XB_AXIS_X ? f->zx0 : f->zy0, q = a == XB_AXIS_X ? f->zx1 : f->zy1;
        *lo = fmin(*lo, fmin(p, q)); *hi = fmax(*hi, fmax(p, q));
    }
    if (!(*hi >= *lo)) { *lo = logax ? 1 : 0; *hi = logax ? 10 : 1; }
}

static void resolve_axes(xb_figure *f)
{
    for (int a = 0; a < 2; a++) {
        axis *ax = &f->ax[a];
        if (!ax->fixed) {
            data_range(f, (xb_axis_id)a, &ax->lo, &ax->hi);
            if (f->z) {                                  /* a heatmap fills the plot area */
                if (!(ax->hi > ax->lo)) ax->hi = ax->lo + 1;
            } else xb_range_nice(ax->scale, &ax->lo, &ax->hi);
        }
        if (!ax->custom) {
            if (ax->scale == XB_SCALE_LOG10) xb_ticks_log(ax->lo, ax->hi, &ax->ticks);
            else xb_ticks_linear(ax->lo, ax->hi, a == XB_AXIS_X ? 7 : 6, &ax->ticks);
        }
    }
    if (f->z) xb_ticks_linear(f->zlo, f->zhi, 6, &f->zt);
}

typedef struct layout {
    double fs_tick, fs_label, fs_title, fs_legend, ticklen, pad;
    double cb_w, cb_gap;
} layout;

static double max_label_width(cairo_t *cr, const xb_ticks *t, double fs, int numeric)
{
    double w = 0;
    for (size_t i = 0; i < t->n; i++) w = fmax(w, text_box(cr, t->label[i], fs, numeric).w);
    return w;
}

static int is_numeric_label(const char *s)
{
    return strspn(s, "0123456789.-+e^x\xc3\x97") == strlen(s);
}

static int ticks_numeric(const xb_ticks *t)
{
    for (size_t i = 0; i < t->n; i++) if (!is_numeric_label(t->label[i])) return 0;
    return 1;
}

static void compute_layout(xb_figure *f, cairo_t *cr, layout *L)
{
    const double s = f->s;
    const double k = s * f->ts;
    *L = (layout){ .fs_tick = 20 * k, .fs_label = 22 * k, .fs_title = 24 * k, .fs_legend = 19 * k,
                   .ticklen = 7 * s, .pad = 12 * s, .cb_w = 24 * s, .cb_gap = 18 * s };
    const xb_ticks *tx = &f->ax[0].ticks, *ty = &f->ax[1].ticks;
    const double hy = text_box(cr, "0^1", L->fs_tick, 1).asc + text_box(cr, "0", L->fs_tick, 1).desc;
    const double hl = text_box(cr, "Ag", L->fs_label, 0).asc + text_box(cr, "Ag", L->fs_label, 0).desc;
    double left = L->pad + L->ticklen + 0.5 * L->pad + max_label_width(cr, ty, L->fs_tick, ticks_numeric(ty));
    if (f->ax[1].label) left += hl + 0.6 * L->pad;
    double bottom = L->pad + L->ticklen + 0.4 * L->pad + hy;
    if (f->ax[0].label) bottom += hl + 0.9 * L->pad;
    double top = L->pad + 0.5 * hy;                      /* the top y tick label overhangs */
    if (f->title) {                                  /* a long title shrinks to fit */
        const double tw = text_box(cr, f->title, L->fs_title, 0).w, room = f->w - 2 * L->pad;
        if (tw > room) L->fs_title *= fmax(room / tw, 0.5);
    }
    if (f->title)
        top = 1.6 * L->pad + text_box(cr, f->title, L->fs_title, 0).asc +
              text_box(cr, "g", L->fs_title, 0).desc;
    if (f->ax[1].ticks.exp10 || (f->z && f->zt.exp10))   /* room for "×10^k" above the axis */
        top = fmax(top, L->pad + 1.3 * hy);
    double right = L->pad;
    if (tx->n) right = fmax(right, 0.5 * text_box(cr, tx->label[tx->n - 1], L->fs_tick, 1).w + 0.5 * L->pad);
    if (f->z) {
        right = L->cb_gap + L->cb_w + L->ticklen + 0.5 * L->pad + max_label_width(cr, &f->zt, L->fs_tick, 1) + L->pad;
        if (f->zlabel) right += hl + 0.5 * L->pad;
    }
    f->box[0] = left; f->box[1] = top; f->box[2] = f->w - right; f->box[3] = f->h - bottom;
    f->map[0] = (xb_map){ f->ax[0].scale, f->ax[0].lo, f->ax[0].hi, f->box[0], f->box[2] };
    f->map[1] = (xb_map){ f->ax[1].scale, f->ax[1].lo, f->ax[1].hi,
                          f->flip_y ? f->box[1] : f->box[3], f->flip_y ? f->box[3] : f->box[1] };
}

static void draw_heatmap(xb_figure *f, cairo_t *cr, const layout *L)
{
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)f->zc, (int)f->zr);
    if (cairo_surface_status(img)) { cairo_surface_destroy(img); return; }
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    const int stride = cairo_image_surface_get_stride(img);
    for (size_t r = 0; r < f->zr; r++) {
        uint32_t *row = (uint32_t *)(data + r * (size_t)stride);
        for (size_t c = 0; c < f->zc; c++) {
            const double z = f->z[r * f->zc + c];
            const xb_rgb k = isfinite(z) ? xb_colormap((z - f->zlo) / (f->zhi - f->zlo))
                                         : (xb_rgb){ 0.85, 0.85, 0.85 };
            row[c] = 0xff000000u | (uint32_t)lround(k.r * 255) << 16 |
                     (uint32_t)lround(k.g * 255) << 8 | (uint32_t)lround(k.b * 255);
        }
    }
    cairo_surface_mark_dirty(img);
    const double px0 = xb_map_apply(&f->map[0], f->zx0), px1 = xb_map_apply(&f->map[0], f->zx1);
    const double py0 = xb_map_apply(&f->map[1], f->zy0), py1 = xb_map_apply(&f->map[1], f->zy1);
    cairo_save(cr);
    cairo_translate(cr, px0, py0);
    cairo_scale(cr, (px1 - px0) / f->zc, (py1 - py0) / f->zr);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, (double)f->zc, (double)f->zr);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
    if (!f->zannot) return;
    const double cw = fabs(px1 - px0) / f->zc, ch = fabs(py1 - py0) / f->zr;
    const double fs = fmin(L->fs_tick, fmin(0.28 * cw, 0.45 * ch));
    for (size_t r = 0; r < f->zr; r++)
        for (size_t c = 0; c < f->zc; c++) {
            const double z = f->z[r * f->zc + c];
            if (!isfinite(z)) continue;
            char buf[32];
            snprintf(buf, sizeof buf, "%.3g", z);
            const double t = (z - f->zlo) / (f->zhi - f->zlo);
            if (t > 0.6) cairo_set_source_rgb(cr, 0, 0, 0); else cairo_set_source_rgb(cr, 1, 1, 1);
            draw_text(cr, buf, px0 + (c + 0.5) * (px1 - px0) / f->zc,
                      py0 + (r + 0.5) * (py1 - py0) / f->zr, 0, 0, fs, 1);
        }
}

static void stroke_path_of(xb_figure *f, cairo_t *cr, const item *it, const double *yv)
{
    int pen = 0;                        /* a NaN or an off-axis point lifts the pen */
    double lasty = 0;
    cairo_new_path(cr);
    for (size_t k = 0; k < it->n; k++) {
        const double px = xb_map_apply(&f->map[0], it->x[k]), py = xb_map_apply(&f->map[1], yv[k]);
        if (!isfinite(px) || !isfinite(py)) { pen = 0; continue; }
        if (!pen) cairo_move_to(cr, px, py);
        else if (it->st.mode == XB_LINE_STEPS) { cairo_line_to(cr, px, lasty); cairo_line_to(cr, px, py); }
        else cairo_line_to(cr, px, py);
        pen = 1;
        lasty = py;
    }
}

static void draw_items(xb_figure *f, cairo_t *cr, const layout *L)
{
    cairo_save(cr);
    cairo_rectangle(cr, f->box[0], f->box[1], f->box[2] - f->box[0], f->box[3] - f->box[1]);
    cairo_clip(cr);
    for (int pass = 0; pass < 4; pass++)       /* bands, reference lines, lines, markers */
        for (size_t i = 0; i < f->nitems; i++) {
            const item *it = &f->items[i];
            const double lw = line_width(f, &it->st);
            if (pass == 0 && it->kind == IT_HBARS) {
                for (size_t k = 0; k < it->n; k++) {
                    const double a = xb_map_apply(&f->map[0], it->lo[k]), b = xb_map_apply(&f->map[0], it->x[k]);
                    const double c = xb_map_apply(&f->map[1], it->y[k] - 0.5 * it->bh);
                    const double d = xb_map_apply(&f->map[1], it->y[k] + 0.5 * it->bh);
                    if (!isfinite(a) || !isfinite(b) || !isfinite(c) || !isfinite(d)) continue;
                    cairo_rectangle(cr, fmin(a, b), fmin(c, d), fabs(b - a), fabs(d - c));
                }
                set_rgb(cr, it->st.color, it->st.alpha);
                cairo_fill_preserve(cr);
                cairo_set_source_rgb(cr, 1, 1, 1);       /* a white seam between stacked bars */
                cairo_set_line_width(cr, 1.0 * f->s);
                cairo_set_dash(cr, NULL, 0, 0);
                cairo_stroke(cr);
            } else if (pass == 0 && it->kind == IT_BAND) {
                cairo_new_path(cr);
                int any = 0;
                for (size_t k = 0; k < it->n; k++) {
                    const double px = xb_map_apply(&f->map[0], it->x[k]), py = xb_map_apply(&f->map[1], it->y[k]);
                    if (isfinite(px) && isfinite(py)) { cairo_line_to(cr, px, py); any = 1; }
                }
                for (size_t k = it->n; k-- > 0;) {
                    const double px = xb_map_apply(&f->map[0], it->x[k]), py = xb_map_apply(&f->map[1], it->lo[k]);
                    if (isfinite(px) && isfinite(py)) cairo_line_to(cr, px, py);
                }
                if (any) {
                    cairo_close_path(cr);
                    set_rgb(cr, it->st.color, it->st.alpha > 0 ? it->st.alpha : 0.22);
                    cairo_fill(cr);
                }
            } else if (pass == 1 && it->kind == IT_VLINE) {
                const double px = xb_map_apply(&f->map[0], it->x[0]);
                if (!isfinite(px)) continue;
                set_rgb(cr, it->st.color, 1);
                cairo_set_line_width(cr, 2 * f->s);
                set_dash(cr, XB_LINE_DASH, 2 * f->s);
                cairo_move_to(cr, px, f->box[1]); cairo_line_to(cr, px, f->box[3]); cairo_stroke(cr);
                if (it->label) {             /* "left|right": a label on each side of the line */
                    char left[128];
                    const char *bar = strchr(it->label, '|');
                    snprintf(left, sizeof left, "%.*s", bar ? (int)(bar - it->label) : 0, it->label);
                    const char *right = bar ? bar + 1 : it->label;
                    const double ty = f->box[1] + 0.4 * L->pad;
                    const double fs = L->fs_legend * 0.9;
                    const tbox bl = text_box(cr, left, fs, 0), br = text_box(cr, right, fs, 0);
                    cairo_set_source_rgba(cr, 1, 1, 1, 0.8);   /* readable over the data */
                    if (left[0]) cairo_rectangle(cr, px - 0.4 * L->pad - bl.w - 3 * f->s, ty - 2 * f->s,
                                                 bl.w + 6 * f->s, bl.asc + bl.desc + 4 * f->s);
                    cairo_rectangle(cr, px + 0.4 * L->pad - 3 * f->s, ty - 2 * f->s, br.w + 6 * f->s,
                                    br.asc + br.desc + 4 * f->s);
                    cairo_fill(cr);
                    set_rgb(cr, (xb_rgb){ 0.3, 0.3, 0.3 }, 1);
                    if (left[0]) draw_text(cr, left, px - 0.4 * L->pad, ty, 1, -1, fs, 0);
                    draw_text(cr, right, px + 0.4 * L->pad, ty, -1, -1, fs, 0);
                }
            } else if (pass == 2 && it->kind == IT_SERIES && it->st.line != XB_LINE_NONE) {
                set_rgb(cr, it->st.color, it->st.alpha);
                cairo_set_line_width(cr, lw);
                cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
                set_dash(cr, it->st.line, lw);
                stroke_path_of(f, cr, it, it->y);
                cairo_stroke(cr);
            } else if (pass == 3 && it->kind == IT_SERIES) {
                if (it->e) {                        /* error bars under the markers */
                    set_rgb(cr, it->st.color, it->st.alpha);
                    cairo_set_line_width(cr, 1.8 * f->s);
                    cairo_set_dash(cr, NULL, 0, 0);
                    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
                    const double cap = 0.45 * marker_size(f, &it->st);
                    for (size_t k = 0; k < it->n; k++) {
                        if (!(it->e[k] > 0)) continue;
                        const double px = xb_map_apply(&f->map[0], it->x[k]);
                        const double a = xb_map_apply(&f->map[1], it->y[k] - it->e[k]);
                        const double b = xb_map_apply(&f->map[1], it->y[k] + it->e[k]);
                        if (!isfinite(px) || !isfinite(a) || !isfinite(b)) continue;
                        cairo_move_to(cr, px, a); cairo_line_to(cr, px, b);
                        cairo_move_to(cr, px - cap, a); cairo_line_to(cr, px + cap, a);
                        cairo_move_to(cr, px - cap, b); cairo_line_to(cr, px + cap, b);
                    }
                    cairo_stroke(cr);
                }
                for (size_t k = 0; k < it->n; k++) {
                    const double px = xb_map_apply(&f->map[0], it->x[k]), py = xb_map_apply(&f->map[1], it->y[k]);
                    if (isfinite(px) && isfinite(py))
                        draw_marker(cr, it->st.marker, px, py, marker_size(f, &it->st), it->st.color,
                                    it->st.alpha, f->s);
                }
            }
        }
    cairo_restore(cr);
    for (size_t i = 0; i < f->nitems; i++) {       /* annotations may leave the plot area */
        const item *it = &f->items[i];
        if (it->kind != IT_TEXT) continue;
        const double px = xb_map_apply(&f->map[0], it->x[0]), py = xb_map_apply(&f->map[1], it->y[0]);
        if (!isfinite(px) || !isfinite(py)) continue;
        const double fs = L->fs_legend * 0.8, tx = px + it->dx * f->s, ty = py + it->dy * f->s;
        const tbox b = text_box(cr, it->label, fs, 0);
        const double h = b.asc + b.desc, m = 3 * f->s;  /* kept inside the plot area */
        double x0 = tx - (it->ha + 1) * 0.5 * b.w, y0 = it->va < 0 ? ty : it->va > 0 ? ty - h : ty - 0.5 * h;
        x0 = fmax(fmin(x0, f->box[2] - b.w - m), f->box[0] + m);
        y0 = fmax(fmin(y0, f->box[3] - h - m), f->box[1] + m);
        cairo_set_source_rgba(cr, 1, 1, 1, 0.75);         /* readable over grid and data */
        cairo_rectangle(cr, x0 - 2 * f->s, y0 - 1 * f->s, b.w + 4 * f->s, h + 2 * f->s);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        draw_text(cr, it->label, x0, y0, -1, -1, fs, 0);
    }
}

static void draw_axes(xb_figure *f, cairo_t *cr, const layout *L)
{
    const double *b = f->box;
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    for (int a = 0; a < 2; a++) {
        const xb_ticks *t = &f->ax[a].ticks;
        const int numeric = ticks_numeric(t);
        for (int minor = 0; minor < 2; minor++) {
            const size_t n = minor ? t->nminor : t->n;
            for (size_t i = 0; i < n; i++) {
                const double v = minor ? t->minor[i] : t->v[i];
                const double p = xb_map_apply(&f->map[a], v);
                if (!isfinite(p) || p < (a ? b[1] : b[0]) - 0.5 || p > (a ? b[3] : b[2]) + 0.5) continue;
                const double len = minor ? 0.55 * L->ticklen : L->ticklen;
                cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
                cairo_set_line_width(cr, (minor ? 1.0 : 1.5) * f->s);
                if (a == 0) { cairo_move_to(cr, p, b[3]); cairo_line_to(cr, p, b[3] + len); }
                else { cairo_move_to(cr, b[0], p); cairo_line_to(cr, b[0] - len, p); }
                cairo_stroke(cr);
                if (minor) continue;
                if (a == 0)
                    draw_text(cr, t->label[i], p, b[3] + L->ticklen + 0.4 * L->pad, 0, -1, L->fs_tick, numeric);
                else draw_text(cr, t->label[i], b[0] - L->ticklen - 0.5 * L->pad, p, 1, 0, L->fs_tick, numeric);
            }
        }
    }
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_set_line_width(cr, 1.5 * f->s);
    cairo_rectangle(cr, b[0], b[1], b[2] - b[0], b[3] - b[1]);
    cairo_stroke(cr);
    char e[48];
    if (f->ax[1].ticks.exp10) {
        snprintf(e, sizeof e, "\xc3\x97" "10^%d", f->ax[1].ticks.exp10);
        draw_text(cr, e, b[0], b[1] - 0.3 * L->pad, -1, 1, L->fs_tick, 1);
    }
    if (f->ax[0].ticks.exp10) {
        snprintf(e, sizeof e, "\xc3\x97" "10^%d", f->ax[0].ticks.exp10);
        draw_text(cr, e, b[2], b[3] + L->ticklen + 0.4 * L->pad, 1, -1, L->fs_tick, 1);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (f->ax[0].label) draw_text(cr, f->ax[0].label, 0.5 * (b[0] + b[2]), f->h - L->pad, 0, 1, L->fs_label, 0);
    if (f->ax[1].label) {
        cairo_save(cr);
        cairo_translate(cr, L->pad, 0.5 * (b[1] + b[3]));
        cairo_rotate(cr, -XB_PI / 2);
        draw_text(cr, f->ax[1].label, 0, 0, 0, -1, L->fs_label, 0);
        cairo_restore(cr);
    }
    if (f->title) {                  /* centred on the plot area, but kept inside the figure */
        const double tw = text_box(cr, f->title, L->fs_title, 0).w;
        const double cx = fmin(fmax(0.5 * (b[0] + b[2]), L->pad + 0.5 * tw), f->w - L->pad - 0.5 * tw);
        draw_text(cr, f->title, cx, L->pad, 0, -1, L->fs_title, 0);
    }
}

static void draw_grid(xb_figure *f, cairo_t *cr)
{
    const double *b = f->box;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_set_line_width(cr, 1.0 * f->s);
    cairo_set_dash(cr, NULL, 0, 0);
    for (int a = 0; a < 2; a++)
        for (size_t i = 0; i < f->ax[a].ticks.n; i++) {
            const double p = xb_map_apply(&f->map[a], f->ax[a].ticks.v[i]);
            if (!isfinite(p)) continue;
            if (a == 0) { cairo_move_to(cr, p, b[1]); cairo_line_to(cr, p, b[3]); }
            else { cairo_move_to(cr, b[0], p); cairo_line_to(cr, b[2], p); }
        }
    cairo_stroke(cr);
}

static void draw_colorbar(xb_figure *f, cairo_t *cr, const layout *L)
{
    const double x0 = f->box[2] + L->cb_gap, x1 = x0 + L->cb_w, y0 = f->box[1], y1 = f->box[3];
    const int n = 256;
    for (int i = 0; i < n; i++) {
        set_rgb(cr, xb_colormap((i + 0.5) / n), 1);
        const double ya = y1 - (y1 - y0) * i / n, yb = y1 - (y1 - y0) * (i + 1) / n;
        cairo_rectangle(cr, x0, yb - 0.5, x1 - x0, ya - yb + 1.0);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_set_line_width(cr, 1.5 * f->s);
    cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
    cairo_stroke(cr);
    double wmax = 0;
    for (size_t i = 0; i < f->zt.n; i++) {
        const double y = y1 - (f->zt.v[i] - f->zlo) / (f->zhi - f->zlo) * (y1 - y0);
        cairo_move_to(cr, x1, y); cairo_line_to(cr, x1 + L->ticklen, y); cairo_stroke(cr);
        draw_text(cr, f->zt.label[i], x1 + L->ticklen + 0.5 * L->pad, y, -1, 0, L->fs_tick, 1);
        wmax = fmax(wmax, text_box(cr, f->zt.label[i], L->fs_tick, 1).w);
    }
    if (f->zt.exp10) {
        char e[48];
        snprintf(e, sizeof e, "\xc3\x97" "10^%d", f->zt.exp10);
        draw_text(cr, e, x0, y0 - 0.3 * L->pad, -1, 1, L->fs_tick, 1);
    }
    if (f->zlabel) {
        cairo_save(cr);
        cairo_translate(cr, x1 + L->ticklen + 0.5 * L->pad + wmax + 0.5 * L->pad, 0.5 * (y0 + y1));
        cairo_rotate(cr, -XB_PI / 2);
        draw_text(cr, f->zlabel, 0, 0, 0, -1, L->fs_label, 0);
        cairo_restore(cr);
    }
}

/* Legend size, then where it goes: the first of the corners, then the edge middles and the
 * centre of the plot area, that hides no points, line samples or reference-line labels;
 * if every place hides some, outside on the right (the plot area shrinks), or where it
 * hides least if it is too wide for that. */
typedef struct legend { size_t n; double w, h, row, sample, pad, x, y; } legend;

static void legend_measure(const xb_figure *f, cairo_t *cr, const layout *L, legend *g)
{
    double tw = 0;
    g->n = 0;
    for (size_t i = 0; i < f->nitems; i++) {
        const item *it = &f->items[i];
        if ((it->kind != IT_SERIES && it->kind != IT_BAND && it->kind != IT_HBARS) || !it->label ||
            it->st.no_legend)
            continue;
        tw = fmax(tw, text_box(cr, it->label, L->fs_legend, 0).w);
        g->n++;
    }
    g->row = 1.35 * L->fs_legend; g->sample = 2.4 * L->fs_legend; g->pad = 0.6 * L->pad;
    g->w = g->pad + g->sample + 0.5 * L->pad + tw + g->pad;
    g->h = 2 * g->pad + g->n * g->row;
}

static int inside(double px, double py, double x, double y, double w, double h, double m)
{
    return px >= x - m && px <= x + w + m && py >= y - m && py <= y + h + m;
}

static size_t legend_hides(const xb_figure *f, cairo_t *cr, const layout *L, double x, double y,
                           double w, double h)
{
    size_t cnt = 0;
    const double m = 6 * f->s;
    for (size_t i = 0; i < f->nitems; i++) {
        const item *it = &f->items[i];
        if (it->kind == IT_VLINE) {          /* a reference line through the legend */
            const double px = xb_map_apply(&f->map[0], it->x[0]);
            if (px > x - m && px < x + w + m) cnt += 3;
        }
        if (it->kind == IT_VLINE && it->label) {
            const double px = xb_map_apply(&f->map[0], it->x[0]);
            const tbox b = text_box(cr, it->label, L->fs_legend * 0.9, 0);
            const double lx = px - b.w, ly = f->box[1] + 0.4 * L->pad;   /* both sides */
            if (lx < x + w && lx + 2 * b.w > x && ly < y + h && ly + b.asc + b.desc > y) cnt += 10;
        }
        for (size_t k = 0; it->kind == IT_HBARS && k < it->n; k++) {
            const double a = xb_map_apply(&f->map[0], it->lo[k]), b = xb_map_apply(&f->map[0], it->x[k]);
            const double c = xb_map_apply(&f->map[1], it->y[k] - 0.5 * it->bh);
            const double d = xb_map_apply(&f->map[1], it->y[k] + 0.5 * it->bh);
            if (fmin(a, b) < x + w && fmax(a, b) > x && fmin(c, d) < y + h && fmax(c, d) > y) cnt += 20;
        }
        if (it->kind != IT_SERIES && it->kind != IT_BAND) continue;
        for (int edge = 0; edge < (it->lo ? 2 : 1); edge++) {
            const double *yv = edge ? it->lo : it->y;
            double qx = NAN, qy = NAN;
            for (size_t k = 0; k < it->n; k++) {
                const double px = xb_map_apply(&f->map[0], it->x[k]), py = xb_map_apply(&f->map[1], yv[k]);
                if (!isfinite(px) || !isfinite(py)) { qx = NAN; continue; }
                if (inside(px, py, x, y, w, h, m)) cnt += 4;
                const int lines = it->kind == IT_BAND || it->st.line != XB_LINE_NONE;
                if (lines && isfinite(qx))
                    for (int j = 1; j < 12; j++) {
                        const double t = j / 12.0;
                        cnt += inside(qx + t * (px - qx), qy + t * (py - qy), x, y, w, h, 0);
                    }
                qx = px; qy = py;
            }
        }
    }
    return cnt;
}

static void legend_place(xb_figure *f, cairo_t *cr, const layout *L, legend *g)
{
    const double m = 0.8 * L->pad, *b = f->box;
    const double xs[3] = { b[2] - m - g->w, b[0] + m, 0.5 * (b[0] + b[2] - g->w) };  /* right, left, centre */
    const double ys[3] = { b[1] + m, b[3] - m - g->h, 0.5 * (b[1] + b[3] - g->h) };  /* top, bottom, middle */
    static const int order[9][2] = { { 0, 0 }, { 1, 0 }, { 0, 1 }, { 1, 1 }, { 2, 0 }, { 2, 1 },
                                     { 0, 2 }, { 1, 2 }, { 2, 2 } };   /* corners first */
    size_t best = 0, bestc = SIZE_MAX;
    for (size_t c = 0; c < 9 && bestc; c++) {
        const size_t cnt = legend_hides(f, cr, L, xs[order[c][0]], ys[order[c][1]], g->w, g->h);
        if (cnt < bestc) { bestc = cnt; best = c; }
    }
    g->x = xs[order[best][0]]; g->y = ys[order[best][1]];
    if (bestc == 0 || f->z || g->w > 0.4 * f->w) return;
    f->box[2] = f->w - L->pad - g->w - m;           /* outside, right of the plot area */
    f->map[0].p1 = f->box[2];
    g->x = f->box[2] + m; g->y = f->box[1];
}

static void draw_legend(xb_figure *f, cairo_t *cr, const layout *L, const legend *g)
{
    if (!g->n) return;
    const double x0 = g->x, y0 = g->y, w = g->w, h = g->h, row = g->row, sample = g->sample,
                 pad = g->pad;
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_rectangle(cr, x0, y0, w, h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_set_line_width(cr, 1.0 * f->s);
    cairo_stroke(cr);
    size_t r = 0;
    for (size_t i = 0; i < f->nitems; i++) {
        const item *it = &f->items[i];
        if ((it->kind != IT_SERIES && it->kind != IT_BAND && it->kind != IT_HBARS) || !it->label ||
            it->st.no_legend)
            continue;
        const double yc = y0 + pad + (r + 0.5) * row, xs = x0 + pad;
        if (it->kind == IT_BAND || it->kind == IT_HBARS) {
            set_rgb(cr, it->st.color, it->st.alpha > 0 ? it->st.alpha : it->kind == IT_BAND ? 0.22 : 1);
            cairo_rectangle(cr, xs, yc - 0.35 * row, sample, 0.7 * row);
            cairo_fill(cr);
        } else {
            if (it->st.line != XB_LINE_NONE) {
                const double lw = line_width(f, &it->st);
                set_rgb(cr, it->st.color, it->st.alpha);
                cairo_set_line_width(cr, lw);
                set_dash(cr, it->st.line, lw);
                cairo_move_to(cr, xs, yc); cairo_line_to(cr, xs + sample, yc); cairo_stroke(cr);
            }
            draw_marker(cr, it->st.marker, xs + 0.5 * sample, yc, marker_size(f, &it->st), it->st.color,
                        it->st.alpha, f->s);
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        draw_text(cr, it->label, xs + sample + 0.5 * L->pad, yc, -1, 0, L->fs_legend, 0);
        r++;
    }
}

/* Draw the whole figure on a cairo surface whose unit is `unit` figure pixels (1 for the
 * image; points per pixel for PDF and SVG). */
static xb_status draw_on(xb_figure *f, cairo_surface_t *surf, double unit, xb_err *err)
{
    if (f->z && (f->ax[0].scale != XB_SCALE_LINEAR || f->ax[1].scale != XB_SCALE_LINEAR))
        return xb_fail(err, XB_EINVAL, "a heatmap needs linear axes");
    cairo_t *cr = cairo_create(surf);
    cairo_scale(cr, unit, unit);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    resolve_axes(f);
    layout L;
    compute_layout(f, cr, &L);
    xb_status st = XB_OK;
    if (!(f->box[2] - f->box[0] > 20 && f->box[3] - f->box[1] > 20))
        st = xb_fail(err, XB_ERANGE, "figure %dx%d px is too small for its labels", f->w, f->h);
    else {
        legend g = { 0 };
        legend_measure(f, cr, &L, &g);
        if (g.n) legend_place(f, cr, &L, &g);
        if (!f->z) draw_grid(f, cr);
        if (f->z) draw_heatmap(f, cr, &L);
        draw_items(f, cr, &L);
        draw_axes(f, cr, &L);
        if (f->z) draw_colorbar(f, cr, &L);
        draw_legend(f, cr, &L, &g);
    }
    cairo_show_page(cr);
    const cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    if (!st && cs != CAIRO_STATUS_SUCCESS)
        st = xb_fail(err, cs == CAIRO_STATUS_NO_MEMORY ? XB_ENOMEM : XB_EIO, "drawing the figure: %s",
                     cairo_status_to_string(cs));
    return st;
}

xb_status xb_figure_render(xb_figure *f, xb_err *err)
{
    clear_render(f);
    f->surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, f->w, f->h);
    const xb_status st = draw_on(f, f->surf, 1.0, err);
    if (st) clear_render(f);
    return st;
}

const uint32_t *xb_figure_pixels(const xb_figure *f, int *width, int *height, int *stride)
{
    if (!f->surf) return NULL;
    if (width) *width = f->w;
    if (height) *height = f->h;
    if (stride) *stride = cairo_image_surface_get_stride(f->surf);
    return (const uint32_t *)cairo_image_surface_get_data(f->surf);
}

void xb_figure_to_pixel(const xb_figure *f, double x, double y, double *px, double *py)
{
    *px = xb_map_apply(&f->map[0], x);
    *py = xb_map_apply(&f->map[1], y);
}

void xb_figure_plot_area(const xb_figure *f, double box[4]) { memcpy(box, f->box, sizeof f->box); }

const xb_ticks *xb_figure_axis_ticks(const xb_figure *f, xb_axis_id a) { return &f->ax[a].ticks; }

/* ---- PNG -------------------------------------------------------------------------- */

typedef struct png_ctx { jmp_buf jb; char msg[256]; } png_ctx;

static void png_error_fn(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jb, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

xb_status xb_figure_write_png(xb_figure *f, const char *path, const xb_png_meta *meta, xb_err *err)
{
    if (!f->surf) {
        const xb_status st = xb_figure_render(f, err);
        if (st) return st;
    }
    const int stride = cairo_image_surface_get_stride(f->surf);
    const unsigned char *data = cairo_image_surface_get_data(f->surf);
    unsigned char *row = xb_malloc((size_t)f->w * 3);
    if (!row) return xb_fail(err, XB_ENOMEM, "%s: out of memory", path);
    FILE *fp = fopen(path, "wb");
    if (!fp) { xb_free(row); return xb_fail(err, XB_EIO, "cannot write %s", path); }
    png_ctx ctx = { .msg = "" };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        fclose(fp); xb_free(row); remove(path);
        return xb_fail(err, XB_ENOMEM, "%s: libpng: out of memory", path);
    }
    if (setjmp(ctx.jb)) {                     /* libpng failed: nothing set since is used */
        png_destroy_write_struct(&png, &info);
        fclose(fp); xb_free(row); remove(path);
        return xb_fail(err, XB_EIO, "%s: libpng: %s", path, ctx.msg);
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)f->w, (png_uint_32)f->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    const png_uint_32 ppm = (png_uint_32)lround(REF_DPI * f->s / 0.0254);      /* per metre */
    png_set_pHYs(png, info, ppm, ppm, PNG_RESOLUTION_METER);
    static char key_sw[] = "Software", key_cmd[] = "Command", key_hash[] = "Config-Hash",
                key_src[] = "Source", key_title[] = "Title";
    static char software[] = "xbemu " XB_VERSION " (git " XB_GIT_HASH ")";
    png_text text[5];
    int nt = 0;
    const struct { char *key; const char *val; } kv[5] = {
        { key_sw, software }, { key_cmd, meta ? meta->command : NULL },
        { key_hash, meta ? meta->config_hash : NULL }, { key_src, meta ? meta->source : NULL },
        { key_title, meta && meta->title ? meta->title : f->title },
    };
    for (int i = 0; i < 5; i++) {
        if (!kv[i].val) continue;
        text[nt] = (png_text){ .compression = PNG_TEXT_COMPRESSION_NONE, .key = kv[i].key,
                               .text = (char *)kv[i].val, .text_length = strlen(kv[i].val) };
        nt++;
    }
    png_set_text(png, info, text, nt);
    png_write_info(png, info);
    for (int y = 0; y < f->h; y++) {            /* the background is opaque: RGB of ARGB32 */
        const uint32_t *src = (const uint32_t *)(data + (size_t)y * stride);
        for (int x = 0; x < f->w; x++) {
            row[3 * x] = (unsigned char)(src[x] >> 16);
            row[3 * x + 1] = (unsigned char)(src[x] >> 8);
            row[3 * x + 2] = (unsigned char)src[x];
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    xb_free(row);
    if (fclose(fp) != 0) { remove(path); return xb_fail(err, XB_EIO, "cannot write %s", path); }
    return XB_OK;
}

void xb_figure_cleanup(void)
{
    cairo_debug_reset_static_data();    /* drops cairo's references to fontconfig patterns */
    FcFini();                           /* then fontconfig's own configuration */
}

xb_status xb_figure_write_vector(xb_figure *f, const char *path, const xb_png_meta *meta,
                                 xb_err *err)
{
    const char *dot = strrchr(path, '.');
    const int pdf = dot && !strcmp(dot, ".pdf"), svg = dot && !strcmp(dot, ".svg");
    if (!pdf && !svg) return xb_fail(err, XB_EINVAL, "%s: vector output needs .pdf or .svg", path);
    const double unit = 72.0 / (REF_DPI * f->s);                  /* points per pixel */
    cairo_surface_t *surf = pdf ? cairo_pdf_surface_create(path, f->w * unit, f->h * unit)
                                : cairo_svg_surface_create(path, f->w * unit, f->h * unit);
    if (cairo_surface_status(surf)) {
        const cairo_status_t cs = cairo_surface_status(surf);
        cairo_surface_destroy(surf);
        return xb_fail(err, XB_EIO, "cannot write %s: %s", path, cairo_status_to_string(cs));
    }
    if (pdf) {
        char kw[1024];
        snprintf(kw, sizeof kw, "Config-Hash=%s; Source=%s", meta && meta->config_hash ? meta->config_hash : "",
                 meta && meta->source ? meta->source : "");
        const char *title = meta && meta->title ? meta->title : f->title;
        if (title) cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, title);
        cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, "xbemu " XB_VERSION " (git " XB_GIT_HASH ")");
        if (meta && meta->command) cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_SUBJECT, meta->command);
        cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_KEYWORDS, kw);
    }
    xb_status st = draw_on(f, surf, unit, err);
    cairo_surface_finish(surf);
    const cairo_status_t cs = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    if (!st && cs) st = xb_fail(err, XB_EIO, "cannot write %s: %s", path, cairo_status_to_string(cs));
    if (st) remove(path);
    return st;
}
