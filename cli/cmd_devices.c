/* cli/cmd_devices.c: `xbemu devices [show NAME | pulse [NAME] ...]`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/xb_cli.h"
#include "cli/xb_sections.h"
#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "devices/xb_bank.h"
#include "devices/xb_device.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: xbemu devices              list the device models\n"
               "       xbemu devices show NAME    parameters of a model: default, unit,\n"
               "                                  range, meaning, source\n"
               "       xbemu devices pulse [NAME] [--params FILE.ini] [--set key=value]...\n"
               "             [--n-devices N] [--sequence \"200:+,200:-\"] [--seed S]\n"
               "             [--noisy-read] [--out FILE.csv]\n"
               "            apply a pulse train to N devices (default 100) and write tidy CSV\n"
               "            device,pulse,polarity,conductance_S,energy_J (pulse 0 = initial\n"
               "            state, polarity +1/-1/0, energy of that pulse for that device).\n"
               "            --params reads the [device] section of FILE (its `type =` picks\n"
               "            the model when NAME is omitted); --set key=value (or\n"
               "            device.key=value) overrides one [device] key. The sequence is\n"
               "            COUNT:SIGN steps, SIGN + (raise G / reset for one-way models),\n"
               "            - (lower G) or 0 (an update call with no pulse).\n");
    return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
}

enum { MAX_STEPS = 256 };
typedef struct step { long count; int sign; } step;

/* Apply the steps to a bank of n devices and write the CSV. */
static int pulse_run(const xb_device_type *T, const xb_config *c, size_t n, uint32_t seed,
                     const struct step *st, int nsteps, int noisy, const char *out, xb_err *err)
{
    double *p = xb_calloc(T->nparams + XB_DEVC_NPARAMS, sizeof *p), common[XB_DEVC_NPARAMS];
    xb_bank *b = NULL;
    float *g = xb_malloc(n * sizeof *g);
    int16_t *np = xb_malloc(n * sizeof *np);
    double *e = xb_malloc(n * sizeof *e);
    uint8_t *stuck = xb_malloc(n);
    FILE *f = NULL;
    int rc = XB_EXIT_OK;
    if (!p || !g || !np || !e || !stuck) { xb_fail(err, XB_ENOMEM, "out of memory"); goto fail; }
    if (xb_device_params(c, "device", T, p, err) ||
        xb_config_params(c, "device", xb_section_device_common.params, XB_DEVC_NPARAMS, common, err) ||
        xb_bank_alloc(&b, T, p, n, seed, err))
        goto fail;
    const xb_rng frng = xb_rng_for_row(seed, XB_RNG_FAULT, 0, 0, 0);
    xb_device_draw_faults(n, common[XB_DEVC_STUCK_ON], common[XB_DEVC_STUCK_OFF], &frng, stuck);
    double gmin, gmax;
    T->g_range(p, &gmin, &gmax);
    f = !out || !strcmp(out, "-") ? stdout : fopen(out, "w");
    if (!f) { xb_fail(err, XB_EIO, "cannot open '%s' for writing: %s", out, strerror(errno)); goto fail; }
    fprintf(f, "device,pulse,polarity,conductance_S,energy_J\n");
    long pulse = 0;
    for (int k = -1; k < nsteps; k++) {
        const long cnt = k < 0 ? 1 : st[k].count;
        for (long q = 0; q < cnt; q++) {
            const int sign = k < 0 ? 0 : st[k].sign;
            for (size_t j = 0; j < n; j++) { np[j] = (int16_t)sign; e[j] = 0; }
            if (k >= 0) {                 /* energy per device, from the state before */
                for (size_t j = 0; j < n; j++) {
                    xb_row one = { .n = 1 };
                    for (size_t m = 0; m < T->nfields; m++) one.f[m] = b->row.f[m] + j;
                    e[j] = T->pulse_energy_row(&one, b->p, np + j);
                }
                xb_bank_pulse(b, np);
                pulse++;
            }
            xb_bank_conductance(b, g, noisy);
            xb_device_apply_faults(n, stuck, gmin, gmax, g);
            for (size_t j = 0; j < n; j++)
                fprintf(f, "%zu,%ld,%d,%.9g,%.9g\n", j, pulse, sign, g[j], e[j]);
        }
    }
    if (f != stdout ? fclose(f) : fflush(f)) {
        f = NULL;
        xb_fail(err, XB_EIO, "error writing '%s'", out ? out : "stdout");
        goto fail;
    }
    f = NULL;
    goto done;
fail:
    rc = xb_cli_report(err);
done:
    if (f && f != stdout) fclose(f);
    xb_bank_free(b);
    xb_free(p); xb_free(g); xb_free(np); xb_free(e); xb_free(stuck);
    return rc;
}

/* "200:+,200:-,10:0" -> steps; returns the number of steps or -1 (message in why). */
static int parse_sequence(const char *text, step *st, char *why, size_t wlen)
{
    int n = 0;
    const char *s = text;
    while (*s) {
        char *end;
        errno = 0;
        const long c = strtol(s, &end, 10);
        if (end == s || errno || c < 0 || c > 10000000 || *end != ':' ||
            !strchr("+-0", end[1]) || end[1] == '\0' || (end[2] != ',' && end[2] != '\0')) {
            snprintf(why, wlen, "--sequence '%s': expected COUNT:SIGN steps like 200:+,200:- "
                     "(COUNT in [0, 1e7], SIGN one of + - 0)", text);
            return -1;
        }
        if (n == MAX_STEPS) {
            snprintf(why, wlen, "--sequence: more than %d steps", MAX_STEPS);
            return -1;
        }
        st[n].count = c;
        st[n].sign = end[1] == '+' ? 1 : end[1] == '-' ? -1 : 0;
        n++;
        s = end + 2 + (end[2] == ',');
    }
    if (n == 0) snprintf(why, wlen, "--sequence is empty");
    return n ? n : -1;
}

static int cmd_pulse(int argc, char **argv)
{
    const char *name = NULL, *params = NULL, *seq = "200:+,200:-", *out = NULL, *v;
    long ndev = 100, seed = 1;
    int noisy = 0;
    xb_err err = {0};
    xb_config *c = xb_config_alloc();
    if (!c) { fprintf(stderr, "xbemu: out of memory\n"); return XB_EXIT_FAIL; }
    int rc = XB_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        int m;
        char *end;
        if (xb_cli_is_help(argv[i])) { xb_config_free(c); return usage(stdout); }
        if ((m = xb_cli_opt(&i, argc, argv, "--params", &v))) params = v;
        else if ((m = xb_cli_opt(&i, argc, argv, "--sequence", &v))) seq = v;
        else if ((m = xb_cli_opt(&i, argc, argv, "--out", &v))) out = v;
        else if ((m = xb_cli_opt(&i, argc, argv, "--set", &v)) > 0) {
            char buf[1024];
            const char *dot = strchr(v, '.'), *eq = strchr(v, '=');
            snprintf(buf, sizeof buf, "%s%s", dot && eq && dot < eq ? "" : "device.", v);
            if (xb_config_set(c, buf, &err)) goto fail;
        } else if ((m = xb_cli_opt(&i, argc, argv, "--n-devices", &v)) > 0) {
            errno = 0;
            ndev = strtol(v, &end, 10);
            if (*end || errno || ndev < 1 || ndev > 10000000) {
                rc = xb_cli_usage("devices", "--n-devices = '%s' is outside [1, 10000000]", v);
                goto done;
            }
        } else if ((m = xb_cli_opt(&i, argc, argv, "--seed", &v)) > 0) {
            errno = 0;
            seed = strtol(v, &end, 10);
            if (*end || errno || seed < 0 || seed > XB_SEED_MAX) {
                rc = xb_cli_usage("devices", "--seed = '%s' is outside [0, %u]", v,
                                  (unsigned)XB_SEED_MAX);
                goto done;
            }
        } else if (!strcmp(argv[i], "--noisy-read")) { noisy = 1; m = 1; }
        else if (argv[i][0] == '-') {
            rc = xb_cli_usage("devices", "unknown option '%s'", argv[i]);
            goto done;
        } else if (!name) { name = argv[i]; m = 1; }
        else { rc = xb_cli_usage("devices", "more than one model name ('%s')", argv[i]); goto done; }
        if (m < 0) { rc = xb_cli_usage("devices", "%s needs a value", argv[i]); goto done; }
    }
    if (params) {                      /* the file first, then --set overrides it */
        xb_config *f = xb_config_alloc();
        if (!f) { xb_fail(&err, XB_ENOMEM, "out of memory"); goto fail; }
        xb_status st = xb_config_load(f, params, &err);
        for (size_t k = 0; st == XB_OK && k < c->n; k++)
            st = xb_config_put(f, c->e[k].section, c->e[k].key, c->e[k].value, "--set", &err);
        xb_config_free(c);
        c = f;
        if (st) goto fail;
    }
    if (!name) name = xb_config_str(c, "device", "type", NULL);
    if (!name) { rc = xb_cli_usage("devices", "pulse needs a model NAME or --params with type ="); goto done; }
    const xb_device_type *T = xb_device_find(name);
    if (!T) {
        rc = xb_cli_usage("devices", "unknown device model '%s' (see `xbemu devices`)", name);
        goto done;
    }
    if (xb_config_put(c, "device", "type", T->name, "command line", &err)) goto fail;
    step st[MAX_STEPS];
    char why[300];
    const int nsteps = parse_sequence(seq, st, why, sizeof why);
    if (nsteps < 0) { rc = xb_cli_usage("devices", "%s", why); goto done; }
    for (int k = 0; k < nsteps; k++)
        if ((T->flags & XB_DEV_ONE_WAY) && st[k].sign < 0) {
            rc = xb_cli_usage("devices", "%s is a one-way device: its pulses only move G one way "
                              "(use + or 0 steps; a pair of devices makes the other sign)", T->name);
            goto done;
        }
    rc = pulse_run(T, c, (size_t)ndev, (uint32_t)seed, st, nsteps, noisy, out, &err);
    goto done;
fail:
    rc = xb_cli_report(&err);
done:
    xb_config_free(c);
    return rc;
}

int xb_cmd_devices(int argc, char **argv)
{
    if (argc >= 2 && xb_cli_is_help(argv[1])) return usage(stdout);
    if (argc == 1) {
        for (size_t i = 0; xb_device_types[i]; i++)
            printf("%-12s %s\n", xb_device_types[i]->name, xb_device_types[i]->summary);
        return XB_EXIT_OK;
    }
    if (!strcmp(argv[1], "show")) {
        if (argc != 3) return xb_cli_usage("devices", "show needs one model name");
        const xb_device_type *T = xb_device_find(argv[2]);
        if (!T) return xb_cli_usage("devices", "unknown device model '%s' (see `xbemu devices`)",
                                    argv[2]);
        char title[512];
        snprintf(title, sizeof title, "%s: %s\nsource: %s\n[device] type = %s", T->name,
                 T->summary, T->source, T->name);
        xb_cli_print_table(stdout, title, T->params, T->nparams);
        return XB_EXIT_OK;
    }
    if (!strcmp(argv[1], "pulse")) return cmd_pulse(argc - 1, argv + 1);
    return xb_cli_usage("devices", "unknown action '%s'", argv[1]);
}
