/* bench/train/w4_wakeup.c: uncertainty-triggered wake-up (ALGORITHMS.md 8) with our own
 * ledgers. Front end: MESU 784-50-10 (10 MC samples, W4 settings) trained one epoch on
 * MNIST-8000; back end: an exact-SGD MLP 784-256-128-10 (ReLU, lr 0.02, 5 epochs). On the
 * MNIST test set the front end's epistemic uncertainty (mutual information) is the wake
 * score; the threshold tau sweeps the score's quantiles. Energies per inference from the
 * [energy] defaults (Horowitz 45 nm): front = 10 x (MACs x (fp32 mult + add) + 32 random
 * bits per weight), back = MACs x (mult + add) + one 1 MB SRAM access per 2 weights;
 * E_wake = 1 nJ (unverified: interface + CPU wake-up). One JSON line per tau.
 * Usage: w4_wakeup [SEED] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "crossbar/xb_energy.h"
#include "training/xb_mesu.h"
#include "training/xb_net.h"
#include "training/xb_uncertainty.h"
#include "training/xb_wakeup.h"

static int cmpd(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const uint32_t seed = argc > 1 ? (uint32_t)atoi(argv[1]) : 1;
    xb_err e = {0};
    xb_dataset *tr, *te;
    if (xb_dataset_load("mnist", 0, NULL, &tr, &e) || xb_dataset_load("mnist", 1, NULL, &te, &e)) {
        fprintf(stderr, "w4_wakeup: %s\n", e.msg);
        return 1;
    }
    const size_t n = te->n;
    uint32_t *order = xb_malloc(tr->n * sizeof *order);
    /* front end */
    const xb_mesu_cfg c = { .nlayers = 2, .sizes = { 784, 50, 10 }, .lr_mu = 1, .lr_sigma = 1,
                            .sigma_prior = 1, .memory = 3e5, .mu_init_gain = 1.4142135623730951,
                            .sigma_init = 0.1, .mc_train = 1, .mc_test = 10, .seed = seed };
    xb_mesu *m;
    if (xb_mesu_alloc(&m, &c, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    xb_rng_permutation(seed, XB_RNG_SHUFFLE, 0, tr->n, order);
    for (size_t i = 0; i < tr->n; i++) xb_mesu_step(m, tr->x + (size_t)order[i] * 784, tr->y[order[i]]);
    enum { S = 10, K = 10 };
    float *p = xb_malloc(n * S * K * sizeof(float));
    xb_mesu_sample_probs(m, te->x, n, S, p);
    double *score = xb_malloc(n * sizeof *score), *sorted = xb_malloc(n * sizeof *sorted);
    unsigned char *fok = xb_malloc(n), *bok = xb_malloc(n);
    for (size_t i = 0; i < n; i++) {
        xb_uncertainty u;
        xb_uncertainty_from_samples(p + i * S * K, S, K, &u);
        score[i] = sorted[i] = u.epistemic;
        fok[i] = u.pred == te->y[i];
    }
    /* back end */
    xb_net_spec spec;
    xb_net *net;
    if (xb_net_parse_layers("784-256-128-10", &spec, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    spec.act = XB_ACT_RELU;
    spec.init = XB_INIT_UNIFORM_FANIN;
    if (xb_net_alloc(&net, &spec, seed, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    for (int ep = 0; ep < 5; ep++) {
        xb_rng_permutation(seed, XB_RNG_SHUFFLE, 100 + (uint32_t)ep, tr->n, order);
        for (size_t i = 0; i < tr->n; i++) {
            xb_net_forward(net, tr->x + (size_t)order[i] * 784, 1);
            xb_net_backward(net, tr->y[order[i]]);
            xb_net_sgd_update(net, 0.02f);
        }
    }
    unsigned *pred = xb_malloc(n * sizeof *pred);
    xb_net_predict(net, te->x, n, pred);
    for (size_t i = 0; i < n; i++) bok[i] = pred[i] == te->y[i];
    /* energies per inference */
    xb_energy_units u;
    xb_energy_units_init(&u, NULL);
    const double mac = u.op[XB_E_FP32_MULT] + u.op[XB_E_FP32_ADD];
    const double wf = 50.0 * 785 + 10.0 * 51, wb = 256.0 * 785 + 128.0 * 257 + 10.0 * 129;
    const double e_front = S * (wf * mac + 32 * wf * u.op[XB_E_RNG]);
    const double e_back = wb * mac + wb / 2 * u.op[XB_E_SRAM1M], e_wake = 1e-9;
    qsort(sorted, n, sizeof *sorted, cmpd);
    const double qs[] = { 0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0 };
    for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
        const double tau = qs[k] >= 1.0 ? INFINITY : sorted[(size_t)(qs[k] * (n - 1))];
        const xb_wakeup_point w = xb_wakeup_eval(score, fok, bok, NULL, n, tau, e_front, e_wake, e_back);
        printf("{\"bench\":\"W4_wakeup\",\"seed\":%u,\"tau_quantile\":%.2f,\"tau\":%.4g,\"f_wake\":%.4f,"
               "\"accuracy\":%.4f,\"energy_J\":%.4g,\"front_acc\":%.4f,\"back_acc\":%.4f,"
               "\"e_front_J\":%.4g,\"e_back_J\":%.4g}\n", seed, qs[k], tau, w.f_wake, w.accuracy,
               w.energy, xb_wakeup_eval(score, fok, bok, NULL, n, INFINITY, 0, 0, 0).accuracy,
               xb_wakeup_eval(score, fok, bok, NULL, n, -INFINITY, 0, 0, 0).accuracy, e_front, e_back);
    }
    xb_free(p); xb_free(score); xb_free(sorted); xb_free(fok); xb_free(bok); xb_free(pred);
    xb_free(order);
    xb_net_free(net);
    xb_mesu_free(m);
    xb_dataset_free(tr); xb_dataset_free(te);
    return 0;
}
