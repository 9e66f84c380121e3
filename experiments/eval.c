/* experiments/eval.c: calibration, OOD AUC and wake-up for a run (xb_eval.h). */
#include "experiments/xb_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "core/xb_rng.h"
#include "crossbar/xb_energy.h"
#include "experiments/xb_run.h"
#include "training/xb_net.h"
#include "training/xb_uncertainty.h"
#include "training/xb_wakeup.h"

enum { EV_EVERY, EV_MC, EV_BINS, EV_OOD, EV_SCORES, EV_WAKEUP, EV_WBACK, EV_WEPOCHS, EV_WLR,
       EV_WEWAKE, EV_WSCORE, EV_WQUANT, EV_NPARAMS };
enum { SC_EPISTEMIC, SC_ENTROPY, SC_ALEATORIC, SC_VR, SC_MAXP, SC_N };
static const char *const score_names[SC_N] = { "epistemic", "entropy", "aleatoric",
                                               "variation_ratio", "max_prob" };
static const char *const ood_names[] = { "permuted", "fmnist", "mnist" };
enum { OOD_PERMUTED, OOD_FMNIST, OOD_MNIST, OOD_N };

static const xb_param_spec eval_params[EV_NPARAMS] = {
    [EV_EVERY] = { "every_tasks", 1, "tasks", 0, 1e6, "uncertainty columns after every k-th task "
                   "and the last (0: after the last only)", XB_P_INT, NULL, NULL },
    [EV_MC] = { "mc_samples", 10, "samples", 1, 1000, "weight samples per input", XB_P_INT, NULL, "ALGORITHMS.md 4" },
    [EV_BINS] = { "ece_bins", 15, "bins", 1, 1000, "equal-width confidence bins of the ECE", XB_P_INT, NULL,
                  "Guo et al. 2017 (15 bins)" },
    [EV_OOD] = { "ood", 0, "", 0, 0, "OOD sets, comma-separated: permuted, fmnist, mnist", XB_P_STR, "", NULL },
    [EV_SCORES] = { "scores", 0, "", 0, 0, "uncertainty scores of the AUC columns: epistemic, entropy, "
                    "aleatoric, variation_ratio, max_prob", XB_P_STR, "epistemic,entropy", NULL },
    [EV_WAKEUP] = { "wakeup", 0, "", 0, 1, "write wakeup.csv (uncertainty-triggered back end)", XB_P_BOOL, NULL,
                    "ALGORITHMS.md 8" },
    [EV_WBACK] = { "wakeup_back", 0, "", 0, 0, "back-end net (digital, ReLU, exact SGD)", XB_P_STR,
                   "784-256-128-10", "xbemu choice" },
    [EV_WEPOCHS] = { "wakeup_back_epochs", 5, "", 1, 1000, "back-end training epochs", XB_P_INT, NULL, "xbemu choice" },
    [EV_WLR] = { "wakeup_back_lr", 0.02, "", 1e-9, 10, "back-end SGD step", 0, NULL, "xbemu choice" },
    [EV_WEWAKE] = { "wakeup_e_wake", 1e-9, "J", 0, 1, "energy of one wake-up (interface, CPU)", 0, NULL,
                    "(unverified)" },
    [EV_WSCORE] = { "wakeup_score", SC_EPISTEMIC, "", 0, 0, "front-end score that wakes the back end",
                    XB_P_ENUM, "epistemic|entropy|aleatoric|variation_ratio|max_prob", NULL },
    [EV_WQUANT] = { "wakeup_quantiles", 0, "", 0, 0, "quantiles of the score used as thresholds (1 = never wake)",
                    XB_P_STR, "0,0.5,0.7,0.8,0.85,0.9,0.95,0.98,0.99,1", NULL },
};
const xb_section xb_section_eval = { "eval", "uncertainty: ECE, OOD ROC-AUC, wake-up", eval_params,
                                     EV_NPARAMS };

struct xb_eval {
    double p[EV_NPARAMS];
    const xb_trainer_type *T;
    xb_net_spec net;
    uint32_t seed;
    int ood[OOD_N], score[SC_N];
    xb_dataset *ods[OOD_N];              /* fmnist / mnist test splits (owned) */
    uint32_t operm[1024];                /* the extra permutation of `permuted` */
    double quant[64];
    size_t nquant;
    xb_energy_units u;
    char cols[1024], empty[64];
    char back[128];
};

void xb_eval_free(xb_eval *ev)
{
    if (!ev) return;
    for (int k = 0; k < OOD_N; k++) xb_dataset_free(ev->ods[k]);
    xb_free(ev);
}

static const char *where(const xb_config *c, const char *key, char *w, size_t n)
{
    const xb_cfg_entry *e = xb_config_find(c, "eval", key);
    w[0] = '\0';
    if (e) xb_config_where(e, w, n);
    return w;
}

/* Parse a comma list of names into flags. */
static xb_status parse_list(const xb_config *c, const char *key, const char *text,
                            const char *const *names, int nn, int *flag, xb_err *err)
{
    char buf[256], w[300];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
        int k = 0;
        while (k < nn && strcmp(tok, names[k])) k++;
        if (k == nn) {
            char allowed[200] = "";
            for (int j = 0; j < nn; j++) {
                strncat(allowed, names[j], sizeof allowed - strlen(allowed) - 1);
                if (j + 1 < nn) strncat(allowed, ", ", sizeof allowed - strlen(allowed) - 1);
            }
            return xb_fail(err, XB_EINVAL, "%s[eval] %s: '%s' is not one of %s",
                           where(c, key, w, sizeof w), key, tok, allowed);
        }
        flag[k] = 1;
    }
    return XB_OK;
}

xb_status xb_eval_alloc(xb_eval **out, const xb_config *c, const xb_trainer_type *T,
                        const xb_net_spec *net, const char *data_name, uint32_t seed,
                        xb_err *err)
{
    *out = NULL;
    if (!xb_config_has_section(c, "eval")) return XB_OK;
    const xb_param_spec *tab[1] = { eval_params };
    const size_t nt[1] = { EV_NPARAMS };
    xb_eval *ev = xb_calloc(1, sizeof *ev);
    if (!ev) return xb_fail(err, XB_ENOMEM, "[eval]: out of memory");
    xb_status st;
    char w[300];
    if ((st = xb_config_check_keys(c, "eval", tab, nt, 1, NULL, err)) ||
        (st = xb_config_params(c, "eval", eval_params, EV_NPARAMS, ev->p, err)))
        goto fail;
    if (!T->sample_probs) {
        st = xb_fail(err, XB_EINVAL, "[eval] needs Monte-Carlo predictions, which trainer %s "
                     "does not give (use algorithm = mesu)", T->name);
        goto fail;
    }
    ev->T = T; ev->net = *net; ev->seed = seed;
    if ((st = parse_list(c, "ood", xb_config_str(c, "eval", "ood", ""), ood_names, OOD_N, ev->ood, err)) ||
        (st = parse_list(c, "scores", xb_config_str(c, "eval", "scores", "epistemic,entropy"),
                         score_names, SC_N, ev->score, err)))
        goto fail;
    const size_t dim = net->sizes[0];
    if (ev->ood[OOD_PERMUTED]) {
        if (dim > 1024) { st = xb_fail(err, XB_ERANGE, "[eval] ood = permuted: at most 1024 inputs"); goto fail; }
        xb_rng_permutation(seed, XB_RNG_PERM, 999, dim, ev->operm);
    }
    double dp[XB_DATA_NPARAMS];
    if ((st = xb_config_params(c, "data", xb_section_data.params, XB_DATA_NPARAMS, dp, err))) goto fail;
    for (int k = OOD_FMNIST; k < OOD_N; k++) {
        if (!ev->ood[k]) continue;
        if (!strcmp(ood_names[k], data_name)) {
            st = xb_fail(err, XB_EINVAL, "%s[eval] ood = %s: the model is trained on %s, which "
                         "cannot be its own out-of-distribution set", where(c, "ood", w, sizeof w),
                         ood_names[k], data_name);
            goto fail;
        }
        xb_dataset *d = NULL;
        if ((st = xb_dataset_load(ood_names[k], 1, xb_config_str(c, "data", "dir", ""), &d, err))) goto fail;
        const double lim = dp[XB_DATA_TEST_LIMIT];
        if (lim > 0 && (size_t)lim < d->n) {
            xb_dataset *s = NULL;
            st = xb_dataset_subset(d, (size_t)lim, seed, &s, err);
            xb_dataset_free(d);
            if (st) goto fail;
            d = s;
        }
        ev->ods[k] = d;
        if (d->dim != dim) {
            st = xb_fail(err, XB_EINVAL, "[eval] ood = %s has %zu inputs, the net %zu", ood_names[k], d->dim, dim);
            goto fail;
        }
    }
    /* wake-up */
    snprintf(ev->back, sizeof ev->back, "%s", xb_config_str(c, "eval", "wakeup_back", "784-256-128-10"));
    if (ev->p[EV_WAKEUP] != 0) {
        xb_net_spec bs;
        if ((st = xb_net_parse_layers(ev->back, &bs, err))) goto fail;
        if (bs.sizes[0] != dim || bs.sizes[bs.nlayers] != net->sizes[net->nlayers]) {
            st = xb_fail(err, XB_EINVAL, "%s[eval] wakeup_back = %s must run from %zu inputs to %zu "
                         "classes like [net]", where(c, "wakeup_back", w, sizeof w), ev->back, dim,
                         net->sizes[net->nlayers]);
            goto fail;
        }
        char q[512];
        snprintf(q, sizeof q, "%s", xb_config_str(c, "eval", "wakeup_quantiles", eval_params[EV_WQUANT].choices));
        for (char *tok = strtok(q, ", "); tok; tok = strtok(NULL, ", ")) {
            char *end;
            const double v = strtod(tok, &end);
            if (*end || !(v >= 0 && v <= 1) || ev->nquant >= 64) {
                st = xb_fail(err, XB_EINVAL, "%s[eval] wakeup_quantiles: '%s' is not a number in [0, 1] "
                             "(at most 64 of them)", where(c, "wakeup_quantiles", w, sizeof w), tok);
                goto fail;
            }
            ev->quant[ev->nquant++] = v;
        }
    }
    double ep[XB_EN_NPARAMS];
    if ((st = xb_energy_params(c, ep, err))) goto fail;
    xb_energy_units_init(&ev->u, ep);
    /* columns */
    size_t n = 0, nc = 1;
    n += (size_t)snprintf(ev->cols + n, sizeof ev->cols - n, ",ece");
    for (int k = 0; k < OOD_N; k++)
        for (int s = 0; s < SC_N; s++)
            if (ev->ood[k] && ev->score[s] && n < sizeof ev->cols) {
                n += (size_t)snprintf(ev->cols + n, sizeof ev->cols - n, ",auc_%s_%s", ood_names[k], score_names[s]);
                nc++;
            }
    for (size_t k = 0; k < nc && k + 1 < sizeof ev->empty; k++) ev->empty[k] = ',';
    *out = ev;
    return XB_OK;
fail:
    xb_eval_free(ev);
    return st;
}

const char *xb_eval_columns(const xb_eval *ev) { return ev->cols; }
const char *xb_eval_empty(const xb_eval *ev) { return ev->empty; }

int xb_eval_due(const xb_eval *ev, size_t task, size_t ntasks)
{
    const size_t k = (size_t)ev->p[EV_EVERY];
    return task + 1 == ntasks || (k > 0 && (task + 1) % k == 0);
}

static double score_of(const xb_uncertainty *u, int s)
{
    switch (s) {
    case SC_EPISTEMIC: return u->epistemic;
    case SC_ENTROPY: return u->total;
    case SC_ALEATORIC: return u->aleatoric;
    case SC_VR: return u->variation_ratio;
    default: return 1.0 - u->max_prob;
    }
}

/* Uncertainties of the n inputs of a task-like source; x filled chunk by chunk. */
typedef struct src { const xb_task *t; const uint32_t *extra; } src;

static xb_status scores(xb_eval *ev, const xb_trainer *tr, src s, size_t n,
                        xb_uncertainty *u, unsigned *labels, xb_err *err)
{
    enum { CH = 250 };
    const size_t dim = ev->net.sizes[0], K = ev->net.sizes[ev->net.nlayers];
    const unsigned S = (unsigned)ev->p[EV_MC];
    float *x = xb_malloc(CH * dim * sizeof *x), *tmp = xb_malloc(dim * sizeof *tmp);
    float *p = xb_malloc((size_t)CH * S * K * sizeof *p);
    if (!x || !tmp || !p) {
        xb_free(x); xb_free(tmp); xb_free(p);
        return xb_fail(err, XB_ENOMEM, "[eval]: out of memory");
    }
    for (size_t i0 = 0; i0 < n; i0 += CH) {
        const size_t b = n - i0 < CH ? n - i0 : CH;
        for (size_t i = 0; i < b; i++) {
            unsigned y;
            xb_task_sample(s.t, 1, i0 + i, x + i * dim, &y);
            if (labels) labels[i0 + i] = y;
            if (s.extra) {
                memcpy(tmp, x + i * dim, dim * sizeof *tmp);
                for (size_t j = 0; j < dim; j++) x[i * dim + j] = tmp[s.extra[j]];
            }
        }
        tr->type->sample_probs(tr->state, x, b, S, p);
        for (size_t i = 0; i < b; i++) xb_uncertainty_from_samples(p + i * S * K, S, K, &u[i0 + i]);
    }
    xb_free(x); xb_free(tmp); xb_free(p);
    return XB_OK;
}

xb_status xb_eval_task(xb_eval *ev, const xb_trainer *tr, const xb_task *t, char *cells,
                       size_t len, xb_err *err)
{
    const size_t n = t->test->n;
    size_t nmax = n;
    for (int k = 0; k < OOD_N; k++) if (ev->ods[k] && ev->ods[k]->n > nmax) nmax = ev->ods[k]->n;
    xb_uncertainty *ui = xb_malloc(n * sizeof *ui), *uo = xb_malloc(nmax * sizeof *uo);
    unsigned *lab = xb_malloc(n * sizeof *lab);
    double *conf = xb_malloc(n * sizeof *conf), *si = xb_malloc(n * sizeof *si);
    double *so = xb_malloc(nmax * sizeof *so);
    unsigned char *ok = xb_malloc(n);
    xb_status st = XB_OK;
    if (!ui || !uo || !lab || !conf || !si || !so || !ok) {
        st = xb_fail(err, XB_ENOMEM, "[eval]: out of memory");
        goto out;
    }
    if ((st = scores(ev, tr, (src){ t, NULL }, n, ui, lab, err))) goto out;
    for (size_t i = 0; i < n; i++) { conf[i] = ui[i].max_prob; ok[i] = ui[i].pred == lab[i]; }
    size_t w = (size_t)snprintf(cells, len, ",%.6f", xb_ece(conf, ok, n, (size_t)ev->p[EV_BINS]));
    for (int k = 0; k < OOD_N; k++) {
        if (!ev->ood[k]) continue;
        size_t no = n;
        if (k == OOD_PERMUTED) st = scores(ev, tr, (src){ t, ev->operm }, n, uo, NULL, err);
        else {
            const xb_task ot = { .train = ev->ods[k], .test = ev->ods[k], .perm = t->perm };
            no = ev->ods[k]->n;
            st = scores(ev, tr, (src){ &ot, NULL }, no, uo, NULL, err);
        }
        if (st) goto out;
        for (int s = 0; s < SC_N; s++) {
            if (!ev->score[s]) continue;
            for (size_t i = 0; i < n; i++) si[i] = score_of(&ui[i], s);
            for (size_t i = 0; i < no; i++) so[i] = score_of(&uo[i], s);
            if (w < len) w += (size_t)snprintf(cells + w, len - w, ",%.6f", xb_roc_auc(so, no, si, n));
        }
    }
out:
    xb_free(ui); xb_free(uo); xb_free(lab); xb_free(conf); xb_free(si); xb_free(so); xb_free(ok);
    return st;
}

static int cmpd(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double net_macs(const xb_net_spec *s)
{
    double m = 0;
    for (size_t l = 0; l < s->nlayers; l++) m += (double)s->sizes[l + 1] * (s->sizes[l] + 1);
    return m;
}

xb_status xb_eval_wakeup(xb_eval *ev, const xb_trainer *tr, const xb_task *t, const char *dir,
                         xb_err *err)
{
    if (ev->p[EV_WAKEUP] == 0) return XB_OK;
    const size_t n = t->test->n, ntr = t->train->n, dim = ev->net.sizes[0];
    xb_net_spec bs;
    xb_net *net = NULL;
    xb_status st = xb_net_parse_layers(ev->back, &bs, err);
    if (st) return st;
    bs.act = XB_ACT_RELU;
    bs.init = XB_INIT_UNIFORM_FANIN;
    xb_uncertainty *u = xb_malloc(n * sizeof *u);
    unsigned *lab = xb_malloc(n * sizeof *lab), *pred = xb_malloc(n * sizeof *pred), y;
    uint32_t *order = xb_malloc((ntr ? ntr : 1) * sizeof *order);
    double *score = xb_malloc(n * sizeof *score), *sorted = xb_malloc(n * sizeof *sorted);
    unsigned char *fok = xb_malloc(n), *bok = xb_malloc(n);
    float *x = xb_malloc(n * dim * sizeof *x), *xi = xb_malloc(dim * sizeof *xi);
    char *csv = xb_malloc(64 * 256);
    if (!u || !lab || !pred || !order || !score || !sorted || !fok || !bok || !x || !xi || !csv) {
        st = xb_fail(err, XB_ENOMEM, "[eval] wakeup: out of memory");
        goto out;
    }
    if ((st = scores(ev, tr, (src){ t, NULL }, n, u, lab, err))) goto out;
    const int sc = (int)ev->p[EV_WSCORE];
    for (size_t i = 0; i < n; i++) {
        score[i] = sorted[i] = score_of(&u[i], sc);
        fok[i] = u[i].pred == lab[i];
    }
    /* the back end: exact SGD on the same task */
    if ((st = xb_net_alloc(&net, &bs, ev->seed, err))) goto out;
    for (size_t ep = 0; ep < (size_t)ev->p[EV_WEPOCHS]; ep++) {
        xb_rng_permutation(ev->seed, XB_RNG_SHUFFLE, (uint32_t)(900000 + ep), ntr, order);
        for (size_t i = 0; i < ntr; i++) {
            xb_task_sample(t, 0, order[i], xi, &y);
            xb_net_forward(net, xi, 1);
            xb_net_backward(net, y);
            xb_net_sgd_update(net, (float)ev->p[EV_WLR]);
        }
    }
    for (size_t i = 0; i < n; i++) xb_task_sample(t, 1, i, x + i * dim, &y);
    xb_net_predict(net, x, n, pred);
    for (size_t i = 0; i < n; i++) bok[i] = pred[i] == lab[i];
    const xb_energy_units *U = &ev->u;
    const double mac = U->op[XB_E_FP32_MULT] + U->op[XB_E_FP32_ADD];
    const double wf = net_macs(&ev->net), wb = net_macs(&bs);
    const double e_front = ev->p[EV_MC] * (wf * mac + 32 * wf * U->op[XB_E_RNG]);
    const double e_back = wb * mac + wb / 2 * U->op[XB_E_SRAM1M], e_wake = ev->p[EV_WEWAKE];
    const double a_front = xb_wakeup_eval(score, fok, bok, NULL, n, INFINITY, 0, 0, 0).accuracy;
    const double a_back = xb_wakeup_eval(score, fok, bok, NULL, n, -INFINITY, 0, 0, 0).accuracy;
    qsort(sorted, n, sizeof *sorted, cmpd);
    size_t k = (size_t)snprintf(csv, 256, "tau_quantile,tau,f_wake,accuracy,energy_J,front_accuracy,"
                                "back_accuracy,e_front_J,e_back_J,e_wake_J\n");
    for (size_t q = 0; q < ev->nquant; q++) {
        const double tau = ev->quant[q] >= 1.0 || !n ? INFINITY : sorted[(size_t)(ev->quant[q] * (double)(n - 1))];
        const xb_wakeup_point pt = xb_wakeup_eval(score, fok, bok, NULL, n, tau, e_front, e_wake, e_back);
        k += (size_t)snprintf(csv + k, 256, "%.4g,%.9g,%.6f,%.6f,%.6g,%.6f,%.6f,%.6g,%.6g,%.6g\n",
                              ev->quant[q], tau, pt.f_wake, pt.accuracy, pt.energy, a_front, a_back,
                              e_front, e_back, e_wake);
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/wakeup.csv", dir);
    st = xb_write_atomic(path, csv, k, err);
out:
    xb_net_free(net);
    xb_free(u); xb_free(lab); xb_free(pred); xb_free(order); xb_free(score); xb_free(sorted);
    xb_free(fok); xb_free(bok); xb_free(x); xb_free(xi); xb_free(csv);
    return st;
}
