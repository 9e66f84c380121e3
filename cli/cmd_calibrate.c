/* cli/cmd_calibrate.c: `xbemu calibrate` (fit a device model to measured data, write a
 * params INI and a report) and `xbemu predict` (score params on other data). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibration/xb_calib.h"
#include "calibration/xb_fit.h"
#include "calibration/xb_meas.h"
#include "cli/xb_cli.h"
#include "core/xb_config.h"
#include "core/xb_mem.h"

enum { MAX_DATA = 16, MAX_MODELS = 8 };

static int usage(FILE *f)
{
    fprintf(f,
        "usage: xbemu calibrate --model MODEL --data FILE [--data FILE2 ...] [options]\n"
        "       xbemu calibrate --compare M1,M2,... --data FILE ... [options]\n"
        "       xbemu predict --params PARAMS.ini --data FILE ... [options]\n\n"
        "Fits a device model to measured data and reports each parameter with its 95 %%\n"
        "interval and the goodness of fit; --compare ranks models by AIC on the same data.\n"
        "models: %s\n\n"
        "options:\n"
        "  --format F        csv | taox | lut | mtj | relax (default: from the file)\n"
        "  --columns SPEC    csv roles, e.g. pulse=0,conductance=2 (0-based or header names);\n"
        "                    roles: pulse conductance current resistance ramp dir width\n"
        "                    voltage probability time g0 tnom\n"
        "  --units SPEC      e.g. conductance=mS,width=ns (converted to SI)\n"
        "  --v-read V        read voltage turning a read current into G (default 0.1 V)\n"
        "  --r-p OHM         junction resistance turning pulse volts into amps (2530)\n"
        "  --t-pulse S       pulse width when the file gives amplitudes only (1e-9);\n"
        "                    ftj: the width of the data's pulses\n"
        "  --v-pulse V       pulse amplitude when the file gives widths only (unknown);\n"
        "                    ftj: the amplitude of the data's pulses (default 1 V)\n"
        "  --trials N        binomial trials per switching point (default 10000)\n"
        "  --fix K=V,...     hold parameters fixed (stmram: delta, i_c0, tau_d, tau0;\n"
        "                    ftj: v_a, kappa; dw: g_p, g_ap)\n"
        "  --states S        dw: number of pinning sites (default 5)\n"
        "  --bootstrap B     pulse models: percentile intervals from B resamples of the ramps\n"
        "  --ci MODE         wald | profile | auto (default): 95 %% intervals from the Jacobian\n"
        "                    (Wald) or the profile likelihood; auto profiles the parameters\n"
        "                    whose Wald interval contains 0, or all when the covariance is\n"
        "                    ill-conditioned (pulse, stmram, relax, bake models)\n"
        "  --out FILE        params INI ([device] section) for `xbemu run`\n"
        "  --report FILE     the report as JSON (text goes to stdout)\n"
        "  --plot FILE.png   overlay of the data and the fitted mean +- spread (best model;\n"
        "                    .pdf/.svg by extension; pulse models, stmram, relax, bake, ftj, dw)\n",
        xb_calib_models());
    return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if (*s == '\n') fputs("\\n", f);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}

static const char *kind_name(xb_cal_kind k)
{
    return k == XB_CAL_FIT ? "fitted" : k == XB_CAL_NOISE ? "noise" : k == XB_CAL_FIXED ? "fixed"
         : "derived";
}

static void report_json(FILE *f, const xb_calib *c)
{
    fprintf(f, "{\"model\": "); json_str(f, c->model);
    fprintf(f, ", \"device\": "); json_str(f, c->device);
    fprintf(f, ", \"data\": "); json_str(f, c->data);
    fprintf(f, ", \"n\": %zu, \"k\": %zu, \"parameters\": [", c->n, c->k);
    for (size_t i = 0; i < c->npar; i++) {
        const xb_cal_par *p = &c->par[i];
        fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
        json_str(f, p->name);
        fprintf(f, ", \"unit\": "); json_str(f, p->unit ? p->unit : "");
        fprintf(f, ", \"estimate\": "); json_num(f, p->est);
        fprintf(f, ", \"se\": "); json_num(f, p->se);
        fprintf(f, ", \"ci95\": ["); json_num(f, p->lo); fprintf(f, ", "); json_num(f, p->hi);
        fprintf(f, "], \"kind\": \"%s\", \"device_key\": %s}", kind_name(p->kind),
                p->device_key ? "true" : "false");
    }
    fprintf(f, "],\n \"gof\": {\"loglik\": "); json_num(f, c->loglik);
    fprintf(f, ", \"aic\": "); json_num(f, c->aic);
    fprintf(f, ", \"bic\": "); json_num(f, c->bic);
    fprintf(f, ", \"r2\": "); json_num(f, c->r2);
    fprintf(f, ", \"r2_trajectory\": "); json_num(f, c->r2_traj);
    fprintf(f, ", \"chi2_reduced\": "); json_num(f, c->chi2_red);
    fprintf(f, ", \"ks_d\": "); json_num(f, c->ks_d);
    fprintf(f, ", \"ks_p\": "); json_num(f, c->ks_p);
    fprintf(f, ", \"rmse\": "); json_num(f, c->rmse);
    fprintf(f, ", \"converged\": %s, \"iterations\": %d, \"covariance_ok\": %s},\n \"notes\": ",
            c->converged ? "true" : "false", c->iters, c->cov_ok ? "true" : "false");
    json_str(f, c->notes);
    fprintf(f, "}");
}

static void report_text(FILE *f, const xb_calib *c)
{
    fprintf(f, "model %s on %s (n = %zu)\n", c->model, c->data, c->n);
    fprintf(f, "%-14s %14s %12s %27s  %-4s %s\n", "parameter", "estimate", "std.err", "95% CI",
            "unit", "kind");
    for (size_t i = 0; i < c->npar; i++) {
        const xb_cal_par *p = &c->par[i];
        char ci[64] = "";
        if (isfinite(p->lo)) snprintf(ci, sizeof ci, "[%.5g, %.5g]", p->lo, p->hi);
        char se[32] = "";
        if (isfinite(p->se)) snprintf(se, sizeof se, "%.4g", p->se);
        fprintf(f, "%-14s %14.6g %12s %27s  %-4s %s\n", p->name, p->est, se, ci,
                p->unit ? p->unit : "", kind_name(p->kind));
    }
    fprintf(f, "fit: R^2 %.4f, R^2 trajectory %.4f, reduced chi^2 %.4g, KS D %.4f (p %.3g), "
               "rmse %.4g\n     log-likelihood %.6g, AIC %.6g, BIC %.6g, %s after %d iterations\n",
            c->r2, c->r2_traj, c->chi2_red, c->ks_d, c->ks_p, c->rmse, c->loglik, c->aic, c->bic,
            c->converged ? "converged" : "NOT converged", c->iters);
    if (c->notes[0]) fprintf(f, "%s", c->notes);
}

typedef struct common_opts {
    const char *data[MAX_DATA];
    int ndata;
    xb_meas_opts mo;
    xb_calib_opts co;
    double states;
} common_opts;

/* Options shared by calibrate and predict: 1 matched, 0 not, -1 bad value (printed). */
static int common_opt(const char *cmd, int *i, int argc, char **argv, common_opts *o)
{
    const char *v;
    int m;
    if ((m = xb_cli_opt(i, argc, argv, "--data", &v))) {
        if (m < 0) return xb_cli_usage(cmd, "--data needs a file"), -1;
        if (o->ndata == MAX_DATA) return xb_cli_usage(cmd, "at most %d --data files", MAX_DATA), -1;
        o->data[o->ndata++] = v;
        return 1;
    }
    if ((m = xb_cli_opt(i, argc, argv, "--ci", &v))) {
        if (m > 0 && !strcmp(v, "auto")) o->co.ci = XB_CI_AUTO;
        else if (m > 0 && !strcmp(v, "wald")) o->co.ci = XB_CI_WALD;
        else if (m > 0 && !strcmp(v, "profile")) o->co.ci = XB_CI_PROFILE;
        else return xb_cli_usage(cmd, "--ci needs one of wald, profile, auto%s%s%s", m > 0 ? " (got '" : "",
                                 m > 0 ? v : "", m > 0 ? "')" : ""), -1;
        return 1;
    }
    const char *sopt[] = { "--format", "--columns", "--units", "--fix" };
    const char **sdst[] = { &o->mo.format, &o->mo.columns, &o->mo.units, &o->co.fix };
    for (int k = 0; k < 4; k++)
        if ((m = xb_cli_opt(i, argc, argv, sopt[k], &v))) {
            if (m < 0) return xb_cli_usage(cmd, "%s needs a value", sopt[k]), -1;
            *sdst[k] = v;
            return 1;
        }
    const char *nopt[] = { "--v-read", "--r-p", "--t-pulse", "--v-pulse", "--trials", "--states" };
    double *ndst[] = { &o->mo.v_read, &o->mo.r_p, &o->mo.t_pulse, &o->mo.v_pulse, &o->co.trials,
                       &o->states };
    for (int k = 0; k < 6; k++)
        if ((m = xb_cli_opt(i, argc, argv, nopt[k], &v))) {
            char *end;
            const double x = m > 0 ? strtod(v, &end) : NAN;
            if (m < 0 || end == v || *end || !(x > 0))
                return xb_cli_usage(cmd, "%s needs a positive number%s%s%s", nopt[k],
                                    m > 0 ? " (got '" : "", m > 0 ? v : "", m > 0 ? "')" : ""), -1;
            if (k == 5 && (x != floor(x) || x < 2 || x > 64))
                return xb_cli_usage(cmd, "--states needs an integer in [2, 64] (got '%s')", v), -1;
            *ndst[k] = x;
            o->co.t_pulse = o->mo.t_pulse; o->co.v_pulse = o->mo.v_pulse;
            o->co.states = (int)o->states;
            return 1;
        }
    return 0;
}

static xb_status load_data(const common_opts *o, xb_meas_kind kind, xb_measurement **out, xb_err *err)
{
    *out = NULL;
    for (int i = 0; i < o->ndata; i++) {
        xb_measurement *m;
        xb_status st = xb_meas_read(o->data[i], kind, &o->mo, &m, err);
        if (st) { xb_meas_free(*out); *out = NULL; return st; }
        if (!*out) *out = m;
        else if ((st = xb_meas_append(*out, m, err))) { xb_meas_free(*out); *out = NULL; return st; }
    }
    return XB_OK;
}

int xb_cmd_calibrate(int argc, char **argv)
{
    common_opts o = { .mo = XB_MEAS_OPTS_DEFAULT };
    const char *model = NULL, *compare = NULL, *out = NULL, *report = NULL, *boot = NULL, *plot = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m;
        if (xb_cli_is_help(argv[i])) return usage(stdout);
        if ((m = common_opt("calibrate", &i, argc, argv, &o))) { if (m < 0) return XB_EXIT_USAGE; continue; }
        const char *names[] = { "--model", "--compare", "--out", "--report", "--bootstrap", "--plot" };
        const char **dst[] = { &model, &compare, &out, &report, &boot, &plot };
        int hit = 0;
        for (int k = 0; k < 6 && !hit; k++)
            if ((m = xb_cli_opt(&i, argc, argv, names[k], &v))) {
                if (m < 0) return xb_cli_usage("calibrate", "%s needs a value", names[k]);
                *dst[k] = v;
                hit = 1;
            }
        if (!hit) return xb_cli_usage("calibrate", "unknown option '%s'", argv[i]);
    }
    if (!model == !compare) return xb_cli_usage("calibrate", "give either --model or --compare");
    if (o.ndata == 0) return xb_cli_usage("calibrate", "--data FILE is required");
    char list[256];
    snprintf(list, sizeof list, "%s", model ? model : compare);
    const char *mods[MAX_MODELS];
    int nm = 0;
    for (char *s = strtok(list, ","); s; s = strtok(NULL, ","))
        if (nm < MAX_MODELS) mods[nm++] = s;
    xb_meas_kind kind = 0;
    for (int k = 0; k < nm; k++) {
        const xb_meas_kind mk = xb_calib_kind(mods[k]);
        if (!mk) return xb_cli_usage("calibrate", "unknown model '%s' (one of %s)", mods[k], xb_calib_models());
        if (kind && mk != kind)
            return xb_cli_usage("calibrate", "models of --compare must read the same kind of data");
        kind = mk;
    }
    xb_err err = { 0 };
    xb_measurement *meas = NULL;
    xb_calib *res = xb_calloc((size_t)nm, sizeof *res);
    int rc = XB_EXIT_OK;
    if (!res) { fprintf(stderr, "xbemu: out of memory\n"); return XB_EXIT_FAIL; }
    if (load_data(&o, kind, &meas, &err)) goto fail;
    int nboot = 0;
    if (boot) {
        char *end;
        const long b = strtol(boot, &end, 10);
        if (end == boot || *end || b < 20 || b > 100000) {
            rc = xb_cli_usage("calibrate", "--bootstrap needs a count in [20, 100000] (got '%s')", boot);
            goto done;
        }
        nboot = (int)b;
    }
    for (int k = 0; k < nm; k++) {
        if (xb_calib_fit(mods[k], meas, &o.co, &res[k], &err)) goto fail;
        if (nboot && xb_calib_bootstrap(mods[k], meas, &o.co, nboot, 1, &res[k], &err)) goto fail;
    }
    if (nm == 1) {
        report_text(stdout, &res[0]);
    } else {
        int ord[MAX_MODELS];
        for (int k = 0; k < nm; k++) ord[k] = k;
        for (int a = 0; a < nm; a++)               /* rank by AIC */
            for (int b = a + 1; b < nm; b++)
                if (res[ord[b]].aic < res[ord[a]].aic) { int t = ord[a]; ord[a] = ord[b]; ord[b] = t; }
        printf("models on %s (n = %zu), ranked by AIC\n", meas->name, res[0].n);
        printf("%-4s %-15s %3s %14s %14s %10s %9s %9s %9s %8s\n", "rank", "model", "k", "AIC",
               "BIC", "dAIC", "R^2", "R^2 traj", "chi2_red", "KS D");
        for (int a = 0; a < nm; a++) {
            const xb_calib *c = &res[ord[a]];
            printf("%-4d %-15s %3zu %14.6g %14.6g %10.4g %9.4f %9.4f %9.4g %8.4f\n", a + 1, c->model,
                   c->k, c->aic, c->bic, c->aic - res[ord[0]].aic, c->r2, c->r2_traj, c->chi2_red, c->ks_d);
        }
        printf("\n");
        for (int a = 0; a < nm; a++) { report_text(stdout, &res[ord[a]]); printf("\n"); }
    }
    if (report) {
        FILE *f = fopen(report, "w");
        if (!f) { xb_fail(&err, XB_EIO, "%s: cannot open for writing", report); goto fail; }
        fprintf(f, "[");
        for (int k = 0; k < nm; k++) { fprintf(f, k ? ",\n" : ""); report_json(f, &res[k]); }
        fprintf(f, "]\n");
        if (fclose(f)) { xb_fail(&err, XB_EIO, "%s: write failed", report); goto fail; }
    }
    if (plot) {
        int best = 0;
        for (int k = 1; k < nm; k++) if (res[k].aic < res[best].aic) best = k;
        if (xb_calib_plot(&res[best], meas, &o.co, plot, &err)) goto fail;
        printf("wrote %s (%s overlay)\n", plot, res[best].model);
    }
    if (out) {
        int best = 0;
        for (int k = 1; k < nm; k++) if (res[k].aic < res[best].aic) best = k;
        if (xb_calib_write_ini(&res[best], out, &err)) goto fail;
        printf("wrote %s (%s)\n", out, res[best].model);
    }
    goto done;
fail:
    rc = xb_cli_report(&err);
done:
    xb_meas_free(meas);
    xb_free(res);
    return rc;
}

int xb_cmd_predict(int argc, char **argv)
{
    common_opts o = { .mo = XB_MEAS_OPTS_DEFAULT };
    const char *params = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m;
        if (xb_cli_is_help(argv[i])) return usage(stdout);
        if ((m = common_opt("predict", &i, argc, argv, &o))) { if (m < 0) return XB_EXIT_USAGE; continue; }
        if ((m = xb_cli_opt(&i, argc, argv, "--params", &v))) {
            if (m < 0) return xb_cli_usage("predict", "--params needs a file");
            params = v;
            continue;
        }
        return xb_cli_usage("predict", "unknown option '%s'", argv[i]);
    }
    if (!params || o.ndata == 0) return xb_cli_usage("predict", "--params FILE and --data FILE are required");
    xb_err err = { 0 };
    xb_config *cfg = xb_config_alloc();
    xb_measurement *meas = NULL;
    int rc = XB_EXIT_OK;
    const char *keys[64];
    double vals[64];
    size_t nk = 0;
    if (!cfg) { fprintf(stderr, "xbemu: out of memory\n"); return XB_EXIT_FAIL; }
    if (xb_config_load(cfg, params, &err)) goto fail;
    const char *type = xb_config_str(cfg, "device", "type", NULL);
    if (!type) { xb_fail(&err, XB_EINVAL, "%s: no [device] type", params); goto fail; }
    for (size_t i = 0; i < cfg->n && nk < 64; i++) {
        const xb_cfg_entry *e = &cfg->e[i];
        if (strcmp(e->section, "device") || !strcmp(e->key, "type")) continue;
        char *end;
        const double x = strtod(e->value, &end);
        if (end == e->value || *end) {
            char where[300];
            xb_fail(&err, XB_EINVAL, "%s[device] %s = '%s' is not a number",
                    xb_config_where(e, where, sizeof where), e->key, e->value);
            goto fail;
        }
        keys[nk] = e->key; vals[nk++] = x;
    }
    const xb_meas_kind kind = xb_calib_kind(type);
    if (!kind) { xb_fail(&err, XB_EINVAL, "%s: no predictor for [device] type = %s", params, type); goto fail; }
    if (load_data(&o, kind, &meas, &err)) goto fail;
    xb_calib cal, def;
    if (xb_calib_predict(type, keys, vals, nk, meas, &o.co, &cal, &err)) goto fail;
    const int have_def = kind == XB_MEAS_RAMPS &&
                         xb_calib_predict(type, NULL, NULL, 0, meas, &o.co, &def, &err) == XB_OK;
    printf("predict %s (%s) on %s (n = %zu)\n", type, params, meas->name, cal.n);
    printf("%-22s %14s %12s %10s %10s\n", "parameters", "log-lik", "rmse", "R^2", "R^2 traj");
    printf("%-22s %14.6g %12.4g %10.4f %10.4f\n", "calibrated", cal.loglik, cal.rmse, cal.r2, cal.r2_traj);
    if (have_def)
        printf("%-22s %14.6g %12.4g %10.4f %10.4f\n", "uncalibrated defaults", def.loglik, def.rmse,
               def.r2, def.r2_traj);
    for (size_t i = 0; i < cal.npar; i++)
        if (cal.par[i].kind == XB_CAL_FIT || cal.par[i].kind == XB_CAL_NOISE)
            printf("nuisance fitted on these data: %s = %.6g %s\n", cal.par[i].name, cal.par[i].est,
                   cal.par[i].unit ? cal.par[i].unit : "");
    if (cal.notes[0]) printf("%s", cal.notes);
    goto done;
fail:
    rc = xb_cli_report(&err);
done:
    xb_meas_free(meas);
    xb_config_free(cfg);
    return rc;
}
