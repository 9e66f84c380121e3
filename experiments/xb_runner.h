/* experiments/xb_runner.h: runs of a sweep as child processes, and their files.
 *
 * Each run is one child process, `CMD... run DIR/runs/<id>/config.ini --out DIR/runs/<id>`
 * (CMD is normally this binary, /proc/self/exe): a crash, a NaN or an abort takes down
 * one run, never the sweep. Layout of a run directory, written in this order:
 *     lock          held (fcntl write lock) by the sweep process running the run: two
 *                   sweeps sharing a directory never run one run twice at once
 *     config.ini    the resolved config (temp + rename, by the runner)
 *     stdout.log, stderr.log   the child's output
 *     results.csv, run.json    written by the child (`xbemu run` writes them atomically)
 *     done          status of the finished run, written last, atomically (temp, fsync,
 *                   rename, fsync of the directory) by the runner once the child exited:
 *                       status=ok|failed  exit=N (-S: killed by signal S)
 *                       seconds=T  error=<one line>
 * A run is finished iff `done` exists. The runner skips finished runs (failed ones too,
 * unless retry_failed), and clears a run directory without `done` before starting it
 * again, so `kill -9` of the sweep at any moment loses no finished run and a resumed
 * sweep leaves no duplicate. Children die with the sweep (PR_SET_PDEATHSIG): no orphan
 * writes into a directory that a resumed sweep is reusing.
 *
 * A run fails if the child exits non-zero or by a signal, writes no readable
 * results.csv, or writes NaN into it; error is then the reason (for a non-zero exit the
 * last line of stderr.log).
 *
 * Each child leads its own process group; stopping (SIGTERM) and timeouts (SIGKILL) are
 * sent to the group, so a run's own children go too.
 *
 * Parallelism: `jobs` children at a time, each with OMP_NUM_THREADS and
 * OPENBLAS_NUM_THREADS = `threads` in its environment. Not thread-safe: call from one
 * thread of a process that has no other children (waitpid(-1) reaps any child). */
#ifndef XB_RUNNER_H
#define XB_RUNNER_H

#include <signal.h>
#include <stddef.h>

#include "core/xb_err.h"
#include "experiments/xb_sweep.h"

typedef struct xb_run {
    size_t index;                       /* position in the sweep's expansion */
    char id[XB_RUN_ID_LEN + 1];
    const char *ini;                    /* resolved config text (borrowed) */
} xb_run;

typedef enum { XB_RUN_PENDING = 0, XB_RUN_OK, XB_RUN_FAILED } xb_run_state;

typedef struct xb_run_status {
    xb_run_state state;
    int exit_code;                      /* child exit status; -S if killed by signal S */
    int skipped;                        /* already finished before this call */
    double seconds;                     /* wall time of the child */
    char error[400];                    /* one line; "" when ok */
} xb_run_status;

typedef struct xb_runner_event {
    size_t total, finished, failed, skipped, running;   /* finished includes skipped */
    double elapsed;                     /* seconds since xb_runner_run started */
    double eta;                         /* seconds; < 0 when unknown */
    const xb_run *run;                  /* the run that just finished or was skipped */
    const xb_run_status *status;
} xb_runner_event;

typedef struct xb_runner_opts {
    const char *dir;                    /* sweep directory; runs go to dir/runs/<id>/ */
    const char *const *cmd;             /* argv prefix (cmd[0] a path), NULL-terminated */
    int jobs;                           /* children at a time, >= 1 */
    int threads;                        /* OpenMP/BLAS threads per child, >= 1 */
    int retry_failed;                   /* rerun runs whose done says failed */
    double timeout;                     /* > 0: SIGKILL a run after this many seconds
                                           (it fails: "timed out after T s") */
    /* Work source: next index into runs[], or -1 when there is none left. NULL: every
     * run in order. (The MPI mode asks rank 0 here.) */
    long (*next)(void *ctx);
    void *next_ctx;
    void (*progress)(void *ctx, const xb_runner_event *ev);  /* may be NULL */
    void *progress_ctx;
    volatile sig_atomic_t *stop;        /* may be NULL; when set, start nothing more and
                                           SIGTERM running children (left unfinished) */
} xb_runner_opts;

/* Run (or skip) runs[0..n) as the options say; status[k] is filled for every run
 * handed out (XB_RUN_PENDING for the rest). Returns XB_OK even if runs failed (see
 * status); an error only when the sweep itself cannot go on (cannot fork, directory
 * not writable), XB_EINTR when stopped. */
xb_status xb_runner_run(const xb_runner_opts *o, const xb_run *runs, size_t n,
                        xb_run_status *status, xb_err *err);

/* Read DIR/runs/<id>/done: 1 and *st filled if the run is finished, 0 if not. */
int xb_run_read_done(const char *dir, const char *id, xb_run_status *st);

/* Write data to path atomically and durably: path.tmp.<pid>, fsync, rename, fsync of the
 * directory (xb_write_atomic of experiments/xb_run.h does not fsync). */
xb_status xb_runner_write_atomic(const char *path, const char *data, size_t len, xb_err *err);
/* mkdir -p. */
xb_status xb_mkdirs(const char *path, xb_err *err);

#endif
