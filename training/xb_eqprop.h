/* training/xb_eqprop.h: equilibrium propagation (ALGORITHMS.md section 6), the
 * discrete-time "prototypical" model of Ernoult et al. 2019 on a layered net with
 * symmetric weights, batched over B samples.
 *
 * Layers: s_0 = x (clamped input), s_1 .. s_L (s_L the output). W_l maps layer l to
 * layer l+1 (n[l+1] x n[l], row-major) and is read forward (W_l s_l) and transposed
 * (W_l^T s_{l+1}); there is one matrix per layer and never a second copy. W_0 alone is
 * stored transposed (n[0] x n[1]: row p holds the weights of input p), so that a
 * nonzero input adds one contiguous row to the drive and its update is one row. The primitive
 *     Phi(x, s) = sum_l s_{l+1}^T W_l s_l + b_l^T s_{l+1}
 * gives the synchronous dynamics (every layer from the previous step's states)
 *     s_l <- s_l + dt * (rho(W_{l-1} s_{l-1} + b_{l-1} + W_l^T s_{l+1}) - s_l)
 *     s_L <- s_L + dt * (rho(W_{L-1} s_{L-1} + b_{L-1}) + beta (y - s_L) - s_L)
 * with dt = 1 the prototypical model (../shared/ref/eqprop.py); dt < 1 a continuous
 * (Euler) step. W_0 x + b_0 does not change during relaxation: it is computed once per
 * batch (xb_ep_drive) and reused by every step of every phase.
 *
 * EP update between two states sa, sb (ALGORITHMS.md 6.2):
 *     W_l += c_l (s^a_{l+1} s^a_l^T - s^b_{l+1} s^b_l^T)  summed over the batch,
 *     b_l += c_l (s^a_{l+1} - s^b_{l+1})
 * with c_l = lr_l / (beta B) (one-sided: sa nudged, sb free) or lr_l / (2 beta B)
 * (symmetric: sa the +beta state, sb the -beta state). For l = 0 the input is the
 * same in both states, so the difference is the single product (s^a_1 - s^b_1)^T x.
 *
 * States are stored as B x n[l] row-major blocks (sample-major), so a relaxation step
 * is one sgemm per layer per direction. An xb_ep is used by one thread at a time;
 * parallelism (if any) is inside OpenBLAS, whose results do not depend on its thread
 * count for these shapes (no split of the inner dimension). */
#ifndef XB_EQPROP_H
#define XB_EQPROP_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"
#include "training/xb_net.h"

typedef enum { XB_EP_HARDSIG, XB_EP_SIGM4 } xb_ep_act;   /* clamp(x,0,1); sigmoid(4(x-0.5)) */

/* Hot kernels (training/ep_kern.c), one table per instruction set; all give the same
 * bits. */
enum { XB_EP_FUSED_MAX_OUT = 16 };       /* relax1h: at most this many outputs */
typedef struct xb_ep_kern {
    const char *name;
    /* columns [j0, min(j0 + 64, n1)) -- or [j0, n1) if fewer than 64 remain -- of
     * drive[k] = b0 + sum_q val[k][q] W0[idx[k][q], :] for every sample k (lists from
     * xb_ep_nonzeros, row k at k * n0, cnt[k] entries), q in order; W0: n0 x n1 */
    void (*drive)(const uint32_t *idx, const float *val, const size_t *cnt, size_t B, size_t n0,
                  size_t n1, const float *W0, const float *b0, float *drive, size_t j0);
    /* one row p of W0 (w = W0 + p n1): w += (c x[k,p]) d[k,:] for nonzero x[k,p], k in order */
    void (*update0)(const float *x, size_t B, size_t n0, size_t n1, float c, const float *d,
                    float *w, size_t p);
    /* one sample, `steps` discrete-time steps (dt = 1) of a one-hidden-layer net: h (n1),
     * o (n2) in place; W1: n2 x n1. Returns the last step's squared change. */
    double (*relax1h)(xb_ep_act act, size_t n1, size_t n2, const float *drive, const float *W1,
                      const float *b1, float *h, float *o, size_t steps, float beta,
                      const float *y, float *scratch /* n1 floats */, int skip);
} xb_ep_kern;
const xb_ep_kern *xb_ep_kern_get(int level);
/* (index, value) of the nonzero entries of xk in order; returns their count. */
size_t xb_ep_nonzeros(const float *xk, size_t n0, uint32_t *idx, float *val);     /* 2 (reference), 3 (AVX2), 4 (AVX-512) */
const xb_ep_kern *xb_ep_kern_best(void);         /* the best this CPU runs */

typedef struct xb_ep {
    size_t L;                              /* weight layers */
    size_t n[XB_NET_MAX_LAYERS + 1];       /* n[0] inputs ... n[L] outputs */
    size_t bmax;                           /* largest batch the workspace holds */
    xb_ep_act act;
    float *W[XB_NET_MAX_LAYERS];           /* n[l+1] x n[l]; W[0]: n[0] x n[1]; owned */
    float *b[XB_NET_MAX_LAYERS];           /* n[l+1], owned */
    float *drive;                          /* bmax x n[1]: W_0 x + b_0 of the current batch */
    float *tmp[XB_NET_MAX_LAYERS + 1];     /* relaxation scratch, bmax x n[l], l >= 1 */
    double residual;                       /* last step's ||s_{t+1} - s_t||_2 (all samples) */
    double macs;                           /* multiply-adds done so far (energy ledger) */
    const xb_ep_kern *kern;                /* xb_ep_kern_best() unless a test sets it */
    int use_blas;                          /* 1: plain sgemm paths only (comparisons) */
    int no_skip;                           /* 1: relax1h adds the zero outputs' terms too */
    double *part;                          /* bmax per-sample partial sums */
    uint32_t *nzi;                         /* bmax x n[0] scratch: nonzero input lists */
    size_t *nzc;                           /* bmax counts */
    float *nzv;
} xb_ep;

/* A set of layer states for B samples: s[l] is B x n[l] for l = 1..L (s[0] unused). */
typedef struct xb_ep_state { float *s[XB_NET_MAX_LAYERS + 1]; } xb_ep_state;

/* sizes[0..L]; weights and biases ~ U(-1/sqrt(n_in), 1/sqrt(n_in)) from the
 * XB_RNG_INIT stream of seed (array l, row i; bias = column n_in), as torch's Linear. */
xb_status xb_ep_alloc(xb_ep **out, const size_t *sizes, size_t L, size_t bmax, xb_ep_act act,
                      uint32_t seed, xb_err *err);
void xb_ep_free(xb_ep *e);                             /* NULL is fine */
xb_status xb_ep_state_alloc(const xb_ep *e, xb_ep_state *st, xb_err *err);
void xb_ep_state_free(xb_ep_state *st);                /* zeroed or half-built is fine */
void xb_ep_state_zero(const xb_ep *e, xb_ep_state *st, size_t B);
void xb_ep_state_copy(const xb_ep *e, xb_ep_state *dst, const xb_ep_state *src, size_t B);

float xb_ep_rho(xb_ep_act a, float x);

/* drive = W_0 x + b_0 for the B samples of x (B x n[0]); call before relaxing a batch. */
void xb_ep_drive(xb_ep *e, const float *x, size_t B);
/* `steps` synchronous steps from st (in place). beta = 0: free phase; otherwise y
 * (B x n[L], one-hot targets) nudges the output. dt in (0, 1]. Sets e->residual. */
void xb_ep_relax(xb_ep *e, xb_ep_state *st, size_t B, size_t steps, float beta, const float *y,
                 float dt);
/* W_l += c[l] (Phi_W(sa) - Phi_W(sb)), b_l likewise, into the given matrices (the net's
 * own weights, or zeroed gradient buffers of the same shapes). */
void xb_ep_accumulate(xb_ep *e, const float *x, size_t B, const xb_ep_state *sa,
                      const xb_ep_state *sb, const float *c, float *const *W, float *const *b);
/* Continual EP (ALGORITHMS.md 6.4, Ernoult et al. 2020): K nudged steps from st, and
 * after each step t the net's own weights move by c_l (Phi_W(s_{t+1}) - Phi_W(s_t)), so
 * later steps relax with the updated weights (prev: scratch state). Needs xb_ep_drive
 * of x first; leaves the drive current. */
void xb_ep_continual(xb_ep *e, const float *x, size_t B, xb_ep_state *st, xb_ep_state *prev,
                     size_t K, float beta, const float *y, const float *c);
/* Index of the largest output of sample k of st. */
unsigned xb_ep_argmax(const xb_ep *e, const xb_ep_state *st, size_t k);

/* Binary EP (ALGORITHMS.md 6.5, Laydevant et al. 2021): the weights are
 * alpha_l * sign_l with sign in {-1, +1} (kept as +-1 floats in a separate array);
 * m <- (1 - gamma_l) m + gamma_l g, and weight (i,j) flips iff -sign_ij m_ij > theta_l.
 * W is rewritten as alpha_l * sign. Returns the number of flips. */
size_t xb_ep_binary_apply(float *sign, float *m, float *W, const float *g, size_t n, float gamma,
                          float theta, float alpha);

#endif
