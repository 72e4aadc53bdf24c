/* oclnn — deep learning on OpenCL. The one header to include.
 *
 * Read in this order:
 *   core.h         status codes and errors, devices, contexts, random numbers
 *   graph.h        tensors, graphs, views, compile and run
 *   ops.h          op constructors (elementwise, reductions, softmax, GEMM, ...)
 *   train.h        autodiff, losses, optimizers, initialisation, checkpoints
 *   safetensors.h  weight files
 *   data.h         MNIST-format datasets and batching
 *   conv.h         2-D convolution
 *   layers.h       pooling, batch norm, dropout
 *   nn.h           model builders (MLP, SimpleCNN) and the SimpleCNN trainer
 *   rnn.h          LSTM and GRU layers (PyTorch semantics and weight names)
 *   embeddings.h   similarity, top-k, k-NN search, word-vector files
 *   tokenizer.h    BERT WordPiece tokenizer (text -> token ids, batches)
 *   attention.h    scaled dot-product attention, LayerNorm, tanh GELU
 *   word2vec.h     training word vectors (skip-gram, CBOW) from a text corpus
 *
 * A minimal program:
 *     oclnn_context *ctx;
 *     oclnn_context_create(NULL, &ctx);            // $OCLNN_DEVICE or first GPU, else CPU
 *     oclnn_graph *g = oclnn_graph_create(ctx);
 *     oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 4, 3);
 *     oclnn_tensor *w = oclnn_param(g, "fc.weight", 2, (int64_t[]){2, 3});
 *     oclnn_tensor *y = oclnn_relu(g, oclnn_linear(g, x, w, NULL));
 *     oclnn_graph_output(g, y);
 *     if (oclnn_graph_compile(g, NULL)) puts(oclnn_last_error());
 *     oclnn_tensor_write(x, host_x, sizeof host_x);
 *     oclnn_graph_run(g);
 *     oclnn_tensor_read(y, host_y, sizeof host_y);
 */
#ifndef OCLNN_H
#define OCLNN_H

#include "oclnn/core.h"
#include "oclnn/graph.h"
#include "oclnn/ops.h"
#include "oclnn/train.h"
#include "oclnn/safetensors.h"
#include "oclnn/data.h"
#include "oclnn/conv.h"
#include "oclnn/layers.h"
#include "oclnn/nn.h"
#include "oclnn/rnn.h"
#include "oclnn/embeddings.h"
#include "oclnn/tokenizer.h"
#include "oclnn/attention.h"
#include "oclnn/bert.h"
#include "oclnn/word2vec.h"

#endif
