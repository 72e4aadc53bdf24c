/* Dropout with a counter-based mask: element i of run r is kept when
 * Philox(seed, stream r, i) >= p, so the mask needs no storage. The
 * forward node and its gradient node are the same op with the same seed:
 * both read the graph's run counter, which advances only after a whole
 * run has been enqueued, so the backward recomputes the forward's mask. */
#include "graph/graph.h"
#include "oclnn/layers.h"

extern const char oclnn_cl_dropout[];

enum { L_DROP, L_COPY };
#define STREAM_ARG 7 /* index of stream_lo in the dropout kernel's arguments */

static oclnn_status dropout_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *x = node->src[0];
    uint64_t seed = (uint64_t)node->iparam[0];
    float p = node->fparam[0], scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    cl_int n = (cl_int)oclnn_tensor_numel(node);
    cl_uint words[4] = {(cl_uint)seed, (cl_uint)(seed >> 32), 0, 0};
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_dropout, "", "dropout", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof n, &n, op);
    for (int k = 0; k < 4 && !s; k++) s = oclnn_arg(l->kernel, &i, sizeof words[k], &words[k], op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof p, &p, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof scale, &scale, op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, ((size_t)n + 3) / 4, op);
    if (s) return s;

    i = 0;
    s = oclnn_launch_kernel(ctx, node, oclnn_cl_dropout, "", "dropout_copy", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof n, &n, op);
    return s ? s : oclnn_launch_1d_groups(ctx, l, (size_t)n, op);
}

static oclnn_status dropout_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_graph *g = node->graph;
    if (!g->training || node->fparam[0] == 0.0f) return oclnn_launch_enqueue(ctx, &node->launch[L_COPY], op);
    cl_uint stream[2] = {(cl_uint)g->run_count, (cl_uint)(g->run_count >> 32)};
    cl_uint i = STREAM_ARG;
    cl_kernel k = node->launch[L_DROP].kernel;
    oclnn_status s = oclnn_arg(k, &i, sizeof stream[0], &stream[0], op);
    if (!s) s = oclnn_arg(k, &i, sizeof stream[1], &stream[1], op);
    return s ? s : oclnn_launch_enqueue(ctx, &node->launch[L_DROP], op);
}

static oclnn_tensor *dropout_node(oclnn_graph *g, oclnn_tensor *x, float p, bool seeded, uint64_t seed);

static void dropout_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *x = node->src[0];
    oclnn_grad_add(g, x, dropout_node(g, grad, node->fparam[0], true, (uint64_t)node->iparam[0]));
}

static const oclnn_op_def dropout_def = {.name = "dropout", .prepare = dropout_prepare, .forward = dropout_forward,
                                         .backward = dropout_backward, .inplace = true};

static oclnn_tensor *dropout_node(oclnn_graph *g, oclnn_tensor *x, float p, bool seeded, uint64_t seed)
{
    if (!oclnn_graph_usable(g, "dropout", 1, &x)) return NULL;
    char xs[128];
    if (x->dtype != OCLNN_DTYPE_F32)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "dropout: input must be f32, got %s %s",
                                oclnn_dtype_name(x->dtype), oclnn_tensor_shape_str(x, xs, sizeof xs));
    if (!(p >= 0.0f && p <= 1.0f))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "dropout: probability %g is not in [0, 1]", (double)p);
    if (oclnn_tensor_numel(x) > 0x7fffffff)
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "dropout: input %s has more than 2^31 elements",
                                oclnn_tensor_shape_str(x, xs, sizeof xs));
    x = oclnn_contiguous(g, x);
    oclnn_tensor *t = oclnn_node_new(g, &dropout_def, OCLNN_DTYPE_F32, x ? x->ndim : 0, x ? x->dims : NULL, 1, &x);
    if (!t) return NULL;
    t->iparam[0] = (int64_t)(seeded ? seed : OCLNN_DROPOUT_SEED + (uint64_t)t->id);
    t->fparam[0] = p;
    return t;
}

oclnn_tensor *oclnn_dropout(oclnn_graph *g, oclnn_tensor *x, float p) { return dropout_node(g, x, p, false, 0); }

oclnn_tensor *oclnn_dropout_seeded(oclnn_graph *g, oclnn_tensor *x, float p, uint64_t seed)
{
    return dropout_node(g, x, p, true, seed);
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_dropout_ops[] = {&dropout_def, NULL};
