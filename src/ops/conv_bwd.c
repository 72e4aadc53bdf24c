/* conv2d backward as graph nodes. The output gradient is first permuted
 * to dt [Cout, N*HoWo] (with the fused activation's mask applied), so that
 * per chunk of images
 *   weight: dW[g] += dt[g] * col[g]^T      one GEMM with k = nb*HoWo
 *   data:   dcol[g] = W[g]^T * dt[g]       per image or over the chunk,
 *                                          then a gather col2im
 *   bias:   db[c]   = sum of row c of dt   a work-group per channel
 * Summing over the images inside the GEMM's k dimension avoids both a
 * GEMM launch per image and a separate reduction of per-image weight
 * gradients. The tiled path (CPUs) runs the same products on the tiled
 * GEMM engine, and builds and scatters the col matrix with the row-wise
 * kernels. */
#include "ops/conv_internal.h"

static const char *op_of(const oclnn_tensor *node) { return node->op->name; }

/* ---- dt = permute(dy) (* relu mask): src = {dy[, y]}; with the fused
 * max-pool src = {pooled dy, argmax[, pooled y]} and dt in the pooled
 * column order (grad_prep_pool in cl/conv.cl). */

static oclnn_status prep_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status s = oclnn_conv_kernel(ctx, node, c->pool ? "grad_prep_pool" : "grad_prep", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op_of(node));
    for (int k = 0; k < (c->pool ? 2 : 1) && !s; k++) s = oclnn_arg_tensor(l->kernel, &i, node->src[k], op_of(node));
    /* y: the last source, read only with relu */
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[node->nsrc - 1], op_of(node));
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof c->n, &c->n, op_of(node));
    if (!s && c->pool) s = oclnn_arg(l->kernel, &i, sizeof c->chunk, &c->chunk, op_of(node));
    if (!s && c->pool) {
        /* grad_prep_pool: an item per plane */
        oclnn_conv_launch3(ctx, l, (size_t)c->cout, (size_t)c->n, 1);
        if (ctx->info.is_cpu) l->local[0] = 1;
    } else if (!s) {
        oclnn_conv_launch3(ctx, l, (size_t)conv_howo(c), (size_t)c->cout, (size_t)c->n);
    }
    return s;
}

static const oclnn_op_def prep_def = {
    .name = "conv2d_grad_output", .prepare = prep_prepare, .release = oclnn_conv_release};

/* ---- db: src = {dt} */

static oclnn_status bias_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    oclnn_launch *l;
    cl_uint i = 0;
    int len = c->n * conv_cols(c);
    /* the tiled (CPU) path: a work item per channel (bias_grad_rows) */
    bool rows = c->bwd == OCLNN_CONV_IM2COL_TILED;
    oclnn_status s = oclnn_conv_kernel(ctx, node, rows ? "bias_grad_rows" : "bias_grad", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op_of(node));
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->src[0], op_of(node));
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof len, &len, op_of(node));
    cl_int accumulate = node->accumulate;
    if (!s) s = oclnn_arg(l->kernel, &i, sizeof accumulate, &accumulate, op_of(node));
    size_t wg = rows ? 1 : oclnn_conv_reduce_width(ctx);
    l->dims = 1;
    l->global[0] = wg * (size_t)c->cout;
    l->local[0] = wg;
    return s;
}

static const oclnn_op_def bias_def = {.name = "conv2d_grad_bias",
                                      .prepare = bias_prepare,
                                      .release = oclnn_conv_release,
                                      .accumulates = oclnn_conv_grad_accumulates};

/* ---- shared by the weight and data gradients */

/* The col kernels of the gradient nodes, each launched over its own grid. */
typedef enum { COLS_IM2COL, COLS_IM2COL_ROWS, COLS_COL2IM, COLS_COL2IM_ROWS } cols_kernel;

/* Appends launch 0 (one of cols_kernel) and binds dst, src. */
static oclnn_status bind_cols(oclnn_context *ctx, oclnn_tensor *node, cols_kernel which, oclnn_tensor *dst,
                              oclnn_tensor *src)
{
    static const char *const names[] = {"im2col", "im2col_rows", "col2im", "col2im_rows"};
    const conv_geom *c = node->op_data;
    oclnn_launch *l;
    cl_uint i = 0;
    size_t rows = (size_t)c->cin * c->kh * c->kw, howo = (size_t)conv_howo(c);
    oclnn_status s = oclnn_conv_kernel(ctx, node, names[which], &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, dst, op_of(node));
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, src, op_of(node));
    if (s) return s;
    switch (which) {
    case COLS_IM2COL: oclnn_conv_launch3(ctx, l, howo, 1, rows); break;
    case COLS_IM2COL_ROWS: oclnn_conv_launch3(ctx, l, rows, 1, 1); break;
    case COLS_COL2IM: oclnn_conv_launch3(ctx, l, (size_t)c->h * c->w, 1, (size_t)c->cin); break;
    case COLS_COL2IM_ROWS:
        /* an item per plane is enough work to be a group of its own: more
         * groups than images share the cores evenly */
        oclnn_conv_launch3(ctx, l, (size_t)c->cin, 1, 1);
        if (ctx->info.is_cpu) l->local[0] = 1;
        break;
    }
    return OCLNN_OK;
}

/* Enqueues launch 0 for images [n0, n0 + nb): col per image (batched) or
 * as one wide matrix. */
static oclnn_status enqueue_cols(oclnn_context *ctx, oclnn_tensor *node, int n0, int nb, bool batched)
{
    const conv_geom *c = node->op_data;
    oclnn_launch l = node->launch[0];
    int howo = conv_howo(c), col_img = conv_k(c) * c->groups * howo;
    int args[4] = {n0, nb, batched ? howo : nb * conv_cols(c), batched ? col_img : conv_col_img(c)};
    l.global[1] = (size_t)nb;
    oclnn_status s = oclnn_conv_args_int(l.kernel, 4, op_of(node), 4, args);
    if (s) return s;
    double t0 = oclnn_conv_phase_begin(ctx, node);
    s = oclnn_launch_enqueue(ctx, &l, op_of(node));
    oclnn_conv_phase_end(ctx, node, CONV_PHASE_COLS, t0);
    return s;
}

/* ---- dW: src = {dt, x}, aux[0] = the wide col of one chunk; launch[0] im2col. */

static oclnn_status wgrad_gemm(oclnn_context *ctx, oclnn_tensor *node, int n0, int nb, bool dry)
{
    /* dW[g] (+)= dt[g][:, chunk] col[g]^T */
    const conv_geom *c = node->op_data;
    size_t cout_g = (size_t)conv_cout_g(c), k = (size_t)conv_k(c), all = (size_t)c->n * conv_cols(c);
    size_t cols = (size_t)nb * conv_cols(c);
    oclnn_gemm_args a = oclnn_conv_gemm_bind(node->src[0], node->aux[0], node);
    a.trans_b = true;
    a.m = cout_g;
    a.n = k;
    a.k = cols;
    a.beta = n0 || node->accumulate ? 1.0f : 0.0f;
    a.a_off += (size_t)n0 * conv_cols(c);
    a.lda = all;
    a.ldb = cols;
    a.ldc = k;
    a.batch = (size_t)c->groups;
    a.a_stride = cout_g * all;
    a.b_stride = k * cols;
    a.c_stride = cout_g * k;
    return oclnn_conv_gemm_run(ctx, node, c->bwd, &a, dry);
}

static oclnn_status wgrad_run(oclnn_context *ctx, oclnn_tensor *node, bool dry)
{
    const conv_geom *c = node->op_data;
    if (c->n == 0) return dry ? OCLNN_OK : oclnn_conv_empty_grad(ctx, node);
    oclnn_status s = OCLNN_OK;
    for (int n0 = 0; n0 < c->n && !s; n0 += c->chunk) {
        int nb = c->n - n0 < c->chunk ? c->n - n0 : c->chunk;
        if (!dry) s = enqueue_cols(ctx, node, n0, nb, false);
        if (!s) s = wgrad_gemm(ctx, node, n0, nb, dry);
    }
    return s;
}

static oclnn_status wgrad_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    bool tiled = c->bwd == OCLNN_CONV_IM2COL_TILED;
    oclnn_status s = bind_cols(ctx, node, tiled ? COLS_IM2COL_ROWS : COLS_IM2COL, node->aux[0], node->src[1]);
    return s ? s : wgrad_run(ctx, node, true);
}

static oclnn_status wgrad_forward(oclnn_context *ctx, oclnn_tensor *node) { return wgrad_run(ctx, node, false); }

static const oclnn_op_def wgrad_def = {.name = "conv2d_grad_weight",
                                       .prepare = wgrad_prepare,
                                       .forward = wgrad_forward,
                                       .release = oclnn_conv_release,
                                       .accumulates = oclnn_conv_grad_accumulates};

/* ---- dx: src = {dt, weight}, aux[0] = dcol of one chunk (none when pointwise);
 * launch[0] col2im unless pointwise. */

/* dcol[n][g] = W[g]^T dt[g][:, n] per image, into col laid out per image,
 * or straight into dx when the conv is pointwise (1x1, stride 1, no padding). */
static oclnn_status dgrad_batched(oclnn_context *ctx, oclnn_tensor *node, int n0, int nb, bool dry)
{
    const conv_geom *c = node->op_data;
    size_t cout_g = (size_t)conv_cout_g(c), k = (size_t)conv_k(c), howo = (size_t)conv_howo(c);
    size_t all = (size_t)c->n * howo;
    oclnn_gemm_args a = oclnn_conv_gemm_bind(node->src[1], node->src[0], c->pointwise ? node : node->aux[0]);
    a.trans_a = true;
    a.m = k;
    a.n = howo;
    a.k = cout_g;
    a.lda = k;
    a.ldb = all;
    a.ldc = howo;
    a.b_off += (size_t)n0 * howo;
    if (c->pointwise) a.c_off += (size_t)n0 * c->cin * howo;
    size_t img[3] = {0, howo, (size_t)c->cin * c->kh * c->kw * howo};
    size_t grp[3] = {cout_g * k, cout_g * all, k * howo};
    return oclnn_conv_gemm_grid(ctx, node, c->bwd, &a, nb, c->groups, img, grp, dry);
}

/* dcol[g] = W[g]^T dt[g] for the whole chunk at once. */
static oclnn_status dgrad_wide(oclnn_context *ctx, oclnn_tensor *node, int n0, int nb, bool dry)
{
    const conv_geom *c = node->op_data;
    size_t cout_g = (size_t)conv_cout_g(c), k = (size_t)conv_k(c), all = (size_t)c->n * conv_howo(c);
    size_t cols = (size_t)nb * conv_howo(c);
    oclnn_gemm_args a = oclnn_conv_gemm_bind(node->src[1], node->src[0], node->aux[0]);
    a.trans_a = true;
    a.m = k;
    a.n = cols;
    a.k = cout_g;
    a.b_off += (size_t)n0 * conv_howo(c);
    a.lda = k;
    a.ldb = all;
    a.ldc = cols;
    a.batch = (size_t)c->groups;
    a.a_stride = cout_g * k;
    a.b_stride = cout_g * all;
    a.c_stride = k * cols;
    return oclnn_conv_gemm_run(ctx, node, c->bwd, &a, dry);
}

/* The tiled engine: dcol[g] = W[g]^T dt[g] wide (in the pooled column
 * order with the fused max-pool), or for a pointwise conv dx[n][g] scattered
 * from the wide columns straight into NCHW. */
static oclnn_status dgrad_tiled(oclnn_context *ctx, oclnn_tensor *node, int n0, int nb, bool dry)
{
    const conv_geom *c = node->op_data;
    size_t cout_g = (size_t)conv_cout_g(c), k = (size_t)conv_k(c), howo = (size_t)conv_howo(c);
    size_t all = (size_t)c->n * conv_cols(c), cols = (size_t)nb * conv_cols(c);
    oclnn_gemm_args a = oclnn_conv_gemm_bind(node->src[1], node->src[0], c->pointwise ? node : node->aux[0]);
    a.trans_a = true;
    a.m = k;
    a.n = cols;
    a.k = cout_g;
    a.b_off += (size_t)n0 * conv_cols(c);
    a.lda = k;
    a.ldb = all;
    a.batch = (size_t)c->groups;
    a.a_stride = cout_g * k;
    a.b_stride = cout_g * all;
    if (c->pointwise) {
        a.c_off += (size_t)n0 * c->cin * howo;
        a.ldc = howo;
        a.c_wrap = howo;
        a.c_wrap_stride = (size_t)c->cin * howo;
        a.c_stride = k * howo;
    } else {
        a.ldc = cols;
        a.c_stride = k * cols;
    }
    return oclnn_conv_gemm_run(ctx, node, c->bwd, &a, dry);
}

static oclnn_status dgrad_run(oclnn_context *ctx, oclnn_tensor *node, bool dry)
{
    const conv_geom *c = node->op_data;
    bool tiled = c->bwd == OCLNN_CONV_IM2COL_TILED, batched = c->bwd == OCLNN_CONV_IM2COL_BATCHED;
    if (c->pointwise) return tiled ? dgrad_tiled(ctx, node, 0, c->n, dry) : dgrad_batched(ctx, node, 0, c->n, dry);
    oclnn_status s = OCLNN_OK;
    for (int n0 = 0; n0 < c->n && !s; n0 += c->chunk) {
        int nb = c->n - n0 < c->chunk ? c->n - n0 : c->chunk;
        if (tiled)
            s = dgrad_tiled(ctx, node, n0, nb, dry);
        else
            s = batched ? dgrad_batched(ctx, node, n0, nb, dry) : dgrad_wide(ctx, node, n0, nb, dry);
        if (!s && !dry) s = enqueue_cols(ctx, node, n0, nb, batched);
    }
    return s;
}

static oclnn_status dgrad_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    oclnn_status s = OCLNN_OK;
    if (!c->pointwise)
        s = bind_cols(ctx, node, c->bwd == OCLNN_CONV_IM2COL_TILED ? COLS_COL2IM_ROWS : COLS_COL2IM, node,
                      node->aux[0]);
    return s ? s : dgrad_run(ctx, node, true);
}

static oclnn_status dgrad_forward(oclnn_context *ctx, oclnn_tensor *node) { return dgrad_run(ctx, node, false); }

static const oclnn_op_def dgrad_def = {
    .name = "conv2d_grad_input", .prepare = dgrad_prepare, .forward = dgrad_forward, .release = oclnn_conv_release};

/* ---- the forward op's backward(): adds the nodes above */

void oclnn_conv_backward(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads)
{
    oclnn_tensor *grad = grads[0];
    const conv_geom *c = node->op_data;
    if (c->algo == OCLNN_CONV_DIRECT) {
        oclnn_conv_direct_backward(g, node, grad);
        return;
    }
    oclnn_tensor *x = node->src[0], *w = node->src[1], *b = c->has_bias ? node->src[2] : NULL;
    int64_t cols = conv_cols(c);
    int64_t flat[2] = {c->cout, (int64_t)c->n * cols};
    grad = oclnn_contiguous(g, grad);
    oclnn_tensor *dt;
    if (c->n == 1 && c->act == OCLNN_ACT_NONE && !c->pool) {
        dt = oclnn_reshape(g, grad, 2, flat); /* already [Cout, HoWo] */
    } else {
        oclnn_tensor *srcs[3] = {grad, node, node};
        if (c->pool) srcs[1] = node->aux[1]; /* the argmax */
        dt = oclnn_conv_node_new(g, &prep_def, c, 2, flat, (c->pool ? 2 : 1) + (c->act ? 1 : 0), srcs);
    }
    if (!dt) return;
    if (b && (b->flags & T_NEEDS_GRAD)) oclnn_grad_add(g, b, oclnn_conv_node_new(g, &bias_def, c, 1, b->dims, 1, &dt));
    int64_t col[2] = {(int64_t)conv_k(c) * c->groups, (int64_t)c->chunk * cols};
    if ((w->flags & T_NEEDS_GRAD) && c->algo == OCLNN_CONV_WINOGRAD) {
        oclnn_grad_add(g, w, oclnn_conv_winograd_wgrad(g, c, dt, x, w->dims));
    } else if (w->flags & T_NEEDS_GRAD) {
        oclnn_tensor *srcs[2] = {dt, x};
        oclnn_tensor *dw = oclnn_conv_node_new(g, &wgrad_def, c, 4, w->dims, 2, srcs);
        if (dw && !oclnn_aux_new(dw, OCLNN_DTYPE_F32, 2, col)) return;
        oclnn_grad_add(g, w, dw);
    }
    if ((x->flags & T_NEEDS_GRAD) && oclnn_conv_winograd_dgrad_applies(c)) {
        oclnn_grad_add(g, x, oclnn_conv_winograd_dgrad(g, c, dt, w, x->dims));
    } else if (x->flags & T_NEEDS_GRAD) {
        oclnn_tensor *srcs[2] = {dt, w};
        oclnn_tensor *dx = oclnn_conv_node_new(g, &dgrad_def, c, 4, x->dims, 2, srcs);
        if (dx && !c->pointwise && !oclnn_aux_new(dx, OCLNN_DTYPE_F32, 2, col)) return;
        oclnn_grad_add(g, x, dx);
    }
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_conv_bwd_ops[] = {&prep_def, &bias_def, &wgrad_def, &dgrad_def, NULL};
