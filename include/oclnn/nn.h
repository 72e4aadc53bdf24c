/* oclnn model builders: the classic models, with PyTorch's state_dict
 * names so weights move between oclnn and PyTorch as safetensors files.
 *
 * Each builder creates its parameters (zero until initialised: call
 * oclnn_graph_init_params or load weights after compiling) and returns the
 * output tensor. */
#ifndef OCLNN_NN_H
#define OCLNN_NN_H

#include "oclnn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef oclnn_tensor *(*oclnn_activation_fn)(oclnn_graph *g, oclnn_tensor *x);

/* Fully connected layers <prefix>1 .. <prefix>L (sizes[0] inputs,
 * sizes[L] outputs) with `activation` between them (none after the last).
 * E.g. a 2-4-1 tanh MLP: oclnn_mlp(g, x, 3, (int64_t[]){2, 4, 1}, oclnn_tanh, "fc"). */
oclnn_tensor *oclnn_mlp(oclnn_graph *g, oclnn_tensor *x, int nsizes, const int64_t *sizes,
                        oclnn_activation_fn activation, const char *prefix);

/* SimpleCNN for 28x28 grey images ([N,1,28,28] -> [N,10] logits):
 * conv1 1->32 5x5 pad 2, ReLU, maxpool 2; conv2 32->64 5x5 pad 2, ReLU,
 * maxpool 2; dropout 0.25; fc1 3136->1000, ReLU; fc2 1000->10.
 * Parameters: conv1.weight, conv1.bias, conv2.weight, conv2.bias,
 * fc1.weight, fc1.bias, fc2.weight, fc2.bias. */
oclnn_tensor *oclnn_simple_cnn(oclnn_graph *g, oclnn_tensor *images);

/* SimpleCNN's image embedding: the penultimate activations, fc1 after its
 * ReLU ([N, 1000], all >= 0), which a trained model makes similar for
 * images of the same kind (image search, clustering, few-shot labels).
 * Builds the whole model, fc2 included, so a SimpleCNN weights file loads
 * as it is (and a file of another model is refused); *logits (optional)
 * gets the [N, 10] output. Mark the embedding with oclnn_graph_output to
 * read it. */
#define OCLNN_SIMPLE_CNN_EMBEDDING 1000
oclnn_tensor *oclnn_simple_cnn_embedding(oclnn_graph *g, oclnn_tensor *images, oclnn_tensor **logits);
/* The embeddings [n, 1000] of n images [n, 1, 28, 28] (f32 pixel / 255, as
 * oclnn_dataset_load_mnist gives them) under the weights of a SimpleCNN
 * weights file or checkpoint, in eval mode (no dropout), in batches of up
 * to 500. A missing or malformed file, or one whose tensors are not
 * SimpleCNN's (the first missing, extra or mis-shaped tensor is named),
 * is an error before any image is run. */
oclnn_status oclnn_simple_cnn_embed(oclnn_context *ctx, const char *weights_path, const float *images, int64_t n,
                                    float *embeddings);

/* ---- XOR, the backprop classic: a single-layer sigmoid network (no
 * hidden layer) cannot represent XOR, a 2-H-1 MLP learns it. Both are
 * trained full-batch on the four points with binary cross-entropy. */

#define OCLNN_XOR_CURVE 64

typedef struct oclnn_xor_model {
    int correct;               /* points classified right (output > 0.5 means 1) */
    float outputs[4];          /* sigmoid outputs for (0,0) (0,1) (1,0) (1,1) */
    float loss_curve[OCLNN_XOR_CURVE]; /* loss sampled evenly over training */
    int curve_points;
    int nweights;
    char weight_names[6][32];
    float weights[6][16];      /* each parameter, flattened (at most 16 values) */
    int weight_sizes[6];
} oclnn_xor_model;

typedef struct oclnn_xor_result {
    oclnn_xor_model single_layer, mlp;
} oclnn_xor_result;

/* hidden: MLP hidden units (default 4); steps: full-batch updates (default
 * 2000); activation: oclnn_tanh or oclnn_sigmoid (default tanh). */
oclnn_status oclnn_xor_train(oclnn_context *ctx, int hidden, int steps, float lr, uint64_t seed,
                             oclnn_activation_fn activation, oclnn_xor_result *result);

/* ---- Training SimpleCNN on an MNIST-format dataset (Fashion-MNIST) */

typedef enum { OCLNN_OPTIMIZER_SGD = 0, OCLNN_OPTIMIZER_ADAM = 1 } oclnn_optimizer_kind;

typedef struct oclnn_train_progress {
    int epoch, epochs;       /* 1-based epoch */
    int64_t batch, batches;  /* 1-based batch within the epoch */
    double loss;             /* mean loss of the latest batches */
    double images_per_s;     /* training throughput so far this epoch */
    double eta_s;            /* estimated seconds left in the run */
    double test_accuracy;    /* after an epoch's evaluation, else -1 */
} oclnn_train_progress;

typedef struct oclnn_train_options {
    int epochs;              /* default 1 */
    int batch;               /* default 64 */
    float lr;                /* default 1e-3 (adam) / 1e-2 (sgd) */
    oclnn_optimizer_kind optimizer;
    float momentum;          /* sgd, default 0.9 when 0 and sgd */
    int64_t limit;           /* train on the first N images (0: all) */
    int64_t test_limit;      /* evaluate on the first N test images (0: all) */
    uint64_t seed;           /* init, shuffling and dropout */
    const char *data_dir;    /* NULL: oclnn_dataset_default_dir() */
    const char *save_path;   /* checkpoint written after each epoch (NULL: none) */
    void (*on_progress)(const oclnn_train_progress *p, void *user);
    void *user;
    int cosine;              /* 1: lr decays as a cosine from lr to 0 over all batches of the run */
} oclnn_train_options;

typedef struct oclnn_train_result {
    int epochs;
    int64_t train_images;    /* images trained on, all epochs */
    double seconds;          /* wall clock of training (evaluation excluded) */
    double images_per_s;
    double test_accuracy;    /* 0..1, after the last epoch */
    int64_t test_images;
    double final_loss;
    int64_t confusion[10][10]; /* [true][predicted] */
} oclnn_train_result;

oclnn_status oclnn_simple_cnn_train(oclnn_context *ctx, const oclnn_train_options *options,
                                    oclnn_train_result *result);
/* Test-set accuracy and confusion matrix of saved SimpleCNN weights. */
oclnn_status oclnn_simple_cnn_evaluate(oclnn_context *ctx, const char *weights_path, const char *data_dir,
                                       int64_t test_limit, oclnn_train_result *result);
/* Runs SimpleCNN on the tensor "input" ([N,1,28,28] f32) of a safetensors
 * file and writes "output" (logits [N,10]) to another. */
oclnn_status oclnn_simple_cnn_forward_file(oclnn_context *ctx, const char *weights_path, const char *input_path,
                                           const char *output_path);

/* ---- A small Vision Transformer for 28x28 grey images (src/nn/vit.c):
 * 7x7 patches -> 16 tokens, patch_embed (linear 49 -> width), a learned
 * class token prepended, learned position embeddings, `layers` pre-LN
 * encoder layers (GELU feed-forward of `mlp` units, see attention.h),
 * a final LayerNorm and head (linear width -> 10) on the class token.
 * Parameters: cls_token [1,1,W], pos_embed [1,17,W], patch_embed.weight
 * [W,49], patch_embed.bias, encoder.layers.<i>.* (nn.TransformerEncoder
 * names), norm.weight/bias, head.weight [10,W], head.bias. Zero fields
 * take the defaults: width 64, layers 4, heads width / 16, mlp 2 * width,
 * dropout 0. */
typedef struct oclnn_vit_config {
    int width, layers, heads, mlp;
    float dropout;
} oclnn_vit_config;
oclnn_tensor *oclnn_vit(oclnn_graph *g, oclnn_tensor *images, const oclnn_vit_config *config);
/* Fashion-MNIST training and evaluation as oclnn_simple_cnn_train. The
 * evaluation reads width, layers and mlp from the file; heads (which no
 * weight shape shows) come from `heads`, 0 for width / 16. */
oclnn_status oclnn_vit_train(oclnn_context *ctx, const oclnn_vit_config *config, const oclnn_train_options *options,
                             oclnn_train_result *result);
oclnn_status oclnn_vit_evaluate(oclnn_context *ctx, int heads, const char *weights_path, const char *data_dir,
                                int64_t test_limit, oclnn_train_result *result);

#ifdef __cplusplus
}
#endif
#endif
