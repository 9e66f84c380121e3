/* core/xb_rng.h: counter-based random streams (Random123 Philox4x32-10).
 *
 * A random number is a pure function of (seed, purpose, array, row, column, draw,
 * epoch), never of the thread or of the order in which rows are processed; so a run
 * gives the same bits for any OMP_NUM_THREADS, and a device that skips a draw moves
 * no other stream. Layout: key {seed ^ purpose, row}, counter {col, draw, epoch,
 * array}. Purposes occupy the top byte, seeds the low 24 bits, so seed ^ purpose is
 * one-to-one. One xb_rng value names one row's stream; it is a small value type,
 * passed by const pointer, with no mutable state.
 *
 * Two addressing conventions:
 *  - element-wise (xb_rng_u4, xb_rng_normal, ...): the caller names (col, draw);
 *    device kernels use col = device index in the row, draw = pulse index.
 *  - fills (xb_rng_fill_*): element j of a vector lives at col = j / 4, lane j % 4
 *    of the given draw, so a fill of n values costs n/4 Philox calls.
 * Both are pure; do not mix them on the same (purpose, draw) of one row.
 *
 * Floats come from u01fixedpt_open_open_32_float: u in (0, 1), never 0 or 1, so
 * logs are finite. Box-Muller normals are bounded, |z| <= 5.77 (float) or 8.5
 * (double): right for device noise, wrong for events rarer than ~1e-8. */
#ifndef XB_RNG_H
#define XB_RNG_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>
#include <Random123/philox.h>
#include <Random123/u01fixedpt.h>

enum {
    XB_RNG_D2D     = 1u << 24,   /* device-to-device draws at array initialisation */
    XB_RNG_C2C     = 2u << 24,   /* cycle-to-cycle noise at every pulse */
    XB_RNG_READ    = 3u << 24,   /* read noise, output noise */
    XB_RNG_BITS    = 4u << 24,   /* stochastic pulse-coincidence bit streams */
    XB_RNG_INIT    = 5u << 24,   /* weight / state initialisation */
    XB_RNG_SHUFFLE = 6u << 24,   /* order of training samples */
    XB_RNG_PERM    = 7u << 24,   /* pixel permutations of permuted tasks */
    XB_RNG_SAMPLE  = 8u << 24,   /* Bayesian weight samples, MC dropout */
    XB_RNG_FAULT   = 9u << 24,   /* stuck-at faults, dead lines */
    XB_RNG_BER     = 10u << 24,  /* bit-error injection */
    XB_RNG_DATA    = 11u << 24,  /* input noise, spike encoding */
    XB_RNG_TEST    = 12u << 24,  /* test programs */
    XB_RNG_USER    = 13u << 24,  /* first tag free for new purposes (up to 255 << 24) */
    XB_SEED_MAX    = (1u << 24) - 1
};

typedef struct xb_rng { philox4x32_key_t key; uint32_t epoch, array; } xb_rng;

static inline xb_rng xb_rng_for_row(uint32_t seed, uint32_t purpose, uint32_t array,
                                    uint32_t row, uint32_t epoch)
{
    const xb_rng r = { .key = {{ (seed & XB_SEED_MAX) ^ purpose, row }},
                       .epoch = epoch, .array = array };
    return r;
}

/* Four raw 32-bit words for (col, draw). */
static inline philox4x32_ctr_t xb_rng_raw(const xb_rng *r, uint32_t col, uint32_t draw)
{
    const philox4x32_ctr_t c = {{ col, draw, r->epoch, r->array }};
    return philox4x32(c, r->key);
}

/* Four uniforms in (0, 1) for one (col, draw). */
static inline void xb_rng_u4(const xb_rng *r, uint32_t col, uint32_t draw, float u[4])
{
    const philox4x32_ctr_t x = xb_rng_raw(r, col, draw);
    for (int k = 0; k < 4; k++) u[k] = u01fixedpt_open_open_32_float(x.v[k]);
}

/* One uniform in (0, 1) with 53 random bits, for probabilities far below 2^-24. */
static inline double xb_rng_uniform_d(const xb_rng *r, uint32_t col, uint32_t draw)
{
    const philox4x32_ctr_t x = xb_rng_raw(r, col, draw);
    const uint64_t b = ((uint64_t)x.v[0] << 21) ^ (x.v[1] >> 11);    /* 53 bits */
    return ((double)(b & ((1ull << 53) - 1)) + 0.5) * 0x1p-53;
}

/* One standard normal (float) for (col, draw), by Box-Muller on two of the lanes. */
static inline float xb_rng_normal(const xb_rng *r, uint32_t col, uint32_t draw)
{
    float u[4];
    xb_rng_u4(r, col, draw, u);
    return sqrtf(-2.0f * logf(u[0])) * cosf(6.28318530717958648f * u[1]);
}

/* Double-precision standard normal for set-up code (53-bit uniforms). */
double xb_rng_normal_d(const xb_rng *r, uint32_t col, uint32_t draw);

/* Fills: out[j] for j < n, element j at col j/4, lane j%4 of draw `draw`. */
void xb_rng_fill_uniform(const xb_rng *r, uint32_t draw, size_t n, float *out);
void xb_rng_fill_normal(const xb_rng *r, uint32_t draw, size_t n, float *out);

/* Fast standard normals by the Marsaglia-Tsang ziggurat (128 layers) on the same fill
 * layout: element j takes the 32-bit word at col j/4, lane j%4 of `draw`; the ~2.5 % of
 * values that fall outside a layer's rectangle continue on the tail stream of the same
 * purpose (tag | 0x80 in the top byte: purposes must stay below 0x80), counters
 * {j, draw, epoch, array ^ (k << 28)} for the k-th extra block. ~4x cheaper than
 * xb_rng_fill_normal; exact in distribution (tails included, no 5.77 bound). */
void xb_rng_fill_normal_zig(const xb_rng *r, uint32_t draw, size_t n, float *out);

/* The ziggurat step of xb_rng_fill_normal_zig on words already drawn: out[k] from
 * words[k] (the word of element j0 + k), the slow path keyed by j0 + k. For rng_simd.c. */
void xb_rng_zig_words(const xb_rng *r, uint32_t draw, uint32_t j0, const uint32_t *words,
                      size_t m, float *out);

/* ---- vectorised Philox (core/rng_simd.c) ----
 * Philox4x32-10 on 4, 8 or 16 counters at once, the level picked at run time from the
 * CPU; every level gives the scalar Random123 words bit for bit, so nothing above
 * depends on the level. The fills above and the Bernoulli bits use it. */
enum { XB_RNG_SIMD_SCALAR, XB_RNG_SIMD_SSE41, XB_RNG_SIMD_AVX2, XB_RNG_SIMD_AVX512 };
int xb_rng_simd_level(void);              /* level in force (the best the CPU has) */
int xb_rng_simd_supported(int level);     /* 1 if this CPU and build can run `level` */
/* Test and benchmark hook, process-wide: run at `level` (-1: the best); a level the CPU
 * lacks falls to the next one it has. Returns the level now in force. */
int xb_rng_simd_force(int level);
/* out[4b + k] = xb_rng_raw(r, col0 + b, draw).v[k], b < nblocks (the fill layout). */
void xb_rng_raw_fill(const xb_rng *r, uint32_t col0, uint32_t draw, size_t nblocks,
                     uint32_t *out);
/* out[4b + k] = xb_rng_raw(r, col, draw0 + b).v[k], b < nblocks (a Bernoulli stream). */
void xb_rng_raw_draws(const xb_rng *r, uint32_t col, uint32_t draw0, size_t nblocks,
                      uint32_t *out);
/* out[4i + k] = xb_rng_raw(r, cols[i], draw).v[k], i < n (devices picked by index). */
void xb_rng_raw_cols(const xb_rng *r, const uint32_t *cols, uint32_t draw, size_t n,
                     uint32_t *out);
/* out[i] = word 0 and out[n + i] = word 1 of xb_rng_raw(r, cols[i], draw), i < n. */
void xb_rng_raw_cols_w01(const xb_rng *r, const uint32_t *cols, uint32_t draw, size_t n,
                         uint32_t *out);
/* out[i] = xb_rng_normal(r, cols[i], draw), bit for bit, i < n: the per-device normals
 * of n devices in one batch. */
void xb_rng_normal_cols(const xb_rng *r, const uint32_t *cols, uint32_t draw, size_t n,
                        float *out);

/* One ziggurat normal per (col, draw), for per-device draws: the ziggurat on word 0 of
 * the block (col, draw), the rare misses continuing on the tail stream at counters
 * {col, draw, epoch, array ^ (k << 28)} (as fill element j = col would: do not use both
 * on one purpose and draw). Exact in distribution; batched, 3.2 ns a value at AVX-512
 * against 23 ns for scalar xb_rng_normal (bench/core). xb_rng_normal_zig_cols gives out[i] = xb_rng_normal_zig(r, cols[i], draw). */
float xb_rng_normal_zig(const xb_rng *r, uint32_t col, uint32_t draw);
void xb_rng_normal_zig_cols(const xb_rng *r, const uint32_t *cols, uint32_t draw, size_t n,
                            float *out);

/* Bernoulli bit stream: nbits independent trials with P(1) = p (clipped to [0,1]),
 * packed LSB-first into ceil(nbits/64) words; bits above nbits are 0. The trials of
 * stream `col` use counters (col, draw0 + k) for k = 0 .. ceil(nbits/4)-1. */
void xb_rng_bernoulli_bits(const xb_rng *r, uint32_t col, uint32_t draw0, double p,
                           unsigned nbits, uint64_t *words);

/* The 32-bit threshold used by xb_rng_bernoulli_bits: a trial is 1 iff the raw word
 * is below it; p >= 1 gives UINT64 2^32 (always 1). Exposed for vectorised twins. */
static inline uint64_t xb_rng_bernoulli_threshold(double p)
{
    if (!(p > 0)) return 0;
    if (p >= 1) return 1ull << 32;
    return (uint64_t)(p * 4294967296.0 + 0.5);
}

/* Exact Binomial(n, p) by inversion of one 53-bit uniform at (col, draw), searched
 * outwards from the mode. O(sqrt(n p (1-p))) work. */
uint32_t xb_rng_binomial(const xb_rng *r, uint32_t col, uint32_t draw, double p, uint32_t n);

/* A gsl_rng (type "xb_philox") producing Philox words from key {seed ^ purpose, stream},
 * counters {i, 0, 0, 0xffffffff}, i = 0, 1, ...: for serial set-up code that wants GSL
 * distributions or gsl_ran_shuffle. Free with gsl_rng_free. NULL on out-of-memory. */
gsl_rng *xb_rng_gsl_alloc(uint32_t seed, uint32_t purpose, uint32_t stream);

/* Fisher-Yates permutation of 0..n-1 from a seeded stream (pure in seed, purpose,
 * stream): the same triple always gives the same permutation. */
void xb_rng_permutation(uint32_t seed, uint32_t purpose, uint32_t stream, size_t n,
                        uint32_t *perm);

/* Truncated distributions by inverse CDF (DEVICES.md conventions: scipy's
 * expon(loc, scale), lognorm(s, loc, scale), norm(loc, scale)); never rejection. */
typedef enum { XB_DIST_NORMAL, XB_DIST_EXPON, XB_DIST_LOGNORM, XB_DIST_UNIFORM } xb_dist_kind;
typedef struct xb_dist {
    xb_dist_kind kind;
    double shape;            /* lognormal s; unused otherwise */
    double loc, scale;       /* normal: mean, sd; expon: loc, scale; uniform: lo, width */
    double lo, hi;           /* truncation interval; -INFINITY/INFINITY for none */
} xb_dist;

double xb_dist_cdf(const xb_dist *d, double x);   /* untruncated CDF */
double xb_dist_sf(const xb_dist *d, double x);    /* untruncated 1 - CDF, accurate in the tail */
double xb_dist_icdf(const xb_dist *d, double u);  /* untruncated inverse CDF */
/* Value in [lo, hi] for u in (0, 1): F^-1(F(lo) + u (F(hi) - F(lo))), computed on the
 * upper tail when both ends are there, so narrow tail windows keep their precision. */
double xb_dist_trunc(const xb_dist *d, double u);
/* CDF of the truncated distribution, for KS tests. */
double xb_dist_trunc_cdf(const xb_dist *d, double x);

#endif
