/* tests/fuzz/fuzz_calib_reader.c: libFuzzer target for the measured-data readers
 * (calibration/meas.c). The first byte picks the layout and the column mapping, the
 * rest is the file. Build: make build/fuzz/fuzz_calib_reader (the fuzz rule links core/
 * only, so the reader's source is included here).
 *   build/fuzz/fuzz_calib_reader -runs=100000 build/fuzz/corpus_calib tests/fuzz/seeds_calib */
#include <stddef.h>
#include <stdint.h>

#include "calibration/meas.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const formats[] = { "csv", "taox", "lut", "mtj", "relax", NULL, "pulses", "bake" };
    static const char *const columns[] = { NULL, "pulse=0,conductance=1", "conductance=G,dir=2",
                                           "time=0,conductance=1,g0=2", "width=0,probability=1" };
    static const xb_meas_kind kinds[] = { XB_MEAS_RAMPS, XB_MEAS_PSW, XB_MEAS_RELAX };
    if (size < 1) return 0;
    const uint8_t sel = data[0];
    xb_meas_opts o = XB_MEAS_OPTS_DEFAULT;
    o.format = formats[sel % 6 == 5 && (sel & 0x40) ? 6 + (sel & 0x20 ? 1 : 0) : sel % 6];
    o.columns = columns[(sel / 6) % 5];
    o.units = sel & 0x80 ? "conductance=mS,width=ns" : NULL;
    xb_measurement *m = NULL;
    xb_err err = { 0 };
    if (xb_meas_parse((const char *)data + 1, size - 1, "fuzz", kinds[(sel / 30) % 3], &o, &m,
                      &err) == XB_OK)
        xb_meas_free(m);
    return 0;
}
