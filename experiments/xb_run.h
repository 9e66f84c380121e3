/* experiments/xb_run.h: one experiment, end to end: config -> task stream -> trainer ->
 * evaluation after every epoch (and every eval_every samples) of every task on every
 * task seen so far -> DIR/results.csv and DIR/run.json.
 *
 * results.csv is tidy: one row per (evaluation point, evaluated task), columns
 *   run, algorithm, device, dataset, tasks, layers, activation, lr, batch, epochs, seed,
 *   <the trainer's own [train] keys>, task, eval_task, epoch, samples_seen, accuracy,
 *   train_accuracy, <the xb_energy columns: e_read_J ... e_total_J, n_read ... n_clipped>,
 *   energy_total_J, energy_per_sample_J, train_s, train_cpu_s, wall_s
 * where task is the task being trained (1-based), eval_task the task evaluated,
 * samples_seen the training samples so far (all tasks), train_accuracy the running
 * accuracy of the training forward passes since the epoch began, energy the training
 * energy so far (evaluation is not booked), train_s the seconds spent in training
 * steps (no evaluation), train_cpu_s the CPU seconds of those steps (all threads; on a
 * shared machine train_s / train_cpu_s shows how much of the time was ours), wall_s the
 * seconds since the run began.
 * Both files are rewritten whole after each evaluation, through a temporary file and
 * rename(2), so an interrupted run leaves complete files with what was measured. */
#ifndef XB_RUN_H
#define XB_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "core/xb_err.h"
#include "core/xb_param.h"

struct xb_config;

enum { XB_RUN_SEED, XB_RUN_THREADS, XB_RUN_OUT, XB_RUN_NAME, XB_RUN_EVAL_EVERY,
       XB_RUN_PROGRESS, XB_RUN_NPARAMS };
enum { XB_PROGRESS_AUTO, XB_PROGRESS_TTY, XB_PROGRESS_LINES, XB_PROGRESS_OFF };
extern const xb_section xb_section_run;

typedef struct xb_run_opts {
    const char *out_dir;                 /* overrides [run] out (NULL: use the config) */
    volatile sig_atomic_t *stop;         /* set to non-zero to stop after this sample */
    FILE *progress;                      /* progress lines (stderr), or NULL */
} xb_run_opts;

typedef struct xb_run_summary {
    char out_dir[1024];
    size_t samples, tasks;
    double accuracy;                     /* mean over tasks of the last evaluation */
    double energy_J, energy_per_sample_J;
    double train_s, wall_s;
    int interrupted;
} xb_run_summary;

/* Run the experiment of config c. On XB_EINTR (stopped by *opts->stop) the files hold
 * every evaluation made so far, plus one made at the stop. */
xb_status xb_run(const struct xb_config *c, const xb_run_opts *opts, xb_run_summary *sum,
                 xb_err *err);

/* Write `len` bytes to path atomically (path.tmp.PID, fsync-free, rename). */
xb_status xb_write_atomic(const char *path, const char *text, size_t len, xb_err *err);

#endif
