/* Layer normalisation over the last axis (torch.nn.functional.layer_norm
 * with normalized_shape = (C,)), weight and bias each optional, forward and
 * backward; kernels in cl/layer_norm.cl.
 *
 * Forward "layer_norm": srcs x[, weight][, bias][, residual: y = LN(x +
 * residual), set by the planner]; output y; aux saved
 * [rows, 2] = (mean, rstd). Backward: "layer_norm_backward" (dx; srcs dy, x,
 * saved[, weight]) and "layer_norm_backward_params" ([2, C]: d weight and d
 * bias; srcs dy, x, saved). */
#include "graph/graph.h"
#include "oclnn/attention.h"
#include "oclnn/ops.h"

#include <math.h>
#include <string.h>

extern const char oclnn_cl_layer_norm[];

enum { P_ROWS, P_C, P_FLAGS, P_W, P_B, P_RES };
enum { HAS_W = 1, HAS_B = 2, HAS_RES = 4 };

static oclnn_status arg_int(cl_kernel k, cl_uint *i, int64_t v, const char *op)
{
    cl_int x = (cl_int)v;
    return oclnn_arg(k, i, sizeof x, &x, op);
}

static oclnn_status ln_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *x = node->src[0];
    oclnn_tensor *w = node->iparam[P_W] ? node->src[node->iparam[P_W]] : x;
    oclnn_tensor *b = node->iparam[P_B] ? node->src[node->iparam[P_B]] : x;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_layer_norm, "", "ln_forward", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[0], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, w, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, b, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->iparam[P_RES] ? node->src[node->iparam[P_RES]] : x, op);
    if (!s) s = oclnn_arg_count(l->kernel, &i, node->iparam[P_ROWS], op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[P_C], op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof(float), &node->fparam[0], op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[P_FLAGS], op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)node->iparam[P_ROWS], op);
    return s;
}

static oclnn_status dx_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_layer_norm, "", "ln_backward_dx", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    for (int k = 0; k < 3 && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, node->src[k], op); /* dy, x, saved */
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[node->nsrc > 3 ? 3 : 0], op);
    if (!s) s = oclnn_arg_count(l->kernel, &i, node->iparam[P_ROWS], op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[P_C], op);
    if (!s) s = arg_int(l->kernel, &i, node->nsrc > 3 ? HAS_W : 0, op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)node->iparam[P_ROWS], op);
    return s;
}

static const oclnn_op_def dx_def = {.name = "layer_norm_backward", .prepare = dx_prepare};

static oclnn_status params_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_layer_norm, "", "ln_backward_params", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    for (int k = 0; k < 3 && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, node->src[k], op);
    if (!s) s = oclnn_arg_count(l->kernel, &i, node->iparam[P_ROWS], op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[P_C], op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)node->iparam[P_C], op);
    return s;
}

static const oclnn_op_def params_def = {.name = "layer_norm_backward_params", .prepare = params_prepare};

static void ln_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *x = node->src[0], *saved = node->aux[0];
    oclnn_tensor *w = node->iparam[P_W] ? node->src[node->iparam[P_W]] : NULL;
    oclnn_tensor *b = node->iparam[P_B] ? node->src[node->iparam[P_B]] : NULL;
    oclnn_tensor *dy = oclnn_contiguous(g, grads[0]);
    if (!dy) return;
    oclnn_tensor *srcs[4] = {dy, x, saved, w};
    if (x->flags & T_NEEDS_GRAD) {
        oclnn_tensor *dx = oclnn_node_new(g, &dx_def, OCLNN_DTYPE_F32, x->ndim, x->dims, w ? 4 : 3, srcs);
        if (dx) memcpy(dx->iparam, node->iparam, sizeof dx->iparam);
        oclnn_grad_add(g, x, dx);
    }
    bool dw = w && (w->flags & T_NEEDS_GRAD), db = b && (b->flags & T_NEEDS_GRAD);
    if (!dw && !db) return;
    int64_t C = node->iparam[P_C], pd[2] = {2, C};
    oclnn_tensor *sums = oclnn_node_new(g, &params_def, OCLNN_DTYPE_F32, 2, pd, 3, srcs);
    if (!sums) return;
    memcpy(sums->iparam, node->iparam, sizeof sums->iparam);
    if (dw) oclnn_grad_add(g, w, oclnn_reshape(g, oclnn_slice(g, sums, 0, 0, 1), 1, &C));
    if (db) oclnn_grad_add(g, b, oclnn_reshape(g, oclnn_slice(g, sums, 0, 1, 2), 1, &C));
}

/* The planner folds x = a + b into the node (plan.c fuse_residual_adds):
 * src[0] becomes a and b is appended as the residual source. */
static void ln_take_residual(oclnn_tensor *node, oclnn_tensor *a, oclnn_tensor *b)
{
    node->src[0] = a;
    node->iparam[P_RES] = node->nsrc;
    node->src[node->nsrc++] = b;
    node->iparam[P_FLAGS] |= HAS_RES;
}

static const oclnn_op_def ln_def = {
    .name = "layer_norm", .prepare = ln_prepare, .backward = ln_backward, .take_residual = ln_take_residual};

oclnn_tensor *oclnn_layer_norm(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *weight, oclnn_tensor *bias, float eps)
{
    const char *op = "layer_norm";
    if (!oclnn_graph_usable(g, op, 1, &x)) return NULL;
    if ((weight && !oclnn_graph_usable(g, op, 1, &weight)) || (bias && !oclnn_graph_usable(g, op, 1, &bias)))
        return NULL;
    char xs[128], ws[128];
    if (x->dtype != OCLNN_DTYPE_F32 || x->ndim < 1 || x->dims[x->ndim - 1] < 1)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "layer_norm: input must be f32 with a non-empty last axis, got %s %s",
                                oclnn_dtype_name(x->dtype), oclnn_tensor_shape_str(x, xs, sizeof xs));
    int64_t C = x->dims[x->ndim - 1];
    oclnn_tensor *wb[2] = {weight, bias};
    for (int k = 0; k < 2; k++)
        if (wb[k] && (wb[k]->dtype != OCLNN_DTYPE_F32 || wb[k]->ndim != 1 || wb[k]->dims[0] != C))
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "layer_norm: %s %s must be f32 [%lld] for input %s",
                                    k ? "bias" : "weight", oclnn_tensor_shape_str(wb[k], ws, sizeof ws), (long long)C,
                                    oclnn_tensor_shape_str(x, xs, sizeof xs));
    if (!(eps >= 0.0f) || isinf(eps))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "layer_norm: eps %g must be finite and >= 0", (double)eps);
    oclnn_tensor *srcs[3] = {x};
    int nsrc = 1;
    int64_t w_at = 0, b_at = 0;
    if (weight) srcs[w_at = nsrc++] = weight;
    if (bias) srcs[b_at = nsrc++] = bias;
    oclnn_tensor *t = oclnn_node_new(g, &ln_def, OCLNN_DTYPE_F32, x->ndim, x->dims, nsrc, srcs);
    if (!t) return NULL;
    int64_t rows = oclnn_tensor_numel(x) / C;
    t->iparam[P_ROWS] = rows;
    t->iparam[P_C] = C;
    t->iparam[P_FLAGS] = (weight ? HAS_W : 0) | (bias ? HAS_B : 0);
    t->iparam[P_W] = w_at;
    t->iparam[P_B] = b_at;
    t->iparam[P_RES] = 0;
    t->fparam[0] = eps;
    int64_t sd[2] = {rows, 2};
    return oclnn_aux_new(t, OCLNN_DTYPE_F32, 2, sd) ? t : NULL;
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_layer_norm_ops[] = {&ln_def, &dx_def, &params_def, NULL};
