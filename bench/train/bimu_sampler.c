/* bench/train/bimu_sampler.c: BiMU's binary weight samples drawn digitally (Philox) or by
 * stochastic ST-MRAM writes (training/xb_bimu.h), on one trained posterior.
 * Trains BiMU 784-100-10 (ALGORITHMS.md 5 defaults, digital sampling, inputs
 * standardised) for EPOCHS on MNIST-8000, then evaluates the same lambda on the 2,000
 * test images with S = 5 hard samples from: digital; stmram calibrated (each cell's own
 * law inverted); stmram nominal (the nominal law inverted, cells with the default 5 %
 * D2D spread). Prints accuracy, expected sampling energy per inference (S full weight
 * samples), mean write current, and mean |P(+1) - sigmoid(2 lambda)| over the weights.
 * Usage: bimu_sampler [EPOCHS] [SEED] [TRAIN_LIMIT] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "core/xb_param.h"
#include "core/xb_rng.h"
#include "crossbar/xb_energy.h"
#include "devices/xb_device.h"
#include "training/xb_bimu.h"

static void standardize(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (x[i] - 0.1307f) / 0.3081f;
}

static double accuracy(xb_bimu *b, const xb_dataset *te, const float *x)
{
    unsigned *pred = xb_malloc(te->n * sizeof *pred);
    xb_bimu_predict(b, x, te->n, pred);
    size_t ok = 0;
    for (size_t i = 0; i < te->n; i++) ok += pred[i] == te->y[i];
    xb_free(pred);
    return (double)ok / te->n;
}

static void stats(xb_bimu *b, const size_t *np, double *cur, double *dev)
{
    double sc = 0, sd = 0, n = 0;
    for (size_t l = 0; l < 2; l++) {
        const float *lam = xb_bimu_lambda(b, l);
        for (size_t i = 0; i < np[l]; i++) {
            double c;
            const double p = xb_bimu_p_plus(b, l, i, &c);
            sc += c;
            sd += fabs(p - 1 / (1 + exp(-2.0 * lam[i])));
            n += 1;
        }
    }
    *cur = sc / n;
    *dev = sd / n;
}

int main(int argc, char **argv)
{
    const int epochs = argc > 1 ? atoi(argv[1]) : 1;
    const uint32_t seed = argc > 2 ? (uint32_t)atoi(argv[2]) : 1;
    const size_t limit = argc > 3 ? (size_t)atol(argv[3]) : 0;
    xb_err e = {0};
    xb_dataset *tr, *te;
    if (xb_dataset_load("mnist", 0, NULL, &tr, &e) || xb_dataset_load("mnist", 1, NULL, &te, &e)) {
        fprintf(stderr, "bimu_sampler: %s\n", e.msg);
        return 1;
    }
    const size_t ntr = limit && limit < tr->n ? limit : tr->n;
    standardize(tr->x, tr->n * 784);
    standardize(te->x, te->n * 784);
    const xb_bimu_cfg c = { .nlayers = 2, .sizes = { 784, 100, 10 }, .kl = 161.3, .kkl = 3.76,
                            .lr_max = 0.0023, .memory = 700, .eta = 4.9, .tau = 1,
                            .lambda_init = 0.1, .mc_train = 5, .mc_test = 5, .seed = seed };
    const size_t np[2] = { 784 * 100, 100 * 10 };
    xb_bimu *b;
    if (xb_bimu_alloc(&b, &c, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    uint32_t *order = xb_malloc(tr->n * sizeof *order);
    for (int ep = 0; ep < epochs; ep++) {
        xb_rng_permutation(seed, XB_RNG_SHUFFLE, (uint32_t)ep, tr->n, order);
        size_t k = 0;
        for (size_t i = 0; i < tr->n && k < ntr; i++)
            if (!limit || order[i] < ntr) {
                xb_bimu_step(b, tr->x + (size_t)order[i] * 784, tr->y[order[i]]);
                k++;
            }
    }
    xb_energy_units u;
    xb_energy_units_init(&u, NULL);
    const xb_device_type *D = xb_device_find("stmram");
    double dev[64];
    xb_param_defaults(D->params, D->nparams, dev);
    const char *names[3] = { "digital", "stmram_calibrated", "stmram_nominal" };
    printf("{\"bench\":\"bimu_sampler\",\"epochs\":%d,\"seed\":%u,\"train\":%zu,\"S\":%u,\"results\":[",
           epochs, seed, ntr, c.mc_test);
    for (int k = 0; k < 3; k++) {
        const xb_bimu_sampler smp = { .kind = k ? XB_BIMU_SAMPLER_STMRAM : XB_BIMU_SAMPLER_DIGITAL,
                                      .calibrated = k == 1, .dev = dev };
        if (xb_bimu_set_sampler(b, &smp, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        double acc[3];
        for (int r = 0; r < 3; r++) acc[r] = accuracy(b, te, te->x);   /* fresh samples each */
        double cur, dv;
        stats(b, np, &cur, &dv);
        printf("%s{\"sampler\":\"%s\",\"acc\":[%.4f,%.4f,%.4f],\"J_per_inference\":%.4g,"
               "\"mean_current_A\":%.4g,\"mean_abs_dP\":%.3g}", k ? "," : "", names[k], acc[0], acc[1],
               acc[2], c.mc_test * xb_bimu_sample_energy(b, u.e_rng_bit), cur, dv);
    }
    printf("]}\n");
    xb_free(order);
    xb_bimu_free(b);
    xb_dataset_free(tr); xb_dataset_free(te);
    return 0;
}
