/* cli/cmd_run.c: `xbemu run [CONFIG] [--set section.key=value]...`.
 * Foundation stage: validates the config and the data set, then applies a pulse train
 * to a population of devices and prints the conductance statistics and energy. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/xb_cli.h"
#include "cli/xb_sections.h"
#include "core/xb_config.h"
#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "devices/xb_bank.h"
#include "experiments/xb_configs.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: xbemu run [CONFIG.ini | NAME] [--set section.key=value]...\n\n"
               "Runs one experiment. Without CONFIG the embedded default config runs; NAME\n"
               "picks a shipped config of experiments/configs/ by name.\n");
    return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
}

/* Load CONFIG (a file, or a shipped config name, or the default) and --set overrides. */
static xb_status load_config(xb_config *c, const char *arg, int argc, char **argv, xb_err *err)
{
    xb_status st;
    if (!arg) st = xb_config_load_string(c, xb_embedded_config_text("default"), "default.ini", err);
    else if (!strchr(arg, '/') && !strstr(arg, ".ini") && xb_embedded_config_text(arg))
        st = xb_config_load_string(c, xb_embedded_config_text(arg), arg, err);
    else st = xb_config_load(c, arg, err);
    for (int i = 1; st == XB_OK && i < argc; i++) {
        const char *v;
        if (xb_cli_opt(&i, argc, argv, "--set", &v) == 1) st = xb_config_set(c, v, err);
    }
    if (st == XB_OK) st = xb_config_check_sections(c, xb_cli_section_names, err);
    return st;
}

int xb_cmd_run(int argc, char **argv)
{
    const char *cfg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (xb_cli_is_help(argv[i])) return usage(stdout);
        const int m = xb_cli_opt(&i, argc, argv, "--set", &v);
        if (m < 0) return xb_cli_usage("run", "--set needs section.key=value");
        if (m) continue;
        if (argv[i][0] == '-') return xb_cli_usage("run", "unknown option '%s'", argv[i]);
        if (cfg) return xb_cli_usage("run", "more than one config given ('%s')", argv[i]);
        cfg = argv[i];
    }
    xb_err err = {0};
    xb_config *c = xb_config_alloc();
    double data[XB_DATA_NPARAMS], dev[64];
    xb_dataset *d = NULL;
    xb_bank *b = NULL;
    int rc = XB_EXIT_OK;
    if (!c) { fprintf(stderr, "xbemu: out of memory\n"); return XB_EXIT_FAIL; }
    if (load_config(c, cfg, argc, argv, &err) != XB_OK) goto fail;
    const xb_param_spec *dt[1] = { xb_section_data.params };
    const size_t dn[1] = { xb_section_data.nparams };
    if (xb_config_check_keys(c, "data", dt, dn, 1, NULL, &err) ||
        xb_config_params(c, "data", xb_section_data.params, XB_DATA_NPARAMS, data, &err))
        goto fail;
    const char *tname = xb_config_str(c, "device", "type", "softbounds");
    const xb_device_type *T = xb_device_find(tname);
    if (!T) {
        const xb_cfg_entry *e = xb_config_find(c, "device", "type");
        char where[300] = "";
        if (e) xb_config_where(e, where, sizeof where);
        xb_fail(&err, XB_EINVAL, "%s[device] type = '%s' is not a device model (see `xbemu devices`)",
                where, tname);
        goto fail;
    }
    if (xb_device_params(c, "device", T, dev, &err)) goto fail;
    char ds[32];
    xb_param_choice(&xb_section_data.params[XB_DATA_DATASET], (int)data[XB_DATA_DATASET], ds, sizeof ds);
    if (xb_dataset_load(ds, 0, xb_config_str(c, "data", "dir", ""), &d, &err)) goto fail;
    printf("data: %s, %zu training samples of %zu pixels\n", ds, d->n, d->dim);

    enum { NDEV = 1000, NUP = 200, NDOWN = 200, EVERY = 50 };
    if (xb_bank_alloc(&b, T, dev, NDEV, 1, &err)) goto fail;
    int16_t up[NDEV], down[NDEV];
    float g[NDEV];
    for (int j = 0; j < NDEV; j++) { up[j] = 1; down[j] = -1; }
    double energy = 0;
    printf("device: %s, %d devices, %d up then %d down pulses\n", T->name, NDEV, NUP, NDOWN);
    printf("%6s %14s %14s\n", "pulse", "mean G (S)", "sd G (S)");
    for (int k = 0; k <= NUP + NDOWN; k++) {
        if (k % EVERY == 0) {
            xb_bank_conductance(b, g, 1);
            double s = 0, s2 = 0;
            for (int j = 0; j < NDEV; j++) { s += g[j]; s2 += (double)g[j] * g[j]; }
            const double m = s / NDEV;
            printf("%6d %14.6e %14.6e\n", k, m, sqrt(fmax(s2 / NDEV - m * m, 0)));
        }
        if (k < NUP + NDOWN) energy += xb_bank_pulse(b, k < NUP ? up : down);
    }
    printf("pulse energy: %.6e J in total, %.6e J per device-pulse\n", energy,
           energy / ((double)NDEV * (NUP + NDOWN)));
    goto done;
fail:
    rc = xb_cli_report(&err);
done:
    xb_bank_free(b);
    xb_dataset_free(d);
    xb_config_free(c);
    return rc;
}
