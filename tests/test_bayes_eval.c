/* tests/test_bayes_eval.c: expected calibration error (xb_ece) on hand-made cases. */
#include <math.h>

#include "training/xb_uncertainty.h"
#include "tests/xb_test.h"

static void test_ece_hand_cases(void)
{
    /* perfectly calibrated: confidence 0.9 and 9 of 10 right -> 0 */
    double c10[10];
    unsigned char k10[10];
    for (int i = 0; i < 10; i++) { c10[i] = 0.9; k10[i] = i != 3; }
    CU_ASSERT_DOUBLE_EQUAL(xb_ece(c10, k10, 10, 10), 0.0, 1e-15);
    /* over-confident: 0.8 and all four wrong -> 0.8; under-confident, all right -> 0.2 */
    const double c4[4] = { 0.8, 0.8, 0.8, 0.8 };
    const unsigned char none[4] = { 0, 0, 0, 0 }, all[4] = { 1, 1, 1, 1 };
    CU_ASSERT_DOUBLE_EQUAL(xb_ece(c4, none, 4, 15), 0.8, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(xb_ece(c4, all, 4, 15), 0.2, 1e-15);
    /* two bins of 4: (0.25: 1 of 2 right) -> |0.5 - 0.25| * 2/4 = 0.125;
     * (0.75: 0 of 2 right) -> 0.75 * 2/4 = 0.375; ECE = 0.5 */
    const double c[4] = { 0.25, 0.25, 0.75, 0.75 };
    const unsigned char ok[4] = { 1, 0, 0, 0 };
    CU_ASSERT_DOUBLE_EQUAL(xb_ece(c, ok, 4, 4), 0.5, 1e-15);
    /* one bin: |1/4 - 0.5| = 0.25 (gaps of opposite sign cancel inside a bin) */
    CU_ASSERT_DOUBLE_EQUAL(xb_ece(c, ok, 4, 1), 0.25, 1e-15);
    /* confidence 1 falls in the last bin; 0 in the first */
    const double ce[2] = { 1.0, 0.0 };
    const unsigned char oe[2] = { 1, 0 };
    CU_ASSERT_DOUBLE_EQUAL(xb_ece(ce, oe, 2, 10), 0.0, 1e-15);
    /* bin edges: 0.5 with 2 bins goes to the upper bin, with 0.3 alone in the lower:
     * (0.3 right: 0.7 * 1/3) + (0.5, 0.5 both right: 0.5 * 2/3) = 0.5667 */
    const double cb[3] = { 0.3, 0.5, 0.5 };
    const unsigned char ob[3] = { 1, 1, 1 };
    CU_ASSERT_DOUBLE_EQUAL(xb_ece(cb, ob, 3, 2), 0.7 / 3 + 1.0 / 3, 1e-15);
    CU_ASSERT(isnan(xb_ece(cb, ob, 0, 2)) && isnan(xb_ece(cb, ob, 3, 0)));
}

XB_SUITE(bayes_eval, XB_TEST(test_ece_hand_cases))
