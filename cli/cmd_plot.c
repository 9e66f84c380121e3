/* cli/cmd_plot.c: `xbemu plot KIND INPUT... -o out.png [options]` (plots/xb_plot.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/xb_cli.h"
#include "core/xb_mem.h"
#include "plots/xb_plot.h"

static int usage(FILE *f)
{
    fprintf(f,
        "usage: xbemu plot KIND INPUT... -o OUT.png|OUT.pdf|OUT.svg [options]\n\n"
        "kinds:\n"
        "  energy-accuracy  accuracy vs energy per sample (log x) from results.csv files; one series\n"
        "                   per --color value, mean +- sd over seeds at each run's last epoch;\n"
        "                   the Pareto front is drawn and printed\n"
        "  energy-breakdown the share of each energy-ledger part (e_*_J, energy_*_J) per\n"
        "                   configuration, stacked bars (where the energy goes)\n"
        "  pulse-response   conductance vs pulse index from `xbemu devices pulse` CSVs: mean +- sd\n"
        "                   band over devices, a few single devices; --measured FILE overlays data\n"
        "  learning         accuracy vs epoch (samples_seen for task sequences) per eval_task,\n"
        "                   mean +- sd over seeds, a line where the training task changes\n"
        "  heatmap          a matrix CSV (rows x cols of numbers), or --x --y --z of a sweep;\n"
        "                   --x eval_task --y task --z accuracy: the accuracy matrix\n"
        "  sweep            --y against --x, grouped by --color, mean +- sd over seeds\n"
        "  scaling          time vs size, log-log, from benchmark JSON lines (shape or size);\n"
        "                   --y a,b draws several fields; slopes are printed\n\n"
        "options:\n"
        "  -o, --out FILE       the figure to write (required): .png, or .pdf/.svg (vector)\n"
        "  --x COL --y COL      columns on the axes (defaults depend on KIND)\n"
        "  --z COL              heatmap colour column (a 2-parameter sweep)\n"
        "  --color COL          series by this column's values (default: the first varying one);\n"
        "                       'file' means the input file (runs results.csv cannot tell apart)\n"
        "  --logx --logy        log10 axes; --linx --liny force linear ones\n"
        "  --title T --xlabel L --ylabel L --zlabel L\n"
        "  --width W --height H pixels (default 960 x 640; 150 dpi: 6.4 x 4.3 in)\n"
        "  --text-scale K       all text K times larger, K in [0.5, 3] (1.5 for one column)\n"
        "  --all-epochs         keep every epoch, not only the last of each run\n"
        "  --where C=V[,C=V]    keep only the rows with these values\n"
        "  --table              print every plotted point: series, x, mean, sd, n\n"
        "  --label-front        energy-accuracy: write each Pareto point's configuration\n"
        "  --measured FILE      pulse-response: measured data, columns --mx (pulse) --my\n"
        "                       (conductance_S)\n"
        "  --config-hash H      the Config-Hash PNG chunk (default: crc32 of the inputs)\n\n"
        "The PNG carries tEXt chunks Software, Command, Config-Hash, Source and Title.\n");
    return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
}

static int parse_px(const char *name, const char *v, long min, int *out)
{
    char *end;
    errno = 0;
    const long k = strtol(v, &end, 10);
    if (end == v || *end || errno || k < min || k > 8192)
        return xb_cli_usage("plot", "%s = '%s' is outside [%ld, 8192] px", name, v, min);
    *out = (int)k;
    return 0;
}

/* "a, b, c" of the strings, or the command line with quoted arguments. */
static char *join(int n, const char *const *s, const char *sep, int quote)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) len += 4 * strlen(s[i]) + strlen(sep) + 2;   /* ' -> '\'' */
    char *b = xb_malloc(len);
    if (!b) return NULL;
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        const int q = quote && (strpbrk(s[i], " \t'\"$\\") || !*s[i]);
        o += (size_t)snprintf(b + o, len - o, "%s%s", i ? sep : "", q ? "'" : "");
        for (const char *p = s[i]; *p; p++) {
            if (q && *p == '\'') o += (size_t)snprintf(b + o, len - o, "'\\''");
            else b[o++] = *p;
        }
        o += (size_t)snprintf(b + o, len - o, "%s", q ? "'" : "");
    }
    b[o] = '\0';
    return b;
}

int xb_cmd_plot(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    if (xb_cli_is_help(argv[1])) return usage(stdout);
    const int kind = xb_plot_kind_find(argv[1]);
    if (kind < 0)
        return xb_cli_usage("plot", "unknown plot kind '%s' (energy-accuracy, energy-breakdown, "
                            "pulse-response, learning, heatmap, sweep, scaling)", argv[1]);
    xb_plot_opts o = { .kind = (xb_plot_kind)kind, .logx = -1, .logy = -1 };
    const char *out = NULL, *hash = NULL;
    const char **inputs = xb_calloc((size_t)argc, sizeof *inputs);
    if (!inputs) { fprintf(stderr, "xbemu: out of memory\n"); return XB_EXIT_FAIL; }
    int ninputs = 0, rc = -1;
    for (int i = 2; i < argc && rc < 0; i++) {
        const char *v = NULL;
        int m = 0;
        const char *a = argv[i];
        struct { const char *name; const char **dst; } sopt[] = {
            { "--out", &out }, { "-o", &out }, { "--x", &o.x }, { "--y", &o.y }, { "--z", &o.z },
            { "--color", &o.color }, { "--title", &o.title }, { "--xlabel", &o.xlabel },
            { "--ylabel", &o.ylabel }, { "--zlabel", &o.zlabel }, { "--measured", &o.measured },
            { "--mx", &o.mx }, { "--my", &o.my }, { "--config-hash", &hash }, { "--where", &o.where },
        };
        if (xb_cli_is_help(a)) { rc = usage(stdout); break; }
        if (!strcmp(a, "--logx")) { o.logx = 1; continue; }
        if (!strcmp(a, "--logy")) { o.logy = 1; continue; }
        if (!strcmp(a, "--linx")) { o.logx = 0; continue; }
        if (!strcmp(a, "--liny")) { o.logy = 0; continue; }
        if (!strcmp(a, "--all-epochs")) { o.all_epochs = 1; continue; }
        if (!strcmp(a, "--table")) { o.table = 1; continue; }
        if (!strcmp(a, "--label-front")) { o.label_front = 1; continue; }
        for (size_t k = 0; k < sizeof sopt / sizeof *sopt && !m; k++)
            if ((m = xb_cli_opt(&i, argc, argv, sopt[k].name, &v)) == 1) *sopt[k].dst = v;
            else if (m < 0) rc = xb_cli_usage("plot", "%s needs a value", sopt[k].name);
        if (m) continue;
        if ((m = xb_cli_opt(&i, argc, argv, "--text-scale", &v))) {
            char *end = NULL;
            if (m > 0) o.text_scale = strtod(v, &end);
            if (m < 0) rc = xb_cli_usage("plot", "--text-scale needs a value");
            else if (end == v || *end || !(o.text_scale >= 0.5 && o.text_scale <= 3))
                rc = xb_cli_usage("plot", "--text-scale = '%s' is outside [0.5, 3]", v);
            continue;
        }
        if ((m = xb_cli_opt(&i, argc, argv, "--width", &v)) ||
            (m = xb_cli_opt(&i, argc, argv, "--height", &v))) {
            const int w = !strncmp(a, "--width", 7);
            if (m < 0) rc = xb_cli_usage("plot", "%s needs a value", w ? "--width" : "--height");
            else if (parse_px(w ? "--width" : "--height", v, w ? 200 : 150, w ? &o.width : &o.height))
                rc = XB_EXIT_USAGE;
            continue;
        }
        if (a[0] == '-' && a[1]) { rc = xb_cli_usage("plot", "unknown option '%s'", a); break; }
        inputs[ninputs++] = a;
    }
    if (rc < 0 && !out) rc = xb_cli_usage("plot", "no output file: give -o OUT.png");
    if (rc < 0 && !ninputs) rc = xb_cli_usage("plot", "no input file");
    if (rc >= 0) { xb_free(inputs); return rc; }

    xb_err err = { 0 };
    char *report = NULL;
    char *args = join(argc, (const char *const *)argv, " ", 1);
    char *cmd = args ? xb_malloc(strlen(args) + 7) : NULL;
    xb_status st = cmd ? XB_OK : xb_fail(&err, XB_ENOMEM, "out of memory");
    if (!st) {
        sprintf(cmd, "xbemu %s", args);
        st = xb_plot_write(&o, inputs, (size_t)ninputs, out, cmd, hash, &report, &err);
    }
    if (!st) {
        if (report) fputs(report, stdout);
        printf("wrote %s\n", out);
    }
    xb_figure_cleanup();                    /* font caches: a clean exit for LeakSanitizer */
    xb_free(report); xb_free(cmd); xb_free(args); xb_free(inputs);
    return st ? xb_cli_report(&err) : XB_EXIT_OK;
}
