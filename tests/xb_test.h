/* tests/xb_test.h: CUnit suites register themselves (a constructor per file), so a new
 * suite is one new tests/test_*.c file and no shared list to edit.
 *
 *   static void test_something(void) { CU_ASSERT(...); }
 *   XB_SUITE(rng, XB_TEST(test_something), XB_TEST(test_other))
 *
 * tests/main.c runs every suite (or those named on its command line) and exits with
 * the number of failures. Helpers for statistics and temporary files are below. */
#ifndef XB_TEST_H
#define XB_TEST_H

#include <CUnit/CUnit.h>
#include <stddef.h>

typedef struct xb_test_case { const char *name; void (*fn)(void); } xb_test_case;
void xb_test_register(const char *suite, const xb_test_case *cases, size_t n);

#define XB_TEST(fn) { #fn, fn }
#define XB_SUITE(sname, ...)                                                               \
    static const xb_test_case sname##_cases[] = { __VA_ARGS__ };                           \
    __attribute__((constructor)) static void sname##_register(void)                       \
    {                                                                                      \
        xb_test_register(#sname, sname##_cases, sizeof sname##_cases / sizeof *sname##_cases); \
    }

/* A fresh temporary directory for this process (removed at exit); path + name. */
const char *xb_test_tmpdir(void);
char *xb_test_path(const char *name, char *buf, size_t len);
/* Write `len` bytes to a file in the temporary directory; returns its path in buf. */
char *xb_test_write(const char *name, const void *data, size_t len, char *buf, size_t blen);

/* MESU on two Gaussian blobs: train, then count right answers of 200 (tests/test_bayes.c). */
struct xb_mesu;
unsigned xb_test_mesu_blobs(struct xb_mesu *m);

/* Directory of the repository's data (MNIST/Fashion-MNIST), or NULL if absent. */
const char *xb_test_data_dir(void);

#endif
