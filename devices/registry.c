/* devices/registry.c: the list of device models and what every model shares. */
#include <math.h>
#include <string.h>

#include "core/xb_config.h"
#include "devices/xb_device.h"

extern const xb_device_type xb_device_linear, xb_device_softbounds, xb_device_expstep;
extern const xb_device_type xb_device_hfox, xb_device_stmram, xb_device_ftj, xb_device_dw;
extern const xb_device_type xb_device_vdsp, xb_device_pcm;

const xb_device_type *const xb_device_types[] = {
    &xb_device_linear,
    &xb_device_softbounds,
    &xb_device_expstep,
    &xb_device_hfox,
    &xb_device_stmram,
    &xb_device_ftj,
    &xb_device_dw,
    &xb_device_vdsp,
    &xb_device_pcm,
    NULL,
};

const xb_device_type *xb_device_find(const char *name)
{
    for (size_t i = 0; xb_device_types[i]; i++)
        if (!strcmp(xb_device_types[i]->name, name)) return xb_device_types[i];
    return NULL;
}

static const xb_param_spec common_params[XB_DEVC_NPARAMS] = {
    [XB_DEVC_TYPE] = { "type", 0, "", 0, 0, "device model (see `xbemu devices`)", XB_P_STR,
                       "softbounds", NULL },
    [XB_DEVC_STUCK_ON] = { "stuck_on", 0, "", 0, 1,
                           "fraction of devices stuck at the highest conductance" },
    [XB_DEVC_STUCK_OFF] = { "stuck_off", 0, "", 0, 1,
                            "fraction of devices stuck at the lowest conductance" },
};
const xb_section xb_section_device_common = { "device", "device model and faults",
                                              common_params, XB_DEVC_NPARAMS };

xb_status xb_device_params(const xb_config *c, const char *section, const xb_device_type *T,
                           double *p, xb_err *err)
{
    const xb_param_spec *tabs[2] = { common_params, T->params };
    const size_t ns[2] = { XB_DEVC_NPARAMS, T->nparams };
    xb_status st = xb_config_check_keys(c, section, tabs, ns, 2, NULL, err);
    if (st == XB_OK) st = xb_config_params(c, section, T->params, T->nparams, p, err);
    if (st != XB_OK) return st;
    const char *why = T->check ? T->check(p) : NULL;
    if (why) return xb_fail(err, XB_ERANGE, "[%s] type = %s: %s", section, T->name, why);
    return XB_OK;
}

void xb_device_draw_faults(size_t n, double frac_on, double frac_off, const xb_rng *rng,
                           uint8_t *stuck)
{
    for (size_t j = 0; j < n; j++) {
        stuck[j] = XB_HEALTHY;
        if (frac_on <= 0 && frac_off <= 0) continue;
        const double u = xb_rng_uniform_d(rng, (uint32_t)j, 0x7fff0000u);
        stuck[j] = u < frac_on ? XB_STUCK_ON : u < frac_on + frac_off ? XB_STUCK_OFF : XB_HEALTHY;
    }
}

void xb_device_apply_faults(size_t n, const uint8_t *stuck, double gmin, double gmax, float *g)
{
    for (size_t j = 0; j < n; j++)
        if (stuck[j]) g[j] = (float)(stuck[j] == XB_STUCK_ON ? gmax : gmin);
}
