/* core/xb_param.h: parameter schemas. One table of xb_param_spec rows per module
 * (or per device/trainer type) feeds INI validation, `xbemu config show`,
 * `xbemu devices show` and the README, so the docs cannot drift from the code.
 *
 * Values are held as doubles in an array indexed like the table (an enum per
 * module). Integers, booleans (0/1) and enums (index into `choices`) are exact in a
 * double; string parameters (type XB_P_STR) are read with xb_config_str and hold
 * NAN in the array. Rows are filled positionally, as
 *     { "dw_min", 0.001, "w", 0, 0.1, "mean step of one pulse" }
 * with type, choices and source optional (type 0 = real). */
#ifndef XB_PARAM_H
#define XB_PARAM_H

#include <stddef.h>

#include "core/xb_err.h"

typedef enum { XB_P_REAL = 0, XB_P_INT, XB_P_BOOL, XB_P_ENUM, XB_P_STR } xb_ptype;

typedef struct xb_param_spec {
    const char *name;
    double def;             /* ENUM: index of the default choice; STR: unused */
    const char *unit;       /* SI unit, "" for dimensionless */
    double min, max;        /* inclusive range; ignored for BOOL, ENUM, STR */
    const char *doc;        /* one line */
    xb_ptype type;
    const char *choices;    /* ENUM: "a|b|c"; STR: the default text */
    const char *source;     /* where the default comes from, e.g. "[MajCode]"; may be NULL */
} xb_param_spec;

/* A named section of a config file and its schema, e.g. [crossbar]. */
typedef struct xb_section {
    const char *name, *doc;
    const xb_param_spec *params;
    size_t nparams;
} xb_section;

/* Parse `text` as a value of spec s; range-checked. Messages name the key:
 *   "dw_min = 0.5 w is outside [0, 0.1] w" ; "adc_bits = 'x' is not a number" */
xb_status xb_param_parse(const xb_param_spec *s, const char *text, double *out, xb_err *err);

const xb_param_spec *xb_param_find(const xb_param_spec *s, size_t n, const char *name);
ptrdiff_t xb_param_index(const xb_param_spec *s, size_t n, const char *name);  /* -1 if absent */
void xb_param_defaults(const xb_param_spec *s, size_t n, double *out);

/* The closest name in the table by edit distance, or NULL if nothing is close. */
const char *xb_param_suggest(const xb_param_spec *s, size_t n, const char *name);
/* Edit (Levenshtein) distance, for suggestions elsewhere (section names, types). */
size_t xb_edit_distance(const char *a, const char *b);

/* Format a value the way it is written in an INI file (enum -> its name, bool ->
 * true/false, %.17g otherwise -> round-trips exactly). Returns buf. */
char *xb_param_format(const xb_param_spec *s, double v, char *buf, size_t len);
/* The allowed range as text: "[0, 0.1] w", "one of linear|softbounds", "true or false". */
char *xb_param_range_text(const xb_param_spec *s, char *buf, size_t len);
/* Name of choice k of an enum spec (copied into buf). */
char *xb_param_choice(const xb_param_spec *s, int k, char *buf, size_t len);

/* Check a table: every row named, documented, min <= def <= max, no duplicate names.
 * Returns NULL or a reason (static storage; for tests). */
const char *xb_param_table_check(const xb_param_spec *s, size_t n);

#endif
