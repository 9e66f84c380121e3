/* training/ep_core.c: the math of discrete-time equilibrium propagation on plain float
 * arrays and cblas (training/xb_eqprop.h). The trainer is training/eqprop.c. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "training/xb_eqprop.h"

float xb_ep_rho(xb_ep_act a, float x)
{
    if (a == XB_EP_SIGM4) return 1.0f / (1.0f + expf(-4.0f * (x - 0.5f)));
    const float v = x > 0.0f ? x : 0.0f;          /* NaN -> 0; no libm call */
    return v < 1.0f ? v : 1.0f;
}

void xb_ep_free(xb_ep *e)
{
    if (!e) return;
    for (size_t l = 0; l < XB_NET_MAX_LAYERS; l++) { xb_free(e->W[l]); xb_free(e->b[l]); }
    for (size_t l = 0; l <= XB_NET_MAX_LAYERS; l++) xb_free(e->tmp[l]);
    xb_free(e->drive);
    xb_free(e->part);
    xb_free(e->nzi);
    xb_free(e->nzc);
    xb_free(e->nzv);
    xb_free(e);
}

xb_status xb_ep_alloc(xb_ep **out, const size_t *sizes, size_t L, size_t bmax, xb_ep_act act,
                      uint32_t seed, xb_err *err)
{
    *out = NULL;
    if (L < 1 || L > XB_NET_MAX_LAYERS || bmax < 1)
        return xb_fail(err, XB_EINVAL, "eqprop: %zu weight layers (1 .. %d), batch %zu", L,
                       XB_NET_MAX_LAYERS, bmax);
    xb_ep *e = xb_calloc(1, sizeof *e);
    int ok = e != NULL;
    if (ok) {
        e->L = L; e->bmax = bmax; e->act = act;
        memcpy(e->n, sizes, (L + 1) * sizeof *sizes);
        e->kern = xb_ep_kern_best();
        ok = (e->drive = xb_malloc(bmax * sizes[1] * sizeof(float))) &&
             (e->part = xb_malloc(bmax * sizeof(double))) &&
             (e->nzi = xb_malloc(bmax * sizes[0] * sizeof(uint32_t))) &&
             (e->nzc = xb_malloc(bmax * sizeof(size_t))) &&
             (e->nzv = xb_malloc(bmax * sizes[0] * sizeof(float)));
    }
    for (size_t l = 0; ok && l < L; l++) {
        ok = (e->W[l] = xb_malloc(sizes[l + 1] * sizes[l] * sizeof(float))) &&
             (e->b[l] = xb_malloc(sizes[l + 1] * sizeof(float))) &&
             (e->tmp[l + 1] = xb_malloc(bmax * sizes[l + 1] * sizeof(float)));
    }
    if (!ok) {
        xb_ep_free(e);
        return xb_fail(err, XB_ENOMEM, "eqprop: out of memory");
    }
    for (size_t l = 0; l < L; l++) {
        const size_t in = sizes[l];
        const double a = 1.0 / sqrt((double)in);
        for (size_t i = 0; i < sizes[l + 1]; i++) {
            const xb_rng r = xb_rng_for_row(seed, XB_RNG_INIT, (uint32_t)l, (uint32_t)i, 0);
            for (size_t j = 0; j <= in; j++) {
                const float w = (float)(a * (2.0 * xb_rng_uniform_d(&r, (uint32_t)j, 0) - 1.0));
                if (j == in) e->b[l][i] = w;
                else if (l == 0) e->W[0][j * sizes[1] + i] = w;    /* stored transposed */
                else e->W[l][i * in + j] = w;
            }
        }
    }
    *out = e;
    return XB_OK;
}

void xb_ep_state_free(xb_ep_state *st)
{
    for (size_t l = 0; l <= XB_NET_MAX_LAYERS; l++) { xb_free(st->s[l]); st->s[l] = NULL; }
}

xb_status xb_ep_state_alloc(const xb_ep *e, xb_ep_state *st, xb_err *err)
{
    memset(st, 0, sizeof *st);
    for (size_t l = 1; l <= e->L; l++)
        if (!(st->s[l] = xb_calloc(e->bmax * e->n[l], sizeof(float)))) {
            xb_ep_state_free(st);
            return xb_fail(err, XB_ENOMEM, "eqprop: out of memory");
        }
    return XB_OK;
}

void xb_ep_state_zero(const xb_ep *e, xb_ep_state *st, size_t B)
{
    for (size_t l = 1; l <= e->L; l++) memset(st->s[l], 0, B * e->n[l] * sizeof(float));
}

void xb_ep_state_copy(const xb_ep *e, xb_ep_state *dst, const xb_ep_state *src, size_t B)
{
    for (size_t l = 1; l <= e->L; l++) memcpy(dst->s[l], src->s[l], B * e->n[l] * sizeof(float));
}

/* rows[k] = v for k < B: the bias broadcast every pre-activation starts from */
static void broadcast(float *rows, const float *v, size_t B, size_t n)
{
    for (size_t k = 0; k < B; k++) memcpy(rows + k * n, v, n * sizeof(float));
}

/* Inputs below half density take the sparse kernels (MNIST: ~19 % nonzero pixels). */
static int sparse_input(const xb_ep *e, const float *x, size_t B)
{
    if (e->use_blas) return 0;
    size_t nz = 0;
    for (size_t i = 0; i < B * e->n[0]; i++) nz += x[i] != 0.0f;
    return 2 * nz < B * e->n[0];
}

void xb_ep_drive(xb_ep *e, const float *x, size_t B)
{
    const int n0 = (int)e->n[0], n1 = (int)e->n[1];
    if (sparse_input(e, x, B)) {
        const xb_ep_kern *K = e->kern;
        const size_t N0 = e->n[0], N1 = e->n[1];
        size_t nz = 0;
        for (size_t k = 0; k < B; k++)
            nz += e->nzc[k] = xb_ep_nonzeros(x + k * N0, N0, e->nzi + k * N0, e->nzv + k * N0);
        /* strips of 64 columns; the last strip takes the remainder (< 64 columns) */
        const size_t nstrip = N1 / 64 + (N1 % 64 != 0);
        const int nt = xb_par_threads(nstrip, N0 * 64 * B / 4);
        #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (size_t sI = 0; sI < nstrip; sI++)
            K->drive(e->nzi, e->nzv, e->nzc, B, N0, N1, e->W[0], e->b[0], e->drive, sI * 64);
        e->macs += (double)nz * n1;
        return;
    }
    broadcast(e->drive, e->b[0], B, e->n[1]);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, n1, n0, 1.0f, x, n0, e->W[0],
                n1, 1.0f, e->drive, n1);
    e->macs += (double)B * n0 * n1;
}

/* s <- s + dt (rho(a) + beta (y - s) - s) over cnt entries; the common case (hard
 * sigmoid, dt = 1, no nudging, no residual) is a plain clamp the compiler vectorises. */
static void update_layer(xb_ep_act act, const float *restrict a, float *restrict s, size_t cnt,
                         float beta, const float *restrict y, float dt, double *res2)
{
    if (act == XB_EP_HARDSIG && dt == 1.0f && beta == 0.0f && !res2) {
        for (size_t i = 0; i < cnt; i++) {
            const float v = a[i] > 0.0f ? a[i] : 0.0f;
            s[i] = v < 1.0f ? v : 1.0f;
        }
        return;
    }
    double r = 0;
    for (size_t i = 0; i < cnt; i++) {
        float v = xb_ep_rho(act, a[i]);
        if (beta != 0.0f) v += beta * (y[i] - s[i]);
        const float sn = dt == 1.0f ? v : s[i] + dt * (v - s[i]);
        r += (double)(sn - s[i]) * (sn - s[i]);
        s[i] = sn;
    }
    if (res2) *res2 += r;
}

void xb_ep_relax(xb_ep *e, xb_ep_state *st, size_t B, size_t steps, float beta, const float *y,
                 float dt)
{
    const size_t L = e->L;
    double res2 = 0;
    if (L == 2 && e->n[2] <= XB_EP_FUSED_MAX_OUT && dt == 1.0f && !e->use_blas && steps > 0) {
        const xb_ep_kern *K = e->kern;
        const size_t n1 = e->n[1], n2 = e->n[2];
        const int nt = xb_par_threads(B, n1 * n2 * steps);
        #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (size_t k = 0; k < B; k++)
            e->part[k] = K->relax1h(e->act, n1, n2, e->drive + k * n1, e->W[1], e->b[1],
                                    st->s[1] + k * n1, st->s[2] + k * n2, steps, beta,
                                    y ? y + k * n2 : NULL, e->tmp[1] + k * n1, !e->no_skip);
        for (size_t k = 0; k < B; k++) res2 += e->part[k];      /* serial: same bits */
        e->macs += 2.0 * steps * B * e->n[1] * e->n[2];
        e->residual = sqrt(res2);
        return;
    }
    for (size_t t = 0; t < steps; t++) {
        /* every pre-activation from the states of step t, before any layer moves */
        for (size_t l = 1; l <= L; l++) {
            const int nl = (int)e->n[l];
            float *a = e->tmp[l];
            if (l == 1) memcpy(a, e->drive, B * e->n[1] * sizeof(float));
            else {
                const int np = (int)e->n[l - 1];
                broadcast(a, e->b[l - 1], B, e->n[l]);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, nl, np, 1.0f,
                            st->s[l - 1], np, e->W[l - 1], np, 1.0f, a, nl);
                e->macs += (double)B * nl * np;
            }
            if (l < L) {                                   /* feedback: W_l^T s_{l+1} */
                const int nn = (int)e->n[l + 1];
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, nl, nn, 1.0f,
                            st->s[l + 1], nn, e->W[l], nl, 1.0f, a, nl);
                e->macs += (double)B * nl * nn;
            }
        }
        const int last = t + 1 == steps;               /* residual of the last step only */
        for (size_t l = 1; l <= L; l++)
            update_layer(e->act, e->tmp[l], st->s[l], B * e->n[l], l == L ? beta : 0.0f, y, dt,
                         last ? &res2 : NULL);
    }
    e->residual = sqrt(res2);
}

void xb_ep_accumulate(xb_ep *e, const float *x, size_t B, const xb_ep_state *sa,
                      const xb_ep_state *sb, const float *c, float *const *W, float *const *b)
{
    for (size_t l = 0; l < e->L; l++) {
        const int no = (int)e->n[l + 1], ni = (int)e->n[l];
        const float *pa = sa->s[l + 1], *pb = sb->s[l + 1];
        float *d = e->tmp[l + 1];
        for (size_t i = 0; i < B * e->n[l + 1]; i++) d[i] = pa[i] - pb[i];
        for (size_t j = 0; j < e->n[l + 1]; j++) {         /* bias: batch sum in double */
            double s = 0;
            for (size_t k = 0; k < B; k++) s += d[k * e->n[l + 1] + j];
            b[l][j] += c[l] * (float)s;
        }
        if (l == 0 && sparse_input(e, x, B)) {
            size_t nz = 0;
            for (size_t i = 0; i < B * e->n[0]; i++) nz += x[i] != 0.0f;
            const xb_ep_kern *K = e->kern;
            const size_t n0 = e->n[0], n1 = e->n[1];
            const int nt = xb_par_threads(n0, n1);
            float *W0 = W[0];
            #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
            for (size_t p = 0; p < n0; p++) K->update0(x, B, n0, n1, c[0], d, W0 + p * n1, p);
            e->macs += (double)nz * no;
        } else if (l == 0) {       /* clamped input: one product (s^a_1 - s^b_1)^T x */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ni, no, (int)B, c[0], x, ni, d, no,
                        1.0f, W[0], no);
            e->macs += (double)B * no * ni;
        } else {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, (int)B, c[l], pa, no,
                        sa->s[l], ni, 1.0f, W[l], ni);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, (int)B, -c[l], pb, no,
                        sb->s[l], ni, 1.0f, W[l], ni);
            e->macs += 2.0 * B * no * ni;
        }
    }
}

void xb_ep_continual(xb_ep *e, const float *x, size_t B, xb_ep_state *st, xb_ep_state *prev,
                     size_t K, float beta, const float *y, const float *c)
{
    for (size_t t = 0; t < K; t++) {
        xb_ep_state_copy(e, prev, st, B);
        xb_ep_relax(e, st, B, 1, beta, y, 1.0f);
        xb_ep_accumulate(e, x, B, st, prev, c, e->W, e->b);
        xb_ep_drive(e, x, B);                 /* W_0 and b_0 moved: the drive too */
    }
}

unsigned xb_ep_argmax(const xb_ep *e, const xb_ep_state *st, size_t k)
{
    const size_t n = e->n[e->L];
    const float *o = st->s[e->L] + k * n;
    unsigned best = 0;
    for (size_t j = 1; j < n; j++)
        if (o[j] > o[best]) best = (unsigned)j;
    return best;
}

size_t xb_ep_binary_apply(float *sign, float *m, float *W, const float *g, size_t n, float gamma,
                          float theta, float alpha)
{
    size_t flips = 0;
    for (size_t i = 0; i < n; i++) {
        m[i] = (1.0f - gamma) * m[i] + gamma * g[i];
        if (-sign[i] * m[i] > theta) { sign[i] = -sign[i]; flips++; }
        W[i] = alpha * sign[i];
    }
    return flips;
}
