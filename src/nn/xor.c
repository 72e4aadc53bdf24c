/* XOR by backprop: the single-layer network that cannot, the MLP that can. */
#include "core/error.h"
#include "oclnn/nn.h"
#include "oclnn/oclnn.h"

#include <stdio.h>
#include <string.h>

static const float xor_inputs[8] = {0, 0, 0, 1, 1, 0, 1, 1};
static const float xor_targets[4] = {0, 1, 1, 0};

static oclnn_status read_weights(oclnn_graph *g, oclnn_xor_model *m)
{
    m->nweights = 0;
    for (int i = 0; i < oclnn_graph_param_count(g) && m->nweights < 6; i++) {
        oclnn_tensor *p = oclnn_graph_param(g, i);
        int64_t n = oclnn_tensor_numel(p);
        if (n > 16) continue;
        int k = m->nweights++;
        snprintf(m->weight_names[k], sizeof m->weight_names[k], "%s", oclnn_tensor_name(p));
        m->weight_sizes[k] = (int)n;
        oclnn_status s = oclnn_tensor_read(p, m->weights[k], (size_t)n * sizeof(float));
        if (s) return s;
    }
    return OCLNN_OK;
}

/* nsizes == 2: single layer; 3: one hidden layer. */
static oclnn_status train_one(oclnn_context *ctx, int nsizes, const int64_t *sizes, int steps, float lr,
                              uint64_t seed, oclnn_activation_fn act, oclnn_xor_model *m)
{
    memset(m, 0, sizeof *m);
    oclnn_graph *g = oclnn_graph_create(ctx);
    if (!g) return oclnn_fail_append(OCLNN_ERR_OUT_OF_MEMORY, " (xor)");
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 4, 2), *t = oclnn_input_f32(g, "target", 2, 4, 1);
    oclnn_tensor *logits = oclnn_mlp(g, x, nsizes, sizes, act, "fc");
    oclnn_tensor *loss = oclnn_bce_with_logits_loss(g, logits, t, OCLNN_REDUCTION_MEAN);
    oclnn_tensor *prob = oclnn_sigmoid(g, logits);
    oclnn_status s = oclnn_graph_output(g, loss);
    if (!s) s = oclnn_graph_output(g, prob);
    if (!s) s = oclnn_graph_backward(g, loss);
    if (!s) s = oclnn_graph_compile(g, NULL);
    if (!s) s = oclnn_graph_init_params(g, seed);
    if (!s) s = oclnn_tensor_write(x, xor_inputs, sizeof xor_inputs);
    if (!s) s = oclnn_tensor_write(t, xor_targets, sizeof xor_targets);
    oclnn_optimizer *opt = s ? NULL : oclnn_optimizer_sgd(g, lr, 0.9f, 0.0f, 0.0f, 0);
    if (!s && !opt) s = oclnn_fail_append(OCLNN_ERR_OUT_OF_MEMORY, " (xor optimizer)");
    int every = steps / OCLNN_XOR_CURVE > 0 ? steps / OCLNN_XOR_CURVE : 1;
    for (int step = 0; step < steps && !s; step++) {
        s = oclnn_graph_zero_grad(g);
        if (!s) s = oclnn_graph_run(g);
        if (!s) s = oclnn_optimizer_step(opt);
        if (!s && step % every == 0 && m->curve_points < OCLNN_XOR_CURVE)
            s = oclnn_tensor_read(loss, &m->loss_curve[m->curve_points++], sizeof(float));
    }
    /* One more forward pass so the outputs reflect the final weights. */
    if (!s) s = oclnn_graph_run(g);
    if (!s) s = oclnn_tensor_read(prob, m->outputs, sizeof m->outputs);
    for (int i = 0; i < 4 && !s; i++) m->correct += (m->outputs[i] > 0.5f) == (xor_targets[i] > 0.5f);
    if (!s) s = read_weights(g, m);
    oclnn_optimizer_release(opt);
    oclnn_graph_release(g);
    return s;
}

oclnn_status oclnn_xor_train(oclnn_context *ctx, int hidden, int steps, float lr, uint64_t seed,
                             oclnn_activation_fn activation, oclnn_xor_result *result)
{
    if (!ctx || !result) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "xor: NULL argument");
    if (hidden <= 0) hidden = 4;
    if (hidden > 16) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "xor: at most 16 hidden units");
    if (steps <= 0) steps = 2000;
    if (lr <= 0) lr = 0.5f;
    if (!activation) activation = oclnn_tanh;
    oclnn_status s = train_one(ctx, 2, (const int64_t[]){2, 1}, steps, lr, seed, NULL, &result->single_layer);
    if (!s) s = train_one(ctx, 3, (const int64_t[]){2, hidden, 1}, steps, lr, seed, activation, &result->mlp);
    return s;
}
