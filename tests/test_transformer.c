/* Transformer encoder layers (src/nn/transformer.c) against PyTorch's
 * nn.TransformerEncoderLayer (tests/gen/encoder_fixture.py): outputs and
 * the gradients of the input and every weight, post-LN and pre-LN, with a
 * key-padding mask; plus the stack's names, dropout and argument errors. */
#include "testutil.h"

#include "oclnn/oclnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_pytorch_fixture)
{
    const char *path = tu_data_path("transformer/encoder_fixture.safetensors");
    oclnn_safetensors *st;
    TU_OK(oclnn_safetensors_load(path, &st));
    char p[16];
    snprintf(p, sizeof p, "k%d.", _i);
    const int *cf = tu_fixture_tensor(st, p, "config")->data;
    const int N = cf[0], L = cf[1], E = cf[2], H = cf[3], F = cf[4], bf = cf[7];
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%slayer", p);
    oclnn_graph *g = oclnn_graph_create(tu_context());
    int64_t xd[3] = {bf ? N : L, bf ? L : N, E};
    oclnn_tensor *x = oclnn_param(g, "input", 3, xd);
    oclnn_tensor *kpm = oclnn_input(g, "kpm", OCLNN_DTYPE_I32, 2, (const int64_t[]){N, L});
    oclnn_tensor *wy = oclnn_input(g, "wy", OCLNN_DTYPE_F32, 3, xd);
    oclnn_encoder_options o = {.d_model = E, .nhead = H, .dim_feedforward = F, .batch_first = bf,
                               .norm_first = cf[5], .activation = cf[6] ? OCLNN_ENCODER_GELU : OCLNN_ENCODER_RELU};
    oclnn_encoder_layer_weights w;
    TU_OK(oclnn_encoder_layer_create(g, prefix, &o, &w));
    oclnn_tensor *y = oclnn_encoder_layer(g, &w, x, kpm, NULL);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, y, wy))));
    TU_OK(oclnn_graph_compile(g, NULL));
    tu_fixture_write(x, tu_fixture_tensor(st, p, "input"));
    tu_fixture_write(kpm, tu_fixture_tensor(st, p, "key_padding_mask"));
    tu_fixture_write(wy, tu_fixture_tensor(st, p, "wy"));
    int weights = 0;
    for (int i = 0; i < oclnn_graph_param_count(g); i++) {
        oclnn_tensor *t = oclnn_graph_param(g, i);
        if (t == x) continue;
        tu_fixture_write(t, tu_fixture_tensor(st, "", oclnn_tensor_name(t)));
        weights++;
    }
    ck_assert_int_eq(weights, 12); /* every tensor of the layer's state_dict */
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    tu_fixture_match(y, tu_fixture_tensor(st, p, "output"), 1e-4, "output");
    tu_fixture_match(oclnn_tensor_grad(x), tu_fixture_tensor(st, p, "grad.input"), 1e-4, "grad.input");
    for (int i = 0; i < oclnn_graph_param_count(g); i++) {
        oclnn_tensor *t = oclnn_graph_param(g, i);
        if (t == x) continue;
        char gname[160];
        snprintf(gname, sizeof gname, "grad.%s", oclnn_tensor_name(t) + strlen(p));
        tu_fixture_match(oclnn_tensor_grad(t), tu_fixture_tensor(st, p, gname), 1e-4, oclnn_tensor_name(t));
    }
    oclnn_graph_release(g);
    oclnn_safetensors_free(st);
}
END_TEST

/* The stack names its layers as nn.TransformerEncoder does; dropout acts
 * in training only (eval output is deterministic and differs from a
 * training run's). */
START_TEST(test_stack_and_dropout)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 3, 2, 4, 8);
    oclnn_encoder_options o = {.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 0.5f, .batch_first = 1,
                               .norm_first = 1};
    oclnn_tensor *y = oclnn_transformer_encoder(g, "encoder", &o, 3, x, NULL, NULL);
    ck_assert_ptr_nonnull(y);
    ck_assert_ptr_nonnull(oclnn_graph_find(g, "encoder.layers.2.self_attn.in_proj_weight"));
    ck_assert_ptr_nonnull(oclnn_graph_find(g, "encoder.layers.0.norm2.bias"));
    ck_assert_ptr_null(oclnn_graph_find(g, "encoder.layers.3.linear1.weight"));
    ck_assert_int_eq(oclnn_graph_param_count(g), 36);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_graph_init_params(g, 3));
    float xs[64], a[64], b[64], c[64];
    for (int i = 0; i < 64; i++) xs[i] = sinf((float)i);
    TU_OK(oclnn_tensor_write(x, xs, sizeof xs));
    TU_OK(oclnn_graph_set_training(g, 0));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, a, sizeof a));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, b, sizeof b));
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    TU_OK(oclnn_graph_set_training(g, 1));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, c, sizeof c));
    double diff = 0;
    for (int i = 0; i < 64; i++) diff += fabs((double)a[i] - c[i]);
    ck_assert_msg(diff > 1e-3, "dropout 0.5 changed nothing in training mode");
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_errors)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_encoder_layer_weights w;
    oclnn_encoder_options o = {.d_model = 10, .nhead = 3, .dim_feedforward = 16};
    ck_assert_int_eq(oclnn_encoder_layer_create(g, "l", &o, &w), OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "multiple of nhead 3"));
    oclnn_graph_release(g);
    g = oclnn_graph_create(tu_context());
    o = (oclnn_encoder_options){.d_model = 8, .nhead = 2, .dim_feedforward = 16, .dropout = 1.0f};
    ck_assert_int_eq(oclnn_encoder_layer_create(g, "l", &o, &w), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);
    g = oclnn_graph_create(tu_context());
    o.dropout = 0;
    oclnn_tensor *x = oclnn_input_f32(g, "x", 3, 2, 4, 6);
    ck_assert_ptr_null(oclnn_transformer_encoder(g, "e", &o, 2, x, NULL, NULL));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_SHAPE);
    oclnn_graph_release(g);
}
END_TEST

/* oclnn_vit against the same model written in PyTorch
 * (tests/gen/vit_fixture.py): patch order, class token, positions, the
 * stack and the head, forward and every parameter's gradient. */
START_TEST(test_vit_matches_pytorch)
{
    const char *path = tu_data_path("transformer/vit_fixture.safetensors");
    oclnn_safetensors *st;
    TU_OK(oclnn_safetensors_load(path, &st));
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "images", OCLNN_DTYPE_F32, 4, (const int64_t[]){2, 1, 28, 28});
    oclnn_tensor *wy = oclnn_input(g, "wy", OCLNN_DTYPE_F32, 2, (const int64_t[]){2, 10});
    oclnn_vit_config c = {.width = 16, .layers = 2, .heads = 2, .mlp = 32};
    oclnn_tensor *y = oclnn_vit(g, x, &c);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, y, wy))));
    TU_OK(oclnn_graph_compile(g, NULL));
    tu_fixture_write(x, tu_fixture_tensor(st, "", "input"));
    tu_fixture_write(wy, tu_fixture_tensor(st, "", "wy"));
    int np = oclnn_graph_param_count(g);
    ck_assert_int_eq(np, 4 + 2 * 12 + 4);
    for (int i = 0; i < np; i++) tu_fixture_write(oclnn_graph_param(g, i), tu_fixture_tensor(st, "", oclnn_tensor_name(oclnn_graph_param(g, i))));
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    tu_fixture_match(y, tu_fixture_tensor(st, "", "logits"), 1e-4, "logits");
    for (int i = 0; i < np; i++) {
        oclnn_tensor *t = oclnn_graph_param(g, i);
        tu_fixture_match(oclnn_tensor_grad(t), tu_fixture_tensor(st, "grad.", oclnn_tensor_name(t)), 1e-4, oclnn_tensor_name(t));
    }
    oclnn_graph_release(g);
    oclnn_safetensors_free(st);
}
END_TEST

/* The CI training check of the ViT: two passes over 2,048 Fashion-MNIST
 * images, then its checkpoint evaluated again from the file.
 * Measured here (PoCL, seed 1, Adam 1e-3, batch 64, width 32, 2 layers): 0.586 on 1,000
 * test images; chance is 10%. */
START_TEST(test_vit_learns_fashion_mnist_subset)
{
    const char *save = "/tmp/oclnn_test_vit.safetensors";
    oclnn_train_options o = {.epochs = 2, .batch = 64, .optimizer = OCLNN_OPTIMIZER_ADAM, .lr = 1e-3f,
                             .limit = 2048, .test_limit = 1000, .seed = 1, .save_path = save};
    oclnn_vit_config c = {.width = 32, .layers = 2};
    oclnn_train_result r, e;
    TU_OK(oclnn_vit_train(tu_context(), &c, &o, &r));
    fprintf(stderr, "ViT, 2048 images, 2 epochs: test accuracy %.4f, %.1f images/s\n", r.test_accuracy,
            r.images_per_s);
    ck_assert_int_eq(r.test_images, 1000);
    ck_assert_msg(r.test_accuracy >= 0.45, "test accuracy %.4f < 0.45", r.test_accuracy);
    TU_OK(oclnn_vit_evaluate(tu_context(), 0, save, NULL, 1000, &e));
    ck_assert_msg(e.test_accuracy == r.test_accuracy, "evaluated %.4f, trained %.4f", e.test_accuracy,
                  r.test_accuracy);
    /* heads cannot be read from the file: a wrong count is a clear error */
    ck_assert_int_ne(oclnn_vit_evaluate(tu_context(), 3, save, NULL, 1000, &e), OCLNN_OK);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "heads 3"));
    remove(save);
}
END_TEST

/* --cosine reaches the optimizer: the same short run with and without it
 * ends elsewhere, and each is reproducible. */
START_TEST(test_cosine_schedule_changes_training)
{
    oclnn_train_options o = {.epochs = 1, .batch = 32, .limit = 128, .test_limit = 64, .seed = 4};
    oclnn_vit_config c = {.width = 16, .layers = 1};
    oclnn_train_result a, b, a2;
    TU_OK(oclnn_vit_train(tu_context(), &c, &o, &a));
    TU_OK(oclnn_vit_train(tu_context(), &c, &o, &a2));
    o.cosine = 1;
    TU_OK(oclnn_vit_train(tu_context(), &c, &o, &b));
    ck_assert(a.final_loss == a2.final_loss);
    ck_assert_msg(a.final_loss != b.final_loss, "cosine schedule changed nothing (loss %.6f)", a.final_loss);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("transformer");
    TCase *tc = tcase_create("transformer");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_pytorch_fixture, 0, 2);
    tcase_add_test(tc, test_stack_and_dropout);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_vit_matches_pytorch);
    tcase_add_test(tc, test_cosine_schedule_changes_training);
    tcase_add_test(tc, test_vit_learns_fashion_mnist_subset);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
