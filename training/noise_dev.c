/* training/noise_dev.c: epsilon through a device model's read noise (xb_noise_dev.h). */
#include "training/xb_noise_dev.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "core/xb_mem.h"
#include "core/xb_rng.h"

struct xb_noise_dev {
    const xb_device_type *T;
    double *p;
    size_t nrows, n[XB_NOISE_MAX_ROWS];
    float *block[XB_NOISE_MAX_ROWS];         /* nfields x n SoA state of row r */
    xb_row row[XB_NOISE_MAX_ROWS];
    float *mean[XB_NOISE_MAX_ROWS], *inv_sd[XB_NOISE_MAX_ROWS];   /* inv_sd 0: silent */
    float *g;                                /* one read of the widest row */
    uint32_t seed;
    unsigned calib;
    double settle, silent, devices;
    double v_read2_t;                        /* V_read^2 t_read of the [energy] units */
    double s1, s2, s3, s4, cnt;              /* running sums of eps^k */
    float *ks;                               /* first XB_NOISE_KS_N draws */
    size_t nks;
    xb_energy E;
};

void xb_noise_dev_free(xb_noise_dev *s)
{
    if (!s) return;
    for (size_t r = 0; r < XB_NOISE_MAX_ROWS; r++) {
        xb_free(s->block[r]); xb_free(s->mean[r]); xb_free(s->inv_sd[r]);
    }
    xb_free(s->p); xb_free(s->g); xb_free(s->ks);
    xb_free(s);
}

xb_status xb_noise_dev_alloc(xb_noise_dev **out, const xb_device_type *T, const double *p,
                             const size_t *n, size_t nrows, unsigned calib_reads,
                             double settle_s, uint32_t seed, const xb_energy_units *units,
                             xb_err *err)
{
    *out = NULL;
    if (!(T->flags & XB_DEV_READ_NOISE))
        return xb_fail(err, XB_EINVAL, "noise device %s has no read noise (choose one with "
                       "read noise: pcm, stmram)", T->name);
    if (nrows < 1 || nrows > XB_NOISE_MAX_ROWS || T->nfields > XB_MAX_FIELDS)
        return xb_fail(err, XB_EINVAL, "noise device: %zu rows (1 to %d)", nrows, XB_NOISE_MAX_ROWS);
    if (calib_reads < 2)
        return xb_fail(err, XB_EINVAL, "noise device: %u calibration reads (at least 2)", calib_reads);
    xb_noise_dev *s = xb_calloc(1, sizeof *s);
    size_t widest = 0;
    int ok = s && (s->p = xb_calloc(T->nparams ? T->nparams : 1, sizeof *p)) &&
             (s->ks = xb_malloc(XB_NOISE_KS_N * sizeof(float)));
    for (size_t r = 0; r < nrows && ok; r++) {
        const size_t m = n[r] ? n[r] : 1;
        if (m > widest) widest = m;
        ok = (s->block[r] = xb_calloc(T->nfields * m, sizeof(float))) &&
             (s->mean[r] = xb_calloc(m, sizeof(float))) && (s->inv_sd[r] = xb_calloc(m, sizeof(float)));
    }
    if (ok) ok = (s->g = xb_malloc(widest * sizeof(float))) != NULL;
    if (!ok) {
        xb_noise_dev_free(s);
        return xb_fail(err, XB_ENOMEM, "noise device %s: out of memory", T->name);
    }
    memcpy(s->p, p, T->nparams * sizeof *p);
    s->T = T; s->nrows = nrows; s->seed = seed; s->calib = calib_reads; s->settle = settle_s;
    xb_energy_units u;
    if (!units) { xb_energy_units_init(&u, NULL); units = &u; }
    s->v_read2_t = units->v_read * units->v_read * units->t_read;
    double *sum = NULL, *sum2 = NULL;
    if (!(sum = xb_calloc(widest, sizeof *sum)) || !(sum2 = xb_calloc(widest, sizeof *sum2))) {
        xb_free(sum);
        xb_noise_dev_free(s);
        return xb_fail(err, XB_ENOMEM, "noise device %s: out of memory", T->name);
    }
    for (size_t r = 0; r < nrows; r++) {
        xb_row *w = &s->row[r];
        s->n[r] = n[r];
        w->n = n[r];
        for (size_t k = 0; k < T->nfields; k++) w->f[k] = s->block[r] + k * (n[r] ? n[r] : 1);
        const xb_rng d2d = xb_rng_for_row(seed, XB_RNG_D2D, 0x4e00u + (uint32_t)r, 0, 0);
        T->init_row(w, s->p, &d2d);
        if (settle_s > 0 && T->drift_row) {
            const xb_rng dr = xb_rng_for_row(seed, XB_RNG_C2C, 0x4e00u + (uint32_t)r, 0, 0);
            T->drift_row(w, s->p, settle_s, &dr);
        }
        memset(sum, 0, n[r] * sizeof *sum);
        memset(sum2, 0, n[r] * sizeof *sum2);
        for (unsigned k = 0; k < calib_reads; k++) {
            const xb_rng rd = xb_rng_for_row(seed, XB_RNG_READ, 0xffffu, (uint32_t)r, k);
            T->conductance_row(w, s->p, s->g, &rd);
            for (size_t j = 0; j < n[r]; j++) { sum[j] += s->g[j]; sum2[j] += (double)s->g[j] * s->g[j]; }
        }
        for (size_t j = 0; j < n[r]; j++) {
            const double m = sum[j] / calib_reads;
            const double v = (sum2[j] - calib_reads * m * m) / (calib_reads - 1);
            s->mean[r][j] = (float)m;
            /* below float resolution of the mean: no noise at this state */
            const int silent = !(v > 0) || sqrt(v) < 1e-6 * fabs(m);
            s->inv_sd[r][j] = silent ? 0.0f : (float)(1.0 / sqrt(v));
            s->silent += silent;
        }
        s->devices += (double)n[r];
    }
    xb_free(sum); xb_free(sum2);
    if (s->silent >= s->devices) {
        xb_noise_dev_free(s);
        return xb_fail(err, XB_EINVAL, "noise device %s: no device shows read noise in %u "
                       "calibration reads (PCM: set [device] g_init > 0 and [train] noise_settle "
                       "> 0; stmram: mode = direct with ber_read > 0)", T->name, calib_reads);
    }
    *out = s;
    return XB_OK;
}

void xb_noise_dev_draw(void *ctx, uint32_t row, uint32_t array, uint32_t epoch, size_t n,
                       float *eps)
{
    xb_noise_dev *s = ctx;
    const size_t r = row % 64;
    const xb_rng rd = xb_rng_for_row(s->seed, XB_RNG_READ, array, row, epoch);
    s->T->conductance_row(&s->row[r], s->p, s->g, &rd);
    const float *m = s->mean[r], *is = s->inv_sd[r];
    double gsum = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0;
    const size_t nn = n < s->n[r] ? n : s->n[r];
    for (size_t j = 0; j < nn; j++) {
        const float e = (s->g[j] - m[j]) * is[j];
        eps[j] = e;
        gsum += s->g[j];
        const double d = e, d2 = d * d;
        a1 += d; a2 += d2; a3 += d2 * d; a4 += d2 * d2;
        if (s->nks < XB_NOISE_KS_N) s->ks[s->nks++] = e;
    }
    for (size_t j = nn; j < n; j++) eps[j] = 0.0f;
    s->s1 += a1; s->s2 += a2; s->s3 += a3; s->s4 += a4; s->cnt += (double)nn;
    xb_energy_add(&s->E, XB_E_READ, (double)nn, s->v_read2_t * gsum);
}

static int cmpf(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void xb_noise_dev_stats(const xb_noise_dev *s, xb_noise_stats *o)
{
    memset(o, 0, sizeof *o);
    o->n = s->cnt; o->silent = s->silent; o->devices = s->devices;
    o->calib_reads = s->calib; o->settle_s = s->settle;
    if (s->cnt > 1) {
        const double n = s->cnt, m = s->s1 / n;
        const double m2 = s->s2 / n - m * m;                 /* central moments */
        const double m3 = s->s3 / n - 3 * m * s->s2 / n + 2 * m * m * m;
        const double m4 = s->s4 / n - 4 * m * s->s3 / n + 6 * m * m * s->s2 / n - 3 * m * m * m * m;
        o->mean = m;
        o->sd = sqrt(m2 > 0 ? m2 : 0);
        o->skewness = m2 > 0 ? m3 / pow(m2, 1.5) : 0;
        o->excess_kurtosis = m2 > 0 ? m4 / (m2 * m2) - 3 : 0;
    }
    if (s->nks) {
        float *c = xb_malloc(s->nks * sizeof *c);
        if (c) {
            memcpy(c, s->ks, s->nks * sizeof *c);
            qsort(c, s->nks, sizeof *c, cmpf);
            double d = 0;
            const double nk = (double)s->nks;
            for (size_t i = 0; i < s->nks; i++) {
                const double F = gsl_cdf_ugaussian_P(c[i]);
                const double lo = F - (double)i / nk, hi = (double)(i + 1) / nk - F;
                if (lo > d) d = lo;
                if (hi > d) d = hi;
            }
            o->ks = d;
            o->ks_n = nk;
            xb_free(c);
        }
    }
}

void xb_noise_dev_ledger(const xb_noise_dev *s, xb_energy *dst) { xb_energy_merge(dst, &s->E); }
