/* plots/xb_plot.h: figures from files — results.csv (tidy: one row per run x evaluation
 * point), device pulse-response CSVs, matrix CSVs and benchmark JSON lines — built on
 * xb_figure. This is what `xbemu plot KIND INPUT... -o out.png` calls.
 *
 * Column roles in a results table (names as experiments/ writes them):
 *   measurements   names containing accuracy, energy, loss, time, wall, gflops, ratio,
 *                  conductance, or ending in a unit: _J _s _S _W _A _V _ms _us _ns _Hz;
 *                  also samples*, `step` (progress counters) and n_* (operation counts)
 *   seed           repeats: averaged (mean +- sd over seeds)
 *   epoch, task    by default only each run's last point is kept (the row with the most
 *                  samples_seen, else the last in the file; per training task when task is
 *                  a heatmap axis; not in `learning`, which plots them all)
 *   eval_task      energy-accuracy averages over it (the mean accuracy over tasks)
 *   every other column is configuration; those whose value varies form the series.
 * Several inputs are read as one table; a column a kind needs must be in every input.
 * The column name `file` (in --color, --x, --y, --z) means the input file (its name, or its
 * directory's for .../results.csv) where the inputs have no such column.
 *
 * Errors name the file (and line where there is one) and the column: missing column,
 * empty table, a cell that is not a number, a non-positive value on a log axis. */
#ifndef XB_PLOT_H
#define XB_PLOT_H

#include <stddef.h>

#include "core/xb_csv.h"
#include "core/xb_err.h"
#include "plots/xb_figure.h"

/* Non-dominated points for (max accuracy, min energy): point i is dropped iff some j has
 * acc[j] >= acc[i] and energy[j] <= energy[i] with at least one strict. Exact duplicates
 * of a front point are all kept. Writes the front's indices to idx (n slots), ordered by
 * increasing energy, and their count to *nfront. NaN values are refused. */
xb_status xb_pareto(const double *energy, const double *acc, size_t n, size_t *idx,
                    size_t *nfront, xb_err *err);

typedef enum {
    XB_PLOT_ENERGY_ACCURACY, XB_PLOT_PULSE_RESPONSE, XB_PLOT_LEARNING, XB_PLOT_HEATMAP,
    XB_PLOT_SWEEP, XB_PLOT_SCALING, XB_PLOT_ENERGY_BREAKDOWN, XB_PLOT_NKINDS
} xb_plot_kind;
extern const char *const xb_plot_kind_names[XB_PLOT_NKINDS];   /* "energy-accuracy", ... */
int xb_plot_kind_find(const char *name);                         /* -1 if unknown */

typedef struct xb_plot_opts {
    xb_plot_kind kind;
    const char *x, *y, *z, *color;      /* column names; NULL = the kind's default */
    int logx, logy;                     /* 1 on, 0 off, -1 the kind's default */
    const char *title, *xlabel, *ylabel, *zlabel;
    int width, height;                  /* pixels; 0 = 960 x 640 */
    double text_scale;                  /* all text x this, in [0.5, 3]; 0 = 1 */
    int all_epochs;                     /* keep every epoch, not only each run's last */
    int table;                          /* report every plotted point (series, x, mean, sd, n) */
    int label_front;                    /* energy-accuracy: write each front point's config */
    const char *measured, *mx, *my;     /* pulse-response overlay file and its columns */
    const char *where;                  /* "col=value[,col=value...]": keep only those rows */
} xb_plot_opts;

typedef struct xb_plot {
    xb_figure *fig;
    char *report;                       /* lines for stdout (Pareto front, slopes, --table), or NULL */
} xb_plot;

/* Read the inputs and build the figure. *out is filled only on success. */
xb_status xb_plot_make(const xb_plot_opts *o, const char *const *inputs, size_t ninputs,
                       xb_plot *out, xb_err *err);
void xb_plot_clear(xb_plot *p);

/* Make the figure and write it in one call, as PNG, or PDF/SVG by out's extension (what `xbemu plot` does; also for a
 * sweep that ends with its figure). command and config_hash go into the tEXt chunks
 * (config_hash NULL: crc32 of the inputs); Source lists the inputs (and the measured
 * file). On success *report (may be NULL) receives the stdout lines, for the caller to
 * print and xb_free; it may be NULL when there are none. */
xb_status xb_plot_write(const xb_plot_opts *o, const char *const *inputs, size_t ninputs,
                        const char *out_png, const char *command, const char *config_hash,
                        char **report, xb_err *err);

/* Benchmark JSON lines (one flat object per line; blank and # lines skipped) as a table:
 * the union of the keys in order of first appearance; numbers, strings, booleans as text;
 * absent keys are "". Row lines are the JSON line numbers. */
xb_status xb_plot_read_jsonl(const char *path, xb_csv **out, xb_err *err);

/* "crc32:xxxxxxxx" of the concatenated input files, for the Config-Hash chunk. */
xb_status xb_plot_hash_files(const char *const *paths, size_t n, char *buf, size_t len,
                             xb_err *err);

/* An axis label from a column name: underscores become spaces and a unit suffix is
 * put in brackets ("energy_per_sample_J" -> "energy per sample (J)"). */
void xb_plot_pretty_label(const char *col, char *buf, size_t len);

#endif
