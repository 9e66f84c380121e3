/* tests/test_meta_bnn.c: Adam-meta and the binarized MLP (training/xb_meta_bnn.h).
 * Expected values come from ALGORITHMS.md 3 (formulas evaluated here in double), never
 * from the code under test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "devices/xb_device.h"
#include "training/xb_meta_bnn.h"
#include "training/xb_trainer.h"
#include "tests/xb_test.h"

/* One Adam step from zero moments (t = 1): returns the step taken by a weight w under
 * a constant gradient g, with metaplasticity m. */
static double one_step(float w, float g, float meta)
{
    const xb_mbnn_adam a = { 0.005f, 0.9f, 0.999f, 1e-8f, 0.0f, meta, 1 };
    float ww = w, m = 0, v = 0;
    xb_mbnn_adam_update(&a, 1, 1, &ww, &m, &v, &g);
    return (double)ww - w;
}

static void test_fmeta_direction(void)
{
    /* ALGORITHMS.md 3: W_h = 2, m = 1.35 -> f = 1 - tanh^2(2.7) ~ 0.0179 on the side
     * that shrinks |W_h|; the growing side is never attenuated */
    const double f = 1.0 - pow(tanh(1.35 * 2.0), 2);
    CU_ASSERT(fabs(f - 0.0179) < 5e-5);
    CU_ASSERT(fabs(xb_mbnn_fmeta(1.35f, 2.0f) - f) <= 1e-6 * f);
    CU_ASSERT(fabs(xb_mbnn_fmeta(1.35f, -2.0f) - f) <= 1e-6 * f);
    /* W_h = +2: g > 0 gives m > 0, the step is negative (towards 0): attenuated */
    const double shrink = one_step(2.0f, 0.3f, 1.35f) / one_step(2.0f, 0.3f, 0.0f);
    const double grow = one_step(2.0f, -0.3f, 1.35f) / one_step(2.0f, -0.3f, 0.0f);
    CU_ASSERT(one_step(2.0f, 0.3f, 0.0f) < 0);
    /* steps are read back as w' - w in float: each carries half an ulp of 2 (2^-23),
     * so the ratio is known to 2^-23 (1 + f) / |step| */
    const double tol = 0x1p-23 * (1 + f) / fabs(one_step(2.0f, 0.3f, 0.0f));
    CU_ASSERT(tol < 0.1 * f);                    /* still sharp enough to tell f from 1 */
    CU_ASSERT(fabs(shrink - f) <= tol);
    CU_ASSERT_EQUAL(grow, 1.0);
    /* W_h = -2: mirrored */
    CU_ASSERT(fabs(one_step(-2.0f, -0.3f, 1.35f) / one_step(-2.0f, -0.3f, 0.0f) - f) <= tol);
    CU_ASSERT_EQUAL(one_step(-2.0f, 0.3f, 1.35f) / one_step(-2.0f, 0.3f, 0.0f), 1.0);
    /* f over a range against the tanh formula in double (exp kernel accuracy) */
    for (int i = 0; i <= 400; i++) {
        const float x = 0.025f * (float)i;
        const double ref = 1.0 - pow(tanh(1.5 * (double)x), 2);
        CU_ASSERT(fabs(xb_mbnn_fmeta(1.5f, x) - ref) <= 1e-6 * ref + 1e-7 * (ref < 1e-3));
    }
}

/* Adam in double, written from ALGORITHMS.md 3 (m_meta = 0). */
static void adam_ref(size_t n, double *w, double *m, double *v, const float *g, unsigned t,
                     double lr, double decay)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double at = lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t));
    for (size_t i = 0; i < n; i++) {
        const double gg = g[i] + decay * w[i];
        m[i] = b1 * m[i] + (1 - b1) * gg;
        v[i] = b2 * v[i] + (1 - b2) * gg * gg;
        w[i] += -at * m[i] / (sqrt(v[i]) + eps);
    }
}

static void test_meta0_is_plain_adam(void)
{
    enum { N = 203, T = 60 };
    float w0[N], w1[N], w2[N], w3[N], m0[N] = {0}, v0[N] = {0}, m1[N] = {0}, v1[N] = {0};
    float m2[N] = {0}, v2[N] = {0}, m3[N] = {0}, v3[N] = {0}, g[N], gc[N];
    double wd[N], md[N] = {0}, vd[N] = {0};
    const xb_rng r = xb_rng_for_row(3, XB_RNG_TEST, 0, 0, 0);
    xb_rng_fill_normal(&r, 0, N, w0);
    for (size_t i = 0; i < N; i++) { w0[i] *= 0.05f; w1[i] = w2[i] = w3[i] = w0[i]; wd[i] = w0[i]; }
    for (unsigned t = 1; t <= T; t++) {
        xb_rng_fill_normal(&r, t, N, g);
        const xb_mbnn_adam a0 = { 0.005f, 0.9f, 0.999f, 1e-8f, 1e-3f, 0.0f, t };
        const xb_mbnn_adam a1 = { 0.005f, 0.9f, 0.999f, 1e-8f, 1e-3f, 1.35f, t };
        xb_mbnn_adam_update(&a0, 1, N, w0, m0, v0, g);       /* weights, m = 0 */
        xb_mbnn_adam_update(&a1, 0, N, w1, m1, v1, g);       /* not a weight: plain */
        memcpy(gc, g, sizeof g);
        xb_mbnn_adam_update_fast(&a0, 1, N, w2, m2, v2, gc);  /* the training kernel */
        memcpy(gc, g, sizeof g);
        xb_mbnn_adam_update(&a1, 1, N, w3, m3, v3, g);
        adam_ref(N, wd, md, vd, g, t, 0.005, 1e-3);
    }
    CU_ASSERT(!memcmp(w0, w1, sizeof w0) && !memcmp(m0, m1, sizeof m0) && !memcmp(v0, v1, sizeof v0));
    CU_ASSERT(!memcmp(w0, w2, sizeof w0) && !memcmp(v0, v2, sizeof v0));
    int differs = 0;
    for (size_t i = 0; i < N; i++) {
        /* T steps of size <= lr each, float rounding per step ~ 2^-24 |w| */
        CU_ASSERT(fabs(w0[i] - wd[i]) <= 1e-5 * (fabs(wd[i]) + T * 0.005));
        differs |= w3[i] != w0[i];
    }
    CU_ASSERT(differs);                      /* and m > 0 does change the trajectory */
}

static void test_fast_kernel_bits(void)
{
    /* the 4-lane training kernel = the scalar reference, bit for bit, with meta on */
    enum { N = 1027 };
    static float w[N], m[N], v[N], g[N], w2[N], m2[N], v2[N], g2[N];
    const xb_rng r = xb_rng_for_row(5, XB_RNG_TEST, 0, 1, 0);
    xb_rng_fill_normal(&r, 0, N, w);
    for (size_t i = 0; i < N; i++) { w[i] *= 1.5f; m[i] = v[i] = 0; }
    memcpy(w2, w, sizeof w); memcpy(m2, m, sizeof m); memcpy(v2, v, sizeof v);
    for (unsigned t = 1; t <= 20; t++) {
        xb_rng_fill_normal(&r, t, N, g);
        memcpy(g2, g, sizeof g);
        const xb_mbnn_adam a = { 0.05f, 0.9f, 0.999f, 1e-8f, 1e-7f, 3.0f, t };
        xb_mbnn_adam_update(&a, 1, N, w, m, v, g);
        xb_mbnn_adam_update_fast(&a, 1, N, w2, m2, v2, g2);
    }
    CU_ASSERT(!memcmp(w, w2, sizeof w) && !memcmp(m, m2, sizeof m) && !memcmp(v, v2, sizeof v));
}

static void test_xnor_equals_float_product(void)
{
    const size_t B = 37, OUT = 29;
    const size_t ns[] = { 1, 63, 64, 65, 200, 784 };
    for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
        const size_t n = ns[c], nw = (n + 63) / 64;
        float *a = xb_malloc(B * n * sizeof(float)), *w = xb_malloc(OUT * n * sizeof(float));
        float *z = xb_malloc(B * OUT * sizeof(float));
        uint64_t *ap = xb_malloc(B * nw * 8), *wp = xb_malloc(OUT * nw * 8);
        const xb_rng r = xb_rng_for_row(7, XB_RNG_TEST, (uint32_t)c, 0, 0);
        xb_rng_fill_normal(&r, 0, B * n, a);
        xb_rng_fill_normal(&r, 1, OUT * n, w);
        for (size_t k = 0; k < B * n; k++) a[k] = a[k] < 0 ? -1.0f : 1.0f;
        for (size_t k = 0; k < OUT * n; k++) w[k] = w[k] < 0 ? -1.0f : 1.0f;
        xb_mbnn_pack(a, B, n, ap);
        xb_mbnn_pack(w, OUT, n, wp);
        xb_mbnn_xnor_gemm(ap, B, wp, OUT, n, z);
        int ok = 1;
        for (size_t s = 0; s < B; s++)
            for (size_t j = 0; j < OUT; j++) {
                double ref = 0;
                for (size_t k = 0; k < n; k++) ref += (double)a[s * n + k] * w[j * n + k];
                ok &= (double)z[s * OUT + j] == ref;
            }
        CU_ASSERT(ok);
        xb_free(a); xb_free(w); xb_free(z); xb_free(ap); xb_free(wp);
    }
}

/* Two Gaussian classes in D dims, means +-mu along a random direction, separable by
 * a margin of 2*|mu| / sd = 12 standard deviations. shift moves both (another task). */
enum { D = 24, NS = 400 };
static void blobs(uint32_t seed, float shift, float scale, float *x, unsigned *y)
{
    float dir[D];
    const xb_rng r0 = xb_rng_for_row(99, XB_RNG_TEST, 0, 0, 0);
    xb_rng_fill_normal(&r0, 0, D, dir);
    double nn = 0;
    for (size_t k = 0; k < D; k++) nn += (double)dir[k] * dir[k];
    const xb_rng r = xb_rng_for_row(seed, XB_RNG_TEST, 1, 0, 0);
    for (size_t s = 0; s < NS; s++) {
        y[s] = (unsigned)(s % 2);
        xb_rng_fill_normal(&r, (uint32_t)s, D, x + s * D);
        for (size_t k = 0; k < D; k++)
            x[s * D + k] = scale * (x[s * D + k] + (y[s] ? 6.0f : -6.0f) * (float)(dir[k] / sqrt(nn))) + shift;
    }
}

static xb_mbnn *small_net(double meta, uint32_t seed)
{
    xb_mbnn_opts o = xb_mbnn_defaults();
    o.nlayers = 3; o.sizes[0] = D; o.sizes[1] = 96; o.sizes[2] = 70; o.sizes[3] = 2;
    o.meta = meta; o.seed = seed; o.lr = 0.01;
    xb_mbnn *n = NULL;
    xb_err err = {0};
    CU_ASSERT_EQUAL(xb_mbnn_alloc(&n, &o, &err), XB_OK);
    return n;
}

static double accuracy(xb_mbnn *n, size_t task, const float *x, const unsigned *y, unsigned *pred)
{
    xb_mbnn_predict_task(n, task, x, NS, pred);
    size_t c = 0;
    for (size_t s = 0; s < NS; s++) c += pred[s] == y[s];
    return (double)c / NS;
}

static void train(xb_mbnn *n, const float *x, const unsigned *y, int epochs)
{
    for (int e = 0; e < epochs; e++)
        for (size_t s = 0; s < NS; s += 50) xb_mbnn_step(n, x + s * D, y + s, 50);
}

static void test_learns_separable(void)
{
    static float x[NS * D];
    static unsigned y[NS], pred[NS];
    blobs(1, 0, 1, x, y);
    for (int meta = 0; meta <= 1; meta++) {
        xb_mbnn *n = small_net(meta ? 1.35 : 0, 4);
        const double a0 = accuracy(n, 0, x, y, pred);
        train(n, x, y, 20);
        CU_ASSERT_EQUAL(accuracy(n, 0, x, y, pred), 1.0);
        CU_ASSERT(a0 < 0.9);                         /* it was learned, not given */
        xb_mbnn_free(n);
    }
}

static void test_bn_task_restore(void)
{
    static float x[NS * D], x2[NS * D];
    static unsigned y[NS], y2[NS], p0[NS], p1[NS];
    blobs(1, 0, 1, x, y);
    blobs(2, 20.0f, 4.0f, x2, y2);                   /* task 2: other statistics */
    xb_mbnn *n = small_net(0, 5);
    train(n, x, y, 20);
    const double acc0 = accuracy(n, 0, x, y, p0);
    CU_ASSERT_EQUAL(acc0, 1.0);
    xb_mbnn_task_begin(n, 1);
    xb_mbnn_set_lr(n, 0);                            /* only the running statistics move */
    train(n, x2, y2, 3);
    CU_ASSERT_EQUAL(accuracy(n, 0, x, y, p1), acc0); /* task 1 with its own BatchNorm */
    CU_ASSERT(!memcmp(p0, p1, sizeof p0));
    CU_ASSERT(accuracy(n, 1, x, y, p1) < 0.9);       /* with task 2's statistics */
    xb_mbnn_free(n);
}

static void test_ber_program_binomial(void)
{
    xb_mbnn *n = small_net(0, 6);
    const double nbits = (double)(D * 96 + 96 * 70 + 70 * 2);
    const double ps[] = { 1e-3, 1e-2, 0.1 };
    for (size_t k = 0; k < 3; k++) {
        double tot = 0;
        for (uint32_t rep = 0; rep < 100; rep++) tot += (double)xb_mbnn_program(n, ps[k], 1000 * (uint32_t)k + rep);
        const double N = 100 * nbits, mu = N * ps[k], sd = sqrt(N * ps[k] * (1 - ps[k]));
        CU_ASSERT(fabs(tot - mu) <= 5 * sd);
        CU_ASSERT(5 * sd < 0.25 * mu);               /* sharp enough to see p off by 25 % */
    }
    CU_ASSERT_EQUAL(xb_mbnn_program(n, 0, 0), 0);
    xb_mbnn_free(n);
}

/* Flips counted by comparing sign(W_h) before and after each step, per layer. */
static uint64_t count_flips(xb_mbnn *n, float **before, const size_t *sz)
{
    uint64_t f = 0;
    for (size_t l = 0; l < 3; l++) {
        const float *w = xb_mbnn_hidden(n, l);
        for (size_t k = 0; k < sz[l]; k++) f += (before[l][k] < 0) != (w[k] < 0);
        memcpy(before[l], w, sz[l] * sizeof(float));
    }
    return f;
}

static void test_energy_once_per_flip(void)
{
    static float x[NS * D];
    static unsigned y[NS];
    blobs(1, 0, 1, x, y);
    const size_t sz[3] = { D * 96, 96 * 70, 70 * 2 };
    for (int errs = 0; errs <= 1; errs++) {
        xb_mbnn_opts o = xb_mbnn_defaults();
        o.nlayers = 3; o.sizes[0] = D; o.sizes[1] = 96; o.sizes[2] = 70; o.sizes[3] = 2;
        o.lr = 0.05; o.seed = 8; o.e_write_J = 1.25e-12;
        o.ber_write = errs ? 0.2 : 0;
        xb_mbnn *n = NULL;
        xb_err err = {0};
        CU_ASSERT_EQUAL_FATAL(xb_mbnn_alloc(&n, &o, &err), XB_OK);
        float *before[3];
        for (size_t l = 0; l < 3; l++) {
            before[l] = xb_malloc(sz[l] * sizeof(float));
            memcpy(before[l], xb_mbnn_hidden(n, l), sz[l] * sizeof(float));
        }
        uint64_t flips = 0;
        for (int e = 0; e < 3; e++)
            for (size_t s = 0; s < NS; s += 50) {
                xb_mbnn_step(n, x + s * D, y + s, 50);
                flips += count_flips(n, before, sz);
            }
        xb_mbnn_stats st;
        xb_mbnn_get_stats(n, &st);
        CU_ASSERT(flips > 1000);
        CU_ASSERT_EQUAL(st.flips_total, flips);
        const double J = (double)flips * 1.25e-12;    /* one write per flip, booked once */
        CU_ASSERT(fabs(st.write_J - J) <= 1e-12 * J);
        uint64_t failed = 0;
        for (size_t l = 0; l < 3; l++) failed += st.failed[l];
        if (!errs) CU_ASSERT_EQUAL(failed, 0);
        if (errs) {                                   /* failures ~ Binomial(flips, 0.2) */
            const double mu = 0.2 * (double)flips, sd = sqrt((double)flips * 0.2 * 0.8);
            CU_ASSERT(fabs((double)failed - mu) <= 5 * sd);
        }
        for (size_t l = 0; l < 3; l++) xb_free(before[l]);
        xb_mbnn_free(n);
    }
}

static void test_threads_same_bits(void)
{
    static float x[NS * D];
    static unsigned y[NS];
    blobs(1, 0, 1, x, y);
    float *ref = NULL;
    const size_t nw = 96 * 70;
    const int th[] = { 1, 2, 7 };
    for (size_t k = 0; k < 3; k++) {
        xb_par_force(th[k]);
        xb_mbnn_opts o = xb_mbnn_defaults();
        o.nlayers = 3; o.sizes[0] = D; o.sizes[1] = 96; o.sizes[2] = 70; o.sizes[3] = 2;
        o.meta = 1.35; o.seed = 9; o.ber_write = 0.01; o.ber_read = 0.01;
        xb_mbnn *n = NULL;
        xb_err err = {0};
        CU_ASSERT_EQUAL_FATAL(xb_mbnn_alloc(&n, &o, &err), XB_OK);
        train(n, x, y, 2);
        if (!ref) { ref = xb_malloc(nw * sizeof(float)); memcpy(ref, xb_mbnn_hidden(n, 1), nw * sizeof(float)); }
        else CU_ASSERT(!memcmp(ref, xb_mbnn_hidden(n, 1), nw * sizeof(float)));
        xb_mbnn_free(n);
    }
    xb_par_force(0);
    xb_free(ref);
}

static void test_alloc_failures(void)
{
    for (long k = 0;; k++) {
        xb_mbnn *n = NULL;
        xb_err err = {0};
        xb_mbnn_opts o = xb_mbnn_defaults();
        o.sizes[0] = 8; o.sizes[1] = 8; o.sizes[2] = 8; o.sizes[3] = 2;
        xb_mem_fail_nth(k);
        const xb_status s = xb_mbnn_alloc(&n, &o, &err);
        xb_mem_fail_nth(-1);
        if (s == XB_OK) { xb_mbnn_free(n); CU_ASSERT(k > 10); break; }
        CU_ASSERT(s == XB_ENOMEM && n == NULL && err.msg[0]);
    }
}

static void test_hfox_pulses_and_learning(void)
{
    /* ALGORITHMS.md 2: u = 0.4 -> 0 pulses, u = 20 -> 14 on BL, and the mirror */
    CU_ASSERT_EQUAL(xb_mbnn_pulses(0.4f, 14), 0);
    CU_ASSERT_EQUAL(xb_mbnn_pulses(20.0f, 14), 14);
    CU_ASSERT_EQUAL(xb_mbnn_pulses(-20.0f, 14), -14);
    CU_ASSERT_EQUAL(xb_mbnn_pulses(2.5f, 14), 3);
    CU_ASSERT_EQUAL(xb_mbnn_pulses(-0.6f, 14), -1);
    /* a BNN whose hidden weights are HfOx pairs learns the separable problem; every
     * pulse is counted, and W_b = sign(ln R_BL/R_BLb) = the stored bit */
    const xb_device_type *T = xb_device_find("hfox");
    CU_ASSERT_PTR_NOT_NULL_FATAL(T);
    double p[64];
    xb_param_defaults(T->params, T->nparams, p);
    static float x[NS * D];
    static unsigned y[NS], pred[NS];
    blobs(1, 0, 1, x, y);
    xb_mbnn_opts o = xb_mbnn_defaults();
    o.nlayers = 3; o.sizes[0] = D; o.sizes[1] = 96; o.sizes[2] = 70; o.sizes[3] = 2;
    o.seed = 11; o.lr = 10; o.bn_lr = 0.008; o.hidden_dev = T; o.hidden_p = p;
    xb_mbnn *n = NULL;
    xb_err err = {0};
    CU_ASSERT_EQUAL_FATAL(xb_mbnn_alloc(&n, &o, &err), XB_OK);
    train(n, x, y, 10);
    CU_ASSERT(accuracy(n, 0, x, y, pred) >= 0.98);
    xb_mbnn_stats st;
    xb_mbnn_get_stats(n, &st);
    CU_ASSERT(st.pulses > 0 && st.pulse_J > 0);
    double e_reset = -1;                               /* DEVICES.md 9: J per reset pulse */
    for (size_t k = 0; k < T->nparams; k++) if (!strcmp(T->params[k].name, "e_reset")) e_reset = p[k];
    CU_ASSERT(fabs(st.pulse_J - (double)st.pulses * e_reset) <= 1e-9 * st.pulse_J);
    xb_mbnn_free(n);
}

/* Backward pass against an independent double-precision backprop of the documented
 * network (ALGORITHMS.md 3 + BatchNorm1d in training mode, gamma 1, beta 0 at start). */
static void test_gradients_match_reference(void)
{
    enum { B = 7, N0 = 6, N1 = 9, N2 = 8, K = 3, L = 3 };
    const size_t sz[L + 1] = { N0, N1, N2, K };
    xb_mbnn_opts o = xb_mbnn_defaults();
    o.nlayers = L; o.sizes[0] = N0; o.sizes[1] = N1; o.sizes[2] = N2; o.sizes[3] = K;
    o.lr = 0; o.seed = 21;
    xb_mbnn *n = NULL;
    xb_err err = {0};
    CU_ASSERT_EQUAL_FATAL(xb_mbnn_alloc(&n, &o, &err), XB_OK);
    float x[B * N0];
    unsigned y[B];
    const xb_rng r = xb_rng_for_row(4, XB_RNG_TEST, 3, 0, 0);
    xb_rng_fill_normal(&r, 0, B * N0, x);
    for (size_t s = 0; s < B; s++) y[s] = (unsigned)(s % K);
    xb_mbnn_step(n, x, y, B);
    /* reference forward */
    double in[L + 1][B][16], yb[L][B][16], xh[L][B][16], is[L][16];
    for (size_t s = 0; s < B; s++) for (size_t k = 0; k < N0; k++) in[0][s][k] = x[s * N0 + k];
    for (size_t l = 0; l < L; l++) {
        const float *W = xb_mbnn_hidden(n, l);
        for (size_t j = 0; j < sz[l + 1]; j++) {
            double z[B], mu = 0, var = 0;
            for (size_t s = 0; s < B; s++) {
                z[s] = 0;
                for (size_t k = 0; k < sz[l]; k++) z[s] += (W[j * sz[l] + k] < 0 ? -1.0 : 1.0) * in[l][s][k];
                mu += z[s] / B;
            }
            for (size_t s = 0; s < B; s++) var += (z[s] - mu) * (z[s] - mu) / B;
            is[l][j] = 1 / sqrt(var + 1e-5);
            for (size_t s = 0; s < B; s++) {
                xh[l][s][j] = (z[s] - mu) * is[l][j];
                yb[l][s][j] = xh[l][s][j];                    /* gamma 1, beta 0 */
                in[l + 1][s][j] = yb[l][s][j] < 0 ? -1.0 : 1.0;
            }
        }
    }
    /* reference backward: dL/dy of the logits, then layer by layer */
    double dy[B][16], dn[B][16];
    for (size_t s = 0; s < B; s++) {
        double mx = yb[L - 1][s][0], sum = 0;
        for (size_t k = 1; k < K; k++) mx = fmax(mx, yb[L - 1][s][k]);
        for (size_t k = 0; k < K; k++) sum += exp(yb[L - 1][s][k] - mx);
        for (size_t k = 0; k < K; k++) dy[s][k] = (exp(yb[L - 1][s][k] - mx) / sum - (k == y[s])) / B;
    }
    int ok = 1, masked = 0;
    for (size_t l = L; l-- > 0;) {
        const size_t ou = sz[l + 1], ni = sz[l];
        for (size_t j = 0; j < ou; j++) {
            double sd = 0, sdx = 0;
            for (size_t s = 0; s < B; s++) {
                if (l + 1 < L && !(fabs(yb[l][s][j]) <= 1)) { dy[s][j] = 0; masked++; }   /* STE */
                sd += dy[s][j]; sdx += dy[s][j] * xh[l][s][j];
            }
            for (size_t s = 0; s < B; s++) dy[s][j] = is[l][j] / B * (B * dy[s][j] - sd - xh[l][s][j] * sdx);
        }
        const float *g = xb_mbnn_grad(n, l), *W = xb_mbnn_hidden(n, l);
        for (size_t j = 0; j < ou; j++)
            for (size_t k = 0; k < ni; k++) {
                double ref = 0, mag = 0;
                for (size_t s = 0; s < B; s++) { ref += dy[s][j] * in[l][s][k]; mag += fabs(dy[s][j] * in[l][s][k]); }
                ok &= fabs(g[j * ni + k] - ref) <= 1e-4 * mag + 1e-7;   /* float pipeline */
            }
        for (size_t s = 0; s < B; s++)
            for (size_t k = 0; k < ni; k++) {
                dn[s][k] = 0;
                for (size_t j = 0; j < ou; j++) dn[s][k] += dy[s][j] * (W[j * ni + k] < 0 ? -1.0 : 1.0);
            }
        memcpy(dy, dn, sizeof dy);
    }
    CU_ASSERT(ok);
    CU_ASSERT(masked > 0);                                   /* the STE mask was exercised */
    xb_mbnn_free(n);
}

static void test_trainer_registered(void)
{
    const xb_trainer_type *T = xb_trainer_find("meta_bnn");
    CU_ASSERT_PTR_NOT_NULL_FATAL(T);
    CU_ASSERT_PTR_NOT_NULL(T->predict_task);
    for (size_t k = 0; k < T->nparams; k++) {
        const xb_param_spec *p = &T->params[k];
        CU_ASSERT(p->name && p->doc && p->unit);
        if (p->type == XB_P_REAL || p->type == XB_P_INT) CU_ASSERT(p->min <= p->def && p->def <= p->max);
    }
}

/* ---- [train] ber_mode = physical: rates and energy from the stmram model ---- */
static xb_config *cfg_of(const char *text)
{
    xb_config *c = xb_config_alloc();
    xb_err err = {0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(xb_config_load_string(c, text, "t.ini", &err), XB_OK);
    return c;
}

/* WER of DEVICES.md 5 in double: thermal (Neel-Brown + STT) below I_c0, precessional
 * above (where, at these widths, it is below the thermal value e^(-t/tau0)). */
static double wer_thermal(double i, double t) { return exp(-(t / 1e-9) * exp(-45 * (1 - i / 50e-6))); }
static double wer_prec(double i, double t)
{
    return -expm1(-(9.869604401089358 * 45 / 4) * exp(-2 * (i / 50e-6 - 1) * t / 1e-9));
}

static void test_bits_rates_from_model(void)
{
    xb_err err = {0};
    xb_mbnn_bits b;
    CU_ASSERT_EQUAL_FATAL(xb_mbnn_bits_rates(NULL, &b, &err), XB_OK);       /* defaults */
    CU_ASSERT(fabs(b.wer - wer_prec(100e-6, 10e-9)) <= 1e-9 * wer_prec(100e-6, 10e-9));
    /* read: disturb ~ 1e-15 plus the sense error Q(half margin / noise) */
    const double q = gsl_cdf_ugaussian_Q(0.5 * (1 - 1 / 2.5) / 0.05);
    CU_ASSERT(fabs(b.ber_read - q) <= 1e-5 * q);
    CU_ASSERT(fabs(b.e_write_J - 100e-6 * 100e-6 * 8750 * 10e-9) <= 1e-12 * b.e_write_J);
    const double is[] = { 30e-6, 45e-6, 47.6e-6, 49e-6, 120e-6 };
    for (size_t k = 0; k < 5; k++) {
        char t[200];
        snprintf(t, sizeof t, "[bits]\ni_write = %.17g\nt_write = 5e-9\nsense_noise = 0.3\n"
                 "r_p = 4e3\ntmr = 1\n", is[k]);
        xb_config *c = cfg_of(t);
        CU_ASSERT_EQUAL_FATAL(xb_mbnn_bits_rates(c, &b, &err), XB_OK);
        const double w = is[k] < 50e-6 ? wer_thermal(is[k], 5e-9) : wer_prec(is[k], 5e-9);
        CU_ASSERT(fabs(b.wer - w) <= 1e-9 * w);
        CU_ASSERT(fabs(b.ber_read - gsl_cdf_ugaussian_Q(0.5 * 0.5 / 0.3)) <= 1e-6);
        CU_ASSERT(fabs(b.e_write_J - is[k] * is[k] * 6e3 * 5e-9) <= 1e-12 * b.e_write_J);
        xb_config_free(c);
    }
    /* every [bits] key is the stmram key of that name, with its default */
    const xb_device_type *M = xb_device_find("stmram");
    CU_ASSERT_PTR_NOT_NULL_FATAL(M);
    for (size_t k = 0; k < xb_section_bits.nparams; k++) {
        const xb_param_spec *sp = &xb_section_bits.params[k];
        const xb_param_spec *d = xb_param_find(M->params, M->nparams, sp->name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        CU_ASSERT(d->def == sp->def && d->min == sp->min && d->max == sp->max);
        CU_ASSERT_STRING_EQUAL(d->unit, sp->unit);
    }
    /* a bad value names the file, line and key with the range */
    xb_config *c = cfg_of("[bits]\ni_write = 1\n");
    CU_ASSERT_NOT_EQUAL(xb_mbnn_bits_rates(c, &b, &err), XB_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "t.ini:2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "i_write"));
    xb_config_free(c);
    c = cfg_of("[bits]\ni_wirte = 1e-5\n");
    CU_ASSERT_NOT_EQUAL(xb_mbnn_bits_rates(c, &b, &err), XB_OK);
    xb_config_free(c);
}

/* The trainer in physical mode: writes fail with 1 - P_sw of the model (binomial over
 * the flips), each flip booked once at I^2 R t, and the run is the engine's run with
 * those rates, bit for bit. */
static void test_physical_wer_binomial(void)
{
    static float x[NS * D];
    static unsigned y[NS];
    blobs(1, 0, 1, x, y);
    char t[400];
    snprintf(t, sizeof t, "[net]\nlayers = %d-96-70-2\n[train]\nalgorithm = meta_bnn\nlr = 0.05\n"
             "batch = 50\nweight_device = stmram\nber_mode = physical\n[bits]\ni_write = 47.6e-6\n", D);
    xb_config *c = cfg_of(t);
    xb_err err = {0};
    xb_net_spec net;
    const xb_trainer_type *T = NULL;
    double train[XB_TRAIN_NPARAMS], own[64];
    CU_ASSERT_EQUAL_FATAL(xb_trainer_config(c, &net, &T, train, own, &err), XB_OK);
    const xb_trainer_setup su = { c, net, train, own, 8 };
    void *st = NULL;
    CU_ASSERT_EQUAL_FATAL(T->alloc(&st, &su, &err), XB_OK);
    CU_ASSERT_STRING_EQUAL(T->device_name(st), "stmram-physical");
    const double wer = wer_thermal(47.6e-6, 10e-9), ej = 47.6e-6 * 47.6e-6 * 8750 * 10e-9;
    CU_ASSERT(wer > 0.2 && wer < 0.5);
    xb_mbnn_bits b;
    CU_ASSERT_EQUAL_FATAL(xb_mbnn_bits_rates(c, &b, &err), XB_OK);
    xb_mbnn_opts o = xb_mbnn_defaults();
    o.nlayers = 3; o.sizes[0] = D; o.sizes[1] = 96; o.sizes[2] = 70; o.sizes[3] = 2;
    o.lr = 0.05; o.seed = 8; o.ber_write = b.wer; o.ber_read = b.ber_read; o.e_write_J = b.e_write_J;
    xb_mbnn *n = NULL;
    CU_ASSERT_EQUAL_FATAL(xb_mbnn_alloc(&n, &o, &err), XB_OK);
    for (int e = 0; e < 3; e++)
        for (size_t s = 0; s < NS; s += 50) {
            T->step(st, x + s * D, y + s, 50);
            xb_mbnn_step(n, x + s * D, y + s, 50);
        }
    xb_mbnn_stats ms;
    xb_mbnn_get_stats(n, &ms);
    xb_energy led;
    T->ledger(st, &led);
    const double flips = (double)ms.flips_total;
    CU_ASSERT(flips > 1000);
    CU_ASSERT_EQUAL(led.c[XB_C_WRITES], flips);                  /* the same run */
    CU_ASSERT(fabs(led.J[XB_E_PROGRAM] - flips * ej) <= 1e-9 * flips * ej);
    double failed = 0;
    for (size_t l = 0; l < 3; l++) failed += (double)ms.failed[l];
    const double sd = sqrt(flips * wer * (1 - wer));
    CU_ASSERT(fabs(failed - wer * flips) <= 5 * sd);
    CU_ASSERT(5 * sd < 0.25 * wer * flips);
    xb_mbnn_free(n);
    T->free(st);
    xb_config_free(c);
}

static void test_physical_config_errors(void)
{
    const char *bad[] = {
        "[train]\nalgorithm = meta_bnn\nber_mode = physical\n",                 /* no stmram */
        "[train]\nalgorithm = meta_bnn\nweight_device = stmram\nber_mode = physical\nber_write = 0.1\n",
        "[train]\nalgorithm = meta_bnn\nweight_device = stmram\nber_mode = physical\ne_write = 1e-12\n",
        "[train]\nalgorithm = meta_bnn\nweight_device = stmram\n[bits]\ni_write = 5e-5\n",  /* direct */
        "[train]\nalgorithm = meta_bnn\nweight_device = stmram\nber_mode = physical\n[bits]\nt_write = 0\n",
    };
    for (size_t k = 0; k < 5; k++) {
        char t[400];
        snprintf(t, sizeof t, "[net]\nlayers = 4-3-2\n%s", bad[k]);
        xb_config *c = cfg_of(t);
        xb_err err = {0};
        xb_net_spec net;
        const xb_trainer_type *T = NULL;
        double train[XB_TRAIN_NPARAMS], own[64];
        void *st = NULL;
        xb_status s = xb_trainer_config(c, &net, &T, train, own, &err);
        if (s == XB_OK) {
            const xb_trainer_setup su = { c, net, train, own, 1 };
            s = T->alloc(&st, &su, &err);
        }
        CU_ASSERT_NOT_EQUAL(s, XB_OK);
        CU_ASSERT_PTR_NULL(st);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "t.ini:"));
        xb_config_free(c);
    }
}

/* hidden_hist.csv rows: every weight in exactly one bin, each bin's count equal to a
 * direct count of lo <= |W_h| < hi; the trainer writes one block per task end. */
static void check_hist_rows(xb_mbnn *n, FILE *f, size_t task, int *rows)
{
    char line[256];
    double tot[3] = { 0, 0, 0 };
    int ok = 1;
    *rows = 0;
    while (fgets(line, sizeof line, f)) {
        size_t t, l;
        double lo, hi, c, fr;
        if (sscanf(line, "%zu,%zu,%lf,%lf,%lf,%lf", &t, &l, &lo, &hi, &c, &fr) != 6) continue;
        if (t != task + 1 || l < 1 || l > 3) { ok = 0; continue; }
        const float *w = xb_mbnn_hidden(n, l - 1);
        const size_t k = xb_mbnn_size(n, l - 1);
        double d = 0;
        for (size_t i = 0; i < k; i++) d += fabs((double)w[i]) >= lo && fabs((double)w[i]) < hi;
        ok &= d == c && fabs(hi - lo - 0.02) < 1e-9 && fabs(fr - c / (double)k) <= 1e-8 * fr;
        tot[l - 1] += c;
        (*rows)++;
    }
    CU_ASSERT(ok);
    for (size_t l = 0; l < 3; l++) CU_ASSERT_EQUAL(tot[l], (double)xb_mbnn_size(n, l));
}

static void test_hidden_hist(void)
{
    static float x[NS * D];
    static unsigned y[NS];
    blobs(1, 0, 1, x, y);
    xb_mbnn *n = small_net(1.35, 5);
    train(n, x, y, 20);
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    xb_err err = {0};
    CU_ASSERT_EQUAL(xb_mbnn_hidden_hist(n, 1, 0.02, f, &err), XB_OK);
    rewind(f);
    int rows = 0;
    check_hist_rows(n, f, 1, &rows);
    CU_ASSERT(rows > 10);                          /* |W_h| spread over many bins */
    fclose(f);
    xb_mbnn_free(n);
    /* through the trainer: dump_hidden = true writes a header and a block per task */
    char dir[] = "/tmp/xbemu-hist-XXXXXX", path[64], t[300];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(t, sizeof t, "[net]\nlayers = %d-96-70-2\n[train]\nalgorithm = meta_bnn\nlr = 0.05\n"
             "batch = 50\nmeta = 1\ndump_hidden = true\n", D);
    xb_config *c = cfg_of(t);
    xb_net_spec net;
    const xb_trainer_type *T = NULL;
    double tr[XB_TRAIN_NPARAMS], own[64];
    CU_ASSERT_EQUAL_FATAL(xb_trainer_config(c, &net, &T, tr, own, &err), XB_OK);
    const xb_trainer_setup su = { c, net, tr, own, 3 };
    void *st = NULL;
    CU_ASSERT_EQUAL_FATAL(T->alloc(&st, &su, &err), XB_OK);
    for (size_t k = 0; k < 2; k++) {
        T->task_begin(st, k);
        for (size_t s = 0; s < NS; s += 50) T->step(st, x + s * D, y + s, 50);
        CU_ASSERT_EQUAL(T->task_end(st, k, dir, &err), XB_OK);
    }
    snprintf(path, sizeof path, "%s/hidden_hist.csv", dir);
    f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[256];
    CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, f));
    CU_ASSERT_STRING_EQUAL(line, "task,layer,lo,hi,count,fraction\n");
    size_t per_task[3] = { 0, 0, 0 };
    while (fgets(line, sizeof line, f)) {
        size_t tk = 0;
        if (sscanf(line, "%zu,", &tk) == 1 && tk <= 2) per_task[tk]++;
    }
    CU_ASSERT(per_task[1] > 0 && per_task[2] > 0 && per_task[0] == 0);
    fclose(f);
    remove(path);
    remove(dir);
    CU_ASSERT_NOT_EQUAL(T->task_end(st, 0, "/nonexistent-dir/x", &err), XB_OK);   /* names the file */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "hidden_hist.csv"));
    T->free(st);
    xb_config_free(c);
}

XB_SUITE(meta_bnn, XB_TEST(test_fmeta_direction), XB_TEST(test_meta0_is_plain_adam),
         XB_TEST(test_fast_kernel_bits), XB_TEST(test_xnor_equals_float_product),
         XB_TEST(test_learns_separable), XB_TEST(test_bn_task_restore),
         XB_TEST(test_ber_program_binomial), XB_TEST(test_energy_once_per_flip),
         XB_TEST(test_threads_same_bits), XB_TEST(test_alloc_failures),
         XB_TEST(test_hfox_pulses_and_learning), XB_TEST(test_gradients_match_reference),
         XB_TEST(test_trainer_registered), XB_TEST(test_bits_rates_from_model),
         XB_TEST(test_physical_wer_binomial), XB_TEST(test_physical_config_errors),
         XB_TEST(test_hidden_hist))
