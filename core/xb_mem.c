#include "core/xb_mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long fail_countdown = -1;     /* -1: never fail */

static int should_fail(void)
{
    if (fail_countdown < 0) return 0;
    if (fail_countdown == 0) { fail_countdown = -1; return 1; }
    fail_countdown--;
    return 0;
}

void xb_mem_fail_nth(long k) { fail_countdown = k; }

void *xb_malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }

void *xb_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *xb_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }

void xb_free(void *p) { free(p); }

char *xb_strdup(const char *s)
{
    const size_t n = strlen(s) + 1;
    char *d = xb_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
