/* crossbar/layer.c: a logical weight matrix on tiles of arrays, with the peripherals
 * (DAC, read/output noise, ADC, noise and bound management, IR drop) and the updates
 * (stochastic pulse coincidence, deterministic counts, per-device counts,
 * write-verify). The contracts are in xb_layer.h. */
#include "crossbar/xb_layer.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/xb_config.h"
#include "core/xb_mem.h"
#include "core/xb_par.h"
#include "crossbar/xb_irdrop.h"

static const xb_param_spec xbar_params[XB_XB_NPARAMS] = {
    [XB_XB_TILE_ROWS] = { "tile_rows", 512, "", 1, 65536, "max inputs (word lines) per physical array",
                          XB_P_INT, NULL, "xbemu default" },
    [XB_XB_TILE_COLS] = { "tile_cols", 512, "", 1, 65536, "max outputs (bit lines) per physical array",
                          XB_P_INT, NULL, "xbemu default" },
    [XB_XB_MAPPING] = { "mapping", 0, "", 0, 2,
                        "weight mapping: auto (differential for one-way devices), reference column, differential pair",
                        XB_P_ENUM, "auto|reference|differential", NULL },
    [XB_XB_W_SCALE] = { "w_scale", 1, "w", 1e-6, 1e6,
                        "weight at full conductance swing (devices without g_ref/g_unit)", 0, NULL, NULL },
    [XB_XB_IDEAL] = { "ideal", 0, "", 0, 1, "every peripheral and read noise off (float MVM on G)",
                      XB_P_BOOL, NULL, NULL },
    [XB_XB_DAC_BITS] = { "dac_bits", 7, "bit", 0, 24, "DAC resolution, 0 = unquantised (1 is not allowed)",
                         XB_P_INT, NULL, "[AIHW-IO] inp_res = 1/(2^7-2)" },
    [XB_XB_INP_BOUND] = { "inp_bound", 1, "", 1e-6, 1e6, "DAC range: inputs clipped to +-inp_bound", 0,
                          NULL, "[AIHW-IO]" },
    [XB_XB_ADC_BITS] = { "adc_bits", 9, "bit", 0, 24, "ADC resolution, 0 = unquantised (1 is not allowed)",
                         XB_P_INT, NULL, "[AIHW-IO] out_res = 1/(2^9-2)" },
    [XB_XB_OUT_BOUND] = { "out_bound", 12, "w", 1e-6, 1e9, "ADC range in weight x input units", 0, NULL,
                          "[AIHW-IO]" },
    [XB_XB_ADC_RANGE] = { "adc_range", 0, "", 0, 1,
                          "fixed: +-out_bound; column: per-column bound from xb_layer_calibrate_adc",
                          XB_P_ENUM, "fixed|column", NULL },
    [XB_XB_OUT_NOISE] = { "out_noise", 0.06, "w", 0, 1e3, "additive Gaussian output noise std per MVM", 0,
                          NULL, "[AIHW-IO]" },
    [XB_XB_W_NOISE] = { "w_noise", 0, "w", 0, 1e3, "output-referred weight noise std (times ||x||_2)", 0,
                        NULL, "[AIHW-IO]" },
    [XB_XB_READ_NOISE] = { "read_noise", 1, "", 0, 1, "device read noise (models with read noise)",
                           XB_P_BOOL, NULL, NULL },
    [XB_XB_NOISE_MGMT] = { "noise_management", 1, "", 0, 1, "scale each input vector by max|x| before the DAC",
                           XB_P_ENUM, "none|abs_max", "[AIHW-IO]" },
    [XB_XB_BOUND_MGMT] = { "bound_management", 1, "", 0, 1, "on ADC saturation halve the input and read again",
                           XB_P_ENUM, "none|iterative", "[AIHW-IO]" },
    [XB_XB_BM_MAX] = { "bm_max", 10, "", 0, 30, "max halvings of bound management", XB_P_INT, NULL,
                       "xbemu default" },
    [XB_XB_OUT_SCALE] = { "out_scale", 1, "", -1e9, 1e9, "digital gain on the layer outputs", 0, NULL, NULL },
    [XB_XB_IRDROP] = { "irdrop", 0, "", 0, 1, "solve the resistive-wire network on every read",
                       XB_P_BOOL, NULL, NULL },
    [XB_XB_R_ROW] = { "r_row", 1, "ohm", 0, 1e6, "word-line resistance per segment", 0, NULL,
                      "xbemu default (unverified)" },
    [XB_XB_R_COL] = { "r_col", 1, "ohm", 0, 1e6, "bit-line resistance per segment", 0, NULL,
                      "xbemu default (unverified)" },
    [XB_XB_IR_SOLVER] = { "ir_solver", 0, "", 0, 2, "IR-drop solver", XB_P_ENUM, "pcg|sor|direct", NULL },
    [XB_XB_IR_TOL] = { "ir_tol", 1e-12, "", 1e-16, 1e-2, "IR-drop relative residual to stop at", 0, NULL,
                       NULL },
    [XB_XB_IR_MAX_ITER] = { "ir_max_iter", 10000, "", 1, 1e7, "IR-drop iteration limit", XB_P_INT, NULL,
                            NULL },
    [XB_XB_DEAD_ROWS] = { "dead_rows", 0, "", 0, 1, "fraction of dead word lines", 0, NULL, NULL },
    [XB_XB_DEAD_COLS] = { "dead_cols", 0, "", 0, 1, "fraction of dead bit lines", 0, NULL, NULL },
    [XB_XB_UPDATE] = { "update", 0, "", 0, 1, "pulse: stochastic coincidence; deterministic: round(lr x d/dw_min)",
                       XB_P_ENUM, "pulse|deterministic", "[GV16]" },
    [XB_XB_BL] = { "bl", 10, "bit", 1, 1024, "stochastic stream length BL", XB_P_INT, NULL,
                   "[GV16]; aihwkit desired_bl = 31 [AIHW-IO]" },
    [XB_XB_UPDATE_MGMT] = { "update_management", 0, "", 0, 1,
                            "rescale C_x, C_d by sqrt(max|d|/max|x|) (product unchanged)", XB_P_BOOL, NULL,
                            "[AIHW-IO]" },
    [XB_XB_DW_MIN] = { "dw_min", 0, "w", 0, 1e3, "weight step of one pulse; 0 = measured on the device", 0,
                       NULL, NULL },
    [XB_XB_MAX_PULSES] = { "max_pulses", 100, "", 1, 32767,
                           "clamp of deterministic and write-verify pulse counts", XB_P_INT, NULL, NULL },
    [XB_XB_PROG_TOL] = { "prog_tol", 0.01, "w", 0, 1e3, "write-verify tolerance", 0, NULL, NULL },
    [XB_XB_PROG_MAX_ITER] = { "prog_max_iter", 20, "", 0, 10000, "write-verify rounds", XB_P_INT, NULL, NULL },
    [XB_XB_DAC_MODE] = { "dac_mode", 0, "", 0, 1,
                         "parallel: one multi-level read; bit_serial: one binary read per input bit",
                         XB_P_ENUM, "parallel|bit_serial", NULL },
};
const xb_section xb_section_crossbar = { "crossbar", "arrays, mapping, peripherals, updates",
                                         xbar_params, XB_XB_NPARAMS };

xb_status xb_crossbar_params(const xb_config *c, double *p, xb_err *err)
{
    const xb_param_spec *tab = xbar_params;
    const size_t n = XB_XB_NPARAMS;
    xb_status st = xb_config_check_keys(c, "crossbar", &tab, &n, 1, NULL, err);
    return st ? st : xb_config_params(c, "crossbar", xbar_params, XB_XB_NPARAMS, p, err);
}

typedef struct tile {
    xb_array *p, *m;            /* m: differential partner, NULL in reference mode */
    size_t r0, c0, nr, nc;      /* input rows r0.., output cols c0.. */
} tile;

struct xb_layer {
    const xb_device_type *T;
    double *dp;
    double xp[XB_XB_NPARAMS];
    xb_energy_units eu;
    size_t out, in, nin;
    int bias, mapping, one_way, dir;
    uint32_t seed, id;
    double g_ref, g_unit, gmin, gmax, dw_min;
    size_t ntr, ntc, nt, max_nr, max_nc;
    tile *t;
    float *adc_bound;           /* ntr x out: bound of the converter of (tile row, output) */
    float *adc_bound_t;         /* ntc x nin: transpose converters */
    uint32_t mvm_count, upd_count;
    xb_layer_stats st;
    xb_status status;
    xb_err err;
    int16_t *rowbuf;            /* per-thread row of pulse counts */
    int nrowbuf;
    double *re, *rn, *rw;       /* per-row energy, pulses, writes (max_nr) */
    xb_ir_work *irw;
    double *arena;              /* read scratch, kept between calls */
    size_t arena_len;           /* in doubles */
};

void xb_layer_free(xb_layer *L)
{
    if (!L) return;
    for (size_t k = 0; L->t && k < L->nt; k++) { xb_array_free(L->t[k].p); xb_array_free(L->t[k].m); }
    xb_free(L->t); xb_free(L->dp); xb_free(L->adc_bound); xb_free(L->adc_bound_t);
    xb_free(L->rowbuf); xb_free(L->re); xb_free(L->rn); xb_free(L->rw);
    xb_ir_work_free(L->irw);
    xb_free(L->arena);
    xb_free(L);
}

static const char *check_xbar(const double *xp)
{
    if (xp[XB_XB_DAC_BITS] == 1) return "dac_bits = 1 is not allowed (0 or 2..24)";
    if (xp[XB_XB_ADC_BITS] == 1) return "adc_bits = 1 is not allowed (0 or 2..24)";
    return NULL;
}

static double mean_step(const xb_layer *L)
{
    double up, dn;
    xb_array_pulse_step(L->t[0].p, &up, &dn);
    return 0.5 * (up + dn) / L->g_unit;
}

static xb_status ensure_irw(xb_layer *L, xb_err *err)
{
    if (L->irw || !L->xp[XB_XB_IRDROP]) return XB_OK;
    return xb_ir_work_alloc(&L->irw, L->max_nr, L->max_nc, err);
}

xb_status xb_layer_alloc(xb_layer **out, const xb_layer_spec *s, xb_err *err)
{
    *out = NULL;
    const xb_device_type *T = s->type;
    if (!T) return xb_fail(err, XB_EINVAL, "crossbar layer: no device type");
    if (s->out == 0 || s->in == 0)
        return xb_fail(err, XB_ERANGE, "crossbar layer %zux%zu: sizes must be >= 1", s->out, s->in);
    xb_layer *L = xb_calloc(1, sizeof *L);
    if (!L || !(L->dp = xb_calloc(T->nparams ? T->nparams : 1, sizeof(double)))) {
        xb_layer_free(L);
        return xb_fail(err, XB_ENOMEM, "crossbar layer: out of memory");
    }
    L->T = T;
    if (s->dev_params) memcpy(L->dp, s->dev_params, T->nparams * sizeof(double));
    else xb_param_defaults(T->params, T->nparams, L->dp);
    if (s->xbar_params) memcpy(L->xp, s->xbar_params, sizeof L->xp);
    else xb_param_defaults(xbar_params, XB_XB_NPARAMS, L->xp);
    const char *why = check_xbar(L->xp);
    if (why) { xb_layer_free(L); return xb_fail(err, XB_ERANGE, "[crossbar] %s", why); }
    xb_energy_units_init(&L->eu, s->energy_params);
    L->out = s->out;
    L->in = s->in;
    L->bias = s->bias ? 1 : 0;
    L->nin = s->in + (size_t)L->bias;
    L->seed = s->seed & XB_SEED_MAX;
    L->id = s->id;
    L->one_way = (T->flags & XB_DEV_ONE_WAY) != 0;
    L->dir = T->pulse_dir >= 0 ? 1 : -1;
    const int map = (int)L->xp[XB_XB_MAPPING];
    L->mapping = map == XB_MAP_AUTO ? (L->one_way ? XB_MAP_DIFFERENTIAL : XB_MAP_REFERENCE) : map;
    T->g_range(L->dp, &L->gmin, &L->gmax);
    const ptrdiff_t ir = xb_param_index(T->params, T->nparams, "g_ref");
    const ptrdiff_t iu = xb_param_index(T->params, T->nparams, "g_unit");
    if (ir >= 0 && iu >= 0) {
        L->g_ref = L->dp[ir];
        L->g_unit = L->dp[iu];
    } else {
        L->g_ref = 0.5 * (L->gmin + L->gmax);
        L->g_unit = (L->gmax - L->gmin) / (L->mapping == XB_MAP_DIFFERENTIAL ? 1.0 : 2.0)
                    / L->xp[XB_XB_W_SCALE];
    }
    if (!(L->g_unit > 0)) {
        xb_layer_free(L);
        return xb_fail(err, XB_ERANGE, "crossbar layer: device %s has no conductance range "
                       "(g_range %g..%g S)", T->name, L->gmin, L->gmax);
    }
    const size_t tr = (size_t)L->xp[XB_XB_TILE_ROWS], tc = (size_t)L->xp[XB_XB_TILE_COLS];
    L->ntr = (L->nin + tr - 1) / tr;
    L->ntc = (L->out + tc - 1) / tc;
    L->nt = L->ntr * L->ntc;
    L->max_nr = L->nin < tr ? L->nin : tr;
    L->max_nc = L->out < tc ? L->out : tc;
    if (!(L->t = xb_calloc(L->nt, sizeof *L->t))
        || !(L->adc_bound = xb_malloc(L->ntr * L->out * sizeof(float)))
        || !(L->adc_bound_t = xb_malloc(L->ntc * L->nin * sizeof(float)))
        || !(L->re = xb_calloc(L->max_nr, sizeof(double)))
        || !(L->rn = xb_calloc(L->max_nr, sizeof(double)))
        || !(L->rw = xb_calloc(L->max_nr, sizeof(double)))) {
        xb_layer_free(L);
        return xb_fail(err, XB_ENOMEM, "crossbar layer %zux%zu: out of memory", s->out, s->in);
    }
    for (size_t k = 0; k < L->ntr * L->out; k++) L->adc_bound[k] = (float)L->xp[XB_XB_OUT_BOUND];
    for (size_t k = 0; k < L->ntc * L->nin; k++) L->adc_bound_t[k] = (float)L->xp[XB_XB_OUT_BOUND];
    for (size_t a = 0; a < L->ntr; a++)
        for (size_t b = 0; b < L->ntc; b++) {
            tile *t = &L->t[a * L->ntc + b];
            const uint32_t aid = L->id * 4096u + 2u * (uint32_t)(a * L->ntc + b);
            t->r0 = a * tr;
            t->c0 = b * tc;
            t->nr = L->nin - t->r0 < tr ? L->nin - t->r0 : tr;
            t->nc = L->out - t->c0 < tc ? L->out - t->c0 : tc;
            xb_status st = xb_array_alloc(&t->p, T, L->dp, t->nr, t->nc, L->seed, aid, err);
            if (!st && L->mapping == XB_MAP_DIFFERENTIAL)
                st = xb_array_alloc(&t->m, T, L->dp, t->nr, t->nc, L->seed, aid + 1, err);
            for (int k = 0; !st && k < 2; k++) {
                xb_array *arr = k ? t->m : t->p;
                if (arr && (s->stuck_on > 0 || s->stuck_off > 0 || L->xp[XB_XB_DEAD_ROWS] > 0
                            || L->xp[XB_XB_DEAD_COLS] > 0))
                    st = xb_array_set_faults(arr, s->stuck_on, s->stuck_off, L->xp[XB_XB_DEAD_ROWS],
                                             L->xp[XB_XB_DEAD_COLS], err);
            }
            if (st) { xb_layer_free(L); return st; }
        }
    L->dw_min = L->xp[XB_XB_DW_MIN] > 0 ? L->xp[XB_XB_DW_MIN] : mean_step(L);
    xb_status st = ensure_irw(L, err);
    if (st) { xb_layer_free(L); return st; }
    *out = L;
    return XB_OK;
}

size_t xb_layer_out(const xb_layer *L) { return L->out; }
size_t xb_layer_in(const xb_layer *L) { return L->in; }
int xb_layer_has_bias(const xb_layer *L) { return L->bias; }
int xb_layer_mapping(const xb_layer *L) { return L->mapping; }
double xb_layer_g_unit(const xb_layer *L) { return L->g_unit; }
double xb_layer_dw_min(const xb_layer *L) { return L->dw_min; }
const double *xb_layer_xbar_params(const xb_layer *L) { return L->xp; }
const xb_energy_units *xb_layer_energy_units(const xb_layer *L) { return &L->eu; }
size_t xb_layer_ntiles(const xb_layer *L) { return L->nt; }
const xb_layer_stats *xb_layer_stats_get(const xb_layer *L) { return &L->st; }
void xb_layer_stats_reset(xb_layer *L) { memset(&L->st, 0, sizeof L->st); }

xb_array *xb_layer_tile(xb_layer *L, size_t t, xb_array **minus, size_t *row0, size_t *col0)
{
    if (t >= L->nt) return NULL;
    if (minus) *minus = L->t[t].m;
    if (row0) *row0 = L->t[t].r0;
    if (col0) *col0 = L->t[t].c0;
    return L->t[t].p;
}

static void set_status(xb_layer *L, xb_status st, const xb_err *e, const char *what)
{
    if (L->status) return;
    L->status = st;
    if (e && e->msg[0]) L->err = *e;
    else xb_fail(&L->err, st, "crossbar layer %zux%zu: %s", L->out, L->in, what);
}

xb_status xb_layer_status(xb_layer *L, xb_err *err, int clear)
{
    const xb_status st = L->status;
    if (st && err) *err = L->err;
    if (clear) { L->status = XB_OK; L->err.msg[0] = '\0'; }
    return st;
}

xb_status xb_layer_set(xb_layer *L, int key, double v, xb_err *err)
{
    if (key < 0 || key >= XB_XB_NPARAMS)
        return xb_fail(err, XB_EINVAL, "[crossbar] key index %d does not exist", key);
    const xb_param_spec *s = &xbar_params[key];
    if (key == XB_XB_TILE_ROWS || key == XB_XB_TILE_COLS || key == XB_XB_MAPPING
        || key == XB_XB_W_SCALE || key == XB_XB_DEAD_ROWS || key == XB_XB_DEAD_COLS)
        return xb_fail(err, XB_EINVAL, "[crossbar] %s is fixed when the layer is built", s->name);
    if (s->type == XB_P_BOOL ? !(v == 0 || v == 1) : !(v >= s->min && v <= s->max))
        return xb_fail(err, XB_ERANGE, "[crossbar] %s = %g is outside [%g, %g] %s", s->name, v,
                       s->type == XB_P_BOOL ? 0.0 : s->min, s->type == XB_P_BOOL ? 1.0 : s->max,
                       s->unit);
    if ((s->type == XB_P_INT || s->type == XB_P_ENUM) && v != floor(v))
        return xb_fail(err, XB_ERANGE, "[crossbar] %s = %g must be an integer", s->name, v);
    double old = L->xp[key];
    L->xp[key] = v;
    const char *why = check_xbar(L->xp);
    if (why) { L->xp[key] = old; return xb_fail(err, XB_ERANGE, "[crossbar] %s", why); }
    if (key == XB_XB_DW_MIN) L->dw_min = v > 0 ? v : mean_step(L);
    if (key == XB_XB_OUT_BOUND) {
        for (size_t k = 0; k < L->ntr * L->out; k++) L->adc_bound[k] = (float)v;
        for (size_t k = 0; k < L->ntc * L->nin; k++) L->adc_bound_t[k] = (float)v;
    }
    if (key == XB_XB_IRDROP) {
        xb_status st = ensure_irw(L, err);
        if (st) { L->xp[key] = old; return st; }
    }
    return XB_OK;
}

/* ---------------------------------------------------------------- reads */

/* Zero-centred uniform quantiser with 2^bits - 1 levels on [-bound, bound] (step
 * 2 bound / (2^bits - 2)); bits = 0 leaves v alone. Clips first. */
static inline float quantise(float v, float bound, int bits, int *clipped)
{
    if (v > bound) { v = bound; *clipped = 1; }
    else if (v < -bound) { v = -bound; *clipped = 1; }
    if (bits > 0) {
        const float step = 2.0f * bound / (float)((1u << bits) - 2u);
        v = step * nearbyintf(v / step);
    }
    return v;
}

typedef struct read_ctx {
    int dir;                    /* 0 forward (drive rows, sense columns), 1 transpose */
    int ideal, noisy, ir;
    size_t nD, nS;              /* logical driven / sensed lengths */
    float vscale;               /* volts per unit of normalised input */
    float *Gp, *Gm;             /* noisy conductances of the current tile, or NULL */
    float *Gt;                  /* transposed copy for IR-drop transpose reads */
    double *Iir;                /* IR-drop currents */
    float *Vir;
} read_ctx;

/* Pre-ADC outputs of tile t for `batch` driven vectors X (batch x nD, row-major; the
 * tile uses its slice), into Y (batch x tile sensed length), in weight x input units.
 * Books read (and IR-drop) energy. */
static void tile_read(xb_layer *L, const tile *t, read_ctx *c, const float *X, size_t batch,
                      float *Y, xb_energy *e)
{
    const size_t nr = t->nr, nc = t->nc;
    const size_t off = c->dir ? t->c0 : t->r0;          /* slice of the driven vector */
    const size_t nd = c->dir ? nc : nr, ns = c->dir ? nr : nc;
    const float *Gp = c->Gp ? c->Gp : xb_array_G(t->p);
    const float *Gm = t->m ? (c->Gm ? c->Gm : xb_array_G(t->m)) : NULL;
    const double t_read = L->eu.t_read, vs2 = (double)c->vscale * c->vscale;
    double e_read = 0.0, e_wire = 0.0;
    if (c->ir) {
        xb_ir_opts o = xb_ir_defaults();
        o.solver = (xb_ir_solver)L->xp[XB_XB_IR_SOLVER];
        o.r_row = L->xp[c->dir ? XB_XB_R_COL : XB_XB_R_ROW];
        o.r_col = L->xp[c->dir ? XB_XB_R_ROW : XB_XB_R_COL];
        o.tol = L->xp[XB_XB_IR_TOL];
        o.max_iter = (int)L->xp[XB_XB_IR_MAX_ITER];
        for (size_t b = 0; b < batch; b++) {
            for (size_t k = 0; k < nd; k++) c->Vir[k] = X[b * c->nD + off + k] * c->vscale;
            for (size_t s = 0; s < ns; s++) Y[b * ns + s] = 0.0f;
            for (int mem = 0; mem < (Gm ? 2 : 1); mem++) {
                const float *G = mem ? Gm : Gp;
                if (c->dir) {                           /* columns driven: solve on G^T */
                    for (size_t i = 0; i < nr; i++)
                        for (size_t j = 0; j < nc; j++) c->Gt[j * nr + i] = G[i * nc + j];
                    G = c->Gt;
                }
                xb_ir_result res;
                xb_err er = { 0 };
                const xb_status st = xb_ir_solve(L->irw, G, c->Vir, nd, ns, &o, 1, c->Iir, &res, &er);
                if (st) set_status(L, st, &er, "IR-drop solve");
                L->st.ir_iterations += res.iterations;
                e_read += res.p_device * t_read;
                e_wire += res.p_wire * t_read;
                const double sgn = mem ? -1.0 : 1.0;
                for (size_t s = 0; s < ns; s++)
                    Y[b * ns + s] += (float)(sgn * c->Iir[s] / c->vscale);
            }
        }
        xb_energy_add(e, XB_E_IRDROP, (double)batch * (Gm ? 2 : 1), e_wire);
    } else {
        for (int mem = 0; mem < (Gm ? 2 : 1); mem++) {
            const float *G = mem ? Gm : Gp;
            const float alpha = mem ? -1.0f : 1.0f, beta = mem ? 1.0f : 0.0f;
            if (!c->dir) {
                if (batch == 1)
                    cblas_sgemv(CblasRowMajor, CblasTrans, (int)nr, (int)nc, alpha, G, (int)nc,
                                X + off, 1, beta, Y, 1);
                else
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, (int)nc,
                                (int)nr, alpha, X + off, (int)c->nD, G, (int)nc, beta, Y, (int)nc);
            } else {
                if (batch == 1)
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nr, (int)nc, alpha, G, (int)nc,
                                X + off, 1, beta, Y, 1);
                else
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)batch, (int)nr,
                                (int)nc, alpha, X + off, (int)c->nD, G, (int)nc, beta, Y, (int)nr);
            }
        }
        /* read energy: sum over vectors of sum_k V_k^2 (sum of G on driven line k) t */
        for (int mem = 0; mem < (Gm ? 2 : 1); mem++) {
            xb_array *a = mem ? t->m : t->p;
            const double *gs = c->dir ? xb_array_G_colsum(a) : xb_array_G_rowsum(a);
            for (size_t b = 0; b < batch; b++)
                for (size_t k = 0; k < nd; k++) {
                    const double x = X[b * c->nD + off + k];
                    e_read += x * x * gs[k];
                }
        }
        e_read *= vs2 * t_read;
    }
    /* reference line: an ideal line of conductance g_ref per driven line */
    double sx2 = 0.0;
    if (!t->m) {
        const float gref = (float)L->g_ref;
        for (size_t b = 0; b < batch; b++) {
            float sx = 0.0f;
            for (size_t k = 0; k < nd; k++) {
                const float x = X[b * c->nD + off + k];
                sx += x;
                sx2 += (double)x * x;
            }
            const float ref = gref * sx;
            for (size_t s = 0; s < ns; s++) Y[b * ns + s] -= ref;
        }
        e_read += sx2 * vs2 * t_read * L->g_ref;
    }
    const float inv = (float)(1.0 / L->g_unit);
    for (size_t k = 0; k < batch * ns; k++) Y[k] *= inv;
    const double members = t->m ? 2.0 : 1.0;
    xb_energy_add(e, XB_E_READ, (double)batch * (members * nr * nc + (t->m ? 0 : nd)), e_read);
    xb_energy_count(e, XB_C_MVM, (double)batch * members);
}

/* Output noise and ADC of one vector's tile outputs; returns 1 if any saturated.
 * Noise: out_noise z0 + w_noise ||x|| z1, z0 and z1 filled (4 normals per Philox call)
 * from the READ stream of the tile's array, row 0x40000000 | dir << 29 | repeat,
 * epoch = the layer's vector counter, draws 0 and 1. z: scratch of 2 ns floats. */
static int convert(xb_layer *L, size_t tidx, int dir, size_t s0, float *restrict y, size_t ns,
                   float xnorm, uint32_t vec, uint32_t rep, float *restrict z)
{
    const float on = (float)L->xp[XB_XB_OUT_NOISE], wn = (float)L->xp[XB_XB_W_NOISE] * xnorm;
    const int bits = (int)L->xp[XB_XB_ADC_BITS];
    const size_t tr = tidx / L->ntc, tc = tidx % L->ntc;
    const float *restrict bound = dir ? L->adc_bound_t + tc * L->nin + s0
                                      : L->adc_bound + tr * L->out + s0;
    if (on > 0 || wn > 0) {
        const xb_rng rng = xb_rng_for_row(L->seed, XB_RNG_READ, L->id * 4096u + 2u * (uint32_t)tidx,
                                          0x40000000u | ((uint32_t)dir << 29) | rep, vec);
        xb_rng_fill_normal(&rng, 0, ns, z);
        if (wn > 0) xb_rng_fill_normal(&rng, 1, ns, z + ns);
        if (wn > 0) for (size_t s = 0; s < ns; s++) y[s] += on * z[s] + wn * z[ns + s];
        else for (size_t s = 0; s < ns; s++) y[s] += on * z[s];
    }
    const float levels = bits > 0 ? (float)((1u << bits) - 2u) : 0.0f;
    const int percol = L->xp[XB_XB_ADC_RANGE] == 1;
    const float fixed = (float)L->xp[XB_XB_OUT_BOUND];
    size_t nsat = 0;
    for (size_t s = 0; s < ns; s++) {
        const float b = percol ? bound[s] : fixed;
        float v = y[s];
        nsat += !(fabsf(v) < b);                   /* at or beyond the bound (noise included) */
        v = fminf(fmaxf(v, -b), b);
        if (bits > 0) {
            const float step = 2.0f * b / levels;
            v = step * nearbyintf(v / step);
        }
        y[s] = v;
    }
    L->st.adc_saturated += (double)nsat;
    return nsat > 0;
}

/* The whole read: dir 0 forward (in: batch x in, out: batch x out), 1 transpose. */
static void mvm(xb_layer *L, int dir, const float *in, size_t batch, float *outv, xb_energy *e,
                int calibrate)
{
    if (batch == 0) return;
    const size_t nD = dir ? L->out : L->nin, nS = dir ? L->nin : L->out;
    const size_t nin_user = dir ? L->out : L->in, nret = dir ? L->in : L->out;
    read_ctx c = { .dir = dir, .nD = nD, .nS = nS };
    c.ideal = L->xp[XB_XB_IDEAL] != 0;
    c.noisy = !c.ideal && L->xp[XB_XB_READ_NOISE] && (L->T->flags & XB_DEV_READ_NOISE);
    c.ir = !c.ideal && L->xp[XB_XB_IRDROP] && L->irw;
    const float inp_bound = (float)L->xp[XB_XB_INP_BOUND];
    c.vscale = (float)(L->eu.v_read / inp_bound);
    const int dac_bits = (int)L->xp[XB_XB_DAC_BITS];
    const int nm = !c.ideal && L->xp[XB_XB_NOISE_MGMT] == 1;
    const int serial = !c.ideal && L->xp[XB_XB_DAC_MODE] == 1 && dac_bits >= 2;
    const int bm = !c.ideal && L->xp[XB_XB_BOUND_MGMT] == 1 && !calibrate && !serial;
    const int adc = !c.ideal && !calibrate;
    const size_t tnr = L->max_nr, tnc = L->max_nc, tn = tnr * tnc;
    /* Scratch from the layer's arena (grown on demand, kept between calls: a batch-1
     * read then allocates nothing). Sizes in doubles so every piece stays aligned. */
    const size_t tmax = tnr > tnc ? tnr : tnc;
    const size_t fl[] = { batch * nD, batch * nS, batch * (dir ? tnr : tnc), batch, batch, batch,
                          nD, 2 * tmax, c.noisy ? tn : 0, c.noisy && L->t[0].m ? tn : 0,
                          c.ir ? tn : 0, c.ir ? 2 * tmax : 0, c.ir ? tmax : 0,
                          serial ? batch * nD : 0 };
    size_t need = 0;
    for (size_t k = 0; k < sizeof fl / sizeof *fl; k++) need += (fl[k] + 1) / 2;
    double *ar = need <= L->arena_len ? L->arena : xb_realloc(L->arena, need * sizeof(double));
    if (!ar) {
        set_status(L, XB_ENOMEM, NULL, "out of memory for a read");
        for (size_t k = 0; k < batch * nret; k++) outv[k] = NAN;
        return;
    }
    if (ar != L->arena || need > L->arena_len) { L->arena = ar; L->arena_len = need; }
    float *piece[sizeof fl / sizeof *fl];
    for (size_t k = 0, off = 0; k < sizeof fl / sizeof *fl; k++) {
        piece[k] = fl[k] ? (float *)(ar + off) : NULL;
        off += (fl[k] + 1) / 2;
    }
    float *X = piece[0], *Y = piece[1], *T = piece[2], *scale = piece[3], *xn = piece[4];
    uint8_t *sat = (uint8_t *)piece[5];
    float *Xr = piece[6], *Z = piece[7];
    c.Gp = piece[8];
    c.Gm = piece[9];
    c.Gt = piece[10];
    c.Iir = (double *)piece[11];
    c.Vir = piece[12];
    float *XP = piece[13];
    memset(Y, 0, batch * nS * sizeof *Y);
    memset(sat, 0, batch);
    /* 1-2: inputs, noise management, DAC */
    for (size_t b = 0; b < batch; b++) {
        float *x = X + b * nD;
        memcpy(x, in + b * nin_user, nin_user * sizeof *x);
        if (!dir && L->bias) x[L->in] = 1.0f;
        float s = 1.0f;
        if (nm) {
            s = 0.0f;
            for (size_t k = 0; k < nD; k++) s = fmaxf(s, fabsf(x[k]));
            if (s > 0) for (size_t k = 0; k < nD; k++) x[k] /= s;
        }
        scale[b] = s;
        if (!c.ideal) {
            long nclip = 0;
            for (size_t k = 0; k < nD; k++) {
                int cl = 0;
                x[k] = quantise(x[k], inp_bound, dac_bits, &cl);
                nclip += cl;
            }
            L->st.dac_clipped += (double)nclip;
        }
        double n2 = 0.0;
        for (size_t k = 0; k < nD; k++) n2 += (double)x[k] * x[k];
        xn[b] = (float)sqrt(n2);
    }
    const int dac_b = dac_bits, adc_b = (int)L->xp[XB_XB_ADC_BITS];
    const double e_adc = xb_energy_adc_unit(&L->eu, adc_b);
    (void)dac_b;
    /* 3-4: per tile, then digital sum (bit-serial: once per input bit plane) */
    const int nplanes = serial ? dac_bits - 1 : 1;
    const float lstep = serial ? 2.0f * inp_bound / (float)((1u << dac_bits) - 2u) : 0.0f;
    for (int pl = 0; pl < nplanes; pl++) {
        const float *Xs = X;
        float wgt = 1.0f;
        if (serial) {                  /* plane pl: sign x bit pl of the level index */
            for (size_t k = 0; k < batch * nD; k++) {
                const unsigned m = (unsigned)nearbyintf(fabsf(X[k]) / lstep);
                XP[k] = (m >> pl) & 1u ? copysignf(inp_bound, X[k]) : 0.0f;
            }
            for (size_t b = 0; b < batch; b++) {
                double n2 = 0.0;
                for (size_t k = 0; k < nD; k++) n2 += (double)XP[b * nD + k] * XP[b * nD + k];
                xn[b] = (float)sqrt(n2);
            }
            Xs = XP;
            wgt = ldexpf(lstep / inp_bound, pl);
        }
        for (size_t ti = 0; ti < L->nt; ti++) {
            const tile *t = &L->t[ti];
            const size_t s0 = dir ? t->r0 : t->c0, ns = dir ? t->nr : t->nc, nd = dir ? t->nc : t->nr;
            if (c.noisy) {
                xb_array_read_noisy(t->p, c.Gp);
                if (t->m) xb_array_read_noisy(t->m, c.Gm);
            }
            tile_read(L, t, &c, Xs, batch, T, e);
            const size_t nsensed = dir && L->bias && s0 + ns > L->in ? ns - 1 : ns;   /* bias row unread */
            xb_energy_op(e, &L->eu, XB_E_DAC, (double)batch * nd);
            xb_energy_add(e, XB_E_ADC, (double)batch * (nsensed + (t->m ? 0 : 1)),
                          (double)batch * (nsensed + (t->m ? 0 : 1)) * e_adc);
            for (size_t b = 0; b < batch; b++) {
                float *y = T + b * ns;
                if (calibrate) {
                    float *bound = dir ? L->adc_bound_t + (ti % L->ntc) * L->nin + s0
                                       : L->adc_bound + (ti / L->ntc) * L->out + s0;
                    for (size_t s = 0; s < ns; s++) bound[s] = fmaxf(bound[s], fabsf(y[s]));
                } else if (adc) {
                    sat[b] |= (uint8_t)convert(L, ti, dir, s0, y, ns, xn[b], L->mvm_count + (uint32_t)b,
                                               serial ? 64u + (uint32_t)pl : 0u, Z);
                }
                if (serial) for (size_t s = 0; s < ns; s++) Y[b * nS + s0 + s] += wgt * y[s];
                else for (size_t s = 0; s < ns; s++) Y[b * nS + s0 + s] += y[s];
            }
        }
    }
    if (nplanes > 1)                   /* shift-and-add of the planes */
        xb_energy_op(e, &L->eu, XB_E_FP32_ADD, (double)batch * nS * (nplanes - 1));
    if ((dir ? L->ntc : L->ntr) > 1)
        xb_energy_op(e, &L->eu, XB_E_FP32_ADD, (double)batch * nS * ((dir ? L->ntc : L->ntr) - 1));
    /* 5: bound management, vector by vector (rare) */
    for (size_t b = 0; bm && b < batch; b++) {
        float f = 1.0f;
        for (int rep = 1; sat[b] && rep <= (int)L->xp[XB_XB_BM_MAX]; rep++) {
            f *= 0.5f;
            sat[b] = 0;
            L->st.bm_repeats += 1;
            const float *x0 = X + b * nD;
            for (size_t k = 0; k < nD; k++) {
                int cl = 0;
                Xr[k] = quantise(x0[k] * f, inp_bound, dac_bits, &cl);
            }
            double n2 = 0.0;
            for (size_t k = 0; k < nD; k++) n2 += (double)Xr[k] * Xr[k];
            memset(Y + b * nS, 0, nS * sizeof *Y);
            for (size_t ti = 0; ti < L->nt; ti++) {
                const tile *t = &L->t[ti];
                const size_t s0 = dir ? t->r0 : t->c0, ns = dir ? t->nr : t->nc, nd = dir ? t->nc : t->nr;
                if (c.noisy) {
                    xb_array_read_noisy(t->p, c.Gp);
                    if (t->m) xb_array_read_noisy(t->m, c.Gm);
                }
                read_ctx c1 = c;
                c1.nD = nD;
                tile_read(L, t, &c1, Xr, 1, T, e);
                xb_energy_op(e, &L->eu, XB_E_DAC, (double)nd);
                xb_energy_add(e, XB_E_ADC, (double)(ns + (t->m ? 0 : 1)), (ns + (t->m ? 0 : 1)) * e_adc);
                sat[b] |= (uint8_t)convert(L, ti, dir, s0, T, ns, (float)sqrt(n2),
                                           L->mvm_count + (uint32_t)b, (uint32_t)rep, Z);
                for (size_t s = 0; s < ns; s++) Y[b * nS + s0 + s] += T[s];
            }
            for (size_t s = 0; s < nS; s++) Y[b * nS + s] /= f;
        }
    }
    /* 6: undo the scaling, output gain */
    const float gain = (float)L->xp[XB_XB_OUT_SCALE];
    for (size_t b = 0; b < batch; b++)
        for (size_t s = 0; s < nret; s++) outv[b * nret + s] = Y[b * nS + s] * scale[b] * gain;
    L->mvm_count += (uint32_t)batch;
    L->st.mvm_vectors += (double)batch;
}

void xb_layer_forward(xb_layer *L, const float *x, size_t batch, float *y, xb_energy *e)
{
    mvm(L, 0, x, batch, y, e, 0);
}

void xb_layer_backward(xb_layer *L, const float *d, size_t batch, float *z, xb_energy *e)
{
    mvm(L, 1, d, batch, z, e, 0);
}

void xb_layer_calibrate_adc(xb_layer *L, const float *x, size_t batch, xb_energy *e)
{
    const float ob = (float)L->xp[XB_XB_OUT_BOUND];
    for (size_t k = 0; k < L->ntr * L->out; k++) L->adc_bound[k] = 0.0f;
    float *y = xb_malloc(batch * L->out * sizeof *y);
    if (!y) { set_status(L, XB_ENOMEM, NULL, "out of memory for ADC calibration"); return; }
    mvm(L, 0, x, batch, y, e, 1);
    xb_free(y);
    for (size_t k = 0; k < L->ntr * L->out; k++)          /* unused columns keep out_bound */
        L->adc_bound[k] = L->adc_bound[k] > 0 ? fminf(ob, L->adc_bound[k]) : ob;
}

void xb_layer_weights(xb_layer *L, float *W)
{
    const double inv = 1.0 / L->g_unit;
    for (size_t ti = 0; ti < L->nt; ti++) {
        const tile *t = &L->t[ti];
        const float *Gp = xb_array_G(t->p), *Gm = t->m ? xb_array_G(t->m) : NULL;
        for (size_t i = 0; i < t->nr; i++)
            for (size_t j = 0; j < t->nc; j++) {
                const double g = Gm ? (double)Gp[i * t->nc + j] - Gm[i * t->nc + j]
                                    : (double)Gp[i * t->nc + j] - L->g_ref;
                W[(t->c0 + j) * L->nin + t->r0 + i] = (float)(g * inv);
            }
    }
}

/* ---------------------------------------------------------------- updates */

/* Signed count c (c > 0 raises the weight) -> pulses for member `mem` (0: the array
 * of reference mode or G+, 1: G-). */
static inline int16_t route(const xb_layer *L, int mem, int c)
{
    if (!L->t[0].m) return (int16_t)(c * L->dir);           /* reference: one array */
    if (!L->one_way) return mem ? 0 : (int16_t)c;            /* bidirectional pair: G+ only */
    /* one-way pair: every pulse moves G in direction dir; raising w = G+ up or G- down */
    const int want_plus = (c > 0) == (L->dir > 0);
    if (c == 0 || want_plus != (mem == 0)) return 0;
    return (int16_t)abs(c);
}

static int ensure_rowbuf(xb_layer *L, int nt)
{
    if (nt <= L->nrowbuf) return nt;
    int16_t *b = xb_realloc(L->rowbuf, (size_t)nt * L->max_nc * sizeof *b);
    if (!b) return L->nrowbuf > 0 ? L->nrowbuf : 0;
    L->rowbuf = b;
    L->nrowbuf = nt;
    return nt;
}

typedef struct upd_ctx {
    int stochastic;
    unsigned nw;                  /* words per stream */
    const uint64_t *A, *B;        /* nin x nw, out x nw */
    const int8_t *sx, *sd;        /* signs */
    const float *x, *d;
    float lr;
    double dwmin;
    int maxp;
    double clipped;
    int pair;                     /* 1: a second product (x2, d2) is subtracted */
    const uint64_t *A2, *B2;
    const int8_t *sx2, *sd2;
    const float *x2, *d2;
} upd_ctx;

static inline int count_one(const upd_ctx *u, size_t k, size_t o)
{
    if (u->stochastic) {
        int c = 0, c2 = 0;
        for (unsigned w = 0; w < u->nw; w++)
            c += __builtin_popcountll(u->A[k * u->nw + w] & u->B[o * u->nw + w]);
        if (u->pair)
            for (unsigned w = 0; w < u->nw; w++)
                c2 += __builtin_popcountll(u->A2[k * u->nw + w] & u->B2[o * u->nw + w]);
        return c * u->sx[k] * u->sd[o] - (u->pair ? c2 * u->sx2[k] * u->sd2[o] : 0);
    }
    double p = (double)u->x[k] * u->d[o];
    if (u->pair) p -= (double)u->x2[k] * u->d2[o];
    const double v = nearbyint((double)u->lr * p / u->dwmin);
    return (int)(v > u->maxp ? u->maxp : v < -u->maxp ? -u->maxp : v);
}

/* One pulse step on one member of one tile: rows in parallel, each row's counts built
 * in a per-thread buffer and applied at once; energies summed serially. */
static void tile_member_update(xb_layer *L, const tile *t, int mem, const upd_ctx *u,
                               const uint32_t *act, size_t nact, xb_energy *e)
{
    xb_array *a = mem ? t->m : t->p;
    xb_array_step(a);
    int nt = ensure_rowbuf(L, xb_par_threads(t->nr, t->nc));
    if (nt == 0) { set_status(L, XB_ENOMEM, NULL, "out of memory for an update"); return; }
    const size_t nc = t->nc;
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int16_t *n = L->rowbuf + (size_t)omp_get_thread_num() * L->max_nc;
        #pragma omp for schedule(static)
        for (size_t i = 0; i < t->nr; i++) {
            const size_t k = t->r0 + i;
            L->re[i] = L->rn[i] = L->rw[i] = 0.0;
            if (u->stochastic) {
                uint64_t any = 0;
                for (unsigned w = 0; w < u->nw; w++) any |= u->A[k * u->nw + w];
                if (u->pair) for (unsigned w = 0; w < u->nw; w++) any |= u->A2[k * u->nw + w];
                if (!any) continue;                      /* no row pulse: nothing coincides */
            } else if (u->x[k] == 0.0f && (!u->pair || u->x2[k] == 0.0f)) {
                continue;
            }
            memset(n, 0, nc * sizeof *n);
            long pulses = 0, writes = 0;
            for (size_t q = 0; q < nact; q++) {
                const size_t j = act[q];
                const int cnt = count_one(u, k, t->c0 + j);
                if (!cnt) continue;
                const int16_t r = route(L, mem, cnt);
                n[j] = r;
                pulses += abs(r);
                writes += r != 0;
            }
            if (!writes) continue;
            L->re[i] = xb_array_pulse_row(a, i, n);
            L->rn[i] = (double)pulses;
            L->rw[i] = (double)writes;
        }
    }
    double se = 0.0, sn = 0.0, sw = 0.0;
    for (size_t i = 0; i < t->nr; i++) { se += L->re[i]; sn += L->rn[i]; sw += L->rw[i]; }
    xb_energy_add(e, XB_E_PULSE, sn, se);
    xb_energy_count(e, XB_C_WRITES, sw);
    L->st.pulses += sn;
}

/* Stream bits and probabilities of one update vector; returns the words per stream. */
static unsigned make_streams(xb_layer *L, const float *xf, const float *d, float lr,
                             uint64_t *A, uint64_t *B, int8_t *sx, int8_t *sd, double *nclip)
{
    const unsigned bl = (unsigned)L->xp[XB_XB_BL], nw = (bl + 63) / 64;
    const double C = sqrt((double)lr / (bl * L->dw_min));
    double cx = C, cd = C;
    if (L->xp[XB_XB_UPDATE_MGMT]) {
        double mx = 0.0, md = 0.0;
        for (size_t k = 0; k < L->nin; k++) mx = fmax(mx, fabs(xf[k]));
        for (size_t o = 0; o < L->out; o++) md = fmax(md, fabs(d[o]));
        if (mx > 0 && md > 0) { cx = C * sqrt(md / mx); cd = C * sqrt(mx / md); }
    }
    double clipped = 0.0;
    for (size_t k = 0; k < L->nin; k++) {
        const double p = cx * fabs(xf[k]);
        clipped += p > 1.0;
        sx[k] = (int8_t)(xf[k] > 0 ? 1 : xf[k] < 0 ? -1 : 0);
        const xb_rng r = xb_rng_for_row(L->seed, XB_RNG_BITS, L->id, (uint32_t)k, L->upd_count);
        xb_rng_bernoulli_bits(&r, 0, 0, p, bl, A + k * nw);
    }
    for (size_t o = 0; o < L->out; o++) {
        const double p = cd * fabs(d[o]);
        clipped += p > 1.0;
        sd[o] = (int8_t)(d[o] > 0 ? 1 : d[o] < 0 ? -1 : 0);
        const xb_rng r = xb_rng_for_row(L->seed, XB_RNG_BITS, L->id, 0x80000000u | (uint32_t)o,
                                        L->upd_count);
        xb_rng_bernoulli_bits(&r, 0, 0, p, bl, B + o * nw);
    }
    L->st.probs += (double)(L->nin + L->out);
    L->st.clipped += clipped;
    *nclip = clipped;
    return nw;
}

typedef struct upd_buf {
    float *xf;
    uint64_t *A, *B;
    int8_t *sx, *sd;
    uint32_t *act;
} upd_buf;

static void upd_buf_free(upd_buf *b)
{
    xb_free(b->xf); xb_free(b->A); xb_free(b->B); xb_free(b->sx); xb_free(b->sd); xb_free(b->act);
}

static int upd_buf_alloc(const xb_layer *L, upd_buf *b)
{
    const size_t nw = ((size_t)L->xp[XB_XB_BL] + 63) / 64;
    memset(b, 0, sizeof *b);
    b->xf = xb_malloc(L->nin * sizeof *b->xf);
    b->A = xb_calloc(L->nin * nw, sizeof *b->A);
    b->B = xb_calloc(L->out * nw, sizeof *b->B);
    b->sx = xb_malloc(L->nin);
    b->sd = xb_malloc(L->out);
    b->act = xb_malloc(L->max_nc * sizeof *b->act);
    if (b->xf && b->A && b->B && b->sx && b->sd && b->act) return 1;
    upd_buf_free(b);
    return 0;
}

/* Build the context of one vector (streams or deterministic inputs). */
static void prepare(xb_layer *L, upd_buf *ub, upd_ctx *u, const float *x, const float *d, float lr)
{
    memcpy(ub->xf, x, L->in * sizeof *x);
    if (L->bias) ub->xf[L->in] = 1.0f;
    memset(u, 0, sizeof *u);
    u->stochastic = L->xp[XB_XB_UPDATE] == XB_UPDATE_PULSE;
    u->x = ub->xf;
    u->d = d;
    u->lr = lr;
    u->dwmin = L->dw_min;
    u->maxp = (int)L->xp[XB_XB_MAX_PULSES];
    if (u->stochastic) {
        u->nw = make_streams(L, ub->xf, d, lr, ub->A, ub->B, ub->sx, ub->sd, &u->clipped);
        u->A = ub->A;
        u->B = ub->B;
        u->sx = ub->sx;
        u->sd = ub->sd;
    }
}

/* Columns of tile t with a nonzero column stream (or a nonzero d). */
static size_t active_cols(const xb_layer *L, const tile *t, const upd_ctx *u, uint32_t *act)
{
    size_t n = 0;
    for (size_t j = 0; j < t->nc; j++) {
        const size_t o = t->c0 + j;
        int on;
        if (u->stochastic) {
            uint64_t any = 0;
            for (unsigned w = 0; w < u->nw; w++) any |= u->B[o * u->nw + w];
            if (u->pair) for (unsigned w = 0; w < u->nw; w++) any |= u->B2[o * u->nw + w];
            on = any != 0;
        } else {
            on = u->d[o] != 0.0f || (u->pair && u->d2[o] != 0.0f);
        }
        if (on) act[n++] = (uint32_t)j;
    }
    (void)L;
    return n;
}

/* One sample's update on every tile (both members of a pair), then the update count. */
static void apply_update(xb_layer *L, const upd_ctx *u, uint32_t *act, xb_energy *e)
{
    for (size_t ti = 0; ti < L->nt; ti++) {
        const tile *t = &L->t[ti];
        const size_t nact = active_cols(L, t, u, act);
        if (!nact) continue;
        for (int mem = 0; mem < (t->m ? 2 : 1); mem++)
            tile_member_update(L, t, mem, u, act, nact, e);
    }
    L->upd_count++;
    L->st.updates += 1;
}

void xb_layer_update(xb_layer *L, const float *x, const float *d, size_t batch, float lr,
                     xb_energy *e)
{
    upd_buf ub;
    if (!upd_buf_alloc(L, &ub)) { set_status(L, XB_ENOMEM, NULL, "out of memory for an update"); return; }
    const double bl = L->xp[XB_XB_BL];
    for (size_t b = 0; b < batch; b++) {
        upd_ctx u;
        prepare(L, &ub, &u, x + b * L->in, d + b * L->out, lr);
        if (u.stochastic) {
            xb_energy_op(e, &L->eu, XB_E_RNG, bl * (double)(L->nin + L->out));
            xb_energy_count(e, XB_C_CLIPPED, u.clipped);
        } else {
            xb_energy_op(e, &L->eu, XB_E_FP32_MULT, (double)L->nin * L->out);
        }
        apply_update(L, &u, ub.act, e);
    }
    upd_buf_free(&ub);
}

/* The second product of xb_layer_update_diff: streams from the SAME counters as the
 * first (same rows, same update count), so the two products share their random numbers
 * and a device sees both coincidences of a time slot together. */
static void prepare_second(xb_layer *L, upd_buf *ub, upd_ctx *u, const float *x, const float *d)
{
    memcpy(ub->xf, x, L->in * sizeof *x);
    if (L->bias) ub->xf[L->in] = 1.0f;
    u->pair = 1;
    u->x2 = ub->xf;
    u->d2 = d;
    if (u->stochastic) {
        double clipped = 0.0;
        make_streams(L, ub->xf, d, u->lr, ub->A, ub->B, ub->sx, ub->sd, &clipped);
        u->clipped += clipped;
        u->A2 = ub->A;
        u->B2 = ub->B;
        u->sx2 = ub->sx;
        u->sd2 = ub->sd;
    }
}

void xb_layer_update_diff(xb_layer *L, const float *xa, const float *da, const float *xb,
                          const float *db, size_t batch, float lr, xb_energy *e)
{
    upd_buf ub, ub2;
    if (!upd_buf_alloc(L, &ub)) { set_status(L, XB_ENOMEM, NULL, "out of memory for an update"); return; }
    if (!upd_buf_alloc(L, &ub2)) {
        upd_buf_free(&ub);
        set_status(L, XB_ENOMEM, NULL, "out of memory for an update");
        return;
    }
    const double bl = L->xp[XB_XB_BL];
    for (size_t b = 0; b < batch; b++) {
        upd_ctx u;
        prepare(L, &ub, &u, xa + b * L->in, da + b * L->out, lr);
        prepare_second(L, &ub2, &u, xb + b * L->in, db + b * L->out);
        if (u.stochastic) {
            xb_energy_op(e, &L->eu, XB_E_RNG, 2.0 * bl * (double)(L->nin + L->out));
            xb_energy_count(e, XB_C_CLIPPED, u.clipped);
        } else {
            xb_energy_op(e, &L->eu, XB_E_FP32_MULT, 2.0 * (double)L->nin * L->out);
            xb_energy_op(e, &L->eu, XB_E_FP32_ADD, (double)L->nin * L->out);
        }
        apply_update(L, &u, ub.act, e);
    }
    upd_buf_free(&ub2);
    upd_buf_free(&ub);
}

void xb_layer_coincidences(xb_layer *L, const float *x, const float *d, float lr, int16_t *n)
{
    upd_buf ub;
    if (!upd_buf_alloc(L, &ub)) { set_status(L, XB_ENOMEM, NULL, "out of memory"); return; }
    const xb_layer_stats keep = L->st;
    upd_ctx u;
    prepare(L, &ub, &u, x, d, lr);
    L->st = keep;                                      /* a look, not an update */
    for (size_t o = 0; o < L->out; o++)
        for (size_t k = 0; k < L->nin; k++) n[o * L->nin + k] = (int16_t)count_one(&u, k, o);
    upd_buf_free(&ub);
}

void xb_layer_update_dev(xb_layer *L, const int16_t *n, xb_energy *e)
{
    int16_t *buf = xb_malloc(L->max_nr * L->max_nc * sizeof *buf);
    if (!buf) { set_status(L, XB_ENOMEM, NULL, "out of memory for an update"); return; }
    for (size_t ti = 0; ti < L->nt; ti++) {
        const tile *t = &L->t[ti];
        for (int mem = 0; mem < (t->m ? 2 : 1); mem++) {
            for (size_t i = 0; i < t->nr; i++)
                for (size_t j = 0; j < t->nc; j++)
                    buf[i * t->nc + j] = route(L, mem, n[(t->c0 + j) * L->nin + t->r0 + i]);
            xb_energy e1;
            xb_energy_reset(&e1);
            xb_array_pulse(mem ? t->m : t->p, buf, &e1);
            L->st.pulses += e1.n[XB_E_PULSE];
            if (e) xb_energy_merge(e, &e1);
        }
    }
    xb_free(buf);
}

/* Targets of write-verify. Reference: G = g_ref + w g_unit. Differential, two-way
 * devices: the pair sits at g_min and one member carries |w|. Differential, one-way
 * devices (each member can only move in direction dir): from the present pair (a, b)
 * and the wanted difference D = w g_unit, the nearest reachable pair is
 *   dir < 0: hi = min(a, b + D), targets (hi, hi - D)   (both only fall)
 *   dir > 0: lo = max(a, b + D), targets (lo, lo - D)   (both only rise)
 * so no pulse is asked in the impossible direction and the fewest are sent. */
size_t xb_layer_program(xb_layer *L, const float *W, xb_energy *e)
{
    const size_t tn = L->max_nr * L->max_nc;
    float *g = xb_malloc(2 * tn * sizeof *g);
    if (!g) { set_status(L, XB_ENOMEM, NULL, "out of memory for programming"); return L->nin * L->out; }
    float *gm = g + tn;
    const xb_program_opts o = { .tol = L->xp[XB_XB_PROG_TOL] * L->g_unit,
                                .max_iter = (int)L->xp[XB_XB_PROG_MAX_ITER],
                                .max_pulses = (int)L->xp[XB_XB_MAX_PULSES] };
    size_t missed = 0;
    for (size_t ti = 0; ti < L->nt; ti++) {
        const tile *t = &L->t[ti];
        const float *Ga = xb_array_G(t->p), *Gb = t->m ? xb_array_G(t->m) : NULL;
        for (size_t i = 0; i < t->nr; i++)
            for (size_t j = 0; j < t->nc; j++) {
                const size_t q = i * t->nc + j;
                const float w = W[(t->c0 + j) * L->nin + t->r0 + i];
                double tp, tm = NAN;
                if (isnan(w)) tp = NAN;
                else if (!t->m) tp = L->g_ref + w * L->g_unit;
                else if (!L->one_way) {
                    const double mag = fabs(w) * L->g_unit;
                    tp = w > 0 ? L->gmin + mag : L->gmin;
                    tm = w > 0 ? L->gmin : L->gmin + mag;
                } else {
                    const double D = (double)w * L->g_unit;
                    const double a = Ga[q], b = Gb[q];
                    const double c = L->dir < 0 ? fmin(a, b + D) : fmax(a, b + D);
                    tp = c;
                    tm = c - D;
                }
                if (!isnan(tp)) tp = fmin(fmax(tp, L->gmin), L->gmax);
                if (!isnan(tm)) tm = fmin(fmax(tm, L->gmin), L->gmax);
                g[q] = (float)tp;
                gm[q] = (float)tm;
            }
        for (int mem = 0; mem < (t->m ? 2 : 1); mem++) {
            xb_program_result r;
            xb_array_program(mem ? t->m : t->p, mem ? gm : g, &o, e, &r);
            missed += r.missed;
        }
    }
    xb_free(g);
    return missed;
}

void xb_layer_drift(xb_layer *L, double dt_s)
{
    for (size_t ti = 0; ti < L->nt; ti++) {
        xb_array_drift(L->t[ti].p, dt_s);
        if (L->t[ti].m) xb_array_drift(L->t[ti].m, dt_s);
    }
}
