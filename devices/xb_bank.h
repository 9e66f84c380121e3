/* devices/xb_bank.h: a standalone population of N devices of one type (one "row"),
 * with its own state block: for `xbemu devices pulse`, calibration synthesis and
 * device tests, where no crossbar is wanted. The crossbar keeps its own arrays.
 * Random streams: D2D (row 0, epoch 0) at allocation, C2C with epoch = pulse-step
 * count, READ for noisy reads, all under the bank's seed and array id. */
#ifndef XB_BANK_H
#define XB_BANK_H

#include "devices/xb_device.h"

typedef struct xb_bank {
    const xb_device_type *type;     /* borrowed */
    double *p;                      /* owned copy of the parameters */
    size_t n;
    float *block;                   /* nfields * n floats */
    xb_row row;
    uint32_t seed, array, epoch;
} xb_bank;

xb_status xb_bank_alloc(xb_bank **out, const xb_device_type *T, const double *p, size_t n,
                        uint32_t seed, xb_err *err);
void xb_bank_free(xb_bank *b);                                   /* NULL is fine */
/* Apply one step of signed pulse counts (n entries); returns the energy (J). */
double xb_bank_pulse(xb_bank *b, const int16_t *npulses);
/* Conductances (S); noisy = draw read noise from the READ stream (per call counter). */
void xb_bank_conductance(const xb_bank *b, float *g, int noisy);

#endif
