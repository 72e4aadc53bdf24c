/* GEMM family vs double references. The ops (matmul with every transpose
 * combo, batched (3-D, 4-D), the folded batch-times-matrix case, linear
 * with and without bias, empty dims, gradients by finite differences,
 * shape errors) run once per engine and tiled variant (packed, direct),
 * chosen through $OCLNN_GEMM, which a fixture sets before each test (plans
 * read it at prepare). The engine itself is also driven directly: offsets,
 * padded leading dimensions, batch strides, alpha and beta, the tiled
 * engine's fused epilogue (bias per row or column, relu, wrapped C
 * columns), and for the packed variant sizes on both sides of every tile
 * and block edge (micro-tile 6 x 32 or 6 x 16, work group of 4 tiles,
 * K blocks of 256, packing 64 k per work item) and in both orientations
 * (B packed, or A packed and C stored transposed), with the broadcast
 * side read in place or packed as well. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/gemm.h"
#include "testutil.h"

/* C[b] = op(A[b]) op(B[b]) with A stored [.., M, K] (or [.., K, M] when
 * transposed) and B [.., K, N] (or [.., N, K]); B shared when b_batched is 0. */
typedef struct mm_user {
    int ta, tb, b_batched;
    int64_t batch, m, n, k;
} mm_user;

static oclnn_tensor *build_matmul(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const mm_user *u = user;
    if (!u->ta && !u->tb) return oclnn_matmul(g, in[0], in[1]);
    return oclnn_matmul_t(g, in[0], u->ta, in[1], u->tb);
}

static void ref_matmul(const double *const *in, double *out, const void *user)
{
    const mm_user *u = user;
    int64_t M = u->m, N = u->n, K = u->k;
    for (int64_t b = 0; b < u->batch; b++) {
        const double *a = in[0] + b * M * K, *bm = in[1] + (u->b_batched ? b * K * N : 0);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t p = 0; p < K; p++)
                    s += (u->ta ? a[p * M + i] : a[i * K + p]) * (u->tb ? bm[j * K + p] : bm[p * N + j]);
                out[(b * M + i) * N + j] = s;
            }
    }
}

/* nbatch leading dims (batch_dims) on A; on B too unless fold. */
static void matmul_case(int ta, int tb, int nbatch, const int64_t *batch_dims, int fold, int64_t m, int64_t n,
                        int64_t k, tu_op_case *c, mm_user *u)
{
    memset(c, 0, sizeof *c);
    *u = (mm_user){ta, tb, !fold, 1, m, n, k};
    c->name = "matmul";
    c->ninputs = 2;
    c->ndim[0] = nbatch + 2;
    c->ndim[1] = fold ? 2 : nbatch + 2;
    for (int d = 0; d < nbatch; d++) {
        u->batch *= batch_dims[d];
        c->dims[0][d] = batch_dims[d];
        if (!fold) c->dims[1][d] = batch_dims[d];
    }
    int64_t *ad = c->dims[0] + nbatch, *bd = c->dims[1] + (fold ? 0 : nbatch);
    ad[0] = ta ? k : m;
    ad[1] = ta ? m : k;
    bd[0] = tb ? n : k;
    bd[1] = tb ? k : n;
    c->lo[0] = c->lo[1] = -1;
    c->hi[0] = c->hi[1] = 1;
    c->build = build_matmul;
    c->reference = ref_matmul;
    c->user = u;
}

static const int64_t mnk[][3] = {
    {1, 1, 1}, {7, 7, 7}, {33, 33, 33}, {129, 129, 129}, {7, 33, 129}, {129, 1, 33}, {33, 129, 7}, {1, 7, 129},
};
#define NMNK (sizeof mnk / sizeof mnk[0])

START_TEST(test_matmul_2d)
{
    uint64_t rng = tu_seed() + 1;
    for (int t = 0; t < 4; t++)
        for (size_t s = 0; s < NMNK; s++) {
            tu_op_case c;
            mm_user u;
            matmul_case(t & 1, t >> 1, 0, NULL, 0, mnk[s][0], mnk[s][1], mnk[s][2], &c, &u);
            tu_check_forward(&c, 1e-6, &rng);
            /* the big cube's finite differences cost the most; skip it */
            if (s != 3) tu_check_gradient(&c, 1e-2, 1e-6, 24, &rng);
        }
}
END_TEST

START_TEST(test_matmul_batched)
{
    uint64_t rng = tu_seed() + 2;
    const int64_t b3[1] = {3}, b4[2] = {2, 3};
    for (int t = 0; t < 4; t++) {
        tu_op_case c;
        mm_user u;
        matmul_case(t & 1, t >> 1, 1, b3, 0, 7, 33, 5, &c, &u);
        tu_check_forward(&c, 1e-6, &rng);
        tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
        matmul_case(t & 1, t >> 1, 2, b4, 0, 33, 7, 129, &c, &u);
        tu_check_forward(&c, 1e-6, &rng);
        tu_check_gradient(&c, 1e-2, 1e-6, 16, &rng);
        matmul_case(t & 1, t >> 1, 1, b3, 0, 1, 1, 1, &c, &u);
        tu_check_forward(&c, 1e-6, &rng);
    }
}
END_TEST

/* [B, T, K] x [K, N]: the batch folds into M (one GEMM). */
START_TEST(test_matmul_folded)
{
    uint64_t rng = tu_seed() + 3;
    const int64_t b3[1] = {5}, b4[2] = {2, 3};
    for (int tb = 0; tb < 2; tb++) {
        tu_op_case c;
        mm_user u;
        matmul_case(0, tb, 1, b3, 1, 7, 33, 129, &c, &u);
        tu_check_forward(&c, 1e-6, &rng);
        tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
        matmul_case(0, tb, 2, b4, 1, 1, 7, 33, &c, &u);
        tu_check_forward(&c, 1e-6, &rng);
        tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
    }
}
END_TEST

/* Strided (transposed-view) operands are made contiguous first. */
static oclnn_tensor *build_views(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    return oclnn_matmul(g, oclnn_transpose(g, in[0], 0, 1), in[1]); /* A stored [K, M] */
}

START_TEST(test_matmul_view_operand)
{
    uint64_t rng = tu_seed() + 4;
    tu_op_case c;
    mm_user u;
    matmul_case(1, 0, 0, NULL, 0, 9, 7, 33, &c, &u);
    c.build = build_views;
    tu_check_forward(&c, 1e-6, &rng);
    tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
}
END_TEST

/* ---- linear: y = x W^T + b, x [..., in], W [out, in] */
typedef struct lin_user {
    int has_bias, xdims;
    int64_t rows, in, out;
} lin_user;

static oclnn_tensor *build_linear(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const lin_user *u = user;
    return oclnn_linear(g, in[0], in[1], u->has_bias ? in[2] : NULL);
}

static void ref_linear(const double *const *in, double *out, const void *user)
{
    const lin_user *u = user;
    for (int64_t r = 0; r < u->rows; r++)
        for (int64_t o = 0; o < u->out; o++) {
            double s = u->has_bias ? in[2][o] : 0;
            for (int64_t i = 0; i < u->in; i++) s += in[0][r * u->in + i] * in[1][o * u->in + i];
            out[r * u->out + o] = s;
        }
}

static void linear_case(int has_bias, int xdims, const int64_t *lead, int64_t in, int64_t out, tu_op_case *c,
                        lin_user *u)
{
    memset(c, 0, sizeof *c);
    *u = (lin_user){has_bias, xdims, 1, in, out};
    c->name = has_bias ? "linear(bias)" : "linear";
    c->ninputs = has_bias ? 3 : 2;
    c->ndim[0] = xdims;
    for (int d = 0; d < xdims - 1; d++) {
        c->dims[0][d] = lead[d];
        u->rows *= lead[d];
    }
    c->dims[0][xdims - 1] = in;
    c->ndim[1] = 2;
    c->dims[1][0] = out;
    c->dims[1][1] = in;
    c->ndim[2] = 1;
    c->dims[2][0] = out;
    for (int i = 0; i < 3; i++) {
        c->lo[i] = -1;
        c->hi[i] = 1;
    }
    c->build = build_linear;
    c->reference = ref_linear;
    c->user = u;
}

START_TEST(test_linear)
{
    uint64_t rng = tu_seed() + 5;
    const struct {
        int xdims;
        int64_t lead[2], in, out;
    } cases[] = {
        {2, {1}, 1, 1}, {2, {7}, 33, 129}, {2, {129}, 7, 1}, {2, {33}, 129, 7}, {3, {2, 5}, 33, 7}, {1, {0}, 7, 33},
    };
    for (int bias = 0; bias < 2; bias++)
        for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
            tu_op_case c;
            lin_user u;
            linear_case(bias, cases[s].xdims, cases[s].lead, cases[s].in, cases[s].out, &c, &u);
            tu_check_forward(&c, 1e-6, &rng);
            tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
        }
}
END_TEST

/* ---- oclnn_matmul_bias: x op(w) + b with w [in, out] (BERT's own graphs
 * keep their weights so) or [out, in] */
static oclnn_tensor *build_matmul_bias(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    return oclnn_matmul_bias(g, in[0], in[1], *(const int *)user, in[2]);
}

static void ref_matmul_bias(const double *const *in, double *out, const void *user)
{
    int tw = *(const int *)user;
    const int rows = 9, nin = 33, nout = 17;
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < nout; o++) {
            double acc = in[2][o];
            for (int i = 0; i < nin; i++) acc += in[0][r * nin + i] * (tw ? in[1][o * nin + i] : in[1][i * nout + o]);
            out[r * nout + o] = acc;
        }
}

START_TEST(test_matmul_bias)
{
    uint64_t rng = tu_seed() + 8;
    for (int tw = 0; tw < 2; tw++) {
        tu_op_case c;
        memset(&c, 0, sizeof c);
        c.name = tw ? "matmul_bias(w^T)" : "matmul_bias(w)";
        c.ninputs = 3;
        c.ndim[0] = c.ndim[1] = 2;
        c.ndim[2] = 1;
        c.dims[0][0] = 9;
        c.dims[0][1] = 33;
        c.dims[1][0] = tw ? 17 : 33;
        c.dims[1][1] = tw ? 33 : 17;
        c.dims[2][0] = 17;
        for (int i = 0; i < 3; i++) {
            c.lo[i] = -1;
            c.hi[i] = 1;
        }
        c.build = build_matmul_bias;
        c.reference = ref_matmul_bias;
        c.user = &tw;
        tu_check_forward(&c, 1e-6, &rng);
        tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
    }
}
END_TEST

/* The bias goes into the GEMM's epilogue (one "linear" node) on the tiled
 * engine, and stays a bias_add after the matmul on CLBlast, which has no
 * epilogue; test_linear checks the values and gradients of both. */
START_TEST(test_linear_fuses_its_bias_where_the_engine_can)
{
    const char *engine = getenv("OCLNN_GEMM");
    bool tiled = engine && strcmp(engine, "clblast") != 0;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 3, 2, 3, 5);
    oclnn_tensor *w = oclnn_param(g, "w", 2, (const int64_t[]){4, 5});
    oclnn_tensor *b = oclnn_param(g, "b", 1, (const int64_t[]){4});
    oclnn_tensor *y = oclnn_linear(g, x, w, b);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->ndim, 3);
    const oclnn_tensor *node = y->storage;
    ck_assert_str_eq(node->op->name, tiled ? "linear" : "bias_add");
    ck_assert_int_eq(node->nsrc, tiled ? 3 : 2);
    oclnn_graph_release(g);
}
END_TEST

/* Operands that are strided views or start at an element offset: plain,
 * transposed, batched and folded matmul and linear, forward and gradient. */
START_TEST(test_layouts)
{
    uint64_t rng = tu_seed() + 6;
    const int64_t b3[1] = {3};
    for (int t = 0; t < 4; t++) {
        tu_op_case c;
        mm_user u;
        matmul_case(t & 1, t >> 1, 0, NULL, 0, 7, 9, 5, &c, &u);
        tu_check_forward_strided(&c, 1e-6, &rng);
        tu_check_gradient_strided(&c, 1e-2, 1e-6, 24, &rng);
        matmul_case(t & 1, t >> 1, 1, b3, 0, 5, 3, 7, &c, &u);
        tu_check_forward_strided(&c, 1e-6, &rng);
        tu_check_gradient_strided(&c, 1e-2, 1e-6, 24, &rng);
    }
    tu_op_case c;
    mm_user u;
    matmul_case(0, 1, 1, b3, 1, 5, 7, 9, &c, &u);
    tu_check_forward_strided(&c, 1e-6, &rng);
    tu_check_gradient_strided(&c, 1e-2, 1e-6, 24, &rng);
    const int64_t lead[2] = {2, 5};
    for (int bias = 0; bias < 2; bias++) {
        lin_user lu;
        linear_case(bias, 3, lead, 9, 7, &c, &lu);
        tu_check_forward_strided(&c, 1e-6, &rng);
        tu_check_gradient_strided(&c, 1e-2, 1e-6, 24, &rng);
    }
}
END_TEST

/* Zero-sized M, N or K (an empty product is all zeros). */
START_TEST(test_matmul_empty_dims)
{
    const int64_t shapes[][2][3] = {
        {{2, 3, 0}, {2, 0, 4}}, /* batched, K = 0 */
        {{0, 3, 5}, {0, 5, 4}}, /* empty batch */
        {{1, 3, 0}, {1, 0, 4}}, /* single GEMM, K = 0 */
        {{1, 0, 5}, {1, 5, 4}}, /* M = 0 */
    };
    for (int s = 0; s < 4; s++) {
        oclnn_graph *g = oclnn_graph_create(tu_context());
        oclnn_tensor *a = oclnn_input(g, "a", OCLNN_DTYPE_F32, 3, shapes[s][0]);
        oclnn_tensor *b = oclnn_input(g, "b", OCLNN_DTYPE_F32, 3, shapes[s][1]);
        oclnn_tensor *y = oclnn_matmul(g, a, b);
        ck_assert_msg(y != NULL, "%s", oclnn_graph_error(g));
        TU_OK(oclnn_graph_output(g, y));
        TU_OK(oclnn_graph_compile(g, NULL));
        size_t n = (size_t)oclnn_tensor_numel(y);
        float out[24];
        for (size_t i = 0; i < n; i++) out[i] = TU_POISON;
        TU_OK(oclnn_tensor_write(y, out, n * sizeof *out));
        TU_OK(oclnn_graph_run(g));
        TU_OK(oclnn_tensor_read(y, out, n * sizeof *out));
        for (size_t i = 0; i < n; i++) ck_assert_msg(out[i] == 0.0f, "case %d: out[%zu] = %g", s, i, out[i]);
        oclnn_graph_release(g);
    }
}
END_TEST

/* Builds op(a, b) on fresh inputs and checks the error names the op and
 * both shapes. */
static void expect_error(int op, int na, const int64_t *da, int nb, const int64_t *db, int ta, int tb,
                         const char *name, const char *sa, const char *sb)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *a = oclnn_input(g, "a", OCLNN_DTYPE_F32, na, da), *b = oclnn_input(g, "b", OCLNN_DTYPE_F32, nb, db);
    oclnn_tensor *y = op ? oclnn_linear(g, a, b, NULL) : oclnn_matmul_t(g, a, ta, b, tb);
    ck_assert_ptr_null(y);
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_SHAPE);
    const char *msg = oclnn_graph_error(g);
    ck_assert_msg(strstr(msg, name) && strstr(msg, sa) && strstr(msg, sb), "message: %s", msg);
    oclnn_graph_release(g);
}

START_TEST(test_shape_errors)
{
    const int64_t a23[2] = {2, 3}, a45[2] = {4, 5}, a35[2] = {3, 5}, a7[1] = {7};
    const int64_t b234[3] = {2, 3, 4}, b345[3] = {3, 4, 5}, b2345[4] = {2, 3, 4, 5}, b245[3] = {2, 4, 5};
    expect_error(0, 2, a23, 2, a45, 0, 0, "matmul", "[2, 3]", "[4, 5]");          /* inner dims */
    expect_error(0, 2, a23, 2, a35, 1, 0, "matmul", "[2, 3]", "[3, 5]");          /* inner dims, A^T */
    expect_error(0, 2, a23, 2, a23, 0, 0, "matmul", "[2, 3]", "[2, 3]");          /* inner dims */
    expect_error(0, 2, a23, 2, a35, 0, 1, "matmul", "[2, 3]", "[3, 5]");          /* inner dims, B^T */
    expect_error(0, 3, b234, 3, b345, 0, 0, "matmul", "[2, 3, 4]", "[3, 4, 5]");  /* batch dims */
    expect_error(0, 2, b234 + 1, 3, b345, 0, 0, "matmul", "[3, 4]", "[3, 4, 5]"); /* 2-D x 3-D */
    expect_error(0, 3, b234, 4, b2345, 0, 0, "matmul", "[2, 3, 4]", "[2, 3, 4, 5]");
    expect_error(0, 3, b245, 2, a45, 1, 0, "matmul", "[2, 4, 5]", "[4, 5]");      /* A^T batch x matrix */
    expect_error(0, 1, a7, 2, a45, 0, 0, "matmul", "[7]", "[4, 5]");               /* 1-D operand */
    expect_error(1, 2, a23, 2, a45, 0, 0, "linear", "[2, 3]", "[4, 5]");           /* in features */
    expect_error(1, 2, a23, 1, a7, 0, 0, "linear", "[2, 3]", "[7]");               /* 1-D weight */
}
END_TEST

/* ---- the engine, driven directly on buffers */

typedef struct gemm_case {
    int ta, tb;
    size_t m, n, k, batch;
    float alpha, beta;
    size_t pad, off;     /* extra elements per leading dimension and batch entry; offset of every operand */
    oclnn_gemm_bias bias;
    bool relu;
    size_t wrap;         /* C columns wrap every `wrap` into blocks after all batch entries (conv's NCHW) */
} gemm_case;

typedef struct host_buf {
    float *host;
    size_t n;
    cl_mem dev;
} host_buf;

static void buf_make(host_buf *b, size_t n, uint64_t *rng)
{
    b->n = n;
    b->host = tu_random(n, -1.0f, 1.0f, rng);
    cl_int err;
    b->dev = clCreateBuffer(tu_context()->cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * sizeof(float), b->host,
                            &err);
    ck_assert_int_eq(err, CL_SUCCESS);
}

static void buf_free(host_buf *b)
{
    free(b->host);
    clReleaseMemObject(b->dev);
}

/* Element (i, j) of C for batch entry e. */
static size_t c_at(const oclnn_gemm_args *g, size_t e, size_t i, size_t j)
{
    size_t col = g->c_wrap ? j / g->c_wrap * g->c_wrap_stride + j % g->c_wrap : j;
    return g->c_off + e * g->c_stride + i * g->ldc + col;
}

/* $OCLNN_GEMM values the engine tests run on: each names an engine and,
 * for the tiled one, a forced variant. */
static const char *const configs[] = {"clblast", "direct", "packed"};
enum { CFG_CLBLAST, CFG_DIRECT, CFG_PACKED, NCONFIGS };

/* Lays the case out in buffers (every operand padded and offset), runs it
 * on configs[cfg] and checks C against a double reference; elements of C
 * outside the product must come back unchanged, and with beta 0 the
 * product's elements start as NaN, which must never be read. */
static void check_engine_case(int cfg, const gemm_case *gc, uint64_t *rng)
{
    ck_assert_int_eq(setenv("OCLNN_GEMM", configs[cfg], 1), 0);
    oclnn_gemm_engine engine = cfg == CFG_CLBLAST ? OCLNN_GEMM_CLBLAST : OCLNN_GEMM_TILED;
    oclnn_context *ctx = tu_context();
    oclnn_gemm_args g;
    memset(&g, 0, sizeof g);
    g.trans_a = gc->ta;
    g.trans_b = gc->tb;
    g.m = gc->m;
    g.n = gc->n;
    g.k = gc->k;
    g.batch = gc->batch;
    g.alpha = gc->alpha;
    g.beta = gc->beta;
    size_t ar = gc->ta ? gc->k : gc->m, ac = gc->ta ? gc->m : gc->k;
    size_t br = gc->tb ? gc->n : gc->k, bc = gc->tb ? gc->k : gc->n;
    g.lda = ac + gc->pad;
    g.ldb = bc + gc->pad;
    g.a_stride = ar * g.lda + gc->pad;
    g.b_stride = br * g.ldb + gc->pad;
    g.a_off = g.b_off = g.c_off = gc->off;
    size_t c_size;
    if (gc->wrap) {
        g.c_wrap = gc->wrap;
        g.ldc = gc->wrap;
        g.c_stride = gc->m * gc->wrap;
        g.c_wrap_stride = gc->batch * g.c_stride + gc->pad;
        c_size = gc->off + (gc->n + gc->wrap - 1) / gc->wrap * g.c_wrap_stride;
    } else {
        g.ldc = gc->n + gc->pad;
        g.c_stride = gc->m * g.ldc + gc->pad;
        c_size = gc->off + gc->batch * g.c_stride;
    }
    host_buf a, b, c, bias = {0};
    buf_make(&a, gc->off + gc->batch * g.a_stride + 1, rng);
    buf_make(&b, gc->off + gc->batch * g.b_stride + 1, rng);
    float *c0 = tu_random(c_size + 1, -1.0f, 1.0f, rng);
    if (gc->beta == 0.0f)
        for (size_t e = 0; e < gc->batch; e++)
            for (size_t i = 0; i < gc->m; i++)
                for (size_t j = 0; j < gc->n; j++) c0[c_at(&g, e, i, j)] = NAN;
    c.n = c_size + 1;
    c.host = malloc(c.n * sizeof(float));
    cl_int err;
    c.dev = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, c.n * sizeof(float), c0, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    g.a = a.dev;
    g.b = b.dev;
    g.c = c.dev;
    size_t bias_len = gc->bias == OCLNN_GEMM_BIAS_ROW ? gc->m : gc->n;
    if (gc->bias) {
        g.bias_mode = gc->bias;
        g.bias_stride = bias_len + gc->pad;
        g.bias_off = gc->off;
        buf_make(&bias, gc->off + gc->batch * g.bias_stride, rng);
        g.bias = bias.dev;
    }
    g.relu = gc->relu;

    oclnn_gemm_plan plan;
    TU_OK(oclnn_gemm_prepare(ctx, OCLNN_GEMM_AUTO, &g, "test", &plan));
    ck_assert_int_eq(plan.engine, engine);
    if (engine == OCLNN_GEMM_TILED)
        ck_assert_int_eq(plan.variant, cfg == CFG_PACKED ? OCLNN_GEMM_VARIANT_PACKED : OCLNN_GEMM_VARIANT_DIRECT);
    TU_OK(oclnn_gemm_enqueue(ctx, &plan, &g, "test"));
    TU_OK(oclnn_context_finish(ctx));
    oclnn_gemm_plan_release(&plan);
    ck_assert_int_eq(clEnqueueReadBuffer(ctx->queue, c.dev, CL_TRUE, 0, c.n * sizeof(float), c.host, 0, NULL, NULL),
                     CL_SUCCESS);

    size_t count = gc->batch * gc->m * gc->n, q = 0;
    float *got = malloc((count ? count : 1) * sizeof(float));
    double *want = malloc((count ? count : 1) * sizeof(double));
    char *product = calloc(c.n, 1);
    for (size_t e = 0; e < gc->batch; e++)
        for (size_t i = 0; i < gc->m; i++)
            for (size_t j = 0; j < gc->n; j++, q++) {
                const float *ab = a.host + g.a_off + e * g.a_stride, *bb = b.host + g.b_off + e * g.b_stride;
                double sum = 0;
                for (size_t p = 0; p < gc->k; p++)
                    sum += (double)(gc->ta ? ab[p * g.lda + i] : ab[i * g.lda + p]) *
                           (gc->tb ? bb[j * g.ldb + p] : bb[p * g.ldb + j]);
                size_t at = c_at(&g, e, i, j);
                double v = gc->alpha * sum + (gc->beta != 0.0f ? gc->beta * (double)c0[at] : 0.0);
                if (gc->bias)
                    v += bias.host[g.bias_off + e * g.bias_stride + (gc->bias == OCLNN_GEMM_BIAS_ROW ? i : j)];
                if (gc->relu && v < 0) v = 0;
                ck_assert_msg(!product[at], "C element %zu written twice", at);
                product[at] = 1;
                got[q] = c.host[at];
                want[q] = v;
            }
    double e = tu_nmse(got, want, count);
    ck_assert_msg(e <= 1e-6,
                  "%s: %s%s %zux%zux%zu batch %zu alpha %g beta %g pad %zu bias %d relu %d wrap %zu: NMSE %.3g",
                  configs[cfg], gc->ta ? "T" : "N", gc->tb ? "T" : "N", gc->m, gc->n, gc->k, gc->batch,
                  (double)gc->alpha, (double)gc->beta, gc->pad, (int)gc->bias, (int)gc->relu, gc->wrap, e);
    for (size_t i = 0; i < c.n; i++)
        if (!product[i])
            ck_assert_msg(memcmp(&c.host[i], &c0[i], sizeof(float)) == 0, "C element %zu outside the product changed",
                          i);
    free(got);
    free(want);
    free(product);
    free(c0);
    buf_free(&a);
    buf_free(&b);
    buf_free(&c);
    if (gc->bias) buf_free(&bias);
}

static const size_t sizes[][3] = {
    {1, 1, 1},   {7, 7, 7},     {33, 33, 33}, {129, 129, 129}, {7, 33, 129},
    {129, 1, 33}, {33, 129, 7}, {1, 7, 129},  {2, 3, 1},
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* Every transpose and awkward size, plain and then with offsets, padding,
 * a batch, alpha and beta, on every engine and variant. */
START_TEST(test_engine_layouts)
{
    uint64_t rng = tu_seed() + 20;
    for (int engine = 0; engine < NCONFIGS; engine++)
        for (int t = 0; t < 4; t++)
            for (size_t s = 0; s < NSIZES; s++) {
                gemm_case gc = {t & 1, t >> 1, sizes[s][0], sizes[s][1], sizes[s][2], 1, 1.0f, 0.0f, 0, 0, 0, false, 0};
                check_engine_case(engine, &gc, &rng);
                gc.batch = s % 2 ? 3 : 2;
                gc.pad = 3;
                gc.off = 5;
                gc.alpha = -0.75f;
                gc.beta = s % 3 == 0 ? 1.0f : 0.5f;
                check_engine_case(engine, &gc, &rng);
            }
}
END_TEST

/* The tiled engine's epilogue, on both variants: bias per row or column,
 * relu, wrapped columns (the direct variant stores A^T B^T transposed and
 * cannot wrap; the packed one can), and k = 0. */
START_TEST(test_engine_epilogue)
{
    uint64_t rng = tu_seed() + 21;
    for (int cfg = CFG_DIRECT; cfg <= CFG_PACKED; cfg++)
        for (int t = 0; t < 4; t++)
            for (int bias = OCLNN_GEMM_BIAS_NONE; bias <= OCLNN_GEMM_BIAS_COL; bias++)
                for (int relu = 0; relu < 2; relu++) {
                    gemm_case gc = {t & 1, t >> 1, 33, 71, 9, 2, 1.0f, relu ? 0.5f : 0.0f, 2, 3, (oclnn_gemm_bias)bias,
                                    relu, 0};
                    check_engine_case(cfg, &gc, &rng);
                    gc.m = 7;
                    gc.k = 129;
                    if (t != 3 || cfg == CFG_PACKED) {
                        gc.wrap = 33; /* 71 columns: two full blocks and a ragged one */
                        check_engine_case(cfg, &gc, &rng);
                        gc.wrap = 7;
                        gc.n = 64;
                        check_engine_case(cfg, &gc, &rng);
                    }
                    gc = (gemm_case){t & 1, t >> 1, 5, 9, 0, 2, 1.0f, 0.25f, 1, 2, (oclnn_gemm_bias)bias, relu, 0};
                    check_engine_case(cfg, &gc, &rng);
                }
}
END_TEST

/* The packed variant on both sides of its edges: M around the micro-tile
 * (6) and the work group (24 rows), N around the panel (16, 32, 64), K
 * around the packing chunk (64) and the K block (256, 512: the epilogue
 * and beta must apply once, on the right block), with every transpose,
 * batches, padding, offsets, alpha, beta, bias and relu. */
START_TEST(test_engine_packed_edges)
{
    static const size_t edge[][3] = {
        {5, 31, 63},  {6, 32, 64},   {7, 33, 65},  {23, 15, 255}, {24, 16, 256}, {25, 17, 257},
        {1, 65, 511}, {49, 1, 513},  {13, 97, 1},  {30, 64, 300}, {2, 200, 129}, {61, 47, 520},
        {33, 97, 257}, {40, 64, 65}, /* M >= 32 and M < N: A packed, C stored transposed */
        {7, 300, 70},  {270, 257, 40}, /* packed side >= 256 wide: the other one is packed too */
    };
    uint64_t rng = tu_seed() + 22;
    for (size_t s = 0; s < sizeof edge / sizeof edge[0]; s++)
        for (int t = 0; t < 4; t++) {
            gemm_case gc = {t & 1, t >> 1, edge[s][0], edge[s][1], edge[s][2], 1, 1.0f, 0.0f, 0, 0, 0, false, 0};
            if (s % 2) {
                gc.batch = 2 + s % 3;
                gc.pad = 3;
                gc.off = 7;
                gc.alpha = 0.5f;
                gc.beta = s % 4 == 1 ? 1.0f : -0.5f;
                gc.bias = (oclnn_gemm_bias)(1 + (s + t) % 2);
                gc.relu = t % 2;
            }
            check_engine_case(CFG_PACKED, &gc, &rng);
        }
}
END_TEST

/* Requests an engine cannot serve are errors, not wrong results. */
START_TEST(test_engine_errors)
{
    oclnn_context *ctx = tu_context();
    cl_int err;
    cl_mem buf = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, 1024, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    oclnn_gemm_args g = {.m = 2, .n = 2, .k = 2, .alpha = 1, .a = buf, .b = buf, .c = buf, .lda = 2, .ldb = 2,
                         .ldc = 2, .batch = 1, .relu = true};
    oclnn_gemm_plan plan;
    ck_assert_int_eq(oclnn_gemm_prepare(ctx, OCLNN_GEMM_CLBLAST, &g, "relu_test", &plan), OCLNN_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(oclnn_last_error(), "relu_test"), "message: %s", oclnn_last_error());
    oclnn_gemm_plan_release(&plan);

    g.relu = false;
    g.trans_a = g.trans_b = true;
    g.c_wrap = 1;
    g.c_wrap_stride = 4;
    ck_assert_int_eq(setenv("OCLNN_GEMM", "direct", 1), 0); /* the packed variant can wrap */
    TU_OK(oclnn_gemm_prepare(ctx, OCLNN_GEMM_TILED, &g, "wrap_test", &plan));
    ck_assert_int_eq(oclnn_gemm_enqueue(ctx, &plan, &g, "wrap_test"), OCLNN_ERR_UNSUPPORTED);
    g.c_wrap = 0;
    g.trans_b = false;
    ck_assert_int_eq(oclnn_gemm_enqueue(ctx, &plan, &g, "mismatch_test"), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "mismatch_test"), "message: %s", oclnn_last_error());
    oclnn_gemm_plan_release(&plan);

    /* past 2^31 elements: the tiled kernels index with ints */
    g.trans_a = false;
    g.batch = (size_t)1 << 30;
    g.a_stride = g.b_stride = g.c_stride = 4;
    for (int cfg = CFG_DIRECT; cfg <= CFG_PACKED; cfg++) {
        ck_assert_int_eq(setenv("OCLNN_GEMM", configs[cfg], 1), 0);
        /* a plan made for a small shape (the packed one would refuse the
         * huge one at prepare already, sizing its scratch) */
        TU_OK(oclnn_gemm_prepare(ctx, OCLNN_GEMM_TILED, &(oclnn_gemm_args){.m = 1, .n = 1, .batch = 1}, "huge_test",
                                 &plan));
        ck_assert_int_eq(oclnn_gemm_enqueue(ctx, &plan, &g, "huge_test"), OCLNN_ERR_UNSUPPORTED);
        ck_assert_msg(strstr(oclnn_last_error(), "huge_test"), "message: %s", oclnn_last_error());
        oclnn_gemm_plan_release(&plan);
    }
    /* the packed panels of a product whose operands fit but whose padded
     * panels (K x 32 per column panel) would not */
    g = (oclnn_gemm_args){.m = 1, .n = 1, .k = (size_t)1 << 26, .alpha = 1, .a = buf, .b = buf, .c = buf,
                          .lda = (size_t)1 << 26, .ldb = 1, .ldc = 1, .batch = 1, .trans_b = false};
    ck_assert_int_eq(setenv("OCLNN_GEMM", "packed", 1), 0);
    TU_OK(oclnn_gemm_prepare(ctx, OCLNN_GEMM_TILED, &(oclnn_gemm_args){.m = 1, .n = 1, .batch = 1}, "panel_test",
                             &plan));
    ck_assert_int_eq(oclnn_gemm_enqueue(ctx, &plan, &g, "panel_test"), OCLNN_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(oclnn_last_error(), "panel_test"), "message: %s", oclnn_last_error());
    oclnn_gemm_plan_release(&plan);

    /* a malformed tuning override is named, not ignored */
    const char *tiles[] = {"6,2,16,512", "6,2,16,512,8,1", "6,2,12,512,8", "0,2,16,512,8", "6,2,16,512,0x"};
    g = (oclnn_gemm_args){.m = 2, .n = 2, .k = 2, .batch = 1};
    ck_assert_int_eq(setenv("OCLNN_GEMM", "packed", 1), 0);
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) {
        ck_assert_int_eq(setenv("OCLNN_GEMM_PACKED_TILES", tiles[i], 1), 0);
        ck_assert_int_eq(oclnn_gemm_prepare(ctx, OCLNN_GEMM_TILED, &g, "tiles_test", &plan), OCLNN_ERR_INVALID_ARG);
        ck_assert_msg(strstr(oclnn_last_error(), tiles[i]) && strstr(oclnn_last_error(), "tiles_test"), "message: %s",
                      oclnn_last_error());
        oclnn_gemm_plan_release(&plan);
    }
    /* a valid one is used: 3 x 16 tiles, K blocks of 5, groups of 2 */
    ck_assert_int_eq(setenv("OCLNN_GEMM_PACKED_TILES", "3,1,16,5,2", 1), 0);
    TU_OK(oclnn_gemm_prepare(ctx, OCLNN_GEMM_TILED, &g, "tiles_test", &plan));
    ck_assert_int_eq(plan.pk_mr * 100 + plan.pk_nr * 10 + plan.pk_kc, 3 * 100 + 16 * 10 + 5);
    oclnn_gemm_plan_release(&plan);
    uint64_t rng = tu_seed() + 23;
    gemm_case gc = {1, 1, 17, 40, 23, 2, 1.0f, 0.5f, 1, 2, OCLNN_GEMM_BIAS_ROW, true, 0};
    check_engine_case(CFG_PACKED, &gc, &rng); /* 5 K blocks with the epilogue on the last */
    unsetenv("OCLNN_GEMM_PACKED_TILES");

    ck_assert_int_eq(setenv("OCLNN_GEMM", "fastest", 1), 0);
    oclnn_gemm_engine e;
    ck_assert_int_eq(oclnn_gemm_engine_resolve(ctx, OCLNN_GEMM_AUTO, &e), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "OCLNN_GEMM=fastest"), "message: %s", oclnn_last_error());
    ck_assert_int_eq(setenv("OCLNN_GEMM", "auto", 1), 0);
    TU_OK(oclnn_gemm_engine_resolve(ctx, OCLNN_GEMM_AUTO, &e));
    bool cpu = oclnn_context_device(ctx)->is_cpu;
    ck_assert_int_eq(e, cpu ? OCLNN_GEMM_TILED : OCLNN_GEMM_CLBLAST);
    /* the tiled engine on a CPU device has the packed kernels (used by
     * shape), on a GPU only the direct ones */
    g = (oclnn_gemm_args){.m = 2, .n = 2, .k = 2, .batch = 1};
    TU_OK(oclnn_gemm_prepare(ctx, OCLNN_GEMM_TILED, &g, "auto_test", &plan));
    ck_assert_int_eq(plan.variant, OCLNN_GEMM_VARIANT_AUTO);
    ck_assert_int_eq(plan.packed != NULL, cpu);
    oclnn_gemm_plan_release(&plan);
    TU_OK(oclnn_gemm_engine_resolve(ctx, OCLNN_GEMM_CLBLAST, &e));
    ck_assert_int_eq(e, OCLNN_GEMM_CLBLAST);
    clReleaseMemObject(buf);
}
END_TEST

/* The op tests run once per engine and variant. */
static void use_packed(void) { setenv("OCLNN_GEMM", "packed", 1); }
static void use_direct(void) { setenv("OCLNN_GEMM", "direct", 1); }
static void use_clblast(void) { setenv("OCLNN_GEMM", "clblast", 1); }

int main(void)
{
    Suite *s = suite_create("gemm");
    void (*const fixtures[3])(void) = {use_packed, use_direct, use_clblast};
    const char *names[3] = {"ops (packed)", "ops (direct)", "ops (clblast)"};
    for (int e = 0; e < 3; e++) {
        TCase *tc = tcase_create(names[e]);
        tcase_set_timeout(tc, 600);
        tcase_add_checked_fixture(tc, fixtures[e], NULL);
        tcase_add_test(tc, test_matmul_2d);
        tcase_add_test(tc, test_matmul_batched);
        tcase_add_test(tc, test_matmul_folded);
        tcase_add_test(tc, test_matmul_view_operand);
        tcase_add_test(tc, test_linear);
        tcase_add_test(tc, test_linear_fuses_its_bias_where_the_engine_can);
        tcase_add_test(tc, test_matmul_bias);
        tcase_add_test(tc, test_layouts);
        tcase_add_test(tc, test_matmul_empty_dims);
        suite_add_tcase(s, tc);
    }
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_engine_layouts);
    tcase_add_test(tc, test_engine_epilogue);
    tcase_add_test(tc, test_engine_packed_edges);
    tcase_add_test(tc, test_engine_errors);
    tcase_add_test(tc, test_shape_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
