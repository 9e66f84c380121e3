/* tests/test_eqprop.c: equilibrium propagation (training/xb_eqprop.h, ALGORITHMS.md 6).
 * Expected values come from the formulas of ALGORITHMS.md 6.1-6.5 evaluated here in
 * double (GSL for the linear fixed point), never from the code under test. */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "core/xb_mem.h"
#include "core/xb_param.h"
#include "core/xb_rng.h"
#include "tests/xb_test.h"
#include "training/xb_eqprop.h"
#include "training/xb_trainer.h"

enum { N0 = 4, N1 = 5, N2 = 3, NB = 3 };

/* A tiny 4-5-3 net whose states stay inside (0, 1) (so clamp is the identity and the
 * fixed point is linear): small weights, biases near 0.5. */
static xb_ep *tiny_net(uint32_t seed)
{
    const size_t sizes[3] = { N0, N1, N2 };
    xb_ep *e = NULL;
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_ep_alloc(&e, sizes, 2, NB, XB_EP_HARDSIG, seed, &err) == XB_OK);
    const xb_rng r = xb_rng_for_row(seed, XB_RNG_TEST, 0, 0, 0);
    uint32_t d = 0;
    for (size_t i = 0; i < N0 * N1; i++) e->W[0][i] = (float)(0.3 * xb_rng_uniform_d(&r, d++, 0) - 0.15);
    for (size_t i = 0; i < N1 * N2; i++) e->W[1][i] = (float)(0.6 * xb_rng_uniform_d(&r, d++, 0) - 0.3);
    for (size_t i = 0; i < N1; i++) e->b[0][i] = (float)(0.4 + 0.2 * xb_rng_uniform_d(&r, d++, 0));
    for (size_t i = 0; i < N2; i++) e->b[1][i] = (float)(0.4 + 0.2 * xb_rng_uniform_d(&r, d++, 0));
    return e;
}

static void tiny_data(float *x, float *y)
{
    const xb_rng r = xb_rng_for_row(99, XB_RNG_TEST, 1, 0, 0);
    for (size_t i = 0; i < NB * N0; i++) x[i] = (float)xb_rng_uniform_d(&r, (uint32_t)i, 0);
    memset(y, 0, NB * N2 * sizeof *y);
    for (size_t k = 0; k < NB; k++) y[k * N2 + k % N2] = 1.0f;
}

/* ||W||_2 of the n2 x n1 coupling, by GSL's SVD (double). */
static double spectral_norm(const float *W, size_t rows, size_t cols)
{
    gsl_matrix *A = gsl_matrix_alloc(cols, rows), *V = gsl_matrix_alloc(rows, rows);
    gsl_vector *S = gsl_vector_alloc(rows), *wk = gsl_vector_alloc(rows);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) gsl_matrix_set(A, j, i, W[i * cols + j]);  /* A = W^T */
    gsl_linalg_SV_decomp(A, V, S, wk);
    const double s = gsl_vector_get(S, 0);
    gsl_matrix_free(A); gsl_matrix_free(V); gsl_vector_free(S); gsl_vector_free(wk);
    return s;
}

/* E(s) = 1/2 sum s^2 - Phi(x, s), Phi = sum_l s_{l+1}.(W_l s_l + b_l) (ALGORITHMS.md 6.1/6.2) */
static double energy(const xb_ep *e, const float *x, const xb_ep_state *st, size_t B)
{
    double E = 0;
    for (size_t k = 0; k < B; k++) {
        const float *h = st->s[1] + k * N1, *o = st->s[2] + k * N2, *xx = x + k * N0;
        for (size_t j = 0; j < N1; j++) {
            double a = e->b[0][j];
            for (size_t p = 0; p < N0; p++) a += (double)e->W[0][p * N1 + j] * xx[p];
            E += 0.5 * (double)h[j] * h[j] - a * h[j];
        }
        for (size_t c = 0; c < N2; c++) {
            double a = e->b[1][c];
            for (size_t j = 0; j < N1; j++) a += (double)e->W[1][c * N1 + j] * h[j];
            E += 0.5 * (double)o[c] * o[c] - a * o[c];
        }
    }
    return E;
}

static void test_free_phase_converges(void)
{
    xb_ep *e = tiny_net(3);
    float x[NB * N0], y[NB * N2];
    tiny_data(x, y);
    const double n0 = spectral_norm(e->W[1], N2, N1);   /* strong coupling, still < 1 */
    for (size_t i = 0; i < N1 * N2; i++) e->W[1][i] *= (float)(0.9 / n0);
    const double norm = spectral_norm(e->W[1], N2, N1);
    CU_ASSERT_FATAL(norm > 0.85 && norm < 0.95);
    xb_ep_state st;
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_ep_state_alloc(e, &st, &err) == XB_OK);
    /* discrete time: clamp is 1-Lipschitz, so ||s_{t+2}-s_{t+1}|| <= ||W_1|| ||s_{t+1}-s_t|| */
    xb_ep_drive(e, x, NB);
    xb_ep_state_zero(e, &st, NB);
    double prev = -1, first = 0;
    for (int t = 0; t < 60; t++) {
        xb_ep_relax(e, &st, NB, 1, 0.0f, NULL, 1.0f);
        const double r = e->residual;
        if (t == 0) first = r;
        else CU_ASSERT(r <= norm * prev + 1e-6);
        prev = r;
    }
    CU_ASSERT(first > 0.1);
    CU_ASSERT(prev < 1e-5 * first);
    /* small Euler step dt: the energy decreases at every step (a descent direction) */
    xb_ep_state_zero(e, &st, NB);
    double E0 = energy(e, x, &st, NB), Eprev = E0;
    int mono = 1;
    for (int t = 0; t < 40; t++) {
        xb_ep_relax(e, &st, NB, 1, 0.0f, NULL, 0.05f);
        const double E = energy(e, x, &st, NB);
        if (!(E < Eprev)) mono = 0;
        Eprev = E;
    }
    CU_ASSERT(mono);
    CU_ASSERT(Eprev < E0 - 0.1);
    xb_ep_state_free(&st);
    xb_ep_free(e);
}

static void test_beta_zero_zero_update(void)
{
    xb_ep *e = tiny_net(5);
    float x[NB * N0], y[NB * N2];
    tiny_data(x, y);
    xb_ep_state s0, sb;
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_ep_state_alloc(e, &s0, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_ep_state_alloc(e, &sb, &err) == XB_OK);
    float g0[N0 * N1], g1[N1 * N2], gb0[N1], gb1[N2];
    float *gW[2] = { g0, g1 }, *gb[2] = { gb0, gb1 };
    const float c[2] = { 1.0f, 1.0f };
    xb_ep_drive(e, x, NB);
    xb_ep_state_zero(e, &s0, NB);
    xb_ep_relax(e, &s0, NB, 300, 0.0f, NULL, 1.0f);       /* to a fixed point (in float) */
    CU_ASSERT(e->residual == 0.0);
    for (int pass = 0; pass < 2; pass++) {
        const float beta = pass ? 0.1f : 0.0f;
        memset(g0, 0, sizeof g0); memset(g1, 0, sizeof g1);
        memset(gb0, 0, sizeof gb0); memset(gb1, 0, sizeof gb1);
        xb_ep_state_copy(e, &sb, &s0, NB);
        xb_ep_relax(e, &sb, NB, 10, beta, y, 1.0f);
        xb_ep_accumulate(e, x, NB, &sb, &s0, c, gW, gb);
        double sum = 0;
        for (size_t i = 0; i < N0 * N1; i++) sum += fabs(g0[i]);
        for (size_t i = 0; i < N1 * N2; i++) sum += fabs(g1[i]);
        for (size_t i = 0; i < N1; i++) sum += fabs(gb0[i]);
        for (size_t i = 0; i < N2; i++) sum += fabs(gb1[i]);
        if (pass == 0) { CU_ASSERT(sum == 0.0); }
        else { CU_ASSERT(sum > 1e-3); }                       /* the same path can be nonzero */
    }
    xb_ep_state_free(&s0); xb_ep_state_free(&sb);
    xb_ep_free(e);
}

/* Loss at the (linear) fixed point, in double: h = W0^T-layout x + b0 + W1^T o,
 * o = W1 h + b1 solved with GSL LU; L = 1/B sum_k 1/2 ||y_k - o_k||^2. p holds
 * W0 (N0 x N1, as stored), W1 (N2 x N1), b0, b1. */
enum { NP = N0 * N1 + N2 * N1 + N1 + N2 };
static double loss_at_fixed_point(const double *p, const float *x, const float *y)
{
    const double *W0 = p, *W1 = p + N0 * N1, *b0 = W1 + N2 * N1, *b1 = b0 + N1;
    enum { M = N1 + N2 };
    gsl_matrix *A = gsl_matrix_alloc(M, M);
    gsl_vector *rhs = gsl_vector_alloc(M), *u = gsl_vector_alloc(M);
    gsl_permutation *perm = gsl_permutation_alloc(M);
    gsl_matrix_set_identity(A);
    for (size_t c = 0; c < N2; c++)
        for (size_t j = 0; j < N1; j++) {
            gsl_matrix_set(A, j, N1 + c, -W1[c * N1 + j]);   /* h - W1^T o */
            gsl_matrix_set(A, N1 + c, j, -W1[c * N1 + j]);   /* o - W1 h */
        }
    int sgn;
    gsl_linalg_LU_decomp(A, perm, &sgn);
    double L = 0;
    for (size_t k = 0; k < NB; k++) {
        for (size_t j = 0; j < N1; j++) {
            double a = b0[j];
            for (size_t q = 0; q < N0; q++) a += W0[q * N1 + j] * x[k * N0 + q];
            gsl_vector_set(rhs, j, a);
        }
        for (size_t c = 0; c < N2; c++) gsl_vector_set(rhs, N1 + c, b1[c]);
        gsl_linalg_LU_solve(A, perm, rhs, u);
        for (size_t c = 0; c < N2; c++) {
            const double d = y[k * N2 + c] - gsl_vector_get(u, N1 + c);
            L += 0.5 * d * d / NB;
        }
    }
    gsl_matrix_free(A); gsl_vector_free(rhs); gsl_vector_free(u); gsl_permutation_free(perm);
    return L;
}

/* relative error of the EP estimate (c = 1/(beta B) or 1/(2 beta B)) against -dL/dtheta */
static double ep_error(xb_ep *e, const float *x, const float *y, const double *grad, float beta,
                       int symmetric)
{
    xb_ep_state s0, sp, sm;
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_ep_state_alloc(e, &s0, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_ep_state_alloc(e, &sp, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_ep_state_alloc(e, &sm, &err) == XB_OK);
    float g[NP] = {0};
    float *gW[2] = { g, g + N0 * N1 }, *gb[2] = { g + N0 * N1 + N2 * N1, g + N0 * N1 + N2 * N1 + N1 };
    xb_ep_drive(e, x, NB);
    xb_ep_state_zero(e, &s0, NB);
    xb_ep_relax(e, &s0, NB, 400, 0.0f, NULL, 1.0f);
    xb_ep_state_copy(e, &sp, &s0, NB);
    xb_ep_relax(e, &sp, NB, 400, beta, y, 1.0f);
    const xb_ep_state *ref = &s0;
    float cc = 1.0f / (beta * NB);
    if (symmetric) {
        xb_ep_state_copy(e, &sm, &s0, NB);
        xb_ep_relax(e, &sm, NB, 400, -beta, y, 1.0f);
        ref = &sm;
        cc = 1.0f / (2 * beta * NB);
    }
    for (size_t l = 1; l <= 2; l++)                       /* clamp inactive: linear regime */
        for (size_t i = 0; i < NB * e->n[l]; i++) {
            CU_ASSERT(s0.s[l][i] > 0.02f && s0.s[l][i] < 0.98f);
            CU_ASSERT(sp.s[l][i] > 0.02f && sp.s[l][i] < 0.98f);
        }
    const float c[2] = { cc, cc };
    xb_ep_accumulate(e, x, NB, &sp, ref, c, gW, gb);
    double num = 0, den = 0;
    for (size_t i = 0; i < NP; i++) {
        num += (g[i] + grad[i]) * (g[i] + grad[i]);     /* EP update ~ -dL/dtheta */
        den += grad[i] * grad[i];
    }
    xb_ep_state_free(&s0); xb_ep_state_free(&sp); xb_ep_state_free(&sm);
    return sqrt(num / den);
}

static void test_ep_approaches_gradient(void)
{
    xb_ep *e = tiny_net(11);
    float x[NB * N0], y[NB * N2];
    tiny_data(x, y);
    double p[NP], grad[NP];
    memcpy(p, (double[NP]){0}, sizeof p);
    for (size_t i = 0; i < N0 * N1; i++) p[i] = e->W[0][i];
    for (size_t i = 0; i < N2 * N1; i++) p[N0 * N1 + i] = e->W[1][i];
    for (size_t i = 0; i < N1; i++) p[N0 * N1 + N2 * N1 + i] = e->b[0][i];
    for (size_t i = 0; i < N2; i++) p[N0 * N1 + N2 * N1 + N1 + i] = e->b[1][i];
    const double h = 1e-5;                                /* central differences, double */
    for (size_t i = 0; i < NP; i++) {
        const double v = p[i];
        p[i] = v + h; const double Lp = loss_at_fixed_point(p, x, y);
        p[i] = v - h; const double Lm = loss_at_fixed_point(p, x, y);
        p[i] = v;
        grad[i] = (Lp - Lm) / (2 * h);
    }
    const double one1 = ep_error(e, x, y, grad, 0.1f, 0), one2 = ep_error(e, x, y, grad, 0.05f, 0);
    const double sym1 = ep_error(e, x, y, grad, 0.1f, 1), sym2 = ep_error(e, x, y, grad, 0.05f, 1);
    if (getenv("XB_TEST_VERBOSE"))
        fprintf(stderr, "\nEP rel. error: one-sided %.3g (beta .1) %.3g (.05); symmetric %.3g %.3g\n",
                one1, one2, sym1, sym2);
    CU_ASSERT(one2 < 0.2);
    CU_ASSERT(sym1 < one1 && sym2 < one2);                /* symmetric: lower bias */
    CU_ASSERT(one2 / one1 > 0.4 && one2 / one1 < 0.6);    /* one-sided error O(beta) */
    CU_ASSERT(sym2 / sym1 > 0.2 && sym2 / sym1 < 0.3);    /* symmetric error O(beta^2) */
    xb_ep_free(e);
}

static void test_binary_flips(void)
{
    enum { N = 4096 };
    float *sign = xb_malloc(N * sizeof(float)), *m = xb_calloc(N, sizeof(float));
    float *W = xb_malloc(N * sizeof(float)), *g = xb_malloc(N * sizeof(float));
    float *before = xb_malloc(N * sizeof(float));
    CU_ASSERT_FATAL(sign && m && W && g && before);
    const xb_rng r = xb_rng_for_row(7, XB_RNG_TEST, 2, 0, 0);
    for (size_t i = 0; i < N; i++) sign[i] = xb_rng_uniform_d(&r, (uint32_t)i, 0) < 0.5 ? -1.0f : 1.0f;
    size_t flips = 0, changes = 0;
    for (uint32_t it = 0; it < 20; it++) {
        for (size_t i = 0; i < N; i++) g[i] = (float)(2 * xb_rng_uniform_d(&r, (uint32_t)i, it + 1) - 1);
        memcpy(before, sign, N * sizeof(float));
        flips += xb_ep_binary_apply(sign, m, W, g, N, 0.1f, INFINITY, 0.25f);
        for (size_t i = 0; i < N; i++) changes += sign[i] != before[i];
    }
    CU_ASSERT(flips == 0 && changes == 0);               /* theta = inf: never flips */
    for (size_t i = 0; i < N; i++) CU_ASSERT(W[i] == 0.25f * sign[i]);
    /* finite threshold: flips reported = sign changes; m follows the EMA formula */
    float mref[N];
    memcpy(mref, m, sizeof mref);
    for (uint32_t it = 0; it < 20; it++) {
        for (size_t i = 0; i < N; i++) g[i] = (float)(2 * xb_rng_uniform_d(&r, (uint32_t)i, it + 100) - 1);
        memcpy(before, sign, N * sizeof(float));
        const size_t f = xb_ep_binary_apply(sign, m, W, g, N, 0.1f, 0.05f, 0.25f);
        size_t ch = 0, expect = 0;
        for (size_t i = 0; i < N; i++) {
            mref[i] = 0.9f * mref[i] + 0.1f * g[i];
            ch += sign[i] != before[i];
            expect += -before[i] * mref[i] > 0.05f;
            if (fabsf(m[i] - mref[i]) > 1e-6f) ch = SIZE_MAX / 2;   /* m = EMA of g */
        }
        CU_ASSERT(f == ch && f == expect);
        flips += f;
    }
    CU_ASSERT(flips > 100);
    xb_free(sign); xb_free(m); xb_free(W); xb_free(g); xb_free(before);
}

/* The trainer's binary variant with theta = inf keeps every weight; beta = 0 (binary
 * allows it) gives no update of anything. */
extern const xb_trainer_type xb_trainer_eqprop;
xb_ep *xb_eqprop_net(void *state);
uint64_t xb_eqprop_flips(void *state);

static void *make_trainer(const char *variant, double theta, double beta)
{
    const xb_trainer_type *T = &xb_trainer_eqprop;
    xb_trainer_setup su = {0};
    double train[XB_TRAIN_NPARAMS] = {0}, own[64];
    xb_param_defaults(T->params, T->nparams, own);
    own[xb_param_index(T->params, T->nparams, "variant")] =
        strcmp(variant, "binary") == 0 ? 3 : strcmp(variant, "symmetric") == 0 ? 1 : 0;
    own[xb_param_index(T->params, T->nparams, "theta")] = theta;
    own[xb_param_index(T->params, T->nparams, "beta")] = beta;
    own[xb_param_index(T->params, T->nparams, "T")] = 20;
    own[xb_param_index(T->params, T->nparams, "K")] = 5;
    train[XB_TRAIN_LR] = 0.05;
    train[XB_TRAIN_BATCH] = 4;
    su.train = train; su.own = own; su.seed = 3;
    su.net.nlayers = 2; su.net.sizes[0] = 12; su.net.sizes[1] = 8; su.net.sizes[2] = 3;
    su.net.act = XB_ACT_HSIGMOID;
    void *s = NULL;
    xb_err err = {0};
    CU_ASSERT_FATAL(T->alloc(&s, &su, &err) == XB_OK);
    return s;
}

static void test_trainer_binary_theta_inf(void)
{
    float x[8 * 12];
    unsigned lab[8];
    const xb_rng r = xb_rng_for_row(1, XB_RNG_TEST, 3, 0, 0);
    for (size_t i = 0; i < 8 * 12; i++) x[i] = (float)xb_rng_uniform_d(&r, (uint32_t)i, 0);
    for (size_t k = 0; k < 8; k++) lab[k] = (unsigned)(k % 3);
    for (int pass = 0; pass < 2; pass++) {
        void *s = make_trainer("binary", pass ? 1e-4 : INFINITY, 0.5);
        xb_ep *e = xb_eqprop_net(s);
        float w0[12 * 8], w1[8 * 3];
        memcpy(w0, e->W[0], sizeof w0); memcpy(w1, e->W[1], sizeof w1);
        for (int it = 0; it < 30; it++) xb_trainer_eqprop.step(s, x, lab, 8);
        size_t changes = 0;
        for (size_t i = 0; i < 12 * 8; i++) changes += (w0[i] < 0) != (e->W[0][i] < 0);
        for (size_t i = 0; i < 8 * 3; i++) changes += (w1[i] < 0) != (e->W[1][i] < 0);
        if (pass == 0) { CU_ASSERT(changes == 0 && xb_eqprop_flips(s) == 0); }
        /* a flip back and forth counts twice and changes nothing: count >= changes */
        else { CU_ASSERT(xb_eqprop_flips(s) >= changes && changes > 0); }
        xb_trainer_eqprop.free(s);
    }
}

/* The kernel builds (baseline, AVX2, AVX-512) give the same bits; the fused/sparse
 * paths agree with the plain sgemm paths within float rounding (Higham's gamma_n bound
 * on each dot product, STYLE.md section 7). */
static void test_kernels_identical(void)
{
    enum { B = 5, IN = 100, H = 37, O = 10 };      /* odd sizes: every tail path runs */
    const size_t sizes[3] = { IN, H, O };
    float x[B * IN], y[B * O] = {0};
    const xb_rng r = xb_rng_for_row(4, XB_RNG_TEST, 4, 0, 0);
    for (size_t i = 0; i < B * IN; i++) {
        const double u = xb_rng_uniform_d(&r, (uint32_t)i, 0);
        x[i] = u < 0.7 ? 0.0f : (float)((u - 0.7) / 0.3);   /* sparse, as MNIST */
    }
    for (size_t k = 0; k < B; k++) y[k * O + k] = 1.0f;
    int levels[3] = { 2, 0, 0 }, nl = 1;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) levels[nl++] = 3;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) levels[nl++] = 4;
    static float out[4][H * IN + B * H + B * O];
    for (int v = 0; v <= nl; v++) {                   /* v == nl: the sgemm paths */
        xb_ep *e = NULL;
        xb_err err = {0};
        CU_ASSERT_FATAL(xb_ep_alloc(&e, sizes, 2, B, XB_EP_HARDSIG, 9, &err) == XB_OK);
        for (size_t i = 0; i < H; i++) e->b[0][i] += 0.3f;
        if (v < nl) e->kern = xb_ep_kern_get(levels[v]); else e->use_blas = 1;
        xb_ep_state s0, sp;
        CU_ASSERT_FATAL(xb_ep_state_alloc(e, &s0, &err) == XB_OK);
        CU_ASSERT_FATAL(xb_ep_state_alloc(e, &sp, &err) == XB_OK);
        xb_ep_drive(e, x, B);
        xb_ep_state_zero(e, &s0, B);
        xb_ep_relax(e, &s0, B, 7, 0.0f, NULL, 1.0f);
        xb_ep_state_copy(e, &sp, &s0, B);
        xb_ep_relax(e, &sp, B, 4, 0.5f, y, 1.0f);
        const float c[2] = { 0.3f, 0.2f };
        xb_ep_accumulate(e, x, B, &sp, &s0, c, e->W, e->b);
        memcpy(out[v], e->W[0], H * IN * sizeof(float));
        memcpy(out[v] + H * IN, s0.s[1], B * H * sizeof(float));
        memcpy(out[v] + H * IN + B * H, sp.s[2], B * O * sizeof(float));
        xb_ep_state_free(&s0); xb_ep_state_free(&sp);
        xb_ep_free(e);
    }
    for (int v = 1; v < nl; v++)
        CU_ASSERT(memcmp(out[v], out[0], sizeof out[0]) == 0);
    /* sgemm vs kernels: states in [0,1] and sums of <= 100 terms of size <= 1:
     * |diff| <= 11 steps x 2 gamma_100 x 100 ~ 1.4e-3 is generous; assert 1e-4 */
    double worst = 0;
    for (size_t i = 0; i < sizeof out[0] / sizeof(float); i++) {
        const double d = fabs((double)out[0][i] - out[nl][i]);
        if (d > worst) worst = d;
        if (d > 1e-4 && getenv("XB_TEST_VERBOSE")) fprintf(stderr, "diff at %zu: %g\n", i, d);
    }
    CU_ASSERT(worst < 1e-4);
    CU_ASSERT(worst > 0 || nl == 0);                /* different sums: not the same code */
}

/* C-EP (ALGORITHMS.md 6.4, analytic test 3): as lr -> 0 the summed per-step updates
 * equal the EP update (the sum telescopes); the gap is O(lr). */
static double cep_gap(float lr)
{
    xb_ep *a = tiny_net(13), *b = tiny_net(13);
    float x[NB * N0], y[NB * N2];
    tiny_data(x, y);
    xb_ep_state s0, sp, prev;
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_ep_state_alloc(a, &s0, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_ep_state_alloc(a, &sp, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_ep_state_alloc(a, &prev, &err) == XB_OK);
    const float beta = 0.2f, c[2] = { lr / (beta * NB), lr / (beta * NB) };
    float w0[N0 * N1], w1[N2 * N1];
    memcpy(w0, a->W[0], sizeof w0); memcpy(w1, a->W[1], sizeof w1);
    xb_ep_drive(a, x, NB);                          /* EP: one update after K steps */
    xb_ep_state_zero(a, &s0, NB);
    xb_ep_relax(a, &s0, NB, 300, 0.0f, NULL, 1.0f);
    xb_ep_state_copy(a, &sp, &s0, NB);
    xb_ep_relax(a, &sp, NB, 10, beta, y, 1.0f);
    xb_ep_accumulate(a, x, NB, &sp, &s0, c, a->W, a->b);
    xb_ep_drive(b, x, NB);                          /* C-EP: an update per step */
    xb_ep_state_copy(b, &sp, &s0, NB);
    xb_ep_continual(b, x, NB, &sp, &prev, 10, beta, y, c);
    double num = 0, den = 0;
    for (size_t i = 0; i < N0 * N1; i++) {
        const double dep = (double)a->W[0][i] - w0[i], dcep = (double)b->W[0][i] - w0[i];
        num += (dep - dcep) * (dep - dcep); den += dep * dep;
    }
    for (size_t i = 0; i < N2 * N1; i++) {
        const double dep = (double)a->W[1][i] - w1[i], dcep = (double)b->W[1][i] - w1[i];
        num += (dep - dcep) * (dep - dcep); den += dep * dep;
    }
    xb_ep_state_free(&s0); xb_ep_state_free(&sp); xb_ep_state_free(&prev);
    xb_ep_free(a); xb_ep_free(b);
    return sqrt(num / den);
}

static void test_continual_telescopes(void)
{
    const double g1 = cep_gap(1e-3f), g2 = cep_gap(1e-2f);
    if (getenv("XB_TEST_VERBOSE")) fprintf(stderr, "\nC-EP gap: %.3g (lr 1e-3) %.3g (1e-2)\n", g1, g2);
    CU_ASSERT(g1 < 0.05);
    CU_ASSERT(g2 / g1 > 5 && g2 / g1 < 20);         /* O(lr) */
}

/* random_sign: the sign of beta is a fair coin per batch (binomial, 5 sigma), a pure
 * function of (seed, batch). */
float xb_eqprop_beta_sign(uint32_t seed, uint64_t batch);
static void test_random_sign_fair(void)
{
    enum { N = 4000 };
    int neg = 0, runs = 0;
    float prev = 0;
    for (uint64_t b = 0; b < N; b++) {
        const float sg = xb_eqprop_beta_sign(5, b);
        CU_ASSERT(sg == 1.0f || sg == -1.0f);
        CU_ASSERT(sg == xb_eqprop_beta_sign(5, b));
        neg += sg < 0;
        runs += sg != prev;
        prev = sg;
    }
    const double sd = sqrt(N * 0.25);                     /* binomial(N, 1/2) */
    CU_ASSERT(fabs(neg - N / 2.0) < 5 * sd);
    CU_ASSERT(fabs(runs - (N + 1) / 2.0) < 5 * sd);       /* no long streaks: runs ~ N/2 */
    int differ = 0;                                       /* another seed, another sequence */
    for (uint64_t b = 0; b < 64; b++) differ += xb_eqprop_beta_sign(5, b) != xb_eqprop_beta_sign(6, b);
    CU_ASSERT(differ > 10);
}

/* eqprop_dev on an ideal crossbar with deterministic pulse counts and a noiseless
 * soft-bounds device: it starts from the digital trainer's weights (write-verify) and
 * its first update points where the digital EP update points. */
#include "core/xb_config.h"
#include "crossbar/xb_layer.h"
extern const xb_trainer_type xb_trainer_eqprop_dev;
xb_layer *xb_eqprop_dev_layer(void *state, size_t l);

static void test_device_trainer_follows_digital(void)
{
    static const char ini[] =
        "[net]\nlayers = 12-8-3\nactivation = hsigmoid\n"
        "[train]\nalgorithm = eqprop_dev\nbatch = 4\nT = 20\nK = 5\nbeta = 0.5\n"
        "lrs = 0.05, 0.05\nupdate = deterministic\n"
        "[device]\ntype = softbounds\ndw_min = 0.0001\ndw_min_std = 0\nw_max = 1\nw_min = -1\n"
        "dw_min_dtod = 0\nup_down = 0\nup_down_dtod = 0\nw_max_dtod = 0\nw_min_dtod = 0\n"
        "[crossbar]\nideal = true\ndw_min = 0.0001\nmax_pulses = 10000\n";
    xb_config *c = xb_config_alloc();
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_config_load_string(c, ini, "dev.ini", &err) == XB_OK);
    xb_net_spec net;
    const xb_trainer_type *T;
    double train[XB_TRAIN_NPARAMS], own[64];
    CU_ASSERT_FATAL(xb_trainer_config(c, &net, &T, train, own, &err) == XB_OK);
    CU_ASSERT_FATAL(T == &xb_trainer_eqprop_dev);
    xb_trainer_setup su = { .cfg = c, .net = net, .train = train, .own = own, .seed = 3 };
    void *sd = NULL;
    if (T->alloc(&sd, &su, &err) != XB_OK) fprintf(stderr, "%s\n", err.msg);
    CU_ASSERT_FATAL(sd != NULL);
    void *sg = make_trainer("onesided", INFINITY, 0.5);   /* same sizes, seed 3, lr 0.05 */
    xb_ep *e = xb_eqprop_net(sg);
    float x[4 * 12];
    unsigned lab[4] = { 0, 1, 2, 0 };
    const xb_rng r = xb_rng_for_row(2, XB_RNG_TEST, 5, 0, 0);
    for (size_t i = 0; i < 4 * 12; i++) x[i] = (float)xb_rng_uniform_d(&r, (uint32_t)i, 0);
    float w0[8 * 13], w1[3 * 9], a0[8 * 13], a1[3 * 9];
    xb_layer_weights(xb_eqprop_dev_layer(sd, 0), w0);
    xb_layer_weights(xb_eqprop_dev_layer(sd, 1), w1);
    double err0 = 0;                                    /* programmed = digital init */
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 12; j++) err0 = fmax(err0, fabs(w0[i * 13 + j] - e->W[0][j * 8 + i]));
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 8; j++) err0 = fmax(err0, fabs(w1[i * 9 + j] - e->W[1][i * 8 + j]));
    CU_ASSERT(err0 <= 0.01 + 1e-6);                     /* write-verify tolerance */
    float d0[12 * 8], d1[3 * 8];
    memcpy(d0, e->W[0], sizeof d0); memcpy(d1, e->W[1], sizeof d1);
    xb_trainer_eqprop.step(sg, x, lab, 4);              /* digital, lr 0.05 both layers */
    T->step(sd, x, lab, 4);
    xb_layer_weights(xb_eqprop_dev_layer(sd, 0), a0);
    xb_layer_weights(xb_eqprop_dev_layer(sd, 1), a1);
    double dot = 0, nd = 0, ng = 0;
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 12; j++) {
            const double dv = a0[i * 13 + j] - w0[i * 13 + j], dg = e->W[0][j * 8 + i] - d0[j * 8 + i];
            dot += dv * dg; nd += dv * dv; ng += dg * dg;
        }
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 8; j++) {
            const double dv = a1[i * 9 + j] - w1[i * 9 + j], dg = e->W[1][i * 8 + j] - d1[i * 8 + j];
            dot += dv * dg; nd += dv * dv; ng += dg * dg;
        }
    if (getenv("XB_TEST_VERBOSE")) fprintf(stderr, "\ndevice vs digital update: cos %.3f\n", dot / sqrt(nd * ng));
    /* soft bounds scale each step by 1 -+ w/w_max, within 0.71 .. 1.29 here, and counts
     * are rounded to whole pulses: the direction, not the vector, is the claim */
    CU_ASSERT(nd > 0 && dot / sqrt(nd * ng) > 0.9);
    T->free(sd);
    xb_trainer_eqprop.free(sg);
    xb_config_free(c);
}


/* eqprop_dev on an ideal device (linear steps, no noise, no spread, far bounds, ideal
 * periphery): the update the devices receive is the EP update
 *   dW_1 = lr_1/(beta B) sum_k (o^b_k h^b_k^T - o^0_k h^0_k^T),  dW_0 likewise with x,
 * to the rounding of counts to whole pulses (deterministic counts: at most dw_min/2 per
 * sample with encode = difference, dw_min with two rounded updates). With stochastic
 * pulses (BL 10) the difference encoding, whose two products share their random
 * numbers, sends fewer pulses than the two opposite updates and lands closer. */
float xb_eqprop_dev_states(void *state, const float **h0, const float **o0, const float **hb,
                           const float **ob);

static void *make_dev(const char *update, const char *encode, uint32_t seed, double lr,
                      double dw, xb_config **cfg)
{
    char ini[1200];
    snprintf(ini, sizeof ini,
             "[net]\nlayers = 12-8-3\nactivation = hsigmoid\n"
             "[train]\nalgorithm = eqprop_dev\nbatch = 4\nT = 20\nK = 5\nbeta = 0.5\n"
             "lrs = %g, %g\nupdate = %s\nencode = %s\nbl = 10\n"
             "[device]\ntype = linear\ndw_min = %g\ndw_min_std = 0\nw_max = 10\nw_min = -10\n"
             "dw_min_dtod = 0\nup_down = 0\nup_down_dtod = 0\nw_max_dtod = 0\nw_min_dtod = 0\n"
             "gamma_dtod = 0\n"
             "[crossbar]\nideal = true\ndw_min = %g\nmax_pulses = 10000\n", lr, lr, update,
             encode, dw, dw);
    xb_config *c = xb_config_alloc();
    xb_err err = {0};
    *cfg = c;
    if (xb_config_load_string(c, ini, "dev.ini", &err) != XB_OK) { fprintf(stderr, "%s\n", err.msg); return NULL; }
    xb_net_spec net;
    const xb_trainer_type *T;
    static double train[XB_TRAIN_NPARAMS], own[64];
    if (xb_trainer_config(c, &net, &T, train, own, &err) != XB_OK) { fprintf(stderr, "%s\n", err.msg); return NULL; }
    xb_trainer_setup su = { .cfg = c, .net = net, .train = train, .own = own, .seed = seed };
    void *sd = NULL;
    if (T->alloc(&sd, &su, &err) != XB_OK) fprintf(stderr, "%s\n", err.msg);
    return sd;
}

/* Applied minus EP update of one step of a fresh trainer, per layer l: max |.|, sum of
 * squares of the error and of the EP update, pulses sent. */
typedef struct dev_err { double max[2], e2[2], ep2[2], dot[2], pulses[2]; } dev_err;

static void dev_step_error(const char *update, const char *encode, uint32_t seed, double lr,
                           double dw, dev_err *r)
{
    xb_config *c = NULL;
    void *s = make_dev(update, encode, seed, lr, dw, &c);
    CU_ASSERT_FATAL(s != NULL);
    float x[4 * 12];
    unsigned lab[4] = { 0, 1, 2, 0 };
    const xb_rng rg = xb_rng_for_row(2, XB_RNG_TEST, 5, 0, 0);
    for (size_t i = 0; i < 4 * 12; i++) x[i] = (float)xb_rng_uniform_d(&rg, (uint32_t)i, 0);
    float w0[8 * 13], w1[3 * 9], a0[8 * 13], a1[3 * 9];
    xb_layer *L0 = xb_eqprop_dev_layer(s, 0), *L1 = xb_eqprop_dev_layer(s, 1);
    xb_layer_weights(L0, w0);
    xb_layer_weights(L1, w1);
    xb_layer_stats_reset(L0);
    xb_layer_stats_reset(L1);
    xb_trainer_eqprop_dev.step(s, x, lab, 4);
    xb_layer_weights(L0, a0);
    xb_layer_weights(L1, a1);
    r->pulses[0] += xb_layer_stats_get(L0)->pulses;
    r->pulses[1] += xb_layer_stats_get(L1)->pulses;
    const float *h0, *o0, *hb, *ob;
    const double c0 = lr / (xb_eqprop_dev_states(s, &h0, &o0, &hb, &ob) * 4.0);
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j <= 12; j++) {
            double ep = 0;
            for (size_t k = 0; k < 4; k++)
                ep += (hb[k * 8 + i] - h0[k * 8 + i]) * (j < 12 ? x[k * 12 + j] : 1.0);
            ep *= c0;
            const double dv = (double)a0[i * 13 + j] - w0[i * 13 + j];
            r->max[0] = fmax(r->max[0], fabs(dv - ep));
            r->e2[0] += (dv - ep) * (dv - ep); r->ep2[0] += ep * ep; r->dot[0] += dv * ep;
        }
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j <= 8; j++) {
            double ep = 0;
            for (size_t k = 0; k < 4; k++)
                ep += ob[k * 3 + i] * (j < 8 ? hb[k * 8 + j] : 1.0) -
                      o0[k * 3 + i] * (j < 8 ? h0[k * 8 + j] : 1.0);
            ep *= c0;
            const double dv = (double)a1[i * 9 + j] - w1[i * 9 + j];
            r->max[1] = fmax(r->max[1], fabs(dv - ep));
            r->e2[1] += (dv - ep) * (dv - ep); r->ep2[1] += ep * ep; r->dot[1] += dv * ep;
        }
    xb_trainer_eqprop_dev.free(s);
    xb_config_free(c);
}

static void test_device_update_is_ep(void)
{
    const double dw = 1e-4, B = 4, fl = 1e-6;    /* fl: float rounding of weights ~0.5 */
    dev_err d = {0}, t = {0};
    dev_step_error("deterministic", "difference", 3, 0.05, dw, &d);
    dev_step_error("deterministic", "two", 3, 0.05, dw, &t);
    for (int l = 0; l < 2; l++) CU_ASSERT(d.max[l] <= B * 0.5 * dw + fl);
    CU_ASSERT(t.max[1] <= B * dw + fl);
    CU_ASSERT(t.max[0] == d.max[0]);              /* layer 0: the same single product */
    CU_ASSERT(sqrt(d.e2[1] / d.ep2[1]) < 0.02);
    CU_ASSERT(d.pulses[1] < 0.6 * t.pulses[1]);   /* opposite counts cancel before the device */
    /* stochastic pulses, 200 fresh nets; lr 0.005 and dw_min 0.001 keep every
     * probability C|v| below 0.5 (no clipping, so the expected update is exact) */
    dev_err pd = {0}, pt = {0};
    for (uint32_t seed = 1; seed <= 200; seed++) {
        dev_step_error("pulse", "difference", seed, 0.005, 0.001, &pd);
        dev_step_error("pulse", "two", seed, 0.005, 0.001, &pt);
    }
    const double rpd = sqrt(pd.e2[1] / pd.ep2[1]), rpt = sqrt(pt.e2[1] / pt.ep2[1]);
    if (getenv("XB_TEST_VERBOSE"))
        fprintf(stderr, "\ndeterministic layer 1: difference max %.2e rel %.4f pulses %.0f; two "
                "max %.2e rel %.4f pulses %.0f\npulse layer 1 (200 nets): difference rel %.3f "
                "pulses %.0f slope %.3f; two rel %.3f pulses %.0f slope %.3f\n", d.max[1],
                sqrt(d.e2[1] / d.ep2[1]), d.pulses[1], t.max[1], sqrt(t.e2[1] / t.ep2[1]),
                t.pulses[1], rpd, pd.pulses[1], pd.dot[1] / pd.ep2[1], rpt, pt.pulses[1],
                pt.dot[1] / pt.ep2[1]);
    CU_ASSERT(pd.pulses[1] < 0.8 * pt.pulses[1]);
    CU_ASSERT(rpd < 0.8 * rpt);
    /* unbiased: regressing the applied on the EP update over the nets gives slope 1,
     * within 4 standard errors sqrt(sum err^2 / (N sum ep^2)), N = 200 x 27 weights */
    CU_ASSERT(fabs(pd.dot[1] / pd.ep2[1] - 1.0) < 4.0 * sqrt(pd.e2[1] / (5400.0 * pd.ep2[1])));
    CU_ASSERT(fabs(pt.dot[1] / pt.ep2[1] - 1.0) < 4.0 * sqrt(pt.e2[1] / (5400.0 * pt.ep2[1])));
}

/* The fused relaxation skips the transposed-read terms of outputs that are exactly 0
 * (training/ep_kern.c): training with and without the skip gives bit-identical weights
 * (FNV-1a hash of W_0, b_0, W_1, b_1 after 30 batches), on every instruction set, and
 * the run does contain zero outputs for the skip to act on. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) { h ^= c[i]; h *= 0x100000001b3ull; }
    return h;
}

static void test_relax_skip_bit_identical(void)
{
    enum { B = 6, IN = 100, H = 37, O = 10, NB = 30 };
    const size_t sizes[3] = { IN, H, O };
    int levels[3] = { 2, 0, 0 }, nl = 1;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) levels[nl++] = 3;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) levels[nl++] = 4;
    uint64_t hash[3][2];
    size_t zeros = 0, outs = 0;
    for (int v = 0; v < nl; v++)
        for (int skip = 0; skip < 2; skip++) {
            xb_ep *e = NULL;
            xb_err err = {0};
            CU_ASSERT_FATAL(xb_ep_alloc(&e, sizes, 2, B, XB_EP_HARDSIG, 11, &err) == XB_OK);
            e->kern = xb_ep_kern_get(levels[v]);
            e->no_skip = !skip;
            for (size_t i = 0; i < H; i++) e->b[0][i] += 0.3f;
            for (size_t c = 0; c < O; c++) e->b[1][c] -= 0.3f;      /* some outputs at 0 */
            xb_ep_state s0, sp;
            CU_ASSERT_FATAL(xb_ep_state_alloc(e, &s0, &err) == XB_OK);
            CU_ASSERT_FATAL(xb_ep_state_alloc(e, &sp, &err) == XB_OK);
            float x[B * IN], y[B * O];
            for (size_t b = 0; b < NB; b++) {
                const xb_rng r = xb_rng_for_row(4, XB_RNG_TEST, 6, (uint32_t)b, 0);
                for (size_t i = 0; i < B * IN; i++) {
                    const double u = xb_rng_uniform_d(&r, (uint32_t)i, 0);
                    x[i] = u < 0.7 ? 0.0f : (float)((u - 0.7) / 0.3);
                }
                memset(y, 0, sizeof y);
                for (size_t k = 0; k < B; k++) y[k * O + (b + k) % O] = 1.0f;
                xb_ep_drive(e, x, B);
                xb_ep_state_zero(e, &s0, B);
                xb_ep_relax(e, &s0, B, 7, 0.0f, NULL, 1.0f);
                if (v == 0 && skip)
                    for (size_t i = 0; i < B * O; i++) { zeros += s0.s[2][i] == 0.0f; outs++; }
                xb_ep_state_copy(e, &sp, &s0, B);
                xb_ep_relax(e, &sp, B, 4, 0.5f, y, 1.0f);
                const float c[2] = { 0.1f / (0.5f * B), 0.05f / (0.5f * B) };
                xb_ep_accumulate(e, x, B, &sp, &s0, c, e->W, e->b);
            }
            uint64_t h = 0xcbf29ce484222325ull;
            h = fnv1a(h, e->W[0], IN * H * sizeof(float));
            h = fnv1a(h, e->b[0], H * sizeof(float));
            h = fnv1a(h, e->W[1], H * O * sizeof(float));
            h = fnv1a(h, e->b[1], O * sizeof(float));
            hash[v][skip] = h;
            xb_ep_state_free(&s0); xb_ep_state_free(&sp);
            xb_ep_free(e);
        }
    for (int v = 0; v < nl; v++) CU_ASSERT(hash[v][0] == hash[v][1]);
    if (getenv("XB_TEST_VERBOSE"))
        fprintf(stderr, "\nskip: %zu of %zu free-phase outputs exactly 0; hash %016llx\n", zeros,
                outs, (unsigned long long)hash[0][1]);
    CU_ASSERT(zeros > outs / 10 && zeros < outs);
}

XB_SUITE(eqprop, XB_TEST(test_free_phase_converges), XB_TEST(test_beta_zero_zero_update),
         XB_TEST(test_ep_approaches_gradient), XB_TEST(test_binary_flips),
         XB_TEST(test_trainer_binary_theta_inf), XB_TEST(test_kernels_identical),
         XB_TEST(test_continual_telescopes), XB_TEST(test_random_sign_fair),
         XB_TEST(test_device_trainer_follows_digital), XB_TEST(test_device_update_is_ep),
         XB_TEST(test_relax_skip_bit_identical))
