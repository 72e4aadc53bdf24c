/* Pooling: max and average with PyTorch's window rules, adaptive and global
 * average. Geometry lives in iparam (see enum below). Average pooling passes
 * it all as kernel arguments, so its shapes share one program; max pooling
 * compiles per window (kernel, stride, padding), see cl/pool.cl. */
#include "graph/graph.h"
#include "oclnn/layers.h"

#include <stdio.h>

extern const char oclnn_cl_pool[];

/* iparam layout shared by forward and backward nodes */
enum { P_H, P_W, P_OH, P_OW, P_KH, P_KW, P_SH, P_SW, P_PH, P_PW, P_INCLUDE_PAD, P_CEIL };
#define P_NGEOM P_INCLUDE_PAD /* geometry ints every pooling kernel takes */

oclnn_pool2d_params oclnn_pool2d_params_default(int kernel, int stride, int pad)
{
    oclnn_pool2d_params p = {kernel, kernel, stride, stride, pad, pad, 0, 1};
    return p;
}

/* PyTorch's pooling_output_shape (dilation 1). */
static int64_t pool_out_size(int64_t in, int k, int s, int pad, int ceil_mode)
{
    int64_t span = in + 2 * pad - k + (ceil_mode ? s - 1 : 0);
    if (span < 0) return 0;
    int64_t out = span / s + 1;
    if (ceil_mode && (out - 1) * s >= in + pad) out--;
    return out;
}

/* Binds out, then the tensors in ts, then n and the ints in v. */
static oclnn_status launch_pool(oclnn_context *ctx, oclnn_tensor *node, const char *kernel, int nt,
                                oclnn_tensor *const *ts, int64_t n, int nv, const int64_t *v)
{
    oclnn_launch *l;
    const char *op = node->op->name;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_pool, "", kernel, &l);
    cl_uint i = 0;
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    for (int k = 0; k < nt && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, ts[k], op);
    cl_int cn = (cl_int)n;
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof cn, &cn, op);
    for (int k = 0; k < nv && !s; k++) {
        cl_int x = (cl_int)v[k];
        s = oclnn_arg(l->kernel, &i, sizeof x, &x, op);
    }
    if (!s) oclnn_launch_1d(l, (size_t)n);
    return s;
}

static const char *shape(const oclnn_tensor *t, char *buf) { return oclnn_tensor_shape_str(t, buf, 128); }

/* Common input checks: f32 [N, C, H, W] with int-sized element counts. */
static bool check_nchw(oclnn_graph *g, const char *op, oclnn_tensor *x)
{
    if (!oclnn_graph_usable(g, op, 1, &x)) return false;
    char xs[128];
    if (x->ndim != 4 || x->dtype != OCLNN_DTYPE_F32) {
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: input must be f32 [N, C, H, W], got %s %s", op,
                         oclnn_dtype_name(x->dtype), shape(x, xs));
        return false;
    }
    if (oclnn_tensor_numel(x) > 0x7fffffff) {
        oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: input %s has more than 2^31 elements", op, shape(x, xs));
        return false;
    }
    return true;
}

/* Gradient node of shape like `x`, reading srcs, with the forward's geometry. */
static oclnn_tensor *backward_node(oclnn_graph *g, const oclnn_op_def *def, const oclnn_tensor *fwd,
                                   const oclnn_tensor *x, int nsrc, oclnn_tensor **srcs)
{
    srcs[0] = oclnn_contiguous(g, srcs[0]);
    oclnn_tensor *t = oclnn_node_new(g, def, OCLNN_DTYPE_F32, x->ndim, x->dims, nsrc, srcs);
    if (t)
        for (int k = 0; k < 16; k++) t->iparam[k] = fwd->iparam[k];
    return t;
}

/* ---- max pooling */


/* Binds out, the tensors in ts, n, the plane sizes, then the divisions
 * that split a flat index over planes of rows x cols; launches n items.
 * The kernel is compiled for the node's window. */
static oclnn_status launch_max(oclnn_context *ctx, oclnn_tensor *node, const char *kernel, int nt,
                               oclnn_tensor *const *ts, int64_t n, int64_t rows, int64_t cols)
{
    const int64_t *v = node->iparam;
    char opts[128];
    snprintf(opts, sizeof opts, "-DKH=%d -DKW=%d -DSH=%d -DSW=%d -DPH=%d -DPW=%d", (int)v[P_KH], (int)v[P_KW],
             (int)v[P_SH], (int)v[P_SW], (int)v[P_PH], (int)v[P_PW]);
    const char *op = node->op->name;
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_pool, opts, kernel, &l);
    cl_uint i = 0;
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    for (int k = 0; k < nt && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, ts[k], op);
    cl_int ints[5] = {(cl_int)n, (cl_int)v[P_H], (cl_int)v[P_W], (cl_int)v[P_OH], (cl_int)v[P_OW]};
    for (int k = 0; k < 5 && !s; k++) s = oclnn_arg(l->kernel, &i, sizeof ints[k], &ints[k], op);
    cl_uint div[4];
    oclnn_magic_div(cols, &div[0], &div[1]);
    oclnn_magic_div(rows, &div[2], &div[3]);
    for (int k = 0; k < 4 && !s; k++) s = oclnn_arg(l->kernel, &i, sizeof div[k], &div[k], op);
    return s ? s : oclnn_launch_1d_groups(ctx, l, (size_t)n, op);
}

static oclnn_status max_backward_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    return launch_max(ctx, node, "max_pool2d_backward", 2, node->src, oclnn_tensor_numel(node), node->iparam[P_H],
                      node->iparam[P_W]);
}

static const oclnn_op_def max_backward_def = {.name = "max_pool2d_backward", .prepare = max_backward_prepare};

static oclnn_status max_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_tensor *ts[2] = {node->aux[0], node->src[0]};
    return launch_max(ctx, node, "max_pool2d_forward", 2, ts, oclnn_tensor_numel(node), node->iparam[P_OH],
                      node->iparam[P_OW]);
}

static void max_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *srcs[2] = {grad, node->aux[0]};
    oclnn_grad_add(g, node->src[0], backward_node(g, &max_backward_def, node, node->src[0], 2, srcs));
}

static const oclnn_op_def max_def = {.name = "max_pool2d", .prepare = max_prepare, .backward = max_backward};

/* ---- average pooling */

static oclnn_status avg_backward_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    return launch_pool(ctx, node, "avg_pool2d_backward", 1, node->src, oclnn_tensor_numel(node), P_NGEOM + 1,
                       node->iparam);
}

static const oclnn_op_def avg_backward_def = {.name = "avg_pool2d_backward", .prepare = avg_backward_prepare};

static oclnn_status avg_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    return launch_pool(ctx, node, "avg_pool2d_forward", 1, node->src, oclnn_tensor_numel(node), P_NGEOM + 1,
                       node->iparam);
}

static void avg_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *srcs[1] = {grad};
    oclnn_grad_add(g, node->src[0], backward_node(g, &avg_backward_def, node, node->src[0], 1, srcs));
}

static const oclnn_op_def avg_def = {.name = "avg_pool2d", .prepare = avg_prepare, .backward = avg_backward};

static oclnn_tensor *pool2d(oclnn_graph *g, const oclnn_op_def *def, oclnn_tensor *x, const oclnn_pool2d_params *p)
{
    const char *op = def->name;
    if (!check_nchw(g, op, x)) return NULL;
    if (!p) return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: NULL params", op);
    int sh = p->stride_h ? p->stride_h : p->kernel_h, sw = p->stride_w ? p->stride_w : p->kernel_w;
    char xs[128];
    if (p->kernel_h < 1 || p->kernel_w < 1 || sh < 1 || sw < 1 || p->pad_h < 0 || p->pad_w < 0)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG,
                                "%s: kernel %dx%d, stride %dx%d, padding %dx%d: kernel and stride must be positive, "
                                "padding non-negative",
                                op, p->kernel_h, p->kernel_w, sh, sw, p->pad_h, p->pad_w);
    if (p->pad_h > p->kernel_h / 2 || p->pad_w > p->kernel_w / 2)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: padding %dx%d exceeds half of kernel %dx%d", op,
                                p->pad_h, p->pad_w, p->kernel_h, p->kernel_w);
    int64_t oh = pool_out_size(x->dims[2], p->kernel_h, sh, p->pad_h, p->ceil_mode);
    int64_t ow = pool_out_size(x->dims[3], p->kernel_w, sw, p->pad_w, p->ceil_mode);
    if (oh < 1 || ow < 1)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: kernel %dx%d with padding %dx%d does not fit input %s", op,
                                p->kernel_h, p->kernel_w, p->pad_h, p->pad_w, shape(x, xs));
    if (x->dims[0] * x->dims[1] * oh * ow > 0x7fffffff) /* padding can make the output the larger */
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: output of input %s has more than 2^31 elements", op,
                                shape(x, xs));
    x = oclnn_contiguous(g, x);
    int64_t dims[4] = {x ? x->dims[0] : 0, x ? x->dims[1] : 0, oh, ow};
    oclnn_tensor *t = oclnn_node_new(g, def, OCLNN_DTYPE_F32, 4, dims, 1, &x);
    if (!t) return NULL;
    const int64_t geom[] = {x->dims[2], x->dims[3], oh, ow, p->kernel_h, p->kernel_w, sh, sw, p->pad_h, p->pad_w,
                            p->count_include_pad != 0, p->ceil_mode != 0};
    for (int k = 0; k <= P_CEIL; k++) t->iparam[k] = geom[k];
    if (def == &max_def && !oclnn_aux_new(t, OCLNN_DTYPE_I32, 4, dims)) return NULL;
    return t;
}

oclnn_tensor *oclnn_max_pool2d(oclnn_graph *g, oclnn_tensor *x, const oclnn_pool2d_params *p)
{
    return pool2d(g, &max_def, x, p);
}

oclnn_tensor *oclnn_avg_pool2d(oclnn_graph *g, oclnn_tensor *x, const oclnn_pool2d_params *p)
{
    return pool2d(g, &avg_def, x, p);
}

/* ---- adaptive average pooling (iparam: H, W, OH, OW) */

static oclnn_status adaptive_backward_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    return launch_pool(ctx, node, "adaptive_avg_pool2d_backward", 1, node->src, oclnn_tensor_numel(node), 4,
                       node->iparam);
}

static const oclnn_op_def adaptive_backward_def = {.name = "adaptive_avg_pool2d_backward",
                                                   .prepare = adaptive_backward_prepare};

static oclnn_status adaptive_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    return launch_pool(ctx, node, "adaptive_avg_pool2d_forward", 1, node->src, oclnn_tensor_numel(node), 4,
                       node->iparam);
}

static void adaptive_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *srcs[1] = {grad};
    oclnn_grad_add(g, node->src[0], backward_node(g, &adaptive_backward_def, node, node->src[0], 1, srcs));
}

static const oclnn_op_def adaptive_def = {.name = "adaptive_avg_pool2d", .prepare = adaptive_prepare,
                                          .backward = adaptive_backward};

static oclnn_tensor *adaptive(oclnn_graph *g, const char *op, oclnn_tensor *x, int out_h, int out_w)
{
    if (!check_nchw(g, op, x)) return NULL;
    char xs[128];
    if (out_h < 1 || out_w < 1)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: output size %dx%d must be positive (input %s)", op, out_h,
                                out_w, shape(x, xs));
    if (x->dims[2] < 1 || x->dims[3] < 1)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: input %s has an empty plane", op, shape(x, xs));
    x = oclnn_contiguous(g, x);
    int64_t dims[4] = {x ? x->dims[0] : 0, x ? x->dims[1] : 0, out_h, out_w};
    oclnn_tensor *t = oclnn_node_new(g, &adaptive_def, OCLNN_DTYPE_F32, 4, dims, 1, &x);
    if (!t) return NULL;
    t->iparam[0] = x->dims[2];
    t->iparam[1] = x->dims[3];
    t->iparam[2] = out_h;
    t->iparam[3] = out_w;
    return t;
}

oclnn_tensor *oclnn_adaptive_avg_pool2d(oclnn_graph *g, oclnn_tensor *x, int out_h, int out_w)
{
    return adaptive(g, "adaptive_avg_pool2d", x, out_h, out_w);
}

oclnn_tensor *oclnn_global_avg_pool2d(oclnn_graph *g, oclnn_tensor *x)
{
    return adaptive(g, "global_avg_pool2d", x, 1, 1);
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_pool_ops[] = {&max_def, &max_backward_def, &avg_def, &avg_backward_def, &adaptive_def, &adaptive_backward_def, NULL};
