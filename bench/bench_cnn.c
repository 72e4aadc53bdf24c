/* Convolution and SimpleCNN workloads. Inputs are random (Philox fills on
 * the device): these time kernels, not data loading. */
#include "bench.h"

#include <stdio.h>
#include <string.h>

typedef struct conv_case {
    const char *label;
    int n, cin, h, w, cout, k, pad;
} conv_case;

static const char *algorithm_name(oclnn_conv_algorithm a)
{
    switch (a) {
    case OCLNN_CONV_AUTO: return "auto";
    case OCLNN_CONV_IM2COL_BATCHED: return "batched"; /* im2col + CLBlast strided-batched GEMM */
    case OCLNN_CONV_IM2COL_WIDE: return "wide";       /* im2col of the batch + one CLBlast GEMM */
    case OCLNN_CONV_CLBLAST_CONVGEMM: return "convgemm";
    case OCLNN_CONV_IM2COL_TILED: return "tiled";     /* im2col + oclnn's tiled GEMM */
    case OCLNN_CONV_WINOGRAD: return "winograd";      /* F(2x2, 3x3): transforms + 16 GEMMs */
    case OCLNN_CONV_DIRECT: return "direct";          /* padded x read in place by a register-tiled kernel */
    }
    return "?";
}

static oclnn_status fill_all(oclnn_graph *g, uint64_t seed)
{
    for (int i = 0; i < oclnn_graph_param_count(g); i++) {
        oclnn_status s = oclnn_tensor_fill_uniform(oclnn_graph_param(g, i), seed, (uint64_t)i, -0.1f, 0.1f);
        if (s) return s;
    }
    return OCLNN_OK;
}

/* One conv; with `train` the graph also computes d(sum(y * r))/d(x, w, b)
 * ("train": forward + data gradient + weight gradient, 3x the forward's
 * flops); with pool > 1 a pool x pool max-pool follows (params.max_pool:
 * fused into the GEMM on the tiled path). Labels:
 * <case>.<fwd|train>[+pool<k>]/<algorithm>. */
static void conv_one(bench_env *env, const conv_case *c, oclnn_conv_algorithm algo, int train, int pool)
{
    oclnn_graph *g = oclnn_graph_create(env->ctx);
    int ho = c->h + 2 * c->pad - c->k + 1, wo = c->w + 2 * c->pad - c->k + 1;
    oclnn_tensor *x = train ? oclnn_param(g, "x", 4, (const int64_t[]){c->n, c->cin, c->h, c->w})
                            : oclnn_input(g, "x", OCLNN_DTYPE_F32, 4, (const int64_t[]){c->n, c->cin, c->h, c->w});
    oclnn_tensor *w = oclnn_param(g, "w", 4, (const int64_t[]){c->cout, c->cin, c->k, c->k});
    oclnn_tensor *b = oclnn_param(g, "b", 1, (const int64_t[]){c->cout});
    oclnn_conv2d_params p = {.pad_h = c->pad, .pad_w = c->pad, .algorithm = algo, .max_pool = pool};
    oclnn_tensor *y = oclnn_conv2d(g, x, w, b, &p);
    int k = pool > 1 ? pool : 1;
    oclnn_status s = OCLNN_OK;
    if (train) {
        oclnn_tensor *r = oclnn_input(g, "r", OCLNN_DTYPE_F32, 4, (const int64_t[]){c->n, c->cout, ho / k, wo / k});
        s = oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, y, r)));
        if (!s) s = oclnn_graph_compile(g, NULL);
        if (!s) s = oclnn_tensor_fill_uniform(r, 7, 0, -1, 1);
    } else {
        s = oclnn_graph_output(g, y);
        if (!s) s = oclnn_graph_compile(g, NULL);
        if (!s) s = oclnn_tensor_fill_uniform(x, 7, 1, 0, 1);
    }
    if (!s) s = fill_all(g, 3);
    char shape[64], label[96];
    snprintf(shape, sizeof shape, "%dx%dx%dx%d>%d k%d", c->n, c->cin, c->h, c->w, c->cout, c->k);
    char with_pool[16] = "";
    if (k > 1) snprintf(with_pool, sizeof with_pool, "+pool%d", k);
    snprintf(label, sizeof label, "%s.%s%s/%s", c->label, train ? "train" : "fwd", with_pool, algorithm_name(algo));
    bench_result res = {.bench = "conv2d", .label = label};
    snprintf(res.shape, sizeof res.shape, "%s", shape);
    double fwd = 2.0 * c->n * c->cout * ho * wo * (double)c->cin * c->k * c->k;
    /* backward = data gradient + weight gradient, each a forward's worth */
    res.flops = train ? 3 * fwd : fwd;
    bench_progress(env, label);
    if (!s) s = bench_time_graph(env, g, &res);
    if (!s && env->torch && k == 1 && (algo == OCLNN_CONV_AUTO || algo == OCLNN_CONV_WINOGRAD || algo == OCLNN_CONV_DIRECT)) {
        /* PyTorch's F.conv2d right after oclnn's: both under the same load */
        char req[96], why[256];
        double tmin;
        snprintf(req, sizeof req, "conv %s %d %d %d %d %d %d %d %d", train ? "train" : "fwd", c->n, c->cin, c->h,
                 c->w, c->cout, c->k, c->pad, env->repeat);
        if (bench_torch_time(env->torch, req, &res.torch_seconds, &tmin, why, sizeof why))
            bench_note(env, "conv %s: no PyTorch figure: %s", label, why);
    }
    if (!s) bench_report(env, &res);
    else bench_fail(env, "conv2d", label, shape, oclnn_last_error());
    oclnn_graph_release(g);
}

oclnn_status bench_conv(bench_env *env)
{
    int batch = env->tiny ? 2 : env->quick ? 16 : 64;
    const conv_case cases[] = {
        {"cnn.conv1", batch, 1, 28, 28, 32, 5, 2},
        {"cnn.conv2", batch, 32, 14, 14, 64, 5, 2},
        {"3x3.64.56", env->tiny ? 1 : env->quick ? 4 : batch, 64, 56, 56, 64, 3, 1},
    };
    const oclnn_conv_algorithm algos[] = {OCLNN_CONV_AUTO, OCLNN_CONV_IM2COL_TILED, OCLNN_CONV_IM2COL_BATCHED,
                                          OCLNN_CONV_IM2COL_WIDE, OCLNN_CONV_CLBLAST_CONVGEMM, OCLNN_CONV_WINOGRAD,
                                          OCLNN_CONV_DIRECT};
    int nalgos = env->tiny ? 1 : (int)(sizeof algos / sizeof algos[0]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oclnn_graph *probe = oclnn_graph_create(env->ctx);
        oclnn_tensor *px = oclnn_input(probe, "x", OCLNN_DTYPE_F32, 4,
                                       (const int64_t[]){cases[i].n, cases[i].cin, cases[i].h, cases[i].w});
        oclnn_tensor *pw = oclnn_param(probe, "w", 4, (const int64_t[]){cases[i].cout, cases[i].cin, cases[i].k, cases[i].k});
        oclnn_conv2d_params pp = {.pad_h = cases[i].pad, .pad_w = cases[i].pad};
        oclnn_conv_algorithm chosen = oclnn_conv2d_algorithm(oclnn_conv2d(probe, px, pw, NULL, &pp));
        oclnn_graph_release(probe);
        bench_note(env, "%s: auto picks %s on this device", cases[i].label, algorithm_name(chosen));
        for (int a = 0; a < nalgos; a++) {
            /* Winograd applies to the 3x3 layers only (elsewhere it would time AUTO's choice again) */
            if (algos[a] == OCLNN_CONV_WINOGRAD && cases[i].k != 3) continue;
            conv_one(env, &cases[i], algos[a], 0, 0);
            if (algos[a] != OCLNN_CONV_CLBLAST_CONVGEMM) conv_one(env, &cases[i], algos[a], 1, 0);
        }
        /* SimpleCNN's layers are each followed by a 2x2 max-pool */
        if (cases[i].k == 5) {
            conv_one(env, &cases[i], OCLNN_CONV_AUTO, 0, 2);
            conv_one(env, &cases[i], OCLNN_CONV_AUTO, 1, 2);
        }
    }
    return OCLNN_OK;
}

/* SimpleCNN: a training step (forward, backward, SGD update) and an
 * inference pass (eval mode), on random images. */
static void simplecnn_one(bench_env *env, int batch, int train)
{
    oclnn_graph *g = oclnn_graph_create(env->ctx);
    oclnn_tensor *x = oclnn_input(g, "images", OCLNN_DTYPE_F32, 4, (const int64_t[]){batch, 1, 28, 28});
    oclnn_tensor *logits = oclnn_simple_cnn(g, x);
    oclnn_optimizer *opt = NULL;
    oclnn_status s;
    if (train) {
        oclnn_tensor *labels = oclnn_input(g, "labels", OCLNN_DTYPE_I32, 1, (const int64_t[]){batch});
        oclnn_tensor *loss = oclnn_cross_entropy_loss(g, logits, labels, OCLNN_REDUCTION_MEAN, 0.0f);
        s = oclnn_graph_backward(g, loss);
        if (!s) s = oclnn_graph_compile(g, NULL);
        if (!s) s = oclnn_tensor_fill(labels, 3.0f);
        if (!s && !(opt = oclnn_optimizer_sgd(g, 0.01f, 0.9f, 0.0f, 0.0f, 0))) s = OCLNN_ERR_OUT_OF_MEMORY;
    } else {
        s = oclnn_graph_output(g, logits);
        if (!s) s = oclnn_graph_set_training(g, 0);
        if (!s) s = oclnn_graph_compile(g, NULL);
    }
    if (!s) s = oclnn_graph_init_params(g, 1);
    if (!s) s = oclnn_tensor_fill_uniform(x, 5, 0, 0, 1);
    char label[64];
    snprintf(label, sizeof label, "%s.b%d", train ? "train_sgd" : "inference", batch);
    bench_result res = {.bench = "simplecnn", .label = label, .images = batch};
    snprintf(res.shape, sizeof res.shape, "%dx1x28x28", batch);
    /* 2 flops per MAC: conv1 + conv2 + fc1 + fc2 forward; training adds the
     * two gradients of each (conv1's data gradient is not needed). */
    double fwd = 2.0 * batch * (32.0 * 784 * 25 + 64.0 * 196 * 800 + 3136.0 * 1000 + 1000.0 * 10);
    double conv1 = 2.0 * batch * 32.0 * 784 * 25;
    res.flops = train ? 3 * fwd - conv1 : fwd;
    bench_progress(env, label);
    if (!s) s = bench_time_train_step(env, g, opt, &res);
    if (!s && env->torch) {
        /* PyTorch's SimpleCNN right after oclnn's: both under the same load */
        char req[64], why[256];
        double tmin;
        snprintf(req, sizeof req, "simplecnn %s %d %d", train ? "train" : "infer", batch, env->repeat);
        if (bench_torch_time(env->torch, req, &res.torch_seconds, &tmin, why, sizeof why))
            bench_note(env, "simplecnn %s: no PyTorch figure: %s", label, why);
    }
    if (!s) bench_report(env, &res);
    else bench_fail(env, "simplecnn", label, res.shape, oclnn_last_error());
    oclnn_optimizer_release(opt);
    oclnn_graph_release(g);
}

oclnn_status bench_simplecnn(bench_env *env)
{
    if (env->tiny) {
        simplecnn_one(env, 8, 1);
        simplecnn_one(env, 8, 0);
        return OCLNN_OK;
    }
    simplecnn_one(env, 64, 1);
    simplecnn_one(env, 256, 1);
    simplecnn_one(env, 64, 0);
    simplecnn_one(env, 256, 0);
    return OCLNN_OK;
}
