/* Scaled dot-product attention: the fused kernels (cl/attention.cl) with
 * their FlashAttention-2 backward, and the unfused path built from matmul,
 * softmax and matmul, kept as the reference.
 *
 * Two kernel sets, chosen when the node is built (the context's device
 * type): GPUs get work-group kernels (a group owns BQ rows, K/V or Q/dO
 * tiles of BK rows stream through local memory); CPU devices get kernels
 * with one work-item per R rows, vectorised by hand over VW keys, reading
 * K^T, V etc. packed into a workspace aux output (O(N H L D)). Neither
 * stores an Lq x Lk matrix. The backward is two passes (dq over key
 * tiles; dk and dv over query tiles), so no float atomics.
 *
 * Node layout. Forward "sdpa": srcs q, k, v[, attn_mask][, kpm]; output o
 * [N, H, Lq, D]; aux lse [N, H, Lq] (+inf for a fully masked row)[, CPU
 * workspace]. Backward "sdpa_backward": srcs q, k, v, do, o, lse[,
 * attn_mask][, kpm]; output dq; aux dk, dv, delta[, CPU workspace]. q, k,
 * v and the additive mask are read through their strides; the key-padding
 * mask is made a contiguous i32 tensor by the constructor. */
#include "graph/graph.h"
#include "oclnn/attention.h"
#include "oclnn/layers.h"
#include "oclnn/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

extern const char oclnn_cl_attention[];

enum { P_N, P_H, P_LQ, P_LK, P_D, P_FLAGS, P_MASK, P_KPM, P_SEED, P_DROP_FROM };
/* fparam: 0 scale, 1 dropout_p */
enum { F_MASK = 1, F_KPM = 2, F_CAUSAL = 4 };
#define MAX_HEAD_DIM 256

static const char *shape(const oclnn_tensor *t, char *buf) { return oclnn_tensor_shape_str(t, buf, 128); }

/* ---- kernel options and argument binding */

typedef struct tiles {
    int dmax, bq, bk;
    char options[96];
} tiles;

static bool specialised(int64_t d) { return d == 16 || d == 32 || d == 64 || d == 80 || d == 96 || d == 128; }

/* Head dim and tile sizes: the only -D options. Local memory per group is
 * 2 BK DMAX floats (+ 2 BK in the dk/dv kernel); BK halves until it fits
 * in half of the device's local memory. */
static tiles choose_tiles(oclnn_context *ctx, int64_t d)
{
    tiles t;
    t.dmax = specialised(d) ? (int)d : d <= 64 ? 64 : d <= 128 ? 128 : MAX_HEAD_DIM;
    t.bq = t.dmax <= 64 ? 64 : 32;
    t.bk = t.dmax <= 64 ? 64 : 32;
    size_t local = ctx->info.local_mem_bytes ? (size_t)ctx->info.local_mem_bytes : 32768;
    while (t.bk > 8 && (size_t)(2 * t.bk * t.dmax + 2 * t.bk) * sizeof(float) > local / 2) t.bk /= 2;
    if (ctx->info.max_work_group_size && (size_t)t.bq > ctx->info.max_work_group_size)
        t.bq = (int)ctx->info.max_work_group_size;
    if (specialised(d))
        snprintf(t.options, sizeof t.options, "-DDMAX=%d -DHEAD_DIM=%d -DBQ=%d -DBK=%d", t.dmax, (int)d, t.bq, t.bk);
    else
        snprintf(t.options, sizeof t.options, "-DDMAX=%d -DBQ=%d -DBK=%d", t.dmax, t.bq, t.bk);
    return t;
}

static oclnn_status arg_int(cl_kernel k, cl_uint *i, int64_t v, const char *op)
{
    cl_int x = (cl_int)v;
    return oclnn_arg(k, i, sizeof x, &x, op);
}

/* A 4-D tensor as (buffer, offset, strides n, h, row, col). */
static oclnn_status arg_strided(cl_kernel k, cl_uint *i, const oclnn_tensor *t, const char *op)
{
    cl_int4 st;
    for (int d = 0; d < 4; d++) st.s[d] = (cl_int)t->strides[d];
    oclnn_status s = oclnn_arg_tensor(k, i, t, op);
    return s ? s : oclnn_arg(k, i, sizeof st, &st, op);
}

/* The masks: (mask, offset, broadcast strides) and (kpm, offset); `dummy`
 * stands in for an absent one (the flags keep the kernel from reading it). */
static oclnn_status arg_masks(cl_kernel k, cl_uint *i, const oclnn_tensor *node, const oclnn_tensor *dummy,
                              const char *op)
{
    const oclnn_tensor *mask = node->iparam[P_MASK] >= 0 ? node->src[node->iparam[P_MASK]] : NULL;
    const oclnn_tensor *kpm = node->iparam[P_KPM] >= 0 ? node->src[node->iparam[P_KPM]] : NULL;
    cl_int4 ms = {{0, 0, 0, 0}};
    if (mask)
        for (int d = 0; d < mask->ndim; d++) {
            int a = 4 - mask->ndim + d;
            ms.s[a] = mask->dims[d] == 1 ? 0 : (cl_int)mask->strides[d];
        }
    oclnn_status s = oclnn_arg_tensor(k, i, mask ? mask : dummy, op);
    if (!s) s = oclnn_arg(k, i, sizeof ms, &ms, op);
    if (!s) s = oclnn_arg_tensor(k, i, kpm ? kpm : dummy, op);
    return s;
}

/* The dropout arguments every compute kernel ends with (p, then seed and
 * stream as a uint4): placeholders here, set per run by enqueue(). */
static oclnn_status arg_dropout(cl_kernel k, cl_uint *i, const char *op)
{
    float p = 0.0f;
    cl_uint4 rng = {{0, 0, 0, 0}};
    oclnn_status s = oclnn_arg(k, i, sizeof p, &p, op);
    return s ? s : oclnn_arg(k, i, sizeof rng, &rng, op);
}

/* Enqueues the node's launches; those from iparam[P_DROP_FROM] on get this
 * run's dropout arguments: p (0 in eval mode), and the stream is the
 * graph's run counter, which advances only after a whole run, so the
 * backward node regenerates the forward's mask. */
static oclnn_status sdpa_enqueue(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_graph *g = node->graph;
    float p = g->training ? node->fparam[1] : 0.0f;
    uint64_t seed = (uint64_t)node->iparam[P_SEED], run = g->run_count;
    cl_uint4 rng = {{(cl_uint)seed, (cl_uint)(seed >> 32), (cl_uint)run, (cl_uint)(run >> 32)}};
    oclnn_status s = OCLNN_OK;
    for (int k = 0; k < node->nlaunch && !s; k++) {
        if (k >= node->iparam[P_DROP_FROM]) {
            cl_uint nargs = 0;
            cl_int err = clGetKernelInfo(node->launch[k].kernel, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL);
            if (err) return oclnn_cl_check(err, "clGetKernelInfo", op);
            cl_uint i = nargs - 2;
            s = oclnn_arg(node->launch[k].kernel, &i, sizeof p, &p, op);
            if (!s) s = oclnn_arg(node->launch[k].kernel, &i, sizeof rng, &rng, op);
        }
        if (!s) s = oclnn_launch_enqueue(ctx, &node->launch[k], op);
    }
    return s;
}

/* H, Lq, Lk, D, [the CPU kernels' padded D,] scale, flags, dropout:
 * the tail of every compute kernel's arguments. padded_d < 0: none. */
static oclnn_status arg_sizes_padded(cl_kernel k, cl_uint *i, const oclnn_tensor *node, int64_t padded_d,
                                     const char *op)
{
    oclnn_status s = OCLNN_OK;
    for (int p = P_H; p <= P_D && !s; p++) s = arg_int(k, i, node->iparam[p], op);
    if (!s && padded_d >= 0) s = arg_int(k, i, padded_d, op);
    if (!s) s = oclnn_arg(k, i, sizeof(float), &node->fparam[0], op);
    if (!s) s = arg_int(k, i, node->iparam[P_FLAGS], op);
    if (!s) s = arg_dropout(k, i, op);
    return s;
}

static oclnn_status arg_sizes(cl_kernel k, cl_uint *i, const oclnn_tensor *node, const char *op)
{
    return arg_sizes_padded(k, i, node, -1, op);
}

/* ---- CPU path: pack kernels into a workspace, then one work-item per R rows */

/* The CPU kernels keep kilobytes of private arrays per work-item, which
 * PoCL places in one stack frame per work-group: a driver-chosen group of
 * thousands of work-items overflows the thread's stack. One work-item per
 * group (each does O(L D) work, so the group overhead is small). */
static void cpu_groups(oclnn_launch *l)
{
    l->local[0] = 1;
    l->local[1] = 1;
}


/* keys per vector step: 16 (AVX-512 wide; two AVX2 registers elsewhere) */
#define VW 16
#define PACK_GROUP 64
static int64_t roundv(int64_t x) { return (x + VW - 1) / VW * VW; }

/* Floats of the forward workspace: K^T [NH, D, Lkp] and V rows [NH, Lkp, Dp]. */
static int64_t forward_ws(const int64_t *p)
{
    return p[P_N] * p[P_H] * roundv(p[P_LK]) * (p[P_D] + roundv(p[P_D]));
}

/* Floats of the backward workspace: K^T, V^T, K rows, Q^T, dO^T, Q rows, dO rows. */
static int64_t backward_ws(const int64_t *p)
{
    int64_t nh = p[P_N] * p[P_H], d = p[P_D], dp = roundv(d), lk = roundv(p[P_LK]), lq = roundv(p[P_LQ]);
    return nh * (lk * (2 * d + dp) + lq * (2 * d + 2 * dp));
}



/* Query (or key) rows per work-item: R accumulators of D floats (two sets
 * in the dk/dv kernel). Forward and backward use the same R, so one
 * program serves both. */
static int cpu_rows(int64_t d) { return d <= 64 ? 4 : 2; }

static void cpu_options(const tiles *t, int64_t d, char *buf, size_t size)
{
    snprintf(buf, size, "%s -DSDPA_CPU -DR=%d -DVW=%d", t->options, cpu_rows(d), VW);
}

/* (workspace buffer, its element offset + at) */
static oclnn_status arg_ws(cl_kernel k, cl_uint *i, const oclnn_tensor *ws, int64_t at, const char *op)
{
    cl_int off = (cl_int)(oclnn_tensor_elem_offset(ws) + at);
    oclnn_status s = oclnn_arg(k, i, sizeof(cl_mem), &ws->buffer, op);
    return s ? s : oclnn_arg(k, i, sizeof off, &off, op);
}

/* Packs src [N, H, L, D] (strided) into ws at `at`: transposed [NH, D, Lp]
 * or rows [NH, Lp, Dp]. */
static oclnn_status pack(oclnn_context *ctx, oclnn_tensor *node, const char *options, oclnn_tensor *ws, int64_t at,
                         const oclnn_tensor *src, int64_t L, bool transposed)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    int64_t nh = node->iparam[P_N] * node->iparam[P_H], d = node->iparam[P_D], lp = roundv(L), dp = roundv(d);
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_attention, options,
                                         transposed ? "sdpa_pack_t" : "sdpa_pack_rows", &l);
    if (!s) s = arg_ws(l->kernel, &i, ws, at, op);
    if (!s) s = arg_strided(l->kernel, &i, src, op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[P_H], op);
    if (!s) s = arg_int(l->kernel, &i, L, op);
    if (!s) s = arg_int(l->kernel, &i, lp, op);
    if (!s) s = arg_int(l->kernel, &i, d, op);
    if (!s && !transposed) s = arg_int(l->kernel, &i, dp, op);
    int64_t rows = nh * (transposed ? d : lp);
    if (!s) s = arg_int(l->kernel, &i, rows, op);
    if (s) return s;
    /* one work-item per packed row, in groups of PACK_GROUP (one group
     * shape: PoCL compiles a kernel variant per local size it sees) */
    l->dims = 1;
    l->global[0] = (size_t)((rows + PACK_GROUP - 1) / PACK_GROUP * PACK_GROUP);
    l->local[0] = PACK_GROUP;
    return s;
}

static oclnn_status sdpa_prepare_cpu(oclnn_context *ctx, oclnn_tensor *node, const tiles *t)
{
    const char *op = node->op->name;
    char options[128];
    cpu_options(t, node->iparam[P_D], options, sizeof options);
    oclnn_tensor *ws = node->aux[1];
    int64_t nh = node->iparam[P_N] * node->iparam[P_H], d = node->iparam[P_D];
    int64_t kt_at = 0, vp_at = nh * d * roundv(node->iparam[P_LK]);
    const oclnn_tensor *v = node->src[2];
    bool v_direct = v->strides[3] == 1 && d % VW == 0; /* V rows read in place */
    oclnn_status s = pack(ctx, node, options, ws, kt_at, node->src[1], node->iparam[P_LK], true);
    if (!s && !v_direct) s = pack(ctx, node, options, ws, vp_at, v, node->iparam[P_LK], false);
    oclnn_launch *l;
    cl_uint i = 0;
    node->iparam[P_DROP_FROM] = node->nlaunch;
    if (!s) s = oclnn_launch_kernel(ctx, node, oclnn_cl_attention, options, "sdpa_forward_cpu", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[0], op);
    if (!s) s = arg_strided(l->kernel, &i, node->src[0], op);
    if (!s) s = arg_ws(l->kernel, &i, ws, kt_at, op);
    if (v_direct) {
        if (!s) s = arg_strided(l->kernel, &i, v, op);
    } else {
        int64_t lp = roundv(node->iparam[P_LK]), dp = roundv(d);
        cl_int4 vps = {{(cl_int)(node->iparam[P_H] * lp * dp), (cl_int)(lp * dp), (cl_int)dp, 1}};
        if (!s) s = arg_ws(l->kernel, &i, ws, vp_at, op);
        if (!s) s = oclnn_arg(l->kernel, &i, sizeof vps, &vps, op);
    }
    if (!s) s = arg_masks(l->kernel, &i, node, node->src[0], op);
    if (!s) s = arg_sizes_padded(l->kernel, &i, node, roundv(d), op);
    if (s) return s;
    int r = cpu_rows(d);
    l->dims = 2;
    l->global[0] = (size_t)((node->iparam[P_LQ] + r - 1) / r);
    l->global[1] = (size_t)nh;
    cpu_groups(l);
    return OCLNN_OK;
}

/* Groups of BQ work-items over `rows` rows, times N * H. */
static void grid(oclnn_launch *l, const tiles *t, const oclnn_tensor *node, int64_t rows)
{
    l->dims = 2;
    l->local[0] = (size_t)t->bq;
    l->local[1] = 1;
    l->global[0] = (size_t)((rows + t->bq - 1) / t->bq * t->bq);
    l->global[1] = (size_t)(node->iparam[P_N] * node->iparam[P_H]);
}

/* ---- forward */

static oclnn_status sdpa_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    tiles t = choose_tiles(ctx, node->iparam[P_D]);
    if (node->naux > 1) return sdpa_prepare_cpu(ctx, node, &t); /* it has the CPU path's workspace */
    oclnn_launch *l;
    cl_uint i = 0;
    node->iparam[P_DROP_FROM] = node->nlaunch;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_attention, t.options, "sdpa_forward", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[0], op);
    for (int k = 0; k < 3 && !s; k++) s = arg_strided(l->kernel, &i, node->src[k], op);
    if (!s) s = arg_masks(l->kernel, &i, node, node->src[0], op);
    if (!s) s = arg_sizes(l->kernel, &i, node, op);
    if (!s) grid(l, &t, node, node->iparam[P_LQ]);
    return s;
}

/* ---- backward */

enum { B_Q, B_K, B_V, B_DO, B_O, B_LSE };

/* After the delta launch: packs, then the dq and dk/dv kernels. */
static oclnn_status sdpa_backward_prepare_cpu(oclnn_context *ctx, oclnn_tensor *node, const tiles *t)
{
    const char *op = node->op->name;
    char options[128];
    cpu_options(t, node->iparam[P_D], options, sizeof options);
    oclnn_tensor *dk = node->aux[0], *dv = node->aux[1], *delta = node->aux[2], *ws = node->aux[3];
    int64_t nh = node->iparam[P_N] * node->iparam[P_H], d = node->iparam[P_D], dp = roundv(d);
    int64_t lq = node->iparam[P_LQ], lk = node->iparam[P_LK], lqp = roundv(lq), lkp = roundv(lk);
    /* workspace parts: K^T, V^T, K rows, Q^T, dO^T, Q rows, dO rows */
    int64_t at[7], size[7] = {nh * d * lkp, nh * d * lkp, nh * lkp * dp, nh * d * lqp, nh * d * lqp, nh * lqp * dp,
                              nh * lqp * dp};
    const oclnn_tensor *from[7] = {node->src[B_K], node->src[B_V], node->src[B_K], node->src[B_Q], node->src[B_DO],
                                   node->src[B_Q], node->src[B_DO]};
    const bool trans[7] = {true, true, false, true, true, false, false};
    oclnn_status s = OCLNN_OK;
    for (int p = 0; p < 7 && !s; p++) {
        at[p] = p ? at[p - 1] + size[p - 1] : 0;
        s = pack(ctx, node, options, ws, at[p], from[p], p < 3 ? lk : lq, trans[p]);
    }
    oclnn_launch *l;
    cl_uint i = 0;
    int r = cpu_rows(d);
    node->iparam[P_DROP_FROM] = node->nlaunch;
    if (!s) s = oclnn_launch_kernel(ctx, node, oclnn_cl_attention, options, "sdpa_backward_dq_cpu", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = arg_strided(l->kernel, &i, node->src[B_Q], op);
    for (int p = 0; p < 3 && !s; p++) s = arg_ws(l->kernel, &i, ws, at[p], op);
    if (!s) s = arg_masks(l->kernel, &i, node, node->src[0], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[B_DO], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[B_LSE], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, delta, op);
    if (!s) s = arg_sizes_padded(l->kernel, &i, node, dp, op);
    if (s) return s;
    l->dims = 2;
    l->global[0] = (size_t)((lq + r - 1) / r);
    l->global[1] = (size_t)nh;
    cpu_groups(l);

    i = 0;
    s = oclnn_launch_kernel(ctx, node, oclnn_cl_attention, options, "sdpa_backward_dkv_cpu", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, dk, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, dv, op);
    if (!s) s = arg_strided(l->kernel, &i, node->src[B_K], op);
    if (!s) s = arg_strided(l->kernel, &i, node->src[B_V], op);
    for (int p = 3; p < 7 && !s; p++) s = arg_ws(l->kernel, &i, ws, at[p], op);
    if (!s) s = arg_masks(l->kernel, &i, node, node->src[0], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[B_LSE], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, delta, op);
    if (!s) s = arg_sizes_padded(l->kernel, &i, node, dp, op);
    if (s) return s;
    l->dims = 2;
    l->global[0] = (size_t)((lk + r - 1) / r);
    l->global[1] = (size_t)nh;
    cpu_groups(l);
    return OCLNN_OK;
}

static oclnn_status sdpa_backward_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    tiles t = choose_tiles(ctx, node->iparam[P_D]);
    oclnn_tensor *dk = node->aux[0], *dv = node->aux[1], *delta = node->aux[2];
    oclnn_launch *l;
    cl_uint i = 0;
    int64_t rows = node->iparam[P_N] * node->iparam[P_H] * node->iparam[P_LQ];
    char options[128]; /* the delta kernel is in both kernel sets' programs */
    if (node->naux > 3) cpu_options(&t, node->iparam[P_D], options, sizeof options);
    else snprintf(options, sizeof options, "%s", t.options);
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_attention, options, "sdpa_backward_delta", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, delta, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[B_DO], op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[B_O], op);
    if (!s) s = oclnn_arg_count(l->kernel, &i, rows, op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[P_D], op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)rows, op);
    if (s) return s;
    if (node->naux > 3) return sdpa_backward_prepare_cpu(ctx, node, &t);
    node->iparam[P_DROP_FROM] = node->nlaunch;

    for (int pass = 0; pass < 2; pass++) {
        i = 0;
        s = oclnn_launch_kernel(ctx, node, oclnn_cl_attention, t.options,
                                pass ? "sdpa_backward_dkv" : "sdpa_backward_dq", &l);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, pass ? dk : node, op);
        if (!s && pass) s = oclnn_arg_tensor(l->kernel, &i, dv, op);
        for (int k = 0; k < 3 && !s; k++) s = arg_strided(l->kernel, &i, node->src[k], op);
        if (!s) s = arg_masks(l->kernel, &i, node, node->src[0], op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[B_DO], op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[B_LSE], op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, delta, op);
        if (!s) s = arg_sizes(l->kernel, &i, node, op);
        if (s) return s;
        grid(l, &t, node, node->iparam[pass ? P_LK : P_LQ]);
    }
    return OCLNN_OK;
}

static const oclnn_op_def sdpa_backward_def = {
    .name = "sdpa_backward", .prepare = sdpa_backward_prepare, .forward = sdpa_enqueue, .strided_inputs = 0x7u | 0x40u | 0x80u};

static void sdpa_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *q = node->src[0], *k = node->src[1], *v = node->src[2];
    oclnn_tensor *dout = oclnn_contiguous(g, grads[0]);
    if (!dout) return;
    oclnn_tensor *srcs[8] = {q, k, v, dout, node, node->aux[0]};
    int nsrc = 6;
    int64_t mask_at = -1, kpm_at = -1;
    if (node->iparam[P_MASK] >= 0) srcs[mask_at = nsrc++] = node->src[node->iparam[P_MASK]];
    if (node->iparam[P_KPM] >= 0) srcs[kpm_at = nsrc++] = node->src[node->iparam[P_KPM]];
    oclnn_tensor *dq = oclnn_node_new(g, &sdpa_backward_def, OCLNN_DTYPE_F32, 4, node->dims, nsrc, srcs);
    if (!dq) return;
    memcpy(dq->iparam, node->iparam, sizeof dq->iparam);
    dq->iparam[P_MASK] = mask_at;
    dq->iparam[P_KPM] = kpm_at;
    dq->fparam[0] = node->fparam[0];
    dq->fparam[1] = node->fparam[1];
    int64_t kdims[4] = {node->iparam[P_N], node->iparam[P_H], node->iparam[P_LK], node->iparam[P_D]};
    oclnn_tensor *dk = oclnn_aux_new(dq, OCLNN_DTYPE_F32, 4, kdims);
    oclnn_tensor *dv = oclnn_aux_new(dq, OCLNN_DTYPE_F32, 4, kdims);
    if (!dk || !dv || !oclnn_aux_new(dq, OCLNN_DTYPE_F32, 3, node->aux[0]->dims)) return;
    int64_t ws = backward_ws(dq->iparam); /* CPU path (the forward chose it too) */
    if (node->naux > 1 && !oclnn_aux_new(dq, OCLNN_DTYPE_F32, 1, &ws)) return;
    if (q->flags & T_NEEDS_GRAD) oclnn_grad_add(g, q, dq);
    if (k->flags & T_NEEDS_GRAD) oclnn_grad_add(g, k, dk);
    if (v->flags & T_NEEDS_GRAD) oclnn_grad_add(g, v, dv);
}

static const oclnn_op_def sdpa_def = {
    .name = "sdpa", .prepare = sdpa_prepare, .forward = sdpa_enqueue, .backward = sdpa_backward, .strided_inputs = 0x1fu};

/* ---- the unfused path's mask node: bias [N, H, Lq, Lk], aux keep [N, H, Lq, 1] */

static oclnn_status mask_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_attention, "-DSDPA_MASK", "sdpa_mask_build", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[0], op);
    if (!s) s = arg_masks(l->kernel, &i, node, node, op);
    int64_t rows = node->iparam[P_N] * node->iparam[P_H] * node->iparam[P_LQ];
    for (int p = P_H; p <= P_LK && !s; p++) s = arg_int(l->kernel, &i, node->iparam[p], op);
    if (!s) s = oclnn_arg_count(l->kernel, &i, rows, op);
    if (!s) s = arg_int(l->kernel, &i, node->iparam[P_FLAGS], op);
    if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)rows, op);
    return s;
}

static const oclnn_op_def mask_def = {.name = "sdpa_mask", .prepare = mask_prepare, .strided_inputs = 0x3u};

/* ---- constructors */

typedef struct sdpa_args {
    int64_t n, h, lq, lk, d;
    int flags;
    float scale, dropout_p;
    oclnn_tensor *mask, *kpm; /* kpm: contiguous i32 */
} sdpa_args;

static bool check_args(oclnn_graph *g, const char *op, oclnn_tensor *q, oclnn_tensor *k, oclnn_tensor *v,
                       oclnn_tensor *mask, oclnn_tensor *kpm, int causal, float scale, float dropout_p, bool fused,
                       sdpa_args *a)
{
    oclnn_tensor *qkv[3] = {q, k, v};
    if (!oclnn_graph_usable(g, op, 3, qkv)) return false;
    if ((mask && !oclnn_graph_usable(g, op, 1, &mask)) || (kpm && !oclnn_graph_usable(g, op, 1, &kpm)))
        return false;
    char qs[128], ks[128], vs[128], ms[128];
    for (int t = 0; t < 3; t++)
        if (qkv[t]->ndim != 4 || qkv[t]->dtype != OCLNN_DTYPE_F32) {
            oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: q, k and v must be f32 [N, H, L, D], got q %s %s, k %s %s, v %s %s",
                             op, oclnn_dtype_name(q->dtype), shape(q, qs), oclnn_dtype_name(k->dtype), shape(k, ks),
                             oclnn_dtype_name(v->dtype), shape(v, vs));
            return false;
        }
    a->n = q->dims[0];
    a->h = q->dims[1];
    a->lq = q->dims[2];
    a->lk = k->dims[2];
    a->d = q->dims[3];
    bool ok = k->dims[0] == a->n && v->dims[0] == a->n && k->dims[1] == a->h && v->dims[1] == a->h &&
              v->dims[2] == a->lk && k->dims[3] == a->d && v->dims[3] == a->d;
    if (!ok) {
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE,
                         "%s: q %s, k %s, v %s do not fit q [N, H, Lq, D], k and v [N, H, Lk, D]", op, shape(q, qs),
                         shape(k, ks), shape(v, vs));
        return false;
    }
    if (a->d < 1 || a->n < 1 || a->h < 1 || a->lq < 1 || a->lk < 1) {
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: empty q %s or k %s (head dim, batch, heads and lengths must be >= 1)",
                         op, shape(q, qs), shape(k, ks));
        return false;
    }
    if (fused && a->d > MAX_HEAD_DIM) {
        oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: head dim %lld of q %s is above %d (use oclnn_sdpa_unfused)",
                         op, (long long)a->d, shape(q, qs), MAX_HEAD_DIM);
        return false;
    }
    if (a->n * a->h * a->lq * a->lk > 0x7fffffffLL && !fused) {
        oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: the %lld x %lld score matrices of q %s exceed 2^31 elements",
                         op, (long long)a->lq, (long long)a->lk, shape(q, qs));
        return false;
    }
    if (!(dropout_p >= 0.0f && dropout_p < 1.0f)) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: dropout_p %g must be in [0, 1)", op, (double)dropout_p);
        return false;
    }
    a->dropout_p = dropout_p;
    if (!(scale >= 0.0f) || isinf(scale)) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: scale %g must be finite and >= 0 (0: 1/sqrt(D))", op,
                         (double)scale);
        return false;
    }
    a->scale = scale > 0.0f ? scale : (float)(1.0 / sqrt((double)a->d));
    a->flags = causal ? F_CAUSAL : 0;
    a->mask = a->kpm = NULL;
    if (mask) {
        const int64_t full[4] = {a->n, a->h, a->lq, a->lk};
        bool fits = mask->dtype == OCLNN_DTYPE_F32 && mask->ndim >= 1 && mask->ndim <= 4;
        for (int d = 0; fits && d < mask->ndim; d++) {
            int64_t want = full[4 - mask->ndim + d];
            fits = mask->dims[d] == want || mask->dims[d] == 1;
        }
        if (!fits) {
            oclnn_graph_fail(g, OCLNN_ERR_SHAPE,
                             "%s: attn_mask %s %s must be f32 and broadcast to [N, H, Lq, Lk] = [%lld, %lld, %lld, %lld]",
                             op, oclnn_dtype_name(mask->dtype), shape(mask, ms), (long long)a->n, (long long)a->h,
                             (long long)a->lq, (long long)a->lk);
            return false;
        }
        a->mask = mask;
        a->flags |= F_MASK;
    }
    if (kpm) {
        if ((kpm->dtype != OCLNN_DTYPE_I32 && kpm->dtype != OCLNN_DTYPE_I64) || kpm->ndim != 2 ||
            kpm->dims[0] != a->n || kpm->dims[1] != a->lk) {
            oclnn_graph_fail(g, OCLNN_ERR_SHAPE,
                             "%s: key_padding_mask %s %s must be i32 or i64 [N, Lk] = [%lld, %lld] (nonzero = masked)",
                             op, oclnn_dtype_name(kpm->dtype), shape(kpm, ms), (long long)a->n, (long long)a->lk);
            return false;
        }
        a->kpm = kpm->dtype == OCLNN_DTYPE_I32 ? oclnn_contiguous(g, kpm) : oclnn_cast(g, kpm, OCLNN_DTYPE_I32);
        if (!a->kpm) return false;
        a->flags |= F_KPM;
    }
    return true;
}

static void set_params(oclnn_tensor *t, const sdpa_args *a, int64_t mask_at, int64_t kpm_at)
{
    t->iparam[P_N] = a->n;
    t->iparam[P_H] = a->h;
    t->iparam[P_LQ] = a->lq;
    t->iparam[P_LK] = a->lk;
    t->iparam[P_D] = a->d;
    t->iparam[P_FLAGS] = a->flags;
    t->iparam[P_MASK] = mask_at;
    t->iparam[P_KPM] = kpm_at;
    t->fparam[0] = a->scale;
    t->fparam[1] = a->dropout_p;
}

oclnn_tensor *oclnn_sdpa_ex(oclnn_graph *g, oclnn_tensor *q, oclnn_tensor *k, oclnn_tensor *v,
                            const oclnn_sdpa_options *o)
{
    const oclnn_sdpa_options none = {0};
    if (!o) o = &none;
    sdpa_args a;
    const char *op = o->unfused ? "sdpa_unfused" : "sdpa";
    if (!check_args(g, op, q, k, v, o->attn_mask, o->key_padding_mask, o->causal, o->scale, o->dropout_p,
                    !o->unfused, &a))
        return NULL;
    uint64_t seed = o->dropout_seed ? o->dropout_seed : OCLNN_DROPOUT_SEED + (uint64_t)g->count;
    if (o->unfused) {
        oclnn_tensor *s = oclnn_scale(g, oclnn_matmul_t(g, q, 0, k, 1), a.scale, 0.0f);
        oclnn_tensor *keep = NULL;
        if (a.flags) {
            oclnn_tensor *srcs[2];
            int nsrc = 0;
            int64_t mask_at = -1, kpm_at = -1;
            if (a.mask) srcs[mask_at = nsrc++] = a.mask;
            if (a.kpm) srcs[kpm_at = nsrc++] = a.kpm;
            int64_t bdims[4] = {a.n, a.h, a.lq, a.lk}, kdims[4] = {a.n, a.h, a.lq, 1};
            oclnn_tensor *bias = oclnn_node_new(g, &mask_def, OCLNN_DTYPE_F32, 4, bdims, nsrc, srcs);
            if (!bias) return NULL;
            set_params(bias, &a, mask_at, kpm_at);
            if (!(keep = oclnn_aux_new(bias, OCLNN_DTYPE_F32, 4, kdims))) return NULL;
            s = oclnn_add(g, s, bias);
        }
        oclnn_tensor *p = oclnn_softmax(g, s);
        if (keep) p = oclnn_mul(g, p, keep);
        /* the same mask as the fused kernels: element (nh Lq + i) Lk + j */
        if (a.dropout_p > 0.0f) p = oclnn_dropout_seeded(g, p, a.dropout_p, seed);
        return oclnn_matmul(g, p, v);
    }
    if (a.dropout_p > 0.0f && a.n * a.h * a.lq * a.lk >= (1LL << 62)) {
        char qs[128];
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: q %s: too many scores for the dropout counter", op,
                                shape(q, qs));
    }
    oclnn_tensor *srcs[5] = {q, k, v};
    int nsrc = 3;
    int64_t mask_at = -1, kpm_at = -1;
    if (a.mask) srcs[mask_at = nsrc++] = a.mask;
    if (a.kpm) srcs[kpm_at = nsrc++] = a.kpm;
    int64_t dims[4] = {a.n, a.h, a.lq, a.d};
    oclnn_tensor *t = oclnn_node_new(g, &sdpa_def, OCLNN_DTYPE_F32, 4, dims, nsrc, srcs);
    if (!t) return NULL;
    set_params(t, &a, mask_at, kpm_at);
    t->iparam[P_SEED] = (int64_t)seed;
    if (!oclnn_aux_new(t, OCLNN_DTYPE_F32, 3, dims)) return NULL;
    /* CPU devices: a workspace for the packed K and V (see cl/attention.cl) */
    int64_t ws = forward_ws(t->iparam);
    if (g->ctx->info.is_cpu && !oclnn_aux_new(t, OCLNN_DTYPE_F32, 1, &ws)) return NULL;
    return t;
}

oclnn_tensor *oclnn_sdpa_masked(oclnn_graph *g, oclnn_tensor *q, oclnn_tensor *k, oclnn_tensor *v,
                                oclnn_tensor *attn_mask, oclnn_tensor *key_padding_mask, int causal, float scale,
                                float dropout_p)
{
    oclnn_sdpa_options o = {.attn_mask = attn_mask, .key_padding_mask = key_padding_mask, .causal = causal,
                            .scale = scale, .dropout_p = dropout_p};
    return oclnn_sdpa_ex(g, q, k, v, &o);
}

oclnn_tensor *oclnn_sdpa(oclnn_graph *g, oclnn_tensor *q, oclnn_tensor *k, oclnn_tensor *v, oclnn_tensor *mask,
                         int causal, float scale, float dropout_p)
{
    bool additive = !mask || mask->dtype == OCLNN_DTYPE_F32;
    return oclnn_sdpa_masked(g, q, k, v, additive ? mask : NULL, additive ? NULL : mask, causal, scale, dropout_p);
}

oclnn_tensor *oclnn_sdpa_unfused(oclnn_graph *g, oclnn_tensor *q, oclnn_tensor *k, oclnn_tensor *v,
                                 oclnn_tensor *attn_mask, oclnn_tensor *key_padding_mask, int causal, float scale,
                                 float dropout_p)
{
    oclnn_sdpa_options o = {.attn_mask = attn_mask, .key_padding_mask = key_padding_mask, .causal = causal,
                            .scale = scale, .dropout_p = dropout_p, .unfused = 1};
    return oclnn_sdpa_ex(g, q, k, v, &o);
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_attention_ops[] = {&sdpa_def, &sdpa_backward_def, &mask_def, NULL};
