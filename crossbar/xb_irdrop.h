/* crossbar/xb_irdrop.h: column currents of a crossbar with resistive wires.
 *
 * Topology (the one `xbemu crossbar irdrop` and crossbar/irdrop_ngspice.sh use):
 *   - row i is driven by an ideal source V_i at its left end, through r_row to the
 *     first cross-point node u(i,0), and r_row between adjacent nodes u(i,j)-u(i,j+1);
 *     the right end is open;
 *   - device (i, j) of conductance G_ij joins the row node u(i,j) to the column node
 *     v(i,j);
 *   - column j runs through r_col between adjacent nodes v(i,j)-v(i+1,j), and from the
 *     last node v(rows-1,j) through r_col into a virtual-ground (0 V) sense amplifier;
 *     the output is that current, I_j = v(rows-1,j) / r_col.
 * Kirchhoff's current law at the 2 rows cols nodes gives an SPD system A x = b (A a
 * weighted graph Laplacian with the sources and the virtual grounds as Dirichlet ends).
 * With r_row = r_col = 0 it reduces to I = G^T V.
 *
 * Solvers: PCG preconditioned by the exact inverse of the row-line and column-line
 * tridiagonal blocks (block Jacobi), warm-started from the given state or from the
 * ideal solution (u = V, v = 0); SOR with line relaxation; and a direct banded
 * Cholesky of the same system (GSL), the reference for tests and M5. */
#ifndef XB_IRDROP_H
#define XB_IRDROP_H

#include <stddef.h>

#include "core/xb_err.h"

typedef enum { XB_IR_PCG = 0, XB_IR_SOR, XB_IR_DIRECT } xb_ir_solver;

typedef struct xb_ir_opts {
    xb_ir_solver solver;
    double r_row, r_col;     /* ohm per wire segment, >= 0 */
    double tol;              /* relative residual ||b - A x|| / ||b|| to stop at */
    int max_iter;
    double omega;            /* SOR relaxation factor in (0, 2) */
} xb_ir_opts;

typedef struct xb_ir_result {
    int iterations;
    double residual;         /* final relative residual */
    double p_wire;           /* power dissipated in the wires (W) */
    double p_device;         /* power dissipated in the devices (W) */
} xb_ir_result;

/* Workspace for repeated solves on arrays up to rows x cols; keeps the last node
 * voltages for warm starts. */
typedef struct xb_ir_work xb_ir_work;
xb_status xb_ir_work_alloc(xb_ir_work **out, size_t rows, size_t cols, xb_err *err);
void xb_ir_work_free(xb_ir_work *w);

/* Column currents I (cols, A) of conductances G (rows x cols, row-major, S) driven by
 * V (rows, V). Inputs are float; the solve runs in double.
 * Warm start from w's last solution when warm != 0 and the shape matches.
 * Iout gets the currents. XB_ENUMERIC if the solver misses tol in max_iter. Node voltages, if wanted,
 * are in xb_ir_nodes after the call (u: rows x cols, then v: rows x cols). */
xb_status xb_ir_solve(xb_ir_work *w, const float *G, const float *V, size_t rows,
                      size_t cols, const xb_ir_opts *o, int warm, double *Iout,
                      xb_ir_result *res, xb_err *err);
const double *xb_ir_nodes(const xb_ir_work *w);

/* Defaults: PCG, r = 1 ohm, tol 1e-10, max_iter 10000, omega 1.5. */
xb_ir_opts xb_ir_defaults(void);

#endif
