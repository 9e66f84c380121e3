/* calibration/fit.c: the least-squares driver and goodness-of-fit helpers (xb_fit.h). */
#include "calibration/xb_fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>

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
