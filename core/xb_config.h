/* core/xb_config.h: INI configs (parsed by inih) with the origin of every value.
 *
 * An xb_config is an ordered list of (section, key, value, origin) entries. Files,
 * embedded strings and command-line `--set section.key=value` overrides all land
 * here; a later source replaces an earlier value of the same key, but a key given
 * twice in one file is an error. Consumers validate a section against their schema
 * with xb_config_params (defaults, parsing, ranges) and xb_config_check_keys
 * (unknown keys, with a did-you-mean). Every error message starts with the origin:
 *     "w1.ini:12: [device] dw_min = 0.5 w is outside [0, 0.1] w"
 *     "--set: [crossbar] unknown key 'adc_bit' (did you mean 'adc_bits'?)" */
#ifndef XB_CONFIG_H
#define XB_CONFIG_H

#include <stddef.h>

#include "core/xb_err.h"
#include "core/xb_param.h"

typedef struct xb_cfg_entry {
    char *section, *key, *value;
    char *origin;        /* file name, "--set" or the name of an embedded config */
    int line;            /* 0 for --set */
    int source;          /* index of the load call that set it */
} xb_cfg_entry;

typedef struct xb_config {
    xb_cfg_entry *e;
    size_t n, cap;
    int nsources;
} xb_config;

xb_config *xb_config_alloc(void);           /* NULL on out-of-memory */
void xb_config_free(xb_config *c);          /* NULL is fine */
xb_config *xb_config_copy(const xb_config *c);

/* Load an INI file / text. `name` is used in messages for text. On error the
 * config keeps what it had before the call. */
xb_status xb_config_load(xb_config *c, const char *path, xb_err *err);
xb_status xb_config_load_string(xb_config *c, const char *text, const char *name, xb_err *err);
/* Apply "section.key=value" (the form of --set). */
xb_status xb_config_set(xb_config *c, const char *assignment, xb_err *err);
/* Set one value programmatically (origin is recorded as given). */
xb_status xb_config_put(xb_config *c, const char *section, const char *key, const char *value,
                        const char *origin, xb_err *err);
/* Remove every key of a section (used by sweeps to drop [sweep] from a run config). */
void xb_config_drop_section(xb_config *c, const char *section);

const xb_cfg_entry *xb_config_find(const xb_config *c, const char *section, const char *key);
const char *xb_config_str(const xb_config *c, const char *section, const char *key,
                          const char *def);
int xb_config_has_section(const xb_config *c, const char *section);

/* Defaults from the schema, then every value of `section` that names a row of it,
 * parsed and range-checked. Keys absent from the schema are left for
 * xb_config_check_keys. */
xb_status xb_config_params(const xb_config *c, const char *section, const xb_param_spec *s,
                           size_t n, double *out, xb_err *err);

/* Every key of `section` must be in one of the given tables (a section may be
 * shared, e.g. common [device] keys + the chosen device type's keys). `extra` is a
 * NULL-terminated list of further allowed keys (may be NULL). */
xb_status xb_config_check_keys(const xb_config *c, const char *section,
                               const xb_param_spec *const *tabs, const size_t *ns,
                               size_t ntabs, const char *const *extra, xb_err *err);

/* Every section of the config must be one of `known` (NULL-terminated). */
xb_status xb_config_check_sections(const xb_config *c, const char *const *known, xb_err *err);

/* Prefix "origin:line: " of an entry, into buf. */
char *xb_config_where(const xb_cfg_entry *e, char *buf, size_t len);

/* The whole config as INI text (sections in first-seen order), malloc'd; NULL on OOM. */
char *xb_config_to_ini(const xb_config *c);

#endif
