/* crossbar/xb_array.h: one physical crossbar array of rows x cols devices of one type.
 *
 * Layout: the array owns one block holding every SoA state field of its devices
 * (field k of device (i, j) at block[(k * rows + i) * cols + j]) plus the cached
 * conductance matrix G (float, row-major, rows x cols, siemens) and its row sums.
 * Row i is driven by the input line i (word line), column j is sensed (bit line):
 * the forward read gives column currents I = G^T V, the transpose read row currents
 * G D. G is refreshed lazily, only for rows marked dirty by a pulse, a program or a
 * drift; a pointer from xb_array_G stays valid until the next call that changes state.
 *
 * Faults: stuck devices (drawn per device from the FAULT stream; G forced to the
 * device's g_range ends after every refresh, the state keeps moving underneath but
 * is never seen) and dead rows / columns (a dead line carries no current: G = 0 for
 * every device on it).
 *
 * Random streams (core/xb_rng.h), all under (seed, array id):
 *   D2D   row i, epoch 0             initial state at allocation (init_row)
 *   C2C   row i, epoch = pulse step  cycle-to-cycle noise of pulses (pulse_row)
 *   READ  row i, epoch = read count  device read noise when a noisy G is asked for
 *   FAULT row i / row rows + k       stuck devices / dead lines
 * so the array's bits depend only on (seed, id, sequence of calls), never on threads.
 *
 * Threads: row loops (pulse, refresh, program) are OpenMP parallel over rows with the
 * count from xb_par_threads; per-row energies are summed serially in row order. */
#ifndef XB_ARRAY_H
#define XB_ARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"
#include "crossbar/xb_energy.h"
#include "devices/xb_device.h"

typedef struct xb_array xb_array;

/* Allocate and initialise (D2D draw) a rows x cols array of devices of type T with
 * parameters p (copied; T->nparams values, already checked). The type is borrowed and
 * must outlive the array. On failure *out = NULL and err says why. */
xb_status xb_array_alloc(xb_array **out, const xb_device_type *T, const double *p,
                         size_t rows, size_t cols, uint32_t seed, uint32_t id, xb_err *err);
void xb_array_free(xb_array *a);                      /* NULL and half-built are fine */

size_t xb_array_rows(const xb_array *a);
size_t xb_array_cols(const xb_array *a);
uint32_t xb_array_id(const xb_array *a);
uint32_t xb_array_epoch(const xb_array *a);           /* pulse steps so far */
const xb_device_type *xb_array_type(const xb_array *a);
const double *xb_array_params(const xb_array *a);
/* Nominal conductance range of the devices (T->g_range). */
void xb_array_g_range(const xb_array *a, double *gmin, double *gmax);

/* Faults: draw stuck-on / stuck-off devices and dead rows / columns with the given
 * fractions (FAULT stream); replaces earlier faults. Marks every row dirty.
 * XB_ENOMEM leaves the array without faults. */
xb_status xb_array_set_faults(xb_array *a, double stuck_on, double stuck_off, double dead_rows,
                              double dead_cols, xb_err *err);
/* Per-device fault codes (XB_HEALTHY/XB_STUCK_ON/XB_STUCK_OFF), rows x cols, or NULL if
 * no device is stuck; dead line flags (1 = dead) per row / column, or NULL. */
const uint8_t *xb_array_stuck(const xb_array *a);
const uint8_t *xb_array_dead_rows(const xb_array *a);
const uint8_t *xb_array_dead_cols(const xb_array *a);

/* The noiseless conductance matrix (rows x cols, S), refreshed for dirty rows.
 * Valid until the next pulse / program / drift / fault call on this array. */
const float *xb_array_G(xb_array *a);
/* Row sums of G (rows entries, double), for the read energy sum_i V_i^2 sum_j G_ij,
 * and column sums (cols entries) for transpose reads; same validity as xb_array_G. */
const double *xb_array_G_rowsum(xb_array *a);
const double *xb_array_G_colsum(xb_array *a);
/* One read with the device model's read noise (READ stream, epoch = read counter,
 * which this call advances) into g (rows x cols). Without XB_DEV_READ_NOISE it equals
 * xb_array_G. Faults apply. */
void xb_array_read_noisy(xb_array *a, float *g);

/* The SoA view of row i (for tests and for trainers that inspect state). Writing
 * through it must be followed by xb_array_touch(a, i). */
xb_row xb_array_row(xb_array *a, size_t i);
void xb_array_touch(xb_array *a, size_t i);           /* mark row i dirty */

/* Apply signed pulse counts n (rows x cols, row-major) in one pulse step: epoch++,
 * then every row with a nonzero count goes through T->pulse_row with its C2C stream.
 * ONE_WAY devices ignore negative counts. Books XB_E_PULSE (pulses, model energy from
 * the state before the pulses) and XB_C_WRITES. Rows with no pulse are not touched. */
void xb_array_pulse(xb_array *a, const int16_t *n, xb_energy *e);
/* The same for one row (counts for its cols devices), in the current pulse step: call
 * xb_array_step first, then any subset of rows in any order or in parallel (a row at
 * most once per step). Returns the row's pulse energy (J); the caller books it. */
void xb_array_step(xb_array *a);
double xb_array_pulse_row(xb_array *a, size_t i, const int16_t *n);

/* Write-verify programming towards target conductances (rows x cols, S; NaN = leave
 * alone). If T->program_row exists it is used (one shot, then verified); otherwise each
 * round reads G (noisy when the model has read noise), sends round((target - G)/dG)
 * pulses clamped to +-max_pulses per device, dG being the mean one-pulse step measured
 * at allocation, until |G - target| <= tol or max_iter rounds. Books XB_E_PROGRAM and
 * XB_E_VERIFY. Reports how many devices missed the tolerance. */
typedef struct xb_program_opts {
    double tol;            /* S; absolute tolerance on |G - target| */
    int max_iter;          /* program-and-verify rounds */
    int max_pulses;        /* per device per round */
} xb_program_opts;
typedef struct xb_program_result {
    size_t missed;         /* devices outside tol after the last round */
    int rounds;            /* rounds used */
    double max_err;        /* max |G - target| (S) over the programmed devices */
} xb_program_result;
void xb_array_program(xb_array *a, const float *g_target, const xb_program_opts *o,
                      xb_energy *e, xb_program_result *res);
/* Mean |dG| (S) of one pulse in each direction, measured at allocation on a probe of
 * fresh devices (same parameters, own D2D stream): the step used by write-verify and by
 * the layer to find dw_min. ONE_WAY devices: both are the step in pulse_dir. */
void xb_array_pulse_step(const xb_array *a, double *dg_up, double *dg_down);

/* Let dt seconds pass (T->drift_row, if the model has one). */
void xb_array_drift(xb_array *a, double dt_s);

/* Physical reads, ideal (no peripherals): forward I = G^T V for `batch` vectors,
 * V batch x rows (volts), I batch x cols (amperes); transpose J = G D, D batch x cols,
 * J batch x rows. cblas_sgemv for batch 1, cblas_sgemm otherwise, on xb_array_G.
 * Book XB_E_READ (sum V^2 G t_read per vector) and XB_C_MVM; conversions are booked
 * by the caller that owns the converters (xb_layer). u may be NULL (no booking). */
void xb_array_forward(xb_array *a, const float *V, size_t batch, float *Iout,
                      const xb_energy_units *u, xb_energy *e);
void xb_array_transpose(xb_array *a, const float *D, size_t batch, float *Jout,
                        const xb_energy_units *u, xb_energy *e);

#endif
