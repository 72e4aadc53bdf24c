/* Direct ("implicit GEMM") convolution for CPU devices (OCLNN_CONV_DIRECT;
 * kernels in cl/conv_direct.cl): stride 1, dilation 1, one group, padding
 * below the kernel size.
 *
 * Forward: a padded copy xp of x (node conv2d_pad_input, skipped when x
 * needs no padding), the weights packed into NR-channel panels, then one
 * register-tiled kernel that reads its broadcasts from xp in place and
 * stores NCHW with bias and relu, or with a fused max-pool the pooled
 * output and its argmax. Against im2col + GEMM it saves the col matrix's
 * write and read (K = Cin*kh*kw times the output's size per image), which
 * on SimpleCNN's conv2 (5x5, 32 -> 64, 14x14) cost a quarter of the time;
 * measured 2026-12-02 on the 2-core Zen 4 EPYC (PoCL 3.1), batch 64: the
 * kernel alone 5.7-6.0 ms (216-225 GFLOP/s) against 11.6 ms for im2col +
 * GEMM and 6.2 ms for PyTorch 2.15 (oneDNN).
 *
 * Backward, from dy masked by the relu (node conv2d_direct_grad_output,
 * which reads dy once, or with the fused pool the pooled dy and argmax):
 *   data:   the same kernel on dy padded by (kh-1-ph, kw-1-pw), weights
 *           rotated 180 degrees with Cin and Cout swapped;
 *   weight: dy in NHWC times xp, reduced over the images of a cache-sized
 *           chunk inside each work item (deterministic, no atomics), one
 *           launch per chunk adding to the last;
 *   bias:   the NHWC dy summed per channel.
 * The weight and bias gradients can add straight into the parameters'
 * accumulators (op_def.accumulates). */
#include "ops/conv_internal.h"

#include <limits.h>
#include <stdio.h>

extern const char oclnn_cl_conv_direct[];

/* Input channels per weight-gradient work item. */
#define DIRECT_CB 2

static const char *op_of(const oclnn_tensor *node) { return node->op->name; }

/* Vectors of output channels per tile: two of the device's width, or one
 * when the conv has no more channels than that (half of a two-vector tile
 * would be zeros). */
static int nv_for(const conv_geom *c, int channels) { return channels <= c->vw ? 1 : 2; }
static int nr_for(const conv_geom *c, int channels) { return nv_for(c, channels) * c->vw; }
static int blocks_of(const conv_geom *c, int channels)
{
    return (channels + nr_for(c, channels) - 1) / nr_for(c, channels);
}
/* Channels rounded up to whole tiles: the packed weights' and NHWC dt's. */
static int padded_channels(const conv_geom *c, int channels) { return blocks_of(c, channels) * nr_for(c, channels); }

/* Pixels per tile for rows of `width` outputs: the MR in 4..max that
 * wastes the fewest columns (the larger on ties). */
static int tile_width(int width, int max)
{
    int best = max, waste = INT_MAX;
    for (int mr = max; mr >= 4; mr--) {
        int w = (width + mr - 1) / mr * mr - width;
        if (w < waste) best = mr, waste = w;
    }
    return best;
}

/* The widest tile whose MR x nv accumulators, nv weight vectors and a
 * broadcast fit the vector registers: 32 with AVX-512 (16-float vectors),
 * else 16 (AVX2, SSE). 7 x 2 with AVX-512 measured best on SimpleCNN's
 * conv2 (216-225 GFLOP/s, 8 x 2 equal, 4 x 2 192, 7 x 1 115); up to 8
 * pixels with two vectors, 14 with one. With AVX2 that is 6 x 2. */
static int max_tile_width(const conv_geom *c, int nv)
{
    int regs = c->vw >= 16 ? 32 : 16, fit = (regs - 2 - nv) / nv, cap = nv == 1 ? 14 : 8;
    return fit < cap ? fit : cap;
}

/* One direct_conv as the kernel sees it: R input channels of a padded
 * NCHW tensor (HP x WP planes) to O output channels of HO x WO. With the
 * forward's fused pool, an item covers g tiles (g * mr a multiple of the
 * window) and a pooled row holds `groups` items. */
typedef struct direct_shape {
    int r, o, ho, wo, mr, nv, tiles, hp, wp, top, left;
    int g, groups;
} direct_shape;

static int gcd(int a, int b) { return b ? gcd(b, a % b) : a; }

static direct_shape shape_of(const conv_geom *c, bool dgrad)
{
    direct_shape s;
    if (dgrad)
        s = (direct_shape){.r = c->cout, .o = c->cin, .ho = c->h, .wo = c->w, .top = c->kh - 1 - c->ph,
                           .left = c->kw - 1 - c->pw};
    else
        s = (direct_shape){.r = c->cin, .o = c->cout, .ho = c->ho, .wo = c->wo, .top = c->ph, .left = c->pw};
    s.nv = nv_for(c, s.o);
    s.mr = tile_width(s.wo, max_tile_width(c, s.nv));
    s.tiles = (s.wo + s.mr - 1) / s.mr;
    if (!dgrad && c->pool) {
        /* the columns of whole windows, in items of g tiles; x's padded
         * rows then also hold what the last item reads past them */
        s.g = c->pool / gcd(s.mr, c->pool);
        s.groups = (c->wo / c->pool * c->pool + s.g * s.mr - 1) / (s.g * s.mr);
        if (s.groups * s.g > s.tiles) s.tiles = s.groups * s.g;
    }
    s.hp = s.ho + c->kh - 1;
    s.wp = s.tiles * s.mr + c->kw - 1;
    return s;
}

bool oclnn_conv_direct_applies(const conv_geom *c)
{
    if (c->sh != 1 || c->sw != 1 || c->dh != 1 || c->dw != 1 || c->groups != 1) return false;
    if (c->ph > c->kh - 1 || c->pw > c->kw - 1) return false; /* the data gradient's padding */
    /* every index in the kernels is an int (the pool, decided later, may
     * add up to 3 tiles of 14 columns to x's padded rows) */
    direct_shape f = shape_of(c, false), d = shape_of(c, true);
    int64_t kp = padded_channels(c, c->cout);
    return (int64_t)c->n * c->cin * f.hp * (f.wp + 42) <= INT_MAX && (int64_t)c->n * c->cout * d.hp * d.wp <= INT_MAX &&
           (int64_t)c->n * c->ho * c->wo * kp <= INT_MAX &&
           ((int64_t)padded_channels(c, c->cout) + padded_channels(c, c->cin)) * c->cin * c->kh * c->kw <= INT_MAX;
}

/* A kernel of cl/conv_direct.cl for tiles of mr x nv vectors (1, and
 * for the kernels without tiles the vectors of the output channels). */
static oclnn_status direct_kernel(oclnn_context *ctx, oclnn_tensor *node, int mr, int nv, const char *name,
                                  oclnn_launch **out)
{
    const conv_geom *c = node->op_data;
    char opts[128];
    int n = snprintf(opts, sizeof opts, "-DKH=%d -DKW=%d -DMR=%d -DNV=%d -DVW=%d -DCB=%d", c->kh, c->kw, mr, nv,
                     c->vw, DIRECT_CB);
    if (c->pool) snprintf(opts + n, sizeof opts - (size_t)n, " -DPOOL=%d -DG=%d", c->pool, shape_of(c, false).g);
    return oclnn_launch_kernel(ctx, node, oclnn_cl_conv_direct, opts, name, out);
}

/* ---- xp = x padded: src = {x} */

static oclnn_status pad_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    direct_shape s = shape_of(c, false);
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status st = direct_kernel(ctx, node, 1, 1, "direct_pad", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node, op_of(node));
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node->src[0], op_of(node));
    int args[7] = {c->n * c->cin, c->h, c->w, s.hp, s.wp, s.top, s.left};
    if (!st) st = oclnn_conv_args_int(l->kernel, i, op_of(node), 7, args);
    if (!st) oclnn_conv_launch3(ctx, l, (size_t)s.hp, (size_t)c->n * c->cin, 1);
    return st;
}

static const oclnn_op_def pad_def = {.name = "conv2d_pad_input", .prepare = pad_prepare, .release = oclnn_conv_release};

static bool needs_input_pad(const conv_geom *c)
{
    direct_shape s = shape_of(c, false);
    return c->ph || c->pw || s.wp != c->w;
}

oclnn_tensor *oclnn_conv_direct_input(oclnn_graph *g, const conv_geom *c, oclnn_tensor *x)
{
    if (!needs_input_pad(c)) return x;
    direct_shape s = shape_of(c, false);
    int64_t dims[4] = {c->n, c->cin, s.hp, s.wp};
    return oclnn_conv_node_new(g, &pad_def, c, 4, dims, 1, &x);
}

/* ---- the convolution itself: launch 0 packs the weights into aux[0],
 * launch 1 runs direct_conv. src: {input, weight} or the forward's
 * {x, weight[, bias][, xp]}. */

bool oclnn_conv_direct_add_aux(oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    int64_t dims[2] = {padded_channels(c, c->cout), (int64_t)c->cin * c->kh * c->kw};
    return oclnn_aux_new(node, OCLNN_DTYPE_F32, 2, dims) != NULL;
}

static oclnn_status conv_bind(oclnn_context *ctx, oclnn_tensor *node, bool dgrad, oclnn_tensor *in, oclnn_tensor *w,
                              oclnn_tensor *bias)
{
    const conv_geom *c = node->op_data;
    direct_shape s = shape_of(c, dgrad);
    const char *op = op_of(node);
    oclnn_tensor *packed = node->aux[0];
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status st = direct_kernel(ctx, node, s.mr, s.nv, "direct_pack", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, packed, op);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, w, op);
    int pargs[3] = {s.o, s.r, dgrad};
    if (!st) st = oclnn_conv_args_int(l->kernel, i, op, 3, pargs);
    if (!st) oclnn_conv_launch3(ctx, l, (size_t)s.r, (size_t)blocks_of(c, s.o), 1);

    i = 0;
    bool pooled = !dgrad && c->pool;
    if (!st) st = direct_kernel(ctx, node, s.mr, s.nv, pooled ? "direct_conv_pool" : "direct_conv", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!st && pooled) st = oclnn_arg_tensor(l->kernel, &i, node->aux[1], op); /* the argmax */
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, in, op);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, packed, op);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, bias ? bias : packed, op);
    int flags = (bias ? 1 : 0) | (!dgrad && c->act == OCLNN_ACT_RELU ? 2 : 0);
    if (pooled) {
        int hp = c->ho / c->pool, wp = c->wo / c->pool;
        int pargs2[11] = {c->n, s.r, s.o, hp, wp, s.wo, s.groups, s.r * s.hp * s.wp, s.hp * s.wp, s.wp, flags};
        if (!st) st = oclnn_conv_args_int(l->kernel, i, op, 11, pargs2);
        if (!st) oclnn_conv_launch3(ctx, l, (size_t)hp * s.groups, (size_t)blocks_of(c, s.o), (size_t)c->n);
        return st;
    }
    int cargs[10] = {c->n, s.r, s.o, s.ho, s.wo, s.tiles, s.r * s.hp * s.wp, s.hp * s.wp, s.wp, flags};
    if (!st) st = oclnn_conv_args_int(l->kernel, i, op, 10, cargs);
    if (!st) oclnn_conv_launch3(ctx, l, (size_t)s.ho * s.tiles, (size_t)blocks_of(c, s.o), (size_t)c->n);
    return st;
}

oclnn_status oclnn_conv_direct_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    oclnn_tensor *xp = needs_input_pad(c) ? node->src[node->nsrc - 1] : node->src[0];
    return conv_bind(ctx, node, false, xp, node->src[1], c->has_bias ? node->src[2] : NULL);
}

static oclnn_status dgrad_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    return conv_bind(ctx, node, true, node->src[0], node->src[1], NULL);
}

static const oclnn_op_def dgrad_def = {
    .name = "conv2d_direct_grad_input", .prepare = dgrad_prepare, .release = oclnn_conv_release};

/* ---- dt = dy (masked by the relu) in NHWC [N, Ho, Wo, KP], and in aux[0]
 * when the data gradient is wanted dy padded for it: src = {dy[, y]} */

static oclnn_status prep_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    direct_shape s = shape_of(c, true);
    oclnn_launch *l;
    cl_uint i = 0;
    /* src: the gradient[, the argmax when pooled][, y for the relu's mask] */
    int pooled = c->pool ? 1 : 0, masked = node->nsrc > 1 + pooled, padded = node->naux > 0;
    int kp = padded_channels(c, c->cout);
    oclnn_status st = direct_kernel(ctx, node, 1, 1, pooled ? "direct_grad_prep_pool" : "direct_grad_prep", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node, op_of(node));
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, padded ? node->aux[0] : node, op_of(node));
    for (int k = 0; k < 1 + pooled && !st; k++) st = oclnn_arg_tensor(l->kernel, &i, node->src[k], op_of(node));
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node->src[node->nsrc - 1], op_of(node));
    int args[11] = {masked, padded, c->n, c->cout, kp, c->ho, c->wo, s.wp, s.top, s.left, conv_pooled(c)};
    if (!st) st = oclnn_conv_args_int(l->kernel, i, op_of(node), 10 + pooled, args);
    if (!st) {
        oclnn_conv_launch3(ctx, l, (size_t)(kp / c->vw), (size_t)c->n, 1);
        l->local[0] = 1;
    }
    return st;
}

static const oclnn_op_def prep_def = {
    .name = "conv2d_direct_grad_output", .prepare = prep_prepare, .release = oclnn_conv_release};

/* ---- dW: src = {dt, xp}; db: src = {dt} */

static oclnn_status wgrad_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    direct_shape s = shape_of(c, false);
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status st = direct_kernel(ctx, node, 1, nv_for(c, c->cout), "direct_wgrad", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node, op_of(node));
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node->src[0], op_of(node));
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node->src[1], op_of(node));
    /* n0, nb and accumulate are set per chunk (wgrad_forward) */
    int args[11] = {0, 0, c->cin, c->cout, padded_channels(c, c->cout), c->ho, c->wo, c->cin * s.hp * s.wp,
                    s.hp * s.wp, s.wp, 0};
    if (!st) st = oclnn_conv_args_int(l->kernel, i, op_of(node), 11, args);
    if (!st) {
        /* a work group per item: each is a long reduction of its own */
        oclnn_conv_launch3(ctx, l, (size_t)(c->cin + DIRECT_CB - 1) / DIRECT_CB, (size_t)c->kh,
                           (size_t)blocks_of(c, c->cout));
        l->local[0] = 1;
    }
    return st;
}

int64_t oclnn_conv_direct_image_floats(const conv_geom *c)
{
    direct_shape s = shape_of(c, false);
    return (int64_t)conv_howo(c) * padded_channels(c, c->cout) + (int64_t)c->cin * s.hp * s.wp;
}

/* One launch per chunk of c->chunk images, each adding to the last. */
static oclnn_status wgrad_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    if (c->n == 0) return oclnn_conv_empty_grad(ctx, node);
    oclnn_launch l = node->launch[0];
    oclnn_status st = OCLNN_OK;
    for (int n0 = 0; n0 < c->n && !st; n0 += c->chunk) {
        int args[2] = {n0, c->n - n0 < c->chunk ? c->n - n0 : c->chunk}, accumulate = n0 > 0 || node->accumulate;
        st = oclnn_conv_args_int(l.kernel, 6, op_of(node), 2, args);
        if (!st) st = oclnn_conv_args_int(l.kernel, 16, op_of(node), 1, &accumulate);
        if (!st) st = oclnn_launch_enqueue(ctx, &l, op_of(node));
    }
    return st;
}

static const oclnn_op_def wgrad_def = {.name = "conv2d_direct_grad_weight",
                                       .prepare = wgrad_prepare,
                                       .forward = wgrad_forward,
                                       .release = oclnn_conv_release,
                                       .accumulates = oclnn_conv_grad_accumulates};

static oclnn_status bias_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status st = direct_kernel(ctx, node, 1, 1, "direct_bias_grad", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node, op_of(node));
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node->src[0], op_of(node));
    int args[4] = {c->n * conv_howo(c), c->cout, padded_channels(c, c->cout), node->accumulate};
    if (!st) st = oclnn_conv_args_int(l->kernel, i, op_of(node), 4, args);
    if (!st) {
        l->dims = 1;
        l->global[0] = (size_t)(c->cout + c->vw - 1) / c->vw;
        l->local[0] = 1;
    }
    return st;
}

static const oclnn_op_def bias_def = {.name = "conv2d_direct_grad_bias",
                                      .prepare = bias_prepare,
                                      .release = oclnn_conv_release,
                                      .accumulates = oclnn_conv_grad_accumulates};

/* ---- the forward node's backward */

void oclnn_conv_direct_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *grad)
{
    const conv_geom *c = node->op_data;
    oclnn_tensor *x = node->src[0], *w = node->src[1], *b = c->has_bias ? node->src[2] : NULL;
    oclnn_tensor *xp = needs_input_pad(c) ? node->src[node->nsrc - 1] : x;
    /* the gradient[, the argmax with the fused pool][, y for the relu] */
    oclnn_tensor *prep_src[3] = {oclnn_contiguous(g, grad), node->aux[1], node};
    if (!prep_src[0]) return;
    int nprep = 1;
    if (c->pool) nprep++;
    if (c->act == OCLNN_ACT_RELU) prep_src[nprep++] = node;
    int64_t dims[4] = {c->n, c->ho, c->wo, padded_channels(c, c->cout)};
    oclnn_tensor *dt = oclnn_conv_node_new(g, &prep_def, c, 4, dims, nprep, prep_src);
    if (!dt) return;
    if (w->flags & T_NEEDS_GRAD) {
        oclnn_tensor *wsrc[2] = {dt, xp};
        oclnn_grad_add(g, w, oclnn_conv_node_new(g, &wgrad_def, c, 4, w->dims, 2, wsrc));
    }
    if (b && (b->flags & T_NEEDS_GRAD)) oclnn_grad_add(g, b, oclnn_conv_node_new(g, &bias_def, c, 1, b->dims, 1, &dt));
    if (x->flags & T_NEEDS_GRAD) {
        direct_shape s = shape_of(c, true);
        int64_t pdims[4] = {c->n, c->cout, s.hp, s.wp};
        oclnn_tensor *dyp = oclnn_aux_new(dt, OCLNN_DTYPE_F32, 4, pdims);
        oclnn_tensor *dsrc[2] = {dyp, w};
        oclnn_tensor *dx = dyp ? oclnn_conv_node_new(g, &dgrad_def, c, 4, x->dims, 2, dsrc) : NULL;
        int64_t packed[2] = {padded_channels(c, c->cin), (int64_t)c->cout * c->kh * c->kw};
        if (dx && !oclnn_aux_new(dx, OCLNN_DTYPE_F32, 2, packed)) return;
        oclnn_grad_add(g, x, dx);
    }
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_conv_direct_ops[] = {&pad_def, &dgrad_def, &prep_def, &wgrad_def, &bias_def, NULL};
