/* conv2d backward as graph nodes, all in the "wide" layout: the output
 * gradient is first permuted to dt [Cout, N*HoWo] (with the fused
 * activation's mask applied), so that per chunk of images
 *   weight: dW[g] += dt[g] * col[g]^T      one GEMM with k = nb*HoWo
 *   data:   dcol[g] = W[g]^T * dt[g]       one GEMM, then a gather col2im
 *   bias:   db[c]   = sum of row c of dt   a work-group per channel
 * Summing over the images inside the GEMM's k dimension avoids both a
 * GEMM launch per image and a separate reduction of per-image weight
 * gradients. */
#include "ops/conv_internal.h"

static const char *op_of(const oclnn_tensor *node) { return node->op->name; }

/* ---- dt = permute(dy) (* relu mask): src = {dy[, y]} */

static oclnn_status prep_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = conv_kernel(ctx, node, "grad_prep", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op_of(node));
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op_of(node));
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[node->nsrc - 1], op_of(node));
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof c->n, &c->n, op_of(node));
    if (!s) conv_launch3(ctx, l, (size_t)conv_howo(c), (size_t)c->cout, (size_t)c->n);
    return s;
}

static const oclnn_op_def prep_def = {.name = "conv2d_grad_output", .prepare = prep_prepare, .release = conv_release};

/* ---- db: src = {dt} */

static oclnn_status bias_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    oclnn_launch *l;
    cl_uint i = 0;
    int len = c->n * conv_howo(c);
    oclnn_status s = conv_kernel(ctx, node, "bias_grad", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op_of(node));
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op_of(node));
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof len, &len, op_of(node));
    size_t wg = conv_reduce_width(ctx);
    l->dims = 1;
    l->global[0] = wg * (size_t)c->cout;
    l->local[0] = wg;
    return s;
}

static const oclnn_op_def bias_def = {.name = "conv2d_grad_bias", .prepare = bias_prepare, .release = conv_release};

/* ---- shared by the weight and data gradients */

@@ENQ@@/* ---- the forward op's backward(): adds the nodes above */

void conv_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *grad)
{
    const conv_geom *c = node->op_data;
    oclnn_tensor *x = node->src[0], *w = node->src[1], *b = c->has_bias ? node->src[2] : NULL;
    int64_t howo = conv_howo(c);
    int64_t flat[2] = {c->cout, (int64_t)c->n * howo};
    grad = oclnn_contiguous(g, grad);
    oclnn_tensor *dt;
    if (c->n == 1 && c->act == OCLNN_ACT_NONE) {
        dt = oclnn_reshape(g, grad, 2, flat); /* already [Cout, HoWo] */
    } else {
        oclnn_tensor *srcs[2] = {grad, node};
        dt = conv_node_new(g, &prep_def, c, 2, flat, c->act ? 2 : 1, srcs);
    }
    if (!dt) return;
    if (b && (b->flags & T_NEEDS_GRAD)) oclnn_grad_add(g, b, conv_node_new(g, &bias_def, c, 1, b->dims, 1, &dt));
    int64_t col[2] = {(int64_t)conv_k(c) * c->groups, (int64_t)c->chunk * howo};
    if (w->flags & T_NEEDS_GRAD) {
        oclnn_tensor *srcs[2] = {dt, x};
        oclnn_tensor *dw = conv_node_new(g, &wgrad_def, c, 4, w->dims, 2, srcs);
        if (dw && !oclnn_aux_new(dw, OCLNN_DTYPE_F32, 2, col)) return;
        oclnn_grad_add(g, w, dw);
    }
    if (x->flags & T_NEEDS_GRAD) {
        oclnn_tensor *srcs[2] = {dt, w};
        oclnn_tensor *dx = conv_node_new(g, &dgrad_def, c, 4, x->dims, 2, srcs);
        if (dx && !c->direct && !oclnn_aux_new(dx, OCLNN_DTYPE_F32, 2, col)) return;
        oclnn_grad_add(g, x, dx);
    }
}
