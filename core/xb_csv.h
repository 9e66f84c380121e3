/* core/xb_csv.h: delimited text tables (CSV, TSV, whitespace), for measured device
 * data (calibration/) and results files (plots/, experiments/).
 *
 * The whole table is read into memory as strings; numbers are converted on request,
 * with errors that name file:line:column and the column's header. Handles: a header
 * line (auto-detected: present iff some field of the first line is not a number),
 * comment lines, blank or whitespace-only lines (skipped), CRLF, quoted fields with
 * "" escapes (comma/semicolon/tab), and ragged rows (padded with "" when allowed). */
#ifndef XB_CSV_H
#define XB_CSV_H

#include <stddef.h>

#include "core/xb_err.h"

typedef struct xb_csv_opts {
    char delim;        /* ',', '\t', ';', ' ' (runs of blanks); 0 = detect from line 1 */
    int header;        /* 1 yes, 0 no, -1 detect */
    char comment;      /* lines starting with it are skipped; 0 = none. Default '#'. */
    int ragged;        /* rows may have fewer fields than the widest row (padded "") */
} xb_csv_opts;

#define XB_CSV_OPTS_DEFAULT ((xb_csv_opts){ .delim = 0, .header = -1, .comment = '#', .ragged = 0 })

typedef struct xb_csv {
    char *name;             /* file name, for messages */
    size_t nrows, ncols;
    char **head;            /* ncols names; "1", "2", ... when there is no header */
    char **cell;            /* nrows * ncols, row-major; "" for a missing field */
    int *line;              /* source line of each row */
    char delim;
    int has_header;
} xb_csv;

xb_status xb_csv_read(const char *path, const xb_csv_opts *o, xb_csv **out, xb_err *err);
xb_status xb_csv_parse(const char *text, size_t len, const char *name, const xb_csv_opts *o,
                       xb_csv **out, xb_err *err);
void xb_csv_free(xb_csv *t);

int xb_csv_col(const xb_csv *t, const char *name);      /* -1 if absent */
static inline const char *xb_csv_cell(const xb_csv *t, size_t r, size_t c)
{
    return t->cell[r * t->ncols + c];
}
/* Parse cell (r, c) as a finite number; empty cells and NaN are errors. */
xb_status xb_csv_number(const xb_csv *t, size_t r, size_t c, double *v, xb_err *err);

/* Quote a field for writing CSV if it contains , " or a newline. Returns buf. */
char *xb_csv_quote(const char *s, char *buf, size_t len);

#endif
