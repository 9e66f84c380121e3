/* experiments/xb_eval.h: the [eval] section of a run: calibration (ECE) and
 * out-of-distribution ROC-AUC columns in results.csv, and the uncertainty wake-up
 * table wakeup.csv, for trainers with Monte-Carlo predictions (sample_probs: mesu).
 *
 * Columns (appended to results.csv when [eval] is present): ece, then
 * auc_<set>_<score> for every OOD set and score. They are filled on the rows of the
 * final epoch of every every_tasks-th task and of the last task (empty elsewhere):
 * for eval task e, mc_samples weight samples of the model score
 *   - its own test set (in-distribution; ece from the mean probabilities, ece_bins
 *     equal-width confidence bins);
 *   - each OOD set seen through task e's input transform: `permuted` = task e's test
 *     inputs with a further fixed pixel permutation (stream PERM 999), `fmnist` /
 *     `mnist` = that data set's test split (same test_limit) with task e's permutation.
 * AUC = P(score_OOD > score_in) (xb_roc_auc); scores: epistemic (mutual information),
 * entropy (total predictive entropy), aleatoric, variation_ratio, max_prob
 * (1 - max mean probability, so that higher = more uncertain).
 *
 * Wake-up (wakeup = 1; ALGORITHMS.md 8): after the last task, a digital back-end net
 * (wakeup_back layers, exact SGD at wakeup_back_lr for wakeup_back_epochs on the last
 * task's training set, seed stream of the run) and the trained model as front end
 * classify the last task's test set; the threshold tau runs through the quantiles of
 * the front end's wakeup_score; each row of wakeup.csv is one xb_wakeup_eval point.
 * Energies per inference from the [energy] units: front = mc_samples x (MACs x (fp32
 * mult + add) + 32 random bits per parameter), back = MACs x (mult + add) + one 1 MB
 * SRAM access per two weights, wake = wakeup_e_wake. */
#ifndef XB_EVAL_H
#define XB_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_dataset.h"
#include "core/xb_err.h"
#include "core/xb_param.h"
#include "training/xb_trainer.h"

struct xb_config;

extern const xb_section xb_section_eval;

typedef struct xb_eval xb_eval;

/* NULL in *out (and XB_OK) when the config has no [eval] section. The OOD data sets
 * are loaded here (dir and test_limit as [data]); the net's input size must match. */
xb_status xb_eval_alloc(xb_eval **out, const struct xb_config *c, const xb_trainer_type *T,
                        const xb_net_spec *net, const char *data_name, uint32_t seed,
                        xb_err *err);
void xb_eval_free(xb_eval *ev);                     /* NULL is fine */

/* ",ece,auc_permuted_epistemic,..." (header cells, each with its leading comma). */
const char *xb_eval_columns(const xb_eval *ev);
/* As many empty cells (",,,"). */
const char *xb_eval_empty(const xb_eval *ev);
/* Are the columns due after task `task` (0-based) of ntasks? */
int xb_eval_due(const xb_eval *ev, size_t task, size_t ntasks);
/* The cells of eval task t (",0.0213,0.9712,..."), into cells. */
xb_status xb_eval_task(xb_eval *ev, const xb_trainer *tr, const xb_task *t, char *cells,
                       size_t len, xb_err *err);
/* wakeup.csv into dir, if wakeup = 1 (else nothing). */
xb_status xb_eval_wakeup(xb_eval *ev, const xb_trainer *tr, const xb_task *t, const char *dir,
                         xb_err *err);

#endif
