/* devices/hfox.c: HfOx RRAM programmed by weak RESET pulses (DEVICES.md section 2,
 * [Maj21], numbers read in [MajCode] ConvNet/utils_device.py).
 *
 * The device stores the log-resistance w = ln(R/R0). Its mean is a piecewise-linear
 * function of the integer cumulative reset count t (slope m1 up to the knee t_star, m2
 * after it, continuous at the knee); random-telegraph noise (RTN) and 1/f noise are
 * added on top and are "read-like": they are not integrated into the mean.
 *
 * ONE_WAY device: a reset pulse raises R, so G = 1/R falls (pulse_dir = -1). Pulse
 * counts are clamped to [0, n_max] (n_max <= K - 1 = 14, as the reference clamps its
 * Adam step); negative counts act as 0 (the crossbar routes them to the partner).
 * An update call with n = 0 still redraws the RTN value (the reference evaluates the
 * whole model at every update); t, the RTN state and the 1/f register keep their values.
 *
 * State (SoA fields): t (exact in float up to 2^24 pulses), the D2D parameters m1,
 * t_star, c1, m2, R0, A, the RTN state (0 low / 1 high) and value, the current w, and
 * the 1/f FIR register u[0..14] (K = 15 taps, u[0] newest).
 *
 * Random streams. D2D (init_row): col j, draws 0..5 = one 53-bit uniform each for m1,
 * t_star, c1, m2, R0, A, pushed through the truncated inverse CDFs (xb_dist_trunc).
 * C2C (pulse_row): col j, draw 0 = (RTN transition, RTN U, RTN U', -), draws 1..4 =
 * the 1/f samples (4 per draw, 14 at most). READ (conductance_row with an rng and
 * rtn_redraw_on_read): col j, draw 0 = a fresh RTN value for this read only. */
#include <math.h>
#include <stdlib.h>

#include "devices/xb_device.h"

enum { HF_K = 15 };

enum {
    HP_M1_LOC, HP_M1_SCALE, HP_M1_LO, HP_M1_HI,
    HP_TS_S, HP_TS_SCALE, HP_TS_LO, HP_TS_HI,
    HP_C1_MEAN, HP_C1_SD, HP_C1_LO, HP_C1_HI,
    HP_M2_LOC, HP_M2_SCALE, HP_M2_LO, HP_M2_HI,
    HP_R0_MEAN, HP_R0_SD, HP_R0_LO, HP_R0_HI,
    HP_A_MAX, HP_D2D, HP_P_LH, HP_P_HL, HP_ALPHA, HP_N_MAX, HP_E_RESET,
    HP_NOISE_RTN, HP_NOISE_FLICKER, HP_RTN_READ, HP_NPARAMS
};

enum { HF_T, HF_M1, HF_TS, HF_C1, HF_M2, HF_R0, HF_A, HF_RTN_S, HF_RTN_V, HF_W, HF_U0,
       HF_NFIELDS = HF_U0 + HF_K };

static const char *const hf_field_names[HF_NFIELDS] = {
    "t", "m1", "t_star", "c1", "m2", "R0", "rtn_amp", "rtn_state", "rtn_value", "w",
    "u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10", "u11", "u12", "u13",
    "u14",
};

#define MC "[MajCode]"
static const xb_param_spec hf_params[HP_NPARAMS] = {
    [HP_M1_LOC] = { "m1_loc", 3.7416e-5, "1/pulse", 0, 1, "m1 ~ expon: loc (slope before the knee)", 0, NULL, MC },
    [HP_M1_SCALE] = { "m1_scale", 6.5647e-4, "1/pulse", 1e-12, 1, "m1 ~ expon: scale", 0, NULL, MC },
    [HP_M1_LO] = { "m1_lo", 3.74e-5, "1/pulse", 0, 1, "m1 truncation: lower end", 0, NULL, MC },
    [HP_M1_HI] = { "m1_hi", 0.0076, "1/pulse", 0, 1, "m1 truncation: upper end", 0, NULL, MC },
    [HP_TS_S] = { "t_star_s", 0.80338, "", 1e-6, 10, "t_star ~ lognorm: shape s", 0, NULL, MC },
    [HP_TS_SCALE] = { "t_star_scale", 542.54, "pulses", 1e-6, 1e7, "t_star ~ lognorm: scale (median)", 0, NULL, MC },
    [HP_TS_LO] = { "t_star_lo", 41, "pulses", 0, 1e7, "t_star truncation: lower end", 0, NULL, MC },
    [HP_TS_HI] = { "t_star_hi", 2000, "pulses", 0, 1e7, "t_star truncation: upper end", 0, NULL, MC },
    [HP_C1_MEAN] = { "c1_mean", 0.0052931, "", -10, 10, "c1 ~ normal: mean (ln R/R0 at t = 0)", 0, NULL, MC },
    [HP_C1_SD] = { "c1_sd", 0.053208, "", 1e-12, 10, "c1 ~ normal: standard deviation", 0, NULL, MC },
    [HP_C1_LO] = { "c1_lo", -0.15, "", -10, 10, "c1 truncation: lower end", 0, NULL, MC },
    [HP_C1_HI] = { "c1_hi", 0.15, "", -10, 10, "c1 truncation: upper end", 0, NULL, MC },
    [HP_M2_LOC] = { "m2_loc", 1.6e-34, "1/pulse", 0, 1, "m2 ~ expon: loc (slope after the knee)", 0, NULL, MC },
    [HP_M2_SCALE] = { "m2_scale", 2.88905e-5, "1/pulse", 1e-12, 1, "m2 ~ expon: scale", 0, NULL, MC },
    [HP_M2_LO] = { "m2_lo", 0, "1/pulse", 0, 1, "m2 truncation: lower end", 0, NULL, MC },
    [HP_M2_HI] = { "m2_hi", 1.3e-4, "1/pulse", 0, 1, "m2 truncation: upper end", 0, NULL, MC },
    [HP_R0_MEAN] = { "r0_mean", 6988, "ohm", 1, 1e9, "R0 ~ normal: mean (LRS after SET)", 0, NULL, MC },
    [HP_R0_SD] = { "r0_sd", 381.7, "ohm", 1e-9, 1e9, "R0 ~ normal: standard deviation", 0, NULL, MC },
    [HP_R0_LO] = { "r0_lo", 6252, "ohm", 1, 1e9, "R0 truncation: lower end", 0, NULL, MC },
    [HP_R0_HI] = { "r0_hi", 7897, "ohm", 1, 1e9, "R0 truncation: upper end", 0, NULL, MC },
    [HP_A_MAX] = { "rtn_amp_max", 0.5, "", 0, 5, "RTN amplitude A ~ U(0, rtn_amp_max) per device", 0, NULL, MC },
    [HP_D2D] = { "d2d", 1, "", 0, 1, "draw D2D parameters (false: every device gets the medians)", XB_P_BOOL, NULL, "xbemu choice" },
    [HP_P_LH] = { "p_lh", 8e-4, "1/pulse", 0, 1, "RTN low -> high probability per pulse", 0, NULL, MC },
    [HP_P_HL] = { "p_hl", 2e-3, "1/pulse", 0, 1, "RTN high -> low probability per pulse", 0, NULL, MC },
    [HP_ALPHA] = { "alpha", 0.025, "", 0, 0.2, "1/f noise coupling (ln-ohm per unit sample)", 0, NULL, MC },
    [HP_N_MAX] = { "n_max", 14, "pulses", 0, 14, "pulse clamp per update (<= K - 1 = 14)", XB_P_INT, NULL, MC },
    [HP_E_RESET] = { "e_reset", 1e-11, "J", 0, 1e-6, "energy of one reset pulse", 0, NULL, "DEVICES.md 9 (unverified)" },
    [HP_NOISE_RTN] = { "noise_rtn", 1, "", 0, 1, "random-telegraph noise on (ConvNet) or off (MLP)", XB_P_BOOL, NULL, MC },
    [HP_NOISE_FLICKER] = { "noise_flicker", 1, "", 0, 1, "1/f noise on (ConvNet) or off (MLP)", XB_P_BOOL, NULL, MC },
    [HP_RTN_READ] = { "rtn_redraw_on_read", 0, "", 0, 1, "redraw the RTN value at every noisy read too", XB_P_BOOL, NULL, "DEVICES.md 2" },
};

/* Kasdin 1/f FIR taps, exponent 1: b0 = 1, b_k = b_{k-1} (k - 1/2) / k. */
static const float hf_b[HF_K] = {
    1.0f, 0.5f, 0.375f, 0.3125f, 0.2734375f, 0.24609375f, 0.2255859375f, 0.20947265625f,
    0.196380615234375f, 0.1854705810546875f, 0.17619705200195312f, 0.16818809509277344f,
    0.1611802577972412f, 0.15498101711273193f, 0.14944598078727722f,
};

static void hf_dists(const double *p, xb_dist d[5])
{
    d[0] = (xb_dist){ XB_DIST_EXPON, 0, p[HP_M1_LOC], p[HP_M1_SCALE], p[HP_M1_LO], p[HP_M1_HI] };
    d[1] = (xb_dist){ XB_DIST_LOGNORM, p[HP_TS_S], 0, p[HP_TS_SCALE], p[HP_TS_LO], p[HP_TS_HI] };
    d[2] = (xb_dist){ XB_DIST_NORMAL, 0, p[HP_C1_MEAN], p[HP_C1_SD], p[HP_C1_LO], p[HP_C1_HI] };
    d[3] = (xb_dist){ XB_DIST_EXPON, 0, p[HP_M2_LOC], p[HP_M2_SCALE], p[HP_M2_LO], p[HP_M2_HI] };
    d[4] = (xb_dist){ XB_DIST_NORMAL, 0, p[HP_R0_MEAN], p[HP_R0_SD], p[HP_R0_LO], p[HP_R0_HI] };
}

static const char *hf_check(const double *p)
{
    static const int lohi[5][2] = { { HP_M1_LO, HP_M1_HI }, { HP_TS_LO, HP_TS_HI },
                                    { HP_C1_LO, HP_C1_HI }, { HP_M2_LO, HP_M2_HI },
                                    { HP_R0_LO, HP_R0_HI } };
    static const char *const why[5] = { "m1_lo must be below m1_hi", "t_star_lo must be below t_star_hi",
                                        "c1_lo must be below c1_hi", "m2_lo must be below m2_hi",
                                        "r0_lo must be below r0_hi" };
    for (int k = 0; k < 5; k++)
        if (!(p[lohi[k][0]] < p[lohi[k][1]])) return why[k];
    xb_dist d[5];
    hf_dists(p, d);
    for (int k = 0; k < 5; k++)      /* a window with no probability cannot be sampled */
        if (!(xb_dist_cdf(&d[k], d[k].hi) - xb_dist_cdf(&d[k], d[k].lo) > 0 ||
              xb_dist_sf(&d[k], d[k].lo) - xb_dist_sf(&d[k], d[k].hi) > 0))
            return "a D2D truncation window holds no probability";
    return NULL;
}

/* Nominal G range for weight mapping: t = 0 at the mean R0, down to the knee of the
 * median device (mean m1 and c1 of the untruncated laws, median t_star). */
static void hf_g_range(const double *p, double *gmin, double *gmax)
{
    const double w_knee = (p[HP_M1_LOC] + p[HP_M1_SCALE]) * p[HP_TS_SCALE] + p[HP_C1_MEAN];
    *gmax = 1.0 / p[HP_R0_MEAN];
    *gmin = 1.0 / (p[HP_R0_MEAN] * exp(w_knee));
}

static inline double hf_w_mean(double t, double m1, double ts, double c1, double m2)
{
    return t < ts ? m1 * t + c1 : m2 * t + (m1 - m2) * ts + c1;
}

static void hf_update_w(xb_row *r, size_t j, int flicker, float alpha)
{
    const double wm = hf_w_mean(r->f[HF_T][j], r->f[HF_M1][j], r->f[HF_TS][j], r->f[HF_C1][j],
                                r->f[HF_M2][j]);
    float fl = 0;
    if (flicker)
        for (int k = 0; k < HF_K; k++) fl += hf_b[k] * r->f[HF_U0 + k][j];
    r->f[HF_W][j] = (float)wm + r->f[HF_RTN_V][j] + alpha * fl;
}

static void hf_init(xb_row *r, const double *p, const xb_rng *rng)
{
    xb_dist d[5];
    hf_dists(p, d);
    const int d2d = p[HP_D2D] != 0;
    for (size_t j = 0; j < r->n; j++) {
        float v[5];
        for (int k = 0; k < 5; k++) {
            const double u = d2d ? xb_rng_uniform_d(rng, (uint32_t)j, (uint32_t)k) : 0.5;
            v[k] = (float)xb_dist_trunc(&d[k], u);
        }
        const double ua = d2d ? xb_rng_uniform_d(rng, (uint32_t)j, 5) : 0.5;
        r->f[HF_T][j] = 0;
        r->f[HF_M1][j] = v[0];
        r->f[HF_TS][j] = v[1];
        r->f[HF_C1][j] = v[2];
        r->f[HF_M2][j] = v[3];
        r->f[HF_R0][j] = v[4];
        r->f[HF_A][j] = (float)(p[HP_A_MAX] * ua);
        r->f[HF_RTN_S][j] = 0;                 /* starts in the low state, value 0 */
        r->f[HF_RTN_V][j] = 0;
        for (int k = 0; k < HF_K; k++) r->f[HF_U0 + k][j] = 0;   /* register starts empty */
        hf_update_w(r, j, 0, 0);
    }
}

static void hf_conductance(const xb_row *r, const double *p, float *g, const xb_rng *rng)
{
    const float *restrict w = r->f[HF_W], *restrict r0 = r->f[HF_R0];
    if (rng && p[HP_RTN_READ] != 0 && p[HP_NOISE_RTN] != 0) {
        const float *rs = r->f[HF_RTN_S], *rv = r->f[HF_RTN_V], *amp = r->f[HF_A];
        for (size_t j = 0; j < r->n; j++) {
            float u[4];
            xb_rng_u4(rng, (uint32_t)j, 0, u);
            const float fresh = rs[j] != 0 ? u[0] * u[1] * amp[j] : 0;
            g[j] = 1.0f / (r0[j] * expf(w[j] - rv[j] + fresh));
        }
        return;
    }
    for (size_t j = 0; j < r->n; j++) g[j] = 1.0f / (r0[j] * expf(w[j]));
}

static inline int hf_count(const double *p, int16_t n)
{
    const int nmax = (int)p[HP_N_MAX];
    return n <= 0 ? 0 : n > nmax ? nmax : n;
}

/* RTN: two-state chain with P(l->h) = a, P(h->l) = b per pulse. Its n-step matrix has
 * P_n(l->h) = pi_h (1 - lambda^n), P_n(h->h) = pi_h + (1 - pi_h) lambda^n, with
 * pi_h = a/(a+b) and lambda = 1 - a - b; tabulated for n = 0..14 once per call. */
static void hf_rtn_table(const double *p, float to_high[HF_K][2])
{
    const double a = p[HP_P_LH], b = p[HP_P_HL];
    for (int n = 0; n < HF_K; n++) {
        if (a + b <= 0) { to_high[n][0] = 0; to_high[n][1] = 1; continue; }
        const double pi = a / (a + b), ln = pow(1 - a - b, n);
        to_high[n][0] = (float)(pi * (1 - ln));
        to_high[n][1] = (float)(pi + (1 - pi) * ln);
    }
}

static void hf_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    float to_high[HF_K][2];
    hf_rtn_table(p, to_high);
    const int rtn = p[HP_NOISE_RTN] != 0, flicker = p[HP_NOISE_FLICKER] != 0;
    const float alpha = (float)p[HP_ALPHA];
    for (size_t j = 0; j < r->n; j++) {
        const int c = hf_count(p, n[j]);
        if (c == 0 && !rtn) continue;
        if (rtn) {                            /* advanced by c pulses, value redrawn */
            float u[4];
            xb_rng_u4(rng, (uint32_t)j, 0, u);
            const int s = u[0] < to_high[c][r->f[HF_RTN_S][j] != 0];
            r->f[HF_RTN_S][j] = (float)s;
            r->f[HF_RTN_V][j] = s ? u[1] * u[2] * r->f[HF_A][j] : 0;
        }
        if (c > 0) {
            r->f[HF_T][j] += (float)c;
            if (flicker) {                    /* push c fresh U(0,1) samples at the front */
                for (int k = HF_K - 1; k >= c; k--) r->f[HF_U0 + k][j] = r->f[HF_U0 + k - c][j];
                float u[16];
                for (int d = 0; d < (c + 3) / 4; d++) xb_rng_u4(rng, (uint32_t)j, 1u + (uint32_t)d, u + 4 * d);
                for (int k = 0; k < c; k++) r->f[HF_U0 + k][j] = u[k];
            }
        }
        hf_update_w(r, j, flicker, alpha);
    }
}

static double hf_energy(const xb_row *r, const double *p, const int16_t *n)
{
    long total = 0;
    for (size_t j = 0; j < r->n; j++) total += hf_count(p, n[j]);
    return (double)total * p[HP_E_RESET];
}

const xb_device_type xb_device_hfox = {
    .name = "hfox", .summary = "HfOx RRAM, weak-reset: piecewise-linear ln R, D2D, RTN, 1/f",
    .source = "[Maj21], [MajCode] ConvNet/utils_device.py",
    .params = hf_params, .nparams = HP_NPARAMS, .nfields = HF_NFIELDS,
    .field_names = hf_field_names, .flags = XB_DEV_ONE_WAY | XB_DEV_READ_NOISE, .pulse_dir = -1,
    .check = hf_check, .g_range = hf_g_range, .init_row = hf_init,
    .conductance_row = hf_conductance, .pulse_row = hf_pulse, .pulse_energy_row = hf_energy,
};
