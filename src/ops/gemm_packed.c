/* The packed GEMM path for CPU devices (cl/gemm.cl, PACKED), the
 * GotoBLAS/BLIS scheme in OpenCL terms:
 *
 *   1. gemm_pack copies the operand read as vectors (op(B), or op(A) when
 *      the product is turned round, see orient) into panels of NR columns,
 *      each K x NR, contiguous and zero-padded, into a scratch buffer owned
 *      by the context; transposes, strides and batch offsets are absorbed
 *      there. When that panel side is wide (>= 256) the other operand is
 *      packed too, into K x MR panels, so a tile of it is one contiguous
 *      stream instead of MR rows lda apart (the same L1 sets when lda is a
 *      multiple of 4 KiB: square powers of two ran at half speed).
 *   2. gemm_packed runs one work item per MR x NR tile of C (per batch
 *      entry), the tile held in MR x NV vector registers of VW floats;
 *      per k it reads one contiguous row of the panel and MR scalars of
 *      the other side (broadcast): MR*NV wide FMAs fed by NV vector loads
 *      and MR broadcasts (6 x 2 x float16: 12 vfmadd231ps zmm per k).
 *
 * Cache blocking. A work group is WG tiles of the same panel, run back to
 * back on one core (PoCL runs a group as a loop), so the panel's KC x NR
 * slice (KC = 512, NR = 32: 64 KiB) comes from memory once per group and
 * from L1/L2 for the other tiles. K is cut into blocks of KC launched one
 * after another (beta = 1 after the first, bias and relu with the last),
 * so what one launch touches of the broadcast side (M x KC) stays in L2/L3
 * however large K is; the cores share ceil(M/(MR*WG)) x ceil(N/NR) x batch
 * groups. (K blocks inside the kernel, the group's items taking turns at
 * a barrier, measured 20% slower on PoCL 3.1.)
 *
 * Packing costs O(MK + KN) copies against O(MNK) FMAs; AUTO (gemm.c,
 * packed_wanted) uses this path only when every dimension is large. */
#include "ops/gemm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char oclnn_cl_gemm[];

/* Tile and block sizes per device class: 6 x 32 (two float16 vectors),
 * KC 512, 8 tiles a group measured best on the 2-core AVX-512 machine
 * (bench/results/gemm-pocl-2026-12-02.txt; 8 x 48, 12 x 32 and 14 x 16
 * tiles, KC 128-2048 and groups of 1-32 were slower or no better).
 * Narrower SIMD keeps 6 x 2 vectors of its width (not measured).
 * $OCLNN_GEMM_PACKED_TILES=MR,NV,VW,KC,WG overrides them, for tuning. */
typedef struct packed_tiles {
    int mr, nv, vw, kc, local_m;
} packed_tiles;

static oclnn_status packed_for(const oclnn_context *ctx, const char *op, packed_tiles *t)
{
    cl_uint w = 0;
    clGetDeviceInfo(ctx->device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof w, &w, NULL);
    *t = (packed_tiles){6, 2, 16, 512, 8};
    if (w < 16) t->vw = w >= 8 ? 8 : 4;
    const char *env = getenv("OCLNN_GEMM_PACKED_TILES");
    if (!env || !*env) return OCLNN_OK;
    packed_tiles e;
    char end;
    if (sscanf(env, "%d,%d,%d,%d,%d%c", &e.mr, &e.nv, &e.vw, &e.kc, &e.local_m, &end) != 5 || e.mr < 1 ||
        e.mr > 16 || e.nv < 1 || e.nv > 4 || (e.vw != 4 && e.vw != 8 && e.vw != 16) || e.kc < 1 || e.local_m < 1 ||
        (size_t)e.local_m > ctx->info.max_work_group_size)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG,
                          "op '%s': OCLNN_GEMM_PACKED_TILES=%s: expected MR,NV,VW,KC,WG (MR 1-16, NV 1-4, VW 4, 8 "
                          "or 16, KC >= 1, WG 1 to the device's work-group limit)",
                          op, env);
    *t = e;
    return OCLNN_OK;
}

oclnn_status oclnn_gemm_packed_prepare(oclnn_context *ctx, oclnn_gemm_plan *plan, const char *op)
{
    packed_tiles t;
    oclnn_status s = packed_for(ctx, op, &t);
    if (s) return s;
    char opts[96];
    snprintf(opts, sizeof opts, "-DPACKED -DMR=%d -DNV=%d -DVW=%d", t.mr, t.nv, t.vw);
    plan->pk_mr = t.mr;
    plan->pk_nr = t.nv * t.vw;
    plan->pk_kc = t.kc;
    plan->pk_local = t.local_m;
    s = oclnn_kernel_create(ctx, oclnn_cl_gemm, opts, "gemm_pack", op, &plan->pack);
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

/* The product in the kernel's orientation: C = A B with B packed and A
 * read in place, or, swapped, C^T = B^T A^T with A packed (C stored
 * transposed). Swapping packs the smaller operand: copying a 3136 x 1000
 * weight to multiply it by 64 rows costs as much as the product (SimpleCNN
 * fc1, BERT projections). Not with wrapped C columns, which only work
 * unswapped, nor when the packed side would be narrower than a panel, nor
 * for short K, where the transposed (scalar) stores of C cost more than
 * packing the larger operand. */
typedef struct oriented {
    bool swap;
    size_t m, n;                 /* kernel's rows (broadcast side) and columns (packed side) */
    cl_mem a, b;
    size_t a_off, a_rs, a_ks, a_bs; /* broadcast side, in place: (r, k) at r*a_rs + k*a_ks */
    size_t b_off, b_rs, b_ks, b_bs; /* packed side viewed as n x K: (j, k) at j*b_rs + k*b_ks */
    size_t pb;                   /* floats of one batch entry's panels, 64-byte multiple */
    bool pack_a;                 /* the broadcast side is packed too (after B's panels) */
    size_t pa;                   /* its floats per batch entry */
} oriented;

static oriented orient(const oclnn_gemm_plan *plan, const oclnn_gemm_args *g)
{
    oriented o;
    /* op(A) as M x K and op(B)^T as N x K */
    size_t ars = g->trans_a ? 1 : g->lda, aks = g->trans_a ? g->lda : 1;
    size_t brs = g->trans_b ? g->ldb : 1, bks = g->trans_b ? 1 : g->ldb;
    o.swap = !g->c_wrap && g->m < g->n && g->m >= (size_t)plan->pk_nr && g->k >= 128;
    o.m = o.swap ? g->n : g->m;
    o.n = o.swap ? g->m : g->n;
    o.a = o.swap ? g->b : g->a;
    o.b = o.swap ? g->a : g->b;
    o.a_off = o.swap ? g->b_off : g->a_off;
    o.a_rs = o.swap ? brs : ars;
    o.a_ks = o.swap ? bks : aks;
    o.a_bs = o.swap ? g->b_stride : g->a_stride;
    o.b_off = o.swap ? g->a_off : g->b_off;
    o.b_rs = o.swap ? ars : brs;
    o.b_ks = o.swap ? aks : bks;
    o.b_bs = o.swap ? g->a_stride : g->b_stride;
    size_t w = (size_t)plan->pk_nr, mr = (size_t)plan->pk_mr;
    o.pb = ((o.n + w - 1) / w * w * g->k + 15) / 16 * 16;
    /* A tile in place is MR rows lda apart: when lda is a multiple of 4 KiB
     * all of them fall into the same L1 sets, so square powers of two ran
     * at half speed. Packed, a tile is one contiguous stream; worth it once
     * each tile is reused over a wide B. */
    o.pack_a = o.n >= 256;
    o.pa = o.pack_a ? ((o.m + mr - 1) / mr * mr * g->k + 15) / 16 * 16 : 0;
    return o;
}

static oclnn_status scratch_bytes(const oriented *o, const oclnn_gemm_args *g, const char *op, size_t *bytes)
{
    size_t per = o->pb + o->pa, floats = g->batch * per;
    if (floats / g->batch != per || floats > INT_MAX)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "op '%s': packed GEMM %zux%zux%zu (batch %zu) needs past 2^31 floats",
                          op, g->m, g->n, g->k, g->batch);
    *bytes = floats * sizeof(float);
    return OCLNN_OK;
}

oclnn_status oclnn_gemm_packed_reserve(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                       const char *op)
{
    if (!g->m || !g->n || !g->k || !g->batch) return OCLNN_OK;
    oriented o = orient(plan, g);
    size_t bytes = 0;
    cl_mem buf;
    oclnn_status s = scratch_bytes(&o, g, op, &bytes);
    return s ? s : scratch_get(ctx, bytes, op, &buf);
}

enum { PACK_K = 64 }; /* k per work item of gemm_pack (cl/gemm.cl) */

/* Binds ints after the arguments already bound up to *i. */
static oclnn_status bind_ints(cl_kernel k, cl_uint *i, int n, const int *v, const char *op)
{
    oclnn_status s = OCLNN_OK;
    for (int j = 0; j < n && !s; j++) s = oclnn_arg(k, i, sizeof(int), &v[j], op);
    return s;
}

/* One operand, rows x K with (r, k) at x_off + r*rs + k*ks (bs apart per
 * batch entry), into panels of w rows at dst + d_off (d_bs apart). */
typedef struct pack_src {
    cl_mem x;
    size_t off, rows, rs, ks, bs, d_off, d_bs;
    int w;
} pack_src;

static oclnn_status pack(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g, pack_src p,
                         cl_mem dst, const char *op)
{
    cl_kernel k = plan->pack;
    cl_uint i = 0;
    int d_off = (int)p.d_off;
    int ints[9] = {(int)p.off, (int)p.rows, (int)g->k, (int)p.rs, (int)p.ks, (int)p.bs, (int)p.d_bs, p.w, PACK_K};
    oclnn_status s = oclnn_arg(k, &i, sizeof(cl_mem), &dst, op);
    if (!s) s = oclnn_arg(k, &i, sizeof(int), &d_off, op);
    if (!s) s = oclnn_arg(k, &i, sizeof(cl_mem), &p.x, op);
    if (!s) s = bind_ints(k, &i, 9, ints, op);
    if (s) return s;
    oclnn_launch l = {.kernel = k, .dims = 3};
    l.local[0] = 8;
    l.local[1] = l.local[2] = 1;
    l.global[0] = ((p.rows + (size_t)p.w - 1) / (size_t)p.w + 7) / 8 * 8;
    l.global[1] = (g->k + PACK_K - 1) / PACK_K;
    l.global[2] = g->batch;
    return oclnn_launch_enqueue(ctx, &l, op);
}

/* Called by the engine after tiled_check (every index fits an int). */
oclnn_status oclnn_gemm_packed_enqueue(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *g,
                                       const char *op)
{
    oriented o = orient(plan, g);
    cl_mem scratch = g->c; /* K = 0: no panels, never read */
    oclnn_status s = OCLNN_OK;
    if (g->k) {
        size_t bytes = 0;
        s = scratch_bytes(&o, g, op, &bytes);
        if (!s) s = scratch_get(ctx, bytes, op, &scratch);
        pack_src b = {o.b, o.b_off, o.n, o.b_rs, o.b_ks, o.b_bs, 0, o.pb, plan->pk_nr};
        if (!s) s = pack(ctx, plan, g, b, scratch, op);
        if (!s && o.pack_a) {
            pack_src a = {o.a, o.a_off, o.m, o.a_rs, o.a_ks, o.a_bs, g->batch * o.pb, o.pa, plan->pk_mr};
            s = pack(ctx, plan, g, a, scratch, op);
            o.a = scratch;
            o.a_off = g->batch * o.pb;
            o.a_rs = 1;
            o.a_ks = (size_t)plan->pk_mr;
            o.a_bs = o.pa;
        }
        if (s) return s;
    }
    size_t a_ts = o.pack_a ? g->k * (size_t)plan->pk_mr : (size_t)plan->pk_mr * o.a_rs;
    cl_kernel k = plan->packed;
    int flags = (g->bias_mode == OCLNN_GEMM_BIAS_NONE ? 0 : (g->bias_mode == OCLNN_GEMM_BIAS_ROW) != o.swap ? 1 : 2) |
                (g->relu ? 4 : 0) | (g->gelu ? 8 : 0);
    oclnn_launch l = {.kernel = k, .dims = 3};
    l.local[0] = (size_t)plan->pk_local;
    l.local[1] = l.local[2] = 1;
    size_t mt = (o.m + (size_t)plan->pk_mr - 1) / (size_t)plan->pk_mr;
    l.global[0] = (mt + l.local[0] - 1) / l.local[0] * l.local[0];
    l.global[1] = (o.n + (size_t)plan->pk_nr - 1) / (size_t)plan->pk_nr;
    l.global[2] = g->batch;
    cl_mem bufs[4] = {g->c, o.a, scratch, g->bias ? g->bias : g->c};
    int offs[4] = {(int)g->c_off, (int)o.a_off, 0, (int)g->bias_off};
    size_t kc = (size_t)plan->pk_kc, k0 = 0;
    do {
        size_t kn = g->k - k0 < kc ? g->k - k0 : kc;
        float beta = k0 ? 1.0f : g->beta;
        int f = k0 + kn >= g->k ? flags : 0;
        int ints[16] = {(int)o.m,
                        (int)o.n,
                        (int)g->k,
                        (int)k0,
                        (int)kn,
                        (int)(o.swap ? 1 : g->ldc),
                        (int)(o.swap ? g->ldc : 1),
                        g->c_wrap ? (int)g->c_wrap : INT_MAX,
                        (int)g->c_wrap_stride,
                        (int)o.a_rs,
                        (int)o.a_ks,
                        (int)a_ts,
                        (int)o.a_bs,
                        (int)o.pb,
                        (int)g->c_stride,
                        (int)g->bias_stride};
        cl_uint i = 0;
        for (int b = 0; b < 4 && !s; b++) {
            s = oclnn_arg(k, &i, sizeof(cl_mem), &bufs[b], op);
            if (!s) s = oclnn_arg(k, &i, sizeof(int), &offs[b], op);
        }
        if (!s) s = bind_ints(k, &i, 16, ints, op);
        if (!s) s = oclnn_arg(k, &i, sizeof(float), &g->alpha, op);
        if (!s) s = oclnn_arg(k, &i, sizeof(float), &beta, op);
        if (!s) s = oclnn_arg(k, &i, sizeof(int), &f, op);
        if (!s) s = oclnn_launch_enqueue(ctx, &l, op);
        k0 += kn;
    } while (!s && k0 < g->k);
    return s;
}
