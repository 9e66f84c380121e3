/* tests/test_devices_phys.c: the physical device models against the closed forms of
 * DEVICES.md sections 2 (hfox), 4 (ftj), 5 (stmram) and 6 (dw). Expected values are
 * written from the document's formulas here, never taken from the code under test;
 * tolerances are 5 standard errors of the estimate at a fixed seed. */
#include <gsl/gsl_integration.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/xb_mem.h"
#include "devices/xb_stmram.h"
#include "tests/devtest.h"
#include "tests/xb_test.h"

#define M_PI_ 3.14159265358979323846
#define M_PI_SQ_4 (M_PI_ * M_PI_ / 4)

/* ---------------- hfox (DEVICES.md 2) ---------------- */

static const xb_device_type *hfox(void) { return xb_device_find("hfox"); }

static double w_mean(double t, double m1, double ts, double c1, double m2)
{
    return t < ts ? m1 * t + c1 : m2 * t + (m1 - m2) * ts + c1;
}

/* KS statistic of sorted x against the truncated CDF of d. */
static double ks_stat(const double *x, size_t n, const xb_dist *d)
{
    double D = 0;
    for (size_t i = 0; i < n; i++) {
        const double F = xb_dist_trunc_cdf(d, x[i]);
        D = fmax(D, fmax(F - (double)i / n, (double)(i + 1) / n - F));
    }
    return D;
}

static void test_hfox_d2d_distributions(void)
{
    enum { N = 100000 };
    double p[DT_MAXP];
    dt_defaults(hfox(), p);
    xb_bank *b = dt_bank(hfox(), p, N, 21);
    /* DEVICES.md section 2 table, scipy conventions */
    const xb_dist d[5] = {
        { XB_DIST_EXPON, 0, 3.7416e-5, 6.5647e-4, 3.74e-5, 0.0076 },
        { XB_DIST_LOGNORM, 0.80338, 0, 542.54, 41, 2000 },
        { XB_DIST_NORMAL, 0, 0.0052931, 0.053208, -0.15, 0.15 },
        { XB_DIST_EXPON, 0, 1.6e-34, 2.88905e-5, 0, 1.3e-4 },
        { XB_DIST_NORMAL, 0, 6988, 381.7, 6252, 7897 },
    };
    const char *names[5] = { "m1", "t_star", "c1", "m2", "R0" };
    double *x = xb_malloc(N * sizeof *x);
    double mean[5], median[5];
    for (int k = 0; k < 5; k++) {
        const float *f = dt_field(b, names[k]);
        long outside = 0;
        double s = 0;
        for (int j = 0; j < N; j++) {
            x[j] = f[j];
            s += x[j];
            const double tol = 1e-6 * fmax(fabs(d[k].lo), fabs(d[k].hi));
            outside += x[j] < d[k].lo - tol || x[j] > d[k].hi + tol;
        }
        qsort(x, N, sizeof *x, dt_cmp_double);
        mean[k] = s / N;
        median[k] = 0.5 * (x[N / 2 - 1] + x[N / 2]);
        const double D = ks_stat(x, N, &d[k]);
        /* asymptotic Kolmogorov: P(sqrt(N) D > 2.75) ~ 2 exp(-2 * 2.75^2) = 5.4e-7 (5 sigma) */
        if (sqrt(N) * D >= 2.75) fprintf(stderr, "\nKS %s: sqrt(N) D = %g\n", names[k], sqrt(N) * D);
        CU_ASSERT(sqrt(N) * D < 2.75);
        CU_ASSERT(outside == 0);
    }
    /* DEVICES.md: E[m1] ~ 6.94e-4, E[m2] ~ 2.74e-5, E[c1] ~ 0.0051, median t_star ~ 515
     * (3 significant digits: tolerance = 5 SE + half a unit of the last digit) */
    CU_ASSERT(fabs(mean[0] - 6.94e-4) <= 5 * 6.5e-4 / sqrt(N) + 0.005e-4);
    CU_ASSERT(fabs(mean[3] - 2.74e-5) <= 5 * 2.8e-5 / sqrt(N) + 0.005e-5);
    CU_ASSERT(fabs(mean[2] - 0.0051) <= 5 * 0.053 / sqrt(N) + 0.00005);
    /* SE of a median = 1 / (2 f(m) sqrt(N)), f(515) ~ 1.0e-3 per pulse -> 1.6 pulses */
    CU_ASSERT(fabs(median[1] - 515) <= 5 * 1.6 + 0.5);
    xb_free(x);
    xb_bank_free(b);
}

static void hfox_quiet(double *p)
{
    dt_defaults(hfox(), p);
    dt_set(hfox(), p, "noise_rtn", 0);
    dt_set(hfox(), p, "noise_flicker", 0);
}

/* Noise off: w = w_mean(t) of the cumulative clamped count, R = R0 e^w, after every step. */
static void test_hfox_mean_law(void)
{
    enum { N = 500, STEPS = 300 };
    double p[DT_MAXP];
    hfox_quiet(p);
    xb_bank *b = dt_bank(hfox(), p, N, 22);
    int16_t n[N];
    float g[N];
    long t[N] = { 0 }, bad = 0;
    const xb_rng r = xb_rng_for_row(1, XB_RNG_TEST, 0, 0, 0);
    for (uint32_t s = 0; s < STEPS; s++) {
        for (int j = 0; j < N; j++) {
            float u[4];
            xb_rng_u4(&r, (uint32_t)j, s, u);
            n[j] = (int16_t)(u[0] * 24) - 3;               /* -3 .. 20 */
            t[j] += n[j] < 0 ? 0 : n[j] > 14 ? 14 : n[j];
        }
        xb_bank_pulse(b, n);
        xb_bank_conductance(b, g, 1);
        for (int j = 0; j < N; j++) {
            const double wm = w_mean(t[j], dt_field(b, "m1")[j], dt_field(b, "t_star")[j],
                                     dt_field(b, "c1")[j], dt_field(b, "m2")[j]);
            const double R = dt_field(b, "R0")[j] * exp(wm);
            bad += dt_field(b, "t")[j] != t[j];
            bad += fabs(dt_field(b, "w")[j] - wm) > 1e-6;
            bad += fabs(g[j] * R - 1) > 1e-5;
        }
    }
    CU_ASSERT(bad == 0);
    xb_bank_free(b);
}

/* Continuity at t_star: single pulses through the knee; every increment of w is m1
 * before, m2 after, and the one across the knee lies between (no jump). */
static void test_hfox_knee_continuity(void)
{
    double p[DT_MAXP];
    hfox_quiet(p);
    dt_set(hfox(), p, "d2d", 0);                         /* medians: t_star ~ 542 */
    xb_bank *b = dt_bank(hfox(), p, 1, 1);
    const double m1 = dt_field(b, "m1")[0], m2 = dt_field(b, "m2")[0];
    const double ts = dt_field(b, "t_star")[0];
    CU_ASSERT(ts > 100 && ts < 1000 && m1 > m2);
    int16_t n[1];
    double prev = dt_field(b, "w")[0];
    long bad = 0;
    for (int k = 1; k <= 1000; k++) {
        dt_pulse_all(b, n, 1);
        const double w = dt_field(b, "w")[0], dw = w - prev;
        const double lo = k - 1 >= ts ? m2 : k <= ts ? m1 : m2, hi = k <= ts ? m1 : k - 1 >= ts ? m2 : m1;
        bad += dw < lo - 1e-6 || dw > hi + 1e-6;
        prev = w;
    }
    CU_ASSERT(bad == 0);
    /* both sides of the knee from the law itself */
    CU_ASSERT(fabs(w_mean(ts - 1e-9, m1, ts, 0, m2) - w_mean(ts, m1, ts, 0, m2)) < 1e-9);
    xb_bank_free(b);
}

/* RTN: from the low state, P(high after k pulses) = pi (1 - lambda^k), pi = p_lh/(p_lh+p_hl)
 * = 0.2857, lambda = 1 - p_lh - p_hl; mean value given high = A/4. Zero-pulse update
 * calls redraw the value only. */
static void test_hfox_rtn(void)
{
    enum { N = 20000 };
    double p[DT_MAXP];
    dt_defaults(hfox(), p);
    dt_set(hfox(), p, "noise_flicker", 0);
    xb_bank *b = dt_bank(hfox(), p, N, 23);
    int16_t n[N];
    const double a = 8e-4, c = 2e-3, pi = a / (a + c), lam = 1 - a - c;
    CU_ASSERT(fabs(pi - 0.2857) < 1e-4);
    for (int s = 1; s <= 200; s++) {
        dt_pulse_all(b, n, 14);
        if (s != 20 && s != 200) continue;
        const double want = pi * (1 - pow(lam, 14.0 * s));
        const float *st = dt_field(b, "rtn_state"), *v = dt_field(b, "rtn_value"), *A = dt_field(b, "rtn_amp");
        long high = 0;
        double rel = 0;
        for (int j = 0; j < N; j++)
            if (st[j] != 0) { high++; rel += v[j] / A[j]; }
        CU_ASSERT(fabs((double)high / N - want) <= 5 * sqrt(want * (1 - want) / N));
        /* U U' has mean 1/4, variance 1/9 - 1/16 = 7/144 */
        CU_ASSERT(fabs(rel / high - 0.25) <= 5 * sqrt(7.0 / 144 / high));
    }
    /* a zero step: t and the chain state stay, the value of high devices is redrawn */
    const size_t bytes = N * sizeof(float);
    float *t0 = xb_malloc(bytes), *s0 = xb_malloc(bytes), *v0 = xb_malloc(bytes);
    memcpy(t0, dt_field(b, "t"), bytes);
    memcpy(s0, dt_field(b, "rtn_state"), bytes);
    memcpy(v0, dt_field(b, "rtn_value"), bytes);
    dt_pulse_all(b, n, 0);
    CU_ASSERT(memcmp(t0, dt_field(b, "t"), bytes) == 0);
    CU_ASSERT(memcmp(s0, dt_field(b, "rtn_state"), bytes) == 0);
    long changed = 0, high = 0;
    for (int j = 0; j < N; j++) { high += s0[j] != 0; changed += v0[j] != dt_field(b, "rtn_value")[j]; }
    CU_ASSERT(high > 1000 && changed >= high - 5);
    xb_free(t0); xb_free(s0); xb_free(v0);
    xb_bank_free(b);
}

/* rtn_redraw_on_read: a noisy read redraws the RTN value of high-state devices only,
 * within [0, A]; noiseless reads and low-state devices are untouched. */
static void test_hfox_rtn_on_read(void)
{
    enum { N = 20000 };
    double p[DT_MAXP];
    dt_defaults(hfox(), p);
    dt_set(hfox(), p, "noise_flicker", 0);
    dt_set(hfox(), p, "rtn_redraw_on_read", 1);
    xb_bank *b = dt_bank(hfox(), p, N, 25);
    int16_t n[N];
    float g0[N], g1[N];
    for (int s = 0; s < 60; s++) dt_pulse_all(b, n, 14);
    xb_bank_conductance(b, g0, 0);
    xb_bank_conductance(b, g1, 1);
    long high = 0, changed = 0, bad = 0;
    for (int j = 0; j < N; j++) {
        const int h = dt_field(b, "rtn_state")[j] != 0;
        const double wn = -log(g1[j] * dt_field(b, "R0")[j]);      /* w of the noisy read */
        const double base = dt_field(b, "w")[j] - dt_field(b, "rtn_value")[j];
        high += h;
        changed += g1[j] != g0[j];
        bad += h ? (wn < base - 1e-5 || wn > base + dt_field(b, "rtn_amp")[j] + 1e-5) : g1[j] != g0[j];
    }
    CU_ASSERT(high > 1000 && changed >= high - 5 && bad == 0);
    xb_bank_free(b);
}

/* 1/f: the noise w - w_mean after >= 15 pulses has mean alpha/2 sum b_k = 0.0542 and
 * sd alpha sqrt(sum b_k^2 / 12) = 0.0100; after 3 pulses only b_0..b_2 carry samples. */
static void test_hfox_flicker(void)
{
    enum { N = 20000, K = 15 };
    double p[DT_MAXP];
    dt_defaults(hfox(), p);
    dt_set(hfox(), p, "noise_rtn", 0);
    xb_bank *b = dt_bank(hfox(), p, N, 24);
    int16_t n[N];
    double bk[K], sb = 0, sb2 = 0, sb3 = 0;
    for (int k = 0; k < K; k++) {
        bk[k] = k == 0 ? 1 : bk[k - 1] * (k - 0.5) / k;
        sb += bk[k];
        sb2 += bk[k] * bk[k];
        if (k < 3) sb3 += bk[k];
    }
    const double alpha = 0.025;
    for (int step = 0; step < 3; step++) {
        dt_pulse_all(b, n, step == 0 ? 3 : 14);       /* 3, then 17 and 31 pulses */
        double s = 0, s2 = 0;
        for (int j = 0; j < N; j++) {
            const double wm = w_mean(dt_field(b, "t")[j], dt_field(b, "m1")[j], dt_field(b, "t_star")[j],
                                     dt_field(b, "c1")[j], dt_field(b, "m2")[j]);
            const double x = dt_field(b, "w")[j] - wm;
            s += x; s2 += x * x;
        }
        const double m = s / N, sd = sqrt(s2 / N - m * m);
        if (step == 0) {
            CU_ASSERT(fabs(m - alpha * 0.5 * sb3) <= 5 * alpha * sqrt(1.5 / 12 / N) + 1e-6);
            continue;
        }
        const double sd_want = alpha * sqrt(sb2 / 12);
        CU_ASSERT(fabs(m - alpha * 0.5 * sb) <= 5 * sd_want / sqrt(N) + 1e-6);
        CU_ASSERT(fabs(sd - sd_want) <= 5 * sd_want / sqrt(2.0 * N) + 1e-6);
        CU_ASSERT(fabs(m - 0.0542) <= 5 * sd_want / sqrt(N) + 0.00005);     /* DEVICES.md */
        CU_ASSERT(fabs(sd - 0.0100) <= 5 * sd_want / sqrt(2.0 * N) + 0.00005);
    }
    xb_bank_free(b);
}

/* ---------------- stmram (DEVICES.md 5) ---------------- */

static const xb_device_type *mram(void) { return xb_device_find("stmram"); }

static void mram_plain(double *p)
{
    dt_defaults(mram(), p);
    dt_set(mram(), p, "r_p_dtod", 0);
    dt_set(mram(), p, "tmr_dtod", 0);
    dt_set(mram(), p, "delta_dtod", 0);
    dt_set(mram(), p, "i_c0_dtod", 0);
}

/* WER from DEVICES.md 5, joined as stmram.c documents (thermal below I_c0; above it the
 * smaller of the barrier-free thermal rate e^(-t/tau0) and the precessional WER). */
static double wer_doc(double I, double t, double delta, double ic0, double tau0, double taud)
{
    const double x = I / ic0;
    if (x <= 1) return exp(-t / (tau0 * exp(delta * (1 - x))));
    const double pr = -expm1(-(M_PI_SQ_4 * delta) * exp(-2 * (x - 1) * t / taud));   /* 1 - e^-y */
    return fmin(exp(-t / tau0), pr);
}

static void test_stmram_switching_frequency(void)
{
    enum { N = 100000 };
    static const struct { double x, t, tau0; } op[] = {
        { 0.8, 5e-6, 1e-9 },       /* thermal: P = 1 - exp(-t / (tau0 e^(0.2 Delta))) ~ 0.46 */
        { 2.0, 2.5e-9, 1e-6 },     /* precessional ~ 0.47 */
        { 2.0, 3.5e-9, 1e-6 },     /* precessional ~ 0.90 */
        { 1.5, 5e-9, 1e-9 },       /* above I_c0, thermal wins: 1 - e^-5 */
    };
    for (size_t k = 0; k < sizeof op / sizeof *op; k++) {
        double p[DT_MAXP];
        mram_plain(p);
        dt_set(mram(), p, "init_ap", 1);
        dt_set(mram(), p, "i_write", op[k].x * 50e-6);
        dt_set(mram(), p, "t_write", op[k].t);
        dt_set(mram(), p, "tau0", op[k].tau0);
        xb_bank *b = dt_bank(mram(), p, N, 30 + (uint32_t)k);
        int16_t *n = xb_malloc(N * sizeof *n);
        dt_pulse_all(b, n, +1);                          /* AP -> P */
        long sw = 0;
        for (int j = 0; j < N; j++) sw += dt_field(b, "bit")[j] == 0;
        const double P = 1 - wer_doc(op[k].x * 50e-6, op[k].t, 45, 50e-6, op[k].tau0, 1e-9);
        CU_ASSERT(P > 0.3 && P < 0.999);
        if (fabs((double)sw / N - P) > 5 * sqrt(P * (1 - P) / N))
            fprintf(stderr, "\nstmram op %zu: freq %g vs P_sw %g\n", k, (double)sw / N, P);
        CU_ASSERT(fabs((double)sw / N - P) <= 5 * sqrt(P * (1 - P) / N));
        CU_ASSERT(fabs(xb_stmram_wer(p, op[k].x * 50e-6, op[k].t) - (1 - P)) <= 1e-9);
        xb_free(n);
        xb_bank_free(b);
    }
}

/* WER is non-increasing in I and in t over a grid spanning both regimes, and tiny WERs
 * are resolved (no rounding to 0 before 1e-300). */
static void test_stmram_wer_monotone(void)
{
    double p[DT_MAXP];
    mram_plain(p);
    long bad = 0;
    for (int it = 0; it < 60; it++) {
        const double t = 1e-10 * pow(10, it / 12.0);            /* 0.1 ns .. 10 us */
        double prev = 2;
        for (int ii = 0; ii <= 200; ii++) {
            const double I = 50e-6 * (0.1 + ii * 0.025);           /* 0.1 .. 5.1 I_c0 */
            const double w = xb_stmram_wer(p, I, t);
            const double wd = wer_doc(I, t, 45, 50e-6, 1e-9, 1e-9);
            const int b1 = !(w >= 0 && w <= 1) || w > prev * (1 + 1e-12);
            const int b2 = fabs(w - wd) > 1e-9 * fmax(w, 1e-300);
            const int b3 = it > 0 && w > xb_stmram_wer(p, I, 1e-10 * pow(10, (it - 1) / 12.0)) * (1 + 1e-12);
            if ((b1 || b2 || b3) && bad < 3)
                fprintf(stderr, "\nWER(I=%g, t=%g) = %g (doc %g): %d%d%d\n", I, t, w, wd, b1, b2, b3);
            bad += b1 + b2 + b3;
            prev = w;
        }
    }
    CU_ASSERT(bad == 0);
    CU_ASSERT(xb_stmram_wer(p, 100e-6, 10e-9) > 0 && xb_stmram_wer(p, 100e-6, 10e-9) < 1e-6);
}

/* Direct mode: write failures ~ Binomial(N, ber_write), persistent; read errors ~
 * Binomial(N, ber_read), transient. */
static void test_stmram_direct_mode(void)
{
    enum { N = 100000 };
    double p[DT_MAXP];
    mram_plain(p);
    dt_set(mram(), p, "mode", 1);
    dt_set(mram(), p, "init_ap", 1);
    dt_set(mram(), p, "ber_write", 0.01);
    dt_set(mram(), p, "ber_read", 0.05);
    xb_bank *b = dt_bank(mram(), p, N, 40);
    int16_t *n = xb_malloc(N * sizeof *n);
    float *g = xb_malloc(N * sizeof *g);
    dt_pulse_all(b, n, +1);
    long fail = 0;
    for (int j = 0; j < N; j++) fail += dt_field(b, "bit")[j] != 0;
    CU_ASSERT(fabs(fail - N * 0.01) <= 5 * sqrt(N * 0.01 * 0.99));
    xb_bank_conductance(b, g, 1);
    long wrong = 0, still = 0;
    for (int j = 0; j < N; j++) {
        const int bit = dt_field(b, "bit")[j] != 0;
        const double gbit = bit ? 1 / (5e3 * 2.5) : 1 / 5e3;
        wrong += fabs(g[j] - gbit) > 1e-6 * gbit;
        still += bit;
    }
    CU_ASSERT(fabs(wrong - N * 0.05) <= 5 * sqrt(N * 0.05 * 0.95));
    CU_ASSERT(still == fail);                          /* reads did not change any bit */
    xb_free(n); xb_free(g);
    xb_bank_free(b);
}

/* Physical read BER: p = p_disturb + Q((G_P - G_AP)/2 / (sense_noise G_P)); with TMR 1.5 and
 * sense_noise 0.3 the margin is 0.3 G_P, so p = Q(1) = 0.158655 (disturb ~ 1e-24). Also a
 * pulse_amp_row write: 0.5 V on AP (12.5 kohm) is 40 uA = 0.8 I_c0, as operating point 0. */
static void test_stmram_read_ber_and_amp(void)
{
    enum { N = 100000 };
    double p[DT_MAXP];
    mram_plain(p);
    dt_set(mram(), p, "sense_noise", 0.3);
    dt_set(mram(), p, "init_ap", 1);
    xb_bank *b = dt_bank(mram(), p, N, 42);
    float *g = xb_malloc(N * sizeof *g), *v = xb_malloc(N * sizeof *v);
    xb_bank_conductance(b, g, 1);
    long wrong = 0;
    for (int j = 0; j < N; j++) wrong += fabs(g[j] - 1 / 12.5e3) > 1e-9;
    const double P = 0.158655;
    CU_ASSERT(fabs((double)wrong / N - P) <= 5 * sqrt(P * (1 - P) / N));
    for (int j = 0; j < N; j++) v[j] = 0.5f;
    const xb_rng r = xb_rng_for_row(42, XB_RNG_C2C, 0, 0, 3);
    mram()->pulse_amp_row(&b->row, b->p, v, 5e-6, &r);
    long sw = 0;
    for (int j = 0; j < N; j++) sw += dt_field(b, "bit")[j] == 0;
    const double Ps = 1 - wer_doc(40e-6, 5e-6, 45, 50e-6, 1e-9, 1e-9);
    CU_ASSERT(fabs((double)sw / N - Ps) <= 5 * sqrt(Ps * (1 - Ps) / N));
    xb_free(g); xb_free(v);
    xb_bank_free(b);
}

/* Retention: a bit flips within dt with 1 - exp(-dt / (tau0 e^Delta)). */
static void test_stmram_retention(void)
{
    enum { N = 100000 };
    double p[DT_MAXP];
    mram_plain(p);
    dt_set(mram(), p, "delta", 10);
    xb_bank *b = dt_bank(mram(), p, N, 41);
    const double tau = 1e-9 * exp(10.0), P = 1 - exp(-1.0);
    const xb_rng r = xb_rng_for_row(41, XB_RNG_C2C, 0, 0, 999);
    mram()->drift_row(&b->row, b->p, tau, &r);
    long fl = 0;
    for (int j = 0; j < N; j++) fl += dt_field(b, "bit")[j] != 0;
    CU_ASSERT(fabs((double)fl / N - P) <= 5 * sqrt(P * (1 - P) / N));
    xb_bank_free(b);
}

/* ---------------- ftj (DEVICES.md 4) ---------------- */

static const xb_device_type *ftj(void) { return xb_device_find("ftj"); }

/* Homogeneous tau (w_L = 0, no V_a spread), n = 1: E[s_k] = 1 - (1 - s0) exp(-k t_p/tau),
 * tau = tau_inf exp((V_a/V)^kappa); Var[s_1] = p (1 - p)/N_d from s = 0. Conductance is
 * s G_ON + (1 - s) G_OFF. Negative pulses empty the up population symmetrically. */
static void test_ftj_homogeneous(void)
{
    enum { N = 20000, ND = 100 };
    double p[DT_MAXP];
    dt_defaults(ftj(), p);
    dt_set(ftj(), p, "w_l", 0);
    dt_set(ftj(), p, "v_a_dtod", 0);
    dt_set(ftj(), p, "g_on_dtod", 0);
    xb_bank *b = dt_bank(ftj(), p, N, 50);
    int16_t n[N];
    float g[N];
    const double tau = 1e-12 * exp(9.0), tp = 1e-9, q = exp(-tp / tau);
    long bad = 0;
    float *prev = xb_malloc(N * sizeof *prev);
    memcpy(prev, dt_field(b, "s"), N * sizeof *prev);
    for (int k = 1; k <= 12; k++) {
        dt_pulse_all(b, n, 1);
        const float *s = dt_field(b, "s");
        double m = 0, m2 = 0;
        for (int j = 0; j < N; j++) { m += s[j]; m2 += (double)s[j] * s[j]; bad += s[j] < prev[j]; }
        memcpy(prev, s, N * sizeof *prev);
        m /= N;
        const double v = m2 / N - m * m, P = 1 - pow(q, k);
        CU_ASSERT(fabs(m - P) <= 5 * sqrt(P * (1 - P) / ((double)N * ND)));
        if (k == 1) CU_ASSERT(fabs(v - P * (1 - P) / ND) <= 5 * (P * (1 - P) / ND) * sqrt(2.0 / N));
    }
    CU_ASSERT(bad == 0);                                 /* partial switching accumulates */
    xb_bank_conductance(b, g, 0);
    for (int j = 0; j < N; j++) {
        const double s = dt_field(b, "s")[j], want = s * 1e-6 + (1 - s) * 1e-6 / 2.65;
        bad += fabs(g[j] - want) > 1e-6 * want;
    }
    CU_ASSERT(bad == 0);
    /* down pulses: the up fraction decays as s_k = s_12 q^k in expectation */
    double s12 = 0;
    for (int j = 0; j < N; j++) s12 += dt_field(b, "s")[j];
    s12 /= N;
    for (int k = 1; k <= 3; k++) dt_pulse_all(b, n, -1);
    double m = 0;
    for (int j = 0; j < N; j++) m += dt_field(b, "s")[j];
    m /= N;
    const double P = s12 * pow(q, 3);
    CU_ASSERT(fabs(m - P) <= 5 * sqrt(0.25 / ((double)N * ND)));
    xb_free(prev);
    xb_bank_free(b);
}

/* NLS: with Lorentzian log10 tau (half-width w_L, clipped at +-8 decades), one pulse of
 * width t from s = 0 gives E[s] = int (1 - exp(-t/tau_m 10^-d)) Cauchy(d; w_L) dd. */
typedef struct { double a, wl; } nls_arg;
static double nls_integrand(double d, void *v)
{
    const nls_arg *A = v;
    return -expm1(-A->a * pow(10, -d)) * (A->wl / M_PI_) / (d * d + A->wl * A->wl);
}

static void test_ftj_nls_law(void)
{
    enum { N = 5000, ND = 100 };
    double p[DT_MAXP];
    const double wl = 0.5, tau = 1e-12 * exp(9.0);
    dt_defaults(ftj(), p);
    dt_set(ftj(), p, "v_a_dtod", 0);
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(1000);
    const double widths[3] = { 1e-10, 1e-9, 1e-8 };
    float v[N];
    for (int j = 0; j < N; j++) v[j] = 1.0f;
    for (int k = 0; k < 3; k++) {
        xb_bank *b = dt_bank(ftj(), p, N, 60 + (uint32_t)k);
        const xb_rng r = xb_rng_for_row(60, XB_RNG_C2C, 0, 0, 1);
        ftj()->pulse_amp_row(&b->row, b->p, v, widths[k], &r);
        double m = 0;
        for (int j = 0; j < N; j++) m += dt_field(b, "s")[j];
        m /= N;
        nls_arg A = { widths[k] / tau, wl };
        gsl_function f = { nls_integrand, &A };
        double want, err;
        gsl_integration_qags(&f, -8, 8, 0, 1e-10, 1000, ws, &want, &err);
        want += 0.5 - atan(8 / wl) / M_PI_;              /* tail below -8: always switched */
        CU_ASSERT(fabs(m - want) <= 5 * sqrt(want * (1 - want) / ((double)N * ND)) + 1e-6);
        xb_bank_free(b);
    }
    gsl_integration_workspace_free(ws);
}

/* ---------------- dw (DEVICES.md 6) ---------------- */

static const xb_device_type *dwt(void) { return xb_device_find("dw"); }

/* Programmed G per state: mean G(x_k), variance (G_P - G_AP)^2 sigma^2 inside the track;
 * at the end sites the clipped normal gives mean offset sigma/sqrt(2 pi) and variance
 * sigma^2 (1/2 - 1/(2 pi)). */
static void test_dw_program_levels(void)
{
    enum { N = 100000, S = 5 };
    double p[DT_MAXP];
    dt_defaults(dwt(), p);
    const double gp = 1e-5, gap = 5e-6, sg = 0.05;
    xb_bank *b = dt_bank(dwt(), p, N, 70);
    float *tg = xb_malloc(N * sizeof *tg), *g = xb_malloc(N * sizeof *g);
    for (int k = 0; k < S; k++) {
        const double xk = (double)k / (S - 1);
        for (int j = 0; j < N; j++) tg[j] = (float)(xk * gp + (1 - xk) * gap);
        const xb_rng r = xb_rng_for_row(70, XB_RNG_C2C, 0, 0, 100 + (uint32_t)k);
        const double e = dwt()->program_row(&b->row, b->p, tg, &r);
        CU_ASSERT(fabs(e - N * 5e-15) <= 1e-9 * N * 5e-15);
        xb_bank_conductance(b, g, 0);
        double m = 0, m2 = 0;
        for (int j = 0; j < N; j++) { m += g[j]; m2 += (double)g[j] * g[j]; }
        m /= N;
        const double var = m2 / N - m * m;
        double mx = xk, vx = sg * sg;
        if (k == 0) { mx = sg / sqrt(2 * M_PI_); vx = sg * sg * (0.5 - 1 / (2 * M_PI_)); }
        if (k == S - 1) { mx = 1 - sg / sqrt(2 * M_PI_); vx = sg * sg * (0.5 - 1 / (2 * M_PI_)); }
        const double mw = mx * gp + (1 - mx) * gap, vw = (gp - gap) * (gp - gap) * vx;
        CU_ASSERT(fabs(m - mw) <= 5 * sqrt(vw / N));
        CU_ASSERT(fabs(var - vw) <= 5 * vw * sqrt(3.0 / N));
    }
    xb_free(tg); xb_free(g);
    xb_bank_free(b);
}

/* Zero spread: program -> read returns the exact level; quantisation picks the nearest. */
static void test_dw_exact_levels(void)
{
    enum { S = 3 };
    double p[DT_MAXP];
    dt_defaults(dwt(), p);
    dt_set(dwt(), p, "sigma", 0);
    dt_set(dwt(), p, "states", S);
    xb_bank *b = dt_bank(dwt(), p, 4, 71);
    const float tg[4] = { 5e-6f, 7.4e-6f, 7.6e-6f, 2e-5f };   /* -> sites 0, 1, 1, 2 */
    const double want[4] = { 5e-6, 7.5e-6, 7.5e-6, 1e-5 };
    float g[4];
    const xb_rng r = xb_rng_for_row(71, XB_RNG_C2C, 0, 0, 1);
    dwt()->program_row(&b->row, b->p, tg, &r);
    xb_bank_conductance(b, g, 0);
    for (int j = 0; j < 4; j++) CU_ASSERT(fabs(g[j] - want[j]) <= 1e-6 * want[j]);
    xb_bank_free(b);
}

/* Stepping: from site 2 of 5, one + pulse moves the wall with p_depin; at the end of the
 * track pulses do nothing; p_miss lands on either neighbour with p_miss/2 each. */
static void test_dw_stepping(void)
{
    enum { N = 100000 };
    double p[DT_MAXP];
    dt_defaults(dwt(), p);
    dt_set(dwt(), p, "sigma", 0);
    dt_set(dwt(), p, "p_depin", 0.3);
    dt_set(dwt(), p, "k_init", 2);
    xb_bank *b = dt_bank(dwt(), p, N, 72);
    int16_t *n = xb_malloc(N * sizeof *n);
    dt_pulse_all(b, n, 1);
    long moved = 0, bad = 0;
    for (int j = 0; j < N; j++) {
        const float k = dt_field(b, "k")[j];
        moved += k == 3;
        bad += k != 2 && k != 3;
    }
    CU_ASSERT(bad == 0);
    CU_ASSERT(fabs(moved - 0.3 * N) <= 5 * sqrt(N * 0.3 * 0.7));
    xb_bank_free(b);
    dt_set(dwt(), p, "k_init", 4);                   /* end of track */
    b = dt_bank(dwt(), p, N, 73);
    dt_pulse_all(b, n, 7);
    for (int j = 0; j < N; j++) bad += dt_field(b, "k")[j] != 4 || dt_field(b, "x")[j] != 1;
    CU_ASSERT(bad == 0);
    xb_bank_free(b);
    dt_set(dwt(), p, "k_init", 0);
    dt_set(dwt(), p, "p_miss", 0.2);
    b = dt_bank(dwt(), p, N, 74);
    float *tg = xb_malloc(N * sizeof *tg);
    for (int j = 0; j < N; j++) tg[j] = 7.5e-6f;     /* site 2 */
    const xb_rng r = xb_rng_for_row(74, XB_RNG_C2C, 0, 0, 1);
    dwt()->program_row(&b->row, b->p, tg, &r);
    long lo = 0, hi = 0;
    for (int j = 0; j < N; j++) { lo += dt_field(b, "k")[j] == 1; hi += dt_field(b, "k")[j] == 3; }
    CU_ASSERT(fabs(lo - 0.1 * N) <= 5 * sqrt(N * 0.1 * 0.9));
    CU_ASSERT(fabs(hi - 0.1 * N) <= 5 * sqrt(N * 0.1 * 0.9));
    xb_free(tg); xb_free(n);
    xb_bank_free(b);
}

/* ---------------- vdsp (DEVICES.md 3) ---------------- */

/* TiO2 at w = 0.5, v = -2 V: dw = 0.5^1.67958 |e^(-0.67896 (-0.56767)) - 1| = 0.1468;
 * nothing in the window [-v_th, v_th r_v]; no potentiation at w = 1; depression grows
 * with v. */
static void test_vdsp_law(void)
{
    const xb_device_type *T = xb_device_find("vdsp");
    double p[DT_MAXP];
    dt_defaults(T, p);
    const float v[8] = { -2.0f, -1.40f, 0.0f, 1.55f, 1.7f, 2.0f, 2.5f, -2.0f };
    xb_bank *b = dt_bank(T, p, 8, 80);
    dt_field(b, "w")[7] = 1;
    const xb_rng r = xb_rng_for_row(80, XB_RNG_C2C, 0, 0, 1);
    T->pulse_amp_row(&b->row, b->p, v, 1e-7, &r);
    const float *w = dt_field(b, "w");
    CU_ASSERT(fabs(w[0] - 0.5 - 0.1468) <= 0.00006);
    const double want = pow(0.5, 1.67958) * fabs(exp(-0.67896 * (-2 + 1.43233)) - 1);
    CU_ASSERT(fabs(w[0] - 0.5 - want) <= 1e-6);
    CU_ASSERT(w[1] == 0.5f && w[2] == 0.5f && w[3] == 0.5f);      /* 1.55 < 1.43233 * 1.09212 */
    CU_ASSERT(w[4] < 0.5f && w[5] < w[4] && w[6] < w[5]);
    const double dd = -pow(0.5, 1.67958 * 0.94386) * fabs(exp(0.67896 * 1.12480 * (2.0 - 1.43233 * 1.09212)) - 1);
    CU_ASSERT(fabs(w[5] - 0.5 - dd) <= 1e-6);
    CU_ASSERT(w[7] == 1.0f);
    xb_bank_free(b);
}

/* ---------------- pcm (DEVICES.md 7) ---------------- */

/* Programming at G_T = g_max/2: mean G_T, sd 0.26348 + 1.9650/2 - 1.1731/4 = 0.952705 uS;
 * nu: mean clip(-0.0155 ln 0.5 + 0.0244, 0.049, 0.1) = 0.049, sd 0.008 (clipped);
 * drift: log-log slope of G(t) is -nu for every device. */
static void test_pcm_program_and_drift(void)
{
    enum { N = 100000 };
    const xb_device_type *T = xb_device_find("pcm");
    double p[DT_MAXP];
    dt_defaults(T, p);
    xb_bank *b = dt_bank(T, p, N, 90);
    float *tg = xb_malloc(N * sizeof *tg), *g1 = xb_malloc(N * sizeof *g1), *g2 = xb_malloc(N * sizeof *g2);
    for (int j = 0; j < N; j++) tg[j] = 12.5e-6f;
    const xb_rng r = xb_rng_for_row(90, XB_RNG_C2C, 0, 0, 1);
    T->program_row(&b->row, b->p, tg, &r);
    double m = 0, m2 = 0, nm = 0, nm2 = 0;
    for (int j = 0; j < N; j++) {
        const double x = dt_field(b, "G_prog")[j], nu = dt_field(b, "nu")[j];
        m += x; m2 += x * x; nm += nu; nm2 += nu * nu;
    }
    m /= N; nm /= N;
    const double sd = sqrt(m2 / N - m * m), nsd = sqrt(nm2 / N - nm * nm), sw = 0.952705e-6;
    CU_ASSERT(fabs(m - 12.5e-6) <= 5 * sw / sqrt(N));
    CU_ASSERT(fabs(sd - sw) <= 5 * sw / sqrt(2.0 * N));
    CU_ASSERT(fabs(nm - 0.049) <= 5 * 0.008 / sqrt(N));
    CU_ASSERT(fabs(nsd - 0.008) <= 5 * 0.008 / sqrt(2.0 * N));
    const xb_rng d = xb_rng_for_row(90, XB_RNG_C2C, 0, 0, 2);
    T->drift_row(&b->row, b->p, 980, &d);              /* t = 980 s: (t + t0)/t0 = 50 */
    xb_bank_conductance(b, g1, 0);
    T->drift_row(&b->row, b->p, 9000, &d);             /* t = 9980 s: 500 */
    xb_bank_conductance(b, g2, 0);
    long bad = 0;
    for (int j = 0; j < N; j++) {
        if (!(g1[j] > 0)) continue;
        const double slope = log((double)g2[j] / g1[j]) / log(10.0);
        bad += fabs(slope + dt_field(b, "nu")[j]) > 1e-5;
    }
    CU_ASSERT(bad == 0);
    xb_free(tg); xb_free(g1); xb_free(g2);
    xb_bank_free(b);
}

XB_SUITE(devices_phys, XB_TEST(test_hfox_d2d_distributions), XB_TEST(test_hfox_mean_law),
         XB_TEST(test_hfox_knee_continuity), XB_TEST(test_hfox_rtn), XB_TEST(test_hfox_rtn_on_read), XB_TEST(test_hfox_flicker),
         XB_TEST(test_stmram_switching_frequency), XB_TEST(test_stmram_wer_monotone),
         XB_TEST(test_stmram_direct_mode), XB_TEST(test_stmram_read_ber_and_amp), XB_TEST(test_stmram_retention),
         XB_TEST(test_ftj_homogeneous), XB_TEST(test_ftj_nls_law),
         XB_TEST(test_dw_program_levels), XB_TEST(test_dw_exact_levels), XB_TEST(test_dw_stepping), XB_TEST(test_vdsp_law), XB_TEST(test_pcm_program_and_drift))
