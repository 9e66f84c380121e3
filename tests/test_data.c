/* tests/test_data.c: IDX reader (never crashes, names what is wrong), MNIST conversion
 * (the 8,000/2,000 split of ../shared/ref/data.py), data sets and task streams. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/xb_dataset.h"
#include "core/xb_idx.h"
#include "core/xb_mem.h"
#include "devices/xb_bank.h"
#include "tests/xb_test.h"

static size_t make_idx(uint8_t *buf, uint32_t n, uint32_t r, uint32_t c)
{
    const uint8_t hdr[16] = { 0, 0, 8, 3, n >> 24, n >> 16, n >> 8, n, r >> 24, r >> 16, r >> 8, r,
                              c >> 24, c >> 16, c >> 8, c };
    memcpy(buf, hdr, 16);
    for (size_t i = 0; i < (size_t)n * r * c; i++) buf[16 + i] = (uint8_t)(i * 7);
    return 16 + (size_t)n * r * c;
}

static void test_idx_parse_and_truncation(void)
{
    uint8_t buf[16 + 3 * 4 * 5];
    const size_t len = make_idx(buf, 3, 4, 5);
    xb_idx x;
    xb_err e = {0};
    CU_ASSERT_EQUAL_FATAL(xb_idx_parse(buf, len, "ok.idx", &x, &e), XB_OK);
    CU_ASSERT(x.ndims == 3 && x.dims[0] == 3 && x.dims[1] == 4 && x.dims[2] == 5 && x.count == 60);
    CU_ASSERT_EQUAL(x.data[59], (uint8_t)(59 * 7));
    xb_idx_free(&x);
    for (size_t k = 0; k < len; k++) {             /* every truncation is an error */
        CU_ASSERT_NOT_EQUAL(xb_idx_parse(buf, k, "t.idx", &x, &e), XB_OK);
        CU_ASSERT_PTR_NULL(x.data);
        CU_ASSERT(strstr(e.msg, "t.idx: ") == e.msg);
    }
    CU_ASSERT_EQUAL(xb_idx_parse(buf, len - 1, "t.idx", &x, &e), XB_EIO);
    CU_ASSERT_STRING_EQUAL(e.msg, "t.idx: truncated IDX file: 75 bytes, the header promises 76");
    uint8_t bad[sizeof buf + 1];
    memcpy(bad, buf, len);
    bad[len] = 0;
    CU_ASSERT_EQUAL(xb_idx_parse(bad, len + 1, "t.idx", &x, &e), XB_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.msg, "t.idx: 1 bytes after the IDX data (corrupt file?)");
    bad[0] = 1;
    CU_ASSERT_EQUAL(xb_idx_parse(bad, len, "t.idx", &x, &e), XB_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.msg, "t.idx: not an IDX file (magic 01 00, expected 00 00)");
    bad[0] = 0; bad[2] = 0x07;
    CU_ASSERT_EQUAL(xb_idx_parse(bad, len, "t.idx", &x, &e), XB_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.msg, "t.idx: unknown IDX element type 0x07");
    bad[2] = 8; bad[3] = 9;
    CU_ASSERT_EQUAL(xb_idx_parse(bad, len, "t.idx", &x, &e), XB_EINVAL);
    bad[3] = 3; bad[7] = 0;                         /* dimension 0 */
    CU_ASSERT_EQUAL(xb_idx_parse(bad, len, "t.idx", &x, &e), XB_EINVAL);
    const uint8_t huge[16] = { 0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    CU_ASSERT_EQUAL(xb_idx_parse(huge, 16, "t.idx", &x, &e), XB_EINVAL);
}

static void test_idx_files(void)
{
    char path[512];
    xb_err e = {0};
    xb_idx x;
    const uint32_t dims[3] = { 2, 3, 4 };
    uint8_t data[24];
    for (int i = 0; i < 24; i++) data[i] = (uint8_t)(3 * i + 1);
    xb_test_path("w.idx.gz", path, sizeof path);
    CU_ASSERT_EQUAL_FATAL(xb_idx_write_u8_gz(path, 3, dims, data, &e), XB_OK);
    CU_ASSERT_EQUAL_FATAL(xb_idx_read(path, &x, &e), XB_OK);
    CU_ASSERT(x.count == 24 && memcmp(x.data, data, 24) == 0);
    xb_idx_free(&x);
    /* a gzip stream cut short: every prefix of the compressed file is an error, no crash */
    FILE *f = fopen(path, "rb");
    uint8_t gz[256];
    const size_t glen = fread(gz, 1, sizeof gz, f);
    fclose(f);
    for (size_t k = 0; k + 1 < glen; k++) {
        char p2[512];
        xb_test_write("cut.gz", gz, k, p2, sizeof p2);
        CU_ASSERT_NOT_EQUAL(xb_idx_read(p2, &x, &e), XB_OK);
    }
    CU_ASSERT_EQUAL(xb_idx_read("/nonexistent.idx", &x, &e), XB_EIO);
    CU_ASSERT(strstr(e.msg, "/nonexistent.idx: cannot open") == e.msg);
}

static const char *digits_dir(void)
{
    /* ten tiny digit files: class d has d+1 images whose first pixel is d/255 */
    static char dir[512];
    if (dir[0]) return dir;
    char path[512];
    for (int d = 0; d < 10; d++) {
        char name[32];
        snprintf(name, sizeof name, "%d.json", d);
        static char text[40 * 784 * 8];
        int k = snprintf(text, sizeof text, "{ \"data\": [");
        for (int img = 0; img <= d; img++)
            for (int p = 0; p < 784; p++)
                k += snprintf(text + k, sizeof text - k, "%s%.3f", img || p ? "," : "",
                              p == 0 ? d / 255.0 : p == 1 ? img / 255.0 : 0.0);
        k += snprintf(text + k, sizeof text - k, "] }\n");
        xb_test_write(name, text, (size_t)k, path, sizeof path);
    }
    snprintf(dir, sizeof dir, "%s", xb_test_tmpdir());
    return dir;
}

static void test_mnist_convert(void)
{
    xb_err e = {0};
    size_t ntr, nte;
    char out[512];
    xb_test_path("mnist", out, sizeof out);
    CU_ASSERT_EQUAL_FATAL(xb_mnist_convert(digits_dir(), out, &ntr, &nte, &e), XB_OK);
    CU_ASSERT_EQUAL(ntr + nte, 55);
    CU_ASSERT_EQUAL(nte, 11);                       /* k % 5 == 4 for k < 55 */
    char im[600], lb[600];
    snprintf(im, sizeof im, "%s/t10k-images-idx3-ubyte.gz", out);
    snprintf(lb, sizeof lb, "%s/t10k-labels-idx1-ubyte.gz", out);
    xb_dataset *d;
    CU_ASSERT_EQUAL_FATAL(xb_dataset_from_idx(im, lb, "mnist", 1, &d, &e), XB_OK);
    /* global indices 4, 9, 14, ...: digit d starts at d(d+1)/2 */
    for (size_t i = 0; i < d->n; i++) {
        const size_t k = 5 * i + 4;
        int dg = 0;
        while ((size_t)(dg + 1) * (dg + 2) / 2 <= k) dg++;
        CU_ASSERT_EQUAL(d->y[i], dg);
        CU_ASSERT_EQUAL((int)(d->x[i * 784] * 255 + 0.5), dg);
        CU_ASSERT_EQUAL((int)(d->x[i * 784 + 1] * 255 + 0.5), (int)(k - (size_t)dg * (dg + 1) / 2));
    }
    xb_dataset_free(d);
    /* bad inputs */
    uint8_t *pix;
    size_t n;
    CU_ASSERT_EQUAL(xb_mnist_json_parse("{\"data\": [0.5, 2]}", 18, "j", &pix, &n, &e), XB_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.msg, "j: byte 16: expected a pixel value in [0, 1]");
    CU_ASSERT_EQUAL(xb_mnist_json_parse("{\"data\": [0.5, 0.25]}", 21, "j", &pix, &n, &e), XB_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.msg, "j: 2 values is not a whole number of 28x28 images");
    CU_ASSERT_EQUAL(xb_mnist_json_parse("{\"x\": []}", 9, "j", &pix, &n, &e), XB_EINVAL);
    CU_ASSERT_EQUAL(xb_mnist_json_parse("{\"data\": [0.5, ", 15, "j", &pix, &n, &e), XB_EINVAL);
}

static void test_real_datasets(void)   /* ./setup (or make test) converts them first */
{
    static const size_t test_counts[10] = { 200, 225, 198, 207, 196, 172, 203, 214, 189, 196 };
    xb_err e = {0};
    xb_dataset *tr = NULL, *te = NULL, *ftr = NULL, *fte = NULL;
    if (xb_dataset_load("mnist", 0, NULL, &tr, &e) || xb_dataset_load("mnist", 1, NULL, &te, &e) ||
        xb_dataset_load("fmnist", 0, NULL, &ftr, &e) || xb_dataset_load("fmnist", 1, NULL, &fte, &e)) {
        fprintf(stderr, "\n  %s\n", e.msg);
        CU_FAIL("data sets missing: run ./setup");
    } else {
        size_t c[256];
        CU_ASSERT_EQUAL(tr->n, 8000);
        CU_ASSERT_EQUAL(te->n, 2000);
        xb_dataset_label_counts(te, c);
        for (int k = 0; k < 10; k++) CU_ASSERT_EQUAL(c[k], test_counts[k]);
        CU_ASSERT_EQUAL(ftr->n, 60000);
        CU_ASSERT_EQUAL(fte->n, 10000);
        xb_dataset_label_counts(ftr, c);
        for (int k = 0; k < 10; k++) CU_ASSERT_EQUAL(c[k], 6000);
        CU_ASSERT(tr->dim == 784 && ftr->dim == 784 && te->nclasses == 10);
        /* subset: deterministic, the same for the same seed, roughly class-balanced */
        xb_dataset *s1, *s2;
        CU_ASSERT_EQUAL_FATAL(xb_dataset_subset(ftr, 1000, 7, &s1, &e), XB_OK);
        CU_ASSERT_EQUAL_FATAL(xb_dataset_subset(ftr, 1000, 7, &s2, &e), XB_OK);
        CU_ASSERT(memcmp(s1->x, s2->x, 1000 * 784 * sizeof(float)) == 0);
        xb_dataset_label_counts(s1, c);
        for (int k = 0; k < 10; k++) CU_ASSERT(c[k] > 100 - 5 * 10 && c[k] < 100 + 5 * 10);
        xb_dataset_free(s1);
        xb_dataset_free(s2);
        /* tasks: permuted (first identity) and MNIST -> FMNIST */
        xb_taskset *ts;
        CU_ASSERT_EQUAL_FATAL(xb_taskset_permuted(tr, te, 3, 1, 1, &ts, &e), XB_OK);
        float a[784], b[784];
        unsigned la, lb;
        xb_task_sample(&ts->t[0], 1, 17, a, &la);
        CU_ASSERT(memcmp(a, te->x + 17 * 784, sizeof a) == 0 && la == te->y[17]);
        xb_task_sample(&ts->t[2], 0, 5, b, &lb);
        for (int j = 0; j < 784; j++) CU_ASSERT_EQUAL(b[j], tr->x[5 * 784 + ts->t[2].perm[j]]);
        xb_taskset_free(ts);
        const xb_dataset *trs[2] = { tr, ftr }, *tes[2] = { te, fte };
        CU_ASSERT_EQUAL_FATAL(xb_taskset_sequence(trs, tes, 2, &ts, &e), XB_OK);
        CU_ASSERT_STRING_EQUAL(ts->t[1].name, "fmnist");
        xb_taskset_free(ts);
    }
    xb_dataset_free(tr); xb_dataset_free(te); xb_dataset_free(ftr); xb_dataset_free(fte);
    CU_ASSERT_EQUAL(xb_dataset_load("cifar", 0, NULL, &tr, &e), XB_EINVAL);
    CU_ASSERT_STRING_EQUAL(e.msg, "unknown data set 'cifar' (known: mnist, fmnist)");
}

static void test_bank_alloc_failures(void)
{
    const xb_device_type *T = xb_device_find("softbounds");
    double p[64];
    xb_param_defaults(T->params, T->nparams, p);
    for (long k = 0;; k++) {
        xb_bank *b;
        xb_err e = {0};
        xb_mem_fail_nth(k);
        const xb_status st = xb_bank_alloc(&b, T, p, 8, 1, &e);
        xb_mem_fail_nth(-1);
        if (st == XB_OK) { xb_bank_free(b); CU_ASSERT_EQUAL(k, 3); break; }
        CU_ASSERT(st == XB_ENOMEM && b == NULL && e.msg[0]);
    }
}

XB_SUITE(data, XB_TEST(test_idx_parse_and_truncation), XB_TEST(test_idx_files),
         XB_TEST(test_mnist_convert), XB_TEST(test_real_datasets), XB_TEST(test_bank_alloc_failures))
