/* training/xb_mesu.h: MESU, Metaplasticity from Synaptic Uncertainty (Bonnet et al.,
 * arXiv:2504.13569; ALGORITHMS.md section 4), on a dense ReLU MLP with biases.
 *
 * Every weight and bias has a Gaussian posterior N(mu, sigma^2). A training step draws
 * w = mu + sigma eps (fresh eps per Monte-Carlo sample), back-propagates the summed
 * cross-entropy, and with g_mu = mean_s dL/dw_s, g_sigma = mean_s dL/dw_s eps_s (old
 * sigma on the right-hand side):
 *   mu    += lr_mu    (-sigma^2 g_mu + sigma^2 (mu_p - mu) / (N sigma_p^2))
 *   sigma += lr_sigma 1/2 (-sigma^2 g_sigma + sigma (sigma_p^2 - sigma^2) / (N sigma_p^2))
 * with the optional clamp g <- clip(g, -c/sigma, c/sigma). Predictions average the
 * softmax of S weight samples; each sample's weights are drawn once per call and used
 * for the whole batch of inputs (as the reference does for its test sets).
 *
 * Layout: layer l is out_l x (in_l + 1), row-major, bias last. Random numbers: eps of
 * layer l, sample s, training step t from the SAMPLE stream (row l, array s, epoch t);
 * evaluation call e uses rows 64 + l and epoch e. Pure in (seed, t, e): the same run gives
 * the same bits whatever the thread count. sigma is never forced positive (the update can
 * cross zero with large steps; w = mu + sigma eps is unaffected); negatives are counted. */
#ifndef XB_MESU_H
#define XB_MESU_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"

enum { XB_MESU_MAX_LAYERS = 4 };

/* Source of the standard normals eps (the noise hook): fills eps[0..n) for the stream
 * (row, array, epoch) named in the header comment. NULL: digital (ziggurat on Philox). */
typedef void (*xb_mesu_noise_fn)(void *ctx, uint32_t row, uint32_t array, uint32_t epoch,
                                 size_t n, float *eps);

typedef struct xb_mesu_cfg {
    size_t nlayers;
    size_t sizes[XB_MESU_MAX_LAYERS + 1];
    double lr_mu, lr_sigma;        /* 1, 1 */
    double mu_prior, sigma_prior;  /* 0, 1 */
    double memory;                 /* N, 3e5 */
    double clamp;                  /* c, 0 = off */
    double mu_init_gain;           /* mu ~ U(-g/sqrt(in), g/sqrt(in)), biases 0; sqrt(2) */
    double sigma_init;             /* 0.1 */
    unsigned mc_train, mc_test;    /* 1, 10 */
    uint32_t seed;
    xb_mesu_noise_fn noise;        /* NULL: digital; else eps come from noise(noise_ctx, ...) */
    void *noise_ctx;               /* borrowed; outlives the model */
} xb_mesu_cfg;

typedef struct xb_mesu_counts {
    double steps;            /* training samples */
    double macs;             /* multiply-accumulates of forward + backward passes */
    double param_updates;    /* (mu, sigma) pairs updated */
    double normals;          /* Gaussian draws (weight samples) */
    double sigma_negative;   /* sigma values below 0 after the last step */
} xb_mesu_counts;

typedef struct xb_mesu xb_mesu;

xb_status xb_mesu_alloc(xb_mesu **out, const xb_mesu_cfg *c, xb_err *err);
void xb_mesu_free(xb_mesu *m);

/* One MESU step on one sample (batch 1, the loss summed over mc_train samples /
 * mc_train). Returns 1 if the first sampled network classified it correctly. */
int xb_mesu_step(xb_mesu *m, const float *x, unsigned label);

/* Probabilities of S weight samples for n inputs: probs[(i * S + s) * K + k]. */
void xb_mesu_sample_probs(xb_mesu *m, const float *x, size_t n, unsigned S, float *probs);
/* Classes by the mean of mc_test samples. */
void xb_mesu_predict(xb_mesu *m, const float *x, size_t n, unsigned *pred);

size_t xb_mesu_nlayers(const xb_mesu *m);
size_t xb_mesu_nparams(const xb_mesu *m, size_t l);   /* out_l * (in_l + 1) */
float *xb_mesu_mu(xb_mesu *m, size_t l);
float *xb_mesu_sigma(xb_mesu *m, size_t l);
const xb_mesu_counts *xb_mesu_counts_get(const xb_mesu *m);

/* The update rule alone, for n parameters with given gradients (tests, hardware
 * variants that compute gradients elsewhere). */
void xb_mesu_apply(const xb_mesu_cfg *c, size_t n, float *mu, float *sigma, const float *g_mu,
                   const float *g_sigma);

#endif
