/* Internal GEMM engine for the ops that multiply matrices (matmul, linear,
 * conv). Row-major semantics, per batch entry b < batch:
 *   C_b = act(alpha * op(A_b) op(B_b) + beta * C_b + bias_b)
 * with element strides between consecutive matrices.
 *
 * Two engines: CLBlast, and our own register-tiled kernels (cl/gemm.cl),
 * which are several times faster than untuned CLBlast on CPUs (PoCL) and
 * alone support the fused epilogue (bias, relu, wrapped C columns). A plan
 * is made at prepare time (it creates the kernel, or warms CLBlast up) and
 * then serves every enqueue with the same transposes. */
#ifndef OCLNN_OPS_GEMM_H
#define OCLNN_OPS_GEMM_H

#include "graph/graph.h"

/* AUTO: $OCLNN_GEMM if set, else tiled on CPU devices and CLBlast
 * elsewhere. $OCLNN_GEMM: "clblast", "tiled" (oclnn's own kernels, the
 * variant chosen per device), "packed" or "direct" (oclnn's own kernels,
 * that variant forced), "auto". */
typedef enum { OCLNN_GEMM_AUTO = 0, OCLNN_GEMM_CLBLAST, OCLNN_GEMM_TILED } oclnn_gemm_engine;

/* The tiled engine's two variants: direct (gemm_rows / gemm_dot read the
 * operands in place; GPUs without CLBlast, and small products on CPUs) and
 * packed (panels + register micro-kernel, blocked for the caches: CPU
 * devices; src/ops/gemm_packed.c). AUTO picks per device and shape. */
typedef enum { OCLNN_GEMM_VARIANT_AUTO = 0, OCLNN_GEMM_VARIANT_DIRECT, OCLNN_GEMM_VARIANT_PACKED } oclnn_gemm_variant;

typedef enum { OCLNN_GEMM_BIAS_NONE = 0, OCLNN_GEMM_BIAS_ROW, OCLNN_GEMM_BIAS_COL } oclnn_gemm_bias;

typedef struct oclnn_gemm_args {
    bool trans_a, trans_b;
    size_t m, n, k;
    float alpha, beta;            /* beta 0: C is never read */
    cl_mem a, b, c;
    size_t a_off, b_off, c_off;   /* elements */
    size_t lda, ldb, ldc;         /* row-major leading dimensions */
    size_t a_stride, b_stride, c_stride, batch;
    /* The fused epilogue (tiled engine only; zero = off). */
    oclnn_gemm_bias bias_mode;    /* bias[i] per row or bias[j] per column of C */
    cl_mem bias;
    size_t bias_off, bias_stride; /* elements; stride between batch entries */
    bool relu;                    /* after alpha, beta and bias */
    bool gelu;                    /* x Phi(x), likewise (the planner folds a gelu node in: plan.c) */
    /* When nonzero, column j of C lives at (j / c_wrap) * c_wrap_stride +
     * j % c_wrap (row i adds i * ldc): conv2d scatters a [Cout, n*HoWo]
     * product straight into NCHW with c_wrap = HoWo. */
    size_t c_wrap, c_wrap_stride;
    /* Fused non-overlapping max-pool (tiled engine, A B only; conv2d's
     * max_pool): the product has pool blocks of pool*n columns, window
     * offset (di, dj) of C column j at column di*pool_stride + j*pool + dj
     * of B; C column j gets the max over the window after bias and relu
     * (first maximum in scan order wins, a NaN wins), and idx the argmax as the
     * conv-output index (ph*pool + di) * pool_wo + pw*pool + dj with
     * ph, pw = (j % c_wrap) / pool_wp, % pool_wp. idx has C's layout. beta
     * must be 0. */
    int pool;
    size_t pool_stride, pool_wp, pool_wo;
    cl_mem idx;
    size_t idx_off;
} oclnn_gemm_args;

typedef struct oclnn_gemm_plan {
    oclnn_gemm_engine engine;     /* resolved: never AUTO */
    bool trans_a, trans_b;        /* what it was made for */
    cl_kernel kernel;             /* tiled engine; NULL for CLBlast */
    int kind;                     /* tiled: which kernel and orientation (gemm.c) */
    int pool;                     /* tiled: the fused max-pool window it was made for (0: none) */
    int tile_m, tile_n;           /* C tile of one work item, in the kernel's orientation */
    oclnn_gemm_variant variant;   /* tiled: AUTO (per shape) or forced ($OCLNN_GEMM) */
    cl_kernel pack, packed;       /* packed variant's kernels; NULL when it is not used */
    int pk_mr, pk_nr, pk_kc, pk_local; /* its micro-tile, K block and work-group size */
} oclnn_gemm_plan;

/* Makes a plan for GEMMs with g's transposes on the engine `want`
 * resolves to, and reserves what g itself needs (see oclnn_gemm_reserve).
 * Fails with OCLNN_ERR_UNSUPPORTED when g uses the fused epilogue and the
 * engine is CLBlast. Release with oclnn_gemm_plan_release (also after a
 * failure). */
oclnn_status oclnn_gemm_prepare(oclnn_context *ctx, oclnn_gemm_engine want, const oclnn_gemm_args *g, const char *op,
                                oclnn_gemm_plan *plan);
/* For a further shape the plan will run: sizes CLBlast's persistent temp
 * buffer (nothing to do for the tiled engine). Call at prepare time. */
oclnn_status oclnn_gemm_reserve(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                const char *op);
/* Enqueues one (batched) GEMM; g must have the plan's transposes. */
oclnn_status oclnn_gemm_enqueue(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                const char *op);
void oclnn_gemm_plan_release(oclnn_gemm_plan *plan);
/* op_def.release for a node whose op_data is a malloc'ed oclnn_gemm_plan. */
void oclnn_gemm_node_release(struct oclnn_tensor *node);
/* For such a node's prepare: its plan, allocated on the first compile and
 * emptied (kernels released) on a later one, so that a compile retried
 * after a failure neither leaks the earlier plan nor keeps its kernels.
 * NULL when out of host memory (the error is set). */
oclnn_gemm_plan *oclnn_gemm_node_plan(struct oclnn_tensor *node);

/* The packed variant (src/ops/gemm_packed.c), called by the engine. */
oclnn_status oclnn_gemm_packed_prepare(oclnn_context *ctx, oclnn_gemm_plan *plan, const char *op);
oclnn_status oclnn_gemm_packed_reserve(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                       const char *op);
oclnn_status oclnn_gemm_packed_enqueue(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                       const char *op);

/* The engine AUTO resolves to on ctx (reads $OCLNN_GEMM). */
/* x op(w) + bias for 2-D x and w ([out, in] with transpose_w, else
 * [in, out]) and bias [out]: one "linear" node with the bias in the GEMM's
 * epilogue on the tiled engine, matmul + bias_add on CLBlast. */
struct oclnn_graph;
struct oclnn_tensor *oclnn_matmul_bias(struct oclnn_graph *g, struct oclnn_tensor *x, struct oclnn_tensor *w,
                                       int transpose_w, struct oclnn_tensor *bias);
oclnn_status oclnn_gemm_engine_resolve(const oclnn_context *ctx, oclnn_gemm_engine want, oclnn_gemm_engine *out);

#endif
