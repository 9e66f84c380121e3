/* calibration/calib.c: model registry of the fitters, prediction, params INI output. */
#include "calibration/xb_calib.h"
#include "calibration/xb_fit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include <gsl/gsl_rng.h>

#include "core/xb_mem.h"
#include "core/xb_param.h"
#include "core/xb_rng.h"
#include "devices/xb_device.h"

typedef struct fitter { const char *name; xb_meas_kind kind; } fitter;
static const fitter fitters[] = {
    { "linear", XB_MEAS_RAMPS }, { "softbounds", XB_MEAS_RAMPS }, { "expstep", XB_MEAS_RAMPS },
    { "hfox", XB_MEAS_RAMPS }, { "stmram", XB_MEAS_PSW }, { "stmram_thermal", XB_MEAS_PSW }, { "relax", XB_MEAS_RELAX },
    { "bake", XB_MEAS_RELAX }, { "ftj", XB_MEAS_RAMPS }, { "dw", XB_MEAS_RAMPS },
};
enum { NFITTERS = sizeof fitters / sizeof *fitters };

xb_meas_kind xb_calib_kind(const char *model)
{
    for (int i = 0; i < NFITTERS; i++)
        if (!strcmp(model, fitters[i].name)) return fitters[i].kind;
    return 0;
}

const char *xb_calib_models(void)
{
    return "linear, softbounds, expstep, hfox, stmram, stmram_thermal, relax, bake, ftj, dw";
}

static xb_status fit_one(const char *model, const xb_measurement *m, const xb_calib_opts *o,
                         xb_calib *out, xb_err *err);

/* With profile intervals requested, fit once more with Wald intervals and name, in the
 * notes, every interval the profile changed (both given). */
xb_status xb_calib_fit(const char *model, const xb_measurement *m, const xb_calib_opts *o,
                       xb_calib *out, xb_err *err)
{
    const xb_calib_opts opts = o ? *o : (xb_calib_opts){ 0 };
    xb_status st = fit_one(model, m, &opts, out, err);
    if (st || opts.ci == XB_CI_WALD) return st;
    if (!out->profiled) {
        if (opts.ci == XB_CI_AUTO && xb_calib_kind(model) != 0 && strcmp(model, "ftj") &&
            strcmp(model, "dw") && strcmp(model, "hfox"))
            xb_calib_note(out, "--ci auto: Wald intervals kept (none contains 0, covariance well conditioned)");
        return XB_OK;
    }
    xb_calib_opts wo = opts;
    wo.ci = XB_CI_WALD;
    xb_calib *w = xb_malloc(sizeof *w);
    if (!w) return xb_fail(err, XB_ENOMEM, "out of memory");
    if (fit_one(model, m, &wo, w, err) == XB_OK && w->npar == out->npar) {
        int any = 0;
        for (size_t i = 0; i < out->npar; i++) {
            const xb_cal_par *a = &w->par[i], *b = &out->par[i];
            if (a->kind != XB_CAL_FIT || (a->lo == b->lo && a->hi == b->hi)) continue;
            xb_calib_note(out, "%s: 95%% interval from the profile likelihood [%.5g, %.5g] (Wald "
                          "[%.5g, %.5g])", b->name, b->lo, b->hi, a->lo, a->hi);
            any = 1;
        }
        (void)any;
    }
    xb_free(w);
    return XB_OK;
}

static xb_status fit_one(const char *model, const xb_measurement *m, const xb_calib_opts *o,
                         xb_calib *out, xb_err *err)
{
    const xb_calib_opts opts = o ? *o : (xb_calib_opts){ 0 };
    memset(out, 0, sizeof *out);
    const xb_meas_kind k = xb_calib_kind(model);
    if (!k) return xb_fail(err, XB_EINVAL, "unknown model '%s' (one of %s)", model, xb_calib_models());
    if (!strcmp(model, "hfox")) return xb_calib_hfox(m, out, err);
    if (!strcmp(model, "ftj")) return xb_calib_ftj(m, &opts, out, err);
    if (!strcmp(model, "dw")) return xb_calib_dw(m, &opts, out, err);
    if (k == XB_MEAS_RAMPS) return xb_calib_pulse(model, m, opts.ci, out, err);
    if (k == XB_MEAS_PSW) return xb_calib_mtj(model, m, &opts, NULL, NULL, out, err);
    if (!strcmp(model, "bake")) return xb_calib_bake(m, opts.ci, out, err);
    if (m->temp)
        return xb_fail(err, XB_EINVAL, "%s is a bake file: use --model bake", m->name);
    return xb_calib_relax(m, opts.ci, out, err);
}

xb_status xb_calib_predict(const char *type, const char *const *keys, const double *vals,
                           size_t nkeys, const xb_measurement *m, const xb_calib_opts *o,
                           xb_calib *out, xb_err *err)
{
    const xb_calib_opts opts = o ? *o : (xb_calib_opts){ 0 };
    const xb_meas_kind k = xb_calib_kind(type);
    if (k == XB_MEAS_RAMPS && strcmp(type, "hfox") && strcmp(type, "ftj") && strcmp(type, "dw")) {
        const xb_device_type *T = xb_device_find(type);
        if (!T) return xb_fail(err, XB_EINVAL, "predict: no device type '%s'", type);
        double p[64];
        if (T->nparams > 64) return xb_fail(err, XB_EINVAL, "predict: %s has too many keys", type);
        xb_param_defaults(T->params, T->nparams, p);
        for (size_t i = 0; i < nkeys; i++) {
            const ptrdiff_t j = xb_param_index(T->params, T->nparams, keys[i]);
            if (j < 0) return xb_fail(err, XB_EINVAL, "predict: %s has no key '%s'", type, keys[i]);
            p[j] = vals[i];
        }
        return xb_calib_pulse_predict(type, p, m, out, err);
    }
    if (k == XB_MEAS_PSW) {
        /* indexed like mtj_fit.c: delta, i_c0, tau_d, tau_0, i_pulse, r_p */
        double given[6] = { NAN, NAN, NAN, NAN, NAN, NAN };
        static const char *const names[6] = { "delta", "i_c0", "tau_d", "tau0", "i_pulse", "r_p" };
        for (size_t i = 0; i < nkeys; i++)
            for (int j = 0; j < 6; j++) if (!strcmp(keys[i], names[j])) given[j] = vals[i];
        return xb_calib_mtj(type, m, &opts, given, "i_pulse", out, err);
    }
    return xb_fail(err, XB_EINVAL, "predict: no prediction for model '%s' (pulse and stmram "
                   "models only)", type);
}

xb_status xb_calib_write_ini(const xb_calib *c, const char *path, xb_err *err)
{
    const xb_device_type *T = c->device[0] ? xb_device_find(c->device) : NULL;
    double p[64];
    if (T) {
        xb_param_defaults(T->params, T->nparams, p);
        for (size_t i = 0; i < c->npar; i++) {
            const xb_cal_par *q = &c->par[i];
            if (!q->device_key) continue;
            const ptrdiff_t j = xb_param_index(T->params, T->nparams, q->name);
            if (j < 0) return xb_fail(err, XB_EINVAL, "%s has no key '%s'", T->name, q->name);
            char txt[64];
            snprintf(txt, sizeof txt, "%.17g", T->params[j].type == XB_P_INT ? round(q->est) : q->est);
            if (xb_param_parse(&T->params[j], txt, &p[j], err))
                return xb_err_prefix(err, "fitted %s cannot be written as a [device] %s: ",
                                     c->model, T->name);
        }
        const char *why = T->check ? T->check(p) : NULL;
        if (why) return xb_fail(err, XB_ERANGE, "fitted %s: %s", c->model, why);
    }
    FILE *f = fopen(path, "w");
    if (!f) return xb_fail(err, XB_EIO, "%s: cannot open for writing", path);
    fprintf(f, "; xbemu calibrate --model %s, data: %s\n", c->model, c->data);
    fprintf(f, "; n = %zu, log-likelihood %.6g, AIC %.6g, R^2 %.4f\n", c->n, c->loglik, c->aic, c->r2);
    if (!c->device[0])
        fprintf(f, "; no device type holds these parameters yet; values for reference only\n");
    else if (!T)
        fprintf(f, "; device type '%s' is not in this build's registry: keys not checked\n", c->device);
    if (c->device[0]) fprintf(f, "[device]\ntype = %s\n", c->device);
    for (size_t i = 0; i < c->npar; i++) {
        const xb_cal_par *q = &c->par[i];
        if (!q->device_key || !c->device[0]) {
            fprintf(f, "; %s = %.10g %s\n", q->name, q->est, q->unit ? q->unit : "");
            continue;
        }
        const ptrdiff_t j = T ? xb_param_index(T->params, T->nparams, q->name) : -1;
        const double v = j >= 0 && T->params[j].type == XB_P_INT ? round(q->est) : q->est;
        if (isfinite(q->lo))
            fprintf(f, "%s = %.10g    ; 95%% CI [%.6g, %.6g] %s\n", q->name, v, q->lo, q->hi,
                    q->unit ? q->unit : "");
        else
            fprintf(f, "%s = %.10g    ; %s %s\n", q->name, v,
                    q->kind == XB_CAL_FIXED ? "fixed" : "estimate", q->unit ? q->unit : "");
    }
    if (fclose(f)) return xb_fail(err, XB_EIO, "%s: write failed", path);
    return XB_OK;
}

static int cmp_dbl(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Case bootstrap over ramps, stratified by direction (a resample must keep both), so the
 * correlation of the reads within a ramp is kept. Percentile intervals replace the
 * Jacobian ones of the fitted parameters. The resampled measurement borrows the ramps'
 * arrays, so only its ramp list is freed. */
xb_status xb_calib_bootstrap(const char *model, const xb_measurement *m, const xb_calib_opts *o,
                             int B, uint32_t seed, xb_calib *c, xb_err *err)
{
    if (m->kind != XB_MEAS_RAMPS || m->nramps < 4 || xb_calib_kind(model) != XB_MEAS_RAMPS ||
        !strcmp(model, "hfox") || !strcmp(model, "ftj") || !strcmp(model, "dw"))
        return xb_fail(err, XB_EINVAL, "--bootstrap: needs a pulse model (linear, softbounds, "
                       "expstep) and 4 or more ramps");
    if (B < 20) return xb_fail(err, XB_ERANGE, "--bootstrap %d: use at least 20 resamples", B);
    size_t nup = 0;
    for (size_t r = 0; r < m->nramps; r++) nup += m->ramp[r].dir > 0;
    const size_t ndn = m->nramps - nup;
    if (nup < 2 || ndn < 2) return xb_fail(err, XB_EINVAL, "--bootstrap: needs 2 or more ramps per direction");
    size_t *up = xb_malloc(nup * sizeof *up), *dn = xb_malloc(ndn * sizeof *dn);
    double *est = xb_malloc((size_t)B * c->npar * sizeof *est);
    xb_measurement bm = *m;
    bm.ramp = xb_malloc(m->nramps * sizeof *bm.ramp);
    gsl_rng *rng = xb_rng_gsl_alloc(seed, XB_RNG_D2D, 0xb007);
    xb_calib *bc = xb_malloc(sizeof *bc);
    xb_status st = XB_OK;
    if (!up || !dn || !est || !bm.ramp || !rng || !bc) { st = xb_fail(err, XB_ENOMEM, "out of memory"); goto done; }
    for (size_t r = 0, a = 0, b = 0; r < m->nramps; r++) {
        if (m->ramp[r].dir > 0) up[a++] = r; else dn[b++] = r;
    }
    int nb = 0;
    for (int k = 0; k < B; k++) {
        for (size_t r = 0; r < m->nramps; r++) {
            const int u = r < nup;
            const size_t pick = u ? up[gsl_rng_uniform_int(rng, nup)] : dn[gsl_rng_uniform_int(rng, ndn)];
            bm.ramp[r] = m->ramp[pick];
        }
        xb_err e2 = { 0 };
        xb_calib_opts bo = o ? *o : (xb_calib_opts){ 0 };
        bo.ci = XB_CI_WALD;                                           /* resamples: Wald only */
        if (xb_calib_fit(model, &bm, &bo, bc, &e2)) continue;          /* a failed refit drops out */
        for (size_t i = 0; i < c->npar; i++) est[(size_t)nb * c->npar + i] = bc->par[i].est;
        nb++;
    }
    if (nb < B / 2) { st = xb_fail(err, XB_ENUMERIC, "--bootstrap: %d of %d refits failed", B - nb, B); goto done; }
    double *col = xb_malloc((size_t)nb * sizeof *col);
    if (!col) { st = xb_fail(err, XB_ENOMEM, "out of memory"); goto done; }
    for (size_t i = 0; i < c->npar; i++) {
        xb_cal_par *p = &c->par[i];
        if (p->kind != XB_CAL_FIT) continue;
        double s1 = 0, s2 = 0;
        for (int k = 0; k < nb; k++) { col[k] = est[(size_t)k * c->npar + i]; s1 += col[k]; s2 += col[k] * col[k]; }
        qsort(col, (size_t)nb, sizeof *col, cmp_dbl);
        p->lo = col[(int)floor(0.025 * (nb - 1))];
        p->hi = col[(int)ceil(0.975 * (nb - 1))];
        p->se = sqrt(fmax((s2 - s1 * s1 / nb) / (nb - 1), 0));
    }
    xb_free(col);
    xb_calib_note(c, "intervals of fitted parameters: bootstrap percentiles (%d of %d resamples "
                  "of the ramps, stratified by direction; se = sd of the resampled estimates)", nb, B);
done:
    if (rng) gsl_rng_free(rng);
    xb_free(up); xb_free(dn); xb_free(est); xb_free(bm.ramp); xb_free(bc);
    return st;
}

xb_cal_par *xb_calib_add_par(xb_calib *c, const char *name, const char *unit, double est, double se,
                             double lo, double hi, xb_cal_kind kind, int device_key)
{
    if (c->npar >= XB_CAL_MAXPAR) return NULL;
    xb_cal_par *p = &c->par[c->npar++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->unit = unit; p->est = est; p->se = se; p->lo = lo; p->hi = hi; p->kind = kind;
    p->device_key = device_key;
    return p;
}
