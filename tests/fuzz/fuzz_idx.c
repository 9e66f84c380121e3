/* libFuzzer target: the IDX parser must reject any malformed image without crashing. */
#include <stdint.h>

#include "core/xb_idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xb_idx x;
    xb_err e = {0};
    if (xb_idx_parse(data, size, "fuzz.idx", &x, &e) == XB_OK) xb_idx_free(&x);
    return 0;
}
