/* cli/cmd_sweep.c: `xbemu sweep CONFIG.ini [-j N] [--shard i/N] [--dry-run] [--out DIR]
 * [--set section.key=value]...`: expand [sweep], run every run of this shard as a child
 * process (experiments/xb_runner.h), merge DIR/results.csv, write DIR/sweep.json.
 * With `make MPI=1` and `mpirun -n P`, rank 0 hands out runs and ranks 1..P-1 run them. */
#include <limits.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/xb_cli.h"
#include "cli/xb_sections.h"
#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "devices/xb_device.h"
#include "experiments/xb_results.h"
#include "experiments/xb_runner.h"
#include "experiments/xb_sweep.h"
#include "training/xb_trainer.h"

#ifdef XB_HAVE_MPI
#include <mpi.h>
#endif

static int usage(FILE *f)
{
    fprintf(f,
        "usage: xbemu sweep CONFIG.ini|NAME [-j N] [--threads T] [--shard i/N] [--dry-run]\n"
        "                   [--out DIR] [--retry-failed] [--timeout S] [--set section.key=value]...\n\n"
        "Expands the config's [sweep] section into runs and runs each as a child process\n"
        "(`xbemu run RUN.ini --out DIR/runs/ID`), N at a time (default: one per core).\n"
        "Each run gets T = max(1, cores / N) OpenMP threads unless --threads is given, so\n"
        "-j 1 gives one run all cores and the default runs one single-threaded run per core.\n"
        "Finished runs (DIR/runs/ID/done) are skipped: rerun the same command to resume.\n\n"
        "  --dry-run       print the expanded runs (index, id, swept values) and the count\n"
        "  --out DIR       output directory (default: sweep-<config name>)\n"
        "  --shard i/N     only runs with index %% N == i (default from SLURM_ARRAY_TASK_ID\n"
        "                  and SLURM_ARRAY_TASK_COUNT when set); `xbemu merge` joins shards\n"
        "  --retry-failed  rerun runs that finished with an error\n"
        "  --timeout S     kill a run after S seconds (recorded as failed: timed out)\n\n"
        "[sweep] syntax: `device.dw_min = 0.001, 0.002`, `run.seed = 1..10`,\n"
        "`device.ber = 1e-6..1e-1 log 6`, `x.y = 0..1 lin 5`, `zip = key1, key2`.\n"
        "Exit status: 0 all runs ok, 1 some run failed (see DIR/sweep.json), 2 bad config.\n"
        "Env: XBEMU_SWEEP_RUNNER=PATH runs PATH instead of this binary (same arguments).\n");
    return f == stdout ? XB_EXIT_OK : XB_EXIT_USAGE;
}

/* ---- config loading and key checks ---- */

/* A swept key must name a known section and, where the section has a schema, a key of
 * it ([device]: the common keys or any model's; [train]: the common keys or any
 * learning rule's). Sections without a registered schema are checked by the run. */
static xb_status key_check(const char *section, const char *key, const xb_config *base,
                           xb_err *err)
{
    (void)base;
    int known = 0;
    const char *best = NULL;
    size_t bd = 3;
    for (size_t k = 0; xb_cli_section_names[k]; k++) {
        if (!strcmp(xb_cli_section_names[k], "sweep")) continue;
        if (!strcmp(xb_cli_section_names[k], section)) known = 1;
        const size_t d = xb_edit_distance(xb_cli_section_names[k], section);
        if (d < bd) { bd = d; best = xb_cli_section_names[k]; }
    }
    if (!known) {
        if (best) return xb_fail(err, XB_EINVAL, "%s.%s: unknown section [%s] (did you mean [%s]?)",
                                 section, key, section, best);
        return xb_fail(err, XB_EINVAL, "%s.%s: unknown section [%s]", section, key, section);
    }
    const xb_param_spec *tabs[64];
    size_t ns[64], nt = 0;
    for (size_t k = 0; xb_cli_sections[k] && nt < 64; k++)
        if (!strcmp(xb_cli_sections[k]->name, section)) {
            tabs[nt] = xb_cli_sections[k]->params;
            ns[nt++] = xb_cli_sections[k]->nparams;
        }
    if (!strcmp(section, "device"))
        for (size_t d = 0; xb_device_types[d] && nt < 64; d++) {
            tabs[nt] = xb_device_types[d]->params;
            ns[nt++] = xb_device_types[d]->nparams;
        }
    if (!strcmp(section, "train"))
        for (size_t d = 0; xb_trainer_types[d] && nt < 64; d++)
            if (xb_trainer_types[d]->params) {
                tabs[nt] = xb_trainer_types[d]->params;
                ns[nt++] = xb_trainer_types[d]->nparams;
            }
    if (nt == 0) return XB_OK;
    best = NULL;
    bd = (size_t)-1;
    for (size_t t = 0; t < nt; t++) {
        if (xb_param_index(tabs[t], ns[t], key) >= 0) return XB_OK;
        const char *s = xb_param_suggest(tabs[t], ns[t], key);
        if (s && xb_edit_distance(s, key) < bd) { bd = xb_edit_distance(s, key); best = s; }
    }
    if (best) return xb_fail(err, XB_EINVAL, "%s.%s: unknown key '%s' in [%s] (did you mean '%s'?)",
                             section, key, key, section, best);
    return xb_fail(err, XB_EINVAL, "%s.%s: unknown key '%s' in [%s] (see `xbemu config show`)",
                   section, key, key, section);
}

/* ---- progress ---- */

typedef struct progress {
    int tty, quiet;
    double last;                /* time of the last TTY refresh */
    const char *dir;            /* rebuild dir/results.csv every MERGE_EVERY seconds */
    double last_merge;
} progress;
enum { MERGE_EVERY = 60 };

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void fmt_secs(double s, char *buf, size_t len)
{
    if (s < 0) snprintf(buf, len, "?");
    else if (s < 120) snprintf(buf, len, "%.0f s", s);
    else if (s < 7200) snprintf(buf, len, "%.0f min", s / 60);
    else snprintf(buf, len, "%.1f h", s / 3600);
}

static void on_progress(void *ctx, const xb_runner_event *ev)
{
    progress *p = ctx;
    if (p->dir && wall() - p->last_merge > MERGE_EVERY && ev->finished < ev->total) {
        char path[PATH_MAX];                  /* partial results to look at meanwhile */
        snprintf(path, sizeof path, "%s/results.csv", p->dir);
        const char *dirs[1] = { p->dir };
        xb_err ignore = {0};
        xb_results_merge(dirs, 1, path, NULL, &ignore);
        p->last_merge = wall();
    }
    if (p->quiet) return;
    char eta[32];
    fmt_secs(ev->eta, eta, sizeof eta);
    if (p->tty) {
        const double t = wall();
        if (!ev->status->skipped && ev->status->state == XB_RUN_FAILED)   /* keep failures */
            fprintf(stderr, "\r\033[Ksweep: run %zu %s FAILED: %s\n", ev->run->index, ev->run->id,
                    ev->status->error);
        else if (t - p->last < 0.1 && ev->finished < ev->total) return;
        p->last = t;
        fprintf(stderr, "\r\033[Ksweep: %zu/%zu done, %zu failed, %zu running, ETA %s",
                ev->finished, ev->total, ev->failed, ev->running, eta);
        if (ev->finished == ev->total) fputc('\n', stderr);
        return;
    }
    if (ev->status->skipped) return;            /* counted in the summary */
    fprintf(stderr, "sweep: %zu/%zu done, %zu failed, ETA %s: run %zu %s %s (%.1f s)%s%s\n",
            ev->finished, ev->total, ev->failed, eta, ev->run->index, ev->run->id,
            ev->status->state == XB_RUN_OK ? "ok" : "FAILED", ev->status->seconds,
            ev->status->error[0] ? ": " : "", ev->status->error);
}

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

/* ---- the manifest ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

typedef struct sweep_job {
    const char *cfg, *dir;
    unsigned shard, nshards;
    int jobs, threads, mpi_ranks;
    const char *runner;
    const xb_sweep *s;
    const xb_run *runs;             /* this shard's runs */
    xb_run_status *status;
    size_t n;
} sweep_job;

static xb_status write_manifest(const sweep_job *j, const xb_merge_stats *ms, xb_err *err)
{
    char path[PATH_MAX];
    if (j->nshards > 1) snprintf(path, sizeof path, "%s/sweep.shard-%u-of-%u.json", j->dir, j->shard, j->nshards);
    else snprintf(path, sizeof path, "%s/sweep.json", j->dir);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return xb_fail(err, XB_ENOMEM, "sweep: out of memory");
    size_t ok = 0, failed = 0, skipped = 0, pending = 0;
    for (size_t k = 0; k < j->n; k++) {
        ok += j->status[k].state == XB_RUN_OK;
        failed += j->status[k].state == XB_RUN_FAILED;
        skipped += j->status[k].skipped;
        pending += j->status[k].state == XB_RUN_PENDING;
    }
    fprintf(f, "{\n  \"xbemu\": \"%s\",\n  \"git\": \"%s\",\n  \"config\": ", XB_VERSION, XB_GIT_HASH);
    json_str(f, j->cfg);
    fprintf(f, ",\n  \"out\": ");
    json_str(f, j->dir);
    fprintf(f, ",\n  \"runner\": ");
    json_str(f, j->runner);
    fprintf(f, ",\n  \"shard\": [%u, %u],\n  \"jobs\": %d,\n  \"threads_per_run\": %d,\n"
               "  \"mpi_ranks\": %d,\n  \"keys\": [", j->shard, j->nshards, j->jobs, j->threads,
            j->mpi_ranks);
    for (size_t a = 0; a < j->s->naxes; a++) {
        if (a) fputs(", ", f);
        json_str(f, j->s->axis[a].name);
    }
    fprintf(f, "],\n  \"groups\": [");
    for (size_t g = 0; g < j->s->ngroups; g++) {
        fprintf(f, "%s[", g ? ", " : "");
        int first = 1;
        for (size_t a = 0; a < j->s->naxes; a++)
            if (j->s->axis[a].group == g) {
                if (!first) fputs(", ", f);
                json_str(f, j->s->axis[a].name);
                first = 0;
            }
        fputc(']', f);
    }
    fprintf(f, "],\n  \"counts\": {\"expanded\": %zu, \"in_shard\": %zu, \"ok\": %zu, "
               "\"failed\": %zu, \"skipped_finished\": %zu, \"unfinished\": %zu},\n",
            j->s->nruns, j->n, ok, failed, skipped, pending);
    fprintf(f, "  \"merged\": {\"runs\": %zu, \"ok\": %zu, \"failed\": %zu, \"missing\": %zu, "
               "\"rows\": %zu},\n  \"runs\": [\n", ms->runs, ms->ok, ms->failed, ms->missing, ms->rows);
    size_t choice[j->s->naxes ? j->s->naxes : 1];
    static const char *const state[] = { "unfinished", "ok", "failed" };
    for (size_t k = 0; k < j->n; k++) {
        const xb_run_status *st = &j->status[k];
        xb_sweep_choice(j->s, j->runs[k].index, choice);
        fprintf(f, "    {\"index\": %zu, \"id\": \"%s\", \"values\": {", j->runs[k].index, j->runs[k].id);
        for (size_t a = 0; a < j->s->naxes; a++) {
            if (a) fputs(", ", f);
            json_str(f, j->s->axis[a].name);
            fputs(": ", f);
            json_str(f, j->s->axis[a].values[choice[a]]);
        }
        fprintf(f, "}, \"status\": \"%s\", \"exit\": %d, \"seconds\": %.3f, \"skipped\": %s, "
                   "\"error\": ", state[st->state], st->exit_code, st->seconds,
                st->skipped ? "true" : "false");
        json_str(f, st->error);
        fprintf(f, "}%s\n", k + 1 < j->n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0) { free(buf); return xb_fail(err, XB_ENOMEM, "sweep: out of memory"); }
    const xb_status rc = xb_runner_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

/* ---- MPI: rank 0 hands out indices, the other ranks run them ---- */
#ifdef XB_HAVE_MPI
enum { TAG_REQ = 1, TAG_WORK = 2, TAG_DONE = 3 };
static long mpi_next(void *ctx)
{
    (void)ctx;
    long k = -1;
    const int req = 0;
    MPI_Send(&req, 1, MPI_INT, 0, TAG_REQ, MPI_COMM_WORLD);
    MPI_Recv(&k, 1, MPI_LONG, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return k;
}

/* Rank 0: hand out run indices in order, one per request, until every worker has
 * reported that its last child finished. It polls (Iprobe + 2 ms sleep) rather than
 * blocking in MPI_Recv, which in OpenMPI spins and would take a core from the runs. */
static void mpi_serve(size_t n, int nranks, int quiet)
{
    long next = 0;
    int finished = 0;
    const struct timespec nap = { 0, 2000000 };
    while (finished < nranks - 1) {
        int flag = 0, msg;
        MPI_Status s;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &s);
        if (!flag) { nanosleep(&nap, NULL); continue; }
        MPI_Recv(&msg, 1, MPI_INT, s.MPI_SOURCE, s.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (s.MPI_TAG == TAG_DONE) { finished++; continue; }
        const long k = (size_t)next < n ? next++ : -1;
        if (k >= 0 && !quiet) fprintf(stderr, "sweep: run %ld/%zu -> rank %d\n", k + 1, n, s.MPI_SOURCE);
        MPI_Send(&k, 1, MPI_LONG, s.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
    }
}
#endif

/* The run's config.ini: a comment naming the sweep and where each swept value came from
 * (the run's own errors cite config.ini's lines), then the resolved config. */
static char *run_ini(const xb_sweep *s, size_t k, const char *id, const char *cfg,
                     const xb_config *r)
{
    char *body = xb_config_to_ini(r), *buf = NULL;
    size_t len = 0;
    FILE *f = body ? open_memstream(&buf, &len) : NULL;
    if (!f) { xb_free(body); return NULL; }
    size_t choice[s->naxes ? s->naxes : 1];
    xb_sweep_choice(s, k, choice);
    fprintf(f, "; run %zu (id %s) of `xbemu sweep %s`\n", k, id, cfg);
    for (size_t a = 0; a < s->naxes; a++) {
        fprintf(f, "; swept: %s = %s (%s", s->axis[a].name, s->axis[a].values[choice[a]],
                s->axis[a].origin);
        if (s->axis[a].line > 0) fprintf(f, ":%d", s->axis[a].line);
        fprintf(f, ")\n");
    }
    fprintf(f, "%s", body);
    xb_free(body);
    if (fclose(f) != 0) { free(buf); return NULL; }
    char *out = xb_strdup(buf);              /* runs[].ini is released with xb_free */
    free(buf);
    return out;
}

/* ---- the command ---- */

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    const long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static char *default_out(const char *cfg)
{
    const char *b = strrchr(cfg, '/');
    b = b ? b + 1 : cfg;
    size_t n = strlen(b);
    if (n > 4 && !strcmp(b + n - 4, ".ini")) n -= 4;
    char *d = xb_malloc(n + 7);
    if (d) { memcpy(d, "sweep-", 6); memcpy(d + 6, b, n); d[6 + n] = '\0'; }
    return d;
}

int xb_cmd_sweep(int argc, char **argv)
{
    const char *cfg = NULL, *out = NULL, *shard = NULL;
    int jobs = 0, threads = 0, dry = 0, retry = 0, quiet = 0;
    double timeout = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int m;
        if (xb_cli_is_help(argv[i])) return usage(stdout);
        if (!strcmp(argv[i], "--dry-run")) { dry = 1; continue; }
        if (!strcmp(argv[i], "--retry-failed")) { retry = 1; continue; }
        if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) { quiet = 1; continue; }
        if ((m = xb_cli_opt(&i, argc, argv, "--set", &v)) != 0) {
            if (m < 0) return xb_cli_usage("sweep", "--set needs section.key=value");
            continue;
        }
        if ((m = xb_cli_opt(&i, argc, argv, "-j", &v)) != 0 ||
            (m = xb_cli_opt(&i, argc, argv, "--jobs", &v)) != 0) {
            if (m < 0 || parse_int(v, 1, 4096, &jobs))
                return xb_cli_usage("sweep", "-j needs a number of workers in [1, 4096]");
            continue;
        }
        if ((m = xb_cli_opt(&i, argc, argv, "--threads", &v)) != 0) {
            if (m < 0 || parse_int(v, 1, 4096, &threads))
                return xb_cli_usage("sweep", "--threads needs a number in [1, 4096]");
            continue;
        }
        if ((m = xb_cli_opt(&i, argc, argv, "--out", &v)) != 0 ||
            (m = xb_cli_opt(&i, argc, argv, "-o", &v)) != 0) {
            if (m < 0) return xb_cli_usage("sweep", "--out needs a directory");
            out = v;
            continue;
        }
        if ((m = xb_cli_opt(&i, argc, argv, "--timeout", &v)) != 0) {
            char *end = NULL;
            if (m > 0) timeout = strtod(v, &end);
            if (m < 0 || end == v || *end || !(timeout > 0 && timeout < 1e9))
                return xb_cli_usage("sweep", "--timeout needs seconds > 0");
            continue;
        }
        if ((m = xb_cli_opt(&i, argc, argv, "--shard", &v)) != 0) {
            if (m < 0) return xb_cli_usage("sweep", "--shard needs i/N");
            shard = v;
            continue;
        }
        if (!strncmp(argv[i], "-j", 2) && argv[i][2]) {          /* -j4 */
            if (parse_int(argv[i] + 2, 1, 4096, &jobs))
                return xb_cli_usage("sweep", "-j needs a number of workers in [1, 4096]");
            continue;
        }
        if (argv[i][0] == '-') return xb_cli_usage("sweep", "unknown option '%s'", argv[i]);
        if (cfg) return xb_cli_usage("sweep", "more than one config given ('%s')", argv[i]);
        cfg = argv[i];
    }
    if (!cfg) return xb_cli_usage("sweep", "no config given");

    int rank = 0, nranks = 1;
#ifdef XB_HAVE_MPI
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
#endif
    const int mpi = nranks > 1;
    if (rank > 0) quiet = 1;

    xb_err err = {0};
    unsigned si = 0, sn = 1;
    if (shard) {
        if (xb_sweep_parse_shard(shard, &si, &sn, &err)) return xb_cli_usage("sweep", "%s", err.msg);
    } else if (getenv("SLURM_ARRAY_TASK_COUNT") && getenv("SLURM_ARRAY_TASK_ID")) {
        const long cnt = atol(getenv("SLURM_ARRAY_TASK_COUNT"));
        const long id = atol(getenv("SLURM_ARRAY_TASK_ID"));
        const long lo = getenv("SLURM_ARRAY_TASK_MIN") ? atol(getenv("SLURM_ARRAY_TASK_MIN")) : 0;
        if (cnt < 1 || id - lo < 0 || id - lo >= cnt)
            return xb_cli_usage("sweep", "SLURM_ARRAY_TASK_ID=%ld is outside %ld..%ld", id, lo,
                                lo + cnt - 1);
        si = (unsigned)(id - lo);
        sn = (unsigned)cnt;
    }

    xb_config *c = xb_config_alloc();
    xb_sweep *s = NULL;
    char (*ids)[XB_RUN_ID_LEN + 1] = NULL;
    xb_run *runs = NULL;
    xb_run_status *status = NULL;
    char *dir = NULL, *full = NULL;
    size_t n = 0;
    int rc = XB_EXIT_OK;
    if (!c) { fprintf(stderr, "xbemu: out of memory\n"); return XB_EXIT_FAIL; }
    if (xb_cli_load_config(c, cfg, argc, argv, &err) || xb_sweep_alloc(&s, c, key_check, &err)) goto fail;
    ids = xb_calloc(s->nruns, sizeof *ids);
    runs = xb_calloc(s->nruns / sn + 1, sizeof *runs);
    status = xb_calloc(s->nruns / sn + 1, sizeof *status);
    if (!ids || !runs || !status) { xb_fail(&err, XB_ENOMEM, "sweep: out of memory"); goto fail; }
    for (size_t k = 0; k < s->nruns; k++) {
        xb_config *r;
        if (xb_sweep_run_config(s, k, &r, &err)) goto fail;
        xb_status st = xb_sweep_run_id(r, ids[k], &err);
        if (st == XB_OK && k % sn == si) {
            runs[n].index = k;
            memcpy(runs[n].id, ids[k], sizeof runs[n].id);
            if (!(runs[n].ini = run_ini(s, k, ids[k], cfg, r))) st = xb_fail(&err, XB_ENOMEM, "sweep: out of memory");
            n++;
        }
        xb_config_free(r);
        if (st) goto fail;
    }
    if (dry) {
        if (rank == 0) {
            size_t choice[s->naxes ? s->naxes : 1];
            for (size_t k = 0; k < n; k++) {
                printf("%6zu %s", runs[k].index, runs[k].id);
                xb_sweep_choice(s, runs[k].index, choice);
                for (size_t a = 0; a < s->naxes; a++)
                    printf(" %s=%s", s->axis[a].name, s->axis[a].values[choice[a]]);
                printf("\n");
            }
            if (sn > 1) printf("%zu runs in shard %u/%u of %zu runs\n", n, si, sn, s->nruns);
            else printf("%zu runs\n", n);
        }
        goto done;
    }

    dir = out ? xb_strdup(out) : default_out(cfg);
    full = xb_config_to_ini(c);
    if (!dir || !full) { xb_fail(&err, XB_ENOMEM, "sweep: out of memory"); goto fail; }
    if (rank == 0) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/sweep.ini", dir);
        if (xb_mkdirs(dir, &err) || xb_runner_write_atomic(path, full, strlen(full), &err) ||
            xb_results_write_index(dir, s, ids, &err))
            goto fail;
    }
#ifdef XB_HAVE_MPI
    if (mpi) MPI_Barrier(MPI_COMM_WORLD);
#endif

    /* The runner: this binary's `run`, or XBEMU_SWEEP_RUNNER with the same arguments. */
    static char self[PATH_MAX];
    const char *cmd[3] = { NULL, "run", NULL };
    const char *env = getenv("XBEMU_SWEEP_RUNNER");
    if (env && *env) cmd[0] = env;
    else {
        const ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
        if (l <= 0) { xb_fail(&err, XB_EIO, "sweep: cannot find this program (/proc/self/exe)"); goto fail; }
        self[l] = '\0';
        cmd[0] = self;
    }
    /* cores we may use: our CPU affinity (libgomp reads it), or Slurm's allotment */
    long ncpu = omp_get_num_procs();
    if (getenv("SLURM_CPUS_PER_TASK") && atol(getenv("SLURM_CPUS_PER_TASK")) > 0)
        ncpu = atol(getenv("SLURM_CPUS_PER_TASK"));
    if (jobs == 0) jobs = mpi ? 1 : (int)(ncpu > 0 ? ncpu : 1);
    const size_t busy = n < (size_t)jobs && n > 0 ? n : (size_t)jobs;
    if (threads == 0) threads = mpi ? 1 : (int)(ncpu / (long)busy > 1 ? ncpu / (long)busy : 1);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;                  /* no SA_RESTART: waitpid returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    progress pr = { .tty = isatty(2), .quiet = quiet, .dir = mpi ? NULL : dir, .last_merge = wall() };
    xb_runner_opts o = { .dir = dir, .cmd = cmd, .jobs = jobs, .threads = threads,
                         .retry_failed = retry, .timeout = timeout,
                         .progress = on_progress, .progress_ctx = &pr,
                         .stop = &stop_flag };
    xb_status rst = XB_OK;
    if (!mpi) rst = xb_runner_run(&o, runs, n, status, &err);
#ifdef XB_HAVE_MPI
    if (mpi && rank == 0) mpi_serve(n, nranks, quiet);
    if (mpi && rank > 0) {
        o.next = mpi_next;
        rst = xb_runner_run(&o, runs, n, status, &err);
        if (rst != XB_OK) {
            fprintf(stderr, "xbemu: rank %d: %s\n", rank, err.msg);
            MPI_Abort(MPI_COMM_WORLD, XB_EXIT_FAIL);
        }
        const int msg = 0;
        MPI_Send(&msg, 1, MPI_INT, 0, TAG_DONE, MPI_COMM_WORLD);
    }
    if (mpi && rank == 0)                      /* the workers' outcomes are in their files */
        for (size_t k = 0; k < n; k++)
            if (!xb_run_read_done(dir, runs[k].id, &status[k])) memset(&status[k], 0, sizeof status[k]);
#endif
    if (rank > 0) goto done;

    /* Merge whatever is finished, even after an interruption or an I/O error. */
    xb_merge_stats ms = {0};
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    const char *dirs[1] = { dir };
    xb_err merr = {0};
    xb_status mst = xb_results_merge(dirs, 1, path, &ms, &merr);
    sweep_job j = { .cfg = cfg, .dir = dir, .shard = si, .nshards = sn, .jobs = jobs,
                    .threads = threads, .mpi_ranks = nranks, .runner = cmd[0], .s = s,
                    .runs = runs, .status = status, .n = n };
    if (mst == XB_OK) mst = write_manifest(&j, &ms, &merr);
    size_t ok = 0, failed = 0, skipped = 0;
    for (size_t k = 0; k < n; k++) {
        ok += status[k].state == XB_RUN_OK;
        failed += status[k].state == XB_RUN_FAILED;
        skipped += status[k].skipped;
    }
    if (!quiet || failed || rst != XB_OK)
        fprintf(stderr, "sweep: %zu runs%s: %zu ok, %zu failed, %zu unfinished (%zu finished "
                "before, skipped); %zu rows in %s\n", n, sn > 1 ? " in this shard" : "", ok,
                failed, n - ok - failed, skipped, ms.rows, path);
    if (rst != XB_OK) goto fail;
    if (mst != XB_OK) { err = merr; goto fail; }
    rc = ok == n ? XB_EXIT_OK : XB_EXIT_FAIL;     /* failed, or running in another sweep */
    goto done;
fail:
    if (rank == 0) rc = xb_cli_report(&err);
    else rc = err.code == XB_EINVAL || err.code == XB_ERANGE ? XB_EXIT_USAGE : XB_EXIT_FAIL;
    if (err.code == XB_EINTR) rc = XB_EXIT_FAIL;
#ifdef XB_HAVE_MPI
    if (mpi && dir) MPI_Abort(MPI_COMM_WORLD, rc);     /* the other ranks may be waiting */
#endif
done:
    for (size_t k = 0; runs && k < n; k++) xb_free((char *)runs[k].ini);
    xb_free(runs);
    xb_free(status);
    xb_free(ids);
    xb_free(dir);
    xb_free(full);
    xb_sweep_free(s);
    xb_config_free(c);
#ifdef XB_HAVE_MPI
    MPI_Finalize();
#endif
    return rc;
}
