/* Sizes at run time (DESIGN.md, "Contracts"): a graph rebuilt for a new
 * batch, sequence length or image size must find every program it needs
 * in the context (memory hits), building or loading none. Public API only:
 * this is what a user serving variable-length requests relies on. */
#include <math.h>
#include <stdlib.h>

#include "testutil.h"

typedef struct sizes {
    int batch, seq, h, w;
} sizes;

enum { D = 8, F = 12, C_IN = 3, C_OUT = 4 };

static void fill_all(oclnn_graph *g, uint64_t seed)
{
    for (int i = 0; i < oclnn_graph_param_count(g); i++)
        TU_OK(oclnn_tensor_fill_uniform(oclnn_graph_param(g, i), seed, (uint64_t)i, -0.5f, 0.5f));
    const char *inputs[] = {"x", "pos", "img"};
    for (int i = 0; i < 3; i++)
        TU_OK(oclnn_tensor_fill_uniform(oclnn_graph_find(g, inputs[i]), seed, 100u + (uint64_t)i, -1.0f, 1.0f));
}

static void expect_finite(oclnn_tensor *t)
{
    size_t n = (size_t)oclnn_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    TU_OK(oclnn_tensor_read(t, v, n * sizeof *v));
    for (size_t i = 0; i < n; i++) ck_assert_msg(isfinite(v[i]), "%s[%zu] = %g", oclnn_tensor_name(t), i, v[i]);
    free(v);
}

/* A sequence-model block plus a conv: what an NLP or vision server
 * compiles again for every new request shape. Builds, compiles and runs it. */
static void build_and_run(oclnn_context *ctx, sizes s)
{
    oclnn_graph *g = oclnn_graph_create(ctx);
    ck_assert_ptr_nonnull(g);
    oclnn_tensor *x = oclnn_input_f32(g, "x", 3, s.batch, s.seq, D);
    oclnn_tensor *pos = oclnn_input_f32(g, "pos", 2, s.seq, D);
    oclnn_tensor *img = oclnn_input_f32(g, "img", 4, s.batch, C_IN, s.h, s.w);
    oclnn_tensor *w1 = oclnn_param(g, "w1", 2, (int64_t[]){F, D});
    oclnn_tensor *b1 = oclnn_param(g, "b1", 1, (int64_t[]){F});
    oclnn_tensor *shift = oclnn_param(g, "shift", 1, (int64_t[]){D});
    oclnn_tensor *cw = oclnn_param(g, "conv.weight", 4, (int64_t[]){C_OUT, C_IN, 3, 3});
    oclnn_tensor *cb = oclnn_param(g, "conv.bias", 1, (int64_t[]){C_OUT});

    /* Broadcast adds over the batch ([T, D]) and over batch and time ([D]). */
    oclnn_tensor *h = oclnn_add(g, oclnn_add(g, x, pos), shift);
    oclnn_tensor *ff = oclnn_gelu(g, oclnn_linear(g, h, w1, b1));         /* [B, T, F] */
    oclnn_tensor *scores = oclnn_matmul_t(g, h, 0, h, 1);                 /* [B, T, T] */
    oclnn_tensor *attn = oclnn_matmul(g, oclnn_softmax(g, scores), h);    /* [B, T, D] */
    oclnn_tensor *cols = oclnn_contiguous(g, oclnn_transpose(g, attn, 1, 2)); /* [B, D, T] */
    oclnn_tensor *pooled = oclnn_sum(g, oclnn_tanh(g, cols), 2, 0);       /* [B, D] */
    oclnn_tensor *avg = oclnn_mean(g, ff, 1, 1);                          /* [B, 1, F] */
    oclnn_tensor *joined = oclnn_concat(g, 2, (oclnn_tensor *[]){attn, ff}, 2); /* [B, T, D + F] */
    oclnn_conv2d_params p = {.pad_h = 1, .pad_w = 1, .activation = OCLNN_ACT_RELU};
    oclnn_tensor *conv = oclnn_conv2d(g, img, cw, cb, &p);
    oclnn_tensor *outs[] = {pooled, avg, joined, conv};
    for (int i = 0; i < 4; i++) TU_OK(oclnn_graph_output(g, outs[i]));
    TU_OK(oclnn_graph_compile(g, NULL));
    fill_all(g, tu_seed());
    TU_OK(oclnn_graph_run(g));
    for (int i = 0; i < 4; i++) expect_finite(outs[i]);
    oclnn_graph_release(g);
}

START_TEST(test_new_sizes_build_no_programs)
{
    oclnn_context *ctx = tu_context();
    build_and_run(ctx, (sizes){2, 5, 9, 9});
    oclnn_cache_stats before = oclnn_context_cache_stats(ctx);
    const sizes others[] = {{3, 7, 12, 10}, {1, 16, 6, 14}};
    for (int i = 0; i < 2; i++) {
        build_and_run(ctx, others[i]);
        oclnn_cache_stats now = oclnn_context_cache_stats(ctx);
        ck_assert_msg(now.programs_built + now.disk_hits == before.programs_built + before.disk_hits,
                      "batch %d, sequence %d, image %dx%d: %u programs built and %u loaded from disk again",
                      others[i].batch, others[i].seq, others[i].h, others[i].w,
                      now.programs_built - before.programs_built, now.disk_hits - before.disk_hits);
        ck_assert_uint_gt(now.memory_hits, before.memory_hits);
        before = now;
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph_sizes");
    TCase *tc = tcase_create("sizes");
    tcase_add_test(tc, test_new_sizes_build_no_programs);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
