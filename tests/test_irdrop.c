/* tests/test_irdrop.c: the IR-drop nodal solver against the ideal product, hand-derived
 * circuits, the direct GSL solve of the same system, and ngspice when installed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_rng.h"
#include "crossbar/xb_irdrop.h"
#include "tests/xb_test.h"

static void fill(size_t R, size_t C, float *G, float *V, uint32_t seed)
{
    const xb_rng r = xb_rng_for_row(seed, XB_RNG_TEST, 0, 0, 0);
    for (size_t k = 0; k < R * C; k++) G[k] = (float)(1e-6 + 99e-6 * xb_rng_uniform_d(&r, (uint32_t)k, 0));
    for (size_t i = 0; i < R; i++) V[i] = (float)(0.3 * xb_rng_uniform_d(&r, (uint32_t)i, 1));
}

static xb_status solve(size_t R, size_t C, const float *G, const float *V, xb_ir_solver s,
                       double rr, double rc, double *I, int *iters)
{
    xb_ir_work *w;
    xb_err err = { 0 };
    if (xb_ir_work_alloc(&w, R, C, &err)) return XB_ENOMEM;
    xb_ir_opts o = xb_ir_defaults();
    o.solver = s;
    o.r_row = rr;
    o.r_col = rc;
    xb_ir_result res;
    const xb_status st = xb_ir_solve(w, G, V, R, C, &o, 0, I, &res, &err);
    if (iters) *iters = res.iterations;
    xb_ir_work_free(w);
    return st;
}

static double max_rel(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t k = 0; k < n; k++) m = fmax(m, fabs(a[k] - b[k]) / fabs(b[k]));
    return m;
}

/* Zero wire resistance: I = G^T V exactly (double sums of float inputs). */
static void test_zero_wire_is_ideal(void)
{
    enum { R = 13, C = 9 };
    float G[R * C], V[R];
    double I[C];
    fill(R, C, G, V, 1);
    for (int s = 0; s < 2; s++) {
        CU_ASSERT_FATAL(solve(R, C, G, V, s ? XB_IR_SOR : XB_IR_PCG, 0, 0, I, NULL) == XB_OK);
        for (size_t j = 0; j < C; j++) {
            double ref = 0;
            for (size_t i = 0; i < R; i++) ref += (double)G[i * C + j] * V[i];
            CU_ASSERT(fabs(I[j] - ref) <= 1e-14 * ref);
        }
    }
}

/* One ideal wire set: r_row = 0 (or r_col = 0) solved line by line equals the general
 * solver with a vanishing resistance. */
static void test_one_ideal_wire_set(void)
{
    enum { R = 10, C = 12 };
    float G[R * C], V[R];
    double I0[C], I1[C];
    fill(R, C, G, V, 2);
    CU_ASSERT_FATAL(solve(R, C, G, V, XB_IR_PCG, 0, 3.0, I0, NULL) == XB_OK);
    CU_ASSERT_FATAL(solve(R, C, G, V, XB_IR_DIRECT, 1e-9, 3.0, I1, NULL) == XB_OK);
    CU_ASSERT(max_rel(I0, I1, C) < 1e-7);
    CU_ASSERT_FATAL(solve(R, C, G, V, XB_IR_PCG, 3.0, 0, I0, NULL) == XB_OK);
    CU_ASSERT_FATAL(solve(R, C, G, V, XB_IR_DIRECT, 3.0, 1e-9, I1, NULL) == XB_OK);
    CU_ASSERT(max_rel(I0, I1, C) < 1e-7);
}

/* Hand-derived circuits (r_row = a, r_col = b, distinct so swapped roles fail):
 *  1x1: I = V / (a + 1/g + b).
 *  2x2, G = [[g, 0], [g, 0]]: each row reaches v(i,0) through a + 1/g (conductance
 *   k = 1/(a + 1/g)); KCL at v00, v10 (with 1/b segments and v10 -> 0 through b):
 *     (k + 1/b) v00 - v10/b = k V1,   -v00/b + (k + 2/b) v10 = k V2
 *   I_0 = v10 / b (Cramer), I_1 = 0.
 *  2x2, G = [[g, g], [0, 0]]: each device sees 1/g + 2b to ground (m = 1/(1/g + 2b));
 *   KCL at u00, u01: (2/a + m) u00 - u01/a = V1/a, -u00/a + (1/a + m) u01 = 0,
 *   so u01 = u00 / (1 + a m), I_0 = m u00, I_1 = m u01. */
static void test_hand_derived(void)
{
    const double a = 2.0, b = 3.5, g = 1e-3, V1 = 0.3, V2 = 0.17;
    double I[2];
    {
        const float G[1] = { (float)g }, V[1] = { (float)V1 };
        const double gf = G[0], vf = V[0];
        for (int s = 0; s < 3; s++) {
            CU_ASSERT_FATAL(solve(1, 1, G, V, (xb_ir_solver)s, a, b, I, NULL) == XB_OK);
            CU_ASSERT(fabs(I[0] - vf / (a + 1 / gf + b)) <= 1e-9 * I[0]);
        }
    }
    {
        const float G[4] = { (float)g, 0, (float)g, 0 }, V[2] = { (float)V1, (float)V2 };
        const double k = 1 / (a + 1 / (double)G[0]), v1 = V[0], v2 = V[1];
        const double det = (k + 1 / b) * (k + 2 / b) - 1 / (b * b);
        const double v10 = ((k + 1 / b) * k * v2 + k * v1 / b) / det;
        for (int s = 0; s < 3; s++) {
            CU_ASSERT_FATAL(solve(2, 2, G, V, (xb_ir_solver)s, a, b, I, NULL) == XB_OK);
            CU_ASSERT(fabs(I[0] - v10 / b) <= 1e-9 * I[0]);
            CU_ASSERT(fabs(I[1]) <= 1e-15);
        }
    }
    {
        const float G[4] = { (float)g, (float)g, 0, 0 }, V[2] = { (float)V1, (float)V2 };
        const double m = 1 / (1 / (double)G[0] + 2 * b), v1 = V[0];
        const double u00 = (v1 / a) / ((2 / a + m) - 1 / (a * (1 + a * m)));
        const double u01 = u00 / (1 + a * m);
        for (int s = 0; s < 3; s++) {
            CU_ASSERT_FATAL(solve(2, 2, G, V, (xb_ir_solver)s, a, b, I, NULL) == XB_OK);
            CU_ASSERT(fabs(I[0] - m * u00) <= 1e-9 * I[0]);
            CU_ASSERT(fabs(I[1] - m * u01) <= 1e-9 * I[1]);
        }
    }
}

/* 16 x 16 (and a non-square case): PCG and SOR equal the direct banded Cholesky of the
 * same system within 1e-6 relative (they reach ~1e-10). */
static void test_iterative_matches_direct(void)
{
    const size_t shapes[3][2] = { { 16, 16 }, { 9, 23 }, { 31, 5 } };
    for (int q = 0; q < 3; q++) {
        const size_t R = shapes[q][0], C = shapes[q][1];
        float *G = malloc(R * C * sizeof *G), *V = malloc(R * sizeof *V);
        double *Id = malloc(C * sizeof *Id), *Ip = malloc(C * sizeof *Ip), *Is = malloc(C * sizeof *Is);
        fill(R, C, G, V, 3 + (uint32_t)q);
        int it;
        CU_ASSERT_FATAL(solve(R, C, G, V, XB_IR_DIRECT, 2.5, 1.5, Id, NULL) == XB_OK);
        CU_ASSERT_FATAL(solve(R, C, G, V, XB_IR_PCG, 2.5, 1.5, Ip, &it) == XB_OK);
        CU_ASSERT(it > 0 && it < 50);
        CU_ASSERT_FATAL(solve(R, C, G, V, XB_IR_SOR, 2.5, 1.5, Is, NULL) == XB_OK);
        CU_ASSERT(max_rel(Ip, Id, C) < 1e-6);
        CU_ASSERT(max_rel(Is, Id, C) < 1e-6);
        /* the wires matter: the drop is far above the tolerance */
        double ideal_gap = 0;
        for (size_t j = 0; j < C; j++) {
            double ref = 0;
            for (size_t i = 0; i < R; i++) ref += (double)G[i * C + j] * V[i];
            ideal_gap = fmax(ideal_gap, fabs(ref - Id[j]) / ref);
        }
        CU_ASSERT(ideal_gap > 1e-4);
        free(G); free(V); free(Id); free(Ip); free(Is);
    }
}

/* Non-convergence is reported, not hidden. */
static void test_no_convergence_reported(void)
{
    enum { R = 16, C = 16 };
    float G[R * C], V[R];
    double I[C];
    fill(R, C, G, V, 7);
    xb_ir_work *w;
    xb_err err = { 0 };
    CU_ASSERT_FATAL(xb_ir_work_alloc(&w, R, C, &err) == XB_OK);
    xb_ir_opts o = xb_ir_defaults();
    o.r_row = o.r_col = 1e3;               /* strong coupling: needs many iterations */
    o.max_iter = 1;
    xb_ir_result res;
    CU_ASSERT(xb_ir_solve(w, G, V, R, C, &o, 0, I, &res, &err) == XB_ENUMERIC);
    CU_ASSERT(strstr(err.msg, "residual") != NULL);
    o.r_row = -1;
    CU_ASSERT(xb_ir_solve(w, G, V, R, C, &o, 0, I, &res, &err) == XB_ERANGE);
    xb_ir_work_free(w);
}

/* ngspice (Debian package) on the same circuit, when installed: 1e-6 relative. */
static int have_ngspice(void) { return system("command -v ngspice >/dev/null 2>&1") == 0; }

static int run_ngspice(size_t R, size_t C, const float *G, const float *V, double rr, double rc,
                       double *I)
{
    char cir[512], out[512], cmd[1200];
    xb_test_path("ir.cir", cir, sizeof cir);
    xb_test_path("ir.out", out, sizeof out);
    FILE *f = fopen(cir, "w");
    if (!f) return 0;
    fprintf(f, "xbemu irdrop check\n");
    for (size_t i = 0; i < R; i++) {
        fprintf(f, "VIN%zu d%zu 0 DC %.17g\n", i, i, (double)V[i]);
        for (size_t j = 0; j < C; j++) {
            if (j == 0) fprintf(f, "RR%zu_0 d%zu u%zu_0 %.17g\n", i, i, i, rr);
            else fprintf(f, "RR%zu_%zu u%zu_%zu u%zu_%zu %.17g\n", i, j, i, j - 1, i, j, rr);
            if (G[i * C + j] > 0)
                fprintf(f, "RG%zu_%zu u%zu_%zu v%zu_%zu %.17g\n", i, j, i, j, i, j, 1.0 / G[i * C + j]);
            if (i + 1 < R) fprintf(f, "RC%zu_%zu v%zu_%zu v%zu_%zu %.17g\n", i, j, i, j, i + 1, j, rc);
            else fprintf(f, "RC%zu_%zu v%zu_%zu s%zu %.17g\nVS%zu s%zu 0 DC 0\n", i, j, i, j, j, rc, j, j);
        }
    }
    fprintf(f, ".options reltol=1e-12 abstol=1e-20 vntol=1e-15\n.control\nset numdgt=16\nop\n");
    for (size_t j = 0; j < C; j++) fprintf(f, "print i(vs%zu)\n", j);
    fprintf(f, ".endc\n.end\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "ngspice -b '%s' > '%s' 2>&1", cir, out);
    if (system(cmd) == -1) return 0;       /* ngspice -b exits 1 even on success: parse */
    f = fopen(out, "r");
    if (!f) return 0;
    char line[512];
    size_t got = 0;
    while (fgets(line, sizeof line, f)) {
        size_t j;
        double v;
        if (sscanf(line, "i(vs%zu) = %lf", &j, &v) == 2 && j < C) { I[j] = v; got++; }
    }
    fclose(f);
    return got == C;
}

static void test_against_ngspice(void)
{
    if (!have_ngspice()) { fprintf(stderr, "(ngspice not installed: skipped) "); return; }
    const size_t shapes[3][2] = { { 2, 2 }, { 8, 8 }, { 12, 5 } };
    for (int q = 0; q < 3; q++) {
        const size_t R = shapes[q][0], C = shapes[q][1];
        float *G = malloc(R * C * sizeof *G), *V = malloc(R * sizeof *V);
        double *Is = malloc(C * sizeof *Is), *Ix = malloc(C * sizeof *Ix);
        fill(R, C, G, V, 20 + (uint32_t)q);
        CU_ASSERT_FATAL(run_ngspice(R, C, G, V, 2.0, 3.0, Is));
        CU_ASSERT_FATAL(solve(R, C, G, V, XB_IR_PCG, 2.0, 3.0, Ix, NULL) == XB_OK);
        CU_ASSERT(max_rel(Ix, Is, C) < 1e-6);
        free(G); free(V); free(Is); free(Ix);
    }
}

XB_SUITE(irdrop, XB_TEST(test_zero_wire_is_ideal), XB_TEST(test_one_ideal_wire_set),
         XB_TEST(test_hand_derived), XB_TEST(test_iterative_matches_direct),
         XB_TEST(test_no_convergence_reported), XB_TEST(test_against_ngspice))
