#include "core/xb_param.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *unit_sep(const char *u) { return u && *u ? " " : ""; }
static const char *unit_str(const char *u) { return u ? u : ""; }

static int choice_index(const char *choices, const char *text)
{
    int k = 0;
    for (const char *p = choices; p && *p; k++) {
        const char *bar = strchr(p, '|');
        const size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (strlen(text) == len && strncmp(p, text, len) == 0) return k;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

char *xb_param_choice(const xb_param_spec *s, int k, char *buf, size_t len)
{
    const char *p = s->choices ? s->choices : "";
    for (int i = 0; i < k && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p) p = "?";
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n >= len) n = len - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

char *xb_param_range_text(const xb_param_spec *s, char *buf, size_t len)
{
    switch (s->type) {
    case XB_P_BOOL: snprintf(buf, len, "true or false"); break;
    case XB_P_ENUM: snprintf(buf, len, "one of %s", s->choices ? s->choices : ""); break;
    case XB_P_STR: snprintf(buf, len, "any text"); break;
    case XB_P_INT:
        snprintf(buf, len, "integer in [%.17g, %.17g]%s%s", s->min, s->max, unit_sep(s->unit),
                 unit_str(s->unit));
        break;
    case XB_P_REAL:
        snprintf(buf, len, "[%g, %g]%s%s", s->min, s->max, unit_sep(s->unit), unit_str(s->unit));
        break;
    }
    return buf;
}

xb_status xb_param_parse(const xb_param_spec *s, const char *text, double *out, xb_err *err)
{
    char range[256];
    while (*text == ' ' || *text == '\t') text++;
    switch (s->type) {
    case XB_P_STR:
        *out = NAN;
        return XB_OK;
    case XB_P_BOOL:
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
            !strcmp(text, "1")) { *out = 1; return XB_OK; }
        if (!strcasecmp(text, "false") || !strcasecmp(text, "no") || !strcasecmp(text, "off") ||
            !strcmp(text, "0")) { *out = 0; return XB_OK; }
        return xb_fail(err, XB_EINVAL, "%s = '%s' is not a boolean (use true or false)",
                       s->name, text);
    case XB_P_ENUM: {
        const int k = choice_index(s->choices, text);
        if (k < 0)
            return xb_fail(err, XB_EINVAL, "%s = '%s' is not one of %s", s->name, text,
                           s->choices ? s->choices : "");
        *out = k;
        return XB_OK;
    }
    case XB_P_INT:
    case XB_P_REAL:
        break;
    }
    char *end;
    errno = 0;
    const double v = strtod(text, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (end == text || *end != '\0' || errno == ERANGE || isnan(v))
        return xb_fail(err, XB_EINVAL, "%s = '%s' is not a number", s->name, text);
    if (s->type == XB_P_INT && v != floor(v))
        return xb_fail(err, XB_EINVAL, "%s = '%s' is not an integer", s->name, text);
    if (!(v >= s->min && v <= s->max))        /* negated so that NaN fails too */
        return xb_fail(err, XB_ERANGE, "%s = %g%s%s is outside %s", s->name, v,
                       unit_sep(s->unit), unit_str(s->unit),
                       xb_param_range_text(s, range, sizeof range));
    *out = v;
    return XB_OK;
}

ptrdiff_t xb_param_index(const xb_param_spec *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].name && strcmp(s[i].name, name) == 0) return (ptrdiff_t)i;
    return -1;
}

const xb_param_spec *xb_param_find(const xb_param_spec *s, size_t n, const char *name)
{
    const ptrdiff_t i = xb_param_index(s, n, name);
    return i < 0 ? NULL : &s[i];
}

void xb_param_defaults(const xb_param_spec *s, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) out[i] = s[i].type == XB_P_STR ? NAN : s[i].def;
}

size_t xb_edit_distance(const char *a, const char *b)
{
    const size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return la > lb ? la : lb;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            const size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *xb_param_suggest(const xb_param_spec *s, size_t n, const char *name)
{
    const char *best = NULL;
    size_t bd = (size_t)-1;
    const size_t limit = strlen(name) / 3 + 1 > 2 ? strlen(name) / 3 + 1 : 2;
    for (size_t i = 0; i < n; i++) {
        const size_t d = xb_edit_distance(name, s[i].name);
        if (d < bd) { bd = d; best = s[i].name; }
    }
    return bd <= limit ? best : NULL;
}

char *xb_param_format(const xb_param_spec *s, double v, char *buf, size_t len)
{
    switch (s->type) {
    case XB_P_BOOL: snprintf(buf, len, "%s", v != 0 ? "true" : "false"); break;
    case XB_P_ENUM: xb_param_choice(s, (int)v, buf, len); break;
    case XB_P_STR: snprintf(buf, len, "%s", s->choices ? s->choices : ""); break;
    case XB_P_INT: snprintf(buf, len, "%.0f", v); break;
    case XB_P_REAL: snprintf(buf, len, "%.17g", v);
        {   /* shortest text that round-trips */
            for (int prec = 1; prec <= 17; prec++) {
                char t[64];
                snprintf(t, sizeof t, "%.*g", prec, v);
                if (strtod(t, NULL) == v) { snprintf(buf, len, "%s", t); break; }
            }
        }
        break;
    }
    return buf;
}

const char *xb_param_table_check(const xb_param_spec *s, size_t n)
{
    static _Thread_local char why[256];
    for (size_t i = 0; i < n; i++) {
        if (!s[i].name || !*s[i].name) { snprintf(why, sizeof why, "row %zu has no name", i); return why; }
        if (!s[i].doc || !*s[i].doc) { snprintf(why, sizeof why, "%s has no doc", s[i].name); return why; }
        if (!s[i].unit) { snprintf(why, sizeof why, "%s has no unit (use \"\")", s[i].name); return why; }
        if ((s[i].type == XB_P_REAL || s[i].type == XB_P_INT) &&
            !(s[i].min <= s[i].def && s[i].def <= s[i].max)) {
            snprintf(why, sizeof why, "%s: default %g outside [%g, %g]", s[i].name, s[i].def,
                     s[i].min, s[i].max);
            return why;
        }
        if (s[i].type == XB_P_ENUM && (!s[i].choices || s[i].def < 0)) {
            snprintf(why, sizeof why, "%s: enum without choices", s[i].name);
            return why;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(s[i].name, s[j].name) == 0) {
                snprintf(why, sizeof why, "%s appears twice", s[i].name);
                return why;
            }
    }
    return NULL;
}
