/* training/xb_trainer.h: a learning rule is one const xb_trainer_type (like a device
 * type): a name, the schema of its own [train] keys, and alloc/step/predict/ledger/free.
 *
 * A trainer owns its net (training/xb_net.h) and, for on-chip rules, the crossbar
 * layers behind it; it never touches device state except through the crossbar API.
 * The runner (experiments/xb_run.h) feeds it samples in a seeded order, asks for
 * predictions to evaluate, and reads its energy ledger into results.csv.
 *
 * Keys of [train]: the common ones below (algorithm, epochs, lr, batch) plus the
 * trainer's own table; both are validated together, so a key of another trainer is an
 * error that names the trainer. Adding a rule = one .c file + one line in
 * training/registry.c. */
#ifndef XB_TRAINER_H
#define XB_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"
#include "core/xb_param.h"
#include "crossbar/xb_energy.h"
#include "training/xb_net.h"

struct xb_config;

/* Common [train] keys. */
enum { XB_TRAIN_ALGORITHM, XB_TRAIN_EPOCHS, XB_TRAIN_LR, XB_TRAIN_BATCH, XB_TRAIN_TASK_EPOCHS,
       XB_TRAIN_NPARAMS };
extern const xb_section xb_section_train;
/* The [net] section. */
enum { XB_NETP_LAYERS, XB_NETP_ACT, XB_NETP_INIT, XB_NETP_NPARAMS };
extern const xb_section xb_section_net;

/* What a trainer is built from. Everything is borrowed for the duration of alloc. */
typedef struct xb_trainer_setup {
    const struct xb_config *cfg;   /* for the sections a trainer reads itself ([device]...) */
    xb_net_spec net;
    const double *train;           /* common [train] values, XB_TRAIN_NPARAMS */
    const double *own;             /* the trainer's own [train] values */
    uint32_t seed;
} xb_trainer_setup;


typedef struct xb_trainer_type {
    const char *name, *summary;
    const xb_param_spec *params;   /* its own [train] keys (may be NULL) */
    size_t nparams;
    int uses_device;               /* 1: reads [device] (and [crossbar]) */
    xb_status (*alloc)(void **state, const xb_trainer_setup *s, xb_err *err);
    void (*free)(void *state);
    /* Train on m samples (x: m x inputs): one step of the rule per `batch` samples.
     * Returns how many the training forward passes classified correctly. */
    size_t (*step)(void *state, const float *x, const unsigned *labels, size_t m);
    /* Predicted classes of m samples (evaluation; books no training energy). */
    void (*predict)(void *state, const float *x, size_t m, unsigned *pred);
    /* The training energy so far (cumulative since alloc; evaluation not included). */
    void (*ledger)(void *state, xb_energy *out);
    /* A new task begins (optimiser resets etc.); may be NULL. */
    void (*task_begin)(void *state, size_t task);
    /* Device and peripheral description for results.csv ("softbounds", "-"); may be NULL. */
    const char *(*device_name)(void *state);
    /* Predicted classes of m samples of task `task` (0-based), with whatever state the
     * rule keeps per task (e.g. BatchNorm, ALGORITHMS.md 3 "task" scenario); NULL: the
     * runner uses predict. */
    void (*predict_task)(void *state, size_t task, const float *x, size_t m, unsigned *pred);
    /* Bayesian rules: class probabilities of S weight samples for m inputs,
     * probs[(i * S + s) * K + k] (the [eval] section's ECE and OOD AUC); may be NULL. */
    void (*sample_probs)(void *state, const float *x, size_t m, unsigned S, float *probs);
    /* Extra "key": value pairs for run.json (a JSON object's body, no braces); may be NULL. */
    void (*report)(void *state, char *buf, size_t len);
    /* Task `task` (0-based) has finished its epochs (not called after an interrupt);
     * dir is the run's output directory, for per-task dumps. May be NULL. */
    xb_status (*task_end)(void *state, size_t task, const char *dir, xb_err *err);
} xb_trainer_type;

extern const xb_trainer_type *const xb_trainer_types[];      /* NULL-terminated */
const xb_trainer_type *xb_trainer_find(const char *name);

/* Read [net] and [train] of a config: the net spec, the trainer type and both
 * tables of [train] values (own must hold 64 doubles). Errors name file:line. */
xb_status xb_trainer_config(const struct xb_config *c, xb_net_spec *net,
                            const xb_trainer_type **T, double *train, double *own, xb_err *err);

/* A trainer instance: the type and its state, for the runner. */
typedef struct xb_trainer { const xb_trainer_type *type; void *state; } xb_trainer;

#endif
