/* Reductions over one axis (sum, mean, max, argmax) and over everything
 * (sum_all, mean_all), with the broadcast kernels their gradients need.
 *
 * x is viewed as [outer, axis, inner] (see cl/reduce.cl). A node keeps
 * iparam: 0 outer, 1 axis, 2 inner, 3 splits, 4 chunk; fparam[0] the scale
 * (1 for sums, 1/axis for means). When few outputs share a long axis the
 * axis is split across work-groups into an aux scratch tensor of partials
 * and folded by a second launch. CPU devices use the one-work-item-per-row
 * (or column chunk) kernels at the end of cl/reduce.cl instead of trees. */
#include "graph/graph.h"
#include "oclnn/ops.h"

#include <limits.h>
#include <stdio.h>

extern const char oclnn_cl_reduce[];

static size_t pow2_ceil(size_t n)
{
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

static size_t pow2_floor(size_t n)
{
    size_t p = 1;
    while (p * 2 <= n) p <<= 1;
    return p;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Larger groups only add tree levels; 256 already saturates every device. */
#define GROUP_CAP 256

/* Shared with softmax.c. The largest power-of-two work-group size that the
 * kernel, the device and its local memory allow (bytes_per_item of local
 * memory per work-item). */
oclnn_status oclnn_reduce_group_size(oclnn_context *ctx, cl_kernel k, size_t bytes_per_item, const char *op,
                                     size_t *out)
{
    size_t kwg = 0;
    cl_int err = clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL);
    if (err) return oclnn_cl_check(err, "clGetKernelWorkGroupInfo", op);
    size_t wg = min_size(min_size(kwg, ctx->info.max_work_group_size), GROUP_CAP);
    /* leave half of local memory to the implementation */
    if (bytes_per_item && ctx->info.local_mem_bytes)
        wg = min_size(wg, (size_t)(ctx->info.local_mem_bytes / 2 / bytes_per_item));
    *out = pow2_floor(wg ? wg : 1);
    return OCLNN_OK;
}

/* Shared with softmax.c. Splits wg work-items into a tile of n_par
 * independent outputs times n_red work-items that reduce each of them
 * (both powers of two): the parallel side first grows to par_first (32
 * keeps reads coalesced when it is the contiguous one), the reducing side
 * takes what it can use, the parallel side the rest. red_dim (0 or 1) says
 * which launch dimension reduces.
 * The reducing side is never 1 (unless wg is), so the tree loop always runs:
 * in a 2-D group with local size 1 in dim 0, PoCL 3.1 runs the code after a
 * zero-trip loop that contains a barrier twice for work-item (0, 0), which
 * breaks in-place kernels. */
void oclnn_reduce_tile(oclnn_context *ctx, size_t wg, size_t n_par, size_t n_red, size_t par_first, int red_dim,
                       size_t *lx, size_t *ly)
{
    size_t item[3] = {wg, wg, wg};
    clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof item, item, NULL);
    size_t floor_red = min_size(2, wg);
    size_t par = min_size(min_size(pow2_ceil(n_par), par_first), wg / floor_red);
    size_t red = min_size(wg / par, pow2_ceil(n_red));
    if (red < floor_red) red = floor_red;
    par = min_size(wg / red, pow2_ceil(n_par));
    size_t x = red_dim ? par : red, y = red_dim ? red : par;
    *lx = min_size(x, pow2_floor(item[0]));
    *ly = min_size(y, pow2_floor(item[1]));
}

/* CPU devices: rows at least this long split a reduction down columns into
 * chunks of at most CPU_COL_CHUNK rows (see sum_node and reduce_sum_slab). */
#define CPU_WIDE_ROWS 256
#define CPU_COL_CHUNK 64

/* CPU devices: a 1-D launch of n work items. PoCL runs a work-group on one
 * thread, and each item here loops over a whole row or column chunk, so a
 * few items must not share one group while cores sit idle; the local size
 * takes at most three values to bound PoCL's per-size kernel variants. */
static oclnn_status launch_cpu(oclnn_context *ctx, oclnn_launch *l, size_t n, const char *op)
{
    oclnn_status s = oclnn_launch_1d_groups(ctx, l, n, op);
    if (s) return s;
    size_t want = 2 * (size_t)(ctx->info.compute_units ? ctx->info.compute_units : 1), lx = l->local[0];
    if (n < lx * want) lx = min_size(lx, 16);
    if (n < lx * want) lx = 1;
    l->local[0] = lx;
    l->global[0] = (n + lx - 1) / lx * lx;
    return OCLNN_OK;
}

/* ---- axis sum / mean */

/* CPU devices: reduce_sum_rows / reduce_sum_cols (see cl/reduce.cl). */
static oclnn_status bind_sum_cpu(oclnn_context *ctx, oclnn_tensor *node, oclnn_tensor *y, oclnn_tensor *x,
                                 int64_t outer, int64_t axis, int64_t inner, int64_t splits, int64_t chunk,
                                 float scale)
{
    const char *op = node->op->name;
    int rows = inner == 1, slab = inner >= CPU_WIDE_ROWS && splits > 1 && chunk <= CPU_COL_CHUNK;
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_reduce, "",
                                         slab ? "reduce_sum_slab" : rows ? "reduce_sum_rows" : "reduce_sum_cols", &l);
    if (s) return s;
    if (slab) {
        cl_uint i = 0;
        cl_int args[5] = {(cl_int)(outer * splits), (cl_int)axis, (cl_int)inner, (cl_int)splits, (cl_int)chunk};
        s = oclnn_arg_tensor(l->kernel, &i, y, op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
        for (int k = 0; k < 5 && !s; k++) s = oclnn_arg(l->kernel, &i, sizeof args[k], &args[k], op);
        return s ? s : launch_cpu(ctx, l, (size_t)(outer * splits), op);
    }
    int64_t n = outer * splits * (rows ? 1 : (inner + 31) / 32); /* CW in cl/reduce.cl */
    cl_uint i = 0;
    cl_int args[5] = {(cl_int)n, (cl_int)axis, (cl_int)inner, (cl_int)splits, (cl_int)chunk};
    s = oclnn_arg_tensor(l->kernel, &i, y, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
    for (int k = 0; k < 5 && !s; k++)
        if (!rows || k != 2) s = oclnn_arg(l->kernel, &i, sizeof args[k], &args[k], op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof scale, &scale, op);
    return s ? s : launch_cpu(ctx, l, (size_t)n, op);
}

static oclnn_status bind_sum(oclnn_context *ctx, oclnn_tensor *node, oclnn_tensor *y, oclnn_tensor *x, int64_t outer,
                             int64_t axis, int64_t inner, int64_t splits, int64_t chunk, float scale)
{
    if (ctx->info.is_cpu) return bind_sum_cpu(ctx, node, y, x, outer, axis, inner, splits, chunk, scale);
    const char *op = node->op->name;
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_reduce, "", "reduce_sum", &l);
    size_t wg = 1, lx, ly;
    if (!s) s = oclnn_reduce_group_size(ctx, l->kernel, sizeof(float), op, &wg);
    if (s) return s;
    oclnn_reduce_tile(ctx, wg, (size_t)inner, (size_t)(chunk < axis ? chunk : axis), 32, 1, &lx, &ly);
    cl_uint i = 0;
    cl_int args[4] = {(cl_int)axis, (cl_int)inner, (cl_int)splits, (cl_int)chunk};
    s = oclnn_arg_tensor(l->kernel, &i, y, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
    for (int k = 0; k < 4 && !s; k++) s = oclnn_arg(l->kernel, &i, sizeof args[k], &args[k], op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof scale, &scale, op);
    if (!s) s = oclnn_arg(l->kernel, &i, lx * ly * sizeof(float), NULL, op);
    l->dims = 2;
    l->local[0] = lx;
    l->local[1] = ly;
    l->global[0] = ((size_t)inner + lx - 1) / lx * lx;
    l->global[1] = (size_t)(outer * splits) * ly;
    return s;
}

static oclnn_status sum_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    int64_t outer = node->iparam[0], axis = node->iparam[1], inner = node->iparam[2];
    int64_t splits = node->iparam[3], chunk = node->iparam[4];
    float scale = node->fparam[0];
    if (splits <= 1) return bind_sum(ctx, node, node, node->src[0], outer, axis, inner, 1, axis, scale);
    oclnn_tensor *partial = node->aux[0];
    oclnn_status s = bind_sum(ctx, node, partial, node->src[0], outer, axis, inner, splits, chunk, 1.0f);
    return s ? s : bind_sum(ctx, node, node, partial, outer, splits, inner, 1, splits, scale);
}

static oclnn_tensor *expand_node(oclnn_graph *g, oclnn_tensor *grad, const oclnn_tensor *like, int64_t axis,
                                 int64_t inner, float scale);

static void sum_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *x = node->src[0];
    oclnn_grad_add(g, x, expand_node(g, grad, x, node->iparam[1], node->iparam[2], node->fparam[0]));
}

static const oclnn_op_def sum_def = {.name = "sum", .prepare = sum_prepare, .backward = sum_backward};
static const oclnn_op_def mean_def = {.name = "mean", .prepare = sum_prepare, .backward = sum_backward};

/* Work-groups the device needs to keep busy; fewer and the axis is split. */
static int64_t target_groups(const oclnn_graph *g)
{
    int64_t cu = g->ctx->info.compute_units ? g->ctx->info.compute_units : 1;
    return cu * 8;
}

/* Each split keeps at least this many elements so stage 1 stays streaming. */
#define MIN_CHUNK 4096

/* x must be contiguous f32 by now. */
static oclnn_tensor *sum_node(oclnn_graph *g, const oclnn_op_def *def, oclnn_tensor *x, int64_t outer, int64_t axis,
                              int64_t inner, int ndim, const int64_t *dims, float scale)
{
    int64_t groups = outer * ((inner + 31) / 32), splits = 1;
    if (groups < target_groups(g) && axis >= 2 * MIN_CHUNK) {
        splits = (target_groups(g) + groups - 1) / groups;
        if (splits > axis / MIN_CHUNK) splits = axis / MIN_CHUNK;
    }
    /* On CPUs a work item walking down columns of long rows strides a page
     * per step; instead short chunks of rows are streamed contiguously into
     * partials (reduce_sum_slab) and folded by the column kernel. */
    if (g->ctx->info.is_cpu && inner >= CPU_WIDE_ROWS && axis >= 2 * CPU_COL_CHUNK) {
        int64_t s = (axis + CPU_COL_CHUNK - 1) / CPU_COL_CHUNK;
        if (s > splits) splits = s;
    }
    int64_t chunk = (axis + splits - 1) / splits;
    if (chunk) splits = (axis + chunk - 1) / chunk;
    oclnn_tensor *t = oclnn_node_new(g, def, OCLNN_DTYPE_F32, ndim, dims, 1, &x);
    if (!t) return NULL;
    t->iparam[0] = outer;
    t->iparam[1] = axis;
    t->iparam[2] = inner;
    t->iparam[3] = splits > 1 ? splits : 1;
    t->iparam[4] = chunk;
    t->fparam[0] = scale;
    if (splits > 1) {
        int64_t pdims[3] = {outer, splits, inner};
        if (!oclnn_aux_new(t, OCLNN_DTYPE_F32, 3, pdims)) return NULL;
    }
    return t;
}

/* Checks x and the axis, makes x contiguous and splits its shape. Returns
 * the contiguous x or NULL (error recorded). */
static oclnn_tensor *axis_split(oclnn_graph *g, const char *op, oclnn_tensor *x, int *axis, int keepdim,
                                int64_t *outer, int64_t *inner, int *ndim, int64_t *dims)
{
    if (!oclnn_graph_usable(g, op, 1, &x)) return NULL;
    char xs[128];
    oclnn_tensor_shape_str(x, xs, sizeof xs);
    int a = *axis < 0 ? *axis + x->ndim : *axis;
    if (a < 0 || a >= x->ndim)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: axis %d out of range for %s", op, *axis, xs);
    if (x->dtype != OCLNN_DTYPE_F32)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: input %s must be f32, got %s", op, xs,
                                oclnn_dtype_name(x->dtype));
    if (oclnn_tensor_numel(x) > INT_MAX)
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: %s has more than 2^31 elements", op, xs);
    *outer = 1;
    *inner = 1;
    *ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d < a) *outer *= x->dims[d];
        if (d > a) *inner *= x->dims[d];
        if (d != a) dims[(*ndim)++] = x->dims[d];
        else if (keepdim) dims[(*ndim)++] = 1;
    }
    *axis = a;
    return oclnn_contiguous(g, x);
}

static oclnn_tensor *sum_or_mean(oclnn_graph *g, const oclnn_op_def *def, oclnn_tensor *x, int axis, int keepdim)
{
    int64_t outer = 0, inner = 0, dims[OCLNN_MAX_DIMS];
    int ndim = 0;
    oclnn_tensor *xc = axis_split(g, def->name, x, &axis, keepdim, &outer, &inner, &ndim, dims);
    if (!xc) return NULL;
    int64_t n = x->dims[axis];
    return sum_node(g, def, xc, outer, n, inner, ndim, dims, def == &mean_def ? 1.0f / (float)n : 1.0f);
}

oclnn_tensor *oclnn_sum(oclnn_graph *g, oclnn_tensor *x, int axis, int keepdim)
{
    return sum_or_mean(g, &sum_def, x, axis, keepdim);
}

oclnn_tensor *oclnn_mean(oclnn_graph *g, oclnn_tensor *x, int axis, int keepdim)
{
    return sum_or_mean(g, &mean_def, x, axis, keepdim);
}

static oclnn_tensor *all(oclnn_graph *g, const char *op, const oclnn_op_def *def, oclnn_tensor *x)
{
    if (!oclnn_graph_usable(g, op, 1, &x)) return NULL;
    char xs[128];
    if (x->dtype != OCLNN_DTYPE_F32)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: input %s must be f32, got %s", op,
                                oclnn_tensor_shape_str(x, xs, sizeof xs), oclnn_dtype_name(x->dtype));
    int64_t n = oclnn_tensor_numel(x);
    if (n > INT_MAX)
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: %s has more than 2^31 elements", op,
                                oclnn_tensor_shape_str(x, xs, sizeof xs));
    oclnn_tensor *xc = oclnn_contiguous(g, x);
    if (!xc) return NULL;
    return sum_node(g, def, xc, 1, n, 1, 0, NULL, def == &mean_def ? 1.0f / (float)n : 1.0f);
}

oclnn_tensor *oclnn_sum_all(oclnn_graph *g, oclnn_tensor *x) { return all(g, "sum_all", &sum_def, x); }
oclnn_tensor *oclnn_mean_all(oclnn_graph *g, oclnn_tensor *x) { return all(g, "mean_all", &mean_def, x); }

/* ---- expand: broadcast [outer, inner] along a new middle axis, times scale
 * (the transpose of sum/mean). Only autodiff builds it, so it has no
 * backward of its own. */

static oclnn_status expand_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_reduce, "", "expand_axis", &l);
    if (s) return s;
    cl_uint i = 0;
    cl_int n = (cl_int)oclnn_tensor_numel(node), axis = (cl_int)node->iparam[1], inner = (cl_int)node->iparam[2];
    s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof n, &n, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof axis, &axis, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof inner, &inner, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof(float), &node->fparam[0], op);
    return s ? s : oclnn_launch_1d_groups(ctx, l, (size_t)n, op);
}

static const oclnn_op_def expand_def = {.name = "expand", .prepare = expand_prepare};

static oclnn_tensor *expand_node(oclnn_graph *g, oclnn_tensor *grad, const oclnn_tensor *like, int64_t axis,
                                 int64_t inner, float scale)
{
    oclnn_tensor *gc = oclnn_contiguous(g, grad);
    if (!gc) return NULL;
    oclnn_tensor *t = oclnn_node_new(g, &expand_def, OCLNN_DTYPE_F32, like->ndim, like->dims, 1, &gc);
    if (!t) return NULL;
    t->iparam[1] = axis;
    t->iparam[2] = inner;
    t->fparam[0] = scale;
    return t;
}

/* ---- max / argmax: the node's output is the max, aux[0] the i32 index */

/* CPU devices: reduce_max_rows / reduce_max_cols (see cl/reduce.cl). */
static oclnn_status max_prepare_cpu(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    int64_t outer = node->iparam[0], axis = node->iparam[1], inner = node->iparam[2];
    int rows = inner == 1;
    oclnn_launch *l;
    oclnn_status s =
        oclnn_launch_kernel(ctx, node, oclnn_cl_reduce, "", rows ? "reduce_max_rows" : "reduce_max_cols", &l);
    if (s) return s;
    int64_t n = outer * (rows ? 1 : (inner + 7) / 8);
    cl_uint i = 0;
    cl_int args[3] = {(cl_int)n, (cl_int)axis, (cl_int)inner};
    s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[0], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op);
    for (int k = 0; k < (rows ? 2 : 3) && !s; k++) s = oclnn_arg(l->kernel, &i, sizeof args[k], &args[k], op);
    return s ? s : launch_cpu(ctx, l, (size_t)n, op);
}

static oclnn_status max_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    if (ctx->info.is_cpu) return max_prepare_cpu(ctx, node);
    const char *op = node->op->name;
    int64_t outer = node->iparam[0], axis = node->iparam[1], inner = node->iparam[2];
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_reduce, "", "reduce_max", &l);
    size_t wg = 1, lx, ly;
    if (!s) s = oclnn_reduce_group_size(ctx, l->kernel, sizeof(float) + sizeof(cl_int), op, &wg);
    if (s) return s;
    oclnn_reduce_tile(ctx, wg, (size_t)inner, (size_t)axis, 32, 1, &lx, &ly);
    cl_uint i = 0;
    cl_int a = (cl_int)axis, in = (cl_int)inner;
    s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[0], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof a, &a, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof in, &in, op);
    if (!s) s = oclnn_arg(l->kernel, &i, lx * ly * sizeof(float), NULL, op);
    if (!s) s = oclnn_arg(l->kernel, &i, lx * ly * sizeof(cl_int), NULL, op);
    l->dims = 2;
    l->local[0] = lx;
    l->local[1] = ly;
    l->global[0] = ((size_t)inner + lx - 1) / lx * lx;
    l->global[1] = (size_t)outer * ly;
    return s;
}

static oclnn_status max_backward_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_reduce, "", "max_backward", &l);
    if (s) return s;
    cl_uint i = 0;
    cl_int n = (cl_int)oclnn_tensor_numel(node), axis = (cl_int)node->iparam[1], inner = (cl_int)node->iparam[2];
    s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[1], op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof n, &n, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof axis, &axis, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof inner, &inner, op);
    oclnn_launch_1d(l, (size_t)n);
    return s;
}

static const oclnn_op_def max_backward_def = {.name = "max_backward", .prepare = max_backward_prepare};

static void max_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *x = node->src[0];
    oclnn_tensor *srcs[2] = {oclnn_contiguous(g, grad), node->aux[0]};
    if (!srcs[0]) return;
    oclnn_tensor *dx = oclnn_node_new(g, &max_backward_def, OCLNN_DTYPE_F32, x->ndim, x->dims, 2, srcs);
    if (!dx) return;
    for (int k = 0; k < 3; k++) dx->iparam[k] = node->iparam[k];
    oclnn_grad_add(g, x, dx);
}

static const oclnn_op_def max_def = {.name = "max", .prepare = max_prepare, .backward = max_backward};

static oclnn_tensor *max_node(oclnn_graph *g, const char *op, oclnn_tensor *x, int axis, int keepdim)
{
    int64_t outer = 0, inner = 0, dims[OCLNN_MAX_DIMS];
    int ndim = 0;
    oclnn_tensor *xc = axis_split(g, op, x, &axis, keepdim, &outer, &inner, &ndim, dims);
    if (!xc) return NULL;
    char xs[128];
    if (x->dims[axis] == 0)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: axis %d of %s is empty", op, axis,
                                oclnn_tensor_shape_str(x, xs, sizeof xs));
    oclnn_tensor *t = oclnn_node_new(g, &max_def, OCLNN_DTYPE_F32, ndim, dims, 1, &xc);
    if (!t) return NULL;
    t->iparam[0] = outer;
    t->iparam[1] = x->dims[axis];
    t->iparam[2] = inner;
    return oclnn_aux_new(t, OCLNN_DTYPE_I32, ndim, dims) ? t : NULL;
}

oclnn_tensor *oclnn_max(oclnn_graph *g, oclnn_tensor *x, int axis, int keepdim)
{
    return max_node(g, "max", x, axis, keepdim);
}

oclnn_tensor *oclnn_argmax(oclnn_graph *g, oclnn_tensor *x, int axis, int keepdim)
{
    oclnn_tensor *t = max_node(g, "argmax", x, axis, keepdim);
    return t ? t->aux[0] : NULL;
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_reduce_ops[] = {&sum_def, &mean_def, &expand_def, &max_def, &max_backward_def, NULL};
