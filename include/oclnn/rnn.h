/* Recurrent layers: LSTM and GRU with PyTorch's semantics, shapes and
 * weight names, so that a model trained with torch.nn.LSTM / torch.nn.GRU
 * loads here unchanged and gives the same numbers (and the other way round).
 *
 * What PyTorch users should know
 * ------------------------------
 * - Shapes are PyTorch's: input [N, T, I] with batch_first, else [T, N, I];
 *   h0 / c0 and h_n / c_n are [num_layers * D, N, H] (D = 2 when
 *   bidirectional), ordered layer by layer, forward direction first;
 *   output is [N, T, D * H] (or [T, N, D * H]), the directions concatenated
 *   on the last axis, forward first.
 * - Gate order and equations are PyTorch's, not cuDNN's or MIOpen's:
 *     LSTM  i, f, g, o:  c' = f * c + i * g,  h' = o * tanh(c')
 *     GRU   r, z, n:     n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
 *                        h' = (1 - z) * n + z * h
 *   with both bias vectors (b_ih and b_hh) as PyTorch keeps them; a file
 *   exported from a model with bias=False can be loaded by leaving the
 *   biases at zero.
 * - The weights are parameters named as in PyTorch's state_dict, under the
 *   configured prefix: "<prefix>.weight_ih_l<k>[_reverse]" [G*H, in],
 *   "weight_hh_l<k>" [G*H, H], "bias_ih_l<k>", "bias_hh_l<k>" [G*H], with
 *   G = 4 (LSTM) or 3 (GRU) and in = I for layer 0, D*H above. They are
 *   created by the call; if the graph already has a tensor of that name
 *   (say, a weight shared with another graph built the same way, or an f32
 *   input you feed yourself) it is used instead, and its shape must fit.
 *   The values start at zero: load a state_dict (oclnn_graph_load_weights)
 *   or call oclnn_graph_init_params, which gives them PyTorch's
 *   U(-1/sqrt(H), 1/sqrt(H)).
 * - Variable-length batches: `lengths` (i32 [N], each in [0, T]) gives
 *   PyTorch's packed-sequence semantics without packing: sequences are
 *   padded at the end; steps past a sequence's length leave its state
 *   alone and output zeros; h_n / c_n are the states after the last valid
 *   step; the reverse direction starts at each sequence's own end. A value
 *   outside [0, T] is reported when the graph runs (lengths are data).
 * - Inter-layer dropout (`dropout` > 0) applies to each layer's output but
 *   the last, in training mode only, as PyTorch does; it uses the library's
 *   Philox dropout, so the mask is reproducible but not PyTorch's.
 * - Gradients reach the input, h0, c0 and every weight from any of
 *   output, h_n and c_n; an output nothing depends on contributes zero.
 *
 * Why it is fast on every OpenCL device
 * -------------------------------------
 * Per layer and direction the input projection of all time steps is one
 * GEMM; each time step is then one small recurrent GEMM and one fused
 * kernel that computes all gates, the state update and the output, and
 * saves the gates for the backward pass. Backward through time is, per
 * step, one fused gate-gradient kernel and one GEMM; the weight gradients
 * are one GEMM each over all steps, the input gradient one more. Sizes are
 * kernel arguments, so a graph for a new batch or sequence length compiles
 * no program. */
#ifndef OCLNN_RNN_H
#define OCLNN_RNN_H

#include "oclnn/graph.h"
#include "oclnn/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The layer's configuration (PyTorch's nn.LSTM / nn.GRU constructor
 * arguments, less input_size, which comes from the input tensor). Zeroed
 * fields take PyTorch's defaults, so `{.hidden_size = 20}` is
 * nn.LSTM(I, 20). */
typedef struct oclnn_rnn_options {
    int hidden_size;    /* H, required */
    int num_layers;     /* 0 means 1 */
    int batch_first;    /* input and output [N, T, .] instead of [T, N, .] */
    int bidirectional;
    float dropout;      /* between layers, training mode only; in [0, 1) */
    const char *prefix; /* of the parameter names; NULL: "lstm" or "gru" */
} oclnn_rnn_options;

/* What one call produces. c_n is NULL for a GRU. */
typedef struct oclnn_rnn_result {
    oclnn_tensor *output; /* [N, T, D*H] or [T, N, D*H] */
    oclnn_tensor *h_n;    /* [L*D, N, H] */
    oclnn_tensor *c_n;    /* [L*D, N, H], LSTM only */
} oclnn_rnn_result;

/* h0, c0 and lengths may each be NULL (zero initial state; full-length
 * sequences). On failure (a shape that does not fit, a non-f32 input) the
 * graph's sticky error names the tensor and both shapes, *out is all NULL,
 * and that error is returned. */
oclnn_status oclnn_lstm(oclnn_graph *g, oclnn_tensor *input, oclnn_tensor *h0, oclnn_tensor *c0,
                        oclnn_tensor *lengths, const oclnn_rnn_options *options, oclnn_rnn_result *out);
oclnn_status oclnn_gru(oclnn_graph *g, oclnn_tensor *input, oclnn_tensor *h0, oclnn_tensor *lengths,
                       const oclnn_rnn_options *options, oclnn_rnn_result *out);

/* ---- The course's LSTMModel / GRUModel: the recurrent stack (parameters
 * "lstm.*" or "gru.*", or options->prefix), its output at the last time
 * step, out[:, -1, :], and a Linear layer "fc.weight" [output_size, D*H],
 * "fc.bias". As in the course (and in PyTorch with a padded batch), the
 * last step is step T-1 of every sequence: with lengths, a shorter
 * sequence's output there is zero, and only fc.bias reaches its logits;
 * use h_n of the result for the state at each sequence's own end.
 * The input is [N, T, I] (batch_first is forced). options NULL means
 * hidden 20, 2 layers; output_size 0 means 5 (the course's defaults). */
typedef struct oclnn_rnn_model {
    oclnn_tensor *logits; /* [N, output_size] */
    oclnn_rnn_result rnn; /* the stack's output, h_n and c_n */
} oclnn_rnn_model;

oclnn_status oclnn_lstm_model(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *lengths, const oclnn_rnn_options *options,
                              int output_size, oclnn_rnn_model *out);
oclnn_status oclnn_gru_model(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *lengths, const oclnn_rnn_options *options,
                             int output_size, oclnn_rnn_model *out);

/* ---- Jobs for the models above (src/nn/rnn_jobs.c): what `oclnn forward
 * / train / eval lstm|gru` run. */

typedef enum oclnn_rnn_kind { OCLNN_RNN_LSTM = 0, OCLNN_RNN_GRU = 1 } oclnn_rnn_kind;

/* An LSTMModel / GRUModel's sizes: what its constructor took. */
typedef struct oclnn_rnn_model_config {
    oclnn_rnn_kind kind;
    int input_size, hidden_size, num_layers, bidirectional, output_size;
    int has_bias; /* the stack's b_ih / b_hh are in the file (PyTorch's bias=True) */
} oclnn_rnn_model_config;

/* Infers the configuration from a state_dict's names and shapes:
 * "<kind>.weight_ih_l<k>[_reverse]" for k = 0.. gives the layer count and
 * the direction, weight_ih_l0 [G*H, I] and weight_hh_l0 [G*H, H] the sizes,
 * "fc.weight" [O, D*H] the output size. Every tensor of the stack and of fc
 * must be there with its shape (the stack's biases may all be absent, as
 * with bias=False), and nothing else may be (a checkpoint's optimizer state
 * "<param>.<state>" is allowed). Errors name the file and the tensor that
 * does not fit: OCLNN_ERR_NOT_FOUND (missing), OCLNN_ERR_SHAPE (shape,
 * dtype), OCLNN_ERR_FORMAT (a tensor that belongs to no such model, e.g.
 * "lstm.weight_hr_l0" of an LSTM with proj_size), plus the safetensors
 * reader's. */
oclnn_status oclnn_rnn_model_config_from_file(const char *weights_path, oclnn_rnn_kind kind,
                                              oclnn_rnn_model_config *out);

/* Runs the model (eval mode) with the weights of weights_path on the tensor
 * "input" [N, T, I] f32 of input_path, with the optional "lengths" (i32 or
 * i64 [N], each in [0, T]) of the same file, and writes to output_path
 * "output" [N, O] (fc of out[:, -1, :], exactly as the model above: with
 * lengths, a sequence shorter than T gets fc.bias there, as PyTorch's
 * model does on a padded batch), "h_n" [L*D, N, H] (each sequence's state
 * at its own last step) and, for an LSTM, "c_n". */
oclnn_status oclnn_rnn_model_forward_file(oclnn_context *ctx, oclnn_rnn_kind kind, const char *weights_path,
                                          const char *input_path, const char *output_path);

/* Sequential Fashion-MNIST: each 28x28 image is a sequence of 28 steps
 * (rows) of 28 pixels in [0, 1], classified into 10 classes by an
 * LSTMModel / GRUModel. model may be NULL (or have zero fields) for the
 * defaults: hidden 128, 2 layers, unidirectional; input_size and
 * output_size are always 28 and 10. Training, progress, checkpoints and the
 * result are those of oclnn_simple_cnn_train. */
oclnn_status oclnn_rnn_model_train(oclnn_context *ctx, oclnn_rnn_kind kind, const oclnn_rnn_model_config *model,
                                   const oclnn_train_options *options, oclnn_train_result *result);
/* Test accuracy and confusion matrix of saved weights (sizes inferred from
 * the file as oclnn_rnn_model_config_from_file does; they must take 28
 * inputs and give 10 outputs). */
oclnn_status oclnn_rnn_model_evaluate(oclnn_context *ctx, oclnn_rnn_kind kind, const char *weights_path,
                                      const char *data_dir, int64_t test_limit, oclnn_train_result *result);

#ifdef __cplusplus
}
#endif
#endif
