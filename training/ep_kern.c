/* training/ep_kern.c: the hot loops of EP on a 784-500-10-like net (training/xb_eqprop.h).
 *
 * Each kernel body is written once (an always-inline function) and compiled three
 * times: the baseline build (x86-64-v2, the reference), x86-64-v3 (AVX2 + FMA) and
 * x86-64-v4 (AVX-512); xb_ep_kern_best picks one at start-up (STYLE.md section 3).
 * The bodies use GCC vector types of 16 floats and vectorise only across independent
 * outputs (hidden units, weights) or over fixed 16-lane partial sums, with separate
 * multiplies and adds (no contraction), so every build gives the same bits
 * (tests/test_eqprop.c compares them with memcmp). Hard sigmoid is the fast case;
 * sigmoid(4(x - 0.5)) calls expf per unit.
 *
 * - drive: W_0 x + b_0 summing only the nonzero inputs (MNIST: ~19 % of the pixels),
 *   in input order, with W_0 stored input-major (one contiguous row per input), in
 *   64-column strips across the batch.
 * - update0: W_0 += c x^T d, again over nonzero inputs only, one pass per row of W_0.
 * - relax1h: all `steps` synchronous steps of one sample of a one-hidden-layer net,
 *   fused: one pass over W_1 per step reads it forward (o += W_1 h) and transposed
 *   (h = drive + W_1^T o), with h and o in L1 for the whole phase. With `skip`, an
 *   output that is exactly 0 adds nothing to the transposed read: its term 0 * w is a
 *   signed zero, and h + (+-0) == h except that -0 + +0 = +0, which rho maps to the
 *   same +0; so the states (and weights) are bit-identical with and without it, for
 *   finite weights. Hard-sigmoid outputs of the wrong classes sit at 0 in the free
 *   phase and, with the target 0, stay there in the nudged phase.
 * Kernels do one sample (or one row of W_0); the callers split samples/rows over
 * threads, which cannot change what a row computes. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "training/xb_eqprop.h"

enum { LANES = 16 };

#define INLINE static inline __attribute__((always_inline))

/* GCC vector types: the same source becomes SSE, AVX2 or AVX-512 code, lane by lane
 * the same arithmetic (separate multiply and add, no contraction). */
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
#define LD(p) (*(const v16u *)(const void *)(p))

INLINE float rho(xb_ep_act a, float x)
{
    if (a == XB_EP_SIGM4) return 1.0f / (1.0f + expf(-4.0f * (x - 0.5f)));
    const float v = x > 0.0f ? x : 0.0f;
    return v < 1.0f ? v : 1.0f;
}

/* Nonzero inputs of one sample as (index, value) lists, in input order; returns count. */
size_t xb_ep_nonzeros(const float *restrict xk, size_t n0, uint32_t *restrict idx,
                      float *restrict val)
{
    size_t m = 0;
    for (size_t p = 0; p < n0; p++) {           /* branch-free: the pattern is irregular */
        idx[m] = (uint32_t)p;
        val[m] = xk[p];
        m += xk[p] != 0.0f;
    }
    return m;
}

/* Columns [j0, j0 + 64) (or the tail) of the drive of every sample, from the samples'
 * nonzero lists (idx/val: row k at k * n0, cnt[k] entries). Going strip by strip keeps
 * the strip of W_0 (n0 x 64 floats, 200 kB for MNIST) in L2 for all the samples. */
INLINE void drive_body(const uint32_t *restrict idx, const float *restrict val,
                       const size_t *restrict cnt, size_t B, size_t n0, size_t n1,
                       const float *restrict W0, const float *restrict b0, float *restrict drive,
                       size_t j0)
{
    for (size_t k = 0; k < B; k++) {
        const uint32_t *ik = idx + k * n0;
        const float *vk = val + k * n0;
        const size_t m = cnt[k];
        float *d = drive + k * n1;
        if (j0 + 4 * LANES <= n1) {                  /* 64 sums in registers */
            v16 a0 = LD(b0 + j0), a1 = LD(b0 + j0 + 16), a2 = LD(b0 + j0 + 32), a3 = LD(b0 + j0 + 48);
            for (size_t q = 0; q < m; q++) {
                const float v = vk[q];
                const float *w = W0 + (size_t)ik[q] * n1 + j0;
                a0 = a0 + v * LD(w); a1 = a1 + v * LD(w + 16);
                a2 = a2 + v * LD(w + 32); a3 = a3 + v * LD(w + 48);
            }
            memcpy(d + j0, &a0, sizeof a0); memcpy(d + j0 + 16, &a1, sizeof a1);
            memcpy(d + j0 + 32, &a2, sizeof a2); memcpy(d + j0 + 48, &a3, sizeof a3);
            continue;
        }
        size_t j = j0;
        for (; j + LANES <= n1; j += LANES) {
            v16 a0 = LD(b0 + j);
            for (size_t q = 0; q < m; q++) a0 = a0 + vk[q] * LD(W0 + (size_t)ik[q] * n1 + j);
            memcpy(d + j, &a0, sizeof a0);
        }
        for (; j < n1; j++) {
            float a = b0[j];
            for (size_t q = 0; q < m; q++) a = a + vk[q] * W0[(size_t)ik[q] * n1 + j];
            d[j] = a;
        }
    }
}

/* Row p of W_0: w += (c x[k,p]) d[k,:] over the samples with x[k,p] != 0, in order. */
INLINE void update0_body(const float *restrict x, size_t B, size_t n0, size_t n1, float c,
                         const float *restrict dd, float *restrict w, size_t p)
{
    enum { KMAX = 256 };
    for (size_t k0 = 0; k0 < B; k0 += KMAX) {
        const size_t kb = B - k0 < KMAX ? B - k0 : KMAX;
        uint32_t ks[KMAX];
        float cv[KMAX];
        size_t m = 0;
        for (size_t k = 0; k < kb; k++) {
            const float v = x[(k0 + k) * n0 + p];
            ks[m] = (uint32_t)(k0 + k);
            cv[m] = c * v;
            m += v != 0.0f;
        }
        if (!m) continue;
        size_t j0 = 0;
        for (; j0 + 4 * LANES <= n1; j0 += 4 * LANES) {
            v16 a0 = LD(w + j0), a1 = LD(w + j0 + 16), a2 = LD(w + j0 + 32), a3 = LD(w + j0 + 48);
            for (size_t q = 0; q < m; q++) {
                const float *dk = dd + (size_t)ks[q] * n1 + j0;
                const float v = cv[q];
                a0 = a0 + v * LD(dk); a1 = a1 + v * LD(dk + 16);
                a2 = a2 + v * LD(dk + 32); a3 = a3 + v * LD(dk + 48);
            }
            memcpy(w + j0, &a0, sizeof a0); memcpy(w + j0 + 16, &a1, sizeof a1);
            memcpy(w + j0 + 32, &a2, sizeof a2); memcpy(w + j0 + 48, &a3, sizeof a3);
        }
        for (; j0 + LANES <= n1; j0 += LANES) {
            v16 a0 = LD(w + j0);
            for (size_t q = 0; q < m; q++) a0 = a0 + cv[q] * LD(dd + (size_t)ks[q] * n1 + j0);
            memcpy(w + j0, &a0, sizeof a0);
        }
        for (; j0 < n1; j0++) {
            float a = w[j0];
            for (size_t q = 0; q < m; q++) a = a + cv[q] * dd[(size_t)ks[q] * n1 + j0];
            w[j0] = a;
        }
    }
}

/* One sample, `steps` synchronous steps (dt = 1). h (n1), o (n2 <= XB_EP_FUSED_MAX_OUT)
 * are updated in place; the last step's squared change is returned. One pass over W_1
 * per step: hn = drive + sum_c o_c W_1[c,:] (transposed read, c in order) and
 * acc_c += W_1[c,:] * h (forward read, 16 fixed lanes: lane l sums j = l mod 16 in order). */
INLINE double relax_one(xb_ep_act act, size_t n1, size_t n2, const float *restrict drive,
                        const float *restrict W1, const float *restrict b1, float *restrict h,
                        float *restrict o, size_t steps, float beta, const float *restrict y,
                        float *restrict hold, int skip)
{
    double res2 = 0;
    const size_t nv = n1 / LANES * LANES;
    for (size_t t = 0; t < steps; t++) {
        const int last = t + 1 == steps;
        if (last) memcpy(hold, h, n1 * sizeof(float));
        v16 acc[XB_EP_FUSED_MAX_OUT];
        float ov[XB_EP_FUSED_MAX_OUT] = {0}, on[XB_EP_FUSED_MAX_OUT] = {0};
        #pragma GCC unroll 16
        for (size_t c = 0; c < XB_EP_FUSED_MAX_OUT; c++) acc[c] = (v16){0};
        for (size_t c = 0; c < n2; c++) ov[c] = o[c];
        for (size_t j0 = 0; j0 < nv; j0 += LANES) {
            const v16 ho = LD(h + j0);
            v16 hn = LD(drive + j0);
            #pragma GCC unroll 16
            for (size_t c = 0; c < n2; c++) {
                const v16 w = LD(W1 + c * n1 + j0);
                if (!skip || ov[c] != 0.0f) hn = hn + ov[c] * w;
                acc[c] = acc[c] + w * ho;
            }
            memcpy(h + j0, &hn, sizeof hn);
        }
        for (size_t j = nv; j < n1; j++) {                  /* tail: lanes 0 .. n1 - nv - 1 */
            const float hj = h[j];
            float hn = drive[j];
            for (size_t c = 0; c < n2; c++) {
                const float w = W1[c * n1 + j];
                if (!skip || ov[c] != 0.0f) hn = hn + ov[c] * w;
                acc[c][j - nv] = acc[c][j - nv] + w * hj;
            }
            h[j] = hn;
        }
        #pragma omp simd
        for (size_t j = 0; j < n1; j++) h[j] = rho(act, h[j]);
        for (size_t c = 0; c < n2; c++) {
            float sum = b1[c];
            for (size_t l = 0; l < LANES; l++) sum += acc[c][l];   /* fixed order */
            float v = rho(act, sum);
            if (beta != 0.0f) v += beta * (y[c] - ov[c]);
            on[c] = v;
        }
        for (size_t c = 0; c < n2; c++) o[c] = on[c];
        if (last) {
            double r = 0;
            for (size_t j = 0; j < n1; j++) r += (double)(h[j] - hold[j]) * (h[j] - hold[j]);
            for (size_t c = 0; c < n2; c++) r += (double)(on[c] - ov[c]) * (on[c] - ov[c]);
            res2 = r;
        }
    }
    return res2;
}

/* The three builds of each kernel. */
/* The three builds of each kernel. Threads live in the caller (ep_core.c): an OpenMP
 * region outlined from a target("...") function would be compiled for the baseline. */
#define VARIANT(SUF, ATTR)                                                                   \
    ATTR static void drive_##SUF(const uint32_t *idx, const float *val, const size_t *cnt,   \
                                 size_t B, size_t n0, size_t n1, const float *W0,             \
                                 const float *b0, float *d, size_t j0)                        \
    { drive_body(idx, val, cnt, B, n0, n1, W0, b0, d, j0); }                                  \
    ATTR static void update0_##SUF(const float *x, size_t B, size_t n0, size_t n1, float c,  \
                                   const float *dd, float *w, size_t p)                       \
    { update0_body(x, B, n0, n1, c, dd, w, p); }                                              \
    ATTR static double relax_##SUF(xb_ep_act act, size_t n1, size_t n2, const float *drive,  \
                                   const float *W1, const float *b1, float *h, float *o,      \
                                   size_t steps, float beta, const float *y, float *hold,     \
                                   int skip)                                                  \
    {                                                                                         \
        if (act == XB_EP_HARDSIG && n2 == 10)   /* W3: constants let the compiler unroll */  \
            return relax_one(XB_EP_HARDSIG, n1, 10, drive, W1, b1, h, o, steps, beta, y, hold, \
                             skip);                                                           \
        return relax_one(act, n1, n2, drive, W1, b1, h, o, steps, beta, y, hold, skip);       \
    }

VARIANT(ref, )
VARIANT(v3, __attribute__((target("arch=x86-64-v3"))))
VARIANT(v4, __attribute__((target("arch=x86-64-v4"))))

static const xb_ep_kern kern_ref = { "x86-64-v2", drive_ref, update0_ref, relax_ref };
static const xb_ep_kern kern_v3 = { "x86-64-v3", drive_v3, update0_v3, relax_v3 };
static const xb_ep_kern kern_v4 = { "x86-64-v4", drive_v4, update0_v4, relax_v4 };

const xb_ep_kern *xb_ep_kern_get(int level)
{
    return level >= 4 ? &kern_v4 : level == 3 ? &kern_v3 : &kern_ref;
}

const xb_ep_kern *xb_ep_kern_best(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return &kern_v4;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &kern_v3;
    return &kern_ref;
}
