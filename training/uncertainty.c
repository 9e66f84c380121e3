#include "training/xb_uncertainty.h"

#include <math.h>
#include <stdlib.h>

#include "core/xb_mem.h"

static double entropy(const double *q, size_t K)
{
    double h = 0;
    for (size_t k = 0; k < K; k++)
        if (q[k] > 0) h -= q[k] * log(q[k]);
    return h;
}

void xb_uncertainty_from_samples(const float *p, size_t S, size_t K, xb_uncertainty *u)
{
    double mean[256] = {0}, q[256];
    if (K > 256) K = 256;
    double ale = 0;
    for (size_t s = 0; s < S; s++) {
        for (size_t k = 0; k < K; k++) { q[k] = p[s * K + k]; mean[k] += q[k] / (double)S; }
        ale += entropy(q, K) / (double)S;
    }
    size_t best = 0;
    for (size_t k = 1; k < K; k++) if (mean[k] > mean[best]) best = k;
    size_t agree = 0;
    for (size_t s = 0; s < S; s++) {
        size_t b = 0;
        for (size_t k = 1; k < K; k++) if (p[s * K + k] > p[s * K + b]) b = k;
        agree += b == best;
    }
    u->pred = (unsigned)best;
    u->total = entropy(mean, K);
    u->aleatoric = ale;
    u->epistemic = fmax(u->total - ale, 0.0);
    u->variation_ratio = S ? 1.0 - (double)agree / (double)S : 0.0;
    u->max_prob = mean[best];
}

typedef struct { double v; int pos; } scored;

static int cmp_scored(const void *a, const void *b)
{
    const double x = ((const scored *)a)->v, y = ((const scored *)b)->v;
    return (x > y) - (x < y);
}

double xb_roc_auc(const double *pos, size_t npos, const double *neg, size_t nneg)
{
    if (!npos || !nneg) return NAN;
    const size_t n = npos + nneg;
    scored *all = xb_malloc(n * sizeof *all);
    if (!all) return NAN;
    for (size_t i = 0; i < npos; i++) all[i] = (scored){ pos[i], 1 };
    for (size_t i = 0; i < nneg; i++) all[npos + i] = (scored){ neg[i], 0 };
    qsort(all, n, sizeof *all, cmp_scored);
    double rank_sum = 0;                  /* sum of the positives' (average) ranks, 1-based */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && all[j].v == all[i].v) j++;
        const double avg = 0.5 * (double)(i + 1 + j);      /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++) if (all[k].pos) rank_sum += avg;
        i = j;
    }
    xb_free(all);
    const double u = rank_sum - 0.5 * (double)npos * (double)(npos + 1);
    return u / ((double)npos * (double)nneg);
}

double xb_ece(const double *conf, const unsigned char *correct, size_t n, size_t nbins)
{
    if (!n || !nbins) return NAN;
    double *acc = xb_calloc(nbins, sizeof *acc), *cs = xb_calloc(nbins, sizeof *cs);
    size_t *cnt = xb_calloc(nbins, sizeof *cnt);
    double e = NAN;
    if (acc && cs && cnt) {
        for (size_t i = 0; i < n; i++) {
            const double c = conf[i] < 0 ? 0 : conf[i] > 1 ? 1 : conf[i];
            size_t b = (size_t)(c * (double)nbins);
            if (b >= nbins) b = nbins - 1;
            cnt[b]++;
            cs[b] += conf[i];
            acc[b] += correct[i] != 0;
        }
        e = 0;
        for (size_t b = 0; b < nbins; b++)
            if (cnt[b]) e += fabs(acc[b] - cs[b]) / (double)n;   /* (n_b/n) |acc_b - conf_b| */
    }
    xb_free(acc); xb_free(cs); xb_free(cnt);
    return e;
}
