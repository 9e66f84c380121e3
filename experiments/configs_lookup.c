#include <string.h>

#include "experiments/xb_configs.h"

const char *xb_embedded_config_text(const char *name)
{
    for (const xb_embedded_config *c = xb_embedded_configs; c->name; c++)
        if (!strcmp(c->name, name)) return c->text;
    return NULL;
}
