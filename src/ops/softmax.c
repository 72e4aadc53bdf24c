/* Softmax and log-softmax over the last axis (max-subtracted), with
 * dedicated backward kernels that read the forward output. A node keeps
 * iparam: 0 rows, 1 cols, 2 log mode (see cl/softmax.cl). */
#include "graph/graph.h"
#include "oclnn/ops.h"

#include <limits.h>

extern const char oclnn_cl_softmax[];

/* from reduce.c */
oclnn_status oclnn_reduce_group_size(oclnn_context *ctx, cl_kernel k, size_t bytes_per_item, const char *op,
                                     size_t *out);
void oclnn_reduce_tile(oclnn_context *ctx, size_t wg, size_t n_par, size_t n_red, size_t par_first, int red_dim,
                       size_t *lx, size_t *ly);

/* Creates `kernel`, binds the tensors, then rows, cols, log mode and
 * `nlocal` local float arrays sized for the chosen (cols, rows) tile. */
static oclnn_status launch_rows(oclnn_context *ctx, oclnn_tensor *node, const char *kernel, int ntensors,
                                oclnn_tensor *const *tensors, int nlocal)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_softmax, "", kernel, &l);
    size_t wg = 1, lx, ly;
    if (!s) s = oclnn_reduce_group_size(ctx, l->kernel, (size_t)nlocal * sizeof(float), op, &wg);
    if (s) return s;
    size_t rows = (size_t)node->iparam[0], cols = (size_t)node->iparam[1];
    oclnn_reduce_tile(ctx, wg, rows, cols, 1, 0, &lx, &ly);
    cl_uint i = 0;
    for (int k = 0; k < ntensors && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, tensors[k], op);
    cl_int args[3] = {(cl_int)rows, (cl_int)cols, (cl_int)node->iparam[2]};
    for (int k = 0; k < 3 && !s; k++) s = oclnn_arg(l->kernel, &i, sizeof args[k], &args[k], op);
    for (int k = 0; k < nlocal && !s; k++) s = oclnn_arg(l->kernel, &i, lx * ly * sizeof(float), NULL, op);
    l->dims = 2;
    l->local[0] = lx;
    l->local[1] = ly;
    l->global[0] = rows && cols ? lx : 0; /* an empty tensor launches nothing */
    l->global[1] = (rows + ly - 1) / ly * ly;
    return s;
}

/* CPU devices: one row per work item (see cl/softmax.cl); the tensors, then
 * rows, cols and log mode. */
static oclnn_status launch_cpu_rows(oclnn_context *ctx, oclnn_tensor *node, const char *kernel, int ntensors,
                                    oclnn_tensor *const *tensors)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_softmax, "", kernel, &l);
    cl_uint i = 0;
    for (int k = 0; k < ntensors && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, tensors[k], op);
    cl_int args[3] = {(cl_int)node->iparam[0], (cl_int)node->iparam[1], (cl_int)node->iparam[2]};
    for (int k = 0; k < 3 && !s; k++) s = oclnn_arg(l->kernel, &i, sizeof args[k], &args[k], op);
    oclnn_launch_1d(l, args[0] && args[1] ? (size_t)args[0] : 0);
    return s;
}

static oclnn_status softmax_backward_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_tensor *t[3] = {node, node->src[0], node->src[1]};
    if (ctx->info.is_cpu) return launch_cpu_rows(ctx, node, "softmax_rows_backward", 3, t);
    return launch_rows(ctx, node, "softmax_backward", 3, t, 1);
}

static const oclnn_op_def softmax_backward_def = {.name = "softmax_backward", .prepare = softmax_backward_prepare,
                                                  .inplace = true};

static oclnn_status softmax_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_tensor *t[2] = {node, node->src[0]};
    if (ctx->info.is_cpu) return launch_cpu_rows(ctx, node, "softmax_rows_forward", 2, t);
    return launch_rows(ctx, node, "softmax_forward", 2, t, 2);
}

static void softmax_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *x = node->src[0];
    oclnn_tensor *srcs[2] = {oclnn_contiguous(g, grad), node};
    if (!srcs[0]) return;
    oclnn_tensor *dx = oclnn_node_new(g, &softmax_backward_def, OCLNN_DTYPE_F32, x->ndim, x->dims, 2, srcs);
    if (!dx) return;
    for (int k = 0; k < 3; k++) dx->iparam[k] = node->iparam[k];
    oclnn_grad_add(g, x, dx);
}

/* In-place is safe: each work-group reads its rows completely (the max and
 * sum pass) before the barrier that precedes any write; the CPU kernels
 * write an element only after its last read of the input. */
static const oclnn_op_def softmax_def = {
    .name = "softmax", .prepare = softmax_prepare, .backward = softmax_backward, .inplace = true};
static const oclnn_op_def log_softmax_def = {
    .name = "log_softmax", .prepare = softmax_prepare, .backward = softmax_backward, .inplace = true};

static oclnn_tensor *softmax_node(oclnn_graph *g, const oclnn_op_def *def, oclnn_tensor *x)
{
    if (!oclnn_graph_usable(g, def->name, 1, &x)) return NULL;
    char xs[128];
    oclnn_tensor_shape_str(x, xs, sizeof xs);
    if (x->ndim < 1 || x->dtype != OCLNN_DTYPE_F32)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: needs an f32 tensor with at least 1 dim, got %s %s",
                                def->name, oclnn_dtype_name(x->dtype), xs);
    int64_t n = oclnn_tensor_numel(x), cols = x->dims[x->ndim - 1];
    if (n > INT_MAX)
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: %s has more than 2^31 elements", def->name, xs);
    oclnn_tensor *xc = oclnn_contiguous(g, x);
    if (!xc) return NULL;
    oclnn_tensor *t = oclnn_node_new(g, def, OCLNN_DTYPE_F32, x->ndim, x->dims, 1, &xc);
    if (!t) return NULL;
    t->iparam[0] = cols ? n / cols : 0;
    t->iparam[1] = cols;
    t->iparam[2] = def == &log_softmax_def;
    return t;
}

oclnn_tensor *oclnn_softmax(oclnn_graph *g, oclnn_tensor *x) { return softmax_node(g, &softmax_def, x); }
oclnn_tensor *oclnn_log_softmax(oclnn_graph *g, oclnn_tensor *x) { return softmax_node(g, &log_softmax_def, x); }

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_softmax_ops[] = {&softmax_def, &log_softmax_def, &softmax_backward_def, NULL};
