/* training/sgd_analog.c: analog SGD on crossbars (placeholder until crossbar/ lands). */
#include "training/xb_trainer.h"

static xb_status an_alloc(void **out, const xb_trainer_setup *s, xb_err *err)
{
    (void)s;
    *out = NULL;
    return xb_fail(err, XB_EINVAL, "[train] algorithm = sgd_analog: the crossbar engine is not "
                   "built in yet");
}
static void an_free(void *s) { (void)s; }

const xb_trainer_type xb_trainer_sgd_analog = {
    .name = "sgd_analog", .summary = "analog SGD with stochastic pulse coincidence [GV16]",
    .uses_device = 1, .alloc = an_alloc, .free = an_free,
};
