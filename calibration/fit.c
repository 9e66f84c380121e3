/* calibration/fit.c: the least-squares driver and goodness-of-fit helpers (xb_fit.h). */
#include "calibration/xb_fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_roots.h>

#include "core/xb_mem.h"
#include "core/xb_par.h"

typedef struct shim { const xb_fit_problem *pb; double *r; } shim;

static int f_gsl(const gsl_vector *x, void *params, gsl_vector *f)
{
    const shim *s = params;
    double th[XB_FIT_MAXP];
    for (size_t k = 0; k < s->pb->p; k++) th[k] = gsl_vector_get(x, k);
    /* GSL may hand us a strided view (e.g. for the geodesic acceleration): fill a
     * contiguous buffer, then copy. */
    if (s->pb->resid(th, s->pb->ctx, s->r)) return GSL_EDOM;
    for (size_t i = 0; i < s->pb->n; i++) {
        if (!isfinite(s->r[i])) return GSL_EDOM;
        gsl_vector_set(f, i, s->r[i]);
    }
    return GSL_SUCCESS;
}

double xb_fit_t975(double dof)
{
    return dof >= 1 ? gsl_cdf_tdist_Pinv(0.975, dof) : NAN;
}

xb_status xb_fit_solve(const xb_fit_problem *pb, const double *theta0, xb_fit *out, xb_err *err)
{
    memset(out, 0, sizeof *out);
    if (pb->p == 0 || pb->p > XB_FIT_MAXP)
        return xb_fail(err, XB_EINVAL, "fit: %zu free parameters (1..%d allowed)", pb->p, XB_FIT_MAXP);
    if (pb->n <= pb->p)
        return xb_fail(err, XB_EINVAL, "fit: %zu data points for %zu free parameters; need more "
                       "points than parameters", pb->n, pb->p);
    out->n = pb->n; out->p = pb->p;
    shim s = { pb, xb_malloc(pb->n * sizeof(double)) };
    gsl_multifit_nlinear_fdf fdf = { .f = f_gsl, .df = NULL, .fvv = NULL, .n = pb->n,
                                     .p = pb->p, .params = &s };
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    fp.trs = gsl_multifit_nlinear_trs_lmaccel;       /* geodesic acceleration */
    fp.scale = gsl_multifit_nlinear_scale_more;
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust,
                                                                   &fp, pb->n, pb->p);
    gsl_matrix *cov = gsl_matrix_alloc(pb->p, pb->p);
    if (!w || !cov || !s.r) {
        xb_free(s.r);
        if (w) gsl_multifit_nlinear_free(w);
        if (cov) gsl_matrix_free(cov);
        return xb_fail(err, XB_ENOMEM, "fit: out of memory for %zu residuals", pb->n);
    }
    /* The matrices are n x p with p <= 8: BLAS threads only cost here (and on a loaded
     * machine their spin-waits cost 20x). Serial for the solve, restored after. */
    const int blas_prev = xb_par_blas_threads(0);
    xb_par_blas_threads(1);
    double x0[XB_FIT_MAXP];
    memcpy(x0, theta0, pb->p * sizeof *x0);
    gsl_vector_view xv = gsl_vector_view_array(x0, pb->p);
    xb_status st = XB_OK;
    int gs = gsl_multifit_nlinear_init(&xv.vector, &fdf, w), info = 0;
    if (gs) {
        st = xb_gsl_status(err, gs, "fit: residuals at the starting point");
        goto done;
    }
    gs = gsl_multifit_nlinear_driver(pb->maxiter ? pb->maxiter : 200, 1e-10, 1e-10, 0.0, NULL,
                                     NULL, &info, w);
    out->iters = (int)gsl_multifit_nlinear_niter(w);
    /* ENOPROG: no step lowers the cost any more, e.g. when started at the optimum. */
    out->converged = gs == GSL_SUCCESS || info == GSL_ENOPROG;
    if (gs && gs != GSL_EMAXITER && gs != GSL_ENOPROG) {
        st = xb_gsl_status(err, gs, "fit: trust-region iteration");
        goto done;
    }
    const gsl_vector *x = gsl_multifit_nlinear_position(w);
    const gsl_vector *f = gsl_multifit_nlinear_residual(w);
    double chi2;
    gsl_blas_ddot(f, f, &chi2);
    if (!isfinite(chi2)) { st = xb_fail(err, XB_ENUMERIC, "fit: residuals are not finite"); goto done; }
    out->chi2 = chi2;
    out->dof = (double)(pb->n - pb->p);
    out->scale = chi2 / out->dof;
    if (pb->binomial && out->scale < 1) out->scale = 1;
    const gsl_matrix *J = gsl_multifit_nlinear_jac(w);
    gs = gsl_multifit_nlinear_covar(J, 1e-12, cov);
    const double tq = xb_fit_t975(pb->binomial ? 1e9 : out->dof);
    out->cov_ok = gs == GSL_SUCCESS;
    for (size_t k = 0; k < pb->p; k++) {
        out->theta[k] = gsl_vector_get(x, k);
        for (size_t l = 0; l < pb->p; l++)
            out->cov[k * pb->p + l] = gsl_matrix_get(cov, k, l) * out->scale;
        const double v = out->cov[k * pb->p + k];
        if (!(v > 0)) out->cov_ok = 0;     /* rank-deficient: a zero column of J */
        out->se[k] = v > 0 ? sqrt(v) : NAN;
        out->lo[k] = out->theta[k] - tq * out->se[k];
        out->hi[k] = out->theta[k] + tq * out->se[k];
    }
done:
    xb_par_blas_threads(blas_prev);
    xb_free(s.r);
    gsl_matrix_free(cov);
    gsl_multifit_nlinear_free(w);
    return st;
}

/* ---- profile likelihood ------------------------------------------------------------ */

typedef struct pshim {
    const xb_fit_problem *pb;
    size_t k;
    double psi;
    double full[XB_FIT_MAXP];
    double warm[XB_FIT_MAXP];       /* start of each constrained solve: the others at the fit */
    double s_min, q;
    int failed;
} pshim;

static int presid(const double *th, void *ctx, double *r)
{
    pshim *s = ctx;
    for (size_t j = 0, i = 0; j < s->pb->p; j++) s->full[j] = j == s->k ? s->psi : th[i++];
    return s->pb->resid(s->full, s->pb->ctx, r);
}

/* min over the others of chi2 at theta_k = psi, minus s_min + q. */
static double pfun(double psi, void *ctx)
{
    pshim *s = ctx;
    s->psi = psi;
    const size_t n = s->pb->n, p = s->pb->p;
    double chi2;
    if (p == 1) {
        double *r = xb_malloc(n * sizeof *r);
        if (!r || s->pb->resid(&psi, s->pb->ctx, r)) { xb_free(r); s->failed = 1; return NAN; }
        chi2 = 0;
        for (size_t i = 0; i < n; i++) chi2 += r[i] * r[i];
        xb_free(r);
    } else {
        xb_fit_problem sub = { .n = n, .p = p - 1, .resid = presid, .ctx = s,
                               .binomial = s->pb->binomial, .maxiter = s->pb->maxiter };
        xb_fit sf;
        xb_err e2 = { 0 };
        if (xb_fit_solve(&sub, s->warm, &sf, &e2)) { s->failed = 1; return NAN; }
        chi2 = sf.chi2;
    }
    if (!isfinite(chi2)) { s->failed = 1; return NAN; }
    return chi2 - s->s_min - s->q;
}

/* One end (dir +1 or -1) of parameter k's profile interval. */
static double profile_end(pshim *s, const xb_fit *f, int dir)
{
    const size_t k = s->k, p = f->p;
    for (size_t j = 0, i = 0; j < p; j++) if (j != k) s->warm[i++] = f->theta[j];
    const double t0 = f->theta[k];
    double step = isfinite(f->se[k]) && f->se[k] > 0 ? f->se[k] * sqrt(s->q / f->scale)
                : fmax(0.1 * fabs(t0), 1e-3);
    double a = t0, b = t0 + dir * step, fb = NAN;
    for (int it = 0; it < 12; it++) {
        s->failed = 0;
        fb = pfun(b, s);
        if (s->failed) return dir * INFINITY;       /* left the model's domain: open */
        if (fb > 0) break;
        a = b;
        step *= 2;
        b = t0 + dir * step;
    }
    if (!(fb > 0)) return dir * INFINITY;
    /* Brent on [a, b] (a has g < 0: inside the interval). */
    gsl_function F = { .function = pfun, .params = s };
    gsl_root_fsolver *rs = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!rs) return NAN;
    const double lo = fmin(a, b), hi = fmax(a, b);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    double root = NAN;
    s->failed = 0;
    if (!gsl_root_fsolver_set(rs, &F, lo, hi)) {
        const double tol = 1e-4 * fabs(step) + 1e-12 * fabs(t0);
        double prev = NAN;
        for (int it = 0; it < 40; it++) {
            if (gsl_root_fsolver_iterate(rs) || s->failed) { root = NAN; break; }
            const double x0 = gsl_root_fsolver_x_lower(rs), x1 = gsl_root_fsolver_x_upper(rs);
            root = gsl_root_fsolver_root(rs);
            if (gsl_root_test_interval(x0, x1, tol, 0) == GSL_SUCCESS || fabs(root - prev) < tol) break;
            prev = root;
        }
    }
    gsl_set_error_handler(old);
    gsl_root_fsolver_free(rs);
    return root;
}

xb_status xb_fit_profile(const xb_fit_problem *pb, xb_fit *f, int mode, int *profiled, xb_err *err)
{
    const size_t p = f->p;
    for (size_t k = 0; k < p; k++) profiled[k] = 0;
    if (mode == XB_CI_WALD) return XB_OK;
    int all = mode == XB_CI_PROFILE || !f->cov_ok;
    if (!all) {                      /* condition number of the (scaled) covariance */
        double c[XB_FIT_MAXP * XB_FIT_MAXP], ev[XB_FIT_MAXP];
        for (size_t a = 0; a < p; a++)
            for (size_t b = 0; b < p; b++)
                c[a * p + b] = f->cov[a * p + b] / (f->se[a] * f->se[b]);   /* correlation */
        gsl_matrix_view cm = gsl_matrix_view_array(c, p, p);
        gsl_vector_view ev_v = gsl_vector_view_array(ev, p);
        gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(p);
        if (!w) return xb_fail(err, XB_ENOMEM, "out of memory");
        gsl_eigen_symm(&cm.matrix, &ev_v.vector, w);
        gsl_eigen_symm_free(w);
        double emin = INFINITY, emax = 0;
        for (size_t a = 0; a < p; a++) { emin = fmin(emin, ev[a]); emax = fmax(emax, ev[a]); }
        if (!(emin > 0) || emax / emin > 1e10) all = 1;
    }
    pshim s = { .pb = pb };
    /* chi2 at the estimate with the problem's current weights */
    double *r = xb_malloc(pb->n * sizeof *r);
    if (!r) return xb_fail(err, XB_ENOMEM, "out of memory");
    if (pb->resid(f->theta, pb->ctx, r)) { xb_free(r); return xb_fail(err, XB_ENUMERIC, "profile: residuals at the estimate"); }
    s.s_min = 0;
    for (size_t i = 0; i < pb->n; i++) s.s_min += r[i] * r[i];
    xb_free(r);
    const double tq = xb_fit_t975(pb->binomial ? 1e9 : f->dof);
    s.q = tq * tq * (f->scale > 0 ? f->scale : 1);
    for (size_t k = 0; k < p; k++) {
        if (!all && ((pb->logmask >> k) & 1u || !(f->lo[k] <= 0 && f->hi[k] >= 0))) continue;
        s.k = k;
        const double lo = profile_end(&s, f, -1), hi = profile_end(&s, f, +1);
        if (isnan(lo) || isnan(hi)) continue;     /* keep Wald */
        f->lo[k] = lo; f->hi[k] = hi;
        profiled[k] = 1;
    }
    return XB_OK;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void xb_fit_ks_normal(double *z, size_t n, double *d, double *p)
{
    *d = NAN; *p = NAN;
    if (n == 0) return;
    qsort(z, n, sizeof *z, cmp_double);
    double D = 0;
    for (size_t i = 0; i < n; i++) {
        const double F = gsl_cdf_ugaussian_P(z[i]);
        D = fmax(D, fmax((double)(i + 1) / n - F, F - (double)i / n));
    }
    /* Q_KS(lambda) = 2 sum_k (-1)^(k-1) exp(-2 k^2 lambda^2) (Kolmogorov's limit law),
     * lambda = (sqrt n + 0.12 + 0.11/sqrt n) D (Stephens 1970). */
    const double sn = sqrt((double)n), lam = (sn + 0.12 + 0.11 / sn) * D;
    double q = 0, sign = 1;
    if (lam < 0.2) q = 1;
    else for (int k = 1; k <= 100; k++, sign = -sign) {
        const double t = sign * exp(-2.0 * k * k * lam * lam);
        q += t;
        if (fabs(t) < 1e-12) break;
    }
    *d = D;
    *p = fmin(1, fmax(0, lam < 0.2 ? 1 : 2 * q));
}

xb_status xb_fix_next(const char *spec, const char **pos, char key[32], double *v, xb_err *err)
{
    key[0] = '\0';
    const char *p = *pos ? *pos : spec;
    if (!p || !*p) { *pos = p; return XB_OK; }
    const char *e = strchr(p, ','), *eq = strchr(p, '=');
    if (!e) e = p + strlen(p);
    if (!eq || eq > e) return xb_fail(err, XB_EINVAL, "--fix '%s': expected key=value", spec);
    snprintf(key, 32, "%.*s", (int)(eq - p), p);
    char buf[64], *end;
    snprintf(buf, sizeof buf, "%.*s", (int)(e - eq - 1), eq + 1);
    *v = strtod(buf, &end);
    if (end == buf || *end || !(*v > 0))
        return xb_fail(err, XB_ERANGE, "--fix %s = '%s' must be a positive number", key, buf);
    *pos = *e ? e + 1 : e;
    return XB_OK;
}
