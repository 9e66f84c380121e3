/* training/net.c: the dense net of xb_net.h; digital layers are cblas calls. */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "training/xb_net.h"

xb_status xb_net_parse_layers(const char *text, xb_net_spec *spec, xb_err *err)
{
    size_t k = 0;
    const char *s = text;
    while (*s) {
        char *end;
        errno = 0;
        const long v = strtol(s, &end, 10);
        if (end == s || errno || v < 1 || v > 65536 || (*end && *end != '-'))
            return xb_fail(err, XB_EINVAL, "layers = '%s' is not a list of sizes 1..65536 "
                           "joined by '-' (e.g. 784-256-128-10)", text);
        if (k > XB_NET_MAX_LAYERS)
            return xb_fail(err, XB_ERANGE, "layers = '%s' has more than %d layers", text,
                           XB_NET_MAX_LAYERS);
        spec->sizes[k++] = (size_t)v;
        s = *end ? end + 1 : end;
        if (*end && !*s)
            return xb_fail(err, XB_EINVAL, "layers = '%s' ends with '-'", text);
    }
    if (k < 2)
        return xb_fail(err, XB_EINVAL, "layers = '%s' needs at least two sizes (inputs-outputs)",
                       text);
    spec->nlayers = k - 1;
    return XB_OK;
}

char *xb_net_format_layers(const xb_net_spec *spec, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t l = 0; l <= spec->nlayers && off < len; l++)
        off += (size_t)snprintf(buf + off, len - off, "%s%zu", l ? "-" : "", spec->sizes[l]);
    return buf;
}

const char *xb_act_name(xb_act a)
{
    static const char *const names[] = { "sigmoid", "relu", "hsigmoid", "sign" };
    return (unsigned)a < 4 ? names[a] : "?";
}

/* hsigmoid is clip(z, 0, 1), the hard sigmoid of equilibrium propagation (ALGORITHMS.md
 * section 6); sign is +-1 with the straight-through gradient 1{|z| <= 1} (section 3). */
float xb_act_apply(xb_act a, float z)
{
    switch (a) {
    case XB_ACT_SIGMOID: return 1.0f / (1.0f + expf(-z));
    case XB_ACT_RELU: return z > 0 ? z : 0.0f;
    case XB_ACT_HSIGMOID: return z < 0 ? 0.0f : z > 1 ? 1.0f : z;
    case XB_ACT_SIGN: return z >= 0 ? 1.0f : -1.0f;
    }
    return z;
}

float xb_act_deriv(xb_act a, float z, float h)
{
    switch (a) {
    case XB_ACT_SIGMOID: return h * (1.0f - h);
    case XB_ACT_RELU: return z > 0 ? 1.0f : 0.0f;
    case XB_ACT_HSIGMOID: return z >= 0 && z <= 1 ? 1.0f : 0.0f;
    case XB_ACT_SIGN: return fabsf(z) <= 1 ? 1.0f : 0.0f;
    }
    return 1.0f;
}

void xb_net_init_weights(const xb_net_spec *spec, size_t l, uint32_t seed, float *w)
{
    const size_t in = spec->sizes[l], out = spec->sizes[l + 1], cols = in + 1;
    const double b = spec->init == XB_INIT_XAVIER ? sqrt(6.0 / (double)(in + out))
                                                   : 1.0 / sqrt((double)cols);
    for (size_t i = 0; i < out; i++) {
        const xb_rng r = xb_rng_for_row(seed, XB_RNG_INIT, (uint32_t)l, (uint32_t)i, 0);
        xb_rng_fill_uniform(&r, 0, cols, w + i * cols);
        for (size_t j = 0; j < cols; j++) w[i * cols + j] = (float)((2.0 * w[i * cols + j] - 1.0) * b);
    }
}

void xb_net_free(xb_net *n)
{
    if (!n) return;
    for (size_t l = 0; l < XB_NET_MAX_LAYERS; l++) {
        xb_free(n->layer[l].W);
        xb_free(n->z[l]);
        xb_free(n->d[l]);
    }
    for (size_t l = 0; l <= XB_NET_MAX_LAYERS; l++) xb_free(n->h[l]);
    xb_free(n->g);
    xb_free(n->p);
    xb_free(n->ba);
    xb_free(n->bz);
    xb_free(n);
}

xb_status xb_net_alloc(xb_net **out, const xb_net_spec *spec, uint32_t seed, xb_err *err)
{
    *out = NULL;
    xb_net *n = xb_calloc(1, sizeof *n);
    if (!n) return xb_fail(err, XB_ENOMEM, "net: out of memory");
    n->spec = *spec;
    size_t widest = 0;
    int ok = 1;
    for (size_t l = 0; l <= spec->nlayers; l++)
        if (spec->sizes[l] > widest) widest = spec->sizes[l];
    for (size_t l = 0; ok && l < spec->nlayers; l++) {
        xb_net_layer *L = &n->layer[l];
        L->in = spec->sizes[l];
        L->out = spec->sizes[l + 1];
        ok = (L->W = xb_malloc(L->out * (L->in + 1) * sizeof(float))) &&
             (n->z[l] = xb_calloc(L->out, sizeof(float))) &&
             (n->d[l] = xb_calloc(L->out, sizeof(float)));
        if (ok) xb_net_init_weights(spec, l, seed, L->W);
    }
    for (size_t l = 0; ok && l <= spec->nlayers; l++) {
        ok = (n->h[l] = xb_calloc(spec->sizes[l] + 1, sizeof(float))) != NULL;
        if (ok) n->h[l][spec->sizes[l]] = 1.0f;
    }
    ok = ok && (n->g = xb_calloc(widest, sizeof(float))) &&
         (n->p = xb_calloc(spec->sizes[spec->nlayers], sizeof(double))) &&
         (n->ba = xb_calloc((size_t)XB_NET_CHUNK * (widest + 1), sizeof(float))) &&
         (n->bz = xb_calloc((size_t)XB_NET_CHUNK * (widest + 1), sizeof(float)));
    if (!ok) {
        xb_net_free(n);
        return xb_fail(err, XB_ENOMEM, "net: out of memory");
    }
    *out = n;
    return XB_OK;
}

void xb_net_attach(xb_net *n, size_t l, const xb_net_hw *hw, void *ctx)
{
    xb_free(n->layer[l].W);
    n->layer[l].W = NULL;
    n->layer[l].hw = hw;
    n->layer[l].hw_ctx = ctx;
}

/* z = W a for m samples (a: m x (in+1), z: m x out). */
static void layer_forward(const xb_net_layer *L, const float *a, size_t m, float *z, int train)
{
    if (L->hw) { L->hw->forward(L->hw_ctx, a, m, z, train); return; }
    const int in1 = (int)L->in + 1, out = (int)L->out;
    if (m == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in1, 1.0f, L->W, in1, a, 1, 0.0f, z, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, out, in1, 1.0f, a, in1,
                    L->W, in1, 0.0f, z, out);
}

/* Softmax in double (max subtracted); returns the arg max (first on ties). */
static unsigned softmax(const float *z, size_t k, double *p)
{
    unsigned best = 0;
    for (size_t i = 1; i < k; i++) if (z[i] > z[best]) best = (unsigned)i;
    double s = 0;
    for (size_t i = 0; i < k; i++) s += (p[i] = exp((double)z[i] - z[best]));
    for (size_t i = 0; i < k; i++) p[i] /= s;
    return best;
}

unsigned xb_net_forward(xb_net *n, const float *x, int train)
{
    const size_t L = n->spec.nlayers;
    const xb_act act = n->spec.act;
    memcpy(n->h[0], x, n->spec.sizes[0] * sizeof *x);
    for (size_t l = 0; l < L; l++) {
        layer_forward(&n->layer[l], n->h[l], 1, n->z[l], train);
        if (l + 1 < L)
            for (size_t i = 0; i < n->layer[l].out; i++) n->h[l + 1][i] = xb_act_apply(act, n->z[l][i]);
    }
    return softmax(n->z[L - 1], n->spec.sizes[L], n->p);
}

double xb_net_loss(const xb_net *n, unsigned label)
{
    return -log(fmax(n->p[label], 1e-300));
}

void xb_net_backward(xb_net *n, unsigned label)
{
    const size_t L = n->spec.nlayers;
    float *d = n->d[L - 1];
    for (size_t i = 0; i < n->spec.sizes[L]; i++) d[i] = (float)((i == label) - n->p[i]);
    for (size_t l = L - 1; l > 0; l--) {
        const xb_net_layer *Y = &n->layer[l];
        if (Y->hw) Y->hw->backward(Y->hw_ctx, n->d[l], n->g);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)Y->out, (int)Y->in, 1.0f, Y->W,
                        (int)Y->in + 1, n->d[l], 1, 0.0f, n->g, 1);
        for (size_t i = 0; i < Y->in; i++)
            n->d[l - 1][i] = n->g[i] * xb_act_deriv(n->spec.act, n->z[l - 1][i], n->h[l][i]);
    }
}

void xb_net_sgd_update(xb_net *n, float lr)
{
    for (size_t l = 0; l < n->spec.nlayers; l++) {
        xb_net_layer *Y = &n->layer[l];
        if (Y->W)
            cblas_sger(CblasRowMajor, (int)Y->out, (int)Y->in + 1, lr, n->d[l], 1, n->h[l], 1,
                       Y->W, (int)Y->in + 1);
    }
}

void xb_net_predict(xb_net *n, const float *x, size_t m, unsigned *pred)
{
    const size_t L = n->spec.nlayers, in0 = n->spec.sizes[0];
    for (size_t s0 = 0; s0 < m; s0 += XB_NET_CHUNK) {
        const size_t c = m - s0 < XB_NET_CHUNK ? m - s0 : XB_NET_CHUNK;
        for (size_t s = 0; s < c; s++) {
            memcpy(n->ba + s * (in0 + 1), x + (s0 + s) * in0, in0 * sizeof *x);
            n->ba[s * (in0 + 1) + in0] = 1.0f;
        }
        for (size_t l = 0; l < L; l++) {
            const size_t out = n->layer[l].out;
            layer_forward(&n->layer[l], n->ba, c, n->bz, 0);
            if (l + 1 == L) break;
            for (size_t s = 0; s < c; s++) {
                for (size_t i = 0; i < out; i++)
                    n->ba[s * (out + 1) + i] = xb_act_apply(n->spec.act, n->bz[s * out + i]);
                n->ba[s * (out + 1) + out] = 1.0f;
            }
        }
        const size_t k = n->spec.sizes[L];
        for (size_t s = 0; s < c; s++) {
            unsigned best = 0;
            for (size_t i = 1; i < k; i++) if (n->bz[s * k + i] > n->bz[s * k + best]) best = (unsigned)i;
            pred[s0 + s] = best;
        }
    }
}
