#include "devices/xb_bank.h"

#include <string.h>

#include "core/xb_mem.h"

void xb_bank_free(xb_bank *b)
{
    if (b) { xb_free(b->block); xb_free(b->p); xb_free(b); }
}

xb_status xb_bank_alloc(xb_bank **out, const xb_device_type *T, const double *p, size_t n,
                        uint32_t seed, xb_err *err)
{
    *out = NULL;
    if (T->nfields > XB_MAX_FIELDS)
        return xb_fail(err, XB_EINVAL, "%s: %zu state fields (max %d)", T->name, T->nfields,
                       XB_MAX_FIELDS);
    xb_bank *b = xb_calloc(1, sizeof *b);
    if (b && (b->p = xb_calloc(T->nparams ? T->nparams : 1, sizeof *p)))
        b->block = xb_calloc(T->nfields * (n ? n : 1), sizeof(float));
    if (!b || !b->block) {
        xb_bank_free(b);
        return xb_fail(err, XB_ENOMEM, "%s: out of memory for %zu devices", T->name, n);
    }
    memcpy(b->p, p, T->nparams * sizeof *p);
    b->type = T;
    b->n = n;
    b->seed = seed;
    b->row.n = n;
    for (size_t k = 0; k < T->nfields; k++) b->row.f[k] = b->block + k * n;
    const xb_rng d2d = xb_rng_for_row(seed, XB_RNG_D2D, 0, 0, 0);
    T->init_row(&b->row, b->p, &d2d);
    *out = b;
    return XB_OK;
}

double xb_bank_pulse(xb_bank *b, const int16_t *npulses)
{
    b->epoch++;
    const xb_rng c2c = xb_rng_for_row(b->seed, XB_RNG_C2C, b->array, 0, b->epoch);
    const double e = b->type->pulse_energy_row(&b->row, b->p, npulses);
    b->type->pulse_row(&b->row, b->p, npulses, &c2c);
    return e;
}

void xb_bank_conductance(const xb_bank *b, float *g, int noisy)
{
    const xb_rng rd = xb_rng_for_row(b->seed, XB_RNG_READ, b->array, 0, b->epoch);
    b->type->conductance_row(&b->row, b->p, g, noisy ? &rd : NULL);
}
