/* Batch normalisation (1-D and 2-D) with PyTorch's running statistics.
 *
 * The forward node picks its kernels at run time from the graph's training
 * flag: training enqueues bn_stats (batch statistics, running-stat update)
 * then bn_apply; eval enqueues bn_eval_stats (running stats copied into the
 * same `saved` aux tensor) then bn_apply. Because both modes leave the
 * statistics actually used in `saved`, the backward nodes need only know
 * the mode for dx (batch statistics depend on x, running ones do not). */
#include "graph/graph.h"
#include "oclnn/layers.h"
#include "oclnn/ops.h"

#include <stdio.h>
#include <string.h>

extern const char oclnn_cl_norm[];

/* iparam layout of the forward node and its backward nodes */
enum { B_OUTER, B_C, B_INNER, B_AFFINE, B_TRAINING_ARG };
/* forward srcs: x, running_mean, running_var, num_batches_tracked[, weight, bias] */
enum { S_X, S_MEAN, S_VAR, S_TRACKED, S_WEIGHT, S_BIAS };
/* forward launches */
enum { L_STATS, L_EVAL_STATS, L_APPLY };

static const char *shape(const oclnn_tensor *t, char *buf) { return oclnn_tensor_shape_str(t, buf, 128); }

/* Largest power of two the device and kernel allow, capped at 256: one
 * work-group reduces one channel. */
static size_t reduce_group_size(oclnn_context *ctx, cl_kernel k)
{
    size_t kmax = 0, limit = 256;
    if (clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax, NULL) == CL_SUCCESS &&
        kmax && kmax < limit)
        limit = kmax;
    if (ctx->info.max_work_group_size && ctx->info.max_work_group_size < limit) limit = ctx->info.max_work_group_size;
    size_t wg = 1;
    while (wg * 2 <= limit) wg *= 2;
    return wg;
}

/* Sizes a per-channel reduction launch and binds its __local scratch. */
static oclnn_status channel_launch(oclnn_context *ctx, oclnn_launch *l, cl_uint *i, int64_t channels, const char *op)
{
    size_t wg = reduce_group_size(ctx, l->kernel);
    l->dims = 1;
    l->global[0] = (size_t)channels * wg;
    l->local[0] = wg;
    return oclnn_arg(l->kernel, i, wg * sizeof(float), NULL, op);
}

/* ---- forward */

static oclnn_status bn_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *x = node->src[S_X], *saved = node->aux[0];
    oclnn_tensor *rmean = node->src[S_MEAN], *rvar = node->src[S_VAR], *tracked = node->src[S_TRACKED];
    bool affine = node->iparam[B_AFFINE] != 0;
    oclnn_tensor *w = affine ? node->src[S_WEIGHT] : saved, *b = affine ? node->src[S_BIAS] : saved;
    int64_t C = node->iparam[B_C];

    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_norm, "", "bn_stats", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, saved, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, rmean, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, rvar, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, tracked, op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 3, node->iparam, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof(float), &node->fparam[0], op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof(float), &node->fparam[1], op);
    if (!s) s = channel_launch(ctx, l, &i, C, op);
    if (s) return s;

    i = 0;
    s = oclnn_launch_kernel(ctx, node, oclnn_cl_norm, "", "bn_eval_stats", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, saved, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, rmean, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, rvar, op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 1, &node->iparam[B_C], op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof(float), &node->fparam[1], op);
    if (s) return s;
    oclnn_launch_1d(l, (size_t)C);

    i = 0;
    s = oclnn_launch_kernel(ctx, node, oclnn_cl_norm, "", "bn_apply", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, saved, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, w, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, b, op);
    int64_t n = oclnn_tensor_numel(node);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 1, &n, op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 3, &node->iparam[B_C], op); /* C, inner, affine */
    oclnn_launch_1d(l, (size_t)n);
    return s;
}

static oclnn_status bn_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    bool training = node->graph->training;
    if (training && node->iparam[B_OUTER] * node->iparam[B_INNER] < 2) {
        char xs[128];
        return oclnn_fail(OCLNN_ERR_SHAPE, "%s: training needs more than one value per channel, input is %s", op,
                          shape(node->src[S_X], xs));
    }
    oclnn_status s = oclnn_launch_enqueue(ctx, &node->launch[training ? L_STATS : L_EVAL_STATS], op);
    return s ? s : oclnn_launch_enqueue(ctx, &node->launch[L_APPLY], op);
}

/* ---- backward: a reduction node (d weight, d bias) and an elementwise dx */

static oclnn_status reduce_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_norm, "", "bn_backward_reduce", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    for (int k = 0; k < 3 && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, node->src[k], op); /* dy, x, saved */
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 3, node->iparam, op);
    if (!s) s = channel_launch(ctx, l, &i, node->iparam[B_C], op);
    return s;
}

static const oclnn_op_def reduce_def = {.name = "batch_norm_backward_reduce", .prepare = reduce_prepare};

static oclnn_status dx_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    bool affine = node->iparam[B_AFFINE] != 0;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_norm, "", "bn_backward_dx", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    /* dy, x, saved, sums, weight (sums stands in when there is none) */
    for (int k = 0; k < 4 && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, node->src[k], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[affine ? 4 : 3], op);
    int64_t n = oclnn_tensor_numel(node), training = 1;
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 1, &n, op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 3, &node->iparam[B_C], op); /* C, inner, affine */
    node->iparam[B_TRAINING_ARG] = i;
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 1, &training, op);
    oclnn_launch_1d(l, (size_t)n);
    return s;
}

static oclnn_status dx_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    cl_uint i = (cl_uint)node->iparam[B_TRAINING_ARG];
    int64_t training = node->graph->training;
    oclnn_status s = oclnn_arg_counts(node->launch[0].kernel, &i, 1, &training, node->op->name);
    return s ? s : oclnn_launch_enqueue(ctx, &node->launch[0], node->op->name);
}

static const oclnn_op_def dx_def = {.name = "batch_norm_backward", .prepare = dx_prepare, .forward = dx_forward};

static void copy_iparams(oclnn_tensor *to, const oclnn_tensor *from)
{
    if (to) memcpy(to->iparam, from->iparam, sizeof to->iparam);
}

static void bn_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *x = node->src[S_X], *saved = node->aux[0];
    bool affine = node->iparam[B_AFFINE] != 0;
    oclnn_tensor *w = affine ? node->src[S_WEIGHT] : NULL, *b = affine ? node->src[S_BIAS] : NULL;
    int64_t C = node->iparam[B_C];
    grad = oclnn_contiguous(g, grad);
    oclnn_tensor *srcs[5] = {grad, x, saved, NULL, w};
    int64_t sums_dims[2] = {2, C};
    oclnn_tensor *sums = oclnn_node_new(g, &reduce_def, OCLNN_DTYPE_F32, 2, sums_dims, 3, srcs);
    copy_iparams(sums, node);
    if (x->flags & T_NEEDS_GRAD) {
        srcs[3] = sums;
        oclnn_tensor *dx = oclnn_node_new(g, &dx_def, OCLNN_DTYPE_F32, x->ndim, x->dims, affine ? 5 : 4, srcs);
        copy_iparams(dx, node);
        oclnn_grad_add(g, x, dx);
    }
    if (w && (w->flags & T_NEEDS_GRAD))
        oclnn_grad_add(g, w, oclnn_reshape(g, oclnn_slice(g, sums, 0, 0, 1), 1, &C));
    if (b && (b->flags & T_NEEDS_GRAD))
        oclnn_grad_add(g, b, oclnn_reshape(g, oclnn_slice(g, sums, 0, 1, 2), 1, &C));
}

static const oclnn_op_def bn_def[2] = {
    {.name = "batch_norm1d", .prepare = bn_prepare, .forward = bn_forward, .backward = bn_backward, .inplace = true},
    {.name = "batch_norm2d", .prepare = bn_prepare, .forward = bn_forward, .backward = bn_backward, .inplace = true},
};

static oclnn_tensor *state(oclnn_graph *g, const char *op, const char *prefix, const char *suffix, oclnn_dtype dtype,
                           int ndim, const int64_t *dims, double init)
{
    char name[512];
    if (prefix && (size_t)snprintf(name, sizeof name, "%s.%s", prefix, suffix) >= sizeof name)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: name prefix is too long", op);
    if (prefix && oclnn_graph_find(g, name))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: '%s' already exists in the graph", op, name);
    return oclnn_state_new(g, prefix ? name : NULL, dtype, ndim, dims, init);
}

static oclnn_tensor *batch_norm(oclnn_graph *g, const oclnn_op_def *def, oclnn_tensor *x, oclnn_tensor *weight,
                                oclnn_tensor *bias, const char *prefix, float momentum, float eps)
{
    const char *op = def->name;
    if (!oclnn_graph_usable(g, op, 1, &x)) return NULL;
    bool is2d = def == &bn_def[1];
    char xs[128], ws[128], bs[128];
    if (x->dtype != OCLNN_DTYPE_F32 || (is2d ? x->ndim != 4 : (x->ndim != 2 && x->ndim != 3)))
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: input must be f32 %s, got %s %s", op,
                                is2d ? "[N, C, H, W]" : "[N, C] or [N, C, L]", oclnn_dtype_name(x->dtype),
                                shape(x, xs));
    if (oclnn_tensor_numel(x) > 0x7fffffff)
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: input %s has more than 2^31 elements", op,
                                shape(x, xs));
    int64_t C = x->dims[1];
    if (!weight != !bias)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: give both weight and bias, or neither", op);
    bool affine = weight != NULL;
    if (affine) {
        oclnn_tensor *wb[2] = {weight, bias};
        if (!oclnn_graph_usable(g, op, 2, wb)) return NULL;
        bool ok = true;
        for (int k = 0; k < 2; k++)
            ok &= wb[k]->ndim == 1 && wb[k]->dims[0] == C && wb[k]->dtype == OCLNN_DTYPE_F32;
        if (!ok)
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: weight %s and bias %s must be f32 [%lld] for input %s",
                                    op, shape(weight, ws), shape(bias, bs), (long long)C, shape(x, xs));
    }
    if (!(momentum >= 0.0f && momentum <= 1.0f) || !(eps >= 0.0f))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: momentum %g must be in [0, 1] and eps %g >= 0", op,
                                (double)momentum, (double)eps);
    /* Unnamed state would silently be left out of weight files: take the
     * weight's module name ("bn1.weight" -> "bn1") or a numbered one. */
    char auto_prefix[128];
    if (!prefix) {
        const char *wname = affine ? oclnn_tensor_name(weight) : "";
        size_t len = strlen(wname);
        if (len > 7 && !strcmp(wname + len - 7, ".weight") && len - 7 < sizeof auto_prefix)
            snprintf(auto_prefix, sizeof auto_prefix, "%.*s", (int)(len - 7), wname);
        else
            snprintf(auto_prefix, sizeof auto_prefix, "%s%d", op, g->count);
        prefix = auto_prefix;
    }
    oclnn_tensor *srcs[6];
    srcs[S_X] = oclnn_contiguous(g, x);
    srcs[S_MEAN] = state(g, op, prefix, "running_mean", OCLNN_DTYPE_F32, 1, &C, 0.0);
    srcs[S_VAR] = state(g, op, prefix, "running_var", OCLNN_DTYPE_F32, 1, &C, 1.0); /* PyTorch starts it at one */
    srcs[S_TRACKED] = state(g, op, prefix, "num_batches_tracked", OCLNN_DTYPE_I64, 0, NULL, 0.0);
    if (affine) {
        srcs[S_WEIGHT] = oclnn_contiguous(g, weight);
        srcs[S_BIAS] = oclnn_contiguous(g, bias);
    }
    oclnn_tensor *t = oclnn_node_new(g, def, OCLNN_DTYPE_F32, x->ndim, x->dims, affine ? 6 : 4, srcs);
    if (!t) return NULL;
    int64_t inner = 1;
    for (int d = 2; d < x->ndim; d++) inner *= x->dims[d];
    t->iparam[B_OUTER] = x->dims[0];
    t->iparam[B_C] = C;
    t->iparam[B_INNER] = inner;
    t->iparam[B_AFFINE] = affine;
    t->fparam[0] = momentum;
    t->fparam[1] = eps;
    int64_t saved_dims[2] = {2, C};
    return oclnn_aux_new(t, OCLNN_DTYPE_F32, 2, saved_dims) ? t : NULL;
}

oclnn_tensor *oclnn_batch_norm1d(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *weight, oclnn_tensor *bias,
                                 const char *name_prefix, float momentum, float eps)
{
    return batch_norm(g, &bn_def[0], x, weight, bias, name_prefix, momentum, eps);
}

oclnn_tensor *oclnn_batch_norm2d(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *weight, oclnn_tensor *bias,
                                 const char *name_prefix, float momentum, float eps)
{
    return batch_norm(g, &bn_def[1], x, weight, bias, name_prefix, momentum, eps);
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_norm_ops[] = {&bn_def[0], &bn_def[1], &reduce_def, &dx_def, NULL};
