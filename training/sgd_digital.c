/* training/sgd_digital.c: exact floating-point SGD on the digital twin of the net, the
 * accuracy ceiling of W1 (../shared/ref/analog_sgd.py --mode fp computes the same:
 * W += lr * delta h^T per sample, no noise, no bounds).
 *
 * With batch B > 1 the deltas of B samples are computed with the weights of the
 * batch's start and their mean outer product is applied once (W += lr/B sum delta h^T).
 * Energy: the digital work a chip would do, booked with the [energy] defaults (Horowitz
 * 45 nm, DEVICES.md section 9): one fp32 mult + add per weight for the forward pass,
 * the backward pass (layers >= 2) and the update; every weight read once per pass from
 * a 1 MB SRAM (64-bit accesses carry two weights); activation + derivative as 4 fp32
 * mult + 4 add per neuron (an estimate: sigmoid by a short polynomial). */
#include <cblas.h>
#include <string.h>

#include "core/xb_mem.h"
#include "training/xb_trainer.h"


typedef struct dig {
    xb_net *net;
    float lr;
    size_t batch;
    float **acc;             /* batch > 1: accumulated sum of delta h^T per layer */
    size_t nacc;
    xb_energy E;
    xb_energy_units u;
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
    xb_energy_units_init(&s->u, NULL);
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
    xb_energy_op(&s->E, &s->u, XB_E_FP32_MULT, macs + 4.0 * (double)m * s->nneurons);
    xb_energy_op(&s->E, &s->u, XB_E_FP32_ADD, macs + 4.0 * (double)m * s->nneurons);
    xb_energy_op(&s->E, &s->u, XB_E_SRAM1M, macs / 2);
    return correct;
}

static void dig_predict(void *state, const float *x, size_t m, unsigned *pred)
{
    dig *s = state;
    xb_net_predict(s->net, x, m, pred);
}

static void dig_ledger(void *state, xb_energy *out) { *out = ((const dig *)state)->E; }

static const char *dig_device(void *state) { (void)state; return "digital"; }

const xb_trainer_type xb_trainer_sgd_digital = {
    .name = "sgd_digital",
    .summary = "exact float SGD on the digital twin (the accuracy ceiling)",
    .alloc = dig_alloc, .free = dig_free, .step = dig_step, .predict = dig_predict,
    .ledger = dig_ledger, .device_name = dig_device,
};
