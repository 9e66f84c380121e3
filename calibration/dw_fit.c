/* calibration/dw_fit.c: domain-wall synapse (DEVICES.md 6, devices/dw.c) by exact
 * hidden-Markov maximum likelihood.
 *
 * Data: G after each training pulse of one or more devices (ramps with a direction; the
 * ramps of one device, in order, form one sequence when the "pulses" layout records the
 * device and each ramp starts at the previous one's last read). Hidden state: the
 * pinning site k in 0..S-1 (S from --states, default 5); observed x = (G - G_AP) /
 * (G_P - G_AP). A pulse of direction d from site k:
 *   - k + d off the track: nothing moves, the read repeats exactly;
 *   - else with probability 1 - p_depin the wall stays pinned (the read repeats exactly),
 *     and with p_depin it lands near site k + d, or with p_miss at a neighbour of it
 *     (either side with equal odds; the only neighbour at a track end), at
 *     x ~ N(x_site, sigma^2) clipped to [0, 1] (so x = 0 and x = 1 carry probability
 *     mass).
 * The likelihood is taken with respect to counting measure on {previous read, 0, 1}
 * plus Lebesgue measure, so a repeated read at a clipped end sums the "stayed" and the
 * "landed at the clip" terms. The forward algorithm (scaled) gives the exact
 * log-likelihood; the initial site has a uniform prior. (sigma, p_depin, p_miss) are
 * optimised as (ln sigma, logit p_depin, logit p_miss) with GSL's Nelder-Mead
 * (nmsimplex2); the covariance is the inverse of the numerical Hessian of -ln L on that
 * scale, and the Wald intervals there are mapped back (so they stay inside the bounds).
 * G_P and G_AP are the largest and smallest read (the clipping puts reads exactly there
 * whenever the wall visits an end) unless --fix g_p=..,g_ap=.. gives them. g_dtod (a
 * device-to-device spread of G_P, G_AP) is not identifiable from one device's reads
 * and this fitter assumes it is 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>

#include "calibration/xb_calib.h"
#include "calibration/xb_fit.h"
#include "core/xb_mem.h"

enum { NQ = 3, SMAX = 64 };
#define SQRT2PI 2.5066282746310002

typedef struct dctx {
    const xb_measurement *m;
    int S;
    double gap, gp;
    int *chain;                 /* per ramp: 1 if it continues the previous ramp's sequence */
    long evals;
} dctx;

static double xof(const dctx *c, double g)
{
    const double x = (g - c->gap) / (c->gp - c->gap);
    return x <= 1e-6 ? 0 : x >= 1 - 1e-6 ? 1 : x;
}

/* Landing emission at site j: density inside, mass at the clipped ends. */
static double emit(double x, double xs, double sig)
{
    if (x <= 0) return gsl_cdf_ugaussian_P((0 - xs) / sig);
    if (x >= 1) return gsl_cdf_ugaussian_Q((1 - xs) / sig);
    const double z = (x - xs) / sig;
    return exp(-0.5 * z * z) / (SQRT2PI * sig);
}

static double negll(const dctx *c, const double *th)
{
    const double sig = exp(th[0]), pd = 1 / (1 + exp(-th[1])), pm = 1 / (1 + exp(-th[2]));
    const int S = c->S, top = S - 1;
    double a[SMAX], b[SMAX], e[SMAX], ll = 0;
    for (size_t r = 0; r < c->m->nramps; r++) {
        const xb_ramp *rp = &c->m->ramp[r];
        if (!c->chain[r]) {                         /* fresh sequence: uniform prior */
            const double x0 = xof(c, rp->g[0]);
            double s = 0;
            for (int j = 0; j < S; j++) { a[j] = emit(x0, (double)j / top, sig) / S; s += a[j]; }
            if (!(s > 0)) return INFINITY;
            for (int j = 0; j < S; j++) a[j] /= s;
            ll += log(s);
        }
        const int d = rp->dir > 0 ? 1 : -1;
        for (size_t t = 1; t < rp->n; t++) {
            const double x = xof(c, rp->g[t]);
            const int same = rp->g[t] == rp->g[t - 1];
            /* A landing has no mass at a repeated interior read (the Lebesgue part). */
            const int land = !same || x <= 0 || x >= 1;
            for (int j = 0; j < S; j++) { b[j] = 0; e[j] = land ? emit(x, (double)j / top, sig) : 0; }
            for (int i = 0; i < S; i++) {
                if (a[i] == 0) continue;
                const int tg = i + d;
                if (tg < 0 || tg > top) { if (same) b[i] += a[i]; continue; }
                if (same) b[i] += a[i] * (1 - pd);
                const double w = a[i] * pd;
                b[tg] += w * (1 - pm) * e[tg];
                if (S < 2) continue;
                /* miss: each side pm/2, an off-track side goes to the other one */
                const int lo = tg - 1 >= 0 ? tg - 1 : tg + 1, hi = tg + 1 <= top ? tg + 1 : tg - 1;
                b[lo] += w * 0.5 * pm * e[lo];
                b[hi] += w * 0.5 * pm * e[hi];
            }
            double s = 0;
            for (int j = 0; j < S; j++) s += b[j];
            if (!(s > 0)) return INFINITY;
            for (int j = 0; j < S; j++) a[j] = b[j] / s;
            ll += log(s);
        }
    }
    return -ll;
}

static double nm_f(const gsl_vector *v, void *ctx)
{
    dctx *c = ctx;
    c->evals++;
    const double th[NQ] = { gsl_vector_get(v, 0), gsl_vector_get(v, 1), gsl_vector_get(v, 2) };
    if (fabs(th[1]) > 30 || fabs(th[2]) > 30 || th[0] < -15 || th[0] > 2) return 1e300;
    const double f = negll(c, th);
    return isfinite(f) ? f : 1e300;
}

static xb_status parse_fix(const char *spec, double *gp, double *gap, xb_err *err)
{
    const char *pos = NULL;
    char k[32];
    double v;
    for (;;) {
        xb_status st = xb_fix_next(spec, &pos, k, &v, err);
        if (st || !k[0]) return st;
        if (!strcmp(k, "g_p")) *gp = v;
        else if (!strcmp(k, "g_ap")) *gap = v;
        else if (!strcmp(k, "g_dtod"))
            return xb_fail(err, XB_EINVAL, "--fix g_dtod: the dw fitter assumes g_dtod = 0; a "
                           "device-to-device spread of G_P, G_AP is not identifiable from the reads "
                           "of one device (keys: g_p, g_ap)");
        else return xb_fail(err, XB_EINVAL, "--fix: unknown dw key '%s' (g_p, g_ap)", k);
    }
}

xb_status xb_calib_dw(const xb_measurement *m, const xb_calib_opts *o, xb_calib *out, xb_err *err)
{
    if (m->kind != XB_MEAS_RAMPS || m->nramps == 0)
        return xb_fail(err, XB_EINVAL, "%s: dw needs ramps (G after each pulse)", m->name);
    const int S = o && o->states > 0 ? o->states : 5;
    if (S < 2 || S > SMAX) return xb_fail(err, XB_ERANGE, "--states %d: dw needs 2..%d sites", S, SMAX);
    double gp = NAN, gap = NAN;
    xb_status st = parse_fix(o ? o->fix : NULL, &gp, &gap, err);
    if (st) return st;
    double gmin = INFINITY, gmax = -INFINITY;
    size_t nobs = 0, nchg = 0;
    for (size_t r = 0; r < m->nramps; r++)
        for (size_t t = 0; t < m->ramp[r].n; t++) {
            gmin = fmin(gmin, m->ramp[r].g[t]); gmax = fmax(gmax, m->ramp[r].g[t]);
            nobs++;
            if (t) nchg += m->ramp[r].g[t] != m->ramp[r].g[t - 1];
        }
    const int data_range = isnan(gp) || isnan(gap);
    if (isnan(gp)) gp = gmax;
    if (isnan(gap)) gap = gmin;
    if (!(gp > gap))
        return xb_fail(err, XB_EINVAL, "%s: dw needs G_P > G_AP (got %g, %g): the reads do not vary",
                       m->name, gp, gap);
    dctx c = { .m = m, .S = S, .gap = gap, .gp = gp, .chain = xb_calloc(m->nramps, sizeof(int)) };
    if (!c.chain) return xb_fail(err, XB_ENOMEM, "out of memory");
    size_t nseq = 0;
    for (size_t r = 0; r < m->nramps; r++) {
        c.chain[r] = r > 0 && m->ramp[r].device > 0 && m->ramp[r].device == m->ramp[r - 1].device &&
                     m->ramp[r].g[0] == m->ramp[r - 1].g[m->ramp[r - 1].n - 1];
        nseq += !c.chain[r];
    }
    /* Start: sigma from the distance of interior reads to the nearest site, p_depin from
     * the fraction of reads that changed, p_miss 0.05. */
    double s2 = 0, ns = 0;
    for (size_t r = 0; r < m->nramps; r++)
        for (size_t t = 0; t < m->ramp[r].n; t++) {
            const double x = xof(&c, m->ramp[r].g[t]);
            if (x <= 0 || x >= 1) continue;
            const double dx = x - round(x * (S - 1)) / (S - 1);
            s2 += dx * dx; ns++;
        }
    const double sig0 = ns > 0 && s2 > 0 ? fmin(sqrt(s2 / ns), 0.2) : 0.05;
    const double pd0 = fmin(fmax((double)nchg / fmax((double)(nobs - nseq), 1), 0.05), 0.95);
    gsl_multimin_fminimizer *mm = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, NQ);
    gsl_vector *x = gsl_vector_alloc(NQ), *ss = gsl_vector_alloc(NQ);
    if (!mm || !x || !ss) { st = xb_fail(err, XB_ENOMEM, "out of memory"); goto done; }
    gsl_multimin_function fn = { .f = nm_f, .n = NQ, .params = &c };
    gsl_vector_set(x, 0, log(sig0)); gsl_vector_set(x, 1, log(pd0 / (1 - pd0)));
    gsl_vector_set(x, 2, log(0.05 / 0.95));
    int iters = 0, conv = 0;
    /* A restart of the simplex at the optimum guards against a premature collapse. */
    for (int rs = 0; rs < 2; rs++) {
        gsl_vector_set_all(ss, rs == 0 ? 0.5 : 0.1);
        gsl_multimin_fminimizer_set(mm, &fn, x, ss);
        conv = 0;
        for (int it = 0; it < 2000 && !conv; it++, iters++) {
            if (gsl_multimin_fminimizer_iterate(mm)) break;
            conv = gsl_multimin_test_size(gsl_multimin_fminimizer_size(mm), 1e-7) == GSL_SUCCESS;
        }
        gsl_vector_memcpy(x, gsl_multimin_fminimizer_x(mm));
    }
    double th[NQ];
    for (int k = 0; k < NQ; k++) th[k] = gsl_vector_get(x, k);
    const double f0 = negll(&c, th);
    if (!isfinite(f0)) { st = xb_fail(err, XB_ENUMERIC, "%s: dw fit: the likelihood is zero at every start "
                                      "(reads inconsistent with the model: a read that repeats at a "
                                      "site the wall must leave?)", m->name); goto done; }
    /* Numerical Hessian of -ln L (central differences). */
    double H[NQ * NQ];
    const double h = 1e-3;
    for (int a = 0; a < NQ; a++)
        for (int b = a; b < NQ; b++) {
            double t[NQ], v[4];
            for (int s = 0; s < 4; s++) {
                memcpy(t, th, sizeof t);
                t[a] += (s & 1 ? -h : h); t[b] += (s & 2 ? -h : h);
                v[s] = negll(&c, t);
            }
            H[a * NQ + b] = H[b * NQ + a] = (v[0] - v[1] - v[2] + v[3]) / (4 * h * h);
        }
    gsl_matrix_view Hm = gsl_matrix_view_array(H, NQ, NQ);
    const int cov_ok = !gsl_linalg_cholesky_decomp1(&Hm.matrix) && !gsl_linalg_cholesky_invert(&Hm.matrix);
    double se[NQ];
    for (int k = 0; k < NQ; k++) se[k] = cov_ok && H[k * NQ + k] > 0 ? sqrt(H[k * NQ + k]) : NAN;
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "dw");
    snprintf(out->device, sizeof out->device, "dw");
    snprintf(out->data, sizeof out->data, "%s", m->name);
    out->n = nobs; out->k = NQ;
    out->loglik = -f0;
    out->aic = 2.0 * NQ + 2 * f0;
    out->bic = NQ * log((double)nobs) + 2 * f0;
    out->converged = conv; out->iters = iters; out->cov_ok = cov_ok;
    out->r2 = out->r2_traj = out->chi2_red = out->ks_d = out->ks_p = out->rmse = NAN;
    const double z = 1.959963984540054;
    const double sig = exp(th[0]);
    /* Landing check (DEVICES.md 10: per-state KS): reads that changed and lie nearest an
     * inner site (the end sites' landings are clipped), standardised by the fitted sigma,
     * against N(0, 1). A miss lands on a site too, so all landings share this law. */
    double *zs = xb_malloc(nobs * sizeof *zs);
    size_t nz = 0;
    if (zs) {
        double ss = 0;
        for (size_t r = 0; r < m->nramps; r++)
            for (size_t t = 1; t < m->ramp[r].n; t++) {
                if (m->ramp[r].g[t] == m->ramp[r].g[t - 1]) continue;
                const double xv = xof(&c, m->ramp[r].g[t]);
                const long kk = lround(xv * (S - 1));
                if (xv <= 0 || xv >= 1 || kk <= 0 || kk >= S - 1) continue;
                zs[nz] = (xv - (double)kk / (S - 1)) / sig;
                ss += zs[nz] * zs[nz];
                nz++;
            }
        if (nz >= 5) {
            out->chi2_red = ss / (double)nz;
            out->rmse = sqrt(ss / (double)nz) * sig * (gp - gap);
            xb_fit_ks_normal(zs, nz, &out->ks_d, &out->ks_p);
        }
        xb_free(zs);
    }
    xb_calib_add_par(out, "sigma", "", sig, sig * se[0], exp(th[0] - z * se[0]), exp(th[0] + z * se[0]), XB_CAL_FIT, 1);
    const char *pn[2] = { "p_depin", "p_miss" };
    for (int k = 1; k < 3; k++) {
        const double pv = 1 / (1 + exp(-th[k]));
        xb_calib_add_par(out, pn[k - 1], "", pv, pv * (1 - pv) * se[k], 1 / (1 + exp(-(th[k] - z * se[k]))),
             1 / (1 + exp(-(th[k] + z * se[k]))), XB_CAL_FIT, 1);
    }
    xb_calib_add_par(out, "states", "", S, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    xb_calib_add_par(out, "g_p", "S", gp, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    xb_calib_add_par(out, "g_ap", "S", gap, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    xb_calib_add_par(out, "g_dtod", "", 0, NAN, NAN, NAN, XB_CAL_FIXED, 1);
    xb_calib_note(out, "exact HMM likelihood (forward algorithm over %d sites), %zu sequences, %zu reads; "
                  "Nelder-Mead (nmsimplex2, %d iterations, %ld evaluations); intervals from the numerical "
                  "Hessian on the (ln sigma, logit p) scale", S, nseq, nobs, iters, c.evals);
    xb_calib_note(out, "g_p, g_ap: %s; g_dtod not identifiable from one device's reads (held at 0)",
                  data_range ? "the largest and smallest read" : "given with --fix");
    xb_calib_note(out, "landing check: %zu moved reads nearest an inner site, (x - x_site)/sigma vs N(0,1): "
                  "KS D %.4g (p %.3g), mean square %.4g (the reduced chi^2); rmse of G about its site %.4g S",
                  nz, out->ks_d, out->ks_p, out->chi2_red, out->rmse);
    if (!cov_ok) xb_calib_note(out, "warning: the Hessian is not positive definite; intervals omitted");
    if (!conv) xb_calib_note(out, "warning: Nelder-Mead did not reach its size tolerance");
done:
    if (mm) gsl_multimin_fminimizer_free(mm);
    if (x) gsl_vector_free(x);
    if (ss) gsl_vector_free(ss);
    xb_free(c.chain);
    return st;
}
