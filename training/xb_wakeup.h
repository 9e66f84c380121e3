/* training/xb_wakeup.h: uncertainty-triggered wake-up (Ballet et al.; ALGORITHMS.md 8).
 * An always-on Bayesian front end classifies every input; a bigger back-end model is
 * woken when the front end predicts an abnormal class, is uncertain (score >= tau), or
 * gives an invalid output. Over a test set:
 *   f_wake = P(wake),  E_avg = E_front + f_wake (E_wake + E_back),
 *   A_sys  = (1 - f_wake) A_front|not woken + f_wake A_back|woken
 * (both accuracies counted on the same inputs, so A_sys is the fraction of inputs the
 * system gets right). */
#ifndef XB_WAKEUP_H
#define XB_WAKEUP_H

#include <stddef.h>

typedef struct xb_wakeup_point {
    double tau;            /* uncertainty threshold */
    double f_wake;         /* fraction of inputs that woke the back end */
    double accuracy;       /* system accuracy */
    double energy;         /* average energy per input (J) */
} xb_wakeup_point;

/* One operating point. score[i]: front-end uncertainty of input i; front_ok/back_ok:
 * whether each model classifies it correctly; abnormal[i] (may be NULL): forced wake-up. */
xb_wakeup_point xb_wakeup_eval(const double *score, const unsigned char *front_ok,
                               const unsigned char *back_ok, const unsigned char *abnormal,
                               size_t n, double tau, double e_front, double e_wake,
                               double e_back);

#endif
