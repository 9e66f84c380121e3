/* devices/dw.c: domain-wall synapse with S pinning sites (DEVICES.md section 6,
 * [Misba20], [Misba21]).
 *
 * The wall position x in [0, 1] sets G = x G_P + (1 - x) G_AP. The wall rests near one
 * of S pinning sites x_k = k/(S - 1); landing at site k puts it at x ~ N(x_k, sigma^2)
 * clipped to [0, 1] (thermal noise and edge roughness), and with probability p_miss
 * the wall lands at a neighbouring site of the intended one instead (either side with
 * equal odds; the only neighbour at a track end).
 *
 * Two ways to move it:
 *  - program_row: one programming pulse per device towards the state nearest the
 *    target conductance (the target is quantised first, the noise applied after).
 *  - pulse_row (pulse-driven training): each pulse depins the wall with probability
 *    p_depin and sends it one site up (n > 0, raises G) or down; at the end of the
 *    track a pulse that would leave it does nothing (end-of-track bound).
 * Energy: e_pulse per programming pulse, from the pulse count (not from the state).
 *
 * State fields: k (site index), x (position), G_P and G_AP of the device (D2D spread
 * g_dtod, relative normal, default 0). Random streams: D2D col j draws 0, 1 (normals:
 * G_P, G_AP spread), 2 (landing of the initial state); C2C col j draw q = pulse q
 * (lanes: depin, miss, two for the Box-Muller landing normal); program_row uses draw 0. */
#include <math.h>
#include <stdlib.h>

#include "devices/xb_device.h"

enum { DP_S, DP_SIGMA, DP_P_MISS, DP_P_DEPIN, DP_G_P, DP_G_AP, DP_G_DTOD, DP_E_PULSE, DP_K_INIT,
       DP_NPARAMS };
enum { DF_K, DF_X, DF_GP, DF_GAP, DF_NFIELDS };

static const char *const dw_field_names[DF_NFIELDS] = { "k", "x", "G_P", "G_AP" };

#define UNV "(unverified)"
static const xb_param_spec dw_params[DP_NPARAMS] = {
    [DP_S] = { "states", 5, "", 2, 64, "number of pinning sites S (2, 3, 5 in [Misba21])", XB_P_INT, NULL, "[Misba21]" },
    [DP_SIGMA] = { "sigma", 0.05, "", 0, 0.5, "landing spread per state (track fraction)", 0, NULL, UNV },
    [DP_P_MISS] = { "p_miss", 0, "", 0, 1, "probability of landing at a neighbouring site", 0, NULL, UNV },
    [DP_P_DEPIN] = { "p_depin", 1, "", 0, 1, "probability that one training pulse moves the wall a site", 0, NULL, "xbemu choice" },
    [DP_G_P] = { "g_p", 1e-5, "S", 1e-12, 1, "conductance with the junction fully parallel", 0, NULL, UNV },
    [DP_G_AP] = { "g_ap", 5e-6, "S", 1e-12, 1, "conductance with the junction fully antiparallel", 0, NULL, UNV },
    [DP_G_DTOD] = { "g_dtod", 0, "", 0, 0.5, "D2D spread of G_P and G_AP (relative)", 0, NULL, "xbemu choice" },
    [DP_E_PULSE] = { "e_pulse", 5e-15, "J", 0, 1e-9, "energy of one programming pulse", 0, NULL, "[Misba20] \"few fJ\"" },
    [DP_K_INIT] = { "k_init", 0, "", 0, 63, "initial site (clipped to S - 1)", XB_P_INT, NULL, "xbemu choice" },
};

static const char *dw_check(const double *p)
{
    return p[DP_G_P] > p[DP_G_AP] ? NULL : "g_p must be above g_ap";
}

static void dw_g_range(const double *p, double *gmin, double *gmax)
{
    *gmin = p[DP_G_AP];
    *gmax = p[DP_G_P];
}

/* Land the wall of device j near site `target` (u: two uniforms for p_miss and its
 * side, z: a standard normal). */
static inline void dw_land(xb_row *r, const double *p, size_t j, int target, float um, float z)
{
    const int top = (int)p[DP_S] - 1;
    if (um < p[DP_P_MISS]) {
        const int side = um < 0.5 * p[DP_P_MISS] ? -1 : +1;
        int k = target + side;
        if (k < 0 || k > top) k = target - side;
        target = k;
    }
    float x = (float)((double)target / top + p[DP_SIGMA] * z);
    r->f[DF_K][j] = (float)target;
    r->f[DF_X][j] = fminf(fmaxf(x, 0.0f), 1.0f);
}

static inline float dw_normal(const float u[4])   /* Box-Muller on lanes 2, 3 */
{
    return sqrtf(-2.0f * logf(u[2])) * cosf(6.28318530717958648f * u[3]);
}

static void dw_init(xb_row *r, const double *p, const xb_rng *rng)
{
    const int top = (int)p[DP_S] - 1;
    const int k0 = (int)p[DP_K_INIT] < top ? (int)p[DP_K_INIT] : top;
    for (size_t j = 0; j < r->n; j++) {
        const uint32_t c = (uint32_t)j;
        double gp = p[DP_G_P], gap = p[DP_G_AP];
        if (p[DP_G_DTOD] > 0) {
            gp *= 1 + p[DP_G_DTOD] * xb_rng_normal_d(rng, c, 0);
            gap *= 1 + p[DP_G_DTOD] * xb_rng_normal_d(rng, c, 1);
            gp = fmax(gp, 1e-3 * p[DP_G_P]);
            gap = fmax(gap, 1e-3 * p[DP_G_AP]);
        }
        r->f[DF_GP][j] = (float)gp;
        r->f[DF_GAP][j] = (float)gap;
        float u[4];
        xb_rng_u4(rng, c, 2, u);
        dw_land(r, p, j, k0, 2.0f, dw_normal(u));    /* the initial state never misses */
    }
}

static void dw_conductance(const xb_row *r, const double *p, float *g, const xb_rng *rng)
{
    (void)p; (void)rng;
    const float *restrict x = r->f[DF_X], *restrict gp = r->f[DF_GP], *restrict gap = r->f[DF_GAP];
    for (size_t j = 0; j < r->n; j++) g[j] = x[j] * gp[j] + (1 - x[j]) * gap[j];
}

static void dw_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    const int top = (int)p[DP_S] - 1;
    const float pd = (float)p[DP_P_DEPIN];
    for (size_t j = 0; j < r->n; j++) {
        const int cnt = abs(n[j]), d = n[j] > 0 ? 1 : -1;
        for (int q = 0; q < cnt; q++) {
            const int k = (int)r->f[DF_K][j];
            if (k + d < 0 || k + d > top) break;          /* end of track: nothing moves */
            float u[4];
            xb_rng_u4(rng, (uint32_t)j, (uint32_t)q, u);
            if (!(u[0] < pd)) continue;                   /* stays pinned */
            dw_land(r, p, j, k + d, u[1], dw_normal(u));
        }
    }
}

static double dw_energy(const xb_row *r, const double *p, const int16_t *n)
{
    long total = 0;
    for (size_t j = 0; j < r->n; j++) total += abs(n[j]);
    return (double)total * p[DP_E_PULSE];
}

static double dw_program(xb_row *r, const double *p, const float *g_target, const xb_rng *rng)
{
    const int top = (int)p[DP_S] - 1;
    const double g0 = p[DP_G_AP], span = p[DP_G_P] - p[DP_G_AP];
    long pulses = 0;
    for (size_t j = 0; j < r->n; j++) {
        if (isnan(g_target[j])) continue;
        long k = lround((g_target[j] - g0) / span * top);   /* quantise the target first */
        k = k < 0 ? 0 : k > top ? top : k;
        float u[4];
        xb_rng_u4(rng, (uint32_t)j, 0, u);
        dw_land(r, p, j, (int)k, u[1], dw_normal(u));
        pulses++;
    }
    return (double)pulses * p[DP_E_PULSE];
}

const xb_device_type xb_device_dw = {
    .name = "dw", .summary = "domain-wall MTJ synapse: S pinning sites, stochastic landing, depinning",
    .source = "[Misba20], [Misba21]; DEVICES.md 6",
    .params = dw_params, .nparams = DP_NPARAMS, .nfields = DF_NFIELDS,
    .field_names = dw_field_names, .pulse_dir = +1,
    .check = dw_check, .g_range = dw_g_range, .init_row = dw_init,
    .conductance_row = dw_conductance, .pulse_row = dw_pulse, .pulse_energy_row = dw_energy,
    .program_row = dw_program,
};
