/* tests/test_plots.c: figure geometry, ticks, the Pareto front, PNG output and the
 * errors of bad input. Expected pixels come from the plot area and the axis formulas
 * (linear, or linear in log10), expected fronts from the definition of dominance. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/xb_mem.h"
#include "plots/xb_figure.h"
#include "plots/xb_plot.h"
#include "tests/xb_test.h"

/* ---- mapping and ticks ------------------------------------------------------------ */

static void test_map_linear_log(void)
{
    const xb_map lin = { XB_SCALE_LINEAR, 0, 10, 100, 600 };
    CU_ASSERT_DOUBLE_EQUAL(xb_map_apply(&lin, 2.5), 225.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(xb_map_apply(&lin, -1), 50.0, 1e-9);       /* extrapolates */
    const xb_map ylin = { XB_SCALE_LINEAR, 0, 1, 400, 100 };             /* pixels grow down */
    CU_ASSERT_DOUBLE_EQUAL(xb_map_apply(&ylin, 0.25), 325.0, 1e-9);
    const xb_map lg = { XB_SCALE_LOG10, 1e-9, 1e-6, 0, 300 };            /* 100 px a decade */
    CU_ASSERT_DOUBLE_EQUAL(xb_map_apply(&lg, 1e-8), 100.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(xb_map_apply(&lg, pow(10, -7.5)), 150.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(xb_map_apply(&lg, 2e-9), 100.0 * log10(2.0), 1e-9);
    CU_ASSERT(isnan(xb_map_apply(&lg, 0.0)));
    CU_ASSERT(isnan(xb_map_apply(&lg, -1e-9)));
}

static void test_log_ticks_decades(void)
{
    xb_ticks t;
    xb_ticks_log(1e-12, 1e-6, &t);
    CU_ASSERT_EQUAL_FATAL(t.n, 7);
    for (size_t k = 0; k < t.n; k++) {
        char want[32];
        snprintf(want, sizeof want, "10^%d", -12 + (int)k);
        CU_ASSERT_DOUBLE_EQUAL(t.v[k] / pow(10, -12 + (int)k), 1.0, 1e-12);
        CU_ASSERT_STRING_EQUAL(t.label[k], want);
    }
    CU_ASSERT_EQUAL(t.nminor, 6 * 8);                  /* 2..9 times each of 6 decades */
    xb_ticks_log(0.5, 2000, &t);                       /* decades 1, 10, 100, 1000 */
    CU_ASSERT_EQUAL(t.n, 4);
    CU_ASSERT_STRING_EQUAL(t.label[0], "10^0");
    CU_ASSERT_STRING_EQUAL(t.label[3], "10^3");
    xb_ticks_log(1e-8, 1e-7, &t);                      /* one decade: 2x and 5x labelled too */
    CU_ASSERT_EQUAL_FATAL(t.n, 4);
    CU_ASSERT_STRING_EQUAL(t.label[0], "10^-8");
    CU_ASSERT_STRING_EQUAL(t.label[1], "2\xc3\x97" "10^-8");
    CU_ASSERT_STRING_EQUAL(t.label[2], "5\xc3\x97" "10^-8");
    CU_ASSERT_STRING_EQUAL(t.label[3], "10^-7");
    CU_ASSERT_DOUBLE_EQUAL(t.v[1] / 2e-8, 1.0, 1e-12);
    CU_ASSERT_EQUAL(t.nminor, 6);                      /* 3, 4, 6, 7, 8, 9 */
    xb_ticks_log(1e-30, 1e10, &t);                     /* 41 decades: thinned, evenly */
    CU_ASSERT(t.n >= 5 && t.n <= 9);
    for (size_t k = 1; k < t.n; k++)
        CU_ASSERT_DOUBLE_EQUAL(log10(t.v[k]) - log10(t.v[k - 1]), log10(t.v[1]) - log10(t.v[0]), 1e-9);
    xb_ticks_log(2, 9, &t);                            /* no decade inside: 1-2-5 */
    CU_ASSERT_EQUAL_FATAL(t.n, 2);
    CU_ASSERT_STRING_EQUAL(t.label[0], "2");
    CU_ASSERT_STRING_EQUAL(t.label[1], "5");
    double lo = 2e-9, hi = 3e-7;                       /* auto range: enclosing decades */
    xb_range_nice(XB_SCALE_LOG10, &lo, &hi);
    CU_ASSERT_DOUBLE_EQUAL(lo / 1e-9, 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(hi / 1e-6, 1.0, 1e-12);
}

static void test_linear_ticks_nice(void)
{
    xb_ticks t;
    xb_ticks_linear(0, 1, 6, &t);
    CU_ASSERT_EQUAL_FATAL(t.n, 6);
    static const char *const want[] = { "0.0", "0.2", "0.4", "0.6", "0.8", "1.0" };
    for (size_t k = 0; k < 6; k++) {
        CU_ASSERT_DOUBLE_EQUAL(t.v[k], 0.2 * k, 1e-12);
        CU_ASSERT_STRING_EQUAL(t.label[k], want[k]);
    }
    xb_ticks_linear(-3, 7, 5, &t);                     /* step 2: no "-0", integers */
    CU_ASSERT_EQUAL_FATAL(t.n, 5);
    CU_ASSERT_STRING_EQUAL(t.label[0], "-2");
    CU_ASSERT_STRING_EQUAL(t.label[1], "0");
    CU_ASSERT_STRING_EQUAL(t.label[4], "6");
    xb_ticks_linear(0, 2e-5, 5, &t);                   /* a conductance in S: x 10^-5 */
    CU_ASSERT_EQUAL_FATAL(t.n, 5);
    CU_ASSERT_EQUAL(t.exp10, -5);
    CU_ASSERT_STRING_EQUAL(t.label[1], "0.5");
    CU_ASSERT_STRING_EQUAL(t.label[4], "2.0");
    CU_ASSERT_DOUBLE_EQUAL(t.v[4], 2e-5, 1e-18);
    xb_ticks_linear(0, 3e6, 4, &t);                    /* large: x 10^6 */
    CU_ASSERT_EQUAL(t.exp10, 6);
    CU_ASSERT_STRING_EQUAL(t.label[t.n - 1], "3");
    xb_ticks_linear(0.6312, 0.8201, 6, &t);            /* steps are 1, 2 or 5 x 10^k */
    CU_ASSERT_EQUAL(t.exp10, 0);
    CU_ASSERT(t.n >= 3 && t.n <= 12);
    const double step = t.v[1] - t.v[0], m = step / pow(10, floor(log10(step) + 1e-9));
    CU_ASSERT(fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6);
    for (size_t k = 0; k < t.n; k++) {
        CU_ASSERT(t.v[k] >= 0.6312 && t.v[k] <= 0.8201);
        CU_ASSERT_DOUBLE_EQUAL(t.v[k] / step, round(t.v[k] / step), 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(atof(t.label[k]), t.v[k], 1e-9);   /* label says the value */
    }
}

/* ---- rendered pixels -------------------------------------------------------------- */

/* Centroid of the pixels of exactly colour c; returns how many there are. */
static size_t find_colour(const xb_figure *f, xb_rgb c, double *cx, double *cy)
{
    int w, h, stride;
    const uint32_t *px = xb_figure_pixels(f, &w, &h, &stride);
    const uint32_t want = 0xff000000u | (uint32_t)lround(c.r * 255) << 16 |
                          (uint32_t)lround(c.g * 255) << 8 | (uint32_t)lround(c.b * 255);
    double sx = 0, sy = 0;
    size_t n = 0;
    for (int y = 0; px && y < h; y++)
        for (int x = 0; x < w; x++)
            if (px[(size_t)y * (stride / 4) + x] == want) { sx += x + 0.5; sy += y + 0.5; n++; }
    *cx = n ? sx / n : NAN;
    *cy = n ? sy / n : NAN;
    return n;
}

/* Three single-point series in colours nothing else uses; each marker's centroid must sit
 * at the pixel the axis formula gives, within half a pixel. */
static void check_markers(xb_scale sx, xb_scale sy, const double *xs, const double *ys,
                          double xlo, double xhi, double ylo, double yhi)
{
    static const xb_rgb cols[3] = { { 1, 0, 0 }, { 0, 1, 0 }, { 1, 0, 1 } };
    xb_figure *f;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_figure_alloc(&f, 640, 480, &err) == XB_OK);
    CU_ASSERT(xb_figure_scale(f, XB_AXIS_X, sx, &err) == XB_OK);
    CU_ASSERT(xb_figure_scale(f, XB_AXIS_Y, sy, &err) == XB_OK);
    CU_ASSERT(xb_figure_range(f, XB_AXIS_X, xlo, xhi, &err) == XB_OK);
    CU_ASSERT(xb_figure_range(f, XB_AXIS_Y, ylo, yhi, &err) == XB_OK);
    CU_ASSERT(xb_figure_label(f, XB_AXIS_X, "x (unit)", &err) == XB_OK);
    CU_ASSERT(xb_figure_label(f, XB_AXIS_Y, "y (unit)", &err) == XB_OK);
    for (int k = 0; k < 3; k++) {
        const xb_style s = { .color = cols[k], .marker = XB_MARK_SQUARE, .marker_size = 30, .no_legend = 1 };
        CU_ASSERT(xb_figure_series(f, NULL, &xs[k], &ys[k], NULL, 1, &s, NULL, &err) == XB_OK);
    }
    CU_ASSERT_FATAL(xb_figure_render(f, &err) == XB_OK);
    double box[4];
    xb_figure_plot_area(f, box);
    CU_ASSERT(box[0] > 30 && box[2] < 640 && box[1] >= 0 && box[3] < 470 && box[2] - box[0] > 400);
    for (int k = 0; k < 3; k++) {
        const double tx = sx == XB_SCALE_LOG10 ? (log10(xs[k]) - log10(xlo)) / (log10(xhi) - log10(xlo))
                                               : (xs[k] - xlo) / (xhi - xlo);
        const double ty = sy == XB_SCALE_LOG10 ? (log10(ys[k]) - log10(ylo)) / (log10(yhi) - log10(ylo))
                                               : (ys[k] - ylo) / (yhi - ylo);
        const double ex = box[0] + tx * (box[2] - box[0]), ey = box[3] - ty * (box[3] - box[1]);
        double cx, cy;
        const size_t n = find_colour(f, cols[k], &cx, &cy);
        CU_ASSERT(n >= 100);                                /* the filled square is there */
        CU_ASSERT(fabs(cx - ex) <= 0.5 && fabs(cy - ey) <= 0.5);
        double px, py;
        xb_figure_to_pixel(f, xs[k], ys[k], &px, &py);
        CU_ASSERT(fabs(px - ex) < 1e-9 && fabs(py - ey) < 1e-9);
    }
    xb_figure_free(f);
}

static void test_markers_linear(void)
{
    const double x[3] = { 1.2, 5, 9.1 }, y[3] = { -0.7, 0.2, 0.85 };   /* inside: no clipping */
    check_markers(XB_SCALE_LINEAR, XB_SCALE_LINEAR, x, y, 0, 10, -1, 1);
}

static void test_markers_log(void)
{
    const double x[3] = { 3e-9, 1e-7, 4e-6 }, y[3] = { 2, 150, 3000 };
    check_markers(XB_SCALE_LOG10, XB_SCALE_LOG10, x, y, 1e-9, 1e-5, 1, 1e4);
    const double x2[3] = { 1e-3, 1e-2, 0.5 }, y2[3] = { 0.1, 0.5, 0.75 };     /* semilog */
    check_markers(XB_SCALE_LOG10, XB_SCALE_LINEAR, x2, y2, 1e-4, 1, 0, 1);
}

/* Auto ranges on a log axis end at decades, and the rendered ticks are labelled 10^k. */
static void test_auto_log_axis(void)
{
    xb_figure *f;
    xb_err err = { 0 };
    const double x[3] = { 2.1e-9, 4e-8, 1.3e-7 }, y[3] = { 0.7, 0.8, 0.82 };
    CU_ASSERT_FATAL(xb_figure_alloc(&f, 960, 640, &err) == XB_OK);
    CU_ASSERT(xb_figure_scale(f, XB_AXIS_X, XB_SCALE_LOG10, &err) == XB_OK);
    const xb_style s = xb_style_default(0, 0, 0);
    CU_ASSERT(xb_figure_series(f, "a", x, y, NULL, 3, &s, NULL, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_figure_render(f, &err) == XB_OK);
    const xb_ticks *t = xb_figure_axis_ticks(f, XB_AXIS_X);
    CU_ASSERT_EQUAL_FATAL(t->n, 4);
    CU_ASSERT_STRING_EQUAL(t->label[0], "10^-9");
    CU_ASSERT_STRING_EQUAL(t->label[3], "10^-6");
    double box[4], px, py;
    xb_figure_plot_area(f, box);
    xb_figure_to_pixel(f, 1e-9, 0.75, &px, &py);        /* the frame ends at the decades */
    CU_ASSERT_DOUBLE_EQUAL(px, box[0], 1e-9);
    xb_figure_to_pixel(f, 1e-6, 0.75, &px, &py);
    CU_ASSERT_DOUBLE_EQUAL(px, box[2], 1e-9);
    const xb_ticks *ty = xb_figure_axis_ticks(f, XB_AXIS_Y);   /* every y point inside */
    xb_figure_to_pixel(f, 1e-8, 0.7, &px, &py);
    CU_ASSERT(py < box[3] && py > box[1] && ty->n >= 3);
    xb_figure_free(f);
}

/* The legend goes where it hides no data: with markers at the right top and bottom and in
 * the centre, and a line along the top, the red markers keep all their pixels when a
 * (blue) legend entry appears. */
static size_t marker_pixels(int with_legend, const double *x, const double *y, size_t n)
{
    xb_figure *f;
    xb_err err = { 0 };
    const xb_rgb red = { 1, 0, 0 };
    if (xb_figure_alloc(&f, 640, 480, &err)) return 0;
    xb_figure_range(f, XB_AXIS_X, 0, 10, &err);
    xb_figure_range(f, XB_AXIS_Y, 0, 10, &err);
    const xb_style s = { .color = red, .marker = XB_MARK_SQUARE, .marker_size = 20 };
    xb_figure_series(f, NULL, x, y, NULL, n, &s, NULL, &err);     /* red: not in the legend */
    const xb_style s2 = { .color = { 0, 0, 1 }, .line = XB_LINE_SOLID };
    const double lx[2] = { 0.5, 9.5 }, ly[2] = { 9.5, 9.5 };        /* a line along the top */
    xb_figure_series(f, with_legend ? "a rather long legend entry" : NULL, lx, ly, NULL, 2, &s2, NULL, &err);
    double cx, cy;
    const size_t k = xb_figure_render(f, &err) == XB_OK ? find_colour(f, red, &cx, &cy) : 0;
    xb_figure_free(f);
    return k;
}

static void test_legend_hides_nothing(void)
{
    const double x[4] = { 9, 9, 7, 5 }, y[4] = { 8, 0.6, 0.6, 5 };   /* right top/bottom, centre */
    const size_t bare = marker_pixels(0, x, y, 4);
    CU_ASSERT(bare >= 4 * 50);
    CU_ASSERT_EQUAL(marker_pixels(1, x, y, 4), bare);
}

/* Heatmap cells show the colour map's ends: viridis #440154 at the minimum, #fde725 at
 * the maximum (matplotlib's viridis table). */
static void test_heatmap_cells(void)
{
    xb_figure *f;
    xb_err err = { 0 };
    const double z[2] = { 3.0, 7.0 };
    CU_ASSERT_FATAL(xb_figure_alloc(&f, 640, 480, &err) == XB_OK);
    CU_ASSERT(xb_figure_heatmap(f, z, 1, 2, 0, 2, 0, 1, "z", 0, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_figure_render(f, &err) == XB_OK);
    int w, h, stride;
    const uint32_t *px = xb_figure_pixels(f, &w, &h, &stride);
    double ax, ay, bx, by;
    xb_figure_to_pixel(f, 0.5, 0.5, &ax, &ay);
    xb_figure_to_pixel(f, 1.5, 0.5, &bx, &by);
    CU_ASSERT_EQUAL(px[(size_t)ay * (stride / 4) + (size_t)ax] & 0xffffff, 0x440154);
    CU_ASSERT_EQUAL(px[(size_t)by * (stride / 4) + (size_t)bx] & 0xffffff, 0xfde725);
    xb_figure_free(f);
}

/* ---- Pareto front ----------------------------------------------------------------- */

static int cmp_size(const void *a, const void *b)
{
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* front == want as sets (the order is by energy; sorted here for the comparison). */
static void check_front(const double *e, const double *a, size_t n, const size_t *want, size_t nw)
{
    size_t idx[256], nf = 99;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_pareto(e, a, n, idx, &nf, &err) == XB_OK);
    for (size_t k = 1; k < nf; k++) CU_ASSERT(e[idx[k]] >= e[idx[k - 1]]);
    qsort(idx, nf, sizeof *idx, cmp_size);
    CU_ASSERT_EQUAL_FATAL(nf, nw);
    for (size_t k = 0; k < nw; k++) CU_ASSERT_EQUAL(idx[k], want[k]);
}

static void test_pareto_hand_cases(void)
{
    { const double e[] = { 1, 2, 3, 4 }, a[] = { 0.5, 0.7, 0.6, 0.9 };
      const size_t w[] = { 0, 1, 3 };                    /* 2 is beaten by 1 */
      check_front(e, a, 4, w, 3); }
    { const double e[] = { 1, 1, 2 }, a[] = { 0.5, 0.6, 0.6 };
      const size_t w[] = { 1 };                          /* ties in energy, then in accuracy */
      check_front(e, a, 3, w, 1); }
    { const double e[] = { 1, 1, 2 }, a[] = { 0.6, 0.6, 0.7 };
      const size_t w[] = { 0, 1, 2 };                    /* exact duplicates are both kept */
      check_front(e, a, 3, w, 3); }
    { const double e[] = { 3, 3, 3 }, a[] = { 0.5, 0.5, 0.5 };
      const size_t w[] = { 0, 1, 2 };
      check_front(e, a, 3, w, 3); }
    { const double e[] = { 5, 4, 3, 2, 1 }, a[] = { 0.1, 0.2, 0.3, 0.4, 0.5 };
      const size_t w[] = { 4 };                          /* one point beats all */
      check_front(e, a, 5, w, 1); }
    { const double e[] = { 1, 2, 3 }, a[] = { 0.1, 0.2, 0.3 };
      const size_t w[] = { 0, 1, 2 };                    /* a strict trade-off: all */
      check_front(e, a, 3, w, 3); }
    { const double e[] = { 7 }, a[] = { 0.2 };
      const size_t w[] = { 0 };
      check_front(e, a, 1, w, 1);
      check_front(e, a, 0, w, 0); }
    size_t idx[2], nf;
    xb_err err = { 0 };
    const double e[] = { 1, NAN }, a[] = { 0.5, 0.5 };
    CU_ASSERT(xb_pareto(e, a, 2, idx, &nf, &err) == XB_EINVAL && strstr(err.msg, "NaN"));
}

/* Random points on a coarse grid (many ties and duplicates) against the definition. */
static void test_pareto_matches_definition(void)
{
    enum { N = 200 };
    double e[N], a[N];
    size_t want[N], nw = 0;
    unsigned s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u; e[i] = (s >> 16) % 20;
        s = s * 1103515245u + 12345u; a[i] = ((s >> 16) % 20) / 20.0;
    }
    for (int i = 0; i < N; i++) {
        int dominated = 0;
        for (int j = 0; j < N && !dominated; j++)
            dominated = a[j] >= a[i] && e[j] <= e[i] && (a[j] > a[i] || e[j] < e[i]);
        if (!dominated) want[nw++] = (size_t)i;
    }
    CU_ASSERT(nw >= 2);
    check_front(e, a, N, want, nw);
}

/* ---- PNG -------------------------------------------------------------------------- */

static void test_png_roundtrip(void)
{
    xb_figure *f;
    xb_err err = { 0 };
    const double x[4] = { 1, 2, 3, 4 }, y[4] = { 0.2, 0.5, 0.4, 0.9 }, e[4] = { 0.05, 0.1, NAN, 0.02 };
    CU_ASSERT_FATAL(xb_figure_alloc(&f, 500, 350, &err) == XB_OK);
    CU_ASSERT(xb_figure_title(f, "round trip", &err) == XB_OK);
    const xb_style s0 = xb_style_default(1, 0, 1);
    CU_ASSERT(xb_figure_series(f, "y", x, y, e, 4, &s0, NULL, &err) == XB_OK);
    char path[4096];
    xb_test_path("rt.png", path, sizeof path);
    const xb_png_meta meta = { .command = "xbemu plot sweep r.csv -o rt.png",
                               .config_hash = "crc32:0badf00d", .source = "r.csv" };
    CU_ASSERT_FATAL(xb_figure_write_png(f, path, &meta, &err) == XB_OK);

    FILE *fp = fopen(path, "rb");
    CU_ASSERT_FATAL(fp != NULL);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    CU_ASSERT_FATAL(png && info && !setjmp(png_jmpbuf(png)));
    png_init_io(png, fp);
    png_read_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    CU_ASSERT_EQUAL(png_get_image_width(png, info), 500);
    CU_ASSERT_EQUAL(png_get_image_height(png, info), 350);
    CU_ASSERT_EQUAL(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
    CU_ASSERT_EQUAL(png_get_bit_depth(png, info), 8);
    png_textp text;
    int nt = 0;
    png_get_text(png, info, &text, &nt);
    int seen = 0;
    for (int i = 0; i < nt; i++) {
        if (!strcmp(text[i].key, "Software"))
            seen |= 1 * !strncmp(text[i].text, "xbemu " XB_VERSION " (git ", 12 + strlen(XB_VERSION));
        if (!strcmp(text[i].key, "Command")) seen |= 2 * !strcmp(text[i].text, meta.command);
        if (!strcmp(text[i].key, "Config-Hash")) seen |= 4 * !strcmp(text[i].text, meta.config_hash);
        if (!strcmp(text[i].key, "Source")) seen |= 8 * !strcmp(text[i].text, meta.source);
        if (!strcmp(text[i].key, "Title")) seen |= 16 * !strcmp(text[i].text, "round trip");
    }
    CU_ASSERT_EQUAL(seen, 31);
    png_uint_32 rx = 0, ry = 0;                         /* 150 dpi at the 960-px reference */
    int unit = -1;
    CU_ASSERT(png_get_pHYs(png, info, &rx, &ry, &unit) != 0);
    const double s = fmin(500.0 / 960, 350.0 / 640);
    CU_ASSERT_EQUAL(rx, (png_uint_32)lround(150 * s / 0.0254));
    CU_ASSERT(rx == ry && unit == PNG_RESOLUTION_METER);
    /* the decoded pixels are the rendered ones */
    png_bytepp rows = png_get_rows(png, info);
    int w, h, stride;
    const uint32_t *px = xb_figure_pixels(f, &w, &h, &stride);
    size_t diff = 0;
    for (int yy = 0; yy < h; yy += 7)
        for (int xx = 0; xx < w; xx += 3) {
            const uint32_t c = px[(size_t)yy * (stride / 4) + xx];
            const png_bytep p = rows[yy] + 3 * xx;
            diff += p[0] != ((c >> 16) & 255) || p[1] != ((c >> 8) & 255) || p[2] != (c & 255);
        }
    CU_ASSERT_EQUAL(diff, 0);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    xb_figure_free(f);

    CU_ASSERT_FATAL(xb_figure_alloc(&f, 500, 350, &err) == XB_OK);   /* vector output */
    CU_ASSERT(xb_figure_series(f, "y", x, y, e, 4, &s0, NULL, &err) == XB_OK);
    static const char *const ext[2] = { "v.pdf", "v.svg" }, *const magic[2] = { "%PDF-", "<?xml" },
                             *const inside[2] = { "/Subject (xbemu plot sweep r.csv", "<svg" };
    static char head[1 << 18];
    for (int k = 0; k < 2; k++) {
        char vp[4096];
        xb_test_path(ext[k], vp, sizeof vp);
        CU_ASSERT_FATAL(xb_figure_write_vector(f, vp, &meta, &err) == XB_OK);
        FILE *v = fopen(vp, "rb");
        CU_ASSERT_FATAL(v != NULL);
        const size_t got = fread(head, 1, sizeof head - 1, v);
        fclose(v);
        CU_ASSERT(got > 1000 && !strncmp(head, magic[k], strlen(magic[k])));
        int found = 0;                                  /* PDF Subject = command; svg element */
        for (size_t i = 0; i + strlen(inside[k]) <= got && !found; i++)
            found = !memcmp(head + i, inside[k], strlen(inside[k]));
        CU_ASSERT(found);
    }
    CU_ASSERT(xb_figure_write_vector(f, "x.eps", &meta, &err) == XB_EINVAL);
    xb_figure_free(f);

    CU_ASSERT_FATAL(xb_figure_alloc(&f, 500, 350, &err) == XB_OK);   /* unwritable path */
    CU_ASSERT(xb_figure_write_png(f, "/nonexistent-dir/x.png", &meta, &err) == XB_EIO);
    CU_ASSERT(strstr(err.msg, "/nonexistent-dir/x.png") != NULL);
    xb_figure_free(f);
}

/* ---- files -> figures ------------------------------------------------------------- */

static xb_status make_plot(xb_plot_kind k, const char *csv, const char *name, xb_plot *p, xb_err *err,
                           const char *x, const char *y)
{
    char path[4096];
    xb_test_write(name, csv, strlen(csv), path, sizeof path);
    const char *in[1] = { path };
    const xb_plot_opts o = { .kind = k, .logx = -1, .logy = -1, .x = x, .y = y };
    return xb_plot_make(&o, in, 1, p, err);
}

static void test_bad_input(void)
{
    xb_plot p = { 0 };
    xb_err err = { 0 };
    CU_ASSERT(make_plot(XB_PLOT_ENERGY_ACCURACY, "", "empty.csv", &p, &err, NULL, NULL) == XB_EINVAL);
    CU_ASSERT(strstr(err.msg, "empty.csv") && strstr(err.msg, "empty"));
    CU_ASSERT(make_plot(XB_PLOT_ENERGY_ACCURACY, "device,accuracy,energy_per_sample_J\n", "head.csv", &p,
                        &err, NULL, NULL) == XB_EINVAL);
    CU_ASSERT(strstr(err.msg, "head.csv") && strstr(err.msg, "no data rows"));
    CU_ASSERT(make_plot(XB_PLOT_ENERGY_ACCURACY, "device,acc,energy_per_sample_J\nhfox,0.8,1e-9\n",
                        "nocol.csv", &p, &err, NULL, NULL) == XB_EINVAL);
    CU_ASSERT(strstr(err.msg, "nocol.csv: no column 'accuracy'") && strstr(err.msg, "device, acc"));
    CU_ASSERT(make_plot(XB_PLOT_ENERGY_ACCURACY,
                        "device,accuracy,energy_per_sample_J\nhfox,0.8,1e-9\nftj,0.7,0\n", "zero.csv",
                        &p, &err, NULL, NULL) == XB_ERANGE);
    CU_ASSERT(strstr(err.msg, "zero.csv:3: energy_per_sample_J = 0 is not positive") &&
              strstr(err.msg, "logarithmic"));
    CU_ASSERT(make_plot(XB_PLOT_SWEEP, "a,b\n1,2\n3,oops\n", "nan.csv", &p, &err, "a", "b") == XB_EINVAL);
    CU_ASSERT(strstr(err.msg, "nan.csv:3: column 2 (b): 'oops' is not a finite number") != NULL);
    CU_ASSERT(make_plot(XB_PLOT_SWEEP, "a,b\n1,2\n", "nox.csv", &p, &err, NULL, "b") == XB_EINVAL);
    CU_ASSERT(strstr(err.msg, "--x") != NULL);
    CU_ASSERT(make_plot(XB_PLOT_SCALING, "{\"shape\":\"4x4\",\"time_us\":1}\n[1,2]\n", "b.jsonl", &p,
                        &err, NULL, NULL) == XB_EINVAL);
    CU_ASSERT(strstr(err.msg, "b.jsonl:2: not a JSON object") != NULL);
    CU_ASSERT(make_plot(XB_PLOT_SCALING, "{\"shape\":\"4x4\",\"time_us\":0}\n", "z.jsonl", &p,
                        &err, NULL, NULL) == XB_ERANGE);
    CU_ASSERT(strstr(err.msg, "z.jsonl:1: time_us = 0 is not positive") != NULL);
    char p1[4096], p2[4096];                              /* several inputs: each is checked */
    const char *c1 = "device,accuracy,energy_per_sample_J\nhfox,0.8,1e-9\n";
    const char *c2 = "device,energy_per_sample_J\nftj,1e-9\n";
    xb_test_write("in1.csv", c1, strlen(c1), p1, sizeof p1);
    xb_test_write("in2.csv", c2, strlen(c2), p2, sizeof p2);
    const char *two[2] = { p1, p2 };
    const xb_plot_opts o = { .kind = XB_PLOT_ENERGY_ACCURACY, .logx = -1, .logy = -1 };
    CU_ASSERT(xb_plot_make(&o, two, 2, &p, &err) == XB_EINVAL);
    CU_ASSERT(strstr(err.msg, "in2.csv: no column 'accuracy'") != NULL);
    CU_ASSERT(p.fig == NULL && p.report == NULL);         /* nothing handed out on failure */
    CU_ASSERT_EQUAL(xb_plot_kind_find("energy-accuracy"), XB_PLOT_ENERGY_ACCURACY);
    CU_ASSERT_EQUAL(xb_plot_kind_find("pie"), -1);

    xb_figure *f;                                         /* the figure API refuses too */
    CU_ASSERT_FATAL(xb_figure_alloc(&f, 400, 300, &err) == XB_OK);
    CU_ASSERT(xb_figure_scale(f, XB_AXIS_Y, XB_SCALE_LOG10, &err) == XB_OK);
    const double x[2] = { 1, 2 }, y[2] = { 1, -3 };
    const xb_style s = xb_style_default(0, 0, 1);
    CU_ASSERT(xb_figure_series(f, "s", x, y, NULL, 2, &s, NULL, &err) == XB_ERANGE);
    CU_ASSERT(strstr(err.msg, "s: y = -3 at point 2 is not positive") != NULL);
    CU_ASSERT(xb_figure_range(f, XB_AXIS_Y, 0, 1, &err) == XB_ERANGE);
    xb_figure_free(f);
    CU_ASSERT(xb_figure_alloc(&f, 20, 20, &err) == XB_ERANGE && f == NULL);
}

/* Last epoch of each run, mean over seeds, Pareto front in the report. */
static void test_energy_accuracy_reduction(void)
{
    const char *csv =
        "device,seed,epoch,accuracy,energy_per_sample_J\n"
        "a,1,1,0.10,5e-9\n" "a,1,2,0.80,1e-9\n" "a,2,1,0.20,5e-9\n" "a,2,2,0.90,3e-9\n"
        "b,1,1,0.30,1e-9\n" "b,1,2,0.70,1e-10\n" "b,2,1,0.30,1e-9\n" "b,2,2,0.70,1e-10\n"
        "c,1,2,0.60,2e-9\n" "c,2,2,0.60,2e-9\n";           /* c is beaten by a and b */
    xb_plot p = { 0 };
    xb_err err = { 0 };
    CU_ASSERT_FATAL(make_plot(XB_PLOT_ENERGY_ACCURACY, csv, "ea.csv", &p, &err, NULL, NULL) == XB_OK);
    CU_ASSERT_FATAL(p.report != NULL);
    CU_ASSERT(strstr(p.report, "2 of 3 points") != NULL);
    CU_ASSERT(strstr(p.report, "energy_per_sample_J=1e-10\taccuracy=0.7000\tsd=0.0000\tn=2\tdevice=b") != NULL);
    /* a: mean of 0.80 and 0.90 (sd 0.0707), energy mean of 1e-9 and 3e-9 */
    CU_ASSERT(strstr(p.report, "energy_per_sample_J=2e-09\taccuracy=0.8500\tsd=0.0707\tn=2\tdevice=a") != NULL);
    CU_ASSERT(strstr(p.report, "device=c") == NULL);
    CU_ASSERT(strstr(p.report, "device=b") < strstr(p.report, "device=a"));   /* by energy */
    size_t dark[2];                               /* --label-front writes text: more ink */
    for (int k = 0; k < 2; k++) {
        xb_plot q = { 0 };
        char path[4096];
        xb_test_path("ea.csv", path, sizeof path);
        const char *in[1] = { path };
        const xb_plot_opts o = { .kind = XB_PLOT_ENERGY_ACCURACY, .logx = -1, .logy = -1, .label_front = k };
        CU_ASSERT_FATAL(xb_plot_make(&o, in, 1, &q, &err) == XB_OK);
        CU_ASSERT_FATAL(xb_figure_render(q.fig, &err) == XB_OK);
        int w, h, stride;
        const uint32_t *px = xb_figure_pixels(q.fig, &w, &h, &stride);
        dark[k] = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const uint32_t c = px[(size_t)y * (stride / 4) + x];
                dark[k] += ((c >> 16) & 255) < 64 && ((c >> 8) & 255) < 64 && (c & 255) < 64;
            }
        xb_plot_clear(&q);
    }
    CU_ASSERT(dark[1] > dark[0] + 20);            /* two one-letter labels, "a" and "b" */
    xb_plot_clear(&p);
}

/* sweep keeps each run's last epoch and averages seeds; learning plots every epoch per
 * eval_task (the training task is not a series). Expected means and sample sds by hand. */
static void test_sweep_learning_table(void)
{
    const char *sweep = "device,seed,epoch,x,accuracy\n"
                        "a,1,1,1,0.1\n" "a,1,2,1,0.5\n" "a,2,2,1,0.7\n" "a,1,2,2,0.6\n" "b,1,2,1,0.3\n";
    char path[4096];
    xb_test_write("sw.csv", sweep, strlen(sweep), path, sizeof path);
    const char *in[1] = { path };
    xb_plot_opts o = { .kind = XB_PLOT_SWEEP, .logx = -1, .logy = -1, .x = "x", .y = "accuracy", .table = 1 };
    xb_plot p = { 0 };
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_plot_make(&o, in, 1, &p, &err) == XB_OK);
    CU_ASSERT_STRING_EQUAL(p.report, "# series\tx\ty (mean)\tsd\tn\n"
                                     "a\t1\t0.6\t0.141421\t2\n" "a\t2\t0.6\t0\t1\n" "b\t1\t0.3\t0\t1\n");
    xb_plot_clear(&p);
    const char *cl = "seed,task,eval_task,epoch,accuracy\n"
                     "1,t1,t1,1,0.5\n" "2,t1,t1,1,0.7\n" "1,t1,t2,1,0.1\n" "2,t1,t2,1,0.1\n"
                     "1,t2,t1,2,0.4\n" "2,t2,t1,2,0.4\n";
    xb_test_write("cl.csv", cl, strlen(cl), path, sizeof path);
    o = (xb_plot_opts){ .kind = XB_PLOT_LEARNING, .logx = -1, .logy = -1, .table = 1 };
    CU_ASSERT_FATAL(xb_plot_make(&o, in, 1, &p, &err) == XB_OK);
    CU_ASSERT_STRING_EQUAL(p.report, "# series\tx\ty (mean)\tsd\tn\n"
                                     "t1\t1\t0.6\t0.141421\t2\n" "t1\t2\t0.4\t0\t2\n" "t2\t1\t0.1\t0\t2\n");
    xb_plot_clear(&p);
}

/* A sweep's results.csv: `run.seed` is the seed (replicates averaged: n = 2), not a
 * series; `dev.b`, zipped with the colour column `dev.a` (one value of b per value of a),
 * is dropped from the series names; `dev.c` varies on its own and stays. */
static void test_sweep_results_columns(void)
{
    const char *csv = "run_id,dev.a,dev.b,dev.c,run.seed,status,error,seed,epoch,x,accuracy\n"
                      "r1,0,0,u,1,ok,,1,1,1,0.5\n" "r2,0,0,u,2,ok,,2,1,1,0.7\n"
                      "r3,0.1,0.2,u,1,ok,,1,1,1,0.4\n" "r4,0.1,0.2,u,2,ok,,2,1,1,0.4\n"
                      "r5,0.1,0.2,v,1,ok,,1,1,1,0.3\n";
    char path[4096];
    xb_test_write("swr.csv", csv, strlen(csv), path, sizeof path);
    const char *in[1] = { path };
    const xb_plot_opts o = { .kind = XB_PLOT_SWEEP, .logx = -1, .logy = -1, .x = "x", .y = "accuracy", .table = 1 };
    xb_plot p = { 0 };
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_plot_make(&o, in, 1, &p, &err) == XB_OK);
    CU_ASSERT_STRING_EQUAL(p.report, "# series\tx\ty (mean)\tsd\tn\n"
                                     "dev.a=0, dev.c=u\t1\t0.6\t0.141421\t2\n"
                                     "dev.a=0.1, dev.c=u\t1\t0.4\t0\t2\n"
                                     "dev.a=0.1, dev.c=v\t1\t0.3\t0\t1\n");
    xb_plot_clear(&p);
}

/* The format experiments/ writes: epochs restart with each task, samples_seen grows. The
 * last point of a run is its last evaluation (task 2, epoch 2), one row per eval_task:
 * mean accuracy (0.52 + 0.70) / 2 = 0.61. The same without samples_seen (file order). */
static void test_task_sequence(void)
{
    static const char *const rows[] = {
        "r,a,1,1,1,1,100,0.5,1e-9\n", "r,a,1,1,1,2,200,0.6,1e-9\n", "r,a,1,2,1,1,300,0.55,2e-9\n",
        "r,a,1,2,2,1,300,0.3,2e-9\n", "r,a,1,2,1,2,400,0.52,3e-9\n", "r,a,1,2,2,2,400,0.7,3e-9\n" };
    char csv[1024] = "run,device,seed,task,eval_task,epoch,samples_seen,accuracy,energy_per_sample_J\n";
    for (int i = 0; i < 6; i++) strcat(csv, rows[i]);
    xb_plot p = { 0 };
    xb_err err = { 0 };
    CU_ASSERT_FATAL(make_plot(XB_PLOT_ENERGY_ACCURACY, csv, "seq.csv", &p, &err, NULL, NULL) == XB_OK);
    CU_ASSERT(strstr(p.report, "energy_per_sample_J=3e-09\taccuracy=0.6100\tsd=0.0000\tn=1\t") != NULL);
    xb_plot_clear(&p);
    char nos[1024] = "run,device,seed,task,eval_task,epoch,accuracy,energy_per_sample_J\n";
    for (int i = 0; i < 6; i++) {                       /* drop the samples_seen field */
        char line[64];
        snprintf(line, sizeof line, "%s", rows[i]);
        char *c6 = line;
        for (int k = 0; k < 6; k++) c6 = strchr(c6, ',') + 1;
        memmove(c6, strchr(c6, ',') + 1, strlen(strchr(c6, ',') + 1) + 1);
        strcat(nos, line);
    }
    CU_ASSERT_FATAL(make_plot(XB_PLOT_ENERGY_ACCURACY, nos, "seq2.csv", &p, &err, NULL, NULL) == XB_OK);
    CU_ASSERT(strstr(p.report, "energy_per_sample_J=3e-09\taccuracy=0.6100\tsd=0.0000\tn=1\t") != NULL);
    xb_plot_clear(&p);
    char path[4096];                                    /* learning: x = samples_seen */
    xb_test_write("seq3.csv", csv, strlen(csv), path, sizeof path);
    const char *in[1] = { path };
    const xb_plot_opts o = { .kind = XB_PLOT_LEARNING, .logx = -1, .logy = -1, .table = 1 };
    CU_ASSERT_FATAL(xb_plot_make(&o, in, 1, &p, &err) == XB_OK);
    CU_ASSERT_STRING_EQUAL(p.report, "# series\tx\ty (mean)\tsd\tn\n"
                           "eval_task=1\t100\t0.5\t0\t1\n" "eval_task=1\t200\t0.6\t0\t1\n"
                           "eval_task=1\t300\t0.55\t0\t1\n" "eval_task=1\t400\t0.52\t0\t1\n"
                           "eval_task=2\t300\t0.3\t0\t1\n" "eval_task=2\t400\t0.7\t0\t1\n");
    xb_plot_clear(&p);
}

/* Two runs that results.csv does not tell apart (a swept key missing from its columns)
 * merge; --color file keeps them apart, named by their directories. */
static void test_file_column(void)
{
    const char *a = "seed,epoch,accuracy,energy_per_sample_J\n1,1,0.5,1e-9\n";
    const char *b = "seed,epoch,accuracy,energy_per_sample_J\n1,1,0.7,3e-9\n";
    char d[4096], pa[4200], pb[4200];
    xb_test_path("runA", d, sizeof d);
    CU_ASSERT_FATAL(mkdir(d, 0700) == 0);
    snprintf(pa, sizeof pa, "%s/results.csv", d);
    xb_test_path("runB.csv", pb, sizeof pb);
    FILE *f = fopen(pa, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(a, f);
    fclose(f);
    xb_test_write("runB.csv", b, strlen(b), pb, sizeof pb);
    const char *in[2] = { pa, pb };
    xb_plot_opts o = { .kind = XB_PLOT_ENERGY_ACCURACY, .logx = -1, .logy = -1 };
    xb_plot p = { 0 };
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_plot_make(&o, in, 2, &p, &err) == XB_OK);
    CU_ASSERT(strstr(p.report, "accuracy=0.6000\tsd=0.0000\tn=1\t(one configuration)") != NULL); /* one run */
    xb_plot_clear(&p);
    o.color = "file";
    CU_ASSERT_FATAL(xb_plot_make(&o, in, 2, &p, &err) == XB_OK);
    CU_ASSERT(strstr(p.report, "accuracy=0.5000\tsd=0.0000\tn=1\tfile=runA\n") != NULL);
    CU_ASSERT(strstr(p.report, "accuracy=0.7000\tsd=0.0000\tn=1\tfile=runB\n") != NULL);
    xb_plot_clear(&p);
}

/* The accuracy matrix: heatmap --x eval_task --y task takes the last point of each training
 * task (epochs restart per task), averages seeds; --where keeps only meta_m = 10. */
static void test_accuracy_matrix(void)
{
    const char *csv = "meta_m,seed,task,eval_task,epoch,samples_seen,accuracy\n"
        "10,1,1,1,1,100,0.10\n" "10,1,1,1,2,200,0.90\n"                        /* end of task 1 */
        "10,1,2,1,1,300,0.70\n" "10,1,2,2,1,300,0.40\n"
        "10,1,2,1,2,400,0.50\n" "10,1,2,2,2,400,0.80\n"                        /* end of task 2 */
        "10,2,1,1,2,200,0.80\n" "10,2,2,1,2,400,0.70\n" "10,2,2,2,2,400,0.60\n"
        "0,1,1,1,2,200,0.01\n" "0,1,2,1,2,400,0.01\n" "0,1,2,2,2,400,0.01\n"; /* dropped */
    char path[4096];
    xb_test_write("am.csv", csv, strlen(csv), path, sizeof path);
    const char *in[1] = { path };
    const xb_plot_opts o = { .kind = XB_PLOT_HEATMAP, .logx = -1, .logy = -1, .x = "eval_task",
                             .y = "task", .z = "accuracy", .where = "meta_m=10.0", .table = 1 };
    xb_plot p = { 0 };
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_plot_make(&o, in, 1, &p, &err) == XB_OK);
    CU_ASSERT_STRING_EQUAL(p.report, "# eval_task\ttask\taccuracy (mean)\tn\n"
                                     "1\t1\t0.85\t2\n" "1\t2\t0.6\t2\n" "2\t2\t0.7\t2\n");
    xb_plot_clear(&p);
    xb_plot_opts bad = o;
    bad.where = "meta_m=3";
    CU_ASSERT(xb_plot_make(&bad, in, 1, &p, &err) == XB_EINVAL && strstr(err.msg, "no row matches"));
    bad.where = "nosuch=1";
    CU_ASSERT(xb_plot_make(&bad, in, 1, &p, &err) == XB_EINVAL && strstr(err.msg, "no column 'nosuch'"));
}

/* Pulse response: mean and sample sd over devices at each pulse (in the file's unit, S),
 * rows in any order; the initial row (polarity 0) draws no polarity line. */
static void test_pulse_response_table(void)
{
    const char *csv = "device,pulse,polarity,conductance_S,energy_J\n"
                      "0,0,0,1e-6,0\n" "1,0,0,3e-6,0\n" "0,1,1,2e-6,1e-12\n" "1,1,1,6e-6,1e-12\n"
                      "1,2,-1,5e-6,1e-12\n" "0,2,-1,1e-6,1e-12\n";
    char path[4096];
    xb_test_write("pr.csv", csv, strlen(csv), path, sizeof path);
    const char *in[1] = { path };
    const xb_plot_opts o = { .kind = XB_PLOT_PULSE_RESPONSE, .logx = -1, .logy = -1, .table = 1 };
    xb_plot p = { 0 };
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_plot_make(&o, in, 1, &p, &err) == XB_OK);
    static char want[3 * 4096 + 256];
    snprintf(want, sizeof want, "# file\tpulse\tconductance_S (mean)\tsd\tn\n"
             "%s\t0\t2e-06\t1.41421e-06\t2\n" "%s\t1\t4e-06\t2.82843e-06\t2\n"
             "%s\t2\t3e-06\t2.82843e-06\t2\n", path, path, path);
    CU_ASSERT_STRING_EQUAL(p.report, want);
    xb_plot_clear(&p);
}

/* Energy breakdown: ledger parts (e_*_J, energy_*_J; not totals) as shares of their sum,
 * per configuration, mean over seeds first: b: a = 3, b = 1 -> 75 / 25 %. */
static void test_energy_breakdown(void)
{
    const char *csv = "device,seed,epoch,e_a_J,e_b_J,e_c_J,energy_total_J,energy_per_sample_J\n"
                      "x,1,1,9,9,0,18,1\n" "x,1,2,1,3,0,4,1\n"
                      "y,1,2,2,2,0,4,1\n" "y,2,2,4,0,0,4,1\n";
    char path[4096];
    xb_test_write("eb.csv", csv, strlen(csv), path, sizeof path);
    const char *in[1] = { path };
    const xb_plot_opts o = { .kind = XB_PLOT_ENERGY_BREAKDOWN, .logx = -1, .logy = -1, .table = 1 };
    xb_plot p = { 0 };
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_plot_make(&o, in, 1, &p, &err) == XB_OK);
    CU_ASSERT_STRING_EQUAL(p.report, "# configuration\tpart\tshare (%)\n"
                           "device=x\te_a_J\t25\n" "device=x\te_b_J\t75\n" "device=x\te_c_J\t0\n"
                           "device=y\te_a_J\t75\n" "device=y\te_b_J\t25\n" "device=y\te_c_J\t0\n");
    xb_plot_clear(&p);
    const char *none = "device,accuracy,energy_per_sample_J\nx,0.5,1e-9\n";
    xb_test_write("eb0.csv", none, strlen(none), path, sizeof path);
    CU_ASSERT(xb_plot_make(&o, in, 1, &p, &err) == XB_EINVAL && strstr(err.msg, "no energy ledger columns"));
}

/* A horizontal bar covers the pixels its ends give: 20..60 on a 0..100 axis, centred. */
static void test_hbars_pixels(void)
{
    xb_figure *f;
    xb_err err = { 0 };
    const xb_rgb red = { 1, 0, 0 };
    CU_ASSERT_FATAL(xb_figure_alloc(&f, 640, 480, &err) == XB_OK);
    CU_ASSERT(xb_figure_range(f, XB_AXIS_X, 0, 100, &err) == XB_OK);
    CU_ASSERT(xb_figure_range(f, XB_AXIS_Y, -1, 1, &err) == XB_OK);
    const double y = 0, x0 = 20, x1 = 60;
    const xb_style s = { .color = red };
    CU_ASSERT(xb_figure_hbars(f, NULL, &y, &x0, &x1, 1, 0.5, &s, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_figure_render(f, &err) == XB_OK);
    double box[4], cx, cy;
    xb_figure_plot_area(f, box);
    const size_t n = find_colour(f, red, &cx, &cy);
    const double w = 0.4 * (box[2] - box[0]), h = 0.25 * (box[3] - box[1]);
    CU_ASSERT(fabs((double)n - w * h) <= 2 * (w + h) + 4);   /* the white seam eats the rim */
    CU_ASSERT(fabs(cx - (box[0] + 0.4 * (box[2] - box[0]))) <= 0.5);
    CU_ASSERT(fabs(cy - 0.5 * (box[1] + box[3])) <= 0.5);
    xb_figure_free(f);
}

/* Scaling: sizes from "AxB" shapes (or a size field), repeats averaged, and the GSL
 * log-log slope in the report. Repeats at t*1.1 and t/1.1 average to t times a constant,
 * so time = 3*size gives slope 1 and time = size^2 slope 2, exactly. */
static void test_scaling_slope(void)
{
    char buf[4096] = "# bench\n";
    for (int n = 16; n <= 256; n *= 2)
        for (int rep = 0; rep < 2; rep++) {
            const double size = (double)n * n, j = rep ? 1.1 : 1 / 1.1;
            char line[256];
            snprintf(line, sizeof line, "{\"bench\":\"lin\",\"shape\":\"%dx%d\",\"time_us\":%.17g}\n"
                     "{\"bench\":\"quad\",\"shape\":\"%dx%d\",\"time_us\":%.17g}\n",
                     n, n, 3 * size * j, n, n, size * size * j);
            strcat(buf, line);
        }
    xb_plot p = { 0 };
    xb_err err = { 0 };
    CU_ASSERT_FATAL(make_plot(XB_PLOT_SCALING, buf, "s.jsonl", &p, &err, NULL, NULL) == XB_OK);
    CU_ASSERT_FATAL(p.report != NULL);
    CU_ASSERT(strstr(p.report, "slope 1.000\tlin\t") != NULL);
    CU_ASSERT(strstr(p.report, "slope 2.000\tquad\t") != NULL);
    CU_ASSERT(strstr(p.report, "5 sizes") != NULL);          /* repeats merged: 16..256 */
    xb_plot_clear(&p);
    strcat(buf, "{\"bench\":\"lin\",\"shape\":\"8x8\",\"time_us\":192,\"ref_us\":64}\n"
                "{\"bench\":\"lin\",\"shape\":\"16x16\",\"ref_us\":512}\n");
    CU_ASSERT_FATAL(make_plot(XB_PLOT_SCALING, buf, "s2.jsonl", &p, &err, NULL, "time_us,ref_us") == XB_OK);
    CU_ASSERT(strstr(p.report, "slope 1.000\tlin, time_us\t") != NULL);   /* 8x8 joins the line */
    CU_ASSERT(strstr(p.report, "slope 1.500\tlin, ref_us\t") != NULL);    /* 64 -> 512: 2^3 over 2^2 */
    CU_ASSERT(strstr(p.report, "slope 2.000\tquad, time_us\t") != NULL);
    xb_plot_clear(&p);
}

/* Every allocation failure on the way to a figure is reported and leaks nothing
 * (LeakSanitizer checks the latter in `make check-asan`). */
static void test_alloc_failures(void)
{
    const char *csv = "device,seed,epoch,accuracy,energy_per_sample_J\n"
                      "a,1,2,0.80,1e-9\nb,1,2,0.70,1e-10\nb,2,2,0.72,1e-10\n";
    char path[4096];
    xb_test_write("fail.csv", csv, strlen(csv), path, sizeof path);
    const char *in[1] = { path };
    const xb_plot_opts o = { .kind = XB_PLOT_ENERGY_ACCURACY, .logx = -1, .logy = -1 };
    long k = 0;
    for (;; k++) {
        xb_plot p = { 0 };
        xb_err err = { 0 };
        xb_mem_fail_nth(k);
        const xb_status st = xb_plot_make(&o, in, 1, &p, &err);
        xb_mem_fail_nth(-1);
        if (st == XB_OK) { CU_ASSERT(p.fig != NULL); xb_plot_clear(&p); break; }
        CU_ASSERT(st == XB_ENOMEM && p.fig == NULL && err.msg[0] != '\0');
        if (st != XB_ENOMEM || k > 100000) break;
    }
    CU_ASSERT(k > 20);                      /* the loop did reach the plot code's allocations */
}

/* cairo's font caches are released at exit, before LeakSanitizer looks (it was set up
 * before this constructor, so its exit check runs after this handler). */
__attribute__((constructor)) static void plots_cleanup_at_exit(void) { atexit(xb_figure_cleanup); }

XB_SUITE(plots, XB_TEST(test_map_linear_log), XB_TEST(test_log_ticks_decades),
         XB_TEST(test_linear_ticks_nice), XB_TEST(test_markers_linear), XB_TEST(test_markers_log),
         XB_TEST(test_auto_log_axis), XB_TEST(test_sweep_results_columns), XB_TEST(test_legend_hides_nothing), XB_TEST(test_heatmap_cells),
         XB_TEST(test_pareto_hand_cases),
         XB_TEST(test_pareto_matches_definition), XB_TEST(test_png_roundtrip),
         XB_TEST(test_bad_input), XB_TEST(test_energy_accuracy_reduction),
         XB_TEST(test_sweep_learning_table), XB_TEST(test_task_sequence), XB_TEST(test_file_column),
         XB_TEST(test_accuracy_matrix), XB_TEST(test_pulse_response_table),
         XB_TEST(test_energy_breakdown), XB_TEST(test_hbars_pixels),
         XB_TEST(test_scaling_slope),
         XB_TEST(test_alloc_failures))
