/* calibration/calib.c: model registry of the fitters, prediction, params INI output. */
#include "calibration/xb_calib.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/xb_param.h"
#include "devices/xb_device.h"

typedef struct fitter { const char *name; xb_meas_kind kind; } fitter;
static const fitter fitters[] = {
    { "linear", XB_MEAS_RAMPS }, { "softbounds", XB_MEAS_RAMPS }, { "expstep", XB_MEAS_RAMPS },
    { "hfox", XB_MEAS_RAMPS }, { "stmram", XB_MEAS_PSW }, { "stmram_thermal", XB_MEAS_PSW }, { "relax", XB_MEAS_RELAX },
    { "bake", XB_MEAS_RELAX },
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
    return "linear, softbounds, expstep, hfox, stmram, stmram_thermal, relax, bake";
}

xb_status xb_calib_fit(const char *model, const xb_measurement *m, const xb_calib_opts *o,
                       xb_calib *out, xb_err *err)
{
    const xb_calib_opts opts = o ? *o : (xb_calib_opts){ 0 };
    memset(out, 0, sizeof *out);
    const xb_meas_kind k = xb_calib_kind(model);
    if (!k) return xb_fail(err, XB_EINVAL, "unknown model '%s' (one of %s)", model, xb_calib_models());
    if (!strcmp(model, "hfox")) return xb_calib_hfox(m, out, err);
    if (k == XB_MEAS_RAMPS) return xb_calib_pulse(model, m, out, err);
    if (k == XB_MEAS_PSW) return xb_calib_mtj(model, m, &opts, NULL, NULL, out, err);
    if (!strcmp(model, "bake")) return xb_calib_bake(m, out, err);
    if (m->temp)
        return xb_fail(err, XB_EINVAL, "%s is a bake file: use --model bake", m->name);
    return xb_calib_relax(m, out, err);
}

xb_status xb_calib_predict(const char *type, const char *const *keys, const double *vals,
                           size_t nkeys, const xb_measurement *m, const xb_calib_opts *o,
                           xb_calib *out, xb_err *err)
{
    const xb_calib_opts opts = o ? *o : (xb_calib_opts){ 0 };
    const xb_meas_kind k = xb_calib_kind(type);
    if (k == XB_MEAS_RAMPS && strcmp(type, "hfox")) {
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
            snprintf(txt, sizeof txt, "%.17g", q->est);
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
        if (isfinite(q->lo))
            fprintf(f, "%s = %.10g    ; 95%% CI [%.6g, %.6g] %s\n", q->name, q->est, q->lo, q->hi,
                    q->unit ? q->unit : "");
        else
            fprintf(f, "%s = %.10g    ; %s %s\n", q->name, q->est,
                    q->kind == XB_CAL_FIXED ? "fixed" : "estimate", q->unit ? q->unit : "");
    }
    if (fclose(f)) return xb_fail(err, XB_EIO, "%s: write failed", path);
    return XB_OK;
}
