/* core/rng_simd.c: Philox4x32-10 on 4, 8 or 16 counters at once (SSE4.1, AVX2,
 * AVX-512F), chosen at run time, and the batched fills of core/xb_rng.h built on it.
 *
 * Every level computes exactly the words of the scalar Random123 philox4x32 (integer
 * arithmetic only: 32x32->64 products from pmuludq on the even and the shifted odd
 * lanes, xors, key bumps), so a stream does not depend on the machine that drew it;
 * tests/test_rng_simd.c forces each level and compares with the scalar path bit for
 * bit. The float conversions after the generator are the same C expressions as the
 * scalar code (u01fixedpt, Box-Muller with libm, the ziggurat), applied to the same
 * words, so fills are bit-identical too.
 *
 * A batch of n blocks runs on the widest level in force for the whole multiples of its
 * width and hands the tail down a level (16 -> 8 -> 4 -> scalar), so odd lengths cost
 * no masking. The level is cached in one process-wide int (a pure function of the CPU
 * unless a test forces it with xb_rng_simd_force); it never changes a result. */
#include <math.h>
#include <string.h>

#include "core/xb_rng.h"

#if defined(__x86_64__) || defined(__i386__)
#define XB_X86 1
#include <immintrin.h>
#else
#define XB_X86 0
#endif

enum { ROUNDS = 10, CHUNK = 256 };   /* CHUNK blocks = 1024 words = 4 kB of stack */

/* One batch: block b has counter {c0 + b or cols[b], c1 (+ b if vary_draw), c2, c3}. */
typedef struct gen_args {
    uint32_t k0, k1;            /* key */
    const uint32_t *cols;       /* NULL: lane-0 counter word = c0 + b */
    uint32_t c0, c1, c2, c3;
    int vary_draw;              /* 1: lane-1 word = c1 + b and lane 0 stays c0 */
    int soa;                    /* 0: out[4b + k]; 1: out[b] = word 0, out[n + b] = word 1 */
    size_t n;                   /* blocks in the whole batch (the SoA stride) */
    uint32_t *out;
} gen_args;

static inline uint32_t ctr0(const gen_args *a, size_t b)
{
    return a->cols ? a->cols[b] : a->vary_draw ? a->c0 : a->c0 + (uint32_t)b;
}

static inline void put(const gen_args *a, size_t b, const uint32_t w[4])
{
    if (a->soa) { a->out[b] = w[0]; a->out[a->n + b] = w[1]; }
    else memcpy(a->out + 4 * b, w, 4 * sizeof *w);
}

static void gen_scalar(const gen_args *a, size_t b0, size_t nb)
{
    const philox4x32_key_t key = {{ a->k0, a->k1 }};
    for (size_t b = b0; b < b0 + nb; b++) {
        const uint32_t c1 = a->vary_draw ? a->c1 + (uint32_t)b : a->c1;
        const philox4x32_ctr_t c = {{ ctr0(a, b), c1, a->c2, a->c3 }};
        const philox4x32_ctr_t x = philox4x32(c, key);
        put(a, b, x.v);
    }
}

#if XB_X86
#define M0 0xD2511F53u           /* Random123's PHILOX_M4x32_0, _1, PHILOX_W32_0, _1 */
#define M1 0xCD9E8D57u
#define W0 0x9E3779B9u
#define W1 0xBB67AE85u

/* ---- SSE4.1: 4 blocks ---- */
#define T_SSE __attribute__((target("sse4.1"), always_inline)) static inline
T_SSE void mulhilo_sse(__m128i x, __m128i m, __m128i *hi, __m128i *lo)
{
    const __m128i e = _mm_mul_epu32(x, m), o = _mm_mul_epu32(_mm_srli_epi64(x, 32), m);
    *hi = _mm_blend_epi16(_mm_srli_epi64(e, 32), o, 0xCC);    /* odd lanes from o */
    *lo = _mm_blend_epi16(e, _mm_slli_epi64(o, 32), 0xCC);
}

T_SSE void philox_sse(__m128i x[4], uint32_t k0, uint32_t k1)
{
    const __m128i m0 = _mm_set1_epi32((int)M0), m1 = _mm_set1_epi32((int)M1);
    for (int r = 0; r < ROUNDS; r++) {
        __m128i h0, l0, h1, l1;
        mulhilo_sse(x[0], m0, &h0, &l0);
        mulhilo_sse(x[2], m1, &h1, &l1);
        const __m128i y0 = _mm_xor_si128(_mm_xor_si128(h1, x[1]), _mm_set1_epi32((int)(k0 + r * W0)));
        const __m128i y2 = _mm_xor_si128(_mm_xor_si128(h0, x[3]), _mm_set1_epi32((int)(k1 + r * W1)));
        x[0] = y0; x[1] = l1; x[2] = y2; x[3] = l0;
    }
}

/* x[k] holds word k of blocks 0..3; t[b] becomes block b's four words. */
T_SSE void transpose_sse(const __m128i x[4], __m128i t[4])
{
    const __m128i a = _mm_unpacklo_epi32(x[0], x[1]), b = _mm_unpacklo_epi32(x[2], x[3]);
    const __m128i c = _mm_unpackhi_epi32(x[0], x[1]), d = _mm_unpackhi_epi32(x[2], x[3]);
    t[0] = _mm_unpacklo_epi64(a, b); t[1] = _mm_unpackhi_epi64(a, b);
    t[2] = _mm_unpacklo_epi64(c, d); t[3] = _mm_unpackhi_epi64(c, d);
}

__attribute__((target("sse4.1"))) static void gen_sse(const gen_args *a, size_t b0, size_t nb)
{
    const __m128i iota = _mm_setr_epi32(0, 1, 2, 3);
    for (size_t b = b0; b + 4 <= b0 + nb; b += 4) {
        __m128i x[4], t[4];
        const __m128i ib = _mm_add_epi32(iota, _mm_set1_epi32((int)(uint32_t)b));
        x[0] = a->cols ? _mm_loadu_si128((const __m128i *)(const void *)(a->cols + b))
             : a->vary_draw ? _mm_set1_epi32((int)a->c0) : _mm_add_epi32(_mm_set1_epi32((int)a->c0), ib);
        x[1] = a->vary_draw ? _mm_add_epi32(_mm_set1_epi32((int)a->c1), ib) : _mm_set1_epi32((int)a->c1);
        x[2] = _mm_set1_epi32((int)a->c2);
        x[3] = _mm_set1_epi32((int)a->c3);
        philox_sse(x, a->k0, a->k1);
        if (a->soa) {
            _mm_storeu_si128((__m128i *)(void *)(a->out + b), x[0]);
            _mm_storeu_si128((__m128i *)(void *)(a->out + a->n + b), x[1]);
            continue;
        }
        transpose_sse(x, t);
        for (int k = 0; k < 4; k++) _mm_storeu_si128((__m128i *)(void *)(a->out + 4 * (b + k)), t[k]);
    }
}

/* ---- AVX2: 8 blocks ---- */
#define T_AVX2 __attribute__((target("avx2"), always_inline)) static inline
T_AVX2 void mulhilo_avx2(__m256i x, __m256i m, __m256i *hi, __m256i *lo)
{
    const __m256i e = _mm256_mul_epu32(x, m), o = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(e, 32), o, 0xAA);
    *lo = _mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xAA);
}

T_AVX2 void philox_avx2(__m256i x[4], uint32_t k0, uint32_t k1)
{
    const __m256i m0 = _mm256_set1_epi32((int)M0), m1 = _mm256_set1_epi32((int)M1);
    for (int r = 0; r < ROUNDS; r++) {
        __m256i h0, l0, h1, l1;
        mulhilo_avx2(x[0], m0, &h0, &l0);
        mulhilo_avx2(x[2], m1, &h1, &l1);
        const __m256i y0 = _mm256_xor_si256(_mm256_xor_si256(h1, x[1]), _mm256_set1_epi32((int)(k0 + r * W0)));
        const __m256i y2 = _mm256_xor_si256(_mm256_xor_si256(h0, x[3]), _mm256_set1_epi32((int)(k1 + r * W1)));
        x[0] = y0; x[1] = l1; x[2] = y2; x[3] = l0;
    }
}

__attribute__((target("avx2"))) static void gen_avx2(const gen_args *a, size_t b0, size_t nb)
{
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t b = b0; b + 8 <= b0 + nb; b += 8) {
        __m256i x[4];
        const __m256i ib = _mm256_add_epi32(iota, _mm256_set1_epi32((int)(uint32_t)b));
        x[0] = a->cols ? _mm256_loadu_si256((const __m256i *)(const void *)(a->cols + b))
             : a->vary_draw ? _mm256_set1_epi32((int)a->c0) : _mm256_add_epi32(_mm256_set1_epi32((int)a->c0), ib);
        x[1] = a->vary_draw ? _mm256_add_epi32(_mm256_set1_epi32((int)a->c1), ib) : _mm256_set1_epi32((int)a->c1);
        x[2] = _mm256_set1_epi32((int)a->c2);
        x[3] = _mm256_set1_epi32((int)a->c3);
        philox_avx2(x, a->k0, a->k1);
        if (a->soa) {
            _mm256_storeu_si256((__m256i *)(void *)(a->out + b), x[0]);
            _mm256_storeu_si256((__m256i *)(void *)(a->out + a->n + b), x[1]);
            continue;
        }
        /* 4x4 transposes inside each 128-bit half: t[k] = blocks k (low) and k + 4 (high) */
        const __m256i p = _mm256_unpacklo_epi32(x[0], x[1]), q = _mm256_unpacklo_epi32(x[2], x[3]);
        const __m256i s = _mm256_unpackhi_epi32(x[0], x[1]), u = _mm256_unpackhi_epi32(x[2], x[3]);
        const __m256i t0 = _mm256_unpacklo_epi64(p, q), t1 = _mm256_unpackhi_epi64(p, q);
        const __m256i t2 = _mm256_unpacklo_epi64(s, u), t3 = _mm256_unpackhi_epi64(s, u);
        __m256i *o = (__m256i *)(void *)(a->out + 4 * b);
        _mm256_storeu_si256(o + 0, _mm256_permute2x128_si256(t0, t1, 0x20));   /* blocks 0, 1 */
        _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(t2, t3, 0x20));   /* 2, 3 */
        _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(t0, t1, 0x31));   /* 4, 5 */
        _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(t2, t3, 0x31));   /* 6, 7 */
    }
}

/* ---- AVX-512F: 16 blocks ---- */
#define T_512 __attribute__((target("avx512f"), always_inline)) static inline
T_512 void mulhilo_512(__m512i x, __m512i m, __m512i *hi, __m512i *lo)
{
    const __m512i e = _mm512_mul_epu32(x, m), o = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), m);
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e, 32), o);
    *lo = _mm512_mask_blend_epi32(0xAAAA, e, _mm512_slli_epi64(o, 32));
}

T_512 void philox_512(__m512i x[4], uint32_t k0, uint32_t k1)
{
    const __m512i m0 = _mm512_set1_epi32((int)M0), m1 = _mm512_set1_epi32((int)M1);
    for (int r = 0; r < ROUNDS; r++) {
        __m512i h0, l0, h1, l1;
        mulhilo_512(x[0], m0, &h0, &l0);
        mulhilo_512(x[2], m1, &h1, &l1);
        const __m512i y0 = _mm512_xor_si512(_mm512_xor_si512(h1, x[1]), _mm512_set1_epi32((int)(k0 + r * W0)));
        const __m512i y2 = _mm512_xor_si512(_mm512_xor_si512(h0, x[3]), _mm512_set1_epi32((int)(k1 + r * W1)));
        x[0] = y0; x[1] = l1; x[2] = y2; x[3] = l0;
    }
}

__attribute__((target("avx512f"))) static void gen_512(const gen_args *a, size_t b0, size_t nb)
{
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (size_t b = b0; b + 16 <= b0 + nb; b += 16) {
        __m512i x[4];
        const __m512i ib = _mm512_add_epi32(iota, _mm512_set1_epi32((int)(uint32_t)b));
        x[0] = a->cols ? _mm512_loadu_si512((const void *)(a->cols + b))
             : a->vary_draw ? _mm512_set1_epi32((int)a->c0) : _mm512_add_epi32(_mm512_set1_epi32((int)a->c0), ib);
        x[1] = a->vary_draw ? _mm512_add_epi32(_mm512_set1_epi32((int)a->c1), ib) : _mm512_set1_epi32((int)a->c1);
        x[2] = _mm512_set1_epi32((int)a->c2);
        x[3] = _mm512_set1_epi32((int)a->c3);
        philox_512(x, a->k0, a->k1);
        if (a->soa) {
            _mm512_storeu_si512((void *)(a->out + b), x[0]);
            _mm512_storeu_si512((void *)(a->out + a->n + b), x[1]);
            continue;
        }
        /* 4x4 transposes per 128-bit quarter: t[k] holds blocks k, k+4, k+8, k+12 */
        const __m512i p = _mm512_unpacklo_epi32(x[0], x[1]), q = _mm512_unpacklo_epi32(x[2], x[3]);
        const __m512i s = _mm512_unpackhi_epi32(x[0], x[1]), u = _mm512_unpackhi_epi32(x[2], x[3]);
        const __m512i t0 = _mm512_unpacklo_epi64(p, q), t1 = _mm512_unpackhi_epi64(p, q);
        const __m512i t2 = _mm512_unpacklo_epi64(s, u), t3 = _mm512_unpackhi_epi64(s, u);
        const __m512i u0 = _mm512_shuffle_i32x4(t0, t1, 0x44), u1 = _mm512_shuffle_i32x4(t2, t3, 0x44);
        const __m512i u2 = _mm512_shuffle_i32x4(t0, t1, 0xEE), u3 = _mm512_shuffle_i32x4(t2, t3, 0xEE);
        uint32_t *o = a->out + 4 * b;                        /* u0 = blocks 0 4 1 5, u1 = 2 6 3 7 */
        _mm512_storeu_si512((void *)(o + 0), _mm512_shuffle_i32x4(u0, u1, 0x88));   /* 0-3 */
        _mm512_storeu_si512((void *)(o + 16), _mm512_shuffle_i32x4(u0, u1, 0xDD));  /* 4-7 */
        _mm512_storeu_si512((void *)(o + 32), _mm512_shuffle_i32x4(u2, u3, 0x88));  /* 8-11 */
        _mm512_storeu_si512((void *)(o + 48), _mm512_shuffle_i32x4(u2, u3, 0xDD));  /* 12-15 */
    }
}
#endif

/* ---- dispatch ---- */
static int simd_level = -1;      /* cache of the level in force; -1: not yet decided */

int xb_rng_simd_supported(int level)
{
    if (level <= XB_RNG_SIMD_SCALAR) return level == XB_RNG_SIMD_SCALAR;
#if XB_X86
    __builtin_cpu_init();
    switch (level) {
    case XB_RNG_SIMD_SSE41: return __builtin_cpu_supports("sse4.1");
    case XB_RNG_SIMD_AVX2: return __builtin_cpu_supports("avx2");
    case XB_RNG_SIMD_AVX512: return __builtin_cpu_supports("avx512f");
    default: return 0;
    }
#else
    return 0;
#endif
}

static int best_level(void)
{
    for (int l = XB_RNG_SIMD_AVX512; l > XB_RNG_SIMD_SCALAR; l--)
        if (xb_rng_simd_supported(l)) return l;
    return XB_RNG_SIMD_SCALAR;
}

int xb_rng_simd_level(void)
{
    int l = __atomic_load_n(&simd_level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = best_level();
        __atomic_store_n(&simd_level, l, __ATOMIC_RELAXED);
    }
    return l;
}

int xb_rng_simd_force(int level)
{
    int l = level < 0 ? best_level() : level;
    while (l > XB_RNG_SIMD_SCALAR && !xb_rng_simd_supported(l)) l--;
    __atomic_store_n(&simd_level, l, __ATOMIC_RELAXED);
    return l;
}

/* Blocks [b0, b0 + nb) at `level`, the tail handed down. */
static void gen(int level, const gen_args *a, size_t b0, size_t nb)
{
#if XB_X86
    size_t w = 0;
    switch (level) {
    case XB_RNG_SIMD_AVX512: w = nb / 16 * 16; if (w) gen_512(a, b0, w); break;
    case XB_RNG_SIMD_AVX2: w = nb / 8 * 8; if (w) gen_avx2(a, b0, w); break;
    case XB_RNG_SIMD_SSE41: w = nb / 4 * 4; if (w) gen_sse(a, b0, w); break;
    default: break;
    }
    if (level > XB_RNG_SIMD_SCALAR && w < nb) { gen(level - 1, a, b0 + w, nb - w); return; }
    if (level > XB_RNG_SIMD_SCALAR) return;
#endif
    gen_scalar(a, b0, nb);
}

static gen_args args_for(const xb_rng *r, uint32_t c0, uint32_t c1, int vary_draw, size_t n,
                         uint32_t *out)
{
    const gen_args a = { .k0 = r->key.v[0], .k1 = r->key.v[1], .c0 = c0, .c1 = c1,
                         .c2 = r->epoch, .c3 = r->array, .vary_draw = vary_draw, .n = n,
                         .out = out };
    return a;
}

void xb_rng_raw_fill(const xb_rng *r, uint32_t col0, uint32_t draw, size_t nblocks, uint32_t *out)
{
    const gen_args a = args_for(r, col0, draw, 0, nblocks, out);
    gen(xb_rng_simd_level(), &a, 0, nblocks);
}

void xb_rng_raw_draws(const xb_rng *r, uint32_t col, uint32_t draw0, size_t nblocks, uint32_t *out)
{
    const gen_args a = args_for(r, col, draw0, 1, nblocks, out);
    gen(xb_rng_simd_level(), &a, 0, nblocks);
}

void xb_rng_raw_cols(const xb_rng *r, const uint32_t *cols, uint32_t draw, size_t n, uint32_t *out)
{
    gen_args a = args_for(r, 0, draw, 0, n, out);
    a.cols = cols;
    gen(xb_rng_simd_level(), &a, 0, n);
}

void xb_rng_raw_cols_w01(const xb_rng *r, const uint32_t *cols, uint32_t draw, size_t n,
                         uint32_t *out)
{
    gen_args a = args_for(r, 0, draw, 0, n, out);
    a.cols = cols;
    a.soa = 1;
    gen(xb_rng_simd_level(), &a, 0, n);
}

void xb_rng_normal_cols(const xb_rng *r, const uint32_t *cols, uint32_t draw, size_t n, float *out)
{
    uint32_t buf[2 * CHUNK];
    const int level = xb_rng_simd_level();
    for (size_t i = 0; i < n; i += CHUNK) {
        const size_t m = n - i < CHUNK ? n - i : CHUNK;
        gen_args a = args_for(r, 0, draw, 0, m, buf);
        a.cols = cols + i;
        a.soa = 1;
        gen(level, &a, 0, m);
        for (size_t k = 0; k < m; k++) {            /* the expression of xb_rng_normal */
            const float u0 = u01fixedpt_open_open_32_float(buf[k]);
            const float u1 = u01fixedpt_open_open_32_float(buf[m + k]);
            out[i + k] = sqrtf(-2.0f * logf(u0)) * cosf(6.28318530717958648f * u1);
        }
    }
}

/* ---- fills (layout: element j at col j/4, lane j%4 of `draw`) ---- */
/* u01fixedpt_open_open_32_float on m words: (0.5f + (i >> 9)) 2^-23, exact in any lane
 * width (the integer fits 23 bits, so the conversion, the add and the scaling are exact). */
#define U01_BODY                                                                              \
    _Pragma("omp simd")                                                                       \
    for (size_t k = 0; k < m; k++) out[k] = u01fixedpt_open_open_32_float(in[k]);
static void u01_ref(const uint32_t *restrict in, size_t m, float *restrict out) { U01_BODY }
#if XB_X86
__attribute__((target("avx2")))
static void u01_avx2(const uint32_t *restrict in, size_t m, float *restrict out) { U01_BODY }
__attribute__((target("avx512f")))
static void u01_512(const uint32_t *restrict in, size_t m, float *restrict out) { U01_BODY }
#endif

void xb_rng_fill_uniform(const xb_rng *r, uint32_t draw, size_t n, float *out)
{
    uint32_t buf[4 * CHUNK];
    const int level = xb_rng_simd_level();
    for (size_t j = 0; j < n; j += 4 * CHUNK) {
        const size_t m = n - j < 4 * CHUNK ? n - j : 4 * CHUNK, nb = (m + 3) / 4;
        const gen_args a = args_for(r, (uint32_t)(j / 4), draw, 0, nb, buf);
        gen(level, &a, 0, nb);
#if XB_X86
        if (level >= XB_RNG_SIMD_AVX512) { u01_512(buf, m, out + j); continue; }
        if (level == XB_RNG_SIMD_AVX2) { u01_avx2(buf, m, out + j); continue; }
#endif
        u01_ref(buf, m, out + j);
    }
}

void xb_rng_fill_normal(const xb_rng *r, uint32_t draw, size_t n, float *out)
{
    uint32_t buf[4 * CHUNK];
    const int level = xb_rng_simd_level();
    for (size_t j = 0; j < n; j += 4 * CHUNK) {
        const size_t m = n - j < 4 * CHUNK ? n - j : 4 * CHUNK, nb = (m + 3) / 4;
        const gen_args a = args_for(r, (uint32_t)(j / 4), draw, 0, nb, buf);
        gen(level, &a, 0, nb);
        for (size_t k = 0; k < m; k += 2) {          /* pairs (0,1), (2,3) of each block */
            const float u = u01fixedpt_open_open_32_float(buf[k]);
            const float v = u01fixedpt_open_open_32_float(buf[k + 1]);
            const float rad = sqrtf(-2.0f * logf(u)), th = 6.28318530717958648f * v;
            out[j + k] = rad * cosf(th);
            if (k + 1 < m) out[j + k + 1] = rad * sinf(th);
        }
    }
}

void xb_rng_fill_normal_zig(const xb_rng *r, uint32_t draw, size_t n, float *out)
{
    uint32_t buf[4 * CHUNK];
    const int level = xb_rng_simd_level();
    for (size_t j = 0; j < n; j += 4 * CHUNK) {
        const size_t m = n - j < 4 * CHUNK ? n - j : 4 * CHUNK, nb = (m + 3) / 4;
        const gen_args a = args_for(r, (uint32_t)(j / 4), draw, 0, nb, buf);
        gen(level, &a, 0, nb);
        xb_rng_zig_words(r, draw, (uint32_t)j, buf, m, out + j);
    }
}

void xb_rng_bernoulli_bits(const xb_rng *r, uint32_t col, uint32_t draw0, double p,
                           unsigned nbits, uint64_t *words)
{
    const uint64_t thr = xb_rng_bernoulli_threshold(p);
    const unsigned nw = (nbits + 63) / 64;
    for (unsigned w = 0; w < nw; w++) words[w] = 0;
    if (thr == 0) return;
    uint32_t buf[4 * CHUNK];
    const int level = xb_rng_simd_level();
    for (unsigned b = 0; b < nbits; b += 4 * CHUNK) {     /* CHUNK blocks = 16 words */
        const unsigned m = nbits - b < 4 * CHUNK ? nbits - b : 4 * CHUNK, nb = (m + 3) / 4;
        const gen_args a = args_for(r, col, draw0 + b / 4, 1, nb, buf);
        gen(level, &a, 0, nb);
        for (unsigned k = 0; k < m; k += 64) {
            const unsigned e = m - k < 64 ? m - k : 64;
            uint64_t bits = 0;
            for (unsigned i = 0; i < e; i++) bits |= (uint64_t)((uint64_t)buf[k + i] < thr) << i;
            words[(b + k) / 64] = bits;
        }
    }
}
