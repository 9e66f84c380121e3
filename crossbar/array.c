/* crossbar/array.c: one physical array: SoA device state, cached G, faults, pulses,
 * write-verify programming and the ideal Ohm/Kirchhoff reads (BLAS on G). */
#include "crossbar/xb_array.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "devices/xb_bank.h"

struct xb_array {
    const xb_device_type *type;       /* borrowed */
    double *p;                        /* owned copy of the device parameters */
    size_t rows, cols;
    uint32_t seed, id, epoch, reads;
    float *block;                     /* nfields x rows x cols state, then G */
    float *G;                         /* inside block */
    double *rowsum, *colsum;          /* sums of G (double), colsum lazily */
    int colsum_ok;
    uint8_t *dirty;                   /* per row: G row out of date */
    double *row_e, *row_n, *row_w;    /* per-row energy, pulses, writes of a step */
    uint8_t *stuck;                   /* rows x cols, NULL when no device is stuck */
    uint8_t *dead_r, *dead_c;         /* NULL when no line is dead */
    int16_t *scratch;                 /* rows x cols, for ONE_WAY sign filtering and programming */
    double gmin, gmax;
    double dg_up, dg_down;            /* mean |dG| of one pulse, measured at allocation */
};

void xb_array_free(xb_array *a)
{
    if (!a) return;
    xb_free(a->p); xb_free(a->block); xb_free(a->rowsum); xb_free(a->colsum); xb_free(a->dirty);
    xb_free(a->row_e); xb_free(a->row_n); xb_free(a->row_w); xb_free(a->stuck);
    xb_free(a->dead_r); xb_free(a->dead_c); xb_free(a->scratch);
    xb_free(a);
}

static xb_row row_view(const xb_array *a, size_t i)
{
    xb_row r = { .n = a->cols };
    for (size_t k = 0; k < a->type->nfields; k++)
        r.f[k] = a->block + (k * a->rows + i) * a->cols;
    return r;
}

/* Mean step of one pulse, measured on a probe of fresh devices (own seed, so the array's
 * own streams are untouched): the SIGNED mean change of G in the pulse direction, so
 * that zero-mean C2C noise averages out (the mean of |dG| measures the noise instead:
 * E|mu + sigma xi| ~ 0.8 sigma when sigma >> mu). Two-way and binary devices: one pulse
 * from the fresh state. One-way devices are pulsed monotonically in training, and the
 * first pulses of a fresh one can carry a transient that later pulses do not (hfox: its
 * 1/f register starts empty, and each of its first 15 pulses raises the mean of ln R by
 * alpha b_k / 2, ~18x the slope m1): they get WARM single pulses first, then the mean
 * slope over the next SPAN pulses. If the signed mean is not positive (a device that
 * does not move on average) the mean |dG| of the first pulse is kept, as before. */
static xb_status measure_step(xb_array *a, xb_err *err)
{
    enum { NP = 4096, WARM = 15, SPAN = 8 };
    const xb_device_type *T = a->type;
    const int one_way = (T->flags & XB_DEV_ONE_WAY) != 0;
    const int dirs = one_way ? 1 : 2;
    const int warm = one_way ? WARM : 0, span = one_way ? SPAN : 1;
    float *g0 = xb_malloc(NP * sizeof *g0), *g1 = xb_malloc(NP * sizeof *g1);
    int16_t *n = xb_malloc(NP * sizeof *n);
    if (!g0 || !g1 || !n) {
        xb_free(g0); xb_free(g1); xb_free(n);
        return xb_fail(err, XB_ENOMEM, "%s: out of memory for the step probe", T->name);
    }
    double step[2] = { 0, 0 };
    xb_status st = XB_OK;
    for (int d = 0; d < dirs && !st; d++) {
        xb_bank *b;
        st = xb_bank_alloc(&b, T, a->p, NP, (a->seed ^ 0x5a5a5au) & XB_SEED_MAX, err);
        if (st) break;
        b->array = 0xffffffffu - a->id;
        const double sgn = one_way ? (T->pulse_dir < 0 ? -1.0 : 1.0) : (d == 0 ? 1.0 : -1.0);
        for (size_t j = 0; j < NP; j++) n[j] = (int16_t)(d == 0 ? 1 : -1);
        xb_bank_conductance(b, g0, 0);
        xb_bank_pulse(b, n);
        xb_bank_conductance(b, g1, 0);
        double s_abs = 0.0;
        for (size_t j = 0; j < NP; j++) s_abs += fabs((double)g1[j] - g0[j]);
        if (warm > 0) {
            for (int k = 1; k < warm; k++) xb_bank_pulse(b, n);
            xb_bank_conductance(b, g0, 0);
            for (int k = 0; k < span; k++) xb_bank_pulse(b, n);
            xb_bank_conductance(b, g1, 0);
        }
        double s = 0.0;
        for (size_t j = 0; j < NP; j++) s += (double)g1[j] - g0[j];
        s *= sgn / ((double)NP * span);
        step[d] = s > 0 && isfinite(s) ? s : s_abs / NP;
        xb_bank_free(b);
    }
    xb_free(g0); xb_free(g1); xb_free(n);
    if (st) return st;
    a->dg_up = step[0];
    a->dg_down = dirs == 2 ? step[1] : step[0];
    return XB_OK;
}

xb_status xb_array_alloc(xb_array **out, const xb_device_type *T, const double *p,
                         size_t rows, size_t cols, uint32_t seed, uint32_t id, xb_err *err)
{
    *out = NULL;
    if (rows == 0 || cols == 0 || rows > (1u << 20) || cols > (1u << 20))
        return xb_fail(err, XB_ERANGE, "%s array %zux%zu: each size must be in [1, 1048576]",
                       T->name, rows, cols);
    if (T->nfields > XB_MAX_FIELDS)
        return xb_fail(err, XB_EINVAL, "%s: %zu state fields (max %d)", T->name, T->nfields,
                       XB_MAX_FIELDS);
    xb_array *a = xb_calloc(1, sizeof *a);
    const size_t nd = rows * cols;
    if (a && (a->p = xb_calloc(T->nparams ? T->nparams : 1, sizeof *p))
        && (a->block = xb_calloc((T->nfields + 1) * nd, sizeof(float)))
        && (a->rowsum = xb_calloc(rows, sizeof(double)))
        && (a->colsum = xb_calloc(cols, sizeof(double)))
        && (a->dirty = xb_calloc(rows, 1))
        && (a->row_e = xb_calloc(rows, sizeof(double)))
        && (a->row_n = xb_calloc(rows, sizeof(double)))
        && (a->row_w = xb_calloc(rows, sizeof(double)))
        && (a->scratch = xb_calloc(nd, sizeof(int16_t)))) {
        a->type = T;
    }
    if (!a || !a->type) {
        xb_array_free(a);
        return xb_fail(err, XB_ENOMEM, "%s array %zux%zu: out of memory", T->name, rows, cols);
    }
    memcpy(a->p, p, T->nparams * sizeof *p);
    a->rows = rows;
    a->cols = cols;
    a->seed = seed & XB_SEED_MAX;
    a->id = id;
    a->G = a->block + T->nfields * nd;
    T->g_range(a->p, &a->gmin, &a->gmax);
    xb_status st = measure_step(a, err);
    if (st) { xb_array_free(a); return st; }
    const int nt = xb_par_threads(rows, cols);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t i = 0; i < rows; i++) {
        xb_row r = row_view(a, i);
        const xb_rng d2d = xb_rng_for_row(a->seed, XB_RNG_D2D, id, (uint32_t)i, 0);
        T->init_row(&r, a->p, &d2d);
        a->dirty[i] = 1;
    }
    *out = a;
    return XB_OK;
}

size_t xb_array_rows(const xb_array *a) { return a->rows; }
size_t xb_array_cols(const xb_array *a) { return a->cols; }
uint32_t xb_array_id(const xb_array *a) { return a->id; }
uint32_t xb_array_epoch(const xb_array *a) { return a->epoch; }
const xb_device_type *xb_array_type(const xb_array *a) { return a->type; }
const double *xb_array_params(const xb_array *a) { return a->p; }
void xb_array_g_range(const xb_array *a, double *gmin, double *gmax)
{
    *gmin = a->gmin;
    *gmax = a->gmax;
}
const uint8_t *xb_array_stuck(const xb_array *a) { return a->stuck; }
const uint8_t *xb_array_dead_rows(const xb_array *a) { return a->dead_r; }
const uint8_t *xb_array_dead_cols(const xb_array *a) { return a->dead_c; }
xb_row xb_array_row(xb_array *a, size_t i) { return row_view(a, i); }
void xb_array_touch(xb_array *a, size_t i) { a->dirty[i] = 1; a->colsum_ok = 0; }
void xb_array_pulse_step(const xb_array *a, double *dg_up, double *dg_down)
{
    *dg_up = a->dg_up;
    *dg_down = a->dg_down;
}

static void mark_all(xb_array *a)
{
    memset(a->dirty, 1, a->rows);
    a->colsum_ok = 0;
}

/* Faults on one conductance row: stuck devices at the range ends, dead lines at 0. */
static void apply_faults(const xb_array *a, size_t i, float *g)
{
    if (a->stuck) xb_device_apply_faults(a->cols, a->stuck + i * a->cols, a->gmin, a->gmax, g);
    if (a->dead_r && a->dead_r[i]) { memset(g, 0, a->cols * sizeof *g); return; }
    if (a->dead_c)
        for (size_t j = 0; j < a->cols; j++) if (a->dead_c[j]) g[j] = 0.0f;
}

xb_status xb_array_set_faults(xb_array *a, double stuck_on, double stuck_off, double dead_rows,
                              double dead_cols, xb_err *err)
{
    xb_free(a->stuck); xb_free(a->dead_r); xb_free(a->dead_c);
    a->stuck = a->dead_r = a->dead_c = NULL;
    mark_all(a);
    if (((stuck_on > 0 || stuck_off > 0) && !(a->stuck = xb_malloc(a->rows * a->cols)))
        || (dead_rows > 0 && !(a->dead_r = xb_calloc(a->rows, 1)))
        || (dead_cols > 0 && !(a->dead_c = xb_calloc(a->cols, 1)))) {
        xb_free(a->stuck); xb_free(a->dead_r); xb_free(a->dead_c);
        a->stuck = a->dead_r = a->dead_c = NULL;
        return xb_fail(err, XB_ENOMEM, "%s array %zux%zu: out of memory for faults",
                       a->type->name, a->rows, a->cols);
    }
    if (a->stuck) {
        for (size_t i = 0; i < a->rows; i++) {
            const xb_rng f = xb_rng_for_row(a->seed, XB_RNG_FAULT, a->id, (uint32_t)i, 0);
            xb_device_draw_faults(a->cols, stuck_on, stuck_off, &f, a->stuck + i * a->cols);
        }
    }
    /* Dead lines: one uniform per line from FAULT row 0xfffffff0 (rows) / 0xfffffff1
     * (columns), so they never share draws with the per-device faults. */
    if (a->dead_r) {
        const xb_rng f = xb_rng_for_row(a->seed, XB_RNG_FAULT, a->id, 0xfffffff0u, 0);
        for (size_t i = 0; i < a->rows; i++)
            a->dead_r[i] = xb_rng_uniform_d(&f, (uint32_t)i, 0) < dead_rows;
    }
    if (a->dead_c) {
        const xb_rng f = xb_rng_for_row(a->seed, XB_RNG_FAULT, a->id, 0xfffffff1u, 0);
        for (size_t j = 0; j < a->cols; j++)
            a->dead_c[j] = xb_rng_uniform_d(&f, (uint32_t)j, 0) < dead_cols;
    }
    return XB_OK;
}

static void refresh(xb_array *a)
{
    const xb_device_type *T = a->type;
    size_t ndirty = 0;
    for (size_t i = 0; i < a->rows; i++) ndirty += a->dirty[i];
    if (!ndirty) return;
    a->colsum_ok = 0;
    const int nt = xb_par_threads(ndirty, a->cols);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t i = 0; i < a->rows; i++) {
        if (!a->dirty[i]) continue;
        const xb_row r = row_view(a, i);
        float *g = a->G + i * a->cols;
        T->conductance_row(&r, a->p, g, NULL);
        apply_faults(a, i, g);
        double s = 0.0;
        for (size_t j = 0; j < a->cols; j++) s += g[j];
        a->rowsum[i] = s;
        a->dirty[i] = 0;
    }
}

const float *xb_array_G(xb_array *a)
{
    refresh(a);
    return a->G;
}

const double *xb_array_G_rowsum(xb_array *a)
{
    refresh(a);
    return a->rowsum;
}

const double *xb_array_G_colsum(xb_array *a)
{
    refresh(a);
    if (!a->colsum_ok) {
        memset(a->colsum, 0, a->cols * sizeof *a->colsum);
        for (size_t i = 0; i < a->rows; i++) {
            const float *g = a->G + i * a->cols;
            for (size_t j = 0; j < a->cols; j++) a->colsum[j] += g[j];
        }
        a->colsum_ok = 1;
    }
    return a->colsum;
}

void xb_array_read_noisy(xb_array *a, float *g)
{
    const xb_device_type *T = a->type;
    if (!(T->flags & XB_DEV_READ_NOISE)) {
        memcpy(g, xb_array_G(a), a->rows * a->cols * sizeof *g);
        return;
    }
    a->reads++;
    const int nt = xb_par_threads(a->rows, a->cols);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t i = 0; i < a->rows; i++) {
        const xb_row r = row_view(a, i);
        const xb_rng rd = xb_rng_for_row(a->seed, XB_RNG_READ, a->id, (uint32_t)i, a->reads);
        T->conductance_row(&r, a->p, g + i * a->cols, &rd);
        apply_faults(a, i, g + i * a->cols);
    }
}

void xb_array_step(xb_array *a) { a->epoch++; a->colsum_ok = 0; }

/* Pulse one row in the current step. ONE_WAY rows with negative counts go through a
 * filtered copy (row i of scratch, which only this row's caller uses). Counting the
 * pulses costs a scan of the row, so only callers that book them ask (count != 0). */
static double pulse_row(xb_array *a, size_t i, const int16_t *n, int count, double *npulses,
                        double *nwrites)
{
    const xb_device_type *T = a->type;
    if (T->flags & XB_DEV_ONE_WAY) {
        int neg = 0;
        for (size_t j = 0; j < a->cols; j++) neg |= n[j] < 0;
        if (neg) {
            int16_t *f = a->scratch + i * a->cols;
            for (size_t j = 0; j < a->cols; j++) f[j] = n[j] > 0 ? n[j] : 0;
            n = f;
        }
    }
    if (count) {
        long tot = 0, w = 0;
        for (size_t j = 0; j < a->cols; j++) { tot += abs(n[j]); w += n[j] != 0; }
        *npulses = (double)tot;
        *nwrites = (double)w;
        if (w == 0) return 0.0;
    }
    xb_row r = row_view(a, i);
    const xb_rng c2c = xb_rng_for_row(a->seed, XB_RNG_C2C, a->id, (uint32_t)i, a->epoch);
    const double e = T->pulse_energy_row(&r, a->p, n);      /* from the state the pulse met */
    T->pulse_row(&r, a->p, n, &c2c);
    a->dirty[i] = 1;
    return e;
}

double xb_array_pulse_row(xb_array *a, size_t i, const int16_t *n)
{
    double np, nw;                  /* colsum_ok was cleared by xb_array_step */
    return pulse_row(a, i, n, 0, &np, &nw);
}

static void pulse_all(xb_array *a, const int16_t *n, xb_energy *e, xb_energy_item item)
{
    a->epoch++;
    a->colsum_ok = 0;
    const int nt = xb_par_threads(a->rows, a->cols);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t i = 0; i < a->rows; i++)
        a->row_e[i] = pulse_row(a, i, n + i * a->cols, 1, &a->row_n[i], &a->row_w[i]);
    double se = 0.0, sn = 0.0, sw = 0.0;        /* serial, in row order: same bits always */
    for (size_t i = 0; i < a->rows; i++) { se += a->row_e[i]; sn += a->row_n[i]; sw += a->row_w[i]; }
    xb_energy_add(e, item, sn, se);
    xb_energy_count(e, XB_C_WRITES, sw);
}

void xb_array_pulse(xb_array *a, const int16_t *n, xb_energy *e)
{
    pulse_all(a, n, e, XB_E_PULSE);
}

void xb_array_drift(xb_array *a, double dt_s)
{
    const xb_device_type *T = a->type;
    if (!T->drift_row) return;
    a->epoch++;
    const int nt = xb_par_threads(a->rows, a->cols);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t i = 0; i < a->rows; i++) {
        xb_row r = row_view(a, i);
        const xb_rng rng = xb_rng_for_row(a->seed, XB_RNG_C2C, a->id, (uint32_t)i, a->epoch);
        T->drift_row(&r, a->p, dt_s, &rng);
    }
    mark_all(a);
}

/* Verify read: energy V_read^2 G t_read of each verified device. */
static void book_verify(const xb_array *a, const float *g, const float *target,
                        const xb_energy_units *u, xb_energy *e)
{
    double s = 0.0, n = 0.0;
    for (size_t k = 0; k < a->rows * a->cols; k++)
        if (!isnan(target[k])) { s += g[k]; n += 1; }
    xb_energy_add(e, XB_E_VERIFY, n, u->v_read * u->v_read * u->t_read * s);
}

void xb_array_program(xb_array *a, const float *target, const xb_program_opts *o,
                      xb_energy *e, xb_program_result *res)
{
    const xb_device_type *T = a->type;
    const size_t nd = a->rows * a->cols;
    const int one_way = (T->flags & XB_DEV_ONE_WAY) != 0;
    xb_energy_units u;
    xb_energy_units_init(&u, NULL);
    float *g = xb_malloc(nd * sizeof *g);
    float *tgt = xb_malloc(nd * sizeof *tgt);
    xb_program_result r = { 0, 0, 0.0 };
    if (!g || !tgt) {          /* cannot fail by contract: report every device as missed */
        xb_free(g); xb_free(tgt);
        r.missed = nd;
        r.max_err = INFINITY;
        if (res) *res = r;
        return;
    }
    memcpy(tgt, target, nd * sizeof *tgt);
    for (int it = 0;; it++) {
        xb_array_read_noisy(a, g);
        book_verify(a, g, tgt, &u, e);
        size_t missed = 0;
        double maxerr = 0.0;
        for (size_t k = 0; k < nd; k++) {
            a->scratch[k] = 0;
            if (isnan(tgt[k])) continue;
            const double d = (double)tgt[k] - g[k];
            if (fabs(d) > maxerr) maxerr = fabs(d);
            if (fabs(d) <= o->tol) { tgt[k] = NAN; continue; }   /* done: leave it alone */
            missed++;
            double cnt;
            if (one_way) cnt = d * T->pulse_dir > 0 ? floor(fabs(d) / a->dg_up + 0.5) : 0;
            else cnt = d > 0 ? floor(d / a->dg_up + 0.5) : -floor(-d / a->dg_down + 0.5);
            if (cnt == 0 && !one_way) cnt = d > 0 ? 1 : -1;      /* always make progress */
            if (cnt > o->max_pulses) cnt = o->max_pulses;
            if (cnt < -o->max_pulses) cnt = -o->max_pulses;
            a->scratch[k] = (int16_t)cnt;
        }
        (void)maxerr;
        r.missed = missed;
        if (!missed || it == o->max_iter) break;
        r.rounds = it + 1;
        if (T->program_row) {
            a->epoch++;
            double se = 0.0, sn = 0.0;
            for (size_t i = 0; i < a->rows; i++) {
                xb_row rw = row_view(a, i);
                const xb_rng rng = xb_rng_for_row(a->seed, XB_RNG_C2C, a->id, (uint32_t)i, a->epoch);
                for (size_t j = 0; j < a->cols; j++) sn += !isnan(tgt[i * a->cols + j]);
                se += T->program_row(&rw, a->p, tgt + i * a->cols, &rng);
                a->dirty[i] = 1;
            }
            a->colsum_ok = 0;
            xb_energy_add(e, XB_E_PROGRAM, sn, se);
        } else {
            int16_t *n = xb_malloc(nd * sizeof *n);
            if (!n) break;
            memcpy(n, a->scratch, nd * sizeof *n);
            pulse_all(a, n, e, XB_E_PROGRAM);
            xb_free(n);
        }
    }
    for (size_t k = 0; k < nd; k++)            /* g is the last verify read */
        if (!isnan(target[k]) && fabs((double)target[k] - g[k]) > r.max_err)
            r.max_err = fabs((double)target[k] - g[k]);
    xb_free(g);
    xb_free(tgt);
    if (res) *res = r;
}

void xb_array_forward(xb_array *a, const float *V, size_t batch, float *Iout,
                      const xb_energy_units *u, xb_energy *e)
{
    const float *G = xb_array_G(a);
    const int m = (int)a->rows, n = (int)a->cols;
    if (batch == 1) cblas_sgemv(CblasRowMajor, CblasTrans, m, n, 1.0f, G, n, V, 1, 0.0f, Iout, 1);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, n, m, 1.0f, V, m,
                     G, n, 0.0f, Iout, n);
    if (!u || !e) return;
    double s = 0.0;
    for (size_t b = 0; b < batch; b++)
        for (size_t i = 0; i < a->rows; i++) {
            const double v = V[b * a->rows + i];
            s += v * v * a->rowsum[i];
        }
    xb_energy_add(e, XB_E_READ, (double)batch * a->rows * a->cols, s * u->t_read);
    xb_energy_count(e, XB_C_MVM, (double)batch);
}

void xb_array_transpose(xb_array *a, const float *D, size_t batch, float *Jout,
                        const xb_energy_units *u, xb_energy *e)
{
    const float *G = xb_array_G(a);
    const int m = (int)a->rows, n = (int)a->cols;
    if (batch == 1) cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, 1.0f, G, n, D, 1, 0.0f, Jout, 1);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)batch, m, n, 1.0f, D, n,
                     G, n, 0.0f, Jout, m);
    if (!u || !e) return;
    const double *cs = xb_array_G_colsum(a);
    double s = 0.0;
    for (size_t b = 0; b < batch; b++)
        for (size_t j = 0; j < a->cols; j++) {
            const double v = D[b * a->cols + j];
            s += v * v * cs[j];
        }
    xb_energy_add(e, XB_E_READ, (double)batch * a->rows * a->cols, s * u->t_read);
    xb_energy_count(e, XB_C_MVM, (double)batch);
}
