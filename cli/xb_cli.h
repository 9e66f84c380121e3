/* cli/xb_cli.h: shared helpers of the xbemu subcommands.
 * Exit codes: 0 ok, 1 the run failed, 2 bad usage or bad config. */
#ifndef XB_CLI_H
#define XB_CLI_H

#include "core/xb_err.h"

enum { XB_EXIT_OK = 0, XB_EXIT_FAIL = 1, XB_EXIT_USAGE = 2 };

typedef struct xb_cmd {
    const char *name, *summary;
    int (*run)(int argc, char **argv);      /* argv[0] is the subcommand name */
} xb_cmd;

/* Print "xbemu: <msg>" and return the exit code for the error (2 for input errors). */
int xb_cli_report(const xb_err *e);
/* Print "xbemu CMD: <msg>" + a hint to --help; returns 2. */
int xb_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Match option `name` ("--out") at argv[*i]: "--out=X" or "--out X". Returns 1 and sets
 * *val if matched, 0 if not this option, -1 if the value is missing. */
int xb_cli_opt(int *i, int argc, char **argv, const char *name, const char **val);
int xb_cli_is_help(const char *a);
/* Load a config for run/sweep: arg = a file, the name of a shipped config, or NULL for
 * the embedded default; then every --set of argv; then the section-name check. */
struct xb_config;
xb_status xb_cli_load_config(struct xb_config *c, const char *arg, int argc, char **argv,
                             xb_err *err);

/* Subcommands (one file each under cli/). */
int xb_cmd_version(int argc, char **argv);
int xb_cmd_config(int argc, char **argv);
int xb_cmd_data(int argc, char **argv);
int xb_cmd_devices(int argc, char **argv);
int xb_cmd_run(int argc, char **argv);
int xb_cmd_plot(int argc, char **argv);
int xb_cmd_sweep(int argc, char **argv);
int xb_cmd_merge(int argc, char **argv);
int xb_cmd_crossbar(int argc, char **argv);
int xb_cmd_calibrate(int argc, char **argv);        /* cli/cmd_calibrate.c */
int xb_cmd_predict(int argc, char **argv);          /* cli/cmd_calibrate.c */

#endif
