/* Internal GEMM entry point for ops that build on CLBlast (matmul, linear,
 * conv). Row-major semantics: C = alpha * op(A) op(B) + beta * C, batched
 * with element strides between consecutive matrices. */
#ifndef OCLNN_OPS_GEMM_H
#define OCLNN_OPS_GEMM_H

#include "graph/graph.h"

typedef struct oclnn_gemm_args {
    bool trans_a, trans_b;
    size_t m, n, k;
    float alpha, beta;
    cl_mem a, b, c;
    size_t a_off, b_off, c_off;   /* elements */
    size_t lda, ldb, ldc;         /* row-major leading dimensions */
    size_t a_stride, b_stride, c_stride, batch;
} oclnn_gemm_args;

/* Makes sure CLBlast has compiled its kernels for this context and the
 * persistent temp buffer is large enough for this call. Call at prepare. */
oclnn_status oclnn_gemm_prepare(oclnn_context *ctx, const oclnn_gemm_args *g, const char *op);
oclnn_status oclnn_gemm_enqueue(oclnn_context *ctx, const oclnn_gemm_args *g, const char *op);

#endif
