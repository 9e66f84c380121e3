/* calibration/xb_meas.h: measured device data, read into SI units.
 *
 * One xb_measurement holds one kind of data, the kind a fitter asks for:
 *   XB_MEAS_RAMPS  conductance after each pulse of potentiation (dir +1) and depression
 *                  (dir -1) ramps: ramp[r].g[k] is G (S) after pulse k, g[0] the first
 *                  read. Ramps come from one file or several (xb_meas_append).
 *   XB_MEAS_STEPS  the mean and spread of the conductance change of one pulse as a
 *                  function of G (a CrossSim dG lookup table reduced per G bin):
 *                  g[i] (S), dg[i] (S, signed), sd[i] (S), dir[i].
 *   XB_MEAS_PSW    switching probability p[i] of a pulse of width width[i] (s) and
 *                  current cur[i] (A); cur[i] is NaN when the file does not give it.
 *   XB_MEAS_RELAX  re-reads after programming: time t[i] (s), G g[i] (S), G at time 0
 *                  g0[i] (S), nominal time point tnom[i] (s); from a bake file ("bake":
 *                  5 TAB columns addr, time, r, g, temp in C) one row per cell and
 *                  temperature: the read after the bake vs the read before, temp[i] in K.
 *
 * Formats: "csv" (generic CSV/TSV with a column mapping and units), "taox" (one column
 * per ramp, padded with empty fields; read current in A), "lut" (CrossSim dG quantile
 * table), "mtj" (two TAB columns, blank-TAB lines), "relax" (7 TAB columns, RRAM
 * relaxation), "bake" (5 TAB columns). Every error names file:line:column (1-based) and what was expected.
 * Arrays are owned by the measurement; xb_meas_free releases everything. */
#ifndef XB_MEAS_H
#define XB_MEAS_H

#include <stddef.h>

#include "core/xb_err.h"

typedef enum { XB_MEAS_RAMPS = 1, XB_MEAS_STEPS, XB_MEAS_PSW, XB_MEAS_RELAX } xb_meas_kind;

typedef struct xb_ramp {
    int dir;              /* +1 potentiation, -1 depression */
    size_t n;             /* reads, n >= 2 */
    double *g;            /* S */
    double *pulse;        /* cumulative pulse count of each read; NULL: 0, 1, 2, ... */
    int line;             /* file line of the first read (column index for "taox") */
    int device;           /* 1-based device of the ramp ("pulses" layout), 0: not recorded */
} xb_ramp;

typedef struct xb_measurement {
    xb_meas_kind kind;
    char name[256];       /* file name(s), for reports */
    size_t nramps;
    xb_ramp *ramp;
    size_t n;             /* rows of the per-point arrays below */
    double *g, *dg, *sd;  /* STEPS; RELAX uses g */
    int *dir;             /* STEPS */
    double *width, *cur, *p;        /* PSW */
    double *t, *g0, *tnom;          /* RELAX */
    double *temp;                   /* RELAX from a bake file: bake temperature (K), else NULL */
} xb_measurement;

typedef struct xb_meas_opts {
    const char *format;   /* csv | taox | lut | mtj | relax; NULL: from the file's content */
    const char *columns;  /* csv: "role=col,...", col 0-based or a header name */
    const char *units;    /* "role=unit,..." e.g. "conductance=mS,width=ns" */
    double v_read;        /* V: read current -> conductance (taox default 0.1 V) */
    double r_p;           /* ohm: pulse voltage -> current (mtj: 2530 ohm) */
    double t_pulse;       /* s: width when the file gives amplitudes only (mtj: 1 ns) */
    double v_pulse;       /* V: amplitude when the file gives widths only (0: unknown) */
} xb_meas_opts;

#define XB_MEAS_OPTS_DEFAULT ((xb_meas_opts){ .v_read = 0.1, .r_p = 2530, .t_pulse = 1e-9 })

/* Read `path` as data of `kind`. On error *out is NULL and err names file:line:col. */
xb_status xb_meas_read(const char *path, xb_meas_kind kind, const xb_meas_opts *o,
                       xb_measurement **out, xb_err *err);
/* The same from text in memory (`name` is used in messages); for tests and fuzzing. */
xb_status xb_meas_parse(const char *text, size_t len, const char *name, xb_meas_kind kind,
                        const xb_meas_opts *o, xb_measurement **out, xb_err *err);
/* Move the ramps/points of `more` (same kind) into `m`; frees `more`. */
xb_status xb_meas_append(xb_measurement *m, xb_measurement *more, xb_err *err);
void xb_meas_free(xb_measurement *m);                    /* NULL is fine */
/* "ramps", "steps", "switching probability", "relaxation" */
const char *xb_meas_kind_name(xb_meas_kind k);

#endif
