/* cli/sections.c: the list of config sections (each owned by its module). */
#include "cli/xb_sections.h"
#include "core/xb_dataset.h"
#include "crossbar/xb_layer.h"
#include "devices/xb_device.h"
#include "experiments/xb_eval.h"
#include "experiments/xb_run.h"
#include "training/xb_meta_bnn.h"
#include "training/xb_trainer.h"

const xb_section *const xb_cli_sections[] = {
    &xb_section_data,
    &xb_section_device_common,
    &xb_section_crossbar, &xb_section_energy,
    &xb_section_run, &xb_section_net, &xb_section_train,
    &xb_section_eval,
    &xb_section_bits,
    NULL,
};

const char *const xb_cli_section_names[] = { "data", "device", "sweep", "crossbar", "energy",
                                             "run", "net", "train", "eval", "bits", NULL };
