/* bench/core.c: speed of the random-number primitives every kernel leans on
 * (ns per value, 1 thread, CPU time of this thread), at each Philox level the CPU has
 * (core/rng_simd.c: scalar, sse4.1, avx2, avx512). One JSON line per measurement;
 * `level` names the case, "best" marking the level the library picks by itself.
 *   bench/core [N]      N values per measurement (default 2^22) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/xb_mem.h"
#include "core/xb_rng.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static const char *const level_names[] = { "scalar", "sse4.1", "avx2", "avx512" };

int main(int argc, char **argv)
{
    const size_t N = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : (size_t)1 << 22;
    float *x = xb_malloc(N * sizeof *x);
    uint32_t *cols = xb_malloc(N * sizeof *cols);
    if (!x || !cols || N < 64) return 1;
    for (size_t j = 0; j < N; j++) cols[j] = (uint32_t)j;
    const int best = xb_rng_simd_force(-1);
    const xb_rng r = xb_rng_for_row(1, XB_RNG_TEST, 0, 0, 0);
    for (int level = XB_RNG_SIMD_SCALAR; level <= best; level++) {
        if (!xb_rng_simd_supported(level)) continue;
        xb_rng_simd_force(level);
        const char *tag = level == best ? "\"best\":1," : "";
        double t0 = cpu_now();
        xb_rng_fill_uniform(&r, 0, N, x);
        double t1 = cpu_now();
        printf("{\"bench\":\"rng_fill_uniform\",\"level\":\"%s\",%s\"n\":%zu,\"ns_per_value\":%.3f}\n",
               level_names[level], tag, N, 1e9 * (t1 - t0) / N);
        t0 = cpu_now();
        xb_rng_fill_normal(&r, 1, N, x);
        t1 = cpu_now();
        printf("{\"bench\":\"rng_fill_normal\",\"level\":\"%s\",%s\"n\":%zu,\"ns_per_value\":%.3f}\n",
               level_names[level], tag, N, 1e9 * (t1 - t0) / N);
        t0 = cpu_now();
        xb_rng_fill_normal_zig(&r, 1, N, x);
        t1 = cpu_now();
        printf("{\"bench\":\"rng_fill_normal_zig\",\"level\":\"%s\",%s\"n\":%zu,\"ns_per_value\":%.3f}\n",
               level_names[level], tag, N, 1e9 * (t1 - t0) / N);
        t0 = cpu_now();
        xb_rng_normal_cols(&r, cols, 2, N, x);       /* one Box-Muller normal per device */
        t1 = cpu_now();
        printf("{\"bench\":\"rng_normal_cols\",\"level\":\"%s\",%s\"n\":%zu,\"ns_per_value\":%.3f}\n",
               level_names[level], tag, N, 1e9 * (t1 - t0) / N);
        t0 = cpu_now();
        xb_rng_normal_zig_cols(&r, cols, 3, N, x);   /* one ziggurat normal per device */
        t1 = cpu_now();
        printf("{\"bench\":\"rng_normal_zig_cols\",\"level\":\"%s\",%s\"n\":%zu,\"ns_per_value\":%.3f}\n",
               level_names[level], tag, N, 1e9 * (t1 - t0) / N);
        uint64_t w[1], acc = 0;
        t0 = cpu_now();
        for (size_t i = 0; i < N / 16; i++) { xb_rng_bernoulli_bits(&r, (uint32_t)i, 2, 0.3, 16, w); acc += w[0]; }
        t1 = cpu_now();
        printf("{\"bench\":\"rng_bernoulli_bits\",\"level\":\"%s\",%s\"n\":%zu,\"ns_per_bit\":%.3f,\"check\":%llu}\n",
               level_names[level], tag, N, 1e9 * (t1 - t0) / N, (unsigned long long)(acc & 1));
        uint64_t w31[1];
        t0 = cpu_now();
        for (size_t i = 0; i < N / 31; i++) { xb_rng_bernoulli_bits(&r, (uint32_t)i, 2, 0.3, 31, w31); acc += w31[0]; }
        t1 = cpu_now();
        printf("{\"bench\":\"rng_bernoulli_bits31\",\"level\":\"%s\",%s\"n\":%zu,\"ns_per_bit\":%.3f,\"check\":%llu}\n",
               level_names[level], tag, N, 1e9 * (t1 - t0) / (N / 31 * 31), (unsigned long long)(acc & 1));
        fflush(stdout);
    }
    xb_rng_simd_force(-1);
    xb_free(x);
    xb_free(cols);
    return 0;
}
