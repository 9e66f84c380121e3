/* cli/cmd_version.c: `xbemu version`. */
#include <cairo.h>
#include <gsl/gsl_version.h>
#include <omp.h>
#include <png.h>
#include <stdio.h>
#include <zlib.h>

#include "cli/xb_cli.h"
#include "core/xb_par.h"

int xb_cmd_version(int argc, char **argv)
{
    if (argc > 1 && xb_cli_is_help(argv[1])) {
        printf("usage: xbemu version\n\nPrints the version, git commit, compiler, libraries, "
               "BLAS and thread count.\n");
        return XB_EXIT_OK;
    }
    printf("xbemu %s (git %s)\n", XB_VERSION, XB_GIT_HASH);
    printf("compiler: gcc %s\n", __VERSION__);
    printf("BLAS: %s, %d threads\n", xb_par_blas_info(), xb_par_blas_threads(0));
    printf("OpenMP threads: %d\n", omp_get_max_threads());
    printf("GSL %s, libpng %s, zlib %s, cairo %s\n", GSL_VERSION, png_get_libpng_ver(NULL),
           zlibVersion(), cairo_version_string());
    return XB_EXIT_OK;
}
