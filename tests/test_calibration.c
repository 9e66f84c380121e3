/* tests/test_calibration.c: readers of measured data, the fitters' round trip
 * (synthesise with known parameters through devices/, fit, check that the 95 % intervals
 * cover the truth about 95 % of the time) and clear errors for malformed files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibration/xb_calib.h"
#include "calibration/xb_fit.h"
#include "calibration/xb_meas.h"
#include "core/xb_mem.h"
#include "devices/xb_bank.h"
#include "tests/xb_test.h"

/* ---- synthesis -------------------------------------------------------------------------- */

typedef struct truth {
    const char *model;
    double dw_min, up_down, std, g_ref, g_unit, A_up, A_down, gamma_up, gamma_down;
} truth;

static void set(const xb_device_type *T, double *p, const char *name, double v)
{
    const ptrdiff_t k = xb_param_index(T->params, T->nparams, name);
    if (k >= 0) p[k] = v;
}

/* ndev identical devices (D2D off), each: npulse up pulses from w = 0, then npulse down. */
static xb_measurement *synth(const truth *t, uint32_t seed, size_t ndev, size_t npulse)
{
    const xb_device_type *T = xb_device_find(t->model);
    double p[64];
    xb_param_defaults(T->params, T->nparams, p);
    const char *zero[] = { "dw_min_dtod", "up_down_dtod", "w_max_dtod", "w_min_dtod", "gamma_dtod" };
    for (size_t k = 0; k < 5; k++) set(T, p, zero[k], 0);
    set(T, p, "dw_min", t->dw_min); set(T, p, "up_down", t->up_down);
    set(T, p, "dw_min_std", t->std); set(T, p, "w_max", 1); set(T, p, "w_min", -1);
    set(T, p, "g_ref", t->g_ref); set(T, p, "g_unit", t->g_unit); set(T, p, "w_init", 0);
    if (!strcmp(t->model, "expstep")) {
        set(T, p, "A_up", t->A_up); set(T, p, "A_down", t->A_down);
        set(T, p, "gamma_up", t->gamma_up); set(T, p, "gamma_down", t->gamma_down);
        set(T, p, "a", 1); set(T, p, "b", 0);
    }
    xb_bank *b;
    xb_err err = { 0 };
    if (xb_bank_alloc(&b, T, p, ndev, seed, &err)) return NULL;
    xb_measurement *m = xb_calloc(1, sizeof *m);
    m->kind = XB_MEAS_RAMPS;
    m->nramps = 2 * ndev;
    m->ramp = xb_calloc(m->nramps, sizeof *m->ramp);
    int16_t up[64], dn[64];
    float g[64];
    for (size_t j = 0; j < ndev; j++) { up[j] = 1; dn[j] = -1; }
    for (size_t r = 0; r < m->nramps; r++) {
        m->ramp[r].n = npulse + 1;
        m->ramp[r].dir = r < ndev ? 1 : -1;
        m->ramp[r].g = xb_malloc((npulse + 1) * sizeof(double));
    }
    for (int phase = 0; phase < 2; phase++)
        for (size_t k = 0; k <= npulse; k++) {
            if (k > 0) xb_bank_pulse(b, phase ? dn : up);
            xb_bank_conductance(b, g, 0);
            for (size_t j = 0; j < ndev; j++) m->ramp[phase * ndev + j].g[k] = g[j];
        }
    xb_bank_free(b);
    return m;
}

static const xb_cal_par *par(const xb_calib *c, const char *name)
{
    for (size_t i = 0; i < c->npar; i++)
        if (!strcmp(c->par[i].name, name)) return &c->par[i];
    return NULL;
}

/* The truth expressed in the gauge of the fit: linear and expstep take g_ref, g_unit
 * from the measured range, so dw (and A, gamma) rescale: mu_up = dw (1+ud) gu (1 - A
 * exp(gamma (G - gr)/gu)) must be the same function of G in both gauges. */
static void truth_in_gauge(const truth *t, const xb_calib *c, const char **names, double *want,
                           size_t *n)
{
    const double gr = par(c, "g_ref")->est, gu = par(c, "g_unit")->est;
    size_t k = 0;
    names[k] = "dw_min"; want[k++] = !strcmp(t->model, "softbounds") ? t->dw_min : t->dw_min * t->g_unit / gu;
    names[k] = "up_down"; want[k++] = t->up_down;
    if (!strcmp(t->model, "softbounds")) {
        names[k] = "g_ref"; want[k++] = t->g_ref;
        names[k] = "g_unit"; want[k++] = t->g_unit;
    }
    if (!strcmp(t->model, "expstep")) {
        names[k] = "A_up"; want[k++] = t->A_up * exp(t->gamma_up * (gr - t->g_ref) / t->g_unit);
        names[k] = "A_down"; want[k++] = t->A_down * exp(-t->gamma_down * (gr - t->g_ref) / t->g_unit);
        names[k] = "gamma_up"; want[k++] = t->gamma_up * gu / t->g_unit;
        names[k] = "gamma_down"; want[k++] = t->gamma_down * gu / t->g_unit;
    }
    *n = k;
}

/* 200 seeds: each parameter's 95 % interval covers the truth in 175..200 of them
 * (binomial: 190 +- 5 sd of 3.1), and the mean standard error matches the spread of the
 * estimates across seeds within 25 % (5 sd of a 200-sample sd): this catches intervals
 * that are too wide as well as too narrow. dw_min_std is recovered within 5 standard
 * errors of its mean. */
static void coverage(const truth *t, size_t ndev, size_t npulse)
{
    enum { SEEDS = 200, MAXK = 8 };
    int cover[MAXK] = { 0 };
    double se_sum[MAXK] = { 0 }, d1[MAXK] = { 0 }, d2[MAXK] = { 0 }, s1 = 0, s2 = 0;
    const char *names[MAXK];
    size_t k = 0;
    int fails = 0;
    for (uint32_t seed = 1; seed <= SEEDS; seed++) {
        xb_measurement *m = synth(t, seed, ndev, npulse);
        CU_ASSERT_FATAL(m != NULL);
        xb_calib c;
        xb_err err = { 0 };
        if (xb_calib_fit(t->model, m, NULL, &c, &err) != XB_OK) { fails++; xb_meas_free(m); continue; }
        double want[MAXK];
        truth_in_gauge(t, &c, names, want, &k);
        for (size_t i = 0; i < k; i++) {
            const xb_cal_par *q = par(&c, names[i]);
            cover[i] += q->lo <= want[i] && want[i] <= q->hi;
            se_sum[i] += q->se;
            d1[i] += q->est - want[i]; d2[i] += (q->est - want[i]) * (q->est - want[i]);
        }
        const double s = par(&c, "dw_min_std")->est;
        s1 += s; s2 += s * s;
        xb_meas_free(m);
    }
    CU_ASSERT_EQUAL(fails, 0);
    for (size_t i = 0; i < k; i++) {
        const double sd = sqrt((d2[i] - d1[i] * d1[i] / SEEDS) / (SEEDS - 1));
        const double ratio = se_sum[i] / SEEDS / sd;
        if (getenv("XB_TEST_VERBOSE"))
            printf("\n  %s %s: coverage %d/200, mean se / sd of estimates %.3f", t->model, names[i],
                   cover[i], ratio);
        CU_ASSERT(cover[i] >= 175);
        CU_ASSERT(ratio > 0.75 && ratio < 1.33);
    }
    const double ms = s1 / SEEDS, ss = sqrt((s2 - s1 * s1 / SEEDS) / (SEEDS - 1));
    CU_ASSERT(fabs(ms - t->std) <= 5 * ss / sqrt(SEEDS));
}

static void test_coverage_softbounds(void)
{
    const truth t = { .model = "softbounds", .dw_min = 0.02, .up_down = 0.1, .std = 0.3,
                      .g_ref = 1e-5, .g_unit = 4e-6 };
    coverage(&t, 4, 100);
}

static void test_coverage_linear(void)
{
    const truth t = { .model = "linear", .dw_min = 0.004, .up_down = -0.1, .std = 0.3,
                      .g_ref = 1e-5, .g_unit = 4e-6 };
    coverage(&t, 4, 100);
}

static void test_coverage_expstep(void)
{
    const truth t = { .model = "expstep", .dw_min = 0.01, .up_down = 0.1, .std = 0.3,
                      .g_ref = 1e-5, .g_unit = 4e-6, .A_up = 0.1, .A_down = 0.1,
                      .gamma_up = 3, .gamma_down = 3 };
    coverage(&t, 4, 150);
}

XB_SUITE(calibration, XB_TEST(test_coverage_softbounds), XB_TEST(test_coverage_linear),
         XB_TEST(test_coverage_expstep))
