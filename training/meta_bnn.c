/* training/meta_bnn.c: the `meta_bnn` trainer: a binarized MLP with Adam-meta
 * (ALGORITHMS.md 3) on training/xb_meta_bnn.h. One call of step = one Adam step on
 * that batch. [net] layers gives the shape ([net] activation/init are ignored: the
 * net is sign/BatchNorm with U(+-init_width/2) hidden weights by construction).
 *
 * Binary weights: digital (weight_device = none) or ST-MRAM bits in direct mode
 * (weight_device = stmram: ber_write/ber_read, e_write per write, DEVICES.md 5 and 9).
 * Writes happen only on flips of sign(W_h). ber_mode = physical takes the rates and the
 * energy from the `stmram` model instead (DEVICES.md 5, 9) with the [bits] keys: write
 * error rate = WER(i_write, t_write) = 1 - P_sw of the nominal device, read BER = its
 * read disturb + sense error, and one write = I^2 R t with R midway between R_P and
 * R_AP (a weight's flips alternate P->AP and AP->P, so the mean is exact to one write
 * per weight). No D2D: every bit is the nominal device. hidden = hfox (ALGORITHMS.md 2): each
 * hidden weight is a pair of HfOx weak-RESET devices ([device] keys of `hfox`), Adam's
 * step in pulses (lr = pulses per unit step, [MajCode] uses 100), BatchNorm Adam at
 * bn_lr (0.008 by default in that mode).
 *
 * Energy ledger (crossbar/xb_energy.h items; DEVICES.md 9, [Hor14]): `program` = one
 * device write per flip at e_write (count = flips, also in the `writes` counter); the
 * digital Adam-meta update as fp32 adds and mults (6 + 6 per weight per step, plus one
 * exp where the attenuation applies, booked as 10 MACs for every weight: an upper
 * bound); SRAM traffic of the optimiser (m, v, W_h: 3 words read and 3 written per
 * weight per step = 3 64-bit accesses, 1 MB SRAM). Forward/backward products are not
 * booked here (they belong to the crossbar layer once it carries the binary weights). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_histogram.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "devices/xb_device.h"
#include "devices/xb_stmram.h"
#include "training/xb_meta_bnn.h"
#include "training/xb_trainer.h"

enum { P_META, P_DECAY, P_BETA1, P_BETA2, P_EPS, P_INIT_WIDTH, P_HIDDEN, P_WDEV, P_BER_WRITE,
       P_BER_READ, P_E_WRITE, P_PACKED, P_BN_LR, P_BER_MODE, P_DUMP_HIDDEN, P_NPARAMS };
enum { BER_DIRECT, BER_PHYSICAL };
enum { HIDDEN_DIGITAL, HIDDEN_HFOX };
enum { WDEV_NONE, WDEV_STMRAM };

static const xb_param_spec mb_params[P_NPARAMS] = {
    [P_META] = { "meta", 0, "", 0, 100, "metaplasticity m: f_meta = 1 - tanh^2(m |W_h|) (0: plain BNN Adam)", 0, NULL, "[LEH21] (ALGORITHMS.md 3)" },
    [P_DECAY] = { "decay", 0, "", 0, 1, "weight decay added to the gradient before Adam", 0, NULL, "[LEHCode] README (1e-7)" },
    [P_BETA1] = { "beta1", 0.9, "", 0, 0.999999, "Adam first-moment decay", 0, NULL, "[LEHCode]" },
    [P_BETA2] = { "beta2", 0.999, "", 0, 0.99999999, "Adam second-moment decay", 0, NULL, "[LEHCode]" },
    [P_EPS] = { "eps", 1e-8, "", 1e-30, 1, "Adam epsilon", 0, NULL, "[LEHCode]" },
    [P_INIT_WIDTH] = { "init_width", 0.1, "", 1e-9, 100, "hidden weights start U(+-init_width/2)", 0, NULL, "[LEHCode] main.py" },
    [P_HIDDEN] = { "hidden", 0, "", 0, 0, "where hidden weights live: digital float, or hfox pairs (lr = pulses per unit Adam step; [device] hfox keys apply)", XB_P_ENUM, "digital|hfox", "ALGORITHMS.md 2-3" },
    [P_WDEV] = { "weight_device", 0, "", 0, 0, "binary weights: none (exact bits) or stmram (direct-mode bit errors)", XB_P_ENUM, "none|stmram", "DEVICES.md 5" },
    [P_BER_WRITE] = { "ber_write", 0, "", 0, 0.5, "stmram: probability that a write (a flip) fails", 0, NULL, "[Hirt19]" },
    [P_BER_READ] = { "ber_read", 0, "", 0, 0.5, "stmram: probability that a read returns the wrong bit", 0, NULL, "[Hirt19]" },
    [P_E_WRITE] = { "e_write", 0.5e-12, "J", 0, 1e-9, "energy of one binary-weight write", 0, NULL, "DEVICES.md 9 (MTJ write, unverified)" },
    [P_PACKED] = { "packed", 1, "", 0, 1, "XNOR-popcount for binary x binary products (exact)", XB_P_BOOL, NULL, NULL },
    [P_BN_LR] = { "bn_lr", 0, "", 0, 100, "Adam step of the BatchNorm parameters (0: lr; hfox: 0.008)", 0, NULL, "[MajCode] (ALGORITHMS.md 2)" },
    [P_DUMP_HIDDEN] = { "dump_hidden", 0, "", 0, 1, "write hidden_hist.csv: histogram of |W_h| per layer at the end of each task (bins of 0.02)", XB_P_BOOL, NULL, NULL },
    [P_BER_MODE] = { "ber_mode", 0, "", 0, 0, "stmram bit errors: direct (ber_write, ber_read, e_write) or physical (WER, read BER and I^2 R t from the [bits] keys)", XB_P_ENUM, "direct|physical", "DEVICES.md 5" },
};

/* [bits]: the ST-MRAM cell of each binary weight in ber_mode = physical. Each key is
 * the `stmram` device key of the same name (and default: tested). */
enum { B_I_WRITE, B_T_WRITE, B_I_READ, B_T_READ, B_DELTA, B_IC0, B_TAU0, B_TAU_D, B_R_P, B_TMR,
       B_SENSE_NOISE, B_NPARAMS };
static const xb_param_spec bits_params[B_NPARAMS] = {
    [B_I_WRITE] = { "i_write", 100e-6, "A", 0, 1e-1, "write current", 0, NULL, "xbemu choice (2 I_c0)" },
    [B_T_WRITE] = { "t_write", 10e-9, "s", 1e-12, 1, "write pulse width", 0, NULL, "xbemu choice" },
    [B_I_READ] = { "i_read", 10e-6, "A", 0, 1e-1, "read current (read disturb)", 0, NULL, "(unverified)" },
    [B_T_READ] = { "t_read", 10e-9, "s", 0, 1, "read pulse width", 0, NULL, "DEVICES.md 9" },
    [B_DELTA] = { "delta", 45, "kT", 1, 200, "thermal stability factor", 0, NULL, "(unverified)" },
    [B_IC0] = { "i_c0", 50e-6, "A", 1e-7, 1e-2, "critical switching current", 0, NULL, "(unverified)" },
    [B_TAU0] = { "tau0", 1e-9, "s", 1e-13, 1e-6, "attempt time of thermal switching", 0, NULL, "(unverified)" },
    [B_TAU_D] = { "tau_d", 1e-9, "s", 1e-12, 1e-6, "precessional time scale", 0, NULL, "(unverified)" },
    [B_R_P] = { "r_p", 5e3, "ohm", 1e2, 1e7, "parallel-state resistance", 0, NULL, "[MTJCode]" },
    [B_TMR] = { "tmr", 1.5, "", 0.01, 10, "tunnel magnetoresistance, R_AP = R_P (1 + TMR)", 0, NULL, "[MTJCode] (STT)" },
    [B_SENSE_NOISE] = { "sense_noise", 0.05, "", 0, 10, "sense-amplifier noise, relative to G_P", 0, NULL, "(unverified)" },
};

const xb_section xb_section_bits = { "bits", "ST-MRAM cell of the binary weights (meta_bnn, [train] ber_mode = physical; DEVICES.md 5)",
                                     bits_params, B_NPARAMS };

xb_status xb_mbnn_bits_rates(const struct xb_config *c, xb_mbnn_bits *out, xb_err *err)
{
    const xb_device_type *D = xb_device_find("stmram");
    double b[B_NPARAMS], p[64];
    if (!D || D->nparams > 64)
        return xb_fail(err, XB_EINVAL, "[bits]: no stmram device model in this build");
    const xb_param_spec *tab[1] = { bits_params };
    const size_t ns[1] = { B_NPARAMS };
    xb_status st;
    if (c && ((st = xb_config_check_keys(c, "bits", tab, ns, 1, NULL, err)) ||
              (st = xb_config_params(c, "bits", bits_params, B_NPARAMS, b, err))))
        return st;
    if (!c) xb_param_defaults(bits_params, B_NPARAMS, b);
    xb_param_defaults(D->params, D->nparams, p);
    for (size_t k = 0; k < B_NPARAMS; k++) {
        const ptrdiff_t i = xb_param_index(D->params, D->nparams, bits_params[k].name);
        if (i < 0) return xb_fail(err, XB_EINVAL, "[bits] %s: not a stmram key", bits_params[k].name);
        p[i] = b[k];
    }
    out->i_write = b[B_I_WRITE];
    out->t_write = b[B_T_WRITE];
    out->wer = xb_stmram_wer(p, b[B_I_WRITE], b[B_T_WRITE]);
    out->ber_read = xb_stmram_read_ber(p);
    const double r_mid = b[B_R_P] * (1 + 0.5 * b[B_TMR]);
    out->e_write_J = b[B_I_WRITE] * b[B_I_WRITE] * r_mid * b[B_T_WRITE];
    return XB_OK;
}

typedef struct mb { xb_mbnn *net; double nweights; int wdev, hfox, phys, dump; xb_energy_units u; } mb;

static void mb_free(void *state)
{
    mb *s = state;
    if (!s) return;
    xb_mbnn_free(s->net);
    xb_free(s);
}

/* "file:line: " of a [train] key, or "" */
static const char *where(const xb_trainer_setup *su, const char *key, char *buf, size_t n)
{
    const xb_cfg_entry *e = su->cfg ? xb_config_find(su->cfg, "train", key) : NULL;
    buf[0] = '\0';
    if (e) xb_config_where(e, buf, n);
    return buf;
}

static xb_status mb_alloc(void **out, const xb_trainer_setup *su, xb_err *err)
{
    *out = NULL;
    const double *p = su->own;
    char w[300];
    double dev[64];
    const xb_device_type *D = NULL;
    if ((int)p[P_HIDDEN] == HIDDEN_HFOX) {
        D = xb_device_find("hfox");
        if (!D || D->nparams > 64)
            return xb_fail(err, XB_EINVAL, "%s[train] hidden = hfox: no hfox device model in "
                           "this build (allowed: digital)", where(su, "hidden", w, sizeof w));
        const char *tn = su->cfg ? xb_config_str(su->cfg, "device", "type", "") : "";
        xb_status st;
        if (!strcmp(tn, "hfox")) {
            if ((st = xb_device_params(su->cfg, "device", D, dev, err))) return st;
        } else if (*tn) {
            return xb_fail(err, XB_EINVAL, "%s[train] hidden = hfox needs [device] type = hfox "
                           "(or no [device] section), not '%s'", where(su, "hidden", w, sizeof w), tn);
        } else xb_param_defaults(D->params, D->nparams, dev);
    }
    if (su->net.nlayers > XB_MBNN_MAX_LAYERS)
        return xb_fail(err, XB_ERANGE, "[net] layers: meta_bnn takes at most %d layers",
                       XB_MBNN_MAX_LAYERS);
    if (su->train[XB_TRAIN_BATCH] > XB_NET_CHUNK) {   /* the runner hands over <= CHUNK */
        char wb[300] = "";
        const xb_cfg_entry *e = su->cfg ? xb_config_find(su->cfg, "train", "batch") : NULL;
        if (e) xb_config_where(e, wb, sizeof wb);
        return xb_fail(err, XB_ERANGE, "%s[train] batch = %.0f is outside [1, %d] for meta_bnn "
                       "(one Adam step per call of step)", wb, su->train[XB_TRAIN_BATCH], XB_NET_CHUNK);
    }
    const int wdev = (int)p[P_WDEV];
    const int phys = (int)p[P_BER_MODE] == BER_PHYSICAL;
    xb_mbnn_bits bits = { 0 };
    if (phys && wdev != WDEV_STMRAM)
        return xb_fail(err, XB_EINVAL, "%s[train] ber_mode = physical needs weight_device = stmram "
                       "(allowed with weight_device = none: direct)", where(su, "ber_mode", w, sizeof w));
    if (!phys && su->cfg && xb_config_has_section(su->cfg, "bits")) {
        w[0] = '\0';
        for (size_t k = 0; k < su->cfg->n; k++)
            if (!strcmp(su->cfg->e[k].section, "bits")) { xb_config_where(&su->cfg->e[k], w, sizeof w); break; }
        return xb_fail(err, XB_EINVAL, "%s[bits] is only read with [train] ber_mode = physical "
                       "(here: direct; allowed: physical, or no [bits] section)", w);
    }
    for (int k = P_BER_WRITE; phys && k <= P_E_WRITE; k++)
        if (su->cfg && xb_config_find(su->cfg, "train", mb_params[k].name))
            return xb_fail(err, XB_EINVAL, "%s[train] %s is set by the [bits] keys with ber_mode = "
                           "physical (allowed: leave it out, or ber_mode = direct)",
                           where(su, mb_params[k].name, w, sizeof w), mb_params[k].name);
    if (phys) {
        xb_status st = xb_mbnn_bits_rates(su->cfg, &bits, err);
        if (st) return st;
    }
    for (int k = P_BER_WRITE; wdev == WDEV_NONE && k <= P_BER_READ; k++)
        if (p[k] > 0)
            return xb_fail(err, XB_EINVAL, "%s[train] %s = %g needs weight_device = stmram "
                           "(weight_device = none stores exact bits; allowed with none: 0)",
                           where(su, mb_params[k].name, w, sizeof w), mb_params[k].name, p[k]);
    xb_mbnn_opts o = xb_mbnn_defaults();
    o.nlayers = su->net.nlayers;
    for (size_t l = 0; l <= o.nlayers; l++) o.sizes[l] = su->net.sizes[l];
    o.lr = su->train[XB_TRAIN_LR];
    o.meta = p[P_META]; o.decay = p[P_DECAY]; o.beta1 = p[P_BETA1]; o.beta2 = p[P_BETA2];
    o.eps = p[P_EPS]; o.init_width = p[P_INIT_WIDTH];
    o.ber_write = phys ? bits.wer : p[P_BER_WRITE];
    o.ber_read = phys ? bits.ber_read : p[P_BER_READ];
    o.e_write_J = wdev != WDEV_STMRAM ? 0 : phys ? bits.e_write_J : p[P_E_WRITE];
    o.packed = p[P_PACKED] != 0;
    o.seed = su->seed;
    o.hidden_dev = D; o.hidden_p = dev;
    o.bn_lr = p[P_BN_LR] > 0 ? p[P_BN_LR] : (D ? 0.008 : 0);
    mb *s = xb_calloc(1, sizeof *s);
    if (!s) return xb_fail(err, XB_ENOMEM, "meta_bnn: out of memory");
    s->wdev = wdev;
    s->hfox = D != NULL;
    s->phys = phys;
    s->dump = p[P_DUMP_HIDDEN] != 0;
    xb_energy_units_init(&s->u, NULL);
    for (size_t l = 0; l < o.nlayers; l++) s->nweights += (double)o.sizes[l] * o.sizes[l + 1];
    xb_status st = xb_mbnn_alloc(&s->net, &o, err);
    if (st) { mb_free(s); return st; }
    *out = s;
    return XB_OK;
}

static size_t mb_step(void *state, const float *x, const unsigned *labels, size_t m)
{
    return xb_mbnn_step(((mb *)state)->net, x, labels, m);
}

static void mb_predict(void *state, const float *x, size_t m, unsigned *pred)
{
    xb_mbnn_predict(((mb *)state)->net, x, m, pred);
}

static void mb_predict_task(void *state, size_t task, const float *x, size_t m, unsigned *pred)
{
    xb_mbnn_predict_task(((mb *)state)->net, task, x, m, pred);
}

static void mb_ledger(void *state, xb_energy *out)
{
    const mb *s = state;
    xb_mbnn_stats st;
    xb_mbnn_get_stats(s->net, &st);
    const double wsteps = (double)st.steps * s->nweights;
    xb_energy_reset(out);
    xb_energy_add(out, XB_E_PROGRAM, (double)st.flips_total, st.write_J);  /* one per flip */
    xb_energy_count(out, XB_C_WRITES, (double)st.flips_total);
    xb_energy_add(out, XB_E_PULSE, (double)st.pulses, st.pulse_J);          /* hfox pulses */
    xb_energy_op(out, &s->u, XB_E_FP32_ADD, 16 * wsteps);    /* 6 + the exp as 10 MACs */
    xb_energy_op(out, &s->u, XB_E_FP32_MULT, 16 * wsteps);
    xb_energy_op(out, &s->u, XB_E_SRAM1M, 3 * wsteps);       /* 6 words = 3 64-bit accesses */
}

static void mb_task_begin(void *state, size_t task) { xb_mbnn_task_begin(((mb *)state)->net, task); }

xb_status xb_mbnn_hidden_hist(xb_mbnn *n, size_t task, double width, FILE *f, xb_err *err)
{
    for (size_t l = 0; l < XB_MBNN_MAX_LAYERS; l++) {
        const float *w = xb_mbnn_hidden(n, l);
        if (!w) break;
        const size_t k = xb_mbnn_size(n, l);
        double hi = 0;
        for (size_t i = 0; i < k; i++) hi = fmax(hi, fabs((double)w[i]));
        const size_t nb = (size_t)floor(hi / width) + 1;       /* the last bin holds hi */
        gsl_histogram *h = gsl_histogram_alloc(nb);
        if (!h) return xb_fail(err, XB_ENOMEM, "meta_bnn: out of memory (hidden histogram)");
        gsl_histogram_set_ranges_uniform(h, 0, (double)nb * width);
        size_t lost = 0;
        for (size_t i = 0; i < k; i++) lost += gsl_histogram_increment(h, fabs((double)w[i])) != GSL_SUCCESS;
        if (lost) {                               /* cannot happen: the range holds max |W_h| */
            gsl_histogram_free(h);
            return xb_fail(err, XB_ERANGE, "meta_bnn: %zu weights outside the |W_h| histogram", lost);
        }
        for (size_t b = 0; b < nb; b++) {
            double lo, up;
            gsl_histogram_get_range(h, b, &lo, &up);
            const double c = gsl_histogram_get(h, b);
            if (c > 0) fprintf(f, "%zu,%zu,%.6g,%.6g,%.0f,%.9g\n", task + 1, l + 1, lo, up, c, c / (double)k);
        }
        gsl_histogram_free(h);
    }
    return ferror(f) ? xb_fail(err, XB_EIO, "hidden_hist.csv: write error") : XB_OK;
}

static xb_status mb_task_end(void *state, size_t task, const char *dir, xb_err *err)
{
    mb *s = state;
    if (!s->dump) return XB_OK;
    char path[4200];
    if (snprintf(path, sizeof path, "%s/hidden_hist.csv", dir) >= (int)sizeof path)
        return xb_fail(err, XB_EINVAL, "output directory name too long: %s", dir);
    FILE *f = fopen(path, task == 0 ? "w" : "a");
    if (!f) return xb_fail(err, XB_EIO, "%s: %s", path, strerror(errno));
    if (task == 0) fprintf(f, "task,layer,lo,hi,count,fraction\n");
    xb_status st = xb_mbnn_hidden_hist(s->net, task, 0.02, f, err);
    if (fclose(f) && !st) st = xb_fail(err, XB_EIO, "%s: %s", path, strerror(errno));
    return st;
}

static const char *mb_device(void *state)
{
    const mb *s = state;
    if (s->wdev == WDEV_STMRAM && s->phys) return s->hfox ? "hfox+stmram-physical" : "stmram-physical";
    return s->hfox ? (s->wdev == WDEV_STMRAM ? "hfox+stmram-direct" : "hfox")
                   : (s->wdev == WDEV_STMRAM ? "stmram-direct" : "digital");
}

const xb_trainer_type xb_trainer_meta_bnn = {
    .name = "meta_bnn",
    .summary = "binarized MLP + BatchNorm, Adam with metaplasticity (Laborieux et al. 2021)",
    .params = mb_params, .nparams = P_NPARAMS,
    .alloc = mb_alloc, .free = mb_free, .step = mb_step, .predict = mb_predict,
    .ledger = mb_ledger, .task_begin = mb_task_begin, .device_name = mb_device,
    .predict_task = mb_predict_task, .task_end = mb_task_end,
};
