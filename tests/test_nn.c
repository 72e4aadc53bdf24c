/* Model builders and trainers: XOR by backprop, SimpleCNN vs PyTorch, and
 * SimpleCNN learning Fashion-MNIST. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

START_TEST(test_xor_needs_a_hidden_layer)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        oclnn_xor_result r;
        TU_OK(oclnn_xor_train(tu_context(), 4, 2000, 0.5f, seed, oclnn_tanh, &r));
        ck_assert_msg(r.mlp.correct == 4, "seed %llu: MLP classified %d/4", (unsigned long long)seed, r.mlp.correct);
        ck_assert_msg(r.single_layer.correct < 4, "seed %llu: a single layer cannot learn XOR",
                      (unsigned long long)seed);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(fabsf(r.single_layer.outputs[i] - 0.5f) < 0.05f, "single-layer output %d = %g, not ~0.5", i,
                          r.single_layer.outputs[i]);
        /* its weights drift to ~0 */
        for (int k = 0; k < r.single_layer.nweights; k++)
            for (int j = 0; j < r.single_layer.weight_sizes[k]; j++)
                ck_assert_msg(fabsf(r.single_layer.weights[k][j]) < 0.1f, "%s[%d] = %g",
                              r.single_layer.weight_names[k], j, r.single_layer.weights[k][j]);
        ck_assert_float_lt(r.mlp.loss_curve[r.mlp.curve_points - 1], 0.05f);
    }
    /* sigmoid hidden units learn it too */
    oclnn_xor_result r;
    TU_OK(oclnn_xor_train(tu_context(), 8, 3000, 0.5f, 7, oclnn_sigmoid, &r));
    ck_assert_int_eq(r.mlp.correct, 4);
}
END_TEST

START_TEST(test_simple_cnn_structure)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "images", OCLNN_DTYPE_F32, 4, (const int64_t[]){5, 1, 28, 28});
    oclnn_tensor *y = oclnn_simple_cnn(g, x);
    TU_OK(oclnn_graph_status(g));
    ck_assert_int_eq(oclnn_tensor_ndim(y), 2);
    ck_assert_int_eq(oclnn_tensor_dim(y, 0), 5);
    ck_assert_int_eq(oclnn_tensor_dim(y, 1), 10);
    const char *names[] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                           "fc1.weight",   "fc1.bias",   "fc2.weight",   "fc2.bias"};
    const int64_t numel[] = {800, 32, 51200, 64, 3136000, 1000, 10000, 10};
    ck_assert_int_eq(oclnn_graph_param_count(g), 8);
    for (int i = 0; i < 8; i++) {
        ck_assert_str_eq(oclnn_tensor_name(oclnn_graph_param(g, i)), names[i]);
        ck_assert_int_eq(oclnn_tensor_numel(oclnn_graph_param(g, i)), numel[i]);
    }
    oclnn_graph_release(g);
}
END_TEST

static const char *data_path(const char *rel) { return tu_data_path("%s", rel); }

START_TEST(test_simple_cnn_matches_pytorch)
{
    char weights[] = "/tmp/oclnn-weights-XXXXXX", out[] = "/tmp/oclnn-out-XXXXXX";
    int fd1 = mkstemp(weights), fd2 = mkstemp(out);
    ck_assert(fd1 >= 0 && fd2 >= 0);
    close(fd1);
    close(fd2);
    tu_write_simple_cnn_weights(weights, 1000);
    const char *fixture = data_path("simple_cnn/forward.safetensors");
    TU_OK(oclnn_simple_cnn_forward_file(tu_context(), weights, fixture, out));
    oclnn_safetensors *want, *got;
    TU_OK(oclnn_safetensors_load(fixture, &want));
    TU_OK(oclnn_safetensors_load(out, &got));
    const oclnn_st_tensor *w = oclnn_safetensors_find(want, "output"), *y = oclnn_safetensors_find(got, "output");
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_nonnull(y);
    ck_assert_uint_eq(w->nbytes, y->nbytes);
    const float *a = y->data, *b = w->data;
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; i < w->nbytes / 4; i++) {
        max_err = fmax(max_err, fabs((double)a[i] - b[i]));
        max_ref = fmax(max_ref, fabs((double)b[i]));
    }
    ck_assert_msg(max_err <= 1e-4 * max_ref, "max |oclnn - pytorch| = %g, max |pytorch| = %g", max_err, max_ref);
    oclnn_safetensors_free(want);
    oclnn_safetensors_free(got);
    remove(weights);
    remove(out);
}
END_TEST

START_TEST(test_bad_forward_input_is_a_clear_error)
{
    char weights[] = "/tmp/oclnn-weights-XXXXXX";
    int fd = mkstemp(weights);
    close(fd);
    tu_write_simple_cnn_weights(weights, 1000);
    /* the weights file has no tensor named "input" */
    ck_assert_int_eq(oclnn_simple_cnn_forward_file(tu_context(), weights, weights, "/tmp/never-written"),
                     OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_last_error(), "input"), "%s", oclnn_last_error());
    /* and a forward input is no weights file */
    ck_assert_int_ne(oclnn_simple_cnn_forward_file(tu_context(), data_path("simple_cnn/forward.safetensors"),
                                                   data_path("simple_cnn/forward.safetensors"), "/tmp/never"),
                     OCLNN_OK);
    ck_assert_msg(strstr(oclnn_last_error(), "conv1.weight"), "%s", oclnn_last_error());
    remove(weights);
}
END_TEST

/* oclnn_simple_cnn_embed is PyTorch's relu(fc1(...)) of the fixture
 * (tests/gen/simple_cnn_fixture.py), also through full and padded batches:
 * 503 images are the 3 fixture images over and over. */
START_TEST(test_simple_cnn_embed_is_fc1_relu)
{
    char weights[] = "/tmp/oclnn-weights-XXXXXX";
    int fd = mkstemp(weights);
    close(fd);
    tu_write_simple_cnn_weights(weights, 1000);
    oclnn_safetensors *fx;
    TU_OK(oclnn_safetensors_load(data_path("simple_cnn/forward.safetensors"), &fx));
    const oclnn_st_tensor *in = oclnn_safetensors_find(fx, "input"), *want = oclnn_safetensors_find(fx, "fc1_relu");
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(want);
    ck_assert_int_eq(want->shape[1], OCLNN_SIMPLE_CNN_EMBEDDING);
    const int64_t n = 503, dim = OCLNN_SIMPLE_CNN_EMBEDDING;
    float *images = malloc((size_t)n * 784 * sizeof *images), *e = malloc((size_t)(n * dim) * sizeof *e);
    for (int64_t i = 0; i < n; i++) memcpy(images + i * 784, (const float *)in->data + (i % 3) * 784, 784 * 4);
    TU_OK(oclnn_simple_cnn_embed(tu_context(), weights, images, n, e));
    const float *ref = want->data;
    double max_err = 0, max_ref = 0;
    int zeros = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++) {
            float got = e[i * dim + j], r = ref[(i % 3) * dim + j];
            ck_assert_msg(got >= 0, "embedding[%lld][%lld] = %g < 0: no ReLU", (long long)i, (long long)j, got);
            zeros += got == 0;
            max_err = fmax(max_err, fabs((double)got - r));
            max_ref = fmax(max_ref, fabs((double)r));
        }
    ck_assert_msg(max_err <= 1e-4 * max_ref, "max |oclnn - pytorch| = %g, max |pytorch| = %g", max_err, max_ref);
    ck_assert_msg(zeros > n * dim / 4, "only %d zeros: not after the ReLU", zeros);

    /* another model's file: the mismatched tensor is named, nothing runs */
    tu_write_simple_cnn_weights(weights, 500);
    ck_assert_int_eq(oclnn_simple_cnn_embed(tu_context(), weights, images, 3, e), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_last_error(), "'fc1.weight' is f32 [500, 3136] in the file"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_simple_cnn_embed(tu_context(), "/nonexistent/w.safetensors", images, 3, e), OCLNN_ERR_IO);
    ck_assert_msg(strstr(oclnn_last_error(), "/nonexistent/w.safetensors"), "%s", oclnn_last_error());
    free(images);
    free(e);
    oclnn_safetensors_free(fx);
    remove(weights);
}
END_TEST

/* The CI training check: one pass over 5,000 Fashion-MNIST images.
 * Measured here (PoCL, seed 1, Adam 1e-3, batch 64): 77% on 2,000 test images;
 * chance is 10%. */
START_TEST(test_simple_cnn_learns_fashion_mnist_subset)
{
    oclnn_train_options o = {.epochs = 1, .batch = 64, .optimizer = OCLNN_OPTIMIZER_ADAM, .lr = 1e-3f,
                             .limit = 5000, .test_limit = 2000, .seed = 1};
    oclnn_train_result r;
    TU_OK(oclnn_simple_cnn_train(tu_context(), &o, &r));
    fprintf(stderr, "SimpleCNN, 5000 images, 1 epoch: test accuracy %.4f, %.1f images/s\n", r.test_accuracy,
            r.images_per_s);
    ck_assert_int_eq(r.train_images, 78 * 64);
    ck_assert_int_eq(r.test_images, 2000);
    ck_assert_msg(r.test_accuracy >= 0.70, "test accuracy %.4f < 0.70", r.test_accuracy);
    int64_t total = 0;
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++) total += r.confusion[i][j];
    ck_assert_int_eq(total, 2000);
}
END_TEST

START_TEST(test_simple_cnn_training_is_deterministic)
{
    oclnn_train_options o = {.epochs = 1, .batch = 32, .optimizer = OCLNN_OPTIMIZER_SGD, .lr = 0.01f,
                             .limit = 320, .test_limit = 500, .seed = 9};
    oclnn_train_result a, b;
    TU_OK(oclnn_simple_cnn_train(tu_context(), &o, &a));
    TU_OK(oclnn_simple_cnn_train(tu_context(), &o, &b));
    ck_assert(a.final_loss == b.final_loss);
    ck_assert(a.test_accuracy == b.test_accuracy);
    o.seed = 10;
    TU_OK(oclnn_simple_cnn_train(tu_context(), &o, &b));
    ck_assert(a.final_loss != b.final_loss);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("nn");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_xor_needs_a_hidden_layer);
    tcase_add_test(tc, test_simple_cnn_structure);
    tcase_add_test(tc, test_simple_cnn_matches_pytorch);
    tcase_add_test(tc, test_bad_forward_input_is_a_clear_error);
    tcase_add_test(tc, test_simple_cnn_embed_is_fc1_relu);
    tcase_add_test(tc, test_simple_cnn_learns_fashion_mnist_subset);
    tcase_add_test(tc, test_simple_cnn_training_is_deterministic);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
