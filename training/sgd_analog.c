/* training/sgd_analog.c: analog SGD with stochastic pulse coincidence on crossbars
 * (Gokmen & Vlasov [GV16], ALGORITHMS.md section 1), workload W1.
 *
 * Every weight matrix of the net (bias column included) lives on a crossbar layer
 * (crossbar/xb_layer.h) of [device] devices with the [crossbar] peripherals. Per
 * training sample: FWD on every layer, BWD on every layer but the first, UPD_PC on
 * every layer (the crossbar's pulse-coincidence update, dW = lr delta h^T in
 * expectation; or deterministic pulse counts with update = deterministic). Digital
 * work per sample: activations and their derivatives, softmax, booked as fp32 ops.
 *
 * The rule's own [train] keys (bl, update, update_mgmt) set the crossbar's update
 * parameters; giving them in [crossbar] as well is an error (one source of truth).
 * Initial weights: the net's init (U(+-1/sqrt(in+1)), as ../shared/ref/analog_sgd.py)
 * written by write-verify (PROG) with a tolerance of half a pulse step, booked in a
 * separate set-up ledger (not in the training energy); init = device keeps the
 * devices' own initial state instead.
 *
 * Evaluation reads the same arrays with the same peripherals (noise included) and is
 * booked in an evaluation ledger, not in the training one. */
#include <math.h>
#include <string.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "crossbar/xb_layer.h"
#include "training/xb_trainer.h"

enum { A_BL, A_UPDATE, A_UPDATE_MGMT, A_INIT, A_NPARAMS };
static const xb_param_spec an_params[A_NPARAMS] = {
    [A_BL] = { "bl", 10, "bits", 1, 1024, "stochastic bit-stream length BL", XB_P_INT, NULL, "[GV16]" },
    [A_UPDATE] = { "update", 0, "", 0, 0, "pulse: stochastic pulse coincidence; deterministic: "
                   "n = round(lr x d / dw_min) pulses", XB_P_ENUM, "pulse|deterministic", "[GV16]" },
    [A_UPDATE_MGMT] = { "update_mgmt", 0, "", 0, 1, "rescale C_x, C_d by sqrt(max|d|/max|x|) "
                        "(aihwkit update management)", XB_P_BOOL, NULL, "[AIHW-IO]" },
    [A_INIT] = { "init", 0, "", 0, 0, "program: write the net's initial weights by write-verify; "
                 "device: keep the devices' initial state", XB_P_ENUM, "program|device", NULL },
};

typedef struct an_layer {
    struct an_state *s;
    xb_layer *L;
    size_t in, out;
} an_layer;

typedef struct an_state {
    xb_net *net;
    an_layer lay[XB_NET_MAX_LAYERS];
    float lr;
    size_t batch;
    float *xs;                 /* compacted inputs (XB_NET_CHUNK x widest) */
    xb_energy E, E_eval, E_setup;
    const xb_energy_units *u;
    double nneurons, nout;
    char device[64];
} an_state;

static void hw_forward(void *ctx, const float *a, size_t m, float *z, int train)
{
    an_layer *l = ctx;
    const float *x = a;
    if (m > 1) {                  /* drop the bias column: the layer adds its own */
        for (size_t s = 0; s < m; s++) memcpy(l->s->xs + s * l->in, a + s * (l->in + 1), l->in * sizeof *a);
        x = l->s->xs;
    }
    xb_layer_forward(l->L, x, m, z, train ? &l->s->E : &l->s->E_eval);
}

static void hw_backward(void *ctx, const float *d, float *g)
{
    an_layer *l = ctx;
    xb_layer_backward(l->L, d, 1, g, &l->s->E);
}

static const xb_net_hw an_hw = { .forward = hw_forward, .backward = hw_backward };

static void an_free(void *state)
{
    an_state *s = state;
    if (!s) return;
    for (size_t l = 0; l < XB_NET_MAX_LAYERS; l++) xb_layer_free(s->lay[l].L);
    xb_net_free(s->net);
    xb_free(s->xs);
    xb_free(s);
}

static xb_status an_alloc(void **out, const xb_trainer_setup *su, xb_err *err)
{
    *out = NULL;
    const xb_config *c = su->cfg;
    static const char *const owned[] = { "bl", "update", "update_mgmt" };
    for (size_t k = 0; k < 3; k++) {
        const xb_cfg_entry *e = xb_config_find(c, "crossbar", owned[k]);
        if (e) {
            char w[300];
            return xb_fail(err, XB_EINVAL, "%s[crossbar] %s: sgd_analog takes it from [train] %s",
                           xb_config_where(e, w, sizeof w), owned[k], owned[k]);
        }
    }
    const char *tn = xb_config_str(c, "device", "type", "softbounds");
    const xb_device_type *T = xb_device_find(tn);
    if (!T) return xb_fail(err, XB_EINVAL, "[device] type = '%s' is not a device model", tn);
    double dev[64], common[XB_DEVC_NPARAMS], xp[XB_XB_NPARAMS], ep[XB_EN_NPARAMS];
    xb_status st;
    if ((st = xb_device_params(c, "device", T, dev, err)) ||
        (st = xb_config_params(c, "device", xb_section_device_common.params, XB_DEVC_NPARAMS,
                               common, err)) ||
        (st = xb_crossbar_params(c, xp, err)) || (st = xb_energy_params(c, ep, err)))
        return st;
    xp[XB_XB_BL] = su->own[A_BL];
    xp[XB_XB_UPDATE] = su->own[A_UPDATE] ? XB_UPDATE_DETERMINISTIC : XB_UPDATE_PULSE;
    xp[XB_XB_UPDATE_MGMT] = su->own[A_UPDATE_MGMT];

    if (su->train[XB_TRAIN_BATCH] != 1)
        return xb_fail(err, XB_EINVAL, "[train] batch = %g: sgd_analog updates after every "
                       "sample (rank-1 pulse update); batch must be 1", su->train[XB_TRAIN_BATCH]);
    an_state *s = xb_calloc(1, sizeof *s);
    if (!s) return xb_fail(err, XB_ENOMEM, "sgd_analog: out of memory");
    s->lr = (float)su->train[XB_TRAIN_LR];
    s->batch = (size_t)su->train[XB_TRAIN_BATCH];
    snprintf(s->device, sizeof s->device, "%s", T->name);
    size_t widest = 0;
    for (size_t l = 0; l <= su->net.nlayers; l++)
        if (su->net.sizes[l] > widest) widest = su->net.sizes[l];
    if ((st = xb_net_alloc(&s->net, &su->net, su->seed, err))) { an_free(s); return st; }
    if (!(s->xs = xb_malloc((size_t)XB_NET_CHUNK * widest * sizeof(float)))) {
        an_free(s);
        return xb_fail(err, XB_ENOMEM, "sgd_analog: out of memory");
    }
    for (size_t l = 0; l < su->net.nlayers; l++) {
        an_layer *a = &s->lay[l];
        a->s = s;
        a->in = su->net.sizes[l];
        a->out = su->net.sizes[l + 1];
        const xb_layer_spec ls = { .type = T, .dev_params = dev, .xbar_params = xp,
                                   .energy_params = ep, .out = a->out, .in = a->in, .bias = 1,
                                   .seed = su->seed, .id = (uint32_t)l,
                                   .stuck_on = common[XB_DEVC_STUCK_ON],
                                   .stuck_off = common[XB_DEVC_STUCK_OFF] };
        if ((st = xb_layer_alloc(&a->L, &ls, err))) {
            an_free(s);
            return xb_err_prefix(err, "sgd_analog layer %zu: ", l + 1);
        }
        if (su->own[A_INIT] == 0) {          /* program the net's initial weights */
            const double tol = xp[XB_XB_PROG_TOL];
            const double half = 0.5 * xb_layer_dw_min(a->L);
            if (half > 0 && half < tol) xb_layer_set(a->L, XB_XB_PROG_TOL, half, NULL);
            xb_layer_program(a->L, s->net->layer[l].W, &s->E_setup);
            xb_layer_set(a->L, XB_XB_PROG_TOL, tol, NULL);
        }
        xb_net_attach(s->net, l, &an_hw, a);
        s->nneurons += (double)a->out;
    }
    s->u = xb_layer_energy_units(s->lay[0].L);
    s->nout = (double)su->net.sizes[su->net.nlayers];
    *out = s;
    return XB_OK;
}

static size_t an_step(void *state, const float *x, const unsigned *labels, size_t m)
{
    an_state *s = state;
    xb_net *n = s->net;
    const size_t in0 = n->spec.sizes[0];
    size_t correct = 0;
    for (size_t k = 0; k < m; k++) {
        correct += xb_net_forward(n, x + k * in0, 1) == labels[k];
        xb_net_backward(n, labels[k]);
        for (size_t l = 0; l < n->spec.nlayers; l++)
            xb_layer_update(s->lay[l].L, n->h[l], n->d[l], 1, s->lr, &s->E);
    }
    /* digital: activation (4 mult + 4 add, an estimate) and derivative-multiply
     * (2 mult + 1 add) per hidden neuron; softmax (exp as 4+4) and delta per output */
    const double hid = s->nneurons - s->nout;
    xb_energy_op(&s->E, s->u, XB_E_FP32_MULT, (double)m * (6 * hid + 5 * s->nout));
    xb_energy_op(&s->E, s->u, XB_E_FP32_ADD, (double)m * (5 * hid + 6 * s->nout));
    return correct;
}

static void an_predict(void *state, const float *x, size_t m, unsigned *pred)
{
    an_state *s = state;
    xb_net_predict(s->net, x, m, pred);
}

static void an_ledger(void *state, xb_energy *out) { *out = ((const an_state *)state)->E; }
static const char *an_device(void *state) { return ((an_state *)state)->device; }

const xb_trainer_type xb_trainer_sgd_analog = {
    .name = "sgd_analog",
    .summary = "analog SGD: crossbar MVMs, stochastic pulse-coincidence updates [GV16]",
    .params = an_params, .nparams = A_NPARAMS, .uses_device = 1,
    .alloc = an_alloc, .free = an_free, .step = an_step, .predict = an_predict,
    .ledger = an_ledger, .device_name = an_device,
};
