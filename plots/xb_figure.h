/* plots/xb_figure.h: a small figure API for paper-draft plots, drawn with cairo and
 * written as PNG with libpng (or as PDF/SVG through cairo's vector surfaces).
 *
 * A figure is one plot area with an x and a y axis (linear or log10), any number of
 * series (markers, lines, error bars, filled bands, horizontal bars), text annotations, an optional
 * heatmap with a colour bar, a legend and a title. The figure copies everything it is
 * given: the caller's arrays may be freed after each call. Nothing is drawn until
 * xb_figure_render(); ranges left automatic are then fixed from the data (5 % margins on
 * linear axes, whole decades on log axes) and the layout (margins from the measured
 * text; the legend at the first of the corners, edge middles and centre of the plot
 * area where it hides no data, else outside on the right) is computed. After rendering, xb_figure_to_pixel() maps data to the pixels used.
 *
 * Data -> pixel is the pure function xb_map_apply(): linear, or linear in log10(v).
 * Log axes need positive values: a series with a non-positive value on a log axis is
 * refused when it is added (XB_ERANGE, naming the series and the value).
 *
 * Default colours are the Okabe-Ito palette (distinguishable with the common colour
 * vision deficiencies) and each default style also changes marker (and dash), so series
 * stay apart in greyscale. Heatmaps use a viridis-like map (monotone in lightness).
 *
 * Not thread-safe per figure; different figures may be used from different threads. */
#ifndef XB_FIGURE_H
#define XB_FIGURE_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"

typedef enum { XB_SCALE_LINEAR = 0, XB_SCALE_LOG10 } xb_scale;
typedef enum { XB_AXIS_X = 0, XB_AXIS_Y = 1 } xb_axis_id;

/* Map [d0, d1] (data) onto [p0, p1] (pixels); p1 < p0 for a y axis (pixels grow down). */
typedef struct xb_map { xb_scale scale; double d0, d1, p0, p1; } xb_map;
double xb_map_apply(const xb_map *m, double v);   /* NaN for v <= 0 on a log axis */

/* Tick marks of one axis. Labels are plain text; "10^-9" is drawn as 10 with a raised
 * -9. Minor ticks (log axes: 2..9 times each decade) carry no label. */
enum { XB_TICKS_MAX = 64, XB_TICK_LABEL = 32 };
typedef struct xb_ticks {
    size_t n;
    double v[XB_TICKS_MAX];
    char label[XB_TICKS_MAX][XB_TICK_LABEL];
    size_t nminor;
    double minor[XB_TICKS_MAX];
    int exp10;              /* linear axes of very large or small numbers: labels are v/10^exp10 */
} xb_ticks;
/* Nice linear ticks (steps 1, 2 or 5 times a power of ten) inside [lo, hi], about
 * `target` of them; labels carry as many decimals as the step needs. Values of 1e6 and
 * more, or all below 1e-3, are labelled as mantissas of a common 10^exp10, which the
 * figure writes once at the end of the axis ("×10^-5"). */
void xb_ticks_linear(double lo, double hi, int target, xb_ticks *t);
/* Log ticks: every decade (or every k-th if there are too many) inside [lo, hi], 0 < lo < hi,
 * labelled "10^k"; with only two decades inside, also 2 and 5 times them ("2×10^k"); with
 * fewer than two, 1-2-5 ticks labelled like %g. */
void xb_ticks_log(double lo, double hi, xb_ticks *t);
/* Automatic range around data [lo, hi]: linear axes get 5 % margins; log axes go out to
 * the enclosing decades (after a 2 % margin), so decades are labelled at both ends. */
void xb_range_nice(xb_scale s, double *lo, double *hi);

typedef struct xb_rgb { double r, g, b; } xb_rgb;
typedef enum {
    XB_MARK_NONE = 0, XB_MARK_CIRCLE, XB_MARK_SQUARE, XB_MARK_TRIANGLE, XB_MARK_DIAMOND,
    XB_MARK_TRIANGLE_DOWN, XB_MARK_CROSS, XB_MARK_PLUS, XB_MARK_RING
} xb_marker;
typedef enum { XB_LINE_NONE = 0, XB_LINE_SOLID, XB_LINE_DASH, XB_LINE_DOT, XB_LINE_DASHDOT } xb_line;
typedef enum { XB_LINE_PLAIN = 0, XB_LINE_STEPS } xb_linemode;   /* steps: Pareto staircase */

typedef struct xb_style {
    xb_rgb color;
    xb_marker marker;
    xb_line line;
    xb_linemode mode;
    double line_width, marker_size;     /* pixels at the 960x640 reference size; 0 = default */
    double alpha;                       /* 0 = opaque (1) */
    int no_legend;                      /* leave this series out of the legend */
} xb_style;

enum { XB_PALETTE_N = 7 };
xb_rgb xb_palette(size_t i);            /* Okabe-Ito, most distinct first; cycles */
/* Style k of a set: palette colour k, marker k, solid line (dashed etc. with `dash_k`). */
xb_style xb_style_default(size_t k, size_t dash_k, int with_line);
xb_rgb xb_colormap(double t);           /* viridis-like, t in [0, 1] (clamped) */

typedef struct xb_figure xb_figure;

xb_status xb_figure_alloc(xb_figure **out, int width, int height, xb_err *err);
void xb_figure_free(xb_figure *f);

/* Text is UTF-8; NULL leaves it empty. */
xb_status xb_figure_title(xb_figure *f, const char *title, xb_err *err);
xb_status xb_figure_label(xb_figure *f, xb_axis_id a, const char *label, xb_err *err);
xb_status xb_figure_scale(xb_figure *f, xb_axis_id a, xb_scale s, xb_err *err);
/* Fix the range of an axis (lo < hi; positive on a log axis). */
xb_status xb_figure_range(xb_figure *f, xb_axis_id a, double lo, double hi, xb_err *err);
/* Replace the automatic ticks of an axis with labelled ticks at given values
 * (categorical axes: device names, grid positions). */
xb_status xb_figure_ticks(xb_figure *f, xb_axis_id a, const double *v, const char *const *labels,
                          size_t n, xb_err *err);
/* Multiply every text size by k in [0.5, 3] (e.g. 1.5 for a figure printed one column wide). */
xb_status xb_figure_text_scale(xb_figure *f, double k, xb_err *err);
/* Draw y increasing downwards (matrix rows). */
void xb_figure_flip_y(xb_figure *f);

/* Add a series of n points; yerr (may be NULL) draws symmetric error bars, NaN = none.
 * Points with NaN x or y are skipped and break the line. Returns the series index in *idx
 * (may be NULL). */
xb_status xb_figure_series(xb_figure *f, const char *label, const double *x, const double *y,
                           const double *yerr, size_t n, const xb_style *s, size_t *idx,
                           xb_err *err);
/* A filled band between lo[i] and hi[i] over x[i] (in the style's colour, translucent). */
xb_status xb_figure_band(xb_figure *f, const char *label, const double *x, const double *lo,
                         const double *hi, size_t n, const xb_style *s, xb_err *err);
/* Horizontal bars: bar i spans x0[i]..x1[i] at height y[i], `height` tall (data units);
 * stacked bars are one call per segment with cumulative x0, x1. */
xb_status xb_figure_hbars(xb_figure *f, const char *label, const double *y, const double *x0,
                          const double *x1, size_t n, double height, const xb_style *s, xb_err *err);
/* Text at data point (x, y) moved by (dx, dy) pixels at the reference size (y down), on a
 * translucent white box; ha/va in {-1 left/top, 0 centre, 1 right/bottom}. */
xb_status xb_figure_text(xb_figure *f, double x, double y, double dx, double dy, const char *text,
                         int ha, int va, xb_err *err);
/* A vertical reference line at data x (dashed grey), with an optional label at the top:
 * "a|b" puts a left of the line and b right of it ("up pulses|down pulses"). */
xb_status xb_figure_vline(xb_figure *f, double x, const char *label, xb_err *err);
/* Heatmap of z (rows x cols, row-major) filling the data rectangle [x0,x1] x [y0,y1]; cell
 * (r, c) covers x in [x0 + c*dx, x0 + (c+1)*dx], y likewise with rows. NaN cells are grey.
 * annotate != 0 writes each cell's value (format like "%.3g"). One heatmap per figure. */
xb_status xb_figure_heatmap(xb_figure *f, const double *z, size_t rows, size_t cols, double x0,
                            double x1, double y0, double y1, const char *zlabel, int annotate,
                            xb_err *err);

/* Render into an ARGB32 image (cairo layout, native-endian 0xAARRGGBB words, rows of
 * `stride` bytes); the image stays valid until the next render or free. */
xb_status xb_figure_render(xb_figure *f, xb_err *err);
const uint32_t *xb_figure_pixels(const xb_figure *f, int *width, int *height, int *stride);
/* Pixel coordinates of data point (x, y) in the last render; NaN if off a log axis. */
void xb_figure_to_pixel(const xb_figure *f, double x, double y, double *px, double *py);
/* The plot area of the last render: left, top, right, bottom pixels. */
void xb_figure_plot_area(const xb_figure *f, double box[4]);
/* Ticks used by the last render. */
const xb_ticks *xb_figure_axis_ticks(const xb_figure *f, xb_axis_id a);

/* PNG provenance, written as tEXt chunks (NULL fields are left out). */
typedef struct xb_png_meta {
    const char *command;      /* the command line */
    const char *config_hash;  /* the run's config hash, or a hash of the inputs */
    const char *source;       /* input file names */
    const char *title;        /* the figure title */
} xb_png_meta;
/* Render (if not yet rendered) and write an 8-bit RGB PNG with libpng; tEXt chunks
 * Software ("xbemu VERSION (git HASH)"), Command, Config-Hash, Source, Title, and a pHYs
 * chunk of 150 dpi at the 960 x 640 reference size (6.4 inches wide, text 10-12 pt, as
 * matplotlib's defaults), so documents place it at a sensible size. */
xb_status xb_figure_write_png(xb_figure *f, const char *path, const xb_png_meta *meta,
                              xb_err *err);
/* The same figure as vector graphics, by the extension of path: .pdf (metadata: Title,
 * Creator = Software, Subject = Command, Keywords = Config-Hash and Source) or .svg (no
 * metadata). Sized in points at the PNG's 150-dpi reference. */
xb_status xb_figure_write_vector(xb_figure *f, const char *path, const xb_png_meta *meta,
                                 xb_err *err);

/* Release cairo's and fontconfig's process-wide caches, so leak checkers see a clean
 * exit. Only when no figure is alive; the next figure rebuilds them. */
void xb_figure_cleanup(void);

#endif
