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
 * samples from rows 192 + l (epoch = evaluation call). */
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
    double steps, queried, macs, updates, uniforms;
} xb_bimu_counts;

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
float *xb_bimu_lambda(xb_bimu *b, size_t l);      /* out_l x in_l */
const xb_bimu_counts *xb_bimu_counts_get(const xb_bimu *b);
/* The update alone (tests): n parameters with gradients g. */
void xb_bimu_apply(const xb_bimu_cfg *c, size_t n, float *lambda, const float *g);

#endif
