/* tests/test_sweep.c: [sweep] expansion (grid, ranges, zip, --set), run ids, error
 * messages, and the process runner with the stand-in run (tests/sweep_standin.sh).
 * Expected values come from the syntax in experiments/xb_sweep.h, not from the code. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "experiments/xb_results.h"
#include "experiments/xb_runner.h"
#include "experiments/xb_sweep.h"
#include "tests/xb_test.h"

static xb_sweep *expand(const char *text, xb_err *e)
{
    xb_config *c = xb_config_alloc();
    xb_sweep *s = NULL;
    if (xb_config_load_string(c, text, "s.ini", e) == XB_OK) xb_sweep_alloc(&s, c, NULL, e);
    xb_config_free(c);
    return s;
}

static const char *value(const xb_sweep *s, size_t k, const char *name)
{
    size_t choice[16];
    xb_sweep_choice(s, k, choice);
    for (size_t a = 0; a < s->naxes; a++)
        if (!strcmp(s->axis[a].name, name)) return s->axis[a].values[choice[a]];
    return NULL;
}

static void test_grid_order(void)
{
    xb_err e = {0};
    xb_sweep *s = expand("[device]\ndw_min = 0.001\n[sweep]\ndevice.dw_min = 0.001, 0.002, 0.005\n"
                         "data.ntasks = 1..4\n", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->nruns, 12);
    CU_ASSERT_EQUAL(s->naxes, 2);
    /* nested loops: the first key slowest, the last fastest */
    CU_ASSERT_STRING_EQUAL(value(s, 0, "device.dw_min"), "0.001");
    CU_ASSERT_STRING_EQUAL(value(s, 0, "data.ntasks"), "1");
    CU_ASSERT_STRING_EQUAL(value(s, 3, "data.ntasks"), "4");
    CU_ASSERT_STRING_EQUAL(value(s, 4, "device.dw_min"), "0.002");
    CU_ASSERT_STRING_EQUAL(value(s, 4, "data.ntasks"), "1");
    CU_ASSERT_STRING_EQUAL(value(s, 11, "device.dw_min"), "0.005");
    /* every combination exactly once */
    int seen[3][4] = {{0}};
    for (size_t k = 0; k < s->nruns; k++) {
        const char *d = value(s, k, "device.dw_min");
        const int i = !strcmp(d, "0.001") ? 0 : !strcmp(d, "0.002") ? 1 : 2;
        seen[i][atoi(value(s, k, "data.ntasks")) - 1]++;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) CU_ASSERT_EQUAL(seen[i][j], 1);
    /* the run config holds the run's values, [sweep] is gone, the origin is the sweep line */
    xb_config *r;
    CU_ASSERT_EQUAL_FATAL(xb_sweep_run_config(s, 6, &r, &e), XB_OK);
    CU_ASSERT_STRING_EQUAL(xb_config_str(r, "device", "dw_min", ""), "0.002");
    CU_ASSERT_STRING_EQUAL(xb_config_str(r, "data", "ntasks", ""), "3");
    CU_ASSERT_FALSE(xb_config_has_section(r, "sweep"));
    CU_ASSERT_EQUAL(xb_config_find(r, "device", "dw_min")->line, 4);
    xb_config_free(r);
    xb_sweep_free(s);
}

static void test_ranges_exact(void)
{
    xb_err e = {0};
    xb_sweep *s = expand("[sweep]\na.seed = 1..10\nb.ber = 1e-6..1e-1 log 6\nc.x = 0..1 lin 5\n"
                         "d.y = 3..3\ne.z = 0.5..-0.5 lin 3\n", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->nruns, 10 * 6 * 5 * 1 * 3);
    CU_ASSERT_EQUAL(s->axis[0].n, 10);
    for (size_t k = 0; k < 10; k++) CU_ASSERT_EQUAL(atoi(s->axis[0].values[k]), (int)k + 1);
    const double ber[6] = { 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1 };
    for (size_t k = 0; k < 6; k++) CU_ASSERT_EQUAL(strtod(s->axis[1].values[k], NULL), ber[k]);
    CU_ASSERT_STRING_EQUAL(s->axis[1].values[1], "1e-05");
    const double lin[5] = { 0, 0.25, 0.5, 0.75, 1 };
    for (size_t k = 0; k < 5; k++) CU_ASSERT_EQUAL(strtod(s->axis[2].values[k], NULL), lin[k]);
    CU_ASSERT_STRING_EQUAL(s->axis[3].values[0], "3");
    CU_ASSERT_STRING_EQUAL(s->axis[4].values[1], "0");         /* not -0 or 1e-17 */
    CU_ASSERT_STRING_EQUAL(s->axis[4].values[2], "-0.5");
    xb_sweep_free(s);
    /* '|' separates values that contain commas */
    s = expand("[sweep]\ndata.sequence = mnist,fmnist | fmnist,mnist | fmnist\n", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->nruns, 3);
    CU_ASSERT_STRING_EQUAL(s->axis[0].values[0], "mnist,fmnist");
    CU_ASSERT_STRING_EQUAL(s->axis[0].values[2], "fmnist");
    xb_sweep_free(s);
    /* without [sweep]: one run, the config itself */
    s = expand("[device]\ndw_min = 0.01\n", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->nruns, 1);
    xb_sweep_free(s);
}

static void test_zip(void)
{
    xb_err e = {0};
    xb_sweep *s = expand("[sweep]\ndevice.type = linear, softbounds, expstep\n"
                         "data.ntasks = 1, 2\ndevice.dw_min = 0.1, 0.2, 0.3\n"
                         "zip = device.type, device.dw_min\n", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->nruns, 6);
    CU_ASSERT_EQUAL(s->ngroups, 2);
    for (size_t k = 0; k < 6; k++) {             /* the zipped pair moves together */
        const char *t = value(s, k, "device.type"), *d = value(s, k, "device.dw_min");
        CU_ASSERT(( !strcmp(t, "linear") && !strcmp(d, "0.1")) ||
                  (!strcmp(t, "softbounds") && !strcmp(d, "0.2")) ||
                  (!strcmp(t, "expstep") && !strcmp(d, "0.3")));
    }
    CU_ASSERT_STRING_EQUAL(value(s, 1, "data.ntasks"), "2");   /* group 2 fastest */
    CU_ASSERT_STRING_EQUAL(value(s, 2, "device.type"), "softbounds");
    xb_sweep_free(s);
    /* named groups */
    s = expand("[sweep]\na.x = 1, 2\nb.y = 3, 4\nc.z = 5, 6\nd.w = 7, 8\n"
               "zip.one = a.x, c.z\nzip.two = b.y, d.w\n", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->nruns, 4);
    xb_sweep_free(s);
}

static void id_of(const char *text, char *id)
{
    xb_config *c = xb_config_alloc();
    xb_err e = {0};
    CU_ASSERT_EQUAL(xb_config_load_string(c, text, "t.ini", &e), XB_OK);
    CU_ASSERT_EQUAL(xb_sweep_run_id(c, id, &e), XB_OK);
    xb_config_free(c);
}

static void test_ids(void)
{
    /* FNV-1a 64 test vectors (Fowler/Noll/Vo reference test suite) */
    CU_ASSERT_EQUAL(xb_sweep_fnv1a(""), 0xcbf29ce484222325u);
    CU_ASSERT_EQUAL(xb_sweep_fnv1a("a"), 0xaf63dc4c8601ec8cu);
    CU_ASSERT_EQUAL(xb_sweep_fnv1a("foobar"), 0x85944171f73967e8u);
    char a[17], b[17], c[17], d[17];
    id_of("[device]\ntype = softbounds\ndw_min = 0.002\n[data]\nntasks = 3\n", a);
    id_of("[data]\nntasks=3\n\n; a comment\n[device]\ndw_min = 0.002\ntype = softbounds\n", b);
    id_of("[device]\ntype = softbounds\ndw_min = 0.003\n[data]\nntasks = 3\n", c);
    CU_ASSERT_STRING_EQUAL(a, b);                   /* same config, any order: same id */
    CU_ASSERT_STRING_NOT_EQUAL(a, c);               /* another value: another id */
    CU_ASSERT_EQUAL(strlen(a), 16);
    /* the canonical text is sorted by section, then key */
    xb_config *cf = xb_config_alloc();
    xb_err e = {0};
    xb_config_load_string(cf, "[z]\nb = 1\na = 2\n[m]\nk = v\n", "t.ini", &e);
    char *t = xb_sweep_canonical(cf);
    CU_ASSERT_STRING_EQUAL(t, "[m]\nk = v\n[z]\na = 2\nb = 1\n");
    snprintf(d, sizeof d, "%016llx", (unsigned long long)xb_sweep_fnv1a(t));
    char id[17];
    xb_sweep_run_id(cf, id, &e);
    CU_ASSERT_STRING_EQUAL(id, d);
    xb_free(t);
    xb_config_free(cf);
    /* the expansion's run k has the id of the same config written by hand */
    xb_sweep *s = expand("[device]\ntype = softbounds\n[sweep]\ndevice.dw_min = 0.002, 0.003\n"
                         "data.ntasks = 3\n", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    xb_config *r;
    xb_sweep_run_config(s, 0, &r, &e);
    xb_sweep_run_id(r, id, &e);
    CU_ASSERT_STRING_EQUAL(id, a);
    xb_config_free(r);
    xb_sweep_free(s);
}

static void test_set_overrides(void)
{
    xb_config *c = xb_config_alloc();
    xb_err e = {0};
    xb_sweep *s = NULL;
    CU_ASSERT_EQUAL(xb_config_load_string(c, "[device]\ndw_min = 0.001\n[sweep]\n"
                                          "device.dw_min = 0.001, 0.002, 0.005\ndata.ntasks = 1..3\n",
                                          "s.ini", &e), XB_OK);
    CU_ASSERT_EQUAL(xb_config_set(c, "sweep.data.ntasks=1..5", &e), XB_OK);   /* replace an axis */
    CU_ASSERT_EQUAL(xb_config_set(c, "sweep.device.dw_min_std=0, 0.3", &e), XB_OK); /* add one */
    CU_ASSERT_EQUAL_FATAL(xb_sweep_alloc(&s, c, NULL, &e), XB_OK);
    CU_ASSERT_EQUAL(s->nruns, 3 * 5 * 2);
    xb_sweep_free(s);
    CU_ASSERT_EQUAL(xb_config_set(c, "device.dw_min=0.05", &e), XB_OK);       /* fix a swept key */
    CU_ASSERT_EQUAL_FATAL(xb_sweep_alloc(&s, c, NULL, &e), XB_OK);
    CU_ASSERT_EQUAL(s->nruns, 5 * 2);
    xb_config *r;
    xb_sweep_run_config(s, 3, &r, &e);
    CU_ASSERT_STRING_EQUAL(xb_config_str(r, "device", "dw_min", ""), "0.05");
    xb_config_free(r);
    xb_sweep_free(s);
    xb_config_free(c);
}

static xb_status reject_nosuch(const char *section, const char *key, const xb_config *base,
                               xb_err *err)
{
    (void)base;
    if (strcmp(key, "nosuch")) return XB_OK;
    return xb_fail(err, XB_EINVAL, "%s.%s: unknown key '%s' in [%s]", section, key, key, section);
}

static void expect_error(const char *body, const char *want)
{
    char text[512];
    snprintf(text, sizeof text, "[device]\ntype = softbounds\n[sweep]\n%s", body);
    xb_config *c = xb_config_alloc();
    xb_err e = {0};
    xb_sweep *s = NULL;
    CU_ASSERT_EQUAL(xb_config_load_string(c, text, "s.ini", &e), XB_OK);
    CU_ASSERT_NOT_EQUAL(xb_sweep_alloc(&s, c, reject_nosuch, &e), XB_OK);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_STRING_EQUAL(e.msg, want);
    if (strcmp(e.msg, want)) fprintf(stderr, "\n  got:  %s\n  want: %s\n", e.msg, want);
    xb_sweep_free(s);
    xb_config_free(c);
}

static void test_errors(void)
{
    expect_error("a.b = 1\ndevice.dw_min =\n", "s.ini:5: [sweep] device.dw_min = '' is an empty list");
    expect_error("device.dw_min = 0.1, , 0.2\n", "s.ini:4: [sweep] device.dw_min = '0.1, , 0.2' has an empty item");
    expect_error("run.seed = 5..1\n", "s.ini:4: [sweep] run.seed = '5..1' is an empty range (5 > 1)");
    expect_error("run.seed = 1..\n", "s.ini:4: [sweep] run.seed = '1..' is not a valid range "
                 "(expected A..B, A..B log N or A..B lin N)");
    expect_error("run.seed = 1..2.5\n", "s.ini:4: [sweep] run.seed = '1..2.5' A..B needs integers "
                 "(write A..B lin N for real values)");
    expect_error("x.ber = 0..1e-1 log 6\n", "s.ini:4: [sweep] x.ber = '0..1e-1 log 6' is a log range "
                 "with an end <= 0 (both ends must be > 0)");
    expect_error("x.ber = 1e-6..1e-1 log 1\n", "s.ini:4: [sweep] x.ber = '1e-6..1e-1 log 1' needs a "
                 "count N in [2, 1000000], not 1");
    expect_error("x.y = 1..2 lin five\n", "s.ini:4: [sweep] x.y = '1..2 lin five' is not a valid range "
                 "(expected A..B, A..B log N or A..B lin N)");
    expect_error("x.y = 1, 2\nz.w = 1, 2, 3\nzip = x.y, z.w\n",
                 "s.ini:6: [sweep] zip = 'x.y, z.w' zips keys of unequal length: x.y has 2 values, "
                 "z.w has 3");
    expect_error("x.y = 1, 2\nzip = x.y, q.r\n", "s.ini:5: [sweep] zip = 'x.y, q.r' names 'q.r', "
                 "which is not a swept key");
    expect_error("x.y = 1, 2\nz.w = 1, 2\nzip.a = x.y, z.w\nzip.b = z.w\n",
                 "s.ini:7: [sweep] zip.b = 'z.w' names 'z.w', which is already in another zip group");
    expect_error("dw_min = 1, 2\n", "s.ini:4: [sweep] dw_min = '1, 2' is not a sweep key (write "
                 "section.key = values, or zip = key1, key2)");
    expect_error("device.nosuch = 1, 2\n", "s.ini:4: [sweep] device.nosuch: unknown key 'nosuch' in [device]");
    expect_error("x.y = 1, 2, 1\n", "s.ini:4: [sweep] x.y = '1, 2, 1' gives the value '1' twice");
    expect_error("x.y = 0, 1, 0\nz.w = 5, 6, 5\nzip = x.y, z.w\n",
                 "s.ini:4: [sweep] x.y = '0, 1, 0' and the keys zipped with it repeat row 1 as row 3 "
                 "(the same run twice)");
}

/* One change at a time: a zip group may repeat a value in one key (rows still differ). */
static void test_zip_repeats(void)
{
    const char *text = "[device]\ntype = softbounds\n[sweep]\nx.y = 0, 0.2, 0\nz.w = 1, 1, 2\n"
                       "zip = x.y, z.w\nrun.seed = 1, 2\n";
    xb_config *c = xb_config_alloc();
    xb_err e = {0};
    xb_sweep *s = NULL;
    CU_ASSERT_EQUAL(xb_config_load_string(c, text, "s.ini", &e), XB_OK);
    CU_ASSERT_EQUAL_FATAL(xb_sweep_alloc(&s, c, NULL, &e), XB_OK);
    CU_ASSERT_EQUAL(s->nruns, 6);
    CU_ASSERT_EQUAL(s->ngroups, 2);
    xb_sweep_free(s);
    xb_config_free(c);
}

static void test_shard_parse(void)
{
    unsigned i, n;
    xb_err e = {0};
    CU_ASSERT_EQUAL(xb_sweep_parse_shard("2/3", &i, &n, &e), XB_OK);
    CU_ASSERT(i == 2 && n == 3);
    const char *bad[] = { "3/3", "1", "/3", "1/0", "-1/3", "1/3x", "a/b" };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        CU_ASSERT_EQUAL(xb_sweep_parse_shard(bad[k], &i, &n, &e), XB_EINVAL);
}

static void test_alloc_failures(void)
{
    const char *text = "[device]\ndw_min = 0.001\n[sweep]\ndevice.dw_min = 0.001, 0.002\n"
                       "a.b = 1..3\nc.d = 1e-3..1 log 3\nzip = a.b, c.d\n";
    xb_config *c = xb_config_alloc();
    xb_err e = {0};
    CU_ASSERT_EQUAL_FATAL(xb_config_load_string(c, text, "s.ini", &e), XB_OK);
    for (long k = 0;; k++) {
        xb_sweep *s = NULL;
        xb_mem_fail_nth(k);
        const xb_status st = xb_sweep_alloc(&s, c, NULL, &e);
        xb_mem_fail_nth(-1);
        if (st == XB_OK) {
            CU_ASSERT(k > 10);
            CU_ASSERT_EQUAL(s->nruns, 6);
            xb_sweep_free(s);
            break;
        }
        CU_ASSERT(st == XB_ENOMEM && s == NULL);
        if (k > 10000) { CU_FAIL("xb_sweep_alloc never succeeds"); break; }
    }
    xb_config_free(c);
}

/* ---- the runner, with tests/sweep_standin.sh as the run ---- */

static void test_runner_status_and_resume(void)
{
    if (access("tests/sweep_standin.sh", X_OK) != 0) { CU_FAIL("run from the repository root"); return; }
    xb_err e = {0};
    xb_sweep *s = expand("[device]\ndw_min = 0.001\n[sweep]\ndevice.dw_min = 0.001, 0.002, 0.005\n"
                         "device.dw_min_std = 0.1, 0.2\n", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    enum { N = 6 };
    xb_run runs[N];
    xb_run_status st[N];
    char (*ids)[XB_RUN_ID_LEN + 1] = xb_calloc(N, sizeof *ids);
    for (size_t k = 0; k < N; k++) {
        xb_config *r;
        xb_sweep_run_config(s, k, &r, &e);
        runs[k].index = k;
        xb_sweep_run_id(r, runs[k].id, &e);
        memcpy(ids[k], runs[k].id, sizeof ids[k]);
        runs[k].ini = xb_config_to_ini(r);
        xb_config_free(r);
    }
    char dir[4096], out[4200];
    xb_test_path("sweep-runner", dir, sizeof dir);
    CU_ASSERT_EQUAL(xb_mkdirs(dir, &e), XB_OK);
    CU_ASSERT_EQUAL(xb_results_write_index(dir, s, ids, &e), XB_OK);
    const char *cmd[] = { "tests/sweep_standin.sh", "run", NULL };
    setenv("STANDIN_FAIL_IF", "device.dw_min=0.002", 1);
    setenv("STANDIN_NAN_IF", "device.dw_min=0.005", 1);
    xb_runner_opts o = { .dir = dir, .cmd = cmd, .jobs = 2, .threads = 1 };
    CU_ASSERT_EQUAL(xb_runner_run(&o, runs, N, st, &e), XB_OK);
    for (size_t k = 0; k < N; k++) {                /* runs 0,1 ok; 2,3 fail; 4,5 NaN */
        CU_ASSERT_EQUAL(st[k].state, k < 2 ? XB_RUN_OK : XB_RUN_FAILED);
        CU_ASSERT_EQUAL(st[k].skipped, 0);
    }
    CU_ASSERT_EQUAL(st[2].exit_code, 1);
    CU_ASSERT_STRING_EQUAL(st[2].error, "standin: cannot train with device.dw_min=0.002");
    CU_ASSERT_EQUAL(st[4].exit_code, 0);
    CU_ASSERT_STRING_EQUAL(st[4].error, "results.csv:4: accuracy is NaN");
    /* the done markers say the same */
    xb_run_status d;
    CU_ASSERT(xb_run_read_done(dir, runs[3].id, &d) && d.state == XB_RUN_FAILED && d.exit_code == 1);
    /* merged: 2 ok runs x 3 rows + 2 failed runs with no rows + 2 NaN runs x 3 rows */
    xb_merge_stats ms;
    const char *dirs[1] = { dir };
    snprintf(out, sizeof out, "%s/results.csv", dir);
    CU_ASSERT_EQUAL(xb_results_merge(dirs, 1, out, &ms, &e), XB_OK);
    CU_ASSERT(ms.runs == 6 && ms.ok == 2 && ms.failed == 4 && ms.missing == 0);
    CU_ASSERT_EQUAL(ms.rows, 2 * 3 + 2 * 1 + 2 * 3);
    /* resume: everything is finished, nothing runs again (the runner would fail now) */
    const char *nocmd[] = { "/nonexistent/runner", "run", NULL };
    o.cmd = nocmd;
    CU_ASSERT_EQUAL(xb_runner_run(&o, runs, N, st, &e), XB_OK);
    for (size_t k = 0; k < N; k++) CU_ASSERT_EQUAL(st[k].skipped, 1);
    /* retry_failed reruns the failed ones only; a runner that cannot start fails them */
    o.retry_failed = 1;
    CU_ASSERT_EQUAL(xb_runner_run(&o, runs, N, st, &e), XB_OK);
    for (size_t k = 0; k < N; k++) CU_ASSERT_EQUAL(st[k].skipped, k < 2);
    CU_ASSERT_EQUAL(st[3].exit_code, 127);
    unsetenv("STANDIN_FAIL_IF");
    unsetenv("STANDIN_NAN_IF");
    for (size_t k = 0; k < N; k++) xb_free((char *)runs[k].ini);
    xb_free(ids);
    xb_sweep_free(s);
}

static void test_runner_timeout(void)
{
    xb_err e = {0};
    xb_sweep *s = expand("[sweep]\ndevice.dw_min = 0.001, 0.002, 0.003\n", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    xb_run runs[3];
    xb_run_status st[3];
    for (size_t k = 0; k < 3; k++) {
        xb_config *r;
        xb_sweep_run_config(s, k, &r, &e);
        runs[k].index = k;
        xb_sweep_run_id(r, runs[k].id, &e);
        runs[k].ini = xb_config_to_ini(r);
        xb_config_free(r);
    }
    char dir[4096];
    xb_test_path("sweep-timeout", dir, sizeof dir);
    const char *cmd[] = { "tests/sweep_standin.sh", "run", NULL };
    setenv("STANDIN_HANG_IF", "device.dw_min=0.002", 1);      /* run 1 sleeps 1000 s */
    xb_runner_opts o = { .dir = dir, .cmd = cmd, .jobs = 2, .threads = 1, .timeout = 1.0 };
    CU_ASSERT_EQUAL(xb_runner_run(&o, runs, 3, st, &e), XB_OK);
    unsetenv("STANDIN_HANG_IF");
    CU_ASSERT(st[0].state == XB_RUN_OK && st[2].state == XB_RUN_OK);
    CU_ASSERT_EQUAL(st[1].state, XB_RUN_FAILED);
    CU_ASSERT_EQUAL(st[1].exit_code, -9);
    CU_ASSERT_STRING_EQUAL(st[1].error, "timed out after 1 s (killed)");
    CU_ASSERT(st[1].seconds >= 1.0 && st[1].seconds < 30);
    for (size_t k = 0; k < 3; k++) xb_free((char *)runs[k].ini);
    xb_sweep_free(s);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char p[4300];
    xb_err e = {0};
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CU_ASSERT_EQUAL(xb_runner_write_atomic(p, text, strlen(text), &e), XB_OK);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    static char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Runs with different results.csv headers: the union of columns in first-seen order,
 * blanks where a run has no such column; expansion order, not directory order; a run
 * without done is left out; quoting of fields with commas. */
static void test_merge_columns(void)
{
    char d1[4096], d2[4096], out[4200];
    xb_err e = {0};
    xb_test_path("merge1", d1, sizeof d1);
    xb_test_path("merge2", d2, sizeof d2);
    const char *index = "index,run_id,device.type\n0,aaaa,linear\n1,bbbb,ftj\n2,cccc,dw\n";
    const char *rd[] = { "/runs/aaaa", "/runs/bbbb", "/runs/cccc" };
    for (int k = 0; k < 3; k++) {
        char p[4300];
        snprintf(p, sizeof p, "%s%s", k == 1 ? d1 : d2, rd[k]);
        CU_ASSERT_EQUAL(xb_mkdirs(p, &e), XB_OK);
    }
    put_file(d1, "runs.csv", index);
    put_file(d2, "runs.csv", index);
    put_file(d1, "runs/bbbb/results.csv", "epoch,accuracy,e_ftj_J\n1,0.5,3e-9\n");
    put_file(d1, "runs/bbbb/done", "status=ok\nexit=0\nseconds=1\nerror=\n");
    put_file(d2, "runs/aaaa/results.csv", "epoch,accuracy\n1,0.7\n2,0.8\n");
    put_file(d2, "runs/aaaa/done", "status=ok\nexit=0\nseconds=1\nerror=\n");
    put_file(d2, "runs/cccc/results.csv", "epoch,accuracy\n1,0.1\n");   /* no done: left out */
    const char *dirs[2] = { d1, d2 };
    snprintf(out, sizeof out, "%s/m.csv", d1);
    xb_merge_stats ms;
    CU_ASSERT_EQUAL_FATAL(xb_results_merge(dirs, 2, out, &ms, &e), XB_OK);
    CU_ASSERT(ms.runs == 3 && ms.ok == 2 && ms.failed == 0 && ms.missing == 1 && ms.rows == 3);
    CU_ASSERT_STRING_EQUAL(slurp(out),
        "run_id,device.type,status,error,epoch,accuracy,e_ftj_J\n"
        "aaaa,linear,ok,,1,0.7,\n"
        "aaaa,linear,ok,,2,0.8,\n"
        "bbbb,ftj,ok,,1,0.5,3e-9\n");
    /* a failed run with a comma in its error, no rows */
    put_file(d2, "runs/cccc/done", "status=failed\nexit=2\nseconds=0\nerror=bad, \"very\" bad\n");
    CU_ASSERT_EQUAL(xb_results_merge(dirs, 2, out, &ms, &e), XB_OK);
    CU_ASSERT(strstr(slurp(out), "cccc,dw,failed,\"bad, \"\"very\"\" bad\",1,0.1,\n") != NULL);
    /* an ok run whose results.csv went missing is reported, the others still merge */
    char gone[4300];
    snprintf(gone, sizeof gone, "%s/runs/bbbb/results.csv", d1);
    CU_ASSERT_EQUAL(remove(gone), 0);
    CU_ASSERT_EQUAL(xb_results_merge(dirs, 2, out, &ms, &e), XB_OK);
    CU_ASSERT(ms.ok == 1 && ms.failed == 2 && ms.rows == 4);
    CU_ASSERT(strstr(slurp(out), "bbbb,ftj,failed,results.csv unreadable since the run finished "
                                 "(delete runs/bbbb/done to rerun it),,\n") != NULL);
    /* directories of different sweeps */
    put_file(d2, "runs.csv", "index,run_id,device.dw_min\n0,aaaa,0.1\n");
    CU_ASSERT_EQUAL(xb_results_merge(dirs, 2, out, &ms, &e), XB_EINVAL);
    CU_ASSERT(strstr(e.msg, "not shards of one sweep") != NULL);
}

XB_SUITE(sweep, XB_TEST(test_grid_order), XB_TEST(test_ranges_exact), XB_TEST(test_zip),
         XB_TEST(test_ids), XB_TEST(test_set_overrides), XB_TEST(test_errors), XB_TEST(test_zip_repeats),
         XB_TEST(test_shard_parse), XB_TEST(test_alloc_failures),
         XB_TEST(test_runner_status_and_resume), XB_TEST(test_runner_timeout),
         XB_TEST(test_merge_columns))
