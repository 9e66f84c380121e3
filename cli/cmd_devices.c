/* cli/cmd_devices.c: `xbemu devices [show NAME]`. */
#include <stdio.h>
#include <string.h>

#include "cli/xb_cli.h"
#include "cli/xb_sections.h"
#include "devices/xb_device.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: xbemu devices              list the device models\n"
               "       xbemu devices show NAME    parameters of a model: default, unit,\n"
               "                                  range, meaning, source\n");
    return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
}

int xb_cmd_devices(int argc, char **argv)
{
    if (argc >= 2 && xb_cli_is_help(argv[1])) return usage(stdout);
    if (argc == 1) {
        for (size_t i = 0; xb_device_types[i]; i++)
            printf("%-12s %s\n", xb_device_types[i]->name, xb_device_types[i]->summary);
        return XB_EXIT_OK;
    }
    if (!strcmp(argv[1], "show")) {
        if (argc != 3) return xb_cli_usage("devices", "show needs one model name");
        const xb_device_type *T = xb_device_find(argv[2]);
        if (!T) return xb_cli_usage("devices", "unknown device model '%s' (see `xbemu devices`)",
                                    argv[2]);
        char title[512];
        snprintf(title, sizeof title, "%s: %s\nsource: %s\n[device] type = %s", T->name,
                 T->summary, T->source, T->name);
        xb_cli_print_table(stdout, title, T->params, T->nparams);
        return XB_EXIT_OK;
    }
    return xb_cli_usage("devices", "unknown action '%s'", argv[1]);
}
