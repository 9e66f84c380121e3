/* devices/ftj.c: HZO ferroelectric tunnel junction with nucleation-limited switching
 * (DEVICES.md section 4: [Chan12] conductance law, [Si19] NLS time scale, Merz field law).
 *
 * Each device is N_d elementary regions, each polarised "up" (ON) or "down" (OFF);
 * s = (#up)/N_d and G = s G_ON + (1 - s) G_OFF, G_OFF = G_ON / on_off. Region i of a
 * device has its own switching time tau_i(V) = tau_m(V) 10^(delta_i), where delta_i
 * (decades) is Lorentzian (Cauchy) with half-width w_L, drawn once per device and
 * region (D2D), clipped to +-8 decades, and tau_m(V) = tau_inf exp((V_a / |V|)^kappa)
 * is the Merz law with a per-device V_a (D2D spread of the coercive/activation
 * voltage). A pulse of amplitude V (V > 0 switches down -> up, V < 0 up -> down, each
 * population in its own direction) and width t_p switches each region not yet in
 * the pulse's direction with p_i = 1 - exp(-t_p / tau_i(V)); n identical pulses with
 * 1 - exp(-n t_p / tau_i(V)). The stochastic switching is the cycle-to-cycle noise.
 *
 * Storage choice. The region offsets delta_i are NOT stored: they are recomputed on
 * the fly from a per-device 48-bit key (two fields of 24 bits, exact in float) drawn
 * from the D2D stream at init, through Philox keyed by it (counter {i/4, tag}), so a
 * device's regions are a pure function of (seed, array, row, col, region) and the
 * state costs 13 floats per device whatever N_d. Only the region polarities are
 * stored, 24 per float field (integers below 2^24 are exact in float), 8 fields:
 * N_d <= 192. The price is time: every pulse recomputes delta_i for its regions
 * (one Cauchy deviate, an exp and a uniform per region), so a pulse costs O(N_d).
 *
 * Energy of a pulse (DEVICES.md sections 4, 9): 2 P_r A |V| ds + C V^2 per pulse. The
 * switched fraction ds of a pulse is known only after it, while energy is booked
 * from the state before it; so the switching term is booked as its expectation given
 * that state, E[ds] = sum over unswitched regions of p_i / N_d (exact, no sampling).
 *
 * Random streams: D2D col j: draw 0 (normal) V_a spread, draw 1 (normal) G_ON spread,
 * draw 2 (raw words) the 48-bit region key. C2C col j: draw i/4, lane i%4 = uniform
 * of region i. */
#include <math.h>
#include <stdlib.h>

#include "devices/xb_device.h"

enum { FT_BITS = 24, FT_WORDS = 8, FT_ND_MAX = FT_BITS * FT_WORDS };
enum { FP_G_ON, FP_ON_OFF, FP_G_ON_DTOD, FP_TAU_INF, FP_V_A, FP_V_A_DTOD, FP_KAPPA, FP_W_L,
       FP_N_D, FP_V_PULSE, FP_T_PULSE, FP_P_R, FP_AREA, FP_C_DEV, FP_S_INIT, FP_NPARAMS };
enum { FF_S, FF_GON, FF_VA, FF_KEY_LO, FF_KEY_HI, FF_BITS0, FF_NFIELDS = FF_BITS0 + FT_WORDS };

static const char *const ft_field_names[FF_NFIELDS] = {
    "s", "G_ON", "V_a", "key_lo", "key_hi", "up0", "up1", "up2", "up3", "up4", "up5", "up6", "up7",
};

#define UNV "(unverified)"
static const xb_param_spec ft_params[FP_NPARAMS] = {
    [FP_G_ON] = { "g_on", 1e-6, "S", 1e-12, 1, "ON conductance (all regions up)", 0, NULL, UNV },
    [FP_ON_OFF] = { "on_off", 2.65, "", 1.0001, 1e6, "G_ON / G_OFF", 0, NULL, "[GargCode] HZO FTJ" },
    [FP_G_ON_DTOD] = { "g_on_dtod", 0.05, "", 0, 0.5, "D2D spread of G_ON (relative)", 0, NULL, UNV },
    [FP_TAU_INF] = { "tau_inf", 1e-12, "s", 1e-18, 1, "Merz prefactor tau_inf", 0, NULL, UNV },
    [FP_V_A] = { "v_a", 3, "V", 0.01, 100, "Merz activation voltage V_a", 0, NULL, UNV },
    [FP_V_A_DTOD] = { "v_a_dtod", 0.05, "", 0, 0.5, "D2D spread of V_a (relative; coercive voltage)", 0, NULL, UNV },
    [FP_KAPPA] = { "kappa", 2, "", 0.1, 5, "Merz exponent", 0, NULL, UNV },
    [FP_W_L] = { "w_l", 0.5, "decades", 0, 4, "Lorentzian half-width of log10 tau over regions", 0, NULL, UNV },
    [FP_N_D] = { "n_d", 100, "", 1, FT_ND_MAX, "regions per device (granularity; cost per pulse)", XB_P_INT, NULL, UNV },
    [FP_V_PULSE] = { "v_pulse", 1.0, "V", 0.01, 100, "nominal pulse amplitude (tau_m(1 V) = 8.1 ns)", 0, NULL, "xbemu choice; [Si19] tau_m 5.4 ns" },
    [FP_T_PULSE] = { "t_pulse", 1e-9, "s", 1e-12, 1, "nominal pulse width", 0, NULL, "xbemu choice" },
    [FP_P_R] = { "p_r", 0.2, "C/m^2", 0, 1, "remanent polarisation", 0, NULL, UNV },
    [FP_AREA] = { "area", 1e-14, "m^2", 1e-18, 1e-6, "device area (100 nm x 100 nm)", 0, NULL, UNV },
    [FP_C_DEV] = { "c_dev", 2.7e-16, "F", 0, 1e-9, "device capacitance (eps_r 30, 10 nm, 1e-14 m^2)", 0, NULL, UNV },
    [FP_S_INIT] = { "s_init", 0, "", 0, 1, "initial switched (up) fraction", 0, NULL, "xbemu choice" },
};

static void ft_g_range(const double *p, double *gmin, double *gmax)
{
    *gmax = p[FP_G_ON];
    *gmin = p[FP_G_ON] / p[FP_ON_OFF];
}

static inline int ft_get(const xb_row *r, size_t j, int i)
{
    const uint32_t w = (uint32_t)r->f[FF_BITS0 + i / FT_BITS][j];
    return (int)((w >> (i % FT_BITS)) & 1u);
}

static inline void ft_set(xb_row *r, size_t j, int i, int up)
{
    float *f = &r->f[FF_BITS0 + i / FT_BITS][j];
    uint32_t w = (uint32_t)*f;
    w = up ? w | (1u << (i % FT_BITS)) : w & ~(1u << (i % FT_BITS));
    *f = (float)w;
}

/* delta_i (decades) of regions 4q..4q+3 of the device with key (lo, hi). */
static inline void ft_offsets(uint32_t lo, uint32_t hi, uint32_t q, double w_l, double d[4])
{
    const philox4x32_key_t k = {{ lo, hi }};
    const philox4x32_ctr_t c = {{ q, 0x46544a00u, 0, 0 }};
    const philox4x32_ctr_t x = philox4x32(c, k);
    for (int m = 0; m < 4; m++) {
        if (w_l == 0) { d[m] = 0; continue; }
        const double u = u01fixedpt_open_open_32_double(x.v[m]);
        const double v = w_l * tan(3.141592653589793 * (u - 0.5));
        d[m] = v > 8 ? 8 : v < -8 ? -8 : v;
    }
}

static void ft_init(xb_row *r, const double *p, const xb_rng *rng)
{
    const int nd = (int)p[FP_N_D];
    const int nup = (int)lround(p[FP_S_INIT] * nd);
    for (size_t j = 0; j < r->n; j++) {
        const uint32_t c = (uint32_t)j;
        double va = p[FP_V_A] * (1 + p[FP_V_A_DTOD] * xb_rng_normal_d(rng, c, 0));
        double gon = p[FP_G_ON] * (1 + p[FP_G_ON_DTOD] * xb_rng_normal_d(rng, c, 1));
        va = va > 1e-3 * p[FP_V_A] ? va : 1e-3 * p[FP_V_A];
        gon = gon > 1e-3 * p[FP_G_ON] ? gon : 1e-3 * p[FP_G_ON];
        const philox4x32_ctr_t x = xb_rng_raw(rng, c, 2);
        r->f[FF_VA][j] = (float)va;
        r->f[FF_GON][j] = (float)gon;
        r->f[FF_KEY_LO][j] = (float)(x.v[0] & 0xffffffu);
        r->f[FF_KEY_HI][j] = (float)(x.v[1] & 0xffffffu);
        for (int w = 0; w < FT_WORDS; w++) r->f[FF_BITS0 + w][j] = 0;
        for (int i = 0; i < nup; i++) ft_set(r, j, i, 1);
        r->f[FF_S][j] = (float)((double)nup / nd);
    }
}

static void ft_conductance(const xb_row *r, const double *p, float *g, const xb_rng *rng)
{
    (void)rng;
    const float inv = (float)(1.0 / p[FP_ON_OFF]);
    for (size_t j = 0; j < r->n; j++) {
        const float s = r->f[FF_S][j], gon = r->f[FF_GON][j];
        g[j] = s * gon + (1 - s) * gon * inv;
    }
}

/* ln(t_p / tau_m(V)) of device j: regions then have ln(t_p/tau_i) = this - delta_i ln 10. */
static inline double ft_ln_rate(const xb_row *r, const double *p, size_t j, double v, double t)
{
    const double x = pow(r->f[FF_VA][j] / fabs(v), p[FP_KAPPA]);
    return log(t) - log(p[FP_TAU_INF]) - x;
}

/* Apply `count` pulses of amplitude v, width t to device j. rng == NULL: return the
 * expected switched fraction instead (energy booking), changing nothing. */
static double ft_apply(xb_row *r, const double *p, size_t j, double v, double t, int count,
                       const xb_rng *rng)
{
    if (v == 0 || count == 0) return 0;
    const int nd = (int)p[FP_N_D], dir = v > 0;
    const double ln_rate = ft_ln_rate(r, p, j, v, t) + log((double)count);
    const double w_l = p[FP_W_L];
    const uint32_t klo = (uint32_t)r->f[FF_KEY_LO][j], khi = (uint32_t)r->f[FF_KEY_HI][j];
    double expected = 0;
    int nup = 0;
    for (int q = 0; 4 * q < nd; q++) {
        double d[4];
        int todo = 0;
        for (int m = 0; m < 4 && 4 * q + m < nd; m++) todo |= (ft_get(r, j, 4 * q + m) != dir) << m;
        if (todo) ft_offsets(klo, khi, (uint32_t)q, w_l, d);
        float u[4] = { 0, 0, 0, 0 };
        if (todo && rng) xb_rng_u4(rng, (uint32_t)j, (uint32_t)q, u);
        for (int m = 0; m < 4 && 4 * q + m < nd; m++) {
            if (!((todo >> m) & 1)) { nup += dir; continue; }
            const double pi = -expm1(-exp(ln_rate - d[m] * 2.302585092994046));
            if (!rng) { expected += pi; continue; }
            const int sw = u[m] < pi;
            if (sw) ft_set(r, j, 4 * q + m, dir);
            nup += sw ? dir : !dir;
        }
    }
    if (rng) r->f[FF_S][j] = (float)((double)nup / nd);
    return expected / nd;
}

static void ft_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++)
        if (n[j]) ft_apply(r, p, j, n[j] > 0 ? p[FP_V_PULSE] : -p[FP_V_PULSE], p[FP_T_PULSE],
                           abs(n[j]), rng);
}

static double ft_energy_one(const xb_row *r, const double *p, size_t j, double v, double t,
                            int count)
{
    if (v == 0 || count == 0) return 0;
    const double ds = ft_apply((xb_row *)r, p, j, v, t, count, NULL);   /* reads only */
    return 2 * p[FP_P_R] * p[FP_AREA] * fabs(v) * ds + count * p[FP_C_DEV] * v * v;
}

static double ft_energy(const xb_row *r, const double *p, const int16_t *n)
{
    double e = 0;
    for (size_t j = 0; j < r->n; j++)
        e += ft_energy_one(r, p, j, n[j] > 0 ? p[FP_V_PULSE] : -p[FP_V_PULSE], p[FP_T_PULSE],
                           abs(n[j]));
    return e;
}

static void ft_pulse_amp(xb_row *r, const double *p, const float *v, double t_pulse,
                         const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++)
        if (v[j] != 0) ft_apply(r, p, j, v[j], t_pulse, 1, rng);
}

static double ft_pulse_amp_energy(const xb_row *r, const double *p, const float *v,
                                  double t_pulse)
{
    double e = 0;
    for (size_t j = 0; j < r->n; j++) e += ft_energy_one(r, p, j, v[j], t_pulse, 1);
    return e;
}

const xb_device_type xb_device_ftj = {
    .name = "ftj", .summary = "HZO FTJ: N_d regions, NLS switching (Lorentzian log tau), Merz law",
    .source = "[Chan12], [Si19], [GargCode]; DEVICES.md 4",
    .params = ft_params, .nparams = FP_NPARAMS, .nfields = FF_NFIELDS,
    .field_names = ft_field_names, .pulse_dir = +1,
    .g_range = ft_g_range, .init_row = ft_init,
    .conductance_row = ft_conductance, .pulse_row = ft_pulse, .pulse_energy_row = ft_energy,
    .pulse_amp_row = ft_pulse_amp, .pulse_amp_energy_row = ft_pulse_amp_energy,
};
