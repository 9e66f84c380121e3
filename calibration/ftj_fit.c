/* calibration/ftj_fit.c: HZO ferroelectric tunnel junction (DEVICES.md 4, devices/ftj.c)
 * from potentiation ramps of several devices at one pulse amplitude and width.
 *
 * Data: ramps of G after each of k = 0, 1, 2, ... identical pulses (amplitude V, width
 * t_p), one ramp per device, each from the all-down state (s = 0). Only the first ramp
 * of each device (or every ramp when devices are not recorded) with dir +1 is used.
 *
 * Model. A device has N_d regions with log10 tau_i = log10 tau_m(V) + delta_i, delta_i
 * Cauchy with half-width w_L (clipped to +-8 decades as devices/ftj.c does); after k
 * pulses region i is up with probability 1 - exp(-k t_p / tau_i). Over the D2D draw of
 * the regions each region is up independently with probability
 *     F(k) = E_delta[1 - exp(-k 10^(-l - delta))],   l = log10(tau_m / t_p),
 * so s_k ~ Binomial(N_d, F(k)) / N_d at each k, and with G_on of the device drawn as
 * G_ON (1 + g_on_dtod z):
 *     E[G_k]   = G_OFF + (G_ON - G_OFF) F(k)
 *     Var[G_k] = (1 + sd^2) (G_ON - G_OFF)^2 F(1 - F) / N_d + sd^2 E[G_k]^2.
 * The reads of one device are correlated (its regions and its G_on persist), so the
 * mean parameters (G_ON, G_OFF, l, w_L) are fitted by weighted least squares with the
 * weights 1/Var (iterated), and their covariance is the cluster sandwich A^-1 B A^-1
 * over devices (A = J^T W J, B = sum over devices of the outer product of their score
 * J^T W r), which stays valid under any within-device correlation. The two noise
 * parameters come from the moment equation e^2 = alpha u + beta v (u = (G_ON - G_OFF)^2
 * F(1-F), v = E[G]^2), alpha = (1 + sd^2)/N_d, beta = sd^2, by weighted least squares;
 * their intervals are from a delete-one-device jackknife (the squared residuals are
 * heavy-tailed and strongly correlated within a device, which makes their sandwich
 * unreliable with a few tens of devices), mapped to N_d and g_on_dtod through monotone
 * transforms.
 *
 * Identifiability: one amplitude gives tau_m(V) only, not the Merz parameters: V_a,
 * kappa and tau_inf enter through tau_inf exp((V_a/V)^kappa) alone, so V_a and kappa
 * are held (schema defaults or --fix) and tau_inf is derived. A device-to-device spread
 * of V_a (v_a_dtod) shifts log tau_m of each device, which at one amplitude is
 * indistinguishable from a wider w_L plus device-level correlation: held at 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_linalg.h>

#include "calibration/xb_calib.h"
#include "calibration/xb_fit.h"
#include "core/xb_mem.h"

#define LN10 2.302585092994046
#define PI 3.141592653589793
enum { NQ = 4, GL_N = 96, MAXDEV = 4096 };

typedef struct pt { double g; int kidx; int dev; } pt;

typedef struct fctx {
    size_t n, nk, ndev;
    const pt *p;                 /* n points */
    const double *kval;          /* nk distinct pulse counts */
    double gs;                   /* conductance scale */
    double *F, *s;               /* F per k (work), s scale per point (fixed in one solve) */
    gsl_integration_glfixed_table *gl;
    const int *use;              /* per device 1/0 (jackknife), NULL: all */
} fctx;

/* F(k) for all distinct k at (l, w): tails beyond +-8 decades are point masses. The
 * integral over delta is taken in u = CDF(delta) (Gauss-Legendre), where the Cauchy
 * weight is flat. */
static void ftj_F(const fctx *c, double l, double w, double *F)
{
    const double dmax = 8;
    const double ulo = 0.5 + atan(-dmax / w) / PI, uhi = 0.5 + atan(dmax / w) / PI;
    double rate[GL_N + 2], wt[GL_N + 2];
    for (size_t i = 0; i < GL_N; i++) {
        double xi, wi;
        gsl_integration_glfixed_point(ulo, uhi, i, &xi, &wi, c->gl);
        rate[i] = exp(-(l + w * tan(PI * (xi - 0.5))) * LN10);
        wt[i] = wi;
    }
    rate[GL_N] = exp(-(l - dmax) * LN10); wt[GL_N] = ulo;
    rate[GL_N + 1] = exp(-(l + dmax) * LN10); wt[GL_N + 1] = 1 - uhi;
    for (size_t j = 0; j < c->nk; j++) {
        const double k = c->kval[j];
        double acc = 0;
        if (k > 0)
            for (size_t i = 0; i < GL_N + 2; i++) acc += wt[i] * -expm1(-k * rate[i]);
        F[j] = acc;
    }
}

/* theta: G_ON/gs, G_OFF/gs, l, ln w_L. */
static int fres(const double *th, void *ctx, double *r)
{
    fctx *c = ctx;
    const double w = exp(th[3]);
    if (!(w > 1e-4 && w < 20) || fabs(th[2]) > 12) return 1;
    ftj_F(c, th[2], w, c->F);
    size_t i = 0;
    for (size_t q = 0; q < c->n; q++) {
        if (c->use && !c->use[c->p[q].dev]) continue;
        const double mu = th[1] + (th[0] - th[1]) * c->F[c->p[q].kidx];
        r[i++] = (c->p[q].g / c->gs - mu) / c->s[q];
    }
    return 0;
}

static int cmp_dbl(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Noise moments at the mean fit th: weighted LS of e^2 on (u, v), weights 1/Var^2.
 * Returns alpha, beta (in gs^2 units: var of G/gs). */
static void moments(fctx *c, const double *th, double alpha0, double beta0, double *alpha,
                    double *beta)
{
    ftj_F(c, th[2], exp(th[3]), c->F);
    double a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0;
    const double dg = th[0] - th[1];
    for (size_t q = 0; q < c->n; q++) {
        if (c->use && !c->use[c->p[q].dev]) continue;
        const double F = c->F[c->p[q].kidx], mu = th[1] + dg * F;
        const double u = dg * dg * F * (1 - F), v = mu * mu;
        const double e = c->p[q].g / c->gs - mu, V = fmax(alpha0 * u + beta0 * v, 1e-12 * v);
        const double wt = 1 / (V * V);
        a11 += wt * u * u; a12 += wt * u * v; a22 += wt * v * v;
        b1 += wt * u * e * e; b2 += wt * v * e * e;
    }
    const double det = a11 * a22 - a12 * a12;
    *alpha = (a22 * b1 - a12 * b2) / det;
    *beta = (a11 * b2 - a12 * b1) / det;
}

/* One full fit on the devices in c->use: mean (IRLS, 3 rounds) and noise moments. */
static xb_status fit_once(fctx *c, const double *th0, double *th, double *alpha, double *beta,
                          xb_fit *f, xb_err *err)
{
    size_t n = 0;
    for (size_t q = 0; q < c->n; q++) n += !c->use || c->use[c->p[q].dev];
    memcpy(th, th0, NQ * sizeof *th);
    for (size_t q = 0; q < c->n; q++) c->s[q] = 1;
    double a = 0, b = 0;
    for (int round = 0; round < 4; round++) {
        xb_fit_problem pb = { .n = n, .p = NQ, .resid = fres, .ctx = c, .maxiter = 300 };
        xb_status st = xb_fit_solve(&pb, th, f, err);
        if (st) return st;
        memcpy(th, f->theta, NQ * sizeof *th);
        double a0 = a, b0 = b;
        if (round == 0) {                   /* unweighted start: a homoscedastic guess */
            a0 = 1; b0 = 0;
            ftj_F(c, th[2], exp(th[3]), c->F);
            const double dg = th[0] - th[1];
            double s2 = 0, su = 0;
            for (size_t q = 0; q < c->n; q++) {
                if (c->use && !c->use[c->p[q].dev]) continue;
                const double F = c->F[c->p[q].kidx], e = c->p[q].g / c->gs - th[1] - dg * F;
                s2 += e * e; su += dg * dg * F * (1 - F) + 1e-3 * (th[1] + dg * F) * (th[1] + dg * F);
            }
            a0 = s2 / su; b0 = 1e-3 * a0;
        }
        moments(c, th, a0, b0, &a, &b);
        moments(c, th, fmax(a, 1e-12), fmax(b, 1e-12), &a, &b);
        const double af = fmax(a, 1e-12), bf = fmax(b, 1e-14);
        ftj_F(c, th[2], exp(th[3]), c->F);
        const double dg = th[0] - th[1];
        for (size_t q = 0; q < c->n; q++) {
            const double F = c->F[c->p[q].kidx], mu = th[1] + dg * F;
            c->s[q] = sqrt(fmax(af * dg * dg * F * (1 - F) + bf * mu * mu, 1e-12 * mu * mu));
        }
    }
    *alpha = a; *beta = b;
    return XB_OK;
}

/* Cluster sandwich covariance of the mean parameters (forward-difference Jacobian). */
static int sandwich(fctx *c, const double *th, double *cov)
{
    const size_t n = c->n;
    double *r0 = xb_malloc(n * sizeof *r0), *J = xb_malloc(n * NQ * sizeof *J);
    double *sc = xb_calloc(c->ndev * NQ, sizeof *sc);
    int ok = r0 && J && sc && !fres(th, c, r0);
    for (int k = 0; ok && k < NQ; k++) {
        double t2[NQ];
        memcpy(t2, th, sizeof t2);
        const double h = 1e-6 * fmax(fabs(th[k]), 1e-2);
        t2[k] += h;
        double *r1 = J + (size_t)k * n;
        if (fres(t2, c, r1)) { ok = 0; break; }
        for (size_t q = 0; q < n; q++) r1[q] = -(r1[q] - r0[q]) / h;   /* d mu/s / d theta */
    }
    double A[NQ * NQ] = { 0 }, B[NQ * NQ] = { 0 };
    for (size_t q = 0; ok && q < n; q++) {
        for (int a = 0; a < NQ; a++) {
            sc[(size_t)c->p[q].dev * NQ + a] += J[(size_t)a * n + q] * r0[q];
            for (int b = 0; b < NQ; b++) A[a * NQ + b] += J[(size_t)a * n + q] * J[(size_t)b * n + q];
        }
    }
    size_t nd = 0;
    for (size_t d = 0; ok && d < c->ndev; d++) {
        const double *s = sc + d * NQ;
        if (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0) continue;
        nd++;
        for (int a = 0; a < NQ; a++)
            for (int b = 0; b < NQ; b++) B[a * NQ + b] += s[a] * s[b];
    }
    xb_free(r0); xb_free(J); xb_free(sc);
    if (!ok || nd < 2) return 0;
    gsl_matrix_view Am = gsl_matrix_view_array(A, NQ, NQ);
    if (gsl_linalg_cholesky_decomp1(&Am.matrix)) return 0;
    gsl_linalg_cholesky_invert(&Am.matrix);            /* A now holds A^-1 */
    double T[NQ * NQ] = { 0 };
    for (int a = 0; a < NQ; a++)
        for (int b = 0; b < NQ; b++)
            for (int k = 0; k < NQ; k++) T[a * NQ + b] += A[a * NQ + k] * B[k * NQ + b];
    const double corr = (double)nd / (double)(nd - 1);
    for (int a = 0; a < NQ; a++)
        for (int b = 0; b < NQ; b++) {
            double v = 0;
            for (int k = 0; k < NQ; k++) v += T[a * NQ + k] * A[k * NQ + b];
            cov[a * NQ + b] = v * corr;
        }
    return 1;
}

static xb_status parse_fix(const char *spec, double *va, double *kappa, xb_err *err)
{
    const char *pos = NULL;
    char k[32];
    double v;
    for (;;) {
        xb_status st = xb_fix_next(spec, &pos, k, &v, err);
        if (st || !k[0]) return st;
        if (!strcmp(k, "v_a")) *va = v;
        else if (!strcmp(k, "kappa")) *kappa = v;
        else if (!strcmp(k, "v_a_dtod") || !strcmp(k, "tau_inf"))
            return xb_fail(err, XB_EINVAL, "--fix %s: ftj data at one pulse amplitude determine "
                           "tau_m(V) only; tau_inf is derived from it with v_a and kappa, and "
                           "v_a_dtod cannot be told from w_L (keys: v_a, kappa)", k);
        else return xb_fail(err, XB_EINVAL, "--fix: unknown ftj key '%s' (v_a, kappa)", k);
    }
}

xb_status xb_calib_ftj(const xb_measurement *m, const xb_calib_opts *o, xb_calib *out, xb_err *err)
{
    if (m->kind != XB_MEAS_RAMPS || m->nramps == 0)
        return xb_fail(err, XB_EINVAL, "%s: ftj needs ramps (G after each pulse)", m->name);
    const double tp = o && o->t_pulse > 0 ? o->t_pulse : 1e-9;
    const double vp = o && o->v_pulse > 0 ? o->v_pulse : 1.0;
    double va = 3, kappa = 2;                    /* devices/ftj.c schema defaults */
    xb_status st = parse_fix(o ? o->fix : NULL, &va, &kappa, err);
    if (st) return st;
    /* Select the first potentiation ramp of each device. */
    size_t npts = 0, nd = 0;
    int *seen = xb_calloc(MAXDEV, sizeof *seen);
    size_t *sel = xb_malloc(m->nramps * sizeof *sel);
    if (!seen || !sel) { xb_free(seen); xb_free(sel); return xb_fail(err, XB_ENOMEM, "out of memory"); }
    for (size_t r = 0; r < m->nramps; r++) {
        const xb_ramp *rp = &m->ramp[r];
        if (rp->device > 0 && rp->device < MAXDEV) {
            if (seen[rp->device]) continue;
            seen[rp->device] = 1;
        }
        if (rp->dir < 0) continue;
        sel[nd++] = r;
        npts += rp->n;
    }
    xb_free(seen);
    if (nd < 3) {
        xb_free(sel);
        return xb_fail(err, XB_EINVAL, "%s: ftj needs potentiation ramps of 3 or more devices from "
                       "the all-down state (got %zu)", m->name, nd);
    }
    pt *p = xb_malloc(npts * sizeof *p);
    double *kv = xb_malloc(npts * sizeof *kv), *F = xb_malloc(npts * sizeof *F);
    double *s = xb_malloc(npts * sizeof *s);
    fctx c = { .n = npts, .ndev = nd, .p = p, .kval = kv, .F = F, .s = s,
               .gl = gsl_integration_glfixed_table_alloc(GL_N) };
    int *use = xb_malloc(nd * sizeof *use);
    if (!p || !kv || !F || !s || !c.gl || !use) { st = xb_fail(err, XB_ENOMEM, "out of memory"); goto done; }
    size_t q = 0;
    double gmax = 0;
    for (size_t d = 0; d < nd; d++) {
        const xb_ramp *rp = &m->ramp[sel[d]];
        for (size_t i = 0; i < rp->n; i++, q++) {
            p[q].g = rp->g[i]; p[q].dev = (int)d;
            kv[q] = rp->pulse ? rp->pulse[i] - rp->pulse[0] : (double)i;
            gmax = fmax(gmax, rp->g[i]);
        }
    }
    double *ks = xb_malloc(npts * sizeof *ks);
    if (!ks) { st = xb_fail(err, XB_ENOMEM, "out of memory"); goto done; }
    memcpy(ks, kv, npts * sizeof *ks);
    qsort(ks, npts, sizeof *ks, cmp_dbl);
    size_t nk = 0;
    for (size_t i = 0; i < npts; i++) if (i == 0 || ks[i] != ks[i - 1]) ks[nk++] = ks[i];
    for (q = 0; q < npts; q++) {
        const double *hit = bsearch(&kv[q], ks, nk, sizeof *ks, cmp_dbl);
        p[q].kidx = (int)(hit - ks);
    }
    memcpy(kv, ks, nk * sizeof *kv);
    xb_free(ks);
    c.nk = nk;
    c.gs = gmax;
    if (nk < 5) { st = xb_fail(err, XB_EINVAL, "%s: ftj needs 5 or more distinct pulse counts (got %zu)", m->name, nk); goto done; }
    /* Start: G_OFF from the reads at k = 0, G_ON from the largest k; l from the k where the
     * mean is half-way; w_L 0.5. */
    double g0 = 0, n0 = 0, gl = 0, nl = 0;
    for (q = 0; q < npts; q++) {
        if (p[q].kidx == 0) { g0 += p[q].g; n0++; }
        if ((size_t)p[q].kidx == nk - 1) { gl += p[q].g; nl++; }
    }
    g0 /= n0; gl /= nl;
    double khalf = kv[nk - 1];
    {
        double sum[1024] = { 0 }, cnt[1024] = { 0 };
        const size_t lim = nk < 1024 ? nk : 1024;
        for (q = 0; q < npts; q++) if ((size_t)p[q].kidx < lim) { sum[p[q].kidx] += p[q].g; cnt[p[q].kidx]++; }
        for (size_t j = 1; j < lim; j++)
            if (sum[j] / cnt[j] > 0.5 * (g0 + gl)) { khalf = kv[j]; break; }
    }
    const double th0[NQ] = { gl / c.gs, g0 / c.gs, log10(fmax(khalf, 1e-3) / log(2)), log(0.5) };
    double th[NQ], alpha, beta;
    xb_fit f;
    if ((st = fit_once(&c, th0, th, &alpha, &beta, &f, err))) { xb_err_prefix(err, "%s: ftj fit: ", m->name); goto done; }
    double cov[NQ * NQ];
    const int cov_ok = sandwich(&c, th, cov);
    /* Delete-one-device jackknife of the noise moments, the mean held at the full fit
     * (its uncertainty enters alpha and beta only at second order). */
    double js1[2] = { 0 }, js2[2] = { 0 };
    size_t nj = 0;
    for (size_t d = 0; d < nd; d++) {
        for (size_t e = 0; e < nd; e++) use[e] = e != d;
        c.use = use;
        double aj, bj;
        moments(&c, th, fmax(alpha, 1e-12), fmax(beta, 1e-12), &aj, &bj);
        const double v[2] = { aj, bj };
        for (int k = 0; k < 2; k++) { js1[k] += v[k]; js2[k] += v[k] * v[k]; }
        nj++;
    }
    c.use = NULL;
    /* Restore F and scales of the full fit (the jackknife overwrote them). */
    ftj_F(&c, th[2], exp(th[3]), c.F);
    double jse[2] = { NAN, NAN };
    if (nj >= 3)
        for (int k = 0; k < 2; k++) {
            const double mj = js1[k] / nj;
            jse[k] = sqrt((double)(nj - 1) / nj * fmax(js2[k] - nj * mj * mj, 0));
        }
    /* Goodness of fit with the final variances. */
    const double af = fmax(alpha, 1e-12), bf = fmax(beta, 0);
    const double dg = th[0] - th[1];
    double ll = 0, rss = 0, ym = 0, tss = 0, chi2 = 0;
    double *z = xb_malloc(npts * sizeof *z);
    if (!z) { st = xb_fail(err, XB_ENOMEM, "out of memory"); goto done; }
    for (q = 0; q < npts; q++) ym += p[q].g / npts;
    for (q = 0; q < npts; q++) {
        const double Fq = c.F[p[q].kidx], mu = (th[1] + dg * Fq) * c.gs;
        const double V = fmax(af * dg * dg * Fq * (1 - Fq) + bf * (mu / c.gs) * (mu / c.gs), 1e-12) * c.gs * c.gs;
        const double e = p[q].g - mu;
        z[q] = e / sqrt(V);
        chi2 += z[q] * z[q];
        ll += -0.5 * (log(2 * PI * V) + z[q] * z[q]);
        rss += e * e; tss += (p[q].g - ym) * (p[q].g - ym);
    }
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "ftj");
    snprintf(out->device, sizeof out->device, "ftj");
    snprintf(out->data, sizeof out->data, "%s", m->name);
    out->n = npts; out->k = NQ + 2;
    out->loglik = ll;
    out->aic = 2.0 * out->k - 2 * ll;
    out->bic = out->k * log((double)npts) - 2 * ll;
    out->r2 = 1 - rss / tss; out->r2_traj = NAN;
    out->rmse = sqrt(rss / npts);
    out->chi2_red = chi2 / (double)(npts - out->k);
    out->converged = f.converged; out->iters = f.iters; out->cov_ok = cov_ok;
    xb_fit_ks_normal(z, npts, &out->ks_d, &out->ks_p);
    xb_free(z);
    /* Report. Intervals: t quantile with (devices - 1) dof (clusters). */
    const double tq = gsl_cdf_tdist_Pinv(0.975, (double)(nd - 1));
    double se[NQ];
    for (int k = 0; k < NQ; k++) se[k] = cov_ok && cov[k * NQ + k] > 0 ? sqrt(cov[k * NQ + k]) : NAN;
    const double gon = th[0] * c.gs, goff = th[1] * c.gs, w = exp(th[3]);
    xb_calib_add_par(out, "g_on", "S", gon, se[0] * c.gs, gon - tq * se[0] * c.gs, gon + tq * se[0] * c.gs, XB_CAL_FIT, 1);
    xb_calib_add_par(out, "g_off", "S", goff, se[1] * c.gs, goff - tq * se[1] * c.gs, goff + tq * se[1] * c.gs, XB_CAL_FIT, 0);
    /* on_off = th0/th1: delta method on the log ratio */
    const double lr = log(th[0] / th[1]);
    const double vlr = cov_ok ? cov[0] / (th[0] * th[0]) + cov[NQ + 1] / (th[1] * th[1]) - 2 * cov[1] / (th[0] * th[1]) : NAN;
    const double slr = vlr > 0 ? sqrt(vlr) : NAN;
    xb_calib_add_par(out, "on_off", "", exp(lr), exp(lr) * slr, exp(lr - tq * slr), exp(lr + tq * slr), XB_CAL_DERIVED, 1);
    const double taum = tp * pow(10, th[2]);
    xb_calib_add_par(out, "tau_m", "s", taum, taum * LN10 * se[2], tp * pow(10, th[2] - tq * se[2]),
         tp * pow(10, th[2] + tq * se[2]), XB_CAL_FIT, 0);
    xb_calib_add_par(out, "w_l", "decades", w, w * se[3], exp(th[3] - tq * se[3]), exp(th[3] + tq * se[3]), XB_CAL_FIT, 1);
    const double merz = pow(va / vp, kappa);
    xb_calib_add_par(out, "tau_inf", "s", taum * exp(-merz), taum * exp(-merz) * LN10 * se[2],
         exp(-merz) * tp * pow(10, th[2] - tq * se[2]), exp(-merz) * tp * pow(10, th[2] + tq * se[2]),
         XB_CAL_DERIVED, 1);
    xb_calib_add_par(out, "v_a", "V", va, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    xb_calib_add_par(out, "kappa", "", kappa, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    xb_calib_add_par(out, "v_a_dtod", "", 0, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    /* Noise: N_d = (1 + beta)/alpha (alpha, beta in (G/gs)^2 units; the ratio is scale
     * free), g_on_dtod = sqrt(beta); jackknife intervals on alpha and beta, mapped. */
    const double tj = nj >= 3 ? gsl_cdf_tdist_Pinv(0.975, (double)(nj - 1)) : NAN;
    const double nde = (1 + bf) / af;
    /* Intervals on log alpha and log beta (variance-like, skewed with few devices). */
    const double sla = alpha > 0 ? jse[0] / alpha : NAN, slb = beta > 0 ? jse[1] / beta : NAN;
    xb_calib_add_par(out, "n_d", "", nde, nde * sla, nde * exp(-tj * sla), nde * exp(tj * sla), XB_CAL_NOISE, 1);
    const double sd = sqrt(bf);
    xb_calib_add_par(out, "g_on_dtod", "", sd, sd * slb / 2, sd * exp(-tj * slb / 2), sd * exp(tj * slb / 2),
         XB_CAL_NOISE, 1);
    xb_calib_add_par(out, "v_pulse", "V", vp, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    xb_calib_add_par(out, "t_pulse", "s", tp, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    xb_calib_add_par(out, "s_init", "", 0, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    xb_calib_note(out, "%zu devices (first potentiation ramp of each), %zu reads, %zu pulse counts; "
                  "pulse %.4g V x %.4g s (--v-pulse, --t-pulse)", nd, npts, nk, vp, tp);
    xb_calib_note(out, "intervals: g_on, g_off, tau_m, w_l cluster sandwich over devices (t, %zu dof); "
                  "n_d, g_on_dtod delete-one-device jackknife of the noise moments (%zu)", nd - 1, nj);
    xb_calib_note(out, "not identifiable from one amplitude: v_a and kappa (held at %g V, %g; --fix "
                  "v_a=..,kappa=..), tau_inf = tau_m exp(-(v_a/v_pulse)^kappa) derived; v_a_dtod "
                  "(a per-device shift of log tau_m looks like a wider w_l) held at 0", va, kappa);
    if (!cov_ok) xb_calib_note(out, "warning: the sandwich covariance is singular; intervals omitted");
    if (!(alpha > 0)) xb_calib_note(out, "warning: no binomial spread found; n_d is not identified");
    if (nde > 192) xb_calib_note(out, "warning: n_d = %.4g exceeds the ftj schema's 192; the INI cannot hold it", nde);
done:
    xb_free(sel); xb_free(p); xb_free(kv); xb_free(F); xb_free(s); xb_free(use);
    if (c.gl) gsl_integration_glfixed_table_free(c.gl);
    return st;
}

/* Mean and sd of G after k pulses for the fitted parameters in c (overlays). */
xb_status xb_calib_ftj_curve(const xb_calib *c, const double *k, size_t n, double *mean,
                             double *sd, xb_err *err)
{
    double gon = NAN, goff = NAN, taum = NAN, w = NAN, nd = NAN, gsd = 0, tp = 1e-9;
    for (size_t i = 0; i < c->npar; i++) {
        const xb_cal_par *q = &c->par[i];
        if (!strcmp(q->name, "g_on")) gon = q->est;
        else if (!strcmp(q->name, "g_off")) goff = q->est;
        else if (!strcmp(q->name, "tau_m")) taum = q->est;
        else if (!strcmp(q->name, "w_l")) w = q->est;
        else if (!strcmp(q->name, "n_d")) nd = q->est;
        else if (!strcmp(q->name, "g_on_dtod")) gsd = q->est;
        else if (!strcmp(q->name, "t_pulse")) tp = q->est;
    }
    fctx f = { .nk = n, .kval = k, .gl = gsl_integration_glfixed_table_alloc(GL_N) };
    if (!f.gl) return xb_fail(err, XB_ENOMEM, "out of memory");
    ftj_F(&f, log10(taum / tp), w, mean);
    gsl_integration_glfixed_table_free(f.gl);
    for (size_t i = 0; i < n; i++) {
        const double F = mean[i], mu = goff + (gon - goff) * F;
        sd[i] = sqrt((1 + gsd * gsd) * (gon - goff) * (gon - goff) * F * (1 - F) / nd + gsd * gsd * mu * mu);
        mean[i] = mu;
    }
    return XB_OK;
}
