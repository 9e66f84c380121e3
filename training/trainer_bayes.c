/* training/trainer_bayes.c: the Bayesian learning rules MESU (Gaussian posteriors,
 * training/xb_mesu.h) and BiMU (binary posteriors, training/xb_bimu.h) as trainers.
 *
 * Both learn one sample at a time ([train] batch = 1, as every reference run) and need
 * no task boundaries. Their posterior state is digital here (the reference rules);
 * energy is booked as the digital work a chip would do with the [energy] defaults
 * (Horowitz 45 nm, DEVICES.md section 9):
 *   forward + backward multiply-accumulates -> fp32 mult + add each;
 *   MESU update ~8 fp32 ops per parameter (ALGORITHMS.md 4), BiMU ~12 (section 5);
 *   every parameter read and written once per step from a 1 MB SRAM: (mu, sigma) is one
 *   64-bit read + one write = 2 accesses, lambda (32 bits) half of that = 1 access;
 *   32 random bits per Gaussian draw or relaxed/binary sample.
 * BiMU with [train] sampler = stmram: the binary samples of active querying come from
 * stochastic ST-MRAM writes (training/xb_bimu.h; [device] stmram keys, physical mode);
 * their reset and write pulses are booked as `pulse` (count = pulses, J = I^2 R t)
 * instead of random bits. Evaluation samples are not booked (the runner's rule). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "devices/xb_device.h"
#include "devices/xb_stmram.h"
#include "training/xb_bimu.h"
#include "training/xb_mesu.h"
#include "training/xb_noise_dev.h"
#include "training/xb_trainer.h"

/* ---------------- MESU ---------------- */
enum { M_LR_MU, M_LR_SIGMA, M_MU_PRIOR, M_SIGMA_PRIOR, M_MEMORY, M_CLAMP, M_MU_GAIN,
       M_SIGMA_INIT, M_MC_TRAIN, M_MC_TEST, M_NOISE_SOURCE, M_NOISE_DEVICE, M_NOISE_CALIB,
       M_NOISE_SETTLE, M_NPARAMS };
enum { NOISE_DIGITAL, NOISE_DEVICE };
static const xb_param_spec mesu_params[M_NPARAMS] = {
    [M_LR_MU] = { "lr_mu", 1, "", 0, 100, "step size of the mean update", 0, NULL, "[MesuCode] pMNIST config" },
    [M_LR_SIGMA] = { "lr_sigma", 1, "", 0, 100, "step size of the sigma update", 0, NULL, "[MesuCode]" },
    [M_MU_PRIOR] = { "mu_prior", 0, "", -10, 10, "prior mean", 0, NULL, "[MesuCode]" },
    [M_SIGMA_PRIOR] = { "sigma_prior", 1, "", 1e-6, 100, "prior standard deviation", 0, NULL, "[MesuCode]" },
    [M_MEMORY] = { "memory", 3e5, "samples", 1, 1e300, "memory window N (forgetting time scale)", 0, NULL, "[MesuCode]" },
    [M_CLAMP] = { "clamp", 0, "", 0, 100, "gradient clamp c: g in [-c/sigma, c/sigma] (0 = off)", 0, NULL, "[MesuCode]" },
    [M_MU_GAIN] = { "mu_init_gain", 1.4142135623730951, "", 0, 100,
                    "initial means U(+-gain/sqrt(fan_in)), biases 0", 0, NULL, "../shared/ref/mesu.py" },
    [M_SIGMA_INIT] = { "sigma_init", 0.1, "", 0, 100, "initial sigma of every parameter", 0, NULL,
                       "../shared/ref/mesu.py (MESU authors' layer default)" },
    [M_MC_TRAIN] = { "mc_train", 1, "samples", 1, 1000, "weight samples per training step", XB_P_INT, NULL, "" },
    [M_MC_TEST] = { "mc_test", 10, "samples", 1, 1000, "weight samples averaged at test", XB_P_INT, NULL, "[MesuCode]" },
    [M_NOISE_SOURCE] = { "noise_source", NOISE_DIGITAL, "", 0, 0, "where eps comes from: digital "
                         "(Philox) or device (read noise of noise_device, standardised)", XB_P_ENUM,
                         "digital|device", "issue 10" },
    [M_NOISE_DEVICE] = { "noise_device", 0, "", 0, 0, "device model whose read noise gives eps "
                         "(parameters from [device], whose type must match)", XB_P_ENUM,
                         "pcm|stmram", "DEVICES.md 5, 7" },
    [M_NOISE_CALIB] = { "noise_calib_reads", 64, "reads", 2, 100000, "reads per device that "
                        "estimate its mean and sd (standardisation)", XB_P_INT, NULL, "xbemu choice" },
    [M_NOISE_SETTLE] = { "noise_settle", 1, "s", 0, 1e9, "time from programming to the reads "
                         "(PCM drift and 1/f noise grow with it)", 0, NULL, "xbemu choice" },
};

typedef struct mesu_tr {
    xb_mesu *m;
    xb_noise_dev *noise;       /* NULL: digital eps */
    char devname[40];          /* results.csv device column: digital or <model>-noise */
    xb_energy E;
    xb_energy_units u;
    double nparams;
    size_t in0;
} mesu_tr;

static xb_status check_common(const xb_trainer_setup *s, const char *name, xb_err *err)
{
    const xb_cfg_entry *e = xb_config_find(s->cfg, "train", "lr");
    if (e) {
        char w[300];
        return xb_fail(err, XB_EINVAL, "%s[train] lr is not used by %s (see its own step keys "
                       "in `xbemu config show train`)", xb_config_where(e, w, sizeof w), name);
    }
    if (s->train[XB_TRAIN_BATCH] != 1)
        return xb_fail(err, XB_EINVAL, "[train] batch = %g: %s learns one sample at a time "
                       "(batch = 1)", s->train[XB_TRAIN_BATCH], name);
    return XB_OK;
}

static void mesu_free_(void *state)
{
    mesu_tr *t = state;
    if (t) { xb_mesu_free(t->m); xb_noise_dev_free(t->noise); xb_free(t); }
}

/* The device noise source of [train] noise_source = device. */
static xb_status noise_alloc(mesu_tr *t, const xb_trainer_setup *s, const xb_mesu_cfg *c,
                             xb_err *err)
{
    char name[32], w[300] = "";
    xb_param_choice(&mesu_params[M_NOISE_DEVICE], (int)s->own[M_NOISE_DEVICE], name, sizeof name);
    const xb_device_type *D = xb_device_find(name);
    if (!D) return xb_fail(err, XB_EINVAL, "[train] noise_device = %s: no such device model", name);
    const char *dt = xb_config_str(s->cfg, "device", "type", name);
    if (xb_config_has_section(s->cfg, "device") && strcmp(dt, name)) {
        const xb_cfg_entry *e = xb_config_find(s->cfg, "device", "type");
        if (e) xb_config_where(e, w, sizeof w);
        return xb_fail(err, XB_EINVAL, "%s[device] type = %s but [train] noise_device = %s (the "
                       "[device] section gives the noise device's parameters)", w, dt, name);
    }
    double p[64], ep[XB_EN_NPARAMS];
    xb_status st;
    if (D->nparams > 64) return xb_fail(err, XB_ERANGE, "device %s: too many keys", D->name);
    if ((st = xb_device_params(s->cfg, "device", D, p, err)) || (st = xb_energy_params(s->cfg, ep, err)))
        return st;
    xb_energy_units u;
    xb_energy_units_init(&u, ep);
    snprintf(t->devname, sizeof t->devname, "%s-noise", name);
    size_t n[XB_MESU_MAX_LAYERS];
    for (size_t l = 0; l < c->nlayers; l++) n[l] = c->sizes[l + 1] * (c->sizes[l] + 1);
    return xb_noise_dev_alloc(&t->noise, D, p, n, c->nlayers, (unsigned)s->own[M_NOISE_CALIB],
                              s->own[M_NOISE_SETTLE], s->seed, &u, err);
}

static xb_status mesu_alloc_(void **out, const xb_trainer_setup *s, xb_err *err)
{
    *out = NULL;
    xb_status st = check_common(s, "mesu", err);
    if (st) return st;
    if (s->net.act != XB_ACT_RELU || s->net.nlayers > XB_MESU_MAX_LAYERS)
        return xb_fail(err, XB_EINVAL, "[net] mesu needs activation = relu and at most %d layers",
                       XB_MESU_MAX_LAYERS);
    xb_mesu_cfg c = {
        .nlayers = s->net.nlayers, .lr_mu = s->own[M_LR_MU], .lr_sigma = s->own[M_LR_SIGMA],
        .mu_prior = s->own[M_MU_PRIOR], .sigma_prior = s->own[M_SIGMA_PRIOR],
        .memory = s->own[M_MEMORY], .clamp = s->own[M_CLAMP], .mu_init_gain = s->own[M_MU_GAIN],
        .sigma_init = s->own[M_SIGMA_INIT], .mc_train = (unsigned)s->own[M_MC_TRAIN],
        .mc_test = (unsigned)s->own[M_MC_TEST], .seed = s->seed };
    for (size_t l = 0; l <= c.nlayers; l++) c.sizes[l] = s->net.sizes[l];
    mesu_tr *t = xb_calloc(1, sizeof *t);
    if (!t) return xb_fail(err, XB_ENOMEM, "mesu: out of memory");
    if ((int)s->own[M_NOISE_SOURCE] == NOISE_DEVICE) {
        if ((st = noise_alloc(t, s, &c, err))) { mesu_free_(t); return st; }
        c.noise = xb_noise_dev_draw;
        c.noise_ctx = t->noise;
    }
    if ((st = xb_mesu_alloc(&t->m, &c, err))) { mesu_free_(t); return st; }
    xb_energy_units_init(&t->u, NULL);
    t->in0 = c.sizes[0];
    for (size_t l = 0; l < c.nlayers; l++) {
        const double n = (double)c.sizes[l + 1] * (c.sizes[l] + 1);
        t->nparams += n;
    }
    *out = t;
    return XB_OK;
}

/* Digital work of one step, from the counters' increase (see the file comment). */
static void book(xb_energy *E, const xb_energy_units *u, double macs, double upd, double ops,
                 double sram_per_param, double rnd)
{
    xb_energy_op(E, u, XB_E_FP32_MULT, macs + ops / 2 * upd);
    xb_energy_op(E, u, XB_E_FP32_ADD, macs + ops / 2 * upd);
    xb_energy_op(E, u, XB_E_SRAM1M, sram_per_param * upd);   /* 64-bit accesses */
    xb_energy_op(E, u, XB_E_RNG, 32 * rnd);
}

static size_t mesu_step_(void *state, const float *x, const unsigned *labels, size_t m)
{
    mesu_tr *t = state;
    const xb_mesu_counts before = *xb_mesu_counts_get(t->m);
    xb_energy r0, r1;                      /* device reads of the noise source */
    xb_energy_reset(&r0);
    if (t->noise) xb_noise_dev_ledger(t->noise, &r0);
    size_t correct = 0;
    for (size_t k = 0; k < m; k++) correct += (size_t)xb_mesu_step(t->m, x + k * t->in0, labels[k]);
    const xb_mesu_counts *now = xb_mesu_counts_get(t->m);
    /* device eps costs its reads instead of 32 random bits per draw */
    book(&t->E, &t->u, now->macs - before.macs, now->param_updates - before.param_updates, 8, 2,
         t->noise ? 0 : now->normals - before.normals);
    if (t->noise) {
        xb_energy_reset(&r1);
        xb_noise_dev_ledger(t->noise, &r1);
        xb_energy_add(&t->E, XB_E_READ, r1.n[XB_E_READ] - r0.n[XB_E_READ], r1.J[XB_E_READ] - r0.J[XB_E_READ]);
    }
    return correct;
}

static void mesu_predict_(void *state, const float *x, size_t m, unsigned *pred)
{
    xb_mesu_predict(((mesu_tr *)state)->m, x, m, pred);
}

static void mesu_sample_probs_(void *state, const float *x, size_t m, unsigned S, float *probs)
{
    xb_mesu_sample_probs(((mesu_tr *)state)->m, x, m, S, probs);
}

static void mesu_ledger_(void *state, xb_energy *out) { *out = ((const mesu_tr *)state)->E; }

static const char *mesu_device_name(void *state)
{
    const mesu_tr *t = state;
    return t->noise ? t->devname : "digital";
}

/* run.json: the statistics of the device eps (noise_source = device). */
static void mesu_report_(void *state, char *buf, size_t len)
{
    const mesu_tr *t = state;
    buf[0] = '\0';
    if (!t->noise) {
        snprintf(buf, len, "\"noise_source\": \"digital\"");
        return;
    }
    xb_noise_stats q;
    xb_noise_dev_stats(t->noise, &q);
    snprintf(buf, len, "\"noise_source\": \"device\", \"eps_n\": %.0f, \"eps_mean\": %.6g, "
             "\"eps_sd\": %.6g, \"eps_skewness\": %.6g, \"eps_excess_kurtosis\": %.6g, "
             "\"eps_ks\": %.6g, \"eps_ks_n\": %.0f, \"devices\": %.0f, \"silent_devices\": %.0f, "
             "\"calib_reads\": %.0f, \"settle_s\": %.6g", q.n, q.mean, q.sd, q.skewness,
             q.excess_kurtosis, q.ks, q.ks_n, q.devices, q.silent, q.calib_reads, q.settle_s);
}

const xb_trainer_type xb_trainer_mesu = {
    .name = "mesu",
    .summary = "MESU: Bayesian continual learning with Gaussian posteriors (batch 1)",
    .params = mesu_params, .nparams = M_NPARAMS,
    .alloc = mesu_alloc_, .free = mesu_free_, .step = mesu_step_, .predict = mesu_predict_,
    .ledger = mesu_ledger_, .device_name = mesu_device_name,
    .sample_probs = mesu_sample_probs_, .report = mesu_report_,
};

xb_mesu *xb_trainer_mesu_model(void *state);
xb_mesu *xb_trainer_mesu_model(void *state) { return ((mesu_tr *)state)->m; }

/* ---------------- BiMU ---------------- */
enum { B_KL, B_KKL, B_LR_MAX, B_MEMORY, B_ETA, B_TAU, B_LAMBDA_INIT, B_MC_TRAIN, B_MC_TEST,
       B_QUERY, B_STANDARDIZE, B_SAMPLER, B_STM_CAL, B_NPARAMS };
static const xb_param_spec bimu_params[B_NPARAMS] = {
    [B_KL] = { "kl", 161.3, "", 0, 1e6, "likelihood multiplier kappa_L", 0, NULL, "[CotCode] bimu.json" },
    [B_KKL] = { "kkl", 3.76, "", 0, 1e6, "KL multiplier kappa_KL", 0, NULL, "[CotCode]" },
    [B_LR_MAX] = { "lr_max", 0.0023, "", 1e-9, 100, "maximum per-synapse step", 0, NULL, "[CotCode]" },
    [B_MEMORY] = { "memory", 700, "samples", 1, 1e300, "memory window N", 0, NULL, "[CotCode]" },
    [B_ETA] = { "eta", 4.9, "", 0, 1e6, "step scale", 0, NULL, "[CotCode]" },
    [B_TAU] = { "tau", 1, "", 1e-3, 100, "relaxation temperature", 0, NULL, "[CotCode]" },
    [B_LAMBDA_INIT] = { "lambda_init", 0.1, "", 0, 10, "initial lambda ~ U(-a, a)", 0, NULL, "xbemu choice" },
    [B_MC_TRAIN] = { "mc_train", 5, "samples", 1, 1000, "relaxed samples per step", XB_P_INT, NULL, "[CotCode]" },
    [B_MC_TEST] = { "mc_test", 5, "samples", 1, 1000, "binary samples at test (and for querying)", XB_P_INT, NULL, "[CotCode]" },
    [B_QUERY] = { "query_threshold", 0, "", 0, 1,
                  "active learning: ask for a label iff the variation ratio >= this (0 = always)", 0, NULL, "[Cot26]" },
    [B_STANDARDIZE] = { "standardize", 1, "", 0, 1, "inputs (x - 0.1307)/0.3081 (MNIST statistics)",
                        XB_P_BOOL, NULL, "[CotCode] (inputs standardised)" },
    [B_SAMPLER] = { "sampler", XB_BIMU_SAMPLER_DIGITAL, "", 0, 0,
                    "binary weight samples: digital (Philox) or stmram (reset + stochastic write of an "
                    "ST-MRAM cell per weight; [device] stmram keys, physical mode)",
                    XB_P_ENUM, "digital|stmram", "ALGORITHMS.md 5, DEVICES.md 5" },
    [B_STM_CAL] = { "stmram_calibrated", 1, "", 0, 1,
                    "stmram sampler: write current from each cell's own switching law (true) or "
                    "the nominal cell's (false: D2D spread distorts P(+1))", XB_P_BOOL, NULL, "xbemu choice" },
};

typedef struct bimu_tr {
    xb_bimu *b;
    xb_energy E;
    xb_energy_units u;
    size_t in0;
    int standardize, stmram;
    float *xs;                 /* standardized copy of a chunk */
} bimu_tr;

static void bimu_free_(void *state)
{
    bimu_tr *t = state;
    if (t) { xb_bimu_free(t->b); xb_free(t->xs); xb_free(t); }
}

static xb_status bimu_alloc_(void **out, const xb_trainer_setup *s, xb_err *err)
{
    *out = NULL;
    xb_status st = check_common(s, "bimu", err);
    if (st) return st;
    if (s->net.nlayers > XB_BIMU_MAX_LAYERS)
        return xb_fail(err, XB_EINVAL, "[net] bimu supports at most %d layers", XB_BIMU_MAX_LAYERS);
    xb_bimu_cfg c = { .nlayers = s->net.nlayers, .kl = s->own[B_KL], .kkl = s->own[B_KKL],
                      .lr_max = s->own[B_LR_MAX], .memory = s->own[B_MEMORY], .eta = s->own[B_ETA],
                      .tau = s->own[B_TAU], .lambda_init = s->own[B_LAMBDA_INIT],
                      .mc_train = (unsigned)s->own[B_MC_TRAIN], .mc_test = (unsigned)s->own[B_MC_TEST],
                      .query_threshold = s->own[B_QUERY], .seed = s->seed };
    for (size_t l = 0; l <= c.nlayers; l++) c.sizes[l] = s->net.sizes[l];
    bimu_tr *t = xb_calloc(1, sizeof *t);
    if (!t) return xb_fail(err, XB_ENOMEM, "bimu: out of memory");
    t->in0 = c.sizes[0];
    t->standardize = s->own[B_STANDARDIZE] != 0;
    if (!(t->xs = xb_malloc(256 * t->in0 * sizeof(float)))) {
        xb_free(t);
        return xb_fail(err, XB_ENOMEM, "bimu: out of memory");
    }
    if ((st = xb_bimu_alloc(&t->b, &c, err))) { bimu_free_(t); return st; }
    xb_energy_units_init(&t->u, NULL);
    t->stmram = (int)s->own[B_SAMPLER] == XB_BIMU_SAMPLER_STMRAM;
    if (t->stmram) {
        const xb_device_type *D = xb_device_find("stmram");
        double dev[64];
        const char *tn = s->cfg ? xb_config_str(s->cfg, "device", "type", "") : "";
        char w[300] = "";
        const xb_cfg_entry *e = s->cfg ? xb_config_find(s->cfg, "train", "sampler") : NULL;
        if (e) xb_config_where(e, w, sizeof w);
        if (!D || D->nparams > 64) st = xb_fail(err, XB_EINVAL, "%s[train] sampler = stmram: no stmram "
                                                "device model in this build (allowed: digital)", w);
        else if (!strcmp(tn, "stmram")) st = xb_device_params(s->cfg, "device", D, dev, err);
        else if (*tn) st = xb_fail(err, XB_EINVAL, "%s[train] sampler = stmram needs [device] type = "
                                   "stmram (or no [device] section), not '%s'", w, tn);
        else xb_param_defaults(D->params, D->nparams, dev);
        const xb_bimu_sampler smp = { .kind = XB_BIMU_SAMPLER_STMRAM,
                                      .calibrated = s->own[B_STM_CAL] != 0, .dev = dev };
        if (!st && !xb_stmram_is_physical(dev)) {
            const xb_cfg_entry *m = xb_config_find(s->cfg, "device", "mode");
            char wm[300] = "";
            if (m) xb_config_where(m, wm, sizeof wm);
            st = xb_fail(err, XB_EINVAL, "%s[device] mode = direct: [train] sampler = stmram needs "
                         "mode = physical (the switching law sets P(+1) through the write current)", wm);
        }
        if (!st) st = xb_bimu_set_sampler(t->b, &smp, err);
        if (st) { bimu_free_(t); return st; }
    }
    *out = t;
    return XB_OK;
}

static const float *prep(bimu_tr *t, const float *x, size_t m)
{
    if (!t->standardize) return x;
    for (size_t i = 0; i < m * t->in0; i++) t->xs[i] = (x[i] - 0.1307f) / 0.3081f;
    return t->xs;
}

static size_t bimu_step_(void *state, const float *x, const unsigned *labels, size_t m)
{
    bimu_tr *t = state;
    const xb_bimu_counts before = *xb_bimu_counts_get(t->b);
    size_t correct = 0;
    for (size_t k0 = 0; k0 < m; k0 += 256) {
        const size_t mm = m - k0 < 256 ? m - k0 : 256;
        const float *xx = prep(t, x + k0 * t->in0, mm);
        for (size_t k = 0; k < mm; k++) correct += (size_t)xb_bimu_step(t->b, xx + k * t->in0, labels[k0 + k]);
    }
    const xb_bimu_counts *now = xb_bimu_counts_get(t->b);
    book(&t->E, &t->u, now->macs - before.macs, now->updates - before.updates, 12, 1,
         now->uniforms - before.uniforms);
    if (now->sample_writes > before.sample_writes)
        xb_energy_add(&t->E, XB_E_PULSE, now->sample_writes - before.sample_writes,
                      now->sample_J - before.sample_J);
    return correct;
}

static void bimu_predict_(void *state, const float *x, size_t m, unsigned *pred)
{
    bimu_tr *t = state;
    for (size_t k0 = 0; k0 < m; k0 += 256) {
        const size_t mm = m - k0 < 256 ? m - k0 : 256;
        xb_bimu_predict(t->b, prep(t, x + k0 * t->in0, mm), mm, pred + k0);
    }
}

static void bimu_ledger_(void *state, xb_energy *out) { *out = ((const bimu_tr *)state)->E; }
static const char *bimu_device(void *state) { return ((bimu_tr *)state)->stmram ? "stmram-sampler" : "digital"; }

const xb_trainer_type xb_trainer_bimu = {
    .name = "bimu",
    .summary = "BiMU: binary Bayesian metaplastic update, optional active querying (batch 1)",
    .params = bimu_params, .nparams = B_NPARAMS,
    .alloc = bimu_alloc_, .free = bimu_free_, .step = bimu_step_, .predict = bimu_predict_,
    .ledger = bimu_ledger_, .device_name = bimu_device,
};

xb_bimu *xb_trainer_bimu_model(void *state);
xb_bimu *xb_trainer_bimu_model(void *state) { return ((bimu_tr *)state)->b; }
