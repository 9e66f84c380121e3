/* calibration/dw_fit.c: placeholder, replaced below. */
#include "calibration/xb_calib.h"
xb_status xb_calib_dw(const xb_measurement *m, const xb_calib_opts *o, xb_calib *out, xb_err *err)
{
    (void)o; (void)out;
    return xb_fail(err, XB_EINVAL, "%s: dw fitter not built yet", m->name);
}
