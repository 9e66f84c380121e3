#include "training/xb_bimu.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "devices/xb_stmram.h"
#include "training/xb_uncertainty.h"

enum { MAXW = 2048 };                       /* widest layer supported by the step buffers */

struct xb_bimu {
    xb_bimu_cfg c;
    float *lam[XB_BIMU_MAX_LAYERS];        /* out x in */
    float *E[XB_BIMU_MAX_LAYERS];          /* exp(2 lambda), refreshed with lambda */
    float *w[XB_BIMU_MAX_LAYERS];          /* sampled weights (relaxed or hard) */
    float *dwdl[XB_BIMU_MAX_LAYERS];       /* dw~/dlambda of the current relaxed sample */
    float *g[XB_BIMU_MAX_LAYERS];          /* dL/dlambda accumulated over samples */
    float *h[XB_BIMU_MAX_LAYERS + 1];      /* layer inputs */
    float *a[XB_BIMU_MAX_LAYERS];          /* pre-LayerNorm */
    float *n_[XB_BIMU_MAX_LAYERS];         /* post-LayerNorm */
    float *d[XB_BIMU_MAX_LAYERS];          /* dL/da */
    float *probs;
    uint32_t step, evals;
    xb_bimu_counts cnt;
    int touched;                           /* lambda handed out writable: refresh E */
    /* stmram sampler (smp.kind == STMRAM): per cell its law, threshold, energies */
    xb_bimu_sampler smp;
    int stale;                             /* currents not yet recomputed for lambda */
    double t_write, i_write, e_expected;
    xb_stmram_law nominal;
    float *cell[XB_BIMU_MAX_LAYERS][4];    /* delta, ic0, r_p, tmr */
    float *cur[XB_BIMU_MAX_LAYERS];        /* write current (A) */
    uint32_t *thr[XB_BIMU_MAX_LAYERS];     /* P_sw 2^32 */
    float *e_m[XB_BIMU_MAX_LAYERS], *e_p[XB_BIMU_MAX_LAYERS];   /* J if w = -1 / +1 */
};

static size_t np(const xb_bimu_cfg *c, size_t l) { return c->sizes[l + 1] * c->sizes[l]; }

/* E = exp(2 lambda): with it, the relaxed weight for tau = 1 and the Bernoulli
 * probability need no transcendental per sample: tanh(lambda + ln(u/(1-u))/2) =
 * (E u - (1 - u)) / (E u + (1 - u)), and P(+1) = sigmoid(2 lambda) = E / (1 + E).
 * lambda is capped at +-40 here only (e^80 fits a float). */
static void refresh_E(const float *lam, float *E, size_t n)
{
    for (size_t i = 0; i < n; i++) E[i] = expf(2.0f * fmaxf(fminf(lam[i], 40.0f), -40.0f));
}

void xb_bimu_free(xb_bimu *b)
{
    if (!b) return;
    for (size_t l = 0; l < XB_BIMU_MAX_LAYERS; l++) {
        xb_free(b->lam[l]); xb_free(b->E[l]); xb_free(b->w[l]); xb_free(b->dwdl[l]); xb_free(b->g[l]);
        xb_free(b->a[l]); xb_free(b->n_[l]); xb_free(b->d[l]);
    }
    for (size_t l = 0; l <= XB_BIMU_MAX_LAYERS; l++) xb_free(b->h[l]);
    for (size_t l = 0; l < XB_BIMU_MAX_LAYERS; l++) {
        for (int k = 0; k < 4; k++) xb_free(b->cell[l][k]);
        xb_free(b->cur[l]); xb_free(b->thr[l]); xb_free(b->e_m[l]); xb_free(b->e_p[l]);
    }
    xb_free(b->probs);
    xb_free(b);
}

xb_status xb_bimu_alloc(xb_bimu **out, const xb_bimu_cfg *c, xb_err *err)
{
    *out = NULL;
    if (c->nlayers < 1 || c->nlayers > XB_BIMU_MAX_LAYERS)
        return xb_fail(err, XB_EINVAL, "bimu: %zu layers (1 to %d)", c->nlayers, XB_BIMU_MAX_LAYERS);
    for (size_t l = 0; l <= c->nlayers; l++)
        if (c->sizes[l] < 1 || c->sizes[l] > MAXW)
            return xb_fail(err, XB_EINVAL, "bimu: layer width %zu outside [1, %d]", c->sizes[l], MAXW);
    xb_bimu *b = xb_calloc(1, sizeof *b);
    if (!b) return xb_fail(err, XB_ENOMEM, "bimu: out of memory");
    b->c = *c;
    int ok = 1;
    for (size_t l = 0; l < c->nlayers && ok; l++) {
        const size_t n = np(c, l), o = c->sizes[l + 1];
        ok = (b->lam[l] = xb_malloc(n * sizeof(float))) && (b->E[l] = xb_malloc(n * sizeof(float))) &&
             (b->w[l] = xb_malloc(n * sizeof(float))) &&
             (b->dwdl[l] = xb_malloc(n * sizeof(float))) && (b->g[l] = xb_malloc(n * sizeof(float))) &&
             (b->a[l] = xb_calloc(o, sizeof(float))) && (b->n_[l] = xb_calloc(o, sizeof(float))) &&
             (b->d[l] = xb_calloc(o, sizeof(float)));
    }
    for (size_t l = 0; l <= c->nlayers && ok; l++) ok = (b->h[l] = xb_calloc(c->sizes[l], sizeof(float))) != NULL;
    const unsigned S = c->mc_test > c->mc_train ? c->mc_test : c->mc_train;
    if (ok) ok = (b->probs = xb_malloc((S ? S : 1) * c->sizes[c->nlayers] * sizeof(float))) != NULL;
    if (!ok) { xb_bimu_free(b); return xb_fail(err, XB_ENOMEM, "bimu: out of memory"); }
    for (size_t l = 0; l < c->nlayers; l++) {
        const xb_rng r = xb_rng_for_row(c->seed, XB_RNG_INIT, (uint32_t)l, 0, 0);
        const size_t n = np(c, l);
        for (size_t i = 0; i < n; i++) {
            float u[4];
            xb_rng_u4(&r, (uint32_t)i, 0, u);
            b->lam[l][i] = (float)((2 * u[0] - 1) * c->lambda_init);
        }
        refresh_E(b->lam[l], b->E[l], n);
    }
    *out = b;
    return XB_OK;
}

float *xb_bimu_lambda(xb_bimu *b, size_t l) { b->touched = 1; return b->lam[l]; }

xb_status xb_bimu_set_sampler(xb_bimu *b, const xb_bimu_sampler *smp, xb_err *err)
{
    b->smp = *smp;
    b->smp.dev = NULL;
    if (smp->kind == XB_BIMU_SAMPLER_DIGITAL) return XB_OK;
    if (smp->kind != XB_BIMU_SAMPLER_STMRAM || !smp->dev)
        return xb_fail(err, XB_EINVAL, "bimu: unknown sampler %d", smp->kind);
    if (!xb_stmram_is_physical(smp->dev))
        return xb_fail(err, XB_EINVAL, "bimu: the stmram sampler needs the physical mode of "
                       "the stmram model (mode = physical): direct mode has no switching law");
    const xb_bimu_cfg *c = &b->c;
    xb_stmram_law_get(smp->dev, &b->nominal);
    xb_stmram_law m;
    xb_stmram_pulse_get(smp->dev, &b->i_write, &b->t_write);
    for (size_t l = 0; l < c->nlayers; l++) {
        const size_t n = np(c, l);
        int ok = 1;
        for (int k = 0; k < 4 && ok; k++) ok = b->cell[l][k] || (b->cell[l][k] = xb_malloc(n * sizeof(float)));
        ok = ok && (b->cur[l] || (b->cur[l] = xb_malloc(n * sizeof(float)))) &&
             (b->thr[l] || (b->thr[l] = xb_malloc(n * sizeof(uint32_t)))) &&
             (b->e_m[l] || (b->e_m[l] = xb_malloc(n * sizeof(float)))) &&
             (b->e_p[l] || (b->e_p[l] = xb_malloc(n * sizeof(float))));
        if (!ok) return xb_fail(err, XB_ENOMEM, "bimu: out of memory");
        const xb_rng r = xb_rng_for_row(c->seed, XB_RNG_D2D, 64 + (uint32_t)l, 0, 0);
        for (size_t i = 0; i < n; i++) {
            xb_stmram_law_draw(smp->dev, &r, (uint32_t)i, &m);
            b->cell[l][0][i] = (float)m.delta; b->cell[l][1][i] = (float)m.ic0;
            b->cell[l][2][i] = (float)m.r_p; b->cell[l][3][i] = (float)m.tmr;
        }
    }
    b->stale = 1;
    return XB_OK;
}

/* Currents, switching thresholds and energies of every cell for the present lambda. */
static void stm_refresh(xb_bimu *b)
{
    const xb_bimu_cfg *c = &b->c;
    const double t = b->t_write, iw2t = b->i_write * b->i_write * b->t_write;
    double e_tot = 0;
    for (size_t l = 0; l < c->nlayers; l++) {
        const size_t n = np(c, l);
        for (size_t i = 0; i < n; i++) {
            xb_stmram_law m = b->nominal;
            m.delta = b->cell[l][0][i]; m.ic0 = b->cell[l][1][i];
            /* target ln WER = ln(1 - sigmoid(2 lambda)) = -softplus(2 lambda) */
            const double z = 2.0 * (double)fmaxf(fminf(b->lam[l][i], 40.0f), -40.0f);
            const double target = -(fmax(z, 0) + log1p(exp(-fabs(z))));
            const double amp = xb_stmram_current_for(b->smp.calibrated ? &m : &b->nominal, target, t);
            const double p = -expm1(xb_stmram_ln_wer(&m, amp, t));
            const double th = ldexp(p, 32);
            b->thr[l][i] = th >= 4294967295.0 ? 4294967295u : (uint32_t)(th + 0.5);
            b->cur[l][i] = (float)amp;
            const double rp = b->cell[l][2][i], rap = rp * (1.0 + b->cell[l][3][i]);
            const double ew = amp * amp * rp * t;
            b->e_m[l][i] = (float)(ew + iw2t * rp);
            b->e_p[l][i] = (float)(ew + iw2t * rap);
            e_tot += p * b->e_p[l][i] + (1 - p) * b->e_m[l][i];
        }
    }
    b->e_expected = e_tot;
    b->stale = 0;
}

static void freshen(xb_bimu *b)
{
    if (b->touched) {
        for (size_t l = 0; l < b->c.nlayers; l++) refresh_E(b->lam[l], b->E[l], np(&b->c, l));
        b->touched = 0;
        b->stale = 1;
    }
    if (b->smp.kind == XB_BIMU_SAMPLER_STMRAM && b->stale) stm_refresh(b);
}

double xb_bimu_p_plus(xb_bimu *b, size_t l, size_t i, double *current)
{
    freshen(b);
    if (b->smp.kind == XB_BIMU_SAMPLER_STMRAM) {
        if (current) *current = b->cur[l][i];
        return ldexp((double)b->thr[l][i], -32);
    }
    if (current) *current = 0;
    const double E = b->E[l][i];
    return E / (1 + E);
}

double xb_bimu_sample_energy(xb_bimu *b, double e_rng_bit)
{
    freshen(b);
    if (b->smp.kind == XB_BIMU_SAMPLER_STMRAM) return b->e_expected;
    double n = 0;
    for (size_t l = 0; l < b->c.nlayers; l++) n += (double)np(&b->c, l);
    return 32 * n * e_rng_bit;
}

int xb_bimu_wants_label(double vr, double threshold)
{
    return threshold <= 0 || vr >= threshold - 1e-9;
}
const xb_bimu_counts *xb_bimu_counts_get(const xb_bimu *b) { return &b->cnt; }

static void layernorm(const float *a, size_t n, float *y, float *inv_sd)
{
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += a[i];
    m /= n;
    for (size_t i = 0; i < n; i++) v += (a[i] - m) * (a[i] - m);
    const double is = 1.0 / sqrt(v / n + 1e-5);
    for (size_t i = 0; i < n; i++) y[i] = (float)((a[i] - m) * is);
    *inv_sd = (float)is;
}

static float gate(float v) { return fabsf(v) > 1.0f ? 1.0f : 0.0f; }
static float gate_grad(float v)
{
    return v > 0.5f && v < 1.5f ? 1.0f : v < -0.5f && v > -1.5f ? -1.0f : 0.0f;
}

/* Forward through the current w[] for one input; fills probs (K) and returns argmax. */
static unsigned forward(xb_bimu *b, const float *x, float *prob, float *inv_sd)
{
    const xb_bimu_cfg *c = &b->c;
    memcpy(b->h[0], x, c->sizes[0] * sizeof(float));
    for (size_t l = 0; l < c->nlayers; l++) {
        const size_t in = c->sizes[l], out = c->sizes[l + 1];
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)out, (int)in, 1.0f, b->w[l], (int)in,
                    b->h[l], 1, 0.0f, b->a[l], 1);
        layernorm(b->a[l], out, b->n_[l], &inv_sd[l]);
        if (l + 1 < c->nlayers)
            for (size_t o = 0; o < out; o++) b->h[l + 1][o] = gate(b->n_[l][o]);
        b->cnt.macs += (double)in * out;
    }
    const size_t K = c->sizes[c->nlayers];
    const float *z = b->n_[c->nlayers - 1];
    double zmax = z[0], sum = 0;
    unsigned best = 0;
    for (size_t k = 1; k < K; k++) if (z[k] > zmax) { zmax = z[k]; best = (unsigned)k; }
    for (size_t k = 0; k < K; k++) sum += exp(z[k] - zmax);
    for (size_t k = 0; k < K; k++) prob[k] = (float)(exp(z[k] - zmax) / sum);
    return best;
}

/* Back-propagate cross-entropy (scaled by `scale`) and add dL/dlambda into g[]. */
static void backward(xb_bimu *b, unsigned label, const float *prob, const float *inv_sd, float scale)
{
    const xb_bimu_cfg *c = &b->c;
    const size_t L = c->nlayers;
    float dn[MAXW], tmp[MAXW];
    size_t K = c->sizes[L];
    for (size_t k = 0; k < K; k++) dn[k] = scale * (prob[k] - (k == label));    /* dL/dn */
    for (size_t l = L; l-- > 0;) {
        const size_t in = c->sizes[l], out = c->sizes[l + 1];
        /* LayerNorm backward: da = is (dn - mean(dn) - y mean(dn y)) */
        double m1 = 0, m2 = 0;
        for (size_t o = 0; o < out; o++) { m1 += dn[o]; m2 += (double)dn[o] * b->n_[l][o]; }
        m1 /= out;
        m2 /= out;
        for (size_t o = 0; o < out; o++)
            b->d[l][o] = (float)(inv_sd[l] * (dn[o] - m1 - b->n_[l][o] * m2));
        /* dL/dw_ok = d_o h_k; dL/dlambda = dL/dw dw/dlambda */
        for (size_t o = 0; o < out; o++) {
            const float dd = b->d[l][o];
            float *restrict g = b->g[l] + o * in;
            const float *restrict dw = b->dwdl[l] + o * in, *restrict h = b->h[l];
            for (size_t k = 0; k < in; k++) g[k] += dd * h[k] * dw[k];
        }
        if (l > 0) {
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)out, (int)in, 1.0f, b->w[l], (int)in,
                        b->d[l], 1, 0.0f, tmp, 1);
            for (size_t k = 0; k < in; k++) dn[k] = tmp[k] * gate_grad(b->n_[l - 1][k]);
            b->cnt.macs += (double)in * out;
        }
    }
}

void xb_bimu_apply(const xb_bimu_cfg *c, size_t n, float *lambda, const float *g)
{
    const float kl = (float)c->kl, kkl = (float)c->kkl, inv_lr = (float)(1.0 / c->lr_max);
    const float eta = (float)c->eta, invN = (float)(1.0 / c->memory);
    for (size_t i = 0; i < n; i++) {
        const float lam = lambda[i], t = tanhf(lam), gp = kl * g[i];
        const float cc = kkl * (1 - t * t);
        const float D = cc + 2 * gp * t + 2 * fabsf(gp) + inv_lr;
        lambda[i] = lam - (eta * gp + lam * cc * invN) / D;
    }
}

static void sample_hard(xb_bimu *b, uint32_t s, uint32_t epoch)
{
    freshen(b);
    for (size_t l = 0; l < b->c.nlayers; l++) {
        const size_t n = np(&b->c, l);
        const xb_rng r = xb_rng_for_row(b->c.seed, XB_RNG_SAMPLE, s, 192 + (uint32_t)l, epoch);
        if (b->smp.kind == XB_BIMU_SAMPLER_STMRAM) {
            const uint32_t *thr = b->thr[l];
            const float *em = b->e_m[l], *ep = b->e_p[l];
            float *w = b->w[l];
            double e = 0;
            for (size_t i = 0; i < n; i += 4) {
                const philox4x32_ctr_t x = xb_rng_raw(&r, (uint32_t)(i / 4), 0);
                for (size_t q = 0; q < 4 && i + q < n; q++) {
                    const int up = x.v[q] < thr[i + q];
                    w[i + q] = up ? 1.0f : -1.0f;
                    e += up ? ep[i + q] : em[i + q];
                }
            }
            b->cnt.sample_J += e;
            b->cnt.sample_writes += 2.0 * (double)n;
            continue;
        }
        for (size_t i = 0; i < n; i += 4) {
            const philox4x32_ctr_t x = xb_rng_raw(&r, (uint32_t)(i / 4), 0);
            for (size_t q = 0; q < 4 && i + q < n; q++) {
                /* P(+1) = E / (1 + E): u < E/(1+E)  <=>  u (1 + E) < E */
                const float u = u01fixedpt_open_open_32_float(x.v[q]), E = b->E[l][i + q];
                b->w[l][i + q] = u * (1.0f + E) < E ? 1.0f : -1.0f;
            }
        }
        b->cnt.uniforms += (double)n;
    }
}

const float *xb_bimu_hard_sample(xb_bimu *b, uint32_t s, uint32_t epoch, size_t l)
{
    sample_hard(b, s, epoch);
    return b->w[l];
}

void xb_bimu_sample_probs(xb_bimu *b, const float *x, size_t n, unsigned S, float *probs)
{
    const size_t K = b->c.sizes[b->c.nlayers], in0 = b->c.sizes[0];
    float inv_sd[XB_BIMU_MAX_LAYERS];
    b->evals++;
    for (unsigned s = 0; s < S; s++) {
        sample_hard(b, s, b->evals);
        for (size_t i = 0; i < n; i++) forward(b, x + i * in0, probs + (i * S + s) * K, inv_sd);
    }
}

void xb_bimu_predict(xb_bimu *b, const float *x, size_t n, unsigned *pred)
{
    const size_t K = b->c.sizes[b->c.nlayers], in0 = b->c.sizes[0];
    const unsigned S = b->c.mc_test ? b->c.mc_test : 1;
    enum { CH = 128 };
    float *p = xb_malloc(CH * S * K * sizeof(float));
    if (!p) { memset(pred, 0, n * sizeof *pred); return; }
    for (size_t i0 = 0; i0 < n; i0 += CH) {
        const size_t m = n - i0 < CH ? n - i0 : CH;
        xb_bimu_sample_probs(b, x + i0 * in0, m, S, p);
        for (size_t i = 0; i < m; i++) {
            xb_uncertainty u;
            xb_uncertainty_from_samples(p + i * S * K, S, K, &u);
            pred[i0 + i] = u.pred;
        }
    }
    xb_free(p);
}

int xb_bimu_step(xb_bimu *b, const float *x, unsigned label)
{
    const xb_bimu_cfg *c = &b->c;
    const size_t L = c->nlayers, K = c->sizes[L];
    const unsigned S = c->mc_train ? c->mc_train : 1;
    float inv_sd[XB_BIMU_MAX_LAYERS];
    b->cnt.steps += 1;
    freshen(b);
    if (c->query_threshold > 0) {
        const unsigned St = c->mc_test ? c->mc_test : 1;
        float *pq = xb_malloc(St * K * sizeof(float));
        if (!pq) return 0;
        xb_bimu_sample_probs(b, x, 1, St, pq);
        xb_uncertainty u;
        xb_uncertainty_from_samples(pq, St, K, &u);
        xb_free(pq);
        if (!xb_bimu_wants_label(u.variation_ratio, c->query_threshold)) return u.pred == label;   /* no label */
    }
    b->cnt.queried += 1;
    b->step++;
    for (size_t l = 0; l < L; l++) memset(b->g[l], 0, np(c, l) * sizeof(float));
    int correct = 0;
    const float itau = (float)(1.0 / c->tau);
    const int unit_tau = c->tau == 1.0;
    for (unsigned s = 0; s < S; s++) {
        for (size_t l = 0; l < L; l++) {
            const size_t n = np(c, l);
            const xb_rng r = xb_rng_for_row(c->seed, XB_RNG_SAMPLE, s, 128 + (uint32_t)l, b->step);
            for (size_t i = 0; i < n; i += 4) {
                float u[4];
                const philox4x32_ctr_t raw = xb_rng_raw(&r, (uint32_t)(i / 4), 0);
                for (int q = 0; q < 4; q++) u[q] = u01fixedpt_open_open_32_float(raw.v[q]);
                for (size_t q = 0; q < 4 && i + q < n; q++) {
                    float wt;
                    if (unit_tau) {
                        const float eu = b->E[l][i + q] * u[q], v = 1.0f - u[q];
                        wt = (eu - v) / (eu + v);
                    } else {
                        const float lg = 0.5f * logf(u[q] / (1.0f - u[q]));
                        wt = tanhf((b->lam[l][i + q] + lg) * itau);
                    }
                    b->w[l][i + q] = wt;
                    b->dwdl[l][i + q] = (1.0f - wt * wt) * itau;
                }
            }
            b->cnt.uniforms += (double)n;
        }
        const unsigned pred = forward(b, x, b->probs, inv_sd);
        if (s == 0) correct = pred == label;
        backward(b, label, b->probs, inv_sd, 1.0f / (float)S);
    }
    for (size_t l = 0; l < L; l++) {
        xb_bimu_apply(c, np(c, l), b->lam[l], b->g[l]);
        refresh_E(b->lam[l], b->E[l], np(c, l));
        b->cnt.updates += (double)np(c, l);
    }
    b->stale = 1;
    return correct;
}
