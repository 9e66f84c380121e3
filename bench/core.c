/* bench/core.c: speed of the random-number primitives every kernel leans on
 * (ns per value, 1 thread). One JSON line per measurement. */
#include <stdio.h>
#include <time.h>

#include "core/xb_mem.h"
#include "core/xb_rng.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(void)
{
    enum { N = 1 << 22 };
    float *x = xb_malloc(N * sizeof *x);
    uint64_t w[1];
    const xb_rng r = xb_rng_for_row(1, XB_RNG_TEST, 0, 0, 0);
    double t0 = now();
    xb_rng_fill_uniform(&r, 0, N, x);
    double t1 = now();
    printf("{\"bench\":\"rng_fill_uniform\",\"n\":%d,\"ns_per_value\":%.3f}\n", N, 1e9 * (t1 - t0) / N);
    t0 = now();
    xb_rng_fill_normal(&r, 1, N, x);
    t1 = now();
    printf("{\"bench\":\"rng_fill_normal\",\"n\":%d,\"ns_per_value\":%.3f}\n", N, 1e9 * (t1 - t0) / N);
    t0 = now();
    xb_rng_fill_normal_zig(&r, 1, N, x);
    t1 = now();
    printf("{\"bench\":\"rng_fill_normal_zig\",\"n\":%d,\"ns_per_value\":%.3f}\n", N, 1e9 * (t1 - t0) / N);
    t0 = now();
    uint64_t acc = 0;
    for (int i = 0; i < N / 16; i++) { xb_rng_bernoulli_bits(&r, (uint32_t)i, 2, 0.3, 16, w); acc += w[0]; }
    t1 = now();
    printf("{\"bench\":\"rng_bernoulli_bits\",\"n\":%d,\"ns_per_bit\":%.3f,\"check\":%llu}\n", N,
           1e9 * (t1 - t0) / N, (unsigned long long)(acc & 1));
    xb_free(x);
    return 0;
}
