/* GEMM family: the engine behind every matrix product, and the matmul
 * (2-D and batched) and linear ops.
 *
 * Tiled engine (cl/gemm.cl): C = op(A) op(B) maps onto one of two kernels
 * in its own orientation, chosen by the transposes:
 *   A B, A^T B   gemm_rows (B read along its rows, A by broadcasts)
 *   A B^T        gemm_dot (both read along k)
 *   A^T B^T      gemm_rows on C^T = B A, stored transposed
 * so no operand is ever copied or transposed first. Tile sizes are -D
 * options chosen per device type.
 *
 * CLBlast: oclnn tensors are row-major; CLBlast's column-major path is its
 * native one, so C = op(A) op(B) is issued as the column-major
 * C^T = op(B)^T op(A)^T with the operands swapped: no transposes are
 * materialised. Batches go to SgemmStridedBatched (SgemmBatched allocates
 * and blocks on every call); single GEMMs pass a persistent temp buffer
 * for CLBlast's indirect path. */
#include "ops/gemm.h"
#include "oclnn/ops.h"

#include <clblast_c.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char oclnn_cl_gemm[];

oclnn_status oclnn_gemm_engine_resolve(const oclnn_context *ctx, oclnn_gemm_engine want, oclnn_gemm_engine *out)
{
    if (want == OCLNN_GEMM_AUTO) {
        const char *env = getenv("OCLNN_GEMM");
        if (env && *env && strcmp(env, "auto") != 0) {
            if (!strcmp(env, "tiled") || !strcmp(env, "packed") || !strcmp(env, "direct"))
                want = OCLNN_GEMM_TILED;
            else if (!strcmp(env, "clblast"))
                want = OCLNN_GEMM_CLBLAST;
            else
                return oclnn_fail(OCLNN_ERR_INVALID_ARG, "OCLNN_GEMM=%s: expected tiled, packed, direct, clblast or auto",
                                  env);
        } else {
            /* Measured on PoCL (2-core CI machine): the tiled kernels run at
             * 4-10x CLBlast 1.5.3's untuned GEMM; on GPUs CLBlast's tuned
             * kernels use local memory, which ours do not. */
            want = ctx->info.is_cpu ? OCLNN_GEMM_TILED : OCLNN_GEMM_CLBLAST;
        }
    }
    *out = want;
    return OCLNN_OK;
}

static bool has_epilogue(const oclnn_gemm_args *g)
{
    return g->bias_mode || g->relu || g->gelu || g->c_wrap || g->pool;
}

/* ---- CLBlast */

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

/* CLBlast 1.5.3 has no tuning entry for recent GPUs and falls back to
 * generic Xgemm parameters. These were found by CLBlast's own tuner
 * (clblast_tuner_xgemm, 2048^3, partial search) on an NVIDIA H100 80GB with
 * driver 580: 40.5 TFLOP/s for the raw kernel against 25.3 TFLOP/s for the
 * defaults (DESIGN.md, "Measured reference points"). They are applied to
 * Hopper-class devices by name; $OCLNN_CLBLAST_TUNING=0 keeps the defaults.
 * A rejected override is not an error: CLBlast then keeps its defaults. */
typedef struct clblast_tuning {
    const char *name_part;
    size_t values[16];
} clblast_tuning;

static const char *const xgemm_parameter_names[16] = {"GEMMK", "KREG", "KWG",  "KWI",  "MDIMA", "MDIMC", "MWG", "NDIMB",
                                                      "NDIMC", "NWG",  "SA",   "SB",   "STRM",  "STRN",  "VWM", "VWN"};

static const clblast_tuning xgemm_tunings[] = {
    {"H100", {0, 1, 32, 2, 8, 16, 128, 8, 16, 128, 1, 1, 1, 1, 4, 2}},
    {"H200", {0, 1, 32, 2, 8, 16, 128, 8, 16, 128, 1, 1, 1, 1, 4, 2}},
};

static oclnn_status clblast_apply_tuning(oclnn_context *ctx, const char *op)
{
    (void)op;
    const char *env = getenv("OCLNN_CLBLAST_TUNING");
    if (env && !strcmp(env, "0")) return OCLNN_OK;
    for (size_t i = 0; i < sizeof xgemm_tunings / sizeof xgemm_tunings[0]; i++) {
        if (!strstr(ctx->info.name, xgemm_tunings[i].name_part)) continue;
        const char **names = (const char **)xgemm_parameter_names;
        CLBlastStatusCode code = CLBlastOverrideParameters(ctx->device, "Xgemm", CLBlastPrecisionSingle, 16, names,
                                                           xgemm_tunings[i].values);
        /* A rejected override leaves CLBlast's defaults: correct, only
         * slower, so the work goes on, but not silently. */
        if (code != CLBlastSuccess)
            fprintf(stderr,
                    "oclnn: note: CLBlast rejected the Xgemm tuning for %s (status %d); using its defaults "
                    "(OCLNN_CLBLAST_TUNING=0 skips the tuning)\n",
                    xgemm_tunings[i].name_part, (int)code);
        return OCLNN_OK;
    }
    return OCLNN_OK;
}

/* Per-context CLBlast state, registered on the context at warm-up: its
 * presence means the routines are compiled for this context. */
typedef struct clblast_state {
    cl_mem temp; /* persistent temp buffer for CLBlast's indirect path */
    size_t temp_bytes;
} clblast_state;

static const char clblast_key; /* its address names the state on a context */

static void clblast_state_release(oclnn_context *ctx, void *data)
{
    (void)ctx;
    clblast_state *st = data;
    if (st->temp) clReleaseMemObject(st->temp);
    free(st);
    /* CLBlast caches programs keyed by the context; a later context at the
     * same address must not find them. A failure here has nobody to go to. */
    CLBlastClearCache();
}

/* CLBlast compiles its kernels on first use; doing it here keeps that
 * cost out of the first timed run, and a device CLBlast cannot serve
 * fails at prepare time instead of mid-run. */
static oclnn_status clblast_warm_up(oclnn_context *ctx, const char *op)
{
    oclnn_status s = clblast_apply_tuning(ctx, op);
    if (s) return s;
    cl_mem tiny;
    s = oclnn_buffer_create(ctx, 4 * 16, op, &tiny);
    if (s) return s;
    float zero = 0;
    s = oclnn_cl_check(clEnqueueFillBuffer(ctx->queue, tiny, &zero, 4, 0, 64, 0, NULL, NULL),
                       "clEnqueueFillBuffer (CLBlast warm-up)", op);
    if (!s)
        s = clblast_check(CLBlastSgemm(CLBlastLayoutColMajor, CLBlastTransposeNo, CLBlastTransposeNo, 4, 4, 4, 1.0f,
                                       tiny, 0, 4, tiny, 0, 4, 0.0f, tiny, 0, 4, &ctx->queue, NULL),
                          "CLBlastSgemm (warm-up)", op);
    if (!s)
        s = clblast_check(CLBlastSgemmStridedBatched(CLBlastLayoutColMajor, CLBlastTransposeNo, CLBlastTransposeNo, 2,
                                                     2, 2, 1.0f, tiny, 0, 2, 4, tiny, 0, 2, 4, 0.0f, tiny, 0, 2, 4, 2,
                                                     &ctx->queue, NULL),
                          "CLBlastSgemmStridedBatched (warm-up)", op);
    /* Always drain the queue before the buffer goes, even after a failure;
     * the first error is the one reported. */
    oclnn_status fin = oclnn_cl_check(clFinish(ctx->queue), "clFinish (CLBlast warm-up)", op);
    clReleaseMemObject(tiny);
    if (!s) s = fin;
    if (s) {
        /* Whatever CLBlast compiled before failing is keyed by this context. */
        CLBlastClearCache();
        return oclnn_fail_append(s, " while warming CLBlast up on %s", ctx->info.name);
    }
    return OCLNN_OK;
}

/* The context's CLBlast state, warming CLBlast up on first use. */
static oclnn_status clblast_state_get(oclnn_context *ctx, const char *op, clblast_state **out)
{
    *out = oclnn_context_ext(ctx, &clblast_key);
    if (*out) return OCLNN_OK;
    clblast_state *st = calloc(1, sizeof *st);
    if (!st) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "op '%s': out of host memory for CLBlast state", op);
    oclnn_status s = clblast_warm_up(ctx, op);
    if (!s) s = oclnn_context_ext_set(ctx, &clblast_key, st, clblast_state_release);
    if (s) {
        free(st);
        return s;
    }
    *out = st;
    return OCLNN_OK;
}

static oclnn_status clblast_reserve(oclnn_context *ctx, const oclnn_gemm_args *g, const char *op)
{
    if (g->batch > 1) return OCLNN_OK;
    clblast_state *st;
    oclnn_status s = clblast_state_get(ctx, op, &st);
    if (s) return s;
    colmajor c = to_colmajor(g);
    size_t need = 0;
    s = clblast_check(CLBlastSGemmTempBufferSize(CLBlastLayoutColMajor, c.ta, c.tb, c.m, c.n, g->k, g->b_off, g->ldb,
                                                 g->a_off, g->lda, g->c_off, g->ldc, &ctx->queue, &need),
                      "CLBlastSGemmTempBufferSize", op);
    if (s || need <= st->temp_bytes) return s;
    if (st->temp) clReleaseMemObject(st->temp);
    st->temp = NULL;
    st->temp_bytes = 0;
    s = oclnn_buffer_create(ctx, need, op, &st->temp);
    if (!s) st->temp_bytes = need;
    return s;
}

/* CLBlast rejects k == 0 (single and batched); the product is empty, so
 * C = beta * C: zeros for beta 0, untouched for beta 1. */
static oclnn_status empty_product(oclnn_context *ctx, const oclnn_gemm_args *g, const char *op)
{
    if (g->beta == 1.0f) return OCLNN_OK;
    if (g->beta != 0.0f)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "op '%s': CLBlast GEMM with k = 0 and beta %g is not supported", op,
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

static oclnn_status clblast_enqueue(oclnn_context *ctx, const oclnn_gemm_args *g, const char *op)
{
    if (g->k == 0) return empty_product(ctx, g, op);
    colmajor c = to_colmajor(g);
    CLBlastStatusCode code;
    if (g->batch > 1) {
        code = CLBlastSgemmStridedBatched(CLBlastLayoutColMajor, c.ta, c.tb, c.m, c.n, g->k, g->alpha, g->b, g->b_off,
                                          g->ldb, g->b_stride, g->a, g->a_off, g->lda, g->a_stride, g->beta, g->c,
                                          g->c_off, g->ldc, g->c_stride, g->batch, &ctx->queue, NULL);
        return clblast_check(code, "CLBlastSgemmStridedBatched", op);
    }
    clblast_state *st;
    oclnn_status s = clblast_state_get(ctx, op, &st);
    if (s) return s;
    if (st->temp)
        code = CLBlastSgemmWithTempBuffer(CLBlastLayoutColMajor, c.ta, c.tb, c.m, c.n, g->k, g->alpha, g->b, g->b_off,
                                          g->ldb, g->a, g->a_off, g->lda, g->beta, g->c, g->c_off, g->ldc, &ctx->queue,
                                          NULL, st->temp);
    else
        code = CLBlastSgemm(CLBlastLayoutColMajor, c.ta, c.tb, c.m, c.n, g->k, g->alpha, g->b, g->b_off, g->ldb, g->a,
                            g->a_off, g->lda, g->beta, g->c, g->c_off, g->ldc, &ctx->queue, NULL);
    return clblast_check(code, "CLBlastSgemm", op);
}

/* ---- tiled kernels */

enum { KIND_ROWS, KIND_ROWS_SWAPPED, KIND_DOT, KIND_POOL };

/* Work item tiles: gemm_rows TM x NV*VW, gemm_dot DM x DN over DV-wide k.
 * CPUs with 16-wide native vectors (AVX-512, 32 registers): measured on
 * the 2-core CI machine (PoCL 3.1), single thread, rows 6 x 2*16 runs at
 * 80-100 GFLOP/s on 1024^3 and the SimpleCNN fc and conv shapes (8 x 16
 * and 7 x 32 were within 10%; unrolling k did not help), dot 4 x 6 x 8 at
 * 70-97 on large K (it pays a horizontal sum per element, so small K is
 * slower). Narrower CPUs (AVX2, NEON: 16 registers) get 12 accumulators
 * of their native width (not measured). GPUs: small tiles for many work
 * items and few registers (not tuned: CLBlast is the default there). */
typedef struct tiles {
    int tm, nv, vw, dm, dn, dv;
} tiles;

static tiles tiles_for(const oclnn_context *ctx)
{
    if (!ctx->info.is_cpu) return (tiles){4, 1, 4, 2, 2, 4};
    cl_uint w = 0;
    clGetDeviceInfo(ctx->device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof w, &w, NULL);
    if (w >= 16) return (tiles){6, 2, 16, 4, 6, 8};
    w = w >= 8 ? 8 : 4;
    return (tiles){6, 2, (int)w, 3, 4, (int)w};
}

/* $OCLNN_GEMM=packed|direct forces a variant of the tiled engine. */
static oclnn_gemm_variant variant_from_env(void)
{
    const char *env = getenv("OCLNN_GEMM");
    if (env && !strcmp(env, "packed")) return OCLNN_GEMM_VARIANT_PACKED;
    if (env && !strcmp(env, "direct")) return OCLNN_GEMM_VARIANT_DIRECT;
    return OCLNN_GEMM_VARIANT_AUTO;
}

/* AUTO on a CPU device: packed once every dimension is large. Measured on
 * the 2-core AVX-512 machine (bench/results/gemm-pocl-2026-12-02.txt): the
 * direct kernels fall to a third of their speed from 2048^3 on (B's rows
 * 8 KiB apart thrash the caches) and the packed path does not; below
 * ~1024 in any dimension (256-1024 squares, SimpleCNN fc1, BERT
 * projections) the direct kernels are as fast or faster, since packing's
 * extra pass over an operand is not paid back by few reuses. */
static bool packed_wanted(const oclnn_gemm_plan *plan, const oclnn_gemm_args *g)
{
    if (plan->variant == OCLNN_GEMM_VARIANT_PACKED) return true;
    return g->m >= 1024 && g->n >= 1024 && g->k >= 1024;
}

/* gemm_pool: a TM x VW tile of pooled columns holds TM x pool^2
 * accumulators. With 32 vector registers (AVX-512) TM keeps them at 16:
 * 4 x 4 x 16 for 2x2 windows, as fast as TM 5 and 6 in SimpleCNN's conv2
 * (one PoCL thread, min of five alternating rounds: GEMM 235 vs 244 ms per
 * 16 runs at batch 64, gemm_rows 246 on the unpooled conv). Elsewhere
 * gemm_rows' accumulator count (not measured). */
static oclnn_status pool_prepare(oclnn_context *ctx, oclnn_gemm_plan *plan, const char *op)
{
    if (plan->trans_a || plan->trans_b)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "op '%s': GEMM with a fused max-pool needs untransposed operands", op);
    tiles t = tiles_for(ctx);
    int qq = plan->pool * plan->pool, tm = (ctx->info.is_cpu && t.vw >= 16 ? 16 : t.tm * t.nv) / qq;
    plan->kind = KIND_POOL;
    plan->tile_m = tm < 1 ? 1 : tm > t.tm ? t.tm : tm;
    plan->tile_n = t.vw;
    char opts[96];
    snprintf(opts, sizeof opts, "-DPOOLED -DTM=%d -DVW=%d -DPOOL=%d", plan->tile_m, t.vw, plan->pool);
    return oclnn_kernel_create(ctx, oclnn_cl_gemm, opts, "gemm_pool", op, &plan->kernel);
}

static oclnn_status tiled_prepare(oclnn_context *ctx, oclnn_gemm_plan *plan, const char *op)
{
    /* the pooled kernel has no packed variant */
    if (plan->pool) return pool_prepare(ctx, plan, op);
    plan->variant = variant_from_env();
    if (plan->variant == OCLNN_GEMM_VARIANT_PACKED || (plan->variant == OCLNN_GEMM_VARIANT_AUTO && ctx->info.is_cpu)) {
        oclnn_status s = oclnn_gemm_packed_prepare(ctx, plan, op);
        if (s) return s;
    }
    tiles t = tiles_for(ctx);
    char opts[96];
    const char *name;
    if (!plan->trans_a && plan->trans_b) {
        plan->kind = KIND_DOT;
        plan->tile_m = t.dm;
        plan->tile_n = t.dn;
        name = "gemm_dot";
        snprintf(opts, sizeof opts, "-DDOT -DDM=%d -DDN=%d -DDV=%d", t.dm, t.dn, t.dv);
    } else {
        plan->kind = plan->trans_b ? KIND_ROWS_SWAPPED : KIND_ROWS;
        plan->tile_m = t.tm;
        plan->tile_n = t.nv * t.vw;
        name = "gemm_rows";
        snprintf(opts, sizeof opts, "-DROWS -DTM=%d -DNV=%d -DVW=%d -DTRANS_A=%d", t.tm, t.nv, t.vw,
                 plan->kind == KIND_ROWS && plan->trans_a);
    }
    return oclnn_kernel_create(ctx, oclnn_cl_gemm, opts, name, op, &plan->kernel);
}

/* Last element index + 1 of `batch` matrices of rows x cols (row stride
 * ld, batch stride stride) from off; SIZE_MAX when it overflows. */
static size_t extent(size_t off, size_t batch, size_t stride, size_t rows, size_t ld, size_t cols)
{
    size_t span = 0;
    if (__builtin_mul_overflow(batch - 1, stride, &span)) return SIZE_MAX;
    size_t r;
    if (__builtin_mul_overflow(rows - 1, ld, &r) || __builtin_add_overflow(span, r, &span)) return SIZE_MAX;
    if (__builtin_add_overflow(span, off, &span) || __builtin_add_overflow(span, cols, &span)) return SIZE_MAX;
    return span;
}

/* The kernel indexes with ints: every element it touches must fit. */
static oclnn_status tiled_check(const oclnn_gemm_args *g, const char *op)
{
    size_t ar = g->trans_a ? g->k : g->m, ac = g->trans_a ? g->m : g->k;
    size_t br = g->trans_b ? g->n : g->k, bc = g->trans_b ? g->k : g->n;
    if (g->pool) bc = ((size_t)g->pool - 1) * g->pool_stride + (size_t)g->pool * g->n;
    size_t w = g->c_wrap ? g->c_wrap : g->n;
    size_t ccols = (g->n - 1) / w * g->c_wrap_stride + (g->n < w ? g->n : w);
    size_t ext[5] = {extent(g->c_off, g->batch, g->c_stride, g->m, g->ldc, ccols), 0, 0, 0,
                     g->pool ? extent(g->idx_off, g->batch, g->c_stride, g->m, g->ldc, ccols) : 0};
    if (g->k) {
        ext[1] = extent(g->a_off, g->batch, g->a_stride, ar, g->lda, ac);
        ext[2] = extent(g->b_off, g->batch, g->b_stride, br, g->ldb, bc);
    }
    if (g->bias_mode)
        ext[3] = extent(g->bias_off, g->batch, g->bias_stride, 1, 0, g->bias_mode == OCLNN_GEMM_BIAS_ROW ? g->m : g->n);
    for (int i = 0; i < 5; i++)
        if (ext[i] > INT_MAX)
            return oclnn_fail(OCLNN_ERR_UNSUPPORTED,
                              "op '%s': GEMM %zux%zux%zu (batch %zu) reaches past 2^31 elements of an operand", op,
                              g->m, g->n, g->k, g->batch);
    if ((g->k && (g->lda < ac || g->ldb < bc)) || (!g->c_wrap && g->ldc < g->n))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "op '%s': GEMM leading dimensions %zu, %zu, %zu too small", op, g->lda,
                          g->ldb, g->ldc);
    return OCLNN_OK;
}

static oclnn_status tiled_enqueue(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                  const char *op)
{
    oclnn_status s = tiled_check(g, op);
    if (s) return s;
    if (plan->packed && packed_wanted(plan, g)) return oclnn_gemm_packed_enqueue(ctx, plan, g, op);
    bool swap = plan->kind == KIND_ROWS_SWAPPED;
    if (swap && g->c_wrap)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "op '%s': GEMM A^T B^T with wrapped C columns", op);
    /* In the kernel's orientation; swapped: C^T = B A, stored transposed. */
    cl_mem bufs[4] = {g->c, swap ? g->b : g->a, swap ? g->a : g->b, g->bias ? g->bias : g->c};
    int bias_flag = g->bias_mode == OCLNN_GEMM_BIAS_NONE ? 0 : (g->bias_mode == OCLNN_GEMM_BIAS_ROW) != swap ? 1 : 2;
    int offs[4] = {(int)g->c_off, (int)(swap ? g->b_off : g->a_off), (int)(swap ? g->a_off : g->b_off),
                   (int)g->bias_off};
    int ints[13] = {(int)(swap ? g->n : g->m),
                    (int)(swap ? g->m : g->n),
                    (int)g->k,
                    (int)(swap ? g->ldb : g->lda),
                    (int)(swap ? g->lda : g->ldb),
                    (int)(swap ? 1 : g->ldc),
                    (int)(swap ? g->ldc : 1),
                    g->c_wrap ? (int)g->c_wrap : INT_MAX,
                    (int)g->c_wrap_stride,
                    (int)(swap ? g->b_stride : g->a_stride),
                    (int)(swap ? g->a_stride : g->b_stride),
                    (int)g->c_stride,
                    (int)g->bias_stride};
    int flags = bias_flag | (g->relu ? 4 : 0) | (g->gelu ? 8 : 0);
    cl_kernel k = plan->kernel;
    cl_uint i = 0;
    for (int b = 0; b < 4 && !s; b++) {
        s = oclnn_arg(k, &i, sizeof(cl_mem), &bufs[b], op);
        if (!s) s = oclnn_arg(k, &i, sizeof(int), &offs[b], op);
    }
    for (int b = 0; b < 13 && !s; b++) s = oclnn_arg(k, &i, sizeof(int), &ints[b], op);
    if (!s) s = oclnn_arg(k, &i, sizeof(float), &g->alpha, op);
    if (!s) s = oclnn_arg(k, &i, sizeof(float), &g->beta, op);
    if (!s) s = oclnn_arg(k, &i, sizeof(int), &flags, op);
    if (!s && plan->kind == KIND_POOL) {
        int pool_ints[4] = {(int)g->idx_off, (int)g->pool_stride, (int)g->pool_wp, (int)g->pool_wo};
        s = oclnn_arg(k, &i, sizeof(cl_mem), &g->idx, op);
        for (int b = 0; b < 4 && !s; b++) s = oclnn_arg(k, &i, sizeof(int), &pool_ints[b], op);
    }
    if (s) return s;
    oclnn_launch l = {.kernel = k, .dims = 3};
    l.global[0] = ((size_t)ints[0] + (size_t)plan->tile_m - 1) / (size_t)plan->tile_m;
    l.global[1] = ((size_t)ints[1] + (size_t)plan->tile_n - 1) / (size_t)plan->tile_n;
    l.global[2] = g->batch;
    if (ctx->info.is_cpu) {
        /* A group is a loop on one core: a few row tiles of the same
         * columns run back to back and share the B panel in cache. One
         * fixed size (extra items return at once) because PoCL compiles
         * the kernel again for every new work-group size. */
        l.local[0] = plan->kind == KIND_DOT ? 8 : 4;
        l.global[0] = (l.global[0] + l.local[0] - 1) / l.local[0] * l.local[0];
        l.local[1] = l.local[2] = 1;
    }
    return oclnn_launch_enqueue(ctx, &l, op);
}

/* ---- the engine */

oclnn_status oclnn_gemm_prepare(oclnn_context *ctx, oclnn_gemm_engine want, const oclnn_gemm_args *g, const char *op,
                                oclnn_gemm_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->trans_a = g->trans_a;
    plan->trans_b = g->trans_b;
    plan->pool = g->pool;
    oclnn_status s = oclnn_gemm_engine_resolve(ctx, want, &plan->engine);
    if (s) return s;
    if (plan->engine == OCLNN_GEMM_TILED) {
        s = tiled_prepare(ctx, plan, op);
        return s ? s : oclnn_gemm_reserve(ctx, plan, g, op);
    }
    clblast_state *st;
    s = clblast_state_get(ctx, op, &st);
    return s ? s : oclnn_gemm_reserve(ctx, plan, g, op);
}

oclnn_status oclnn_gemm_reserve(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                const char *op)
{
    if (plan->engine == OCLNN_GEMM_TILED)
        return plan->packed && packed_wanted(plan, g) ? oclnn_gemm_packed_reserve(ctx, plan, g, op) : OCLNN_OK;
    if (has_epilogue(g))
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "op '%s': CLBlast GEMM has no fused bias, relu, pool or wrapped C",
                          op);
    return g->m && g->n && g->k && g->batch ? clblast_reserve(ctx, g, op) : OCLNN_OK;
}

oclnn_status oclnn_gemm_enqueue(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                const char *op)
{
    if (plan->engine == OCLNN_GEMM_AUTO || g->trans_a != plan->trans_a || g->trans_b != plan->trans_b ||
        g->pool != plan->pool)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "op '%s': GEMM without a plan for its transposes and pool", op);
    if (g->m == 0 || g->n == 0 || g->batch == 0) return OCLNN_OK;
    if (plan->engine == OCLNN_GEMM_TILED) return tiled_enqueue(ctx, plan, g, op);
    if (has_epilogue(g))
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "op '%s': CLBlast GEMM has no fused bias, relu, pool or wrapped C",
                          op);
    return clblast_enqueue(ctx, g, op);
}

void oclnn_gemm_plan_release(oclnn_gemm_plan *plan)
{
    cl_kernel *ks[3] = {&plan->kernel, &plan->pack, &plan->packed};
    for (int i = 0; i < 3; i++) {
        if (*ks[i]) clReleaseKernel(*ks[i]);
        *ks[i] = NULL;
    }
}

/* ---- matmul node: iparam[0..1] = transpose flags, op_data = its plan */

static void matmul_args(const oclnn_tensor *node, oclnn_gemm_args *g)
{
    const oclnn_tensor *a = node->src[0], *b = node->src[1];
    memset(g, 0, sizeof *g);
    g->trans_a = node->iparam[0];
    g->trans_b = node->iparam[1];
    int ra = a->ndim, rb = b->ndim;
    size_t a_rows = (size_t)a->dims[ra - 2], a_cols = (size_t)a->dims[ra - 1];
    size_t b_rows = (size_t)b->dims[rb - 2], b_cols = (size_t)b->dims[rb - 1];
    g->m = g->trans_a ? a_cols : a_rows;
    g->k = g->trans_a ? a_rows : a_cols;
    g->n = g->trans_b ? b_rows : b_cols;
    g->alpha = 1.0f;
    g->beta = node->accumulate ? 1.0f : 0.0f;
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
    g->relu = node->epilogue == EPI_RELU;
    g->gelu = node->epilogue == EPI_GELU;
    if (node->nsrc == 3) { /* linear: bias[j] per output column, added in the GEMM's epilogue */
        g->bias_mode = OCLNN_GEMM_BIAS_COL;
        g->bias = node->src[2]->buffer;
        g->bias_off = (size_t)oclnn_tensor_elem_offset(node->src[2]);
    }
}

static oclnn_status matmul_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_gemm_plan *plan = oclnn_gemm_node_plan(node);
    if (!plan) return OCLNN_ERR_OUT_OF_MEMORY; /* message set */
    oclnn_gemm_args g;
    matmul_args(node, &g);
    return oclnn_gemm_prepare(ctx, OCLNN_GEMM_AUTO, &g, node->op->name, plan);
}

static oclnn_status matmul_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_gemm_args g;
    matmul_args(node, &g);
    return oclnn_gemm_enqueue(ctx, node->op_data, &g, node->op->name);
}

oclnn_gemm_plan *oclnn_gemm_node_plan(oclnn_tensor *node)
{
    oclnn_gemm_plan *plan = node->op_data;
    if (plan) {
        oclnn_gemm_plan_release(plan);
        return plan;
    }
    plan = calloc(1, sizeof *plan);
    if (!plan) oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", node->op->name);
    node->op_data = plan;
    return plan;
}

void oclnn_gemm_node_release(oclnn_tensor *node)
{
    if (!node->op_data) return;
    oclnn_gemm_plan_release(node->op_data);
    free(node->op_data);
    node->op_data = NULL;
}

static void matmul_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    oclnn_tensor *a = node->src[0], *b = node->src[1];
    int ta = (int)node->iparam[0], tb = (int)node->iparam[1];
    /* C = op(A) op(B): dop(A) = dC op(B)^T, dop(B) = op(A)^T dC. */
    if (a->flags & T_NEEDS_GRAD)
        oclnn_grad_add(g, a, ta ? oclnn_matmul_t(g, b, tb, grad, 1) : oclnn_matmul_t(g, grad, 0, b, !tb));
    if (b->flags & T_NEEDS_GRAD)
        oclnn_grad_add(g, b, tb ? oclnn_matmul_t(g, grad, 1, a, ta) : oclnn_matmul_t(g, a, !ta, grad, 0));
    if (node->nsrc == 3 && (node->src[2]->flags & T_NEEDS_GRAD)) {
        /* linear's bias: the column sums of dC */
        oclnn_tensor *bias = node->src[2];
        int64_t target[2] = {1, bias->dims[0]};
        oclnn_grad_add(g, bias, oclnn_reshape(g, oclnn_sum_to(g, grad, 2, target), 1, bias->dims));
    }
}

/* C += A B is the same GEMM with beta = 1 (not with an activation folded
 * into its store: act(A B) + C is no accumulation). */
static bool matmul_accumulates(const oclnn_tensor *node) { return !node->epilogue; }

/* Whether the context's GEMMs run on the tiled engine (CPUs, or
 * $OCLNN_GEMM=tiled), the one with a bias and activation epilogue. */
static bool auto_engine_tiled(const oclnn_context *ctx)
{
    oclnn_gemm_engine e;
    return oclnn_gemm_engine_resolve(ctx, OCLNN_GEMM_AUTO, &e) == OCLNN_OK && e == OCLNN_GEMM_TILED;
}

/* The tiled engine applies relu or gelu in its epilogue; CLBlast cannot. */
static bool matmul_takes_epilogue(const oclnn_tensor *node, oclnn_epilogue act)
{
    (void)act;
    return auto_engine_tiled(node->graph->ctx);
}

static const oclnn_op_def matmul_def = {.name = "matmul",
                                        .prepare = matmul_prepare,
                                        .forward = matmul_forward,
                                        .backward = matmul_backward,
                                        .release = oclnn_gemm_node_release,
                                        .accumulates = matmul_accumulates,
                                        .takes_epilogue = matmul_takes_epilogue};

/* x W^T + b as one GEMM with the bias in its epilogue (a matmul node with
 * a third source): one pass over the output instead of two, and one
 * launch fewer per layer. */
static const oclnn_op_def linear_def = {.name = "linear",
                                        .prepare = matmul_prepare,
                                        .forward = matmul_forward,
                                        .backward = matmul_backward,
                                        .release = oclnn_gemm_node_release,
                                        .takes_epilogue = matmul_takes_epilogue};

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

/* The bias goes into the GEMM's epilogue where the engine has one: the
 * tiled engine (CPUs, or $OCLNN_GEMM=tiled), not CLBlast. A bias of the
 * wrong shape takes the bias_add path, which reports it. */
static bool fused_bias_wanted(oclnn_graph *g, const oclnn_tensor *x, const oclnn_tensor *w, int64_t out,
                              const oclnn_tensor *bias)
{
    if (!auto_engine_tiled(g->ctx)) return false;
    return x->ndim == 2 && bias->dtype == OCLNN_DTYPE_F32 && bias->ndim == 1 && bias->dims[0] == out &&
           w->dtype == OCLNN_DTYPE_F32 && x->dtype == OCLNN_DTYPE_F32;
}

oclnn_tensor *oclnn_matmul_bias(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *w, int transpose_w, oclnn_tensor *bias)
{
    oclnn_tensor *srcs[3] = {x, w, bias};
    if (!oclnn_graph_usable(g, "linear", 3, srcs)) return NULL;
    int64_t out = w->ndim == 2 ? w->dims[transpose_w ? 0 : 1] : -1;
    int64_t in = w->ndim == 2 ? w->dims[transpose_w ? 1 : 0] : -1;
    if (!fused_bias_wanted(g, x, w, out, bias) || x->dims[1] != in)
        return oclnn_bias_add(g, oclnn_matmul_t(g, x, 0, w, transpose_w), bias, 1); /* they check the shapes */
    srcs[0] = oclnn_contiguous(g, x);
    srcs[1] = oclnn_contiguous(g, w);
    srcs[2] = oclnn_contiguous(g, bias);
    int64_t dims[2] = {x->dims[0], out};
    oclnn_tensor *y = oclnn_node_new(g, &linear_def, OCLNN_DTYPE_F32, 2, dims, 3, srcs);
    if (y) y->iparam[1] = transpose_w != 0;
    return y;
}

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
    oclnn_tensor *y = bias ? oclnn_matmul_bias(g, x2, weight, 1, bias) : oclnn_matmul_t(g, x2, 0, weight, 1);
    if (x->ndim != 2 && y) {
        int64_t dims[OCLNN_MAX_DIMS];
        for (int d = 0; d < x->ndim - 1; d++) dims[d] = x->dims[d];
        dims[x->ndim - 1] = weight->dims[0];
        y = oclnn_reshape(g, y, x->ndim, dims);
    }
    return y;
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_gemm_ops[] = {&matmul_def, &linear_def, NULL};
