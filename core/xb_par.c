#include "core/xb_par.h"

#include <cblas.h>
#include <omp.h>

static int forced = 0;
static int budget = 0;

int xb_par_budget(void) { return budget > 0 ? budget : omp_get_max_threads(); }
void xb_par_set_budget(int n) { budget = n > 0 ? n : 0; }
void xb_par_force(int n) { forced = n > 0 ? n : 0; }

int xb_par_threads(size_t rows, size_t cols)
{
    if (forced) return forced;
    if (rows * cols < (size_t)1 << 16 || rows < 2) return 1;
    const int b = xb_par_budget();
    return (size_t)b > rows ? (int)rows : b;
}

int xb_par_blas_threads(int n)
{
    if (n > 0) openblas_set_num_threads(n);
    return openblas_get_num_threads();
}

const char *xb_par_blas_info(void) { return openblas_get_config(); }
