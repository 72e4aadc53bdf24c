/* The course's LSTMModel and GRUModel (include/oclnn/rnn.h): a recurrent
 * stack, its output at the last time step, one Linear layer. */
#include "graph/graph.h"
#include "oclnn/oclnn.h"

#include <stdio.h>
#include <string.h>

static oclnn_status model(oclnn_graph *g, int gru, oclnn_tensor *x, oclnn_tensor *lengths,
                          const oclnn_rnn_options *options, int output_size, oclnn_rnn_model *out)
{
    const char *op = gru ? "gru_model" : "lstm_model";
    if (out) memset(out, 0, sizeof *out);
    if (!g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL graph", op);
    if (!out) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: NULL result", op);
        return g->error;
    }
    oclnn_rnn_options o = {.hidden_size = 20, .num_layers = 2};
    if (options) o = *options;
    o.batch_first = 1; /* the model's input is [N, T, I], as in the course */
    if (output_size == 0) output_size = 5;
    if (output_size < 0) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: output_size %d", op, output_size);
        return g->error;
    }
    oclnn_status s = gru ? oclnn_gru(g, x, NULL, lengths, &o, &out->rnn)
                         : oclnn_lstm(g, x, NULL, NULL, lengths, &o, &out->rnn);
    if (s) return s;
    /* out[:, -1, :] -> [N, D*H] */
    oclnn_tensor *y = out->rnn.output;
    int64_t T = y->dims[1], feat = y->dims[2];
    oclnn_tensor *last = oclnn_contiguous(g, oclnn_slice(g, y, 1, T - 1, T));
    last = oclnn_reshape(g, last, 2, (const int64_t[]){y->dims[0], feat});
    oclnn_tensor *w = oclnn_param(g, "fc.weight", 2, (const int64_t[]){output_size, feat});
    oclnn_tensor *b = oclnn_param(g, "fc.bias", 1, (const int64_t[]){output_size});
    out->logits = oclnn_linear(g, last, w, b);
    if (g->error) {
        memset(out, 0, sizeof *out);
        return g->error;
    }
    return OCLNN_OK;
}

oclnn_status oclnn_lstm_model(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *lengths, const oclnn_rnn_options *options,
                              int output_size, oclnn_rnn_model *out)
{
    return model(g, 0, x, lengths, options, output_size, out);
}

oclnn_status oclnn_gru_model(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *lengths, const oclnn_rnn_options *options,
                             int output_size, oclnn_rnn_model *out)
{
    return model(g, 1, x, lengths, options, output_size, out);
}
