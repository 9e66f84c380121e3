/* training/xb_noise_dev.h: Gaussian-like numbers drawn through a device model's read
 * noise, for Bayesian weight sampling on hardware (issue 10: MESU's epsilon).
 *
 * One device per parameter: row r of the source is a population of n_r devices of
 * type T (D2D draw at allocation, stream D2D array 0x4e00 + r), left to settle for
 * `settle` seconds (drift_row: PCM drift and 1/f noise growth, MTJ retention flips),
 * then read `calib_reads` times (stream READ, array 0xffff, row r, epoch k) to estimate
 * each device's mean m_j and standard deviation s_j. A draw reads the row once (stream
 * READ, array a, row r, epoch e) and returns eps_j = (G_j - m_j) / s_j; a device with
 * s_j = 0 (no read noise at its state) gives eps_j = 0 and is counted. Time does not
 * advance during draws (a read takes ns). Pure in (seed, row, array, epoch).
 *
 * The standardised numbers are as Gaussian as the device's read noise: PCM's 1/f read
 * noise multiplies G by (1 + Q xi), so eps is N(0, 1) up to the calibration error
 * (finite calib_reads widens the tails); an MTJ read error flips between two levels,
 * so eps takes two values (+-1 when ber_read = 0.5). Running moments of every eps
 * drawn and the Kolmogorov-Smirnov distance of the first XB_NOISE_KS_N to N(0, 1) are
 * kept for the run's report.
 *
 * Energy: each draw books one device read per device (V_read^2 G t_read with the
 * [energy] units given) into the source's ledger. */
#ifndef XB_NOISE_DEV_H
#define XB_NOISE_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"
#include "crossbar/xb_energy.h"
#include "devices/xb_device.h"

enum { XB_NOISE_MAX_ROWS = 8, XB_NOISE_KS_N = 200000 };

typedef struct xb_noise_stats {
    double n;             /* numbers drawn */
    double mean, sd, skewness, excess_kurtosis;
    double ks;            /* sup |F_n - Phi| over the first min(n, XB_NOISE_KS_N) */
    double ks_n;          /* how many entered the KS distance */
    double silent;        /* devices with s_j = 0 (their eps is always 0) */
    double devices;
    double calib_reads, settle_s;
} xb_noise_stats;

typedef struct xb_noise_dev xb_noise_dev;

/* Rows of sizes n[0..nrows) (one per layer); T, p borrowed during the call (p copied).
 * units: [energy] units (NULL: defaults). Fails if no device has read noise. */
xb_status xb_noise_dev_alloc(xb_noise_dev **out, const xb_device_type *T, const double *p,
                             const size_t *n, size_t nrows, unsigned calib_reads,
                             double settle_s, uint32_t seed, const xb_energy_units *units,
                             xb_err *err);
void xb_noise_dev_free(xb_noise_dev *s);

/* n numbers of row `row` (row % 64 picks the device row: evaluation rows 64 + l share
 * the devices of layer l) for sample `array`, epoch `epoch`. The signature of the MESU
 * noise hook (training/xb_mesu.h); ctx is the xb_noise_dev. */
void xb_noise_dev_draw(void *ctx, uint32_t row, uint32_t array, uint32_t epoch, size_t n,
                       float *eps);

void xb_noise_dev_stats(const xb_noise_dev *s, xb_noise_stats *out);
/* Energy of the reads so far (added to dst). */
void xb_noise_dev_ledger(const xb_noise_dev *s, xb_energy *dst);

#endif
