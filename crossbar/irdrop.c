/* crossbar/irdrop.c: nodal analysis of a crossbar with resistive word and bit lines
 * (topology in xb_irdrop.h).
 *
 * Unknowns x = [u; v], u(i,j) row-line node voltages and v(i,j) column-line node
 * voltages, index i * cols + j in each half. With gr = 1/r_row, gc = 1/r_col, KCL:
 *   row node:  (gr (1 + [j < C-1]) + G_ij) u_ij - gr u_i,j-1 [j > 0] - gr u_i,j+1 [j < C-1]
 *              - G_ij v_ij = gr V_i [j == 0]
 *   col node:  (gc (1 + [i > 0]) + G_ij) v_ij - gc v_i-1,j [i > 0] - gc v_i+1,j [i < R-1]
 *              - G_ij u_ij = 0                       (v_R,j = 0: the sense amplifier)
 *   output:    I_j = gc v_R-1,j
 * The matrix is symmetric, diagonally dominant with Dirichlet ends: SPD.
 *
 * Block Jacobi preconditioner: M = diag(row-line tridiagonals, column-line
 * tridiagonals), the matrix without the device couplings -G between u and v. Each
 * tridiagonal is factorised once per solve (Thomas); M^-1 costs ~10 flops per node.
 * Since a device conducts far less than a wire segment (G r << 1), M^-1 A is close to
 * the identity and PCG converges in a few iterations; the contraction per iteration
 * is about (G R_line)^2 with R_line the line resistance to the driver.
 *
 * Zero wire resistance: r_row = 0 pins u = V (row lines are ideal), r_col = 0 pins
 * v = 0; the remaining unknowns are solved exactly line by line, and with both zero
 * I = G^T V exactly (in double).
 *
 * Direct reference: the same system, banded Cholesky (GSL), nodes ordered along the
 * shorter side so the half-bandwidth is 2 min(R, C). Memory 8 N (2 min(R,C) + 1) bytes,
 * N = 2 R C: fine up to 256 x 256 (0.5 GB), 4.3 GB at 512 x 512. */
#include "crossbar/xb_irdrop.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "core/xb_mem.h"

struct xb_ir_work {
    size_t rows, cols, cap;          /* cap: nodes per half allocated */
    size_t last_rows, last_cols;     /* shape of the kept solution (0: none) */
    double *x;                       /* [u; v], 2 cap */
    double *r, *z, *p, *q;           /* PCG vectors, 2 cap each */
    double *cu, *du, *cv, *dv;       /* Thomas factors: row lines, column lines */
    double *G, *V;                   /* double copies of the inputs */
};

void xb_ir_work_free(xb_ir_work *w)
{
    if (!w) return;
    xb_free(w->x); xb_free(w->r); xb_free(w->z); xb_free(w->p); xb_free(w->q);
    xb_free(w->cu); xb_free(w->du); xb_free(w->cv); xb_free(w->dv);
    xb_free(w->G); xb_free(w->V);
    xb_free(w);
}

xb_status xb_ir_work_alloc(xb_ir_work **out, size_t rows, size_t cols, xb_err *err)
{
    *out = NULL;
    const size_t n = rows * cols;
    xb_ir_work *w = xb_calloc(1, sizeof *w);
    if (w && (w->x = xb_calloc(2 * n, sizeof(double))) && (w->r = xb_calloc(2 * n, sizeof(double)))
        && (w->z = xb_calloc(2 * n, sizeof(double))) && (w->p = xb_calloc(2 * n, sizeof(double)))
        && (w->q = xb_calloc(2 * n, sizeof(double))) && (w->cu = xb_calloc(n, sizeof(double)))
        && (w->du = xb_calloc(n, sizeof(double))) && (w->cv = xb_calloc(n, sizeof(double)))
        && (w->dv = xb_calloc(n, sizeof(double))) && (w->G = xb_calloc(n, sizeof(double)))
        && (w->V = xb_calloc(rows, sizeof(double)))) {
        w->rows = rows;
        w->cols = cols;
        w->cap = n;
        *out = w;
        return XB_OK;
    }
    xb_ir_work_free(w);
    return xb_fail(err, XB_ENOMEM, "IR-drop workspace %zux%zu: out of memory", rows, cols);
}

const double *xb_ir_nodes(const xb_ir_work *w) { return w->x; }

xb_ir_opts xb_ir_defaults(void)
{
    const xb_ir_opts o = { .solver = XB_IR_PCG, .r_row = 1.0, .r_col = 1.0, .tol = 1e-12,
                           .max_iter = 10000, .omega = 1.0 };
    return o;
}

/* y = A x (the full nodal matrix; pinned halves are skipped by the callers). */
static void apply_A(const xb_ir_work *w, double gr, double gc, const double *x, double *y)
{
    const size_t R = w->rows, C = w->cols, n = R * C;
    const double *G = w->G, *u = x, *v = x + n;
    double *yu = y, *yv = y + n;
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) {
            const size_t k = i * C + j;
            double s = (gr * (1.0 + (j + 1 < C)) + G[k]) * u[k] - G[k] * v[k];
            if (j > 0) s -= gr * u[k - 1];
            if (j + 1 < C) s -= gr * u[k + 1];
            yu[k] = s;
        }
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) {
            const size_t k = i * C + j;
            double s = (gc * (1.0 + (i > 0)) + G[k]) * v[k] - G[k] * u[k];
            if (i > 0) s -= gc * v[k - C];
            if (i + 1 < R) s -= gc * v[k + C];
            yv[k] = s;
        }
}

/* Thomas factors of the line tridiagonals: for a line with diagonal a_t and constant
 * off-diagonal -g, d_t = 1 / (a_t - g c_{t-1}), c_t = -g d_t. */
static void factor_lines(xb_ir_work *w, double gr, double gc)
{
    const size_t R = w->rows, C = w->cols;
    for (size_t i = 0; i < R; i++) {
        double cprev = 0.0;
        for (size_t j = 0; j < C; j++) {
            const size_t k = i * C + j;
            const double a = gr * (1.0 + (j + 1 < C)) + w->G[k];
            const double d = 1.0 / (a + gr * cprev);       /* a - (-gr) c_prev, c = -gr d */
            w->du[k] = d;
            w->cu[k] = cprev = -gr * d;
        }
    }
    for (size_t j = 0; j < C; j++) {
        double cprev = 0.0;
        for (size_t i = 0; i < R; i++) {
            const size_t k = i * C + j;
            const double a = gc * (1.0 + (i > 0)) + w->G[k];
            const double d = 1.0 / (a + gc * cprev);
            w->dv[k] = d;
            w->cv[k] = cprev = -gc * d;
        }
    }
}

/* z = M^-1 r, line by line: forward sweep y_t = (r_t + g y_{t-1}) d_t, back sweep
 * z_t = y_t - c_t z_{t+1}. */
static void solve_row_line(const xb_ir_work *w, double gr, size_t i, const double *r, double *z)
{
    const size_t C = w->cols, o = i * C;
    double y = 0.0;
    for (size_t j = 0; j < C; j++) z[o + j] = y = (r[o + j] + gr * y) * w->du[o + j];
    for (size_t j = C - 1; j-- > 0;) z[o + j] -= w->cu[o + j] * z[o + j + 1];
}

static void solve_col_line(const xb_ir_work *w, double gc, size_t j, const double *r, double *z)
{
    const size_t R = w->rows, C = w->cols;
    double y = 0.0;
    for (size_t i = 0; i < R; i++) z[i * C + j] = y = (r[i * C + j] + gc * y) * w->dv[i * C + j];
    for (size_t i = R - 1; i-- > 0;) z[i * C + j] -= w->cv[i * C + j] * z[(i + 1) * C + j];
}

static void apply_M_inv(const xb_ir_work *w, double gr, double gc, const double *r, double *z)
{
    const size_t n = w->rows * w->cols;
    for (size_t i = 0; i < w->rows; i++) solve_row_line(w, gr, i, r, z);
    for (size_t j = 0; j < w->cols; j++) solve_col_line(w, gc, j, r + n, z + n);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

static void rhs(const xb_ir_work *w, double gr, double *b)
{
    const size_t n = w->rows * w->cols;
    memset(b, 0, 2 * n * sizeof *b);
    for (size_t i = 0; i < w->rows; i++) b[i * w->cols] = gr * w->V[i];
}

/* PCG on the full system; convergence measured in the M^-1 norm of the residual,
 * relative to that of b, which weighs row and column equations by their own line
 * scales. */
static int pcg(xb_ir_work *w, double gr, double gc, const xb_ir_opts *o, double *resid)
{
    const size_t N = 2 * w->rows * w->cols;
    double *x = w->x, *r = w->r, *z = w->z, *p = w->p, *q = w->q;
    rhs(w, gr, q);
    apply_M_inv(w, gr, gc, q, z);
    const double bnorm = sqrt(fabs(dot(q, z, N)));
    apply_A(w, gr, gc, x, r);
    for (size_t k = 0; k < N; k++) r[k] = q[k] - r[k];
    apply_M_inv(w, gr, gc, r, z);
    memcpy(p, z, N * sizeof *p);
    double rz = dot(r, z, N);
    int it = 0;
    while (sqrt(fabs(rz)) > o->tol * bnorm && it < o->max_iter) {
        apply_A(w, gr, gc, p, q);
        const double alpha = rz / dot(p, q, N);
        for (size_t k = 0; k < N; k++) { x[k] += alpha * p[k]; r[k] -= alpha * q[k]; }
        apply_M_inv(w, gr, gc, r, z);
        const double rz1 = dot(r, z, N);
        const double beta = rz1 / rz;
        rz = rz1;
        for (size_t k = 0; k < N; k++) p[k] = z[k] + beta * p[k];
        it++;
    }
    *resid = bnorm > 0 ? sqrt(fabs(rz)) / bnorm : 0.0;
    return it;
}

/* Line SOR: solve every row line with v fixed, then every column line with u fixed,
 * relaxing by omega; the residual (M^-1 norm) is checked after each sweep. */
static int sor(xb_ir_work *w, double gr, double gc, const xb_ir_opts *o, double *resid)
{
    const size_t R = w->rows, C = w->cols, n = R * C, N = 2 * n;
    double *x = w->x, *t = w->r, *z = w->z, *b = w->p, *q = w->q;
    rhs(w, gr, b);
    apply_M_inv(w, gr, gc, b, z);
    const double bnorm = sqrt(fabs(dot(b, z, N)));
    int it = 0;
    for (;;) {
        apply_A(w, gr, gc, x, q);
        for (size_t k = 0; k < N; k++) q[k] = b[k] - q[k];
        apply_M_inv(w, gr, gc, q, z);
        *resid = bnorm > 0 ? sqrt(fabs(dot(q, z, N))) / bnorm : 0.0;
        if (*resid <= o->tol || it >= o->max_iter) break;
        for (size_t k = 0; k < n; k++) t[k] = b[k] + w->G[k] * x[n + k];   /* u lines */
        for (size_t i = 0; i < R; i++) solve_row_line(w, gr, i, t, z);
        for (size_t k = 0; k < n; k++) x[k] += o->omega * (z[k] - x[k]);
        for (size_t k = 0; k < n; k++) t[k] = w->G[k] * x[k];              /* v lines */
        for (size_t j = 0; j < C; j++) solve_col_line(w, gc, j, t, z);
        for (size_t k = 0; k < n; k++) x[n + k] += o->omega * (z[k] - x[n + k]);
        it++;
    }
    return it;
}

/* Banded Cholesky of the same matrix. Node order: along rows when C <= R
 * (index 2 (i C + j) + t), else along columns (2 (j R + i) + t); t = 0 u, 1 v. */
static xb_status direct(xb_ir_work *w, double gr, double gc, xb_err *err)
{
    const size_t R = w->rows, C = w->cols, n = R * C, N = 2 * n;
    const int by_row = C <= R;
    size_t p = 2 * (by_row ? C : R);
    if (p > N - 1) p = N - 1;                       /* tiny arrays: the band is the matrix */
    gsl_matrix *A = gsl_matrix_calloc(N, p + 1);
    gsl_vector *b = gsl_vector_calloc(N), *x = gsl_vector_alloc(N);
    if (!A || !b || !x) {
        if (A) gsl_matrix_free(A);
        if (b) gsl_vector_free(b);
        if (x) gsl_vector_free(x);
        return xb_fail(err, XB_ENOMEM, "IR-drop direct solve %zux%zu: out of memory (%.3g GB)",
                       R, C, 8.0 * N * (p + 1) / 1e9);
    }
#define IDX(i, j, t) (by_row ? 2 * ((i) * C + (j)) + (t) : 2 * ((j) * R + (i)) + (t))
    /* lower band: A(m, k) holds the entry at (m + k, m) */
#define PUT(a, c, val) do { size_t a_ = (a), c_ = (c); if (a_ < c_) { size_t s_ = a_; a_ = c_; c_ = s_; } \
                            gsl_matrix_set(A, c_, a_ - c_, gsl_matrix_get(A, c_, a_ - c_) + (val)); } while (0)
    for (size_t i = 0; i < R; i++)
        for (size_t j = 0; j < C; j++) {
            const size_t k = i * C + j, iu = IDX(i, j, 0), iv = IDX(i, j, 1);
            PUT(iu, iu, gr * (1.0 + (j + 1 < C)) + w->G[k]);
            PUT(iv, iv, gc * (1.0 + (i > 0)) + w->G[k]);
            PUT(iu, iv, -w->G[k]);
            if (j + 1 < C) PUT(iu, IDX(i, j + 1, 0), -gr);
            if (i + 1 < R) PUT(iv, IDX(i + 1, j, 1), -gc);
        }
    for (size_t i = 0; i < R; i++) gsl_vector_set(b, IDX(i, 0, 0), gr * w->V[i]);
    int s = gsl_linalg_cholesky_band_decomp(A);
    if (!s) s = gsl_linalg_cholesky_band_solve(A, b, x);
    if (!s)
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < C; j++) {
                w->x[i * C + j] = gsl_vector_get(x, IDX(i, j, 0));
                w->x[n + i * C + j] = gsl_vector_get(x, IDX(i, j, 1));
            }
#undef PUT
#undef IDX
    gsl_matrix_free(A);
    gsl_vector_free(b);
    gsl_vector_free(x);
    return s ? xb_gsl_status(err, s, "IR-drop direct solve") : XB_OK;
}

xb_status xb_ir_solve(xb_ir_work *w, const float *G, const float *V, size_t rows,
                      size_t cols, const xb_ir_opts *o, int warm, double *Iout,
                      xb_ir_result *res, xb_err *err)
{
    if (rows * cols > w->cap || rows == 0 || cols == 0)
        return xb_fail(err, XB_EINVAL, "IR-drop solve %zux%zu: workspace holds %zu nodes",
                       rows, cols, w->cap);
    if (!(o->r_row >= 0) || !(o->r_col >= 0) || !isfinite(o->r_row) || !isfinite(o->r_col))
        return xb_fail(err, XB_ERANGE, "IR drop: r_row = %g, r_col = %g ohm must be >= 0",
                       o->r_row, o->r_col);
    if (o->solver == XB_IR_SOR && !(o->omega > 0 && o->omega < 2))
        return xb_fail(err, XB_ERANGE, "IR drop: omega = %g is outside (0, 2)", o->omega);
    const size_t R = rows, C = cols, n = R * C;
    const int same = w->last_rows == R && w->last_cols == C;
    w->rows = R;
    w->cols = C;
    for (size_t k = 0; k < n; k++) w->G[k] = G[k];
    for (size_t i = 0; i < R; i++) w->V[i] = V[i];
    double *u = w->x, *v = w->x + n;
    if (!warm || !same)                                   /* the ideal solution */
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < C; j++) { u[i * C + j] = w->V[i]; v[i * C + j] = 0.0; }
    xb_ir_result r = { 0, 0.0, 0.0, 0.0 };
    xb_status st = XB_OK;
    const double gr = o->r_row > 0 ? 1.0 / o->r_row : INFINITY;
    const double gc = o->r_col > 0 ? 1.0 / o->r_col : INFINITY;
    if (o->r_row == 0 || o->r_col == 0) {
        /* Ideal lines pin one half; the other half is a set of independent lines. */
        if (o->r_row == 0 && o->r_col == 0) {
            /* u = V, v = 0 already */
        } else if (o->r_row == 0) {
            double *t = w->r;
            factor_lines(w, 1.0, gc);                      /* gr unused on columns */
            for (size_t k = 0; k < n; k++) t[k] = w->G[k] * u[k];
            for (size_t j = 0; j < C; j++) solve_col_line(w, gc, j, t, v);
        } else {
            double *t = w->r;
            factor_lines(w, gr, 1.0);
            memset(t, 0, n * sizeof *t);
            for (size_t i = 0; i < R; i++) t[i * C] = gr * w->V[i];
            memset(v, 0, n * sizeof *v);
            for (size_t i = 0; i < R; i++) solve_row_line(w, gr, i, t, u);
        }
    } else if (o->solver == XB_IR_DIRECT) {
        st = direct(w, gr, gc, err);
    } else {
        factor_lines(w, gr, gc);
        r.iterations = o->solver == XB_IR_SOR ? sor(w, gr, gc, o, &r.residual)
                                              : pcg(w, gr, gc, o, &r.residual);
        if (r.residual > o->tol)
            st = xb_fail(err, XB_ENUMERIC,
                         "IR-drop %s solve %zux%zu: residual %.3g above tol %.3g after %d iterations",
                         o->solver == XB_IR_SOR ? "SOR" : "PCG", R, C, r.residual, o->tol,
                         r.iterations);
    }
    /* Outputs and powers from the node voltages. */
    for (size_t j = 0; j < C; j++) {
        if (o->r_col == 0) {                          /* all device current reaches the amp */
            double s = 0.0;
            for (size_t i = 0; i < R; i++) s += w->G[i * C + j] * u[i * C + j];
            Iout[j] = s;
        } else {
            Iout[j] = gc * v[(R - 1) * C + j];
        }
    }
    for (size_t k = 0; k < n; k++) {
        const double d = u[k] - v[k];
        r.p_device += w->G[k] * d * d;
    }
    if (o->r_row > 0)
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < C; j++) {
                const double a = j ? u[i * C + j - 1] : w->V[i], d = a - u[i * C + j];
                r.p_wire += gr * d * d;
            }
    if (o->r_col > 0)
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < C; j++) {
                const double b = i + 1 < R ? v[(i + 1) * C + j] : 0.0, d = v[i * C + j] - b;
                r.p_wire += gc * d * d;
            }
    w->last_rows = R;
    w->last_cols = C;
    if (res) *res = r;
    return st;
}
