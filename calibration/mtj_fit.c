#include "calibration/xb_calib.h"
xb_status xb_calib_mtj(const char *model, const xb_measurement *m, const xb_calib_opts *o,
                       const double *given, const char *free_only, xb_calib *out, xb_err *err)
{
    (void)m; (void)o; (void)given; (void)free_only; (void)out;
    return xb_fail(err, XB_EINVAL, "%s: not yet", model);
}
xb_status xb_calib_relax(const xb_measurement *m, xb_calib *out, xb_err *err)
{
    (void)m; (void)out;
    return xb_fail(err, XB_EINVAL, "relax: not yet");
}
