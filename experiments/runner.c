/* experiments/runner.c: a pool of child processes, one per run (see xb_runner.h). */
#include "experiments/xb_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/xb_csv.h"
#include "core/xb_mem.h"

extern char **environ;

enum { PATH_LEN = 4096 };

/* Copy with truncation (gcc's -Wformat-truncation objects to snprintf "%s" here). */
static void copy_str(char *d, size_t n, const char *s)
{
    size_t k = strlen(s);
    if (k >= n) k = n - 1;
    memcpy(d, s, k);
    d[k] = '\0';
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

xb_status xb_mkdirs(const char *path, xb_err *err)
{
    char p[PATH_LEN];
    if (!*path || strlen(path) >= sizeof p) return xb_fail(err, XB_EIO, "%s: path too long", path);
    copy_str(p, sizeof p, path);
    for (char *s = p + 1;; s++) {
        const char c = *s;
        if (c != '/' && c != '\0') continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return xb_fail(err, XB_EIO, "%s: cannot create directory: %s", p, strerror(errno));
        *s = c;
        if (!c) break;
    }
    return XB_OK;
}

static void fsync_dir_of(const char *path)
{
    char d[PATH_LEN];
    copy_str(d, sizeof d, path);
    char *slash = strrchr(d, '/');
    if (slash == d) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(d, sizeof d, ".");
    const int fd = open(d, O_RDONLY);
    if (fd >= 0) { fsync(fd); close(fd); }
}

xb_status xb_runner_write_atomic(const char *path, const char *data, size_t len, xb_err *err)
{
    char tmp[PATH_LEN];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return xb_fail(err, XB_EIO, "%s: path too long", path);
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return xb_fail(err, XB_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < len) {
        const ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    const int ok = off == len && fsync(fd) == 0;
    const int cerr = close(fd);
    if (!ok || cerr != 0 || rename(tmp, path) != 0) {
        const int e = errno;
        unlink(tmp);
        return xb_fail(err, XB_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    fsync_dir_of(path);
    return XB_OK;
}

static void run_path(char *buf, size_t len, const char *dir, const char *id, const char *file)
{
    snprintf(buf, len, "%s/runs/%s%s%s", dir, id, file ? "/" : "", file ? file : "");
}

int xb_run_read_done(const char *dir, const char *id, xb_run_status *st)
{
    char p[PATH_LEN], line[600];
    run_path(p, sizeof p, dir, id, "done");
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    memset(st, 0, sizeof *st);
    st->state = XB_RUN_FAILED;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "status=", 7)) st->state = strcmp(line + 7, "ok") ? XB_RUN_FAILED : XB_RUN_OK;
        else if (!strncmp(line, "exit=", 5)) st->exit_code = atoi(line + 5);
        else if (!strncmp(line, "seconds=", 8)) st->seconds = atof(line + 8);
        else if (!strncmp(line, "error=", 6)) copy_str(st->error, sizeof st->error, line + 6);
    }
    fclose(f);
    return 1;
}

static xb_status write_done(const char *dir, const char *id, const xb_run_status *st, xb_err *err)
{
    char p[PATH_LEN], text[700];
    run_path(p, sizeof p, dir, id, "done");
    const int n = snprintf(text, sizeof text, "status=%s\nexit=%d\nseconds=%.3f\nerror=%s\n",
                           st->state == XB_RUN_OK ? "ok" : "failed", st->exit_code, st->seconds,
                           st->error);
    return xb_runner_write_atomic(p, text, (size_t)n, err);
}

/* Last non-blank line of a file (at most the last 4 KiB are looked at). */
static void last_line(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[4097];
    if (fseek(f, 0, SEEK_END) == 0) {
        const long sz = ftell(f);
        fseek(f, sz > 4096 ? sz - 4096 : 0, SEEK_SET);
    }
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *e = buf + n;
    while (e > buf && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ')) *--e = '\0';
    char *b = e;
    while (b > buf && b[-1] != '\n') b--;
    copy_str(out, len, b);
    for (char *c = out; *c; c++) if (*c == '\r' || *c == '\t') *c = ' ';
}

/* A finished child: did it leave a readable results.csv without NaN? */
static void check_results(const char *dir, const char *id, xb_run_status *st)
{
    char p[PATH_LEN];
    run_path(p, sizeof p, dir, id, "results.csv");
    xb_csv *t = NULL;
    xb_err e = {0};
    xb_csv_opts o = XB_CSV_OPTS_DEFAULT;
    o.delim = ',';
    o.header = 1;
    o.comment = 0;
    if (access(p, R_OK) != 0) {
        st->state = XB_RUN_FAILED;
        snprintf(st->error, sizeof st->error, "exited 0 but wrote no results.csv");
        return;
    }
    if (xb_csv_read(p, &o, &t, &e) != XB_OK) {
        st->state = XB_RUN_FAILED;
        copy_str(st->error, sizeof st->error, e.msg);
        return;
    }
    for (size_t r = 0; r < t->nrows && st->state == XB_RUN_OK; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = xb_csv_cell(t, r, c);
            char *end;
            const double v = strtod(s, &end);
            if (*s && !*end && isnan(v)) {
                st->state = XB_RUN_FAILED;
                snprintf(st->error, sizeof st->error, "results.csv:%d: %s is NaN", t->line[r],
                         t->head[c]);
                break;
            }
        }
    xb_csv_free(t);
}

typedef struct slot { pid_t pid; size_t k; double t0; int timed_out, lockfd; } slot;

/* Take DIR/runs/<id>/lock (fcntl write lock, released when we close it or die): two
 * sweeps sharing a directory never run the same run at once. Returns the fd, -2 if
 * another process holds the lock, -1 on an error (err filled). Where the file system
 * has no locks (ENOLCK) the run goes ahead unlocked. */
static int lock_run(const char *dir, const char *id, xb_err *err)
{
    char rd[PATH_LEN], p[PATH_LEN];
    run_path(rd, sizeof rd, dir, id, NULL);
    run_path(p, sizeof p, dir, id, "lock");
    if (xb_mkdirs(rd, err) != XB_OK) return -1;
    const int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        xb_fail(err, XB_EIO, "%s: cannot open: %s", p, strerror(errno));
        return -1;
    }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, F_SETLK, &fl) != 0 && errno != ENOLCK) {
        close(fd);
        return -2;
    }
    return fd;
}

/* The child's environment: ours with the thread counts replaced. */
static char **child_env(int threads, char *omp, char *blas, size_t len)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = xb_calloc(n + 3, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "OMP_NUM_THREADS=", 16) &&
            strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21))
            env[k++] = environ[i];
    snprintf(omp, len, "OMP_NUM_THREADS=%d", threads);
    snprintf(blas, len, "OPENBLAS_NUM_THREADS=%d", threads);
    env[k++] = omp;
    env[k++] = blas;
    return env;
}

static xb_status launch(const xb_runner_opts *o, const xb_run *r, char **env, slot *s,
                        xb_err *err)
{
    char rd[PATH_LEN], ini[PATH_LEN], p[PATH_LEN];
    run_path(rd, sizeof rd, o->dir, r->id, NULL);
    run_path(ini, sizeof ini, o->dir, r->id, "config.ini");
    xb_status st = xb_mkdirs(rd, err);
    const char *stale[] = { "done", "results.csv", "run.json" };
    for (size_t i = 0; st == XB_OK && i < sizeof stale / sizeof *stale; i++) {
        run_path(p, sizeof p, o->dir, r->id, stale[i]);
        if (unlink(p) != 0 && errno != ENOENT)
            st = xb_fail(err, XB_EIO, "%s: cannot remove: %s", p, strerror(errno));
    }
    if (st == XB_OK) st = xb_runner_write_atomic(ini, r->ini, strlen(r->ini), err);
    if (st != XB_OK) return st;
    run_path(p, sizeof p, o->dir, r->id, "stdout.log");
    const int fo = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    run_path(p, sizeof p, o->dir, r->id, "stderr.log");
    const int fe = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    size_t nc = 0;
    while (o->cmd[nc]) nc++;
    const char *argv[nc + 5];
    for (size_t i = 0; i < nc; i++) argv[i] = o->cmd[i];
    argv[nc] = ini; argv[nc + 1] = "--out"; argv[nc + 2] = rd; argv[nc + 3] = NULL;
    if (fo < 0 || fe < 0) {
        if (fo >= 0) close(fo);
        if (fe >= 0) close(fe);
        return xb_fail(err, XB_EIO, "%s: cannot write the run's logs: %s", rd, strerror(errno));
    }
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {            /* child: async-signal-safe calls only */
        prctl(PR_SET_PDEATHSIG, SIGKILL);          /* die with the sweep */
        if (getppid() != parent) _exit(127);        /* it died before prctl */
        setpgid(0, 0);                  /* own group: a stop or timeout reaches its children */
        dup2(fo, 1);
        dup2(fe, 2);
        close(fo);
        close(fe);
        execve(argv[0], (char *const *)argv, env);
        static const char msg[] = "xbemu sweep: cannot execute the runner\n";
        if (write(2, msg, sizeof msg - 1) < 0) _exit(127);
        _exit(127);
    }
    close(fo);
    close(fe);
    if (pid < 0) return xb_fail(err, XB_EIO, "cannot start a run: fork: %s", strerror(errno));
    setpgid(pid, pid);                          /* either side may win the race */
    s->pid = pid;
    s->t0 = now_s();
    s->timed_out = 0;
    return XB_OK;
}

static void finish(const xb_runner_opts *o, const xb_run *r, int ws, double secs,
                   int timed_out, xb_run_status *st)
{
    memset(st, 0, sizeof *st);
    st->seconds = secs;
    char p[PATH_LEN], last[300];
    run_path(p, sizeof p, o->dir, r->id, "stderr.log");
    last_line(p, last, sizeof last);
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
        st->state = XB_RUN_OK;
        check_results(o->dir, r->id, st);
    } else if (WIFEXITED(ws)) {
        st->state = XB_RUN_FAILED;
        st->exit_code = WEXITSTATUS(ws);
        if (last[0]) copy_str(st->error, sizeof st->error, last);
        else snprintf(st->error, sizeof st->error, "exited with status %d", st->exit_code);
    } else if (timed_out) {
        st->state = XB_RUN_FAILED;
        st->exit_code = WIFSIGNALED(ws) ? -WTERMSIG(ws) : -1;
        snprintf(st->error, sizeof st->error, "timed out after %g s (killed)", o->timeout);
    } else {
        st->state = XB_RUN_FAILED;
        st->exit_code = WIFSIGNALED(ws) ? -WTERMSIG(ws) : -1;
        snprintf(st->error, sizeof st->error, "killed by signal %d%s%s", -st->exit_code,
                 last[0] ? ": " : "", last);
    }
}

static long next_in_order(void *ctx)
{
    size_t *k = ctx;
    return (long)(*k)++;
}

xb_status xb_runner_run(const xb_runner_opts *o, const xb_run *runs, size_t n,
                        xb_run_status *status, xb_err *err)
{
    for (size_t k = 0; k < n; k++) memset(&status[k], 0, sizeof status[k]);
    const int jobs = o->jobs > 0 ? o->jobs : 1;
    char omp[40], blas[40];
    char **env = child_env(o->threads > 0 ? o->threads : 1, omp, blas, sizeof omp);
    slot *sl = xb_calloc((size_t)jobs, sizeof *sl);
    if (!env || !sl) {
        xb_free(env); xb_free(sl);
        return xb_fail(err, XB_ENOMEM, "sweep: out of memory");
    }
    size_t order = 0;
    long (*next)(void *) = o->next ? o->next : next_in_order;
    void *nctx = o->next ? o->next_ctx : &order;
    xb_runner_event ev = { .total = n, .eta = -1 };
    const double t0 = now_s();
    size_t ran = 0;                   /* runs executed here (not skipped), for the ETA */
    int exhausted = 0, killed = 0;
    xb_status rc = XB_OK;
    for (;;) {
        const int stopping = o->stop && *o->stop;
        if (stopping && !killed) {
            for (int j = 0; j < jobs; j++) if (sl[j].pid > 0) kill(-sl[j].pid, SIGTERM);
            killed = 1;
        }
        while (!stopping && !exhausted && rc == XB_OK && (int)ev.running < jobs) {
            const long k = (o->next || order < n) ? next(nctx) : -1;
            if (k < 0 || (size_t)k >= n) { exhausted = 1; break; }
            const xb_run *r = &runs[k];
            xb_run_status *st = &status[k];
            if (xb_run_read_done(o->dir, r->id, st) &&
                !(o->retry_failed && st->state == XB_RUN_FAILED)) {
                st->skipped = 1;
                ev.finished++; ev.skipped++;
                ev.failed += st->state == XB_RUN_FAILED;
                ev.elapsed = now_s() - t0;
                ev.run = r; ev.status = st;
                if (o->progress) o->progress(o->progress_ctx, &ev);
                continue;
            }
            const int fd = lock_run(o->dir, r->id, err);
            if (fd == -1) { rc = err->code; break; }
            if (fd == -2) {                     /* another sweep is running it */
                copy_str(st->error, sizeof st->error, "running in another sweep process");
                continue;
            }
            if (xb_run_read_done(o->dir, r->id, st) &&          /* it finished meanwhile */
                !(o->retry_failed && st->state == XB_RUN_FAILED)) {
                close(fd);
                st->skipped = 1;
                ev.finished++; ev.skipped++;
                ev.failed += st->state == XB_RUN_FAILED;
                continue;
            }
            memset(st, 0, sizeof *st);
            int j = 0;
            while (sl[j].pid > 0) j++;
            if ((rc = launch(o, r, env, &sl[j], err)) != XB_OK) { close(fd); break; }
            sl[j].k = (size_t)k;
            sl[j].lockfd = fd;
            ev.running++;
        }
        if (ev.running == 0) break;
        int ws;
        pid_t pid;
        if (o->timeout > 0) {                   /* poll, and kill runs over their time */
            pid = waitpid(-1, &ws, WNOHANG);
            if (pid == 0) {
                const double t = now_s();
                for (int j = 0; j < jobs; j++)
                    if (sl[j].pid > 0 && !sl[j].timed_out && t - sl[j].t0 > o->timeout) {
                        kill(-sl[j].pid, SIGKILL);
                        sl[j].timed_out = 1;
                    }
                const struct timespec nap = { 0, 20000000 };
                nanosleep(&nap, NULL);
                continue;
            }
        } else pid = waitpid(-1, &ws, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            rc = xb_fail(err, XB_EIO, "sweep: waitpid: %s", strerror(errno));
            break;
        }
        int j = 0;
        while (j < jobs && sl[j].pid != pid) j++;
        if (j == jobs) continue;                 /* not one of ours */
        const xb_run *r = &runs[sl[j].k];
        xb_run_status *st = &status[sl[j].k];
        sl[j].pid = 0;
        ev.running--;
        finish(o, r, ws, now_s() - sl[j].t0, sl[j].timed_out, st);
        if (killed && WIFSIGNALED(ws) && !sl[j].timed_out) {   /* we stopped it: unfinished */
            memset(st, 0, sizeof *st);
            close(sl[j].lockfd);
            continue;
        }
        xb_err werr = {0};
        if (write_done(o->dir, r->id, st, &werr) != XB_OK && rc == XB_OK) {
            *err = werr;
            rc = werr.code;
        }
        close(sl[j].lockfd);                     /* after done: a waiting sweep sees it */
        ran++;
        ev.finished++;
        ev.failed += st->state == XB_RUN_FAILED;
        ev.elapsed = now_s() - t0;
        const size_t left = n - ev.finished;
        ev.eta = (double)left * (ev.elapsed / (double)ran);   /* wall time per run so far */
        ev.run = r; ev.status = st;
        if (o->progress) o->progress(o->progress_ctx, &ev);
    }
    if (rc != XB_OK) {                           /* stop what runs, leave it unfinished */
        for (int j = 0; j < jobs; j++)
            if (sl[j].pid > 0) {
                kill(-sl[j].pid, SIGTERM);
                waitpid(sl[j].pid, NULL, 0);
                close(sl[j].lockfd);
            }
    }
    xb_free(env);
    xb_free(sl);
    if (rc == XB_OK && o->stop && *o->stop)
        return xb_fail(err, XB_EINTR, "sweep interrupted; run the same command again to resume");
    return rc;
}
