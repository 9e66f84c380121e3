/* bench/w4_ood.c: out-of-distribution detection by MESU's epistemic uncertainty
 * (ALGORITHMS.md 4, "MNIST-OOD run": 784-50-10, lr 1/1, prior N(0, 0.06^2), N = 1.8e5,
 * clamp 0.1, 10 MC samples). Trains one epoch on MNIST-8000, then scores the MNIST test
 * set (in-distribution) against pixel-permuted MNIST and Fashion-MNIST test images with
 * the mutual information of 10 samples; prints ROC-AUCs (exact Mann-Whitney).
 * Usage: w4_ood [EPOCHS] [SEED] [MEMORY] */
#include <stdio.h>
#include <stdlib.h>

#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "training/xb_mesu.h"
#include "training/xb_uncertainty.h"

static double *scores(xb_mesu *m, const float *x, size_t n)
{
    enum { S = 10, K = 10, CH = 250 };
    double *sc = xb_malloc(n * sizeof *sc);
    float *p = xb_malloc(CH * S * K * sizeof(float));
    for (size_t i0 = 0; i0 < n; i0 += CH) {
        const size_t b = n - i0 < CH ? n - i0 : CH;
        xb_mesu_sample_probs(m, x + i0 * 784, b, S, p);
        for (size_t i = 0; i < b; i++) {
            xb_uncertainty u;
            xb_uncertainty_from_samples(p + i * S * K, S, K, &u);
            sc[i0 + i] = u.epistemic;
        }
    }
    xb_free(p);
    return sc;
}

int main(int argc, char **argv)
{
    const int epochs = argc > 1 ? atoi(argv[1]) : 1;
    const uint32_t seed = argc > 2 ? (uint32_t)atoi(argv[2]) : 1;
    const double memory = argc > 3 ? atof(argv[3]) : 1.8e5;
    xb_err e = {0};
    xb_dataset *tr, *te, *fte;
    if (xb_dataset_load("mnist", 0, NULL, &tr, &e) || xb_dataset_load("mnist", 1, NULL, &te, &e) ||
        xb_dataset_load("fmnist", 1, NULL, &fte, &e)) {
        fprintf(stderr, "w4_ood: %s\n", e.msg);
        return 1;
    }
    const xb_mesu_cfg c = { .nlayers = 2, .sizes = { 784, 50, 10 }, .lr_mu = 1, .lr_sigma = 1,
                            .mu_prior = 0, .sigma_prior = 0.06, .memory = memory, .clamp = 0.1,
                            .mu_init_gain = 1.4142135623730951, .sigma_init = 0.06,
                            .mc_train = 1, .mc_test = 10, .seed = seed };
    xb_mesu *m;
    if (xb_mesu_alloc(&m, &c, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    uint32_t *order = xb_malloc(tr->n * sizeof *order), perm[784];
    for (int ep = 0; ep < epochs; ep++) {
        xb_rng_permutation(seed, XB_RNG_SHUFFLE, (uint32_t)ep, tr->n, order);
        for (size_t i = 0; i < tr->n; i++) xb_mesu_step(m, tr->x + (size_t)order[i] * 784, tr->y[order[i]]);
    }
    unsigned *pred = xb_malloc(te->n * sizeof *pred);
    xb_mesu_predict(m, te->x, te->n, pred);
    size_t ok = 0;
    for (size_t i = 0; i < te->n; i++) ok += pred[i] == te->y[i];
    float *px = xb_malloc(te->n * 784 * sizeof(float));
    xb_rng_permutation(seed, XB_RNG_PERM, 999, 784, perm);
    for (size_t i = 0; i < te->n; i++)
        for (int j = 0; j < 784; j++) px[i * 784 + j] = te->x[i * 784 + perm[j]];
    double *s_in = scores(m, te->x, te->n), *s_perm = scores(m, px, te->n);
    double *s_f = scores(m, fte->x, fte->n);
    printf("{\"bench\":\"W4_mesu_ood\",\"epochs\":%d,\"seed\":%u,\"memory\":%g,\"mnist_acc\":%.4f,"
           "\"auc_permuted\":%.4f,\"auc_fmnist\":%.4f}\n", epochs, seed, memory,
           (double)ok / te->n, xb_roc_auc(s_perm, te->n, s_in, te->n),
           xb_roc_auc(s_f, fte->n, s_in, te->n));
    xb_free(s_in); xb_free(s_perm); xb_free(s_f); xb_free(px); xb_free(pred); xb_free(order);
    xb_mesu_free(m);
    xb_dataset_free(tr); xb_dataset_free(te); xb_dataset_free(fte);
    return 0;
}
