/* tests/test_rng.c: counter-based streams (core/xb_rng.h). Expected values come from
 * Random123's published known-answer vectors and from the distributions' moments. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "tests/xb_test.h"

static void test_philox_kat(void)   /* Random123 kat_vectors, philox4x32 with 10 rounds */
{
    static const uint32_t kat[3][10] = {
        { 0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
        { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
          0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
        { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
          0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
    };
    for (int k = 0; k < 3; k++) {
        const philox4x32_ctr_t c = {{ kat[k][0], kat[k][1], kat[k][2], kat[k][3] }};
        const philox4x32_key_t key = {{ kat[k][4], kat[k][5] }};
        const philox4x32_ctr_t x = philox4x32(c, key);
        for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(x.v[i], kat[k][6 + i]);
        /* and through our stream layout: key {seed ^ purpose, row}, ctr {col, draw, epoch, array} */
        xb_rng r = { .key = key, .epoch = kat[k][2], .array = kat[k][3] };
        const philox4x32_ctr_t y = xb_rng_raw(&r, kat[k][0], kat[k][1]);
        for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(y.v[i], kat[k][6 + i]);
    }
}

enum { N = 1 << 20 };
static double ks_stat(double *x, size_t n, const xb_dist *d);

static void moments(const float *x, size_t n, double *mean, double *var)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    for (size_t i = 0; i < n; i++) s2 += (x[i] - *mean) * (x[i] - *mean);
    *var = s2 / (n - 1);
}

static void test_uniform_moments(void)
{
    float *u = xb_malloc(N * sizeof *u);
    const xb_rng r = xb_rng_for_row(42, XB_RNG_TEST, 0, 3, 0);
    xb_rng_fill_uniform(&r, 7, N, u);
    double m, v;
    moments(u, N, &m, &v);
    /* mean: sd sqrt(1/12/N); variance: sd sqrt((mu4 - sigma^4)/N), mu4 = 1/80 */
    CU_ASSERT(fabs(m - 0.5) < 5 * sqrt(1.0 / 12 / N));
    CU_ASSERT(fabs(v - 1.0 / 12) < 5 * sqrt((1.0 / 80 - 1.0 / 144) / N));
    for (size_t i = 0; i < N; i++)
        if (!(u[i] > 0 && u[i] < 1)) { CU_FAIL("uniform outside (0,1)"); break; }
    xb_free(u);
}

static void test_normal_moments(void)
{
    float *z = xb_malloc(N * sizeof *z);
    const xb_rng r = xb_rng_for_row(5, XB_RNG_TEST, 1, 0, 9);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) xb_rng_fill_normal(&r, 0, N, z);
        else for (size_t i = 0; i < N; i++) z[i] = xb_rng_normal(&r, (uint32_t)i, 3);
        double m, v, s4 = 0;
        moments(z, N, &m, &v);
        for (size_t i = 0; i < N; i++) s4 += pow(z[i], 4);
        CU_ASSERT(fabs(m) < 5 / sqrt(N));
        CU_ASSERT(fabs(v - 1) < 5 * sqrt(2.0 / N));
        CU_ASSERT(fabs(s4 / N - 3) < 5 * sqrt(96.0 / N));   /* Var[z^4] = 105 - 9 */
    }
    double s = 0, s2 = 0;
    for (int i = 0; i < 200000; i++) {
        const double x = xb_rng_normal_d(&r, (uint32_t)i, 1);
        s += x; s2 += x * x;
    }
    CU_ASSERT(fabs(s / 200000) < 5 / sqrt(200000.0));
    CU_ASSERT(fabs(s2 / 200000 - 1) < 5 * sqrt(2.0 / 200000));
    xb_free(z);
}

static void test_ziggurat(void)
{
    float *z = xb_malloc(N * sizeof *z);
    const xb_rng r = xb_rng_for_row(8, XB_RNG_SAMPLE, 2, 1, 3);
    xb_rng_fill_normal_zig(&r, 5, N, z);
    double m, v, s4 = 0;
    moments(z, N, &m, &v);
    for (size_t i = 0; i < N; i++) s4 += pow(z[i], 4);
    CU_ASSERT(fabs(m) < 5 / sqrt(N));
    CU_ASSERT(fabs(v - 1) < 5 * sqrt(2.0 / N));
    CU_ASSERT(fabs(s4 / N - 3) < 5 * sqrt(96.0 / N));
    /* tail mass beyond the base layer (r = 3.4426) and beyond 4: 2 Q(r), 2 Q(4) */
    long beyond_r = 0, beyond_4 = 0;
    for (size_t i = 0; i < N; i++) { beyond_r += fabsf(z[i]) > 3.442620f; beyond_4 += fabsf(z[i]) > 4; }
    const double pr = 5.7612e-4, p4 = 6.3342e-5;      /* erfc(r/sqrt2), erfc(4/sqrt2) */
    CU_ASSERT(fabs(beyond_r - N * pr) < 5 * sqrt(N * pr));
    CU_ASSERT(fabs(beyond_4 - N * p4) < 5 * sqrt(N * p4));
    /* KS against Phi on a subsample of 20000 */
    static double x[20000];
    for (int i = 0; i < 20000; i++) x[i] = z[i * 50];
    const xb_dist phi = { XB_DIST_NORMAL, 0, 0, 1, -INFINITY, INFINITY };
    CU_ASSERT(ks_stat(x, 20000, &phi) < 1.95 / sqrt(20000.0));
    /* pure: a partial fill gives the same prefix */
    float w[37];
    xb_rng_fill_normal_zig(&r, 5, 37, w);
    CU_ASSERT(memcmp(w, z, sizeof w) == 0);
    xb_free(z);
}

static void test_bernoulli_bits(void)
{
    const xb_rng r = xb_rng_for_row(11, XB_RNG_BITS, 2, 5, 1);
    const double ps[] = { 0.0, 0.03, 0.3, 0.77, 1.0 };
    for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
        long ones = 0;
        const long streams = 20000;
        const unsigned nbits = 70;                     /* two words, 6 bits in the second */
        for (long s = 0; s < streams; s++) {
            uint64_t w[2];
            xb_rng_bernoulli_bits(&r, (uint32_t)s, 0, ps[k], nbits, w);
            ones += __builtin_popcountll(w[0]) + __builtin_popcountll(w[1]);
            CU_ASSERT_EQUAL(w[1] >> 6, 0);            /* bits beyond nbits stay 0 */
        }
        const double n = (double)streams * nbits, p = ps[k];
        CU_ASSERT(fabs(ones - n * p) <= 5 * sqrt(n * p * (1 - p)) + 1e-9);
    }
}

static void test_binomial_moments(void)
{
    const struct { uint32_t n; double p; } cases[] = { { 20, 0.3 }, { 1000, 0.01 },
                                                      { 100000, 0.5 }, { 10, 0.97 }, { 5, 0 } };
    const xb_rng r = xb_rng_for_row(3, XB_RNG_TEST, 0, 0, 0);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const int M = 100000;
        double s = 0, s2 = 0;
        for (int i = 0; i < M; i++) {
            const uint32_t x = xb_rng_binomial(&r, (uint32_t)i, (uint32_t)k, cases[k].p, cases[k].n);
            CU_ASSERT_FATAL(x <= cases[k].n);
            s += x;
            s2 += (double)x * x;
        }
        const double n = cases[k].n, p = cases[k].p, mu = n * p, var = n * p * (1 - p);
        const double m = s / M, v = s2 / M - m * m;
        CU_ASSERT(fabs(m - mu) <= 5 * sqrt(var / M) + 1e-12);
        /* Var of the sample variance ~ (mu4 - var^2)/M, mu4 = var(1 + 3(n-2)var/n)... use a
         * conservative 5 * var * sqrt(3/M) + skew term */
        CU_ASSERT(fabs(v - var) <= 5 * var * sqrt(3.0 / M) + 1e-12);
    }
}

static void fill_matrix(float *a, int rows, int cols, int nthreads)
{
    #pragma omp parallel for schedule(dynamic, 3) num_threads(nthreads)
    for (int i = 0; i < rows; i++) {
        const xb_rng r = xb_rng_for_row(77, XB_RNG_C2C, 4, (uint32_t)i, 12);
        for (int j = 0; j < cols; j++) a[i * cols + j] = xb_rng_normal(&r, (uint32_t)j, 0);
        xb_rng_fill_uniform(&r, 1, (size_t)cols / 2, a + i * cols);
    }
}

static void test_threads_identical(void)
{
    enum { R = 97, C = 131 };
    static float a1[R * C], a2[R * C], a7[R * C];
    fill_matrix(a1, R, C, 1);
    fill_matrix(a2, R, C, 2);
    fill_matrix(a7, R, C, 7);
    CU_ASSERT(memcmp(a1, a2, sizeof a1) == 0);
    CU_ASSERT(memcmp(a1, a7, sizeof a1) == 0);
    /* and different rows/purposes/seeds really differ */
    const xb_rng r1 = xb_rng_for_row(77, XB_RNG_C2C, 4, 0, 12), r2 = xb_rng_for_row(77, XB_RNG_D2D, 4, 0, 12);
    CU_ASSERT(xb_rng_raw(&r1, 0, 0).v[0] != xb_rng_raw(&r2, 0, 0).v[0]);
}

static double ks_stat(double *x, size_t n, const xb_dist *d);
static double ks_stat(double *x, size_t n, const xb_dist *d)
{
    int cmp(const void *a, const void *b);
    qsort(x, n, sizeof *x, cmp);
    double dmax = 0;
    for (size_t i = 0; i < n; i++) {
        const double f = xb_dist_trunc_cdf(d, x[i]);
        const double a = fabs(f - (double)i / n), b = fabs((double)(i + 1) / n - f);
        if (a > dmax) dmax = a;
        if (b > dmax) dmax = b;
    }
    return dmax;
}

int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_truncated(void)
{
    /* the HfOx D2D laws of DEVICES.md section 2 */
    const xb_dist ds[] = {
        { XB_DIST_EXPON, 0, 3.7416e-5, 6.5647e-4, 3.74e-5, 0.0076 },
        { XB_DIST_LOGNORM, 0.80338, 0, 542.54, 41, 2000 },
        { XB_DIST_NORMAL, 0, 0.0052931, 0.053208, -0.15, 0.15 },
        { XB_DIST_NORMAL, 0, 0, 1, 6, 7 },                    /* far upper tail */
        { XB_DIST_UNIFORM, 0, -1, 2, -0.5, 0.25 },
    };
    const xb_rng r = xb_rng_for_row(9, XB_RNG_D2D, 0, 0, 0);
    enum { M = 20000 };
    static double x[M];
    for (size_t k = 0; k < sizeof ds / sizeof *ds; k++) {
        double s = 0;
        for (int i = 0; i < M; i++) {
            x[i] = xb_dist_trunc(&ds[k], xb_rng_uniform_d(&r, (uint32_t)i, (uint32_t)k));
            CU_ASSERT_FATAL(x[i] >= ds[k].lo && x[i] <= ds[k].hi);
            s += x[i];
        }
        /* KS at alpha = 0.001: D < 1.95 / sqrt(M) */
        CU_ASSERT(ks_stat(x, M, &ds[k]) < 1.95 / sqrt(M));
        if (k == 0) CU_ASSERT(fabs(s / M - 6.94e-4) < 0.02 * 6.94e-4);   /* DEVICES.md: E[m1] */
        if (k == 2) CU_ASSERT(fabs(s / M - 0.0050663) < 5 * 0.05 / sqrt(M)); /* closed form */
        if (k == 3) CU_ASSERT(fabs(s / M - 6.15721) < 5 * 0.16 / sqrt(M)); /* (phi(6)-phi(7))/(Q(6)-Q(7)); sd < 0.16 */
    }
}

static void test_permutation(void)
{
    enum { P = 784 };
    uint32_t a[P], b[P], c[P];
    int seen[P] = {0};
    xb_rng_permutation(1, XB_RNG_PERM, 0, P, a);
    xb_rng_permutation(1, XB_RNG_PERM, 0, P, b);
    xb_rng_permutation(1, XB_RNG_PERM, 1, P, c);
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    CU_ASSERT(memcmp(a, c, sizeof a) != 0);
    for (int i = 0; i < P; i++) seen[a[i]]++;
    for (int i = 0; i < P; i++) CU_ASSERT_EQUAL(seen[i], 1);
    /* position 0 takes each value with probability 1/P: check over many streams */
    int first_small = 0;
    for (uint32_t s = 0; s < 4000; s++) {
        xb_rng_permutation(2, XB_RNG_PERM, s, P, a);
        first_small += a[0] < P / 2;
    }
    CU_ASSERT(abs(first_small - 2000) < 5 * 32);
}

static void test_gsl_bridge(void)
{
    gsl_rng *g = xb_rng_gsl_alloc(3, XB_RNG_SHUFFLE, 1), *h = xb_rng_gsl_alloc(3, XB_RNG_SHUFFLE, 1);
    CU_ASSERT_FATAL(g && h);
    double s = 0;
    for (int i = 0; i < 100000; i++) {
        const double u = gsl_rng_uniform(g);
        CU_ASSERT_FATAL(u == gsl_rng_uniform(h));
        s += u;
    }
    CU_ASSERT(fabs(s / 100000 - 0.5) < 5 * sqrt(1.0 / 12 / 100000));
    gsl_rng_free(g);
    gsl_rng_free(h);
}

XB_SUITE(rng, XB_TEST(test_philox_kat), XB_TEST(test_uniform_moments),
         XB_TEST(test_normal_moments), XB_TEST(test_ziggurat), XB_TEST(test_bernoulli_bits),
         XB_TEST(test_binomial_moments), XB_TEST(test_threads_identical),
         XB_TEST(test_truncated), XB_TEST(test_permutation), XB_TEST(test_gsl_bridge))
