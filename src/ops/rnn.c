/* LSTM and GRU (include/oclnn/rnn.h): one graph node per layer, holding
 * both directions, and one gradient node per layer and direction.
 *
 * Rows. Every per-step buffer of a layer has one row per (n, t), in the
 * order of the input's layout: row n * T + t (batch first) or t * N + n
 * (time major). The input projection of all steps is then one GEMM over
 * the input as a [N*T, in] matrix whatever the layout, and so are the
 * weight gradients of the backward pass (dW = dG^T X over all rows); a
 * step's rows are a strided matrix (offset t * st rows, stride sn rows)
 * that the per-step GEMMs and kernels address directly.
 *
 * Forward node (op "lstm" / "gru"), per direction d:
 *   WT[d] = W_ih^T, W_hh^T             transposed once per run (small), so
 *                                      that every product is a plain A * B,
 *                                      the fastest form of the tiled GEMM
 *                                      engine (about 2x over A * B^T on PoCL)
 *   G[d]  = X W_ih^T                   one GEMM, all steps (into the gate rows)
 *   HP[d] first step rows = h0 (or 0), CP[d] = c0 (LSTM)
 *   per step t (t ascending, or descending for d = 1):
 *     R = HP[d][t] W_hh^T              one GEMM, [N, G*H]
 *     lstm_step / gru_step             gates, state, output; the new state
 *                                      goes to HP[d][next] (or h_n)
 * Outputs: the sequence (node), h_n and c_n (differentiable aux), and the
 * saved G (activated gates), HP (h_prev of each step), CP (c_prev of each
 * step) and the R and WT workspaces. HP doubles as the state passed
 * between steps and as the right operand of dW_hh = dG^T HP.
 *
 * Gradient node (op "lstm_grad" / "gru_grad"), for direction d, steps in
 * the reverse of the forward order:
 *   dh, dc = grads of h_n, c_n          carries, [1, N, H] (they end as dh0, dc0)
 *   per step: *_step_grad kernel        gate gradients dG of the step
 *             dh += dG[t] W_hh          one GEMM (beta 1)
 *   dGT = dG^T                          one transpose kernel, so that:
 *   dW_ih = dGiT X, dW_hh = dGhT HP     one GEMM each over all steps
 *   db_ih, db_hh = 1^T dGi, 1^T dGh     one GEMM each (m = 1)
 *   dx = dGi W_ih                       one GEMM (when x needs a gradient)
 * (LSTM: dGi = dGh = dG; GRU: they differ in the n block, dGh = dn * r.)
 * The node's output is dx; the graph sums the two directions' dx (its
 * grad_add). Every product is a plain A * B, on one GEMM plan per node.
 *
 * Lengths: rows past a sequence's length compute on valid data and select
 * (the step kernels are branch-free so that PoCL vectorises them); the
 * forward keeps the state there and writes zeros, the backward keeps the
 * carries and writes zero gate gradients, so they add nothing to dW. */
#include "graph/graph.h"
#include "oclnn/ops.h"
#include "oclnn/rnn.h"
#include "oclnn/layers.h"
#include "ops/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char oclnn_cl_rnn[];

enum { MODE_LSTM = 0, MODE_GRU = 1 };

typedef struct rnn_data {
    int mode;        /* MODE_LSTM or MODE_GRU */
    int ng;          /* gates: 4 or 3 */
    int N, T, in, H, D;
    int sn, st;      /* row strides of sequence n and step t, in rows */
    int dir;         /* gradient node: its direction */
    int check_len;   /* forward: read lengths back and check them (the first layer) */
    /* source indices (-1: absent) */
    int s_h0, s_c0, s_w, s_len;
    /* gradient node sources */
    int s_x, s_wih, s_whh, s_g, s_hp, s_cp, s_dy, s_dhn, s_dcn;
    /* forward aux indices */
    int a_hn, a_cn, a_g, a_hp, a_cp, a_r, a_wt;
    /* gradient aux indices */
    int a_dh0, a_dc0, a_dwih, a_dwhh, a_dbih, a_dbhh, a_dg;
    int x_needs_grad;
    oclnn_gemm_plan nn; /* every product is a plain A * B */
} rnn_data;

enum { L_INIT, L_STEP, L_TRANSPOSE, L_FILL };

/* ---- argument binding for the per-step launches */

typedef struct argb {
    cl_kernel k;
    cl_uint i;
    oclnn_status s;
    const char *op;
} argb;

static void a_mem(argb *a, cl_mem m, int64_t off)
{
    cl_int o = (cl_int)off;
    if (!a->s) a->s = oclnn_arg(a->k, &a->i, sizeof m, &m, a->op);
    if (!a->s) a->s = oclnn_arg(a->k, &a->i, sizeof o, &o, a->op);
}

static void a_int(argb *a, int64_t v)
{
    cl_int x = (cl_int)v;
    if (!a->s) a->s = oclnn_arg(a->k, &a->i, sizeof x, &x, a->op);
}

static int64_t off_of(const oclnn_tensor *t) { return oclnn_tensor_elem_offset(t); }

static void rnn_release(oclnn_tensor *node)
{
    rnn_data *d = node->op_data;
    if (!d) return;
    oclnn_gemm_plan_release(&d->nn);
    free(d);
    node->op_data = NULL;
}

static oclnn_status gemm_run(oclnn_context *ctx, const oclnn_gemm_plan *plan, const oclnn_gemm_args *a,
                             const char *op, bool dry)
{
    return dry ? oclnn_gemm_reserve(ctx, plan, a, op) : oclnn_gemm_enqueue(ctx, plan, a, op);
}

static oclnn_gemm_args gemm_args(bool ta, bool tb, size_t m, size_t n, size_t k, float beta)
{
    oclnn_gemm_args a;
    memset(&a, 0, sizeof a);
    a.trans_a = ta;
    a.trans_b = tb;
    a.m = m;
    a.n = n;
    a.k = k;
    a.alpha = 1.0f;
    a.beta = beta;
    a.batch = 1;
    return a;
}

static oclnn_status plan_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    rnn_data *d = node->op_data;
    oclnn_gemm_plan_release(&d->nn);
    oclnn_gemm_args a = gemm_args(false, false, 0, 0, 0, 0.0f);
    return oclnn_gemm_prepare(ctx, OCLNN_GEMM_AUTO, &a, node->op->name, &d->nn);
}

/* launch[] = rnn_init, the step kernel, rnn_transpose, rnn_fill; the
 * last two get their sizes per enqueue. */
static oclnn_status kernels_prepare(oclnn_context *ctx, oclnn_tensor *node, const char *step)
{
    rnn_data *d = node->op_data;
    const char *op = node->op->name;
    const char *names[4] = {"rnn_init", step, "rnn_transpose", "rnn_fill"};
    for (int k = 0; k < 4; k++) {
        oclnn_launch *l;
        oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_rnn, "", names[k], &l);
        if (!s) s = oclnn_launch_1d_groups(ctx, l, (size_t)d->N * d->H, op);
        if (s) return s;
    }
    return OCLNN_OK;
}

/* Launch `which` over n items, in the work-group size prepare chose. */
static oclnn_status enqueue_n(oclnn_context *ctx, oclnn_tensor *node, int which, size_t n)
{
    oclnn_launch l = node->launch[which];
    size_t wg = l.local[0] ? l.local[0] : 1;
    l.global[0] = (n + wg - 1) / wg * wg;
    return oclnn_launch_enqueue(ctx, &l, node->op->name);
}

/* dst = src^T for a [rows, cols] matrix at (buffer, offset). */
static oclnn_status enqueue_transpose(oclnn_context *ctx, oclnn_tensor *node, cl_mem dst, int64_t dst_off, cl_mem src,
                                     int64_t src_off, int64_t rows, int64_t cols)
{
    argb a = {node->launch[L_TRANSPOSE].kernel, 0, OCLNN_OK, node->op->name};
    a_mem(&a, dst, dst_off);
    a_mem(&a, src, src_off);
    a_int(&a, rows);
    a_int(&a, cols);
    return a.s ? a.s : enqueue_n(ctx, node, L_TRANSPOSE, (size_t)(((rows + 7) / 8) * ((cols + 7) / 8)));
}

/* dst rows (buffer, offset, ld) = src [N, H] at src_off, or zeros. */
static oclnn_status enqueue_init(oclnn_context *ctx, oclnn_tensor *node, cl_mem dst, int64_t dst_off, int64_t dst_ld,
                                 const oclnn_tensor *src, int64_t src_off)
{
    rnn_data *d = node->op_data;
    argb a = {node->launch[L_INIT].kernel, 0, OCLNN_OK, node->op->name};
    a_mem(&a, dst, dst_off);
    a_int(&a, dst_ld);
    a_mem(&a, src ? src->buffer : dst, src ? off_of(src) + src_off : 0);
    a_int(&a, src != NULL);
    a_int(&a, d->N);
    a_int(&a, d->H);
    return a.s ? a.s : oclnn_launch_enqueue(ctx, &node->launch[L_INIT], node->op->name);
}

/* The lengths are data: checked on the host when the first layer runs,
 * so that a bad value is an error naming it rather than a silent read
 * past the sequence. */
static oclnn_status check_lengths(oclnn_context *ctx, oclnn_tensor *node)
{
    rnn_data *d = node->op_data;
    const oclnn_tensor *len = node->src[d->s_len];
    int *host = malloc((size_t)d->N * sizeof *host);
    if (!host) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", node->op->name);
    cl_int err = clEnqueueReadBuffer(ctx->queue, len->buffer, CL_TRUE, (size_t)off_of(len) * sizeof *host,
                                     (size_t)d->N * sizeof *host, host, 0, NULL, NULL);
    oclnn_status s = oclnn_cl_check(err, "clEnqueueReadBuffer (lengths)", node->op->name);
    for (int n = 0; n < d->N && !s; n++)
        if (host[n] < 0 || host[n] > d->T)
            s = oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: lengths[%d] = %d is outside [0, T = %d] (input [%s %d, %d, %d])",
                           node->op->name, n, host[n], d->T, d->sn == 1 ? "T, N, I =" : "N, T, I =",
                           d->sn == 1 ? d->T : d->N, d->sn == 1 ? d->N : d->T, (int)node->src[0]->dims[2]);
    free(host);
    return s;
}

/* ---- forward node */

static oclnn_status layer_run(oclnn_context *ctx, oclnn_tensor *node, bool dry)
{
    rnn_data *d = node->op_data;
    const char *op = node->op->name;
    const int N = d->N, T = d->T, H = d->H, D = d->D, gw = 4 * H, GH = d->ng * H;
    const int64_t rows = (int64_t)N * T;
    const oclnn_tensor *x = node->src[0], *len = d->s_len >= 0 ? node->src[d->s_len] : NULL;
    const oclnn_tensor *h0 = d->s_h0 >= 0 ? node->src[d->s_h0] : NULL, *c0 = d->s_c0 >= 0 ? node->src[d->s_c0] : NULL;
    oclnn_tensor *G = node->aux[d->a_g], *HP = node->aux[d->a_hp], *R = node->aux[d->a_r], *hn = node->aux[d->a_hn];
    oclnn_tensor *WT = node->aux[d->a_wt];
    oclnn_tensor *CP = d->mode == MODE_LSTM ? node->aux[d->a_cp] : NULL;
    oclnn_tensor *cn = d->mode == MODE_LSTM ? node->aux[d->a_cn] : NULL;
    oclnn_status s = OCLNN_OK;
    if (!dry && len && d->check_len && (s = check_lengths(ctx, node))) return s;
    for (int dir = 0; dir < D && !s; dir++) {
        const oclnn_tensor *wih = node->src[d->s_w + 4 * dir], *whh = node->src[d->s_w + 4 * dir + 1];
        const oclnn_tensor *bih = node->src[d->s_w + 4 * dir + 2], *bhh = node->src[d->s_w + 4 * dir + 3];
        int64_t g_base = off_of(G) + (int64_t)dir * rows * gw, hp_base = off_of(HP) + (int64_t)dir * rows * H;
        int64_t cp_base = CP ? off_of(CP) + (int64_t)dir * rows * H : 0;
        /* W_ih^T [in, GH] and W_hh^T [H, GH] of this direction */
        int64_t wiht = off_of(WT) + (int64_t)dir * (d->in + H) * GH, whht = wiht + (int64_t)d->in * GH;
        if (!dry) s = enqueue_transpose(ctx, node, WT->buffer, wiht, wih->buffer, off_of(wih), GH, d->in);
        if (!dry && !s) s = enqueue_transpose(ctx, node, WT->buffer, whht, whh->buffer, off_of(whh), GH, H);
        /* The input projection of every step. */
        oclnn_gemm_args a = gemm_args(false, false, (size_t)rows, (size_t)GH, (size_t)d->in, 0.0f);
        a.a = x->buffer;
        a.a_off = (size_t)off_of(x);
        a.lda = (size_t)d->in;
        a.b = WT->buffer;
        a.b_off = (size_t)wiht;
        a.ldb = (size_t)GH;
        a.c = G->buffer;
        a.c_off = (size_t)g_base;
        a.ldc = (size_t)gw;
        if (!s) s = gemm_run(ctx, &d->nn, &a, op, dry);
        int first = dir ? T - 1 : 0;
        if (!dry && !s)
            s = enqueue_init(ctx, node, HP->buffer, hp_base + (int64_t)first * d->st * H, (int64_t)d->sn * H, h0,
                             (int64_t)dir * N * H);
        if (!dry && !s && CP)
            s = enqueue_init(ctx, node, CP->buffer, cp_base + (int64_t)first * d->st * H, (int64_t)d->sn * H, c0,
                             (int64_t)dir * N * H);
        for (int step = 0; step < T && !s; step++) {
            int t = dir ? T - 1 - step : step, last = step == T - 1, next = dir ? t - 1 : t + 1;
            int64_t hp_t = hp_base + (int64_t)t * d->st * H, cp_t = cp_base + (int64_t)t * d->st * H;
            /* R = h_prev W_hh^T */
            a = gemm_args(false, false, (size_t)N, (size_t)GH, (size_t)H, 0.0f);
            a.a = HP->buffer;
            a.a_off = (size_t)hp_t;
            a.lda = (size_t)d->sn * H;
            a.b = WT->buffer;
            a.b_off = (size_t)whht;
            a.ldb = (size_t)GH;
            a.c = R->buffer;
            a.c_off = (size_t)off_of(R);
            a.ldc = (size_t)GH;
            s = gemm_run(ctx, &d->nn, &a, op, dry);
            if (dry || s) continue;
            argb k = {node->launch[L_STEP].kernel, 0, OCLNN_OK, op};
            a_mem(&k, G->buffer, g_base + (int64_t)t * d->st * gw);
            a_int(&k, (int64_t)d->sn * gw);
            a_mem(&k, R->buffer, off_of(R));
            a_mem(&k, bih->buffer, off_of(bih));
            a_mem(&k, bhh->buffer, off_of(bhh));
            a_mem(&k, HP->buffer, hp_t);
            a_int(&k, (int64_t)d->sn * H);
            if (CP) {
                a_mem(&k, CP->buffer, cp_t);
                a_int(&k, (int64_t)d->sn * H);
            }
            if (last) {
                a_mem(&k, hn->buffer, off_of(hn) + (int64_t)dir * N * H);
                a_int(&k, H);
            } else {
                a_mem(&k, HP->buffer, hp_base + (int64_t)next * d->st * H);
                a_int(&k, (int64_t)d->sn * H);
            }
            if (CP) {
                if (last) {
                    a_mem(&k, cn->buffer, off_of(cn) + (int64_t)dir * N * H);
                    a_int(&k, H);
                } else {
                    a_mem(&k, CP->buffer, cp_base + (int64_t)next * d->st * H);
                    a_int(&k, (int64_t)d->sn * H);
                }
            }
            a_mem(&k, node->buffer, off_of(node) + (int64_t)t * d->st * D * H + (int64_t)dir * H);
            a_int(&k, (int64_t)d->sn * D * H);
            a_mem(&k, len ? len->buffer : G->buffer, len ? off_of(len) : 0);
            a_int(&k, len != NULL);
            a_int(&k, t);
            a_int(&k, N);
            a_int(&k, H);
            s = k.s ? k.s : oclnn_launch_enqueue(ctx, &node->launch[L_STEP], op);
        }
    }
    return s;
}

static oclnn_status layer_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    rnn_data *d = node->op_data;
    oclnn_status s = plan_prepare(ctx, node);
    if (!s) s = kernels_prepare(ctx, node, d->mode == MODE_LSTM ? "lstm_step" : "gru_step");
    return s ? s : layer_run(ctx, node, true);
}

static oclnn_status layer_forward(oclnn_context *ctx, oclnn_tensor *node) { return layer_run(ctx, node, false); }

static void layer_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads);

static const oclnn_op_def lstm_def = {.name = "lstm",
                                      .prepare = layer_prepare,
                                      .forward = layer_forward,
                                      .backward = layer_backward,
                                      .release = rnn_release};
static const oclnn_op_def gru_def = {.name = "gru",
                                     .prepare = layer_prepare,
                                     .forward = layer_forward,
                                     .backward = layer_backward,
                                     .release = rnn_release};

/* ---- gradient node (one direction) */

static oclnn_status grad_run(oclnn_context *ctx, oclnn_tensor *node, bool dry)
{
    rnn_data *d = node->op_data;
    const char *op = node->op->name;
    const int N = d->N, T = d->T, H = d->H, D = d->D, gw = 4 * H, GH = d->ng * H, dir = d->dir;
    const bool lstm = d->mode == MODE_LSTM;
    const int64_t rows = (int64_t)N * T;
    const oclnn_tensor *x = node->src[d->s_x], *wih = node->src[d->s_wih], *whh = node->src[d->s_whh];
    const oclnn_tensor *G = node->src[d->s_g], *HP = node->src[d->s_hp], *CP = lstm ? node->src[d->s_cp] : NULL;
    const oclnn_tensor *dy = node->src[d->s_dy], *dhn = node->src[d->s_dhn];
    const oclnn_tensor *dcn = lstm ? node->src[d->s_dcn] : NULL, *len = d->s_len >= 0 ? node->src[d->s_len] : NULL;
    oclnn_tensor *dh = node->aux[d->a_dh0], *dc = lstm ? node->aux[d->a_dc0] : NULL, *dG = node->aux[d->a_dg];
    const int64_t g_base = off_of(G) + (int64_t)dir * rows * gw, hp_base = off_of(HP) + (int64_t)dir * rows * H;
    const int64_t cp_base = CP ? off_of(CP) + (int64_t)dir * rows * H : 0;
    /* The workspace: dGi and dGh [rows, GH] (the same block for LSTM, two
     * for GRU), then their transposes [GH, rows], then a ones vector [rows]. */
    const int64_t nblk = lstm ? 1 : 2, blk = rows * GH;
    const int64_t dgi_base = off_of(dG), dgh_base = dgi_base + (lstm ? 0 : blk);
    const int64_t dgit_base = dgi_base + nblk * blk, dght_base = dgit_base + (lstm ? 0 : blk);
    const int64_t ones_base = dgi_base + 2 * nblk * blk;
    oclnn_status s = OCLNN_OK;
    if (!dry) s = enqueue_init(ctx, node, dh->buffer, off_of(dh), H, dhn, (int64_t)dir * N * H);
    if (!dry && !s && dc) s = enqueue_init(ctx, node, dc->buffer, off_of(dc), H, dcn, (int64_t)dir * N * H);
    for (int step = 0; step < T && !s; step++) {
        int t = dir ? step : T - 1 - step;
        int64_t row0 = (int64_t)t * d->st;
        if (!dry) {
            argb k = {node->launch[L_STEP].kernel, 0, OCLNN_OK, op};
            a_mem(&k, G->buffer, g_base + row0 * gw);
            a_int(&k, (int64_t)d->sn * gw);
            if (lstm) a_mem(&k, CP->buffer, cp_base + row0 * H);
            else a_mem(&k, HP->buffer, hp_base + row0 * H);
            a_int(&k, (int64_t)d->sn * H);
            a_mem(&k, dy->buffer, off_of(dy) + row0 * D * H + (int64_t)dir * H);
            a_int(&k, (int64_t)d->sn * D * H);
            a_mem(&k, dh->buffer, off_of(dh));
            if (lstm) {
                a_mem(&k, dc->buffer, off_of(dc));
                a_mem(&k, dG->buffer, dgi_base + row0 * GH);
            } else {
                a_mem(&k, dG->buffer, dgi_base + row0 * GH);
                a_mem(&k, dG->buffer, dgh_base + row0 * GH);
            }
            a_int(&k, (int64_t)d->sn * GH);
            a_mem(&k, len ? len->buffer : dG->buffer, len ? off_of(len) : 0);
            a_int(&k, len != NULL);
            a_int(&k, t);
            a_int(&k, N);
            a_int(&k, H);
            s = k.s ? k.s : oclnn_launch_enqueue(ctx, &node->launch[L_STEP], op);
        }
        /* dh += dGh[t] W_hh */
        oclnn_gemm_args a = gemm_args(false, false, (size_t)N, (size_t)H, (size_t)GH, 1.0f);
        a.a = dG->buffer;
        a.a_off = (size_t)(dgh_base + row0 * GH);
        a.lda = (size_t)d->sn * GH;
        a.b = whh->buffer;
        a.b_off = (size_t)off_of(whh);
        a.ldb = (size_t)H;
        a.c = dh->buffer;
        a.c_off = (size_t)off_of(dh);
        a.ldc = (size_t)H;
        if (!s) s = gemm_run(ctx, &d->nn, &a, op, dry);
    }
    /* Weight gradients over all steps: dW_ih = dGi^T X, dW_hh = dGh^T HP,
     * from the transposed gate gradients (plain A * B), and the biases' as
     * 1^T dG. */
    for (int b = 0; b < nblk && !s && !dry; b++)
        s = enqueue_transpose(ctx, node, dG->buffer, b ? dght_base : dgit_base, dG->buffer, b ? dgh_base : dgi_base,
                              rows, GH);
    if (!s && !dry) {
        argb k = {node->launch[L_FILL].kernel, 0, OCLNN_OK, op};
        float one = 1.0f;
        a_mem(&k, dG->buffer, ones_base);
        a_int(&k, rows);
        if (!k.s) k.s = oclnn_arg(k.k, &k.i, sizeof one, &one, op);
        s = k.s ? k.s : enqueue_n(ctx, node, L_FILL, (size_t)rows);
    }
    oclnn_tensor *dwih = node->aux[d->a_dwih], *dwhh = node->aux[d->a_dwhh];
    oclnn_gemm_args a = gemm_args(false, false, (size_t)GH, (size_t)d->in, (size_t)rows, 0.0f);
    a.a = dG->buffer;
    a.a_off = (size_t)dgit_base;
    a.lda = (size_t)rows;
    a.b = x->buffer;
    a.b_off = (size_t)off_of(x);
    a.ldb = (size_t)d->in;
    a.c = dwih->buffer;
    a.c_off = (size_t)off_of(dwih);
    a.ldc = (size_t)d->in;
    if (!s) s = gemm_run(ctx, &d->nn, &a, op, dry);
    a = gemm_args(false, false, (size_t)GH, (size_t)H, (size_t)rows, 0.0f);
    a.a = dG->buffer;
    a.a_off = (size_t)dght_base;
    a.lda = (size_t)rows;
    a.b = HP->buffer;
    a.b_off = (size_t)hp_base;
    a.ldb = (size_t)H;
    a.c = dwhh->buffer;
    a.c_off = (size_t)off_of(dwhh);
    a.ldc = (size_t)H;
    if (!s) s = gemm_run(ctx, &d->nn, &a, op, dry);
    for (int b = 0; b < 2 && !s; b++) {
        oclnn_tensor *db = node->aux[b ? d->a_dbhh : d->a_dbih];
        a = gemm_args(false, false, 1, (size_t)GH, (size_t)rows, 0.0f);
        a.a = dG->buffer;
        a.a_off = (size_t)ones_base;
        a.lda = (size_t)rows;
        a.b = dG->buffer;
        a.b_off = (size_t)(b ? dgh_base : dgi_base);
        a.ldb = (size_t)GH;
        a.c = db->buffer;
        a.c_off = (size_t)off_of(db);
        a.ldc = (size_t)GH;
        s = gemm_run(ctx, &d->nn, &a, op, dry);
    }
    /* dx = dGi W_ih */
    if (d->x_needs_grad && !s) {
        a = gemm_args(false, false, (size_t)rows, (size_t)d->in, (size_t)GH, 0.0f);
        a.a = dG->buffer;
        a.a_off = (size_t)dgi_base;
        a.lda = (size_t)GH;
        a.b = wih->buffer;
        a.b_off = (size_t)off_of(wih);
        a.ldb = (size_t)d->in;
        a.c = node->buffer;
        a.c_off = (size_t)off_of(node);
        a.ldc = (size_t)d->in;
        s = gemm_run(ctx, &d->nn, &a, op, dry);
    }
    return s;
}

static oclnn_status grad_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    rnn_data *d = node->op_data;
    oclnn_status s = plan_prepare(ctx, node);
    if (!s) s = kernels_prepare(ctx, node, d->mode == MODE_LSTM ? "lstm_step_grad" : "gru_step_grad");
    return s ? s : grad_run(ctx, node, true);
}

static oclnn_status grad_forward(oclnn_context *ctx, oclnn_tensor *node) { return grad_run(ctx, node, false); }

static const oclnn_op_def lstm_grad_def = {
    .name = "lstm_grad", .prepare = grad_prepare, .forward = grad_forward, .release = rnn_release};
static const oclnn_op_def gru_grad_def = {
    .name = "gru_grad", .prepare = grad_prepare, .forward = grad_forward, .release = rnn_release};

/* A node with its op_data, or NULL (the graph's error set). */
static oclnn_tensor *data_node(oclnn_graph *g, const oclnn_op_def *op, const rnn_data *proto, int ndim,
                               const int64_t *dims, int nsrc, oclnn_tensor *const *srcs)
{
    oclnn_tensor *t = oclnn_node_new(g, op, OCLNN_DTYPE_F32, ndim, dims, nsrc, srcs);
    if (!t) return NULL;
    rnn_data *d = malloc(sizeof *d);
    if (!d) {
        t->op = NULL; /* never prepared */
        return oclnn_graph_fail(g, OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", op->name);
    }
    *d = *proto;
    memset(&d->nn, 0, sizeof d->nn);
    t->op_data = d;
    return t;
}

static void layer_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    const rnn_data *f = node->op_data;
    const bool lstm = f->mode == MODE_LSTM;
    oclnn_tensor *x = node->src[0];
    oclnn_tensor *dh0[2] = {NULL, NULL}, *dc0[2] = {NULL, NULL};
    for (int dir = 0; dir < f->D; dir++) {
        rnn_data d = *f;
        oclnn_tensor *srcs[16];
        int n = 0;
        d.dir = dir;
        d.s_x = n, srcs[n++] = x;
        d.s_wih = n, srcs[n++] = node->src[f->s_w + 4 * dir];
        d.s_whh = n, srcs[n++] = node->src[f->s_w + 4 * dir + 1];
        d.s_g = n, srcs[n++] = node->aux[f->a_g];
        d.s_hp = n, srcs[n++] = node->aux[f->a_hp];
        d.s_cp = lstm ? n : -1;
        if (lstm) srcs[n++] = node->aux[f->a_cp];
        d.s_dy = n, srcs[n++] = grads[0];
        d.s_dhn = n, srcs[n++] = grads[1 + f->a_hn];
        d.s_dcn = lstm ? n : -1;
        if (lstm) srcs[n++] = grads[1 + f->a_cn];
        d.s_len = f->s_len >= 0 ? n : -1;
        if (f->s_len >= 0) srcs[n++] = node->src[f->s_len];
        d.x_needs_grad = (x->flags & T_NEEDS_GRAD) != 0;
        /* The node's own output is dx; a one-element stand-in when the
         * input needs no gradient (the first layer on data), so that no
         * [N*T, I] buffer is planned for nothing. */
        const int64_t one = 1;
        oclnn_tensor *t = data_node(g, lstm ? &lstm_grad_def : &gru_grad_def, &d, d.x_needs_grad ? x->ndim : 1,
                                    d.x_needs_grad ? x->dims : &one, n, srcs);
        if (!t) return;
        int64_t st[3] = {1, f->N, f->H}, rows = (int64_t)f->N * f->T;
        int64_t dgdims[1] = {(lstm ? 2 : 4) * rows * f->ng * f->H + rows};
        rnn_data *td = t->op_data;
        int a = 0;
        td->a_dh0 = a++, dh0[dir] = oclnn_aux_new(t, OCLNN_DTYPE_F32, 3, st);
        if (lstm) td->a_dc0 = a++, dc0[dir] = oclnn_aux_new(t, OCLNN_DTYPE_F32, 3, st);
        oclnn_tensor *w[4];
        for (int k = 0; k < 4; k++) {
            oclnn_tensor *p = node->src[f->s_w + 4 * dir + k];
            w[k] = oclnn_aux_new(t, OCLNN_DTYPE_F32, p->ndim, p->dims);
        }
        td->a_dwih = a++, td->a_dwhh = a++, td->a_dbih = a++, td->a_dbhh = a++;
        td->a_dg = a++;
        oclnn_aux_new(t, OCLNN_DTYPE_F32, 1, dgdims);
        if (g->error) return;
        if (d.x_needs_grad) oclnn_grad_add(g, x, t);
        for (int k = 0; k < 4; k++) oclnn_grad_add(g, node->src[f->s_w + 4 * dir + k], w[k]);
    }
    if (f->s_h0 >= 0)
        oclnn_grad_add(g, node->src[f->s_h0], f->D == 1 ? dh0[0] : oclnn_concat(g, 2, dh0, 0));
    if (f->s_c0 >= 0)
        oclnn_grad_add(g, node->src[f->s_c0], f->D == 1 ? dc0[0] : oclnn_concat(g, 2, dc0, 0));
}

/* ---- constructors */

static const char *dims_str(int ndim, const int64_t *dims, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (o < size) snprintf(buf + o, size - o, "]");
    return buf;
}

/* The weight of that name: an existing tensor of the graph (checked) or a
 * new parameter. */
static oclnn_tensor *weight(oclnn_graph *g, const char *op, const char *name, int ndim, const int64_t *dims)
{
    oclnn_tensor *t = oclnn_graph_find(g, name);
    if (!t) return oclnn_param(g, name, ndim, dims);
    char want[96], have[128];
    if (t->dtype != OCLNN_DTYPE_F32 || t->ndim != ndim || memcmp(t->dims, dims, (size_t)ndim * sizeof *dims))
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: weight '%s' is %s %s, expected f32 %s", op, name,
                                oclnn_dtype_name(t->dtype), oclnn_tensor_shape_str(t, have, sizeof have),
                                dims_str(ndim, dims, want, sizeof want));
    return t;
}

static oclnn_status state_check(oclnn_graph *g, const char *op, const char *what, oclnn_tensor *t,
                                const int64_t *dims)
{
    char want[96], have[128];
    if (!t) return OCLNN_OK;
    if (t->dtype != OCLNN_DTYPE_F32 || t->ndim != 3 || memcmp(t->dims, dims, 3 * sizeof *dims)) {
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: %s is %s %s, expected f32 %s = [num_layers * directions, N, H]", op,
                         what, oclnn_dtype_name(t->dtype), oclnn_tensor_shape_str(t, have, sizeof have),
                         dims_str(3, dims, want, sizeof want));
        return OCLNN_ERR_SHAPE;
    }
    return OCLNN_OK;
}

static oclnn_status rnn_build(oclnn_graph *g, int mode, oclnn_tensor *x, oclnn_tensor *h0, oclnn_tensor *c0,
                              oclnn_tensor *lengths, const oclnn_rnn_options *o, oclnn_rnn_result *out)
{
    const char *op = mode == MODE_LSTM ? "lstm" : "gru";
    if (out) memset(out, 0, sizeof *out);
    if (!g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL graph", op);
    if (!oclnn_graph_usable(g, op, 1, &x)) return g->error;
    oclnn_tensor *opt_srcs[3] = {h0, c0, lengths};
    for (int i = 0; i < 3; i++)
        if (opt_srcs[i] && !oclnn_graph_usable(g, op, 1, &opt_srcs[i])) return g->error;
    if (!o || !out) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: NULL %s", op, o ? "result" : "options");
        return g->error;
    }
    char xs[128];
    oclnn_tensor_shape_str(x, xs, sizeof xs);
    const int L = o->num_layers ? o->num_layers : 1, D = o->bidirectional ? 2 : 1, H = o->hidden_size;
    if (H <= 0 || L < 0 || !(o->dropout >= 0.0f && o->dropout < 1.0f)) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: hidden_size %d, num_layers %d, dropout %g: need H >= 1, "
                         "layers >= 1 and dropout in [0, 1)", op, H, o->num_layers, (double)o->dropout);
        return g->error;
    }
    if (x->dtype != OCLNN_DTYPE_F32 || x->ndim != 3 || x->dims[0] < 1 || x->dims[1] < 1 || x->dims[2] < 1) {
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: input is %s %s, expected f32 %s with every size >= 1", op,
                         oclnn_dtype_name(x->dtype), xs, o->batch_first ? "[N, T, I]" : "[T, N, I]");
        return g->error;
    }
    const int64_t N = x->dims[o->batch_first ? 0 : 1], T = x->dims[o->batch_first ? 1 : 0];
    const int64_t sdims[3] = {(int64_t)L * D, N, H};
    if (state_check(g, op, "h0", h0, sdims) || state_check(g, op, "c0", c0, sdims)) return g->error;
    if (lengths && (lengths->dtype != OCLNN_DTYPE_I32 || lengths->ndim != 1 || lengths->dims[0] != N)) {
        char ls[128];
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: lengths is %s %s, expected i32 [N = %lld] for input %s", op,
                         oclnn_dtype_name(lengths->dtype), oclnn_tensor_shape_str(lengths, ls, sizeof ls),
                         (long long)N, xs);
        return g->error;
    }
    /* the largest buffers: the gate gradients' workspace (GRU: 12 H per row)
     * and the gates (4 H per row and direction) */
    if ((int64_t)N * T * (12 * (int64_t)H + 1) > 0x7fffffff || (int64_t)N * T * 4 * H * D > 0x7fffffff || (int64_t)L * D * 4 * H * (H + x->dims[2] + D * H) > 0x7fffffff) {
        oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: input %s with H = %d needs buffers past 2^31 elements", op, xs,
                         H);
        return g->error;
    }
    const char *prefix = o->prefix ? o->prefix : op;
    const int ng = mode == MODE_LSTM ? 4 : 3;
    oclnn_tensor *in = oclnn_contiguous(g, x);
    oclnn_tensor *hn[64], *cn[64];
    if (L > 64) {
        oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "%s: %d layers, at most 64", op, L);
        return g->error;
    }
    for (int l = 0; l < L && !g->error; l++) {
        if (l > 0 && o->dropout > 0.0f) in = oclnn_dropout(g, in, o->dropout);
        int64_t isz = l ? (int64_t)D * H : x->dims[2];
        rnn_data d;
        memset(&d, 0, sizeof d);
        d.mode = mode;
        d.ng = ng;
        d.N = (int)N;
        d.T = (int)T;
        d.in = (int)isz;
        d.H = H;
        d.D = D;
        d.sn = o->batch_first ? (int)T : 1;
        d.st = o->batch_first ? 1 : (int)N;
        d.check_len = l == 0;
        oclnn_tensor *srcs[OCLNN_MAX_SRC];
        int n = 0;
        srcs[n++] = in;
        d.s_h0 = d.s_c0 = d.s_len = -1;
        if (h0) d.s_h0 = n, srcs[n++] = L == 1 ? h0 : oclnn_slice(g, h0, 0, (int64_t)l * D, (int64_t)(l + 1) * D);
        if (c0 && mode == MODE_LSTM)
            d.s_c0 = n, srcs[n++] = L == 1 ? c0 : oclnn_slice(g, c0, 0, (int64_t)l * D, (int64_t)(l + 1) * D);
        d.s_w = n;
        for (int dir = 0; dir < D; dir++) {
            static const char *const kinds[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
            for (int k = 0; k < 4; k++) {
                char name[256];
                snprintf(name, sizeof name, "%s.%s_l%d%s", prefix, kinds[k], l, dir ? "_reverse" : "");
                int64_t wd[2] = {(int64_t)ng * H, k == 0 ? isz : H};
                srcs[n++] = weight(g, op, name, k < 2 ? 2 : 1, wd);
            }
        }
        if (lengths) d.s_len = n, srcs[n++] = lengths;
        if (g->error) break;
        int64_t ydims[3] = {x->dims[0], x->dims[1], (int64_t)D * H};
        oclnn_tensor *t = data_node(g, mode == MODE_LSTM ? &lstm_def : &gru_def, &d, 3, ydims, n, srcs);
        if (!t) break;
        rnn_data *td = t->op_data;
        int64_t rows = N * T, hd[3] = {D, N, H}, gd[3] = {D, rows, 4 * (int64_t)H}, pd[3] = {D, rows, H};
        int64_t rd[2] = {N, (int64_t)ng * H};
        int a = 0;
        td->a_hn = a++, hn[l] = oclnn_diff_output_new(t, 3, hd);
        if (mode == MODE_LSTM) td->a_cn = a++, cn[l] = oclnn_diff_output_new(t, 3, hd);
        td->a_g = a++, oclnn_aux_new(t, OCLNN_DTYPE_F32, 3, gd);
        td->a_hp = a++, oclnn_aux_new(t, OCLNN_DTYPE_F32, 3, pd);
        if (mode == MODE_LSTM) td->a_cp = a++, oclnn_aux_new(t, OCLNN_DTYPE_F32, 3, pd);
        td->a_r = a++, oclnn_aux_new(t, OCLNN_DTYPE_F32, 2, rd);
        int64_t wtd[2] = {D, (isz + H) * ng * H};
        td->a_wt = a++, oclnn_aux_new(t, OCLNN_DTYPE_F32, 2, wtd);
        in = t;
    }
    if (g->error) return g->error;
    out->output = in;
    out->h_n = L == 1 ? hn[0] : oclnn_concat(g, L, hn, 0);
    if (mode == MODE_LSTM) out->c_n = L == 1 ? cn[0] : oclnn_concat(g, L, cn, 0);
    if (g->error) {
        memset(out, 0, sizeof *out);
        return g->error;
    }
    return OCLNN_OK;
}

oclnn_status oclnn_lstm(oclnn_graph *g, oclnn_tensor *input, oclnn_tensor *h0, oclnn_tensor *c0,
                        oclnn_tensor *lengths, const oclnn_rnn_options *options, oclnn_rnn_result *out)
{
    return rnn_build(g, MODE_LSTM, input, h0, c0, lengths, options, out);
}

oclnn_status oclnn_gru(oclnn_graph *g, oclnn_tensor *input, oclnn_tensor *h0, oclnn_tensor *lengths,
                       const oclnn_rnn_options *options, oclnn_rnn_result *out)
{
    return rnn_build(g, MODE_GRU, input, h0, NULL, lengths, options, out);
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_rnn_ops[] = {&lstm_def, &gru_def, &lstm_grad_def, &gru_grad_def, NULL};
