/* bench/eqprop_cos.c: quality of the EP gradient estimate on the W3 net. Trains the
 * brief preset (or CONFIG) for --epochs E on MNIST-8000, then on --batches NB batches of
 * 20 training samples compares the EP estimate (one-sided and symmetric, several beta)
 * with the gradient of L = 1/(2B) sum ||y - o_T||^2 computed by backpropagation through
 * time of the same T-step free phase (hard sigmoid: rho' = 1 inside (0, 1), else 0),
 * here in double and independent of the library's kernels. Prints one JSON line per
 * (variant, beta): mean over batches of the cosine similarity per layer and overall.
 * One-hidden-layer nets only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_config.h"
#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "experiments/xb_configs.h"
#include "training/xb_eqprop.h"
#include "training/xb_trainer.h"

xb_ep *xb_eqprop_net(void *state);

/* dL/dtheta by BPTT of T synchronous steps from zeros; g0: n0 x n1 (W_0 layout),
 * g1: n2 x n1, gb0: n1, gb1: n2; summed over the batch (L has the 1/B). */
static void bptt(const xb_ep *e, const float *x, const float *y, size_t B, size_t T, double *g0,
                 double *g1, double *gb0, double *gb1)
{
    const size_t n0 = e->n[0], n1 = e->n[1], n2 = e->n[2];
    double *h = xb_calloc((T + 1) * n1, sizeof(double)), *o = xb_calloc((T + 1) * n2, sizeof(double));
    double *ah = xb_calloc((T + 1) * n1, sizeof(double)), *ao = xb_calloc((T + 1) * n2, sizeof(double));
    double *drv = xb_malloc(n1 * sizeof(double)), *gh = xb_malloc(n1 * sizeof(double));
    double *go = xb_malloc(n2 * sizeof(double)), *dh = xb_malloc(n1 * sizeof(double));
    double *dd = xb_malloc(n1 * sizeof(double)), *gh2 = xb_malloc(n1 * sizeof(double));
    double go2[64], dop[64];
    const float *W0 = e->W[0], *W1 = e->W[1];
    for (size_t k = 0; k < B; k++) {
        const float *xk = x + k * n0;
        for (size_t j = 0; j < n1; j++) {
            double a = e->b[0][j];
            for (size_t p = 0; p < n0; p++) a += (double)xk[p] * W0[p * n1 + j];
            drv[j] = a;
        }
        for (size_t t = 1; t <= T; t++) {
            const double *hp = h + (t - 1) * n1, *op = o + (t - 1) * n2;
            for (size_t j = 0; j < n1; j++) {
                double a = drv[j];
                for (size_t c = 0; c < n2; c++) a += W1[c * n1 + j] * op[c];
                ah[t * n1 + j] = a;
                h[t * n1 + j] = a < 0 ? 0 : a > 1 ? 1 : a;
            }
            for (size_t c = 0; c < n2; c++) {
                double a = e->b[1][c];
                for (size_t j = 0; j < n1; j++) a += W1[c * n1 + j] * hp[j];
                ao[t * n2 + c] = a;
                o[t * n2 + c] = a < 0 ? 0 : a > 1 ? 1 : a;
            }
        }
        for (size_t c = 0; c < n2; c++) go[c] = -(y[k * n2 + c] - o[T * n2 + c]) / (double)B;
        memset(gh, 0, n1 * sizeof(double));
        memset(dd, 0, n1 * sizeof(double));
        for (size_t t = T; t >= 1; t--) {
            const double *hp = h + (t - 1) * n1, *op = o + (t - 1) * n2;
            for (size_t c = 0; c < n2; c++) {
                const double a = ao[t * n2 + c];
                dop[c] = a > 0 && a < 1 ? go[c] : 0;
            }
            for (size_t j = 0; j < n1; j++) {
                const double a = ah[t * n1 + j];
                dh[j] = a > 0 && a < 1 ? gh[j] : 0;
                dd[j] += dh[j];
            }
            for (size_t c = 0; c < n2; c++) {
                gb1[c] += dop[c];
                double s = 0;
                for (size_t j = 0; j < n1; j++) {
                    g1[c * n1 + j] += dop[c] * hp[j] + op[c] * dh[j];
                    s += W1[c * n1 + j] * dh[j];
                }
                go2[c] = s;                       /* dL/do_{t-1} through a_h,t */
            }
            for (size_t j = 0; j < n1; j++) {
                double s = 0;
                for (size_t c = 0; c < n2; c++) s += W1[c * n1 + j] * dop[c];
                gh2[j] = s;                       /* dL/dh_{t-1} through a_o,t */
            }
            memcpy(go, go2, n2 * sizeof(double));
            memcpy(gh, gh2, n1 * sizeof(double));
        }
        for (size_t j = 0; j < n1; j++) gb0[j] += dd[j];
        for (size_t p = 0; p < n0; p++)
            if (xk[p] != 0.0f)
                for (size_t j = 0; j < n1; j++) g0[p * n1 + j] += xk[p] * dd[j];
    }
    xb_free(h); xb_free(o); xb_free(ah); xb_free(ao); xb_free(drv); xb_free(gh); xb_free(go);
    xb_free(dh); xb_free(dd); xb_free(gh2);
}

static double cosine(const float *a, const double *g, size_t n, double *dot, double *na, double *ng)
{
    double d = 0, x = 0, z = 0;
    for (size_t i = 0; i < n; i++) { d -= a[i] * g[i]; x += (double)a[i] * a[i]; z += g[i] * g[i]; }
    *dot += d; *na += x; *ng += z;
    return d / sqrt(x * z);
}

int main(int argc, char **argv)
{
    const char *cfgpath = NULL;
    int epochs = 1, nbatches = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) nbatches = atoi(argv[++i]);
        else cfgpath = argv[i];
    }
    xb_err err = {0};
    xb_config *c = xb_config_alloc();
    xb_status st = cfgpath ? xb_config_load(c, cfgpath, &err)
                           : xb_config_load_string(c, xb_embedded_config_text("w3_eqprop"),
                                                   "w3_eqprop.ini", &err);
    xb_net_spec net;
    const xb_trainer_type *T;
    double train[XB_TRAIN_NPARAMS], own[64];
    if (!st) st = xb_trainer_config(c, &net, &T, train, own, &err);
    char dir[1024];
    xb_dataset *d = NULL;
    if (!st && xb_data_dir(NULL, dir, sizeof dir)) st = xb_fail(&err, XB_EIO, "no data directory");
    if (!st) st = xb_dataset_load(xb_config_str(c, "data", "dataset", "mnist"), 0, dir, &d, &err);
    void *tr = NULL;
    xb_trainer_setup su = { .cfg = c, .net = net, .train = train, .own = own, .seed = 1 };
    xb_par_set_budget(1);
    if (!st) st = T->alloc(&tr, &su, &err);
    if (!st && net.nlayers != 2) st = xb_fail(&err, XB_EINVAL, "one hidden layer only");
    if (st) { fprintf(stderr, "bench/eqprop_cos: %s\n", err.msg); return 1; }
    xb_ep *e = xb_eqprop_net(tr);
    const size_t n = d->n, dim = d->dim, B = 20, n0 = e->n[0], n1 = e->n[1], n2 = e->n[2];
    const size_t TT = (size_t)own[1], KK = (size_t)own[2];
    uint32_t *order = xb_malloc(n * sizeof *order);
    float *xb = xb_malloc(B * dim * sizeof(float)), *y = xb_calloc(B * n2, sizeof(float));
    unsigned lb[20];
    for (int ep = 1; ep <= epochs; ep++) {
        xb_rng_permutation(1, XB_RNG_SHUFFLE, (uint32_t)ep, n, order);
        for (size_t i = 0; i + B <= n; i += B) {
            for (size_t s = 0; s < B; s++) {
                memcpy(xb + s * dim, d->x + order[i + s] * dim, dim * sizeof(float));
                lb[s] = d->y[order[i + s]];
            }
            T->step(tr, xb, lb, B);
        }
    }
    const float betas[] = { 0.5f, 0.2f, 0.1f, 0.05f, 0.01f };
    enum { NBETA = 5 };
    double cs[2][NBETA][3] = {{{0}}};
    double *g0 = xb_malloc(n0 * n1 * sizeof(double)), *g1 = xb_malloc(n2 * n1 * sizeof(double));
    double gb0[4096], gb1[64];
    float *e0 = xb_malloc(n0 * n1 * sizeof(float)), *e1 = xb_malloc(n2 * n1 * sizeof(float));
    float eb0[4096], eb1[64];
    xb_ep_state s0, sp, sm;
    xb_ep_state_alloc(e, &s0, &err); xb_ep_state_alloc(e, &sp, &err); xb_ep_state_alloc(e, &sm, &err);
    xb_rng_permutation(1, XB_RNG_SHUFFLE, 99999, n, order);
    for (int bt = 0; bt < nbatches; bt++) {
        memset(y, 0, B * n2 * sizeof(float));
        for (size_t s = 0; s < B; s++) {
            memcpy(xb + s * dim, d->x + order[bt * B + s] * dim, dim * sizeof(float));
            y[s * n2 + d->y[order[bt * B + s]]] = 1.0f;
        }
        memset(g0, 0, n0 * n1 * sizeof(double)); memset(g1, 0, n2 * n1 * sizeof(double));
        memset(gb0, 0, sizeof gb0); memset(gb1, 0, sizeof gb1);
        bptt(e, xb, y, B, TT, g0, g1, gb0, gb1);
        for (int sym = 0; sym < 2; sym++)
            for (int ib = 0; ib < NBETA; ib++) {
                const float beta = betas[ib];
                memset(e0, 0, n0 * n1 * sizeof(float)); memset(e1, 0, n2 * n1 * sizeof(float));
                memset(eb0, 0, sizeof eb0); memset(eb1, 0, sizeof eb1);
                xb_ep_drive(e, xb, B);
                xb_ep_state_zero(e, &s0, B);
                xb_ep_relax(e, &s0, B, TT, 0.0f, NULL, 1.0f);
                xb_ep_state_copy(e, &sp, &s0, B);
                xb_ep_relax(e, &sp, B, KK, beta, y, 1.0f);
                const xb_ep_state *ref = &s0;
                float cc = 1.0f / (beta * B);
                if (sym) {
                    xb_ep_state_copy(e, &sm, &s0, B);
                    xb_ep_relax(e, &sm, B, KK, -beta, y, 1.0f);
                    ref = &sm;
                    cc = 1.0f / (2 * beta * B);
                }
                const float cv[2] = { cc, cc };
                float *gw[2] = { e0, e1 }, *gbb[2] = { eb0, eb1 };
                xb_ep_accumulate(e, xb, B, &sp, ref, cv, gw, gbb);
                double dot = 0, na = 0, ng = 0;
                cs[sym][ib][0] += cosine(e0, g0, n0 * n1, &dot, &na, &ng) / nbatches;
                cs[sym][ib][1] += cosine(e1, g1, n2 * n1, &dot, &na, &ng) / nbatches;
                double t0 = 0, t1 = 0, t2 = 0;
                cosine(eb0, gb0, n1, &t0, &t1, &t2);
                cosine(eb1, gb1, n2, &t0, &t1, &t2);
                cs[sym][ib][2] += (dot + t0) / sqrt((na + t1) * (ng + t2)) / nbatches;
            }
    }
    for (int sym = 0; sym < 2; sym++)
        for (int ib = 0; ib < NBETA; ib++)
            printf("{\"bench\":\"W3_eqprop_cosine\",\"config\":\"%s\",\"epochs_trained\":%d,"
                   "\"batches\":%d,\"T\":%zu,\"K\":%zu,\"variant\":\"%s\",\"beta\":%g,"
                   "\"cos_W0\":%.4f,\"cos_W1\":%.4f,\"cos_all\":%.4f}\n",
                   cfgpath ? cfgpath : "w3_eqprop", epochs, nbatches, TT, KK,
                   sym ? "symmetric" : "onesided", betas[ib], cs[sym][ib][0], cs[sym][ib][1],
                   cs[sym][ib][2]);
    xb_ep_state_free(&s0); xb_ep_state_free(&sp); xb_ep_state_free(&sm);
    xb_free(g0); xb_free(g1); xb_free(e0); xb_free(e1); xb_free(order); xb_free(xb); xb_free(y);
    T->free(tr);
    xb_dataset_free(d);
    xb_config_free(c);
    return 0;
}
