#include "core/xb_rng.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>

static inline double u53(uint32_t hi, uint32_t lo)     /* (0,1), 53 bits */
{
    const uint64_t b = ((uint64_t)(hi >> 6) << 27) | (lo >> 5);     /* 26 + 27 bits */
    return ((double)b + 0.5) * 0x1p-53;
}

double xb_rng_normal_d(const xb_rng *r, uint32_t col, uint32_t draw)
{
    const philox4x32_ctr_t x = xb_rng_raw(r, col, draw);
    const double a = u53(x.v[0], x.v[1]), b = u53(x.v[2], x.v[3]);
    return sqrt(-2.0 * log(a)) * cos(6.283185307179586 * b);
}

/* ---- ziggurat (Marsaglia & Tsang, J. Stat. Softw. 5(8), 2000: 128 layers) ---- */
static uint32_t zig_k[128];
static float zig_w[128], zig_f[128];

__attribute__((constructor)) static void zig_tables(void)
{
    const double m1 = 2147483648.0, vn = 9.91256303526217e-3;
    double dn = 3.442619855899, tn = dn;
    const double q = vn / exp(-0.5 * dn * dn);
    zig_k[0] = (uint32_t)((dn / q) * m1);
    zig_k[1] = 0;
    zig_w[0] = (float)(q / m1);
    zig_w[127] = (float)(dn / m1);
    zig_f[0] = 1.0f;
    zig_f[127] = (float)exp(-0.5 * dn * dn);
    for (int i = 126; i >= 1; i--) {
        dn = sqrt(-2.0 * log(vn / dn + exp(-0.5 * dn * dn)));
        zig_k[i + 1] = (uint32_t)((dn / tn) * m1);
        tn = dn;
        zig_f[i] = (float)exp(-0.5 * dn * dn);
        zig_w[i] = (float)(dn / m1);
    }
}

/* The slow path of one element: rejection with more words from the tail stream. */
static float zig_slow(const xb_rng *r, uint32_t j, uint32_t draw, int32_t hz,
                      const uint32_t first[4])   /* tail block k = 1 if already drawn */
{
    const philox4x32_key_t key = {{ r->key.v[0] ^ 0x80000000u, r->key.v[1] }};
    uint32_t k = 0, lane = 4, buf[4] = {0};
    if (first) { for (int q = 0; q < 4; q++) buf[q] = first[q]; k = 1; lane = 0; }
    for (;;) {
        const uint32_t iz = (uint32_t)hz & 127;
        const float x = (float)hz * zig_w[iz];
        if (lane == 4) {
            const philox4x32_ctr_t c = {{ j, draw, r->epoch, r->array ^ (++k << 28) }};
            const philox4x32_ctr_t y = philox4x32(c, key);
            for (int q = 0; q < 4; q++) buf[q] = y.v[q];
            lane = 0;
        }
        if (iz == 0) {                    /* the base layer's tail beyond r = 3.44262 */
            for (;;) {
                if (lane > 2) {
                    const philox4x32_ctr_t c = {{ j, draw, r->epoch, r->array ^ (++k << 28) }};
                    const philox4x32_ctr_t y = philox4x32(c, key);
                    for (int q = 0; q < 4; q++) buf[q] = y.v[q];
                    lane = 0;
                }
                const float t = -logf(u01fixedpt_open_open_32_float(buf[lane++])) * 0.2904764f;
                const float s = -logf(u01fixedpt_open_open_32_float(buf[lane++]));
                if (s + s >= t * t) return hz > 0 ? 3.442620f + t : -3.442620f - t;
            }
        }
        const float u = u01fixedpt_open_open_32_float(buf[lane++]);
        if (zig_f[iz] + u * (zig_f[iz - 1] - zig_f[iz]) < expf(-0.5f * x * x)) return x;
        if (lane == 4) {
            const philox4x32_ctr_t c = {{ j, draw, r->epoch, r->array ^ (++k << 28) }};
            const philox4x32_ctr_t y = philox4x32(c, key);
            for (int q = 0; q < 4; q++) buf[q] = y.v[q];
            lane = 0;
        }
        hz = (int32_t)buf[lane++];
        const uint32_t mag = hz < 0 ? 0u - (uint32_t)hz : (uint32_t)hz;
        if (mag < zig_k[hz & 127]) return (float)hz * zig_w[hz & 127];
    }
}

/* The ziggurat on fill words: out[k] from words[k], element index j0 + k. The fast
 * path (~98 % of the words) is a table look-up, an int-to-float conversion and one
 * multiply: exactly the same in vector lanes (gathers, cvtdq2ps, mulps) as in scalar
 * code, so the AVX2 / AVX-512 passes below give the scalar bits. The words that miss
 * their layer are listed, the first block of each one's tail stream is drawn for all of
 * them in one vectorised call, and zig_slow finishes each from there. */
static size_t zig_fast_scalar(const uint32_t *words, size_t k, size_t m, float *out,
                              uint32_t *slow, size_t ns)
{
    for (; k < m; k++) {
        const int32_t hz = (int32_t)words[k];
        const uint32_t iz = words[k] & 127;
        const uint32_t mag = hz < 0 ? 0u - (uint32_t)hz : (uint32_t)hz;
        out[k] = (float)hz * zig_w[iz];
        slow[ns] = (uint32_t)k;
        ns += !(mag < zig_k[iz]);
    }
    return ns;
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f")))
static size_t zig_fast_512(const uint32_t *words, size_t *kp, size_t m, float *out, uint32_t *slow)
{
    /* The 128-entry tables live in 8 + 8 registers; a look-up is two vpermt2d (index
     * bits 0-4 and 5) per half and one blend (bit 6): far cheaper than gathers. */
    __m512i tk[8], tw[8];
    for (int q = 0; q < 8; q++) {
        tk[q] = _mm512_loadu_si512((const void *)(zig_k + 16 * q));
        tw[q] = _mm512_castps_si512(_mm512_loadu_ps(zig_w + 16 * q));
    }
    const __m512i b6 = _mm512_set1_epi32(64);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    size_t k = 0, ns = 0;
    for (; k + 16 <= m; k += 16) {
        const __m512i hz = _mm512_loadu_si512((const void *)(words + k));
        const __mmask16 hi = _mm512_test_epi32_mask(hz, b6);
        const __m512i k0 = _mm512_permutex2var_epi32(tk[0], hz, tk[1]);   /* entries 0-31 */
        const __m512i k1 = _mm512_permutex2var_epi32(tk[2], hz, tk[3]);   /* 32-63 */
        const __m512i k2 = _mm512_permutex2var_epi32(tk[4], hz, tk[5]);
        const __m512i k3 = _mm512_permutex2var_epi32(tk[6], hz, tk[7]);
        const __m512i w0 = _mm512_permutex2var_epi32(tw[0], hz, tw[1]);
        const __m512i w1 = _mm512_permutex2var_epi32(tw[2], hz, tw[3]);
        const __m512i w2 = _mm512_permutex2var_epi32(tw[4], hz, tw[5]);
        const __m512i w3 = _mm512_permutex2var_epi32(tw[6], hz, tw[7]);
        const __mmask16 b5 = _mm512_test_epi32_mask(hz, _mm512_set1_epi32(32));
        const __m512i kk = _mm512_mask_blend_epi32(hi, _mm512_mask_blend_epi32(b5, k0, k1),
                                                   _mm512_mask_blend_epi32(b5, k2, k3));
        const __m512 ww = _mm512_castsi512_ps(_mm512_mask_blend_epi32(
            hi, _mm512_mask_blend_epi32(b5, w0, w1), _mm512_mask_blend_epi32(b5, w2, w3)));
        const __mmask16 fast = _mm512_cmplt_epu32_mask(_mm512_abs_epi32(hz), kk);
        _mm512_storeu_ps(out + k, _mm512_mul_ps(_mm512_cvtepi32_ps(hz), ww));
        const __mmask16 sl = (__mmask16)~fast;  /* append the misses without a branch; the */
        _mm512_storeu_si512((void *)(slow + ns),     /* memory form is slow on Zen 4 */
            _mm512_maskz_compress_epi32(sl, _mm512_add_epi32(iota, _mm512_set1_epi32((int)k))));
        ns += (size_t)__builtin_popcount((unsigned)sl);
    }
    *kp = k;
    return ns;
}

__attribute__((target("avx2")))
static size_t zig_fast_avx2(const uint32_t *words, size_t *kp, size_t m, float *out, uint32_t *slow)
{
    const __m256i m127 = _mm256_set1_epi32(127), sign = _mm256_set1_epi32(INT32_MIN);
    size_t k = 0, ns = 0;
    for (; k + 8 <= m; k += 8) {
        const __m256i hz = _mm256_loadu_si256((const __m256i *)(const void *)(words + k));
        const __m256i iz = _mm256_and_si256(hz, m127);
        const __m256i kk = _mm256_i32gather_epi32((const int *)zig_k, iz, 4);
        const __m256 ww = _mm256_i32gather_ps(zig_w, iz, 4);
        /* unsigned |hz| < k: signed compare of both xor 2^31 */
        const __m256i lt = _mm256_cmpgt_epi32(_mm256_xor_si256(kk, sign),
                                              _mm256_xor_si256(_mm256_abs_epi32(hz), sign));
        _mm256_storeu_ps(out + k, _mm256_mul_ps(_mm256_cvtepi32_ps(hz), ww));
        for (unsigned sl = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(lt)) & 0xffu; sl;
             sl &= sl - 1)
            slow[ns++] = (uint32_t)(k + (size_t)__builtin_ctz(sl));
    }
    *kp = k;
    return ns;
}
#endif

/* words[k] belongs to element jidx[k] (or j0 + k if jidx is NULL). */
static void zig_words_idx(const xb_rng *r, uint32_t draw, uint32_t j0, const uint32_t *jidx,
                          const uint32_t *words, size_t m, float *out)
{
    enum { PIECE = 1024, BATCH = 64 };
    uint32_t slow[PIECE + 16], cols[BATCH], first[4 * BATCH];   /* + 16: whole-vector stores */
    const xb_rng tail = { .key = {{ r->key.v[0] ^ 0x80000000u, r->key.v[1] }},
                          .epoch = r->epoch, .array = r->array ^ (1u << 28) };
    const int level = xb_rng_simd_level();
    (void)level;
    for (size_t k0 = 0; k0 < m; k0 += PIECE) {       /* pieces: slow[] cannot overflow */
        const size_t mm = m - k0 < PIECE ? m - k0 : PIECE;
        const uint32_t *w = words + k0;
        float *o = out + k0;
        size_t k = 0, ns = 0;
#if defined(__x86_64__)
        if (level >= XB_RNG_SIMD_AVX512) ns = zig_fast_512(w, &k, mm, o, slow);
        else if (level == XB_RNG_SIMD_AVX2) ns = zig_fast_avx2(w, &k, mm, o, slow);
#endif
        ns = zig_fast_scalar(w, k, mm, o, slow, ns);
        for (size_t i0 = 0; i0 < ns; i0 += BATCH) {  /* ~17 per 1024 words */
            const size_t nb = ns - i0 < BATCH ? ns - i0 : BATCH;
            for (size_t i = 0; i < nb; i++)
                cols[i] = jidx ? jidx[k0 + slow[i0 + i]] : j0 + (uint32_t)(k0 + slow[i0 + i]);
            xb_rng_raw_cols(&tail, cols, draw, nb, first);     /* tail block 1 of each */
            for (size_t i = 0; i < nb; i++)
                o[slow[i0 + i]] = zig_slow(r, cols[i], draw, (int32_t)w[slow[i0 + i]], first + 4 * i);
        }
    }
}

void xb_rng_zig_words(const xb_rng *r, uint32_t draw, uint32_t j0, const uint32_t *words,
                      size_t m, float *out)
{
    zig_words_idx(r, draw, j0, NULL, words, m, out);
}

float xb_rng_normal_zig(const xb_rng *r, uint32_t col, uint32_t draw)
{
    const uint32_t w = xb_rng_raw(r, col, draw).v[0];
    float z;
    zig_words_idx(r, draw, 0, &col, &w, 1, &z);
    return z;
}

void xb_rng_normal_zig_cols(const xb_rng *r, const uint32_t *cols, uint32_t draw, size_t n,
                            float *out)
{
    enum { B = 256 };
    uint32_t w[2 * B];                       /* words 0 and 1 of each block (SoA) */
    for (size_t i = 0; i < n; i += B) {
        const size_t m = n - i < B ? n - i : B;
        xb_rng_raw_cols_w01(r, cols + i, draw, m, w);
        zig_words_idx(r, draw, 0, cols + i, w, m, out + i);
    }
}

uint32_t xb_rng_binomial(const xb_rng *r, uint32_t col, uint32_t draw, double p, uint32_t n)
{
    if (n == 0 || !(p > 0)) return 0;
    if (p >= 1) return n;
    /* Chop-down search from the mode, alternating sides: any fixed order of the
     * support gives exact inversion sampling; this one costs O(sd) steps. */
    const double q = 1.0 - p, lp = log(p), lq = log1p(-p);
    uint32_t m = (uint32_t)floor((n + 1.0) * p);
    if (m > n) m = n;
    const double fm = exp(gsl_sf_lnchoose(n, m) + m * lp + (n - m) * lq);
    double u = xb_rng_uniform_d(r, col, draw) - fm;
    if (u <= 0) return m;
    double fl = fm, fr = fm;              /* pmf at the current left / right ends */
    uint32_t kl = m, kr = m;
    for (;;) {
        const int can_l = kl > 0, can_r = kr < n;
        if (!can_l && !can_r) return m;   /* rounding left u > 0: the mode is safest */
        if (can_r) {
            fr *= (double)(n - kr) / (kr + 1.0) * p / q;
            kr++;
            if ((u -= fr) <= 0) return kr;
        }
        if (can_l) {
            fl *= (double)kl / (n - kl + 1.0) * q / p;
            kl--;
            if ((u -= fl) <= 0) return kl;
        }
    }
}

/* ---- a gsl_rng over Philox, for serial set-up code ---- */
typedef struct { philox4x32_key_t key; uint32_t i, left; uint32_t buf[4]; } xbp_state;

static void xbp_set(void *vs, unsigned long s)
{
    xbp_state *st = vs;
    (void)s;                              /* the key is set by xb_rng_gsl_alloc */
    st->i = 0;
    st->left = 0;
}

static unsigned long xbp_get(void *vs)
{
    xbp_state *st = vs;
    if (st->left == 0) {
        const philox4x32_ctr_t c = {{ st->i++, 0, 0, 0xffffffffu }};
        const philox4x32_ctr_t x = philox4x32(c, st->key);
        for (int k = 0; k < 4; k++) st->buf[k] = x.v[k];
        st->left = 4;
    }
    return st->buf[4 - st->left--];
}

static double xbp_get_double(void *vs) { return xbp_get(vs) / 4294967296.0; }

static const gsl_rng_type xbp_type = {
    "xb_philox", 0xffffffffUL, 0, sizeof(xbp_state), &xbp_set, &xbp_get, &xbp_get_double
};

gsl_rng *xb_rng_gsl_alloc(uint32_t seed, uint32_t purpose, uint32_t stream)
{
    gsl_rng *g = gsl_rng_alloc(&xbp_type);
    if (!g) return NULL;
    xbp_state *st = g->state;
    st->key.v[0] = (seed & XB_SEED_MAX) ^ purpose;
    st->key.v[1] = stream;
    st->i = 0;
    st->left = 0;
    return g;
}

void xb_rng_permutation(uint32_t seed, uint32_t purpose, uint32_t stream, size_t n,
                        uint32_t *perm)
{
    const xb_rng r = xb_rng_for_row(seed, purpose, 0, stream, 0);
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        const size_t j = (size_t)(xb_rng_uniform_d(&r, (uint32_t)i, 0) * (double)i);
        const uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j < i ? j : i - 1];
        perm[j < i ? j : i - 1] = t;
    }
}

/* ---- truncated distributions ---- */
double xb_dist_cdf(const xb_dist *d, double x)
{
    if (x == -INFINITY) return 0.0;
    if (x == INFINITY) return 1.0;
    switch (d->kind) {
    case XB_DIST_NORMAL: return gsl_cdf_gaussian_P(x - d->loc, d->scale);
    case XB_DIST_EXPON: return x <= d->loc ? 0.0 : gsl_cdf_exponential_P(x - d->loc, d->scale);
    case XB_DIST_LOGNORM:
        return x <= d->loc ? 0.0 : gsl_cdf_lognormal_P(x - d->loc, log(d->scale), d->shape);
    case XB_DIST_UNIFORM:
        return x <= d->loc ? 0.0 : x >= d->loc + d->scale ? 1.0 : (x - d->loc) / d->scale;
    }
    return NAN;
}

double xb_dist_sf(const xb_dist *d, double x)
{
    if (x == -INFINITY) return 1.0;
    if (x == INFINITY) return 0.0;
    switch (d->kind) {
    case XB_DIST_NORMAL: return gsl_cdf_gaussian_Q(x - d->loc, d->scale);
    case XB_DIST_EXPON: return x <= d->loc ? 1.0 : gsl_cdf_exponential_Q(x - d->loc, d->scale);
    case XB_DIST_LOGNORM:
        return x <= d->loc ? 1.0 : gsl_cdf_lognormal_Q(x - d->loc, log(d->scale), d->shape);
    case XB_DIST_UNIFORM: return 1.0 - xb_dist_cdf(d, x);
    }
    return NAN;
}

double xb_dist_icdf(const xb_dist *d, double u)
{
    switch (d->kind) {
    case XB_DIST_NORMAL: return d->loc + gsl_cdf_gaussian_Pinv(u, d->scale);
    case XB_DIST_EXPON: return d->loc + gsl_cdf_exponential_Pinv(u, d->scale);
    case XB_DIST_LOGNORM: return d->loc + gsl_cdf_lognormal_Pinv(u, log(d->scale), d->shape);
    case XB_DIST_UNIFORM: return d->loc + u * d->scale;
    }
    return NAN;
}

static double dist_isf(const xb_dist *d, double s)
{
    switch (d->kind) {
    case XB_DIST_NORMAL: return d->loc + gsl_cdf_gaussian_Qinv(s, d->scale);
    case XB_DIST_EXPON: return d->loc + gsl_cdf_exponential_Qinv(s, d->scale);
    case XB_DIST_LOGNORM: return d->loc + gsl_cdf_lognormal_Qinv(s, log(d->scale), d->shape);
    case XB_DIST_UNIFORM: return d->loc + (1.0 - s) * d->scale;
    }
    return NAN;
}

double xb_dist_trunc(const xb_dist *d, double u)
{
    double x;
    const double fa = xb_dist_cdf(d, d->lo);
    if (fa > 0.5) {                        /* whole window in the upper tail */
        const double sa = xb_dist_sf(d, d->lo), sb = xb_dist_sf(d, d->hi);
        x = dist_isf(d, sa - u * (sa - sb));
    } else {
        const double fb = xb_dist_cdf(d, d->hi);
        x = xb_dist_icdf(d, fa + u * (fb - fa));
    }
    if (!(x >= d->lo)) x = d->lo;          /* rounding at the ends; NaN goes to lo */
    if (x > d->hi) x = d->hi;
    return x;
}

double xb_dist_trunc_cdf(const xb_dist *d, double x)
{
    if (x <= d->lo) return 0.0;
    if (x >= d->hi) return 1.0;
    const double fa = xb_dist_cdf(d, d->lo);
    if (fa > 0.5) {
        const double sa = xb_dist_sf(d, d->lo), sb = xb_dist_sf(d, d->hi);
        return (sa - xb_dist_sf(d, x)) / (sa - sb);
    }
    const double fb = xb_dist_cdf(d, d->hi);
    return (xb_dist_cdf(d, x) - fa) / (fb - fa);
}
