/* training/xb_bimu.h: BiMU, the Bayesian binary metaplastic update (Cottart et al.;
 * ALGORITHMS.md section 5), on a binary Bayesian MLP.
 *
 * Each weight w in {-1, +1} has a natural parameter lambda, P(w = +1) = sigmoid(2 lambda),
 * E[w] = tanh(lambda). Layers have no bias; each is followed by LayerNorm without affine
 * parameters; hidden units use the reverse binary gate (1 if |a| > 1 else 0) with the
 * surrogate gradient +1 on (0.5, 1.5), -1 on (-1.5, -0.5), 0 elsewhere. Training draws
 * relaxed weights w~ = tanh((lambda + ln(u/(1-u))/2) / tau) (Gumbel-softmax for binary
 * variables, S samples, loss averaged over them), then with g = dL/dlambda:
 *   g' = kL g;  c = kKL (1 - tanh^2 lambda);  D = c + 2 g' tanh(lambda) + 2|g'| + 1/lr_max
 *   dlambda = -(eta g' + lambda c / N) / D
 * Inference samples hard weights (S samples, softmax averaged). Active querying: the
 * variation ratio of the S inference samples decides whether a label is requested; a
 * step without a label changes nothing (no forgetting either).
 * Random numbers: relaxed samples from SAMPLE rows 128 + l (array s, epoch = step), hard
 * samples from rows 192 + l (epoch = evaluation call).
 *
 * Hard samples come from a sampler (xb_bimu_set_sampler): digital (a Philox uniform per
 * weight, u < sigmoid(2 lambda)) or stmram: every weight is an ST-MRAM cell (its own D2D
 * draws of the `stmram` model, D2D rows 64 + l of the seed) sampled by a reset to P
 * (w = -1) at the device's i_write, t_write, then one write pulse towards AP (w = +1)
 * of width t_write whose current is the inverse of the switching law
 * (xb_stmram_current_for) at P_sw = sigmoid(2 lambda): of the cell's own law
 * (calibrated) or of the nominal cell's (not calibrated: the D2D spread then shows in
 * P_sw). The cell switches with its true P_sw = 1 - WER(I); the Bernoulli event is
 * drawn from the same Philox uniforms (32-bit integer compare, so P_sw is resolved to
 * 2^-32). The reset is taken as reliable (its WER at the defaults is ~2e-7). Energy per
 * sample and weight: I^2 R_P t_write (the write, from P) + i_write^2 R t_write (the next
 * reset, R of the sampled state). Currents are recomputed lazily after lambda changes. */
#ifndef XB_BIMU_H
#define XB_BIMU_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"

enum { XB_BIMU_MAX_LAYERS = 4 };

typedef struct xb_bimu_cfg {
    size_t nlayers;
    size_t sizes[XB_BIMU_MAX_LAYERS + 1];
    double kl, kkl, lr_max, memory, eta, tau;   /* 161.3, 3.76, 0.0023, 700, 4.9, 1 */
    double lambda_init;                        /* lambda ~ U(-a, a); 0.1 */
    unsigned mc_train, mc_test;                /* 5, 5 */
    double query_threshold;                    /* VR >= this -> label requested; 0 = always */
    uint32_t seed;
} xb_bimu_cfg;

typedef struct xb_bimu_counts {
    double steps, queried, macs, updates;
    double uniforms;           /* digital random draws (relaxed samples; hard ones if digital) */
    double sample_writes;      /* stmram sampler: reset + write pulses */
    double sample_J;           /* their energy */
} xb_bimu_counts;

enum { XB_BIMU_SAMPLER_DIGITAL, XB_BIMU_SAMPLER_STMRAM };
typedef struct xb_bimu_sampler {
    int kind;                  /* XB_BIMU_SAMPLER_* */
    int calibrated;            /* stmram: invert each cell's own law (1) or the nominal one (0) */
    const double *dev;         /* stmram parameter vector (physical mode); read during the call */
} xb_bimu_sampler;

typedef struct xb_bimu xb_bimu;

xb_status xb_bimu_alloc(xb_bimu **out, const xb_bimu_cfg *c, xb_err *err);
void xb_bimu_free(xb_bimu *b);
/* One sample: if query_threshold > 0, first S hard-sample predictions give the variation
 * ratio and the label is used only if VR >= threshold. Returns 1 if the (relaxed, first
 * sample) training pass classified it correctly, or, unqueried, the hard prediction. */
int xb_bimu_step(xb_bimu *b, const float *x, unsigned label);
/* Hard-sample probabilities: probs[(i * S + s) * K + k]. */
void xb_bimu_sample_probs(xb_bimu *b, const float *x, size_t n, unsigned S, float *probs);
void xb_bimu_predict(xb_bimu *b, const float *x, size_t n, unsigned *pred);
float *xb_bimu_lambda(xb_bimu *b, size_t l);      /* out_l x in_l (writable: marks it changed) */
const xb_bimu_counts *xb_bimu_counts_get(const xb_bimu *b);
/* Switch the hard-sample source (digital at alloc). */
xb_status xb_bimu_set_sampler(xb_bimu *b, const xb_bimu_sampler *smp, xb_err *err);
/* Hard sample s of evaluation `epoch` (the draws xb_bimu_sample_probs uses); returns the
 * weights of layer l (out x in, +-1), valid until the next call that samples. */
const float *xb_bimu_hard_sample(xb_bimu *b, uint32_t s, uint32_t epoch, size_t l);
/* P(w = +1) the sampler realises for weight i of layer l (stmram: 1 - WER of the cell
 * at its current), and that cell's write current (A; 0 if digital). */
double xb_bimu_p_plus(xb_bimu *b, size_t l, size_t i, double *current);
/* Expected sampling energy (J) of one full weight sample at the present lambda: the
 * stmram pulses, or 32 bits per weight times e_rng_bit for the digital sampler. */
double xb_bimu_sample_energy(xb_bimu *b, double e_rng_bit);
/* Active querying: is a label requested at variation ratio vr? vr takes the values
 * k/S; the comparison keeps a margin of 1e-9 so that 1 - 4/5 (0.19999999999999996 in
 * double) counts as 0.2. threshold 0 = always. */
int xb_bimu_wants_label(double vr, double threshold);
/* The update alone (tests): n parameters with gradients g. */
void xb_bimu_apply(const xb_bimu_cfg *c, size_t n, float *lambda, const float *g);

#endif
