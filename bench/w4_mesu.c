/* bench/w4_mesu.c: workload W4 (BENCHMARKS.md) without the runner: MESU 784-50-10 ReLU,
 * 5 permuted MNIST-8000 tasks, batch 1, 1 epoch each, 10 MC samples at test. Prints the
 * average accuracy over seen tasks after each task and the training seconds per 1000
 * samples as JSON lines. Usage: w4_mesu [TASKS] [SAMPLES_PER_TASK] [SEED] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "training/xb_mesu.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv)
{
    const size_t T = argc > 1 ? (size_t)atoi(argv[1]) : 5;
    size_t per = argc > 2 ? (size_t)atoi(argv[2]) : 0;
    const uint32_t seed = argc > 3 ? (uint32_t)atoi(argv[3]) : 1;
    xb_err e = {0};
    xb_dataset *tr, *te;
    if (xb_dataset_load("mnist", 0, NULL, &tr, &e) || xb_dataset_load("mnist", 1, NULL, &te, &e)) {
        fprintf(stderr, "w4_mesu: %s\n", e.msg);
        return 1;
    }
    if (!per || per > tr->n) per = tr->n;
    xb_taskset *ts;
    if (xb_taskset_permuted(tr, te, T, seed, 0, &ts, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    const xb_mesu_cfg c = { .nlayers = 2, .sizes = { 784, 50, 10 }, .lr_mu = 1, .lr_sigma = 1,
                            .mu_prior = 0, .sigma_prior = 1, .memory = 3e5, .clamp = 0,
                            .mu_init_gain = 1.4142135623730951, .sigma_init = 0.1,
                            .mc_train = 1, .mc_test = 10, .seed = seed };
    xb_mesu *m;
    if (xb_mesu_alloc(&m, &c, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
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
            xb_mesu_step(m, xi, lab);
        }
        train_s += now() - t0;
        trained += per;
        double avg = 0;
        for (size_t j = 0; j <= t; j++) {
            for (size_t i = 0; i < te->n; i++) xb_task_sample(&ts->t[j], 1, i, x + i * 784, NULL);
            xb_mesu_predict(m, x, te->n, pred);
            size_t ok = 0;
            for (size_t i = 0; i < te->n; i++) ok += pred[i] == te->y[i];
            avg += (double)ok / te->n;
        }
        printf("{\"bench\":\"W4_mesu\",\"task\":%zu,\"avg_acc\":%.4f,\"s_per_1000\":%.4f}\n", t + 1,
               avg / (t + 1), 1000 * train_s / trained);
        fflush(stdout);
    }
    xb_free(x); xb_free(pred); xb_free(order);
    xb_mesu_free(m);
    xb_taskset_free(ts);
    xb_dataset_free(tr); xb_dataset_free(te);
    return 0;
}
