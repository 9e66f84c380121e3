/* training/eqprop.c: the `eqprop` trainer (ALGORITHMS.md section 6, workload W3):
 * discrete-time EP on the digital twin (training/xb_eqprop.h), variants
 *   onesided     free phase T steps from zeros, nudged phase K steps (+beta) from the
 *                free fixed point; update (lr_l / beta B)(Phi_W(s^beta) - Phi_W(s^0))
 *   symmetric    two nudged phases (+beta, -beta) from the free fixed point; update
 *                (lr_l / 2 beta B)(Phi_W(s^+beta) - Phi_W(s^-beta))  [LEH21b]
 *   random_sign  one nudged phase whose beta sign is drawn per batch; the sign stays
 *                with the update
 *   continual    C-EP [ErnCEP20]: the weights move after every nudged step by
 *                (lr_l / beta B)(Phi_W(s_{t+1}) - Phi_W(s_t)) (ALGORITHMS.md 6.4)
 *   binary       binary weights alpha_l sign(.) with momentum m and flip threshold
 *                theta (ALGORITHMS.md 6.5), random sign of beta as in [LayCode];
 *                biases by SGD with lr_l.
 * Prediction: argmax of the output after the free phase (T steps from zeros).
 * [net] activation: hsigmoid = clamp(x, 0, 1) (the brief preset), sigmoid =
 * sigmoid(4 (x - 0.5)) (Ernoult et al. 2019's P-1h); the output layer uses it too.
 *
 * Energy (digital twin, as sgd_digital): every multiply-add books an fp32 multiply and
 * add, every neuron update ~3 of each, every two weights read or written one 64-bit
 * SRAM access (Horowitz table, crossbar/xb_energy.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "training/xb_eqprop.h"
#include "training/xb_trainer.h"

enum { EP_VARIANT, EP_T, EP_K, EP_BETA, EP_DT, EP_LRS, EP_GAMMA, EP_THETA, EP_BSCALE, EP_NPARAMS };
enum { V_ONESIDED, V_SYMMETRIC, V_RANDOM, V_BINARY, V_CONTINUAL };

static const xb_param_spec ep_params[EP_NPARAMS] = {
    [EP_VARIANT] = { "variant", 0, "", 0, 0, "EP estimator (ALGORITHMS.md 6.2, 6.3, 6.5)", XB_P_ENUM,
                     "onesided|symmetric|random_sign|binary|continual", "[ErnEP19] [LEH21b] [Lay21] "
                     "[ErnCEP20]" },
    [EP_T] = { "T", 30, "steps", 1, 100000, "free-phase steps (from zeros)", XB_P_INT, NULL,
               "../shared/ref/eqprop.py brief" },
    [EP_K] = { "K", 10, "steps", 1, 100000, "nudged-phase steps (from the free fixed point)",
               XB_P_INT, NULL, "../shared/ref/eqprop.py brief" },
    [EP_BETA] = { "beta", 0.5, "", 0, 10, "nudging strength", 0, NULL, "[SBCode]" },
    [EP_DT] = { "dt", 1, "", 1e-6, 1, "relaxation step: 1 = discrete-time, < 1 = Euler step",
                0, NULL, "[ErnCode19] EB" },
    [EP_LRS] = { "lrs", 0, "", 0, 0, "per-layer learning rates, input side first, comma-"
                 "separated (empty: every layer uses lr)", XB_P_STR, "", "[SBCode]" },
    [EP_GAMMA] = { "gamma", 0, "", 0, 0, "binary: momentum rate per layer, input side first",
                   XB_P_STR, "1e-5,1e-4", "[LayCode]" },
    [EP_THETA] = { "theta", 5e-7, "", 0, INFINITY, "binary: flip threshold (inf: never flip)", 0,
                   NULL, "[LayCode]" },
    [EP_BSCALE] = { "bin_scale", 1, "", 1e-6, 100, "binary: layer scale alpha_l = bin_scale * "
                    "0.5/sqrt(fan_in) (the mean |w| of the uniform init)", 0, NULL, NULL },
};

typedef struct ep_tr {
    xb_ep *e;
    int variant;
    size_t T, K, batch;
    float beta, dt, theta;
    float lr[XB_NET_MAX_LAYERS], gamma[XB_NET_MAX_LAYERS], alpha[XB_NET_MAX_LAYERS];
    xb_ep_state s0, sp, sm;
    float *y;                               /* bmax x n_out one-hot */
    float *gW[XB_NET_MAX_LAYERS], *gb[XB_NET_MAX_LAYERS];   /* binary: gradient estimate */
    float *sign[XB_NET_MAX_LAYERS], *mom[XB_NET_MAX_LAYERS];
    uint32_t seed;
    uint64_t nbatch, flips;
    double neuron_updates, weight_writes;
    xb_energy_units u;
} ep_tr;

static void ep_free(void *state)
{
    ep_tr *s = state;
    if (!s) return;
    xb_ep_state_free(&s->s0); xb_ep_state_free(&s->sp); xb_ep_state_free(&s->sm);
    for (size_t l = 0; l < XB_NET_MAX_LAYERS; l++) {
        xb_free(s->gW[l]); xb_free(s->gb[l]); xb_free(s->sign[l]); xb_free(s->mom[l]);
    }
    xb_free(s->y);
    xb_ep_free(s->e);
    xb_free(s);
}

/* "0.1, 0.05" -> n values in [lo, hi]; errors name file:line, the key and the value. */
static xb_status parse_list(const xb_config *c, const char *key, const char *def, size_t n,
                            double lo, double hi, float *out, xb_err *err)
{
    const char *text = c ? xb_config_str(c, "train", key, def) : def;
    char w[300] = "";
    const xb_cfg_entry *en = c ? xb_config_find(c, "train", key) : NULL;
    if (en) xb_config_where(en, w, sizeof w);
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        char *end;
        const double v = strtod(p, &end);
        if (end == p || !(v >= lo && v <= hi))
            return xb_fail(err, XB_ERANGE, "%s[train] %s = '%s': need %zu comma-separated values "
                           "(one per weight layer, input side first) in [%g, %g]", w, key, text, n,
                           lo, hi);
        out[i] = (float)v;
        p = end;
        while (*p == ' ') p++;
        if (i + 1 < n && *p == ',') p++;
        else if (i + 1 < n) {
            return xb_fail(err, XB_ERANGE, "%s[train] %s = '%s': need %zu comma-separated values "
                           "(one per weight layer, input side first) in [%g, %g]", w, key, text, n,
                           lo, hi);
        }
    }
    while (*p == ' ') p++;
    if (*p)
        return xb_fail(err, XB_ERANGE, "%s[train] %s = '%s': more than %zu values (one per weight "
                       "layer)", w, key, text, n);
    return XB_OK;
}

static xb_status ep_alloc(void **out, const xb_trainer_setup *su, xb_err *err)
{
    *out = NULL;
    const xb_net_spec *ns = &su->net;
    if (ns->act != XB_ACT_HSIGMOID && ns->act != XB_ACT_SIGMOID)
        return xb_fail(err, XB_EINVAL, "eqprop: [net] activation = %s: EP needs hsigmoid or "
                       "sigmoid", xb_act_name(ns->act));
    ep_tr *s = xb_calloc(1, sizeof *s);
    if (!s) return xb_fail(err, XB_ENOMEM, "eqprop: out of memory");
    const size_t L = ns->nlayers;
    s->variant = (int)su->own[EP_VARIANT];
    s->T = (size_t)su->own[EP_T];
    s->K = (size_t)su->own[EP_K];
    s->beta = (float)su->own[EP_BETA];
    s->dt = (float)su->own[EP_DT];
    s->theta = (float)su->own[EP_THETA];
    s->batch = (size_t)su->train[XB_TRAIN_BATCH];
    s->seed = su->seed;
    xb_energy_units_init(&s->u, NULL);
    const size_t bmax = s->batch > XB_NET_CHUNK ? s->batch : XB_NET_CHUNK;
    xb_status st = XB_OK;
    const char *lrs = su->cfg ? xb_config_str(su->cfg, "train", "lrs", "") : "";
    if (*lrs) st = parse_list(su->cfg, "lrs", "", L, 0, 100, s->lr, err);
    else for (size_t l = 0; l < L; l++) s->lr[l] = (float)su->train[XB_TRAIN_LR];
    if (!st && s->variant == V_BINARY)
        st = parse_list(su->cfg, "gamma", ep_params[EP_GAMMA].choices, L, 0, 1, s->gamma, err);
    if (!st && s->beta == 0.0f && s->variant != V_BINARY) {
        char w[300] = "";
        const xb_cfg_entry *en = su->cfg ? xb_config_find(su->cfg, "train", "beta") : NULL;
        if (en) xb_config_where(en, w, sizeof w);
        st = xb_fail(err, XB_ERANGE, "%s[train] beta = 0: must be in (0, 10] (the EP update "
                     "divides by beta; only variant = binary accepts 0)", w);
    }
    if (!st) st = xb_ep_alloc(&s->e, ns->sizes, L, bmax,
                              ns->act == XB_ACT_SIGMOID ? XB_EP_SIGM4 : XB_EP_HARDSIG, su->seed, err);
    if (!st) st = xb_ep_state_alloc(s->e, &s->s0, err);
    if (!st) st = xb_ep_state_alloc(s->e, &s->sp, err);
    if (!st) st = xb_ep_state_alloc(s->e, &s->sm, err);
    if (!st && !(s->y = xb_calloc(bmax * ns->sizes[L], sizeof(float))))
        st = xb_fail(err, XB_ENOMEM, "eqprop: out of memory");
    for (size_t l = 0; !st && s->variant == V_BINARY && l < L; l++) {
        const size_t nw = ns->sizes[l + 1] * ns->sizes[l];
        if (!(s->gW[l] = xb_calloc(nw, sizeof(float))) ||
            !(s->gb[l] = xb_calloc(ns->sizes[l + 1], sizeof(float))) ||
            !(s->sign[l] = xb_malloc(nw * sizeof(float))) ||
            !(s->mom[l] = xb_calloc(nw, sizeof(float)))) {
            st = xb_fail(err, XB_ENOMEM, "eqprop: out of memory");
            break;
        }
        s->alpha[l] = (float)(su->own[EP_BSCALE] * 0.5 / sqrt((double)ns->sizes[l]));
        for (size_t i = 0; i < nw; i++) {         /* the signs of the uniform init */
            s->sign[l][i] = s->e->W[l][i] < 0 ? -1.0f : 1.0f;
            s->e->W[l][i] = s->alpha[l] * s->sign[l][i];
        }
    }
    if (st) { ep_free(s); return st; }
    *out = s;
    return XB_OK;
}

/* The sign of beta for batch number `batch` (random_sign, binary): one Philox bit of
 * stream (seed, XB_RNG_USER), a pure function of the seed and the batch count. */
float xb_eqprop_beta_sign(uint32_t seed, uint64_t batch);
float xb_eqprop_beta_sign(uint32_t seed, uint64_t batch)
{
    const xb_rng r = xb_rng_for_row(seed, XB_RNG_USER, 0, 0, 0);
    const philox4x32_ctr_t u = xb_rng_raw(&r, (uint32_t)batch, (uint32_t)(batch >> 32));
    return (u.v[0] & 1u) ? -1.0f : 1.0f;
}

static size_t ep_step(void *state, const float *x, const unsigned *labels, size_t m)
{
    ep_tr *s = state;
    xb_ep *e = s->e;
    const size_t L = e->L, nout = e->n[L];
    size_t correct = 0;
    for (size_t k0 = 0; k0 < m; k0 += s->batch) {
        const size_t B = m - k0 < s->batch ? m - k0 : s->batch;
        const float *xb = x + k0 * e->n[0];
        memset(s->y, 0, B * nout * sizeof(float));
        for (size_t k = 0; k < B; k++) s->y[k * nout + labels[k0 + k]] = 1.0f;
        float beta = s->beta;
        if (s->variant == V_RANDOM || s->variant == V_BINARY)
            beta *= xb_eqprop_beta_sign(s->seed, s->nbatch);
        s->nbatch++;

        xb_ep_drive(e, xb, B);                          /* W_0 x + b_0: once per batch */
        xb_ep_state_zero(e, &s->s0, B);
        xb_ep_relax(e, &s->s0, B, s->T, 0.0f, NULL, s->dt);
        for (size_t k = 0; k < B; k++) correct += xb_ep_argmax(e, &s->s0, k) == labels[k0 + k];
        xb_ep_state_copy(e, &s->sp, &s->s0, B);
        if (s->variant == V_CONTINUAL) {
            float c[XB_NET_MAX_LAYERS];
            size_t nneur = 0;
            for (size_t l = 0; l < L; l++) c[l] = s->lr[l] / (beta * (float)B);
            for (size_t l = 1; l <= L; l++) nneur += e->n[l];
            xb_ep_continual(e, xb, B, &s->sp, &s->sm, s->K, beta, s->y, c);
            s->neuron_updates += (double)(s->T + s->K) * B * nneur;
            for (size_t l = 0; l < L; l++)
                s->weight_writes += (double)s->K * e->n[l + 1] * (e->n[l] + 1);
            continue;
        }
        xb_ep_relax(e, &s->sp, B, s->K, beta, s->y, s->dt);
        size_t steps = s->T + s->K;
        const xb_ep_state *ref = &s->s0;
        float denom = beta * (float)B;
        if (s->variant == V_SYMMETRIC) {
            xb_ep_state_copy(e, &s->sm, &s->s0, B);
            xb_ep_relax(e, &s->sm, B, s->K, -beta, s->y, s->dt);
            ref = &s->sm;
            denom = 2.0f * beta * (float)B;
            steps += s->K;
        }
        size_t nneur = 0;
        for (size_t l = 1; l <= L; l++) nneur += e->n[l];
        s->neuron_updates += (double)steps * B * nneur;

        float c[XB_NET_MAX_LAYERS];
        if (s->variant == V_BINARY) {
            if (beta == 0.0f) continue;                  /* beta = 0: no estimate */
            for (size_t l = 0; l < L; l++) {
                c[l] = 1.0f / denom;
                memset(s->gW[l], 0, e->n[l + 1] * e->n[l] * sizeof(float));
                memset(s->gb[l], 0, e->n[l + 1] * sizeof(float));
            }
            xb_ep_accumulate(e, xb, B, &s->sp, ref, c, s->gW, s->gb);
            for (size_t l = 0; l < L; l++) {
                const size_t nw = e->n[l + 1] * e->n[l];
                const size_t f = xb_ep_binary_apply(s->sign[l], s->mom[l], e->W[l], s->gW[l], nw,
                                                    s->gamma[l], s->theta, s->alpha[l]);
                s->flips += f;
                s->weight_writes += (double)f;
                for (size_t j = 0; j < e->n[l + 1]; j++) e->b[l][j] += s->lr[l] * s->gb[l][j];
            }
        } else {
            for (size_t l = 0; l < L; l++) c[l] = s->lr[l] / denom;
            xb_ep_accumulate(e, xb, B, &s->sp, ref, c, e->W, e->b);
            for (size_t l = 0; l < L; l++) s->weight_writes += (double)e->n[l + 1] * (e->n[l] + 1);
        }
    }
    return correct;
}

static void ep_predict(void *state, const float *x, size_t m, unsigned *pred)
{
    ep_tr *s = state;
    xb_ep *e = s->e;
    const double macs = e->macs;                         /* evaluation books no energy */
    for (size_t k0 = 0; k0 < m; k0 += e->bmax) {
        const size_t B = m - k0 < e->bmax ? m - k0 : e->bmax;
        xb_ep_drive(e, x + k0 * e->n[0], B);
        xb_ep_state_zero(e, &s->s0, B);
        xb_ep_relax(e, &s->s0, B, s->T, 0.0f, NULL, s->dt);
        for (size_t k = 0; k < B; k++) pred[k0 + k] = xb_ep_argmax(e, &s->s0, k);
    }
    e->macs = macs;
}

/* Digital twin (as sgd_digital): one fp32 multiply and add per multiply-add, ~3 flops
 * per neuron update, a 64-bit SRAM access per two weights read or written. */
static void ep_ledger(void *state, xb_energy *out)
{
    const ep_tr *s = state;
    const double flops = s->e->macs + 3.0 * s->neuron_updates;
    xb_energy_reset(out);
    xb_energy_op(out, &s->u, XB_E_FP32_MULT, flops);
    xb_energy_op(out, &s->u, XB_E_FP32_ADD, flops);
    xb_energy_op(out, &s->u, XB_E_SRAM1M, (s->e->macs + s->weight_writes) / 2);
}

static const char *ep_device(void *state) { (void)state; return "digital"; }

const xb_trainer_type xb_trainer_eqprop = {
    .name = "eqprop",
    .summary = "equilibrium propagation, discrete time (onesided, symmetric, random_sign, binary)",
    .params = ep_params, .nparams = EP_NPARAMS,
    .alloc = ep_alloc, .free = ep_free, .step = ep_step, .predict = ep_predict,
    .ledger = ep_ledger, .device_name = ep_device,
};

/* For tests and benches: the EP net of a trainer and its flip count. */
xb_ep *xb_eqprop_net(void *state);
xb_ep *xb_eqprop_net(void *state) { return ((ep_tr *)state)->e; }
uint64_t xb_eqprop_flips(void *state);
uint64_t xb_eqprop_flips(void *state) { return ((ep_tr *)state)->flips; }
