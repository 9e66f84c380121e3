/* devices/pcm.c: phase-change memory with programming noise, conductance drift and
 * accumulated 1/f read noise, after aihwkit's PCMLikeNoiseModel (DEVICES.md section 7,
 * [AIHW-PCM], fitted by Nandakumar et al. on measured PCM). Conductances in S; the
 * fitted polynomials are in uS for g_max = 25 uS and are scaled by g_max / 25 uS.
 *
 *   program to G_T:  G_prog = max(G_T + sigma_prog(G_T) xi, 0),
 *                    sigma_prog = 0.26348 + 1.9650 g - 1.1731 g^2 (uS), g = G_T / g_max
 *                    nu = |mu_nu + sigma_nu xi'|, mu_nu = clip(-0.0155 ln g + 0.0244, 0.049, 0.1),
 *                    sigma_nu = clip(-0.0125 ln g - 0.0059, 0.008, 0.045); clock t = 0
 *   drift:           G(t) = G_prog ((t + t0) / t0)^(-nu), t0 = 20 s (drift_row advances t)
 *   read (noisy):    G(t) (1 + Q_s sqrt(max(ln((t + t_r)/(2 t_r)), 0)) xi''),
 *                    Q_s = min(0.0088 / g^0.65, 0.2), t_r = 250 ns
 * Pulses (our choice, unverified: DEVICES.md gives no PCM pulse law): ONE_WAY partial
 * SET pulses, each raising the present (drifted) G by dg_set (1 + dg_set_std xi),
 * clipped to g_max; the result is a fresh programming event (new nu, clock reset) with
 * G_T = the new value and no further programming noise. Energy e_pulse per SET pulse
 * and per program_row write. Random streams: D2D col j draw 0..1 (initial programming
 * of g_init); C2C / program col j draw 0 (xi, xi'), draws 1.. per SET pulse; READ col j
 * draw 0. */
#include <math.h>
#include <stdlib.h>

#include "devices/xb_device.h"

enum { PP_G_MAX, PP_T0, PP_T_READ, PP_DG_SET, PP_DG_SET_STD, PP_E_PULSE, PP_G_INIT, PP_NPARAMS };
enum { PF_GT, PF_GP, PF_NU, PF_T, PF_NFIELDS };
static const char *const pc_field_names[PF_NFIELDS] = { "G_T", "G_prog", "nu", "t" };

#define AP "[AIHW-PCM] PCMLikeNoiseModel"
static const xb_param_spec pc_params[PP_NPARAMS] = {
    [PP_G_MAX] = { "g_max", 25e-6, "S", 1e-9, 1, "reference maximum conductance of the fits", 0, NULL, AP },
    [PP_T0] = { "t0", 20, "s", 1e-9, 1e9, "drift reference time", 0, NULL, AP },
    [PP_T_READ] = { "t_read", 250e-9, "s", 1e-12, 1, "read duration of the 1/f noise law", 0, NULL, AP },
    [PP_DG_SET] = { "dg_set", 1e-6, "S", 0, 1, "conductance gain of one partial SET pulse", 0, NULL, "(unverified)" },
    [PP_DG_SET_STD] = { "dg_set_std", 0.3, "", 0, 5, "pulse-to-pulse spread of dg_set (relative)", 0, NULL, "(unverified)" },
    [PP_E_PULSE] = { "e_pulse", 1e-11, "J", 0, 1e-6, "energy of one SET pulse or write", 0, NULL, "DEVICES.md 9 (unverified)" },
    [PP_G_INIT] = { "g_init", 0, "S", 0, 1, "initial programmed target", 0, NULL, "xbemu choice" },
};

static const char *pc_check(const double *p)
{
    return p[PP_G_INIT] <= p[PP_G_MAX] ? NULL : "g_init must not exceed g_max";
}

static void pc_g_range(const double *p, double *gmin, double *gmax)
{
    *gmin = 0.01 * p[PP_G_MAX];      /* nominal: G = 0 cannot carry a log-scale mapping */
    *gmax = p[PP_G_MAX];
}

/* Program device j to gt with the two normals z (programming) and z2 (drift exponent). */
static void pc_program_one(xb_row *r, const double *p, size_t j, double gt, double z, double z2,
                           int noisy)
{
    const double gm = p[PP_G_MAX], g = gt / gm;
    double gp = gt;
    if (noisy) {
        const double sig_us = 0.26348 + 1.9650 * g - 1.1731 * g * g;
        gp = fmax(gt + sig_us * 1e-6 * (gm / 25e-6) * z, 0);
    }
    const double lg = g > 0 ? log(g) : -INFINITY;
    const double mu = fmin(fmax(-0.0155 * lg + 0.0244, 0.049), 0.1);
    const double sn = fmin(fmax(-0.0125 * lg - 0.0059, 0.008), 0.045);
    r->f[PF_GT][j] = (float)gt;
    r->f[PF_GP][j] = (float)gp;
    r->f[PF_NU][j] = (float)fabs(mu + sn * z2);
    r->f[PF_T][j] = 0;
}

static void pc_init(xb_row *r, const double *p, const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++)
        pc_program_one(r, p, j, p[PP_G_INIT], xb_rng_normal_d(rng, (uint32_t)j, 0),
                       xb_rng_normal_d(rng, (uint32_t)j, 1), 1);
}

static inline double pc_drifted(const xb_row *r, const double *p, size_t j)
{
    return r->f[PF_GP][j] * pow((r->f[PF_T][j] + p[PP_T0]) / p[PP_T0], -(double)r->f[PF_NU][j]);
}

static void pc_conductance(const xb_row *r, const double *p, float *g, const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++) {
        double G = pc_drifted(r, p, j);
        if (rng) {
            const double gt = r->f[PF_GT][j] / p[PP_G_MAX];
            const double qs = gt > 0 ? fmin(0.0088 / pow(gt, 0.65), 0.2) : 0.2;
            const double l = log((r->f[PF_T][j] + p[PP_T_READ]) / (2 * p[PP_T_READ]));
            G *= 1 + qs * sqrt(l > 0 ? l : 0) * xb_rng_normal(rng, (uint32_t)j, 0);
        }
        g[j] = (float)G;
    }
}

static void pc_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++) {
        if (n[j] <= 0) continue;
        double G = pc_drifted(r, p, j);
        for (int q = 0; q < n[j]; q++)
            G = fmin(G + p[PP_DG_SET] * (1 + p[PP_DG_SET_STD] * xb_rng_normal(rng, (uint32_t)j, 1u + (uint32_t)q)),
                     p[PP_G_MAX]);
        pc_program_one(r, p, j, fmax(G, 0), 0, xb_rng_normal(rng, (uint32_t)j, 0), 0);
    }
}

static double pc_energy(const xb_row *r, const double *p, const int16_t *n)
{
    long total = 0;
    for (size_t j = 0; j < r->n; j++) total += n[j] > 0 ? n[j] : 0;
    return (double)total * p[PP_E_PULSE];
}

static double pc_program(xb_row *r, const double *p, const float *g_target, const xb_rng *rng)
{
    long writes = 0;
    for (size_t j = 0; j < r->n; j++) {
        if (isnan(g_target[j])) continue;
        const double gt = fmin(fmax(g_target[j], 0), p[PP_G_MAX]);
        pc_program_one(r, p, j, gt, xb_rng_normal_d(rng, (uint32_t)j, 0),
                       xb_rng_normal_d(rng, (uint32_t)j, 1), 1);
        writes++;
    }
    return (double)writes * p[PP_E_PULSE];
}

static void pc_drift(xb_row *r, const double *p, double dt_s, const xb_rng *rng)
{
    (void)p; (void)rng;
    if (!(dt_s > 0)) return;
    for (size_t j = 0; j < r->n; j++) r->f[PF_T][j] = (float)(r->f[PF_T][j] + dt_s);
}

const xb_device_type xb_device_pcm = {
    .name = "pcm", .summary = "PCM: programming noise, drift G0 ((t+t0)/t0)^-nu, 1/f read noise",
    .source = "[AIHW-PCM] (Nandakumar et al. ICECS 2019); DEVICES.md 7",
    .params = pc_params, .nparams = PP_NPARAMS, .nfields = PF_NFIELDS,
    .field_names = pc_field_names,
    .flags = XB_DEV_ONE_WAY | XB_DEV_READ_NOISE | XB_DEV_DRIFT, .pulse_dir = +1,
    .check = pc_check, .g_range = pc_g_range, .init_row = pc_init,
    .conductance_row = pc_conductance, .pulse_row = pc_pulse, .pulse_energy_row = pc_energy,
    .program_row = pc_program, .drift_row = pc_drift,
};
