/* LSTM and GRU workloads: the large shape (I 256, H 256, 2 layers,
 * N 64, T 100) and the course's classic one (I 10, H 20, 2 layers, N 64,
 * T 50), forward (eval mode) and forward+backward, on random inputs with
 * PyTorch's initialisation. bench/pytorch_reference.py times the same cases.
 *
 * GFLOP/s counts the GEMM work only (the gate math is a few flops per
 * element against 2*(in+H) per gate output): per layer and direction,
 * forward = T * 2 * N * G*H * (in + H), G = 4 (LSTM) or 3 (GRU), in = I for
 * layer 0 and D*H above; forward+backward = 3x forward (data and weight
 * gradients, one forward's worth each). */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rnn_case {
    const char *label;
    int input, hidden, layers, batch, steps;
} rnn_case;

static double forward_flops(const rnn_case *c, int gates)
{
    double f = 0;
    for (int l = 0; l < c->layers; l++) {
        int in = l == 0 ? c->input : c->hidden;
        f += (double)c->steps * 2.0 * c->batch * gates * c->hidden * (double)(in + c->hidden);
    }
    return f;
}

/* Every output of an LSTM or GRU lies in (-1, 1) (h = o * tanh(c), or a
 * convex mix of tanh and the previous state), and random weights make it
 * nonzero: a wrong or unwritten output shows. */
static int check_outputs(oclnn_tensor *y) { return bench_check_bounded(y, 1.0f); }

static void rnn_one(bench_env *env, const rnn_case *c, int gru, int train)
{
    oclnn_graph *g = oclnn_graph_create(env->ctx);
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 3, (const int64_t[]){c->batch, c->steps, c->input});
    oclnn_rnn_options o = {.hidden_size = c->hidden, .num_layers = c->layers, .batch_first = 1};
    oclnn_rnn_result res;
    oclnn_status s = gru ? oclnn_gru(g, x, NULL, NULL, &o, &res) : oclnn_lstm(g, x, NULL, NULL, NULL, &o, &res);
    oclnn_tensor *r = NULL;
    if (!s) s = oclnn_graph_output(g, res.output);
    if (!s && train) {
        /* d(sum(y * r)) / d(weights): the gradient of a loss on every step */
        r = oclnn_input(g, "r", OCLNN_DTYPE_F32, 3, (const int64_t[]){c->batch, c->steps, c->hidden});
        s = oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, res.output, r)));
    } else if (!s) {
        s = oclnn_graph_set_training(g, 0);
    }
    if (!s) s = oclnn_graph_compile(g, NULL);
    if (!s) s = oclnn_graph_init_params(g, 1);
    if (!s) s = oclnn_tensor_fill_uniform(x, 7, 0, -1, 1);
    if (!s && r) s = oclnn_tensor_fill_uniform(r, 7, 1, -1, 1);
    char label[64];
    snprintf(label, sizeof label, "%s.%s.%s", gru ? "gru" : "lstm", c->label, train ? "train" : "fwd");
    bench_result br = {.bench = "rnn", .label = label};
    snprintf(br.shape, sizeof br.shape, "I%d H%d L%d N%d T%d", c->input, c->hidden, c->layers, c->batch, c->steps);
    double fwd = forward_flops(c, gru ? 3 : 4);
    br.flops = train ? 3 * fwd : fwd;
    bench_progress(env, label);
    if (!s) s = bench_time_graph(env, g, &br);
    if (!s) {
        br.check_failed = check_outputs(res.output);
        bench_report(env, &br);
    } else {
        bench_fail(env, "rnn", label, br.shape, oclnn_last_error());
    }
    oclnn_graph_release(g);
}

oclnn_status bench_rnn(bench_env *env)
{
    const rnn_case tiny[] = {{"tiny", 8, 8, 2, 4, 5}};
    const rnn_case full[] = {
        {"large", 256, 256, 2, 64, env->quick ? 25 : 100},
        {"classic", 10, 20, 2, 64, env->quick ? 25 : 50},
    };
    const rnn_case *cases = env->tiny ? tiny : full;
    int ncases = env->tiny ? 1 : 2;
    if (env->quick) bench_note(env, "rnn: --quick uses T 25 instead of 100 and 50");
    for (int i = 0; i < ncases; i++)
        for (int gru = 0; gru <= 1; gru++)
            for (int train = 0; train <= 1; train++) rnn_one(env, &cases[i], gru, train);
    return OCLNN_OK;
}
