/* experiments/results.c: runs.csv and the merged results.csv (see xb_results.h). */
#include "experiments/xb_results.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xb_csv.h"
#include "core/xb_mem.h"
#include "experiments/xb_runner.h"

enum { PATH_LEN = 4096 };

/* Write one CSV field (quoted when it needs to be). */
static void put_field(FILE *f, const char *s, int first)
{
    if (!first) fputc(',', f);
    if (!strpbrk(s, ",\"\n\r")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('"', f);
}

static xb_status close_and_write(FILE *f, char **buf, size_t *len, const char *path, xb_err *err)
{
    if (fclose(f) != 0) { free(*buf); return xb_fail(err, XB_ENOMEM, "%s: out of memory", path); }
    const xb_status st = xb_runner_write_atomic(path, *buf, *len, err);
    free(*buf);                           /* open_memstream's buffer comes from malloc */
    return st;
}

xb_status xb_results_write_index(const char *dir, const xb_sweep *s, char (*ids)[XB_RUN_ID_LEN + 1],
                                 xb_err *err)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/runs.csv", dir);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return xb_fail(err, XB_ENOMEM, "%s: out of memory", path);
    size_t choice[s->naxes ? s->naxes : 1];
    fputs("index,run_id", f);
    for (size_t a = 0; a < s->naxes; a++) put_field(f, s->axis[a].name, 0);
    fputc('\n', f);
    for (size_t k = 0; k < s->nruns; k++) {
        xb_sweep_choice(s, k, choice);
        fprintf(f, "%zu,%s", k, ids[k]);
        for (size_t a = 0; a < s->naxes; a++) put_field(f, s->axis[a].values[choice[a]], 0);
        fputc('\n', f);
    }
    return close_and_write(f, &buf, &len, path, err);
}

typedef struct entry {
    size_t index;
    const char *id, *dir;
    const xb_csv *idx;          /* the runs.csv it comes from */
    size_t row;
    int done;
    xb_run_status st;
    xb_csv *res;                /* its results.csv, or NULL */
} entry;

static int cmp_entry(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    if (a->index != b->index) return a->index < b->index ? -1 : 1;
    const int c = strcmp(a->id, b->id);
    if (c) return c;
    return b->done - a->done;                    /* a finished copy first */
}

static xb_status read_index(const char *dir, xb_csv **t, xb_err *err)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/runs.csv", dir);
    xb_csv_opts o = XB_CSV_OPTS_DEFAULT;
    o.delim = ',';
    o.header = 1;
    o.comment = 0;
    xb_status st = xb_csv_read(path, &o, t, err);
    if (st == XB_OK && ((*t)->ncols < 2 || strcmp((*t)->head[0], "index") ||
                        strcmp((*t)->head[1], "run_id")))
        st = xb_fail(err, XB_EINVAL, "%s: not a sweep index (expected columns index,run_id,...)",
                     path);
    return st;
}

static int same_keys(const xb_csv *a, const xb_csv *b)
{
    if (a->ncols != b->ncols) return 0;
    for (size_t c = 0; c < a->ncols; c++)
        if (strcmp(a->head[c], b->head[c])) return 0;
    return 1;
}

/* Wait for the write lock on DIR/merge.lock (DIR: the first sweep directory, the sweep's
 * own); returns its fd (close to release), or -1 where the file system has no locks or
 * the file cannot be made (the merge goes on unlocked: a single sweep needs no lock). */
static int lock_out(const char *dir)
{
    char p[PATH_LEN];
    if (snprintf(p, sizeof p, "%s/merge.lock", dir) >= (int)sizeof p) return -1;
    const int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return -1;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    int rc;
    while ((rc = fcntl(fd, F_SETLKW, &fl)) != 0 && errno == EINTR) {}
    if (rc != 0) { close(fd); return -1; }
    return fd;
}

static xb_status merge_locked(const char *const *dirs, size_t ndirs, const char *out,
                              xb_merge_stats *ms, xb_err *err);

xb_status xb_results_merge(const char *const *dirs, size_t ndirs, const char *out,
                           xb_merge_stats *ms, xb_err *err)
{
    const int fd = ndirs ? lock_out(dirs[0]) : -1;
    const xb_status st = merge_locked(dirs, ndirs, out, ms, err);
    if (fd >= 0) close(fd);
    return st;
}

static xb_status merge_locked(const char *const *dirs, size_t ndirs, const char *out,
                              xb_merge_stats *ms, xb_err *err)
{
    xb_merge_stats m = {0};
    xb_csv **idx = xb_calloc(ndirs ? ndirs : 1, sizeof *idx);
    entry *e = NULL;
    const char **cols = NULL;
    size_t ne = 0, ncols = 0;
    xb_status st = idx ? XB_OK : xb_fail(err, XB_ENOMEM, "merge: out of memory");
    for (size_t d = 0; d < ndirs && st == XB_OK; d++) {
        st = read_index(dirs[d], &idx[d], err);
        if (st == XB_OK && !same_keys(idx[0], idx[d]))
            st = xb_fail(err, XB_EINVAL, "%s/runs.csv: its swept keys differ from those of "
                         "%s/runs.csv: not shards of one sweep", dirs[d], dirs[0]);
        if (st == XB_OK) ne += idx[d]->nrows;
    }
    if (st == XB_OK && !(e = xb_calloc(ne ? ne : 1, sizeof *e)))
        st = xb_fail(err, XB_ENOMEM, "merge: out of memory");
    size_t k = 0;
    for (size_t d = 0; d < ndirs && st == XB_OK; d++)
        for (size_t r = 0; r < idx[d]->nrows; r++, k++) {
            entry *x = &e[k];
            char *end;
            x->index = strtoul(xb_csv_cell(idx[d], r, 0), &end, 10);
            x->id = xb_csv_cell(idx[d], r, 1);
            x->dir = dirs[d];
            x->idx = idx[d];
            x->row = r;
            x->done = xb_run_read_done(dirs[d], x->id, &x->st);
        }
    if (st == XB_OK) qsort(e, ne, sizeof *e, cmp_entry);
    size_t nu = 0;                                   /* keep each run id once */
    for (size_t i = 0; i < ne && st == XB_OK; i++)
        if (nu == 0 || strcmp(e[nu - 1].id, e[i].id) || e[nu - 1].index != e[i].index)
            e[nu++] = e[i];
    for (size_t i = 0; i < nu && st == XB_OK; i++) {
        entry *x = &e[i];
        m.runs++;
        if (!x->done) { m.missing++; continue; }
        if (x->st.state == XB_RUN_OK) m.ok++;
        else m.failed++;
        char path[PATH_LEN];
        snprintf(path, sizeof path, "%s/runs/%s/results.csv", x->dir, x->id);
        xb_csv_opts o = XB_CSV_OPTS_DEFAULT;
        o.delim = ',';
        o.header = 1;
        o.comment = 0;
        o.ragged = 1;
        xb_err ignore = {0};
        if (xb_csv_read(path, &o, &x->res, &ignore) != XB_OK) {
            x->res = NULL;                       /* a failed run may have written nothing */
            if (x->st.state == XB_RUN_OK) {      /* damaged since: report it, go on */
                x->st.state = XB_RUN_FAILED;
                snprintf(x->st.error, sizeof x->st.error, "results.csv unreadable since the run "
                         "finished (delete runs/%s/done to rerun it)", x->id);
                m.ok--;
                m.failed++;
            }
            continue;
        }
        for (size_t c = 0; c < x->res->ncols; c++) {
            size_t j = 0;
            while (j < ncols && strcmp(cols[j], x->res->head[c])) j++;
            if (j < ncols) continue;
            const char **nc = xb_realloc(cols, (ncols + 1) * sizeof *cols);
            if (!nc) { st = xb_fail(err, XB_ENOMEM, "merge: out of memory"); break; }
            cols = nc;
            cols[ncols++] = x->res->head[c];
        }
    }
    if (st == XB_OK) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) st = xb_fail(err, XB_ENOMEM, "merge: out of memory");
        const xb_csv *keys = ndirs ? idx[0] : NULL;
        if (f) {
            fputs("run_id", f);
            for (size_t c = 2; keys && c < keys->ncols; c++) put_field(f, keys->head[c], 0);
            fputs(",status,error", f);
            for (size_t j = 0; j < ncols; j++) put_field(f, cols[j], 0);
            fputc('\n', f);
        }
        for (size_t i = 0; f && i < nu; i++) {
            const entry *x = &e[i];
            if (!x->done) continue;
            const size_t nrows = x->res && x->res->nrows ? x->res->nrows : 1;
            for (size_t r = 0; r < nrows; r++) {
                fputs(x->id, f);
                for (size_t c = 2; c < x->idx->ncols; c++) put_field(f, xb_csv_cell(x->idx, x->row, c), 0);
                put_field(f, x->st.state == XB_RUN_OK ? "ok" : "failed", 0);
                put_field(f, x->st.error, 0);
                for (size_t j = 0; j < ncols; j++) {
                    const int c = x->res && x->res->nrows ? xb_csv_col(x->res, cols[j]) : -1;
                    put_field(f, c >= 0 ? xb_csv_cell(x->res, r, (size_t)c) : "", 0);
                }
                fputc('\n', f);
                m.rows++;
            }
        }
        if (f) st = close_and_write(f, &buf, &len, out, err);
    }
    for (size_t i = 0; e && i < nu; i++) xb_csv_free(e[i].res);
    for (size_t d = 0; idx && d < ndirs; d++) xb_csv_free(idx[d]);
    xb_free(cols);
    xb_free(e);
    xb_free(idx);
    if (ms) *ms = m;
    return st;
}
