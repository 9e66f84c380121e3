/* training/meta_bnn_net.c: the binarized MLP and Adam-meta of xb_meta_bnn.h. */
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <smmintrin.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "devices/xb_bank.h"
#include "training/xb_meta_bnn.h"

enum { BMAX = 1024 };
static const float BN_EPS = 1e-5f, BN_MOM = 0.1f;

/* One BatchNorm state: per layer gamma, beta, running mean, running variance. */
typedef struct bnset { float *gam[XB_MBNN_MAX_LAYERS], *bet[XB_MBNN_MAX_LAYERS],
                       *rm[XB_MBNN_MAX_LAYERS], *rv[XB_MBNN_MAX_LAYERS]; } bnset;

struct xb_mbnn {
    xb_mbnn_opts o;
    size_t L, nw[XB_MBNN_MAX_LAYERS];           /* nw[l]: words per packed row of layer l */
    float *Wh[XB_MBNN_MAX_LAYERS], *Wb[XB_MBNN_MAX_LAYERS];   /* hidden, stored +-1 */
    float *mW[XB_MBNN_MAX_LAYERS], *vW[XB_MBNN_MAX_LAYERS], *gW[XB_MBNN_MAX_LAYERS];
    uint64_t *bits[XB_MBNN_MAX_LAYERS];         /* stored bits, packed rows (l >= 1) */
    float *Wr[XB_MBNN_MAX_LAYERS];              /* read copies (ber_read > 0) */
    uint64_t *bitsr[XB_MBNN_MAX_LAYERS];
    bnset bn;                                   /* the current BatchNorm state */
    float *bnm[XB_MBNN_MAX_LAYERS], *bnv[XB_MBNN_MAX_LAYERS];   /* Adam of [gam; bet] */
    float *bng[XB_MBNN_MAX_LAYERS];             /* gradient of [gam; bet] */
    float *bnblock;                             /* gam, bet, rm, rv of every layer */
    float *saved[XB_MBNN_MAX_TASKS];            /* per task: a copy of bnblock */
    size_t bnlen, task;
    unsigned t;                                 /* Adam step within the task */
    uint32_t reads;                             /* forward reads (read-error stream) */
    /* batch buffers (BMAX samples) */
    float *z[XB_MBNN_MAX_LAYERS], *y[XB_MBNN_MAX_LAYERS], *a[XB_MBNN_MAX_LAYERS];
    uint64_t *ap[XB_MBNN_MAX_LAYERS];
    float *istd[XB_MBNN_MAX_LAYERS];
    float *d1, *d2;                             /* BMAX x widest layer */
    double *acc;                                /* 4 x widest layer */
    uint64_t *flipw, *failw;                    /* per row of the widest layer */
    xb_mbnn_stats st;
    xb_bank *bl[XB_MBNN_MAX_LAYERS], *blb[XB_MBNN_MAX_LAYERS];   /* device mode */
    int16_t *nbl, *nblb;                        /* pulse counts, largest layer */
    float *gbl, *gblb;
};

xb_mbnn_opts xb_mbnn_defaults(void)
{
    return (xb_mbnn_opts){ .nlayers = 3, .sizes = { 784, 1024, 1024, 10 }, .lr = 0.005,
                           .meta = 0, .decay = 0, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                           .init_width = 0.1, .e_write_J = 0.5e-12, .packed = 1, .seed = 1,
                           .n_max = 14 };
}

/* ---- kernels ---- */
/* e^x for x <= 0 (below -87 gives e^-87): x = k ln2 + r, |r| <= ln2/2, e^r by its
 * degree-7 Taylor polynomial (relative error < 3e-8 before rounding), 2^k by building
 * the exponent bits. Written so that exp_neg4 (4 lanes, SSE4.1) performs the very same
 * float operations: the two give identical bits, which the tests check. */
static inline float exp_neg(float x)
{
    x = x < -87.0f ? -87.0f : x;
    const float k = floorf(x * 1.44269504f + 0.5f);
    const float r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
    float p = 1.98412698e-4f;                            /* 1/7! */
    p = p * r + 1.38888889e-3f; p = p * r + 8.33333333e-3f; p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f; p = p * r + 0.5f; p = p * r + 1.0f; p = p * r + 1.0f;
    const int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline __m128 exp_neg4(__m128 x)
{
    x = _mm_max_ps(x, _mm_set1_ps(-87.0f));
    const __m128 k = _mm_floor_ps(_mm_add_ps(_mm_mul_ps(x, _mm_set1_ps(1.44269504f)), _mm_set1_ps(0.5f)));
    const __m128 r = _mm_sub_ps(_mm_sub_ps(x, _mm_mul_ps(k, _mm_set1_ps(0.693145751953125f))),
                                _mm_mul_ps(k, _mm_set1_ps(1.428606765330187e-06f)));
    __m128 p = _mm_set1_ps(1.98412698e-4f);
    static const float c[7] = { 1.38888889e-3f, 8.33333333e-3f, 4.16666667e-2f, 1.66666667e-1f,
                                0.5f, 1.0f, 1.0f };
    for (int i = 0; i < 7; i++) p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(c[i]));
    const __m128i e = _mm_slli_epi32(_mm_add_epi32(_mm_cvttps_epi32(k), _mm_set1_epi32(127)), 23);
    return _mm_mul_ps(p, _mm_castsi128_ps(e));
}

float xb_mbnn_fmeta(float meta, float w)
{
    /* 1 - tanh^2(x) = sech^2(x) = 4 e^{-2x} / (1 + e^{-2x})^2: one exp instead of a
     * tanh, and no cancellation where tanh^2 is close to 1 */
    const float e = exp_neg(-2.0f * meta * fabsf(w));
    const float d = 1.0f + e;
    return 4.0f * e / (d * d);
}

typedef struct adam_c { float b1, b2, c1, c2, alpha, eps, decay, meta; } adam_c;

static adam_c adam_consts(const xb_mbnn_adam *a)
{
    const double t = a->t;
    const double alpha = a->lr * sqrt(1.0 - pow(a->beta2, t)) / (1.0 - pow(a->beta1, t));
    return (adam_c){ a->beta1, a->beta2, 1.0f - a->beta1, 1.0f - a->beta2, (float)alpha,
                     a->eps, a->decay, a->meta };
}

/* The one Adam(-meta) element update (ALGORITHMS.md 3); returns the new parameter. */
static inline float adam_one(const adam_c *c, int meta_on, float w, float *m, float *v, float g)
{
    g = g + c->decay * w;
    const float mm = c->b1 * *m + c->c1 * g;
    const float vv = c->b2 * *v + c->c2 * (g * g);
    *m = mm; *v = vv;
    float d = (-c->alpha * mm) / (sqrtf(vv) + c->eps);
    if (meta_on && (w >= 0.0f ? mm > 0.0f : mm < 0.0f))    /* sign(W_h) m > 0: shrinks |W_h| */
        d = d * xb_mbnn_fmeta(c->meta, w);
    return w + d;
}

/* Where a row's flips go: the stored bits and their write errors (ALGORITHMS.md 3:
 * reprogram only the weights whose sign changed; DEVICES.md 5: a write may fail). */
typedef struct flipper {
    float *wb; uint64_t *bits; const xb_rng *rng; double pw;
    uint64_t flips, failed;
} flipper;

static inline void flip(flipper *f, size_t j, float w1)
{
    f->flips++;
    if (f->pw > 0 && xb_rng_uniform_d(f->rng, (uint32_t)j, 0) < f->pw) { f->failed++; return; }
    const uint64_t bit = 1ull << (j % 64);
    if (w1 < 0.0f) { f->wb[j] = -1.0f; f->bits[j / 64] |= bit; }
    else { f->wb[j] = 1.0f; f->bits[j / 64] &= ~bit; }
}

/* adam_one over a row, 4 lanes at a time with the same float operations (so the same
 * bits); sign changes of W_h go to fl (may be NULL), detected in the same pass. */
static void adam_row4(const adam_c *c, int on, size_t n, float *w, float *m, float *v,
                      const float *g, flipper *fl)
{
    const __m128 b1 = _mm_set1_ps(c->b1), b2 = _mm_set1_ps(c->b2), c1 = _mm_set1_ps(c->c1),
                 c2 = _mm_set1_ps(c->c2), na = _mm_set1_ps(-c->alpha), eps = _mm_set1_ps(c->eps),
                 dec = _mm_set1_ps(c->decay), m2 = _mm_set1_ps(-2.0f * c->meta),
                 zero = _mm_setzero_ps(), one = _mm_set1_ps(1.0f), four = _mm_set1_ps(4.0f),
                 absmask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const __m128 w0 = _mm_loadu_ps(w + j);
        __m128 gg = _mm_loadu_ps(g + j);
        gg = _mm_add_ps(gg, _mm_mul_ps(dec, w0));
        const __m128 mm = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m + j)), _mm_mul_ps(c1, gg));
        const __m128 vv = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(v + j)), _mm_mul_ps(c2, _mm_mul_ps(gg, gg)));
        _mm_storeu_ps(m + j, mm);
        _mm_storeu_ps(v + j, vv);
        __m128 d = _mm_div_ps(_mm_mul_ps(na, mm), _mm_add_ps(_mm_sqrt_ps(vv), eps));
        if (on) {
            const __m128 pos = _mm_cmpge_ps(w0, zero);
            const __m128 cond = _mm_or_ps(_mm_and_ps(pos, _mm_cmpgt_ps(mm, zero)),
                                          _mm_andnot_ps(pos, _mm_cmplt_ps(mm, zero)));
            if (_mm_movemask_ps(cond)) {
                const __m128 e = exp_neg4(_mm_mul_ps(m2, _mm_and_ps(w0, absmask)));
                const __m128 den = _mm_add_ps(one, e);
                const __m128 f = _mm_div_ps(_mm_mul_ps(four, e), _mm_mul_ps(den, den));
                d = _mm_blendv_ps(d, _mm_mul_ps(d, f), cond);
            }
        }
        const __m128 w1 = _mm_add_ps(w0, d);
        _mm_storeu_ps(w + j, w1);
        if (fl) {
            const int ch = _mm_movemask_ps(_mm_cmplt_ps(w0, zero)) ^ _mm_movemask_ps(_mm_cmplt_ps(w1, zero));
            for (int k = 0; ch && k < 4; k++) if (ch >> k & 1) flip(fl, j + (size_t)k, w[j + (size_t)k]);
        }
    }
    for (; j < n; j++) {
        const float w0 = w[j];
        w[j] = adam_one(c, on, w0, &m[j], &v[j], g[j]);
        if (fl && (w0 < 0.0f) != (w[j] < 0.0f)) flip(fl, j, w[j]);
    }
}

void xb_mbnn_adam_update(const xb_mbnn_adam *a, int is_weight, size_t n, float *w, float *m,
                         float *v, const float *g)
{
    const adam_c c = adam_consts(a);
    const int on = is_weight && a->meta > 0;
    for (size_t i = 0; i < n; i++) w[i] = adam_one(&c, on, w[i], &m[i], &v[i], g[i]);
}

void xb_mbnn_adam_update_fast(const xb_mbnn_adam *a, int is_weight, size_t n, float *w, float *m,
                              float *v, const float *g)
{
    const adam_c c = adam_consts(a);
    adam_row4(&c, is_weight && a->meta > 0, n, w, m, v, g, NULL);
}

int xb_mbnn_pulses(float u, int n_max)
{
    const float c = fminf(fmaxf(u, (float)-n_max), (float)n_max);
    return (int)roundf(c);
}

void xb_mbnn_pack(const float *x, size_t rows, size_t cols, uint64_t *bits)
{
    const size_t nw = (cols + 63) / 64;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        uint64_t *br = bits + r * nw;
        for (size_t w = 0; w < nw; w++) {
            const size_t k1 = cols - 64 * w < 64 ? cols - 64 * w : 64;
            uint64_t word = 0;
            for (size_t k = 0; k < k1; k++) word |= (uint64_t)(xr[64 * w + k] < 0.0f) << k;
            br[w] = word;
        }
    }
}

void xb_mbnn_xnor_gemm(const uint64_t *a, size_t b, const uint64_t *w, size_t out, size_t n,
                       float *z)
{
    const size_t nw = (n + 63) / 64, JB = 64, nblk = (out + JB - 1) / JB;
    const int nt = xb_par_threads(out, n);
    /* one block of 64 weight rows per task: the block stays in L1 while every sample
     * streams past it; z rows are written 64 floats at a time */
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t blk = 0; blk < nblk; blk++) {
        const size_t j0 = blk * JB, j1 = j0 + JB < out ? j0 + JB : out;
        for (size_t s = 0; s < b; s++) {
            const uint64_t *ar = a + s * nw;
            float *zs = z + s * out;
            for (size_t j = j0; j < j1; j++) {
                const uint64_t *wr = w + j * nw;
                unsigned c = 0;
                for (size_t k = 0; k < nw; k++) c += (unsigned)__builtin_popcountll(ar[k] ^ wr[k]);
                zs[j] = (float)((long)n - 2 * (long)c);
            }
        }
    }
}

/* ---- allocation ---- */
void xb_mbnn_free(xb_mbnn *n)
{
    if (!n) return;
    for (size_t l = 0; l < XB_MBNN_MAX_LAYERS; l++) {
        xb_free(n->Wh[l]); xb_free(n->Wb[l]); xb_free(n->mW[l]); xb_free(n->vW[l]);
        xb_free(n->gW[l]); xb_free(n->bits[l]); xb_free(n->Wr[l]); xb_free(n->bitsr[l]);
        xb_free(n->bnm[l]); xb_free(n->bnv[l]); xb_free(n->bng[l]);
        xb_free(n->z[l]); xb_free(n->y[l]); xb_free(n->a[l]); xb_free(n->ap[l]);
        xb_free(n->istd[l]);
    }
    for (size_t k = 0; k < XB_MBNN_MAX_TASKS; k++) xb_free(n->saved[k]);
    xb_free(n->bnblock); xb_free(n->d1); xb_free(n->d2); xb_free(n->acc);
    xb_free(n->flipw); xb_free(n->failw);
    for (size_t l = 0; l < XB_MBNN_MAX_LAYERS; l++) { xb_bank_free(n->bl[l]); xb_bank_free(n->blb[l]); }
    xb_free(n->nbl); xb_free(n->nblb); xb_free(n->gbl); xb_free(n->gblb);
    xb_free(n);
}

static void init_weights(xb_mbnn *n)
{
    for (size_t l = 0; l < n->L; l++) {
        const size_t in = n->o.sizes[l], out = n->o.sizes[l + 1];
        for (size_t r = 0; r < out; r++) {
            const xb_rng g = xb_rng_for_row(n->o.seed, XB_RNG_INIT, (uint32_t)l, (uint32_t)r, 0);
            float *w = n->Wh[l] + r * in;
            xb_rng_fill_uniform(&g, 0, in, w);
            for (size_t j = 0; j < in; j++) w[j] = (float)((w[j] - 0.5) * n->o.init_width);
        }
    }
}

xb_status xb_mbnn_alloc(xb_mbnn **out, const xb_mbnn_opts *o, xb_err *err)
{
    *out = NULL;
    if (o->nlayers < 1 || o->nlayers > XB_MBNN_MAX_LAYERS)
        return xb_fail(err, XB_ERANGE, "meta_bnn: %zu layers is outside [1, %d]", o->nlayers,
                       XB_MBNN_MAX_LAYERS);
    size_t wmax = 0;
    for (size_t l = 0; l <= o->nlayers; l++) {
        if (o->sizes[l] < 1 || o->sizes[l] > 65536)
            return xb_fail(err, XB_ERANGE, "meta_bnn: layer size %zu is outside [1, 65536]", o->sizes[l]);
        if (o->sizes[l] > wmax) wmax = o->sizes[l];
    }
    xb_mbnn *n = xb_calloc(1, sizeof *n);
    if (!n) return xb_fail(err, XB_ENOMEM, "meta_bnn: out of memory");
    n->o = *o; n->L = o->nlayers;
    int ok = 1;
    size_t bnlen = 0;
    for (size_t l = 0; l < n->L; l++) bnlen += 4 * o->sizes[l + 1];
    n->bnlen = bnlen;
    ok = ok && (n->bnblock = xb_calloc(bnlen, sizeof(float)));
    for (size_t l = 0; ok && l < n->L; l++) {
        const size_t in = o->sizes[l], ou = o->sizes[l + 1], nwi = (in + 63) / 64;
        n->nw[l] = nwi;
        ok = (n->Wh[l] = xb_malloc(in * ou * sizeof(float))) && (n->Wb[l] = xb_malloc(in * ou * sizeof(float))) &&
             (n->mW[l] = xb_calloc(in * ou, sizeof(float))) && (n->vW[l] = xb_calloc(in * ou, sizeof(float))) &&
             (n->gW[l] = xb_malloc(in * ou * sizeof(float))) && (n->bits[l] = xb_calloc(nwi * ou, sizeof(uint64_t))) &&
             (n->bnm[l] = xb_calloc(2 * ou, sizeof(float))) && (n->bnv[l] = xb_calloc(2 * ou, sizeof(float))) &&
             (n->bng[l] = xb_calloc(2 * ou, sizeof(float))) &&
             (n->z[l] = xb_malloc((size_t)BMAX * ou * sizeof(float))) && (n->y[l] = xb_malloc((size_t)BMAX * ou * sizeof(float))) &&
             (n->a[l] = xb_malloc((size_t)BMAX * ou * sizeof(float))) &&
             (n->ap[l] = xb_calloc((size_t)BMAX * ((ou + 63) / 64), sizeof(uint64_t))) &&
             (n->istd[l] = xb_malloc(ou * sizeof(float)));
    }
    ok = ok && (n->d1 = xb_malloc((size_t)BMAX * wmax * sizeof(float))) &&
         (n->d2 = xb_malloc((size_t)BMAX * wmax * sizeof(float))) &&
         (n->acc = xb_malloc(4 * wmax * sizeof(double))) &&
         (n->flipw = xb_malloc(wmax * sizeof(uint64_t))) && (n->failw = xb_malloc(wmax * sizeof(uint64_t)));
    if (!ok) {
        xb_mbnn_free(n);
        return xb_fail(err, XB_ENOMEM, "meta_bnn: out of memory");
    }
    float *p = n->bnblock;
    for (size_t l = 0; l < n->L; l++) {
        const size_t ou = o->sizes[l + 1];
        n->bn.gam[l] = p; p += ou; n->bn.bet[l] = p; p += ou;
        n->bn.rm[l] = p; p += ou; n->bn.rv[l] = p; p += ou;
        for (size_t j = 0; j < ou; j++) { n->bn.gam[l][j] = 1; n->bn.rv[l][j] = 1; }
    }
    init_weights(n);
    if (o->hidden_dev) {
        size_t wl = 0;
        for (size_t l = 0; l < n->L; l++)
            if (o->sizes[l] * o->sizes[l + 1] > wl) wl = o->sizes[l] * o->sizes[l + 1];
        ok = (n->nbl = xb_malloc(wl * sizeof(int16_t))) && (n->nblb = xb_malloc(wl * sizeof(int16_t))) &&
             (n->gbl = xb_malloc(wl * sizeof(float))) && (n->gblb = xb_malloc(wl * sizeof(float)));
        xb_status st = ok ? XB_OK : xb_fail(err, XB_ENOMEM, "meta_bnn: out of memory");
        for (size_t l = 0; !st && l < n->L; l++) {
            /* distinct D2D/C2C streams per layer and side: the bank keys them by seed */
            const uint32_t s0 = (o->seed ^ ((uint32_t)(2 * l + 1) << 19)) & XB_SEED_MAX;
            const size_t nw = o->sizes[l] * o->sizes[l + 1];
            st = xb_bank_alloc(&n->bl[l], o->hidden_dev, o->hidden_p, nw, s0, err);
            if (!st) st = xb_bank_alloc(&n->blb[l], o->hidden_dev, o->hidden_p, nw,
                                        s0 ^ (1u << 18), err);
            if (!st) {
                xb_bank_conductance(n->bl[l], n->gbl, 0);
                xb_bank_conductance(n->blb[l], n->gblb, 0);
                for (size_t j = 0; j < nw; j++) n->Wh[l][j] = logf(n->gblb[j] / n->gbl[j]);
            }
        }
        if (st) { xb_mbnn_free(n); return st; }
    }
    xb_mbnn_program(n, 0, 0);
    if (o->ber_read > 0) xb_mbnn_set_ber_read(n, o->ber_read);
    *out = n;
    return XB_OK;
}

void xb_mbnn_set_lr(xb_mbnn *n, double lr) { n->o.lr = lr; }

void xb_mbnn_set_ber_read(xb_mbnn *n, double p)
{
    n->o.ber_read = p;
    for (size_t l = 0; p > 0 && l < n->L; l++) {
        const size_t in = n->o.sizes[l], ou = n->o.sizes[l + 1];
        if (!n->Wr[l]) n->Wr[l] = xb_malloc(in * ou * sizeof(float));
        if (!n->bitsr[l]) n->bitsr[l] = xb_malloc(n->nw[l] * ou * sizeof(uint64_t));
        if (!n->Wr[l] || !n->bitsr[l]) { n->o.ber_read = 0; return; }   /* no memory: error-free */
    }
}

uint64_t xb_mbnn_program(xb_mbnn *n, double p, uint32_t stream)
{
    uint64_t wrong = 0;
    for (size_t l = 0; l < n->L; l++) {
        const size_t in = n->o.sizes[l], ou = n->o.sizes[l + 1];
        for (size_t r = 0; r < ou; r++) {
            const xb_rng g = xb_rng_for_row(n->o.seed, XB_RNG_BER, (uint32_t)(32 + l), (uint32_t)r, stream);
            const float *w = n->Wh[l] + r * in;
            float *wb = n->Wb[l] + r * in;
            for (size_t j = 0; j < in; j++) {
                float s = w[j] < 0.0f ? -1.0f : 1.0f;
                if (p > 0 && xb_rng_uniform_d(&g, (uint32_t)j, 0) < p) { s = -s; wrong++; }
                wb[j] = s;
            }
        }
        xb_mbnn_pack(n->Wb[l], ou, in, n->bits[l]);
    }
    return wrong;
}

/* ---- forward / backward ---- */
/* The weights a forward pass reads: the stored ones, or a copy with read errors. */
static void read_weights(xb_mbnn *n, const float **W, const uint64_t **B)
{
    const double p = n->o.ber_read;
    const uint32_t rd = n->reads++;
    for (size_t l = 0; l < n->L; l++) {
        W[l] = n->Wb[l]; B[l] = n->bits[l];
        if (!(p > 0)) continue;
        const size_t in = n->o.sizes[l], ou = n->o.sizes[l + 1], nwi = n->nw[l];
        const int nt = xb_par_threads(ou, in);
        float *wr = n->Wr[l];
        uint64_t *br = n->bitsr[l];
        #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (size_t r = 0; r < ou; r++) {
            const xb_rng g = xb_rng_for_row(n->o.seed, XB_RNG_BER, (uint32_t)(16 + l), (uint32_t)r, rd);
            uint64_t *mask = br + r * nwi;
            xb_rng_bernoulli_bits(&g, 0, 0, p, (unsigned)in, mask);
            const uint64_t *sb = n->bits[l] + r * nwi;
            const float *sw = n->Wb[l] + r * in;
            for (size_t j = 0; j < in; j++)
                wr[r * in + j] = (mask[j / 64] >> (j % 64)) & 1 ? -sw[j] : sw[j];
            for (size_t k = 0; k < nwi; k++) mask[k] ^= sb[k];
        }
        W[l] = wr; B[l] = br;
    }
}

/* Forward of b samples; train = 1 uses and updates batch statistics. Leaves the
 * BatchNorm outputs in y[l], signs in a[l]/ap[l]; returns the logits (y[L-1]). */
static const float *forward(xb_mbnn *n, const bnset *bs, const float *x, size_t b, int train,
                            const float *const *W, const uint64_t *const *B)
{
    const float *in = x;
    for (size_t l = 0; l < n->L; l++) {
        const size_t ni = n->o.sizes[l], ou = n->o.sizes[l + 1];
        float *z = n->z[l], *y = n->y[l];
        if (l > 0 && n->o.packed)
            xb_mbnn_xnor_gemm(n->ap[l - 1], b, B[l], ou, ni, z);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)ou, (int)ni, 1.0f,
                        in, (int)ni, W[l], (int)ni, 0.0f, z, (int)ou);
        const float *gam = bs->gam[l], *bet = bs->bet[l];
        if (train) {
            double *mu = n->acc, *var = n->acc + ou;
            for (size_t j = 0; j < ou; j++) mu[j] = var[j] = 0;
            for (size_t s = 0; s < b; s++) for (size_t j = 0; j < ou; j++) mu[j] += z[s * ou + j];
            for (size_t j = 0; j < ou; j++) mu[j] /= (double)b;
            for (size_t s = 0; s < b; s++)
                for (size_t j = 0; j < ou; j++) { const double d = z[s * ou + j] - mu[j]; var[j] += d * d; }
            float *rm = bs->rm[l], *rv = bs->rv[l];
            for (size_t j = 0; j < ou; j++) {
                const double vb = var[j] / (double)b;          /* biased: normalisation */
                n->istd[l][j] = (float)(1.0 / sqrt(vb + BN_EPS));
                /* running variance with the unbiased estimate (PyTorch BatchNorm1d) */
                const double vu = b > 1 ? var[j] / (double)(b - 1) : vb;
                rm[j] = (1 - BN_MOM) * rm[j] + BN_MOM * (float)mu[j];
                rv[j] = (1 - BN_MOM) * rv[j] + BN_MOM * (float)vu;
            }
            const float *is = n->istd[l];
            for (size_t s = 0; s < b; s++)
                for (size_t j = 0; j < ou; j++) {
                    const float xh = (float)(z[s * ou + j] - mu[j]) * is[j];
                    z[s * ou + j] = xh;                        /* z keeps x-hat for backward */
                    y[s * ou + j] = gam[j] * xh + bet[j];
                }
        } else {
            float *is = n->istd[l];
            const float *rm = bs->rm[l], *rv = bs->rv[l];
            for (size_t j = 0; j < ou; j++) is[j] = 1.0f / sqrtf(rv[j] + BN_EPS);
            for (size_t s = 0; s < b; s++)
                for (size_t j = 0; j < ou; j++)
                    y[s * ou + j] = gam[j] * ((z[s * ou + j] - rm[j]) * is[j]) + bet[j];
        }
        if (l + 1 < n->L) {
            float *a = n->a[l];
            for (size_t k = 0; k < b * ou; k++) a[k] = y[k] < 0.0f ? -1.0f : 1.0f;
            if (n->o.packed) xb_mbnn_pack(a, b, ou, n->ap[l]);
            in = a;
        }
    }
    return n->y[n->L - 1];
}

static size_t argmax(const float *v, size_t k)
{
    size_t best = 0;
    for (size_t i = 1; i < k; i++) if (v[i] > v[best]) best = i;
    return best;
}

static void weight_update(xb_mbnn *n, size_t l, const adam_c *c);

size_t xb_mbnn_step(xb_mbnn *n, const float *x, const unsigned *yl, size_t b)
{
    if (b == 0) return 0;
    if (b > BMAX) b = BMAX;
    const float *W[XB_MBNN_MAX_LAYERS];
    const uint64_t *B[XB_MBNN_MAX_LAYERS];
    read_weights(n, W, B);
    const size_t L = n->L, K = n->o.sizes[L];
    const float *logit = forward(n, &n->bn, x, b, 1, W, B);
    /* dL/dy of the last layer: (softmax - onehot) / b */
    float *dy = n->d1, *dn = n->d2;
    size_t correct = 0;
    for (size_t s = 0; s < b; s++) {
        const float *o = logit + s * K;
        const size_t am = argmax(o, K);
        correct += am == yl[s];
        double sum = 0;
        for (size_t k = 0; k < K; k++) sum += exp((double)o[k] - o[am]);
        for (size_t k = 0; k < K; k++)
            dy[s * K + k] = (float)((exp((double)o[k] - o[am]) / sum - (k == yl[s])) / (double)b);
    }
    n->t++;
    const xb_mbnn_adam ap = { (float)n->o.lr, (float)n->o.beta1, (float)n->o.beta2, (float)n->o.eps,
                              (float)n->o.decay, (float)n->o.meta, n->t };
    const adam_c c = adam_consts(&ap);
    for (size_t l = L; l-- > 0;) {
        const size_t ni = n->o.sizes[l], ou = n->o.sizes[l + 1];
        const float *xh = n->z[l], *y = n->y[l], *gam = n->bn.gam[l], *is = n->istd[l];
        if (l + 1 < L)                                   /* sign STE: pass where |y| <= 1 */
            for (size_t k = 0; k < b * ou; k++) if (!(fabsf(y[k]) <= 1.0f)) dy[k] = 0.0f;
        /* BatchNorm backward (batch statistics) */
        double *sg = n->acc, *sb = n->acc + ou;
        for (size_t j = 0; j < ou; j++) sg[j] = sb[j] = 0;
        for (size_t s = 0; s < b; s++)
            for (size_t j = 0; j < ou; j++) { sg[j] += (double)dy[s * ou + j] * xh[s * ou + j]; sb[j] += dy[s * ou + j]; }
        float *gg = n->bng[l];
        for (size_t j = 0; j < ou; j++) { gg[j] = (float)sg[j]; gg[ou + j] = (float)sb[j]; }
        const float invb = 1.0f / (float)b;
        for (size_t s = 0; s < b; s++)
            for (size_t j = 0; j < ou; j++) {
                const size_t k = s * ou + j;
                dy[k] = gam[j] * is[j] * invb *
                        ((float)b * dy[k] - (float)sb[j] - xh[k] * (float)sg[j]);
            }
        /* dy now holds dL/dz (b x ou). Weight gradient: dz^T in (ou x ni). */
        const float *in = l ? n->a[l - 1] : x;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ou, (int)ni, (int)b, 1.0f, dy,
                    (int)ou, in, (int)ni, 0.0f, n->gW[l], (int)ni);
        if (l > 0)                                       /* dL/da of the layer below */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, (int)ni, (int)ou, 1.0f,
                        dy, (int)ou, W[l], (int)ni, 0.0f, dn, (int)ni);
        float *t = dy; dy = dn; dn = t;
    }
    for (size_t l = 0; l < L; l++) {
        const size_t ou = n->o.sizes[l + 1];
        adam_c cb = c;
        if (n->o.bn_lr > 0) cb.alpha = (float)(c.alpha / n->o.lr * n->o.bn_lr);
        float *gb = n->bng[l];
        for (size_t j = 0; j < ou; j++) {                 /* BatchNorm: plain Adam */
            n->bn.gam[l][j] = adam_one(&cb, 0, n->bn.gam[l][j], &n->bnm[l][j], &n->bnv[l][j], gb[j]);
            n->bn.bet[l][j] = adam_one(&cb, 0, n->bn.bet[l][j], &n->bnm[l][ou + j], &n->bnv[l][ou + j], gb[ou + j]);
        }
        weight_update(n, l, &c);
    }
    n->st.steps++;
    n->st.samples += b;
    return correct;
}

/* Adam-meta on layer l's hidden weights; rewrite the stored bits that flip. */
/* Device mode (ALGORITHMS.md 2): Adam's step as reset pulses on one device of the pair;
 * the binary weight is the sign of the resistance difference, read after the pulses. */
static void weight_update_dev(xb_mbnn *n, size_t l, const adam_c *c)
{
    const size_t nw = n->o.sizes[l] * n->o.sizes[l + 1], ni = n->o.sizes[l], nwi = n->nw[l];
    float *w = n->Wh[l], *m = n->mW[l], *v = n->vW[l];
    const float *g = n->gW[l];
    const int on = n->o.meta > 0;
    uint64_t pulses = 0, flips = 0;
    for (size_t j = 0; j < nw; j++) {
        /* the Adam step with W_h = ln(R_BL/R_BLb) standing for the hidden weight */
        const float w0 = w[j], u = adam_one(c, on, w0, &m[j], &v[j], g[j]) - w0;
        const int k = xb_mbnn_pulses(u, n->o.n_max);
        n->nbl[j] = (int16_t)(k > 0 ? k : 0);
        n->nblb[j] = (int16_t)(k < 0 ? -k : 0);
        pulses += (uint64_t)abs(k);
    }
    n->st.pulse_J += xb_bank_pulse(n->bl[l], n->nbl) + xb_bank_pulse(n->blb[l], n->nblb);
    xb_bank_conductance(n->bl[l], n->gbl, 0);
    xb_bank_conductance(n->blb[l], n->gblb, 0);
    for (size_t j = 0; j < nw; j++) {
        w[j] = logf(n->gblb[j] / n->gbl[j]);             /* ln(R_BL / R_BLb) */
        const float s = w[j] < 0.0f ? -1.0f : 1.0f;
        if (s != n->Wb[l][j]) {
            flips++;
            const size_t r = j / ni, i = j % ni;
            const uint64_t bit = 1ull << (i % 64);
            n->Wb[l][j] = s;
            if (s < 0) n->bits[l][r * nwi + i / 64] |= bit;
            else n->bits[l][r * nwi + i / 64] &= ~bit;
        }
    }
    n->st.pulses += pulses;
    n->st.flips[l] += flips; n->st.flips_total += flips;
}

static void weight_update(xb_mbnn *n, size_t l, const adam_c *c)
{
    if (n->bl[l]) { weight_update_dev(n, l, c); return; }
    const size_t ni = n->o.sizes[l], ou = n->o.sizes[l + 1], nwi = n->nw[l];
    const int on = n->o.meta > 0;
    const double pw = n->o.ber_write;
    const int nt = xb_par_threads(ou, ni);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t r = 0; r < ou; r++) {
        float *w = n->Wh[l] + r * ni, *m = n->mW[l] + r * ni, *v = n->vW[l] + r * ni;
        const float *g = n->gW[l] + r * ni;
        const xb_rng rng = xb_rng_for_row(n->o.seed, XB_RNG_BER, (uint32_t)l, (uint32_t)r,
                                          (uint32_t)n->st.steps);
        flipper fl = { n->Wb[l] + r * ni, n->bits[l] + r * nwi, &rng, pw, 0, 0 };
        adam_row4(c, on, ni, w, m, v, g, &fl);
        n->flipw[r] = fl.flips; n->failw[r] = fl.failed;
    }
    uint64_t f = 0, fl = 0;                              /* serial, in row order */
    for (size_t r = 0; r < ou; r++) { f += n->flipw[r]; fl += n->failw[r]; }
    n->st.flips[l] += f; n->st.failed[l] += fl; n->st.flips_total += f;
    n->st.write_J += (double)f * n->o.e_write_J;
}

void xb_mbnn_predict_task(xb_mbnn *n, size_t e, const float *x, size_t m, unsigned *pred)
{
    bnset bs = n->bn;
    if (e < n->task && e < XB_MBNN_MAX_TASKS && n->saved[e]) {
        float *p = n->saved[e];
        for (size_t l = 0; l < n->L; l++) {
            const size_t ou = n->o.sizes[l + 1];
            bs.gam[l] = p; p += ou; bs.bet[l] = p; p += ou;
            bs.rm[l] = p; p += ou; bs.rv[l] = p; p += ou;
        }
    }
    const size_t K = n->o.sizes[n->L], d = n->o.sizes[0];
    for (size_t s0 = 0; s0 < m; s0 += BMAX) {
        const size_t b = m - s0 < BMAX ? m - s0 : BMAX;
        const float *W[XB_MBNN_MAX_LAYERS];
        const uint64_t *B[XB_MBNN_MAX_LAYERS];
        read_weights(n, W, B);
        const float *o = forward(n, &bs, x + s0 * d, b, 0, W, B);
        for (size_t s = 0; s < b; s++) pred[s0 + s] = (unsigned)argmax(o + s * K, K);
    }
}

void xb_mbnn_predict(xb_mbnn *n, const float *x, size_t m, unsigned *pred)
{
    xb_mbnn_predict_task(n, n->task, x, m, pred);
}

void xb_mbnn_task_begin(xb_mbnn *n, size_t task)
{
    if (task > 0 && task - 1 < XB_MBNN_MAX_TASKS && task - 1 >= n->task) {
        const size_t k = task - 1;
        if (!n->saved[k]) n->saved[k] = xb_malloc(n->bnlen * sizeof(float));
        if (n->saved[k]) memcpy(n->saved[k], n->bnblock, n->bnlen * sizeof(float));
    }
    n->task = task;
    n->t = 0;                                            /* a new Adam per task [LEHCode] */
    for (size_t l = 0; l < n->L; l++) {
        const size_t ni = n->o.sizes[l], ou = n->o.sizes[l + 1];
        memset(n->mW[l], 0, ni * ou * sizeof(float)); memset(n->vW[l], 0, ni * ou * sizeof(float));
        memset(n->bnm[l], 0, 2 * ou * sizeof(float)); memset(n->bnv[l], 0, 2 * ou * sizeof(float));
    }
}

void xb_mbnn_get_stats(const xb_mbnn *n, xb_mbnn_stats *s) { *s = n->st; }

float *xb_mbnn_hidden(xb_mbnn *n, size_t l) { return l < n->L ? n->Wh[l] : NULL; }

size_t xb_mbnn_size(const xb_mbnn *n, size_t l)
{
    return l < n->L ? n->o.sizes[l] * n->o.sizes[l + 1] : 0;
}

const float *xb_mbnn_grad(const xb_mbnn *n, size_t l) { return l < n->L ? n->gW[l] : NULL; }

xb_status xb_mbnn_wh_stats(xb_mbnn *n, size_t l, xb_mbnn_whstats *s, xb_err *err)
{
    const size_t k = n->o.sizes[l] * n->o.sizes[l + 1];
    double *a = xb_malloc(k * sizeof(double));
    if (!a) return xb_fail(err, XB_ENOMEM, "meta_bnn: out of memory");
    double sum = 0, fm = 0;
    size_t gt = 0;
    for (size_t i = 0; i < k; i++) {
        a[i] = fabs((double)n->Wh[l][i]);
        sum += a[i]; gt += a[i] > 1; fm += xb_mbnn_fmeta((float)n->o.meta, n->Wh[l][i]);
    }
    gsl_sort(a, 1, k);
    s->mean = sum / (double)k;
    s->p50 = gsl_stats_quantile_from_sorted_data(a, 1, k, 0.5);
    s->p90 = gsl_stats_quantile_from_sorted_data(a, 1, k, 0.9);
    s->p99 = gsl_stats_quantile_from_sorted_data(a, 1, k, 0.99);
    s->frac_gt1 = (double)gt / (double)k;
    s->fmeta = fm / (double)k;
    xb_free(a);
    return XB_OK;
}
