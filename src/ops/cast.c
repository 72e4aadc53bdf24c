/* Dtype casts between f32, i32 and i64, and same-dtype copies (PyTorch's .to(dtype); the
 * conversion rules are in cl/cast.cl).
 *
 * Input contract: any strided view. A contiguous input (at any offset)
 * takes cast_flat; transposed, permuted and sliced views take cast_rows,
 * which walks the view's shape and strides row by row (after merging the
 * dims that lie one after another in memory), so no copy is made first.
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

/* The view's index map with unit dims dropped and dims that are laid out
 * one after the other in memory merged (a slice of rows of a matrix is
 * one dim, a permute keeping the last two dims together three); returns
 * the rank, at least 1. */
static int collapse_view(const oclnn_tensor *x, int64_t *dims, int64_t *str)
{
    int n = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (x->dims[d] == 1) continue;
        if (n && str[n - 1] == x->strides[d] * x->dims[d]) {
            dims[n - 1] *= x->dims[d];
            str[n - 1] = x->strides[d];
            continue;
        }
        dims[n] = x->dims[d];
        str[n++] = x->strides[d];
    }
    if (!n) dims[n] = 1, str[n++] = 1;
    return n;
}

static oclnn_status cast_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *x = node->src[0];
    int64_t dims[OCLNN_MAX_DIMS], str[OCLNN_MAX_DIMS];
    int nd = collapse_view(x, dims, str);
    bool flat = oclnn_tensor_is_contiguous(x) || (nd == 1 && str[0] == 1);
    char opts[64];
    snprintf(opts, sizeof opts, "-DSRC_DT=%d -DDST_DT=%d", (int)x->dtype, (int)node->dtype);
    oclnn_launch *l;
    /* rows of unit stride are copied along, transposes (rows consecutive
     * in x) go by 8 x 8 blocks, anything else element by element */
    enum { FLAT, ROWS, BLOCKS, STRIDED } how = flat ? FLAT
                                             : str[nd - 1] == 1                  ? ROWS
                                             : nd >= 2 && str[nd - 2] == 1       ? BLOCKS
                                                                                 : STRIDED;
    static const char *const kernels[] = {"cast_flat", "cast_rows", "cast_blocks", "cast_strided"};
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_cast, opts, kernels[how], &l);
    if (s) return s;
    cl_uint i = 0;
    int64_t n = oclnn_tensor_numel(node), len = dims[nd - 1], rows = len ? n / len : 0;
    s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
    if (flat) {
        if (!s) s = oclnn_arg_count(l->kernel, &i, n, op);
        return s ? s : oclnn_launch_1d_groups(ctx, l, (size_t)n, op);
    }
    int64_t per_row = how == ROWS ? (len + 7) / 8 : len; /* items per row: strips of 8 for cast_rows */
    if (how == BLOCKS) {
        int64_t counts[3] = {len, rows, str[nd - 1]};
        if (!s) s = oclnn_arg_counts(l->kernel, &i, 3, counts, op);
    } else {
        cl_uint pm, ps;
        oclnn_magic_div(per_row, &pm, &ps);
        if (!s) s = oclnn_arg_count(l->kernel, &i, rows * per_row, op);
        if (!s) s = oclnn_arg(l->kernel, &i, sizeof pm, &pm, op);
        if (!s) s = oclnn_arg(l->kernel, &i, sizeof ps, &ps, op);
        int64_t counts[3] = {per_row, len, str[nd - 1]};
        if (!s) s = oclnn_arg_counts(l->kernel, &i, 2, counts + (how == ROWS ? 0 : 1), op);
    }
    /* the outer dims innermost first (OUTER_ARGS in cl/cast.cl) */
    cl_int8 d8, st8;
    cl_uint8 m8, s8;
    memset(&d8, 0, sizeof d8);
    memset(&st8, 0, sizeof st8);
    memset(&m8, 0, sizeof m8);
    memset(&s8, 0, sizeof s8);
    for (int k = 0; k < 8; k++) {
        int d = nd - 2 - k; /* unused steps divide by 1 and add nothing */
        d8.s[k] = d >= 0 ? (cl_int)dims[d] : 1;
        st8.s[k] = d >= 0 ? (cl_int)str[d] : 0;
        oclnn_magic_div(d8.s[k], &m8.s[k], &s8.s[k]);
    }
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof d8, &d8, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof m8, &m8, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof s8, &s8, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof st8, &st8, op);
    if (s) return s;
    if (how == BLOCKS) {
        size_t run = (size_t)dims[nd - 2];
        l->dims = 3;
        l->local[0] = l->local[1] = l->local[2] = 1; /* each item is a whole block */
        l->global[0] = (run + 7) / 8;
        l->global[1] = ((size_t)len + 7) / 8;
        l->global[2] = run ? (size_t)rows / run : 0;
        return OCLNN_OK;
    }
    return oclnn_launch_1d_groups(ctx, l, (size_t)(rows * per_row), op);
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
