/* Shared between the conv2d forward (conv.c) and its gradient nodes
 * (conv_bwd.c): the resolved geometry every conv node carries in op_data,
 * and the helpers that build its kernels. */
#ifndef OCLNN_OPS_CONV_INTERNAL_H
#define OCLNN_OPS_CONV_INTERNAL_H

#include "graph/graph.h"
#include "ops/gemm.h"
#include "oclnn/conv.h"

typedef struct conv_geom {
    int n, cin, h, w, cout, kh, kw, ho, wo;
    int sh, sw, ph, pw, dh, dw, groups;
    int act;
    int has_bias;
    int algo;  /* forward, resolved: never OCLNN_CONV_AUTO */
    int bwd;   /* backward: OCLNN_CONV_IM2COL_BATCHED, _WIDE or _TILED */
    int chunk; /* images per im2col chunk: bounds the col scratch (DIRECT: per weight-gradient launch) */
    int wchunk; /* images per Winograd chunk: bounds its V and M scratch (WINOGRAD only) */
    int pointwise; /* 1x1, stride 1, no padding: x is already the col matrix */
    int vw;     /* DIRECT: floats per vector of the device (its tiles are 2 vectors wide) */
    int pool;   /* fused max-pool window (tiled path; 0 none): the node's output is pooled */
} conv_geom;

static inline int conv_cin_g(const conv_geom *c) { return c->cin / c->groups; }
static inline int conv_cout_g(const conv_geom *c) { return c->cout / c->groups; }
static inline int conv_k(const conv_geom *c) { return c->cin / c->groups * c->kh * c->kw; }
static inline int conv_howo(const conv_geom *c) { return c->ho * c->wo; }
/* Pooled positions per plane (the fused max-pool's output). */
static inline int conv_pooled(const conv_geom *c) { return c->pool ? (c->ho / c->pool) * (c->wo / c->pool) : 0; }
/* Columns per image of the col matrix and dt: every conv output, or with
 * the fused pool those inside a window (cl/conv.cl, pooled order). */
static inline int conv_cols(const conv_geom *c)
{
    return c->pool ? c->pool * c->pool * conv_pooled(c) : conv_howo(c);
}
/* Column stride between images of a wide col matrix (within a block). */
static inline int conv_col_img(const conv_geom *c) { return c->pool ? c->pool * conv_pooled(c) : conv_howo(c); }

/* New node of `op` carrying a copy of geom and an empty GEMM plan in a
 * conv_data (freed by oclnn_conv_release). */
oclnn_tensor *oclnn_conv_node_new(oclnn_graph *g, const oclnn_op_def *op, const conv_geom *geom, int ndim,
                            const int64_t *dims, int nsrc, oclnn_tensor *const *srcs);
void oclnn_conv_release(oclnn_tensor *node);
/* Appends a kernel of cl/conv.cl built for node's geometry to node->launch. */
oclnn_status oclnn_conv_kernel(oclnn_context *ctx, oclnn_tensor *node, const char *name, oclnn_launch **out);
/* Work-group size of the bias_grad reduction (a power of two). */
size_t oclnn_conv_reduce_width(oclnn_context *ctx);
/* 3-D launch over d0 x d1 x d2 with work-groups along d0 (on GPUs d0 is
 * rounded up to the group width; kernels bounds-check every id). */
void oclnn_conv_launch3(oclnn_context *ctx, oclnn_launch *l, size_t d0, size_t d1, size_t d2);
/* Binds `count` int kernel arguments starting at argument `index`. */
oclnn_status oclnn_conv_args_int(cl_kernel k, cl_uint index, const char *op, int count, const int *values);
/* op_def.accumulates of the weight and bias gradient nodes: each of
 * them can add into a parameter's accumulator (GEMM beta = 1, or the
 * kernels' accumulate flag) wherever the planner points it. */
bool oclnn_conv_grad_accumulates(const oclnn_tensor *node);
/* A weight or bias gradient node over an empty batch: zeros, or nothing
 * when the node adds into a parameter's accumulator. */
oclnn_status oclnn_conv_empty_grad(oclnn_context *ctx, oclnn_tensor *node);

/* What every conv node carries in op_data: the geometry (first, so that
 * op_data reads as a conv_geom) and the plan all of the node's GEMMs share
 * (they have the same transposes). */
typedef struct conv_data {
    conv_geom geom;
    oclnn_gemm_plan plan;
    /* $OCLNN_CONV_PROFILE: wall seconds per conv_phase, each launch timed
     * between clFinish calls, printed to stderr when the node is released. */
    bool profile;
    double phase_seconds[3];
    unsigned long phase_launches[3];
} conv_data;

/* What a timed launch is: index maps (im2col, col2im), GEMMs, the rest. */
typedef enum { CONV_PHASE_COLS, CONV_PHASE_GEMM, CONV_PHASE_EPILOGUE } conv_phase;
/* With profiling on: waits for the queue and returns the time (0 when off). */
double oclnn_conv_phase_begin(oclnn_context *ctx, const oclnn_tensor *node);
/* With profiling on: waits for the queue and adds the time since t0. */
void oclnn_conv_phase_end(oclnn_context *ctx, oclnn_tensor *node, conv_phase phase, double t0);

/* The engine a conv node's GEMMs run on: the TILED path is the tiled
 * engine with its fused epilogue, BATCHED and WIDE are CLBlast's. */
oclnn_gemm_engine oclnn_conv_engine(int algo);
/* Runs one of node's GEMMs. dry (at prepare): makes the node's plan on
 * the first call and reserves for each shape; nothing is enqueued. */
oclnn_status oclnn_conv_gemm_run(oclnn_context *ctx, oclnn_tensor *node, int algo, const oclnn_gemm_args *a, bool dry);
oclnn_gemm_args oclnn_conv_gemm_bind(const oclnn_tensor *a, const oclnn_tensor *b, const oclnn_tensor *c);
/* Issues `base` for every image i < nb and group g < groups, with operand
 * offsets (A, B, C) advanced by i*img[] + g*grp[] elements. */
oclnn_status oclnn_conv_gemm_grid(oclnn_context *ctx, oclnn_tensor *node, int algo, const oclnn_gemm_args *base, int nb,
                            int groups, const size_t img[3], const size_t grp[3], bool dry);

/* Bytes of col scratch (or Winograd's V and M) a conv node may use (0:
 * the default); returns the previous setting. Applies to convs built
 * afterwards. For tests, which need several chunks on small shapes; not
 * thread-safe. */
size_t oclnn_conv_set_col_budget(size_t bytes);

/* Winograd F(2x2, 3x3) (conv_winograd.c). applies: 3x3, stride 1,
 * dilation 1, one group (and sizes whose indices fit an int).
 * dgrad_applies: the forward runs Winograd and the padding is at most 2,
 * so the data gradient is a Winograd conv too. image_floats: V and M
 * scratch of one image, the larger of the forward's and the data
 * gradient's (for the chunking). add_aux: the forward node's U, V and M. */
bool oclnn_conv_winograd_applies(const conv_geom *c);
bool oclnn_conv_winograd_dgrad_applies(const conv_geom *c);
int64_t oclnn_conv_winograd_image_floats(const conv_geom *c);
bool oclnn_conv_winograd_add_aux(oclnn_tensor *node);
/* The forward node's prepare and forward when its algo is WINOGRAD. */
oclnn_status oclnn_conv_winograd_prepare(oclnn_context *ctx, oclnn_tensor *node);
oclnn_status oclnn_conv_winograd_forward(oclnn_context *ctx, oclnn_tensor *node);
/* The data gradient node dx (dims x_dims) from dt [Cout, N*HoWo] and the weight. */
oclnn_tensor *oclnn_conv_winograd_dgrad(oclnn_graph *g, const conv_geom *c, oclnn_tensor *dt, oclnn_tensor *w,
                                        const int64_t *x_dims);

/* The weight gradient node dw (dims w_dims) from dt [Cout, N*HoWo] and
 * the input x, when the forward runs Winograd. */
oclnn_tensor *oclnn_conv_winograd_wgrad(oclnn_graph *g, const conv_geom *c, oclnn_tensor *dt, oclnn_tensor *x,
                                        const int64_t *w_dims);

/* Direct convolution (conv_direct.c). applies: stride 1, dilation 1, one
 * group, padding below the kernel size (and int indices). input: x, or
 * the node padding it that the forward node takes as its last source.
 * add_aux: the forward node's packed weights. backward: the gradient
 * nodes, from the output gradient. */
bool oclnn_conv_direct_applies(const conv_geom *c);
/* DT and padded x of one image: the weight gradient's working set, which
 * it takes in chunks of c->chunk images that stay in the caches. */
int64_t oclnn_conv_direct_image_floats(const conv_geom *c);
oclnn_tensor *oclnn_conv_direct_input(oclnn_graph *g, const conv_geom *c, oclnn_tensor *x);
bool oclnn_conv_direct_add_aux(oclnn_tensor *node);
oclnn_status oclnn_conv_direct_prepare(oclnn_context *ctx, oclnn_tensor *node);
void oclnn_conv_direct_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *grad);

/* The gradient nodes (conv_bwd.c). */
void oclnn_conv_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads);

#endif
