/* Losses: mse and bce-with-logits (pointwise, with a two-stage reduction),
 * cross entropy (fused log-sum-exp per row) and nll. Every reduction runs
 * in these kernels, so the family depends on no other reduction op.
 *
 * Aux outputs: pointwise losses reduce through "partials" [G]; row losses
 * keep "stats" (cross entropy: lse per row, then the mean's denominator at
 * index N; nll: the denominator at index 0), read by backward, and, when
 * reduced, "rows" [N], the per-row losses before the reduction. */
#include "graph/graph.h"
#include "oclnn/ops.h"
#include "oclnn/train.h"

#include <stdio.h>

extern const char oclnn_cl_loss[];

enum { KIND_MSE = 0, KIND_BCE = 1 };

/* Largest power of two <= min(cap, device and kernel limits). */
static size_t pow2_group(oclnn_context *ctx, cl_kernel k, size_t cap)
{
    size_t limit = ctx->info.max_work_group_size, kwg = 0;
    if (clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL) == CL_SUCCESS &&
        kwg && kwg < limit)
        limit = kwg;
    if (cap < limit) limit = cap;
    size_t p = 1;
    while (p * 2 <= limit) p *= 2;
    return p;
}

static void launch_groups(oclnn_launch *l, size_t groups, size_t wg)
{
    l->dims = 1;
    l->global[0] = groups * wg;
    l->local[0] = wg;
}

static oclnn_status arg_int(cl_kernel k, cl_uint *i, int64_t v, const char *op)
{
    cl_int x = (cl_int)v;
    return oclnn_arg(k, i, sizeof x, &x, op);
}

static oclnn_status arg_float(cl_kernel k, cl_uint *i, float v, const char *op)
{
    return oclnn_arg(k, i, sizeof v, &v, op);
}

static oclnn_status arg_local(cl_kernel k, cl_uint *i, size_t wg, const char *op)
{
    return oclnn_arg(k, i, wg * sizeof(float), NULL, op);
}

static bool reduction_valid(oclnn_graph *g, const char *op, oclnn_reduction r)
{
    if (r == OCLNN_REDUCTION_NONE || r == OCLNN_REDUCTION_MEAN || r == OCLNN_REDUCTION_SUM) return true;
    oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: unknown reduction %d", op, (int)r);
    return false;
}

/* ---- pointwise losses: iparam[0] kind, [1] reduction; fparam[0] mean's n */

static oclnn_status pointwise_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *a = node->src[0], *b = node->src[1];
    int64_t n = oclnn_tensor_numel(a);
    int kind = (int)node->iparam[0], reduce = (int)node->iparam[1];
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s;
    if (reduce == OCLNN_REDUCTION_NONE) {
        s = oclnn_launch_kernel(ctx, node, oclnn_cl_loss, "", "pointwise_loss_map", &l);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, a, op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, b, op);
        if (!s) s = arg_int(l->kernel, &i, n, op);
        if (!s) s = arg_int(l->kernel, &i, kind, op);
        if (!s) oclnn_launch_1d(l, (size_t)n);
        return s;
    }
    oclnn_tensor *part = node->aux[0];
    int64_t groups = oclnn_tensor_numel(part);
    s = oclnn_launch_kernel(ctx, node, oclnn_cl_loss, "", "pointwise_loss_partial", &l);
    if (s) return s;
    size_t wg = pow2_group(ctx, l->kernel, 256);
    s = oclnn_arg_tensor(l->kernel, &i, part, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, a, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, b, op);
    if (!s) s = arg_int(l->kernel, &i, n, op);
    if (!s) s = arg_int(l->kernel, &i, kind, op);
    if (!s) s = arg_local(l->kernel, &i, wg, op);
    if (s) return s;
    launch_groups(l, (size_t)groups, wg);
    i = 0;
    s = oclnn_launch_kernel(ctx, node, oclnn_cl_loss, "", "finish_sum", &l);
    if (s) return s;
    wg = pow2_group(ctx, l->kernel, 256);
    s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, part, op);
    if (!s) s = arg_int(l->kernel, &i, groups, op);
    if (!s) s = arg_float(l->kernel, &i, reduce == OCLNN_REDUCTION_MEAN ? node->fparam[0] : 1.0f, op);
    if (!s) s = arg_local(l->kernel, &i, wg, op);
    if (!s) launch_groups(l, 1, wg);
    return s;
}

/* backward node: srcs grad, a, b; iparam[0] kind, [1] reduction, [2] wrt */
static oclnn_status pointwise_backward_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    int64_t n = oclnn_tensor_numel(node);
    int reduce = (int)node->iparam[1];
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_loss, "", "pointwise_loss_backward", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    for (int k = 0; k < 3 && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, node->src[k], op);
    if (!s) s = arg_int(l->kernel, &i, n, op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[0], op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[2], op);
    if (!s) s = arg_int(l->kernel, &i, reduce != OCLNN_REDUCTION_NONE, op);
    if (!s) s = arg_float(l->kernel, &i, reduce == OCLNN_REDUCTION_MEAN ? node->fparam[0] : 1.0f, op);
    if (!s) oclnn_launch_1d(l, (size_t)n);
    return s;
}

static const oclnn_op_def pointwise_backward_def[2] = {
    {.name = "mse_loss_backward", .prepare = pointwise_backward_prepare},
    {.name = "bce_with_logits_loss_backward", .prepare = pointwise_backward_prepare},
};

static void pointwise_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *srcs[3] = {oclnn_contiguous(g, grad), node->src[0], node->src[1]};
    for (int wrt = 0; wrt < 2; wrt++) {
        oclnn_tensor *x = node->src[wrt];
        if (!(x->flags & T_NEEDS_GRAD)) continue;
        oclnn_tensor *d = oclnn_node_new(g, &pointwise_backward_def[node->iparam[0]], OCLNN_DTYPE_F32, x->ndim,
                                         x->dims, 3, srcs);
        if (!d) return;
        d->iparam[0] = node->iparam[0];
        d->iparam[1] = node->iparam[1];
        d->iparam[2] = wrt;
        d->fparam[0] = node->fparam[0];
        oclnn_grad_add(g, x, d);
    }
}

static const oclnn_op_def pointwise_def[2] = {
    {.name = "mse_loss", .prepare = pointwise_prepare, .backward = pointwise_backward},
    {.name = "bce_with_logits_loss", .prepare = pointwise_prepare, .backward = pointwise_backward},
};

static oclnn_tensor *pointwise_loss(oclnn_graph *g, int kind, oclnn_tensor *a, oclnn_tensor *b, oclnn_reduction r)
{
    const oclnn_op_def *def = &pointwise_def[kind];
    oclnn_tensor *srcs[2] = {a, b};
    if (!oclnn_graph_usable(g, def->name, 2, srcs) || !reduction_valid(g, def->name, r)) return NULL;
    char as[128], bs[128];
    if (a->dtype != OCLNN_DTYPE_F32 || b->dtype != OCLNN_DTYPE_F32 || !oclnn_same_shape(a, b))
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: %s %s %s and target %s %s must be f32 of the same shape",
                                def->name, kind == KIND_MSE ? "prediction" : "logits", oclnn_dtype_name(a->dtype),
                                oclnn_tensor_shape_str(a, as, sizeof as), oclnn_dtype_name(b->dtype),
                                oclnn_tensor_shape_str(b, bs, sizeof bs));
    int64_t n = oclnn_tensor_numel(a);
    if (n > 0x7fffffff) return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: more than 2^31 elements", def->name);
    srcs[0] = oclnn_contiguous(g, a);
    srcs[1] = oclnn_contiguous(g, b);
    oclnn_tensor *t = r == OCLNN_REDUCTION_NONE
                          ? oclnn_node_new(g, def, OCLNN_DTYPE_F32, a->ndim, a->dims, 2, srcs)
                          : oclnn_node_new(g, def, OCLNN_DTYPE_F32, 0, NULL, 2, srcs);
    if (!t) return NULL;
    t->iparam[0] = kind;
    t->iparam[1] = r;
    t->fparam[0] = (float)n;
    if (r != OCLNN_REDUCTION_NONE) {
        /* enough groups to fill the device, each folding >= 1024 elements */
        int64_t cap = 8 * (int64_t)(g->ctx->info.compute_units ? g->ctx->info.compute_units : 1);
        int64_t groups = (n + 1023) / 1024;
        if (groups > cap) groups = cap;
        if (groups < 1) groups = 1;
        if (!oclnn_aux_new(t, OCLNN_DTYPE_F32, 1, &groups)) return NULL;
    }
    return t;
}

oclnn_tensor *oclnn_mse_loss(oclnn_graph *g, oclnn_tensor *pred, oclnn_tensor *target, oclnn_reduction reduction)
{
    return pointwise_loss(g, KIND_MSE, pred, target, reduction);
}

oclnn_tensor *oclnn_bce_with_logits_loss(oclnn_graph *g, oclnn_tensor *logits, oclnn_tensor *target,
                                         oclnn_reduction reduction)
{
    return pointwise_loss(g, KIND_BCE, logits, target, reduction);
}

/* ---- row losses: iparam[0] reduction; fparam[0] label smoothing.
 * src[0] logits / log-probs [N, C], src[1] labels [N];
 * aux[0] stats, aux[1] per-row losses (reduced only). */

static bool is_ce(const oclnn_tensor *node);

/* Adds the one-group rows_finish launch for mean/sum. */
static oclnn_status rows_finish_launch(oclnn_context *ctx, oclnn_tensor *node, int denom_index)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_loss, "", "rows_finish", &l);
    if (s) return s;
    size_t wg = pow2_group(ctx, l->kernel, 256);
    oclnn_tensor *stats = node->aux[0];
    cl_mem stats_buf = stats->buffer;
    s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof stats_buf, &stats_buf, op);
    if (!s) s = arg_int(l->kernel, &i, oclnn_tensor_elem_offset(stats) + denom_index, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[1], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[1], op);
    if (!s) s = arg_int(l->kernel, &i, node->src[1]->dims[0], op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[0] == OCLNN_REDUCTION_MEAN, op);
    if (!s) s = arg_local(l->kernel, &i, wg, op);
    if (!s) launch_groups(l, 1, wg);
    return s;
}

static oclnn_status rows_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *x = node->src[0], *labels = node->src[1];
    int64_t rows = x->dims[0], C = x->dims[1];
    bool reduced = node->iparam[0] != OCLNN_REDUCTION_NONE;
    oclnn_tensor *loss = reduced ? node->aux[1] : node;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s;
    if (is_ce(node)) {
        s = oclnn_launch_kernel(ctx, node, oclnn_cl_loss, "", "ce_rows", &l);
        if (s) return s;
        /* a group per row, no wider than the row */
        size_t cap = 1;
        while (cap < (size_t)C && cap < 256) cap *= 2;
        size_t wg = pow2_group(ctx, l->kernel, cap);
        s = oclnn_arg_tensor(l->kernel, &i, loss, op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[0], op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, labels, op);
        if (!s) s = arg_int(l->kernel, &i, rows, op);
        if (!s) s = arg_int(l->kernel, &i, C, op);
        if (!s) s = arg_float(l->kernel, &i, node->fparam[0], op);
        if (!s) s = arg_local(l->kernel, &i, wg, op);
        if (s) return s;
        launch_groups(l, (size_t)rows, wg);
    } else {
        s = oclnn_launch_kernel(ctx, node, oclnn_cl_loss, "", "nll_rows", &l);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, loss, op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, labels, op);
        if (!s) s = arg_int(l->kernel, &i, rows, op);
        if (!s) s = arg_int(l->kernel, &i, C, op);
        if (s) return s;
        oclnn_launch_1d(l, (size_t)rows);
    }
    return reduced ? rows_finish_launch(ctx, node, is_ce(node) ? (int)rows : 0) : OCLNN_OK;
}

/* backward node: srcs grad, x, labels, stats; iparam[0] reduction, [1] 1 for
 * cross entropy; fparam[0] label smoothing */
static oclnn_status rows_backward_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    bool ce = node->iparam[1] != 0;
    int64_t rows = node->dims[0], C = node->dims[1];
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_loss, "", ce ? "ce_backward" : "nll_backward", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op);
    if (!s && ce) s = oclnn_arg_tensor(l->kernel, &i, node->src[1], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[2], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[3], op);
    if (!s) s = arg_int(l->kernel, &i, rows, op);
    if (!s) s = arg_int(l->kernel, &i, C, op);
    if (!s && ce) s = arg_float(l->kernel, &i, node->fparam[0], op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[0], op);
    if (!s) oclnn_launch_1d(l, (size_t)(rows * C));
    return s;
}

static const oclnn_op_def ce_backward_def = {.name = "cross_entropy_loss_backward", .prepare = rows_backward_prepare};
static const oclnn_op_def nll_backward_def = {.name = "nll_loss_backward", .prepare = rows_backward_prepare};

static void rows_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *x = node->src[0];
    if (!(x->flags & T_NEEDS_GRAD)) return;
    bool ce = is_ce(node);
    oclnn_tensor *srcs[4] = {oclnn_contiguous(g, grad), x, node->src[1], node->aux[0]};
    const oclnn_op_def *def = ce ? &ce_backward_def : &nll_backward_def;
    oclnn_tensor *d = oclnn_node_new(g, def, OCLNN_DTYPE_F32, 2, x->dims, 4, srcs);
    if (!d) return;
    d->iparam[0] = node->iparam[0];
    d->iparam[1] = ce;
    d->fparam[0] = node->fparam[0];
    oclnn_grad_add(g, x, d);
}

static const oclnn_op_def ce_def = {.name = "cross_entropy_loss", .prepare = rows_prepare, .backward = rows_backward};
static const oclnn_op_def nll_def = {.name = "nll_loss", .prepare = rows_prepare, .backward = rows_backward};

static bool is_ce(const oclnn_tensor *node) { return node->op == &ce_def; }

static oclnn_tensor *rows_loss(oclnn_graph *g, const oclnn_op_def *def, oclnn_tensor *x, oclnn_tensor *labels,
                               oclnn_reduction r, float smoothing)
{
    oclnn_tensor *srcs[2] = {x, labels};
    if (!oclnn_graph_usable(g, def->name, 2, srcs) || !reduction_valid(g, def->name, r)) return NULL;
    char xs[128], ls[128];
    oclnn_tensor_shape_str(x, xs, sizeof xs);
    oclnn_tensor_shape_str(labels, ls, sizeof ls);
    if (x->dtype != OCLNN_DTYPE_F32 || x->ndim != 2 || x->dims[1] < 1)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: input must be f32 [N, C] with C >= 1, got %s %s", def->name,
                                oclnn_dtype_name(x->dtype), xs);
    if (labels->dtype != OCLNN_DTYPE_I32 || labels->ndim != 1 || labels->dims[0] != x->dims[0])
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: labels %s %s do not fit input %s (want i32 [%lld])",
                                def->name, oclnn_dtype_name(labels->dtype), ls, xs, (long long)x->dims[0]);
    if (!(smoothing >= 0.0f && smoothing <= 1.0f))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: label_smoothing %g is outside [0, 1]", def->name,
                                (double)smoothing);
    if (oclnn_tensor_numel(x) > 0x7fffffff)
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: more than 2^31 elements in %s", def->name, xs);
    srcs[0] = oclnn_contiguous(g, x);
    srcs[1] = oclnn_contiguous(g, labels);
    int64_t rows = x->dims[0];
    oclnn_tensor *t = r == OCLNN_REDUCTION_NONE ? oclnn_node_new(g, def, OCLNN_DTYPE_F32, 1, &rows, 2, srcs)
                                                : oclnn_node_new(g, def, OCLNN_DTYPE_F32, 0, NULL, 2, srcs);
    if (!t) return NULL;
    t->iparam[0] = r;
    t->fparam[0] = smoothing;
    int64_t nstats = def == &ce_def ? rows + 1 : 1;
    if (!oclnn_aux_new(t, OCLNN_DTYPE_F32, 1, &nstats)) return NULL;
    if (r != OCLNN_REDUCTION_NONE && !oclnn_aux_new(t, OCLNN_DTYPE_F32, 1, &rows)) return NULL;
    return t;
}

oclnn_tensor *oclnn_cross_entropy_loss(oclnn_graph *g, oclnn_tensor *logits, oclnn_tensor *labels,
                                       oclnn_reduction reduction, float label_smoothing)
{
    return rows_loss(g, &ce_def, logits, labels, reduction, label_smoothing);
}

oclnn_tensor *oclnn_nll_loss(oclnn_graph *g, oclnn_tensor *log_probs, oclnn_tensor *labels, oclnn_reduction reduction)
{
    return rows_loss(g, &nll_def, log_probs, labels, reduction, 0.0f);
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_loss_ops[] = {&pointwise_def[0], &pointwise_def[1], &pointwise_backward_def[0], &pointwise_backward_def[1], &ce_def, &nll_def, &ce_backward_def, &nll_backward_def, NULL};
