/* core/xb_err.h: status codes and the error record every library call fills.
 *
 * A library function returns an xb_status (XB_OK = 0) and, on failure, writes one
 * line into the caller's xb_err: what went wrong in the user's terms (file:line,
 * [section] key, the value, the allowed range with its unit). The library never
 * prints, exits or aborts; the CLI prints "xbemu: <msg>" and exits non-zero.
 * An xb_err is per caller, never global, so parallel runs cannot race on it. */
#ifndef XB_ERR_H
#define XB_ERR_H

#include <stddef.h>

typedef enum {
    XB_OK = 0,
    XB_EINVAL,      /* malformed input: syntax, not a number, unknown key */
    XB_ERANGE,      /* a value outside its allowed range */
    XB_ENOMEM,      /* allocation failed */
    XB_EIO,         /* file missing, unreadable, truncated */
    XB_ENUMERIC,    /* a numerical method failed (GSL error, NaN, no convergence) */
    XB_EINTR        /* interrupted by the user (SIGINT); partial results are kept */
} xb_status;

enum { XB_ERR_MSG = 512 };
typedef struct xb_err { xb_status code; char msg[XB_ERR_MSG]; } xb_err;

/* Fill e (may be NULL) with code and a printf-formatted message; returns code. */
xb_status xb_fail(xb_err *e, xb_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context ("file.ini:12: ") to an existing message; returns e->code. */
xb_status xb_err_prefix(xb_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Name of a status code, e.g. "out of range". */
const char *xb_status_str(xb_status s);

/* Turn a GSL status into an xb_status with context (what was being computed). */
xb_status xb_gsl_status(xb_err *e, int gsl_status, const char *what);

/* Switch GSL's abort-on-error handler off; main() and the tests call this once. */
void xb_gsl_quiet(void);

#endif
