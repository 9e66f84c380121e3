/* bench/eqprop.c: W3 speed, one epoch of the eqprop trainer on MNIST-8000 (or the
 * config given), timed as ../shared/ref/eqprop.py times it: the training loop of one
 * epoch (shuffle excluded), wall and process CPU seconds; then where the time goes
 * (drive W_0 x, relaxation, W_0 update, the rest) from a second epoch run phase by
 * phase with the same kernels. One JSON line.
 *
 *   build/rel/bench/eqprop [CONFIG.ini] [--threads N] [--epochs E] [--blas] [--no-skip]
 * --blas forces the plain sgemm paths (the baseline the kernels replace); --no-skip makes
 * the fused relaxation add the terms of zero outputs too (same bits, for timing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xb_config.h"
#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "experiments/xb_configs.h"
#include "training/xb_eqprop.h"
#include "training/xb_trainer.h"

xb_ep *xb_eqprop_net(void *state);

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *cfgpath = NULL;
    int threads = 1, blas = 0, epochs = 1, noskip = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--blas")) blas = 1;
        else if (!strcmp(argv[i], "--no-skip")) noskip = 1;
        else cfgpath = argv[i];
    }
    xb_err err = {0};
    xb_config *c = xb_config_alloc();
    xb_status st;
    if (cfgpath) st = xb_config_load(c, cfgpath, &err);
    else {
        const char *text = xb_embedded_config_text("w3_eqprop");
        st = text ? xb_config_load_string(c, text, "w3_eqprop.ini", &err)
                  : xb_fail(&err, XB_EINVAL, "no embedded w3_eqprop");
    }
    xb_net_spec net;
    const xb_trainer_type *T;
    double train[XB_TRAIN_NPARAMS], own[64];
    if (!st) st = xb_trainer_config(c, &net, &T, train, own, &err);
    char dir[1024];
    xb_dataset *d = NULL;
    const char *dsname = xb_config_str(c, "data", "dataset", "mnist");
    if (!st && xb_data_dir(NULL, dir, sizeof dir)) st = xb_fail(&err, XB_EIO, "no data directory");
    if (!st) st = xb_dataset_load(dsname, 0, dir, &d, &err);
    void *tr = NULL;
    xb_trainer_setup su = { .cfg = c, .net = net, .train = train, .own = own, .seed = 1 };
    xb_par_set_budget(threads);
    xb_par_blas_threads(threads);
    if (!st) st = T->alloc(&tr, &su, &err);
    if (st) { fprintf(stderr, "bench/eqprop: %s\n", err.msg); return 1; }
    xb_ep *e = xb_eqprop_net(tr);
    e->use_blas = blas;
    e->no_skip = noskip;
    const size_t n = d->n, dim = d->dim, B = (size_t)train[XB_TRAIN_BATCH];
    uint32_t *order = xb_malloc(n * sizeof *order);
    float *xb = xb_malloc(B * dim * sizeof(float));
    unsigned *lb = xb_malloc(B * sizeof(unsigned));
    double wall = 0, cpu = 0;
    size_t correct = 0;
    for (int ep = 1; ep <= epochs; ep++) {
        xb_rng_permutation(1, XB_RNG_SHUFFLE, (uint32_t)ep, n, order);
        const double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        for (size_t i = 0; i + B <= n; i += B) {
            for (size_t s = 0; s < B; s++) {
                memcpy(xb + s * dim, d->x + order[i + s] * dim, dim * sizeof(float));
                lb[s] = d->y[order[i + s]];
            }
            correct += T->step(tr, xb, lb, B);
        }
        wall = now(CLOCK_MONOTONIC) - w0;          /* the last epoch's */
        cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    /* test accuracy after the timed epochs (evaluation is not timed) */
    xb_dataset *dt = NULL;
    double test_acc = -1;
    if (xb_dataset_load(dsname, 1, dir, &dt, &err) == XB_OK) {
        unsigned *pred = xb_malloc(dt->n * sizeof(unsigned));
        size_t ok = 0;
        for (size_t i = 0; i < dt->n; i += 256) {
            const size_t m = dt->n - i < 256 ? dt->n - i : 256;
            T->predict(tr, dt->x + i * dim, m, pred + i);
        }
        for (size_t i = 0; i < dt->n; i++) ok += pred[i] == dt->y[i];
        test_acc = (double)ok / (double)dt->n;
        xb_free(pred);
        xb_dataset_free(dt);
    }
    /* where the time goes: one more epoch phase by phase (one-sided update) */
    xb_ep_state s0, sp;
    xb_ep_state_alloc(e, &s0, &err);
    xb_ep_state_alloc(e, &sp, &err);
    float *y = xb_calloc(B * e->n[e->L], sizeof(float));
    double t[4] = {0};
    const float cc[XB_NET_MAX_LAYERS] = { 1e-9f, 1e-9f, 1e-9f, 1e-9f, 1e-9f, 1e-9f, 1e-9f, 1e-9f };
    const size_t TT = (size_t)own[1], KK = (size_t)own[2];
    for (size_t i = 0; i + B <= n; i += B) {
        for (size_t s = 0; s < B; s++) {
            memcpy(xb + s * dim, d->x + order[i + s] * dim, dim * sizeof(float));
            y[s * e->n[e->L] + d->y[order[i + s]]] = 1.0f;
        }
        double a = now(CLOCK_PROCESS_CPUTIME_ID);
        xb_ep_drive(e, xb, B);
        double b = now(CLOCK_PROCESS_CPUTIME_ID); t[0] += b - a; a = b;
        xb_ep_state_zero(e, &s0, B);
        xb_ep_relax(e, &s0, B, TT, 0.0f, NULL, 1.0f);
        xb_ep_state_copy(e, &sp, &s0, B);
        xb_ep_relax(e, &sp, B, KK, 0.5f, y, 1.0f);
        b = now(CLOCK_PROCESS_CPUTIME_ID); t[1] += b - a; a = b;
        xb_ep_accumulate(e, xb, B, &sp, &s0, cc, e->W, e->b);
        b = now(CLOCK_PROCESS_CPUTIME_ID); t[2] += b - a;
        memset(y, 0, B * e->n[e->L] * sizeof(float));
    }
    printf("{\"bench\":\"W3_eqprop\",\"config\":\"%s\",\"threads\":%d,\"path\":\"%s\",\"epochs\":%d,"
           "\"epoch_s\":%.4f,\"epoch_cpu_s\":%.4f,\"train_acc\":%.4f,\"test_acc\":%.4f,\"prof_drive_cpu_s\":%.4f,"
           "\"prof_relax_cpu_s\":%.4f,\"prof_update_cpu_s\":%.4f}\n",
           cfgpath ? cfgpath : "w3_eqprop", threads, blas ? "blas" : e->kern->name, epochs, wall,
           cpu, (double)correct / (double)(epochs * (n / B) * B), test_acc, t[0], t[1], t[2]);
    xb_ep_state_free(&s0); xb_ep_state_free(&sp);
    xb_free(y); xb_free(order); xb_free(xb); xb_free(lb);
    T->free(tr);
    xb_dataset_free(d);
    xb_config_free(c);
    return 0;
}
