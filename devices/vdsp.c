/* devices/vdsp.c: the lumped pulse-response law Garg et al. fitted to TiO2 and HfO2 RRAM
 * and an HZO FTJ for voltage-dependent synaptic plasticity (DEVICES.md section 3,
 * [Garg25], numbers read in [GargCode] memristor_mnist.py). Defaults are TiO2; the HfO2
 * and HZO sets are experiments/configs/devices/vdsp_{hfo2,hzo}.ini.
 *
 * State: normalised w in [0, 1]; G = g_lrs (w_min + (1 - w_min) w), w_min = 1/on_off.
 * A pulse of amplitude v (the *scaled* voltage, ALGORITHMS.md 7):
 *   v < -v_th  (potentiation): dw = +eta (1 - w)^gamma |exp(-alpha (v + v_th)) - 1|
 *   v >  v_dn = v_th r_v (depression): dw = -eta r_eta f(w) |exp(alpha r_alpha (v - v_dn)) - 1|,
 *              f(w) = w^(gamma r_gamma) for w > 0.01 and 1 below (the reference's guard)
 *   otherwise nothing (threshold window); w <- clip(w + dw, 0, 1).
 * Non-idealities of the reference (all off by default): the update happens with
 * probability switching_prob, and dw is scaled by U(1 - var_dw, 1 + var_dw) (C2C).
 * pulse_row applies |n| pulses of -v_over v_th (n > 0) or +v_over v_dn (n < 0) volts;
 * pulse_amp_row one pulse of v[j] volts (the width does not enter the fitted law).
 * Energy of a pulse: v^2 G t_prog with G of the state before (unverified estimate; the
 * law carries no current). Random streams: C2C col j, draw q: lane 0 switching, lane 1
 * the dw spread; D2D col j draw 0: initial U(0, 1) weight if init_uniform. */
#include <math.h>
#include <stdlib.h>

#include "devices/xb_device.h"

enum { VP_ETA, VP_R_ETA, VP_GAMMA, VP_R_GAMMA, VP_ALPHA, VP_R_ALPHA, VP_V_TH, VP_R_V, VP_ON_OFF,
       VP_G_LRS, VP_V_OVER, VP_T_PROG, VP_SW_PROB, VP_VAR_DW, VP_W_INIT, VP_INIT_UNIFORM,
       VP_NPARAMS };
enum { VF_W, VF_NFIELDS };
static const char *const vd_field_names[VF_NFIELDS] = { "w" };

#define GC "[GargCode] TiO2"
static const xb_param_spec vd_params[VP_NPARAMS] = {
    [VP_ETA] = { "eta", 1, "", 0, 10, "step scale eta", 0, NULL, "[GargCode]" },
    [VP_R_ETA] = { "r_eta", 1, "", 0, 10, "depression/potentiation ratio of eta", 0, NULL, "[GargCode]" },
    [VP_GAMMA] = { "gamma", 1.67958, "", 0, 10, "soft-bound exponent of potentiation", 0, NULL, GC },
    [VP_R_GAMMA] = { "r_gamma", 0.94386, "", 0, 10, "ratio of the depression exponent", 0, NULL, GC },
    [VP_ALPHA] = { "alpha", 0.67896, "1/V", 0, 10, "voltage non-linearity", 0, NULL, GC },
    [VP_R_ALPHA] = { "r_alpha", 1.12480, "", 0, 10, "ratio of alpha for depression", 0, NULL, GC },
    [VP_V_TH] = { "v_th", 1.43233, "V", 0, 10, "potentiation threshold (|v| beyond -v_th)", 0, NULL, GC },
    [VP_R_V] = { "r_v", 1.09212, "", 0, 10, "depression threshold v_th r_v", 0, NULL, GC },
    [VP_ON_OFF] = { "on_off", 7.5, "", 1.0001, 1e6, "HRS/LRS resistance ratio", 0, NULL, GC },
    [VP_G_LRS] = { "g_lrs", 1e-5, "S", 1e-12, 1, "conductance at w = 1 (LRS)", 0, NULL, "(unverified)" },
    [VP_V_OVER] = { "v_over", 1.4, "", 1, 10, "pulse_row amplitude relative to its threshold", 0, NULL, "xbemu choice" },
    [VP_T_PROG] = { "t_prog", 1e-7, "s", 0, 1, "programming pulse width (energy only)", 0, NULL, "(unverified)" },
    [VP_SW_PROB] = { "switching_prob", 1, "", 0, 1, "probability that a pulse updates at all", 0, NULL, "[GargCode]" },
    [VP_VAR_DW] = { "var_dw", 0, "", 0, 1, "dw scaled by U(1 - var_dw, 1 + var_dw) (C2C)", 0, NULL, "[GargCode]" },
    [VP_W_INIT] = { "w_init", 0.5, "", 0, 1, "initial weight", 0, NULL, "xbemu choice" },
    [VP_INIT_UNIFORM] = { "init_uniform", 0, "", 0, 1, "initial weight U(0, 1) per device (the reference's init)", XB_P_BOOL, NULL, "[GargCode]" },
};

static void vd_g_range(const double *p, double *gmin, double *gmax)
{
    *gmax = p[VP_G_LRS];
    *gmin = p[VP_G_LRS] / p[VP_ON_OFF];
}

static void vd_init(xb_row *r, const double *p, const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++)
        r->f[VF_W][j] = p[VP_INIT_UNIFORM] != 0 ? (float)xb_rng_uniform_d(rng, (uint32_t)j, 0)
                                                 : (float)p[VP_W_INIT];
}

static inline float vd_g(const double *p, float w)
{
    const float wmin = (float)(1.0 / p[VP_ON_OFF]);
    return (float)p[VP_G_LRS] * (wmin + (1 - wmin) * w);
}

static void vd_conductance(const xb_row *r, const double *p, float *g, const xb_rng *rng)
{
    (void)rng;
    for (size_t j = 0; j < r->n; j++) g[j] = vd_g(p, r->f[VF_W][j]);
}

/* dw of one pulse of v volts at weight w (no noise): DEVICES.md 3. */
static inline double vd_dw(const double *p, double w, double v)
{
    const double vth = p[VP_V_TH], vdn = p[VP_V_TH] * p[VP_R_V];
    if (v < -vth) return p[VP_ETA] * pow(1 - w, p[VP_GAMMA]) * fabs(expm1(-p[VP_ALPHA] * (v + vth)));
    if (v > vdn) {
        const double f = w > 0.01 ? pow(w, p[VP_GAMMA] * p[VP_R_GAMMA]) : 1;
        return -p[VP_ETA] * p[VP_R_ETA] * f * fabs(expm1(p[VP_ALPHA] * p[VP_R_ALPHA] * (v - vdn)));
    }
    return 0;
}

static inline void vd_apply(xb_row *r, const double *p, size_t j, double v, int count,
                            const xb_rng *rng)
{
    float w = r->f[VF_W][j];
    for (int q = 0; q < count; q++) {
        double k = 1;
        if (p[VP_SW_PROB] < 1 || p[VP_VAR_DW] > 0) {
            float u[4];
            xb_rng_u4(rng, (uint32_t)j, (uint32_t)q, u);
            if (!(u[0] < p[VP_SW_PROB])) continue;
            k = 1 + p[VP_VAR_DW] * (2.0 * u[1] - 1);
        }
        const double x = w + k * vd_dw(p, w, v);
        w = (float)(x < 0 ? 0 : x > 1 ? 1 : x);
    }
    r->f[VF_W][j] = w;
}

static inline double vd_nominal_v(const double *p, int n)
{
    return n > 0 ? -p[VP_V_OVER] * p[VP_V_TH] : p[VP_V_OVER] * p[VP_V_TH] * p[VP_R_V];
}

static void vd_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++)
        if (n[j]) vd_apply(r, p, j, vd_nominal_v(p, n[j]), abs(n[j]), rng);
}

static double vd_energy(const xb_row *r, const double *p, const int16_t *n)
{
    double e = 0;
    for (size_t j = 0; j < r->n; j++)
        if (n[j]) {
            const double v = vd_nominal_v(p, n[j]);
            e += abs(n[j]) * v * v * vd_g(p, r->f[VF_W][j]) * p[VP_T_PROG];
        }
    return e;
}

static void vd_pulse_amp(xb_row *r, const double *p, const float *v, double t_pulse,
                         const xb_rng *rng)
{
    (void)t_pulse;
    for (size_t j = 0; j < r->n; j++)
        if (v[j] != 0) vd_apply(r, p, j, v[j], 1, rng);
}

static double vd_pulse_amp_energy(const xb_row *r, const double *p, const float *v, double t_pulse)
{
    double e = 0;
    for (size_t j = 0; j < r->n; j++) e += (double)v[j] * v[j] * vd_g(p, r->f[VF_W][j]) * t_pulse;
    return e;
}

const xb_device_type xb_device_vdsp = {
    .name = "vdsp", .summary = "VDSP lumped law (TiO2/HfO2 RRAM, HZO FTJ): thresholds, soft bounds",
    .source = "[Garg25], [GargCode] memristor_mnist.py; DEVICES.md 3",
    .params = vd_params, .nparams = VP_NPARAMS, .nfields = VF_NFIELDS,
    .field_names = vd_field_names, .pulse_dir = +1,
    .g_range = vd_g_range, .init_row = vd_init,
    .conductance_row = vd_conductance, .pulse_row = vd_pulse, .pulse_energy_row = vd_energy,
    .pulse_amp_row = vd_pulse_amp, .pulse_amp_energy_row = vd_pulse_amp_energy,
};
