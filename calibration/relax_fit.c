#include "calibration/xb_calib.h"
xb_status xb_calib_relax(const xb_measurement *m, xb_calib *out, xb_err *err)
{
    (void)m; (void)out;
    return xb_fail(err, XB_EINVAL, "relax: not yet");
}
