/* tests/test_config.c: parameter schemas, INI loading and its error messages, CSV reader.
 * The messages are part of the interface: each bad input must produce exactly the line
 * the user sees. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/xb_config.h"
#include "core/xb_csv.h"
#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "devices/xb_device.h"
#include "tests/xb_test.h"

enum { S_DW, S_BITS, S_FLAG, S_MODE, S_NAME, S_N };
static const xb_param_spec spec[S_N] = {
    [S_DW] = { "dw_min", 0.001, "w", 0, 0.1, "mean step of one pulse" },
    [S_BITS] = { "adc_bits", 8, "bits", 1, 16, "ADC resolution", XB_P_INT },
    [S_FLAG] = { "ir_drop", 0, "", 0, 1, "solve wire resistance", XB_P_BOOL },
    [S_MODE] = { "update", 1, "", 0, 0, "update rule", XB_P_ENUM, "deterministic|stochastic" },
    [S_NAME] = { "label", 0, "", 0, 0, "free text", XB_P_STR, "none" },
};

static xb_status load(xb_config *c, const char *text, xb_err *e)
{
    return xb_config_load_string(c, text, "t.ini", e);
}

static void expect_msg(const char *text, const char *want)
{
    xb_config *c = xb_config_alloc();
    xb_err e = {0};
    double v[S_N];
    const xb_param_spec *tabs[1] = { spec };
    const size_t ns[1] = { S_N };
    xb_status st = load(c, text, &e);
    if (st == XB_OK) st = xb_config_check_keys(c, "x", tabs, ns, 1, NULL, &e);
    if (st == XB_OK) st = xb_config_params(c, "x", spec, S_N, v, &e);
    CU_ASSERT(st != XB_OK);
    CU_ASSERT_STRING_EQUAL(e.msg, want);
    if (strcmp(e.msg, want)) fprintf(stderr, "\n  got:  %s\n  want: %s\n", e.msg, want);
    xb_config_free(c);
}

static void test_messages(void)
{
    expect_msg("[x]\ndw_min = 0.5\n", "t.ini:2: [x] dw_min = 0.5 w is outside [0, 0.1] w");
    expect_msg("[x]\n\ndw_min = abc\n", "t.ini:3: [x] dw_min = 'abc' is not a number");
    expect_msg("[x]\nadc_bits = 6.5\n", "t.ini:2: [x] adc_bits = '6.5' is not an integer");
    expect_msg("[x]\nadc_bits = 17\n",
               "t.ini:2: [x] adc_bits = 17 bits is outside integer in [1, 16] bits");
    expect_msg("[x]\nir_drop = maybe\n",
               "t.ini:2: [x] ir_drop = 'maybe' is not a boolean (use true or false)");
    expect_msg("[x]\nupdate = random\n",
               "t.ini:2: [x] update = 'random' is not one of deterministic|stochastic");
    expect_msg("[x]\ndw_mni = 0.01\n", "t.ini:2: [x] unknown key 'dw_mni' (did you mean 'dw_min'?)");
    expect_msg("[x]\nzzzzzz = 1\n", "t.ini:2: [x] unknown key 'zzzzzz' (see `xbemu config show`)");
    expect_msg("[x]\ndw_min 0.01\n",
               "t.ini:2: syntax error (expected [section], key = value, or a comment starting "
               "with ; or #)");
    expect_msg("[x\ndw_min = 1\n",
               "t.ini:1: syntax error (expected [section], key = value, or a comment starting "
               "with ; or #)");
    expect_msg("dw_min = 1\n", "t.ini:1: 'dw_min' is outside any [section]");
    expect_msg("[x]\ndw_min = 0.01\ndw_min = 0.02\n",
               "t.ini:3: [x] dw_min is set twice (first at line 2)");
    expect_msg("[x]\ndw_min = nan\n", "t.ini:2: [x] dw_min = 'nan' is not a number");
    char big[400];
    snprintf(big, sizeof big, "[x]\nlabel = %0300d\n", 1);
    expect_msg(big, "t.ini:2: line longer than 198 characters");
}

static void test_values_and_overrides(void)
{
    xb_config *c = xb_config_alloc();
    xb_err e = {0};
    double v[S_N];
    CU_ASSERT_EQUAL_FATAL(load(c, "; comment\n[x]\ndw_min = 1e-3 ; inline\nadc_bits = 6\n"
                                  "ir_drop = yes\nupdate = deterministic\nlabel = hello world\n", &e), XB_OK);
    CU_ASSERT_EQUAL(xb_config_params(c, "x", spec, S_N, v, &e), XB_OK);
    CU_ASSERT_EQUAL(v[S_DW], 1e-3);
    CU_ASSERT_EQUAL(v[S_BITS], 6);
    CU_ASSERT_EQUAL(v[S_FLAG], 1);
    CU_ASSERT_EQUAL(v[S_MODE], 0);
    CU_ASSERT(isnan(v[S_NAME]));
    CU_ASSERT_STRING_EQUAL(xb_config_str(c, "x", "label", "?"), "hello world");
    CU_ASSERT_EQUAL(xb_config_set(c, "x.adc_bits=4", &e), XB_OK);
    CU_ASSERT_EQUAL(xb_config_set(c, "x.adc_bits=5", &e), XB_OK);   /* later --set wins */
    CU_ASSERT_EQUAL(xb_config_params(c, "x", spec, S_N, v, &e), XB_OK);
    CU_ASSERT_EQUAL(v[S_BITS], 5);
    CU_ASSERT_STRING_EQUAL(xb_config_find(c, "x", "adc_bits")->origin, "--set");
    CU_ASSERT_EQUAL(xb_config_set(c, "x.adc_bits=99", &e), XB_OK);
    CU_ASSERT_EQUAL(xb_config_params(c, "x", spec, S_N, v, &e), XB_ERANGE);
    CU_ASSERT_STRING_EQUAL(e.msg, "--set: [x] adc_bits = 99 bits is outside integer in [1, 16] bits");
    CU_ASSERT_EQUAL(xb_config_set(c, "adc_bits=3", &e), XB_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.msg, "--set: 'adc_bits=3' is not of the form section.key=value");
    /* defaults when absent; a failed load keeps the previous content */
    const size_t before = c->n;
    CU_ASSERT_NOT_EQUAL(load(c, "[y]\nq = 1\n[y\n", &e), XB_OK);
    CU_ASSERT_EQUAL(c->n, before);
    CU_ASSERT_PTR_NULL(xb_config_find(c, "y", "q"));
    /* round trip through INI text */
    char *ini = xb_config_to_ini(c);
    xb_config *d = xb_config_alloc();
    CU_ASSERT_EQUAL(load(d, ini, &e), XB_OK);
    CU_ASSERT_STRING_EQUAL(xb_config_str(d, "x", "label", "?"), "hello world");
    CU_ASSERT_STRING_EQUAL(xb_config_str(d, "x", "adc_bits", "?"), "99");
    xb_free(ini);
    xb_config_free(d);
    const char *known[] = { "x", "z", NULL };
    CU_ASSERT_EQUAL(xb_config_check_sections(c, known, &e), XB_OK);
    CU_ASSERT_EQUAL(xb_config_set(c, "q.k=1", &e), XB_OK);
    CU_ASSERT_EQUAL(xb_config_check_sections(c, known, &e), XB_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.msg, "--set: unknown section [q] (did you mean [x]?)");
    xb_config_free(c);
}

static void test_file_errors(void)
{
    char path[512];
    xb_err e = {0};
    xb_config *c = xb_config_alloc();
    CU_ASSERT_EQUAL(xb_config_load(c, "/nonexistent/x.ini", &e), XB_EIO);
    CU_ASSERT_STRING_EQUAL(e.msg, "/nonexistent/x.ini: cannot open config file");
    xb_test_write("a.ini", "[x]\nadc_bits = 40\n", 18, path, sizeof path);
    CU_ASSERT_EQUAL(xb_config_load(c, path, &e), XB_OK);
    double v[S_N];
    CU_ASSERT_EQUAL(xb_config_params(c, "x", spec, S_N, v, &e), XB_ERANGE);
    char want[700];
    snprintf(want, sizeof want, "%s:2: [x] adc_bits = 40 bits is outside integer in [1, 16] bits", path);
    CU_ASSERT_STRING_EQUAL(e.msg, want);
    xb_config_free(c);
}

static void test_schema_tables(void)
{
    CU_ASSERT_PTR_NULL(xb_param_table_check(spec, S_N));
    CU_ASSERT_PTR_NULL(xb_param_table_check(xb_section_data.params, xb_section_data.nparams));
    CU_ASSERT_PTR_NULL(xb_param_table_check(xb_section_device_common.params,
                                            xb_section_device_common.nparams));
    for (size_t i = 0; xb_device_types[i]; i++) {
        const char *why = xb_param_table_check(xb_device_types[i]->params, xb_device_types[i]->nparams);
        if (why) fprintf(stderr, "\n  %s: %s\n", xb_device_types[i]->name, why);
        CU_ASSERT_PTR_NULL(why);
    }
    const xb_param_spec bad[2] = { { "a", 5, "", 0, 1, "doc", 0, NULL, NULL },
                                   { "b", 0, "", 0, 1, "", 0, NULL, NULL } };
    CU_ASSERT_STRING_EQUAL(xb_param_table_check(bad, 1), "a: default 5 outside [0, 1]");
    CU_ASSERT_STRING_EQUAL(xb_param_table_check(bad + 1, 1), "b has no doc");
    const xb_param_spec dup[2] = { { "a", 0, "", 0, 1, "doc", 0, NULL, NULL },
                                   { "a", 0, "", 0, 1, "doc", 0, NULL, NULL } };
    CU_ASSERT_STRING_EQUAL(xb_param_table_check(dup, 2), "a appears twice");
    char buf[64];
    CU_ASSERT_STRING_EQUAL(xb_param_format(&spec[S_DW], 0.001, buf, sizeof buf), "0.001");
    CU_ASSERT_STRING_EQUAL(xb_param_format(&spec[S_MODE], 1, buf, sizeof buf), "stochastic");
    CU_ASSERT_EQUAL(xb_edit_distance("kitten", "sitting"), 3);
}

static void test_alloc_failures(void)   /* every allocation of a load may fail: no leak, no crash */
{
    for (long k = 0; k < 200; k++) {
        xb_config *c = NULL;
        xb_err e = {0};
        xb_mem_fail_nth(k);
        c = xb_config_alloc();
        xb_status st = c ? load(c, "[x]\ndw_min = 0.01\nadc_bits = 3\n[y]\nz = 1\n", &e) : XB_ENOMEM;
        if (st == XB_OK) st = c ? xb_config_set(c, "x.label=a", &e) : XB_ENOMEM;
        xb_mem_fail_nth(-1);
        xb_config_free(c);
        if (st == XB_OK) break;
        CU_ASSERT_EQUAL(st, XB_ENOMEM);
    }
}

/* ---- CSV ---- */
static xb_csv *csv(const char *text, const xb_csv_opts *o, xb_err *e)
{
    xb_csv *t = NULL;
    xb_csv_parse(text, strlen(text), "m.csv", o, &t, e);
    return t;
}

static void test_csv(void)
{
    xb_err e = {0};
    xb_csv *t = csv("# measured\npulse,g\n0,1.5e-3\n\n1, 2e-3\r\n", NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->nrows, 2);
    CU_ASSERT_EQUAL(t->ncols, 2);
    CU_ASSERT(t->has_header);
    CU_ASSERT_EQUAL(xb_csv_col(t, "g"), 1);
    double v;
    CU_ASSERT_EQUAL(xb_csv_number(t, 1, 1, &v, &e), XB_OK);
    CU_ASSERT_EQUAL(v, 2e-3);
    CU_ASSERT_EQUAL(t->line[1], 5);
    xb_csv_free(t);
    t = csv("3.0e-10\t0.1\n\t\n4e-10\t0.2\n", NULL, &e);         /* MTJ layout */
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT(!t->has_header);
    CU_ASSERT_EQUAL(t->nrows, 2);
    CU_ASSERT_EQUAL(t->delim, '\t');
    xb_csv_free(t);
    t = csv("a,b,c\n1,,\n2,3,4\n", NULL, &e);                   /* empty fields kept */
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_STRING_EQUAL(xb_csv_cell(t, 0, 1), "");
    CU_ASSERT_EQUAL(xb_csv_number(t, 0, 2, &v, &e), XB_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.msg, "m.csv:2: column 3 (c) is empty");
    xb_csv_free(t);
    t = csv("name,x\n\"a, \"\"quoted\"\"\",1\n", NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_STRING_EQUAL(xb_csv_cell(t, 0, 0), "a, \"quoted\"");
    xb_csv_free(t);
    t = csv("x y z\n1 2   3\n", NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->ncols, 3);
    CU_ASSERT_STRING_EQUAL(xb_csv_cell(t, 0, 2), "3");
    xb_csv_free(t);
    /* errors */
    CU_ASSERT_PTR_NULL(csv("a,b\n1,2\n3\n", NULL, &e));
    CU_ASSERT_STRING_EQUAL(e.msg, "m.csv:3: 1 fields, expected 2");
    const xb_csv_opts rag = { .delim = 0, .header = -1, .comment = '#', .ragged = 1 };
    t = csv("a,b\n1,2\n3\n", &rag, &e);
    CU_ASSERT_PTR_NOT_NULL(t);
    xb_csv_free(t);
    CU_ASSERT_PTR_NULL(csv("", NULL, &e));
    CU_ASSERT_STRING_EQUAL(e.msg, "m.csv: empty table (no data lines)");
    CU_ASSERT_PTR_NULL(csv("a,b\n", NULL, &e));
    CU_ASSERT_STRING_EQUAL(e.msg, "m.csv: no data rows after the header");
    CU_ASSERT_PTR_NULL(csv("a,b\n\"1,2\n", NULL, &e));
    CU_ASSERT_STRING_EQUAL(e.msg, "m.csv:2: unterminated or misplaced quote");
    t = csv("p,g\n1,abc\n", NULL, &e);
    CU_ASSERT_EQUAL(xb_csv_number(t, 0, 1, &v, &e), XB_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.msg, "m.csv:2: column 2 (g): 'abc' is not a finite number");
    CU_ASSERT_EQUAL(xb_csv_number(t, 0, 0, &v, &e), XB_OK);
    xb_csv_free(t);
    t = csv("p;g\n1;2\n", NULL, &e);
    CU_ASSERT(t && t->delim == ';' && t->ncols == 2);
    xb_csv_free(t);
    char q[64];
    CU_ASSERT_STRING_EQUAL(xb_csv_quote("a,b", q, sizeof q), "\"a,b\"");
    CU_ASSERT_STRING_EQUAL(xb_csv_quote("plain", q, sizeof q), "plain");
}

XB_SUITE(config, XB_TEST(test_messages), XB_TEST(test_values_and_overrides),
         XB_TEST(test_file_errors), XB_TEST(test_schema_tables), XB_TEST(test_alloc_failures),
         XB_TEST(test_csv))
