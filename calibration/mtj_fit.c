/* calibration/mtj_fit.c: ST-MRAM switching probability (DEVICES.md 5) by binomial
 * maximum likelihood.
 *   stmram          precessional regime: P_sw = exp(-(pi^2 Delta/4) exp(-2 (I/I_c0 - 1) t/tau_D))
 *   stmram_thermal  thermal activation:  P_sw = 1 - exp(-(t/tau_0) exp(-Delta (1 - I/I_c0)))
 * Both are two-parameter curves along one axis: ln(-ln P) (or ln(-ln(1-P))) is affine in
 * I at fixed t, and in t (or ln t) at fixed I. So a curve vs amplitude identifies two
 * of (Delta, I_c0, tau), and a curve vs width at an unrecorded amplitude identifies
 * Delta and one combination that we report as the pulse current i_pulse given the
 * fixed I_c0 and tau_D. Parameters not identified are held at DEVICES.md defaults
 * (or --fix values) and marked fixed.
 *
 * Trials: the files give probabilities only. We assume N trials per point (default
 * 10^4: every value in the MTJ files is a multiple of 1e-4, the smallest non-zero 2e-4).
 * The covariance is scaled by max(1, Pearson chi^2/dof) (quasi-binomial), so an N that
 * is too large widens the intervals instead of making them falsely narrow.
 * Free parameters are fitted as logs (all are positive), so intervals are asymmetric. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibration/xb_calib.h"
#include "calibration/xb_fit.h"
#include "core/xb_mem.h"

enum { Q_DELTA, Q_IC0, Q_TAUD, Q_TAU0, Q_IPULSE, NQ };
static const char *const qname[NQ] = { "delta", "i_c0", "tau_d", "tau0", "i_pulse" };
static const char *const qunit[NQ] = { "kT", "A", "s", "s", "A" };
/* DEVICES.md 5 defaults (unverified there; used only when a parameter is not fitted). */
static const double qdef[NQ] = { 45, 50e-6, 1e-9, 1e-9, NAN };

#define PI2_4 2.4674011002723395   /* pi^2 / 4 */

typedef struct mctx {
    int thermal;
    size_t n;
    const double *t, *cur, *y;     /* cur NaN: use i_pulse */
    double N;
    double q[NQ];                  /* all values; the free ones are overwritten */
    int freeq[NQ], nfree;
} mctx;

/* ln P and ln(1 - P) of point i, computed so that neither underflows to 0 early. */
static void mtj_logp(const mctx *c, const double *q, size_t i, double *lp, double *lq)
{
    const double I = isnan(c->cur[i]) ? q[Q_IPULSE] : c->cur[i];
    if (!c->thermal) {
        const double L = PI2_4 * q[Q_DELTA] * exp(-2 * (I / q[Q_IC0] - 1) * c->t[i] / q[Q_TAUD]);
        *lp = -L;
        *lq = log(-expm1(-L));
    } else {
        const double L = c->t[i] / q[Q_TAU0] * exp(-q[Q_DELTA] * (1 - I / q[Q_IC0]));
        *lq = -L;
        *lp = log(-expm1(-L));
    }
}

static void unpack(const mctx *c, const double *th, double *q)
{
    memcpy(q, c->q, sizeof c->q);
    int k = 0;
    for (int j = 0; j < NQ; j++) if (c->freeq[j]) q[j] = c->q[j] * exp(th[k++]);
}

static double xlogy(double x, double ly) { return x > 0 ? x * ly : 0; }

static int mresid(const double *th, void *ctx, double *r)
{
    const mctx *c = ctx;
    double q[NQ];
    unpack(c, th, q);
    for (size_t i = 0; i < c->n; i++) {
        double lp, lq;
        mtj_logp(c, q, i, &lp, &lq);
        const double y = c->y[i];
        const double term = xlogy(y, log(y)) - xlogy(y, lp) + xlogy(1 - y, log1p(-y)) - xlogy(1 - y, lq);
        const double P = exp(lp);
        r[i] = (y >= P ? 1 : -1) * sqrt(fmax(2 * c->N * term, 0));
    }
    return 0;
}

/* Least-squares line u = a + b x; returns 0 if fewer than 2 usable points. */
static int line(const double *x, const double *u, size_t n, double *a, double *b)
{
    double s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(u[i])) { s0++; s1 += x[i]; s2 += x[i] * x[i]; t0 += u[i]; t1 += x[i] * u[i]; }
    const double det = s0 * s2 - s1 * s1;
    if (s0 < 2 || !(det > 0)) return 0;
    *b = (s0 * t1 - s1 * t0) / det;
    *a = (t0 - *b * s1) / s0;
    return 1;
}

static xb_status parse_fix(const char *spec, double *q, int *fixed, xb_err *err)
{
    const char *pos = NULL;
    char k[32];
    double v;
    for (;;) {
        xb_status st = xb_fix_next(spec, &pos, k, &v, err);
        if (st || !k[0]) return st;
        int j = -1;
        for (int i = 0; i < NQ; i++)
            if (!strcmp(k, qname[i])) j = i;
        if (j < 0) return xb_fail(err, XB_EINVAL, "--fix: unknown key '%s' (delta, i_c0, tau_d, "
                                  "tau0, i_pulse)", k);
        q[j] = v; fixed[j] = 1;
    }
}

xb_status xb_calib_mtj(const char *model, const xb_measurement *m, const xb_calib_opts *o,
                       const double *given, const char *free_only, xb_calib *out, xb_err *err)
{
    if (m->kind != XB_MEAS_PSW)
        return xb_fail(err, XB_EINVAL, "%s: %s needs switching-probability data", m->name, model);
    mctx c = { .thermal = !strcmp(model, "stmram_thermal"), .n = m->n, .t = m->width,
               .cur = m->cur, .y = m->p, .N = o && o->trials > 0 ? o->trials : 1e4 };
    int fixed[NQ] = { 0 };
    memcpy(c.q, qdef, sizeof qdef);
    if (given)
        for (int j = 0; j < NQ; j++) if (isfinite(given[j]) && given[j] > 0) { c.q[j] = given[j]; fixed[j] = 1; }
    xb_status st = parse_fix(o ? o->fix : NULL, c.q, fixed, err);
    if (st) return st;
    int cur_known = 1, cur_varies = 0, t_varies = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (isnan(m->cur[i])) cur_known = 0;
        else if (m->cur[i] != m->cur[0]) cur_varies = 1;
        if (m->width[i] != m->width[0]) t_varies = 1;
    }
    if (!cur_known && cur_varies)
        return xb_fail(err, XB_EINVAL, "%s: pulse amplitude given for some points only", m->name);
    /* Which parameters the data identify (see the comment at the top). */
    int want[NQ] = { 0 };
    const int tau = c.thermal ? Q_TAU0 : Q_TAUD;
    if (free_only) {
        if (!cur_known) want[Q_IPULSE] = 1;
    } else if (cur_varies && t_varies) {
        want[Q_DELTA] = want[Q_IC0] = want[tau] = 1;
    } else if (cur_varies) {
        want[Q_IC0] = 1;
        want[c.thermal ? Q_DELTA : Q_TAUD] = 1;
    } else {
        want[cur_known ? Q_IC0 : Q_IPULSE] = 1;
        if (!c.thermal) want[Q_DELTA] = 1;
    }
    int nvary = 0;
    for (int j = 0; j < NQ; j++) {
        c.freeq[j] = want[j] && !fixed[j];
        c.nfree += c.freeq[j];
        nvary += want[j];
    }
    /* --fix of an identified parameter frees an unidentified one only for amplitude
     * curves (the rest stays as DEVICES.md gives it). */
    if (!free_only && cur_varies && !t_varies && c.nfree < nvary) {
        const int alt[3] = { Q_DELTA, tau, Q_IC0 };
        for (int a = 0; a < 3 && c.nfree < nvary; a++)
            if (!fixed[alt[a]] && !c.freeq[alt[a]]) { c.freeq[alt[a]] = 1; c.nfree++; }
    }
    if (c.nfree == 0 && !free_only)
        return xb_fail(err, XB_EINVAL, "%s: every identifiable parameter is fixed; nothing to fit", m->name);
    if (!cur_known && !isfinite(c.q[Q_IPULSE])) c.q[Q_IPULSE] = 1.5 * c.q[Q_IC0];
    /* Starting point from the linearised curve (points with 0 < P < 1). */
    double *u = xb_malloc(m->n * sizeof *u), *x = xb_malloc(m->n * sizeof *x);
    if (!u || !x) { xb_free(u); xb_free(x); return xb_fail(err, XB_ENOMEM, "out of memory"); }
    for (size_t i = 0; i < m->n; i++) {
        const double y = m->p[i];
        const int ok = y > 0 && y < 1;
        u[i] = !ok ? NAN : c.thermal ? log(-log1p(-y)) - log(m->width[i]) : log(-log(y));
        x[i] = cur_varies ? m->cur[i] : m->width[i];
    }
    double a, b;
    if (line(x, u, m->n, &a, &b)) {
        const double t0 = m->width[0];
        if (!c.thermal && cur_varies && !t_varies && c.freeq[Q_IC0] && c.freeq[Q_TAUD]) {
            const double d = a - log(PI2_4 * c.q[Q_DELTA]);
            if (d > 0 && b < 0) { c.q[Q_TAUD] = 2 * t0 / d; c.q[Q_IC0] = -2 * t0 / (c.q[Q_TAUD] * b); }
        } else if (!c.thermal && !cur_varies && t_varies && b < 0) {
            if (c.freeq[Q_DELTA]) c.q[Q_DELTA] = exp(a) / PI2_4;
            const double I = c.q[Q_IC0] * (1 - b * c.q[Q_TAUD] / 2);
            if (c.freeq[Q_IPULSE]) c.q[Q_IPULSE] = I;
        } else if (c.thermal && cur_varies && !t_varies && b > 0 && c.freeq[Q_DELTA] && c.freeq[Q_IC0]) {
            const double D = -log(c.q[Q_TAU0]) - a;
            if (D > 0) { c.q[Q_DELTA] = D; c.q[Q_IC0] = D / b; }
        }
    }
    xb_free(u); xb_free(x);
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "%s", model);
    snprintf(out->device, sizeof out->device, "stmram");
    snprintf(out->data, sizeof out->data, "%s", m->name);
    double q[NQ];
    xb_fit f;
    memset(&f, 0, sizeof f);
    if (c.nfree > 0) {
        double th[XB_FIT_MAXP] = { 0 };
        xb_fit_problem pb = { .n = m->n, .p = (size_t)c.nfree, .resid = mresid, .ctx = &c,
                              .binomial = 1, .maxiter = 500, .logmask = ~0u };
        if ((st = xb_fit_solve(&pb, th, &f, err))) return xb_err_prefix(err, "%s: %s fit: ", m->name, model);
        int prof[XB_FIT_MAXP];
        if ((st = xb_fit_profile(&pb, &f, o ? o->ci : XB_CI_AUTO, prof, err))) return st;
        for (int k = 0; k < c.nfree; k++) out->profiled += prof[k];
        unpack(&c, f.theta, q);
    } else {
        memcpy(q, c.q, sizeof q);
        f.converged = 1; f.cov_ok = 1; f.dof = (double)m->n;
    }
    /* Goodness of fit. */
    double ll = 0, pear = 0, rss = 0, ym = 0, tss = 0, lw = 0;
    size_t nlw = 0;
    double *z = xb_malloc(m->n * sizeof *z);
    if (!z) return xb_fail(err, XB_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->n; i++) ym += m->p[i] / m->n;
    for (size_t i = 0; i < m->n; i++) {
        double lp, lq;
        mtj_logp(&c, q, i, &lp, &lq);
        const double y = m->p[i], P = exp(lp), k = c.N * y;
        ll += lgamma(c.N + 1) - lgamma(k + 1) - lgamma(c.N - k + 1) + xlogy(k, lp) + xlogy(c.N - k, lq);
        const double v = fmax(P * (1 - P) / c.N, 1e-300);
        pear += (y - P) * (y - P) / v;
        rss += (y - P) * (y - P);
        tss += (y - ym) * (y - ym);
        if (y < 1 && y > 0) { lw += pow((log1p(-y) - lq) / log(10), 2); nlw++; }
    }
    out->n = m->n;
    out->k = (size_t)c.nfree;
    out->loglik = ll;
    out->aic = 2.0 * out->k - 2 * ll;
    out->bic = out->k * log((double)m->n) - 2 * ll;
    out->r2 = 1 - rss / tss;
    out->r2_traj = NAN;
    out->rmse = sqrt(rss / m->n);
    /* Deviance residuals: the Pearson form explodes where the model gives P ~ 1e-12. */
    double th0[XB_FIT_MAXP];
    for (int j = 0, kk = 0; j < NQ; j++) if (c.freeq[j]) { th0[kk] = log(q[j] / c.q[j]); kk++; }
    mresid(th0, &c, z);
    double dev = 0;
    for (size_t i = 0; i < m->n; i++) dev += z[i] * z[i];
    out->chi2_red = dev / fmax((double)m->n - c.nfree, 1);
    (void)pear;
    out->converged = f.converged; out->iters = f.iters; out->cov_ok = f.cov_ok;
    xb_fit_ks_normal(z, m->n, &out->ks_d, &out->ks_p);
    xb_free(z);
    int k = 0;
    for (int j = 0; j < NQ; j++) {
        if (j == Q_IPULSE && cur_known) continue;
        const int dev_key = j != Q_IPULSE && (j != Q_TAU0 || c.thermal) && (j != Q_TAUD || !c.thermal);
        if (c.freeq[j]) {
            /* log-parameter interval, mapped back; se by the delta method */
            const double s = f.se[k];
            xb_cal_par *p = &out->par[out->npar++];
            snprintf(p->name, sizeof p->name, "%s", qname[j]);
            p->unit = qunit[j]; p->est = q[j]; p->se = q[j] * s;
            p->lo = c.q[j] * exp(f.lo[k]); p->hi = c.q[j] * exp(f.hi[k]);
            p->kind = XB_CAL_FIT; p->device_key = dev_key;
            k++;
        } else if (j != Q_IPULSE || !cur_known) {
            xb_cal_par *p = &out->par[out->npar++];
            snprintf(p->name, sizeof p->name, "%s", qname[j]);
            p->unit = qunit[j]; p->est = q[j]; p->se = p->lo = p->hi = NAN;
            p->kind = XB_CAL_FIXED; p->device_key = dev_key;
        }
    }
    if (o) {
        xb_cal_par *p = &out->par[out->npar++];
        snprintf(p->name, sizeof p->name, "r_p");
        p->unit = "ohm"; p->est = given && isfinite(given[NQ]) ? given[NQ] : 2530;
        p->se = p->lo = p->hi = NAN; p->kind = XB_CAL_FIXED; p->device_key = 1;
        p = &out->par[out->npar++];             /* the source repository's model value */
        snprintf(p->name, sizeof p->name, "tmr");
        p->unit = ""; p->est = 1.24; p->se = p->lo = p->hi = NAN; p->kind = XB_CAL_FIXED;
        p->device_key = 1;
    }
    xb_calib_note(out, "binomial likelihood with N = %.0f trials per point (assumed: the files "
                  "give probabilities only); covariance scaled by max(1, deviance/dof) = %.3g; reduced chi^2 and KS use deviance residuals",
                  c.N, f.scale > 0 ? f.scale : 1);
    xb_calib_note(out, "rms error of log10(1 - P_sw) (the write error rate) over %zu points with "
                  "0 < P < 1: %.3g decades", nlw, nlw ? sqrt(lw / nlw) : NAN);
    if (!cur_known)
        xb_calib_note(out, "the file does not record the pulse amplitude: i_pulse is the current "
                      "that the fixed i_c0 and %s imply", c.thermal ? "tau0" : "tau_d");
    if (!f.cov_ok)
        xb_calib_note(out, "warning: J^T J is singular; some parameters are not identified");
    return XB_OK;
}
