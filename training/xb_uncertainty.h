/* training/xb_uncertainty.h: what Monte-Carlo predictions say about their own
 * uncertainty, and how well a score separates two populations (ROC-AUC).
 *
 * Input everywhere: S probability vectors of K classes, p[s*K + k], each summing to 1
 * (softmax outputs of S weight samples for one input). Natural logs. */
#ifndef XB_UNCERTAINTY_H
#define XB_UNCERTAINTY_H

#include <stddef.h>

typedef struct xb_uncertainty {
    unsigned pred;          /* argmax of the mean probability */
    double total;           /* predictive entropy H[mean_s p_s] */
    double aleatoric;       /* expected entropy mean_s H[p_s] */
    double epistemic;       /* mutual information = total - aleatoric (>= 0) */
    double variation_ratio; /* 1 - #{s : argmax p_s = pred} / S */
    double max_prob;        /* max_k mean_s p_s[k] */
} xb_uncertainty;

void xb_uncertainty_from_samples(const float *p, size_t S, size_t K, xb_uncertainty *u);

/* Area under the ROC curve of a score that should be higher for positives (e.g. OOD
 * inputs): the Mann-Whitney statistic P(score_pos > score_neg) + P(tie)/2, computed
 * exactly by sorting (ties get average ranks). Returns NaN if a side is empty. */
double xb_roc_auc(const double *pos, size_t npos, const double *neg, size_t nneg);

/* Expected calibration error (Guo et al. 2017): the n predictions' confidences conf[i]
 * (e.g. max_prob) fall into nbins equal-width bins of [0, 1] (bin b holds
 * [b/nbins, (b+1)/nbins), 1 in the last); ECE = sum_b (n_b / n) |acc_b - conf_b| with
 * acc_b the fraction correct[i] != 0 and conf_b the mean confidence in bin b. NaN if
 * n = 0 or nbins = 0. */
double xb_ece(const double *conf, const unsigned char *correct, size_t n, size_t nbins);

#endif
