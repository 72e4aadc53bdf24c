/* Dtype casts between f32, i32 and i64, and same-dtype copies (PyTorch's .to(dtype); the
 * conversion rules are in cl/cast.cl).
 *
 * Input contract: any strided view. A contiguous input (at any offset)
 * takes cast_flat; transposed, permuted and sliced views take cast_strided,
 * which walks the view's shape and strides, so no copy is made first.
 * Gradient: only an f32 -> f32 cast passes one (unchanged); integer
 * outputs never need a gradient, and nothing flows back into integers. */
#include "graph/graph.h"
#include "oclnn/ops.h"

#include <stdio.h>
#include <string.h>

extern const char oclnn_cl_cast[];

static bool dtype_known(oclnn_dtype d)
{
    return d == OCLNN_DTYPE_F32 || d == OCLNN_DTYPE_I32 || d == OCLNN_DTYPE_I64;
}

static oclnn_status cast_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *x = node->src[0];
    bool flat = oclnn_tensor_is_contiguous(x);
    char opts[64];
    if (flat)
        snprintf(opts, sizeof opts, "-DSRC_DT=%d -DDST_DT=%d", (int)x->dtype, (int)node->dtype);
    else
        snprintf(opts, sizeof opts, "-DSRC_DT=%d -DDST_DT=%d -DNDIM=%d", (int)x->dtype, (int)node->dtype, x->ndim);
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_cast, opts, flat ? "cast_flat" : "cast_strided", &l);
    if (s) return s;
    cl_uint i = 0;
    cl_int n = (cl_int)oclnn_tensor_numel(node);
    s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof n, &n, op);
    if (!s && !flat) {
        cl_int8 dims, str;
        memset(&dims, 0, sizeof dims);
        memset(&str, 0, sizeof str);
        for (int d = 0; d < x->ndim; d++) {
            dims.s[d] = (cl_int)x->dims[d];
            str.s[d] = (cl_int)x->strides[d];
        }
        s = oclnn_arg(l->kernel, &i, sizeof dims, &dims, op);
        if (!s) s = oclnn_arg(l->kernel, &i, sizeof str, &str, op);
    }
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)n, op);
    return s;
}

static void cast_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *x = node->src[0];
    if (node->dtype == OCLNN_DTYPE_F32 && x->dtype == OCLNN_DTYPE_F32) oclnn_grad_add(g, x, grad);
}

static const oclnn_op_def cast_def = {
    .name = "cast", .prepare = cast_prepare, .backward = cast_backward, .strided_inputs = 1u};
/* A same-dtype cast under its own name, so that profiles and errors say
 * "copy" for the copies that make strided views contiguous. */
static const oclnn_op_def copy_def = {
    .name = "copy", .prepare = cast_prepare, .backward = cast_backward, .strided_inputs = 1u};

static oclnn_tensor *cast_node(oclnn_graph *g, const oclnn_op_def *def, oclnn_tensor *x, oclnn_dtype dtype)
{
    if (!oclnn_graph_usable(g, def->name, 1, &x)) return NULL;
    char xs[128];
    if (!dtype_known(dtype))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: unknown dtype %d for %s %s (use f32, i32 or i64)",
                                def->name, (int)dtype, oclnn_dtype_name(x->dtype),
                                oclnn_tensor_shape_str(x, xs, sizeof xs));
    /* int indices suffice: a view reads within its storage, which the
     * graph keeps below 2^31 elements. */
    oclnn_tensor *t = oclnn_node_new(g, def, dtype, x->ndim, x->dims, 1, &x);
    /* Integers carry no gradient, in either direction. */
    if (t && (dtype != OCLNN_DTYPE_F32 || x->dtype != OCLNN_DTYPE_F32)) t->flags &= ~(unsigned)T_NEEDS_GRAD;
    return t;
}

oclnn_tensor *oclnn_cast(oclnn_graph *g, oclnn_tensor *x, oclnn_dtype dtype)
{
    return cast_node(g, &cast_def, x, dtype);
}

oclnn_tensor *oclnn_copy(oclnn_graph *g, oclnn_tensor *x)
{
    return cast_node(g, &copy_def, x, x ? x->dtype : OCLNN_DTYPE_F32);
}

oclnn_tensor *oclnn_contiguous(oclnn_graph *g, oclnn_tensor *x)
{
    if (!oclnn_graph_usable(g, "contiguous", 1, &x)) return NULL;
    return oclnn_tensor_is_contiguous(x) ? x : oclnn_copy(g, x);
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_cast_ops[] = {&cast_def, &copy_def, NULL};
