/* tests/test_mesu_noise.c: MESU's epsilon drawn through device read noise
 * (training/xb_noise_dev.h) and the digital path it must leave untouched. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/xb_rng.h"
#include "devices/xb_device.h"
#include "training/xb_mesu.h"
#include "training/xb_noise_dev.h"
#include "tests/xb_test.h"

static void params_of(const char *name, double *p)
{
    const xb_device_type *T = xb_device_find(name);
    xb_param_defaults(T->params, T->nparams, p);
}

static void set_param(const char *dev, const char *key, double *p, double v)
{
    const xb_device_type *T = xb_device_find(dev);
    for (size_t k = 0; k < T->nparams; k++) if (!strcmp(T->params[k].name, key)) p[k] = v;
}

/* PCM: eps = (G - m)/s with G = G0 (1 + Q xi) Gaussian and (m, s) from n independent
 * reads, so E eps = 0 and E eps^2 = (1 + 1/n) E[sigma^2/s^2] = (1 + 1/n)(n - 1)/(n - 3). */
static void test_pcm_eps_moments(void)
{
    double p[64];
    params_of("pcm", p);
    set_param("pcm", "g_init", p, 10e-6);
    const size_t n[2] = { 3000, 1000 };
    const unsigned R = 32;
    xb_noise_dev *s;
    xb_err e = {0};
    CU_ASSERT_EQUAL_FATAL(xb_noise_dev_alloc(&s, xb_device_find("pcm"), p, n, 2, R, 1.0, 7, NULL, &e), XB_OK);
    static float eps[3000];
    for (uint32_t t = 1; t <= 40; t++) {
        xb_noise_dev_draw(s, 0, 0, t, 3000, eps);
        xb_noise_dev_draw(s, 65, 1, t, 1000, eps);     /* evaluation row of layer 1 */
    }
    xb_noise_stats q;
    xb_noise_dev_stats(s, &q);
    const double N = q.n, v = (1.0 + 1.0 / R) * (R - 1.0) / (R - 3.0);
    CU_ASSERT_DOUBLE_EQUAL(N, 40 * 4000, 0);
    CU_ASSERT_DOUBLE_EQUAL(q.silent, 0, 0);
    /* the per-device calibration errors are shared by all draws of a device: the mean
     * varies by ~ 1/sqrt(R devices) rather than 1/sqrt(N) */
    CU_ASSERT(fabs(q.mean) < 5 * sqrt(1.0 / R / 4000.0) + 5 / sqrt(N));
    CU_ASSERT(fabs(q.sd * q.sd - v) < 0.03);
    CU_ASSERT(fabs(q.sd * q.sd - 1.0) > 0.05);              /* the calibration error is seen */
    CU_ASSERT(fabs(q.skewness) < 0.05);
    CU_ASSERT(q.ks < 0.02 && q.ks_n == N);
    xb_noise_dev_free(s);
}

/* ST-MRAM read with error probability 1/2: every read is one of two levels with equal
 * probability, eps is two-valued: excess kurtosis -> -2, KS to N(0,1) -> 0.34. */
static void test_stmram_eps_two_level(void)
{
    double p[64];
    params_of("stmram", p);
    set_param("stmram", "mode", p, 1);
    set_param("stmram", "ber_read", p, 0.5);
    const size_t n[1] = { 2000 };
    xb_noise_dev *s;
    xb_err e = {0};
    CU_ASSERT_EQUAL_FATAL(xb_noise_dev_alloc(&s, xb_device_find("stmram"), p, n, 1, 256, 0, 9, NULL, &e), XB_OK);
    static float eps[2000];
    double pos = 0;
    for (uint32_t t = 1; t <= 50; t++) {
        xb_noise_dev_draw(s, 0, 0, t, 2000, eps);
        for (int j = 0; j < 2000; j++) pos += eps[j] > 0;
    }
    xb_noise_stats q;
    xb_noise_dev_stats(s, &q);
    CU_ASSERT(fabs(pos / 1e5 - 0.5) < 5 * 0.5 / sqrt(1e5) + 0.01);
    CU_ASSERT(fabs(q.sd - 1.0) < 0.02);
    CU_ASSERT(q.excess_kurtosis < -1.9);
    CU_ASSERT(q.ks > 0.3 && q.ks < 0.36);
    xb_noise_dev_free(s);
}

static void test_silent_device_refused(void)
{
    double p[64];
    params_of("stmram", p);                     /* physical mode: read errors ~ 1e-24 */
    set_param("stmram", "sense_noise", p, 0);
    const size_t n[1] = { 100 };
    xb_noise_dev *s = NULL;
    xb_err e = {0};
    CU_ASSERT_EQUAL(xb_noise_dev_alloc(&s, xb_device_find("stmram"), p, n, 1, 8, 0, 1, NULL, &e), XB_EINVAL);
    CU_ASSERT(s == NULL && strstr(e.msg, "read noise") != NULL);
    CU_ASSERT_EQUAL(xb_noise_dev_alloc(&s, xb_device_find("softbounds"), p, n, 1, 8, 0, 1, NULL, &e), XB_EINVAL);
}

/* ---- the digital path ---- */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) { h ^= c[i]; h *= 1099511628211ull; }
    return h;
}

typedef struct { uint32_t seed; } zig_ctx;

/* the digital draw, through the hook */
static void zig_hook(void *ctx, uint32_t row, uint32_t array, uint32_t epoch, size_t n, float *eps)
{
    const xb_rng r = xb_rng_for_row(((zig_ctx *)ctx)->seed, XB_RNG_SAMPLE, array, row, epoch);
    xb_rng_fill_normal_zig(&r, 0, n, eps);
}

static uint64_t run_hash(unsigned S, xb_mesu_noise_fn hook, void *ctx)
{
    const xb_mesu_cfg c = { .nlayers = 2, .sizes = { 20, 16, 4 }, .lr_mu = 1, .lr_sigma = 1,
                            .sigma_prior = 0.5, .memory = 1e3, .mu_init_gain = 1.414,
                            .sigma_init = 0.1, .mc_train = S, .mc_test = 3, .seed = 11,
                            .noise = hook, .noise_ctx = ctx };
    xb_mesu *m;
    xb_err e = {0};
    if (xb_mesu_alloc(&m, &c, &e)) return 0;
    const xb_rng r = xb_rng_for_row(4, XB_RNG_TEST, 0, 0, 0);
    static float x[32 * 20];
    xb_rng_fill_uniform(&r, 0, 32 * 20, x);
    for (int t = 0; t < 200; t++) xb_mesu_step(m, x + (t % 32) * 20, (unsigned)(t % 4));
    float p[32 * 3 * 4];
    xb_mesu_sample_probs(m, x, 32, 3, p);
    uint64_t h = 1469598103934665603ull;
    for (size_t l = 0; l < 2; l++) {
        h = fnv(h, xb_mesu_mu(m, l), xb_mesu_nparams(m, l) * sizeof(float));
        h = fnv(h, xb_mesu_sigma(m, l), xb_mesu_nparams(m, l) * sizeof(float));
    }
    h = fnv(h, p, sizeof p);
    xb_mesu_free(m);
    return h;
}

/* noise = NULL gives the bits MESU gave before the hook existed (main at 7a099f0); a
 * deliberate change of the digital sampler must update these two constants. The hook
 * fed the same digital stream gives the same bits. */
static void test_digital_path_unchanged(void)
{
    zig_ctx z = { 11 };
    CU_ASSERT_EQUAL(run_hash(1, NULL, NULL), 0x0f4f4dab1ea22f9cull);
    CU_ASSERT_EQUAL(run_hash(2, NULL, NULL), 0x6e7ecce1c6b345d0ull);
    CU_ASSERT_EQUAL(run_hash(1, zig_hook, &z), run_hash(1, NULL, NULL));
    CU_ASSERT_EQUAL(run_hash(2, zig_hook, &z), run_hash(2, NULL, NULL));
}

/* MESU sampling through PCM read noise learns two Gaussian blobs like the digital one. */
static void test_mesu_device_noise_learns(void)
{
    double p[64];
    params_of("pcm", p);
    set_param("pcm", "g_init", p, 10e-6);
    const size_t n[2] = { 8 * 5, 2 * 9 };
    xb_noise_dev *s;
    xb_err e = {0};
    CU_ASSERT_EQUAL_FATAL(xb_noise_dev_alloc(&s, xb_device_find("pcm"), p, n, 2, 64, 1.0, 5, NULL, &e), XB_OK);
    const xb_mesu_cfg c = { .nlayers = 2, .sizes = { 4, 8, 2 }, .lr_mu = 1, .lr_sigma = 1,
                            .sigma_prior = 1, .memory = 3e5, .mu_init_gain = 1.414,
                            .sigma_init = 0.1, .mc_train = 1, .mc_test = 10, .seed = 5,
                            .noise = xb_noise_dev_draw, .noise_ctx = s };
    xb_mesu *m;
    CU_ASSERT_EQUAL_FATAL(xb_mesu_alloc(&m, &c, &e), XB_OK);
    CU_ASSERT(xb_test_mesu_blobs(m) >= 196);
    xb_noise_stats q;
    xb_noise_dev_stats(s, &q);
    CU_ASSERT(q.n >= 3000.0 * 58);               /* the samples came from the devices */
    xb_mesu_free(m);
    xb_noise_dev_free(s);
}

XB_SUITE(mesu_noise, XB_TEST(test_pcm_eps_moments), XB_TEST(test_stmram_eps_two_level),
         XB_TEST(test_silent_device_refused), XB_TEST(test_digital_path_unchanged),
         XB_TEST(test_mesu_device_noise_learns))
