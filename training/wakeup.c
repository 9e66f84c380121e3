#include "training/xb_wakeup.h"

xb_wakeup_point xb_wakeup_eval(const double *score, const unsigned char *front_ok,
                               const unsigned char *back_ok, const unsigned char *abnormal,
                               size_t n, double tau, double e_front, double e_wake,
                               double e_back)
{
    size_t woken = 0, right = 0;
    for (size_t i = 0; i < n; i++) {
        const int wake = (abnormal && abnormal[i]) || score[i] >= tau || score[i] != score[i];
        woken += (size_t)wake;
        right += wake ? back_ok[i] != 0 : front_ok[i] != 0;
    }
    const double f = n ? (double)woken / (double)n : 0.0;
    const xb_wakeup_point p = { tau, f, n ? (double)right / (double)n : 0.0,
                                e_front + f * (e_wake + e_back) };
    return p;
}
