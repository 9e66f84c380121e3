/* training/xb_net.h: a multilayer perceptron of dense layers, softmax + cross-entropy.
 *
 * Layer l maps in_l inputs to out_l outputs, a = W [h; 1]: the bias is an extra input
 * column driven at 1 (ALGORITHMS.md section 1, "biases as an extra row driven at
 * constant input"), so a layer's matrix is out_l x (in_l + 1), row-major, bias last.
 * Hidden layers apply the net's activation; the last layer feeds a softmax.
 *
 * A layer is either digital (the float twin: W is owned by the net, products are cblas
 * calls) or hardware: a crossbar layer behind the xb_net_hw callbacks, owned by whoever
 * attached it (a trainer). The net never touches device state; learning rules update
 * the weights themselves (digital: xb_net_sgd_update; hardware: through their layer).
 *
 * Sign convention (ALGORITHMS.md section 0): delta = -dL/da, so that gradient descent
 * is W += lr * delta [h; 1]^T.
 *
 * Buffers: the net keeps the activations, pre-activations and deltas of the last
 * sample passed through xb_net_forward/xb_net_backward (valid until the next call);
 * a net is used by one thread at a time (parallelism lives inside the layers). */
#ifndef XB_NET_H
#define XB_NET_H

#include <stddef.h>
#include <stdint.h>

#include "core/xb_err.h"

enum { XB_NET_MAX_LAYERS = 8 };

typedef enum { XB_ACT_SIGMOID, XB_ACT_RELU, XB_ACT_HSIGMOID, XB_ACT_SIGN } xb_act;
typedef enum { XB_INIT_UNIFORM_FANIN, XB_INIT_XAVIER } xb_init;

/* The shape of a net: sizes[0] inputs, sizes[nlayers] outputs. */
typedef struct xb_net_spec {
    size_t nlayers;
    size_t sizes[XB_NET_MAX_LAYERS + 1];
    xb_act act;
    xb_init init;
} xb_net_spec;

/* Parse "784-256-128-10" (2 to XB_NET_MAX_LAYERS + 1 sizes, each 1 .. 65536). */
xb_status xb_net_parse_layers(const char *text, xb_net_spec *spec, xb_err *err);
/* "784-256-128-10" into buf. */
char *xb_net_format_layers(const xb_net_spec *spec, char *buf, size_t len);

/* Callbacks of a hardware layer. Matrices follow the net's layout (out x (in+1)). */
typedef struct xb_net_hw {
    /* z[s] = W a[s] for n samples; a is n x (in+1) with a[s][in] = 1, z is n x out.
     * train = 1 for the forward pass of a training step, 0 for evaluation. */
    void (*forward)(void *ctx, const float *a, size_t n, float *z, int train);
    /* g = W[:, 0:in]^T d (the bias column does not propagate). */
    void (*backward)(void *ctx, const float *d, float *g);
} xb_net_hw;

typedef struct xb_net_layer {
    size_t in, out;
    float *W;                 /* digital: out x (in+1), owned; NULL for a hardware layer */
    const xb_net_hw *hw;      /* hardware callbacks (borrowed) or NULL */
    void *hw_ctx;             /* borrowed */
} xb_net_layer;

typedef struct xb_net {
    xb_net_spec spec;
    xb_net_layer layer[XB_NET_MAX_LAYERS];
    float *h[XB_NET_MAX_LAYERS + 1];   /* h[l]: input of layer l, in_l + 1 floats, last = 1 */
    float *z[XB_NET_MAX_LAYERS];       /* pre-activations of layer l */
    float *d[XB_NET_MAX_LAYERS];       /* delta = -dL/dz of layer l */
    float *g;                          /* backward scratch */
    double *p;                         /* softmax output, double */
    float *ba, *bz;                    /* batch scratch: XB_NET_CHUNK samples */
} xb_net;

enum { XB_NET_CHUNK = 256 };           /* samples per batched evaluation call */

/* A net with digital layers initialised from the XB_RNG_INIT stream of `seed` (layer l
 * is array l, row i its output i): uniform_fanin W ~ U(-1/sqrt(in+1), 1/sqrt(in+1)),
 * bias column included (as ../shared/ref/analog_sgd.py); xavier
 * W ~ U(-sqrt(6/(in+out)), +). */
xb_status xb_net_alloc(xb_net **out, const xb_net_spec *spec, uint32_t seed, xb_err *err);
void xb_net_free(xb_net *n);                       /* NULL is fine */

/* Make layer l a hardware layer: its digital weights are dropped (read them first with
 * xb_net_init_weights if the hardware should be programmed to them). */
void xb_net_attach(xb_net *n, size_t l, const xb_net_hw *hw, void *ctx);

/* The initial weights the net would draw for layer l (out x (in+1)), into w. */
void xb_net_init_weights(const xb_net_spec *spec, size_t l, uint32_t seed, float *w);

/* Forward one sample x (sizes[0] floats); returns the predicted class. Fills h, z, p. */
unsigned xb_net_forward(xb_net *n, const float *x, int train);
/* Cross-entropy of the last forward pass for `label` (natural log). */
double xb_net_loss(const xb_net *n, unsigned label);
/* Deltas of every layer for `label` after xb_net_forward (d[L-1] = onehot - p, then
 * d[l-1] = (W_l^T d_l) * act'(z_{l-1})); for sign, act' is the straight-through
 * gradient 1{|z| <= 1}. */
void xb_net_backward(xb_net *n, unsigned label);
/* Digital SGD step on every digital layer: W_l += lr * d_l h_l^T. */
void xb_net_sgd_update(xb_net *n, float lr);

/* Predicted classes of m samples (x: m x sizes[0]), batched (XB_NET_CHUNK at a time). */
void xb_net_predict(xb_net *n, const float *x, size_t m, unsigned *pred);

/* Activation and its derivative, expressed through z (pre-activation) and h = act(z). */
float xb_act_apply(xb_act a, float z);
float xb_act_deriv(xb_act a, float z, float h);
const char *xb_act_name(xb_act a);

#endif
