/* tests/test_devices.c: properties every registered device model must have (loop over
 * xb_device_types), the reference pulsed models against DEVICES.md section 1, faults,
 * and hand-computed pulse energies. Physical models: tests/test_devices_phys.c. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "tests/devtest.h"
#include "tests/xb_test.h"

/* Random signed counts for step `step` (ONE_WAY: 0..20, to exercise the clamp). */
static void random_counts(const xb_device_type *T, size_t n, uint32_t stream, uint32_t step,
                          int16_t *out)
{
    const xb_rng r = xb_rng_for_row(99, XB_RNG_TEST, stream, step, 0);
    for (size_t j = 0; j < n; j++) {
        float u[4];
        xb_rng_u4(&r, (uint32_t)j, 0, u);
        out[j] = (T->flags & XB_DEV_ONE_WAY) ? (int16_t)(u[0] * 21) : (int16_t)(u[0] * 9) - 4;
    }
}

/* Parameters that make every model reach its bounds quickly. */
static void stress_params(const xb_device_type *T, double *p)
{
    dt_defaults(T, p);
    if (dt_has(T, "dw_min")) { dt_set(T, p, "dw_min", 0.05); dt_set(T, p, "dw_min_std", 1.0); }
    if (!strcmp(T->name, "dw")) { dt_set(T, p, "sigma", 0.3); dt_set(T, p, "p_miss", 0.2); }
    if (!strcmp(T->name, "stmram")) dt_set(T, p, "i_write", 60e-6);   /* WER ~ 0.5 */
    if (!strcmp(T->name, "vdsp")) { dt_set(T, p, "switching_prob", 0.7); dt_set(T, p, "var_dw", 0.5); }
}

/* Model-specific invariants of device j; NULL or what is violated. */
static const char *state_violation(const xb_bank *b, const float *g, size_t j)
{
    const char *nm = b->type->name;
    if (!(isfinite(g[j]) && g[j] >= 0)) return "conductance not finite and non-negative";
    if (b->type->init_row == xb_device_find("linear")->init_row ||
        b->type->pulse_row == xb_device_find("softbounds")->pulse_row ||
        b->type->pulse_row == xb_device_find("expstep")->pulse_row) {
        const float w = dt_field(b, "w")[j];
        return w >= dt_field(b, "b_min")[j] && w <= dt_field(b, "b_max")[j] ? NULL : "w outside [b_min, b_max]";
    }
    if (!strcmp(nm, "hfox")) {
        const float w = dt_field(b, "w")[j], c1 = dt_field(b, "c1")[j], r0 = dt_field(b, "R0")[j];
        if (w < c1 - 1e-6f) return "hfox: w below its t = 0 value c1 (resets only raise R)";
        return g[j] <= 1.0 / (r0 * exp(c1)) * (1 + 1e-5) ? NULL : "hfox: G above 1/(R0 e^c1)";
    }
    if (!strcmp(nm, "stmram")) {
        const double rp = dt_field(b, "R_P")[j], tmr = dt_field(b, "TMR")[j];
        const float bit = dt_field(b, "bit")[j];
        if (bit != 0 && bit != 1) return "stmram: bit not 0/1";
        const double want = bit ? 1 / (rp * (1 + tmr)) : 1 / rp;
        return fabs(g[j] - want) <= 1e-6 * want ? NULL : "stmram: G not the level of its bit";
    }
    if (!strcmp(nm, "ftj")) {
        const double s = dt_field(b, "s")[j], gon = dt_field(b, "G_ON")[j];
        const double goff = gon / b->p[xb_param_index(b->type->params, b->type->nparams, "on_off")];
        if (!(s >= 0 && s <= 1)) return "ftj: s outside [0, 1]";
        return g[j] >= goff * (1 - 1e-6) && g[j] <= gon * (1 + 1e-6) ? NULL : "ftj: G outside [G_OFF, G_ON]";
    }
    if (!strcmp(nm, "dw")) {
        const float x = dt_field(b, "x")[j], k = dt_field(b, "k")[j];
        const double top = b->p[xb_param_index(b->type->params, b->type->nparams, "states")] - 1;
        if (!(x >= 0 && x <= 1)) return "dw: x outside [0, 1]";
        if (!(k >= 0 && k <= top && k == floorf(k))) return "dw: k not a site";
        const double gp = dt_field(b, "G_P")[j], gap = dt_field(b, "G_AP")[j];
        return g[j] >= gap * (1 - 1e-6) && g[j] <= gp * (1 + 1e-6) ? NULL : "dw: G outside [G_AP, G_P]";
    }
    if (!strcmp(nm, "vdsp")) {
        const float w = dt_field(b, "w")[j];
        const double gl = b->p[xb_param_index(b->type->params, b->type->nparams, "g_lrs")];
        const double r = b->p[xb_param_index(b->type->params, b->type->nparams, "on_off")];
        if (!(w >= 0 && w <= 1)) return "vdsp: w outside [0, 1]";
        return g[j] >= gl / r * (1 - 1e-6) && g[j] <= gl * (1 + 1e-6) ? NULL : "vdsp: G outside [G_HRS, G_LRS]";
    }
    if (!strcmp(nm, "pcm")) {
        const double gm = b->p[xb_param_index(b->type->params, b->type->nparams, "g_max")];
        const float gt = dt_field(b, "G_T")[j], gp = dt_field(b, "G_prog")[j], nu = dt_field(b, "nu")[j];
        if (!(gt >= 0 && gt <= gm * (1 + 1e-6))) return "pcm: G_T outside [0, g_max]";
        if (!(gp >= 0 && nu >= 0 && nu <= 0.4)) return "pcm: G_prog < 0 or nu outside [0, 0.4]";
        return dt_field(b, "t")[j] > 0 || g[j] == gp ? NULL : "pcm: G at t = 0 is not G_prog";
    }
    return "no invariant written for this model: add one to state_violation()";
}

static void test_schema_every_model(void)
{
    for (size_t i = 0; xb_device_types[i]; i++) {
        const xb_device_type *T = xb_device_types[i];
        double p[DT_MAXP];
        const char *why = xb_param_table_check(T->params, T->nparams);
        if (why) fprintf(stderr, "\n%s: %s\n", T->name, why);
        CU_ASSERT(why == NULL);
        CU_ASSERT(T->nparams <= DT_MAXP);
        CU_ASSERT(T->nfields >= 1 && T->nfields <= XB_MAX_FIELDS);
        CU_ASSERT(T->name && T->summary && T->source && T->field_names);
        CU_ASSERT(T->init_row && T->conductance_row && T->pulse_row && T->pulse_energy_row &&
                  T->g_range);
        CU_ASSERT(T->pulse_dir == 1 || T->pulse_dir == -1);
        CU_ASSERT(!(T->flags & XB_DEV_ONE_WAY) || T->pulse_dir == -1 || T->pulse_dir == 1);
        CU_ASSERT(!(T->flags & XB_DEV_DRIFT) || T->drift_row);
        dt_defaults(T, p);
        CU_ASSERT(T->check == NULL || T->check(p) == NULL);
        double gmin, gmax;
        T->g_range(p, &gmin, &gmax);
        CU_ASSERT(gmin > 0 && gmin < gmax);
        CU_ASSERT(xb_device_find(T->name) == T);
    }
}

/* 1000 devices x 100 steps of random counts in [-4, 4] (one-way: [0, 20]): over 2e5
 * pulses per model, every device keeps its invariants after every step. */
static void test_bounds_every_model(void)
{
    enum { N = 1000, STEPS = 100 };
    int16_t n[N];
    float g[N];
    for (size_t i = 0; xb_device_types[i]; i++) {
        const xb_device_type *T = xb_device_types[i];
        double p[DT_MAXP];
        stress_params(T, p);
        xb_bank *b = dt_bank(T, p, N, 5);
        long bad = 0, pulses = 0;
        const char *first = NULL;
        for (uint32_t s = 0; s <= STEPS; s++) {
            if (s) {
                random_counts(T, N, (uint32_t)i, s, n);
                for (int j = 0; j < N; j++) pulses += abs(n[j]);
                xb_bank_pulse(b, n);
            }
            xb_bank_conductance(b, g, s % 2);
            for (size_t j = 0; j < N; j++) {
                const char *why = state_violation(b, g, j);
                if (why) { bad++; if (!first) first = why; }
            }
        }
        if (bad) fprintf(stderr, "\n%s: %ld violations, first: %s\n", T->name, bad, first);
        CU_ASSERT(bad == 0);
        CU_ASSERT(pulses >= 100000);
        xb_bank_free(b);
    }
}

/* A step of zero pulses leaves every state field bit-identical. hfox redraws its RTN
 * value on every update call by design (DEVICES.md 2), so it runs with RTN off here;
 * tests/test_devices_phys.c checks what a zero step does with RTN on. */
static void test_zero_pulses_every_model(void)
{
    enum { N = 500 };
    int16_t n[N];
    for (size_t i = 0; xb_device_types[i]; i++) {
        const xb_device_type *T = xb_device_types[i];
        double p[DT_MAXP];
        stress_params(T, p);
        if (dt_has(T, "noise_rtn")) dt_set(T, p, "noise_rtn", 0);
        xb_bank *b = dt_bank(T, p, N, 6);
        for (uint32_t s = 1; s <= 5; s++) { random_counts(T, N, 7, s, n); xb_bank_pulse(b, n); }
        const size_t bytes = T->nfields * N * sizeof(float);
        float *before = xb_malloc(bytes);
        CU_ASSERT_FATAL(before != NULL);
        memcpy(before, b->block, bytes);
        const double e = dt_pulse_all(b, n, 0);
        CU_ASSERT(memcmp(before, b->block, bytes) == 0);
        CU_ASSERT(e == 0);
        xb_free(before);
        xb_bank_free(b);
    }
}

/* Rows processed by 1, 2 and 7 threads (as the crossbar does: omp over rows, serial
 * sum of per-row energies) give bit-identical states, conductances and energy. */
enum { TR = 13, TC = 37, TSTEPS = 4 };
static void run_rows(const xb_device_type *T, const double *p, int threads, float *block,
                     float *g, double *energy)
{
    xb_par_force(threads);
    const int nt = xb_par_threads(TR, TC);
    xb_par_force(0);
    CU_ASSERT(nt == threads);
    double rowe[TR];
    *energy = 0;
    for (uint32_t s = 0; s <= TSTEPS; s++) {
        #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
        for (int i = 0; i < TR; i++) {
            xb_row r = { .n = TC };
            for (size_t k = 0; k < T->nfields; k++) r.f[k] = block + ((size_t)i * T->nfields + k) * TC;
            if (s == 0) {
                const xb_rng d2d = xb_rng_for_row(3, XB_RNG_D2D, 0, (uint32_t)i, 0);
                T->init_row(&r, p, &d2d);
                rowe[i] = 0;
            } else {
                int16_t n[TC];
                random_counts(T, TC, (uint32_t)i, s, n);
                const xb_rng c2c = xb_rng_for_row(3, XB_RNG_C2C, 0, (uint32_t)i, s);
                rowe[i] = T->pulse_energy_row(&r, p, n);
                T->pulse_row(&r, p, n, &c2c);
            }
            const xb_rng rd = xb_rng_for_row(3, XB_RNG_READ, 0, (uint32_t)i, s);
            T->conductance_row(&r, p, g + (size_t)i * TC, &rd);
        }
        for (int i = 0; i < TR; i++) *energy += rowe[i];
    }
}

static void test_threads_every_model(void)
{
    for (size_t i = 0; xb_device_types[i]; i++) {
        const xb_device_type *T = xb_device_types[i];
        double p[DT_MAXP];
        stress_params(T, p);
        const size_t nb = T->nfields * TR * TC;
        float *ref = xb_calloc(nb, sizeof(float)), *blk = xb_calloc(nb, sizeof(float));
        float gref[TR * TC], g[TR * TC];
        double eref, e;
        CU_ASSERT_FATAL(ref && blk);
        run_rows(T, p, 1, ref, gref, &eref);
        for (int t = 2; t <= 7; t += 5) {
            memset(blk, 0, nb * sizeof(float));
            run_rows(T, p, t, blk, g, &e);
            CU_ASSERT(memcmp(ref, blk, nb * sizeof(float)) == 0);
            CU_ASSERT(memcmp(gref, g, sizeof g) == 0);
            CU_ASSERT(memcmp(&eref, &e, sizeof e) == 0);
        }
        xb_free(ref);
        xb_free(blk);
    }
}

/* ---- reference pulsed models (DEVICES.md section 1, "Analytic tests") ---- */

static void pulsed_plain(const xb_device_type *T, double *p)
{
    dt_defaults(T, p);
    dt_set(T, p, "dw_min_dtod", 0);
    dt_set(T, p, "up_down_dtod", 0);
    dt_set(T, p, "w_max_dtod", 0);
    dt_set(T, p, "w_min_dtod", 0);
}

/* ConstantStep, no bound hit: after NP up pulses E[w - w0] = NP dw, Var = NP (sigma dw)^2. */
static void test_constant_step_moments(void)
{
    enum { N = 100000, NP = 10 };
    const xb_device_type *T = xb_device_find("linear");
    double p[DT_MAXP];
    const double dw = 1e-3, sigma = 0.3;
    pulsed_plain(T, p);
    dt_set(T, p, "w_max", 1);
    dt_set(T, p, "w_min", -1);
    xb_bank *b = dt_bank(T, p, N, 11);
    int16_t *n = xb_malloc(N * sizeof *n);
    dt_pulse_all(b, n, NP);
    const float *w = dt_field(b, "w");
    double s = 0, s2 = 0;
    for (int j = 0; j < N; j++) { s += w[j]; s2 += (double)w[j] * w[j]; }
    const double m = s / N, var = s2 / N - m * m;
    const double v_want = NP * sigma * sigma * dw * dw;
    CU_ASSERT(fabs(m - NP * dw) <= 5 * sqrt(v_want / N));
    CU_ASSERT(fabs(var - v_want) <= 5 * v_want * sqrt(2.0 / N));
    CU_ASSERT(5 * sqrt(v_want / N) <= 0.01 * NP * dw);     /* sharp enough to see 1 % */
    xb_free(n);
    xb_bank_free(b);
}

/* SoftBounds, no noise: w_n = b_max - (b_max - w0)(1 - dw/b_max)^n. */
static void test_softbounds_geometric(void)
{
    const xb_device_type *T = xb_device_find("softbounds");
    double p[DT_MAXP];
    pulsed_plain(T, p);
    dt_set(T, p, "dw_min_std", 0);
    dt_set(T, p, "dw_min", 0.01);
    dt_set(T, p, "w_init", -0.3);
    xb_bank *b = dt_bank(T, p, 4, 1);
    int16_t n[4];
    const double bmax = 0.6, dw = 0.01, w0 = -0.3;
    for (int k = 1; k <= 300; k++) {
        dt_pulse_all(b, n, 1);
        const double want = bmax - (bmax - w0) * pow(1 - dw / bmax, k);
        CU_ASSERT(fabs(dt_field(b, "w")[2] - want) <= 1e-5);
    }
    dt_pulse_all(b, n, 50);            /* one burst of 50 = 50 single pulses */
    CU_ASSERT(fabs(dt_field(b, "w")[0] - (bmax - (bmax - w0) * pow(1 - dw / bmax, 350))) <= 1e-5);
    xb_bank_free(b);
}

/* Alternating +-1 pulses converge to the symmetry point a_up (1 - w/b_max) = a_dn (1 - w/b_min),
 * a_up = dw (1 + up_down), a_dn = dw (1 - up_down). */
static void test_softbounds_fixed_point(void)
{
    const xb_device_type *T = xb_device_find("softbounds");
    double p[DT_MAXP];
    const double dw = 1e-3, ud = 0.2, bmax = 0.6, bmin = -0.6;
    pulsed_plain(T, p);
    dt_set(T, p, "dw_min_std", 0);
    dt_set(T, p, "up_down", ud);
    dt_set(T, p, "w_init", -0.4);
    xb_bank *b = dt_bank(T, p, 3, 1);
    int16_t n[3];
    for (int k = 0; k < 20000; k++) dt_pulse_all(b, n, k % 2 ? -1 : 1);
    const double a = dw * (1 + ud), c = dw * (1 - ud);
    const double wstar = (c - a) / (c / bmin - a / bmax);          /* 0.12 */
    const double w1 = dt_field(b, "w")[1];
    dt_pulse_all(b, n, 1);
    const double mid = 0.5 * (w1 + dt_field(b, "w")[1]);
    CU_ASSERT(fabs(wstar - 0.12) < 1e-12);
    CU_ASSERT(fabs(mid - wstar) <= dw);
    xb_bank_free(b);
}

/* D2D draw over 1e5 devices: mean dw_up = dw_min (1 + up_down), sd = dw_min sqrt(dtod^2 + ud_dtod^2). */
static void test_d2d_step_stats(void)
{
    enum { N = 100000 };
    const xb_device_type *T = xb_device_find("linear");
    double p[DT_MAXP];
    dt_defaults(T, p);
    const double dw = 1e-3, ud = 0.1, dtod = 0.3, uddtod = 0.05;
    dt_set(T, p, "up_down", ud);
    dt_set(T, p, "up_down_dtod", uddtod);
    xb_bank *b = dt_bank(T, p, N, 17);
    const float *up = dt_field(b, "dw_up"), *dn = dt_field(b, "dw_down");
    double s = 0, s2 = 0, sd = 0;
    for (int j = 0; j < N; j++) { s += up[j]; s2 += (double)up[j] * up[j]; sd += dn[j]; }
    const double m = s / N, sdv = sqrt(s2 / N - m * m);
    const double sd_want = dw * sqrt(dtod * dtod + uddtod * uddtod);
    CU_ASSERT(fabs(m - dw * (1 + ud)) <= 5 * sd_want / sqrt(N));
    CU_ASSERT(fabs(sdv - sd_want) <= 5 * sd_want / sqrt(2.0 * N));
    CU_ASSERT(fabs(sd / N + dw * (1 - ud)) <= 5 * sd_want / sqrt(N));   /* bias enters both ways */
    xb_bank_free(b);
}

/* Noise kinds at w0 = 0.5, b_max = 0.6 (SoftBounds factor 1/6), one up pulse:
 * multiplicative Var = (dw sigma / 6)^2, additive Var = (dw sigma)^2; mean dw/6 for both. */
static void test_noise_kinds(void)
{
    enum { N = 100000 };
    const xb_device_type *T = xb_device_find("softbounds");
    const double dw = 1e-3, sg = 0.3, f = 1 - 0.5 / 0.6;
    int16_t *n = xb_malloc(N * sizeof *n);
    for (int add = 0; add <= 1; add++) {
        double p[DT_MAXP];
        pulsed_plain(T, p);
        dt_set(T, p, "w_init", 0.5);
        dt_set(T, p, "additive_noise", add);
        xb_bank *b = dt_bank(T, p, N, 12);
        dt_pulse_all(b, n, 1);
        const float *w = dt_field(b, "w");
        double s = 0, s2 = 0;
        for (int j = 0; j < N; j++) { s += w[j] - 0.5; s2 += (w[j] - 0.5) * (double)(w[j] - 0.5); }
        const double m = s / N, v = s2 / N - m * m, vw = pow(dw * sg * (add ? 1 : f), 2);
        CU_ASSERT(fabs(m - dw * f) <= 5 * sqrt(vw / N) + 1e-8);
        CU_ASSERT(fabs(v - vw) <= 5 * vw * sqrt(2.0 / N) + 1e-13);
        xb_bank_free(b);
    }
    xb_free(n);
}

/* ---- faults ---- */
static void test_faults(void)
{
    enum { N = 100000 };
    uint8_t *st = xb_malloc(N), *st2 = xb_malloc(N);
    float *g = xb_malloc(N * sizeof *g);
    const xb_rng r = xb_rng_for_row(4, XB_RNG_FAULT, 0, 0, 0);
    const double fon = 0.1, foff = 0.2;
    xb_device_draw_faults(N, fon, foff, &r, st);
    xb_device_draw_faults(N, fon, foff, &r, st2);
    CU_ASSERT(memcmp(st, st2, N) == 0);
    long non = 0, noff = 0;
    for (int j = 0; j < N; j++) { non += st[j] == XB_STUCK_ON; noff += st[j] == XB_STUCK_OFF; g[j] = 5; }
    CU_ASSERT(fabs(non - N * fon) <= 5 * sqrt(N * fon * (1 - fon)));
    CU_ASSERT(fabs(noff - N * foff) <= 5 * sqrt(N * foff * (1 - foff)));
    xb_device_apply_faults(N, st, 1, 9, g);
    long ok = 0;
    for (int j = 0; j < N; j++)
        ok += g[j] == (st[j] == XB_STUCK_ON ? 9 : st[j] == XB_STUCK_OFF ? 1 : 5);
    CU_ASSERT(ok == N);
    xb_device_draw_faults(N, 0, 0, &r, st);
    long any = 0;
    for (int j = 0; j < N; j++) any += st[j] != XB_HEALTHY;
    CU_ASSERT(any == 0);
    xb_free(st); xb_free(st2); xb_free(g);
}

/* ---- energies of 2-device examples, computed by hand from DEVICES.md 9 ---- */
static void test_energy_two_devices(void)
{
    double p[DT_MAXP];
    int16_t n[2];
    /* linear: |3| + |-2| pulses x 1e-11 J */
    const xb_device_type *L = xb_device_find("linear");
    dt_defaults(L, p);
    xb_bank *b = dt_bank(L, p, 2, 1);
    n[0] = 3; n[1] = -2;
    CU_ASSERT(fabs(xb_bank_pulse(b, n) - 5e-11) <= 1e-24);
    xb_bank_free(b);
    /* hfox: 3 pulses + 20 clamped to 14, x 1e-11 J; negative counts cost nothing */
    const xb_device_type *H = xb_device_find("hfox");
    dt_defaults(H, p);
    b = dt_bank(H, p, 2, 1);
    n[0] = 3; n[1] = 20;
    CU_ASSERT(fabs(xb_bank_pulse(b, n) - 1.7e-10) <= 1e-23);
    n[0] = -5; n[1] = 0;
    CU_ASSERT(xb_bank_pulse(b, n) == 0);
    xb_bank_free(b);
    /* hfox read: G = 1/R0 e^-c1 at t = 0, noise off; V^2 G t with 0.2 V, 10 ns */
    b = dt_bank(H, p, 2, 1);
    float g[2];
    xb_bank_conductance(b, g, 0);
    for (int j = 0; j < 2; j++) {
        const double R = dt_field(b, "R0")[j] * exp(dt_field(b, "c1")[j]);
        CU_ASSERT(fabs(0.04 * g[j] * 1e-8 - 0.04 / R * 1e-8) <= 1e-6 * 0.04 / R * 1e-8);
    }
    xb_bank_free(b);
    /* stmram: I^2 R t, device 0 in P (5 kohm), 1 in AP (12.5 kohm): 1e-8 * (5e3 + 2 * 1.25e4) * 1e-8 */
    const xb_device_type *M = xb_device_find("stmram");
    dt_defaults(M, p);
    dt_set(M, p, "r_p_dtod", 0); dt_set(M, p, "tmr_dtod", 0);
    b = dt_bank(M, p, 2, 1);
    dt_field(b, "bit")[1] = 1;
    n[0] = 1; n[1] = -2;
    CU_ASSERT(fabs(M->pulse_energy_row(&b->row, b->p, n) - 3e-12) <= 1e-6 * 3e-12);
    const float v[2] = { 0.5f, -1.0f };          /* V^2/R t: 0.25/5e3 + 1/1.25e4, x 1 ns */
    CU_ASSERT(fabs(M->pulse_amp_energy_row(&b->row, b->p, v, 1e-9) - 1.3e-13) <= 1e-6 * 1.3e-13);
    xb_bank_free(b);
    /* ftj: homogeneous regions, s = 0: 2 P_r A V p + C V^2, p = 1 - exp(-t_p / tau_m(V)) */
    const xb_device_type *F = xb_device_find("ftj");
    dt_defaults(F, p);
    dt_set(F, p, "w_l", 0); dt_set(F, p, "v_a_dtod", 0);
    b = dt_bank(F, p, 2, 1);
    n[0] = 1; n[1] = 0;
    const double tau = 1e-12 * exp(9.0), pr = -expm1(-1e-9 / tau);
    const double ef = 2 * 0.2 * 1e-14 * 1.0 * pr + 2.7e-16 * 1.0;
    CU_ASSERT(fabs(F->pulse_energy_row(&b->row, b->p, n) - ef) <= 1e-9 * ef);
    xb_bank_free(b);
    /* vdsp: one potentiating pulse of -1.4 v_th on w = 0.5: v^2 G t_prog, G = g_lrs (1/7.5 + (1 - 1/7.5) 0.5) */
    const xb_device_type *V = xb_device_find("vdsp");
    dt_defaults(V, p);
    b = dt_bank(V, p, 2, 1);
    n[0] = 1; n[1] = 0;
    const double vv = 1.4 * 1.43233, ev = vv * vv * 1e-5 * (1 / 7.5 + (1 - 1 / 7.5) * 0.5) * 1e-7;
    CU_ASSERT(fabs(V->pulse_energy_row(&b->row, b->p, n) - ev) <= 1e-6 * ev);
    xb_bank_free(b);
    /* dw: 3 pulses and one programming pulse x 5 fJ */
    const xb_device_type *D = xb_device_find("dw");
    dt_defaults(D, p);
    b = dt_bank(D, p, 2, 1);
    n[0] = 2; n[1] = -1;
    CU_ASSERT(fabs(xb_bank_pulse(b, n) - 1.5e-14) <= 1e-27);
    const float tg[2] = { 1e-5f, NAN };
    const xb_rng r = xb_rng_for_row(1, XB_RNG_C2C, 0, 0, 77);
    CU_ASSERT(fabs(D->program_row(&b->row, b->p, tg, &r) - 5e-15) <= 1e-28);
    xb_bank_free(b);
}

XB_SUITE(devices, XB_TEST(test_schema_every_model), XB_TEST(test_bounds_every_model),
         XB_TEST(test_zero_pulses_every_model), XB_TEST(test_threads_every_model),
         XB_TEST(test_constant_step_moments), XB_TEST(test_softbounds_geometric),
         XB_TEST(test_softbounds_fixed_point), XB_TEST(test_d2d_step_stats), XB_TEST(test_noise_kinds),
         XB_TEST(test_faults), XB_TEST(test_energy_two_devices))
