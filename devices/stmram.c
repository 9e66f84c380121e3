/* devices/stmram.c: binary spin-transfer-torque MTJ with stochastic writes and reads
 * (DEVICES.md section 5, [Hirt19]; defaults of R_P, TMR and their spread from [MTJCode]).
 *
 * State: the bit (0 = parallel P, low R; 1 = antiparallel AP, high R) and the D2D
 * draws R_P, TMR, Delta, I_c0 (each x (1 + dtod xi), xi ~ N(0,1), clipped at 1e-3 of
 * nominal so nothing turns negative). R_AP = R_P (1 + TMR), G = 1/R.
 *
 * Writing. A pulse of current I and width t towards the other state fails (the bit
 * stays) with the write error rate WER(I, t), computed in double as a log:
 *   thermal:      ln WER_th = -(t/tau0) exp(-Delta (1 - min(I/I_c0, 1)))  (Neel-Brown + STT)
 *   precessional (I > I_c0): WER_pr = 1 - exp(-(pi^2 Delta/4) exp(-2 (I/I_c0 - 1) t/tau_D))
 *   WER = WER_th below I_c0, min(WER_th, WER_pr) above (the faster mechanism wins).
 *   DEVICES.md gives each law for its own regime; joining them is our choice. Taken
 *   literally they jump at I_c0 (thermal: tau -> tau0, so WER = e^(-t/tau0); precessional:
 *   WER -> 1), making more current *raise* the error rate. With the barrier term held
 *   at its I_c0 value above I_c0 (the attempt time is the fastest thermal escape) and
 *   the minimum, WER is continuous at I_c0 and non-increasing in I and t, so a
 *   BER/energy sweep across I_c0 has no jump. n pulses fail with WER^n. A pulse
 *   towards the state the bit is already in changes nothing (but costs its energy).
 * Direct mode replaces WER by ber_write (per pulse that must flip the bit).
 * n > 0 writes P (raises G), n < 0 writes AP. Energy per pulse I^2 R t with R of the
 * state before the pulse (DEVICES.md section 9). In direct mode the same I, t give
 * the energy, so BER and energy are set independently.
 *
 * Reading (conductance_row with an rng): the read returns the other state's G with
 * p_read = ber_read (direct) or, physical, p_disturb + p_sense: p_disturb is the
 * thermal switching probability under the read current i_read for t_read, p_sense =
 * Q(m / sigma), m = (G_P - G_AP)/2 the half sensing margin of the device, sigma =
 * sense_noise * G_P (a reference midway between the nominal levels would add an
 * offset; we centre it per device). Read errors are transient (per read): the
 * device API reads a const state, so a read disturb is not made persistent; at the
 * defaults p_disturb ~ 1e-24, so this is moot unless i_read approaches I_c0.
 * Retention (drift_row): each bit flips with 1 - exp(-dt / (tau0 e^Delta)).
 *
 * Random streams: D2D col j draws 0..3 (normals) and 4 (initial bit); C2C, READ and
 * drift: col j draw 0, one 53-bit uniform per device and call (Bernoulli events with
 * p far below 2^-24 are compared in double, never in float). */
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>

#include "devices/xb_device.h"
#include "devices/xb_stmram.h"

enum { MP_MODE, MP_R_P, MP_R_P_DTOD, MP_TMR, MP_TMR_DTOD, MP_DELTA, MP_DELTA_DTOD, MP_IC0,
       MP_IC0_DTOD, MP_TAU0, MP_TAU_D, MP_I_WRITE, MP_T_WRITE, MP_I_READ, MP_T_READ,
       MP_SENSE_NOISE, MP_BER_WRITE, MP_BER_READ, MP_INIT_AP, MP_NPARAMS };
enum { MODE_PHYSICAL, MODE_DIRECT };
enum { MF_BIT, MF_RP, MF_TMR, MF_DELTA, MF_IC0, MF_NFIELDS };

static const char *const mt_field_names[MF_NFIELDS] = { "bit", "R_P", "TMR", "Delta", "I_c0" };

#define UNV "(unverified)"
static const xb_param_spec mt_params[MP_NPARAMS] = {
    [MP_MODE] = { "mode", MODE_PHYSICAL, "", 0, 0, "physical: WER from (I, t); direct: ber_write/ber_read", XB_P_ENUM, "physical|direct", "DEVICES.md 5" },
    [MP_R_P] = { "r_p", 5e3, "ohm", 1e2, 1e7, "parallel-state resistance", 0, NULL, "[MTJCode]" },
    [MP_R_P_DTOD] = { "r_p_dtod", 0.05, "", 0, 0.5, "D2D spread of R_P (relative)", 0, NULL, "[MTJCode]" },
    [MP_TMR] = { "tmr", 1.5, "", 0.01, 10, "tunnel magnetoresistance, R_AP = R_P (1 + TMR)", 0, NULL, "[MTJCode] (STT)" },
    [MP_TMR_DTOD] = { "tmr_dtod", 0.05, "", 0, 0.5, "D2D spread of TMR (relative)", 0, NULL, "[MTJCode]" },
    [MP_DELTA] = { "delta", 45, "kT", 1, 200, "thermal stability factor", 0, NULL, UNV },
    [MP_DELTA_DTOD] = { "delta_dtod", 0.05, "", 0, 0.5, "D2D spread of Delta (relative; K_i spread of [MTJCode])", 0, NULL, "[MTJCode]" },
    [MP_IC0] = { "i_c0", 50e-6, "A", 1e-7, 1e-2, "critical switching current", 0, NULL, UNV },
    [MP_IC0_DTOD] = { "i_c0_dtod", 0.05, "", 0, 0.5, "D2D spread of I_c0 (relative)", 0, NULL, UNV },
    [MP_TAU0] = { "tau0", 1e-9, "s", 1e-13, 1e-6, "attempt time of thermal switching", 0, NULL, UNV },
    [MP_TAU_D] = { "tau_d", 1e-9, "s", 1e-12, 1e-6, "precessional time scale", 0, NULL, UNV },
    [MP_I_WRITE] = { "i_write", 100e-6, "A", 0, 1e-1, "write current", 0, NULL, "xbemu choice (2 I_c0)" },
    [MP_T_WRITE] = { "t_write", 10e-9, "s", 1e-12, 1, "write pulse width", 0, NULL, "xbemu choice" },
    [MP_I_READ] = { "i_read", 10e-6, "A", 0, 1e-1, "read current (read disturb)", 0, NULL, UNV },
    [MP_T_READ] = { "t_read", 10e-9, "s", 0, 1, "read pulse width", 0, NULL, "DEVICES.md 9" },
    [MP_SENSE_NOISE] = { "sense_noise", 0.05, "", 0, 10, "sense-amplifier noise, relative to G_P", 0, NULL, UNV },
    [MP_BER_WRITE] = { "ber_write", 0, "", 0, 1, "direct mode: failure probability of a write", 0, NULL, "[Hirt19]" },
    [MP_BER_READ] = { "ber_read", 0, "", 0, 1, "direct mode: error probability of a read", 0, NULL, "[Hirt19]" },
    [MP_INIT_AP] = { "init_ap", 0, "", 0, 1, "probability that a device starts in AP", 0, NULL, "xbemu choice" },
};

static void mt_g_range(const double *p, double *gmin, double *gmax)
{
    *gmax = 1.0 / p[MP_R_P];
    *gmin = 1.0 / (p[MP_R_P] * (1 + p[MP_TMR]));
}

static double spread(double nominal, double dtod, double z)
{
    const double v = nominal * (1 + dtod * z);
    return v > 1e-3 * nominal ? v : 1e-3 * nominal;
}

static void mt_init(xb_row *r, const double *p, const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++) {
        const uint32_t c = (uint32_t)j;
        r->f[MF_RP][j] = (float)spread(p[MP_R_P], p[MP_R_P_DTOD], xb_rng_normal_d(rng, c, 0));
        r->f[MF_TMR][j] = (float)spread(p[MP_TMR], p[MP_TMR_DTOD], xb_rng_normal_d(rng, c, 1));
        r->f[MF_DELTA][j] = (float)spread(p[MP_DELTA], p[MP_DELTA_DTOD], xb_rng_normal_d(rng, c, 2));
        r->f[MF_IC0][j] = (float)spread(p[MP_IC0], p[MP_IC0_DTOD], xb_rng_normal_d(rng, c, 3));
        r->f[MF_BIT][j] = p[MP_INIT_AP] > 0 && xb_rng_uniform_d(rng, c, 4) < p[MP_INIT_AP];
    }
}

static inline double mt_r(const xb_row *r, size_t j)
{
    return r->f[MF_BIT][j] != 0 ? (double)r->f[MF_RP][j] * (1.0 + r->f[MF_TMR][j])
                                : (double)r->f[MF_RP][j];
}

/* ln of the write error rate of one pulse (DEVICES.md section 5; see the top). */
static double mt_ln_wer(double i, double t, double delta, double ic0, double tau0, double tau_d)
{
    const double x = fabs(i) / ic0;
    const double ln_th = -(t / tau0) * exp(-delta * (1 - (x < 1 ? x : 1)));
    if (!(x > 1)) return ln_th;
    const double wpr = -expm1(-(9.869604401089358 * delta / 4) * exp(-2 * (x - 1) * t / tau_d));
    const double ln_pr = log(wpr);
    return ln_pr < ln_th ? ln_pr : ln_th;
}

double xb_stmram_wer(const double *p, double i, double t)
{
    return exp(mt_ln_wer(i, t, p[MP_DELTA], p[MP_IC0], p[MP_TAU0], p[MP_TAU_D]));
}

int xb_stmram_is_physical(const double *p) { return (int)p[MP_MODE] == MODE_PHYSICAL; }

void xb_stmram_pulse_get(const double *p, double *i_write, double *t_write)
{
    *i_write = p[MP_I_WRITE];
    *t_write = p[MP_T_WRITE];
}

void xb_stmram_law_get(const double *p, xb_stmram_law *out)
{
    *out = (xb_stmram_law){ .delta = p[MP_DELTA], .ic0 = p[MP_IC0], .tau0 = p[MP_TAU0],
                            .tau_d = p[MP_TAU_D], .r_p = p[MP_R_P], .tmr = p[MP_TMR] };
}

void xb_stmram_law_draw(const double *p, const xb_rng *rng, uint32_t j, xb_stmram_law *out)
{
    xb_stmram_law_get(p, out);
    out->r_p = (float)spread(p[MP_R_P], p[MP_R_P_DTOD], xb_rng_normal_d(rng, j, 0));
    out->tmr = (float)spread(p[MP_TMR], p[MP_TMR_DTOD], xb_rng_normal_d(rng, j, 1));
    out->delta = (float)spread(p[MP_DELTA], p[MP_DELTA_DTOD], xb_rng_normal_d(rng, j, 2));
    out->ic0 = (float)spread(p[MP_IC0], p[MP_IC0_DTOD], xb_rng_normal_d(rng, j, 3));
}

double xb_stmram_ln_wer(const xb_stmram_law *m, double i, double t)
{
    return mt_ln_wer(i, t, m->delta, m->ic0, m->tau0, m->tau_d);
}

/* Thermal: ln WER = -(t/tau0) e^(-Delta (1 - x)) -> x = 1 + ln(-ln_wer tau0 / t) / Delta,
 * reachable while -ln_wer <= t/tau0 (x <= 1). Beyond, precessional:
 * -ln(1 - WER) = (pi^2 Delta / 4) e^(-2 (x - 1) t / tau_D)
 * -> x = 1 + tau_D / (2 t) ln((pi^2 Delta / 4) / -log1p(-WER)). */
double xb_stmram_current_for(const xb_stmram_law *m, double ln_wer, double t)
{
    if (!(ln_wer < 0)) return 0;
    const double a = -ln_wer;
    if (a <= t / m->tau0) {
        const double x = 1 + log(a * m->tau0 / t) / m->delta;
        return x > 0 ? x * m->ic0 : 0;
    }
    const double w = exp(ln_wer);
    const double ln_q = w < 1e-12 ? ln_wer : log(-log1p(-w));   /* ln(-ln(1 - WER)) */
    const double x = 1 + m->tau_d / (2 * t) * (log(9.869604401089358 * m->delta / 4) - ln_q);
    return (x > 1 ? x : 1) * m->ic0;
}

/* Thermal switching probability under a current i for t (read disturb). */
static double mt_p_thermal(double i, double t, double delta, double ic0, double tau0)
{
    return -expm1(-(t / tau0) * exp(-delta * (1 - fabs(i) / ic0)));
}

/* One write of device j towards `target` (0 = P, 1 = AP), `count` pulses of current i
 * and width t; u is its uniform. Returns nothing: the bit flips or stays. */
static inline void mt_write(xb_row *r, const double *p, size_t j, int target, int count,
                            double i, double t, double u)
{
    if ((r->f[MF_BIT][j] != 0) == target || count == 0) return;
    double wer;
    if ((int)p[MP_MODE] == MODE_DIRECT) wer = pow(p[MP_BER_WRITE], count);
    else wer = exp(count * mt_ln_wer(i, t, r->f[MF_DELTA][j], r->f[MF_IC0][j],
                                            p[MP_TAU0], p[MP_TAU_D]));
    if (!(u < wer)) r->f[MF_BIT][j] = (float)target;
}

static void mt_pulse(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++) {
        if (n[j] == 0) continue;
        const double u = xb_rng_uniform_d(rng, (uint32_t)j, 0);
        mt_write(r, p, j, n[j] < 0, abs(n[j]), p[MP_I_WRITE], p[MP_T_WRITE], u);
    }
}

static double mt_energy(const xb_row *r, const double *p, const int16_t *n)
{
    const double i = p[MP_I_WRITE], t = p[MP_T_WRITE];
    double e = 0;
    for (size_t j = 0; j < r->n; j++)
        if (n[j]) e += abs(n[j]) * i * i * mt_r(r, j) * t;
    return e;
}

/* v[j] volts across the device: I = |v| / R(state); v > 0 writes P, v < 0 AP. */
static void mt_pulse_amp(xb_row *r, const double *p, const float *v, double t_pulse,
                         const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++) {
        if (v[j] == 0) continue;
        const double u = xb_rng_uniform_d(rng, (uint32_t)j, 0);
        mt_write(r, p, j, v[j] < 0, 1, fabs(v[j]) / mt_r(r, j), t_pulse, u);
    }
}

static double mt_pulse_amp_energy(const xb_row *r, const double *p, const float *v,
                                  double t_pulse)
{
    (void)p;
    double e = 0;
    for (size_t j = 0; j < r->n; j++) e += (double)v[j] * v[j] / mt_r(r, j) * t_pulse;
    return e;
}

/* Bits from target conductances: P if g >= the nominal midpoint, else AP. Every
 * non-NaN target gets one write pulse (a write does not read the bit first). */
static double mt_program(xb_row *r, const double *p, const float *g_target, const xb_rng *rng)
{
    double gmin, gmax, e = 0;
    mt_g_range(p, &gmin, &gmax);
    const double mid = 0.5 * (gmin + gmax), i = p[MP_I_WRITE], t = p[MP_T_WRITE];
    for (size_t j = 0; j < r->n; j++) {
        if (isnan(g_target[j])) continue;
        e += i * i * mt_r(r, j) * t;
        const double u = xb_rng_uniform_d(rng, (uint32_t)j, 0);
        mt_write(r, p, j, g_target[j] < mid, 1, i, t, u);
    }
    return e;
}

/* Per-read error probability of device j (see the top). */
static double mt_p_read(const xb_row *r, const double *p, size_t j)
{
    if ((int)p[MP_MODE] == MODE_DIRECT) return p[MP_BER_READ];
    const double rp = r->f[MF_RP][j], gp = 1 / rp, gap = 1 / (rp * (1.0 + r->f[MF_TMR][j]));
    const double pd = mt_p_thermal(p[MP_I_READ], p[MP_T_READ], r->f[MF_DELTA][j],
                                   r->f[MF_IC0][j], p[MP_TAU0]);
    const double ps = p[MP_SENSE_NOISE] > 0
                          ? gsl_cdf_ugaussian_Q(0.5 * (gp - gap) / (p[MP_SENSE_NOISE] * gp)) : 0;
    return pd + ps;
}

double xb_stmram_read_ber(const double *p)
{
    const double gp = 1 / p[MP_R_P], gap = 1 / (p[MP_R_P] * (1.0 + p[MP_TMR]));
    const double pd = mt_p_thermal(p[MP_I_READ], p[MP_T_READ], p[MP_DELTA], p[MP_IC0], p[MP_TAU0]);
    const double ps = p[MP_SENSE_NOISE] > 0
                          ? gsl_cdf_ugaussian_Q(0.5 * (gp - gap) / (p[MP_SENSE_NOISE] * gp)) : 0;
    return pd + ps;
}

static void mt_conductance(const xb_row *r, const double *p, float *g, const xb_rng *rng)
{
    for (size_t j = 0; j < r->n; j++) {
        int bit = r->f[MF_BIT][j] != 0;
        if (rng && xb_rng_uniform_d(rng, (uint32_t)j, 0) < mt_p_read(r, p, j)) bit = !bit;
        const double rp = r->f[MF_RP][j];
        g[j] = (float)(1.0 / (bit ? rp * (1.0 + r->f[MF_TMR][j]) : rp));
    }
}

static void mt_drift(xb_row *r, const double *p, double dt_s, const xb_rng *rng)
{
    if (!(dt_s > 0)) return;
    for (size_t j = 0; j < r->n; j++) {
        const double pf = -expm1(-dt_s / (p[MP_TAU0] * exp(r->f[MF_DELTA][j])));
        if (xb_rng_uniform_d(rng, (uint32_t)j, 0) < pf) r->f[MF_BIT][j] = r->f[MF_BIT][j] == 0;
    }
}

const xb_device_type xb_device_stmram = {
    .name = "stmram", .summary = "binary STT-MTJ: stochastic write (thermal/precessional WER), read BER",
    .source = "[Hirt19]; [MTJCode] defaults; DEVICES.md 5",
    .params = mt_params, .nparams = MP_NPARAMS, .nfields = MF_NFIELDS,
    .field_names = mt_field_names,
    .flags = XB_DEV_BINARY | XB_DEV_READ_NOISE | XB_DEV_DRIFT, .pulse_dir = +1,
    .g_range = mt_g_range, .init_row = mt_init,
    .conductance_row = mt_conductance, .pulse_row = mt_pulse, .pulse_energy_row = mt_energy,
    .pulse_amp_row = mt_pulse_amp, .pulse_amp_energy_row = mt_pulse_amp_energy,
    .program_row = mt_program, .drift_row = mt_drift,
};
