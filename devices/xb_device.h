/* devices/xb_device.h: a device model is one const xb_device_type (cf. gsl_rng_type):
 * a parameter schema plus batch kernels that each work on one row of devices.
 *
 * State is structure-of-arrays owned by the caller (the crossbar array, or a
 * standalone xb_device_bank): in a row, f[k][j] is state field k of device j. Kernels
 * touch only their row and draw random numbers only from the xb_rng they are given,
 * with col = device index j and draw numbers of their own choosing (documented per
 * model), so any thread may run any row and results never depend on the thread count.
 * A device with n[j] == 0 draws nothing and keeps its state (unless the model says
 * otherwise, e.g. HfOx RTN redraw on update calls).
 *
 * Units are SI (S, V, A, s, J). Conductance G = 1/R in siemens. A pulse count n > 0
 * "potentiates" (raises G) for bidirectional devices; ONE_WAY devices (weak-reset
 * HfOx) accept only n >= 0 and move G in direction `pulse_dir`; the crossbar pairs
 * them (G+ - G-) and routes each sign to one member. Energy is booked from the state
 * the pulse met, before the state moves.
 *
 * Adding a model = one .c file exporting one xb_device_type + one line in registry.c. */
#ifndef XB_DEVICE_H
#define XB_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"
#include "core/xb_param.h"
#include "core/xb_rng.h"

enum { XB_MAX_FIELDS = 32 };

typedef struct xb_row {
    size_t n;                      /* devices in the row */
    float *f[XB_MAX_FIELDS];       /* f[k][j]: field k of device j */
} xb_row;

enum {
    XB_DEV_ONE_WAY    = 1u << 0,   /* pulses move G only in direction pulse_dir; n >= 0 */
    XB_DEV_BINARY     = 1u << 1,   /* two conductance states */
    XB_DEV_READ_NOISE = 1u << 2,   /* conductance_row draws read noise when given an rng */
    XB_DEV_DRIFT      = 1u << 3,   /* drift_row is meaningful */
};

typedef struct xb_device_type {
    const char *name;              /* the INI `[device] type =` value */
    const char *summary;           /* one line for `xbemu devices` */
    const char *source;            /* papers/code the model follows (DEVICES.md tags) */
    const xb_param_spec *params;
    size_t nparams;
    size_t nfields;                /* SoA state fields per device, <= XB_MAX_FIELDS */
    const char *const *field_names;
    unsigned flags;
    int pulse_dir;                 /* +1: n > 0 raises G; ONE_WAY: sign of dG of a pulse */

    /* Rules across keys that no single range can say: NULL or a reason. */
    const char *(*check)(const double *p);
    /* Nominal conductance range (S) used to map weights onto conductances. */
    void (*g_range)(const double *p, double *gmin, double *gmax);
    /* Draw device-to-device variation and set the initial state. */
    void (*init_row)(xb_row *r, const double *p, const xb_rng *rng);
    /* Conductance of every device (S). rng == NULL: noiseless read of the state;
     * otherwise read noise of the model (XB_DEV_READ_NOISE) from this stream. */
    void (*conductance_row)(const xb_row *r, const double *p, float *g, const xb_rng *rng);
    /* Apply n[j] signed pulses of the nominal amplitude/width to device j, one at a
     * time (bounds, state-dependent steps, switching probability act per pulse). */
    void (*pulse_row)(xb_row *r, const double *p, const int16_t *n, const xb_rng *rng);
    /* Energy (J) of those pulses, from the state before them. */
    double (*pulse_energy_row)(const xb_row *r, const double *p, const int16_t *n);

    /* Optional (NULL if the model has none): */
    /* One pulse of amplitude v[j] volts (0 = none; the sign is the direction) and
     * width t_pulse seconds per device: FTJ, ST-MRAM, VDSP-style programming. */
    void (*pulse_amp_row)(xb_row *r, const double *p, const float *v, double t_pulse,
                          const xb_rng *rng);
    double (*pulse_amp_energy_row)(const xb_row *r, const double *p, const float *v,
                                   double t_pulse);
    /* Program each device towards a target conductance (S) in one shot (DW states,
     * MTJ bits); the crossbar falls back to write-verify with pulses when NULL.
     * Returns the energy (J) spent. NaN targets are left alone. */
    double (*program_row)(xb_row *r, const double *p, const float *g_target,
                          const xb_rng *rng);
    /* Let dt seconds pass (drift, relaxation, retention flips). */
    void (*drift_row)(xb_row *r, const double *p, double dt_s, const xb_rng *rng);
} xb_device_type;

/* Registry (devices/registry.c), NULL-terminated, in the order `xbemu devices` lists. */
extern const xb_device_type *const xb_device_types[];
const xb_device_type *xb_device_find(const char *name);

/* Parameters of type T from the [device] section of a config (defaults, ranges,
 * T->check). Keys of the common [device] schema below are accepted too. */
struct xb_config;
xb_status xb_device_params(const struct xb_config *c, const char *section,
                           const xb_device_type *T, double *p, xb_err *err);

/* Common [device] keys, shared by every model: type and fault fractions. */
enum { XB_DEVC_TYPE, XB_DEVC_STUCK_ON, XB_DEVC_STUCK_OFF, XB_DEVC_NPARAMS };
extern const xb_section xb_section_device_common;

/* Faults common to every model: stuck[j] = 0 (healthy), 1 (stuck at the highest
 * conductance), 2 (stuck at the lowest), drawn per device from `rng` (draw 0x7fff0000). */
enum { XB_HEALTHY = 0, XB_STUCK_ON = 1, XB_STUCK_OFF = 2 };
void xb_device_draw_faults(size_t n, double frac_on, double frac_off, const xb_rng *rng,
                           uint8_t *stuck);
void xb_device_apply_faults(size_t n, const uint8_t *stuck, double gmin, double gmax, float *g);

#endif
