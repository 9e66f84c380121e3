#include "core/xb_csv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_idx.h"
#include "core/xb_mem.h"

void xb_csv_free(xb_csv *t)
{
    if (!t) return;
    if (t->head) for (size_t c = 0; c < t->ncols; c++) xb_free(t->head[c]);
    if (t->cell) for (size_t i = 0; i < t->nrows * t->ncols; i++) xb_free(t->cell[i]);
    xb_free(t->head); xb_free(t->cell); xb_free(t->line); xb_free(t->name);
    xb_free(t);
}

/* One parsed line: fields as malloc'd strings. */
typedef struct fields { char **f; size_t n, cap; } fields;

static void fields_clear(fields *fl)
{
    for (size_t i = 0; i < fl->n; i++) xb_free(fl->f[i]);
    fl->n = 0;
}

static int fields_push(fields *fl, const char *s, size_t n)
{
    if (fl->n == fl->cap) {
        const size_t cap = fl->cap ? 2 * fl->cap : 16;
        char **nf = xb_realloc(fl->f, cap * sizeof *nf);
        if (!nf) return -1;
        fl->f = nf;
        fl->cap = cap;
    }
    char *d = xb_malloc(n + 1);
    if (!d) return -1;
    memcpy(d, s, n);
    d[n] = '\0';
    fl->f[fl->n++] = d;
    return 0;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* Split [s, e) into fields; returns 0, -1 on OOM, -2 on a bad quote. */
static int split(const char *s, const char *e, char delim, fields *fl, char *scratch)
{
    fields_clear(fl);
    if (delim == ' ') {
        const char *p = s;
        for (;;) {
            while (p < e && is_blank(*p)) p++;
            if (p >= e) return 0;
            const char *q = p;
            while (q < e && !is_blank(*q)) q++;
            if (fields_push(fl, p, (size_t)(q - p))) return -1;
            p = q;
        }
    }
    const char *p = s;
    for (;;) {
        while (p < e && (*p == ' ' || (*p == '\r')) && delim != ' ') p++;   /* leading spaces */
        size_t k = 0;
        if (p < e && *p == '"') {
            p++;
            for (;;) {
                if (p >= e) return -2;
                if (*p == '"') {
                    if (p + 1 < e && p[1] == '"') { scratch[k++] = '"'; p += 2; continue; }
                    p++;
                    break;
                }
                scratch[k++] = *p++;
            }
            while (p < e && is_blank(*p) && *p != delim) p++;
            if (p < e && *p != delim) return -2;
        } else {
            const char *q = p;
            while (q < e && *q != delim) q++;
            const char *r = q;
            while (r > p && is_blank(r[-1])) r--;
            memcpy(scratch, p, (size_t)(r - p));
            k = (size_t)(r - p);
            p = q;
        }
        if (fields_push(fl, scratch, k)) return -1;
        if (p >= e) return 0;
        p++;                               /* skip the delimiter */
        if (p >= e) { return fields_push(fl, "", 0) ? -1 : 0; }
    }
}

static int is_number(const char *s)
{
    if (!*s) return 0;
    char *end;
    errno = 0;
    strtod(s, &end);
    while (*end == ' ') end++;
    return *end == '\0';
}

xb_status xb_csv_parse(const char *text, size_t len, const char *name, const xb_csv_opts *o,
                       xb_csv **out, xb_err *err)
{
    const xb_csv_opts opts = o ? *o : XB_CSV_OPTS_DEFAULT;
    *out = NULL;
    xb_csv *t = xb_calloc(1, sizeof *t);
    char *scratch = xb_malloc(len + 1);
    fields fl = {0};
    size_t rcap = 0, ccap = 0;          /* capacity in rows of cell/line arrays */
    xb_status st = XB_OK;
    if (!t || !scratch || !(t->name = xb_strdup(name))) {
        st = xb_fail(err, XB_ENOMEM, "%s: out of memory", name);
        goto fail;
    }
    if (memchr(text, '\0', len)) {
        st = xb_fail(err, XB_EINVAL, "%s: binary data (NUL byte) in a text table", name);
        goto fail;
    }
    char delim = opts.delim;
    int lineno = 0, first = 1;
    const char *p = text, *end = text + len;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF) p += 3;                        /* UTF-8 BOM */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        const char *s = p;
        p = nl ? nl + 1 : end;
        const char *q = s;
        while (q < le && is_blank(*q)) q++;
        if (q == le) continue;                                    /* blank line */
        if (opts.comment && *q == opts.comment) continue;
        if (!delim) {
            delim = memchr(s, '\t', (size_t)(le - s)) ? '\t'
                  : memchr(s, ',', (size_t)(le - s)) ? ','
                  : memchr(s, ';', (size_t)(le - s)) ? ';' : ' ';
        }
        const int rc = split(s, le, delim, &fl, scratch);
        if (rc == -1) { st = xb_fail(err, XB_ENOMEM, "%s: out of memory", name); goto fail; }
        if (rc == -2) {
            st = xb_fail(err, XB_EINVAL, "%s:%d: unterminated or misplaced quote", name, lineno);
            goto fail;
        }
        if (first) {
            first = 0;
            int hdr = opts.header;
            if (hdr < 0) {
                hdr = 0;
                for (size_t i = 0; i < fl.n; i++)
                    if (fl.f[i][0] && !is_number(fl.f[i])) hdr = 1;
            }
            t->ncols = fl.n;
            t->head = xb_calloc(fl.n, sizeof *t->head);
            if (!t->head) { st = xb_fail(err, XB_ENOMEM, "%s: out of memory", name); goto fail; }
            t->has_header = hdr;
            for (size_t i = 0; i < fl.n; i++) {
                char num[24];
                snprintf(num, sizeof num, "%zu", i + 1);
                t->head[i] = xb_strdup(hdr ? fl.f[i] : num);
                if (!t->head[i]) { st = xb_fail(err, XB_ENOMEM, "%s: out of memory", name); goto fail; }
            }
            if (hdr) continue;
        }
        if (fl.n > t->ncols || (fl.n < t->ncols && !opts.ragged)) {
            st = xb_fail(err, XB_EINVAL, "%s:%d: %zu fields, expected %zu%s", name, lineno, fl.n,
                         t->ncols, delim == ',' ? "" : delim == '\t' ? " (tab-separated)" :
                         delim == ';' ? " (;-separated)" : " (blank-separated)");
            goto fail;
        }
        if (t->nrows == rcap) {
            const size_t nc = rcap ? 2 * rcap : 64;
            char **ncell = xb_realloc(t->cell, nc * t->ncols * sizeof *ncell);
            if (!ncell) { st = xb_fail(err, XB_ENOMEM, "%s: out of memory", name); goto fail; }
            t->cell = ncell;
            int *nline = xb_realloc(t->line, nc * sizeof *nline);
            if (!nline) { st = xb_fail(err, XB_ENOMEM, "%s: out of memory", name); goto fail; }
            t->line = nline;
            rcap = nc;
        }
        char **row = t->cell + t->nrows * t->ncols;
        for (size_t i = 0; i < t->ncols; i++) {
            if (i < fl.n) { row[i] = fl.f[i]; fl.f[i] = NULL; }
            else row[i] = xb_strdup("");
            if (!row[i]) {
                for (size_t j = 0; j < i; j++) xb_free(row[j]);
                st = xb_fail(err, XB_ENOMEM, "%s: out of memory", name);
                goto fail;
            }
        }
        fl.n = 0;
        t->line[t->nrows++] = lineno;
    }
    (void)ccap;
    if (!t->head) { st = xb_fail(err, XB_EINVAL, "%s: empty table (no data lines)", name); goto fail; }
    if (t->nrows == 0) { st = xb_fail(err, XB_EINVAL, "%s: no data rows after the header", name); goto fail; }
    t->delim = delim;
    for (size_t i = 0; i < fl.n; i++) xb_free(fl.f[i]);
    xb_free(fl.f);
    xb_free(scratch);
    *out = t;
    return XB_OK;
fail:
    for (size_t i = 0; i < fl.n; i++) xb_free(fl.f[i]);
    xb_free(fl.f);
    xb_free(scratch);
    xb_csv_free(t);
    return st;
}

xb_status xb_csv_read(const char *path, const xb_csv_opts *o, xb_csv **out, xb_err *err)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    const xb_status st = xb_read_file_gz(path, (size_t)1 << 30, &buf, &len, err);
    if (st != XB_OK) return st;
    const xb_status st2 = xb_csv_parse((const char *)buf, len, path, o, out, err);
    xb_free(buf);
    return st2;
}

int xb_csv_col(const xb_csv *t, const char *name)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (!strcmp(t->head[c], name)) return (int)c;
    return -1;
}

xb_status xb_csv_number(const xb_csv *t, size_t r, size_t c, double *v, xb_err *err)
{
    const char *s = xb_csv_cell(t, r, c);
    char *end;
    errno = 0;
    const double x = strtod(s, &end);
    while (*end == ' ') end++;
    if (!*s)
        return xb_fail(err, XB_EINVAL, "%s:%d: column %zu (%s) is empty", t->name, t->line[r],
                       c + 1, t->head[c]);
    if (end == s || *end || errno == ERANGE || !isfinite(x))
        return xb_fail(err, XB_EINVAL, "%s:%d: column %zu (%s): '%s' is not a finite number",
                       t->name, t->line[r], c + 1, t->head[c], s);
    *v = x;
    return XB_OK;
}

char *xb_csv_quote(const char *s, char *buf, size_t len)
{
    if (!strpbrk(s, ",\"\n\r")) { snprintf(buf, len, "%s", s); return buf; }
    size_t k = 0;
    if (k + 1 < len) buf[k++] = '"';
    for (; *s && k + 3 < len; s++) {
        if (*s == '"') buf[k++] = '"';
        buf[k++] = *s == '\n' || *s == '\r' ? ' ' : *s;
    }
    if (k + 1 < len) buf[k++] = '"';
    buf[k] = '\0';
    return buf;
}
