/* core/xb_par.h: the one place that decides thread counts (STYLE.md section 8).
 *
 * Threads decide who computes a row, never what the row computes: kernels draw their
 * random numbers from counter-based streams and sum per-row partials serially, so any
 * thread count gives the same bits. OpenMP appears only in crossbar/ row loops and in
 * the sweep runner; both ask xb_par_threads how many threads to use. */
#ifndef XB_PAR_H
#define XB_PAR_H

#include <stddef.h>

/* Threads for a row loop over a rows x cols array: 1 for small arrays (below ~64k
 * devices the fork/join costs more than it saves), else the budget. */
int xb_par_threads(size_t rows, size_t cols);
/* The per-run thread budget: omp_get_max_threads() unless set by xb_par_set_budget
 * (the sweep runner gives each of P workers max(1, T/P)). */
int xb_par_budget(void);
void xb_par_set_budget(int nthreads);          /* <= 0 restores the default */
/* Test hook: force every row loop to use exactly n threads (0 = off), whatever the
 * array size, so that tests can compare 1, 2 and 7 threads on small arrays. */
void xb_par_force(int n);
/* Set the BLAS thread count (OpenBLAS); returns the count in effect. */
int xb_par_blas_threads(int n);
/* Text describing the BLAS library (OpenBLAS config string). */
const char *xb_par_blas_info(void);

#endif
