/* tests/test_crossbar.c: arrays, layers, peripherals, updates and the energy ledger.
 * Expected values come from the formulas of ALGORITHMS.md sections 0-1, DEVICES.md
 * sections 8-9 and STYLE.md section 7, never from the code under test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>

#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "crossbar/xb_array.h"
#include "crossbar/xb_energy.h"
#include "crossbar/xb_irdrop.h"
#include "crossbar/xb_layer.h"
#include "tests/xb_test.h"

extern const xb_device_type xb_device_linear, xb_device_softbounds;

static const double U = 0x1p-24;                         /* float unit roundoff */
static double gamma_n(size_t n) { return n * U / (1.0 - n * U); }

/* Parameters of `linear` with every spread and noise off and wide bounds. */
static void linear_quiet(double *p)
{
    const xb_device_type *T = &xb_device_linear;
    xb_param_defaults(T->params, T->nparams, p);
    const char *zero[] = { "dw_min_dtod", "dw_min_std", "up_down", "up_down_dtod", "w_max_dtod",
                           "w_min_dtod", "gamma_dtod" };
    for (size_t k = 0; k < sizeof zero / sizeof *zero; k++)
        p[xb_param_index(T->params, T->nparams, zero[k])] = 0.0;
    p[xb_param_index(T->params, T->nparams, "w_max")] = 100.0;
    p[xb_param_index(T->params, T->nparams, "w_min")] = -100.0;
}

static void xbar_ideal(double *xp)
{
    xb_param_defaults(xb_section_crossbar.params, XB_XB_NPARAMS, xp);
    xp[XB_XB_IDEAL] = 1;
}

static float unif(const xb_rng *r, uint32_t k, uint32_t d, double lo, double hi)
{
    return (float)(lo + (hi - lo) * xb_rng_uniform_d(r, k, d));
}

/* Write device weights of the `linear` model directly (state field 0 is w). */
static void set_array_w(xb_array *a, const xb_rng *r, uint32_t salt)
{
    for (size_t i = 0; i < xb_array_rows(a); i++) {
        xb_row row = xb_array_row(a, i);
        for (size_t j = 0; j < xb_array_cols(a); j++)
            row.f[0][j] = unif(r, (uint32_t)(i * 4096 + j), salt, -0.5, 0.5);
        xb_array_touch(a, i);
    }
}

/* ---------------------------------------------------------------- reads */

static void check_forward_array(size_t R, size_t C, size_t batch)
{
    double p[64];
    linear_quiet(p);
    xb_array *a;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_array_alloc(&a, &xb_device_linear, p, R, C, 3, 0, &err) == XB_OK);
    const xb_rng r = xb_rng_for_row(11, XB_RNG_TEST, 0, 0, 0);
    set_array_w(a, &r, 0);
    float *V = malloc(batch * R * sizeof *V), *I = malloc(batch * C * sizeof *I);
    float *D = malloc(batch * C * sizeof *D), *J = malloc(batch * R * sizeof *J);
    for (size_t k = 0; k < batch * R; k++) V[k] = unif(&r, (uint32_t)k, 1, -0.2, 0.2);
    for (size_t k = 0; k < batch * C; k++) D[k] = unif(&r, (uint32_t)k, 2, -0.2, 0.2);
    xb_array_forward(a, V, batch, I, NULL, NULL);
    xb_array_transpose(a, D, batch, J, NULL, NULL);
    const float *G = xb_array_G(a);
    int bad = 0;
    for (size_t b = 0; b < batch; b++) {
        for (size_t j = 0; j < C; j++) {                   /* I_j = sum_i G_ij V_i */
            double ref = 0, mag = 0;
            for (size_t i = 0; i < R; i++) {
                const double t = (double)G[i * C + j] * V[b * R + i];
                ref += t; mag += fabs(t);
            }
            bad += !(fabs(I[b * C + j] - ref) <= gamma_n(R) * mag);
        }
        for (size_t i = 0; i < R; i++) {                   /* J_i = sum_j G_ij D_j */
            double ref = 0, mag = 0;
            for (size_t j = 0; j < C; j++) {
                const double t = (double)G[i * C + j] * D[b * C + j];
                ref += t; mag += fabs(t);
            }
            bad += !(fabs(J[b * R + i] - ref) <= gamma_n(C) * mag);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(V); free(I); free(D); free(J);
    xb_array_free(a);
}

static void test_array_mvm_higham(void)
{
    check_forward_array(37, 53, 1);
    check_forward_array(200, 90, 7);
}

/* Layer read with peripherals off against the mapping formula in double:
 * reference y_o = sum_k (G_ko - g_ref)/g_unit x_k, differential (G+ - G-)/g_unit.
 * Bound: the float sums of G x and of x (gamma_n each), the subtraction, the product
 * by the float g_ref and the scaling (a few u more): gamma_{n+4} times the magnitudes. */
static void check_layer_ideal(int mapping, size_t out, size_t in, size_t tr, size_t tc, int bias)
{
    double p[64], xp[XB_XB_NPARAMS];
    linear_quiet(p);
    xbar_ideal(xp);
    xp[XB_XB_MAPPING] = mapping;
    xp[XB_XB_TILE_ROWS] = tr;
    xp[XB_XB_TILE_COLS] = tc;
    const xb_layer_spec s = { .type = &xb_device_linear, .dev_params = p, .xbar_params = xp,
                              .out = out, .in = in, .bias = bias, .seed = 5, .id = 1 };
    xb_layer *L;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_layer_alloc(&L, &s, &err) == XB_OK);
    const xb_rng r = xb_rng_for_row(12, XB_RNG_TEST, 0, 0, 0);
    for (size_t t = 0; t < xb_layer_ntiles(L); t++) {
        xb_array *m;
        xb_array *a = xb_layer_tile(L, t, &m, NULL, NULL);
        set_array_w(a, &r, (uint32_t)(2 * t));
        if (m) set_array_w(m, &r, (uint32_t)(2 * t + 1));
    }
    const size_t nin = in + (size_t)bias, B = 3;
    /* Physical G per logical weight, gathered tile by tile. */
    double *Gp = malloc(out * nin * sizeof *Gp), *Gm = malloc(out * nin * sizeof *Gm);
    for (size_t t = 0; t < xb_layer_ntiles(L); t++) {
        xb_array *m;
        size_t r0, c0;
        xb_array *a = xb_layer_tile(L, t, &m, &r0, &c0);
        const float *G = xb_array_G(a), *H = m ? xb_array_G(m) : NULL;
        const size_t nr = xb_array_rows(a), nc = xb_array_cols(a);
        CU_ASSERT(nr <= tr && nc <= tc);
        for (size_t i = 0; i < nr; i++)
            for (size_t j = 0; j < nc; j++) {
                Gp[(c0 + j) * nin + r0 + i] = G[i * nc + j];
                Gm[(c0 + j) * nin + r0 + i] = H ? H[i * nc + j] : NAN;
            }
    }
    const double gref = p[xb_param_index(xb_device_linear.params, xb_device_linear.nparams, "g_ref")];
    const double gu = xb_layer_g_unit(L);
    float *x = malloc(B * nin * sizeof *x), *y = malloc(B * out * sizeof *y);
    float *d = malloc(B * out * sizeof *d), *z = malloc(B * in * sizeof *z);
    for (size_t k = 0; k < B * in; k++) x[k] = unif(&r, (uint32_t)k, 3, -1, 1);
    for (size_t k = 0; k < B * out; k++) d[k] = unif(&r, (uint32_t)k, 4, -1, 1);
    xb_layer_forward(L, x, B, y, NULL);
    xb_layer_backward(L, d, B, z, NULL);
    const int diff = xb_layer_mapping(L) == XB_MAP_DIFFERENTIAL;
    int bad = 0;
    for (size_t b = 0; b < B; b++) {
        for (size_t o = 0; o < out; o++) {
            double ref = 0, mag = 0;
            for (size_t k = 0; k < nin; k++) {
                const double xk = k < in ? x[b * in + k] : 1.0;
                const double g = diff ? Gp[o * nin + k] - Gm[o * nin + k] : Gp[o * nin + k] - gref;
                ref += g * xk;
                mag += (fabs(Gp[o * nin + k]) + (diff ? fabs(Gm[o * nin + k]) : gref)) * fabs(xk);
            }
            ref /= gu;
            const double bound = gamma_n(nin + 4) * mag / gu + 4 * U * fabs(ref);
            bad += !(fabs(y[b * out + o] - ref) <= bound);
        }
        for (size_t k = 0; k < in; k++) {
            double ref = 0, mag = 0;
            for (size_t o = 0; o < out; o++) {
                const double g = diff ? Gp[o * nin + k] - Gm[o * nin + k] : Gp[o * nin + k] - gref;
                ref += g * d[b * out + o];
                mag += (fabs(Gp[o * nin + k]) + (diff ? fabs(Gm[o * nin + k]) : gref)) * fabs(d[b * out + o]);
            }
            ref /= gu;
            const double bound = gamma_n(out + 4) * mag / gu + 4 * U * fabs(ref);
            bad += !(fabs(z[b * in + k] - ref) <= bound);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(Gp); free(Gm); free(x); free(y); free(d); free(z);
    xb_layer_free(L);
}

static void test_layer_ideal_reference(void) { check_layer_ideal(XB_MAP_REFERENCE, 45, 70, 512, 512, 1); }
static void test_layer_ideal_differential(void) { check_layer_ideal(XB_MAP_DIFFERENTIAL, 33, 20, 512, 512, 0); }
static void test_layer_ideal_tiled(void)
{
    check_layer_ideal(XB_MAP_REFERENCE, 45, 70, 16, 8, 1);     /* 5 x 6 tiles, ragged edges */
    check_layer_ideal(XB_MAP_DIFFERENTIAL, 33, 20, 7, 9, 1);
}

/* The same weights on 1 tile and on 5 x 6 tiles: the two results are each within the
 * bound of the exact value, so they differ by at most twice the bound. */
static void test_tiled_equals_untiled(void)
{
    const size_t out = 45, in = 70, B = 2;
    double p[64], xp[XB_XB_NPARAMS];
    linear_quiet(p);
    xbar_ideal(xp);
    xb_layer *L[2];
    xb_err err = { 0 };
    for (int v = 0; v < 2; v++) {
        xp[XB_XB_TILE_ROWS] = v ? 16 : 512;
        xp[XB_XB_TILE_COLS] = v ? 8 : 512;
        const xb_layer_spec s = { .type = &xb_device_linear, .dev_params = p, .xbar_params = xp,
                                  .out = out, .in = in, .seed = 5, .id = 1 };
        CU_ASSERT_FATAL(xb_layer_alloc(&L[v], &s, &err) == XB_OK);
    }
    CU_ASSERT_EQUAL(xb_layer_ntiles(L[0]), 1);
    CU_ASSERT_EQUAL(xb_layer_ntiles(L[1]), 30);
    const xb_rng r = xb_rng_for_row(13, XB_RNG_TEST, 0, 0, 0);
    float *W = malloc(out * in * sizeof *W);
    for (size_t k = 0; k < out * in; k++) W[k] = unif(&r, (uint32_t)k, 0, -0.5, 0.5);
    for (int v = 0; v < 2; v++)                      /* state w of device (k, o) = W[o][k] */
        for (size_t t = 0; t < xb_layer_ntiles(L[v]); t++) {
            size_t r0, c0;
            xb_array *a = xb_layer_tile(L[v], t, NULL, &r0, &c0);
            for (size_t i = 0; i < xb_array_rows(a); i++) {
                xb_row row = xb_array_row(a, i);
                for (size_t j = 0; j < xb_array_cols(a); j++) row.f[0][j] = W[(c0 + j) * in + r0 + i];
                xb_array_touch(a, i);
            }
        }
    float *x = malloc(B * in * sizeof *x), *y0 = malloc(B * out * sizeof *y0), *y1 = malloc(B * out * sizeof *y1);
    for (size_t k = 0; k < B * in; k++) x[k] = unif(&r, (uint32_t)k, 1, -1, 1);
    xb_layer_forward(L[0], x, B, y0, NULL);
    xb_layer_forward(L[1], x, B, y1, NULL);
    const double gref = 1e-5, gu = xb_layer_g_unit(L[0]);
    int bad = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t o = 0; o < out; o++) {
            double mag = 0;
            for (size_t k = 0; k < in; k++) mag += (gref + fabs(W[o * in + k]) * gu) * fabs(x[b * in + k]) * 1.01;
            bad += !(fabs(y0[b * out + o] - y1[b * out + o]) <= 2 * gamma_n(in + 4) * mag / gu
                                                                   + 8 * U * fabs(y0[b * out + o]));
        }
    CU_ASSERT_EQUAL(bad, 0);
    free(W); free(x); free(y0); free(y1);
    xb_layer_free(L[0]);
    xb_layer_free(L[1]);
}

/* A layer of `linear` devices with peripherals on but every noise off. */
static xb_layer *quiet_layer(size_t out, size_t in, int adc_bits, double out_bound, int dac_bits,
                             double inp_bound)
{
    double p[64], xp[XB_XB_NPARAMS];
    linear_quiet(p);
    xb_param_defaults(xb_section_crossbar.params, XB_XB_NPARAMS, xp);
    xp[XB_XB_OUT_NOISE] = 0;
    xp[XB_XB_NOISE_MGMT] = 0;
    xp[XB_XB_BOUND_MGMT] = 0;
    xp[XB_XB_ADC_BITS] = adc_bits;
    xp[XB_XB_OUT_BOUND] = out_bound;
    xp[XB_XB_DAC_BITS] = dac_bits;
    xp[XB_XB_INP_BOUND] = inp_bound;
    const xb_layer_spec s = { .type = &xb_device_linear, .dev_params = p, .xbar_params = xp,
                              .out = out, .in = in, .seed = 9, .id = 2 };
    xb_layer *L = NULL;
    xb_err err = { 0 };
    CU_ASSERT(xb_layer_alloc(&L, &s, &err) == XB_OK);
    return L;
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static size_t distinct(float *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_float);
    size_t d = n ? 1 : 0;
    for (size_t k = 1; k < n; k++) d += v[k] != v[k - 1];
    return d;
}

/* ADC of b bits: at most 2^b distinct outputs; an output whose exact value is beyond
 * the bound reads exactly +-bound. Exact values from the weights in double. */
static void test_adc_levels_and_saturation(void)
{
    enum { OUT = 8, IN = 16, B = 400, BITS = 3 };
    xb_layer *L = quiet_layer(OUT, IN, BITS, 1.0, 0, 1.0);
    CU_ASSERT_FATAL(L != NULL);
    const xb_rng r = xb_rng_for_row(14, XB_RNG_TEST, 0, 0, 0);
    set_array_w(xb_layer_tile(L, 0, NULL, NULL, NULL), &r, 0);
    float W[OUT * IN];
    xb_layer_weights(L, W);
    static float x[B * IN], y[B * OUT];
    for (size_t k = 0; k < B * IN; k++) x[k] = unif(&r, (uint32_t)k, 1, -1, 1);
    xb_layer_forward(L, x, B, y, NULL);
    int sat_ok = 1, nsat = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t o = 0; o < OUT; o++) {
            double ref = 0;
            for (size_t k = 0; k < IN; k++) ref += (double)W[o * IN + k] * x[b * IN + k];
            if (fabs(ref) > 1.001) { nsat++; sat_ok &= y[b * OUT + o] == (ref > 0 ? 1.0f : -1.0f); }
            else if (fabs(ref) < 0.999) sat_ok &= fabsf(y[b * OUT + o]) < 1.0f + 1e-6f;
        }
    CU_ASSERT(nsat > 50);                       /* the inputs do reach saturation */
    CU_ASSERT(sat_ok);
    const size_t nd = distinct(y, B * OUT);
    CU_ASSERT(nd <= (1u << BITS));
    CU_ASSERT(nd >= (1u << BITS) - 1);          /* and use the levels */
    CU_ASSERT(xb_layer_stats_get(L)->adc_saturated >= nsat);
    /* per-column ranges: calibrated on these inputs, the same inputs never saturate,
     * and each bound is the column's largest |exact output| (<= out_bound = 1 here, so
     * raise out_bound first) */
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_OUT_BOUND, 100, NULL) == XB_OK);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_ADC_RANGE, 1, NULL) == XB_OK);
    xb_layer_calibrate_adc(L, x, B, NULL);
    xb_layer_stats_reset(L);
    xb_layer_forward(L, x, B, y, NULL);
    CU_ASSERT(xb_layer_stats_get(L)->adc_saturated <= 1.0 * OUT);   /* only each column's max */
    float colmax[OUT] = { 0 };
    for (size_t b = 0; b < B; b++)
        for (size_t o = 0; o < OUT; o++) colmax[o] = fmaxf(colmax[o], fabsf(y[b * OUT + o]));
    int range_ok = 1;
    for (size_t o = 0; o < OUT; o++) {
        double m = 0;
        for (size_t b = 0; b < B; b++) {
            double ref = 0;
            for (size_t k = 0; k < IN; k++) ref += (double)W[o * IN + k] * x[b * IN + k];
            m = fmax(m, fabs(ref));
        }
        range_ok &= fabs(colmax[o] - m) <= 1e-4 * m + 1e-6;    /* the max reads back as the bound */
    }
    CU_ASSERT(range_ok);
    xb_layer_free(L);
}

/* DAC of b bits on a 1 x 1 layer of weight w with an ideal ADC: y = w q(x), q with at
 * most 2^b levels, clipping at +-inp_bound. */
static void test_dac_levels_and_clipping(void)
{
    enum { B = 1000, BITS = 4 };
    xb_layer *L = quiet_layer(1, 1, 0, 1e6, BITS, 0.5);
    CU_ASSERT_FATAL(L != NULL);
    xb_array *a = xb_layer_tile(L, 0, NULL, NULL, NULL);
    xb_array_row(a, 0).f[0][0] = 0.25f;
    xb_array_touch(a, 0);
    static float x[B], y[B];
    const xb_rng r = xb_rng_for_row(15, XB_RNG_TEST, 0, 0, 0);
    for (size_t k = 0; k < B; k++) x[k] = unif(&r, (uint32_t)k, 0, -1, 1);
    xb_layer_forward(L, x, B, y, NULL);
    int clip_ok = 1;
    for (size_t k = 0; k < B; k++)
        if (fabsf(x[k]) > 0.5f) clip_ok &= fabsf(y[k] - (x[k] > 0 ? 0.125f : -0.125f)) < 1e-6f;
    CU_ASSERT(clip_ok);
    const size_t nd = distinct(y, B);
    CU_ASSERT(nd <= (1u << BITS) && nd >= (1u << BITS) - 1);
    CU_ASSERT(xb_layer_stats_get(L)->dac_clipped > 400);     /* half the inputs beyond 0.5 */
    xb_layer_free(L);
}

/* ---------------------------------------------------------------- updates */

/* Layer of quiet `linear` devices with dw_min 0.001 and a fixed C = 1. */
static xb_layer *update_layer(size_t out, size_t in, int bl, double *dw)
{
    double p[64], xp[XB_XB_NPARAMS];
    linear_quiet(p);
    xbar_ideal(xp);
    xp[XB_XB_BL] = bl;
    *dw = p[xb_param_index(xb_device_linear.params, xb_device_linear.nparams, "dw_min")];
    const xb_layer_spec s = { .type = &xb_device_linear, .dev_params = p, .xbar_params = xp,
                              .out = out, .in = in, .seed = 21, .id = 3 };
    xb_layer *L = NULL;
    xb_err err = { 0 };
    CU_ASSERT(xb_layer_alloc(&L, &s, &err) == XB_OK);
    return L;
}

static void read_w(xb_layer *L, size_t out, size_t in, double *w)
{
    xb_array *a = xb_layer_tile(L, 0, NULL, NULL, NULL);
    for (size_t k = 0; k < in; k++) {
        const xb_row row = xb_array_row(a, k);
        for (size_t o = 0; o < out; o++) w[o * in + k] = row.f[0][o];
    }
}

/* [GV16] / ALGORITHMS.md 1: with C = sqrt(lr/(BL dw)), n_ij ~ Binomial(BL, p_i p_j),
 * p = C|v|, so E[dW_ij] = dw BL C^2 |x||d| sgn = lr x_j d_i and Var[n] = BL p (1 - p).
 * Per-update counts are recovered exactly from the weight steps (no noise, no bounds).
 * Mean and variance of the counts are checked against 5 standard errors (the SE of a
 * sample variance from the binomial fourth central moment), and the histogram of one
 * cell by a chi-square test at p = 1e-6. */
static void test_pulse_coincidence_statistics(void)
{
    enum { OUT = 3, IN = 4, N = 20000, BL = 10 };
    double dw;
    xb_layer *L = update_layer(OUT, IN, BL, &dw);
    CU_ASSERT_FATAL(L != NULL);
    const float lr = (float)(BL * dw);                       /* C = 1 exactly */
    CU_ASSERT(fabs(xb_layer_dw_min(L) - dw) < 0.02 * dw);    /* measured step = dw_min */
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_DW_MIN, dw, NULL) == XB_OK);
    const float x[IN] = { 0.5f, -0.3f, 0.9f, 0.0f }, d[OUT] = { 0.4f, -0.7f, 0.85f };
    double w0[OUT * IN], w1[OUT * IN];
    double sum[OUT * IN] = { 0 }, sum2[OUT * IN] = { 0 };
    long hist[BL + 1] = { 0 };
    int int_ok = 1, sign_ok = 1;
    read_w(L, OUT, IN, w0);
    const float dneg[OUT] = { -d[0], -d[1], -d[2] };   /* alternate signs: w stays near 0 */
    for (int t = 0; t < N; t++) {
        xb_layer_update(L, x, t & 1 ? dneg : d, 1, lr, NULL);
        read_w(L, OUT, IN, w1);
        for (size_t c = 0; c < OUT * IN; c++) {
            const double steps = (w1[c] - w0[c]) / dw;
            const double n = nearbyint(steps);
            int_ok &= fabs(steps - n) < 1e-2;
            const double want_sign = (double)x[c % IN] * (t & 1 ? dneg : d)[c / IN];
            sign_ok &= n == 0 || (n > 0) == (want_sign > 0);
            sum[c] += fabs(n);
            sum2[c] += n * n;
            if (c == 0 * IN + 2) hist[(int)fabs(n)]++;
            w0[c] = w1[c];
        }
    }
    CU_ASSERT(int_ok);
    CU_ASSERT(sign_ok);
    int mean_ok = 1, var_ok = 1, zero_ok = 1;
    for (size_t c = 0; c < OUT * IN; c++) {
        const double pp = fabs((double)x[c % IN]) * fabs((double)d[c / IN]);   /* C = 1 */
        const double mu = BL * pp, var = BL * pp * (1 - pp);
        const double m = sum[c] / N, v = sum2[c] / N - m * m;
        if (pp == 0) { zero_ok &= sum[c] == 0; continue; }
        /* 4th central moment of Binomial(n, p): n p q (1 + 3 (n - 2) p q) */
        const double pq = pp * (1 - pp), mu4 = BL * pq * (1 + 3 * (BL - 2) * pq);
        mean_ok &= fabs(m - mu) <= 5 * sqrt(var / N);
        var_ok &= fabs(v - var) <= 5 * sqrt((mu4 - var * var) / N);
        /* the expected weight change per update is lr x d */
        mean_ok &= fabs(m * dw - lr * pp) <= 5 * dw * sqrt(var / N);
    }
    CU_ASSERT(mean_ok);
    CU_ASSERT(var_ok);
    CU_ASSERT(zero_ok);                          /* x_3 = 0: its row never changes */
    double chi2 = 0;
    const double pc = fabs((double)x[2]) * fabs((double)d[0]);
    int dof = -1;
    for (int k = 0; k <= BL; k++) {
        const double e = N * gsl_ran_binomial_pdf((unsigned)k, pc, BL);
        if (e < 5) continue;                     /* pool rare bins out (tiny) */
        chi2 += (hist[k] - e) * (hist[k] - e) / e;
        dof++;
    }
    CU_ASSERT(chi2 < gsl_cdf_chisq_Qinv(1e-6, dof));
    xb_layer_free(L);
}

/* The four sign quadrants and zero inputs (ALGORITHMS.md 1, analytic tests). */
static void test_pulse_signs_and_zeros(void)
{
    enum { OUT = 3, IN = 3 };
    double dw;
    xb_layer *L = update_layer(OUT, IN, 31, &dw);
    CU_ASSERT_FATAL(L != NULL);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_DW_MIN, dw, NULL) == XB_OK);
    const float x[IN] = { 0.8f, -0.8f, 0.0f }, d[OUT] = { 0.9f, -0.9f, 0.0f };
    double w0[OUT * IN], w1[OUT * IN];
    read_w(L, OUT, IN, w0);
    for (int t = 0; t < 50; t++) xb_layer_update(L, x, d, 1, (float)(31 * dw), NULL);
    read_w(L, OUT, IN, w1);
    for (size_t o = 0; o < OUT; o++)
        for (size_t k = 0; k < IN; k++) {
            const double dd = w1[o * IN + k] - w0[o * IN + k], s = (double)x[k] * d[o];
            if (s == 0) { CU_ASSERT(dd == 0); }
            else { CU_ASSERT(s > 0 ? dd > 20 * dw : dd < -20 * dw); }  /* E = 50 * 0.72 * 31 dw */
        }
    xb_layer_free(L);
}

/* The counts reported by xb_layer_coincidences are the ones the next update applies. */
static void test_coincidences_match_update(void)
{
    enum { OUT = 5, IN = 6 };
    double dw;
    xb_layer *L = update_layer(OUT, IN, 10, &dw);
    CU_ASSERT_FATAL(L != NULL);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_DW_MIN, dw, NULL) == XB_OK);
    const float x[IN] = { 0.5f, -0.2f, 0.9f, 0.1f, -0.7f, 0.3f };
    const float d[OUT] = { 0.6f, -0.4f, 0.2f, -0.9f, 0.05f };
    int16_t n[OUT * IN];
    double w0[OUT * IN], w1[OUT * IN];
    read_w(L, OUT, IN, w0);
    xb_layer_coincidences(L, x, d, (float)(10 * dw), n);
    xb_layer_update(L, x, d, 1, (float)(10 * dw), NULL);
    read_w(L, OUT, IN, w1);
    int same = 1;
    for (size_t c = 0; c < OUT * IN; c++) same &= nearbyint((w1[c] - w0[c]) / dw) == n[c];
    CU_ASSERT(same);
    xb_layer_free(L);
}

/* Deterministic update: n = round(lr x d / dw_min), clamped to +-max_pulses. */
static void test_deterministic_update(void)
{
    enum { OUT = 2, IN = 3 };
    double dw;
    xb_layer *L = update_layer(OUT, IN, 10, &dw);
    CU_ASSERT_FATAL(L != NULL);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_DW_MIN, dw, NULL) == XB_OK);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_UPDATE, XB_UPDATE_DETERMINISTIC, NULL) == XB_OK);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_MAX_PULSES, 20, NULL) == XB_OK);
    const float x[IN] = { 0.5f, -0.25f, 1.0f }, d[OUT] = { 0.1f, -1.0f };
    const float lr = 0.02f;
    double w0[OUT * IN], w1[OUT * IN];
    read_w(L, OUT, IN, w0);
    xb_layer_update(L, x, d, 1, lr, NULL);
    read_w(L, OUT, IN, w1);
    for (size_t o = 0; o < OUT; o++)
        for (size_t k = 0; k < IN; k++) {
            double n = nearbyint((double)lr * x[k] * d[o] / dw);
            n = fmax(-20, fmin(20, n));
            CU_ASSERT(fabs((w1[o * IN + k] - w0[o * IN + k]) / dw - n) < 1e-3);
        }
    xb_layer_free(L);
}

/* Write-verify on quiet devices reaches every target within tolerance. */
static void test_program_reaches_targets(void)
{
    enum { OUT = 6, IN = 7 };
    double dw;
    xb_layer *L = update_layer(OUT, IN, 10, &dw);
    CU_ASSERT_FATAL(L != NULL);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_PROG_TOL, 0.6 * dw, NULL) == XB_OK);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_PROG_MAX_ITER, 100, NULL) == XB_OK);
    float W[OUT * IN], H[OUT * IN];
    const xb_rng r = xb_rng_for_row(16, XB_RNG_TEST, 0, 0, 0);
    for (size_t k = 0; k < OUT * IN; k++) W[k] = unif(&r, (uint32_t)k, 0, -0.5, 0.5);
    W[3] = NAN;                                          /* left alone */
    xb_energy e;
    xb_energy_reset(&e);
    CU_ASSERT_EQUAL(xb_layer_program(L, W, &e), 0);
    xb_layer_weights(L, H);
    int ok = 1;
    for (size_t k = 0; k < OUT * IN; k++)
        ok &= k == 3 ? fabsf(H[k]) < 1e-6f : fabs((double)H[k] - W[k]) <= 0.6 * dw + 1e-6;
    CU_ASSERT(ok);
    CU_ASSERT(e.n[XB_E_PROGRAM] > 0 && e.J[XB_E_PROGRAM] > 0 && e.n[XB_E_VERIFY] > 0);
    xb_layer_free(L);
}

/* Faults: stuck-on devices read g_max, dead rows carry nothing. */
static void test_faults(void)
{
    double p[64];
    linear_quiet(p);
    xb_array *a;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_array_alloc(&a, &xb_device_linear, p, 20, 30, 1, 0, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_array_set_faults(a, 0.2, 0.1, 0.25, 0.0, &err) == XB_OK);
    double gmin, gmax;
    xb_array_g_range(a, &gmin, &gmax);
    const float *G = xb_array_G(a);
    const uint8_t *st = xb_array_stuck(a), *dr = xb_array_dead_rows(a);
    CU_ASSERT_FATAL(st && dr);
    size_t non = 0, noff = 0, ndead = 0;
    int ok = 1;
    for (size_t i = 0; i < 20; i++) {
        ndead += dr[i];
        for (size_t j = 0; j < 30; j++) {
            const float g = G[i * 30 + j];
            if (dr[i]) ok &= g == 0.0f;
            else if (st[i * 30 + j] == XB_STUCK_ON) { ok &= g == (float)gmax; non++; }
            else if (st[i * 30 + j] == XB_STUCK_OFF) { ok &= g == (float)gmin; noff++; }
        }
    }
    CU_ASSERT(ok);
    CU_ASSERT(non > 0 && noff > 0 && ndead > 0 && ndead < 20);
    xb_array_free(a);
}

/* ---------------------------------------------------------------- energy */

/* DEVICES.md 9: a 2 x 2 array, all inputs at V, all G equal: the read books n m V^2 G t.
 * The layer adds n E_DAC + m E_ADC, plus its reference column: n V^2 g_ref t and one
 * conversion. A single pulse books the model's pulse energy (e_pulse). */
static void test_energy_2x2_hand_ledger(void)
{
    double p[64], xp[XB_XB_NPARAMS];
    linear_quiet(p);
    const xb_device_type *T = &xb_device_linear;
    const double g_ref = p[xb_param_index(T->params, T->nparams, "g_ref")];
    const double e_pulse = p[xb_param_index(T->params, T->nparams, "e_pulse")];
    xbar_ideal(xp);
    xp[XB_XB_ADC_BITS] = 8;
    const xb_layer_spec s = { .type = T, .dev_params = p, .xbar_params = xp, .out = 2, .in = 2,
                              .seed = 1, .id = 0 };
    xb_layer *L;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_layer_alloc(&L, &s, &err) == XB_OK);
    xb_array *a = xb_layer_tile(L, 0, NULL, NULL, NULL);
    const float G = (float)g_ref;                       /* w = 0: every device at g_ref */
    const float *Ga = xb_array_G(a);
    for (int k = 0; k < 4; k++) CU_ASSERT(Ga[k] == G);
    /* array level: V = 0.2 V on both rows */
    xb_energy_units u;
    xb_energy_units_init(&u, NULL);
    CU_ASSERT(u.v_read == 0.2 && u.t_read == 10e-9 && u.e_dac == 50e-15 && u.adc_fom == 10e-15);
    xb_energy e;
    xb_energy_reset(&e);
    const float V[2] = { 0.2f, 0.2f };
    float I[2];
    xb_array_forward(a, V, 1, I, &u, &e);
    const double Vd = (double)0.2f;
    const double want_read = 2 * 2 * Vd * Vd * (double)G * 10e-9;
    CU_ASSERT(fabs(e.J[XB_E_READ] - want_read) <= 1e-15 * want_read);
    CU_ASSERT(e.n[XB_E_READ] == 4 && e.c[XB_C_MVM] == 1);
    /* layer level: inputs 1 (full scale -> v_read) */
    xb_energy_reset(&e);
    const float x[2] = { 1.0f, 1.0f };
    float y[2];
    xb_layer_forward(L, x, 1, y, &e);
    const double vr = (double)(float)0.2;               /* the layer's float volts per unit */
    const double read = (2 * 2 * (double)G + 2 * g_ref) * vr * vr * 10e-9;
    const double e_adc = 10e-15 * 256;                  /* FoM 2^8 = 2.56 pJ (DEVICES.md) */
    CU_ASSERT(fabs(e.J[XB_E_READ] - read) <= 1e-12 * read);
    CU_ASSERT(e.J[XB_E_DAC] == 2 * 50e-15 && e.n[XB_E_DAC] == 2);
    CU_ASSERT(fabs(e.J[XB_E_ADC] - 3 * e_adc) <= 1e-15 * e_adc && e.n[XB_E_ADC] == 3);
    CU_ASSERT(fabs(xb_energy_total(&e) - (read + 2 * 50e-15 + 3 * e_adc)) <= 1e-12 * xb_energy_total(&e));
    /* one pulse on device (0, 0) */
    xb_energy_reset(&e);
    const int16_t n[4] = { 1, 0, 0, 0 };
    xb_layer_update_dev(L, n, &e);
    CU_ASSERT(e.J[XB_E_PULSE] == e_pulse && e.n[XB_E_PULSE] == 1 && e.c[XB_C_WRITES] == 1);
    CU_ASSERT(xb_energy_total(&e) == e_pulse);
    xb_layer_free(L);
}

static void test_energy_ledger_ops(void)
{
    xb_energy a, b;
    xb_energy_reset(&a);
    xb_energy_reset(&b);
    xb_energy_units u;
    xb_energy_units_init(&u, NULL);
    xb_energy_op(&a, &u, XB_E_FP32_ADD, 10);
    xb_energy_op(&a, &u, XB_E_FP32_MULT, 2);
    xb_energy_op(&b, &u, XB_E_RNG, 1000);
    CU_ASSERT(a.J[XB_E_FP32_ADD] == 10 * 0.9e-12 && a.J[XB_E_FP32_MULT] == 2 * 3.7e-12);
    CU_ASSERT(b.J[XB_E_RNG] == 1000 * 1e-15);
    xb_energy_merge(&a, &b);
    CU_ASSERT(a.n[XB_E_RNG] == 1000);
    xb_energy_scale(&a, 0.5);
    CU_ASSERT(a.n[XB_E_FP32_ADD] == 5);
    CU_ASSERT(fabs(xb_energy_total(&a) - 0.5 * (9e-12 + 7.4e-12 + 1e-12)) < 1e-24);
    char buf[32];
    CU_ASSERT_STRING_EQUAL(xb_energy_column_name(0, buf, sizeof buf), "e_read_J");
    CU_ASSERT_STRING_EQUAL(xb_energy_column_name(XB_E_NITEMS, buf, sizeof buf), "e_total_J");
    CU_ASSERT_STRING_EQUAL(xb_energy_column_name(xb_energy_ncolumns() - 1, buf, sizeof buf), "n_clipped");
    CU_ASSERT(xb_energy_adc_unit(&u, 8) == 2.56e-12);
    CU_ASSERT(xb_param_table_check(xb_section_energy.params, xb_section_energy.nparams) == NULL);
    CU_ASSERT(xb_param_table_check(xb_section_crossbar.params, xb_section_crossbar.nparams) == NULL);
}

/* ---------------------------------------------------------------- reproducibility */

typedef struct run_out {
    float y[3 * 131], z[3 * 97], y2[131];
    xb_energy e;
    float *state;
    size_t nstate;
} run_out;

static void run_sequence(int threads, run_out *o)
{
    xb_par_force(threads);
    double p[64], xp[XB_XB_NPARAMS];
    const xb_device_type *T = &xb_device_softbounds;
    xb_param_defaults(T->params, T->nparams, p);        /* D2D and C2C noise on */
    xb_param_defaults(xb_section_crossbar.params, XB_XB_NPARAMS, xp);
    xp[XB_XB_TILE_ROWS] = 64;                            /* 2 x 3 tiles */
    xp[XB_XB_TILE_COLS] = 64;
    xp[XB_XB_BL] = 31;
    const xb_layer_spec s = { .type = T, .dev_params = p, .xbar_params = xp, .out = 131, .in = 96,
                              .bias = 1, .seed = 77, .id = 4 };
    xb_layer *L;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_layer_alloc(&L, &s, &err) == XB_OK);
    const xb_rng r = xb_rng_for_row(17, XB_RNG_TEST, 0, 0, 0);
    float x[3 * 96], d[3 * 131];
    for (size_t k = 0; k < 3 * 96; k++) x[k] = unif(&r, (uint32_t)k, 0, -1, 1);
    for (size_t k = 0; k < 3 * 131; k++) d[k] = unif(&r, (uint32_t)k, 1, -1, 1);
    xb_energy_reset(&o->e);
    xb_layer_forward(L, x, 3, o->y, &o->e);
    xb_layer_backward(L, d, 3, o->z, &o->e);
    for (int t = 0; t < 5; t++) xb_layer_update(L, x, d, 3, 0.05f, &o->e);
    int16_t n[131 * 97];
    for (size_t k = 0; k < 131 * 97; k++) n[k] = (int16_t)((k * 7) % 5) - 2;
    xb_layer_update_dev(L, n, &o->e);
    xb_layer_forward(L, x, 1, o->y2, &o->e);
    o->nstate = 0;
    for (size_t t = 0; t < xb_layer_ntiles(L); t++) {
        xb_array *a = xb_layer_tile(L, t, NULL, NULL, NULL);
        o->nstate += xb_array_rows(a) * xb_array_cols(a) * (T->nfields + 1);
    }
    o->state = malloc(o->nstate * sizeof *o->state);
    size_t m = 0;
    for (size_t t = 0; t < xb_layer_ntiles(L); t++) {
        xb_array *a = xb_layer_tile(L, t, NULL, NULL, NULL);
        const size_t R = xb_array_rows(a), C = xb_array_cols(a);
        const float *G = xb_array_G(a);
        memcpy(o->state + m, G, R * C * sizeof *G);
        m += R * C;
        for (size_t i = 0; i < R; i++) {
            const xb_row row = xb_array_row(a, i);
            for (size_t k = 0; k < T->nfields; k++, m += C) memcpy(o->state + m, row.f[k], C * sizeof(float));
        }
    }
    xb_layer_free(L);
    xb_par_force(0);
}

static void test_bit_identical_threads(void)
{
    static run_out o[3];
    const int nt[3] = { 1, 2, 7 };
    for (int k = 0; k < 3; k++) run_sequence(nt[k], &o[k]);
    for (int k = 1; k < 3; k++) {
        CU_ASSERT(memcmp(o[0].y, o[k].y, sizeof o[0].y) == 0);
        CU_ASSERT(memcmp(o[0].z, o[k].z, sizeof o[0].z) == 0);
        CU_ASSERT(memcmp(o[0].y2, o[k].y2, sizeof o[0].y2) == 0);
        CU_ASSERT(memcmp(&o[0].e, &o[k].e, sizeof o[0].e) == 0);
        CU_ASSERT(o[0].nstate == o[k].nstate
                  && memcmp(o[0].state, o[k].state, o[0].nstate * sizeof(float)) == 0);
    }
    CU_ASSERT(o[0].e.n[XB_E_PULSE] > 1000);               /* the updates did something */
    for (int k = 0; k < 3; k++) free(o[k].state);
}

/* Every allocation failure of xb_layer_alloc returns XB_ENOMEM, NULL and a message
 * (leaks on these paths: LeakSanitizer in make check-asan). */
static void test_layer_alloc_every_failure(void)
{
    double xp[XB_XB_NPARAMS];
    xb_param_defaults(xb_section_crossbar.params, XB_XB_NPARAMS, xp);
    xp[XB_XB_TILE_ROWS] = 8;
    xp[XB_XB_MAPPING] = XB_MAP_DIFFERENTIAL;
    xp[XB_XB_DEAD_ROWS] = 0.1;
    const xb_layer_spec s = { .type = &xb_device_softbounds, .out = 5, .in = 12, .seed = 1, .id = 0,
                              .stuck_on = 0.1 };
    int ok = 1;
    for (long k = 0; k < 1000; k++) {
        xb_layer *L = (xb_layer *)1;
        xb_err err = { 0 };
        xb_layer_spec s2 = s;
        s2.xbar_params = xp;
        xb_mem_fail_nth(k);
        const xb_status st = xb_layer_alloc(&L, &s2, &err);
        xb_mem_fail_nth(-1);
        if (st == XB_OK) { CU_ASSERT(k > 10); xb_layer_free(L); break; }
        ok &= st == XB_ENOMEM && L == NULL && err.msg[0] != '\0';
    }
    CU_ASSERT(ok);
}

static void test_bad_config_values(void)
{
    double xp[XB_XB_NPARAMS];
    xb_param_defaults(xb_section_crossbar.params, XB_XB_NPARAMS, xp);
    xp[XB_XB_ADC_BITS] = 1;
    const xb_layer_spec s = { .type = &xb_device_softbounds, .xbar_params = xp, .out = 2, .in = 2 };
    xb_layer *L;
    xb_err err = { 0 };
    CU_ASSERT(xb_layer_alloc(&L, &s, &err) == XB_ERANGE && L == NULL);
    CU_ASSERT(strstr(err.msg, "adc_bits") != NULL);
    xp[XB_XB_ADC_BITS] = 9;
    CU_ASSERT_FATAL(xb_layer_alloc(&L, &s, &err) == XB_OK);
    CU_ASSERT(xb_layer_set(L, XB_XB_BL, 0, &err) == XB_ERANGE);
    CU_ASSERT(strstr(err.msg, "bl = 0") != NULL && strstr(err.msg, "[1, 1024]") != NULL);
    CU_ASSERT(xb_layer_set(L, XB_XB_TILE_ROWS, 64, &err) == XB_EINVAL);
    xb_layer_free(L);
}


/* ---------------------------------------------------------------- one-way pairs */

/* A one-way test device: G falls by exactly `step` per pulse (pulse_dir -1), from
 * g_max towards g_min, no noise. Enough to check the routing of differential pairs. */
enum { OW_GMIN, OW_GMAX, OW_STEP, OW_NPARAMS };
static const xb_param_spec ow_params[OW_NPARAMS] = {
    [OW_GMIN] = { "g_min", 1e-6, "S", 0, 1, "lowest conductance" },
    [OW_GMAX] = { "g_max", 1e-4, "S", 0, 1, "highest (initial) conductance" },
    [OW_STEP] = { "step", 1e-6, "S", 0, 1, "conductance lost per pulse" },
};
static const char *const ow_fields[1] = { "g" };
static void ow_range(const double *p, double *lo, double *hi) { *lo = p[OW_GMIN]; *hi = p[OW_GMAX]; }
static void ow_init(xb_row *r, const double *p, const xb_rng *rng)
{
    (void)rng;
    for (size_t j = 0; j < r->n; j++) r->f[0][j] = (float)p[OW_GMAX];
}
static void ow_g(const xb_row *r, const double *p, float *g, const xb_rng *rng)
{
    (void)p; (void)rng;
    memcpy(g, r->f[0], r->n * sizeof *g);
}
static void ow_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    (void)rng;
    for (size_t j = 0; j < r->n; j++)
        r->f[0][j] = (float)fmax(p[OW_GMIN], r->f[0][j] - n[j] * p[OW_STEP]);
}
static double ow_energy(const xb_row *r, const double *p, const int16_t *n)
{
    (void)p;
    double s = 0;
    for (size_t j = 0; j < r->n; j++) s += n[j] * 1e-12;
    return s;
}
static const xb_device_type ow_type = {
    .name = "oneway_test", .summary = "test", .source = "test", .params = ow_params,
    .nparams = OW_NPARAMS, .nfields = 1, .field_names = ow_fields, .flags = XB_DEV_ONE_WAY,
    .pulse_dir = -1, .g_range = ow_range, .init_row = ow_init, .conductance_row = ow_g,
    .pulse_row = ow_pulse, .pulse_energy_row = ow_energy,
};

/* auto mapping picks a differential pair; w = (G+ - G-)/g_unit, g_unit = (gmax-gmin)/w_scale.
 * A positive count lowers G- (w rises), a negative one lowers G+; pulses are never sent
 * in the impossible direction; write-verify reaches signed targets. */
static void test_one_way_differential(void)
{
    double p[OW_NPARAMS], xp[XB_XB_NPARAMS];
    xb_param_defaults(ow_params, OW_NPARAMS, p);
    xbar_ideal(xp);
    const xb_layer_spec s = { .type = &ow_type, .dev_params = p, .xbar_params = xp, .out = 2,
                              .in = 3, .seed = 1, .id = 0 };
    xb_layer *L;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_layer_alloc(&L, &s, &err) == XB_OK);
    CU_ASSERT_EQUAL(xb_layer_mapping(L), XB_MAP_DIFFERENTIAL);
    const double gu = (1e-4 - 1e-6) / 1.0;
    CU_ASSERT(fabs(xb_layer_g_unit(L) - gu) < 1e-18);
    CU_ASSERT(fabs(xb_layer_dw_min(L) / (1e-6 / gu) - 1) < 1e-4);   /* measured step (float G) */
    float W0[6], W1[6];
    xb_layer_weights(L, W0);
    for (int k = 0; k < 6; k++) CU_ASSERT(W0[k] == 0.0f);       /* both members at g_max */
    const int16_t n[6] = { 3, -2, 0, 0, 5, -1 };
    xb_energy e;
    xb_energy_reset(&e);
    xb_layer_update_dev(L, n, &e);
    xb_layer_weights(L, W1);
    for (int k = 0; k < 6; k++) CU_ASSERT(fabs(W1[k] - n[k] * 1e-6 / gu) < 1e-5);
    CU_ASSERT(e.n[XB_E_PULSE] == 11 && fabs(e.J[XB_E_PULSE] - 11e-12) < 1e-24);
    xb_array *m;
    xb_array *a = xb_layer_tile(L, 0, &m, NULL, NULL);
    const float *Gp = xb_array_G(a), *Gm = xb_array_G(m);
    /* (o=0,k=0): +3 -> G- of device (row 0, col 0) lost 3 steps, G+ untouched */
    CU_ASSERT(Gp[0] == 1e-4f && fabs(Gm[0] - (1e-4 - 3e-6)) < 1e-11);
    /* (o=0,k=1): -2 -> G+ of device (row 1, col 0) lost 2 steps */
    CU_ASSERT(fabs(Gp[1 * 2 + 0] - (1e-4 - 2e-6)) < 1e-11 && Gm[1 * 2 + 0] == 1e-4f);
    /* stochastic update on the pair: the sign of the change follows x d */
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_BL, 31, &err) == XB_OK);
    const float x[3] = { 1, -1, 0 }, d[2] = { 1, -1 };
    xb_layer_weights(L, W0);
    for (int t = 0; t < 20; t++) xb_layer_update(L, x, d, 1, (float)(31 * 1e-6 / gu), NULL);
    xb_layer_weights(L, W1);
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < 3; k++) {
            const double sgn = (double)x[k] * d[o], dd = (double)W1[o * 3 + k] - W0[o * 3 + k];
            if (sgn == 0) { CU_ASSERT(dd == 0); }
            else { CU_ASSERT(sgn > 0 ? dd > 0 : dd < 0); }
        }
    /* write-verify: one member carries |w|, the other stays at the base (g_max) */
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_PROG_TOL, 0.6e-6 / gu, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_PROG_MAX_ITER, 50, &err) == XB_OK);
    xb_layer_free(L);
    CU_ASSERT_FATAL(xb_layer_alloc(&L, &s, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_PROG_TOL, 0.6e-6 / gu, &err) == XB_OK);
    const float T[6] = { 0.2f, -0.1f, 0.0f, 0.05f, -0.3f, 0.15f };
    CU_ASSERT_EQUAL(xb_layer_program(L, T, NULL), 0);
    xb_layer_weights(L, W1);
    for (int k = 0; k < 6; k++) CU_ASSERT(fabs(W1[k] - T[k]) <= 0.6e-6 / gu + 1e-6);
    xb_layer_free(L);
}

/* IR drop inside a layer: with zero wire resistance the read equals the ideal read
 * (within the float bound); with wires it equals (I - g_ref sum V)/(g_unit v) of the
 * nodal solve on the tile's G, done here directly with the direct solver. */
static void test_layer_irdrop(void)
{
    enum { OUT = 6, IN = 9 };
    double p[64], xp[XB_XB_NPARAMS];
    linear_quiet(p);
    xb_param_defaults(xb_section_crossbar.params, XB_XB_NPARAMS, xp);
    xp[XB_XB_OUT_NOISE] = 0; xp[XB_XB_NOISE_MGMT] = 0; xp[XB_XB_BOUND_MGMT] = 0;
    xp[XB_XB_ADC_BITS] = 0; xp[XB_XB_DAC_BITS] = 0; xp[XB_XB_OUT_BOUND] = 1e6;
    xp[XB_XB_IRDROP] = 1; xp[XB_XB_R_ROW] = 0; xp[XB_XB_R_COL] = 0;
    const xb_layer_spec s = { .type = &xb_device_linear, .dev_params = p, .xbar_params = xp,
                              .out = OUT, .in = IN, .seed = 4, .id = 5 };
    xb_layer *L;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_layer_alloc(&L, &s, &err) == XB_OK);
    const xb_rng r = xb_rng_for_row(18, XB_RNG_TEST, 0, 0, 0);
    xb_array *a = xb_layer_tile(L, 0, NULL, NULL, NULL);
    set_array_w(a, &r, 0);
    float x[IN], y0[OUT], y1[OUT], y2[OUT];
    for (size_t k = 0; k < IN; k++) x[k] = unif(&r, (uint32_t)k, 1, -1, 1);
    xb_layer_forward(L, x, 1, y1, NULL);                 /* IR path, zero wires */
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_IDEAL, 1, &err) == XB_OK);
    xb_layer_forward(L, x, 1, y0, NULL);                 /* ideal BLAS path */
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_IDEAL, 0, &err) == XB_OK);
    for (size_t o = 0; o < OUT; o++) CU_ASSERT(fabs(y0[o] - y1[o]) <= 1e-4 * (1 + fabs(y0[o])));
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_R_ROW, 5.0, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_R_COL, 3.0, &err) == XB_OK);
    xb_energy e;
    xb_energy_reset(&e);
    xb_layer_forward(L, x, 1, y2, &e);
    CU_ASSERT(xb_layer_status(L, &err, 1) == XB_OK);
    CU_ASSERT(e.J[XB_E_IRDROP] > 0);
    /* reference: the direct solve on the same G with V = v_read x */
    xb_ir_work *w;
    CU_ASSERT_FATAL(xb_ir_work_alloc(&w, IN, OUT, &err) == XB_OK);
    xb_ir_opts o = xb_ir_defaults();
    o.solver = XB_IR_DIRECT; o.r_row = 5.0; o.r_col = 3.0;
    float V[IN];
    const float vs = (float)0.2;
    double I[OUT], sv = 0;
    for (size_t k = 0; k < IN; k++) { V[k] = x[k] * vs; sv += x[k]; }
    CU_ASSERT_FATAL(xb_ir_solve(w, xb_array_G(a), V, IN, OUT, &o, 0, I, NULL, &err) == XB_OK);
    int ok = 1, moved = 0;
    for (size_t q = 0; q < OUT; q++) {
        const double want = (I[q] / vs - 1e-5 * sv) / xb_layer_g_unit(L);
        ok &= fabs(y2[q] - want) <= 1e-4 * (1 + fabs(want));
        moved |= fabs(y2[q] - y0[q]) > 1e-3;
    }
    CU_ASSERT(ok);
    CU_ASSERT(moved);                                     /* the wires changed the read */
    xb_ir_work_free(w);
    xb_layer_free(L);
}

/* A device with a one-shot program_row (levels on a 0.1 uS grid, 2 pJ per device):
 * write-verify must use it instead of pulses, verify, and stop after one round. */
static double pg_program(xb_row *r, const double *p, const float *target, const xb_rng *rng)
{
    (void)p; (void)rng;
    double e = 0;
    for (size_t j = 0; j < r->n; j++)
        if (!isnan(target[j])) { r->f[0][j] = (float)(1e-7 * nearbyint(target[j] / 1e-7)); e += 2e-12; }
    return e;
}
static void pg_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    (void)p; (void)rng;
    for (size_t j = 0; j < r->n; j++) r->f[0][j] += (float)(n[j] * 1e-6);
}
static const xb_device_type pg_type = {
    .name = "program_test", .summary = "test", .source = "test", .params = ow_params,
    .nparams = OW_NPARAMS, .nfields = 1, .field_names = ow_fields, .pulse_dir = +1,
    .g_range = ow_range, .init_row = ow_init, .conductance_row = ow_g,
    .pulse_row = pg_pulse, .pulse_energy_row = ow_energy, .program_row = pg_program,
};

static void test_program_row_device(void)
{
    double p[OW_NPARAMS], xp[XB_XB_NPARAMS];
    xb_param_defaults(ow_params, OW_NPARAMS, p);
    xbar_ideal(xp);
    const xb_layer_spec s = { .type = &pg_type, .dev_params = p, .xbar_params = xp, .out = 3,
                              .in = 4, .seed = 1, .id = 0 };
    xb_layer *L;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_layer_alloc(&L, &s, &err) == XB_OK);
    CU_ASSERT_EQUAL(xb_layer_mapping(L), XB_MAP_REFERENCE);
    const double gu = (1e-4 - 1e-6) / 2.0;                    /* reference: half swing per w */
    CU_ASSERT(fabs(xb_layer_g_unit(L) - gu) < 1e-18);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_PROG_TOL, 0.6e-7 / gu, &err) == XB_OK);
    float T[12], W[12];
    const xb_rng r = xb_rng_for_row(19, XB_RNG_TEST, 0, 0, 0);
    for (int k = 0; k < 12; k++) T[k] = unif(&r, (uint32_t)k, 0, -0.9, 0.9);
    xb_energy e;
    xb_energy_reset(&e);
    CU_ASSERT_EQUAL(xb_layer_program(L, T, &e), 0);
    CU_ASSERT(e.n[XB_E_PROGRAM] == 12 && fabs(e.J[XB_E_PROGRAM] - 12 * 2e-12) < 1e-24);
    CU_ASSERT(e.n[XB_E_PULSE] == 0);
    CU_ASSERT(e.n[XB_E_VERIFY] == 24);                         /* read, program, read again */
    xb_layer_weights(L, W);
    int ok = 1;
    for (int k = 0; k < 12; k++) ok &= fabs(W[k] - T[k]) <= 0.5e-7 / gu + 1e-5;
    CU_ASSERT(ok);
    xb_layer_free(L);
}

/* Bit-serial DAC: with an ideal ADC the b - 1 binary reads, added with weights 2^p,
 * equal the parallel read of the same quantised input (the MVM is linear; float
 * roundoff of b - 1 sums); each plane books its own DAC and ADC conversions. */
static void test_bit_serial_dac(void)
{
    enum { OUT = 7, IN = 11, B = 5, BITS = 6 };
    xb_layer *L = quiet_layer(OUT, IN, 0, 1e6, BITS, 1.0);
    CU_ASSERT_FATAL(L != NULL);
    const xb_rng r = xb_rng_for_row(20, XB_RNG_TEST, 0, 0, 0);
    set_array_w(xb_layer_tile(L, 0, NULL, NULL, NULL), &r, 0);
    float x[B * IN], y0[B * OUT], y1[B * OUT], W[OUT * IN];
    for (size_t k = 0; k < B * IN; k++) x[k] = unif(&r, (uint32_t)k, 1, -1, 1);
    xb_layer_weights(L, W);
    xb_energy e0, e1;
    xb_energy_reset(&e0);
    xb_energy_reset(&e1);
    xb_layer_forward(L, x, B, y0, &e0);
    CU_ASSERT_FATAL(xb_layer_set(L, XB_XB_DAC_MODE, 1, NULL) == XB_OK);
    xb_layer_forward(L, x, B, y1, &e1);
    int ok = 1;
    for (size_t b = 0; b < B; b++)
        for (size_t o = 0; o < OUT; o++) {
            double mag = 0;
            for (size_t k = 0; k < IN; k++) mag += (1e-5 + fabs(W[o * IN + k]) * 4e-6) / 4e-6 * fabs(x[b * IN + k]);
            ok &= fabs(y0[b * OUT + o] - y1[b * OUT + o]) <= BITS * gamma_n(IN + 4) * mag * 2;
        }
    CU_ASSERT(ok);
    CU_ASSERT(e1.n[XB_E_DAC] == (BITS - 1) * e0.n[XB_E_DAC] && e0.n[XB_E_DAC] == B * IN);
    CU_ASSERT(e1.n[XB_E_ADC] == (BITS - 1) * e0.n[XB_E_ADC] && e0.n[XB_E_ADC] == B * (OUT + 1));
    xb_layer_free(L);
}

static void set_param(const xb_device_type *T, double *p, const char *name, double v)
{
    const ptrdiff_t k = xb_param_index(T->params, T->nparams, name);
    CU_ASSERT_FATAL(k >= 0);
    p[k] = v;
}

/* The measured one-pulse step (dw_min = 0, auto) is the MEAN step, whatever the C2C
 * noise. (a) linear device, no D2D, C2C noise 3x the step: E[dG] = dw_min g_unit
 * exactly; the probe's 4096 devices give a standard error of 3/64 = 4.7 %, tolerance
 * 4 SE (the old mean of |dG| gave E|1 + 3 xi| = 2.5x). (b) hfox, no D2D, no RTN, 1/f
 * noise on: after the 15-pulse warm-up the 1/f register is full, ln R = c1 + m1 t +
 * alpha sum_k b_k u_k with u_k ~ U(0,1) iid, so E[G_t] = exp(-c1 - m1 t) / R0 x
 * prod_k (1 - e^{-a_k}) / a_k (a_k = alpha b_k), and the mean slope over pulses 15..23
 * is (E[G_15] - E[G_23]) / 8. Tolerance 15 % (~4 SE); the first-pulse |dG| was ~20x. */
static void test_measured_step_is_mean_step(void)
{
    xb_err err = { 0 };
    const xb_device_type *T = &xb_device_linear;
    double p[64];
    CU_ASSERT_FATAL(T->nparams <= 64);
    xb_param_defaults(T->params, T->nparams, p);
    set_param(T, p, "dw_min_dtod", 0);
    set_param(T, p, "up_down_dtod", 0);
    set_param(T, p, "w_max_dtod", 0);
    set_param(T, p, "w_min_dtod", 0);
    set_param(T, p, "dw_min_std", 3);
    xb_array *a;
    CU_ASSERT_FATAL(xb_array_alloc(&a, T, p, 2, 2, 7, 0, &err) == XB_OK);
    double up, dn;
    xb_array_pulse_step(a, &up, &dn);
    const double want = 0.001 * 4e-6, tol = 4 * 3 / 64.0;
    CU_ASSERT(fabs(up / want - 1) < tol);
    CU_ASSERT(fabs(dn / want - 1) < tol);
    xb_array_free(a);

    const xb_device_type *H = xb_device_find("hfox");
    CU_ASSERT_FATAL(H != NULL && H->nparams <= 64);
    xb_param_defaults(H->params, H->nparams, p);
    set_param(H, p, "d2d", 0);
    set_param(H, p, "noise_rtn", 0);
    CU_ASSERT_FATAL(xb_array_alloc(&a, H, p, 1, 1, 7, 0, &err) == XB_OK);
    const xb_row r = xb_array_row(a, 0);
    const double m1 = r.f[1][0], c1 = r.f[3][0], R0 = r.f[5][0];   /* fields m1, c1, R0 */
    CU_ASSERT_FATAL(strcmp(H->field_names[1], "m1") == 0 && strcmp(H->field_names[3], "c1") == 0
                    && strcmp(H->field_names[5], "R0") == 0);
    const double alpha = p[xb_param_index(H->params, H->nparams, "alpha")];
    double f = 1.0, b = 1.0;
    for (int k = 0; k < 15; k++) {
        if (k > 0) b *= (k - 0.5) / k;
        f *= -expm1(-alpha * b) / (alpha * b);
    }
    const double g15 = exp(-c1 - 15 * m1) / R0 * f, g23 = exp(-c1 - 23 * m1) / R0 * f;
    xb_array_pulse_step(a, &up, &dn);
    CU_ASSERT(fabs(up / ((g15 - g23) / 8) - 1) < 0.15);
    CU_ASSERT(up == dn);
    xb_array_free(a);
}

XB_SUITE(crossbar,
         XB_TEST(test_array_mvm_higham), XB_TEST(test_layer_ideal_reference),
         XB_TEST(test_layer_ideal_differential), XB_TEST(test_layer_ideal_tiled),
         XB_TEST(test_tiled_equals_untiled), XB_TEST(test_adc_levels_and_saturation),
         XB_TEST(test_dac_levels_and_clipping), XB_TEST(test_pulse_coincidence_statistics),
         XB_TEST(test_pulse_signs_and_zeros), XB_TEST(test_coincidences_match_update),
         XB_TEST(test_deterministic_update), XB_TEST(test_program_reaches_targets),
         XB_TEST(test_faults), XB_TEST(test_energy_2x2_hand_ledger), XB_TEST(test_energy_ledger_ops),
         XB_TEST(test_bit_identical_threads), XB_TEST(test_layer_alloc_every_failure),
         XB_TEST(test_bad_config_values), XB_TEST(test_one_way_differential), XB_TEST(test_layer_irdrop), XB_TEST(test_program_row_device), XB_TEST(test_bit_serial_dac),
         XB_TEST(test_measured_step_is_mean_step))
