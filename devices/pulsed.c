/* devices/pulsed.c: the reference pulsed devices of the IBM aihwkit family
 * (DEVICES.md section 1): `linear` (ConstantStep with optional LinearStep slopes),
 * `softbounds` and `expstep`. One pulse = one step of a device weight w in w-units;
 * the conductance is affine in w, G = g_ref + w g_unit, so a reference column of
 * conductance g_ref reads w back exactly.
 *
 * D2D draw (draws 0..3, and 4..5 for LinearStep slopes, of the D2D stream, col = device):
 *   beta = up_down + up_down_dtod xi1;  gain = 1 + dw_min_dtod xi2
 *   dw_up = dw_min (gain + beta),  dw_down = -dw_min (gain - beta)       (DEVICES.md: 1 + d beta + dtod xi2)
 *   b_max = w_max (1 + w_max_dtod xi3),  b_min = w_min (1 + w_min_dtod xi4)
 *   gamma_up = -|gamma_up + gamma_dtod xi5| / b_max, gamma_down = -|...| / b_min
 * enforce_consistency (always on): swapped bounds are exchanged, step signs forced,
 * and a bound whose draw crossed zero (w_max_dtod xi3 < -1: 4e-4 of the devices at
 * dtod 0.3) is held at 1e-3 of its nominal value on its own side. Without that the
 * SoftBounds factor 1 - w/b_max changes sign inside the device's range and an "up"
 * pulse drives w down hard (found in review; aihwkit's consistency step only swaps).
 * C2C noise is multiplicative, dw (1 + sigma xi), or with additive_noise (aihwkit's
 * mult_noise = False, used by the ReRam presets) dw + |dw| sigma xi.
 * C2C: pulse q of device j uses the ziggurat normal at (col j, draw q) of the C2C stream
 * (xb_rng_normal_zig), drawn in batches of devices (xb_rng_normal_zig_cols). Until
 * 2026-11 it was the Box-Muller xb_rng_normal of the same counters: same distribution,
 * other bits (and Box-Muller's |z| <= 5.77 bound is gone).
 * Every pulse is clipped to [b_min, b_max] on its own (not after the burst). */
#include <math.h>
#include <stdlib.h>

#include "devices/xb_device.h"

enum { P_DW_MIN, P_DW_MIN_DTOD, P_DW_MIN_STD, P_UP_DOWN, P_UP_DOWN_DTOD, P_W_MAX, P_W_MIN,
       P_W_MAX_DTOD, P_W_MIN_DTOD, P_G_REF, P_G_UNIT, P_E_PULSE, P_W_INIT, P_ADD_NOISE, P_COMMON };
enum { L_GAMMA_UP = P_COMMON, L_GAMMA_DOWN, L_GAMMA_DTOD, L_NPARAMS };
enum { E_A_UP = P_COMMON, E_A_DOWN, E_GAMMA_UP, E_GAMMA_DOWN, E_A, E_B, E_NPARAMS };
enum { F_W, F_UP, F_DOWN, F_BMAX, F_BMIN, F_GUP, F_GDOWN, NFIELDS };

static const char *const field_names[NFIELDS] = { "w", "dw_up", "dw_down", "b_max", "b_min",
                                                   "gamma_up", "gamma_down" };

#define COMMON_PARAMS                                                                         \
    [P_DW_MIN] = { "dw_min", 0.001, "w", 1e-9, 0.1, "mean step of one pulse", 0, NULL, "[AIHW], [GV16]" }, \
    [P_DW_MIN_DTOD] = { "dw_min_dtod", 0.3, "", 0, 1, "device-to-device spread of the step (relative)", 0, NULL, "[AIHW]" }, \
    [P_DW_MIN_STD] = { "dw_min_std", 0.3, "", 0, 5, "pulse-to-pulse spread of the step (relative)", 0, NULL, "[AIHW]" }, \
    [P_UP_DOWN] = { "up_down", 0, "", -0.99, 0.99, "up/down bias: up steps x(1+b), down steps x(1-b)", 0, NULL, "[AIHW]" }, \
    [P_UP_DOWN_DTOD] = { "up_down_dtod", 0.01, "", 0, 0.5, "device-to-device spread of the bias", 0, NULL, "[AIHW]" }, \
    [P_W_MAX] = { "w_max", 0.6, "w", 1e-6, 100, "upper bound of the weight", 0, NULL, "[AIHW], [GV16]" }, \
    [P_W_MIN] = { "w_min", -0.6, "w", -100, 0, "lower bound of the weight", 0, NULL, "[AIHW], [GV16]" }, \
    [P_W_MAX_DTOD] = { "w_max_dtod", 0.3, "", 0, 1, "device-to-device spread of w_max (relative)", 0, NULL, "[AIHW]" }, \
    [P_W_MIN_DTOD] = { "w_min_dtod", 0.3, "", 0, 1, "device-to-device spread of w_min (relative)", 0, NULL, "[AIHW]" }, \
    [P_G_REF] = { "g_ref", 1e-5, "S", 0, 1, "conductance at w = 0 (the reference column)", 0, NULL, "xbemu choice" }, \
    [P_G_UNIT] = { "g_unit", 4e-6, "S", 1e-12, 1, "conductance per w-unit", 0, NULL, "xbemu choice" }, \
    [P_E_PULSE] = { "e_pulse", 1e-11, "J", 0, 1e-6, "energy of one programming pulse", 0, NULL, "DEVICES.md 9 (unverified)" }, \
    [P_W_INIT] = { "w_init", 0, "w", -100, 100, "initial weight (clipped to the device's bounds)", 0, NULL, "xbemu choice" }, \
    [P_ADD_NOISE] = { "additive_noise", 0, "", 0, 1, "C2C noise |dw| dw_min_std xi added to the step instead of multiplying it", XB_P_BOOL, NULL, "[AIHW] mult_noise = False" }

static const xb_param_spec linear_params[L_NPARAMS] = {
    COMMON_PARAMS,
    [L_GAMMA_UP] = { "gamma_up", 0, "", 0, 1, "LinearStep slope of the up step (0: constant step)", 0, NULL, "[AIHW]" },
    [L_GAMMA_DOWN] = { "gamma_down", 0, "", 0, 1, "LinearStep slope of the down step", 0, NULL, "[AIHW]" },
    [L_GAMMA_DTOD] = { "gamma_dtod", 0.05, "", 0, 1, "device-to-device spread of the slopes", 0, NULL, "[AIHW]" },
};
static const xb_param_spec sb_params[P_COMMON] = { COMMON_PARAMS };
static const xb_param_spec exp_params[E_NPARAMS] = {
    COMMON_PARAMS,
    [E_A_UP] = { "A_up", 0.00081, "", -10, 10, "ExpStep amplitude, up", 0, NULL, "[AIHW] ExpStepDevice" },
    [E_A_DOWN] = { "A_down", 0.36833, "", -10, 10, "ExpStep amplitude, down", 0, NULL, "[AIHW] ExpStepDevice" },
    [E_GAMMA_UP] = { "gamma_up", 12.44625, "", -100, 100, "ExpStep exponent, up", 0, NULL, "[AIHW] ExpStepDevice" },
    [E_GAMMA_DOWN] = { "gamma_down", 12.78785, "", -100, 100, "ExpStep exponent, down", 0, NULL, "[AIHW] ExpStepDevice" },
    [E_A] = { "a", 0.244, "", -10, 10, "ExpStep z-scale", 0, NULL, "[AIHW] ExpStepDevice" },
    [E_B] = { "b", 0.2425, "", -10, 10, "ExpStep z-offset", 0, NULL, "[AIHW] ExpStepDevice" },
};

static const char *pulsed_check(const double *p)
{
    return p[P_W_MIN] < p[P_W_MAX] ? NULL : "w_min must be below w_max";
}

static void pulsed_g_range(const double *p, double *gmin, double *gmax)
{
    *gmin = p[P_G_REF] + p[P_W_MIN] * p[P_G_UNIT];
    *gmax = p[P_G_REF] + p[P_W_MAX] * p[P_G_UNIT];
}

static void init_common(xb_row *r, const double *p, const xb_rng *rng, int slopes,
                        double gamma_up, double gamma_down, double gamma_dtod)
{
    for (size_t j = 0; j < r->n; j++) {
        const double z0 = xb_rng_normal_d(rng, (uint32_t)j, 0);
        const double z1 = xb_rng_normal_d(rng, (uint32_t)j, 1);
        const double z2 = xb_rng_normal_d(rng, (uint32_t)j, 2);
        const double z3 = xb_rng_normal_d(rng, (uint32_t)j, 3);
        const double beta = p[P_UP_DOWN] + p[P_UP_DOWN_DTOD] * z0;
        const double gain = 1 + p[P_DW_MIN_DTOD] * z1;
        double up = p[P_DW_MIN] * (gain + beta), dn = -p[P_DW_MIN] * (gain - beta);
        double bmax = p[P_W_MAX] * (1 + p[P_W_MAX_DTOD] * z2);
        double bmin = p[P_W_MIN] * (1 + p[P_W_MIN_DTOD] * z3);
        if (bmin > bmax) { const double t = bmin; bmin = bmax; bmax = t; }  /* consistency */
        if (p[P_W_MAX] > 0 && bmax < 1e-3 * p[P_W_MAX]) bmax = 1e-3 * p[P_W_MAX];
        if (p[P_W_MIN] < 0 && bmin > 1e-3 * p[P_W_MIN]) bmin = 1e-3 * p[P_W_MIN];
        up = fabs(up);
        dn = -fabs(dn);
        double w = p[P_W_INIT];
        w = w < bmin ? bmin : w > bmax ? bmax : w;
        r->f[F_W][j] = (float)w;
        r->f[F_UP][j] = (float)up;
        r->f[F_DOWN][j] = (float)dn;
        r->f[F_BMAX][j] = (float)bmax;
        r->f[F_BMIN][j] = (float)bmin;
        double gu = 0, gd = 0;
        if (slopes) {
            const double z4 = xb_rng_normal_d(rng, (uint32_t)j, 4);
            const double z5 = xb_rng_normal_d(rng, (uint32_t)j, 5);
            gu = bmax != 0 ? -fabs(gamma_up + gamma_dtod * z4) / bmax : 0;
            gd = bmin != 0 ? -fabs(gamma_down + gamma_dtod * z5) / bmin : 0;
        }
        r->f[F_GUP][j] = (float)gu;
        r->f[F_GDOWN][j] = (float)gd;
    }
}

static void linear_init(xb_row *r, const double *p, const xb_rng *rng)
{
    init_common(r, p, rng, 1, p[L_GAMMA_UP], p[L_GAMMA_DOWN], p[L_GAMMA_DTOD]);
}

static void plain_init(xb_row *r, const double *p, const xb_rng *rng)
{
    init_common(r, p, rng, 0, 0, 0, 0);
}

static void pulsed_g(const xb_row *r, const double *p, float *g, const xb_rng *rng)
{
    (void)rng;
    const float ref = (float)p[P_G_REF], unit = (float)p[P_G_UNIT];
    const float *restrict w = r->f[F_W];
    for (size_t j = 0; j < r->n; j++) g[j] = ref + w[j] * unit;
}

static double pulsed_energy(const xb_row *r, const double *p, const int16_t *n)
{
    long total = 0;
    for (size_t j = 0; j < r->n; j++) total += abs(n[j]);
    return (double)total * p[P_E_PULSE];
}

/* One kernel for the three step laws; `law` is constant per call, so the branch on it
 * is hoisted by the compiler out of the device loop.
 *
 * The C2C normals are drawn in batches: devices go in chunks of PB, and pulse q of
 * every device of a chunk that still has a q-th pulse is drawn in one vectorised call
 * (core/rng_simd.c, ziggurat), then applied. Each device still sees its own pulses in order, and
 * each draw is the same pure function of (row, device, pulse) as before, so the
 * result does not depend on the batching (nor on threads). */
enum { LAW_LINEAR, LAW_SOFT, LAW_EXP };
enum { PB = 256 };

static inline void pulse_kernel(xb_row *r, const double *p, const int16_t *n,
                                const xb_rng *rng, int law)
{
    float *restrict w = r->f[F_W];
    const float *restrict up = r->f[F_UP], *restrict dn = r->f[F_DOWN];
    const float *restrict hi = r->f[F_BMAX], *restrict lo = r->f[F_BMIN];
    const float *restrict gup = r->f[F_GUP], *restrict gdn = r->f[F_GDOWN];
    const float sigma = (float)p[P_DW_MIN_STD];
    const int additive = p[P_ADD_NOISE] != 0;
    float ea_up = 0, ea_dn = 0, eg_up = 0, eg_dn = 0, ea = 0, eb = 0;
    if (law == LAW_EXP) {
        ea_up = (float)p[E_A_UP]; ea_dn = (float)p[E_A_DOWN];
        eg_up = (float)p[E_GAMMA_UP]; eg_dn = (float)p[E_GAMMA_DOWN];
        ea = (float)p[E_A]; eb = (float)p[E_B];
    }
    uint32_t idx[PB];
    float zs[PB];
    for (size_t j0 = 0; j0 < r->n; j0 += PB) {
        const size_t j1 = r->n - j0 < PB ? r->n : j0 + PB;
        size_t m = 0;
        for (size_t j = j0; j < j1; j++) {          /* devices with at least one pulse */
            idx[m] = (uint32_t)j;
            m += n[j] != 0;
        }
        for (int q = 0; m > 0; q++) {              /* pulse q of every device that has it */
            if (sigma > 0) xb_rng_normal_zig_cols(rng, idx, (uint32_t)q, m, zs);
            size_t left = 0;
            for (size_t i = 0; i < m; i++) {
                const size_t j = idx[i];
                const int k = n[j], upward = k > 0;
                const float x = w[j], step0 = upward ? up[j] : dn[j];
                float scale;
                switch (law) {
                case LAW_SOFT: scale = upward ? 1 - x / hi[j] : 1 - x / lo[j]; break;
                case LAW_EXP: {
                    const float zz = 2 * ea * x / (hi[j] - lo[j]) + eb;
                    const float y = upward ? 1 - ea_up * expf(eg_up * zz) : 1 - ea_dn * expf(-eg_dn * zz);
                    scale = y > 0 ? y : 0;
                    break;
                }
                default: scale = 1 + (upward ? gup[j] : gdn[j]) * x; break;
                }
                const float z = sigma > 0 ? sigma * zs[i] : 0;
                const float xn = x + (additive ? step0 * scale + fabsf(step0) * z
                                               : step0 * scale * (1 + z));
                w[j] = fminf(fmaxf(xn, lo[j]), hi[j]);
                idx[left] = (uint32_t)j;           /* keep it if it has another pulse */
                left += abs(k) > q + 1;
            }
            m = left;
        }
    }
}

static void linear_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    pulse_kernel(r, p, n, rng, LAW_LINEAR);
}
static void soft_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    pulse_kernel(r, p, n, rng, LAW_SOFT);
}
static void exp_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    pulse_kernel(r, p, n, rng, LAW_EXP);
}

const xb_device_type xb_device_linear = {
    .name = "linear", .summary = "constant step (LinearStep slopes optional), hard bounds",
    .source = "[AIHW] ConstantStep/LinearStep; [GV16]",
    .params = linear_params, .nparams = L_NPARAMS, .nfields = NFIELDS,
    .field_names = field_names, .pulse_dir = +1,
    .check = pulsed_check, .g_range = pulsed_g_range, .init_row = linear_init,
    .conductance_row = pulsed_g, .pulse_row = linear_pulse, .pulse_energy_row = pulsed_energy,
};

const xb_device_type xb_device_softbounds = {
    .name = "softbounds", .summary = "step proportional to the distance to the bound",
    .source = "[AIHW] SoftBounds",
    .params = sb_params, .nparams = P_COMMON, .nfields = NFIELDS,
    .field_names = field_names, .pulse_dir = +1,
    .check = pulsed_check, .g_range = pulsed_g_range, .init_row = plain_init,
    .conductance_row = pulsed_g, .pulse_row = soft_pulse, .pulse_energy_row = pulsed_energy,
};

const xb_device_type xb_device_expstep = {
    .name = "expstep", .summary = "exponentially state-dependent step (fits measured RRAM)",
    .source = "[AIHW] ExpStepDevice",
    .params = exp_params, .nparams = E_NPARAMS, .nfields = NFIELDS,
    .field_names = field_names, .pulse_dir = +1,
    .check = pulsed_check, .g_range = pulsed_g_range, .init_row = plain_init,
    .conductance_row = pulsed_g, .pulse_row = exp_pulse, .pulse_energy_row = pulsed_energy,
};
