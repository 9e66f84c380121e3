/* calibration/hfox_fit.c: HfOx weak-RESET model (DEVICES.md 2 and 10). Per device, the
 * mean law of ln R vs cumulative reset pulses t,
 *     ln R = b + m1 min(t, t*) + m2 max(t - t*, 0),      b = ln R0 + c1,
 * is fitted (t* profiled on a grid with (b, m1, m2) linear, then all four refined by GSL
 * nlinear); then the population distributions the device draws from: m1 and m2
 * exponential (loc = sample minimum, scale = mean - min: the MLE of a shifted
 * exponential), t* lognormal (MLE), R0 normal, each with a KS test of the per-device
 * values against the fitted law. R0 and c1 enter only as ln R0 + c1, so c1 is set to 0
 * and R0 carries the offset spread (said in the report). RTN and 1/f noise are left in
 * the residuals; their sd in ln R is reported. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "calibration/xb_calib.h"
#include "calibration/xb_fit.h"
#include "core/xb_mem.h"

#define XB_2PI 6.283185307179586

typedef struct hctx { size_t n; const double *t, *y; double T; } hctx;

static double hmean(const double *th, double T, double t)
{
    const double ts = th[3] * T;
    return th[0] + th[1] / T * fmin(t, ts) + th[2] / T * fmax(t - ts, 0);
}

static int hresid(const double *th, void *ctx, double *r)
{
    const hctx *c = ctx;
    for (size_t i = 0; i < c->n; i++) r[i] = c->y[i] - hmean(th, c->T, c->t[i]);
    return 0;
}

/* Best (b, m1, m2) for a given knee by least squares; returns the SSE. */
static double knee_ls(const double *t, const double *y, size_t n, double ts, double *b3)
{
    double A[3][3] = { { 0 } }, v[3] = { 0 };
    for (size_t i = 0; i < n; i++) {
        const double x[3] = { 1, fmin(t[i], ts), fmax(t[i] - ts, 0) };
        for (int a = 0; a < 3; a++) { v[a] += x[a] * y[i]; for (int b = 0; b < 3; b++) A[a][b] += x[a] * x[b]; }
    }
    /* 3x3 solve by Cramer's rule: small and well scaled enough for a starting point */
    const double det = A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) -
                       A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
                       A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
    if (!(fabs(det) > 0)) return INFINITY;
    for (int k = 0; k < 3; k++) {
        double M[3][3];
        memcpy(M, A, sizeof M);
        for (int a = 0; a < 3; a++) M[a][k] = v[a];
        b3[k] = (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) -
                 M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
                 M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])) / det;
    }
    double sse = 0;
    for (size_t i = 0; i < n; i++) {
        const double e = y[i] - b3[0] - b3[1] * fmin(t[i], ts) - b3[2] * fmax(t[i] - ts, 0);
        sse += e * e;
    }
    return sse;
}

static int cmpd(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double ks_of(double *v, size_t n, int law, double p1, double p2)
{
    qsort(v, n, sizeof *v, cmpd);
    double D = 0;
    for (size_t i = 0; i < n; i++) {
        const double F = law == 0 ? gsl_cdf_exponential_P(v[i] - p1, p2)
                       : law == 1 ? gsl_cdf_lognormal_P(v[i], log(p2), p1)
                                  : gsl_cdf_gaussian_P(v[i] - p1, p2);
        D = fmax(D, fmax((double)(i + 1) / n - F, F - (double)i / n));
    }
    return D;
}

static void put(xb_calib *c, const char *name, const char *unit, double est, double se,
                double lo, double hi, xb_cal_kind kind)
{
    if (c->npar >= XB_CAL_MAXPAR) return;
    xb_cal_par *p = &c->par[c->npar++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->unit = unit; p->est = est; p->se = se; p->lo = lo; p->hi = hi; p->kind = kind;
    p->device_key = 1;
}


/* Per-device fit of ramp r: theta (b, m1, m2, t*) with 95 % intervals; residual sd. */
xb_status xb_calib_hfox_one(const xb_ramp *rp, double est[4], double lo[4], double hi[4],
                            double *resid_sd, double *ll, xb_err *err)
{
    const size_t n = rp->n;
    double *t = xb_malloc(n * sizeof *t), *y = xb_malloc(n * sizeof *y);
    if (!t || !y) { xb_free(t); xb_free(y); return xb_fail(err, XB_ENOMEM, "out of memory"); }
    for (size_t k = 0; k < n; k++) {
        t[k] = rp->pulse ? rp->pulse[k] : (double)k;
        y[k] = -log(rp->g[k]);                      /* ln R */
    }
    const double T = fmax(t[n - 1], 1);
    double best = INFINITY, b3[3], th[4] = { y[0], 0, 0, 0.5 };
    const size_t step = n > 200 ? n / 200 : 1;
    for (size_t k = 2; k + 2 < n; k += step) {
        const double sse = knee_ls(t, y, n, t[k], b3);
        if (sse < best) { best = sse; th[0] = b3[0]; th[1] = b3[1] * T; th[2] = b3[2] * T; th[3] = t[k] / T; }
    }
    hctx c = { n, t, y, T };
    xb_fit_problem pb = { .n = n, .p = 4, .resid = hresid, .ctx = &c, .maxiter = 300 };
    xb_fit f;
    xb_status st = n > 5 ? xb_fit_solve(&pb, th, &f, err)
                         : xb_fail(err, XB_EINVAL, "line %d: %zu reads; the piecewise law needs 6", rp->line, n);
    if (!st) {
        const double sc[4] = { 1, 1 / T, 1 / T, T };
        for (int k = 0; k < 4; k++) { est[k] = f.theta[k] * sc[k]; lo[k] = f.lo[k] * sc[k]; hi[k] = f.hi[k] * sc[k]; }
        *resid_sd = sqrt(f.chi2 / n);
        *ll = -0.5 * n * (log(XB_2PI * f.chi2 / n) + 1);
    }
    xb_free(t); xb_free(y);
    return st;
}

xb_status xb_calib_hfox(const xb_measurement *m, xb_calib *out, xb_err *err)
{
    if (m->kind != XB_MEAS_RAMPS || m->nramps < 3)
        return xb_fail(err, XB_EINVAL, "%s: hfox needs R (or G) vs cumulative reset pulses of at "
                       "least 3 devices (--columns ramp=..,pulse=..,resistance=..)", m->name);
    const size_t nd = m->nramps;
    double *v = xb_malloc(5 * nd * sizeof *v);
    if (!v) return xb_fail(err, XB_ENOMEM, "out of memory");
    double *b = v, *m1 = v + nd, *m2 = v + 2 * nd, *ts = v + 3 * nd, *sd = v + 4 * nd;
    double ll = 0;
    size_t ok = 0, npts = 0;
    memset(out, 0, sizeof *out);
    for (size_t r = 0; r < nd; r++) {
        double est[4], lo[4], hi[4], s, l;
        xb_err e2 = { 0 };
        if (xb_calib_hfox_one(&m->ramp[r], est, lo, hi, &s, &l, &e2)) continue;
        b[ok] = est[0]; m1[ok] = est[1]; m2[ok] = est[2]; ts[ok] = est[3]; sd[ok] = s;
        ll += l; npts += m->ramp[r].n; ok++;
    }
    if (ok < 3) { xb_free(v); return xb_fail(err, XB_ENUMERIC, "%s: only %zu devices could be fitted", m->name, ok); }
    snprintf(out->model, sizeof out->model, "hfox");
    snprintf(out->device, sizeof out->device, "hfox");
    snprintf(out->data, sizeof out->data, "%s", m->name);
    out->n = npts; out->k = 5 * ok; out->loglik = ll;
    out->aic = 2.0 * out->k - 2 * ll; out->bic = out->k * log((double)npts) - 2 * ll;
    out->r2 = out->r2_traj = out->chi2_red = out->rmse = out->ks_d = out->ks_p = NAN;
    out->converged = 1; out->cov_ok = 1;
    const double n = (double)ok, tq = 1.959963984540054;
    /* m1, m2: shifted exponential MLE, scale se = scale / sqrt(n) */
    double *laws[2] = { m1, m2 };
    const char *nm[2] = { "m1", "m2" };
    for (int k = 0; k < 2; k++) {
        double mn = INFINITY, mx = -INFINITY, s = 0;
        for (size_t i = 0; i < ok; i++) { mn = fmin(mn, laws[k][i]); mx = fmax(mx, laws[k][i]); s += laws[k][i]; }
        const double loc = fmax(mn, 0), sc = fmax(s / n - loc, 1e-12);
        char key[32];
        snprintf(key, sizeof key, "%s_loc", nm[k]); put(out, key, "1/pulse", loc, NAN, NAN, NAN, XB_CAL_FIT);
        snprintf(key, sizeof key, "%s_scale", nm[k]);
        put(out, key, "1/pulse", sc, sc / sqrt(n), sc * (1 - tq / sqrt(n)), sc * (1 + tq / sqrt(n)), XB_CAL_FIT);
        snprintf(key, sizeof key, "%s_lo", nm[k]); put(out, key, "1/pulse", loc, NAN, NAN, NAN, XB_CAL_FIXED);
        snprintf(key, sizeof key, "%s_hi", nm[k]); put(out, key, "1/pulse", fmin(1, 2 * mx), NAN, NAN, NAN, XB_CAL_FIXED);
        xb_calib_note(out, "%s: exponential, KS D = %.3f over %zu devices", nm[k], ks_of(laws[k], ok, 0, loc, sc), ok);
    }
    double s1 = 0, s2 = 0, tmin = INFINITY, tmax = 0;
    for (size_t i = 0; i < ok; i++) {
        const double l = log(fmax(ts[i], 1e-9));
        s1 += l; s2 += l * l; tmin = fmin(tmin, ts[i]); tmax = fmax(tmax, ts[i]);
    }
    const double mu = s1 / n, sig = sqrt(fmax(s2 / n - mu * mu, 1e-12));
    put(out, "t_star_s", "", sig, sig / sqrt(2 * n), sig * (1 - tq / sqrt(2 * n)), sig * (1 + tq / sqrt(2 * n)), XB_CAL_FIT);
    put(out, "t_star_scale", "pulses", exp(mu), exp(mu) * sig / sqrt(n), exp(mu - tq * sig / sqrt(n)),
        exp(mu + tq * sig / sqrt(n)), XB_CAL_FIT);
    put(out, "t_star_lo", "pulses", fmax(tmin / 2, 0), NAN, NAN, NAN, XB_CAL_FIXED);
    put(out, "t_star_hi", "pulses", 2 * tmax, NAN, NAN, NAN, XB_CAL_FIXED);
    xb_calib_note(out, "t_star: lognormal, KS D = %.3f", ks_of(ts, ok, 1, sig, exp(mu)));
    double r1 = 0, r2 = 0, rmin = INFINITY, rmax = 0;
    for (size_t i = 0; i < ok; i++) {
        const double r0 = exp(b[i]);
        b[i] = r0; r1 += r0; r2 += r0 * r0; rmin = fmin(rmin, r0); rmax = fmax(rmax, r0);
    }
    const double rm = r1 / n, rs = sqrt(fmax((r2 - n * rm * rm) / (n - 1), 0));
    put(out, "r0_mean", "ohm", rm, rs / sqrt(n), rm - tq * rs / sqrt(n), rm + tq * rs / sqrt(n), XB_CAL_FIT);
    put(out, "r0_sd", "ohm", rs, rs / sqrt(2 * (n - 1)), rs * sqrt((n - 1) / gsl_cdf_chisq_Pinv(0.975, n - 1)),
        rs * sqrt((n - 1) / gsl_cdf_chisq_Pinv(0.025, n - 1)), XB_CAL_FIT);
    put(out, "r0_lo", "ohm", rmin / 1.1, NAN, NAN, NAN, XB_CAL_FIXED);
    put(out, "r0_hi", "ohm", rmax * 1.1, NAN, NAN, NAN, XB_CAL_FIXED);
    xb_calib_note(out, "R0: normal, KS D = %.3f", ks_of(b, ok, 2, rm, rs > 0 ? rs : 1));
    put(out, "c1_mean", "", 0, NAN, NAN, NAN, XB_CAL_FIXED);
    put(out, "c1_sd", "", 1e-12, NAN, NAN, NAN, XB_CAL_FIXED);
    double sm = 0;
    for (size_t i = 0; i < ok; i++) sm += sd[i] / n;
    xb_calib_note(out, "R0 and c1 enter only as ln R0 + c1: c1 = 0 and R0 carries the offset "
                  "spread. %zu of %zu devices fitted; mean residual sd of ln R (RTN + 1/f) %.4g",
                  ok, nd, sm);
    xb_free(v);
    return XB_OK;
}
