/* tests/test_calibration.c: readers of measured data, the fitters' round trip
 * (synthesise with known parameters through devices/, fit, check that the 95 % intervals
 * cover the truth about 95 % of the time) and clear errors for malformed files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "calibration/xb_calib.h"
#include "calibration/xb_fit.h"
#include "calibration/xb_meas.h"
#include "core/xb_mem.h"
#include "core/xb_rng.h"
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

/* Coverage over seeds, per parameter: how often the 95 % interval holds the truth, and the
 * mean standard error against the spread of the estimates. */
enum { TALLY_MAXK = 8 };
typedef struct tally {
    int cover[TALLY_MAXK];
    double se_sum[TALLY_MAXK], d1[TALLY_MAXK], d2[TALLY_MAXK];
} tally;

static void tally_add(tally *t, size_t k, const xb_cal_par *q, double want)
{
    t->cover[k] += q->lo <= want && want <= q->hi;
    t->se_sum[k] += q->se;
    t->d1[k] += q->est - want;
    t->d2[k] += (q->est - want) * (q->est - want);
}

/* Every parameter's interval covers the truth in >= 175 of `seeds` (binomial: 190 +- 5
 * sd of 3.1 for 200), and for the first n_ratio parameters the mean standard error is
 * within (0.75, 1.33) of the estimates' sd (5 sd of a 200-sample sd). */
static void tally_check(const tally *t, const char *label, const char *const *names, size_t n,
                        size_t n_ratio, int seeds)
{
    for (size_t k = 0; k < n; k++) {
        const double sd = sqrt((t->d2[k] - t->d1[k] * t->d1[k] / seeds) / (seeds - 1));
        const double ratio = t->se_sum[k] / seeds / sd;
        if (getenv("XB_TEST_VERBOSE"))
            printf("\n  %s %s: coverage %d/%d, mean se / sd of estimates %.3f, bias %.3g sd", label,
                   names[k], t->cover[k], seeds, ratio, t->d1[k] / seeds / sd);
        CU_ASSERT(t->cover[k] >= 175);
        if (k < n_ratio) CU_ASSERT(ratio > 0.75 && ratio < 1.33);
    }
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
    enum { SEEDS = 200, MAXK = TALLY_MAXK };
    tally ty = { 0 };
    double s1 = 0, s2 = 0;
    const char *names[MAXK];
    size_t k = 0;
    int fails = 0;
    for (uint32_t seed = 1; seed <= SEEDS; seed++) {
        xb_measurement *m = synth(t, seed, ndev, npulse);
        CU_ASSERT_FATAL(m != NULL);
        xb_calib c;
        xb_err err = { 0 };
        const xb_calib_opts wald = { .ci = XB_CI_WALD };      /* the Jacobian intervals */
        if (xb_calib_fit(t->model, m, &wald, &c, &err) != XB_OK) { fails++; xb_meas_free(m); continue; }
        double want[MAXK];
        truth_in_gauge(t, &c, names, want, &k);
        for (size_t i = 0; i < k; i++) tally_add(&ty, i, par(&c, names[i]), want[i]);
        const double s = par(&c, "dw_min_std")->est;
        s1 += s; s2 += s * s;
        xb_meas_free(m);
    }
    CU_ASSERT_EQUAL(fails, 0);
    tally_check(&ty, t->model, names, k, k, SEEDS);
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

/* ST-MRAM: binomial draws (N = 1e4) from the precessional law at 20 currents, 1 ns;
 * Delta is held at its default 45 as the fitter does for an amplitude curve. Same
 * coverage and interval-width criteria as above, for i_c0 and tau_d. */
static void test_coverage_stmram(void)
{
    enum { SEEDS = 200, NP = 20 };
    const double ic0 = 100e-6, taud = 0.5e-9, delta = 45, t = 1e-9, N = 1e4;
    const double truth[2] = { ic0, taud };
    const char *names[2] = { "i_c0", "tau_d" };
    tally ty = { 0 };
    for (uint32_t seed = 1; seed <= SEEDS; seed++) {
        gsl_rng *r = xb_rng_gsl_alloc(seed, XB_RNG_D2D, 77);
        xb_measurement *m = xb_calloc(1, sizeof *m);
        m->kind = XB_MEAS_PSW; m->n = NP;
        m->width = xb_malloc(NP * sizeof(double)); m->cur = xb_malloc(NP * sizeof(double));
        m->p = xb_malloc(NP * sizeof(double));
        for (int i = 0; i < NP; i++) {
            const double I = 170e-6 + i * (170e-6 / (NP - 1));
            const double P = exp(-2.4674011002723395 * delta * exp(-2 * (I / ic0 - 1) * t / taud));
            m->width[i] = t; m->cur[i] = I;
            m->p[i] = gsl_ran_binomial(r, P, (unsigned)N) / N;
        }
        gsl_rng_free(r);
        xb_calib c;
        xb_err err = { 0 };
        const xb_status st = xb_calib_fit("stmram", m, NULL, &c, &err);
        CU_ASSERT_FATAL(st == XB_OK);
        for (int k = 0; k < 2; k++) tally_add(&ty, (size_t)k, par(&c, names[k]), truth[k]);
        xb_meas_free(m);
    }
    tally_check(&ty, "stmram", names, 2, 2, SEEDS);
}

/* HfOx: 200 devices with (m1, t*, m2, R0) drawn as in DEVICES.md 2 (m1 kept >= m2 +
 * 2e-4 so that the knee is visible), ln R = ln R0 + piecewise law + N(0, 0.01^2) at
 * t = 0, 15, ..., 2985. Each device's 95 % intervals must cover its m1, m2, t* in
 * >= 175 of 200; the population m1_scale must be within 5 standard errors of the
 * scale of the true m1 values. */
static void test_coverage_hfox(void)
{
    enum { ND = 200, NP = 200 };
    gsl_rng *r = xb_rng_gsl_alloc(5, XB_RNG_D2D, 78);
    xb_measurement *m = xb_calloc(1, sizeof *m);
    m->kind = XB_MEAS_RAMPS; m->nramps = ND;
    m->ramp = xb_calloc(ND, sizeof *m->ramp);
    int cover[3] = { 0 };
    double m1sum = 0, m1min = INFINITY;
    for (int d = 0; d < ND; d++) {
        double m1, m2, ts;
        do { m1 = 3.7416e-5 + gsl_ran_exponential(r, 6.5647e-4); m2 = gsl_ran_exponential(r, 2.88905e-5); }
        while (m1 > 0.0076 || m2 > 1.3e-4 || m1 < m2 + 2e-4);
        do ts = 542.54 * exp(0.80338 * gsl_ran_gaussian(r, 1)); while (ts < 41 || ts > 2000);
        const double lr0 = log(6988 + 381.7 * gsl_ran_gaussian(r, 1));
        xb_ramp *rp = &m->ramp[d];
        rp->n = NP; rp->dir = -1;
        rp->g = xb_malloc(NP * sizeof(double)); rp->pulse = xb_malloc(NP * sizeof(double));
        for (int k = 0; k < NP; k++) {
            const double t = 15.0 * k;
            rp->pulse[k] = t;
            rp->g[k] = exp(-(lr0 + m1 * fmin(t, ts) + m2 * fmax(t - ts, 0) + 0.01 * gsl_ran_gaussian(r, 1)));
        }
        double est[4], lo[4], hi[4], sd, ll;
        xb_err err = { 0 };
        CU_ASSERT_FATAL(xb_calib_hfox_one(rp, est, lo, hi, &sd, &ll, &err) == XB_OK);
        const double tr[3] = { m1, m2, ts };
        for (int k = 0; k < 3; k++) cover[k] += lo[k + 1] <= tr[k] && tr[k] <= hi[k + 1];
        m1sum += m1; m1min = fmin(m1min, m1);
    }
    gsl_rng_free(r);
    if (getenv("XB_TEST_VERBOSE"))
        printf("\n  hfox per device: m1 %d/200, m2 %d/200, t_star %d/200", cover[0], cover[1], cover[2]);
    for (int k = 0; k < 3; k++) CU_ASSERT(cover[k] >= 175);
    xb_calib c;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_calib_fit("hfox", m, NULL, &c, &err) == XB_OK);
    const double want = m1sum / ND - m1min;
    const xb_cal_par *q = par(&c, "m1_scale");
    CU_ASSERT(fabs(q->est - want) <= 5 * q->se);
    xb_meas_free(m);
}

/* ---- readers ---------------------------------------------------------------------------- */

static xb_measurement *parse(const char *text, const char *name, xb_meas_kind kind,
                             const xb_meas_opts *o, xb_err *err)
{
    xb_measurement *m = NULL;
    const xb_status st = xb_meas_parse(text, strlen(text), name, kind, o, &m, err);
    CU_ASSERT((st == XB_OK) == (m != NULL));
    return m;
}

static void test_read_taox(void)               /* one column per ramp, padded, amperes */
{
    xb_err err = { 0 };
    xb_measurement *m = parse("rmp1,rmp2\n1e-4,2e-4\n1.1e-4,1.9e-4\n1.2e-4,\n", "set.csv",
                              XB_MEAS_RAMPS, NULL, &err);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(m->nramps, 2);
    CU_ASSERT_EQUAL(m->ramp[0].n, 3);
    CU_ASSERT_EQUAL(m->ramp[1].n, 2);
    CU_ASSERT_EQUAL(m->ramp[0].dir, 1);
    CU_ASSERT_EQUAL(m->ramp[1].dir, -1);
    CU_ASSERT_DOUBLE_EQUAL(m->ramp[0].g[2], 1.2e-3, 1e-18);    /* I / 0.1 V */
    xb_meas_free(m);
}

static void test_read_csv_columns_units(void)  /* mapping by name, mS -> S, ramps split */
{
    xb_err err = { 0 };
    xb_meas_opts o = XB_MEAS_OPTS_DEFAULT;
    o.columns = "pulse=0,conductance=G_mS";
    o.units = "conductance=mS";
    xb_measurement *m = parse("# comment\npulse,x,G_mS\n0,9,1.0\n1,9,1.1\n2,9,1.2\n0,9,1.2\n1,9,1.05\n",
                              "r.csv", XB_MEAS_RAMPS, &o, &err);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(m->nramps, 2);
    CU_ASSERT_EQUAL(m->ramp[0].dir, 1);
    CU_ASSERT_EQUAL(m->ramp[1].dir, -1);
    CU_ASSERT_DOUBLE_EQUAL(m->ramp[0].g[1], 1.1e-3, 1e-18);
    xb_meas_free(m);
}

static void test_read_mtj_and_relax(void)
{
    xb_err err = { 0 };
    xb_meas_opts o = XB_MEAS_OPTS_DEFAULT;
    o.format = "mtj";
    xb_measurement *m = parse("3.0E-10\t0\n\t\n4.0E-10\t2.0E-04\n\t\n5.0E-10\t0.5\n", "a.txt",
                              XB_MEAS_PSW, &o, &err);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(m->n, 3);
    CU_ASSERT_DOUBLE_EQUAL(m->width[1], 4e-10, 1e-25);
    CU_ASSERT(isnan(m->cur[0]));                   /* amplitude not recorded */
    CU_ASSERT_DOUBLE_EQUAL(m->p[1], 2e-4, 1e-18);
    xb_meas_free(m);
    m = parse("0.5\t0.1\n\t\n0.6\t0.5\n\t\n0.7\t0.9\n", "b.txt", XB_MEAS_PSW, &o, &err);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_DOUBLE_EQUAL(m->cur[1], 0.6 / 2530, 1e-15);   /* V / R_P */
    CU_ASSERT_DOUBLE_EQUAL(m->width[1], 1e-9, 1e-24);
    xb_meas_free(m);
    o.format = "relax";
    m = parse("0\t0.0\t1e5\t1e-5\t1e-5\t2\t0\n0\t0.011\t1e5\t1.1e-5\t1e-5\t2\t0.01\n"
              "2\t0.0\t5e4\t2e-5\t2e-5\t5\t0\n", "r.tsv", XB_MEAS_RELAX, &o, &err);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(m->n, 3);
    CU_ASSERT_DOUBLE_EQUAL(m->tnom[1], 0.01, 1e-18);
    CU_ASSERT_DOUBLE_EQUAL(m->g[1] - m->g0[1], 1e-6, 1e-18);
    xb_meas_free(m);
    o.format = "bake";                             /* rows pair up by (addr, temperature) */
    m = parse("4\t0.0\t1\t3e-6\t100\n2\t0.0\t1\t2e-6\t100\n2\t5000\t1\t2.5e-6\t100\n"
              "4\t5000\t1\t3.5e-6\t100\n6\t0\t1\t1e-6\t100\n6\t5000\t1\t1e-6\t100\n",
              "bake.tsv", XB_MEAS_RELAX, &o, &err);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(m->n, 3);
    CU_ASSERT_DOUBLE_EQUAL(m->g[0] - m->g0[0], 0.5e-6, 1e-18);    /* addr 2 */
    CU_ASSERT_DOUBLE_EQUAL(m->g[1] - m->g0[1], 0.5e-6, 1e-18);    /* addr 4 */
    CU_ASSERT_DOUBLE_EQUAL(m->temp[2], 373.15, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(m->t[2], 5000, 1e-12);
    xb_meas_free(m);
}

static void test_read_lut(void)                /* mean step = integral of the quantiles */
{
    xb_err err = { 0 };
    xb_measurement *m = parse("1st Row = Gbins, 2nd Row = CDF Points\n1e-5,\t2e-5\n0.,\t1. \n\n"
                              "1e-6,3e-6\n3e-6,5e-6\n", "dG_increasing.txt", XB_MEAS_RAMPS, NULL, &err);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(m->kind, XB_MEAS_STEPS);
    CU_ASSERT_EQUAL(m->n, 2);
    CU_ASSERT_DOUBLE_EQUAL(m->dg[0], 2e-6, 1e-20);
    CU_ASSERT_DOUBLE_EQUAL(m->dg[1], 4e-6, 1e-20);
    CU_ASSERT_EQUAL(m->dir[0], 1);
    xb_meas_free(m);
}

typedef struct bad { const char *text, *format, *columns; xb_meas_kind kind; const char *want; } bad;

/* Malformed input: an error naming the place and the problem, never a crash or a leak
 * (LeakSanitizer checks the error paths under make check-asan). */
static void test_malformed(void)
{
    static const bad cases[] = {
        { "", "csv", NULL, XB_MEAS_RAMPS, "empty" },
        { "pulse,G\n0,1e-3\n1,abc\n", "csv", NULL, XB_MEAS_RAMPS, "f:3:2: column 'G': 'abc' is not a finite number" },
        { "pulse,G\n0,1e-3\n1,nan\n", "csv", NULL, XB_MEAS_RAMPS, "f:3:2: column 'G': 'nan' is not a finite number" },
        { "pulse,G\n0,1e-3\n1,2e-3\n2,3e", "csv", NULL, XB_MEAS_RAMPS, "f:4:2: column 'G': '3e' is not" },
        { "pulse,G\n0,1e-3\n", "csv", NULL, XB_MEAS_RAMPS, "f:2: ramp has 1 read; a ramp needs at least 2" },
        { "a,b\n1,2\n3\n", "csv", NULL, XB_MEAS_RAMPS, "f:3: 1 fields, expected 2" },
        { "pulse,G\n0,-1e-3\n1,2e-3\n", "csv", NULL, XB_MEAS_RAMPS, "f:2:2: conductance = -0.001 must be positive" },
        { "0,1e-3\n1,2e-3\n", "csv", "pulse=0,conductance=5", XB_MEAS_RAMPS, "--columns conductance=5: f has 2 columns" },
        { "rmp1,rmp2\n1e-4,2e-4\n1.1e-4,\n", "taox", NULL, XB_MEAS_RAMPS, "ramp 'rmp2' has 1 reads" },
        { "rmp1,rmp2\n1e-4,1e-4\n,2e-4\n1e-4,3e-4\n", "taox", NULL, XB_MEAS_RAMPS, "f:4:1: value after the end of ramp 'rmp1'" },
        { "3e-10,0\n4e-10,0.1\n5e-10,0.5\n", "mtj", NULL, XB_MEAS_PSW, "f:1: 1 column; switching data need 2" },
        { "3e-10\t0.5\n", "mtj", NULL, XB_MEAS_PSW, "1 data point; a switching curve needs at least 3" },
        { "3e-10\t0\n4e-10\t1.5\n5e-10\t1\n", "mtj", NULL, XB_MEAS_PSW, "f:2:2: probability 1.5 is outside [0, 1]" },
        { "1\t2\t3\n", "relax", NULL, XB_MEAS_RELAX, "f:1: 3 columns; the relaxation layout has 7" },
        { "1\t0\t1\t1e-6\t100\n1\t5\t1\t1e-6\t140\n", "bake", NULL, XB_MEAS_RELAX, "0 before/after pairs" },
        { "G bins\n1e-5,2e-5\n0,1\n", "lut", NULL, XB_MEAS_RAMPS, "a dG table needs" },
        { "1,2\n", "taox", NULL, XB_MEAS_PSW, "format 'taox' holds pulse ramps, but this model needs switching probability" },
        { "device,pulse,conductance_S\n0,0,1e-6\n0,1,2e-6\n", "pulses", NULL, XB_MEAS_RAMPS, "f:1: the pulses layout needs the columns device, pulse, polarity, conductance_S" },
        { "device,pulse,polarity,conductance_S\n0,0,0,1e-6\n0,1,2,2e-6\n", "pulses", NULL, XB_MEAS_RAMPS, "f:3:3: polarity 2: expected -1, 0 or 1" },
        { "device,pulse,polarity,conductance_S\n0,0,0,1e-6\n0,0,1,2e-6\n", "pulses", NULL, XB_MEAS_RAMPS, "f:3: device 0 has pulse 0 twice (also line 2)" },
        { "device,pulse,polarity,conductance_S\n0,0,0,1e-6\n0,1,0,2e-6\n", "pulses", NULL, XB_MEAS_RAMPS, "f: no pulses (every polarity is 0)" },
        { "device,pulse,polarity,conductance_S\n0,0,0,1e-6\n0,1,1,x\n", NULL, NULL, XB_MEAS_RAMPS, "f:3:4: column 'conductance_S': 'x' is not a finite number" },
        { "device,pulse,polarity,conductance_S\n0,0,0,1e-6\n", "pulses", NULL, XB_MEAS_RAMPS, "f: 1 data rows; a ramp needs at least 2" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        xb_meas_opts o = XB_MEAS_OPTS_DEFAULT;
        o.format = cases[i].format;
        o.columns = cases[i].columns;
        xb_err err = { 0 };
        xb_measurement *m = (xb_measurement *)1;
        const xb_status st = xb_meas_parse(cases[i].text, strlen(cases[i].text), "f", cases[i].kind,
                                           &o, &m, &err);
        const int ok = st != XB_OK && m == NULL && strstr(err.msg, cases[i].want);
        if (!ok) printf("\n  case %zu: status %d, message '%s', wanted '%s'", i, st, err.msg, cases[i].want);
        CU_ASSERT(ok);
        if (st == XB_OK) xb_meas_free(m);
    }
}

static void test_reader_out_of_memory(void)    /* every allocation failure is clean */
{
    const char *text = "rmp1,rmp2\n1e-4,2e-4\n1.1e-4,1.9e-4\n1.2e-4,\n";
    for (long k = 0;; k++) {
        xb_measurement *m;
        xb_err err = { 0 };
        xb_mem_fail_nth(k);
        const xb_status st = xb_meas_parse(text, strlen(text), "set.csv", XB_MEAS_RAMPS, NULL, &m, &err);
        xb_mem_fail_nth(-1);
        if (st == XB_OK) { xb_meas_free(m); CU_ASSERT(k > 5); break; }
        CU_ASSERT(st == XB_ENOMEM && m == NULL && err.msg[0]);
        if (k > 10000) { CU_FAIL("no success after 10000 failures"); break; }
    }
}

/* ---- prediction ------------------------------------------------------------------------ */

static void test_predict_beats_defaults(void)  /* fit on seed 1, score on seed 2 */
{
    const truth t = { .model = "softbounds", .dw_min = 0.02, .up_down = 0.1, .std = 0.3,
                      .g_ref = 1e-5, .g_unit = 4e-6 };
    xb_measurement *a = synth(&t, 1, 4, 100), *b = synth(&t, 2, 4, 100);
    xb_calib c, pc, pd;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_calib_fit("softbounds", a, NULL, &c, &err) == XB_OK);
    const char *keys[XB_CAL_MAXPAR];
    double vals[XB_CAL_MAXPAR];
    size_t nk = 0;
    for (size_t i = 0; i < c.npar; i++)
        if (c.par[i].device_key) { keys[nk] = c.par[i].name; vals[nk++] = c.par[i].est; }
    CU_ASSERT_FATAL(xb_calib_predict("softbounds", keys, vals, nk, b, NULL, &pc, &err) == XB_OK);
    CU_ASSERT_FATAL(xb_calib_predict("softbounds", NULL, NULL, 0, b, NULL, &pd, &err) == XB_OK);
    CU_ASSERT(pc.loglik > pd.loglik);
    CU_ASSERT(pc.r2_traj > 0.95);                 /* mean path of the held-out ramps */
    CU_ASSERT(pd.r2_traj < 0.5);
    xb_meas_free(a); xb_meas_free(b);
}

/* Bootstrap over ramps on well-identified softbounds data: its percentile intervals must
 * agree with the Jacobian ones within a factor 2 (the sd of a 200-resample percentile
 * width is ~10 %, so a factor 2 is far beyond noise), and contain the estimate. */
static void test_bootstrap_matches_jacobian(void)
{
    const truth t = { .model = "softbounds", .dw_min = 0.02, .up_down = 0.1, .std = 0.3,
                      .g_ref = 1e-5, .g_unit = 4e-6 };
    xb_measurement *m = synth(&t, 3, 8, 100);
    xb_calib w, b;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_calib_fit("softbounds", m, NULL, &w, &err) == XB_OK);
    b = w;
    CU_ASSERT_FATAL(xb_calib_bootstrap("softbounds", m, NULL, 200, 1, &b, &err) == XB_OK);
    const char *names[] = { "dw_min", "up_down", "g_ref", "g_unit" };
    for (int k = 0; k < 4; k++) {
        const xb_cal_par *pw = par(&w, names[k]), *pb = par(&b, names[k]);
        const double r = (pb->hi - pb->lo) / (pw->hi - pw->lo);
        if (getenv("XB_TEST_VERBOSE")) printf("\n  bootstrap/Jacobian width %s: %.3f", names[k], r);
        CU_ASSERT(r > 0.5 && r < 2);
        CU_ASSERT(pb->lo <= pb->est && pb->est <= pb->hi);
    }
    xb_meas_free(m);
}


/* ---- FTJ: D devices of devices/ftj.c, K pulses each from s = 0 -------------------------- */

static xb_measurement *synth_ftj(uint32_t seed, size_t ndev, size_t npulse, const double *tr)
{
    const xb_device_type *T = xb_device_find("ftj");
    double p[64];
    xb_param_defaults(T->params, T->nparams, p);
    set(T, p, "g_on", tr[0]); set(T, p, "on_off", tr[1]); set(T, p, "w_l", tr[2]);
    set(T, p, "n_d", tr[3]); set(T, p, "g_on_dtod", tr[4]); set(T, p, "v_a_dtod", 0);
    set(T, p, "t_pulse", 1e-9); set(T, p, "v_pulse", 1);
    xb_bank *b;
    xb_err err = { 0 };
    if (xb_bank_alloc(&b, T, p, ndev, seed, &err)) return NULL;
    xb_measurement *m = xb_calloc(1, sizeof *m);
    m->kind = XB_MEAS_RAMPS;
    m->nramps = ndev;
    m->ramp = xb_calloc(ndev, sizeof *m->ramp);
    int16_t up[64];
    float g[64];
    for (size_t j = 0; j < ndev; j++) {
        up[j] = 1;
        m->ramp[j] = (xb_ramp){ .dir = 1, .n = npulse + 1, .device = (int)j + 1,
                                .g = xb_malloc((npulse + 1) * sizeof(double)) };
    }
    for (size_t k = 0; k <= npulse; k++) {
        if (k > 0) xb_bank_pulse(b, up);
        xb_bank_conductance(b, g, 0);
        for (size_t j = 0; j < ndev; j++) m->ramp[j].g[k] = g[j];
    }
    xb_bank_free(b);
    return m;
}

/* 200 seeds of 16 devices x 50 pulses (N_d 100, w_L 0.5 decades, tau_m 8.1 ns at 1 V,
 * 1 ns pulses, 5 % G_on spread): coverage of the 95 % intervals of every fitted
 * parameter in 175..200 and mean se / sd of the estimates in (0.75, 1.33) for the mean
 * parameters (sandwich); the jackknife intervals of n_d and g_on_dtod: coverage only. */
static void test_coverage_ftj(void)
{
    enum { SEEDS = 200, NP = 6 };
    const double tr[5] = { 1e-6, 2.65, 0.5, 100, 0.05 };
    const double taum = 1e-12 * exp(9.0);
    const char *names[NP] = { "g_on", "on_off", "tau_m", "w_l", "n_d", "g_on_dtod" };
    const double want[NP] = { tr[0], tr[1], taum, tr[2], tr[3], tr[4] };
    int fails = 0;
    tally ty = { 0 };
    for (uint32_t seed = 1; seed <= SEEDS; seed++) {
        xb_measurement *m = synth_ftj(seed, 16, 50, tr);
        CU_ASSERT_FATAL(m != NULL);
        xb_calib c;
        xb_err err = { 0 };
        if (xb_calib_fit("ftj", m, NULL, &c, &err)) { fails++; xb_meas_free(m); continue; }
        for (int k = 0; k < NP; k++) tally_add(&ty, (size_t)k, par(&c, names[k]), want[k]);
        xb_meas_free(m);
    }
    CU_ASSERT_EQUAL(fails, 0);
    tally_check(&ty, "ftj", names, NP, 4, SEEDS);
}

/* ---- DW: devices of devices/dw.c pulsed up and down, reads chained per device -------- */

static xb_measurement *synth_dw(uint32_t seed, size_t ndev, size_t nramp, size_t len,
                                const double *tr)
{
    const xb_device_type *T = xb_device_find("dw");
    double p[64];
    xb_param_defaults(T->params, T->nparams, p);
    set(T, p, "sigma", tr[0]); set(T, p, "p_depin", tr[1]); set(T, p, "p_miss", tr[2]);
    set(T, p, "states", 5); set(T, p, "g_dtod", 0);
    xb_bank *b;
    xb_err err = { 0 };
    if (xb_bank_alloc(&b, T, p, ndev, seed, &err)) return NULL;
    xb_measurement *m = xb_calloc(1, sizeof *m);
    m->kind = XB_MEAS_RAMPS;
    m->nramps = ndev * nramp;
    m->ramp = xb_calloc(m->nramps, sizeof *m->ramp);
    int16_t up[64], dn[64];
    float g[64];
    for (size_t j = 0; j < ndev; j++) { up[j] = 1; dn[j] = -1; }
    for (size_t j = 0; j < ndev; j++)
        for (size_t r = 0; r < nramp; r++)
            m->ramp[j * nramp + r] = (xb_ramp){ .dir = r % 2 ? -1 : 1, .n = len + 1, .device = (int)j + 1,
                                                .g = xb_malloc((len + 1) * sizeof(double)) };
    xb_bank_conductance(b, g, 0);
    for (size_t j = 0; j < ndev; j++) m->ramp[j * nramp].g[0] = g[j];
    for (size_t r = 0; r < nramp; r++) {
        if (r > 0)
            for (size_t j = 0; j < ndev; j++) m->ramp[j * nramp + r].g[0] = m->ramp[j * nramp + r - 1].g[len];
        for (size_t k = 1; k <= len; k++) {
            xb_bank_pulse(b, r % 2 ? dn : up);
            xb_bank_conductance(b, g, 0);
            for (size_t j = 0; j < ndev; j++) m->ramp[j * nramp + r].g[k] = (double)g[j];
        }
    }
    xb_bank_free(b);
    return m;
}

/* 200 seeds of 4 devices x 6 ramps of 12 pulses (5 sites, sigma 0.05, p_depin 0.6,
 * p_miss 0.1): coverage 175..200 and mean se / sd of the estimates in (0.75, 1.33). */
static void test_coverage_dw(void)
{
    enum { SEEDS = 200, NP = 3 };
    const double tr[NP] = { 0.05, 0.6, 0.1 };
    const char *names[NP] = { "sigma", "p_depin", "p_miss" };
    int fails = 0, ks_rej = 0;
    tally ty = { 0 };
    for (uint32_t seed = 1; seed <= SEEDS; seed++) {
        xb_measurement *m = synth_dw(seed, 4, 6, 12, tr);
        CU_ASSERT_FATAL(m != NULL);
        xb_calib c;
        xb_err err = { 0 };
        if (xb_calib_fit("dw", m, NULL, &c, &err)) { fails++; xb_meas_free(m); continue; }
        ks_rej += !(c.ks_p >= 0.05);
        for (int k = 0; k < NP; k++) tally_add(&ty, (size_t)k, par(&c, names[k]), tr[k]);
        xb_meas_free(m);
    }
    CU_ASSERT_EQUAL(fails, 0);
    tally_check(&ty, "dw", names, NP, NP, SEEDS);
    /* the landing KS test at 5 % rejects the true model in about 10 of 200 seeds */
    if (getenv("XB_TEST_VERBOSE")) printf("\n  dw landing KS p < 0.05 in %d/200 seeds", ks_rej);
    CU_ASSERT(ks_rej <= 25);
}

/* The CSV of `xbemu devices pulse` (devices interleaved, as the tool writes them):
 * per device, a ramp per run of one polarity, from the read before its first pulse. */
static void test_read_pulses(void)
{
    const char *text = "device,pulse,polarity,conductance_S,energy_J\n"
                       "0,0,0,1e-6,0\n1,0,0,2e-6,0\n"
                       "0,1,1,1.1e-6,1e-15\n1,1,1,2.1e-6,1e-15\n"
                       "0,2,1,1.2e-6,1e-15\n1,2,1,2.2e-6,1e-15\n"
                       "0,3,-1,1.15e-6,1e-15\n1,3,-1,2.15e-6,1e-15\n";
    xb_measurement *m;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_meas_parse(text, strlen(text), "p.csv", XB_MEAS_RAMPS, NULL, &m, &err) == XB_OK);
    CU_ASSERT_EQUAL_FATAL(m->nramps, 4);
    CU_ASSERT(m->ramp[0].device == 1 && m->ramp[0].dir == 1 && m->ramp[0].n == 3);
    CU_ASSERT(m->ramp[0].g[0] == 1e-6 && m->ramp[0].g[2] == 1.2e-6);
    CU_ASSERT(m->ramp[1].device == 1 && m->ramp[1].dir == -1 && m->ramp[1].n == 2);
    CU_ASSERT(m->ramp[1].g[0] == 1.2e-6 && m->ramp[1].g[1] == 1.15e-6);
    CU_ASSERT(m->ramp[1].pulse[0] == 2 && m->ramp[1].pulse[1] == 3);
    CU_ASSERT(m->ramp[2].device == 2 && m->ramp[2].g[0] == 2e-6);
    xb_meas_free(m);
}

/* ---- profile likelihood (calibration/fit.c) -------------------------------------------- */

typedef struct lin_ctx { size_t n; const double *x, *y; int expo; } lin_ctx;

static int lin_resid(const double *th, void *ctx, double *r)
{
    const lin_ctx *c = ctx;
    for (size_t i = 0; i < c->n; i++)
        r[i] = c->y[i] - (c->expo ? th[0] * exp(-th[1] * c->x[i]) : th[0] + th[1] * c->x[i]);
    return 0;
}

/* A model linear in theta has a quadratic profile: the profile interval equals the Wald
 * one (same t quantile and noise scale) to the root tolerance. For y = A exp(-k x) + noise
 * with few points (curved profile), the profile intervals cover the truth in 175..200 of
 * 200 seeds. */
static void test_profile_intervals(void)
{
    enum { N = 12, SEEDS = 200 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = i * 0.25;
    gsl_rng *r = xb_rng_gsl_alloc(1, XB_RNG_D2D, 99);
    for (int i = 0; i < N; i++) y[i] = 1 + 0.5 * x[i] + 0.2 * gsl_ran_gaussian(r, 1);
    lin_ctx c = { N, x, y, 0 };
    xb_fit_problem pb = { .n = N, .p = 2, .resid = lin_resid, .ctx = &c };
    xb_fit f;
    xb_err err = { 0 };
    const double th0[2] = { 0, 0 };
    CU_ASSERT_FATAL(xb_fit_solve(&pb, th0, &f, &err) == XB_OK);
    xb_fit g = f;
    int prof[XB_FIT_MAXP];
    CU_ASSERT_FATAL(xb_fit_profile(&pb, &g, XB_CI_PROFILE, prof, &err) == XB_OK);
    for (int k = 0; k < 2; k++) {
        CU_ASSERT(prof[k] == 1);
        const double w = f.hi[k] - f.lo[k];
        CU_ASSERT(fabs(g.lo[k] - f.lo[k]) < 1e-3 * w && fabs(g.hi[k] - f.hi[k]) < 1e-3 * w);
    }
    xb_fit h = f;                                 /* Wald mode: nothing changes */
    CU_ASSERT(xb_fit_profile(&pb, &h, XB_CI_WALD, prof, &err) == XB_OK && prof[0] == 0 && h.lo[0] == f.lo[0]);
    int cover[2] = { 0 };
    c.expo = 1;
    for (int s = 0; s < SEEDS; s++) {
        for (int i = 0; i < N; i++) y[i] = 2 * exp(-1.5 * x[i]) + 0.1 * gsl_ran_gaussian(r, 1);
        const double st[2] = { 1, 1 };
        CU_ASSERT_FATAL(xb_fit_solve(&pb, st, &f, &err) == XB_OK);
        CU_ASSERT_FATAL(xb_fit_profile(&pb, &f, XB_CI_PROFILE, prof, &err) == XB_OK);
        cover[0] += f.lo[0] <= 2 && 2 <= f.hi[0];
        cover[1] += f.lo[1] <= 1.5 && 1.5 <= f.hi[1];
    }
    gsl_rng_free(r);
    if (getenv("XB_TEST_VERBOSE")) printf("\n  profile coverage A %d/200, k %d/200", cover[0], cover[1]);
    CU_ASSERT(cover[0] >= 175 && cover[1] >= 175);
}

/* The --fix list parser shared by the stmram, ftj and dw fitters. */
static void test_fix_list(void)
{
    xb_err e;
    char k[32];
    double v = 0;
    const char *pos = NULL, *spec = "delta=45,i_c0=1.5e-4";
    CU_ASSERT_EQUAL(xb_fix_next(spec, &pos, k, &v, &e), XB_OK);
    CU_ASSERT_STRING_EQUAL(k, "delta");
    CU_ASSERT_DOUBLE_EQUAL(v, 45, 0);
    CU_ASSERT_EQUAL(xb_fix_next(spec, &pos, k, &v, &e), XB_OK);
    CU_ASSERT_STRING_EQUAL(k, "i_c0");
    CU_ASSERT_DOUBLE_EQUAL(v, 1.5e-4, 0);
    CU_ASSERT_EQUAL(xb_fix_next(spec, &pos, k, &v, &e), XB_OK);
    CU_ASSERT_STRING_EQUAL(k, "");                       /* exhausted */
    pos = NULL;
    CU_ASSERT_EQUAL(xb_fix_next(NULL, &pos, k, &v, &e), XB_OK);
    CU_ASSERT_STRING_EQUAL(k, "");
    const char *bad[] = { "delta", "delta=", "delta=-1", "delta=0", "delta=3x", "a=1,b" };
    const int nok[] = { 0, 0, 0, 0, 0, 1 };              /* good items before the error */
    for (size_t t = 0; t < sizeof bad / sizeof *bad; t++) {
        pos = NULL;
        for (int g = 0; g < nok[t]; g++) CU_ASSERT_EQUAL(xb_fix_next(bad[t], &pos, k, &v, &e), XB_OK);
        CU_ASSERT_NOT_EQUAL(xb_fix_next(bad[t], &pos, k, &v, &e), XB_OK);
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "--fix"));
    }
}

XB_SUITE(calibration, XB_TEST(test_fix_list), XB_TEST(test_profile_intervals), XB_TEST(test_read_pulses), XB_TEST(test_coverage_ftj), XB_TEST(test_coverage_dw), XB_TEST(test_coverage_softbounds), XB_TEST(test_coverage_linear),
         XB_TEST(test_coverage_expstep), XB_TEST(test_coverage_stmram), XB_TEST(test_coverage_hfox),
         XB_TEST(test_read_taox), XB_TEST(test_read_csv_columns_units),
         XB_TEST(test_read_mtj_and_relax), XB_TEST(test_read_lut), XB_TEST(test_malformed),
         XB_TEST(test_reader_out_of_memory), XB_TEST(test_predict_beats_defaults),
         XB_TEST(test_bootstrap_matches_jacobian))
