/* calibration/relax_fit.c: RRAM conductance relaxation after programming (DEVICES.md 7):
 *   spread  sigma_rel(t) = a ln(1 + t/t_1)      of dG = G(t) - G(0) over cells
 *   drift   mean dG(t)   = c ln(1 + t/t_2)
 * fitted to the per-time-point sample sd and mean of dG (reads grouped by their nominal
 * time point), weighted by their standard errors sd/sqrt(2(n-1)) and sd/sqrt(n). The
 * same law per band of programmed conductance (level = G(0) / (g_max/32), g_max =
 * 128 uS as the data's settings file gives) goes in the notes with t_1 held at the
 * pooled value (then a is linear: weighted least squares in closed form). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibration/xb_calib.h"
#include "calibration/xb_fit.h"
#include "core/xb_mem.h"

#define XB_2PI 6.283185307179586
enum { MAXT = 64, NBANDS = 8 };

typedef struct grp { double t; double n, s1, s2; } grp;
typedef struct rctx { size_t nt; const double *t, *sd, *sesd, *mean, *semean; double sa, sc; } rctx;

static int rresid(const double *th, void *ctx, double *r)
{
    const rctx *c = ctx;
    const double a = c->sa * exp(th[0]), t1 = exp(th[1]), cc = c->sc * th[2], t2 = exp(th[3]);
    for (size_t i = 0; i < c->nt; i++) {
        r[i] = (c->sd[i] - a * log1p(c->t[i] / t1)) / c->sesd[i];
        r[c->nt + i] = (c->mean[i] - cc * log1p(c->t[i] / t2)) / c->semean[i];
    }
    return 0;
}

static int cmp_grp(const void *a, const void *b)
{
    const double x = ((const grp *)a)->t, y = ((const grp *)b)->t;
    return (x > y) - (x < y);
}

/* Group the reads of cells whose level is in [lo, hi) by nominal time (> 0). */
static size_t group(const xb_measurement *m, int lo, int hi, grp *g)
{
    size_t ng = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (!(m->tnom[i] > 0)) continue;
        const int lev = (int)(m->g0[i] / 128e-6 * 32);
        if (lev < lo || lev >= hi) continue;
        size_t k = 0;
        while (k < ng && g[k].t != m->tnom[i]) k++;
        if (k == ng) {
            if (ng == MAXT) continue;
            g[ng++] = (grp){ m->tnom[i], 0, 0, 0 };
        }
        const double d = m->g[i] - m->g0[i];
        g[k].n++; g[k].s1 += d; g[k].s2 += d * d;
    }
    qsort(g, ng, sizeof *g, cmp_grp);
    return ng;
}

xb_status xb_calib_relax(const xb_measurement *m, int ci, xb_calib *out, xb_err *err)
{
    if (m->kind != XB_MEAS_RELAX)
        return xb_fail(err, XB_EINVAL, "%s: relax needs relaxation data (time, G, G(0))", m->name);
    grp g[MAXT];
    const size_t ng = group(m, -1000000, 1000000, g);
    double t[MAXT], sd[MAXT], sesd[MAXT], mean[MAXT], semean[MAXT], cnt[MAXT];
    size_t nt = 0;
    for (size_t k = 0; k < ng; k++) {
        if (g[k].n < 3) continue;
        const double mu = g[k].s1 / g[k].n, v = (g[k].s2 - g[k].n * mu * mu) / (g[k].n - 1);
        t[nt] = g[k].t; mean[nt] = mu; sd[nt] = sqrt(fmax(v, 0));
        sesd[nt] = sd[nt] / sqrt(2 * (g[k].n - 1)); semean[nt] = sd[nt] / sqrt(g[k].n);
        cnt[nt] = g[k].n;
        if (!(sesd[nt] > 0)) continue;
        nt++;
    }
    if (nt < 3)
        return xb_fail(err, XB_EINVAL, "%s: %zu time points after t = 0 with 3 or more reads; the "
                       "relaxation laws need at least 3", m->name, nt);
    double sa = 0, sc = 0;
    for (size_t i = 0; i < nt; i++) { sa = fmax(sa, sd[i]); sc = fmax(sc, fabs(mean[i])); }
    if (!(sc > 0)) sc = sa;
    rctx c = { nt, t, sd, sesd, mean, semean, sa, sc };
    /* Start: t_1 at the first time point, a matching the largest spread. */
    double th[4] = { 0, log(t[0]), 0, log(t[0]) };
    th[0] = log(sd[nt - 1] / (sa * log1p(t[nt - 1] / t[0])));
    th[2] = mean[nt - 1] / (sc * log1p(t[nt - 1] / t[0]));
    xb_fit_problem pb = { .n = 2 * nt, .p = 4, .resid = rresid, .ctx = &c, .maxiter = 500,
                          .logmask = 0xbu };
    xb_fit f;
    xb_status st = xb_fit_solve(&pb, th, &f, err);
    if (st) return xb_err_prefix(err, "%s: relax fit: ", m->name);
    int prof[XB_FIT_MAXP];
    if ((st = xb_fit_profile(&pb, &f, ci, prof, err))) return st;
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "relax");
    snprintf(out->data, sizeof out->data, "%s", m->name);
    const double a = sa * exp(f.theta[0]), t1 = exp(f.theta[1]), cc = sc * f.theta[2], t2 = exp(f.theta[3]);
    double rss = 0, tss = 0, ms = 0, ll = 0, rssm = 0, tssm = 0, mm = 0;
    double z[2 * MAXT];
    rresid(f.theta, &c, z);
    for (size_t i = 0; i < nt; i++) { ms += sd[i] / nt; mm += mean[i] / nt; }
    for (size_t i = 0; i < nt; i++) {
        const double e = sd[i] - a * log1p(t[i] / t1), em = mean[i] - cc * log1p(t[i] / t2);
        rss += e * e; tss += (sd[i] - ms) * (sd[i] - ms);
        rssm += em * em; tssm += (mean[i] - mm) * (mean[i] - mm);
        ll += -0.5 * (log(XB_2PI * sesd[i] * sesd[i]) + z[i] * z[i])
            - 0.5 * (log(XB_2PI * semean[i] * semean[i]) + z[nt + i] * z[nt + i]);
    }
    out->n = 2 * nt; out->k = 4;
    out->loglik = ll; out->aic = 8 - 2 * ll; out->bic = 4 * log(2.0 * nt) - 2 * ll;
    out->r2 = 1 - rss / tss; out->r2_traj = NAN; out->rmse = sqrt(rss / nt);
    out->chi2_red = f.chi2 / f.dof;
    out->converged = f.converged; out->iters = f.iters; out->cov_ok = f.cov_ok;
    for (int k = 0; k < 4; k++) out->profiled += prof[k];
    xb_fit_ks_normal(z, 2 * nt, &out->ks_d, &out->ks_p);
    const char *nm[4] = { "relax_a", "relax_t1", "drift_c", "drift_t2" };
    const char *un[4] = { "S", "s", "S", "s" };
    const double est[4] = { a, t1, cc, t2 };
    for (int k = 0; k < 4; k++) {
        xb_cal_par *p = &out->par[out->npar++];
        snprintf(p->name, sizeof p->name, "%s", nm[k]);
        p->unit = un[k]; p->est = est[k]; p->kind = XB_CAL_FIT; p->device_key = 1;
        if (k == 2) { p->se = sc * f.se[k]; p->lo = sc * f.lo[k]; p->hi = sc * f.hi[k]; }
        else {                                    /* fitted as logs */
            const double s0 = k == 0 ? sa : 1;
            p->se = est[k] * f.se[k]; p->lo = s0 * exp(f.lo[k]); p->hi = s0 * exp(f.hi[k]);
        }
    }
    xb_calib_note(out, "R^2 of the mean drift law: %.4f; reduced chi^2 uses both laws", 1 - rssm / tssm);
    xb_calib_note(out, "%10s %8s %12s %12s", "t (s)", "reads", "mean dG (S)", "sd dG (S)");
    for (size_t i = 0; i < nt; i++)
        xb_calib_note(out, "%10.4g %8.0f %12.4g %12.4g", t[i], cnt[i], mean[i], sd[i]);
    /* Per band of programmed level, with t_1 fixed at the pooled value. */
    xb_calib_note(out, "per band of programmed G(0) (level = G(0)/4 uS), t_1 = %.4g s fixed:", t1);
    xb_calib_note(out, "%8s %16s %8s %12s %12s %14s", "levels", "G(0) range (S)", "reads", "a (S)",
                  "se(a) (S)", "mean dG(t_max)");
    for (int b = 0; b < NBANDS; b++) {
        const int lo = b * 4, hi = b == NBANDS - 1 ? 1000000 : lo + 4;
        grp gb[MAXT];
        const size_t nb = group(m, lo, hi, gb);
        double num = 0, den = 0, nreads = 0, mlast = NAN;
        for (size_t k = 0; k < nb; k++) {
            if (gb[k].n < 3) continue;
            const double mu = gb[k].s1 / gb[k].n, v = (gb[k].s2 - gb[k].n * mu * mu) / (gb[k].n - 1);
            const double s = sqrt(fmax(v, 0)), se2 = v / (2 * (gb[k].n - 1)), x = log1p(gb[k].t / t1);
            if (!(se2 > 0)) continue;
            num += s * x / se2; den += x * x / se2; nreads += gb[k].n; mlast = mu;
        }
        char lv[16];
        if (hi > 1000) snprintf(lv, sizeof lv, "%d+", lo);
        else snprintf(lv, sizeof lv, "%d-%d", lo, hi - 1);
        if (den > 0)
            xb_calib_note(out, "%8s %7.3g..%-8.3g %8.0f %12.4g %12.4g %14.4g", lv, lo * 4e-6,
                          hi > 1000 ? INFINITY : hi * 4e-6, nreads, num / den, 1 / sqrt(den), mlast);
    }
    return XB_OK;
}

/* ---- bake: temperature acceleration ------------------------------------------------------
 * Per bake temperature T, the sd and mean of G(after) - G(before) over cells; the spread
 * fitted as Arrhenius, sd(T) = A exp(-E_a / (k_B T)), weighted by the standard error of
 * ln sd, 1/sqrt(2(n-1)). The bake duration is not recorded (the reads are 4576-5861 s
 * apart), so A includes it. */
typedef struct bctx { size_t n; const double *T, *lsd, *se; } bctx;
#define XB_KB_EV 8.617333262e-5          /* Boltzmann constant, eV/K */

static int bresid(const double *th, void *ctx, double *r)
{
    const bctx *c = ctx;
    for (size_t i = 0; i < c->n; i++)
        r[i] = (c->lsd[i] - (th[0] - th[1] / (XB_KB_EV * c->T[i]))) / c->se[i];
    return 0;
}

xb_status xb_calib_bake(const xb_measurement *m, int ci, xb_calib *out, xb_err *err)
{
    if (m->kind != XB_MEAS_RELAX || !m->temp)
        return xb_fail(err, XB_EINVAL, "%s: bake needs a bake file (5 TAB columns addr, time, r, g, "
                       "temp; --format bake)", m->name);
    double T[MAXT], n[MAXT] = { 0 }, s1[MAXT] = { 0 }, s2[MAXT] = { 0 };
    size_t nt = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t k = 0;
        while (k < nt && T[k] != m->temp[i]) k++;
        if (k == nt) { if (nt == MAXT) continue; T[nt++] = m->temp[i]; }
        const double d = m->g[i] - m->g0[i];
        n[k]++; s1[k] += d; s2[k] += d * d;
    }
    double lsd[MAXT], se[MAXT], mean[MAXT], sd[MAXT];
    size_t nu = 0;
    for (size_t k = 0; k < nt; k++) {
        if (n[k] < 3) continue;
        mean[nu] = s1[k] / n[k];
        sd[nu] = sqrt(fmax((s2[k] - n[k] * mean[nu] * mean[nu]) / (n[k] - 1), 0));
        if (!(sd[nu] > 0)) continue;
        T[nu] = T[k]; lsd[nu] = log(sd[nu]); se[nu] = 1 / sqrt(2 * (n[k] - 1)); n[nu] = n[k];
        nu++;
    }
    if (nu < 3)
        return xb_fail(err, XB_EINVAL, "%s: %zu bake temperatures with 3 or more cells; the "
                       "Arrhenius fit needs at least 3", m->name, nu);
    bctx c = { nu, T, lsd, se };
    double th[2] = { lsd[0], 0.1 };
    xb_fit_problem pb = { .n = nu, .p = 2, .resid = bresid, .ctx = &c, .logmask = 1u };
    xb_fit f;
    xb_status st = xb_fit_solve(&pb, th, &f, err);
    if (st) return xb_err_prefix(err, "%s: bake fit: ", m->name);
    int prof[XB_FIT_MAXP];
    if ((st = xb_fit_profile(&pb, &f, ci, prof, err))) return st;
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "bake");
    snprintf(out->data, sizeof out->data, "%s", m->name);
    double z[MAXT], rss = 0, tss = 0, mm = 0, ll = 0;
    bresid(f.theta, &c, z);
    for (size_t i = 0; i < nu; i++) mm += lsd[i] / nu;
    for (size_t i = 0; i < nu; i++) {
        const double e = z[i] * se[i];
        rss += e * e; tss += (lsd[i] - mm) * (lsd[i] - mm);
        ll += -0.5 * (log(XB_2PI * se[i] * se[i]) + z[i] * z[i]);
    }
    out->n = nu; out->k = 2; out->loglik = ll;
    out->aic = 4 - 2 * ll; out->bic = 2 * log((double)nu) - 2 * ll;
    out->r2 = 1 - rss / tss; out->r2_traj = NAN; out->rmse = sqrt(rss / nu);
    out->chi2_red = f.chi2 / f.dof; out->converged = f.converged; out->iters = f.iters;
    out->cov_ok = f.cov_ok;
    out->profiled = prof[0] + prof[1];
    xb_fit_ks_normal(z, nu, &out->ks_d, &out->ks_p);
    xb_cal_par *p = &out->par[out->npar++];
    snprintf(p->name, sizeof p->name, "bake_ea");
    p->unit = "eV"; p->est = f.theta[1]; p->se = f.se[1]; p->lo = f.lo[1]; p->hi = f.hi[1];
    p->kind = XB_CAL_FIT; p->device_key = 1;
    p = &out->par[out->npar++];
    snprintf(p->name, sizeof p->name, "bake_a");
    p->unit = "S"; p->est = exp(f.theta[0]); p->se = p->est * f.se[0];
    p->lo = exp(f.lo[0]); p->hi = exp(f.hi[0]); p->kind = XB_CAL_FIT; p->device_key = 1;
    xb_calib_note(out, "rmse and R^2 are of ln sd(dG); the bake duration is not recorded (reads "
                  "4576-5861 s apart), so bake_a includes it");
    xb_calib_note(out, "%8s %8s %14s %14s %14s", "T (C)", "cells", "mean dG (S)", "sd dG (S)", "fitted sd (S)");
    for (size_t i = 0; i < nu; i++)
        xb_calib_note(out, "%8.0f %8.0f %14.4g %14.4g %14.4g", T[i] - 273.15, n[i], mean[i], sd[i],
                      exp(f.theta[0] - f.theta[1] / (XB_KB_EV * T[i])));
    return XB_OK;
}
