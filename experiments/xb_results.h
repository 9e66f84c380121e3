/* experiments/xb_results.h: a sweep's index and its merged results.csv.
 *
 * DIR/runs.csv lists the whole expansion (every shard writes the same file):
 *     index,run_id,<one column per swept key, named section.key>
 * DIR/results.csv is rebuilt (temp + rename) from the finished runs only: columns
 *     run_id, <swept keys>, status, error, <the runs' own columns>
 * with rows in expansion order (then the run's own row order). status is ok or failed;
 * a failed run contributes the rows it wrote, or one row with empty run columns. The
 * runs' own columns are the union of their results.csv headers in first-seen order.
 * Since a run enters only through its `done` marker and each run id once, merging after
 * a kill, a resume, or over the directories of several shards gives the same rows as
 * one uninterrupted sweep. */
#ifndef XB_RESULTS_H
#define XB_RESULTS_H

#include <stddef.h>

#include "core/xb_err.h"
#include "experiments/xb_sweep.h"

/* Write DIR/runs.csv; ids[k] is the id of run k (s->nruns of them). */
xb_status xb_results_write_index(const char *dir, const xb_sweep *s, char (*ids)[XB_RUN_ID_LEN + 1],
                                 xb_err *err);

typedef struct xb_merge_stats {
    size_t runs;            /* distinct runs listed by the directories' runs.csv */
    size_t ok, failed;      /* finished runs */
    size_t missing;         /* not finished (no done marker in any directory) */
    size_t rows;            /* data rows written */
} xb_merge_stats;

/* Merge the finished runs of one or more sweep directories (shards of one sweep) into
 * `out`. All runs.csv must name the same swept keys. ms may be NULL. Merges into one
 * `out` are serialised by an fcntl lock on dirs[0]/merge.lock, taken before the markers are
 * read: of two sweeps sharing a directory, the one that merges last has seen every run
 * the other finished, so an older, shorter results.csv never replaces a newer one. */
xb_status xb_results_merge(const char *const *dirs, size_t ndirs, const char *out,
                           xb_merge_stats *ms, xb_err *err);

#endif
