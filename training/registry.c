/* training/registry.c: the list of learning rules and the [net]/[train] schemas. */
#include <stdio.h>
#include <string.h>

#include "core/xb_config.h"
#include "training/xb_trainer.h"

extern const xb_trainer_type xb_trainer_sgd_digital, xb_trainer_sgd_analog;
extern const xb_trainer_type xb_trainer_eqprop, xb_trainer_eqprop_dev;
extern const xb_trainer_type xb_trainer_mesu, xb_trainer_bimu;
extern const xb_trainer_type xb_trainer_meta_bnn;

const xb_trainer_type *const xb_trainer_types[] = {
    &xb_trainer_sgd_digital,
    &xb_trainer_sgd_analog,
    &xb_trainer_eqprop,
    &xb_trainer_eqprop_dev,
    &xb_trainer_mesu,
    &xb_trainer_bimu,
    &xb_trainer_meta_bnn,
    NULL,
};

const xb_trainer_type *xb_trainer_find(const char *name)
{
    for (size_t i = 0; xb_trainer_types[i]; i++)
        if (!strcmp(xb_trainer_types[i]->name, name)) return xb_trainer_types[i];
    return NULL;
}

static const xb_param_spec train_params[XB_TRAIN_NPARAMS] = {
    [XB_TRAIN_ALGORITHM] = { "algorithm", 0, "", 0, 0, "learning rule: sgd_digital, sgd_analog, eqprop, eqprop_dev, mesu, bimu, meta_bnn",
                             XB_P_STR, "sgd_digital", NULL },
    [XB_TRAIN_EPOCHS] = { "epochs", 1, "", 1, 100000, "passes over each task's training set",
                          XB_P_INT, NULL, NULL },
    [XB_TRAIN_LR] = { "lr", 0.01, "", 0, 100, "learning rate eta", 0, NULL, "[GV16] (ALGORITHMS.md 1)" },
    [XB_TRAIN_TASK_EPOCHS] = { "task_epochs", 0, "", 0, 0,
                               "epochs per task, comma-separated (e.g. 40, 5: W2's schedule); "
                               "the last value repeats; empty: `epochs` for every task",
                               XB_P_STR, "", "../shared/ref/RESULTS.md W2" },
    [XB_TRAIN_BATCH] = { "batch", 1, "samples", 1, 100000, "samples per update (analog SGD: 1)",
                         XB_P_INT, NULL, "[GV16]" },
};
const xb_section xb_section_train = { "train", "learning rule and its schedule", train_params,
                                      XB_TRAIN_NPARAMS };

static const xb_param_spec net_params[XB_NETP_NPARAMS] = {
    [XB_NETP_LAYERS] = { "layers", 0, "", 0, 0, "layer sizes, inputs first (bias is extra)",
                         XB_P_STR, "784-256-128-10", "[GV16]" },
    [XB_NETP_ACT] = { "activation", 0, "", 0, 0, "hidden activation (output: softmax)", XB_P_ENUM,
                      "sigmoid|relu|hsigmoid|sign", NULL },
    [XB_NETP_INIT] = { "init", 0, "", 0, 0, "uniform_fanin: U(+-1/sqrt(in+1)); xavier: "
                       "U(+-sqrt(6/(in+out)))", XB_P_ENUM, "uniform_fanin|xavier",
                       "../shared/ref/analog_sgd.py" },
};
const xb_section xb_section_net = { "net", "network shape", net_params, XB_NETP_NPARAMS };

static char *where(const struct xb_config *c, const char *sec, const char *key, char *buf, size_t n)
{
    const xb_cfg_entry *e = xb_config_find(c, sec, key);
    buf[0] = '\0';
    if (e) xb_config_where(e, buf, n);
    return buf;
}

xb_status xb_trainer_config(const xb_config *c, xb_net_spec *net, const xb_trainer_type **T,
                            double *train, double *own, xb_err *err)
{
    char w[300];
    double np[XB_NETP_NPARAMS];
    const xb_param_spec *nt[1] = { net_params };
    const size_t nn[1] = { XB_NETP_NPARAMS };
    xb_status st = xb_config_check_keys(c, "net", nt, nn, 1, NULL, err);
    if (!st) st = xb_config_params(c, "net", net_params, XB_NETP_NPARAMS, np, err);
    if (st) return st;
    const char *layers = xb_config_str(c, "net", "layers", net_params[XB_NETP_LAYERS].choices);
    if (xb_net_parse_layers(layers, net, err))
        return xb_err_prefix(err, "%s[net] ", where(c, "net", "layers", w, sizeof w));
    net->act = (xb_act)(int)np[XB_NETP_ACT];
    net->init = (xb_init)(int)np[XB_NETP_INIT];

    const char *alg = xb_config_str(c, "train", "algorithm", train_params[0].choices);
    *T = xb_trainer_find(alg);
    if (!*T) {
        char names[256] = "";
        for (size_t i = 0; xb_trainer_types[i]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "|" : "",
                     xb_trainer_types[i]->name);
        return xb_fail(err, XB_EINVAL, "%s[train] algorithm = '%s' is not a trainer (one of %s)",
                       where(c, "train", "algorithm", w, sizeof w), alg, names);
    }
    const xb_param_spec *tabs[2] = { train_params, (*T)->params };
    const size_t ns[2] = { XB_TRAIN_NPARAMS, (*T)->nparams };
    st = xb_config_check_keys(c, "train", tabs, ns, (*T)->params ? 2 : 1, NULL, err);
    if (st && err) {              /* a key of another trainer: say which trainer is in use */
        const size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len, " (with [train] algorithm = %s)", (*T)->name);
    }
    if (!st) st = xb_config_params(c, "train", train_params, XB_TRAIN_NPARAMS, train, err);
    if (!st && (*T)->params) st = xb_config_params(c, "train", (*T)->params, (*T)->nparams, own, err);
    return st;
}
