#include "core/xb_err.h"

#include <gsl/gsl_errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

xb_status xb_fail(xb_err *e, xb_status code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

xb_status xb_err_prefix(xb_err *e, const char *fmt, ...)
{
    if (!e) return XB_EINVAL;
    char pre[XB_ERR_MSG], old[XB_ERR_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    const size_t lp = strnlen(pre, sizeof e->msg - 1);
    memcpy(e->msg, pre, lp);                         /* prefix, then as much of the old */
    const size_t lo = strnlen(old, sizeof e->msg - 1 - lp);
    memcpy(e->msg + lp, old, lo);
    e->msg[lp + lo] = '\0';
    return e->code;
}

const char *xb_status_str(xb_status s)
{
    switch (s) {
    case XB_OK: return "ok";
    case XB_EINVAL: return "invalid input";
    case XB_ERANGE: return "out of range";
    case XB_ENOMEM: return "out of memory";
    case XB_EIO: return "i/o error";
    case XB_ENUMERIC: return "numerical failure";
    case XB_EINTR: return "interrupted";
    }
    return "unknown error";
}

xb_status xb_gsl_status(xb_err *e, int gsl_status, const char *what)
{
    if (gsl_status == GSL_SUCCESS) return XB_OK;
    if (gsl_status == GSL_ENOMEM)
        return xb_fail(e, XB_ENOMEM, "%s: out of memory (GSL)", what);
    return xb_fail(e, XB_ENUMERIC, "%s: %s (GSL error %d)", what, gsl_strerror(gsl_status),
                   gsl_status);
}

void xb_gsl_quiet(void) { gsl_set_error_handler_off(); }
