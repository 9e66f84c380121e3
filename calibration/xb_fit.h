/* calibration/xb_fit.h: nonlinear least squares with the statistics a calibration report
 * needs, on GSL's gsl_multifit_nlinear (trust region, Levenberg-Marquardt with geodesic
 * acceleration, finite-difference Jacobian).
 *
 * The caller supplies standardised residuals r_i(theta) = (y_i - f_i(theta)) / s_i, with
 * the scales s_i fixed during one solve (iteratively reweighted fits call again with new
 * scales). For a binomial likelihood the residuals are deviance residuals, whose sum of
 * squares is the deviance, so the same solver gives the maximum-likelihood estimate.
 * Parameters should be O(1) (the fitters rescale data), which keeps the finite
 * differences and the trust-region scaling well conditioned.
 *
 * Covariance: (J^T J)^-1 at the solution, multiplied by `scale` (the reduced chi^2 for
 * least squares with unknown noise level; max(1, deviance/dof) for binomial data).
 * 95 % intervals: estimate +- t_{0.975, dof} * se. Like GSL's workspace, an xb_fit is
 * filled by the call and owns nothing. */
#ifndef XB_FIT_H
#define XB_FIT_H

#include <stddef.h>

#include "core/xb_err.h"

enum { XB_FIT_MAXP = 8 };

typedef struct xb_fit_problem {
    size_t n, p;                       /* residuals, free parameters (p <= XB_FIT_MAXP) */
    /* r[0..n-1] at theta; return 0, or nonzero if theta is outside the model's domain */
    int (*resid)(const double *theta, void *ctx, double *r);
    void *ctx;
    int binomial;                      /* covariance scale max(1, chi2/dof) instead of chi2/dof */
    size_t maxiter;                    /* 0: 200 */
} xb_fit_problem;

typedef struct xb_fit {
    size_t n, p;
    double theta[XB_FIT_MAXP], se[XB_FIT_MAXP], lo[XB_FIT_MAXP], hi[XB_FIT_MAXP];
    double cov[XB_FIT_MAXP * XB_FIT_MAXP];   /* scaled covariance, p x p */
    double chi2, dof, scale;           /* sum r^2 at the solution, n - p, covariance factor */
    int iters, converged, cov_ok;      /* cov_ok = 0: J^T J singular (unidentifiable) */
} xb_fit;

/* Solve from theta0. XB_ENUMERIC if GSL fails or the residuals are not finite. */
xb_status xb_fit_solve(const xb_fit_problem *pb, const double *theta0, xb_fit *out, xb_err *err);

/* Kolmogorov-Smirnov test of z[0..n-1] against N(0,1): statistic D and asymptotic p-value
 * (Stephens' small-sample correction). z is sorted in place. */
void xb_fit_ks_normal(double *z, size_t n, double *d, double *p);

/* t_{0.975, dof} (dof >= 1; normal quantile for huge dof). */
double xb_fit_t975(double dof);

#endif
