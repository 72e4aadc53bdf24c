/* Elementwise ops: broadcast binary arithmetic, activations, bias add,
 * constants, strided copies and the broadcast-inverse sum_to. */
#include "graph/graph.h"
#include "oclnn/attention.h"
#include "oclnn/ops.h"

#include <stdio.h>
#include <string.h>

extern const char oclnn_cl_elementwise[];


/* Binds y, the tensors in xs and n, then sizes a 1-D launch over n. */
static oclnn_status launch_map(oclnn_context *ctx, oclnn_tensor *node, const char *options, const char *kernel,
                               int nx, oclnn_tensor *const *xs, oclnn_launch **out, cl_uint *next_arg)
{
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_elementwise, options, kernel, &l);
    if (s) return s;
    cl_uint i = 0;
    s = oclnn_arg_tensor(l->kernel, &i, node, node->op->name);
    for (int k = 0; k < nx && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, xs[k], node->op->name);
    int64_t n = oclnn_tensor_numel(node);
    if (!s) s = oclnn_arg_count(l->kernel, &i, n, node->op->name);
    oclnn_launch_1d(l, (size_t)n);
    if (out) *out = l;
    if (next_arg) *next_arg = i;
    return s;
}

static void pack8(cl_int8 *v, const int64_t *values, int n)
{
    memset(v, 0, sizeof *v);
    for (int i = 0; i < n; i++) v->s[i] = (cl_int)values[i];
}

/* ---- broadcast binary ops */

/* Whether r, contiguous, is node's trailing dims (leading 1s aside): it
 * repeats along node's leading dims. */
static bool repeats_in(const oclnn_tensor *r, const oclnn_tensor *node)
{
    int lead = 0;
    while (lead < r->ndim && r->dims[lead] == 1) lead++;
    int k = r->ndim - lead;
    if (!oclnn_tensor_is_contiguous(r) || k > node->ndim || oclnn_tensor_numel(r) == 0) return false;
    for (int d = 0; d < k; d++)
        if (r->dims[lead + d] != node->dims[node->ndim - k + d]) return false;
    return true;
}

static oclnn_status binary_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_tensor *a = node->src[0], *b = node->src[1];
    char opts[48];
    snprintf(opts, sizeof opts, "-DOP=%d -DNDIM=%d", (int)node->iparam[0], node->ndim ? node->ndim : 1);
    /* The flat kernel reads both operands densely: only for contiguous ones. */
    bool flat = oclnn_same_shape(a, b) && oclnn_same_shape(a, node) && oclnn_tensor_is_contiguous(a) &&
                oclnn_tensor_is_contiguous(b);
    /* One whole and one repeated operand: an index modulo instead of the
     * per-dimension index split (5x fewer integer divisions at rank 3). */
    bool whole_a = oclnn_same_shape(a, node) && oclnn_tensor_is_contiguous(a);
    bool whole_b = oclnn_same_shape(b, node) && oclnn_tensor_is_contiguous(b);
    int rep = flat ? 0 : whole_a && repeats_in(b, node) ? 2 : whole_b && repeats_in(a, node) ? 1 : 0;
    oclnn_launch *l;
    cl_uint i;
    oclnn_tensor *xs[2] = {a, b};
    const char *kernel = flat ? "binary_flat" : rep ? "binary_repeat" : "binary_broadcast";
    oclnn_status s = launch_map(ctx, node, opts, kernel, 2, xs, &l, &i);
    if (!s && rep) s = oclnn_arg_count(l->kernel, &i, oclnn_tensor_numel(rep == 1 ? a : b), node->op->name);
    if (!s && rep) s = oclnn_arg(l->kernel, &i, sizeof(cl_int), &(cl_int){rep == 1}, node->op->name);
    if (s || flat || rep) return s;
    /* Align both operands to the output's rank; stretched dims get stride 0. */
    cl_int8 dims, astr, bstr;
    pack8(&dims, node->dims, node->ndim);
    memset(&astr, 0, sizeof astr);
    memset(&bstr, 0, sizeof bstr);
    for (int d = 0; d < node->ndim; d++) {
        int da = d - (node->ndim - a->ndim), db = d - (node->ndim - b->ndim);
        if (da >= 0 && a->dims[da] != 1) astr.s[d] = (cl_int)a->strides[da];
        if (db >= 0 && b->dims[db] != 1) bstr.s[d] = (cl_int)b->strides[db];
    }
    if (!node->ndim) dims.s[0] = 1;
    s = oclnn_arg(l->kernel, &i, sizeof dims, &dims, node->op->name);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof astr, &astr, node->op->name);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof bstr, &bstr, node->op->name);
    return s;
}

static void binary_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *a = node->src[0], *b = node->src[1];
    oclnn_tensor *ga = NULL, *gb = NULL;
    switch (node->iparam[0]) {
    case 0: ga = grad; gb = grad; break;
    case 1: ga = grad; gb = (b->flags & T_NEEDS_GRAD) ? oclnn_scale(g, grad, -1.0f, 0.0f) : NULL; break;
    case 2:
        if (a->flags & T_NEEDS_GRAD) ga = oclnn_mul(g, grad, b);
        if (b->flags & T_NEEDS_GRAD) gb = oclnn_mul(g, grad, a);
        break;
    case 3:
        if (a->flags & T_NEEDS_GRAD) ga = oclnn_div(g, grad, b);
        if (b->flags & T_NEEDS_GRAD) gb = oclnn_scale(g, oclnn_div(g, oclnn_mul(g, grad, node), b), -1.0f, 0.0f);
        break;
    }
    if (ga && (a->flags & T_NEEDS_GRAD)) oclnn_grad_add(g, a, oclnn_sum_to(g, ga, a->ndim, a->dims));
    if (gb && (b->flags & T_NEEDS_GRAD)) oclnn_grad_add(g, b, oclnn_sum_to(g, gb, b->ndim, b->dims));
}

static const oclnn_op_def binary_def[4] = {
    {.name = "add",
     .prepare = binary_prepare,
     .backward = binary_backward,
     .inplace = true,
     .strided_inputs = 3u,
     .plain_add = true},
    {.name = "sub", .prepare = binary_prepare, .backward = binary_backward, .inplace = true, .strided_inputs = 3u},
    {.name = "mul", .prepare = binary_prepare, .backward = binary_backward, .inplace = true, .strided_inputs = 3u},
    {.name = "div", .prepare = binary_prepare, .backward = binary_backward, .inplace = true, .strided_inputs = 3u},
};

static oclnn_tensor *binary(oclnn_graph *g, int op, oclnn_tensor *a, oclnn_tensor *b)
{
    const oclnn_op_def *def = &binary_def[op];
    oclnn_tensor *srcs[2] = {a, b};
    if (!oclnn_graph_usable(g, def->name, 2, srcs)) return NULL;
    char as[128], bs[128];
    if (a->dtype != OCLNN_DTYPE_F32 || b->dtype != OCLNN_DTYPE_F32)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: operands must be f32 (got %s and %s)", def->name,
                                oclnn_dtype_name(a->dtype), oclnn_dtype_name(b->dtype));
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t dims[OCLNN_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        int64_t x = da >= 0 ? a->dims[da] : 1, y = db >= 0 ? b->dims[db] : 1;
        if (x != y && x != 1 && y != 1)
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: shapes %s and %s do not broadcast (dim %d: %lld vs %lld)",
                                    def->name, oclnn_tensor_shape_str(a, as, sizeof as),
                                    oclnn_tensor_shape_str(b, bs, sizeof bs), d, (long long)x, (long long)y);
        dims[d] = x == 1 ? y : x;
    }
    oclnn_tensor *t = oclnn_node_new(g, def, OCLNN_DTYPE_F32, nd, dims, 2, srcs);
    if (t) t->iparam[0] = op;
    return t;
}

oclnn_tensor *oclnn_add(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b) { return binary(g, 0, a, b); }
oclnn_tensor *oclnn_sub(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b) { return binary(g, 1, a, b); }
oclnn_tensor *oclnn_mul(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b) { return binary(g, 2, a, b); }
oclnn_tensor *oclnn_div(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b) { return binary(g, 3, a, b); }

/* ---- unary activations */

enum { ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_GELU, ACT_SCALE, ACT_GELU_TANH };

static oclnn_status unary_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    /* folded into its producer's epilogue by the planner: nothing to do */
    if (node->storage != node && node->storage == node->src[0]->storage) return OCLNN_OK;
    char opts[24];
    snprintf(opts, sizeof opts, "-DACT=%d", (int)node->iparam[0]);
    oclnn_launch *l;
    cl_uint i;
    oclnn_status s = launch_map(ctx, node, opts, "unary", 1, &node->src[0], &l, &i);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof(float), &node->fparam[0], node->op->name);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof(float), &node->fparam[1], node->op->name);
    return s;
}

static oclnn_status unary_backward_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    char opts[24];
    snprintf(opts, sizeof opts, "-DACT=%d", (int)node->iparam[0]);
    return launch_map(ctx, node, opts, "unary_backward", 2, node->src, NULL, NULL);
}

static const oclnn_op_def unary_backward_def = {.name = "activation_backward", .prepare = unary_backward_prepare,
                                                .inplace = true};

static void unary_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *x = node->src[0];
    if (node->iparam[0] == ACT_SCALE) {
        oclnn_grad_add(g, x, oclnn_scale(g, grad, node->fparam[0], 0.0f));
        return;
    }
    /* relu/sigmoid/tanh derivatives follow from the output; gelu needs x. */
    bool gelu = node->iparam[0] == ACT_GELU || node->iparam[0] == ACT_GELU_TANH;
    oclnn_tensor *srcs[2] = {grad, gelu ? x : node};
    oclnn_tensor *dx = oclnn_node_new(g, &unary_backward_def, OCLNN_DTYPE_F32, x->ndim, x->dims, 2, srcs);
    if (dx) dx->iparam[0] = node->iparam[0];
    oclnn_grad_add(g, x, dx);
}

static const oclnn_op_def unary_def[5] = {
    {.name = "relu", .prepare = unary_prepare, .backward = unary_backward, .inplace = true, .epilogue = EPI_RELU},
    {.name = "sigmoid", .prepare = unary_prepare, .backward = unary_backward, .inplace = true},
    {.name = "tanh", .prepare = unary_prepare, .backward = unary_backward, .inplace = true},
    {.name = "gelu", .prepare = unary_prepare, .backward = unary_backward, .inplace = true, .epilogue = EPI_GELU},
    {.name = "scale", .prepare = unary_prepare, .backward = unary_backward, .inplace = true},
};

/* PyTorch's gelu(approximate='tanh'), declared in oclnn/attention.h */
static const oclnn_op_def gelu_tanh_def = {
    .name = "gelu_tanh", .prepare = unary_prepare, .backward = unary_backward, .inplace = true};

static oclnn_tensor *unary(oclnn_graph *g, int act, oclnn_tensor *x, float alpha, float beta)
{
    const oclnn_op_def *def = act == ACT_GELU_TANH ? &gelu_tanh_def : &unary_def[act];
    if (!oclnn_graph_usable(g, def->name, 1, &x)) return NULL;
    if (x->dtype != OCLNN_DTYPE_F32)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: input must be f32, got %s", def->name,
                                oclnn_dtype_name(x->dtype));
    x = oclnn_contiguous(g, x);
    oclnn_tensor *t = oclnn_node_new(g, def, OCLNN_DTYPE_F32, x ? x->ndim : 0, x ? x->dims : NULL, 1, &x);
    if (t) {
        t->iparam[0] = act;
        t->fparam[0] = alpha;
        t->fparam[1] = beta;
    }
    return t;
}

oclnn_tensor *oclnn_relu(oclnn_graph *g, oclnn_tensor *x) { return unary(g, ACT_RELU, x, 0, 0); }
oclnn_tensor *oclnn_sigmoid(oclnn_graph *g, oclnn_tensor *x) { return unary(g, ACT_SIGMOID, x, 0, 0); }
oclnn_tensor *oclnn_tanh(oclnn_graph *g, oclnn_tensor *x) { return unary(g, ACT_TANH, x, 0, 0); }
oclnn_tensor *oclnn_gelu(oclnn_graph *g, oclnn_tensor *x) { return unary(g, ACT_GELU, x, 0, 0); }
oclnn_tensor *oclnn_gelu_tanh(oclnn_graph *g, oclnn_tensor *x) { return unary(g, ACT_GELU_TANH, x, 0, 0); }
oclnn_tensor *oclnn_scale(oclnn_graph *g, oclnn_tensor *x, float alpha, float beta)
{
    return unary(g, ACT_SCALE, x, alpha, beta);
}

/* ---- bias add */

static oclnn_status bias_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_launch *l;
    cl_uint i;
    oclnn_status s = launch_map(ctx, node, "", "bias_add", 2, node->src, &l, &i);
    cl_int channels = (cl_int)node->iparam[1], inner = (cl_int)node->iparam[2];
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof channels, &channels, node->op->name);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof inner, &inner, node->op->name);
    return s;
}

static void bias_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *x = node->src[0], *b = node->src[1];
    oclnn_grad_add(g, x, grad);
    if (!(b->flags & T_NEEDS_GRAD)) return;
    int64_t outer = oclnn_tensor_numel(node) / (node->iparam[1] * node->iparam[2]);
    int64_t split[3] = {outer, node->iparam[1], node->iparam[2]}, target[3] = {1, node->iparam[1], 1};
    oclnn_tensor *summed = oclnn_sum_to(g, oclnn_reshape(g, grad, 3, split), 3, target);
    oclnn_grad_add(g, b, oclnn_reshape(g, summed, b->ndim, b->dims));
}

static const oclnn_op_def bias_def = {.name = "bias_add", .prepare = bias_prepare, .backward = bias_backward,
                                      .inplace = true};

oclnn_tensor *oclnn_bias_add(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *b, int axis)
{
    oclnn_tensor *srcs[2] = {x, b};
    if (!oclnn_graph_usable(g, "bias_add", 2, srcs)) return NULL;
    if (axis < 0) axis += x->ndim;
    char xs[128], bs[128];
    if (axis < 0 || axis >= x->ndim || oclnn_tensor_numel(b) != x->dims[axis] || x->dtype != OCLNN_DTYPE_F32 ||
        b->dtype != OCLNN_DTYPE_F32)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "bias_add: bias %s does not fit axis %d of %s",
                                oclnn_tensor_shape_str(b, bs, sizeof bs), axis,
                                oclnn_tensor_shape_str(x, xs, sizeof xs));
    srcs[0] = oclnn_contiguous(g, x);
    srcs[1] = oclnn_contiguous(g, b);
    oclnn_tensor *t = oclnn_node_new(g, &bias_def, OCLNN_DTYPE_F32, x->ndim, x->dims, 2, srcs);
    if (t) {
        int64_t inner = 1;
        for (int d = axis + 1; d < x->ndim; d++) inner *= x->dims[d];
        t->iparam[1] = x->dims[axis];
        t->iparam[2] = inner;
    }
    return t;
}

/* ---- constants and gradient accumulation */

static oclnn_status fill_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_launch *l;
    cl_uint i;
    oclnn_status s = launch_map(ctx, node, "", "fill", 0, NULL, &l, &i);
    return s ? s : oclnn_arg(l->kernel, &i, sizeof(float), &node->fparam[0], node->op->name);
}

static const oclnn_op_def fill_def = {.name = "full_like", .prepare = fill_prepare};

oclnn_tensor *oclnn_full_like(oclnn_graph *g, oclnn_tensor *x, float value)
{
    if (!oclnn_graph_usable(g, "full_like", 1, &x)) return NULL;
    oclnn_tensor *t = oclnn_node_new(g, &fill_def, OCLNN_DTYPE_F32, x->ndim, x->dims, 0, NULL);
    if (t) t->fparam[0] = value;
    return t;
}

static oclnn_status accumulate_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    /* the producer adds into the accumulator itself (planner) */
    if (node->src[0]->accumulate) return OCLNN_OK;
    return launch_map(ctx, node, "", "accumulate", 1, &node->src[0], NULL, NULL);
}

static const oclnn_op_def accumulate_def = {
    .name = "grad_accumulate", .prepare = accumulate_prepare, .accumulator = true};

/* acc += x, where acc is a persistent tensor: the node's storage is acc. */
oclnn_tensor *oclnn_grad_accumulate_node(oclnn_graph *g, oclnn_tensor *acc, oclnn_tensor *x)
{
    if (!acc || !x) return NULL;
    x = oclnn_contiguous(g, x);
    oclnn_tensor *t = oclnn_node_new(g, &accumulate_def, OCLNN_DTYPE_F32, acc->ndim, acc->dims, 1, &x);
    if (t) {
        t->storage = acc;
        t->bytes = 0;
    }
    return t;
}

/* ---- sum_to: the reverse of broadcasting, as parallel axis sums (reduce.c) */

oclnn_tensor *oclnn_sum_to(oclnn_graph *g, oclnn_tensor *x, int ndim, const int64_t *dims)
{
    if (!oclnn_graph_usable(g, "sum_to", 1, &x)) return NULL;
    char xs[128];
    if (ndim > x->ndim || x->dtype != OCLNN_DTYPE_F32)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "sum_to: cannot reduce %s to rank %d",
                                oclnn_tensor_shape_str(x, xs, sizeof xs), ndim);
    bool same = ndim == x->ndim;
    for (int d = 0; d < ndim; d++) {
        int64_t src = x->dims[d + x->ndim - ndim];
        if (dims[d] != src && dims[d] != 1)
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "sum_to: %s does not broadcast from the target shape",
                                    oclnn_tensor_shape_str(x, xs, sizeof xs));
        same &= dims[d] == src;
    }
    if (same) return x;
    oclnn_tensor *y = x;
    for (int d = x->ndim - 1; d >= 0 && y; d--) {
        int dn = d - (x->ndim - ndim);
        if ((dn < 0 || dims[dn] == 1) && x->dims[d] != 1) y = oclnn_sum(g, y, d, 1);
    }
    return oclnn_reshape(g, y, ndim, dims);
}

/* ---- slice gradient */

static oclnn_status slice_backward_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_launch *l;
    cl_uint i;
    oclnn_status s = launch_map(ctx, node, "", "slice_backward", 1, &node->src[0], &l, &i);
    cl_int args[4] = {(cl_int)node->iparam[0], (cl_int)node->iparam[1], (cl_int)node->iparam[2],
                      (cl_int)node->iparam[3]};
    for (int k = 0; k < 4 && !s; k++) s = oclnn_arg(l->kernel, &i, sizeof args[k], &args[k], node->op->name);
    return s;
}

static const oclnn_op_def slice_backward_def = {.name = "slice_backward", .prepare = slice_backward_prepare};

oclnn_tensor *oclnn_slice_backward(oclnn_graph *g, oclnn_tensor *grad, const oclnn_tensor *view)
{
    const oclnn_tensor *src = view->src[0];
    int axis = (int)view->iparam[1];
    grad = oclnn_contiguous(g, grad);
    oclnn_tensor *t = oclnn_node_new(g, &slice_backward_def, OCLNN_DTYPE_F32, src->ndim, src->dims, 1, &grad);
    if (t) {
        int64_t inner = 1;
        for (int d = axis + 1; d < src->ndim; d++) inner *= src->dims[d];
        t->iparam[0] = src->dims[axis];
        t->iparam[1] = inner;
        t->iparam[2] = view->iparam[2];
        t->iparam[3] = view->dims[axis];
    }
    return t;
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_elementwise_ops[] = {&binary_def[0], &binary_def[1], &binary_def[2], &binary_def[3], &unary_def[0], &unary_def[1], &unary_def[2], &unary_def[3], &unary_def[4], &unary_backward_def, &bias_def, &fill_def, &accumulate_def, &slice_backward_def, &gelu_tanh_def, NULL};
