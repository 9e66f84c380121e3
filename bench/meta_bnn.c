/* bench/meta_bnn.c: W2 (BENCHMARKS.md) driver and micro-benchmark for training/xb_meta_bnn.h.
 *
 * No arguments (what `make bench` runs): the binary x binary product of W2's second
 * layer (batch 100, 1024 x 1024) as XNOR-popcount vs cblas_sgemm on the same +-1
 * matrices, one JSON line.
 *
 * --w2 [options]: the schedule of ../shared/ref/meta_bnn.py: task 1 then task 2
 * (MNIST-8000 then Fashion-MNIST by default), batch 100, evaluation of every task
 * seen at the end of each task (and every --eval-every epochs), with the saved
 * BatchNorm state of earlier tasks; one JSON line per evaluation and one per task end
 * with |W_h| statistics; s/epoch is the wall time of the training loop (shuffle,
 * forward, backward, update), evaluation excluded, as in the reference; epoch_cpu_s
 * the CPU time of the process over the same interval (less sensitive to a busy machine).
 *   --meta M --lr LR --decay D --seed S --hidden H (both hidden layers)
 *   --epochs1 N --epochs2 N --order mnist,fmnist --eval-every K --threads T
 *   --packed 0|1 --ber-write P --ber-read P
 *   --pmnist T: T permuted-MNIST tasks of --epochs1 epochs instead (task 1 unpermuted)
 *   --ber-sweep: after training, test accuracy of task 1 vs BER 1e-6..1e-1 (write
 *     errors programmed once into the stored bits; read errors drawn per read) */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "training/xb_meta_bnn.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int micro(void)
{
    enum { B = 100, N = 1024, REP = 30 };
    float *a = xb_malloc((size_t)B * N * sizeof(float)), *w = xb_malloc((size_t)N * N * sizeof(float));
    float *z = xb_malloc((size_t)B * N * sizeof(float));
    uint64_t *ap = xb_malloc((size_t)B * (N / 64) * 8), *wp = xb_malloc((size_t)N * (N / 64) * 8);
    if (!a || !w || !z || !ap || !wp) return 1;
    const xb_rng g = xb_rng_for_row(1, XB_RNG_TEST, 0, 0, 0);
    xb_rng_fill_uniform(&g, 0, (size_t)B * N, a);
    xb_rng_fill_uniform(&g, 1, (size_t)N * N, w);
    for (size_t k = 0; k < (size_t)B * N; k++) a[k] = a[k] < 0.5f ? -1.0f : 1.0f;
    for (size_t k = 0; k < (size_t)N * N; k++) w[k] = w[k] < 0.5f ? -1.0f : 1.0f;
    xb_mbnn_pack(w, N, N, wp);
    double tx[REP], ts[REP];
    for (int r = 0; r < REP; r++) {
        double t0 = now_s();
        xb_mbnn_pack(a, B, N, ap);
        xb_mbnn_xnor_gemm(ap, B, wp, N, N, z);
        tx[r] = now_s() - t0;
        t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, N, N, 1.0f, a, N, w, N, 0.0f, z, N);
        ts[r] = now_s() - t0;
    }
    const double mx = median(tx, REP), ms = median(ts, REP);
    printf("{\"bench\":\"W2_binary_product\",\"shape\":\"100x1024x1024\",\"threads\":%d,"
           "\"xnor_us\":%.1f,\"ref\":\"cblas_sgemm\",\"sgemm_us\":%.1f,\"ratio\":%.2f}\n",
           xb_par_budget(), 1e6 * mx, 1e6 * ms, ms / mx);
    xb_free(a); xb_free(w); xb_free(z); xb_free(ap); xb_free(wp);
    return 0;
}

typedef struct task { const xb_dataset *tr, *te; uint32_t *perm; char name[32]; } task;

static void sample(const task *t, const xb_dataset *d, size_t i, float *x)
{
    const float *src = d->x + i * d->dim;
    if (!t->perm) { memcpy(x, src, d->dim * sizeof(float)); return; }
    for (size_t k = 0; k < d->dim; k++) x[k] = src[t->perm[k]];
}

static double evaluate(xb_mbnn *n, size_t e, const task *t, float *xb, unsigned *pred)
{
    const xb_dataset *d = t->te;
    size_t correct = 0;
    for (size_t s0 = 0; s0 < d->n; s0 += 1000) {
        const size_t m = d->n - s0 < 1000 ? d->n - s0 : 1000;
        for (size_t s = 0; s < m; s++) sample(t, d, s0 + s, xb + s * d->dim);
        xb_mbnn_predict_task(n, e, xb, m, pred);
        for (size_t s = 0; s < m; s++) correct += pred[s] == d->y[s0 + s];
    }
    return (double)correct / (double)d->n;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--w2")) return micro();
    xb_mbnn_opts o = xb_mbnn_defaults();
    size_t ep1 = 40, ep2 = 5, every = 0, hidden = 1024, pmnist = 0;
    int threads = 1, sweep = 0;
    char order[64] = "mnist,fmnist";
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(k, "--ber-sweep")) { sweep = 1; continue; }
        i++;
        if (!strcmp(k, "--meta")) o.meta = atof(v);
        else if (!strcmp(k, "--lr")) o.lr = atof(v);
        else if (!strcmp(k, "--decay")) o.decay = atof(v);
        else if (!strcmp(k, "--seed")) o.seed = (uint32_t)atoi(v);
        else if (!strcmp(k, "--hidden")) hidden = (size_t)atoi(v);
        else if (!strcmp(k, "--epochs1")) ep1 = (size_t)atoi(v);
        else if (!strcmp(k, "--epochs2")) ep2 = (size_t)atoi(v);
        else if (!strcmp(k, "--eval-every")) every = (size_t)atoi(v);
        else if (!strcmp(k, "--threads")) threads = atoi(v);
        else if (!strcmp(k, "--packed")) o.packed = atoi(v);
        else if (!strcmp(k, "--ber-write")) o.ber_write = atof(v);
        else if (!strcmp(k, "--ber-read")) o.ber_read = atof(v);
        else if (!strcmp(k, "--pmnist")) pmnist = (size_t)atoi(v);
        else if (!strcmp(k, "--order")) snprintf(order, sizeof order, "%s", v);
        else { fprintf(stderr, "meta_bnn: unknown option %s\n", k); return 2; }
    }
    xb_par_set_budget(threads);
    omp_set_num_threads(threads);
    xb_par_blas_threads(threads);
    o.sizes[1] = o.sizes[2] = hidden;
    xb_err err = {0};
    xb_dataset *ds[4] = {0};
    task tk[16] = {{0}};
    size_t ntask = 0;
    char o2[64];
    snprintf(o2, sizeof o2, "%s", order);
    if (pmnist) {
        if (xb_dataset_load("mnist", 0, NULL, &ds[0], &err) || xb_dataset_load("mnist", 1, NULL, &ds[1], &err)) goto fail;
        for (size_t t = 0; t < pmnist && t < 16; t++) {
            tk[t].tr = ds[0]; tk[t].te = ds[1];
            snprintf(tk[t].name, sizeof tk[t].name, "pmnist%zu", t);
            if (t) {
                if (!(tk[t].perm = xb_malloc(784 * sizeof(uint32_t)))) return 1;
                xb_rng_permutation(o.seed, XB_RNG_PERM, (uint32_t)t, 784, tk[t].perm);
            }
            ntask++;
        }
    } else {
        for (char *tok = strtok(o2, ","); tok && ntask < 2; tok = strtok(NULL, ",")) {
            if (xb_dataset_load(tok, 0, NULL, &ds[2 * ntask], &err) ||
                xb_dataset_load(tok, 1, NULL, &ds[2 * ntask + 1], &err)) goto fail;
            tk[ntask].tr = ds[2 * ntask]; tk[ntask].te = ds[2 * ntask + 1];
            snprintf(tk[ntask].name, sizeof tk[ntask].name, "%s", tok);
            ntask++;
        }
    }
    xb_mbnn *n = NULL;
    if (xb_mbnn_alloc(&n, &o, &err)) goto fail;
    float *xb = xb_malloc(1000 * 784 * sizeof(float));
    unsigned *yb = xb_malloc(1000 * sizeof(unsigned)), *pred = xb_malloc(1000 * sizeof(unsigned));
    uint32_t *ord = xb_malloc(60000 * sizeof(uint32_t));
    if (!xb || !yb || !pred || !ord) return 1;
    printf("{\"w2\":\"config\",\"meta\":%g,\"lr\":%g,\"decay\":%g,\"seed\":%u,\"hidden\":%zu,"
           "\"epochs1\":%zu,\"epochs2\":%zu,\"order\":\"%s\",\"threads\":%d,\"packed\":%d,"
           "\"ber_write\":%g,\"ber_read\":%g,\"pmnist\":%zu}\n", o.meta, o.lr, o.decay, o.seed,
           hidden, ep1, ep2, order, threads, o.packed, o.ber_write, o.ber_read, pmnist);
    double train_total = 0;
    for (size_t t = 0; t < ntask; t++) {
        xb_mbnn_task_begin(n, t);
        const size_t ep = (t == 0 || pmnist) ? ep1 : ep2, N = tk[t].tr->n, B = 100;
        double sep[200];
        for (size_t e = 1; e <= ep; e++) {
            const double t0 = now_s(), c0 = cpu_s();
            xb_rng_permutation(o.seed, XB_RNG_SHUFFLE, (uint32_t)(t * 100000 + e), N, ord);
            size_t correct = 0;
            for (size_t i = 0; i < N; i += B) {
                const size_t m = N - i < B ? N - i : B;
                for (size_t s = 0; s < m; s++) {
                    sample(&tk[t], tk[t].tr, ord[i + s], xb + s * 784);
                    yb[s] = tk[t].tr->y[ord[i + s]];
                }
                correct += xb_mbnn_step(n, xb, yb, m);
            }
            const double dt = now_s() - t0, dc = cpu_s() - c0;
            train_total += dt;
            if (e <= 200) sep[e - 1] = dt;
            if ((every && e % every == 0) || e == ep) {
                printf("{\"w2\":\"eval\",\"task\":%zu,\"epoch\":%zu,\"epoch_s\":%.3f,\"epoch_cpu_s\":%.3f,"
                       "\"train_acc\":%.4f", t + 1, e, dt, dc, (double)correct / (double)N);
                for (size_t k = 0; k <= t; k++)
                    printf(",\"acc_%s\":%.4f", tk[k].name, evaluate(n, k, &tk[k], xb, pred));
                if (t > 0) printf(",\"acc_%s_current_bn\":%.4f", tk[0].name, evaluate(n, t, &tk[0], xb, pred));
                printf("}\n");
                fflush(stdout);
            }
        }
        xb_mbnn_stats st;
        xb_mbnn_get_stats(n, &st);
        printf("{\"w2\":\"task_end\",\"task\":%zu,\"s_per_epoch_median\":%.3f,\"train_s_total\":%.2f,"
               "\"flips_total\":%llu,\"write_J\":%.4g,\"samples\":%llu", t + 1,
               ep ? median(sep, ep < 200 ? ep : 200) : 0.0, train_total,
               (unsigned long long)st.flips_total, st.write_J, (unsigned long long)st.samples);
        for (size_t l = 0; l < o.nlayers; l++) {
            xb_mbnn_whstats w;
            if (xb_mbnn_wh_stats(n, l, &w, &err)) goto fail;
            printf(",\"L%zu\":{\"mean\":%.4f,\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,\"gt1\":%.4f,\"fmeta\":%.4f}",
                   l + 1, w.mean, w.p50, w.p90, w.p99, w.frac_gt1, w.fmeta);
        }
        printf("}\n");
        fflush(stdout);
    }
    if (sweep) {
        const size_t last = ntask - 1;
        for (int k = 0; k <= 11; k++) {
            const double p = k == 0 ? 0 : pow(10.0, -6.0 + 0.5 * (k - 1));
            /* write errors: the trained net programmed once, each bit wrong w.p. p */
            const uint64_t wrong = xb_mbnn_program(n, p, (uint32_t)(1000 + k));
            const double accw = evaluate(n, last, &tk[last], xb, pred);
            xb_mbnn_program(n, 0, 0);
            xb_mbnn_set_ber_read(n, p);
            const double accr = evaluate(n, last, &tk[last], xb, pred);
            xb_mbnn_set_ber_read(n, 0);
            printf("{\"w2\":\"ber\",\"ber\":%.3g,\"wrong_bits\":%llu,\"acc_write_err\":%.4f,"
                   "\"acc_read_err\":%.4f}\n", p, (unsigned long long)wrong, accw, accr);
            fflush(stdout);
        }
    }
    xb_mbnn_free(n);
    return 0;
fail:
    fprintf(stderr, "meta_bnn: %s\n", err.msg);
    return 1;
}
