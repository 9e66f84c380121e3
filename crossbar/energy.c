/* crossbar/energy.c: the energy ledger and the [energy] schema (DEVICES.md section 9). */
#include "crossbar/xb_energy.h"

#include <math.h>
#include <string.h>

#include "core/xb_config.h"

static const xb_param_spec energy_params[XB_EN_NPARAMS] = {
    [XB_EN_V_READ] = { "v_read", 0.2, "V", 1e-3, 10, "read voltage at full-scale input (DAC full scale)",
                       0, NULL, "DEVICES.md 9 (unverified)" },
    [XB_EN_T_READ] = { "t_read", 10e-9, "s", 1e-12, 1e-3, "read pulse width", 0, NULL,
                       "DEVICES.md 9 (unverified)" },
    [XB_EN_E_DAC] = { "e_dac", 50e-15, "J", 0, 1e-9, "energy per DAC conversion (per driven line)",
                      0, NULL, "DEVICES.md 9 (unverified)" },
    [XB_EN_ADC_FOM] = { "adc_fom", 10e-15, "J", 0, 1e-9,
                        "ADC Walden figure of merit per conversion step: E_ADC = FoM 2^bits",
                        0, NULL, "[Jon11] definition; value DEVICES.md 9 (unverified)" },
    [XB_EN_E_RNG_BIT] = { "e_rng_bit", 1e-15, "J", 0, 1e-9, "energy per random bit", 0, NULL,
                          "DEVICES.md 9 (unverified)" },
    [XB_EN_INT8_ADD] = { "e_int8_add", 0.03e-12, "J", 0, 1e-9, "8-bit integer add", 0, NULL,
                         "[Hor14] (unverified)" },
    [XB_EN_INT8_MULT] = { "e_int8_mult", 0.2e-12, "J", 0, 1e-9, "8-bit integer multiply", 0, NULL,
                          "[Hor14] (unverified)" },
    [XB_EN_INT32_ADD] = { "e_int32_add", 0.1e-12, "J", 0, 1e-9, "32-bit integer add", 0, NULL,
                          "[Hor14] via [Hor14-tab]" },
    [XB_EN_INT32_MULT] = { "e_int32_mult", 3.1e-12, "J", 0, 1e-9, "32-bit integer multiply", 0,
                           NULL, "[Hor14] via [Hor14-tab]" },
    [XB_EN_FP16_ADD] = { "e_fp16_add", 0.4e-12, "J", 0, 1e-9, "16-bit float add", 0, NULL,
                         "[Hor14] (unverified)" },
    [XB_EN_FP16_MULT] = { "e_fp16_mult", 1.1e-12, "J", 0, 1e-9, "16-bit float multiply", 0, NULL,
                          "[Hor14] (unverified)" },
    [XB_EN_FP32_ADD] = { "e_fp32_add", 0.9e-12, "J", 0, 1e-9, "32-bit float add", 0, NULL,
                         "[Hor14] via [Hor14-tab]" },
    [XB_EN_FP32_MULT] = { "e_fp32_mult", 3.7e-12, "J", 0, 1e-9, "32-bit float multiply", 0, NULL,
                          "[Hor14] via [Hor14-tab]" },
    [XB_EN_SRAM8K] = { "e_sram8k", 10e-12, "J", 0, 1e-6, "64-bit access to an 8 KB SRAM", 0, NULL,
                       "[Hor14] via [Hor14-tab]" },
    [XB_EN_SRAM32K] = { "e_sram32k", 20e-12, "J", 0, 1e-6, "64-bit access to a 32 KB SRAM", 0,
                        NULL, "[Hor14] (unverified)" },
    [XB_EN_SRAM1M] = { "e_sram1m", 100e-12, "J", 0, 1e-6, "64-bit access to a 1 MB SRAM", 0, NULL,
                       "[Hor14] (unverified)" },
    [XB_EN_DRAM] = { "e_dram", 1.3e-9, "J", 0, 1e-6,
                     "64-bit DRAM access (low end of the 1.3-2.6 nJ range)", 0, NULL,
                     "[Hor14] (unverified)" },
};
const xb_section xb_section_energy = { "energy", "unit energies booked by the ledger",
                                       energy_params, XB_EN_NPARAMS };

static const char *const item_names[XB_E_NITEMS] = {
    "read", "dac", "adc", "pulse", "program", "verify", "irdrop", "rng",
    "int8_add", "int8_mult", "int32_add", "int32_mult", "fp16_add", "fp16_mult",
    "fp32_add", "fp32_mult", "sram8k", "sram32k", "sram1m", "dram",
};
static const char *const count_names[XB_C_NCOUNTS] = { "mvm", "writes", "clipped" };

xb_status xb_energy_params(const xb_config *c, double *p, xb_err *err)
{
    const xb_param_spec *tab = energy_params;
    const size_t n = XB_EN_NPARAMS;
    xb_status st = xb_config_check_keys(c, "energy", &tab, &n, 1, NULL, err);
    return st ? st : xb_config_params(c, "energy", energy_params, XB_EN_NPARAMS, p, err);
}

void xb_energy_units_init(xb_energy_units *u, const double *p)
{
    double d[XB_EN_NPARAMS];
    if (!p) { xb_param_defaults(energy_params, XB_EN_NPARAMS, d); p = d; }
    memset(u, 0, sizeof *u);
    u->v_read = p[XB_EN_V_READ];
    u->t_read = p[XB_EN_T_READ];
    u->e_dac = p[XB_EN_E_DAC];
    u->adc_fom = p[XB_EN_ADC_FOM];
    u->e_rng_bit = p[XB_EN_E_RNG_BIT];
    u->op[XB_E_DAC] = p[XB_EN_E_DAC];
    u->op[XB_E_RNG] = p[XB_EN_E_RNG_BIT];
    for (int k = 0; k < XB_EN_DRAM - XB_EN_INT8_ADD + 1; k++)   /* same order in both enums */
        u->op[XB_E_INT8_ADD + k] = p[XB_EN_INT8_ADD + k];
}

double xb_energy_adc_unit(const xb_energy_units *u, int bits)
{
    return bits > 0 ? u->adc_fom * ldexp(1.0, bits) : 0.0;
}

void xb_energy_reset(xb_energy *e) { if (e) memset(e, 0, sizeof *e); }

void xb_energy_add(xb_energy *e, xb_energy_item k, double count, double joules)
{
    if (!e) return;
    e->n[k] += count;
    e->J[k] += joules;
}

void xb_energy_op(xb_energy *e, const xb_energy_units *u, xb_energy_item k, double count)
{
    xb_energy_add(e, k, count, count * u->op[k]);
}

void xb_energy_count(xb_energy *e, xb_energy_counter k, double count)
{
    if (e) e->c[k] += count;
}

void xb_energy_merge(xb_energy *dst, const xb_energy *src)
{
    for (int k = 0; k < XB_E_NITEMS; k++) { dst->J[k] += src->J[k]; dst->n[k] += src->n[k]; }
    for (int k = 0; k < XB_C_NCOUNTS; k++) dst->c[k] += src->c[k];
}

void xb_energy_scale(xb_energy *e, double s)
{
    for (int k = 0; k < XB_E_NITEMS; k++) { e->J[k] *= s; e->n[k] *= s; }
    for (int k = 0; k < XB_C_NCOUNTS; k++) e->c[k] *= s;
}

double xb_energy_total(const xb_energy *e)
{
    double t = 0.0;
    for (int k = 0; k < XB_E_NITEMS; k++) t += e->J[k];
    return t;
}

const char *xb_energy_item_name(xb_energy_item k)
{
    return (unsigned)k < XB_E_NITEMS ? item_names[k] : "?";
}
const char *xb_energy_count_name(xb_energy_counter k)
{
    return (unsigned)k < XB_C_NCOUNTS ? count_names[k] : "?";
}

/* Columns: e_<item>_J x NITEMS, e_total_J, n_<item> x NITEMS, n_<count> x NCOUNTS. */
size_t xb_energy_ncolumns(void) { return 2 * XB_E_NITEMS + 1 + XB_C_NCOUNTS; }

char *xb_energy_column_name(size_t k, char *buf, size_t len)
{
    if (k < XB_E_NITEMS) snprintf(buf, len, "e_%s_J", item_names[k]);
    else if (k == XB_E_NITEMS) snprintf(buf, len, "e_total_J");
    else if (k < 2 * XB_E_NITEMS + 1) snprintf(buf, len, "n_%s", item_names[k - XB_E_NITEMS - 1]);
    else if (k < xb_energy_ncolumns()) snprintf(buf, len, "n_%s", count_names[k - 2 * XB_E_NITEMS - 1]);
    else snprintf(buf, len, "?");
    return buf;
}

size_t xb_energy_values(const xb_energy *e, double *out)
{
    size_t m = 0;
    for (int k = 0; k < XB_E_NITEMS; k++) out[m++] = e->J[k];
    out[m++] = xb_energy_total(e);
    for (int k = 0; k < XB_E_NITEMS; k++) out[m++] = e->n[k];
    for (int k = 0; k < XB_C_NCOUNTS; k++) out[m++] = e->c[k];
    return m;
}

void xb_energy_csv_header(FILE *f, char sep)
{
    char buf[64];
    for (size_t k = 0; k < xb_energy_ncolumns(); k++)
        fprintf(f, "%s%s", k ? (char[]){ sep, 0 } : "", xb_energy_column_name(k, buf, sizeof buf));
}

void xb_energy_csv_row(FILE *f, char sep, const xb_energy *e)
{
    double v[2 * XB_E_NITEMS + 1 + XB_C_NCOUNTS];
    const size_t m = xb_energy_values(e, v);
    for (size_t k = 0; k < m; k++) {
        if (k) fputc(sep, f);
        fprintf(f, "%.17g", v[k]);           /* round-trips; counts print as integers */
    }
}
