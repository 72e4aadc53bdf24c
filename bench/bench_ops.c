/* Every other op family on one representative shape: forward, and
 * forward+backward where the op has a gradient. Reported as GB/s of the
 * op's own input and output traffic (for forward+backward: twice that plus
 * the gradients), which is what bounds these memory-bound ops. */
#include "bench.h"

#include <stdio.h>
#include <string.h>

typedef oclnn_tensor *(*op_builder)(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux);

static oclnn_tensor *b_relu(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux) { (void)aux; return oclnn_relu(g, x); }
static oclnn_tensor *b_gelu(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux) { (void)aux; return oclnn_gelu(g, x); }
static oclnn_tensor *b_sigmoid(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    (void)aux;
    return oclnn_sigmoid(g, x);
}
static oclnn_tensor *b_bias(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux) { return oclnn_bias_add(g, x, aux, 1); }
static oclnn_tensor *b_sum_rows(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    (void)aux;
    return oclnn_sum(g, x, -1, 0);
}
static oclnn_tensor *b_sum_cols(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    (void)aux;
    return oclnn_sum(g, x, 0, 0);
}
static oclnn_tensor *b_max(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux) { (void)aux; return oclnn_max(g, x, -1, 0); }
static oclnn_tensor *b_log_softmax(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    (void)aux;
    return oclnn_log_softmax(g, x);
}
static oclnn_tensor *b_transpose(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    (void)aux;
    return oclnn_contiguous(g, oclnn_transpose(g, x, 0, 1));
}
static oclnn_tensor *b_concat(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    oclnn_tensor *parts[2] = {x, aux};
    return oclnn_concat(g, 2, parts, 1);
}
static oclnn_tensor *b_maxpool(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    (void)aux;
    oclnn_pool2d_params p = oclnn_pool2d_params_default(2, 2, 0);
    return oclnn_max_pool2d(g, x, &p);
}
static oclnn_tensor *b_avgpool(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    (void)aux;
    oclnn_pool2d_params p = oclnn_pool2d_params_default(3, 2, 1);
    return oclnn_avg_pool2d(g, x, &p);
}
static oclnn_tensor *b_batchnorm(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    (void)aux;
    int64_t c = oclnn_tensor_dim(x, 1);
    oclnn_tensor *w = oclnn_param(g, "bn.weight", 1, &c), *b = oclnn_param(g, "bn.bias", 1, &c);
    return oclnn_batch_norm2d(g, x, w, b, "bn", 0.1f, 1e-5f);
}
static oclnn_tensor *b_dropout(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    (void)aux;
    return oclnn_dropout(g, x, 0.25f);
}
static oclnn_tensor *b_cross_entropy(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *aux)
{
    return oclnn_cross_entropy_loss(g, x, aux, OCLNN_REDUCTION_MEAN, 0.0f);
}

typedef struct op_case {
    const char *name;
    op_builder build;
    int ndim;
    int64_t dims[4];
    int aux; /* 0 none, 1 f32 [dims[1]] (bias), 2 f32 like x (concat), 3 i32 labels [dims[0]] */
    int grad;
} op_case;

static void op_one(bench_env *env, const op_case *c, int train)
{
    oclnn_graph *g = oclnn_graph_create(env->ctx);
    oclnn_tensor *x = train ? oclnn_param(g, "x", c->ndim, c->dims)
                            : oclnn_input(g, "x", OCLNN_DTYPE_F32, c->ndim, c->dims);
    oclnn_tensor *aux = NULL;
    if (c->aux == 1) aux = oclnn_param(g, "aux", 1, &c->dims[1]);
    if (c->aux == 2) aux = oclnn_input(g, "aux", OCLNN_DTYPE_F32, c->ndim, c->dims);
    if (c->aux == 3) aux = oclnn_input(g, "aux", OCLNN_DTYPE_I32, 1, &c->dims[0]);
    oclnn_tensor *y = c->build(g, x, aux);
    oclnn_status s = oclnn_graph_status(g);
    if (!s && train) s = oclnn_graph_backward(g, oclnn_sum_all(g, y));
    if (!s && !train) s = oclnn_graph_output(g, y);
    if (!s) s = oclnn_graph_compile(g, NULL);
    if (!s) s = oclnn_tensor_fill_uniform(x, 11, 0, -1, 1);
    if (!s && c->aux == 2) s = oclnn_tensor_fill_uniform(aux, 11, 1, -1, 1);
    if (!s && c->aux == 3) s = oclnn_tensor_fill(aux, 3.0f);
    char label[64], shape[64];
    snprintf(label, sizeof label, "%s.%s", c->name, train ? "fwd+bwd" : "fwd");
    int len = 0;
    for (int d = 0; d < c->ndim; d++)
        len += snprintf(shape + len, sizeof shape - (size_t)len, "%s%lld", d ? "x" : "", (long long)c->dims[d]);
    bench_result r = {.bench = "op", .label = label};
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    double in = 4.0 * (double)oclnn_tensor_numel(x) * (c->aux == 2 ? 2 : 1);
    double out = s ? 0 : 4.0 * (double)oclnn_tensor_numel(y);
    r.bytes = train ? 2 * (in + out) : in + out;
    bench_progress(env, label);
    if (!s) s = bench_time_graph(env, g, &r);
    if (!s) bench_report(env, &r);
    else bench_fail(env, "op", label, shape, oclnn_last_error());
    oclnn_graph_release(g);
}

oclnn_status bench_ops(bench_env *env)
{
    int64_t n = env->tiny ? 8 : env->quick ? 64 : 256; /* images in the NCHW cases */
    int64_t rows = env->tiny ? 64 : env->quick ? 2048 : 8192;
    const op_case cases[] = {
        {"relu", b_relu, 2, {rows, 1024}, 0, 1},
        {"sigmoid", b_sigmoid, 2, {rows, 1024}, 0, 1},
        {"gelu", b_gelu, 2, {rows, 1024}, 0, 1},
        {"bias_add", b_bias, 2, {rows, 1024}, 1, 1},
        {"sum.rows", b_sum_rows, 2, {rows, 1024}, 0, 1},
        {"sum.cols", b_sum_cols, 2, {rows, 1024}, 0, 1},
        {"max.rows", b_max, 2, {rows, 1024}, 0, 1},
        {"log_softmax", b_log_softmax, 2, {rows, 1024}, 0, 1},
        {"transpose", b_transpose, 2, {rows, 1024}, 0, 1},
        {"concat", b_concat, 2, {rows, 1024}, 2, 1},
        {"cross_entropy", b_cross_entropy, 2, {rows, 1000}, 3, 1},
        {"max_pool2d", b_maxpool, 4, {n, 32, 28, 28}, 0, 1},
        {"avg_pool2d", b_avgpool, 4, {n, 32, 28, 28}, 0, 1},
        {"batch_norm2d", b_batchnorm, 4, {n, 32, 28, 28}, 0, 1},
        {"dropout", b_dropout, 4, {n, 64, 7, 7}, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        op_one(env, &cases[i], 0);
        if (cases[i].grad) op_one(env, &cases[i], 1);
    }
    return OCLNN_OK;
}
