/* conv2d vs a double-precision reference convolution; gradients vs finite
 * differences of it; PyTorch fixtures; shape errors. */
#include "testutil_conv.h"
#include "testutil_graph.h"

/* A representative walk through the grid: every kernel size, stride,
 * padding, dilation and kind of grouping appears, on odd spatial sizes and
 * batches of 1 and 3, without the full cartesian product. The other tests
 * reuse these shapes, so their kernels are compiled once per run. */
static const conv_cfg grid[] = {
    /* n cin h  w cout kh kw sh sw ph pw dh dw g bias relu */
    {1, 3, 7, 9, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0},  /* 1x1 pointwise */
    {3, 4, 9, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 0, 0, 0},  /* stride 2, groups 2 */
    {1, 3, 7, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2, 3, 1, 0, 0},  /* depthwise, dilation 2, pad 2 */
    {3, 2, 11, 9, 3, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0}, /* 5x5 stride 2, relu */
    {3, 4, 7, 9, 8, 3, 5, 1, 2, 0, 2, 2, 1, 1, 0, 0, 0},  /* non-square everything */
    {3, 2, 7, 9, 4, 5, 5, 1, 1, 0, 0, 1, 1, 2, 1, 0, 0},  /* depthwise x2 multiplier, no padding */
    {3, 4, 5, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, 1, 1, 0},  /* 1x1 pointwise, groups, relu */
    {1, 2, 3, 4, 3, 5, 5, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},  /* kernel height == padded input height */
    {1, 2, 3, 70, 2, 1, 3, 1, 2, 0, 2, 1, 2, 1, 1, 0, 0}, /* wide rows */
    /* the row kernels' valid-column bounds: stride 3 past padding 3 with
     * dilation 2; a width-1 input where some kernel columns never hit it */
    {2, 3, 6, 5, 4, 3, 3, 3, 3, 3, 3, 2, 2, 1, 1, 0, 0},
    {1, 2, 4, 1, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, 0, 0},
};

START_TEST(test_grid_forward_and_gradient)
{
    uint64_t rng = tu_seed() + 11;
    for (size_t i = 0; i < sizeof grid / sizeof grid[0]; i++) check_case(&grid[i], &rng);
}
END_TEST

/* Every path on some of the grid's shapes (the grid runs AUTO's choice). */
START_TEST(test_algorithms_agree)
{
    uint64_t rng = tu_seed() + 12;
    const int shapes[] = {0, 1, 3, 6};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int a = OCLNN_CONV_IM2COL_BATCHED; a <= OCLNN_CONV_IM2COL_TILED; a++) {
            conv_cfg c = grid[shapes[s]];
            c.algo = (oclnn_conv_algorithm)a;
            char name[160];
            tu_op_case t = make_case(&c, name, sizeof name);
            tu_check_forward(&t, 1e-9, &rng);
            /* convgemm's backward is AUTO's, checked by the grid */
            if (a != OCLNN_CONV_CLBLAST_CONVGEMM) tu_check_gradient(&t, 1e-7, 1e-7, 40, &rng);
        }
    }
}
END_TEST

/* Input, weight and bias as strided views or at an element offset, on
 * every path (each binds its own buffer offsets). */
START_TEST(test_layouts)
{
    uint64_t rng = tu_seed() + 14;
    const int shapes[] = {1, 3, 6};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int a = OCLNN_CONV_AUTO; a <= OCLNN_CONV_IM2COL_TILED; a++) {
            conv_cfg c = grid[shapes[s]];
            c.algo = (oclnn_conv_algorithm)a;
            char name[160];
            tu_op_case t = make_case(&c, name, sizeof name);
            tu_check_forward_strided(&t, 1e-9, &rng);
            if (a != OCLNN_CONV_CLBLAST_CONVGEMM) tu_check_gradient_strided(&t, 1e-7, 1e-7, 40, &rng);
        }
    }
}
END_TEST

/* A col budget of two images forces several chunks, with a ragged last one. */
START_TEST(test_chunked_batches)
{
    uint64_t rng = tu_seed() + 13;
    conv_cfg c = grid[3];
    /* per image: max(Cin*KK*HoWo, Cout*HoWo) floats */
    size_t per_image = (size_t)c.cin * c.kh * c.kw * out_h(&c) * out_w(&c);
    size_t old = oclnn_conv_set_col_budget(2 * per_image * sizeof(float));
    for (int a = OCLNN_CONV_IM2COL_BATCHED; a <= OCLNN_CONV_IM2COL_TILED; a++) {
        if (a == OCLNN_CONV_CLBLAST_CONVGEMM) continue;
        c.algo = (oclnn_conv_algorithm)a;
        check_case(&c, &rng);
    }
    oclnn_conv_set_col_budget(old);
}
END_TEST

START_TEST(test_empty_batch)
{
    check_empty_batch(&grid[1], 0);
    check_empty_batch(&grid[1], 2);
}
END_TEST

/* ---- Winograd F(2x2, 3x3) */

/* Shapes it applies to: odd and even sizes (ragged last tile row and
 * column), padding 0/1/2 (and 3, whose data gradient is not Winograd's),
 * channel counts that are no multiple of any GEMM tile, bias or not,
 * fused relu, a 3x3 input with padding 0 (a single output pixel), and
 * rows wide enough for the kernels' vector paths. */
static const conv_cfg wino_grid[] = {
    /* n cin h  w cout kh kw sh sw ph pw dh dw g bias relu */
    {3, 5, 9, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, OCLNN_CONV_WINOGRAD},
    {2, 3, 8, 11, 5, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 1, OCLNN_CONV_WINOGRAD},
    {2, 6, 5, 6, 3, 3, 3, 1, 1, 2, 1, 1, 1, 1, 1, 1, OCLNN_CONV_WINOGRAD},
    {1, 2, 3, 3, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1, 0, OCLNN_CONV_WINOGRAD},
    {2, 3, 4, 5, 2, 3, 3, 1, 1, 3, 2, 1, 1, 1, 0, 0, OCLNN_CONV_WINOGRAD},
    /* rows wide enough for the kernels' eight-tile vector paths, with tails */
    {2, 3, 5, 37, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, OCLNN_CONV_WINOGRAD},
    {1, 2, 4, 34, 3, 3, 3, 1, 1, 0, 2, 1, 1, 1, 0, 0, OCLNN_CONV_WINOGRAD},
};

START_TEST(test_winograd)
{
    uint64_t rng = tu_seed() + 15;
    for (size_t i = 0; i < sizeof wino_grid / sizeof wino_grid[0]; i++) {
        /* against the double reference too (NaN-poisoned outputs catch an
         * unwritten element) */
        check_case(&wino_grid[i], &rng);
        check_vs_tiled(&wino_grid[i], OCLNN_CONV_WINOGRAD, &rng);
    }
    /* operands at buffer offsets and through strided views */
    conv_cfg c = wino_grid[0];
    char name[160];
    tu_op_case t = make_case(&c, name, sizeof name);
    tu_check_forward_strided(&t, 1e-9, &rng);
    tu_check_gradient_strided(&t, 1e-7, 1e-7, 40, &rng);
}
END_TEST

/* A budget of two images' scratch: several chunks, a ragged last one;
 * and an empty batch. */
START_TEST(test_winograd_chunks)
{
    check_empty_batch(&wino_grid[0], 0);
    uint64_t rng = tu_seed() + 16;
    conv_cfg c = wino_grid[0];
    c.n = 5;
    /* per image: 16 x tiles x (Cin + Cout) floats, forward and data gradient alike here */
    size_t per_image = 16 * (size_t)((out_h(&c) + 1) / 2) * ((out_w(&c) + 1) / 2) * (c.cin + c.cout);
    size_t old = oclnn_conv_set_col_budget(2 * per_image * sizeof(float));
    check_vs_tiled(&c, OCLNN_CONV_WINOGRAD, &rng);
    oclnn_conv_set_col_budget(old);
}
END_TEST

/* WINOGRAD where it does not apply runs AUTO's choice, correctly. */
START_TEST(test_winograd_fallback)
{
    uint64_t rng = tu_seed() + 17;
    const conv_cfg cases[] = {
        {1, 2, 3, 4, 3, 5, 5, 1, 1, 1, 1, 1, 1, 1, 1, 0, OCLNN_CONV_WINOGRAD}, /* 5x5 */
        {3, 2, 11, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, OCLNN_CONV_WINOGRAD}, /* stride 2 */
        {1, 3, 7, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, 0, OCLNN_CONV_WINOGRAD},  /* dilation 2 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_fallback(&cases[i], &rng);
}
END_TEST

/* AUTO on a CPU device: Winograd for the bench's 3x3 64->64 layer, not
 * for 5x5 or strided ones, nor for few channels; other devices keep im2col. */
START_TEST(test_winograd_auto)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 4, 2, 64, 56, 56);
    oclnn_tensor *w3 = oclnn_param(g, "w3", 4, (const int64_t[]){64, 64, 3, 3});
    oclnn_tensor *w5 = oclnn_param(g, "w5", 4, (const int64_t[]){64, 64, 5, 5});
    oclnn_tensor *x3 = oclnn_input_f32(g, "x3", 4, 2, 3, 56, 56);
    oclnn_tensor *w33 = oclnn_param(g, "w33", 4, (const int64_t[]){64, 3, 3, 3});
    oclnn_conv2d_params pad1 = {.pad_h = 1, .pad_w = 1}, s2 = {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
    oclnn_conv_algorithm a3 = oclnn_conv2d_algorithm(oclnn_conv2d(g, x, w3, NULL, &pad1));
    oclnn_conv_algorithm a5 = oclnn_conv2d_algorithm(oclnn_conv2d(g, x, w5, NULL, &pad1));
    oclnn_conv_algorithm as2 = oclnn_conv2d_algorithm(oclnn_conv2d(g, x, w3, NULL, &s2));
    oclnn_conv_algorithm afew = oclnn_conv2d_algorithm(oclnn_conv2d(g, x3, w33, NULL, &pad1));
    /* on CPUs with the tiled engine the 5x5 layer runs DIRECT (test_conv_direct) */
    bool cpu_tiled = oclnn_context_device(tu_context())->is_cpu && a5 == OCLNN_CONV_DIRECT;
    ck_assert_int_eq(a3, cpu_tiled ? OCLNN_CONV_WINOGRAD : a5);
    ck_assert_int_ne(a5, OCLNN_CONV_WINOGRAD);
    ck_assert_int_ne(as2, OCLNN_CONV_WINOGRAD);
    ck_assert_int_ne(afew, OCLNN_CONV_WINOGRAD);
    oclnn_graph_release(g);
}

/* ---- PyTorch fixtures */

static void expect_close(oclnn_tensor *t, const oclnn_st_tensor *want, double limit, const char *what)
{
    size_t n = want->nbytes / sizeof(float);
    ck_assert_int_eq(oclnn_tensor_numel(t), (int64_t)n);
    float *got = malloc(want->nbytes);
    TU_OK(oclnn_tensor_read(t, got, want->nbytes));
    double e = tu_nmse_f(got, want->data, n);
    ck_assert_msg(e <= limit, "%s: NMSE vs PyTorch %.3g > %.3g", what, e, limit);
    free(got);
}

/* Config cfg of the fixture under prefix, on algorithm algo; returns the
 * algorithm that ran. */
static oclnn_conv_algorithm fixture_case(const oclnn_safetensors *st, const char *prefix, const int32_t *cfg,
                                         oclnn_conv_algorithm algo)
{
    oclnn_conv2d_params p = {cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5], cfg[6],
                             cfg[7] ? OCLNN_ACT_RELU : OCLNN_ACT_NONE, algo, 0};
    const oclnn_st_tensor *xi = tu_fixture_tensor(st, prefix, "input"), *wi = tu_fixture_tensor(st, prefix, "weight");
    const oclnn_st_tensor *lwi = tu_fixture_tensor(st, prefix, "loss_weight"), *bi = cfg[8] ? tu_fixture_tensor(st, prefix, "bias") : NULL;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "x", xi->ndim, xi->shape), *w = oclnn_param(g, "w", wi->ndim, wi->shape);
    oclnn_tensor *b = bi ? oclnn_param(g, "b", bi->ndim, bi->shape) : NULL;
    oclnn_tensor *lw = oclnn_input(g, "lw", OCLNN_DTYPE_F32, lwi->ndim, lwi->shape);
    oclnn_tensor *y = oclnn_conv2d(g, x, w, b, &p);
    oclnn_tensor *loss = oclnn_sum_to(g, oclnn_mul(g, y, lw), 0, NULL);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_backward(g, loss));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(x, xi->data, xi->nbytes));
    TU_OK(oclnn_tensor_write(w, wi->data, wi->nbytes));
    if (b) TU_OK(oclnn_tensor_write(b, bi->data, bi->nbytes));
    TU_OK(oclnn_tensor_write(lw, lwi->data, lwi->nbytes));
    TU_OK(oclnn_graph_run(g));
    /* NMSE 1e-10: a relative error of 1e-5, well above float rounding
     * (Winograd's included, ~1e-6) and far below any indexing mistake */
    expect_close(y, tu_fixture_tensor(st, prefix, "output"), 1e-10, "output");
    expect_close(oclnn_tensor_grad(x), tu_fixture_tensor(st, prefix, "grad_input"), 1e-10, "grad_input");
    expect_close(oclnn_tensor_grad(w), tu_fixture_tensor(st, prefix, "grad_weight"), 1e-10, "grad_weight");
    if (b) expect_close(oclnn_tensor_grad(b), tu_fixture_tensor(st, prefix, "grad_bias"), 1e-10, "grad_bias");
    oclnn_conv_algorithm ran = oclnn_conv2d_algorithm(y);
    oclnn_graph_release(g);
    return ran;
}

/* Every config on AUTO's path, on WINOGRAD and on DIRECT (each runs the
 * 3x3 stride-1 one and falls back on the others). */
START_TEST(test_pytorch_fixtures)
{
    oclnn_safetensors *st;
    TU_OK(oclnn_safetensors_load(tu_data_path("conv/conv_fixtures.safetensors"), &st));
    int configs = 0, winograd = 0, direct = 0;
    for (int k = 0;; k++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "c%d.", k);
        char key[32];
        snprintf(key, sizeof key, "%sconfig", prefix);
        const oclnn_st_tensor *cfg_t = oclnn_safetensors_find(st, key);
        if (!cfg_t) break;
        configs++;
        fixture_case(st, prefix, cfg_t->data, OCLNN_CONV_AUTO);
        winograd += fixture_case(st, prefix, cfg_t->data, OCLNN_CONV_WINOGRAD) == OCLNN_CONV_WINOGRAD;
        direct += fixture_case(st, prefix, cfg_t->data, OCLNN_CONV_DIRECT) == OCLNN_CONV_DIRECT;
    }
    ck_assert_int_ge(configs, 5);
    ck_assert_int_eq(winograd, 1);
    ck_assert_int_eq(direct, 1);
    oclnn_safetensors_free(st);
}
END_TEST

/* ---- shape errors */

static void expect_shape_error(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t cin_g, int64_t k,
                               const oclnn_conv2d_params *p, const char *x_str, const char *w_str)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 4, (const int64_t[]){n, cin, h, w});
    oclnn_tensor *wt = oclnn_param(g, "w", 4, (const int64_t[]){cout, cin_g, k, k});
    ck_assert_ptr_null(oclnn_conv2d(g, x, wt, NULL, p));
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_SHAPE);
    const char *msg = oclnn_last_error();
    ck_assert_msg(strstr(msg, "conv2d") && strstr(msg, x_str) && strstr(msg, w_str), "message: %s", msg);
    oclnn_graph_release(g);
}

START_TEST(test_shape_errors)
{
    oclnn_conv2d_params g2 = {.groups = 2}, pad1 = {.pad_h = 1, .pad_w = 1}, dil = {.dilation_h = 3};
    /* Cin not divisible by groups */
    expect_shape_error(2, 3, 8, 8, 4, 1, 3, &g2, "[2, 3, 8, 8]", "[4, 1, 3, 3]");
    /* Cout not divisible by groups */
    expect_shape_error(2, 4, 8, 8, 3, 2, 3, &g2, "[2, 4, 8, 8]", "[3, 2, 3, 3]");
    /* weight's Cin/groups does not match */
    expect_shape_error(2, 4, 8, 8, 4, 3, 3, NULL, "[2, 4, 8, 8]", "[4, 3, 3, 3]");
    /* kernel larger than the padded input */
    expect_shape_error(1, 1, 3, 9, 2, 1, 7, &pad1, "[1, 1, 3, 9]", "[2, 1, 7, 7]");
    expect_shape_error(1, 1, 6, 6, 2, 1, 3, &dil, "[1, 1, 6, 6]", "[2, 1, 3, 3]");

    /* bias of the wrong size, and a 3-D input */
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 4, 1, 2, 5, 5);
    oclnn_tensor *w = oclnn_param(g, "w", 4, (const int64_t[]){3, 2, 3, 3});
    oclnn_tensor *b = oclnn_param(g, "b", 1, (const int64_t[]){4});
    ck_assert_ptr_null(oclnn_conv2d(g, x, w, b, NULL));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_graph_error(g), "conv2d") && strstr(oclnn_graph_error(g), "[4]"), "message: %s",
                  oclnn_graph_error(g));
    oclnn_graph_release(g);
    g = oclnn_graph_create(tu_context());
    x = oclnn_input_f32(g, "x", 3, 2, 5, 5);
    w = oclnn_param(g, "w", 4, (const int64_t[]){3, 2, 3, 3});
    ck_assert_ptr_null(oclnn_conv2d(g, x, w, NULL, NULL));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_graph_error(g), "[2, 5, 5]"), "message: %s", oclnn_graph_error(g));
    oclnn_graph_release(g);
    /* negative parameters are invalid arguments */
    g = oclnn_graph_create(tu_context());
    x = oclnn_input_f32(g, "x", 4, 1, 2, 5, 5);
    w = oclnn_param(g, "w", 4, (const int64_t[]){3, 2, 3, 3});
    oclnn_conv2d_params neg = {.pad_h = -1};
    ck_assert_ptr_null(oclnn_conv2d(g, x, w, NULL, &neg));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);
    /* an algorithm past the last one is named in the error */
    g = oclnn_graph_create(tu_context());
    x = oclnn_input_f32(g, "x", 4, 1, 2, 5, 5);
    w = oclnn_param(g, "w", 4, (const int64_t[]){3, 2, 3, 3});
    oclnn_conv2d_params bad = {.algorithm = (oclnn_conv_algorithm)(OCLNN_CONV_DIRECT + 1)};
    ck_assert_ptr_null(oclnn_conv2d(g, x, w, NULL, &bad));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_INVALID_ARG);
    char want[32];
    snprintf(want, sizeof want, "algorithm %d", (int)OCLNN_CONV_DIRECT + 1);
    ck_assert_msg(strstr(oclnn_graph_error(g), want), "message: %s", oclnn_graph_error(g));
    oclnn_graph_release(g);
}
END_TEST

/* NULL params are the defaults, and AUTO reports a concrete algorithm. */
START_TEST(test_defaults)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 4, 2, 3, 6, 5);
    oclnn_tensor *w = oclnn_param(g, "w", 4, (const int64_t[]){4, 3, 3, 2});
    oclnn_tensor *y = oclnn_conv2d(g, x, w, NULL, NULL);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(oclnn_tensor_dim(y, 0), 2);
    ck_assert_int_eq(oclnn_tensor_dim(y, 1), 4);
    ck_assert_int_eq(oclnn_tensor_dim(y, 2), 4);
    ck_assert_int_eq(oclnn_tensor_dim(y, 3), 4);
    ck_assert_int_ne(oclnn_conv2d_algorithm(y), OCLNN_CONV_AUTO);
    ck_assert_int_eq(oclnn_conv2d_algorithm(x), OCLNN_CONV_AUTO);
    oclnn_graph_release(g);
}
END_TEST

/* ---- fused max-pool (params.max_pool) */

/* Fused vs conv2d + max_pool2d on the tiled or the direct path: the
 * forward values are the same bit for bit (same FMAs per element, same max
 * rule). The data gradient sums the same products in the same order; on
 * the tiled path the weight and bias gradients sum over the conv outputs
 * in the pooled column order instead of NCHW order, so they agree to
 * rounding. `fill` >= 0: x and w constant (ties in every window); nan_at
 * >= 0: x[nan_at] is NaN. */
static void check_fused(const conv_cfg *c0, oclnn_conv_algorithm algo, int pool, float fill, int nan_at,
                        uint64_t *rng)
{
    conv_cfg c = *c0;
    c.algo = algo;
    char name[200];
    snprintf(name, sizeof name, "pool %d after conv n%d cin%d %dx%d cout%d k%dx%d s%d p%d g%d%s%s%s%s algo %d", pool,
             c.n, c.cin, c.h, c.w, c.cout, c.kh, c.kw, c.sh, c.ph, c.groups, c.bias ? " bias" : "",
             c.relu ? " relu" : "", fill >= 0 ? " ties" : "", nan_at >= 0 ? " nan" : "", (int)algo);
    size_t nx = (size_t)c.n * c.cin * c.h * c.w, nw = (size_t)c.cout * (c.cin / c.groups) * c.kh * c.kw;
    float *xv = tu_random(nx, -1.0f, 1.0f, rng), *wv = tu_random(nw, -1.0f, 1.0f, rng);
    float *bv = tu_random((size_t)c.cout, -1.0f, 1.0f, rng);
    if (fill >= 0) {
        for (size_t i = 0; i < nx; i++) xv[i] = fill;
        for (size_t i = 0; i < nw; i++) wv[i] = 0.5f;
    }
    if (nan_at >= 0) xv[nan_at] = NAN;
    uint64_t lw_seed = *rng + 1;
    conv_run f, u;
    run_conv(&c, pool, true, xv, wv, bv, lw_seed, &f);
    run_conv(&c, pool, false, xv, wv, bv, lw_seed, &u);
    ck_assert_msg(f.algo == algo, "%s: not fused", name);
    ck_assert_msg(!memcmp(f.y, u.y, f.ny * sizeof(float)), "%s: fused output differs from conv2d + max_pool2d", name);
    expect_near(f.gx, u.gx, f.nx, 1e-6, "grad x", name);
    expect_near(f.gw, u.gw, f.nw, 1e-5, "grad w", name);
    if (c.bias) expect_near(f.gb, u.gb, (size_t)c.cout, 1e-5, "grad b", name);
    conv_run_free(&f);
    conv_run_free(&u);
    free(xv);
    free(wv);
    free(bv);
}

static const conv_cfg pooled_grid[] = {
    /* n cin h  w cout kh kw sh sw ph pw dh dw g bias relu */
    {3, 2, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},    /* 9x11 conv output: a floor remainder */
    {2, 3, 13, 10, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0},   /* stride 2: 7x5 */
    {2, 4, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0, 1, 0},     /* groups, relu without bias */
    {2, 8, 14, 14, 16, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1, 1, 0},  /* SimpleCNN's conv2 block, narrower */
    {2, 3, 10, 9, 4, 3, 3, 2, 1, 0, 1, 2, 1, 1, 1, 0, 0},    /* strides 2x1, padding 0x1, dilation 2x1: 3x9 */
};

/* The pooled_grid shapes the direct path applies to (stride 1, one group). */
static const int direct_pooled[] = {0, 3};

START_TEST(test_fused_pool)
{
    uint64_t rng = tu_seed() + 15;
    for (size_t i = 0; i < sizeof pooled_grid / sizeof pooled_grid[0]; i++)
        for (int pool = 2; pool <= 3; pool++) check_fused(&pooled_grid[i], OCLNN_CONV_IM2COL_TILED, pool, -1, -1, &rng);
    for (size_t i = 0; i < sizeof direct_pooled / sizeof direct_pooled[0]; i++)
        for (int pool = 2; pool <= 4; pool++)
            check_fused(&pooled_grid[direct_pooled[i]], OCLNN_CONV_DIRECT, pool, -1, -1, &rng);
    /* no bias and no relu, with a 3x3 window */
    conv_cfg plain = pooled_grid[0];
    plain.bias = plain.relu = 0;
    check_fused(&plain, OCLNN_CONV_IM2COL_TILED, 3, -1, -1, &rng);
    check_fused(&plain, OCLNN_CONV_DIRECT, 3, -1, -1, &rng);
    /* several chunks, the last one ragged */
    conv_cfg many = pooled_grid[0];
    many.n = 5;
    size_t old = oclnn_conv_set_col_budget((size_t)2 * many.cin * many.kh * many.kw * out_h(&many) * out_w(&many) *
                                           sizeof(float));
    check_fused(&many, OCLNN_CONV_IM2COL_TILED, 2, -1, -1, &rng);
    check_fused(&many, OCLNN_CONV_IM2COL_TILED, 3, -1, -1, &rng);
    oclnn_conv_set_col_budget(old);
}
END_TEST

/* The fused conv + pool against its double reference (ref_conv, then a
 * k x k max over each window) and its gradients against finite
 * differences, on contiguous and on permuted or sliced inputs. */
typedef struct pooled_case {
    conv_cfg c;
    int pool;
} pooled_case;

static oclnn_tensor *build_pooled(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const pooled_case *pc = user;
    oclnn_conv2d_params p = params_of(&pc->c);
    p.max_pool = pc->pool;
    return oclnn_conv2d(g, in[0], in[1], pc->c.bias ? in[2] : NULL, &p);
}

static void ref_pooled(const double *const *in, double *out, const void *user)
{
    const pooled_case *pc = user;
    const conv_cfg *c = &pc->c;
    int ho = out_h(c), wo = out_w(c), k = pc->pool, hp = ho / k, wp = wo / k;
    double *y = malloc((size_t)c->n * c->cout * ho * wo * sizeof *y);
    ck_assert_ptr_nonnull(y);
    ref_conv(in, y, c);
    for (int plane = 0; plane < c->n * c->cout; plane++)
        for (int i = 0; i < hp; i++)
            for (int j = 0; j < wp; j++) {
                double m = -INFINITY;
                for (int di = 0; di < k; di++)
                    for (int dj = 0; dj < k; dj++) m = fmax(m, y[((size_t)plane * ho + i * k + di) * wo + j * k + dj]);
                out[((size_t)plane * hp + i) * wp + j] = m;
            }
    free(y);
}

START_TEST(test_fused_pool_reference)
{
    uint64_t rng = tu_seed() + 18;
    size_t ntiled = sizeof pooled_grid / sizeof pooled_grid[0];
    for (size_t i = 0; i < ntiled + sizeof direct_pooled / sizeof direct_pooled[0]; i++) {
        bool direct = i >= ntiled;
        pooled_case pc = {pooled_grid[direct ? (size_t)direct_pooled[i - ntiled] : i], 2 + (int)(i % 2)};
        pc.c.algo = direct ? OCLNN_CONV_DIRECT : OCLNN_CONV_IM2COL_TILED;
        char name[160];
        tu_op_case t = make_case(&pc.c, name, sizeof name);
        t.build = build_pooled;
        t.reference = ref_pooled;
        t.user = &pc;
        tu_check_forward(&t, 1e-9, &rng);
        tu_check_gradient(&t, 1e-7, 1e-7, 40, &rng);
        tu_check_forward_strided(&t, 1e-9, &rng);
        tu_check_gradient_strided(&t, 1e-7, 1e-7, 40, &rng);
    }
}
END_TEST

/* Ties: a constant input makes the windows away from the padding flat, so
 * the first position in scan order must win (the gradient of x shows
 * which one did); a NaN wins its windows. */
START_TEST(test_fused_pool_ties_and_nan)
{
    uint64_t rng = tu_seed() + 16;
    const oclnn_conv_algorithm algos[] = {OCLNN_CONV_IM2COL_TILED, OCLNN_CONV_DIRECT};
    for (int a = 0; a < 2; a++) {
        conv_cfg c = pooled_grid[0];
        c.relu = 0;
        check_fused(&c, algos[a], 2, 1.0f, -1, &rng);
        check_fused(&c, algos[a], 3, 1.0f, -1, &rng);
        c.relu = 1;
        check_fused(&c, algos[a], 2, 1.0f, -1, &rng);
        c.relu = 0;
        check_fused(&c, algos[a], 2, -1, 40, &rng);
        c.bias = 0;
        check_fused(&c, algos[a], 3, -1, 7, &rng);
    }
}
END_TEST

/* Paths that do not fuse build conv2d + max_pool2d: same values. */
/* The weight and bias gradients are computed straight into the
 * parameters' accumulators (the planner's fuse_accumulations): no
 * grad_accumulate launch, and two runs without zero_grad add up as with
 * the separate accumulation (a graph compiled without memory reuse, which
 * fuses nothing): the same bits with one im2col chunk, rounding apart with
 * several (the chunks then add into the accumulator one by one); the same
 * bits on Winograd, whose chunks sum in its own scratch first, and on
 * DIRECT, whose weight gradient sums the whole batch in registers. */
START_TEST(test_gradients_accumulate_in_place)
{
    for (int run = 0; run < 5; run++) {
        int chunked = run & 1;
        oclnn_conv_algorithm algo = run < 2   ? OCLNN_CONV_IM2COL_TILED
                                    : run < 4 ? OCLNN_CONV_WINOGRAD
                                              : OCLNN_CONV_DIRECT;
        size_t old = oclnn_conv_set_col_budget(chunked ? 4096 : 0);
        uint64_t rng = tu_seed() + 31;
        float *xv = tu_random(3 * 2 * 9 * 8, -1, 1, &rng), *wv = tu_random(4 * 2 * 3 * 3, -1, 1, &rng);
        float *bv = tu_random(4, -1, 1, &rng), got[2][72 + 4];
        for (int fused = 0; fused < 2; fused++) {
            oclnn_graph *g = oclnn_graph_create(tu_context());
            oclnn_tensor *x = oclnn_input_f32(g, "x", 4, 3, 2, 9, 8);
            oclnn_tensor *w = oclnn_param(g, "w", 4, (const int64_t[]){4, 2, 3, 3});
            oclnn_tensor *b = oclnn_param(g, "b", 1, (const int64_t[]){4});
            oclnn_conv2d_params p = {.pad_h = 1, .pad_w = 1, .activation = OCLNN_ACT_RELU, .algorithm = algo};
            oclnn_tensor *y = oclnn_conv2d(g, x, w, b, &p);
            ck_assert_int_eq(oclnn_conv2d_algorithm(y), algo);
            TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, y, y))));
            oclnn_compile_options plain = {.no_memory_reuse = 1};
            TU_OK(oclnn_graph_compile(g, fused ? NULL : &plain));
            ck_assert_int_eq(tu_accumulate_launches(g, oclnn_tensor_grad(w)), fused ? 0 : 1);
            ck_assert_int_eq(tu_accumulate_launches(g, oclnn_tensor_grad(b)), fused ? 0 : 1);
            TU_OK(oclnn_tensor_write(x, xv, 3 * 2 * 9 * 8 * sizeof(float)));
            TU_OK(oclnn_tensor_write(w, wv, 72 * sizeof(float)));
            TU_OK(oclnn_tensor_write(b, bv, 4 * sizeof(float)));
            TU_OK(oclnn_graph_zero_grad(g));
            TU_OK(oclnn_graph_run(g));
            TU_OK(oclnn_graph_run(g));
            TU_OK(oclnn_tensor_read(oclnn_tensor_grad(w), got[fused], 72 * sizeof(float)));
            TU_OK(oclnn_tensor_read(oclnn_tensor_grad(b), got[fused] + 72, 4 * sizeof(float)));
            oclnn_graph_release(g);
        }
        if (chunked && algo == OCLNN_CONV_IM2COL_TILED) {
            expect_near(got[1], got[0], 72, 1e-6, "grad w", "accumulated in place, chunked");
            expect_near(got[1] + 72, got[0] + 72, 4, 1e-6, "grad b", "accumulated in place, chunked");
        } else {
            for (int i = 0; i < 76; i++)
                ck_assert_msg(got[1][i] == got[0][i] && got[1][i] != 0.0f, "[%d]: in place %.9g, separate %.9g", i,
                              got[1][i], got[0][i]);
        }
        oclnn_conv_set_col_budget(old);
        free(xv);
        free(wv);
        free(bv);
    }
}
END_TEST

START_TEST(test_pool_unfused_paths)
{
    uint64_t rng = tu_seed() + 17;
    conv_cfg c = pooled_grid[0];
    size_t nx = (size_t)c.n * c.cin * c.h * c.w, nw = (size_t)c.cout * c.cin * c.kh * c.kw;
    float *xv = tu_random(nx, -1.0f, 1.0f, &rng), *wv = tu_random(nw, -1.0f, 1.0f, &rng);
    float *bv = tu_random((size_t)c.cout, -1.0f, 1.0f, &rng);
    c.algo = OCLNN_CONV_IM2COL_TILED;
    conv_run want;
    run_conv(&c, 2, true, xv, wv, bv, 5, &want);
    const oclnn_conv_algorithm unfused[] = {OCLNN_CONV_IM2COL_BATCHED, OCLNN_CONV_IM2COL_WIDE,
                                            OCLNN_CONV_CLBLAST_CONVGEMM, OCLNN_CONV_WINOGRAD};
    for (size_t a = 0; a < sizeof unfused / sizeof unfused[0]; a++) {
        c.algo = unfused[a];
        conv_run got;
        run_conv(&c, 2, true, xv, wv, bv, 5, &got);
        ck_assert_int_eq(got.algo, OCLNN_CONV_AUTO); /* the output is the max_pool2d node */
        expect_near(got.y, want.y, want.ny, 1e-5, "output", "unfused path");
        expect_near(got.gx, want.gx, want.nx, 1e-5, "grad x", "unfused path");
        expect_near(got.gw, want.gw, want.nw, 1e-5, "grad w", "unfused path");
        conv_run_free(&got);
    }
    conv_run_free(&want);
    free(xv);
    free(wv);
    free(bv);
}
END_TEST

/* conv2d of x [1, 2, 5, 6] with w [3, 2, 3, 3] (a 3x4 output) and p:
 * fails with `status` and a message holding every string of want. */
static void expect_param_error(const oclnn_conv2d_params *p, oclnn_status status, const char *const *want)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 4, 1, 2, 5, 6);
    oclnn_tensor *w = oclnn_param(g, "w", 4, (const int64_t[]){3, 2, 3, 3});
    ck_assert_ptr_null(oclnn_conv2d(g, x, w, NULL, p));
    ck_assert_int_eq(oclnn_graph_status(g), status);
    for (; *want; want++) ck_assert_msg(strstr(oclnn_graph_error(g), *want), "message: %s", oclnn_graph_error(g));
    oclnn_graph_release(g);
}

START_TEST(test_pool_param_errors)
{
    oclnn_conv2d_params neg = {.max_pool = -2}, big = {.max_pool = 4}, one = {.max_pool = 1};
    expect_param_error(&neg, OCLNN_ERR_INVALID_ARG, (const char *const[]){"conv2d", "max_pool -2", NULL});
    /* a window larger than the conv output */
    expect_param_error(&big, OCLNN_ERR_SHAPE,
                       (const char *const[]){"conv2d", "max_pool 4", "3x4", "[1, 2, 5, 6]", "[3, 2, 3, 3]", NULL});
    /* 1: no pool */
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 4, 1, 2, 5, 6);
    oclnn_tensor *y = oclnn_conv2d(g, x, oclnn_param(g, "w", 4, (const int64_t[]){3, 2, 3, 3}), NULL, &one);
    ck_assert_int_eq(oclnn_tensor_dim(y, 2), 3);
    ck_assert_int_eq(oclnn_tensor_dim(y, 3), 4);
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv2d");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_shape_errors);
    tcase_add_test(tc, test_grid_forward_and_gradient);
    tcase_add_test(tc, test_algorithms_agree);
    tcase_add_test(tc, test_layouts);
    tcase_add_test(tc, test_chunked_batches);
    tcase_add_test(tc, test_empty_batch);
    tcase_add_test(tc, test_pytorch_fixtures);
    tcase_add_test(tc, test_winograd);
    tcase_add_test(tc, test_winograd_chunks);
    tcase_add_test(tc, test_winograd_fallback);
    tcase_add_test(tc, test_winograd_auto);
    tcase_add_test(tc, test_fused_pool);
    tcase_add_test(tc, test_fused_pool_ties_and_nan);
    tcase_add_test(tc, test_fused_pool_reference);
    tcase_add_test(tc, test_pool_unfused_paths);
    tcase_add_test(tc, test_gradients_accumulate_in_place);
    tcase_add_test(tc, test_pool_param_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
