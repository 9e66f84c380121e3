/* tests/test_training.c: the net, the trainers and the runner (training/, experiments/run.c).
 * Expected values come from the definitions (finite differences of the loss, a separable
 * problem that a linear classifier solves exactly), never from the code under test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "experiments/xb_run.h"
#include "tests/xb_test.h"
#include "training/xb_net.h"
#include "training/xb_trainer.h"

/* ---- a tiny fixed problem: 2 classes in 4-D, separated by the plane sum(x) = 2 with a
 * margin of 0.4 (points with |sum(x) - 2| < 0.4 are redrawn). Inputs in [0, 1]. */
enum { TP_DIM = 4, TP_N = 200 };
static void tiny_problem(float *x, unsigned *y)
{
    const xb_rng r = xb_rng_for_row(7, XB_RNG_TEST, 0, 0, 0);
    size_t n = 0;
    for (uint32_t draw = 0; n < TP_N; draw++) {
        float u[4];
        xb_rng_u4(&r, 0, draw, u);
        const float s = u[0] + u[1] + u[2] + u[3];
        if (fabsf(s - 2.0f) < 0.4f) continue;
        memcpy(x + n * TP_DIM, u, sizeof u);
        y[n++] = s > 2.0f;
    }
}

/* Train trainer `alg` on the tiny problem for `epochs` passes in a fixed order and
 * return the accuracy of its predictions on the same points. */
static double tiny_train(const char *alg, const char *extra, size_t epochs, double lr)
{
    float x[TP_N * TP_DIM];
    unsigned y[TP_N], pred[TP_N];
    tiny_problem(x, y);
    xb_config *c = xb_config_alloc();
    char ini[512];
    snprintf(ini, sizeof ini, "[net]\nlayers = 4-6-2\n[train]\nalgorithm = %s\nlr = %g\n%s",
             alg, lr, extra);
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_config_load_string(c, ini, "tiny.ini", &err) == XB_OK);
    xb_net_spec net;
    const xb_trainer_type *T;
    double tp[XB_TRAIN_NPARAMS], own[64];
    CU_ASSERT_FATAL(xb_trainer_config(c, &net, &T, tp, own, &err) == XB_OK);
    const xb_trainer_setup su = { .cfg = c, .net = net, .train = tp, .own = own, .seed = 3 };
    void *s = NULL;
    const xb_status st = T->alloc(&s, &su, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    CU_ASSERT_FATAL(st == XB_OK);
    uint32_t order[TP_N];
    for (size_t e = 0; e < epochs; e++) {
        xb_rng_permutation(3, XB_RNG_SHUFFLE, (uint32_t)e, TP_N, order);
        for (size_t i = 0; i < TP_N; i++) T->step(s, x + order[i] * TP_DIM, &y[order[i]], 1);
    }
    T->predict(s, x, TP_N, pred);
    size_t ok = 0;
    for (size_t i = 0; i < TP_N; i++) ok += pred[i] == y[i];
    T->free(s);
    xb_config_free(c);
    return (double)ok / TP_N;
}

static void test_digital_separable(void)
{
    /* a separable problem with a margin: exact SGD must classify every point */
    const double acc = tiny_train("sgd_digital", "", 60, 0.5);
    CU_ASSERT_EQUAL(acc, 1.0);
}

static void test_analog_separable_linear(void)
{
    /* the same problem on ideal crossbars of linear (constant-step) devices with the
     * stochastic pulse update: C = sqrt(lr / (BL dw_min)) = 1 */
    const double acc = tiny_train("sgd_analog",
        "bl = 10\n[device]\ntype = linear\ndw_min = 0.01\nw_max = 2\nw_min = -2\n"
        "[crossbar]\nideal = true\ndw_min = 0.01\n", 60, 0.1);
    CU_ASSERT(acc >= 0.95);
    if (acc < 0.95) fprintf(stderr, "analog separable: %g\n", acc);
}

/* Central differences of the loss against xb_net_backward: dL/dW_l[i][j] = -d_l[i] h_l[j].
 * Float forward passes carry a relative error of about n*u (u = 2^-24, n <= 8 terms per
 * dot product), so the difference quotient has a roundoff error of about
 * 2 * 8u |L| / (2 eps) and a truncation error eps^2 |L'''| / 6; with eps = 1e-2,
 * |L| < 3 and |L'''| = O(1) both stay below 2e-4; we allow 1e-3. */
static void fd_check(xb_act act)
{
    const xb_net_spec spec = { .nlayers = 3, .sizes = { 5, 7, 6, 3 }, .act = act,
                               .init = XB_INIT_XAVIER };
    xb_net *n = NULL;
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_net_alloc(&n, &spec, 11, &err) == XB_OK);
    float x[5] = { 0.9f, -0.4f, 0.3f, 0.7f, -0.8f };
    const unsigned label = 1;
    xb_net_forward(n, x, 1);
    xb_net_backward(n, label);
    double maxg = 0, maxerr = 0;
    size_t checked = 0;
    for (size_t l = 0; l < spec.nlayers; l++) {
        const size_t cols = n->layer[l].in + 1;
        for (size_t i = 0; i < n->layer[l].out; i++)
            for (size_t j = 0; j < cols; j++) {
                const double g = -(double)n->d[l][i] * n->h[l][j];   /* analytic dL/dW */
                float *w = &n->layer[l].W[i * cols + j];
                const float w0 = *w, eps = 1e-2f;
                *w = w0 + eps; xb_net_forward(n, x, 1); const double lp = xb_net_loss(n, label);
                *w = w0 - eps; xb_net_forward(n, x, 1); const double lm = xb_net_loss(n, label);
                *w = w0;
                /* relu/hsigmoid: skip weights whose +-eps step crosses a kink */
                const double fd = (lp - lm) / (2.0 * eps);
                xb_net_forward(n, x, 1);
                xb_net_backward(n, label);
                int kink = 0;
                if (act != XB_ACT_SIGMOID && l + 1 < spec.nlayers)
                    for (size_t k = 0; k < n->layer[l].out; k++) {
                        const float z = n->z[l][k], dz = fabsf(eps * n->h[l][j]) * 2;
                        if (fabsf(z) < dz || (act == XB_ACT_HSIGMOID && fabsf(z - 1) < dz)) kink = 1;
                    }
                if (kink) continue;
                checked++;
                maxg = fmax(maxg, fabs(g));
                maxerr = fmax(maxerr, fabs(fd - g));
            }
    }
    CU_ASSERT(checked > 40);
    CU_ASSERT(maxg > 1e-2);           /* the check is not vacuous */
    CU_ASSERT(maxerr < 1e-3);
    if (maxerr >= 1e-3) fprintf(stderr, "fd %s: max error %g (max |g| %g)\n", xb_act_name(act), maxerr, maxg);
    xb_net_free(n);
}

static void test_gradient_fd_sigmoid(void) { fd_check(XB_ACT_SIGMOID); }
static void test_gradient_fd_relu(void) { fd_check(XB_ACT_RELU); }
static void test_gradient_fd_hsigmoid(void) { fd_check(XB_ACT_HSIGMOID); }

static void test_batched_predict_matches_single(void)
{
    /* the batched (sgemm) evaluation must pick the class of the per-sample forward pass */
    const xb_net_spec spec = { .nlayers = 2, .sizes = { 20, 9, 4 }, .act = XB_ACT_SIGMOID,
                               .init = XB_INIT_XAVIER };
    xb_net *n = NULL;
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_net_alloc(&n, &spec, 5, &err) == XB_OK);
    enum { M = 300 };
    float *x = xb_malloc(M * 20 * sizeof *x);
    unsigned pred[M];
    const xb_rng r = xb_rng_for_row(1, XB_RNG_TEST, 1, 0, 0);
    xb_rng_fill_uniform(&r, 0, M * 20, x);
    for (size_t k = 0; k < M * 20; k++) x[k] = 8 * x[k] - 4;
    xb_net_predict(n, x, M, pred);
    size_t same = 0, seen[4] = {0}, classes = 0;
    for (size_t s = 0; s < M; s++) {
        same += xb_net_forward(n, x + s * 20, 0) == pred[s];
        seen[pred[s] & 3]++;
    }
    for (size_t k = 0; k < 4; k++) classes += seen[k] > M / 20;
    CU_ASSERT_EQUAL(same, M);
    CU_ASSERT(classes >= 3);            /* diverse outputs, so a wrong bias would show */
    xb_free(x);
    xb_net_free(n);
}

static void test_net_alloc_every_failure(void)
{
    /* fail allocation k = 0, 1, ...: every failure returns XB_ENOMEM with nothing held
     * (leaks would show in make check-asan) until the allocation succeeds */
    const xb_net_spec spec = { .nlayers = 2, .sizes = { 6, 5, 3 } };
    long k;
    for (k = 0; k < 100; k++) {
        xb_net *n = (xb_net *)1;
        xb_err err = {0};
        xb_mem_fail_nth(k);
        const xb_status st = xb_net_alloc(&n, &spec, 1, &err);
        xb_mem_fail_nth(-1);
        if (st == XB_OK) { xb_net_free(n); break; }
        CU_ASSERT(st == XB_ENOMEM && n == NULL && err.msg[0] != '\0');
    }
    CU_ASSERT(k > 5 && k < 100);             /* net + per-layer buffers: several allocations */
}

static void test_trainer_alloc_every_failure(void)
{
    /* both trainers, batch 2 for sgd_digital (its gradient buffers) */
    static const char *const inis[] = {
        "[net]\nlayers = 6-5-3\n[train]\nalgorithm = sgd_digital\nbatch = 2\n",
        "[net]\nlayers = 6-5-3\n[train]\nalgorithm = sgd_analog\n[device]\ntype = softbounds\n",
    };
    for (size_t t = 0; t < 2; t++) {
        xb_config *c = xb_config_alloc();
        xb_err err = {0};
        CU_ASSERT_FATAL(xb_config_load_string(c, inis[t], "a.ini", &err) == XB_OK);
        xb_net_spec net;
        const xb_trainer_type *T;
        double tp[XB_TRAIN_NPARAMS], own[64];
        CU_ASSERT_FATAL(xb_trainer_config(c, &net, &T, tp, own, &err) == XB_OK);
        const xb_trainer_setup su = { .cfg = c, .net = net, .train = tp, .own = own, .seed = 2 };
        long k;
        for (k = 0; k < 1000; k++) {
            void *s = (void *)1;
            xb_mem_fail_nth(k);
            const xb_status st = T->alloc(&s, &su, &err);
            xb_mem_fail_nth(-1);
            if (st == XB_OK) { T->free(s); break; }
            CU_ASSERT(st == XB_ENOMEM && s == NULL);
        }
        CU_ASSERT(k > 3 && k < 1000);
        xb_config_free(c);
    }
}

static void test_parse_layers(void)
{
    xb_net_spec s;
    xb_err err = {0};
    CU_ASSERT(xb_net_parse_layers("784-256-128-10", &s, &err) == XB_OK);
    CU_ASSERT(s.nlayers == 3 && s.sizes[0] == 784 && s.sizes[3] == 10);
    CU_ASSERT(xb_net_parse_layers("784", &s, &err) == XB_EINVAL);
    CU_ASSERT(xb_net_parse_layers("784-", &s, &err) == XB_EINVAL);
    CU_ASSERT(xb_net_parse_layers("784-x-10", &s, &err) == XB_EINVAL);
    CU_ASSERT(xb_net_parse_layers("784-0-10", &s, &err) == XB_EINVAL);
    CU_ASSERT(strstr(err.msg, "784-0-10") != NULL);
}

/* ---- the runner ---- */
static xb_status run_ini(const char *ini, const char *out, xb_err *err)
{
    xb_config *c = xb_config_alloc();
    xb_status st = xb_config_load_string(c, ini, "t.ini", err);
    char full[4096];
    const char *dd = xb_test_data_dir();
    snprintf(full, sizeof full, "[run]\nprogress = off\n[data]\ndir = %s\n", dd ? dd : "/nonexistent");
    if (!st) st = xb_config_load_string(c, full, "dir.ini", err);
    xb_run_summary sum;
    const xb_run_opts o = { .out_dir = out };
    if (!st) st = xb_run(c, &o, &sum, err);
    xb_config_free(c);
    return st;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = calloc(1, 1 << 20);
    if (s) s[fread(s, 1, (1 << 20) - 1, f)] = '\0';
    fclose(f);
    return s;
}

static const char *const RUN_SMALL =
    "[data]\ndataset = mnist\ntrain_limit = 300\ntest_limit = 200\n"
    "[net]\nlayers = 784-8-10\n[train]\nepochs = 2\nlr = 0.05\n";

static void test_results_columns(void)
{
    if (!xb_test_data_dir()) { fprintf(stderr, "no data: skipped\n"); return; }
    char out[512], path[600];
    xb_test_path("run_cols", out, sizeof out);
    xb_err err = {0};
    const xb_status st = run_ini(RUN_SMALL, out, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    CU_ASSERT_FATAL(st == XB_OK);
    snprintf(path, sizeof path, "%s/results.csv", out);
    char *csv = slurp(path);
    CU_ASSERT_FATAL(csv != NULL);
    static const char *const cols[] = { "run", "algorithm", "device", "dataset", "seed", "task",
        "eval_task", "epoch", "samples_seen", "accuracy", "energy_total_J",
        "energy_per_sample_J", "wall_s" };
    char *nl = strchr(csv, '\n');
    CU_ASSERT_FATAL(nl != NULL);
    *nl = '\0';
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++) {
        char pat[64];
        snprintf(pat, sizeof pat, ",%s,", cols[k]);
        char line[4096];
        snprintf(line, sizeof line, ",%s,", csv);
        CU_ASSERT(strstr(line, pat) != NULL);
    }
    /* two evaluation rows (one per epoch), 1 task; samples_seen 300 then 600 */
    size_t rows = 0;
    for (char *p = nl + 1; (p = strchr(p, '\n')); p++) rows++;
    CU_ASSERT_EQUAL(rows, 2);
    CU_ASSERT(strstr(nl + 1, ",1,1,1,300,") != NULL);
    CU_ASSERT(strstr(nl + 1, ",1,1,2,600,") != NULL);
    free(csv);
    snprintf(path, sizeof path, "%s/run.json", out);
    char *js = slurp(path);
    CU_ASSERT_FATAL(js != NULL);
    CU_ASSERT(strstr(js, "\"git_hash\"") && strstr(js, "\"status\": \"complete\"") &&
              strstr(js, "\"layers\": \"784-8-10\""));
    free(js);
}

/* results.csv without the timing columns (train_s, train_cpu_s, wall_s: the last three). */
static char *csv_untimed(const char *path)
{
    char *s = slurp(path);
    if (!s) return NULL;
    char *o = s;
    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) break;
        char *c = nl;
        for (int k = 0; k < 3 && c > line; ) if (*--c == ',') k++;
        const size_t len = (size_t)(c - line);
        memmove(o, line, len);
        o += len;
        *o++ = '\n';
        line = nl + 1;
    }
    *o = '\0';
    return s;
}

static void test_run_threads_bit_identical(void)
{
    /* sgd_analog with C2C noise, read noise and converters on: the same results.csv with
     * 1 and 2 threads in every row loop (forced, whatever the array size) */
    if (!xb_test_data_dir()) { fprintf(stderr, "no data: skipped\n"); return; }
    static const char *const ini =
        "[data]\ndataset = mnist\ntrain_limit = 150\ntest_limit = 100\n"
        "[net]\nlayers = 784-12-10\n[train]\nalgorithm = sgd_analog\nepochs = 1\nlr = 0.05\n"
        "[device]\ntype = softbounds\n";
    char out1[512], out2[512], p1[600], p2[600];
    xb_test_path("thr1", out1, sizeof out1);
    xb_test_path("thr2", out2, sizeof out2);
    xb_err err = {0};
    xb_par_force(1);
    xb_par_blas_threads(1);
    xb_status st = run_ini(ini, out1, &err);
    if (st) fprintf(stderr, "%s\n", err.msg);
    xb_par_force(2);
    if (!st) st = run_ini(ini, out2, &err);
    xb_par_force(0);
    CU_ASSERT_FATAL(st == XB_OK);
    snprintf(p1, sizeof p1, "%s/results.csv", out1);
    snprintf(p2, sizeof p2, "%s/results.csv", out2);
    char *a = csv_untimed(p1), *b = csv_untimed(p2);
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT(strlen(a) > 200);
    CU_ASSERT_STRING_EQUAL(a, b);
    free(a);
    free(b);
}

static void test_run_interrupted(void)
{
    /* a stop request (what SIGINT sets) ends the run after the current sample with
     * XB_EINTR, and leaves complete files: one evaluation row, status interrupted */
    if (!xb_test_data_dir()) { fprintf(stderr, "no data: skipped\n"); return; }
    xb_config *c = xb_config_alloc();
    char ini[1024], out[512], path[600];
    snprintf(ini, sizeof ini, "%s[run]\nprogress = off\n[data]\ndir = %s\n", RUN_SMALL,
             xb_test_data_dir());
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_config_load_string(c, ini, "t.ini", &err) == XB_OK);
    xb_test_path("run_stop", out, sizeof out);
    volatile sig_atomic_t stop = 1;
    const xb_run_opts o = { .out_dir = out, .stop = &stop };
    xb_run_summary sum;
    CU_ASSERT(xb_run(c, &o, &sum, &err) == XB_EINTR);
    CU_ASSERT(sum.interrupted && sum.samples == 1);
    snprintf(path, sizeof path, "%s/results.csv", out);
    char *csv = slurp(path);
    CU_ASSERT_FATAL(csv != NULL);
    size_t rows = 0;
    for (char *p = csv; (p = strchr(p, '\n')); p++) rows++;
    CU_ASSERT_EQUAL(rows, 2);                       /* header + the evaluation at the stop */
    CU_ASSERT(strstr(csv, ",1,1,1,1,") != NULL);      /* task 1, eval 1, epoch 1, 1 sample */
    free(csv);
    snprintf(path, sizeof path, "%s/run.json", out);
    char *js = slurp(path);
    CU_ASSERT(js && strstr(js, "\"status\": \"interrupted\""));
    free(js);
    xb_config_free(c);
}

static void expect_error(const char *ini, xb_status code, const char *const *parts)
{
    char out[512];
    xb_test_path("run_bad", out, sizeof out);
    xb_err err = {0};
    const xb_status st = run_ini(ini, out, &err);
    CU_ASSERT_EQUAL(st, code);
    CU_ASSERT(strchr(err.msg, '\n') == NULL);             /* one line */
    for (size_t k = 0; parts[k]; k++) {
        CU_ASSERT(strstr(err.msg, parts[k]) != NULL);
        if (!strstr(err.msg, parts[k])) fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, parts[k]);
    }
}

static void test_bad_configs(void)
{
    expect_error("[train]\nalgorithm = sgd_magic\n", XB_EINVAL,
                 (const char *[]){ "t.ini:2", "algorithm = 'sgd_magic'", "sgd_digital", NULL });
    expect_error("[train]\nlr = 1000\n", XB_ERANGE, (const char *[]){ "t.ini:2", "lr", "100", NULL });
    expect_error("[net]\nlayers = 784-0-10\n", XB_EINVAL, (const char *[]){ "t.ini:2", "784-0-10", NULL });
    if (xb_test_data_dir()) {
        expect_error("[data]\ndataset = mnist\ntest_limit = 10\ntrain_limit = 10\n"
                     "[net]\nlayers = 100-8-10\n", XB_EINVAL,
                     (const char *[]){ "t.ini:6", "layers = 100-8-10", "784 inputs", "10 classes", NULL });
        expect_error("[data]\ndataset = mnist\ntrain_limit = 10\ntest_limit = 10\n"
                     "[net]\nlayers = 784-8-4\n", XB_EINVAL,
                     (const char *[]){ "784-8-4", "from 784 to 10", NULL });
    }
    /* missing data files: an empty data directory */
    char dir[512], ini[1024];
    xb_test_path("emptydata", dir, sizeof dir);
    xb_config *c = xb_config_alloc();
    char mk[600];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", dir);
    CU_ASSERT_FATAL(system(mk) == 0);
    snprintf(ini, sizeof ini, "[run]\nprogress = off\n[data]\ndataset = mnist\ndir = %s\n", dir);
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_config_load_string(c, ini, "t.ini", &err) == XB_OK);
    xb_run_summary sum;
    const xb_run_opts o = { .out_dir = dir };
    const xb_status st = xb_run(c, &o, &sum, &err);
    CU_ASSERT(st == XB_EIO);
    CU_ASSERT(strstr(err.msg, dir) != NULL && strchr(err.msg, '\n') == NULL);
    xb_config_free(c);
}

XB_SUITE(training,
         XB_TEST(test_parse_layers),
         XB_TEST(test_net_alloc_every_failure),
         XB_TEST(test_trainer_alloc_every_failure),
         XB_TEST(test_digital_separable),
         XB_TEST(test_analog_separable_linear),
         XB_TEST(test_run_threads_bit_identical),
         XB_TEST(test_gradient_fd_sigmoid),
         XB_TEST(test_gradient_fd_relu),
         XB_TEST(test_gradient_fd_hsigmoid),
         XB_TEST(test_batched_predict_matches_single),
         XB_TEST(test_results_columns),
         XB_TEST(test_run_interrupted),
         XB_TEST(test_bad_configs))
