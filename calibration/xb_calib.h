/* calibration/xb_calib.h: device-model fitters on measured data, and their results.
 *
 * A fitter turns an xb_measurement into an xb_calib: one row per reported parameter
 * (the keys of the device schema where a device type exists), each with estimate,
 * standard error and 95 % interval, plus goodness of fit. Models and what they fit:
 *   linear, softbounds, expstep  (DEVICES.md 1) ramps or dG tables. The conditional mean
 *        step E[dG | G] of each direction is fitted to the measured per-pulse changes by
 *        iteratively reweighted least squares, with variance sigma^2 mu^2 + tau^2
 *        (sigma = dw_min_std, the multiplicative C2C noise of the model; tau an additive
 *        read-noise term that the device model does not have). The gauge is w_max = 1,
 *        w_min = -1, so g_ref and g_unit carry the conductance range.
 *   hfox  (DEVICES.md 2) ln R vs cumulative reset pulses of many devices: the
 *        piecewise-linear law per device, then the population distributions.
 *   stmram, stmram_thermal  (DEVICES.md 5) switching probability vs pulse width or
 *        current; binomial likelihood with an assumed number of trials per point.
 *   relax  (DEVICES.md 7) sigma_rel(t) = a ln(1 + t/t_1) and mean drift
 *        c ln(1 + t/t_2) over all programmed levels, per-level tables in the notes.
 *   bake  bake pairs: sd of the change vs temperature, Arrhenius, E_a in eV.
 * Parameters the data cannot identify are held fixed (kind XB_CAL_FIXED, given with
 * xb_calib_opts.fix) and say so in the report. */
#ifndef XB_CALIB_H
#define XB_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "calibration/xb_meas.h"
#include "core/xb_err.h"

enum { XB_CAL_MAXPAR = 32, XB_CAL_NOTES = 4096 };
typedef enum { XB_CAL_FIT = 0, XB_CAL_NOISE, XB_CAL_FIXED, XB_CAL_DERIVED } xb_cal_kind;

typedef struct xb_cal_par {
    char name[32];
    const char *unit;
    double est, se, lo, hi;      /* se/lo/hi NaN for fixed values */
    xb_cal_kind kind;
    int device_key;              /* 1: written to the [device] section */
} xb_cal_par;

typedef struct xb_calib {
    char model[32];              /* fitter name */
    char device[32];             /* [device] type, "" if no device type holds the result */
    char data[256];
    size_t n;                    /* data points in the likelihood */
    size_t k;                    /* estimated parameters, noise terms included (AIC/BIC) */
    size_t npar;
    xb_cal_par par[XB_CAL_MAXPAR];
    double loglik, aic, bic;
    double r2;                   /* of the fitted response (steps, probabilities, sd(t)) */
    double r2_traj;              /* pulse models: of G along each ramp, iterated mean map */
    double chi2_red;             /* sum of squared standardised residuals / dof */
    double ks_d, ks_p;           /* standardised residuals vs N(0,1) */
    double rmse;                 /* of the response, in its SI unit */
    int converged, iters, cov_ok;
    int profiled;                /* parameters whose interval is from the profile likelihood */
    char notes[XB_CAL_NOTES];    /* further tables, assumptions, warnings: text lines */
} xb_calib;

typedef struct xb_calib_opts {
    const char *fix;             /* "delta=45,tau_0=1e-9": hold these at the given values */
    double trials;               /* binomial trials per point (stmram); 0: 10000 */
    double t_pulse, v_pulse;     /* ftj: pulse width (s) and amplitude (V) of the data; 0: 1 ns, 1 V */
    int states;                  /* dw: number of pinning sites; 0: 5 */
    int ci;                      /* XB_CI_AUTO (0), XB_CI_WALD, XB_CI_PROFILE (xb_fit.h) */
} xb_calib_opts;

/* The measurement kind a model reads; 0 if the model is unknown. */
xb_meas_kind xb_calib_kind(const char *model);
/* Comma-separated list of the known models, for messages. */
const char *xb_calib_models(void);

/* Append a parameter row to c's report (name, unit, estimate, standard error, 95 % interval,
 * kind; device_key = 1: also a [device] key of the params INI). NULL when c is full. */
xb_cal_par *xb_calib_add_par(xb_calib *c, const char *name, const char *unit, double est, double se,
                             double lo, double hi, xb_cal_kind kind, int device_key);

xb_status xb_calib_fit(const char *model, const xb_measurement *m, const xb_calib_opts *o,
                       xb_calib *out, xb_err *err);

/* Score a parameter set on data it was not fitted to. `keys`/`vals` (nkeys) are the
 * [device] keys of `type` (others take schema defaults). Fills loglik, rmse, r2, r2_traj;
 * free nuisance parameters (an unrecorded pulse amplitude, an additive noise level) are
 * fitted and listed in par[]. */
xb_status xb_calib_predict(const char *type, const char *const *keys, const double *vals,
                           size_t nkeys, const xb_measurement *m, const xb_calib_opts *o,
                           xb_calib *out, xb_err *err);

/* Replace the Jacobian intervals of c's fitted parameters by bootstrap percentile
 * intervals: B refits on ramps resampled with replacement within each direction (pulse
 * models; for fits whose covariance is unreliable). Deterministic in seed. */
xb_status xb_calib_bootstrap(const char *model, const xb_measurement *m, const xb_calib_opts *o,
                             int B, uint32_t seed, xb_calib *c, xb_err *err);

/* Write "[device]\ntype = ...\nkey = value ..." (fitted, fixed and gauge keys; every
 * value checked against the device schema). XB_ERANGE names a key the schema cannot
 * hold. With no device type, the keys go out as comments and XB_OK is returned. */
xb_status xb_calib_write_ini(const xb_calib *c, const char *path, xb_err *err);

/* Internal: append a formatted line to c->notes. */
void xb_calib_note(xb_calib *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Internal, per family. `given` (stmram: delta, i_c0, tau_d, tau_0, i_pulse, r_p; NaN =
 * not given) holds parameters fixed; free_only names the one nuisance left free. */
/* Internal, per family (calibration/pulse_fit.c, mtj_fit.c, relax_fit.c). */
xb_status xb_calib_pulse(const char *model, const xb_measurement *m, int ci, xb_calib *out, xb_err *err);
xb_status xb_calib_mtj(const char *model, const xb_measurement *m, const xb_calib_opts *o,
                       const double *given, const char *free_only, xb_calib *out, xb_err *err);
xb_status xb_calib_relax(const xb_measurement *m, int ci, xb_calib *out, xb_err *err);
xb_status xb_calib_hfox(const xb_measurement *m, xb_calib *out, xb_err *err);
xb_status xb_calib_bake(const xb_measurement *m, int ci, xb_calib *out, xb_err *err);
xb_status xb_calib_ftj(const xb_measurement *m, const xb_calib_opts *o, xb_calib *out, xb_err *err);
xb_status xb_calib_dw(const xb_measurement *m, const xb_calib_opts *o, xb_calib *out, xb_err *err);
/* One device of the HfOx law: (b = ln R0 + c1, m1, m2, t*) with 95 % intervals. */
xb_status xb_calib_hfox_one(const xb_ramp *rp, double est[4], double lo[4], double hi[4],
                            double *resid_sd, double *loglik, xb_err *err);
double xb_calib_pulse_step(const xb_calib *c, double g, int dir);
xb_status xb_calib_ftj_curve(const xb_calib *c, const double *k, size_t n, double *mean,
                             double *sd, xb_err *err);

/* Overlay of the data and the fitted model's mean +- spread envelope (PNG, or PDF/SVG by
 * the extension): pulse models dG vs G per direction; stmram P_sw vs the varied pulse
 * parameter with the binomial +-2 sd band; relax mean and spread of G(t) - G(0) vs t;
 * bake sd vs temperature; ftj G vs pulse count; dw G along the first sequence with the
 * landing bands of the sites. Other models: XB_EINVAL. */
xb_status xb_calib_plot(const xb_calib *c, const xb_measurement *m, const xb_calib_opts *o,
                        const char *path, xb_err *err);

xb_status xb_calib_pulse_predict(const char *type, const double *p, const xb_measurement *m,
                                 xb_calib *out, xb_err *err);

#endif
