/* crossbar/xb_energy.h: the energy ledger every crossbar operation books into.
 *
 * A ledger is a plain value: for each item k (read, DAC, ADC, pulse, ...) the joules
 * J[k] and the event count n[k], both double (counts stay exact below 2^53). Items
 * are filled as count x unit energy; the unit energies are parameters of the
 * [energy] config section (defaults and sources: DEVICES.md section 9), except the
 * device read (V^2 G t, from the actual voltages and conductances) and the device
 * pulse (from the device model's pulse_energy_row, booked from the state the pulse
 * met). The ledger never allocates and has no hidden state: add ledgers of several
 * layers or runs with xb_energy_merge, divide by samples with xb_energy_scale.
 *
 * What each count means:
 *   read     device reads (one per device per MVM vector)      J = sum V^2 G t_read
 *   dac      input conversions (one per driven line per vector) J = n e_dac
 *   adc      output conversions (one per sensed line per vector) J = n adc_fom 2^bits
 *   pulse    programming pulses of updates (UPD_PC, UPD_DEV)   J = device model
 *   program  pulses of write-verify programming (PROG)        J = device model
 *   verify   verify reads of write-verify (device reads)     J = V^2 G t_read
 *   irdrop   IR-drop solves (one per MVM vector)              J = power lost in wires x t_read
 *   rng      random bits (stochastic streams, sampling)      J = n e_rng_bit
 *   int32_add ... dram   digital operations (DIG), Horowitz 45 nm table
 * Extra counts with no energy of their own: mvm (MVM vectors, per array), writes
 * (devices that received >= 1 pulse), clipped (pulse probabilities clipped at 1).
 *
 * CSV: xb_energy_csv_header gives the stable column names
 *   e_read_J,e_dac_J,...,e_dram_J,e_total_J,n_read,n_dac,...,n_dram,n_mvm,n_writes,n_clipped
 * and xb_energy_csv_row the matching values (%.17g for J, integers for counts). */
#ifndef XB_ENERGY_H
#define XB_ENERGY_H

#include <stddef.h>
#include <stdio.h>

#include "core/xb_err.h"
#include "core/xb_param.h"

typedef enum {
    XB_E_READ = 0,
    XB_E_DAC,
    XB_E_ADC,
    XB_E_PULSE,
    XB_E_PROGRAM,
    XB_E_VERIFY,
    XB_E_IRDROP,
    XB_E_RNG,
    XB_E_INT8_ADD,
    XB_E_INT8_MULT,
    XB_E_INT32_ADD,
    XB_E_INT32_MULT,
    XB_E_FP16_ADD,
    XB_E_FP16_MULT,
    XB_E_FP32_ADD,
    XB_E_FP32_MULT,
    XB_E_SRAM8K,       /* 64-bit access to an 8 KB SRAM */
    XB_E_SRAM32K,
    XB_E_SRAM1M,
    XB_E_DRAM,         /* 64-bit DRAM access */
    XB_E_NITEMS
} xb_energy_item;

/* Counts with no energy attached. */
typedef enum { XB_C_MVM = 0, XB_C_WRITES, XB_C_CLIPPED, XB_C_NCOUNTS } xb_energy_counter;

typedef struct xb_energy {
    double J[XB_E_NITEMS];     /* joules per item */
    double n[XB_E_NITEMS];     /* events per item (see the table above) */
    double c[XB_C_NCOUNTS];    /* extra counts */
} xb_energy;

/* [energy] schema: indices into the parameter array (xb_section_energy). */
enum {
    XB_EN_V_READ,       /* read voltage at full-scale input (V); also the DAC full scale */
    XB_EN_T_READ,       /* read pulse width (s) */
    XB_EN_E_DAC,        /* J per DAC conversion */
    XB_EN_ADC_FOM,      /* Walden FoM, J per conversion step: E_ADC = FoM 2^bits */
    XB_EN_E_RNG_BIT,    /* J per random bit */
    XB_EN_INT8_ADD, XB_EN_INT8_MULT, XB_EN_INT32_ADD, XB_EN_INT32_MULT,
    XB_EN_FP16_ADD, XB_EN_FP16_MULT, XB_EN_FP32_ADD, XB_EN_FP32_MULT,
    XB_EN_SRAM8K, XB_EN_SRAM32K, XB_EN_SRAM1M, XB_EN_DRAM,
    XB_EN_NPARAMS
};
extern const xb_section xb_section_energy;
/* [energy] values from a config (as xb_crossbar_params). */
struct xb_config;
xb_status xb_energy_params(const struct xb_config *c, double *p, xb_err *err);

/* Unit energies resolved from an [energy] parameter array (NULL: the defaults).
 * op[k] is the J per event of item k for the fixed-cost items (dac, rng, digital);
 * e_adc depends on the converter resolution, so it is computed by xb_energy_adc_unit. */
typedef struct xb_energy_units {
    double v_read, t_read, e_dac, adc_fom, e_rng_bit;
    double op[XB_E_NITEMS];    /* 0 for the items whose energy is not a fixed unit */
} xb_energy_units;

void xb_energy_units_init(xb_energy_units *u, const double *p /* [energy] values or NULL */);
/* J per ADC conversion at `bits` of resolution: adc_fom 2^bits (0 bits: no ADC, 0 J). */
double xb_energy_adc_unit(const xb_energy_units *u, int bits);

void xb_energy_reset(xb_energy *e);
/* Book `count` events of item k costing `joules` in total. e may be NULL (no-op). */
void xb_energy_add(xb_energy *e, xb_energy_item k, double count, double joules);
/* Book `count` events of a fixed-cost item (dac, rng, digital ops) at u->op[k] each. */
void xb_energy_op(xb_energy *e, const xb_energy_units *u, xb_energy_item k, double count);
void xb_energy_count(xb_energy *e, xb_energy_counter k, double count);
/* dst += src, item by item. */
void xb_energy_merge(xb_energy *dst, const xb_energy *src);
/* Multiply every joule and count by s (e.g. 1/samples for per-sample figures). */
void xb_energy_scale(xb_energy *e, double s);
/* Sum of J over items, in item order (same bits always). */
double xb_energy_total(const xb_energy *e);

/* Stable names: "read", "dac", ... (item) and "mvm", "writes", "clipped" (count). */
const char *xb_energy_item_name(xb_energy_item k);
const char *xb_energy_count_name(xb_energy_counter k);
/* Number of CSV columns, and the columns themselves (no newline; sep = ',' or '\t'). */
size_t xb_energy_ncolumns(void);
void xb_energy_csv_header(FILE *f, char sep);
void xb_energy_csv_row(FILE *f, char sep, const xb_energy *e);
/* The same columns as numbers, in header order, for results writers (out has
 * xb_energy_ncolumns() entries). Returns the count. */
size_t xb_energy_values(const xb_energy *e, double *out);
/* Column name k (0 <= k < xb_energy_ncolumns()) into buf. */
char *xb_energy_column_name(size_t k, char *buf, size_t len);

#endif
