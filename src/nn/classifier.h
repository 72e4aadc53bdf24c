/* The image-classifier jobs shared by SimpleCNN and the recurrent models:
 * training with per-epoch test accuracy and checkpoints, and evaluation of
 * saved weights, on an MNIST-format dataset (src/nn/simple_cnn_train.c).
 * Internal: the public entry points are the per-model functions of
 * include/oclnn/nn.h and include/oclnn/rnn.h. */
#ifndef OCLNN_NN_CLASSIFIER_H
#define OCLNN_NN_CLASSIFIER_H

#include "oclnn/oclnn.h"

typedef struct nn_image_model {
    const char *name; /* prefix of messages: "simple_cnn", "lstm_model", ... */
    /* images: [B, 1, 28, 28] f32 in [0, 1]; returns logits [B, 10], or NULL
     * with the graph's sticky error set. */
    oclnn_tensor *(*build)(oclnn_graph *g, oclnn_tensor *images, const void *config);
    const void *config;
} nn_image_model;

oclnn_status nn_classifier_train(oclnn_context *ctx, const nn_image_model *m, const oclnn_train_options *options,
                                 oclnn_train_result *result);
oclnn_status nn_classifier_evaluate(oclnn_context *ctx, const nn_image_model *m, const char *weights_path,
                                    const char *data_dir, int64_t test_limit, oclnn_train_result *result);

#endif
