/* Winograd F(2x2, 3x3) for 3x3, stride-1, dilation-1, one-group convs
 * (OCLNN_CONV_WINOGRAD; the transforms are in cl/conv_winograd.cl).
 *
 * Per run: the weights' transform U = G g G^T (the weights change at every
 * training step, and this is cheap: 16 x Cout x Cin floats), then per
 * chunk of images the input transform into V, one batched GEMM of 16
 * products M[xi] = U[xi] V[xi] on the engine the other conv paths use
 * (oclnn's tiled GEMM on CPUs, CLBlast elsewhere), and the output
 * transform, which adds the bias, applies the activation and writes NCHW.
 * Against im2col + GEMM it does 16 instead of 36 multiplies per 2x2
 * output tile and channel pair, and its V (4 x Cin x HoWo per image) is
 * smaller than the col matrix (9 x Cin x HoWo).
 *
 * The data gradient of such a conv is a conv of the same kind: dx = dy
 * convolved with the weights rotated 180 degrees, Cin and Cout swapped,
 * padding 2 - p (so it applies for p <= 2). Its node (below) runs the same
 * transforms on dt [Cout, N*HoWo] from the backward's grad_prep, which has
 * the activation's mask applied already. The weight gradient is Winograd's
 * too (F(3x3, 2x2) in effect; the node at the end of this file). */
#include "ops/conv_internal.h"

#include <limits.h>
#include <stdio.h>

extern const char oclnn_cl_conv_winograd[];

/* One Winograd conv as the kernels see it: the input (forward: x; data
 * gradient: dt) with IC channels, the OC-channel NCHW output. */
typedef struct wino_shape {
    int ic, oc, h, w, ho, wo, ph, pw;
    int n_stride, c_stride; /* of the input's elements */
    int flip;               /* the weight is the forward's, rotated and transposed */
    int act, has_bias;
    int tw, tiles;          /* tiles per row and per image */
} wino_shape;

static wino_shape shape_of(const conv_geom *c, bool dgrad)
{
    wino_shape s;
    if (dgrad) {
        s = (wino_shape){.ic = c->cout, .oc = c->cin, .h = c->ho, .w = c->wo, .ho = c->h, .wo = c->w,
                         .ph = 2 - c->ph, .pw = 2 - c->pw, .n_stride = conv_howo(c),
                         .c_stride = c->n * conv_howo(c), .flip = 1};
    } else {
        s = (wino_shape){.ic = c->cin, .oc = c->cout, .h = c->h, .w = c->w, .ho = c->ho, .wo = c->wo,
                         .ph = c->ph, .pw = c->pw, .n_stride = c->cin * c->h * c->w, .c_stride = c->h * c->w,
                         .act = c->act, .has_bias = c->has_bias};
    }
    s.tw = (s.wo + 1) / 2;
    s.tiles = (s.ho + 1) / 2 * s.tw;
    return s;
}

/* Floats between the 16 planes of V and of M (cl/conv_winograd.cl). */
#define PLANE_PAD 32

/* The V and M scratch of one image. */
static int64_t image_floats(const wino_shape *s) { return 16 * (int64_t)s->tiles * (s->ic + s->oc); }

bool oclnn_conv_winograd_applies(const conv_geom *c)
{
    if (c->kh != 3 || c->kw != 3 || c->sh != 1 || c->sw != 1 || c->dh != 1 || c->dw != 1 || c->groups != 1)
        return false;
    /* every index in the kernels is an int, for one image per chunk at least */
    wino_shape f = shape_of(c, false), d = shape_of(c, true);
    int64_t big = image_floats(&f) > image_floats(&d) ? image_floats(&f) : image_floats(&d);
    return big + 32 * PLANE_PAD <= INT_MAX && 16 * (int64_t)c->cin * c->cout <= INT_MAX;
}

bool oclnn_conv_winograd_dgrad_applies(const conv_geom *c)
{
    return c->algo == OCLNN_CONV_WINOGRAD && c->ph <= 2 && c->pw <= 2;
}

int64_t oclnn_conv_winograd_image_floats(const conv_geom *c)
{
    wino_shape f = shape_of(c, false), d = shape_of(c, true);
    int64_t fwd = image_floats(&f), bwd = oclnn_conv_winograd_dgrad_applies(c) ? image_floats(&d) : 0;
    return fwd > bwd ? fwd : bwd;
}

/* U [16, OC, IC], V [16, IC*wchunk*T + pad], M [16, OC*wchunk*T + pad] as aux 0-2. */
static bool add_aux(oclnn_tensor *node, const wino_shape *s, int chunk)
{
    int64_t cols = (int64_t)chunk * s->tiles;
    int64_t u[3] = {16, s->oc, s->ic}, v[2] = {16, s->ic * cols + PLANE_PAD}, m[2] = {16, s->oc * cols + PLANE_PAD};
    return oclnn_aux_new(node, OCLNN_DTYPE_F32, 3, u) && oclnn_aux_new(node, OCLNN_DTYPE_F32, 2, v) &&
           oclnn_aux_new(node, OCLNN_DTYPE_F32, 2, m);
}

bool oclnn_conv_winograd_add_aux(oclnn_tensor *node)
{
    const conv_geom *c = node->op_data;
    wino_shape s = shape_of(c, false);
    return add_aux(node, &s, c->wchunk);
}

enum { L_WEIGHT, L_INPUT, L_OUTPUT };

/* Appends kernel `name` of cl/conv_winograd.cl, built for activation act
 * (-DACT: one program per activation for all the kernels). */
static oclnn_status wino_kernel(oclnn_context *ctx, oclnn_tensor *node, int act, const char *name, oclnn_launch **l)
{
    char opts[32];
    snprintf(opts, sizeof opts, "-DACT=%d", act);
    return oclnn_launch_kernel(ctx, node, oclnn_cl_conv_winograd, opts, name, l);
}

/* Appends the input transform V = B^T x B of src (shape s) into v. Its
 * n0, nb (arguments 4, 5) are set per chunk (enqueue_chunk). */
static oclnn_status bind_input(oclnn_context *ctx, oclnn_tensor *node, oclnn_tensor *v, oclnn_tensor *src,
                               const wino_shape *s)
{
    const char *op = node->op->name;
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status st = wino_kernel(ctx, node, s->act, "wino_input", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, v, op);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, src, op);
    int iargs[10] = {s->n_stride, s->c_stride, s->ic, s->h, s->w, s->ph, s->pw, s->tw, s->tiles, PLANE_PAD};
    if (!st) st = oclnn_conv_args_int(l->kernel, i + 2, op, 10, iargs);
    if (!st) oclnn_conv_launch3(ctx, l, (size_t)(s->tiles / s->tw), (size_t)s->ic, 1);
    return st;
}

/* launch[] = weight, input, output transforms; src[0] the input, src[1]
 * the weight, src[2] the bias when the shape has one. */
static oclnn_status wino_prepare(oclnn_context *ctx, oclnn_tensor *node, const wino_shape *s)
{
    const char *op = node->op->name;
    oclnn_tensor *u = node->aux[0], *v = node->aux[1], *m = node->aux[2];
    oclnn_tensor *b = s->has_bias ? node->src[2] : m; /* any buffer: has_bias 0 never reads it */
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status st = wino_kernel(ctx, node, s->act, "wino_weight", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, u, op);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node->src[1], op);
    int wargs[3] = {s->oc, s->ic, s->flip};
    if (!st) st = oclnn_conv_args_int(l->kernel, i, op, 3, wargs);
    if (!st) oclnn_conv_launch3(ctx, l, (size_t)s->ic, (size_t)s->oc, 1);

    if (!st) st = bind_input(ctx, node, v, node->src[0], s);

    i = 0;
    if (!st) st = wino_kernel(ctx, node, s->act, "wino_output", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, m, op);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, b, op);
    if (!st) st = oclnn_arg(l->kernel, &i, sizeof s->has_bias, &s->has_bias, op);
    int oargs[6] = {s->oc, s->ho, s->wo, s->tw, s->tiles, PLANE_PAD};
    if (!st) st = oclnn_conv_args_int(l->kernel, i + 2, op, 6, oargs);
    if (!st) oclnn_conv_launch3(ctx, l, (size_t)(s->tiles / s->tw), (size_t)s->oc, 1);
    return st;
}

/* Enqueues launch `which` (a transform over a chunk, global (.., .., nb))
 * for images [n0, n0 + nb): its n0, nb are arguments arg and arg + 1. */
static oclnn_status enqueue_chunk(oclnn_context *ctx, oclnn_tensor *node, int which, cl_uint arg, conv_phase phase,
                                  int n0, int nb)
{
    oclnn_launch l = node->launch[which];
    int args[2] = {n0, nb};
    oclnn_status s = oclnn_conv_args_int(l.kernel, arg, node->op->name, 2, args);
    l.global[2] = (size_t)nb;
    if (s) return s;
    double t0 = oclnn_conv_phase_begin(ctx, node);
    s = oclnn_launch_enqueue(ctx, &l, node->op->name);
    oclnn_conv_phase_end(ctx, node, phase, t0);
    return s;
}

/* M[xi] = U[xi] V[xi] for the 16 xi, over the chunk's nb * T columns. */
static oclnn_status wino_gemm(oclnn_context *ctx, oclnn_tensor *node, const wino_shape *s, int nb, bool dry)
{
    size_t cols = (size_t)nb * s->tiles, ic = (size_t)s->ic, oc = (size_t)s->oc;
    oclnn_gemm_args a = oclnn_conv_gemm_bind(node->aux[0], node->aux[1], node->aux[2]);
    a.m = oc;
    a.n = cols;
    a.k = ic;
    a.lda = ic;
    a.ldb = cols;
    a.ldc = cols;
    a.batch = 16;
    a.a_stride = oc * ic;
    a.b_stride = ic * cols + PLANE_PAD;
    a.c_stride = oc * cols + PLANE_PAD;
    return oclnn_conv_gemm_run(ctx, node, OCLNN_CONV_WINOGRAD, &a, dry);
}

static oclnn_status wino_run(oclnn_context *ctx, oclnn_tensor *node, const wino_shape *s, bool dry)
{
    const conv_geom *c = node->op_data;
    if (c->n == 0) return OCLNN_OK;
    oclnn_status st = OCLNN_OK;
    if (!dry) {
        double t0 = oclnn_conv_phase_begin(ctx, node);
        st = oclnn_launch_enqueue(ctx, &node->launch[L_WEIGHT], node->op->name);
        oclnn_conv_phase_end(ctx, node, CONV_PHASE_COLS, t0);
    }
    for (int n0 = 0; n0 < c->n && !st; n0 += c->wchunk) {
        int nb = c->n - n0 < c->wchunk ? c->n - n0 : c->wchunk;
        if (!dry) st = enqueue_chunk(ctx, node, L_INPUT, 4, CONV_PHASE_COLS, n0, nb);
        if (!st) st = wino_gemm(ctx, node, s, nb, dry);
        if (!st && !dry) st = enqueue_chunk(ctx, node, L_OUTPUT, 7, CONV_PHASE_EPILOGUE, n0, nb);
    }
    return st;
}

oclnn_status oclnn_conv_winograd_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    wino_shape s = shape_of(node->op_data, false);
    oclnn_status st = wino_prepare(ctx, node, &s);
    return st ? st : wino_run(ctx, node, &s, true);
}

oclnn_status oclnn_conv_winograd_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    wino_shape s = shape_of(node->op_data, false);
    return wino_run(ctx, node, &s, false);
}

/* ---- dx: src = {dt, weight}, aux = U, V, M of the flipped conv */

static oclnn_status dgrad_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    wino_shape s = shape_of(node->op_data, true);
    oclnn_status st = wino_prepare(ctx, node, &s);
    return st ? st : wino_run(ctx, node, &s, true);
}

static oclnn_status dgrad_forward(oclnn_context *ctx, oclnn_tensor *node)
{
    wino_shape s = shape_of(node->op_data, true);
    return wino_run(ctx, node, &s, false);
}

static const oclnn_op_def dgrad_def = {.name = "conv2d_grad_input_winograd",
                                       .prepare = dgrad_prepare,
                                       .forward = dgrad_forward,
                                       .release = oclnn_conv_release};

/* A gradient node of `def` with sources {dt, other}, dims `dims` and the
 * U, V, M scratch of the forward's shape (wgrad: dU, V, Yh) or the flipped
 * conv's (dgrad). */
static oclnn_tensor *grad_node(oclnn_graph *g, const oclnn_op_def *def, const conv_geom *c, bool dgrad,
                               oclnn_tensor *dt, oclnn_tensor *other, const int64_t *dims)
{
    oclnn_tensor *srcs[2] = {dt, other};
    oclnn_tensor *t = oclnn_conv_node_new(g, def, c, 4, dims, 2, srcs);
    wino_shape s = shape_of(c, dgrad);
    if (t && !add_aux(t, &s, c->wchunk)) return NULL;
    return t;
}

oclnn_tensor *oclnn_conv_winograd_dgrad(oclnn_graph *g, const conv_geom *c, oclnn_tensor *dt, oclnn_tensor *w,
                                        const int64_t *x_dims)
{
    return grad_node(g, &dgrad_def, c, true, dt, w, x_dims);
}

/* ---- dW: src = {dt, x}, aux = dU [16, OC, IC], V, Yh (the forward's V
 * and M shapes); launch[] = input transform of x, dy transform, weight
 * transform */

enum { LW_INPUT, LW_DY, LW_WEIGHT };

static oclnn_status wgrad_prepare(oclnn_context *ctx, oclnn_tensor *node)
{
    const char *op = node->op->name;
    const conv_geom *c = node->op_data;
    wino_shape s = shape_of(c, false);
    oclnn_tensor *du = node->aux[0], *v = node->aux[1], *yh = node->aux[2];
    s.act = 0; /* one program for all three kernels */
    oclnn_launch *l;
    cl_uint i = 0;
    oclnn_status st = bind_input(ctx, node, v, node->src[1], &s);
    if (!st) st = wino_kernel(ctx, node, 0, "wino_dy", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, yh, op);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node->src[0], op);
    /* dt is [OC, N*HoWo] */
    int dargs[8] = {conv_howo(c), c->n * conv_howo(c), s.oc, s.ho, s.wo, s.tw, s.tiles, PLANE_PAD};
    if (!st) st = oclnn_conv_args_int(l->kernel, i + 2, op, 8, dargs);
    if (!st) oclnn_conv_launch3(ctx, l, (size_t)(s.tiles / s.tw), (size_t)s.oc, 1);

    i = 0;
    if (!st) st = wino_kernel(ctx, node, 0, "wino_wgrad", &l);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, node, op);
    if (!st) st = oclnn_arg_tensor(l->kernel, &i, du, op);
    int wargs[3] = {s.oc, s.ic, node->accumulate};
    if (!st) st = oclnn_conv_args_int(l->kernel, i, op, 3, wargs);
    if (!st) oclnn_conv_launch3(ctx, l, (size_t)s.ic, (size_t)s.oc, 1);
    return st;
}

/* dU[xi] (OC x IC) (+)= Yh[xi] V[xi]^T over the chunk's nb * T columns. */
static oclnn_status wgrad_gemm(oclnn_context *ctx, oclnn_tensor *node, const wino_shape *s, int nb, bool first,
                               bool dry)
{
    size_t cols = (size_t)nb * s->tiles, ic = (size_t)s->ic, oc = (size_t)s->oc;
    oclnn_gemm_args a = oclnn_conv_gemm_bind(node->aux[2], node->aux[1], node->aux[0]);
    a.trans_b = true;
    a.m = oc;
    a.n = ic;
    a.k = cols;
    a.beta = first ? 0.0f : 1.0f;
    a.lda = cols;
    a.ldb = cols;
    a.ldc = ic;
    a.batch = 16;
    a.a_stride = oc * cols + PLANE_PAD;
    a.b_stride = ic * cols + PLANE_PAD;
    a.c_stride = oc * ic;
    return oclnn_conv_gemm_run(ctx, node, OCLNN_CONV_WINOGRAD, &a, dry);
}

static oclnn_status wgrad_run(oclnn_context *ctx, oclnn_tensor *node, bool dry)
{
    const conv_geom *c = node->op_data;
    wino_shape s = shape_of(c, false);
    if (c->n == 0) return dry ? OCLNN_OK : oclnn_conv_empty_grad(ctx, node);
    oclnn_status st = OCLNN_OK;
    for (int n0 = 0; n0 < c->n && !st; n0 += c->wchunk) {
        int nb = c->n - n0 < c->wchunk ? c->n - n0 : c->wchunk;
        for (int k = LW_INPUT; k <= LW_DY && !st && !dry; k++)
            st = enqueue_chunk(ctx, node, k, 4, CONV_PHASE_COLS, n0, nb);
        if (!st) st = wgrad_gemm(ctx, node, &s, nb, n0 == 0, dry);
    }
    if (!st && !dry) {
        double t0 = oclnn_conv_phase_begin(ctx, node);
        st = oclnn_launch_enqueue(ctx, &node->launch[LW_WEIGHT], node->op->name);
        oclnn_conv_phase_end(ctx, node, CONV_PHASE_EPILOGUE, t0);
    }
    return st;
}

static oclnn_status wgrad_prepare_all(oclnn_context *ctx, oclnn_tensor *node)
{
    oclnn_status st = wgrad_prepare(ctx, node);
    return st ? st : wgrad_run(ctx, node, true);
}

static oclnn_status wgrad_forward(oclnn_context *ctx, oclnn_tensor *node) { return wgrad_run(ctx, node, false); }

/* Its last kernel adds into the accumulator (the chunks sum in dU first). */
static const oclnn_op_def wgrad_def = {.name = "conv2d_grad_weight_winograd",
                                       .prepare = wgrad_prepare_all,
                                       .forward = wgrad_forward,
                                       .release = oclnn_conv_release,
                                       .accumulates = oclnn_conv_grad_accumulates};

oclnn_tensor *oclnn_conv_winograd_wgrad(oclnn_graph *g, const conv_geom *c, oclnn_tensor *dt, oclnn_tensor *x,
                                        const int64_t *w_dims)
{
    return grad_node(g, &wgrad_def, c, false, dt, x, w_dims);
}

/* This family's entries in the op registry (src/ops/registry.c). */
const oclnn_op_def *const oclnn_conv_winograd_ops[] = {&dgrad_def, &wgrad_def, NULL};
