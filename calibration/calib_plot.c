/* calibration/calib_plot.c: data vs fitted model overlays (`xbemu calibrate --plot`),
 * drawn with plots/xb_figure. The model curves are recomputed from the reported
 * parameters, so the figure shows what the params INI holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibration/xb_calib.h"
#include "core/xb_mem.h"
#include "plots/xb_figure.h"

enum { NGRID = 200, MAXPTS = 6000, MAXT = 64 };
#define PI2_4 2.4674011002723395
#define KB_EV 8.617333262e-5

static double par_of(const xb_calib *c, const char *name)
{
    for (size_t i = 0; i < c->npar; i++)
        if (!strcmp(c->par[i].name, name)) return c->par[i].est;
    return NAN;
}

/* Scatter of up to MAXPTS points (every k-th) as small translucent markers. */
static xb_status scatter(xb_figure *f, const char *label, const double *x, const double *y, size_t n,
                         size_t k, xb_err *err)
{
    const size_t step = n > MAXPTS ? (n + MAXPTS - 1) / MAXPTS : 1;
    double *xs = xb_malloc((n / step + 1) * sizeof *xs), *ys = xb_malloc((n / step + 1) * sizeof *ys);
    if (!xs || !ys) { xb_free(xs); xb_free(ys); return xb_fail(err, XB_ENOMEM, "out of memory"); }
    size_t m = 0;
    for (size_t i = 0; i < n; i += step) { xs[m] = x[i]; ys[m] = y[i]; m++; }
    xb_style s = xb_style_default(k, 0, 0);
    s.marker_size = 3; s.alpha = 0.35;
    const xb_status st = xb_figure_series(f, label, xs, ys, NULL, m, &s, NULL, err);
    xb_free(xs); xb_free(ys);
    return st;
}

static xb_status curve(xb_figure *f, const char *label, const double *x, const double *mu,
                       const double *lo, const double *hi, size_t n, size_t k, xb_err *err)
{
    xb_style s = xb_style_default(k, 0, 1);
    s.marker = XB_MARK_NONE; s.line_width = 2.5;
    xb_status st = XB_OK;
    if (lo) {
        xb_style b = s;
        b.alpha = 0.25;
        char bl[96];
        snprintf(bl, sizeof bl, "%s +- spread", label);
        st = xb_figure_band(f, bl, x, lo, hi, n, &b, err);
    }
    return st ? st : xb_figure_series(f, label, x, mu, NULL, n, &s, NULL, err);
}

static xb_status plot_pulse(xb_figure *f, const xb_calib *c, const xb_measurement *m, xb_err *err)
{
    size_t n = 0;
    for (size_t r = 0; r < m->nramps; r++) n += m->ramp[r].n - 1;
    double *x = xb_malloc(n * sizeof *x), *y = xb_malloc(n * sizeof *y);
    if (!x || !y) { xb_free(x); xb_free(y); return xb_fail(err, XB_ENOMEM, "out of memory"); }
    xb_status st = XB_OK;
    double gmin = INFINITY, gmax = -INFINITY;
    const double sdr = par_of(c, "dw_min_std");
    for (int d = 1; d >= -1 && !st; d -= 2) {
        size_t k = 0;
        for (size_t r = 0; r < m->nramps; r++) {
            const xb_ramp *rp = &m->ramp[r];
            if (rp->dir != d) continue;
            for (size_t i = 0; i + 1 < rp->n; i++) {
                x[k] = rp->g[i] * 1e3; y[k] = (rp->g[i + 1] - rp->g[i]) * 1e6;
                gmin = fmin(gmin, rp->g[i]); gmax = fmax(gmax, rp->g[i]);
                k++;
            }
        }
        if (k) st = scatter(f, d > 0 ? "measured up steps" : "measured down steps", x, y, k, d > 0 ? 0 : 1, err);
    }
    double gx[NGRID], mu[NGRID], lo[NGRID], hi[NGRID];
    for (int d = 1; d >= -1 && !st; d -= 2) {
        for (int i = 0; i < NGRID; i++) {
            const double g = gmin + (gmax - gmin) * i / (NGRID - 1);
            const double s = xb_calib_pulse_step(c, g, d);
            gx[i] = g * 1e3; mu[i] = s * 1e6;
            const double sd = fabs(s) * (isfinite(sdr) ? sdr : 0) * 1e6;
            lo[i] = mu[i] - sd; hi[i] = mu[i] + sd;
        }
        st = curve(f, d > 0 ? "fitted mean step, up" : "fitted mean step, down", gx, mu, lo, hi, NGRID,
                   d > 0 ? 0 : 1, err);
    }
    xb_free(x); xb_free(y);
    if (!st) st = xb_figure_label(f, XB_AXIS_X, "conductance before the pulse G (mS)", err);
    if (!st) st = xb_figure_label(f, XB_AXIS_Y, "conductance change per pulse (uS)", err);
    return st;
}

static xb_status plot_ftj(xb_figure *f, const xb_calib *c, const xb_measurement *m, xb_err *err)
{
    size_t n = 0;
    double kmax = 0;
    for (size_t r = 0; r < m->nramps; r++) n += m->ramp[r].n;
    double *x = xb_malloc(n * sizeof *x), *y = xb_malloc(n * sizeof *y);
    if (!x || !y) { xb_free(x); xb_free(y); return xb_fail(err, XB_ENOMEM, "out of memory"); }
    size_t k = 0;
    for (size_t r = 0; r < m->nramps; r++) {
        const xb_ramp *rp = &m->ramp[r];
        if (rp->dir < 0) continue;
        for (size_t i = 0; i < rp->n; i++, k++) {
            x[k] = rp->pulse ? rp->pulse[i] - rp->pulse[0] : (double)i;
            y[k] = rp->g[i] * 1e6;
            kmax = fmax(kmax, x[k]);
        }
    }
    xb_status st = scatter(f, "measured (one ramp per device)", x, y, k, 0, err);
    xb_free(x); xb_free(y);
    double kx[NGRID], mu[NGRID], sd[NGRID], lo[NGRID], hi[NGRID];
    for (int i = 0; i < NGRID; i++) kx[i] = kmax * i / (NGRID - 1);
    if (!st) st = xb_calib_ftj_curve(c, kx, NGRID, mu, sd, err);
    for (int i = 0; i < NGRID && !st; i++) {
        mu[i] *= 1e6; sd[i] *= 1e6; lo[i] = mu[i] - sd[i]; hi[i] = mu[i] + sd[i];
    }
    if (!st) st = curve(f, "fitted mean (NLS)", kx, mu, lo, hi, NGRID, 1, err);
    if (!st) st = xb_figure_label(f, XB_AXIS_X, "pulses", err);
    if (!st) st = xb_figure_label(f, XB_AXIS_Y, "G (uS)", err);
    return st;
}

static xb_status plot_dw(xb_figure *f, const xb_calib *c, const xb_measurement *m, xb_err *err)
{
    /* the first device's sequence (or the first 400 reads) */
    double x[400], y[400];
    size_t n = 0;
    for (size_t r = 0; r < m->nramps && n < 400; r++) {
        const xb_ramp *rp = &m->ramp[r];
        if (r > 0 && (rp->device != m->ramp[0].device || rp->device == 0)) break;
        for (size_t i = r > 0 ? 1 : 0; i < rp->n && n < 400; i++, n++) { x[n] = (double)n; y[n] = rp->g[i] * 1e6; }
    }
    xb_style s = xb_style_default(0, 0, 1);
    s.marker_size = 4;
    xb_status st = xb_figure_series(f, "measured reads (first device)", x, y, NULL, n, &s, NULL, err);
    const double gp = par_of(c, "g_p"), gap = par_of(c, "g_ap"), sig = par_of(c, "sigma");
    const int S = (int)par_of(c, "states");
    for (int k = 0; k < S && !st; k++) {
        const double g = (gap + (gp - gap) * k / (S - 1)) * 1e6, d = 1.96 * sig * (gp - gap) * 1e6;
        const double bx[2] = { 0, n ? (double)(n - 1) : 1 }, bm[2] = { g, g }, bl[2] = { g - d, g - d },
                     bh[2] = { g + d, g + d };
        xb_style b = xb_style_default(1, 0, 1);
        b.marker = XB_MARK_NONE; b.alpha = 0.2; b.no_legend = k > 0;
        st = xb_figure_band(f, "site +- 1.96 sigma (fitted)", bx, bl, bh, 2, &b, err);
        b.alpha = 0.8; b.line = XB_LINE_DASH;
        if (!st) st = xb_figure_series(f, "site", bx, bm, NULL, 2, &(xb_style){ .color = b.color,
                                       .line = XB_LINE_DASH, .no_legend = 1 }, NULL, err);
    }
    if (!st) st = xb_figure_label(f, XB_AXIS_X, "pulse", err);
    if (!st) st = xb_figure_label(f, XB_AXIS_Y, "G (uS)", err);
    return st;
}

static xb_status plot_mtj(xb_figure *f, const xb_calib *c, const xb_measurement *m, const xb_calib_opts *o,
                          xb_err *err)
{
    int cur_varies = 0;
    for (size_t i = 0; i < m->n; i++) cur_varies |= !isnan(m->cur[i]) && m->cur[i] != m->cur[0];
    double *x = xb_malloc(m->n * sizeof *x);
    if (!x) return xb_fail(err, XB_ENOMEM, "out of memory");
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < m->n; i++) {
        x[i] = cur_varies ? m->cur[i] * 1e6 : m->width[i] * 1e9;
        lo = fmin(lo, x[i]); hi = fmax(hi, x[i]);
    }
    xb_style s = xb_style_default(0, 0, 0);
    xb_status st = xb_figure_series(f, "measured", x, m->p, NULL, m->n, &s, NULL, err);
    xb_free(x);
    const int thermal = !strcmp(c->model, "stmram_thermal");
    const double delta = par_of(c, "delta"), ic0 = par_of(c, "i_c0"), taud = par_of(c, "tau_d"),
                 tau0 = par_of(c, "tau0"), ip = par_of(c, "i_pulse");
    const double N = o && o->trials > 0 ? o->trials : 1e4;
    double gx[NGRID], mu[NGRID], bl[NGRID], bh[NGRID];
    for (int i = 0; i < NGRID; i++) {
        gx[i] = lo + (hi - lo) * i / (NGRID - 1);
        const double I = cur_varies ? gx[i] * 1e-6 : ip, t = cur_varies ? m->width[0] : gx[i] * 1e-9;
        const double P = thermal ? -expm1(-(t / tau0) * exp(-delta * (1 - I / ic0)))
                                 : exp(-PI2_4 * delta * exp(-2 * (I / ic0 - 1) * t / taud));
        const double sd = sqrt(P * (1 - P) / N);
        mu[i] = P; bl[i] = fmax(P - 2 * sd, 0); bh[i] = fmin(P + 2 * sd, 1);
    }
    if (!st) st = curve(f, thermal ? "fitted (thermal)" : "fitted (precessional)", gx, mu, bl, bh, NGRID, 1, err);
    if (!st) st = xb_figure_label(f, XB_AXIS_X, cur_varies ? "pulse current (uA)" : "pulse width (ns)", err);
    if (!st) st = xb_figure_label(f, XB_AXIS_Y, "switching probability", err);
    return st;
}

typedef struct tgrp { double t, n, s1, s2; } tgrp;

/* Sample sd of a group's changes, from its count and first two sums. */
static double grp_sd(const tgrp *g)
{
    return sqrt(fmax((g->s2 - g->s1 * g->s1 / g->n) / (g->n - 1), 0));
}

/* Groups of G - G0 by nominal time (relax) or temperature (bake). */
static size_t groups(const xb_measurement *m, int bake, tgrp *g)
{
    size_t ng = 0;
    for (size_t i = 0; i < m->n; i++) {
        const double key = bake ? m->temp[i] : m->tnom[i];
        if (!bake && !(key > 0)) continue;
        size_t k = 0;
        while (k < ng && g[k].t != key) k++;
        if (k == ng) { if (ng == MAXT) continue; g[ng++] = (tgrp){ key, 0, 0, 0 }; }
        const double d = m->g[i] - m->g0[i];
        g[k].n++; g[k].s1 += d; g[k].s2 += d * d;
    }
    for (size_t a = 0; a < ng; a++)                 /* sort by key */
        for (size_t b = a + 1; b < ng; b++)
            if (g[b].t < g[a].t) { tgrp t = g[a]; g[a] = g[b]; g[b] = t; }
    return ng;
}

static xb_status plot_relax(xb_figure *f, const xb_calib *c, const xb_measurement *m, xb_err *err)
{
    tgrp g[MAXT];
    const size_t ng = groups(m, 0, g);
    double t[MAXT], mean[MAXT], sd[MAXT];
    size_t k = 0;
    for (size_t i = 0; i < ng; i++) {
        if (g[i].n < 3) continue;
        t[k] = g[i].t; mean[k] = g[i].s1 / g[i].n * 1e6;
        sd[k] = grp_sd(&g[i]) * 1e6;
        k++;
    }
    if (k < 2) return xb_fail(err, XB_EINVAL, "--plot: fewer than 2 time points");
    xb_status st = xb_figure_scale(f, XB_AXIS_X, XB_SCALE_LOG10, err);
    xb_style s = xb_style_default(0, 0, 0);
    if (!st) st = xb_figure_series(f, "measured mean +- sd of G(t) - G(0)", t, mean, sd, k, &s, NULL, err);
    const double a = par_of(c, "relax_a"), t1 = par_of(c, "relax_t1"), cc = par_of(c, "drift_c"),
                 t2 = par_of(c, "drift_t2");
    double gx[NGRID], mu[NGRID], lo[NGRID], hi[NGRID];
    for (int i = 0; i < NGRID; i++) {
        gx[i] = t[0] * pow(t[k - 1] / t[0], (double)i / (NGRID - 1));
        mu[i] = cc * log1p(gx[i] / t2) * 1e6;
        const double sr = a * log1p(gx[i] / t1) * 1e6;
        lo[i] = mu[i] - sr; hi[i] = mu[i] + sr;
    }
    if (!st) st = curve(f, "fitted drift c ln(1+t/t2)", gx, mu, lo, hi, NGRID, 1, err);
    if (!st) st = xb_figure_label(f, XB_AXIS_X, "time after programming (s)", err);
    if (!st) st = xb_figure_label(f, XB_AXIS_Y, "G(t) - G(0) (uS)", err);
    return st;
}

static xb_status plot_bake(xb_figure *f, const xb_calib *c, const xb_measurement *m, xb_err *err)
{
    tgrp g[MAXT];
    const size_t ng = groups(m, 1, g);
    double T[MAXT], sd[MAXT], se[MAXT];
    size_t k = 0;
    for (size_t i = 0; i < ng; i++) {
        if (g[i].n < 3) continue;
        T[k] = g[i].t - 273.15;
        sd[k] = grp_sd(&g[i]) * 1e6;
        se[k] = sd[k] / sqrt(2 * (g[i].n - 1));
        k++;
    }
    if (k < 2) return xb_fail(err, XB_EINVAL, "--plot: fewer than 2 bake temperatures");
    xb_style s = xb_style_default(0, 0, 0);
    xb_status st = xb_figure_series(f, "measured sd of the change (+- se)", T, sd, se, k, &s, NULL, err);
    const double ea = par_of(c, "bake_ea"), A = par_of(c, "bake_a");
    double gx[NGRID], mu[NGRID];
    for (int i = 0; i < NGRID; i++) {
        gx[i] = T[0] + (T[k - 1] - T[0]) * i / (NGRID - 1);
        mu[i] = A * exp(-ea / (KB_EV * (gx[i] + 273.15))) * 1e6;
    }
    if (!st) st = curve(f, "fitted Arrhenius A exp(-E_a/kT)", gx, mu, NULL, NULL, NGRID, 1, err);
    if (!st) st = xb_figure_label(f, XB_AXIS_X, "bake temperature (C)", err);
    if (!st) st = xb_figure_label(f, XB_AXIS_Y, "sd of G(after) - G(before) (uS)", err);
    return st;
}

xb_status xb_calib_plot(const xb_calib *c, const xb_measurement *m, const xb_calib_opts *o,
                        const char *path, xb_err *err)
{
    const char *md = c->model;
    const int pulse = !strcmp(md, "linear") || !strcmp(md, "softbounds") || !strcmp(md, "expstep");
    if (pulse && m->kind != XB_MEAS_RAMPS)
        return xb_fail(err, XB_EINVAL, "--plot: no overlay for a dG table (ramps only)");
    if (!pulse && strcmp(md, "ftj") && strcmp(md, "dw") && strcmp(md, "stmram") &&
        strcmp(md, "stmram_thermal") && strcmp(md, "relax") && strcmp(md, "bake"))
        return xb_fail(err, XB_EINVAL, "--plot: no overlay for model '%s' (pulse models, stmram, "
                       "relax, bake, ftj, dw)", md);
    xb_figure *f;
    xb_status st = xb_figure_alloc(&f, 960, 640, err);
    if (st) return st;
    char title[160];
    snprintf(title, sizeof title, "%s fit: %.100s", md, c->data);
    st = xb_figure_title(f, title, err);
    if (!st) {
        if (pulse) st = plot_pulse(f, c, m, err);
        else if (!strcmp(md, "ftj")) st = plot_ftj(f, c, m, err);
        else if (!strcmp(md, "dw")) st = plot_dw(f, c, m, err);
        else if (!strcmp(md, "relax")) st = plot_relax(f, c, m, err);
        else if (!strcmp(md, "bake")) st = plot_bake(f, c, m, err);
        else st = plot_mtj(f, c, m, o, err);
    }
    const size_t l = strlen(path);
    const int vec = l > 4 && (!strcmp(path + l - 4, ".pdf") || !strcmp(path + l - 4, ".svg"));
    const xb_png_meta meta = { .command = "xbemu calibrate --plot", .source = c->data, .title = title };
    if (!st) st = vec ? xb_figure_write_vector(f, path, &meta, err) : xb_figure_write_png(f, path, &meta, err);
    xb_figure_free(f);
    xb_figure_cleanup();           /* fontconfig caches (leak checkers); rebuilt on demand */
    return st;
}
