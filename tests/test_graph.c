/* Graph planner, executor and autodiff mechanics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
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
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
