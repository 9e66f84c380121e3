/* experiments/run.c: one experiment (xb_run.h). */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/xb_config.h"
#include "core/xb_dataset.h"
#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "core/xb_rng.h"
#include "devices/xb_device.h"
#include "experiments/xb_eval.h"
#include "experiments/xb_run.h"
#include "training/xb_trainer.h"

static const xb_param_spec run_params[XB_RUN_NPARAMS] = {
    [XB_RUN_SEED] = { "seed", 1, "", 0, XB_SEED_MAX, "seed of every random stream", XB_P_INT, NULL, NULL },
    [XB_RUN_THREADS] = { "threads", 0, "", 0, 1024, "threads for this run (0: OMP_NUM_THREADS "
                         "or all cores)", XB_P_INT, NULL, NULL },
    [XB_RUN_OUT] = { "out", 0, "", 0, 0, "output directory (empty: results/<name>)", XB_P_STR, "", NULL },
    [XB_RUN_NAME] = { "name", 0, "", 0, 0, "name of the run (results.csv column)", XB_P_STR, "run", NULL },
    [XB_RUN_EVAL_EVERY] = { "eval_every", 0, "samples", 0, 1e9, "also evaluate every this many "
                            "training samples (0: after each epoch only)", XB_P_INT, NULL, NULL },
    [XB_RUN_PROGRESS] = { "progress", 0, "", 0, 0, "progress on stderr: auto (a live line on a "
                          "terminal, else plain lines), tty, lines, off", XB_P_ENUM,
                          "auto|tty|lines|off", NULL },
};
const xb_section xb_section_run = { "run", "one run: seed, threads, output", run_params,
                                    XB_RUN_NPARAMS };

/* ---- a growing text buffer ---- */
typedef struct sbuf { char *s; size_t n, cap; int oom; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        const int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->s && b->n + (size_t)k < b->cap) { b->n += (size_t)k; return; }
        const size_t cap = (b->cap + (size_t)k + 1) * 2;
        char *t = xb_realloc(b->s, cap);
        if (!t) { b->oom = 1; return; }
        b->s = t; b->cap = cap;
    }
}

static void sb_json_str(sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') sb_printf(b, "\\%c", *s);
        else if (*s == '\n') sb_printf(b, "\\n");
        else if ((unsigned char)*s < 0x20) sb_printf(b, "\\u%04x", (unsigned char)*s);
        else sb_printf(b, "%c", *s);
    }
    sb_printf(b, "\"");
}

xb_status xb_write_atomic(const char *path, const char *text, size_t len, xb_err *err)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return xb_fail(err, XB_EIO, "cannot write %s: %s", tmp, strerror(errno));
    const int bad = fwrite(text, 1, len, f) != len;
    if (fclose(f) || bad) {
        remove(tmp);
        return xb_fail(err, XB_EIO, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path)) {
        remove(tmp);
        return xb_fail(err, XB_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    }
    return XB_OK;
}

static xb_status mkdir_p(const char *dir, xb_err *err)
{
    char p[1024];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return xb_fail(err, XB_EINVAL, "directory name too long: %s", dir);
    for (char *s = p + 1;; s++) {
        const char c = *s;
        if (c == '/' || c == '\0') {
            *s = '\0';
            if (mkdir(p, 0777) && errno != EEXIST)
                return xb_fail(err, XB_EIO, "cannot create directory %s: %s", p, strerror(errno));
            *s = c;
        }
        if (!c) break;
    }
    return XB_OK;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_s(void)          /* CPU seconds of every thread of the process */
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the data: data sets and the task stream ---- */
typedef struct tasks {
    xb_dataset *ds[8];          /* owned: train/test pairs (and their subsets) */
    size_t nds;
    xb_taskset *ts;
    char label[64];             /* dataset column of results.csv */
} tasks;

static void tasks_free(tasks *t)
{
    xb_taskset_free(t->ts);
    for (size_t i = 0; i < t->nds; i++) xb_dataset_free(t->ds[i]);
}

/* Load one data set's train and test splits (with the configured limits) into t->ds. */
static xb_status load_pair(tasks *t, const char *name, const double *dp, const char *dir,
                           uint32_t seed, xb_err *err)
{
    for (int test = 0; test <= 1; test++) {
        if (t->nds >= 8) return xb_fail(err, XB_ERANGE, "[data] sequence: at most 4 data sets");
        xb_dataset *d = NULL;
        xb_status st = xb_dataset_load(name, test, dir, &d, err);
        if (st) return st;
        const double lim = dp[test ? XB_DATA_TEST_LIMIT : XB_DATA_TRAIN_LIMIT];
        if (lim > 0 && (size_t)lim < d->n) {
            xb_dataset *s = NULL;
            st = xb_dataset_subset(d, (size_t)lim, seed, &s, err);
            xb_dataset_free(d);
            if (st) return st;
            d = s;
        }
        t->ds[t->nds++] = d;
    }
    return XB_OK;
}

static xb_status tasks_load(tasks *t, const xb_config *c, const double *dp, uint32_t seed,
                            xb_err *err)
{
    const char *dir = xb_config_str(c, "data", "dir", "");
    char name[32];
    xb_param_choice(&xb_section_data.params[XB_DATA_DATASET], (int)dp[XB_DATA_DATASET], name,
                    sizeof name);
    const int kind = (int)dp[XB_DATA_TASKS];
    xb_status st;
    if (kind == XB_TASKS_SEQUENCE) {
        char seq[256];
        snprintf(seq, sizeof seq, "%s", xb_config_str(c, "data", "sequence", "mnist,fmnist"));
        if (snprintf(t->label, sizeof t->label, "%s", seq) >= (int)sizeof t->label)
            t->label[sizeof t->label - 1] = '\0';
        for (char *tok = strtok(seq, ","); tok; tok = strtok(NULL, ",")) {
            while (*tok == ' ') tok++;
            if ((st = load_pair(t, tok, dp, dir, seed, err))) return st;
        }
        const xb_dataset *tr[4], *te[4];
        for (size_t k = 0; k < t->nds / 2; k++) { tr[k] = t->ds[2 * k]; te[k] = t->ds[2 * k + 1]; }
        return xb_taskset_sequence(tr, te, t->nds / 2, &t->ts, err);
    }
    snprintf(t->label, sizeof t->label, "%s", name);
    if ((st = load_pair(t, name, dp, dir, seed, err))) return st;
    const size_t n = kind == XB_TASKS_PERMUTED ? (size_t)dp[XB_DATA_NTASKS] : 1;
    if (kind == XB_TASKS_SINGLE) {
        const xb_dataset *tr = t->ds[0], *te = t->ds[1];
        return xb_taskset_sequence(&tr, &te, 1, &t->ts, err);
    }
    return xb_taskset_permuted(t->ds[0], t->ds[1], n, seed, (int)dp[XB_DATA_FIRST_IDENTITY],
                               &t->ts, err);
}

/* ---- the run ---- */
typedef struct runner {
    const xb_config *cfg;
    double rp[XB_RUN_NPARAMS], dp[XB_DATA_NPARAMS], tp[XB_TRAIN_NPARAMS], own[64];
    xb_net_spec net;
    const xb_trainer_type *T;
    xb_trainer tr;
    tasks data;
    char dir[1024], csv_path[1100], json_path[1100];
    sbuf csv, prefix;           /* results.csv text; the config columns of every row */
    size_t samples;
    double t0, train_s, train_cpu_s;
    double last_acc_mean;
    float *xbuf;                /* XB_NET_CHUNK samples */
    unsigned *lbuf, *pbuf;
    int blas_train;             /* BLAS threads during training steps */
    xb_eval *ev;                /* [eval]: uncertainty columns, wakeup.csv; may be NULL */
} runner;

static void csv_field(sbuf *b, const char *s)
{
    if (strpbrk(s, ",\"\n")) {
        sb_printf(b, "\"");
        for (; *s; s++) sb_printf(b, *s == '"' ? "\"\"" : "%c", *s);
        sb_printf(b, "\",");
    } else sb_printf(b, "%s,", s);
}

static void csv_header(runner *r)
{
    sbuf *b = &r->csv;
    sb_printf(b, "run,algorithm,device,dataset,tasks,layers,activation,lr,batch,epochs,seed,");
    for (size_t k = 0; k < r->T->nparams; k++) sb_printf(b, "%s,", r->T->params[k].name);
    sb_printf(b, "task,eval_task,epoch,samples_seen,accuracy,train_accuracy,");
    char nm[64];
    for (size_t k = 0; k < xb_energy_ncolumns(); k++)
        sb_printf(b, "%s,", xb_energy_column_name(k, nm, sizeof nm));
    sb_printf(b, "energy_total_J,energy_per_sample_J,train_s,train_cpu_s,wall_s%s\n",
              r->ev ? xb_eval_columns(r->ev) : "");

    sbuf *p = &r->prefix;
    char buf[128];
    csv_field(p, xb_config_str(r->cfg, "run", "name", "run"));
    csv_field(p, r->T->name);
    csv_field(p, r->T->device_name ? r->T->device_name(r->tr.state) : "-");
    csv_field(p, r->data.label);
    csv_field(p, xb_param_choice(&xb_section_data.params[XB_DATA_TASKS], (int)r->dp[XB_DATA_TASKS],
                                 buf, sizeof buf));
    csv_field(p, xb_net_format_layers(&r->net, buf, sizeof buf));
    csv_field(p, xb_act_name(r->net.act));
    sb_printf(p, "%.17g,%.0f,%.0f,%.0f,", r->tp[XB_TRAIN_LR], r->tp[XB_TRAIN_BATCH],
              r->tp[XB_TRAIN_EPOCHS], r->rp[XB_RUN_SEED]);
    for (size_t k = 0; k < r->T->nparams; k++)
        csv_field(p, xb_param_format(&r->T->params[k], r->own[k], buf, sizeof buf));
}

/* Evaluate tasks 0..task on their test sets, append the rows, rewrite results.csv. */
static xb_status evaluate(runner *r, size_t task, size_t epoch, size_t tr_correct,
                          size_t tr_seen, int final, xb_err *err)
{
    /* [eval] columns on the final evaluation of a task that is due */
    const int unc = r->ev && final && xb_eval_due(r->ev, task, r->data.ts->n);
    xb_energy led;
    xb_energy_reset(&led);
    r->T->ledger(r->tr.state, &led);
    const double total = xb_energy_total(&led);
    double vals[256];
    const size_t nv = xb_energy_ncolumns() <= 256 ? xb_energy_values(&led, vals) : 0;
    double accsum = 0;
    xb_par_blas_threads(xb_par_budget());
    for (size_t e = 0; e <= task; e++) {
        const xb_task *t = &r->data.ts->t[e];
        const size_t n = t->test->n, dim = t->test->dim;
        size_t correct = 0;
        for (size_t s0 = 0; s0 < n; s0 += XB_NET_CHUNK) {
            const size_t m = n - s0 < XB_NET_CHUNK ? n - s0 : XB_NET_CHUNK;
            for (size_t s = 0; s < m; s++) xb_task_sample(t, 1, s0 + s, r->xbuf + s * dim, r->lbuf + s);
            if (r->T->predict_task) r->T->predict_task(r->tr.state, e, r->xbuf, m, r->pbuf);
            else r->T->predict(r->tr.state, r->xbuf, m, r->pbuf);
            for (size_t s = 0; s < m; s++) correct += r->pbuf[s] == r->lbuf[s];
        }
        const double acc = n ? (double)correct / (double)n : 0;
        accsum += acc;
        sbuf *b = &r->csv;
        sb_printf(b, "%s%zu,%zu,%zu,%zu,%.6f,%.6f,", r->prefix.s, task + 1, e + 1, epoch, r->samples,
                  acc, tr_seen ? (double)tr_correct / (double)tr_seen : 0.0);
        for (size_t k = 0; k < nv; k++) sb_printf(b, "%.9g,", vals[k]);
        sb_printf(b, "%.9g,%.9g,%.3f,%.3f,%.3f", total,
                  r->samples ? total / (double)r->samples : 0.0, r->train_s, r->train_cpu_s,
                  now_s() - r->t0);
        if (r->ev) {
            char cells[1024];
            xb_status st = XB_OK;
            if (unc) st = xb_eval_task(r->ev, &r->tr, t, cells, sizeof cells, err);
            if (st) { xb_par_blas_threads(r->blas_train); return st; }
            sb_printf(b, "%s", unc ? cells : xb_eval_empty(r->ev));
        }
        sb_printf(b, "\n");
    }
    xb_par_blas_threads(r->blas_train);
    r->last_acc_mean = accsum / (double)(task + 1);
    if (r->csv.oom) return xb_fail(err, XB_ENOMEM, "results.csv: out of memory");
    return xb_write_atomic(r->csv_path, r->csv.s, r->csv.n, err);
}

static void json_section(sbuf *b, const xb_config *c, const xb_section *S, const double *v,
                         int last)
{
    char buf[256];
    sb_printf(b, "    \"%s\": {", S->name);
    for (size_t k = 0; k < S->nparams; k++) {
        const xb_param_spec *s = &S->params[k];
        sb_printf(b, "%s\"%s\": ", k ? ", " : "", s->name);
        if (s->type == XB_P_STR) sb_json_str(b, xb_config_str(c, S->name, s->name, s->choices ? s->choices : ""));
        else if (s->type == XB_P_ENUM || s->type == XB_P_BOOL) sb_json_str(b, xb_param_format(s, v[k], buf, sizeof buf));
        else sb_printf(b, "%s", xb_param_format(s, v[k], buf, sizeof buf));
    }
    sb_printf(b, "}%s\n", last ? "" : ",");
}

static xb_status write_json(runner *r, const char *status, xb_err *err)
{
    sbuf b = {0};
    char *ini = xb_config_to_ini(r->cfg);
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    sb_printf(&b, "{\n  \"xbemu_version\": \"%s\",\n  \"git_hash\": \"%s\",\n", XB_VERSION, XB_GIT_HASH);
    sb_printf(&b, "  \"written\": \"%s\",\n  \"status\": \"%s\",\n", date, status);
    sb_printf(&b, "  \"seed\": %.0f,\n  \"threads\": %d,\n  \"blas\": ", r->rp[XB_RUN_SEED], xb_par_budget());
    sb_json_str(&b, xb_par_blas_info());
    sb_printf(&b, ",\n  \"samples_seen\": %zu,\n  \"train_s\": %.3f,\n  \"wall_s\": %.3f,\n",
              r->samples, r->train_s, now_s() - r->t0);
    sb_printf(&b, "  \"resolved\": {\n");
    json_section(&b, r->cfg, &xb_section_run, r->rp, 0);
    json_section(&b, r->cfg, &xb_section_data, r->dp, 0);
    json_section(&b, r->cfg, &xb_section_net, (double[XB_NETP_NPARAMS]){ 0, r->net.act, r->net.init }, 0);
    json_section(&b, r->cfg, &xb_section_train, r->tp, !r->T->nparams);
    if (r->T->nparams) {
        const xb_section own = { "train_own", "", r->T->params, r->T->nparams };
        sbuf tmp = {0};
        json_section(&tmp, r->cfg, &own, r->own, 1);
        /* the trainer's keys live in [train] too; list them under its name */
        if (tmp.s) {
            char *q = strstr(tmp.s, "train_own");
            if (q) sb_printf(&b, "    \"%s\"%s", r->T->name, q + strlen("train_own") + 1);
        }
        xb_free(tmp.s);
    }
    sb_printf(&b, "  },\n");
    if (r->T->report && r->tr.state) {     /* the trainer's own figures (e.g. noise stats) */
        char rep[2048];
        r->T->report(r->tr.state, rep, sizeof rep);
        if (rep[0]) sb_printf(&b, "  \"trainer_report\": {%s},\n", rep);
    }
    sb_printf(&b, "  \"config_ini\": ");
    sb_json_str(&b, ini ? ini : "");
    sb_printf(&b, "\n}\n");
    xb_free(ini);
    xb_status st = b.oom ? xb_fail(err, XB_ENOMEM, "run.json: out of memory")
                         : xb_write_atomic(r->json_path, b.s, b.n, err);
    xb_free(b.s);
    return st;
}

static void progress(runner *r, FILE *f, int tty, size_t task, size_t epoch, size_t i,
                     size_t n, size_t correct, double t_epoch0, size_t done_total,
                     size_t total, int final)
{
    const double el = now_s() - t_epoch0, rate = el > 0 ? (double)i / el : 0;
    const double run_el = now_s() - r->t0;
    const double eta = done_total ? run_el * (double)(total - done_total) / (double)done_total : 0;
    fprintf(f, "%stask %zu/%zu epoch %zu/%.0f %zu/%zu samples %.0f/s acc %.4f ETA %02d:%02d:%02d%s",
            tty ? "\r" : "", task + 1, r->data.ts->n, epoch, r->tp[XB_TRAIN_EPOCHS], i, n, rate,
            i ? (double)correct / (double)i : 0.0, (int)(eta / 3600), (int)fmod(eta / 60, 60),
            (int)fmod(eta, 60), tty ? (final ? "\n" : "   ") : "\n");
    fflush(f);
}

static xb_status check_shapes(runner *r, xb_err *err)
{
    const xb_dataset *d = r->data.ts->t[0].train;
    unsigned ncls = 0;
    for (size_t i = 0; i < r->data.nds; i++)
        if (r->data.ds[i]->nclasses > ncls) ncls = r->data.ds[i]->nclasses;
    const size_t in = r->net.sizes[0], out = r->net.sizes[r->net.nlayers];
    if (in == d->dim && out == ncls) return XB_OK;
    char w[300] = "", lay[128];
    const xb_cfg_entry *e = xb_config_find(r->cfg, "net", "layers");
    if (e) xb_config_where(e, w, sizeof w);
    return xb_fail(err, XB_EINVAL, "%s[net] layers = %s does not fit the data: %s has %zu inputs "
                   "and %u classes (layers must run from %zu to %u)", w,
                   xb_net_format_layers(&r->net, lay, sizeof lay), r->data.label, d->dim, ncls,
                   d->dim, ncls);
}

static xb_status configure(runner *r, const xb_config *c, xb_err *err)
{
    const xb_param_spec *t1[1] = { run_params }, *t2[1] = { xb_section_data.params };
    const size_t n1[1] = { XB_RUN_NPARAMS }, n2[1] = { XB_DATA_NPARAMS };
    xb_status st;
    if ((st = xb_config_check_keys(c, "run", t1, n1, 1, NULL, err)) ||
        (st = xb_config_params(c, "run", run_params, XB_RUN_NPARAMS, r->rp, err)) ||
        (st = xb_config_check_keys(c, "data", t2, n2, 1, NULL, err)) ||
        (st = xb_config_params(c, "data", xb_section_data.params, XB_DATA_NPARAMS, r->dp, err)) ||
        (st = xb_trainer_config(c, &r->net, &r->T, r->tp, r->own, err)))
        return st;
    if (r->T->nparams > 64) return xb_fail(err, XB_ERANGE, "trainer %s: too many keys", r->T->name);
    if (r->T->uses_device || xb_config_has_section(c, "device")) {
        /* validated up front, before any data is loaded (the trainer reads it again) */
        const char *tn = xb_config_str(c, "device", "type", "softbounds");
        const xb_device_type *D = xb_device_find(tn);
        double dev[64];
        if (!D) {
            char w[300] = "";
            const xb_cfg_entry *e = xb_config_find(c, "device", "type");
            if (e) xb_config_where(e, w, sizeof w);
            return xb_fail(err, XB_EINVAL, "%s[device] type = '%s' is not a device model (see "
                           "`xbemu devices`)", w, tn);
        }
        if (D->nparams > 64) return xb_fail(err, XB_ERANGE, "device %s: too many keys", D->name);
        if ((st = xb_device_params(c, "device", D, dev, err))) return st;
    }
    return XB_OK;
}

/* Epochs of task t: [train] task_epochs ("40, 5"; the last value repeats) or `epochs`. */
static xb_status task_epochs(const xb_config *c, size_t ntasks, size_t dflt, size_t *out,
                             xb_err *err)
{
    const char *s = xb_config_str(c, "train", "task_epochs", "");
    size_t k = 0, last = dflt;
    while (*s == ' ') s++;
    while (*s && k < ntasks) {
        char *end;
        const long v = strtol(s, &end, 10);
        while (*end == ' ') end++;
        if (end == s || v < 1 || v > 100000 || (*end && *end != ',')) {
            char w[300] = "";
            const xb_cfg_entry *e = xb_config_find(c, "train", "task_epochs");
            if (e) xb_config_where(e, w, sizeof w);
            return xb_fail(err, XB_EINVAL, "%s[train] task_epochs = '%s' is not a comma-separated "
                           "list of epoch counts in [1, 100000]", w, e ? e->value : "");
        }
        out[k++] = last = (size_t)v;
        s = *end ? end + 1 : end;
        while (*s == ' ') s++;
    }
    for (; k < ntasks; k++) out[k] = last;
    return XB_OK;
}

xb_status xb_run(const xb_config *c, const xb_run_opts *o, xb_run_summary *sum, xb_err *err)
{
    runner R = { .cfg = c };
    size_t *tepochs = NULL;                 /* epochs of each task */
    runner *r = &R;
    uint32_t *order = NULL;
    memset(sum, 0, sizeof *sum);
    r->t0 = now_s();
    xb_status st = configure(r, c, err);
    if (st) return st;
    const uint32_t seed = (uint32_t)r->rp[XB_RUN_SEED];
    const int threads = (int)r->rp[XB_RUN_THREADS];
    if (threads > 0) { xb_par_set_budget(threads); omp_set_num_threads(threads); }
    /* batch-1 training is a chain of small MVMs: BLAS threads cost more than they
     * save there (and spin against other jobs), so they serve evaluation only */
    r->blas_train = r->tp[XB_TRAIN_BATCH] > 1 ? xb_par_budget() : 1;
    xb_par_blas_threads(r->blas_train);

    if ((st = tasks_load(&r->data, c, r->dp, seed, err)) || (st = check_shapes(r, err))) goto out;
    const xb_trainer_setup su = { .cfg = c, .net = r->net, .train = r->tp, .own = r->own, .seed = seed };
    r->tr.type = r->T;
    if ((st = r->T->alloc(&r->tr.state, &su, err))) goto out;
    if ((st = xb_eval_alloc(&r->ev, c, r->T, &r->net, r->data.label, seed, err))) goto out;

    const char *name = xb_config_str(c, "run", "name", "run");
    const char *cfg_out = xb_config_str(c, "run", "out", "");
    if (o && o->out_dir && *o->out_dir) snprintf(r->dir, sizeof r->dir, "%s", o->out_dir);
    else if (*cfg_out) snprintf(r->dir, sizeof r->dir, "%s", cfg_out);
    else snprintf(r->dir, sizeof r->dir, "results/%s", name);
    if (snprintf(sum->out_dir, sizeof sum->out_dir, "%s", r->dir) >= (int)sizeof sum->out_dir ||
        snprintf(r->csv_path, sizeof r->csv_path, "%s/results.csv", r->dir) >= (int)sizeof r->csv_path ||
        snprintf(r->json_path, sizeof r->json_path, "%s/run.json", r->dir) >= (int)sizeof r->json_path) {
        st = xb_fail(err, XB_EINVAL, "output directory name too long: %s", r->dir);
        goto out;
    }
    if ((st = mkdir_p(r->dir, err))) goto out;

    size_t dim = r->net.sizes[0];
    r->xbuf = xb_malloc((size_t)XB_NET_CHUNK * dim * sizeof(float));
    r->lbuf = xb_malloc((size_t)XB_NET_CHUNK * sizeof(unsigned));
    r->pbuf = xb_malloc((size_t)XB_NET_CHUNK * sizeof(unsigned));
    if (!r->xbuf || !r->lbuf || !r->pbuf) { st = xb_fail(err, XB_ENOMEM, "run: out of memory"); goto out; }
    csv_header(r);
    if ((st = write_json(r, "running", err))) goto out;

    FILE *pf = o ? o->progress : NULL;
    const int pmode = (int)r->rp[XB_RUN_PROGRESS];
    if (pmode == XB_PROGRESS_OFF) pf = NULL;
    const int tty = pf && (pmode == XB_PROGRESS_TTY || (pmode == XB_PROGRESS_AUTO && isatty(fileno(pf))));
    const size_t batch = (size_t)r->tp[XB_TRAIN_BATCH];
    if (!(tepochs = xb_calloc(r->data.ts->n, sizeof *tepochs))) {
        st = xb_fail(err, XB_ENOMEM, "run: out of memory");
        goto out;
    }
    if ((st = task_epochs(c, r->data.ts->n, (size_t)r->tp[XB_TRAIN_EPOCHS], tepochs, err))) goto out;
    const size_t every = (size_t)r->rp[XB_RUN_EVAL_EVERY];
    size_t total = 0, done_total = 0;
    for (size_t t = 0; t < r->data.ts->n; t++) total += tepochs[t] * r->data.ts->t[t].train->n;
    int stopped = 0;
    size_t task = 0, epoch = 0;
    for (task = 0; task < r->data.ts->n && !stopped; task++) {
        const xb_task *t = &r->data.ts->t[task];
        const size_t n = t->train->n;
        xb_free(order);
        if (!(order = xb_malloc(n * sizeof *order))) { st = xb_fail(err, XB_ENOMEM, "run: out of memory"); goto out; }
        if (r->T->task_begin) r->T->task_begin(r->tr.state, task);
        const size_t epochs = tepochs[task];
        for (epoch = 1; epoch <= epochs && !stopped; epoch++) {
            /* sample order: stream (task, epoch) of the shuffle purpose */
            xb_rng_permutation(seed, XB_RNG_SHUFFLE, (uint32_t)(task * 100000 + epoch), n, order);
            const double te0 = now_s();
            double tlast = te0;
            size_t correct = 0, i = 0;
            while (i < n) {
                const size_t m = n - i < batch ? n - i : batch;
                const size_t mm = m < XB_NET_CHUNK ? m : XB_NET_CHUNK;
                for (size_t s = 0; s < mm; s++) xb_task_sample(t, 0, order[i + s], r->xbuf + s * dim, r->lbuf + s);
                const double ts0 = now_s(), tc0 = cpu_s();
                correct += r->T->step(r->tr.state, r->xbuf, r->lbuf, mm);
                r->train_s += now_s() - ts0;
                r->train_cpu_s += cpu_s() - tc0;
                i += mm; r->samples += mm; done_total += mm;
                if (o && o->stop && *o->stop) { stopped = 1; break; }
                if (every && r->samples % every == 0 && i < n &&
                    (st = evaluate(r, task, epoch, correct, i, 0, err))) goto out;
                if (pf && now_s() - tlast > (tty ? 0.5 : 10.0)) {
                    progress(r, pf, tty, task, epoch, i, n, correct, te0, done_total, total, 0);
                    tlast = now_s();
                }
            }
            if (pf) progress(r, pf, tty, task, epoch, i, n, correct, te0, done_total, total, 1);
            if ((st = evaluate(r, task, epoch, correct, i, epoch == epochs && !stopped, err))) goto out;
        }
        if (!stopped && r->T->task_end && (st = r->T->task_end(r->tr.state, task, r->dir, err))) goto out;
    }
    if (r->ev && !stopped && task > 0) {      /* wakeup.csv on the last task */
        xb_par_blas_threads(xb_par_budget());
        st = xb_eval_wakeup(r->ev, &r->tr, &r->data.ts->t[task - 1], r->dir, err);
        xb_par_blas_threads(r->blas_train);
        if (st) goto out;
    }
    st = write_json(r, stopped ? "interrupted" : "complete", err);
    sum->samples = r->samples;
    sum->tasks = task;
    sum->accuracy = r->last_acc_mean;
    xb_energy led;
    xb_energy_reset(&led);
    r->T->ledger(r->tr.state, &led);
    sum->energy_J = xb_energy_total(&led);
    sum->energy_per_sample_J = r->samples ? sum->energy_J / (double)r->samples : 0;
    sum->train_s = r->train_s;
    sum->wall_s = now_s() - r->t0;
    sum->interrupted = stopped;
    if (!st && stopped) st = xb_fail(err, XB_EINTR, "interrupted after %zu samples; %s holds "
                                     "what was measured", r->samples, r->csv_path);
out:
    xb_free(order);
    xb_free(tepochs);
    xb_free(r->xbuf); xb_free(r->lbuf); xb_free(r->pbuf);
    xb_free(r->csv.s); xb_free(r->prefix.s);
    if (r->tr.state) r->T->free(r->tr.state);
    xb_eval_free(r->ev);
    tasks_free(&r->data);
    return st;
}
