/* cli/xb_sections.h: every config section the tool knows, for `config show` and for
 * the check that a config names no unknown section. */
#ifndef XB_SECTIONS_H
#define XB_SECTIONS_H

#include <stdio.h>

#include "core/xb_param.h"

extern const xb_section *const xb_cli_sections[];      /* NULL-terminated */
extern const char *const xb_cli_section_names[];       /* NULL-terminated */
void xb_cli_print_table(FILE *f, const char *title, const xb_param_spec *s, size_t n);

#endif
