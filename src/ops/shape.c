/* Shape ops: concatenation along an axis and its inverse, split (f32 and
 * i32).
 *
 * One node concatenates up to OCLNN_MAX_SRC contiguous inputs in a single
 * launch (see cl/shape.cl); longer lists become a tree of such nodes.
 * Node iparam: 0 axis, 1 inner (elements after the axis). */
#include "graph/graph.h"
#include "oclnn/ops.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern const char oclnn_cl_shape[];

#define CONCAT_MAX 6 /* sources one kernel takes */
_Static_assert(CONCAT_MAX <= OCLNN_MAX_SRC, "a concat node holds its sources");

static oclnn_status concat_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_shape, "", "concat", &l);
    if (s) return s;
    int axis = (int)node->iparam[0];
    cl_uint i = 0;
    s = oclnn_arg_tensor(l->kernel, &i, node, op);
    cl_int8 ends;
    memset(&ends, 0, sizeof ends);
    int64_t end = 0;
    for (int k = 0; k < CONCAT_MAX && !s; k++) {
        /* unused slots repeat the output: a valid buffer that is never read */
        s = oclnn_arg_tensor(l->kernel, &i, k < node->nsrc ? node->src[k] : node, op);
        if (k < node->nsrc) end += node->src[k]->dims[axis];
        ends.s[k] = (cl_int)end;
    }
    cl_int n = (cl_int)oclnn_tensor_numel(node), total = (cl_int)node->dims[axis], inner = (cl_int)node->iparam[1];
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof n, &n, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof total, &total, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof inner, &inner, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof ends, &ends, op);
    oclnn_launch_1d(l, (size_t)n);
    return s;
}

/* Each input's gradient is its slab of the output gradient. */
static void concat_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    int axis = (int)node->iparam[0];
    int64_t start = 0;
    for (int k = 0; k < node->nsrc; k++) {
        oclnn_tensor *x = node->src[k];
        int64_t len = x->dims[axis];
        if (x->flags & T_NEEDS_GRAD)
            oclnn_grad_add(g, x, oclnn_contiguous(g, oclnn_slice(g, grad, axis, start, start + len)));
        start += len;
    }
}

static const oclnn_op_def concat_def = {.name = "concat", .prepare = concat_prepare, .backward = concat_backward};

/* One node over n <= CONCAT_MAX inputs that are already checked. */
static oclnn_tensor *concat_node(oclnn_graph *g, int n, oclnn_tensor *const *xs, int axis)
{
    oclnn_tensor *srcs[CONCAT_MAX];
    int64_t dims[OCLNN_MAX_DIMS];
    memcpy(dims, xs[0]->dims, sizeof dims);
    dims[axis] = 0;
    for (int k = 0; k < n; k++) {
        srcs[k] = oclnn_contiguous(g, xs[k]);
        if (!srcs[k]) return NULL;
        dims[axis] += xs[k]->dims[axis];
    }
    oclnn_tensor *t = oclnn_node_new(g, &concat_def, xs[0]->dtype, xs[0]->ndim, dims, n, srcs);
    if (!t) return NULL;
    int64_t inner = 1;
    for (int d = axis + 1; d < t->ndim; d++) inner *= t->dims[d];
    t->iparam[0] = axis;
    t->iparam[1] = inner;
    return t;
}

/* Concatenates groups of CONCAT_MAX, then the group results, and so on. */
static oclnn_tensor *concat_tree(oclnn_graph *g, int n, oclnn_tensor *const *xs, int axis)
{
    if (n <= CONCAT_MAX) return concat_node(g, n, xs, axis);
    oclnn_tensor *parts[CONCAT_MAX];
    /* ceil(n / CONCAT_MAX) inputs per group keeps the group count <= CONCAT_MAX */
    int per = (n + CONCAT_MAX - 1) / CONCAT_MAX, groups = (n + per - 1) / per, at = 0;
    for (int k = 0; k < groups; k++) {
        int m = n - at < per ? n - at : per;
        parts[k] = concat_tree(g, m, xs + at, axis);
        if (!parts[k]) return NULL;
        at += m;
    }
    return concat_node(g, groups, parts, axis);
}

oclnn_tensor *oclnn_concat(oclnn_graph *g, int n, oclnn_tensor *const *xs, int axis)
{
    if (!g || g->error) return NULL;
    if (n < 1 || !xs) return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "concat: needs at least one input (got %d)", n);
    if (!oclnn_graph_usable(g, "concat", n, xs)) return NULL;
    const oclnn_tensor *x0 = xs[0];
    char s0[128], sk[128];
    oclnn_tensor_shape_str(x0, s0, sizeof s0);
    int a = axis < 0 ? axis + x0->ndim : axis;
    if (a < 0 || a >= x0->ndim)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "concat: axis %d out of range for input 0 %s", axis, s0);
    if (x0->dtype != OCLNN_DTYPE_F32 && x0->dtype != OCLNN_DTYPE_I32)
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "concat: dtype %s is not supported (f32 or i32)",
                                oclnn_dtype_name(x0->dtype));
    int64_t total = 0, rest = 1;
    for (int d = 0; d < x0->ndim; d++) rest *= d == a ? 1 : x0->dims[d];
    for (int k = 0; k < n; k++) {
        const oclnn_tensor *x = xs[k];
        oclnn_tensor_shape_str(x, sk, sizeof sk);
        if (x->dtype != x0->dtype)
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "concat: input %d %s is %s, input 0 %s is %s", k, sk,
                                    oclnn_dtype_name(x->dtype), s0, oclnn_dtype_name(x0->dtype));
        bool fits = x->ndim == x0->ndim;
        for (int d = 0; fits && d < x->ndim; d++) fits = d == a || x->dims[d] == x0->dims[d];
        if (!fits)
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "concat: input %d %s does not match input 0 %s outside axis %d",
                                    k, sk, s0, a);
        total += x->dims[a];
    }
    if (rest * total > INT_MAX)
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "concat: result has more than 2^31 elements");
    return concat_tree(g, n, xs, a);
}

/* ---- split: one node, one output per part (part 0 is the node, parts
 * 1.. its differentiable extra outputs), one launch per part. */

static oclnn_status split_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *x = node->src[0];
    int axis = (int)node->iparam[0];
    int64_t start = 0;
    oclnn_status s = OCLNN_OK;
    for (int k = 0; k <= node->naux && !s; k++) {
        oclnn_tensor *part = k ? node->aux[k - 1] : node;
        oclnn_launch *l;
        if ((s = oclnn_launch_kernel(ctx, node, oclnn_cl_shape, "", "split_part", &l))) break;
        cl_uint i = 0;
        s = oclnn_arg_tensor(l->kernel, &i, part, op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
        int64_t n = oclnn_tensor_numel(part);
        int64_t ints[5] = {n, part->dims[axis], x->dims[axis], start, node->iparam[1]};
        for (int j = 0; j < 5 && !s; j++) s = oclnn_arg_count(l->kernel, &i, ints[j], op);
        oclnn_launch_1d(l, (size_t)n);
        start += part->dims[axis];
    }
    return s;
}

/* The input's gradient is the parts' gradients put back together. */
static void split_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_grad_add(g, node->src[0], oclnn_concat(g, 1 + node->naux, grads, (int)node->iparam[0]));
}

static const oclnn_op_def split_def = {.name = "split", .prepare = split_prepare, .backward = split_backward};

/* The graph's sticky error as this call's status. */
static oclnn_status graph_status(oclnn_graph *g)
{
    if (!g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "split: NULL graph");
    return oclnn_fail(g->error, "%s", g->error_message);
}

oclnn_status oclnn_split(oclnn_graph *g, oclnn_tensor *x, int axis, int n, const int64_t *sizes, oclnn_tensor **parts)
{
    if (parts)
        for (int k = 0; k < n; k++) parts[k] = NULL;
    if (!oclnn_graph_usable(g, "split", 1, &x)) return graph_status(g);
    char xs[128];
    oclnn_tensor_shape_str(x, xs, sizeof xs);
    int a = axis < 0 ? axis + x->ndim : axis;
    int64_t total = 0;
    for (int k = 0; sizes && k < n; k++) total += sizes[k] >= 0 ? sizes[k] : INT64_MIN / 2;
    if (n < 1 || n > 1 + OCLNN_MAX_AUX || !sizes || !parts)
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "split: %d parts requested (1 to %d, with sizes and parts arrays)",
                         n, 1 + OCLNN_MAX_AUX);
    else if (a < 0 || a >= x->ndim)
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "split: axis %d out of range for %s", axis, xs);
    else if (x->dtype != OCLNN_DTYPE_F32 && x->dtype != OCLNN_DTYPE_I32)
        oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "split: dtype %s is not supported (f32 or i32)",
                         oclnn_dtype_name(x->dtype));
    else if (total != x->dims[a])
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "split: sizes (each >= 0) must add up to %lld, axis %d of %s",
                         (long long)x->dims[a], a, xs);
    if (g->error) return graph_status(g);
    int64_t dims[OCLNN_MAX_DIMS], inner = 1;
    memcpy(dims, x->dims, sizeof dims);
    for (int d = a + 1; d < x->ndim; d++) inner *= x->dims[d];
    dims[a] = sizes[0];
    oclnn_tensor *t = oclnn_node_new(g, &split_def, x->dtype, x->ndim, dims, 1, &x);
    if (!t) return graph_status(g);
    t->iparam[0] = a;
    t->iparam[1] = inner;
    parts[0] = t;
    for (int k = 1; k < n; k++) {
        dims[a] = sizes[k];
        parts[k] = x->dtype == OCLNN_DTYPE_F32 ? oclnn_diff_output_new(t, x->ndim, dims)
                                               : oclnn_aux_new(t, x->dtype, x->ndim, dims);
        if (!parts[k]) return graph_status(g);
    }
    return OCLNN_OK;
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_shape_ops[] = {&concat_def, &split_def, NULL};
