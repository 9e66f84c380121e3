/* tests/test_rng_simd.c: the vectorised Philox (core/rng_simd.c). Each SIMD level the
 * CPU has is forced in turn and must give, bit for bit, the words of the scalar
 * Random123 philox4x32 (xb_rng_raw) and the fills of the scalar level, over many keys,
 * counters (including 32-bit wrap-around) and lengths (every tail of 16, 8 and 4). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "core/xb_param.h"
#include "devices/xb_device.h"
#include "tests/xb_test.h"

/* Lengths that exercise every tail of 16/8/4-wide batches and the 256-block chunks. */
static const size_t lens[] = { 0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 31, 33, 63, 64, 65,
                               255, 256, 257, 1023, 1024, 1025, 4099 };
enum { NLENS = sizeof lens / sizeof *lens, MAXLEN = 4099 * 5 + 64 };

static uint32_t lcg(uint32_t *s) { *s = *s * 1664525u + 1013904223u; return *s; }

/* The levels to test: those this CPU runs, above scalar. Returns how many. */
static int levels(int *out)
{
    int n = 0;
    for (int l = XB_RNG_SIMD_SSE41; l <= XB_RNG_SIMD_AVX512; l++)
        if (xb_rng_simd_supported(l)) out[n++] = l;
    return n;
}

static xb_rng some_rng(uint32_t *s)
{
    xb_rng r;
    r.key.v[0] = lcg(s); r.key.v[1] = lcg(s);
    r.epoch = lcg(s); r.array = lcg(s);
    return r;
}

static void test_force_and_levels(void)
{
    int lv[4];
    const int n = levels(lv);
    CU_ASSERT(xb_rng_simd_supported(XB_RNG_SIMD_SCALAR));
    CU_ASSERT(!xb_rng_simd_supported(XB_RNG_SIMD_AVX512 + 1));
    for (int i = 0; i < n; i++) CU_ASSERT_EQUAL(xb_rng_simd_force(lv[i]), lv[i]);
    CU_ASSERT_EQUAL(xb_rng_simd_force(XB_RNG_SIMD_SCALAR), XB_RNG_SIMD_SCALAR);
    CU_ASSERT_EQUAL(xb_rng_simd_level(), XB_RNG_SIMD_SCALAR);
    const int best = xb_rng_simd_force(-1);
    CU_ASSERT(best == (n ? lv[n - 1] : XB_RNG_SIMD_SCALAR));
    CU_ASSERT_EQUAL(xb_rng_simd_level(), best);
    printf("[rng_simd: levels above scalar on this CPU: %d, best %d] ", n, best);
}

/* Raw words, both counter directions, against xb_rng_raw block by block. */
static void test_raw_equals_scalar(void)
{
    int lv[4];
    const int nl = levels(lv);
    uint32_t *w = xb_malloc(MAXLEN * sizeof *w);
    CU_ASSERT_FATAL(w != NULL);
    size_t bad = 0, checked = 0;
    for (int li = 0; li < nl; li++) {
        xb_rng_simd_force(lv[li]);
        uint32_t s = 12345u + (uint32_t)li;
        for (int trial = 0; trial < 6; trial++) {
            const xb_rng r = some_rng(&s);
            for (size_t t = 0; t < NLENS; t++) {
                const size_t nb = lens[t];
                /* first counters: small, random, and just below the 2^32 wrap */
                const uint32_t c0 = trial % 3 == 0 ? 0 : trial % 3 == 1 ? lcg(&s) : 0xfffffff9u;
                const uint32_t d = lcg(&s);
                w[4 * nb] = 0xdeadbeefu;                          /* guard past the end */
                xb_rng_raw_fill(&r, c0, d, nb, w);
                for (size_t b = 0; b < nb; b++) {
                    const philox4x32_ctr_t x = xb_rng_raw(&r, c0 + (uint32_t)b, d);
                    bad += memcmp(x.v, w + 4 * b, sizeof x.v) != 0;
                    checked++;
                }
                bad += w[4 * nb] != 0xdeadbeefu;
                uint32_t *cl = w + 4 * nb + 1;                      /* counters by index */
                for (size_t b = 0; b < nb; b++) cl[b] = lcg(&s);
                xb_rng_raw_cols(&r, cl, d, nb, w);
                for (size_t b = 0; b < nb; b++) {
                    const philox4x32_ctr_t x = xb_rng_raw(&r, cl[b], d);
                    bad += memcmp(x.v, w + 4 * b, sizeof x.v) != 0;
                    checked++;
                }
                bad += w[4 * nb] != 0xdeadbeefu;
                xb_rng_raw_draws(&r, d, c0, nb, w);
                for (size_t b = 0; b < nb; b++) {
                    const philox4x32_ctr_t x = xb_rng_raw(&r, d, c0 + (uint32_t)b);
                    bad += memcmp(x.v, w + 4 * b, sizeof x.v) != 0;
                    checked++;
                }
                bad += w[4 * nb] != 0xdeadbeefu;
            }
        }
    }
    xb_rng_simd_force(-1);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(nl == 0 || checked > 100000);
    xb_free(w);
}

/* The known-answer vectors of Random123 (as in tests/test_rng.c), through every level
 * with a 16-block batch whose block 5 carries the vector's counter. */
static void test_kat_every_level(void)
{
    static const uint32_t kat[3][10] = {
        { 0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
        { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
          0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
        { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
          0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
    };
    for (int l = XB_RNG_SIMD_SCALAR; l <= XB_RNG_SIMD_AVX512; l++) {
        if (!xb_rng_simd_supported(l)) continue;
        xb_rng_simd_force(l);
        for (int k = 0; k < 3; k++) {
            const xb_rng r = { .key = {{ kat[k][4], kat[k][5] }}, .epoch = kat[k][2], .array = kat[k][3] };
            uint32_t w[64], v[64];
            xb_rng_raw_fill(&r, kat[k][0] - 5, kat[k][1], 16, w);
            xb_rng_raw_draws(&r, kat[k][0], kat[k][1] - 5, 16, v);
            for (int i = 0; i < 4; i++) {
                CU_ASSERT_EQUAL(w[20 + i], kat[k][6 + i]);
                CU_ASSERT_EQUAL(v[20 + i], kat[k][6 + i]);
            }
        }
    }
    xb_rng_simd_force(-1);
}

static void run_kind(int kind, const xb_rng *r, uint32_t d, size_t n, const uint32_t *cols,
                     double p, unsigned nbits, float *o, uint64_t *ow)
{
    switch (kind) {
    case 0: xb_rng_fill_uniform(r, d, n, o); break;
    case 1: xb_rng_fill_normal(r, d, n, o); break;
    case 2: xb_rng_fill_normal_zig(r, d, n, o); break;
    case 3: xb_rng_normal_cols(r, cols, d, n, o); break;
    case 4: xb_rng_normal_zig_cols(r, cols, d, n, o); break;
    default: xb_rng_bernoulli_bits(r, (uint32_t)n, d, p, nbits, ow); break;
    }
}

/* Every fill at every level equals the scalar level's fill, memcmp; the per-device
 * normals equal xb_rng_normal itself. */
static void test_fills_equal_scalar(void)
{
    int lv[4];
    const int nl = levels(lv);
    float *a = xb_malloc(MAXLEN * sizeof *a), *b = xb_malloc(MAXLEN * sizeof *b);
    uint32_t *cols = xb_malloc(MAXLEN * sizeof *cols);
    uint64_t wa[64], wb[64];
    CU_ASSERT_FATAL(a && b && cols);
    int bad[6] = {0}, direct = 0;
    uint32_t s = 777;
    for (int trial = 0; trial < 4; trial++) {
        const xb_rng r = some_rng(&s);
        const uint32_t d = lcg(&s);
        const double p = (trial + 1) / 5.0;
        for (size_t t = 0; t < NLENS; t++) {
            const size_t n = lens[t] + (size_t)trial;          /* all tails mod 4 too */
            const unsigned nbits = (unsigned)(n % 4000);
            for (size_t i = 0; i < n; i++) cols[i] = trial & 1 ? lcg(&s) : (uint32_t)(3 * i);
            for (int kind = 0; kind < 6; kind++) {
                xb_rng_simd_force(XB_RNG_SIMD_SCALAR);
                run_kind(kind, &r, d, n, cols, p, nbits, b, wb);
                if (kind == 3 || kind == 4)
                    for (size_t i = 0; i < n; i++) {
                        const float z = kind == 3 ? xb_rng_normal(&r, cols[i], d)
                                                  : xb_rng_normal_zig(&r, cols[i], d);
                        direct += memcmp(&z, b + i, sizeof z) != 0;
                    }
                for (int li = 0; li < nl; li++) {
                    xb_rng_simd_force(lv[li]);
                    memset(a, 0xff, n * sizeof *a);
                    memset(wa, 0xff, sizeof wa);
                    run_kind(kind, &r, d, n, cols, p, nbits, a, wa);
                    bad[kind] += kind < 5 ? memcmp(a, b, n * sizeof *a) != 0
                                          : memcmp(wa, wb, (nbits + 63) / 64 * sizeof *wa) != 0;
                }
            }
        }
    }
    xb_rng_simd_force(-1);
    for (int k = 0; k < 6; k++) {
        if (bad[k]) printf("[fill kind %d differs from scalar in %d cases] ", k, bad[k]);
        CU_ASSERT_EQUAL(bad[k], 0);
    }
    CU_ASSERT_EQUAL(direct, 0);
    xb_free(a); xb_free(b); xb_free(cols);
}

/* The plain per-pulse SoftBounds kernel (DEVICES.md section 1, fields w, dw_up, dw_down,
 * b_max, b_min first), drawing each normal with xb_rng_normal_zig: the reference for the
 * batched kernel of devices/pulsed.c, which must give the same bits. */
static void ref_softbounds(xb_row *r, double sigma_d, int additive, const int16_t *n, const xb_rng *rng)
{
    float *w = r->f[0];
    const float *up = r->f[1], *dn = r->f[2], *hi = r->f[3], *lo = r->f[4];
    const float sigma = (float)sigma_d;
    for (size_t j = 0; j < r->n; j++) {
        float x = w[j];
        const float step0 = n[j] > 0 ? up[j] : dn[j];
        for (int q = 0; q < abs(n[j]); q++) {
            const float scale = n[j] > 0 ? 1 - x / hi[j] : 1 - x / lo[j];
            const float z = sigma > 0 ? sigma * xb_rng_normal_zig(rng, (uint32_t)j, (uint32_t)q) : 0;
            x += additive ? step0 * scale + fabsf(step0) * z : step0 * scale * (1 + z);
            x = fminf(fmaxf(x, lo[j]), hi[j]);
        }
        w[j] = x;
    }
}

static void test_pulsed_batches_equal_per_pulse(void)
{
    enum { NC = 1000 };                       /* 3 chunks of 256 and a tail of 232 */
    const xb_device_type *T = xb_device_find("softbounds");
    CU_ASSERT_FATAL(T != NULL && T->nfields <= 8);
    float *blk = xb_malloc(2 * 8 * NC * sizeof *blk);
    int16_t *cnt = xb_malloc(NC * sizeof *cnt);
    CU_ASSERT_FATAL(blk && cnt);
    double p[64];
    xb_param_defaults(T->params, T->nparams, p);
    const ptrdiff_t kstd = xb_param_index(T->params, T->nparams, "dw_min_std");
    const ptrdiff_t kadd = xb_param_index(T->params, T->nparams, "additive_noise");
    const ptrdiff_t kdw = xb_param_index(T->params, T->nparams, "dw_min");
    CU_ASSERT_FATAL(kstd >= 0 && kadd >= 0 && kdw >= 0);
    p[kdw] = 0.02;                            /* reach the bounds within the test */
    int bad = 0, moved = 0;
    for (int variant = 0; variant < 3; variant++) {
        p[kstd] = variant == 2 ? 0 : 0.7;
        p[kadd] = variant == 1;
        xb_row a = { .n = NC }, b = { .n = NC };
        for (size_t k = 0; k < T->nfields; k++) { a.f[k] = blk + k * NC; b.f[k] = blk + (8 + k) * NC; }
        const xb_rng d2d = xb_rng_for_row(5, XB_RNG_D2D, 0, 3, 0);
        T->init_row(&a, p, &d2d);
        for (int l = XB_RNG_SIMD_SCALAR; l <= XB_RNG_SIMD_AVX512; l++) {
            if (!xb_rng_simd_supported(l)) continue;
            xb_rng_simd_force(l);
            for (size_t k = 0; k < T->nfields; k++) memcpy(b.f[k], a.f[k], NC * sizeof(float));
            float *ref = xb_malloc(NC * sizeof *ref);
            CU_ASSERT_FATAL(ref != NULL);
            for (uint32_t step = 0; step < 20; step++) {
                const xb_rng c2c = xb_rng_for_row(5, XB_RNG_C2C, 0, 3, step);
                const xb_rng cr = xb_rng_for_row(8, XB_RNG_TEST, 0, step, 0);
                for (size_t j = 0; j < NC; j++) {         /* counts in [-6, 6], ~1/3 zero */
                    float u[4];
                    xb_rng_u4(&cr, (uint32_t)j, 0, u);
                    cnt[j] = u[1] < 0.33f ? 0 : (int16_t)(u[0] * 13) - 6;
                }
                memcpy(ref, b.f[0], NC * sizeof *ref);
                xb_row rr = b;
                rr.f[0] = ref;
                ref_softbounds(&rr, p[kstd], variant == 1, cnt, &c2c);
                const float before = b.f[0][17];
                T->pulse_row(&b, p, cnt, &c2c);
                bad += memcmp(ref, b.f[0], NC * sizeof *ref) != 0;
                moved += before != b.f[0][17];
            }
            xb_free(ref);
        }
    }
    xb_rng_simd_force(-1);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(moved > 10);
    xb_free(blk);
    xb_free(cnt);
}

/* The per-device ziggurat is a standard normal: moments and two tail masses, one
 * beyond the base layer (3.44), where the slow path draws from the tail stream. */
static void test_normal_zig_cols_distribution(void)
{
    enum { NZ = 1 << 20 };
    float *z = xb_malloc(NZ * sizeof *z);
    uint32_t *cols = xb_malloc(NZ * sizeof *cols);
    CU_ASSERT_FATAL(z && cols);
    for (uint32_t i = 0; i < NZ; i++) cols[i] = 7 * i + 3;
    const xb_rng r = xb_rng_for_row(9, XB_RNG_TEST, 2, 4, 6);
    xb_rng_normal_zig_cols(&r, cols, 5, NZ, z);
    double s = 0, s2 = 0, s4 = 0;
    size_t t2 = 0, t35 = 0;
    for (size_t i = 0; i < NZ; i++) {
        s += z[i]; s2 += (double)z[i] * z[i]; s4 += (double)z[i] * z[i] * z[i] * z[i];
        t2 += fabsf(z[i]) > 2.0f;
        t35 += fabsf(z[i]) > 3.5f;
    }
    const double m = s / NZ, v = s2 / NZ;
    CU_ASSERT(fabs(m) < 5 * sqrt(1.0 / NZ));
    CU_ASSERT(fabs(v - 1) < 5 * sqrt(2.0 / NZ));                /* var of z^2 is 2 */
    CU_ASSERT(fabs(s4 / NZ - 3) < 5 * sqrt(96.0 / NZ));         /* var of z^4 is 105 - 9 */
    const double p2 = 0.0455002638963584, p35 = 4.652581580710e-4;   /* 2 Q(2), 2 Q(3.5) */
    CU_ASSERT(fabs((double)t2 / NZ - p2) < 5 * sqrt(p2 * (1 - p2) / NZ));
    CU_ASSERT(fabs((double)t35 / NZ - p35) < 5 * sqrt(p35 * (1 - p35) / NZ));
    xb_free(z);
    xb_free(cols);
}

XB_SUITE(rng_simd, XB_TEST(test_force_and_levels), XB_TEST(test_raw_equals_scalar),
         XB_TEST(test_kat_every_level), XB_TEST(test_fills_equal_scalar),
         XB_TEST(test_pulsed_batches_equal_per_pulse),
         XB_TEST(test_normal_zig_cols_distribution))
