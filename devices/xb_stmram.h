/* devices/xb_stmram.h: the ST-MRAM write error rate outside the device kernels, for
 * BER-vs-energy sweeps, plots and calibration (devices/stmram.c documents the law). */
#ifndef XB_STMRAM_H
#define XB_STMRAM_H

/* Write error rate of one pulse of current i (A) and width t (s) for the nominal
 * device of the stmram parameter vector p (Delta, I_c0, tau0, tau_D; physical mode),
 * in [0, 1]; computed through its logarithm in double. */
double xb_stmram_wer(const double *p, double i, double t);
/* Read error probability of one read of the nominal device of p (physical mode: read
 * disturb under i_read for t_read plus the sense-amplifier error Q(margin / noise)). */
double xb_stmram_read_ber(const double *p);

#endif
