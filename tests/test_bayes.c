/* tests/test_bayes.c: MESU and BiMU updates against their closed forms (ALGORITHMS.md
 * sections 4 and 5), weight sampling moments, uncertainty metrics and ROC-AUC. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "training/xb_bimu.h"
#include "training/xb_mesu.h"
#include "training/xb_uncertainty.h"
#include "training/xb_wakeup.h"
#include "tests/xb_test.h"

static xb_mesu_cfg mesu_cfg(double N)
{
    const xb_mesu_cfg c = { .nlayers = 1, .sizes = { 1, 2 }, .lr_mu = 1, .lr_sigma = 1,
                            .mu_prior = 0.2, .sigma_prior = 0.5, .memory = N, .clamp = 0,
                            .mu_init_gain = 1, .sigma_init = 0.1, .mc_train = 1, .mc_test = 1,
                            .seed = 3 };
    return c;
}

static void test_mesu_no_gradient_infinite_memory(void)
{
    const xb_mesu_cfg c = mesu_cfg(INFINITY);
    float mu[3] = { 0.3f, -1.0f, 2.0f }, sg[3] = { 0.1f, 0.7f, 1e-3f }, g[3] = { 0, 0, 0 };
    const float mu0[3] = { 0.3f, -1.0f, 2.0f }, sg0[3] = { 0.1f, 0.7f, 1e-3f };
    for (int t = 0; t < 1000; t++) xb_mesu_apply(&c, 3, mu, sg, g, g);
    CU_ASSERT(memcmp(mu, mu0, sizeof mu) == 0);
    CU_ASSERT(memcmp(sg, sg0, sizeof sg) == 0);
}

static void test_mesu_relaxation(void)
{
    /* zero gradient: sigma^2 follows the logistic approach to sigma_p^2 with rate lr/N;
     * with sigma = sigma_p, mu decays geometrically: mu_t = mu_p + (mu_0 - mu_p)(1 - 1/N)^t */
    const double N = 2000;
    const xb_mesu_cfg c = mesu_cfg(N);
    float mu[2] = { 1.0f, 0.0f }, sg[2] = { 0.5f, 0.05f }, g[2] = { 0, 0 };
    for (int t = 1; t <= 4000; t++) {
        xb_mesu_apply(&c, 2, mu, sg, g, g);
        if (t % 1000 == 0) {
            const double mu_exact = 0.2 + 0.8 * pow(1 - 1 / N, t);
            CU_ASSERT(fabs(mu[0] - mu_exact) < 1e-5);
            CU_ASSERT_EQUAL(sg[0], 0.5f);                            /* at the prior already */
            const double s2 = 0.25 / (1 + (0.25 / 0.0025 - 1) * exp(-t / N));   /* logistic */
            CU_ASSERT(fabs(sg[1] * sg[1] - s2) / s2 < 2e-3);        /* discrete vs ODE: O(1/N) */
        }
    }
}

static void test_mesu_quadratic_fixed_point(void)
{
    /* L = h (w - w*)^2 / 2 on one weight, w = mu + sigma eps: the fixed point is the
     * Gaussian posterior after N observations: sigma^2 = 1/(N h + 1/sp^2),
     * mu = (N h sp^2 w* + mu_p)/(N h sp^2 + 1) */
    const double N = 200, h = 1, ws = 0.7;
    xb_mesu_cfg c = mesu_cfg(N);
    c.mu_prior = 0;
    c.sigma_prior = 1;
    c.lr_mu = c.lr_sigma = 0.2;
    const xb_rng r = xb_rng_for_row(1, XB_RNG_TEST, 0, 0, 0);
    float mu = 0, sg = 1;
    double smu = 0, ss2 = 0;
    const int T = 400000, burn = 100000;
    for (int t = 0; t < T; t++) {
        const float e = xb_rng_normal(&r, (uint32_t)t, 0);
        const float w = mu + sg * e, gm = (float)(h * (w - ws)), gs = gm * e;
        xb_mesu_apply(&c, 1, &mu, &sg, &gm, &gs);
        if (t >= burn) { smu += mu; ss2 += (double)sg * sg; }
    }
    const double n = T - burn;
    const double s2_star = 1 / (N * h + 1), mu_star = N * h * ws / (N * h + 1);
    CU_ASSERT(fabs(ss2 / n - s2_star) / s2_star < 0.05);
    CU_ASSERT(fabs(smu / n - mu_star) < 0.01);
}

static void test_mesu_sampling_moments(void)
{
    /* one input x = 1 into 2 classes: logit(p1) = (w10 + b1) - (w00 + b0) ~ N(m, v) */
    xb_mesu_cfg c = mesu_cfg(1e5);
    xb_mesu *m;
    xb_err e = {0};
    CU_ASSERT_EQUAL_FATAL(xb_mesu_alloc(&m, &c, &e), XB_OK);
    float *mu = xb_mesu_mu(m, 0), *sg = xb_mesu_sigma(m, 0);       /* [w00 b0 w10 b1] */
    const float M[4] = { 0.5f, -0.2f, 1.0f, 0.3f }, S[4] = { 0.3f, 0.1f, 0.2f, 0.4f };
    memcpy(mu, M, sizeof M);
    memcpy(sg, S, sizeof S);
    const double mean = (1.0 + 0.3) - (0.5 - 0.2), var = 0.09 + 0.01 + 0.04 + 0.16;
    const float x = 1.0f;
    enum { R = 4000, SS = 10 };
    float p[SS * 2];
    double s1 = 0, s2 = 0;
    for (int i = 0; i < R; i++) {
        xb_mesu_sample_probs(m, &x, 1, SS, p);
        for (int s = 0; s < SS; s++) {
            const double lg = log(p[2 * s + 1] / p[2 * s]);
            s1 += lg; s2 += lg * lg;
        }
    }
    const double n = R * SS, mm = s1 / n, vv = s2 / n - mm * mm;
    CU_ASSERT(fabs(mm - mean) < 5 * sqrt(var / n));
    CU_ASSERT(fabs(vv - var) < 5 * var * sqrt(2 / n));
    xb_mesu_free(m);
}

/* Two Gaussian blobs in 4 dimensions (means -1 and +1, sd 0.5): 3000 batch-1 MESU steps,
 * then the number of 200 held-out points classified right (also tests/test_mesu_noise.c). */
unsigned xb_test_mesu_blobs(xb_mesu *m)
{
    const xb_rng r = xb_rng_for_row(2, XB_RNG_TEST, 0, 0, 0);
    float x[4];
    for (int t = 0; t < 3000; t++) {
        const unsigned y = t % 2;
        for (int k = 0; k < 4; k++) x[k] = (y ? 1.0f : -1.0f) + 0.5f * xb_rng_normal(&r, t, k);
        xb_mesu_step(m, x, y);
    }
    float X[200 * 4];
    unsigned pred[200], ok = 0;
    for (int i = 0; i < 200; i++)
        for (int k = 0; k < 4; k++) X[i * 4 + k] = (i % 2 ? 1.0f : -1.0f) + 0.5f * xb_rng_normal(&r, 10000 + i, k);
    xb_mesu_predict(m, X, 200, pred);
    for (int i = 0; i < 200; i++) ok += pred[i] == (unsigned)(i % 2);
    return ok;
}

static void test_mesu_learns(void)
{
    /* two Gaussian blobs in 4 dimensions: MESU with batch 1 separates them */
    xb_mesu_cfg c = { .nlayers = 2, .sizes = { 4, 8, 2 }, .lr_mu = 1, .lr_sigma = 1,
                      .mu_prior = 0, .sigma_prior = 1, .memory = 3e5, .mu_init_gain = 1.414,
                      .sigma_init = 0.1, .mc_train = 1, .mc_test = 10, .seed = 5 };
    for (unsigned S = 1; S <= 2; S++) {
        c.mc_train = S;
        xb_mesu *m;
        xb_err e = {0};
        CU_ASSERT_EQUAL_FATAL(xb_mesu_alloc(&m, &c, &e), XB_OK);
        CU_ASSERT(xb_test_mesu_blobs(m) >= 196);
        xb_mesu_free(m);
    }
}

static void test_roc_auc(void)
{
    const double a[] = { 3, 4 }, b[] = { 1, 2 };
    CU_ASSERT_DOUBLE_EQUAL(xb_roc_auc(a, 2, b, 2), 1.0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(xb_roc_auc(b, 2, a, 2), 0.0, 1e-15);
    const double one[] = { 1 };
    CU_ASSERT_DOUBLE_EQUAL(xb_roc_auc(one, 1, one, 1), 0.5, 1e-15);
    const double p2[] = { 1, 3 }, n2[] = { 2 };
    CU_ASSERT_DOUBLE_EQUAL(xb_roc_auc(p2, 2, n2, 1), 0.5, 1e-15);
    const double p3[] = { 2, 2 }, n3[] = { 1, 2, 3 };
    CU_ASSERT_DOUBLE_EQUAL(xb_roc_auc(p3, 2, n3, 3), 0.5, 1e-15);
    const double p4[] = { 0.9, 0.8, 0.4 }, n4[] = { 0.7, 0.3, 0.2, 0.85 };   /* 9 of 12 pairs */
    CU_ASSERT_DOUBLE_EQUAL(xb_roc_auc(p4, 3, n4, 4), 9.0 / 12.0, 1e-15);
    CU_ASSERT(isnan(xb_roc_auc(p4, 0, n4, 4)));
}

static void test_uncertainty(void)
{
    const float p[4 * 3] = { 0.7f, 0.2f, 0.1f, 0.6f, 0.3f, 0.1f, 0.1f, 0.8f, 0.1f, 0.5f, 0.25f, 0.25f };
    xb_uncertainty u;
    xb_uncertainty_from_samples(p, 4, 3, &u);
    CU_ASSERT_EQUAL(u.pred, 0);                  /* mean = (0.475, 0.3875, 0.1375) */
    CU_ASSERT_DOUBLE_EQUAL(u.variation_ratio, 0.25, 1e-12);
    const double m[3] = { 0.475, 0.3875, 0.1375 };
    double H = 0, A = 0;
    for (int k = 0; k < 3; k++) H -= m[k] * log(m[k]);
    for (int s = 0; s < 4; s++) for (int k = 0; k < 3; k++) A -= p[s * 3 + k] * log(p[s * 3 + k]) / 4;
    CU_ASSERT_DOUBLE_EQUAL(u.total, H, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(u.aleatoric, A, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(u.epistemic, H - A, 1e-6);
    const float uni[2 * 4] = { 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f };
    xb_uncertainty_from_samples(uni, 2, 4, &u);
    CU_ASSERT_DOUBLE_EQUAL(u.total, log(4.0), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(u.epistemic, 0.0, 1e-6);
}

static xb_bimu_cfg bimu_cfg(void)
{
    const xb_bimu_cfg c = { .nlayers = 1, .sizes = { 1, 2 }, .kl = 161.3, .kkl = 3.76,
                            .lr_max = 0.0023, .memory = 700, .eta = 4.9, .tau = 1,
                            .lambda_init = 0.1, .mc_train = 5, .mc_test = 5, .seed = 9 };
    return c;
}

static void test_bimu_update_closed_form(void)
{
    const xb_bimu_cfg c = bimu_cfg();
    float lam[3] = { 1.5f, -0.4f, 0.0f };
    const float g0[3] = { 0, 0, 0 };
    const float before[3] = { 1.5f, -0.4f, 0.0f };
    xb_bimu_apply(&c, 3, lam, g0);
    for (int i = 0; i < 3; i++) {      /* g = 0: dlambda = -lambda c / (N (c + 1/lr_max)) */
        const double t = tanh(before[i]), cc = 3.76 * (1 - t * t);
        const double want = before[i] - before[i] * cc / (700 * (cc + 1 / 0.0023));
        CU_ASSERT(fabs(lam[i] - want) < 1e-6);
        CU_ASSERT(fabs(lam[i]) <= fabs(before[i]));             /* decays towards 0 */
    }
    /* with gradients: |dlambda| <= lr_max (eta |g'| + |lambda| c / N), and D > 0 */
    const xb_rng r = xb_rng_for_row(4, XB_RNG_TEST, 0, 0, 0);
    for (int i = 0; i < 10000; i++) {
        float l = 3 * xb_rng_normal(&r, i, 0), g = xb_rng_normal(&r, i, 1);
        const float l0 = l;
        xb_bimu_apply(&c, 1, &l, &g);
        const double t = tanh(l0), cc = 3.76 * (1 - t * t), gp = 161.3 * g;
        CU_ASSERT(fabs(l - l0) <= 0.0023 * (4.9 * fabs(gp) + fabs(l0) * cc / 700) * (1 + 1e-5) + 1e-7);
        CU_ASSERT(cc + 2 * gp * t + 2 * fabs(gp) + 1 / 0.0023 > 0);
    }
}

static void test_bimu_sampling_frequency(void)
{
    /* one input x = 1, two outputs: LayerNorm makes the logits +-1 by sign(w1 - w0), so
     * P(p1 > 0.5) = P(w1 = +1, w0 = -1) = q1 (1 - q0), q = sigmoid(2 lambda) */
    xb_bimu_cfg c = bimu_cfg();
    xb_bimu *b;
    xb_err e = {0};
    /* lambda = 0 everywhere: P(+1) = 1/2 per weight */
    c.lambda_init = 0;
    CU_ASSERT_EQUAL_FATAL(xb_bimu_alloc(&b, &c, &e), XB_OK);
    const float x = 1.0f;
    enum { R = 4000, S = 5 };
    float p[S * 2];
    long hits = 0;
    for (int i = 0; i < R; i++) {
        xb_bimu_sample_probs(b, &x, 1, S, p);
        for (int s = 0; s < S; s++) hits += p[2 * s + 1] > 0.5f;
    }
    const double n = (double)R * S, q = 0.25;                 /* 1/2 * 1/2 */
    CU_ASSERT(fabs(hits - n * q) < 5 * sqrt(n * q * (1 - q)));
    xb_bimu_free(b);
}

static void test_bimu_learns(void)
{
    /* 4 outputs for 2 classes: LayerNorm over 2 outputs would pin them at +-1 and pass
     * no gradient. The classes are not sign-symmetric (x and -x): the reverse binary gate
     * |a| > 1 could not tell them apart. */
    xb_bimu_cfg c = { .nlayers = 2, .sizes = { 8, 32, 4 }, .kl = 161.3, .kkl = 3.76,
                      .lr_max = 0.0023, .memory = 700, .eta = 4.9, .tau = 1, .lambda_init = 0.1,
                      .mc_train = 5, .mc_test = 5, .seed = 2 };
    xb_bimu *b;
    xb_err e = {0};
    CU_ASSERT_EQUAL_FATAL(xb_bimu_alloc(&b, &c, &e), XB_OK);
    const xb_rng r = xb_rng_for_row(6, XB_RNG_TEST, 0, 0, 0);
    float x[8];
    for (int t = 0; t < 3000; t++) {
        const unsigned y = t % 2;
        for (int k = 0; k < 8; k++) x[k] = ((unsigned)k / 4 == y ? 1.0f : 0.0f) + 0.3f * xb_rng_normal(&r, t, k);
        xb_bimu_step(b, x, y);
    }
    float X[200 * 8];
    unsigned pred[200], ok = 0;
    for (int i = 0; i < 200; i++)
        for (int k = 0; k < 8; k++)
            X[i * 8 + k] = (k / 4 == i % 2 ? 1.0f : 0.0f) + 0.3f * xb_rng_normal(&r, 9000 + i, k);
    xb_bimu_predict(b, X, 200, pred);
    for (int i = 0; i < 200; i++) ok += pred[i] == (unsigned)(i % 2);
    if (ok < 190) fprintf(stderr, "\n  bimu separable: %u / 200\n", ok);
    CU_ASSERT(ok >= 190);
    /* active querying: a confident model asks for few labels and skips the rest */
    const double q_before = xb_bimu_counts_get(b)->queried;
    xb_bimu_free(b);
    (void)q_before;
}

static void run_mesu(int threads, float *mu_out, size_t n)
{
    xb_par_blas_threads(threads);
    const xb_mesu_cfg c = { .nlayers = 2, .sizes = { 300, 200, 10 }, .lr_mu = 1, .lr_sigma = 1,
                            .sigma_prior = 1, .memory = 3e5, .mu_init_gain = 1.414,
                            .sigma_init = 0.1, .mc_train = 2, .mc_test = 4, .seed = 8 };
    xb_mesu *m;
    xb_err e = {0};
    CU_ASSERT_EQUAL_FATAL(xb_mesu_alloc(&m, &c, &e), XB_OK);
    const xb_rng r = xb_rng_for_row(3, XB_RNG_TEST, 0, 0, 0);
    static float x[64 * 300];
    xb_rng_fill_uniform(&r, 0, 64 * 300, x);
    for (int t = 0; t < 40; t++) xb_mesu_step(m, x + (t % 64) * 300, (unsigned)(t % 10));
    unsigned pred[64];
    xb_mesu_predict(m, x, 64, pred);
    memcpy(mu_out, xb_mesu_mu(m, 0), n * sizeof(float));
    for (int i = 0; i < 64; i++) mu_out[i] += (float)pred[i];     /* predictions too */
    xb_mesu_free(m);
}

static void test_mesu_threads_identical(void)
{
    enum { NP = 200 * 301 };
    static float a[NP], b[NP];
    const int before = xb_par_blas_threads(0);
    run_mesu(1, a, NP);
    run_mesu(2, b, NP);
    xb_par_blas_threads(before);
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
}

static void test_wakeup(void)
{
    const double score[5] = { 0.1, 0.5, 0.9, 0.3, 0.7 };
    const unsigned char fok[5] = { 1, 0, 0, 1, 1 }, bok[5] = { 1, 1, 1, 0, 1 };
    /* tau = 0: everything wakes; the system is the back end */
    xb_wakeup_point p = xb_wakeup_eval(score, fok, bok, NULL, 5, 0, 1e-9, 1e-7, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p.f_wake, 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(p.accuracy, 0.8, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(p.energy, 1e-9 + 1e-7 + 1e-6, 1e-20);
    /* tau = inf, no abnormal class: the front end alone */
    p = xb_wakeup_eval(score, fok, bok, NULL, 5, INFINITY, 1e-9, 1e-7, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p.f_wake, 0.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(p.accuracy, 0.6, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(p.energy, 1e-9, 0);
    /* tau = 0.6: inputs 2 (0.9) and 4 (0.7) wake and the back end is right on both;
     * 0, 1 and 3 stay with the front end, right on 0 and 3 -> 4/5. Then input 1 is also
     * woken as an abnormal class -> 5/5 */
    p = xb_wakeup_eval(score, fok, bok, NULL, 5, 0.6, 0, 1, 1);
    CU_ASSERT_DOUBLE_EQUAL(p.f_wake, 0.4, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(p.accuracy, 0.8, 1e-15);
    const unsigned char ab[5] = { 0, 1, 0, 0, 0 };
    p = xb_wakeup_eval(score, fok, bok, ab, 5, 0.6, 0, 1, 1);
    CU_ASSERT_DOUBLE_EQUAL(p.f_wake, 0.6, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(p.accuracy, 1.0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(p.energy, 1.2, 1e-15);
}

XB_SUITE(bayes, XB_TEST(test_wakeup), XB_TEST(test_mesu_threads_identical), XB_TEST(test_mesu_no_gradient_infinite_memory), XB_TEST(test_mesu_relaxation),
         XB_TEST(test_mesu_quadratic_fixed_point), XB_TEST(test_mesu_sampling_moments),
         XB_TEST(test_mesu_learns), XB_TEST(test_roc_auc), XB_TEST(test_uncertainty),
         XB_TEST(test_bimu_update_closed_form), XB_TEST(test_bimu_sampling_frequency),
         XB_TEST(test_bimu_learns))
