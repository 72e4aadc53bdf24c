/* Embedding lookup: y[ids..., :] = table[id, :] (F.embedding).
 *
 * Input contract: the table is read contiguous (the graph copies a view);
 * ids may be any strided view (read through their strides, no copy).
 * Backward: nothing flows to the ids. The table gets either a dense [V, D]
 * gradient (zeros, then one write per touched row) or, when it is a param
 * marked with oclnn_param_set_sparse_grad, one appended segment of its
 * row-sparse accumulator (graph/sparse_grad.h). Both come from the same
 * deterministic sort/segment kernels in cl/embedding.cl: no atomics, so a
 * run repeated gives the same bits. */
#include "graph/graph.h"
#include "graph/sparse_grad.h"
#include "oclnn/ops.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

extern const char oclnn_cl_embedding[];

enum { P_PAD, P_SPARSE, P_SEG_ARG, P_ROWSUM_ARG, P_PASSES }; /* iparam slots */

/* (buffer, offset) of the ids, then their dims and strides padded to 8
 * axes with leading 1s, and whether they are row-major contiguous (see
 * cl/embedding.cl). */
static oclnn_status arg_ids(cl_kernel k, cl_uint *i, const oclnn_tensor *ids, const char *op)
{
    cl_int8 dims, str;
    cl_int dense = 1;
    int pad = 8 - ids->ndim;
    int64_t step = 1;
    for (int d = ids->ndim - 1; d >= 0; d--) {
        if (ids->dims[d] > 1 && ids->strides[d] != step) dense = 0;
        step *= ids->dims[d];
    }
    for (int d = 0; d < 8; d++) {
        dims.s[d] = d < pad ? 1 : (cl_int)ids->dims[d - pad];
        str.s[d] = d < pad ? 0 : (cl_int)ids->strides[d - pad];
    }
    oclnn_status s = oclnn_arg_tensor(k, i, ids, op);
    if (!s) s = oclnn_arg(k, i, sizeof dims, &dims, op);
    if (!s) s = oclnn_arg(k, i, sizeof str, &str, op);
    return s ? s : oclnn_arg(k, i, sizeof dense, &dense, op);
}

static const char *ids_options(const oclnn_tensor *ids) { return ids->dtype == OCLNN_DTYPE_I64 ? "-DIDS_I64" : ""; }

/* Binds y, w, [scale,] ids and the sizes of a per-element kernel. */
static oclnn_status elem_kernel(oclnn_context *ctx, oclnn_tensor *node, const char *name, oclnn_tensor *y,
                                oclnn_tensor *w, oclnn_tensor *scale)
{
    const char *op = node->op->name;
    oclnn_tensor *table = node->src[0], *ids = node->src[1];
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_embedding, ids_options(ids), name, &l);
    cl_uint i = 0;
    int64_t sizes[3] = {oclnn_tensor_numel(node), table->dims[0], table->dims[1]};
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, y, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, w, op);
    if (!s && scale) s = oclnn_arg_tensor(l->kernel, &i, scale, op);
    if (!s) s = arg_ids(l->kernel, &i, ids, op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 3, sizes, op);
    return s ? s : oclnn_launch_1d_groups(ctx, l, (size_t)sizes[0], op);
}

static oclnn_status emb_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_tensor *table = node->src[0];
    if (node->fparam[0] <= 0) return elem_kernel(ctx, node, "emb_forward", node, table, NULL);
    /* max_norm: scales of the rows looked up, lookup, write-back. */
    const char *op = node->op->name;
    oclnn_tensor *ids = node->src[1], *scale = node->aux[0];
    oclnn_launch *l;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_embedding, ids_options(ids), "emb_renorm_scale", &l);
    cl_uint i = 0;
    int64_t sizes[3] = {oclnn_tensor_numel(ids), table->dims[0], table->dims[1]};
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, scale, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, table, op);
    if (!s) s = arg_ids(l->kernel, &i, ids, op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 3, sizes, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof(float), &node->fparam[0], op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof(float), &node->fparam[1], op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)sizes[0], op);
    if (!s) s = elem_kernel(ctx, node, "emb_forward_renorm", node, table, scale);
    return s ? s : elem_kernel(ctx, node, "emb_renorm_store", table, node, scale);
}

/* A full sparse accumulator is refused here, before any backward node of
 * this run has changed a gradient. */
static oclnn_status emb_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_status s = oclnn_sparse_grad_check_room(node->src[0], node->op->name);
    return s ? s : oclnn_launches_enqueue(ctx, node);
}

/* ---- backward: src = (dy, ids[, sparse table]); aux = keys, perm, sorted
 * keys, segment starts (+ count), the merge sort's other key and position
 * buffers and, dense only, the unique rows. */

static oclnn_status bwd_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *dy = node->src[0], *ids = node->src[1];
    bool sparse = node->iparam[P_SPARSE] != 0;
    oclnn_tensor *keys = node->aux[0], *perm = node->aux[1], *skey = node->aux[2], *starts = node->aux[3];
    oclnn_sparse_grad *sg = sparse ? node->src[2]->sparse_grad : NULL;
    oclnn_tensor *rows = sparse ? sg->rows : node->aux[6], *seg = sparse ? sg->seg : starts;
    oclnn_tensor *out = sparse ? sg->values : node;
    int64_t n = oclnn_tensor_numel(ids), D = dy->dims[dy->ndim - 1];
    int64_t V = sparse ? node->src[2]->dims[0] : node->dims[0];
    const char *opts = ids_options(ids);
    oclnn_launch *l;
    cl_uint i = 0;

    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_embedding, opts, "emb_keys", &l);
    int64_t a0[2] = {n, V};
    cl_int pad = (cl_int)node->iparam[P_PAD]; /* -1: none */
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, keys, op);
    if (!s) s = arg_ids(l->kernel, &i, ids, op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 2, a0, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof pad, &pad, op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)n, op);

    /* The merge passes: bound per pass in bwd_forward. */
    if (!s) s = oclnn_launch_kernel(ctx, node, oclnn_cl_embedding, opts, "emb_merge", &l);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)n, op);
    int passes = 1;
    while (((int64_t)1 << passes) < n) passes++;
    node->iparam[P_PASSES] = passes;

    if (!s) s = oclnn_launch_kernel(ctx, node, oclnn_cl_embedding, opts, "emb_segments", &l);
    i = 0;
    int64_t a2[4] = {0, n, V, sparse}; /* the segment index is set per run */
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, rows, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, starts, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, seg, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, skey, op);
    node->iparam[P_SEG_ARG] = i;
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 4, a2, op);
    if (!s) oclnn_launch_1d(l, 1);

    if (!s && !sparse) {
        s = oclnn_launch_kernel(ctx, node, oclnn_cl_embedding, opts, "emb_zero", &l);
        i = 0;
        int64_t total = oclnn_tensor_numel(node);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
        if (!s) s = oclnn_arg_counts(l->kernel, &i, 1, &total, op);
        if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)total, op);
    }

    if (!s) s = oclnn_launch_kernel(ctx, node, oclnn_cl_embedding, opts, "emb_rowsum", &l);
    i = 0;
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, out, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, dy, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, perm, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, starts, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, rows, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, seg, op);
    node->iparam[P_ROWSUM_ARG] = i;
    int64_t a4[4] = {0, n, D, sparse};
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 4, a4, op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)(n * D), op);
    return s;
}

/* Pass j merges runs of 2^j pairs; the passes alternate between the
 * (skey, perm) and the (aux 4, aux 5) buffers so the last writes (skey,
 * perm); the first reads the keys. */
static oclnn_status merge_passes(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *buf[2][2] = {{node->aux[2], node->aux[1]}, {node->aux[4], node->aux[5]}};
    int passes = (int)node->iparam[P_PASSES];
    int64_t n = oclnn_tensor_numel(node->src[1]);
    cl_kernel k = node->launch[1].kernel;
    oclnn_status s = OCLNN_OK;
    for (int j = 0; j < passes && !s; j++) {
        oclnn_tensor **dst = buf[(passes - 1 - j) & 1], **src = j ? buf[(passes - j) & 1] : NULL;
        int64_t a[3] = {n, (int64_t)1 << j, j == 0};
        cl_uint i = 0;
        s = oclnn_arg_tensor(k, &i, dst[0], op);
        if (!s) s = oclnn_arg_tensor(k, &i, dst[1], op);
        if (!s) s = oclnn_arg_tensor(k, &i, src ? src[0] : node->aux[0], op);
        if (!s) s = oclnn_arg_tensor(k, &i, src ? src[1] : node->aux[0], op);
        if (!s) s = oclnn_arg_counts(k, &i, 3, a, op);
        if (!s) s = oclnn_launch_enqueue(ctx, &node->launch[1], op);
    }
    return s;
}

static oclnn_status bwd_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_sparse_grad *sg = node->iparam[P_SPARSE] ? node->src[2]->sparse_grad : NULL;
    int64_t n = oclnn_tensor_numel(node->src[1]);
    oclnn_status s = OCLNN_OK;
    if (sg) {
        /* The embedding's forward checked the room already; this guards
         * the memory should that ever change. */
        if (sg->upper + n > sg->per_run * sg->max_runs)
            return oclnn_sparse_grad_check_room(node->src[2], op);
        cl_uint a = (cl_uint)node->iparam[P_SEG_ARG], b = (cl_uint)node->iparam[P_ROWSUM_ARG];
        int64_t segment = sg->nseg;
        s = oclnn_arg_counts(node->launch[2].kernel, &a, 1, &segment, op);
        if (!s) s = oclnn_arg_counts(node->launch[3].kernel, &b, 1, &segment, op);
    }
    for (int k = 0; k < node->nlaunch && !s; k++)
        s = k == 1 ? merge_passes(ctx, node) : oclnn_launch_enqueue(ctx, &node->launch[k], op);
    if (!s && sg) {
        sg->nseg++;
        sg->upper += n;
    }
    return s;
}

static const oclnn_op_def bwd_def = {
    .name = "embedding_backward", .prepare = bwd_prepare, .forward = bwd_forward, .strided_inputs = 2u};

static void emb_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *table = node->src[0], *ids = node->src[1];
    if (!(table->flags & T_NEEDS_GRAD)) return;
    bool sparse = table->sparse_grad != NULL;
    int64_t n = oclnn_tensor_numel(ids);
    oclnn_sparse_grad *sg = sparse ? oclnn_sparse_grad_reserve(g, table, n, "embedding") : NULL;
    if (sparse && !sg) return;
    oclnn_tensor *srcs[3] = {grads[0], ids, table};
    oclnn_tensor *t = sparse ? oclnn_node_new(g, &bwd_def, OCLNN_DTYPE_F32, 2, sg->values->dims, 3, srcs)
                             : oclnn_node_new(g, &bwd_def, OCLNN_DTYPE_F32, 2, table->dims, 2, srcs);
    if (!t) return;
    t->iparam[P_PAD] = node->iparam[P_PAD];
    t->iparam[P_SPARSE] = sparse;
    int64_t dn[1] = {n}, ds[1] = {n + 2};
    oclnn_aux_new(t, OCLNN_DTYPE_I32, 1, dn);
    oclnn_aux_new(t, OCLNN_DTYPE_I32, 1, dn);
    oclnn_aux_new(t, OCLNN_DTYPE_I32, 1, dn);
    oclnn_aux_new(t, OCLNN_DTYPE_I32, 1, ds);
    oclnn_aux_new(t, OCLNN_DTYPE_I32, 1, dn);
    oclnn_aux_new(t, OCLNN_DTYPE_I32, 1, dn);
    if (!sparse) {
        oclnn_aux_new(t, OCLNN_DTYPE_I32, 1, dn);
        oclnn_grad_add(g, table, t);
        return;
    }
    /* The node writes the persistent accumulator, like grad_accumulate. */
    t->storage = sg->values;
    t->bytes = 0;
}

static const oclnn_op_def emb_def = {.name = "embedding",
                                     .prepare = emb_prepare,
                                     .forward = emb_forward,
                                     .backward = emb_backward,
                                     .strided_inputs = 2u};

oclnn_tensor *oclnn_embedding_ex(oclnn_graph *g, oclnn_tensor *table, oclnn_tensor *ids, int64_t padding_idx,
                                 const oclnn_embedding_options *options)
{
    oclnn_tensor *srcs[2] = {table, ids};
    if (!oclnn_graph_usable(g, "embedding", 2, srcs)) return NULL;
    char ts[128], is[128];
    oclnn_tensor_shape_str(table, ts, sizeof ts);
    oclnn_tensor_shape_str(ids, is, sizeof is);
    if (table->dtype != OCLNN_DTYPE_F32 || table->ndim != 2)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "embedding: table must be a 2-D f32 [num_embeddings, dim], got "
                                "%s %s (ids %s %s)", oclnn_dtype_name(table->dtype), ts,
                                oclnn_dtype_name(ids->dtype), is);
    if (ids->dtype != OCLNN_DTYPE_I32 && ids->dtype != OCLNN_DTYPE_I64)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "embedding: ids must be i32 or i64, got %s %s (table %s)",
                                oclnn_dtype_name(ids->dtype), is, ts);
    if (ids->ndim + 1 > OCLNN_MAX_DIMS)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "embedding: ids %s have %d dims, at most %d allowed", is,
                                ids->ndim, OCLNN_MAX_DIMS - 1);
    if (padding_idx != -1 && (padding_idx < 0 || padding_idx >= table->dims[0]))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG,
                                "embedding: padding_idx %lld is outside [0, %lld) for table %s (-1: none)",
                                (long long)padding_idx, (long long)table->dims[0], ts);
    /* Kernels index with int: the furthest id the view reads must fit. */
    int64_t last = 0;
    for (int d = 0; d < ids->ndim; d++)
        if (ids->dims[d] > 0) last += (ids->dims[d] - 1) * ids->strides[d];
    if (last + oclnn_tensor_elem_offset(ids) > INT_MAX)
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "embedding: ids %s span more than 2^31 elements", is);
    float max_norm = options ? options->max_norm : 0.0f, p = options ? options->norm_type : 0.0f;
    if (!(max_norm >= 0) || !(p >= 0) || isnan(p))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG,
                                "embedding: max_norm %g and norm_type %g must be >= 0 (0: no max_norm, norm 2)",
                                (double)max_norm, (double)p);
    /* The rows are renormalised in the table's own memory: a copy (of a
     * view) or a computed table would be renormalised where no one sees it. */
    if (max_norm > 0 && (!(table->storage->flags & (T_PARAM | T_INPUT)) || !oclnn_tensor_is_contiguous(table)))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "embedding: max_norm renormalises the table in place, so "
                                "the table %s must be a param or input (or a contiguous slice of one)", ts);
    int64_t dims[OCLNN_MAX_DIMS];
    for (int d = 0; d < ids->ndim; d++) dims[d] = ids->dims[d];
    dims[ids->ndim] = table->dims[1];
    oclnn_tensor *t = oclnn_node_new(g, &emb_def, OCLNN_DTYPE_F32, ids->ndim + 1, dims, 2, srcs);
    if (!t) return NULL;
    t->iparam[P_PAD] = padding_idx;
    if (max_norm > 0) {
        t->fparam[0] = max_norm;
        t->fparam[1] = isinf(p) ? 0.0f : p > 0 ? p : 2.0f; /* the kernel's 0 is infinity */
        oclnn_aux_new(t, OCLNN_DTYPE_F32, 1, (const int64_t[]){oclnn_tensor_numel(ids)});
    }
    return t;
}

oclnn_tensor *oclnn_embedding(oclnn_graph *g, oclnn_tensor *table, oclnn_tensor *ids, int64_t padding_idx)
{
    return oclnn_embedding_ex(g, table, ids, padding_idx, NULL);
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_embedding_ops[] = {&emb_def, &bwd_def, NULL};
