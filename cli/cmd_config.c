/* cli/cmd_config.c: `xbemu config show [SECTION]`: every key with its default, unit,
 * range and doc, generated from the schemas (so it cannot drift from the code). */
#include <stdio.h>
#include <string.h>

#include "cli/xb_cli.h"
#include "cli/xb_sections.h"
#include "experiments/xb_configs.h"
#include "core/xb_config.h"
#include "devices/xb_device.h"
#include "training/xb_trainer.h"

void xb_cli_print_table(FILE *f, const char *title, const xb_param_spec *s, size_t n)
{
    fprintf(f, "%s\n", title);
    for (size_t i = 0; i < n; i++) {
        char def[64], range[256];
        if (s[i].type == XB_P_STR) snprintf(def, sizeof def, "%s", s[i].choices ? s[i].choices : "");
        else xb_param_format(&s[i], s[i].def, def, sizeof def);
        xb_param_range_text(&s[i], range, sizeof range);
        fprintf(f, "  %-16s = %-12s %-34s %s%s%s%s\n", s[i].name, def, range, s[i].doc,
                s[i].source && *s[i].source ? " [" : "", s[i].source ? s[i].source : "",
                s[i].source && *s[i].source ? "]" : "");
    }
}

int xb_cmd_config(int argc, char **argv)
{
    if (argc < 2 || xb_cli_is_help(argv[1]) || strcmp(argv[1], "show")) {
        FILE *f = argc >= 2 && xb_cli_is_help(argv[1]) ? stdout : stderr;
        fprintf(f, "usage: xbemu config show [SECTION]\n\n"
                   "Lists every config key: default, allowed range with unit, and meaning.\n"
                   "[device] keys depend on `type`: the common keys are listed, then each\n"
                   "model's own keys (also `xbemu devices show NAME`).\n");
        return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
    }
    const char *only = argc > 2 ? argv[2] : NULL;
    int shown = 0;
    for (size_t k = 0; xb_cli_sections[k]; k++) {
        const xb_section *s = xb_cli_sections[k];
        if (only && strcmp(only, s->name)) continue;
        char title[256];
        snprintf(title, sizeof title, "[%s]  %s", s->name, s->doc);
        xb_cli_print_table(stdout, title, s->params, s->nparams);
        if (!strcmp(s->name, "device"))
            for (size_t d = 0; xb_device_types[d]; d++) {
                snprintf(title, sizeof title, "  [device] type = %s: %s", xb_device_types[d]->name,
                         xb_device_types[d]->summary);
                xb_cli_print_table(stdout, title, xb_device_types[d]->params,
                                   xb_device_types[d]->nparams);
            }
        if (!strcmp(s->name, "train"))
            for (size_t t = 0; xb_trainer_types[t]; t++) {
                if (!xb_trainer_types[t]->params) continue;
                snprintf(title, sizeof title, "  [train] algorithm = %s: %s", xb_trainer_types[t]->name,
                         xb_trainer_types[t]->summary);
                xb_cli_print_table(stdout, title, xb_trainer_types[t]->params,
                                   xb_trainer_types[t]->nparams);
            }
        printf("\n");
        shown++;
    }
    if (!shown) return xb_cli_usage("config", "unknown section '%s'", only);
    return XB_EXIT_OK;
}

xb_status xb_cli_load_config(xb_config *c, const char *arg, int argc, char **argv, xb_err *err)
{
    xb_status st;
    if (!arg) st = xb_config_load_string(c, xb_embedded_config_text("default"), "default.ini", err);
    else if (!strchr(arg, '/') && !strstr(arg, ".ini") && xb_embedded_config_text(arg))
        st = xb_config_load_string(c, xb_embedded_config_text(arg), arg, err);
    else st = xb_config_load(c, arg, err);
    for (int i = 1; st == XB_OK && i < argc; i++) {
        const char *v;
        if (xb_cli_opt(&i, argc, argv, "--set", &v) == 1) st = xb_config_set(c, v, err);
    }
    if (st == XB_OK) st = xb_config_check_sections(c, xb_cli_section_names, err);
    return st;
}
