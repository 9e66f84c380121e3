/* tests/main.c: runs the registered CUnit suites; exit status = number of failures.
 * Usage: xbemu-tests [--list] [SUITE[:TEST]]... */
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xb_dataset.h"
#include "core/xb_err.h"
#include "tests/xb_test.h"

enum { MAX_SUITES = 128 };
static struct { const char *name; const xb_test_case *cases; size_t n; } suites[MAX_SUITES];
static size_t nsuites;

void xb_test_register(const char *suite, const xb_test_case *cases, size_t n)
{
    if (nsuites < MAX_SUITES) {
        suites[nsuites].name = suite;
        suites[nsuites].cases = cases;
        suites[nsuites].n = n;
        nsuites++;
    }
}

static char tmpdir[PATH_MAX];

static void remove_tmpdir(void)
{
    if (tmpdir[0]) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    }
}

const char *xb_test_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/xbemu-tests-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) { perror("mkdtemp"); exit(99); }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

char *xb_test_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", xb_test_tmpdir(), name);
    return buf;
}

char *xb_test_write(const char *name, const void *data, size_t len, char *buf, size_t blen)
{
    xb_test_path(name, buf, blen);
    FILE *f = fopen(buf, "wb");
    if (!f || fwrite(data, 1, len, f) != len) { perror(buf); exit(99); }
    fclose(f);
    return buf;
}

const char *xb_test_data_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0] && xb_data_dir(NULL, dir, sizeof dir) != 0) dir[0] = '\0';
    return dir[0] ? dir : NULL;
}

static int cmp_suite(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int selected(int argc, char **argv, const char *suite, const char *test)
{
    if (argc <= 1) return 1;
    for (int i = 1; i < argc; i++) {
        const char *colon = strchr(argv[i], ':');
        const size_t ls = colon ? (size_t)(colon - argv[i]) : strlen(argv[i]);
        if (strlen(suite) != ls || strncmp(argv[i], suite, ls)) continue;
        if (!colon || !test || !strcmp(colon + 1, test)) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    xb_gsl_quiet();
    qsort(suites, nsuites, sizeof suites[0], cmp_suite);
    if (argc > 1 && !strcmp(argv[1], "--list")) {
        for (size_t s = 0; s < nsuites; s++)
            for (size_t t = 0; t < suites[s].n; t++)
                printf("%s:%s\n", suites[s].name, suites[s].cases[t].name);
        return 0;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) return 99;
    for (size_t s = 0; s < nsuites; s++) {
        if (!selected(argc, argv, suites[s].name, NULL)) continue;
        CU_pSuite su = CU_add_suite(suites[s].name, NULL, NULL);
        for (size_t t = 0; su && t < suites[s].n; t++)
            if (selected(argc, argv, suites[s].name, suites[s].cases[t].name))
                CU_add_test(su, suites[s].cases[t].name, suites[s].cases[t].fn);
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    const unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() * 0;
    const unsigned tests_failed = CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return tests_failed ? (int)(tests_failed < 100 ? tests_failed : 100) : (fails ? 1 : 0);
}
