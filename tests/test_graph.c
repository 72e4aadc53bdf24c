/* Graph planner, executor and autodiff mechanics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "ops/gemm.h"
#include "testutil.h"

/* A chain long enough that liveness reuse matters: every intermediate
 * dies right after its reader, so the arena needs ~2 tensors, not 8. */
static oclnn_tensor *build_chain(oclnn_graph *g, oclnn_tensor *x)
{
    oclnn_tensor *a = oclnn_relu(g, x);
    oclnn_tensor *b = oclnn_scale(g, a, 0.5f, 0.25f);
    oclnn_tensor *c = oclnn_sigmoid(g, b);
    oclnn_tensor *d = oclnn_mul(g, c, b);
    oclnn_tensor *e = oclnn_tanh(g, d);
    oclnn_tensor *f = oclnn_add(g, e, x);
    oclnn_tensor *h = oclnn_gelu(g, f);
    return oclnn_scale(g, h, 2.0f, 0.0f);
}

static void run_chain(int reuse, const float *in, float *out, int n, size_t *arena, size_t *naive)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 3, n / 3);
    oclnn_tensor *y = build_chain(g, x);
    TU_OK(oclnn_graph_output(g, y));
    oclnn_compile_options opt = {.no_memory_reuse = !reuse};
    TU_OK(oclnn_graph_compile(g, &opt));
    TU_OK(oclnn_tensor_write(x, in, (size_t)n * sizeof *in));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, out, (size_t)n * sizeof *out));
    *arena = oclnn_graph_arena_bytes(g);
    *naive = oclnn_graph_naive_bytes(g);
    oclnn_graph_release(g);
}

START_TEST(test_planner_reuses_memory_and_results_match)
{
    uint64_t rng = tu_seed() + 11;
    const int n = 3 * 4099;
    float *in = tu_random(n, -2, 2, &rng), *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    size_t arena_on, naive_on, arena_off, naive_off;
    run_chain(1, in, a, n, &arena_on, &naive_on);
    run_chain(0, in, b, n, &arena_off, &naive_off);
    ck_assert_msg(arena_on < naive_on, "arena %zu not below naive %zu", arena_on, naive_on);
    ck_assert_msg(arena_on <= 2 * (size_t)n * 4 + 512, "arena %zu: more than two live tensors", arena_on);
    ck_assert_uint_eq(arena_off, naive_off);
    ck_assert_int_eq(memcmp(a, b, n * sizeof *a), 0);
    free(in);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_run_many_times_with_new_inputs)
{
    uint64_t rng = tu_seed() + 12;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 1, 33), *y = oclnn_scale(g, oclnn_relu(g, x), 3.0f, 1.0f);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    for (int run = 0; run < 5; run++) {
        float in[33], out[33];
        tu_fill_uniform(in, 33, -1, 1, &rng);
        TU_OK(oclnn_tensor_write(x, in, sizeof in));
        TU_OK(oclnn_graph_run(g));
        TU_OK(oclnn_tensor_read(y, out, sizeof out));
        for (int i = 0; i < 33; i++) ck_assert_float_eq(out[i], 3.0f * (in[i] > 0 ? in[i] : 0) + 1.0f);
    }
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_transfer_errors)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 1, 8), *h = oclnn_relu(g, x), *y = oclnn_tanh(g, h);
    float buf[8] = {0};
    ck_assert_int_eq(oclnn_tensor_write(x, buf, sizeof buf), OCLNN_ERR_INVALID_ARG); /* before compile */
    ck_assert_msg(strstr(oclnn_last_error(), "compile"), "%s", oclnn_last_error());
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    ck_assert_int_eq(oclnn_tensor_write(x, buf, 7 * sizeof(float)), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_last_error(), "'x'"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_tensor_read(h, buf, sizeof buf), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "intermediate"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_null(oclnn_relu(g, x)); /* no building after compile */
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_construction_errors_are_sticky)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 4, 6);
    ck_assert_ptr_null(oclnn_input_f32(g, "x", 1, 3)); /* duplicate name */
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_graph_error(g), "'x'"), "%s", oclnn_graph_error(g));
    ck_assert_ptr_null(oclnn_reshape(g, x, 2, (const int64_t[]){5, 5})); /* ignored: error already set */
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    x = oclnn_input_f32(g, "x", 2, 4, 6);
    ck_assert_ptr_null(oclnn_reshape(g, x, 2, (const int64_t[]){5, 5}));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_graph_error(g), "reshape") && strstr(oclnn_graph_error(g), "[4, 6]"), "%s",
                  oclnn_graph_error(g));
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    ck_assert_ptr_null(oclnn_relu(g, NULL));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);
}
END_TEST

/* y = sum(x*x + x): dy/dx = 2x + 1 (x used twice, contributions summed) */
START_TEST(test_backward_sums_multiple_uses_and_accumulates)
{
    uint64_t rng = tu_seed() + 13;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "x", 1, (const int64_t[]){129});
    oclnn_tensor *loss = oclnn_sum_to(g, oclnn_add(g, oclnn_mul(g, x, x), x), 0, NULL);
    TU_OK(oclnn_graph_output(g, loss));
    TU_OK(oclnn_graph_backward(g, loss));
    TU_OK(oclnn_graph_compile(g, NULL));
    float in[129], grad[129];
    tu_fill_uniform(in, 129, -1, 1, &rng);
    TU_OK(oclnn_tensor_write(x, in, sizeof in));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(x), grad, sizeof grad));
    for (int i = 0; i < 129; i++) ck_assert_float_eq_tol(grad[i], 2 * in[i] + 1, 1e-6);
    TU_OK(oclnn_graph_run(g)); /* without zeroing: gradients add up */
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(x), grad, sizeof grad));
    for (int i = 0; i < 129; i++) ck_assert_float_eq_tol(grad[i], 2 * (2 * in[i] + 1), 1e-5);
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(x), grad, sizeof grad));
    for (int i = 0; i < 129; i++) ck_assert_float_eq_tol(grad[i], 2 * in[i] + 1, 1e-6);
    oclnn_graph_release(g);
}
END_TEST

static const oclnn_op_def unregistered_op = {.name = "test_op_not_registered"};

static const oclnn_op_def *registered(const char *name)
{
    for (int i = 0; i < oclnn_op_registry_count(); i++)
        if (!strcmp(oclnn_op_registry_get(i)->name, name)) return oclnn_op_registry_get(i);
    ck_abort_msg("op %s is not registered", name);
    return NULL;
}

START_TEST(test_backward_errors)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "w", 1, (const int64_t[]){4});
    ck_assert_int_eq(oclnn_graph_backward(g, x), OCLNN_ERR_SHAPE); /* not a scalar */
    /* a backward-only op has no gradient of its own */
    oclnn_tensor *xx[2] = {x, x};
    oclnn_tensor *odd = oclnn_node_new(g, registered("activation_backward"), OCLNN_DTYPE_F32, 1,
                                       (const int64_t[]){4}, 2, xx);
    oclnn_tensor *loss = oclnn_sum_to(g, odd, 0, NULL);
    ck_assert_int_eq(oclnn_graph_backward(g, loss), OCLNN_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(oclnn_last_error(), "activation_backward"), "%s", oclnn_last_error());
    oclnn_graph_release(g);

    /* an op definition that is not in the registry cannot make a node */
    g = oclnn_graph_create(tu_context());
    x = oclnn_param(g, "w", 1, (const int64_t[]){4});
    ck_assert_ptr_null(oclnn_node_new(g, &unregistered_op, OCLNN_DTYPE_F32, 1, (const int64_t[]){4}, 1, &x));
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "test_op_not_registered") && strstr(oclnn_last_error(), "registry"),
                  "%s", oclnn_last_error());
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    oclnn_tensor *in = oclnn_input_f32(g, "in", 1, 4);
    ck_assert_int_eq(oclnn_graph_backward(g, oclnn_sum_to(g, in, 0, NULL)), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_retain_grad_of_an_input)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 1, 7);
    oclnn_tensor *w = oclnn_param(g, "w", 1, (const int64_t[]){7});
    oclnn_tensor *loss = oclnn_sum_to(g, oclnn_mul(g, oclnn_tanh(g, x), w), 0, NULL);
    TU_OK(oclnn_graph_retain_grad(g, x));
    TU_OK(oclnn_graph_backward(g, loss));
    TU_OK(oclnn_graph_compile(g, NULL));
    float xv[7] = {-1, -0.5f, 0, 0.25f, 0.5f, 1, 2}, wv[7] = {1, 2, 3, 4, 5, 6, 7}, gx[7];
    TU_OK(oclnn_tensor_write(x, xv, sizeof xv));
    TU_OK(oclnn_tensor_write(w, wv, sizeof wv));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(x), gx, sizeof gx));
    for (int i = 0; i < 7; i++) {
        double t = tanh(xv[i]);
        ck_assert_double_eq_tol(gx[i], wv[i] * (1 - t * t), 1e-5);
    }
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_share_params_between_graphs)
{
    oclnn_graph *train = oclnn_graph_create(tu_context());
    oclnn_tensor *w = oclnn_param(train, "w", 1, (const int64_t[]){5});
    oclnn_tensor *x1 = oclnn_input_f32(train, "x", 2, 2, 5);
    TU_OK(oclnn_graph_output(train, oclnn_mul(train, x1, w)));
    TU_OK(oclnn_graph_compile(train, NULL));
    oclnn_graph *eval = oclnn_graph_create(tu_context());
    oclnn_param(eval, "w", 1, (const int64_t[]){5});
    oclnn_tensor *x3 = oclnn_input_f32(eval, "x", 2, 3, 5);
    oclnn_tensor *y3 = oclnn_mul(eval, x3, oclnn_graph_find(eval, "w"));
    TU_OK(oclnn_graph_output(eval, y3));
    TU_OK(oclnn_graph_share_params(eval, train));
    TU_OK(oclnn_graph_compile(eval, NULL));
    float wv[5] = {1, 2, 3, 4, 5}, xv[15], yv[15];
    for (int i = 0; i < 15; i++) xv[i] = (float)i;
    TU_OK(oclnn_tensor_write(w, wv, sizeof wv)); /* written through the training graph */
    TU_OK(oclnn_tensor_write(x3, xv, sizeof xv));
    TU_OK(oclnn_graph_run(eval));
    TU_OK(oclnn_tensor_read(y3, yv, sizeof yv));
    for (int i = 0; i < 15; i++) ck_assert_float_eq(yv[i], xv[i] * wv[i % 5]);
    oclnn_graph_release(eval);
    oclnn_graph_release(train);

    /* shape mismatch is refused with the name */
    train = oclnn_graph_create(tu_context());
    oclnn_param(train, "w", 1, (const int64_t[]){5});
    TU_OK(oclnn_graph_compile(train, NULL));
    eval = oclnn_graph_create(tu_context());
    oclnn_param(eval, "w", 1, (const int64_t[]){6});
    ck_assert_int_eq(oclnn_graph_share_params(eval, train), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_last_error(), "'w'"), "%s", oclnn_last_error());
    oclnn_graph_release(eval);
    oclnn_graph_release(train);
}
END_TEST

/* ---- activation fused into a GEMM's epilogue (plan.c fuse_activations) */

typedef enum { FUSE_PLAIN, FUSE_TWO_READERS, FUSE_OUTPUT } fuse_shape;

typedef struct fuse_graph {
    oclnn_graph *g;
    oclnn_tensor *x, *w, *b, *lin, *act, *y, *extra;
} fuse_graph;

/* y = act(linear(x)) on x [2, rows, 70] (the linear's output read through
 * a reshape view, as in BERT) with 69 outputs (whole-vector and edge
 * stores), then a scale; `train` adds the backward of sum(y). */
static fuse_graph fuse_graph_new(const oclnn_compile_options *opt, int gelu, int train, fuse_shape shape, int rows,
                                 int w_t)
{
    fuse_graph f = {.g = oclnn_graph_create(tu_context())};
    oclnn_graph *g = f.g;
    f.x = oclnn_input_f32(g, "x", 3, 2, rows, 70);
    f.w = oclnn_param(g, "w", 2, w_t ? (const int64_t[]){70, 69} : (const int64_t[]){69, 70});
    f.b = oclnn_param(g, "b", 1, (const int64_t[]){69});
    /* w [out, in] (x W^T, the dot-product kernel) or [in, out] as BERT keeps it (x W, the row kernel) */
    oclnn_tensor *h = w_t ? oclnn_reshape(g, oclnn_matmul_bias(g, oclnn_reshape(g, f.x, 2, (const int64_t[]){-1, 70}),
                                                                f.w, 0, f.b),
                                          3, (const int64_t[]){2, rows, 69})
                          : oclnn_linear(g, f.x, f.w, f.b);
    f.lin = h ? h->storage : NULL;
    f.act = gelu ? oclnn_gelu(g, h) : oclnn_relu(g, h);
    /* read through views (and not elementwise: a copy of the transpose) */
    oclnn_tensor *flat = oclnn_reshape(g, f.act, 2, (const int64_t[]){-1, 69});
    f.y = oclnn_scale(g, oclnn_contiguous(g, oclnn_transpose(g, flat, 0, 1)), 2.0f, 0.0f);
    if (shape == FUSE_TWO_READERS) f.extra = oclnn_add(g, h, h);
    TU_OK(oclnn_graph_output(g, f.y));
    if (f.extra) TU_OK(oclnn_graph_output(g, f.extra));
    if (shape == FUSE_OUTPUT) TU_OK(oclnn_graph_output(g, h));
    if (train) TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, f.y)));
    TU_OK(oclnn_graph_compile(g, opt));
    int n = 2 * rows * 70;
    float *xv = malloc((size_t)n * sizeof *xv), wv[69 * 70], bv[69];
    for (int i = 0; i < n; i++) xv[i] = sinf(0.37f * (float)i);
    for (int i = 0; i < 69 * 70; i++) wv[i] = 0.2f * cosf(0.11f * (float)i);
    for (int i = 0; i < 69; i++) bv[i] = 0.05f * (float)(i % 7) - 0.15f;
    TU_OK(oclnn_tensor_write(f.x, xv, (size_t)n * sizeof *xv));
    TU_OK(oclnn_tensor_write(f.w, wv, sizeof wv));
    TU_OK(oclnn_tensor_write(f.b, bv, sizeof bv));
    if (train) TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    free(xv);
    return f;
}

/* Same values, within an ulp or two (the fused GELU evaluates the same
 * formula on vectors); with `mixed`, some positive values and some not, so
 * that the activation mattered. */
static void fuse_compare(oclnn_tensor *a, oclnn_tensor *b, int n, int mixed, const char *what)
{
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    TU_OK(oclnn_tensor_read(a, x, (size_t)n * sizeof *x));
    TU_OK(oclnn_tensor_read(b, y, (size_t)n * sizeof *y));
    int positive = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_msg(fabsf(x[i] - y[i]) <= 2e-7f * fmaxf(1.0f, fabsf(y[i])), "%s [%d]: fused %.9g, unfused %.9g", what,
                      i, x[i], y[i]);
        positive += y[i] > 0.0f;
    }
    ck_assert_msg(!mixed || (positive > 0 && positive < n), "%s: %d of %d positive", what, positive, n);
    free(x);
    free(y);
}

/* linear + relu and linear + gelu in inference, and linear + relu in
 * training (relu's backward reads its output), run as one GEMM whose
 * epilogue applies the activation: the activation node launches nothing
 * and every value matches the graph compiled without memory reuse, which
 * fuses nothing. Not fused: gelu in training (its backward reads the
 * pre-activation), a linear output with a second reader, or one marked as
 * an output. Both GEMM kernels (direct and packed) apply it. */
START_TEST(test_activation_fused_into_gemm_epilogue)
{
    static const struct {
        int gelu, train;
        fuse_shape shape;
        int fused;
    } cases[] = {{1, 0, FUSE_PLAIN, 1},       {0, 0, FUSE_PLAIN, 1},  {0, 1, FUSE_PLAIN, 1},
                 {1, 1, FUSE_PLAIN, 0},       {1, 0, FUSE_OUTPUT, 0}, {0, 0, FUSE_TWO_READERS, 0},
                 {1, 0, FUSE_TWO_READERS, 0}};
    oclnn_compile_options plain = {.no_memory_reuse = 1};
    for (int v = 0; v < 3; v++) { /* x W^T, x W, x W packed */
        int packed = v == 2;
        if (packed) setenv("OCLNN_GEMM", "packed", 1);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            int rows = packed ? 9 : 23;
            fuse_graph f = fuse_graph_new(NULL, cases[c].gelu, cases[c].train, cases[c].shape, rows, v > 0);
            fuse_graph r = fuse_graph_new(&plain, cases[c].gelu, cases[c].train, cases[c].shape, rows, v > 0);
            char what[64];
            snprintf(what, sizeof what, "case %zu variant %d", c, v);
            ck_assert_msg((f.act->nlaunch == 0) == cases[c].fused, "%s: activation launches %d", what, f.act->nlaunch);
            ck_assert_msg((f.lin->epilogue != EPI_NONE) == cases[c].fused, "%s: epilogue %d", what, f.lin->epilogue);
            ck_assert_int_eq(r.act->nlaunch, 1);
            fuse_compare(f.y, r.y, 2 * rows * 69, 1, what);
            if (f.extra) fuse_compare(f.extra, r.extra, 2 * rows * 69, 1, what);
            if (cases[c].train) {
                fuse_compare(oclnn_tensor_grad(f.w), oclnn_tensor_grad(r.w), 69 * 70, 0, what);
                fuse_compare(oclnn_tensor_grad(f.b), oclnn_tensor_grad(r.b), 69, 0, what);
            }
            oclnn_graph_release(f.g);
            oclnn_graph_release(r.g);
        }
    }
    unsetenv("OCLNN_GEMM");
}
END_TEST

/* ---- residual add read by a LayerNorm (plan.c fuse_residual_adds) */

typedef enum { RES_PLAIN, RES_TRAIN, RES_BROADCAST, RES_TWO_READERS, RES_OUTPUT } res_shape;

typedef struct res_graph {
    oclnn_graph *g;
    oclnn_tensor *a, *b, *w, *sum, *y, *extra;
} res_graph;

/* y = layer_norm(a + b) * 3 on [3, 5, 37] rows (8-wide vectors and a tail;
 * b [37] broadcast in RES_BROADCAST); RES_TRAIN adds the backward. */
static res_graph res_graph_new(const oclnn_compile_options *opt, res_shape shape)
{
    res_graph r = {.g = oclnn_graph_create(tu_context())};
    oclnn_graph *g = r.g;
    int nb = shape == RES_BROADCAST ? 37 : 3 * 5 * 37;
    r.a = shape == RES_TRAIN ? oclnn_param(g, "a", 3, (const int64_t[]){3, 5, 37}) : oclnn_input_f32(g, "a", 3, 3, 5, 37);
    r.b = shape == RES_BROADCAST ? oclnn_input_f32(g, "b", 1, 37) : oclnn_input_f32(g, "b", 3, 3, 5, 37);
    r.w = oclnn_param(g, "w", 1, (const int64_t[]){37});
    oclnn_tensor *bias = oclnn_param(g, "bias", 1, (const int64_t[]){37});
    r.sum = oclnn_add(g, r.a, r.b);
    r.y = oclnn_scale(g, oclnn_layer_norm(g, r.sum, r.w, bias, 1e-5f), 3.0f, 0.0f);
    if (shape == RES_TWO_READERS) r.extra = oclnn_scale(g, r.sum, 2.0f, 0.0f);
    TU_OK(oclnn_graph_output(g, r.y));
    if (r.extra) TU_OK(oclnn_graph_output(g, r.extra));
    if (shape == RES_OUTPUT) TU_OK(oclnn_graph_output(g, r.sum));
    if (shape == RES_TRAIN) TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, r.y, r.y))));
    TU_OK(oclnn_graph_compile(g, opt));
    float av[555], bv[555], wv[37], biasv[37];
    for (int i = 0; i < 555; i++) {
        av[i] = 2.0f * sinf(0.3f * (float)i) + 5.0f;
        bv[i] = cosf(0.7f * (float)i);
    }
    for (int i = 0; i < 37; i++) {
        wv[i] = 1.0f + 0.01f * (float)i;
        biasv[i] = 0.1f * (float)(i % 5) - 0.2f;
    }
    TU_OK(oclnn_tensor_write(r.a, av, sizeof av));
    TU_OK(oclnn_tensor_write(r.b, bv, (size_t)nb * sizeof(float)));
    TU_OK(oclnn_tensor_write(r.w, wv, sizeof wv));
    TU_OK(oclnn_tensor_write(bias, biasv, sizeof biasv));
    if (shape == RES_TRAIN) TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    return r;
}

static void same_values(oclnn_tensor *a, oclnn_tensor *b, int n, const char *what)
{
    float x[555], y[555];
    TU_OK(oclnn_tensor_read(a, x, (size_t)n * sizeof *x));
    TU_OK(oclnn_tensor_read(b, y, (size_t)n * sizeof *y));
    for (int i = 0; i < n; i++) ck_assert_msg(x[i] == y[i], "%s [%d]: fused %.9g, unfused %.9g", what, i, x[i], y[i]);
}

/* layer_norm(a + b) in inference reads a and b itself: the add node
 * launches nothing and the values are those of the graph compiled without
 * memory reuse (which fuses nothing), bit for bit (the same float sum).
 * Not fused: training (the LayerNorm backward reads the sum), a broadcast
 * add, a sum with a second reader, or one marked as an output. */
START_TEST(test_residual_add_fused_into_layer_norm)
{
    static const struct {
        res_shape shape;
        int fused;
    } cases[] = {{RES_PLAIN, 1}, {RES_TRAIN, 0}, {RES_BROADCAST, 0}, {RES_TWO_READERS, 0}, {RES_OUTPUT, 0}};
    oclnn_compile_options plain = {.no_memory_reuse = 1};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        res_graph f = res_graph_new(NULL, cases[c].shape), r = res_graph_new(&plain, cases[c].shape);
        char what[32];
        snprintf(what, sizeof what, "case %zu", c);
        ck_assert_msg(f.sum->fused_away == cases[c].fused && (f.sum->nlaunch == 0) == cases[c].fused,
                      "%s: add fused_away %d, launches %d", what, f.sum->fused_away, f.sum->nlaunch);
        ck_assert_int_eq(r.sum->nlaunch, 1);
        same_values(f.y, r.y, 555, what);
        if (f.extra) same_values(f.extra, r.extra, 555, what);
        if (cases[c].shape == RES_OUTPUT) same_values(f.sum, r.sum, 555, what);
        if (cases[c].shape == RES_TRAIN) {
            same_values(oclnn_tensor_grad(f.a), oclnn_tensor_grad(r.a), 555, what);
            same_values(oclnn_tensor_grad(f.w), oclnn_tensor_grad(r.w), 37, what);
        }
        oclnn_graph_release(f.g);
        oclnn_graph_release(r.g);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_planner_reuses_memory_and_results_match);
    tcase_add_test(tc, test_run_many_times_with_new_inputs);
    tcase_add_test(tc, test_transfer_errors);
    tcase_add_test(tc, test_construction_errors_are_sticky);
    tcase_add_test(tc, test_backward_sums_multiple_uses_and_accumulates);
    tcase_add_test(tc, test_backward_errors);
    tcase_add_test(tc, test_retain_grad_of_an_input);
    tcase_add_test(tc, test_share_params_between_graphs);
    tcase_add_test(tc, test_activation_fused_into_gemm_epilogue);
    tcase_add_test(tc, test_residual_add_fused_into_layer_norm);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
