/* The packed GEMM path for CPU devices (cl/gemm.cl, PACKED), the
 * GotoBLAS/BLIS scheme in OpenCL terms:
 *
 *   1. gemm_pack copies op(A) into panels of MR rows and op(B) into panels
 *      of NR columns, each panel K x MR (K x NR) contiguous and zero-padded,
 *      into a scratch buffer owned by the context. Transposes and strides
 *      are absorbed here: the micro-kernel never sees them.
 *   2. gemm_packed runs one work item per MR x NR tile of C (per batch
 *      entry), the tile held in MR x NV vector registers of VW floats;
 *      per k it reads one contiguous row of the B panel and MR scalars of
 *      the A panel (broadcast), so LLVM emits MR*NV wide FMAs fed by
 *      NV vector loads and MR broadcasts.
 *
 * Cache blocking. A work group is LOCAL_M tiles of the same B panel, run
 * back to back on one core (PoCL runs a group as a loop), so a B
 * micro-panel KC x NR (KC = 256, NR = 32: 32 KiB) is read from L2 once per
 * group and then served from L1/L2 while the group's A panels stream by.
 * K is cut into blocks of KC launched one after another (beta = 1 after
 * the first), so what one launch touches of A (M x KC) stays in L2/L3
 * however large K is; work is spread over the cores as ceil(M/(MR*LOCAL_M))
 * x ceil(N/NR) x batch groups.
 *
 * Packing costs O(MK + KN) copies against O(MNK) FMAs; on small products
 * (a few hundred KFLOP) the two extra launches dominate and AUTO keeps the
 * direct kernels for those (gemm_packed_wanted). */
#include "ops/gemm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char oclnn_cl_gemm[];

/* Tile and block sizes per device class; see the measurements in
 * bench/results/gemm-pocl-2026-12-02.txt. */
typedef struct packed_tiles {
    int mr, nv, vw, kc, local_m;
} packed_tiles;

static packed_tiles packed_for(const oclnn_context *ctx)
{
    cl_uint w = 0;
    clGetDeviceInfo(ctx->device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof w, &w, NULL);
    packed_tiles t = {6, 2, 16, 256, 4};
    if (w < 16) t.vw = w >= 8 ? 8 : 4;
    const char *env = getenv("OCLNN_GEMM_PACKED_TILES"); /* mr,nv,vw,kc,local_m: for tuning on a new machine */
    if (env) {
        packed_tiles e;
        if (sscanf(env, "%d,%d,%d,%d,%d", &e.mr, &e.nv, &e.vw, &e.kc, &e.local_m) == 5 && e.mr > 0 && e.mr <= 16 &&
            e.nv > 0 && e.nv <= 4 && (e.vw == 4 || e.vw == 8 || e.vw == 16) && e.kc > 0 && e.local_m > 0)
            t = e;
    }
    return t;
}

oclnn_status oclnn_gemm_packed_prepare(oclnn_context *ctx, oclnn_gemm_plan *plan, const char *op)
{
    packed_tiles t = packed_for(ctx);
    char opts[96];
    snprintf(opts, sizeof opts, "-DPACKED -DMR=%d -DNV=%d -DVW=%d", t.mr, t.nv, t.vw);
    plan->pk_mr = t.mr;
    plan->pk_nr = t.nv * t.vw;
    plan->pk_kc = t.kc;
    plan->pk_local = t.local_m;
    oclnn_status s = oclnn_kernel_create(ctx, oclnn_cl_gemm, opts, "gemm_pack", op, &plan->pack);
    return s ? s : oclnn_kernel_create(ctx, oclnn_cl_gemm, opts, "gemm_packed", op, &plan->packed);
}

/* ---- the context's scratch buffer for the panels: one per context is
 * enough because its queue is in order (a GEMM's packs and multiplies are
 * done before the next GEMM packs). It only grows; a buffer being replaced
 * is freed by OpenCL once the commands using it are done. */

typedef struct pack_scratch {
    cl_mem buf;
    size_t bytes;
} pack_scratch;

static const char scratch_key;

static void scratch_release(oclnn_context *ctx, void *data)
{
    (void)ctx;
    pack_scratch *sc = data;
    if (sc->buf) clReleaseMemObject(sc->buf);
    free(sc);
}

static oclnn_status scratch_get(oclnn_context *ctx, size_t bytes, const char *op, cl_mem *out)
{
    pack_scratch *sc = oclnn_context_ext(ctx, &scratch_key);
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "op '%s': out of host memory for GEMM scratch", op);
        oclnn_status s = oclnn_context_ext_set(ctx, &scratch_key, sc, scratch_release);
        if (s) {
            free(sc);
            return s;
        }
    }
    if (bytes > sc->bytes) {
        if (sc->buf) clReleaseMemObject(sc->buf);
        sc->buf = NULL;
        sc->bytes = 0;
        oclnn_status s = oclnn_buffer_create(ctx, bytes, op, &sc->buf);
        if (s) return oclnn_fail_append(s, " (GEMM packing scratch, %zu bytes)", bytes);
        sc->bytes = bytes;
    }
    *out = sc->buf;
    return OCLNN_OK;
}

/* Floats of one batch entry's panels of an R x K operand, W rows a panel,
 * rounded up to 16 floats so every panel set starts 64-byte aligned. */
static size_t panel_floats(size_t r, size_t k, size_t w) { return ((r + w - 1) / w * w * k + 15) / 16 * 16; }

typedef struct packed_sizes {
    size_t pa, pb, bytes; /* floats per batch entry of A's and B's panels; scratch bytes */
} packed_sizes;

static oclnn_status sizes_of(const oclnn_gemm_plan *plan, const oclnn_gemm_args *g, const char *op, packed_sizes *z)
{
    z->pa = panel_floats(g->m, g->k, (size_t)plan->pk_mr);
    z->pb = panel_floats(g->n, g->k, (size_t)plan->pk_nr);
    size_t floats = g->batch * (z->pa + z->pb);
    if (floats / g->batch != z->pa + z->pb || floats > INT_MAX)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "op '%s': packed GEMM %zux%zux%zu (batch %zu) needs past 2^31 floats",
                          op, g->m, g->n, g->k, g->batch);
    z->bytes = floats * sizeof(float);
    return OCLNN_OK;
}

oclnn_status oclnn_gemm_packed_reserve(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                       const char *op)
{
    if (!g->m || !g->n || !g->k || !g->batch) return OCLNN_OK;
    packed_sizes z;
    cl_mem buf;
    oclnn_status s = sizes_of(plan, g, op, &z);
    return s ? s : scratch_get(ctx, z.bytes, op, &buf);
}

enum { PACK_K = 64 }; /* k per work item of gemm_pack (cl/gemm.cl) */

/* Binds ints after the buffers already bound up to *i. */
static oclnn_status bind_ints(cl_kernel k, cl_uint *i, int n, const int *v, const char *op)
{
    oclnn_status s = OCLNN_OK;
    for (int j = 0; j < n && !s; j++) s = oclnn_arg(k, i, sizeof(int), &v[j], op);
    return s;
}

/* One operand into panels of w rows: X(r, k) = X[x_off + r*rs + k*ks],
 * rows x K per batch entry (x_bs apart), to dst + d_off (d_bs apart). */
typedef struct pack_src {
    cl_mem x;
    size_t off, rows, rs, ks, bs;
} pack_src;

static oclnn_status pack(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g, pack_src src,
                         cl_mem dst, size_t d_off, size_t d_bs, int w, const char *op)
{
    cl_kernel k = plan->pack;
    cl_uint i = 0;
    int doff = (int)d_off;
    int ints[9] = {(int)src.off, (int)src.rows, (int)g->k, (int)src.rs, (int)src.ks, (int)src.bs, (int)d_bs, w, PACK_K};
    oclnn_status s = oclnn_arg(k, &i, sizeof(cl_mem), &dst, op);
    if (!s) s = oclnn_arg(k, &i, sizeof(int), &doff, op);
    if (!s) s = oclnn_arg(k, &i, sizeof(cl_mem), &src.x, op);
    if (!s) s = bind_ints(k, &i, 9, ints, op);
    if (s) return s;
    oclnn_launch l = {.kernel = k, .dims = 3};
    l.local[0] = 8;
    l.local[1] = l.local[2] = 1;
    l.global[0] = ((src.rows + (size_t)w - 1) / (size_t)w + 7) / 8 * 8;
    l.global[1] = (g->k + PACK_K - 1) / PACK_K;
    l.global[2] = g->batch;
    return oclnn_launch_enqueue(ctx, &l, op);
}

/* Called by oclnn_gemm_enqueue after tiled_check (every index fits an int). */
oclnn_status oclnn_gemm_packed_enqueue(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                       const char *op)
{
    packed_sizes z = {0, 0, 0};
    cl_mem scratch = g->c; /* K = 0: no panels, never read */
    oclnn_status s = OCLNN_OK;
    if (g->k) {
        s = sizes_of(plan, g, op, &z);
        if (!s) s = scratch_get(ctx, z.bytes, op, &scratch);
        /* A is M x K: row stride lda, or column stride when transposed; B
         * viewed as N x K likewise. */
        pack_src a = {g->a, g->a_off, g->m, g->trans_a ? 1 : g->lda, g->trans_a ? g->lda : 1, g->a_stride};
        pack_src b = {g->b, g->b_off, g->n, g->trans_b ? g->ldb : 1, g->trans_b ? 1 : g->ldb, g->b_stride};
        if (!s) s = pack(ctx, plan, g, a, scratch, 0, z.pa, plan->pk_mr, op);
        if (!s) s = pack(ctx, plan, g, b, scratch, g->batch * z.pa, z.pb, plan->pk_nr, op);
        if (s) return s;
    }
    cl_kernel k = plan->packed;
    int flags = (g->bias_mode == OCLNN_GEMM_BIAS_NONE ? 0 : g->bias_mode == OCLNN_GEMM_BIAS_ROW ? 1 : 2) |
                (g->relu ? 4 : 0);
    cl_mem bias = g->bias ? g->bias : g->c;
    size_t mt = (g->m + (size_t)plan->pk_mr - 1) / (size_t)plan->pk_mr;
    oclnn_launch l = {.kernel = k, .dims = 3};
    l.local[0] = (size_t)plan->pk_local;
    l.local[1] = l.local[2] = 1;
    l.global[0] = (mt + l.local[0] - 1) / l.local[0] * l.local[0];
    l.global[1] = (g->n + (size_t)plan->pk_nr - 1) / (size_t)plan->pk_nr;
    l.global[2] = g->batch;
    size_t kc = (size_t)plan->pk_kc;
    size_t k0 = 0;
    do {
        size_t kn = g->k - k0 < kc ? g->k - k0 : kc;
        bool last = k0 + kn >= g->k;
        float beta = k0 ? 1.0f : g->beta;
        int f = last ? flags : 0;
        int ints[15] = {(int)g->m, (int)g->n, (int)g->k, (int)k0, (int)kn, (int)g->ldc,
                        g->c_wrap ? (int)g->c_wrap : INT_MAX, (int)g->c_wrap_stride, (int)z.pa, (int)z.pb,
                        (int)g->c_stride, (int)g->bias_stride};
        int offs[4] = {(int)g->c_off, 0, (int)(g->batch * z.pa), (int)g->bias_off};
        cl_mem bufs[4] = {g->c, scratch, scratch, bias};
        cl_uint i = 0;
        for (int b = 0; b < 4 && !s; b++) {
            s = oclnn_arg(k, &i, sizeof(cl_mem), &bufs[b], op);
            if (!s) s = oclnn_arg(k, &i, sizeof(int), &offs[b], op);
        }
        if (!s) s = bind_ints(k, &i, 12, ints, op);
        if (!s) s = oclnn_arg(k, &i, sizeof(float), &g->alpha, op);
        if (!s) s = oclnn_arg(k, &i, sizeof(float), &beta, op);
        if (!s) s = oclnn_arg(k, &i, sizeof(int), &f, op);
        if (!s) s = oclnn_launch_enqueue(ctx, &l, op);
        k0 += kn;
    } while (!s && k0 < g->k);
    return s;
}
