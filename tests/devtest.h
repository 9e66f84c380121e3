/* tests/devtest.h: helpers shared by the device test suites (static, header-only). */
#ifndef XB_DEVTEST_H
#define XB_DEVTEST_H

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_param.h"
#include "devices/xb_bank.h"
#include "devices/xb_device.h"

enum { DT_MAXP = 64 };

static inline void dt_defaults(const xb_device_type *T, double *p)
{
    xb_param_defaults(T->params, T->nparams, p);
}

/* Set parameter `name` of T (the test fails if T has no such parameter). */
static inline void dt_set(const xb_device_type *T, double *p, const char *name, double v)
{
    const ptrdiff_t k = xb_param_index(T->params, T->nparams, name);
    CU_ASSERT_FATAL(k >= 0);
    p[k] = v;
}

static inline int dt_has(const xb_device_type *T, const char *name)
{
    return xb_param_index(T->params, T->nparams, name) >= 0;
}

/* Field `name` of a bank (fatal if absent). */
static inline float *dt_field(const xb_bank *b, const char *name)
{
    for (size_t k = 0; k < b->type->nfields; k++)
        if (!strcmp(b->type->field_names[k], name)) return b->row.f[k];
    CU_FAIL_FATAL("no such state field");
    return NULL;
}

static inline xb_bank *dt_bank(const xb_device_type *T, const double *p, size_t n, uint32_t seed)
{
    xb_bank *b = NULL;
    xb_err err = {0};
    CU_ASSERT_FATAL(xb_bank_alloc(&b, T, p, n, seed, &err) == XB_OK);
    return b;
}

/* Every device gets the same count. */
static inline double dt_pulse_all(xb_bank *b, int16_t *buf, int count)
{
    for (size_t j = 0; j < b->n; j++) buf[j] = (int16_t)count;
    return xb_bank_pulse(b, buf);
}

static inline int dt_cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
