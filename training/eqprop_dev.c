/* training/eqprop_dev.c: the `eqprop_dev` trainer, discrete-time EP (ALGORITHMS.md 6.2,
 * 6.3) with both weight matrices on crossbar layers ([device], [crossbar]); one hidden
 * layer, hard sigmoid. The mapping of ALGORITHMS.md "EP - crossbar mapping":
 *   - W_0 x + b_0: one forward read of layer 0 per batch (the input is clamped);
 *   - every relaxation step: a forward read of layer 1 (W_1 h + b_1, feeds the output)
 *     and a transpose read of the same arrays (W_1^T o, feeds the hidden layer), so
 *     each phase step books its read energy (DAC, array, ADC) through the layer;
 *   - neurons (rho, nudging) are digital: 3 fp32 operations per neuron update;
 *   - update by pulse coincidence: layer 1 gets two rank-1-like updates per sample with
 *     opposite signs, +lr/(beta B) (h^beta, o^beta) and -lr/(beta B) (h^0, o^0); layer 0
 *     the single product (h^beta - h^0) x^T (symmetric: +beta and -beta states, 2 beta).
 * The initial weights are the digital trainer's (U(+-1/sqrt(fan_in))), written by
 * write-verify; the devices' asymmetry, bounds and cycle-to-cycle noise act on every
 * update. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "crossbar/xb_layer.h"
#include "devices/xb_device.h"
#include "training/xb_eqprop.h"
#include "training/xb_trainer.h"

enum { D_VARIANT, D_T, D_K, D_BETA, D_LRS, D_BL, D_UPDATE, D_ENCODE, D_NPARAMS };

static const xb_param_spec d_params[D_NPARAMS] = {
    [D_VARIANT] = { "variant", 0, "", 0, 0, "EP estimator (ALGORITHMS.md 6.2, 6.3)", XB_P_ENUM,
                    "onesided|symmetric", "[ErnEP19] [LEH21b]" },
    [D_T] = { "T", 30, "steps", 1, 100000, "free-phase steps (from zeros)", XB_P_INT, NULL,
              "../shared/ref/eqprop.py brief" },
    [D_K] = { "K", 10, "steps", 1, 100000, "nudged-phase steps", XB_P_INT, NULL,
              "../shared/ref/eqprop.py brief" },
    [D_BETA] = { "beta", 0.5, "", 1e-6, 10, "nudging strength", 0, NULL, "[SBCode]" },
    [D_LRS] = { "lrs", 0, "", 0, 0, "per-layer learning rates, input side first (empty: lr)",
                XB_P_STR, "", "[SBCode]" },
    [D_BL] = { "bl", 10, "pulses", 1, 255, "pulse-coincidence stream length", XB_P_INT, NULL,
               "[GV16]" },
    [D_UPDATE] = { "update", 0, "", 0, 0, "pulse: stochastic coincidence; deterministic: "
                   "rounded counts", XB_P_ENUM, "pulse|deterministic", "ALGORITHMS.md 1" },
    [D_ENCODE] = { "encode", 0, "", 0, 0, "layer-1 update: two = two opposite rank-1 updates "
                   "per sample; difference = one update of the net count (shared streams)",
                   XB_P_ENUM, "two|difference", "issue 11" },
};

typedef struct dev_tr {
    xb_layer *L[2];
    xb_ep *e;                          /* shapes, initial weights, rho; no weights used after */
    size_t n0, n1, n2, T, K, bmax;
    float beta, lr[2];
    int symmetric, diff;
    float *drive, *h, *o, *h0, *o0, *hb, *ob, *z, *f, *y, *d;
    xb_energy E;
    const xb_energy_units *u;
    char device[64];
} dev_tr;

static void d_free(void *state)
{
    dev_tr *s = state;
    if (!s) return;
    xb_layer_free(s->L[0]); xb_layer_free(s->L[1]);
    xb_ep_free(s->e);
    float *bufs[] = { s->drive, s->h, s->o, s->h0, s->o0, s->hb, s->ob, s->z, s->f, s->y, s->d };
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) xb_free(bufs[k]);
    xb_free(s);
}

static xb_status d_alloc(void **out, const xb_trainer_setup *su, xb_err *err)
{
    *out = NULL;
    const xb_config *c = su->cfg;
    if (su->net.nlayers != 2 || su->net.act != XB_ACT_HSIGMOID)
        return xb_fail(err, XB_EINVAL, "eqprop_dev: one hidden layer and [net] activation = "
                       "hsigmoid only");
    const char *tn = c ? xb_config_str(c, "device", "type", "softbounds") : "softbounds";
    const xb_device_type *DT = xb_device_find(tn);
    if (!DT) return xb_fail(err, XB_EINVAL, "[device] type = '%s' is not a device model", tn);
    double dev[64], common[XB_DEVC_NPARAMS], xp[XB_XB_NPARAMS], ep[XB_EN_NPARAMS];
    xb_status st;
    if ((st = xb_device_params(c, "device", DT, dev, err)) ||
        (st = xb_config_params(c, "device", xb_section_device_common.params, XB_DEVC_NPARAMS,
                               common, err)) ||
        (st = xb_crossbar_params(c, xp, err)) || (st = xb_energy_params(c, ep, err)))
        return st;
    xp[XB_XB_BL] = su->own[D_BL];
    xp[XB_XB_UPDATE] = su->own[D_UPDATE] ? XB_UPDATE_DETERMINISTIC : XB_UPDATE_PULSE;
    dev_tr *s = xb_calloc(1, sizeof *s);
    if (!s) return xb_fail(err, XB_ENOMEM, "eqprop_dev: out of memory");
    snprintf(s->device, sizeof s->device, "%s", DT->name);
    s->n0 = su->net.sizes[0]; s->n1 = su->net.sizes[1]; s->n2 = su->net.sizes[2];
    s->T = (size_t)su->own[D_T]; s->K = (size_t)su->own[D_K];
    s->beta = (float)su->own[D_BETA];
    s->symmetric = (int)su->own[D_VARIANT] == 1;
    s->diff = (int)su->own[D_ENCODE] == 1;
    const size_t batch = (size_t)su->train[XB_TRAIN_BATCH];
    s->bmax = batch > XB_NET_CHUNK ? batch : XB_NET_CHUNK;
    const char *lrs = c ? xb_config_str(c, "train", "lrs", "") : "";
    s->lr[0] = s->lr[1] = (float)su->train[XB_TRAIN_LR];
    char tail = 0;
    if (*lrs && (sscanf(lrs, "%f , %f %c", &s->lr[0], &s->lr[1], &tail) != 2 ||
                 !(s->lr[0] >= 0 && s->lr[0] <= 100 && s->lr[1] >= 0 && s->lr[1] <= 100))) {
        char w[300] = "";
        const xb_cfg_entry *en = xb_config_find(c, "train", "lrs");
        if (en) xb_config_where(en, w, sizeof w);
        d_free(s);
        return xb_fail(err, XB_ERANGE, "%s[train] lrs = '%s': need 2 comma-separated values "
                       "(input layer, output layer) in [0, 100]", w, lrs);
    }
    if ((st = xb_ep_alloc(&s->e, su->net.sizes, 2, 1, XB_EP_HARDSIG, su->seed, err))) {
        d_free(s);
        return st;
    }
    const size_t B = s->bmax, n0 = s->n0, n1 = s->n1, n2 = s->n2;
    float **bufs[] = { &s->drive, &s->h, &s->h0, &s->hb, &s->z, &s->d };
    for (size_t k = 0; k < 6; k++) *bufs[k] = xb_malloc(B * n1 * sizeof(float));
    float **bufo[] = { &s->o, &s->o0, &s->ob, &s->f, &s->y };
    for (size_t k = 0; k < 5; k++) *bufo[k] = xb_malloc(B * n2 * sizeof(float));
    float *Wp = xb_malloc((n1 * (n0 + 1) + n2 * (n1 + 1)) * sizeof(float));
    int ok = Wp != NULL;
    for (size_t k = 0; k < 6; k++) ok = ok && *bufs[k];
    for (size_t k = 0; k < 5; k++) ok = ok && *bufo[k];
    if (!ok) { xb_free(Wp); d_free(s); return xb_fail(err, XB_ENOMEM, "eqprop_dev: out of memory"); }
    for (size_t l = 0; l < 2 && !st; l++) {
        const size_t in = su->net.sizes[l], o = su->net.sizes[l + 1];
        const xb_layer_spec ls = { .type = DT, .dev_params = dev, .xbar_params = xp,
                                   .energy_params = ep, .out = o, .in = in, .bias = 1,
                                   .seed = su->seed, .id = (uint32_t)l,
                                   .stuck_on = common[XB_DEVC_STUCK_ON],
                                   .stuck_off = common[XB_DEVC_STUCK_OFF] };
        if ((st = xb_layer_alloc(&s->L[l], &ls, err))) {
            xb_err_prefix(err, "eqprop_dev layer %zu: ", l + 1);
            break;
        }
        for (size_t i = 0; i < o; i++) {            /* the digital init, out x (in + 1) */
            for (size_t j = 0; j < in; j++)
                Wp[i * (in + 1) + j] = l == 0 ? s->e->W[0][j * n1 + i] : s->e->W[1][i * in + j];
            Wp[i * (in + 1) + in] = s->e->b[l][i];
        }
        const double tol = xb_layer_xbar_params(s->L[l])[XB_XB_PROG_TOL];
        const double half = 0.5 * xb_layer_dw_min(s->L[l]);
        if (half > 0 && half < tol) xb_layer_set(s->L[l], XB_XB_PROG_TOL, half, NULL);
        xb_layer_program(s->L[l], Wp, NULL);       /* set-up: not training energy */
        xb_layer_set(s->L[l], XB_XB_PROG_TOL, tol, NULL);
    }
    xb_free(Wp);
    if (st) { d_free(s); return st; }
    s->u = xb_layer_energy_units(s->L[0]);
    *out = s;
    return XB_OK;
}

/* `steps` synchronous steps of (h, o) for B samples from the layers' reads. */
static void relax(dev_tr *s, float *h, float *o, size_t B, size_t steps, float beta)
{
    const size_t n1 = s->n1, n2 = s->n2;
    for (size_t t = 0; t < steps; t++) {
        xb_layer_forward(s->L[1], h, B, s->f, &s->E);      /* W_1 h + b_1 */
        xb_layer_backward(s->L[1], o, B, s->z, &s->E);     /* W_1^T o, same arrays */
        for (size_t i = 0; i < B * n1; i++) h[i] = xb_ep_rho(XB_EP_HARDSIG, s->drive[i] + s->z[i]);
        for (size_t i = 0; i < B * n2; i++) {
            float v = xb_ep_rho(XB_EP_HARDSIG, s->f[i]);
            if (beta != 0.0f) v += beta * (s->y[i] - o[i]);
            o[i] = v;
        }
    }
    const double ops = 3.0 * (double)steps * B * (n1 + n2);
    xb_energy_op(&s->E, s->u, XB_E_FP32_ADD, ops);
    xb_energy_op(&s->E, s->u, XB_E_FP32_MULT, ops);
}

static size_t d_step(void *state, const float *x, const unsigned *labels, size_t m)
{
    dev_tr *s = state;
    const size_t n1 = s->n1, n2 = s->n2, B = m;
    size_t correct = 0;
    memset(s->y, 0, B * n2 * sizeof(float));
    for (size_t k = 0; k < B; k++) s->y[k * n2 + labels[k]] = 1.0f;
    xb_layer_forward(s->L[0], x, B, s->drive, &s->E);       /* clamped input: once */
    memset(s->h0, 0, B * n1 * sizeof(float));
    memset(s->o0, 0, B * n2 * sizeof(float));
    relax(s, s->h0, s->o0, B, s->T, 0.0f);
    for (size_t k = 0; k < B; k++) {
        unsigned best = 0;
        for (unsigned c2 = 1; c2 < n2; c2++) if (s->o0[k * n2 + c2] > s->o0[k * n2 + best]) best = c2;
        correct += best == labels[k];
    }
    memcpy(s->hb, s->h0, B * n1 * sizeof(float));
    memcpy(s->ob, s->o0, B * n2 * sizeof(float));
    relax(s, s->hb, s->ob, B, s->K, s->beta);
    float denom = s->beta * (float)B;
    if (s->symmetric) {                                      /* reference state: -beta */
        relax(s, s->h0, s->o0, B, s->K, -s->beta);
        denom *= 2.0f;
    }
    /* layer 1: two: + (h^b, o^b), then - (h^0, o^0); difference: one update of the
     * net count of the two products. Layer 0: (h^b - h^0) x^T in both encodings. */
    if (s->diff) {
        xb_layer_update_diff(s->L[1], s->hb, s->ob, s->h0, s->o0, B, s->lr[1] / denom, &s->E);
    } else {
        xb_layer_update(s->L[1], s->hb, s->ob, B, s->lr[1] / denom, &s->E);
        for (size_t i = 0; i < B * n2; i++) s->f[i] = -s->o0[i];
        xb_layer_update(s->L[1], s->h0, s->f, B, s->lr[1] / denom, &s->E);
    }
    for (size_t i = 0; i < B * n1; i++) s->d[i] = s->hb[i] - s->h0[i];
    xb_layer_update(s->L[0], x, s->d, B, s->lr[0] / denom, &s->E);
    return correct;
}

static void d_predict(void *state, const float *x, size_t m, unsigned *pred)
{
    dev_tr *s = state;
    const xb_energy keep = s->E;                              /* evaluation books nothing */
    for (size_t k0 = 0; k0 < m; k0 += s->bmax) {
        const size_t B = m - k0 < s->bmax ? m - k0 : s->bmax;
        xb_layer_forward(s->L[0], x + k0 * s->n0, B, s->drive, NULL);
        memset(s->h, 0, B * s->n1 * sizeof(float));
        memset(s->o, 0, B * s->n2 * sizeof(float));
        relax(s, s->h, s->o, B, s->T, 0.0f);
        for (size_t k = 0; k < B; k++) {
            unsigned best = 0;
            for (unsigned c2 = 1; c2 < s->n2; c2++)
                if (s->o[k * s->n2 + c2] > s->o[k * s->n2 + best]) best = c2;
            pred[k0 + k] = best;
        }
    }
    s->E = keep;
}

static void d_ledger(void *state, xb_energy *out) { *out = ((const dev_tr *)state)->E; }
static const char *d_device(void *state) { return ((dev_tr *)state)->device; }

const xb_trainer_type xb_trainer_eqprop_dev = {
    .name = "eqprop_dev",
    .summary = "equilibrium propagation on crossbar layers (reads per phase step, pulse updates)",
    .params = d_params, .nparams = D_NPARAMS, .uses_device = 1,
    .alloc = d_alloc, .free = d_free, .step = d_step, .predict = d_predict,
    .ledger = d_ledger, .device_name = d_device,
};

/* For tests: layer l of an eqprop_dev trainer. */
xb_layer *xb_eqprop_dev_layer(void *state, size_t l);
xb_layer *xb_eqprop_dev_layer(void *state, size_t l) { return ((dev_tr *)state)->L[l]; }
/* For tests: the states of the last step, B x n1 / B x n2: reference (free, or -beta)
 * and nudged; and the divisor beta B (2 beta B symmetric) of the update. */
float xb_eqprop_dev_states(void *state, const float **h0, const float **o0, const float **hb,
                           const float **ob);
float xb_eqprop_dev_states(void *state, const float **h0, const float **o0, const float **hb,
                           const float **ob)
{
    const dev_tr *s = state;
    *h0 = s->h0; *o0 = s->o0; *hb = s->hb; *ob = s->ob;
    return s->beta * (s->symmetric ? 2.0f : 1.0f);
}
