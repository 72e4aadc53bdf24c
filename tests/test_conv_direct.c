/* OCLNN_CONV_DIRECT (src/ops/conv_direct.c): against the double reference
 * and finite differences, against the im2col path, its fallbacks, empty
 * batches, strided operands and AUTO's choice. test_conv runs it with a
 * max-pool after it and with gradients added in place. */
#include "testutil_conv.h"

/* Shapes it applies to, chosen for the kernels' edges: output widths that
 * are no multiple of any tile width (4-8 pixels) and ones that are (no
 * padded copy of x is needed when the padding is 0), channel counts below,
 * at and past a tile of output channels (32 with AVX-512, 16 with AVX2)
 * and odd input channels (the weight gradient's pairs), the largest
 * padding (kernel - 1) and none, asymmetric padding and kernels, 1x1,
 * bias or not, fused relu, a single output pixel. */
static const conv_cfg direct_grid[] = {
    /* n cin h  w cout kh kw sh sw ph pw dh dw g bias relu */
    {3, 5, 9, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, OCLNN_CONV_DIRECT},
    {2, 3, 8, 11, 5, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 1, OCLNN_CONV_DIRECT},
    {2, 4, 6, 12, 33, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1, 1, OCLNN_CONV_DIRECT},
    {1, 2, 5, 13, 3, 3, 5, 1, 1, 2, 4, 1, 1, 1, 1, 0, OCLNN_CONV_DIRECT},
    {2, 6, 4, 10, 17, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, OCLNN_CONV_DIRECT},
    {1, 3, 3, 3, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1, 0, OCLNN_CONV_DIRECT},
    {2, 1, 9, 37, 32, 5, 5, 1, 1, 2, 2, 1, 1, 1, 1, 1, OCLNN_CONV_DIRECT},
    {1, 7, 5, 8, 64, 3, 3, 1, 1, 0, 1, 1, 1, 1, 0, 0, OCLNN_CONV_DIRECT},
    {2, 20, 4, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, OCLNN_CONV_DIRECT}, /* a two-vector data gradient */
};

START_TEST(test_direct_grid)
{
    uint64_t rng = tu_seed() + 41;
    for (size_t i = 0; i < sizeof direct_grid / sizeof direct_grid[0]; i++) {
        /* the double reference (NaN-poisoned outputs catch an unwritten
         * element) and the im2col path, gradients included */
        check_case(&direct_grid[i], &rng);
        check_vs_tiled(&direct_grid[i], OCLNN_CONV_DIRECT, &rng);
    }
}
END_TEST

/* Operands at buffer offsets and through strided views. */
START_TEST(test_direct_layouts)
{
    uint64_t rng = tu_seed() + 42;
    for (int i = 0; i < 3; i += 2) {
        conv_cfg c = direct_grid[i];
        char name[160];
        tu_op_case t = make_case(&c, name, sizeof name);
        tu_check_forward_strided(&t, 1e-9, &rng);
        tu_check_gradient_strided(&t, 1e-7, 1e-7, 40, &rng);
    }
}
END_TEST

/* DIRECT where it does not apply runs AUTO's choice, correctly. */
START_TEST(test_direct_fallback)
{
    uint64_t rng = tu_seed() + 43;
    const conv_cfg cases[] = {
        {3, 2, 11, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, OCLNN_CONV_DIRECT}, /* stride 2 */
        {1, 3, 7, 9, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, 0, OCLNN_CONV_DIRECT},  /* dilation 2 */
        {3, 4, 9, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0, 0, OCLNN_CONV_DIRECT},  /* groups 2 */
        {2, 3, 4, 5, 2, 3, 3, 1, 1, 3, 2, 1, 1, 1, 0, 0, OCLNN_CONV_DIRECT},  /* padding 3 > kernel - 1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_fallback(&cases[i], &rng);
}
END_TEST

/* The weight gradient in launches of one image each (a col budget of one
 * byte), added up in the accumulator: as with one launch. */
START_TEST(test_direct_chunked_weight_gradient)
{
    uint64_t rng = tu_seed() + 46;
    size_t old = oclnn_conv_set_col_budget(1);
    check_vs_tiled(&direct_grid[0], OCLNN_CONV_DIRECT, &rng);
    check_case(&direct_grid[2], &rng);
    oclnn_conv_set_col_budget(old);
}
END_TEST

START_TEST(test_direct_empty_batch)
{
    check_empty_batch(&direct_grid[0], 0);
    check_empty_batch(&direct_grid[2], 2);
}
END_TEST

/* A max-pool window over 4 does not fuse into the direct kernel (its
 * private buffer holds up to 4 window rows): a max_pool2d node follows,
 * with the values of the tiled path's fused pool. */
START_TEST(test_direct_wide_pool_unfused)
{
    uint64_t rng = tu_seed() + 47;
    conv_cfg c = {2, 4, 10, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, OCLNN_CONV_DIRECT};
    size_t nx = (size_t)c.n * c.cin * c.h * c.w, nw = (size_t)c.cout * c.cin * c.kh * c.kw;
    float *xv = tu_random(nx, -1, 1, &rng), *wv = tu_random(nw, -1, 1, &rng);
    float *bv = tu_random((size_t)c.cout, -1, 1, &rng);
    conv_run got, want;
    run_conv(&c, 5, true, xv, wv, bv, 9, &got);
    ck_assert_int_eq(got.algo, OCLNN_CONV_AUTO); /* the output is the max_pool2d node */
    c.algo = OCLNN_CONV_IM2COL_TILED;
    run_conv(&c, 5, true, xv, wv, bv, 9, &want);
    expect_near(got.y, want.y, want.ny, 1e-5, "output", "direct + max_pool2d 5x5");
    expect_near(got.gx, want.gx, want.nx, 1e-5, "grad x", "direct + max_pool2d 5x5");
    expect_near(got.gw, want.gw, want.nw, 1e-5, "grad w", "direct + max_pool2d 5x5");
    conv_run_free(&got);
    conv_run_free(&want);
    free(xv);
    free(wv);
    free(bv);
}
END_TEST

/* AUTO on a CPU device whose GEMMs run on the tiled engine: DIRECT for
 * SimpleCNN's conv2 and other stride-1 layers with 8 or more input
 * channels, not for its conv1 (one channel), strided or 1x1 layers or the
 * 3x3 layers Winograd takes; other devices keep their im2col choice. */
START_TEST(test_direct_auto)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_conv2d_params pad2 = {.pad_h = 2, .pad_w = 2}, pad1 = {.pad_h = 1, .pad_w = 1};
    oclnn_conv2d_params s2 = {.stride_h = 2, .stride_w = 2, .pad_h = 2, .pad_w = 2};
    oclnn_tensor *x1 = oclnn_input_f32(g, "x1", 4, 2, 1, 28, 28), *x32 = oclnn_input_f32(g, "x32", 4, 2, 32, 14, 14);
    oclnn_tensor *w1 = oclnn_param(g, "w1", 4, (const int64_t[]){32, 1, 5, 5});
    oclnn_tensor *w2 = oclnn_param(g, "w2", 4, (const int64_t[]){64, 32, 5, 5});
    oclnn_tensor *w3 = oclnn_param(g, "w3", 4, (const int64_t[]){64, 32, 3, 3});
    oclnn_conv_algorithm conv1 = oclnn_conv2d_algorithm(oclnn_conv2d(g, x1, w1, NULL, &pad2));
    oclnn_conv_algorithm conv2 = oclnn_conv2d_algorithm(oclnn_conv2d(g, x32, w2, NULL, &pad2));
    oclnn_conv_algorithm strided = oclnn_conv2d_algorithm(oclnn_conv2d(g, x32, w2, NULL, &s2));
    oclnn_conv_algorithm k3 = oclnn_conv2d_algorithm(oclnn_conv2d(g, x32, w3, NULL, &pad1));
    oclnn_tensor *w11 = oclnn_param(g, "w11", 4, (const int64_t[]){64, 32, 1, 1});
    oclnn_conv_algorithm k1 = oclnn_conv2d_algorithm(oclnn_conv2d(g, x32, w11, NULL, NULL));
    bool cpu_tiled = oclnn_context_device(tu_context())->is_cpu && conv1 == OCLNN_CONV_IM2COL_TILED;
    ck_assert_int_eq(conv2, cpu_tiled ? OCLNN_CONV_DIRECT : conv1);
    ck_assert_int_ne(conv1, OCLNN_CONV_DIRECT);
    ck_assert_int_eq(strided, conv1);
    ck_assert_int_eq(k1, conv1);
    ck_assert_int_eq(k3, cpu_tiled ? OCLNN_CONV_WINOGRAD : conv1);
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conv_direct");
    TCase *tc = tcase_create("conv2d direct");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_direct_grid);
    tcase_add_test(tc, test_direct_layouts);
    tcase_add_test(tc, test_direct_fallback);
    tcase_add_test(tc, test_direct_chunked_weight_gradient);
    tcase_add_test(tc, test_direct_empty_batch);
    tcase_add_test(tc, test_direct_wide_pool_unfused);
    tcase_add_test(tc, test_direct_auto);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
