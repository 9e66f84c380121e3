/* crossbar/xb_layer.h: a logical weight matrix W (out x in, plus an optional bias
 * column) mapped onto crossbar arrays, with the read/write peripherals.
 *
 * Orientation: input k drives array row k, output o is sensed on array column o, so
 * the device of W[o][k] sits at (row k, col o) and the forward read is I = G^T V.
 * The bias, if any, is one more input row driven at the constant input 1.
 *
 * Mapping (crossbar.mapping):
 *   reference     w = (G - g_ref) / g_unit, the current of an ideal reference column
 *                 of conductance g_ref (g_ref sum V, booked as one more column read and
 *                 conversion) subtracted from each column before the ADC;
 *   differential  w = (G+ - G-) / g_unit, two arrays per tile. ONE_WAY devices: an
 *                 update of sign s goes to one member only, pulsed in pulse_dir
 *                 (raising w = G+ up or, for devices pulsing downwards, G- down);
 *                 two-way devices: the signed count goes to G+, G- is left alone;
 *   auto          differential for ONE_WAY devices, reference otherwise.
 * g_ref, g_unit: the device's own `g_ref`/`g_unit` parameters when it has them (the
 * pulsed reference devices: then the layer weight is the device weight w), otherwise
 * g_ref = (gmin + gmax)/2 and g_unit = (gmax - gmin)/(2 w_scale) (reference) or
 * (gmax - gmin)/w_scale (differential), from T->g_range.
 *
 * Tiling: W is split into tiles of at most tile_rows inputs x tile_cols outputs, each
 * on its own array (pair); tile outputs are converted by their own ADCs and added
 * digitally (booked as fp32 adds).
 *
 * Forward y = W x (+ b), per vector of the batch:
 *   1. noise management (abs_max): s = max|x|, x /= s (s = 0 leaves x = 0);
 *   2. DAC: clip to [-inp_bound, inp_bound], quantise to dac_bits (2^b - 1 levels
 *      symmetric about 0), V = v_read x / inp_bound; with dac_mode = bit_serial the
 *      b - 1 magnitude bits are applied one per read (inputs 0 or +-inp_bound, sign on
 *      the polarity), each read converted by the ADC and the reads added digitally with
 *      weights 2^p (no bound management in this mode);
 *   3. per tile: column currents from G (read noise of the device when read_noise = 1:
 *      one noisy read of each array per call, shared by the vectors of the batch; IR
 *      drop when irdrop = 1, solved per vector), minus the reference, scaled to weight units
 *      y = I / (g_unit v_read / inp_bound), plus out_noise N(0,1) and w_noise ||x|| N(0,1);
 *   4. ADC: clip to [-out_bound, out_bound] (per column bound after
 *      xb_layer_calibrate_adc when adc_range = column), quantise to adc_bits;
 *   5. bound management (iterative): if any output saturated, halve x and repeat
 *      from 2 (at most bm_max times), then undo the scaling;
 *   6. digital sum of tiles, times s and every halving undone, times out_scale.
 * Transpose z = W^T d reads the same arrays the other way (columns driven, rows
 * sensed) with the same peripherals; the bias row is not part of z.
 * With crossbar.ideal = true all of 1-5 are off: y is the float product with G.
 *
 * Updates:
 *   xb_layer_update   rank-1 per vector: dW = lr d x^T (for each vector of the batch
 *                     in order), as stochastic pulse coincidence (update = pulse) or
 *                     deterministic counts (update = deterministic); see below;
 *   xb_layer_update_diff  dW = lr (da xa^T - db xb^T) per vector as one update of the
 *                     net count, the two products sharing their random numbers;
 *   xb_layer_update_dev  per-device signed pulse counts computed digitally (UPD_DEV);
 *   xb_layer_program  write-verify W onto the devices (PROG).
 * Pulse coincidence ([GV16], ALGORITHMS.md section 1): C = sqrt(lr / (BL dw_min));
 * with update_management, C_x = C sqrt(max|d| / max|x|), C_d = C sqrt(max|x| / max|d|);
 * p = min(1, C |v|) (clipped ones counted); row k gets BL Bernoulli bits A_k from the
 * BITS stream (row k of the layer, epoch = update count), column o bits B_o from the
 * BITS stream row (0x80000000 | o); device (k, o) gets popcount(A_k & B_o) pulses in
 * direction sign(x_k d_o). Deterministic: n = round(lr x_k d_o / dw_min), clamped to
 * +-max_pulses. dw_min is crossbar.dw_min, or (0 = auto) the mean one-pulse step of
 * the device in weight units (xb_array_pulse_step / g_unit).
 *
 * Every call books its energy in the ledger e (may be NULL). A layer is used by one
 * thread at a time; inside, row loops are parallel and results are bit-identical for
 * any thread count. */
#ifndef XB_LAYER_H
#define XB_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"
#include "core/xb_param.h"
#include "crossbar/xb_array.h"
#include "crossbar/xb_energy.h"
#include "devices/xb_device.h"

/* [crossbar] schema: indices into the parameter array (xb_section_crossbar). */
enum {
    XB_XB_TILE_ROWS,        /* max inputs per array (512) */
    XB_XB_TILE_COLS,        /* max outputs per array (512) */
    XB_XB_MAPPING,          /* enum auto|reference|differential */
    XB_XB_W_SCALE,          /* weight at full swing, devices without g_ref/g_unit (1) */
    XB_XB_IDEAL,            /* bool: every peripheral and noise off (false) */
    XB_XB_DAC_BITS,         /* 0 = no quantisation (7) */
    XB_XB_INP_BOUND,        /* DAC range, inputs clipped to +-inp_bound (1) */
    XB_XB_ADC_BITS,         /* 0 = no quantisation (9) */
    XB_XB_OUT_BOUND,        /* ADC range, weight units (12) */
    XB_XB_ADC_RANGE,        /* enum fixed|column */
    XB_XB_OUT_NOISE,        /* additive output noise std, weight units (0.06) */
    XB_XB_W_NOISE,          /* output-referred weight noise std (0) */
    XB_XB_READ_NOISE,       /* bool: device read noise (true) */
    XB_XB_NOISE_MGMT,       /* enum none|abs_max (abs_max) */
    XB_XB_BOUND_MGMT,       /* enum none|iterative (iterative) */
    XB_XB_BM_MAX,           /* max halvings of bound management (10) */
    XB_XB_OUT_SCALE,        /* digital gain on the outputs (1) */
    XB_XB_IRDROP,           /* bool: IR drop on forward/transpose reads (false) */
    XB_XB_R_ROW,            /* ohm per word-line segment (1) */
    XB_XB_R_COL,            /* ohm per bit-line segment (1) */
    XB_XB_IR_SOLVER,        /* enum pcg|sor|direct */
    XB_XB_IR_TOL,           /* relative residual (1e-10) */
    XB_XB_IR_MAX_ITER,      /* (10000) */
    XB_XB_DEAD_ROWS,        /* fraction of dead word lines (0) */
    XB_XB_DEAD_COLS,        /* fraction of dead bit lines (0) */
    XB_XB_UPDATE,           /* enum pulse|deterministic */
    XB_XB_BL,               /* stream length, bits (10), up to 1024 */
    XB_XB_UPDATE_MGMT,      /* bool: rescale C_x, C_d (false) */
    XB_XB_DW_MIN,           /* weight step of one pulse, 0 = measured (0) */
    XB_XB_MAX_PULSES,       /* clamp of deterministic / write-verify counts (100) */
    XB_XB_PROG_TOL,         /* write-verify tolerance, weight units (0.01) */
    XB_XB_PROG_MAX_ITER,    /* write-verify rounds (20) */
    XB_XB_DAC_MODE,         /* enum parallel|bit_serial (parallel) */
    XB_XB_NPARAMS
};
extern const xb_section xb_section_crossbar;
/* [crossbar] values from a config (defaults for missing keys; unknown keys, bad values
 * and ranges are errors naming file:line, key, value and range). */
struct xb_config;
xb_status xb_crossbar_params(const struct xb_config *c, double *p, xb_err *err);

enum { XB_MAP_AUTO = 0, XB_MAP_REFERENCE, XB_MAP_DIFFERENTIAL };
enum { XB_UPDATE_PULSE = 0, XB_UPDATE_DETERMINISTIC };

/* What a layer is built from. Pointers are borrowed for the call only (copied),
 * except `type`, which must outlive the layer. NULL parameter arrays = defaults. */
typedef struct xb_layer_spec {
    const xb_device_type *type;
    const double *dev_params;      /* type->nparams values */
    const double *xbar_params;     /* XB_XB_NPARAMS values ([crossbar]) */
    const double *energy_params;   /* XB_EN_NPARAMS values ([energy]) */
    size_t out, in;                /* logical W is out x in */
    int bias;                      /* 1: one more input row at constant 1 */
    uint32_t seed;                 /* run seed (24 bits used) */
    uint32_t id;                   /* layer id; tile t's arrays get ids id*4096 + 2t (+1: G-) */
    double stuck_on, stuck_off;    /* device fault fractions ([device] section) */
} xb_layer_spec;

typedef struct xb_layer xb_layer;

xb_status xb_layer_alloc(xb_layer **out, const xb_layer_spec *spec, xb_err *err);
void xb_layer_free(xb_layer *L);                       /* NULL is fine */

size_t xb_layer_out(const xb_layer *L);
size_t xb_layer_in(const xb_layer *L);                 /* without the bias */
int xb_layer_has_bias(const xb_layer *L);
int xb_layer_mapping(const xb_layer *L);               /* XB_MAP_REFERENCE or _DIFFERENTIAL */
double xb_layer_g_unit(const xb_layer *L);             /* S per weight unit */
double xb_layer_dw_min(const xb_layer *L);             /* weight step of one pulse */
const double *xb_layer_xbar_params(const xb_layer *L);
/* The unit energies the layer books with (for trainers booking digital ops). */
const xb_energy_units *xb_layer_energy_units(const xb_layer *L);
/* Tiles: count, and array t (plus its differential partner, NULL in reference mode)
 * with the first input row and first output column it holds. */
size_t xb_layer_ntiles(const xb_layer *L);
xb_array *xb_layer_tile(xb_layer *L, size_t t, xb_array **minus, size_t *row0, size_t *col0);

/* Sticky status: XB_OK, or the first failure of a call that returns nothing (an
 * out-of-memory scratch buffer, an IR-drop solve that did not converge); the outputs of
 * that call are NaN. Cleared by reading it with clear = 1. */
xb_status xb_layer_status(xb_layer *L, xb_err *err, int clear);

/* Change one [crossbar] value after allocation (peripherals, update mode, BL...);
 * tile sizes and mapping are fixed at allocation (XB_EINVAL). Range-checked. */
xb_status xb_layer_set(xb_layer *L, int key, double value, xb_err *err);

/* Forward y = W x (+ b): x is batch x in (row-major), y is batch x out. */
void xb_layer_forward(xb_layer *L, const float *x, size_t batch, float *y, xb_energy *e);
/* Transpose z = W^T d: d is batch x out, z is batch x in (bias row not included). */
void xb_layer_backward(xb_layer *L, const float *d, size_t batch, float *z, xb_energy *e);

/* The weights the devices hold now (noiseless, faults included): W out x (in + bias),
 * row-major, the bias as the last column. Not booked (a diagnostic, not a chip read). */
void xb_layer_weights(xb_layer *L, float *W);

/* Per-column ADC ranges (adc_range = column): run the forward read on `batch`
 * calibration vectors and set each forward converter's bound (per tile row and output)
 * to the max |y| it saw before conversion (at most out_bound; a converter that saw
 * only zeros keeps out_bound). Transpose converters keep out_bound. Booked like a
 * forward pass. Used when adc_range = column. */
void xb_layer_calibrate_adc(xb_layer *L, const float *x, size_t batch, xb_energy *e);

/* dW = lr d x^T for each of the batch vectors in turn (x: batch x in, d: batch x out);
 * the bias input is the constant 1. Mode per crossbar.update. */
void xb_layer_update(xb_layer *L, const float *x, const float *d, size_t batch, float lr,
                     xb_energy *e);
/* dW = lr (da xa^T - db xb^T) for each of the batch vectors in turn, as ONE update per
 * vector: each device gets the net count of the two products (pulse: coincidences of
 * the a streams minus those of the b streams, both drawn from the same random numbers,
 * i.e. the counters of one xb_layer_update; deterministic: round(lr (xa da - xb db) /
 * dw_min)), so opposite pulses of the two products cancel before reaching the device.
 * Advances the update count once per vector. */
void xb_layer_update_diff(xb_layer *L, const float *xa, const float *da, const float *xb,
                          const float *db, size_t batch, float lr, xb_energy *e);
/* Signed pulse counts per logical weight, n out x (in + bias), row-major as W: n > 0
 * raises the weight. Routed to the right member in differential mode. */
void xb_layer_update_dev(xb_layer *L, const int16_t *n, xb_energy *e);
/* Write-verify the target weights W (out x (in + bias); NaN = leave alone), clipped to
 * the representable range. Returns the number of devices outside tolerance. */
size_t xb_layer_program(xb_layer *L, const float *W, xb_energy *e);
/* Let dt seconds pass on every array. */
void xb_layer_drift(xb_layer *L, double dt_s);

/* Diagnostics since allocation or the last reset. */
typedef struct xb_layer_stats {
    double mvm_vectors;      /* forward + transpose vectors */
    double adc_saturated;    /* outputs that hit the ADC bound (before bound management) */
    double bm_repeats;       /* extra reads made by bound management */
    double dac_clipped;      /* inputs clipped by the DAC */
    double updates;          /* update vectors */
    double probs, clipped;   /* pulse probabilities drawn, and those clipped at 1 */
    double pulses;           /* pulses sent (all modes) */
    double ir_iterations;    /* solver iterations summed over IR-drop solves */
} xb_layer_stats;
const xb_layer_stats *xb_layer_stats_get(const xb_layer *L);
void xb_layer_stats_reset(xb_layer *L);

/* For tests and benches: the signed pulse-coincidence counts (out x (in + bias), as
 * xb_layer_update_dev) that the next xb_layer_update of the single vector (x, d) would
 * send, from the same streams, without applying them or advancing anything. */
void xb_layer_coincidences(xb_layer *L, const float *x, const float *d, float lr,
                           int16_t *n);

#endif
