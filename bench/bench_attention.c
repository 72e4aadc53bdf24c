/* Attention workloads: scaled dot-product attention, fused (online softmax,
 * O(L) memory) and unfused (matmul, softmax, matmul: the L x L scores in
 * the arena), forward (eval mode) and forward+backward, for the issue's
 * shapes: BERT-base at L 512, one long sequence of 4096 and MiniLM's
 * (N 32, heads 12, L 128, D 32); then LayerNorm and GELU bandwidth on
 * BERT-base's hidden states. bench/pytorch_reference.py times
 * F.scaled_dot_product_attention on the same shapes.
 *
 * GFLOP/s: forward 4 N H Lq Lk D (the two GEMMs); forward+backward 3.5x
 * that (FlashAttention-2's count: the backward is five GEMMs of that size,
 * one of them the recomputed scores), the same for both paths so their
 * rows compare by time. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct attn_case {
    const char *label;
    int n, heads, len, dim;
} attn_case;

/* Every output row is a convex combination of rows of v, which lies in
 * [-1, 1]: an unwritten, NaN or wrong-scale output shows. */
static int check_outputs(oclnn_tensor *y) { return bench_check_bounded(y, 1.0001f); }

static void sdpa_one(bench_env *env, const attn_case *c, int unfused, int train)
{
    char label[64];
    snprintf(label, sizeof label, "sdpa.%s.%s.%s", c->label, unfused ? "unfused" : "fused", train ? "train" : "fwd");
    bench_result br = {.bench = "attention", .label = label};
    snprintf(br.shape, sizeof br.shape, "N%d H%d L%d D%d", c->n, c->heads, c->len, c->dim);
    double fwd = 4.0 * c->n * c->heads * (double)c->len * c->len * c->dim;
    br.flops = train ? 3.5 * fwd : fwd;
    double qkv = 3.0 * c->n * c->heads * (double)c->len * c->dim * 4;
    double scores = (double)c->n * c->heads * (double)c->len * c->len * 4;
    if (!bench_fits(env, label, unfused ? qkv * (train ? 2 : 1) + scores * (train ? 4 : 2) : qkv * 3,
                    unfused ? scores : qkv / 3))
        return;
    bench_progress(env, label);
    oclnn_graph *g = oclnn_graph_create(env->ctx);
    const int64_t dims[4] = {c->n, c->heads, c->len, c->dim};
    oclnn_tensor *q, *k, *v;
    if (train) { /* params, so that q, k and v get gradients */
        q = oclnn_param(g, "q", 4, dims);
        k = oclnn_param(g, "k", 4, dims);
        v = oclnn_param(g, "v", 4, dims);
    } else {
        q = oclnn_input(g, "q", OCLNN_DTYPE_F32, 4, dims);
        k = oclnn_input(g, "k", OCLNN_DTYPE_F32, 4, dims);
        v = oclnn_input(g, "v", OCLNN_DTYPE_F32, 4, dims);
    }
    oclnn_sdpa_options o = {.unfused = unfused};
    oclnn_tensor *y = oclnn_sdpa_ex(g, q, k, v, &o), *r = NULL;
    oclnn_status s = oclnn_graph_output(g, y);
    if (!s && train) {
        r = oclnn_input(g, "r", OCLNN_DTYPE_F32, 4, dims);
        s = oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, y, r)));
    } else if (!s) {
        s = oclnn_graph_set_training(g, 0);
    }
    if (!s) s = oclnn_graph_compile(g, NULL);
    if (!s) s = oclnn_tensor_fill_uniform(q, 7, 0, -1, 1);
    if (!s) s = oclnn_tensor_fill_uniform(k, 7, 1, -1, 1);
    if (!s) s = oclnn_tensor_fill_uniform(v, 7, 2, -1, 1);
    if (!s && r) s = oclnn_tensor_fill_uniform(r, 7, 3, -1, 1);
    if (!s) s = bench_time_graph(env, g, &br);
    if (!s) {
        br.check_failed = check_outputs(y);
        bench_report(env, &br);
        if (c->len >= 1024)
            bench_note(env, "%s %s: arena %.1f MiB (naive sum of intermediates %.1f MiB)", label, br.shape,
                       (double)oclnn_graph_arena_bytes(g) / 1048576.0, (double)oclnn_graph_naive_bytes(g) / 1048576.0);
    } else {
        bench_fail(env, "attention", label, br.shape, oclnn_last_error());
    }
    oclnn_graph_release(g);
}

typedef enum { NORM_LAYER, ACT_GELU, ACT_GELU_TANH } band_kind;

/* Bytes: forward reads x and writes y (LayerNorm's weight and bias are
 * noise); forward+backward adds reading x and dy and writing dx. */
static void band_one(bench_env *env, band_kind kind, int rows, int cols, int train)
{
    static const char *names[] = {"layer_norm", "gelu", "gelu_tanh"};
    char label[64];
    snprintf(label, sizeof label, "%s.%s", names[kind], train ? "train" : "fwd");
    bench_result br = {.bench = "attention", .label = label};
    snprintf(br.shape, sizeof br.shape, "%dx%d", rows, cols);
    double n = (double)rows * cols;
    br.bytes = (train ? 5 : 2) * 4 * n;
    bench_progress(env, label);
    oclnn_graph *g = oclnn_graph_create(env->ctx);
    const int64_t dims[2] = {rows, cols}, c = cols;
    oclnn_tensor *x = train ? oclnn_param(g, "x", 2, dims) : oclnn_input(g, "x", OCLNN_DTYPE_F32, 2, dims);
    oclnn_tensor *y;
    if (kind == NORM_LAYER)
        y = oclnn_layer_norm(g, x, oclnn_param(g, "w", 1, &c), oclnn_param(g, "b", 1, &c), 1e-12f);
    else
        y = kind == ACT_GELU ? oclnn_gelu(g, x) : oclnn_gelu_tanh(g, x);
    oclnn_tensor *r = NULL;
    oclnn_status s = oclnn_graph_output(g, y);
    if (!s && train) {
        r = oclnn_input(g, "r", OCLNN_DTYPE_F32, 2, dims);
        s = oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, y, r)));
    }
    if (!s) s = oclnn_graph_compile(g, NULL);
    if (!s) s = oclnn_graph_init_params(g, 1);
    if (!s) s = oclnn_tensor_fill_uniform(x, 7, 0, -3, 3);
    if (!s && r) s = oclnn_tensor_fill_uniform(r, 7, 1, -1, 1);
    if (!s) s = bench_time_graph(env, g, &br);
    if (!s) bench_report(env, &br);
    else bench_fail(env, "attention", label, br.shape, oclnn_last_error());
    oclnn_graph_release(g);
}

oclnn_status bench_attention(bench_env *env)
{
    const attn_case tiny[] = {{"tiny", 1, 2, 33, 32}};
    const attn_case full[] = {
        {"bert512", 8, 12, 512, 64},
        {"long4096", 1, 16, 4096, 64},
        {"minilm128", 32, 12, 128, 32},
    };
    const attn_case quick[] = {
        {"bert512", 2, 12, 512, 64},
        {"long1024", 1, 16, 1024, 64},
        {"minilm128", 8, 12, 128, 32},
    };
    const attn_case *cases = env->tiny ? tiny : env->quick ? quick : full;
    int ncases = env->tiny ? 1 : 3;
    if (env->quick)
        bench_note(env, "attention: --quick uses N 2 (not 8) at L 512, L 1024 (not 4096), N 8 (not 32) for MiniLM");
    for (int i = 0; i < ncases; i++)
        for (int unfused = 0; unfused <= 1; unfused++)
            for (int train = 0; train <= 1; train++) sdpa_one(env, &cases[i], unfused, train);
    int rows = env->tiny ? 7 : env->quick ? 1024 : 4096, cols = env->tiny ? 33 : 768;
    for (int kind = NORM_LAYER; kind <= ACT_GELU_TANH; kind++)
        for (int train = 0; train <= 1; train++) band_one(env, (band_kind)kind, rows, cols, train);
    return OCLNN_OK;
}
