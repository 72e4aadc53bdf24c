/* conv2d forward: shape checks, the choice of algorithm, and the enqueue of
 * im2col + GEMM (+ epilogue) per chunk of images.
 *
 * Layout: out[n] (Cout x HoWo) = W (Cout x K) * col[n] (K x HoWo) per group,
 * K = Cin/groups * kh * kw. Ways to batch it:
 *   batched: col per image, one CLBlast strided-batched GEMM over the
 *            images of a chunk; the result lands in NCHW directly.
 *   wide:    col of the chunk as one K x (nb*HoWo) matrix, one large CLBlast
 *            GEMM into a scratch [Cout, nb*HoWo], then a permute to NCHW
 *            that also adds the bias.
 *   tiled:   the wide col, multiplied by the tiled GEMM engine (gemm.h)
 *            whose stores scatter into NCHW with bias and activation.
 *            On PoCL it runs at about 7x CLBlast's untuned GEMM (measured
 *            on the 2-core CI machine: conv 32->64 5x5 on 14x14, batch 64,
 *            bias and relu, 87-97 vs 12 GFLOP/s forward including im2col).
 *            With a fused max-pool (params.max_pool) col holds only the
 *            outputs inside a window, in window-row blocks (cl/conv.cl),
 *            and the GEMM's store keeps each window's max and argmax
 *            (gemm_pool in cl/gemm.cl); the node's output is pooled.
 *   CLBlast's convgemm, kept for comparison: its im2col variant allocates
 *            and waits per image, and was the slowest everywhere measured.
 *   winograd: 3x3 stride-1 layers only, F(2x2,3x3) transforms around one
 *            batched GEMM of 16 products (conv_winograd.c).
 * The col matrix is an aux tensor of the node (the planner gives it arena
 * memory that is free again once the node has run), sized for one chunk of
 * images so that large batches do not need a huge scratch. */
#include "ops/conv_internal.h"
#include "ops/gemm.h"
#include "oclnn/layers.h"

#include <clblast_c.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char oclnn_cl_conv[];

/* Col scratch per node. GPUs: enough for large batches of SimpleCNN-sized
 * convs in one chunk, small next to any device's memory. CPUs: a chunk
 * whose col matrix stays in the caches between im2col (or the data
 * gradient's GEMM) and its reader. On PoCL (2-core Zen 4, 1 MiB L2 per
 * core, 32 MiB L3), one PoCL thread, CPU time (so that the shared
 * machine's load does not enter): SimpleCNN's four bench rows took 765 ms
 * per round with 2-3 MiB chunks against 990-1040 ms with one 96 MiB chunk.
 * Two threads, wall clock, three alternating rounds at load 2.3-2.6: 6 MiB
 * ran the training steps 2-4% faster than 3 MiB, 1.5 MiB and 12 MiB slower. */
#define CONV_COL_BUDGET_BYTES ((size_t)96 << 20)
#define CONV_COL_BUDGET_CPU_BYTES ((size_t)6 << 20)

static size_t col_budget_override;

size_t oclnn_conv_set_col_budget(size_t bytes)
{
    size_t old = col_budget_override;
    col_budget_override = bytes;
    return old;
}

/* ---- shared helpers (also used by conv_bwd.c) */

double oclnn_conv_phase_begin(oclnn_context *ctx, const oclnn_tensor *node)
{
    const conv_data *d = node->op_data;
    if (!d->profile) return 0;
    clFinish(ctx->queue);
    return oclnn_wall_seconds();
}

void oclnn_conv_phase_end(oclnn_context *ctx, oclnn_tensor *node, conv_phase phase, double t0)
{
    conv_data *d = node->op_data;
    if (!d->profile) return;
    clFinish(ctx->queue);
    d->phase_seconds[phase] += oclnn_wall_seconds() - t0;
    d->phase_launches[phase]++;
}

static void profile_report(const oclnn_tensor *node, const conv_data *d)
{
    static const char *const names[3] = {"index maps", "GEMM", "epilogue"};
    const conv_geom *c = &d->geom;
    double total = d->phase_seconds[0] + d->phase_seconds[1] + d->phase_seconds[2];
    if (total <= 0) return;
    fprintf(stderr, "oclnn conv profile: %-18s %dx%dx%dx%d>%d k%dx%d s%d p%d algo %d:", node->op->name, c->n, c->cin,
            c->h, c->w, c->cout, c->kh, c->kw, c->sh, c->ph, c->algo);
    for (int i = 0; i < 3; i++)
        if (d->phase_launches[i])
            fprintf(stderr, " %s %.3f s (%lu launches)", names[i], d->phase_seconds[i], d->phase_launches[i]);
    fprintf(stderr, "\n");
}

void oclnn_conv_release(oclnn_tensor *node)
{
    conv_data *d = node->op_data;
    if (!d) return;
    if (d->profile) profile_report(node, d);
    oclnn_gemm_plan_release(&d->plan);
    free(d);
    node->op_data = NULL;
}

oclnn_tensor *oclnn_conv_node_new(oclnn_graph *g, const oclnn_op_def *op, const conv_geom *geom, int ndim,
                            const int64_t *dims, int nsrc, oclnn_tensor *const *srcs)
{
    oclnn_tensor *t = oclnn_node_new(g, op, OCLNN_DTYPE_F32, ndim, dims, nsrc, srcs);
    if (!t) return NULL;
    conv_data *d = calloc(1, sizeof *d);
    if (!d) {
        /* The node exists without op_data: make sure it is never prepared. */
        t->op = NULL;
        return oclnn_graph_fail(g, OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", op->name);
    }
    d->geom = *geom;
    const char *prof = getenv("OCLNN_CONV_PROFILE");
    d->profile = prof && *prof && strcmp(prof, "0") != 0;
    t->op_data = d;
    return t;
}

static size_t group_width(oclnn_context *ctx)
{
    size_t max = ctx->info.max_work_group_size ? ctx->info.max_work_group_size : 1;
    return max < 64 ? max : 64;
}

size_t oclnn_conv_reduce_width(oclnn_context *ctx)
{
    size_t wg = 1;
    while (wg * 2 <= group_width(ctx)) wg *= 2;
    return wg;
}

oclnn_status oclnn_conv_kernel(oclnn_context *ctx, oclnn_tensor *node, const char *name, oclnn_launch **out)
{
    const conv_geom *c = node->op_data;
    size_t wg = oclnn_conv_reduce_width(ctx);
    /* Only what specialises the code goes into the options: a new batch,
     * image size or channel count reuses the program (sizes are arguments). */
    char opts[192];
    snprintf(opts, sizeof opts,
             "-DKH=%d -DKW=%d -DSH=%d -DSW=%d -DPH=%d -DPW=%d -DDH=%d -DDW=%d -DACT=%d -DWG=%zu -DPOOL=%d", c->kh,
             c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw, c->act, wg, c->pool);
    oclnn_status s = oclnn_launch_kernel(ctx, node, oclnn_cl_conv, opts, name, out);
    if (s) return s;
    /* Every kernel of cl/conv.cl ends with the sizes (GEOM there). */
    cl_uint nargs = 0;
    s = oclnn_cl_check(clGetKernelInfo((*out)->kernel, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL),
                       "clGetKernelInfo(CL_KERNEL_NUM_ARGS)", node->op->name);
    const int sizes[6] = {c->cin, c->cout, c->h, c->w, c->ho, c->wo};
    if (!s && nargs < 6)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "op '%s': conv kernel %s lacks the size arguments", node->op->name,
                          name);
    return s ? s : oclnn_conv_args_int((*out)->kernel, nargs - 6, node->op->name, 6, sizes);
}

/* Largest divisor of n that is at most limit. */
static size_t divisor_up_to(size_t n, size_t limit)
{
    for (size_t d = limit < n ? limit : n; d > 1; d--)
        if (n % d == 0) return d;
    return 1;
}

void oclnn_conv_launch3(oclnn_context *ctx, oclnn_launch *l, size_t d0, size_t d1, size_t d2)
{
    /* PoCL runs a work-group as a loop over its items on one core:
     * rounding up would only add idle items, so CPUs get the exact size and
     * a group that divides it (left to PoCL, it sometimes makes one group
     * of everything and leaves the other cores idle). */
    size_t wg = group_width(ctx);
    l->dims = 3;
    l->global[0] = ctx->info.is_cpu ? d0 : (d0 + wg - 1) / wg * wg;
    l->global[1] = d1;
    l->global[2] = d2;
    l->local[0] = ctx->info.is_cpu ? divisor_up_to(d0, wg) : wg;
    l->local[1] = 1;
    l->local[2] = 1;
}

oclnn_status oclnn_conv_args_int(cl_kernel k, cl_uint index, const char *op, int count, const int *values)
{
    oclnn_status s = OCLNN_OK;
    for (int i = 0; i < count && !s; i++) s = oclnn_arg(k, &index, sizeof values[i], &values[i], op);
    return s;
}

bool oclnn_conv_grad_accumulates(const oclnn_tensor *node)
{
    (void)node;
    return true;
}

oclnn_status oclnn_conv_empty_grad(oclnn_context *ctx, oclnn_tensor *node)
{
    if (node->accumulate) return OCLNN_OK; /* nothing to add */
    float zero = 0.0f;
    cl_int err = clEnqueueFillBuffer(ctx->queue, node->buffer, &zero, sizeof zero, node->byte_offset,
                                     (size_t)oclnn_tensor_numel(node) * sizeof zero, 0, NULL, NULL);
    return oclnn_cl_check(err, "clEnqueueFillBuffer", node->op->name);
}

/* ---- forward node: src = {x, weight[, bias]}, aux[0] = col, aux[1] = wide GEMM
 * result, or with the fused max-pool the argmax indices [N, Cout, Hp, Wp].
 * launch[] holds im2col, then the epilogue (bias_act or permute_out)
 * unless the tiled GEMM fuses it. */

enum { L_IM2COL, L_EPILOGUE };

oclnn_gemm_engine oclnn_conv_engine(int algo)
{
    /* Winograd's GEMMs have no epilogue to fuse: the device's default engine */
    if (algo == OCLNN_CONV_WINOGRAD) return OCLNN_GEMM_AUTO;
    return algo == OCLNN_CONV_IM2COL_TILED ? OCLNN_GEMM_TILED : OCLNN_GEMM_CLBLAST;
}

oclnn_status oclnn_conv_gemm_run(oclnn_context *ctx, oclnn_tensor *node, int algo, const oclnn_gemm_args *a, bool dry)
{
    oclnn_gemm_plan *plan = &((conv_data *)node->op_data)->plan;
    const char *op = node->op->name;
    if (!dry) {
        double t0 = oclnn_conv_phase_begin(ctx, node);
        oclnn_status s = oclnn_gemm_enqueue(ctx, plan, a, op);
        oclnn_conv_phase_end(ctx, node, CONV_PHASE_GEMM, t0);
        return s;
    }
    /* resolved engines are never AUTO: AUTO means no plan yet */
    if (plan->engine == OCLNN_GEMM_AUTO) return oclnn_gemm_prepare(ctx, oclnn_conv_engine(algo), a, op, plan);
    return oclnn_gemm_reserve(ctx, plan, a, op);
}

oclnn_gemm_args oclnn_conv_gemm_bind(const oclnn_tensor *a, const oclnn_tensor *b, const oclnn_tensor *c)
{
    oclnn_gemm_args g;
    memset(&g, 0, sizeof g);
    g.alpha = 1.0f;
    g.a = a->buffer;
    g.b = b->buffer;
    g.c = c->buffer;
    g.a_off = (size_t)oclnn_tensor_elem_offset(a);
    g.b_off = (size_t)oclnn_tensor_elem_offset(b);
    g.c_off = (size_t)oclnn_tensor_elem_offset(c);
    return g;
}

oclnn_status oclnn_conv_gemm_grid(oclnn_context *ctx, oclnn_tensor *node, int algo, const oclnn_gemm_args *base, int nb,
                            int groups, const size_t img[3], const size_t grp[3], bool dry)
{
    /* GEMM batches have one stride per operand: batch over the images
     * with one call per group, or the other way round, whichever needs
     * fewer calls. */
    bool over_images = nb >= groups;
    int calls = over_images ? groups : nb;
    const size_t *step = over_images ? grp : img, *stride = over_images ? img : grp;
    oclnn_gemm_args a = *base;
    a.batch = (size_t)(over_images ? nb : groups);
    a.a_stride = stride[0];
    a.b_stride = stride[1];
    a.c_stride = stride[2];
    oclnn_status s = OCLNN_OK;
    for (int i = 0; i < calls && !s; i++) {
        oclnn_gemm_args gi = a;
        gi.a_off += (size_t)i * step[0];
        gi.b_off += (size_t)i * step[1];
        gi.c_off += (size_t)i * step[2];
        s = oclnn_conv_gemm_run(ctx, node, algo, &gi, dry);
    }
    return s;
}

/* col of the whole chunk as one matrix, columns n*HoWo + p */
static bool wide_cols(const conv_geom *c)
{
    return c->algo == OCLNN_CONV_IM2COL_WIDE || c->algo == OCLNN_CONV_IM2COL_TILED;
}

static bool has_epilogue(const conv_geom *c)
{
    return c->algo != OCLNN_CONV_IM2COL_TILED && (c->algo == OCLNN_CONV_IM2COL_WIDE || c->has_bias || c->act);
}

/* Binds and enqueues launch `which` for images [n0, n0 + nb). */
static oclnn_status enqueue_chunk(oclnn_context *ctx, oclnn_tensor *node, int which, int n0, int nb, bool dry)
{
    if (dry) return OCLNN_OK;
    const conv_geom *c = node->op_data;
    oclnn_launch l = node->launch[which];
    const char *op = node->op->name;
    oclnn_status s;
    if (which == L_IM2COL) {
        int howo = conv_howo(c), wide = wide_cols(c);
        int args[4] = {n0, nb, wide ? nb * conv_cols(c) : howo, wide ? conv_col_img(c) : c->cin * c->kh * c->kw * howo};
        s = oclnn_conv_args_int(l.kernel, 4, op, 4, args);
        l.global[1] = (size_t)nb;
    } else if (c->algo == OCLNN_CONV_IM2COL_WIDE) {
        int args[2] = {n0, nb};
        s = oclnn_conv_args_int(l.kernel, 7, op, 2, args);
        l.global[2] = (size_t)nb;
    } else {
        /* bias_act works on the chunk's slice of y */
        cl_uint i = 0;
        int y_off = oclnn_tensor_elem_offset(node) + n0 * c->cout * conv_howo(c);
        s = oclnn_arg(l.kernel, &i, sizeof(cl_mem), &node->buffer, op);
        if (!s) s = oclnn_arg(l.kernel, &i, sizeof y_off, &y_off, op);
        if (!s) s = oclnn_conv_args_int(l.kernel, 5, op, 1, &nb);
        l.global[2] = (size_t)nb;
    }
    if (s) return s;
    double t0 = oclnn_conv_phase_begin(ctx, node);
    s = oclnn_launch_enqueue(ctx, &l, op);
    oclnn_conv_phase_end(ctx, node, which == L_IM2COL ? CONV_PHASE_COLS : CONV_PHASE_EPILOGUE, t0);
    return s;
}

/* out[n][g] = W[g] * col[n][g] for the chunk's images (col = x when pointwise). */
static oclnn_status batched_gemms(oclnn_context *ctx, oclnn_tensor *node, int n0, int nb, bool dry)
{
    const conv_geom *c = node->op_data;
    oclnn_tensor *x = node->src[0], *w = node->src[1];
    size_t cout_g = (size_t)conv_cout_g(c), k = (size_t)conv_k(c), howo = (size_t)conv_howo(c);
    oclnn_gemm_args a = oclnn_conv_gemm_bind(w, c->pointwise ? x : node->aux[0], node);
    a.m = cout_g;
    a.n = howo;
    a.k = k;
    a.lda = k;
    a.ldb = howo;
    a.ldc = howo;
    size_t img[3] = {0, (size_t)c->cin * c->kh * c->kw * howo, (size_t)c->cout * howo};
    size_t grp[3] = {cout_g * k, k * howo, cout_g * howo};
    if (c->pointwise) a.b_off += (size_t)n0 * img[1];
    a.c_off += (size_t)n0 * img[2];
    return oclnn_conv_gemm_grid(ctx, node, c->algo, &a, nb, c->groups, img, grp, dry);
}

static oclnn_status wide_gemm(oclnn_context *ctx, oclnn_tensor *node, int nb, bool dry)
{
    const conv_geom *c = node->op_data;
    size_t cout_g = (size_t)conv_cout_g(c), k = (size_t)conv_k(c), cols = (size_t)nb * conv_howo(c);
    oclnn_gemm_args a = oclnn_conv_gemm_bind(node->src[1], node->aux[0], node->aux[1]);
    a.m = cout_g;
    a.n = cols;
    a.k = k;
    a.lda = k;
    a.ldb = cols;
    a.ldc = cols;
    a.batch = (size_t)c->groups;
    a.a_stride = cout_g * k;
    a.b_stride = k * cols;
    a.c_stride = cout_g * cols;
    return oclnn_conv_gemm_run(ctx, node, c->algo, &a, dry);
}

/* y[n][g] = act(W[g] col[g][:, n] + b) for the chunk, scattered from the
 * wide column space straight into NCHW; with the fused max-pool, y is the
 * pooled plane and aux[1] gets the argmax (gemm.h, oclnn_gemm_args.pool). */
static oclnn_status tiled_gemm(oclnn_context *ctx, oclnn_tensor *node, int n0, int nb, bool dry)
{
    const conv_geom *c = node->op_data;
    size_t plane = (size_t)(c->pool ? conv_pooled(c) : conv_howo(c)), k = (size_t)conv_k(c);
    size_t cout_g = (size_t)conv_cout_g(c), cols = (size_t)nb * conv_cols(c);
    oclnn_gemm_args a = oclnn_conv_gemm_bind(node->src[1], node->aux[0], node);
    a.m = cout_g;
    a.n = nb * plane;
    a.k = k;
    a.lda = k;
    a.ldb = cols;
    a.ldc = plane;
    a.c_off += (size_t)n0 * c->cout * plane;
    a.c_wrap = plane;
    a.c_wrap_stride = (size_t)c->cout * plane;
    a.batch = (size_t)c->groups;
    a.a_stride = cout_g * k;
    a.b_stride = k * cols;
    a.c_stride = cout_g * plane;
    if (c->pool) {
        a.pool = c->pool;
        a.pool_stride = (size_t)c->pool * nb * plane;
        a.pool_wp = (size_t)(c->wo / c->pool);
        a.pool_wo = (size_t)c->wo;
        a.idx = node->aux[1]->buffer;
        a.idx_off = (size_t)oclnn_tensor_elem_offset(node->aux[1]) + (size_t)n0 * c->cout * plane;
    }
    if (c->has_bias) {
        a.bias_mode = OCLNN_GEMM_BIAS_ROW;
        a.bias = node->src[2]->buffer;
        a.bias_off = (size_t)oclnn_tensor_elem_offset(node->src[2]);
        a.bias_stride = cout_g;
    }
    a.relu = c->act == OCLNN_ACT_RELU;
    return oclnn_conv_gemm_run(ctx, node, c->algo, &a, dry);
}

static oclnn_status clblast_convgemm(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    oclnn_tensor *x = node->src[0], *w = node->src[1];
    if (c->n == 0) return OCLNN_OK;
    CLBlastStatusCode code = CLBlastSconvgemm(
        CLBlastKernelModeCrossCorrelation, (size_t)c->cin, (size_t)c->h, (size_t)c->w, (size_t)c->kh,
        (size_t)c->kw, (size_t)c->ph, (size_t)c->pw, (size_t)c->sh, (size_t)c->sw, (size_t)c->dh, (size_t)c->dw,
        (size_t)c->cout, (size_t)c->n, x->buffer, (size_t)oclnn_tensor_elem_offset(x), w->buffer,
        (size_t)oclnn_tensor_elem_offset(w), node->buffer, (size_t)oclnn_tensor_elem_offset(node), &ctx->queue,
        NULL);
    if (code == CLBlastSuccess) return OCLNN_OK;
    if (code > -1024) return oclnn_cl_check((int)code, "CLBlastSconvgemm", node->op->name);
    return oclnn_fail(OCLNN_ERR_OPENCL, "CLBlastSconvgemm failed with CLBlast status %d in op '%s'", (int)code,
                      node->op->name);
}

/* dry: only let CLBlast size its temp buffer for every GEMM the run issues. */
static oclnn_status conv_run(oclnn_context *ctx, oclnn_tensor *node, bool dry)
{
    const conv_geom *c = node->op_data;
    oclnn_status s = OCLNN_OK;
    if (c->algo == OCLNN_CONV_CLBLAST_CONVGEMM) {
        s = clblast_convgemm(ctx, node);
        if (!s && has_epilogue(c)) s = enqueue_chunk(ctx, node, L_EPILOGUE, 0, c->n, dry);
        return s;
    }
    for (int n0 = 0; n0 < c->n && !s; n0 += c->chunk) {
        int nb = c->n - n0 < c->chunk ? c->n - n0 : c->chunk;
        if (!c->pointwise || wide_cols(c)) s = enqueue_chunk(ctx, node, L_IM2COL, n0, nb, dry);
        if (s) break;
        if (c->algo == OCLNN_CONV_IM2COL_TILED)
            s = tiled_gemm(ctx, node, n0, nb, dry);
        else if (c->algo == OCLNN_CONV_IM2COL_WIDE)
            s = wide_gemm(ctx, node, nb, dry);
        else
            s = batched_gemms(ctx, node, n0, nb, dry);
        if (!s && has_epilogue(c)) s = enqueue_chunk(ctx, node, L_EPILOGUE, n0, nb, dry);
    }
    return s;
}

static oclnn_status conv_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    if (c->algo == OCLNN_CONV_WINOGRAD) return oclnn_conv_winograd_prepare(ctx, node);
    if (c->algo == OCLNN_CONV_DIRECT) return oclnn_conv_direct_prepare(ctx, node);
    oclnn_tensor *x = node->src[0], *b = c->has_bias ? node->src[2] : node;
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    /* launch[L_IM2COL] always exists (unused for pointwise/convgemm) so the
     * epilogue keeps its index. */
    bool rows = c->algo == OCLNN_CONV_IM2COL_TILED;
    oclnn_status s = oclnn_conv_kernel(ctx, node, rows ? "im2col_rows" : "im2col", &l);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->naux ? node->aux[0] : x, op);
    if (!s) s = oclnn_arg_tensor(l->kernel, &i, x, op);
    size_t col_rows = (size_t)c->cin * c->kh * c->kw;
    if (!s && rows) oclnn_conv_launch3(ctx, l, col_rows, 1, 1);
    else if (!s) oclnn_conv_launch3(ctx, l, (size_t)conv_howo(c), 1, col_rows);
    if (!s && c->algo == OCLNN_CONV_IM2COL_WIDE) {
        i = 0;
        s = oclnn_conv_kernel(ctx, node, "permute_out", &l);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, node, op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, node->aux[1], op);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, b, op);
        if (!s) s = oclnn_arg(l->kernel, &i, sizeof c->has_bias, &c->has_bias, op);
        if (!s) oclnn_conv_launch3(ctx, l, (size_t)conv_howo(c), (size_t)c->cout, 1);
    } else if (!s && has_epilogue(c)) {
        i = 2;
        s = oclnn_conv_kernel(ctx, node, "bias_act", &l);
        if (!s) s = oclnn_arg_tensor(l->kernel, &i, b, op);
        if (!s) s = oclnn_arg(l->kernel, &i, sizeof c->has_bias, &c->has_bias, op);
        if (!s) oclnn_conv_launch3(ctx, l, (size_t)conv_howo(c), (size_t)c->cout, 1);
    }
    if (!s && c->algo != OCLNN_CONV_CLBLAST_CONVGEMM) s = conv_run(ctx, node, true);
    if (!s && c->algo == OCLNN_CONV_CLBLAST_CONVGEMM) {
        /* CLBlast compiles convgemm on first use: do it now, not in the
         * first timed run. The arena holds nothing yet, so writing y is harmless. */
        s = clblast_convgemm(ctx, node);
        if (!s) s = oclnn_cl_check(clFinish(ctx->queue), "clFinish", op);
    }
    return s;
}

static oclnn_status conv_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    if (c->algo == OCLNN_CONV_DIRECT) return oclnn_launches_enqueue(ctx, node);
    return c->algo == OCLNN_CONV_WINOGRAD ? oclnn_conv_winograd_forward(ctx, node) : conv_run(ctx, node, false);
}

static const oclnn_op_def conv_def = {.name = "conv2d",
                                      .prepare = conv_prepare,
                                      .forward = conv_forward,
                                      .backward = oclnn_conv_backward,
                                      .release = oclnn_conv_release};

/* ---- constructor */

static int param_or(int v, int dflt) { return v ? v : dflt; }

/* AUTO follows the GEMM engine the context resolves to (tiled on CPUs,
 * CLBlast elsewhere, or $OCLNN_GEMM): measured on PoCL (2-core CI machine),
 * the tiled kernel is several times faster than CLBlast's untuned GEMM; on
 * GPUs CLBlast's batched GEMM avoids the permute and its scratch. A bad
 * $OCLNN_GEMM falls back to the device's default here; the first GEMM
 * prepared reports it. */
static oclnn_conv_algorithm auto_algorithm(const oclnn_graph *g)
{
    oclnn_gemm_engine e;
    if (oclnn_gemm_engine_resolve(g->ctx, OCLNN_GEMM_AUTO, &e))
        e = g->ctx->info.is_cpu ? OCLNN_GEMM_TILED : OCLNN_GEMM_CLBLAST;
    return e == OCLNN_GEMM_TILED ? OCLNN_CONV_IM2COL_TILED : OCLNN_CONV_IM2COL_BATCHED;
}

/* Winograd on CPUs (where AUTO means the tiled engine) for the 3x3
 * stride-1 layers with at least 32 input and output channels: its GEMMs
 * have K = Cin, and with few channels the transforms' memory traffic
 * outweighs the multiplies saved. Measured 2026-12-02 on the 2-core Zen 4
 * EPYC (PoCL 3.1, shared machine at load 2-4, so the fastest of 2 x 9
 * alternating runs), batch 8, pad 1, tiled vs winograd ms, forward / forward
 * + both gradients: 16->16 56x56 2.6/2.8, 9.2/7.7; 16->16 28x28 0.5/0.7,
 * 1.6/2.1; 3->64 56x56 0.8/3.3, 6.2/11.1 (all slower or even); 32->32
 * 56x56 6.2/5.2, 28.3/22.7; 32->32 28x28 1.5/1.8, 6.9/6.0; 64->64 56x56
 * 35.0/15.0, 86.8/59.2; 64->64 28x28 5.5/2.8, 15.2/15.3; 128->128 28x28
 * 19.9/10.7, 64.5/55.6; 256->256 14x14 26.5/21.4, 85.5/69.4; 64->128
 * 28x28 11.1/7.6, 55.0/44.4 (bench/results/winograd-pocl-2026-12-02.txt). */
#define WINOGRAD_MIN_CHANNELS 32

/* DIRECT on CPUs for the other stride-1 layers it applies to, from 8
 * input channels: its weight gradient spreads over (Cin / 2) x kh work
 * items, too few below that, and with one input channel the forward's
 * col matrix is small anyway. Measured 2026-12-02 on the 2-core Zen 4
 * EPYC (PoCL 3.1), best of 10, tiled vs direct ms, forward / forward +
 * both gradients (bias and relu): SimpleCNN's conv2 32->64 5x5 14x14
 * batch 64 with its 2x2 pool 14.5/6.7, 27.7/20.4; 8->16 5x5 28x28 batch
 * 64 15.7/8.7 (training); 16->32 3x3 28x28 batch 64 14.1/11.5 (training);
 * SimpleCNN's conv1 1->32 5x5 28x28 1.4/1.9 forward, 2.5/7.9 training
 * without the data gradient; 3->64 3x3 56x56 batch 16 7.3/12.6 training
 * (both slower); 3x3 64->64 56x56 batch 16: Winograd 15.4/53.0 against
 * direct 19.2/65.7, so Winograd keeps those. 1x1 layers, whose x is the
 * col matrix already (a plain GEMM), gain nothing: 64->64 56x56 batch 16
 * 6.3/6.3, 19.8/17.8; 256->64 14x14 batch 64 5.0/3.7, 16.6/17.9; 64->256
 * 14x14 batch 64 5.3/5.3, 20.3/25.7. */
#define DIRECT_MIN_CHANNELS 8

static oclnn_conv_algorithm auto_for_shape(const oclnn_graph *g, const conv_geom *c)
{
    oclnn_conv_algorithm a = auto_algorithm(g);
    if (a != OCLNN_CONV_IM2COL_TILED || !g->ctx->info.is_cpu) return a;
    if (c->cin >= WINOGRAD_MIN_CHANNELS && c->cout >= WINOGRAD_MIN_CHANNELS && oclnn_conv_winograd_applies(c))
        return OCLNN_CONV_WINOGRAD;
    if (c->cin >= DIRECT_MIN_CHANNELS && !c->pointwise && oclnn_conv_direct_applies(c)) return OCLNN_CONV_DIRECT;
    return a;
}

static oclnn_conv_algorithm choose_algorithm(const oclnn_graph *g, const conv_geom *c, oclnn_conv_algorithm want)
{
    if (want == OCLNN_CONV_CLBLAST_CONVGEMM && c->groups == 1 && c->n > 0) return want;
    if (want == OCLNN_CONV_WINOGRAD && oclnn_conv_winograd_applies(c)) return want;
    if (want == OCLNN_CONV_DIRECT && oclnn_conv_direct_applies(c)) return want;
    if (want == OCLNN_CONV_IM2COL_BATCHED || want == OCLNN_CONV_IM2COL_WIDE || want == OCLNN_CONV_IM2COL_TILED)
        return want;
    return auto_for_shape(g, c);
}

oclnn_tensor *oclnn_conv2d(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *weight, oclnn_tensor *bias,
                           const oclnn_conv2d_params *p)
{
    oclnn_tensor *srcs[3] = {x, weight, bias};
    if (!oclnn_graph_usable(g, "conv2d", bias ? 3 : 2, srcs)) return NULL;
    oclnn_conv2d_params none;
    memset(&none, 0, sizeof none);
    if (!p) p = &none;
    char xs[128], ws[128], bs[128];
    oclnn_tensor_shape_str(x, xs, sizeof xs);
    oclnn_tensor_shape_str(weight, ws, sizeof ws);
    oclnn_tensor_shape_str(bias, bs, sizeof bs);
    if (p->stride_h < 0 || p->stride_w < 0 || p->pad_h < 0 || p->pad_w < 0 || p->dilation_h < 0 ||
        p->dilation_w < 0 || p->groups < 0 || p->max_pool < 0)
        return oclnn_graph_fail(
            g, OCLNN_ERR_INVALID_ARG,
            "conv2d: negative parameter (stride %dx%d, pad %dx%d, dilation %dx%d, groups %d, max_pool %d)",
            p->stride_h, p->stride_w, p->pad_h, p->pad_w, p->dilation_h, p->dilation_w, p->groups, p->max_pool);
    if ((unsigned)p->activation > OCLNN_ACT_RELU || (unsigned)p->algorithm > OCLNN_CONV_DIRECT)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "conv2d: unknown activation %d or algorithm %d",
                                (int)p->activation, (int)p->algorithm);
    if (x->ndim != 4 || weight->ndim != 4 || x->dtype != OCLNN_DTYPE_F32 || weight->dtype != OCLNN_DTYPE_F32)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE,
                                "conv2d: needs f32 input [N, Cin, H, W] and weight [Cout, Cin/groups, kh, kw], got "
                                "input %s and weight %s",
                                xs, ws);
    conv_geom c;
    memset(&c, 0, sizeof c);
    c.n = (int)x->dims[0];
    c.cin = (int)x->dims[1];
    c.h = (int)x->dims[2];
    c.w = (int)x->dims[3];
    c.cout = (int)weight->dims[0];
    c.kh = (int)weight->dims[2];
    c.kw = (int)weight->dims[3];
    c.sh = param_or(p->stride_h, 1);
    c.sw = param_or(p->stride_w, 1);
    c.ph = p->pad_h;
    c.pw = p->pad_w;
    c.dh = param_or(p->dilation_h, 1);
    c.dw = param_or(p->dilation_w, 1);
    c.groups = param_or(p->groups, 1);
    c.act = (int)p->activation;
    c.has_bias = bias != NULL;
    c.vw = g->ctx->info.simd_floats >= 16 ? 16 : g->ctx->info.simd_floats >= 8 ? 8 : 4;
    if (c.cin % c.groups || c.cout % c.groups || weight->dims[1] * c.groups != c.cin || c.kh < 1 || c.kw < 1)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE,
                                "conv2d: input %s and weight %s do not fit %d group(s) (need Cin and Cout divisible "
                                "by groups and weight [Cout, Cin/groups, kh, kw])",
                                xs, ws, c.groups);
    if (bias && (bias->dtype != OCLNN_DTYPE_F32 || bias->ndim != 1 || bias->dims[0] != c.cout))
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "conv2d: bias %s does not fit weight %s (need [%d])", bs, ws,
                                c.cout);
    int64_t ext_h = (int64_t)c.dh * (c.kh - 1) + 1, ext_w = (int64_t)c.dw * (c.kw - 1) + 1;
    int64_t pad_h = (int64_t)c.h + 2 * c.ph, pad_w = (int64_t)c.w + 2 * c.pw;
    if (ext_h > pad_h || ext_w > pad_w)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE,
                                "conv2d: kernel %s (dilated %lldx%lld) is larger than the padded input %s "
                                "(%lldx%lld with padding %dx%d)",
                                ws, (long long)ext_h, (long long)ext_w, xs, (long long)pad_h, (long long)pad_w, c.ph,
                                c.pw);
    c.ho = (int)((pad_h - ext_h) / c.sh + 1);
    c.wo = (int)((pad_w - ext_w) / c.sw + 1);
    if (p->max_pool > c.ho || p->max_pool > c.wo)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE,
                                "conv2d: max_pool %d is larger than the conv output %dx%d (input %s, weight %s)",
                                p->max_pool, c.ho, c.wo, xs, ws);
    c.pointwise = c.kh == 1 && c.kw == 1 && c.sh == 1 && c.sw == 1 && c.ph == 0 && c.pw == 0;
    /* Every index in the kernels is an int. */
    int64_t col_img = (int64_t)c.cin * c.kh * c.kw * c.ho * c.wo;
    int64_t out_n = (int64_t)c.n * c.cout * c.ho * c.wo;
    if (oclnn_tensor_numel(x) > INT_MAX || out_n > INT_MAX || col_img > INT_MAX ||
        oclnn_tensor_numel(weight) > INT_MAX)
        return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED,
                                "conv2d: input %s with weight %s needs more than 2^31 elements", xs, ws);
    c.algo = choose_algorithm(g, &c, p->algorithm);
    bool other_bwd = c.algo == OCLNN_CONV_CLBLAST_CONVGEMM || c.algo == OCLNN_CONV_WINOGRAD;
    c.bwd = other_bwd ? (int)auto_algorithm(g) : c.algo;
    /* A max-pool fuses into the tiled GEMM and into the direct kernel (a
     * 1x1 window is no pool; the direct kernel keeps window rows in a
     * private buffer, so up to 4x4); the other paths get a max_pool2d
     * node after the conv. */
    bool fuses_pool = c.algo == OCLNN_CONV_IM2COL_TILED || (c.algo == OCLNN_CONV_DIRECT && p->max_pool <= 4);
    if (p->max_pool > 1 && fuses_pool) {
        c.pool = p->max_pool;
        c.pointwise = 0;
        col_img = (int64_t)c.cin * c.kh * c.kw * conv_cols(&c);
    }
    int64_t per_img = col_img > (int64_t)c.cout * c.ho * c.wo ? col_img : (int64_t)c.cout * c.ho * c.wo;
    /* DIRECT has no col matrix; its weight gradient streams every chunk's
     * DT and x once per work item: without chunks the 3x3 64->64 56x56
     * layer at batch 64 (51 MiB of DT) took 2.5x as long per image as at
     * batch 16, each item reading it from memory (SimpleCNN's conv2, 3 MiB,
     * ran as fast either way). */
    if (c.algo == OCLNN_CONV_DIRECT) per_img = oclnn_conv_direct_image_floats(&c);
    size_t budget = col_budget_override            ? col_budget_override
                    : g->ctx->info.is_cpu ? CONV_COL_BUDGET_CPU_BYTES
                                          : CONV_COL_BUDGET_BYTES;
    int64_t chunk = (int64_t)(budget / 4) / (per_img ? per_img : 1);
    if (chunk > INT_MAX / (per_img ? per_img : 1)) chunk = INT_MAX / (per_img ? per_img : 1);
    c.chunk = (int)(chunk < 1 ? 1 : chunk > c.n ? (c.n ? c.n : 1) : chunk);
    if (c.algo == OCLNN_CONV_WINOGRAD) {
        int64_t wimg = oclnn_conv_winograd_image_floats(&c);
        int64_t wchunk = (int64_t)(budget / 4) / wimg;
        if (wchunk > INT_MAX / wimg) wchunk = INT_MAX / wimg;
        c.wchunk = (int)(wchunk < 1 ? 1 : wchunk > c.n ? (c.n ? c.n : 1) : wchunk);
    }

    oclnn_tensor *fsrc[4] = {oclnn_contiguous(g, x), oclnn_contiguous(g, weight)};
    int nsrc = 2;
    if (bias) fsrc[nsrc++] = oclnn_contiguous(g, bias);
    if (c.algo == OCLNN_CONV_DIRECT) {
        /* x's padded copy, read by the forward and the weight gradient */
        oclnn_tensor *xp = oclnn_conv_direct_input(g, &c, fsrc[0]);
        if (!xp) return NULL;
        if (xp != fsrc[0]) fsrc[nsrc++] = xp;
    }
    int64_t dims[4] = {c.n, c.cout, c.pool ? c.ho / c.pool : c.ho, c.pool ? c.wo / c.pool : c.wo};
    oclnn_tensor *y = oclnn_conv_node_new(g, &conv_def, &c, 4, dims, nsrc, fsrc);
    if (!y) return NULL;
    if (c.algo == OCLNN_CONV_WINOGRAD && !oclnn_conv_winograd_add_aux(y)) return NULL;
    if (c.algo == OCLNN_CONV_DIRECT && !oclnn_conv_direct_add_aux(y)) return NULL;
    bool wide = c.algo == OCLNN_CONV_IM2COL_WIDE;
    if (c.algo != OCLNN_CONV_DIRECT && (wide_cols(&c) || (!c.pointwise && c.algo == OCLNN_CONV_IM2COL_BATCHED))) {
        int64_t col[2] = {(int64_t)c.cin * c.kh * c.kw, (int64_t)c.chunk * conv_cols(&c)};
        if (!oclnn_aux_new(y, OCLNN_DTYPE_F32, 2, col)) return NULL;
    }
    if (wide) {
        int64_t tmp[2] = {c.cout, (int64_t)c.chunk * c.ho * c.wo};
        if (!oclnn_aux_new(y, OCLNN_DTYPE_F32, 2, tmp)) return NULL;
    }
    if (c.pool && !oclnn_aux_new(y, OCLNN_DTYPE_I32, 4, dims)) return NULL;
    if (p->max_pool > 1 && !c.pool) {
        oclnn_pool2d_params pp = oclnn_pool2d_params_default(p->max_pool, p->max_pool, 0);
        y = oclnn_max_pool2d(g, y, &pp);
    }
    return y;
}

oclnn_conv_algorithm oclnn_conv2d_algorithm(const oclnn_tensor *t)
{
    if (!t || t->op != &conv_def || !t->op_data) return OCLNN_CONV_AUTO;
    return (oclnn_conv_algorithm)((const conv_geom *)t->op_data)->algo;
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_conv_ops[] = {&conv_def, NULL};
