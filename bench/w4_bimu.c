/* bench/w4_bimu.c: BiMU 784-100-10 on permuted MNIST-8000 (batch 1, 5 MC samples),
 * inputs standardised with the MNIST mean and sd (0.1307, 0.3081). Prints average
 * accuracy over seen tasks, queried fraction and seconds per 1000 training samples.
 * Usage: w4_bimu [TASKS] [SAMPLES_PER_TASK] [SEED] [QUERY_THRESHOLD] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "training/xb_bimu.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void standardise(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (x[i] - 0.1307f) / 0.3081f;
}

int main(int argc, char **argv)
{
    const size_t T = argc > 1 ? (size_t)atoi(argv[1]) : 3;
    size_t per = argc > 2 ? (size_t)atoi(argv[2]) : 0;
    const uint32_t seed = argc > 3 ? (uint32_t)atoi(argv[3]) : 1;
    const double qth = argc > 4 ? atof(argv[4]) : 0;
    xb_err e = {0};
    xb_dataset *tr, *te;
    if (xb_dataset_load("mnist", 0, NULL, &tr, &e) || xb_dataset_load("mnist", 1, NULL, &te, &e)) {
        fprintf(stderr, "w4_bimu: %s\n", e.msg);
        return 1;
    }
    if (!per || per > tr->n) per = tr->n;
    xb_taskset *ts;
    if (xb_taskset_permuted(tr, te, T, seed, 0, &ts, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    const xb_bimu_cfg c = { .nlayers = 2, .sizes = { 784, 100, 10 }, .kl = 161.3, .kkl = 3.76,
                            .lr_max = 0.0023, .memory = 700, .eta = 4.9, .tau = 1,
                            .lambda_init = 0.1, .mc_train = 5, .mc_test = 5,
                            .query_threshold = qth, .seed = seed };
    xb_bimu *b;
    if (xb_bimu_alloc(&b, &c, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    float *x = xb_malloc(te->n * 784 * sizeof(float));
    unsigned *pred = xb_malloc(te->n * sizeof(unsigned)), lab;
    uint32_t *order = xb_malloc(tr->n * sizeof(uint32_t));
    double train_s = 0;
    size_t trained = 0;
    for (size_t t = 0; t < T; t++) {
        xb_rng_permutation(seed, XB_RNG_SHUFFLE, (uint32_t)t, tr->n, order);
        float xi[784];
        const double t0 = now();
        for (size_t i = 0; i < per; i++) {
            xb_task_sample(&ts->t[t], 0, order[i], xi, &lab);
            standardise(xi, 784);
            xb_bimu_step(b, xi, lab);
        }
        train_s += now() - t0;
        trained += per;
        double avg = 0;
        for (size_t j = 0; j <= t; j++) {
            for (size_t i = 0; i < te->n; i++) xb_task_sample(&ts->t[j], 1, i, x + i * 784, NULL);
            standardise(x, te->n * 784);
            xb_bimu_predict(b, x, te->n, pred);
            size_t ok = 0;
            for (size_t i = 0; i < te->n; i++) ok += pred[i] == te->y[i];
            avg += (double)ok / te->n;
        }
        printf("{\"bench\":\"W4_bimu\",\"task\":%zu,\"avg_acc\":%.4f,\"queried\":%.4f,\"s_per_1000\":%.4f}\n",
               t + 1, avg / (t + 1), xb_bimu_counts_get(b)->queried / xb_bimu_counts_get(b)->steps,
               1000 * train_s / trained);
        fflush(stdout);
    }
    xb_free(x); xb_free(pred); xb_free(order);
    xb_bimu_free(b);
    xb_taskset_free(ts);
    xb_dataset_free(tr); xb_dataset_free(te);
    return 0;
}
