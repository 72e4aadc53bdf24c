/* Similarity and search: L2 normalisation, pairwise cosine / squared
 * euclidean / dot scores (one GEMM plus norms), top-k per row (private
 * sorted lists for small k, radix selection for large k). The k-NN index
 * and search built on them are in src/nn/knn_index.c.
 *
 * Input contract: every op here reads contiguous sources (the graph copies
 * views). Kernels in cl/similarity.cl. */
#include "ops/similarity.h"

#include "core/context.h"
#include "graph/graph.h"
#include "ops/gemm.h"
#include "oclnn/embeddings.h"
#include "oclnn/ops.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const char oclnn_cl_similarity[];

int oclnn_topk_force_parts = 0;
int oclnn_topk_force_wg = 0;

/* ---- l2_normalize: node = y, aux[0] = row norms; iparam 0 = rows, 1 = D */

/* l2n_forward's last argument (rows per group) and its grid: W work items
 * per row, about 4 columns each; a few rows per group so that groups stay
 * many times the compute units without tiny groups. */
static oclnn_status l2n_geometry(oclnn_context *ctx, oclnn_launch *l, cl_uint *i, int64_t rows, int64_t D,
                                 const char *op)
{
    int64_t cu = ctx->info.compute_units ? ctx->info.compute_units : 1;
    size_t wg = 0, W = 1;
    cl_int err = clGetKernelWorkGroupInfo(l->kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    if (err) return oclnn_cl_check(err, "clGetKernelWorkGroupInfo", op);
    while (W < 64 && (int64_t)W * 4 < D && W * 2 <= wg && W * 2 <= ctx->info.max_work_group_size) W *= 2;
    int64_t per = rows / (16 * cu);
    per = per < 1 ? 1 : per > 64 ? 64 : per;
    l->dims = 1;
    l->local[0] = W;
    l->global[0] = (size_t)((rows + per - 1) / per) * W;
    return oclnn_arg_counts(l->kernel, i, 1, &per, op);
}

oclnn_status oclnn_l2_normalize_rows(oclnn_context *ctx, oclnn_tensor *t)
{
    const char *op = "l2_normalize_rows";
    int64_t rows = t->dims[0], D = t->dims[1], sz[2] = {rows, D};
    float eps = 1e-12f;
    int zero = 0;
    cl_program prog;
    cl_int err = CL_SUCCESS;
    oclnn_launch l = {0};
    cl_mem nrm = NULL;
    cl_uint i = 0;
    oclnn_status s = oclnn_program_get(ctx, oclnn_cl_similarity, "", op, &prog);
    if (!s) l.kernel = clCreateKernel(prog, "l2n_forward", &err);
    if (!s && err) s = oclnn_cl_check(err, "clCreateKernel", op);
    if (!s) nrm = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, (size_t)rows * sizeof(float), NULL, &err);
    if (!s && err) s = oclnn_cl_check(err, "clCreateBuffer", op);
    /* y = x: every work item scales only the columns it read */
    if (!s) s = oclnn_arg(l.kernel, &i, sizeof(cl_mem), &t->buffer, op);
    if (!s) s = oclnn_arg(l.kernel, &i, sizeof zero, &zero, op);
    if (!s) s = oclnn_arg(l.kernel, &i, sizeof(cl_mem), &nrm, op);
    if (!s) s = oclnn_arg(l.kernel, &i, sizeof zero, &zero, op);
    if (!s) s = oclnn_arg(l.kernel, &i, sizeof(cl_mem), &t->buffer, op);
    if (!s) s = oclnn_arg(l.kernel, &i, sizeof zero, &zero, op);
    if (!s) s = oclnn_arg_counts(l.kernel, &i, 2, sz, op);
    if (!s) s = oclnn_arg(l.kernel, &i, sizeof eps, &eps, op);
    if (!s) s = l2n_geometry(ctx, &l, &i, rows, D, op);
    if (!s) s = oclnn_launch_enqueue(ctx, &l, op);
    if (!s) s = oclnn_cl_check(clFinish(ctx->queue), "clFinish", op);
    if (nrm) clReleaseMemObject(nrm);
    if (l.kernel) clReleaseKernel(l.kernel);
    return s;
}

static oclnn_status l2n_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    float eps = node->fparam[0];
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_similarity, "", "l2n_forward", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[0], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 2, node->iparam, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof eps, &eps, op);
    return s ? s : l2n_geometry(ctx, l, &i, node->iparam[0], node->iparam[1], op);
}

/* src = (dy, y, norms) */
static oclnn_status l2n_bwd_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    float eps = node->fparam[0];
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_similarity, "", "l2n_backward", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    for (int a = 0; a < 3 && !s; a++) s = oclnn_arg_tensor(l->kernel, &i, node->src[a], op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 2, node->iparam, op);
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof eps, &eps, op);
    return s ? s : oclnn_launch_1d_groups(ctx, l, (size_t)node->iparam[0], op);
}

static const oclnn_op_def l2n_bwd_def = {.name = "l2_normalize_backward", .prepare = l2n_bwd_prepare};

static void l2n_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *x = node->src[0];
    if (!(x->flags & T_NEEDS_GRAD)) return;
    oclnn_tensor *srcs[3] = {grads[0], node, node->aux[0]};
    oclnn_tensor *t = oclnn_node_new(g, &l2n_bwd_def, OCLNN_DTYPE_F32, x->ndim, x->dims, 3, srcs);
    if (!t) return;
    t->iparam[0] = node->iparam[0];
    t->iparam[1] = node->iparam[1];
    t->fparam[0] = node->fparam[0];
    oclnn_grad_add(g, x, t);
}

static const oclnn_op_def l2n_def = {.name = "l2_normalize", .prepare = l2n_prepare, .backward = l2n_backward};

oclnn_tensor *oclnn_l2_normalize(oclnn_graph *g, oclnn_tensor *x, float eps)
{
    if (!oclnn_graph_usable(g, "l2_normalize", 1, &x)) return NULL;
    char xs[128];
    oclnn_tensor_shape_str(x, xs, sizeof xs);
    if (x->dtype != OCLNN_DTYPE_F32 || x->ndim < 1)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "l2_normalize: needs f32 with at least 1 dim, got %s %s",
                                oclnn_dtype_name(x->dtype), xs);
    if (!(eps > 0)) eps = 1e-12f;
    int64_t D = x->dims[x->ndim - 1], n = oclnn_tensor_numel(x);
    oclnn_tensor *t = oclnn_node_new(g, &l2n_def, OCLNN_DTYPE_F32, x->ndim, x->dims, 1, &x);
    if (!t) return NULL;
    int64_t rows = D ? n / D : 0;
    t->iparam[0] = rows;
    t->iparam[1] = D;
    t->fparam[0] = eps;
    if (!oclnn_aux_new(t, OCLNN_DTYPE_F32, 1, &rows)) return NULL;
    return t;
}

/* ---- squared euclidean distance: node = d [M, N], src = (a, b),
 * aux = |a_i|^2 [M], |b_j|^2 [N]; op_data = the GEMM plan. */

static void sqd_gemm_args(const oclnn_tensor *node, oclnn_gemm_args *g)
{
    const oclnn_tensor *a = node->src[0], *b = node->src[1];
    memset(g, 0, sizeof *g);
    g->trans_b = true;
    g->m = (size_t)a->dims[0];
    g->n = (size_t)b->dims[0];
    g->k = (size_t)a->dims[1];
    g->alpha = -2.0f;
    g->a = a->buffer;
    g->b = b->buffer;
    g->c = node->buffer;
    g->a_off = (size_t)oclnn_tensor_elem_offset(a);
    g->b_off = (size_t)oclnn_tensor_elem_offset(b);
    g->c_off = (size_t)oclnn_tensor_elem_offset(node);
    g->lda = g->ldb = g->k;
    g->ldc = g->n;
    g->batch = 1;
    g->a_stride = g->m * g->k;
    g->b_stride = g->n * g->k;
    g->c_stride = g->m * g->n;
}

static oclnn_status sqd_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_tensor *a = node->src[0], *b = node->src[1];
    int64_t M = a->dims[0], N = b->dims[0], D = a->dims[1];
    oclnn_status s = OCLNN_OK;
    for (int w = 0; w < 2 && !s; w++) {
        oclnn_launch *l;
        cl_uint i = 0;
        int64_t sz[2] = {w ? N : M, D};
        s = oclnn_launch_kernel(ctx, node, oclnn_cl_similarity, "", "row_sqnorm", &l);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[w], op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[w], op);
        if (!s) s = oclnn_arg_counts(l->kernel, &i, 2, sz, op);
        if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)sz[0], op);
    }
    oclnn_launch *l;
    cl_uint i = 0;
    int64_t sz[2] = {M, N};
    if (!s) s = oclnn_launch_kernel(ctx, node, oclnn_cl_similarity, "", "sqdist_combine", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[0], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[1], op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 2, sz, op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)(M * N), op);
    if (s) return s;
    oclnn_gemm_plan *plan = oclnn_gemm_node_plan(node);
    if (!plan) return OCLNN_ERR_OUT_OF_MEMORY; /* message set */
    oclnn_gemm_args g;
    sqd_gemm_args(node, &g);
    return oclnn_gemm_prepare(ctx, OCLNN_GEMM_AUTO, &g, op, plan);
}

static oclnn_status sqd_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_gemm_args g;
    sqd_gemm_args(node, &g);
    oclnn_status s = oclnn_launch_enqueue(ctx, &node->launch[0], op);
    if (!s) s = oclnn_launch_enqueue(ctx, &node->launch[1], op);
    if (!s && g.m && g.n) s = oclnn_gemm_enqueue(ctx, node->op_data, &g, op);
    if (!s) s = oclnn_launch_enqueue(ctx, &node->launch[2], op);
    return s;
}

/* d_ij = |a_i|^2 + |b_j|^2 - 2 <a_i, b_j>:
 *   da = 2 (a * rowsum(G) - G b),  db = 2 (b * colsum(G)^T - G^T a). */
static void sqd_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *G = grads[0], *a = node->src[0], *b = node->src[1];
    if (a->flags & T_NEEDS_GRAD) {
        oclnn_tensor *rs = oclnn_sum(g, G, 1, 1);
        oclnn_grad_add(g, a, oclnn_scale(g, oclnn_sub(g, oclnn_mul(g, a, rs), oclnn_matmul(g, G, b)), 2.0f, 0.0f));
    }
    if (b->flags & T_NEEDS_GRAD) {
        oclnn_tensor *cs = oclnn_reshape(g, oclnn_sum(g, G, 0, 0), 2, (const int64_t[]){b->dims[0], 1});
        oclnn_grad_add(g, b,
                       oclnn_scale(g, oclnn_sub(g, oclnn_mul(g, b, cs), oclnn_matmul_t(g, G, 1, a, 0)), 2.0f, 0.0f));
    }
}

static const oclnn_op_def sqd_def = {.name = "sq_euclidean",
                                     .prepare = sqd_prepare,
                                     .forward = sqd_forward,
                                     .backward = sqd_backward,
                                     .release = oclnn_gemm_node_release};

int oclnn_metric_largest(oclnn_metric metric)
{
    switch (metric) {
    case OCLNN_METRIC_COSINE:
    case OCLNN_METRIC_DOT: return 1;
    case OCLNN_METRIC_SQ_EUCLIDEAN: return 0;
    }
    return -1;
}

const char *oclnn_metric_name(oclnn_metric metric)
{
    switch (metric) {
    case OCLNN_METRIC_COSINE: return "cosine";
    case OCLNN_METRIC_DOT: return "dot";
    case OCLNN_METRIC_SQ_EUCLIDEAN: return "sq_euclidean";
    }
    return "unknown";
}

oclnn_tensor *oclnn_pairwise(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b, oclnn_metric metric)
{
    oclnn_tensor *srcs[2] = {a, b};
    if (!oclnn_graph_usable(g, "pairwise", 2, srcs)) return NULL;
    char as[128], bs[128];
    oclnn_tensor_shape_str(a, as, sizeof as);
    oclnn_tensor_shape_str(b, bs, sizeof bs);
    if (oclnn_metric_largest(metric) < 0)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "pairwise: unknown metric %d (a %s, b %s)", (int)metric, as,
                                bs);
    if (a->dtype != OCLNN_DTYPE_F32 || b->dtype != OCLNN_DTYPE_F32 || a->ndim != 2 || b->ndim != 2 ||
        a->dims[1] != b->dims[1])
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE,
                                "pairwise %s: needs f32 a [M, D] and b [N, D] with the same D, got %s %s and %s %s",
                                oclnn_metric_name(metric), oclnn_dtype_name(a->dtype), as, oclnn_dtype_name(b->dtype),
                                bs);
    switch (metric) {
    case OCLNN_METRIC_DOT: return oclnn_matmul_t(g, a, 0, b, 1);
    case OCLNN_METRIC_COSINE:
        return oclnn_matmul_t(g, oclnn_l2_normalize(g, a, 0), 0, oclnn_l2_normalize(g, b, 0), 1);
    case OCLNN_METRIC_SQ_EUCLIDEAN: break;
    }
    if (!oclnn_tensor_is_contiguous(a)) a = oclnn_contiguous(g, a);
    if (!oclnn_tensor_is_contiguous(b)) b = oclnn_contiguous(g, b);
    srcs[0] = a;
    srcs[1] = b;
    oclnn_tensor *t = oclnn_node_new(g, &sqd_def, OCLNN_DTYPE_F32, 2, (const int64_t[]){a->dims[0], b->dims[0]}, 2, srcs);
    if (!t) return NULL;
    if (!oclnn_aux_new(t, OCLNN_DTYPE_F32, 1, &a->dims[0]) || !oclnn_aux_new(t, OCLNN_DTYPE_F32, 1, &b->dims[0]))
        return NULL;
    return t;
}

/* ---- top-k: node = values [..., k], aux[0] = indices; with parts > 1
 * aux[1], aux[2] = candidate values / indices [rows, parts * k].
 * iparam: rows, N, k, largest, parts, S (local slots). */
enum { P_ROWS, P_N, P_K, P_LARGEST, P_PARTS, P_S };

/* topk_small below this k (cl/similarity.cl TOPK_SMALL_MAX), else the
 * radix selection. */
enum { TOPK_SMALL_MAX = 32, TOPK_SMALL_WG = 64 };

/* One selection pass over rows of length n split into `parts`: writes k
 * candidates per (row, part) to ov / oi; ii (or NULL) maps positions to
 * columns (the merge pass). */
static oclnn_status topk_launch(oclnn_context *ctx, oclnn_tensor *node, oclnn_tensor *ov, oclnn_tensor *oi,
                                oclnn_tensor *iv, oclnn_tensor *ii, int64_t n, int64_t parts)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    int64_t k = node->iparam[P_K];
    int small = k <= TOPK_SMALL_MAX;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_similarity, "", small ? "topk_small" : "topk_select", &l);
    int64_t sz[7] = {ii != NULL, node->iparam[P_ROWS], n, parts, k, node->iparam[P_S], node->iparam[P_LARGEST]};
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, ov, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, oi, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, iv, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, ii ? ii : oi, op); /* unread without has_idx */
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 7, sz, op);
    if (s) return s;
    size_t wg = 0, lx = small ? TOPK_SMALL_WG : 128;
    cl_int err = clGetKernelWorkGroupInfo(l->kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    if (err) return oclnn_cl_check(err, "clGetKernelWorkGroupInfo", op);
    /* small: each work item's stretch long against k, or inserting into
     * the lists and merging them outweighs the scan; work items of a
     * group run one after another on a CPU, where only the groups run in
     * parallel, so there the stretches are much longer */
    int64_t stretch = (ctx->info.is_cpu ? 1024 : 4) * k;
    if (small && oclnn_topk_force_wg > 0) lx = (size_t)oclnn_topk_force_wg, stretch = 0;
    while (lx > 1 && (lx > wg || lx > ctx->info.max_work_group_size || (small && (int64_t)lx * stretch > n / parts)))
        lx /= 2;
    size_t S = (size_t)node->iparam[P_S];
    if (small) s = oclnn_arg(l->kernel, &i, lx * (size_t)k * sizeof(cl_ulong), NULL, op);
    if (!small && !s) s = oclnn_arg(l->kernel, &i, S * sizeof(cl_uint), NULL, op);
    if (!small && !s) s = oclnn_arg(l->kernel, &i, S * sizeof(cl_int), NULL, op);
    if (s) return s;
    l->dims = 1;
    l->local[0] = lx;
    l->global[0] = (size_t)(node->iparam[P_ROWS] * parts) * lx;
    return OCLNN_OK;
}

static oclnn_status topk_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    int64_t N = node->iparam[P_N], parts = node->iparam[P_PARTS], S = node->iparam[P_S];
    size_t need = (size_t)S * 8 + 3 * 256 * 4 + 16;
    if (need > ctx->info.local_mem_bytes)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "%s: k = %lld needs %zu bytes of local memory, the device has %llu",
                          node->op->name, (long long)node->iparam[P_K], need,
                          (unsigned long long)ctx->info.local_mem_bytes);
    oclnn_tensor *scores = node->src[0];
    if (parts == 1) return topk_launch(ctx, node, node, node->aux[0], scores, NULL, N, 1);
    oclnn_status s = topk_launch(ctx, node, node->aux[1], node->aux[2], scores, NULL, N, parts);
    return s ? s : topk_launch(ctx, node, node, node->aux[0], node->aux[1], node->aux[2], parts * node->iparam[P_K], 1);
}

/* src = (dy [rows, k], indices); node = dscores [rows, N] */
static oclnn_status topk_bwd_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    int64_t total = oclnn_tensor_numel(node);
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_similarity, "", "topk_grad_zero", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 1, &total, op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)total, op);
    i = 0;
    int64_t sz[3] = {node->iparam[P_ROWS], node->iparam[P_N], node->iparam[P_K]};
    if (!s) s = oclnn_launch_kernel(ctx, node, oclnn_cl_similarity, "", "topk_grad_scatter", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[1], op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 3, sz, op);
    return s ? s : oclnn_launch_1d_groups(ctx, l, (size_t)(sz[0] * sz[2]), op);
}

static const oclnn_op_def topk_bwd_def = {.name = "topk_backward", .prepare = topk_bwd_prepare};

static void topk_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *x = node->src[0];
    if (!(x->flags & T_NEEDS_GRAD)) return;
    oclnn_tensor *srcs[2] = {grads[0], node->aux[0]};
    oclnn_tensor *t = oclnn_node_new(g, &topk_bwd_def, OCLNN_DTYPE_F32, x->ndim, x->dims, 2, srcs);
    if (!t) return;
    memcpy(t->iparam, node->iparam, sizeof t->iparam);
    oclnn_grad_add(g, x, t);
}

static const oclnn_op_def topk_def = {.name = "topk", .prepare = topk_prepare, .backward = topk_backward};

/* Parts per row: enough work-groups to fill the device when there are few
 * rows, each part at least max(k, 2048) long. */
static int64_t topk_parts(const oclnn_context *ctx, int64_t rows, int64_t N, int64_t k)
{
    int64_t most = N / k; /* every part holds at least k elements */
    if (most > 256) most = 256;
    if ((int64_t)INT_MAX / k < most) most = INT_MAX / k;
    if (oclnn_topk_force_parts > 0) return oclnn_topk_force_parts < most ? oclnn_topk_force_parts : most;
    int64_t cu = ctx->info.compute_units ? ctx->info.compute_units : 1;
    int64_t want = (4 * cu + rows - 1) / (rows ? rows : 1);
    int64_t by_len = N / (k > 2048 ? k : 2048);
    int64_t p = want < by_len ? want : by_len;
    if (p > most) p = most;
    return p < 1 ? 1 : p;
}

oclnn_tensor *oclnn_topk(oclnn_graph *g, oclnn_tensor *scores, int64_t k, int largest, oclnn_tensor **indices)
{
    if (indices) *indices = NULL;
    if (!oclnn_graph_usable(g, "topk", 1, &scores)) return NULL;
    char ss[128];
    oclnn_tensor_shape_str(scores, ss, sizeof ss);
    if (!indices) return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "topk: indices is NULL (scores %s)", ss);
    if (scores->dtype != OCLNN_DTYPE_F32 || scores->ndim < 1)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "topk: scores must be f32 with at least 1 dim, got %s %s",
                                oclnn_dtype_name(scores->dtype), ss);
    int64_t N = scores->dims[scores->ndim - 1];
    if (k < 1 || k > N || k > OCLNN_TOPK_MAX)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "topk: k = %lld must be in [1, min(N, %d)] for scores %s",
                                (long long)k, OCLNN_TOPK_MAX, ss);
    int64_t rows = oclnn_tensor_numel(scores) / N;
    int64_t dims[OCLNN_MAX_DIMS];
    memcpy(dims, scores->dims, sizeof(int64_t) * (size_t)scores->ndim);
    dims[scores->ndim - 1] = k;
    oclnn_tensor *t = oclnn_node_new(g, &topk_def, OCLNN_DTYPE_F32, scores->ndim, dims, 1, &scores);
    if (!t) return NULL;
    int64_t parts = topk_parts(g->ctx, rows, N, k), S = 2;
    while (S < k) S *= 2;
    t->iparam[P_ROWS] = rows;
    t->iparam[P_N] = N;
    t->iparam[P_K] = k;
    t->iparam[P_LARGEST] = largest != 0;
    t->iparam[P_PARTS] = parts;
    t->iparam[P_S] = S;
    oclnn_tensor *idx = oclnn_aux_new(t, OCLNN_DTYPE_I32, scores->ndim, dims);
    if (!idx) return NULL;
    if (parts > 1) {
        int64_t cd[2] = {rows, parts * k};
        if (!oclnn_aux_new(t, OCLNN_DTYPE_F32, 2, cd) || !oclnn_aux_new(t, OCLNN_DTYPE_I32, 2, cd)) return NULL;
    }
    *indices = idx;
    return t;
}

/* ---- fused k-NN scan (dot): node = values [m, k], aux[0] = indices,
 * aux[1], aux[2] = the parts' candidates [m, parts * k]; src = (queries
 * [m, D], table [n, D]); iparam as topk's (rows = m, N = n) plus D. */
enum { P_D = P_S + 1 };

static oclnn_status kscan_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    int64_t *ip = node->iparam, parts = ip[P_PARTS];
    int64_t sz[6] = {ip[P_ROWS], ip[P_N], ip[P_D], ip[P_K], parts, ip[P_LARGEST]};
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_similarity, "", "knn_scan_dot", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[1], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[2], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[1], op);
    if (!s) s = oclnn_arg_counts(l->kernel, &i, 6, sz, op);
    if (s) return s;
    l->dims = 1;
    l->local[0] = 1; /* parts are few: one work item each, every one a group of its own */
    l->global[0] = (size_t)parts;
    return topk_launch(ctx, node, node, node->aux[0], node->aux[1], node->aux[2], parts * ip[P_K], 1);
}

static const oclnn_op_def kscan_def = {.name = "knn_scan", .prepare = kscan_prepare};

oclnn_tensor *oclnn_knn_scan_dot(oclnn_graph *g, oclnn_tensor *q, oclnn_tensor *t, int64_t k, int largest,
                                 oclnn_tensor **indices)
{
    *indices = NULL;
    oclnn_tensor *srcs[2] = {q, t};
    if (!oclnn_graph_usable(g, "knn_scan", 2, srcs)) return NULL;
    int64_t m = q->dims[0], n = t->dims[0], D = t->dims[1];
    if (q->ndim != 2 || t->ndim != 2 || q->dims[1] != D || m < 1 || m > OCLNN_KNN_SCAN_MAX_M || k < 1 ||
        k > TOPK_SMALL_MAX || k > n)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "knn_scan: needs q [m <= %d, D], t [n, D], 1 <= k <= min(n, %d)",
                                OCLNN_KNN_SCAN_MAX_M, TOPK_SMALL_MAX);
    if (!oclnn_tensor_is_contiguous(q)) q = oclnn_contiguous(g, q);
    if (!oclnn_tensor_is_contiguous(t)) t = oclnn_contiguous(g, t);
    srcs[0] = q;
    srcs[1] = t;
    int64_t dims[2] = {m, k};
    oclnn_tensor *node = oclnn_node_new(g, &kscan_def, OCLNN_DTYPE_F32, 2, dims, 2, srcs);
    if (!node) return NULL;
    /* parts: several per compute unit, each at least k rows */
    int64_t cu = g->ctx->info.compute_units ? g->ctx->info.compute_units : 1, parts = 8 * cu;
    if (parts > n / k) parts = n / k;
    if (parts < 1) parts = 1;
    int64_t *ip = node->iparam;
    ip[P_ROWS] = m;
    ip[P_N] = n;
    ip[P_K] = k;
    ip[P_LARGEST] = largest != 0;
    ip[P_PARTS] = parts;
    ip[P_S] = 0; /* topk_small needs no slots */
    ip[P_D] = D;
    int64_t cd[2] = {m, parts * k};
    oclnn_tensor *idx = oclnn_aux_new(node, OCLNN_DTYPE_I32, 2, dims);
    if (!idx || !oclnn_aux_new(node, OCLNN_DTYPE_F32, 2, cd) || !oclnn_aux_new(node, OCLNN_DTYPE_I32, 2, cd))
        return NULL;
    *indices = idx;
    return node;
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_similarity_ops[] = {&l2n_def, &l2n_bwd_def, &sqd_def, &topk_def, &topk_bwd_def, &kscan_def, NULL};

/* ---- the order of top-k on the host (k-NN merges, tests) */

int oclnn_topk_before(float a, int64_t ia, float b, int64_t ib, int largest)
{
    int na = isnan(a), nb = isnan(b);
    if (na || nb) return na != nb ? nb : ia < ib;
    if (a != b) return largest ? a > b : a < b;
    return ia < ib;
}
