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
/* Interval modes for xb_fit_profile (xb_calib_opts.ci). */
enum { XB_CI_AUTO = 0, XB_CI_WALD = 1, XB_CI_PROFILE = 2 };

typedef struct xb_fit_problem {
    size_t n, p;                       /* residuals, free parameters (p <= XB_FIT_MAXP) */
    /* r[0..n-1] at theta; return 0, or nonzero if theta is outside the model's domain */
    int (*resid)(const double *theta, void *ctx, double *r);
    void *ctx;
    int binomial;                      /* covariance scale max(1, chi2/dof) instead of chi2/dof */
    size_t maxiter;                    /* 0: 200 */
    unsigned logmask;                  /* bit k: theta_k is a log (never crosses a bound) */
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


/* Profile-likelihood 95 % intervals: for parameter k, the set of psi where
 * min over the others of chi2(theta | theta_k = psi) - chi2_min <= t975(dof)^2 * scale
 * (the same quantile and noise scale as the Wald interval, so the two agree when the
 * model is linear in theta). Each end is found by bracketing outwards from the Wald end
 * and GSL's Brent solver on the profile; an end that the profile never reaches (the
 * likelihood flattens out) is +-INFINITY. mode XB_CI_PROFILE: every parameter;
 * XB_CI_AUTO: the parameters whose Wald interval contains 0 (a sign the data may not
 * fix, or a positive parameter's physical bound; not for log-parameters, pb->logmask),
 * or all of them when J^T J is singular
 * or its condition number exceeds 1e10; XB_CI_WALD: none. Replaces f->lo/hi of the
 * profiled parameters and sets profiled[k] (p entries). pb must give the residuals of
 * the solve that produced f (same weights). */
xb_status xb_fit_profile(const xb_fit_problem *pb, xb_fit *f, int mode, int *profiled, xb_err *err);

/* The next item of a --fix list "key=value[,key=value...]": *pos starts at spec (may be
 * NULL or empty) and advances past the item. On XB_OK, key holds the item's key (empty
 * when the list is exhausted) and *v its value, which must be a positive number; a
 * missing '=' or a bad value is an error naming spec or the key. */
xb_status xb_fix_next(const char *spec, const char **pos, char key[32], double *v, xb_err *err);

/* Kolmogorov-Smirnov test of z[0..n-1] against N(0,1): statistic D and asymptotic p-value
 * (Stephens' small-sample correction). z is sorted in place. */
void xb_fit_ks_normal(double *z, size_t n, double *d, double *p);

/* t_{0.975, dof} (dof >= 1; normal quantile for huge dof). */
double xb_fit_t975(double dof);

#endif
