/* cli/cmd_crossbar.c: `xbemu crossbar mvm` (a layer's read error vs the ideal product,
 * and its energy ledger) and `xbemu crossbar irdrop` (column currents of a resistive
 * crossbar, for comparison with a circuit simulator). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/xb_cli.h"
#include "cli/xb_sections.h"
#include "core/xb_config.h"
#include "core/xb_csv.h"
#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "crossbar/xb_irdrop.h"
#include "crossbar/xb_layer.h"

static int usage(FILE *f)
{
    fprintf(f,
            "usage: xbemu crossbar mvm [--rows N] [--cols M] [--device NAME] [--batch B]\n"
            "                          [--seed S] [--init program|device] [--transpose]\n"
            "                          [--config FILE.ini] [--set section.key=value]...\n"
            "       xbemu crossbar irdrop --g G.csv --v V.csv --r-row OHM --r-col OHM\n"
            "                          [--solver pcg|sor|direct] [--tol T]\n\n"
            "mvm: builds a layer of M outputs x N inputs (an N x M array, tiled as\n"
            "[crossbar] says) of device NAME (default: [device] type, or softbounds),\n"
            "programs uniform random weights in +-w_scale/2 by write-verify (or keeps the\n"
            "devices' initial state), reads B random input vectors in [-1, 1] through the\n"
            "peripherals and prints the error against the exact product with the weights\n"
            "the devices hold, then the energy ledger as CSV.\n\n"
            "irdrop: G.csv holds the conductances (rows x cols, S), V.csv one input voltage\n"
            "per row (V). Row i is driven at its left end through r_row, with r_row between\n"
            "cross-points; column j has r_col between cross-points and r_col from the last\n"
            "row into a 0 V sense amplifier. Prints the sense currents (A), one per line.\n");
    return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
}

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end;
    const unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return 0;
    *out = (size_t)v;
    return 1;
}

static int cmd_mvm(int argc, char **argv)
{
    size_t rows = 256, cols = 128, batch = 10, seed = 1;
    const char *dev = NULL, *cfgfile = NULL, *init = "program";
    int transpose = 0;
    xb_err err = { 0 };
    xb_config *c = xb_config_alloc();
    if (!c) { fprintf(stderr, "xbemu: out of memory\n"); return XB_EXIT_FAIL; }
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m;
        if (xb_cli_is_help(argv[i])) { xb_config_free(c); return usage(stdout); }
        if ((m = xb_cli_opt(&i, argc, argv, "--rows", &v))) {
            if (m < 0 || !parse_size(v, 1, 1u << 16, &rows))
                { xb_config_free(c); return xb_cli_usage("crossbar", "--rows needs an integer in [1, 65536]"); }
        } else if ((m = xb_cli_opt(&i, argc, argv, "--cols", &v))) {
            if (m < 0 || !parse_size(v, 1, 1u << 16, &cols))
                { xb_config_free(c); return xb_cli_usage("crossbar", "--cols needs an integer in [1, 65536]"); }
        } else if ((m = xb_cli_opt(&i, argc, argv, "--batch", &v))) {
            if (m < 0 || !parse_size(v, 1, 100000, &batch))
                { xb_config_free(c); return xb_cli_usage("crossbar", "--batch needs an integer in [1, 100000]"); }
        } else if ((m = xb_cli_opt(&i, argc, argv, "--seed", &v))) {
            if (m < 0 || !parse_size(v, 0, XB_SEED_MAX, &seed))
                { xb_config_free(c); return xb_cli_usage("crossbar", "--seed needs an integer in [0, 16777215]"); }
        } else if ((m = xb_cli_opt(&i, argc, argv, "--device", &v))) {
            if (m < 0) { xb_config_free(c); return xb_cli_usage("crossbar", "--device needs a name"); }
            dev = v;
        } else if ((m = xb_cli_opt(&i, argc, argv, "--init", &v))) {
            if (m < 0 || (strcmp(v, "program") && strcmp(v, "device")))
                { xb_config_free(c); return xb_cli_usage("crossbar", "--init is program or device"); }
            init = v;
        } else if ((m = xb_cli_opt(&i, argc, argv, "--config", &v))) {
            if (m < 0) { xb_config_free(c); return xb_cli_usage("crossbar", "--config needs a file"); }
            cfgfile = v;
        } else if ((m = xb_cli_opt(&i, argc, argv, "--set", &v))) {
            if (m < 0) { xb_config_free(c); return xb_cli_usage("crossbar", "--set needs section.key=value"); }
        } else if (!strcmp(argv[i], "--transpose")) {
            transpose = 1;
        } else {
            xb_config_free(c);
            return xb_cli_usage("crossbar", "unknown option '%s'", argv[i]);
        }
    }
    int rc = XB_EXIT_OK;
    xb_layer *L = NULL;
    float *W = NULL, *x = NULL, *y = NULL, *Wt = NULL;
    double xp[XB_XB_NPARAMS], ep[XB_EN_NPARAMS], dp[256];
    xb_status st = cfgfile ? xb_config_load(c, cfgfile, &err) : XB_OK;
    for (int i = 1; !st && i < argc; i++) {
        const char *v;
        if (xb_cli_opt(&i, argc, argv, "--set", &v) == 1) st = xb_config_set(c, v, &err);
    }
    if (!st && dev) st = xb_config_put(c, "device", "type", dev, "--device", &err);
    if (!st) st = xb_config_check_sections(c, xb_cli_section_names, &err);
    if (!st) st = xb_crossbar_params(c, xp, &err);
    if (!st) st = xb_energy_params(c, ep, &err);
    const char *tname = xb_config_str(c, "device", "type", "softbounds");
    const xb_device_type *T = xb_device_find(tname);
    if (!st && !T)
        st = xb_fail(&err, XB_EINVAL, "[device] type = '%s' is not a device model (see `xbemu devices`)",
                     tname);
    if (!st && T->nparams > sizeof dp / sizeof *dp) st = xb_fail(&err, XB_EINVAL, "too many parameters");
    if (!st) st = xb_device_params(c, "device", T, dp, &err);
    double stuck[XB_DEVC_NPARAMS] = { 0 };
    if (!st) st = xb_config_params(c, "device", xb_section_device_common.params, XB_DEVC_NPARAMS,
                                   stuck, &err);
    if (st) { rc = xb_cli_report(&err); goto out; }
    const xb_layer_spec spec = { .type = T, .dev_params = dp, .xbar_params = xp, .energy_params = ep,
                                 .out = cols, .in = rows, .seed = (uint32_t)seed, .id = 0,
                                 .stuck_on = stuck[XB_DEVC_STUCK_ON],
                                 .stuck_off = stuck[XB_DEVC_STUCK_OFF] };
    if ((st = xb_layer_alloc(&L, &spec, &err))) { rc = xb_cli_report(&err); goto out; }
    W = xb_malloc(rows * cols * sizeof *W);
    Wt = xb_malloc(rows * cols * sizeof *Wt);
    x = xb_malloc(batch * (rows > cols ? rows : cols) * sizeof *x);
    y = xb_malloc(batch * (rows > cols ? rows : cols) * sizeof *y);
    if (!W || !Wt || !x || !y) { fprintf(stderr, "xbemu: out of memory\n"); rc = XB_EXIT_FAIL; goto out; }
    const xb_rng r = xb_rng_for_row((uint32_t)seed, XB_RNG_TEST, 0, 0, 0);
    xb_energy eprog, e;
    xb_energy_reset(&eprog);
    xb_energy_reset(&e);
    size_t missed = 0;
    if (!strcmp(init, "program")) {
        const double half = 0.5 * xp[XB_XB_W_SCALE];
        double wlim = half;
        const ptrdiff_t iw = xb_param_index(T->params, T->nparams, "w_max");
        if (iw >= 0) wlim = 0.5 * dp[iw];              /* pulsed devices: half their bound */
        for (size_t k = 0; k < rows * cols; k++)
            W[k] = (float)(wlim * (2.0 * xb_rng_uniform_d(&r, (uint32_t)k, 1) - 1.0));
        missed = xb_layer_program(L, W, &eprog);
    }
    xb_layer_weights(L, Wt);                           /* what the devices hold (out x in) */
    const size_t nin = transpose ? cols : rows, nout = transpose ? rows : cols;
    for (size_t k = 0; k < batch * nin; k++)
        x[k] = (float)(2.0 * xb_rng_uniform_d(&r, (uint32_t)k, 2) - 1.0);
    if (transpose) xb_layer_backward(L, x, batch, y, &e);
    else xb_layer_forward(L, x, batch, y, &e);
    if ((st = xb_layer_status(L, &err, 1))) { rc = xb_cli_report(&err); goto out; }
    double se = 0.0, sr = 0.0, maxe = 0.0;
    for (size_t b = 0; b < batch; b++)
        for (size_t o = 0; o < nout; o++) {
            double ref = 0.0;
            for (size_t k = 0; k < nin; k++)
                ref += transpose ? (double)Wt[k * rows + o] * x[b * nin + k]
                                 : (double)Wt[o * rows + k] * x[b * nin + k];
            const double d = y[b * nout + o] - ref;
            se += d * d;
            sr += ref * ref;
            if (fabs(d) > maxe) maxe = fabs(d);
        }
    const xb_layer_stats *s = xb_layer_stats_get(L);
    printf("device = %s\nshape = %zu inputs x %zu outputs (%zu tiles, %s)\n", T->name, rows, cols,
           xb_layer_ntiles(L), xb_layer_mapping(L) == XB_MAP_DIFFERENTIAL ? "differential" : "reference");
    printf("read = %s, batch = %zu\n", transpose ? "transpose" : "forward", batch);
    if (!strcmp(init, "program"))
        printf("programmed: %zu of %zu devices outside tolerance, %.6g J\n", missed,
               rows * cols * (xb_layer_mapping(L) == XB_MAP_DIFFERENTIAL ? 2 : 1), xb_energy_total(&eprog));
    printf("rms_error = %.6g\nmax_abs_error = %.6g\nrms_ideal = %.6g\nrelative_rms_error = %.6g\n",
           sqrt(se / (batch * nout)), maxe, sqrt(sr / (batch * nout)), sr > 0 ? sqrt(se / sr) : 0.0);
    printf("adc_saturated = %.0f\nbm_repeats = %.0f\ndac_clipped = %.0f\n", s->adc_saturated,
           s->bm_repeats, s->dac_clipped);
    xb_energy_csv_header(stdout, ',');
    putchar('\n');
    xb_energy_csv_row(stdout, ',', &e);
    putchar('\n');
out:
    xb_free(W); xb_free(Wt); xb_free(x); xb_free(y);
    xb_layer_free(L);
    xb_config_free(c);
    return rc;
}

/* Read a numeric CSV (no header expected) into a float matrix. */
static xb_status read_matrix(const char *path, float **out, size_t *nr, size_t *nc, xb_err *err)
{
    xb_csv *t = NULL;
    xb_csv_opts o = XB_CSV_OPTS_DEFAULT;
    o.header = 0;
    xb_status st = xb_csv_read(path, &o, &t, err);
    if (st) return st;
    const size_t cnt = t->nrows * t->ncols;
    float *m = xb_malloc((cnt ? cnt : 1) * sizeof *m);
    if (!m) { xb_csv_free(t); return xb_fail(err, XB_ENOMEM, "%s: out of memory", path); }
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            double v;
            if ((st = xb_csv_number(t, r, c, &v, err))) { xb_free(m); xb_csv_free(t); return st; }
            m[r * t->ncols + c] = (float)v;
        }
    *nr = t->nrows;
    *nc = t->ncols;
    *out = m;
    xb_csv_free(t);
    return XB_OK;
}

static int parse_ohm(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end != s && !*end && *v >= 0 && isfinite(*v);
}

static int cmd_irdrop(int argc, char **argv)
{
    const char *gf = NULL, *vf = NULL;
    xb_ir_opts o = xb_ir_defaults();
    int have_r = 0, have_c = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m;
        if (xb_cli_is_help(argv[i])) return usage(stdout);
        if ((m = xb_cli_opt(&i, argc, argv, "--g", &v))) {
            if (m < 0) return xb_cli_usage("crossbar", "--g needs a file");
            gf = v;
        } else if ((m = xb_cli_opt(&i, argc, argv, "--v", &v))) {
            if (m < 0) return xb_cli_usage("crossbar", "--v needs a file");
            vf = v;
        } else if ((m = xb_cli_opt(&i, argc, argv, "--r-row", &v))) {
            if (m < 0 || !parse_ohm(v, &o.r_row))
                return xb_cli_usage("crossbar", "--r-row needs a resistance >= 0 (ohm)");
            have_r = 1;
        } else if ((m = xb_cli_opt(&i, argc, argv, "--r-col", &v))) {
            if (m < 0 || !parse_ohm(v, &o.r_col))
                return xb_cli_usage("crossbar", "--r-col needs a resistance >= 0 (ohm)");
            have_c = 1;
        } else if ((m = xb_cli_opt(&i, argc, argv, "--tol", &v))) {
            if (m < 0 || !parse_ohm(v, &o.tol) || !(o.tol > 0))
                return xb_cli_usage("crossbar", "--tol needs a positive number");
        } else if ((m = xb_cli_opt(&i, argc, argv, "--solver", &v))) {
            if (m < 0) return xb_cli_usage("crossbar", "--solver is pcg, sor or direct");
            if (!strcmp(v, "pcg")) o.solver = XB_IR_PCG;
            else if (!strcmp(v, "sor")) o.solver = XB_IR_SOR;
            else if (!strcmp(v, "direct")) o.solver = XB_IR_DIRECT;
            else return xb_cli_usage("crossbar", "--solver is pcg, sor or direct, not '%s'", v);
        } else {
            return xb_cli_usage("crossbar", "unknown option '%s'", argv[i]);
        }
    }
    if (!gf || !vf || !have_r || !have_c)
        return xb_cli_usage("crossbar", "irdrop needs --g, --v, --r-row and --r-col");
    xb_err err = { 0 };
    float *G = NULL, *V = NULL;
    double *I = NULL;
    size_t gr, gc, vr, vc;
    xb_ir_work *w = NULL;
    int rc = XB_EXIT_OK;
    xb_status st = read_matrix(gf, &G, &gr, &gc, &err);
    if (!st) st = read_matrix(vf, &V, &vr, &vc, &err);
    if (!st && (vr * vc != gr || (vr != 1 && vc != 1)))
        st = xb_fail(&err, XB_EINVAL, "%s: %zu x %zu values, but %s has %zu rows (one voltage per row)",
                     vf, vr, vc, gf, gr);
    for (size_t k = 0; !st && k < gr * gc; k++)
        if (!(G[k] >= 0))
            st = xb_fail(&err, XB_ERANGE, "%s:%zu: conductance %g S is negative", gf, k / gc + 1, G[k]);
    if (!st) st = xb_ir_work_alloc(&w, gr, gc, &err);
    if (!st && !(I = xb_malloc(gc * sizeof *I))) st = xb_fail(&err, XB_ENOMEM, "out of memory");
    xb_ir_result res;
    if (!st) st = xb_ir_solve(w, G, V, gr, gc, &o, 0, I, &res, &err);
    if (st) rc = xb_cli_report(&err);
    else for (size_t j = 0; j < gc; j++) printf("%.17g\n", I[j]);
    xb_free(G); xb_free(V); xb_free(I);
    xb_ir_work_free(w);
    return rc;
}

int xb_cmd_crossbar(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    if (xb_cli_is_help(argv[1])) return usage(stdout);
    if (!strcmp(argv[1], "mvm")) return cmd_mvm(argc - 1, argv + 1);
    if (!strcmp(argv[1], "irdrop")) return cmd_irdrop(argc - 1, argv + 1);
    return xb_cli_usage("crossbar", "unknown action '%s' (mvm or irdrop)", argv[1]);
}
