/* tests/test_bimu.c: BiMU's hardware sampler (stochastic ST-MRAM writes, training/xb_bimu.h)
 * and the active-querying threshold; the inverse of the stmram switching law. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/xb_param.h"
#include "core/xb_rng.h"
#include "devices/xb_device.h"
#include "devices/xb_stmram.h"
#include "training/xb_bimu.h"
#include "training/xb_uncertainty.h"
#include "tests/xb_test.h"

static void stmram_defaults(double *p)
{
    const xb_device_type *D = xb_device_find("stmram");
    CU_ASSERT_FATAL(D != NULL && D->nparams <= 64);
    xb_param_defaults(D->params, D->nparams, p);
}

static void test_stmram_current_inverts_law(void)
{
    /* ln WER(current_for(L)) = L across both regimes (thermal below I_c0: L >= -t/tau0 =
     * -10 at the defaults; precessional beyond), for the nominal and a spread cell;
     * the current is non-decreasing in -L */
    double p[64];
    stmram_defaults(p);
    xb_stmram_law m[2];
    xb_stmram_law_get(p, &m[0]);
    m[1] = m[0];
    m[1].delta *= 1.07;
    m[1].ic0 *= 0.93;
    const double t = 10e-9;
    for (int k = 0; k < 2; k++) {
        double prev = 0;
        for (double L = -1e-12; L > -80; L *= 1.7) {
            const double i = xb_stmram_current_for(&m[k], L, t);
            CU_ASSERT(i >= prev);
            prev = i;
            const double back = xb_stmram_ln_wer(&m[k], i, t);
            CU_ASSERT(fabs(back - L) <= 1e-9 * fabs(L) + 1e-15);
        }
        /* WER above the thermal range needs more than I_c0 */
        CU_ASSERT(xb_stmram_current_for(&m[k], -20, t) > m[k].ic0);
        CU_ASSERT(xb_stmram_current_for(&m[k], -5, t) < m[k].ic0);
    }
    /* unreachably small switching probability: i = 0 */
    CU_ASSERT_EQUAL(xb_stmram_current_for(&m[0], -1e-30, t), 0.0);
    /* the nominal law agrees with xb_stmram_wer */
    CU_ASSERT_DOUBLE_EQUAL(exp(xb_stmram_ln_wer(&m[0], 60e-6, t)), xb_stmram_wer(p, 60e-6, t), 1e-15);
}

/* A 1-layer BiMU (in x out weights) with lambda spread over [-2, 2]. */
static xb_bimu *bimu_spread(size_t in, size_t out, uint32_t seed)
{
    const xb_bimu_cfg c = { .nlayers = 1, .sizes = { in, out }, .kl = 161.3, .kkl = 3.76,
                            .lr_max = 0.0023, .memory = 700, .eta = 4.9, .tau = 1,
                            .lambda_init = 0.1, .mc_train = 5, .mc_test = 5, .seed = seed };
    xb_bimu *b;
    xb_err e = {0};
    CU_ASSERT_FATAL(xb_bimu_alloc(&b, &c, &e) == XB_OK);
    float *lam = xb_bimu_lambda(b, 0);
    for (size_t i = 0; i < in * out; i++) lam[i] = (float)(-2.0 + 4.0 * (double)i / (in * out - 1));
    return b;
}

/* Chi-square of the +1 counts of R hard samples against sigmoid(2 lambda); max |z|. */
static double chi2_plus(xb_bimu *b, size_t n, int R, double *zmax)
{
    static long cnt[400];
    memset(cnt, 0, sizeof cnt);
    for (int r = 0; r < R; r++) {
        const float *w = xb_bimu_hard_sample(b, 0, (uint32_t)r + 1, 0);
        for (size_t i = 0; i < n; i++) cnt[i] += w[i] > 0;
    }
    const float *lam = xb_bimu_lambda(b, 0);
    double chi2 = 0;
    *zmax = 0;
    for (size_t i = 0; i < n; i++) {
        const double q = 1 / (1 + exp(-2.0 * lam[i])), v = R * q * (1 - q);
        const double z = (cnt[i] - R * q) / sqrt(v);
        chi2 += z * z;
        if (fabs(z) > *zmax) *zmax = fabs(z);
    }
    return chi2;
}

static void test_bimu_stmram_sampler_frequency(void)
{
    /* 200 weights, lambda in [-2, 2], 3000 samples: each +1 count ~ Binomial(3000,
     * sigmoid(2 lambda)); chi2 over the 200 weights ~ chi2(200): mean 200, sd 20.
     * Calibrated (each cell's own law, 5 % D2D spread of Delta, I_c0, R_P, TMR): passes
     * at 5 sd. Nominal currents on the same spread cells: far off. */
    enum { IN = 50, OUT = 4, N = IN * OUT, R = 3000 };
    double p[64], zmax;
    stmram_defaults(p);
    xb_bimu *b = bimu_spread(IN, OUT, 5);
    xb_err e = {0};
    const xb_bimu_sampler cal = { .kind = XB_BIMU_SAMPLER_STMRAM, .calibrated = 1, .dev = p };
    CU_ASSERT_FATAL(xb_bimu_set_sampler(b, &cal, &e) == XB_OK);
    double chi2 = chi2_plus(b, N, R, &zmax);
    if (!(chi2 < 300 && chi2 > 100 && zmax < 5)) fprintf(stderr, "\n  calibrated chi2 %g zmax %g\n", chi2, zmax);
    CU_ASSERT(chi2 < 300 && chi2 > 100);
    CU_ASSERT(zmax < 5);
    /* the realised P(+1) of a calibrated cell is sigmoid(2 lambda) to 1e-9 */
    const float *lam = xb_bimu_lambda(b, 0);
    xb_stmram_law nominal;
    xb_stmram_law_get(p, &nominal);
    for (size_t i = 0; i < N; i += 7) {
        double cur;
        const double q = 1 / (1 + exp(-2.0 * lam[i]));
        CU_ASSERT(fabs(xb_bimu_p_plus(b, 0, i, &cur) - q) < 1e-9);
        CU_ASSERT(cur > 0.5 * nominal.ic0 && cur < 1.5 * nominal.ic0);   /* near I_c0 */
    }
    /* the same cells driven with the nominal law's current */
    const xb_bimu_sampler nom = { .kind = XB_BIMU_SAMPLER_STMRAM, .calibrated = 0, .dev = p };
    CU_ASSERT_FATAL(xb_bimu_set_sampler(b, &nom, &e) == XB_OK);
    chi2 = chi2_plus(b, N, R, &zmax);
    CU_ASSERT(chi2 > 2000);
    /* without D2D spread, nominal = calibrated */
    double p0[64];
    memcpy(p0, p, sizeof p0);
    const xb_device_type *D = xb_device_find("stmram");
    for (size_t k = 0; k < D->nparams; k++)
        if (strstr(D->params[k].name, "_dtod")) p0[k] = 0;
    const xb_bimu_sampler nom0 = { .kind = XB_BIMU_SAMPLER_STMRAM, .calibrated = 0, .dev = p0 };
    CU_ASSERT_FATAL(xb_bimu_set_sampler(b, &nom0, &e) == XB_OK);
    chi2 = chi2_plus(b, N, R, &zmax);
    CU_ASSERT(chi2 < 300 && zmax < 5);
    /* direct mode is refused */
    p0[0] = 1;
    const xb_bimu_sampler dir = { .kind = XB_BIMU_SAMPLER_STMRAM, .calibrated = 1, .dev = p0 };
    CU_ASSERT(xb_bimu_set_sampler(b, &dir, &e) == XB_EINVAL);
    xb_bimu_free(b);
}

static void test_bimu_digital_sampler_frequency(void)
{
    enum { IN = 50, OUT = 4, N = IN * OUT, R = 3000 };
    double zmax;
    xb_bimu *b = bimu_spread(IN, OUT, 6);
    const double chi2 = chi2_plus(b, N, R, &zmax);
    CU_ASSERT(chi2 < 300 && chi2 > 100);
    CU_ASSERT(zmax < 5);
    xb_bimu_free(b);
}

static void test_bimu_stmram_sampler_energy(void)
{
    /* mean booked energy per full sample = the expected energy (the sum over cells of
     * p e_plus + (1 - p) e_minus); at lambda = 0 each nominal cell costs
     * I^2 R_P t + i_write^2 (R_P + R_AP)/2 t, I = current_for(ln 1/2) */
    enum { IN = 40, OUT = 5, N = IN * OUT, R = 400 };
    double p[64];
    stmram_defaults(p);
    const xb_device_type *D = xb_device_find("stmram");
    for (size_t k = 0; k < D->nparams; k++)
        if (strstr(D->params[k].name, "_dtod")) p[k] = 0;
    const xb_bimu_cfg c = { .nlayers = 1, .sizes = { IN, OUT }, .kl = 1, .kkl = 1, .lr_max = 1,
                            .memory = 1, .eta = 1, .tau = 1, .lambda_init = 0, .mc_train = 1,
                            .mc_test = 1, .seed = 3 };
    xb_bimu *b;
    xb_err e = {0};
    CU_ASSERT_FATAL(xb_bimu_alloc(&b, &c, &e) == XB_OK);
    const xb_bimu_sampler cal = { .kind = XB_BIMU_SAMPLER_STMRAM, .calibrated = 1, .dev = p };
    CU_ASSERT_FATAL(xb_bimu_set_sampler(b, &cal, &e) == XB_OK);
    xb_stmram_law m;
    xb_stmram_law_get(p, &m);
    double iw, tw;
    xb_stmram_pulse_get(p, &iw, &tw);
    const double I = xb_stmram_current_for(&m, log(0.5), tw);
    const double cell = I * I * m.r_p * tw + iw * iw * m.r_p * (1 + 0.5 * m.tmr) * tw;
    const double want = N * cell;
    CU_ASSERT(fabs(xb_bimu_sample_energy(b, 0) - want) < 1e-5 * want);
    for (int r = 0; r < R; r++) xb_bimu_hard_sample(b, 0, (uint32_t)r + 1, 0);
    const xb_bimu_counts *k = xb_bimu_counts_get(b);
    CU_ASSERT_DOUBLE_EQUAL(k->sample_writes, 2.0 * N * R, 0);
    /* per-sample energy: sd from the reset's R_P / R_AP coin, sqrt(N) cells */
    const double sd = iw * iw * m.r_p * m.tmr / 2 * tw * sqrt((double)N / R);
    CU_ASSERT(fabs(k->sample_J / R - want) < 5 * sd);
    CU_ASSERT_DOUBLE_EQUAL(k->uniforms, 0, 0);     /* no digital random bits */
    xb_bimu_free(b);
}

static void test_bimu_query_threshold(void)
{
    /* 5 samples, 4 agreeing with the mean: VR = 1 - 4/5 = 0.19999999999999996 */
    enum { S = 5, K = 3 };
    float pr[S * K];
    for (int s = 0; s < S; s++) {
        pr[s * K + 0] = s < 4 ? 0.8f : 0.1f;
        pr[s * K + 1] = s < 4 ? 0.1f : 0.8f;
        pr[s * K + 2] = 0.1f;
    }
    xb_uncertainty u;
    xb_uncertainty_from_samples(pr, S, K, &u);
    CU_ASSERT(u.variation_ratio < 0.2);               /* the floating-point trap */
    CU_ASSERT(xb_bimu_wants_label(u.variation_ratio, 0.2));
    CU_ASSERT(!xb_bimu_wants_label(u.variation_ratio, 0.4));
    CU_ASSERT(xb_bimu_wants_label(0.0, 0));           /* 0: always */
    CU_ASSERT(!xb_bimu_wants_label(0.0, 0.2));
    /* every k/S against every j/S: asked iff k >= j */
    for (int Sn = 1; Sn <= 20; Sn++)
        for (int k = 0; k <= Sn; k++)
            for (int j = 1; j <= Sn; j++) {
                const double vr = 1.0 - (double)(Sn - k) / Sn, thr = (double)j / Sn;
                CU_ASSERT_EQUAL(xb_bimu_wants_label(vr, thr), k >= j);
            }
}

XB_SUITE(bimu, XB_TEST(test_stmram_current_inverts_law), XB_TEST(test_bimu_stmram_sampler_frequency),
         XB_TEST(test_bimu_digital_sampler_frequency), XB_TEST(test_bimu_stmram_sampler_energy),
         XB_TEST(test_bimu_query_threshold))
