/* bench/devices.c: M3 of BENCHMARKS.md: ns per device-pulse of every device model's
 * pulse kernel on 1e6 devices (1000 rows of 1000), 1 and 2 threads, two cases:
 *   one: every device gets one pulse (+1; alternating sign per pass for two-way models)
 *   mix: random counts in [-3, 3] (one-way models: [0, 6]); ns per actual pulse.
 * Only pulse_row is timed (not the energy, not the read). One JSON object per line. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xb_mem.h"
#include "devices/xb_device.h"

enum { ROWS = 1000, COLS = 1000 };

static double cpu_now(void)          /* CPU time of the whole process: all threads */
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double run(const xb_device_type *T, const double *p, float *block, const int16_t *n,
                  long pulses_per_pass, int threads, uint32_t *epoch, double *cpu_ns)
{
    double t0 = omp_get_wtime(), el = 0, c0 = cpu_now();
    long passes = 0;
    do {
        const uint32_t ep = ++*epoch;
        #pragma omp parallel for schedule(static) num_threads(threads)
        for (int i = 0; i < ROWS; i++) {
            xb_row r = { .n = COLS };
            for (size_t k = 0; k < T->nfields; k++) r.f[k] = block + ((size_t)i * T->nfields + k) * COLS;
            const xb_rng c2c = xb_rng_for_row(1, XB_RNG_C2C, 0, (uint32_t)i, ep);
            T->pulse_row(&r, p, n + (size_t)i * COLS, &c2c);
        }
        passes++;
        el = omp_get_wtime() - t0;
    } while (el < 0.3 && passes < 50);
    *cpu_ns = (cpu_now() - c0) * 1e9 / ((double)passes * pulses_per_pass);
    return el * 1e9 / ((double)passes * pulses_per_pass);
}

/* The floor under any kernel with C2C noise: one Philox-4x32-10 call (xb_rng_u4) and one
 * Box-Muller normal (xb_rng_normal) per device, 1 thread, same 1e6 devices. */
static void rng_floor(void)
{
    const size_t N = (size_t)ROWS * COLS;
    float *sink = xb_malloc(N * sizeof *sink);
    if (!sink) return;
    for (int kind = 0; kind < 2; kind++) {
        double t0 = omp_get_wtime(), el, c0 = cpu_now();
        long passes = 0;
        do {
            for (int i = 0; i < ROWS; i++) {
                const xb_rng r = xb_rng_for_row(1, XB_RNG_C2C, 0, (uint32_t)i, (uint32_t)passes);
                float *o = sink + (size_t)i * COLS;
                if (kind == 0)
                    for (int j = 0; j < COLS; j++) { float u[4]; xb_rng_u4(&r, (uint32_t)j, 0, u); o[j] = u[0]; }
                else
                    for (int j = 0; j < COLS; j++) o[j] = xb_rng_normal(&r, (uint32_t)j, 0);
            }
            passes++;
            el = omp_get_wtime() - t0;
        } while (el < 0.3);
        printf("{\"bench\":\"M3_device\",\"model\":\"%s\",\"case\":\"floor\",\"threads\":1,"
               "\"devices\":%zu,\"ns_per_device_pulse\":%.3f,\"cpu_ns_per_device_pulse\":%.3f}\n",
               kind ? "rng_normal" : "rng_philox", N, el * 1e9 / ((double)passes * N),
               (cpu_now() - c0) * 1e9 / ((double)passes * N));
    }
    xb_free(sink);
}

int main(int argc, char **argv)
{
    if (argc <= 1 || !strcmp(argv[1], "floor")) rng_floor();
    const char *only = argc > 1 ? argv[1] : NULL;
    const size_t N = (size_t)ROWS * COLS;
    int16_t *one = xb_malloc(N * sizeof *one), *neg = xb_malloc(N * sizeof *neg);
    int16_t *mix = xb_malloc(N * sizeof *mix);
    if (!one || !neg || !mix) return 1;
    for (size_t i = 0; xb_device_types[i]; i++) {
        const xb_device_type *T = xb_device_types[i];
        if (only && strcmp(only, T->name)) continue;
        double p[64];
        xb_param_defaults(T->params, T->nparams, p);
        float *block = xb_malloc(T->nfields * N * sizeof(float));
        if (!block) return 1;
        const int oneway = (T->flags & XB_DEV_ONE_WAY) != 0;
        long mixp = 0;
        const xb_rng tr = xb_rng_for_row(7, XB_RNG_TEST, 0, 0, 0);
        for (size_t j = 0; j < N; j++) {
            float u[4];
            xb_rng_u4(&tr, (uint32_t)j, 0, u);
            one[j] = 1;
            neg[j] = oneway ? 1 : -1;
            mix[j] = oneway ? (int16_t)(u[0] * 7) : (int16_t)(u[0] * 7) - 3;
            mixp += abs(mix[j]);
        }
        for (int th = 1; th <= 2; th++) {
            for (int c = 0; c < 2; c++) {
                uint32_t epoch = 0;
                #pragma omp parallel for schedule(static) num_threads(th)
                for (int r = 0; r < ROWS; r++) {      /* fresh devices for every case */
                    xb_row row = { .n = COLS };
                    for (size_t k = 0; k < T->nfields; k++)
                        row.f[k] = block + ((size_t)r * T->nfields + k) * COLS;
                    const xb_rng d2d = xb_rng_for_row(1, XB_RNG_D2D, 0, (uint32_t)r, 0);
                    T->init_row(&row, p, &d2d);
                }
                double ns, cpu;
                if (c == 0) {      /* alternate + and - passes so two-way devices stay mid-range */
                    double ca, cb;
                    const double a = run(T, p, block, one, (long)N, th, &epoch, &ca);
                    const double b = run(T, p, block, neg, (long)N, th, &epoch, &cb);
                    ns = 0.5 * (a + b);
                    cpu = 0.5 * (ca + cb);
                } else ns = run(T, p, block, mix, mixp, th, &epoch, &cpu);
                printf("{\"bench\":\"M3_device\",\"model\":\"%s\",\"case\":\"%s\",\"threads\":%d,"
                       "\"devices\":%zu,\"ns_per_device_pulse\":%.3f,\"cpu_ns_per_device_pulse\":%.3f}\n",
                       T->name, c ? "mix" : "one", th, N, ns, cpu);
                fflush(stdout);
            }
        }
        xb_free(block);
    }
    xb_free(one); xb_free(neg); xb_free(mix);
    return 0;
}
