/* libFuzzer target: the CSV/TSV reader (measured data, results files). */
#include <stdint.h>

#include "core/xb_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xb_csv *t;
    xb_err e = {0};
    if (xb_csv_parse((const char *)data, size, "fuzz.csv", NULL, &t, &e) == XB_OK) {
        double v;
        for (size_t r = 0; r < t->nrows; r++)
            for (size_t c = 0; c < t->ncols; c++) xb_csv_number(t, r, c, &v, &e);
        xb_csv_free(t);
    }
    return 0;
}
