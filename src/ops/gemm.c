/* GEMM family on CLBlast: matmul (2-D and batched) and linear.
 *
 * oclnn tensors are row-major; CLBlast's column-major path is its native
 * one, so C = op(A) op(B) is issued as the column-major C^T = op(B)^T op(A)^T
 * with the operands swapped: no transposes are materialised. Batches go to
 * SgemmStridedBatched (SgemmBatched allocates and blocks on every call);
 * single GEMMs pass a persistent temp buffer for CLBlast's indirect path. */
#include "ops/gemm.h"
#include "oclnn/ops.h"

#include <clblast_c.h>
#include <stdio.h>

static oclnn_status clblast_check(CLBlastStatusCode code, const char *call, const char *op)
{
    if (code == CLBlastSuccess) return OCLNN_OK;
    if (code > -1024) return oclnn_cl_check((int)code, call, op);
    return oclnn_fail(OCLNN_ERR_OPENCL, "%s failed with CLBlast status %d in op '%s'", call, (int)code, op);
}

/* Column-major view of the row-major request (operands swapped). */
typedef struct colmajor {
    CLBlastTranspose ta, tb;
    size_t m, n;
} colmajor;

static colmajor to_colmajor(const oclnn_gemm_args *g)
{
    colmajor c = {g->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo,
                  g->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo, g->n, g->m};
    return c;
}

oclnn_status oclnn_gemm_prepare(oclnn_context *ctx, const oclnn_gemm_args *g, const char *op)
{
    if (!ctx->gemm_warm) {
        /* CLBlast compiles its kernels on first use; doing it here keeps
         * that cost out of the first timed run. */
        cl_mem tiny;
        oclnn_status s = oclnn_buffer_create(ctx, 4 * 16, "gemm warm-up", &tiny);
        if (s) return s;
        float zero = 0;
        clEnqueueFillBuffer(ctx->queue, tiny, &zero, 4, 0, 64, 0, NULL, NULL);
        s = clblast_check(CLBlastSgemm(CLBlastLayoutColMajor, CLBlastTransposeNo, CLBlastTransposeNo, 4, 4, 4, 1.0f,
                                       tiny, 0, 4, tiny, 0, 4, 0.0f, tiny, 0, 4, &ctx->queue, NULL),
                          "CLBlastSgemm (warm-up)", op);
        if (!s) s = clblast_check(CLBlastSgemmStridedBatched(CLBlastLayoutColMajor, CLBlastTransposeNo,
                                                             CLBlastTransposeNo, 2, 2, 2, 1.0f, tiny, 0, 2, 4, tiny,
                                                             0, 2, 4, 0.0f, tiny, 0, 2, 4, 2, &ctx->queue, NULL),
                                  "CLBlastSgemmStridedBatched (warm-up)", op);
        clFinish(ctx->queue);
        clReleaseMemObject(tiny);
        if (s) return s;
        ctx->gemm_warm = 1;
    }
    if (g->batch > 1) return OCLNN_OK;
    colmajor c = to_colmajor(g);
    size_t need = 0;
    oclnn_status s = clblast_check(CLBlastSGemmTempBufferSize(CLBlastLayoutColMajor, c.ta, c.tb, c.m, c.n, g->k,
                                                              g->b_off, g->ldb, g->a_off, g->lda, g->c_off, g->ldc,
                                                              &ctx->queue, &need),
                                   "CLBlastSGemmTempBufferSize", op);
    if (s || need <= ctx->gemm_temp_bytes) return s;
    if (ctx->gemm_temp) clReleaseMemObject(ctx->gemm_temp);
    ctx->gemm_temp = NULL;
    ctx->gemm_temp_bytes = 0;
    s = oclnn_buffer_create(ctx, need, op, &ctx->gemm_temp);
    if (!s) ctx->gemm_temp_bytes = need;
    return s;
}

/* CLBlast rejects k == 0 (single and batched); the product is empty, so
 * C = beta * C: zeros for beta 0, untouched for beta 1. */
static oclnn_status empty_product(oclnn_context *ctx, const oclnn_gemm_args *g, const char *op)
{
    if (g->beta == 1.0f) return OCLNN_OK;
    if (g->beta != 0.0f)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "op '%s': GEMM with k = 0 and beta %g is not supported", op,
                          (double)g->beta);
    float zero = 0;
    bool packed = g->ldc == g->n && (g->batch == 1 || g->c_stride == g->m * g->n);
    size_t rows = packed ? 1 : g->m, batches = packed ? 1 : g->batch;
    size_t span = packed ? g->batch * g->m * g->n : g->n;
    for (size_t b = 0; b < batches; b++)
        for (size_t r = 0; r < rows; r++) {
            size_t off = g->c_off + b * g->c_stride + r * g->ldc;
            cl_int err = clEnqueueFillBuffer(ctx->queue, g->c, &zero, 4, off * 4, span * 4, 0, NULL, NULL);
            if (err) return oclnn_cl_check(err, "clEnqueueFillBuffer", op);
        }
    return OCLNN_OK;
}

oclnn_status oclnn_gemm_enqueue(oclnn_context *ctx, const oclnn_gemm_args *g, const char *op)
{
    if (g->m == 0 || g->n == 0 || g->batch == 0) return OCLNN_OK;
    if (g->k == 0) return empty_product(ctx, g, op);
    colmajor c = to_colmajor(g);
    CLBlastStatusCode code;
    if (g->batch > 1) {
        code = CLBlastSgemmStridedBatched(CLBlastLayoutColMajor, c.ta, c.tb, c.m, c.n, g->k, g->alpha, g->b, g->b_off,
                                          g->ldb, g->b_stride, g->a, g->a_off, g->lda, g->a_stride, g->beta, g->c,
                                          g->c_off, g->ldc, g->c_stride, g->batch, &ctx->queue, NULL);
        return clblast_check(code, "CLBlastSgemmStridedBatched", op);
    }
    if (ctx->gemm_temp)
        code = CLBlastSgemmWithTempBuffer(CLBlastLayoutColMajor, c.ta, c.tb, c.m, c.n, g->k, g->alpha, g->b, g->b_off,
                                          g->ldb, g->a, g->a_off, g->lda, g->beta, g->c, g->c_off, g->ldc, &ctx->queue,
                                          NULL, ctx->gemm_temp);
    else
        code = CLBlastSgemm(CLBlastLayoutColMajor, c.ta, c.tb, c.m, c.n, g->k, g->alpha, g->b, g->b_off, g->ldb, g->a,
                            g->a_off, g->lda, g->beta, g->c, g->c_off, g->ldc, &ctx->queue, NULL);
    return clblast_check(code, "CLBlastSgemm", op);
}

void oclnn_gemm_context_release(oclnn_context *ctx)
{
    if (ctx->gemm_temp) clReleaseMemObject(ctx->gemm_temp);
    ctx->gemm_temp = NULL;
    ctx->gemm_temp_bytes = 0;
    /* CLBlast caches programs per context; drop them before the context dies. */
    if (ctx->gemm_warm) CLBlastClearCache();
}

/* ---- matmul node: iparam[0..1] = transpose flags, op_data unused */

static void matmul_args(const oclnn_tensor *node, oclnn_gemm_args *g)
{
    const oclnn_tensor *a = node->src[0], *b = node->src[1];
    g->trans_a = node->iparam[0];
    g->trans_b = node->iparam[1];
    int ra = a->ndim, rb = b->ndim;
    size_t a_rows = (size_t)a->dims[ra - 2], a_cols = (size_t)a->dims[ra - 1];
    size_t b_rows = (size_t)b->dims[rb - 2], b_cols = (size_t)b->dims[rb - 1];
    g->m = g->trans_a ? a_cols : a_rows;
    g->k = g->trans_a ? a_rows : a_cols;
    g->n = g->trans_b ? b_rows : b_cols;
    g->alpha = 1.0f;
    g->beta = 0.0f;
    g->a = a->buffer;
    g->b = b->buffer;
    g->c = node->buffer;
    g->a_off = (size_t)oclnn_tensor_elem_offset(a);
    g->b_off = (size_t)oclnn_tensor_elem_offset(b);
    g->c_off = (size_t)oclnn_tensor_elem_offset(node);
    g->lda = a_cols;
    g->ldb = b_cols;
    g->ldc = g->n;
    size_t mn = g->m * g->n;
    g->batch = mn ? (size_t)oclnn_tensor_numel(node) / mn : 1;
    g->a_stride = a_rows * a_cols;
    g->b_stride = b_rows * b_cols;
    g->c_stride = g->m * g->n;
}

static oclnn_status matmul_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_gemm_args g;
    matmul_args(node, &g);
    return oclnn_gemm_prepare(ctx, &g, node->op->name);
}

static oclnn_status matmul_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_gemm_args g;
    matmul_args(node, &g);
    return oclnn_gemm_enqueue(ctx, &g, node->op->name);
}

static void matmul_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *grad)
{
    oclnn_tensor *a = node->src[0], *b = node->src[1];
    int ta = (int)node->iparam[0], tb = (int)node->iparam[1];
    /* C = op(A) op(B): dop(A) = dC op(B)^T, dop(B) = op(A)^T dC. */
    if (a->flags & T_NEEDS_GRAD)
        oclnn_grad_add(g, a, ta ? oclnn_matmul_t(g, b, tb, grad, 1) : oclnn_matmul_t(g, grad, 0, b, !tb));
    if (b->flags & T_NEEDS_GRAD)
        oclnn_grad_add(g, b, tb ? oclnn_matmul_t(g, grad, 1, a, ta) : oclnn_matmul_t(g, a, !ta, grad, 0));
}

static const oclnn_op_def matmul_def = {
    .name = "matmul", .prepare = matmul_prepare, .forward = matmul_forward, .backward = matmul_backward};

oclnn_tensor *oclnn_matmul_t(oclnn_graph *g, oclnn_tensor *a, int transpose_a, oclnn_tensor *b, int transpose_b)
{
    oclnn_tensor *srcs[2] = {a, b};
    if (!oclnn_graph_usable(g, "matmul", 2, srcs)) return NULL;
    char as[128], bs[128];
    oclnn_tensor_shape_str(a, as, sizeof as);
    oclnn_tensor_shape_str(b, bs, sizeof bs);
    if (a->dtype != OCLNN_DTYPE_F32 || b->dtype != OCLNN_DTYPE_F32 || a->ndim < 2 || b->ndim < 2)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "matmul: needs f32 operands with at least 2 dims, got %s and %s",
                                as, bs);
    /* A batch of A times one shared B: fold the batch into M (one GEMM). */
    if (a->ndim > 2 && b->ndim == 2 && !transpose_a) {
        int64_t rows = oclnn_tensor_numel(a) / a->dims[a->ndim - 1];
        int64_t flat[2] = {rows, a->dims[a->ndim - 1]};
        oclnn_tensor *y = oclnn_matmul_t(g, oclnn_reshape(g, a, 2, flat), 0, b, transpose_b);
        if (!y) return NULL;
        int64_t dims[OCLNN_MAX_DIMS];
        for (int d = 0; d < a->ndim - 1; d++) dims[d] = a->dims[d];
        dims[a->ndim - 1] = y->dims[1];
        return oclnn_reshape(g, y, a->ndim, dims);
    }
    int64_t m = a->dims[a->ndim - (transpose_a ? 1 : 2)], ka = a->dims[a->ndim - (transpose_a ? 2 : 1)];
    int64_t kb = b->dims[b->ndim - (transpose_b ? 1 : 2)], n = b->dims[b->ndim - (transpose_b ? 2 : 1)];
    if (ka != kb)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "matmul: inner dims differ: %s%s x %s%s (%lld vs %lld)", as,
                                transpose_a ? "^T" : "", bs, transpose_b ? "^T" : "", (long long)ka, (long long)kb);
    if (a->ndim != b->ndim)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "matmul: batch ranks differ: %s x %s", as, bs);
    int64_t dims[OCLNN_MAX_DIMS];
    for (int d = 0; d < a->ndim - 2; d++) {
        if (a->dims[d] != b->dims[d])
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "matmul: batch dims differ: %s x %s", as, bs);
        dims[d] = a->dims[d];
    }
    dims[a->ndim - 2] = m;
    dims[a->ndim - 1] = n;
    srcs[0] = oclnn_contiguous(g, a);
    srcs[1] = oclnn_contiguous(g, b);
    oclnn_tensor *t = oclnn_node_new(g, &matmul_def, OCLNN_DTYPE_F32, a->ndim, dims, 2, srcs);
    if (t) {
        t->iparam[0] = transpose_a != 0;
        t->iparam[1] = transpose_b != 0;
    }
    return t;
}

oclnn_tensor *oclnn_matmul(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b) { return oclnn_matmul_t(g, a, 0, b, 0); }

oclnn_tensor *oclnn_linear(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *weight, oclnn_tensor *bias)
{
    oclnn_tensor *srcs[2] = {x, weight};
    if (!oclnn_graph_usable(g, "linear", 2, srcs)) return NULL;
    char xs[128], ws[128];
    if (weight->ndim != 2 || x->ndim < 1 || x->dims[x->ndim - 1] != weight->dims[1])
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "linear: input %s does not fit weight %s ([out, in])",
                                oclnn_tensor_shape_str(x, xs, sizeof xs), oclnn_tensor_shape_str(weight, ws, sizeof ws));
    oclnn_tensor *x2 = x;
    if (x->ndim != 2) {
        int64_t flat[2] = {-1, x->dims[x->ndim - 1]};
        x2 = oclnn_reshape(g, x, 2, flat);
    }
    oclnn_tensor *y = oclnn_matmul_t(g, x2, 0, weight, 1);
    if (bias) y = oclnn_bias_add(g, y, bias, 1);
    if (x->ndim != 2 && y) {
        int64_t dims[OCLNN_MAX_DIMS];
        for (int d = 0; d < x->ndim - 1; d++) dims[d] = x->dims[d];
        dims[x->ndim - 1] = weight->dims[0];
        y = oclnn_reshape(g, y, x->ndim, dims);
    }
    return y;
}
