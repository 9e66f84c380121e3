#include "training/xb_mesu.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/xb_mem.h"
#include "core/xb_rng.h"

struct xb_mesu {
    xb_mesu_cfg c;
    float *mu[XB_MESU_MAX_LAYERS], *sig[XB_MESU_MAX_LAYERS];
    float *w[XB_MESU_MAX_LAYERS], *eps[XB_MESU_MAX_LAYERS];   /* one sample's weights */
    float *gmu[XB_MESU_MAX_LAYERS], *gsig[XB_MESU_MAX_LAYERS]; /* mc_train > 1 only */
    float *h[XB_MESU_MAX_LAYERS + 1];      /* inputs of each layer, bias slot = 1 */
    float *z[XB_MESU_MAX_LAYERS];
    float *d[XB_MESU_MAX_LAYERS];          /* delta = -dL/dz */
    float *bh, *bz;                        /* batch buffers for prediction */
    uint32_t step, evals;
    xb_mesu_counts n;
};

enum { PRED_CHUNK = 256 };

static size_t np(const xb_mesu_cfg *c, size_t l) { return c->sizes[l + 1] * (c->sizes[l] + 1); }

void xb_mesu_free(xb_mesu *m)
{
    if (!m) return;
    for (size_t l = 0; l < XB_MESU_MAX_LAYERS; l++) {
        xb_free(m->mu[l]); xb_free(m->sig[l]); xb_free(m->w[l]); xb_free(m->eps[l]);
        xb_free(m->gmu[l]); xb_free(m->gsig[l]); xb_free(m->z[l]); xb_free(m->d[l]);
    }
    for (size_t l = 0; l <= XB_MESU_MAX_LAYERS; l++) xb_free(m->h[l]);
    xb_free(m->bh); xb_free(m->bz);
    xb_free(m);
}

xb_status xb_mesu_alloc(xb_mesu **out, const xb_mesu_cfg *c, xb_err *err)
{
    *out = NULL;
    if (c->nlayers < 1 || c->nlayers > XB_MESU_MAX_LAYERS)
        return xb_fail(err, XB_EINVAL, "mesu: %zu layers (1 to %d)", c->nlayers, XB_MESU_MAX_LAYERS);
    xb_mesu *m = xb_calloc(1, sizeof *m);
    if (!m) return xb_fail(err, XB_ENOMEM, "mesu: out of memory");
    m->c = *c;
    size_t widest = 0;
    int ok = 1;
    for (size_t l = 0; l <= c->nlayers; l++) if (c->sizes[l] + 1 > widest) widest = c->sizes[l] + 1;
    for (size_t l = 0; l < c->nlayers && ok; l++) {
        const size_t n = np(c, l);
        ok = (m->mu[l] = xb_malloc(n * sizeof(float))) && (m->sig[l] = xb_malloc(n * sizeof(float))) &&
             (m->w[l] = xb_malloc(n * sizeof(float))) && (m->eps[l] = xb_malloc(n * sizeof(float))) &&
             (m->z[l] = xb_calloc(c->sizes[l + 1], sizeof(float))) &&
             (m->d[l] = xb_calloc(c->sizes[l + 1], sizeof(float)));
        if (ok && c->mc_train > 1)
            ok = (m->gmu[l] = xb_malloc(n * sizeof(float))) && (m->gsig[l] = xb_malloc(n * sizeof(float)));
    }
    for (size_t l = 0; l <= c->nlayers && ok; l++) ok = (m->h[l] = xb_calloc(c->sizes[l] + 1, sizeof(float))) != NULL;
    if (ok) ok = (m->bh = xb_malloc(PRED_CHUNK * widest * sizeof(float))) &&
                 (m->bz = xb_malloc(PRED_CHUNK * widest * sizeof(float)));
    if (!ok) {
        xb_mesu_free(m);
        return xb_fail(err, XB_ENOMEM, "mesu: out of memory");
    }
    for (size_t l = 0; l < c->nlayers; l++) {
        const size_t in = c->sizes[l], out = c->sizes[l + 1];
        const float bound = (float)(c->mu_init_gain / sqrt((double)in));
        const xb_rng r = xb_rng_for_row(c->seed, XB_RNG_INIT, (uint32_t)l, 0, 0);
        for (size_t o = 0; o < out; o++)
            for (size_t k = 0; k <= in; k++) {
                float u[4];
                xb_rng_u4(&r, (uint32_t)(o * (in + 1) + k), 0, u);
                m->mu[l][o * (in + 1) + k] = k == in ? 0.0f : (2 * u[0] - 1) * bound;
                m->sig[l][o * (in + 1) + k] = (float)c->sigma_init;
            }
        m->h[l][in] = 1.0f;
    }
    *out = m;
    return XB_OK;
}

size_t xb_mesu_nlayers(const xb_mesu *m) { return m->c.nlayers; }
size_t xb_mesu_nparams(const xb_mesu *m, size_t l) { return np(&m->c, l); }
float *xb_mesu_mu(xb_mesu *m, size_t l) { return m->mu[l]; }
float *xb_mesu_sigma(xb_mesu *m, size_t l) { return m->sig[l]; }
const xb_mesu_counts *xb_mesu_counts_get(const xb_mesu *m) { return &m->n; }

/* w = mu + sigma eps for every parameter of layer l; eps from (row, array, epoch). */
static void sample_layer(xb_mesu *m, size_t l, uint32_t row, uint32_t array, uint32_t epoch)
{
    const size_t n = np(&m->c, l);
    if (m->c.noise) {                      /* device noise source (xb_mesu_noise_fn) */
        m->c.noise(m->c.noise_ctx, row, array, epoch, n, m->eps[l]);
    } else {
        const xb_rng r = xb_rng_for_row(m->c.seed, XB_RNG_SAMPLE, array, row, epoch);
        xb_rng_fill_normal_zig(&r, 0, n, m->eps[l]);
    }
    const float *restrict mu = m->mu[l], *restrict sg = m->sig[l], *restrict e = m->eps[l];
    float *restrict w = m->w[l];
    for (size_t i = 0; i < n; i++) w[i] = mu[i] + sg[i] * e[i];
    m->n.normals += (double)n;
}

/* Forward of one input through the sampled weights; returns the argmax. */
static unsigned forward(xb_mesu *m, const float *x)
{
    const xb_mesu_cfg *c = &m->c;
    memcpy(m->h[0], x, c->sizes[0] * sizeof(float));
    for (size_t l = 0; l < c->nlayers; l++) {
        const size_t in = c->sizes[l], out = c->sizes[l + 1];
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)out, (int)(in + 1), 1.0f, m->w[l],
                    (int)(in + 1), m->h[l], 1, 0.0f, m->z[l], 1);
        if (l + 1 < c->nlayers)
            for (size_t o = 0; o < out; o++) m->h[l + 1][o] = m->z[l][o] > 0 ? m->z[l][o] : 0.0f;
        m->n.macs += (double)out * (in + 1);
    }
    const size_t K = c->sizes[c->nlayers];
    const float *zl = m->z[c->nlayers - 1];
    unsigned best = 0;
    for (size_t k = 1; k < K; k++) if (zl[k] > zl[best]) best = (unsigned)k;
    return best;
}

/* delta = -dL/dz of every layer for cross-entropy with `label`. */
static void backward(xb_mesu *m, unsigned label)
{
    const xb_mesu_cfg *c = &m->c;
    const size_t L = c->nlayers, K = c->sizes[L];
    const float *zl = m->z[L - 1];
    double zmax = zl[0], sum = 0;
    for (size_t k = 1; k < K; k++) if (zl[k] > zmax) zmax = zl[k];
    for (size_t k = 0; k < K; k++) sum += exp(zl[k] - zmax);
    for (size_t k = 0; k < K; k++)
        m->d[L - 1][k] = (float)((k == label) - exp(zl[k] - zmax) / sum);
    for (size_t l = L - 1; l > 0; l--) {
        const size_t in = c->sizes[l], out = c->sizes[l + 1];
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)out, (int)in, 1.0f, m->w[l], (int)(in + 1),
                    m->d[l], 1, 0.0f, m->d[l - 1], 1);
        for (size_t k = 0; k < in; k++) if (!(m->z[l - 1][k] > 0)) m->d[l - 1][k] = 0.0f;
        m->n.macs += (double)out * in;
    }
}

static inline float clampg(float g, float s, float cl)
{
    if (cl <= 0) return g;
    const float b = cl / fabsf(s);
    return g > b ? b : g < -b ? -b : g;
}

void xb_mesu_apply(const xb_mesu_cfg *c, size_t n, float *mu, float *sigma, const float *g_mu,
                   const float *g_sigma)
{
    const float lm = (float)c->lr_mu, ls = (float)(0.5 * c->lr_sigma), mp = (float)c->mu_prior;
    const float sp2 = (float)(c->sigma_prior * c->sigma_prior);
    const float inv = (float)(1.0 / (c->memory * c->sigma_prior * c->sigma_prior));
    const float cl = (float)c->clamp;
    for (size_t i = 0; i < n; i++) {
        const float s = sigma[i], v = s * s;
        const float gm = clampg(g_mu[i], s, cl), gs = clampg(g_sigma[i], s, cl);
        mu[i] += lm * (-v * gm + v * (mp - mu[i]) * inv);
        sigma[i] = s + ls * (-v * gs + s * (sp2 - v) * inv);
    }
}

/* The unclamped fused update of one output row: the hot loop of batch-1 training.
 * Element-wise float arithmetic in a fixed order, so vectorising it changes no bits. */
__attribute__((optimize("O3")))
static void update_row(float *restrict mu, float *restrict sg, const float *restrict e,
                       const float *restrict h, float dd, size_t n, float lm, float ls, float mp,
                       float sp2, float inv)
{
    for (size_t k = 0; k < n; k++) {
        const float s = sg[k], v = s * s, g = -dd * h[k];
        mu[k] += lm * (-v * g + v * (mp - mu[k]) * inv);
        sg[k] = s + ls * (-v * (g * e[k]) + s * (sp2 - v) * inv);
    }
}

int xb_mesu_step(xb_mesu *m, const float *x, unsigned label)
{
    const xb_mesu_cfg *c = &m->c;
    const size_t L = c->nlayers;
    const unsigned S = c->mc_train ? c->mc_train : 1;
    int correct = 0;
    m->step++;
    if (S == 1) {                          /* fused: gradients are rank 1, never stored */
        for (size_t l = 0; l < L; l++) sample_layer(m, l, (uint32_t)l, 0, m->step);
        correct = forward(m, x) == label;
        backward(m, label);
        const float lm = (float)c->lr_mu, ls = (float)(0.5 * c->lr_sigma), mp = (float)c->mu_prior;
        const float sp2 = (float)(c->sigma_prior * c->sigma_prior);
        const float inv = (float)(1.0 / (c->memory * c->sigma_prior * c->sigma_prior));
        const float cl = (float)c->clamp;
        long neg = 0;
        for (size_t l = 0; l < L; l++) {
            const size_t in = c->sizes[l], out = c->sizes[l + 1];
            for (size_t o = 0; o < out; o++) {
                float *restrict mu = m->mu[l] + o * (in + 1), *restrict sg = m->sig[l] + o * (in + 1);
                const float *restrict e = m->eps[l] + o * (in + 1), *restrict h = m->h[l];
                const float dd = m->d[l][o];      /* dL/dw_ok = -d_o h_k */
                if (cl > 0) {
                    for (size_t k = 0; k <= in; k++) {
                        const float s = sg[k], v = s * s, g = -dd * h[k];
                        const float gm = clampg(g, s, cl), gs = clampg(g * e[k], s, cl);
                        mu[k] += lm * (-v * gm + v * (mp - mu[k]) * inv);
                        sg[k] = s + ls * (-v * gs + s * (sp2 - v) * inv);
                    }
                } else {
                    update_row(mu, sg, e, h, dd, in + 1, lm, ls, mp, sp2, inv);
                }
                for (size_t k = 0; k <= in; k++) neg += sg[k] < 0;
            }
            m->n.param_updates += (double)np(c, l);
        }
        m->n.sigma_negative = (double)neg;      /* sigma values below 0 now */
    } else {
        for (size_t l = 0; l < L; l++) {
            memset(m->gmu[l], 0, np(c, l) * sizeof(float));
            memset(m->gsig[l], 0, np(c, l) * sizeof(float));
        }
        const float inv_s = 1.0f / (float)S;
        for (unsigned s = 0; s < S; s++) {
            for (size_t l = 0; l < L; l++) sample_layer(m, l, (uint32_t)l, s, m->step);
            const unsigned pred = forward(m, x);
            if (s == 0) correct = pred == label;
            backward(m, label);
            for (size_t l = 0; l < L; l++) {
                const size_t in = c->sizes[l], out = c->sizes[l + 1];
                for (size_t o = 0; o < out; o++)
                    for (size_t k = 0; k <= in; k++) {
                        const size_t i = o * (in + 1) + k;
                        const float g = -m->d[l][o] * m->h[l][k] * inv_s;
                        m->gmu[l][i] += g;
                        m->gsig[l][i] += g * m->eps[l][i];
                    }
            }
        }
        for (size_t l = 0; l < L; l++) {
            xb_mesu_apply(c, np(c, l), m->mu[l], m->sig[l], m->gmu[l], m->gsig[l]);
            m->n.param_updates += (double)np(c, l);
        }
    }
    m->n.steps += 1;
    return correct;
}

void xb_mesu_sample_probs(xb_mesu *m, const float *x, size_t n, unsigned S, float *probs)
{
    const xb_mesu_cfg *c = &m->c;
    const size_t L = c->nlayers, K = c->sizes[L], in0 = c->sizes[0];
    m->evals++;
    for (unsigned s = 0; s < S; s++) {
        for (size_t l = 0; l < L; l++) sample_layer(m, l, 64 + (uint32_t)l, s, m->evals);
        for (size_t i0 = 0; i0 < n; i0 += PRED_CHUNK) {
            const size_t b = n - i0 < PRED_CHUNK ? n - i0 : PRED_CHUNK;
            /* h: b x (in+1) with the bias column; z: b x out */
            for (size_t i = 0; i < b; i++) {
                memcpy(m->bh + i * (in0 + 1), x + (i0 + i) * in0, in0 * sizeof(float));
                m->bh[i * (in0 + 1) + in0] = 1.0f;
            }
            for (size_t l = 0; l < L; l++) {
                const size_t in = c->sizes[l], out = c->sizes[l + 1];
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)out, (int)(in + 1),
                            1.0f, m->bh, (int)(in + 1), m->w[l], (int)(in + 1), 0.0f, m->bz, (int)out);
                if (l + 1 < L)
                    for (size_t i = 0; i < b; i++) {
                        for (size_t o = 0; o < out; o++) {
                            const float v = m->bz[i * out + o];
                            m->bh[i * (out + 1) + o] = v > 0 ? v : 0.0f;
                        }
                        m->bh[i * (out + 1) + out] = 1.0f;
                    }
            }
            for (size_t i = 0; i < b; i++) {
                const float *zl = m->bz + i * K;
                float *p = probs + ((i0 + i) * S + s) * K;
                double zmax = zl[0], sum = 0;
                for (size_t k = 1; k < K; k++) if (zl[k] > zmax) zmax = zl[k];
                for (size_t k = 0; k < K; k++) sum += exp(zl[k] - zmax);
                for (size_t k = 0; k < K; k++) p[k] = (float)(exp(zl[k] - zmax) / sum);
            }
        }
    }
}

void xb_mesu_predict(xb_mesu *m, const float *x, size_t n, unsigned *pred)
{
    const size_t K = m->c.sizes[m->c.nlayers];
    const unsigned S = m->c.mc_test ? m->c.mc_test : 1;
    float *p = xb_malloc(PRED_CHUNK * S * K * sizeof(float));
    if (!p) { for (size_t i = 0; i < n; i++) pred[i] = 0; return; }
    for (size_t i0 = 0; i0 < n; i0 += PRED_CHUNK) {
        const size_t b = n - i0 < PRED_CHUNK ? n - i0 : PRED_CHUNK;
        xb_mesu_sample_probs(m, x + i0 * m->c.sizes[0], b, S, p);
        for (size_t i = 0; i < b; i++) {
            double best = -1;
            for (size_t k = 0; k < K; k++) {
                double mean = 0;
                for (unsigned s = 0; s < S; s++) mean += p[(i * S + s) * K + k];
                if (mean > best) { best = mean; pred[i0 + i] = (unsigned)k; }
            }
        }
    }
    xb_free(p);
}
