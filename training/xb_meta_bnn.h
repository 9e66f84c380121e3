/* training/xb_meta_bnn.h: a binarized MLP trained with Adam-meta (ALGORITHMS.md 3,
 * [LEH21]); the engine behind the `meta_bnn` trainer, the W2 bench and its tests.
 *
 * Network. L dense layers without bias, each followed by BatchNorm1d (affine, eps 1e-5,
 * momentum 0.1; batch statistics in training, running statistics at test); hidden
 * layers then apply sign() with the straight-through gradient 1{|x| <= 1}; the last
 * BatchNorm feeds softmax + cross-entropy (batch mean). Layer l uses W_b = sign(W_h)
 * (sign(0) = +1); the first layer sees real-valued pixels.
 *
 * Binary weights. What the forward pass reads is the *stored* bit of each weight (a
 * float +-1 copy for cblas and, for layers whose input is binary, rows packed 64 per
 * word, bit = 1 for -1). A stored bit is rewritten only when sign(W_h) changes in an
 * update (a "flip"): each flip is one device write, counted and booked once at
 * e_write_J; with ber_write > 0 the write fails with that probability and the old bit
 * stays (persistent error, [Hirt19]); with ber_read > 0 each read of a weight returns
 * the other value with that probability (transient: a fresh draw per forward pass).
 *
 * Products. Layer 1 and every backward/weight-gradient product are cblas sgemm on the
 * float copies. Binary x binary forward products (layers >= 2) are XNOR-popcount on
 * the packed rows, z = n - 2 popcount(a XOR w): exact, equal to the float product of
 * the +-1 matrices (integers below 2^24). Set packed = 0 to use sgemm there too.
 *
 * Adam-meta (weights only; BatchNorm gets plain Adam): g += decay W; m, v as Adam;
 * delta = -lr sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v)+eps); if sign(W_h) m > 0 (the step
 * shrinks |W_h|) delta *= f_meta = 1 - tanh^2(meta |W_h|). W_h is never clipped.
 * Adam moments and t are reset by xb_mbnn_task_begin.
 *
 * Tasks. xb_mbnn_task_begin(k) saves the BatchNorm state (affine and running
 * statistics) reached so far as task k-1's, resets Adam and goes on training the same
 * BatchNorm; xb_mbnn_predict_task(e) evaluates task e with its saved state (the
 * paper's "task" scenario) and the current task with the current state.
 *
 * Threads: row loops (Adam, XNOR) use xb_par_threads; every element is a pure function
 * of its inputs and of counter-based draws keyed (seed, layer, row, step), sums over
 * the batch are serial per feature, so results are the same for any thread count
 * (BLAS: as far as OpenBLAS is). One instance is used by one caller at a time. */
#ifndef XB_META_BNN_H
#define XB_META_BNN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/xb_err.h"

enum { XB_MBNN_MAX_LAYERS = 6, XB_MBNN_MAX_TASKS = 64 };

typedef struct xb_mbnn_opts {
    size_t nlayers, sizes[XB_MBNN_MAX_LAYERS + 1];   /* sizes[0] inputs */
    double lr, meta, decay, beta1, beta2, eps;
    double init_width;          /* W_h ~ U(-init_width/2, +init_width/2) */
    double ber_write, ber_read; /* 0 = error-free */
    double e_write_J;           /* energy of one binary-weight write (a flip) */
    int packed;                 /* XNOR-popcount for binary x binary products */
    uint32_t seed;
    /* Hidden weights in devices (ALGORITHMS.md 2): NULL = digital float W_h. Else each
     * weight is a pair (BL, BLb) of one-way devices of this type (hfox: weak RESET),
     * Adam's step u = -lr m^/(sqrt(v^) + eps) (lr = pulses per unit step) becomes
     * n = round(clip(u, +-n_max)) pulses on BL (n > 0) or BLb (n < 0), and
     * W_b = sign(R_BL - R_BLb); W_h reads ln(R_BL / R_BLb). Borrowed during alloc. */
    const struct xb_device_type *hidden_dev;
    const double *hidden_p;
    int n_max;                  /* pulse clamp (14) */
    double bn_lr;               /* BatchNorm Adam step (0: lr) */
} xb_mbnn_opts;

/* The defaults of ALGORITHMS.md 3 for a 784-1024-1024-10 net (W2 of BENCHMARKS.md). */
xb_mbnn_opts xb_mbnn_defaults(void);

typedef struct xb_mbnn xb_mbnn;

xb_status xb_mbnn_alloc(xb_mbnn **out, const xb_mbnn_opts *o, xb_err *err);
void xb_mbnn_free(xb_mbnn *n);                 /* NULL is fine */

/* One Adam-meta step on a batch of b samples (x: b x sizes[0]); returns how many the
 * training forward pass classified correctly. b <= 1024. */
size_t xb_mbnn_step(xb_mbnn *n, const float *x, const unsigned *y, size_t b);
/* Predictions with the current BatchNorm state (running statistics). */
void xb_mbnn_predict(xb_mbnn *n, const float *x, size_t m, unsigned *pred);
/* Predictions with task e's BatchNorm state (saved at its end; current if e is the
 * task being trained or was never saved). */
void xb_mbnn_predict_task(xb_mbnn *n, size_t e, const float *x, size_t m, unsigned *pred);
void xb_mbnn_task_begin(xb_mbnn *n, size_t task);

/* Counters since alloc: flips (device writes) and failed writes per layer, steps. */
typedef struct xb_mbnn_stats {
    uint64_t flips[XB_MBNN_MAX_LAYERS], failed[XB_MBNN_MAX_LAYERS];
    uint64_t flips_total, steps, samples;
    double write_J;                            /* flips_total * e_write_J, summed per step */
    uint64_t pulses;                           /* hidden-weight device pulses (hfox mode) */
    double pulse_J;                            /* their energy, from the device model */
} xb_mbnn_stats;
void xb_mbnn_get_stats(const xb_mbnn *n, xb_mbnn_stats *s);

/* Hidden weights of layer l (sizes[l+1] x sizes[l], row-major); stored bits follow. */
float *xb_mbnn_hidden(xb_mbnn *n, size_t l);
/* Number of weights of layer l (sizes[l+1] x sizes[l]; 0 past the last layer). */
size_t xb_mbnn_size(const xb_mbnn *n, size_t l);
/* Append the histogram of |W_h| of every layer to f as CSV rows
 * task+1,layer+1,lo,hi,count,fraction (bins [lo, hi) of `width` from 0, empty bins
 * left out; fraction = count / weights of the layer): what `dump_hidden` writes to
 * hidden_hist.csv at the end of each task. */
xb_status xb_mbnn_hidden_hist(xb_mbnn *n, size_t task, double width, FILE *f, xb_err *err);
/* dL/dW_b of layer l from the last step (weight decay not included; tests). */
const float *xb_mbnn_grad(const xb_mbnn *n, size_t l);
/* Re-derive every stored bit from sign(W_h) as a fresh programming of the whole net,
 * each write failing with probability p (draws keyed by `stream`); returns the number
 * of stored bits that now differ from sign(W_h). Books no training energy. */
uint64_t xb_mbnn_program(xb_mbnn *n, double p, uint32_t stream);
/* Change the learning rate (schedules; 0 freezes W_h and the BatchNorm affine). */
void xb_mbnn_set_lr(xb_mbnn *n, double lr);
/* Change the read bit-error rate (transient errors at every forward read). */
void xb_mbnn_set_ber_read(xb_mbnn *n, double p);

/* |W_h| of layer l: mean, 50/90/99th percentiles, fraction above 1, mean f_meta. */
typedef struct xb_mbnn_whstats { double mean, p50, p90, p99, frac_gt1, fmeta; } xb_mbnn_whstats;
xb_status xb_mbnn_wh_stats(xb_mbnn *n, size_t l, xb_mbnn_whstats *s, xb_err *err);

/* ---- kernels, exposed for tests and benches ---- */
/* Signed pulse count of an Adam step u in the device mode: round(clip(u, +-n_max)),
 * rounding half away from zero (ALGORITHMS.md 2: u = 0.4 -> 0, u = 20 -> 14). */
int xb_mbnn_pulses(float u, int n_max);
/* f_meta = 1 - tanh^2(meta |w|), computed as 4e/(1+e)^2, e = exp(-2 meta |w|). */
float xb_mbnn_fmeta(float meta, float w);
typedef struct xb_mbnn_adam {
    float lr, beta1, beta2, eps, decay, meta;
    unsigned t;                                 /* step count, >= 1 */
} xb_mbnn_adam;
/* One Adam(-meta) update of n parameters in place (meta = 0 or is_weight = 0: plain
 * Adam; the attenuation applies to weights only). */
void xb_mbnn_adam_update(const xb_mbnn_adam *a, int is_weight, size_t n, float *w, float *m,
                         float *v, const float *g);
/* The same update by the 4-lane kernel of the training step (same bits). */
void xb_mbnn_adam_update_fast(const xb_mbnn_adam *a, int is_weight, size_t n, float *w, float *m,
                              float *v, const float *g);
/* Pack rows x cols values into rows x ceil(cols/64) words: bit k of word w of row r
 * is 1 iff x[r][64w + k] < 0 (the padding is 0). */
void xb_mbnn_pack(const float *x, size_t rows, size_t cols, uint64_t *bits);
/* z[s][j] = sum_k a_sk w_jk for +-1 rows packed by xb_mbnn_pack, n = cols. */
void xb_mbnn_xnor_gemm(const uint64_t *a, size_t b, const uint64_t *w, size_t out, size_t n,
                       float *z);

/* ---- [bits]: ST-MRAM cells of the binary weights ([train] ber_mode = physical) ---- */
struct xb_config;
struct xb_section;
extern const struct xb_section xb_section_bits;
/* What the `stmram` model (devices/xb_stmram.h, nominal device, DEVICES.md 5 and 9)
 * gives for the [bits] keys of c (c NULL: the defaults): write error rate of one write
 * pulse = 1 - P_sw(i_write, t_write), read error probability, and the energy of one
 * write I^2 t (R_P + R_AP)/2. Errors name file:line:key and the allowed range. */
typedef struct xb_mbnn_bits { double wer, ber_read, e_write_J, i_write, t_write; } xb_mbnn_bits;
xb_status xb_mbnn_bits_rates(const struct xb_config *c, xb_mbnn_bits *out, xb_err *err);

#endif
