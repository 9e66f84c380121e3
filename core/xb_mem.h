/* core/xb_mem.h: the library's allocator, with a failure hook for tests.
 *
 * Every allocation in libxbemu goes through these wrappers so that tests can make
 * the k-th allocation fail (xb_mem_fail_nth) and check that each error path frees
 * what it holds (LeakSanitizer in `make check-asan`). xb_free(NULL) is a no-op. */
#ifndef XB_MEM_H
#define XB_MEM_H

#include <stddef.h>

void *xb_malloc(size_t n);
void *xb_calloc(size_t count, size_t size);  /* NULL on overflow of count*size too */
void *xb_realloc(void *p, size_t n);
void  xb_free(void *p);
char *xb_strdup(const char *s);

/* Test hook: make the k-th allocation from now fail (k = 0: the next one);
 * k < 0 switches failures off. Not thread-safe; for single-threaded tests only. */
void xb_mem_fail_nth(long k);

#endif
