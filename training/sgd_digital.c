/* training/sgd_digital.c: exact floating-point SGD on the digital twin of the net, the
 * accuracy ceiling of W1 (../shared/ref/analog_sgd.py --mode fp computes the same:
 * W += lr * delta h^T per sample, no noise, no bounds).
 *
 * With batch B > 1 the deltas of B samples are computed with the weights of the
 * batch's start and their mean outer product is applied once (W += lr/B sum delta h^T).
 * Energy: the digital work a chip would do, booked with the Horowitz 45 nm table
 * (DEVICES.md section 9): 2 flops per weight per MVM (mult + add) forward and backward,
 * 2 per weight per update; every weight read from SRAM once per pass. */
#include <cblas.h>
#include <string.h>

#include "core/xb_mem.h"
#include "training/xb_trainer.h"

enum { E_MAC, E_SRAM, E_ACT, NE };
static const char *const e_names[NE] = { "energy_dig_mac_J", "energy_dig_sram_J",
                                         "energy_dig_act_J" };
/* [Hor14] via DEVICES.md section 9: fp32 add 0.9 pJ + mult 3.7 pJ; SRAM 32-bit load 5 pJ. */
static const double E_FMAC = 4.6e-12, E_LOAD32 = 5e-12, E_EXPF = 10 * 4.6e-12;

typedef struct dig {
    xb_net *net;
    float lr;
    size_t batch;
    float **acc;             /* batch > 1: accumulated sum of delta h^T per layer */
    size_t nacc;
    double E[NE];
    double nweights, nneurons, nweights_bwd;
} dig;

static void dig_free(void *state)
{
    dig *s = state;
    if (!s) return;
    for (size_t l = 0; l < s->nacc; l++) xb_free(s->acc[l]);
    xb_free(s->acc);
    xb_net_free(s->net);
    xb_free(s);
}

static xb_status dig_alloc(void **out, const xb_trainer_setup *su, xb_err *err)
{
    *out = NULL;
    dig *s = xb_calloc(1, sizeof *s);
    if (!s) return xb_fail(err, XB_ENOMEM, "sgd_digital: out of memory");
    xb_status st = xb_net_alloc(&s->net, &su->net, su->seed, err);
    s->lr = (float)su->train[XB_TRAIN_LR];
    s->batch = (size_t)su->train[XB_TRAIN_BATCH];
    for (size_t l = 0; l < su->net.nlayers; l++) {
        const double w = (double)su->net.sizes[l + 1] * (su->net.sizes[l] + 1);
        s->nweights += w;
        if (l) s->nweights_bwd += w;
        s->nneurons += (double)su->net.sizes[l + 1];
    }
    if (!st && s->batch > 1) {
        s->nacc = su->net.nlayers;
        if (!(s->acc = xb_calloc(s->nacc, sizeof *s->acc))) s->nacc = 0;
        for (size_t l = 0; s->acc && l < s->nacc; l++)
            if (!(s->acc[l] = xb_calloc(su->net.sizes[l + 1] * (su->net.sizes[l] + 1), sizeof(float)))) {
                s->acc[l] = NULL;
                st = xb_fail(err, XB_ENOMEM, "sgd_digital: out of memory");
                break;
            }
        if (!s->acc && !st) st = xb_fail(err, XB_ENOMEM, "sgd_digital: out of memory");
    }
    if (st) { dig_free(s); return st; }
    *out = s;
    return XB_OK;
}

static size_t dig_step(void *state, const float *x, const unsigned *labels, size_t m)
{
    dig *s = state;
    xb_net *n = s->net;
    const size_t in0 = n->spec.sizes[0];
    size_t correct = 0, inbatch = 0;
    for (size_t k = 0; k < m; k++) {
        correct += xb_net_forward(n, x + k * in0, 1) == labels[k];
        xb_net_backward(n, labels[k]);
        if (s->batch == 1) { xb_net_sgd_update(n, s->lr); continue; }
        for (size_t l = 0; l < n->spec.nlayers; l++)
            cblas_sger(CblasRowMajor, (int)n->layer[l].out, (int)n->layer[l].in + 1, 1.0f,
                       n->d[l], 1, n->h[l], 1, s->acc[l], (int)n->layer[l].in + 1);
        if (++inbatch == s->batch || k + 1 == m) {
            const float a = s->lr / (float)inbatch;
            for (size_t l = 0; l < n->spec.nlayers; l++) {
                const size_t sz = n->layer[l].out * (n->layer[l].in + 1);
                cblas_saxpy((int)sz, a, s->acc[l], 1, n->layer[l].W, 1);
                memset(s->acc[l], 0, sz * sizeof(float));
            }
            inbatch = 0;
        }
    }
    /* forward + backward + update: 3 passes over the weights (backward skips layer 0) */
    const double macs = (double)m * (2 * s->nweights + s->nweights_bwd);
    s->E[E_MAC] += macs * E_FMAC;
    s->E[E_SRAM] += macs * E_LOAD32;
    s->E[E_ACT] += (double)m * 2 * s->nneurons * E_EXPF;
    return correct;
}

static void dig_predict(void *state, const float *x, size_t m, unsigned *pred)
{
    dig *s = state;
    xb_net_predict(s->net, x, m, pred);
}

static void dig_ledger(void *state, xb_ledger *out)
{
    const dig *s = state;
    out->n = NE;
    for (size_t k = 0; k < NE; k++) { out->name[k] = e_names[k]; out->J[k] = s->E[k]; }
}

static const char *dig_device(void *state) { (void)state; return "digital"; }

const xb_trainer_type xb_trainer_sgd_digital = {
    .name = "sgd_digital",
    .summary = "exact float SGD on the digital twin (the accuracy ceiling)",
    .alloc = dig_alloc, .free = dig_free, .step = dig_step, .predict = dig_predict,
    .ledger = dig_ledger, .device_name = dig_device,
};

/* The net of a digital trainer, for tests (gradient checks). */
xb_net *xb_sgd_digital_net(void *state);
xb_net *xb_sgd_digital_net(void *state) { return ((dig *)state)->net; }
