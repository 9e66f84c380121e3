/* cli/cmd_merge.c: `xbemu merge DIR... [-o results.csv]`: one results.csv from the
 * finished runs of one or more sweep directories (shards of one sweep, e.g. the
 * directories of a Slurm job array), in expansion order, each run once. */
#include <stdio.h>
#include <string.h>

#include "cli/xb_cli.h"
#include "core/xb_mem.h"
#include "experiments/xb_results.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: xbemu merge DIR... [-o OUT.csv]\n\n"
               "Merges the finished runs of sweep directories (`xbemu sweep --out DIR`, e.g.\n"
               "one per shard) into one results.csv: rows in expansion order, each run once.\n"
               "OUT defaults to DIR/results.csv for one directory, ./results.csv for several.\n"
               "Exit status: 0 merged, 1 I/O error, 2 bad usage or directories of different\n"
               "sweeps. Unfinished runs are counted on stderr and left out.\n");
    return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
}

int xb_cmd_merge(int argc, char **argv)
{
    const char *out = NULL;
    const char **dirs = xb_calloc((size_t)argc, sizeof *dirs);
    size_t nd = 0;
    if (!dirs) { fprintf(stderr, "xbemu: out of memory\n"); return XB_EXIT_FAIL; }
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m;
        if (xb_cli_is_help(argv[i])) { xb_free(dirs); return usage(stdout); }
        if ((m = xb_cli_opt(&i, argc, argv, "-o", &v)) != 0 ||
            (m = xb_cli_opt(&i, argc, argv, "--out", &v)) != 0) {
            if (m < 0) { xb_free(dirs); return xb_cli_usage("merge", "-o needs a file name"); }
            out = v;
            continue;
        }
        if (argv[i][0] == '-') {
            xb_free(dirs);
            return xb_cli_usage("merge", "unknown option '%s'", argv[i]);
        }
        dirs[nd++] = argv[i];
    }
    if (!nd) { xb_free(dirs); return xb_cli_usage("merge", "no sweep directory given"); }
    char def[4096];
    if (!out) {
        if (nd == 1) snprintf(def, sizeof def, "%s/results.csv", dirs[0]);
        else snprintf(def, sizeof def, "results.csv");
        out = def;
    }
    xb_err err = {0};
    xb_merge_stats ms;
    int rc = XB_EXIT_OK;
    if (xb_results_merge(dirs, nd, out, &ms, &err) != XB_OK) rc = xb_cli_report(&err);
    else
        fprintf(stderr, "merge: %zu runs: %zu ok, %zu failed, %zu unfinished; %zu rows in %s\n",
                ms.runs, ms.ok, ms.failed, ms.missing, ms.rows, out);
    xb_free(dirs);
    return rc;
}
