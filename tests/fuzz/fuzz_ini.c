/* libFuzzer target: INI loading + schema validation must never crash or leak. */
#include <stdint.h>
#include <string.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"

static const xb_param_spec spec[] = {
    { "dw_min", 0.001, "w", 0, 0.1, "step", XB_P_REAL, NULL, NULL },
    { "bits", 8, "", 1, 16, "bits", XB_P_INT, NULL, NULL },
    { "mode", 0, "", 0, 0, "mode", XB_P_ENUM, "a|b|c", NULL },
    { "flag", 0, "", 0, 1, "flag", XB_P_BOOL, NULL, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xb_malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    xb_config *c = xb_config_alloc();
    xb_err e = {0};
    double v[4];
    const xb_param_spec *tabs[1] = { spec };
    const size_t ns[1] = { 4 };
    if (c && xb_config_load_string(c, text, "fuzz.ini", &e) == XB_OK) {
        xb_config_check_keys(c, "x", tabs, ns, 1, NULL, &e);
        xb_config_params(c, "x", spec, 4, v, &e);
        char *ini = xb_config_to_ini(c);
        xb_free(ini);
        xb_config_set(c, text, &e);
    }
    xb_config_free(c);
    xb_free(text);
    return 0;
}
