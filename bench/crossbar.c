/* bench/crossbar.c: micro-benchmarks M1 (forward MVM), M2 (pulse-coincidence update),
 * M5 (IR drop) of BENCHMARKS.md, and time vs array size, as JSON lines.
 *
 * Usage: crossbar [m1|m2|m5|scale]... (default: all). Threads: OMP_NUM_THREADS (the
 * library and OpenBLAS both follow it). Each figure is the best of a few repetitions
 * inside one run; bench/run.sh runs the binary several times and prints medians per
 * set of string fields (so every case has a distinct string: shape, peripherals, case).
 * The reference is timed back to back with ours on the same shapes and the same float G.
 * XB_BENCH_DIRECT512=1 adds the 512x512 direct IR-drop solve (4.3 GB, minutes). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "crossbar/xb_irdrop.h"
#include "crossbar/xb_layer.h"

extern const xb_device_type xb_device_softbounds;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Seconds per call of f: repeat until min_s has passed, best of 3 such rounds. The
 * process CPU time of the best round goes to *cpu (the machine is shared: with one
 * thread, CPU time shows the work when other jobs steal the core). */
typedef void (*fn)(void *);
static double timeit2(fn f, void *arg, double min_s, double *cpu)
{
    double best = INFINITY, bcpu = INFINITY;
    f(arg);                                               /* warm up */
    for (int round = 0; round < 3; round++) {
        long n = 0;
        const double t0 = now(), c0 = cpu_now();
        double t;
        do { f(arg); n++; } while ((t = now() - t0) < min_s);
        const double c = cpu_now() - c0;
        if (t / n < best) best = t / n;
        if (c / n < bcpu) bcpu = c / n;
    }
    if (cpu) *cpu = bcpu;
    return best;
}
static double timeit(fn f, void *arg, double min_s) { return timeit2(f, arg, min_s, NULL); }

static void fill_uniform(float *v, size_t n, double lo, double hi, uint32_t salt)
{
    const xb_rng r = xb_rng_for_row(99, XB_RNG_TEST, 0, salt, 0);
    xb_rng_fill_uniform(&r, 0, n, v);
    for (size_t k = 0; k < n; k++) v[k] = (float)(lo + (hi - lo) * v[k]);
}

static xb_layer *make_layer(size_t out, size_t in, int periph, size_t tile)
{
    double xp[XB_XB_NPARAMS];
    xb_param_defaults(xb_section_crossbar.params, XB_XB_NPARAMS, xp);
    xp[XB_XB_TILE_ROWS] = xp[XB_XB_TILE_COLS] = (double)tile;
    if (periph) { xp[XB_XB_DAC_BITS] = 8; xp[XB_XB_ADC_BITS] = 8; }
    else xp[XB_XB_IDEAL] = 1;
    const xb_layer_spec s = { .type = &xb_device_softbounds, .xbar_params = xp, .out = out,
                              .in = in, .seed = 3, .id = 1 };
    xb_layer *L = NULL;
    xb_err err = { 0 };
    if (xb_layer_alloc(&L, &s, &err)) { fprintf(stderr, "bench: %s\n", err.msg); exit(1); }
    return L;
}

/* ------------------------------------------------------------------ M1 */

typedef struct m1_arg {
    xb_layer *L;
    const float *x, *G;
    float *y;
    size_t out, in, batch;
} m1_arg;

static void m1_ours(void *p)
{
    m1_arg *a = p;
    xb_layer_forward(a->L, a->x, a->batch, a->y, NULL);
}

static void m1_ref(void *p)    /* the same product on the same float matrix, in x out */
{
    m1_arg *a = p;
    if (a->batch == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)a->in, (int)a->out, 1.0f, a->G, (int)a->out,
                    a->x, 1, 0.0f, a->y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)a->batch, (int)a->out,
                    (int)a->in, 1.0f, a->x, (int)a->in, a->G, (int)a->out, 0.0f, a->y, (int)a->out);
}

/* The layer's G gathered into one in x out float matrix (tiles side by side). */
static float *gather_G(xb_layer *L, size_t out, size_t in)
{
    float *G = malloc(in * out * sizeof *G);
    for (size_t t = 0; t < xb_layer_ntiles(L); t++) {
        size_t r0, c0;
        xb_array *a = xb_layer_tile(L, t, NULL, &r0, &c0);
        const float *g = xb_array_G(a);
        const size_t R = xb_array_rows(a), C = xb_array_cols(a);
        for (size_t i = 0; i < R; i++) memcpy(G + (r0 + i) * out + c0, g + i * C, C * sizeof *g);
    }
    return G;
}

static void m1_case(const char *bench, size_t out, size_t in, size_t batch, size_t tile, int periph,
                    double min_s)
{
    xb_layer *L = make_layer(out, in, periph, tile);
    m1_arg a = { .L = L, .out = out, .in = in, .batch = batch };
    float *x = malloc(batch * in * sizeof *x), *y = malloc(batch * out * sizeof *y);
    fill_uniform(x, batch * in, -1, 1, 1);
    a.x = x;
    a.y = y;
    a.G = gather_G(L, out, in);
    double c_ref, c_ours;
    const double t_ref = timeit2(m1_ref, &a, min_s, &c_ref);
    const double t_ours = timeit2(m1_ours, &a, min_s, &c_ours);
    const double flop = 2.0 * in * out * batch;
    printf("{\"bench\":\"%s\",\"shape\":\"%zux%zux%zu\",\"tile\":%zu,\"peripherals\":\"%s\","
           "\"threads\":%d,\"ours_gflops\":%.3f,\"ref\":\"openblas_%s\",\"ref_gflops\":%.3f,"
           "\"ratio\":%.3f,\"cpu_ratio\":%.3f,\"ours_us\":%.3f,\"ref_us\":%.3f}\n",
           bench, out, in, batch, tile, periph ? "on" : "off", omp_get_max_threads(),
           flop / t_ours * 1e-9, batch == 1 ? "sgemv" : "sgemm", flop / t_ref * 1e-9, t_ref / t_ours,
           c_ref / c_ours, t_ours * 1e6, t_ref * 1e6);
    fflush(stdout);
    free((void *)a.G); free(x); free(y);
    xb_layer_free(L);
}

static void m1(void)
{
    for (int periph = 0; periph < 2; periph++) {
        m1_case("M1_mvm", 256, 785, 1, 512, periph, 0.2);
        m1_case("M1_mvm", 1024, 1024, 100, 1024, periph, 0.3);
        m1_case("M1_mvm", 2048, 2048, 1, 512, periph, 0.3);
        m1_case("M1_mvm", 2048, 2048, 100, 512, periph, 0.5);
    }
}

/* ------------------------------------------------------------------ M2 */

typedef struct m2_arg {
    xb_layer *L;
    const float *x, *d;
    float *A;
    size_t out, in;
    float lr;
} m2_arg;

static void m2_ours(void *p)
{
    m2_arg *a = p;
    xb_layer_update(a->L, a->x, a->d, 1, a->lr, NULL);
}

static void m2_ref(void *p)
{
    m2_arg *a = p;
    cblas_sger(CblasRowMajor, (int)a->in, (int)a->out, a->lr, a->x, 1, a->d, 1, a->A, (int)a->out);
}

/* Inputs as in training: activations x in [0, 1], errors d in [-dmax, dmax]; with
 * lr = 0.01, dw_min = 0.001 and BL = 10, C = 1, so p_x = x and p_d = |d|: a device
 * expects BL p_x p_d = 2.5 dmax pulses (0.025 for dmax = 0.01, 0.25 for 0.1). */
static void m2_case(size_t out, size_t in, int bl, double dmax, double min_s, const char *bench)
{
    xb_layer *L = make_layer(out, in, 0, 4096);
    xb_err err = { 0 };
    xb_layer_set(L, XB_XB_BL, bl, &err);
    m2_arg a = { .L = L, .out = out, .in = in, .lr = 0.01f };
    float *x = malloc(in * sizeof *x), *d = malloc(out * sizeof *d);
    fill_uniform(x, in, 0, 1, 2);
    fill_uniform(d, out, -dmax, dmax, 3);
    a.x = x;
    a.d = d;
    a.A = calloc(in * out, sizeof *a.A);
    double c_ref, c_ours;
    const double t_ref = timeit2(m2_ref, &a, min_s, &c_ref);
    const double before = xb_layer_stats_get(L)->pulses, nupd0 = xb_layer_stats_get(L)->updates;
    const double t_ours = timeit2(m2_ours, &a, min_s, &c_ours);
    const double pulses = (xb_layer_stats_get(L)->pulses - before)
                          / (xb_layer_stats_get(L)->updates - nupd0);
    const double dev = (double)in * out;
    printf("{\"bench\":\"%s\",\"shape\":\"%zux%zu\",\"case\":\"bl%d_dmax%g\",\"bl\":%d,\"d_max\":%g,"
           "\"device\":\"softbounds\","
           "\"threads\":%d,\"ours_ms\":%.4f,\"dev_evals_per_s\":%.4g,"
           "\"dev_evals_per_s_per_core\":%.4g,\"pulses_per_update\":%.1f,\"ref\":\"openblas_sger\","
           "\"ref_ms\":%.4f,\"time_ratio\":%.3f,\"ours_cpu_ms\":%.4f,\"ref_cpu_ms\":%.4f,"
           "\"cpu_dev_evals_per_s_per_core\":%.4g,\"cpu_time_ratio\":%.3f,\"ours_us\":%.3f,"
           "\"ref_us\":%.3f}\n",
           bench, out, in, bl, dmax, bl, dmax, omp_get_max_threads(), t_ours * 1e3, dev / t_ours,
           dev / t_ours / omp_get_max_threads(), pulses, t_ref * 1e3, t_ours / t_ref, c_ours * 1e3,
           c_ref * 1e3, dev / c_ours, c_ours / c_ref, t_ours * 1e6, t_ref * 1e6);
    fflush(stdout);
    free(x); free(d); free(a.A);
    xb_layer_free(L);
}

static void m2(void)
{
    const int bls[2] = { 10, 31 };
    for (int b = 0; b < 2; b++)
        for (int q = 0; q < 2; q++) {
            m2_case(256, 785, bls[b], q ? 0.1 : 0.01, 0.3, "M2_update");
            m2_case(1024, 1024, bls[b], q ? 0.1 : 0.01, 0.3, "M2_update");
        }
}

/* ------------------------------------------------------------------ M5 */

typedef struct m5_arg {
    xb_ir_work *w;
    const float *G, *V;
    size_t n;
    xb_ir_opts o;
    double *Iv;
    int iters;
} m5_arg;

static void m5_run(void *p)
{
    m5_arg *a = p;
    xb_ir_result r;
    xb_err err = { 0 };
    if (xb_ir_solve(a->w, a->G, a->V, a->n, a->n, &a->o, 0, a->Iv, &r, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    a->iters = r.iterations;
}

static void m5(void)
{
    const size_t sizes[3] = { 64, 256, 512 };
    const int direct512 = getenv("XB_BENCH_DIRECT512") != NULL;
    for (int s = 0; s < 3; s++) {
        const size_t n = sizes[s];
        float *G = malloc(n * n * sizeof *G), *V = malloc(n * sizeof *V);
        double *Ii = malloc(n * sizeof *Ii), *Id = malloc(n * sizeof *Id);
        fill_uniform(G, n * n, 1e-6, 1e-5, 4);                /* 100 kOhm .. 1 MOhm */
        fill_uniform(V, n, 0, 0.2, 5);
        xb_err err = { 0 };
        m5_arg a = { .G = G, .V = V, .n = n, .o = xb_ir_defaults(), .Iv = Ii };
        if (xb_ir_work_alloc(&a.w, n, n, &err)) { fprintf(stderr, "bench: %s\n", err.msg); exit(1); }
        a.o.r_row = a.o.r_col = 1.0;
        const double t_pcg = timeit(m5_run, &a, 0.2);
        const int it_pcg = a.iters;
        a.o.solver = XB_IR_SOR;
        const double t_sor = timeit(m5_run, &a, 0.2);
        const int it_sor = a.iters;
        double t_dir = NAN, maxrel = NAN;
        if (n < 512 || direct512) {
            a.o.solver = XB_IR_DIRECT;
            a.Iv = Id;
            const double t0 = now();
            m5_run(&a);                                        /* one solve: it is slow */
            t_dir = now() - t0;
            maxrel = 0;
            for (size_t j = 0; j < n; j++) maxrel = fmax(maxrel, fabs(Ii[j] - Id[j]) / fabs(Id[j]));
        }
        double drop = 0;                                       /* how much the wires matter */
        for (size_t j = 0; j < n; j++) {
            double ref = 0;
            for (size_t i = 0; i < n; i++) ref += (double)G[i * n + j] * V[i];
            drop = fmax(drop, fabs(ref - Ii[j]) / ref);
        }
        printf("{\"bench\":\"M5_irdrop\",\"shape\":\"%zux%zu\",\"r_wire_ohm\":1,\"threads\":%d,"
               "\"pcg_ms\":%.3f,\"pcg_iters\":%d,\"sor_ms\":%.3f,\"sor_iters\":%d,"
               "\"ref\":\"gsl_cholesky_band\",",
               n, n, omp_get_max_threads(), t_pcg * 1e3, it_pcg, t_sor * 1e3, it_sor);
        if (!isnan(t_dir))             /* skipped at 512 unless asked: fields left out */
            printf("\"direct_ms\":%.1f,\"speedup_pcg\":%.1f,\"max_rel_diff\":%.3g,", t_dir * 1e3,
                    t_dir / t_pcg, maxrel);
        printf("\"max_ir_drop_rel\":%.3g}\n", drop);
        fflush(stdout);
        xb_ir_work_free(a.w);
        free(G); free(V); free(Ii); free(Id);
    }
}

/* ------------------------------------------------------------------ scaling */

static void scale(void)
{
    for (size_t n = 64; n <= 2048; n *= 2) {
        m1_case("S_mvm", n, n, 1, 512, 0, 0.1);
        m2_case(n, n, 10, 0.01, 0.1, "S_update");
    }
}

int main(int argc, char **argv)
{
    xb_gsl_quiet();
    int all = argc < 2;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "m1") && strcmp(argv[i], "m2") && strcmp(argv[i], "m5") && strcmp(argv[i], "scale")) {
            fprintf(stderr, "usage: crossbar [m1|m2|m5|scale]...\n");
            return 2;
        }
    for (int i = all ? 0 : 1; i < (all ? 2 : argc); i++) {
        const char *w = all ? NULL : argv[i];
        if (!w || !strcmp(w, "m1")) m1();
        if (!w || !strcmp(w, "m2")) m2();
        if (!w || !strcmp(w, "m5")) m5();
        if (!w || !strcmp(w, "scale")) scale();
        if (all) break;
    }
    return 0;
}
