/* devices/xb_stmram.h: the ST-MRAM write error rate outside the device kernels, for
 * BER-vs-energy sweeps, plots, calibration and stochastic-write samplers (BiMU's
 * hardware sampler, training/xb_bimu.h); devices/stmram.c documents the law. */
#ifndef XB_STMRAM_H
#define XB_STMRAM_H

#include <stdint.h>

#include "core/xb_rng.h"

/* Write error rate of one pulse of current i (A) and width t (s) for the nominal
 * device of the stmram parameter vector p (Delta, I_c0, tau0, tau_D; physical mode),
 * in [0, 1]; computed through its logarithm in double. */
double xb_stmram_wer(const double *p, double i, double t);
/* Read error probability of one read of the nominal device of p (physical mode: read
 * disturb under i_read for t_read plus the sense-amplifier error Q(margin / noise)). */
double xb_stmram_read_ber(const double *p);

/* The switching law of one cell: what the write error rate and the write energy
 * depend on. */
typedef struct xb_stmram_law {
    double delta, ic0, tau0, tau_d;   /* stability (kT), critical current (A), times (s) */
    double r_p, tmr;                  /* R_P (ohm), R_AP = R_P (1 + tmr) */
} xb_stmram_law;

/* 1 if p is in physical mode (the law applies), 0 in direct mode. */
int xb_stmram_is_physical(const double *p);
/* The write pulse of p: current i_write (A) and width t_write (s). */
void xb_stmram_pulse_get(const double *p, double *i_write, double *t_write);
/* The nominal cell of p. */
void xb_stmram_law_get(const double *p, xb_stmram_law *out);
/* Cell j of a row: the D2D draws of the device model's init_row (same streams
 * col j draws 0..3 of rng, same clipping, same float rounding). */
void xb_stmram_law_draw(const double *p, const xb_rng *rng, uint32_t j, xb_stmram_law *out);
/* ln WER of one pulse (i, t) for the cell m, <= 0, non-increasing in i and t. */
double xb_stmram_ln_wer(const xb_stmram_law *m, double i, double t);
/* The smallest current i >= 0 with ln WER(i, t) <= ln_wer (ln_wer < 0): the inverse of
 * the law, closed form in each regime (thermal below I_c0, precessional above).
 * Returns 0 when even i = 0 fails less often (ln WER(0, t) <= ln_wer). */
double xb_stmram_current_for(const xb_stmram_law *m, double ln_wer, double t);

#endif
