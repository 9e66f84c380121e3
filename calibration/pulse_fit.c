/* calibration/pulse_fit.c: mean step laws of the reference pulsed devices (DEVICES.md 1)
 * fitted to measured per-pulse conductance changes.
 *
 * Why increments and not G vs pulse index: along one ramp the C2C noise of every pulse
 * stays in all later reads, so residuals of a trajectory fit are strongly correlated and
 * Jacobian intervals would be far too narrow. Given the state G_k before pulse k, the
 * change dG_k = mu(G_k) + noise has independent errors (a martingale difference), so
 * least squares on (G_k, dG_k) pairs gives honest intervals. The trajectory R^2 of the
 * iterated mean map is still reported, since that is what a plot of the ramps shows.
 *
 * Gauge: G = g_ref + w g_unit identifies only g_ref +- g_unit (the bounds in
 * conductance), so w_max = 1, w_min = -1 are fixed. linear and expstep take g_ref and
 * g_unit from the measured range (their steps do not vanish at a bound to fit it). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "calibration/xb_calib.h"
#include "calibration/xb_fit.h"
#include "core/xb_mem.h"
#include "core/xb_param.h"
#include "devices/xb_device.h"

#define XB_2PI 6.283185307179586

enum { LAW_LINEAR, LAW_SOFT, LAW_EXP };

/* Device keys of the step law, in SI / w-units. */
typedef struct dev {
    double dw_up, dw_dn;             /* magnitudes */
    double w_max, w_min, g_ref, g_unit;
    double gl_up, gl_dn;             /* LinearStep slopes gamma_up, gamma_down */
    double A_up, A_dn, ge_up, ge_dn, a, b;   /* ExpStep */
} dev;

/* Mean conductance change of one pulse in direction d from conductance G. `clamp`
 * applies the device's max(y, 0) of ExpStep (left out while fitting: it is flat). */
static double step_mean(int law, const dev *v, double G, int d, int clamp)
{
    const double w = (G - v->g_ref) / v->g_unit;
    double s;
    switch (law) {
    case LAW_SOFT: s = d > 0 ? v->dw_up * (1 - w / v->w_max) : -v->dw_dn * (1 - w / v->w_min); break;
    case LAW_EXP: {
        const double z = 2 * v->a * w / (v->w_max - v->w_min) + v->b;
        double y = d > 0 ? 1 - v->A_up * exp(v->ge_up * z) : 1 - v->A_dn * exp(-v->ge_dn * z);
        if (clamp && y < 0) y = 0;
        s = d > 0 ? v->dw_up * y : -v->dw_dn * y;
        break;
    }
    default:
        s = d > 0 ? v->dw_up * (1 - v->gl_up / v->w_max * w) : -v->dw_dn * (1 - v->gl_dn / v->w_min * w);
        break;
    }
    return s * v->g_unit;
}

static int law_of(const char *model)
{
    return !strcmp(model, "linear") ? LAW_LINEAR : !strcmp(model, "softbounds") ? LAW_SOFT
         : !strcmp(model, "expstep") ? LAW_EXP : -1;
}

/* Fit parameters theta -> device keys (normalised conductance units). */
typedef struct pctx {
    int law;
    size_t n;
    const double *x, *y, *s;         /* G_k, dG_k, residual scale (normalised) */
    const int *dir;
    double gr, gu;                   /* fixed mapping for linear / expstep */
} pctx;

static dev dev_of(const pctx *c, const double *th)
{
    dev v = { .w_max = 1, .w_min = -1, .g_ref = c->gr, .g_unit = c->gu, .a = 1, .b = 0 };
    v.dw_up = th[0] * (1 + th[1]);
    v.dw_dn = th[0] * (1 - th[1]);
    if (c->law == LAW_SOFT) { v.g_ref = th[2]; v.g_unit = th[3]; }
    if (c->law == LAW_EXP) { v.A_up = th[2]; v.A_dn = th[3]; v.ge_up = th[4]; v.ge_dn = th[5]; }
    return v;
}

static int presid(const double *th, void *ctx, double *r)
{
    const pctx *c = ctx;
    const dev v = dev_of(c, th);
    if (!(v.g_unit > 0)) return 1;
    for (size_t i = 0; i < c->n; i++)
        r[i] = (c->y[i] - step_mean(c->law, &v, c->x[i], c->dir[i], 0)) / c->s[i];
    return 0;
}

void xb_calib_note(xb_calib *c, const char *fmt, ...)
{
    const size_t l = strlen(c->notes);
    if (l + 2 >= sizeof c->notes) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->notes + l, sizeof c->notes - l - 1, fmt, ap);
    va_end(ap);
    const size_t l2 = strlen(c->notes);
    if (l2 + 1 < sizeof c->notes) { c->notes[l2] = '\n'; c->notes[l2 + 1] = '\0'; }
}

/* Increments from ramps (or the rows of a dG table), normalised by `scale`. */
typedef struct incs { size_t n; double *x, *y, *s, *sd; int *dir, *ramp; } incs;

static void incs_free(incs *d)
{
    xb_free(d->x); xb_free(d->y); xb_free(d->s); xb_free(d->sd); xb_free(d->dir); xb_free(d->ramp);
}

static xb_status incs_build(const xb_measurement *m, double scale, incs *d, xb_err *err)
{
    memset(d, 0, sizeof *d);
    size_t n = 0;
    if (m->kind == XB_MEAS_RAMPS) for (size_t r = 0; r < m->nramps; r++) n += m->ramp[r].n - 1;
    else if (m->kind == XB_MEAS_STEPS) n = m->n;
    else return xb_fail(err, XB_EINVAL, "%s: pulse models need ramps or a dG table, not %s",
                        m->name, xb_meas_kind_name(m->kind));
    d->x = xb_malloc(n * sizeof *d->x); d->y = xb_malloc(n * sizeof *d->y);
    d->s = xb_malloc(n * sizeof *d->s); d->sd = xb_malloc(n * sizeof *d->sd);
    d->dir = xb_malloc(n * sizeof *d->dir); d->ramp = xb_malloc(n * sizeof *d->ramp);
    if (!d->x || !d->y || !d->s || !d->sd || !d->dir || !d->ramp) {
        incs_free(d);
        return xb_fail(err, XB_ENOMEM, "out of memory for %zu pulse steps", n);
    }
    size_t i = 0;
    if (m->kind == XB_MEAS_RAMPS) {
        for (size_t r = 0; r < m->nramps; r++)
            for (size_t k = 0; k + 1 < m->ramp[r].n; k++, i++) {
                d->x[i] = m->ramp[r].g[k] / scale;
                d->y[i] = (m->ramp[r].g[k + 1] - m->ramp[r].g[k]) / scale;
                d->dir[i] = m->ramp[r].dir; d->ramp[i] = (int)r; d->sd[i] = NAN; d->s[i] = 1;
            }
    } else {
        for (; i < n; i++) {
            d->x[i] = m->g[i] / scale; d->y[i] = m->dg[i] / scale; d->dir[i] = m->dir[i];
            d->ramp[i] = -1; d->sd[i] = m->sd[i] / scale;
            d->s[i] = d->sd[i] > 0 ? d->sd[i] : 1;
        }
    }
    d->n = n;
    return XB_OK;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Noise model Var = sig2 mu^2 + tau2. The device model has only sig2 (multiplicative C2C);
 * tau2 is kept only if a likelihood-ratio test wants it (chi^2_1 at p = 0.001: 10.83),
 * since with few distinct mu (linear: two) the two terms are nearly collinear and a free
 * tau2 would make sig2 noisy. Returns 1 if tau2 is used. */
static double noise_ll(const double *mu, const double *r, size_t n, double s2, double t2)
{
    double ll = 0;
    for (size_t i = 0; i < n; i++) {
        const double v = fmax(s2 * mu[i] * mu[i] + t2, 1e-300);
        ll += -0.5 * (log(v) + r[i] * r[i] / v);
    }
    return ll;
}

static int noise_fit(const double *mu, const double *r, size_t n, double *sig2, double *tau2)
{
    double a = 0;                          /* sigma only: MLE mean (r/mu)^2 */
    size_t na = 0;
    for (size_t i = 0; i < n; i++)
        if (mu[i] != 0) { a += r[i] * r[i] / (mu[i] * mu[i]); na++; }
    const double s_only = na ? a / na : 0;
    double s00 = 0, s01 = 0, s11 = 0, b0 = 0, b1 = 0;   /* both: r^2 on (mu^2, 1) */
    for (size_t i = 0; i < n; i++) {
        const double m2 = mu[i] * mu[i], q = r[i] * r[i];
        s00 += m2 * m2; s01 += m2; s11 += 1; b0 += m2 * q; b1 += q;
    }
    const double det = s00 * s11 - s01 * s01;
    double s2 = det > 0 ? (b0 * s11 - b1 * s01) / det : -1, t2 = det > 0 ? (s00 * b1 - s01 * b0) / det : -1;
    if (t2 < 0) { t2 = 0; s2 = s00 > 0 ? b0 / s00 : 0; }
    if (s2 < 0) { s2 = 0; t2 = b1 / s11; }
    const double la = na == n ? noise_ll(mu, r, n, s_only, 0) : -INFINITY;
    const double lb = noise_ll(mu, r, n, s2, t2);
    if (t2 > 0 && 2 * (lb - la) > 10.83) { *sig2 = s2; *tau2 = t2; return 1; }
    *sig2 = s_only; *tau2 = 0;
    return 0;
}

xb_status xb_calib_pulse(const char *model, const xb_measurement *m, int ci, xb_calib *out, xb_err *err)
{
    const int law = law_of(model);
    if (law < 0) return xb_fail(err, XB_EINVAL, "unknown pulse model '%s'", model);
    /* Normalise conductances by their mean so that every fit parameter is O(1). */
    double scale = 0, gmin = INFINITY, gmax = -INFINITY;
    size_t cnt = 0;
    if (m->kind == XB_MEAS_RAMPS)
        for (size_t r = 0; r < m->nramps; r++)
            for (size_t k = 0; k < m->ramp[r].n; k++) {
                const double g = m->ramp[r].g[k];
                scale += g; cnt++; gmin = fmin(gmin, g); gmax = fmax(gmax, g);
            }
    else if (m->kind == XB_MEAS_STEPS)
        for (size_t i = 0; i < m->n; i++) {
            scale += m->g[i]; cnt++; gmin = fmin(gmin, m->g[i]); gmax = fmax(gmax, m->g[i]);
        }
    if (cnt == 0) return xb_fail(err, XB_EINVAL, "%s: no data", m->name);
    scale /= (double)cnt;
    if (!(scale > 0) || !(gmax > gmin))
        return xb_fail(err, XB_EINVAL, "%s: the conductance never changes (%g S); nothing to fit",
                       m->name, gmin);
    incs d;
    xb_status st = incs_build(m, scale, &d, err);
    if (st) return st;
    int nup = 0, ndn = 0;
    double mup = 0, mdn = 0;
    for (size_t i = 0; i < d.n; i++) {
        if (d.dir[i] > 0) { nup++; mup += d.y[i]; } else { ndn++; mdn += d.y[i]; }
    }
    double *mu = xb_malloc(d.n * sizeof *mu), *res = xb_malloc(d.n * sizeof *res);
    if (!mu || !res) { st = xb_fail(err, XB_ENOMEM, "out of memory"); goto done; }
    if (!nup || !ndn) {
        st = xb_fail(err, XB_EINVAL, "%s: %s pulses only; the up/down bias and the bounds need "
                     "both potentiation and depression data (give both files with --data)",
                     m->name, nup ? "potentiation" : "depression");
        goto done;
    }
    mup /= nup; mdn /= ndn;
    const double lo = gmin / scale, hi = gmax / scale;
    pctx c = { .law = law, .n = d.n, .x = d.x, .y = d.y, .s = d.s, .dir = d.dir,
               .gr = 0.5 * (lo + hi), .gu = 0.5 * (hi - lo) };
    /* Starting point: mean steps give dw and the bias; softbounds starts with the
     * measured range as its bounds, widened a little so that the steps stay positive. */
    double th[XB_FIT_MAXP] = { 0 };
    const double au = fabs(mup), ad = fabs(mdn);
    size_t p = 2;
    th[1] = (au - ad) / (au + ad);
    if (law == LAW_LINEAR) th[0] = 0.5 * (au + ad) / c.gu;
    if (law == LAW_SOFT) {
        p = 4;
        th[2] = c.gr; th[3] = 0.6 * (hi - lo);
        th[0] = 0.5 * (au + ad) / th[3];             /* mean distance to a bound ~ g_unit */
    }
    if (law == LAW_EXP) {
        /* At fixed gamma the step c (1 - A e^{+-gamma w}) is linear in (c, c A), and up and
         * down are separate: profile gamma on a grid for a starting point. */
        p = 6;
        double cd[2] = { 0 };
        for (int dd = 0; dd < 2; dd++) {
            const int sg = dd ? -1 : 1;
            double best = INFINITY;
            for (double g = -8; g <= 8.001; g += 0.25) {
                double s00 = 0, s01 = 0, s11 = 0, b0 = 0, b1 = 0, yy = 0;
                for (size_t i = 0; i < d.n; i++) {
                    if (d.dir[i] != sg) continue;
                    const double e = -exp(sg * g * (d.x[i] - c.gr) / c.gu), y = sg * d.y[i] / c.gu;
                    s00 += 1; s01 += e; s11 += e * e; b0 += y; b1 += e * y; yy += y * y;
                }
                const double det = s00 * s11 - s01 * s01;
                if (!(det > 0)) continue;
                const double c0 = (b0 * s11 - b1 * s01) / det, c1 = (s00 * b1 - s01 * b0) / det;
                const double sse = yy - c0 * b0 - c1 * b1;
                if (sse < best && c0 > 0) { best = sse; cd[dd] = c0; th[2 + dd] = c1 / c0; th[4 + dd] = g; }
            }
            if (!(best < INFINITY)) { cd[dd] = dd ? ad / c.gu : au / c.gu; th[2 + dd] = 0; th[4 + dd] = 1; }
        }
        th[0] = 0.5 * (cd[0] + cd[1]);
        th[1] = (cd[0] - cd[1]) / (cd[0] + cd[1]);
    }
    xb_fit_problem pb = { .n = d.n, .p = p, .resid = presid, .ctx = &c };
    xb_fit f;
    double sig2 = 0, tau2 = 0;
    int use_tau = 0;
    const int lut = m->kind == XB_MEAS_STEPS;
    for (int round = 0; round < (lut ? 1 : 5); round++) {
        if ((st = xb_fit_solve(&pb, th, &f, err))) {
            xb_err_prefix(err, "%s: %s fit: ", m->name, model);
            goto done;
        }
        memcpy(th, f.theta, p * sizeof *th);
        if (lut) break;
        const dev v = dev_of(&c, th);
        for (size_t i = 0; i < d.n; i++) {
            mu[i] = step_mean(law, &v, d.x[i], d.dir[i], 0);
            res[i] = d.y[i] - mu[i];
        }
        use_tau = noise_fit(mu, res, d.n, &sig2, &tau2);
        double floor2 = 0;                     /* keep weights finite where mu -> 0 */
        for (size_t i = 0; i < d.n; i++) floor2 += res[i] * res[i];
        floor2 = 1e-6 * floor2 / d.n;
        for (size_t i = 0; i < d.n; i++) d.s[i] = sqrt(sig2 * mu[i] * mu[i] + tau2 + floor2);
    }
    int prof[XB_FIT_MAXP];
    if ((st = xb_fit_profile(&pb, &f, ci, prof, err))) goto done;
    /* Goodness of fit, in SI units. */
    const dev v = dev_of(&c, th);
    double ll = 0, rss = 0, tss = 0;
    for (size_t i = 0; i < d.n; i++) {
        mu[i] = step_mean(law, &v, d.x[i], d.dir[i], 0);
        const double r = (d.y[i] - mu[i]) * scale, sc = d.s[i] * scale;
        const double ym = d.dir[i] > 0 ? mup : mdn;
        rss += r * r;
        tss += (d.y[i] - ym) * (d.y[i] - ym) * scale * scale;
        ll += -0.5 * (log(XB_2PI * sc * sc) + r * r / (sc * sc));
        res[i] = r / sc;
    }
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "%s", model);
    snprintf(out->device, sizeof out->device, "%s", model);
    snprintf(out->data, sizeof out->data, "%s", m->name);
    out->n = d.n;
    out->k = p + (lut ? 0 : 1 + use_tau);
    out->loglik = ll;
    out->aic = 2.0 * out->k - 2 * ll;
    out->bic = (double)out->k * log((double)d.n) - 2 * ll;
    out->r2 = 1 - rss / tss;
    out->rmse = sqrt(rss / d.n);
    out->chi2_red = f.chi2 / f.dof;
    out->converged = f.converged; out->iters = f.iters; out->cov_ok = f.cov_ok;
    for (size_t k = 0; k < p; k++) out->profiled += prof[k];
    xb_fit_ks_normal(res, d.n, &out->ks_d, &out->ks_p);
    /* Trajectory R^2: iterate the mean map from each ramp's first read. */
    out->r2_traj = NAN;
    if (m->kind == XB_MEAS_RAMPS) {
        double sse = 0, s1 = 0, s2 = 0, nn = 0;
        for (size_t r = 0; r < m->nramps; r++) {
            const xb_ramp *rp = &m->ramp[r];
            double g = rp->g[0] / scale;
            for (size_t k = 1; k < rp->n; k++) {
                g += step_mean(law, &v, g, rp->dir, 1);
                if (law != LAW_SOFT) g = fmin(fmax(g, v.g_ref - v.g_unit), v.g_ref + v.g_unit);
                const double e = (rp->g[k] - g * scale);
                sse += e * e; s1 += rp->g[k]; s2 += rp->g[k] * rp->g[k]; nn++;
            }
        }
        out->r2_traj = 1 - sse / (s2 - s1 * s1 / nn);
    }
    /* Parameters: fitted in normalised units, reported in SI. */
    const char *nm[6] = { "dw_min", "up_down", "g_ref", "g_unit", NULL, NULL };
    if (law == LAW_EXP) { nm[2] = "A_up"; nm[3] = "A_down"; nm[4] = "gamma_up"; nm[5] = "gamma_down"; }
    for (size_t k = 0; k < p; k++) {
        const int g = law == LAW_SOFT && k >= 2;
        const double sf = g ? scale : 1;
        xb_calib_add_par(out, nm[k], g ? "S" : k == 0 ? "w" : "", f.theta[k] * sf, f.se[k] * sf,
                f.lo[k] * sf, f.hi[k] * sf, XB_CAL_FIT, 1);
    }
    if (law != LAW_SOFT) {
        xb_calib_add_par(out, "g_ref", "S", c.gr * scale, NAN, NAN, NAN, XB_CAL_FIXED, 1);
        xb_calib_add_par(out, "g_unit", "S", c.gu * scale, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    }
    if (law == LAW_EXP) {
        xb_calib_add_par(out, "a", "", 1, NAN, NAN, NAN, XB_CAL_FIXED, 1);
        xb_calib_add_par(out, "b", "", 0, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    }
    /* C2C: sigma from the residual variance; chi^2 interval on nu = n - p degrees. */
    double sig = sqrt(sig2);
    if (lut) {                                 /* the table holds the spread itself */
        double *q = res;
        size_t nq = 0;
        for (size_t i = 0; i < d.n; i++)
            if (fabs(d.y[i]) > 0 && d.sd[i] > 0) q[nq++] = d.sd[i] / fabs(d.y[i]);
        qsort(q, nq, sizeof *q, cmp_double);
        sig = nq ? q[nq / 2] : NAN;
        xb_calib_add_par(out, "dw_min_std", "", sig, NAN, NAN, NAN, XB_CAL_NOISE, 1);
        xb_calib_note(out, "dG table: dw_min_std is the median over G bins of sd(dG)/|mean dG| "
                      "(no interval: the table does not record how many pulses each bin holds).");
    } else {
        const double nu = f.dof;
        const double lo_s = sig * sqrt(nu / gsl_cdf_chisq_Pinv(0.975, nu));
        const double hi_s = sig * sqrt(nu / gsl_cdf_chisq_Pinv(0.025, nu));
        if (!use_tau) {
            xb_calib_add_par(out, "dw_min_std", "", sig, sig * sqrt(0.5 / nu), lo_s, hi_s, XB_CAL_NOISE, 1);
        } else {
            /* The device has multiplicative C2C noise only: give it the same mean step
             * variance, sigma_eq^2 = sigma^2 + tau^2 / mean(mu^2). */
            double m2 = 0;
            for (size_t i = 0; i < d.n; i++) m2 += mu[i] * mu[i] / d.n;
            const double eq = sqrt(sig2 + tau2 / m2);
            xb_calib_add_par(out, "dw_min_std", "", eq, NAN, NAN, NAN, XB_CAL_DERIVED, 1);
            xb_calib_add_par(out, "sigma_mult", "", sig, sig * sqrt(0.5 / nu), lo_s, hi_s, XB_CAL_NOISE, 0);
            xb_calib_add_par(out, "tau_add", "S", sqrt(tau2) * scale, NAN, NAN, NAN, XB_CAL_NOISE, 0);
            xb_calib_note(out, "dw_min_std = sqrt(sigma_mult^2 + tau_add^2/mean(mu^2)) = %.4g: "
                          "the multiplicative noise that gives the device the same mean step "
                          "variance", eq);
        }
    }
    const char *fixed0[] = { "dw_min_dtod", "up_down_dtod", "w_max_dtod", "w_min_dtod" };
    xb_calib_add_par(out, "w_max", "w", 1, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    xb_calib_add_par(out, "w_min", "w", -1, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    for (size_t k = 0; k < 4; k++) xb_calib_add_par(out, fixed0[k], "", 0, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    if (law == LAW_LINEAR) {
        xb_calib_add_par(out, "gamma_up", "", 0, NAN, NAN, NAN, XB_CAL_FIXED, 1);
        xb_calib_add_par(out, "gamma_down", "", 0, NAN, NAN, NAN, XB_CAL_FIXED, 1);
        xb_calib_add_par(out, "gamma_dtod", "", 0, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    }
    /* Symmetry point G* where up and down mean steps are equal (DEVICES.md 1). */
    if (law == LAW_SOFT) {
        const double gs = (th[2] + th[1] * th[3]) * scale;   /* w* = up_down for +-1 bounds */
        xb_calib_note(out, "symmetry point G* = g_ref + up_down g_unit = %.6g S; pulses per "
                      "e-fold towards a bound: up %.1f, down %.1f", gs, 1 / v.dw_up, 1 / v.dw_dn);
    }
    if (use_tau)
        xb_calib_note(out, "noise: Var(dG) = (sigma_mult mu)^2 + tau_add^2, tau_add = %.3g S "
                      "(additive, e.g. read noise; the device model has none; kept by a "
                      "likelihood-ratio test, p < 0.001)", sqrt(tau2) * scale);
    /* Ramp-to-ramp spread: a least-squares gain k_r of the mean step per ramp. */
    if (m->kind == XB_MEAS_RAMPS && m->nramps >= 3) {
        double s1 = 0, s2 = 0, ev = 0;
        for (size_t r = 0; r < m->nramps; r++) {
            double num = 0, den = 0;
            for (size_t i = 0; i < d.n; i++)
                if (d.ramp[i] == (int)r) {
                    const double w2 = 1 / (d.s[i] * d.s[i]);
                    num += d.y[i] * mu[i] * w2; den += mu[i] * mu[i] * w2;
                }
            const double kr = den > 0 ? num / den : 1;
            s1 += kr; s2 += kr * kr; ev += den > 0 ? f.scale / den : 0;
        }
        const double nr = (double)m->nramps, mk = s1 / nr, vk = (s2 - nr * mk * mk) / (nr - 1);
        xb_calib_note(out, "ramp-to-ramp: step gain per ramp mean %.4f sd %.4f (C2C noise alone "
                      "gives sd %.4f): excess relative spread %.4f over %zu ramps", mk, sqrt(fmax(vk, 0)),
                      sqrt(ev / nr), sqrt(fmax(vk - ev / nr, 0)), m->nramps);
    }
    if (law == LAW_SOFT && (th[2] - th[3] < lo - (hi - lo) || th[2] + th[3] > hi + (hi - lo)))
        xb_calib_note(out, "warning: the fitted bounds [%.4g, %.4g] S lie far outside the measured "
                      "range [%.4g, %.4g] S: the steps do not shrink towards a bound, so softbounds "
                      "degenerates to a constant step here", (th[2] - th[3]) * scale,
                      (th[2] + th[3]) * scale, gmin, gmax);
    if (!f.cov_ok)
        xb_calib_note(out, "warning: J^T J is singular; some parameters are not identified by "
                      "these data (their intervals are NaN)");
    st = XB_OK;
done:
    xb_free(mu); xb_free(res);
    incs_free(&d);
    return st;
}

/* ---- prediction with given device keys ------------------------------------------------ */

static double key(const xb_device_type *T, const double *p, const char *name, double def)
{
    const ptrdiff_t k = xb_param_index(T->params, T->nparams, name);
    return k >= 0 ? p[k] : def;
}

xb_status xb_calib_pulse_predict(const char *type, const double *p, const xb_measurement *m,
                                 xb_calib *out, xb_err *err)
{
    const int law = law_of(type);
    const xb_device_type *T = xb_device_find(type);
    if (law < 0 || !T) return xb_fail(err, XB_EINVAL, "predict: '%s' is not a pulse model", type);
    const double dw = key(T, p, "dw_min", 0), ud = key(T, p, "up_down", 0);
    dev v = { .dw_up = dw * (1 + ud), .dw_dn = dw * (1 - ud), .w_max = key(T, p, "w_max", 1),
              .w_min = key(T, p, "w_min", -1), .g_ref = key(T, p, "g_ref", 0),
              .g_unit = key(T, p, "g_unit", 1), .a = key(T, p, "a", 1), .b = key(T, p, "b", 0) };
    if (law == LAW_LINEAR) { v.gl_up = key(T, p, "gamma_up", 0); v.gl_dn = key(T, p, "gamma_down", 0); }
    if (law == LAW_EXP) {
        v.A_up = key(T, p, "A_up", 0); v.A_dn = key(T, p, "A_down", 0);
        v.ge_up = key(T, p, "gamma_up", 0); v.ge_dn = key(T, p, "gamma_down", 0);
    }
    const double sigma = key(T, p, "dw_min_std", 0);
    incs d;
    xb_status st = incs_build(m, 1, &d, err);
    if (st) return st;
    double *mu = xb_malloc((d.n ? d.n : 1) * sizeof *mu);
    if (!mu) { incs_free(&d); return xb_fail(err, XB_ENOMEM, "out of memory"); }
    double rss = 0, extra = 0, mup = 0, mdn = 0, nup = 0, ndn = 0;
    for (size_t i = 0; i < d.n; i++) {
        mu[i] = step_mean(law, &v, d.x[i], d.dir[i], 1);
        const double r = d.y[i] - mu[i];
        rss += r * r;
        extra += r * r - sigma * sigma * mu[i] * mu[i];
        if (d.dir[i] > 0) { mup += d.y[i]; nup++; } else { mdn += d.y[i]; ndn++; }
    }
    mup /= fmax(nup, 1); mdn /= fmax(ndn, 1);
    /* The one nuisance: an additive noise level, set to its moment estimate. */
    const double tau2 = fmax(extra / d.n, 1e-6 * rss / d.n);
    double ll = 0, tss = 0;
    for (size_t i = 0; i < d.n; i++) {
        const double r = d.y[i] - mu[i], var = sigma * sigma * mu[i] * mu[i] + tau2;
        const double ym = d.dir[i] > 0 ? mup : mdn;
        ll += -0.5 * (log(XB_2PI * var) + r * r / var);
        tss += (d.y[i] - ym) * (d.y[i] - ym);
    }
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "%s", type);
    snprintf(out->device, sizeof out->device, "%s", type);
    snprintf(out->data, sizeof out->data, "%s", m->name);
    out->n = d.n; out->k = 1;
    out->loglik = ll; out->rmse = sqrt(rss / d.n); out->r2 = 1 - rss / tss;
    out->aic = 2.0 - 2 * ll; out->bic = log((double)d.n) - 2 * ll;
    out->r2_traj = NAN;
    out->ks_d = out->ks_p = out->chi2_red = NAN;
    xb_calib_add_par(out, "tau_add", "S", sqrt(tau2), NAN, NAN, NAN, XB_CAL_NOISE, 0);
    if (m->kind == XB_MEAS_RAMPS) {
        double sse = 0, s1 = 0, s2 = 0, nn = 0;
        for (size_t r = 0; r < m->nramps; r++) {
            const xb_ramp *rp = &m->ramp[r];
            double w = (rp->g[0] - v.g_ref) / v.g_unit;
            w = fmin(fmax(w, v.w_min), v.w_max);
            for (size_t k = 1; k < rp->n; k++) {
                w += step_mean(law, &v, v.g_ref + w * v.g_unit, rp->dir, 1) / v.g_unit;
                w = fmin(fmax(w, v.w_min), v.w_max);
                const double e = rp->g[k] - (v.g_ref + w * v.g_unit);
                sse += e * e; s1 += rp->g[k]; s2 += rp->g[k] * rp->g[k]; nn++;
            }
        }
        out->r2_traj = 1 - sse / (s2 - s1 * s1 / nn);
        out->rmse = sqrt(sse / nn);
        xb_calib_note(out, "rmse is of G along the ramps (iterated mean map from each ramp's "
                      "first read); step rmse %.4g S", sqrt(rss / d.n));
    }
    xb_free(mu);
    incs_free(&d);
    return XB_OK;
}

/* Mean step E[dG | G] (S) of the fitted law in c (reported keys), for overlays. */
double xb_calib_pulse_step(const xb_calib *c, double g, int dir)
{
    const int law = law_of(c->model);
    dev v = { .w_max = 1, .w_min = -1, .a = 1, .b = 0 };
    double dw = 0, ud = 0;
    for (size_t i = 0; i < c->npar; i++) {
        const xb_cal_par *q = &c->par[i];
        if (!strcmp(q->name, "dw_min")) dw = q->est;
        else if (!strcmp(q->name, "up_down")) ud = q->est;
        else if (!strcmp(q->name, "g_ref")) v.g_ref = q->est;
        else if (!strcmp(q->name, "g_unit")) v.g_unit = q->est;
        else if (!strcmp(q->name, "A_up")) v.A_up = q->est;
        else if (!strcmp(q->name, "A_down")) v.A_dn = q->est;
        else if (!strcmp(q->name, "gamma_up")) v.ge_up = q->est;
        else if (!strcmp(q->name, "gamma_down")) v.ge_dn = q->est;
    }
    v.dw_up = dw * (1 + ud);
    v.dw_dn = dw * (1 - ud);
    return law < 0 ? NAN : step_mean(law, &v, g, dir, 1);
}
