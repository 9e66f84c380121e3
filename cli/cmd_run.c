/* cli/cmd_run.c: `xbemu run [CONFIG] [--set section.key=value]... [--out DIR]`.
 * Loads the config (a file, a shipped config by name, or the embedded default), then
 * runs one experiment (experiments/xb_run.h): training with progress on stderr,
 * results.csv and run.json in the output directory. SIGINT stops after the current
 * sample and keeps what was measured. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/xb_cli.h"
#include "cli/xb_sections.h"
#include "core/xb_config.h"
#include "experiments/xb_run.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: xbemu run [CONFIG.ini | NAME] [--set section.key=value]... [--out DIR]\n\n"
               "Runs one experiment: trains the [net] with the [train] algorithm on the [data]\n"
               "task stream (on the [device] model for on-chip rules), evaluates after every\n"
               "epoch, and writes DIR/results.csv (accuracy and energy ledger per evaluation)\n"
               "and DIR/run.json (resolved config, versions, git hash). DIR defaults to\n"
               "[run] out, else results/<[run] name>. NAME picks a shipped config of\n"
               "experiments/configs/ by name. A config with a [sweep] section runs as\n"
               "`xbemu sweep CONFIG --out DIR` and ends with DIR/energy-accuracy.png; without\n"
               "CONFIG the embedded default sweep runs (results/default/).\n"
               "Ctrl-C stops after the current sample and keeps what was measured.\n");
    return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
}

static volatile sig_atomic_t stop_flag;
static void on_sigint(int sig) { (void)sig; stop_flag = 1; }

/* A config with a [sweep] section (the embedded default is one) runs as `xbemu sweep
 * CONFIG --out DIR` and ends with `xbemu plot energy-accuracy DIR/results.csv -o
 * DIR/energy-accuracy.png`; DIR defaults to results/<name of the config>. */
static int run_sweep(const char *cfg, const char *out, int argc, char **argv)
{
    char dir[1024], csv[1100], png[1100];
    if (out) snprintf(dir, sizeof dir, "%s", out);
    else {
        const char *base = strrchr(cfg, '/') ? strrchr(cfg, '/') + 1 : cfg;
        const size_t n = strcspn(base, ".");
        snprintf(dir, sizeof dir, "results/%.*s", (int)n, base);
    }
    const char *sv[64];
    int sc = 0;
    sv[sc++] = "sweep";
    sv[sc++] = cfg;
    sv[sc++] = "--out";
    sv[sc++] = dir;
    for (int i = 1; i < argc && sc < 62; i++) {
        const char *v;
        if (xb_cli_opt(&i, argc, argv, "--set", &v) == 1) { sv[sc++] = "--set"; sv[sc++] = v; }
    }
    sv[sc] = NULL;
    fprintf(stderr, "xbemu run: %s has a [sweep] section: running it as `xbemu sweep %s --out %s`\n",
            cfg, cfg, dir);
    const int rc = xb_cmd_sweep(sc, (char **)sv);
    if (rc == XB_EXIT_USAGE) return rc;
    snprintf(csv, sizeof csv, "%s/results.csv", dir);
    snprintf(png, sizeof png, "%s/energy-accuracy.png", dir);
    const char *pv[] = { "plot", "energy-accuracy", csv, "-o", png, NULL };
    const int prc = xb_cmd_plot(5, (char **)pv);
    if (prc == XB_EXIT_OK) printf("figure: %s\n", png);
    return rc != XB_EXIT_OK ? rc : prc;
}

int xb_cmd_run(int argc, char **argv)
{
    const char *cfg = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (xb_cli_is_help(argv[i])) return usage(stdout);
        int m = xb_cli_opt(&i, argc, argv, "--set", &v);
        if (m < 0) return xb_cli_usage("run", "--set needs section.key=value");
        if (m) continue;
        m = xb_cli_opt(&i, argc, argv, "--out", &v);
        if (m < 0) return xb_cli_usage("run", "--out needs a directory");
        if (m) { out = v; continue; }
        if (argv[i][0] == '-') return xb_cli_usage("run", "unknown option '%s'", argv[i]);
        if (cfg) return xb_cli_usage("run", "more than one config given ('%s')", argv[i]);
        cfg = argv[i];
    }
    xb_err err = {0};
    xb_config *c = xb_config_alloc();
    int rc = XB_EXIT_OK;
    if (!c) { fprintf(stderr, "xbemu: out of memory\n"); return XB_EXIT_FAIL; }
    if (xb_cli_load_config(c, cfg, argc, argv, &err) != XB_OK) {
        rc = xb_cli_report(&err);
        xb_config_free(c);
        return rc;
    }
    if (xb_config_has_section(c, "sweep")) {     /* a sweep: run it, then draw its figure */
        xb_config_free(c);
        return run_sweep(cfg ? cfg : "default", out, argc, argv);
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    const xb_run_opts o = { .out_dir = out, .stop = &stop_flag, .progress = stderr };
    xb_run_summary s;
    const xb_status st = xb_run(c, &o, &s, &err);
    sigaction(SIGINT, &old, NULL);
    if (st == XB_OK || st == XB_EINTR) {
        printf("samples %zu  accuracy %.4f (mean over %zu task%s)  energy %.4e J  "
               "%.4e J/sample  train %.2f s  wall %.2f s\n", s.samples, s.accuracy, s.tasks,
               s.tasks == 1 ? "" : "s", s.energy_J, s.energy_per_sample_J, s.train_s, s.wall_s);
        printf("results: %s/results.csv, %s/run.json\n", s.out_dir, s.out_dir);
    }
    if (st != XB_OK) rc = xb_cli_report(&err);
    xb_config_free(c);
    return rc;
}
